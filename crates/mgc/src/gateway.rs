//! The gateway core, sans-IO: the circuit manager and the interworking engine composed, with
//! one timer table for both and the SIP user-agent duties neither owns (2xx retransmission until
//! ACK). Inputs are decoded-enough events with a caller-given monotonic time; outputs are what
//! the runtime must put on the wire. The tokio runtime (`runtime.rs`) and the conformance runner
//! drive the same code, so what the fixtures prove is what runs.

use crate::circuits::{self, CircuitId, CircuitManager, Disposition, IamVerdict};
use isup::{MessageType, Variant};
use sip::dialog::{Retransmit2xx, UaAction};
use sip::transaction::TimerConfig;
use sip::{Method, Request, Response};
use std::collections::HashMap;
use std::time::Duration;

/// One input to the gateway.
#[derive(Debug, Clone)]
pub enum Input {
    /// M3UA DATA carrying ISUP (SI 5): user data starts with the CIC.
    Isup { opc: u32, user_data: Vec<u8> },
    /// A request from the SIP transaction layer, from the configured peer `peer`.
    SipRequest { peer: String, request: Request },
    /// A response to a request the gateway sent.
    SipResponse(Response),
    /// A client transaction ended without a final response (timer B/F, transport error).
    SipTimeout { call_id: String, method: Method },
    /// A timer started with [`Output::StartTimer`] fired.
    Timer(u64),
    /// M3UA ASP active (and the far end reachable): reset the circuits with GRS.
    TransportUp,
    /// The association is lost: calls are cleared, circuits wait for the next GRS.
    TransportDown,
    /// MTP-PAUSE / MTP-RESUME for a far-end point code (M3UA DUNA / DAVA, RFC 4666 §3.4).
    PointCode { dpc: u32, available: bool },
}

/// One thing for the runtime to do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send ISUP (CIC first) to `dpc` in M3UA DATA with this SLS.
    Isup {
        dpc: u32,
        sls: u8,
        message_type: MessageType,
        user_data: Vec<u8>,
    },
    /// Send a request to the configured peer (a client transaction; ACK is sent as is).
    SipRequest {
        peer: String,
        request: Request,
    },
    /// Send a response through the server transaction it answers (2xx retransmissions too).
    SipResponse(Response),
    StartTimer {
        id: u64,
        after: Duration,
    },
    StopTimer {
        id: u64,
    },
    /// A call ended (metrics and the CDR log come from this).
    CallRecord(iwu::CallRecord),
    /// A circuit changed its summary state (for the `circuits` gauge).
    CircuitState {
        trunk_group: String,
        from: circuits::CircuitState,
        to: circuits::CircuitState,
    },
    /// An ISUP message that could not be decoded; it was discarded (Q.764 §2.9.5).
    IsupDiscarded {
        opc: u32,
        reason: String,
    },
    /// Maintenance alert (Q.764 asks to alert maintenance personnel).
    Alert(String),
    /// Dual seizure detected on a circuit (Q.764 §2.9.1.4).
    Glare,
}

/// A timer of one of the two state machines, or a 2xx retransmission.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TimerRef {
    Call(iwu::TimerKey),
    Circuit(circuits::TimerKey),
    Retransmit2xx(String),
}

#[derive(Default)]
struct Timers {
    next: u64,
    by_id: HashMap<u64, TimerRef>,
    by_ref: HashMap<TimerRef, u64>,
}

impl Timers {
    /// (Re)start: a running timer is replaced (its old id is stopped).
    fn start(&mut self, r: TimerRef, after: Duration, out: &mut Vec<Output>) {
        self.stop(&r, out);
        self.next += 1;
        let id = self.next;
        self.by_id.insert(id, r.clone());
        self.by_ref.insert(r, id);
        out.push(Output::StartTimer { id, after });
    }

    fn stop(&mut self, r: &TimerRef, out: &mut Vec<Output>) {
        if let Some(id) = self.by_ref.remove(r) {
            self.by_id.remove(&id);
            out.push(Output::StopTimer { id });
        }
    }

