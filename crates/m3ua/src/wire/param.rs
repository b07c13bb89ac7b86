//! Tag-Length-Value parameters (RFC 4666 §3.2).

use std::fmt;

use crate::error::DecodeError;
use crate::tables;

/// A parameter tag (RFC 4666 §3.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u16);

impl Tag {
    pub const INFO_STRING: Tag = Tag(0x0004);
    pub const ROUTING_CONTEXT: Tag = Tag(0x0006);
    pub const DIAGNOSTIC_INFORMATION: Tag = Tag(0x0007);
    pub const HEARTBEAT_DATA: Tag = Tag(0x0009);
    pub const TRAFFIC_MODE_TYPE: Tag = Tag(0x000b);
    pub const ERROR_CODE: Tag = Tag(0x000c);
    pub const STATUS: Tag = Tag(0x000d);
    pub const ASP_IDENTIFIER: Tag = Tag(0x0011);
    pub const AFFECTED_POINT_CODE: Tag = Tag(0x0012);
    pub const CORRELATION_ID: Tag = Tag(0x0013);
    pub const NETWORK_APPEARANCE: Tag = Tag(0x0200);
    pub const USER_CAUSE: Tag = Tag(0x0204);
    pub const CONGESTION_INDICATIONS: Tag = Tag(0x0205);
    pub const CONCERNED_DESTINATION: Tag = Tag(0x0206);
    pub const PROTOCOL_DATA: Tag = Tag(0x0210);

    /// The RFC's name for the tag, if known.
    pub fn name(self) -> Option<&'static str> {
        tables::parameter_name(self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} (0x{:04x})", self.0),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// `len` rounded up to a multiple of 4 (RFC 4666 §3.2: parameters are padded to 32 bits).
#[inline]
pub const fn padded(len: usize) -> usize {
    (len + 3) & !3
}

/// One TLV parameter seen in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub tag: Tag,
    /// The value, without tag, length or padding.
    pub value: &'a [u8],
    /// Offset of the tag within the message.
    pub offset: usize,
}

/// Iterates TLVs; yields an error once (then stops) on a malformed TLV.
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    failed: bool,
}

impl<'a> ParamIter<'a> {
    /// `base` is the offset of `buf` within the message, for error reports.
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        ParamIter {
            buf,
            pos: 0,
            base,
            failed: false,
        }
    }
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Result<Param<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.base + self.pos;
        let rest = &self.buf[self.pos..];
        let tag = match rest.get(0..2) {
            Some(t) => Tag(u16::from_be_bytes([t[0], t[1]])),
            None => Tag(0),
        };
        let len = match rest.get(2..4) {
            Some(l) => u16::from_be_bytes([l[0], l[1]]) as usize,
            None => 0,
        };
        // RFC 4666 §3.2: Parameter Length counts tag, length and value, never below 4.
        if len < 4 || len > rest.len() {
            self.failed = true;
            return Some(Err(DecodeError::ParameterFieldError { tag, offset }));
        }
        let value = &rest[4..len];
        self.pos += padded(len);
        Some(Ok(Param { tag, value, offset }))
    }
}
