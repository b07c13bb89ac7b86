//! Tokio drivers that run the sans-IO [`Asp`] and [`Sgp`] machines on real sockets.
//!
//! Transports:
//! - **TCP** (always built): M3UA messages back to back, delimited by their Message Length
//!   ([`framing::FrameDecoder`]). There are no streams on TCP: received DATA is reported on
//!   stream 1 and everything else on stream 0, as libosmo-sigtran does.
//! - **SCTP** (cargo feature `sctp`, Linux): kernel one-to-one sockets, PPID 3, management on
//!   stream 0, DATA on the stream the state machine chose from the SLS.
//!
//! Each association has a reader task and a writer task; the state machine runs in one task
//! that owns it and talks to the user through an `mpsc` command channel (the handle) and an
//! event channel. Users must keep draining the event channel: when it is full the driver stops
//! reading from the network, which is the intended back-pressure.

pub mod framing;
#[cfg(feature = "sctp")]
pub mod sctp;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::M3UA_PORT;
use crate::asp::{self, Asp, AspConfig, AspEvent, AspState, TransferError};
use crate::dest::{DestinationStatus, DestinationTable, Reachability};
use crate::sgp::{self, AssocId, Sgp, SgpConfig, SgpEvent};
use crate::wire::{AffectedPointCode, MAX_MESSAGE_LEN, MessageClass, ProtocolData, UserCause};
use framing::FrameDecoder;

/// Which transport carries M3UA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// M3UA over TCP (lab and compatibility mode, RFC 4666 §1.3.1 allows it).
    #[default]
    Tcp,
    /// Kernel SCTP, PPID 3 (the standard transport).
    #[cfg(feature = "sctp")]
    Sctp,
}

/// `0.0.0.0:2905`, where an SGP listens by default.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), M3UA_PORT);

/// Which way a tapped message went, seen from this end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapDirection {
    Sent,
    Received,
}

/// One M3UA message as it crossed the socket, for tracing (e.g. a pcap). `local` and `peer`
/// are the socket addresses of the association.
#[derive(Debug, Clone)]
pub struct Tapped<'a> {
    pub direction: TapDirection,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The stream the message went on (TCP: 1 for DATA, 0 otherwise, as reported).
    pub stream: u16,
    /// The whole M3UA message.
    pub bytes: &'a [u8],
}

/// Called by the reader and writer tasks for every message; keep it quick (it runs inline).
pub type Tap = Arc<dyn Fn(&Tapped<'_>) + Send + Sync>;

/// Where and how an ASP connects.
#[derive(Clone)]
pub struct AspTransportConfig {
    pub transport: Transport,
    pub remote: SocketAddr,
    pub local: Option<SocketAddr>,
    /// Largest M3UA message accepted from the peer.
    pub max_message_len: usize,
    pub connect_timeout: Duration,
    /// Sees every M3UA message sent and received.
    pub tap: Option<Tap>,
}

impl std::fmt::Debug for AspTransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AspTransportConfig")
            .field("transport", &self.transport)
            .field("remote", &self.remote)
            .field("local", &self.local)
            .field("max_message_len", &self.max_message_len)
            .field("connect_timeout", &self.connect_timeout)
            .field("tap", &self.tap.is_some())
            .finish()
    }
}

impl AspTransportConfig {
    /// TCP to `remote` (port 2905 unless given otherwise).
    pub fn tcp(remote: SocketAddr) -> Self {
        AspTransportConfig {
            transport: Transport::Tcp,
            remote,
            local: None,
            max_message_len: MAX_MESSAGE_LEN,
            connect_timeout: Duration::from_secs(5),
            tap: None,
        }
    }
}

// ---------------------------------------------------------------- associations

enum Conn {
    Tcp(TcpStream),
    #[cfg(feature = "sctp")]
    Sctp(sctp::SctpAssociation),
}

async fn connect(t: Transport, remote: SocketAddr, local: Option<SocketAddr>) -> io::Result<Conn> {
    match t {
        Transport::Tcp => {
            let s = match local {
                Some(l) => {
                    let sock = if l.is_ipv4() {
                        tokio::net::TcpSocket::new_v4()?
                    } else {
                        tokio::net::TcpSocket::new_v6()?
                    };
                    sock.bind(l)?;
                    sock.connect(remote).await?
                }
                None => TcpStream::connect(remote).await?,
            };
            s.set_nodelay(true)?;
            Ok(Conn::Tcp(s))
        }
        #[cfg(feature = "sctp")]
        Transport::Sctp => Ok(Conn::Sctp(
            sctp::SctpAssociation::connect(remote, local).await?,
        )),
    }
}

