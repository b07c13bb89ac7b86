//! Simulator configuration: point codes, circuits, ISUP timers, the calls it originates and how it
//! answers the calls it receives. Read from TOML (`Config::from_toml`) or built in code.
//!
//! Durations are written as `"15s"`, `"250ms"`, `"5m"` or as an integer number of milliseconds.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Configuration errors, with the offending item.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("config: {0}")]
    Invalid(String),
}

/// Serde for `Duration`: `"15s"`, `"250ms"`, `"5m"`, `"1h"`, or integer milliseconds.
pub mod dur {
    use super::*;

    pub fn parse(s: &str) -> Result<Duration, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("bad duration {s:?}: expected e.g. 15s, 250ms, 5m"))?;
        let secs = match unit.trim() {
            "ms" => n / 1000.0,
            "" | "s" => n,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            u => return Err(format!("bad duration unit {u:?} in {s:?} (ms, s, m, h)")),
        };
        if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
            return Err(format!("duration {s:?} out of range"));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    pub fn format(d: &Duration) -> String {
        let ms = d.as_millis();
        if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Ms(u64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Ms(ms) => Ok(Duration::from_millis(ms)),
            Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
        }
    }

    /// The same for `Option<Duration>` (absent = `None`).
    pub mod option {
        use super::*;

        /// `None` is written `"none"` (TOML has no null).
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format(d)),
                None => s.serialize_str("none"),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            match Raw::deserialize(d)? {
                Raw::Ms(ms) => Ok(Some(Duration::from_millis(ms))),
                Raw::Text(t) if matches!(t.trim(), "none" | "never") => Ok(None),
                Raw::Text(t) => parse(&t).map(Some).map_err(serde::de::Error::custom),
            }
        }
    }
}

/// An inclusive range of CICs, written `"1-31"` or `"7"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CicRange {
    pub first: u16,
    pub last: u16,
}

impl CicRange {
    pub fn new(first: u16, last: u16) -> Self {
        CicRange { first, last }
    }
    pub fn iter(&self) -> RangeInclusive<u16> {
        self.first..=self.last
    }
    pub fn contains(&self, cic: u16) -> bool {
        (self.first..=self.last).contains(&cic)
    }
}

impl fmt::Display for CicRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl std::str::FromStr for CicRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| *c <= 0x0FFF)
                .ok_or_else(|| format!("bad CIC {t:?} (0..=4095, ITU 12-bit CIC)"))
        };
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(s)?, num(s)?),
        };
        if a > b {
            return Err(format!("CIC range {s:?} is empty"));
        }
        Ok(CicRange::new(a, b))
    }
}

impl Serialize for CicRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CicRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(u16),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::One(c) => c.to_string().parse(),
            Raw::Text(t) => t.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// ISUP timers on the simulator's own procedures (Q.764 Annex A; defaults as jSS7/Yate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timers {
    /// T1: REL sent → RLC (15–60 s): repeat REL.
    #[serde(with = "dur")]
    pub t1: Duration,
    /// T5: first REL sent → RLC (5–15 min): send RSC, alert maintenance.
    #[serde(with = "dur")]
    pub t5: Duration,
    /// T7: latest address message sent → ACM/CON (20–30 s): release with cause 102.
    #[serde(with = "dur")]
    pub t7: Duration,
    /// T8: IAM with a continuity check → COT (10–15 s): release with cause 102.
    #[serde(with = "dur")]
    pub t8: Duration,
    /// T12/T13: BLO repeat / long repeat.
    #[serde(with = "dur")]
    pub t12: Duration,
    #[serde(with = "dur")]
    pub t13: Duration,
    /// T14/T15: UBL repeat / long repeat.
    #[serde(with = "dur")]
    pub t14: Duration,
    #[serde(with = "dur")]
    pub t15: Duration,
    /// T16/T17: RSC repeat / long repeat.
    #[serde(with = "dur")]
    pub t16: Duration,
    #[serde(with = "dur")]
    pub t17: Duration,
    /// T18/T19: CGB repeat / long repeat.
    #[serde(with = "dur")]
    pub t18: Duration,
    #[serde(with = "dur")]
    pub t19: Duration,
    /// T20/T21: CGU repeat / long repeat.
    #[serde(with = "dur")]
    pub t20: Duration,
    #[serde(with = "dur")]
    pub t21: Duration,
    /// T22/T23: GRS repeat / long repeat.
    #[serde(with = "dur")]
    pub t22: Duration,
    #[serde(with = "dur")]
    pub t23: Duration,
    /// T28: CQM sent → CQR.
    #[serde(with = "dur")]
    pub t28: Duration,
    /// T35 (15–20 s), overlap receiving: no SAM for this long while the number is shorter than
    /// the answer rule's `digits` → REL cause 28 (address incomplete).
    #[serde(with = "dur")]
    pub t35: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        let s = Duration::from_secs;
        Timers {
            t1: s(15),
            t5: s(5 * 60),
            t7: s(20),
            t8: s(10),
            t12: s(15),
            t13: s(5 * 60),
            t14: s(15),
            t15: s(5 * 60),
            t16: s(15),
            t17: s(5 * 60),
            t18: s(15),
            t19: s(5 * 60),
            t20: s(15),
            t21: s(5 * 60),
            t22: s(15),
            t23: s(5 * 60),
            t28: s(10),
            t35: s(15),
        }
    }
}

