//! A small UAS on the `sip` crate: transactions, dialogs, 2xx retransmission.
//!
//! Behaviour by Request-URI user: `busy` → 486 Busy Here; `ring` → 180 and
//! wait for CANCEL (480 after 30 s); anything else → 180 then 200 with SDP.
//! When the INVITE offers 100rel (Supported or Require), the 180 is sent
//! reliably (RFC 3262) and the 200 follows the PRACK.
//!
//! ```text
//! cargo run -p sip --example uas -- --bind 127.0.0.1:5070 --calls 10 --duration 60
//! ```

use sip::dialog::{Dialog, ReliableProvisional, Retransmit2xx, UaAction};
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
    /// PRACKs that acknowledged a reliable provisional (RFC 3262).
    pub pracks: u64,
}

impl UasStats {
    pub fn finished(&self) -> u64 {
        self.byes + self.busy + self.cancelled + self.failed
    }
}

struct Call {
    invite_key: TransactionKey,
    invite: Request,
    peer: Peer,
    dialog: Dialog,
    retrans: Option<Retransmit2xx>,
    timer: u64,
    /// RFC 3262 reliable 180 awaiting PRACK, with its own timer id.
    reliable: Option<ReliableProvisional>,
    rel_timer: u64,
}

/// Sends the 200 with SDP and starts its retransmission (§13.3.1.4).
async fn answer(ep: &mut Endpoint, c: &mut Call, stats: &mut UasStats) {
    let mut ok = Response::for_request(&c.invite, 200, Some(&c.dialog.id.local_tag));
    ok.headers
        .push(Hdr::Contact, &c.dialog.local_contact.to_string());
    ok.set_body(Some("application/sdp"), SDP.as_bytes().to_vec());
    let (r, actions) =
        Retransmit2xx::start(ok.clone(), ep.timer_config(), c.peer.proto.is_reliable());
    let _ = ep.send_response(&c.invite_key, ok).await;
    for a in actions {
        if let UaAction::StartTimer(d) = a {
            ep.start_timer(c.timer, d);
        }
    }
    c.retrans = Some(r);
    c.dialog.state = sip::dialog::DialogState::Confirmed;
    stats.answered += 1;
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
                        let timer = next_timer;
                        let rel_timer = next_timer + 1;
                        next_timer += 2;
                        let offers_100rel = request.headers.has_option(Hdr::Supported, "100rel")
                            || request.headers.has_option(Hdr::Require, "100rel");
                        let mut call = Call {
                            invite_key: key.clone(),
                            invite: request.clone(),
                            peer,
                            dialog,
                            retrans: None,
                            timer,
                            reliable: None,
                            rel_timer,
                        };
                        if offers_100rel && user != "ring" {
                            // RFC 3262 §3: first RSeq random in 1..2^31
                            let first = (sip::transaction::new_tag().len() as u32) << 16
                                | (rel_timer as u32 & 0xffff);
                            let mut rp = ReliableProvisional::new(first, ep.timer_config());
                            for a in rp.send(ring).unwrap_or_default() {
                                match a {
                                    // through the transaction: INVITE retransmissions get it too
                                    UaAction::Send(r) => {
                                        let _ = ep.send_response(&key, r).await;
                                    }
                                    UaAction::StartTimer(d) => ep.start_timer(rel_timer, d),
                                    _ => {}
                                }
                            }
                            call.reliable = Some(rp);
                        } else {
                            let _ = ep.send_response(&key, ring).await;
                            if user == "ring" {
                                ep.start_timer(timer, Duration::from_secs(30));
                            } else {
                                answer(&mut ep, &mut call, &mut stats).await;
                            }
                        }
                        timer_ids.insert(rel_timer, call_id.clone());
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
                                ep.stop_timer(c.rel_timer);
                                timer_ids.remove(&c.timer);
                                timer_ids.remove(&c.rel_timer);
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
                    (Method::Prack, Some(key)) => {
                        // RFC 3262 §3: a PRACK matching the outstanding reliable
                        // provisional stops its retransmission; else 481.
                        let mut matched = false;
                        if let Some(c) = calls.get_mut(&call_id) {
                            if let Some(rp) = &mut c.reliable {
                                matched = rp.on_prack(&request).0
                                    && c.dialog.on_request(&request).is_ok();
                            }
                            if matched {
                                ep.stop_timer(c.rel_timer);
                                c.reliable = None;
                                stats.pracks += 1;
                                let _ = ep
                                    .send_response(&key, Response::for_request(&request, 200, None))
                                    .await;
                                answer(&mut ep, c, &mut stats).await;
                            }
                        }
                        if !matched {
                            let _ = ep
                                .send_response(&key, Response::for_request(&request, 481, None))
                                .await;
                        }
                    }
                    (Method::Options | Method::Info | Method::Update, Some(key)) => {
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
                if id == c.rel_timer {
                    let Some(rp) = &mut c.reliable else { continue };
                    for a in rp.on_timer() {
                        match a {
                            UaAction::Send(resp) => {
                                let _ = ep.send_stateless(c.peer, &Message::Response(resp)).await;
                            }
                            UaAction::StartTimer(d) => ep.start_timer(id, d),
                            UaAction::GiveUp => {
                                // RFC 3262 §3: no PRACK within 64*T1: reject with 5xx
                                let r = Response::for_request(
                                    &c.invite,
                                    504,
                                    Some(&c.dialog.id.local_tag),
                                );
                                let _ = ep.send_response(&c.invite_key, r).await;
                                stats.failed += 1;
                            }
                            UaAction::StopTimer => {}
                        }
                    }
                    continue;
                }
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