    fn fired(&mut self, id: u64) -> Option<TimerRef> {
        let r = self.by_id.remove(&id)?;
        self.by_ref.remove(&r);
        Some(r)
    }

    fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// The circuit manager seen by the engine as its circuit pool.
struct Pool<'a> {
    circuits: &'a mut CircuitManager,
}

impl iwu::CircuitPool for Pool<'_> {
    fn seize(&mut self, trunk_group: &str) -> Option<CircuitId> {
        let g = self.circuits.group(trunk_group)?;
        self.circuits.seize_outgoing(g)
    }

    fn release(&mut self, circuit: CircuitId) {
        self.circuits.call_released(circuit);
    }
}

/// Circuits + interworking + timers.
pub struct Gateway {
    engine: iwu::Engine,
    circuits: CircuitManager,
    variant: &'static Variant,
    timers: Timers,
    sip_timers: TimerConfig,
    /// 2xx to INVITE being retransmitted until ACK, by Call-ID.
    retransmit: HashMap<String, Retransmit2xx>,
    out: Vec<Output>,
}

impl Gateway {
    pub fn new(engine: iwu::Engine, circuits: CircuitManager, sip_timers: TimerConfig) -> Self {
        Gateway {
            engine,
            circuits,
            variant: &Variant::ITU,
            timers: Timers::default(),
            sip_timers,
            retransmit: HashMap::new(),
            out: Vec::new(),
        }
    }

    pub fn circuits(&self) -> &CircuitManager {
        &self.circuits
    }

    pub fn circuits_mut(&mut self) -> &mut CircuitManager {
        &mut self.circuits
    }

    pub fn active_calls(&self) -> usize {
        self.engine.active_calls()
    }

    /// The runtime's input is backing up: refuse new calls ([`iwu::Engine::set_congested`]).
    pub fn set_congested(&mut self, congested: bool) {
        self.engine.set_congested(congested);
    }

    /// The call using `circuit`, if any (log spans).
    pub fn call_by_circuit(&self, circuit: CircuitId) -> Option<iwu::CallSummary> {
        self.engine.call_by_circuit(circuit)
    }

    /// The call with this SIP Call-ID, if any (log spans).
    pub fn call_by_call_id(&self, call_id: &str) -> Option<iwu::CallSummary> {
        self.engine.call_by_call_id(call_id)
    }

