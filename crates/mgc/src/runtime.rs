//! `mgc run`: the tokio runtime around the sans-IO [`Gateway`]. One task owns the gateway, the
//! SIP endpoint (transport + transaction layer + timers) and the M3UA ASP handle; everything the
//! gateway asks for is performed here, in order.

use crate::config::Config;
use crate::gateway::{Gateway, Input, Output};
use crate::metrics::{Direction, Metrics};
use crate::trace::{PcapTrace, TraceOptions};
use m3ua::asp::{AspConfig, AspEvent, AspState};
use m3ua::transport::{AspHandle, AspTransportConfig, spawn_asp};
use m3ua::wire::ProtocolData;
use sip::transaction::TransactionKey;
use sip::transport::{Endpoint, Event as SipEvent};
use sip::transport::{Peer, Proto, TransportConfig};
use sip::{Message, Method, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, Span, debug, info, warn};

/// ISUP's MTP3 service indicator (Q.704 §14.2.1).
const SI_ISUP: u8 = 5;

struct Runtime {
    gw: Gateway,
    endpoint: Endpoint,
    asp: AspHandle,
    metrics: Arc<Metrics>,
    own_pc: u32,
    ni: u8,
    epoch: Instant,
    /// Configured SIP peers: where requests go, and how a source address is recognised.
    peers: HashMap<String, SocketAddr>,
    peer_by_ip: HashMap<IpAddr, String>,
    /// Peers that must also prove digest credentials (RFC 3261 §22.4, RFC 8760), by name.
    digest: HashMap<String, iwu::PeerDigest>,
    /// Keys the stateless nonces of our digest challenges.
    nonce_key: sip::auth::NonceKey,
    /// Our client transactions awaiting a final response: which call and method a timeout
    /// belongs to. A final response ends the entry (timer B/F no longer run, RFC 3261 §17.1),
    /// so a held call has none.
    client_tx: HashMap<TransactionKey, (String, Method)>,
    /// Where an INVITE came from, by Call-ID, until its 2xx is ACKed: the 2xx retransmissions
    /// go there after the server transaction has gone (RFC 3261 §13.3.1.4, RFC 6026). A held
    /// call has none.
    sources: HashMap<String, Peer>,
    asp_state: AspState,
    /// The call whose span the outputs being performed are in.
    span_call: Option<iwu::CallRef>,
    /// `[overload] max_backlog` (0: off) and whether the input is congested now.
    max_backlog: usize,
    congested: bool,
}

/// How an input names its call, to find it before and after the gateway handles it.
enum CallKey {
    Circuit(iwu::CircuitId),
    CallId(String),
    Timer(u64),
    None,
}

