//! The ASP and SGP drivers over TCP loopback: bring-up, DATA both ways, heartbeat loss against a
//! hung peer, reconnect after the SGP restarts, and a 10,000-message load with zero loss.
//! All traffic on 127.0.0.1, every wait bounded.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use m3ua::asp::{AspConfig, AspEvent, AspState, TransferError};
use m3ua::dest::Reachability;
use m3ua::sgp::{AsState, SgpConfig, SgpEvent};
use m3ua::transport::{AspTransportConfig, Transport, framing::FrameDecoder, spawn_asp, spawn_sgp};
use m3ua::wire::{AffectedPointCode, AspActive, AspUp, Message, ProtocolData};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;

const LOOPBACK: &str = "127.0.0.1:0";
const LIMIT: Duration = Duration::from_secs(20);

fn pd(dpc: u32, sls: u8, user: Vec<u8>) -> ProtocolData {
    ProtocolData {
        opc: 257,
        dpc,
        si: 5,
        ni: 2,
        mp: 0,
        sls,
        user_data: Bytes::from(user),
    }
}

fn asp_cfg() -> AspConfig {
    AspConfig {
        asp_identifier: Some(1),
        routing_contexts: vec![1],
        ack_timeout: Duration::from_millis(300),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        beat_interval: Some(Duration::from_millis(100)),
        beat_loss_threshold: 3,
        ..AspConfig::default()
    }
}

/// Waits (bounded) for an event matching `f`.
async fn wait_asp(rx: &mut mpsc::Receiver<AspEvent>, f: impl Fn(&AspEvent) -> bool) -> AspEvent {
    timeout(LIMIT, async {
        loop {
            let e = rx.recv().await.expect("ASP driver ended");
            if f(&e) {
                return e;
            }
        }
    })
    .await
    .expect("timed out waiting for an ASP event")
}

async fn wait_sgp(rx: &mut mpsc::Receiver<SgpEvent>, f: impl Fn(&SgpEvent) -> bool) -> SgpEvent {
    timeout(LIMIT, async {
        loop {
            let e = rx.recv().await.expect("SGP driver ended");
            if f(&e) {
                return e;
            }
        }
    })
    .await
    .expect("timed out waiting for an SGP event")
}

fn active(e: &AspEvent) -> bool {
    matches!(
        e,
        AspEvent::StateChanged {
            to: AspState::Active,
            ..
        }
    )
}

#[tokio::test]
async fn bring_up_data_both_ways_and_duna() {
    let (sgp, mut sgp_ev, sgp_task) = spawn_sgp(
        SgpConfig::default(),
        Transport::Tcp,
        LOOPBACK.parse().unwrap(),
    )
    .await
    .unwrap();
    let (asp, mut asp_ev, asp_task) =
        spawn_asp(asp_cfg(), AspTransportConfig::tcp(sgp.local_addr()));
    wait_asp(&mut asp_ev, active).await;
    wait_sgp(&mut sgp_ev, |e| {
        matches!(
            e,
            SgpEvent::AsStateChanged {
                to: AsState::Active,
                ..
            }
        )
    })
    .await;
    assert_eq!(asp.state(), AspState::Active);

    asp.transfer(pd(514, 5, vec![1, 0, 1])).await.unwrap();
    let e = wait_sgp(&mut sgp_ev, |e| matches!(e, SgpEvent::Transfer { .. })).await;
    let SgpEvent::Transfer { data, .. } = e else {
        unreachable!()
    };
    assert_eq!(data.protocol_data, pd(514, 5, vec![1, 0, 1]));
    assert_eq!(data.routing_context, Some(1));

    sgp.transfer(None, pd(257, 2, vec![2, 0, 6])).await;
    let e = wait_asp(&mut asp_ev, |e| matches!(e, AspEvent::Transfer(_))).await;
    assert_eq!(
        e,
        AspEvent::Transfer(m3ua::wire::Data {
            network_appearance: None,
            routing_context: Some(1),
            protocol_data: pd(257, 2, vec![2, 0, 6]),
            correlation_id: None,
        })
    );

    // DUNA reaches the ASP; transfers to that DPC fail fast with the cause.
    sgp.set_reachability(vec![AffectedPointCode::new(514)], Reachability::Unavailable)
        .await;
    wait_asp(&mut asp_ev, |e| matches!(e, AspEvent::Reachability { .. })).await;
    assert_eq!(
        asp.transfer(pd(514, 0, vec![0])).await,
        Err(TransferError::DestinationUnavailable { dpc: 514 })
    );
    sgp.set_reachability(vec![AffectedPointCode::new(514)], Reachability::Available)
        .await;
    wait_asp(&mut asp_ev, |e| matches!(e, AspEvent::Reachability { .. })).await;
    asp.transfer(pd(514, 0, vec![0])).await.unwrap();

    asp.stop().await;
    timeout(LIMIT, asp_task).await.unwrap().unwrap();
    wait_sgp(&mut sgp_ev, |e| {
        matches!(
            e,
            SgpEvent::AspStateChanged {
                to: AspState::Down,
                ..
            }
        )
    })
    .await;
    sgp.shutdown().await;
    timeout(LIMIT, sgp_task).await.unwrap().unwrap();
}