impl Conn {
    /// (local, peer) socket addresses, for taps.
    fn addrs(&self) -> (SocketAddr, SocketAddr) {
        let unspecified = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        match self {
            Conn::Tcp(s) => (
                s.local_addr().unwrap_or(unspecified),
                s.peer_addr().unwrap_or(unspecified),
            ),
            #[cfg(feature = "sctp")]
            Conn::Sctp(_) => (unspecified, unspecified),
        }
    }
}

enum Listener {
    Tcp(TcpListener),
    #[cfg(feature = "sctp")]
    Sctp(sctp::SctpListener),
}

impl Listener {
    async fn bind(t: Transport, addr: SocketAddr) -> io::Result<Listener> {
        Ok(match t {
            Transport::Tcp => Listener::Tcp(TcpListener::bind(addr).await?),
            #[cfg(feature = "sctp")]
            Transport::Sctp => Listener::Sctp(sctp::SctpListener::bind(addr)?),
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr(),
            #[cfg(feature = "sctp")]
            Listener::Sctp(l) => l.local_addr(),
        }
    }

    async fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok(Conn::Tcp(s))
            }
            #[cfg(feature = "sctp")]
            Listener::Sctp(l) => Ok(Conn::Sctp(l.accept().await?)),
        }
    }
}

/// What reader and writer tasks report to the state machine's task.
enum Inbound {
    Frame {
        link: u64,
        stream: u16,
        bytes: Bytes,
    },
    Closed {
        link: u64,
        reason: String,
    },
}

/// Messages queued toward one peer at most. TCP and SCTP give no M3UA-level flow control, so a
/// peer that stops reading would otherwise grow this queue without bound: beyond it the
/// association is failed (and, on the ASP side, re-established with backoff).
pub const MAX_QUEUED_MESSAGES: usize = 65_536;

/// A running association; dropping it closes the socket.
struct Link {
    out: mpsc::Sender<(u16, Bytes)>,
    /// To report a failed association from the sending side.
    inbound: mpsc::Sender<Inbound>,
    id: u64,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
    tap: Option<(Tap, SocketAddr, SocketAddr)>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl Link {
    /// Closes the association gracefully: the writer sends what is queued, shuts the socket
    /// down and ends (bounded by `limit`). Dropping a link instead discards the queue.
    async fn close(mut self, limit: Duration) {
        // The writer ends once its queue is empty and every sender is gone.
        drop(std::mem::replace(&mut self.out, mpsc::channel(1).0));
        self.reader.abort();
        let _ = tokio::time::timeout(limit, &mut self.writer).await;
    }

    fn send(&self, stream: u16, msg: &crate::Message) {
        let mut b = BytesMut::with_capacity(msg.buffer_len());
        msg.emit(&mut b);
        if let Some((tap, local, peer)) = &self.tap {
            tap(&Tapped {
                direction: TapDirection::Sent,
                local: *local,
                peer: *peer,
                stream,
                bytes: &b,
            });
        }
        // A closed writer reports itself through Inbound::Closed.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send((stream, b.freeze())) {
            // The peer has stopped reading: fail the association rather than buffer without
            // bound; the driver handles it like any other loss.
            self.reader.abort();
            self.writer.abort();
            let _ = self.inbound.try_send(Inbound::Closed {
                link: self.id,
                reason: format!("{MAX_QUEUED_MESSAGES} messages queued: peer not reading"),
            });
        }
    }
}

/// The stream a TCP-received message is reported on (TCP has none).
fn tcp_stream_of(frame: &[u8]) -> u16 {
    if frame.get(2) == Some(&MessageClass::TRANSFER.0) {
        1
    } else {
        0
    }
}

