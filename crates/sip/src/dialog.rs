//! Dialogs and UA-core helpers (RFC 3261 §12, §13, §9; RFC 3262 100rel).
//! Sans-IO: builders return messages; the retransmitters return
//! [`UaAction`]s driven by the same timers-as-events model as transactions.

use crate::header::{CSeq, Contact, Hdr, NameAddr, RAck, Via};
use crate::message::{Request, Response};
use crate::method::Method;
use crate::transaction::{TimerConfig, new_branch, new_tag};
use crate::uri::{Host, SipUri, Uri};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("message lacks a usable {0}")]
    Missing(&'static str),
    #[error("response does not create a dialog")]
    NotDialogCreating,
    #[error("in-dialog request CSeq {got} is not above {last} (RFC 3261 §12.2.2)")]
    CSeqOutOfOrder { got: u32, last: u32 },
    #[error("request does not belong to this dialog")]
    WrongDialog,
}

/// Where this UA is reachable: used for Via sent-by and Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEndpoint {
    /// `UDP` or `TCP`.
    pub transport: String,
    pub host: Host,
    pub port: u16,
}

impl LocalEndpoint {
    /// A Via for a new client transaction, with `rport` (RFC 3581).
    pub fn via(&self, branch: &str) -> Via {
        let mut v = Via::new(&self.transport, self.host.clone(), Some(self.port), branch);
        v.params.set("rport", None);
        v
    }
    /// Contact URI for this endpoint.
    pub fn contact(&self, user: Option<&str>) -> NameAddr {
        let mut u = SipUri::new(self.host.clone());
        u.user = user.map(str::to_string);
        u.port = Some(self.port);
        if !self.transport.eq_ignore_ascii_case("UDP") {
            u.params
                .set("transport", Some(&self.transport.to_ascii_lowercase()));
        }
        NameAddr::new(Uri::Sip(u))
    }
}

