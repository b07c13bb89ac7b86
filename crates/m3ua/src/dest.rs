//! Point-code availability learned from SSNM (RFC 4666 §4.5): DUNA, DAVA, DRST and SCON.
//!
//! Entries may cover a range of point codes (the Affected Point Code mask, RFC 4666 §3.4.1).
//! A lookup takes the most specific entry covering the point code; a point code no entry covers
//! is available, as RFC 4666 §4.5 lets an ASP assume once it is active.

use crate::wire::AffectedPointCode;

/// Reachability of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reachability {
    #[default]
    Available,
    /// DRST: reachable, but through a restricted route (RFC 4666 §3.4.6).
    Restricted,
    /// DUNA (RFC 4666 §3.4.1).
    Unavailable,
}

/// What is known about one destination point code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestinationStatus {
    pub reachability: Reachability,
    /// SCON congestion level 0–3 (RFC 4666 §3.4.4).
    pub congestion_level: u8,
}

/// Entries keyed by affected point code (with mask).
#[derive(Debug, Clone, Default)]
struct RangeMap<T> {
    entries: Vec<(AffectedPointCode, T)>,
}

impl<T: Copy + PartialEq + Default> RangeMap<T> {
    fn set(&mut self, apc: AffectedPointCode, value: T) {
        // Entries inside the new range are superseded by it.
        self.entries.retain(|(e, _)| {
            !(apc.wildcard_bits() >= e.wildcard_bits() && apc.contains(e.point_code))
        });
        // Store unless it equals what a broader entry (or the default) already says.
        if self.get(apc.point_code) != value || apc.wildcard_bits() > 0 {
            self.entries.push((apc, value));
        }
    }

    fn get(&self, pc: u32) -> T {
        self.entries
            .iter()
            .filter(|(e, _)| e.contains(pc))
            .min_by_key(|(e, _)| e.wildcard_bits())
            .map(|&(_, v)| v)
            .unwrap_or_default()
    }
}

/// The destinations an ASP has heard about from its SGP (or an SGP announces to its ASPs).
#[derive(Debug, Clone, Default)]
pub struct DestinationTable {
    reach: RangeMap<Reachability>,
    congestion: RangeMap<u8>,
}

impl DestinationTable {
    /// Records DUNA / DAVA / DRST for each affected point code.
    pub fn set_reachability(&mut self, apcs: &[AffectedPointCode], r: Reachability) {
        for &a in apcs {
            self.reach.set(a, r);
            if r != Reachability::Available {
                continue;
            }
            // Congestion no longer applies to a destination that became available again.
            self.congestion.set(a, 0);
        }
    }

    /// Records SCON.
    pub fn set_congestion(&mut self, apcs: &[AffectedPointCode], level: u8) {
        for &a in apcs {
            self.congestion.set(a, level);
        }
    }

    /// Status of one point code.
    pub fn status(&self, pc: u32) -> DestinationStatus {
        DestinationStatus {
            reachability: self.reach.get(pc),
            congestion_level: self.congestion.get(pc),
        }
    }

    /// Forgets everything (all destinations available again).
    pub fn clear(&mut self) {
        self.reach.entries.clear();
        self.congestion.entries.clear();
    }

    /// Point codes (with masks) currently not available, for reporting.
    pub fn unavailable(&self) -> impl Iterator<Item = AffectedPointCode> + '_ {
        self.reach
            .entries
            .iter()
            .filter(|(_, r)| *r == Reachability::Unavailable)
            .map(|&(a, _)| a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_then_specific() {
        let mut t = DestinationTable::default();
        let range = AffectedPointCode {
            mask: 8,
            point_code: 0x0100,
        };
        t.set_reachability(&[range], Reachability::Unavailable);
        assert_eq!(t.status(0x01ff).reachability, Reachability::Unavailable);
        assert_eq!(t.status(0x0200).reachability, Reachability::Available);
        t.set_reachability(&[AffectedPointCode::new(0x0105)], Reachability::Available);
        assert_eq!(t.status(0x0105).reachability, Reachability::Available);
        assert_eq!(t.status(0x0106).reachability, Reachability::Unavailable);
        t.set_reachability(&[range], Reachability::Available);
        assert_eq!(t.status(0x0106).reachability, Reachability::Available);
        assert_eq!(t.unavailable().count(), 0);
    }

    #[test]
    fn congestion_cleared_by_dava() {
        let mut t = DestinationTable::default();
        let pc = AffectedPointCode::new(514);
        t.set_congestion(&[pc], 2);
        assert_eq!(t.status(514).congestion_level, 2);
        t.set_reachability(&[pc], Reachability::Available);
        assert_eq!(t.status(514), DestinationStatus::default());
    }
}
