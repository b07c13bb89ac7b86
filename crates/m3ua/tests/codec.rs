//! Codec vectors (hand-written octets), error mapping and property tests.

use bytes::Bytes;
use m3ua::DecodeError;
use m3ua::wire::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn aspup_vector() {
    let b = hex("01 00 03 01 00000018  0011 0008 0000000a  0004 0007 6d6763 00");
    let m = Message::parse(&b).unwrap();
    assert_eq!(
        m,
        Message::AspUp(AspUp {
            asp_identifier: Some(10),
            info_string: Some(Bytes::from_static(b"mgc")),
        })
    );
    assert_eq!(m.to_vec(), b);
    assert_eq!(m.abbr(), "ASPUP");
}

#[test]
fn data_vector_matches_rfc_layout() {
    // RC 1, OPC 257, DPC 514, SI 5, NI 2, MP 0, SLS 7, user data 5 octets (+3 padding).
    let b = hex("01 00 01 01 00000028  0006 0008 00000001 \
         0210 0015 00000101 00000202 05 02 00 07 2a00 01 00 20 000000");
    let m = Message::parse(&b).unwrap();
    let Message::Data(d) = &m else {
        panic!("not DATA: {m:?}")
    };
    assert_eq!(d.routing_context, Some(1));
    let pd = &d.protocol_data;
    assert_eq!(
        (pd.opc, pd.dpc, pd.si, pd.ni, pd.mp, pd.sls),
        (257, 514, 5, 2, 0, 7)
    );
    assert_eq!(&pd.user_data[..], &[0x2a, 0x00, 0x01, 0x00, 0x20]);
    assert_eq!(m.to_vec(), b);
    assert_eq!(m.buffer_len(), b.len());
    let shared = Bytes::from(b.clone());
    assert_eq!(Message::parse_bytes(&shared).unwrap(), m);
}

#[test]
fn parameters_in_any_order_are_accepted() {
    // Protocol Data before Routing Context: accepted, re-emitted in RFC order.
    let b = hex("01 00 01 01 00000020  0210 0010 00000101 00000202 05020007  0006 0008 00000001");
    let m = Message::parse(&b).unwrap();
    let canonical = m.to_vec();
    assert_eq!(&canonical[8..16], &hex("0006 0008 00000001")[..]);
    assert_eq!(Message::parse(&canonical).unwrap(), m);
}

#[test]
fn every_table_message_has_a_variant() {
    for spec in m3ua::tables::MESSAGES {
        // Smallest valid message: mandatory parameters with minimal values.
        let mut b = vec![1, 0, spec.class, spec.msg_type, 0, 0, 0, 0];
        for &(tag, presence) in spec.params {
            if presence == m3ua::tables::Presence::Mandatory {
                let value: &[u8] = if tag == Tag::PROTOCOL_DATA {
                    &[0; 12]
                } else {
                    &[0; 4]
                };
                b.extend_from_slice(&tag.0.to_be_bytes());
                b.extend_from_slice(&(4 + value.len() as u16).to_be_bytes());
                b.extend_from_slice(value);
            }
        }
        let len = b.len() as u32;
        b[4..8].copy_from_slice(&len.to_be_bytes());
        let m = Message::parse(&b).unwrap_or_else(|e| panic!("{}: {e}", spec.abbr));
        assert_eq!(m.class_and_type(), (spec.class, spec.msg_type));
        assert_eq!(m.abbr(), spec.abbr);
        assert_eq!(m.to_vec(), b, "{}", spec.abbr);
    }
}

