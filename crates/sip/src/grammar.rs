//! RFC 3261 §25.1 basic rules as data: character classes, a small scanner for
//! header values (LWS already unfolded), parameters, quoted strings, lists.

use std::fmt;

const TOKEN: u8 = 1;
const WORD: u8 = 2;
const UNRESERVED: u8 = 4;
const USER: u8 = 8; // user-unreserved (RFC 3261 §25.1)
const PASSWORD: u8 = 16;
const PARAM: u8 = 32; // param-unreserved
const HNV: u8 = 64; // hnv-unreserved
const HOST: u8 = 128;

/// Character class table, indexed by octet.
static CLASS: [u8; 256] = build_classes();

const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mark = matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        let mut v = 0u8;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            v |= TOKEN;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'.'
                    | b'!'
                    | b'%'
                    | b'*'
                    | b'_'
                    | b'+'
                    | b'`'
                    | b'\''
                    | b'~'
                    | b'('
                    | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
        {
            v |= WORD;
        }
        if alnum || mark {
            v |= UNRESERVED;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM;
        }
        if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV;
        }
        if alnum || matches!(b, b'-' | b'.') {
            v |= HOST;
        }
        t[c] = v;
        c += 1;
    }
    t
}

#[inline]
pub fn is_token(b: u8) -> bool {
    CLASS[b as usize] & TOKEN != 0
}
#[inline]
pub fn is_word(b: u8) -> bool {
    CLASS[b as usize] & WORD != 0
}
#[inline]
pub fn is_unreserved(b: u8) -> bool {
    CLASS[b as usize] & UNRESERVED != 0
}
#[inline]
pub fn is_user_char(b: u8) -> bool {
    CLASS[b as usize] & (UNRESERVED | USER) != 0
}
#[inline]
pub fn is_password_char(b: u8) -> bool {
    CLASS[b as usize] & (UNRESERVED | PASSWORD) != 0
}
#[inline]
pub fn is_param_char(b: u8) -> bool {
    CLASS[b as usize] & (UNRESERVED | PARAM) != 0
}
#[inline]
pub fn is_header_char(b: u8) -> bool {
    CLASS[b as usize] & (UNRESERVED | HNV) != 0
}
#[inline]
pub fn is_host_char(b: u8) -> bool {
    CLASS[b as usize] & HOST != 0
}

/// Trims SP and HTAB from both ends.
#[inline]
pub fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut i = 0;
    let mut j = b.len();
    while i < j && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    while j > i && (b[j - 1] == b' ' || b[j - 1] == b'\t') {
        j -= 1;
    }
    // SP/HTAB are ASCII, so i and j are char boundaries.
    s.get(i..j).unwrap_or("")
}

/// `token` (RFC 3261 §25.1): one or more token characters.
pub fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// `word ["@" word]` as used by Call-ID (RFC 3261 §25.1).
pub fn is_callid(s: &str) -> bool {
    // One pass: word octets and at most one '@', which neither starts nor ends the value
    // ('@' is not a word octet).
    let b = s.as_bytes();
    let mut at = None;
    for (i, &c) in b.iter().enumerate() {
        if c == b'@' {
            if at.is_some() {
                return false;
            }
            at = Some(i);
        } else if !is_word(c) {
            return false;
        }
    }
    match at {
        None => !b.is_empty(),
        Some(i) => i > 0 && i + 1 < b.len(),
    }
}

/// Checks `%HH` escapes and that every other octet satisfies `allowed`.
pub fn check_escaped(s: &str, allowed: fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
        } else if allowed(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Decodes `%HH` escapes (RFC 3261 §19.1.4 compares unescaped forms).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Parses `1*DIGIT` into a u64 without overflow.
pub fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    // Leading zeros are legal (RFC 4475 §3.1.1.1 "0009"); up to 19 significant digits, so the
    // value always fits.
    let mut v = 0u64;
    let mut significant = 0;
    for &c in s.as_bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        if v != 0 || c != b'0' {
            significant += 1;
            if significant > 19 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
        }
    }
    Some(v)
}

/// Why a header value failed to parse. Kept allocation-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError(pub &'static str);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for SyntaxError {}

pub type SResult<T> = Result<T, SyntaxError>;

