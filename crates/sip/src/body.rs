//! Body helper for SIP-I/SIP-T (RFC 3204, RFC 3372, Q.1912.5): the parts of
//! any message's body, its SDP, and its ISUP (octets plus version/base).

use crate::header::{ContentDisposition, Handling, Hdr, Headers};
use crate::mediatype::MediaType;
use crate::multipart::{self, MultipartError, OwnedPart};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("bad Content-Type: {0}")]
    ContentType(String),
    #[error("bad Content-Disposition: {0}")]
    Disposition(String),
    #[error(transparent)]
    Multipart(#[from] MultipartError),
}

impl BodyError {
    /// The response to a request whose body this is: 413 (RFC 3261 §21.4.11) for a body beyond
    /// [`BodyLimits`], which is well-formed but more than we are willing to process; 400
    /// (§21.4.1) for a malformed one.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::Multipart(MultipartError::TooManyParts(_) | MultipartError::TooDeep(_)) => {
                413
            }
            _ => 400,
        }
    }
}

/// Bounds on reading a body (RFC 3261 and RFC 5621 set none). Every MIME part of every
/// multipart body counts, nested multiparts included, so the work is bounded whatever the
/// nesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Parts in all, at every level (a SIP-I body has 2: SDP and ISUP).
    pub max_parts: usize,
    /// Multipart levels: 1 is a multipart of leaf parts (Q.1912.5 SIP-I), each nesting adds one.
    pub max_depth: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            max_parts: 16,
            max_depth: 4,
        }
    }
}

/// One leaf part of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPart<'a> {
    /// `None` when the message or part carries no Content-Type.
    pub content_type: Option<MediaType>,
    pub disposition: Option<ContentDisposition>,
    pub data: &'a [u8],
}

/// The ISUP part of a SIP-I/SIP-T message (RFC 3204 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsupPart<'a> {
    /// ISUP message octets, starting at the message type (no CIC).
    pub data: &'a [u8],
    /// `version` parameter, e.g. `itu-t92+`.
    pub version: Option<String>,
    /// `base` parameter.
    pub base: Option<String>,
    /// RFC 3204 §4: `handling` of Content-Disposition `signal` (default required).
    pub handling: Handling,
}

/// All leaf parts of a body, multipart flattened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SipBody<'a> {
    pub parts: Vec<BodyPart<'a>>,
}

impl<'a> SipBody<'a> {
    /// Reads the body of a message with these headers within the default [`BodyLimits`]. An
    /// empty body gives no parts.
    pub fn parse(headers: &Headers, body: &'a [u8]) -> Result<SipBody<'a>, BodyError> {
        Self::parse_limited(headers, body, &BodyLimits::default())
    }

    /// Reads a body within `limits`: the part beyond them is not parsed.
    pub fn parse_limited(
        headers: &Headers,
        body: &'a [u8],
        limits: &BodyLimits,
    ) -> Result<SipBody<'a>, BodyError> {
        let mut out = SipBody::default();
        if body.is_empty() {
            return Ok(out);
        }
        let ct = headers
            .content_type()
            .map_err(|e| BodyError::ContentType(e.to_string()))?;
        let cd = headers
            .content_disposition()
            .map_err(|e| BodyError::Disposition(e.to_string()))?;
        let mut seen = 0;
        out.add(ct, cd, body, 0, limits, &mut seen)?;
        Ok(out)
    }