/// Build everything from `cfg` and run until Ctrl-C or the SIP transport stops.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    if let Some(addr) = cfg.metrics.listen {
        let bound = crate::metrics::serve(addr, metrics.clone()).await?;
        info!(%bound, "metrics on /metrics");
    }
    // Kept alive for the whole run.
    let _sim = if cfg.simulator.enabled {
        Some(crate::embedded_sim::start(&cfg).await?)
    } else {
        None
    };
    let trace = match &cfg.trace.pcap {
        Some(path) => {
            let t = PcapTrace::create(TraceOptions {
                path: path.clone(),
                max_file_bytes: cfg.trace.max_file_bytes,
                max_files: cfg.trace.max_files,
            })
            .map_err(|e| anyhow::anyhow!("pcap trace {}: {e}", path.display()))?;
            info!(path = %path.display(), "signalling trace (SIP and M3UA) to pcap");
            Some(Arc::new(t))
        }
        None => None,
    };
    let gw = crate::assemble::gateway(&cfg)?;
    // The circuits gauge starts from the full picture; state changes then move it.
    for (group, state, n) in gw.circuits().counts_by_state() {
        metrics
            .circuits
            .with_label_values(&[group, state.as_str()])
            .set(n as i64);
    }
    let tcfg = TransportConfig {
        limits: sip::Limits {
            max_message_size: cfg.sip.max_message_size,
            ..sip::Limits::default()
        },
        // Every SIP message: malformed input counted, every response sent counted (the one place
        // they all pass: the transaction layer's 100 Trying and retransmissions, the gateway's,
        // stateless refusals), everything traced.
        tap: Some({
            let metrics = metrics.clone();
            let trace = trace.clone();
            Arc::new(move |m: &sip::transport::Tapped<'_>| {
                match m.direction {
                    sip::transport::TapDirection::Refused => metrics.sip_parse_errors.inc(),
                    sip::transport::TapDirection::Sent => metrics.sip_response_sent(m.bytes),
                    sip::transport::TapDirection::Received => {}
                }
                if let Some(t) = &trace {
                    t.sip(m);
                }
            })
        }),
        // One source's unanswered requests bounded; the 503 asks to retry as overload's does.
        max_transactions_per_source: cfg.sip.max_transactions_per_source,
        retry_after_s: cfg.overload.retry_after_s,
        udp_buffer_bytes: cfg.sip.udp_buffer_bytes,
        ..TransportConfig::default()
    };
    let endpoint = Endpoint::bind(cfg.sip.listen, tcfg, cfg.sip.timers()).await?;
    info!(listen = %cfg.sip.listen, "SIP on UDP and TCP");
    let asp_cfg = AspConfig {
        asp_identifier: cfg.m3ua.asp_identifier,
        routing_contexts: cfg.m3ua.routing_context.into_iter().collect(),
        beat_interval: (cfg.m3ua.beat_interval_s > 0)
            .then(|| Duration::from_secs(cfg.m3ua.beat_interval_s)),
        ..AspConfig::default()
    };
    // Every M3UA message, both ways: counted by class and type, and traced.
    let m3ua_tap: m3ua::transport::Tap = {
        let metrics = metrics.clone();
        let trace = trace.clone();
        Arc::new(move |m: &m3ua::transport::Tapped<'_>| {
            metrics.m3ua_message(m.bytes);
            if let Some(t) = &trace {
                t.m3ua(m);
            }
        })
    };
    let asp_transport = AspTransportConfig {
        tap: Some(m3ua_tap),
        ..AspTransportConfig::tcp(cfg.m3ua.remote)
    };
    let (asp, mut asp_events, _task) = spawn_asp(asp_cfg, asp_transport);
    info!(remote = %cfg.m3ua.remote, "M3UA ASP connecting");
    let mut peers = HashMap::new();
    let mut peer_by_ip = HashMap::new();
    let mut digest = HashMap::new();
    for p in &cfg.peers {
        if let Some(d) = &p.digest {
            digest.insert(p.name.clone(), d.clone());
        }
        let addr = resolve(&p.host, p.port)?;
        peer_by_ip.insert(addr.ip(), p.name.clone());
        peers.insert(p.name.clone(), addr);
    }
    let mut rt = Runtime {
        gw,
        endpoint,
        asp,
        metrics,
        own_pc: cfg.ss7.point_code,
        ni: cfg.ss7.network_indicator,
        epoch: Instant::now(),
        peers,
        peer_by_ip,
        digest,
        nonce_key: sip::auth::NonceKey::new(random_secret()),
        client_tx: HashMap::new(),
        sources: HashMap::new(),
        asp_state: AspState::Down,
        span_call: None,
        max_backlog: cfg.overload.max_backlog,
        congested: false,
    };
    rt.update_calls_active();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    // Once a second: the trace goes to disk and `calls_active` is set from the engine's counts
    // (Prometheus scrapes no faster than this anyway).
    let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            ev = rt.endpoint.next_event() => match ev {
                Some(ev) => {
                    rt.check_backlog(asp_events.len());
                    rt.on_sip(ev).await
                }
                None => break,
            },
            ev = asp_events.recv() => match ev {
                Some(ev) => {
                    rt.check_backlog(asp_events.len());
                    rt.on_asp(ev).await
                }
                None => break,
            },
            _ = housekeeping.tick() => {
                if let Some(t) = &trace {
                    t.flush();
                }
                rt.update_calls_active();
                // Congestion ends even when no input comes to notice it.
                rt.check_backlog(asp_events.len());
                // Transactions end on their timers (RFC 3261 §17, RFC 6026), without any input.
                rt.update_transactions_active();
            }
            _ = &mut shutdown => {
                info!("shutting down");
                rt.asp.stop().await;
                break;
            }
        }
    }
    if let Some(t) = &trace {
        t.flush();
        if t.skipped() > 0 {
            warn!(
                frames = t.skipped(),
                "pcap trace: frames not written (IPv6 or I/O errors)"
            );
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (systemd, container runtimes).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// 256 bits from the standard library's per-process random hash keys (seeded by the OS).
fn random_secret() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut secret = [0u8; 32];
    for (i, chunk) in secret.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    secret
}

/// How long a digest nonce stays valid (then `stale=true`, RFC 7616 §3.3).
const NONCE_MAX_AGE_S: u64 = 300;

fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("SIP peer {host}:{port} does not resolve"))
}

