//! M3UA over a byte stream (TCP): messages delimited by the Message Length of the common header
//! (RFC 4666 §3.1.4). Unlike a generic length-delimited codec, lengths below 8, lengths that are
//! not a multiple of 4 and lengths above a limit are errors, so a bad peer cannot make the reader
//! spin on empty frames or allocate without bound.

use bytes::{Bytes, BytesMut};

use crate::wire::{HEADER_LEN, MAX_MESSAGE_LEN, VERSION, peek_length};

/// Why the byte stream cannot be split into M3UA messages. The stream is unusable after this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message length {0} is below the 8-octet header")]
    TooShort(u32),
    #[error("message length {0} is not a multiple of 4")]
    NotAligned(u32),
    #[error("message length {len} exceeds the limit of {max}")]
    TooLong { len: u32, max: usize },
    #[error("version {0} where a message should start")]
    BadVersion(u8),
}

/// Splits a byte stream into whole M3UA messages.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder {
            max_len: MAX_MESSAGE_LEN,
        }
    }
}

impl FrameDecoder {
    /// `max_len` is the largest message accepted (header included).
    pub fn new(max_len: usize) -> Self {
        FrameDecoder {
            max_len: max_len.max(HEADER_LEN),
        }
    }

    /// Takes the next whole message off the front of `buf`, if one is complete.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(len) = peek_length(buf) else {
            return Ok(None);
        };
        if buf[0] != VERSION {
            return Err(FrameError::BadVersion(buf[0]));
        }
        if (len as usize) < HEADER_LEN {
            return Err(FrameError::TooShort(len));
        }
        if len % 4 != 0 {
            return Err(FrameError::NotAligned(len));
        }
        if len as usize > self.max_len {
            return Err(FrameError::TooLong {
                len,
                max: self.max_len,
            });
        }
        if buf.len() < len as usize {
            buf.reserve(len as usize - buf.len());
            return Ok(None);
        }
        Ok(Some(buf.split_to(len as usize).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_partial_and_coalesced_messages() {
        let d = FrameDecoder::default();
        let aspup = [1, 0, 3, 1, 0, 0, 0, 8];
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&aspup);
        buf.extend_from_slice(&aspup[..5]);
        assert_eq!(d.decode(&mut buf).unwrap().as_deref(), Some(&aspup[..]));
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&aspup[5..]);
        assert_eq!(d.decode(&mut buf).unwrap().as_deref(), Some(&aspup[..]));
        assert!(buf.is_empty());
        assert_eq!(d.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn rejects_zero_short_unaligned_and_huge_lengths() {
        let d = FrameDecoder::new(1024);
        let case = |b: &[u8]| d.decode(&mut BytesMut::from(b));
        assert_eq!(
            case(&[1, 0, 3, 1, 0, 0, 0, 0]),
            Err(FrameError::TooShort(0))
        );
        assert_eq!(
            case(&[1, 0, 3, 1, 0, 0, 0, 4]),
            Err(FrameError::TooShort(4))
        );
        assert_eq!(
            case(&[1, 0, 3, 1, 0, 0, 0, 9]),
            Err(FrameError::NotAligned(9))
        );
        assert_eq!(
            case(&[1, 0, 3, 1, 0xff, 0xff, 0xff, 0xfc]),
            Err(FrameError::TooLong {
                len: 0xffff_fffc,
                max: 1024
            })
        );
        assert_eq!(
            case(&[2, 0, 3, 1, 0, 0, 0, 8]),
            Err(FrameError::BadVersion(2))
        );
    }
}