    fn add(
        &mut self,
        ct: Option<MediaType>,
        cd: Option<ContentDisposition>,
        data: &'a [u8],
        depth: usize,
        limits: &BodyLimits,
        seen: &mut usize,
    ) -> Result<(), BodyError> {
        if let Some(m) = ct.as_ref().filter(|m| m.is_multipart()) {
            if depth >= limits.max_depth {
                return Err(MultipartError::TooDeep(limits.max_depth).into());
            }
            let b = m.boundary().ok_or(MultipartError::NoBoundary)?;
            for p in multipart::parts(data, &b)? {
                if *seen == limits.max_parts {
                    return Err(MultipartError::TooManyParts(limits.max_parts).into());
                }
                *seen += 1;
                let p = p?;
                // RFC 2046 §5.1: a part without Content-Type is text/plain.
                let pct = match p.headers.content_type() {
                    Ok(Some(t)) => t,
                    Ok(None) => MediaType::new("text", "plain"),
                    Err(e) => return Err(BodyError::ContentType(e.to_string())),
                };
                let pcd = p
                    .headers
                    .content_disposition()
                    .map_err(|e| BodyError::Disposition(e.to_string()))?;
                self.add(Some(pct), pcd, p.body, depth + 1, limits, seen)?;
            }
            return Ok(());
        }
        self.parts.push(BodyPart {
            content_type: ct,
            disposition: cd,
            data,
        });
        Ok(())
    }

    /// The first `application/sdp` part.
    pub fn sdp(&self) -> Option<&'a [u8]> {
        self.parts
            .iter()
            .find(|p| p.content_type.as_ref().is_some_and(MediaType::is_sdp))
            .map(|p| p.data)
    }

    /// The first `application/ISUP` part.
    pub fn isup(&self) -> Option<IsupPart<'a>> {
        let p = self
            .parts
            .iter()
            .find(|p| p.content_type.as_ref().is_some_and(MediaType::is_isup))?;
        let ct = p.content_type.as_ref()?;
        Some(IsupPart {
            data: p.data,
            version: ct.param("version"),
            base: ct.param("base"),
            handling: p
                .disposition
                .as_ref()
                .map(ContentDisposition::handling)
                .unwrap_or(Handling::Required),
        })
    }
}