impl Runtime {
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.epoch)
    }

    /// Digest check of a request from a peer with credentials: `Ok` for in-dialog requests, ACK
    /// and CANCEL (RFC 3261 §22.1: they cannot be challenged; the dialog was authenticated by
    /// its INVITE) and for valid credentials; `Err(stale)` asks for a (new) challenge.
    fn authenticate(&self, request: &sip::Request, d: &iwu::PeerDigest) -> Result<(), bool> {
        let in_dialog = request
            .headers
            .to()
            .is_ok_and(|t| t.tag().is_some_and(|t| !t.is_empty()));
        if in_dialog || matches!(request.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let Some(c) = request
            .headers
            .get(sip::header::Hdr::Authorization)
            .and_then(|v| sip::auth::Credentials::parse(v).ok())
        else {
            return Err(false);
        };
        // RFC 7616 §3.4.6: the digest-uri must be the request's target.
        let uri = request.uri.to_string();
        if c.username != d.username || c.realm != d.realm || c.uri != uri {
            return Err(false);
        }
        if !c.verify(request.method.as_str(), &d.password) {
            return Err(false);
        }
        use sip::auth::NonceState;
        match self
            .nonce_key
            .check(&c.nonce, self.now().as_secs(), NONCE_MAX_AGE_S)
        {
            NonceState::Valid => Ok(()),
            NonceState::Stale => Err(true),
            NonceState::Invalid => Err(false),
        }
    }

    fn call_key(&self, input: &Input) -> CallKey {
        match input {
            // Q.763 §1.2: the CIC is the first two octets, 12 bits in the ITU variant, and names
            // a circuit of the signalling relation with the message's originating point.
            Input::Isup { opc, user_data } if user_data.len() >= 2 => {
                CallKey::Circuit(iwu::CircuitId {
                    dpc: *opc,
                    cic: u16::from_le_bytes([user_data[0], user_data[1]]) & 0x0FFF,
                })
            }
            Input::SipRequest { request, .. } => request
                .headers
                .call_id()
                .map_or(CallKey::None, |c| CallKey::CallId(c.to_string())),
            Input::SipResponse(r) => r
                .headers
                .call_id()
                .map_or(CallKey::None, |c| CallKey::CallId(c.to_string())),
            Input::SipTimeout { call_id, .. } => CallKey::CallId(call_id.clone()),
            Input::Timer(id) => CallKey::Timer(*id),
            _ => CallKey::None,
        }
    }

    fn find_call(&self, key: &CallKey) -> Option<iwu::CallSummary> {
        match key {
            CallKey::Circuit(circuit) => self.gw.call_by_circuit(*circuit),
            CallKey::CallId(id) => self.gw.call_by_call_id(id),
            CallKey::Timer(id) => self.gw.timer_call(*id),
            CallKey::None => None,
        }
    }

    /// Hand one input to the gateway and perform its outputs, inside the span of the call the
    /// input belongs to (call id, DPC and CIC, model), so one call's ISUP and SIP events read
    /// together.
    async fn feed(&mut self, input: Input) {
        let key = self.call_key(&input);
        let before = self.find_call(&key);
        let span = tracing::info_span!(
            "call",
            call_id = Empty,
            dpc = Empty,
            cic = Empty,
            model = Empty
        );
        if let Some(c) = &before {
            record_call_fields(&span, c);
        }
        // Described before the gateway consumes it, only when it may be logged.
        let what = (before.is_none() || tracing::enabled!(tracing::Level::DEBUG))
            .then(|| describe(&input));
        let now = self.now();
        let outputs = span.in_scope(|| self.gw.handle(now, input));
        let what = what.unwrap_or_default();
        self.span_call = before.as_ref().map(|c| c.call);
        if before.is_none()
            && let Some(c) = self.find_call(&key)
        {
            // A new call: it exists from this input on.
            record_call_fields(&span, &c);
            self.span_call = Some(c.call);
            span.in_scope(|| info!(%what, "call started"));
        } else {
            span.in_scope(|| debug!(%what, "in"));
        }
        async {
            for o in outputs {
                self.perform(o).await;
            }
        }
        .instrument(span)
        .await;
        self.update_transactions_active();
    }

    /// Overload (issue 7 item 3): while more than `max_backlog` messages wait in the SIP and
    /// M3UA input queues, new calls are refused (503 + Retry-After, REL 42 with congestion
    /// level 2) and the queues drain at the pace of the calls in progress alone; it ends once
    /// the backlog is down to half the bound. Checked on every input and once a second.
    fn check_backlog(&mut self, asp_queued: usize) {
        if self.max_backlog == 0 {
            return;
        }
        let backlog = self.endpoint.backlog() + asp_queued;
        let congested = if self.congested {
            backlog > self.max_backlog / 2
        } else {
            backlog > self.max_backlog
        };
        if congested != self.congested {
            self.congested = congested;
            self.gw.set_congested(congested);
            self.metrics.overload_congested.set(i64::from(congested));
            if congested {
                self.metrics.overload_congestion_episodes.inc();
                warn!(
                    backlog,
                    max_backlog = self.max_backlog,
                    "input queues backing up: refusing new calls"
                );
            } else {
                info!(backlog, "input queues drained: accepting new calls");
            }
        }
    }

    /// `sip_transactions_active` from the transaction table (O(1)).
    fn update_transactions_active(&self) {
        self.metrics
            .sip_transactions_active
            .set(self.endpoint.layer().len() as i64);
    }

    /// `calls_active{model}` from the calls in progress.
    fn update_calls_active(&mut self) {
        let mut n = [0i64; 3];
        for (model, bridged, calls) in self.gw.call_models() {
            n[model_index(model, bridged)] += calls as i64;
        }
        for (i, model) in crate::assemble::MODELS.iter().enumerate() {
            self.metrics
                .calls_active
                .with_label_values(&[model])
                .set(n[i]);
        }
    }

    async fn on_sip(&mut self, ev: SipEvent) {
        match ev {
            SipEvent::Request { key, peer, request } => {
                self.metrics
                    .sip_request(Direction::In, request.method.as_str());
                let Some(name) = self.peer_by_ip.get(&peer.addr.ip()).cloned() else {
                    // Trust domain (RFC 3325 §2.3): only configured peers reach the SS7 side.
                    if let (Some(key), false) = (key, request.method == Method::Ack) {
                        let r = Response::for_request(
                            &request,
                            403,
                            Some(&sip::transaction::new_tag()),
                        );
                        let _ = self.endpoint.send_response(&key, r).await;
                    }
                    warn!(src = %peer.addr, method = %request.method.as_str(), "request from an unknown source refused (403)");
                    return;
                };
                if let (Some(d), Some(key)) = (self.digest.get(&name), &key)
                    && let Err(stale) = self.authenticate(&request, d)
                {
                    // RFC 3261 §22.4 / RFC 8760: challenge with SHA-256; never reaches SS7.
                    let challenge = sip::auth::Challenge {
                        realm: d.realm.clone(),
                        nonce: self.nonce_key.issue(self.now().as_secs()),
                        stale,
                    };
                    let mut r =
                        Response::for_request(&request, 401, Some(&sip::transaction::new_tag()));
                    r.headers
                        .push(sip::header::Hdr::WwwAuthenticate, &challenge.to_string());
                    let _ = self.endpoint.send_response(key, r).await;
                    info!(%name, method = %request.method.as_str(), stale, "digest challenge (401)");
                    return;
                }
                let call_id = request.headers.call_id().map(str::to_string).ok();
                let method = request.method.clone();
                if let (Some(id), Method::Invite) = (&call_id, &method) {
                    self.sources.insert(id.clone(), peer);
                }
                self.feed(Input::SipRequest {
                    peer: name,
                    request,
                })
                .await;
                // The 2xx is ACKed, or the INVITE made no call: nothing more to retransmit.
                if let Some(id) = call_id
                    && (method == Method::Ack || self.gw.call_by_call_id(&id).is_none())
                {
                    self.sources.remove(&id);
                }
            }
            SipEvent::Response { key, response, .. } => {
                if response.status >= 200 {
                    self.client_tx.remove(&key);
                }
                self.on_response(response).await
            }
            SipEvent::StrayResponse { response, .. } => self.on_response(response).await,
            SipEvent::Timeout { key } => {
                if let Some((call_id, method)) = self.client_tx.remove(&key) {
                    self.feed(Input::SipTimeout { call_id, method }).await
                }
            }
            SipEvent::Timer(id) => {
                if let Some(timer) = self.gw.isup_timer_name(id) {
                    self.metrics
                        .isup_timer_expiries
                        .with_label_values(&[timer])
                        .inc();
                    debug!(timer, "ISUP timer expired");
                }
                self.feed(Input::Timer(id)).await
            }
        }
    }

    async fn on_response(&mut self, response: Response) {
        let method = response
            .headers
            .cseq()
            .map(|c| c.method.as_str().to_string())
            .unwrap_or_default();
        self.metrics
            .sip_response(Direction::In, response.status, &method);
        self.feed(Input::SipResponse(response)).await
    }

    async fn on_asp(&mut self, ev: AspEvent) {
        match ev {
            AspEvent::StateChanged { to, .. } => {
                self.metrics.m3ua_asp_state.set(match to {
                    AspState::Down => 0,
                    AspState::Inactive => 1,
                    AspState::Active => 2,
                });
                let was = std::mem::replace(&mut self.asp_state, to);
                info!(?was, now = ?to, "M3UA ASP state");
                if to == AspState::Active && was != AspState::Active {
                    self.feed(Input::TransportUp).await;
                } else if was == AspState::Active && to != AspState::Active {
                    self.feed(Input::TransportDown).await;
                }
            }
            AspEvent::Transfer(data) => {
                let pd = data.protocol_data;
                if pd.si != SI_ISUP || pd.dpc != self.own_pc {
                    debug!(si = pd.si, dpc = pd.dpc, "DATA not for our ISUP user part");
                    return;
                }
                if let Some(&t) = pd.user_data.get(2) {
                    let name = isup::MessageType(t).abbreviation().unwrap_or("unknown");
                    self.metrics.isup(Direction::In, name);
                }
                self.feed(Input::Isup {
                    opc: pd.opc,
                    user_data: pd.user_data.to_vec(),
                })
                .await
            }
            AspEvent::Reachability {
                affected,
                reachability,
            } => {
                // Q.704 §11.2 / RFC 4666 §3.4: DUNA pauses the far end, DAVA resumes it (GRS).
                let available = reachability != m3ua::dest::Reachability::Unavailable;
                for a in affected {
                    info!(dpc = a.point_code, available, "destination state (SSNM)");
                    self.feed(Input::PointCode {
                        dpc: a.point_code,
                        available,
                    })
                    .await;
                }
            }
            other => debug!(?other, "M3UA event"),
        }
    }

    async fn perform(&mut self, o: Output) {
        match o {
            Output::Isup {
                dpc,
                sls,
                message_type,
                user_data,
            } => {
                let pd = ProtocolData {
                    opc: self.own_pc,
                    dpc,
                    si: SI_ISUP,
                    ni: self.ni,
                    mp: 0,
                    sls,
                    user_data: user_data.into(),
                };
                let name = message_type.abbreviation().unwrap_or("unknown");
                match self.asp.transfer(pd).await {
                    Ok(()) => {
                        self.metrics.isup(Direction::Out, name);
                        debug!(isup = name, dpc, "out");
                    }
                    Err(e) => warn!(%e, %message_type, dpc, "ISUP not sent"),
                }
            }
            Output::SipRequest { peer, request } => {
                let Some(&addr) = self.peers.get(&peer) else {
                    warn!(%peer, "request for an unconfigured peer dropped");
                    return;
                };
                let to = Peer {
                    proto: Proto::Udp,
                    addr,
                };
                self.metrics
                    .sip_request(Direction::Out, request.method.as_str());
                debug!(sip = request.method.as_str(), %peer, "out");
                if request.method == Method::Ack {
                    let _ = self
                        .endpoint
                        .send_stateless(to, &Message::Request(request))
                        .await;
                    return;
                }
                let call_id = request.headers.call_id().unwrap_or_default().to_string();
                let method = request.method.clone();
                match self.endpoint.send_request(request, to).await {
                    Ok(Some(key)) => {
                        self.client_tx.insert(key, (call_id, method));
                    }
                    Ok(None) => {}
                    Err(e) => warn!(%e, "request not sent"),
                }
            }
            Output::SipResponse(r) => {
                let method = r
                    .headers
                    .cseq()
                    .map(|c| c.method.clone())
                    .unwrap_or(Method::Invite);
                debug!(sip = r.status, method = method.as_str(), "out");
                // Its server transaction, RFC 2543 requests included (§17.2.3), so that every
                // one gets its final response and ends on its timers.
                let sent = match self.endpoint.layer().server_key_for(&r) {
                    Some(key) => self.endpoint.send_response(&key, r.clone()).await.is_ok(),
                    None => false,
                };
                if !sent {
                    // RFC 6026 §8.1: a 2xx retransmission after the server transaction has
                    // terminated goes straight to the transport.
                    let call_id = r.headers.call_id().unwrap_or_default().to_string();
                    if let Some(&peer) = self.sources.get(&call_id) {
                        let _ = self
                            .endpoint
                            .send_stateless(peer, &Message::Response(r))
                            .await;
                    }
                }
            }
            Output::StartTimer { id, after } => self.endpoint.start_timer(id, after),
            Output::StopTimer { id } => self.endpoint.stop_timer(id),
            Output::CallRecord(r) => {
                // Client transactions of the call still pending end with their final response
                // or timeout; a timeout for a call that has ended is ignored by the engine.
                self.sources.remove(&r.call_id);
                crate::assemble::record_call(&self.metrics, &r);
                // A call ended by an input that is not its own (M3UA down clears them all, a
                // refusal before the call existed) gets its own span.
                let _span = (self.span_call != Some(r.call)).then(|| {
                    tracing::info_span!(
                        "call",
                        call_id = r.call_id.as_str(),
                        dpc = r.circuit.map(|c| c.dpc),
                        cic = r.circuit.map(|c| c.cic),
                        model = crate::assemble::model_label(r.model, r.bridged)
                    )
                    .entered()
                });
                info!(
                    outcome = crate::assemble::outcome_label(r.outcome),
                    cause = r.cause,
                    released_by = r.released_by.as_str(),
                    sip_status = r.sip_status,
                    setup_ms = r.setup_time.map(|t| t.as_secs_f64() * 1000.0),
                    duration_s = r.duration.map(|t| t.as_secs_f64()),
                    "call ended"
                );
            }
            Output::CircuitState {
                trunk_group,
                from,
                to,
            } => {
                self.metrics
                    .circuits
                    .with_label_values(&[&trunk_group, from.as_str()])
                    .dec();
                self.metrics
                    .circuits
                    .with_label_values(&[&trunk_group, to.as_str()])
                    .inc();
            }
            Output::IsupDiscarded { opc, reason } => {
                self.metrics.isup_decode_errors.inc();
                warn!(opc, %reason, "ISUP message discarded");
            }
            Output::Alert(a) => warn!(alert = %a, "maintenance"),
            Output::Glare => self.metrics.glare.inc(),
        }
    }
}

