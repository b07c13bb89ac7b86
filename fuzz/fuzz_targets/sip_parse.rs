//! SIP message parser, datagram and stream framing (crates/sip `message`, `transport::StreamFramer`).
//!
//! Properties checked, each one the crate documents (docs/sip.md, tests/torture.rs):
//! - no input panics `Message::parse`, `parse_stream`, `error_response`, `lenient_frame_len` or
//!   the typed header accessors;
//! - a parsed message serializes to octets that parse to the same message, apart from
//!   Content-Length, which serialization always rewrites to the body length; the serialized form
//!   is a fixed point (serializing the re-parsed message gives the same octets);
//! - over a stream, the serialized form is one whole message (Content-Length is mandatory, §18.3);
//! - a message `parse_stream` frames is the message `parse` reads from the same octets;
//! - the stream framer yields the same messages and errors however the octets are segmented
//!   (here: all at once, and split at a point chosen from the input);
//! - the typed Via, From, To, CSeq and Request-URI values re-read from their `Display` form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::header::{CSeq, NameAddr, Via};
use sip::transport::StreamFramer;
use sip::{Hdr, Limits, Message, Uri};

fn without_content_length(m: &Message) -> Message {
    let mut m = m.clone();
    m.headers_mut().remove(Hdr::ContentLength);
    m
}

fn check_round_trip(m: &Message) {
    let bytes = m.to_bytes();
    let again = Message::parse(&bytes)
        .unwrap_or_else(|e| panic!("serialized message does not parse: {e}\n{m:?}"));
    assert_eq!(
        without_content_length(&again),
        without_content_length(m),
        "re-parsed message differs"
    );
    assert_eq!(again.headers().content_length(), Ok(Some(m.body().len())));
    assert_eq!(
        again.to_bytes(),
        bytes,
        "serialization is not a fixed point"
    );
    let (sm, used) = Message::parse_stream(&bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("serialized message does not parse from a stream: {e}"))
        .expect("serialized message is complete on a stream");
    assert_eq!(used, bytes.len());
    assert_eq!(sm, again);
}

fn check_typed(m: &Message) {
    let h = m.headers();
    if let Ok(vias) = h.via() {
        for v in vias {
            let s = v.to_string();
            assert_eq!(Via::parse(&s).as_ref(), Ok(&v), "Via {s:?}");
        }
    }
    for na in [h.from(), h.to()].into_iter().flatten() {
        let s = na.to_string();
        assert_eq!(NameAddr::parse(&s).as_ref(), Ok(&na), "name-addr {s:?}");
    }
    if let Ok(c) = h.cseq() {
        assert_eq!(CSeq::parse(&c.to_string()), Ok(c));
    }
    if let Message::Request(r) = m {
        let s = r.uri.to_string();
        assert_eq!(Uri::parse(&s).as_ref(), Ok(&r.uri), "Request-URI {s:?}");
    }
    let _ = (h.contact(), h.route(), h.record_route(), h.max_forwards());
    let _ = (h.reason(), h.rack(), h.rseq(), h.privacy());
    let _ = (h.p_asserted_identity(), h.retry_after(), h.expires());
    let _ = (h.content_type(), h.content_disposition(), h.allow());
    let _ = (h.accept(), h.warning(), h.require(), h.supported());
    let _ = m.check_mandatory();
}

/// Leading CR and LF octets.
fn crlf(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

/// What the framer produces: messages, skipped bad messages (error and their exact octets), and
/// a fatal error, after which the connection is closed.
#[derive(Debug, PartialEq)]
enum Event {
    Msg(Message),
    Skipped(sip::ParseError, Vec<u8>),
    Fatal(sip::ParseError),
}

/// The events for `chunks` pushed in turn, the octets left buffered, and the octets a fatal
/// error handed back. Those are whatever had arrived when framing failed (the stream cannot be
/// resynchronised), so they depend on segmentation and are compared apart.
fn frame(chunks: &[&[u8]]) -> (Vec<Event>, usize, Vec<u8>) {
    let mut f = StreamFramer::new(Limits::default());
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        loop {
            let before = f.buffered();
            match f.next_message() {
                Ok(Some(m)) => out.push(Event::Msg(m)),
                Ok(None) => break,
                Err(e) if e.fatal => {
                    out.push(Event::Fatal(e.error));
                    return (out, f.buffered(), e.raw);
                }
                Err(e) => {
                    // keep-alive CRLFs before the bad message may have been consumed on their own
                    // when they arrived alone (RFC 5626 §4.4.1), so they are not compared
                    let raw = e.raw[crlf(&e.raw)..].to_vec();
                    out.push(Event::Skipped(e.error, raw));
                    assert!(f.buffered() < before, "a skipped message made no progress");
                }
            }
        }
    }
    (out, f.buffered(), Vec::new())
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match Message::parse(data) {
        Ok(m) => {
            check_round_trip(&m);
            check_typed(&m);
        }
        Err(e) => {
            assert!(matches!(e.status(), 400 | 413 | 505 | 513));
            // The reply copies the request's Via, From, To, Call-ID and CSeq leniently, as
            // received (RFC 3261 §8.2.6.2), so it parses again only when those did.
            if let Some(r) = sip::error_response(data, &e, "fuzz") {
                let r = Message::Response(r);
                if Message::parse(&r.to_bytes()).is_ok() {
                    check_round_trip(&r);
                }
            }
        }
    }
    if let Ok(Some((m, used))) = Message::parse_stream(data, &limits) {
        assert!(used <= data.len());
        assert_eq!(
            Message::parse_datagram(&data[..used], &limits).as_ref(),
            Ok(&m),
            "stream and datagram framings disagree"
        );
    }
    let _ = sip::message::lenient_frame_len(data, &limits);
    let whole = frame(&[data]);
    if let (Some(&first), Some(&last)) = (data.first(), data.last()) {
        // split points chosen by the input, so the fuzzer can steer them
        let mut at = [first, last].map(|b| usize::from(b) * data.len() / 256);
        at.sort_unstable();
        let chunks = [&data[..at[0]], &data[at[0]..at[1]], &data[at[1]..]];
        // (what stays buffered may differ by keep-alive CRLFs consumed on their own)
        let (events, _, raw) = frame(&chunks);
        assert_eq!(events, whole.0, "framing depends on segmentation at {at:?}");
        assert!(
            whole.2[crlf(&whole.2)..].starts_with(&raw[crlf(&raw)..]),
            "fatal error octets are not what had arrived"
        );
    }
});
