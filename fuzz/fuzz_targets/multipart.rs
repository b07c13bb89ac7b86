//! SIP-I/SIP-T bodies (crates/sip `mediatype`, `multipart`, `body`): the media-type and
//! Content-Disposition parsers, the multipart/mixed splitter and builder, and the body helper that
//! finds the SDP and ISUP parts.
//!
//! Input: `Content-Type value LF Content-Disposition value LF body octets`.
//!
//! Properties checked, each one the crate documents (docs/sip.md "Bodies"):
//! - `MediaType::validate` accepts exactly what `MediaType::parse` accepts;
//! - media types and dispositions re-read from their `Display` form;
//! - split parts borrow the body (zero-copy), and building them again and splitting the result
//!   gives back every part's headers and exact octets;
//! - the SDP and ISUP parts the body helper finds survive `build_sip_i` and a whole SIP
//!   message serialize/parse byte for byte, with version, base and handling.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::body::{SipBody, build_sip_i};
use sip::header::{ContentDisposition, Handling};
use sip::multipart::{self, OwnedPart};
use sip::{Hdr, Headers, MediaType, Message, Method, Request, Uri};

fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fn check_media_type(s: &str) {
    let parsed = MediaType::parse(s);
    assert_eq!(
        MediaType::validate(s).is_ok(),
        parsed.is_ok(),
        "validate and parse disagree on {s:?}"
    );
    if let Ok(m) = parsed {
        let out = m.to_string();
        assert_eq!(
            MediaType::parse(&out).as_ref(),
            Ok(&m),
            "media type {out:?}"
        );
    }
}

fn check_disposition(s: &str) {
    if let Ok(d) = ContentDisposition::parse(s) {
        let out = d.to_string();
        assert_eq!(
            ContentDisposition::parse(&out).as_ref(),
            Ok(&d),
            "disposition {out:?}"
        );
    }
}

fn check_split(body: &[u8], boundary: &str) {
    let Ok(parts) = multipart::split(body, boundary) else {
        return;
    };
    let owned: Vec<OwnedPart> = parts
        .iter()
        .map(|p| {
            assert!(within(body, p.body), "part is not a slice of the body");
            OwnedPart {
                headers: p
                    .headers
                    .iter()
                    .map(|(n, v)| (n.clone(), v.to_string()))
                    .collect(),
                body: p.body.to_vec(),
            }
        })
        .collect();
    let (b, built) = multipart::build(&owned);
    let again = multipart::split(&built, &b).expect("a built body splits");
    assert_eq!(again.len(), parts.len());
    for (x, y) in again.iter().zip(&parts) {
        assert_eq!(x.body, y.body, "part octets changed");
        assert_eq!(x.headers, y.headers, "part headers changed");
    }
}

/// The gateway's relay path: the parts go into a new message (`build_sip_i`, `set_body`), the
/// message crosses the wire, and the receiver reads the same parts back.
fn check_rebuild(sdp: Option<&[u8]>, isup: &[u8], handling: Handling) {
    let (ct, body, disp) = build_sip_i(sdp, isup, "itu-t92+", Some("itu-t92+"), handling);
    let mut r = Request::new(Method::Info, Uri::parse("sip:gw@example.net").expect("uri"));
    if let Some(d) = &disp {
        r.headers.push(Hdr::ContentDisposition, d);
    }
    r.set_body(Some(&ct), body);
    let m = Message::parse(&r.to_bytes()).expect("built message parses");
    let b = SipBody::parse(m.headers(), m.body()).expect("built body parses");
    assert_eq!(b.sdp(), sdp);
    let i = b.isup().expect("built body has an ISUP part");
    assert_eq!(i.data, isup);
    assert_eq!(i.version.as_deref(), Some("itu-t92+"));
    assert_eq!(i.base.as_deref(), Some("itu-t92+"));
    assert_eq!(i.handling, handling);
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.splitn(3, |&b| b == b'\n');
    let (Some(ct), cd, body) = (fields.next(), fields.next(), fields.next()) else {
        return;
    };
    let (Ok(ct), Ok(cd)) = (
        std::str::from_utf8(ct),
        std::str::from_utf8(cd.unwrap_or_default()),
    ) else {
        return;
    };
    let body = body.unwrap_or_default();
    check_media_type(ct);
    check_disposition(cd);
    let boundary = MediaType::parse(ct)
        .ok()
        .and_then(|m| m.boundary())
        .unwrap_or_else(|| "b1".to_string());
    check_split(body, &boundary);

    let mut h = Headers::new();
    if !ct.is_empty() {
        h.push(Hdr::ContentType, ct);
    }
    if !cd.is_empty() {
        h.push(Hdr::ContentDisposition, cd);
    }
    let Ok(b) = SipBody::parse(&h, body) else {
        return;
    };
    for p in &b.parts {
        assert!(within(body, p.data), "body part is not a slice of the body");
    }
    let sdp = b.sdp();
    if let Some(i) = b.isup() {
        // what the gateway does next with the octets (crates/mgc joins sip and isup)
        if let Ok(msg) = isup::Message::parse(i.data) {
            let _ = msg.to_bytes();
        }
        check_rebuild(sdp, i.data, i.handling);
        if !i.data.is_empty() {
            // a lone ISUP part is the whole message body, and an empty body is no body
            // (RFC 3261 §7.4.1: Content-Length 0), so only multipart can carry empty ISUP octets
            check_rebuild(None, i.data, i.handling);
        }
    }
});
