//! Header-name table (RFC 3261 §7.3.3 compact forms, §20). Adding a header
//! means adding one `Hdr` variant and one `HEADERS` row; see docs/sip.md.

use super::validate::{self, Validator};
use std::fmt;

macro_rules! headers {
    ($( $var:ident => $name:literal, $compact:expr, $single:expr, $check:expr; )*) => {
        /// Known header fields. Unknown ones are carried as `HeaderName::Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Hdr { $( $var, )* }

        /// One row per known header: canonical name, compact form, whether it may
        /// appear only once (RFC 3261 §7.3.1), and its syntax check run at parse time.
        pub static HEADERS: &[HeaderDef] = &[
            $( HeaderDef { hdr: Hdr::$var, name: $name, compact: $compact, single: $single, check: $check }, )*
        ];
        const NAMES: &[&str] = &[ $( $name, )* ];
        const COMPACTS: &[Option<u8>] = &[ $( $compact, )* ];
    };
}

#[derive(Debug)]
pub struct HeaderDef {
    pub hdr: Hdr,
    pub name: &'static str,
    pub compact: Option<u8>,
    pub single: bool,
    pub check: Option<Validator>,
}

headers! {
    Via => "Via", Some(b'v'), false, Some(validate::via);
    From => "From", Some(b'f'), true, Some(validate::from_to);
    To => "To", Some(b't'), true, Some(validate::from_to);
    CallId => "Call-ID", Some(b'i'), true, Some(validate::call_id);
    CSeq => "CSeq", None, true, Some(validate::cseq);
    MaxForwards => "Max-Forwards", None, true, Some(validate::max_forwards);
    Contact => "Contact", Some(b'm'), false, Some(validate::contact);
    ContentLength => "Content-Length", Some(b'l'), true, Some(validate::content_length);
    ContentType => "Content-Type", Some(b'c'), true, Some(validate::content_type);
    ContentEncoding => "Content-Encoding", Some(b'e'), false, None;
    ContentDisposition => "Content-Disposition", None, true, None;
    ContentLanguage => "Content-Language", None, false, None;
    ContentTransferEncoding => "Content-Transfer-Encoding", None, true, None;
    MimeVersion => "MIME-Version", None, true, None;
    Subject => "Subject", Some(b's'), true, None;
    Supported => "Supported", Some(b'k'), false, None;
    Require => "Require", None, false, None;
    ProxyRequire => "Proxy-Require", None, false, None;
    Unsupported => "Unsupported", None, false, None;
    Route => "Route", None, false, Some(validate::route);
    RecordRoute => "Record-Route", None, false, Some(validate::route);
    RSeq => "RSeq", None, true, None;
    RAck => "RAck", None, true, None;
    Reason => "Reason", None, false, None;
    PAssertedIdentity => "P-Asserted-Identity", None, false, None;
    PPreferredIdentity => "P-Preferred-Identity", None, false, None;
    Privacy => "Privacy", None, false, None;
    Allow => "Allow", None, false, None;
    Accept => "Accept", None, false, None;
    AcceptEncoding => "Accept-Encoding", None, false, None;
    AcceptLanguage => "Accept-Language", None, false, None;
    RetryAfter => "Retry-After", None, true, None;
    Expires => "Expires", None, true, None;
    MinExpires => "Min-Expires", None, true, None;
    Date => "Date", None, true, Some(validate::date);
    Warning => "Warning", None, false, None;
    UserAgent => "User-Agent", None, true, None;
    Server => "Server", None, true, None;
    Timestamp => "Timestamp", None, true, None;
    Organization => "Organization", None, true, None;
    Priority => "Priority", None, true, None;
    Authorization => "Authorization", None, false, None;
    ProxyAuthorization => "Proxy-Authorization", None, false, None;
    WwwAuthenticate => "WWW-Authenticate", None, false, None;
    ProxyAuthenticate => "Proxy-Authenticate", None, false, None;
    AuthenticationInfo => "Authentication-Info", None, true, None;
    AlertInfo => "Alert-Info", None, false, None;
    CallInfo => "Call-Info", None, false, None;
    ErrorInfo => "Error-Info", None, false, None;
    InReplyTo => "In-Reply-To", None, false, None;
    ReplyTo => "Reply-To", None, true, None;
    Event => "Event", Some(b'o'), true, None;
    AllowEvents => "Allow-Events", Some(b'u'), false, None;
    SubscriptionState => "Subscription-State", None, true, None;
    ReferTo => "Refer-To", Some(b'r'), true, None;
    ReferredBy => "Referred-By", Some(b'b'), true, None;
    SessionExpires => "Session-Expires", Some(b'x'), true, None;
    MinSE => "Min-SE", None, true, None;
    Path => "Path", None, false, None;
    ServiceRoute => "Service-Route", None, false, None;
    Identity => "Identity", Some(b'y'), true, None;
}

