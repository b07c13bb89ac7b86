//! Circuit manager tests on a virtual clock. Every message the manager sends is encoded with the
//! ISUP codec (CIC first) and must parse back to the same message.

use super::*;
use isup::{
    CircuitGroupSupervisionMessageType, CircuitStateIndicator, Message, MessageType, RangeAndStatus,
};
use std::collections::BTreeMap;
use std::time::Duration;

const OWN: u32 = 100;
const PEER: u32 = 200;

fn config(own: u32, groups: &[(&str, u32, &str, Direction, SelectionPolicy)]) -> CircuitsConfig {
    CircuitsConfig {
        own_point_code: own,
        send_ucic: true,
        timers: TimerConfig::default(),
        trunk_groups: groups
            .iter()
            .map(
                |&(name, dpc, cics, direction, selection)| TrunkGroupConfig {
                    name: name.into(),
                    dpc,
                    cics: cics.parse().unwrap(),
                    direction,
                    selection,
                },
            )
            .collect(),
    }
}

fn one_group(cics: &str, policy: SelectionPolicy) -> CircuitsConfig {
    config(OWN, &[("a", PEER, cics, Direction::Bothway, policy)])
}

fn c(cic: u16) -> CircuitId {
    CircuitId { dpc: PEER, cic }
}

/// The manager, a virtual clock, its running timers and everything it did.
struct Harness {
    m: CircuitManager,
    now: Duration,
    timers: BTreeMap<TimerKey, Duration>,
    sent: Vec<(CircuitId, Message)>,
    other: Vec<Action>,
}

impl Harness {
    fn new(cfg: &CircuitsConfig) -> Self {
        Harness {
            m: CircuitManager::new(cfg).unwrap(),
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            sent: Vec::new(),
            other: Vec::new(),
        }
    }

    /// Transport up and the start-up GRS acknowledged with no blocking at the far end.
    fn up(cfg: &CircuitsConfig) -> Self {
        let mut h = Harness::new(cfg);
        h.m.transport_up();
        h.pump();
        for (id, msg) in h.take_sent() {
            h.peer_answer(id, &msg, &[]);
        }
        h.other.clear();
        assert!(h.m.all_idle());
        assert!(h.timers.is_empty());
        h
    }

    fn pump(&mut self) {
        while let Some(a) = self.m.poll_action() {
            match a {
                Action::Send { circuit, message } => {
                    let mut wire = Vec::new();
                    message.emit_with_cic(circuit.cic, &mut wire).unwrap();
                    let (cic, back) = Message::parse_with_cic(&wire).unwrap();
                    assert_eq!((cic, &back), (circuit.cic, &message), "round trip");
                    self.sent.push((circuit, message));
                }
                Action::StartTimer { key, duration } => {
                    self.timers.insert(key, self.now + duration);
                }
                Action::StopTimer { key } => {
                    assert!(self.timers.remove(&key).is_some(), "stop of idle {key:?}");
                }
                a => self.other.push(a),
            }
        }
        let mut mine: Vec<TimerKey> = self.m.running_timers().copied().collect();
        mine.sort();
        assert_eq!(mine, self.timers.keys().copied().collect::<Vec<_>>());
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .timers
                .iter()
                .filter(|(_, t)| **t <= end)
                .min_by_key(|(k, t)| (**t, **k))
                .map(|(k, t)| (*k, *t));
            let Some((key, at)) = next else { break };
            self.now = at;
            self.timers.remove(&key);
            self.m.timer_fired(key);
            self.pump();
        }
        self.now = end;
    }

    fn secs(&mut self, s: u64) {
        self.advance(Duration::from_secs(s));
    }

    fn take_sent(&mut self) -> Vec<(CircuitId, Message)> {
        std::mem::take(&mut self.sent)
    }

    fn take_other(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.other)
    }

    fn recv(&mut self, id: CircuitId, msg: Message) -> Disposition {
        let d = self.m.on_message(id.dpc, id.cic, &msg);
        self.pump();
        d
    }

    fn iam(&mut self, id: CircuitId) -> IamVerdict {
        let v = self.m.incoming_iam(id.dpc, id.cic);
        self.pump();
        v
    }

    fn seize(&mut self, group: &str) -> Option<CircuitId> {
        let g = self.m.group(group).unwrap();
        let r = self.m.seize_outgoing(g);
        self.pump();
        r
    }

    fn state(&self, id: CircuitId) -> CircuitStatus {
        self.m.state(id).unwrap()
    }

    /// Answer one of our messages as a well-behaved far end would; `blocked` lists the CICs the
    /// far end keeps blocked for maintenance (GRA status).
    fn peer_answer(&mut self, id: CircuitId, msg: &Message, blocked: &[u16]) {
        let rs = msg.get::<RangeAndStatus>().cloned();
        let kind = msg.get::<CircuitGroupSupervisionMessageType>().cloned();
        let reply = match msg.message_type {
            MessageType::BLO => Some(Message::new(MessageType::BLA)),
            MessageType::UBL => Some(Message::new(MessageType::UBA)),
            MessageType::RSC => Some(Message::new(MessageType::RLC)),
            MessageType::GRS => {
                let rs = rs.unwrap();
                let bits: Vec<bool> = (0..rs.circuits())
                    .map(|k| blocked.contains(&(id.cic + k)))
                    .collect();
                Some(Message::new(MessageType::GRA).with(RangeAndStatus::with_status(&bits)))
            }
            MessageType::CGB => Some(
                Message::new(MessageType::CGBA)
                    .with(kind.unwrap())
                    .with(rs.unwrap()),
            ),
            MessageType::CGU => Some(
                Message::new(MessageType::CGUA)
                    .with(kind.unwrap())
                    .with(rs.unwrap()),
            ),
            MessageType::CQM => {
                let rs = rs.unwrap();
                let states = (0..rs.circuits()).map(|_| 0x0C).collect();
                Some(
                    Message::new(MessageType::CQR)
                        .with(rs)
                        .with(CircuitStateIndicator { states }),
                )
            }
            _ => None,
        };
        if let Some(r) = reply {
            self.recv(id, r);
        }
    }
}

fn types(sent: &[(CircuitId, Message)]) -> Vec<(u16, MessageType)> {
    sent.iter().map(|(c, m)| (c.cic, m.message_type)).collect()
}

fn range_status(m: &Message) -> (u8, Vec<bool>) {
    let rs = m.get::<RangeAndStatus>().unwrap();
    let bits = (0..rs.circuits())
        .map(|k| rs.status_bit(k).unwrap_or(false))
        .collect();
    (rs.range, bits)
}

fn cgb(kind: BlockingKind, bits: &[bool]) -> Message {
    Message::new(MessageType::CGB)
        .with(CircuitGroupSupervisionMessageType {
            type_indicator: kind.type_indicator(),
        })
        .with(RangeAndStatus::with_status(bits))
}

fn cgu(kind: BlockingKind, bits: &[bool]) -> Message {
    Message::new(MessageType::CGU)
        .with(CircuitGroupSupervisionMessageType {
            type_indicator: kind.type_indicator(),
        })
        .with(RangeAndStatus::with_status(bits))
}

fn grs(range: u8) -> Message {
    Message::new(MessageType::GRS).with(RangeAndStatus {
        range,
        status: Default::default(),
    })
}

fn key(timer: Timer, cic: u16) -> TimerKey {
    TimerKey {
        timer,
        circuit: c(cic),
    }
}

// ------------------------------------------------------------------------------------------------
// Configuration

#[test]
fn config_from_toml() {
    let text = r#"
        own_point_code = 100
        [timers]
        t12 = 20
        t17 = 600.5
        [[trunk_groups]]
        name = "pstn-a"
        dpc = 200
        cics = "1-15,17-31"
        direction = "bothway"
        selection = "controlled_first"
        [[trunk_groups]]
        name = "pstn-b"
        dpc = 300
        cics = "1-31"
    "#;
    let cfg: CircuitsConfig = toml::from_str(text).unwrap();
    cfg.validate().unwrap();
    assert!(cfg.send_ucic);
    assert_eq!(cfg.timers.t12, 20.0);
    assert_eq!(
        cfg.timers.duration(Timer::T17),
        Duration::from_millis(600_500)
    );
    assert_eq!(cfg.timers.t13, 300.0);
    assert_eq!(cfg.trunk_groups[0].cics.cics().len(), 30);
    assert_eq!(cfg.trunk_groups[0].cics.to_string(), "1-15,17-31");
    assert_eq!(cfg.trunk_groups[1].direction, Direction::Bothway);
    let m = CircuitManager::new(&cfg).unwrap();
    assert_eq!(m.len(), 61);

    let unknown = text.replace("t12 = 20", "t99 = 20");
    let e = toml::from_str::<CircuitsConfig>(&unknown).unwrap_err();
    assert!(e.to_string().contains("unknown field `t99`"), "{e}");
    let bad_range = text.replace("1-15,17-31", "15-1");
    let e = toml::from_str::<CircuitsConfig>(&bad_range).unwrap_err();
    assert!(e.to_string().contains("backwards"), "{e}");
    let too_high = text.replace("1-15,17-31", "4090-4096");
    assert!(toml::from_str::<CircuitsConfig>(&too_high).is_err());
    let alias = text.replace("controlled_first", "odd_even");
    let cfg2: CircuitsConfig = toml::from_str(&alias).unwrap();
    assert_eq!(
        cfg2.trunk_groups[0].selection,
        SelectionPolicy::ControlledFirst
    );
    let bad_dir = text.replace("\"bothway\"", "\"sideways\"");
    assert!(toml::from_str::<CircuitsConfig>(&bad_dir).is_err());
}

