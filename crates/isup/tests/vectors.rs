//! Known vectors: the Q.763 worked examples, and every ISUP message of the outside corpora in
//! `../shared/corpora` (skipped with a message when absent).

use isup::*;
use std::path::PathBuf;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn corpora() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: {} is absent; corpus vectors not checked",
            p.display()
        );
        None
    }
}

#[test]
fn q763_worked_iam() {
    let bytes = hex(
        "01 00 01 00 20 01 0A 00 02 09 07 04 90 94 15 32 54 76 0A 08 84 13 47 59 11 21 32 03 00",
    );
    let (cic, msg) = Message::parse_with_cic(&bytes).unwrap();
    assert_eq!(cic, 1);
    assert_eq!(msg.message_type, MessageType::IAM);
    let fci = msg.get::<ForwardCallIndicators>().unwrap();
    assert_eq!(fci.isdn_user_part_indicator, 1);
    assert_eq!(fci.isdn_access_indicator, 1);
    let cpc = msg.get::<CallingPartysCategory>().unwrap();
    assert_eq!(cpc.value, 0x0A);
    let cdpn = msg.get::<CalledPartyNumber>().unwrap();
    assert_eq!(cdpn.digits.to_string(), "4951234567");
    assert_eq!(cdpn.nature_of_address, 4);
    assert_eq!(cdpn.internal_network_number_indicator, Some(1));
    assert_eq!(cdpn.numbering_plan_indicator, 1);
    let cgpn = msg.get::<CallingPartyNumber>().unwrap();
    assert_eq!(cgpn.digits.to_string(), "74951112233");
    assert_eq!(cgpn.screening, Some(3));
    assert_eq!(cgpn.presentation, Some(0));
    let mut out = Vec::new();
    msg.emit_with_cic(cic, &mut out).unwrap();
    assert_eq!(out, bytes);
}

#[test]
fn q763_worked_rel_and_rlc() {
    let rel = hex("0C 02 00 02 83 9F");
    let msg = Message::parse(&rel).unwrap();
    let c = msg.get::<CauseIndicators>().unwrap();
    assert_eq!((c.cause_value, c.location, c.coding_standard), (31, 3, 0));
    assert_eq!(msg.to_bytes().unwrap(), rel);
    let rlc = hex("10 00");
    let msg = Message::parse(&rlc).unwrap();
    assert!(msg.parameters.is_empty());
    assert_eq!(msg.to_bytes().unwrap(), rlc);
}

#[test]
fn unknown_parameters_and_order_survive() {
    // ANM with optional parameters in an unusual order, one spare code (0xFE) and one known-but-untyped (0x3A).
    let anm = hex("09 01 FE 02 AB CD 29 01 01 3A 03 01 02 03 00");
    let msg = Message::parse(&anm).unwrap();
    assert_eq!(msg.parameters.len(), 3);
    assert!(matches!(&msg.parameters[0], Parameter::Raw(r) if r.code == ParameterCode(0xFE)));
    assert_eq!(msg.parameters[0].name(), "unknown");
    assert!(matches!(
        &msg.parameters[1],
        Parameter::OptionalBackwardCallIndicators(_)
    ));
    assert_eq!(msg.parameters[2].name(), "mlpp_precedence");
    assert_eq!(msg.to_bytes().unwrap(), anm);
}

#[test]
fn unknown_message_type_is_kept_raw() {
    let m = hex("7E 01 02 03");
    let msg = Message::parse(&m).unwrap();
    assert_eq!(msg.raw_body.as_deref(), Some(&m[1..]));
    assert_eq!(msg.to_bytes().unwrap(), m);
}

#[test]
fn spare_bits_keep_the_parameter_raw() {
    // Nature of connection indicators with spare bit H set: kept raw, re-emitted exactly.
    let iam = hex("01 80 20 01 0A 00 02 00 04 03 10 21 43");
    let msg = Message::parse(&iam).unwrap();
    assert!(matches!(&msg.parameters[0], Parameter::Raw(_)));
    assert_eq!(msg.to_bytes().unwrap(), iam);
}

