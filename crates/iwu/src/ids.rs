//! Deterministic identifiers (Via branches, tags, Call-IDs) from a caller-given seed, so that test
//! ladders are reproducible. SplitMix64: statistically good, not cryptographic; the runtime seeds
//! it from the OS at start-up (RFC 3261 §8.1.1.4/§19.3 need uniqueness, not secrecy).

#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
}

impl IdGen {
    pub fn new(seed: u64) -> Self {
        IdGen { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// RFC 3261 §8.1.1.7: branch starting with the magic cookie.
    pub fn branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.next_u64())
    }

    /// RFC 3261 §19.3: a tag with at least 32 random bits.
    pub fn tag(&mut self) -> String {
        format!("{:012x}", self.next_u64() & 0xffff_ffff_ffff)
    }

    pub fn call_id(&mut self, host: &str) -> String {
        format!("{:016x}@{host}", self.next_u64())
    }

    /// RFC 3262 §3: initial RSeq in 1..2^31-1.
    pub fn rseq(&mut self) -> u32 {
        (self.next_u64() % ((1u64 << 31) - 2)) as u32 + 1
    }
}
