//! Runs the sans-IO transaction layer on tokio time and the transport:
//! a single-owner event loop for a UA (used by the examples and the MGC).

use super::{Incoming, Peer, Proto, Transport, TransportConfig};
use crate::dialog::LocalEndpoint;
use crate::header::{Hdr, Warning};
use crate::message::{Message, Request, Response};
use crate::method::Method;
use crate::transaction::{
    Delivery, LayerAction, TimerConfig, TimerQueue, TransactionError, TransactionKey,
    TransactionLayer,
};
use crate::uri::Host;
use std::collections::{BTreeSet, HashMap, VecDeque, hash_map};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

/// What the UA core sees.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new request (with its server transaction key), or an ACK for a 2xx
    /// / an ACK matched in the Accepted state (key may be `None`).
    Request {
        key: Option<TransactionKey>,
        peer: Peer,
        request: Request,
    },
    /// A response from one of our client transactions.
    Response {
        key: TransactionKey,
        peer: Peer,
        response: Response,
    },
    /// A response that matched no client transaction (2xx retransmission).
    StrayResponse { peer: Peer, response: Response },
    /// Timer B/F/H or a transport failure ended a transaction.
    Timeout { key: TransactionKey },
    /// A UA-core timer started with [`Endpoint::start_timer`] fired.
    Timer(u64),
}

/// Server transactions in progress (no final response yet, RFC 3261 §17.2) by source IP.
/// Answered ones (Completed, Confirmed, Accepted) only absorb retransmissions for 64·T1 and do
/// not count: a busy peer has thousands of those. By IP, not IP:port: a source picks its ports
/// freely (a new UDP port or TCP connection per request would bypass a per-port bound), and a
/// peer is recognised by its IP anyway. Only sources with one in progress have an entry.
#[derive(Debug, Default)]
struct PerSource {
    sources: HashMap<IpAddr, Source>,
    of: HashMap<TransactionKey, IpAddr>,
}

#[derive(Debug, Default)]
struct Source {
    in_progress: usize,
    /// Refused since it last had none in progress (to log the first refusal only).
    refusing: bool,
}

impl PerSource {
    /// `Ok` if `ip` may open another server transaction, else `Err(first refusal)`.
    fn admit(&mut self, ip: IpAddr, max: usize) -> Result<(), bool> {
        match self.sources.get_mut(&ip) {
            Some(s) if s.in_progress >= max => Err(!std::mem::replace(&mut s.refusing, true)),
            Some(_) => Ok(()),
            None if max == 0 => Err(false),
            None => Ok(()),
        }
    }

    fn add(&mut self, key: TransactionKey, ip: IpAddr) {
        self.of.insert(key, ip);
        self.sources.entry(ip).or_default().in_progress += 1;
    }

    /// The transaction got its final response or ended.
    fn done(&mut self, key: &TransactionKey) {
        let Some(ip) = self.of.remove(key) else {
            return;
        };
        if let hash_map::Entry::Occupied(mut e) = self.sources.entry(ip) {
            e.get_mut().in_progress -= 1;
            if e.get().in_progress == 0 {
                e.remove();
            }
        }
    }
}

/// Transport + transaction layer + timers for one UA.
pub struct Endpoint {
    pub transport: Transport,
    incoming: mpsc::Receiver<Incoming>,
    layer: TransactionLayer<Peer>,
    timers: TimerQueue<TransactionKey>,
    ua_timers: BTreeSet<(Duration, u64)>,
    ua_index: HashMap<u64, Duration>,
    epoch: Instant,
    pending: VecDeque<Event>,
    /// Layer actions not yet performed: kept here, not on the stack, so that a caller that
    /// drops `next_event` in a `select!` loses at most the one send in flight.
    actions: VecDeque<LayerAction<Peer>>,
    agent: String,
    per_source: PerSource,
    max_per_source: usize,
    retry_after_s: u32,
}

impl Endpoint {
    pub async fn bind(
        addr: SocketAddr,
        tcfg: TransportConfig,
        timers: TimerConfig,
    ) -> io::Result<Endpoint> {
        let agent = tcfg.agent.clone();
        let (max_per_source, retry_after_s) =
            (tcfg.max_transactions_per_source, tcfg.retry_after_s);
        let (transport, incoming) = Transport::bind(addr, tcfg).await?;
        Ok(Endpoint {
            transport,
            incoming,
            layer: TransactionLayer::new(timers),
            timers: TimerQueue::new(),
            ua_timers: BTreeSet::new(),
            ua_index: HashMap::new(),
            epoch: Instant::now(),
            pending: VecDeque::new(),
            actions: VecDeque::new(),
            agent,
            per_source: PerSource::default(),
            max_per_source,
            retry_after_s,
        })
    }

