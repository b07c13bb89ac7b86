//! SIP messages (RFC 3261 §7): parse from datagrams or streams, emit bytes.

use crate::grammar::SyntaxError;
use crate::header::{HEADERS, Hdr, HeaderName, Headers};
use crate::method::Method;
use crate::status::reason_phrase;
use crate::uri::{Uri, UriError};
use memchr::{memchr, memchr_iter};
use std::fmt;

/// Bounds on what the parser accepts (RFC 3261 §18.1.1 / §18.3 leave these to the element).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole message, start line to end of body.
    pub max_message_size: usize,
    /// Number of header fields.
    pub max_headers: usize,
    /// One header line (after unfolding), or the start line.
    pub max_line_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 64 * 1024,
            max_headers: 256,
            max_line_len: 8 * 1024,
        }
    }
}

/// Why a message was rejected. `status()` gives the response to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("header section not terminated by an empty line")]
    Incomplete,
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    #[error("unsupported SIP version")]
    Version,
    #[error("invalid status code")]
    StatusCode,
    #[error("invalid method token")]
    Method,
    #[error("invalid Request-URI: {0}")]
    RequestUri(UriError),
    #[error("malformed header line: {0}")]
    HeaderLine(&'static str),
    #[error("invalid {name} header: {reason}")]
    Header {
        name: &'static str,
        reason: SyntaxError,
    },
    #[error("duplicate {0} header")]
    Duplicate(&'static str),
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    #[error("Content-Length {declared} exceeds the {available} octets received")]
    BodyTruncated { declared: usize, available: usize },
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
    #[error("text is not UTF-8")]
    Utf8,
    #[error("message larger than {0} octets")]
    TooLarge(usize),
    #[error("body larger than {0} octets")]
    BodyTooLarge(usize),
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    #[error("line longer than {0} octets")]
    LineTooLong(usize),
}

impl ParseError {
    /// The response a server sends for this error (RFC 3261 §21.4, §21.5).
    pub fn status(&self) -> u16 {
        match self {
            ParseError::Version => 505,
            ParseError::TooLarge(_) => 513,
            ParseError::BodyTooLarge(_) => 413,
            _ => 400,
        }
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

enum StartLine {
    Request(Method, Uri),
    Response(u16, String),
}

struct Head {
    start: StartLine,
    headers: Headers,
    content_length: Option<usize>,
    /// Offset of the body in the input.
    body_at: usize,
}

fn skip_leading_crlf(buf: &[u8]) -> usize {
    // RFC 3261 §7.5: ignore CRLFs before the start line.
    buf.iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len())
}

#[inline]
fn line_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    // Returns (end of content, start of next line). Bare LF tolerated.
    let nl = from + memchr(b'\n', &buf[from..])?;
    let end = if nl > from && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

fn utf8(b: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(b).map_err(|_| ParseError::Utf8)
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let (ver, rest) = line
            .split_once(' ')
            .ok_or(ParseError::StartLine("no status code"))?;
        check_version(ver)?;
        let (code, reason) = match rest.split_once(' ') {
            Some((c, r)) => (c, r),
            None => (rest, ""),
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::StatusCode);
        }
        let code: u16 = code.parse().map_err(|_| ParseError::StatusCode)?;
        if !(100..=699).contains(&code) {
            return Err(ParseError::StatusCode);
        }
        if reason.bytes().any(|b| b < 0x20 && b != b'\t') {
            return Err(ParseError::StartLine("control octet in reason phrase"));
        }
        return Ok(StartLine::Response(code, reason.to_string()));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (single SPs, §7.1)
    let b = line.as_bytes();
    let parts = memchr(b' ', b).and_then(|i| {
        let j = i + 1 + memchr(b' ', &b[i + 1..])?;
        match memchr(b' ', &b[j + 1..]) {
            None => Some((&line[..i], &line[i + 1..j], &line[j + 1..])),
            Some(_) => None,
        }
    });
    let Some((m, u, v)) = parts else {
        return Err(ParseError::StartLine(
            "request line is not exactly Method SP Request-URI SP SIP-Version",
        ));
    };
    if m.is_empty() || u.is_empty() || v.is_empty() {
        return Err(ParseError::StartLine("empty element in request line"));
    }
    check_version(v)?;
    let method = Method::parse(m).ok_or(ParseError::Method)?;
    let uri = Uri::parse(u).map_err(ParseError::RequestUri)?;
    if let Uri::Sip(s) = &uri {
        // RFC 3261 §19.1.1 table 1: headers are not allowed in a Request-URI.
        if !s.headers.is_empty() {
            return Err(ParseError::RequestUri(UriError(
                "headers not allowed in Request-URI",
            )));
        }
    }
    Ok(StartLine::Request(method, uri))
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let well_formed = v.len() > 4
        && v.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/")
        && v.get(4..)
            .unwrap_or("")
            .split_once('.')
            .is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
            });
    if well_formed {
        Err(ParseError::Version)
    } else {
        Err(ParseError::StartLine("bad SIP-Version"))
    }
}

