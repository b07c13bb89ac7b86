//! Property tests: no input panics the decoder; typed messages survive emit → parse and JSON.

use isup::param::Decoded;
use isup::*;
use proptest::collection::vec;
use proptest::prelude::*;

/// Codes with a typed form that random octets reach often enough to sample (ROSE is tested apart).
const TYPED_OPTIONAL: &[u8] = &[
    0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0E, 0x0F, 0x10, 0x11, 0x12,
    0x13, 0x15, 0x16, 0x18, 0x1D, 0x20, 0x21, 0x22, 0x23, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2C, 0x30,
    0x31, 0x36, 0x37, 0x38, 0x39, 0x3D, 0x3E, 0x3F, 0xC0,
];

/// A typed parameter of `code`: random octets decoded with the code's type, which normalizes spare
/// bits and filler (octets that violate the format are rejected).
fn typed(code: u8, len: impl Strategy<Value = usize> + 'static) -> BoxedStrategy<Parameter> {
    len.prop_flat_map(|n| vec(any::<u8>(), n))
        .prop_filter_map("octets violate the format", move |value| {
            Parameter::Raw(RawParameter {
                code: ParameterCode(code),
                value,
            })
            .to_typed()
        })
        .boxed()
}

fn any_len() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(2usize), Just(3usize), 0usize..12]
}

fn untyped_code() -> impl Strategy<Value = u8> {
    (1u8..=255).prop_filter("typed code", |c| {
        !TYPED_OPTIONAL.contains(c)
            && *c != 0x32
            && !matches!(
                Parameter::decode(ParameterCode(*c), &[0, 0, 0]),
                Decoded::Typed(_) | Decoded::Malformed(..)
            )
    })
}

fn optional_param() -> BoxedStrategy<Parameter> {
    prop_oneof![
        prop::sample::select(TYPED_OPTIONAL).prop_flat_map(|c| typed(c, any_len())),
        (untyped_code(), vec(any::<u8>(), 0..12)).prop_map(|(c, value)| Parameter::Raw(
            RawParameter {
                code: ParameterCode(c),
                value
            }
        )),
    ]
    .boxed()
}

fn message() -> impl Strategy<Value = Message> {
    let formats: Vec<&'static MessageFormat> =
        Variant::ITU.formats().filter(|f| f.parsed).collect();
    prop::sample::select(formats).prop_flat_map(|fmt| {
        let fixed: Vec<BoxedStrategy<Parameter>> = fmt
            .fixed
            .iter()
            .map(|f| typed(f.code.0, Just(f.len)))
            .collect();
        let variable: Vec<BoxedStrategy<Parameter>> =
            fmt.variable.iter().map(|c| typed(c.0, any_len())).collect();
        let optional = if fmt.optional_part {
            vec(optional_param(), 0..6).boxed()
        } else {
            Just(vec![]).boxed()
        };
        (
            fixed,
            variable,
            optional,
            any::<bool>(),
            vec(any::<u8>(), 0..3),
        )
            .prop_map(move |(f, v, o, empty, trailing)| {
                let mut m = Message::new(fmt.message_type);
                m.empty_optional_part = fmt.optional_part && o.is_empty() && empty;
                // Trailing octets after an optional part are unambiguous; keep them there only.
                if fmt.optional_part && (!o.is_empty() || m.empty_optional_part) {
                    m.trailing = trailing;
                }
                m.parameters = f.into_iter().chain(v).chain(o).collect();
                m
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..96)) {
        let _ = Message::parse(&data);
        let _ = Message::parse_with_cic(&data);
        let _ = RoutingLabel::parse(&data);
        if let Ok(v) = MessageView::new_checked(&data, &Variant::ITU) {
            let _ = v.parameters().count();
        }
    }

    #[test]
    fn mutated_iam_never_panics(pos in 0usize..29, byte in any::<u8>(), cut in 0usize..30) {
        let mut iam = hex::decode("010020010a00020907049094153254760a088413475911213203001d038090a300").unwrap();
        if pos < iam.len() { iam[pos] = byte; }
        iam.truncate(cut.max(1));
        let _ = Message::parse(&iam);
    }

    #[test]
    fn parse_emit_parse_is_stable(data in vec(any::<u8>(), 1..64)) {
        if let Ok(m) = Message::parse(&data) {
            let bytes = m.to_bytes().expect("a parsed message re-encodes");
            prop_assert_eq!(Message::parse(&bytes).expect("re-encoded message parses"), m);
        }
    }

    #[test]
    fn typed_decode_iff_exact_reencoding(code in prop::sample::select(TYPED_OPTIONAL), value in vec(any::<u8>(), 0..14)) {
        let raw = Parameter::Raw(RawParameter { code: ParameterCode(code), value: value.clone() });
        match Parameter::decode(ParameterCode(code), &value) {
            Decoded::Typed(p) => prop_assert_eq!(p.value_bytes(), value),
            Decoded::Raw(_) => {
                // Typed decoding normalizes something, so its re-encoding must differ.
                let typed = raw.to_typed().expect("raw only when the octets fit the type");
                prop_assert_ne!(typed.value_bytes(), value);
            }
            Decoded::Malformed(..) => prop_assert!(raw.to_typed().is_none()),
        }
    }

    #[test]
    fn typed_message_round_trips(m in message()) {
        let bytes = m.to_bytes().expect("generated message encodes");
        let back = Message::parse(&bytes).expect("encoded message parses");
        prop_assert_eq!(&back, &m);
        let mut with_cic = Vec::new();
        m.emit_with_cic(4095, &mut with_cic).unwrap();
        prop_assert_eq!(Message::parse_with_cic(&with_cic).unwrap(), (4095, m.clone()));
    }

    #[test]
    fn json_round_trips(m in message(), cic in 0u16..4096) {
        let v = json::to_json(&m, Some(cic));
        let text = serde_json::to_string(&v).unwrap();
        let v2: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (c, back) = json::from_json(&v2, &Variant::ITU).expect("own JSON reads back");
        prop_assert_eq!(c, Some(cic));
        prop_assert_eq!(back, m);
    }
}

#[test]
fn json_rejects_out_of_range_fields() {
    let v: serde_json::Value = serde_json::json!({
        "message_type": "CPG",
        "parameters": [{"name": "event_information", "event_indicator": 200}]
    });
    let e = json::from_json(&v, &Variant::ITU).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let v: serde_json::Value = serde_json::json!({
        "message_type": "IAM",
        "parameters": [{"name": "called_party_number", "presentation": 1, "digits": "123"}]
    });
    assert!(json::from_json(&v, &Variant::ITU).is_err());
}