/// Cursor over an unfolded header value.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    pub s: &'a str,
    pub pos: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(s: &'a str) -> Self {
        Scanner { s, pos: 0 }
    }
    #[inline]
    pub fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    /// Skips SP and HTAB (LWS after unfolding).
    #[inline]
    pub fn ws(&mut self) {
        let b = self.s.as_bytes();
        while self.pos < b.len() && (b[self.pos] == b' ' || b[self.pos] == b'\t') {
            self.pos += 1;
        }
    }
    /// `SWS c SWS`.
    pub fn sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.ws();
            true
        } else {
            self.pos = save;
            false
        }
    }
    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    pub fn expect(&mut self, c: u8, what: &'static str) -> SResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(SyntaxError(what))
        }
    }
    /// Takes the longest run of octets satisfying `f`.
    #[inline]
    pub fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        while i < b.len() && f(b[i]) {
            i += 1;
        }
        // The predicates used only stop on ASCII octets, so this is a char boundary;
        // fall back safely if not.
        while !self.s.is_char_boundary(i) {
            i += 1;
        }
        self.pos = i;
        &self.s[start..i]
    }
    pub fn token(&mut self) -> SResult<&'a str> {
        let t = self.take_while(is_token);
        if t.is_empty() {
            Err(SyntaxError("expected token"))
        } else {
            Ok(t)
        }
    }
    /// quoted-string (RFC 3261 §25.1), returned with its quotes, escapes intact.
    pub fn quoted(&mut self) -> SResult<&'a str> {
        let b = self.s.as_bytes();
        let start = self.pos;
        if b.get(self.pos) != Some(&b'"') {
            return Err(SyntaxError("expected quoted-string"));
        }
        let mut i = self.pos + 1;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(&self.s[start..self.pos]);
                }
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                b'\\' => match b.get(i + 1) {
                    Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => i += 2,
                    _ => return Err(SyntaxError("bad quoted-pair")),
                },
                b'\r' | b'\n' => return Err(SyntaxError("line break in quoted-string")),
                _ => i += 1,
            }
        }
        Err(SyntaxError("unterminated quoted-string"))
    }
}

