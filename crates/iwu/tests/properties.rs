//! Property tests: arbitrary interleavings of ISUP, SIP, timers and maintenance events never
//! panic, and after the network clears everything every circuit is back (no hung circuits, no
//! calls, no timers). Two exchanges (DPC 2 and DPC 3) have circuits with the same CICs.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use isup::{Message, MessageType, ParameterCode, RawParameter};
use iwu::{Action, CircuitId, Event};
use proptest::prelude::*;
use sip::header::Hdr;
use sip::{Method, Request, Response};
use support::*;

#[derive(Debug, Clone)]
enum Op {
    PstnIam {
        circuit: CircuitId,
        called: String,
        calling: Option<u8>,
    },
    IpInvite {
        peer: u8,
        id: u8,
        require_100rel: bool,
        isup: Option<Vec<u8>>,
    },
    Isup {
        slot: u8,
        kind: u8,
        cause: u8,
    },
    Response {
        slot: u8,
        status: u16,
        reliable: Option<u32>,
        reason: Option<u8>,
        isup: u8,
    },
    PeerRequest {
        slot: u8,
        method: u8,
    },
    Timeout {
        slot: u8,
        method: u8,
    },
    Advance(u32),
    Reset {
        slot: u8,
    },
    Reattempt {
        slot: u8,
    },
    /// The M3UA association is lost: every call is cleared toward SIP.
    SignallingLost,
    Admin {
        slot: u8,
        cause: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // Losing the association clears everything: rare, so that calls still get deep.
    prop_oneof![20 => call_op(), 1 => Just(Op::SignallingLost)]
}

fn call_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            prop_oneof![Just(DPC), Just(DPC3)],
            prop_oneof![1u16..=6, 33u16..=34, 900u16..=901],
            "[0-9]{0,12}",
            proptest::option::of(0u8..=3)
        )
            .prop_map(|(dpc, cic, called, calling)| Op::PstnIam {
                circuit: CircuitId { dpc, cic },
                called,
                calling
            }),
        (
            0u8..4,
            0u8..6,
            any::<bool>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20))
        )
            .prop_map(|(peer, id, require_100rel, isup)| Op::IpInvite {
                peer,
                id,
                require_100rel,
                isup
            }),
        (any::<u8>(), 0u8..16, 1u8..128).prop_map(|(slot, kind, cause)| Op::Isup {
            slot,
            kind,
            cause
        }),
        (
            any::<u8>(),
            prop::sample::select(vec![
                100u16, 180, 181, 183, 200, 302, 404, 408, 480, 486, 487, 488, 500, 503, 603
            ]),
            proptest::option::of(1u32..5),
            proptest::option::of(0u8..=200),
            0u8..4
        )
            .prop_map(|(slot, status, reliable, reason, isup)| Op::Response {
                slot,
                status,
                reliable,
                reason,
                isup
            }),
        (any::<u8>(), 0u8..8).prop_map(|(slot, method)| Op::PeerRequest { slot, method }),
        (any::<u8>(), 0u8..4).prop_map(|(slot, method)| Op::Timeout { slot, method }),
        (0u32..400).prop_map(Op::Advance),
        any::<u8>().prop_map(|slot| Op::Reset { slot }),
        any::<u8>().prop_map(|slot| Op::Reattempt { slot }),
        (any::<u8>(), 1u8..128).prop_map(|(slot, cause)| Op::Admin { slot, cause }),
    ]
}

/// What the fake network knows about each call it has seen.
#[derive(Default)]
struct World {
    /// INVITEs the gateway sent (PSTN origination), by Call-ID.
    gw_invites: Vec<Request>,
    /// INVITEs the peers sent (IP origination) and the gateway's latest tagged response.
    peer_invites: Vec<(Request, Option<Response>)>,
    /// Circuits with a call: from IAM in or out.
    circuits: Vec<CircuitId>,
    /// Per circuit: index of the last IAM, and of the last CircuitIdle / reset.
    last_iam: HashMap<CircuitId, usize>,
    last_free: HashMap<CircuitId, usize>,
    tick: usize,
}

impl World {
    fn observe(&mut self, acts: &[Action]) {
        for a in acts {
            self.tick += 1;
            match a {
                Action::SendRequest { request, .. } if request.method == Method::Invite => {
                    self.gw_invites.push(request.clone())
                }
                Action::SendResponse(r)
                    if r.headers
                        .to()
                        .ok()
                        .and_then(|t| t.tag().map(str::to_owned))
                        .is_some() =>
                {
                    let cid = r.headers.call_id().unwrap_or_default().to_string();
                    if let Some(e) = self
                        .peer_invites
                        .iter_mut()
                        .find(|(i, _)| i.headers.call_id().ok() == Some(cid.as_str()))
                    {
                        e.1 = Some(r.clone());
                    }
                }
                Action::SendIsup { circuit, msg } if msg.message_type == MessageType::IAM => {
                    self.circuits.push(*circuit);
                    self.last_iam.insert(*circuit, self.tick);
                }
                Action::CircuitIdle { circuit } => {
                    self.last_free.insert(*circuit, self.tick);
                }
                _ => {}
            }
        }
    }