#[test]
fn config_validation() {
    let mut cfg = config(
        OWN,
        &[
            (
                "a",
                PEER,
                "1-10",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
            (
                "b",
                PEER,
                "10-20",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
        ],
    );
    assert!(matches!(
        cfg.validate(),
        Err(ConfigError::OverlappingCic { cic: 10, .. })
    ));
    cfg.trunk_groups[1].dpc = 300; // same CICs toward another point code are other circuits
    cfg.validate().unwrap();
    cfg.trunk_groups[1].name = "a".into();
    assert_eq!(cfg.validate(), Err(ConfigError::DuplicateGroup("a".into())));
    cfg.trunk_groups[1].name = "b".into();
    cfg.trunk_groups[1].dpc = OWN;
    assert!(matches!(
        cfg.validate(),
        Err(ConfigError::OwnPointCode { .. })
    ));
    cfg.trunk_groups[1].dpc = 0x4000;
    assert_eq!(cfg.validate(), Err(ConfigError::PointCode(0x4000)));
    cfg.trunk_groups[1].dpc = 300;
    cfg.timers.t22 = 0.0;
    assert!(matches!(
        cfg.validate(),
        Err(ConfigError::Timer {
            timer: Timer::T22,
            ..
        })
    ));
    cfg.timers.t22 = f64::NAN;
    assert!(CircuitManager::new(&cfg).is_err());
}

// ------------------------------------------------------------------------------------------------
// Start-up: group reset (Q.764 §2.9.3.2)

#[test]
fn transport_up_resets_every_group_with_grs() {
    let cfg = config(
        OWN,
        &[
            (
                "a",
                PEER,
                "1-40",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
            (
                "b",
                300,
                "5,7-8",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
        ],
    );
    let mut h = Harness::new(&cfg);
    assert_eq!(h.seize("a"), None, "no calls before the transport is up");
    h.m.transport_up();
    h.pump();
    let sent = h.take_sent();
    assert_eq!(
        types(&sent),
        vec![
            (1, MessageType::GRS),
            (33, MessageType::GRS),
            (5, MessageType::RSC),
            (7, MessageType::GRS)
        ]
    );
    assert_eq!(range_status(&sent[0].1), (31, vec![false; 32]));
    assert_eq!(range_status(&sent[1].1).0, 7);
    assert_eq!(range_status(&sent[3].1).0, 1);
    assert!(sent[0].1.get::<RangeAndStatus>().unwrap().status.is_empty());
    assert!(h.timers.contains_key(&key(Timer::T22, 1)));
    assert!(h.timers.contains_key(&key(Timer::T23, 1)));
    assert_eq!(h.state(c(1)).state, CircuitState::ResetPending);
    assert_eq!(h.seize("a"), None, "reset pending circuits are not seized");
    for (id, msg) in sent {
        h.peer_answer(id, &msg, &[]);
    }
    assert!(h.m.all_idle());
    assert!(h.timers.is_empty());
    assert_eq!(h.seize("a"), Some(c(1)));
}

#[test]
fn grs_repeats_on_t22_and_alerts_on_t23() {
    let cfg = one_group("1-31", SelectionPolicy::Sequential);
    let mut h = Harness::new(&cfg);
    h.m.transport_up();
    h.pump();
    assert_eq!(h.take_sent().len(), 1);
    h.secs(15);
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::GRS)]);
    h.secs(15 * 18);
    assert_eq!(h.take_sent().len(), 18, "T22 every 15 s up to 285 s");
    h.secs(15); // t = 300: T23 expires; T22 would have expired at the same time
    let sent = h.take_sent();
    assert!(!sent.is_empty());
    assert!(
        h.take_other()
            .contains(&Action::Alert(Alert::NoAcknowledgement {
                timer: Timer::T23,
                circuit: c(1)
            }))
    );
    assert!(!h.timers.contains_key(&key(Timer::T22, 1)), "T22 stopped");
    h.secs(299);
    assert!(h.take_sent().is_empty());
    h.secs(1);
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::GRS)]);
    // A GRA for another range is discarded; the right one ends the procedure.
    let wrong = Message::new(MessageType::GRA).with(RangeAndStatus::with_status(&[false; 8]));
    h.recv(c(1), wrong);
    assert!(!h.m.all_idle());
    h.recv(
        c(1),
        Message::new(MessageType::GRA).with(RangeAndStatus::with_status(&[false; 31])),
    );
    assert!(h.m.all_idle());
    assert!(h.timers.is_empty());
}

#[test]
fn gra_status_marks_far_end_blocking_and_we_reblock_ours() {
    let cfg = one_group("1-31", SelectionPolicy::Sequential);
    let mut h = Harness::new(&cfg);
    // Blocked before the transport came up: the block is sent after the GRA.
    h.m.block(c(4));
    h.m.block(c(9));
    h.m.transport_up();
    h.pump();
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::GRS)]);
    h.peer_answer(c(1), &sent[0].1, &[2, 3]);
    assert!(h.state(c(2)).remotely_blocked_maintenance);
    assert!(h.state(c(3)).remotely_blocked_maintenance);
    assert_eq!(h.state(c(2)).state, CircuitState::RemotelyBlocked);
    assert!(!h.state(c(5)).remotely_blocked_maintenance);
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(4, MessageType::CGB)]);
    let (range, bits) = range_status(&sent[0].1);
    assert_eq!(range, 5);
    assert_eq!(bits, vec![true, false, false, false, false, true]);
    assert_eq!(
        sent[0]
            .1
            .get::<CircuitGroupSupervisionMessageType>()
            .unwrap()
            .type_indicator,
        0
    );
    assert_eq!(h.seize("a"), Some(c(1)));
    assert_eq!(h.seize("a"), Some(c(5)), "2, 3 remote and 4 local blocked");
}

// ------------------------------------------------------------------------------------------------
// Blocking and unblocking (Q.764 §2.8.2, §2.9.4)

#[test]
fn blo_received_is_acknowledged_and_bars_outgoing_calls() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    assert_eq!(
        h.recv(c(1), Message::new(MessageType::BLO)),
        Disposition::Consumed
    );
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::BLA)]);
    assert_eq!(h.state(c(1)).state, CircuitState::RemotelyBlocked);
    assert!(h.take_other().contains(&Action::StateChanged {
        circuit: c(1),
        group: TrunkGroupId(0),
        from: CircuitState::Idle,
        to: CircuitState::RemotelyBlocked
    }));
    assert_eq!(h.seize("a"), Some(c(2)));
    // A repeated BLO is acknowledged again.
    h.recv(c(1), Message::new(MessageType::BLO));
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::BLA)]);
    h.recv(c(1), Message::new(MessageType::UBL));
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::UBA)]);
    assert_eq!(h.state(c(1)).state, CircuitState::Idle);
    // UBL for a circuit not blocked is acknowledged all the same.
    h.recv(c(3), Message::new(MessageType::UBL));
    assert_eq!(types(&h.take_sent()), vec![(3, MessageType::UBA)]);
}

#[test]
fn remote_blocking_keeps_incoming_call_and_an_iam_unblocks() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    assert_eq!(h.iam(c(2)), IamVerdict::Accept);
    h.recv(c(2), Message::new(MessageType::BLO));
    h.take_sent();
    assert!(
        !h.take_other()
            .iter()
            .any(|a| matches!(a, Action::ReleaseCall { .. } | Action::Reattempt { .. }))
    );
    let s = h.state(c(2));
    assert_eq!(s.call, CallState::Incoming);
    assert!(s.remotely_blocked_maintenance);
    h.m.call_released(c(2));
    assert_eq!(h.state(c(2)).state, CircuitState::RemotelyBlocked);
    // Q.764 §2.8.2.3: an IAM on a remotely blocked circuit removes the blocking.
    h.recv(c(3), Message::new(MessageType::BLO));
    assert_eq!(h.iam(c(3)), IamVerdict::Accept);
    assert!(!h.state(c(3)).remotely_blocked_maintenance);
}

