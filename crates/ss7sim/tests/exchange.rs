//! The sans-IO exchange driven by a virtual clock: every message it sends goes through the ISUP
//! codec (emit_with_cic → parse_with_cic), timers fire in deadline order as the clock advances.

use std::collections::BTreeMap;
use std::time::Duration;

use isup::{
    BackwardCallIndicators, CalledPartyNumber, CauseIndicators, CircuitStateIndicator, Message,
    MessageType as MT, RangeAndStatus, SubsequentNumber,
};
use ss7sim::exchange::{Action, CallRequest, Event, Exchange, Maintenance, Side, Timer, TimerKind};
use ss7sim::{AnswerRule, CicRange, Config, Direction, msg};

struct Harness {
    ex: Exchange,
    now: Duration,
    timers: BTreeMap<Timer, Duration>,
    sent: Vec<(u16, Message)>,
    events: Vec<Event>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> Config {
    let mut c = Config {
        local_pc: 2,
        remote_pc: 1,
        cics: vec![CicRange::new(1, 8)],
        ..Config::default()
    };
    c.timers.t1 = ms(1000);
    c.timers.t5 = ms(5000);
    c.timers.t7 = ms(3000);
    c.timers.t16 = ms(1000);
    c.timers.t17 = ms(10_000);
    c.timers.t12 = ms(1000);
    c.timers.t13 = ms(10_000);
    c.timers.t22 = ms(1000);
    c.timers.t23 = ms(10_000);
    c.timers.t35 = ms(500);
    c.answer = vec![
        AnswerRule::answer("4930", ms(200), None),
        AnswerRule::reject("4966", 17),
        AnswerRule::reject("4900", 1),
        AnswerRule::no_answer("4977"),
        AnswerRule {
            digits: 6,
            ..AnswerRule::answer("4988", ms(0), Some(ms(1000)))
        },
    ];
    c
}

impl Harness {
    fn new(cfg: Config) -> Self {
        Harness {
            ex: Exchange::new(cfg, true),
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn pump(&mut self) {
        while let Some(a) = self.ex.poll_action() {
            match a {
                Action::Send { cic, message } => {
                    // Every message the exchange sends must survive the codec.
                    let mut b = Vec::new();
                    message.emit_with_cic(cic, &mut b).expect("encodes");
                    let (c, back) = Message::parse_with_cic(&b).expect("decodes");
                    assert_eq!((c, &back), (cic, &message));
                    self.sent.push((cic, message));
                }
                Action::StartTimer { timer, after } => {
                    self.timers.insert(timer, self.now + after);
                }
                Action::StopTimer(t) => {
                    self.timers.remove(&t);
                }
                Action::Event(e) => self.events.push(e),
            }
        }
    }

    fn recv(&mut self, cic: u16, m: Message) {
        self.ex.handle_message(self.now, cic, &m);
        self.pump();
    }

    /// Advances the virtual clock, firing due timers in order.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self
                .timers
                .iter()
                .filter(|(_, at)| **at <= end)
                .min_by_key(|(t, at)| (**at, **t))
                .map(|(t, at)| (*t, *at));
            let Some((t, at)) = next else { break };
            self.timers.remove(&t);
            self.now = at;
            self.ex.handle_timeout(self.now, t);
            self.pump();
        }
        self.now = end;
    }