/// How an originated call is built and ended (the IAM's content and the calling side's release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Originate {
    /// Called party number (address signals, `0-9`, `B`, `C`; `F` = ST).
    pub called: String,
    /// Calling party number; empty = no CallingPartyNumber parameter.
    pub calling: String,
    /// Nature of address (Q.763 §3.9: 1 subscriber, 3 national, 4 international).
    pub called_noa: u8,
    pub calling_noa: u8,
    /// Address presentation restricted indicator (0 allowed, 1 restricted, 2 not available).
    pub presentation: u8,
    /// Screening indicator (1 user provided verified, 3 network provided).
    pub screening: u8,
    /// Calling party's category (Q.763 §3.11: 10 ordinary subscriber, 15 payphone).
    pub category: u8,
    /// Transmission medium requirement (0 speech, 2 64 kbit/s unrestricted, 3 3.1 kHz audio).
    pub tmr: u8,
    /// User service information as hex octets (Q.931 bearer capability from octet 3); empty = none.
    pub usi: String,
    /// Overlap sending: put this many digits in the IAM and send the rest in one SAM each
    /// (`sam_digits` per SAM). 0 = en bloc.
    pub overlap: usize,
    pub sam_digits: usize,
    /// Release from the calling side this long after answer (`None`: wait for the far end).
    #[serde(with = "dur::option")]
    pub hold: Option<Duration>,
    /// Give up after ACM without ANM (like T9): release with cause 19.
    #[serde(with = "dur::option")]
    pub no_answer: Option<Duration>,
    /// Cause of the calling side's release (16 normal call clearing).
    pub release_cause: u8,
}

impl Default for Originate {
    fn default() -> Self {
        Originate {
            called: "4930123456".into(),
            calling: "4940111222".into(),
            called_noa: 3,
            calling_noa: 3,
            presentation: 0,
            screening: 3,
            category: 10,
            tmr: 0,
            usi: "8090a3".into(),
            overlap: 0,
            sam_digits: 1,
            hold: Some(Duration::from_secs(1)),
            no_answer: None,
            release_cause: 16,
        }
    }
}

/// How the simulator answers an IAM whose called number starts with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnswerRule {
    /// Called-number prefix; the longest matching prefix wins, `""` matches everything.
    pub prefix: String,
    /// Refuse the call with REL and this Q.850 cause (17 busy, 1 unallocated, 34 congestion …)
    /// instead of ACM.
    pub reject_cause: Option<u8>,
    /// Send ACM (else ANM/CON comes straight after the IAM).
    pub acm: bool,
    /// BackwardCallIndicators.called_party_status in ACM (1 subscriber free, 0 no indication).
    pub called_party_status: u8,
    /// Send CPG with this event indicator after ACM (1 alerting, 2 progress, 3 in-band info).
    pub cpg_event: Option<u8>,
    /// Answer (ANM) this long after the IAM; `None` = never answer (ring until released).
    #[serde(with = "dur::option")]
    pub answer_after: Option<Duration>,
    /// Release from the called side this long after answer; `None` = wait for the far end.
    #[serde(with = "dur::option")]
    pub hold: Option<Duration>,
    /// Cause of the called side's release after `hold`.
    pub release_cause: u8,
    /// Overlap receiving: the called number is complete at this many digits or on ST; T35 ends
    /// the wait for more. 0 = the IAM is en bloc.
    pub digits: usize,
}

impl Default for AnswerRule {
    fn default() -> Self {
        AnswerRule {
            prefix: String::new(),
            reject_cause: None,
            acm: true,
            called_party_status: 1,
            cpg_event: None,
            answer_after: Some(Duration::from_millis(100)),
            hold: None,
            release_cause: 16,
            digits: 0,
        }
    }
}

