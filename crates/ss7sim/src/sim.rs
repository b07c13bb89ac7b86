//! The tokio driver: runs one [`Exchange`] per configured far-end exchange (point code) over one
//! M3UA association (as SGP by default, or as an ASP for tests), on the caller's runtime. DATA is
//! routed to the exchange whose point code is its DPC. [`Simulator::spawn`] returns a
//! [`SimHandle`] to originate calls, send messages, run maintenance and read statistics;
//! [`SimHandle::subscribe`] gives every ISUP message sent and received and every exchange event.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use isup::Message;
use m3ua::ProtocolData;
use m3ua::asp::{AspConfig, AspEvent, AspState};
use m3ua::pcap::PcapWriter;
use m3ua::sgp::{AsConfig, AsState, SgpConfig, SgpEvent};
use m3ua::transport::{
    AspHandle, AspTransportConfig, SgpHandle, Tap, TapDirection, Transport, spawn_asp,
    spawn_sgp_with_tap,
};
use m3ua::wire::TrafficModeType;
use serde_json::json;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Config;
use crate::exchange::{
    Action, CallId, CallRequest, CircuitCounts, Event, Exchange, OriginateError, Timer,
};
use crate::stats::{CallCounts, Stats};

/// ISUP's MTP3 service indicator.
pub const SI_ISUP: u8 = 5;

/// Which M3UA role the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Listen as SGP (the normal role: the gateway is the ASP).
    Sgp { listen: SocketAddr },
    /// Connect as an ASP (test-only: to drive another simulator instance in SGP role).
    Asp { remote: SocketAddr },
}

/// Everything [`Simulator::spawn`] needs.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub config: Config,
    pub role: Role,
    /// Run calls automatically (answer rules, originate). Off for scripted scenarios.
    pub auto_calls: bool,
    /// Write every M3UA message to this pcap (SCTP framing, decodable by tshark).
    pub pcap: Option<PathBuf>,
    /// Write one JSON line per ISUP message sent/received.
    pub log_json: Option<PathBuf>,
    /// M3UA BEAT interval (ASP role) / SGP heartbeat; `None` = off.
    pub beat_interval: Option<Duration>,
    /// TCP (default) or, with the `sctp` feature, kernel SCTP.
    pub transport: Transport,
}

impl SimOptions {
    /// SGP on `listen`, calls automatic, no traces.
    pub fn sgp(config: Config, listen: SocketAddr) -> Self {
        SimOptions {
            config,
            role: Role::Sgp { listen },
            auto_calls: true,
            pcap: None,
            log_json: None,
            beat_interval: None,
            transport: Transport::Tcp,
        }
    }
}

/// `127.0.0.1:2905`, the simulator's default listen address.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), m3ua::M3UA_PORT);

/// Errors of the handle's requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("the M3UA peer is not active")]
    PeerNotActive,
    #[error("no exchange with point code {0}")]
    UnknownPointCode(u32),
    #[error(transparent)]
    Originate(#[from] OriginateError),
    #[error("ISUP encode: {0}")]
    Encode(String),
    #[error("the simulator has stopped")]
    Stopped,
}

/// Direction of a traced message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgDir {
    Sent,
    Received,
}

/// What subscribers see.
#[derive(Debug, Clone)]
pub enum SimEvent {
    /// An ISUP message sent or received.
    Message {
        dir: MsgDir,
        opc: u32,
        dpc: u32,
        cic: u16,
        message: Arc<Message>,
    },
    /// User data that is not decodable ISUP.
    BadMessage { opc: u32, error: String },
    /// A report of the exchange with own point code `pc`.
    Exchange { pc: u32, event: Event },
    /// The M3UA peer became active (true) or not (false).
    Peer(bool),
}

enum Command {
    Originate(
        CallRequest,
        oneshot::Sender<Result<(CallId, u16), SimError>>,
    ),
    Release(CallId, u8),
    Answer(CallId),
    Send(u16, Message, oneshot::Sender<Result<(), SimError>>),
    ResetCircuit(u16),
    ResetGroup(u16, u8),
    ResetAll,
    Block(u16),
    Unblock(u16),
    GroupBlock {
        cic: u16,
        bits: Vec<bool>,
        hardware: bool,
        block: bool,
    },
    Query(u16, u8),
    Stats(oneshot::Sender<(Stats, CircuitCounts)>),
    Circuits(oneshot::Sender<Vec<(u32, CircuitCounts)>>),
    Counts(oneshot::Sender<Counts>),
    CallCounts(oneshot::Sender<(CallCounts, CallCounts)>),
    Shutdown,
}

