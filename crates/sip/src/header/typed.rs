//! Typed header values: `parse(&str)` from an unfolded value and `Display`
//! to emit. RFC 3261 §20 unless noted.

use crate::grammar::{
    Params, SResult, Scanner, SyntaxError, check_list, is_callid, is_token, is_token_str,
    parse_digits, parse_list, quote, unquote,
};
use crate::mediatype::MediaType;
use crate::method::Method;
use crate::uri::{Host, Uri, split_hostport};
use std::fmt;

/// RFC 3261 §8.1.1.7: branch IDs of RFC 3261 elements start with this.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A Via header field value (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, `TLS`, `SCTP` or any other token.
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Via {
        let mut params = Params::new();
        params.set("branch", Some(branch));
        Via {
            transport: transport.into(),
            host,
            port,
            params,
        }
    }

    pub fn parse(s: &str) -> SResult<Via> {
        let mut params = Vec::new();
        let (transport, host, port) = Self::scan(s, |n, v| {
            params.push((n.to_string(), v.map(str::to_string)));
            Ok(())
        })?;
        let host = Host::parse(host).map_err(|_| SyntaxError("bad sent-by host"))?;
        Ok(Via {
            transport: transport.to_string(),
            host,
            port,
            params: Params(params),
        })
    }

    /// Checks one via-parm without allocating; returns transport, host, port
    /// and hands parameters to `f`.
    fn scan<'a>(
        s: &'a str,
        mut f: impl FnMut(&'a str, Option<&'a str>) -> SResult<()>,
    ) -> SResult<(&'a str, &'a str, Option<u16>)> {
        let mut sc = Scanner::new(s);
        sc.ws();
        let name = sc.token()?;
        if !sc.sep(b'/') {
            return Err(SyntaxError("missing '/' in sent-protocol"));
        }
        let version = sc.token()?;
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(SyntaxError("unsupported protocol version"));
        }
        if !sc.sep(b'/') {
            return Err(SyntaxError("missing '/' before transport"));
        }
        let transport = sc.token()?;
        sc.ws();
        // sent-by = host [ COLON port ]; COLON allows SWS
        let hstart = sc.pos;
        if sc.peek() == Some(b'[') {
            sc.take_while(|b| b != b']');
            sc.expect(b']', "unterminated IPv6 reference")?;
        } else {
            sc.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        }
        let host = &s[hstart..sc.pos];
        let port = if sc.sep(b':') {
            let p = sc.take_while(|b| b.is_ascii_digit());
            Some(p.parse::<u16>().map_err(|_| SyntaxError("bad port"))?)
        } else {
            None
        };
        Host::check_valid(host).map_err(|_| SyntaxError("bad sent-by host"))?;
        Params::scan(&mut sc, |n, v| {
            if n.eq_ignore_ascii_case("rport") {
                if let Some(r) = v {
                    r.parse::<u16>().map_err(|_| SyntaxError("bad rport"))?;
                }
            } else if n.eq_ignore_ascii_case("received")
                && v.is_none_or(|r| r.parse::<std::net::IpAddr>().is_err())
            {
                return Err(SyntaxError("bad received"));
            }
            f(n, v)
        })?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk after parameters"));
        }
        Ok((transport, host, port))
    }

    /// Checks a Via header value (a list) without allocating.
    pub fn validate_list(s: &str) -> SResult<()> {
        check_list(s, |e| Self::scan(e, |_, _| Ok(())).map(drop))
    }

    pub fn parse_list(s: &str) -> SResult<Vec<Via>> {
        parse_list(s, Via::parse)
    }

    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }
    /// RFC 3261 §17.2.3: the branch starts with the magic cookie.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }
    pub fn received(&self) -> Option<&str> {
        self.params.get("received").flatten()
    }
    /// RFC 3581: `None` absent, `Some(None)` requested, `Some(Some(p))` filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }
    pub fn maddr(&self) -> Option<&str> {
        self.params.get("maddr").flatten()
    }
    /// `sent-by` as `host[:port]`.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// `name-addr / addr-spec` followed by header parameters: From, To, Contact,
