//! The trust domain (issue 7 item 6, RFC 3325) with real processes: requests from addresses
//! that are no configured peer get 403 and never reach the SS7 side; toward an untrusted peer
//! the INVITE carries no ISUP body and no P-Asserted-Identity, and a presentation-restricted
//! calling number does not appear at all; toward a trusted peer the same call carries them.
//! Loopback only; every process bounded in time.

#[macro_use]
mod harness;
use harness::*;

use std::net::UdpSocket;

/// A request from 127.0.0.2 (no configured peer: the peer is 127.0.0.1) gets 403 and no ISUP
/// leaves the gateway: no IAM, no call (RFC 3325 §2.3, the trust domain's boundary).
#[test]
fn request_from_unknown_source_gets_403_and_never_reaches_ss7() {
    let dir = Scratch::new("trust_403");
    let mut cfg = GwConfig::new(free_port());
    cfg.embedded = Some(vec![
        r#"prefix = ""
answer_after = "100ms""#,
    ]);
    let mut gw = Gateway::start(&dir, "mgc", cfg);
    gw.wait_ready(START);
    let stranger = match UdpSocket::bind("127.0.0.2:0") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIP: cannot bind 127.0.0.2 ({e})");
            return;
        }
    };
    stranger
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let port = stranger.local_addr().unwrap().port();
    let target = gw.sip_addr();
    for (i, method) in ["INVITE", "OPTIONS", "BYE"].iter().enumerate() {
        let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
                    m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
        let req = format!(
            "{method} sip:4930123456@{target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bKstranger{i}\r\n\
             From: <sip:4940111222@127.0.0.2>;tag=s{i}\r\nTo: <sip:4930123456@{target}>\r\n\
             Call-ID: stranger-{i}@127.0.0.2\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\
             Contact: <sip:4940111222@127.0.0.2:{port}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stranger.send_to(req.as_bytes(), &target).unwrap();
        // The final response (the INVITE server transaction may send 100 Trying first).
        let mut buf = [0u8; 65536];
        let resp = loop {
            let n = stranger
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}\n{}", gw.proc.dump()));
            let r = String::from_utf8_lossy(&buf[..n]).to_string();
            if !r.starts_with("SIP/2.0 1") {
                break r;
            }
        };
        assert!(resp.starts_with("SIP/2.0 403 "), "{method}: {resp}");
        assert!(resp.contains(&format!("stranger-{i}@127.0.0.2")), "{resp}");
    }
    let text = gw.wait_circuits_idle(SETTLE);
    assert_eq!(
        sample(
            &text,
            "isup_messages_total",
            &[("direction", "out"), ("message_type", "IAM")]
        )
        .unwrap_or(0.0),
        0.0,
        "no IAM toward the SS7 side"
    );
    assert!(samples(&text, "calls_total").iter().all(|(_, v)| *v == 0.0));
}

/// ss7sim originates a call whose calling number 4940111222 is presentation restricted
/// (screening: network provided) toward a SIP-I peer; returns the INVITE SIPp received.
fn restricted_call_toward(test: &str, trusted: bool) -> String {
    let dir = Scratch::new(test);
    let uas_port = free_port();
    let mut cfg = GwConfig::new(uas_port);
    cfg.trusted = trusted;
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
            "500ms",
            "--called",
            "4930123456",
            "--calling",
            "4940111222",
            "--presentation",
            "1",
            "--max-time",
            "20s",
        ],
    );
    let mut uas = Sipp::start(&dir, "uas", &["-sn", "uas"], uas_port, None, 1, &[]);
    sim.expect_success(Duration::from_secs(30));
    uas.expect_success(Duration::from_secs(10));
    gw.assert_circuits_idle(SETTLE);
    let log = uas.file("messages.log");
    let start = log
        .find("INVITE sip:")
        .unwrap_or_else(|| panic!("SIPp saw no INVITE:\n{log}"));
    let end = log[start..]
        .find("\n----------")
        .map_or(log.len(), |e| start + e);
    log[start..end].to_string()
}

/// Toward an untrusted peer (configured with the SIP-I profile, but `trusted = false`): no ISUP
/// body (Q.1912.5 / RFC 3204: ISUP only inside the trust domain), no P-Asserted-Identity
/// (RFC 3325 §5), an anonymous From (RFC 3323), and the restricted number nowhere in it.
#[test]
fn untrusted_peer_gets_no_isup_no_pai_and_no_restricted_number() {
    require_sipp!();
    let invite = restricted_call_toward("trust_untrusted", false);
    let lower = invite.to_ascii_lowercase();
    assert!(!lower.contains("application/isup"), "{invite}");
    assert!(!lower.contains("p-asserted-identity"), "{invite}");
    assert!(lower.contains("from: \"anonymous\""), "{invite}");
    assert!(
        !invite.contains("40111222"),
        "restricted number leaked:\n{invite}"
    );
}