/// Call and circuit counters without latency samples ([`SimHandle::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub outgoing: CallCounts,
    pub incoming: CallCounts,
    pub circuits: CircuitCounts,
}

/// Controls a running simulator; cheap to clone.
///
/// Requests go to the exchange chosen with [`SimHandle::exchange`]. Without one, `originate`
/// spreads the calls over every exchange, `reset_all` resets them all, and the other requests
/// go to the first (or only) exchange.
#[derive(Clone)]
pub struct SimHandle {
    cmd: mpsc::Sender<(Option<u32>, Command)>,
    events: broadcast::Sender<SimEvent>,
    active: watch::Receiver<bool>,
    local_addr: Option<SocketAddr>,
    point_codes: Arc<[u32]>,
    target: Option<u32>,
}

/// Entry point.
pub struct Simulator;

impl Simulator {
    /// Starts the simulator on the current tokio runtime. In SGP role the listener is bound
    /// before this returns (see [`SimHandle::local_addr`]).
    pub async fn spawn(opts: SimOptions) -> io::Result<(SimHandle, JoinHandle<()>)> {
        let (handle, _events, task) = Simulator::spawn_subscribed(opts).await?;
        Ok((handle, task))
    }

    /// [`Simulator::spawn`], with a subscription ([`SimHandle::subscribe`]) taken before the
    /// simulator runs: it sees every event, even those of a peer that comes up at once.
    pub async fn spawn_subscribed(
        opts: SimOptions,
    ) -> io::Result<(SimHandle, broadcast::Receiver<SimEvent>, JoinHandle<()>)> {
        opts.config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let pcap = match &opts.pcap {
            Some(p) => Some(Arc::new(Mutex::new(PcapWriter::new(BufWriter::new(
                File::create(p)?,
            ))?))),
            None => None,
        };
        let log = match &opts.log_json {
            Some(p) => Some(BufWriter::new(File::create(p)?)),
            None => None,
        };
        let tap: Option<Tap> = pcap.clone().map(|w| {
            let t: Tap = Arc::new(move |m: &m3ua::transport::Tapped<'_>| {
                let v4 = |a: SocketAddr| match a {
                    SocketAddr::V4(a) => a,
                    SocketAddr::V6(_) => SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port()),
                };
                let (src, dst) = match m.direction {
                    TapDirection::Sent => (v4(m.local), v4(m.peer)),
                    TapDirection::Received => (v4(m.peer), v4(m.local)),
                };
                if let Ok(mut w) = w.lock() {
                    let _ = w.write_sctp_m3ua(SystemTime::now(), src, dst, m.stream, m.bytes);
                }
            });
            t
        });
        let (peer, local_addr) = match opts.role {
            Role::Sgp { listen } => {
                let mut as_cfg =
                    AsConfig::new(opts.config.routing_context, TrafficModeType::OVERRIDE);
                as_cfg.recovery_timeout = Duration::from_secs(2);
                let cfg = SgpConfig {
                    application_servers: vec![as_cfg],
                    beat_interval: opts.beat_interval,
                    ..SgpConfig::default()
                };
                let (h, ev, task) = spawn_sgp_with_tap(cfg, opts.transport, listen, tap).await?;
                let addr = h.local_addr();
                (Peer::Sgp(h, ev, task), Some(addr))
            }
            Role::Asp { remote } => {
                let cfg = AspConfig {
                    routing_contexts: vec![opts.config.routing_context],
                    beat_interval: opts.beat_interval,
                    reconnect_max: Duration::from_secs(2),
                    ..AspConfig::default()
                };
                let mut tc = AspTransportConfig::tcp(remote);
                tc.transport = opts.transport;
                tc.tap = tap;
                let (h, ev, task) = spawn_asp(cfg, tc);
                (Peer::Asp(h, ev, task), None)
            }
        };
        let out = Outbound::spawn(&peer);
        let (cmd_tx, cmd_rx) = mpsc::channel(4096);
        let (ev_tx, events) = broadcast::channel(1 << 16);
        let (active_tx, active_rx) = watch::channel(false);
        let specs = opts.config.exchanges();
        let n = specs.len() as CallId;
        let exchanges: Vec<Exchange> = specs
            .iter()
            .zip(1..)
            .map(|(x, first)| {
                Exchange::new(opts.config.for_exchange(x), opts.auto_calls).with_call_ids(first, n)
            })
            .collect();
        let point_codes: Arc<[u32]> = specs.iter().map(|x| x.local_pc).collect();
        let driver = Driver {
            by_pc: point_codes
                .iter()
                .zip(0..)
                .map(|(&pc, i)| (pc, i))
                .collect(),
            point_codes: point_codes.clone(),
            exchanges,
            next_exchange: 0,
            cfg: opts.config,
            peer,
            out: Some(out),
            events: ev_tx.clone(),
            active: active_tx,
            timers: TimerQueue::default(),
            stats: Stats::default(),
            log,
            pcap,
            origin: Instant::now(),
            peer_active: false,
        };
        let task = tokio::spawn(driver.run(cmd_rx));
        Ok((
            SimHandle {
                cmd: cmd_tx,
                events: ev_tx,
                active: active_rx,
                local_addr,
                point_codes,
                target: None,
            },
            events,
            task,
        ))
    }
}

