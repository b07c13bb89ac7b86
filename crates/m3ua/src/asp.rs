//! The ASP side of M3UA as a sans-IO state machine (RFC 4666 §4.3).
//!
//! ```text
//!                 transport up / send ASPUP (T(ack))
//!   +----------+  ------------------------------------>  ASPUP_ACK  +--------------+
//!   | ASP-DOWN |  <-- ASPDN_ACK, transport lost, BEAT lost, -------- | ASP-INACTIVE |
//!   +----------+      T(ack) exhausted                               +--------------+
//!        ^                                          activate: ASPAC |  ^ ASPIA_ACK,
//!        |                                               ASPAC_ACK  v  | NTFY Alternate ASP Active
//!        |                                                     +------------+
//!        +---------------- transport lost, ASPDN_ACK --------- | ASP-ACTIVE |
//!                                                              +------------+
//! ```
//!
//! The machine is fed [`Asp::transport_up`], [`Asp::transport_down`], [`Asp::handle_message`]
//! (or [`Asp::handle_bytes`]), [`Asp::handle_timeout`] and management requests
//! ([`Asp::start`], [`Asp::activate`], [`Asp::deactivate`], [`Asp::stop`], [`Asp::transfer`]);
//! the caller then drains [`Asp::poll_action`] and performs each [`Action`].
//!
//! Driver contract: after an [`Action::Disconnect`] close the transport without calling
//! [`Asp::transport_down`]; call it only for losses the machine did not ask for (including a
//! failed [`Action::Connect`]).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::DecodeError;
use crate::dest::{DestinationStatus, DestinationTable, Reachability};
use crate::wire::{
    AffectedPointCode, AspActive, AspDown, AspInactive, AspUp, Data, ErrorCode, ErrorMsg,
    Heartbeat, Message, ProtocolData, Ssnm, Status, TrafficModeType, UserCause,
};

/// ASP state (RFC 4666 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AspState {
    Down,
    Inactive,
    Active,
}

/// Configuration of one ASP towards one SGP.
#[derive(Debug, Clone)]
pub struct AspConfig {
    /// ASP Identifier sent in ASPUP (RFC 4666 §3.5.1).
    pub asp_identifier: Option<u32>,
    /// Routing Contexts to activate (empty: let the SGP use its configuration).
    pub routing_contexts: Vec<u32>,
    /// Network Appearance put into DATA, if the network uses one.
    pub network_appearance: Option<u32>,
    /// Traffic mode requested in ASPAC.
    pub traffic_mode_type: TrafficModeType,
    /// Send ASPAC as soon as ASP-INACTIVE is reached (and again after every restart).
    pub auto_activate: bool,
    /// T(ack): how long to wait for ASPUP_ACK / ASPAC_ACK / ASPIA_ACK / ASPDN_ACK.
    pub ack_timeout: Duration,
    /// Retransmissions of an unacknowledged message before the association is restarted.
    pub max_retransmissions: u32,
    /// Send BEAT at this interval (None: rely on SCTP heartbeats, RFC 4666 §3.5.5).
    pub beat_interval: Option<Duration>,
    /// BEATs left unanswered before the peer is declared lost.
    pub beat_loss_threshold: u32,
    /// First reconnect delay; doubles on each failure up to `reconnect_max`.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Outbound streams usable for DATA (streams 1..=n); DATA goes on `1 + SLS mod n`.
    pub data_streams: u16,
}

impl Default for AspConfig {
    fn default() -> Self {
        AspConfig {
            asp_identifier: None,
            routing_contexts: Vec::new(),
            network_appearance: None,
            traffic_mode_type: TrafficModeType::OVERRIDE,
            auto_activate: true,
            ack_timeout: Duration::from_secs(2),
            max_retransmissions: 4,
            beat_interval: Some(Duration::from_secs(10)),
            beat_loss_threshold: 3,
            reconnect_min: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(30),
            data_streams: 16,
        }
    }
}

/// Timers the ASP asks its driver to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// T(ack) for the outstanding ASPUP / ASPAC / ASPIA / ASPDN.
    Ack,
    /// Next BEAT (and loss check).
    Beat,
    /// Reconnect backoff.
    Reconnect,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open the transport; report the result with `transport_up` / `transport_down`.
    Connect,
    /// Close the transport.
    Disconnect,
    /// Send `message` on SCTP stream `stream` (0 for management, ≥ 1 for DATA).
    Send {
        stream: u16,
        message: Message,
    },
    /// (Re)start `timer` to fire once after `after`.
    StartTimer {
        timer: Timer,
        after: Duration,
    },
    StopTimer(Timer),
    /// Tell the M3UA user.
    Event(AspEvent),
}

