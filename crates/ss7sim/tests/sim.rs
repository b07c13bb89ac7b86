//! The simulator over real M3UA/TCP on 127.0.0.1: against the `m3ua` ASP library (the role the
//! gateway plays), against a raw TCP peer that stops answering heartbeats, across a restart, one
//! simulator playing two exchanges with the same CIC numbers, and two simulators (SGP + test-only
//! ASP role) under a 10,000-message load.

use std::time::Duration;

use bytes::Bytes;
use isup::{CauseIndicators, Message, MessageType as MT, RangeAndStatus};
use m3ua::ProtocolData;
use m3ua::asp::{AspConfig, AspEvent, AspState};
use m3ua::transport::{AspHandle, AspTransportConfig, spawn_asp};
use ss7sim::exchange::CallRequest;
use ss7sim::{AnswerRule, CicRange, Config, Role, SimEvent, SimOptions, Simulator, msg};
use tokio::sync::mpsc;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn sim_config() -> Config {
    let mut c = Config {
        local_pc: 2,
        remote_pc: 1,
        cics: vec![CicRange::new(1, 31)],
        ..Config::default()
    };
    c.answer = vec![
        AnswerRule::answer("4930", Duration::from_millis(20), None),
        AnswerRule::reject("4966", 17),
    ];
    c.originate.hold = Some(Duration::from_millis(50));
    c
}

/// The gateway side: an M3UA ASP speaking ISUP as point code 1.
struct Gateway {
    asp: AspHandle,
    ev: mpsc::Receiver<AspEvent>,
}

impl Gateway {
    async fn connect(addr: std::net::SocketAddr) -> Gateway {
        let cfg = AspConfig {
            beat_interval: None,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(200),
            ..AspConfig::default()
        };
        let (asp, ev, _task) = spawn_asp(cfg, AspTransportConfig::tcp(addr));
        let mut g = Gateway { asp, ev };
        g.wait_active().await;
        g
    }

    async fn wait_active(&mut self) {
        timeout(LIMIT, async {
            loop {
                match self.ev.recv().await {
                    Some(AspEvent::StateChanged {
                        to: AspState::Active,
                        ..
                    }) => return,
                    Some(_) => {}
                    None => panic!("ASP ended"),
                }
            }
        })
        .await
        .expect("ASP active");
    }

    async fn send(&self, cic: u16, m: Message) {
        self.send_to(2, cic, m).await
    }

    /// ISUP to the exchange with point code `dpc`.
    async fn send_to(&self, dpc: u32, cic: u16, m: Message) {
        let mut ud = Vec::new();
        m.emit_with_cic(cic, &mut ud).unwrap();
        self.asp
            .transfer(ProtocolData {
                opc: 1,
                dpc,
                si: 5,
                ni: 2,
                mp: 0,
                sls: (cic & 15) as u8,
                user_data: Bytes::from(ud),
            })
            .await
            .unwrap();
    }

    async fn recv(&mut self) -> (u16, Message) {
        let (opc, cic, m) = self.recv_from().await;
        assert_eq!(opc, 2);
        (cic, m)
    }

    /// The next ISUP message and the point code of the exchange that sent it.
    async fn recv_from(&mut self) -> (u32, u16, Message) {
        timeout(LIMIT, async {
            loop {
                match self.ev.recv().await {
                    Some(AspEvent::Transfer(d)) => {
                        let pd = d.protocol_data;
                        assert_eq!((pd.dpc, pd.si, pd.ni), (1, 5, 2));
                        let (cic, m) = Message::parse_with_cic(&pd.user_data).unwrap();
                        return (pd.opc, cic, m);
                    }
                    Some(_) => {}
                    None => panic!("ASP ended"),
                }
            }
        })
        .await
        .expect("ISUP message from the simulator")
    }

    async fn expect(&mut self, cic: u16, t: MT) -> Message {
        let (c, m) = self.recv().await;
        assert_eq!((c, m.message_type), (cic, t));
        m
    }
}

