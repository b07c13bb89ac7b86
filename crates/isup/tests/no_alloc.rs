//! Zero-copy claims, measured: a counting allocator shows that walking a message and decoding its
//! fixed parameters (and numbers, USI) allocates nothing, and a full typed IAM decode allocates once
//! (the parameter vector).

use isup::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (r, ALLOCATIONS.with(Cell::get) - before)
}

const IAM: &[u8] = &[
    0x01, 0x00, 0x20, 0x01, 0x0A, 0x00, 0x02, 0x0A, 0x08, 0x83, 0x90, 0x94, 0x71, 0x32, 0x54, 0x76,
    0x08, 0x0A, 0x08, 0x84, 0x13, 0x47, 0x59, 0x11, 0x21, 0x32, 0x03, 0x1D, 0x03, 0x80, 0x90, 0xA3,
    0x00,
];

#[test]
fn fixed_parameter_decode_does_not_allocate() {
    let ((nci, fci, cpc, tmr, cdpn, cgpn, usi), n) = allocations_during(|| {
        let view = MessageView::new_checked(IAM, &Variant::ITU).unwrap();
        let nci = NatureOfConnectionIndicators::parse(view.fixed(0).unwrap()).unwrap();
        let fci = ForwardCallIndicators::parse(view.fixed(1).unwrap()).unwrap();
        let cpc = CallingPartysCategory::parse(view.fixed(2).unwrap()).unwrap();
        let tmr = TransmissionMediumRequirement::parse(view.fixed(3).unwrap()).unwrap();
        let cdpn = CalledPartyNumber::parse(view.variable(0).unwrap()).unwrap();
        let mut opt = view.optional_parameters();
        let cgpn = CallingPartyNumber::parse(opt.next().unwrap().1).unwrap();
        let usi = UserServiceInformation::parse(opt.next().unwrap().1).unwrap();
        (nci, fci, cpc, tmr, cdpn, cgpn, usi)
    });
    assert_eq!(n, 0, "zero-copy decode allocated {n} times");
    assert_eq!(nci.echo_control_device_indicator, 0);
    assert_eq!(fci.isdn_user_part_indicator, 1);
    assert_eq!(cpc.value, 10);
    assert_eq!(tmr.value, 0);
    assert_eq!(cdpn.digits.to_string(), "49172345678");
    assert_eq!(cgpn.digits.to_string(), "74951112233");
    assert_eq!(usi.octets.as_slice(), &[0x80, 0x90, 0xA3]);
}

#[test]
fn typed_iam_decode_allocates_once() {
    let (msg, n) = allocations_during(|| Message::parse(IAM).unwrap());
    assert_eq!(msg.parameters.len(), 7);
    assert_eq!(n, 1, "typed IAM decode allocated {n} times");
}
