//! URIs: `sip`/`sips` (RFC 3261 §19.1), `tel` (RFC 3966) and any other
//! `absoluteURI` kept opaque. Comparison per RFC 3261 §19.1.4 and RFC 3966 §4.

use crate::grammar::{
    Params, check_escaped, is_header_char, is_host_char, is_param_char, is_password_char, is_token,
    is_unreserved, is_user_char, unescape,
};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UriError(pub &'static str);

/// Host part of a SIP URI or Via (RFC 3261 §25.1 `host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    pub fn parse(s: &str) -> Result<Host, UriError> {
        Ok(match Self::check(s)? {
            Some(ip) => Host::Ip(ip),
            None => Host::Name(s.to_string()),
        })
    }

    /// Validates a host without allocating: `Some(ip)` for an address,
    /// `None` for a valid hostname.
    pub fn check(s: &str) -> Result<Option<IpAddr>, UriError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(UriError("unterminated IPv6 reference"))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(|a| Some(IpAddr::V6(a)))
                .map_err(|_| UriError("bad IPv6 reference"));
        }
        if s.is_empty() {
            return Err(UriError("empty host"));
        }
        let b = s.as_bytes();
        if b[0].is_ascii_digit() && b[b.len() - 1].is_ascii_digit() {
            if let Ok(ip) = s.parse::<std::net::Ipv4Addr>() {
                return Ok(Some(IpAddr::V4(ip)));
            }
        }
        // hostname = *( domainlabel "." ) toplabel [ "." ]; one pass
        if b[0] == b'.' || b[0] == b'-' {
            return Err(UriError("bad hostname"));
        }
        let mut prev = 0u8;
        for &c in b {
            if !is_host_char(c) || (c == b'.' && prev == b'.') {
                return Err(UriError("bad hostname"));
            }
            prev = c;
        }
        Ok(None)
    }

    /// `check(s).map(drop)`, without reading an IPv4 address as one: a valid IPv4 address is
    /// also a valid hostname, so the hostname rule decides.
    pub(crate) fn check_valid(s: &str) -> Result<(), UriError> {
        if s.starts_with('[') {
            return Self::check(s).map(drop);
        }
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(UriError("empty host"));
        }
        let mut prev = b'.';
        let hostname = b[0] != b'-'
            && b.iter().all(|&c| {
                let ok = is_host_char(c) && !(c == b'.' && prev == b'.');
                prev = c;
                ok
            });
        if hostname || s.parse::<std::net::Ipv4Addr>().is_ok() {
            Ok(())
        } else {
            Err(UriError("bad hostname"))
        }
    }

    /// Case-insensitive comparison of host names (RFC 3261 §19.1.4).
    pub fn eq_host(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ip(a), Host::Ip(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]`, honouring IPv6 references.
pub fn split_hostport(s: &str) -> Result<(Host, Option<u16>), UriError> {
    let (h, p) = split_hostport_raw(s)?;
    Ok((Host::parse(h)?, p))
}

/// Splits and validates `host[:port]` without allocating.
pub fn split_hostport_raw(s: &str) -> Result<(&str, Option<u16>), UriError> {
    let (h, p) = if s.starts_with('[') {
        match s.find(']') {
            Some(i) => {
                let rest = &s[i + 1..];
                let port = match rest.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if rest.is_empty() => None,
                    None => return Err(UriError("junk after IPv6 reference")),
                };
                (&s[..=i], port)
            }
            None => return Err(UriError("unterminated IPv6 reference")),
        }
    } else {
        match memchr::memrchr(b':', s.as_bytes()) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    };
    let port = match p {
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UriError("bad port"));
            }
            Some(
                p.parse::<u16>()
                    .map_err(|_| UriError("port out of range"))?,
            )
        }
        None => None,
    };
    Host::check_valid(h)?;
    Ok((h, port))
}

/// `sip:` / `sips:` URI (RFC 3261 §19.1.1). Escapes are kept as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// `?hname=hvalue&…`, raw.
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    pub fn new(host: Host) -> Self {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// Parses the part after `sip:` / `sips:`.
    fn parse_rest(secure: bool, s: &str) -> Result<SipUri, UriError> {
        Self::from_parts(secure, sip_parts(s)?)
    }

    fn from_parts(secure: bool, p: SipParts<'_>) -> Result<SipUri, UriError> {
        let mut params = Vec::new();
        if !p.params.is_empty() {
            for item in p.params[1..].split(';') {
                let (n, v) = match item.find('=') {
                    Some(i) => (&item[..i], Some(&item[i + 1..])),
                    None => (item, None),
                };
                params.push((n.to_string(), v.map(str::to_string)));
            }
        }
        let mut headers = Vec::new();
        if !p.headers.is_empty() {
            for hv in p.headers[1..].split('&') {
                let (n, v) = hv.split_once('=').unwrap_or((hv, ""));
                headers.push((n.to_string(), v.to_string()));
            }
        }
        Ok(SipUri {
            secure,
            user: p.user.map(str::to_string),
            password: p.password.map(str::to_string),
            host: Host::parse(p.host)?,
            port: p.port,
            params: Params(params),
            headers,
        })
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.get(name)
    }

    /// `user=phone` (RFC 3261 §19.1.1): the user part is a telephone-subscriber.
    pub fn is_phone(&self) -> bool {
        self.params
            .get("user")
            .flatten()
            .is_some_and(|v| v.eq_ignore_ascii_case("phone"))
    }

    /// Loose-routing marker `lr` (RFC 3261 §19.1.1).
    pub fn is_lr(&self) -> bool {
        self.params.contains("lr")
    }

    /// The user part without visual separators or parameters when `user=phone`.
    pub fn phone_number(&self) -> Option<String> {
        let u = self.user.as_deref()?;
        let num = u.split(';').next().unwrap_or(u);
        let dec = String::from_utf8_lossy(&unescape(num)).into_owned();
        Some(
            dec.chars()
                .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
                .collect(),
        )
    }

    /// RFC 3261 §19.1.4 equality.
    pub fn equivalent(&self, other: &SipUri) -> bool {
        if self.secure != other.secure {
            return false;
        }
        // userinfo compared case-sensitively after unescaping
        let un = |o: &Option<String>| o.as_deref().map(unescape);
        if un(&self.user) != un(&other.user) || un(&self.password) != un(&other.password) {
            return false;
        }
        if !self.host.eq_host(&other.host) || self.port != other.port {
            return false;
        }
        let eqv = |a: Option<&str>, b: Option<&str>| match (a, b) {
            (Some(a), Some(b)) => unescape(a).eq_ignore_ascii_case(&unescape(b)),
            (None, None) => true,
            _ => false,
        };
        // user, ttl, method, maddr, transport must match if present in either
        for p in ["user", "ttl", "method", "maddr", "transport"] {
            match (self.params.get(p), other.params.get(p)) {
                (None, None) => {}
                (Some(a), Some(b)) if eqv(a, b) => {}
                _ => return false,
            }
        }
        // any other parameter appearing in both must match
        for (n, v) in self.params.iter() {
            if let Some(ov) = other.params.get(n) {
                if !eqv(v, ov) {
                    return false;
                }
            }
        }
        // headers: all must be present in both and match
        if self.headers.len() != other.headers.len() {
            return false;
        }
        for (n, v) in &self.headers {
            match other
                .headers
                .iter()
                .find(|(on, _)| on.eq_ignore_ascii_case(n))
            {
                Some((_, ov)) if unescape(v) == unescape(ov) => {}
                _ => return false,
            }
        }
        true
    }
}

/// A validated `sip:`/`sips:` URI as borrowed pieces.
#[derive(Debug, PartialEq, Eq)]
struct SipParts<'a> {
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: &'a str,
    port: Option<u16>,
    /// `;p=v;…` including the leading `;`, or empty.
    params: &'a str,
    /// `?h=v&…` including the leading `?`, or empty.
    headers: &'a str,
}

/// RFC 3261 §25.1 `SIP-URI` after the scheme, checked without allocating.
#[inline]
fn sip_parts(s: &str) -> Result<SipParts<'_>, UriError> {
    match sip_parts_plain(s) {
        Some(p) => Ok(p),
        None => sip_parts_general(s),
    }
}

/// `"sip:"` or `"sips:"` (any case) at the start of `s`: whether secure, and the rest.
#[inline]
fn sip_scheme(s: &str) -> Option<(bool, &str)> {
    let b = s.as_bytes();
    let w = u32::from_le_bytes(b.get(..4)?.try_into().ok()?);
    // bit 0x20 folds exactly the letters' case; ':' compared as is
    if w | 0x0020_2020 == u32::from_le_bytes(*b"sip:") {
        Some((false, &s[4..]))
    } else if w | 0x2020_2020 == u32::from_le_bytes(*b"sips") && b.get(4) == Some(&b':') {
        Some((true, &s[5..]))
    } else {
        None
    }
}

/// The common `SIP-URI` forms in one pass: `[user "@"] host [":" port] *(";" pname ["=" pvalue])`
/// with a host name or IPv4 address and no escape, password, IPv6 reference or headers. Returns
/// what [`sip_parts_general`] returns for such a URI, else `None` (and the general reader
/// runs, picking the error). Every octet it accepts is printable ASCII, so the URI also passes
/// [`Uri::scheme_split`]'s check (`tests::plain_sip_uris_agree`).
#[inline]
fn sip_parts_plain(s: &str) -> Option<SipParts<'_>> {
    let b = s.as_bytes();
    // userinfo ends at the first '@' (no user octet is '@', nor is any octet accepted below)
    let mut i = 0;
    while i < b.len() && is_user_char(b[i]) {
        i += 1;
    }
    let user = if i < b.len() && b[i] == b'@' {
        if i == 0 {
            return None;
        }
        i += 1;
        Some(&s[..i - 1])
    } else {
        i = 0;
        None
    };
    // hostname = *( domainlabel "." ) toplabel [ "." ], as Host::check reads it (an IPv4
    // address passes the same rule)
    let h0 = i;
    let mut prev = b'.';
    while i < b.len() && is_host_char(b[i]) {
        if b[i] == b'.' && prev == b'.' {
            return None;
        }
        prev = b[i];
        i += 1;
    }
    if i == h0 || b[h0] == b'-' {
        return None;
    }
    let host = &s[h0..i];
    let mut port = None;
    if i < b.len() && b[i] == b':' {
        i += 1;
        let p0 = i;
        let mut v = 0u32;
        while i < b.len() && b[i].is_ascii_digit() && i - p0 < 5 {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        if i == p0 || v > u32::from(u16::MAX) {
            return None;
        }
        port = Some(v as u16);
    }
    let params_at = i;
    while i < b.len() {
        if b[i] != b';' {
            return None;
        }
        i += 1;
        let n0 = i;
        while i < b.len() && is_param_char(b[i]) {
            i += 1;
        }
        if i == n0 {
            return None;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            let v0 = i;
            while i < b.len() && is_param_char(b[i]) {
                i += 1;
            }
            if i == v0 {
                return None;
            }
        }
    }
    Some(SipParts {
        user,
        password: None,
        host,
        port,
        params: &s[params_at..],
        headers: "",
    })
}

/// [`sip_parts`] for any URI.
fn sip_parts_general(s: &str) -> Result<SipParts<'_>, UriError> {
    // '@' cannot occur unescaped after userinfo (§25.1), so the first one ends it.
    let (userinfo, hostpart) = match memchr::memchr(b'@', s.as_bytes()) {
        Some(i) => (Some(&s[..i]), &s[i + 1..]),
        None => (None, s),
    };
    let (user, password) = match userinfo {
        Some(ui) => {
            let (u, p) = match memchr::memchr(b':', ui.as_bytes()) {
                Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                None => (ui, None),
            };
            if u.is_empty() || !check_escaped(u, is_user_char) {
                return Err(UriError("bad user part"));
            }
            if let Some(p) = p {
                if !check_escaped(p, is_password_char) {
                    return Err(UriError("bad password"));
                }
            }
            (Some(u), p)
        }
        None => (None, None),
    };
    let end_hp = memchr::memchr2(b';', b'?', hostpart.as_bytes()).unwrap_or(hostpart.len());
    let (host, port) = split_hostport_raw(&hostpart[..end_hp])?;
    let rest = &hostpart[end_hp..];
    let q = memchr::memchr(b'?', rest.as_bytes()).unwrap_or(rest.len());
    let (params, headers) = rest.split_at(q);
    if !params.is_empty() {
        for item in params[1..].split(';') {
            let (n, v) = match memchr::memchr(b'=', item.as_bytes()) {
                Some(i) => (&item[..i], Some(&item[i + 1..])),
                None => (item, None),
            };
            if n.is_empty() || !check_escaped(n, is_param_char) {
                return Err(UriError("bad uri-parameter"));
            }
            if let Some(v) = v {
                if v.is_empty() || !check_escaped(v, is_param_char) {
                    return Err(UriError("bad uri-parameter value"));
                }
            }
        }
    }
    if !headers.is_empty() {
        for hv in headers[1..].split('&') {
            let (n, v) = hv.split_once('=').ok_or(UriError("bad uri header"))?;
            if n.is_empty()
                || !check_escaped(n, is_header_char)
                || !check_escaped(v, is_header_char)
            {
                return Err(UriError("bad uri header"));
            }
        }
    }
    Ok(SipParts {
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

impl SipUri {
    /// Appends the [`Display`](fmt::Display) form to `out` without the formatting machinery
    /// (message serialization).
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.secure { b"sips:" } else { b"sip:" });
        if let Some(u) = &self.user {
            out.extend_from_slice(u.as_bytes());
            if let Some(p) = &self.password {
                out.push(b':');
                out.extend_from_slice(p.as_bytes());
            }
            out.push(b'@');
        }
        match &self.host {
            Host::Name(n) => out.extend_from_slice(n.as_bytes()),
            ip => {
                use std::io::Write;
                let _ = write!(out, "{ip}");
            }
        }
        if let Some(p) = self.port {
            out.push(b':');
            let mut tmp = [0u8; 5];
            let mut i = tmp.len();
            let mut p = p;
            loop {
                i -= 1;
                tmp[i] = b'0' + (p % 10) as u8;
                p /= 10;
                if p == 0 {
                    break;
                }
            }
            out.extend_from_slice(&tmp[i..]);
        }
        for (n, v) in &self.params.0 {
            out.push(b';');
            out.extend_from_slice(n.as_bytes());
            if let Some(v) = v {
                out.push(b'=');
                out.extend_from_slice(v.as_bytes());
            }
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            out.push(if i == 0 { b'?' } else { b'&' });
            out.extend_from_slice(n.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for (n, v) in &self.params.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// `tel:` URI (RFC 3966).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number as written, including a leading `+` when global.
    pub number: String,
    pub params: Params,
}

impl TelUri {
    pub fn parse_rest(s: &str) -> Result<TelUri, UriError> {
        let end = s.find(';').unwrap_or(s.len());
        let number = &s[..end];
        let global = number.starts_with('+');
        let digits = if global { &number[1..] } else { number };
        let visual = |c: u8| matches!(c, b'-' | b'.' | b'(' | b')');
        let ok = if global {
            // global-number-digits = "+" *phonedigit DIGIT *phonedigit
            digits.bytes().all(|c| c.is_ascii_digit() || visual(c))
                && digits.bytes().any(|c| c.is_ascii_digit())
        } else {
            // local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
            digits
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b'*' || c == b'#' || visual(c))
                && digits
                    .bytes()
                    .any(|c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
        };
        if !ok {
            return Err(UriError("bad telephone-subscriber"));
        }
        let mut params = Vec::new();
        for p in s[end..].split(';').skip(1) {
            let (n, v) = match p.find('=') {
                Some(i) => (&p[..i], Some(&p[i + 1..])),
                None => (p, None),
            };
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(UriError("bad tel parameter"));
            }
            if let Some(v) = v {
                if v.is_empty() || !check_escaped(v, |b| is_param_char(b) || is_unreserved(b)) {
                    return Err(UriError("bad tel parameter value"));
                }
            }
            params.push((n.to_string(), v.map(str::to_string)));
        }
        let params = Params(params);
        // RFC 3966 §5.1.5: local numbers MUST carry phone-context
        if !global && !params.contains("phone-context") {
            return Err(UriError("local tel number without phone-context"));
        }
        Ok(TelUri {
            number: number.to_string(),
            params,
        })
    }

    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// Digits without visual separators (and with the `+` if global).
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    pub fn phone_context(&self) -> Option<&str> {
        self.params.get("phone-context").flatten()
    }

    /// RFC 3966 §4: numbers compared without visual separators; parameters
    /// compared case-insensitively regardless of order.
    pub fn equivalent(&self, other: &TelUri) -> bool {
        if !self.digits().eq_ignore_ascii_case(&other.digits()) {
            return false;
        }
        if self.params.0.len() != other.params.0.len() {
            return false;
        }
        self.params.iter().all(|(n, v)| match other.params.get(n) {
            Some(ov) => match (v, ov) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            },
            None => false,
        })
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

/// Any URI a SIP message can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    Tel(TelUri),
    /// Other `absoluteURI` (RFC 3261 §25.1), kept verbatim.
    Other(String),
}

impl Uri {
    fn scheme_split(s: &str) -> Result<(&str, &str), UriError> {
        let colon = memchr::memchr(b':', s.as_bytes()).ok_or(UriError("missing scheme"))?;
        let scheme = &s[..colon];
        let rest = &s[colon + 1..];
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let mut sb = scheme.bytes();
        if !sb.next().is_some_and(|b| b.is_ascii_alphabetic())
            || !sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(UriError("bad scheme"));
        }
        if rest.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(UriError("whitespace or control octet in URI"));
        }
        Ok((scheme, rest))
    }

    fn check_absolute(rest: &str) -> Result<(), UriError> {
        if rest.is_empty()
            || !rest
                .bytes()
                .all(|b| is_unreserved(b) || is_token(b) || b"%;/?:@&=+$,#[]".contains(&b))
        {
            return Err(UriError("bad absoluteURI"));
        }
        Ok(())
    }

    pub fn parse(s: &str) -> Result<Uri, UriError> {
        if let Some((secure, rest)) = sip_scheme(s) {
            if let Some(p) = sip_parts_plain(rest) {
                return SipUri::from_parts(secure, p).map(Uri::Sip);
            }
        }
        let (scheme, rest) = Self::scheme_split(s)?;
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_rest(false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_rest(true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_rest(rest).map(Uri::Tel)
        } else {
            Self::check_absolute(rest)?;
            Ok(Uri::Other(s.to_string()))
        }
    }

    /// The same checks as [`Uri::parse`], without building the URI
    /// (allocation-free for `sip`/`sips` and other schemes).
    pub fn validate(s: &str) -> Result<(), UriError> {
        if sip_scheme(s).is_some_and(|(_, rest)| sip_parts_plain(rest).is_some()) {
            return Ok(());
        }
        let (scheme, rest) = Self::scheme_split(s)?;
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            sip_parts(rest).map(drop)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_rest(rest).map(drop)
        } else {
            Self::check_absolute(rest)
        }
    }

    /// Appends the [`Display`](fmt::Display) form to `out` (message serialization).
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Uri::Sip(u) => u.write_to(out),
            Uri::Other(s) => out.extend_from_slice(s.as_bytes()),
            Uri::Tel(_) => {
                use std::io::Write;
                let _ = write!(out, "{self}");
            }
        }
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other(s) => s.split(':').next().unwrap_or(""),
        }
    }

    /// RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel); other schemes
    /// compare case-insensitively as opaque strings.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (Uri::Other(a), Uri::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other(s) => f.write_str(s),
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    #[test]
    fn parse_sip() {
        let Uri::Sip(x) = u("sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=x&p=y")
        else {
            panic!()
        };
        assert!(x.secure);
        assert_eq!(x.user.as_deref(), Some("alice"));
        assert_eq!(x.password.as_deref(), Some("pw"));
        assert_eq!(x.port, Some(5061));
        assert!(x.is_lr());
        assert_eq!(x.headers.len(), 2);
        assert_eq!(
            x.to_string(),
            "sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=x&p=y"
        );
        let Uri::Sip(p) = u("sip:+4930123456@gw.example.net;user=phone") else {
            panic!()
        };
        assert!(p.is_phone());
        assert_eq!(p.phone_number().unwrap(), "+4930123456");
    }

    #[test]
    fn rfc4475_uris() {
        // intmeth: odd but legal user and password
        assert!(Uri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").is_ok());
        // semiuri: user contains ';'
        let Uri::Sip(s) = u("sip:user;par=u%40example.net@example.com") else {
            panic!()
        };
        assert_eq!(s.user.as_deref(), Some("user;par=u%40example.net"));
        assert!(s.params.is_empty());
        assert!(Uri::parse("<sip:user@example.com>").is_err());
        assert!(Uri::parse("sip:user@example.com; lr").is_err());
        assert!(Uri::parse("sip:%zz@example.com").is_err());
        assert!(Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent").is_ok());
        assert!(Uri::parse("soap.beep://192.0.2.103:3002").is_ok());
        assert!(Uri::parse("sip:user@host:99999").is_err());
    }

    /// Where the one-pass reader accepts a URI, the general one returns the same parts, and
    /// `Uri::parse`/`validate` (which skip the scheme check for it) agree with the general path.
    /// Checked on URIs and every variant with one octet replaced, removed or inserted.
    #[test]
    fn plain_sip_uris_agree() {
        let mut plain = 0;
        let mut check = |rest: &str| {
            let Some(p) = sip_parts_plain(rest) else {
                return;
            };
            plain += 1;
            assert_eq!(sip_parts_general(rest), Ok(p), "{rest}");
            assert!(rest.bytes().all(|b| b > b' ' && b < 0x7f), "{rest}");
            for (scheme, secure) in [("sip:", false), ("SIPS:", true)] {
                let full = format!("{scheme}{rest}");
                let general = Uri::scheme_split(&full)
                    .and_then(|(_, r)| SipUri::from_parts(secure, sip_parts_general(r)?));
                assert_eq!(Uri::parse(&full), general.map(Uri::Sip), "{full}");
                assert_eq!(Uri::validate(&full), Ok(()));
            }
        };
        let bases = [
            "+4930123456@gw.example.net;user=phone",
            "mgc@192.0.2.10:5060",
            "alice@atlanta.example.com;transport=tcp;lr;maddr=239.255.255.1;ttl=15",
            "proxy.example.com:5060;lr",
            "a.b-c.d.;x",
            "1.2.3.4.5:65535;y=[::1]",
            "u;p=v@h:1",
        ];
        let alphabet = b"@:;=.-_?%&[]/+$,~*'()!09aZ \t\x7f";
        for base in bases {
            check(base);
            let b = base.as_bytes();
            for i in 0..=b.len() {
                for &c in alphabet {
                    let mut v = b.to_vec();
                    v.insert(i, c);
                    check(std::str::from_utf8(&v).unwrap());
                    if i < b.len() {
                        v.remove(i);
                        v[i] = c;
                        check(std::str::from_utf8(&v).unwrap());
                    }
                }
                if i < b.len() {
                    let mut v = b.to_vec();
                    v.remove(i);
                    check(std::str::from_utf8(&v).unwrap());
                }
            }
        }
        assert!(plain > 1000, "{plain}");
    }

    /// `Host::check_valid` is `Host::check` without the address.
    #[test]
    fn host_check_valid() {
        let alphabet = ["1", "9", "a", "-", ".", ":", "[", "]", "_", "é"];
        let mut strings = crate::grammar::strings_over(&alphabet, 5);
        strings.extend(
            [
                "192.0.2.10",
                "255.255.255.255",
                "1.2.3",
                "01.2.3.4",
                "[::1]",
                "[::1",
                "a..b",
            ]
            .map(String::from),
        );
        for s in &strings {
            assert_eq!(Host::check_valid(s), Host::check(s).map(drop), "{s:?}");
        }
    }

    /// `write_to` (message serialization) writes exactly the `Display` form.
    #[test]
    fn write_to_is_display() {
        for text in [
            "sip:+4930123456@gw.example.net;user=phone",
            "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr;maddr=239.255.255.1?subject=x&h=%20",
            "sip:192.0.2.10:5060",
            "sip:user;par=u%40example.net@example.com",
            "SIP:ALICE@EXAMPLE.COM:0",
            "tel:+1-201-555-0123;ext=1",
            "tel:7042;phone-context=example.com",
            "urn:service:sos",
        ] {
            let u = Uri::parse(text).unwrap();
            let mut out = Vec::new();
            u.write_to(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), u.to_string(), "{text}");
        }
        let mut s = SipUri::new(Host::Ip("192.0.2.1".parse().unwrap()));
        s.port = Some(65535);
        s.user = Some("u".into());
        s.password = Some("p".into());
        let u = Uri::Sip(s);
        let mut out = Vec::new();
        u.write_to(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), u.to_string());
    }

    #[test]
    fn compare_rfc3261_19_1_4() {
        // equivalent pairs from RFC 3261 §19.1.4
        let eq = [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;newparam=5",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        ];
        for (a, b) in eq {
            assert!(u(a).equivalent(&u(b)), "{a} == {b}");
            assert!(u(b).equivalent(&u(a)), "{b} == {a}");
        }
        let ne = [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;security=off",
            ),
            ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ];
        for (a, b) in ne {
            assert!(!u(a).equivalent(&u(b)), "{a} != {b}");
        }
    }

    #[test]
    fn tel() {
        let Uri::Tel(t) = u("tel:+1-201-555-0123") else {
            panic!()
        };
        assert!(t.is_global());
        assert_eq!(t.digits(), "+12015550123");
        let Uri::Tel(l) = u("tel:7042;phone-context=example.com") else {
            panic!()
        };
        assert_eq!(l.phone_context(), Some("example.com"));
        assert!(Uri::parse("tel:7042").is_err());
        assert!(Uri::parse("tel:+").is_err());
        assert!(u("tel:+1-201-555-0123").equivalent(&u("tel:+12015550123")));
        assert!(
            u("tel:7042;phone-context=Example.com;x=1")
                .equivalent(&u("tel:7042;X=1;phone-context=example.com"))
        );
        assert!(!u("tel:+12015550123").equivalent(&u("tel:+12015550124")));
        assert_eq!(
            u("tel:863-1234;phone-context=+1-914-555").to_string(),
            "tel:863-1234;phone-context=+1-914-555"
        );
    }
}