fn start_link(
    conn: Conn,
    link: u64,
    inbound: mpsc::Sender<Inbound>,
    max_len: usize,
    tap: Option<Tap>,
) -> Link {
    let (out, mut rx) = mpsc::channel::<(u16, Bytes)>(MAX_QUEUED_MESSAGES);
    let link_inbound = inbound.clone();
    let (local, peer) = conn.addrs();
    let tap = tap.map(|t| (t, local, peer));
    let reader_tap = tap.clone();
    let tap_received = move |stream: u16, bytes: &[u8]| {
        if let Some((tap, local, peer)) = &reader_tap {
            tap(&Tapped {
                direction: TapDirection::Received,
                local: *local,
                peer: *peer,
                stream,
                bytes,
            });
        }
    };
    match conn {
        Conn::Tcp(s) => {
            let (mut rd, mut wr) = s.into_split();
            let tx = inbound.clone();
            let reader = tokio::spawn(async move {
                let dec = FrameDecoder::new(max_len);
                let mut buf = BytesMut::with_capacity(64 * 1024);
                let reason = 'read: loop {
                    loop {
                        match dec.decode(&mut buf) {
                            Ok(Some(bytes)) => {
                                let stream = tcp_stream_of(&bytes);
                                tap_received(stream, &bytes);
                                let f = Inbound::Frame {
                                    link,
                                    stream,
                                    bytes,
                                };
                                if tx.send(f).await.is_err() {
                                    return;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => break 'read format!("framing: {e}"),
                        }
                    }
                    match rd.read_buf(&mut buf).await {
                        Ok(0) => break "closed by peer".to_owned(),
                        Ok(_) => {}
                        Err(e) => break e.to_string(),
                    }
                };
                let _ = tx.send(Inbound::Closed { link, reason }).await;
            });
            let writer = tokio::spawn(async move {
                let mut batch = Vec::with_capacity(64 * 1024);
                while let Some((_, b)) = rx.recv().await {
                    batch.clear();
                    batch.extend_from_slice(&b);
                    while batch.len() < 64 * 1024 {
                        match rx.try_recv() {
                            Ok((_, b)) => batch.extend_from_slice(&b),
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = wr.write_all(&batch).await {
                        let reason = e.to_string();
                        let _ = inbound.send(Inbound::Closed { link, reason }).await;
                        return;
                    }
                }
                let _ = wr.shutdown().await;
            });
            Link {
                out,
                inbound: link_inbound,
                id: link,
                reader,
                writer,
                tap,
            }
        }
        #[cfg(feature = "sctp")]
        Conn::Sctp(a) => {
            let rd = a.clone();
            let tx = inbound.clone();
            let reader = tokio::spawn(async move {
                let reason = loop {
                    match rd.recv(max_len).await {
                        Ok(Some((stream, bytes))) => {
                            tap_received(stream, &bytes);
                            let f = Inbound::Frame {
                                link,
                                stream,
                                bytes,
                            };
                            if tx.send(f).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break "closed by peer".to_owned(),
                        Err(e) => break e.to_string(),
                    }
                };
                let _ = tx.send(Inbound::Closed { link, reason }).await;
            });
            let writer = tokio::spawn(async move {
                while let Some((stream, b)) = rx.recv().await {
                    if let Err(e) = a.send(stream, &b).await {
                        let reason = e.to_string();
                        let _ = inbound.send(Inbound::Closed { link, reason }).await;
                        return;
                    }
                }
            });
            Link {
                out,
                inbound: link_inbound,
                id: link,
                reader,
                writer,
                tap,
            }
        }
    }
}

/// Timers keyed by the machine's timer names.
struct Timers<T> {
    at: HashMap<T, Instant>,
}

impl<T: std::hash::Hash + Eq + Copy> Timers<T> {
    fn new() -> Self {
        Timers { at: HashMap::new() }
    }
    fn start(&mut self, t: T, after: Duration) {
        self.at.insert(t, Instant::now() + after);
    }
    fn stop(&mut self, t: T) {
        self.at.remove(&t);
    }
    fn next(&self) -> Option<Instant> {
        self.at.values().min().copied()
    }
    /// Removes and returns the timers that are due.
    fn due(&mut self) -> Vec<T> {
        let now = Instant::now();
        let due: Vec<T> = self
            .at
            .iter()
            .filter(|&(_, &d)| d <= now)
            .map(|(&t, _)| t)
            .collect();
        for t in &due {
            self.at.remove(t);
        }
        due
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------- ASP driver

enum AspCommand {
    Transfer(ProtocolData),
    Activate,
    Deactivate,
    Audit(Vec<AffectedPointCode>),
    Stop,
}

struct AspShared {
    state: AtomicU8,
    dests: Mutex<DestinationTable>,
}

fn state_to_u8(s: AspState) -> u8 {
    match s {
        AspState::Down => 0,
        AspState::Inactive => 1,
        AspState::Active => 2,
    }
}

/// Controls a running ASP; cheap to clone.
#[derive(Clone)]
pub struct AspHandle {
    cmd: mpsc::Sender<AspCommand>,
    shared: Arc<AspShared>,
}

impl AspHandle {
    /// Current ASP state.
    pub fn state(&self) -> AspState {
        match self.shared.state.load(Ordering::Acquire) {
            2 => AspState::Active,
            1 => AspState::Inactive,
            _ => AspState::Down,
        }
    }

    /// What the SGP said about `dpc` (DUNA/DAVA/DRST/SCON).
    pub fn destination_status(&self, dpc: u32) -> DestinationStatus {
        self.shared
            .dests
            .lock()
            .map(|d| d.status(dpc))
            .unwrap_or_default()
    }

    /// MTP-TRANSFER request. Fails fast, with the cause, when the ASP is not active or the DPC
    /// is unavailable; otherwise queues the DATA (waiting if the command queue is full).
    pub async fn transfer(&self, protocol_data: ProtocolData) -> Result<(), TransferError> {
        let state = self.state();
        if state != AspState::Active {
            return Err(TransferError::NotActive(state));
        }
        let dpc = protocol_data.dpc;
        if self.destination_status(dpc).reachability == Reachability::Unavailable {
            return Err(TransferError::DestinationUnavailable { dpc });
        }
        self.cmd
            .send(AspCommand::Transfer(protocol_data))
            .await
            .map_err(|_| TransferError::NotActive(AspState::Down))
    }

    pub async fn activate(&self) {
        let _ = self.cmd.send(AspCommand::Activate).await;
    }
    pub async fn deactivate(&self) {
        let _ = self.cmd.send(AspCommand::Deactivate).await;
    }
    /// DAUD for the given destinations; answers arrive as [`AspEvent::Reachability`].
    pub async fn audit(&self, affected: Vec<AffectedPointCode>) {
        let _ = self.cmd.send(AspCommand::Audit(affected)).await;
    }
    /// ASPDN, then close; the driver task ends.
    pub async fn stop(&self) {
        let _ = self.cmd.send(AspCommand::Stop).await;
    }
}

/// Starts an ASP that connects to its SGP, comes up, activates (per `cfg.auto_activate`),
/// reconnects with backoff and reports [`AspEvent`]s. Must be called within a tokio runtime.
pub fn spawn_asp(
    cfg: AspConfig,
    tc: AspTransportConfig,
) -> (AspHandle, mpsc::Receiver<AspEvent>, JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = mpsc::channel(4096);
    let (ev_tx, ev_rx) = mpsc::channel(4096);
    let shared = Arc::new(AspShared {
        state: AtomicU8::new(0),
        dests: Mutex::new(DestinationTable::default()),
    });
    let task = tokio::spawn(run_asp(Asp::new(cfg), tc, cmd_rx, ev_tx, shared.clone()));
    (
        AspHandle {
            cmd: cmd_tx,
            shared,
        },
        ev_rx,
        task,
    )
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

async fn run_asp(
    mut asp: Asp,
    tc: AspTransportConfig,
    mut cmd_rx: mpsc::Receiver<AspCommand>,
    ev_tx: mpsc::Sender<AspEvent>,
    shared: Arc<AspShared>,
) {
    let (in_tx, mut in_rx) = mpsc::channel::<Inbound>(4096);
    let mut link: Option<Link> = None;
    let mut link_id = 0u64;
    let mut timers = Timers::<asp::Timer>::new();
    let mut connecting: Option<Connecting> = None;
    let mut stopping = false;
    asp.start();
    loop {
        while let Some(a) = asp.poll_action() {
            match a {
                asp::Action::Connect => {
                    let (t, r, l, to) = (tc.transport, tc.remote, tc.local, tc.connect_timeout);
                    connecting = Some(Box::pin(async move {
                        tokio::time::timeout(to, connect(t, r, l))
                            .await
                            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
                    }));
                }
                asp::Action::Disconnect => {
                    link = None;
                    connecting = None;
                }
                asp::Action::Send { stream, message } => {
                    if let Some(l) = &link {
                        l.send(stream, &message);
                    }
                }
                asp::Action::StartTimer { timer, after } => timers.start(timer, after),
                asp::Action::StopTimer(t) => timers.stop(t),
                asp::Action::Event(e) => {
                    if matches!(
                        e,
                        AspEvent::Reachability { .. }
                            | AspEvent::Congestion { .. }
                            | AspEvent::StateChanged { .. }
                    ) && let Ok(mut d) = shared.dests.lock()
                    {
                        *d = asp.destinations().clone();
                    }
                    shared
                        .state
                        .store(state_to_u8(asp.state()), Ordering::Release);
                    match &e {
                        AspEvent::StateChanged { from, to } => {
                            tracing::info!(?from, ?to, remote = %tc.remote, "ASP state")
                        }
                        AspEvent::HeartbeatLost | AspEvent::AckTimeout(_) => {
                            tracing::warn!(event = ?e, remote = %tc.remote, "ASP")
                        }
                        _ => {}
                    }
                    let _ = ev_tx.send(e).await;
                }
            }
        }
        shared
            .state
            .store(state_to_u8(asp.state()), Ordering::Release);
        if stopping && link.is_none() {
            return;
        }
        tokio::select! {
            r = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => {
                connecting = None;
                match r {
                    Ok(conn) => {
                        link_id += 1;
                        link = Some(start_link(
                            conn,
                            link_id,
                            in_tx.clone(),
                            tc.max_message_len,
                            tc.tap.clone(),
                        ));
                        asp.transport_up();
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, remote = %tc.remote, "M3UA connect failed");
                        asp.transport_down();
                    }
                }
            }
            Some(inb) = in_rx.recv() => match inb {
                Inbound::Frame { link: id, stream, bytes } if id == link_id && link.is_some() => {
                    asp.handle_shared(stream, &bytes);
                }
                Inbound::Closed { link: id, reason } if id == link_id && link.is_some() => {
                    tracing::warn!(%reason, remote = %tc.remote, "M3UA association lost");
                    link = None;
                    asp.transport_down();
                }
                _ => {}
            },
            cmd = cmd_rx.recv() => {
                let mut next = cmd;
                let mut n = 0;
                loop {
                    match next {
                        Some(AspCommand::Transfer(pd)) => {
                            if let Err(e) = asp.transfer(pd) {
                                tracing::debug!(error = %e, "transfer dropped");
                            }
                        }
                        Some(AspCommand::Activate) => asp.activate(),
                        Some(AspCommand::Deactivate) => asp.deactivate(),
                        Some(AspCommand::Audit(a)) => asp.audit(a),
                        Some(AspCommand::Stop) | None => {
                            stopping = true;
                            connecting = None;
                            asp.stop();
                            break;
                        }
                    }
                    // Batch queued commands before going back to the actions.
                    n += 1;
                    if n >= 256 {
                        break;
                    }
                    match cmd_rx.try_recv() {
                        Ok(c) => next = Some(c),
                        Err(_) => break,
                    }
                }
            }
            _ = sleep_until_opt(timers.next()) => {
                for t in timers.due() {
                    asp.handle_timeout(t);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- SGP driver

enum SgpCommand {
    Transfer(Option<u32>, ProtocolData),
    Reachability(Vec<AffectedPointCode>, Reachability),
    Congestion(Vec<AffectedPointCode>, u8),
    UserPartUnavailable(u32, UserCause),
    Shutdown,
}

/// Controls a running SGP; cheap to clone.
#[derive(Clone)]
pub struct SgpHandle {
    cmd: mpsc::Sender<SgpCommand>,
    local_addr: SocketAddr,
}

impl SgpHandle {
    /// The address the SGP listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    /// DATA towards the ASPs of an AS; a refusal arrives as [`SgpEvent::TransferRefused`].
    pub async fn transfer(&self, routing_context: Option<u32>, protocol_data: ProtocolData) {
        let _ = self
            .cmd
            .send(SgpCommand::Transfer(routing_context, protocol_data))
            .await;
    }
    /// Announces DUNA / DAVA / DRST.
    pub async fn set_reachability(&self, affected: Vec<AffectedPointCode>, r: Reachability) {
        let _ = self.cmd.send(SgpCommand::Reachability(affected, r)).await;
    }
    /// Announces SCON.
    pub async fn signal_congestion(&self, affected: Vec<AffectedPointCode>, level: u8) {
        let _ = self.cmd.send(SgpCommand::Congestion(affected, level)).await;
    }
    /// Announces DUPU.
    pub async fn user_part_unavailable(&self, point_code: u32, user_cause: UserCause) {
        let _ = self
            .cmd
            .send(SgpCommand::UserPartUnavailable(point_code, user_cause))
            .await;
    }
    /// Closes every association and the listener; the driver task ends.
    pub async fn shutdown(&self) {
        let _ = self.cmd.send(SgpCommand::Shutdown).await;
    }
}

/// Binds `listen` (e.g. [`DEFAULT_LISTEN`]) and runs an SGP accepting ASP associations.
pub async fn spawn_sgp(
    cfg: SgpConfig,
    transport: Transport,
    listen: SocketAddr,
) -> io::Result<(SgpHandle, mpsc::Receiver<SgpEvent>, JoinHandle<()>)> {
    spawn_sgp_with_tap(cfg, transport, listen, None).await
}

/// [`spawn_sgp`] with a [`Tap`] that sees every M3UA message on every association.
pub async fn spawn_sgp_with_tap(
    cfg: SgpConfig,
    transport: Transport,
    listen: SocketAddr,
    tap: Option<Tap>,
) -> io::Result<(SgpHandle, mpsc::Receiver<SgpEvent>, JoinHandle<()>)> {
    let listener = Listener::bind(transport, listen).await?;
    let local_addr = listener.local_addr()?;
    let (cmd_tx, cmd_rx) = mpsc::channel(4096);
    let (ev_tx, ev_rx) = mpsc::channel(4096);
    let task = tokio::spawn(run_sgp(Sgp::new(cfg), listener, cmd_rx, ev_tx, tap));
    Ok((
        SgpHandle {
            cmd: cmd_tx,
            local_addr,
        },
        ev_rx,
        task,
    ))
}

async fn run_sgp(
    mut sgp: Sgp,
    listener: Listener,
    mut cmd_rx: mpsc::Receiver<SgpCommand>,
    ev_tx: mpsc::Sender<SgpEvent>,
    tap: Option<Tap>,
) {
    let (in_tx, mut in_rx) = mpsc::channel::<Inbound>(4096);
    let mut links: HashMap<AssocId, Link> = HashMap::new();
    let mut next_id: AssocId = 0;
    let mut timers = Timers::<sgp::Timer>::new();
    loop {
        while let Some(a) = sgp.poll_action() {
            match a {
                sgp::Action::Send {
                    assoc,
                    stream,
                    message,
                } => {
                    if let Some(l) = links.get(&assoc) {
                        l.send(stream, &message);
                    }
                }
                sgp::Action::Disconnect(assoc) => {
                    links.remove(&assoc);
                }
                sgp::Action::StartTimer { timer, after } => timers.start(timer, after),
                sgp::Action::StopTimer(t) => timers.stop(t),
                sgp::Action::Event(e) => {
                    let _ = ev_tx.send(e).await;
                }
            }
        }
        tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => {
                    next_id += 1;
                    let l = start_link(conn, next_id, in_tx.clone(), MAX_MESSAGE_LEN, tap.clone());
                    links.insert(next_id, l);
                    sgp.association_up(next_id);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "M3UA accept failed");
                    // Avoid spinning on a persistent accept error (e.g. EMFILE).
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(inb) = in_rx.recv() => match inb {
                Inbound::Frame { link, stream, bytes } if links.contains_key(&link) => {
                    sgp.handle_shared(link, stream, &bytes);
                }
                Inbound::Closed { link, reason } if links.contains_key(&link) => {
                    tracing::info!(assoc = link, %reason, "M3UA association closed");
                    links.remove(&link);
                    sgp.association_down(link);
                }
                _ => {}
            },
            cmd = cmd_rx.recv() => match cmd {
                Some(SgpCommand::Transfer(rc, pd)) => {
                    if let Err(e) = sgp.transfer(rc, pd) {
                        let _ = ev_tx.send(SgpEvent::TransferRefused(e)).await;
                    }
                }
                Some(SgpCommand::Reachability(a, r)) => sgp.set_reachability(a, r),
                Some(SgpCommand::Congestion(a, l)) => sgp.signal_congestion(a, l),
                Some(SgpCommand::UserPartUnavailable(pc, uc)) => sgp.user_part_unavailable(pc, uc),
                Some(SgpCommand::Shutdown) | None => {
                    // What was sent before the shutdown (e.g. the last RLC) still goes out.
                    for (_, l) in links.drain() {
                        l.close(Duration::from_secs(1)).await;
                    }
                    return;
                }
            },
            _ = sleep_until_opt(timers.next()) => {
                for t in timers.due() {
                    sgp.handle_timeout(t);
                }
            }
        }
    }
}
