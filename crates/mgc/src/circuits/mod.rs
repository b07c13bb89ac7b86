//! The circuit manager: trunk groups, per-circuit state and the ISUP circuit maintenance
//! procedures of ITU-T Q.764, sans-IO.
//!
//! [`CircuitManager`] owns every circuit of the gateway. It takes events — a maintenance message
//! from the network ([`CircuitManager::on_message`]), a call-control hook
//! ([`CircuitManager::seize_outgoing`], [`CircuitManager::incoming_iam`],
//! [`CircuitManager::first_backward_message`], [`CircuitManager::call_released`]), a timer that
//! fired ([`CircuitManager::timer_fired`]), the transport coming up or going down, an operator
//! command — and queues [`Action`]s that the runtime drains with [`CircuitManager::poll_action`]:
//! messages to send, timers to start and stop, calls to drop, calls to re-attempt, state changes
//! for metrics and maintenance alerts. There are no sockets, clocks or tasks inside.
//!
//! Procedures (ITU-T Q.764 (12/1999)):
//! - §2.8.1 automatic repeat attempt, §2.9.1 dual seizure (the higher point code controls the
//!   even CICs; the loser backs off and re-attempts);
//! - §2.8.2 blocking and unblocking of circuits (BLO/BLA, UBL/UBA) and circuit groups
//!   (CGB/CGBA, CGU/CGUA, maintenance or hardware-failure oriented), §2.9.4 T12–T15, T18–T21;
//! - §2.8.3 circuit group query (CQM/CQR, T28);
//! - §2.9.3 reset of circuits (RSC, T16/T17) and circuit groups (GRS/GRA, T22/T23);
//! - §2.9.6 failure to receive RLC (T5 expiry → RSC with T17 only);
//! - §2.12 unequipped CIC (UCIC).
//!
//! ```
//! use mgc::circuits::{Action, CircuitManager, CircuitsConfig, IamVerdict};
//! use isup::{Message, MessageType, RangeAndStatus};
//!
//! let config: CircuitsConfig = toml::from_str(r#"
//!     own_point_code = 100
//!     [[trunk_groups]]
//!     name = "pstn"
//!     dpc = 200
//!     cics = "1-31"
//! "#).unwrap();
//! let mut circuits = CircuitManager::new(&config).unwrap();
//!
//! // M3UA is up: every group is reset with GRS (Q.764 §2.9.3.2).
//! circuits.transport_up();
//! let mut grs = None;
//! while let Some(action) = circuits.poll_action() {
//!     if let Action::Send { circuit, message } = action {
//!         assert_eq!(message.message_type, MessageType::GRS);
//!         grs = Some(circuit);
//!     }
//! }
//! // The far end acknowledges with GRA (no circuit blocked on its side).
//! let first = grs.unwrap();
//! let gra = Message::new(MessageType::GRA).with(RangeAndStatus::with_status(&[false; 31]));
//! circuits.on_message(first.dpc, first.cic, &gra);
//! assert!(circuits.all_idle());
//!
//! // An outgoing call takes a circuit; an IAM from the far end takes another.
//! let group = circuits.group("pstn").unwrap();
//! let out = circuits.seize_outgoing(group).unwrap();
//! assert_eq!(circuits.incoming_iam(200, 2), IamVerdict::Accept);
//! circuits.call_released(out);
//! circuits.call_released(mgc::circuits::CircuitId { dpc: 200, cic: 2 });
//! assert!(circuits.all_idle());
//! ```

mod config;
mod manager;
mod state;

#[cfg(test)]
mod tests;

pub use config::{
    CicRanges, CircuitsConfig, ConfigError, Direction, MAX_CIC, MAX_POINT_CODE, SelectionPolicy,
    TimerConfig, TrunkGroupConfig,
};
pub use manager::CircuitManager;
pub use state::{
    CallState, CircuitState, CircuitStatus, RemoteCircuitState, circuit_state_indicator,
    decode_circuit_state_indicator,
};

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A circuit: the CIC is unique only together with the far end's point code (Q.763 §1.2). The
/// same type identifies circuits in the interworking engine, so a circuit flows unchanged from
/// the manager through the engine and back.
pub use iwu::CircuitId;