fn model_index(model: iwu::CallModel, bridged: bool) -> usize {
    let label = crate::assemble::model_label(model, bridged);
    crate::assemble::MODELS
        .iter()
        .position(|m| *m == label)
        .unwrap_or(0)
}

fn record_call_fields(span: &Span, c: &iwu::CallSummary) {
    span.record("call_id", c.call_id.as_str());
    if let Some(circuit) = c.circuit {
        span.record("dpc", circuit.dpc);
        span.record("cic", circuit.cic);
    }
    span.record("model", crate::assemble::model_label(c.model, c.bridged));
}

/// A short description of an input for the log (`ISUP IAM`, `SIP INVITE`, `SIP 200 INVITE`, …).
fn describe(input: &Input) -> String {
    match input {
        Input::Isup { user_data, .. } => {
            let name = user_data
                .get(2)
                .and_then(|&t| isup::MessageType(t).abbreviation())
                .unwrap_or("unknown");
            format!("ISUP {name}")
        }
        Input::SipRequest { request, peer } => {
            format!("SIP {} from {peer}", request.method.as_str())
        }
        Input::SipResponse(r) => {
            let m = r
                .headers
                .cseq()
                .map(|c| c.method.as_str().to_string())
                .unwrap_or_default();
            format!("SIP {} {m}", r.status)
        }
        Input::SipTimeout { method, .. } => format!("SIP {} timeout", method.as_str()),
        Input::Timer(_) => "timer".into(),
        Input::TransportUp => "M3UA up".into(),
        Input::TransportDown => "M3UA down".into(),
        Input::PointCode { dpc, available } => {
            format!(
                "point code {dpc} {}",
                if *available {
                    "available"
                } else {
                    "unavailable"
                }
            )
        }
    }
}