async fn spawn_sgp(cfg: Config) -> (ss7sim::SimHandle, tokio::task::JoinHandle<()>) {
    Simulator::spawn(SimOptions::sgp(cfg, "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
}

#[tokio::test]
async fn gateway_asp_brings_up_resets_and_calls_both_ways() {
    let (sim, task) = spawn_sgp(sim_config()).await;
    let mut gw = Gateway::connect(sim.local_addr().unwrap()).await;
    assert!(sim.wait_active(LIMIT).await);

    // Gateway start-up: GRS for 1..=31 is answered with GRA (range 30, nothing blocked).
    gw.send(1, msg::range_only(MT::GRS, 30)).await;
    let gra = gw.expect(1, MT::GRA).await;
    let rs = gra.get::<RangeAndStatus>().unwrap();
    assert_eq!(rs.range, 30);
    assert!((0..31).all(|i| rs.status_bit(i) == Some(false)));

    // BLO/BLA, UBL/UBA, CQM/CQR.
    gw.send(9, msg::bare(MT::BLO)).await;
    gw.expect(9, MT::BLA).await;
    gw.send(9, msg::bare(MT::UBL)).await;
    gw.expect(9, MT::UBA).await;
    gw.send(9, msg::range_only(MT::CQM, 1)).await;
    gw.expect(9, MT::CQR).await;

    // A call from the gateway: ACM, ANM after 20 ms; the gateway releases.
    gw.send(3, msg::iam(&sim_config().originate, "4930555"))
        .await;
    gw.expect(3, MT::ACM).await;
    gw.expect(3, MT::ANM).await;
    gw.send(3, msg::rel(16, 0)).await;
    gw.expect(3, MT::RLC).await;

    // Busy prefix: REL 17; the gateway answers RLC.
    gw.send(5, msg::iam(&sim_config().originate, "4966000"))
        .await;
    let rel = gw.expect(5, MT::REL).await;
    assert_eq!(rel.get::<CauseIndicators>().unwrap().cause_value, 17);
    gw.send(5, msg::bare(MT::RLC)).await;

    // A call from the simulator: the gateway answers; the simulator releases after 50 ms.
    let (_, cic) = sim
        .originate(CallRequest::new(sim_config().originate))
        .await
        .unwrap();
    assert_eq!(cic % 2, 0, "pc 2 > pc 1 controls the even CICs");
    gw.expect(cic, MT::IAM).await;
    gw.send(cic, msg::acm(1)).await;
    gw.send(cic, msg::anm()).await;
    gw.expect(cic, MT::REL).await;
    gw.send(cic, msg::bare(MT::RLC)).await;

    // Statistics and final circuit state.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (stats, circuits) = sim.stats().await.unwrap();
    assert_eq!(stats.incoming.attempted, 2);
    assert_eq!(stats.incoming.completed, 1);
    assert_eq!(stats.incoming.failed_by_cause.get(&17), Some(&1));
    assert_eq!(stats.outgoing.completed, 1);
    assert_eq!(circuits.idle, 31);
    assert_eq!(stats.decode_errors, 0);
    sim.shutdown().await;
    task.await.unwrap();
}

#[tokio::test]
async fn one_simulator_plays_two_exchanges_with_the_same_cics() {
    // Point codes 2 and 3 behind one SGP, both with CICs 1..=31 (CICs are per signalling
    // relation, Q.763 §1.2).
    let mut cfg = sim_config();
    cfg.exchanges = [2, 3]
        .map(|local_pc| ss7sim::ExchangeConfig {
            local_pc,
            cics: Vec::new(),
        })
        .to_vec();
    let (sim, task) = spawn_sgp(cfg).await;
    assert_eq!(sim.point_codes(), &[2, 3]);
    let mut gw = Gateway::connect(sim.local_addr().unwrap()).await;
    assert!(sim.wait_active(LIMIT).await);

    // Maintenance per exchange: GRS to each point code is answered by that exchange.
    for pc in [2, 3] {
        gw.send_to(pc, 1, msg::range_only(MT::GRS, 30)).await;
        let (opc, cic, gra) = gw.recv_from().await;
        assert_eq!((opc, cic, gra.message_type), (pc, 1, MT::GRA));
    }
    // BLO on CIC 7 of exchange 3 blocks that circuit only.
    gw.send_to(3, 7, msg::bare(MT::BLO)).await;
    let (opc, cic, bla) = gw.recv_from().await;
    assert_eq!((opc, cic, bla.message_type), (3, 7, MT::BLA));
    let by = sim.circuits_by_exchange().await.unwrap();
    assert_eq!(
        by.iter()
            .map(|(pc, c)| (*pc, c.total, c.remotely_blocked))
            .collect::<Vec<_>>(),
        vec![(2, 31, 0), (3, 31, 1)]
    );
    gw.send_to(3, 7, msg::bare(MT::UBL)).await;
    assert_eq!(gw.recv_from().await.0, 3);

    // Two calls on the same CIC number, one per exchange, at once.
    let o = sim_config().originate;
    gw.send_to(2, 5, msg::iam(&o, "4930555")).await;
    gw.send_to(3, 5, msg::iam(&o, "4930555")).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (opc, cic, m) = gw.recv_from().await;
        assert_eq!(cic, 5);
        seen.push((opc, m.message_type));
    }
    seen.sort_by_key(|(pc, t)| (*pc, t.0));
    assert_eq!(
        seen,
        vec![(2, MT::ACM), (2, MT::ANM), (3, MT::ACM), (3, MT::ANM)]
    );
    let (_, circuits) = sim.stats().await.unwrap();
    assert_eq!((circuits.total, circuits.busy), (62, 2));
    // Releasing one leaves the other up.
    gw.send_to(3, 5, msg::rel(16, 0)).await;
    let (opc, cic, rlc) = gw.recv_from().await;
    assert_eq!((opc, cic, rlc.message_type), (3, 5, MT::RLC));
    let (_, circuits) = sim.stats().await.unwrap();
    assert_eq!(circuits.busy, 1);
    gw.send_to(2, 5, msg::rel(16, 0)).await;
    let (opc, cic, rlc) = gw.recv_from().await;
    assert_eq!((opc, cic, rlc.message_type), (2, 5, MT::RLC));

    // DATA for a point code the simulator does not play is misrouted, not answered.
    gw.send_to(9, 5, msg::iam(&o, "4930555")).await;

    // Calls the simulator originates go round the exchanges; each has its own call ids.
    let mut calls = Vec::new();
    for _ in 0..4 {
        calls.push(sim.originate(CallRequest::new(o.clone())).await.unwrap());
    }
    let mut ids: Vec<_> = calls.iter().map(|(id, _)| *id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4, "distinct call ids: {calls:?}");
    let mut from = Vec::new();
    for _ in 0..4 {
        let (opc, cic, m) = gw.recv_from().await;
        assert_eq!(m.message_type, MT::IAM);
        from.push((opc, cic));
        gw.send_to(opc, cic, msg::acm(1)).await;
        gw.send_to(opc, cic, msg::anm()).await;
    }
    from.sort();
    assert_eq!(
        from.iter().map(|(pc, _)| *pc).collect::<Vec<_>>(),
        vec![2, 2, 3, 3]
    );
    // The hold time (50 ms) ends each call from the exchange that placed it.
    for _ in 0..4 {
        let (opc, cic, m) = gw.recv_from().await;
        assert_eq!(m.message_type, MT::REL);
        assert!(from.contains(&(opc, cic)));
        gw.send_to(opc, cic, msg::bare(MT::RLC)).await;
    }

    // Maintenance addressed to one exchange: GRS from point code 3 only.
    sim.exchange(3).reset_group(1, 2).await.unwrap();
    let (opc, cic, grs) = gw.recv_from().await;
    assert_eq!((opc, cic, grs.message_type), (3, 1, MT::GRS));
    gw.send_to(3, 1, msg::gra(&[false; 3])).await;
    assert_eq!(
        sim.exchange(9).send(1, msg::bare(MT::RSC)).await,
        Err(ss7sim::SimError::UnknownPointCode(9))
    );

    tokio::time::sleep(Duration::from_millis(50)).await;
    let (stats, circuits) = sim.stats().await.unwrap();
    assert_eq!(stats.misrouted, 1);
    assert_eq!(stats.incoming.completed, 2);
    assert_eq!(stats.outgoing.completed, 4);
    assert_eq!((circuits.total, circuits.idle), (62, 62));
    sim.shutdown().await;
    task.await.unwrap();
}

#[tokio::test]
async fn scenario_steps_name_their_exchange() {
    use ss7sim::scenario::{self, Scenario};
    let mut cfg = sim_config();
    cfg.exchanges = [2, 3]
        .map(|local_pc| ss7sim::ExchangeConfig {
            local_pc,
            cics: Vec::new(),
        })
        .to_vec();
    let mut opts = SimOptions::sgp(cfg.clone(), "127.0.0.1:0".parse().unwrap());
    opts.auto_calls = false;
    let (sim, task) = Simulator::spawn(opts).await.unwrap();
    let mut gw = Gateway::connect(sim.local_addr().unwrap()).await;
    assert!(sim.wait_active(LIMIT).await);
    let sc = Scenario::from_toml(
        r#"
        pc = 3
        cic = 4
        [[step]]
        send = "IAM"
        [[step]]
        expect = "ACM"
        [[step]]
        expect = "IAM"
        pc = 2
        any_cic = true
        [[step]]
        send = "REL"
        "#,
    )
    .unwrap();
    let run = tokio::spawn({
        let sim = sim.clone();
        async move { scenario::run(&sim, &sc, &cfg).await }
    });
    let (opc, cic, iam) = gw.recv_from().await;
    assert_eq!((opc, cic, iam.message_type), (3, 4, MT::IAM));
    // An ACM on the same CIC to the other exchange is not the step's.
    gw.send_to(2, 4, msg::acm(1)).await;
    gw.send_to(3, 4, msg::acm(1)).await;
    gw.send_to(2, 9, msg::iam(&sim_config().originate, "4930"))
        .await;
    // After the `any_cic` match, the steps are on pc 2, CIC 9.
    let (opc, cic, rel) = gw.recv_from().await;
    assert_eq!((opc, cic, rel.message_type), (2, 9, MT::REL));
    let report = timeout(LIMIT, run).await.unwrap().unwrap();
    assert!(report.passed, "{report:?}");
    assert_eq!(report.steps[0].what, "send IAM pc 3 cic 4");
    assert_eq!(report.steps[3].what, "send REL pc 2 cic 9");
    sim.shutdown().await;
    task.await.unwrap();
}

#[tokio::test]
async fn heartbeat_loss_takes_the_peer_down() {
    use m3ua::wire::{AspActive, AspUp, Message as M3};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut opts = SimOptions::sgp(sim_config(), "127.0.0.1:0".parse().unwrap());
    opts.beat_interval = Some(Duration::from_millis(100));
    let (sim, task) = Simulator::spawn(opts).await.unwrap();
    // A raw ASP that comes up and then never answers BEAT.
    let mut s = tokio::net::TcpStream::connect(sim.local_addr().unwrap())
        .await
        .unwrap();
    s.write_all(&M3::AspUp(AspUp::default()).to_vec())
        .await
        .unwrap();
    s.write_all(&M3::AspActive(AspActive::default()).to_vec())
        .await
        .unwrap();
    assert!(sim.wait_active(LIMIT).await);
    let mut rx = sim.subscribe();
    // Read (and ignore) everything until the simulator closes the association.
    let closed = timeout(LIMIT, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the SGP closed the silent association");
    let down = timeout(LIMIT, async {
        loop {
            if let Ok(SimEvent::Peer(false)) = rx.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(down.is_ok());
    assert!(!sim.is_active());
    // Originating while the peer is down fails fast.
    assert_eq!(
        sim.originate(CallRequest::new(sim_config().originate))
            .await,
        Err(ss7sim::SimError::PeerNotActive)
    );
    sim.shutdown().await;
    task.await.unwrap();
}

#[tokio::test]
async fn gateway_reconnects_after_the_simulator_restarts() {
    let (sim, task) = spawn_sgp(sim_config()).await;
    let addr = sim.local_addr().unwrap();
    let mut gw = Gateway::connect(addr).await;
    gw.send(1, msg::range_only(MT::GRS, 3)).await;
    gw.expect(1, MT::GRA).await;
    sim.shutdown().await;
    task.await.unwrap();

    // Same port again; the ASP library reconnects with backoff and comes up.
    let mut opts = SimOptions::sgp(sim_config(), addr);
    opts.role = Role::Sgp { listen: addr };
    let (sim2, task2) = Simulator::spawn(opts).await.unwrap();
    gw.wait_active().await;
    assert!(sim2.wait_active(LIMIT).await);
    gw.send(1, msg::range_only(MT::GRS, 3)).await;
    gw.expect(1, MT::GRA).await;
    sim2.shutdown().await;
    task2.await.unwrap();
}

#[tokio::test]
async fn two_simulators_carry_10000_messages_without_loss() {
    // A: SGP, answers every call at once and waits for the caller's release.
    let mut a_cfg = sim_config();
    a_cfg.cics = vec![CicRange::new(1, 255)];
    a_cfg.answer = vec![AnswerRule::answer("", Duration::ZERO, None)];
    let (a, a_task) = spawn_sgp(a_cfg.clone()).await;
    // B: test-only ASP role, pc 1, originates 2000 calls (IAM, ACM, ANM, REL, RLC = 5 each).
    let mut b_cfg = a_cfg.clone();
    b_cfg.local_pc = 1;
    b_cfg.remote_pc = 2;
    b_cfg.originate.hold = Some(Duration::ZERO);
    let b_opts = SimOptions {
        role: Role::Asp {
            remote: a.local_addr().unwrap(),
        },
        ..SimOptions::sgp(b_cfg.clone(), "127.0.0.1:0".parse().unwrap())
    };
    let (b, b_task) = Simulator::spawn(b_opts).await.unwrap();
    assert!(b.wait_active(LIMIT).await && a.wait_active(LIMIT).await);

    const CALLS: u64 = 2000;
    let mut ended = b.subscribe();
    let started = tokio::time::Instant::now();
    let run = async {
        let mut done = 0u64;
        let mut sent = 0u64;
        while done < CALLS {
            // Keep up to 200 calls in flight.
            while sent < CALLS && sent - done < 200 {
                b.originate(CallRequest::new(b_cfg.originate.clone()))
                    .await
                    .expect("a free circuit");
                sent += 1;
            }
            if let SimEvent::Exchange {
                event: ss7sim::Event::CallEnded { outcome, .. },
                ..
            } = ended.recv().await.expect("events")
            {
                assert!(outcome.answered, "{outcome:?}");
                done += 1;
            }
        }
    };
    timeout(Duration::from_secs(60), run)
        .await
        .expect("load finished in time");
    // Let the last RLCs arrive.
    let settle = async {
        loop {
            let (sa, ca) = a.stats().await.unwrap();
            let (sb, cb) = b.stats().await.unwrap();
            if sa.messages_received == sb.messages_sent
                && sb.messages_received == sa.messages_sent
                && ca.idle == 255
                && cb.idle == 255
            {
                return (sa, sb);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (sa, sb) = timeout(LIMIT, settle).await.expect("no message lost");
    let total = sa.messages_sent + sb.messages_sent;
    assert_eq!(total, 5 * CALLS);
    assert_eq!(sb.outgoing.completed, CALLS);
    assert_eq!(sa.incoming.completed, CALLS);
    assert_eq!(sa.decode_errors + sb.decode_errors, 0);
    assert_eq!(sa.send_failures + sb.send_failures, 0);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{total} ISUP messages in {secs:.2} s ({:.0} msg/s, {:.0} calls/s), setup p50 {:.2} ms p99 {:.2} ms",
        total as f64 / secs,
        CALLS as f64 / secs,
        sb.outgoing.report().setup_latency.p50_ms,
        sb.outgoing.report().setup_latency.p99_ms,
    );
    b.shutdown().await;
    a.shutdown().await;
    b_task.await.unwrap();
    a_task.await.unwrap();
}