    fn take_sent(&mut self) -> Vec<(u16, MT)> {
        self.sent
            .drain(..)
            .map(|(c, m)| (c, m.message_type))
            .collect()
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn running(&self, cic: u16, kind: TimerKind) -> bool {
        self.timers.contains_key(&Timer { cic, kind })
    }
}

fn iam_to(called: &str) -> Message {
    let o = ss7sim::Originate {
        called: called.into(),
        ..Default::default()
    };
    msg::iam(&o, called)
}

fn ended(events: &[Event]) -> Vec<(Direction, bool, u8, Side)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallEnded {
                direction, outcome, ..
            } => Some((
                *direction,
                outcome.answered,
                outcome.cause,
                outcome.released_by,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn terminating_call_answers_after_delay_and_releases_on_far_end_rel() {
    let mut h = Harness::new(config());
    h.recv(3, iam_to("4930123456"));
    let sent = h.sent.clone();
    assert_eq!(h.take_sent(), vec![(3, MT::ACM)]);
    let bci = sent[0].1.get::<BackwardCallIndicators>().unwrap();
    assert_eq!(bci.called_party_status, 1);
    h.advance(ms(199));
    assert!(h.take_sent().is_empty());
    h.advance(ms(1));
    assert_eq!(h.take_sent(), vec![(3, MT::ANM)]);
    let answered = h.take_events().into_iter().find_map(|e| match e {
        Event::CallAnswered { setup_time, .. } => Some(setup_time),
        _ => None,
    });
    assert_eq!(answered, Some(ms(200)));
    h.advance(ms(5000));
    h.recv(3, msg::rel(16, 0));
    assert_eq!(h.take_sent(), vec![(3, MT::RLC)]);
    assert_eq!(
        ended(&h.take_events()),
        vec![(Direction::Incoming, true, 16, Side::Remote)]
    );
    assert!(h.ex.is_available(3));
    assert!(h.timers.is_empty(), "no timer left: {:?}", h.timers);
}

#[test]
fn reject_rules_send_rel_with_cause_and_run_t1_t5() {
    let mut h = Harness::new(config());
    h.recv(1, iam_to("4966000"));
    let (cic, rel) = h.sent.remove(0);
    assert_eq!((cic, rel.message_type), (1, MT::REL));
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 17);
    assert_eq!(
        ended(&h.take_events()),
        vec![(Direction::Incoming, false, 17, Side::Local)]
    );
    assert!(h.running(1, TimerKind::T1) && h.running(1, TimerKind::T5));
    // No RLC: T1 repeats REL every second (Q.764 §2.3.1 c).
    h.advance(ms(3500));
    assert_eq!(h.take_sent(), vec![(1, MT::REL); 3]);
    // T5 at 5 s: RSC, maintenance alert, T1 stopped, T17 started.
    h.advance(ms(1500));
    let sent = h.take_sent();
    assert_eq!(sent.last(), Some(&(1, MT::RSC)));
    assert!(!h.running(1, TimerKind::T1));
    assert!(h.running(1, TimerKind::T17));
    assert!(h.take_events().iter().any(|e| matches!(
        e,
        Event::Maintenance(Maintenance::Alert {
            cic: 1,
            timer: TimerKind::T5
        })
    )));
    // RLC completes the reset.
    h.recv(1, msg::bare(MT::RLC));
    assert!(h.ex.is_available(1));
    assert!(h.timers.is_empty());

    // Unallocated number: REL cause 1; RLC stops T1/T5.
    h.recv(2, iam_to("4900123"));
    let (_, rel) = h.sent.remove(0);
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 1);
    h.recv(2, msg::bare(MT::RLC));
    assert!(h.timers.is_empty());
}

#[test]
fn no_answer_rule_rings_until_the_caller_gives_up() {
    let mut h = Harness::new(config());
    h.recv(4, iam_to("4977111"));
    assert_eq!(h.take_sent(), vec![(4, MT::ACM)]);
    h.advance(Duration::from_secs(60));
    assert!(h.take_sent().is_empty());
    h.recv(4, msg::rel(19, 4));
    assert_eq!(h.take_sent(), vec![(4, MT::RLC)]);
    assert_eq!(
        ended(&h.take_events()),
        vec![(Direction::Incoming, false, 19, Side::Remote)]
    );
}

#[test]
fn originating_call_with_hold_t7_and_no_answer() {
    let mut cfg = config();
    cfg.originate.hold = Some(ms(2000));
    let o = cfg.originate.clone();
    let mut h = Harness::new(cfg);
    let (call, cic) = h.ex.originate(h.now, CallRequest::new(o.clone())).unwrap();
    h.pump();
    // pc 2 > pc 1: this exchange controls the even CICs and prefers them.
    assert_eq!(cic % 2, 0);
    assert_eq!(h.take_sent(), vec![(cic, MT::IAM)]);
    h.advance(ms(30));
    h.recv(cic, msg::acm(1));
    h.advance(ms(70));
    h.recv(cic, msg::anm());
    let ev = h.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::CallAnswered { call: c, setup_time, direction: Direction::Outgoing, .. } if *c == call && *setup_time == ms(100))));
    h.advance(ms(2000));
    let (_, rel) = h.sent.remove(0);
    assert_eq!(rel.message_type, MT::REL);
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 16);
    let ev = h.take_events();
    assert_eq!(
        ended(&ev),
        vec![(Direction::Outgoing, true, 16, Side::Local)]
    );
    let held = ev.iter().find_map(|e| match e {
        Event::CallEnded { outcome, .. } => outcome.held,
        _ => None,
    });
    assert_eq!(held, Some(ms(2000)), "answer → release is the hold time");
    h.recv(cic, msg::bare(MT::RLC));
    assert!(h.ex.is_available(cic) && h.timers.is_empty());

    // T7: no ACM within 3 s → REL 102.
    let (_, cic) = h.ex.originate(h.now, CallRequest::new(o.clone())).unwrap();
    h.pump();
    h.take_sent();
    h.advance(ms(3000));
    let (_, rel) = h.sent.remove(0);
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 102);
    assert_eq!(
        ended(&h.take_events()),
        vec![(Direction::Outgoing, false, 102, Side::Local)]
    );
    h.recv(cic, msg::bare(MT::RLC));

    // No answer after ACM → REL 19.
    let mut o2 = o;
    o2.no_answer = Some(ms(1500));
    let (_, cic) = h.ex.originate(h.now, CallRequest::new(o2)).unwrap();
    h.pump();
    h.recv(cic, msg::acm(1));
    h.take_sent();
    h.advance(ms(1500));
    let (_, rel) = h.sent.remove(0);
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 19);
}