/// Just after the empty line that ends the header section (RFC 3261 §7: the first one), with
/// lines ended as [`line_end`] ends them (CRLF, or a bare LF): an LF followed by LF or CR LF.
/// Datagram parsing, stream framing and [`lenient_frame_len`] all use this one rule, so where a
/// message on a stream ends never depends on how much of the stream has arrived: a later
/// CRLF CRLF must not win over an earlier bare-LF empty line once it arrives.
fn head_end(buf: &[u8]) -> Option<usize> {
    memchr_iter(b'\n', buf).find_map(|i| match buf.get(i + 1..) {
        Some([b'\n', ..]) => Some(i + 2),
        Some([b'\r', b'\n', ..]) => Some(i + 3),
        _ => None,
    })
}

fn parse_head(buf: &[u8], limits: &Limits) -> Result<Head, ParseError> {
    match parse_head_fast(buf, limits) {
        Some(head) => Ok(head),
        None => parse_head_general(buf, limits),
    }
}

/// Header lines [`parse_head_fast`] keeps track of; a longer header section takes the general
/// path.
const FAST_LINES: usize = 128;

/// [`parse_head`] for the common case: every line of the header section ends in CRLF, no field
/// is folded, and the message is valid. Returns `None` whenever that is not so, and then
/// [`parse_head_general`] runs (and picks the error to report); when it returns a head, it is
/// the one the general path would return (`tests::fast_path_agrees`). Faster because it finds
/// every line end in one pass, keeps the header section in one copy with the fields as ranges
/// of it, and marks the fields already in serialized form (`Name: value CRLF`) so that
/// serialization copies them as received.
fn parse_head_fast(buf: &[u8], limits: &Limits) -> Option<Head> {
    // The LF of each line up to the empty line that ends the section, each after a CR.
    let mut ends = [0u32; FAST_LINES];
    let mut lines = 0;
    let mut line_start = 0;
    let mut head_end = None;
    for nl in memchr_iter(b'\n', buf) {
        if nl == line_start || buf[nl - 1] != b'\r' {
            return None; // bare LF
        }
        if nl - 1 == line_start {
            head_end = Some(nl + 1);
            break;
        }
        if lines == FAST_LINES {
            return None;
        }
        ends[lines] = u32::try_from(nl).ok()?;
        lines += 1;
        line_start = nl + 1;
    }
    let head_end = head_end?;
    if lines == 0 {
        return None;
    }
    let text = std::str::from_utf8(&buf[..head_end]).ok()?;
    let sl_end = ends[0] as usize - 1;
    if sl_end > limits.max_line_len {
        return None;
    }
    let start = parse_start_line(&text[..sl_end]).ok()?;
    let section_at = ends[0] as usize + 1;
    let mut headers = Headers::from_section(&text[section_at..], lines - 1);
    let mut seen = [0u64; 2];
    let mut content_length = None;
    for k in 1..lines {
        let pos = ends[k - 1] as usize + 1;
        let line = &buf[pos..ends[k] as usize - 1];
        if line.len() > limits.max_line_len || headers.len() >= limits.max_headers {
            return None;
        }
        // A line starting with SP/HTAB continues the previous field (folding).
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return None;
        }
        // As the general path reads a line: name and value around the first ':', trimmed.
        let colon = memchr(b':', line)?;
        let (name_end, v0, v1, plain) = if colon > 0
            && !matches!(line[colon - 1], b' ' | b'\t')
            && line.get(colon + 1) == Some(&b' ')
            && line
                .get(colon + 2)
                .is_some_and(|c| !matches!(c, b' ' | b'\t'))
            && !matches!(line[line.len() - 1], b' ' | b'\t')
        {
            // `Name: value`, as it will be written if the name is
            (colon, colon + 2, line.len(), true)
        } else {
            let mut name_end = colon;
            while name_end > 0 && matches!(line[name_end - 1], b' ' | b'\t') {
                name_end -= 1;
            }
            let mut v0 = colon + 1;
            while v0 < line.len() && matches!(line[v0], b' ' | b'\t') {
                v0 += 1;
            }
            let mut v1 = line.len();
            while v1 > v0 && matches!(line[v1 - 1], b' ' | b'\t') {
                v1 -= 1;
            }
            (name_end, v0, v1, false)
        };
        let value = &text[pos + v0..pos + v1];
        let (name, raw) = match Hdr::lookup_spelled(&line[..name_end]) {
            Some((h, canonical)) => {
                check_known(h, value, &mut seen, &mut content_length).ok()?;
                (HeaderName::Known(h), plain && canonical)
            }
            None => {
                let name = &text[pos..pos + name_end];
                if !crate::grammar::is_token_str(name) {
                    return None;
                }
                (HeaderName::Other(name.into()), plain)
            }
        };
        let at = pos - section_at;
        headers.push_range(name, at + v0, at + v1, raw);
    }
    if let StartLine::Request(m, _) = &start {
        if let Some(c) = headers.get(Hdr::CSeq) {
            let cm = c.split_ascii_whitespace().nth(1).unwrap_or("");
            if cm != m.as_str() {
                return None;
            }
        }
    }
    Some(Head {
        start,
        headers,
        content_length,
        body_at: head_end,
    })
}