impl SimHandle {
    /// The SGP's listening address (SGP role).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The own point codes of the exchanges this simulator plays, in configuration order.
    pub fn point_codes(&self) -> &[u32] {
        &self.point_codes
    }

    /// The same simulator, with requests addressed to the exchange with own point code `pc`
    /// (unknown point codes: `originate` and `send` fail with [`SimError::UnknownPointCode`],
    /// the maintenance requests are dropped with a warning).
    pub fn exchange(&self, pc: u32) -> SimHandle {
        SimHandle {
            target: Some(pc),
            ..self.clone()
        }
    }

    /// Every message and event from now on. Slow subscribers lose the oldest (lagged).
    pub fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.events.subscribe()
    }

    /// True while the M3UA peer is active (AS-ACTIVE / ASP-ACTIVE).
    pub fn is_active(&self) -> bool {
        *self.active.borrow()
    }

    /// Waits until the M3UA peer is active; false on timeout.
    pub async fn wait_active(&self, timeout: Duration) -> bool {
        let mut rx = self.active.clone();
        tokio::time::timeout(timeout, rx.wait_for(|a| *a))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    async fn request<T>(
        &self,
        f: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SimError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send((self.target, f(tx)))
            .await
            .map_err(|_| SimError::Stopped)?;
        rx.await.map_err(|_| SimError::Stopped)
    }

    async fn command(&self, c: Command) -> Result<(), SimError> {
        self.cmd
            .send((self.target, c))
            .await
            .map_err(|_| SimError::Stopped)
    }

    /// Originates a call (IAM now); returns the call id and its CIC. Without a chosen exchange,
    /// the calls go round the exchanges in turn, skipping those without an idle circuit (a
    /// request with a CIC goes to the first exchange that has it).
    pub async fn originate(&self, req: CallRequest) -> Result<(CallId, u16), SimError> {
        self.request(|tx| Command::Originate(req, tx)).await?
    }

    /// Releases a call from this side (REL with `cause`).
    pub async fn release(&self, call: CallId, cause: u8) -> Result<(), SimError> {
        self.command(Command::Release(call, cause)).await
    }

    /// Answers a ringing incoming call now.
    pub async fn answer(&self, call: CallId) -> Result<(), SimError> {
        self.command(Command::Answer(call)).await
    }

    /// Sends any ISUP message on `cic` as is (scenarios; the exchange does not track it).
    pub async fn send(&self, cic: u16, message: Message) -> Result<(), SimError> {
        self.request(|tx| Command::Send(cic, message, tx)).await?
    }

    pub async fn reset_circuit(&self, cic: u16) -> Result<(), SimError> {
        self.command(Command::ResetCircuit(cic)).await
    }
    pub async fn reset_group(&self, cic: u16, range: u8) -> Result<(), SimError> {
        self.command(Command::ResetGroup(cic, range)).await
    }
    /// GRS for every configured circuit (of every exchange, unless one was chosen).
    pub async fn reset_all(&self) -> Result<(), SimError> {
        self.command(Command::ResetAll).await
    }
    pub async fn block(&self, cic: u16) -> Result<(), SimError> {
        self.command(Command::Block(cic)).await
    }
    pub async fn unblock(&self, cic: u16) -> Result<(), SimError> {
        self.command(Command::Unblock(cic)).await
    }
    /// CGB (`block`) or CGU for the circuits from `cic` whose bit is set.
    pub async fn group_block(
        &self,
        cic: u16,
        bits: Vec<bool>,
        hardware: bool,
        block: bool,
    ) -> Result<(), SimError> {
        self.command(Command::GroupBlock {
            cic,
            bits,
            hardware,
            block,
        })
        .await
    }
    /// CQM; the answer arrives as `Maintenance::QueryResponse`.
    pub async fn query(&self, cic: u16, range: u8) -> Result<(), SimError> {
        self.command(Command::Query(cic, range)).await
    }

    /// The circuit states of each exchange: (own point code, counts), in configuration order.
    pub async fn circuits_by_exchange(&self) -> Result<Vec<(u32, CircuitCounts)>, SimError> {
        self.request(Command::Circuits).await
    }

    /// Statistics (with every latency sample) and circuit states now (totals over the
    /// exchanges).
    pub async fn stats(&self) -> Result<(Stats, CircuitCounts), SimError> {
        self.request(Command::Stats).await
    }

    /// The counters and the circuit states (one pass over the circuits).
    pub async fn counts(&self) -> Result<Counts, SimError> {
        self.request(Command::Counts).await
    }

    /// Only the call counters, outgoing and incoming: cheap to poll however many circuits.
    pub async fn call_counts(&self) -> Result<(CallCounts, CallCounts), SimError> {
        self.request(Command::CallCounts).await
    }

    /// Stops the simulator: flushes the traces and closes the M3UA side.
    pub async fn shutdown(&self) {
        let _ = self.cmd.send((None, Command::Shutdown)).await;
    }
}