#[test]
fn errors_map_to_rfc_error_codes() {
    let cases: &[(&str, ErrorCode)] = &[
        ("01 00 03 01 00000000", ErrorCode::PROTOCOL_ERROR),
        ("01 00 03 01 00000004", ErrorCode::PROTOCOL_ERROR),
        (
            "01 00 03 01 0000000c 00000000",
            ErrorCode::PARAMETER_FIELD_ERROR,
        ),
        ("02 00 03 01 00000008", ErrorCode::INVALID_VERSION),
        ("01 00 07 01 00000008", ErrorCode::UNSUPPORTED_MESSAGE_CLASS),
        ("01 00 09 01 00000008", ErrorCode::UNSUPPORTED_MESSAGE_CLASS),
        ("01 00 03 07 00000008", ErrorCode::UNSUPPORTED_MESSAGE_TYPE),
        ("01 00 01 01 00000008", ErrorCode::MISSING_PARAMETER),
        (
            "01 00 03 01 0000000c 0011 0003",
            ErrorCode::PARAMETER_FIELD_ERROR,
        ),
        (
            "01 00 03 01 0000000c 0011 0010",
            ErrorCode::PARAMETER_FIELD_ERROR,
        ),
        (
            "01 00 03 01 00000010 0011 0006 0000 0000",
            ErrorCode::PARAMETER_FIELD_ERROR,
        ),
        (
            "01 00 03 01 00000010 0210 0008 00000000",
            ErrorCode::UNEXPECTED_PARAMETER,
        ),
        (
            "01 00 03 01 00000018 0011 0008 00000001 0011 0008 00000002",
            ErrorCode::PARAMETER_FIELD_ERROR,
        ),
        (
            "01 00 01 01 00000010 0210 0008 00000000",
            ErrorCode::PARAMETER_FIELD_ERROR,
        ),
        (
            "01 00 02 04 00000018 0012 0008 00000001 0205 0008 00000004",
            ErrorCode::INVALID_PARAMETER_VALUE,
        ),
    ];
    for (h, code) in cases {
        let err = Message::parse(&hex(h)).expect_err(h);
        assert_eq!(err.error_code(), *code, "{h}: {err}");
    }
    assert_eq!(Message::parse(&[]), Err(DecodeError::Truncated(0)));
}

#[test]
fn header_view_reads_fields() {
    let b = hex("01 00 04 03 00000010 000b 0008 00000002");
    let h = Header::new_checked(&b[..]).unwrap();
    assert_eq!(
        (h.version(), h.class(), h.msg_type(), h.length()),
        (1, 4, 3, 16)
    );
    let p: Vec<_> = h.params().collect::<Result<_, _>>().unwrap();
    assert_eq!(p[0].tag, Tag::TRAFFIC_MODE_TYPE);
    assert_eq!(p[0].value, &[0, 0, 0, 2]);
    assert_eq!(peek_length(&b), Some(16));
}

#[test]
fn affected_point_code_mask() {
    let a = AffectedPointCode {
        mask: 8,
        point_code: 0x0012_3400,
    };
    assert!(a.contains(0x0012_34ff));
    assert!(!a.contains(0x0012_3500));
    assert!(AffectedPointCode::new(514).contains(514));
}

// ---- property tests ----

fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> + Clone {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from))
}
fn rc_list() -> impl Strategy<Value = Vec<u32>> + Clone {
    proptest::collection::vec(any::<u32>(), 0..4)
}
fn apc() -> impl Strategy<Value = AffectedPointCode> + Clone {
    (any::<u8>(), 0u32..0x0100_0000)
        .prop_map(|(mask, point_code)| AffectedPointCode { mask, point_code })
}
fn apcs() -> impl Strategy<Value = Vec<AffectedPointCode>> + Clone {
    proptest::collection::vec(apc(), 1..4)
}
fn ssnm() -> impl Strategy<Value = Ssnm> + Clone {
    (any::<Option<u32>>(), rc_list(), apcs(), opt_bytes()).prop_map(|(na, rc, a, i)| Ssnm {
        network_appearance: na,
        routing_context: rc,
        affected_point_codes: a,
        info_string: i,
    })
}
fn protocol_data() -> impl Strategy<Value = ProtocolData> + Clone {
    (
        any::<[u32; 2]>(),
        any::<[u8; 4]>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|([opc, dpc], [si, ni, mp, sls], u)| ProtocolData {
            opc,
            dpc,
            si,
            ni,
            mp,
            sls,
            user_data: Bytes::from(u),
        })
}

