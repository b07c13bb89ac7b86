//! Transaction state machines on a virtual clock (RFC 3261 §17, RFC 6026):
//! retransmission schedules, lost packets, duplicated responses, matching.

use sip::header::Hdr;
use sip::transaction::{
    Delivery, LayerAction, Timer, TimerConfig, TimerQueue, TransactionKey, TransactionLayer,
};
use sip::{Message, Method, Request, Response, Uri};
use std::time::Duration;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Two transaction layers ("a" = UAC side, "b" = UAS side) joined by a
/// lossy, duplicating virtual network, with one virtual clock.
struct Sim {
    now: Duration,
    nodes: [TransactionLayer<usize>; 2],
    timers: [TimerQueue<TransactionKey>; 2],
    /// Every message put on the wire: (time, from node, message).
    wire: Vec<(Duration, usize, Message)>,
    delivered: [Vec<(Duration, Option<TransactionKey>, Delivery)>; 2],
    /// Drop the n-th message (0-based, counting all sends) sent by a node.
    drop: Vec<(usize, usize)>,
    /// Duplicate every response sent by node b.
    duplicate_responses: bool,
    sent_count: [usize; 2],
    reliable: bool,
}

impl Sim {
    fn new(cfg: TimerConfig, reliable: bool) -> Self {
        Sim {
            now: Duration::ZERO,
            nodes: [TransactionLayer::new(cfg), TransactionLayer::new(cfg)],
            timers: [TimerQueue::new(), TimerQueue::new()],
            wire: Vec::new(),
            delivered: [Vec::new(), Vec::new()],
            drop: Vec::new(),
            duplicate_responses: false,
            sent_count: [0, 0],
            reliable,
        }
    }

    fn apply(&mut self, node: usize, actions: Vec<LayerAction<usize>>) {
        for a in actions {
            match a {
                LayerAction::Send { peer, message } => {
                    let n = self.sent_count[node];
                    self.sent_count[node] += 1;
                    self.wire.push((self.now, node, message.clone()));
                    if self.drop.contains(&(node, n)) {
                        continue;
                    }
                    let copies = if self.duplicate_responses && !message.is_request() {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        self.receive(peer, node, message.clone());
                    }
                }
                LayerAction::StartTimer { key, timer, after } => {
                    self.timers[node].start(key, timer, self.now + after)
                }
                LayerAction::StopTimer { key, timer } => self.timers[node].stop(&key, timer),
                LayerAction::Deliver { key, event, .. } => {
                    if event == Delivery::Terminated {
                        if let Some(k) = &key {
                            self.timers[node].stop_all(k);
                        }
                    }
                    self.delivered[node].push((self.now, key, event));
                }
            }
        }
    }

    fn receive(&mut self, node: usize, from: usize, m: Message) {
        let reliable = self.reliable;
        let actions = match m {
            Message::Request(r) => self.nodes[node].on_request(r, from, reliable),
            Message::Response(r) => self.nodes[node].on_response(r, from),
        };
        self.apply(node, actions);
    }

    fn advance(&mut self, to: Duration) {
        loop {
            let next = [0, 1]
                .into_iter()
                .filter_map(|n| self.timers[n].next_deadline().map(|d| (d, n)))
                .min();
            match next {
                Some((d, n)) if d <= to => {
                    self.now = d;
                    let (key, timer) = self.timers[n].pop_due(d).expect("due timer");
                    let actions = self.nodes[n].on_timer(&key, timer);
                    self.apply(n, actions);
                }
                _ => break,
            }
        }
        self.now = to;
    }

    fn send(&mut self, node: usize, req: Request) -> Option<TransactionKey> {
        let reliable = self.reliable;
        let (key, actions) = self.nodes[node]
            .send_request(req, 1 - node, reliable)
            .unwrap();
        self.apply(node, actions);
        key
    }