#[test]
fn typed_errors_name_message_and_parameter() {
    let cases: &[(&str, Error)] = &[
        (
            "",
            Error::Truncated {
                message: "unknown message",
                parameter: "message type",
            },
        ),
        (
            "01 00 20",
            Error::Truncated {
                message: "IAM",
                parameter: "forward_call_indicators",
            },
        ),
        (
            "01 00 20 01",
            Error::Truncated {
                message: "IAM",
                parameter: "calling_partys_category",
            },
        ),
        (
            "01 00 20 01 0A 00 02",
            Error::Truncated {
                message: "IAM",
                parameter: "pointer",
            },
        ),
        (
            "01 00 20 01 0A 00 00 00",
            Error::MissingMandatory {
                message: "IAM",
                parameter: "called_party_number",
            },
        ),
        (
            "01 00 20 01 0A 00 30 00",
            Error::BadPointer {
                message: "IAM",
                parameter: "called_party_number",
            },
        ),
        (
            "01 00 20 01 0A 00 02 00 09 03 10",
            Error::Truncated {
                message: "IAM",
                parameter: "called_party_number",
            },
        ),
        (
            "0C 02 00 01 83",
            Error::LengthMismatch {
                message: "REL",
                parameter: "cause_indicators",
                expected: "at least 2",
                actual: 1,
            },
        ),
        (
            "0C 02 05 02 83 9F",
            Error::BadPointer {
                message: "REL",
                parameter: "optional part",
            },
        ),
        (
            "0C 02 04 02 83 9F 29 01",
            Error::Truncated {
                message: "REL",
                parameter: "optional_backward_call_indicators",
            },
        ),
        (
            "0C 02 04 02 83 9F 29 01 01",
            Error::Truncated {
                message: "REL",
                parameter: "end_of_optional_parameters",
            },
        ),
        (
            "01 00 20 01 0A 00 02 00 02 83 10",
            Error::BadValue {
                message: "IAM",
                parameter: "called_party_number",
                reason: "no address signals",
            },
        ),
    ];
    for (h, want) in cases {
        assert_eq!(Message::parse(&hex(h)).unwrap_err(), *want, "input {h}");
    }
}

#[test]
fn routing_label_round_trip() {
    let label = RoutingLabel {
        dpc: 15392,
        opc: 3684,
        sls: 15,
    };
    let mut out = Vec::new();
    label.emit(&mut out).unwrap();
    let (back, rest) = RoutingLabel::parse(&out).unwrap();
    assert_eq!(back, label);
    assert!(rest.is_empty());
    // Q.704 bit layout: DPC bits 1-14, OPC bits 15-28, SLS bits 29-32.
    let v = u32::from_le_bytes(out.try_into().unwrap());
    assert_eq!(v & 0x3FFF, 15392);
    assert_eq!(v >> 28, 15);
}

#[test]
fn remote_operations_headers() {
    // Q.763 §3.48: protocol profile 0x91 (ROSE) + Invoke {invokeId 5, linkedId [0] 2, opcode 7, argument}.
    let v = hex("91 A1 0F 02 01 05 80 01 02 02 01 07 30 04 80 02 12 34");
    let fac = [&[0x33u8, 0x01, 0x32, v.len() as u8][..], &v, &[0x00]].concat();
    let msg = Message::parse(&fac).unwrap();
    let ro = msg.get::<RemoteOperations>().unwrap();
    assert_eq!(ro.protocol_profile, 0x11);
    assert_eq!(ro.components.len(), 1);
    let c = &ro.components[0];
    assert_eq!(c.component_type, ComponentType::Invoke);
    assert_eq!(c.invoke_id, Some(5));
    assert_eq!(c.linked_id, Some(2));
    assert_eq!(c.code, Some(OperationCode::Local(7)));
    assert_eq!(msg.to_bytes().unwrap(), fac);
    // Return result, return error and reject components.
    let v = hex("91 A2 03 02 01 05 A3 06 02 01 05 02 01 0C A4 05 05 00 80 01 01");
    let ro = RemoteOperations::parse(&v).unwrap();
    let kinds: Vec<_> = ro.components.iter().map(|c| c.component_type).collect();
    assert_eq!(
        kinds,
        [
            ComponentType::ReturnResult,
            ComponentType::ReturnError,
            ComponentType::Reject
        ]
    );
    assert_eq!(ro.components[1].code, Some(OperationCode::Local(12)));
    assert_eq!(ro.components[2].invoke_id, None);
}

