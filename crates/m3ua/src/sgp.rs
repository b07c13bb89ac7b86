//! The SGP side of M3UA as a sans-IO state machine (RFC 4666 §4.3): ASP states per association,
//! AS states per Routing Context, traffic modes, AS-PENDING with the recovery timer T(r), and
//! SSNM towards the ASPs.
//!
//! ```text
//!  AS state (RFC 4666 §4.3.2):
//!   +---------+  an ASP up   +-------------+  ASPAC    +-----------+
//!   | AS-DOWN | -----------> | AS-INACTIVE | --------> | AS-ACTIVE |
//!   +---------+ <----------- +-------------+           +-----------+
//!        ^       last ASP down      ^                    |      ^
//!        |                          | T(r) expiry,       | last active ASP inactive/down:
//!        |                          | an ASP still up    v      | ASPAC before T(r):
//!        +------ T(r) expiry, ---- +------------+ ------+      | queued DATA sent
//!                no ASP up         | AS-PENDING | -------------+
//!                                  +------------+   (DATA queued meanwhile)
//! ```
//!
//! Associations are named by an [`AssocId`] the driver chooses. An ASP that is up counts towards
//! every configured AS (static configuration); it joins an AS's active set through ASPAC with that
//! AS's Routing Context (or with none, meaning every configured AS).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::DecodeError;
use crate::asp::AspState;
use crate::dest::{DestinationStatus, DestinationTable, Reachability};
use crate::wire::{
    AffectedPointCode, AspActive, AspDown, AspInactive, AspUp, Data,
    DestinationUserPartUnavailable, ErrorCode, ErrorMsg, Heartbeat, Message, Notify, ProtocolData,
    SignallingCongestion, Ssnm, Status, TrafficModeType, UserCause,
};

/// The driver's name for one association.
pub type AssocId = u64;

/// One Application Server served by this SGP.
#[derive(Debug, Clone)]
pub struct AsConfig {
    pub routing_context: u32,
    pub traffic_mode_type: TrafficModeType,
    /// T(r), RFC 4666 §4.3.4.4: how long AS-PENDING queues DATA for an ASP to (re)activate.
    pub recovery_timeout: Duration,
    /// DATA held while AS-PENDING.
    pub pending_queue_limit: usize,
}

