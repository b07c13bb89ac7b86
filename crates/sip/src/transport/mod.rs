//! Tokio UDP and TCP transports (RFC 3261 §18) — the only I/O in the crate.
//!
//! * UDP: one datagram = one message; oversize or malformed requests are
//!   answered with 400/413/513 (never buffered without bound).
//! * TCP: Content-Length framing ([`StreamFramer`]), one connection per peer
//!   reused in both directions; a framing error answers and closes.
//! * Incoming requests get `received`/`rport` (RFC 3261 §18.2.1, RFC 3581).

mod driver;
mod framer;

pub use driver::{Endpoint, Event};
pub use framer::{FramingError, StreamFramer};

use crate::header::{Hdr, Via};
use crate::message::{Limits, Message, ParseError, error_response};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Transport protocol of a message or peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    pub fn is_reliable(self) -> bool {
        self == Proto::Tcp
    }
    pub fn as_via(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
        }
    }
}

/// A remote party: protocol plus socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    pub proto: Proto,
    pub addr: SocketAddr,
}

/// A message received from the network.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub message: Message,
    pub peer: Peer,
}

/// Which way a tapped message went, seen from this end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapDirection {
    Sent,
    Received,
    /// Received, but refused as malformed (answered 400/413/513 when possible); `bytes` are
    /// what arrived (over TCP, what the framer could delimit).
    Refused,
}

/// One SIP message as it crossed a socket, for tracing (e.g. a pcap). Over TCP one message
/// (framed by Content-Length), not a segment.
#[derive(Debug, Clone)]
pub struct Tapped<'a> {
    pub direction: TapDirection,
    pub proto: Proto,
    /// Our socket address (the bound address; an unspecified IP stays unspecified).
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The message as sent or received (over TCP, received messages are re-serialised).
    pub bytes: &'a [u8],
}

/// Called inline by the transport tasks for every message sent and received; keep it quick.
pub type Tap = Arc<dyn Fn(&Tapped<'_>) + Send + Sync>;

#[derive(Clone)]
pub struct TransportConfig {
    pub limits: Limits,
    /// Warning agent in error responses (RFC 3261 §20.43).
    pub agent: String,
    /// Bound on queued incoming messages (backpressure instead of unbounded memory).
    pub queue: usize,
    /// TCP connections silent for this long are closed.
    pub idle_timeout: std::time::Duration,
    /// Accepted TCP connections beyond this are refused.
    pub max_connections: usize,
    /// Sees every message sent and received (None: no tracing).
    pub tap: Option<Tap>,
    /// [`Endpoint`]: server transactions in progress (not yet answered with a final response)
    /// one source IP may have; a new request beyond them gets 503 with Retry-After (RFC 3261
    /// §21.5.4), statelessly.
    pub max_transactions_per_source: usize,
    /// Seconds in that 503's Retry-After (RFC 3261 §20.33).
    pub retry_after_s: u32,
    /// SO_RCVBUF and SO_SNDBUF asked for the UDP socket; the kernel caps them at
    /// `net.core.rmem_max` / `wmem_max`. Datagrams that arrive while the buffer is full are
    /// dropped by the kernel, so it must absorb a burst at the call rate (0: the kernel default).
    pub udp_buffer_bytes: usize,
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("limits", &self.limits)
            .field("agent", &self.agent)
            .field("queue", &self.queue)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("tap", &self.tap.is_some())
            .field(
                "max_transactions_per_source",
                &self.max_transactions_per_source,
            )
            .field("retry_after_s", &self.retry_after_s)
            .field("udp_buffer_bytes", &self.udp_buffer_bytes)
            .finish()
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            limits: Limits::default(),
            agent: "mgc".into(),
            queue: 1024,
            idle_timeout: std::time::Duration::from_secs(300),
            max_connections: 4096,
            tap: None,
            max_transactions_per_source: 4096,
            retry_after_s: 5,
            udp_buffer_bytes: 4 << 20,
        }
    }
}

type Conns = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

/// UDP and TCP sockets on the same port. With port 0 the kernel picks a free UDP port, which
/// TCP may already use: then another port is tried (a few times) instead of failing.
async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut attempts = if addr.port() == 0 { 16 } else { 1 };
    loop {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempts > 1 => attempts -= 1,
            Err(e) => return Err(e),
        }
    }
}

