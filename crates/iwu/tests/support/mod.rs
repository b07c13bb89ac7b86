//! Test harness: an engine on a virtual clock, a timer wheel, peer-side message builders and a
//! ladder recorder (docs/call-flows.md is rendered from these ladders).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use isup::{Message, MessageType};
use iwu::{
    Action, CallRecord, Cic, CircuitId, CircuitPool, Engine, Event, IwuConfig, MemoryPool, TimerKey,
};
use sip::header::{Hdr, NameAddr};
use sip::{Method, Request, Response, Uri};

pub const CONFIG: &str = r#"
[local]
host = "192.0.2.10"

[timers]
t7 = 20
t9 = 90

[[trunk_groups]]
name = "tg1"
dpc = 2
cics = [[1, 31]]
sip_peer = "sipi"
country_code = "49"
media = { address = "192.0.2.50", rtp_port_min = 40000, rtp_port_max = 40100 }

[[trunk_groups]]
name = "tg2"
dpc = 2
cics = [[33, 34]]
sip_peer = "plain"
country_code = "49"
media = { address = "192.0.2.50", rtp_port_min = 41000, rtp_port_max = 41100 }

[[peers]]
name = "sipi"
host = "192.0.2.20"
trunk_group = "tg1"
profile = "sip-i"
trusted = true

[[peers]]
name = "plain"
host = "192.0.2.30"
trunk_group = "tg2"
profile = "sip"
uri_form = "tel"

[[peers]]
name = "q"
host = "192.0.2.40"
trunk_group = "tg1"
profile = "sip"
cause_profile = "q1912"
"#;

pub fn config() -> IwuConfig {
    toml::from_str(CONFIG).expect("test config")
}

/// The exchange at the far end of tg1 and tg2.
pub const DPC: u32 = 2;

/// Circuit `cic` toward [`DPC`].
pub fn circuit(cic: Cic) -> CircuitId {
    CircuitId { dpc: DPC, cic }
}

/// What [`Harness::isup`] takes: a circuit, or a CIC toward [`DPC`].
pub trait IntoCircuit {
    fn into_circuit(self) -> CircuitId;
}

impl IntoCircuit for CircuitId {
    fn into_circuit(self) -> CircuitId {
        self
    }
}

impl IntoCircuit for Cic {
    fn into_circuit(self) -> CircuitId {
        circuit(self)
    }
}

/// One arrow of a ladder: P = PSTN, G = gateway, S = SIP peer.
#[derive(Debug, Clone)]
pub struct Step {
    pub from: char,
    pub to: char,
    pub label: String,
}

pub struct Harness {
    pub engine: Engine,
    pub pool: MemoryPool,
    pub now: Duration,
    pub timers: BTreeMap<TimerKey, Duration>,
    pub ladder: Vec<Step>,
    pub records: Vec<CallRecord>,
    pub idle: Vec<CircuitId>,
    pub alerts: Vec<CircuitId>,
}

pub fn isup_label(m: &Message) -> String {
    let t = m.message_type;
    let mut s = t.to_string();
    if let Some((c, _)) = iwu::msgs::cause_of(m) {
        s += &format!(" (cause {c})");
    }
    if t == MessageType::ACM {
        if let Some(b) = m.get::<isup::BackwardCallIndicators>() {
            s += &format!(" (status {})", b.called_party_status);
        }
    }
    if t == MessageType::CPG {
        if let Some(e) = m.get::<isup::EventInformation>() {
            s += &format!(" (event {})", e.event_indicator);
        }
    }
    s
}

fn has_isup(h: &sip::Headers, body: &[u8]) -> bool {
    sip::SipBody::parse(h, body)
        .ok()
        .and_then(|b| b.isup())
        .is_some()
}

fn has_sdp(h: &sip::Headers, body: &[u8]) -> bool {
    sip::SipBody::parse(h, body)
        .ok()
        .and_then(|b| b.sdp())
        .is_some()
}

fn body_label(h: &sip::Headers, body: &[u8]) -> String {
    let mut parts = Vec::new();
    if has_sdp(h, body) {
        parts.push("SDP".to_string());
    }
    if let Some(i) = sip::SipBody::parse(h, body).ok().and_then(|b| b.isup()) {
        let t = Message::parse(i.data)
            .map(|m| m.message_type.to_string())
            .unwrap_or_else(|_| "ISUP?".into());
        parts.push(t);
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join("+"))
    }
}

