//! Interop with SIPp (Debian package `sip-tester`), on 127.0.0.1 only, every
//! run bounded by `-m`, `-timeout` and an outer timeout:
//! * SIPp UAC → our example UAS: INVITE/100/180/200/ACK/BYE/200, CANCEL, 486;
//! * our example UAC → SIPp UAS: the built-in `uas`, plus CANCEL and 486;
//!
//! each over UDP and TCP. Skips with a message when `sipp` is not installed.

#[path = "../examples/uac.rs"]
#[allow(dead_code)]
mod uac;
#[path = "../examples/uas.rs"]
#[allow(dead_code)]
mod uas;

use sip::transaction::TimerConfig;
use sip::transport::{Peer, Proto};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const CALLS: u64 = 3;

fn sipp_missing() -> bool {
    let missing = std::process::Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err();
    if missing {
        println!("SKIP: sipp not found (install the Debian package sip-tester, as .ci/run does)");
    }
    missing
}

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        let port = u.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
        .display()
        .to_string()
}

fn transport_args(proto: Proto) -> Vec<String> {
    match proto {
        Proto::Udp => vec!["-t".into(), "u1".into()],
        Proto::Tcp => vec!["-t".into(), "t1".into()],
    }
}

/// Runs sipp with a hard outer timeout; returns (exit code, output).
async fn sipp(args: Vec<String>) -> (i32, String) {
    let mut cmd = tokio::process::Command::new("sipp");
    cmd.args(&args)
        .args([
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
            "-i",
            "127.0.0.1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("spawn sipp");
    match tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            (out.status.code().unwrap_or(-1), text)
        }
        Ok(Err(e)) => (-1, format!("sipp wait failed: {e}")),
        Err(_) => (-1, "sipp exceeded the outer 60 s timeout (killed)".into()),
    }
}