/// Index of a trunk group in the configuration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrunkGroupId(pub usize);

/// The Q.764 timers the circuit manager runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    /// BLO sent → repeat BLO.
    T12,
    /// First BLO sent → repeat BLO, alert, stop T12.
    T13,
    /// UBL sent → repeat UBL.
    T14,
    /// First UBL sent → repeat UBL, alert, stop T14.
    T15,
    /// RSC sent → repeat RSC.
    T16,
    /// First RSC sent → repeat RSC, alert, stop T16.
    T17,
    /// CGB sent → repeat CGB.
    T18,
    /// First CGB sent → repeat CGB, alert, stop T18.
    T19,
    /// CGU sent → repeat CGU.
    T20,
    /// First CGU sent → repeat CGU, alert, stop T20.
    T21,
    /// GRS sent → repeat GRS.
    T22,
    /// First GRS sent → repeat GRS, alert, stop T22.
    T23,
    /// CQM sent → alert if no CQR.
    T28,
}

impl Timer {
    pub const ALL: [Timer; 13] = [
        Timer::T12,
        Timer::T13,
        Timer::T14,
        Timer::T15,
        Timer::T16,
        Timer::T17,
        Timer::T18,
        Timer::T19,
        Timer::T20,
        Timer::T21,
        Timer::T22,
        Timer::T23,
        Timer::T28,
    ];
}

/// Identifies one running timer: which timer, on which circuit (for group procedures the first
/// CIC of the range). Starting a key that is already running restarts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerKey {
    pub timer: Timer,
    pub circuit: CircuitId,
}

/// The type of a circuit group blocking or unblocking (Q.763 §3.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockingKind {
    /// Type indicator 00: maintenance oriented; calls in progress are not released.
    Maintenance,
    /// Type indicator 01: hardware failure oriented; calls in progress are released.
    HardwareFailure,
}

impl BlockingKind {
    /// The circuit group supervision message type indicator.
    pub fn type_indicator(self) -> u8 {
        match self {
            BlockingKind::Maintenance => 0,
            BlockingKind::HardwareFailure => 1,
        }
    }

    fn from_type_indicator(t: u8) -> Option<Self> {
        match t {
            0 => Some(BlockingKind::Maintenance),
            1 => Some(BlockingKind::HardwareFailure),
            _ => None,
        }
    }
}

/// What the runtime must do. Drain with [`CircuitManager::poll_action`] after every event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send an ISUP message on the circuit (CIC first, M3UA DATA toward `circuit.dpc`).
    Send {
        circuit: CircuitId,
        message: isup::Message,
    },
    /// Start (or restart) a timer; call [`CircuitManager::timer_fired`] with the key when it expires.
    StartTimer { key: TimerKey, duration: Duration },
    /// Stop a timer if it runs.
    StopTimer { key: TimerKey },
    /// Drop the call on the circuit toward SIP **without** REL/RLC on the ISUP side: the circuit was
    /// reset or hardware-blocked under it and is already out of the call. `cause` is the Q.850
    /// cause for the SIP side. Do not call `call_released` for it (doing so is harmless).
    ReleaseCall { circuit: CircuitId, cause: u8 },
    /// Q.764 §2.8.1 automatic repeat attempt: the outgoing call on `circuit` has not had a backward
    /// message and must be re-attempted on another circuit (seize again). If `release` is true the
    /// call still owns the circuit and must clear it in the normal manner (REL, then RLC, then
    /// `call_released`); if false the circuit has already been taken from the call (dual seizure
    /// lost, reset, hardware blocking, unequipped) and no REL is sent.
    Reattempt { circuit: CircuitId, release: bool },
    /// The summary state of a circuit changed (for the `circuits{trunk_group,state}` gauge).
    StateChanged {
        circuit: CircuitId,
        group: TrunkGroupId,
        from: CircuitState,
        to: CircuitState,
    },
    /// Something maintenance staff must hear about.
    Alert(Alert),
    /// A CQR answered our CQM (Q.764 §2.8.3): the far end's view of each circuit of the range.
    QueryResponse {
        first: CircuitId,
        states: Vec<RemoteCircuitState>,
    },
}

