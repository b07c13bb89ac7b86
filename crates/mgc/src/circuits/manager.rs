//! [`CircuitManager`]: the state of every circuit and the Q.764 circuit supervision procedures.

use super::config::{
    CircuitsConfig, ConfigError, Direction, MAX_CIC, SelectionPolicy, TimerConfig,
};
use super::state::{
    CallState, Circuit, CircuitState, CircuitStatus, Reset, Single, decode_circuit_state_indicator,
};
use super::{
    Action, Alert, BlockingKind, CAUSE_CIRCUIT_NOT_AVAILABLE, CAUSE_TEMPORARY_FAILURE, CircuitId,
    Disposition, IamVerdict, Timer, TimerKey, TrunkGroupId,
};
use isup::{
    CircuitGroupSupervisionMessageType, CircuitStateIndicator, Message, MessageType, Parameter,
    ParameterCode, ParameterValue, RangeAndStatus,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

/// Circuits per group message: range 1..=31 (Q.763 §3.43, international).
const MAX_GROUP: u16 = 32;

struct Group {
    name: String,
    dpc: u32,
    direction: Direction,
    policy: SelectionPolicy,
    /// Indices into `circuits`, ascending CIC.
    circuits: Vec<usize>,
    /// The available circuits in the order the selection policy takes them (`SelectKey`, then
    /// the circuit index): a seizure is the first entry, not a scan of the group.
    free: BTreeSet<(SelectKey, usize)>,
}

/// Where an available circuit stands in its group's selection order (smallest first).
type SelectKey = (u8, u64, u16);

/// A group procedure awaiting its acknowledgement, keyed by its first circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Procedure {
    Cgb(BlockingKind),
    Cgu(BlockingKind),
    Grs,
    Cqm,
}

impl Procedure {
    /// The short and the long timer (Q.764 §2.9.4, §2.9.3.2, §2.8.3).
    fn timers(self) -> (Timer, Option<Timer>) {
        match self {
            Procedure::Cgb(_) => (Timer::T18, Some(Timer::T19)),
            Procedure::Cgu(_) => (Timer::T20, Some(Timer::T21)),
            Procedure::Grs => (Timer::T22, Some(Timer::T23)),
            Procedure::Cqm => (Timer::T28, None),
        }
    }
}

#[derive(Debug, Clone)]
struct GroupProcedure {
    /// The message sent (repeated as is on timer expiry).
    message: Message,
    range: u8,
    /// Status bits requested (CGB/CGU).
    requested: Vec<bool>,
}

/// The circuits of the gateway and their supervision procedures (sans-IO; see the module docs).
pub struct CircuitManager {
    own_point_code: u32,
    send_ucic: bool,
    timers: TimerConfig,
    groups: Vec<Group>,
    circuits: Vec<Circuit>,
    index: HashMap<CircuitId, usize>,
    procedures: BTreeMap<(CircuitId, Procedure), GroupProcedure>,
    running: HashSet<TimerKey>,
    transport_up: bool,
    /// Destinations the network reported inaccessible (M3UA DUNA, MTP-PAUSE).
    unavailable: HashSet<u32>,
    release_seq: u64,
    actions: VecDeque<Action>,
    /// Per circuit: its entry in its group's `free` set, if it is there.
    free_key: Vec<Option<SelectKey>>,
}

impl CircuitManager {
    /// Build the manager from a validated configuration. Every circuit starts idle; nothing is
    /// sent until [`CircuitManager::transport_up`], which resets every group (Q.764 §2.9.3).
    pub fn new(config: &CircuitsConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut circuits = Vec::new();
        let mut index = HashMap::new();
        let mut groups = Vec::new();
        for (g, tg) in config.trunk_groups.iter().enumerate() {
            let mut members = Vec::new();
            for cic in tg.cics.cics() {
                let id = CircuitId { dpc: tg.dpc, cic };
                index.insert(id, circuits.len());
                members.push(circuits.len());
                circuits.push(Circuit::new(id, TrunkGroupId(g)));
            }
            groups.push(Group {
                name: tg.name.clone(),
                dpc: tg.dpc,
                direction: tg.direction,
                policy: tg.selection,
                circuits: members,
                free: BTreeSet::new(),
            });
        }
        let n = circuits.len();
        let mut manager = CircuitManager {
            own_point_code: config.own_point_code,
            send_ucic: config.send_ucic,
            timers: config.timers.clone(),
            groups,
            circuits,
            index,
            procedures: BTreeMap::new(),
            running: HashSet::new(),
            transport_up: false,
            unavailable: HashSet::new(),
            release_seq: 0,
            actions: VecDeque::new(),
            free_key: vec![None; n],
        };
        for i in 0..n {
            manager.refresh_free(i);
        }
        Ok(manager)
    }

