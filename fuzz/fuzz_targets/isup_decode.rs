//! ISUP decoder: any octets either fail with a typed error or decode to a message that re-encodes
//! and decodes to itself. The one typed encode error allowed is a pointer beyond 255 octets: a
//! sender may place the optional part before long variable parameters, which the canonical layout
//! cannot express.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = isup::Message::parse(data) {
        match msg.to_bytes() {
            Ok(bytes) => {
                assert_eq!(
                    isup::Message::parse(&bytes).expect("re-encoded message decodes"),
                    msg
                )
            }
            Err(isup::Error::BadPointer { .. }) => {}
            Err(e) => panic!("a decoded message fails to re-encode: {e}"),
        }
        let json = isup::json::to_json(&msg, None);
        let (_, back) =
            isup::json::from_json(&json, &isup::Variant::ITU).expect("own JSON reads back");
        assert_eq!(back, msg);
    }
    let _ = isup::Message::parse_with_cic(data);
});