    fn circuit(&self, slot: u8) -> Option<CircuitId> {
        (!self.circuits.is_empty()).then(|| self.circuits[slot as usize % self.circuits.len()])
    }
}

fn isup_msg(kind: u8, cause: u8) -> Message {
    match kind {
        0 => iwu::msgs::acm(1, false),
        1 => iwu::msgs::acm(0, true),
        2 => iwu::msgs::cpg(1, false),
        3 => iwu::msgs::cpg(3, true),
        4 => iwu::msgs::anm(),
        5 => iwu::msgs::con(),
        6 => iwu::msgs::rel(cause, 2),
        7 => Message::new(MessageType::RLC),
        8 => Message::new(MessageType::SUS).with(isup::SuspendResumeIndicators { indicator: 0 }),
        9 => Message::new(MessageType::RES).with(isup::SuspendResumeIndicators { indicator: 0 }),
        10 => iwu::msgs::cpg(9, false),
        11 => Message::new(MessageType::REL).with(RawParameter {
            code: ParameterCode::CAUSE_INDICATORS,
            value: vec![0x80],
        }),
        12 => iam("301", None),
        13 => Message::new(MessageType::COT).with(isup::ContinuityIndicators {
            continuity_indicator: cause & 1,
        }),
        14 => Message::new(MessageType::SAM).with(isup::SubsequentNumber {
            digits: isup::Digits::from_hex_str(if cause & 1 == 1 { "5F" } else { "5" }).unwrap(),
        }),
        _ => Message::new(MessageType(0x77)),
    }
}

/// The second exchange: tg3's circuits reuse tg1's CICs 1-6 (Q.763 §1.2: CICs are per
/// signalling relation).
const DPC3: u32 = 3;

