//! `multipart/mixed` (RFC 2046 §5.1) split and build for SIP-I/SIP-T bodies.
//! Own code rather than a crate: the `multipart` crate only accepts HTTP
//! form-data (see docs/sip.md). Zero-copy: parts borrow the message body, and
//! binary part content (CR LF, NUL, "--") is preserved exactly.

use crate::header::{Hdr, HeaderName, Headers};
use memchr::memmem;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("multipart body has no boundary parameter")]
    NoBoundary,
    #[error("bad multipart boundary")]
    BadBoundary,
    #[error("first boundary delimiter not found")]
    NoFirstDelimiter,
    #[error("multipart part not terminated by a delimiter")]
    Unterminated,
    #[error("malformed part header: {0}")]
    PartHeader(&'static str),
    #[error("multipart nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("multipart body has more than {0} parts")]
    TooManyParts(usize),
}

/// One body part: its MIME headers and its exact content octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub headers: Headers,
    pub body: &'a [u8],
}

/// RFC 2046 §5.1.1: 1 to 70 characters from bchars, not ending in space.
pub fn valid_boundary(b: &str) -> bool {
    !b.is_empty()
        && b.len() <= 70
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

/// Splits a multipart body at `boundary`. The CRLF before each delimiter
/// belongs to the delimiter, not to the part (RFC 2046 §5.1.1).
pub fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    parts(body, boundary)?.collect()
}

/// The parts of a multipart body one at a time, so a caller can stop (e.g. at a limit)
/// before the rest are parsed.
pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Result<Parts<'a>, MultipartError> {
    if !valid_boundary(boundary) {
        return Err(MultipartError::BadBoundary);
    }
    let mut dash = Vec::with_capacity(boundary.len() + 4);
    dash.extend_from_slice(b"\r\n--");
    dash.extend_from_slice(boundary.as_bytes());
    let finder = memmem::Finder::new(&dash).into_owned();
    // The first delimiter may sit at the very start (no preamble, no CRLF).
    let pos = if body.starts_with(&dash[2..]) {
        dash.len() - 2
    } else {
        finder.find(body).ok_or(MultipartError::NoFirstDelimiter)? + dash.len()
    };
    Ok(Parts {
        body,
        finder,
        pos: Some(pos),
    })
}

/// Iterator over the parts of a multipart body ([`parts`]); ends after the first error.
pub struct Parts<'a> {
    body: &'a [u8],
    finder: memmem::Finder<'static>,
    /// Just after the last delimiter seen; `None` once done.
    pos: Option<usize>,
}

impl<'a> Iterator for Parts<'a> {
    type Item = Result<Part<'a>, MultipartError>;

    fn next(&mut self) -> Option<Self::Item> {
        let pos = self.pos.take()?;
        let body = self.body;
        let rest = body.get(pos..)?;
        if rest.starts_with(b"--") {
            return None; // close-delimiter; the epilogue is ignored
        }
        // transport-padding then CRLF
        let pad = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let after = &rest[pad..];
        let start = if after.starts_with(b"\r\n") {
            pos + pad + 2
        } else if after.starts_with(b"\n") {
            pos + pad + 1
        } else {
            return Some(Err(MultipartError::Unterminated));
        };
        let Some(len) = self.finder.find(&body[start..]) else {
            return Some(Err(MultipartError::Unterminated));
        };
        let end = start + len;
        let part = parse_part(&body[start..end]);
        if part.is_ok() {
            self.pos = Some(end + self.finder.needle().len());
        }
        Some(part)
    }
}