/// Route, Record-Route, P-Asserted-Identity, Refer-To… (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name as written: a quoted-string with its quotes, or tokens.
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    pub fn with_display(mut self, name: &str) -> NameAddr {
        self.display = Some(quote(name));
        self
    }

    pub fn parse(s: &str) -> SResult<NameAddr> {
        let mut sc = Scanner::new(s);
        sc.ws();
        let (display, uri) = Self::scan_addr(&mut sc)?;
        let uri = Uri::parse(uri).map_err(|e| SyntaxError(e.0))?;
        let params = Params::parse(&mut sc)?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk after name-addr parameters"));
        }
        Ok(NameAddr {
            display: display.map(str::to_string),
            uri,
            params,
        })
    }

    /// Checks a name-addr / addr-spec with parameters without allocating.
    pub fn validate(s: &str) -> SResult<()> {
        let mut sc = Scanner::new(s);
        sc.ws();
        Self::scan_addr(&mut sc)?;
        Params::scan(&mut sc, |_, _| Ok(()))?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk after name-addr parameters"));
        }
        Ok(())
    }

    /// Display name (raw) and validated URI text; leaves the scanner at the parameters.
    fn scan_addr<'a>(sc: &mut Scanner<'a>) -> SResult<(Option<&'a str>, &'a str)> {
        let s = sc.s;
        let mut display = None;
        if sc.peek() == Some(b'"') {
            display = Some(sc.quoted()?);
            sc.ws();
            if sc.peek() != Some(b'<') {
                return Err(SyntaxError("display name not followed by <URI>"));
            }
        } else if sc.peek() != Some(b'<') {
            // Either `*(token LWS) <uri>` or an addr-spec.
            let save = sc.pos;
            match memchr::memchr(b'<', &s.as_bytes()[save..]) {
                Some(i) => {
                    let dn = crate::grammar::trim_lws(&s[save..save + i]);
                    if !dn
                        .split([' ', '\t'])
                        .filter(|t| !t.is_empty())
                        .all(is_token_str)
                    {
                        return Err(SyntaxError("non-token characters in unquoted display name"));
                    }
                    if !dn.is_empty() {
                        display = Some(dn);
                    }
                    sc.pos = save + i;
                }
                None => {
                    // addr-spec: no ',', '?' or ';' allowed in the URI (RFC 3261 §20.10)
                    let u = sc.take_while(|b| b != b';' && b != b' ' && b != b'\t');
                    if u.contains(['?', ',']) {
                        return Err(SyntaxError("URI with '?' or ',' must be enclosed in <>"));
                    }
                    Uri::validate(u).map_err(|e| SyntaxError(e.0))?;
                    return Ok((None, u));
                }
            }
        }
        sc.expect(b'<', "expected '<'")?;
        let u = sc.take_while(|b| b != b'>');
        sc.expect(b'>', "unterminated <URI>")?;
        if u.starts_with([' ', '\t']) || u.ends_with([' ', '\t']) {
            return Err(SyntaxError("whitespace inside <URI>"));
        }
        Uri::validate(u).map_err(|e| SyntaxError(e.0))?;
        Ok((display, u))
    }

    pub fn parse_list(s: &str) -> SResult<Vec<NameAddr>> {
        parse_list(s, NameAddr::parse)
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag));
    }
    /// Display name without quotes and escapes.
    pub fn display_name(&self) -> Option<String> {
        self.display.as_deref().map(|d| {
            if d.starts_with('"') {
                unquote(d)
            } else {
                d.to_string()
            }
        })
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{d} ")?;
        }
        // Always the name-addr form: safe for URIs with parameters or headers.
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// A Contact value: `*` (REGISTER only) or a list element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}

impl Contact {
    /// Checks a Contact value without allocating.
    pub fn validate_list(s: &str) -> SResult<()> {
        if crate::grammar::trim_lws(s) == "*" {
            return Ok(());
        }
        check_list(s, NameAddr::validate)
    }

    pub fn parse_list(s: &str) -> SResult<Vec<Contact>> {
        if s.trim_matches([' ', '\t']) == "*" {
            return Ok(vec![Contact::Star]);
        }
        parse_list(s, |e| NameAddr::parse(e).map(Contact::Addr))
    }
}

