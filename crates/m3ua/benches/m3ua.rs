//! M3UA DATA encode/decode, and DATA messages per second through the TCP drivers (ASP -> SGP)
//! on loopback.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use m3ua::asp::{AspConfig, AspEvent, AspState};
use m3ua::sgp::{SgpConfig, SgpEvent};
use m3ua::transport::{AspTransportConfig, Transport, spawn_asp, spawn_sgp};
use m3ua::wire::{Data, Message, ProtocolData};

/// CIC 1 + IAM (29 octets).
const IAM: &[u8] = &[
    0x01, 0x00, 0x01, 0x00, 0x20, 0x01, 0x0a, 0x00, 0x02, 0x09, 0x07, 0x04, 0x90, 0x94, 0x15, 0x32,
    0x54, 0x76, 0x0a, 0x08, 0x84, 0x13, 0x47, 0x59, 0x11, 0x21, 0x32, 0x03, 0x00,
];

fn pd(sls: u8) -> ProtocolData {
    ProtocolData {
        opc: 257,
        dpc: 514,
        si: 5,
        ni: 2,
        mp: 0,
        sls,
        user_data: Bytes::from_static(IAM),
    }
}

fn codec(c: &mut Criterion) {
    let msg = Message::Data(Data {
        network_appearance: None,
        routing_context: Some(1),
        protocol_data: pd(1),
        correlation_id: None,
    });
    let wire = msg.to_vec();
    let shared = Bytes::from(wire.clone());
    let mut g = c.benchmark_group("data");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(256);
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            std::hint::black_box(&msg).emit(&mut buf);
            std::hint::black_box(&buf);
        })
    });
    g.bench_function("decode_copy", |b| {
        b.iter(|| Message::parse(std::hint::black_box(&wire)).unwrap())
    });
    g.bench_function("decode_shared", |b| {
        b.iter(|| Message::parse_bytes(std::hint::black_box(&shared)).unwrap())
    });
    g.finish();
}

fn tcp_loopback(c: &mut Criterion) {
    const BATCH: u64 = 10_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (asp, mut sgp_ev) = rt.block_on(async {
        let (sgp, sgp_ev, _t) = spawn_sgp(
            SgpConfig::default(),
            Transport::Tcp,
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let cfg = AspConfig {
            routing_contexts: vec![1],
            ..AspConfig::default()
        };
        let (asp, mut ev, _t) = spawn_asp(cfg, AspTransportConfig::tcp(sgp.local_addr()));
        tokio::time::timeout(Duration::from_secs(10), async {
            while !matches!(
                ev.recv().await,
                Some(AspEvent::StateChanged {
                    to: AspState::Active,
                    ..
                })
            ) {}
        })
        .await
        .expect("ASP active");
        // Keep draining ASP events in the background.
        tokio::spawn(async move { while ev.recv().await.is_some() {} });
        std::mem::forget(sgp);
        (asp, sgp_ev)
    });
    let mut g = c.benchmark_group("tcp_loopback");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("asp_to_sgp_data_10k", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let a = asp.clone();
                    let send = tokio::spawn(async move {
                        for i in 0..BATCH {
                            a.transfer(pd((i % 16) as u8)).await.unwrap();
                        }
                    });
                    let mut n = 0;
                    while n < BATCH {
                        if let Some(SgpEvent::Transfer { .. }) = sgp_ev.recv().await {
                            n += 1;
                        }
                    }
                    send.await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, codec, tcp_loopback);
criterion_main!(benches);