/// Builds a SIP-I body: SDP (optional) plus ISUP, per Q.1912.5 / RFC 3204.
/// Returns the Content-Type value for the message and the body octets; a lone
/// ISUP part is sent single-part (as SIP-T BYE/INFO do).
pub fn build_sip_i(
    sdp: Option<&[u8]>,
    isup: &[u8],
    version: &str,
    base: Option<&str>,
    handling: Handling,
) -> (String, Vec<u8>, Option<String>) {
    let isup_ct = MediaType::isup(version, base).to_string();
    let disp = ContentDisposition::new("signal", Some(handling)).to_string();
    match sdp {
        None => (isup_ct, isup.to_vec(), Some(disp)),
        Some(sdp) => {
            let parts = vec![
                OwnedPart::new("application/sdp", sdp.to_vec()),
                OwnedPart::new(&isup_ct, isup.to_vec()).with_header(Hdr::ContentDisposition, &disp),
            ];
            let (b, body) = multipart::build(&parts);
            (format!("multipart/mixed;boundary={b}"), body, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, Request};
    use crate::method::Method;
    use crate::uri::Uri;

    const IAM: &[u8] = b"\x01\x00\x60\x20\x0a\x00\x02\x09\x07\x03\x10\x94\x03\x21\x43\x65\x0a\x07\x84\x13\x94\x03\x99\x89\x08\x00";

    #[test]
    fn sip_i_round_trip() {
        let (ct, body, disp) = build_sip_i(
            Some(b"v=0\r\n"),
            IAM,
            "itu-t92+",
            Some("itu-t92+"),
            Handling::Required,
        );
        assert!(disp.is_none());
        let mut r = Request::new(Method::Invite, Uri::parse("sip:4930123456@gw").unwrap());
        r.set_body(Some(&ct), body);
        let m = Message::parse(&r.to_bytes()).unwrap();
        let b = SipBody::parse(m.headers(), m.body()).unwrap();
        assert_eq!(b.parts.len(), 2);
        assert_eq!(b.sdp(), Some(&b"v=0\r\n"[..]));
        let i = b.isup().unwrap();
        assert_eq!(i.data, IAM);
        assert_eq!(i.version.as_deref(), Some("itu-t92+"));
        assert_eq!(i.base.as_deref(), Some("itu-t92+"));
        assert_eq!(i.handling, Handling::Required);
    }

    #[test]
    fn single_part_isup_and_empty() {
        let mut h = Headers::new();
        h.push(
            Hdr::ContentType,
            "application/isup; version=itu-t92+; base=itu-t92+",
        );
        h.push(Hdr::ContentDisposition, "signal; handling=optional");
        let rel = b"\x0c\x02\x00\x02\x83\x9f";
        let b = SipBody::parse(&h, rel).unwrap();
        let i = b.isup().unwrap();
        assert_eq!(i.data, rel);
        assert_eq!(i.handling, Handling::Optional);
        assert!(b.sdp().is_none());
        assert!(SipBody::parse(&h, b"").unwrap().parts.is_empty());
        let mut bad = Headers::new();
        bad.push(Hdr::ContentType, "multipart/mixed");
        assert!(SipBody::parse(&bad, b"x").is_err());
    }

    /// A multipart/mixed body of `n` text parts, nested `depth` levels deep (the innermost
    /// level holds the text parts; each outer level one part, the next level). Returns the
    /// Content-Type and the octets.
    fn nested(n: usize, depth: usize) -> (String, Vec<u8>) {
        let leaves: Vec<OwnedPart> = (0..n)
            .map(|i| OwnedPart::new("text/plain", format!("part {i}").into_bytes()))
            .collect();
        let (b, mut body) = multipart::build(&leaves);
        let mut ct = format!("multipart/mixed;boundary={b}");
        for level in 1..depth {
            let outer = format!("outer-{level}");
            let mut o = format!("--{outer}\r\nContent-Type: {ct}\r\n\r\n").into_bytes();
            o.extend_from_slice(&body);
            o.extend_from_slice(format!("\r\n--{outer}--\r\n").as_bytes());
            body = o;
            ct = format!("multipart/mixed;boundary={outer}");
        }
        (ct, body)
    }

    fn parse_nested(n: usize, depth: usize, limits: &BodyLimits) -> Result<usize, BodyError> {
        let (ct, body) = nested(n, depth);
        let mut h = Headers::new();
        h.push(Hdr::ContentType, &ct);
        SipBody::parse_limited(&h, &body, limits).map(|b| b.parts.len())
    }

    #[test]
    fn part_count_limit_is_exact() {
        let l = BodyLimits::default();
        assert_eq!(parse_nested(16, 1, &l), Ok(16));
        let e = parse_nested(17, 1, &l).unwrap_err();
        assert_eq!(e, BodyError::Multipart(MultipartError::TooManyParts(16)));
        assert_eq!(e.to_string(), "multipart body has more than 16 parts");
        assert_eq!(e.status(), 413);
        // Nested multiparts count as parts: 2 levels, 15 leaves + 1 container = 16.
        assert_eq!(parse_nested(15, 2, &l), Ok(15));
        assert!(matches!(
            parse_nested(16, 2, &l),
            Err(BodyError::Multipart(MultipartError::TooManyParts(16)))
        ));
        let two = BodyLimits { max_parts: 2, ..l };
        assert_eq!(parse_nested(2, 1, &two), Ok(2));
        assert!(parse_nested(3, 1, &two).is_err());
    }

    #[test]
    fn nesting_limit_is_exact() {
        let l = BodyLimits::default();
        assert_eq!(parse_nested(1, 4, &l), Ok(1));
        let e = parse_nested(1, 5, &l).unwrap_err();
        assert_eq!(e, BodyError::Multipart(MultipartError::TooDeep(4)));
        assert_eq!(e.status(), 413);
        // A malformed body is 400, not 413.
        let mut h = Headers::new();
        h.push(Hdr::ContentType, "multipart/mixed;boundary=x");
        assert_eq!(
            SipBody::parse(&h, b"no delimiter").unwrap_err().status(),
            400
        );
    }
}