    pub fn timer_config(&self) -> TimerConfig {
        self.layer.config()
    }

    /// Messages received and parsed but not yet taken by [`Endpoint::next_event`]: the
    /// transport's queue toward this endpoint (bounded by `TransportConfig::queue`).
    pub fn backlog(&self) -> usize {
        self.incoming.len()
    }

    pub fn layer(&self) -> &TransactionLayer<Peer> {
        &self.layer
    }

    /// Via/Contact data for messages sent over `proto`.
    pub fn local(&self, proto: Proto) -> LocalEndpoint {
        let a = self.transport.local_addr();
        LocalEndpoint {
            transport: proto.as_via().into(),
            host: Host::Ip(a.ip()),
            port: a.port(),
        }
    }

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.epoch)
    }

    async fn run(&mut self, actions: Vec<LayerAction<Peer>>) {
        self.actions.extend(actions);
        self.drain_actions().await;
    }

    /// Performs queued layer actions; cancel-safe between actions.
    async fn drain_actions(&mut self) {
        while let Some(a) = self.actions.pop_front() {
            match a {
                LayerAction::Send { peer, message } => {
                    if let Err(e) = self.transport.send(peer, &message).await {
                        debug!("send to {peer:?} failed: {e}");
                        // §17.1.1.2 / §17.1.2.2: transport error ends the client transaction.
                        if let Message::Request(r) = &message {
                            if let Ok(k) = TransactionKey::for_client_request(r) {
                                self.actions.extend(self.layer.on_transport_error(&k));
                            }
                        }
                    }
                }
                LayerAction::StartTimer { key, timer, after } => {
                    let at = self.now() + after;
                    self.timers.start(key, timer, at)
                }
                LayerAction::StopTimer { key, timer } => self.timers.stop(&key, timer),
                LayerAction::Deliver { key, peer, event } => match event {
                    Delivery::Request(request) => {
                        self.pending
                            .push_back(Event::Request { key, peer, request })
                    }
                    Delivery::Response(response) => {
                        if let Some(key) = key {
                            self.pending.push_back(Event::Response {
                                key,
                                peer,
                                response,
                            })
                        }
                    }
                    Delivery::StrayResponse(response) => self
                        .pending
                        .push_back(Event::StrayResponse { peer, response }),
                    Delivery::Timeout => {
                        if let Some(key) = key {
                            self.pending.push_back(Event::Timeout { key })
                        }
                    }
                    Delivery::Terminated => {
                        if let Some(k) = key {
                            self.timers.stop_all(&k);
                            self.per_source.done(&k);
                        }
                    }
                },
            }
        }
    }

    /// Waits for the next event; `None` when the transport has stopped.
    /// Cancel-safe: dropping the future (e.g. in `tokio::select!`) loses no event and no queued
    /// action, at most a datagram being written at that moment.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            self.drain_actions().await;
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            let now = self.now();
            if let Some((key, timer)) = self.timers.pop_due(now) {
                let a = self.layer.on_timer(&key, timer);
                self.run(a).await;
                continue;
            }
            if let Some(&(at, id)) = self.ua_timers.iter().next() {
                if at <= now {
                    self.ua_timers.remove(&(at, id));
                    self.ua_index.remove(&id);
                    return Some(Event::Timer(id));
                }
            }
            let next = [
                self.timers.next_deadline(),
                self.ua_timers.iter().next().map(|(a, _)| *a),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep_until = self.epoch + next.unwrap_or(Duration::from_secs(3600) + now);
            tokio::select! {
                inc = self.incoming.recv() => {
                    let inc = inc?;
                    let reliable = inc.peer.proto.is_reliable();
                    let a = match inc.message {
                        Message::Request(r) => {
                            let to = super::response_peer(&r, inc.peer);
                            // RFC 3261 §8.1.1: requests lacking the mandatory headers get 400
                            // naming the missing one (an ACK is never answered).
                            let m = Message::Request(r);
                            if let Err(e) = m.check_mandatory() {
                                let Message::Request(r) = m else { continue };
                                if r.method != Method::Ack && r.headers.top_via().is_ok() {
                                    let mut resp = self.refusal(&r, 400, &e.to_string());
                                    resp.reason = format!("Bad Request ({e})");
                                    let _ = self.transport.send(to, &Message::Response(resp)).await;
                                }
                                continue;
                            }
                            let Message::Request(r) = m else { continue };
                            let ip = inc.peer.addr.ip();
                            // Retransmissions and ACK match what exists; only a new server
                            // transaction counts against its source.
                            let new = TransactionKey::for_server_request(&r)
                                .ok()
                                .filter(|k| r.method != Method::Ack && self.layer.request(k).is_none());
                            // A CANCEL of a live INVITE always passes (§9.2): one per INVITE
                            // (same branch), and it ends work rather than adding it.
                            let cancels = r.method == Method::Cancel && self.layer.cancel_target(&r).is_some();
                            if new.is_some() && !cancels {
                                if let Err(first) = self.per_source.admit(ip, self.max_per_source) {
                                    self.refuse_busy_source(&r, to, ip, first).await;
                                    continue;
                                }
                            }
                            let a = self.layer.on_request(r, to, reliable);
                            if let Some(k) = new.filter(|k| self.layer.request(k).is_some()) {
                                self.per_source.add(k, ip);
                            }
                            a
                        }
                        Message::Response(r) => self.layer.on_response(r, inc.peer),
                    };
                    self.run(a).await;
                }
                _ = tokio::time::sleep_until(sleep_until) => {}
            }
        }
    }

    /// A final response outside any transaction, with `Warning: 399` (RFC 3261 §20.43).
    fn refusal(&self, r: &Request, status: u16, warning: &str) -> Response {
        let mut resp = Response::for_request(r, status, Some(&crate::transaction::new_tag()));
        resp.headers.push(
            Hdr::Warning,
            &Warning::new(399, &self.agent, warning).to_string(),
        );
        resp
    }

    /// 503 + Retry-After (RFC 3261 §21.5.4) to a source at its transaction limit, sent
    /// statelessly (§8.2.7): no transaction is created, a retransmission gets another 503, the
    /// ACK matches nothing and goes up like an ACK for a 2xx, which a UA core ignores.
    async fn refuse_busy_source(&mut self, r: &Request, to: Peer, ip: IpAddr, first: bool) {
        let limit = self.max_per_source;
        if first {
            warn!(%ip, limit, "source at its server transaction limit: new requests get 503");
        } else {
            debug!(%ip, method = r.method.as_str(), "503: source at its transaction limit");
        }
        let mut resp = self.refusal(
            r,
            503,
            &format!("more than {limit} transactions in progress from this source"),
        );
        resp.headers
            .push(Hdr::RetryAfter, &self.retry_after_s.to_string());
        let _ = self.transport.send(to, &Message::Response(resp)).await;
    }

    /// Sends a request through a new client transaction (ACK goes without one).
    pub async fn send_request(
        &mut self,
        req: Request,
        peer: Peer,
    ) -> Result<Option<TransactionKey>, TransactionError> {
        let (key, a) = self
            .layer
            .send_request(req, peer, peer.proto.is_reliable())?;
        self.run(a).await;
        Ok(key)
    }

    /// Answers the request of a server transaction.
    pub async fn send_response(
        &mut self,
        key: &TransactionKey,
        resp: Response,
    ) -> Result<(), TransactionError> {
        let last = resp.status >= 200;
        let a = self.layer.send_response(key, resp)?;
        if last {
            self.per_source.done(key);
        }
        self.run(a).await;
        Ok(())
    }

    /// Sends outside any transaction (2xx retransmissions by the UA core).
    pub async fn send_stateless(&mut self, peer: Peer, m: &Message) -> io::Result<()> {
        self.transport.send(peer, m).await
    }

    /// Starts (or restarts) UA-core timer `id`.
    pub fn start_timer(&mut self, id: u64, after: Duration) {
        self.stop_timer(id);
        let at = self.now() + after;
        self.ua_timers.insert((at, id));
        self.ua_index.insert(id, at);
    }

    pub fn stop_timer(&mut self, id: u64) {
        if let Some(at) = self.ua_index.remove(&id) {
            self.ua_timers.remove(&(at, id));
        }
    }
}