/// The parse-time rules for one known header field (the `single` and `check` columns of the
/// header table), and Content-Length remembered for framing.
#[inline]
fn check_known(
    h: Hdr,
    value: &str,
    seen: &mut [u64; 2],
    content_length: &mut Option<usize>,
) -> Result<(), ParseError> {
    let def = &HEADERS[h as usize];
    if def.single {
        let (w, bit) = ((h as usize) / 64, 1u64 << ((h as usize) % 64));
        if seen[w] & bit != 0 {
            return Err(ParseError::Duplicate(def.name));
        }
        seen[w] |= bit;
    }
    if let Some(check) = def.check {
        check(value).map_err(|reason| ParseError::Header {
            name: def.name,
            reason,
        })?;
    }
    if h == Hdr::ContentLength {
        *content_length = crate::header::parse_content_length(value).ok();
    }
    Ok(())
}

/// [`parse_head`] for any input: bare-LF line ends, folding, and the first error in the order
/// the checks are listed.
fn parse_head_general(buf: &[u8], limits: &Limits) -> Result<Head, ParseError> {
    // The header section must be UTF-8 (RFC 3261 §7.3.1 TEXT-UTF8): check it
    // once, so lines can be sliced without re-checking.
    // Unterminated: the lines report the first error, else Incomplete.
    let head_end = head_end(buf).unwrap_or(buf.len());
    let text = utf8(&buf[..head_end])?;
    let buf = text.as_bytes();
    let (sl_end, mut pos) = line_end(buf, 0).ok_or(ParseError::Incomplete)?;
    if sl_end > limits.max_line_len {
        return Err(ParseError::LineTooLong(limits.max_line_len));
    }
    let start = parse_start_line(&text[..sl_end])?;
    let mut headers = Headers::with_capacity(16, buf.len().min(2048));
    let mut seen = [0u64; 2]; // singleton headers seen, indexed by Hdr
    let mut content_length = None;
    let mut folded = String::new();
    loop {
        let (end, next) = line_end(buf, pos).ok_or(ParseError::Incomplete)?;
        if end == pos {
            pos = next;
            break;
        }
        // Gather continuation lines (RFC 3261 §7.3.1 folding).
        let mut line_last = end;
        let mut after = next;
        let mut is_folded = false;
        while after < buf.len() && (buf[after] == b' ' || buf[after] == b'\t') {
            let (e2, n2) = line_end(buf, after).ok_or(ParseError::Incomplete)?;
            if !is_folded {
                folded.clear();
                is_folded = true;
                folded.push_str(&text[pos..end]);
            }
            let cont = crate::grammar::trim_lws(&text[after..e2]);
            if !cont.is_empty() {
                folded.push(' ');
                folded.push_str(cont);
            }
            line_last = e2;
            after = n2;
        }
        if line_last - pos > limits.max_line_len {
            return Err(ParseError::LineTooLong(limits.max_line_len));
        }
        // line ends sit at ASCII CR/LF, so these are char boundaries
        let line: &str = if is_folded { &folded } else { &text[pos..end] };
        let colon = memchr(b':', line.as_bytes()).ok_or(ParseError::HeaderLine("missing ':'"))?;
        let name = crate::grammar::trim_lws(&line[..colon]);
        let value = crate::grammar::trim_lws(&line[colon + 1..]);
        if headers.len() >= limits.max_headers {
            return Err(ParseError::TooManyHeaders(limits.max_headers));
        }
        match Hdr::lookup(name.as_bytes()) {
            Some(h) => {
                check_known(h, value, &mut seen, &mut content_length)?;
                headers.push(h, value);
            }
            None => {
                if !crate::grammar::is_token_str(name) {
                    return Err(ParseError::HeaderLine("header name is not a token"));
                }
                headers.push(HeaderName::Other(name.into()), value)
            }
        }
        pos = after;
    }
    if let StartLine::Request(m, _) = &start {
        if let Some(c) = headers.get(Hdr::CSeq) {
            // RFC 3261 §8.2: CSeq method must equal the request method.
            let cm = c.split_ascii_whitespace().nth(1).unwrap_or("");
            if cm != m.as_str() {
                return Err(ParseError::CSeqMismatch);
            }
        }
    }
    Ok(Head {
        start,
        headers,
        content_length,
        body_at: pos,
    })
}