/// RFC 3261 §12: Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// For a request received by a UAS: local = To tag, remote = From tag.
    pub fn for_incoming_request(req: &Request) -> Option<DialogId> {
        let h = &req.headers;
        Some(DialogId {
            call_id: h.call_id().ok()?.to_string(),
            local_tag: h.to().ok()?.tag()?.to_string(),
            remote_tag: h.from().ok()?.tag()?.to_string(),
        })
    }
    /// For a response received by a UAC: local = From tag, remote = To tag.
    pub fn for_incoming_response(resp: &Response) -> Option<DialogId> {
        let h = &resp.headers;
        Some(DialogId {
            call_id: h.call_id().ok()?.to_string(),
            local_tag: h.from().ok()?.tag()?.to_string(),
            remote_tag: h.to().ok()?.tag()?.to_string(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// One dialog (RFC 3261 §12.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Last CSeq number used by us.
    pub local_seq: u32,
    /// Last CSeq number seen from the peer (None until it sends one).
    pub remote_seq: Option<u32>,
    /// Our URI (From when we send), without tag.
    pub local_uri: NameAddr,
    /// Peer URI (To when we send), without tag.
    pub remote_uri: NameAddr,
    /// Where in-dialog requests go: the peer's Contact.
    pub remote_target: Uri,
    /// Route set, in the order requests carry it.
    pub route_set: Vec<NameAddr>,
    pub secure: bool,
    pub local_contact: NameAddr,
    /// RFC 3262 §4: highest RSeq received in order (UAC side).
    pub last_rseq: Option<u32>,
}

fn strip_tag(mut n: NameAddr) -> NameAddr {
    n.params.remove("tag");
    n
}

/// Drops the spare capacity parsing leaves in parameter lists (a list grows to four entries
/// on its first): a dialog lives as long as its call.
fn compact_uri(u: &mut Uri) {
    match u {
        Uri::Sip(s) => {
            s.params.0.shrink_to_fit();
            s.headers.shrink_to_fit();
        }
        Uri::Tel(t) => t.params.0.shrink_to_fit(),
        Uri::Other(o) => o.shrink_to_fit(),
    }
}

fn compact(n: &mut NameAddr) {
    n.params.0.shrink_to_fit();
    compact_uri(&mut n.uri);
}

impl Dialog {
    fn compacted(mut self) -> Dialog {
        compact(&mut self.local_uri);
        compact(&mut self.remote_uri);
        compact(&mut self.local_contact);
        compact_uri(&mut self.remote_target);
        self.route_set.iter_mut().for_each(compact);
        self.route_set.shrink_to_fit();
        self
    }
}

fn contact_uri(h: &crate::header::Headers) -> Option<Uri> {
    h.contact().ok()?.into_iter().find_map(|c| match c {
        Contact::Addr(a) => Some(a.uri),
        Contact::Star => None,
    })
}

impl Dialog {
    /// UAC side (§12.1.2), from a 101-199 with To tag or a 2xx.
    pub fn uac(
        invite: &Request,
        resp: &Response,
        local_contact: NameAddr,
    ) -> Result<Dialog, DialogError> {
        if !(101..300).contains(&resp.status) {
            return Err(DialogError::NotDialogCreating);
        }
        let id =
            DialogId::for_incoming_response(resp).ok_or(DialogError::Missing("tags or Call-ID"))?;
        let rh = &resp.headers;
        // route set = Record-Route of the response, reversed
        let mut route_set = rh
            .record_route()
            .map_err(|_| DialogError::Missing("Record-Route"))?;
        route_set.reverse();
        let remote_target = contact_uri(rh).ok_or(DialogError::Missing("Contact"))?;
        let local_seq = invite
            .headers
            .cseq()
            .map_err(|_| DialogError::Missing("CSeq"))?
            .seq;
        Ok(Dialog {
            id,
            state: if resp.status >= 200 {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq,
            remote_seq: None,
            local_uri: strip_tag(
                invite
                    .headers
                    .from()
                    .map_err(|_| DialogError::Missing("From"))?,
            ),
            remote_uri: strip_tag(rh.to().map_err(|_| DialogError::Missing("To"))?),
            secure: matches!(&invite.uri, Uri::Sip(u) if u.secure),
            remote_target,
            route_set,
            local_contact,
            last_rseq: None,
        }
        .compacted())
    }

    /// UAS side (§12.1.1), when answering with a tagged 1xx or a 2xx.
    pub fn uas(
        invite: &Request,
        local_tag: &str,
        local_contact: NameAddr,
    ) -> Result<Dialog, DialogError> {
        let h = &invite.headers;
        let from = h.from().map_err(|_| DialogError::Missing("From"))?;
        let remote_tag = from
            .tag()
            .ok_or(DialogError::Missing("From tag"))?
            .to_string();
        Ok(Dialog {
            id: DialogId {
                call_id: h
                    .call_id()
                    .map_err(|_| DialogError::Missing("Call-ID"))?
                    .to_string(),
                local_tag: local_tag.to_string(),
                remote_tag,
            },
            state: DialogState::Early,
            local_seq: 0,
            remote_seq: Some(h.cseq().map_err(|_| DialogError::Missing("CSeq"))?.seq),
            local_uri: strip_tag(h.to().map_err(|_| DialogError::Missing("To"))?),
            remote_uri: strip_tag(from),
            remote_target: contact_uri(h).ok_or(DialogError::Missing("Contact"))?,
            // route set = Record-Route of the request, in order
            route_set: h
                .record_route()
                .map_err(|_| DialogError::Missing("Record-Route"))?,
            secure: matches!(&invite.uri, Uri::Sip(u) if u.secure),
            local_contact,
            last_rseq: None,
        }
        .compacted())
    }

    /// A response in this dialog (UAC): 2xx confirms; Contact refreshes the
    /// target (§12.2.1.2).
    pub fn on_response(&mut self, resp: &Response) {
        if (200..300).contains(&resp.status) && self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
        if resp.status < 300 {
            if let Some(t) = contact_uri(&resp.headers) {
                self.remote_target = t;
            }
        }
    }

    /// A request received in this dialog (§12.2.2): CSeq must grow (ACK and
    /// CANCEL reuse the INVITE's number); target refresh on re-INVITE/UPDATE.
    pub fn on_request(&mut self, req: &Request) -> Result<(), DialogError> {
        let c = req
            .headers
            .cseq()
            .map_err(|_| DialogError::Missing("CSeq"))?;
        if !matches!(req.method, Method::Ack | Method::Cancel) {
            if let Some(last) = self.remote_seq {
                if c.seq <= last {
                    return Err(DialogError::CSeqOutOfOrder { got: c.seq, last });
                }
            }
            self.remote_seq = Some(c.seq);
        }
        if matches!(req.method, Method::Invite | Method::Update) {
            if let Some(t) = contact_uri(&req.headers) {
                self.remote_target = t;
            }
        }
        if req.method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    /// Request-URI and Route headers per §12.2.1.1 (loose and strict routing).
    fn target_and_routes(&self) -> (Uri, Vec<String>) {
        match self.route_set.first() {
            Some(first) if !matches!(&first.uri, Uri::Sip(u) if u.is_lr()) => {
                // strict router: it becomes the Request-URI, remote target goes last
                let mut routes: Vec<String> =
                    self.route_set[1..].iter().map(|r| r.to_string()).collect();
                routes.push(format!("<{}>", self.remote_target));
                (first.uri.clone(), routes)
            }
            _ => (
                self.remote_target.clone(),
                self.route_set.iter().map(|r| r.to_string()).collect(),
            ),
        }
    }

    fn build(&self, method: Method, seq: u32, local: &LocalEndpoint, branch: &str) -> Request {
        let (uri, routes) = self.target_and_routes();
        let mut r = Request::new(method.clone(), uri);
        let h = &mut r.headers;
        h.push(Hdr::Via, &local.via(branch).to_string());
        h.push(Hdr::MaxForwards, "70");
        for rt in &routes {
            h.push(Hdr::Route, rt);
        }
        let mut from = self.local_uri.clone();
        from.set_tag(&self.id.local_tag);
        h.push(Hdr::From, &from.to_string());
        let mut to = self.remote_uri.clone();
        to.set_tag(&self.id.remote_tag);
        h.push(Hdr::To, &to.to_string());
        h.push(Hdr::CallId, &self.id.call_id);
        h.push(Hdr::CSeq, &CSeq::new(seq, method.clone()).to_string());
        if matches!(
            method,
            Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
        ) {
            h.push(Hdr::Contact, &self.local_contact.to_string());
        }
        r
    }

    /// A new in-dialog request (BYE, INFO, re-INVITE, UPDATE, PRACK…) with the
    /// next local CSeq (§12.2.1.1).
    pub fn new_request(&mut self, method: Method, local: &LocalEndpoint) -> Request {
        self.local_seq += 1;
        let r = self.build(method.clone(), self.local_seq, local, &new_branch());
        if method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        r
    }

    /// ACK for a 2xx (§13.2.2.4): the INVITE's CSeq number, a new branch.
    pub fn ack(&self, invite_seq: u32, local: &LocalEndpoint) -> Request {
        let mut r = self.build(Method::Ack, invite_seq, local, &new_branch());
        r.headers.remove(Hdr::Contact);
        r
    }

    /// RFC 3262 §4: decides what to do with a provisional response carrying
    /// `Require: 100rel`. Returns the PRACK to send for a new in-order
    /// response; `Ok(None)` for a retransmission or out-of-order one, which
    /// must not be passed up.
    pub fn prack_for(
        &mut self,
        resp: &Response,
        local: &LocalEndpoint,
    ) -> Result<Option<Request>, DialogError> {
        let rseq = resp
            .headers
            .rseq()
            .ok()
            .flatten()
            .ok_or(DialogError::Missing("RSeq"))?;
        let cseq = resp
            .headers
            .cseq()
            .map_err(|_| DialogError::Missing("CSeq"))?;
        match self.last_rseq {
            Some(last) if rseq != last.wrapping_add(1) => return Ok(None),
            _ => {}
        }
        self.last_rseq = Some(rseq);
        let mut p = self.new_request(Method::Prack, local);
        p.headers.push(
            Hdr::RAck,
            &RAck {
                rseq,
                cseq: cseq.seq,
                method: cseq.method,
            }
            .to_string(),
        );
        Ok(Some(p))
    }
}

/// True if a provisional response must be sent or acknowledged reliably.
pub fn requires_100rel(resp: &Response) -> bool {
    (101..200).contains(&resp.status) && resp.headers.has_option(Hdr::Require, "100rel")
}

/// Builds an out-of-dialog INVITE (§8.1.1) with a fresh tag, Call-ID and branch.
pub fn new_invite(
    from: NameAddr,
    to: NameAddr,
    request_uri: Uri,
    local: &LocalEndpoint,
    cseq: u32,
) -> Request {
    let mut r = Request::new(Method::Invite, request_uri);
    let h = &mut r.headers;
    h.push(Hdr::Via, &local.via(&new_branch()).to_string());
    h.push(Hdr::MaxForwards, "70");
    let mut from = from;
    from.set_tag(&new_tag());
    h.push(Hdr::From, &from.to_string());
    h.push(Hdr::To, &to.to_string());
    h.push(Hdr::CallId, &format!("{}@{}", new_tag(), local.host));
    h.push(Hdr::CSeq, &CSeq::new(cseq, Method::Invite).to_string());
    h.push(Hdr::Contact, &local.contact(None).to_string());
    r
}

/// CANCEL for a pending INVITE (§9.1): same Request-URI, Call-ID, From, To,
/// CSeq number and top Via (so it reaches the same server transaction), and
/// the INVITE's Route headers.
pub fn cancel_for(invite: &Request) -> Request {
    let mut c = Request::new(Method::Cancel, invite.uri.clone());
    let h = &invite.headers;
    if let Some(v) = h.get(Hdr::Via) {
        c.headers.push(
            Hdr::Via,
            crate::grammar::split_list(v)
                .into_iter()
                .next()
                .unwrap_or(v),
        );
    }
    c.headers.push(Hdr::MaxForwards, "70");
    for r in h.get_all(Hdr::Route) {
        c.headers.push(Hdr::Route, r);
    }
    for hdr in [Hdr::From, Hdr::To, Hdr::CallId] {
        if let Some(v) = h.get(hdr) {
            c.headers.push(hdr, v);
        }
    }
    let seq = h.cseq().map(|c| c.seq).unwrap_or(0);
    c.headers.push(Hdr::CSeq, &format!("{seq} CANCEL"));
    c
}

/// Output of the UA-core retransmitters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UaAction {
    Send(Response),
    StartTimer(Duration),
    StopTimer,
    /// No ACK/PRACK within 64*T1: the UAS should end the call (§13.3.1.4:
    /// send BYE; RFC 3262 §3: reject the INVITE with 5xx).
    GiveUp,
}

/// RFC 3261 §13.3.1.4: the UAS core retransmits a 2xx to INVITE, starting at
/// T1 and doubling up to T2, until the ACK arrives or 64*T1 passes.
#[derive(Debug, Clone)]
pub struct Retransmit2xx {
    resp: Response,
    interval: Duration,
    elapsed: Duration,
    cfg: TimerConfig,
    done: bool,
}

impl Retransmit2xx {
    /// Sends the 2xx and starts the timer. Over reliable transports pass
    /// `reliable = true`: only the 64*T1 give-up timer runs.
    pub fn start(resp: Response, cfg: TimerConfig, reliable: bool) -> (Self, Vec<UaAction>) {
        let interval = if reliable { cfg.t1x64() } else { cfg.t1 };
        let t = Retransmit2xx {
            resp: resp.clone(),
            interval,
            elapsed: Duration::ZERO,
            cfg,
            done: false,
        };
        (
            t,
            vec![UaAction::Send(resp), UaAction::StartTimer(interval)],
        )
    }

    pub fn on_timer(&mut self) -> Vec<UaAction> {
        if self.done {
            return Vec::new();
        }
        self.elapsed += self.interval;
        if self.elapsed >= self.cfg.t1x64() {
            self.done = true;
            return vec![UaAction::GiveUp];
        }
        self.interval = (self.interval * 2).min(self.cfg.t2);
        vec![
            UaAction::Send(self.resp.clone()),
            UaAction::StartTimer(self.interval),
        ]
    }

    pub fn on_ack(&mut self) -> Vec<UaAction> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        vec![UaAction::StopTimer]
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// RFC 3262 §3: UAS side of reliable provisional responses. One outstanding
/// reliable provisional at a time; retransmitted from T1, doubling, until
/// the matching PRACK or 64*T1.
#[derive(Debug, Clone)]
pub struct ReliableProvisional {
    next_rseq: u32,
    outstanding: Option<(Response, u32)>,
    interval: Duration,
    elapsed: Duration,
    cfg: TimerConfig,
}

impl ReliableProvisional {
    /// `first_rseq` should be random in 1..2^31 (§3); it is clamped into range.
    pub fn new(first_rseq: u32, cfg: TimerConfig) -> Self {
        ReliableProvisional {
            next_rseq: first_rseq.clamp(1, (1 << 31) - 1),
            outstanding: None,
            interval: cfg.t1,
            elapsed: Duration::ZERO,
            cfg,
        }
    }

    /// Whether a new reliable provisional may be sent now.
    pub fn can_send(&self) -> bool {
        self.outstanding.is_none()
    }

    /// Adds `Require: 100rel` and `RSeq`, sends, starts the timer. `None` if
    /// one is still unacknowledged (§3: the UAS must wait).
    pub fn send(&mut self, mut resp: Response) -> Option<Vec<UaAction>> {
        if self.outstanding.is_some() || !(101..200).contains(&resp.status) {
            return None;
        }
        let rseq = self.next_rseq;
        self.next_rseq = self.next_rseq.wrapping_add(1);
        if !resp.headers.has_option(Hdr::Require, "100rel") {
            resp.headers.push(Hdr::Require, "100rel");
        }
        resp.headers.set(Hdr::RSeq, &rseq.to_string());
        self.interval = self.cfg.t1;
        self.elapsed = Duration::ZERO;
        self.outstanding = Some((resp.clone(), rseq));
        Some(vec![
            UaAction::Send(resp),
            UaAction::StartTimer(self.cfg.t1),
        ])
    }

    pub fn on_timer(&mut self) -> Vec<UaAction> {
        let Some((resp, _)) = &self.outstanding else {
            return Vec::new();
        };
        self.elapsed += self.interval;
        if self.elapsed >= self.cfg.t1x64() {
            self.outstanding = None;
            return vec![UaAction::GiveUp];
        }
        self.interval *= 2;
        vec![
            UaAction::Send(resp.clone()),
            UaAction::StartTimer(self.interval),
        ]
    }

    /// A PRACK arrived: true if its RAck matches the outstanding response
    /// (then retransmission stops); a non-matching PRACK gets 481 (§3).
    pub fn on_prack(&mut self, prack: &Request) -> (bool, Vec<UaAction>) {
        let Some((resp, rseq)) = &self.outstanding else {
            return (false, Vec::new());
        };
        let Ok(Some(rack)) = prack.headers.rack() else {
            return (false, Vec::new());
        };
        let Ok(cseq) = resp.headers.cseq() else {
            return (false, Vec::new());
        };
        if rack.rseq == *rseq && rack.cseq == cseq.seq && rack.method == cseq.method {
            self.outstanding = None;
            (true, vec![UaAction::StopTimer])
        } else {
            (false, Vec::new())
        }
    }
}

/// A random initial RSeq in 1..2^31-1 (RFC 3262 §3).
pub fn new_rseq() -> u32 {
    let r = u64::from_str_radix(&new_tag(), 16).unwrap_or(1);
    (r % ((1u64 << 31) - 1)) as u32 + 1
}

/// UAC side of one INVITE: keeps the dialogs of forked responses apart
/// (§13.2.2.4: each 2xx with a different To tag is a separate dialog).
#[derive(Debug, Clone)]
pub struct UacInvite {
    pub invite: Request,
    pub local_contact: NameAddr,
    /// Dialogs by remote (To) tag.
    pub dialogs: HashMap<String, Dialog>,
}

impl UacInvite {
    pub fn new(invite: Request, local_contact: NameAddr) -> Self {
        UacInvite {
            invite,
            local_contact,
            dialogs: HashMap::new(),
        }
    }

    /// Feeds a response of this INVITE. Returns the dialog it belongs to
    /// (created on the first tagged 1xx or 2xx of each fork), if any.
    pub fn on_response(&mut self, resp: &Response) -> Option<&mut Dialog> {
        if !(101..300).contains(&resp.status) {
            return None;
        }
        let tag = resp.headers.to().ok()?.tag()?.to_string();
        match self.dialogs.entry(tag) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let d = e.into_mut();
                d.on_response(resp);
                Some(d)
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                let d = Dialog::uac(&self.invite, resp, self.local_contact.clone()).ok()?;
                Some(v.insert(d))
            }
        }
    }

    pub fn invite_seq(&self) -> u32 {
        self.invite.headers.cseq().map(|c| c.seq).unwrap_or(0)
    }

    pub fn cancel(&self) -> Request {
        cancel_for(&self.invite)
    }
}