    // ----------------------------------------------------------------------------------------
    // Queries

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Every queued action, in order.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        self.actions.drain(..).collect()
    }

    /// The trunk group with this name.
    pub fn group(&self, name: &str) -> Option<TrunkGroupId> {
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(TrunkGroupId)
    }

    /// The name of a trunk group.
    pub fn group_name(&self, group: TrunkGroupId) -> &str {
        &self.groups[group.0].name
    }

    /// The far-end point code of a trunk group.
    pub fn group_dpc(&self, group: TrunkGroupId) -> u32 {
        self.groups[group.0].dpc
    }

    /// The names of every trunk group, in configuration order.
    pub fn groups(&self) -> impl Iterator<Item = (TrunkGroupId, &str)> {
        self.groups
            .iter()
            .enumerate()
            .map(|(i, g)| (TrunkGroupId(i), g.name.as_str()))
    }

    /// A snapshot of one circuit; `None` if it is not equipped.
    pub fn state(&self, circuit: CircuitId) -> Option<CircuitStatus> {
        self.index.get(&circuit).map(|&i| self.status_of(i))
    }

    /// A snapshot of every circuit of a trunk group, ascending CIC.
    pub fn group_states(&self, group: TrunkGroupId) -> Vec<CircuitStatus> {
        self.groups[group.0]
            .circuits
            .iter()
            .map(|&i| self.status_of(i))
            .collect()
    }

    fn status_of(&self, i: usize) -> CircuitStatus {
        let mut s = self.circuits[i].status();
        s.awaiting_acknowledgement |= self.group_procedure_covers(i);
        s
    }

    fn group_procedure_covers(&self, i: usize) -> bool {
        let id = self.circuits[i].id;
        self.procedures.iter().any(|((first, p), proc)| {
            *p != Procedure::Cqm
                && first.dpc == id.dpc
                && id.cic >= first.cic
                && id.cic - first.cic <= proc.range as u16
        })
    }

    /// Circuits per trunk group and summary state, zeros included (for the
    /// `circuits{trunk_group,state}` gauge).
    pub fn counts_by_state(&self) -> Vec<(&str, CircuitState, usize)> {
        let mut out = Vec::with_capacity(self.groups.len() * CircuitState::ALL.len());
        for g in &self.groups {
            let mut counts = [0usize; CircuitState::ALL.len()];
            for &i in &g.circuits {
                counts[self.circuits[i].summary() as usize] += 1;
            }
            for s in CircuitState::ALL {
                out.push((g.name.as_str(), s, counts[s as usize]));
            }
        }
        out
    }

    /// Number of equipped circuits.
    pub fn len(&self) -> usize {
        self.circuits.len()
    }

    /// True if no circuit is configured.
    pub fn is_empty(&self) -> bool {
        self.circuits.is_empty()
    }

    /// True when every circuit is idle, unblocked on both sides, not being reset and no
    /// procedure awaits an acknowledgement: the "no hung circuits" end state.
    pub fn all_idle(&self) -> bool {
        self.procedures.is_empty() && self.circuits.iter().all(Circuit::quiescent)
    }

    /// The timers currently running (started and neither stopped nor fired).
    pub fn running_timers(&self) -> impl Iterator<Item = &TimerKey> {
        self.running.iter()
    }

    /// Whether the transport toward the network is up.
    pub fn is_transport_up(&self) -> bool {
        self.transport_up
    }

    /// Whether messages can reach this destination (transport up, point code accessible).
    pub fn is_point_code_available(&self, dpc: u32) -> bool {
        self.dpc_up(dpc)
    }

    /// True if this exchange controls the circuit in a dual seizure (Q.764 §2.9.1.4: the
    /// exchange with the higher signalling point code controls the even-numbered CICs, the other
    /// one the odd-numbered CICs).
    pub fn controls(&self, circuit: CircuitId) -> bool {
        (self.own_point_code > circuit.dpc) == circuit.cic.is_multiple_of(2)
    }

    // ----------------------------------------------------------------------------------------
    // Call-control hooks

    /// Seize an idle circuit of the group for an outgoing call; the circuit becomes busy
    /// outgoing. `None` if the transport is down, the group is incoming-only or no circuit is free.
    pub fn seize_outgoing(&mut self, group: TrunkGroupId) -> Option<CircuitId> {
        let g = self.groups.get(group.0)?;
        if !self.dpc_up(g.dpc) || g.direction == Direction::Incoming {
            return None;
        }
        let &(_, pick) = g.free.first()?;
        self.update(pick, |c| c.call = CallState::Outgoing { backward: false });
        Some(self.circuits[pick].id)
    }

    /// An IAM arrived on the circuit `cic` from `opc`: decide what happens to it (dual seizure,
    /// blocking, unequipped CIC). See [`IamVerdict`].
    pub fn incoming_iam(&mut self, opc: u32, cic: u16) -> IamVerdict {
        let id = CircuitId { dpc: opc, cic };
        let Some(&i) = self.index.get(&id) else {
            self.unequipped(id, MessageType::IAM);
            return IamVerdict::Unequipped;
        };
        let c = self.circuits[i].clone();
        if c.reset != Reset::None {
            // Our reset has not been acknowledged yet; the far end clears its call on our RSC/GRS.
            self.discarded(id, MessageType::IAM, "reset in progress");
            return IamVerdict::Discard;
        }
        match c.call {
            CallState::Outgoing { backward: false } => {
                // Q.764 §2.9.1.4: dual seizure.
                if self.controls(id) {
                    IamVerdict::DualSeizureIgnore
                } else {
                    self.update(i, |c| c.call = CallState::Incoming);
                    self.actions.push_back(Action::Reattempt {
                        circuit: id,
                        release: false,
                    });
                    if self.groups[c.group.0].direction == Direction::Outgoing {
                        // The far end owns the circuit now, but may not call on this group.
                        IamVerdict::Reject {
                            cause: CAUSE_CIRCUIT_NOT_AVAILABLE,
                        }
                    } else {
                        IamVerdict::AcceptAfterDualSeizure
                    }
                }
            }
            CallState::Outgoing { backward: true } | CallState::Incoming => {
                self.discarded(id, MessageType::IAM, "circuit already busy");
                IamVerdict::Discard
            }
            CallState::Idle => {
                if c.local_maintenance {
                    // Q.764 §2.8.2: the far end must not seize a circuit we blocked; repeat the
                    // BLO (it makes an automatic repeat attempt and releases its attempt).
                    self.send_blo(i, c.single != Single::Blo);
                    return IamVerdict::Discard;
                }
                if c.local_hardware {
                    self.send_group(Procedure::Cgb(BlockingKind::HardwareFailure), &[i]);
                    return IamVerdict::Discard;
                }
                let outgoing_only = self.groups[c.group.0].direction == Direction::Outgoing;
                self.update(i, |c| {
                    // The far end evidently knows the circuit again.
                    c.far_end_unequipped = false;
                    // Q.764 §2.8.2.3: an IAM on a remotely blocked circuit removes the remote
                    // blocking. Hardware blocking goes too: Q.763 §3.14 allows no call on a
                    // hardware-blocked circuit, and the far end evidently uses it again.
                    c.remote_maintenance = false;
                    c.remote_hardware = false;
                    c.call = CallState::Incoming;
                });
                if outgoing_only {
                    IamVerdict::Reject {
                        cause: CAUSE_CIRCUIT_NOT_AVAILABLE,
                    }
                } else {
                    IamVerdict::Accept
                }
            }
        }
    }

    /// The first backward message (ACM, CON, ANM, CPG…) of our outgoing call arrived: a later IAM
    /// on the circuit is no longer a dual seizure.
    pub fn first_backward_message(&mut self, circuit: CircuitId) {
        if let Some(&i) = self.index.get(&circuit)
            && let CallState::Outgoing { .. } = self.circuits[i].call
        {
            self.circuits[i].call = CallState::Outgoing { backward: true };
        }
    }

    /// The call on the circuit ended (RLC received or sent, or the call was abandoned before its
    /// IAM went out): the circuit returns to idle. Harmless on an idle circuit.
    pub fn call_released(&mut self, circuit: CircuitId) {
        if let Some(&i) = self.index.get(&circuit)
            && self.circuits[i].call != CallState::Idle
        {
            let seq = self.next_seq();
            self.update(i, |c| {
                c.call = CallState::Idle;
                c.released_at = seq;
            });
        }
    }

    /// T5 expired on the circuit (no RLC for our REL, Q.764 §2.9.6): the call layer gave up the
    /// call; reset the circuit with RSC and T17 only, alert maintenance. The circuit stays out
    /// of service until RLC.
    pub fn release_failed(&mut self, circuit: CircuitId) {
        let Some(&i) = self.index.get(&circuit) else {
            return;
        };
        let seq = self.next_seq();
        self.update(i, |c| {
            c.call = CallState::Idle;
            c.released_at = seq;
        });
        self.actions
            .push_back(Action::Alert(Alert::ReleaseFailed { circuit }));
        self.send_rsc(i, false);
    }

    // ----------------------------------------------------------------------------------------
    // Transport

    /// The transport toward the network came up (M3UA ASP active, MTP resume): reset every circuit
    /// with GRS, up to 32 circuits per message (Q.764 §2.9.3.2, on start-up and after a restart).
    pub fn transport_up(&mut self) {
        if self.transport_up {
            return;
        }
        self.transport_up = true;
        for g in 0..self.groups.len() {
            self.reset_group(TrunkGroupId(g));
        }
    }

    /// The transport went down: no new outgoing calls, every supervision timer stops (the GRS on
    /// [`CircuitManager::transport_up`] realigns both ends). Calls are left to the call layer.
    pub fn transport_down(&mut self) {
        if !self.transport_up {
            return;
        }
        self.transport_up = false;
        self.suspend(None);
    }

    /// One destination became inaccessible (M3UA DUNA, MTP-PAUSE, Q.764 §2.14): its circuits
    /// take no new outgoing calls and their supervision procedures stop.
    pub fn point_code_unavailable(&mut self, dpc: u32) {
        if self.unavailable.insert(dpc) && self.transport_up {
            self.suspend(Some(dpc));
        }
    }

    /// The destination is accessible again (M3UA DAVA, MTP-RESUME): its circuits are reset with
    /// GRS, since messages may have been lost meanwhile.
    pub fn point_code_available(&mut self, dpc: u32) {
        if !self.unavailable.remove(&dpc) || !self.transport_up {
            return;
        }
        for g in 0..self.groups.len() {
            if self.groups[g].dpc == dpc {
                self.reset_group(TrunkGroupId(g));
            }
        }
    }

    fn dpc_up(&self, dpc: u32) -> bool {
        self.transport_up && !self.unavailable.contains(&dpc)
    }

    /// Stop every procedure (of one destination, or of all).
    fn suspend(&mut self, dpc: Option<u32>) {
        let ours = |id: &CircuitId| dpc.is_none_or(|d| d == id.dpc);
        let mut keys: Vec<TimerKey> = self
            .running
            .iter()
            .filter(|k| ours(&k.circuit))
            .copied()
            .collect();
        keys.sort();
        for key in keys {
            self.running.remove(&key);
            self.actions.push_back(Action::StopTimer { key });
        }
        self.procedures.retain(|(first, _), _| !ours(first));
        for i in 0..self.circuits.len() {
            if ours(&self.circuits[i].id) {
                self.update(i, |c| {
                    c.single = Single::None;
                    c.reset = Reset::None;
                });
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Operator commands

    /// Block a circuit for maintenance (BLO, T12/T13, Q.764 §2.8.2.1). A call in progress goes on;
    /// no new call is set up on the circuit in either direction.
    pub fn block(&mut self, circuit: CircuitId) -> bool {
        let Some(&i) = self.index.get(&circuit) else {
            return false;
        };
        if self.circuits[i].local_maintenance {
            return true;
        }
        self.update(i, |c| c.local_maintenance = true);
        if self.circuits[i].single == Single::Ubl {
            self.stop(Timer::T14, circuit);
            self.stop(Timer::T15, circuit);
            self.circuits[i].single = Single::None;
        }
        if self.can_signal(i) {
            self.send_blo(i, true);
        }
        true
    }

    /// Unblock a circuit we blocked for maintenance (UBL, T14/T15).
    pub fn unblock(&mut self, circuit: CircuitId) -> bool {
        let Some(&i) = self.index.get(&circuit) else {
            return false;
        };
        if !self.circuits[i].local_maintenance {
            return true;
        }
        self.update(i, |c| c.local_maintenance = false);
        if self.circuits[i].single == Single::Blo {
            self.stop(Timer::T12, circuit);
            self.stop(Timer::T13, circuit);
            self.circuits[i].single = Single::None;
        }
        if self.can_signal(i) {
            self.send_ubl(i, true);
        }
        true
    }

    /// Block every circuit of a group with CGB (T18/T19, Q.764 §2.8.2.2). Hardware-failure
    /// blocking also drops the calls on the circuits.
    pub fn block_group(&mut self, group: TrunkGroupId, kind: BlockingKind) {
        let members = self.groups[group.0].circuits.clone();
        let mut send = Vec::new();
        for &i in &members {
            self.update(i, |c| match kind {
                BlockingKind::Maintenance => c.local_maintenance = true,
                BlockingKind::HardwareFailure => c.local_hardware = true,
            });
            if kind == BlockingKind::HardwareFailure {
                // Q.764 §2.8.2.2: hardware failure oriented blocking releases calls in progress.
                self.take_call(i);
            }
            if kind == BlockingKind::Maintenance && self.circuits[i].single != Single::None {
                self.stop_single(i);
            }
            if self.can_signal(i) {
                send.push(i);
            }
        }
        self.send_group(Procedure::Cgb(kind), &send);
    }

    /// Unblock every circuit of a group with CGU (T20/T21).
    pub fn unblock_group(&mut self, group: TrunkGroupId, kind: BlockingKind) {
        let members = self.groups[group.0].circuits.clone();
        let mut send = Vec::new();
        for &i in &members {
            self.update(i, |c| match kind {
                BlockingKind::Maintenance => c.local_maintenance = false,
                BlockingKind::HardwareFailure => c.local_hardware = false,
            });
            if kind == BlockingKind::Maintenance && self.circuits[i].single != Single::None {
                self.stop_single(i);
            }
            if self.can_signal(i) {
                send.push(i);
            }
        }
        self.send_group(Procedure::Cgu(kind), &send);
    }

    /// Reset one circuit (RSC, T16/T17, Q.764 §2.9.3.1); a call on it is dropped.
    pub fn reset(&mut self, circuit: CircuitId) -> bool {
        let Some(&i) = self.index.get(&circuit) else {
            return false;
        };
        self.take_call(i);
        if self.circuits[i].reset == Reset::None {
            self.send_rsc(i, true);
        }
        true
    }

    /// Reset every circuit of a group: GRS per run of up to 32 consecutive CICs (T22/T23,
    /// Q.764 §2.9.3.2); a lone circuit gets RSC (range 0 is reserved).
    pub fn reset_group(&mut self, group: TrunkGroupId) {
        if !self.dpc_up(self.groups[group.0].dpc) {
            for i in self.groups[group.0].circuits.clone() {
                self.take_call(i);
            }
            return;
        }
        let members = self.groups[group.0].circuits.clone();
        for run in runs(&members, &self.circuits) {
            if let [i] = run[..] {
                self.take_call(i);
                if self.circuits[i].reset == Reset::None {
                    self.send_rsc(i, true);
                }
                continue;
            }
            let first = self.circuits[run[0]].id;
            let range = (run.len() - 1) as u8;
            if self.procedures.contains_key(&(first, Procedure::Grs)) {
                self.end_procedure(first, Procedure::Grs);
            }
            for &i in &run {
                self.take_call(i);
                if self.circuits[i].reset == Reset::Rsc {
                    self.stop(Timer::T16, self.circuits[i].id);
                    self.stop(Timer::T17, self.circuits[i].id);
                }
                self.stop_single(i);
                self.update(i, |c| c.reset = Reset::Grs { first: first.cic });
            }
            let message = Message::new(MessageType::GRS).with(RangeAndStatus {
                range,
                status: Default::default(),
            });
            self.begin_procedure(first, Procedure::Grs, message, range, Vec::new());
        }
    }

    /// Ask the far end for its view of the group's circuits (CQM, T28, Q.764 §2.8.3); the answer
    /// comes as [`Action::QueryResponse`].
    pub fn query_group(&mut self, group: TrunkGroupId) {
        if !self.dpc_up(self.groups[group.0].dpc) {
            return;
        }
        let members = self.groups[group.0].circuits.clone();
        for run in runs(&members, &self.circuits) {
            let first = self.circuits[run[0]].id;
            let range = (run.len() - 1) as u8;
            let message = Message::new(MessageType::CQM).with(RangeAndStatus {
                range,
                status: Default::default(),
            });
            self.begin_procedure(first, Procedure::Cqm, message, range, Vec::new());
        }
    }

    // ----------------------------------------------------------------------------------------
    // Messages from the network

    /// A message arrived for circuit `cic` from `opc`. Circuit supervision messages are handled
    /// here; call-control messages on equipped circuits are left to the call layer.
    pub fn on_message(&mut self, opc: u32, cic: u16, message: &Message) -> Disposition {
        let id = CircuitId { dpc: opc, cic };
        let mt = message.message_type;
        let group_message = [
            MessageType::GRS,
            MessageType::GRA,
            MessageType::CGB,
            MessageType::CGBA,
            MessageType::CGU,
            MessageType::CGUA,
            MessageType::CQM,
            MessageType::CQR,
        ]
        .contains(&mt);
        if group_message {
            return self.on_group_message(id, message);
        }
        let Some(&i) = self.index.get(&id) else {
            if mt != MessageType::UCIC {
                self.unequipped(id, mt);
            }
            return Disposition::Unequipped;
        };
        match mt {
            MessageType::BLO => self.on_blo(i),
            MessageType::BLA => self.on_bla(i),
            MessageType::UBL => self.on_ubl(i),
            MessageType::UBA => self.on_uba(i),
            MessageType::RSC => self.on_rsc(i),
            MessageType::UCIC => self.on_ucic(i),
            MessageType::RLC if self.circuits[i].reset == Reset::Rsc => self.rsc_acknowledged(i),
            _ => return Disposition::CallControl,
        }
        Disposition::Consumed
    }

    /// Q.764 §2.8.2.1: the far end blocks the circuit; calls in progress go on.
    fn on_blo(&mut self, i: usize) {
        let id = self.circuits[i].id;
        self.update(i, |c| c.remote_maintenance = true);
        self.send(id, Message::new(MessageType::BLA));
        if self.circuits[i].call == (CallState::Outgoing { backward: false }) {
            // Q.764 §2.8.1 c) / §2.8.2.1: BLO after our IAM and before a backward message: repeat
            // the attempt elsewhere and release this one in the normal manner.
            self.actions.push_back(Action::Reattempt {
                circuit: id,
                release: true,
            });
        }
        if self.circuits[i].reset == Reset::Rsc {
            // An exchange that has the circuit locally blocked may answer our RSC with BLO
            // (Q.764 §2.9.3.1): the far end has cleared the circuit, the reset is complete.
            self.rsc_acknowledged(i);
        }
    }

    fn on_bla(&mut self, i: usize) {
        let c = self.circuits[i].clone();
        let id = c.id;
        match c.single {
            Single::Blo => {
                self.stop(Timer::T12, id);
                self.stop(Timer::T13, id);
                self.circuits[i].single = Single::None;
            }
            Single::Ubl => self.discarded(id, MessageType::BLA, "UBL outstanding"),
            Single::None if !c.local_maintenance => {
                // Q.764 §2.8.2.3: BLA for a circuit we have not blocked: unblock it at the far end.
                self.send_ubl(i, true);
            }
            Single::None => self.discarded(id, MessageType::BLA, "no BLO outstanding"),
        }
    }

    fn on_ubl(&mut self, i: usize) {
        let id = self.circuits[i].id;
        self.update(i, |c| c.remote_maintenance = false);
        self.send(id, Message::new(MessageType::UBA));
    }

    fn on_uba(&mut self, i: usize) {
        let c = self.circuits[i].clone();
        let id = c.id;
        match c.single {
            Single::Ubl => {
                self.stop(Timer::T14, id);
                self.stop(Timer::T15, id);
                self.circuits[i].single = Single::None;
            }
            Single::Blo => self.discarded(id, MessageType::UBA, "BLO outstanding"),
            Single::None if c.local_maintenance => {
                // Q.764 §2.8.2.3: UBA for a circuit we keep blocked: block it again.
                self.send_blo(i, true);
            }
            Single::None => self.discarded(id, MessageType::UBA, "no UBL outstanding"),
        }
    }

    /// Q.764 §2.9.3.1: reset of one circuit by the far end.
    fn on_rsc(&mut self, i: usize) {
        let id = self.circuits[i].id;
        self.take_call(i);
        // Q.762/Q.764: a reset removes the remote blocking of the circuit.
        self.update(i, |c| {
            c.remote_maintenance = false;
            c.remote_hardware = false;
            c.far_end_unequipped = false;
        });
        self.send(id, Message::new(MessageType::RLC));
        let c = &self.circuits[i];
        if c.reset != Reset::None {
            // Our own reset is outstanding: its acknowledgement re-establishes our blocking.
            return;
        }
        // The far end lost our blocking with the reset: BLO (or hardware CGB) again, "a proper
        // response to a reset circuit message".
        if c.local_maintenance {
            let first = c.single != Single::Blo;
            self.send_blo(i, first);
        }
        if self.circuits[i].local_hardware {
            self.send_group(Procedure::Cgb(BlockingKind::HardwareFailure), &[i]);
        }
    }

    /// Q.764 §2.12: the far end does not know the circuit.
    fn on_ucic(&mut self, i: usize) {
        let id = self.circuits[i].id;
        self.take_call(i);
        self.stop_single(i);
        if self.circuits[i].reset == Reset::Rsc {
            self.stop(Timer::T16, id);
            self.stop(Timer::T17, id);
            self.circuits[i].reset = Reset::None;
        }
        self.update(i, |c| c.far_end_unequipped = true);
        self.actions
            .push_back(Action::Alert(Alert::FarEndUnequipped { circuit: id }));
    }

    fn rsc_acknowledged(&mut self, i: usize) {
        let id = self.circuits[i].id;
        self.stop(Timer::T16, id);
        self.stop(Timer::T17, id);
        let seq = self.next_seq();
        self.update(i, |c| {
            c.reset = Reset::None;
            c.far_end_unequipped = false;
            c.released_at = seq;
        });
        self.reestablish_blocking(&[i]);
    }

    fn on_group_message(&mut self, first: CircuitId, message: &Message) -> Disposition {
        let mt = message.message_type;
        let Some(rs) = message.get::<RangeAndStatus>() else {
            self.discarded(first, mt, "no range and status");
            return Disposition::Consumed;
        };
        let range = rs.range as u16;
        // Q.763 §3.43: range 1..=31 for GRS, CGB, CGU (range 0 is reserved for national use),
        // 0..=31 for CQM.
        let min = if mt == MessageType::CQM || mt == MessageType::CQR {
            0
        } else {
            1
        };
        if range < min || range >= MAX_GROUP || first.cic as u32 + range as u32 > MAX_CIC as u32 {
            self.discarded(first, mt, "range out of bounds");
            return Disposition::Consumed;
        }
        let members: Vec<Option<usize>> = (0..=range)
            .map(|k| {
                self.index
                    .get(&CircuitId {
                        dpc: first.dpc,
                        cic: first.cic + k,
                    })
                    .copied()
            })
            .collect();
        if members.iter().all(Option::is_none) && mt != MessageType::CQM {
            // Q.764 §2.12: no UCIC for group messages; discard.
            self.actions.push_back(Action::Alert(Alert::Unequipped {
                circuit: first,
                message_type: mt,
            }));
            return Disposition::Unequipped;
        }
        let has_status = ![MessageType::GRS, MessageType::CQM, MessageType::CQR].contains(&mt);
        if has_status && rs.status_bit(range).is_none() {
            self.discarded(first, mt, "status shorter than the range");
            return Disposition::Consumed;
        }
        let bits: Vec<bool> = (0..=range)
            .map(|k| has_status && rs.status_bit(k) == Some(true))
            .collect();
        let kind = if [
            MessageType::CGB,
            MessageType::CGBA,
            MessageType::CGU,
            MessageType::CGUA,
        ]
        .contains(&mt)
        {
            match supervision_type(message) {
                Some(k) => Some(k),
                None => {
                    self.discarded(first, mt, "circuit group supervision type not supported");
                    return Disposition::Consumed;
                }
            }
        } else {
            None
        };
        match (mt, kind) {
            (MessageType::GRS, _) => self.on_grs(first, rs.range, &members),
            (MessageType::GRA, _) => self.on_gra(first, rs.range, &members, rs),
            (MessageType::CGB, Some(k)) => self.on_cgb(first, rs.range, &members, &bits, k),
            (MessageType::CGU, Some(k)) => self.on_cgu(first, rs.range, &members, &bits, k),
            (MessageType::CGBA, Some(k)) => {
                self.on_group_ack(first, rs.range, &members, &bits, Procedure::Cgb(k))
            }
            (MessageType::CGUA, Some(k)) => {
                self.on_group_ack(first, rs.range, &members, &bits, Procedure::Cgu(k))
            }
            (MessageType::CQM, _) => self.on_cqm(first, rs.range, &members),
            (MessageType::CQR, _) => self.on_cqr(first, rs.range, message),
            _ => {}
        }
        Disposition::Consumed
    }

    /// Q.764 §2.9.3.2: group reset by the far end. Calls are cleared, remote blocking removed, and
    /// the GRA status marks the circuits we keep blocked for maintenance. Circuits we keep
    /// hardware-blocked are blocked again with a hardware CGB.
    fn on_grs(&mut self, first: CircuitId, range: u8, members: &[Option<usize>]) {
        let mut status = vec![false; range as usize + 1];
        let mut hardware = Vec::new();
        for (k, &m) in members.iter().enumerate() {
            let Some(i) = m else { continue };
            self.take_call(i);
            let id = self.circuits[i].id;
            if self.circuits[i].reset == Reset::Rsc {
                // Our own RSC is overtaken by the group reset.
                self.stop(Timer::T16, id);
                self.stop(Timer::T17, id);
                self.circuits[i].reset = Reset::None;
            }
            if self.circuits[i].single == Single::Ubl {
                // The far end forgets our old blocking with the reset: nothing left to unblock.
                self.stop_single(i);
            }
            let seq = self.next_seq();
            self.update(i, |c| {
                c.remote_maintenance = false;
                c.remote_hardware = false;
                c.far_end_unequipped = false;
                c.released_at = seq;
            });
            let c = &self.circuits[i];
            status[k] = c.local_maintenance;
            if c.local_hardware && c.reset == Reset::None {
                hardware.push(i);
            }
        }
        self.send(
            first,
            Message::new(MessageType::GRA).with(RangeAndStatus::with_status(&status)),
        );
        self.send_group(Procedure::Cgb(BlockingKind::HardwareFailure), &hardware);
    }

    fn on_gra(
        &mut self,
        first: CircuitId,
        range: u8,
        members: &[Option<usize>],
        rs: &RangeAndStatus,
    ) {
        let Some(p) = self.procedures.get(&(first, Procedure::Grs)) else {
            self.discarded(first, MessageType::GRA, "no GRS outstanding");
            return;
        };
        if p.range != range || rs.status_bit(rs.range as u16).is_none() {
            // Q.764 §2.9.3.2: a GRA that does not match the GRS is discarded; T22 goes on.
            self.discarded(first, MessageType::GRA, "range differs from the GRS");
            return;
        }
        self.end_procedure(first, Procedure::Grs);
        let mut reblock = Vec::new();
        for (k, &m) in members.iter().enumerate() {
            let Some(i) = m else { continue };
            let remote = rs.status_bit(k as u16) == Some(true);
            let was_reset = self.circuits[i].reset == (Reset::Grs { first: first.cic });
            let seq = self.next_seq();
            self.update(i, |c| {
                // The GRA status is the far end's maintenance blocking; hardware blocking comes
                // again by CGB if it still holds.
                c.remote_maintenance = remote;
                c.remote_hardware = false;
                if was_reset {
                    c.reset = Reset::None;
                    c.far_end_unequipped = false;
                    c.released_at = seq;
                }
            });
            if was_reset {
                reblock.push(i);
            }
        }
        self.reestablish_blocking(&reblock);
    }

    /// Q.764 §2.8.2.2: group blocking by the far end; CGBA acknowledges the circuits blocked.
    fn on_cgb(
        &mut self,
        first: CircuitId,
        range: u8,
        members: &[Option<usize>],
        bits: &[bool],
        kind: BlockingKind,
    ) {
        let mut ack = vec![false; range as usize + 1];
        let mut answered = Vec::new();
        for (k, &m) in members.iter().enumerate() {
            let Some(i) = m else { continue };
            if !bits[k] {
                continue;
            }
            ack[k] = true;
            let id = self.circuits[i].id;
            match kind {
                BlockingKind::Maintenance => {
                    self.update(i, |c| c.remote_maintenance = true);
                    if self.circuits[i].call == (CallState::Outgoing { backward: false }) {
                        self.actions.push_back(Action::Reattempt {
                            circuit: id,
                            release: true,
                        });
                    }
                }
                BlockingKind::HardwareFailure => {
                    // Calls in progress are released without REL.
                    self.take_call(i);
                    self.update(i, |c| c.remote_hardware = true);
                }
            }
            if self.circuits[i].reset == Reset::Rsc {
                answered.push(i);
            }
        }
        self.send(first, group_message(MessageType::CGBA, kind, &ack));
        // CGB is also "a proper response to a reset circuit message" (Q.763): our RSC is done.
        for i in answered {
            self.rsc_acknowledged(i);
        }
    }

    /// Q.764 §2.8.2.2: group unblocking by the far end; CGUA acknowledges.
    fn on_cgu(
        &mut self,
        first: CircuitId,
        range: u8,
        members: &[Option<usize>],
        bits: &[bool],
        kind: BlockingKind,
    ) {
        let mut ack = vec![false; range as usize + 1];
        for (k, &m) in members.iter().enumerate() {
            let Some(i) = m else { continue };
            if !bits[k] {
                continue;
            }
            ack[k] = true;
            self.update(i, |c| match kind {
                BlockingKind::Maintenance => c.remote_maintenance = false,
                BlockingKind::HardwareFailure => c.remote_hardware = false,
            });
        }
        self.send(first, group_message(MessageType::CGUA, kind, &ack));
    }

    /// CGBA or CGUA. Q.764 §2.8.2.3: circuits requested and not acknowledged are requested again;
    /// circuits acknowledged and not in the state we want are put right with the opposite message.
    fn on_group_ack(
        &mut self,
        first: CircuitId,
        range: u8,
        members: &[Option<usize>],
        bits: &[bool],
        proc: Procedure,
    ) {
        let (kind, blocking) = match proc {
            Procedure::Cgb(k) => (k, true),
            Procedure::Cgu(k) => (k, false),
            _ => return,
        };
        let mt = if blocking {
            MessageType::CGBA
        } else {
            MessageType::CGUA
        };
        let requested = match self.procedures.get(&(first, proc)) {
            Some(p) if p.range == range => {
                let r = p.requested.clone();
                self.end_procedure(first, proc);
                r
            }
            Some(_) => {
                self.discarded(first, mt, "range differs from the request");
                return;
            }
            None => vec![false; range as usize + 1],
        };
        let blocked = |c: &Circuit| match kind {
            BlockingKind::Maintenance => c.local_maintenance,
            BlockingKind::HardwareFailure => c.local_hardware,
        };
        let mut again = Vec::new();
        let mut opposite = Vec::new();
        for (k, &m) in members.iter().enumerate() {
            let Some(i) = m else { continue };
            let c = &self.circuits[i];
            if !self.can_signal(i) || blocked(c) != blocking {
                // Our wish changed since the request (or a reset is on the way): put the far end
                // right if it acknowledged something we no longer want.
                if bits[k] {
                    opposite.push(i);
                }
                continue;
            }
            if requested[k] && !bits[k] {
                again.push(i);
            }
        }
        let opposite_proc = if blocking {
            Procedure::Cgu(kind)
        } else {
            Procedure::Cgb(kind)
        };
        opposite.retain(|&i| self.can_signal(i));
        self.send_group(proc, &again);
        self.send_group(opposite_proc, &opposite);
    }

    /// Q.764 §2.8.3: answer CQM with one circuit state indicator per circuit of the range.
    fn on_cqm(&mut self, first: CircuitId, range: u8, members: &[Option<usize>]) {
        let states: isup::Octets = members
            .iter()
            .map(|m| match m {
                Some(i) if self.group_procedure_covers(*i) => {
                    super::circuit_state_indicator(super::RemoteCircuitState::Transient)
                }
                Some(i) => self.circuits[*i].state_indicator(),
                None => super::circuit_state_indicator(super::RemoteCircuitState::Unequipped),
            })
            .collect();
        let message = Message::new(MessageType::CQR)
            .with(RangeAndStatus {
                range,
                status: Default::default(),
            })
            .with(CircuitStateIndicator { states });
        self.send(first, message);
    }

    fn on_cqr(&mut self, first: CircuitId, range: u8, message: &Message) {
        let Some(p) = self.procedures.get(&(first, Procedure::Cqm)) else {
            self.discarded(first, MessageType::CQR, "no CQM outstanding");
            return;
        };
        let Some(csi) = message.get::<CircuitStateIndicator>() else {
            self.discarded(first, MessageType::CQR, "no circuit state indicator");
            return;
        };
        if p.range != range || csi.states.len() != range as usize + 1 {
            self.discarded(first, MessageType::CQR, "range differs from the CQM");
            return;
        }
        let states = csi
            .states
            .iter()
            .map(|&o| decode_circuit_state_indicator(o))
            .collect();
        self.end_procedure(first, Procedure::Cqm);
        self.actions
            .push_back(Action::QueryResponse { first, states });
    }

    // ----------------------------------------------------------------------------------------
    // Timers

    /// A timer started by an [`Action::StartTimer`] expired. Stale keys are ignored.
    pub fn timer_fired(&mut self, key: TimerKey) {
        if !self.running.remove(&key) {
            return;
        }
        let id = key.circuit;
        let single = |s: &Self, want: Single| {
            s.index
                .get(&id)
                .copied()
                .filter(|&i| s.circuits[i].single == want)
        };
        match key.timer {
            // Q.764 §2.9.4: repeat BLO/UBL every T12/T14; after T13/T15 alert, stop the short
            // timer and repeat every long period.
            Timer::T12 => {
                if let Some(i) = single(self, Single::Blo) {
                    self.send_blo(i, false);
                }
            }
            Timer::T14 => {
                if let Some(i) = single(self, Single::Ubl) {
                    self.send_ubl(i, false);
                }
            }
            Timer::T13 | Timer::T15 => {
                let (want, short, mt) = if key.timer == Timer::T13 {
                    (Single::Blo, Timer::T12, MessageType::BLO)
                } else {
                    (Single::Ubl, Timer::T14, MessageType::UBL)
                };
                if single(self, want).is_some() {
                    self.stop(short, id);
                    self.send(id, Message::new(mt));
                    self.start(key.timer, id);
                    self.alert_no_ack(key.timer, id);
                }
            }
            // Q.764 §2.9.3.1: repeat RSC every T16; at T17 alert, stop T16, repeat every T17.
            Timer::T16 | Timer::T17 => {
                if let Some(&i) = self.index.get(&id)
                    && self.circuits[i].reset == Reset::Rsc
                {
                    self.send(id, Message::new(MessageType::RSC));
                    if key.timer == Timer::T17 {
                        self.stop(Timer::T16, id);
                        self.alert_no_ack(Timer::T17, id);
                    }
                    self.start(key.timer, id);
                }
            }
            Timer::T18 | Timer::T19 | Timer::T20 | Timer::T21 => {
                let blocking = matches!(key.timer, Timer::T18 | Timer::T19);
                for kind in [BlockingKind::Maintenance, BlockingKind::HardwareFailure] {
                    let proc = if blocking {
                        Procedure::Cgb(kind)
                    } else {
                        Procedure::Cgu(kind)
                    };
                    self.repeat_procedure(id, proc, key.timer);
                }
            }
            Timer::T22 | Timer::T23 => self.repeat_procedure(id, Procedure::Grs, key.timer),
            Timer::T28 => {
                if self.procedures.remove(&(id, Procedure::Cqm)).is_some() {
                    self.actions
                        .push_back(Action::Alert(Alert::QueryNotAnswered { first: id }));
                }
            }
        }
    }

    fn repeat_procedure(&mut self, first: CircuitId, proc: Procedure, fired: Timer) {
        let Some(p) = self.procedures.get(&(first, proc)) else {
            return;
        };
        let message = p.message.clone();
        let (short, long) = proc.timers();
        self.send(first, message);
        if Some(fired) == long {
            self.stop(short, first);
            self.alert_no_ack(fired, first);
        }
        self.start(fired, first);
    }

    // ----------------------------------------------------------------------------------------
    // Helpers

    fn next_seq(&mut self) -> u64 {
        self.release_seq += 1;
        self.release_seq
    }

    /// Apply `f` to a circuit and report a change of its summary state.
    fn update<R>(&mut self, i: usize, f: impl FnOnce(&mut Circuit) -> R) -> R {
        let before = self.circuits[i].summary();
        let r = f(&mut self.circuits[i]);
        self.refresh_free(i);
        let after = self.circuits[i].summary();
        if before != after {
            self.actions.push_back(Action::StateChanged {
                circuit: self.circuits[i].id,
                group: self.circuits[i].group,
                from: before,
                to: after,
            });
        }
        r
    }

    /// The circuit's place in its group's selection order, if it is available.
    fn select_key(&self, i: usize) -> Option<SelectKey> {
        let c = &self.circuits[i];
        if !c.available() {
            return None;
        }
        Some(match self.groups[c.group.0].policy {
            SelectionPolicy::Sequential => (0, 0, c.id.cic),
            SelectionPolicy::Descending => (0, 0, u16::MAX - c.id.cic),
            SelectionPolicy::LeastRecentlyUsed => (0, c.released_at, c.id.cic),
            // Q.764 §2.9.1.3: controlled circuits released longest ago first, then the
            // non-controlled ones released most recently.
            SelectionPolicy::ControlledFirst if self.controls(c.id) => (0, c.released_at, c.id.cic),
            SelectionPolicy::ControlledFirst => (1, u64::MAX - c.released_at, c.id.cic),
        })
    }

    /// Test hook: every group's `free` set holds exactly its available circuits, each under its
    /// current selection key (what the old scan of the group would have compared).
    #[cfg(test)]
    pub(crate) fn selection_index_consistent(&self) -> bool {
        self.groups.iter().all(|g| {
            let scan: BTreeSet<(SelectKey, usize)> = g
                .circuits
                .iter()
                .filter_map(|&i| self.select_key(i).map(|k| (k, i)))
                .collect();
            scan == g.free
        })
    }

    /// Bring the circuit's entry in its group's `free` set up to date with its state.
    fn refresh_free(&mut self, i: usize) {
        let key = self.select_key(i);
        if key == self.free_key[i] {
            return;
        }
        let free = &mut self.groups[self.circuits[i].group.0].free;
        if let Some(old) = self.free_key[i] {
            free.remove(&(old, i));
        }
        if let Some(new) = key {
            free.insert((new, i));
        }
        self.free_key[i] = key;
    }

    /// Take the call off a circuit without REL (reset, hardware blocking, UCIC): the call layer
    /// drops it, or re-attempts it if it had no backward message yet (Q.764 §2.8.1).
    fn take_call(&mut self, i: usize) {
        let id = self.circuits[i].id;
        match self.circuits[i].call {
            CallState::Idle => return,
            CallState::Outgoing { backward: false } => self.actions.push_back(Action::Reattempt {
                circuit: id,
                release: false,
            }),
            _ => self.actions.push_back(Action::ReleaseCall {
                circuit: id,
                cause: CAUSE_TEMPORARY_FAILURE,
            }),
        }
        let seq = self.next_seq();
        self.update(i, |c| {
            c.call = CallState::Idle;
            c.released_at = seq;
        });
    }

    /// True if a message about the circuit may go out now (transport up, no reset in progress:
    /// the blocking state is sent again once the reset is acknowledged).
    fn can_signal(&self, i: usize) -> bool {
        self.dpc_up(self.circuits[i].id.dpc) && self.circuits[i].reset == Reset::None
    }

    fn send(&mut self, circuit: CircuitId, message: Message) {
        self.actions.push_back(Action::Send { circuit, message });
    }

    fn start(&mut self, timer: Timer, circuit: CircuitId) {
        let key = TimerKey { timer, circuit };
        self.running.insert(key);
        self.actions.push_back(Action::StartTimer {
            key,
            duration: self.timers.duration(timer),
        });
    }

    fn stop(&mut self, timer: Timer, circuit: CircuitId) {
        let key = TimerKey { timer, circuit };
        if self.running.remove(&key) {
            self.actions.push_back(Action::StopTimer { key });
        }
    }

    fn alert_no_ack(&mut self, timer: Timer, circuit: CircuitId) {
        self.actions
            .push_back(Action::Alert(Alert::NoAcknowledgement { timer, circuit }));
    }

    fn discarded(&mut self, circuit: CircuitId, message_type: MessageType, reason: &'static str) {
        self.actions.push_back(Action::Alert(Alert::Discarded {
            circuit,
            message_type,
            reason,
        }));
    }

    /// Q.764 §2.12: a message for a CIC we do not have.
    fn unequipped(&mut self, circuit: CircuitId, message_type: MessageType) {
        self.actions.push_back(Action::Alert(Alert::Unequipped {
            circuit,
            message_type,
        }));
        if self.send_ucic && self.dpc_up(circuit.dpc) {
            self.send(circuit, Message::new(MessageType::UCIC));
        }
    }

    /// BLO with T12 (and T13 when it is the first one).
    fn send_blo(&mut self, i: usize, first: bool) {
        let id = self.circuits[i].id;
        self.circuits[i].single = Single::Blo;
        self.send(id, Message::new(MessageType::BLO));
        self.start(Timer::T12, id);
        if first {
            self.start(Timer::T13, id);
        }
    }

    /// UBL with T14 (and T15 when it is the first one).
    fn send_ubl(&mut self, i: usize, first: bool) {
        let id = self.circuits[i].id;
        self.circuits[i].single = Single::Ubl;
        self.send(id, Message::new(MessageType::UBL));
        self.start(Timer::T14, id);
        if first {
            self.start(Timer::T15, id);
        }
    }

    /// RSC with T16 and T17 (T17 only after T5, Q.764 §2.9.6).
    fn send_rsc(&mut self, i: usize, t16: bool) {
        if !self.dpc_up(self.circuits[i].id.dpc) {
            // The GRS sent when the transport comes back resets the circuit.
            return;
        }
        let id = self.circuits[i].id;
        self.stop_single(i);
        self.update(i, |c| c.reset = Reset::Rsc);
        self.send(id, Message::new(MessageType::RSC));
        if t16 {
            self.start(Timer::T16, id);
        }
        self.start(Timer::T17, id);
    }

    /// Abandon an outstanding BLO/UBL procedure (its timers stop).
    fn stop_single(&mut self, i: usize) {
        let id = self.circuits[i].id;
        match self.circuits[i].single {
            Single::None => {}
            Single::Blo => {
                self.stop(Timer::T12, id);
                self.stop(Timer::T13, id);
            }
            Single::Ubl => {
                self.stop(Timer::T14, id);
                self.stop(Timer::T15, id);
            }
        }
        self.circuits[i].single = Single::None;
    }

    /// After a reset is acknowledged the far end has forgotten our blocking: send it again
    /// (Q.764 §2.9.3.1 and §2.9.3.2), BLO for a lone circuit, CGB for several.
    fn reestablish_blocking(&mut self, circuits: &[usize]) {
        let maintenance: Vec<usize> = circuits
            .iter()
            .copied()
            .filter(|&i| self.circuits[i].local_maintenance)
            .collect();
        let hardware: Vec<usize> = circuits
            .iter()
            .copied()
            .filter(|&i| self.circuits[i].local_hardware)
            .collect();
        if let [i] = maintenance[..] {
            self.send_blo(i, true);
        } else {
            self.send_group(Procedure::Cgb(BlockingKind::Maintenance), &maintenance);
        }
        self.send_group(Procedure::Cgb(BlockingKind::HardwareFailure), &hardware);
    }

    /// Send CGB or CGU for these circuits (same DPC or not), one message per window of 32 CICs.
    fn send_group(&mut self, proc: Procedure, circuits: &[usize]) {
        let circuits: Vec<usize> = circuits
            .iter()
            .copied()
            .filter(|&i| self.dpc_up(self.circuits[i].id.dpc))
            .collect();
        if circuits.is_empty() {
            return;
        }
        let (mt, kind) = match proc {
            Procedure::Cgb(k) => (MessageType::CGB, k),
            Procedure::Cgu(k) => (MessageType::CGU, k),
            _ => return,
        };
        let mut sorted = circuits;
        sorted.sort_by_key(|&i| self.circuits[i].id);
        sorted.dedup();
        let mut k = 0;
        while k < sorted.len() {
            let head = self.circuits[sorted[k]].id;
            // Range 0 is reserved: a lone circuit still needs a range of 1 (status bit 0 for the
            // neighbour), taken below it at the top of the CIC space.
            let mut start = head.cic;
            let mut end = k;
            while end + 1 < sorted.len() {
                let next = self.circuits[sorted[end + 1]].id;
                if next.dpc != head.dpc || next.cic - start >= MAX_GROUP {
                    break;
                }
                end += 1;
            }
            let last = self.circuits[sorted[end]].id.cic;
            let mut span = last - start;
            if span == 0 {
                if start == MAX_CIC {
                    start -= 1;
                }
                span = 1;
            }
            let mut bits = vec![false; span as usize + 1];
            for &i in &sorted[k..=end] {
                bits[(self.circuits[i].id.cic - start) as usize] = true;
            }
            let first = CircuitId {
                dpc: head.dpc,
                cic: start,
            };
            if self.procedures.contains_key(&(first, proc)) {
                self.end_procedure(first, proc);
            }
            let message = group_message(mt, kind, &bits);
            self.begin_procedure(first, proc, message, span as u8, bits);
            k = end + 1;
        }
    }

    fn begin_procedure(
        &mut self,
        first: CircuitId,
        proc: Procedure,
        message: Message,
        range: u8,
        requested: Vec<bool>,
    ) {
        self.send(first, message.clone());
        let (short, long) = proc.timers();
        self.start(short, first);
        if let Some(long) = long {
            self.start(long, first);
        }
        self.procedures.insert(
            (first, proc),
            GroupProcedure {
                message,
                range,
                requested,
            },
        );
    }

    fn end_procedure(&mut self, first: CircuitId, proc: Procedure) {
        self.procedures.remove(&(first, proc));
        let (short, long) = proc.timers();
        // Both CGB kinds share T18/T19 (and CGU T20/T21) at the same first CIC: keep them
        // running while the other kind is outstanding.
        let shared = match proc {
            Procedure::Cgb(k) => Some(Procedure::Cgb(other(k))),
            Procedure::Cgu(k) => Some(Procedure::Cgu(other(k))),
            _ => None,
        };
        if shared.is_some_and(|p| self.procedures.contains_key(&(first, p))) {
            return;
        }
        self.stop(short, first);
        if let Some(long) = long {
            self.stop(long, first);
        }
    }
}

fn other(k: BlockingKind) -> BlockingKind {
    match k {
        BlockingKind::Maintenance => BlockingKind::HardwareFailure,
        BlockingKind::HardwareFailure => BlockingKind::Maintenance,
    }
}

/// Runs of consecutive CICs (same DPC), at most 32 circuits each.
fn runs(members: &[usize], circuits: &[Circuit]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for &i in members {
        let id = circuits[i].id;
        let extends = out.last().and_then(|run| run.last()).is_some_and(|&j| {
            let prev = circuits[j].id;
            prev.dpc == id.dpc && prev.cic + 1 == id.cic
        });
        match out.last_mut() {
            Some(run) if extends && run.len() < MAX_GROUP as usize => run.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

/// CGB, CGU, CGBA or CGUA with its type indicator and status bits.
fn group_message(mt: MessageType, kind: BlockingKind, bits: &[bool]) -> Message {
    Message::new(mt)
        .with(CircuitGroupSupervisionMessageType {
            type_indicator: kind.type_indicator(),
        })
        .with(RangeAndStatus::with_status(bits))
}

/// The circuit group supervision type; spare bits set by the sender are ignored.
fn supervision_type(message: &Message) -> Option<BlockingKind> {
    let t = match message.find(ParameterCode::CIRCUIT_GROUP_SUPERVISION_MESSAGE_TYPE)? {
        Parameter::CircuitGroupSupervisionMessageType(t) => t.type_indicator,
        Parameter::Raw(r) => {
            CircuitGroupSupervisionMessageType::parse(&r.value)
                .ok()?
                .type_indicator
        }
        _ => return None,
    };
    BlockingKind::from_type_indicator(t)
}