fn assemble(head: Head, body: &[u8]) -> Message {
    match head.start {
        StartLine::Request(method, uri) => Message::Request(Request {
            method,
            uri,
            headers: head.headers,
            body: body.to_vec(),
        }),
        StartLine::Response(status, reason) => Message::Response(Response {
            status,
            reason,
            headers: head.headers,
            body: body.to_vec(),
        }),
    }
}

/// Length of the first message in a stream buffer, read leniently (header
/// end plus a Content-Length found by name alone), so that a message that
/// failed to parse can be skipped without losing the stream. `None` if the
/// header section has not ended within the limits or has no readable
/// Content-Length.
pub fn lenient_frame_len(buf: &[u8], limits: &Limits) -> Option<usize> {
    let skip = skip_leading_crlf(buf);
    let b = &buf[skip..];
    let hdr_end = head_end(b)?;
    if hdr_end > limits.max_message_size {
        return None;
    }
    let mut cl = None;
    for line in b[..hdr_end].split(|&c| c == b'\n') {
        let Some(colon) = memchr(b':', line) else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if Hdr::lookup(name) == Some(Hdr::ContentLength) {
            let v = std::str::from_utf8(line[colon + 1..].trim_ascii()).ok()?;
            if cl.is_some() {
                return None; // ambiguous framing
            }
            cl = Some(v.parse::<usize>().ok()?);
        }
    }
    let total = hdr_end.checked_add(cl?)?;
    (total <= limits.max_message_size).then_some(skip + total)
}

impl Message {
    /// Parses one message from a datagram (RFC 3261 §18.3): the body is
    /// Content-Length octets if present (extra octets are ignored), otherwise
    /// the rest of the datagram.
    pub fn parse(buf: &[u8]) -> Result<Message, ParseError> {
        Self::parse_datagram(buf, &Limits::default())
    }

    pub fn parse_datagram(buf: &[u8], limits: &Limits) -> Result<Message, ParseError> {
        let buf = &buf[skip_leading_crlf(buf)..];
        if buf.is_empty() {
            return Err(ParseError::Empty);
        }
        if buf.len() > limits.max_message_size {
            return Err(ParseError::TooLarge(limits.max_message_size));
        }
        let head = parse_head(buf, limits)?;
        let avail = &buf[head.body_at..];
        let body = match head.content_length {
            Some(n) if n > avail.len() => {
                return Err(ParseError::BodyTruncated {
                    declared: n,
                    available: avail.len(),
                });
            }
            Some(n) => &avail[..n],
            None => avail,
        };
        Ok(assemble(head, body))
    }