pub fn req_label(r: &Request) -> String {
    let mut s = r.method.to_string();
    if let Some(c) = r.headers.q850_cause() {
        s += &format!(" (Reason {c})");
    }
    s + &body_label(&r.headers, &r.body)
}

pub fn resp_label(r: &Response) -> String {
    let cseq = r
        .headers
        .cseq()
        .map(|c| c.method.to_string())
        .unwrap_or_default();
    let mut s = format!(
        "{} {}",
        r.status,
        if cseq == "INVITE" {
            String::new()
        } else {
            format!("({cseq})")
        }
    );
    s = s.trim_end().to_string();
    if r.headers.has_option(Hdr::Require, "100rel") {
        s += " rel";
    }
    if let Some(c) = r.headers.q850_cause() {
        s += &format!(" (Reason {c})");
    }
    s + &body_label(&r.headers, &r.body)
}

impl Harness {
    pub fn new() -> Harness {
        Self::with_config(config())
    }

    pub fn with_config(cfg: IwuConfig) -> Harness {
        let mut pool = MemoryPool::new();
        pool.add("tg1", (1..=31).map(circuit));
        pool.add("tg2", (33..=34).map(circuit));
        Harness {
            engine: Engine::new(cfg, 42).expect("engine"),
            pool,
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            ladder: Vec::new(),
            records: Vec::new(),
            idle: Vec::new(),
            alerts: Vec::new(),
        }
    }

    /// Feed an event; returns the actions, also applied to the timer wheel and the ladder.
    pub fn feed(&mut self, ev: Event) -> Vec<Action> {
        match &ev {
            Event::Isup { msg, .. } => self.step('P', 'G', isup_label(msg)),
            Event::SipRequest { request, .. } => self.step('S', 'G', req_label(request)),
            Event::SipResponse(r) => self.step('S', 'G', resp_label(r)),
            Event::SipTimeout { method, .. } => self.step('S', 'G', format!("(timeout {method})")),
            Event::Timer(k) => self.step('G', 'G', format!("{:?} expires", k.timer)),
            Event::CircuitReset { .. } => self.step('P', 'G', "RSC (maintenance reset)".into()),
            Event::Reattempt { circuit } => {
                self.step('P', 'G', format!("IAM glare on CIC {}", circuit.cic))
            }
            Event::RepeatAttempt { circuit, .. } => {
                self.step('P', 'G', format!("BLO after IAM on CIC {}", circuit.cic))
            }
            Event::ReleaseCall { .. } => self.step('G', 'G', "operator release".into()),
            Event::SignallingLost => self.step('P', 'G', "(M3UA association lost)".into()),
        }
        if let Event::Isup { circuit, msg } = &ev {
            // The circuit manager marks a circuit seized by the far end busy.
            if msg.message_type == isup::MessageType::IAM && !self.engine.circuit_in_use(*circuit) {
                self.pool.take(*circuit);
            }
        }
        let acts = self.engine.handle(self.now, ev, &mut self.pool);
        for a in &acts {
            match a {
                Action::SendIsup { msg, .. } => self.step('G', 'P', isup_label(msg)),
                Action::SendRequest { request, .. } => self.step('G', 'S', req_label(request)),
                Action::SendResponse(r) => self.step('G', 'S', resp_label(r)),
                Action::StartTimer { key, after } => {
                    self.timers.insert(*key, self.now + *after);
                }
                Action::StopTimer { key } => {
                    self.timers.remove(key);
                }
                Action::CircuitIdle { circuit } => {
                    self.pool.release(*circuit);
                    self.idle.push(*circuit);
                }
                Action::MaintenanceAlert { circuit, .. } => self.alerts.push(*circuit),
                Action::CallRecord(r) => self.records.push(r.clone()),
            }
        }
        acts
    }

    fn step(&mut self, from: char, to: char, label: String) {
        self.ladder.push(Step { from, to, label });
    }

