//! What goes into the [`crate::Engine`] and what comes out.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Circuit identification code (Q.763 §1.2, 12 bits in the ITU variant).
pub type Cic = u16;

/// A circuit: its CIC together with the far end's signalling point code. A CIC is unique only
/// within the signalling relation between two exchanges (Q.763 §1.2, Q.704 §2.2), so trunk
/// groups toward different exchanges reuse CIC numbers. `dpc` is the DPC of the messages we send
/// on the circuit and the OPC of those we receive on it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct CircuitId {
    pub dpc: u32,
    pub cic: Cic,
}

impl std::fmt::Display for CircuitId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.dpc, self.cic)
    }
}

/// Identifies one call inside the engine (for timers and records).
pub type CallRef = u64;

/// Input events.
#[derive(Debug, Clone)]
pub enum Event {
    /// An ISUP message received on a circuit (call-control messages: IAM, ACM, CPG, ANM, CON,
    /// REL, RLC, SUS, RES, INR, INF, FAC, USR, APM…; circuit maintenance stays in the runtime).
    Isup {
        circuit: CircuitId,
        msg: isup::Message,
    },
    /// A request from the SIP transaction layer: an out-of-dialog INVITE, or an in-dialog BYE,
    /// CANCEL, INFO, PRACK, ACK, UPDATE. `peer` is the configured peer the runtime matched by
    /// source address; `None` lets the engine match the top Via's sent-by host.
    SipRequest {
        request: sip::Request,
        peer: Option<String>,
    },
    /// A response to a request the engine sent (2xx retransmissions included: they are re-ACKed).
    SipResponse(sip::Response),
    /// A client transaction the engine started timed out (timer B/F) or failed at transport
    /// level: handled like 408 (cause 102). `method: ACK` reports that the runtime gave up
    /// retransmitting a 2xx to INVITE without ACK (RFC 3261 §13.3.1.4): the call is cleared.
    SipTimeout {
        call_id: String,
        method: sip::Method,
    },
    /// A timer the engine started has fired.
    Timer(TimerKey),
    /// Operator: release the call on `circuit` with `cause` (REL toward ISUP, BYE/CANCEL/error
    /// toward SIP).
    ReleaseCall { circuit: CircuitId, cause: u8 },
    /// Maintenance reset the circuit (RSC/GRS received or sent): the call on it is cleared toward
    /// SIP without REL (Q.764 §2.10.3: reset clears the call as if released); the circuit
    /// manager owns the circuit from now on, so no `CircuitIdle` follows.
    CircuitReset { circuit: CircuitId },
    /// The signalling route to the far end is lost (M3UA association down, no ASP active): no
    /// REL can be sent or received any more, so every call is cleared toward SIP with cause 38
    /// (network out of order, Q.850 §2.2.7) and no REL/RLC; the circuits stay with the circuit
    /// manager, whose GRS on recovery realigns both ends (Q.764 §2.10.3.1 d)), so no
    /// `CircuitIdle` follows.
    SignallingLost,
    /// Dual seizure (Q.764 §2.10.1.4): the outgoing call on `circuit` lost; it seizes another
    /// circuit and re-sends its IAM (automatic repeat attempt). The runtime passes the winning
    /// incoming IAM afterwards as an ordinary `Isup` event.
    Reattempt { circuit: CircuitId },
    /// Q.764 §2.8.2.1 c): the far end blocked `circuit` after our IAM and before any backward
    /// message. The circuit is released normally (REL with `cause`, RLC, T1/T5) and the call is
    /// repeated on another circuit, unseen by SIP (automatic repeat attempt, §2.8.1).
    RepeatAttempt { circuit: CircuitId, cause: u8 },
}

/// Output actions, in the order they must be performed.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send an ISUP message on a circuit.
    SendIsup {
        circuit: CircuitId,
        msg: isup::Message,
    },
    /// Send a request to `peer` (configured peer name). INVITE/BYE/CANCEL/INFO/PRACK get a client
    /// transaction; ACK is sent as is (RFC 3261 §17.1.1.3: ACK for 2xx is not a transaction).
    SendRequest {
        peer: String,
        request: sip::Request,
    },
    /// Send a response through the server transaction it answers (top Via branch + method).
    /// A 2xx to INVITE must be retransmitted by the runtime until ACK (`sip::dialog::Retransmit2xx`).
    SendResponse(sip::Response),
    StartTimer {
        key: TimerKey,
        after: Duration,
    },
    StopTimer {
        key: TimerKey,
    },
    /// The call is done with the circuit (RLC sent or received): the runtime frees it.
    CircuitIdle {
        circuit: CircuitId,
    },
    /// Maintenance needed: T5 expired without RLC (Q.764 §2.9.6: RSC sent, T17 running); the
    /// circuit stays out of service for new calls until RLC. Informational (alarm).
    MaintenanceAlert {
        circuit: CircuitId,
        reason: &'static str,
    },
    /// A call ended.
    CallRecord(CallRecord),
}