#[test]
fn blo_before_backward_message_causes_repeat_attempt() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    let out = h.seize("a").unwrap();
    h.recv(out, Message::new(MessageType::BLO));
    assert!(h.take_other().contains(&Action::Reattempt {
        circuit: out,
        release: true
    }));
    assert_eq!(
        h.state(out).state,
        CircuitState::BusyOutgoing,
        "released normally"
    );
    h.m.call_released(out);
    assert_eq!(h.state(out).state, CircuitState::RemotelyBlocked);
    // After a backward message the call is not disturbed.
    let out = h.seize("a").unwrap();
    h.m.first_backward_message(out);
    h.recv(out, Message::new(MessageType::BLO));
    assert!(
        !h.take_other()
            .iter()
            .any(|a| matches!(a, Action::Reattempt { .. }))
    );
}

#[test]
fn local_blocking_repeats_on_t12_and_t13_until_bla() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    assert!(h.m.block(c(2)));
    h.pump();
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::BLO)]);
    assert_eq!(h.state(c(2)).state, CircuitState::LocallyBlocked);
    assert!(h.timers.contains_key(&key(Timer::T12, 2)));
    assert!(h.timers.contains_key(&key(Timer::T13, 2)));
    h.secs(15);
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::BLO)]);
    h.secs(15 * 18); // t = 285
    assert_eq!(h.take_sent().len(), 18);
    h.secs(15); // t = 300: T13 fires after the T12 of the same instant
    let sent = h.take_sent();
    assert!(
        sent.iter()
            .all(|(id, m)| *id == c(2) && m.message_type == MessageType::BLO)
    );
    assert!(
        h.take_other()
            .contains(&Action::Alert(Alert::NoAcknowledgement {
                timer: Timer::T13,
                circuit: c(2)
            }))
    );
    assert_eq!(
        h.timers.keys().copied().collect::<Vec<_>>(),
        vec![key(Timer::T13, 2)],
        "T12 stopped, T13 restarted"
    );
    h.secs(300);
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::BLO)]);
    h.recv(c(2), Message::new(MessageType::BLA));
    assert!(h.timers.is_empty());
    assert_eq!(h.state(c(2)).state, CircuitState::LocallyBlocked);
    assert!(!h.state(c(2)).awaiting_acknowledgement);
    // Local blocking bars our own outgoing calls too, and a far-end IAM gets the BLO again.
    assert_eq!(h.seize("a"), Some(c(1)));
    assert_eq!(h.iam(c(2)), IamVerdict::Discard);
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::BLO)]);
    h.recv(c(2), Message::new(MessageType::BLA));

    assert!(h.m.unblock(c(2)));
    h.pump();
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::UBL)]);
    assert!(h.timers.contains_key(&key(Timer::T14, 2)));
    assert!(h.timers.contains_key(&key(Timer::T15, 2)));
    h.secs(15);
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::UBL)]);
    h.secs(285);
    h.take_sent();
    assert!(
        h.take_other()
            .contains(&Action::Alert(Alert::NoAcknowledgement {
                timer: Timer::T15,
                circuit: c(2)
            }))
    );
    h.recv(c(2), Message::new(MessageType::UBA));
    assert!(h.timers.is_empty());
    h.m.call_released(c(1));
    assert!(h.m.all_idle());
}

#[test]
fn local_blocking_does_not_release_a_call() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    let out = h.seize("a").unwrap();
    h.m.block(out);
    h.pump();
    assert!(
        h.take_other()
            .iter()
            .all(|a| matches!(a, Action::StateChanged { .. }))
    );
    assert_eq!(h.state(out).state, CircuitState::BusyOutgoing);
    h.m.call_released(out);
    h.pump();
    assert_eq!(h.state(out).state, CircuitState::LocallyBlocked);
}

#[test]
fn unexpected_acknowledgements_realign_the_far_end() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    // Q.764 §2.8.2.3: BLA for a circuit we have not blocked → UBL.
    h.recv(c(1), Message::new(MessageType::BLA));
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::UBL)]);
    h.recv(c(1), Message::new(MessageType::UBA));
    // UBA for a circuit we keep blocked → BLO.
    h.m.block(c(2));
    h.pump();
    h.take_sent();
    h.recv(c(2), Message::new(MessageType::BLA));
    h.recv(c(2), Message::new(MessageType::UBA));
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::BLO)]);
    h.recv(c(2), Message::new(MessageType::BLA));
    // UBA with nothing outstanding on an unblocked circuit is discarded.
    h.recv(c(3), Message::new(MessageType::UBA));
    assert!(h.take_sent().is_empty());
    assert!(h.take_other().iter().any(|a| matches!(
        a,
        Action::Alert(Alert::Discarded {
            message_type: MessageType::UBA,
            ..
        })
    )));
}

#[test]
fn unblock_before_bla_switches_to_ubl() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    h.m.block(c(1));
    h.m.unblock(c(1));
    h.pump();
    assert_eq!(
        types(&h.take_sent()),
        vec![(1, MessageType::BLO), (1, MessageType::UBL)]
    );
    assert_eq!(
        h.timers.keys().copied().collect::<Vec<_>>(),
        vec![key(Timer::T14, 1), key(Timer::T15, 1)]
    );
    // The late BLA crosses our UBL and is discarded; the UBA ends the procedure.
    h.recv(c(1), Message::new(MessageType::BLA));
    assert!(h.take_sent().is_empty());
    h.recv(c(1), Message::new(MessageType::UBA));
    assert!(h.m.all_idle());
}

// ------------------------------------------------------------------------------------------------
// Group blocking (Q.764 §2.8.2.2)

#[test]
fn cgb_received_maintenance_and_hardware() {
    let mut h = Harness::up(&one_group("1-31", SelectionPolicy::Sequential));
    assert_eq!(h.iam(c(3)), IamVerdict::Accept);
    let out = h.seize("a").unwrap(); // CIC 1
    assert_eq!(out, c(1));
    h.m.first_backward_message(out);
    // Maintenance CGB for CICs 1, 3, 4 (range 3): calls go on.
    let bits = [true, false, true, true];
    h.recv(c(1), cgb(BlockingKind::Maintenance, &bits));
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::CGBA)]);
    assert_eq!(range_status(&sent[0].1), (3, bits.to_vec()));
    assert_eq!(
        sent[0]
            .1
            .get::<CircuitGroupSupervisionMessageType>()
            .unwrap()
            .type_indicator,
        0
    );
    assert!(
        !h.take_other()
            .iter()
            .any(|a| matches!(a, Action::ReleaseCall { .. }))
    );
    assert_eq!(h.state(c(3)).call, CallState::Incoming);
    assert!(h.state(c(4)).remotely_blocked_maintenance);
    assert!(!h.state(c(2)).remotely_blocked_maintenance);
    // Hardware CGB for 3 and 5: the call on 3 is dropped without REL.
    let bits = [true, false, true];
    h.recv(c(3), cgb(BlockingKind::HardwareFailure, &bits));
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(3, MessageType::CGBA)]);
    assert_eq!(range_status(&sent[0].1), (2, bits.to_vec()));
    assert_eq!(
        sent[0]
            .1
            .get::<CircuitGroupSupervisionMessageType>()
            .unwrap()
            .type_indicator,
        1
    );
    assert!(h.take_other().contains(&Action::ReleaseCall {
        circuit: c(3),
        cause: CAUSE_TEMPORARY_FAILURE
    }));
    let s = h.state(c(3));
    assert_eq!(s.call, CallState::Idle);
    assert!(s.remotely_blocked_hardware && s.remotely_blocked_maintenance);
    // CGU maintenance leaves the hardware blocking.
    h.recv(
        c(1),
        cgu(BlockingKind::Maintenance, &[true, false, true, true]),
    );
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::CGUA)]);
    assert_eq!(h.state(c(3)).state, CircuitState::RemotelyBlocked);
    assert_eq!(h.state(c(4)).state, CircuitState::Idle);
    h.recv(
        c(3),
        cgu(BlockingKind::HardwareFailure, &[true, false, true]),
    );
    let sent = h.take_sent();
    assert_eq!(range_status(&sent[0].1), (2, vec![true, false, true]));
    assert_eq!(h.state(c(3)).state, CircuitState::Idle);
    h.m.call_released(out);
    assert!(h.m.all_idle());
}

#[test]
fn unreasonable_group_messages_are_discarded() {
    let mut h = Harness::up(&one_group("1-31", SelectionPolicy::Sequential));
    // Range 0 is reserved for CGB and GRS.
    h.recv(c(1), cgb(BlockingKind::Maintenance, &[true]));
    h.recv(c(1), grs(0));
    // Range 32 is too long.
    h.recv(c(1), grs(32));
    // Status shorter than the range.
    let short = Message::new(MessageType::CGB)
        .with(CircuitGroupSupervisionMessageType { type_indicator: 0 })
        .with(RangeAndStatus {
            range: 9,
            status: [0xFF].as_slice().into(),
        });
    h.recv(c(1), short);
    // Type indicator 10 (national) is not supported.
    let national = Message::new(MessageType::CGB)
        .with(CircuitGroupSupervisionMessageType { type_indicator: 2 })
        .with(RangeAndStatus::with_status(&[true, true]));
    h.recv(c(1), national);
    assert!(h.take_sent().is_empty());
    let discarded = h
        .take_other()
        .iter()
        .filter(|a| matches!(a, Action::Alert(Alert::Discarded { .. })))
        .count();
    assert_eq!(discarded, 5);
    assert!(h.m.all_idle());
}