/// A peer that answers ASPUP and ASPAC and then hangs: it keeps the TCP connection open but
/// never answers BEAT. The ASP must detect the loss and reconnect.
#[tokio::test]
async fn heartbeat_loss_against_hung_peer() {
    let listener = tokio::net::TcpListener::bind(LOOPBACK).await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let mut accepted = 0;
        let mut held = Vec::new();
        while accepted < 2 {
            let (mut s, _) = listener.accept().await.unwrap();
            accepted += 1;
            let mut buf = BytesMut::new();
            let dec = FrameDecoder::default();
            let mut answered = 0;
            while answered < 2 {
                let frame = loop {
                    if let Some(f) = dec.decode(&mut buf).unwrap() {
                        break f;
                    }
                    assert!(s.read_buf(&mut buf).await.unwrap() > 0);
                };
                let reply = match Message::parse(&frame).unwrap() {
                    Message::AspUp(_) => Message::AspUpAck(AspUp::default()),
                    Message::AspActive(a) => Message::AspActiveAck(AspActive {
                        info_string: None,
                        ..a
                    }),
                    other => panic!("unexpected {other:?}"),
                };
                s.write_all(&reply.to_vec()).await.unwrap();
                answered += 1;
            }
            held.push(s); // hang: never read or answer again
        }
        accepted
    });
    let (_asp, mut ev, task) = spawn_asp(asp_cfg(), AspTransportConfig::tcp(addr));
    wait_asp(&mut ev, active).await;
    wait_asp(&mut ev, |e| *e == AspEvent::HeartbeatLost).await;
    wait_asp(&mut ev, |e| {
        matches!(
            e,
            AspEvent::StateChanged {
                to: AspState::Down,
                ..
            }
        )
    })
    .await;
    // It reconnects and comes up again on a new connection.
    wait_asp(&mut ev, active).await;
    assert_eq!(timeout(LIMIT, peer).await.unwrap().unwrap(), 2);
    task.abort();
}

