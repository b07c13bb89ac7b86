//! Where encoders write. `Vec<u8>` is the usual sink; [`Matcher`] compares instead of writing, which
//! lets the decoder prove, without allocating, that a typed value re-encodes to the octets it came from.

/// A byte sink for encoders.
pub trait Sink {
    fn put(&mut self, byte: u8);
    fn put_slice(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, byte: u8) {
        self.push(byte);
    }
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A sink that checks the written octets against an expected slice.
pub(crate) struct Matcher<'a> {
    expected: &'a [u8],
    pos: usize,
    ok: bool,
}

impl<'a> Matcher<'a> {
    pub(crate) fn new(expected: &'a [u8]) -> Self {
        Matcher {
            expected,
            pos: 0,
            ok: true,
        }
    }

    /// True when exactly the expected octets were written.
    pub(crate) fn matched(&self) -> bool {
        self.ok && self.pos == self.expected.len()
    }
}

impl Sink for Matcher<'_> {
    #[inline]
    fn put(&mut self, byte: u8) {
        if self.expected.get(self.pos) == Some(&byte) {
            self.pos += 1;
        } else {
            self.ok = false;
        }
    }
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if self.expected.get(self.pos..end) == Some(bytes) {
            self.pos = end;
        } else {
            self.ok = false;
        }
    }
}
