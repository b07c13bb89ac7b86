//! The far-end exchange as a sans-IO state machine: one per trunk (local PC, remote PC, CICs).
//!
//! Inputs: [`Exchange::handle_message`] (an ISUP message received on a CIC),
//! [`Exchange::handle_timeout`], [`Exchange::originate`], [`Exchange::release`] and the
//! maintenance requests. Each takes `now` (time since an arbitrary origin, from the driver's clock
//! or a test's virtual clock). Outputs are drained with [`Exchange::poll_action`]: send a message,
//! start/stop a timer, or report an [`Event`]. There is no socket, clock or tokio in here.
//!
//! Per circuit it runs Q.764's basic call (§2.1–2.3, en bloc and overlap, dual seizure §2.9.1.4),
//! release with T1/T5 (§2.3, T5 expiry → RSC), reset (§2.9.3), blocking (§2.8.2), group
//! reset/blocking/unblocking (§2.9.3.2, §2.8.2) and circuit group query (§2.8.3).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use isup::{
    CalledPartyNumber, CallingPartyNumber, CauseIndicators, CircuitGroupSupervisionMessageType,
    ContinuityIndicators, Message, MessageType as MT, NatureOfConnectionIndicators, RangeAndStatus,
    SubsequentNumber,
};
use serde::Serialize;

use crate::config::{AnswerRule, Config, Originate};
use crate::msg;

/// The simulator's name for one call.
pub type CallId = u64;

/// Q.850 causes the exchange uses itself.
pub mod cause {
    pub const UNALLOCATED_NUMBER: u8 = 1;
    pub const ADDRESS_INCOMPLETE: u8 = 28;
    pub const NORMAL_CLEARING: u8 = 16;
    pub const USER_BUSY: u8 = 17;
    pub const NO_ANSWER: u8 = 19;
    pub const NO_CIRCUIT_AVAILABLE: u8 = 34;
    pub const TEMPORARY_FAILURE: u8 = 41;
    pub const RECOVERY_ON_TIMER_EXPIRY: u8 = 102;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Originated by the simulator (IAM sent).
    Outgoing,
    /// Received from the peer (IAM received).
    Incoming,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Local,
    Remote,
}

/// Timers the exchange asks its driver to run, per circuit (group timers on the first CIC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum TimerKind {
    T1,
    T5,
    T7,
    /// Waiting for COT after an IAM that asked for a continuity check.
    T8,
    T12,
    T13,
    T14,
    T15,
    T16,
    T17,
    T18,
    T19,
    T20,
    T21,
    T22,
    T23,
    T28,
    /// Originating side: ACM received but no ANM in time (T9-like): release with cause 19.
    NoAnswer,
    /// Terminating side: answer (ANM/CON) now.
    Answer,
    /// Release an answered call (hold time over).
    Hold,
    /// T35 (overlap receiving): the number is still shorter than the rule's digit count and
    /// no SAM came: release with cause 28.
    T35,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timer {
    pub cic: u16,
    pub kind: TimerKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send { cic: u16, message: Message },
    StartTimer { timer: Timer, after: Duration },
    StopTimer(Timer),
    Event(Event),
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallOutcome {
    pub answered: bool,
    /// Q.850 cause (of the REL, or the one the exchange applied: 34 no circuit, 41 reset,
    /// 102 T7, 19 no answer).
    pub cause: u8,
    pub released_by: Side,
    /// IAM → ANM/CON, when answered.
    pub setup_time: Option<Duration>,
    /// Answer → release (the conversation time), when answered.
    pub held: Option<Duration>,
}

/// Reports to the simulator's user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An IAM seized a circuit for an incoming call (the number may still be incomplete).
    CallSeized {
        call: CallId,
        cic: u16,
    },
    /// The called number is complete (IAM and SAMs, and COT if asked for); the answer rule
    /// applies now.
    CallOffered {
        call: CallId,
        cic: u16,
        called: String,
        calling: Option<String>,
    },
    /// ACM received (outgoing) or sent (incoming).
    CallAlerting {
        call: CallId,
        cic: u16,
        direction: Direction,
        setup_time: Duration,
    },
    CallAnswered {
        call: CallId,
        cic: u16,
        direction: Direction,
        setup_time: Duration,
    },
    CallEnded {
        call: CallId,
        cic: Option<u16>,
        direction: Direction,
        outcome: CallOutcome,
    },
    Maintenance(Maintenance),
    /// A message that does not fit the circuit's state (Q.764 §2.9.5); what was done is logged.
    Unexpected {
        cic: u16,
        message_type: MT,
        state: &'static str,
    },
}

/// Circuit maintenance reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Maintenance {
    ResetByPeer {
        cic: u16,
    },
    ResetCompleted {
        cic: u16,
    },
    GroupResetByPeer {
        cic: u16,
        range: u8,
    },
    GroupResetCompleted {
        cic: u16,
        range: u8,
        remotely_blocked: Vec<u16>,
    },
    BlockedByPeer {
        cics: Vec<u16>,
        hardware: bool,
    },
    UnblockedByPeer {
        cics: Vec<u16>,
        hardware: bool,
    },
    BlockingAcknowledged {
        cics: Vec<u16>,
    },
    UnblockingAcknowledged {
        cics: Vec<u16>,
    },
    QueryResponse {
        cic: u16,
        range: u8,
        states: Vec<u8>,
    },
    UnequippedCircuit {
        cic: u16,
    },
    /// A long timer expired (T5, T13, T15, T17, T19, T21, T23, T28): maintenance is alerted.
    Alert {
        cic: u16,
        timer: TimerKind,
    },
}

/// Why an originate request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginateError {
    #[error("no idle, unblocked circuit")]
    NoCircuit,
    #[error("CIC {0} is not configured")]
    Unequipped(u16),
    #[error("CIC {0} is busy or blocked")]
    CircuitBusy(u16),
    #[error("bad IAM: {0}")]
    BadMessage(String),
}

/// An originated call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRequest {
    pub originate: Originate,
    /// Use this circuit (else the exchange picks one, preferring those it controls).
    pub cic: Option<u16>,
    /// Parameter overrides on the IAM (`isup::json` parameter form, fields merged).
    pub overrides: Vec<serde_json::Value>,
}