#[test]
fn block_group_sends_cgb_and_repeats_on_t18_t19() {
    let mut h = Harness::up(&one_group("1-40", SelectionPolicy::Sequential));
    let g = h.m.group("a").unwrap();
    h.m.block_group(g, BlockingKind::Maintenance);
    h.pump();
    let sent = h.take_sent();
    assert_eq!(
        types(&sent),
        vec![(1, MessageType::CGB), (33, MessageType::CGB)]
    );
    assert_eq!(range_status(&sent[0].1), (31, vec![true; 32]));
    assert_eq!(range_status(&sent[1].1), (7, vec![true; 8]));
    assert_eq!(h.seize("a"), None);
    // Q.764 §2.8.3: circuits awaiting CGBA are transient in a CQR.
    let cqm = Message::new(MessageType::CQM).with(RangeAndStatus {
        range: 1,
        status: Default::default(),
    });
    h.recv(c(1), cqm);
    let cqr = h.take_sent().pop().unwrap().1;
    assert_eq!(
        cqr.get::<CircuitStateIndicator>()
            .unwrap()
            .states
            .as_slice(),
        &[0, 0]
    );
    h.secs(15);
    assert_eq!(
        types(&h.take_sent()),
        vec![(1, MessageType::CGB), (33, MessageType::CGB)]
    );
    // The far end acknowledges 33..40 fully and 1..32 without CIC 2: CGB again for CIC 2.
    let mut ack = vec![true; 32];
    ack[1] = false;
    let cgba = |bits: &[bool]| {
        Message::new(MessageType::CGBA)
            .with(CircuitGroupSupervisionMessageType { type_indicator: 0 })
            .with(RangeAndStatus::with_status(bits))
    };
    h.recv(c(33), cgba(&[true; 8]));
    h.recv(c(1), cgba(&ack));
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(2, MessageType::CGB)]);
    assert_eq!(range_status(&sent[0].1), (1, vec![true, false]));
    h.recv(c(2), cgba(&[true, false]));
    assert!(h.timers.is_empty());
    h.secs(600);
    assert!(h.take_sent().is_empty());

    h.m.unblock_group(g, BlockingKind::Maintenance);
    h.pump();
    let sent = h.take_sent();
    assert_eq!(
        types(&sent),
        vec![(1, MessageType::CGU), (33, MessageType::CGU)]
    );
    h.secs(300);
    assert!(
        h.take_other()
            .contains(&Action::Alert(Alert::NoAcknowledgement {
                timer: Timer::T21,
                circuit: c(1)
            }))
    );
    for (id, msg) in h.take_sent().into_iter().take(2) {
        h.peer_answer(id, &msg, &[]);
    }
    assert!(h.m.all_idle(), "{:?}", h.timers);
    assert!(h.timers.is_empty());
}

#[test]
fn hardware_group_blocking_drops_calls() {
    let mut h = Harness::up(&one_group("1-4", SelectionPolicy::Sequential));
    let out = h.seize("a").unwrap();
    assert_eq!(h.iam(c(2)), IamVerdict::Accept);
    let g = h.m.group("a").unwrap();
    h.m.block_group(g, BlockingKind::HardwareFailure);
    h.pump();
    let other = h.take_other();
    assert!(other.contains(&Action::Reattempt {
        circuit: out,
        release: false
    }));
    assert!(other.contains(&Action::ReleaseCall {
        circuit: c(2),
        cause: CAUSE_TEMPORARY_FAILURE
    }));
    let sent = h.take_sent();
    assert_eq!(
        sent[0]
            .1
            .get::<CircuitGroupSupervisionMessageType>()
            .unwrap()
            .type_indicator,
        1
    );
    assert_eq!(range_status(&sent[0].1), (3, vec![true; 4]));
    assert_eq!(h.state(c(1)).state, CircuitState::LocallyBlocked);
    // An unexpected CGBA for circuits we do not block gets a CGU.
    h.m.unblock_group(g, BlockingKind::HardwareFailure);
    h.pump();
    h.take_sent();
    h.recv(
        c(1),
        Message::new(MessageType::CGBA)
            .with(CircuitGroupSupervisionMessageType { type_indicator: 1 })
            .with(RangeAndStatus::with_status(&[true; 4])),
    );
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::CGU)]);
    assert_eq!(range_status(&sent[0].1), (3, vec![true; 4]));
}

// ------------------------------------------------------------------------------------------------
// Reset (Q.764 §2.9.3, §2.9.6)

#[test]
fn rsc_received_clears_calls_and_answers_rlc() {
    let mut h = Harness::up(&one_group("1-4", SelectionPolicy::Sequential));
    assert_eq!(h.iam(c(3)), IamVerdict::Accept);
    h.recv(c(3), Message::new(MessageType::BLO));
    h.take_sent();
    h.recv(c(3), Message::new(MessageType::RSC));
    assert_eq!(types(&h.take_sent()), vec![(3, MessageType::RLC)]);
    assert!(h.take_other().contains(&Action::ReleaseCall {
        circuit: c(3),
        cause: CAUSE_TEMPORARY_FAILURE
    }));
    assert_eq!(
        h.state(c(3)).state,
        CircuitState::Idle,
        "remote blocking removed"
    );
    // Outgoing call before any backward message: repeat attempt, no REL.
    let out = h.seize("a").unwrap();
    h.recv(out, Message::new(MessageType::RSC));
    assert!(h.take_other().contains(&Action::Reattempt {
        circuit: out,
        release: false
    }));
    // Locally blocked circuit: RLC, then BLO to re-establish the blocking.
    h.m.block(c(4));
    h.pump();
    h.recv(c(4), Message::new(MessageType::BLA));
    h.take_sent();
    h.recv(c(4), Message::new(MessageType::RSC));
    assert_eq!(
        types(&h.take_sent()),
        vec![(4, MessageType::RLC), (4, MessageType::BLO)]
    );
    h.recv(c(4), Message::new(MessageType::BLA));
    assert_eq!(h.state(c(4)).state, CircuitState::LocallyBlocked);
    assert!(h.timers.is_empty());
    // Remote hardware blocking goes with the reset; our own comes back with a hardware CGB.
    h.recv(c(1), cgb(BlockingKind::HardwareFailure, &[true, true]));
    h.take_sent();
    assert!(h.state(c(1)).remotely_blocked_hardware);
    h.recv(c(1), Message::new(MessageType::RSC));
    assert!(!h.state(c(1)).remotely_blocked_hardware);
    h.take_sent();
    let g = h.m.group("a").unwrap();
    h.m.block_group(g, BlockingKind::HardwareFailure);
    h.pump();
    for (id, msg) in h.take_sent() {
        h.peer_answer(id, &msg, &[]);
    }
    h.recv(c(2), Message::new(MessageType::RSC));
    let sent = h.take_sent();
    assert_eq!(
        types(&sent),
        vec![(2, MessageType::RLC), (2, MessageType::CGB)]
    );
    assert_eq!(range_status(&sent[1].1), (1, vec![true, false]));
    // A far end that keeps the circuit blocked may answer our RSC with BLO or CGB. CIC 3 is
    // hardware-blocked here (the whole group is), so our CGB follows.
    h.m.reset(c(3));
    h.pump();
    h.take_sent();
    h.recv(c(3), Message::new(MessageType::BLO));
    assert_eq!(
        types(&h.take_sent()),
        vec![(3, MessageType::BLA), (3, MessageType::CGB)]
    );
    let s = h.state(c(3));
    assert!(!s.reset_pending && s.remotely_blocked_maintenance);
    h.m.reset(c(3));
    h.pump();
    h.take_sent();
    h.recv(c(3), cgb(BlockingKind::HardwareFailure, &[true, false]));
    assert_eq!(
        types(&h.take_sent()),
        vec![(3, MessageType::CGBA), (3, MessageType::CGB)]
    );
    let s = h.state(c(3));
    assert!(!s.reset_pending && s.remotely_blocked_hardware);
    // RLC without RSC outstanding belongs to the call layer.
    assert_eq!(
        h.recv(c(1), Message::new(MessageType::RLC)),
        Disposition::CallControl
    );
    assert_eq!(
        h.recv(c(1), Message::new(MessageType::REL)),
        Disposition::CallControl
    );
}