    /// Parses one message from the front of a stream buffer (RFC 3261 §18.3:
    /// Content-Length is mandatory). `Ok(None)` means more octets are needed;
    /// otherwise returns the message and the number of octets consumed
    /// (including any leading CRLF keep-alives).
    pub fn parse_stream(
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<(Message, usize)>, ParseError> {
        let skip = skip_leading_crlf(buf);
        let b = &buf[skip..];
        if b.is_empty() {
            return Ok(None);
        }
        let Some(hdr_end) = head_end(b) else {
            if b.len() > limits.max_message_size {
                return Err(ParseError::TooLarge(limits.max_message_size));
            }
            return Ok(None);
        };
        if hdr_end > limits.max_message_size {
            return Err(ParseError::TooLarge(limits.max_message_size));
        }
        let head = parse_head(&b[..hdr_end], limits)?;
        let n = head
            .content_length
            .ok_or(ParseError::MissingContentLength)?;
        if head.body_at.saturating_add(n) > limits.max_message_size {
            return Err(ParseError::BodyTooLarge(
                limits.max_message_size.saturating_sub(head.body_at),
            ));
        }
        let total = head.body_at + n;
        if b.len() < total {
            return Ok(None);
        }
        let body_at = head.body_at;
        Ok(Some((assemble(head, &b[body_at..total]), skip + total)))
    }

    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }
    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1024 + self.body().len());
        self.write_to(&mut v);
        v
    }

    /// RFC 3261 §8.1.1 / §8.2: the header fields every request and response
    /// must carry (insuf.dat in RFC 4475 §3.3.1 lacks them).
    pub fn check_mandatory(&self) -> Result<(), crate::header::HeaderError> {
        let h = self.headers();
        h.top_via()?;
        h.from()?;
        h.to()?;
        h.call_id()?;
        h.cseq()?;
        if let Message::Request(r) = self {
            if r.method != Method::Ack && r.method != Method::Cancel {
                // Max-Forwards is mandatory in RFC 3261 requests, but RFC 2543 peers
                // omit it (RFC 4475 §3.4.1), so only its syntax was checked at parse time.
            }
        }
        Ok(())
    }
}

/// Writes headers and body; Content-Length always reflects the body
/// (replaced in place, or appended when absent).
fn write_headers_body(headers: &Headers, body: &[u8], out: &mut Vec<u8>) {
    headers.write_to(body.len(), out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl Request {
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        self.uri.write_to(out);
        out.extend_from_slice(b" SIP/2.0\r\n");
        write_headers_body(&self.headers, &self.body, out);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1024 + self.body.len());
        self.write_to(&mut v);
        v
    }

    /// Sets the body and its Content-Type (None removes Content-Type).
    pub fn set_body(&mut self, content_type: Option<&str>, body: Vec<u8>) {
        match content_type {
            Some(ct) => self.headers.set(Hdr::ContentType, ct),
            None => {
                self.headers.remove(Hdr::ContentType);
            }
        }
        self.body = body;
        self.headers
            .set(Hdr::ContentLength, &self.body.len().to_string());
    }
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            reason: reason_phrase(status).to_string(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// RFC 3261 §8.2.6.2: a response copies Via, From, To, Call-ID and CSeq
    /// from the request (To gets `to_tag` if given and not already tagged).
    pub fn for_request(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
        let mut r = Response::new(status);
        for (n, v) in req.headers.iter() {
            if let HeaderName::Known(h) = n {
                match h {
                    Hdr::Via | Hdr::From | Hdr::CallId | Hdr::CSeq => r.headers.push(*h, v),
                    Hdr::To => match (to_tag, req.headers.to()) {
                        (Some(tag), Ok(mut to)) if to.tag().is_none() && status != 100 => {
                            to.set_tag(tag);
                            r.headers.push(Hdr::To, &to.to_string());
                        }
                        _ => r.headers.push(Hdr::To, v),
                    },
                    // RFC 3261 §8.2.6.1: 100 Trying copies Timestamp.
                    Hdr::Timestamp if status == 100 => r.headers.push(*h, v),
                    // §12.1.1: Record-Route is copied into dialog-creating responses.
                    Hdr::RecordRoute if (101..300).contains(&status) => r.headers.push(*h, v),
                    _ => {}
                }
            }
        }
        r
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SIP/2.0 ");
        let c = self.status;
        out.extend_from_slice(&[
            b'0' + (c / 100 % 10) as u8,
            b'0' + (c / 10 % 10) as u8,
            b'0' + (c % 10) as u8,
        ]);
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_headers_body(&self.headers, &self.body, out);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut v);
        v
    }

    pub fn set_body(&mut self, content_type: Option<&str>, body: Vec<u8>) {
        match content_type {
            Some(ct) => self.headers.set(Hdr::ContentType, ct),
            None => {
                self.headers.remove(Hdr::ContentType);
            }
        }
        self.body = body;
        self.headers
            .set(Hdr::ContentLength, &self.body.len().to_string());
    }

    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn is_final(&self) -> bool {
        self.status >= 200
    }
}

