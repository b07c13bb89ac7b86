//! A small UAC on the `sip` crate: sequential calls INVITE → ACK → BYE, or
//! a CANCEL after 180, or expecting a busy (486) answer.
//!
//! ```text
//! cargo run -p sip --example uac -- --target 127.0.0.1:5070 --transport udp --mode answer --calls 5
//! ```

use sip::dialog::{UacInvite, new_invite};
use sip::header::NameAddr;
use sip::transaction::{TimerConfig, TransactionKey};
use sip::transport::{Endpoint, Event, Peer, Proto, TransportConfig};
use sip::{Message, Method, Uri};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// INVITE, 200, ACK, BYE, 200.
    Answer,
    /// INVITE, 180, CANCEL, 200 (CANCEL), 487 (INVITE, ACKed by the transaction).
    Cancel,
    /// INVITE, 486 (ACKed by the transaction).
    Busy,
}

#[derive(Debug, Clone)]
pub struct UacConfig {
    pub target: Peer,
    pub bind: SocketAddr,
    pub mode: Mode,
    pub calls: u64,
    pub per_call: Duration,
    /// User part of the Request-URI.
    pub user: String,
    pub timers: TimerConfig,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UacStats {
    pub ok: u64,
    pub failed: u64,
    pub reasons: Vec<String>,
}

enum Outcome {
    Ok,
    Failed(String),
}

async fn one_call(ep: &mut Endpoint, cfg: &UacConfig) -> Outcome {
    let local = ep.local(cfg.target.proto);
    let target = cfg.target.addr;
    let uri = Uri::parse(&format!(
        "sip:{}@{}:{}",
        cfg.user,
        target.ip(),
        target.port()
    ))
    .expect("uri");
    let from = NameAddr::new(Uri::parse(&format!("sip:mgc@{}", local.host)).expect("uri"))
        .with_display("MGC");
    let to = NameAddr::new(uri.clone());
    let mut invite = new_invite(from, to, uri, &local, 1);
    invite.set_body(
        Some("application/sdp"),
        b"v=0\r\no=mgc 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 8\r\n".to_vec(),
    );
    let mut uac = UacInvite::new(invite.clone(), local.contact(None));
    let invite_key = match ep.send_request(invite, cfg.target).await {
        Ok(Some(k)) => k,
        _ => return Outcome::Failed("cannot send INVITE".into()),
    };
    let mut cancel_key: Option<TransactionKey> = None;
    let mut bye_key: Option<TransactionKey> = None;
    let mut final_seen = false;
    let deadline = tokio::time::Instant::now() + cfg.per_call;
    loop {
        let ev = match tokio::time::timeout_at(deadline, ep.next_event()).await {
            Ok(Some(ev)) => ev,
            _ => return Outcome::Failed("call timed out".into()),
        };
        match ev {
            Event::Response { key, response, .. } if key == invite_key => {
                let status = response.status;
                let dialog = uac.on_response(&response).cloned();
                if status < 200 {
                    if cfg.mode == Mode::Cancel && status == 180 && cancel_key.is_none() {
                        // §9.1: CANCEL only after a provisional response
                        cancel_key = ep
                            .send_request(uac.cancel(), cfg.target)
                            .await
                            .ok()
                            .flatten();
                    }
                    continue;
                }
                if final_seen && status >= 300 {
                    continue;
                }
                final_seen = true;
                match (cfg.mode, status) {
                    (Mode::Busy, 486) | (Mode::Cancel, 487) => return Outcome::Ok,
                    (_, 200..=299) => {
                        let Some(mut d) = dialog else {
                            return Outcome::Failed("2xx without dialog".into());
                        };
                        let ack = d.ack(uac.invite_seq(), &local);
                        let _ = ep.send_stateless(cfg.target, &Message::Request(ack)).await;
                        let bye = d.new_request(Method::Bye, &local);
                        bye_key = ep.send_request(bye, cfg.target).await.ok().flatten();
                        if cfg.mode != Mode::Answer {
                            return Outcome::Failed(format!("expected failure, got {status}"));
                        }
                    }
                    _ => return Outcome::Failed(format!("unexpected final response {status}")),
                }
            }
            Event::StrayResponse { response, .. } if (200..300).contains(&response.status) => {
                // 2xx retransmission: our ACK was lost, ACK again (§13.2.2.4)
                let seq = uac.invite_seq();
                if let Some(d) = uac.on_response(&response) {
                    let ack = d.ack(seq, &local);
                    let _ = ep.send_stateless(cfg.target, &Message::Request(ack)).await;
                }
            }
            Event::Response { key, response, .. }
                if Some(&key) == bye_key.as_ref() && response.status >= 200 =>
            {
                return if response.status == 200 {
                    Outcome::Ok
                } else {
                    Outcome::Failed(format!("BYE answered {}", response.status))
                };
            }
            Event::Response { key, .. } if Some(&key) == cancel_key.as_ref() => {}
            Event::Timeout { key } if key == invite_key || Some(&key) == bye_key.as_ref() => {
                return Outcome::Failed("transaction timeout".into());
            }
            Event::Request {
                key: Some(key),
                request,
                ..
            } => {
                // e.g. BYE from the far end: answer it
                let resp = sip::Response::for_request(&request, 200, None);
                let _ = ep.send_response(&key, resp).await;
            }
            _ => {}
        }
    }
}

/// Runs `calls` sequential calls.
pub async fn run(cfg: UacConfig) -> std::io::Result<UacStats> {
    let mut ep = Endpoint::bind(cfg.bind, TransportConfig::default(), cfg.timers).await?;
    let mut stats = UacStats::default();
    for _ in 0..cfg.calls {
        match one_call(&mut ep, &cfg).await {
            Outcome::Ok => stats.ok += 1,
            Outcome::Failed(r) => {
                stats.failed += 1;
                stats.reasons.push(r);
            }
        }
    }
    // let the last ACK/BYE retransmissions drain briefly
    let _ = tokio::time::timeout(Duration::from_millis(200), ep.next_event()).await;
    Ok(stats)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let target: SocketAddr = arg(&args, "--target")
        .unwrap_or_else(|| "127.0.0.1:5070".into())
        .parse()
        .map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--target: {e}"))
        })?;
    let proto = match arg(&args, "--transport").as_deref() {
        Some("tcp") => Proto::Tcp,
        _ => Proto::Udp,
    };
    let mode = match arg(&args, "--mode").as_deref() {
        Some("cancel") => Mode::Cancel,
        Some("busy") => Mode::Busy,
        _ => Mode::Answer,
    };
    let cfg = UacConfig {
        target: Peer {
            proto,
            addr: target,
        },
        bind: "127.0.0.1:0".parse().expect("addr"),
        mode,
        calls: arg(&args, "--calls")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
        per_call: Duration::from_secs(40),
        user: arg(&args, "--user").unwrap_or_else(|| "service".into()),
        timers: TimerConfig::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stats = rt.block_on(run(cfg))?;
    println!("{stats:?}");
    if stats.failed > 0 {
        Err(std::io::Error::other("calls failed"))
    } else {
        Ok(())
    }
}