#[test]
fn reset_circuit_repeats_on_t16_t17() {
    let mut h = Harness::up(&one_group("1-4", SelectionPolicy::Sequential));
    assert_eq!(h.iam(c(2)), IamVerdict::Accept);
    assert!(h.m.reset(c(2)));
    h.pump();
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::RSC)]);
    assert!(h.take_other().contains(&Action::ReleaseCall {
        circuit: c(2),
        cause: CAUSE_TEMPORARY_FAILURE
    }));
    assert_eq!(h.state(c(2)).state, CircuitState::ResetPending);
    assert_eq!(h.iam(c(2)), IamVerdict::Discard, "reset in progress");
    h.secs(15);
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::RSC)]);
    h.secs(285);
    assert!(
        h.take_other()
            .contains(&Action::Alert(Alert::NoAcknowledgement {
                timer: Timer::T17,
                circuit: c(2)
            }))
    );
    assert_eq!(
        h.timers.keys().copied().collect::<Vec<_>>(),
        vec![key(Timer::T17, 2)]
    );
    h.take_sent();
    assert_eq!(
        h.recv(c(2), Message::new(MessageType::RLC)),
        Disposition::Consumed
    );
    assert!(h.m.all_idle());
    assert!(h.timers.is_empty());
}

#[test]
fn t5_expiry_resets_with_t17_only() {
    let mut h = Harness::up(&one_group("1-4", SelectionPolicy::Sequential));
    let out = h.seize("a").unwrap();
    h.m.first_backward_message(out);
    h.m.release_failed(out);
    h.pump();
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::RSC)]);
    assert_eq!(
        h.timers.keys().copied().collect::<Vec<_>>(),
        vec![key(Timer::T17, 1)]
    );
    let other = h.take_other();
    assert!(other.contains(&Action::Alert(Alert::ReleaseFailed { circuit: out })));
    assert!(
        !other
            .iter()
            .any(|a| matches!(a, Action::ReleaseCall { .. })),
        "the call layer already gave the call up"
    );
    assert_eq!(h.seize("a"), Some(c(2)));
    h.recv(out, Message::new(MessageType::RLC));
    h.m.call_released(c(2));
    assert!(h.m.all_idle());
}

#[test]
fn grs_received_clears_calls_and_reports_local_blocking() {
    let mut h = Harness::up(&one_group("1-31", SelectionPolicy::Sequential));
    assert_eq!(h.iam(c(5)), IamVerdict::Accept);
    let out = h.seize("a").unwrap();
    h.m.first_backward_message(out);
    h.m.block(c(3));
    h.m.block(c(7));
    h.pump();
    for (id, msg) in h.take_sent() {
        h.peer_answer(id, &msg, &[]);
    }
    h.recv(c(6), Message::new(MessageType::BLO));
    h.recv(c(8), cgb(BlockingKind::HardwareFailure, &[true, false]));
    h.m.block(c(10));
    h.pump();
    h.take_sent();
    h.take_other();

    // GRS for CICs 1..10 (range 9).
    h.recv(c(1), grs(9));
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::GRA)]);
    let (range, bits) = range_status(&sent[0].1);
    assert_eq!(range, 9);
    let mut expected = vec![false; 10];
    expected[2] = true; // CIC 3
    expected[6] = true; // CIC 7
    expected[9] = true; // CIC 10 (BLO outstanding counts as blocked)
    assert_eq!(bits, expected);
    let other = h.take_other();
    assert!(other.contains(&Action::ReleaseCall {
        circuit: c(5),
        cause: CAUSE_TEMPORARY_FAILURE
    }));
    assert!(other.contains(&Action::ReleaseCall {
        circuit: out,
        cause: CAUSE_TEMPORARY_FAILURE
    }));
    assert_eq!(
        h.state(c(6)).state,
        CircuitState::Idle,
        "remote BLO removed"
    );
    assert_eq!(
        h.state(c(8)).state,
        CircuitState::Idle,
        "remote CGB removed"
    );
    assert_eq!(h.state(c(3)).state, CircuitState::LocallyBlocked);
    assert_eq!(h.state(c(5)).state, CircuitState::Idle);
    // CIC 11 is outside the range and keeps its state.
    assert_eq!(h.state(c(11)).state, CircuitState::Idle);
}

#[test]
fn grs_received_with_hardware_blocked_circuit_sends_cgb() {
    let mut h = Harness::up(&one_group("1-4", SelectionPolicy::Sequential));
    let g = h.m.group("a").unwrap();
    h.m.block_group(g, BlockingKind::HardwareFailure);
    h.pump();
    for (id, msg) in h.take_sent() {
        h.peer_answer(id, &msg, &[]);
    }
    h.recv(c(1), grs(3));
    let sent = h.take_sent();
    assert_eq!(
        types(&sent),
        vec![(1, MessageType::GRA), (1, MessageType::CGB)]
    );
    assert_eq!(range_status(&sent[0].1), (3, vec![false; 4]));
    assert_eq!(range_status(&sent[1].1), (3, vec![true; 4]));
    assert_eq!(
        sent[1]
            .1
            .get::<CircuitGroupSupervisionMessageType>()
            .unwrap()
            .type_indicator,
        1
    );
}

#[test]
fn grs_received_during_our_rsc_completes_it() {
    let mut h = Harness::up(&one_group("1-4", SelectionPolicy::Sequential));
    h.m.reset(c(2));
    h.pump();
    h.take_sent();
    h.recv(c(1), grs(3));
    assert_eq!(types(&h.take_sent()), vec![(1, MessageType::GRA)]);
    assert!(h.timers.is_empty());
    assert!(h.m.all_idle());
}

// ------------------------------------------------------------------------------------------------
// Circuit group query (Q.764 §2.8.3)

#[test]
fn cqm_answered_with_circuit_state_indicators() {
    let cfg = one_group("1-5,7-10", SelectionPolicy::Sequential);
    let mut h = Harness::up(&cfg);
    assert_eq!(h.iam(c(1)), IamVerdict::Accept);
    let out = h.seize("a").unwrap();
    assert_eq!(out, c(2));
    h.m.first_backward_message(out);
    h.m.block(c(3));
    h.pump();
    h.recv(c(3), Message::new(MessageType::BLA));
    h.recv(c(4), Message::new(MessageType::BLO));
    h.m.reset(c(5));
    h.m.block(c(8)); // BLA not yet received
    h.pump();
    assert_eq!(h.seize("a"), Some(c(7))); // no backward message yet
    h.recv(c(9), cgb(BlockingKind::HardwareFailure, &[true, true]));
    h.take_sent();
    let cqm = Message::new(MessageType::CQM).with(RangeAndStatus {
        range: 9,
        status: Default::default(),
    });
    h.recv(c(1), cqm);
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::CQR)]);
    let (range, _) = range_status(&sent[0].1);
    assert_eq!(range, 9);
    assert!(sent[0].1.get::<RangeAndStatus>().unwrap().status.is_empty());
    let csi = sent[0].1.get::<CircuitStateIndicator>().unwrap();
    // Q.763 §3.14: BA maintenance blocking, DC call processing, FE hardware blocking.
    assert_eq!(
        csi.states.as_slice(),
        &[
            0b0000_0100, // 1: incoming busy
            0b0000_1000, // 2: outgoing busy
            0b0000_1101, // 3: idle, locally blocked
            0b0000_1110, // 4: idle, remotely blocked
            0b0000_0000, // 5: transient (RSC sent, no RLC)
            0b0000_0011, // 6: unequipped
            0b0000_0000, // 7: transient (IAM sent, no backward message)
            0b0000_0000, // 8: transient (BLO sent, no BLA)
            0b0010_1100, // 9: idle, remotely hardware blocked
            0b0010_1100, // 10: idle, remotely hardware blocked
        ]
    );
    for o in csi.states.iter() {
        assert_eq!(
            circuit_state_indicator(decode_circuit_state_indicator(*o)),
            *o
        );
    }
}

#[test]
fn query_group_reports_the_cqr_and_alerts_on_t28() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    let g = h.m.group("a").unwrap();
    h.m.query_group(g);
    h.pump();
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::CQM)]);
    assert_eq!(range_status(&sent[0].1).0, 2);
    assert!(h.timers.contains_key(&key(Timer::T28, 1)));
    let cqr = Message::new(MessageType::CQR)
        .with(RangeAndStatus {
            range: 2,
            status: Default::default(),
        })
        .with(CircuitStateIndicator {
            states: [0x0C, 0x06, 0x03].as_slice().into(),
        });
    h.recv(c(1), cqr.clone());
    assert!(h.timers.is_empty());
    let other = h.take_other();
    assert!(other.contains(&Action::QueryResponse {
        first: c(1),
        states: vec![
            RemoteCircuitState::Equipped {
                maintenance_local: false,
                maintenance_remote: false,
                call_processing: 3,
                hardware_local: false,
                hardware_remote: false
            },
            RemoteCircuitState::Equipped {
                maintenance_local: false,
                maintenance_remote: true,
                call_processing: 1,
                hardware_local: false,
                hardware_remote: false
            },
            RemoteCircuitState::Unequipped,
        ]
    }));
    // A CQR nobody asked for is discarded.
    h.recv(c(1), cqr);
    assert!(h.take_other().iter().any(|a| matches!(
        a,
        Action::Alert(Alert::Discarded {
            message_type: MessageType::CQR,
            ..
        })
    )));
    h.m.query_group(g);
    h.pump();
    h.secs(10);
    assert!(
        h.take_other()
            .contains(&Action::Alert(Alert::QueryNotAnswered { first: c(1) }))
    );
    assert!(h.m.all_idle());
}

