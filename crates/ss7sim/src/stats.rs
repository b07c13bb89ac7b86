//! Call statistics built from exchange events: attempts, answers, failures by cause and
//! setup-latency percentiles, per direction. Serialized as the load-mode JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::exchange::{Direction, Event};

/// Latency percentiles in milliseconds (nearest-rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(samples: &[Duration]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Percentiles {
            count: v.len(),
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            max_ms: v[v.len() - 1],
            mean_ms: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

/// Latency samples kept per series; beyond this, reservoir sampling keeps a uniform sample so a
/// long-running (embedded) simulator's memory stays bounded.
pub const MAX_SAMPLES: usize = 1 << 20;

/// A bounded uniform sample of durations (Vitter's algorithm R with a xorshift generator).
#[derive(Debug, Clone, Default)]
pub struct Samples {
    kept: Vec<Duration>,
    seen: u64,
    rng: u64,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.seen += 1;
        if self.kept.len() < MAX_SAMPLES {
            self.kept.push(d);
            return;
        }
        self.rng = (self.rng ^ self.seen).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        self.rng ^= self.rng >> 29;
        let j = self.rng % self.seen;
        if (j as usize) < MAX_SAMPLES {
            self.kept[j as usize] = d;
        }
    }
    pub fn as_slice(&self) -> &[Duration] {
        &self.kept
    }
    pub fn len(&self) -> usize {
        self.kept.len()
    }
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

/// Counters for one direction.
#[derive(Debug, Clone, Default)]
pub struct DirectionStats {
    pub attempted: u64,
    pub alerted: u64,
    pub answered: u64,
    /// Calls that ended after answer.
    pub completed: u64,
    /// Calls that ended without answer.
    pub failed: u64,
    pub failed_by_cause: BTreeMap<u8, u64>,
    /// IAM → ANM/CON.
    pub setup: Samples,
    /// IAM → ACM.
    pub alerting: Samples,
}

/// The counters of one direction without the latency samples (cheap to copy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallCounts {
    pub attempted: u64,
    pub alerted: u64,
    pub answered: u64,
    pub completed: u64,
    pub failed: u64,
}

impl CallCounts {
    /// Calls not yet ended.
    pub fn in_progress(&self) -> u64 {
        self.attempted.saturating_sub(self.completed + self.failed)
    }
}

/// The JSON form of [`DirectionStats`].
#[derive(Debug, Clone, Serialize)]
pub struct DirectionReport {
    pub attempted: u64,
    pub alerted: u64,
    pub answered: u64,
    pub completed: u64,
    pub failed: u64,
    /// Q.850 cause value (as a string key) → count.
    pub failed_by_cause: BTreeMap<String, u64>,
    pub in_progress: u64,
    pub setup_latency: Percentiles,
    pub alerting_latency: Percentiles,
}

impl DirectionStats {
    pub fn counts(&self) -> CallCounts {
        CallCounts {
            attempted: self.attempted,
            alerted: self.alerted,
            answered: self.answered,
            completed: self.completed,
            failed: self.failed,
        }
    }

    pub fn report(&self) -> DirectionReport {
        DirectionReport {
            attempted: self.attempted,
            alerted: self.alerted,
            answered: self.answered,
            completed: self.completed,
            failed: self.failed,
            failed_by_cause: self
                .failed_by_cause
                .iter()
                .map(|(c, n)| (c.to_string(), *n))
                .collect(),
            in_progress: self.attempted.saturating_sub(self.completed + self.failed),
            setup_latency: Percentiles::of(self.setup.as_slice()),
            alerting_latency: Percentiles::of(self.alerting.as_slice()),
        }
    }
}

/// Everything the simulator counts.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub outgoing: DirectionStats,
    pub incoming: DirectionStats,
    pub messages_sent: u64,
    pub messages_received: u64,
    /// User data that did not decode as ISUP.
    pub decode_errors: u64,
    /// Messages sent while the peer was not active (lost).
    pub send_failures: u64,
    /// DATA for another point code pair or another user part (not ISUP): ignored.
    pub misrouted: u64,
    pub unexpected: u64,
    pub maintenance_alerts: u64,
}

impl Stats {
    fn dir(&mut self, d: Direction) -> &mut DirectionStats {
        match d {
            Direction::Outgoing => &mut self.outgoing,
            Direction::Incoming => &mut self.incoming,
        }
    }

    /// An outgoing attempt (counted when the IAM goes out or the attempt is refused).
    pub fn attempt(&mut self) {
        self.outgoing.attempted += 1;
    }

    /// An outgoing attempt refused before any IAM (no circuit, peer down).
    pub fn refused(&mut self, cause: u8) {
        self.outgoing.failed += 1;
        *self.outgoing.failed_by_cause.entry(cause).or_default() += 1;
    }

    pub fn record(&mut self, e: &Event) {
        match e {
            Event::CallSeized { .. } => self.incoming.attempted += 1,
            Event::CallOffered { .. } => {}
            Event::CallAlerting {
                direction,
                setup_time,
                ..
            } => {
                let d = self.dir(*direction);
                d.alerted += 1;
                d.alerting.push(*setup_time);
            }
            Event::CallAnswered {
                direction,
                setup_time,
                ..
            } => {
                let d = self.dir(*direction);
                d.answered += 1;
                d.setup.push(*setup_time);
            }
            Event::CallEnded {
                direction, outcome, ..
            } => {
                let d = self.dir(*direction);
                if outcome.answered {
                    d.completed += 1;
                } else {
                    d.failed += 1;
                    *d.failed_by_cause.entry(outcome.cause).or_default() += 1;
                }
            }
            Event::Unexpected { .. } => self.unexpected += 1,
            Event::Maintenance(crate::exchange::Maintenance::Alert { .. }) => {
                self.maintenance_alerts += 1
            }
            Event::Maintenance(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&v);
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(Percentiles::of(&[]).count, 0);
        let one = Percentiles::of(&[Duration::from_millis(7)]);
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
    }
}
