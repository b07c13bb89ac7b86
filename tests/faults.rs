//! Faults (issue 7 item 4) with real processes: `mgc run` between SIPp and `ss7sim`, each fault
//! provoked for real (a killed simulator, a silent SIP peer, garbage on the SIP port, ISUP for
//! idle and unknown circuits, a killed gateway). Each test asserts the outcome on the wire and
//! that every circuit ends idle (mgc's `circuits` gauge, and ss7sim's exit code where it runs
//! to the end). Every process is bounded in time and killed on drop; loopback only.

#[macro_use]
mod harness;
use harness::*;

use std::net::UdpSocket;

/// Wait (at most `limit`) until `sim` has logged a message of `message_type` in direction `dir`.
fn wait_logged(sim: &Sim, dir: &str, message_type: &str, limit: Duration) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if sim
            .messages()
            .iter()
            .any(|(d, m)| d == dir && m["message_type"] == message_type)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{}: no {dir} {message_type} within {limit:?}; ladder {:?}\n{}",
        sim.proc.name,
        sim.call_ladder(),
        sim.proc.dump()
    );
}

/// Q.764 / issue 7: the M3UA association is lost mid-call (ss7sim killed). The answered call is
/// released toward SIP with BYE and `Reason: Q.850;cause=38` (SIPp checks it); the ASP
/// reconnects to a new ss7sim on the same port, resets the circuits with GRS, and a new call
/// through the same trunk completes, after which every circuit is idle on both sides.
#[test]
fn m3ua_lost_mid_call_releases_toward_sip_and_recovers_with_grs() {
    require_sipp!();
    let dir = Scratch::new("m3ua_lost");
    let sip_port = free_port();
    let mut gw = Gateway::start(&dir, "mgc", GwConfig::new(sip_port));
    let mut sim1 = Sim::start(
        &dir,
        "ss7sim1",
        gw.cfg.m3ua,
        &[],
        &["answer", "--duration", "60s"],
    );
    gw.wait_ready(START);
    let sf = scenario(&dir, "uac_lost_bye.xml", &[]);
    let target = gw.sip_addr();
    let mut uac = Sipp::start(
        &dir,
        "uac",
        &["-sf", &sf, "-s", "4930123456"],
        sip_port,
        Some(&target),
        1,
        &[],
    );
    wait_logged(&sim1, "sent", "ANM", Duration::from_secs(15));
    // The association goes with the process (SIGKILL: no ASP-DOWN, just a closed socket).
    let _ = sim1.proc.child.kill();
    let _ = sim1.proc.child.wait();
    uac.expect_success(Duration::from_secs(15));
    // A new far end on the same address: the ASP reconnects (with backoff) and sends GRS;
    // ss7sim waits for that reset before its IAM.
    let mut sim2 = Sim::start(
        &dir,
        "ss7sim2",
        gw.cfg.m3ua,
        &["--await-reset", "20s"],
        &[
            "call",
            "--calls",
            "1",
            "--hold",
            "1s",
            "--called",
            "4930123456",
            "--calling",
            "4940111222",
            "--max-time",
            "40s",
        ],
    );
    let mut uas = Sipp::start(&dir, "uas", &["-sn", "uas"], sip_port, None, 1, &[]);
    sim2.expect_success(Duration::from_secs(50));
    uas.expect_success(Duration::from_secs(10));
    assert!(
        sim2.messages()
            .iter()
            .any(|(d, m)| d == "received" && m["message_type"] == "GRS"),
        "the gateway reset the circuits with GRS on recovery: {:?}",
        sim2.messages()
            .iter()
            .map(|(d, m)| format!("{d} {}", m["message_type"]))
            .collect::<Vec<_>>()
    );
    gw.assert_circuits_idle(SETTLE);
    assert_eq!(
        gw.counter(
            "call_releases_total",
            &[("cause", "38"), ("side", "gateway")]
        ),
        1.0
    );
}

