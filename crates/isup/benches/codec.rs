//! Decode/encode of typical call-control messages (issue targets: IAM decode ≤ 100 ns, encode ≤ 100 ns).

use criterion::{Criterion, criterion_group, criterion_main};
use isup::{Message, MessageView, Variant};
use std::hint::black_box;

/// IAM with calling party number and user service information (speech, A-law), CIC first.
const IAM: &[u8] = &[
    0x01, 0x00, // CIC 1
    0x01, // IAM
    0x00, // nature of connection indicators
    0x20, 0x01, // forward call indicators
    0x0A, // calling party's category: ordinary subscriber
    0x00, // transmission medium requirement: speech
    0x02, 0x0A, // pointers: called party number, optional part
    0x08, 0x83, 0x90, 0x94, 0x71, 0x32, 0x54, 0x76,
    0x08, // called party number: odd, national, 49172345678
    0x0A, 0x08, 0x84, 0x13, 0x47, 0x59, 0x11, 0x21, 0x32, 0x03, // calling party number
    0x1D, 0x03, 0x80, 0x90, 0xA3, // user service information
    0x00, // end of optional parameters
];
const ACM: &[u8] = &[0x01, 0x00, 0x06, 0x16, 0x14, 0x01, 0x29, 0x01, 0x01, 0x00];
const REL: &[u8] = &[0x01, 0x00, 0x0C, 0x02, 0x00, 0x02, 0x83, 0x9F];

fn bench(c: &mut Criterion) {
    let v = &Variant::ITU;
    for (name, bytes) in [("IAM", IAM), ("ACM", ACM), ("REL", REL)] {
        let (cic, msg) = v.parse_with_cic(bytes).expect("benchmark message parses");
        let mut out = Vec::with_capacity(128);
        v.emit_with_cic(cic, &msg, &mut out).unwrap();
        assert_eq!(out, bytes, "{name} round trip");

        c.bench_function(&format!("{name} decode"), |b| {
            b.iter(|| v.parse_with_cic(black_box(bytes)).unwrap())
        });
        c.bench_function(&format!("{name} encode"), |b| {
            b.iter(|| {
                out.clear();
                v.emit_with_cic(black_box(cic), black_box(&msg), &mut out)
                    .unwrap();
            })
        });
        c.bench_function(&format!("{name} view (zero-copy walk)"), |b| {
            b.iter(|| {
                let view = MessageView::new_checked(black_box(&bytes[2..]), v).unwrap();
                view.parameters().count()
            })
        });
    }
    let _ = Message::parse(&REL[2..]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