#[test]
fn overlap_sending_and_receiving() {
    let mut cfg = config();
    cfg.originate.called = "4988123".into();
    cfg.originate.overlap = 4;
    cfg.originate.sam_digits = 2;
    let o = cfg.originate.clone();
    let mut h = Harness::new(cfg);
    let (_, cic) = h.ex.originate(h.now, CallRequest::new(o)).unwrap();
    h.pump();
    let sent: Vec<Message> = h.sent.drain(..).map(|(_, m)| m).collect();
    assert_eq!(
        sent.iter().map(|m| m.message_type).collect::<Vec<_>>(),
        vec![MT::IAM, MT::SAM, MT::SAM]
    );
    assert_eq!(
        sent[0]
            .get::<CalledPartyNumber>()
            .unwrap()
            .digits
            .to_string(),
        "4988"
    );
    assert_eq!(
        sent[2]
            .get::<SubsequentNumber>()
            .unwrap()
            .digits
            .to_string(),
        "3"
    );
    h.recv(cic, msg::bare(MT::RSC));
    assert_eq!(h.take_sent(), vec![(cic, MT::RLC)]);

    // Receiving: rule 4988 wants 6 digits.
    h.recv(5, iam_to("4988"));
    let s = h.take_sent();
    assert!(s.is_empty(), "{s:?}");
    h.recv(5, msg::sam("1"));
    let s = h.take_sent();
    assert!(s.is_empty(), "{s:?} {:?}", h.events);
    h.recv(5, msg::sam("2"));
    assert_eq!(h.take_sent(), vec![(5, MT::ACM), (5, MT::ANM)]);
    let offered = h.take_events().into_iter().find_map(|e| match e {
        Event::CallOffered { called, .. } => Some(called),
        _ => None,
    });
    assert_eq!(offered.as_deref(), Some("498812"));
    // Hold 1 s, then the called side releases.
    h.advance(ms(1000));
    assert_eq!(h.take_sent(), vec![(5, MT::REL)]);
    h.recv(5, msg::bare(MT::RLC));
    // T35: the number stays incomplete → REL 28 (address incomplete); a SAM restarts T35.
    h.recv(7, iam_to("4988"));
    h.advance(ms(400));
    h.recv(7, msg::sam("1"));
    h.advance(ms(499));
    assert!(h.take_sent().is_empty());
    h.advance(ms(1));
    let (cic, rel) = h.sent.remove(0);
    assert_eq!((cic, rel.message_type), (7, MT::REL));
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 28);
}

