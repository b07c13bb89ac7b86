//! Property tests: no input makes the parsers panic; generated valid
//! messages and multipart bodies round trip exactly.

use proptest::prelude::*;
use sip::header::{Hdr, HeaderName, NameAddr, Via};
use sip::multipart::{self, OwnedPart};
use sip::transport::StreamFramer;
use sip::{Limits, Message, Method, Request, SipBody, Uri};

const SEED: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c@h\r\nCSeq: 1 INVITE\r\nContent-Type: multipart/mixed;boundary=b1\r\nContent-Length: 60\r\n\r\n--b1\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\n\x01\x00\r\n--b1--\r\n";

fn exercise(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(m) = Message::parse(data) {
        let _ = m.to_bytes();
        let h = m.headers();
        let _ = (
            h.via(),
            h.from(),
            h.to(),
            h.cseq(),
            h.contact(),
            h.route(),
            h.record_route(),
        );
        let _ = (
            h.reason(),
            h.rack(),
            h.rseq(),
            h.privacy(),
            h.p_asserted_identity(),
            h.retry_after(),
        );
        let _ = (
            h.content_type(),
            h.content_disposition(),
            h.allow(),
            h.accept(),
            h.warning(),
        );
        let _ = m.check_mandatory();
        if let Ok(b) = SipBody::parse(h, m.body()) {
            let _ = (b.sdp(), b.isup());
        }
    } else if let Err(e) = Message::parse(data) {
        let _ = sip::error_response(data, &e, "p");
    }
    let _ = Message::parse_stream(data, &limits);
    let mut f = StreamFramer::new(limits);
    f.push(data);
    // non-fatal errors skip the bad message and must make progress
    for _ in 0..64 {
        let before = f.buffered();
        match f.next_message() {
            Ok(Some(_)) => {}
            Err(e) if !e.fatal => assert!(f.buffered() < before),
            _ => break,
        }
    }
    let _ = sip::message::lenient_frame_len(data, &limits);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Uri::parse(s);
        let _ = Via::parse_list(s);
        let _ = NameAddr::parse(s);
        let _ = sip::MediaType::parse(s);
        let _ = multipart::split(data, "b1");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&data);
    }

    /// Mutations of a valid SIP-I message reach deep into the parsers.
    #[test]
    fn mutated_messages_never_panic(edits in proptest::collection::vec((0usize..SEED.len(), any::<u8>()), 1..8),
                                    cut in 0usize..SEED.len()) {
        let mut d = SEED.to_vec();
        for (i, b) in edits {
            d[i] = b;
        }
        exercise(&d);
        exercise(&d[..cut]);
    }

    #[test]
    fn generated_requests_round_trip(
        method in prop_oneof![Just(Method::Invite), Just(Method::Bye), Just(Method::Info), "[A-Z]{3,10}".prop_map(|m| Method::parse(&m).unwrap())],
        user in "[a-z0-9+.]{1,12}",
        host in "[a-z]{1,10}(\\.[a-z]{2,5}){0,2}",
        port in proptest::option::of(1u16..),
        branch in "[a-zA-Z0-9]{1,16}",
        tag in "[a-zA-Z0-9]{1,12}",
        seq in 0u32..(1 << 31),
        display in proptest::option::of("[ -~]{0,20}"),
        extra in proptest::collection::vec(("X-[A-Za-z]{1,10}", "[!-~]([ -~]{0,30}[!-~])?"), 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let port_s = port.map(|p| format!(":{p}")).unwrap_or_default();
        let uri = Uri::parse(&format!("sip:{user}@{host}{port_s}")).unwrap();
        let mut r = Request::new(method.clone(), uri.clone());
        r.headers.push(Hdr::Via, &format!("SIP/2.0/UDP {host}{port_s};branch=z9hG4bK{branch};rport"));
        let mut from = NameAddr::new(uri.clone());
        if let Some(d) = &display {
            from = from.with_display(d);
        }
        from.set_tag(&tag);
        r.headers.push(Hdr::From, &from.to_string());
        r.headers.push(Hdr::To, &NameAddr::new(uri).to_string());
        r.headers.push(Hdr::CallId, &format!("{branch}@{host}"));
        r.headers.push(Hdr::CSeq, &format!("{seq} {method}"));
        for (n, v) in &extra {
            r.headers.push(HeaderName::from_name(n), v);
        }
        r.set_body(Some("application/octet-stream"), body);
        let bytes = r.to_bytes();
        let m = Message::parse(&bytes).unwrap();
        let Message::Request(back) = &m else { panic!() };
        prop_assert_eq!(back, &r);
        prop_assert_eq!(m.to_bytes(), bytes.clone());
        // same over a stream, split at an arbitrary point
        let (sm, used) = Message::parse_stream(&bytes, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(sm, m.clone());
        let h = m.headers();
        prop_assert_eq!(h.cseq().unwrap().seq, seq);
        let f = h.from().unwrap();
        prop_assert_eq!(f.tag(), Some(tag.as_str()));
        if let Some(d) = &display {
            prop_assert_eq!(h.from().unwrap().display_name().unwrap(), d.clone());
        }
    }

    #[test]
    fn multipart_binary_round_trip(sdp in proptest::collection::vec(any::<u8>(), 0..100),
                                   isup in proptest::collection::vec(any::<u8>(), 0..100)) {
        let parts = vec![
            OwnedPart::new("application/sdp", sdp.clone()),
            OwnedPart::new("application/ISUP;version=itu-t92+", isup.clone())
                .with_header(Hdr::ContentDisposition, "signal;handling=required"),
        ];
        let (b, body) = multipart::build(&parts);
        let got = multipart::split(&body, &b).unwrap();
        prop_assert_eq!(got.len(), 2);
        prop_assert_eq!(got[0].body, &sdp[..]);
        prop_assert_eq!(got[1].body, &isup[..]);
    }
}
