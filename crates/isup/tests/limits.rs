//! The bound on optional parameters (`view::MAX_OPTIONAL_PARAMETERS`): a message at the bound
//! decodes and re-encodes byte for byte, one more is a typed error naming the message, and the
//! encoder refuses what the decoder would.

use isup::view::MAX_OPTIONAL_PARAMETERS;
use isup::*;

/// An IAM (CIC 1, called number 4951234567) whose optional part holds `n` parameters: a calling
/// party number, then unrecognised code 0xFE with one octet (kept raw, Q.764 §2.10.5.2).
fn iam_with_optional(n: usize) -> Vec<u8> {
    let mut m = vec![
        0x01, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0A, 0x00, 0x02, 0x09, 0x07, 0x03, 0x10, 0x94, 0x15,
        0x32, 0x54, 0x76,
    ];
    m.extend_from_slice(&[0x0A, 0x07, 0x03, 0x13, 0x94, 0x71, 0x32, 0x54, 0x06]);
    for i in 1..n {
        m.extend_from_slice(&[0xFE, 0x01, i as u8]);
    }
    m.push(0x00);
    m
}

#[test]
fn optional_parameters_up_to_the_bound_round_trip() {
    let at = iam_with_optional(MAX_OPTIONAL_PARAMETERS);
    let (cic, msg) = Message::parse_with_cic(&at).unwrap();
    assert_eq!(msg.parameters.len(), 5 + MAX_OPTIONAL_PARAMETERS);
    assert!(msg.get::<CallingPartyNumber>().is_some());
    let mut out = Vec::new();
    msg.emit_with_cic(cic, &mut out).unwrap();
    assert_eq!(out, at);
    let view = MessageView::new_checked(&at[2..], &Variant::ITU).unwrap();
    assert_eq!(view.optional_parameters().count(), MAX_OPTIONAL_PARAMETERS);
}

#[test]
fn one_optional_parameter_over_the_bound_is_a_typed_error() {
    let over = iam_with_optional(MAX_OPTIONAL_PARAMETERS + 1);
    let e = Message::parse_with_cic(&over).unwrap_err();
    assert_eq!(
        e,
        Error::TooManyParameters {
            message: "IAM",
            limit: MAX_OPTIONAL_PARAMETERS
        }
    );
    assert_eq!(e.to_string(), "IAM: more than 64 optional parameters");
    assert_eq!(e.parameter(), "optional part");
    assert!(MessageView::new_checked(&over[2..], &Variant::ITU).is_err());
    // Any message type with an optional part: REL with cause 16 and 65 unrecognised parameters.
    let mut rel = vec![0x0C, 0x02, 0x04, 0x02, 0x80, 0x90];
    for _ in 0..=MAX_OPTIONAL_PARAMETERS {
        rel.extend_from_slice(&[0xFE, 0x00]);
    }
    rel.push(0x00);
    assert_eq!(
        Message::parse(&rel).unwrap_err(),
        Error::TooManyParameters {
            message: "REL",
            limit: MAX_OPTIONAL_PARAMETERS
        }
    );
}

#[test]
fn the_encoder_refuses_what_the_decoder_would() {
    let (_, mut msg) =
        Message::parse_with_cic(&iam_with_optional(MAX_OPTIONAL_PARAMETERS)).unwrap();
    msg.parameters
        .push(Parameter::raw(ParameterCode(0xFE), &[0xAA]));
    assert_eq!(
        msg.to_bytes(),
        Err(Error::TooManyParameters {
            message: "IAM",
            limit: MAX_OPTIONAL_PARAMETERS
        })
    );
}
