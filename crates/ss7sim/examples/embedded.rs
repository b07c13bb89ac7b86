//! Embedding the simulator the way `mgc run` does: spawn it on the caller's runtime with answer
//! rules, let an M3UA ASP (here the `m3ua` library, standing in for the gateway) connect, place
//! a call each way, print what happened.
//!
//! ```sh
//! cargo run -p ss7sim --example embedded
//! ```

use std::time::Duration;

use bytes::Bytes;
use isup::{CauseIndicators, Message, MessageType};
use m3ua::ProtocolData;
use m3ua::asp::{AspConfig, AspEvent, AspState};
use m3ua::transport::{AspTransportConfig, spawn_asp};
use ss7sim::{AnswerRule, CallRequest, Config, SimEvent, SimOptions, Simulator, msg};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // pc 2, gateway pc 1, CICs 1-31; answer rules by called-number prefix.
    let mut cfg = Config {
        answer: vec![
            AnswerRule::answer("4930", Duration::from_millis(50), None),
            AnswerRule::reject("4966", 17),
            AnswerRule::reject("4900", 1),
            AnswerRule::no_answer("4977"),
        ],
        ..Config::default()
    };
    cfg.originate.hold = Some(Duration::from_millis(100));
    let (sim, task) =
        Simulator::spawn(SimOptions::sgp(cfg.clone(), "127.0.0.1:0".parse()?)).await?;
    let mut events = sim.subscribe();

    // The gateway side: an ASP with point code 1.
    let (asp, mut asp_ev, _asp_task) = spawn_asp(
        AspConfig::default(),
        AspTransportConfig::tcp(sim.local_addr().expect("SGP role")),
    );
    while !matches!(
        asp_ev.recv().await,
        Some(AspEvent::StateChanged {
            to: AspState::Active,
            ..
        })
    ) {}
    sim.wait_active(Duration::from_secs(5)).await;
    let send = |cic: u16, m: Message| {
        let mut ud = Vec::new();
        m.emit_with_cic(cic, &mut ud).expect("encodes");
        ProtocolData {
            opc: 1,
            dpc: 2,
            si: 5,
            ni: 2,
            mp: 0,
            sls: (cic & 15) as u8,
            user_data: Bytes::from(ud),
        }
    };

    // Gateway → simulator: a busy number.
    asp.transfer(send(3, msg::iam(&cfg.originate, "4966123")))
        .await?;
    // Simulator → gateway: a call the gateway answers at once.
    let (call, cic) = sim
        .originate(CallRequest::new(cfg.originate.clone()))
        .await?;
    println!("originated call {call} on CIC {cic}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut ended = 0;
    loop {
        let idle = sim.counts().await?.circuits.idle == 31;
        if ended == 2 && idle {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            Some(AspEvent::Transfer(d)) = asp_ev.recv() => {
                let (cic, m) = Message::parse_with_cic(&d.protocol_data.user_data)?;
                match m.message_type {
                    MessageType::IAM => {
                        asp.transfer(send(cic, msg::acm(1))).await?;
                        asp.transfer(send(cic, msg::anm())).await?;
                    }
                    MessageType::REL => {
                        let cause = m.get::<CauseIndicators>().map(|c| c.cause_value);
                        println!("gateway got REL on CIC {cic}, cause {cause:?}");
                        asp.transfer(send(cic, msg::bare(MessageType::RLC))).await?;
                    }
                    _ => {}
                }
            }
            Ok(ev) = events.recv() => {
                if let SimEvent::Exchange { event: ss7sim::Event::CallEnded { call, direction, outcome, .. }, .. } = ev {
                    println!("call {call} ({direction:?}) ended: {outcome:?}");
                    ended += 1;
                }
            }
        }
    }
    let (stats, circuits) = sim.stats().await?;
    println!(
        "outgoing {:?}\nincoming {:?}\ncircuits {circuits:?}",
        stats.outgoing.counts(),
        stats.incoming.counts()
    );
    sim.shutdown().await;
    task.await?;
    Ok(())
}
