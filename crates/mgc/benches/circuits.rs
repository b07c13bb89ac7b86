//! Circuit manager hot paths: one call's seize + release on a full E1 and on a large trunk group,
//! and the GRS acknowledgement of a 32-circuit range.

use criterion::{Criterion, criterion_group, criterion_main};
use isup::{Message, MessageType, RangeAndStatus};
use mgc::circuits::{
    CircuitManager, CircuitsConfig, Direction, SelectionPolicy, TimerConfig, TrunkGroupConfig,
};
use std::hint::black_box;

fn manager(cics: &str, selection: SelectionPolicy) -> CircuitManager {
    let cfg = CircuitsConfig {
        own_point_code: 100,
        send_ucic: true,
        timers: TimerConfig::default(),
        trunk_groups: vec![TrunkGroupConfig {
            name: "a".into(),
            dpc: 200,
            cics: cics.parse().unwrap(),
            direction: Direction::Bothway,
            selection,
        }],
    };
    let mut m = CircuitManager::new(&cfg).unwrap();
    m.transport_up();
    // Acknowledge the start-up GRS so every circuit is idle.
    let sent: Vec<_> = m
        .drain_actions()
        .into_iter()
        .filter_map(|a| match a {
            mgc::circuits::Action::Send { circuit, message } => Some((circuit, message)),
            _ => None,
        })
        .collect();
    for (circuit, grs) in sent {
        let rs = grs.get::<RangeAndStatus>().unwrap();
        let gra = Message::new(MessageType::GRA).with(RangeAndStatus::with_status(&vec![
                false;
                rs.circuits()
                    as usize
            ]));
        m.on_message(circuit.dpc, circuit.cic, &gra);
    }
    m.drain_actions();
    assert!(m.all_idle());
    m
}

fn bench(c: &mut Criterion) {
    for (name, cics) in [
        ("E1 30 circuits", "1-15,17-31"),
        ("1000 circuits", "1-1000"),
    ] {
        for policy in [
            SelectionPolicy::Sequential,
            SelectionPolicy::ControlledFirst,
        ] {
            let mut m = manager(cics, policy);
            let g = m.group("a").unwrap();
            // Half the circuits busy, as under load.
            let n = m.len() / 2;
            for _ in 0..n {
                m.seize_outgoing(g).unwrap();
            }
            m.drain_actions();
            c.bench_function(&format!("seize+release {name} {policy:?}"), |b| {
                b.iter(|| {
                    let id = m.seize_outgoing(black_box(g)).unwrap();
                    m.call_released(id);
                    while m.poll_action().is_some() {}
                })
            });
        }
    }
    let mut m = manager("1-32", SelectionPolicy::Sequential);
    let grs = Message::new(MessageType::GRS).with(RangeAndStatus {
        range: 31,
        status: Default::default(),
    });
    c.bench_function("GRS received (32 circuits) -> GRA", |b| {
        b.iter(|| {
            m.on_message(200, 1, black_box(&grs));
            while m.poll_action().is_some() {}
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