/// Maintenance alerts (Q.764 asks to "alert maintenance personnel" in these cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// No acknowledgement within the long timer (T13, T15, T17, T19, T21, T23); the request is
    /// repeated every period of that timer until acknowledged.
    NoAcknowledgement { timer: Timer, circuit: CircuitId },
    /// T5 expired on the circuit: it is being reset (Q.764 §2.9.6).
    ReleaseFailed { circuit: CircuitId },
    /// T28 expired: no CQR for our CQM.
    QueryNotAnswered { first: CircuitId },
    /// The far end answered UCIC: it does not know this circuit (Q.764 §2.12). The circuit is taken
    /// out of service until it is reset.
    FarEndUnequipped { circuit: CircuitId },
    /// A message for a CIC we do not have.
    Unequipped {
        circuit: CircuitId,
        message_type: isup::MessageType,
    },
    /// A message that does not fit the procedure state or has unreasonable content (Q.764 §2.9.5);
    /// it was discarded.
    Discarded {
        circuit: CircuitId,
        message_type: isup::MessageType,
        reason: &'static str,
    },
}

impl std::fmt::Display for Alert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Alert::NoAcknowledgement { timer, circuit } => write!(
                f,
                "circuit {circuit}: no acknowledgement before {timer:?} expired; request repeated"
            ),
            Alert::ReleaseFailed { circuit } => {
                write!(f, "circuit {circuit}: no RLC before T5, circuit reset")
            }
            Alert::QueryNotAnswered { first } => {
                write!(f, "circuit {first}: no CQR before T28")
            }
            Alert::FarEndUnequipped { circuit } => write!(
                f,
                "circuit {circuit}: far end answered UCIC, circuit out of service until reset"
            ),
            Alert::Unequipped {
                circuit,
                message_type,
            } => write!(f, "circuit {circuit}: {message_type} for an unequipped CIC"),
            Alert::Discarded {
                circuit,
                message_type,
                reason,
            } => write!(f, "circuit {circuit}: {message_type} discarded: {reason}"),
        }
    }
}

/// The circuit manager's answer to an incoming IAM ([`CircuitManager::incoming_iam`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamVerdict {
    /// A new incoming call: the circuit is now busy incoming. Process the IAM.
    Accept,
    /// Dual seizure, and the far end controls the circuit (Q.764 §2.9.1.4): our outgoing call
    /// backed off (an [`Action::Reattempt`] with `release: false` is queued) and the received IAM
    /// is processed as a new incoming call; the circuit is busy incoming.
    AcceptAfterDualSeizure,
    /// Dual seizure, and we control the circuit: discard the received IAM; our call goes on.
    DualSeizureIgnore,
    /// The call cannot be accepted on this circuit: release it with REL and this Q.850 cause (the
    /// circuit is busy incoming until `call_released`).
    Reject { cause: u8 },
    /// Discard the IAM without answer (reset in progress, locally blocked — BLO is repeated —,
    /// or the circuit already carries a call).
    Discard,
    /// The CIC is not equipped: discard the IAM (UCIC is queued when configured).
    Unequipped,
}

/// What [`CircuitManager::on_message`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A circuit supervision message, handled (or discarded) here.
    Consumed,
    /// A call-control message on an equipped circuit: pass it to the call layer (an IAM must go
    /// through [`CircuitManager::incoming_iam`] first).
    CallControl,
    /// The CIC is not equipped: discard it (UCIC is queued when configured).
    Unequipped,
}

/// Q.850 cause 41 (temporary failure), given to the SIP side for calls dropped by a reset or a
/// hardware-failure blocking.
pub const CAUSE_TEMPORARY_FAILURE: u8 = 41;
/// Q.850 cause 44 (requested circuit/channel not available), for an IAM on an outgoing-only group.
pub const CAUSE_CIRCUIT_NOT_AVAILABLE: u8 = 44;
