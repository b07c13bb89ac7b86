//! Malformed input over real sockets (127.0.0.1): error responses naming the
//! problem (400/413/513/505), bounded buffering, and the transport keeps serving.

use sip::transport::{Proto, Transport, TransportConfig};
use sip::{Limits, Message};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GOOD: &str = "OPTIONS sip:u@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKgood\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:u@127.0.0.1>\r\nCall-ID: good@x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

fn with(header: &str) -> String {
    GOOD.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{header}\r\n"),
    )
}

async fn start(
    limits: Limits,
) -> (
    Transport,
    tokio::sync::mpsc::Receiver<sip::transport::Incoming>,
) {
    let cfg = TransportConfig {
        limits,
        agent: "mgc-test".into(),
        queue: 64,
        ..TransportConfig::default()
    };
    Transport::bind("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap()
}

async fn udp_exchange(t: &Transport, data: &[u8]) -> Option<Message> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(data, t.local_addr()).await.unwrap();
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(Message::parse(&buf[..n]).expect("error response parses")),
        _ => None,
    }
}

fn status_and_warning(m: &Message) -> (u16, String, String) {
    let Message::Response(r) = m else {
        panic!("expected a response")
    };
    let w = r.headers.warning().unwrap();
    (
        r.status,
        r.reason.clone(),
        w.first().map(|w| w.text.clone()).unwrap_or_default(),
    )
}

#[tokio::test]
async fn udp_malformed_requests_get_specific_errors() {
    let (t, mut rx) = start(Limits::default()).await;
    let cases: Vec<(String, u16, &str)> = vec![
        (with("CSeq: 2 OPTIONS"), 400, "duplicate CSeq"),
        (
            GOOD.replace("Max-Forwards: 70", "Max-Forwards: 300"),
            400,
            "Max-Forwards",
        ),
        (
            GOOD.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"),
            400,
            "CSeq method",
        ),
        (
            GOOD.replace("Content-Length: 0", "Content-Length: 50"),
            400,
            "Content-Length 50",
        ),
        (
            GOOD.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"),
            505,
            "version",
        ),
        (
            GOOD.replace("OPTIONS sip:u@127.0.0.1", "OPTIONS  sip:u@127.0.0.1"),
            400,
            "start line",
        ),
        (with("Date: Fri, 01 Jan 2010 16:00:00 EST"), 400, "Date"),
    ];
    for (raw, status, needle) in cases {
        let resp = udp_exchange(&t, raw.as_bytes())
            .await
            .unwrap_or_else(|| panic!("no answer to {raw}"));
        let (s, reason, warning) = status_and_warning(&resp);
        assert_eq!(s, status, "{raw}");
        assert!(
            reason.contains(needle),
            "reason {reason:?} lacks {needle:?}"
        );
        assert!(
            warning.contains(needle),
            "warning {warning:?} lacks {needle:?}"
        );
        assert_eq!(resp.headers().call_id().unwrap(), "good@x");
        assert!(resp.headers().to().unwrap().tag().is_some());
    }
    // a broken From is echoed verbatim (RFC 3261 §8.2.6.2), so check the raw 400
    let bad_from = GOOD.replace(
        "From: <sip:a@127.0.0.1>",
        "From: \"unterminated <sip:a@127.0.0.1>",
    );
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bad_from.as_bytes(), t.local_addr())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        text.starts_with(
            "SIP/2.0 400 Bad Request (invalid From header: unterminated quoted-string)\r\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("Warning: 399 mgc-test \"invalid From header"),
        "{text}"
    );

    // a response or garbage gets no answer; the transport keeps serving
    assert!(
        udp_exchange(&t, b"SIP/2.0 999 Nope\r\n\r\n")
            .await
            .is_none()
    );
    assert!(
        udp_exchange(&t, &[0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])
            .await
            .is_none()
    );
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(GOOD.as_bytes(), t.local_addr()).await.unwrap();
    let inc = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inc.peer.proto, Proto::Udp);
    // received added: the Via host (127.0.0.1:9) is the source IP, so only if rport asked
    assert!(inc.message.is_request());
}

#[tokio::test]
async fn udp_limits_header_count_and_size() {
    let limits = Limits {
        max_message_size: 4096,
        max_headers: 20,
        max_line_len: 512,
    };
    let (t, _rx) = start(limits).await;
    let many = with(
        &(0..30)
            .map(|i| format!("X-H{i}: v"))
            .collect::<Vec<_>>()
            .join("\r\n"),
    );
    let (s, reason, _) = status_and_warning(&udp_exchange(&t, many.as_bytes()).await.unwrap());
    assert_eq!(s, 400);
    assert!(reason.contains("more than 20 header fields"), "{reason}");
    let long = with(&format!("Subject: {}", "x".repeat(600)));
    let (s, reason, _) = status_and_warning(&udp_exchange(&t, long.as_bytes()).await.unwrap());
    assert_eq!(s, 400);
    assert!(reason.contains("line longer than 512"), "{reason}");
    let big = with(&format!("X-Pad: {}", "y".repeat(500)))
        .replace("Content-Length: 0", "Content-Length: 5000")
        + &"z".repeat(5000);
    let (s, reason, _) = status_and_warning(&udp_exchange(&t, big.as_bytes()).await.unwrap());
    assert_eq!(s, 513);
    assert!(reason.contains("Message Too Large"), "{reason}");
}

