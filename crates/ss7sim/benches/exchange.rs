//! The simulator's per-call cost without I/O: two exchanges wired back to back in memory run a
//! whole call (IAM, ACM, ANM, REL, RLC), every message encoded and decoded by the ISUP codec.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use isup::Message;
use ss7sim::exchange::{Action, CallRequest, Exchange};
use ss7sim::{AnswerRule, CicRange, Config};

fn pair() -> (Exchange, Exchange, ss7sim::Originate) {
    let mut a = Config {
        local_pc: 1,
        remote_pc: 2,
        cics: vec![CicRange::new(1, 31)],
        ..Config::default()
    };
    a.originate.hold = Some(Duration::ZERO);
    let mut b = a.clone();
    b.local_pc = 2;
    b.remote_pc = 1;
    b.answer = vec![AnswerRule::answer("", Duration::ZERO, None)];
    let o = a.originate.clone();
    (Exchange::new(a, true), Exchange::new(b, true), o)
}

/// Moves messages between the two until both are quiet; fires zero-length timers at once.
/// Returns the number of ISUP messages carried.
fn run(a: &mut Exchange, b: &mut Exchange, buf: &mut Vec<u8>) -> usize {
    let mut n = 0;
    loop {
        let moved = step(a, b, buf, &mut n) | step(b, a, buf, &mut n);
        if !moved {
            return n;
        }
    }
}

fn step(from: &mut Exchange, to: &mut Exchange, buf: &mut Vec<u8>, n: &mut usize) -> bool {
    let now = Duration::ZERO;
    let mut moved = false;
    let mut due = Vec::new();
    let mut out = Vec::new();
    while let Some(act) = from.poll_action() {
        match act {
            Action::Send { cic, message } => out.push((cic, message)),
            Action::StartTimer { timer, after } if after.is_zero() => due.push(timer),
            _ => {}
        }
    }
    for t in due {
        from.handle_timeout(now, t);
        moved = true;
    }
    for (cic, m) in out {
        buf.clear();
        m.emit_with_cic(cic, buf).unwrap();
        let (cic, m) = Message::parse_with_cic(buf).unwrap();
        to.handle_message(now, cic, &m);
        *n += 1;
        moved = true;
    }
    moved
}

fn bench(c: &mut Criterion) {
    let (mut a, mut b, o) = pair();
    let mut buf = Vec::with_capacity(256);
    // Sanity: one call is five messages and leaves every circuit idle.
    a.originate(Duration::ZERO, CallRequest::new(o.clone()))
        .unwrap();
    assert_eq!(run(&mut a, &mut b, &mut buf), 5);
    assert_eq!(a.circuit_counts().idle, 31);
    c.bench_function(
        "exchange: one call IAM..RLC through two exchanges and the codec",
        |bn| {
            bn.iter(|| {
                a.originate(Duration::ZERO, CallRequest::new(o.clone()))
                    .unwrap();
                run(&mut a, &mut b, &mut buf)
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