#[test]
fn jss7_vectors_decode_or_fail_typed() {
    let Some(dir) = corpora() else { return };
    let tsv = std::fs::read_to_string(dir.join("RestComm-jss7/isup_message_vectors.tsv")).unwrap();
    let mut n = 0;
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        let bytes = hex(cols[3]);
        let expected_type: u8 = cols[5].parse().unwrap();
        match Message::parse_with_cic(&bytes) {
            Ok((_, msg)) => {
                assert_eq!(msg.message_type.0, expected_type, "{}", cols[0]);
                let mut out = Vec::new();
                let cic = u16::from_le_bytes([bytes[0], bytes[1]]);
                msg.emit_with_cic(cic, &mut out).unwrap();
                assert_eq!(out, bytes, "round trip of {} {}", cols[0], cols[3]);
            }
            // tshark reports these four as malformed; ours must be typed errors, not panics.
            Err(e) => assert!(
                cols[6].contains("Malformed"),
                "{} {}: {e}",
                cols[0],
                cols[3]
            ),
        }
        n += 1;
    }
    assert_eq!(n, 46);
}

#[test]
fn sipi_bodies_decode_and_round_trip() {
    let Some(dir) = corpora() else { return };
    let tsv = std::fs::read_to_string(dir.join("nmusco-sipstack/sipi_isup_bodies.tsv")).unwrap();
    let bodies: Vec<Vec<u8>> = tsv
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| hex(l.split('\t').nth(2).unwrap()))
        .collect();
    assert_eq!(bodies.len(), 3);
    let iam2 = Message::parse(&bodies[1]).unwrap();
    assert_eq!(
        iam2.get::<CalledPartyNumber>().unwrap().digits.to_string(),
        "15495"
    );
    assert_eq!(
        iam2.get::<CallingPartyNumber>().unwrap().digits.to_string(),
        "4191947763"
    );
    assert_eq!(
        iam2.get::<RedirectingNumber>().unwrap().digits.to_string(),
        "4199220720"
    );
    let iam1 = Message::parse(&bodies[0]).unwrap();
    assert_eq!(
        iam1.get::<CalledPartyNumber>().unwrap().digits.to_string(),
        "5503140B100F"
    );
    assert_eq!(
        iam1.get::<CallingPartyNumber>().unwrap().digits.to_string(),
        "6184017196"
    );
    let rel = Message::parse(&bodies[2]).unwrap();
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 31);
    for b in &bodies {
        assert_eq!(Message::parse(b).unwrap().to_bytes().unwrap(), *b);
    }
}

#[test]
fn fuzz_regression_long_variable_after_optional_part() {
    // Found by cargo-fuzz: an IAM whose optional part precedes a 255-octet called party number.
    // It decodes; the canonical layout cannot point past 255 octets, so encoding is a typed error.
    // type, NCI, FCI, CPC, TMR, pointers (CdPN 4 ahead, optional part 2 ahead), a gap octet, the
    // end of an empty optional part, then CdPN: LI 255, even, national, ISDN plan, 506 signals.
    let mut iam = vec![
        0x01, 0x00, 0x20, 0x01, 0x0A, 0x00, 0x04, 0x02, 0x00, 0x00, 0xFF, 0x03, 0x10,
    ];
    iam.extend(std::iter::repeat_n(0x21, 253));
    assert_eq!(iam.len(), 266);
    let msg = Message::parse(&iam).unwrap();
    assert_eq!(msg.get::<CalledPartyNumber>().unwrap().digits.len(), 506);
    assert!(matches!(
        msg.to_bytes(),
        Err(Error::BadPointer {
            message: "IAM",
            parameter: "optional part"
        })
    ));
}
