//! The circuit manager and the interworking engine together (`mgc::gateway::Gateway`, as the
//! conformance runner drives it): random ISUP from the exchange (IAM, ACM, ANM, REL, RLC, RSC,
//! GRS, BLO, UBL, CGB, CGU), random SIP from the peer (INVITE, 18x/200/errors, ACK, BYE, CANCEL)
//! and timers on a virtual clock. Then the network clears everything — the exchange releases
//! every busy circuit and unblocks every circuit, both ends answer whatever the gateway sends and
//! the timers run out — and no circuit may be left busy, blocked or resetting, and no call left.

use isup::{Message, MessageType, RangeAndStatus, Variant};
use mgc::circuits::{CircuitId, CircuitState};
use mgc::config::{Config, DEFAULT_TOML};
use mgc::gateway::{Gateway, Input, Output};
use proptest::prelude::*;
use sip::{Method, Request, Response};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const DPC: u32 = 2;
const CICS: u16 = 4;
const PEER: &str = "softswitch";

#[derive(Debug, Clone)]
enum Op {
    Isup(MessageType, u16),
    Invite,
    Ack(u8),
    Bye(u8),
    Cancel(u8),
    /// The peer answers the gateway's n-th outstanding request with this status.
    Reply(u8, u16),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    use MessageType as T;
    let isup = prop::sample::select(vec![
        T::IAM,
        T::ACM,
        T::ANM,
        T::REL,
        T::RLC,
        T::RSC,
        T::GRS,
        T::BLO,
        T::UBL,
        T::CGB,
        T::CGU,
    ]);
    prop_oneof![
        4 => (isup, 1..=CICS).prop_map(|(t, c)| Op::Isup(t, c)),
        2 => Just(Op::Invite),
        1 => (0..3u8).prop_map(Op::Ack),
        1 => (0..3u8).prop_map(Op::Bye),
        1 => (0..3u8).prop_map(Op::Cancel),
        3 => (0..3u8, prop::sample::select(vec![100, 180, 183, 200, 404, 486, 503, 603]))
            .prop_map(|(i, s)| Op::Reply(i, s)),
        1 => prop::sample::select(vec![0, 1, 5, 20, 200]).prop_map(Op::Wait),
    ]
}

/// One IP-originated call as the peer sees it.
struct PeerCall {
    call_id: String,
    invite: Request,
    /// The To of the gateway's last response with a tag, and its Contact.
    to: Option<String>,
    contact: Option<String>,
}

struct World {
    gw: Gateway,
    now: Duration,
    timers: BTreeMap<(Duration, u64), ()>,
    due: HashMap<u64, Duration>,
    isup_out: Vec<(CircuitId, Message)>,
    requests: Vec<Request>,
    responses: Vec<Response>,
    calls: Vec<PeerCall>,
    serial: u32,
}

impl World {
    fn new() -> World {
        let text = DEFAULT_TOML.replace("cics = \"1-31\"", &format!("cics = \"1-{CICS}\""));
        let cfg = Config::parse(&text, "property").expect("config");
        let gw = mgc::assemble::gateway_seeded(&cfg, 7).expect("gateway");
        let mut w = World {
            gw,
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            due: HashMap::new(),
            isup_out: Vec::new(),
            requests: Vec::new(),
            responses: Vec::new(),
            calls: Vec::new(),
            serial: 0,
        };
        w.input(Input::TransportUp);
        w
    }

    fn input(&mut self, input: Input) {
        let trace = std::env::var_os("TRACE").is_some();
        if trace {
            eprintln!("{:?} IN {}", self.now, describe_in(&input));
        }
        let out = self.gw.handle(self.now, input);
        for o in out {
            if trace {
                eprintln!("    OUT {}", describe_out(&o));
            }
            match o {
                Output::Isup { dpc, user_data, .. } => {
                    let (cic, m) = Variant::ITU
                        .parse_with_cic(&user_data)
                        .expect("the gateway sends decodable ISUP");
                    self.isup_out.push((CircuitId { dpc, cic }, m));
                }
                Output::SipRequest { request, .. } => self.requests.push(request),
                Output::SipResponse(r) => self.responses.push(r),
                Output::StartTimer { id, after } => {
                    if let Some(d) = self.due.remove(&id) {
                        self.timers.remove(&(d, id));
                    }
                    let due = self.now + after;
                    self.timers.insert((due, id), ());
                    self.due.insert(id, due);
                }
                Output::StopTimer { id } => {
                    if let Some(d) = self.due.remove(&id) {
                        self.timers.remove(&(d, id));
                    }
                }
                _ => {}
            }
        }
    }