impl fmt::Display for Message {
    /// Lossy text form for logs (non-UTF-8 body octets replaced).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Builds the error response for a request that failed to parse (RFC 3261
/// §21.4.1: the reason phrase names the problem), copying what can be
/// recovered leniently of Via, From, To, Call-ID and CSeq. Returns `None`
/// when the input is not recognisably a request, or is an ACK (never
/// answered), or the headers needed to route a response are missing.
pub fn error_response(raw: &[u8], err: &ParseError, agent: &str) -> Option<Response> {
    let raw = &raw[skip_leading_crlf(raw)..];
    let (sl_end, mut pos) = line_end(raw, 0)?;
    let sl = std::str::from_utf8(&raw[..sl_end]).ok()?;
    if sl.len() < 4 || sl.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") || sl.starts_with("ACK ") {
        return None;
    }
    let status = err.status();
    let mut resp = Response::new(status);
    let reason = err.to_string();
    // Reason-Phrase is TEXT-UTF8; keep it to one printable line.
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    resp.reason = format!("{} ({reason})", reason_phrase(status));
    let mut have_via = false;
    while let Some((end, next)) = line_end(raw, pos) {
        if end == pos {
            break;
        }
        let line = String::from_utf8_lossy(&raw[pos..end]);
        pos = next;
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let Some(h) = Hdr::lookup(name.trim_end().as_bytes()) else {
            continue;
        };
        let value = value.trim();
        if value.bytes().any(|b| b < 0x20 && b != b'\t') {
            continue;
        }
        match h {
            Hdr::Via => {
                have_via = true;
                resp.headers.push(h, value);
            }
            Hdr::From | Hdr::CallId | Hdr::CSeq if !resp.headers.contains(h) => {
                resp.headers.push(h, value)
            }
            Hdr::To if !resp.headers.contains(h) => {
                // §8.2.6.2: add a To tag if the request had none.
                if value.contains(";tag=") || value.contains("; tag=") {
                    resp.headers.push(h, value);
                } else {
                    resp.headers
                        .push(h, &format!("{value};tag=err{:x}", value.len() ^ raw.len()));
                }
            }
            _ => {}
        }
    }
    if !have_via {
        return None;
    }
    resp.headers.push(
        Hdr::Warning,
        &crate::header::Warning::new(399, agent, &reason).to_string(),
    );
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
X-Custom:  keep me  \r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn parse_and_round_trip() {
        let m = Message::parse(INVITE).unwrap();
        let Message::Request(r) = &m else { panic!() };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.headers.cseq().unwrap().seq, 314159);
        assert_eq!(r.headers.get_named("x-custom").next(), Some("keep me"));
        assert_eq!(r.body, b"v=0\n");
        let again = Message::parse(&m.to_bytes()).unwrap();
        assert_eq!(again, m);
        let expected = String::from_utf8(INVITE.to_vec())
            .unwrap()
            .replace("X-Custom:  keep me  ", "X-Custom: keep me");
        assert_eq!(m.to_bytes(), expected.into_bytes());
    }

    /// Where the fast path returns a head, the general path returns the same one, and the
    /// message serializes to the same octets (the fast path's fields copy their received lines).
    /// Checked on INVITE and on every variant with one octet replaced or removed.
    #[test]
    fn fast_path_agrees() {
        let l = Limits::default();
        let check = |buf: &[u8]| -> bool {
            let buf = &buf[skip_leading_crlf(buf)..];
            let Some(fast) = parse_head_fast(buf, &l) else {
                return false;
            };
            let general = parse_head_general(buf, &l)
                .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(buf)));
            assert_eq!(fast.body_at, general.body_at);
            assert_eq!(fast.content_length, general.content_length);
            let body = &buf[fast.body_at..];
            let (f, g) = (assemble(fast, body), assemble(general, body));
            assert_eq!(f, g, "{:?}", String::from_utf8_lossy(buf));
            assert_eq!(
                String::from_utf8_lossy(&f.to_bytes()),
                String::from_utf8_lossy(&g.to_bytes())
            );
            true
        };
        let mut sip_i = INVITE.to_vec();
        // compact and odd spellings, an unknown header, Content-Length not matching the body
        let extra = "i: a84b4c76e66710\r\nFROM: <sip:x@y>;tag=1\r\nx-odd:v\r\nSubject:   \r\n";
        let at = sip_i.windows(5).position(|w| w == b"Call-").unwrap();
        let cut = sip_i[at..].iter().position(|&b| b == b'\n').unwrap() + at + 1;
        sip_i.splice(at..cut, extra.bytes());
        let from = sip_i.windows(6).position(|w| w == b"From: ").unwrap();
        let cut = sip_i[from..].iter().position(|&b| b == b'\n').unwrap() + from + 1;
        sip_i.drain(from..cut);
        assert!(check(INVITE));
        assert!(check(&sip_i));
        // the body longer than Content-Length says: Content-Length is rewritten
        let mut longer = INVITE.to_vec();
        longer.extend_from_slice(b"more");
        assert!(check(&longer));
        let mut fast = 0;
        for base in [INVITE, &sip_i[..]] {
            let head = base.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            for i in 0..head {
                for c in [
                    b' ', b'\t', b':', b'\r', b'\n', b'a', b'A', b'0', 0x80, b',', b';', b'<',
                ] {
                    let mut m = base.to_vec();
                    m[i] = c;
                    fast += usize::from(check(&m));
                }
                let mut m = base.to_vec();
                m.remove(i);
                fast += usize::from(check(&m));
            }
        }
        assert!(fast > 1000, "{fast}");
    }

    /// `fast_path_agrees` on the RFC 4475 messages and the SIP-T BYE of the shared corpus
    /// (beside the repository; skipped if absent), as received and with the line ends made
    /// CRLF, each with 300 pseudo-random octet replacements and removals.
    #[test]
    fn fast_path_agrees_on_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora");
        let Ok(rfc4475) = std::fs::read_dir(dir.join("resiprocate-rfc4475")) else {
            eprintln!("SKIP: {} not found", dir.display());
            return;
        };
        let mut files: Vec<_> = rfc4475
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "dat"))
            .collect();
        files.push(dir.join("nmusco-sipstack/bye_rel_sipt.sip"));
        let l = Limits::default();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut fast, mut tried) = (0, 0);
        for f in files {
            let Ok(raw) = std::fs::read(&f) else { continue };
            let mut crlf = Vec::new();
            for &b in &raw {
                if b == b'\n' && crlf.last() != Some(&b'\r') {
                    crlf.push(b'\r');
                }
                crlf.push(b);
            }
            for base in [raw, crlf] {
                for round in 0..=300 {
                    let mut m = base.clone();
                    if round > 0 && !m.is_empty() {
                        let i = next() as usize % m.len();
                        const OCTETS: &[u8] = b" \t:;,<>\"\r\naZ0@\x80";
                        match next() % 3 {
                            0 => drop(m.remove(i)),
                            _ => m[i] = OCTETS[next() as usize % OCTETS.len()],
                        }
                    }
                    tried += 1;
                    let b = &m[skip_leading_crlf(&m)..];
                    let Some(head) = parse_head_fast(b, &l) else {
                        continue;
                    };
                    fast += 1;
                    let general = parse_head_general(b, &l).unwrap_or_else(|e| {
                        panic!("{}: {e}: {:?}", f.display(), String::from_utf8_lossy(b))
                    });
                    let body = &b[head.body_at..];
                    assert_eq!(head.body_at, general.body_at);
                    assert_eq!(head.content_length, general.content_length);
                    let (x, y) = (assemble(head, body), assemble(general, body));
                    assert_eq!(x, y, "{}", f.display());
                    assert_eq!(x.to_bytes(), y.to_bytes(), "{}", f.display());
                }
            }
        }
        assert!(fast > tried / 10, "{fast} of {tried}");
    }

    #[test]
    fn stream_framing() {
        let mut two = b"\r\n\r\n".to_vec();
        two.extend_from_slice(INVITE);
        two.extend_from_slice(INVITE);
        let l = Limits::default();
        let (m, n) = Message::parse_stream(&two, &l).unwrap().unwrap();
        assert!(m.is_request());
        assert_eq!(n, 4 + INVITE.len());
        let (_, n2) = Message::parse_stream(&two[n..], &l).unwrap().unwrap();
        assert_eq!(n2, INVITE.len());
        for cut in 0..INVITE.len() {
            assert_eq!(
                Message::parse_stream(&INVITE[..cut], &l).unwrap(),
                None,
                "cut {cut}"
            );
        }
        let no_cl = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n";
        assert_eq!(
            Message::parse_stream(no_cl, &l),
            Err(ParseError::MissingContentLength)
        );
    }

    #[test]
    fn limits() {
        let l = Limits {
            max_message_size: 100,
            max_headers: 3,
            max_line_len: 40,
        };
        assert_eq!(
            Message::parse_datagram(INVITE, &l),
            Err(ParseError::TooLarge(100))
        );
        let l = Limits {
            max_message_size: 10_000,
            max_headers: 3,
            max_line_len: 200,
        };
        assert_eq!(
            Message::parse_datagram(INVITE, &l),
            Err(ParseError::TooManyHeaders(3))
        );
        let l = Limits {
            max_message_size: 10_000,
            max_headers: 30,
            max_line_len: 40,
        };
        assert_eq!(
            Message::parse_datagram(INVITE, &l),
            Err(ParseError::LineTooLong(40))
        );
        let endless = vec![b'A'; 70_000];
        assert!(matches!(
            Message::parse_stream(&endless, &Limits::default()),
            Err(ParseError::TooLarge(_))
        ));
    }

    /// Each limit accepts a message exactly at it and refuses one octet, header or line more.
    #[test]
    fn limits_are_exact() {
        let text = std::str::from_utf8(INVITE).unwrap();
        let head = &text[..text.find("\r\n\r\n").unwrap()];
        let headers = head.lines().count() - 1;
        let longest = head.lines().map(str::len).max().unwrap();
        let exact = Limits {
            max_message_size: INVITE.len(),
            max_headers: headers,
            max_line_len: longest,
        };
        assert!(Message::parse_datagram(INVITE, &exact).is_ok());
        assert!(Message::parse_stream(INVITE, &exact).unwrap().is_some());
        let less = |f: fn(&mut Limits)| {
            let mut l = exact;
            f(&mut l);
            Message::parse_datagram(INVITE, &l).unwrap_err()
        };
        assert_eq!(
            less(|l| l.max_message_size -= 1),
            ParseError::TooLarge(INVITE.len() - 1)
        );
        assert_eq!(
            less(|l| l.max_headers -= 1),
            ParseError::TooManyHeaders(headers - 1)
        );
        assert_eq!(
            less(|l| l.max_line_len -= 1),
            ParseError::LineTooLong(longest - 1)
        );
    }

    #[test]
    fn error_response_for_bad_request() {
        let bad = b"INVITE sip:u@h SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:u@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 300\r\nContent-Length: 0\r\n\r\n";
        let err = Message::parse(bad).unwrap_err();
        assert!(matches!(
            err,
            ParseError::Header {
                name: "Max-Forwards",
                ..
            }
        ));
        let r = error_response(bad, &err, "mgc").unwrap();
        assert_eq!(r.status, 400);
        assert!(r.reason.contains("Max-Forwards"), "{}", r.reason);
        assert!(r.headers.to().unwrap().tag().is_some());
        assert_eq!(r.headers.warning().unwrap()[0].code, 399);
        // the 400 itself parses
        Message::parse(&r.to_bytes()).unwrap();
        assert!(error_response(b"SIP/2.0 200 OK\r\n\r\n", &err, "mgc").is_none());
    }
}