async fn tcp_exchange(t: &Transport, data: &[u8]) -> (Vec<u8>, bool) {
    let mut s = tokio::net::TcpStream::connect(t.local_addr())
        .await
        .unwrap();
    s.write_all(data).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(Duration::from_millis(800), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (out, closed)
}

#[tokio::test]
async fn tcp_bounded_buffering_and_close() {
    let (t, _rx) = start(Limits {
        max_message_size: 8192,
        ..Limits::default()
    })
    .await;
    // Content-Length beyond the limit: 413 without waiting for the body, then close
    let huge = GOOD.replace("Content-Length: 0", "Content-Length: 100000");
    let (out, closed) = tcp_exchange(&t, huge.as_bytes()).await;
    let m = Message::parse(&out).unwrap();
    assert_eq!(status_and_warning(&m).0, 413);
    assert!(closed);
    // headers that never end: 513 after the limit, then close
    let mut flood =
        b"OPTIONS sip:u@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKf\r\n"
            .to_vec();
    while flood.len() < 9000 {
        flood.extend_from_slice(b"X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let (out, closed) = tcp_exchange(&t, &flood).await;
    let m = Message::parse(&out).unwrap();
    assert_eq!(status_and_warning(&m).0, 513);
    assert!(closed);
    // missing Content-Length on a stream: 400
    let nocl = GOOD.replace("Content-Length: 0\r\n", "");
    let (out, closed) = tcp_exchange(&t, nocl.as_bytes()).await;
    let (s, reason, _) = status_and_warning(&Message::parse(&out).unwrap());
    assert_eq!(s, 400);
    assert!(reason.contains("Content-Length"), "{reason}");
    assert!(closed);
}

#[tokio::test]
async fn tcp_connection_reuse_both_directions() {
    let (t, mut rx) = start(Limits::default()).await;
    let mut s = tokio::net::TcpStream::connect(t.local_addr())
        .await
        .unwrap();
    let req = GOOD.replace("SIP/2.0/UDP 127.0.0.1:9", "SIP/2.0/TCP 127.0.0.1:9;rport");
    // two pipelined requests in one write
    s.write_all(format!("{req}{}", req.replace("z9hG4bKgood", "z9hG4bKtwo")).as_bytes())
        .await
        .unwrap();
    let a = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let b = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.peer, b.peer);
    assert_eq!(a.peer.proto, Proto::Tcp);
    let Message::Request(r) = &a.message else {
        panic!()
    };
    // RFC 3581: rport filled with the source port
    assert_eq!(
        r.headers.top_via().unwrap().rport(),
        Some(Some(s.local_addr().unwrap().port()))
    );
    // the response goes back over the same connection
    let resp = sip::Response::for_request(r, 200, Some("t"));
    t.send(a.peer, &Message::Response(resp)).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let got = Message::parse(&buf[..n]).unwrap();
    assert!(matches!(got, Message::Response(r) if r.status == 200));
    // RFC 5626 §4.4.1 keep-alive: double-CRLF ping, single-CRLF pong
    s.write_all(b"\r\n\r\n").await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"\r\n");
}

#[tokio::test]
async fn endpoint_rejects_requests_missing_mandatory_headers() {
    use sip::transaction::TimerConfig;
    use sip::transport::{Endpoint, Event};
    let mut ep = Endpoint::bind(
        "127.0.0.1:0".parse().unwrap(),
        TransportConfig::default(),
        TimerConfig::default(),
    )
    .await
    .unwrap();
    let addr = ep.transport.local_addr();
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let task = tokio::spawn(async move {
        while let Some(ev) = ep.next_event().await {
            if let Event::Request { request, .. } = ev {
                let _ = tx.send(request.method.clone()).await;
            }
        }
    });
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // RFC 4475 §3.3.1 insuf.dat style: no From, To, Call-ID
    let insuf = "INVITE sip:u@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKinsuf\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    sock.send_to(insuf.as_bytes(), addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let Message::Response(r) = Message::parse(&buf[..n]).unwrap() else {
        panic!()
    };
    assert_eq!(r.status, 400);
    assert_eq!(r.reason, "Bad Request (missing From header)");
    assert!(rx.try_recv().is_err(), "the TU must not see it");
    // a complete request is delivered and gets the transaction's 100 Trying
    let good = GOOD
        .replace("SIP/2.0/UDP 127.0.0.1:9", "SIP/2.0/UDP 127.0.0.1;rport")
        .replace("OPTIONS", "INVITE");
    sock.send_to(good.as_bytes(), addr).await.unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let Message::Response(r) = Message::parse(&buf[..n]).unwrap() else {
        panic!()
    };
    assert_eq!(r.status, 100);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .unwrap(),
        Some(sip::Method::Invite)
    );
    task.abort();
}

#[tokio::test]
async fn tcp_bad_message_does_not_kill_the_connection() {
    let (t, mut rx) = start(Limits::default()).await;
    let mut s = tokio::net::TcpStream::connect(t.local_addr())
        .await
        .unwrap();
    // a framed but invalid request (duplicate CSeq), then a valid one, in one write
    let bad = with("CSeq: 2 OPTIONS");
    s.write_all(format!("{bad}{GOOD}").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let (status, reason, _) = status_and_warning(&Message::parse(&buf[..n]).unwrap());
    assert_eq!(status, 400);
    assert!(reason.contains("duplicate CSeq"), "{reason}");
    // the next message on the same connection still gets through
    let inc = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inc.message.headers().call_id().unwrap(), "good@x");
    assert_eq!(inc.peer.addr, s.local_addr().unwrap());
}
