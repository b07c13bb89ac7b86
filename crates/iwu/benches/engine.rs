//! Engine throughput: complete calls (every message of the ladder through the engine and the
//! codecs it uses), PSTN- and IP-originated.

use criterion::{Criterion, criterion_group, criterion_main};
use isup::MessageType;
use iwu::{Action, CircuitId, Engine, Event, IwuConfig, MemoryPool};
use sip::header::Hdr;
use sip::{Method, Request, Response, Uri};
use std::hint::black_box;
use std::time::Duration;

const CONFIG: &str = r#"
[local]
host = "192.0.2.10"
[[trunk_groups]]
name = "tg1"
dpc = 2
cics = [[1, 31]]
sip_peer = "sipi"
country_code = "49"
media = { address = "192.0.2.50", rtp_port_min = 40000, rtp_port_max = 40100 }
[[peers]]
name = "sipi"
host = "192.0.2.20"
trunk_group = "tg1"
profile = "sip-i"
trusted = true
"#;

fn find_invite(acts: &[Action]) -> Request {
    acts.iter()
        .find_map(|a| match a {
            Action::SendRequest { request, .. } if request.method == Method::Invite => {
                Some(request.clone())
            }
            _ => None,
        })
        .expect("INVITE")
}

fn pstn_call(e: &mut Engine, pool: &mut MemoryPool, circuit: CircuitId) {
    let now = Duration::ZERO;
    let iam = iwu::msgs::iam(
        false,
        false,
        iwu::number::called_party(3, iwu::number::text_to_signals("30123456").unwrap(), false),
        Some(iwu::number::calling_party(
            3,
            iwu::number::text_to_signals("3098765").unwrap(),
            0,
            3,
        )),
    );
    let inv = find_invite(&e.handle(now, Event::Isup { circuit, msg: iam }, pool));
    for st in [180u16, 200] {
        let mut r = Response::for_request(&inv, st, Some("peer"));
        r.headers.push(Hdr::Contact, "<sip:peer@192.0.2.20>");
        black_box(e.handle(now, Event::SipResponse(r), pool));
    }
    black_box(e.handle(
        now,
        Event::Isup {
            circuit,
            msg: iwu::msgs::rel(16, 2),
        },
        pool,
    ));
}

fn ip_call(e: &mut Engine, pool: &mut MemoryPool, n: u64) {
    let now = Duration::ZERO;
    let mut inv = Request::new(
        Method::Invite,
        Uri::parse("sip:+4930123456@192.0.2.10;user=phone").unwrap(),
    );
    let h = &mut inv.headers;
    h.push(
        Hdr::Via,
        &format!("SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK{n}"),
    );
    h.push(Hdr::From, "<sip:+493098765@192.0.2.20;user=phone>;tag=a");
    h.push(Hdr::To, "<sip:+4930123456@192.0.2.10;user=phone>");
    h.push(Hdr::CallId, &format!("bench-{n}"));
    h.push(Hdr::CSeq, "1 INVITE");
    h.push(Hdr::Contact, "<sip:a@192.0.2.20>");
    inv.set_body(Some("application/sdp"), b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0\r\n".to_vec());
    let acts = e.handle(
        now,
        Event::SipRequest {
            request: inv,
            peer: Some("sipi".into()),
        },
        pool,
    );
    let circuit = acts
        .iter()
        .find_map(|a| match a {
            Action::SendIsup { circuit, msg } if msg.message_type == MessageType::IAM => {
                Some(*circuit)
            }
            _ => None,
        })
        .expect("IAM");
    black_box(e.handle(
        now,
        Event::Isup {
            circuit,
            msg: iwu::msgs::acm(1, false),
        },
        pool,
    ));
    black_box(e.handle(
        now,
        Event::Isup {
            circuit,
            msg: iwu::msgs::anm(),
        },
        pool,
    ));
    black_box(e.handle(
        now,
        Event::Isup {
            circuit,
            msg: iwu::msgs::rel(16, 2),
        },
        pool,
    ));
    pool.release(circuit);
}

use iwu::CircuitPool;

fn bench(c: &mut Criterion) {
    let cfg: IwuConfig = toml::from_str(CONFIG).unwrap();
    let mut e = Engine::new(cfg, 1).unwrap();
    let mut pool = MemoryPool::new();
    pool.add("tg1", (1..=31).map(|cic| CircuitId { dpc: 2, cic }));
    c.bench_function(
        "pstn_originated_call (IAM, INVITE, 180/ACM, 200/ANM, REL/RLC/BYE)",
        |b| b.iter(|| pstn_call(&mut e, &mut pool, CircuitId { dpc: 2, cic: 7 })),
    );
    let mut n = 0;
    c.bench_function(
        "ip_originated_call (INVITE/IAM, ACM/180, ANM/200, REL/BYE)",
        |b| {
            b.iter(|| {
                n += 1;
                ip_call(&mut e, &mut pool, n)
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