// ---------------------------------------------------------------- internals

enum Peer {
    Sgp(SgpHandle, mpsc::Receiver<SgpEvent>, JoinHandle<()>),
    Asp(AspHandle, mpsc::Receiver<AspEvent>, JoinHandle<()>),
    Stopped,
}

enum PeerEvent {
    Data(ProtocolData),
    Active(bool),
    /// DATA we queued was refused by the M3UA layer (lost).
    Refused,
    Other,
    Closed,
}

impl Peer {
    async fn next(&mut self) -> PeerEvent {
        match self {
            Peer::Sgp(_, ev, _) => match ev.recv().await {
                Some(SgpEvent::Transfer { data, .. }) => PeerEvent::Data(data.protocol_data),
                Some(SgpEvent::AsStateChanged { to, .. }) => {
                    PeerEvent::Active(to == AsState::Active)
                }
                Some(SgpEvent::TransferRefused(e)) => {
                    tracing::warn!(error = %e, "DATA towards the ASP refused");
                    PeerEvent::Refused
                }
                Some(e) => {
                    tracing::debug!(event = ?e, "SGP");
                    PeerEvent::Other
                }
                None => PeerEvent::Closed,
            },
            Peer::Asp(_, ev, _) => match ev.recv().await {
                Some(AspEvent::Transfer(data)) => PeerEvent::Data(data.protocol_data),
                Some(AspEvent::StateChanged { to, .. }) => {
                    PeerEvent::Active(to == AspState::Active)
                }
                Some(e) => {
                    tracing::debug!(event = ?e, "ASP");
                    PeerEvent::Other
                }
                None => PeerEvent::Closed,
            },
            Peer::Stopped => PeerEvent::Closed,
        }
    }

    async fn shutdown(self) {
        match self {
            Peer::Sgp(h, _, task) => {
                h.shutdown().await;
                let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
            }
            Peer::Asp(h, _, task) => {
                h.stop().await;
                let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
            }
            Peer::Stopped => {}
        }
    }
}