// ------------------------------------------------------------------------------------------------
// Unequipped CIC (Q.764 §2.12)

#[test]
fn unequipped_cic_gets_ucic() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    assert_eq!(h.iam(c(9)), IamVerdict::Unequipped);
    assert_eq!(types(&h.take_sent()), vec![(9, MessageType::UCIC)]);
    assert_eq!(
        h.recv(c(9), Message::new(MessageType::BLO)),
        Disposition::Unequipped
    );
    assert_eq!(types(&h.take_sent()), vec![(9, MessageType::UCIC)]);
    // Never UCIC in answer to UCIC, nor to a group message.
    h.recv(c(9), Message::new(MessageType::UCIC));
    h.recv(c(40), grs(3));
    assert!(h.take_sent().is_empty());
    // Another point code: all of its CICs are unequipped.
    let other = CircuitId { dpc: 999, cic: 1 };
    assert_eq!(h.iam(other), IamVerdict::Unequipped);
    assert_eq!(h.take_sent()[0].0, other);

    let mut cfg = one_group("1-3", SelectionPolicy::Sequential);
    cfg.send_ucic = false;
    let mut h = Harness::up(&cfg);
    assert_eq!(h.iam(c(9)), IamVerdict::Unequipped);
    assert!(h.take_sent().is_empty());
}

#[test]
fn ucic_received_takes_the_circuit_out_of_service() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    let out = h.seize("a").unwrap();
    h.recv(out, Message::new(MessageType::UCIC));
    let other = h.take_other();
    assert!(other.contains(&Action::Reattempt {
        circuit: out,
        release: false
    }));
    assert!(other.contains(&Action::Alert(Alert::FarEndUnequipped { circuit: out })));
    assert_eq!(h.state(out).state, CircuitState::Unequipped);
    assert_eq!(h.seize("a"), Some(c(2)));
    assert!(!h.m.all_idle());
    // Our reset, acknowledged, brings it back.
    h.m.reset(out);
    h.pump();
    h.recv(out, Message::new(MessageType::RLC));
    h.m.call_released(c(2));
    assert!(h.m.all_idle());
}

// ------------------------------------------------------------------------------------------------
// Dual seizure (Q.764 §2.9.1.4)

fn glare(own: u32, cic: u16) -> (IamVerdict, Vec<Action>, CircuitStatus) {
    let cfg = config(
        own,
        &[(
            "a",
            PEER,
            "1-31",
            Direction::Bothway,
            SelectionPolicy::Sequential,
        )],
    );
    let mut h = Harness::up(&cfg);
    // Seize up to the wanted CIC.
    let mut seized = Vec::new();
    loop {
        let id = h.seize("a").unwrap();
        seized.push(id);
        if id.cic == cic {
            break;
        }
    }
    h.take_other();
    let v = h.iam(c(cic));
    (v, h.take_other(), h.state(c(cic)))
}

#[test]
fn dual_seizure_lower_point_code_controls_odd_cics() {
    // We are 100, the far end 200: it controls the even CICs, we the odd ones.
    let (v, actions, s) = glare(OWN, 2);
    assert_eq!(v, IamVerdict::AcceptAfterDualSeizure);
    assert!(actions.contains(&Action::Reattempt {
        circuit: c(2),
        release: false
    }));
    assert_eq!(s.call, CallState::Incoming);
    let (v, actions, s) = glare(OWN, 3);
    assert_eq!(v, IamVerdict::DualSeizureIgnore);
    assert!(actions.is_empty());
    assert_eq!(s.call, CallState::Outgoing { backward: false });
}

#[test]
fn dual_seizure_higher_point_code_controls_even_cics() {
    let (v, _, s) = glare(300, 2);
    assert_eq!(v, IamVerdict::DualSeizureIgnore);
    assert_eq!(s.state, CircuitState::BusyOutgoing);
    let (v, actions, s) = glare(300, 3);
    assert_eq!(v, IamVerdict::AcceptAfterDualSeizure);
    assert!(actions.contains(&Action::Reattempt {
        circuit: c(3),
        release: false
    }));
    assert_eq!(s.state, CircuitState::BusyIncoming);
}

#[test]
fn no_dual_seizure_after_backward_message() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    let out = h.seize("a").unwrap();
    h.m.first_backward_message(out);
    assert_eq!(h.iam(out), IamVerdict::Discard);
    assert_eq!(h.state(out).call, CallState::Outgoing { backward: true });
    assert_eq!(h.iam(c(2)), IamVerdict::Accept);
    assert_eq!(h.iam(c(2)), IamVerdict::Discard, "already busy incoming");
}

// ------------------------------------------------------------------------------------------------
// Selection, directions, transport

#[test]
fn selection_policies() {
    let seq = |policy, own| {
        let cfg = config(own, &[("a", PEER, "1-6", Direction::Bothway, policy)]);
        let mut h = Harness::up(&cfg);
        (0..6)
            .map(|_| h.seize("a").unwrap().cic)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seq(SelectionPolicy::Sequential, OWN),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        seq(SelectionPolicy::Descending, OWN),
        vec![6, 5, 4, 3, 2, 1]
    );
    // We (100 < 200) control the odd CICs; the higher point code the even ones. Controlled
    // circuits go released-longest-ago first, the others released-most-recently first (the GRA
    // released them in CIC order).
    assert_eq!(
        seq(SelectionPolicy::ControlledFirst, OWN),
        vec![1, 3, 5, 6, 4, 2]
    );
    assert_eq!(
        seq(SelectionPolicy::ControlledFirst, 300),
        vec![2, 4, 6, 5, 3, 1]
    );

    let cfg = one_group("1-4", SelectionPolicy::LeastRecentlyUsed);
    let mut h = Harness::up(&cfg);
    let a = h.seize("a").unwrap();
    let b = h.seize("a").unwrap();
    h.m.call_released(b);
    h.m.call_released(a);
    let order: Vec<u16> = (0..4).map(|_| h.seize("a").unwrap().cic).collect();
    // The GRA released all at once (in CIC order); then b, then a.
    assert_eq!(order, vec![3, 4, b.cic, a.cic]);
    assert_eq!(h.seize("a"), None);
}

#[test]
fn directions() {
    let cfg = config(
        OWN,
        &[
            (
                "in",
                PEER,
                "1-2",
                Direction::Incoming,
                SelectionPolicy::Sequential,
            ),
            (
                "out",
                PEER,
                "3-4",
                Direction::Outgoing,
                SelectionPolicy::Sequential,
            ),
        ],
    );
    let mut h = Harness::up(&cfg);
    assert_eq!(h.seize("in"), None);
    assert_eq!(h.iam(c(1)), IamVerdict::Accept);
    assert_eq!(h.seize("out"), Some(c(3)));
    assert_eq!(
        h.iam(c(4)),
        IamVerdict::Reject {
            cause: CAUSE_CIRCUIT_NOT_AVAILABLE
        }
    );
    assert_eq!(h.state(c(4)).state, CircuitState::BusyIncoming);
    for cic in 1..=4 {
        h.m.call_released(c(cic));
    }
    assert!(h.m.all_idle());
    // Dual seizure on an outgoing-only group that the far end controls (even CIC): our call
    // backs off, theirs is refused.
    assert_eq!(h.seize("out"), Some(c(3)));
    assert_eq!(h.seize("out"), Some(c(4)));
    h.take_other();
    assert_eq!(
        h.iam(c(4)),
        IamVerdict::Reject {
            cause: CAUSE_CIRCUIT_NOT_AVAILABLE
        }
    );
    assert!(h.take_other().contains(&Action::Reattempt {
        circuit: c(4),
        release: false
    }));
    assert_eq!(h.iam(c(3)), IamVerdict::DualSeizureIgnore);
}

#[test]
fn transport_down_stops_timers_and_up_resets_everything() {
    let mut h = Harness::up(&one_group("1-8", SelectionPolicy::Sequential));
    let out = h.seize("a").unwrap();
    h.m.first_backward_message(out);
    h.m.block(c(5));
    h.m.reset(c(6));
    h.pump();
    h.take_sent();
    assert!(!h.timers.is_empty());
    h.m.transport_down();
    h.pump();
    assert!(h.timers.is_empty());
    assert_eq!(h.seize("a"), None);
    assert_eq!(h.state(out).call, CallState::Outgoing { backward: true });
    // Operator commands while down only change the local state.
    h.m.unblock(c(5));
    h.m.block(c(7));
    h.pump();
    assert!(h.take_sent().is_empty());
    h.take_other();
    h.m.transport_up();
    h.pump();
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::GRS)]);
    assert!(h.take_other().contains(&Action::ReleaseCall {
        circuit: out,
        cause: CAUSE_TEMPORARY_FAILURE
    }));
    h.peer_answer(c(1), &sent[0].1, &[]);
    assert_eq!(types(&h.take_sent()), vec![(7, MessageType::BLO)]);
    h.recv(c(7), Message::new(MessageType::BLA));
    assert_eq!(h.state(c(7)).state, CircuitState::LocallyBlocked);
    h.m.unblock(c(7));
    h.pump();
    h.recv(c(7), Message::new(MessageType::UBA));
    assert!(h.m.all_idle());
}

