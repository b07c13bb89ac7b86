//! The common message header (RFC 4666 §3.1).

use crate::error::DecodeError;
use crate::wire::param::ParamIter;

/// Length of the common header.
pub const HEADER_LEN: usize = 8;
/// RFC 4666 §3.1.1: protocol version 1.
pub const VERSION: u8 = 1;
/// Largest message this implementation accepts by default: a 272-octet MTP3 payload (or a
/// 4 kB broadband MTP payload) plus parameters fits with plenty of room.
pub const MAX_MESSAGE_LEN: usize = 65_536;

/// The Message Length field of the header at the start of `buf`, if 8 octets are there.
#[inline]
pub fn peek_length(buf: &[u8]) -> Option<u32> {
    let b = buf.get(4..8)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A read-only view of one whole M3UA message: header plus parameters.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps octets without checking them; accessors then may see short or inconsistent data
    /// but never panic.
    pub fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wraps exactly one message: at least 8 octets, version 1, and a Message Length that is a
    /// multiple of 4 equal to the number of octets (RFC 4666 §3.1.4, §3.2 padding).
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::Truncated(b.len()));
        }
        if b[0] != VERSION {
            return Err(DecodeError::InvalidVersion(b[0]));
        }
        let declared = peek_length(b).unwrap_or(0);
        if declared as usize != b.len() || declared % 4 != 0 {
            return Err(DecodeError::BadLength {
                declared,
                available: b.len(),
            });
        }
        Ok(Header { buffer })
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    /// Version field.
    pub fn version(&self) -> u8 {
        self.byte(0)
    }
    /// Message Class field.
    pub fn class(&self) -> u8 {
        self.byte(2)
    }
    /// Message Type field.
    pub fn msg_type(&self) -> u8 {
        self.byte(3)
    }
    /// Message Length field (whole message, header and padding included).
    pub fn length(&self) -> u32 {
        peek_length(self.buffer.as_ref()).unwrap_or(0)
    }
    /// The parameter octets after the header.
    pub fn parameters(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
    /// Iterates the TLV parameters.
    pub fn params(&self) -> ParamIter<'_> {
        ParamIter::new(self.parameters(), HEADER_LEN)
    }
    /// The octets wrapped.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}
