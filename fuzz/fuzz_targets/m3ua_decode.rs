//! M3UA decoder (crates/m3ua `wire`, `transport::framing`).
//!
//! Properties checked, each one the crate documents (docs/m3ua.md, `wire::message`):
//! - no input panics the decoder, the zero-copy header view or the stream frame decoder, and every
//!   decode error maps to an RFC 4666 §3.8.1 error code;
//! - `parse` and `parse_bytes` (shared storage) decode the same message;
//! - a decoded message emits `buffer_len` octets in the canonical parameter order, which decode
//!   to the same message; canonical octets round-trip byte for byte (emit ∘ parse is the
//!   identity on what emit writes);
//! - the frame decoder takes whole messages off a stream, each one the length its header declares.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use m3ua::transport::framing::FrameDecoder;
use m3ua::wire::{Header, Message};

fn check(data: &[u8]) {
    if let Ok(h) = Header::new_checked(data) {
        assert_eq!(h.length() as usize, data.len());
        for p in h.params() {
            match p {
                Ok(p) => assert!(p.offset + 4 + p.value.len() <= data.len()),
                Err(e) => {
                    let _ = e.error_code();
                }
            }
        }
    }
    let shared = Bytes::copy_from_slice(data);
    match Message::parse(data) {
        Ok(m) => {
            assert_eq!(Message::parse_bytes(&shared).as_ref(), Ok(&m));
            let canonical = m.to_vec();
            assert_eq!(
                canonical.len(),
                m.buffer_len(),
                "buffer_len disagrees with emit"
            );
            let again = Message::parse(&canonical)
                .unwrap_or_else(|e| panic!("emitted {} does not decode: {e}", m.abbr()));
            assert_eq!(again, m, "emit → parse changed the message");
            assert_eq!(
                again.to_vec(),
                canonical,
                "canonical form is not a fixed point"
            );
            let _ = (m.abbr(), m.class(), m.spec());
        }
        Err(e) => {
            let _ = e.error_code();
            assert!(Message::parse_bytes(&shared).is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // The same octets as a TCP stream: whole messages come off the front one by one.
    let decoder = FrameDecoder::default();
    let mut buf = BytesMut::from(data);
    let mut taken = 0;
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        assert!(frame.len() >= 8 && frame.len() % 4 == 0);
        assert_eq!(m3ua::wire::peek_length(&frame), Some(frame.len() as u32));
        taken += frame.len();
        assert_eq!(taken + buf.len(), data.len());
        check(&frame);
    }
});