fn run(ops: Vec<Op>) {
    // tg2 receives overlap (SAM collection) so that path is exercised too.
    let mut cfg = config();
    cfg.trunk_groups[1].overlap = true;
    let mut tg3 = cfg.trunk_groups[0].clone();
    tg3.name = "tg3".into();
    tg3.dpc = DPC3;
    tg3.cics = vec![[1, 6]];
    tg3.media.address = "192.0.2.51".into();
    cfg.trunk_groups.push(tg3);
    // INVITEs from peer "q" go to tg3.
    cfg.peers[2].trunk_group = "tg3".into();
    let mut h = Harness::with_config(cfg);
    h.pool
        .add("tg3", (1..=6).map(|cic| CircuitId { dpc: DPC3, cic }));
    let mut w = World::default();
    for op in ops {
        let acts = match op {
            Op::PstnIam {
                circuit,
                called,
                calling,
            } => {
                let m = if called.is_empty() {
                    iwu::msgs::iam(
                        false,
                        false,
                        isup::CalledPartyNumber::new(3, 1, isup::Digits::new()),
                        None,
                    )
                } else {
                    let mut m = iam(&called, calling.map(|a| ("3012", a)));
                    if calling == Some(3) {
                        // Continuity check on a previous circuit: the call waits for COT.
                        m.get_mut::<isup::NatureOfConnectionIndicators>()
                            .unwrap()
                            .continuity_check_indicator = 2;
                    }
                    m
                };
                w.circuits.push(circuit);
                w.tick += 1;
                w.last_iam.insert(circuit, w.tick);
                h.isup(circuit, m)
            }
            Op::IpInvite {
                peer,
                id,
                require_100rel,
                isup,
            } => {
                let hosts = ["192.0.2.20", "192.0.2.30", "192.0.2.40", "203.0.113.1"];
                let mut inv = invite(
                    hosts[peer as usize],
                    "tel:+4930123456",
                    "sip:+493011@x",
                    &format!("ip{id}"),
                );
                if require_100rel {
                    inv.headers.push(Hdr::Supported, "100rel");
                }
                if let Some(b) = isup {
                    let (ct, body, _) = sip::body::build_sip_i(
                        Some(OFFER),
                        &b,
                        "itu-t92+",
                        None,
                        sip::header::Handling::Optional,
                    );
                    inv.set_body(Some(&ct), body);
                }
                w.peer_invites.push((inv.clone(), None));
                h.request(inv)
            }
            Op::Isup { slot, kind, cause } => match w.circuit(slot) {
                Some(circuit) => h.isup(circuit, isup_msg(kind, cause)),
                None => vec![],
            },
            Op::Response {
                slot,
                status,
                reliable,
                reason,
                isup,
            } => {
                if w.gw_invites.is_empty() {
                    continue;
                }
                let inv = w.gw_invites[slot as usize % w.gw_invites.len()].clone();
                let mut r = peer_response(&inv, status);
                if let Some(rs) = reliable.filter(|_| (101..200).contains(&status)) {
                    r.headers.push(Hdr::Require, "100rel");
                    r.headers.push(Hdr::RSeq, &rs.to_string());
                }
                if let Some(c) = reason {
                    r.headers.push(Hdr::Reason, &format!("Q.850;cause={c}"));
                }
                match isup {
                    1 => isup_body(
                        &mut r.headers,
                        &mut r.body,
                        &iwu::msgs::rel(17, 0).to_bytes().unwrap(),
                        "itu-t92+",
                        "optional",
                    ),
                    2 => isup_body(
                        &mut r.headers,
                        &mut r.body,
                        &[0x06, 0xFF],
                        "itu-t92+",
                        "required",
                    ),
                    3 => r.set_body(Some("application/sdp"), ANSWER.to_vec()),
                    _ => {}
                }
                h.response(r)
            }
            Op::PeerRequest { slot, method } => {
                let m = [
                    Method::Bye,
                    Method::Cancel,
                    Method::Info,
                    Method::Prack,
                    Method::Ack,
                    Method::Invite,
                    Method::Update,
                    Method::Options,
                ][method as usize]
                    .clone();
                let n = w.gw_invites.len() + w.peer_invites.len();
                if n == 0 {
                    continue;
                }
                let i = slot as usize % n;
                let req = if i < w.gw_invites.len() {
                    let mut r = in_dialog_uac(&w.gw_invites[i], m.clone(), 10 + slot as u32);
                    if m == Method::Info {
                        isup_body(
                            &mut r.headers,
                            &mut r.body,
                            &[0x0E, 0x00],
                            "itu-t92+",
                            "required",
                        );
                    }
                    r
                } else {
                    let (inv, resp) = &w.peer_invites[i - w.gw_invites.len()];
                    match (m.clone(), resp) {
                        (Method::Cancel, _) => cancel(inv),
                        (_, Some(resp)) => {
                            let mut r = in_dialog(inv, resp, m.clone(), 10 + slot as u32);
                            if m == Method::Prack {
                                if let Ok(Some(rs)) = resp.headers.rseq() {
                                    r.headers.push(Hdr::RAck, &format!("{rs} 1 INVITE"));
                                }
                            }
                            if m == Method::Invite || m == Method::Update {
                                r.set_body(Some("application/sdp"), OFFER.to_vec());
                            }
                            r
                        }
                        (_, None) => continue,
                    }
                };
                h.request(req)
            }
            Op::Timeout { slot, method } => {
                if w.gw_invites.is_empty() {
                    continue;
                }
                let inv = &w.gw_invites[slot as usize % w.gw_invites.len()];
                let m = [Method::Invite, Method::Bye, Method::Cancel, Method::Info]
                    [method as usize]
                    .clone();
                h.feed(Event::SipTimeout {
                    call_id: inv.headers.call_id().unwrap().to_string(),
                    method: m,
                })
            }
            Op::Advance(s) => h.advance(Duration::from_secs(u64::from(s))),
            Op::Reset { slot } => match w.circuit(slot) {
                Some(circuit) => {
                    let a = h.feed(Event::CircuitReset { circuit });
                    // The circuit manager owns a reset circuit and frees it after RLC/GRA.
                    h.pool.release(circuit);
                    w.tick += 1;
                    w.last_free.insert(circuit, w.tick);
                    a
                }
                None => vec![],
            },
            Op::Reattempt { slot } => match w.circuit(slot) {
                Some(circuit) => {
                    let a = h.feed(Event::Reattempt { circuit });
                    if !h.engine.circuit_in_use(circuit) {
                        // The circuit went to the winning incoming call (the test frees it).
                        w.tick += 1;
                        w.last_free.insert(circuit, w.tick);
                        h.pool.release(circuit);
                    }
                    a
                }
                None => vec![],
            },
            Op::SignallingLost => {
                let held: Vec<CircuitId> = w
                    .circuits
                    .iter()
                    .copied()
                    .filter(|&c| h.engine.circuit_in_use(c))
                    .collect();
                let a = h.feed(Event::SignallingLost);
                assert!(w.circuits.iter().all(|&c| !h.engine.circuit_in_use(c)));
                // The GRS on recovery frees every circuit the lost calls held.
                for circuit in held {
                    h.pool.release(circuit);
                    w.tick += 1;
                    w.last_free.insert(circuit, w.tick);
                }
                a
            }
            Op::Admin { slot, cause } => match w.circuit(slot) {
                Some(circuit) => h.feed(Event::ReleaseCall { circuit, cause }),
                None => vec![],
            },
        };
        w.observe(&acts);
        // The per-model counts the gauges read follow the calls.
        for (model, bridged, n) in h.engine.call_models() {
            let recount = h
                .engine
                .calls()
                .filter(|c| (c.model, c.bridged) == (model, bridged))
                .count();
            assert_eq!(n, recount, "{model:?} bridged {bridged}");
        }
    }
    drain(&mut h, &mut w);
}