#[test]
fn statistics_count_every_seized_incoming_call() {
    let mut h = Harness::new(config());
    let mut stats = ss7sim::Stats::default();
    // Complete and answered; rejected; cleared by the caller while digits are still missing.
    h.recv(1, iam_to("4930"));
    h.advance(ms(200));
    h.recv(1, msg::rel(16, 0));
    h.recv(2, iam_to("4966"));
    h.recv(2, msg::bare(MT::RLC));
    h.recv(3, iam_to("4988"));
    h.recv(3, msg::rel(16, 0));
    for e in h.take_events() {
        stats.record(&e);
    }
    let r = stats.incoming.report();
    assert_eq!(
        (
            r.attempted,
            r.answered,
            r.completed,
            r.failed,
            r.in_progress
        ),
        (3, 1, 1, 2, 0)
    );
    assert_eq!(r.failed_by_cause.get("17"), Some(&1));
    assert_eq!(r.failed_by_cause.get("16"), Some(&1));
    assert_eq!(r.setup_latency.count, 1);
    assert_eq!(r.setup_latency.p50_ms, 200.0);
}

#[test]
fn continuity_check_waits_for_cot_and_t8() {
    use isup::{ContinuityIndicators, NatureOfConnectionIndicators};
    let mut cfg = config();
    cfg.timers.t8 = ms(10_000);
    let mut h = Harness::new(cfg);
    let cot = |ok: u8| {
        Message::new(MT::COT).with(ContinuityIndicators {
            continuity_indicator: ok,
        })
    };
    let iam_cot = |called: &str, ind: u8| {
        let mut m = iam_to(called);
        m.set(NatureOfConnectionIndicators {
            continuity_check_indicator: ind,
            ..Default::default()
        });
        m
    };
    // Check on this circuit: nothing until COT (success), then ACM.
    h.recv(1, iam_cot("4930", 1));
    assert!(h.take_sent().is_empty());
    assert!(h.running(1, TimerKind::T8));
    h.advance(ms(300));
    h.recv(1, cot(1));
    assert_eq!(h.take_sent(), vec![(1, MT::ACM)]);
    assert!(!h.running(1, TimerKind::T8));
    // Check on a previous circuit, failed: the call is abandoned without REL.
    h.recv(3, iam_cot("4930", 2));
    h.recv(3, cot(0));
    assert!(h.take_sent().is_empty());
    assert!(h.ex.is_available(3));
    assert_eq!(
        ended(&h.take_events()),
        vec![(Direction::Incoming, false, 41, Side::Remote)]
    );
    // No COT: T8 releases with cause 102.
    h.recv(5, iam_cot("4930", 1));
    h.advance(ms(10_000));
    let rel = h
        .sent
        .iter()
        .find(|(c, m)| *c == 5 && m.message_type == MT::REL)
        .map(|(_, m)| m.clone())
        .expect("REL on CIC 5");
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 102);
    h.sent.clear();
    // COT without a pending check is unexpected and ignored.
    h.recv(7, cot(1));
    assert!(h.take_sent().is_empty());
}

