//! `mgc run`: the tokio runtime around the sans-IO [`Gateway`]. One task owns the gateway, the
//! SIP endpoint (transport + transaction layer + timers) and the M3UA ASP handle; everything the
//! gateway asks for is performed here, in order.

use crate::config::Config;
use crate::gateway::{Gateway, Input, Output};
use crate::metrics::{Direction, Metrics};
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
use tracing::{debug, info, warn};

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
    /// Our client transactions: which call and method a timeout belongs to.
    client_tx: HashMap<TransactionKey, (String, Method)>,
    /// Where each call's SIP requests came from (2xx retransmissions after the server
    /// transaction has gone, RFC 6026).
    sources: HashMap<String, Peer>,
    asp_state: AspState,
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
    let (asp, mut asp_events, _task) = spawn_asp(asp_cfg, AspTransportConfig::tcp(cfg.m3ua.remote));
    info!(remote = %cfg.m3ua.remote, "M3UA ASP connecting");
    let mut peers = HashMap::new();
    let mut peer_by_ip = HashMap::new();
    for p in &cfg.peers {
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
        client_tx: HashMap::new(),
        sources: HashMap::new(),
        asp_state: AspState::Down,
    };
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            ev = rt.endpoint.next_event() => match ev {
                Some(ev) => rt.on_sip(ev).await,
                None => break,
            },
            ev = asp_events.recv() => match ev {
                Some(ev) => rt.on_asp(ev).await,
                None => break,
            },
            _ = &mut shutdown => {
                info!("shutting down");
                rt.asp.stop().await;
                break;
            }
        }
    }
    Ok(())
}

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

    async fn feed(&mut self, input: Input) {
        let now = self.now();
        let outputs = self.gw.handle(now, input);
        for o in outputs {
            self.perform(o).await;
        }
        self.metrics
            .sip_transactions_active
            .set(self.endpoint.layer().len() as i64);
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
                        self.metrics
                            .sip_response(Direction::Out, 403, request.method.as_str());
                        let _ = self.endpoint.send_response(&key, r).await;
                    }
                    warn!(src = %peer.addr, method = %request.method.as_str(), "request from an unknown source refused (403)");
                    return;
                };
                if let Ok(id) = request.headers.call_id() {
                    self.sources.insert(id.to_string(), peer);
                }
                self.feed(Input::SipRequest {
                    peer: name,
                    request,
                })
                .await
            }
            SipEvent::Response { response, .. } | SipEvent::StrayResponse { response, .. } => {
                let method = response
                    .headers
                    .cseq()
                    .map(|c| c.method.as_str().to_string())
                    .unwrap_or_default();
                self.metrics
                    .sip_response(Direction::In, response.status, &method);
                self.feed(Input::SipResponse(response)).await
            }
            SipEvent::Timeout { key } => {
                if let Some((call_id, method)) = self.client_tx.remove(&key) {
                    self.feed(Input::SipTimeout { call_id, method }).await
                }
            }
            SipEvent::Timer(id) => self.feed(Input::Timer(id)).await,
        }
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
                self.metrics
                    .m3ua_messages
                    .with_label_values(&["transfer", "DATA"])
                    .inc();
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
                match self.asp.transfer(pd).await {
                    Ok(()) => {
                        self.metrics.isup(
                            Direction::Out,
                            message_type.abbreviation().unwrap_or("unknown"),
                        );
                        self.metrics
                            .m3ua_messages
                            .with_label_values(&["transfer", "DATA"])
                            .inc();
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
                    Err(e) => {
                        warn!(%e, "request not sent");
                        self.client_tx.retain(|_, (c, _)| *c != call_id);
                    }
                }
            }
            Output::SipResponse(r) => {
                let method = r
                    .headers
                    .cseq()
                    .map(|c| c.method.clone())
                    .unwrap_or(Method::Invite);
                self.metrics
                    .sip_response(Direction::Out, r.status, method.as_str());
                let sent = match TransactionKey::for_response(&r) {
                    Ok(key) => self.endpoint.send_response(&key, r.clone()).await.is_ok(),
                    Err(_) => false,
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
                self.sources.remove(&r.call_id);
                self.client_tx.retain(|_, (c, _)| *c != r.call_id);
                crate::assemble::record_call(&self.metrics, &r);
                info!(
                    call_id = %r.call_id,
                    cic = ?r.cic,
                    model = ?r.model,
                    outcome = ?r.outcome,
                    cause = r.cause,
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