/// The SIP peer is silent (a bound UDP socket that never answers): the INVITE's client
/// transaction times out (timer B = 64·T1, T1 shortened to 50 ms) and the PSTN call is released
/// with REL cause 102 (recovery on timer expiry, RFC 3398 §7.2.6 / Q.1912.5); ss7sim answers
/// RLC and the circuit is idle.
#[test]
fn silent_sip_peer_times_out_with_rel_102() {
    let dir = Scratch::new("sip_silent");
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind the silent peer");
    let mut cfg = GwConfig::new(silent.local_addr().unwrap().port());
    cfg.sip_extra = "t1_ms = 50\n".into();
    let gw = Gateway::start(&dir, "mgc", cfg);
    let mut sim = Sim::start(
        &dir,
        "ss7sim",
        gw.cfg.m3ua,
        AWAIT_RESET,
        &[
            "call",
            "--calls",
            "1",
            "--hold",
            "none",
            "--called",
            "4930123456",
            "--calling",
            "4940111222",
            "--expect-cause",
            "102",
            "--max-time",
            "20s",
        ],
    );
    sim.expect_success(Duration::from_secs(40));
    assert_eq!(sim.call_ladder(), ["sent IAM", "received REL", "sent RLC"]);
    assert_eq!(cause_of(&sim.first("received", "REL")), 102);
    // The INVITE did reach the silent peer, retransmitted (RFC 3261 §17.1.1.2).
    silent
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 65536];
    let mut invites = 0;
    while let Ok(n) = silent.recv(&mut buf) {
        if buf[..n].starts_with(b"INVITE ") {
            invites += 1;
        }
    }
    assert!(invites >= 2, "INVITE sent {invites} times");
    gw.assert_circuits_idle(SETTLE);
}