    /// Advance the virtual clock, firing due timers in deadline order.
    pub fn advance(&mut self, d: Duration) -> Vec<Action> {
        let end = self.now + d;
        let mut all = Vec::new();
        loop {
            let due = self
                .timers
                .iter()
                .filter(|(_, t)| **t <= end)
                .min_by_key(|(_, t)| **t)
                .map(|(k, t)| (*k, *t));
            let Some((k, t)) = due else { break };
            self.timers.remove(&k);
            self.now = t;
            all.extend(self.feed(Event::Timer(k)));
        }
        self.now = end;
        all
    }

    /// ISUP from the far exchange on a circuit (a bare CIC: toward [`DPC`]).
    pub fn isup(&mut self, circuit: impl IntoCircuit, msg: Message) -> Vec<Action> {
        self.feed(Event::Isup {
            circuit: circuit.into_circuit(),
            msg,
        })
    }

    pub fn request(&mut self, r: Request) -> Vec<Action> {
        self.feed(Event::SipRequest {
            request: r,
            peer: None,
        })
    }

    pub fn response(&mut self, r: Response) -> Vec<Action> {
        self.feed(Event::SipResponse(r))
    }

    pub fn ladder_text(&self) -> String {
        render_ladder(&self.ladder)
    }
}

/// Render a ladder with three columns: PSTN, MGC (the gateway), SIP peer.
pub fn render_ladder(steps: &[Step]) -> String {
    const POS: [usize; 3] = [0, 34, 68];
    let col = |c: char| match c {
        'P' => 0,
        'G' => 1,
        _ => 2,
    };
    let mut out = format!("{:<34}{:<34}{}\n", "PSTN", "MGC", "SIP peer");
    for s in steps {
        let mut line = vec![' '; POS[2] + 1];
        for p in POS {
            line[p] = '|';
        }
        let (a, b) = (col(s.from), col(s.to));
        let mut tail = String::new();
        if a == b {
            tail = format!(" <{}>", s.label);
            let x = POS[a];
            // Write the note right of the column line, over the blanks.
            for (i, ch) in tail.chars().enumerate() {
                if x + 1 + i < POS[2] && line[x + 1 + i] == ' ' {
                    line[x + 1 + i] = ch;
                }
            }
            if x + tail.chars().count() < POS[(a + 1).min(2)] {
                tail.clear();
            } else {
                tail = String::new();
            }
        } else {
            let (l, r) = (POS[a.min(b)], POS[a.max(b)]);
            for item in line.iter_mut().take(r).skip(l + 1) {
                *item = '-';
            }
            if a < b {
                line[r - 1] = '>';
            } else {
                line[l + 1] = '<';
            }
            let label: Vec<char> = format!(" {} ", s.label).chars().collect();
            let room = r - l - 5;
            for (i, ch) in label.iter().take(room).enumerate() {
                line[l + 3 + i] = *ch;
            }
            if label.len() > room {
                tail = format!(" {}", label[room..].iter().collect::<String>().trim_end());
            }
        }
        let text: String = line.into_iter().collect();
        out.push_str(text.trim_end());
        out.push_str(&tail);
        out.push('\n');
    }
    out
}

// ----- builders -----

pub fn digits(s: &str) -> isup::Digits {
    iwu::number::text_to_signals(s).unwrap()
}

pub fn iam(called: &str, calling: Option<(&str, u8)>) -> Message {
    let cdpn = iwu::number::called_party(3, digits(called), false);
    let cgpn = calling.map(|(d, apri)| iwu::number::calling_party(3, digits(d), apri, 3));
    iwu::msgs::iam(false, false, cdpn, cgpn)
}

pub fn rel(cause: u8) -> Message {
    iwu::msgs::rel(cause, 2)
}

pub fn find_isup(acts: &[Action], t: MessageType) -> Option<(CircuitId, Message)> {
    acts.iter().find_map(|a| match a {
        Action::SendIsup { circuit, msg } if msg.message_type == t => Some((*circuit, msg.clone())),
        _ => None,
    })
}

pub fn find_request(acts: &[Action], m: Method) -> Option<Request> {
    acts.iter().find_map(|a| match a {
        Action::SendRequest { request, .. } if request.method == m => Some(request.clone()),
        _ => None,
    })
}