/// The same call toward a trusted SIP-I peer: the identity travels inside the trust domain
/// (P-Asserted-Identity with the number and `Privacy: id`, the IAM in an ISUP body), while
/// the From is still anonymous (RFC 3325 §9.1, RFC 3323 §4.2).
#[test]
fn trusted_peer_gets_isup_and_pai_with_privacy_id() {
    require_sipp!();
    let invite = restricted_call_toward("trust_trusted", true);
    let lower = invite.to_ascii_lowercase();
    assert!(lower.contains("application/isup"), "{invite}");
    let pai = invite
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("p-asserted-identity:"))
        .unwrap_or_else(|| panic!("no PAI:\n{invite}"));
    assert!(pai.contains("40111222"), "{pai}");
    assert!(
        invite
            .lines()
            .any(|l| l.to_ascii_lowercase().replace(' ', "") == "privacy:id"),
        "{invite}"
    );
    assert!(lower.contains("from: \"anonymous\""), "{invite}");
}

/// A quoted parameter of a challenge (`nonce="…"`).
fn quoted<'a>(challenge: &'a str, name: &str) -> &'a str {
    let start = challenge
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {challenge}"))
        + name.len()
        + 2;
    let len = challenge[start..].find('"').unwrap();
    &challenge[start..start + len]
}

/// A peer configured with digest credentials (RFC 3261 §22.4, SHA-256 per RFC 8760): an
/// INVITE without credentials gets 401 with a SHA-256 challenge, one with a wrong password 401
/// again, and neither reaches the SS7 side; the INVITE with valid credentials does (one IAM;
/// the far end refuses it with cause 17 → 486, so the run is short). All circuits idle.
#[test]
fn digest_peer_is_challenged_and_only_valid_credentials_reach_ss7() {
    let dir = Scratch::new("trust_digest");
    let mut cfg = GwConfig::new(free_port());
    cfg.embedded = Some(vec![
        r#"prefix = ""
reject_cause = 17"#,
    ]);
    cfg.peer_extra =
        r#"digest = { username = "softswitch", password = "s3cret", realm = "gw.test" }"#.into();
    let mut gw = Gateway::start(&dir, "mgc", cfg);
    gw.wait_ready(START);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = sock.local_addr().unwrap().port();
    let target = gw.sip_addr();
    let uri = format!("sip:4930123456@{target}");
    let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
    let invite = |cseq: u32, auth: Option<String>| {
        format!(
            "INVITE {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKdigest{cseq}\r\n\
             From: <sip:4940111222@127.0.0.1>;tag=d1\r\nTo: <{uri}>\r\n\
             Call-ID: digest-1@127.0.0.1\r\nCSeq: {cseq} INVITE\r\nMax-Forwards: 70\r\n\
             Contact: <sip:4940111222@127.0.0.1:{port}>\r\n{}\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            auth.map(|a| format!("Authorization: {a}\r\n"))
                .unwrap_or_default(),
            body.len()
        )
    };
    let ack = |cseq: u32, resp: &str| {
        format!(
            "ACK {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKdigest{cseq}\r\n\
             From: <sip:4940111222@127.0.0.1>;tag=d1\r\nTo: {}\r\n\
             Call-ID: digest-1@127.0.0.1\r\nCSeq: {cseq} ACK\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n",
            header(resp, "To").unwrap()
        )
    };
    let credentials = |nonce: &str, password: &str| {
        let response = sip::auth::response(
            "softswitch",
            "gw.test",
            password,
            "INVITE",
            &uri,
            nonce,
            Some(("00000001", "0a4f113b", "auth")),
        );
        format!(
            "Digest username=\"softswitch\", realm=\"gw.test\", nonce=\"{nonce}\", \
             uri=\"{uri}\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
             response=\"{response}\""
        )
    };
    // 1. No credentials: 401 with a SHA-256 challenge.
    let r = final_response(&sock, &target, &invite(1, None));
    assert!(r.starts_with("SIP/2.0 401 "), "{r}");
    sock.send_to(ack(1, &r).as_bytes(), &target).unwrap();
    let challenge = header(&r, "WWW-Authenticate").unwrap_or_else(|| panic!("{r}"));
    assert!(challenge.starts_with("Digest "), "{challenge}");
    assert!(challenge.contains("algorithm=SHA-256"), "{challenge}");
    assert_eq!(quoted(challenge, "realm"), "gw.test");
    let nonce = quoted(challenge, "nonce").to_string();
    // 2. A wrong password: challenged again.
    let r = final_response(
        &sock,
        &target,
        &invite(2, Some(credentials(&nonce, "guess"))),
    );
    assert!(r.starts_with("SIP/2.0 401 "), "{r}");
    sock.send_to(ack(2, &r).as_bytes(), &target).unwrap();
    // 3. Valid credentials: the call reaches the PSTN, which refuses it (17 → 486).
    let r = final_response(
        &sock,
        &target,
        &invite(3, Some(credentials(&nonce, "s3cret"))),
    );
    assert!(r.starts_with("SIP/2.0 486 "), "{r}\n{}", gw.proc.dump());
    sock.send_to(ack(3, &r).as_bytes(), &target).unwrap();
    let text = gw.wait_circuits_idle(SETTLE);
    assert_eq!(
        sample(
            &text,
            "isup_messages_total",
            &[("direction", "out"), ("message_type", "IAM")]
        ),
        Some(1.0),
        "only the authenticated INVITE reached the SS7 side"
    );
    assert_eq!(
        sample(
            &text,
            "sip_responses_total",
            &[
                ("direction", "out"),
                ("status_class", "4xx"),
                ("method", "INVITE")
            ]
        ),
        Some(3.0)
    );
}