#[tokio::test]
async fn reconnect_after_sgp_restart() {
    let (sgp, sgp_ev, sgp_task) = spawn_sgp(
        SgpConfig::default(),
        Transport::Tcp,
        LOOPBACK.parse().unwrap(),
    )
    .await
    .unwrap();
    let addr = sgp.local_addr();
    let (asp, mut asp_ev, asp_task) = spawn_asp(asp_cfg(), AspTransportConfig::tcp(addr));
    wait_asp(&mut asp_ev, active).await;
    // Kill the SGP: every association and the listener close.
    sgp.shutdown().await;
    timeout(LIMIT, sgp_task).await.unwrap().unwrap();
    drop(sgp_ev);
    wait_asp(&mut asp_ev, |e| {
        matches!(
            e,
            AspEvent::StateChanged {
                to: AspState::Down,
                ..
            }
        )
    })
    .await;
    assert!(matches!(
        asp.transfer(pd(514, 0, vec![0])).await,
        Err(TransferError::NotActive(AspState::Down))
    ));
    // Let a few reconnect attempts fail, then restart the SGP on the same port.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (sgp, mut sgp_ev, sgp_task) = spawn_sgp(SgpConfig::default(), Transport::Tcp, addr)
        .await
        .unwrap();
    wait_asp(&mut asp_ev, active).await;
    asp.transfer(pd(514, 1, vec![7])).await.unwrap();
    wait_sgp(&mut sgp_ev, |e| matches!(e, SgpEvent::Transfer { .. })).await;
    asp_task.abort();
    sgp.shutdown().await;
    timeout(LIMIT, sgp_task).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_each_way_without_loss() {
    const N: u32 = 10_000;
    let (sgp, mut sgp_ev, sgp_task) = spawn_sgp(
        SgpConfig::default(),
        Transport::Tcp,
        LOOPBACK.parse().unwrap(),
    )
    .await
    .unwrap();
    let (asp, mut asp_ev, asp_task) =
        spawn_asp(asp_cfg(), AspTransportConfig::tcp(sgp.local_addr()));
    wait_asp(&mut asp_ev, active).await;
    wait_sgp(&mut sgp_ev, |e| {
        matches!(
            e,
            SgpEvent::AsStateChanged {
                to: AsState::Active,
                ..
            }
        )
    })
    .await;

    // ASP -> SGP.
    let sender = {
        let asp = asp.clone();
        tokio::spawn(async move {
            for i in 0..N {
                asp.transfer(pd(514, (i % 16) as u8, i.to_be_bytes().to_vec()))
                    .await
                    .unwrap();
            }
        })
    };
    let got = timeout(LIMIT, async {
        let mut next = 0u32;
        while next < N {
            match sgp_ev.recv().await.expect("SGP ended") {
                SgpEvent::Transfer { data, .. } => {
                    let v =
                        u32::from_be_bytes(data.protocol_data.user_data[..].try_into().unwrap());
                    assert_eq!(v, next, "out of order or lost");
                    next += 1;
                }
                SgpEvent::TransferRefused(e) => panic!("{e}"),
                _ => {}
            }
        }
        next
    })
    .await
    .expect("ASP->SGP load timed out");
    assert_eq!(got, N);
    sender.await.unwrap();

    // SGP -> ASP.
    let sender = {
        let sgp = sgp.clone();
        tokio::spawn(async move {
            for i in 0..N {
                sgp.transfer(Some(1), pd(257, (i % 16) as u8, i.to_be_bytes().to_vec()))
                    .await;
            }
        })
    };
    let got = timeout(LIMIT, async {
        let mut next = 0u32;
        while next < N {
            if let AspEvent::Transfer(d) = asp_ev.recv().await.expect("ASP ended") {
                let v = u32::from_be_bytes(d.protocol_data.user_data[..].try_into().unwrap());
                assert_eq!(v, next, "out of order or lost");
                next += 1;
            }
        }
        next
    })
    .await
    .expect("SGP->ASP load timed out");
    assert_eq!(got, N);
    sender.await.unwrap();
    asp_task.abort();
    sgp.shutdown().await;
    timeout(LIMIT, sgp_task).await.unwrap().unwrap();
}

#[tokio::test]
async fn taps_see_every_message_both_ways_with_addresses() {
    use m3ua::transport::{TapDirection, spawn_sgp_with_tap};
    use std::sync::{Arc, Mutex};
    type Log = Arc<Mutex<Vec<(TapDirection, SocketAddr, SocketAddr, u16, Vec<u8>)>>>;
    let tap_into = |log: Log| -> m3ua::transport::Tap {
        Arc::new(move |t: &m3ua::transport::Tapped<'_>| {
            log.lock()
                .unwrap()
                .push((t.direction, t.local, t.peer, t.stream, t.bytes.to_vec()));
        })
    };
    let sgp_log: Log = Default::default();
    let asp_log: Log = Default::default();
    let (sgp, mut sgp_ev, sgp_task) = spawn_sgp_with_tap(
        SgpConfig::default(),
        Transport::Tcp,
        LOOPBACK.parse().unwrap(),
        Some(tap_into(sgp_log.clone())),
    )
    .await
    .unwrap();
    let mut tc = AspTransportConfig::tcp(sgp.local_addr());
    tc.tap = Some(tap_into(asp_log.clone()));
    let (asp, mut asp_ev, asp_task) = spawn_asp(asp_cfg(), tc);
    wait_asp(&mut asp_ev, active).await;
    asp.transfer(pd(514, 3, vec![1, 0, 1])).await.unwrap();
    wait_sgp(&mut sgp_ev, |e| matches!(e, SgpEvent::Transfer { .. })).await;
    asp.stop().await;
    let _ = timeout(LIMIT, asp_task).await;
    sgp.shutdown().await;
    let _ = timeout(LIMIT, sgp_task).await;

    let asp_log = asp_log.lock().unwrap().clone();
    let sgp_log = sgp_log.lock().unwrap().clone();
    // Every message the ASP sent, the SGP received, byte for byte and in order (and back).
    let sent = |l: &[(TapDirection, SocketAddr, SocketAddr, u16, Vec<u8>)], d| -> Vec<Vec<u8>> {
        l.iter().filter(|e| e.0 == d).map(|e| e.4.clone()).collect()
    };
    let asp_sent = sent(&asp_log, TapDirection::Sent);
    let sgp_received = sent(&sgp_log, TapDirection::Received);
    assert!(asp_sent.len() >= 3, "ASPUP, ASPAC, DATA at least");
    // The ASPDN at the end may be cut off by the close; everything before it arrived.
    let n = sgp_received.len();
    assert!(n >= 3, "the SGP saw ASPUP, ASPAC and DATA");
    assert_eq!(sgp_received[..], asp_sent[..n]);
    assert_eq!(
        sent(&sgp_log, TapDirection::Sent)[..2],
        sent(&asp_log, TapDirection::Received)[..2]
    );
    assert!(matches!(
        Message::parse(&asp_sent[0]).unwrap(),
        Message::AspUp(_)
    ));
    // Addresses: the ASP's local is the SGP's peer; DATA is reported on stream 1.
    let (_, a_local, a_peer, _, _) = asp_log[0];
    let (_, s_local, s_peer, _, _) = sgp_log[0];
    assert_eq!((a_local, a_peer), (s_peer, s_local));
    assert_eq!(a_peer, sgp.local_addr());
    assert!(sgp_log.iter().any(|e| e.0 == TapDirection::Received
        && e.3 == 1
        && matches!(Message::parse(&e.4), Ok(Message::Data(_)))));
}