/// CSeq (RFC 3261 §20.16); the number is below 2^31 (§8.1.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn new(seq: u32, method: Method) -> CSeq {
        CSeq { seq, method }
    }
    pub fn parse(s: &str) -> SResult<CSeq> {
        match Self::parse_plain(s) {
            Some(c) => Ok(c),
            None => Self::parse_general(s),
        }
    }

    fn parse_general(s: &str) -> SResult<CSeq> {
        let mut it = s.split([' ', '\t']).filter(|t| !t.is_empty());
        let n = it.next().ok_or(SyntaxError("missing number"))?;
        let m = it.next().ok_or(SyntaxError("missing method"))?;
        if it.next().is_some() {
            return Err(SyntaxError("junk after method"));
        }
        let seq = parse_digits(n).ok_or(SyntaxError("bad sequence number"))?;
        if seq >= 1 << 31 {
            return Err(SyntaxError("sequence number not below 2**31"));
        }
        let method = Method::parse(m).ok_or(SyntaxError("bad method"))?;
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

impl CSeq {
    /// The usual form, `1*10DIGIT SP Method` with nothing around: what [`CSeq::parse_general`]
    /// returns for it, else `None` (and the general reader runs, picking the error).
    #[inline]
    fn parse_plain(s: &str) -> Option<CSeq> {
        let b = s.as_bytes();
        let digits = b.iter().position(|c| !c.is_ascii_digit())?;
        if digits == 0 || digits > 10 || b[digits] != b' ' {
            return None;
        }
        let m = &s[digits + 1..];
        if m.is_empty() || m.bytes().any(|c| c == b' ' || c == b'\t') {
            return None;
        }
        let seq = b[..digits]
            .iter()
            .fold(0u64, |v, &c| v * 10 + u64::from(c - b'0'));
        if seq >= 1 << 31 {
            return None;
        }
        Some(CSeq {
            seq: seq as u32,
            method: Method::parse(m)?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Max-Forwards: 0..=255 (RFC 3261 §20.22).
pub fn parse_max_forwards(s: &str) -> SResult<u8> {
    let v = parse_digits(crate::grammar::trim_lws(s)).ok_or(SyntaxError("not a number"))?;
    u8::try_from(v).map_err(|_| SyntaxError("above 255"))
}

/// Content-Length (RFC 3261 §20.14).
pub fn parse_content_length(s: &str) -> SResult<usize> {
    let v = parse_digits(crate::grammar::trim_lws(s))
        .ok_or(SyntaxError("not a non-negative number"))?;
    usize::try_from(v).map_err(|_| SyntaxError("too large"))
}

/// delta-seconds (RFC 3261 §25.1), saturating at 2^32-1 as §20.19 allows.
pub fn parse_delta_seconds(s: &str) -> SResult<u32> {
    let t = s.trim_matches([' ', '\t']);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SyntaxError("not delta-seconds"));
    }
    Ok(parse_digits(t)
        .map(|v| v.min(u32::MAX as u64) as u32)
        .unwrap_or(u32::MAX))
}

/// Content-Disposition (RFC 3261 §20.11, RFC 3204 `signal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDisposition {
    /// `session`, `signal`, `render`, `icon`, `alert`…
    pub disposition: String,
    pub params: Params,
}

/// `handling` parameter (RFC 3261 §20.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    Required,
    Optional,
}

impl ContentDisposition {
    pub fn new(disposition: &str, handling: Option<Handling>) -> Self {
        let mut params = Params::new();
        if let Some(h) = handling {
            params.set(
                "handling",
                Some(match h {
                    Handling::Required => "required",
                    Handling::Optional => "optional",
                }),
            );
        }
        ContentDisposition {
            disposition: disposition.into(),
            params,
        }
    }
    pub fn parse(s: &str) -> SResult<Self> {
        let mut sc = Scanner::new(s);
        sc.ws();
        let d = sc.token()?;
        let params = Params::parse(&mut sc)?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk"));
        }
        Ok(ContentDisposition {
            disposition: d.into(),
            params,
        })
    }
    pub fn is(&self, d: &str) -> bool {
        self.disposition.eq_ignore_ascii_case(d)
    }
    /// RFC 3261 §20.11: default is `required`.
    pub fn handling(&self) -> Handling {
        match self.params.value("handling") {
            Some(h) if h.eq_ignore_ascii_case("optional") => Handling::Optional,
            _ => Handling::Required,
        }
    }
}