impl AnswerRule {
    /// Refuse with `cause`.
    pub fn reject(prefix: &str, cause: u8) -> Self {
        AnswerRule {
            prefix: prefix.into(),
            reject_cause: Some(cause),
            ..Default::default()
        }
    }
    /// ACM then nothing: the caller's no-answer timer must end the call.
    pub fn no_answer(prefix: &str) -> Self {
        AnswerRule {
            prefix: prefix.into(),
            answer_after: None,
            ..Default::default()
        }
    }
    /// ACM, ANM after `after`, release after `hold` (or wait).
    pub fn answer(prefix: &str, after: Duration, hold: Option<Duration>) -> Self {
        AnswerRule {
            prefix: prefix.into(),
            answer_after: Some(after),
            hold,
            ..Default::default()
        }
    }
}

/// One far-end exchange of several behind the same SGP (`[[exchanges]]`): its own signalling
/// point code and the circuits between it and the peer. CICs are scoped per signalling relation
/// (Q.763 §1.2: the CIC identifies a circuit between two point codes), so two exchanges may use
/// the same CIC numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The exchange's signalling point code (the DPC of the DATA routed to it).
    pub local_pc: u32,
    /// Its circuits towards the peer; absent or empty: the top-level `cics`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cics: Vec<CicRange>,
}

/// The whole simulator configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The simulator's own signalling point code (the far-end exchange).
    pub local_pc: u32,
    /// The peer's point code (the gateway).
    pub remote_pc: u32,
    /// Network indicator in the routing label (0 international, 2 national).
    pub ni: u8,
    /// Circuits towards the peer.
    pub cics: Vec<CicRange>,
    /// Several far-end exchanges behind the one SGP, each with its own point code and CICs.
    /// Empty (the default): one exchange, `local_pc` with `cics`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<ExchangeConfig>,
    /// M3UA Routing Context of the AS the SGP serves.
    pub routing_context: u32,
    /// Send GRS for every circuit range once the peer is active.
    pub reset_on_start: bool,
    /// Answer GRS, RSC, BLO, UBL, CGB, CGU, CQM automatically (on by default, in every mode).
    pub auto_maintenance: bool,
    /// Q.850 location in the causes this exchange sends (2 public network serving the local user).
    pub cause_location: u8,
    pub timers: Timers,
    pub originate: Originate,
    /// Answer rules by called-number prefix; with none, every call is answered (default rule).
    pub answer: Vec<AnswerRule>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            local_pc: 2,
            remote_pc: 1,
            ni: 2,
            cics: vec![CicRange::new(1, 31)],
            exchanges: Vec::new(),
            routing_context: 1,
            reset_on_start: false,
            auto_maintenance: true,
            cause_location: 2,
            timers: Timers::default(),
            originate: Originate::default(),
            answer: Vec::new(),
        }
    }
}