/// A peer that stops reading must not make the ASP buffer without bound: once
/// `MAX_QUEUED_MESSAGES` are queued behind a full socket the association is failed, and the ASP
/// comes up again on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_stops_reading_fails_the_association_instead_of_growing_memory() {
    let listener = tokio::net::TcpListener::bind(LOOPBACK).await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            let dec = FrameDecoder::default();
            for _ in 0..2 {
                let frame = loop {
                    if let Some(f) = dec.decode(&mut buf).unwrap() {
                        break f;
                    }
                    assert!(s.read_buf(&mut buf).await.unwrap() > 0);
                };
                let reply = match Message::parse(&frame).unwrap() {
                    Message::AspUp(_) => Message::AspUpAck(AspUp::default()),
                    Message::AspActive(a) => Message::AspActiveAck(AspActive {
                        info_string: None,
                        ..a
                    }),
                    other => panic!("unexpected {other:?}"),
                };
                s.write_all(&reply.to_vec()).await.unwrap();
            }
            held.push(s); // never read again
        }
    });
    let cfg = AspConfig {
        beat_interval: None,
        ..asp_cfg()
    };
    let (asp, mut ev, task) = spawn_asp(cfg, AspTransportConfig::tcp(addr));
    wait_asp(&mut ev, active).await;
    let sent = timeout(LIMIT, async {
        let mut n = 0usize;
        while asp.transfer(pd(2, 1, vec![0x5A; 1000])).await.is_ok() {
            n += 1;
        }
        n
    })
    .await
    .expect("the association failed within the time limit");
    assert!(
        sent >= m3ua::transport::MAX_QUEUED_MESSAGES,
        "failed after only {sent} messages"
    );
    wait_asp(&mut ev, active).await;
    timeout(LIMIT, peer).await.unwrap().unwrap();
    task.abort();
}