/// Removes the quotes and quoted-pair escapes of a quoted-string.
pub fn unquote(s: &str) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes a string as a quoted-string, escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Generic parameters `*( SEMI generic-param )`, in order, names as received.
/// Values are kept raw (a quoted value keeps its quotes) so they re-serialize as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    pub fn new() -> Self {
        Params(Vec::new())
    }
    /// Case-insensitive lookup (RFC 3261 §7.3.1: parameter names are case-insensitive).
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
    /// Value of a parameter, unquoted.
    pub fn value(&self, name: &str) -> Option<String> {
        self.get(name).flatten().map(|v| {
            if v.starts_with('"') {
                unquote(v)
            } else {
                v.to_string()
            }
        })
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let v = value.map(str::to_string);
        if let Some(e) = self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            e.1 = v;
        } else {
            self.0.push((name.to_string(), v));
        }
    }
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    /// Parses `*( SEMI token [ EQUAL gen-value ] )` starting at the scanner.
    /// Stops before anything that is not `;` (e.g. `,` or end).
    pub fn parse(sc: &mut Scanner<'_>) -> SResult<Params> {
        let mut out = Vec::new();
        Self::scan(sc, |n, v| {
            out.push((n.to_string(), v.map(str::to_string)));
            Ok(())
        })?;
        Ok(Params(out))
    }

    /// Checks `*( SEMI generic-param )` without allocating, handing each
    /// parameter to `f` (which may reject it).
    pub fn scan<'a>(
        sc: &mut Scanner<'a>,
        mut f: impl FnMut(&'a str, Option<&'a str>) -> SResult<()>,
    ) -> SResult<()> {
        while sc.sep(b';') {
            let name = sc
                .token()
                .map_err(|_| SyntaxError("empty or invalid parameter name"))?;
            let value = if sc.sep(b'=') {
                Some(if sc.peek() == Some(b'"') {
                    sc.quoted()?
                } else {
                    // gen-value = token / host / quoted-string
                    let v = sc.take_while(|b| is_token(b) || matches!(b, b':' | b'[' | b']'));
                    if v.is_empty() {
                        return Err(SyntaxError("empty parameter value"));
                    }
                    v
                })
            } else {
                None
            };
            f(name, value)?;
        }
        Ok(())
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

/// Calls `f` for each top-level comma-separated element (outside quotes and
/// `<>`), trimmed of LWS. Empty elements are passed so callers can reject them.
pub fn for_each_element<'a, E>(
    s: &'a str,
    mut f: impl FnMut(&'a str) -> Result<(), E>,
) -> Result<(), E> {
    let b = s.as_bytes();
    if memchr::memchr(b',', b).is_none() {
        return f(trim_lws(s)); // one element: what the loop below ends with
    }
    let mut start = 0;
    let mut i = 0;
    let mut in_q = false;
    let mut in_a = false;
    while i < b.len() {
        match b[i] {
            b'\\' if in_q => i += 1,
            b'"' if !in_a => in_q = !in_q,
            b'<' if !in_q => in_a = true,
            b'>' if !in_q => in_a = false,
            b',' if !in_q && !in_a => {
                f(trim_lws(&s[start..i]))?;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    f(trim_lws(s.get(start..).unwrap_or("")))
}

/// Splits a header value at top-level commas (outside quotes and `<>`),
/// trimming LWS. Empty elements are kept so callers can reject them.
pub fn split_list(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let _ = for_each_element(s, |e| {
        out.push(e);
        Ok::<(), ()>(())
    });
    out
}

/// Checks every element of a comma list, rejecting empty ones; no allocation.
pub fn check_list(s: &str, f: impl Fn(&str) -> SResult<()>) -> SResult<()> {
    for_each_element(s, |e| {
        if e.is_empty() {
            Err(SyntaxError("empty list element"))
        } else {
            f(e)
        }
    })
}

/// Parses a comma list of elements, rejecting empty elements.
pub fn parse_list<T>(s: &str, f: impl Fn(&str) -> SResult<T>) -> SResult<Vec<T>> {
    let mut out = Vec::new();
    for_each_element(s, |e| {
        if e.is_empty() {
            return Err(SyntaxError("empty list element"));
        }
        out.push(f(e)?);
        Ok(())
    })?;
    Ok(out)
}

/// Test inputs: every string of up to `max_len` symbols of `alphabet`, the empty one included.
#[cfg(test)]
pub(crate) fn strings_over(alphabet: &[&str], max_len: usize) -> Vec<String> {
    let mut strings = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max_len {
        let next: Vec<String> = last
            .iter()
            .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
            .collect();
        strings.extend(next.iter().cloned());
        last = next;
    }
    strings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is_token(b'~') && is_token(b'%') && !is_token(b',') && !is_token(b' '));
        assert!(is_word(b'<') && is_word(b'?') && !is_word(b' '));
        assert!(is_callid("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
        assert!(!is_callid("a b"));
        assert!(!is_callid("@x"));
    }

    #[test]
    fn escapes() {
        assert!(check_escaped("a%20b", is_user_char));
        assert!(!check_escaped("a%2", is_user_char));
        assert!(!check_escaped("a%zz", is_user_char));
        assert_eq!(unescape("%75se%72"), b"user");
        assert_eq!(unescape("100%"), b"100%");
        assert_eq!(unescape("%00"), vec![0u8]);
    }

    #[test]
    fn params_and_quotes() {
        let mut sc = Scanner::new(" ; tag = 98asjd8 ;q=0.33;x=\"a\\\"b\"");
        let p = Params::parse(&mut sc).unwrap();
        assert_eq!(p.get("TAG"), Some(Some("98asjd8")));
        assert_eq!(p.value("x").unwrap(), "a\"b");
        assert!(sc.at_end());
        let mut sc = Scanner::new(";;");
        assert!(Params::parse(&mut sc).is_err());
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn lists() {
        assert_eq!(
            split_list("a, \"b,c\" <x,y>, d"),
            vec!["a", "\"b,c\" <x,y>", "d"]
        );
        assert!(parse_list("a,,b", |e| Ok(e.to_string())).is_err());
    }

    /// `is_callid`, `parse_digits` and `for_each_element` read values as the definitions they
    /// replaced did (kept here as the reference), for every string of up to four octets over
    /// an alphabet of the octets that matter, and some longer ones.
    #[test]
    fn one_pass_readers_match_definitions() {
        fn callid_ref(s: &str) -> bool {
            let mut parts = s.splitn(2, '@');
            let w = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(is_word));
            let first = parts.next();
            match parts.next() {
                None => w(first),
                some => w(first) && w(some),
            }
        }
        fn digits_ref(s: &str) -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let t = s.trim_start_matches('0');
            if t.is_empty() {
                return Some(0);
            }
            if t.len() > 19 {
                return None;
            }
            t.parse().ok()
        }
        fn elements(s: &str) -> Vec<&str> {
            let mut v = Vec::new();
            let _ = for_each_element(s, |e| {
                v.push(e);
                Ok::<_, ()>(())
            });
            v
        }
        let alphabet = [
            "0", "1", "9", "@", "a", " ", "\t", ",", "\"", "<", ">", "\\", "é",
        ];
        let mut strings = strings_over(&alphabet, 4);
        strings.extend(
            [
                "9999999999999999999",
                "18446744073709551615",
                "18446744073709551616",
                "00000000000000000000000000001",
                "a84b4c76e66710@pc33.atlanta.example.com",
            ]
            .map(String::from),
        );
        for s in &strings {
            assert_eq!(is_callid(s), callid_ref(s), "{s:?}");
            assert_eq!(parse_digits(s), digits_ref(s), "{s:?}");
            if !s.contains(',') {
                assert_eq!(elements(s), vec![trim_lws(s)], "{s:?}");
            }
        }
    }

    #[test]
    fn digits() {
        assert_eq!(parse_digits("0009"), Some(9));
        assert_eq!(parse_digits("-1"), None);
        assert_eq!(parse_digits(""), None);
        assert_eq!(parse_digits("36893488147419103232"), None);
        assert_eq!(parse_digits("0000000000000000000000042"), Some(42));
    }
}
