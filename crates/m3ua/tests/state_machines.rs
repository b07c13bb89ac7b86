//! ASP and SGP state machines wired together in memory (sans-IO): every message goes through
//! the codec, timers are fired by hand.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use m3ua::asp::{self, Asp, AspConfig, AspEvent, AspState, TransferError};
use m3ua::dest::Reachability;
use m3ua::sgp::{self, AsConfig, AsState, Sgp, SgpConfig, SgpEvent, SgpTransferError};
use m3ua::wire::{AffectedPointCode, ErrorCode, Message, ProtocolData, Status, TrafficModeType};

struct Peer {
    asp: Asp,
    connected: bool,
    timers: HashMap<asp::Timer, Duration>,
    events: Vec<AspEvent>,
    /// Messages the ASP received (decoded again for inspection).
    received: Vec<Message>,
}

struct Net {
    peers: Vec<Peer>,
    sgp: Sgp,
    sgp_timers: HashMap<sgp::Timer, Duration>,
    sgp_events: Vec<SgpEvent>,
    sgp_reachable: bool,
    /// Black-hole everything from the SGP (peer hung, not closed).
    sgp_mute: bool,
}

fn pd(dpc: u32, sls: u8, payload: &'static [u8]) -> ProtocolData {
    ProtocolData {
        opc: 1,
        dpc,
        si: 5,
        ni: 2,
        mp: 0,
        sls,
        user_data: Bytes::from_static(payload),
    }
}

fn asp_cfg(id: u32, tmt: TrafficModeType) -> AspConfig {
    AspConfig {
        asp_identifier: Some(id),
        routing_contexts: vec![1],
        traffic_mode_type: tmt,
        beat_interval: Some(Duration::from_secs(1)),
        ..AspConfig::default()
    }
}

impl Net {
    fn new(n: usize, tmt: TrafficModeType) -> Net {
        let mut as_cfg = AsConfig::new(1, tmt);
        as_cfg.pending_queue_limit = 4;
        Net {
            peers: (0..n)
                .map(|i| Peer {
                    asp: Asp::new(asp_cfg(100 + i as u32, tmt)),
                    connected: false,
                    timers: HashMap::new(),
                    events: Vec::new(),
                    received: Vec::new(),
                })
                .collect(),
            sgp: Sgp::new(SgpConfig {
                application_servers: vec![as_cfg],
                ..SgpConfig::default()
            }),
            sgp_timers: HashMap::new(),
            sgp_events: Vec::new(),
            sgp_reachable: true,
            sgp_mute: false,
        }
    }

    fn run(&mut self) {
        loop {
            let mut progress = false;
            for i in 0..self.peers.len() {
                while let Some(a) = self.peers[i].asp.poll_action() {
                    progress = true;
                    match a {
                        asp::Action::Connect => {
                            if self.sgp_reachable {
                                self.peers[i].connected = true;
                                self.sgp.association_up(i as u64);
                                self.peers[i].asp.transport_up();
                            } else {
                                self.peers[i].asp.transport_down();
                            }
                        }
                        asp::Action::Disconnect => {
                            self.peers[i].connected = false;
                            self.sgp.association_down(i as u64);
                        }
                        asp::Action::Send { stream, message } => {
                            assert!(self.peers[i].connected, "send while not connected");
                            if message.class() == m3ua::wire::MessageClass::TRANSFER {
                                assert_ne!(stream, 0, "DATA on stream 0");
                            } else {
                                assert_eq!(stream, 0);
                            }
                            self.sgp.handle_bytes(i as u64, stream, &message.to_vec());
                        }
                        asp::Action::StartTimer { timer, after } => {
                            self.peers[i].timers.insert(timer, after);
                        }
                        asp::Action::StopTimer(t) => {
                            self.peers[i].timers.remove(&t);
                        }
                        asp::Action::Event(e) => self.peers[i].events.push(e),
                    }
                }
            }
            while let Some(a) = self.sgp.poll_action() {
                progress = true;
                match a {
                    sgp::Action::Send {
                        assoc,
                        stream,
                        message,
                    } => {
                        let p = &mut self.peers[assoc as usize];
                        if !self.sgp_mute && p.connected {
                            let bytes = message.to_vec();
                            p.received.push(Message::parse(&bytes).unwrap());
                            p.asp.handle_bytes(stream, &bytes);
                        }
                    }
                    sgp::Action::Disconnect(assoc) => {
                        let p = &mut self.peers[assoc as usize];
                        if p.connected {
                            p.connected = false;
                            p.asp.transport_down();
                        }
                    }
                    sgp::Action::StartTimer { timer, after } => {
                        self.sgp_timers.insert(timer, after);
                    }
                    sgp::Action::StopTimer(t) => {
                        self.sgp_timers.remove(&t);
                    }
                    sgp::Action::Event(e) => self.sgp_events.push(e),
                }
            }
            if !progress {
                return;
            }
        }
    }