    /// Calls in progress.
    pub fn calls(&self) -> impl Iterator<Item = iwu::CallSummary> + '_ {
        self.engine.calls()
    }

    /// Calls in progress per model and bridging (the `calls_active` gauge), without a scan.
    pub fn call_models(&self) -> impl Iterator<Item = (iwu::CallModel, bool, usize)> + '_ {
        self.engine.call_models()
    }

    /// The call a running timer belongs to, if it is a call timer or a 2xx retransmission.
    pub fn timer_call(&self, id: u64) -> Option<iwu::CallSummary> {
        match self.timers.by_id.get(&id)? {
            TimerRef::Call(k) => self.engine.call(k.call),
            TimerRef::Retransmit2xx(call_id) => self.engine.call_by_call_id(call_id),
            TimerRef::Circuit(_) => None,
        }
    }

    /// The Q.764 name of a running ISUP timer (call or circuit maintenance), for
    /// `isup_timer_expiries_total`; `None` for SIP-side timers (RFC 3262 and 2xx retransmission).
    pub fn isup_timer_name(&self, id: u64) -> Option<&'static str> {
        use circuits::Timer as C;
        use iwu::TimerKind as K;
        Some(match self.timers.by_id.get(&id)? {
            TimerRef::Call(k) => match k.timer {
                K::T1 => "T1",
                K::T2 => "T2",
                K::T5 => "T5",
                K::T6 => "T6",
                K::T7 => "T7",
                K::T8 => "T8",
                K::T9 => "T9",
                K::T10 => "T10",
                K::T11 => "T11",
                K::T17 => "T17",
                K::Rel1xx => return None,
            },
            TimerRef::Circuit(k) => match k.timer {
                C::T12 => "T12",
                C::T13 => "T13",
                C::T14 => "T14",
                C::T15 => "T15",
                C::T16 => "T16",
                C::T17 => "T17",
                C::T18 => "T18",
                C::T19 => "T19",
                C::T20 => "T20",
                C::T21 => "T21",
                C::T22 => "T22",
                C::T23 => "T23",
                C::T28 => "T28",
            },
            TimerRef::Retransmit2xx(_) => return None,
        })
    }

    /// Timers running (calls, circuits and 2xx retransmissions).
    pub fn running_timers(&self) -> usize {
        self.timers.len()
    }

    /// The outputs of operator calls made through [`Gateway::circuits_mut`] (block, reset…).
    pub fn drain(&mut self, now: Duration) -> Vec<Output> {
        self.drain_circuits(now);
        std::mem::take(&mut self.out)
    }

    /// Handle one input at `now`; the outputs are in the order they must be performed.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Output> {
        match input {
            Input::Isup { opc, user_data } => self.on_isup(now, opc, &user_data),
            Input::SipRequest { peer, request } => {
                if request.method == Method::Ack {
                    self.on_ack(&request);
                }
                self.engine_event(
                    now,
                    iwu::Event::SipRequest {
                        request,
                        peer: Some(peer),
                    },
                );
            }
            Input::SipResponse(r) => self.engine_event(now, iwu::Event::SipResponse(r)),
            Input::SipTimeout { call_id, method } => {
                self.engine_event(now, iwu::Event::SipTimeout { call_id, method })
            }
            Input::Timer(id) => match self.timers.fired(id) {
                Some(TimerRef::Call(k)) => self.engine_event(now, iwu::Event::Timer(k)),
                Some(TimerRef::Circuit(k)) => {
                    self.circuits.timer_fired(k);
                    self.drain_circuits(now);
                }
                Some(TimerRef::Retransmit2xx(call_id)) => self.on_retransmit_timer(now, call_id),
                None => {} // stopped meanwhile
            },
            Input::TransportUp => {
                self.circuits.transport_up();
                self.drain_circuits(now);
            }
            Input::TransportDown => {
                self.circuits.transport_down();
                self.drain_circuits(now);
                // No REL can reach the far end: the calls are cleared toward SIP (cause 38);
                // the GRS on `TransportUp` frees their circuits.
                self.engine_event(now, iwu::Event::SignallingLost);
            }
            Input::PointCode { dpc, available } => {
                if available {
                    self.circuits.point_code_available(dpc);
                } else {
                    self.circuits.point_code_unavailable(dpc);
                }
                self.drain_circuits(now);
            }
        }
        std::mem::take(&mut self.out)
    }

    fn on_isup(&mut self, now: Duration, opc: u32, user_data: &[u8]) {
        let (cic, msg) = match self.variant.parse_with_cic(user_data) {
            Ok(x) => x,
            Err(e) => {
                // Q.764 §2.9.5.1: a message whose mandatory part cannot be decoded is discarded.
                self.out.push(Output::IsupDiscarded {
                    opc,
                    reason: e.to_string(),
                });
                return;
            }
        };
        match self.circuits.on_message(opc, cic, &msg) {
            Disposition::Consumed | Disposition::Unequipped => self.drain_circuits(now),
            Disposition::CallControl => {
                // Q.763 §1.2: the CIC names a circuit of the signalling relation with `opc`.
                let circuit = CircuitId { dpc: opc, cic };
                if msg.message_type == MessageType::IAM {
                    let verdict = self.circuits.incoming_iam(opc, cic);
                    self.drain_circuits(now);
                    match verdict {
                        IamVerdict::Accept => {}
                        IamVerdict::AcceptAfterDualSeizure => self.out.push(Output::Glare),
                        IamVerdict::DualSeizureIgnore => {
                            self.out.push(Output::Glare);
                            return;
                        }
                        IamVerdict::Discard | IamVerdict::Unequipped => return,
                        IamVerdict::Reject { cause } => {
                            // The engine owns the release: it takes the call, then clears it
                            // with REL and this cause, and frees the circuit after RLC.
                            self.engine_event(now, iwu::Event::Isup { circuit, msg });
                            self.engine_event(now, iwu::Event::ReleaseCall { circuit, cause });
                            return;
                        }
                    }
                } else if IN_CALL_ONLY.contains(&msg.message_type)
                    && !self.engine.circuit_in_use(circuit)
                {
                    // Q.764 §2.9.5.1 d): other unreasonable signalling information on an idle
                    // circuit: the circuit is reset (RSC). A REL there is still answered with RLC
                    // and an RLC discarded (a), b)); the engine does both. Messages with a
                    // meaning outside a call (CCR, CFN, unrecognised types…) are not "unreasonable".
                    self.circuits.reset(circuit);
                    self.drain_circuits(now);
                    return;
                } else if is_backward(msg.message_type) {
                    self.circuits.first_backward_message(circuit);
                    self.drain_circuits(now);
                }
                self.engine_event(now, iwu::Event::Isup { circuit, msg });
            }
        }
    }

    fn engine_event(&mut self, now: Duration, ev: iwu::Event) {
        let actions = {
            let mut pool = Pool {
                circuits: &mut self.circuits,
            };
            self.engine.handle(now, ev, &mut pool)
        };
        for a in actions {
            self.engine_action(now, a);
        }
        // Seizures made through the pool change circuit states.
        self.drain_circuits(now);
    }

    fn engine_action(&mut self, now: Duration, a: iwu::Action) {
        use iwu::Action as A;
        match a {
            A::SendIsup { circuit, msg } => self.send_isup(circuit, &msg),
            A::SendRequest { peer, request } => self.out.push(Output::SipRequest { peer, request }),
            A::SendResponse(r) => self.send_response(r),
            A::StartTimer { key, after } => {
                self.timers.start(TimerRef::Call(key), after, &mut self.out)
            }
            A::StopTimer { key } => self.timers.stop(&TimerRef::Call(key), &mut self.out),
            A::CircuitIdle { circuit } => {
                self.circuits.call_released(circuit);
                self.drain_circuits(now);
            }
            A::MaintenanceAlert { circuit, reason } => {
                // Q.764 §2.9.6: after T5 the engine itself resets the circuit (RSC, T17) and
                // frees it with `CircuitIdle` on RLC; the circuit manager stays out of it.
                self.out
                    .push(Output::Alert(format!("circuit {circuit}: {reason}")));
            }
            A::CallRecord(r) => self.out.push(Output::CallRecord(r)),
        }
    }

    /// An ISUP message on a circuit, CIC first (Q.763 §1.2), toward the circuit's DPC. Circuit
    /// maintenance messages of the manager take the same path.
    fn send_isup(&mut self, circuit: CircuitId, msg: &isup::Message) {
        let mut user_data = Vec::with_capacity(64);
        match self.variant.emit_with_cic(circuit.cic, msg, &mut user_data) {
            Ok(()) => self.out.push(Output::Isup {
                dpc: circuit.dpc,
                sls: isup::RoutingLabel::sls_for_cic(circuit.cic),
                message_type: msg.message_type,
                user_data,
            }),
            Err(e) => self.out.push(Output::Alert(format!(
                "circuit {circuit}: {} not encodable: {e}",
                msg.message_type
            ))),
        }
    }

    /// RFC 3261 §13.3.1.4: the UAS core retransmits a 2xx to INVITE until the ACK arrives.
    fn send_response(&mut self, r: Response) {
        let is_invite_2xx = (200..300).contains(&r.status)
            && r.headers.cseq().is_ok_and(|c| c.method == Method::Invite);
        if is_invite_2xx && let Ok(call_id) = r.headers.call_id().map(str::to_string) {
            // Over UDP the 2xx is repeated from T1 (over TCP the repeats are harmless).
            let (rt, actions) = Retransmit2xx::start(r, self.sip_timers, false);
            self.retransmit.insert(call_id.clone(), rt);
            self.ua_actions(call_id, actions);
            return;
        }
        self.out.push(Output::SipResponse(r));
    }

    fn ua_actions(&mut self, call_id: String, actions: Vec<UaAction>) {
        for a in actions {
            match a {
                UaAction::Send(r) => self.out.push(Output::SipResponse(r)),
                UaAction::StartTimer(after) => self.timers.start(
                    TimerRef::Retransmit2xx(call_id.clone()),
                    after,
                    &mut self.out,
                ),
                UaAction::StopTimer => self
                    .timers
                    .stop(&TimerRef::Retransmit2xx(call_id.clone()), &mut self.out),
                UaAction::GiveUp => {}
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
    }

    fn on_ack(&mut self, ack: &Request) {
        let Ok(call_id) = ack.headers.call_id().map(str::to_string) else {
            return;
        };
        if let Some(mut rt) = self.retransmit.remove(&call_id) {
            let actions = rt.on_ack();
            self.ua_actions(call_id, actions);
        }
    }

    fn on_retransmit_timer(&mut self, now: Duration, call_id: String) {
        let Some(rt) = self.retransmit.get_mut(&call_id) else {
            return;
        };
        let actions = rt.on_timer();
        let gave_up = actions.iter().any(|a| matches!(a, UaAction::GiveUp));
        self.ua_actions(call_id.clone(), actions);
        if gave_up {
            // §13.3.1.4: no ACK within 64*T1: the session is not established; clear the call.
            self.retransmit.remove(&call_id);
            self.engine_event(
                now,
                iwu::Event::SipTimeout {
                    call_id,
                    method: Method::Ack,
                },
            );
        }
    }

    fn drain_circuits(&mut self, now: Duration) {
        while let Some(a) = self.circuits.poll_action() {
            use circuits::Action as C;
            match a {
                C::Send { circuit, message } => self.send_isup(circuit, &message),
                C::StartTimer { key, duration } => {
                    self.timers
                        .start(TimerRef::Circuit(key), duration, &mut self.out)
                }
                C::StopTimer { key } => self.timers.stop(&TimerRef::Circuit(key), &mut self.out),
                C::ReleaseCall { circuit, .. } => {
                    self.engine_event(now, iwu::Event::CircuitReset { circuit })
                }
                C::Reattempt { circuit, release } => {
                    if release {
                        // Q.764 §2.8.2.1 c): clear this circuit normally (REL/RLC) and repeat
                        // the call on another one (§2.8.1).
                        self.engine_event(
                            now,
                            iwu::Event::RepeatAttempt {
                                circuit,
                                cause: circuits::CAUSE_TEMPORARY_FAILURE,
                            },
                        )
                    } else {
                        self.engine_event(now, iwu::Event::Reattempt { circuit })
                    }
                }
                C::StateChanged {
                    group, from, to, ..
                } => self.out.push(Output::CircuitState {
                    trunk_group: self.circuits.group_name(group).to_string(),
                    from,
                    to,
                }),
                C::Alert(a) => self.out.push(Output::Alert(format!("{a:?}"))),
                C::QueryResponse { first, states } => self
                    .out
                    .push(Output::Alert(format!("CQR from {first}: {states:?}"))),
            }
        }
    }
}

/// Call-control messages that only make sense within a call (Q.763 Table 1): received on an
/// idle circuit they are unreasonable signalling information (Q.764 §2.9.5.1 d)).
const IN_CALL_ONLY: [MessageType; 19] = [
    MessageType::SAM,
    MessageType::INR,
    MessageType::INF,
    MessageType::COT,
    MessageType::ACM,
    MessageType::CON,
    MessageType::FOT,
    MessageType::ANM,
    MessageType::SUS,
    MessageType::RES,
    MessageType::CPG,
    MessageType::USR,
    MessageType::FAR,
    MessageType::FAA,
    MessageType::FRJ,
    MessageType::FAC,
    MessageType::IDR,
    MessageType::IRS,
    MessageType::APM,
];

/// Backward call-control messages: the first one ends the dual-seizure window (Q.764 §2.9.1.4).
fn is_backward(t: MessageType) -> bool {
    [
        MessageType::ACM,
        MessageType::CON,
        MessageType::ANM,
        MessageType::CPG,
        MessageType::REL,
    ]
    .contains(&t)
}
