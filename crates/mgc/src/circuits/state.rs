//! Per-circuit state and its two external views: the summary [`CircuitState`] (metrics, CLI) and
//! the Q.763 §3.14 circuit state indicator octet (CQR).

use super::{CircuitId, TrunkGroupId};
use serde::Serialize;

/// The call-processing side of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Idle,
    /// The far end seized the circuit (IAM received).
    Incoming,
    /// We seized the circuit; `backward` once the first backward message arrived (ACM, CON, ANM,
    /// CPG…), after which a received IAM is no longer a dual seizure.
    Outgoing {
        backward: bool,
    },
}

/// One summary state per circuit, for metrics and the CLI. When several conditions hold the first
/// in this order wins: unequipped, reset pending, busy, locally blocked, remotely blocked, idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Idle,
    BusyIncoming,
    BusyOutgoing,
    LocallyBlocked,
    RemotelyBlocked,
    ResetPending,
    /// The far end answered UCIC for this circuit.
    Unequipped,
}

impl CircuitState {
    pub const ALL: [CircuitState; 7] = [
        CircuitState::Idle,
        CircuitState::BusyIncoming,
        CircuitState::BusyOutgoing,
        CircuitState::LocallyBlocked,
        CircuitState::RemotelyBlocked,
        CircuitState::ResetPending,
        CircuitState::Unequipped,
    ];

    /// The snake_case label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Idle => "idle",
            CircuitState::BusyIncoming => "busy_incoming",
            CircuitState::BusyOutgoing => "busy_outgoing",
            CircuitState::LocallyBlocked => "locally_blocked",
            CircuitState::RemotelyBlocked => "remotely_blocked",
            CircuitState::ResetPending => "reset_pending",
            CircuitState::Unequipped => "unequipped",
        }
    }
}

impl std::fmt::Display for CircuitState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of one circuit, for the CLI and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitStatus {
    pub circuit: CircuitId,
    #[serde(skip)]
    pub group: TrunkGroupId,
    pub state: CircuitState,
    pub call: CallState,
    /// We blocked the circuit for maintenance (BLO or maintenance CGB).
    pub locally_blocked_maintenance: bool,
    /// We blocked the circuit for a hardware failure (hardware CGB).
    pub locally_blocked_hardware: bool,
    /// The far end blocked it for maintenance (BLO or maintenance CGB received).
    pub remotely_blocked_maintenance: bool,
    /// The far end blocked it for a hardware failure (hardware CGB received).
    pub remotely_blocked_hardware: bool,
    /// RSC or GRS sent, acknowledgement awaited.
    pub reset_pending: bool,
    /// The far end answered UCIC.
    pub far_end_unequipped: bool,
    /// A blocking, unblocking or reset procedure awaits its acknowledgement.
    pub awaiting_acknowledgement: bool,
}

/// Which reset covers a circuit while its acknowledgement is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reset {
    None,
    /// RSC sent (with T16 and T17, or T17 only after T5, Q.764 §2.9.6).
    Rsc,
    /// GRS sent for the range starting at this CIC.
    Grs {
        first: u16,
    },
}

/// The single-circuit blocking procedure awaiting its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Single {
    None,
    Blo,
    Ubl,
}

#[derive(Debug, Clone)]
pub(crate) struct Circuit {
    pub id: CircuitId,
    pub group: TrunkGroupId,
    pub call: CallState,
    pub local_maintenance: bool,
    pub local_hardware: bool,
    pub remote_maintenance: bool,
    pub remote_hardware: bool,
    pub reset: Reset,
    pub single: Single,
    pub far_end_unequipped: bool,
    /// Number of group procedures (CGB/CGU) awaiting acknowledgement that cover this circuit.
    pub group_pending: u16,
    /// Release sequence number, for least-recently-used selection.
    pub released_at: u64,
}

impl Circuit {
    pub fn new(id: CircuitId, group: TrunkGroupId) -> Self {
        Circuit {
            id,
            group,
            call: CallState::Idle,
            local_maintenance: false,
            local_hardware: false,
            remote_maintenance: false,
            remote_hardware: false,
            reset: Reset::None,
            single: Single::None,
            far_end_unequipped: false,
            group_pending: 0,
            released_at: 0,
        }
    }

    pub fn locally_blocked(&self) -> bool {
        self.local_maintenance || self.local_hardware
    }

    pub fn remotely_blocked(&self) -> bool {
        self.remote_maintenance || self.remote_hardware
    }