    /// Fires an ASP timer that must be running.
    fn fire(&mut self, i: usize, t: asp::Timer) -> Duration {
        let d = self.peers[i]
            .timers
            .remove(&t)
            .unwrap_or_else(|| panic!("timer {t:?} not running"));
        self.peers[i].asp.handle_timeout(t);
        self.run();
        d
    }

    fn up(&mut self) {
        for p in &mut self.peers {
            p.asp.start();
        }
        self.run();
    }

    fn asp_transfers(&self, i: usize) -> Vec<ProtocolData> {
        self.peers[i]
            .events
            .iter()
            .filter_map(|e| match e {
                AspEvent::Transfer(d) => Some(d.protocol_data.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn bring_up_to_active_and_data_both_ways() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.up();
    assert_eq!(n.peers[0].asp.state(), AspState::Active);
    assert_eq!(n.sgp.as_state(1), Some(AsState::Active));
    assert_eq!(n.sgp.asp_identifier(0), Some(100));
    assert_eq!(n.peers[0].asp.as_status(), Some(Status::AS_ACTIVE));
    let abbrs: Vec<_> = n.peers[0].received.iter().map(|m| m.abbr()).collect();
    assert_eq!(abbrs, ["ASPUP_ACK", "NTFY", "ASPAC_ACK", "NTFY"]);
    assert!(!n.peers[0].timers.contains_key(&asp::Timer::Ack));
    assert!(n.peers[0].timers.contains_key(&asp::Timer::Beat));

    n.peers[0]
        .asp
        .transfer(pd(514, 3, b"\x01\x00\x01"))
        .unwrap();
    n.run();
    let got: Vec<_> = n
        .sgp_events
        .iter()
        .filter_map(|e| match e {
            SgpEvent::Transfer { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].routing_context, Some(1));
    assert_eq!(&got[0].protocol_data.user_data[..], b"\x01\x00\x01");

    n.sgp.transfer(None, pd(1, 9, b"\x02\x00\x06")).unwrap();
    n.run();
    assert_eq!(n.asp_transfers(0), [pd(1, 9, b"\x02\x00\x06")]);
}

#[test]
fn heartbeat_answered_and_loss_detected() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.up();
    // Answered BEATs keep the association.
    for _ in 0..5 {
        n.fire(0, asp::Timer::Beat);
    }
    assert_eq!(n.peers[0].asp.state(), AspState::Active);
    // The SGP hangs: BEATs go unanswered; after the threshold the ASP restarts the association.
    n.sgp_mute = true;
    for _ in 0..3 {
        n.fire(0, asp::Timer::Beat);
        assert_eq!(n.peers[0].asp.state(), AspState::Active);
    }
    n.fire(0, asp::Timer::Beat);
    assert!(n.peers[0].events.contains(&AspEvent::HeartbeatLost));
    assert_eq!(n.peers[0].asp.state(), AspState::Down);
    assert_eq!(n.sgp.as_state(1), Some(AsState::Pending));
    assert!(n.peers[0].timers.contains_key(&asp::Timer::Reconnect));
    // Peer answers again: reconnect brings everything back.
    n.sgp_mute = false;
    n.fire(0, asp::Timer::Reconnect);
    assert_eq!(n.peers[0].asp.state(), AspState::Active);
    assert_eq!(n.sgp.as_state(1), Some(AsState::Active));
}

#[test]
fn aspup_retransmitted_then_reconnect_with_backoff() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.sgp_mute = true;
    n.up();
    let sent_aspup = |n: &Net| {
        n.sgp_events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    SgpEvent::AspStateChanged {
                        to: AspState::Inactive,
                        ..
                    }
                )
            })
            .count()
    };
    // Each T(ack) expiry resends ASPUP (the SGP sees it again: ASP stays Inactive there).
    for _ in 0..4 {
        assert_eq!(n.fire(0, asp::Timer::Ack), Duration::from_secs(2));
    }
    assert_eq!(sent_aspup(&n), 1);
    n.fire(0, asp::Timer::Ack);
    assert!(n.peers[0].events.contains(&AspEvent::AckTimeout("ASPUP")));
    assert!(!n.peers[0].connected);
    // Backoff doubles: 0.5 s, 1 s, 2 s ... while the SGP is unreachable.
    n.sgp_reachable = false;
    let d1 = n.fire(0, asp::Timer::Reconnect);
    let d2 = n.fire(0, asp::Timer::Reconnect);
    let d3 = n.fire(0, asp::Timer::Reconnect);
    assert_eq!(
        (d1, d2, d3),
        (
            Duration::from_millis(500),
            Duration::from_secs(1),
            Duration::from_secs(2)
        )
    );
    // The SGP comes back (restarted): bring-up succeeds and the backoff resets.
    n.sgp_reachable = true;
    n.sgp_mute = false;
    n.fire(0, asp::Timer::Reconnect);
    assert_eq!(n.peers[0].asp.state(), AspState::Active);
    n.peers[0].asp.transport_down();
    n.run();
    assert_eq!(
        n.peers[0].timers[&asp::Timer::Reconnect],
        Duration::from_millis(500)
    );
}