/// DATA towards the peer goes through its own task and an unbounded queue, so the driver never
/// waits on the M3UA task while that task waits for the driver to read its events.
struct Outbound {
    tx: mpsc::UnboundedSender<ProtocolData>,
    /// DATA the ASP refused (not active any more when it got there).
    lost: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Outbound {
    fn spawn(peer: &Peer) -> Outbound {
        enum Send {
            Sgp(SgpHandle),
            Asp(AspHandle),
            None,
        }
        let h = match peer {
            Peer::Sgp(h, _, _) => Send::Sgp(h.clone()),
            Peer::Asp(h, _, _) => Send::Asp(h.clone()),
            Peer::Stopped => Send::None,
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<ProtocolData>();
        let lost = Arc::new(AtomicU64::new(0));
        let lost2 = lost.clone();
        let task = tokio::spawn(async move {
            while let Some(pd) = rx.recv().await {
                let ok = match &h {
                    // A refusal comes back as SgpEvent::TransferRefused (logged).
                    Send::Sgp(h) => {
                        h.transfer(None, pd).await;
                        true
                    }
                    Send::Asp(h) => h.transfer(pd).await.is_ok(),
                    Send::None => false,
                };
                if !ok {
                    lost2.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Outbound { tx, lost, task }
    }
}

/// A timer of the exchange at this index.
type TimerKey = (usize, Timer);

/// Deadlines with lazy cancellation: a restarted or stopped timer's old entry is skipped.
#[derive(Default)]
struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, TimerKey)>>,
    live: HashMap<TimerKey, u64>,
    seq: u64,
}

impl TimerQueue {
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        (self.heap.len(), self.live.len())
    }

    fn start(&mut self, t: TimerKey, at: Instant) {
        self.seq += 1;
        self.live.insert(t, self.seq);
        self.heap.push(Reverse((at, self.seq, t)));
    }
    fn stop(&mut self, t: TimerKey) {
        if self.live.remove(&t).is_some() && self.heap.len() > 2 * self.live.len() + 1024 {
            // Stopped timers (T5 is stopped by nearly every RLC) would otherwise stay in the
            // heap until their deadline: drop them once they are the majority.
            let live = &self.live;
            self.heap
                .retain(|Reverse((_, seq, t))| live.get(t) == Some(seq));
        }
    }
    fn next(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, seq, t))) = self.heap.peek() {
            if self.live.get(t) == Some(seq) {
                return Some(*at);
            }
            self.heap.pop();
        }
        None
    }
    fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        while let Some(Reverse((at, seq, t))) = self.heap.peek().copied() {
            if self.live.get(&t) != Some(&seq) {
                self.heap.pop();
                continue;
            }
            if at > now {
                return None;
            }
            self.heap.pop();
            self.live.remove(&t);
            return Some(t);
        }
        None
    }
}

struct Driver {
    /// One per far-end exchange, in configuration order.
    exchanges: Vec<Exchange>,
    /// Their own point codes (the OPC of what they send), by index.
    point_codes: Arc<[u32]>,
    /// Own point code → index: received DATA goes to the exchange its DPC names.
    by_pc: HashMap<u32, usize>,
    /// Where the next spread originate starts looking.
    next_exchange: usize,
    cfg: Config,
    peer: Peer,
    out: Option<Outbound>,
    events: broadcast::Sender<SimEvent>,
    active: watch::Sender<bool>,
    timers: TimerQueue,
    stats: Stats,
    log: Option<BufWriter<File>>,
    pcap: Option<Arc<Mutex<PcapWriter<BufWriter<File>>>>>,
    origin: Instant,
    peer_active: bool,
}