fn message() -> impl Strategy<Value = Message> + Clone {
    let aspup = (any::<Option<u32>>(), opt_bytes()).prop_map(|(a, i)| AspUp {
        asp_identifier: a,
        info_string: i,
    });
    let aspac = (any::<Option<u32>>(), rc_list(), opt_bytes()).prop_map(|(t, rc, i)| AspActive {
        traffic_mode_type: t.map(TrafficModeType),
        routing_context: rc,
        info_string: i,
    });
    let aspia = (rc_list(), opt_bytes()).prop_map(|(rc, i)| AspInactive {
        routing_context: rc,
        info_string: i,
    });
    let beat = opt_bytes().prop_map(|d| Heartbeat { heartbeat_data: d });
    let aspdn = opt_bytes().prop_map(|i| AspDown { info_string: i });
    prop_oneof![
        (
            any::<u32>(),
            rc_list(),
            any::<Option<u32>>(),
            proptest::collection::vec(apc(), 0..3),
            opt_bytes()
        )
            .prop_map(|(c, rc, na, a, d)| Message::Error(ErrorMsg {
                error_code: ErrorCode(c),
                routing_context: rc,
                network_appearance: na,
                affected_point_codes: a,
                diagnostic_information: d,
            })),
        (
            any::<(u16, u16)>(),
            any::<Option<u32>>(),
            rc_list(),
            opt_bytes()
        )
            .prop_map(|((t, s), a, rc, i)| {
                Message::Notify(Notify {
                    status: Status::new(t, s),
                    asp_identifier: a,
                    routing_context: rc,
                    info_string: i,
                })
            }),
        (
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            protocol_data(),
            any::<Option<u32>>()
        )
            .prop_map(|(na, rc, pd, c)| Message::Data(Data {
                network_appearance: na,
                routing_context: rc,
                protocol_data: pd,
                correlation_id: c,
            })),
        ssnm().prop_map(Message::DestinationUnavailable),
        ssnm().prop_map(Message::DestinationAvailable),
        ssnm().prop_map(Message::DestinationStateAudit),
        ssnm().prop_map(Message::DestinationRestricted),
        (
            ssnm(),
            proptest::option::of(0u32..0x0100_0000),
            proptest::option::of(0u8..4)
        )
            .prop_map(|(s, cd, cl)| {
                Message::SignallingCongestion(SignallingCongestion {
                    network_appearance: s.network_appearance,
                    routing_context: s.routing_context,
                    affected_point_codes: s.affected_point_codes,
                    concerned_destination: cd,
                    congestion_level: cl,
                    info_string: s.info_string,
                })
            }),
        (
            any::<Option<u32>>(),
            rc_list(),
            apc(),
            any::<(u16, u16)>(),
            opt_bytes()
        )
            .prop_map(|(na, rc, a, (cause, user), i)| {
                Message::DestinationUserPartUnavailable(DestinationUserPartUnavailable {
                    network_appearance: na,
                    routing_context: rc,
                    affected_point_code: a,
                    user_cause: UserCause { cause, user },
                    info_string: i,
                })
            }),
        aspup.clone().prop_map(Message::AspUp),
        aspup.prop_map(Message::AspUpAck),
        aspdn.clone().prop_map(Message::AspDown),
        aspdn.prop_map(Message::AspDownAck),
        beat.clone().prop_map(Message::Heartbeat),
        beat.prop_map(Message::HeartbeatAck),
        aspac.clone().prop_map(Message::AspActive),
        aspac.prop_map(Message::AspActiveAck),
        aspia.clone().prop_map(Message::AspInactive),
        aspia.prop_map(Message::AspInactiveAck),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::parse(&b);
        let _ = Message::parse_bytes(&Bytes::from(b.clone()));
        if let Ok(h) = Header::new_checked(&b[..]) {
            for p in h.params() { let _ = p; }
        }
    }

    /// Well-formed headers over random parameter octets reach the TLV and value decoders.
    #[test]
    fn random_bodies_never_panic_and_reencode(
        class in 0u8..5, ty in 0u8..8, body in proptest::collection::vec(any::<u8>(), 0..30),
        tags in proptest::collection::vec(prop_oneof![Just(0x0004u16), Just(6), Just(0x0b), Just(0x0d), Just(0x11), Just(0x12), Just(0x0210), Just(0x0204), Just(0x0205)], 0..4),
    ) {
        let mut b = vec![1, 0, class, ty, 0, 0, 0, 0];
        for t in tags {
            let n = body.len() % 17;
            b.extend_from_slice(&t.to_be_bytes());
            b.extend_from_slice(&(4 + n as u16).to_be_bytes());
            b.extend_from_slice(&body[..n]);
            b.resize(b.len().next_multiple_of(4), 0);
        }
        let len = b.len() as u32;
        b[4..8].copy_from_slice(&len.to_be_bytes());
        if let Ok(m) = Message::parse(&b) {
            let again = m.to_vec();
            prop_assert_eq!(Message::parse(&again).unwrap(), m);
        }
    }

    #[test]
    fn typed_messages_round_trip(m in message()) {
        let b = m.to_vec();
        prop_assert_eq!(b.len(), m.buffer_len());
        prop_assert_eq!(b.len() % 4, 0);
        let back = Message::parse(&b).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(Message::parse_bytes(&Bytes::from(b.clone())).unwrap(), m);
        prop_assert_eq!(back.to_vec(), b);
    }
}

