//! Header fields: an ordered list of (name, unfolded value) kept in one
//! buffer, with typed accessors on top. Unknown headers round-trip verbatim.

pub mod name;
pub mod typed;
pub mod validate;

pub use name::{HEADERS, Hdr, HeaderDef, HeaderName};
pub use typed::*;

use crate::grammar::{SyntaxError, split_list};
use crate::mediatype::MediaType;
use crate::method::Method;
use std::fmt;

/// Why a typed header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("invalid {name} header: {reason}")]
    Invalid {
        name: &'static str,
        reason: SyntaxError,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    name: HeaderName,
    start: u32,
    end: u32,
    /// `buf[start - name.len() - 2 .. end + 2]` is exactly the line this field serializes to,
    /// `Name: value\r\n`. Set only by the parser, for a line received in that form (canonical
    /// name, one SP after the colon, nothing to trim, CRLF), so serialization can copy runs of
    /// such lines at once. Every change of the field's value clears it.
    raw: bool,
}

/// Header fields in message order. Values live in one shared buffer.
#[derive(Clone, Default)]
pub struct Headers {
    buf: String,
    entries: Vec<Entry>,
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(entries: usize, bytes: usize) -> Self {
        Headers {
            buf: String::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn store(&mut self, value: &str) -> (u32, u32) {
        let start = self.buf.len() as u32;
        self.buf.push_str(value);
        (start, self.buf.len() as u32)
    }

    #[inline]
    fn val(&self, e: &Entry) -> &str {
        &self.buf[e.start as usize..e.end as usize]
    }

    /// Appends a header field.
    pub fn push(&mut self, name: impl Into<HeaderName>, value: &str) {
        let (start, end) = self.store(value);
        self.entries.push(Entry {
            name: name.into(),
            start,
            end,
            raw: false,
        });
    }

    /// Headers whose values will be pushed as ranges of `section` (the received header
    /// section, see [`Headers::push_range`]).
    pub(crate) fn from_section(section: &str, entries: usize) -> Self {
        Headers {
            buf: section.to_owned(),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Appends a field whose value is `buf[start..end]` (the section given to
    /// [`Headers::from_section`]). `raw`: the section holds the field's line exactly as
    /// [`Headers::write_to`] would write it (see [`Entry::raw`]). The caller guarantees both.
    #[inline]
    pub(crate) fn push_range(&mut self, name: HeaderName, start: usize, end: usize, raw: bool) {
        debug_assert!(self.buf.get(start..end).is_some());
        debug_assert!(
            !raw || {
                let n = name.as_str().len();
                let line = format!("{}: {}\r\n", name.as_str(), &self.buf[start..end]);
                self.buf.get(start - n - 2..end + 2) == Some(line.as_str())
            }
        );
        self.entries.push(Entry {
            name,
            start: start as u32,
            end: end as u32,
            raw,
        });
    }

    /// Writes every field as `Name: value CRLF`, in order, with Content-Length always saying
    /// `body_len` (the first one replaced in place, later ones dropped, appended at the end if
    /// absent). Consecutive fields still as received are copied as one run of octets.
    pub(crate) fn write_to(&self, body_len: usize, out: &mut Vec<u8>) {
        let mut digits = [0u8; 20];
        let cl = decimal(body_len, &mut digits);
        let buf = self.buf.as_bytes();
        // pending run of received lines, buf[run.0..run.1]
        let mut run = (0usize, 0usize);
        let mut wrote_cl = false;
        for e in &self.entries {
            let (start, end) = (e.start as usize, e.end as usize);
            let is_cl = matches!(e.name, HeaderName::Known(Hdr::ContentLength));
            if is_cl && wrote_cl {
                continue;
            }
            wrote_cl |= is_cl;
            if e.raw && (!is_cl || &buf[start..end] == cl) {
                let line_start = start - e.name.as_str().len() - 2;
                if line_start != run.1 {
                    out.extend_from_slice(&buf[run.0..run.1]);
                    run.0 = line_start;
                }
                run.1 = end + 2;
                continue;
            }
            out.extend_from_slice(&buf[run.0..run.1]);
            run = (0, 0);
            if is_cl {
                write_content_length(out, cl);
                continue;
            }
            out.extend_from_slice(e.name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&buf[start..end]);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(&buf[run.0..run.1]);
        if !wrote_cl {
            write_content_length(out, cl);
        }
    }

    /// Inserts a header field before all others of the same name (or at the
    /// top). Used to prepend Via (RFC 3261 §8.1.1.7) and Record-Route.
    pub fn push_front(&mut self, name: impl Into<HeaderName>, value: &str) {
        let name = name.into();
        let at = self
            .entries
            .iter()
            .position(|e| e.name == name)
            .unwrap_or(0);
        let (start, end) = self.store(value);
        self.entries.insert(
            at,
            Entry {
                name,
                start,
                end,
                raw: false,
            },
        );
    }

    /// Replaces every field of that name with one value, kept at the first
    /// field's position.
    pub fn set(&mut self, name: impl Into<HeaderName>, value: &str) {
        let name = name.into();
        let (start, end) = self.store(value);
        match self.entries.iter().position(|e| e.name == name) {
            Some(i) => {
                self.entries[i].start = start;
                self.entries[i].end = end;
                self.entries[i].raw = false;
                let mut n = 0;
                self.entries.retain(|e| {
                    n += 1;
                    n - 1 == i || e.name != name
                });
            }
            None => self.entries.push(Entry {
                name,
                start,
                end,
                raw: false,
            }),
        }
    }

    /// Replaces the value of the first field of that name, in place.
    pub fn replace_first(&mut self, name: impl Into<HeaderName>, value: &str) -> bool {
        let name = name.into();
        let Some(i) = self.entries.iter().position(|e| e.name == name) else {
            return false;
        };
        let (start, end) = self.store(value);
        self.entries[i].start = start;
        self.entries[i].end = end;
        self.entries[i].raw = false;
        true
    }

    /// Removes all fields of that name; returns how many were removed.
    pub fn remove(&mut self, name: impl Into<HeaderName>) -> usize {
        let name = name.into();
        let before = self.entries.len();
        self.entries.retain(|e| e.name != name);
        before - self.entries.len()
    }

    /// Removes the first field of that name and returns its value.
    pub fn remove_first(&mut self, name: impl Into<HeaderName>) -> Option<String> {
        let name = name.into();
        let i = self.entries.iter().position(|e| e.name == name)?;
        let e = self.entries.remove(i);
        Some(self.val(&e).to_string())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &str)> {
        self.entries.iter().map(|e| (&e.name, self.val(e)))
    }

    /// First value of a known header.
    pub fn get(&self, h: Hdr) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.name == HeaderName::Known(h))
            .map(|e| self.val(e))
    }

    /// All field values of a known header, in order.
    pub fn get_all(&self, h: Hdr) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(move |e| e.name == HeaderName::Known(h))
            .map(|e| self.val(e))
    }

    /// Values by name (long, compact or unknown), case-insensitive.
    pub fn get_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let n = HeaderName::from_name(name);
        self.entries
            .iter()
            .filter(move |e| match (&e.name, &n) {
                (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
                (a, b) => a == b,
            })
            .map(|e| self.val(e))
    }

    pub fn count(&self, h: Hdr) -> usize {
        self.get_all(h).count()
    }

    pub fn contains(&self, h: Hdr) -> bool {
        self.get(h).is_some()
    }

    /// All comma-separated elements across every field of a list header
    /// (RFC 3261 §7.3.1: multiple lines equal one comma list).
    pub fn list(&self, h: Hdr) -> Vec<&str> {
        self.get_all(h)
            .flat_map(split_list)
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn typed<T>(
        &self,
        h: Hdr,
        f: impl Fn(&str) -> Result<T, SyntaxError>,
    ) -> Result<T, HeaderError> {
        let v = self.get(h).ok_or(HeaderError::Missing(h.as_str()))?;
        f(v).map_err(|reason| HeaderError::Invalid {
            name: h.as_str(),
            reason,
        })
    }

    fn typed_opt<T>(
        &self,
        h: Hdr,
        f: impl Fn(&str) -> Result<T, SyntaxError>,
    ) -> Result<Option<T>, HeaderError> {
        match self.get(h) {
            None => Ok(None),
            Some(v) => f(v).map(Some).map_err(|reason| HeaderError::Invalid {
                name: h.as_str(),
                reason,
            }),
        }
    }

    fn typed_all<T>(
        &self,
        h: Hdr,
        f: impl Fn(&str) -> Result<Vec<T>, SyntaxError>,
    ) -> Result<Vec<T>, HeaderError> {
        let mut out = Vec::new();
        for v in self.get_all(h) {
            out.extend(f(v).map_err(|reason| HeaderError::Invalid {
                name: h.as_str(),
                reason,
            })?);
        }
        Ok(out)
    }

    /// Every Via value, top first.
    pub fn via(&self) -> Result<Vec<Via>, HeaderError> {
        self.typed_all(Hdr::Via, Via::parse_list)
    }
    /// The topmost Via (RFC 3261 §17.1.3 / §17.2.3 transaction matching).
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        let v = self.get(Hdr::Via).ok_or(HeaderError::Missing("Via"))?;
        let first = split_list(v).into_iter().next().unwrap_or("");
        Via::parse(first).map_err(|reason| HeaderError::Invalid {
            name: "Via",
            reason,
        })
    }
    pub fn from(&self) -> Result<NameAddr, HeaderError> {
        self.typed(Hdr::From, NameAddr::parse)
    }
    pub fn to(&self) -> Result<NameAddr, HeaderError> {
        self.typed(Hdr::To, NameAddr::parse)
    }
    pub fn call_id(&self) -> Result<&str, HeaderError> {
        let v = self
            .get(Hdr::CallId)
            .ok_or(HeaderError::Missing("Call-ID"))?;
        parse_call_id(v).map_err(|reason| HeaderError::Invalid {
            name: "Call-ID",
            reason,
        })
    }
    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        self.typed(Hdr::CSeq, CSeq::parse)
    }
    pub fn max_forwards(&self) -> Result<Option<u8>, HeaderError> {
        self.typed_opt(Hdr::MaxForwards, parse_max_forwards)
    }
    pub fn content_length(&self) -> Result<Option<usize>, HeaderError> {
        self.typed_opt(Hdr::ContentLength, parse_content_length)
    }
    pub fn contact(&self) -> Result<Vec<Contact>, HeaderError> {
        self.typed_all(Hdr::Contact, Contact::parse_list)
    }
    pub fn route(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.typed_all(Hdr::Route, NameAddr::parse_list)
    }
    pub fn record_route(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.typed_all(Hdr::RecordRoute, NameAddr::parse_list)
    }
    pub fn content_type(&self) -> Result<Option<MediaType>, HeaderError> {
        self.typed_opt(Hdr::ContentType, MediaType::parse)
    }
    pub fn content_disposition(&self) -> Result<Option<ContentDisposition>, HeaderError> {
        self.typed_opt(Hdr::ContentDisposition, ContentDisposition::parse)
    }
    pub fn require(&self) -> Result<Vec<String>, HeaderError> {
        self.typed_all(Hdr::Require, parse_option_tags)
    }
    pub fn supported(&self) -> Result<Vec<String>, HeaderError> {
        self.typed_all(Hdr::Supported, parse_option_tags)
    }
    pub fn unsupported(&self) -> Result<Vec<String>, HeaderError> {
        self.typed_all(Hdr::Unsupported, parse_option_tags)
    }
    pub fn proxy_require(&self) -> Result<Vec<String>, HeaderError> {
        self.typed_all(Hdr::ProxyRequire, parse_option_tags)
    }
    /// True if the option tag is in Require or Supported.
    pub fn has_option(&self, h: Hdr, tag: &str) -> bool {
        self.list(h).iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
    pub fn rseq(&self) -> Result<Option<u32>, HeaderError> {
        self.typed_opt(Hdr::RSeq, parse_rseq)
    }
    pub fn rack(&self) -> Result<Option<RAck>, HeaderError> {
        self.typed_opt(Hdr::RAck, RAck::parse)
    }
    pub fn reason(&self) -> Result<Vec<Reason>, HeaderError> {
        self.typed_all(Hdr::Reason, Reason::parse_list)
    }
    /// The Q.850 cause from Reason (RFC 3326), if any.
    pub fn q850_cause(&self) -> Option<u16> {
        self.reason()
            .ok()?
            .iter()
            .find(|r| r.is_q850())
            .and_then(Reason::cause)
    }
    pub fn p_asserted_identity(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.typed_all(Hdr::PAssertedIdentity, NameAddr::parse_list)
    }
    pub fn privacy(&self) -> Result<Vec<String>, HeaderError> {
        self.typed_all(Hdr::Privacy, parse_privacy)
    }
    pub fn allow(&self) -> Result<Vec<Method>, HeaderError> {
        self.typed_all(Hdr::Allow, parse_allow)
    }
    pub fn accept(&self) -> Result<Vec<MediaType>, HeaderError> {
        self.typed_all(Hdr::Accept, parse_accept)
    }
    pub fn retry_after(&self) -> Result<Option<RetryAfter>, HeaderError> {
        self.typed_opt(Hdr::RetryAfter, RetryAfter::parse)
    }
    pub fn expires(&self) -> Result<Option<u32>, HeaderError> {
        self.typed_opt(Hdr::Expires, parse_delta_seconds)
    }
    pub fn warning(&self) -> Result<Vec<Warning>, HeaderError> {
        self.typed_all(Hdr::Warning, |v| {
            crate::grammar::parse_list(v, Warning::parse)
        })
    }
}

/// `n` in decimal, in the tail of `tmp`.
fn decimal(mut n: usize, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &tmp[i..]
}

fn write_content_length(out: &mut Vec<u8>, digits: &[u8]) {
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(digits);
    out.extend_from_slice(b"\r\n");
}

impl PartialEq for Headers {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.iter().zip(o.iter()).all(|(a, b)| a == b)
    }
}
impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| format!("{n}: {v}")))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ops() {
        let mut h = Headers::new();
        h.push(Hdr::Via, "SIP/2.0/UDP a;branch=z9hG4bK1");
        h.push(HeaderName::Other("X-Foo".into()), "1");
        h.push(Hdr::Via, "SIP/2.0/UDP b;branch=z9hG4bK2");
        h.push_front(Hdr::Via, "SIP/2.0/UDP c;branch=z9hG4bK3");
        assert_eq!(h.via().unwrap().len(), 3);
        assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bK3"));
        assert_eq!(
            h.remove_first(Hdr::Via).unwrap(),
            "SIP/2.0/UDP c;branch=z9hG4bK3"
        );
        h.set(Hdr::Via, "SIP/2.0/TCP d;branch=z9hG4bK4");
        assert_eq!(h.count(Hdr::Via), 1);
        assert_eq!(h.iter().next().unwrap().1, "SIP/2.0/TCP d;branch=z9hG4bK4");
        assert_eq!(h.get_named("x-foo").next(), Some("1"));
        assert_eq!(h.from(), Err(HeaderError::Missing("From")));
        h.push(Hdr::Supported, "100rel");
        h.push(Hdr::Supported, "timer, path");
        assert_eq!(h.supported().unwrap(), vec!["100rel", "timer", "path"]);
        assert!(h.has_option(Hdr::Supported, "TIMER"));
        h.push(Hdr::Reason, "SIP;cause=200, Q.850;cause=16");
        assert_eq!(h.q850_cause(), Some(16));
    }
}
