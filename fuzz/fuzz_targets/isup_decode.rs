//! ISUP decoder (crates/isup), both framings: message type first (RFC 3204 body,
//! `Message::parse`) and CIC first (M3UA/MTP3 user data, `Message::parse_with_cic`), plus the MTP3
//! routing label.
//!
//! Properties checked, each one the crate documents (docs/isup-codec.md, `isup` crate docs):
//! - any octets either fail with a typed error or decode; nothing panics;
//! - a decoded message re-encodes and decodes to itself. The one typed encode error allowed is a
//!   pointer beyond 255 octets: a sender may place the optional part before long variable
//!   parameters, which the canonical layout cannot express;
//! - `emit(parse(x)) == x` for well-formed x: the re-encoded octets are in the canonical Q.763
//!   layout, and decoding and encoding them again gives them back byte for byte;
//! - with a CIC: the same, with the CIC kept (the spare bits above the variant's 12 are dropped);
//! - the JSON form reads back to the same message and CIC;
//! - the zero-copy view yields as many parameters as it counts.
#![no_main]

use isup::{Message, MessageView, RoutingLabel, Variant};
use libfuzzer_sys::fuzz_target;

/// Re-encodes `msg` (decoded from some octets); `None` for the one allowed encode error.
fn reencode(msg: &Message) -> Option<Vec<u8>> {
    match msg.to_bytes() {
        Ok(bytes) => Some(bytes),
        Err(isup::Error::BadPointer { .. }) => None,
        Err(e) => panic!("a decoded message fails to re-encode: {e}"),
    }
}

fn check_type_first(data: &[u8]) {
    if let Ok(v) = MessageView::new_checked(data, &Variant::ITU) {
        assert_eq!(v.parameters().count(), v.parameter_count());
        let _ = (v.raw_body(), v.trailing(), v.empty_optional_part());
    }
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    if let Some(bytes) = reencode(&msg) {
        let back = Message::parse(&bytes).expect("re-encoded message decodes");
        assert_eq!(back, msg, "emit → parse changed the message");
        assert_eq!(
            back.to_bytes().expect("canonical message re-encodes"),
            bytes,
            "canonical octets do not round-trip byte for byte"
        );
    }
    let json = isup::json::to_json(&msg, None);
    let (cic, back) = isup::json::from_json(&json, &Variant::ITU).expect("own JSON reads back");
    assert_eq!((cic, &back), (None, &msg));
}

fn check_cic_first(data: &[u8]) {
    let Ok((cic, msg)) = Message::parse_with_cic(data) else {
        return;
    };
    assert!(cic <= Variant::ITU.max_cic());
    let mut out = Vec::new();
    match msg.emit_with_cic(cic, &mut out) {
        Ok(()) => {
            let (cic2, back) = Message::parse_with_cic(&out).expect("re-encoded user data decodes");
            assert_eq!((cic2, &back), (cic, &msg));
            let mut again = Vec::new();
            back.emit_with_cic(cic2, &mut again)
                .expect("canonical user data re-encodes");
            assert_eq!(
                again, out,
                "canonical user data does not round-trip byte for byte"
            );
        }
        Err(isup::Error::BadPointer { .. }) => {}
        Err(e) => panic!("decoded user data fails to re-encode: {e}"),
    }
    let json = isup::json::to_json(&msg, Some(cic));
    let (c, back) = isup::json::from_json(&json, &Variant::ITU).expect("own JSON reads back");
    assert_eq!((c, &back), (Some(cic), &msg));
}

fuzz_target!(|data: &[u8]| {
    check_type_first(data);
    check_cic_first(data);
    // MTP3 user data: routing label, then CIC-first ISUP.
    if let Ok((label, rest)) = RoutingLabel::parse(data) {
        let mut out = Vec::new();
        label.emit(&mut out).expect("a decoded label re-encodes");
        assert_eq!(out, data[..RoutingLabel::LEN]);
        check_cic_first(rest);
    }
});