    fn isup(&mut self, cic: u16, m: &Message) {
        let mut user_data = Vec::new();
        Variant::ITU
            .emit_with_cic(cic, m, &mut user_data)
            .expect("encode");
        self.input(Input::Isup {
            opc: DPC,
            user_data,
        });
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some((&(due, id), _)) = self.timers.iter().next() {
            if due > until {
                break;
            }
            self.timers.remove(&(due, id));
            self.due.remove(&id);
            self.now = due;
            self.input(Input::Timer(id));
        }
        self.now = until;
    }

    fn sip(&mut self, text: &str) {
        let wire: String = text
            .trim_start()
            .lines()
            .map(|l| format!("{l}\r\n"))
            .collect::<String>()
            + "Content-Length: 0\r\n\r\n";
        let request = match sip::Message::parse(wire.as_bytes()).expect("peer request") {
            sip::Message::Request(r) => r,
            sip::Message::Response(_) => unreachable!(),
        };
        self.input(Input::SipRequest {
            peer: PEER.into(),
            request,
        });
    }

    fn invite(&mut self) {
        self.serial += 1;
        let n = self.serial;
        let call_id = format!("prop-{n}@127.0.0.1");
        let text = format!(
            "INVITE sip:+4930123456@127.0.0.1:5060;user=phone SIP/2.0\n\
             Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-inv-{n}\n\
             Max-Forwards: 70\n\
             From: <sip:+4940111222@127.0.0.1;user=phone>;tag=caller-{n}\n\
             To: <sip:+4930123456@127.0.0.1:5060;user=phone>\n\
             Call-ID: {call_id}\n\
             CSeq: 1 INVITE\n\
             Contact: <sip:caller@127.0.0.1:5080>"
        );
        let invite = match sip::Message::parse(
            format!(
                "{}Content-Length: 0\r\n\r\n",
                text.lines().map(|l| format!("{l}\r\n")).collect::<String>()
            )
            .as_bytes(),
        )
        .expect("INVITE")
        {
            sip::Message::Request(r) => r,
            sip::Message::Response(_) => unreachable!(),
        };
        self.calls.push(PeerCall {
            call_id,
            invite,
            to: None,
            contact: None,
        });
        self.sip(&text);
    }

    /// Note the gateway's responses to the peer's INVITEs (To tag, Contact); ACK is the test's.
    fn learn(&mut self) {
        for r in std::mem::take(&mut self.responses) {
            let Some(call_id) = r.headers.get(sip::header::Hdr::CallId).map(str::to_string) else {
                continue;
            };
            let Some(c) = self.calls.iter_mut().find(|c| c.call_id == call_id) else {
                continue;
            };
            if let Some(to) = r.headers.get(sip::header::Hdr::To)
                && to.contains("tag=")
            {
                c.to = Some(to.to_string());
            }
            if let Some(ct) = r.headers.get(sip::header::Hdr::Contact) {
                let uri = ct.trim_start_matches('<').split('>').next().unwrap_or(ct);
                c.contact = Some(uri.to_string());
            }
        }
    }

    fn in_dialog(&mut self, i: u8, method: &str, cseq: u32) {
        self.learn();
        let Some(c) = self.calls.get(usize::from(i) % self.calls.len().max(1)) else {
            return;
        };
        let (Some(to), uri) = (c.to.clone(), c.contact.clone()) else {
            return;
        };
        let uri = uri.unwrap_or_else(|| "sip:127.0.0.1:5060".into());
        let from = c
            .invite
            .headers
            .get(sip::header::Hdr::From)
            .unwrap_or("")
            .to_string();
        let call_id = c.call_id.clone();
        self.serial += 1;
        let n = self.serial;
        let text = format!(
            "{method} {uri} SIP/2.0\n\
             Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-{method}-{n}\n\
             Max-Forwards: 70\n\
             From: {from}\n\
             To: {to}\n\
             Call-ID: {call_id}\n\
             CSeq: {cseq} {method}"
        );
        self.sip(&text);
    }

    fn cancel(&mut self, i: u8) {
        let Some(c) = self.calls.get(usize::from(i) % self.calls.len().max(1)) else {
            return;
        };
        let h = &c.invite.headers;
        let get = |n| h.get(n).unwrap_or("").to_string();
        use sip::header::Hdr;
        let text = format!(
            "CANCEL {} SIP/2.0\nVia: {}\nMax-Forwards: 70\nFrom: {}\nTo: {}\nCall-ID: {}\n\
             CSeq: 1 CANCEL",
            c.invite.uri,
            get(Hdr::Via),
            get(Hdr::From),
            get(Hdr::To),
            c.call_id
        );
        self.sip(&text);
    }

