//! Sans-IO stream framing by Content-Length (RFC 3261 §18.3), bounded by [`Limits`].

use crate::message::{Limits, Message, ParseError};

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

    /// The next complete message. On error the stream cannot be resynchronised:
    /// the caller answers (using the returned raw octets) and closes.
    pub fn next_message(&mut self) -> Result<Option<Message>, (ParseError, Vec<u8>)> {
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
            Err(e) => Err((e, std::mem::take(&mut self.buf))),
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
            Err((ParseError::TooLarge(1000), _))
        ));
        let mut f = StreamFramer::new(Limits {
            max_message_size: 200,
            ..Limits::default()
        });
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 100000\r\n\r\n");
        assert!(matches!(
            f.next_message(),
            Err((ParseError::BodyTooLarge(_), _))
        ));
    }
}
