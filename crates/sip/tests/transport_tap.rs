//! The transport tap sees every message sent and received, UDP and TCP, with the real addresses
//! (what `mgc run --pcap` writes).

use sip::Message;
use sip::transport::{Peer, Proto, TapDirection, Transport, TransportConfig};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(TapDirection, Proto, SocketAddr, SocketAddr, Vec<u8>)>>>;

async fn tapped_transport() -> (
    Transport,
    tokio::sync::mpsc::Receiver<sip::transport::Incoming>,
    Seen,
) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let cfg = TransportConfig {
        tap: Some(Arc::new(move |t: &sip::transport::Tapped<'_>| {
            s.lock()
                .unwrap()
                .push((t.direction, t.proto, t.local, t.peer, t.bytes.to_vec()));
        })),
        ..TransportConfig::default()
    };
    let (t, rx) = Transport::bind("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    (t, rx, seen)
}

const OPTIONS: &str = "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKtap\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: tap-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

#[tokio::test]
async fn tap_sees_udp_and_tcp_both_ways() {
    let (a, mut arx, seen) = tapped_transport().await;
    let (b, mut brx, _) = tapped_transport().await;
    let msg = Message::parse(OPTIONS.as_bytes()).unwrap();
    for proto in [Proto::Udp, Proto::Tcp] {
        a.send(
            Peer {
                proto,
                addr: b.local_addr(),
            },
            &msg,
        )
        .await
        .unwrap();
        let inc = tokio::time::timeout(Duration::from_secs(5), brx.recv())
            .await
            .unwrap()
            .unwrap();
        // b answers over the same transport; a receives it.
        b.send(inc.peer, &msg).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), arx.recv())
            .await
            .unwrap()
            .unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let sent: Vec<_> = seen.iter().filter(|s| s.0 == TapDirection::Sent).collect();
    let received: Vec<_> = seen
        .iter()
        .filter(|s| s.0 == TapDirection::Received)
        .collect();
    assert_eq!(sent.len(), 2, "{seen:?}");
    assert_eq!(received.len(), 2, "{seen:?}");
    for (_, proto, local, peer, bytes) in sent {
        assert_eq!(*peer, b.local_addr());
        assert!(bytes.starts_with(b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n"));
        match proto {
            Proto::Udp => assert_eq!(*local, a.local_addr()),
            // An outgoing connection has its own ephemeral port.
            Proto::Tcp => assert_ne!(local.port(), a.local_addr().port()),
        }
    }
    for (_, _, local, _, bytes) in received {
        assert_eq!(local.ip(), a.local_addr().ip());
        assert!(Message::parse(bytes).is_ok());
    }
}

#[tokio::test]
async fn tap_sees_refused_malformed_input() {
    let (t, _rx, seen) = tapped_transport().await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let junk = b"INVITE sip:a@b SIP/2.0\r\nVia: broken\r\nCSeq: x\r\n\r\n";
    sock.send_to(junk, t.local_addr()).await.unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let refused: Vec<_> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.0 == TapDirection::Refused)
            .map(|s| (s.2, s.3, s.4.clone()))
            .collect();
        if let Some((local, peer, bytes)) = refused.first() {
            assert_eq!(*local, t.local_addr());
            assert_eq!(*peer, sock.local_addr().unwrap());
            assert_eq!(bytes.as_slice(), junk);
            break;
        }
        assert!(std::time::Instant::now() < end, "no Refused tap");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
