//! `TransportConfig::max_transactions_per_source` through a real `Endpoint` on 127.0.0.1: a
//! source with that many requests unanswered gets 503 + Retry-After for a new one, while its
//! retransmissions, its CANCELs and other sources go on; once answered it is served again.

use sip::transaction::TimerConfig;
use sip::transport::{Endpoint, Event, TransportConfig};
use sip::{Hdr, Message, Method, Response};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

fn request(method: &str, src: SocketAddr, id: &str) -> String {
    let ip = src.ip();
    format!(
        "{method} sip:u@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {ip};rport;branch=z9hG4bK{id}\r\n\
         From: <sip:a@{ip}>;tag=f{id}\r\nTo: <sip:u@127.0.0.1>\r\n\
         Call-ID: {id}@{ip}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

async fn send(s: &UdpSocket, to: SocketAddr, m: String) {
    s.send_to(m.as_bytes(), to).await.unwrap();
}

/// Reads responses until one for `id` with `status` (retransmissions of others are skipped).
async fn expect(sock: &UdpSocket, id: &str, status: u16) -> Response {
    let mut buf = vec![0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let (n, _) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {status} for {id}"))
            .unwrap();
        if let Ok(Message::Response(r)) = Message::parse(&buf[..n]) {
            if r.status == status && r.headers.call_id().is_ok_and(|c| c.starts_with(id)) {
                return r;
            }
        }
    }
}

#[tokio::test]
async fn a_source_beyond_its_transaction_limit_gets_503_and_others_are_unaffected() {
    let cfg = TransportConfig {
        max_transactions_per_source: 2,
        retry_after_s: 9,
        ..TransportConfig::default()
    };
    let mut ep = Endpoint::bind("127.0.0.1:0".parse().unwrap(), cfg, TimerConfig::default())
        .await
        .unwrap();
    let addr = ep.transport.local_addr();
    let (tx, mut seen) = tokio::sync::mpsc::channel(16);
    // The UA core: never answers an INVITE; a CANCEL gets 200 and its INVITE 487 (§9.2).
    let task = tokio::spawn(async move {
        while let Some(ev) = ep.next_event().await {
            let Event::Request {
                key: Some(key),
                request,
                ..
            } = ev
            else {
                continue;
            };
            let _ = tx
                .send(request.headers.call_id().unwrap().to_string())
                .await;
            if request.method == Method::Cancel {
                let target = ep
                    .layer()
                    .cancel_target(&request)
                    .map(|(k, r)| (k, r.clone()));
                let ok = Response::for_request(&request, 200, Some("t"));
                ep.send_response(&key, ok).await.unwrap();
                if let Some((ikey, invite)) = target {
                    let r = Response::for_request(&invite, 487, Some("t"));
                    ep.send_response(&ikey, r).await.unwrap();
                }
            }
        }
    });
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let (sa, sb) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let delivered = |seen: &mut tokio::sync::mpsc::Receiver<String>| {
        std::iter::from_fn(|| seen.try_recv().ok()).collect::<Vec<_>>()
    };

    // At the limit: two INVITEs from A are accepted.
    for id in ["a1", "a2"] {
        send(&a, addr, request("INVITE", sa, id)).await;
        expect(&a, id, 100).await;
    }
    // One more, INVITE or not, gets 503 with Retry-After and the limit named.
    for (m, id) in [("INVITE", "a3"), ("OPTIONS", "a4")] {
        send(&a, addr, request(m, sa, id)).await;
        let r = expect(&a, id, 503).await;
        assert_eq!(r.headers.get(Hdr::RetryAfter), Some("9"));
        let w = r.headers.warning().unwrap();
        assert_eq!(w[0].code, 399);
        assert_eq!(
            w[0].text,
            "more than 2 transactions in progress from this source"
        );
    }
    // A retransmission of an accepted INVITE is absorbed by its transaction (100 again).
    send(&a, addr, request("INVITE", sa, "a1")).await;
    expect(&a, "a1", 100).await;
    // Another source is unaffected.
    send(&b, addr, request("INVITE", sb, "b1")).await;
    expect(&b, "b1", 100).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut got = delivered(&mut seen);
    got.sort();
    assert_eq!(got, ["a1@127.0.0.1", "a2@127.0.0.1", "b1@127.0.0.2"]);
    // A CANCEL of a live INVITE passes at the limit: 200, and 487 for the INVITE.
    send(&a, addr, request("CANCEL", sa, "a1")).await;
    expect(&a, "a1", 200).await;
    expect(&a, "a1", 487).await;
    // Answered, the INVITE and the CANCEL no longer count (their transactions only absorb
    // retransmissions now): A has one in progress and is served again, up to the limit.
    send(&a, addr, request("INVITE", sa, "a5")).await;
    expect(&a, "a5", 100).await;
    send(&a, addr, request("INVITE", sa, "a6")).await;
    expect(&a, "a6", 503).await;
    task.abort();
}
