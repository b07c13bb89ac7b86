//! Parse + serialize of a typical SIP-I INVITE (~1 KB: multipart SDP + binary
//! ISUP IAM), ours vs the `rsip` crate in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use sip::{Message, SipBody};
use std::hint::black_box;

fn sip_i_invite() -> Vec<u8> {
    let iam: &[u8] = &[
        0x01, 0x00, 0x60, 0x20, 0x0a, 0x00, 0x02, 0x09, 0x07, 0x03, 0x10, 0x94, 0x03, 0x21, 0x43,
        0x65, 0x0a, 0x07, 0x84, 0x13, 0x94, 0x03, 0x99, 0x89, 0x08, 0x00,
    ];
    let sdp = "v=0\r\no=mgc 53655765 2353687637 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 16384 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";
    let mut body = Vec::new();
    body.extend_from_slice(b"--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n");
    body.extend_from_slice(sdp.as_bytes());
    body.extend_from_slice(b"\r\n--unique-boundary-1\r\nContent-Type: application/ISUP;version=itu-t92+;base=itu-t92+\r\nContent-Disposition: signal;handling=required\r\n\r\n");
    body.extend_from_slice(iam);
    body.extend_from_slice(b"\r\n--unique-boundary-1--\r\n");
    let head = format!(
        "INVITE sip:+4930123456@gw.example.net;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:+4930123456@gw.example.net;user=phone>\r\n\
From: \"Alice\" <sip:+493099988@mgc.example.net;user=phone>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@mgc.example.net\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:mgc@192.0.2.10:5060>\r\n\
P-Asserted-Identity: <sip:+493099988@mgc.example.net;user=phone>\r\n\
Privacy: none\r\n\
Supported: 100rel, timer\r\n\
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO\r\n\
User-Agent: mgc/0.1\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed;boundary=unique-boundary-1\r\n\
Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut m = head.into_bytes();
    m.extend_from_slice(&body);
    m
}

fn bench(c: &mut Criterion) {
    let invite = sip_i_invite();
    // sanity: both parsers accept it
    let ours = Message::parse(&invite).expect("ours parses");
    assert!(
        SipBody::parse(ours.headers(), ours.body())
            .unwrap()
            .isup()
            .is_some()
    );
    let theirs = rsip::SipMessage::try_from(invite.as_slice()).expect("rsip parses");
    assert_eq!(theirs.body().len(), ours.body().len());
    println!("SIP-I INVITE: {} octets", invite.len());

    let mut g = c.benchmark_group("sip_i_invite");
    g.bench_function("ours/parse", |b| {
        b.iter(|| Message::parse(black_box(&invite)).unwrap())
    });
    g.bench_function("ours/parse+serialize", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            let m = Message::parse(black_box(&invite)).unwrap();
            out.clear();
            m.write_to(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("ours/parse+serialize+isup_part", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            let m = Message::parse(black_box(&invite)).unwrap();
            let isup = SipBody::parse(m.headers(), m.body())
                .unwrap()
                .isup()
                .map(|p| p.data.len());
            out.clear();
            m.write_to(&mut out);
            black_box((out.len(), isup))
        })
    });
    g.bench_function("rsip/parse", |b| {
        b.iter(|| rsip::SipMessage::try_from(black_box(invite.as_slice())).unwrap())
    });
    g.bench_function("rsip/parse+serialize", |b| {
        b.iter(|| {
            let m = rsip::SipMessage::try_from(black_box(invite.as_slice())).unwrap();
            let v: Vec<u8> = m.into();
            black_box(v.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
