//! Address signals (Q.763 §3.9): BCD, two per octet, first digit in bits 4-1.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

/// A sequence of address signals, each 0..=15 (`0`–`9`, `B` code 11, `C` code 12, `F` ST).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Digits(SmallVec<[u8; 24]>);

impl Digits {
    pub fn new() -> Self {
        Digits(SmallVec::new())
    }

    /// Parse `0-9 A-F` (case-insensitive), one signal per character.
    pub fn from_hex_str(s: &str) -> Option<Self> {
        s.chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<SmallVec<_>>>()
            .map(Digits)
    }

    pub fn signals(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, signal: u8) {
        self.0.push(signal & 0x0F);
    }

    /// True when there is an odd number of signals (the odd/even indicator).
    pub fn is_odd(&self) -> bool {
        self.0.len() % 2 == 1
    }

    /// Unpack from octets; `odd` drops the filler nibble of the last octet.
    pub(crate) fn unpack(octets: &[u8], odd: bool) -> Option<Self> {
        if odd && octets.is_empty() {
            return None;
        }
        let n = octets.len() * 2 - odd as usize;
        if octets.len() <= 12 {
            // Inline fast path: unpack into the inline buffer without per-signal capacity checks.
            let mut buf = [0u8; 24];
            for (i, &o) in octets.iter().enumerate() {
                buf[2 * i] = o & 0x0F;
                buf[2 * i + 1] = o >> 4;
            }
            return Some(Digits(SmallVec::from_buf_and_len(buf, n)));
        }
        let mut d: SmallVec<[u8; 24]> = octets.iter().flat_map(|o| [o & 0x0F, o >> 4]).collect();
        d.truncate(n);
        Some(Digits(d))
    }

    /// Pack into octets, filler 0 in the last high nibble when odd.
    pub(crate) fn pack<S: crate::sink::Sink>(&self, out: &mut S) {
        for pair in self.0.chunks(2) {
            let hi = pair.get(1).copied().unwrap_or(0);
            out.put((pair[0] & 0x0F) | (hi << 4));
        }
    }

    /// True if every signal is a decimal digit.
    pub fn is_decimal(&self) -> bool {
        self.0.iter().all(|&d| d <= 9)
    }
}

impl std::fmt::Display for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for &d in &self.0 {
            f.write_str(&"0123456789ABCDEF"[d as usize..d as usize + 1])?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digits({self})")
    }
}

impl std::str::FromStr for Digits {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digits::from_hex_str(s).ok_or("address signals must be hex characters 0-9 A-F")
    }
}

impl Serialize for Digits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
