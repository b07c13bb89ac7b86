//! The engine: owns every call, routes events to them, returns actions. No I/O, no clock.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use isup::{CalledPartyNumber, CallingPartyNumber, HopCounter, Message, MessageType};
use sip::dialog::{Dialog, LocalEndpoint, ReliableProvisional, UaAction, requires_100rel};
use sip::header::{CSeq, Handling, Hdr, NameAddr, Reason, Warning};
use sip::transaction::TimerConfig;
use sip::{Host, Method, Request, Response, SipBody, Uri};

use crate::cause::{CauseMap, cancel_cause, cause_text};
use crate::compat;
use crate::config::{Encapsulation, IsupHandling, IwuConfig, PeerConfig, TrunkGroupConfig};
use crate::event::*;
use crate::ids::IdGen;
use crate::media::{MediaEndpoint, MediaGateway, StaticMediaGateway};
use crate::msgs::{self, LOCATION_BI, LOCATION_TN};
use crate::number::{self, apri, screening};
use crate::sdp::{Codec, SessionDescription};

/// Call models and SIP bridging (RFC 3372 §3), as `Engine::call_models` counts them.
const MODELS: [(CallModel, bool); 3] = [
    (CallModel::PstnOrigination, false),
    (CallModel::IpOrigination, false),
    (CallModel::IpOrigination, true),
];

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, INFO, PRACK, UPDATE, OPTIONS";
const AGENT: &str = "mgc";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IsupState {
    /// IAM sent or received, no answer yet.
    Setup,
    Answered,
    /// REL sent, awaiting RLC (T1, T5).
    Releasing,
    /// T5 expired: RSC sent, awaiting RLC (T17).
    Resetting,
    /// Done with the circuit.
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SipState {
    /// INVITE sent/received, no final response.
    Trying,
    /// CANCEL sent (or to be sent at the first provisional), awaiting the INVITE's final response.
    Cancelling,
    Confirmed,
    Done,
}

struct Call {
    id: CallRef,
    model: CallModel,
    tg: usize,
    peer: usize,
    circuit: Option<CircuitId>,
    call_id: String,
    started: Duration,
    progressed: Option<Duration>,
    answered: Option<Duration>,
    isup: IsupState,
    /// ACM sent (PSTN origination) or received (IP origination).
    acm: bool,
    rel: Option<Message>,
    iam: Option<Message>,
    sip: SipState,
    invite: Request,
    local_tag: String,
    dialog: Option<Dialog>,
    provisional_received: bool,
    /// PSTN origination: waiting for COT before the INVITE goes out (Q.764 §2.1.8).
    awaiting_cot: bool,
    /// PSTN origination: collecting SAM digits (overlap, RFC 3578 en-bloc conversion).
    collecting: bool,
    cancel_pending: Option<u8>,
    cancel_rel: Option<Vec<u8>>,
    /// Boxed: only calls from peers that use 100rel have it.
    reliable: Option<Box<ReliableProvisional>>,
    /// Responses waiting for the PRACK of the outstanding reliable provisional (RFC 3262 §3).
    queued: VecDeque<Response>,
    reliable_with_sdp: bool,
    media: Option<MediaEndpoint>,
    /// Our formats: offered (PSTN origination) or answered (IP origination).
    codecs: Vec<Codec>,
    sdp_version: u64,
    outcome: Option<(Outcome, u8)>,
    /// Which side's input set `outcome` (recorded when the call is stored back).
    released_by: Option<ReleaseSide>,
    /// The INVITE carried an encapsulated IAM (SIP bridging, RFC 3372 §3).
    bridged: bool,
    /// `Engine::event_seq` of the event that created the call.
    born: u64,
    final_status: Option<u16>,
    timers: Vec<TimerKind>,
    /// False for the clearing of a circuit a call left (repeat attempt): no call record.
    record: bool,
    /// Counted in `Engine::active` (from the first time it is stored).
    counted: bool,
}

impl Call {
    /// The index of the call's model and bridging in `Engine::active`.
    fn kind(&self) -> usize {
        MODELS
            .iter()
            .position(|&m| m == (self.model, self.bridged))
            .unwrap_or(0)
    }

    fn summary(&self) -> CallSummary {
        CallSummary {
            call: self.id,
            model: self.model,
            bridged: self.bridged,
            circuit: self.circuit,
            call_id: self.call_id.clone(),
        }
    }
}

struct Peer {
    cfg: PeerConfig,
    causes: CauseMap,
}

impl Peer {
    /// Untrusted peers and plain-SIP peers never exchange ISUP bodies (item 2).
    fn encapsulates(&self) -> bool {
        self.cfg.trusted && self.cfg.profile != Encapsulation::Sip
    }
}

/// Why an incoming body was refused.
struct BodyReject {
    status: u16,
    text: String,
}

/// The parts of a received body the IWU uses.
#[derive(Default)]
struct Parsed {
    sdp: Option<Vec<u8>>,
    isup: Option<Message>,
}

/// The interworking engine. Create it with [`Engine::new`], then feed every [`Event`] to
/// [`Engine::handle`] with the current monotonic time and the circuit pool, and perform the
/// returned [`Action`]s in order.
pub struct Engine {
    /// Admission limit (issue 7 item 3): calls beyond it are refused, INVITE with 503 and
    /// Retry-After, IAM with REL cause 42 and the automatic congestion level.
    max_calls: Option<usize>,
    /// The runtime's input is backing up ([`Engine::set_congested`]): new calls are refused as
    /// beyond the admission limit, with congestion level 2.
    congested: bool,
    /// Seconds for Retry-After on a 503 for overload (RFC 3261 §20.33).
    retry_after_s: u32,
    /// Bounds on the bodies read (parts, nesting); beyond them a request gets 413.
    body_limits: sip::BodyLimits,
    local: LocalEndpoint,
    timers: crate::config::IsupTimers,
    tgs: Vec<TrunkGroupConfig>,
    peers: Vec<Peer>,
    /// The trunk group of every circuit.
    circuit_tg: HashMap<CircuitId, usize>,
    /// Boxed: the table moves and over-allocates (load factor, growth by doubling) pointers,
    /// not calls.
    calls: HashMap<CallRef, Box<Call>>,
    /// Calls in progress per `MODELS` entry, kept as calls come and go: the gauges read them
    /// without a scan of the calls.
    active: [usize; MODELS.len()],
    by_circuit: HashMap<CircuitId, CallRef>,
    by_call_id: HashMap<String, CallRef>,
    ids: IdGen,
    media: Box<dyn MediaGateway + Send>,
    next_call: CallRef,
    /// Counts events; a call ended by the event that created it was refused by the gateway.
    event_seq: u64,
    /// The side the event being handled comes from.
    event_side: ReleaseSide,
    out: Vec<Action>,
}

impl Engine {
    /// Build from a validated configuration; `seed` drives Call-IDs, tags and branches.
    pub fn new(cfg: IwuConfig, seed: u64) -> Result<Engine, crate::config::ConfigError> {
        cfg.validate()?;
        let mut circuit_tg = HashMap::new();
        for (i, tg) in cfg.trunk_groups.iter().enumerate() {
            for &[a, b] in &tg.cics {
                for cic in a..=b {
                    circuit_tg.insert(CircuitId { dpc: tg.dpc, cic }, i);
                }
            }
        }
        let host = Host::parse(&cfg.local.host).map_err(|_| {
            crate::config::ConfigProblem::Host(cfg.local.host.clone()).at("local.host")
        })?;
        Ok(Engine {
            local: LocalEndpoint {
                transport: cfg.local.transport.clone(),
                host,
                port: cfg.local.port,
            },
            timers: cfg.timers,
            peers: cfg
                .peers
                .iter()
                .map(|p| Peer {
                    causes: CauseMap::new(p.cause_profile, &p.cause_overrides),
                    cfg: p.clone(),
                })
                .collect(),
            tgs: cfg.trunk_groups,
            circuit_tg,
            calls: HashMap::new(),
            active: [0; MODELS.len()],
            by_circuit: HashMap::new(),
            by_call_id: HashMap::new(),
            ids: IdGen::new(seed),
            max_calls: None,
            congested: false,
            retry_after_s: 5,
            body_limits: sip::BodyLimits::default(),
            media: Box::new(StaticMediaGateway),
            next_call: 1,
            event_seq: 0,
            event_side: ReleaseSide::Gateway,
            out: Vec::new(),
        })
    }

    /// Replace the static media endpoint mapping (e.g. by an MGCP/H.248 controller).
    pub fn with_media_gateway(mut self, m: Box<dyn MediaGateway + Send>) -> Self {
        self.media = m;
        self
    }

    /// The configured peer at this address (host as configured, e.g. the IP literal), for the
    /// runtime to fill [`Event::SipRequest`]'s `peer` from a packet's source.
    pub fn peer_by_address(&self, host: &str, port: u16) -> Option<&str> {
        self.peers
            .iter()
            .find(|p| p.cfg.host.eq_ignore_ascii_case(host) && p.cfg.port == port)
            .or_else(|| {
                self.peers
                    .iter()
                    .find(|p| p.cfg.host.eq_ignore_ascii_case(host))
            })
            .map(|p| p.cfg.name.as_str())
    }

    /// Admit at most `max_calls` calls at once (`None`: no limit); an INVITE beyond it gets
    /// 503 with `Retry-After: retry_after_s`, an IAM REL cause 42 with the automatic
    /// congestion level (Q.764 §2.11). Calls in progress are never touched.
    pub fn set_admission_limit(&mut self, max_calls: Option<usize>, retry_after_s: u32) {
        self.max_calls = max_calls;
        self.retry_after_s = retry_after_s;
    }

    /// Read bodies within `limits`: a request whose body has more parts, or deeper nesting,
    /// gets 413 with the limit in a Warning and never reaches ISUP.
    pub fn set_body_limits(&mut self, limits: sip::BodyLimits) {
        self.body_limits = limits;
    }

    /// Set by the runtime while the messages waiting for the gateway exceed its bound: new
    /// calls (INVITE, IAM) are refused as at the admission limit, so that the calls in progress,
    /// whose messages wait in the same queues, are not delayed further. Calls in progress are
    /// never touched.
    pub fn set_congested(&mut self, congested: bool) {
        self.congested = congested;
    }

    /// True when a new call would exceed the admission limit, or the input is congested.
    fn overloaded(&self) -> bool {
        self.congested || self.max_calls.is_some_and(|m| self.calls.len() >= m)
    }

    /// Q.763 §3.4 automatic congestion level of a refusal: 1 at the admission limit, 2 when
    /// the input queues are backing up.
    fn congestion_level(&self) -> u8 {
        if self.congested { 2 } else { 1 }
    }

    /// Number of calls in progress (any state).
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// The call using `circuit`, if any.
    pub fn call_by_circuit(&self, circuit: CircuitId) -> Option<CallSummary> {
        self.by_circuit.get(&circuit).and_then(|id| self.call(*id))
    }

    /// The call with this SIP Call-ID, if any.
    pub fn call_by_call_id(&self, call_id: &str) -> Option<CallSummary> {
        self.by_call_id.get(call_id).and_then(|id| self.call(*id))
    }

    /// Calls in progress per model and bridging: `(model, bridged, calls)` for PSTN
    /// origination, IP origination and SIP bridging, counted as calls come and go (gauges; no
    /// scan of the calls).
    pub fn call_models(&self) -> impl Iterator<Item = (CallModel, bool, usize)> + '_ {
        MODELS.iter().zip(self.active).map(|(&(m, b), n)| (m, b, n))
    }

    /// Every call in progress (unordered).
    pub fn calls(&self) -> impl Iterator<Item = CallSummary> + '_ {
        self.calls.values().map(|c| c.summary())
    }

    /// The call `id` (from a [`TimerKey`]), if still in progress.
    pub fn call(&self, id: CallRef) -> Option<CallSummary> {
        self.calls.get(&id).map(|c| c.summary())
    }

    /// True if a call uses `circuit`.
    pub fn circuit_in_use(&self, circuit: CircuitId) -> bool {
        self.by_circuit.contains_key(&circuit)
    }

    /// Handle one event at time `now` (monotonic, caller-given) and return the actions.
    pub fn handle(
        &mut self,
        now: Duration,
        event: Event,
        pool: &mut dyn CircuitPool,
    ) -> Vec<Action> {
        self.event_seq += 1;
        self.event_side = match &event {
            Event::Isup { .. } => ReleaseSide::Isup,
            Event::SipRequest { .. } | Event::SipResponse(_) => ReleaseSide::Sip,
            _ => ReleaseSide::Gateway,
        };
        match event {
            Event::Isup { circuit, msg } => self.on_isup(now, circuit, msg),
            Event::SipRequest { request, peer } => self.on_request(now, request, peer, pool),
            Event::SipResponse(r) => self.on_response(now, r),
            Event::SipTimeout { call_id, method } => self.on_timeout(now, &call_id, method),
            Event::Timer(k) => self.on_timer(now, k),
            Event::ReleaseCall { circuit, cause } => {
                if let Some(mut c) = self.take_by_circuit(circuit) {
                    self.release_both(now, &mut c, cause, LOCATION_TN, Outcome::Failed);
                    self.put(now, c);
                }
            }
            Event::CircuitReset { circuit } => {
                if let Some(mut c) = self.take_by_circuit(circuit) {
                    // Q.764 §2.10.3.1: the reset clears the call as if REL had been received; no
                    // RLC from us (the RSC procedure answers it), the circuit manager owns it.
                    self.stop_all(&mut c);
                    self.detach_circuit(&mut c, false);
                    c.isup = IsupState::Idle;
                    self.release_sip(now, &mut c, 41, LOCATION_TN, None, Outcome::Failed);
                    self.put(now, c);
                }
            }
            Event::SignallingLost => {
                let mut ids: Vec<CallRef> = self.calls.keys().copied().collect();
                ids.sort_unstable();
                for id in ids {
                    let Some(mut c) = self.take(id) else { continue };
                    // As a reset (Q.764 §2.10.3.1): the call is cleared as if released, without
                    // REL; the GRS sent when signalling returns frees the circuit on both ends.
                    self.stop_all(&mut c);
                    self.detach_circuit(&mut c, false);
                    let outcome = if c.answered.is_some() {
                        Outcome::Answered
                    } else {
                        Outcome::Failed
                    };
                    self.release_sip(
                        now,
                        &mut c,
                        msgs::CAUSE_NETWORK_OUT_OF_ORDER,
                        LOCATION_TN,
                        None,
                        outcome,
                    );
                    self.put(now, c);
                }
            }
            Event::Reattempt { circuit } => {
                if let Some(mut c) = self.take_by_circuit(circuit) {
                    self.reattempt(now, &mut c, pool);
                    self.put(now, c);
                }
            }
            Event::RepeatAttempt { circuit, cause } => {
                if let Some(mut c) = self.take_by_circuit(circuit) {
                    if c.model == CallModel::IpOrigination && c.isup == IsupState::Setup && !c.acm {
                        // The old circuit is cleared by a call of its own, without a record:
                        // REL now, RLC (or T1/T5) later, then CircuitIdle.
                        let mut old = self.new_call(now, c.model, c.tg, c.peer);
                        old.circuit = Some(circuit);
                        old.sip = SipState::Done;
                        old.record = false;
                        self.by_circuit.insert(circuit, old.id);
                        self.release_isup(&mut old, cause, LOCATION_TN, None);
                        self.put(now, old);
                        self.reattempt(now, &mut c, pool);
                    } else {
                        self.release_both(now, &mut c, cause, LOCATION_TN, Outcome::Failed);
                    }
                    self.put(now, c);
                }
            }
        }
        std::mem::take(&mut self.out)
    }

    // ----- call bookkeeping -----

    fn take(&mut self, id: CallRef) -> Option<Box<Call>> {
        self.calls.remove(&id)
    }

    fn take_by_circuit(&mut self, circuit: CircuitId) -> Option<Box<Call>> {
        let id = *self.by_circuit.get(&circuit)?;
        self.take(id)
    }

    fn take_by_call_id(&mut self, call_id: &str) -> Option<Box<Call>> {
        let id = *self.by_call_id.get(call_id)?;
        self.take(id)
    }

    /// Store the call back, or finish it when both sides are done.
    fn put(&mut self, now: Duration, mut c: Box<Call>) {
        if c.outcome.is_some() && c.released_by.is_none() {
            // Outcomes are set while handling one event, and the call is put back at its end.
            c.released_by = Some(if c.born == self.event_seq {
                ReleaseSide::Gateway
            } else {
                self.event_side
            });
        }
        if c.isup == IsupState::Idle && c.sip == SipState::Done {
            self.stop_all(&mut c);
            let record_circuit = c.circuit;
            if let Some(circuit) = c.circuit.take() {
                if self.by_circuit.get(&circuit) == Some(&c.id) {
                    self.by_circuit.remove(&circuit);
                }
            }
            self.by_call_id.remove(&c.call_id);
            if c.counted {
                self.active[c.kind()] -= 1;
            }
            if !c.record {
                return;
            }
            let (outcome, cause) = c.outcome.unwrap_or((Outcome::Failed, 127));
            let end = now;
            self.out.push(Action::CallRecord(CallRecord {
                call: c.id,
                model: c.model,
                circuit: record_circuit,
                call_id: c.call_id.clone(),
                outcome,
                cause,
                sip_status: c.final_status,
                setup_time: c.progressed.map(|t| t.saturating_sub(c.started)),
                answer_time: c.answered.map(|t| t.saturating_sub(c.started)),
                duration: c.answered.map(|t| end.saturating_sub(t)),
                bridged: c.bridged,
                released_by: c.released_by.unwrap_or(ReleaseSide::Gateway),
            }));
        } else {
            if !c.counted {
                c.counted = true;
                self.active[c.kind()] += 1;
            }
            self.calls.insert(c.id, c);
        }
    }

    fn new_call(&mut self, now: Duration, model: CallModel, tg: usize, peer: usize) -> Box<Call> {
        let id = self.next_call;
        self.next_call += 1;
        Box::new(Call {
            id,
            model,
            tg,
            peer,
            circuit: None,
            call_id: String::new(),
            started: now,
            progressed: None,
            answered: None,
            isup: IsupState::Setup,
            acm: false,
            rel: None,
            iam: None,
            sip: SipState::Trying,
            invite: Request::new(Method::Invite, Uri::Other("sip:invalid".into())),
            local_tag: String::new(),
            dialog: None,
            provisional_received: false,
            awaiting_cot: false,
            collecting: false,
            cancel_pending: None,
            cancel_rel: None,
            reliable: None,
            queued: VecDeque::new(),
            reliable_with_sdp: false,
            media: None,
            codecs: Vec::new(),
            sdp_version: 1,
            outcome: None,
            released_by: None,
            bridged: false,
            born: self.event_seq,
            final_status: None,
            timers: Vec::new(),
            record: true,
            counted: false,
        })
    }

    fn start(&mut self, c: &mut Call, t: TimerKind, after: Duration) {
        if !c.timers.contains(&t) {
            c.timers.push(t);
        }
        self.out.push(Action::StartTimer {
            key: TimerKey {
                call: c.id,
                timer: t,
            },
            after,
        });
    }

    fn stop(&mut self, c: &mut Call, t: TimerKind) {
        if let Some(i) = c.timers.iter().position(|x| *x == t) {
            c.timers.swap_remove(i);
            self.out.push(Action::StopTimer {
                key: TimerKey {
                    call: c.id,
                    timer: t,
                },
            });
        }
    }

    fn stop_all(&mut self, c: &mut Call) {
        for t in std::mem::take(&mut c.timers) {
            self.out.push(Action::StopTimer {
                key: TimerKey {
                    call: c.id,
                    timer: t,
                },
            });
        }
    }

    fn send_isup(&mut self, c: &Call, msg: Message) {
        if let Some(circuit) = c.circuit {
            self.out.push(Action::SendIsup { circuit, msg });
        }
    }

    fn send_request(&mut self, c: &Call, request: Request) {
        self.out.push(Action::SendRequest {
            peer: self.peers[c.peer].cfg.name.clone(),
            request,
        });
    }

    fn set_outcome(c: &mut Call, o: Outcome, cause: u8) {
        if c.outcome.is_none() {
            c.outcome = Some((o, cause));
        }
    }

    /// Outcome for a release before answer with this cause (Q.850 class 0/1: the called side).
    fn refusal(cause: u8) -> Outcome {
        match cause {
            1..=31 if cause != 16 => Outcome::Rejected,
            16 => Outcome::Abandoned,
            _ => Outcome::Failed,
        }
    }

    /// The call no longer needs its circuit. `idle`: emit CircuitIdle (REL/RLC completed).
    fn detach_circuit(&mut self, c: &mut Call, idle: bool) {
        if let Some(circuit) = c.circuit {
            if c.media.take().is_some() {
                self.media.release(&self.tgs[c.tg], circuit.cic);
            }
            if self.by_circuit.get(&circuit) == Some(&c.id) {
                self.by_circuit.remove(&circuit);
            }
            if idle {
                self.out.push(Action::CircuitIdle { circuit });
            }
        }
        c.isup = IsupState::Idle;
    }

    // ----- ISUP side -----

    fn on_isup(&mut self, now: Duration, circuit: CircuitId, msg: Message) {
        // Q.764 §2.9.5: unrecognised messages and parameters, by their compatibility information.
        // The IAM is examined in `on_iam` (a release there needs the call).
        let call = self
            .by_circuit
            .get(&circuit)
            .and_then(|id| self.calls.get(id));
        let msg = if msg.message_type == MessageType::IAM && call.is_none() {
            msg
        } else {
            let pass_on = call.is_some_and(|c| {
                self.peers[c.peer].encapsulates()
                    && c.dialog.is_some()
                    && matches!(c.sip, SipState::Trying | SipState::Confirmed)
            });
            match compat::examine(msg, pass_on) {
                compat::Verdict::Process { msg, notify } => {
                    self.confusion(circuit, notify);
                    msg
                }
                compat::Verdict::PassOn { msg, notify } => {
                    self.confusion(circuit, notify);
                    if let Some(mut c) = self.take_by_circuit(circuit) {
                        self.send_info(&mut c, &msg);
                        self.put(now, c);
                    }
                    return;
                }
                compat::Verdict::Discard { notify } => {
                    self.confusion(circuit, notify);
                    return;
                }
                compat::Verdict::Release { cause, diagnostic } => {
                    if let Some(mut c) = self.take_by_circuit(circuit) {
                        self.release_compat(now, &mut c, cause, &diagnostic);
                        self.put(now, c);
                    }
                    return;
                }
            }
        };
        let t = msg.message_type;
        let Some(mut c) = self.take_by_circuit(circuit) else {
            match t {
                MessageType::IAM => self.on_iam(now, circuit, msg),
                // Q.764 §2.3.1 e): REL for an idle circuit is still answered with RLC.
                MessageType::REL => self.out.push(Action::SendIsup {
                    circuit,
                    msg: msgs::rlc(),
                }),
                // RLC or other call messages on an idle circuit: discarded (Q.764 §2.9.6).
                _ => {}
            }
            return;
        };
        match t {
            MessageType::REL => self.on_rel(now, &mut c, msg),
            MessageType::RLC => {
                if matches!(c.isup, IsupState::Releasing | IsupState::Resetting) {
                    // Q.764 §2.3.1 c): RLC stops T1 and T5 (T17 after a reset); circuit idle.
                    self.stop(&mut c, TimerKind::T1);
                    self.stop(&mut c, TimerKind::T5);
                    self.stop(&mut c, TimerKind::T17);
                    self.detach_circuit(&mut c, true);
                }
            }
            MessageType::COT if c.awaiting_cot => {
                // Q.764 §2.1.8: COT "successful" → continue; "failed" → the preceding exchange
                // re-tests (CCR) and sends a new COT; T8 keeps running.
                let ok = msgs::typed::<isup::ContinuityIndicators>(&msg)
                    .is_some_and(|i| i.continuity_indicator == 1);
                if ok {
                    self.stop(&mut c, TimerKind::T8);
                    c.awaiting_cot = false;
                    self.try_offer(&mut c);
                }
            }
            MessageType::SAM if c.collecting => {
                let sam = msg.clone();
                self.on_sam(&mut c, &sam);
            }
            MessageType::IAM => {
                // IAM on a circuit with a call: dual seizure is resolved by the runtime
                // (Reattempt before the IAM); here the controlling side discards it
                // (Q.764 §2.10.1.4).
            }
            _ if c.model == CallModel::IpOrigination && c.isup == IsupState::Setup => {
                self.on_backward(now, &mut c, msg)
            }
            _ => self.on_mid_call_isup(&mut c, msg),
        }
        self.put(now, c);
    }

    /// CFN (Q.764 §2.9.5) when the compatibility procedure asks for a notification.
    fn confusion(&mut self, circuit: CircuitId, notify: Option<(u8, Vec<u8>)>) {
        if let Some((cause, diagnostic)) = notify {
            self.out.push(Action::SendIsup {
                circuit,
                msg: compat::cfn(cause, LOCATION_TN, &diagnostic),
            });
        }
    }

    /// Release for a compatibility reason: REL with the cause and its diagnostic (Q.764
    /// §2.9.5.3), the SIP side cleared with the same cause.
    fn release_compat(&mut self, now: Duration, c: &mut Call, cause: u8, diagnostic: &[u8]) {
        let mut ci = isup::CauseIndicators::new(cause, LOCATION_TN);
        ci.diagnostics = diagnostic.into();
        let rel = Message::new(MessageType::REL).with(ci);
        let outcome = if c.answered.is_some() {
            Outcome::Answered
        } else {
            Outcome::Failed
        };
        Self::set_outcome(c, outcome, cause);
        self.release_isup(c, cause, LOCATION_TN, Some(rel));
        let rel = c.rel.clone();
        self.release_sip(now, c, cause, LOCATION_TN, rel.as_ref(), outcome);
    }

    /// IAM received: PSTN origination (RFC 3398 §8.2.1).
    fn on_iam(&mut self, now: Duration, circuit: CircuitId, iam: Message) {
        let Some(&tg_i) = self.circuit_tg.get(&circuit) else {
            // Not one of our circuits: the runtime answers UCIC (Q.764 §2.12). Nothing here.
            return;
        };
        let tg = self.tgs[tg_i].clone();
        let Some(peer_i) = self.peers.iter().position(|p| p.cfg.name == tg.sip_peer) else {
            return;
        };
        let overloaded = self.overloaded();
        let mut c = self.new_call(now, CallModel::PstnOrigination, tg_i, peer_i);
        c.circuit = Some(circuit);
        c.call_id = self.ids.call_id(&self.local.host.to_string());
        c.local_tag = self.ids.tag();
        self.by_circuit.insert(circuit, c.id);
        self.by_call_id.insert(c.call_id.clone(), c.id);
        // Q.764 §2.9.5: unrecognised parameters of the IAM; the IAM itself travels encapsulated
        // toward SIP-I/SIP-T peers (pass on possible).
        let pass_on = self.peers[peer_i].encapsulates();
        let iam = match compat::examine(iam, pass_on) {
            compat::Verdict::Process { msg, notify } => {
                self.confusion(circuit, notify);
                msg
            }
            compat::Verdict::Release { cause, diagnostic } => {
                // No INVITE was sent: only the ISUP side is released.
                c.sip = SipState::Done;
                self.release_compat(now, &mut c, cause, &diagnostic);
                self.put(now, c);
                return;
            }
            compat::Verdict::Discard { notify } | compat::Verdict::PassOn { notify, .. } => {
                // An IAM discarded: the circuit stays idle, the far end's T7 clears its call.
                self.confusion(circuit, notify);
                Self::set_outcome(&mut c, Outcome::Failed, compat::cause::MESSAGE_DISCARDED);
                self.detach_circuit(&mut c, true);
                c.sip = SipState::Done;
                self.put(now, c);
                return;
            }
        };
        // RFC 3398 §8.2.1 / Q.763 §3.54: the media gateway carries speech and 3.1 kHz audio
        // (G.711); 64 kbit/s unrestricted and multirate bearers are refused with cause 65.
        let tmr = msgs::typed::<isup::TransmissionMediumRequirement>(&iam).map_or(3, |t| t.value);
        let called = msgs::typed::<CalledPartyNumber>(&iam);
        let cause = if overloaded {
            Some(msgs::CAUSE_SWITCHING_EQUIPMENT_CONGESTION)
        } else if !matches!(tmr, 0 | 3..=6) {
            Some(65)
        } else if called.is_none() {
            Some(28)
        } else {
            None
        };
        let media = match cause {
            Some(_) => None,
            None => self.media.allocate(&tg, circuit.cic),
        };
        let Some(media) = media else {
            let cause = cause.unwrap_or(47);
            // Q.764 §2.11 / Q.763 §3.4: an exchange refusing for congestion says how congested
            // it is (level 1: the admission limit is reached; 2: the input is backing up).
            let level = self.congestion_level();
            let rel = (cause == msgs::CAUSE_SWITCHING_EQUIPMENT_CONGESTION).then(|| {
                msgs::rel(cause, LOCATION_TN).with(isup::AutomaticCongestionLevel { level })
            });
            self.release_isup(&mut c, cause, LOCATION_TN, rel);
            Self::set_outcome(&mut c, Outcome::Failed, cause);
            c.sip = SipState::Done;
            self.put(now, c);
            return;
        };
        attach_media(&mut c, media);
        // RFC 3578 §2 (en-bloc conversion): with overlap signalling, collect SAM digits until
        // ST or T10 before the INVITE goes out.
        let complete = called
            .as_ref()
            .is_some_and(|n| n.digits.signals().last() == Some(&15));
        if tg.overlap && !complete {
            c.collecting = true;
            self.start(&mut c, TimerKind::T10, self.timers.t10);
        }
        // Q.764 §2.1.8: continuity check required on this circuit (by the media gateway's
        // loop-back) or done on a previous circuit: wait for COT (T8) before offering the call.
        let nci = msgs::typed::<isup::NatureOfConnectionIndicators>(&iam);
        if nci.is_some_and(|n| matches!(n.continuity_check_indicator, 1 | 2)) {
            c.awaiting_cot = true;
            self.start(&mut c, TimerKind::T8, self.timers.t8);
        }
        c.iam = Some(iam);
        self.try_offer(&mut c);
        self.put(now, c);
    }

    /// SAM while collecting digits: append them to the stored IAM's called party number.
    fn on_sam(&mut self, c: &mut Call, sam: &Message) {
        let Some(more) = msgs::typed::<isup::SubsequentNumber>(sam) else {
            return;
        };
        let Some(iam) = c.iam.as_mut() else { return };
        let Some(mut cdpn) = msgs::typed::<CalledPartyNumber>(iam) else {
            return;
        };
        for &d in more.digits.signals() {
            cdpn.digits.push(d);
        }
        let complete = cdpn.digits.signals().last() == Some(&15);
        iam.set(cdpn);
        self.stop(c, TimerKind::T10);
        if complete {
            c.collecting = false;
            self.try_offer(c);
        } else {
            self.start(c, TimerKind::T10, self.timers.t10);
        }
    }

    /// Build and send the INVITE of a PSTN-originated call once the number is complete and
    /// continuity is confirmed (RFC 3398 §8.2.1); start T11.
    fn try_offer(&mut self, c: &mut Call) {
        if c.awaiting_cot || c.collecting || c.isup != IsupState::Setup {
            return;
        }
        let Some(req) = self.build_invite(c) else {
            // Q.850 cause 28: no usable called number.
            self.release_isup(c, 28, LOCATION_TN, None);
            Self::set_outcome(c, Outcome::Failed, 28);
            c.sip = SipState::Done;
            return;
        };
        c.invite = req.clone();
        self.send_request(c, req);
        if self.tgs[c.tg].t11_acm {
            self.start(c, TimerKind::T11, self.timers.t11);
        }
    }

    fn build_invite(&mut self, c: &Call) -> Option<Request> {
        let iam = c.iam.as_ref()?;
        let media = c.media.as_ref()?;
        let tg = &self.tgs[c.tg];
        let peer = &self.peers[c.peer];
        let pc = &peer.cfg;
        let encaps = peer.encapsulates();
        let called = msgs::typed::<CalledPartyNumber>(iam)?;
        let target = number::from_isup(
            called.nature_of_address,
            &called.digits,
            &tg.country_code,
            &tg.area_code,
        );
        if matches!(&target, number::SipNumber::Local { digits, .. } if digits.is_empty()) {
            return None;
        }
        let ruri = number::to_uri(&target, pc.uri_form, &pc.host, pc.port);

        let calling = msgs::typed::<CallingPartyNumber>(iam);
        let local_host = self.local.host.to_string();
        let to_uri = |nature: u8, digits: &isup::Digits| {
            let num = number::from_isup(nature, digits, &tg.country_code, &tg.area_code);
            number::to_uri(&num, pc.uri_form, &local_host, 5060)
        };
        // Generic number "additional calling party number" (qualifier 6), presentation allowed:
        // the user-provided number goes to From (Q.1912.5 §6.1.3 [mem]).
        let additional = iam
            .parameters
            .iter()
            .filter_map(|p| p.to_typed())
            .find_map(|p| match p {
                isup::Parameter::GenericNumber(g)
                    if g.number_qualifier_indicator == Some(6)
                        && g.presentation == Some(apri::ALLOWED)
                        && !g.digits.is_empty() =>
                {
                    Some(to_uri(g.nature_of_address, &g.digits))
                }
                _ => None,
            });
        // RFC 3398 §8.2.1.2, RFC 3323/3325, Q.1912.5: restricted or unavailable → anonymous
        // From; only a verified or network-provided number (screening 01/11) is asserted in
        // P-Asserted-Identity, and only toward trusted peers.
        let (from_uri, pai, restricted) = match &calling {
            Some(n) if !n.digits.is_empty() && n.presentation != Some(apri::NOT_AVAILABLE) => {
                let uri = to_uri(n.nature_of_address, &n.digits);
                let verified = matches!(
                    n.screening,
                    Some(screening::USER_PROVIDED_VERIFIED_PASSED | screening::NETWORK_PROVIDED)
                );
                let pai = verified.then(|| uri.clone());
                if n.presentation == Some(apri::RESTRICTED) {
                    (number::anonymous_uri(), pai, true)
                } else {
                    (additional.unwrap_or(uri), pai, false)
                }
            }
            _ => (number::anonymous_uri(), None, false),
        };

        let mut req = Request::new(Method::Invite, ruri.clone());
        let branch = self.ids.branch();
        let h = &mut req.headers;
        h.push(Hdr::Via, &self.local.via(&branch).to_string());
        h.push(Hdr::MaxForwards, "70");
        let anonymous = number::is_anonymous(&from_uri);
        let mut from = NameAddr::new(from_uri);
        if anonymous {
            from = from.with_display("Anonymous");
        }
        from.set_tag(&c.local_tag);
        h.push(Hdr::From, &from.to_string());
        h.push(Hdr::To, &NameAddr::new(ruri).to_string());
        h.push(Hdr::CallId, &c.call_id);
        h.push(Hdr::CSeq, &CSeq::new(1, Method::Invite).to_string());
        h.push(Hdr::Contact, &self.local.contact(None).to_string());
        h.push(Hdr::Allow, ALLOW);
        if pc.reliable_provisional {
            h.push(Hdr::Supported, "100rel");
        }
        if pc.trusted {
            if let Some(p) = &pai {
                h.push(
                    Hdr::PAssertedIdentity,
                    &NameAddr::new(p.clone()).to_string(),
                );
                if restricted {
                    h.push(Hdr::Privacy, "id");
                }
            }
        }
        // Redirection → Diversion (RFC 5806); restricted entries only inside the trust domain.
        for d in crate::diversion::to_sip(
            iam,
            pc.uri_form,
            &local_host,
            &tg.country_code,
            &tg.area_code,
        ) {
            if pc.trusted || !d.contains("privacy=full") {
                h.push(sip::HeaderName::from_name("Diversion"), &d);
            }
        }
        let offer = SessionDescription {
            address: media.address.clone(),
            port: media.port,
            codecs: c.codecs.clone(),
            ptime: Some(media.ptime),
        }
        .to_bytes(session_id(c), c.sdp_version);
        let isup_body = if encaps { iam.to_bytes().ok() } else { None };
        set_body_req(&mut req, pc, Some(offer), isup_body.as_deref());
        Some(req)
    }

    /// Backward ISUP for an IP-originated call (RFC 3398 §7.2.2-7.2.4).
    fn on_backward(&mut self, now: Duration, c: &mut Call, msg: Message) {
        let t = msg.message_type;
        let encaps = self.peers[c.peer].encapsulates();
        match t {
            MessageType::ACM | MessageType::CPG => {
                let in_band = msgs::typed::<isup::OptionalBackwardCallIndicators>(&msg)
                    .is_some_and(|o| o.in_band_information_indicator == 1);
                let status = if t == MessageType::ACM {
                    let bci = msgs::typed::<isup::BackwardCallIndicators>(&msg);
                    // §3.2: subscriber free → 180; no indication → 183; in-band → 183 + SDP.
                    if bci.is_some_and(|b| b.called_party_status == msgs::status::SUBSCRIBER_FREE)
                        && !in_band
                    {
                        180
                    } else {
                        183
                    }
                } else {
                    match msgs::typed::<isup::EventInformation>(&msg).map(|e| e.event_indicator) {
                        Some(msgs::event::ALERTING) => 180,
                        Some(4..=6) => 181,
                        Some(msgs::event::PROGRESS | msgs::event::IN_BAND) => 183,
                        _ => {
                            // Other events: passed on in INFO to SIP-T/SIP-I peers only.
                            if encaps {
                                self.send_info(c, &msg);
                            }
                            return;
                        }
                    }
                };
                if t == MessageType::ACM {
                    if c.acm {
                        return;
                    }
                    c.acm = true;
                }
                if c.progressed.is_none() {
                    c.progressed = Some(now);
                }
                // T7 stops on ACM; T9 runs until answer (Q.764 §2.1.4, Q.118).
                self.stop(c, TimerKind::T7);
                if !c.timers.contains(&TimerKind::T9) {
                    self.start(c, TimerKind::T9, self.timers.t9);
                }
                let with_sdp = status == 183 || in_band;
                let resp = self.uas_response(c, status, with_sdp, Some(&msg));
                self.send_uas_provisional(c, resp, with_sdp);
            }
            MessageType::ANM | MessageType::CON => {
                self.stop(c, TimerKind::T7);
                self.stop(c, TimerKind::T9);
                if c.progressed.is_none() {
                    c.progressed = Some(now);
                }
                c.acm = true;
                c.answered = Some(now);
                c.isup = IsupState::Answered;
                c.final_status = Some(200);
                let resp = self.uas_response(c, 200, true, Some(&msg));
                // RFC 3262 §3: no 2xx before the PRACK of a reliable 18x that carried SDP; the
                // dialog is confirmed when the 200 goes out.
                if c.reliable.as_ref().is_some_and(|r| !r.can_send()) && c.reliable_with_sdp {
                    c.queued.push_back(resp);
                } else {
                    hold(c);
                    self.out.push(Action::SendResponse(resp));
                }
            }
            _ => self.on_mid_call_isup(c, msg),
        }
    }

    /// A mid-call ISUP message: carried in INFO to SIP-T/SIP-I peers (RFC 3372 §5.3).
    fn on_mid_call_isup(&mut self, c: &mut Call, msg: Message) {
        // Q.764 §2.5.1: as the controlling (originating) exchange of an answered call, SUS
        // starts T2 (user initiated) or T6 (network initiated); RES stops them.
        if c.model == CallModel::IpOrigination && c.isup == IsupState::Answered {
            match msg.message_type {
                MessageType::SUS => {
                    let network = msgs::typed::<isup::SuspendResumeIndicators>(&msg)
                        .is_some_and(|i| i.indicator == 1);
                    if network {
                        self.start(c, TimerKind::T6, self.timers.t6);
                    } else {
                        self.start(c, TimerKind::T2, self.timers.t2);
                    }
                }
                MessageType::RES => {
                    self.stop(c, TimerKind::T2);
                    self.stop(c, TimerKind::T6);
                }
                _ => {}
            }
        }
        if msg.message_type == MessageType::INR
            && !self.peers[c.peer].encapsulates()
            && matches!(c.isup, IsupState::Setup | IsupState::Answered)
        {
            // Q.764 §2.1.6: INR is answered with INF. Without SIP-T/SIP-I the gateway answers
            // from the IAM it sent (calling party number and category), else "not available".
            let inf = self.information_for(c, &msg);
            self.send_isup(c, inf);
            return;
        }
        if matches!(c.isup, IsupState::Setup | IsupState::Answered)
            && msgs::is_mid_call(msg.message_type)
            && self.peers[c.peer].encapsulates()
        {
            self.send_info(c, &msg);
        }
    }

    /// INF answering an INR (Q.763 §3.28-3.29).
    fn information_for(&self, c: &Call, inr: &Message) -> Message {
        let req = msgs::typed::<isup::InformationRequestIndicators>(inr).unwrap_or_default();
        let iam = c.iam.as_ref();
        let cgpn = iam
            .and_then(msgs::typed::<CallingPartyNumber>)
            .filter(|n| !n.digits.is_empty());
        let cpc = iam.and_then(msgs::typed::<isup::CallingPartysCategory>);
        let mut ind = isup::InformationIndicators::default();
        let mut extra: Vec<isup::Parameter> = Vec::new();
        if req.calling_party_address_request_indicator == 1 {
            match cgpn {
                // 11: address included; 01: not available.
                Some(n) => {
                    ind.calling_party_address_response_indicator = 3;
                    extra.push(n.into());
                }
                None => ind.calling_party_address_response_indicator = 1,
            }
        }
        if req.calling_partys_category_request_indicator == 1 {
            if let Some(cpc) = cpc {
                ind.calling_partys_category_response_indicator = 1;
                extra.push(cpc.into());
            }
        }
        let mut m = Message::new(MessageType::INF).with(ind);
        m.parameters.extend(extra);
        m
    }

    fn send_info(&mut self, c: &mut Call, msg: &Message) {
        if c.sip == SipState::Done || c.sip == SipState::Cancelling {
            return;
        }
        let Some(bytes) = msg.to_bytes().ok() else {
            return;
        };
        let branch = self.ids.branch();
        let Some(d) = c.dialog.as_mut() else { return };
        let mut req = d.new_request(Method::Info, &self.local);
        req.headers
            .set(Hdr::Via, &self.local.via(&branch).to_string());
        set_body_req(&mut req, &self.peers[c.peer].cfg, None, Some(&bytes));
        self.send_request(c, req);
    }

    /// REL received (Q.764 §2.3.1): RLC at once, circuit idle, then clear the SIP side.
    fn on_rel(&mut self, now: Duration, c: &mut Call, rel: Message) {
        self.send_isup(c, msgs::rlc());
        let was = c.isup;
        self.stop(c, TimerKind::T1);
        self.stop(c, TimerKind::T2);
        self.stop(c, TimerKind::T5);
        self.stop(c, TimerKind::T6);
        self.stop(c, TimerKind::T7);
        self.stop(c, TimerKind::T9);
        self.stop(c, TimerKind::T11);
        self.stop(c, TimerKind::T17);
        self.stop(c, TimerKind::T8);
        self.stop(c, TimerKind::T10);
        self.detach_circuit(c, true);
        if matches!(was, IsupState::Releasing | IsupState::Resetting) {
            // Q.764 §2.3.1 d): collision of REL messages; both sides answer RLC.
            return;
        }
        let (cause, location) = msgs::cause_of(&rel).unwrap_or((31, LOCATION_TN));
        let outcome = if c.answered.is_some() {
            Outcome::Answered
        } else if c.model == CallModel::PstnOrigination {
            Outcome::Abandoned
        } else {
            Self::refusal(cause)
        };
        self.release_sip(now, c, cause, location, Some(&rel), outcome);
    }

    /// Send REL with a cause (or the encapsulated REL itself), start T1 and T5 (Q.764 §2.3.1 a).
    fn release_isup(
        &mut self,
        c: &mut Call,
        cause: u8,
        location: u8,
        encapsulated: Option<Message>,
    ) {
        if !matches!(c.isup, IsupState::Setup | IsupState::Answered) {
            return;
        }
        for t in [
            TimerKind::T2,
            TimerKind::T6,
            TimerKind::T7,
            TimerKind::T8,
            TimerKind::T9,
            TimerKind::T10,
            TimerKind::T11,
        ] {
            self.stop(c, t);
        }
        let rel = encapsulated
            .filter(|m| m.message_type == MessageType::REL && msgs::cause_of(m).is_some())
            .unwrap_or_else(|| msgs::rel(cause, location));
        self.send_isup(c, rel.clone());
        c.rel = Some(rel);
        c.isup = IsupState::Releasing;
        self.start(c, TimerKind::T1, self.timers.t1);
        self.start(c, TimerKind::T5, self.timers.t5);
    }

    /// Clear the SIP side with a Q.850 cause (REL received, timer, admin, reset).
    fn release_sip(
        &mut self,
        _now: Duration,
        c: &mut Call,
        cause: u8,
        location: u8,
        rel: Option<&Message>,
        outcome: Outcome,
    ) {
        Self::set_outcome(c, outcome, cause);
        let encaps = self.peers[c.peer].encapsulates();
        let rel_bytes = rel
            .filter(|_| encaps)
            .and_then(|m| m.to_bytes().ok())
            .or_else(|| {
                encaps
                    .then(|| msgs::rel(cause, location).to_bytes().ok())
                    .flatten()
            });
        let reason = Reason::q850(cause, Some(cause_text(cause)).filter(|t| !t.is_empty()));
        match (c.model, c.sip) {
            (_, SipState::Confirmed) => {
                // RFC 3398 §8.2.3: REL after answer → BYE with Reason.
                let branch = self.ids.branch();
                let Some(d) = c.dialog.as_mut() else {
                    c.sip = SipState::Done;
                    return;
                };
                let mut bye = d.new_request(Method::Bye, &self.local);
                bye.headers
                    .set(Hdr::Via, &self.local.via(&branch).to_string());
                bye.headers.push(Hdr::Reason, &reason.to_string());
                set_body_req(
                    &mut bye,
                    &self.peers[c.peer].cfg,
                    None,
                    rel_bytes.as_deref(),
                );
                self.send_request(c, bye);
                c.sip = SipState::Done;
            }
            (CallModel::PstnOrigination, SipState::Trying) if c.awaiting_cot || c.collecting => {
                // The INVITE was never sent.
                c.sip = SipState::Done;
            }
            (CallModel::PstnOrigination, SipState::Trying) => {
                // RFC 3261 §9.1: CANCEL only after a provisional response.
                if c.provisional_received {
                    self.send_cancel(c, cause, rel_bytes.as_deref());
                } else {
                    c.cancel_pending = Some(cause);
                    c.cancel_rel = rel_bytes;
                }
                c.sip = SipState::Cancelling;
            }
            (CallModel::IpOrigination, SipState::Trying) => {
                // RFC 3398 §7.2.4 / §8.2.6.1: final response per the cause table, with Reason.
                let status = self.peers[c.peer].causes.isup_to_sip(cause, Some(location));
                let mut resp = Response::for_request(&c.invite, status, Some(&c.local_tag));
                resp.headers.push(Hdr::Reason, &reason.to_string());
                if let Some(b) = rel_bytes {
                    set_body_resp(&mut resp, &self.peers[c.peer].cfg, None, Some(&b));
                }
                // Queued reliable 18x are abandoned by the final response.
                c.queued.clear();
                self.stop(c, TimerKind::Rel1xx);
                c.final_status = Some(status);
                self.out.push(Action::SendResponse(resp));
                c.sip = SipState::Done;
            }
            _ => {}
        }
    }

    /// CANCEL with Reason, and the REL for SIP-I/SIP-T peers (Q.1912.5 profile C, RFC 3372).
    fn send_cancel(&mut self, c: &mut Call, cause: u8, rel: Option<&[u8]>) {
        let mut cancel = sip::dialog::cancel_for(&c.invite);
        cancel.headers.push(
            Hdr::Reason,
            &Reason::q850(cause, Some(cause_text(cause)).filter(|t| !t.is_empty())).to_string(),
        );
        set_body_req(&mut cancel, &self.peers[c.peer].cfg, None, rel);
        self.send_request(c, cancel);
        c.cancel_pending = None;
    }

    /// Release toward both sides (admin release, timers).
    fn release_both(&mut self, now: Duration, c: &mut Call, cause: u8, location: u8, o: Outcome) {
        let outcome = if c.answered.is_some() {
            Outcome::Answered
        } else {
            o
        };
        Self::set_outcome(c, outcome, cause);
        self.release_isup(c, cause, location, None);
        let rel = c.rel.clone();
        self.release_sip(now, c, cause, location, rel.as_ref(), outcome);
    }

    fn reattempt(&mut self, now: Duration, c: &mut Call, pool: &mut dyn CircuitPool) {
        if c.model != CallModel::IpOrigination || c.isup != IsupState::Setup || c.acm {
            return;
        }
        self.stop(c, TimerKind::T7);
        // The circuit now carries the incoming call: no REL, no CircuitIdle.
        self.detach_circuit(c, false);
        c.circuit = None;
        c.isup = IsupState::Setup;
        let tg = self.tgs[c.tg].clone();
        // The pool may offer a circuit another call still holds here (a GRS reset it in the
        // circuit manager before this engine heard of it): skip it and give it back, or the
        // pool keeps it seized for no call.
        let mut held = Vec::new();
        let seized = loop {
            match pool.seize(&tg.name) {
                Some(s) if self.by_circuit.contains_key(&s) => held.push(s),
                other => break other,
            }
        };
        for h in held {
            pool.release(h);
        }
        let Some(circuit) = seized else {
            c.isup = IsupState::Idle;
            self.release_sip(now, c, 34, LOCATION_TN, None, Outcome::Failed);
            return;
        };
        let Some(media) = self.media.allocate(&tg, circuit.cic) else {
            pool.release(circuit);
            c.isup = IsupState::Idle;
            self.release_sip(now, c, 47, LOCATION_TN, None, Outcome::Failed);
            return;
        };
        attach_media(c, media);
        c.circuit = Some(circuit);
        self.by_circuit.insert(circuit, c.id);
        if let Some(iam) = c.iam.clone() {
            self.send_isup(c, iam);
        }
        self.start(c, TimerKind::T7, self.timers.t7);
    }

    // ----- SIP side -----

    fn resolve_peer(&self, req: &Request, peer: Option<&str>) -> Option<usize> {
        if let Some(name) = peer {
            return self.peers.iter().position(|p| p.cfg.name == name);
        }
        let via = req.headers.top_via().ok()?;
        let host = via.host.to_string();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.peers.iter().position(|p| {
            p.cfg.host.eq_ignore_ascii_case(host) && via.port.unwrap_or(5060) == p.cfg.port
        })
    }

    /// Read a body: SDP and ISUP (RFC 3204 §4 handling; RFC 5621).
    fn parse_body(
        &self,
        peer: usize,
        headers: &sip::Headers,
        body: &[u8],
    ) -> Result<Parsed, BodyReject> {
        let sb = SipBody::parse_limited(headers, body, &self.body_limits).map_err(|e| {
            // 413 names the limit (RFC 3261 §21.4.11); a malformed body is a plain 400.
            let status = e.status();
            BodyReject {
                status,
                text: if status == 413 {
                    e.to_string()
                } else {
                    "Malformed message body".into()
                },
            }
        })?;
        let mut p = Parsed {
            sdp: sb.sdp().map(<[u8]>::to_vec),
            isup: None,
        };
        if let Some(part) = sb.isup() {
            let pc = &self.peers[peer].cfg;
            let supported = self.peers[peer].encapsulates()
                && (part
                    .base
                    .as_deref()
                    .is_some_and(|b| b.eq_ignore_ascii_case("itu-t92+"))
                    || part
                        .version
                        .as_deref()
                        .is_some_and(|v| v.eq_ignore_ascii_case(&pc.isup_version)));
            let required = part.handling == Handling::Required;
            if !supported {
                if required {
                    return Err(BodyReject {
                        status: 415,
                        text: "Unsupported ISUP version".into(),
                    });
                }
            } else {
                match Message::parse(part.data) {
                    Ok(m) => p.isup = Some(m),
                    Err(_) if required => {
                        return Err(BodyReject {
                            status: 400,
                            text: "Malformed ISUP body".into(),
                        });
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(p)
    }

    /// An error response; `warning` is (code, text) (RFC 3261 §20.43).
    fn error_response(
        &mut self,
        req: &Request,
        status: u16,
        warning: Option<(u16, &str)>,
        cause: Option<u8>,
        peer: Option<usize>,
    ) -> Response {
        let tag = self.ids.tag();
        let mut r = Response::for_request(req, status, Some(&tag));
        if status == 415 {
            // RFC 3204 §5 / RFC 3261 §21.4.13: list what we accept, with the ISUP version we
            // understand when this peer may send ISUP at all.
            let isup = peer
                .filter(|p| self.peers[*p].encapsulates())
                .map(|p| {
                    format!(
                        ", application/ISUP;version={};base=itu-t92+, multipart/mixed",
                        self.peers[p].cfg.isup_version
                    )
                })
                .unwrap_or_default();
            r.headers
                .push(Hdr::Accept, &format!("application/sdp{isup}"));
        }
        if status == 405 {
            r.headers.push(Hdr::Allow, ALLOW);
        }
        if status == 420 {
            r.headers.push(Hdr::Unsupported, "100rel");
        }
        if let Some((code, text)) = warning {
            r.headers
                .push(Hdr::Warning, &Warning::new(code, AGENT, text).to_string());
        }
        if let Some(c) = cause {
            r.headers.push(
                Hdr::Reason,
                &Reason::q850(c, Some(cause_text(c)).filter(|t| !t.is_empty())).to_string(),
            );
        }
        r
    }

    fn reject(&mut self, req: &Request, status: u16, warning: Option<&str>, cause: Option<u8>) {
        let r = self.error_response(req, status, warning.map(|w| (399, w)), cause, None);
        self.out.push(Action::SendResponse(r));
    }

    /// Refuse a new INVITE before a call exists; the refusal still gets a call record.
    #[allow(clippy::too_many_arguments)]
    fn reject_invite(
        &mut self,
        _now: Duration,
        req: &Request,
        peer: Option<usize>,
        status: u16,
        warning: Option<(u16, &str)>,
        cause: Option<u8>,
        outcome: Outcome,
    ) {
        let r = self.error_response(req, status, warning, cause, peer);
        self.out.push(Action::SendResponse(r));
        let cause = cause
            .or_else(|| peer.and_then(|p| self.peers[p].causes.sip_to_isup(status, None)))
            .unwrap_or(127);
        // SIP bridging as for an accepted INVITE: an IAM encapsulated by a peer we take ISUP from.
        let bridged = peer.is_some_and(|p| self.peers[p].encapsulates())
            && SipBody::parse_limited(&req.headers, &req.body, &self.body_limits).is_ok_and(|b| {
                b.isup()
                    .is_some_and(|part| part.data.first() == Some(&MessageType::IAM.0))
            });
        let id = self.next_call;
        self.next_call += 1;
        self.out.push(Action::CallRecord(CallRecord {
            call: id,
            model: CallModel::IpOrigination,
            circuit: None,
            call_id: req.headers.call_id().unwrap_or_default().to_string(),
            outcome,
            cause,
            sip_status: Some(status),
            setup_time: None,
            answer_time: None,
            duration: None,
            bridged,
            // Refused before the call existed: the gateway decided.
            released_by: ReleaseSide::Gateway,
        }));
    }

    fn on_request(
        &mut self,
        now: Duration,
        req: Request,
        peer: Option<String>,
        pool: &mut dyn CircuitPool,
    ) {
        let Ok(call_id) = req.headers.call_id().map(str::to_string) else {
            return;
        };
        let to_tag = req
            .headers
            .to()
            .ok()
            .and_then(|t| t.tag().map(str::to_string));
        let existing = self.by_call_id.get(&call_id).copied();
        match (&req.method, existing) {
            (Method::Invite, None) if to_tag.is_none() => self.on_invite(now, req, peer, pool),
            (Method::Invite, Some(_)) if to_tag.is_none() => {
                // Same Call-ID, new INVITE without To tag: a retransmission the transaction
                // layer let through, or a loop (RFC 3261 §8.2.2.2).
                if let Some(c) = self.take_by_call_id(&call_id) {
                    let same = c.invite.headers.cseq().ok() == req.headers.cseq().ok();
                    if !same {
                        self.reject(&req, 482, None, None);
                    }
                    self.put(now, c);
                }
            }
            (Method::Ack, None) => {}
            (Method::Options, None) if to_tag.is_none() => {
                let mut r = Response::for_request(&req, 200, Some(&self.ids.tag()));
                r.headers.push(Hdr::Allow, ALLOW);
                r.headers.push(
                    Hdr::Accept,
                    "application/sdp, application/ISUP, multipart/mixed",
                );
                r.headers.push(Hdr::Supported, "100rel");
                self.out.push(Action::SendResponse(r));
            }
            (_, None) => {
                // RFC 3261 §12.2.2, §15.1.2: a request of a dialog that does not exist (a To
                // tag, or a method that only lives in a dialog: BYE, PRACK, UPDATE, INFO) gets
                // 481; any other method out of a dialog is one the gateway does not take (405).
                let in_dialog_only = matches!(
                    req.method,
                    Method::Bye | Method::Cancel | Method::Prack | Method::Update | Method::Info
                );
                let st = if to_tag.is_none() && !in_dialog_only {
                    405
                } else {
                    481
                };
                self.reject(&req, st, None, None);
            }
            (_, Some(id)) => {
                let Some(mut c) = self.take(id) else { return };
                self.on_in_dialog(now, &mut c, req, to_tag);
                self.put(now, c);
            }
        }
    }

    /// Out-of-dialog INVITE: IP origination, or SIP bridging with an encapsulated IAM.
    fn on_invite(
        &mut self,
        now: Duration,
        req: Request,
        peer: Option<String>,
        pool: &mut dyn CircuitPool,
    ) {
        let Some(peer_i) = self.resolve_peer(&req, peer.as_deref()) else {
            self.reject_invite(
                now,
                &req,
                None,
                403,
                Some((399, "Unknown peer")),
                Some(21),
                Outcome::Failed,
            );
            return;
        };
        if self.overloaded() {
            // RFC 3261 §21.5.4 / §20.33: 503 with Retry-After; the Reason carries cause 42.
            self.reject_invite(
                now,
                &req,
                Some(peer_i),
                503,
                Some((399, "Overload")),
                Some(msgs::CAUSE_SWITCHING_EQUIPMENT_CONGESTION),
                Outcome::Failed,
            );
            let after = self.retry_after_s.to_string();
            if let Some(r) = self.out.iter_mut().rev().find_map(|a| match a {
                Action::SendResponse(r) => Some(r),
                _ => None,
            }) {
                r.headers.push(Hdr::RetryAfter, &after);
            }
            return;
        }
        let pc = self.peers[peer_i].cfg.clone();
        let Some(tg_i) = self.tgs.iter().position(|t| t.name == pc.trunk_group) else {
            self.reject_invite(
                now,
                &req,
                Some(peer_i),
                500,
                None,
                Some(127),
                Outcome::Failed,
            );
            return;
        };
        let tg = self.tgs[tg_i].clone();
        // RFC 3262 §4: Require: 100rel we do not use → 420.
        if req.headers.has_option(Hdr::Require, "100rel") && !pc.reliable_provisional {
            self.reject_invite(now, &req, Some(peer_i), 420, None, None, Outcome::Failed);
            return;
        }
        let parsed = match self.parse_body(peer_i, &req.headers, &req.body) {
            Ok(p) => p,
            Err(e) => {
                self.reject_invite(
                    now,
                    &req,
                    Some(peer_i),
                    e.status,
                    Some((399, e.text.as_str())),
                    None,
                    Outcome::Failed,
                );
                return;
            }
        };
        let enc_iam = parsed.isup.filter(|m| m.message_type == MessageType::IAM);
        // Called party: the Request-URI wins over the encapsulated IAM (RFC 3372 §6, headers
        // authoritative for routing).
        let Some((noa, digits)) = number::to_isup(&req.uri, &tg.country_code) else {
            let st = self.peers[peer_i].causes.isup_to_sip(1, None);
            self.reject_invite(
                now,
                &req,
                Some(peer_i),
                st,
                Some((399, "Request-URI is not a telephone number")),
                Some(1),
                Outcome::Rejected,
            );
            return;
        };
        // SDP offer (RFC 3264 §6): codecs must overlap before a circuit is seized.
        let ours = StaticMediaGateway::codecs(&tg);
        let answer_codecs = match parsed.sdp.as_deref().map(SessionDescription::parse) {
            None => ours.clone(),
            Some(Err(_)) => {
                self.reject_invite(
                    now,
                    &req,
                    Some(peer_i),
                    400,
                    Some((399, "Malformed SDP")),
                    None,
                    Outcome::Failed,
                );
                return;
            }
            Some(Ok(offer)) => match SessionDescription::answer_codecs(&offer.codecs, &ours) {
                Some(c) => c,
                None => {
                    // RFC 3264 §6 / RFC 3261 §21.4.26: 488 with Warning 305; cause 65.
                    let st = self.peers[peer_i].causes.isup_to_sip(65, None);
                    self.reject_invite(
                        now,
                        &req,
                        Some(peer_i),
                        st,
                        Some((305, "Incompatible media format")),
                        Some(65),
                        Outcome::Failed,
                    );
                    return;
                }
            },
        };
        let mut c = self.new_call(now, CallModel::IpOrigination, tg_i, peer_i);
        c.bridged = enc_iam.is_some();
        c.call_id = req.headers.call_id().unwrap_or_default().to_string();
        c.local_tag = self.ids.tag();
        c.invite = req.clone();
        c.codecs = answer_codecs;
        let dialog = match Dialog::uas(&req, &c.local_tag, self.local.contact(None)) {
            Ok(d) => d,
            Err(_) => {
                self.reject_invite(
                    now,
                    &req,
                    Some(peer_i),
                    400,
                    Some((399, "Missing Contact or From tag")),
                    None,
                    Outcome::Failed,
                );
                return;
            }
        };
        c.dialog = Some(dialog);
        // A circuit the pool hands out while a call still holds it (pool out of step) is
        // treated as no circuit: it comes back with that call's CircuitIdle.
        let Some(circuit) = pool
            .seize(&tg.name)
            .filter(|c| !self.by_circuit.contains_key(c))
        else {
            // No circuit: cause 34 → 503 (RFC 3398 §8.2.6.1).
            let st = self.peers[peer_i].causes.isup_to_sip(34, None);
            self.reject_invite(now, &req, Some(peer_i), st, None, Some(34), Outcome::Failed);
            return;
        };
        let Some(media) = self.media.allocate(&tg, circuit.cic) else {
            pool.release(circuit);
            let st = self.peers[peer_i].causes.isup_to_sip(47, None);
            self.reject_invite(now, &req, Some(peer_i), st, None, Some(47), Outcome::Failed);
            return;
        };
        attach_media(&mut c, media);
        c.circuit = Some(circuit);
        if pc.reliable_provisional
            && (req.headers.has_option(Hdr::Supported, "100rel")
                || req.headers.has_option(Hdr::Require, "100rel"))
        {
            c.reliable = Some(Box::new(ReliableProvisional::new(
                self.ids.rseq(),
                TimerConfig::default(),
            )));
        }
        let iam = self.build_iam(&req, &tg, peer_i, noa, digits, enc_iam);
        c.iam = Some(iam.clone());
        self.by_circuit.insert(circuit, c.id);
        self.by_call_id.insert(c.call_id.clone(), c.id);
        self.send_isup(&c, iam);
        // Q.764 §2.1.4: T7 from the IAM until ACM/CON.
        self.start(&mut c, TimerKind::T7, self.timers.t7);
        self.put(now, c);
    }

    /// The IAM toward the PSTN: the encapsulated one (transparency) with the fields SIP headers
    /// changed overwritten, or RFC 3398 §7.2.1 defaults.
    fn build_iam(
        &self,
        req: &Request,
        tg: &TrunkGroupConfig,
        peer: usize,
        noa: u8,
        digits: isup::Digits,
        enc: Option<Message>,
    ) -> Message {
        let called = number::called_party(noa, digits.clone(), tg.append_st);
        let (calling, generic) = self.calling_from_sip(req, tg, peer);
        // RFC 5806 Diversion → redirecting number, original called number, redirection info.
        let diversions: Vec<NameAddr> = req
            .headers
            .get_named("Diversion")
            .flat_map(|v| NameAddr::parse_list(v).unwrap_or_default())
            .collect();
        let redirection = crate::diversion::to_isup(&diversions, &tg.country_code);
        let Some(mut iam) = enc else {
            let mut iam = msgs::iam(tg.international, tg.echo_control, called, calling);
            if let Some(g) = generic {
                iam = iam.with(g);
            }
            if let Some((rn, ocn, info)) = redirection {
                iam = iam.with(rn).with(ocn).with(info);
            }
            return iam;
        };
        if let Some((rn, ocn, info)) = redirection {
            // Keep the encapsulated redirection if it has its own (transparency).
            if iam.find(isup::ParameterCode::REDIRECTING_NUMBER).is_none() {
                iam.set(rn);
                iam.set(ocn);
                iam.set(info);
            }
        }
        if let Some(g) = generic {
            // Generic number may repeat with other qualifiers: replace only qualifier 6.
            let at = iam.parameters.iter().position(|p| {
                matches!(p.to_typed(), Some(isup::Parameter::GenericNumber(x))
                    if x.number_qualifier_indicator == Some(6))
            });
            match at {
                Some(i) => iam.parameters[i] = g.into(),
                None => iam.parameters.push(g.into()),
            }
        }
        // Headers win where they changed: compare as E.164.
        let cc = &tg.country_code;
        let same_number = |a: Option<(u8, &isup::Digits)>, b: (u8, &isup::Digits)| {
            a.is_some_and(|a| {
                number::from_isup(a.0, a.1, cc, &tg.area_code)
                    == number::from_isup(b.0, b.1, cc, &tg.area_code)
            })
        };
        let enc_called = msgs::typed::<CalledPartyNumber>(&iam);
        if !same_number(
            enc_called
                .as_ref()
                .map(|n| (n.nature_of_address, &n.digits)),
            (noa, &digits),
        ) {
            iam.set(called);
        }
        if let Some(cg) = calling {
            let enc_calling = msgs::typed::<CallingPartyNumber>(&iam);
            let same = same_number(
                enc_calling
                    .as_ref()
                    .map(|n| (n.nature_of_address, &n.digits)),
                (cg.nature_of_address, &cg.digits),
            ) && enc_calling.as_ref().map(|n| n.presentation) == Some(cg.presentation);
            if !same && !cg.digits.is_empty() {
                iam.set(cg);
            }
        }
        // The IP leg cannot loop continuity tones: no check on this circuit (RFC 3398 §7.2.1,
        // Q.764 §2.1.8), whatever the preceding network asked for.
        if let Some(nci) = iam.get_mut::<isup::NatureOfConnectionIndicators>() {
            nci.continuity_check_indicator = 0;
        }
        // Q.764 §2.19: the hop counter is decremented at each transit (0 stays 0).
        if let Some(h) = iam.get_mut::<HopCounter>() {
            h.hop_counter = h.hop_counter.saturating_sub(1);
        }
        iam
    }

    /// Calling party number from P-Asserted-Identity (trusted peers) or From
    /// (RFC 3398 §7.2.1.2, RFC 3325 §9.1, sip-isup-mapping.md §5.1).
    fn calling_from_sip(
        &self,
        req: &Request,
        tg: &TrunkGroupConfig,
        peer: usize,
    ) -> (Option<CallingPartyNumber>, Option<isup::GenericNumber>) {
        let h = &req.headers;
        let privacy = h.privacy().unwrap_or_default();
        let restricted = privacy
            .iter()
            .any(|p| matches!(p.to_ascii_lowercase().as_str(), "id" | "header" | "user"));
        let presentation = if restricted {
            apri::RESTRICTED
        } else {
            apri::ALLOWED
        };
        let from = h
            .from()
            .ok()
            .filter(|f| !number::is_anonymous(&f.uri))
            .and_then(|f| number::to_isup(&f.uri, &tg.country_code));
        let pai = self.peers[peer]
            .cfg
            .trusted
            .then(|| {
                h.p_asserted_identity()
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|n| number::to_isup(&n.uri, &tg.country_code))
            })
            .flatten();
        if let Some(pai) = pai {
            // RFC 3325 §9.1 (trusted): the asserted identity is network provided. A different
            // From number travels as generic number "additional calling party number"
            // (qualifier 6, user provided not verified) [sip-isup-mapping.md §5.1, mem].
            let generic = from.filter(|f| *f != pai).map(|(noa, d)| {
                let mut g = isup::GenericNumber::new(noa, number::NPI_E164, d);
                g.number_qualifier_indicator = Some(6);
                g.presentation = Some(presentation);
                g.screening = Some(screening::USER_PROVIDED_NOT_VERIFIED);
                g.number_incomplete_indicator = Some(0);
                g
            });
            let cg = number::calling_party(pai.0, pai.1, presentation, screening::NETWORK_PROVIDED);
            return (Some(cg), generic);
        }
        let cg = match from {
            Some((noa, d)) => {
                number::calling_party(noa, d, presentation, screening::USER_PROVIDED_NOT_VERIFIED)
            }
            None => number::calling_party_not_available(),
        };
        (Some(cg), None)
    }

    /// A response to the INVITE we are serving (IP origination), with SDP answer and ISUP.
    fn uas_response(
        &mut self,
        c: &mut Call,
        status: u16,
        with_sdp: bool,
        isup: Option<&Message>,
    ) -> Response {
        let mut r = Response::for_request(&c.invite, status, Some(&c.local_tag));
        r.headers
            .push(Hdr::Contact, &self.local.contact(None).to_string());
        if status == 200 {
            r.headers.push(Hdr::Allow, ALLOW);
        }
        let sdp = if with_sdp {
            c.media.as_ref().map(|m| {
                SessionDescription {
                    address: m.address.clone(),
                    port: m.port,
                    codecs: c.codecs.clone(),
                    ptime: Some(m.ptime),
                }
                .to_bytes(session_id(c), c.sdp_version)
            })
        } else {
            None
        };
        let pc = &self.peers[c.peer];
        let isup = isup
            .filter(|_| pc.encapsulates())
            .and_then(|m| m.to_bytes().ok());
        set_body_resp(&mut r, &pc.cfg, sdp, isup.as_deref());
        r
    }

    fn send_uas_provisional(&mut self, c: &mut Call, resp: Response, with_sdp: bool) {
        if c.sip != SipState::Trying {
            return;
        }
        let Some(rel) = c.reliable.as_mut() else {
            self.out.push(Action::SendResponse(resp));
            return;
        };
        if !rel.can_send() {
            c.queued.push_back(resp);
            return;
        }
        if let Some(acts) = rel.send(resp) {
            c.reliable_with_sdp = with_sdp;
            self.ua_actions(c, acts);
        }
    }

    fn ua_actions(&mut self, c: &mut Call, acts: Vec<UaAction>) {
        for a in acts {
            match a {
                UaAction::Send(r) => self.out.push(Action::SendResponse(r)),
                UaAction::StartTimer(d) => {
                    self.stop(c, TimerKind::Rel1xx);
                    self.start(c, TimerKind::Rel1xx, d);
                }
                UaAction::StopTimer => self.stop(c, TimerKind::Rel1xx),
                UaAction::GiveUp => {}
            }
        }
    }

    fn on_in_dialog(&mut self, now: Duration, c: &mut Call, req: Request, to_tag: Option<String>) {
        // In-dialog requests must carry our tag in To (CANCEL and ACK for errors may not).
        let ours = to_tag.as_deref() == Some(c.local_tag.as_str());
        match req.method {
            Method::Cancel => self.on_cancel(now, c, req),
            Method::Ack => {}
            _ if !ours => self.reject(&req, 481, None, None),
            Method::Bye => {
                if let Some(d) = c.dialog.as_mut() {
                    let _ = d.on_request(&req);
                }
                let mut ok = Response::for_request(&req, 200, None);
                ok.headers.remove(Hdr::Contact);
                self.out.push(Action::SendResponse(ok));
                if c.model == CallModel::IpOrigination && c.sip == SipState::Trying {
                    // BYE in an early dialog (RFC 3261 §15): the INVITE is terminated too.
                    self.stop(c, TimerKind::Rel1xx);
                    c.queued.clear();
                    let r = Response::for_request(&c.invite, 487, Some(&c.local_tag));
                    self.out.push(Action::SendResponse(r));
                    c.final_status = Some(487);
                }
                let enc = self
                    .parse_body(c.peer, &req.headers, &req.body)
                    .ok()
                    .and_then(|p| p.isup);
                // Precedence (sip-isup-mapping.md §4.3): encapsulated REL > Reason > 16.
                let cause = enc
                    .as_ref()
                    .filter(|m| m.message_type == MessageType::REL)
                    .and_then(msgs::cause_of)
                    .map(|x| x.0)
                    .or_else(|| reason_cause(&req.headers))
                    .unwrap_or(16);
                let o = if c.answered.is_some() {
                    Outcome::Answered
                } else {
                    Outcome::Abandoned
                };
                Self::set_outcome(c, o, cause);
                c.sip = SipState::Done;
                self.release_isup(c, cause, LOCATION_BI, enc);
            }
            Method::Info => self.on_info(c, req),
            Method::Prack => {
                let matched = match c.reliable.as_mut() {
                    Some(r) => {
                        let (ok, acts) = r.on_prack(&req);
                        self.ua_actions(c, acts);
                        ok
                    }
                    None => false,
                };
                if matched {
                    self.out
                        .push(Action::SendResponse(Response::for_request(&req, 200, None)));
                    // Next queued response (RFC 3262 §3: one reliable 18x outstanding at a time).
                    while let Some(r) = c.queued.pop_front() {
                        if r.status < 200 {
                            let sdp = r.headers.get(Hdr::ContentType).is_some();
                            self.send_uas_provisional(c, r, sdp);
                            break;
                        }
                        if r.is_success() {
                            hold(c);
                        }
                        self.out.push(Action::SendResponse(r));
                    }
                } else {
                    self.reject(&req, 481, None, None);
                }
            }
            Method::Invite | Method::Update => self.on_refresh(c, req),
            _ => self.reject(&req, 501, None, None),
        }
    }

    /// re-INVITE / UPDATE: answer with the same media (no media change is supported yet).
    fn on_refresh(&mut self, c: &mut Call, req: Request) {
        let parsed = match self.parse_body(c.peer, &req.headers, &req.body) {
            Ok(p) => p,
            Err(e) => {
                self.reject(&req, e.status, Some(&e.text), None);
                return;
            }
        };
        if let Some(d) = c.dialog.as_mut() {
            let _ = d.on_request(&req);
        }
        let mut r = Response::for_request(&req, 200, None);
        r.headers
            .push(Hdr::Contact, &self.local.contact(None).to_string());
        if let Some(offer) = parsed.sdp.as_deref() {
            let ok = SessionDescription::parse(offer)
                .ok()
                .and_then(|o| SessionDescription::answer_codecs(&o.codecs, &c.codecs));
            let (Some(codecs), Some(m)) = (ok, c.media.as_ref()) else {
                self.reject(&req, 488, Some("Incompatible media format"), None);
                return;
            };
            c.sdp_version += 1;
            let sdp = SessionDescription {
                address: m.address.clone(),
                port: m.port,
                codecs,
                ptime: Some(m.ptime),
            }
            .to_bytes(session_id(c), c.sdp_version);
            r.set_body(Some("application/sdp"), sdp);
        }
        self.out.push(Action::SendResponse(r));
    }

    fn on_info(&mut self, c: &mut Call, req: Request) {
        match self.parse_body(c.peer, &req.headers, &req.body) {
            Err(e) => self.reject(&req, e.status, Some(&e.text), None),
            Ok(p) => {
                self.out
                    .push(Action::SendResponse(Response::for_request(&req, 200, None)));
                // RFC 3372 §5.3: INFO carries mid-call ISUP; sent on the circuit as received.
                if let Some(m) = p.isup.filter(|m| msgs::is_mid_call(m.message_type)) {
                    if matches!(c.isup, IsupState::Setup | IsupState::Answered) {
                        self.send_isup(c, m);
                    }
                }
            }
        }
    }

    fn on_cancel(&mut self, _now: Duration, c: &mut Call, req: Request) {
        let same_seq =
            req.headers.cseq().ok().map(|x| x.seq) == c.invite.headers.cseq().ok().map(|x| x.seq);
        if c.model != CallModel::IpOrigination || !same_seq {
            self.reject(&req, 481, None, None);
            return;
        }
        // RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE if still pending.
        self.out.push(Action::SendResponse(Response::for_request(
            &req,
            200,
            Some(&c.local_tag),
        )));
        if c.sip != SipState::Trying {
            return;
        }
        let mut r = Response::for_request(&c.invite, 487, Some(&c.local_tag));
        if let Some(rc) = req.headers.get(Hdr::Reason) {
            r.headers.push(Hdr::Reason, rc);
        }
        self.stop(c, TimerKind::Rel1xx);
        c.queued.clear();
        self.out.push(Action::SendResponse(r));
        c.final_status = Some(487);
        c.sip = SipState::Done;
        let enc = self
            .parse_body(c.peer, &req.headers, &req.body)
            .ok()
            .and_then(|p| p.isup)
            .filter(|m| m.message_type == MessageType::REL);
        let cause = enc
            .as_ref()
            .and_then(msgs::cause_of)
            .map(|x| x.0)
            .or_else(|| reason_cause(&req.headers))
            .unwrap_or(cancel_cause(self.peers[c.peer].causes.profile));
        Self::set_outcome(c, Outcome::Abandoned, cause);
        self.release_isup(c, cause, LOCATION_BI, enc);
    }

    fn on_response(&mut self, now: Duration, resp: Response) {
        let Ok(call_id) = resp.headers.call_id().map(str::to_string) else {
            return;
        };
        let Ok(cseq) = resp.headers.cseq() else {
            return;
        };
        let Some(mut c) = self.take_by_call_id(&call_id) else {
            return;
        };
        if c.model == CallModel::PstnOrigination && cseq.method == Method::Invite {
            self.on_invite_response(now, &mut c, resp);
        }
        self.put(now, c);
    }

    /// Responses to our INVITE (RFC 3398 §8.2.2-8.2.6).
    fn on_invite_response(&mut self, now: Duration, c: &mut Call, resp: Response) {
        let st = resp.status;
        if st == 100 {
            return;
        }
        let tag = resp
            .headers
            .to()
            .ok()
            .and_then(|t| t.tag().map(str::to_string));
        let parsed = self
            .parse_body(c.peer, &resp.headers, &resp.body)
            .unwrap_or_default();
        if st < 200 {
            if let Some(t) = &tag {
                if c.dialog.is_none() {
                    c.dialog = Dialog::uac(&c.invite, &resp, self.local.contact(None)).ok();
                }
                if requires_100rel(&resp) {
                    let branch = self.ids.branch();
                    let Some(d) = c.dialog.as_mut().filter(|d| &d.id.remote_tag == t) else {
                        return;
                    };
                    match d.prack_for(&resp, &self.local) {
                        Ok(Some(mut prack)) => {
                            prack
                                .headers
                                .set(Hdr::Via, &self.local.via(&branch).to_string());
                            self.send_request(c, prack);
                        }
                        // Retransmission or out of order: not passed up (RFC 3262 §4).
                        _ => return,
                    }
                }
            }
            c.provisional_received = true;
            if let Some(cause) = c.cancel_pending {
                let rel = c.cancel_rel.take();
                self.send_cancel(c, cause, rel.as_deref());
                return;
            }
            if c.isup != IsupState::Setup {
                return;
            }
            if c.progressed.is_none() {
                c.progressed = Some(now);
            }
            let sdp = parsed.sdp.is_some();
            let enc = parsed.isup;
            let msg = if !c.acm {
                match enc.filter(|m| m.message_type == MessageType::ACM) {
                    Some(m) => m,
                    None if st == 180 => msgs::acm(msgs::status::SUBSCRIBER_FREE, sdp),
                    None => msgs::acm(msgs::status::NO_INDICATION, sdp),
                }
            } else {
                match enc.filter(|m| m.message_type == MessageType::CPG) {
                    Some(m) => m,
                    None => match st {
                        180 => msgs::cpg(msgs::event::ALERTING, sdp),
                        181 => msgs::cpg(msgs::event::FORWARDED_UNCONDITIONAL, sdp),
                        _ if sdp => msgs::cpg(msgs::event::IN_BAND, true),
                        _ => msgs::cpg(msgs::event::PROGRESS, false),
                    },
                }
            };
            c.acm = true;
            self.stop(c, TimerKind::T11);
            self.send_isup(c, msg);
            return;
        }
        if st < 300 {
            let confirmed_tag = c
                .dialog
                .as_ref()
                .filter(|_| c.sip == SipState::Confirmed || c.sip == SipState::Done)
                .map(|d| d.id.remote_tag.clone());
            let invite_seq = c.invite.headers.cseq().map(|x| x.seq).unwrap_or(1);
            // A 2xx from another fork, or after we gave up: ACK and BYE it (RFC 3261 §13.2.2.4).
            let fork = confirmed_tag.is_some() && confirmed_tag != tag;
            if fork
                || (c.sip != SipState::Trying
                    && c.sip != SipState::Cancelling
                    && confirmed_tag.is_none())
                || c.sip == SipState::Cancelling
            {
                if let Ok(mut d) = Dialog::uac(&c.invite, &resp, self.local.contact(None)) {
                    let b1 = self.ids.branch();
                    let mut ack = d.ack(invite_seq, &self.local);
                    ack.headers.set(Hdr::Via, &self.local.via(&b1).to_string());
                    self.send_request(c, ack);
                    let b2 = self.ids.branch();
                    let mut bye = d.new_request(Method::Bye, &self.local);
                    bye.headers.set(Hdr::Via, &self.local.via(&b2).to_string());
                    if let Some((_, cause)) = c.outcome {
                        bye.headers
                            .push(Hdr::Reason, &Reason::q850(cause, None).to_string());
                    }
                    self.send_request(c, bye);
                }
                if c.sip == SipState::Cancelling {
                    c.sip = SipState::Done;
                    c.final_status = Some(st);
                }
                return;
            }
            if confirmed_tag.is_some() {
                // 2xx retransmission: ACK again (RFC 3261 §13.2.2.4).
                if let Some(d) = c.dialog.as_ref() {
                    let b = self.ids.branch();
                    let mut ack = d.ack(invite_seq, &self.local);
                    ack.headers.set(Hdr::Via, &self.local.via(&b).to_string());
                    self.send_request(c, ack);
                }
                return;
            }
            let Ok(mut d) = Dialog::uac(&c.invite, &resp, self.local.contact(None)) else {
                // No Contact: the dialog cannot be used; release (RFC 3261 §12.1.2).
                c.sip = SipState::Done;
                c.final_status = Some(st);
                self.release_isup(c, 111, LOCATION_TN, None);
                Self::set_outcome(c, Outcome::Failed, 111);
                return;
            };
            if let Some(old) = c
                .dialog
                .as_ref()
                .filter(|o| o.id.remote_tag == d.id.remote_tag)
            {
                d.last_rseq = old.last_rseq;
            }
            let b = self.ids.branch();
            let mut ack = d.ack(invite_seq, &self.local);
            ack.headers.set(Hdr::Via, &self.local.via(&b).to_string());
            self.send_request(c, ack);
            c.dialog = Some(d);
            c.final_status = Some(st);
            hold(c);
            // RFC 3264 §5: the answer must use a format we offered.
            if let Some(sdp) = parsed.sdp.as_deref() {
                let ok = SessionDescription::parse(sdp)
                    .ok()
                    .and_then(|a| SessionDescription::answer_codecs(&a.codecs, &c.codecs));
                if ok.is_none() {
                    Self::set_outcome(c, Outcome::Failed, 65);
                    self.release_both(now, c, 65, LOCATION_TN, Outcome::Failed);
                    return;
                }
            }
            if c.isup != IsupState::Setup {
                return;
            }
            let enc = parsed.isup;
            let msg = match enc.filter(|m| {
                (m.message_type == MessageType::ANM && c.acm)
                    || (m.message_type == MessageType::CON && !c.acm)
            }) {
                Some(m) => m,
                None if c.acm => msgs::anm(),
                None => msgs::con(),
            };
            self.stop(c, TimerKind::T11);
            self.send_isup(c, msg);
            c.acm = true;
            c.isup = IsupState::Answered;
            c.answered = Some(now);
            if c.progressed.is_none() {
                c.progressed = Some(now);
            }
            return;
        }
        // 3xx-6xx (RFC 3398 §8.2.6): REL with the encapsulated cause, Reason, or the table.
        let was = c.sip;
        c.sip = SipState::Done;
        c.final_status = Some(st);
        if was == SipState::Cancelling || c.isup != IsupState::Setup {
            return;
        }
        let enc = parsed.isup.filter(|m| m.message_type == MessageType::REL);
        let warning = resp
            .headers
            .warning()
            .ok()
            .and_then(|w| w.first().map(|w| w.code));
        let cause = enc
            .as_ref()
            .and_then(msgs::cause_of)
            .map(|x| x.0)
            .or_else(|| reason_cause(&resp.headers))
            .or_else(|| self.peers[c.peer].causes.sip_to_isup(st, warning))
            .unwrap_or(127);
        Self::set_outcome(c, Self::refusal(cause), cause);
        self.release_isup(c, cause, LOCATION_BI, enc);
    }

    fn on_timeout(&mut self, now: Duration, call_id: &str, method: Method) {
        let Some(mut c) = self.take_by_call_id(call_id) else {
            return;
        };
        match method {
            Method::Invite if c.model == CallModel::PstnOrigination => {
                // Timer B ≙ 408 → cause 102 (sip-isup-mapping.md §6).
                let was = c.sip;
                c.sip = SipState::Done;
                if was == SipState::Trying {
                    c.final_status = Some(408);
                    Self::set_outcome(&mut c, Outcome::Failed, 102);
                    self.release_isup(&mut c, 102, LOCATION_TN, None);
                }
            }
            Method::Ack if c.model == CallModel::IpOrigination && c.sip == SipState::Confirmed => {
                // RFC 3261 §13.3.1.4: no ACK for our 2xx within 64·T1 → BYE; REL 102.
                self.release_both(now, &mut c, 102, LOCATION_TN, Outcome::Failed);
            }
            Method::Bye | Method::Cancel | Method::Info | Method::Prack => {
                if c.sip == SipState::Cancelling && method == Method::Cancel {
                    c.sip = SipState::Done;
                }
                if method == Method::Info || method == Method::Prack {
                    // The peer is gone: release the call (cause 102).
                    if c.sip == SipState::Confirmed {
                        self.release_both(now, &mut c, 102, LOCATION_TN, Outcome::Failed);
                    }
                }
            }
            _ => {}
        }
        self.put(now, c);
    }

    fn on_timer(&mut self, now: Duration, k: TimerKey) {
        let Some(mut c) = self.take(k.call) else {
            return;
        };
        if let Some(i) = c.timers.iter().position(|t| *t == k.timer) {
            c.timers.swap_remove(i);
        } else {
            // Stopped already (a stale expiry the runtime could not cancel).
            self.put(now, c);
            return;
        }
        match k.timer {
            TimerKind::T7 if c.isup == IsupState::Setup && !c.acm => {
                // Q.764 §2.1.4: T7 expiry → release, cause 102; SIP: 504 (cause 102).
                self.release_both(now, &mut c, 102, LOCATION_TN, Outcome::Failed);
            }
            TimerKind::T2 | TimerKind::T6 if c.isup == IsupState::Answered => {
                // Q.764 §2.5.1.1-2: no RES within T2/T6: the controlling exchange releases.
                self.release_both(now, &mut c, 102, LOCATION_TN, Outcome::Failed);
            }
            TimerKind::T9 if c.isup == IsupState::Setup => {
                // Q.118 T9: no answer → release cause 19 both ways (SIP 480).
                self.release_both(now, &mut c, 19, LOCATION_TN, Outcome::Rejected);
            }
            TimerKind::T10 if c.collecting => {
                // RFC 3578 §2: no more digits within T10: the number is taken as complete.
                c.collecting = false;
                self.try_offer(&mut c);
            }
            TimerKind::T8 if c.awaiting_cot => {
                // Q.764 §2.1.8: no COT within T8 → release (cause 41 temporary failure).
                c.awaiting_cot = false;
                c.sip = SipState::Done;
                Self::set_outcome(&mut c, Outcome::Failed, 41);
                self.release_isup(&mut c, 41, LOCATION_TN, None);
            }
            TimerKind::T11 if c.isup == IsupState::Setup && !c.acm => {
                // Q.764 §2.1.4 / T11: ACM "no indication" so the preceding exchange's T7 stops.
                c.acm = true;
                let acm = msgs::acm(msgs::status::NO_INDICATION, false);
                self.send_isup(&c, acm);
            }
            TimerKind::T1 if c.isup == IsupState::Releasing => {
                // Q.764 §2.3.1 a): re-send REL, restart T1 (T5 keeps running).
                if let Some(rel) = c.rel.clone() {
                    self.send_isup(&c, rel);
                }
                self.start(&mut c, TimerKind::T1, self.timers.t1);
            }
            TimerKind::T5 if c.isup == IsupState::Releasing => {
                // Q.764 §2.9.6 / §2.10.3: T5 → RSC, alert maintenance, stop T1, start T17.
                self.stop(&mut c, TimerKind::T1);
                self.send_isup(&c, msgs::rsc());
                if let Some(circuit) = c.circuit {
                    self.out.push(Action::MaintenanceAlert {
                        circuit,
                        reason: "T5 expired: no RLC for REL, circuit reset",
                    });
                }
                c.isup = IsupState::Resetting;
                self.start(&mut c, TimerKind::T17, self.timers.t17);
            }
            TimerKind::T17 if c.isup == IsupState::Resetting => {
                self.send_isup(&c, msgs::rsc());
                if let Some(circuit) = c.circuit {
                    self.out.push(Action::MaintenanceAlert {
                        circuit,
                        reason: "T17 expired: no RLC for RSC",
                    });
                }
                self.start(&mut c, TimerKind::T17, self.timers.t17);
            }
            TimerKind::Rel1xx => {
                let acts = c
                    .reliable
                    .as_mut()
                    .map(|r| r.on_timer())
                    .unwrap_or_default();
                let gave_up = acts.contains(&UaAction::GiveUp);
                self.ua_actions(&mut c, acts);
                if gave_up && c.sip == SipState::Trying {
                    // RFC 3262 §3: no PRACK within 64*T1 → reject the INVITE with 5xx.
                    c.queued.clear();
                    self.release_both(now, &mut c, 102, LOCATION_TN, Outcome::Failed);
                }
            }
            _ => {}
        }
        self.put(now, c);
    }
}

/// The call's media endpoint. Its formats become the call's when it has none yet (our offer,
/// PSTN origination); an IP-originated call keeps its answered formats. One list per call.
fn attach_media(c: &mut Call, mut media: MediaEndpoint) {
    let offered = std::mem::take(&mut media.codecs);
    if c.codecs.is_empty() {
        c.codecs = offered;
    }
    c.media = Some(media);
}

/// A confirmed call (RFC 3261 §13.2.2.4, §13.3.1.4) keeps of its INVITE what the dialog still
/// reads: the Request-URI and Via, From, To, Call-ID, CSeq and Route (a 2xx from another fork,
/// §12.1.2; CANCEL, §9.1; a merged request, §8.2.2.2); and of its IAM what an INF answers from
/// (Q.764 §2.1.6, `information_for`): the calling party number and category. Memory per held
/// call (docs/performance.md).
fn hold(c: &mut Call) {
    c.sip = SipState::Confirmed;
    let kept: Vec<(Hdr, &str)> = c
        .invite
        .headers
        .iter()
        .filter_map(|(name, value)| match name {
            sip::HeaderName::Known(
                h @ (Hdr::Via | Hdr::From | Hdr::To | Hdr::CallId | Hdr::CSeq | Hdr::Route),
            ) => Some((*h, value)),
            _ => None,
        })
        .collect();
    let bytes = kept.iter().map(|(_, v)| v.len()).sum();
    let mut headers = sip::Headers::with_capacity(kept.len(), bytes);
    for (h, v) in kept {
        headers.push(h, v);
    }
    let mut invite = Request::new(c.invite.method.clone(), c.invite.uri.clone());
    invite.headers = headers;
    c.invite = invite;
    if let Some(iam) = c.iam.as_mut() {
        iam.parameters.retain(|p| {
            matches!(
                p.code(),
                isup::ParameterCode::CALLING_PARTY_NUMBER
                    | isup::ParameterCode::CALLING_PARTYS_CATEGORY
            )
        });
        iam.parameters.shrink_to_fit();
        iam.raw_body = None;
    }
}

/// SDP `o=` session id (RFC 4566 §5.2: with the address, unique per session): the call's
/// circuit, DPC and CIC, since two exchanges' circuits may share a CIC and a media address.
fn session_id(c: &Call) -> u64 {
    c.circuit
        .map_or(0, |k| u64::from(k.dpc) << 16 | u64::from(k.cic))
}

/// Q.850 cause of a Reason header (RFC 3326), 1..=127.
fn reason_cause(h: &sip::Headers) -> Option<u8> {
    h.q850_cause()
        .and_then(|c| u8::try_from(c).ok())
        .filter(|c| (1..=127).contains(c))
}

fn handling(pc: &PeerConfig) -> Handling {
    match pc.isup_handling {
        IsupHandling::Optional => Handling::Optional,
        IsupHandling::Required => Handling::Required,
    }
}

/// Body of a message: SDP alone, ISUP alone, or both in multipart/mixed (RFC 3204, RFC 2046).
fn body_for(
    pc: &PeerConfig,
    sdp: Option<Vec<u8>>,
    isup: Option<&[u8]>,
) -> Option<(String, Vec<u8>, Option<String>)> {
    match (sdp, isup) {
        (None, None) => None,
        (Some(s), None) => Some(("application/sdp".into(), s, None)),
        (s, Some(i)) => Some(sip::body::build_sip_i(
            s.as_deref(),
            i,
            &pc.isup_version,
            Some("itu-t92+"),
            handling(pc),
        )),
    }
}

fn set_body_req(r: &mut Request, pc: &PeerConfig, sdp: Option<Vec<u8>>, isup: Option<&[u8]>) {
    if let Some((ct, body, disp)) = body_for(pc, sdp, isup) {
        if ct.starts_with("multipart") {
            r.headers.set(Hdr::MimeVersion, "1.0");
        }
        r.set_body(Some(&ct), body);
        if let Some(d) = disp {
            r.headers.set(Hdr::ContentDisposition, &d);
        }
    }
}

fn set_body_resp(r: &mut Response, pc: &PeerConfig, sdp: Option<Vec<u8>>, isup: Option<&[u8]>) {
    if let Some((ct, body, disp)) = body_for(pc, sdp, isup) {
        if ct.starts_with("multipart") {
            r.headers.set(Hdr::MimeVersion, "1.0");
        }
        r.set_body(Some(&ct), body);
        if let Some(d) = disp {
            r.headers.set(Hdr::ContentDisposition, &d);
        }
    }
}
