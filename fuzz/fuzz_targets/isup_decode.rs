//! ISUP decoder: any octets either fail with a typed error or decode to a message that re-encodes
//! and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = isup::Message::parse(data) {
        let bytes = msg.to_bytes().expect("a decoded message re-encodes");
        assert_eq!(isup::Message::parse(&bytes).expect("re-encoded message decodes"), msg);
        let json = isup::json::to_json(&msg, None);
        let (_, back) = isup::json::from_json(&json, &isup::Variant::ITU).expect("own JSON reads back");
        assert_eq!(back, msg);
    }
    let _ = isup::Message::parse_with_cic(data);
});