impl fmt::Display for ContentDisposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.disposition, self.params)
    }
}

/// Option-tag lists: Require, Supported, Unsupported, Proxy-Require.
pub fn parse_option_tags(s: &str) -> SResult<Vec<String>> {
    if s.trim_matches([' ', '\t']).is_empty() {
        return Ok(Vec::new()); // Supported may be empty (RFC 3261 §20.37)
    }
    parse_list(s, |t| {
        if is_token_str(t) {
            Ok(t.to_string())
        } else {
            Err(SyntaxError("bad option-tag"))
        }
    })
}

/// Allow (RFC 3261 §20.5).
pub fn parse_allow(s: &str) -> SResult<Vec<Method>> {
    if s.trim_matches([' ', '\t']).is_empty() {
        return Ok(Vec::new());
    }
    parse_list(s, |t| {
        Method::parse(t).ok_or(SyntaxError("bad method in Allow"))
    })
}

/// Accept (RFC 3261 §20.1): media ranges, `*` allowed as token.
pub fn parse_accept(s: &str) -> SResult<Vec<MediaType>> {
    if s.trim_matches([' ', '\t']).is_empty() {
        return Ok(Vec::new());
    }
    parse_list(s, MediaType::parse)
}

/// RSeq (RFC 3262 §7.1): 1..2^31-1.
pub fn parse_rseq(s: &str) -> SResult<u32> {
    let v = parse_digits(s.trim_matches([' ', '\t'])).ok_or(SyntaxError("not a number"))?;
    if v == 0 || v >= 1 << 31 {
        return Err(SyntaxError("out of range"));
    }
    Ok(v as u32)
}

/// RAck (RFC 3262 §7.2): `response-num CSeq-num Method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RAck {
    pub rseq: u32,
    pub cseq: u32,
    pub method: Method,
}

impl RAck {
    pub fn parse(s: &str) -> SResult<RAck> {
        let mut it = s.split([' ', '\t']).filter(|t| !t.is_empty());
        let r = it.next().ok_or(SyntaxError("missing response-num"))?;
        let c = it.next().ok_or(SyntaxError("missing CSeq-num"))?;
        let m = it.next().ok_or(SyntaxError("missing method"))?;
        if it.next().is_some() {
            return Err(SyntaxError("junk"));
        }
        let rseq = parse_rseq(r)?;
        let cseq = CSeq::parse(&format!("{c} {m}"))?;
        Ok(RAck {
            rseq,
            cseq: cseq.seq,
            method: cseq.method,
        })
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

/// Reason (RFC 3326): `Q.850;cause=16;text="Normal call clearing"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// `SIP`, `Q.850` or another token.
    pub protocol: String,
    pub params: Params,
}

impl Reason {
    pub fn q850(cause: u8, text: Option<&str>) -> Reason {
        let mut params = Params::new();
        params.set("cause", Some(&cause.to_string()));
        if let Some(t) = text {
            params.set("text", Some(&quote(t)));
        }
        Reason {
            protocol: "Q.850".into(),
            params,
        }
    }
    pub fn parse(s: &str) -> SResult<Reason> {
        let mut sc = Scanner::new(s);
        sc.ws();
        let p = sc.token()?;
        let params = Params::parse(&mut sc)?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk"));
        }
        if let Some(c) = params.get("cause") {
            c.and_then(parse_digits).ok_or(SyntaxError("bad cause"))?;
        }
        Ok(Reason {
            protocol: p.into(),
            params,
        })
    }
    pub fn parse_list(s: &str) -> SResult<Vec<Reason>> {
        parse_list(s, Reason::parse)
    }
    pub fn is_q850(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("Q.850")
    }
    pub fn cause(&self) -> Option<u16> {
        self.params
            .get("cause")
            .flatten()
            .and_then(parse_digits)
            .and_then(|c| u16::try_from(c).ok())
    }
    pub fn text(&self) -> Option<String> {
        self.params.value("text")
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.protocol, self.params)
    }
}

