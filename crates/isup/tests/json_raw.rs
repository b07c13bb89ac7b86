//! The JSON form of parameters kept raw for byte exactness (a set spare bit, a non-zero filler):
//! they carry the decoded fields (`digits`, `nature_of_address`, …) beside `raw`, and `raw` is
//! what encodes, so `mgc isup decode | mgc isup encode` stays byte-exact.

use isup::json::{from_json, parameter_from_json, parameter_to_json, to_json};
use isup::*;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

/// The number parameters (Q.763 §3.9 ff.) and the subsequent number (§3.51).
const NUMBER_CODES: [u8; 9] = [0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x21, 0x28, 0x3F, 0xC0];

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// decode → JSON text → encode, as `mgc isup decode | mgc isup encode` does.
fn cli_round_trip(bytes: &[u8]) -> (Value, Vec<u8>) {
    let (cic, msg) = Message::parse_with_cic(bytes).unwrap();
    let text = serde_json::to_string(&to_json(&msg, Some(cic))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let (cic2, back) = from_json(&v, &Variant::ITU).unwrap();
    let mut out = Vec::new();
    back.emit_with_cic(cic2.unwrap(), &mut out).unwrap();
    (v, out)
}

/// IAM, CIC 1, with `cdpn` as the called party number value and `optional` (code, length,
/// value …) as its optional part (Q.763 Table 32).
fn iam_with(cdpn: &[u8], optional: &[u8]) -> Vec<u8> {
    let mut b = hex("0100010020010a0002");
    // Pointer to the optional part: past its own octet, the length and the number (§1.7).
    b.push(if optional.is_empty() {
        0
    } else {
        cdpn.len() as u8 + 2
    });
    b.push(cdpn.len() as u8);
    b.extend_from_slice(cdpn);
    if !optional.is_empty() {
        b.extend_from_slice(optional);
        b.push(0);
    }
    b
}

#[test]
fn called_number_with_odd_filler_has_digits_and_raw() {
    // Odd, NAI 3, NPI 1, signals 1 2 C B ST, filler 1 instead of 0 (Q.763 §3.9 f)).
    let bytes = iam_with(&hex("831021bc1f"), &[]);
    let (v, out) = cli_round_trip(&bytes);
    let p = &v["parameters"][4];
    assert_eq!(p["name"], "called_party_number");
    assert_eq!(p["raw"], "831021bc1f");
    assert_eq!(p["digits"], "12CBF");
    assert_eq!(p["nature_of_address"], 3);
    assert_eq!(p["numbering_plan_indicator"], 1);
    assert_eq!(p["internal_network_number_indicator"], 0);
    assert_eq!(out, bytes, "raw wins on encode");
}

#[test]
fn called_number_with_spare_bits_has_digits_and_raw() {
    // Even, NAI 4, second octet 0x1f: bits D-A are spare in the called party number.
    let bytes = iam_with(&hex("041f2143"), &[]);
    let (v, out) = cli_round_trip(&bytes);
    let p = &v["parameters"][4];
    assert_eq!(
        (&p["digits"], &p["nature_of_address"], &p["raw"]),
        (&json!("1234"), &json!(4), &json!("041f2143"))
    );
    assert_eq!(out, bytes);
}

#[test]
fn subsequent_and_optional_numbers_kept_raw_show_digits() {
    // SAM: subsequent number 9 8 7 with filler 0xf (Q.763 §3.51).
    let sam = hex("010002020003" /* pointers, length */)
        .into_iter()
        .chain(hex("8089f7"))
        .collect::<Vec<u8>>();
    let (v, out) = cli_round_trip(&sam);
    let p = &v["parameters"][0];
    assert_eq!(
        (&p["name"], &p["digits"], &p["raw"]),
        (&json!("subsequent_number"), &json!("987"), &json!("8089f7"))
    );
    assert_eq!(out, sam);
    // Optional redirecting number, even, with bit H and bits B-A (spare there) set: 0x8b.
    let iam = iam_with(&hex("03102143"), &hex("0b04038b21f3"));
    let (v, out) = cli_round_trip(&iam);
    let p = &v["parameters"][5];
    assert_eq!(
        (&p["name"], &p["digits"], &p["presentation"], &p["raw"]),
        (
            &json!("redirecting_number"),
            &json!("123F"),
            &json!(2),
            &json!("038b21f3")
        )
    );
    assert_eq!(out, iam);
}

#[test]
fn fields_beside_raw_must_agree_with_it() {
    let base = json!({"code": 4, "name": "called_party_number", "raw": "831021bc1f"});
    let raw_only = parameter_from_json(&base).unwrap();
    assert_eq!(raw_only.value_bytes(), hex("831021bc1f"));
    // What decode shows is accepted and encodes the raw octets.
    let shown = parameter_to_json(&raw_only);
    assert_eq!(parameter_from_json(&shown).unwrap(), raw_only);
    // A subset of the fields, and digits in lower case, are the same value.
    let mut some = base.clone();
    some["digits"] = json!("12cbf");
    some["nature_of_address"] = json!(3);
    assert_eq!(parameter_from_json(&some).unwrap(), raw_only);
    // An edited field with raw still present would be lost: refused, naming the field.
    let mut edited = shown.clone();
    edited["digits"] = json!("4930");
    let e = parameter_from_json(&edited).unwrap_err();
    assert!(e.contains("digits") && e.contains("remove raw"), "{e}");
    // Without raw the edited fields encode.
    edited.as_object_mut().unwrap().remove("raw");
    let typed = parameter_from_json(&edited).unwrap();
    assert_eq!(typed.value_bytes(), hex("03109403"));
    // Unknown keys and fields of a code with no typed form stay refused.
    let mut unknown = base.clone();
    unknown["colour"] = json!(1);
    assert!(parameter_from_json(&unknown).is_err());
    let untyped = json!({"code": 254, "raw": "abcd", "digits": "1"});
    assert!(parameter_from_json(&untyped).is_err());
    // A value that does not fit the type at all (malformed) has raw alone.
    let malformed = Parameter::raw(ParameterCode::CALLED_PARTY_NUMBER, &[0x83]);
    let j = parameter_to_json(&malformed);
    assert_eq!(j.as_object().unwrap().len(), 3, "{j}");
}

/// Every value of a small space per number code: first octet (even, odd, all ones), every second
/// octet, and odd tails with every filler. Each decodes, shows `digits` whenever the octets fit
/// the number format, and comes back to the same octets through the JSON text.
#[test]
fn every_small_number_round_trips_through_json_with_digits() {
    let mut tails: Vec<Vec<u8>> = vec![vec![], vec![0x21], vec![0x21, 0x43], vec![0xbc, 0xdf]];
    tails.extend((0..16u8).map(|f| vec![0x21, (f << 4) | 0x0b]));
    let mut checked = 0;
    for code in NUMBER_CODES.map(ParameterCode) {
        for first in [0x04u8, 0x83, 0xff] {
            for second in 0..=255u8 {
                for tail in &tails {
                    let value: Vec<u8> = [first, second].iter().chain(tail).copied().collect();
                    let p = match Parameter::decode(code, &value) {
                        Decoded::Typed(p) | Decoded::Raw(p) => p,
                        Decoded::Malformed(p, _) => p,
                    };
                    let j = parameter_to_json(&p);
                    let fits = Parameter::raw(code, &value).to_typed().is_some();
                    assert_eq!(j.get("digits").is_some(), fits, "{code} {value:02x?}: {j}");
                    let text = serde_json::to_string(&j).unwrap();
                    let back = parameter_from_json(&serde_json::from_str(&text).unwrap())
                        .unwrap_or_else(|e| panic!("{code} {value:02x?}: {e}: {j}"));
                    assert_eq!(back.value_bytes(), value, "{code}: {j}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 9 * 3 * 256 * 20);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Any code, any value: the JSON of the decoded parameter encodes back to the same octets,
    /// and a parameter kept raw whose octets fit its type shows that type's fields too.
    #[test]
    fn any_parameter_json_is_byte_exact(code in any::<u8>(), value in vec(any::<u8>(), 0..14)) {
        let code = ParameterCode(code);
        let p = match Parameter::decode(code, &value) {
            Decoded::Typed(p) | Decoded::Raw(p) | Decoded::Malformed(p, _) => p,
        };
        let j = parameter_to_json(&p);
        if let (Parameter::Raw(_), Some(typed)) = (&p, p.to_typed()) {
            let fields = parameter_to_json(&typed);
            for (k, v) in fields.as_object().unwrap() {
                prop_assert_eq!(j.get(k), Some(v), "{} {:02x?}", code, value);
            }
        }
        let text = serde_json::to_string(&j).unwrap();
        let back = parameter_from_json(&serde_json::from_str(&text).unwrap());
        prop_assert_eq!(back.map(|b| b.value_bytes()), Ok(value));
    }
}