fn parse_part(p: &[u8]) -> Result<Part<'_>, MultipartError> {
    let mut headers = Headers::new();
    let mut pos = 0;
    let mut current: Option<(HeaderName, String)> = None;
    loop {
        let Some(nl) = memchr::memchr(b'\n', &p[pos..]).map(|i| pos + i) else {
            return Err(MultipartError::PartHeader("part headers not terminated"));
        };
        let end = if nl > pos && p[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let line = std::str::from_utf8(&p[pos..end])
            .map_err(|_| MultipartError::PartHeader("not UTF-8"))?;
        pos = nl + 1;
        if line.starts_with([' ', '\t']) {
            let Some((_, v)) = current.as_mut() else {
                return Err(MultipartError::PartHeader("continuation without header"));
            };
            // RFC 5322 §2.2.3 unfolding (RFC 2046 §5.1: part headers are RFC 822 fields), as the
            // message parser does (RFC 3261 §7.3.1): a fold becomes one SP between non-empty
            // pieces, so the value stays trimmed, e.g. `Content-Type:` CRLF SP `text/plain`.
            let cont = line.trim();
            if !cont.is_empty() {
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(cont);
            }
            continue;
        }
        if let Some((n, v)) = current.take() {
            headers.push(n, &v);
        }
        if line.is_empty() {
            return Ok(Part {
                headers,
                body: &p[pos..],
            });
        }
        let (n, v) = line
            .split_once(':')
            .ok_or(MultipartError::PartHeader("missing ':'"))?;
        let n = n.trim_end();
        if !crate::grammar::is_token_str(n) {
            return Err(MultipartError::PartHeader("header name is not a token"));
        }
        current = Some((HeaderName::from_name(n), v.trim().to_string()));
    }
}

/// A part to build: header fields and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPart {
    pub headers: Vec<(HeaderName, String)>,
    pub body: Vec<u8>,
}

impl OwnedPart {
    pub fn new(content_type: &str, body: Vec<u8>) -> Self {
        OwnedPart {
            headers: vec![(Hdr::ContentType.into(), content_type.to_string())],
            body,
        }
    }
    pub fn with_header(mut self, name: impl Into<HeaderName>, value: &str) -> Self {
        self.headers.push((name.into(), value.to_string()));
        self
    }
}

/// Picks a boundary that occurs in none of the parts.
pub fn choose_boundary(parts: &[OwnedPart]) -> String {
    let mut n = 1u32;
    loop {
        let b = format!("unique-boundary-{n}");
        let needle = format!("--{b}");
        if parts
            .iter()
            .all(|p| memmem::find(&p.body, needle.as_bytes()).is_none())
        {
            return b;
        }
        n += 1;
    }
}

/// Builds a multipart body; returns the boundary used and the octets.
pub fn build(parts: &[OwnedPart]) -> (String, Vec<u8>) {
    let boundary = choose_boundary(parts);
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.body.len() + 128).sum());
    for p in parts {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in &p.headers {
            out.extend_from_slice(n.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&p.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    (boundary, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_parts_exact() {
        for isup in [
            b"\x01\x00\r\n\x00--\r\n\r\n\x08\x00".to_vec(),
            b"\x01\x00\x00\r\n".to_vec(),
            b"\x01\x00\x00\r".to_vec(),
            Vec::new(),
        ] {
            let parts = vec![
                OwnedPart::new("application/sdp", b"v=0\r\n".to_vec()),
                OwnedPart::new("application/ISUP;version=itu-t92+", isup.clone())
                    .with_header(Hdr::ContentDisposition, "signal;handling=optional"),
            ];
            let (b, body) = build(&parts);
            let got = split(&body, &b).unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].body, b"v=0\r\n");
            assert_eq!(got[1].body, &isup[..]);
            assert_eq!(
                got[1].headers.get(Hdr::ContentDisposition),
                Some("signal;handling=optional")
            );
        }
    }

    #[test]
    fn preamble_padding_epilogue_and_errors() {
        let body = b"preamble\r\n--xyz  \r\nContent-Type: text/plain\r\n\r\nhi\r\n--xyz\r\n\r\nno headers\r\n--xyz--\r\nepilogue";
        let p = split(body, "xyz").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].body, b"hi");
        assert!(p[1].headers.is_empty());
        assert_eq!(p[1].body, b"no headers");
        assert_eq!(
            split(b"--xyz\r\n\r\nabc", "xyz"),
            Err(MultipartError::Unterminated)
        );
        assert_eq!(split(b"abc", "xyz"), Err(MultipartError::NoFirstDelimiter));
        assert_eq!(split(b"abc", ""), Err(MultipartError::BadBoundary));
    }

    #[test]
    fn boundary_avoids_content() {
        let parts = vec![OwnedPart::new(
            "application/octet-stream",
            b"--unique-boundary-1".to_vec(),
        )];
        let (b, body) = build(&parts);
        assert_eq!(b, "unique-boundary-2");
        assert_eq!(split(&body, &b).unwrap()[0].body, b"--unique-boundary-1");
    }
}
