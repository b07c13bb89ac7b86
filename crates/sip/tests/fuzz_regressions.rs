//! Inputs the fuzz targets found (`fuzz/`, see `fuzz/README.md`), replayed as ordinary tests:
//! the exact octets the fuzzer wrote (kept under `fuzz/regressions/<target>/`) and a minimal
//! hand-made case for each bug.

use sip::multipart::{self, OwnedPart};
use sip::transport::StreamFramer;
use sip::{Hdr, Limits, Message, ParseError};

/// Every message and error (with whether it is fatal) the stream framer yields for `chunks`
/// pushed in turn, up to the first fatal error.
fn frame(chunks: &[&[u8]]) -> Vec<Result<Message, (ParseError, bool)>> {
    let mut f = StreamFramer::new(Limits::default());
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        loop {
            match f.next_message() {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err((e.error, e.fatal)));
                    if e.fatal {
                        return out;
                    }
                }
            }
        }
    }
    out
}

/// sip_parse: the header section of a stream message ended at the first CRLF CRLF anywhere in the
/// buffer, else at the first LF LF, so an earlier bare-LF empty line lost to a CRLF CRLF that
/// arrived later: the same octets framed differently depending on TCP segmentation.
#[test]
fn stream_framing_does_not_depend_on_segmentation() {
    let data: &[u8] = include_bytes!(
        "../../../fuzz/regressions/sip_parse/stream-head-end-bare-lf-before-crlfcrlf"
    );
    let whole = frame(&[data]);
    // the split points the fuzzer chose, then every single split
    assert_eq!(frame(&[&data[..9], &data[9..75], &data[75..]]), whole);
    for at in 0..=data.len() {
        assert_eq!(frame(&[&data[..at], &data[at..]]), whole, "split at {at}");
    }
}

/// The minimal case: bare-LF header lines, then a body holding a non-UTF-8 octet and CRLF CRLF.
/// The header section ends at the first empty line (RFC 3261 §7), so the body is not header text:
/// it used to fail as "not UTF-8" in a datagram and never be delivered on a stream.
#[test]
fn header_section_ends_at_the_first_empty_line() {
    let msg: &[u8] = b"OPTIONS sip:a@b SIP/2.0\nl: 5\n\n\xff\r\n\r\n";
    let m = Message::parse(msg).expect("a bare-LF message with a binary body parses");
    assert_eq!(m.body(), b"\xff\r\n\r\n");
    let (sm, used) = Message::parse_stream(msg, &Limits::default())
        .unwrap()
        .expect("whole message");
    assert_eq!((sm, used), (m.clone(), msg.len()));
    for at in 0..=msg.len() {
        assert_eq!(
            frame(&[&msg[..at], &msg[at..]]),
            vec![Ok(m.clone())],
            "split at {at}"
        );
    }
    // every accepted form of the empty line ends the header section at the same place
    for head in [
        &b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\n\r\nx"[..],
        b"OPTIONS sip:a@b SIP/2.0\nl: 1\n\nx",
        b"OPTIONS sip:a@b SIP/2.0\nl: 1\n\r\nx",
        b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\n\nx",
    ] {
        assert_eq!(Message::parse(head).unwrap().body(), b"x");
        assert_eq!(
            sip::message::lenient_frame_len(head, &Limits::default()),
            Some(head.len())
        );
    }
}

fn rebuild(body: &[u8], boundary: &str) -> Vec<OwnedPart> {
    multipart::split(body, boundary)
        .unwrap()
        .iter()
        .map(|p| OwnedPart {
            headers: p
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.to_string()))
                .collect(),
            body: p.body.to_vec(),
        })
        .collect()
}

/// multipart: a part header folded onto an empty first line (`Content-Type:` CRLF SP `value`)
/// kept the fold's SP at the front of the value, so the value changed when the part was built and
/// split again (the message parser unfolds the same line to a trimmed value).
#[test]
fn part_header_folded_onto_an_empty_value() {
    let input: &[u8] =
        include_bytes!("../../../fuzz/regressions/multipart/part-header-folded-onto-empty-value");
    // fuzz input: Content-Type LF Content-Disposition LF body; the boundary parameter is
    // misspelt, so the target split at its default boundary "b1"
    let body = input.splitn(3, |&b| b == b'\n').nth(2).unwrap();
    let parts = multipart::split(body, "b1").unwrap();
    assert_eq!(
        parts[0].headers.get(Hdr::ContentType),
        Some("application/sdp")
    );
    let owned = rebuild(body, "b1");
    let (b, built) = multipart::build(&owned);
    assert_eq!(rebuild(&built, &b), owned);
}

#[test]
fn folded_part_header_values_are_trimmed() {
    for (body, want) in [
        (&b"--b\r\nContent-Type:\r\n application/sdp\r\n\r\nv=0\r\n--b--"[..], "application/sdp"),
        (b"--b\r\nContent-Type: application/sdp\r\n \t\r\n\r\nv=0\r\n--b--", "application/sdp"),
        (b"--b\r\nContent-Type: application/isup;\r\n\tversion=itu-t92+\r\n\r\n\x10\x00\r\n--b--", "application/isup; version=itu-t92+"),
    ] {
        let parts = multipart::split(body, "b").unwrap();
        assert_eq!(parts[0].headers.get(Hdr::ContentType), Some(want));
    }
}