/// Indications to the M3UA user (the MTP-primitives of RFC 4666 §1.6 and management reports).
#[derive(Debug, Clone, PartialEq)]
pub enum AspEvent {
    StateChanged {
        from: AspState,
        to: AspState,
    },
    /// MTP-TRANSFER indication.
    Transfer(Data),
    /// MTP-PAUSE (DUNA), MTP-RESUME (DAVA) and restricted (DRST).
    Reachability {
        affected: Vec<AffectedPointCode>,
        reachability: Reachability,
    },
    /// MTP-STATUS congestion (SCON).
    Congestion {
        affected: Vec<AffectedPointCode>,
        level: u8,
    },
    /// MTP-STATUS user part unavailable (DUPU).
    UserPartUnavailable {
        point_code: u32,
        user_cause: UserCause,
    },
    /// NTFY from the SGP (AS state change, alternate ASP active, ...).
    Notify(Status),
    /// ERR from the SGP.
    PeerError(ErrorMsg),
    /// A message from the SGP could not be decoded; an ERR was sent back.
    DecodeFailed(DecodeError),
    /// A message from the SGP was not acceptable in this state; an ERR was sent back.
    Unexpected(&'static str),
    /// No acknowledgement after all retransmissions of the named message.
    AckTimeout(&'static str),
    /// BEATs went unanswered: the association is restarted.
    HeartbeatLost,
}

/// Why an MTP-TRANSFER request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("ASP is not active (state {0:?})")]
    NotActive(AspState),
    #[error("destination point code {dpc} is unavailable")]
    DestinationUnavailable { dpc: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingKind {
    Up,
    Active,
    Inactive,
    Down,
}

impl PendingKind {
    fn abbr(self) -> &'static str {
        match self {
            PendingKind::Up => "ASPUP",
            PendingKind::Active => "ASPAC",
            PendingKind::Inactive => "ASPIA",
            PendingKind::Down => "ASPDN",
        }
    }
}

/// The ASP state machine for one association.
#[derive(Debug)]
pub struct Asp {
    cfg: AspConfig,
    state: AspState,
    running: bool,
    connected: bool,
    want_active: bool,
    pending: Option<(PendingKind, u32)>,
    beat_seq: u64,
    beats_outstanding: u32,
    backoff: Duration,
    dests: DestinationTable,
    as_status: Option<Status>,
    actions: VecDeque<Action>,
}

impl Asp {
    pub fn new(cfg: AspConfig) -> Self {
        let backoff = cfg.reconnect_min;
        let want_active = cfg.auto_activate;
        Asp {
            cfg,
            state: AspState::Down,
            running: false,
            connected: false,
            want_active,
            pending: None,
            beat_seq: 0,
            beats_outstanding: 0,
            backoff,
            dests: DestinationTable::default(),
            as_status: None,
            actions: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &AspConfig {
        &self.cfg
    }
    pub fn state(&self) -> AspState {
        self.state
    }
    /// True while the transport is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }
    /// Last AS state the SGP reported with NTFY (RFC 4666 §3.8.2).
    pub fn as_status(&self) -> Option<Status> {
        self.as_status
    }
    /// What SSNM said about `dpc`.
    pub fn destination_status(&self, dpc: u32) -> DestinationStatus {
        self.dests.status(dpc)
    }
    pub fn destinations(&self) -> &DestinationTable {
        &self.dests
    }

    /// Next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ---- management requests ----

    /// Starts the ASP: connect, then ASPUP (and ASPAC if `auto_activate`).
    pub fn start(&mut self) {
        if self.running {
            return;
        }
        self.running = true;
        if !self.connected {
            self.actions.push_back(Action::Connect);
        }
    }

    /// Requests ASP-ACTIVE (RFC 4666 §4.3.4.3).
    pub fn activate(&mut self) {
        self.want_active = true;
        if self.state == AspState::Inactive && self.pending.is_none() {
            self.send_pending(PendingKind::Active);
        }
    }

    /// Requests ASP-INACTIVE (RFC 4666 §4.3.4.4).
    pub fn deactivate(&mut self) {
        self.want_active = false;
        if self.state == AspState::Active
            && !matches!(
                self.pending,
                Some((PendingKind::Inactive | PendingKind::Down, _))
            )
        {
            self.send_pending(PendingKind::Inactive);
        }
    }

    /// Stops the ASP: ASPDN, then close the transport; no reconnect (RFC 4666 §4.3.4.2).
    pub fn stop(&mut self) {
        self.running = false;
        self.push(Action::StopTimer(Timer::Reconnect));
        if self.connected && self.state != AspState::Down {
            self.send_pending(PendingKind::Down);
        } else if self.connected {
            self.close();
        }
    }

    /// MTP-TRANSFER request: sends DATA on the stream chosen from the SLS. Fails fast when the
    /// ASP is not active or the DPC is unavailable (DUNA).
    pub fn transfer(&mut self, protocol_data: ProtocolData) -> Result<(), TransferError> {
        if self.state != AspState::Active {
            return Err(TransferError::NotActive(self.state));
        }
        let dpc = protocol_data.dpc;
        if self.dests.status(dpc).reachability == Reachability::Unavailable {
            return Err(TransferError::DestinationUnavailable { dpc });
        }
        let stream = self.data_stream(protocol_data.sls);
        let message = Message::Data(Data {
            network_appearance: self.cfg.network_appearance,
            routing_context: self.cfg.routing_contexts.first().copied(),
            protocol_data,
            correlation_id: None,
        });
        self.push(Action::Send { stream, message });
        Ok(())
    }

    /// Asks the SGP for the state of destinations (DAUD, RFC 4666 §3.4.3).
    pub fn audit(&mut self, affected: Vec<AffectedPointCode>) {
        if self.state == AspState::Down || affected.is_empty() {
            return;
        }
        let message = Message::DestinationStateAudit(Ssnm {
            network_appearance: self.cfg.network_appearance,
            routing_context: self.cfg.routing_contexts.clone(),
            affected_point_codes: affected,
            info_string: None,
        });
        self.push(Action::Send { stream: 0, message });
    }

    /// The DATA stream for an SLS: never stream 0 (RFC 4666 §1.4.7).
    pub fn data_stream(&self, sls: u8) -> u16 {
        1 + u16::from(sls) % self.cfg.data_streams.max(1)
    }

    // ---- transport events ----

    /// The transport is connected: send ASPUP (RFC 4666 §4.3.4.1).
    pub fn transport_up(&mut self) {
        self.connected = true;
        self.push(Action::StopTimer(Timer::Reconnect));
        if !self.running {
            self.close();
            return;
        }
        self.send_pending(PendingKind::Up);
    }

    /// The transport was lost or could not be opened: ASP-DOWN, reconnect after backoff.
    pub fn transport_down(&mut self) {
        self.connected = false;
        self.go_down();
        self.schedule_reconnect();
    }

    // ---- messages ----

    /// Decodes and handles one received message; a malformed one is answered with ERR.
    pub fn handle_bytes(&mut self, stream: u16, bytes: &[u8]) {
        match Message::parse(bytes) {
            Ok(m) => self.handle_message(stream, m),
            Err(e) => self.decode_failed(e, bytes),
        }
    }

    /// As [`Asp::handle_bytes`] without copying the payload out of `bytes`.
    pub fn handle_shared(&mut self, stream: u16, bytes: &Bytes) {
        match Message::parse_bytes(bytes) {
            Ok(m) => self.handle_message(stream, m),
            Err(e) => self.decode_failed(e, bytes),
        }
    }

    fn decode_failed(&mut self, e: DecodeError, bytes: &[u8]) {
        self.send_error(e.error_code(), Some(bytes));
        self.event(AspEvent::DecodeFailed(e));
    }

    /// Handles one received message.
    pub fn handle_message(&mut self, stream: u16, msg: Message) {
        use PendingKind as P;
        let pending = self.pending.map(|(k, _)| k);
        match msg {
            Message::Data(d) => {
                // RFC 4666 §1.4.7: DATA never on stream 0.
                if stream == 0 {
                    self.send_error(ErrorCode::INVALID_STREAM_IDENTIFIER, None);
                } else if self.state != AspState::Active {
                    self.unexpected("DATA");
                } else if d.routing_context.is_some_and(|rc| {
                    !self.cfg.routing_contexts.is_empty()
                        && !self.cfg.routing_contexts.contains(&rc)
                }) {
                    self.send_error(ErrorCode::INVALID_ROUTING_CONTEXT, None);
                } else {
                    self.event(AspEvent::Transfer(d));
                }
            }
            Message::AspUpAck(_) => match (self.state, pending) {
                (AspState::Down, Some(P::Up)) => {
                    self.clear_pending();
                    self.backoff = self.cfg.reconnect_min;
                    self.set_state(AspState::Inactive);
                    self.start_beat();
                    if self.want_active {
                        self.send_pending(P::Active);
                    }
                }
                // A late duplicate after a retransmitted ASPUP.
                (AspState::Inactive | AspState::Active, _) => {}
                _ => self.unexpected("ASPUP_ACK"),
            },
            Message::AspActiveAck(ack) => match (self.state, pending) {
                (AspState::Inactive, Some(P::Active)) => {
                    self.clear_pending();
                    if let Some(t) = ack.traffic_mode_type
                        && t != self.cfg.traffic_mode_type
                    {
                        tracing::warn!(?t, "SGP acknowledged ASPAC with another traffic mode");
                    }
                    self.set_state(AspState::Active);
                }
                (AspState::Active, _) => {}
                _ => self.unexpected("ASPAC_ACK"),
            },
            Message::AspInactiveAck(_) => match (self.state, pending) {
                (AspState::Active, Some(P::Inactive)) => {
                    self.clear_pending();
                    self.set_state(AspState::Inactive);
                }
                (AspState::Inactive, _) => {}
                _ => self.unexpected("ASPIA_ACK"),
            },
            Message::AspDownAck(_) => {
                if pending == Some(P::Down) {
                    self.clear_pending();
                    self.close();
                } else if self.state != AspState::Down {
                    // RFC 4666 §4.3.4.2: an unsolicited ASPDN_ACK (e.g. management blocking)
                    // takes the ASP down; start over after the backoff.
                    self.close();
                    self.schedule_reconnect();
                }
            }
            Message::Heartbeat(b) => {
                // RFC 4666 §3.5.6: echo the Heartbeat Data unchanged.
                self.send(0, Message::HeartbeatAck(b));
            }
            Message::HeartbeatAck(b) => {
                let expect = self.beat_seq.to_be_bytes();
                if b.heartbeat_data.as_deref() == Some(&expect[..]) {
                    self.beats_outstanding = 0;
                }
            }
            Message::Notify(n) => {
                if n.status.status_type == 1 {
                    self.as_status = Some(n.status);
                }
                // RFC 4666 §4.3.4.3: in override mode the replaced ASP is now inactive.
                if n.status == Status::ALTERNATE_ASP_ACTIVE && self.state == AspState::Active {
                    self.set_state(AspState::Inactive);
                }
                self.event(AspEvent::Notify(n.status));
            }
            Message::Error(e) => self.event(AspEvent::PeerError(e)),
            Message::DestinationUnavailable(s) => self.reach(s, Reachability::Unavailable),
            Message::DestinationAvailable(s) => self.reach(s, Reachability::Available),
            Message::DestinationRestricted(s) => self.reach(s, Reachability::Restricted),
            Message::SignallingCongestion(s) => {
                if self.state == AspState::Down {
                    return self.unexpected("SCON");
                }
                let level = s.congestion_level.unwrap_or(1);
                self.dests.set_congestion(&s.affected_point_codes, level);
                self.event(AspEvent::Congestion {
                    affected: s.affected_point_codes,
                    level,
                });
            }
            Message::DestinationUserPartUnavailable(d) => {
                if self.state == AspState::Down {
                    return self.unexpected("DUPU");
                }
                self.event(AspEvent::UserPartUnavailable {
                    point_code: d.affected_point_code.point_code,
                    user_cause: d.user_cause,
                });
            }
            // Messages only an ASP sends (RFC 4666 §4.3.4, §4.5.3).
            m @ (Message::AspUp(_)
            | Message::AspDown(_)
            | Message::AspActive(_)
            | Message::AspInactive(_)
            | Message::DestinationStateAudit(_)) => self.unexpected(m.abbr()),
        }
    }

    // ---- timers ----

    pub fn handle_timeout(&mut self, timer: Timer) {
        match timer {
            Timer::Reconnect => {
                if self.running && !self.connected {
                    self.push(Action::Connect);
                }
            }
            Timer::Ack => {
                let Some((kind, tries)) = self.pending else {
                    return;
                };
                if tries >= self.cfg.max_retransmissions {
                    self.event(AspEvent::AckTimeout(kind.abbr()));
                    self.pending = None;
                    self.close();
                    self.schedule_reconnect();
                } else {
                    self.pending = Some((kind, tries + 1));
                    self.transmit_pending(kind);
                }
            }
            Timer::Beat => {
                let Some(interval) = self.cfg.beat_interval else {
                    return;
                };
                if !self.connected || self.state == AspState::Down {
                    return;
                }
                if self.beats_outstanding >= self.cfg.beat_loss_threshold {
                    self.event(AspEvent::HeartbeatLost);
                    self.close();
                    self.schedule_reconnect();
                    return;
                }
                self.beat_seq += 1;
                self.beats_outstanding += 1;
                let data = Bytes::copy_from_slice(&self.beat_seq.to_be_bytes());
                self.send(
                    0,
                    Message::Heartbeat(Heartbeat {
                        heartbeat_data: Some(data),
                    }),
                );
                self.push(Action::StartTimer {
                    timer: Timer::Beat,
                    after: interval,
                });
            }
        }
    }

    // ---- internals ----

    fn push(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    fn event(&mut self, e: AspEvent) {
        self.push(Action::Event(e));
    }

    fn send(&mut self, stream: u16, message: Message) {
        self.push(Action::Send { stream, message });
    }

    fn send_error(&mut self, code: ErrorCode, diagnostic: Option<&[u8]>) {
        // RFC 4666 §3.8.1: Diagnostic Information carries (the start of) the offending message.
        let diagnostic_information =
            diagnostic.map(|d| Bytes::copy_from_slice(&d[..d.len().min(64)]));
        self.send(
            0,
            Message::Error(ErrorMsg {
                error_code: code,
                diagnostic_information,
                ..ErrorMsg::default()
            }),
        );
    }

    fn unexpected(&mut self, abbr: &'static str) {
        self.send_error(ErrorCode::UNEXPECTED_MESSAGE, None);
        self.event(AspEvent::Unexpected(abbr));
    }

    fn reach(&mut self, s: Ssnm, r: Reachability) {
        if self.state == AspState::Down {
            return self.unexpected("SSNM");
        }
        self.dests.set_reachability(&s.affected_point_codes, r);
        self.event(AspEvent::Reachability {
            affected: s.affected_point_codes,
            reachability: r,
        });
    }

    fn set_state(&mut self, to: AspState) {
        let from = self.state;
        if from != to {
            self.state = to;
            if to == AspState::Down {
                self.dests.clear();
                self.as_status = None;
            }
            self.event(AspEvent::StateChanged { from, to });
        }
    }

    fn send_pending(&mut self, kind: PendingKind) {
        self.pending = Some((kind, 0));
        self.transmit_pending(kind);
    }

    fn transmit_pending(&mut self, kind: PendingKind) {
        let message = match kind {
            PendingKind::Up => Message::AspUp(AspUp {
                asp_identifier: self.cfg.asp_identifier,
                info_string: None,
            }),
            PendingKind::Active => Message::AspActive(AspActive {
                traffic_mode_type: Some(self.cfg.traffic_mode_type),
                routing_context: self.cfg.routing_contexts.clone(),
                info_string: None,
            }),
            PendingKind::Inactive => Message::AspInactive(AspInactive {
                routing_context: self.cfg.routing_contexts.clone(),
                info_string: None,
            }),
            PendingKind::Down => Message::AspDown(AspDown { info_string: None }),
        };
        self.send(0, message);
        self.push(Action::StartTimer {
            timer: Timer::Ack,
            after: self.cfg.ack_timeout,
        });
    }

    fn clear_pending(&mut self) {
        self.pending = None;
        self.push(Action::StopTimer(Timer::Ack));
    }

    fn start_beat(&mut self) {
        self.beats_outstanding = 0;
        if let Some(after) = self.cfg.beat_interval {
            self.push(Action::StartTimer {
                timer: Timer::Beat,
                after,
            });
        }
    }

    /// Leaves every state for ASP-DOWN and stops the association's timers.
    fn go_down(&mut self) {
        self.pending = None;
        self.push(Action::StopTimer(Timer::Ack));
        self.push(Action::StopTimer(Timer::Beat));
        self.set_state(AspState::Down);
    }

    /// ASP-DOWN and close the transport ourselves.
    fn close(&mut self) {
        self.go_down();
        if self.connected {
            self.connected = false;
            self.push(Action::Disconnect);
        }
    }

    fn schedule_reconnect(&mut self) {
        if !self.running {
            return;
        }
        let after = self.backoff;
        self.backoff = (self.backoff * 2).min(self.cfg.reconnect_max);
        self.push(Action::StartTimer {
            timer: Timer::Reconnect,
            after,
        });
    }
}