impl Hdr {
    #[inline]
    pub fn def(self) -> &'static HeaderDef {
        &HEADERS[self as usize]
    }
    #[inline]
    pub fn as_str(self) -> &'static str {
        self.def().name
    }

    /// Case-insensitive lookup of a long or compact name (RFC 3261 §7.3.1, §7.3.3).
    #[inline]
    pub fn lookup(name: &[u8]) -> Option<Hdr> {
        Self::lookup_spelled(name).map(|(h, _)| h)
    }

    /// [`Hdr::lookup`], and whether `name` is spelled exactly as the canonical long name (so a
    /// received line can be written back as it is).
    #[inline]
    pub(crate) fn lookup_spelled(name: &[u8]) -> Option<(Hdr, bool)> {
        let len = name.len();
        if len < 2 {
            let slot = COMPACT_INDEX[(*name.first()? & 0x7f) as usize];
            return (slot != NONE).then(|| (HEADERS[slot as usize].hdr, false));
        }
        if len > MAX_NAME {
            return None;
        }
        // Compare word by word: setting bit 0x20 of every octet folds letters, and no other
        // octet of a header line folds onto a letter or `-` (CR, the only octet that folds onto
        // `-`, ends lines); this is exactly the octet-wise rule `(x | 0x20) == (y | 0x20)`.
        let w = words(name);
        for &c in &NAME_INDEX[bucket(len, name[0])] {
            if c == NONE {
                break;
            }
            let t = &WORDS[c as usize];
            let folded = (0..4).fold(0, |d, k| d | ((w[k] | FOLD) ^ t.folded[k]));
            if t.len as usize == len && folded == 0 {
                let exact = (0..4).fold(0, |d, k| d | (w[k] ^ t.exact[k])) == 0;
                return Some((HEADERS[c as usize].hdr, exact));
            }
        }
        None
    }
}

const FOLD: u64 = 0x2020_2020_2020_2020;
/// The longest name in the table, rounded up: the words of a name cover at most 32 octets.
const MAX_NAME: usize = 32;

/// Where the four little-endian words of a name of `len` (2..=32) octets start, and their size:
/// for 8 octets or more, 8-octet words at 0, 8 and 16 (or where the last one ends at the last
/// octet, if that is earlier) and one ending at the last octet; for 4–7 octets, 4-octet words
/// at 0 and ending at the last octet; for 2–3, 2-octet words likewise. Unused words are 0.
/// Together they cover every octet, so two names of one length are equal (folded) iff their
/// words are.
const fn word_layout(len: usize) -> ([usize; 4], usize, usize) {
    if len >= 8 {
        let last = len - 8;
        let w1 = if 8 < last { 8 } else { last };
        let w2 = if 16 < last { 16 } else { last };
        ([0, w1, w2, last], 8, 4)
    } else if len >= 4 {
        ([0, len - 4, 0, 0], 4, 2)
    } else {
        ([0, len - 2, 0, 0], 2, 2)
    }
}

#[inline]
fn words(name: &[u8]) -> [u64; 4] {
    let len = name.len();
    let rd8 = |o: usize| u64::from_le_bytes(name[o..o + 8].try_into().unwrap_or([0; 8]));
    let rd4 = |o: usize| {
        u64::from(u32::from_le_bytes(
            name[o..o + 4].try_into().unwrap_or([0; 4]),
        ))
    };
    let rd2 = |o: usize| {
        u64::from(u16::from_le_bytes(
            name[o..o + 2].try_into().unwrap_or([0; 2]),
        ))
    };
    if len >= 8 {
        let last = len - 8;
        [rd8(0), rd8(8.min(last)), rd8(16.min(last)), rd8(last)]
    } else if len >= 4 {
        [rd4(0), rd4(len - 4), 0, 0]
    } else {
        [rd2(0), rd2(len - 2), 0, 0]
    }
}