impl AsConfig {
    pub fn new(routing_context: u32, traffic_mode_type: TrafficModeType) -> Self {
        AsConfig {
            routing_context,
            traffic_mode_type,
            recovery_timeout: Duration::from_secs(2),
            pending_queue_limit: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SgpConfig {
    pub application_servers: Vec<AsConfig>,
    pub network_appearance: Option<u32>,
    /// Refuse ASPUP without an ASP Identifier (ERR 0x0E).
    pub require_asp_identifier: bool,
    pub beat_interval: Option<Duration>,
    pub beat_loss_threshold: u32,
    /// Outbound streams usable for DATA; DATA goes on `1 + SLS mod n`.
    pub data_streams: u16,
}

impl Default for SgpConfig {
    fn default() -> Self {
        SgpConfig {
            application_servers: vec![AsConfig::new(1, TrafficModeType::OVERRIDE)],
            network_appearance: None,
            require_asp_identifier: false,
            beat_interval: None,
            beat_loss_threshold: 3,
            data_streams: 16,
        }
    }
}

/// AS state (RFC 4666 §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsState {
    Down,
    Inactive,
    Active,
    Pending,
}

impl AsState {
    fn status(self) -> Option<Status> {
        match self {
            AsState::Down => None,
            AsState::Inactive => Some(Status::AS_INACTIVE),
            AsState::Active => Some(Status::AS_ACTIVE),
            AsState::Pending => Some(Status::AS_PENDING),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// T(r) of the AS with this Routing Context.
    Recovery(u32),
    /// BEAT towards one association.
    Beat(AssocId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send {
        assoc: AssocId,
        stream: u16,
        message: Message,
    },
    Disconnect(AssocId),
    StartTimer {
        timer: Timer,
        after: Duration,
    },
    StopTimer(Timer),
    Event(SgpEvent),
}

#[derive(Debug, Clone, PartialEq)]
pub enum SgpEvent {
    AspStateChanged {
        assoc: AssocId,
        from: AspState,
        to: AspState,
    },
    AsStateChanged {
        routing_context: u32,
        from: AsState,
        to: AsState,
    },
    /// DATA from an active ASP, to be routed into the SS7 network.
    Transfer {
        assoc: AssocId,
        data: Data,
    },
    /// DAUD from an ASP (already answered from the destination table).
    Audit {
        assoc: AssocId,
        affected: Vec<AffectedPointCode>,
    },
    PeerError {
        assoc: AssocId,
        error: ErrorMsg,
    },
    DecodeFailed {
        assoc: AssocId,
        error: DecodeError,
    },
    Unexpected {
        assoc: AssocId,
        abbr: &'static str,
    },
    HeartbeatLost(AssocId),
    /// A transfer request the driver could not route (drivers only; the sans-IO
    /// [`Sgp::transfer`] returns the error).
    TransferRefused(SgpTransferError),
    /// T(r) expired with DATA still queued: it is discarded.
    QueueDiscarded {
        routing_context: u32,
        count: usize,
    },
}

/// Why DATA towards the ASPs was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SgpTransferError {
    #[error("no AS with routing context {0}")]
    UnknownRoutingContext(u32),
    #[error("several ASs are configured: a routing context is required")]
    RoutingContextRequired,
    #[error("AS {routing_context} is {state:?}")]
    AsNotActive {
        routing_context: u32,
        state: AsState,
    },
    #[error("AS {0} is pending and its queue is full")]
    QueueFull(u32),
}

#[derive(Debug)]
struct AsEntry {
    cfg: AsConfig,
    state: AsState,
    active: Vec<AssocId>,
    queue: VecDeque<Data>,
}

#[derive(Debug)]
struct AspEntry {
    state: AspState,
    asp_identifier: Option<u32>,
    beat_seq: u64,
    beats_outstanding: u32,
}

/// The SGP state machine for all its associations and ASs.
#[derive(Debug)]
pub struct Sgp {
    cfg: SgpConfig,
    ases: Vec<AsEntry>,
    asps: HashMap<AssocId, AspEntry>,
    dests: DestinationTable,
    actions: VecDeque<Action>,
}

impl Sgp {
    pub fn new(cfg: SgpConfig) -> Self {
        let ases = cfg
            .application_servers
            .iter()
            .map(|c| AsEntry {
                cfg: c.clone(),
                state: AsState::Down,
                active: Vec::new(),
                queue: VecDeque::new(),
            })
            .collect();
        Sgp {
            cfg,
            ases,
            asps: HashMap::new(),
            dests: DestinationTable::default(),
            actions: VecDeque::new(),
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn asp_state(&self, assoc: AssocId) -> AspState {
        self.asps.get(&assoc).map_or(AspState::Down, |a| a.state)
    }

    /// ASP Identifier the ASP gave in ASPUP.
    pub fn asp_identifier(&self, assoc: AssocId) -> Option<u32> {
        self.asps.get(&assoc).and_then(|a| a.asp_identifier)
    }

    pub fn as_state(&self, routing_context: u32) -> Option<AsState> {
        self.ases
            .iter()
            .find(|a| a.cfg.routing_context == routing_context)
            .map(|a| a.state)
    }

    /// What this SGP announces about `pc`.
    pub fn destination_status(&self, pc: u32) -> DestinationStatus {
        self.dests.status(pc)
    }

    // ---- transport events ----

    pub fn association_up(&mut self, assoc: AssocId) {
        self.asps.insert(
            assoc,
            AspEntry {
                state: AspState::Down,
                asp_identifier: None,
                beat_seq: 0,
                beats_outstanding: 0,
            },
        );
    }

    /// The association is gone: ASP-DOWN (RFC 4666 §4.3.4.2), AS-PENDING where it was the last.
    pub fn association_down(&mut self, assoc: AssocId) {
        self.set_asp_down(assoc);
        self.asps.remove(&assoc);
        self.push(Action::StopTimer(Timer::Beat(assoc)));
    }

    // ---- network side requests ----

    /// MTP-TRANSFER towards the ASPs of an AS, routed by traffic mode and SLS.
    pub fn transfer(
        &mut self,
        routing_context: Option<u32>,
        protocol_data: ProtocolData,
    ) -> Result<(), SgpTransferError> {
        let i = match routing_context {
            Some(rc) => self
                .as_index(rc)
                .ok_or(SgpTransferError::UnknownRoutingContext(rc))?,
            None if self.ases.len() == 1 => 0,
            None => return Err(SgpTransferError::RoutingContextRequired),
        };
        let data = Data {
            network_appearance: self.cfg.network_appearance,
            routing_context: Some(self.ases[i].cfg.routing_context),
            protocol_data,
            correlation_id: None,
        };
        let a = &mut self.ases[i];
        match a.state {
            AsState::Active => {
                self.route(i, data);
                Ok(())
            }
            AsState::Pending if a.queue.len() < a.cfg.pending_queue_limit => {
                a.queue.push_back(data);
                Ok(())
            }
            AsState::Pending => Err(SgpTransferError::QueueFull(a.cfg.routing_context)),
            state => Err(SgpTransferError::AsNotActive {
                routing_context: a.cfg.routing_context,
                state,
            }),
        }
    }

    /// Records and announces DUNA / DAVA / DRST to every ASP that is up (RFC 4666 §4.5.1).
    pub fn set_reachability(&mut self, affected: Vec<AffectedPointCode>, r: Reachability) {
        self.dests.set_reachability(&affected, r);
        let ssnm = Ssnm {
            network_appearance: self.cfg.network_appearance,
            routing_context: Vec::new(),
            affected_point_codes: affected,
            info_string: None,
        };
        let m = match r {
            Reachability::Available => Message::DestinationAvailable(ssnm),
            Reachability::Restricted => Message::DestinationRestricted(ssnm),
            Reachability::Unavailable => Message::DestinationUnavailable(ssnm),
        };
        self.broadcast(m);
    }

    /// Records and announces SCON (RFC 4666 §4.5.2).
    pub fn signal_congestion(&mut self, affected: Vec<AffectedPointCode>, level: u8) {
        self.dests.set_congestion(&affected, level);
        self.broadcast(Message::SignallingCongestion(SignallingCongestion {
            network_appearance: self.cfg.network_appearance,
            affected_point_codes: affected,
            congestion_level: Some(level),
            ..SignallingCongestion::default()
        }));
    }

    /// Announces DUPU (RFC 4666 §4.5.3).
    pub fn user_part_unavailable(&mut self, point_code: u32, user_cause: UserCause) {
        self.broadcast(Message::DestinationUserPartUnavailable(
            DestinationUserPartUnavailable {
                network_appearance: self.cfg.network_appearance,
                routing_context: Vec::new(),
                affected_point_code: AffectedPointCode::new(point_code),
                user_cause,
                info_string: None,
            },
        ));
    }

    // ---- messages ----

    pub fn handle_bytes(&mut self, assoc: AssocId, stream: u16, bytes: &[u8]) {
        match Message::parse(bytes) {
            Ok(m) => self.handle_message(assoc, stream, m),
            Err(e) => self.decode_failed(assoc, e, bytes),
        }
    }

    pub fn handle_shared(&mut self, assoc: AssocId, stream: u16, bytes: &Bytes) {
        match Message::parse_bytes(bytes) {
            Ok(m) => self.handle_message(assoc, stream, m),
            Err(e) => self.decode_failed(assoc, e, bytes),
        }
    }

    fn decode_failed(&mut self, assoc: AssocId, error: DecodeError, bytes: &[u8]) {
        self.send_error(assoc, error.error_code(), Vec::new(), Some(bytes));
        self.event(SgpEvent::DecodeFailed { assoc, error });
    }

    pub fn handle_message(&mut self, assoc: AssocId, stream: u16, msg: Message) {
        let Some(asp) = self.asps.get(&assoc) else {
            return;
        };
        let asp_state = asp.state;
        match msg {
            Message::AspUp(up) => self.on_aspup(assoc, up),
            Message::AspDown(_) => {
                self.send(assoc, 0, Message::AspDownAck(AspDown::default()));
                self.set_asp_down(assoc);
            }
            Message::Heartbeat(b) => self.send(assoc, 0, Message::HeartbeatAck(b)),
            Message::HeartbeatAck(b) => {
                if let Some(a) = self.asps.get_mut(&assoc)
                    && b.heartbeat_data.as_deref() == Some(&a.beat_seq.to_be_bytes()[..])
                {
                    a.beats_outstanding = 0;
                }
            }
            Message::AspActive(ac) => self.on_aspac(assoc, ac),
            Message::AspInactive(ia) => self.on_aspia(assoc, ia),
            Message::Data(d) => {
                if stream == 0 {
                    self.send_error(
                        assoc,
                        ErrorCode::INVALID_STREAM_IDENTIFIER,
                        Vec::new(),
                        None,
                    );
                } else if asp_state != AspState::Active {
                    self.unexpected(assoc, "DATA");
                } else if let Some(rc) = d.routing_context
                    && !self
                        .ases
                        .iter()
                        .any(|a| a.cfg.routing_context == rc && a.active.contains(&assoc))
                {
                    self.send_error(assoc, ErrorCode::INVALID_ROUTING_CONTEXT, vec![rc], None);
                } else {
                    self.event(SgpEvent::Transfer { assoc, data: d });
                }
            }
            Message::DestinationStateAudit(s) => {
                if asp_state == AspState::Down {
                    return self.unexpected(assoc, "DAUD");
                }
                // RFC 4666 §4.5.3: answer with the current state of each destination.
                for &apc in &s.affected_point_codes {
                    let st = self.dests.status(apc.point_code);
                    let ssnm = Ssnm {
                        network_appearance: s.network_appearance,
                        routing_context: s.routing_context.clone(),
                        affected_point_codes: vec![apc],
                        info_string: None,
                    };
                    let m = match st.reachability {
                        Reachability::Available => Message::DestinationAvailable(ssnm),
                        Reachability::Restricted => Message::DestinationRestricted(ssnm),
                        Reachability::Unavailable => Message::DestinationUnavailable(ssnm),
                    };
                    self.send(assoc, 0, m);
                }
                self.event(SgpEvent::Audit {
                    assoc,
                    affected: s.affected_point_codes,
                });
            }
            Message::Error(error) => self.event(SgpEvent::PeerError { assoc, error }),
            // Messages only an SGP sends.
            m @ (Message::Notify(_)
            | Message::AspUpAck(_)
            | Message::AspDownAck(_)
            | Message::AspActiveAck(_)
            | Message::AspInactiveAck(_)
            | Message::DestinationUnavailable(_)
            | Message::DestinationAvailable(_)
            | Message::DestinationRestricted(_)
            | Message::SignallingCongestion(_)
            | Message::DestinationUserPartUnavailable(_)) => self.unexpected(assoc, m.abbr()),
        }
    }

    fn on_aspup(&mut self, assoc: AssocId, up: AspUp) {
        if self.cfg.require_asp_identifier && up.asp_identifier.is_none() {
            return self.send_error(assoc, ErrorCode::ASP_IDENTIFIER_REQUIRED, Vec::new(), None);
        }
        let from = self.asp_state(assoc);
        if from == AspState::Active {
            // RFC 4666 §4.3.4.1: ASPUP in ASP-ACTIVE leaves every AS, back to ASP-INACTIVE.
            for a in &mut self.ases {
                a.active.retain(|&x| x != assoc);
            }
        }
        if let Some(a) = self.asps.get_mut(&assoc) {
            a.asp_identifier = up.asp_identifier;
            a.beats_outstanding = 0;
        }
        self.send(
            assoc,
            0,
            Message::AspUpAck(AspUp {
                asp_identifier: up.asp_identifier,
                info_string: None,
            }),
        );
        self.set_asp_state(assoc, AspState::Inactive);
        if from == AspState::Down
            && let Some(after) = self.cfg.beat_interval
        {
            self.push(Action::StartTimer {
                timer: Timer::Beat(assoc),
                after,
            });
        }
        self.recompute_all();
    }

    /// The ASs an ASPAC / ASPIA names, or an ERR to send.
    fn targets(&self, rcs: &[u32]) -> Result<Vec<usize>, (ErrorCode, Vec<u32>)> {
        if self.ases.is_empty() {
            return Err((ErrorCode::NO_CONFIGURED_AS_FOR_ASP, Vec::new()));
        }
        if rcs.is_empty() {
            return Ok((0..self.ases.len()).collect());
        }
        let mut v = Vec::with_capacity(rcs.len());
        for &rc in rcs {
            match self.as_index(rc) {
                Some(i) => v.push(i),
                None => return Err((ErrorCode::INVALID_ROUTING_CONTEXT, vec![rc])),
            }
        }
        Ok(v)
    }

    fn on_aspac(&mut self, assoc: AssocId, ac: AspActive) {
        if self.asp_state(assoc) == AspState::Down {
            return self.unexpected(assoc, "ASPAC");
        }
        let targets = match self.targets(&ac.routing_context) {
            Ok(t) => t,
            Err((code, rc)) => return self.send_error(assoc, code, rc, None),
        };
        if let Some(t) = ac.traffic_mode_type
            && targets
                .iter()
                .any(|&i| self.ases[i].cfg.traffic_mode_type != t)
        {
            return self.send_error(
                assoc,
                ErrorCode::UNSUPPORTED_TRAFFIC_MODE_TYPE,
                ac.routing_context,
                None,
            );
        }
        self.send(
            assoc,
            0,
            Message::AspActiveAck(AspActive {
                traffic_mode_type: ac.traffic_mode_type,
                routing_context: ac.routing_context,
                info_string: None,
            }),
        );
        self.set_asp_state(assoc, AspState::Active);
        let mut replaced = Vec::new();
        for &i in &targets {
            let a = &mut self.ases[i];
            if a.active.contains(&assoc) {
                continue;
            }
            if a.cfg.traffic_mode_type == TrafficModeType::OVERRIDE {
                // RFC 4666 §4.3.4.3: the newly active ASP takes over; tell the old one.
                for old in a.active.drain(..) {
                    replaced.push((old, a.cfg.routing_context));
                }
            }
            a.active.push(assoc);
        }
        for (old, rc) in replaced {
            self.send(
                old,
                0,
                Message::Notify(Notify {
                    status: Status::ALTERNATE_ASP_ACTIVE,
                    asp_identifier: self.asp_identifier(assoc),
                    routing_context: vec![rc],
                    info_string: None,
                }),
            );
            if !self.ases.iter().any(|a| a.active.contains(&old)) {
                self.set_asp_state(old, AspState::Inactive);
            }
        }
        for i in targets {
            self.recompute(i);
        }
    }

    fn on_aspia(&mut self, assoc: AssocId, ia: AspInactive) {
        if self.asp_state(assoc) == AspState::Down {
            return self.unexpected(assoc, "ASPIA");
        }
        let targets = match self.targets(&ia.routing_context) {
            Ok(t) => t,
            Err((code, rc)) => return self.send_error(assoc, code, rc, None),
        };
        self.send(
            assoc,
            0,
            Message::AspInactiveAck(AspInactive {
                routing_context: ia.routing_context,
                info_string: None,
            }),
        );
        for &i in &targets {
            self.ases[i].active.retain(|&x| x != assoc);
        }
        if !self.ases.iter().any(|a| a.active.contains(&assoc)) {
            self.set_asp_state(assoc, AspState::Inactive);
        }
        for i in targets {
            self.recompute(i);
        }
    }

    // ---- timers ----

    pub fn handle_timeout(&mut self, timer: Timer) {
        match timer {
            Timer::Recovery(rc) => {
                let Some(i) = self.as_index(rc) else { return };
                if self.ases[i].state != AsState::Pending {
                    return;
                }
                let count = self.ases[i].queue.len();
                self.ases[i].queue.clear();
                if count > 0 {
                    self.event(SgpEvent::QueueDiscarded {
                        routing_context: rc,
                        count,
                    });
                }
                let to = if self.any_asp_up() {
                    AsState::Inactive
                } else {
                    AsState::Down
                };
                self.set_as_state(i, to);
            }
            Timer::Beat(assoc) => {
                let (Some(interval), Some(a)) = (self.cfg.beat_interval, self.asps.get_mut(&assoc))
                else {
                    return;
                };
                if a.beats_outstanding >= self.cfg.beat_loss_threshold {
                    self.event(SgpEvent::HeartbeatLost(assoc));
                    self.push(Action::Disconnect(assoc));
                    self.association_down(assoc);
                    return;
                }
                a.beat_seq += 1;
                a.beats_outstanding += 1;
                let data = Bytes::copy_from_slice(&a.beat_seq.to_be_bytes());
                self.send(
                    assoc,
                    0,
                    Message::Heartbeat(Heartbeat {
                        heartbeat_data: Some(data),
                    }),
                );
                self.push(Action::StartTimer {
                    timer: Timer::Beat(assoc),
                    after: interval,
                });
            }
        }
    }

    // ---- internals ----

    fn as_index(&self, rc: u32) -> Option<usize> {
        self.ases.iter().position(|a| a.cfg.routing_context == rc)
    }

    fn any_asp_up(&self) -> bool {
        self.asps.values().any(|a| a.state != AspState::Down)
    }

    fn push(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    fn event(&mut self, e: SgpEvent) {
        self.push(Action::Event(e));
    }

    fn send(&mut self, assoc: AssocId, stream: u16, message: Message) {
        self.push(Action::Send {
            assoc,
            stream,
            message,
        });
    }

    fn send_error(
        &mut self,
        assoc: AssocId,
        error_code: ErrorCode,
        routing_context: Vec<u32>,
        diagnostic: Option<&[u8]>,
    ) {
        let diagnostic_information =
            diagnostic.map(|d| Bytes::copy_from_slice(&d[..d.len().min(64)]));
        self.send(
            assoc,
            0,
            Message::Error(ErrorMsg {
                error_code,
                routing_context,
                diagnostic_information,
                ..ErrorMsg::default()
            }),
        );
    }

    fn unexpected(&mut self, assoc: AssocId, abbr: &'static str) {
        self.send_error(assoc, ErrorCode::UNEXPECTED_MESSAGE, Vec::new(), None);
        self.event(SgpEvent::Unexpected { assoc, abbr });
    }

    /// SSNM to every ASP that is up.
    fn broadcast(&mut self, m: Message) {
        let mut up: Vec<AssocId> = self
            .asps
            .iter()
            .filter(|(_, a)| a.state != AspState::Down)
            .map(|(&k, _)| k)
            .collect();
        up.sort_unstable();
        for assoc in up {
            self.send(assoc, 0, m.clone());
        }
    }

    fn route(&mut self, i: usize, data: Data) {
        let a = &self.ases[i];
        let sls = data.protocol_data.sls;
        let stream = 1 + u16::from(sls) % self.cfg.data_streams.max(1);
        match a.cfg.traffic_mode_type {
            TrafficModeType::BROADCAST => {
                let targets = a.active.clone();
                for assoc in targets {
                    self.send(assoc, stream, Message::Data(data.clone()));
                }
            }
            // Override has one active ASP; loadshare spreads by SLS.
            _ => {
                if a.active.is_empty() {
                    return;
                }
                let assoc = a.active[usize::from(sls) % a.active.len()];
                self.send(assoc, stream, Message::Data(data));
            }
        }
    }

    fn set_asp_state(&mut self, assoc: AssocId, to: AspState) {
        let Some(a) = self.asps.get_mut(&assoc) else {
            return;
        };
        let from = a.state;
        if from != to {
            a.state = to;
            self.event(SgpEvent::AspStateChanged { assoc, from, to });
        }
    }

    fn set_asp_down(&mut self, assoc: AssocId) {
        if !self.asps.contains_key(&assoc) {
            return;
        }
        for a in &mut self.ases {
            a.active.retain(|&x| x != assoc);
        }
        self.set_asp_state(assoc, AspState::Down);
        self.recompute_all();
    }

    fn recompute_all(&mut self) {
        for i in 0..self.ases.len() {
            self.recompute(i);
        }
    }

    fn recompute(&mut self, i: usize) {
        let a = &self.ases[i];
        let to = if !a.active.is_empty() {
            AsState::Active
        } else if matches!(a.state, AsState::Active | AsState::Pending) {
            AsState::Pending
        } else if self.any_asp_up() {
            AsState::Inactive
        } else {
            AsState::Down
        };
        self.set_as_state(i, to);
    }

    fn set_as_state(&mut self, i: usize, to: AsState) {
        let a = &mut self.ases[i];
        let from = a.state;
        if from == to {
            return;
        }
        a.state = to;
        let rc = a.cfg.routing_context;
        let recovery = a.cfg.recovery_timeout;
        match (from, to) {
            (_, AsState::Pending) => self.push(Action::StartTimer {
                timer: Timer::Recovery(rc),
                after: recovery,
            }),
            (AsState::Pending, _) => self.push(Action::StopTimer(Timer::Recovery(rc))),
            _ => {}
        }
        self.event(SgpEvent::AsStateChanged {
            routing_context: rc,
            from,
            to,
        });
        // RFC 4666 §4.3.4.5: NTFY the AS state change to the ASPs that are up.
        if let Some(status) = to.status() {
            let mut up: Vec<AssocId> = self
                .asps
                .iter()
                .filter(|(_, a)| a.state != AspState::Down)
                .map(|(&k, _)| k)
                .collect();
            up.sort_unstable();
            for assoc in up {
                self.send(
                    assoc,
                    0,
                    Message::Notify(Notify {
                        status,
                        asp_identifier: None,
                        routing_context: vec![rc],
                        info_string: None,
                    }),
                );
            }
        }
        // RFC 4666 §4.3.4.4: an ASP activated within T(r): send what was queued.
        if from == AsState::Pending && to == AsState::Active {
            let queued: Vec<Data> = self.ases[i].queue.drain(..).collect();
            for d in queued {
                self.route(i, d);
            }
        }
    }
}