fn unix_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Driver {
    fn now(&self) -> Duration {
        Instant::now().duration_since(self.origin)
    }

    fn log_line(&mut self, dir: MsgDir, opc: u32, dpc: u32, cic: u16, m: &Message) {
        if let Some(w) = &mut self.log {
            let line = json!({
                "dir": dir,
                "time": unix_time(),
                "opc": opc,
                "dpc": dpc,
                "cic": cic,
                "message": isup::json::to_json(m, Some(cic)),
            });
            let _ = writeln!(w, "{line}");
        }
    }

    /// The exchange a request is for: the chosen one, else the first.
    fn target(&self, pc: Option<u32>) -> Result<usize, SimError> {
        match pc {
            None => Ok(0),
            Some(pc) => self
                .by_pc
                .get(&pc)
                .copied()
                .ok_or(SimError::UnknownPointCode(pc)),
        }
    }

    async fn send_isup(&mut self, x: usize, cic: u16, m: Message) -> Result<(), SimError> {
        let mut ud = Vec::with_capacity(64);
        m.emit_with_cic(cic, &mut ud)
            .map_err(|e| SimError::Encode(e.to_string()))?;
        if !self.peer_active {
            self.stats.send_failures += 1;
            return Err(SimError::PeerNotActive);
        }
        let opc = self.point_codes[x];
        let pd = ProtocolData {
            opc,
            dpc: self.cfg.remote_pc,
            si: SI_ISUP,
            ni: self.cfg.ni,
            mp: 0,
            // ITU: 4-bit SLS; keep a circuit's messages on one link (in sequence).
            sls: (cic & 0x0F) as u8,
            user_data: Bytes::from(ud),
        };
        let queued = self.out.as_ref().is_some_and(|o| o.tx.send(pd).is_ok());
        if !queued {
            self.stats.send_failures += 1;
            return Err(SimError::PeerNotActive);
        }
        self.stats.messages_sent += 1;
        let dpc = self.cfg.remote_pc;
        self.log_line(MsgDir::Sent, opc, dpc, cic, &m);
        let _ = self.events.send(SimEvent::Message {
            dir: MsgDir::Sent,
            opc,
            dpc,
            cic,
            message: Arc::new(m),
        });
        Ok(())
    }

    async fn drain(&mut self) {
        for x in 0..self.exchanges.len() {
            while let Some(a) = self.exchanges[x].poll_action() {
                match a {
                    Action::Send { cic, message } => {
                        if let Err(e) = self.send_isup(x, cic, message).await {
                            tracing::debug!(cic, error = %e, "ISUP message not sent");
                        }
                    }
                    Action::StartTimer { timer, after } => {
                        self.timers.start((x, timer), Instant::now() + after)
                    }
                    Action::StopTimer(t) => self.timers.stop((x, t)),
                    Action::Event(event) => {
                        self.stats.record(&event);
                        let pc = self.point_codes[x];
                        let _ = self.events.send(SimEvent::Exchange { pc, event });
                    }
                }
            }
        }
    }

    /// Received DATA: the exchange its DPC names, the CIC and the message; `None` if it is not
    /// ISUP from the peer to one of our point codes (counted as misrouted), or undecodable.
    fn on_data(&mut self, pd: ProtocolData) -> Option<(usize, u16, Message)> {
        if pd.si != SI_ISUP {
            self.stats.misrouted += 1;
            tracing::debug!(si = pd.si, "non-ISUP user data ignored");
            return None;
        }
        let x = match self.by_pc.get(&pd.dpc) {
            Some(&x) if pd.opc == self.cfg.remote_pc => x,
            _ => {
                self.stats.misrouted += 1;
                tracing::debug!(
                    opc = pd.opc,
                    dpc = pd.dpc,
                    "ISUP for another point code ignored"
                );
                return None;
            }
        };
        match isup::Variant::ITU.parse_with_cic(&pd.user_data) {
            Ok((cic, m)) => {
                self.stats.messages_received += 1;
                self.log_line(MsgDir::Received, pd.opc, pd.dpc, cic, &m);
                let m = Arc::new(m);
                let _ = self.events.send(SimEvent::Message {
                    dir: MsgDir::Received,
                    opc: pd.opc,
                    dpc: pd.dpc,
                    cic,
                    message: m.clone(),
                });
                Some((x, cic, Arc::unwrap_or_clone(m)))
            }
            Err(e) => {
                self.stats.decode_errors += 1;
                if let Some(w) = &mut self.log {
                    let line = json!({"dir": MsgDir::Received, "time": unix_time(), "opc": pd.opc,
                        "dpc": pd.dpc, "error": e.to_string(), "hex": hex::encode(&pd.user_data)});
                    let _ = writeln!(w, "{line}");
                }
                let _ = self.events.send(SimEvent::BadMessage {
                    opc: pd.opc,
                    error: e.to_string(),
                });
                // Q.764 §2.9.5: a message that cannot be decoded is discarded.
                None
            }
        }
    }

    fn flush(&mut self) {
        if let Some(w) = &mut self.log {
            let _ = w.flush();
        }
        if let Some(p) = &self.pcap
            && let Ok(mut w) = p.lock()
        {
            let _ = w.flush();
        }
    }

    async fn run(mut self, mut cmd_rx: mpsc::Receiver<(Option<u32>, Command)>) {
        // Traces reach the disk at least once a second (readable while the simulator runs).
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.drain().await;
            let next = self.timers.next();
            tokio::select! {
                _ = flush.tick(), if self.log.is_some() || self.pcap.is_some() => self.flush(),
                ev = self.peer.next() => match ev {
                    PeerEvent::Data(pd) => {
                        if let Some((x, cic, m)) = self.on_data(pd) {
                            let now = self.now();
                            self.exchanges[x].handle_message(now, cic, &m);
                        }
                    }
                    PeerEvent::Active(a) => {
                        if a != self.peer_active {
                            self.peer_active = a;
                            let _ = self.active.send(a);
                            let _ = self.events.send(SimEvent::Peer(a));
                            tracing::info!(active = a, "M3UA peer");
                            if a && self.cfg.reset_on_start {
                                let now = self.now();
                                for x in &mut self.exchanges {
                                    x.reset_all(now);
                                }
                            }
                        }
                    }
                    PeerEvent::Refused => self.stats.send_failures += 1,
                    PeerEvent::Other => {}
                    PeerEvent::Closed => break,
                },
                cmd = cmd_rx.recv() => {
                    let Some((target, cmd)) = cmd else { break };
                    if !self.command(target, cmd).await {
                        break;
                    }
                }
                _ = async {
                    match next {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let now_i = Instant::now();
                    while let Some((x, t)) = self.timers.pop_due(now_i) {
                        let now = self.now();
                        self.exchanges[x].handle_timeout(now, t);
                        self.drain().await;
                    }
                }
            }
        }
        self.finish().await;
    }

    /// Originates on the chosen exchange; without one, on the first that equips the requested
    /// CIC, or else round the exchanges in turn (each picks its own circuit).
    fn originate(
        &mut self,
        now: Duration,
        target: Option<u32>,
        req: CallRequest,
    ) -> Result<(CallId, u16), SimError> {
        if target.is_some() {
            let x = self.target(target)?;
            return Ok(self.exchanges[x].originate(now, req)?);
        }
        if let Some(cic) = req.cic {
            let x = self
                .exchanges
                .iter()
                .position(|e| e.equips(cic))
                .unwrap_or(0);
            return Ok(self.exchanges[x].originate(now, req)?);
        }
        let n = self.exchanges.len();
        for k in 0..n {
            let x = (self.next_exchange + k) % n;
            match self.exchanges[x].originate(now, req.clone()) {
                Ok(r) => {
                    self.next_exchange = (x + 1) % n;
                    return Ok(r);
                }
                Err(OriginateError::NoCircuit) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(OriginateError::NoCircuit.into())
    }

    /// The exchange that handed out a call id ([`Exchange::with_call_ids`]).
    fn exchange_of(&self, call: CallId) -> usize {
        (call.saturating_sub(1) % self.exchanges.len() as CallId) as usize
    }

    fn circuit_counts(&self) -> CircuitCounts {
        let mut c = CircuitCounts::default();
        for x in &self.exchanges {
            c += x.circuit_counts();
        }
        c
    }

    /// Handles one command for the `target` exchange; false = shut down.
    async fn command(&mut self, target: Option<u32>, cmd: Command) -> bool {
        let now = self.now();
        // Maintenance goes to the chosen exchange, else the first (`ResetAll`: all of them).
        let x = match (&cmd, self.target(target)) {
            (
                Command::ResetCircuit(..)
                | Command::ResetGroup(..)
                | Command::Block(_)
                | Command::Unblock(_)
                | Command::GroupBlock { .. }
                | Command::Query(..),
                Err(e),
            ) => {
                tracing::warn!(error = %e, "maintenance request dropped");
                return true;
            }
            (_, r) => r.unwrap_or(0),
        };
        match cmd {
            Command::Originate(req, tx) => {
                self.stats.attempt();
                let r = if !self.peer_active {
                    self.stats
                        .refused(crate::exchange::cause::TEMPORARY_FAILURE);
                    Err(SimError::PeerNotActive)
                } else {
                    let r = self.originate(now, target, req);
                    if r.is_err() {
                        self.stats
                            .refused(crate::exchange::cause::NO_CIRCUIT_AVAILABLE);
                    }
                    r
                };
                let _ = tx.send(r);
            }
            Command::Release(call, cause) => {
                let x = self.exchange_of(call);
                self.exchanges[x].release(now, call, cause);
            }
            Command::Answer(call) => {
                let x = self.exchange_of(call);
                self.exchanges[x].answer(now, call);
            }
            Command::Send(cic, m, tx) => {
                let r = match self.target(target) {
                    Ok(x) => self.send_isup(x, cic, m).await,
                    Err(e) => Err(e),
                };
                let _ = tx.send(r);
            }
            Command::ResetCircuit(c) => self.exchanges[x].reset_circuit(now, c),
            Command::ResetGroup(c, r) => self.exchanges[x].reset_group(now, c, r),
            Command::ResetAll => match target {
                Some(_) => self.exchanges[x].reset_all(now),
                None => self.exchanges.iter_mut().for_each(|e| e.reset_all(now)),
            },
            Command::Block(c) => self.exchanges[x].block(c),
            Command::Unblock(c) => self.exchanges[x].unblock(c),
            Command::GroupBlock {
                cic,
                bits,
                hardware,
                block,
            } => self.exchanges[x].group_block(cic, &bits, hardware, block),
            Command::Query(c, r) => self.exchanges[x].query(c, r),
            Command::Stats(tx) => {
                let mut stats = self.stats.clone();
                stats.send_failures += self
                    .out
                    .as_ref()
                    .map_or(0, |o| o.lost.load(Ordering::Relaxed));
                let _ = tx.send((stats, self.circuit_counts()));
            }
            Command::Circuits(tx) => {
                let by = self
                    .exchanges
                    .iter()
                    .zip(self.point_codes.iter())
                    .map(|(e, &pc)| (pc, e.circuit_counts()))
                    .collect();
                let _ = tx.send(by);
            }
            Command::Counts(tx) => {
                let _ = tx.send(Counts {
                    outgoing: self.stats.outgoing.counts(),
                    incoming: self.stats.incoming.counts(),
                    circuits: self.circuit_counts(),
                });
            }
            Command::CallCounts(tx) => {
                let _ = tx.send((self.stats.outgoing.counts(), self.stats.incoming.counts()));
            }
            Command::Shutdown => return false,
        }
        true
    }

    async fn finish(mut self) {
        self.drain().await;
        let _ = self.active.send(false);
        // Let the queued DATA reach the M3UA task before it is shut down.
        if let Some(out) = self.out.take() {
            drop(out.tx);
            let _ = tokio::time::timeout(Duration::from_secs(2), out.task).await;
        }
        let peer = std::mem::replace(&mut self.peer, Peer::Stopped);
        peer.shutdown().await;
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::TimerKind;

    #[test]
    fn timer_queue_orders_restarts_and_stays_compact() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        let t = |cic, kind| (0, Timer { cic, kind });
        q.start(t(1, TimerKind::T1), t0 + Duration::from_secs(3));
        q.start(t(2, TimerKind::T1), t0 + Duration::from_secs(1));
        q.start(t(1, TimerKind::T5), t0 + Duration::from_secs(2));
        // Restart moves the deadline; the old entry is skipped.
        q.start(t(2, TimerKind::T1), t0 + Duration::from_secs(4));
        q.stop(t(1, TimerKind::T5));
        assert_eq!(q.next(), Some(t0 + Duration::from_secs(3)));
        assert_eq!(q.pop_due(t0 + Duration::from_secs(2)), None);
        let due: Vec<TimerKey> =
            std::iter::from_fn(|| q.pop_due(t0 + Duration::from_secs(10))).collect();
        assert_eq!(due, vec![t(1, TimerKind::T1), t(2, TimerKind::T1)]);
        // 100,000 started and stopped timers do not pile up.
        for i in 0..100_000u32 {
            let k = t((i % 4000) as u16, TimerKind::T5);
            let k = ((i % 3) as usize, k.1);
            q.start(k, t0 + Duration::from_secs(300));
            q.stop(k);
        }
        let (heap, live) = q.len();
        assert_eq!(live, 0);
        assert!(heap <= 1024 + 1, "heap {heap}");
    }
}