/// A long name as words (see [`word_layout`]), exact and folded.
struct Words {
    len: u8,
    exact: [u64; 4],
    folded: [u64; 4],
}

static WORDS: [Words; NAMES.len()] = {
    let mut t = [const {
        Words {
            len: 0,
            exact: [0; 4],
            folded: [0; 4],
        }
    }; NAMES.len()];
    let mut i = 0;
    while i < NAMES.len() {
        let n = NAMES[i].as_bytes();
        assert!(n.len() >= 2 && n.len() <= MAX_NAME, "header name length");
        t[i].len = n.len() as u8;
        let (at, size, used) = word_layout(n.len());
        let mut k = 0;
        while k < 4 {
            let mut v = 0u64;
            let mut j = 0;
            while k < used && j < size {
                v |= (n[at[k] + j] as u64) << (8 * j);
                j += 1;
            }
            t[i].exact[k] = v;
            t[i].folded[k] = v | FOLD;
            k += 1;
        }
        i += 1;
    }
    t
};

const NONE: u8 = u8::MAX;
const BUCKETS: usize = 1024;
const SLOTS: usize = 4;

#[inline]
const fn bucket(len: usize, first: u8) -> usize {
    ((len & 31) << 5) | (first.to_ascii_lowercase() as usize & 31)
}

/// Long names by (length, first letter): built at compile time from the table.
static NAME_INDEX: [[u8; SLOTS]; BUCKETS] = {
    let mut idx = [[NONE; SLOTS]; BUCKETS];
    let mut i = 0;
    while i < NAMES.len() {
        let n = NAMES[i].as_bytes();
        let b = bucket(n.len(), n[0]);
        let mut j = 0;
        while idx[b][j] != NONE {
            j += 1;
            assert!(j < SLOTS, "header index bucket overflow");
        }
        idx[b][j] = i as u8;
        i += 1;
    }
    idx
};

/// Compact forms, by lower-case letter.
static COMPACT_INDEX: [u8; 128] = {
    let mut idx = [NONE; 128];
    let mut i = 0;
    while i < COMPACTS.len() {
        if let Some(c) = COMPACTS[i] {
            idx[c as usize] = i as u8;
            idx[c.to_ascii_uppercase() as usize] = i as u8;
        }
        i += 1;
    }
    idx
};

impl fmt::Display for Hdr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header field name: known (serialized in canonical long form) or other
/// (serialized exactly as received).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HeaderName {
    Known(Hdr),
    Other(Box<str>),
}

impl HeaderName {
    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Known(h) => h.as_str(),
            HeaderName::Other(s) => s,
        }
    }
    pub fn from_name(s: &str) -> HeaderName {
        match Hdr::lookup(s.as_bytes()) {
            Some(h) => HeaderName::Known(h),
            None => HeaderName::Other(s.into()),
        }
    }
    /// Case-insensitive match against a name in long or compact form.
    pub fn matches(&self, name: &str) -> bool {
        match (self, Hdr::lookup(name.as_bytes())) {
            (HeaderName::Known(h), Some(o)) => *h == o,
            (HeaderName::Other(s), None) => s.eq_ignore_ascii_case(name),
            _ => false,
        }
    }
}