    fn respond(&mut self, node: usize, key: &TransactionKey, resp: Response) {
        let actions = self.nodes[node].send_response(key, resp).unwrap();
        self.apply(node, actions);
    }

    fn sends(&self, node: usize, pred: impl Fn(&Message) -> bool) -> Vec<Duration> {
        self.wire
            .iter()
            .filter(|(_, n, m)| *n == node && pred(m))
            .map(|(t, ..)| *t)
            .collect()
    }

    fn requests_delivered(
        &self,
        node: usize,
        m: Method,
    ) -> Vec<(Duration, Option<TransactionKey>)> {
        self.delivered[node]
            .iter()
            .filter_map(|(t, k, d)| match d {
                Delivery::Request(r) if r.method == m => Some((*t, k.clone())),
                _ => None,
            })
            .collect()
    }

    fn responses_delivered(&self, node: usize) -> Vec<(Duration, u16)> {
        self.delivered[node]
            .iter()
            .filter_map(|(t, _, d)| match d {
                Delivery::Response(r) => Some((*t, r.status)),
                _ => None,
            })
            .collect()
    }

    fn count(&self, node: usize, ev: &Delivery) -> usize {
        self.delivered[node]
            .iter()
            .filter(|(_, _, d)| d == ev)
            .count()
    }
}

fn request(method: Method, branch: &str) -> Request {
    let mut r = Request::new(
        method.clone(),
        Uri::parse("sip:bob@127.0.0.1:5070").unwrap(),
    );
    r.headers.push(
        Hdr::Via,
        &format!("SIP/2.0/UDP 127.0.0.1:5060;branch={branch}"),
    );
    r.headers.push(Hdr::MaxForwards, "70");
    r.headers.push(Hdr::From, "<sip:alice@127.0.0.1>;tag=a1");
    r.headers.push(Hdr::To, "<sip:bob@127.0.0.1>");
    r.headers.push(Hdr::CallId, &format!("call-{branch}"));
    r.headers.push(Hdr::CSeq, &format!("1 {method}"));
    r
}

fn is_method(m: &Message, method: Method) -> bool {
    matches!(m, Message::Request(r) if r.method == method)
}
fn is_status(m: &Message, s: u16) -> bool {
    matches!(m, Message::Response(r) if r.status == s)
}

fn secs(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|&ms| MS(ms)).collect()
}

#[test]
fn invite_client_timer_a_doubles_and_timer_b_times_out() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    sim.drop = (0..100).map(|n| (0, n)).collect(); // every INVITE lost
    sim.send(0, request(Method::Invite, "z9hG4bKlost"));
    sim.advance(Duration::from_secs(40));
    // §17.1.1.2: A = T1, 2T1, 4T1…; B = 64*T1 = 32 s
    assert_eq!(
        sim.sends(0, |m| is_method(m, Method::Invite)),
        secs(&[0, 500, 1500, 3500, 7500, 15500, 31500])
    );
    assert_eq!(sim.count(0, &Delivery::Timeout), 1);
    assert_eq!(sim.count(0, &Delivery::Terminated), 1);
    let t = sim.delivered[0]
        .iter()
        .find(|(_, _, d)| *d == Delivery::Timeout)
        .unwrap()
        .0;
    assert_eq!(t, Duration::from_secs(32));
    assert!(sim.nodes[0].is_empty() && sim.timers[0].is_empty());
}

#[test]
fn configurable_t1_scales_timers() {
    let cfg = TimerConfig {
        t1: MS(100),
        t2: MS(400),
        t4: MS(1000),
    };
    let mut sim = Sim::new(cfg, false);
    sim.drop = (0..100).map(|n| (0, n)).collect();
    sim.send(0, request(Method::Options, "z9hG4bKt1"));
    sim.advance(Duration::from_secs(10));
    // E: 100, 200, 400, 400… until F = 6.4 s
    let s = sim.sends(0, |m| is_method(m, Method::Options));
    assert_eq!(&s[..5], &secs(&[0, 100, 300, 700, 1100])[..]);
    assert_eq!(*s.last().unwrap(), MS(6300));
    let t = sim.delivered[0]
        .iter()
        .find(|(_, _, d)| *d == Delivery::Timeout)
        .unwrap()
        .0;
    assert_eq!(t, MS(6400));
}

