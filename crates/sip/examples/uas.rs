//! A small UAS on the `sip` crate: transactions, dialogs, 2xx retransmission.
//!
//! Behaviour by Request-URI user: `busy` → 486 Busy Here; `ring` → 180 and
//! wait for CANCEL (480 after 30 s); anything else → 180 then 200 with SDP.
//!
//! ```text
//! cargo run -p sip --example uas -- --bind 127.0.0.1:5070 --calls 10 --duration 60
//! ```

use sip::dialog::{Dialog, Retransmit2xx, UaAction};
use sip::header::Hdr;
use sip::transaction::{TimerConfig, TransactionKey, new_tag};
use sip::transport::{Endpoint, Event, Peer, TransportConfig};
use sip::{Message, Method, Request, Response, Uri};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct UasConfig {
    pub bind: SocketAddr,
    /// Stop after this many finished calls (answered+BYE, rejected, cancelled).
    pub calls: u64,
    /// Hard bound on run time.
    pub duration: Duration,
    pub timers: TimerConfig,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UasStats {
    pub answered: u64,
    pub acked: u64,
    pub byes: u64,
    pub busy: u64,
    pub cancelled: u64,
    pub failed: u64,
    /// ISUP parts (RFC 3204 bodies) received in INVITEs, byte for byte.
    pub isup_parts: Vec<Vec<u8>>,
}

impl UasStats {
    pub fn finished(&self) -> u64 {
        self.byes + self.busy + self.cancelled + self.failed
    }
}

struct Call {
    invite_key: TransactionKey,
    peer: Peer,
    dialog: Dialog,
    retrans: Option<Retransmit2xx>,
    timer: u64,
}

const SDP: &str = "v=0\r\no=mgc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

fn user_of(r: &Request) -> String {
    match &r.uri {
        Uri::Sip(u) => u.user.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// Runs the UAS until `calls` calls finished or `duration` passed.
/// `ready` receives the bound address once listening.
pub async fn run(
    cfg: UasConfig,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> std::io::Result<UasStats> {
    let mut ep = Endpoint::bind(cfg.bind, TransportConfig::default(), cfg.timers).await?;
    if let Some(r) = ready {
        let _ = r.send(ep.transport.local_addr());
    }
    let mut stats = UasStats::default();
    let mut calls: HashMap<String, Call> = HashMap::new();
    let mut timer_ids: HashMap<u64, String> = HashMap::new();
    let mut next_timer = 1u64;
    let deadline = tokio::time::Instant::now() + cfg.duration;
    while stats.finished() < cfg.calls {
        let ev = match tokio::time::timeout_at(deadline, ep.next_event()).await {
            Ok(Some(ev)) => ev,
            _ => break,
        };
        match ev {
            Event::Request { key, peer, request } => {
                let call_id = request.headers.call_id().unwrap_or_default().to_string();
                match (&request.method, key) {
                    (Method::Invite, Some(key)) => {
                        let in_dialog = request
                            .headers
                            .to()
                            .ok()
                            .and_then(|t| t.tag().map(str::to_string));
                        if in_dialog.is_some() {
                            // re-INVITE: accept without a new dialog
                            let mut ok = Response::for_request(&request, 200, None);
                            ok.headers.push(
                                Hdr::Contact,
                                &ep.local(peer.proto).contact(None).to_string(),
                            );
                            ok.set_body(Some("application/sdp"), SDP.as_bytes().to_vec());
                            let _ = ep.send_response(&key, ok).await;
                            continue;
                        }
                        // SIP-I: keep the ISUP part as received (the MGC would decode it)
                        if let Ok(body) = sip::SipBody::parse(&request.headers, &request.body) {
                            if let Some(isup) = body.isup() {
                                stats.isup_parts.push(isup.data.to_vec());
                            }
                        }
                        let tag = new_tag();
                        let user = user_of(&request);
                        if user == "busy" {
                            let _ = ep
                                .send_response(
                                    &key,
                                    Response::for_request(&request, 486, Some(&tag)),
                                )
                                .await;
                            stats.busy += 1;
                            continue;
                        }
                        let contact = ep.local(peer.proto).contact(None);
                        let Ok(dialog) = Dialog::uas(&request, &tag, contact.clone()) else {
                            let _ = ep
                                .send_response(
                                    &key,
                                    Response::for_request(&request, 400, Some(&tag)),
                                )
                                .await;
                            stats.failed += 1;
                            continue;
                        };
                        let mut ring = Response::for_request(&request, 180, Some(&tag));
                        ring.headers.push(Hdr::Contact, &contact.to_string());
                        let _ = ep.send_response(&key, ring).await;
                        let timer = next_timer;
                        next_timer += 1;
                        let mut call = Call {
                            invite_key: key.clone(),
                            peer,
                            dialog,
                            retrans: None,
                            timer,
                        };
                        if user == "ring" {
                            ep.start_timer(timer, Duration::from_secs(30));
                        } else {
                            let mut ok = Response::for_request(&request, 200, Some(&tag));
                            ok.headers.push(Hdr::Contact, &contact.to_string());
                            ok.set_body(Some("application/sdp"), SDP.as_bytes().to_vec());
                            // §13.3.1.4: the UAS core retransmits the 2xx until ACK.
                            let (r, actions) = Retransmit2xx::start(
                                ok.clone(),
                                ep.timer_config(),
                                peer.proto.is_reliable(),
                            );
                            let _ = ep.send_response(&key, ok).await;
                            for a in actions {
                                if let UaAction::StartTimer(d) = a {
                                    ep.start_timer(timer, d);
                                }
                            }
                            call.retrans = Some(r);
                            call.dialog.state = sip::dialog::DialogState::Confirmed;
                            stats.answered += 1;
                        }
                        timer_ids.insert(timer, call_id.clone());
                        calls.insert(call_id, call);
                    }
                    (Method::Ack, _) => {
                        if let Some(c) = calls.get_mut(&call_id) {
                            if let Some(r) = &mut c.retrans {
                                if !r.on_ack().is_empty() {
                                    ep.stop_timer(c.timer);
                                    stats.acked += 1;
                                }
                            }
                        }
                    }
                    (Method::Bye, Some(key)) => {
                        let status = match calls.get_mut(&call_id) {
                            Some(c) => {
                                if c.dialog.on_request(&request).is_ok() {
                                    200
                                } else {
                                    500
                                }
                            }
                            None => 481,
                        };
                        let _ = ep
                            .send_response(&key, Response::for_request(&request, status, None))
                            .await;
                        if status == 200 {
                            if let Some(c) = calls.remove(&call_id) {
                                ep.stop_timer(c.timer);
                                timer_ids.remove(&c.timer);
                            }
                            stats.byes += 1;
                        }
                    }
                    (Method::Cancel, Some(key)) => {
                        // §9.2: 200 to the CANCEL, 487 to the INVITE if still pending.
                        let target = ep
                            .layer()
                            .cancel_target(&request)
                            .map(|(k, r)| (k, r.clone()));
                        match target {
                            Some((ik, inv)) if ep.layer().is_proceeding(&ik) => {
                                let _ = ep
                                    .send_response(&key, Response::for_request(&request, 200, None))
                                    .await;
                                let tag =
                                    calls.get(&call_id).map(|c| c.dialog.id.local_tag.clone());
                                let _ = ep
                                    .send_response(
                                        &ik,
                                        Response::for_request(&inv, 487, tag.as_deref()),
                                    )
                                    .await;
                                if let Some(c) = calls.remove(&call_id) {
                                    ep.stop_timer(c.timer);
                                    timer_ids.remove(&c.timer);
                                }
                                stats.cancelled += 1;
                            }
                            _ => {
                                let _ = ep
                                    .send_response(&key, Response::for_request(&request, 481, None))
                                    .await;
                            }
                        }
                    }
                    (
                        Method::Options | Method::Info | Method::Update | Method::Prack,
                        Some(key),
                    ) => {
                        let _ = ep
                            .send_response(&key, Response::for_request(&request, 200, None))
                            .await;
                    }
                    (_, Some(key)) => {
                        let mut r = Response::for_request(&request, 405, None);
                        r.headers.push(
                            Hdr::Allow,
                            "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, PRACK",
                        );
                        let _ = ep.send_response(&key, r).await;
                    }
                    _ => {}
                }
            }
            Event::Timer(id) => {
                let Some(call_id) = timer_ids.get(&id).cloned() else {
                    continue;
                };
                let Some(c) = calls.get_mut(&call_id) else {
                    continue;
                };
                match &mut c.retrans {
                    Some(r) => {
                        for a in r.on_timer() {
                            match a {
                                UaAction::Send(resp) => {
                                    let _ =
                                        ep.send_stateless(c.peer, &Message::Response(resp)).await;
                                }
                                UaAction::StartTimer(d) => ep.start_timer(id, d),
                                UaAction::GiveUp => {
                                    // §13.3.1.4: no ACK: end the dialog with BYE.
                                    let local = ep.local(c.peer.proto);
                                    let bye = c.dialog.new_request(Method::Bye, &local);
                                    let peer = c.peer;
                                    let _ = ep.send_request(bye, peer).await;
                                    calls.remove(&call_id);
                                    stats.failed += 1;
                                    break;
                                }
                                UaAction::StopTimer => {}
                            }
                        }
                    }
                    None => {
                        // ringing too long: 480 Temporarily Unavailable
                        let key = c.invite_key.clone();
                        if let Some(inv) = ep.layer().request(&key).cloned() {
                            let tag = c.dialog.id.local_tag.clone();
                            let _ = ep
                                .send_response(&key, Response::for_request(&inv, 480, Some(&tag)))
                                .await;
                        }
                        calls.remove(&call_id);
                        stats.failed += 1;
                    }
                }
            }
            Event::Response { .. } | Event::StrayResponse { .. } | Event::Timeout { .. } => {}
        }
    }
    // Let queued TCP writes flush and absorb late retransmissions.
    let grace = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(_)) = tokio::time::timeout_at(grace, ep.next_event()).await {}
    Ok(stats)
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let cfg = UasConfig {
        bind: arg(
            &args,
            "--bind",
            "127.0.0.1:5070".parse().expect("default address"),
        ),
        calls: arg(&args, "--calls", u64::MAX),
        duration: Duration::from_secs(arg(&args, "--duration", 3600)),
        timers: TimerConfig::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stats = rt.block_on(run(cfg, None))?;
    println!("{stats:?}");
    Ok(())
}
