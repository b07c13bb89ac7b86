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
    #[inline]
    pub(crate) fn unpack(octets: &[u8], odd: bool) -> Option<Self> {
        if odd && octets.is_empty() {
            return None;
        }
        let mut d = Digits::new();
        d.set_unpacked(octets, odd);
        Some(d)
    }

    /// Replace the signals with those of `octets` (`odd` drops the filler nibble of the last
    /// octet; with no octets it is ignored). Up to 12 octets, the common case, the signals are
    /// spread in registers, four octets at a time, and stored with three word stores, so
    /// that a number decoded into its vector slot is never staged on the stack.
    #[inline]
    pub(crate) fn set_unpacked(&mut self, octets: &[u8], odd: bool) {
        let n = (octets.len() * 2).saturating_sub(odd as usize);
        if octets.len() > 12 {
            let mut d: SmallVec<[u8; 24]> =
                octets.iter().flat_map(|o| [o & 0x0F, o >> 4]).collect();
            d.truncate(n);
            self.0 = d;
            return;
        }
        let mut buf = [0u8; 24];
        for (out, chunk) in buf.chunks_exact_mut(8).zip(octets.chunks(4)) {
            let word = match <[u8; 4]>::try_from(chunk) {
                Ok(four) => u32::from_le_bytes(four),
                Err(_) => chunk.iter().rev().fold(0, |w, &o| (w << 8) | o as u32),
            };
            out.copy_from_slice(&spread_nibbles(word).to_le_bytes());
        }
        self.0 = SmallVec::from_buf_and_len(buf, n);
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

/// Four octets (least significant first) to eight signals, one per octet: octet `i` becomes
/// signals `2i` (bits 4-1) and `2i + 1` (bits 8-5), as Q.763 §3.9 orders them.
#[inline(always)]
fn spread_nibbles(word: u32) -> u64 {
    let w = word as u64;
    let w = (w | (w << 16)) & 0x0000_FFFF_0000_FFFF;
    let w = (w | (w << 8)) & 0x00FF_00FF_00FF_00FF;
    (w & 0x000F_000F_000F_000F) | ((w & 0x00F0_00F0_00F0_00F0) << 4)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-wise unpack agrees with the obvious nibble-by-nibble one, for every length on
    /// both sides of the inline limit and both odd/even indicators.
    #[test]
    fn unpack_matches_nibble_by_nibble() {
        for len in 0..=14usize {
            let octets: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(0x37) ^ 0xA5)
                .collect();
            for odd in [false, true] {
                if odd && len == 0 {
                    assert!(Digits::unpack(&octets, odd).is_none());
                    continue;
                }
                let mut want: Vec<u8> = octets.iter().flat_map(|o| [o & 0x0F, o >> 4]).collect();
                want.truncate(len * 2 - odd as usize);
                let got = Digits::unpack(&octets, odd).unwrap();
                assert_eq!(got.signals(), want.as_slice(), "len {len} odd {odd}");
            }
        }
    }
}