#[test]
fn invite_lost_twice_then_486_with_duplicates() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    sim.drop = vec![(0, 0), (0, 1)]; // first two INVITE copies lost
    sim.duplicate_responses = true;
    sim.send(0, request(Method::Invite, "z9hG4bKbusy"));
    sim.advance(MS(1600));
    // third copy at 1.5 s arrives; the UAS sees exactly one new INVITE
    let got = sim.requests_delivered(1, Method::Invite);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, MS(1500));
    let key = got[0].1.clone().unwrap();
    // UAS sends 100 itself (duplicated by the network): UAC delivers both 100s (1xx are not absorbed)
    assert_eq!(
        sim.responses_delivered(0),
        vec![(MS(1500), 100), (MS(1500), 100)]
    );
    // No more INVITE retransmissions after a provisional (timer A stopped).
    sim.advance(MS(5000));
    assert_eq!(sim.sends(0, |m| is_method(m, Method::Invite)).len(), 3);

    let req = sim.nodes[1].request(&key).unwrap().clone();
    sim.respond(1, &key, Response::for_request(&req, 486, Some("b1")));
    // UAC passes 486 up once, ACKs the original and the duplicate (§17.1.1.2)
    assert_eq!(
        sim.responses_delivered(0)
            .iter()
            .filter(|(_, s)| *s == 486)
            .count(),
        1
    );
    let acks = sim.sends(0, |m| is_method(m, Method::Ack));
    assert_eq!(acks.len(), 2);
    let ack = sim
        .wire
        .iter()
        .find(|(_, n, m)| *n == 0 && is_method(m, Method::Ack))
        .unwrap();
    let Message::Request(ack) = &ack.2 else {
        unreachable!()
    };
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    assert_eq!(ack.headers.top_via().unwrap().branch(), Some("z9hG4bKbusy"));
    assert_eq!(ack.headers.to().unwrap().tag(), Some("b1"));
    // The UAS got the ACK: Confirmed, so no 486 retransmission by timer G.
    sim.advance(Duration::from_secs(60));
    assert_eq!(sim.sends(1, |m| is_status(m, 486)).len(), 1);
    assert!(sim.nodes[0].is_empty() && sim.nodes[1].is_empty());
    // ACKs of a non-2xx never reach the UAS core
    assert!(sim.requests_delivered(1, Method::Ack).is_empty());
}

#[test]
fn invite_server_timer_g_until_ack_lost_then_h() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    // UAC's ACKs are all lost: node 0 sends INVITE (0) then ACKs (1..)
    sim.drop = (1..100).map(|n| (0, n)).collect();
    sim.send(0, request(Method::Invite, "z9hG4bKg"));
    let key = sim.requests_delivered(1, Method::Invite)[0]
        .1
        .clone()
        .unwrap();
    let req = sim.nodes[1].request(&key).unwrap().clone();
    sim.respond(1, &key, Response::for_request(&req, 603, Some("b")));
    sim.advance(Duration::from_secs(40));
    // §17.2.1: G = T1, doubling to T2; H = 64*T1
    let g = sim.sends(1, |m| is_status(m, 603));
    assert_eq!(&g[..6], &secs(&[0, 500, 1500, 3500, 7500, 11500])[..]);
    assert_eq!(*g.last().unwrap(), MS(31500));
    assert_eq!(sim.count(1, &Delivery::Timeout), 1);
    // UAC re-ACKed each retransmission and passed the 603 up only once
    assert_eq!(
        sim.responses_delivered(0)
            .iter()
            .filter(|(_, s)| *s == 603)
            .count(),
        1
    );
    assert_eq!(sim.sends(0, |m| is_method(m, Method::Ack)).len(), g.len());
}