/// Privacy (RFC 3323 §4.2, RFC 3325 `id`): `priv-value *(";" priv-value)`.
pub fn parse_privacy(s: &str) -> SResult<Vec<String>> {
    s.split(';')
        .map(|t| {
            let t = t.trim_matches([' ', '\t']);
            if is_token_str(t) {
                Ok(t.to_string())
            } else {
                Err(SyntaxError("bad priv-value"))
            }
        })
        .collect()
}

/// Retry-After (RFC 3261 §20.33).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    pub seconds: u32,
    pub comment: Option<String>,
    pub params: Params,
}

impl RetryAfter {
    pub fn parse(s: &str) -> SResult<RetryAfter> {
        let mut sc = Scanner::new(s);
        sc.ws();
        let d = sc.take_while(|b| b.is_ascii_digit());
        let seconds = parse_digits(d).ok_or(SyntaxError("bad delta-seconds"))?;
        let seconds = u32::try_from(seconds).map_err(|_| SyntaxError("overlarge"))?;
        sc.ws();
        let comment = if sc.peek() == Some(b'(') {
            let start = sc.pos;
            let mut depth = 0i32;
            let b = s.as_bytes();
            while sc.pos < b.len() {
                match b[sc.pos] {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b'\\' => sc.pos += 1,
                    _ => {}
                }
                sc.pos += 1;
                if depth == 0 {
                    break;
                }
            }
            if depth != 0 || sc.pos > b.len() {
                return Err(SyntaxError("unbalanced comment"));
            }
            Some(s[start..sc.pos].to_string())
        } else {
            None
        };
        let params = Params::parse(&mut sc)?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk"));
        }
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seconds)?;
        if let Some(c) = &self.comment {
            write!(f, " {c}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// Warning value (RFC 3261 §20.43): `3DIGIT SP agent SP quoted-string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: u16,
    pub agent: String,
    pub text: String,
}

impl Warning {
    pub fn new(code: u16, agent: &str, text: &str) -> Warning {
        Warning {
            code,
            agent: agent.into(),
            text: text.into(),
        }
    }
    pub fn parse(s: &str) -> SResult<Warning> {
        let mut sc = Scanner::new(s);
        sc.ws();
        let code = sc.take_while(|b| b.is_ascii_digit());
        if code.len() != 3 {
            return Err(SyntaxError("code is not 3 digits"));
        }
        sc.ws();
        let agent = sc.take_while(|b| is_token(b) || matches!(b, b':' | b'[' | b']'));
        if agent.is_empty() {
            return Err(SyntaxError("missing agent"));
        }
        sc.ws();
        let text = sc.quoted()?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk"));
        }
        Ok(Warning {
            code: code.parse().unwrap_or(0),
            agent: agent.into(),
            text: unquote(text),
        })
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03} {} {}", self.code, self.agent, quote(&self.text))
    }
}

/// Call-ID check (RFC 3261 §25.1 `callid = word [ "@" word ]`).
pub fn parse_call_id(s: &str) -> SResult<&str> {
    let t = crate::grammar::trim_lws(s);
    if is_callid(t) {
        Ok(t)
    } else {
        Err(SyntaxError("not word[@word]"))
    }
}