#[test]
fn duna_makes_transfer_fail_fast_and_dava_resumes() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.up();
    n.sgp
        .set_reachability(vec![AffectedPointCode::new(514)], Reachability::Unavailable);
    n.run();
    assert_eq!(
        n.peers[0].asp.transfer(pd(514, 0, b"x")),
        Err(TransferError::DestinationUnavailable { dpc: 514 })
    );
    assert!(n.peers[0].asp.transfer(pd(515, 0, b"x")).is_ok());
    assert!(n.peers[0].events.iter().any(|e| matches!(
        e,
        AspEvent::Reachability {
            reachability: Reachability::Unavailable,
            ..
        }
    )));
    n.sgp
        .set_reachability(vec![AffectedPointCode::new(514)], Reachability::Available);
    n.run();
    assert!(n.peers[0].asp.transfer(pd(514, 0, b"x")).is_ok());
    // DAUD is answered from the SGP's table.
    n.sgp
        .set_reachability(vec![AffectedPointCode::new(600)], Reachability::Restricted);
    n.run();
    n.peers[0].asp.audit(vec![AffectedPointCode::new(600)]);
    n.run();
    assert!(matches!(
        n.peers[0].received.last(),
        Some(Message::DestinationRestricted(_))
    ));
    assert_eq!(
        n.peers[0].asp.destination_status(600).reachability,
        Reachability::Restricted
    );
    // Not active: fail fast too.
    n.peers[0].asp.deactivate();
    n.run();
    assert_eq!(
        n.peers[0].asp.transfer(pd(514, 0, b"x")),
        Err(TransferError::NotActive(AspState::Inactive))
    );
}

#[test]
fn unexpected_messages_get_err() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.up();
    // An SGP-only message sent to the SGP.
    n.sgp
        .handle_bytes(0, 0, &Message::AspUpAck(Default::default()).to_vec());
    // DATA on stream 0.
    let data = m3ua::wire::Data {
        network_appearance: None,
        routing_context: Some(1),
        protocol_data: pd(1, 0, b"x"),
        correlation_id: None,
    };
    n.sgp
        .handle_bytes(0, 0, &Message::Data(data.clone()).to_vec());
    // DATA with an unknown routing context, to the ASP.
    n.peers[0].asp.handle_message(
        1,
        Message::Data(m3ua::wire::Data {
            routing_context: Some(9),
            ..data
        }),
    );
    // Garbage.
    n.peers[0].asp.handle_bytes(0, &[1, 0, 3, 1, 0, 0, 0, 0]);
    n.run();
    let errs: Vec<ErrorCode> = n.peers[0]
        .received
        .iter()
        .filter_map(|m| match m {
            Message::Error(e) => Some(e.error_code),
            _ => None,
        })
        .collect();
    assert_eq!(
        errs,
        [
            ErrorCode::UNEXPECTED_MESSAGE,
            ErrorCode::INVALID_STREAM_IDENTIFIER
        ]
    );
    let peer_errs: Vec<ErrorCode> = n
        .sgp_events
        .iter()
        .filter_map(|e| match e {
            SgpEvent::PeerError { error, .. } => Some(error.error_code),
            _ => None,
        })
        .collect();
    assert_eq!(
        peer_errs,
        [
            ErrorCode::INVALID_ROUTING_CONTEXT,
            ErrorCode::PROTOCOL_ERROR
        ]
    );
    assert_eq!(n.peers[0].asp.state(), AspState::Active);
}