#[test]
fn invite_2xx_accepted_state_rfc6026() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    sim.duplicate_responses = true;
    sim.send(0, request(Method::Invite, "z9hG4bKok"));
    let key = sim.requests_delivered(1, Method::Invite)[0]
        .1
        .clone()
        .unwrap();
    let req = sim.nodes[1].request(&key).unwrap().clone();
    sim.respond(1, &key, Response::for_request(&req, 200, Some("b")));
    // both copies of the 2xx go to the UAC core (it ACKs 2xx itself); no ACK from the transaction
    assert_eq!(
        sim.responses_delivered(0)
            .iter()
            .filter(|(_, s)| *s == 200)
            .count(),
        2
    );
    assert!(sim.sends(0, |m| is_method(m, Method::Ack)).is_empty());
    // a late INVITE retransmission is absorbed by the Accepted server transaction
    let again = Message::Request(req.clone());
    sim.receive(1, 0, again);
    assert_eq!(sim.sends(1, |m| is_status(m, 200)).len(), 1);
    assert_eq!(sim.requests_delivered(1, Method::Invite).len(), 1);
    // timers L and M end both sides after 64*T1
    sim.advance(MS(31_999));
    assert_eq!(sim.nodes[0].len() + sim.nodes[1].len(), 2);
    sim.advance(MS(32_000));
    assert!(sim.nodes[0].is_empty() && sim.nodes[1].is_empty());
    // a 2xx after M is a stray for the UA core
    let mut late = Response::for_request(&req, 200, Some("b"));
    late.headers.set(Hdr::To, "<sip:bob@127.0.0.1>;tag=b");
    sim.receive(0, 1, Message::Response(late));
    assert!(matches!(
        sim.delivered[0].last().unwrap().2,
        Delivery::StrayResponse(_)
    ));
}

#[test]
fn non_invite_retransmissions_and_absorption() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    sim.drop = vec![(0, 0), (0, 1), (0, 2)]; // BYE lost three times
    sim.duplicate_responses = true;
    sim.send(0, request(Method::Bye, "z9hG4bKbye"));
    sim.advance(MS(3600));
    assert_eq!(
        sim.sends(0, |m| is_method(m, Method::Bye)),
        secs(&[0, 500, 1500, 3500])
    );
    let got = sim.requests_delivered(1, Method::Bye);
    assert_eq!(got.len(), 1);
    let key = got[0].1.clone().unwrap();
    // a retransmission in Trying is absorbed (no response yet)
    sim.advance(MS(7600));
    assert_eq!(sim.requests_delivered(1, Method::Bye).len(), 1);
    assert!(sim.sends(1, |_| true).is_empty());
    let req = sim.nodes[1].request(&key).unwrap().clone();
    sim.respond(1, &key, Response::for_request(&req, 200, None));
    // the duplicated 200 is delivered once
    assert_eq!(sim.responses_delivered(0), vec![(MS(7600), 200)]);
    // UAS Completed: a retransmitted BYE gets the 200 again, not delivered
    sim.receive(1, 0, Message::Request(req));
    assert_eq!(sim.sends(1, |m| is_status(m, 200)).len(), 2);
    assert_eq!(sim.requests_delivered(1, Method::Bye).len(), 1);
    // K = T4 on the client, J = 64*T1 on the server
    sim.advance(MS(7600 + 5000));
    assert!(sim.nodes[0].is_empty());
    assert_eq!(sim.nodes[1].len(), 1);
    sim.advance(MS(7600 + 32_000));
    assert!(sim.nodes[1].is_empty());
}