#[test]
fn point_code_unavailable_suspends_only_its_circuits() {
    let cfg = config(
        OWN,
        &[
            (
                "a",
                PEER,
                "1-4",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
            (
                "b",
                300,
                "1-4",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
        ],
    );
    let mut h = Harness::up(&cfg);
    h.m.block(c(2));
    h.m.block(CircuitId { dpc: 300, cic: 2 });
    h.pump();
    h.take_sent();
    h.m.point_code_unavailable(PEER);
    h.pump();
    assert_eq!(
        h.timers.keys().map(|k| k.circuit.dpc).collect::<Vec<_>>(),
        vec![300, 300],
        "only the timers toward 200 stop"
    );
    assert!(!h.m.is_point_code_available(PEER));
    assert_eq!(h.seize("a"), None);
    assert_eq!(h.seize("b"), Some(CircuitId { dpc: 300, cic: 1 }));
    h.m.reset(c(3));
    h.pump();
    assert!(h.take_sent().is_empty());
    h.m.point_code_available(PEER);
    h.pump();
    let sent = h.take_sent();
    assert_eq!(types(&sent), vec![(1, MessageType::GRS)]);
    assert_eq!(sent[0].0.dpc, PEER);
    h.peer_answer(c(1), &sent[0].1, &[]);
    assert_eq!(types(&h.take_sent()), vec![(2, MessageType::BLO)]);
}

#[test]
fn counts_by_state_cover_every_circuit() {
    let cfg = config(
        OWN,
        &[
            (
                "a",
                PEER,
                "1-10",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
            (
                "b",
                300,
                "1-5",
                Direction::Bothway,
                SelectionPolicy::Sequential,
            ),
        ],
    );
    let mut h = Harness::up(&cfg);
    h.seize("a");
    h.iam(c(5));
    h.m.block(c(6));
    h.pump();
    let counts = h.m.counts_by_state();
    assert_eq!(counts.len(), 2 * CircuitState::ALL.len());
    let get = |g: &str, s: CircuitState| {
        counts
            .iter()
            .find(|(n, st, _)| *n == g && *st == s)
            .unwrap()
            .2
    };
    assert_eq!(get("a", CircuitState::BusyOutgoing), 1);
    assert_eq!(get("a", CircuitState::BusyIncoming), 1);
    assert_eq!(get("a", CircuitState::LocallyBlocked), 1);
    assert_eq!(get("a", CircuitState::Idle), 7);
    assert_eq!(get("b", CircuitState::Idle), 5);
    assert_eq!(counts.iter().map(|x| x.2).sum::<usize>(), 15);
}

#[test]
fn alerts_read_well() {
    let a = Alert::NoAcknowledgement {
        timer: Timer::T13,
        circuit: c(5),
    };
    assert_eq!(
        a.to_string(),
        "circuit 200/5: no acknowledgement before T13 expired; request repeated"
    );
    let a = Alert::Discarded {
        circuit: c(1),
        message_type: MessageType::GRA,
        reason: "no GRS outstanding",
    };
    assert_eq!(
        a.to_string(),
        "circuit 200/1: GRA discarded: no GRS outstanding"
    );
}

#[test]
fn stale_timers_are_ignored() {
    let mut h = Harness::up(&one_group("1-3", SelectionPolicy::Sequential));
    h.m.timer_fired(key(Timer::T12, 1));
    h.m.timer_fired(key(Timer::T22, 9));
    h.m.timer_fired(TimerKey {
        timer: Timer::T28,
        circuit: CircuitId { dpc: 7, cic: 7 },
    });
    h.pump();
    assert!(h.take_sent().is_empty());
    assert!(h.m.all_idle());
}

// ------------------------------------------------------------------------------------------------
// Property: no hung circuits

mod props {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, VecDeque};

    #[derive(Debug, Clone)]
    enum Op {
        Seize,
        Iam(u16),
        Backward(u16),
        Release(u16),
        ReleaseFailed(u16),
        Blo(u16),
        Ubl(u16),
        Rsc(u16),
        Ucic(u16),
        Grs(u16, u8),
        Cgb(bool, u16, Vec<bool>),
        Cgu(bool, u16, Vec<bool>),
        Cqm(u16, u8),
        Block(u16),
        Unblock(u16),
        Reset(u16),
        ResetGroup,
        BlockGroup(bool),
        UnblockGroup(bool),
        Query,
        /// The far end answers the oldest message we sent that it has not answered.
        PeerAnswer,
        /// The oldest message we sent is lost.
        Lose,
        Advance(u16),
        Down,
        Up,
        PcDown,
        PcUp,
    }

    /// Two far ends. A: CICs 1..=40 without 21 (two GRS runs, CGB windows across the gap,
    /// unequipped CICs inside the ranges). B: an 8-circuit group toward another point code.
    struct Peer {
        dpc: u32,
        cics: &'static str,
        last: u16,
        gap: Option<u16>,
    }

    const PEERS: [Peer; 2] = [
        Peer {
            dpc: PEER,
            cics: "1-20,22-40",
            last: 40,
            gap: Some(21),
        },
        Peer {
            dpc: 300,
            cics: "1-8",
            last: 8,
            gap: None,
        },
    ];

    impl Peer {
        fn equipped(&self) -> impl Iterator<Item = u16> + '_ {
            (1..=self.last).filter(|&c| Some(c) != self.gap)
        }

        /// Map a drawn CIC onto this peer's range, one past the end included (unequipped).
        fn cic(&self, drawn: u16) -> u16 {
            (drawn - 1) % (self.last + 1) + 1
        }

        fn id(&self, drawn: u16) -> CircuitId {
            CircuitId {
                dpc: self.dpc,
                cic: self.cic(drawn),
            }
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        let cic = 1..=41u16;
        prop_oneof![
            3 => Just(Op::Seize),
            3 => cic.clone().prop_map(Op::Iam),
            2 => cic.clone().prop_map(Op::Backward),
            3 => cic.clone().prop_map(Op::Release),
            1 => cic.clone().prop_map(Op::ReleaseFailed),
            1 => cic.clone().prop_map(Op::Blo),
            1 => cic.clone().prop_map(Op::Ubl),
            1 => cic.clone().prop_map(Op::Rsc),
            1 => cic.clone().prop_map(Op::Ucic),
            1 => (cic.clone(), 0u8..34).prop_map(|(c, r)| Op::Grs(c, r)),
            1 => (any::<bool>(), cic.clone(), prop::collection::vec(any::<bool>(), 1..34))
                .prop_map(|(h, c, b)| Op::Cgb(h, c, b)),
            1 => (any::<bool>(), cic.clone(), prop::collection::vec(any::<bool>(), 1..34))
                .prop_map(|(h, c, b)| Op::Cgu(h, c, b)),
            1 => (cic.clone(), 0u8..34).prop_map(|(c, r)| Op::Cqm(c, r)),
            1 => cic.clone().prop_map(Op::Block),
            1 => cic.clone().prop_map(Op::Unblock),
            1 => cic.clone().prop_map(Op::Reset),
            1 => Just(Op::ResetGroup),
            1 => any::<bool>().prop_map(Op::BlockGroup),
            1 => any::<bool>().prop_map(Op::UnblockGroup),
            1 => Just(Op::Query),
            6 => Just(Op::PeerAnswer),
            1 => Just(Op::Lose),
            2 => (1u16..400).prop_map(Op::Advance),
            1 => Just(Op::Down),
            1 => Just(Op::Up),
            1 => Just(Op::PcDown),
            1 => Just(Op::PcUp),
        ]
    }

    fn kind(hw: bool) -> BlockingKind {
        if hw {
            BlockingKind::HardwareFailure
        } else {
            BlockingKind::Maintenance
        }
    }

    /// The manager, the call layer's view (the circuits it has a call on) and the messages on
    /// their way to the far ends.
    struct World {
        h: Harness,
        calls: BTreeSet<CircuitId>,
        to_peer: VecDeque<(CircuitId, Message)>,
    }

    impl World {
        fn settle(&mut self) {
            self.h.pump();
            for (id, m) in self.h.take_sent() {
                self.to_peer.push_back((id, m));
            }
            for a in self.h.take_other() {
                match a {
                    Action::ReleaseCall { circuit, .. }
                    | Action::Reattempt {
                        circuit,
                        release: false,
                    } => {
                        assert!(self.calls.remove(&circuit), "{circuit} had no call");
                    }
                    Action::Reattempt {
                        circuit,
                        release: true,
                    } => assert!(self.calls.contains(&circuit)),
                    _ => {}
                }
            }
        }

        fn check(&self) {
            let m = &self.h.m;
            let total: usize = m.counts_by_state().iter().map(|x| x.2).sum();
            assert_eq!(total, m.len(), "a circuit was lost");
            assert!(
                m.selection_index_consistent(),
                "the selection index disagrees with the circuits' states"
            );
            let long = [
                Timer::T13,
                Timer::T15,
                Timer::T17,
                Timer::T19,
                Timer::T21,
                Timer::T23,
            ];
            for peer in &PEERS {
                for cic in peer.equipped() {
                    let id = CircuitId { dpc: peer.dpc, cic };
                    let s = m.state(id).unwrap();
                    // Q.763 §3.14: a hardware-blocked circuit carries no call.
                    if s.locally_blocked_hardware || s.remotely_blocked_hardware {
                        assert_eq!(s.call, CallState::Idle, "{s:?}");
                    }
                    // Nothing waits for an acknowledgement without a timer to repeat it.
                    if s.awaiting_acknowledgement && m.is_point_code_available(peer.dpc) {
                        assert!(
                            m.running_timers().any(|k| long.contains(&k.timer)
                                && k.circuit.dpc == peer.dpc
                                && k.circuit.cic <= cic
                                && cic - k.circuit.cic < 32),
                            "{s:?} waits with no timer"
                        );
                    }
                    assert_eq!(
                        s.call != CallState::Idle,
                        self.calls.contains(&id),
                        "call state of {id} disagrees with the call layer: {s:?}"
                    );
                }
            }
        }

        fn apply(&mut self, which: bool, op: Op) {
            let p = &PEERS[which as usize];
            let g = TrunkGroupId(which as usize);
            let dpc = p.dpc;
            match op {
                Op::Seize => {
                    if let Some(id) = self.h.m.seize_outgoing(g) {
                        assert_eq!(id.dpc, dpc);
                        assert!(self.calls.insert(id), "seized a busy circuit");
                    }
                }
                Op::Iam(cic) => {
                    let id = p.id(cic);
                    let v = self.h.m.incoming_iam(dpc, id.cic);
                    self.settle();
                    match v {
                        IamVerdict::Accept
                        | IamVerdict::AcceptAfterDualSeizure
                        | IamVerdict::Reject { .. } => {
                            assert!(self.calls.insert(id));
                        }
                        _ => {}
                    }
                }
                Op::Backward(cic) => self.h.m.first_backward_message(p.id(cic)),
                Op::Release(cic) => {
                    self.h.m.call_released(p.id(cic));
                    self.calls.remove(&p.id(cic));
                }
                Op::ReleaseFailed(cic) => {
                    if self.calls.remove(&p.id(cic)) {
                        self.h.m.release_failed(p.id(cic));
                    }
                }
                Op::Blo(cic) => {
                    self.h
                        .m
                        .on_message(dpc, p.cic(cic), &Message::new(MessageType::BLO));
                }
                Op::Ubl(cic) => {
                    self.h
                        .m
                        .on_message(dpc, p.cic(cic), &Message::new(MessageType::UBL));
                }
                Op::Rsc(cic) => {
                    self.h
                        .m
                        .on_message(dpc, p.cic(cic), &Message::new(MessageType::RSC));
                }
                Op::Ucic(cic) => {
                    self.h
                        .m
                        .on_message(dpc, p.cic(cic), &Message::new(MessageType::UCIC));
                }
                Op::Grs(cic, range) => {
                    self.h.m.on_message(dpc, p.cic(cic), &grs(range));
                }
                Op::Cgb(hw, cic, bits) => {
                    self.h.m.on_message(dpc, p.cic(cic), &cgb(kind(hw), &bits));
                }
                Op::Cgu(hw, cic, bits) => {
                    self.h.m.on_message(dpc, p.cic(cic), &cgu(kind(hw), &bits));
                }
                Op::Cqm(cic, range) => {
                    let m = Message::new(MessageType::CQM).with(RangeAndStatus {
                        range,
                        status: Default::default(),
                    });
                    self.h.m.on_message(dpc, p.cic(cic), &m);
                }
                Op::Block(cic) => {
                    self.h.m.block(p.id(cic));
                }
                Op::Unblock(cic) => {
                    self.h.m.unblock(p.id(cic));
                }
                Op::Reset(cic) => {
                    self.h.m.reset(p.id(cic));
                }
                Op::ResetGroup => self.h.m.reset_group(g),
                Op::BlockGroup(hw) => self.h.m.block_group(g, kind(hw)),
                Op::UnblockGroup(hw) => self.h.m.unblock_group(g, kind(hw)),
                Op::Query => self.h.m.query_group(g),
                Op::PeerAnswer => {
                    if let Some((id, m)) = self.to_peer.pop_front() {
                        self.h.peer_answer(id, &m, &[]);
                    }
                }
                Op::Lose => {
                    self.to_peer.pop_front();
                }
                Op::Advance(s) => self.h.secs(s as u64),
                Op::Down => {
                    self.h.m.transport_down();
                    self.to_peer.clear();
                }
                Op::Up => self.h.m.transport_up(),
                Op::PcDown => {
                    self.h.m.point_code_unavailable(dpc);
                    self.to_peer.retain(|(id, _)| id.dpc != dpc);
                }
                Op::PcUp => self.h.m.point_code_available(dpc),
            }
            self.settle();
            self.check();
        }

        /// Release every call, unblock everything on both sides, answer every message: every
        /// circuit must end idle with no timer running.
        fn wind_down(&mut self) {
            self.h.m.transport_up();
            for peer in &PEERS {
                self.h.m.point_code_available(peer.dpc);
            }
            self.settle();
            for id in std::mem::take(&mut self.calls) {
                self.h.m.call_released(id);
            }
            for (g, peer) in PEERS.iter().enumerate() {
                for cic in peer.equipped() {
                    let id = CircuitId { dpc: peer.dpc, cic };
                    self.h.m.unblock(id);
                    if self.h.m.state(id).unwrap().far_end_unequipped {
                        self.h.m.reset(id);
                    }
                }
                self.h
                    .m
                    .unblock_group(TrunkGroupId(g), BlockingKind::HardwareFailure);
            }
            self.settle();
            // The far ends lift their own blocking.
            for peer in &PEERS {
                for cic in peer.equipped() {
                    self.h
                        .m
                        .on_message(peer.dpc, cic, &Message::new(MessageType::UBL));
                }
                let mut first = 1;
                while first <= peer.last {
                    let all = cgu(BlockingKind::HardwareFailure, &[true; 20]);
                    self.h.m.on_message(peer.dpc, first, &all);
                    first += 20;
                }
            }
            self.settle();
            // Lost messages come back with the timers (T12, T14, T16, T18, T20, T22, and the
            // long timers after them).
            for _ in 0..200 {
                while let Some((id, m)) = self.to_peer.pop_front() {
                    self.h.peer_answer(id, &m, &[]);
                    self.settle();
                }
                if self.h.timers.is_empty() {
                    break;
                }
                self.h.secs(60);
                self.settle();
            }
            assert!(self.to_peer.is_empty(), "messages keep coming");
            assert!(self.calls.is_empty());
            let states: Vec<_> = PEERS
                .iter()
                .flat_map(|p| p.equipped().map(|cic| CircuitId { dpc: p.dpc, cic }))
                .map(|id| self.h.m.state(id).unwrap())
                .filter(|s| s.state != CircuitState::Idle || s.awaiting_acknowledgement)
                .collect();
            assert!(self.h.m.all_idle(), "hung circuits: {states:#?}");
            assert!(self.h.timers.is_empty(), "timers left: {:?}", self.h.timers);
            // And every circuit can be seized again.
            for (g, peer) in PEERS.iter().enumerate() {
                for _ in peer.equipped() {
                    assert!(self.h.m.seize_outgoing(TrunkGroupId(g)).is_some());
                }
                assert!(self.h.m.seize_outgoing(TrunkGroupId(g)).is_none());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn no_hung_circuits(
            own_higher in any::<bool>(),
            ops in prop::collection::vec((any::<bool>(), op()), 0..150),
        ) {
            let own = if own_higher { 250 } else { OWN };
            let groups: Vec<_> = PEERS
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let name = if i == 0 { "a" } else { "b" };
                    (name, p.dpc, p.cics, Direction::Bothway, SelectionPolicy::ControlledFirst)
                })
                .collect();
            let cfg = config(own, &groups);
            let mut w = World {
                h: Harness::new(&cfg),
                calls: BTreeSet::new(),
                to_peer: VecDeque::new(),
            };
            w.h.m.transport_up();
            w.settle();
            for (which, op) in ops {
                w.apply(which, op);
            }
            w.wind_down();
        }
    }
}