    /// The peer answers the gateway's request (INVITE toward the peer, BYE, CANCEL, PRACK…).
    fn reply(&mut self, i: usize, status: u16) {
        if self.requests.is_empty() {
            return;
        }
        let req = self.requests.remove(i % self.requests.len());
        if req.method == Method::Ack {
            return;
        }
        let status = if req.method == Method::Invite {
            status
        } else {
            200
        };
        let mut r = Response::for_request(&req, status, Some("peer-tag-1"));
        if req.method == Method::Invite && (101..300).contains(&status) {
            r.headers
                .push(sip::header::Hdr::Contact, "<sip:peer@127.0.0.1:5080>");
        }
        if req.method == Method::Invite && status < 200 {
            self.requests.push(req.clone()); // still outstanding
        }
        self.input(Input::SipResponse(r));
        // RFC 3261 §9.2: a UAS answers a CANCEL and then the INVITE with 487.
        if req.method == Method::Cancel {
            let call_id = req.headers.get(sip::header::Hdr::CallId);
            if let Some(j) = self.requests.iter().position(|q| {
                q.method == Method::Invite && q.headers.get(sip::header::Hdr::CallId) == call_id
            }) {
                let invite = self.requests.remove(j);
                let r = Response::for_request(&invite, 487, Some("peer-tag-1"));
                self.input(Input::SipResponse(r));
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        use MessageType as T;
        match *op {
            Op::Isup(t, cic) => {
                let m = match t {
                    T::IAM => ss7sim::msg::iam(&ss7sim::config::Originate::default(), "30123456"),
                    T::ACM => ss7sim::msg::acm(1),
                    T::ANM => ss7sim::msg::anm(),
                    T::REL => ss7sim::msg::rel(16, 2),
                    T::GRS => ss7sim::msg::range_only(T::GRS, (CICS - cic) as u8),
                    T::CGB | T::CGU => ss7sim::msg::group_supervision(
                        t,
                        (cic % 2) as u8,
                        RangeAndStatus::with_status(&vec![true; usize::from(CICS - cic) + 1]),
                    ),
                    t => Message::new(t),
                };
                self.isup(cic, &m);
            }
            Op::Invite => self.invite(),
            Op::Ack(i) => self.in_dialog(i, "ACK", 1),
            Op::Bye(i) => self.in_dialog(i, "BYE", 2),
            Op::Cancel(i) => self.cancel(i),
            Op::Reply(i, status) => self.reply(usize::from(i), status),
            Op::Wait(s) => self.advance(Duration::from_secs(s)),
        }
    }

    /// Both far ends answer what the gateway sent; true if anything was sent.
    fn answer_all(&mut self) -> bool {
        use MessageType as T;
        let isup = std::mem::take(&mut self.isup_out);
        let busy = !isup.is_empty() || !self.requests.is_empty() || !self.responses.is_empty();
        for (c, m) in isup {
            let rs = m.get::<RangeAndStatus>();
            let answer = match m.message_type {
                T::REL | T::RSC => Some(Message::new(T::RLC)),
                // The gateway's IAM: the exchange refuses it (Q.850 16 keeps it simple).
                T::IAM => Some(ss7sim::msg::rel(16, 2)),
                T::GRS => rs.map(|r| ss7sim::msg::gra(&vec![false; usize::from(r.range) + 1])),
                T::BLO => Some(Message::new(T::BLA)),
                T::UBL => Some(Message::new(T::UBA)),
                T::CGB | T::CGU => {
                    let ty = m
                        .get::<isup::CircuitGroupSupervisionMessageType>()
                        .map_or(0, |t| t.type_indicator);
                    let ack = if m.message_type == T::CGB {
                        T::CGBA
                    } else {
                        T::CGUA
                    };
                    rs.map(|r| ss7sim::msg::group_supervision(ack, ty, r.clone()))
                }
                _ => None,
            };
            if let Some(a) = answer {
                self.isup(c.cic, &a);
            }
        }
        // 2xx to the peer's INVITE: ACK it.
        let responses: Vec<Response> = self.responses.clone();
        self.learn();
        for r in responses {
            if (200..300).contains(&r.status)
                && r.headers
                    .get(sip::header::Hdr::CSeq)
                    .is_some_and(|c| c.contains("INVITE"))
            {
                let call_id = r.headers.get(sip::header::Hdr::CallId).unwrap_or("");
                if let Some(i) = self.calls.iter().position(|c| c.call_id == call_id) {
                    self.in_dialog(i as u8, "ACK", 1);
                }
            }
        }
        while !self.requests.is_empty() {
            self.reply(0, 486);
        }
        busy
    }

    fn drain(&mut self) {
        // The exchange releases every busy circuit and lifts every block it set.
        for cic in 1..=CICS {
            let st = self
                .gw
                .circuits()
                .state(CircuitId { dpc: DPC, cic })
                .map(|s| s.state);
            if matches!(
                st,
                Some(CircuitState::BusyIncoming | CircuitState::BusyOutgoing)
            ) {
                self.isup(cic, &ss7sim::msg::rel(16, 2));
            }
            self.isup(cic, &Message::new(MessageType::UBL));
        }
        for ty in [0, 1] {
            self.isup(
                1,
                &ss7sim::msg::group_supervision(
                    MessageType::CGU,
                    ty,
                    RangeAndStatus::with_status(&vec![true; usize::from(CICS)]),
                ),
            );
        }
        // The peer ends its dialogs.
        for i in 0..self.calls.len() {
            self.in_dialog(i as u8, "BYE", 9);
        }
        for _ in 0..10_000 {
            if !self.answer_all() {
                let Some((&(due, _), _)) = self.timers.iter().next() else {
                    break;
                };
                self.advance(due - self.now);
            }
        }
    }
}

fn describe_in(i: &Input) -> String {
    match i {
        Input::Isup { user_data, .. } => match Variant::ITU.parse_with_cic(user_data) {
            Ok((cic, m)) => format!("ISUP {} cic {cic}", m.message_type),
            Err(e) => format!("ISUP ? {e}"),
        },
        Input::SipRequest { request, .. } => format!(
            "SIP {} {}",
            request.method,
            request.headers.get(sip::header::Hdr::CallId).unwrap_or("")
        ),
        Input::SipResponse(r) => format!(
            "SIP {} {}",
            r.status,
            r.headers.get(sip::header::Hdr::CSeq).unwrap_or("")
        ),
        other => format!("{other:?}").chars().take(60).collect(),
    }
}

fn describe_out(o: &Output) -> String {
    match o {
        Output::Isup { user_data, .. } => match Variant::ITU.parse_with_cic(user_data) {
            Ok((cic, m)) => format!("ISUP {} cic {cic}", m.message_type),
            Err(e) => format!("ISUP ? {e}"),
        },
        Output::SipRequest { request, .. } => format!(
            "SIP {} {}",
            request.method,
            request.headers.get(sip::header::Hdr::CallId).unwrap_or("")
        ),
        Output::SipResponse(r) => format!(
            "SIP {} {}",
            r.status,
            r.headers.get(sip::header::Hdr::CSeq).unwrap_or("")
        ),
        other => format!("{other:?}").chars().take(80).collect(),
    }
}

/// Found by the property below: a GRS over circuits with three IP-originated calls in set-up and
/// a PSTN-originated one. The circuit manager resets the range, then the engine re-attempts the
/// IP calls (Q.764 §2.9.3.3): the pool offered CIC 3, still held in the engine by the PSTN call
/// whose reset was not yet delivered; the engine skipped it without giving it back, and CIC 3
/// stayed busy with no call. `TRACE=1` prints every input and output.
#[test]
fn reattempt_during_grs_gives_back_a_circuit_still_held() {
    let mut w = World::new();
    w.answer_all();
    for op in [
        Op::Invite,
        Op::Isup(MessageType::IAM, 3),
        Op::Invite,
        Op::Invite,
        Op::Isup(MessageType::GRS, 1),
    ] {
        w.apply(&op);
    }
    w.drain();
    assert!(w.gw.circuits().all_idle());
    assert_eq!(w.gw.active_calls(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn no_circuit_or_call_is_left(ops in prop::collection::vec(op(), 1..40)) {
        let mut w = World::new();
        w.answer_all();
        for op in &ops {
            w.apply(op);
        }
        w.drain();
        let left: Vec<String> = (1..=CICS)
            .filter_map(|cic| {
                let s = w.gw.circuits().state(CircuitId { dpc: DPC, cic })?;
                (s.state != CircuitState::Idle).then(|| format!("CIC {cic} {:?}", s.state))
            })
            .collect();
        prop_assert!(w.gw.circuits().all_idle(), "circuits left: {left:?}");
        prop_assert_eq!(w.gw.active_calls(), 0, "calls left: {:?}", w.gw.calls().collect::<Vec<_>>());
    }
}