use iwu::CircuitPool;

/// The network clears everything: REL on every busy circuit, RLC for every REL/RSC, final
/// answers for pending INVITEs, timers run out.
fn drain(h: &mut Harness, w: &mut World) {
    for _round in 0..6 {
        for circuit in w.circuits.clone() {
            if h.engine.circuit_in_use(circuit) {
                let a = h.isup(circuit, iwu::msgs::rel(16, 2));
                w.observe(&a);
            }
        }
        for inv in w.gw_invites.clone() {
            let a = h.feed(Event::SipTimeout {
                call_id: inv.headers.call_id().unwrap().to_string(),
                method: Method::Invite,
            });
            w.observe(&a);
            let a = h.feed(Event::SipTimeout {
                call_id: inv.headers.call_id().unwrap().to_string(),
                method: Method::Cancel,
            });
            w.observe(&a);
        }
        let a = h.advance(Duration::from_secs(400));
        w.observe(&a);
        // RLC for every REL/RSC the gateway still waits on.
        for circuit in w.circuits.clone() {
            if h.engine.circuit_in_use(circuit) {
                let a = h.isup(circuit, Message::new(MessageType::RLC));
                w.observe(&a);
            }
        }
        if h.engine.active_calls() == 0 {
            break;
        }
    }
    assert_eq!(
        h.engine.active_calls(),
        0,
        "calls left after the network cleared"
    );
    assert!(h.timers.is_empty(), "timers left: {:?}", h.timers);
    for (circuit, at) in &w.last_iam {
        if circuit.cic >= 900 {
            continue;
        }
        let freed = w.last_free.get(circuit).copied().unwrap_or(0);
        assert!(
            freed > *at || !h.engine.circuit_in_use(*circuit),
            "circuit {circuit} never freed"
        );
        assert!(!h.engine.circuit_in_use(*circuit));
    }
    // Every circuit seized from the pool came back.
    let mut free = h.pool.free_circuits("tg1");
    free.extend(h.pool.free_circuits("tg2"));
    free.extend(h.pool.free_circuits("tg3"));
    free.sort_unstable();
    let all: Vec<CircuitId> = (1..=31)
        .chain(33..=34)
        .map(circuit)
        .chain((1..=6).map(|cic| CircuitId { dpc: DPC3, cic }))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(free, all, "pool leaked circuits");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_event_sequences(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}

#[test]
fn garbage_sip_and_isup_never_panic() {
    let mut h = Harness::new();
    let mut r = invite(
        "192.0.2.20",
        "sip:+4930123456@192.0.2.10;user=phone",
        "sip:a@b",
        "g1",
    );
    r.headers
        .set(Hdr::ContentType, "multipart/mixed;boundary=zz");
    r.body = b"--zz\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\n\x01\x02\r\n--zz--"
        .to_vec();
    r.headers.set(Hdr::ContentLength, &r.body.len().to_string());
    h.request(r);
    let mut r = invite(
        "192.0.2.20",
        "sip:+4930123456@192.0.2.10;user=phone",
        "sip:a@b",
        "g2",
    );
    r.headers.set(Hdr::ContentType, "multipart/mixed");
    h.request(r);
    let mut r = invite(
        "192.0.2.20",
        "sip:+4930123456@192.0.2.10;user=phone",
        "sip:a@b",
        "g3",
    );
    r.set_body(Some("application/sdp"), b"\xff\xfe garbage".to_vec());
    h.request(r);
    let mut r = invite(
        "192.0.2.20",
        "sip:+4930123456@192.0.2.10;user=phone",
        "sip:a@b",
        "g4",
    );
    r.headers.remove(Hdr::Contact);
    h.request(r);
    let mut r = Response::new(200);
    r.headers.push(Hdr::CallId, "nothing");
    h.response(r);
}