fn summary(out: &str) -> String {
    out.lines()
        .filter(|l| {
            l.contains("Successful call") || l.contains("Failed call") || l.contains("Unexpected")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// SIPp as UAC against our UAS.
async fn sipp_uac_to_our_uas(proto: Proto, scenario_args: Vec<String>) -> uas::UasStats {
    let port = free_port();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let cfg = uas::UasConfig {
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        calls: CALLS,
        duration: Duration::from_secs(45),
        timers: TimerConfig::default(),
    };
    let server = tokio::spawn(uas::run(cfg, Some(ready_tx)));
    ready_rx.await.expect("uas ready");
    let mut args = scenario_args;
    args.push(format!("127.0.0.1:{port}"));
    args.extend(transport_args(proto));
    args.extend([
        "-p".into(),
        free_port().to_string(),
        "-m".into(),
        CALLS.to_string(),
        "-r".into(),
        "10".into(),
    ]);
    let (code, out) = sipp(args).await;
    let stats = tokio::time::timeout(Duration::from_secs(50), server)
        .await
        .expect("uas finished in time")
        .expect("uas task")
        .expect("uas io");
    assert_eq!(
        code,
        0,
        "SIPp reported failed calls:\n{}\n{stats:?}\n{out}",
        summary(&out)
    );
    println!(
        "SIPp uac over {proto:?}: {}\nour UAS: {stats:?}",
        summary(&out)
    );
    stats
}

/// Our UAC against a SIPp UAS.
async fn our_uac_to_sipp_uas(
    proto: Proto,
    scenario_args: Vec<String>,
    mode: uac::Mode,
) -> uac::UacStats {
    let port = free_port();
    let mut args = scenario_args;
    args.extend(transport_args(proto));
    args.extend([
        "-p".into(),
        port.to_string(),
        "-m".into(),
        CALLS.to_string(),
    ]);
    let server = tokio::spawn(sipp(args));
    // wait until SIPp listens
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..50 {
        let busy = match proto {
            Proto::Udp => std::net::UdpSocket::bind(addr).is_err(),
            Proto::Tcp => std::net::TcpStream::connect(addr).is_ok(),
        };
        if busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cfg = uac::UacConfig {
        target: Peer { proto, addr },
        bind: "127.0.0.1:0".parse().unwrap(),
        mode,
        calls: CALLS,
        per_call: Duration::from_secs(20),
        user: "service".into(),
        timers: TimerConfig::default(),
    };
    let stats = uac::run(cfg).await.expect("uac io");
    let (code, out) = server.await.expect("sipp task");
    assert_eq!(stats.failed, 0, "our UAC failed: {stats:?}\n{out}");
    assert_eq!(stats.ok, CALLS);
    assert_eq!(
        code,
        0,
        "SIPp UAS reported failed calls:\n{}\n{out}",
        summary(&out)
    );
    println!(
        "our UAC over {proto:?} → SIPp: {stats:?}\n{}",
        summary(&out)
    );
    stats
}

fn sn(name: &str) -> Vec<String> {
    vec!["-sn".into(), name.into()]
}
fn sf(file: &str, service: Option<&str>) -> Vec<String> {
    let mut v = vec!["-sf".into(), scenario(file)];
    if let Some(s) = service {
        v.extend(["-s".into(), s.into()]);
    }
    v
}

/// The 26-octet IAM of shared/reference/test-peers.md §1 (called 4930123456,
/// calling 493099988), with three NUL octets: SIPp sends it from a file.
const IAM: [u8; 26] = [
    0x01, 0x00, 0x60, 0x20, 0x0a, 0x00, 0x02, 0x09, 0x07, 0x03, 0x10, 0x94, 0x03, 0x21, 0x43, 0x65,
    0x0a, 0x07, 0x84, 0x13, 0x94, 0x03, 0x99, 0x89, 0x08, 0x00,
];

/// SIP-I: SIPp sends INVITEs with multipart SDP + binary ISUP; our UAS must
/// recover the IAM byte for byte and complete the calls.
async fn sipp_uac_sip_i_invite(p: Proto) {
    let dir = std::env::temp_dir().join(format!("sip-sipp-{}-{p:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let iam = dir.join("iam.bin");
    std::fs::write(&iam, IAM).unwrap();
    let template = std::fs::read_to_string(scenario("uac_sip_i.xml")).unwrap();
    let xml = dir.join("uac_sip_i.xml");
    std::fs::write(
        &xml,
        template.replace("IAM_FILE", &iam.display().to_string()),
    )
    .unwrap();
    let s = sipp_uac_to_our_uas(
        p,
        vec![
            "-sf".into(),
            xml.display().to_string(),
            "-s".into(),
            "4930123456".into(),
        ],
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        (s.answered, s.acked, s.byes, s.failed),
        (CALLS, CALLS, CALLS, 0)
    );
    assert_eq!(s.isup_parts.len() as u64, CALLS);
    for part in &s.isup_parts {
        assert_eq!(part.as_slice(), IAM.as_slice());
    }
}

/// RFC 3262 on the wire: SIPp requires 100rel, our UAS sends a reliable 180,
/// answers SIPp's PRACK and only then the INVITE.
async fn sipp_uac_100rel(p: Proto) {
    let s = sipp_uac_to_our_uas(p, sf("uac_100rel.xml", None)).await;
    assert_eq!(
        (s.pracks, s.answered, s.acked, s.byes, s.failed),
        (CALLS, CALLS, CALLS, CALLS, 0)
    );
}

async fn sipp_uac_basic_call(p: Proto) {
    let s = sipp_uac_to_our_uas(p, sn("uac")).await;
    assert_eq!(
        (s.answered, s.acked, s.byes, s.failed),
        (CALLS, CALLS, CALLS, 0)
    );
}
async fn sipp_uac_cancel(p: Proto) {
    let s = sipp_uac_to_our_uas(p, sf("uac_cancel.xml", Some("ring"))).await;
    assert_eq!((s.cancelled, s.failed), (CALLS, 0));
}
async fn sipp_uac_busy(p: Proto) {
    let s = sipp_uac_to_our_uas(p, sf("uac_486.xml", Some("busy"))).await;
    assert_eq!((s.busy, s.failed), (CALLS, 0));
}
async fn our_uac_basic_call(p: Proto) {
    our_uac_to_sipp_uas(p, sn("uas"), uac::Mode::Answer).await;
}
async fn our_uac_cancel(p: Proto) {
    our_uac_to_sipp_uas(p, sf("uas_cancel.xml", None), uac::Mode::Cancel).await;
}
async fn our_uac_busy(p: Proto) {
    our_uac_to_sipp_uas(p, sf("uas_486.xml", None), uac::Mode::Busy).await;
}

macro_rules! both_transports {
    ($($name:ident),*) => {
        mod udp {
            $(
                #[tokio::test]
                async fn $name() {
                    if super::sipp_missing() {
                        return;
                    }
                    super::$name(super::Proto::Udp).await;
                }
            )*
        }
        mod tcp {
            $(
                #[tokio::test]
                async fn $name() {
                    if super::sipp_missing() {
                        return;
                    }
                    super::$name(super::Proto::Tcp).await;
                }
            )*
        }
    };
}

both_transports!(
    sipp_uac_sip_i_invite,
    sipp_uac_100rel,
    sipp_uac_basic_call,
    sipp_uac_cancel,
    sipp_uac_busy,
    our_uac_basic_call,
    our_uac_cancel,
    our_uac_busy
);