#[test]
fn dual_seizure_the_controlling_exchange_wins() {
    // pc 2 > 1: we control even CICs. On CIC 2 our call wins; the peer's IAM is ignored.
    let cfg = config();
    let o = cfg.originate.clone();
    let mut h = Harness::new(cfg);
    let req = CallRequest {
        cic: Some(2),
        ..CallRequest::new(o.clone())
    };
    let (call2, _) = h.ex.originate(h.now, req).unwrap();
    h.pump();
    h.take_sent();
    h.recv(2, iam_to("4930"));
    assert!(h.take_sent().is_empty());
    assert_eq!(h.ex.call_cic(call2), Some(2));
    // On CIC 3 (odd, the peer controls it) our call backs off and is retried elsewhere.
    let req = CallRequest {
        cic: Some(3),
        ..CallRequest::new(o)
    };
    let (call3, _) = h.ex.originate(h.now, req).unwrap();
    h.pump();
    h.take_sent();
    h.recv(3, iam_to("4930"));
    let sent = h.take_sent();
    let retried = h.ex.call_cic(call3).unwrap();
    assert_ne!(retried, 3);
    assert!(sent.contains(&(retried, MT::IAM)), "{sent:?}");
    assert!(
        sent.contains(&(3, MT::ACM)),
        "incoming call served: {sent:?}"
    );
}

#[test]
fn rel_collision_and_unexpected_messages() {
    let cfg = config();
    let o = cfg.originate.clone();
    let mut h = Harness::new(cfg);
    let (call, cic) = h.ex.originate(h.now, CallRequest::new(o)).unwrap();
    h.pump();
    h.recv(cic, msg::anm());
    assert!(h.ex.release(h.now, call, 16));
    h.pump();
    h.take_sent();
    // Both sides released: REL while awaiting RLC → RLC, idle, T1/T5 stopped.
    h.recv(cic, msg::rel(16, 0));
    assert_eq!(h.take_sent(), vec![(cic, MT::RLC)]);
    assert!(h.timers.is_empty());
    // REL on an idle circuit → RLC; ANM on an idle circuit → RSC.
    h.recv(6, msg::rel(16, 0));
    assert_eq!(h.take_sent(), vec![(6, MT::RLC)]);
    h.recv(6, msg::anm());
    assert_eq!(h.take_sent(), vec![(6, MT::RSC)]);
    h.recv(6, msg::bare(MT::RLC));
    assert!(h.ex.is_available(6));
    // Unequipped circuit → UCIC.
    h.recv(100, iam_to("4930"));
    assert_eq!(h.take_sent(), vec![(100, MT::UCIC)]);
    // UCIC from the peer: the circuit is not used for calls until the peer uses it again.
    h.recv(8, msg::bare(MT::UCIC));
    assert!(!h.ex.is_available(8));
    h.recv(8, msg::bare(MT::RSC));
    assert_eq!(h.take_sent(), vec![(8, MT::RLC)]);
    assert!(h.ex.is_available(8));
    // Unrecognized message type → CFN 97 with the type as diagnostic.
    let mut unknown = Message::new(MT(0xEE));
    unknown.raw_body = Some(vec![0x00]);
    h.recv(4, unknown);
    let (cic, cfn) = h.sent.remove(0);
    assert_eq!((cic, cfn.message_type), (4, MT::CFN));
    let cause = cfn.get::<CauseIndicators>().unwrap();
    assert_eq!(
        (cause.cause_value, cause.diagnostics.as_slice()),
        (97, &[0xEE][..])
    );
}

#[test]
fn group_reset_answers_gra_with_local_blocking_and_clears_calls() {
    let mut h = Harness::new(config());
    // Block CIC 3 locally (BLO/BLA).
    h.ex.block(3);
    h.pump();
    assert_eq!(h.take_sent(), vec![(3, MT::BLO)]);
    h.recv(3, msg::bare(MT::BLA));
    assert!(!h.running(3, TimerKind::T12));
    // An incoming call on CIC 2.
    h.recv(2, iam_to("4930"));
    h.take_sent();
    // GRS 1..=8 (range 7).
    h.recv(1, msg::range_only(MT::GRS, 7));
    let (cic, gra) = h.sent.remove(0);
    assert_eq!((cic, gra.message_type), (1, MT::GRA));
    let rs = gra.get::<RangeAndStatus>().unwrap();
    assert_eq!(rs.range, 7);
    let bits: Vec<bool> = (0..8).map(|i| rs.status_bit(i).unwrap()).collect();
    assert_eq!(
        bits,
        vec![false, false, true, false, false, false, false, false]
    );
    assert!(h.sent.is_empty(), "no RLC per circuit for GRS");
    assert_eq!(
        ended(&h.take_events()),
        vec![(Direction::Incoming, false, 41, Side::Remote)]
    );
    assert!(h.ex.is_available(2));
    assert!(!h.running(2, TimerKind::Answer));
    // Range out of bounds: discarded.
    h.recv(1, msg::range_only(MT::GRS, 40));
    assert!(h.take_sent().is_empty());
}