/// Asks for `bytes` of socket buffer each way. The kernel may grant less (its `rmem_max` and
/// `wmem_max`), which is logged: the gateway then runs with a smaller burst reserve.
fn set_udp_buffers(udp: &UdpSocket, bytes: usize) {
    if bytes == 0 {
        return;
    }
    let sock = socket2::SockRef::from(udp);
    let set = sock
        .set_recv_buffer_size(bytes)
        .and_then(|()| sock.set_send_buffer_size(bytes));
    // Linux reports twice the size asked for (its bookkeeping overhead, socket(7)).
    match (set, sock.recv_buffer_size(), sock.send_buffer_size()) {
        (Ok(()), Ok(rcv), Ok(snd)) if rcv >= bytes && snd >= bytes => {}
        (set, rcv, snd) => tracing::warn!(
            asked = bytes,
            recv_buffer = rcv.unwrap_or(0),
            send_buffer = snd.unwrap_or(0),
            error = set.err().map(|e| e.to_string()),
            "UDP socket buffers smaller than configured (raise net.core.rmem_max / wmem_max)"
        ),
    }
}

/// UDP and TCP on one local address.
#[derive(Debug, Clone)]
pub struct Transport {
    udp: Arc<UdpSocket>,
    local: SocketAddr,
    conns: Conns,
    cfg: Arc<TransportConfig>,
    tx: mpsc::Sender<Incoming>,
}

/// Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4): over
/// TCP the same connection; over UDP the source address and port when
/// `rport` was asked for, else the source address (`received`) and the
/// sent-by port (default 5060). `maddr` (multicast) is not supported.
pub fn response_peer(req: &crate::message::Request, src: Peer) -> Peer {
    if src.proto.is_reliable() {
        return src;
    }
    let Ok(via) = req.headers.top_via() else {
        return src;
    };
    if via.rport().is_some() {
        return src;
    }
    Peer {
        proto: src.proto,
        addr: SocketAddr::new(src.addr.ip(), via.port.unwrap_or(5060)),
    }
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: note the source in the top Via.
fn stamp_via(m: &mut Message, src: SocketAddr) {
    let Message::Request(r) = m else { return };
    let Ok(mut via) = r.headers.top_via() else {
        return;
    };
    let ip = src.ip();
    let host_is_src = matches!(&via.host, crate::uri::Host::Ip(a) if *a == ip);
    let mut changed = false;
    if !host_is_src || via.rport().is_some() {
        via.params.set("received", Some(&ip.to_string()));
        changed = true;
    }
    if via.rport().is_some() {
        via.params.set("rport", Some(&src.port().to_string()));
        changed = true;
    }
    if changed {
        replace_top_via(&mut r.headers, &via);
    }
}

fn replace_top_via(h: &mut crate::header::Headers, via: &Via) {
    let Some(first) = h.get(Hdr::Via).map(str::to_string) else {
        return;
    };
    let elems = crate::grammar::split_list(&first);
    let mut value = via.to_string();
    for rest in elems.iter().skip(1) {
        value.push_str(", ");
        value.push_str(rest);
    }
    // replace only the first Via field, keep the others in place
    h.replace_first(Hdr::Via, &value);
}

impl Transport {
    /// Binds UDP and TCP on `addr` (port 0 picks one port for both when possible).
    pub async fn bind(
        addr: SocketAddr,
        cfg: TransportConfig,
    ) -> io::Result<(Transport, mpsc::Receiver<Incoming>)> {
        let (udp, listener) = bind_pair(addr).await?;
        set_udp_buffers(&udp, cfg.udp_buffer_bytes);
        let local = udp.local_addr()?;
        let (tx, rx) = mpsc::channel(cfg.queue);
        let t = Transport {
            udp: Arc::new(udp),
            local,
            conns: Arc::default(),
            cfg: Arc::new(cfg),
            tx,
        };
        tokio::spawn(t.clone().udp_loop());
        tokio::spawn(t.clone().accept_loop(listener));
        Ok((t, rx))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn tap(
        &self,
        direction: TapDirection,
        proto: Proto,
        local: SocketAddr,
        peer: SocketAddr,
        bytes: &[u8],
    ) {
        if let Some(tap) = &self.cfg.tap {
            tap(&Tapped {
                direction,
                proto,
                local,
                peer,
                bytes,
            });
        }
    }

    async fn udp_loop(self) {
        // One datagram is at most 64 KiB; a larger message limit cannot help on UDP.
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, src) = match self.udp.recv_from(&mut buf).await {
                Ok(v) => v,
                Err(e) => {
                    // ICMP errors surface here on some platforms; keep serving.
                    debug!("udp recv error: {e}");
                    continue;
                }
            };
            let data = &buf[..n];
            if data.iter().all(|&b| b == b'\r' || b == b'\n') {
                continue; // RFC 5626 keep-alive
            }
            self.tap(TapDirection::Received, Proto::Udp, self.local, src, data);
            match Message::parse_datagram(data, &self.cfg.limits) {
                Ok(mut m) => {
                    stamp_via(&mut m, src);
                    let inc = Incoming {
                        message: m,
                        peer: Peer {
                            proto: Proto::Udp,
                            addr: src,
                        },
                    };
                    if self.tx.send(inc).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    warn!("udp {src}: rejected message: {e}");
                    self.tap(TapDirection::Refused, Proto::Udp, self.local, src, data);
                    if let Some(r) = error_response(data, &e, &self.cfg.agent) {
                        let bytes = r.to_bytes();
                        self.tap(TapDirection::Sent, Proto::Udp, self.local, src, &bytes);
                        let _ = self.udp.send_to(&bytes, src).await;
                    }
                }
            }
        }
    }

    async fn accept_loop(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((s, peer)) => {
                    let n = self.conns.lock().map(|c| c.len()).unwrap_or(0);
                    if n >= self.cfg.max_connections {
                        warn!("tcp {peer}: refused, {n} connections open");
                        drop(s);
                        continue;
                    }
                    let _ = s.set_nodelay(true);
                    self.clone().spawn_conn(s, peer);
                }
                Err(e) => {
                    warn!("tcp accept error: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn spawn_conn(self, stream: TcpStream, peer: SocketAddr) -> mpsc::Sender<Vec<u8>> {
        let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(256);
        if let Ok(mut c) = self.conns.lock() {
            c.insert(peer, wtx.clone());
        }
        // The connection's own address: an outgoing connection has an ephemeral local port.
        let local = stream.local_addr().unwrap_or(self.local);
        let (mut rd, mut wr) = stream.into_split();
        let writer = self.clone();
        tokio::spawn(async move {
            while let Some(b) = wrx.recv().await {
                if !b.iter().all(|&c| c == b'\r' || c == b'\n') {
                    writer.tap(TapDirection::Sent, Proto::Tcp, local, peer, &b);
                }
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
        });
        let wtx2 = wtx.clone();
        tokio::spawn(async move {
            let mut framer = StreamFramer::new(self.cfg.limits);
            let mut buf = vec![0u8; 16 * 1024];
            'conn: loop {
                let n = match tokio::time::timeout(self.cfg.idle_timeout, rd.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Err(_) => {
                        debug!("tcp {peer}: idle, closing");
                        break;
                    }
                    Ok(Ok(n)) => n,
                };
                // RFC 5626 §4.4.1: a double-CRLF ping gets a single-CRLF pong.
                if framer.buffered() == 0 && &buf[..n] == b"\r\n\r\n" {
                    let _ = wtx2.send(b"\r\n".to_vec()).await;
                    continue;
                }
                framer.push(&buf[..n]);
                loop {
                    match framer.next_message() {
                        Ok(Some(mut m)) => {
                            if self.cfg.tap.is_some() {
                                let bytes = m.to_bytes();
                                self.tap(TapDirection::Received, Proto::Tcp, local, peer, &bytes);
                            }
                            stamp_via(&mut m, peer);
                            let inc = Incoming {
                                message: m,
                                peer: Peer {
                                    proto: Proto::Tcp,
                                    addr: peer,
                                },
                            };
                            if self.tx.send(inc).await.is_err() {
                                break 'conn;
                            }
                        }
                        Ok(None) => break,
                        Err(fe) => {
                            self.tap(TapDirection::Refused, Proto::Tcp, local, peer, &fe.raw);
                            if let Some(r) = error_response(&fe.raw, &fe.error, &self.cfg.agent) {
                                let bytes = r.to_bytes();
                                let _ = wtx2.send(bytes).await;
                            }
                            if fe.fatal {
                                warn!("tcp {peer}: closing after framing error: {}", fe.error);
                                break 'conn;
                            }
                            warn!("tcp {peer}: rejected message: {}", fe.error);
                        }
                    }
                }
            }
            if let Ok(mut c) = self.conns.lock() {
                c.remove(&peer);
            }
        });
        wtx
    }

    /// Sends a message to a peer. TCP reuses the connection to that address
    /// (accepted or opened earlier) or opens one.
    pub async fn send(&self, peer: Peer, m: &Message) -> io::Result<()> {
        let bytes = m.to_bytes();
        match peer.proto {
            Proto::Udp => {
                if bytes.len() > self.cfg.limits.max_message_size {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        ParseError::TooLarge(bytes.len()),
                    ));
                }
                self.tap(
                    TapDirection::Sent,
                    Proto::Udp,
                    self.local,
                    peer.addr,
                    &bytes,
                );
                self.udp.send_to(&bytes, peer.addr).await.map(drop)
            }
            Proto::Tcp => {
                let existing = self
                    .conns
                    .lock()
                    .ok()
                    .and_then(|c| c.get(&peer.addr).cloned());
                let tx = match existing {
                    Some(tx) if !tx.is_closed() => tx,
                    _ => {
                        let s = tokio::time::timeout(
                            std::time::Duration::from_secs(5),
                            TcpStream::connect(peer.addr),
                        )
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "tcp connect timeout")
                        })??;
                        let _ = s.set_nodelay(true);
                        self.clone().spawn_conn(s, peer.addr)
                    }
                };
                tx.send(bytes)
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "connection closed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysctl(name: &str) -> usize {
        std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn udp_socket_buffers_as_configured() {
        let asked = 1 << 20;
        if sysctl("rmem_max") < asked || sysctl("wmem_max") < asked {
            eprintln!("skipped: net.core.rmem_max/wmem_max below {asked}");
            return;
        }
        let cfg = TransportConfig {
            udp_buffer_bytes: asked,
            ..TransportConfig::default()
        };
        let (t, _rx) = Transport::bind("127.0.0.1:0".parse().unwrap(), cfg)
            .await
            .unwrap();
        let sock = socket2::SockRef::from(&*t.udp);
        assert!(sock.recv_buffer_size().unwrap() >= asked);
        assert!(sock.send_buffer_size().unwrap() >= asked);
        // 0 leaves the kernel's default, which is below what was asked above.
        let cfg = TransportConfig {
            udp_buffer_bytes: 0,
            ..TransportConfig::default()
        };
        let (t, _rx) = Transport::bind("127.0.0.1:0".parse().unwrap(), cfg)
            .await
            .unwrap();
        let sock = socket2::SockRef::from(&*t.udp);
        assert!(sock.recv_buffer_size().unwrap() <= 2 * sysctl("rmem_default"));
    }

    #[test]
    fn response_routing() {
        let src = Peer {
            proto: Proto::Udp,
            addr: "192.0.2.7:40000".parse().unwrap(),
        };
        let req = |via: &str| {
            let raw = format!("OPTIONS sip:a@b SIP/2.0\r\nVia: {via}\r\nContent-Length: 0\r\n\r\n");
            let Message::Request(r) = Message::parse(raw.as_bytes()).unwrap() else {
                panic!()
            };
            r
        };
        let r = req("SIP/2.0/UDP host.example:5099;branch=z9hG4bK1");
        assert_eq!(
            response_peer(&r, src).addr,
            "192.0.2.7:5099".parse().unwrap()
        );
        let r = req("SIP/2.0/UDP host.example;branch=z9hG4bK1");
        assert_eq!(
            response_peer(&r, src).addr,
            "192.0.2.7:5060".parse().unwrap()
        );
        let r = req("SIP/2.0/UDP host.example:5099;rport=40000;received=192.0.2.7;branch=z9hG4bK1");
        assert_eq!(response_peer(&r, src), src);
        let tcp = Peer {
            proto: Proto::Tcp,
            ..src
        };
        assert_eq!(response_peer(&r, tcp), tcp);
    }

    #[test]
    fn via_stamping() {
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP host.example;rport;branch=z9hG4bK1, SIP/2.0/UDP p\r\nVia: SIP/2.0/UDP q\r\nContent-Length: 0\r\n\r\n";
        let mut m = Message::parse(raw).unwrap();
        stamp_via(&mut m, "192.0.2.7:5099".parse().unwrap());
        let v = m.headers().via().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].received(), Some("192.0.2.7"));
        assert_eq!(v[0].rport(), Some(Some(5099)));
        assert_eq!(v[1].host.to_string(), "p");
        assert_eq!(v[2].host.to_string(), "q");
        // host equals source and no rport: untouched
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
        let mut m = Message::parse(raw).unwrap();
        stamp_via(&mut m, "192.0.2.7:5099".parse().unwrap());
        assert_eq!(m.headers().top_via().unwrap().received(), None);
    }
}