#[test]
fn non_invite_proceeding_retransmits_every_t2() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    sim.send(0, request(Method::Info, "z9hG4bKinfo"));
    let key = sim.requests_delivered(1, Method::Info)[0]
        .1
        .clone()
        .unwrap();
    let req = sim.nodes[1].request(&key).unwrap().clone();
    sim.respond(1, &key, Response::for_request(&req, 100, None));
    sim.advance(MS(13_000));
    // E fired at 0.5 s (Proceeding → every T2 = 4 s): 0.5, 4.5, 8.5, 12.5
    assert_eq!(
        sim.sends(0, |m| is_method(m, Method::Info)),
        secs(&[0, 500, 4500, 8500, 12500])
    );
    // each retransmission re-sent the 100
    assert_eq!(sim.sends(1, |m| is_status(m, 100)).len(), 5);
}

#[test]
fn reliable_transport_has_no_retransmissions() {
    let mut sim = Sim::new(TimerConfig::default(), true);
    sim.drop = (0..100).map(|n| (0, n)).collect();
    sim.send(0, request(Method::Invite, "z9hG4bKtcp"));
    sim.advance(Duration::from_secs(40));
    assert_eq!(sim.sends(0, |m| is_method(m, Method::Invite)).len(), 1);
    assert_eq!(sim.count(0, &Delivery::Timeout), 1);

    let mut sim = Sim::new(TimerConfig::default(), true);
    sim.send(0, request(Method::Invite, "z9hG4bKtcp2"));
    let key = sim.requests_delivered(1, Method::Invite)[0]
        .1
        .clone()
        .unwrap();
    let req = sim.nodes[1].request(&key).unwrap().clone();
    sim.respond(1, &key, Response::for_request(&req, 486, Some("x")));
    // timer D and I are zero over reliable transports: both sides end at once
    assert!(sim.nodes[0].is_empty() && sim.nodes[1].is_empty());
}

#[test]
fn rfc2543_fallback_and_cancel_matching() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    // No magic cookie: matching by Request-URI, From tag, Call-ID, CSeq, Via.
    let mut old = request(Method::Invite, "old2543");
    old.headers.set(Hdr::Via, "SIP/2.0/UDP 127.0.0.1:5060");
    sim.receive(1, 0, Message::Request(old.clone()));
    sim.receive(1, 0, Message::Request(old.clone()));
    assert_eq!(sim.requests_delivered(1, Method::Invite).len(), 1);
    let key = sim.requests_delivered(1, Method::Invite)[0]
        .1
        .clone()
        .unwrap();
    assert!(matches!(key, TransactionKey::Rfc2543 { .. }));
    sim.respond(1, &key, Response::for_request(&old, 404, Some("t")));
    let mut ack = old.clone();
    ack.method = Method::Ack;
    ack.headers.set(Hdr::CSeq, "1 ACK");
    ack.headers.set(Hdr::To, "<sip:bob@127.0.0.1>;tag=t");
    sim.receive(1, 0, Message::Request(ack));
    // ACK matched the INVITE server transaction: no delivery, no more 404s
    assert!(sim.requests_delivered(1, Method::Ack).is_empty());
    sim.advance(Duration::from_secs(40));
    assert_eq!(sim.sends(1, |m| is_status(m, 404)).len(), 1);

    // CANCEL matches the INVITE server transaction with the same branch (§9.2)
    let inv = request(Method::Invite, "z9hG4bKcxl");
    sim.receive(1, 0, Message::Request(inv.clone()));
    let mut cancel = inv.clone();
    cancel.method = Method::Cancel;
    cancel.headers.set(Hdr::CSeq, "1 CANCEL");
    let (k, target) = sim.nodes[1].cancel_target(&cancel).expect("cancel target");
    assert_eq!(target.method, Method::Invite);
    assert!(sim.nodes[1].is_proceeding(&k));
    // the CANCEL is its own non-INVITE server transaction
    sim.receive(1, 0, Message::Request(cancel.clone()));
    let ck = sim.requests_delivered(1, Method::Cancel)[0]
        .1
        .clone()
        .unwrap();
    assert_ne!(ck, k);
    let mut other = cancel.clone();
    other
        .headers
        .set(Hdr::Via, "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKother");
    assert!(sim.nodes[1].cancel_target(&other).is_none());
}