#[test]
fn own_group_reset_repeats_on_t22_and_learns_remote_blocking() {
    let mut h = Harness::new(config());
    h.ex.reset_all(h.now);
    h.pump();
    let (cic, grs) = h.sent.remove(0);
    assert_eq!((cic, grs.message_type), (1, MT::GRS));
    assert_eq!(grs.get::<RangeAndStatus>().unwrap().range, 7);
    h.advance(ms(1000));
    assert_eq!(h.take_sent(), vec![(1, MT::GRS)]);
    h.recv(
        1,
        msg::gra(&[false, true, false, false, false, false, false, false]),
    );
    assert!(!h.running(1, TimerKind::T22) && !h.running(1, TimerKind::T23));
    assert!(!h.ex.is_available(2), "CIC 2 is remotely blocked");
    assert!(h.ex.is_available(1));
    // The peer's UBL clears it.
    h.recv(2, msg::bare(MT::UBL));
    assert_eq!(h.take_sent(), vec![(2, MT::UBA)]);
    assert!(h.ex.is_available(2));
}

#[test]
fn blocking_group_blocking_and_query() {
    let mut h = Harness::new(config());
    h.recv(4, msg::bare(MT::BLO));
    assert_eq!(h.take_sent(), vec![(4, MT::BLA)]);
    assert!(!h.ex.is_available(4));
    // The peer's IAM on a circuit it blocked unblocks it (Q.764 §2.8.2.3).
    h.recv(4, iam_to("4930"));
    assert_eq!(h.take_sent(), vec![(4, MT::ACM)]);
    h.recv(4, msg::rel(16, 0));
    h.take_sent();

    // CGB hardware for CICs 5 and 7 (from 5, range 2, bits 101).
    h.recv(
        5,
        msg::group_supervision(
            MT::CGB,
            1,
            RangeAndStatus::with_status(&[true, false, true]),
        ),
    );
    let (cic, ack) = h.sent.remove(0);
    assert_eq!((cic, ack.message_type), (5, MT::CGBA));
    assert_eq!(
        ack.get::<RangeAndStatus>().unwrap(),
        &RangeAndStatus::with_status(&[true, false, true])
    );
    assert!(!h.ex.is_available(5) && h.ex.is_available(6) && !h.ex.is_available(7));

    // CQM 5..=8: 5 and 7 remotely hardware blocked and idle; 6 idle; 8 idle.
    h.recv(5, msg::range_only(MT::CQM, 3));
    let (_, cqr) = h.sent.remove(0);
    assert_eq!(cqr.message_type, MT::CQR);
    let states = cqr.get::<CircuitStateIndicator>().unwrap().states.to_vec();
    assert_eq!(states, vec![0x2C, 0x0C, 0x2C, 0x0C]);

    h.recv(
        5,
        msg::group_supervision(
            MT::CGU,
            1,
            RangeAndStatus::with_status(&[true, false, true]),
        ),
    );
    assert_eq!(h.take_sent(), vec![(5, MT::CGUA)]);
    assert!(h.ex.is_available(5) && h.ex.is_available(7));

    // Our own CGB, repeated on T18 until CGBA.
    h.ex.group_block(1, &[true, true], false, true);
    h.pump();
    assert_eq!(h.take_sent(), vec![(1, MT::CGB)]);
    h.advance(h.ex.config().timers.t18);
    assert_eq!(h.take_sent(), vec![(1, MT::CGB)]);
    h.recv(
        1,
        msg::group_supervision(MT::CGBA, 0, RangeAndStatus::with_status(&[true, true])),
    );
    assert!(!h.ex.is_available(1) && !h.ex.is_available(2));
    // CQM of our own: CQR answer reported.
    h.ex.query(1, 1);
    h.pump();
    assert_eq!(h.take_sent(), vec![(1, MT::CQM)]);
    h.recv(1, msg::cqr(1, vec![0x0D, 0x0D]));
    assert!(h.take_events().iter().any(|e| matches!(
        e,
        Event::Maintenance(Maintenance::QueryResponse { cic: 1, range: 1, states }) if states == &vec![0x0D, 0x0D]
    )));
    // A blocked circuit is never picked for a call.
    let o = h.ex.config().originate.clone();
    for _ in 0..6 {
        let (_, c) = h.ex.originate(h.now, CallRequest::new(o.clone())).unwrap();
        assert!(c > 2);
    }
    assert!(
        h.ex.originate(h.now, CallRequest::new(o.clone())).is_err(),
        "all 6 others busy"
    );
    let mut bad = o;
    bad.called = "49é0".into();
    assert!(matches!(
        h.ex.originate(h.now, CallRequest::new(bad)),
        Err(ss7sim::exchange::OriginateError::BadMessage(_))
    ));
}