impl CallRequest {
    pub fn new(originate: Originate) -> Self {
        CallRequest {
            originate,
            cic: None,
            overrides: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutPhase {
    AwaitAcm,
    Alerting,
    Answered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InPhase {
    Collecting,
    Alerting,
    Answered,
}

#[derive(Debug, Clone)]
enum CallState {
    Idle,
    Outgoing {
        call: CallId,
        phase: OutPhase,
        started: Duration,
        answered_after: Option<Duration>,
        req: Box<CallRequest>,
    },
    Incoming {
        call: CallId,
        phase: InPhase,
        started: Duration,
        answered_after: Option<Duration>,
        called: String,
        calling: Option<String>,
        rule: Box<AnswerRule>,
        /// The called number is complete (en bloc, enough digits, or ST).
        digits_done: bool,
        /// The IAM asked for a continuity check: wait for COT (Q.764 §2.1.8).
        cot_pending: bool,
    },
    /// REL sent, waiting for RLC (T1, T5 running).
    Releasing {
        rel: Message,
    },
    /// RSC sent, waiting for RLC (T16/T17 running).
    Resetting,
}

impl CallState {
    fn name(&self) -> &'static str {
        match self {
            CallState::Idle => "idle",
            CallState::Outgoing { .. } => "outgoing call",
            CallState::Incoming { .. } => "incoming call",
            CallState::Releasing { .. } => "awaiting RLC",
            CallState::Resetting => "reset, awaiting RLC",
        }
    }
}

#[derive(Debug, Clone)]
struct Circuit {
    call: CallState,
    /// Maintenance blocked by us, acknowledged (BLA/CGBA).
    local_block: bool,
    local_hw_block: bool,
    /// Blocked by the peer (BLO/CGB received).
    remote_block: bool,
    remote_hw_block: bool,
    /// BLO / UBL sent, not yet acknowledged.
    blo_pending: bool,
    ubl_pending: bool,
    /// The peer answered UCIC: it has no such circuit; not used for calls until it sends
    /// something else on it.
    peer_unequipped: bool,
}

impl Circuit {
    fn new() -> Self {
        Circuit {
            call: CallState::Idle,
            local_block: false,
            local_hw_block: false,
            remote_block: false,
            remote_hw_block: false,
            blo_pending: false,
            ubl_pending: false,
            peer_unequipped: false,
        }
    }
    fn available(&self) -> bool {
        matches!(self.call, CallState::Idle)
            && !self.local_block
            && !self.local_hw_block
            && !self.remote_block
            && !self.remote_hw_block
            && !self.blo_pending
            && !self.peer_unequipped
    }
}

/// A group message sent and not yet acknowledged.
#[derive(Debug, Clone)]
struct GroupOp {
    range: u8,
    type_indicator: u8,
    status: RangeAndStatus,
}

/// Summary of circuit states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CircuitCounts {
    pub total: usize,
    pub idle: usize,
    pub busy: usize,
    /// REL or RSC sent and no RLC yet.
    pub releasing: usize,
    pub locally_blocked: usize,
    pub remotely_blocked: usize,
}

impl std::ops::AddAssign for CircuitCounts {
    /// Totals over several exchanges.
    fn add_assign(&mut self, o: CircuitCounts) {
        self.total += o.total;
        self.idle += o.idle;
        self.busy += o.busy;
        self.releasing += o.releasing;
        self.locally_blocked += o.locally_blocked;
        self.remotely_blocked += o.remotely_blocked;
    }
}

/// The far-end exchange for one trunk.
#[derive(Debug)]
pub struct Exchange {
    cfg: Config,
    /// Run calls automatically (originate, answer rules). Off: call messages are only reported
    /// (scripted scenarios send them); maintenance follows `cfg.auto_maintenance`.
    auto_calls: bool,
    circuits: HashMap<u16, Circuit>,
    order: Vec<u16>,
    cursor: usize,
    calls: HashMap<CallId, u16>,
    next_call: CallId,
    /// Call ids go `next_call`, `next_call + call_id_step`, …: several exchanges behind one
    /// simulator hand out disjoint ids ([`Exchange::with_call_ids`]).
    call_id_step: CallId,
    groups: HashMap<(MT, u16), GroupOp>,
    cqm: HashMap<u16, u8>,
    actions: VecDeque<Action>,
}

const GROUP_RANGE_MAX: u8 = 31;

impl Exchange {
    pub fn new(cfg: Config, auto_calls: bool) -> Self {
        let order = cfg.all_cics();
        let circuits = order.iter().map(|&c| (c, Circuit::new())).collect();
        Exchange {
            cfg,
            auto_calls,
            circuits,
            order,
            cursor: 0,
            calls: HashMap::new(),
            next_call: 1,
            call_id_step: 1,
            groups: HashMap::new(),
            cqm: HashMap::new(),
            actions: VecDeque::new(),
        }
    }

    /// Call ids `first`, `first + step`, `first + 2·step`, … (default 1, 2, 3, …), so that the
    /// `step` exchanges of one simulator, given `first` = 1..=`step`, never share an id and the
    /// exchange of a call is `(id - 1) % step`.
    pub fn with_call_ids(mut self, first: CallId, step: CallId) -> Self {
        self.next_call = first.max(1);
        self.call_id_step = step.max(1);
        self
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Q.764 §2.9.1.4: the exchange with the higher point code controls the even CICs.
    pub fn controls(&self, cic: u16) -> bool {
        (self.cfg.local_pc > self.cfg.remote_pc) == (cic % 2 == 0)
    }

    pub fn circuit_counts(&self) -> CircuitCounts {
        let mut c = CircuitCounts {
            total: self.circuits.len(),
            ..Default::default()
        };
        for k in self.circuits.values() {
            match k.call {
                CallState::Idle => c.idle += 1,
                CallState::Releasing { .. } | CallState::Resetting => c.releasing += 1,
                _ => c.busy += 1,
            }
            c.locally_blocked += (k.local_block || k.local_hw_block) as usize;
            c.remotely_blocked += (k.remote_block || k.remote_hw_block) as usize;
        }
        c
    }

    /// True if the CIC is one of this exchange's circuits.
    pub fn equips(&self, cic: u16) -> bool {
        self.circuits.contains_key(&cic)
    }

    /// True if the circuit is idle and unblocked.
    pub fn is_available(&self, cic: u16) -> bool {
        self.circuits.get(&cic).is_some_and(Circuit::available)
    }

    /// The CIC a call is on, while it lasts.
    pub fn call_cic(&self, call: CallId) -> Option<u16> {
        self.calls.get(&call).copied()
    }

    // ------------------------------------------------------------------ helpers

    fn send(&mut self, cic: u16, message: Message) {
        self.actions.push_back(Action::Send { cic, message });
    }
    fn start(&mut self, cic: u16, kind: TimerKind, after: Duration) {
        self.actions.push_back(Action::StartTimer {
            timer: Timer { cic, kind },
            after,
        });
    }
    fn stop(&mut self, cic: u16, kind: TimerKind) {
        self.actions
            .push_back(Action::StopTimer(Timer { cic, kind }));
    }
    fn event(&mut self, e: Event) {
        self.actions.push_back(Action::Event(e));
    }
    fn stop_call_timers(&mut self, cic: u16) {
        for k in [
            TimerKind::T7,
            TimerKind::T8,
            TimerKind::NoAnswer,
            TimerKind::Answer,
            TimerKind::Hold,
            TimerKind::T35,
        ] {
            self.stop(cic, k);
        }
    }
    fn new_call(&mut self, cic: u16) -> CallId {
        let id = self.next_call;
        self.next_call += self.call_id_step;
        self.calls.insert(id, cic);
        id
    }
    fn state(&self, cic: u16) -> Option<&CallState> {
        self.circuits.get(&cic).map(|c| &c.call)
    }
    fn set_state(&mut self, cic: u16, s: CallState) {
        if let Some(c) = self.circuits.get_mut(&cic) {
            c.call = s;
        }
    }
    fn location(&self) -> u8 {
        self.cfg.cause_location
    }

    /// Ends the call on `cic` (if any) and reports it; the circuit state is left to the caller.
    fn end_call(&mut self, now: Duration, cic: u16, cause: u8, by: Side) {
        let (call, direction, started, answered_after) = match self.state(cic) {
            Some(CallState::Outgoing {
                call,
                started,
                answered_after,
                ..
            }) => (*call, Direction::Outgoing, *started, *answered_after),
            Some(CallState::Incoming {
                call,
                started,
                answered_after,
                ..
            }) => (*call, Direction::Incoming, *started, *answered_after),
            _ => return,
        };
        self.calls.remove(&call);
        self.stop_call_timers(cic);
        self.event(Event::CallEnded {
            call,
            cic: Some(cic),
            direction,
            outcome: CallOutcome {
                answered: answered_after.is_some(),
                cause,
                released_by: by,
                setup_time: answered_after,
                held: answered_after.map(|a| now.saturating_sub(started + a)),
            },
        });
    }

    /// Starts the release from this side: REL, T1 and T5 (Q.764 §2.3.1 a).
    fn release_circuit(&mut self, now: Duration, cic: u16, cause: u8) {
        self.end_call(now, cic, cause, Side::Local);
        let rel = msg::rel(cause, self.location());
        self.send(cic, rel.clone());
        self.set_state(cic, CallState::Releasing { rel });
        self.start(cic, TimerKind::T1, self.cfg.timers.t1);
        self.start(cic, TimerKind::T5, self.cfg.timers.t5);
    }

    /// Returns the circuit to idle after a reset (RSC or GRS, received or sent by `by`): any call
    /// ends with cause 41 and our release/reset timers stop.
    fn reset_to_idle(&mut self, now: Duration, cic: u16, by: Side) {
        self.end_call(now, cic, cause::TEMPORARY_FAILURE, by);
        for k in [TimerKind::T1, TimerKind::T5, TimerKind::T16, TimerKind::T17] {
            self.stop(cic, k);
        }
        self.set_state(cic, CallState::Idle);
    }

    // ------------------------------------------------------------------ call control API

    /// Originates a call: seizes a circuit and sends IAM (and SAMs for overlap), starting T7.
    pub fn originate(
        &mut self,
        now: Duration,
        req: CallRequest,
    ) -> Result<(CallId, u16), OriginateError> {
        let o = &req.originate;
        let signals = |n: &str| isup::Digits::from_hex_str(n).is_some();
        if o.called.is_empty() || !signals(&o.called) || !signals(&o.calling) {
            return Err(OriginateError::BadMessage(format!(
                "called {:?} / calling {:?}: address signals are 0-9, B-F",
                o.called, o.calling
            )));
        }
        let cic = match req.cic {
            Some(c) if !self.circuits.contains_key(&c) => {
                return Err(OriginateError::Unequipped(c));
            }
            Some(c) if !self.is_available(c) => return Err(OriginateError::CircuitBusy(c)),
            Some(c) => c,
            None => self.pick_circuit().ok_or(OriginateError::NoCircuit)?,
        };
        let o = &req.originate;
        let split = if o.overlap > 0 {
            o.overlap.min(o.called.len())
        } else {
            o.called.len()
        };
        let (first, rest) = o.called.split_at(split);
        let mut iam = msg::iam(o, first);
        msg::apply_overrides(&mut iam, &req.overrides, &[]).map_err(OriginateError::BadMessage)?;
        let step = o.sam_digits.max(1);
        let sams: Vec<Message> = rest
            .as_bytes()
            .chunks(step)
            .map(|c| msg::sam(std::str::from_utf8(c).unwrap_or_default()))
            .collect();
        let call = self.new_call(cic);
        self.send(cic, iam);
        for s in sams {
            self.send(cic, s);
        }
        self.start(cic, TimerKind::T7, self.cfg.timers.t7);
        self.set_state(
            cic,
            CallState::Outgoing {
                call,
                phase: OutPhase::AwaitAcm,
                started: now,
                answered_after: None,
                req: Box::new(req),
            },
        );
        Ok((call, cic))
    }

    /// Releases a call from this side with `cause`; false if the call is not up.
    pub fn release(&mut self, now: Duration, call: CallId, cause: u8) -> bool {
        match self.calls.get(&call).copied() {
            Some(cic) => {
                self.release_circuit(now, cic, cause);
                true
            }
            None => false,
        }
    }

    /// Sends ANM now for an incoming call that is ringing (e.g. a "no answer" rule).
    pub fn answer(&mut self, now: Duration, call: CallId) -> bool {
        match self.calls.get(&call).copied() {
            Some(cic) => self.answer_incoming(now, cic),
            None => false,
        }
    }

    /// Next available circuit, preferring the ones this exchange controls (to avoid dual seizure).
    fn pick_circuit(&mut self) -> Option<u16> {
        let n = self.order.len();
        for pass in 0..2 {
            for i in 0..n {
                let cic = self.order[(self.cursor + i) % n];
                if (pass == 1 || self.controls(cic)) && self.is_available(cic) {
                    self.cursor = (self.cursor + i + 1) % n;
                    return Some(cic);
                }
            }
        }
        None
    }

    // ------------------------------------------------------------------ maintenance API

    /// RSC on one circuit (Q.764 §2.9.3.1), T16/T17; a call on it ends.
    pub fn reset_circuit(&mut self, now: Duration, cic: u16) {
        self.end_call(now, cic, cause::TEMPORARY_FAILURE, Side::Local);
        for k in [TimerKind::T1, TimerKind::T5] {
            self.stop(cic, k);
        }
        self.send(cic, msg::bare(MT::RSC));
        self.set_state(cic, CallState::Resetting);
        self.start(cic, TimerKind::T16, self.cfg.timers.t16);
        self.start(cic, TimerKind::T17, self.cfg.timers.t17);
    }

    /// GRS for `cic..=cic+range` (Q.764 §2.9.3.2), T22/T23; calls on them end.
    pub fn reset_group(&mut self, now: Duration, cic: u16, range: u8) {
        let range = range.min(GROUP_RANGE_MAX);
        for c in cic..=cic.saturating_add(range as u16) {
            self.reset_to_idle(now, c, Side::Local);
        }
        self.groups.insert(
            (MT::GRS, cic),
            GroupOp {
                range,
                type_indicator: 0,
                status: RangeAndStatus::default(),
            },
        );
        self.send(cic, msg::range_only(MT::GRS, range));
        self.start(cic, TimerKind::T22, self.cfg.timers.t22);
        self.start(cic, TimerKind::T23, self.cfg.timers.t23);
    }

    /// GRS for every configured range (in blocks of at most 32 circuits).
    pub fn reset_all(&mut self, now: Duration) {
        let ranges = self.cfg.cics.clone();
        for r in ranges {
            let mut first = r.first;
            loop {
                let last = r.last.min(first.saturating_add(GROUP_RANGE_MAX as u16));
                self.reset_group(now, first, (last - first) as u8);
                if last >= r.last {
                    break;
                }
                first = last + 1;
            }
        }
    }

    /// BLO (Q.764 §2.8.2.1), T12/T13.
    pub fn block(&mut self, cic: u16) {
        if let Some(c) = self.circuits.get_mut(&cic) {
            c.blo_pending = true;
            c.ubl_pending = false;
        }
        self.send(cic, msg::bare(MT::BLO));
        self.start(cic, TimerKind::T12, self.cfg.timers.t12);
        self.start(cic, TimerKind::T13, self.cfg.timers.t13);
    }

    /// UBL, T14/T15.
    pub fn unblock(&mut self, cic: u16) {
        if let Some(c) = self.circuits.get_mut(&cic) {
            c.ubl_pending = true;
            c.blo_pending = false;
        }
        for k in [TimerKind::T12, TimerKind::T13] {
            self.stop(cic, k);
        }
        self.send(cic, msg::bare(MT::UBL));
        self.start(cic, TimerKind::T14, self.cfg.timers.t14);
        self.start(cic, TimerKind::T15, self.cfg.timers.t15);
    }

    /// CGB (block) or CGU (unblock) for the circuits of `cic..` whose bit is set; type 0
    /// maintenance, 1 hardware failure.
    pub fn group_block(&mut self, cic: u16, bits: &[bool], hardware: bool, block: bool) {
        let (t, t1, t2, d1, d2) = if block {
            (
                MT::CGB,
                TimerKind::T18,
                TimerKind::T19,
                self.cfg.timers.t18,
                self.cfg.timers.t19,
            )
        } else {
            (
                MT::CGU,
                TimerKind::T20,
                TimerKind::T21,
                self.cfg.timers.t20,
                self.cfg.timers.t21,
            )
        };
        let bits = &bits[..bits.len().min(GROUP_RANGE_MAX as usize + 1)];
        let rs = RangeAndStatus::with_status(bits);
        let ti = hardware as u8;
        self.groups.insert(
            (t, cic),
            GroupOp {
                range: rs.range,
                type_indicator: ti,
                status: rs.clone(),
            },
        );
        self.send(cic, msg::group_supervision(t, ti, rs));
        self.start(cic, t1, d1);
        self.start(cic, t2, d2);
    }

    /// CQM for `cic..=cic+range`, T28.
    pub fn query(&mut self, cic: u16, range: u8) {
        let range = range.min(GROUP_RANGE_MAX);
        self.cqm.insert(cic, range);
        self.send(cic, msg::range_only(MT::CQM, range));
        self.start(cic, TimerKind::T28, self.cfg.timers.t28);
    }

    // ------------------------------------------------------------------ timers

    pub fn handle_timeout(&mut self, now: Duration, timer: Timer) {
        let cic = timer.cic;
        let t = self.cfg.timers.clone();
        match timer.kind {
            TimerKind::T1 => {
                if let Some(CallState::Releasing { rel }) = self.state(cic) {
                    let rel = rel.clone();
                    self.send(cic, rel);
                    self.start(cic, TimerKind::T1, self.cfg.timers.t1);
                }
            }
            TimerKind::T5 => {
                // Q.764 §2.3.1 d: T5 expiry: RSC, alert maintenance, stop T1, start T17.
                if matches!(self.state(cic), Some(CallState::Releasing { .. })) {
                    self.stop(cic, TimerKind::T1);
                    self.event(Event::Maintenance(Maintenance::Alert {
                        cic,
                        timer: TimerKind::T5,
                    }));
                    self.send(cic, msg::bare(MT::RSC));
                    self.set_state(cic, CallState::Resetting);
                    self.start(cic, TimerKind::T17, self.cfg.timers.t17);
                }
            }
            TimerKind::T7 => {
                if let Some(CallState::Outgoing {
                    phase: OutPhase::AwaitAcm,
                    ..
                }) = self.state(cic)
                {
                    self.release_circuit(now, cic, cause::RECOVERY_ON_TIMER_EXPIRY);
                }
            }
            TimerKind::NoAnswer => {
                if let Some(CallState::Outgoing {
                    phase: OutPhase::Alerting,
                    ..
                }) = self.state(cic)
                {
                    self.release_circuit(now, cic, cause::NO_ANSWER);
                }
            }
            TimerKind::Answer => {
                self.answer_incoming(now, cic);
            }
            TimerKind::Hold => {
                let c = match self.state(cic) {
                    Some(CallState::Outgoing {
                        phase: OutPhase::Answered,
                        req,
                        ..
                    }) => Some(req.originate.release_cause),
                    Some(CallState::Incoming {
                        phase: InPhase::Answered,
                        rule,
                        ..
                    }) => Some(rule.release_cause),
                    _ => None,
                };
                if let Some(c) = c {
                    self.release_circuit(now, cic, c);
                }
            }
            TimerKind::T35 => {
                // Q.764 §2.1.2.2: the address stays incomplete: release, cause 28.
                if let Some(CallState::Incoming {
                    phase: InPhase::Collecting,
                    digits_done: false,
                    ..
                }) = self.state(cic)
                {
                    self.release_circuit(now, cic, cause::ADDRESS_INCOMPLETE);
                }
            }
            TimerKind::T8 => {
                // Q.764 §2.1.8: no COT in time: release.
                if let Some(CallState::Incoming {
                    phase: InPhase::Collecting,
                    cot_pending: true,
                    ..
                }) = self.state(cic)
                {
                    self.release_circuit(now, cic, cause::RECOVERY_ON_TIMER_EXPIRY);
                }
            }
            TimerKind::T16 | TimerKind::T17 => {
                if matches!(self.state(cic), Some(CallState::Resetting)) {
                    if timer.kind == TimerKind::T17 {
                        self.stop(cic, TimerKind::T16);
                        self.event(Event::Maintenance(Maintenance::Alert {
                            cic,
                            timer: TimerKind::T17,
                        }));
                    }
                    self.send(cic, msg::bare(MT::RSC));
                    let d = if timer.kind == TimerKind::T16 {
                        t.t16
                    } else {
                        t.t17
                    };
                    self.start(cic, timer.kind, d);
                }
            }
            TimerKind::T12 | TimerKind::T13 => {
                if self.circuits.get(&cic).is_some_and(|c| c.blo_pending) {
                    self.repeat(cic, MT::BLO, timer.kind, TimerKind::T12, t.t12, t.t13);
                }
            }
            TimerKind::T14 | TimerKind::T15 => {
                if self.circuits.get(&cic).is_some_and(|c| c.ubl_pending) {
                    self.repeat(cic, MT::UBL, timer.kind, TimerKind::T14, t.t14, t.t15);
                }
            }
            TimerKind::T18 | TimerKind::T19 => {
                self.repeat_group(cic, MT::CGB, timer.kind, TimerKind::T18, t.t18, t.t19)
            }
            TimerKind::T20 | TimerKind::T21 => {
                self.repeat_group(cic, MT::CGU, timer.kind, TimerKind::T20, t.t20, t.t21)
            }
            TimerKind::T22 | TimerKind::T23 => {
                self.repeat_group(cic, MT::GRS, timer.kind, TimerKind::T22, t.t22, t.t23)
            }
            TimerKind::T28 => {
                if self.cqm.remove(&cic).is_some() {
                    self.event(Event::Maintenance(Maintenance::Alert {
                        cic,
                        timer: TimerKind::T28,
                    }));
                }
            }
        }
    }

    /// Short timer: resend and restart it. Long timer: alert, resend, stop the short one, restart
    /// the long one (Q.764 §2.8.2.1, §2.9.3).
    fn repeat(
        &mut self,
        cic: u16,
        t: MT,
        fired: TimerKind,
        short: TimerKind,
        ds: Duration,
        dl: Duration,
    ) {
        self.send(cic, msg::bare(t));
        self.after_repeat(cic, fired, short, ds, dl);
    }

    fn after_repeat(
        &mut self,
        cic: u16,
        fired: TimerKind,
        short: TimerKind,
        ds: Duration,
        dl: Duration,
    ) {
        if fired == short {
            self.start(cic, short, ds);
        } else {
            self.stop(cic, short);
            self.event(Event::Maintenance(Maintenance::Alert { cic, timer: fired }));
            self.start(cic, fired, dl);
        }
    }

    fn repeat_group(
        &mut self,
        cic: u16,
        t: MT,
        fired: TimerKind,
        short: TimerKind,
        ds: Duration,
        dl: Duration,
    ) {
        let Some(op) = self.groups.get(&(t, cic)).cloned() else {
            return;
        };
        let m = if t == MT::GRS {
            msg::range_only(t, op.range)
        } else {
            msg::group_supervision(t, op.type_indicator, op.status)
        };
        self.send(cic, m);
        self.after_repeat(cic, fired, short, ds, dl);
    }

    // ------------------------------------------------------------------ received messages

    /// An ISUP message received from the peer on `cic`.
    pub fn handle_message(&mut self, now: Duration, cic: u16, m: &Message) {
        let t = m.message_type;
        if let Some(c) = self.circuits.get_mut(&cic) {
            c.peer_unequipped = t == MT::UCIC;
        }
        let maintenance = matches!(
            t,
            MT::GRS
                | MT::GRA
                | MT::RSC
                | MT::BLO
                | MT::BLA
                | MT::UBL
                | MT::UBA
                | MT::CGB
                | MT::CGBA
                | MT::CGU
                | MT::CGUA
                | MT::CQM
                | MT::CQR
                | MT::UCIC
        );
        if maintenance {
            if self.cfg.auto_maintenance {
                self.handle_maintenance(now, cic, m);
            }
            return;
        }
        // RLC also completes our reset (RSC) and our release.
        if t == MT::RLC && self.cfg.auto_maintenance {
            match self.state(cic) {
                Some(CallState::Resetting) => {
                    self.stop(cic, TimerKind::T16);
                    self.stop(cic, TimerKind::T17);
                    self.set_state(cic, CallState::Idle);
                    self.event(Event::Maintenance(Maintenance::ResetCompleted { cic }));
                    return;
                }
                Some(CallState::Releasing { .. }) => {
                    self.stop(cic, TimerKind::T1);
                    self.stop(cic, TimerKind::T5);
                    self.set_state(cic, CallState::Idle);
                    return;
                }
                _ => {}
            }
        }
        if !self.auto_calls {
            return;
        }
        if isup::Variant::ITU.format(t).is_none() {
            // Q.764 §2.9.5.3: an unrecognized message (no compatibility information) is
            // discarded and answered with CFN, cause 97.
            self.unexpected(cic, t);
            self.send(cic, msg::cfn_unrecognized(t, self.location()));
            return;
        }
        if !self.circuits.contains_key(&cic) {
            // Q.764 §2.12 (national option): unequipped circuit → UCIC.
            if t != MT::RLC {
                self.send(cic, msg::bare(MT::UCIC));
            }
            self.event(Event::Maintenance(Maintenance::UnequippedCircuit { cic }));
            return;
        }
        match t {
            MT::IAM => self.on_iam(now, cic, m),
            MT::SAM => self.on_sam(now, cic, m),
            MT::COT => self.on_cot(now, cic, m),
            MT::ACM | MT::CPG | MT::CON | MT::ANM => self.on_backward(now, cic, m),
            MT::REL => self.on_rel(now, cic, m),
            MT::RLC => {
                // Unexpected RLC (Q.764 §2.9.5.1): discard.
                if !matches!(self.state(cic), Some(CallState::Idle)) {
                    self.unexpected(cic, t);
                }
            }
            _ => {
                // In-call messages the simulator does not act on (SUS, RES, INF, FAC, APM, USR…).
                if matches!(self.state(cic), Some(CallState::Idle)) {
                    self.unexpected(cic, t);
                }
            }
        }
    }

    fn unexpected(&mut self, cic: u16, message_type: MT) {
        if !self.auto_calls {
            // Scripted: the scenario sent the requests and checks the answers itself.
            return;
        }
        let state = self.state(cic).map_or("unequipped", CallState::name);
        self.event(Event::Unexpected {
            cic,
            message_type,
            state,
        });
    }

    fn on_iam(&mut self, now: Duration, cic: u16, m: &Message) {
        let circuit = self
            .circuits
            .get(&cic)
            .cloned()
            .unwrap_or_else(Circuit::new);
        match &circuit.call {
            CallState::Idle => {}
            CallState::Outgoing {
                phase: OutPhase::AwaitAcm,
                req,
                call,
                ..
            } => {
                // Q.764 §2.9.1.4 dual seizure: the controlling exchange completes its call and
                // ignores the IAM; the other backs off and retries on another circuit.
                if self.controls(cic) {
                    self.unexpected(cic, MT::IAM);
                    return;
                }
                let (req, call) = (req.clone(), *call);
                self.calls.remove(&call);
                self.stop(cic, TimerKind::T7);
                self.set_state(cic, CallState::Idle);
                let mut retry = *req;
                retry.cic = None;
                match self.originate(now, retry) {
                    Ok((new_call, new_cic)) => {
                        // Keep the caller's call id.
                        self.calls.remove(&new_call);
                        self.calls.insert(call, new_cic);
                        if let Some(CallState::Outgoing { call: c, .. }) =
                            self.circuits.get_mut(&new_cic).map(|c| &mut c.call)
                        {
                            *c = call;
                        }
                    }
                    Err(_) => self.event(Event::CallEnded {
                        call,
                        cic: None,
                        direction: Direction::Outgoing,
                        outcome: CallOutcome {
                            answered: false,
                            cause: cause::NO_CIRCUIT_AVAILABLE,
                            released_by: Side::Local,
                            setup_time: None,
                            held: None,
                        },
                    }),
                }
            }
            _ => {
                self.unexpected(cic, MT::IAM);
                return;
            }
        }
        if circuit.local_block || circuit.local_hw_block {
            // Q.764 §2.8.2.3: a call on a circuit we blocked is refused.
            self.unexpected(cic, MT::IAM);
            let rel = msg::rel(cause::TEMPORARY_FAILURE, self.location());
            self.send(cic, rel.clone());
            self.set_state(cic, CallState::Releasing { rel });
            self.start(cic, TimerKind::T1, self.cfg.timers.t1);
            self.start(cic, TimerKind::T5, self.cfg.timers.t5);
            return;
        }
        if let Some(c) = self.circuits.get_mut(&cic) {
            // Q.764 §2.8.2.3 iv: an IAM on a circuit the peer blocked for maintenance unblocks it.
            c.remote_block = false;
        }
        let called = m
            .get::<CalledPartyNumber>()
            .map(|n| msg::digits_text(&n.digits))
            .unwrap_or_default();
        let rule = self.cfg.answer_rule(&called);
        let call = self.new_call(cic);
        self.event(Event::CallSeized { call, cic });
        let digits_done = Self::complete(&called, &rule);
        // Q.763 §3.35: continuity check required on this circuit (1) or performed on a previous
        // circuit (2): the call waits for COT, T8 running.
        let cot_pending = m
            .get::<NatureOfConnectionIndicators>()
            .is_some_and(|n| matches!(n.continuity_check_indicator, 1 | 2));
        self.set_state(
            cic,
            CallState::Incoming {
                call,
                phase: InPhase::Collecting,
                started: now,
                answered_after: None,
                called,
                calling: m
                    .get::<CallingPartyNumber>()
                    .map(|n| msg::digits_text(&n.digits)),
                rule: Box::new(rule),
                digits_done,
                cot_pending,
            },
        );
        if cot_pending {
            self.start(cic, TimerKind::T8, self.cfg.timers.t8);
        }
        if !digits_done {
            self.start(cic, TimerKind::T35, self.cfg.timers.t35);
        }
        self.try_proceed(now, cic);
    }

    /// Applies the answer rule once the number is complete and any continuity check passed.
    fn try_proceed(&mut self, now: Duration, cic: u16) {
        if let Some(CallState::Incoming {
            phase: InPhase::Collecting,
            digits_done: true,
            cot_pending: false,
            ..
        }) = self.state(cic)
        {
            self.number_complete(now, cic);
        }
    }

    fn on_cot(&mut self, now: Duration, cic: u16, m: &Message) {
        let Some(CallState::Incoming {
            phase: InPhase::Collecting,
            cot_pending: pending @ true,
            ..
        }) = self.circuits.get_mut(&cic).map(|c| &mut c.call)
        else {
            self.unexpected(cic, MT::COT);
            return;
        };
        let success = m
            .get::<ContinuityIndicators>()
            .is_some_and(|c| c.continuity_indicator == 1);
        if success {
            *pending = false;
        }
        self.stop(cic, TimerKind::T8);
        if success {
            self.try_proceed(now, cic);
        } else {
            // Q.764 §2.1.8: continuity failed: the call is abandoned here; the preceding
            // exchange re-tests the circuit (CCR) and retries the call on another one.
            self.end_call(now, cic, cause::TEMPORARY_FAILURE, Side::Remote);
            self.set_state(cic, CallState::Idle);
        }
    }

    fn complete(called: &str, rule: &AnswerRule) -> bool {
        rule.digits == 0 || called.ends_with('F') || called.len() >= rule.digits
    }

    fn on_sam(&mut self, now: Duration, cic: u16, m: &Message) {
        let more = m
            .get::<SubsequentNumber>()
            .map(|s| msg::digits_text(&s.digits))
            .unwrap_or_default();
        let Some(Circuit {
            call:
                CallState::Incoming {
                    phase: InPhase::Collecting,
                    called,
                    rule,
                    digits_done: digits_done @ false,
                    ..
                },
            ..
        }) = self.circuits.get_mut(&cic)
        else {
            self.unexpected(cic, MT::SAM);
            return;
        };
        called.push_str(&more);
        // The rule follows the longer number.
        **rule = self.cfg.answer_rule(called);
        *digits_done = Self::complete(called, rule);
        if *digits_done {
            self.stop(cic, TimerKind::T35);
            self.try_proceed(now, cic);
        } else {
            self.start(cic, TimerKind::T35, self.cfg.timers.t35);
        }
    }

    /// The called number is complete: apply the answer rule.
    fn number_complete(&mut self, now: Duration, cic: u16) {
        let Some(CallState::Incoming {
            call,
            called,
            calling,
            rule,
            started,
            ..
        }) = self.state(cic).cloned()
        else {
            return;
        };
        self.event(Event::CallOffered {
            call,
            cic,
            called: called.trim_end_matches('F').to_string(),
            calling,
        });
        if let Some(c) = rule.reject_cause {
            self.release_circuit(now, cic, c);
            return;
        }
        if let Some(CallState::Incoming { phase, .. }) =
            self.circuits.get_mut(&cic).map(|c| &mut c.call)
        {
            *phase = InPhase::Alerting;
        }
        if rule.acm {
            self.send(cic, msg::acm(rule.called_party_status));
            self.event(Event::CallAlerting {
                call,
                cic,
                direction: Direction::Incoming,
                setup_time: now.saturating_sub(started),
            });
            if let Some(e) = rule.cpg_event {
                self.send(cic, msg::cpg(e));
            }
        }
        match rule.answer_after {
            Some(d) if d.is_zero() => {
                self.answer_incoming(now, cic);
            }
            Some(d) => self.start(cic, TimerKind::Answer, d),
            None => {}
        }
    }

    fn answer_incoming(&mut self, now: Duration, cic: u16) -> bool {
        let Some(Circuit {
            call:
                CallState::Incoming {
                    call,
                    phase,
                    started,
                    answered_after,
                    rule,
                    ..
                },
            ..
        }) = self.circuits.get_mut(&cic)
        else {
            return false;
        };
        if *phase != InPhase::Alerting {
            return false;
        }
        *phase = InPhase::Answered;
        let setup = now.saturating_sub(*started);
        *answered_after = Some(setup);
        let (call, acm, hold) = (*call, rule.acm, rule.hold);
        self.stop(cic, TimerKind::Answer);
        // Q.764 §2.1.7: CON when no ACM was sent.
        self.send(
            cic,
            if acm {
                msg::anm()
            } else {
                msg::default_for(MT::CON, &self.cfg.originate, 0).unwrap_or_else(msg::anm)
            },
        );
        self.event(Event::CallAnswered {
            call,
            cic,
            direction: Direction::Incoming,
            setup_time: setup,
        });
        if let Some(h) = hold {
            self.start(cic, TimerKind::Hold, h);
        }
        true
    }

    fn on_backward(&mut self, now: Duration, cic: u16, m: &Message) {
        let t = m.message_type;
        let Some(Circuit {
            call:
                CallState::Outgoing {
                    call,
                    phase,
                    started,
                    answered_after,
                    req,
                },
            ..
        }) = self.circuits.get_mut(&cic)
        else {
            if matches!(self.state(cic), Some(CallState::Idle)) {
                // Q.764 §2.9.5.1 b: a call message on an idle circuit: reset it.
                self.unexpected(cic, t);
                self.reset_circuit(now, cic);
            } else {
                self.unexpected(cic, t);
            }
            return;
        };
        let (call, setup) = (*call, now.saturating_sub(*started));
        let (hold, no_answer) = (req.originate.hold, req.originate.no_answer);
        match (t, *phase) {
            (MT::ACM, OutPhase::AwaitAcm) => {
                *phase = OutPhase::Alerting;
                self.stop(cic, TimerKind::T7);
                if let Some(d) = no_answer {
                    self.start(cic, TimerKind::NoAnswer, d);
                }
                self.event(Event::CallAlerting {
                    call,
                    cic,
                    direction: Direction::Outgoing,
                    setup_time: setup,
                });
            }
            (MT::ANM | MT::CON, OutPhase::AwaitAcm | OutPhase::Alerting) => {
                *phase = OutPhase::Answered;
                *answered_after = Some(setup);
                self.stop(cic, TimerKind::T7);
                self.stop(cic, TimerKind::NoAnswer);
                self.event(Event::CallAnswered {
                    call,
                    cic,
                    direction: Direction::Outgoing,
                    setup_time: setup,
                });
                if let Some(h) = hold {
                    self.start(cic, TimerKind::Hold, h);
                }
            }
            (MT::CPG, _) => {}
            _ => self.unexpected(cic, t),
        }
    }

    fn on_rel(&mut self, now: Duration, cic: u16, m: &Message) {
        let c = m
            .get::<CauseIndicators>()
            .map_or(cause::NORMAL_CLEARING, |c| c.cause_value);
        match self.state(cic) {
            Some(CallState::Outgoing { .. } | CallState::Incoming { .. }) => {
                self.end_call(now, cic, c, Side::Remote);
            }
            Some(CallState::Releasing { .. }) => {
                // Q.764 §2.3.1 e: REL while awaiting RLC (both released): answer RLC, idle.
                self.stop(cic, TimerKind::T1);
                self.stop(cic, TimerKind::T5);
            }
            Some(CallState::Resetting) => {
                self.send(cic, msg::bare(MT::RLC));
                return;
            }
            _ => {}
        }
        self.send(cic, msg::bare(MT::RLC));
        self.set_state(cic, CallState::Idle);
    }

    // ------------------------------------------------------------------ maintenance messages

    fn handle_maintenance(&mut self, now: Duration, cic: u16, m: &Message) {
        let rs = m.get::<RangeAndStatus>().cloned();
        match m.message_type {
            MT::RSC => {
                // Q.764 §2.9.3.1: release any call, answer RLC; the peer's blocking is removed,
                // our own blocking is announced again.
                self.reset_to_idle(now, cic, Side::Remote);
                let local = if let Some(c) = self.circuits.get_mut(&cic) {
                    c.remote_block = false;
                    c.local_block
                } else {
                    false
                };
                self.send(cic, msg::bare(MT::RLC));
                if local {
                    self.block(cic);
                }
                self.event(Event::Maintenance(Maintenance::ResetByPeer { cic }));
            }
            MT::GRS => {
                let Some(rs) = rs.filter(|r| r.range <= GROUP_RANGE_MAX) else {
                    // Q.764 §2.9.3.2: a GRS with a range out of bounds is discarded.
                    self.unexpected(cic, MT::GRS);
                    return;
                };
                let mut bits = Vec::with_capacity(rs.circuits() as usize);
                for c in cic..=cic.saturating_add(rs.range as u16) {
                    self.reset_to_idle(now, c, Side::Remote);
                    let blocked = match self.circuits.get_mut(&c) {
                        Some(k) => {
                            k.remote_block = false;
                            k.local_block
                        }
                        None => false,
                    };
                    bits.push(blocked);
                }
                self.send(cic, msg::gra(&bits));
                self.event(Event::Maintenance(Maintenance::GroupResetByPeer {
                    cic,
                    range: rs.range,
                }));
            }
            MT::GRA => {
                let Some(op) = self.groups.remove(&(MT::GRS, cic)) else {
                    self.unexpected(cic, MT::GRA);
                    return;
                };
                self.stop(cic, TimerKind::T22);
                self.stop(cic, TimerKind::T23);
                let rs = rs.unwrap_or_default();
                let mut blocked = Vec::new();
                for i in 0..=op.range as u16 {
                    let c = cic + i;
                    let b = rs.status_bit(i).unwrap_or(false);
                    if let Some(k) = self.circuits.get_mut(&c) {
                        k.remote_block = b;
                    }
                    if b {
                        blocked.push(c);
                    }
                }
                self.event(Event::Maintenance(Maintenance::GroupResetCompleted {
                    cic,
                    range: op.range,
                    remotely_blocked: blocked,
                }));
            }
            MT::BLO => {
                if let Some(k) = self.circuits.get_mut(&cic) {
                    k.remote_block = true;
                }
                self.send(cic, msg::bare(MT::BLA));
                self.event(Event::Maintenance(Maintenance::BlockedByPeer {
                    cics: vec![cic],
                    hardware: false,
                }));
            }
            MT::UBL => {
                if let Some(k) = self.circuits.get_mut(&cic) {
                    k.remote_block = false;
                }
                self.send(cic, msg::bare(MT::UBA));
                self.event(Event::Maintenance(Maintenance::UnblockedByPeer {
                    cics: vec![cic],
                    hardware: false,
                }));
            }
            MT::BLA => match self.circuits.get_mut(&cic) {
                Some(k) if k.blo_pending => {
                    k.blo_pending = false;
                    k.local_block = true;
                    self.stop(cic, TimerKind::T12);
                    self.stop(cic, TimerKind::T13);
                    self.event(Event::Maintenance(Maintenance::BlockingAcknowledged {
                        cics: vec![cic],
                    }));
                }
                _ => self.unexpected(cic, MT::BLA),
            },
            MT::UBA => match self.circuits.get_mut(&cic) {
                Some(k) if k.ubl_pending => {
                    k.ubl_pending = false;
                    k.local_block = false;
                    self.stop(cic, TimerKind::T14);
                    self.stop(cic, TimerKind::T15);
                    self.event(Event::Maintenance(Maintenance::UnblockingAcknowledged {
                        cics: vec![cic],
                    }));
                }
                _ => self.unexpected(cic, MT::UBA),
            },
            MT::CGB | MT::CGU => {
                let block = m.message_type == MT::CGB;
                let ti = m
                    .get::<CircuitGroupSupervisionMessageType>()
                    .map_or(0, |t| t.type_indicator);
                let Some(rs) = rs.filter(|r| r.range <= GROUP_RANGE_MAX) else {
                    self.unexpected(cic, m.message_type);
                    return;
                };
                let mut cics = Vec::new();
                for i in 0..=rs.range as u16 {
                    if rs.status_bit(i) != Some(true) {
                        continue;
                    }
                    let c = cic + i;
                    cics.push(c);
                    if let Some(k) = self.circuits.get_mut(&c) {
                        if ti == 1 {
                            k.remote_hw_block = block;
                        } else {
                            k.remote_block = block;
                        }
                    }
                    // Q.764 §2.8.2.3 (hardware failure): calls on the circuits are released.
                    if block && ti == 1 {
                        self.end_call(now, c, cause::TEMPORARY_FAILURE, Side::Remote);
                        if matches!(
                            self.state(c),
                            Some(CallState::Outgoing { .. } | CallState::Incoming { .. })
                        ) {
                            self.set_state(c, CallState::Idle);
                        }
                    }
                }
                let ack = if block { MT::CGBA } else { MT::CGUA };
                self.send(cic, msg::group_supervision(ack, ti, rs));
                let hardware = ti == 1;
                self.event(Event::Maintenance(if block {
                    Maintenance::BlockedByPeer { cics, hardware }
                } else {
                    Maintenance::UnblockedByPeer { cics, hardware }
                }));
            }
            MT::CGBA | MT::CGUA => {
                let block = m.message_type == MT::CGBA;
                let req = if block { MT::CGB } else { MT::CGU };
                let Some(op) = self.groups.remove(&(req, cic)) else {
                    self.unexpected(cic, m.message_type);
                    return;
                };
                let (s, l) = if block {
                    (TimerKind::T18, TimerKind::T19)
                } else {
                    (TimerKind::T20, TimerKind::T21)
                };
                self.stop(cic, s);
                self.stop(cic, l);
                let rs = rs.unwrap_or_default();
                let mut cics = Vec::new();
                for i in 0..=op.range as u16 {
                    if rs.status_bit(i) != Some(true) {
                        continue;
                    }
                    let c = cic + i;
                    cics.push(c);
                    if let Some(k) = self.circuits.get_mut(&c) {
                        if op.type_indicator == 1 {
                            k.local_hw_block = block;
                        } else {
                            k.local_block = block;
                        }
                    }
                }
                self.event(Event::Maintenance(if block {
                    Maintenance::BlockingAcknowledged { cics }
                } else {
                    Maintenance::UnblockingAcknowledged { cics }
                }));
            }
            MT::CQM => {
                let Some(rs) = rs.filter(|r| r.range <= GROUP_RANGE_MAX) else {
                    self.unexpected(cic, MT::CQM);
                    return;
                };
                let states = (0..=rs.range as u16)
                    .map(|i| self.circuit_state_octet(cic + i))
                    .collect();
                self.send(cic, msg::cqr(rs.range, states));
            }
            MT::CQR => {
                if self.cqm.remove(&cic).is_none() {
                    self.unexpected(cic, MT::CQR);
                    return;
                }
                self.stop(cic, TimerKind::T28);
                let states = m
                    .get::<isup::CircuitStateIndicator>()
                    .map(|s| s.states.to_vec())
                    .unwrap_or_default();
                self.event(Event::Maintenance(Maintenance::QueryResponse {
                    cic,
                    range: rs.map_or(0, |r| r.range),
                    states,
                }));
            }
            MT::UCIC => {
                // The peer has no such circuit: end any call on it, stop our procedures.
                self.end_call(now, cic, cause::TEMPORARY_FAILURE, Side::Remote);
                for k in [TimerKind::T1, TimerKind::T5, TimerKind::T16, TimerKind::T17] {
                    self.stop(cic, k);
                }
                self.set_state(cic, CallState::Idle);
                self.event(Event::Maintenance(Maintenance::UnequippedCircuit { cic }));
            }
            _ => {}
        }
    }

    /// Q.763 §3.14 circuit state indicator octet for one circuit.
    pub fn circuit_state_octet(&self, cic: u16) -> u8 {
        let Some(k) = self.circuits.get(&cic) else {
            return 0x03; // unequipped
        };
        let two = |local: bool, remote: bool| (local as u8) | ((remote as u8) << 1);
        let (dc, transient) = match k.call {
            CallState::Idle => (3, false),
            CallState::Incoming { .. } => (1, false),
            CallState::Outgoing { .. } => (2, false),
            CallState::Releasing { .. } | CallState::Resetting => (0, true),
        };
        if transient {
            return 0x00;
        }
        two(k.local_block, k.remote_block)
            | (dc << 2)
            | (two(k.local_hw_block, k.remote_hw_block) << 4)
    }
}