    pub fn summary(&self) -> CircuitState {
        if self.far_end_unequipped {
            CircuitState::Unequipped
        } else if self.reset != Reset::None {
            CircuitState::ResetPending
        } else if self.call == CallState::Incoming {
            CircuitState::BusyIncoming
        } else if matches!(self.call, CallState::Outgoing { .. }) {
            CircuitState::BusyOutgoing
        } else if self.locally_blocked() {
            CircuitState::LocallyBlocked
        } else if self.remotely_blocked() {
            CircuitState::RemotelyBlocked
        } else {
            CircuitState::Idle
        }
    }

    /// Free for a new outgoing call (direction and transport are checked by the manager).
    pub fn available(&self) -> bool {
        self.call == CallState::Idle
            && !self.locally_blocked()
            && !self.remotely_blocked()
            && self.reset == Reset::None
            && !self.far_end_unequipped
    }

    /// Nothing at all going on: the "no hung circuits" end state.
    pub fn quiescent(&self) -> bool {
        self.available() && self.single == Single::None && self.group_pending == 0
    }

    pub fn status(&self) -> CircuitStatus {
        CircuitStatus {
            circuit: self.id,
            group: self.group,
            state: self.summary(),
            call: self.call,
            locally_blocked_maintenance: self.local_maintenance,
            locally_blocked_hardware: self.local_hardware,
            remotely_blocked_maintenance: self.remote_maintenance,
            remotely_blocked_hardware: self.remote_hardware,
            reset_pending: self.reset != Reset::None,
            far_end_unequipped: self.far_end_unequipped,
            awaiting_acknowledgement: self.reset != Reset::None
                || self.single != Single::None
                || self.group_pending > 0,
        }
    }

    /// The Q.763 §3.14 circuit state indicator octet for this circuit (group procedures awaiting
    /// acknowledgement are the manager's to check).
    pub fn state_indicator(&self) -> u8 {
        // Q.764 §2.8.3: transient while our IAM awaits its first backward message, while a reset
        // or a (un)blocking awaits its acknowledgement.
        if self.reset != Reset::None
            || self.call == (CallState::Outgoing { backward: false })
            || self.single != Single::None
        {
            return circuit_state_indicator(RemoteCircuitState::Transient);
        }
        let call = match self.call {
            CallState::Incoming => 1,
            CallState::Outgoing { .. } => 2,
            CallState::Idle => 3,
        };
        circuit_state_indicator(RemoteCircuitState::Equipped {
            maintenance_local: self.local_maintenance,
            maintenance_remote: self.remote_maintenance,
            call_processing: call,
            hardware_local: self.local_hardware,
            hardware_remote: self.remote_hardware,
        })
    }
}

/// One circuit state indicator octet (Q.763 §3.14), as the sender of the CQR sees its circuit:
/// "local" is the sender's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteCircuitState {
    /// Call processing state 00, maintenance state 00.
    Transient,
    /// Call processing state 00, maintenance state 11.
    Unequipped,
    Equipped {
        maintenance_local: bool,
        maintenance_remote: bool,
        /// 1 incoming busy, 2 outgoing busy, 3 idle.
        call_processing: u8,
        hardware_local: bool,
        hardware_remote: bool,
    },
    /// Call processing state 00 with maintenance state 01 or 10 (spare codes).
    Spare(u8),
}

/// Encode one circuit state indicator octet (Q.763 §3.14): bits B-A maintenance blocking state,
/// D-C call processing state, F-E hardware blocking state (01 locally, 10 remotely, 11 both).
pub fn circuit_state_indicator(s: RemoteCircuitState) -> u8 {
    let pair = |local: bool, remote: bool| (local as u8) | ((remote as u8) << 1);
    match s {
        RemoteCircuitState::Transient => 0,
        RemoteCircuitState::Unequipped => 3,
        RemoteCircuitState::Spare(v) => v,
        RemoteCircuitState::Equipped {
            maintenance_local,
            maintenance_remote,
            call_processing,
            hardware_local,
            hardware_remote,
        } => {
            pair(maintenance_local, maintenance_remote)
                | ((call_processing & 3) << 2)
                | (pair(hardware_local, hardware_remote) << 4)
        }
    }
}

/// Decode one circuit state indicator octet (Q.763 §3.14); bits H-G are spare and ignored.
pub fn decode_circuit_state_indicator(o: u8) -> RemoteCircuitState {
    let call_processing = (o >> 2) & 3;
    if call_processing == 0 {
        return match o & 3 {
            0 => RemoteCircuitState::Transient,
            3 => RemoteCircuitState::Unequipped,
            _ => RemoteCircuitState::Spare(o & 0x3F),
        };
    }
    RemoteCircuitState::Equipped {
        maintenance_local: o & 1 != 0,
        maintenance_remote: o & 2 != 0,
        call_processing,
        hardware_local: o & 0x10 != 0,
        hardware_remote: o & 0x20 != 0,
    }
}