impl Config {
    /// Parse and validate TOML.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(text)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks values the wire cannot carry.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |s: String| Err(ConfigError::Invalid(s));
        if self.remote_pc > 0x3FFF {
            return bad("point codes are 14 bits (0..=16383) in ITU MTP3".into());
        }
        if self.ni > 3 {
            return bad("ni is 0..=3".into());
        }
        let exchanges = self.exchanges();
        let mut seen = std::collections::BTreeSet::new();
        for x in &exchanges {
            if x.local_pc > 0x3FFF {
                return bad(format!(
                    "point code {} is not 14 bits (0..=16383) in ITU MTP3",
                    x.local_pc
                ));
            }
            if x.local_pc == self.remote_pc {
                return bad(format!(
                    "local_pc {} must differ from remote_pc (dual seizure control)",
                    x.local_pc
                ));
            }
            if !seen.insert(x.local_pc) {
                return bad(format!("exchange point code {} is given twice", x.local_pc));
            }
            if x.cics.is_empty() {
                return bad("at least one CIC range is needed".into());
            }
        }
        let o = &self.originate;
        for (what, n) in [("called", &o.called), ("calling", &o.calling)] {
            if isup::Digits::from_hex_str(n).is_none() {
                return bad(format!(
                    "originate.{what}: {n:?} is not address signals (0-9, B-F)"
                ));
            }
        }
        if o.called.is_empty() {
            return bad("originate.called is empty".into());
        }
        if hex::decode(&o.usi).is_err() {
            return bad(format!("originate.usi: {:?} is not hex", o.usi));
        }
        for r in &self.answer {
            if isup::Digits::from_hex_str(&r.prefix).is_none() {
                return bad(format!(
                    "answer prefix {:?} is not address signals",
                    r.prefix
                ));
            }
        }
        Ok(())
    }

    /// The far-end exchanges this simulator plays, in order, each with its CICs resolved: the
    /// `[[exchanges]]`, or the one exchange `local_pc` with `cics`.
    pub fn exchanges(&self) -> Vec<ExchangeConfig> {
        if self.exchanges.is_empty() {
            return vec![ExchangeConfig {
                local_pc: self.local_pc,
                cics: self.cics.clone(),
            }];
        }
        self.exchanges
            .iter()
            .map(|x| ExchangeConfig {
                local_pc: x.local_pc,
                cics: if x.cics.is_empty() {
                    self.cics.clone()
                } else {
                    x.cics.clone()
                },
            })
            .collect()
    }

    /// The configuration of one exchange: this one with `local_pc` and `cics` of `x` and no
    /// `exchanges` (what [`crate::Exchange::new`] takes).
    pub fn for_exchange(&self, x: &ExchangeConfig) -> Config {
        Config {
            local_pc: x.local_pc,
            cics: if x.cics.is_empty() {
                self.cics.clone()
            } else {
                x.cics.clone()
            },
            exchanges: Vec::new(),
            ..self.clone()
        }
    }

    /// Every configured CIC of this (single) exchange, in order, without duplicates.
    pub fn all_cics(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self.cics.iter().flat_map(|r| r.iter()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The answer rule for a called number: the longest matching prefix, else the default rule.
    pub fn answer_rule(&self, called: &str) -> AnswerRule {
        self.answer
            .iter()
            .filter(|r| called.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_rules() {
        let c = Config::from_toml(
            r#"
            local_pc = 2
            remote_pc = 1
            cics = ["1-15", 17, "33-63"]
            [timers]
            t1 = "2s"
            t5 = 60000
            [[answer]]
            prefix = "4930"
            answer_after = "50ms"
            hold = "1s"
            [[answer]]
            prefix = "49301"
            reject_cause = 17
            "#,
        )
        .unwrap();
        assert_eq!(c.timers.t1, Duration::from_secs(2));
        assert_eq!(c.timers.t5, Duration::from_secs(60));
        assert_eq!(c.all_cics().len(), 15 + 1 + 31);
        assert_eq!(c.answer_rule("4930123").reject_cause, Some(17));
        assert_eq!(
            c.answer_rule("4930223").answer_after,
            Some(Duration::from_millis(50))
        );
        assert_eq!(c.answer_rule("33").reject_cause, None);
        let back = Config::from_toml(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Config::from_toml("cics = [\"5-1\"]").is_err());
        assert!(Config::from_toml("local_pc = 1\nremote_pc = 1").is_err());
        assert!(Config::from_toml("bogus = 1").is_err());
        assert!(Config::from_toml("[timers]\nt1 = \"5 parsecs\"").is_err());
        // Exchanges: distinct point codes, none equal to the peer's.
        let two = "[[exchanges]]\nlocal_pc = 3\n[[exchanges]]\nlocal_pc = ";
        assert!(Config::from_toml(&format!("{two}3")).is_err());
        assert!(Config::from_toml(&format!("{two}1")).is_err());
        assert!(Config::from_toml(&format!("{two}16384")).is_err());
        assert!(Config::from_toml(&format!("{two}4")).is_ok());
    }

    #[test]
    fn exchanges_resolve_their_circuits() {
        let c = Config::from_toml(
            r#"
            cics = ["1-31"]
            [[exchanges]]
            local_pc = 2
            [[exchanges]]
            local_pc = 3
            cics = ["1-4095"]
            "#,
        )
        .unwrap();
        let x = c.exchanges();
        assert_eq!(x.len(), 2);
        assert_eq!(
            (x[0].local_pc, x[0].cics.clone()),
            (2, vec![CicRange::new(1, 31)])
        );
        assert_eq!(x[1].cics, vec![CicRange::new(1, 4095)]);
        let one = c.for_exchange(&x[1]);
        assert_eq!((one.local_pc, one.all_cics().len()), (3, 4095));
        assert!(one.exchanges.is_empty());
        // Without [[exchanges]]: the one exchange local_pc with cics.
        let d = Config::default().exchanges();
        assert_eq!((d.len(), d[0].local_pc), (1, 2));
        let back = Config::from_toml(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