/// A TU that keeps responses rather than transaction keys (as `mgc`'s gateway core does)
/// answers through `server_key_for`: RFC 3261 and RFC 2543 requests (§17.2.3: no branch, or a
/// branch without the magic cookie; two differing only in Request-URI), INVITE and non-INVITE,
/// answered 2xx and non-2xx and ACKed, all end once their terminal timers (L, I, J; RFC 6026)
/// have run on the virtual clock: no transaction and no timer is left.
#[test]
fn a_tu_answering_by_response_ends_every_transaction() {
    let mut sim = Sim::new(TimerConfig::default(), false);
    let old = |method: Method, call: &str, via: &str, uri: &str| {
        let mut r = request(method, call);
        r.uri = Uri::parse(uri).unwrap();
        r.headers.set(Hdr::Via, via);
        r
    };
    let no_branch = "SIP/2.0/UDP 127.0.0.1:5060";
    let requests = [
        (request(Method::Invite, "z9hG4bKi1"), 200),
        (request(Method::Invite, "z9hG4bKi2"), 486),
        (request(Method::Options, "z9hG4bKo1"), 200),
        (
            old(Method::Invite, "oi1", no_branch, "sip:bob@127.0.0.1"),
            200,
        ),
        (
            old(Method::Invite, "oi2", no_branch, "sip:bob@127.0.0.1"),
            404,
        ),
        (old(Method::Bye, "ob", no_branch, "sip:bob@127.0.0.1"), 200),
        (
            old(
                Method::Options,
                "oo",
                "SIP/2.0/UDP h:5060;branch=1",
                "sip:a@x",
            ),
            200,
        ),
        (
            old(
                Method::Options,
                "oo",
                "SIP/2.0/UDP h:5060;branch=1",
                "sip:b@x",
            ),
            200,
        ),
    ];
    for (r, _) in &requests {
        sim.receive(1, 0, Message::Request(r.clone()));
    }
    assert_eq!(sim.nodes[1].len(), requests.len());
    for (r, status) in &requests {
        let resp = Response::for_request(r, *status, Some("t"));
        let key = sim.nodes[1]
            .server_key_for(&resp)
            .unwrap_or_else(|| panic!("no transaction for the {status} to {}", r.method));
        if matches!(key, TransactionKey::Rfc2543 { .. }) {
            // The key of a response alone (what the TU had before) cannot name it.
            assert!(TransactionKey::for_server_response(&resp).is_err());
        }
        sim.respond(1, &key, resp.clone());
        if r.method == Method::Invite {
            // The ACK (§17.1.1.3 for non-2xx, §13.2.2.4 for 2xx): same Via for non-2xx.
            let mut ack = r.clone();
            ack.method = Method::Ack;
            ack.headers.set(Hdr::CSeq, "1 ACK");
            ack.headers.set(Hdr::To, "<sip:bob@127.0.0.1>;tag=t");
            sim.receive(1, 0, Message::Request(ack));
        }
    }
    for (_, status) in &requests {
        let n = requests.iter().filter(|(_, s)| s == status).count();
        assert_eq!(sim.sends(1, |m| is_status(m, *status)).len(), n, "{status}");
    }
    // Every one has its final response; none is left once the timers have run.
    assert_eq!(sim.nodes[1].len(), requests.len());
    sim.advance(Duration::from_secs(40));
    assert!(
        sim.nodes[1].is_empty(),
        "{} transactions left",
        sim.nodes[1].len()
    );
    assert!(
        sim.timers[1].is_empty(),
        "{} timers left",
        sim.timers[1].len()
    );
    assert_eq!(
        sim.count(1, &Delivery::Terminated),
        requests.len(),
        "each ended once"
    );
    // A response to a transaction that has ended names none (RFC 6026 §8.1: the TU's 2xx
    // retransmission then goes to the transport).
    let late = Response::for_request(&requests[0].0, 200, Some("t"));
    assert_eq!(sim.nodes[1].server_key_for(&late), None);
}

