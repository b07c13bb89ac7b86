//! Sans-IO stream framing by Content-Length (RFC 3261 §18.3), bounded by [`Limits`].

use crate::message::{Limits, Message, ParseError, lenient_frame_len};

/// A message that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError {
    pub error: ParseError,
    /// The octets of the bad message (or the whole buffer when not framed).
    pub raw: Vec<u8>,
    /// The stream cannot be resynchronised: answer, then close.
    pub fatal: bool,
}

/// Accumulates stream octets and yields whole messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    limits: Limits,
}

impl StreamFramer {
    pub fn new(limits: Limits) -> Self {
        StreamFramer {
            buf: Vec::with_capacity(4096),
            limits,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Octets buffered and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message. On error the caller answers using the raw
    /// octets; when the bad message could still be framed (its header
    /// section ends and a Content-Length is readable) it has been skipped and
    /// the stream goes on, otherwise the error is `fatal` and the caller closes.
    pub fn next_message(&mut self) -> Result<Option<Message>, FramingError> {
        match Message::parse_stream(&self.buf, &self.limits) {
            Ok(Some((m, used))) => {
                self.buf.drain(..used);
                Ok(Some(m))
            }
            Ok(None) => {
                // keep-alive CRLFs alone are consumed
                if self.buf.iter().all(|&b| b == b'\r' || b == b'\n') {
                    self.buf.clear();
                }
                Ok(None)
            }
            Err(error) => {
                let skip = match error {
                    ParseError::TooLarge(_)
                    | ParseError::BodyTooLarge(_)
                    | ParseError::MissingContentLength => None,
                    _ => lenient_frame_len(&self.buf, &self.limits),
                };
                match skip {
                    // framed but not yet complete: wait for the rest, then report
                    Some(n) if n > self.buf.len() => Ok(None),
                    Some(n) => {
                        let raw: Vec<u8> = self.buf.drain(..n).collect();
                        Err(FramingError {
                            error,
                            raw,
                            fatal: false,
                        })
                    }
                    None => Err(FramingError {
                        error,
                        raw: std::mem::take(&mut self.buf),
                        fatal: true,
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn byte_by_byte_and_pipelined() {
        let mut f = StreamFramer::new(Limits::default());
        let mut got = 0;
        let stream: Vec<u8> = [b"\r\n\r\n".as_slice(), MSG, MSG, b"\r\n"].concat();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Some(m) = f.next_message().unwrap() {
                assert_eq!(m.body(), b"abc");
                got += 1;
            }
        }
        assert_eq!(got, 2);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn bad_message_is_skipped_when_framed() {
        let bad: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: 99999999999 OPTIONS\r\nl: 3\r\n\r\nxyz";
        let mut f = StreamFramer::new(Limits::default());
        f.push(&[bad, MSG].concat()[..bad.len() + 5]);
        let e = f.next_message().unwrap_err();
        assert!(!e.fatal);
        assert_eq!(e.raw, bad);
        assert!(f.next_message().unwrap().is_none()); // rest of MSG not here yet
        f.push(&MSG[5..]);
        assert_eq!(f.next_message().unwrap().unwrap().body(), b"abc");
        // a bad message whose body has not fully arrived waits for it
        let mut f = StreamFramer::new(Limits::default());
        f.push(&bad[..bad.len() - 1]);
        assert!(f.next_message().unwrap().is_none());
        f.push(&bad[bad.len() - 1..]);
        assert!(!f.next_message().unwrap_err().fatal);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn bounded_buffering() {
        let mut f = StreamFramer::new(Limits {
            max_message_size: 1000,
            ..Limits::default()
        });
        f.push(&vec![b'x'; 999]);
        assert!(f.next_message().unwrap().is_none());
        f.push(b"yy");
        assert!(matches!(
            f.next_message(),
            Err(FramingError {
                error: ParseError::TooLarge(1000),
                fatal: true,
                ..
            })
        ));
        let mut f = StreamFramer::new(Limits {
            max_message_size: 200,
            ..Limits::default()
        });
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 100000\r\n\r\n");
        assert!(matches!(
            f.next_message(),
            Err(FramingError {
                error: ParseError::BodyTooLarge(_),
                fatal: true,
                ..
            })
        ));
    }
}
