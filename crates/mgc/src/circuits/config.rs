//! Circuit manager configuration: own point code, trunk groups (DPC, CIC ranges, direction,
//! selection policy) and the Q.764 maintenance timers. Deserialized from the gateway's TOML with
//! `deny_unknown_fields`; [`CircuitsConfig::validate`] checks what serde cannot.

use super::Timer;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Highest ITU signalling point code (14 bits, Q.704 §2.2).
pub const MAX_POINT_CODE: u32 = 0x3FFF;
/// Highest ITU CIC (12 bits, Q.763 §1.2).
pub const MAX_CIC: u16 = 0x0FFF;

/// The `[circuits]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitsConfig {
    /// Our signalling point code (decides dual seizure control, Q.764 §2.9.1.4).
    pub own_point_code: u32,
    /// Q.764 §2.12: answer messages for an unequipped CIC with UCIC (international); when false
    /// they are discarded silently (some national variants).
    #[serde(default = "yes")]
    pub send_ucic: bool,
    /// Timer overrides; every timer not given keeps its default.
    #[serde(default)]
    pub timers: TimerConfig,
    pub trunk_groups: Vec<TrunkGroupConfig>,
}

fn yes() -> bool {
    true
}

/// One trunk group: circuits toward one adjacent (or STP-routed) signalling point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkGroupConfig {
    /// Unique name, used in logs, metrics (`trunk_group` label) and the CLI.
    pub name: String,
    /// The point code at the far end of the circuits.
    pub dpc: u32,
    /// CIC ranges, e.g. `"1-15,17-31"`.
    pub cics: CicRanges,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub selection: SelectionPolicy,
}

/// Which side may seize the circuits of a trunk group for new calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only the far end seizes (we never send IAM on these circuits).
    Incoming,
    /// Only we seize (an IAM from the far end is refused).
    Outgoing,
    /// Both ends seize; dual seizure is possible (Q.764 §2.9.1).
    #[default]
    Bothway,
}

/// How [`super::CircuitManager::seize_outgoing`] picks an idle circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionPolicy {
    /// Lowest idle CIC first.
    Sequential,
    /// Highest idle CIC first (Q.764 §2.9.1.3 method 1: the far end hunts in the opposite order).
    Descending,
    /// The circuit released longest ago (spreads wear and eases tracing).
    LeastRecentlyUsed,
    /// Q.764 §2.9.1.3 method 2: circuits this exchange controls first (released longest ago),
    /// then the others (released most recently), so that dual seizures are rare and lost rarely.
    /// Also accepted as `odd_even`.
    #[default]
    #[serde(alias = "odd_even")]
    ControlledFirst,
}

/// A list of CIC ranges in the form `"1-31"` or `"1-15,17-31,40"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CicRanges(pub Vec<(u16, u16)>);

impl CicRanges {
    /// Every CIC, ascending, without duplicates.
    pub fn cics(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self.0.iter().flat_map(|&(a, b)| a..=b).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

impl FromStr for CicRanges {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (part, part),
            };
            let parse = |x: &str| {
                x.parse::<u16>()
                    .map_err(|_| format!("`{part}`: `{x}` is not a CIC"))
            };
            let (a, b) = (parse(a)?, parse(b)?);
            if a > b {
                return Err(format!("`{part}`: range runs backwards"));
            }
            if b > MAX_CIC {
                return Err(format!("`{part}`: CIC above {MAX_CIC} (12-bit ITU CIC)"));
            }
            ranges.push((a, b));
        }
        Ok(CicRanges(ranges))
    }
}

impl fmt::Display for CicRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for CicRanges {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CicRanges {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Q.764 maintenance timers in seconds. Defaults are those of jSS7/Yate (Q.764 gives ranges:
/// T12, T14, T16, T18, T20, T22 15–60 s; T13, T15, T17, T19, T21, T23 5–15 min; T28 10 s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimerConfig {
    pub t12: f64,
    pub t13: f64,
    pub t14: f64,
    pub t15: f64,
    pub t16: f64,
    pub t17: f64,
    pub t18: f64,
    pub t19: f64,
    pub t20: f64,
    pub t21: f64,
    pub t22: f64,
    pub t23: f64,
    pub t28: f64,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t12: 15.0,
            t13: 300.0,
            t14: 15.0,
            t15: 300.0,
            t16: 15.0,
            t17: 300.0,
            t18: 15.0,
            t19: 300.0,
            t20: 15.0,
            t21: 300.0,
            t22: 15.0,
            t23: 300.0,
            t28: 10.0,
        }
    }
}

impl TimerConfig {
    /// The configured value of `timer`.
    pub fn seconds(&self, timer: Timer) -> f64 {
        match timer {
            Timer::T12 => self.t12,
            Timer::T13 => self.t13,
            Timer::T14 => self.t14,
            Timer::T15 => self.t15,
            Timer::T16 => self.t16,
            Timer::T17 => self.t17,
            Timer::T18 => self.t18,
            Timer::T19 => self.t19,
            Timer::T20 => self.t20,
            Timer::T21 => self.t21,
            Timer::T22 => self.t22,
            Timer::T23 => self.t23,
            Timer::T28 => self.t28,
        }
    }

    /// The configured value of `timer` as a duration (validated values only).
    pub fn duration(&self, timer: Timer) -> Duration {
        Duration::from_secs_f64(self.seconds(timer))
    }
}

/// A configuration the manager cannot run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("point code {0} does not fit in 14 bits")]
    PointCode(u32),
    #[error("trunk group `{0}` is defined twice")]
    DuplicateGroup(String),
    #[error("trunk group `{0}` has no circuits")]
    NoCircuits(String),
    #[error("trunk group `{group}`: DPC {dpc} is our own point code")]
    OwnPointCode { group: String, dpc: u32 },
    #[error("CIC {cic} toward DPC {dpc} is in both trunk groups `{first}` and `{second}`")]
    OverlappingCic {
        dpc: u32,
        cic: u16,
        first: String,
        second: String,
    },
    #[error("timer {timer:?} = {value} s: must be a positive number of seconds, at most one hour")]
    Timer { timer: Timer, value: f64 },
}

impl CircuitsConfig {
    /// Check what serde cannot: point code widths, unique names, disjoint CICs per DPC, timers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.own_point_code > MAX_POINT_CODE {
            return Err(ConfigError::PointCode(self.own_point_code));
        }
        for timer in Timer::ALL {
            let v = self.timers.seconds(timer);
            if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
                return Err(ConfigError::Timer { timer, value: v });
            }
        }
        let mut names = HashMap::new();
        let mut owners: HashMap<(u32, u16), &str> = HashMap::new();
        for g in &self.trunk_groups {
            if names.insert(g.name.as_str(), ()).is_some() {
                return Err(ConfigError::DuplicateGroup(g.name.clone()));
            }
            if g.dpc > MAX_POINT_CODE {
                return Err(ConfigError::PointCode(g.dpc));
            }
            if g.dpc == self.own_point_code {
                return Err(ConfigError::OwnPointCode {
                    group: g.name.clone(),
                    dpc: g.dpc,
                });
            }
            let cics = g.cics.cics();
            if cics.is_empty() {
                return Err(ConfigError::NoCircuits(g.name.clone()));
            }
            for cic in cics {
                if let Some(first) = owners.insert((g.dpc, cic), &g.name) {
                    return Err(ConfigError::OverlappingCic {
                        dpc: g.dpc,
                        cic,
                        first: first.to_string(),
                        second: g.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}