pub fn find_response(acts: &[Action], status: u16) -> Option<Response> {
    acts.iter().find_map(|a| match a {
        Action::SendResponse(r) if r.status == status => Some(r.clone()),
        _ => None,
    })
}

pub fn responses(acts: &[Action]) -> Vec<u16> {
    acts.iter()
        .filter_map(|a| match a {
            Action::SendResponse(r) => Some(r.status),
            _ => None,
        })
        .collect()
}

/// A response of the SIP peer to a request the gateway sent.
pub fn peer_response(req: &Request, status: u16) -> Response {
    let mut r = Response::for_request(req, status, Some("peer-tag"));
    if (101..300).contains(&status) {
        r.headers.push(Hdr::Contact, "<sip:peer@192.0.2.20>");
    }
    r
}

pub const OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
pub const ANSWER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8\r\n";

/// An INVITE from a peer (`host` = its Via host, which the engine matches to a peer).
pub fn invite(host: &str, ruri: &str, from: &str, call_id: &str) -> Request {
    let mut r = Request::new(Method::Invite, Uri::parse(ruri).unwrap());
    let h = &mut r.headers;
    h.push(
        Hdr::Via,
        &format!("SIP/2.0/UDP {host}:5060;branch=z9hG4bK-{call_id}"),
    );
    h.push(Hdr::MaxForwards, "70");
    h.push(Hdr::From, &format!("<{from}>;tag=caller"));
    h.push(Hdr::To, &format!("<{ruri}>"));
    h.push(Hdr::CallId, call_id);
    h.push(Hdr::CSeq, "1 INVITE");
    h.push(Hdr::Contact, &format!("<sip:caller@{host}>"));
    r.set_body(Some("application/sdp"), OFFER.to_vec());
    r
}

/// An in-dialog request from the peer toward the gateway (dialog from the gateway's response).
pub fn in_dialog(invite: &Request, resp: &Response, method: Method, seq: u32) -> Request {
    let mut r = Request::new(method.clone(), Uri::parse("sip:192.0.2.10").unwrap());
    let h = &mut r.headers;
    h.push(
        Hdr::Via,
        &format!("SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bK-{method}-{seq}"),
    );
    h.push(Hdr::MaxForwards, "70");
    h.push(Hdr::From, invite.headers.get(Hdr::From).unwrap());
    h.push(Hdr::To, resp.headers.get(Hdr::To).unwrap());
    h.push(Hdr::CallId, invite.headers.get(Hdr::CallId).unwrap());
    h.push(Hdr::CSeq, &format!("{seq} {method}"));
    r
}

/// CANCEL for an INVITE we (the test peer) sent.
pub fn cancel(invite: &Request) -> Request {
    sip::dialog::cancel_for(invite)
}

/// Request from the peer in a dialog the gateway created as UAC (its INVITE, our 2xx).
pub fn in_dialog_uac(gw_invite: &Request, method: Method, seq: u32) -> Request {
    let mut r = Request::new(method.clone(), Uri::parse("sip:192.0.2.10").unwrap());
    let h = &mut r.headers;
    h.push(
        Hdr::Via,
        &format!("SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-p{method}{seq}"),
    );
    h.push(Hdr::MaxForwards, "70");
    let mut from = NameAddr::parse(gw_invite.headers.get(Hdr::To).unwrap()).unwrap();
    from.set_tag("peer-tag");
    h.push(Hdr::From, &from.to_string());
    h.push(Hdr::To, gw_invite.headers.get(Hdr::From).unwrap());
    h.push(Hdr::CallId, gw_invite.headers.get(Hdr::CallId).unwrap());
    h.push(Hdr::CSeq, &format!("{seq} {method}"));
    r
}

/// Attach an ISUP body (single part) to a request or response.
pub fn isup_body(
    h: &mut sip::Headers,
    body: &mut Vec<u8>,
    msg: &[u8],
    version: &str,
    handling: &str,
) {
    h.set(
        Hdr::ContentType,
        &format!("application/ISUP;version={version}"),
    );
    h.set(
        Hdr::ContentDisposition,
        &format!("signal;handling={handling}"),
    );
    h.set(Hdr::ContentLength, &msg.len().to_string());
    *body = msg.to_vec();
}