// ---- the round-trip guarantee (docs/m3ua.md, "Round trip") ----

/// Re-frames `canonical` with its parameters in `order`, the header's reserved octet set to
/// `reserved`, padding octets set to `pad` and SCON's Concerned Destination reserved octet set to
/// `cd`: well-formed variants that RFC 4666 §3.1.3, §3.2 and §3.4.4 tell a receiver to accept.
fn reframe(canonical: &[u8], order: &[usize], reserved: u8, pad: u8, cd: u8) -> Vec<u8> {
    let h = Header::new_checked(canonical).unwrap();
    let params: Vec<Param<'_>> = h.params().map(Result::unwrap).collect();
    let mut b = vec![
        canonical[0],
        reserved,
        canonical[2],
        canonical[3],
        0,
        0,
        0,
        0,
    ];
    for &i in order {
        let p = params[i];
        b.extend_from_slice(&p.tag.0.to_be_bytes());
        b.extend_from_slice(&(4 + p.value.len() as u16).to_be_bytes());
        let at = b.len();
        b.extend_from_slice(p.value);
        if p.tag == Tag::CONCERNED_DESTINATION {
            b[at] = cd;
        }
        b.resize(b.len().next_multiple_of(4), pad);
    }
    let len = b.len() as u32;
    b[4..8].copy_from_slice(&len.to_be_bytes());
    b
}

#[test]
fn noncanonical_well_formed_inputs_parse_alike_and_reemit_canonically() {
    let scon = Message::SignallingCongestion(SignallingCongestion {
        affected_point_codes: vec![AffectedPointCode::new(514)],
        concerned_destination: Some(0x0202),
        congestion_level: Some(2),
        info_string: Some(Bytes::from_static(b"abcde")),
        ..Default::default()
    });
    let canonical = scon.to_vec();
    let n = Header::new_checked(&canonical[..])
        .unwrap()
        .params()
        .count();
    let in_order: Vec<usize> = (0..n).collect();
    assert_eq!(reframe(&canonical, &in_order, 0, 0, 0), canonical);
    let reversed: Vec<usize> = (0..n).rev().collect();
    for x in [
        reframe(&canonical, &reversed, 0, 0, 0), // §3.2: any parameter order
        reframe(&canonical, &in_order, 0x5a, 0, 0), // §3.1.3: reserved octet ignored
        reframe(&canonical, &in_order, 0, 0xff, 0), // §3.2: padding ignored
        reframe(&canonical, &in_order, 0, 0, 0x77), // §3.4.4: reserved octet of the DPC
    ] {
        assert_ne!(x, canonical);
        let m = Message::parse(&x).unwrap();
        assert_eq!(m, scon);
        assert_eq!(m.to_vec(), canonical, "re-emitted in canonical form");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every message in any parameter order, with any reserved and padding octets, parses to the
    /// same typed message and re-emits the canonical octets; it is re-emitted byte for byte
    /// exactly when it was canonical (RFC order, reserved and padding octets zero).
    #[test]
    fn any_well_formed_framing_parses_alike(
        m in message(), seed in any::<u64>(), reserved in prop_oneof![Just(0u8), any::<u8>()],
        pad in prop_oneof![Just(0u8), any::<u8>()], cd in prop_oneof![Just(0u8), any::<u8>()],
    ) {
        let canonical = m.to_vec();
        let params: Vec<(Tag, usize)> = Header::new_checked(&canonical[..]).unwrap().params()
            .map(|p| p.map(|p| (p.tag, p.value.len())).unwrap()).collect();
        let mut order: Vec<usize> = (0..params.len()).collect();
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let b = reframe(&canonical, &order, reserved, pad, cd);
        let back = Message::parse(&b).unwrap();
        prop_assert_eq!(&back, &m);
        let again = back.to_vec();
        prop_assert_eq!(&again, &canonical);
        let canonical_form = order.iter().enumerate().all(|(i, &j)| i == j)
            && reserved == 0
            && (pad == 0 || params.iter().all(|(_, len)| len % 4 == 0))
            && (cd == 0 || params.iter().all(|(t, _)| *t != Tag::CONCERNED_DESTINATION));
        prop_assert_eq!(again == b, canonical_form);
    }
}