/// `host[:port]` helper used by transports.
pub fn parse_hostport(s: &str) -> SResult<(Host, Option<u16>)> {
    split_hostport(s).map_err(|e| SyntaxError(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `CSeq::parse_plain` reads a value, the general reader reads the same.
    #[test]
    fn plain_cseq_agrees() {
        let mut plain = 0;
        for n in [
            "0",
            "1",
            "0009",
            "314159",
            "2147483647",
            "2147483648",
            "9999999999",
            "12345678901",
            "",
        ] {
            for sep in ["", " ", "  ", "\t"] {
                for m in [
                    "INVITE", "ACK", "FOO", "F@O", "", "INVITE ", "INVITE x", "invite",
                ] {
                    let v = format!("{n}{sep}{m}");
                    if let Some(c) = CSeq::parse_plain(&v) {
                        plain += 1;
                        assert_eq!(CSeq::parse_general(&v), Ok(c), "{v:?}");
                    }
                }
            }
        }
        assert_eq!(plain, 20);
    }

    #[test]
    fn via_forms() {
        let v = Via::parse("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
        let l = Via::parse_list("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].branch(), Some("z9hG4bK30239"));
        let r = Via::parse(
            "SIP/2.0/UDP [2001:db8::9]:5070;rport=5071;received=2001:db8::1;branch=z9hG4bKx",
        )
        .unwrap();
        assert_eq!(r.rport(), Some(Some(5071)));
        assert_eq!(r.received(), Some("2001:db8::1"));
        assert_eq!(
            r.to_string(),
            "SIP/2.0/UDP [2001:db8::9]:5070;rport=5071;received=2001:db8::1;branch=z9hG4bKx"
        );
        assert_eq!(
            Via::parse("SIP/2.0/UDP h;rport").unwrap().rport(),
            Some(None)
        );
        assert!(Via::parse_list("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/7.0/UDP c.example.com").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>  ;  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(n.tag(), Some("98asjd8"));
        assert_eq!(n.display_name().unwrap(), "J Rosenberg \\\"");
        let a =
            NameAddr::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(a.tag(), Some("1918181833n"));
        let l = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(l.display.as_deref(), Some("caller"));
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").is_ok());
        assert!(NameAddr::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
        let pai = NameAddr::parse("\"Alice\" <tel:+4930123456>").unwrap();
        assert!(matches!(pai.uri, Uri::Tel(_)));
        assert_eq!(pai.to_string(), "\"Alice\" <tel:+4930123456>");
        assert_eq!(Contact::parse_list(" * ").unwrap(), vec![Contact::Star]);
    }

    #[test]
    fn scalars() {
        assert_eq!(
            CSeq::parse("0009 INVITE").unwrap(),
            CSeq::new(9, Method::Invite)
        );
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert_eq!(parse_max_forwards("0068").unwrap(), 68);
        assert!(parse_max_forwards("300").is_err());
        assert!(parse_content_length("-999").is_err());
        assert_eq!(
            parse_delta_seconds("10000000000000000000000").unwrap(),
            u32::MAX
        );
        assert!(RetryAfter::parse("949302838503028349304023988").is_err());
        let r = RetryAfter::parse("18000 (in maintenance);duration=3600").unwrap();
        assert_eq!(r.seconds, 18000);
        assert_eq!(r.comment.as_deref(), Some("(in maintenance)"));
        assert!(Warning::parse("1812 overture \"In Progress\"").is_err());
        assert_eq!(
            Warning::parse("399 mgc \"Bad CSeq\"").unwrap().text,
            "Bad CSeq"
        );
    }

    #[test]
    fn rfc3262_3326_3325() {
        assert_eq!(parse_rseq("988789").unwrap(), 988789);
        assert!(parse_rseq("0").is_err());
        let ra = RAck::parse("776656 1 INVITE").unwrap();
        assert_eq!(
            (ra.rseq, ra.cseq, ra.method.clone()),
            (776656, 1, Method::Invite)
        );
        assert_eq!(ra.to_string(), "776656 1 INVITE");
        let r = Reason::parse("Q.850 ; cause=16 ; text=\"Terminated\"").unwrap();
        assert!(r.is_q850());
        assert_eq!(r.cause(), Some(16));
        assert_eq!(r.text().as_deref(), Some("Terminated"));
        assert_eq!(
            Reason::q850(31, Some("Normal, unspecified")).to_string(),
            "Q.850;cause=31;text=\"Normal, unspecified\""
        );
        assert_eq!(parse_privacy("id; header").unwrap(), vec!["id", "header"]);
        assert_eq!(
            parse_option_tags("100rel, timer").unwrap(),
            vec!["100rel", "timer"]
        );
        assert_eq!(parse_allow("INVITE, ACK,BYE").unwrap().len(), 3);
        assert_eq!(
            parse_accept("application/sdp, application/isup")
                .unwrap()
                .len(),
            2
        );
        let cd = ContentDisposition::parse("signal; handling=optional").unwrap();
        assert!(cd.is("signal"));
        assert_eq!(cd.handling(), Handling::Optional);
        assert_eq!(
            ContentDisposition::parse("session").unwrap().handling(),
            Handling::Required
        );
    }
}