#[test]
fn rsc_from_peer_releases_the_call_and_reannounces_local_blocking() {
    let mut h = Harness::new(config());
    h.ex.block(8);
    h.pump();
    h.recv(8, msg::bare(MT::BLA));
    h.take_sent();
    h.recv(8, msg::bare(MT::RSC));
    // RLC, then BLO again (our blocking state is re-announced after a reset).
    assert_eq!(h.take_sent(), vec![(8, MT::RLC), (8, MT::BLO)]);
}

#[test]
fn many_calls_leave_every_circuit_idle() {
    // 1000 calls through 8 circuits with random-ish interleaving: the invariant is that every
    // circuit ends idle with no timer running.
    let mut cfg = config();
    cfg.originate.hold = Some(ms(10));
    let o = cfg.originate.clone();
    let mut h = Harness::new(cfg);
    let mut answered = 0;
    for i in 0..1000u64 {
        if let Ok((_, cic)) = h.ex.originate(h.now, CallRequest::new(o.clone())) {
            h.pump();
            h.recv(cic, msg::acm(1));
            h.recv(cic, msg::anm());
            answered += 1;
        }
        h.advance(ms(3 + i % 7));
        let rels: Vec<u16> = h
            .sent
            .iter()
            .filter(|(_, m)| m.message_type == MT::REL)
            .map(|(c, _)| *c)
            .collect();
        h.sent.clear();
        for c in rels {
            h.recv(c, msg::bare(MT::RLC));
        }
    }
    h.advance(ms(100));
    for (c, m) in std::mem::take(&mut h.sent) {
        if m.message_type == MT::REL {
            h.recv(c, msg::bare(MT::RLC));
        }
    }
    assert!(answered > 500);
    let counts = h.ex.circuit_counts();
    assert_eq!(counts.idle, 8, "{counts:?}");
    assert!(h.timers.is_empty());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// One input to the exchange: a message from the peer, a local request, or time passing.
    #[derive(Debug, Clone)]
    enum Op {
        Recv(u16, Message),
        Originate(Option<u16>),
        Release(u64, u8),
        Block(u16),
        Unblock(u16),
        ResetGroup(u16, u8),
        Query(u16, u8),
        Advance(u64),
    }

    fn message() -> impl Strategy<Value = Message> {
        let bits = proptest::collection::vec(any::<bool>(), 1..40);
        prop_oneof![
            "[0-9]{1,12}".prop_map(|d| iam_to(&d)),
            "[0-9]{1,3}".prop_map(|d| msg::sam(&d)),
            (0u8..4).prop_map(msg::acm),
            (0u8..8).prop_map(msg::cpg),
            Just(msg::anm()),
            (0u8..128).prop_map(|c| msg::rel(c, 0)),
            Just(msg::bare(MT::RLC)),
            Just(msg::bare(MT::RSC)),
            Just(msg::bare(MT::BLO)),
            Just(msg::bare(MT::BLA)),
            Just(msg::bare(MT::UBL)),
            Just(msg::bare(MT::UBA)),
            Just(msg::bare(MT::UCIC)),
            (0u8..40).prop_map(|r| msg::range_only(MT::GRS, r)),
            (0u8..40).prop_map(|r| msg::range_only(MT::CQM, r)),
            bits.clone().prop_map(|b| msg::gra(&b)),
            (
                prop_oneof![Just(MT::CGB), Just(MT::CGU), Just(MT::CGBA), Just(MT::CGUA)],
                0u8..4,
                bits
            )
                .prop_map(|(t, ti, b)| msg::group_supervision(
                    t,
                    ti,
                    RangeAndStatus::with_status(&b)
                )),
            (0u8..4, proptest::collection::vec(any::<u8>(), 1..4))
                .prop_map(|(r, s)| msg::cqr(r, s)),
            Just(msg::bare(MT(0x0D))), // SUS: no format-specific handling
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let cic = 0u16..12; // 1..=8 configured, the rest unequipped
        prop_oneof![
            6 => (cic.clone(), message()).prop_map(|(c, m)| Op::Recv(c, m)),
            2 => proptest::option::of(cic.clone()).prop_map(Op::Originate),
            1 => (1u64..20, 1u8..128).prop_map(|(c, k)| Op::Release(c, k)),
            1 => cic.clone().prop_map(Op::Block),
            1 => cic.clone().prop_map(Op::Unblock),
            1 => (cic.clone(), 0u8..8).prop_map(|(c, r)| Op::ResetGroup(c, r)),
            1 => (cic, 0u8..8).prop_map(|(c, r)| Op::Query(c, r)),
            3 => (0u64..20_000).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any sequence of peer messages, requests and timer expiries: no panic, every message
        /// sent encodes and decodes, and a group reset from the peer returns every circuit to
        /// idle with no call timer left.
        #[test]
        fn never_panics_and_a_peer_group_reset_recovers(ops in proptest::collection::vec(op(), 1..60)) {
            let mut h = Harness::new(config());
            for op in ops {
                match op {
                    Op::Recv(c, m) => h.recv(c, m),
                    Op::Originate(cic) => {
                        let req = CallRequest { cic, ..CallRequest::new(h.ex.config().originate.clone()) };
                        let _ = h.ex.originate(h.now, req);
                        h.pump();
                    }
                    Op::Release(call, cause) => {
                        h.ex.release(h.now, call, cause);
                        h.pump();
                    }
                    Op::Block(c) => { h.ex.block(c); h.pump(); }
                    Op::Unblock(c) => { h.ex.unblock(c); h.pump(); }
                    Op::ResetGroup(c, r) => { h.ex.reset_group(h.now, c, r); h.pump(); }
                    Op::Query(c, r) => { h.ex.query(c, r); h.pump(); }
                    Op::Advance(ms_) => h.advance(ms(ms_)),
                }
            }
            h.recv(1, msg::range_only(MT::GRS, 7));
            let counts = h.ex.circuit_counts();
            prop_assert_eq!(counts.idle, counts.total);
            for cic in 1..=8u16 {
                for k in [TimerKind::T1, TimerKind::T5, TimerKind::T7, TimerKind::Answer, TimerKind::Hold, TimerKind::T35, TimerKind::NoAnswer, TimerKind::T16, TimerKind::T17] {
                    prop_assert!(!h.running(cic, k), "{:?} still running on {}", k, cic);
                }
            }
        }
    }
}