#[test]
fn timer_values_of_rfc3261_table_4() {
    let c = TimerConfig::default();
    assert_eq!(c.t1x64(), Duration::from_secs(32));
    assert_eq!(c.timer_d(), Duration::from_secs(32));
    let fast = TimerConfig { t1: MS(50), ..c };
    assert_eq!(fast.timer_d(), Duration::from_secs(32)); // D is at least 32 s
    let _ = Timer::M;
}

mod random_order {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any interleaving of requests, responses, losses and clock steps:
        /// nothing panics, and once the TU has answered everything, every
        /// transaction on both sides terminates and leaves no timer behind.
        #[test]
        fn every_transaction_terminates(ops in proptest::collection::vec((0u8..7, 0usize..4, 0u64..5000), 1..40),
                                        reliable in any::<bool>(), drops in proptest::collection::vec(0usize..40, 0..6)) {
            let mut sim = Sim::new(TimerConfig::default(), reliable);
            sim.drop = drops.iter().map(|&n| (0, n)).chain(drops.iter().map(|&n| (1, n + 1))).collect();
            let statuses = [100u16, 180, 200, 486];
            let mut n = 0u32;
            for (op, pick, ms) in ops {
                n += 1;
                match op {
                    0 => { sim.send(0, request(Method::Invite, &format!("z9hG4bKi{n}"))); }
                    1 => { sim.send(0, request(Method::Options, &format!("z9hG4bKo{n}"))); }
                    2 | 3 => {
                        // the UAS core answers some delivered request
                        let keys: Vec<TransactionKey> = sim.delivered[1].iter().filter_map(|(_, k, _)| k.clone()).collect();
                        if let Some(k) = keys.get(pick % keys.len().max(1)) {
                            if let Some(req) = sim.nodes[1].request(k).cloned() {
                                let st = statuses[pick];
                                if let Ok(a) = sim.nodes[1].send_response(k, Response::for_request(&req, st, Some("t"))) {
                                    sim.apply(1, a);
                                }
                            }
                        }
                    }
                    4 => {
                        // a CANCEL for the last INVITE, or a duplicate of some request
                        let last = sim.wire.iter().rev().find(|(_, node, m)| *node == 0 && m.is_request()).map(|(_, _, m)| m.clone());
                        if let Some(Message::Request(r)) = last {
                            sim.receive(1, 0, Message::Request(r));
                        }
                    }
                    _ => {
                        let to = sim.now + MS(ms);
                        sim.advance(to);
                    }
                }
            }
            // the TU answers whatever is pending (requests retransmitted
            // after a loss arrive late, so repeat), while time runs out
            for _ in 0..4 {
                let keys: Vec<TransactionKey> = sim.delivered[1].iter().filter_map(|(_, k, _)| k.clone()).collect();
                for k in keys {
                    if let Some(req) = sim.nodes[1].request(&k).cloned() {
                        if let Ok(a) = sim.nodes[1].send_response(&k, Response::for_request(&req, 500, Some("t"))) {
                            sim.apply(1, a);
                        }
                    }
                }
                let end = sim.now + Duration::from_secs(40);
                sim.advance(end);
            }
            prop_assert!(sim.nodes[0].is_empty(), "client side left {} transactions", sim.nodes[0].len());
            prop_assert!(sim.nodes[1].is_empty(), "server side left {} transactions", sim.nodes[1].len());
            prop_assert!(sim.timers[0].is_empty() && sim.timers[1].is_empty());
        }
    }
}
