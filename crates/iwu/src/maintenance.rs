//! Circuit reset procedures, sans-IO (Q.764 §2.10.3; timers in
//! shared/reference/isup-q764-timers.md §1 and §4): RSC with T16/T17 for one circuit, GRS with
//! T22/T23 for a range. The circuit manager owns circuit states; this module only runs the
//! message/timer exchange so that the timer rules live next to the other Q.764 timers.
//! (The T5 → RSC path of a released call runs inside the [`crate::Engine`] with T17 only, as
//! Q.764 §2.9.6 prescribes.)

use std::collections::HashMap;
use std::time::Duration;

use isup::{Message, MessageType, RangeAndStatus};

use crate::config::IsupTimers;
use crate::event::Cic;

/// Timers of the reset procedures, keyed by the CIC the RSC/GRS was sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResetTimer {
    T16(Cic),
    T17(Cic),
    T22(Cic),
    T23(Cic),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResetAction {
    SendIsup {
        cic: Cic,
        msg: Message,
    },
    StartTimer {
        timer: ResetTimer,
        after: Duration,
    },
    StopTimer {
        timer: ResetTimer,
    },
    /// T17/T23 expired: alert maintenance (the procedure goes on).
    Alert {
        cic: Cic,
        reason: &'static str,
    },
    /// RLC/GRA received: these circuits are reset and idle.
    Done {
        cics: Vec<Cic>,
    },
}

#[derive(Debug, Clone)]
struct Pending {
    msg: Message,
    /// Circuits covered (one for RSC, range + 1 for GRS).
    cics: Vec<Cic>,
}

/// Outstanding RSC and GRS procedures.
#[derive(Debug, Clone)]
pub struct Resets {
    timers: IsupTimers,
    rsc: HashMap<Cic, Pending>,
    grs: HashMap<Cic, Pending>,
}

impl Resets {
    pub fn new(timers: IsupTimers) -> Self {
        Resets {
            timers,
            rsc: HashMap::new(),
            grs: HashMap::new(),
        }
    }

    /// Q.764 §2.10.3.1: send RSC, start T16 and T17.
    pub fn reset_circuit(&mut self, cic: Cic) -> Vec<ResetAction> {
        let msg = Message::new(MessageType::RSC);
        self.rsc.insert(
            cic,
            Pending {
                msg: msg.clone(),
                cics: vec![cic],
            },
        );
        vec![
            ResetAction::SendIsup { cic, msg },
            ResetAction::StartTimer {
                timer: ResetTimer::T16(cic),
                after: self.timers.t16,
            },
            ResetAction::StartTimer {
                timer: ResetTimer::T17(cic),
                after: self.timers.t17,
            },
        ]
    }

    /// Q.764 §2.10.3.2: GRS for `cic..=cic+range` (range 1-31), start T22 and T23.
    pub fn reset_group(&mut self, cic: Cic, range: u8) -> Vec<ResetAction> {
        let range = range.clamp(1, 31);
        let msg = Message::new(MessageType::GRS).with(RangeAndStatus {
            range,
            ..Default::default()
        });
        self.grs.insert(
            cic,
            Pending {
                msg: msg.clone(),
                cics: (cic..=cic.saturating_add(u16::from(range))).collect(),
            },
        );
        vec![
            ResetAction::SendIsup { cic, msg },
            ResetAction::StartTimer {
                timer: ResetTimer::T22(cic),
                after: self.timers.t22,
            },
            ResetAction::StartTimer {
                timer: ResetTimer::T23(cic),
                after: self.timers.t23,
            },
        ]
    }