/// The SIP peer sends garbage during a call: a request without its mandatory headers is
/// answered 400 (RFC 3261 §8.1.1 / §21.4.1), unparseable bytes are counted and dropped, and the
/// call in progress is unaffected (ss7sim's call completes, SIPp's scenario passes).
#[test]
fn sip_garbage_gets_400_and_calls_are_unaffected() {
    require_sipp!();
    let dir = Scratch::new("sip_garbage");
    let uas_port = free_port();
    let gw = Gateway::start(&dir, "mgc", GwConfig::new(uas_port));
    let mut sim = Sim::start(
        &dir,
        "ss7sim",
        gw.cfg.m3ua,
        AWAIT_RESET,
        &[
            "call",
            "--calls",
            "1",
            "--hold",
            "2s",
            "--called",
            "4930123456",
            "--calling",
            "4940111222",
            "--max-time",
            "20s",
        ],
    );
    let mut uas = Sipp::start(&dir, "uas", &["-sn", "uas"], uas_port, None, 1, &[]);
    wait_logged(&sim, "received", "ANM", Duration::from_secs(25));
    // From the configured peer's address (127.0.0.1), so it is not refused as a stranger.
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let gw_addr = gw.sip_addr();
    let garbage: [&[u8]; 3] = [
        b"\x00\xff\x13\x37 this is no SIP at all \r\n\r\n",
        b"INVITE sip:4930123456@127.0.0.1 SIP/2.0\r\nContent-Length: banana\r\n\r\n",
        b"SIP/2.0 999999 Nope\r\n\r\n",
    ];
    for g in garbage {
        peer.send_to(g, &gw_addr).unwrap();
    }
    // Parseable, but without CSeq and Max-Forwards: 400.
    let no_cseq = format!(
        "OPTIONS sip:4930123456@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKgarbage1\r\n\
         From: <sip:peer@127.0.0.1>;tag=g1\r\nTo: <sip:4930123456@127.0.0.1>\r\n\
         Call-ID: garbage-1@127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    );
    peer.send_to(no_cseq.as_bytes(), &gw_addr).unwrap();
    let mut buf = [0u8; 65536];
    let n = peer
        .recv(&mut buf)
        .expect("a response to the request without CSeq");
    let resp = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(resp.starts_with("SIP/2.0 400 "), "{resp}");
    assert!(resp.contains("garbage-1@127.0.0.1"), "{resp}");
    // The call goes on and ends normally.
    sim.expect_success(Duration::from_secs(25));
    uas.expect_success(Duration::from_secs(10));
    assert_eq!(
        sim.call_ladder(),
        [
            "sent IAM",
            "received ACM",
            "received ANM",
            "sent REL",
            "received RLC"
        ]
    );
    let text = gw.wait_circuits_idle(SETTLE);
    let malformed = sample(&text, "sip_malformed_messages_total", &[]).unwrap_or(0.0);
    assert!(malformed >= 1.0, "malformed SIP counted: {malformed}");
    assert_eq!(
        gw.counter(
            "calls_total",
            &[("model", "pstn_origination"), ("outcome", "answered")]
        ),
        1.0
    );
}

/// Q.764 §2.9.5.1 and §2.12 with a scripted far end: ANM on an idle circuit → RSC (ss7sim
/// answers RLC), REL on an idle circuit → RLC, a message for a CIC the gateway does not have →
/// UCIC. Afterwards every circuit is idle.
#[test]
fn isup_for_idle_and_unknown_circuits() {
    let dir = Scratch::new("isup_unreasonable");
    let gw = Gateway::start(&dir, "mgc", GwConfig::new(free_port()));
    let script = dir.join("unreasonable.toml");
    std::fs::write(
        &script,
        r#"name = "unreasonable messages"
cic = 5
timeout = "3s"

[[step]]
send = "ANM"

[[step]]
expect = "RSC"

[[step]]
send = "REL"
cic = 6

[[step]]
expect = "RLC"
cic = 6

[[step]]
send = "ANM"
cic = 40

[[step]]
expect = "UCIC"
cic = 40
"#,
    )
    .unwrap();
    let mut sim = Sim::start(
        &dir,
        "ss7sim",
        gw.cfg.m3ua,
        AWAIT_RESET,
        &["scenario", script.to_str().unwrap()],
    );
    sim.expect_success(Duration::from_secs(30));
    gw.assert_circuits_idle(SETTLE);
}

/// `mgc` is killed (SIGKILL) with calls in progress and started again: its GRS on start-up
/// clears the far end's calls, no circuit stays blocked or busy on either side, and new calls
/// complete.
#[test]
fn mgc_restart_under_load_leaves_no_circuit_blocked() {
    require_sipp!();
    let dir = Scratch::new("mgc_restart");
    let sip_port = free_port();
    let mut gw = Gateway::start(&dir, "mgc", GwConfig::new(sip_port));
    let mut sim = Sim::start(
        &dir,
        "ss7sim",
        gw.cfg.m3ua,
        &[],
        &["answer", "--duration", "90s"],
    );
    gw.wait_ready(START);
    let target = gw.sip_addr();
    // 20 calls/s, each held 3 s: about 20 calls up when the gateway dies.
    let load = Sipp::start(
        &dir,
        "load",
        &[
            "-sn",
            "uac",
            "-s",
            "4930123456",
            "-d",
            "3000",
            "-r",
            "20",
            "-l",
            "25",
        ],
        sip_port,
        Some(&target),
        200,
        &[],
    );
    let end = Instant::now() + Duration::from_secs(15);
    while gw.counter("calls_active", &[("model", "ip_origination")]) < 10.0 {
        assert!(Instant::now() < end, "no load built up\n{}", gw.proc.dump());
        std::thread::sleep(Duration::from_millis(50));
    }
    let busy_before = gw.counter("circuits", &[("state", "idle")]);
    assert!(busy_before < CIC_COUNT as f64, "calls hold circuits");
    gw.restart(&dir, "mgc");
    drop(load);
    gw.wait_ready(START);
    // New calls through the same circuits.
    let mut uac = Sipp::start(
        &dir,
        "uac",
        &["-sn", "uac", "-s", "4930123456", "-d", "200", "-r", "5"],
        sip_port,
        Some(&target),
        5,
        &[],
    );
    uac.expect_success(Duration::from_secs(30));
    gw.assert_circuits_idle(SETTLE);
    // ss7sim's own view: SIGTERM ends `answer`, exit 0 only if every circuit is idle.
    let _ = Command::new("kill")
        .args(["-TERM", &sim.proc.child.id().to_string()])
        .status();
    sim.expect_success(Duration::from_secs(15));
}

/// Issue 7 limits through `mgc run` (`[sip] max_transactions_per_source = 2`, `max_body_parts
/// = 2`, `[overload] retry_after_s = 3`). The far end rings without answering, so a peer's
/// INVITEs stay unanswered: two are taken, the third gets 503 + Retry-After + Warning from the
/// SIP endpoint. A second peer (127.0.0.2) is still served, and answered requests do not count:
/// three calls in a row refused by the far end (486) all reach it, and its INVITE with three
/// body parts gets 413 naming the limit, without an IAM.
#[test]
fn sip_limits_per_source_and_body_parts() {
    let dir = Scratch::new("sip_limits");
    let second = match UdpSocket::bind("127.0.0.2:0") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIP: cannot bind 127.0.0.2 ({e})");
            return;
        }
    };
    let mut cfg = GwConfig::new(free_port());
    cfg.embedded = Some(vec![
        "prefix = \"\"\nanswer_after = \"none\"",
        "prefix = \"4930486\"\nreject_cause = 17",
    ]);
    cfg.sip_extra = "max_transactions_per_source = 2\nmax_body_parts = 2\n".into();
    cfg.extra = "\n[overload]\nretry_after_s = 3\n\n[[peers]]\nname = \"second\"\n\
                 host = \"127.0.0.2\"\nport = 5080\ntrunk_group = \"pstn\"\nprofile = \"sip-i\"\n\
                 trusted = true\n"
        .into();
    let mut gw = Gateway::start(&dir, "mgc", cfg);
    gw.wait_ready(START);
    let target = gw.sip_addr();
    // A request from `sock` to `number`; `method` ACK takes the To (with tag) of a response.
    let request = |sock: &UdpSocket,
                   method: &str,
                   number: &str,
                   id: &str,
                   to: Option<&str>,
                   body: &[(&str, &str)]| {
        let src = sock.local_addr().unwrap();
        let ip = src.ip();
        let (ct, body) = match body {
            [] => (String::new(), Vec::new()),
            parts => {
                let owned: Vec<_> = parts
                    .iter()
                    .map(|(t, b)| sip::multipart::OwnedPart::new(t, b.as_bytes().to_vec()))
                    .collect();
                let (b, octets) = sip::multipart::build(&owned);
                (
                    format!("Content-Type: multipart/mixed;boundary={b}\r\n"),
                    octets,
                )
            }
        };
        let to = to.map_or(format!("<sip:{number}@{target}>"), str::to_string);
        let mut req = format!(
            "{method} sip:{number}@{target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {src};rport;branch=z9hG4bK{id}\r\n\
             From: <sip:4940111222@{ip}>;tag={id}\r\nTo: {to}\r\n\
             Call-ID: {id}@{ip}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\
             Contact: <sip:4940111222@{src}>\r\n{ct}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        String::from_utf8(req).unwrap()
    };
    let first = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&first, &second] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let ringing = "4930123456";
    for id in ["lim1", "lim2"] {
        let req = request(&first, "INVITE", ringing, id, None, &[]);
        first.send_to(req.as_bytes(), &target).unwrap();
    }
    let resp = final_response(
        &first,
        &target,
        &request(&first, "INVITE", ringing, "lim3", None, &[]),
    );
    assert!(resp.starts_with("SIP/2.0 503 "), "{resp}");
    assert!(resp.contains("lim3@127.0.0.1"), "{resp}");
    assert_eq!(header(&resp, "Retry-After"), Some("3"));
    assert!(
        header(&resp, "Warning")
            .is_some_and(|w| w.contains("more than 2 transactions in progress from this source")),
        "{resp}"
    );
    for id in ["busy1", "busy2", "busy3"] {
        let resp = final_response(
            &second,
            &target,
            &request(&second, "INVITE", "4930486000", id, None, &[]),
        );
        assert!(resp.starts_with("SIP/2.0 486 "), "{resp}");
        assert!(resp.contains(&format!("{id}@127.0.0.2")), "{resp}");
        let ack = request(&second, "ACK", "4930486000", id, header(&resp, "To"), &[]);
        second.send_to(ack.as_bytes(), &target).unwrap();
    }
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
    let three = [
        ("application/sdp", sdp),
        ("text/plain", "x"),
        ("text/plain", "y"),
    ];
    let resp = final_response(
        &second,
        &target,
        &request(&second, "INVITE", ringing, "parts3", None, &three),
    );
    assert!(resp.starts_with("SIP/2.0 413 "), "{resp}");
    assert!(
        header(&resp, "Warning")
            .is_some_and(|w| w.contains("multipart body has more than 2 parts")),
        "{resp}"
    );
    // What left toward SS7: the two ringing calls and the three refused ones.
    let text = gw.metrics().expect("metrics");
    assert_eq!(
        sample(
            &text,
            "isup_messages_total",
            &[("direction", "out"), ("message_type", "IAM")]
        ),
        Some(5.0),
        "{}",
        grep(&text, &["isup_messages_total"])
    );
}