impl From<Hdr> for HeaderName {
    fn from(h: Hdr) -> Self {
        HeaderName::Known(h)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup as it was defined before the word-wise comparison, kept as the reference.
    fn lookup_reference(name: &[u8]) -> Option<Hdr> {
        let first = *name.first()?;
        if name.len() == 1 {
            let slot = COMPACT_INDEX[(first & 0x7f) as usize];
            return (slot != NONE).then(|| HEADERS[slot as usize].hdr);
        }
        NAME_INDEX[bucket(name.len(), first)]
            .iter()
            .take_while(|&&c| c != NONE)
            .find(|&&c| eq_fold(HEADERS[c as usize].name.as_bytes(), name))
            .map(|&c| HEADERS[c as usize].hdr)
    }

    /// Case-insensitive equality of a table name (letters and `-` only) with a candidate of the
    /// same length, eight octets at a time: setting bit 0x20 folds letters, and no other octet of a
    /// header line folds onto a letter or `-` (CR, the only octet that folds onto `-`, ends lines).
    fn eq_fold(table: &[u8], name: &[u8]) -> bool {
        if table.len() != name.len() {
            return false;
        }
        const FOLD: u64 = 0x2020_2020_2020_2020;
        let mut a = table.chunks_exact(8);
        let mut b = name.chunks_exact(8);
        for (x, y) in (&mut a).zip(&mut b) {
            let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
            let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
            if (x | FOLD) != (y | FOLD) {
                return false;
            }
        }
        a.remainder()
            .iter()
            .zip(b.remainder())
            .all(|(x, y)| (x | 0x20) == (y | 0x20))
    }

    /// `lookup_spelled` agrees with the reference for every table name in three spellings and
    /// with each octet replaced by every other octet, or one octet removed or added; `exact`
    /// only for the canonical spelling.
    #[test]
    fn lookup_agrees_with_reference() {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for d in HEADERS {
            let n = d.name.as_bytes();
            names.push(n.to_vec());
            names.push(n.to_ascii_lowercase());
            names.push(n.to_ascii_uppercase());
            let long: Vec<u8> = n.iter().chain(n).chain(n).copied().collect();
            names.push(long);
        }
        for n in &names {
            for i in 0..=n.len() {
                for c in 0..=255u8 {
                    let mut v = n.clone();
                    if i < n.len() {
                        v[i] = c;
                    } else {
                        v.push(c);
                    }
                    let got = Hdr::lookup_spelled(&v);
                    assert_eq!(got.map(|(h, _)| h), lookup_reference(&v), "{v:?}");
                    if let Some((h, exact)) = got {
                        assert_eq!(exact, h.as_str().as_bytes() == v, "{v:?}");
                    }
                }
                if i < n.len() {
                    let mut v = n.clone();
                    v.remove(i);
                    assert_eq!(Hdr::lookup(&v), lookup_reference(&v), "{v:?}");
                }
            }
        }
        for d in HEADERS {
            assert_eq!(Hdr::lookup_spelled(d.name.as_bytes()), Some((d.hdr, true)));
        }
        assert_eq!(Hdr::lookup_spelled(b"v"), Some((Hdr::Via, false)));
    }

    #[test]
    fn table_is_indexed_by_variant() {
        for (i, d) in HEADERS.iter().enumerate() {
            assert_eq!(d.hdr as usize, i, "{}", d.name);
        }
    }

    #[test]
    fn compact_forms() {
        for (c, h) in [
            ("i", Hdr::CallId),
            ("f", Hdr::From),
            ("t", Hdr::To),
            ("v", Hdr::Via),
            ("m", Hdr::Contact),
            ("l", Hdr::ContentLength),
            ("c", Hdr::ContentType),
            ("k", Hdr::Supported),
            ("s", Hdr::Subject),
            ("e", Hdr::ContentEncoding),
            ("o", Hdr::Event),
            ("r", Hdr::ReferTo),
            ("b", Hdr::ReferredBy),
            ("u", Hdr::AllowEvents),
        ] {
            assert_eq!(Hdr::lookup(c.as_bytes()), Some(h));
            assert_eq!(Hdr::lookup(c.to_uppercase().as_bytes()), Some(h));
        }
        assert_eq!(Hdr::lookup(b"MaX-fOrWaRdS"), Some(Hdr::MaxForwards));
        assert_eq!(Hdr::lookup(b"C%6Fntact"), None);
        assert_eq!(Hdr::lookup(b""), None);
        assert_eq!(Hdr::lookup(b"\xff"), None);
        for d in HEADERS {
            assert_eq!(
                Hdr::lookup(d.name.to_uppercase().as_bytes()),
                Some(d.hdr),
                "{}",
                d.name
            );
        }
        assert!(HeaderName::from_name("l").matches("content-length"));
    }
}