    /// RLC (answer to RSC) or GRA (answer to GRS) received on `cic`.
    pub fn on_isup(&mut self, cic: Cic, msg: &Message) -> Vec<ResetAction> {
        let (map, a, b) = match msg.message_type {
            MessageType::RLC => (&mut self.rsc, ResetTimer::T16(cic), ResetTimer::T17(cic)),
            MessageType::GRA => (&mut self.grs, ResetTimer::T22(cic), ResetTimer::T23(cic)),
            _ => return Vec::new(),
        };
        match map.remove(&cic) {
            Some(p) => vec![
                ResetAction::StopTimer { timer: a },
                ResetAction::StopTimer { timer: b },
                ResetAction::Done { cics: p.cics },
            ],
            None => Vec::new(),
        }
    }

    /// True if an RSC or GRS is outstanding for a procedure started on `cic`.
    pub fn pending(&self, cic: Cic) -> bool {
        self.rsc.contains_key(&cic) || self.grs.contains_key(&cic)
    }

    pub fn on_timer(&mut self, t: ResetTimer) -> Vec<ResetAction> {
        let (cic, p, repeat, first, long) = match t {
            ResetTimer::T16(c) => (c, self.rsc.get(&c), true, false, self.timers.t16),
            ResetTimer::T17(c) => (c, self.rsc.get(&c), false, true, self.timers.t17),
            ResetTimer::T22(c) => (c, self.grs.get(&c), true, false, self.timers.t22),
            ResetTimer::T23(c) => (c, self.grs.get(&c), false, true, self.timers.t23),
        };
        let Some(p) = p else { return Vec::new() };
        let send = ResetAction::SendIsup {
            cic,
            msg: p.msg.clone(),
        };
        if repeat {
            // T16/T22: re-send and restart.
            return vec![
                send,
                ResetAction::StartTimer {
                    timer: t,
                    after: long,
                },
            ];
        }
        debug_assert!(first);
        // T17/T23: alert maintenance, stop the short timer, re-send at the long interval.
        let short = match t {
            ResetTimer::T17(c) => ResetTimer::T16(c),
            _ => ResetTimer::T22(cic),
        };
        vec![
            ResetAction::Alert {
                cic,
                reason: if matches!(t, ResetTimer::T17(_)) {
                    "T17 expired: no RLC for RSC"
                } else {
                    "T23 expired: no GRA for GRS"
                },
            },
            ResetAction::StopTimer { timer: short },
            send,
            ResetAction::StartTimer {
                timer: t,
                after: long,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsc_repeats_on_t16_and_alerts_on_t17() {
        let mut r = Resets::new(IsupTimers::default());
        let a = r.reset_circuit(5);
        assert!(
            matches!(&a[0], ResetAction::SendIsup { cic: 5, msg } if msg.message_type == MessageType::RSC)
        );
        let a = r.on_timer(ResetTimer::T16(5));
        assert_eq!(a.len(), 2);
        let a = r.on_timer(ResetTimer::T17(5));
        assert!(matches!(a[0], ResetAction::Alert { cic: 5, .. }));
        assert!(a.contains(&ResetAction::StopTimer {
            timer: ResetTimer::T16(5)
        }));
        let a = r.on_isup(5, &Message::new(MessageType::RLC));
        assert!(a.contains(&ResetAction::Done { cics: vec![5] }));
        assert!(!r.pending(5));
        assert!(r.on_timer(ResetTimer::T16(5)).is_empty());
    }

    #[test]
    fn grs_covers_the_range() {
        let mut r = Resets::new(IsupTimers::default());
        let a = r.reset_group(1, 30);
        let ResetAction::SendIsup { msg, .. } = &a[0] else {
            panic!()
        };
        assert_eq!(msg.get::<RangeAndStatus>().unwrap().range, 30);
        assert!(msg.to_bytes().is_ok());
        assert_eq!(r.on_timer(ResetTimer::T22(1)).len(), 2);
        assert!(matches!(
            r.on_timer(ResetTimer::T23(1))[0],
            ResetAction::Alert { .. }
        ));
        let a = r.on_isup(1, &Message::new(MessageType::GRA));
        assert!(a.contains(&ResetAction::Done {
            cics: (1..=31).collect()
        }));
    }
}