#[test]
fn override_takeover_notifies_alternate_asp_active() {
    let mut n = Net::new(2, TrafficModeType::OVERRIDE);
    n.peers[0].asp.start();
    n.run();
    assert_eq!(n.peers[0].asp.state(), AspState::Active);
    n.peers[1].asp.start();
    n.run();
    assert_eq!(n.peers[1].asp.state(), AspState::Active);
    assert_eq!(n.peers[0].asp.state(), AspState::Inactive);
    assert!(
        n.peers[0]
            .events
            .contains(&AspEvent::Notify(Status::ALTERNATE_ASP_ACTIVE))
    );
    n.sgp.transfer(Some(1), pd(1, 0, b"a")).unwrap();
    n.run();
    assert_eq!(n.asp_transfers(1).len(), 1);
    assert_eq!(n.asp_transfers(0).len(), 0);
}

#[test]
fn loadshare_spreads_by_sls() {
    let mut n = Net::new(2, TrafficModeType::LOADSHARE);
    n.up();
    assert_eq!(n.peers[0].asp.state(), AspState::Active);
    assert_eq!(n.peers[1].asp.state(), AspState::Active);
    for sls in 0..16 {
        n.sgp.transfer(Some(1), pd(1, sls, b"x")).unwrap();
    }
    n.run();
    assert_eq!((n.asp_transfers(0).len(), n.asp_transfers(1).len()), (8, 8));
}

#[test]
fn as_pending_queues_until_reactivation_or_recovery_timeout() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.up();
    n.peers[0].asp.deactivate();
    n.run();
    assert_eq!(n.sgp.as_state(1), Some(AsState::Pending));
    n.sgp.transfer(None, pd(1, 0, b"q1")).unwrap();
    n.sgp.transfer(None, pd(1, 1, b"q2")).unwrap();
    n.peers[0].asp.activate();
    n.run();
    assert_eq!(n.sgp.as_state(1), Some(AsState::Active));
    assert_eq!(n.asp_transfers(0), [pd(1, 0, b"q1"), pd(1, 1, b"q2")]);

    // Again, but T(r) expires: the queue is discarded and the AS goes inactive.
    n.peers[0].asp.deactivate();
    n.run();
    for i in 0..4 {
        n.sgp.transfer(None, pd(1, i, b"q")).unwrap();
    }
    assert_eq!(
        n.sgp.transfer(None, pd(1, 0, b"q")),
        Err(SgpTransferError::QueueFull(1))
    );
    let t = sgp::Timer::Recovery(1);
    assert!(n.sgp_timers.remove(&t).is_some());
    n.sgp.handle_timeout(t);
    n.run();
    assert_eq!(n.sgp.as_state(1), Some(AsState::Inactive));
    assert!(n.sgp_events.contains(&SgpEvent::QueueDiscarded {
        routing_context: 1,
        count: 4
    }));
    assert!(matches!(
        n.sgp.transfer(None, pd(1, 0, b"q")),
        Err(SgpTransferError::AsNotActive {
            state: AsState::Inactive,
            ..
        })
    ));
}