/// Timers are per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerKey {
    pub call: CallRef,
    pub timer: TimerKind,
}

/// The timers the engine runs (Q.764 Annex A names; `Rel1xx` is the RFC 3262 retransmission).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    T1,
    T2,
    T5,
    T6,
    T7,
    T8,
    T9,
    T10,
    T11,
    T17,
    Rel1xx,
}

/// Call models (issue 5 item 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallModel {
    /// IAM in → INVITE out.
    PstnOrigination,
    /// INVITE in → IAM out (with an encapsulated IAM: SIP bridging).
    IpOrigination,
}

/// Which side's input ended a call (for `call_releases_total{side}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseSide {
    /// An ISUP message: REL, or a refusal of our IAM.
    Isup,
    /// A SIP message: BYE, CANCEL, or a final error response to our INVITE.
    Sip,
    /// The gateway itself: a timer expiry (T7, T9, T8, SIP timer B…), a circuit reset, transport
    /// loss, an operator release, or a refusal decided while setting up the call (no circuit,
    /// bad number, incompatible media).
    Gateway,
}

impl ReleaseSide {
    /// Lower-case label (`isup`, `sip`, `gateway`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseSide::Isup => "isup",
            ReleaseSide::Sip => "sip",
            ReleaseSide::Gateway => "gateway",
        }
    }
}

/// A call in progress, as the runtime sees it (log spans, gauges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    pub call: CallRef,
    pub model: CallModel,
    /// SIP bridging (RFC 3372 §3, PSTN-IP-PSTN): an IP-originated call whose INVITE carried an
    /// encapsulated IAM, i.e. the call came from the PSTN through another gateway.
    pub bridged: bool,
    pub circuit: Option<CircuitId>,
    pub call_id: String,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered, then cleared.
    Answered,
    /// The called side refused (busy, unallocated, no answer, …).
    Rejected,
    /// The caller gave up before answer.
    Abandoned,
    /// Gateway or network failure (no circuit, timer expiry, protocol error, reset).
    Failed,
}

/// Call detail record (metrics are derived from these).
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub call: CallRef,
    pub model: CallModel,
    pub circuit: Option<CircuitId>,
    pub call_id: String,
    pub outcome: Outcome,
    /// Q.850 cause of the release.
    pub cause: u8,
    /// Final SIP status sent or received, if any.
    pub sip_status: Option<u16>,
    /// Start → first backward progress (ACM/18x).
    pub setup_time: Option<Duration>,
    /// Start → answer.
    pub answer_time: Option<Duration>,
    /// Answer → release.
    pub duration: Option<Duration>,
    /// SIP bridging (see [`CallSummary::bridged`]).
    pub bridged: bool,
    /// The side whose input ended the call.
    pub released_by: ReleaseSide,
}

/// Circuit selection for calls toward the PSTN. The engine only seizes; circuits come back
/// through [`Action::CircuitIdle`], on which the runtime calls `release`.
pub trait CircuitPool {
    /// Seize an idle circuit of the trunk group.
    fn seize(&mut self, trunk_group: &str) -> Option<CircuitId>;
    /// Return a circuit.
    fn release(&mut self, circuit: CircuitId);
}

/// In-memory pool for tests: circuits per trunk group, seized in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct MemoryPool {
    free: BTreeMap<String, VecDeque<CircuitId>>,
    owner: BTreeMap<CircuitId, String>,
}

impl MemoryPool {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, tg: &str, circuits: impl IntoIterator<Item = CircuitId>) {
        for c in circuits {
            self.free.entry(tg.into()).or_default().push_back(c);
            self.owner.insert(c, tg.into());
        }
    }
    pub fn free_count(&self, tg: &str) -> usize {
        self.free.get(tg).map_or(0, VecDeque::len)
    }
    /// The idle circuits of a trunk group, in seizure order.
    pub fn free_circuits(&self, tg: &str) -> Vec<CircuitId> {
        self.free
            .get(tg)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }
    /// Mark a circuit busy (seized by the far end with an IAM).
    pub fn take(&mut self, circuit: CircuitId) {
        if let Some(q) = self
            .owner
            .get(&circuit)
            .and_then(|tg| self.free.get_mut(tg))
        {
            q.retain(|c| *c != circuit);
        }
    }
}

impl CircuitPool for MemoryPool {
    fn seize(&mut self, trunk_group: &str) -> Option<CircuitId> {
        self.free.get_mut(trunk_group)?.pop_front()
    }
    fn release(&mut self, circuit: CircuitId) {
        if let Some(tg) = self.owner.get(&circuit) {
            let q = self.free.entry(tg.clone()).or_default();
            if !q.contains(&circuit) {
                q.push_back(circuit);
            }
        }
    }
}