#[test]
fn sgp_refuses_unknown_routing_context_and_traffic_mode() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.up();
    n.sgp.handle_message(
        0,
        0,
        Message::AspActive(m3ua::wire::AspActive {
            traffic_mode_type: None,
            routing_context: vec![42],
            info_string: None,
        }),
    );
    n.sgp.handle_message(
        0,
        0,
        Message::AspActive(m3ua::wire::AspActive {
            traffic_mode_type: Some(TrafficModeType::LOADSHARE),
            routing_context: vec![1],
            info_string: None,
        }),
    );
    n.run();
    let errs: Vec<_> = n.peers[0]
        .received
        .iter()
        .filter_map(|m| match m {
            Message::Error(e) => Some((e.error_code, e.routing_context.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        errs,
        [
            (ErrorCode::INVALID_ROUTING_CONTEXT, vec![42]),
            (ErrorCode::UNSUPPORTED_TRAFFIC_MODE_TYPE, vec![1])
        ]
    );
}

#[test]
fn stop_sends_aspdn_and_does_not_reconnect() {
    let mut n = Net::new(1, TrafficModeType::OVERRIDE);
    n.up();
    n.peers[0].asp.stop();
    n.run();
    assert_eq!(n.peers[0].asp.state(), AspState::Down);
    assert!(!n.peers[0].connected);
    assert!(n.peers[0].timers.is_empty(), "{:?}", n.peers[0].timers);
    assert_eq!(n.sgp.as_state(1), Some(AsState::Pending));
    assert!(matches!(
        n.peers[0].received.last(),
        Some(Message::AspDownAck(_))
    ));
}

// ---- T(ack) retransmissions, one ASP driven alone (RFC 4666 §4.3.4.1, §4.3.4.3, §4.3.4.4) ----

fn drain(asp: &mut Asp) -> Vec<asp::Action> {
    std::iter::from_fn(|| asp.poll_action()).collect()
}

/// The management messages among `actions`, each with its stream.
fn sent(actions: &[asp::Action]) -> Vec<(u16, Message)> {
    actions
        .iter()
        .filter_map(|a| match a {
            asp::Action::Send { stream, message } => Some((*stream, message.clone())),
            _ => None,
        })
        .collect()
}

/// A lone ASP (id 7, RC 1, override), brought to `state` by hand-fed acknowledgements.
fn lone_asp(state: AspState) -> Asp {
    let mut a = Asp::new(asp_cfg(7, TrafficModeType::OVERRIDE));
    a.start();
    assert_eq!(drain(&mut a), [asp::Action::Connect]);
    a.transport_up();
    drain(&mut a);
    if state != AspState::Down {
        a.handle_message(0, Message::AspUpAck(Default::default()));
        drain(&mut a);
    }
    if state == AspState::Active {
        a.handle_message(0, Message::AspActiveAck(aspac()));
        drain(&mut a);
    }
    assert_eq!(a.state(), state);
    a
}

fn aspac() -> m3ua::wire::AspActive {
    m3ua::wire::AspActive {
        traffic_mode_type: Some(TrafficModeType::OVERRIDE),
        routing_context: vec![1],
        info_string: None,
    }
}

/// `first` are the actions that sent the message under test; every T(ack) expiry must send it
/// again, unchanged on stream 0, and restart T(ack) with the same 2 s (no backoff), for the
/// documented 4 retransmissions; the 5th expiry sends nothing, reports `AckTimeout(abbr)`,
/// closes the association and schedules the reconnect after `reconnect` (`reconnect_min`, 0.5 s,
/// doubling while no ASPUP_ACK arrives).
fn assert_retransmitted(
    a: &mut Asp,
    first: &[asp::Action],
    abbr: &'static str,
    reconnect: Duration,
) {
    let cfg = a.config().clone();
    assert_eq!(
        (cfg.ack_timeout, cfg.max_retransmissions),
        (Duration::from_secs(2), 4)
    );
    let original = sent(first);
    assert_eq!(original.len(), 1, "{abbr}: {first:?}");
    assert_eq!(original[0].1.abbr(), abbr);
    assert!(first.contains(&asp::Action::StartTimer {
        timer: asp::Timer::Ack,
        after: cfg.ack_timeout,
    }));
    let mut sends = 1;
    for n in 1..=cfg.max_retransmissions {
        a.handle_timeout(asp::Timer::Ack);
        let actions = drain(a);
        assert_eq!(
            actions,
            [
                asp::Action::Send {
                    stream: 0,
                    message: original[0].1.clone()
                },
                asp::Action::StartTimer {
                    timer: asp::Timer::Ack,
                    after: cfg.ack_timeout
                }
            ],
            "{abbr}: retransmission {n}"
        );
        sends += 1;
    }
    assert_eq!(sends, 1 + cfg.max_retransmissions);
    a.handle_timeout(asp::Timer::Ack);
    let last = drain(a);
    assert!(
        sent(&last).is_empty(),
        "{abbr}: sent after the limit: {last:?}"
    );
    assert!(last.contains(&asp::Action::Event(AspEvent::AckTimeout(abbr))));
    assert!(last.contains(&asp::Action::Disconnect), "{last:?}");
    assert!(last.contains(&asp::Action::StartTimer {
        timer: asp::Timer::Reconnect,
        after: reconnect,
    }));
    assert_eq!(a.state(), AspState::Down);
    // A T(ack) event that was already queued when the association closed does nothing.
    a.handle_timeout(asp::Timer::Ack);
    assert_eq!(drain(a), []);
}

#[test]
fn aspup_resent_on_each_tack_expiry_four_times_then_restart() {
    let mut a = Asp::new(asp_cfg(7, TrafficModeType::OVERRIDE));
    a.start();
    drain(&mut a);
    a.transport_up();
    let first = drain(&mut a);
    assert_eq!(
        sent(&first),
        [(
            0,
            Message::AspUp(m3ua::wire::AspUp {
                asp_identifier: Some(7),
                info_string: None
            })
        )]
    );
    assert_retransmitted(&mut a, &first, "ASPUP", Duration::from_millis(500));
    // The reconnect starts a fresh count: ASPUP, and again 4 retransmissions; the reconnect
    // backoff has doubled, as no ASPUP_ACK came.
    a.handle_timeout(asp::Timer::Reconnect);
    assert_eq!(drain(&mut a), [asp::Action::Connect]);
    a.transport_up();
    let first = drain(&mut a);
    assert_retransmitted(&mut a, &first, "ASPUP", Duration::from_secs(1));
}

#[test]
fn aspac_resent_on_each_tack_expiry_four_times_then_restart() {
    let mut a = lone_asp(AspState::Down);
    a.handle_message(0, Message::AspUpAck(Default::default()));
    let first = drain(&mut a);
    assert_eq!(sent(&first), [(0, Message::AspActive(aspac()))]);
    assert_retransmitted(&mut a, &first, "ASPAC", Duration::from_millis(500));
}

#[test]
fn aspac_ack_after_retransmissions_stops_tack() {
    let mut a = lone_asp(AspState::Inactive);
    for _ in 0..3 {
        a.handle_timeout(asp::Timer::Ack);
        assert_eq!(sent(&drain(&mut a)).len(), 1);
    }
    a.handle_message(0, Message::AspActiveAck(aspac()));
    let acts = drain(&mut a);
    assert!(
        acts.contains(&asp::Action::StopTimer(asp::Timer::Ack)),
        "{acts:?}"
    );
    assert_eq!(a.state(), AspState::Active);
    // A late ASPAC_ACK for one of the copies is ignored; a stale T(ack) sends nothing.
    a.handle_message(0, Message::AspActiveAck(aspac()));
    a.handle_timeout(asp::Timer::Ack);
    assert_eq!(drain(&mut a), []);
}

#[test]
fn aspia_resent_on_each_tack_expiry_four_times_then_restart() {
    let mut a = lone_asp(AspState::Active);
    a.deactivate();
    let first = drain(&mut a);
    assert_eq!(
        sent(&first),
        [(
            0,
            Message::AspInactive(m3ua::wire::AspInactive {
                routing_context: vec![1],
                info_string: None
            })
        )]
    );
    assert_retransmitted(&mut a, &first, "ASPIA", Duration::from_millis(500));
}

#[test]
fn aspia_ack_after_a_retransmission_stops_tack() {
    let mut a = lone_asp(AspState::Active);
    a.deactivate();
    drain(&mut a);
    a.handle_timeout(asp::Timer::Ack);
    assert_eq!(sent(&drain(&mut a)).len(), 1);
    a.handle_message(0, Message::AspInactiveAck(Default::default()));
    let acts = drain(&mut a);
    assert!(
        acts.contains(&asp::Action::StopTimer(asp::Timer::Ack)),
        "{acts:?}"
    );
    assert_eq!(a.state(), AspState::Inactive);
    a.handle_timeout(asp::Timer::Ack);
    assert_eq!(drain(&mut a), []);
}
