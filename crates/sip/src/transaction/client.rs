//! Client transactions (RFC 3261 §17.1, RFC 6026 §7.2).

use super::{Action, Timer, TimerConfig, identifying_head};
use crate::header::Hdr;
use crate::message::{Request, Response};
use crate::method::Method;
use std::time::Duration;

/// INVITE client transaction states (RFC 6026 figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IctState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// RFC 3261 §17.1.1.
#[derive(Debug, Clone)]
pub struct InviteClientTransaction {
    request: Request,
    ack: Option<Request>,
    state: IctState,
    reliable: bool,
    cfg: TimerConfig,
    timer_a: Duration,
}

impl InviteClientTransaction {
    /// Creates the transaction and sends the INVITE.
    pub fn new(request: Request, reliable: bool, cfg: TimerConfig) -> (Self, Vec<Action>) {
        let mut out = vec![Action::SendRequest(request.clone())];
        // §17.1.1.2: timer A only over unreliable transports; timer B always.
        if !reliable {
            out.push(Action::StartTimer(Timer::A, cfg.t1));
        }
        out.push(Action::StartTimer(Timer::B, cfg.t1x64()));
        let t = InviteClientTransaction {
            request,
            ack: None,
            state: IctState::Calling,
            reliable,
            cfg,
            timer_a: cfg.t1,
        };
        (t, out)
    }

    pub fn state(&self) -> IctState {
        self.state
    }
    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn on_response(&mut self, resp: Response) -> Vec<Action> {
        let mut out = Vec::new();
        let code = resp.status;
        match self.state {
            IctState::Calling | IctState::Proceeding => {
                if self.state == IctState::Calling {
                    out.push(Action::StopTimer(Timer::A));
                }
                if code < 200 {
                    self.state = IctState::Proceeding;
                    out.push(Action::DeliverResponse(resp));
                } else if code < 300 {
                    // RFC 6026 §8.4: Accepted, 2xx (and later ones) go to the TU.
                    self.state = IctState::Accepted;
                    // Nothing is sent from Accepted: for its 64·T1 keep only what identifies
                    // the INVITE, not its body (SDP, encapsulated IAM).
                    self.request = identifying_head(&self.request);
                    out.push(Action::StopTimer(Timer::B));
                    out.push(Action::StartTimer(Timer::M, self.cfg.t1x64()));
                    out.push(Action::DeliverResponse(resp));
                } else {
                    // §17.1.1.2: ACK generated here, response passed up, timer D.
                    self.state = IctState::Completed;
                    out.push(Action::StopTimer(Timer::B));
                    let ack = ack_for_non_2xx(&self.request, &resp);
                    out.push(Action::SendRequest(ack.clone()));
                    self.ack = Some(ack);
                    // Completed resends only the ACK (§17.1.1.2).
                    self.request = identifying_head(&self.request);
                    out.push(Action::DeliverResponse(resp));
                    if self.reliable {
                        self.state = IctState::Terminated;
                        out.push(Action::Terminated);
                    } else {
                        out.push(Action::StartTimer(Timer::D, self.cfg.timer_d()));
                    }
                }
            }
            IctState::Completed => {
                // Retransmitted final response: ACK again, do not pass up.
                if code >= 300 {
                    if let Some(a) = &self.ack {
                        out.push(Action::SendRequest(a.clone()));
                    }
                }
            }
            IctState::Accepted => {
                if (200..300).contains(&code) {
                    out.push(Action::DeliverResponse(resp));
                }
            }
            IctState::Terminated => {}
        }
        out
    }

    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state, timer) {
            (IctState::Calling, Timer::A) => {
                // §17.1.1.2: retransmit, timer A doubles.
                out.push(Action::SendRequest(self.request.clone()));
                self.timer_a *= 2;
                out.push(Action::StartTimer(Timer::A, self.timer_a));
            }
            (IctState::Calling | IctState::Proceeding, Timer::B) => {
                self.state = IctState::Terminated;
                out.push(Action::StopTimer(Timer::A));
                out.push(Action::Timeout);
                out.push(Action::Terminated);
            }
            (IctState::Completed, Timer::D) | (IctState::Accepted, Timer::M) => {
                self.state = IctState::Terminated;
                out.push(Action::Terminated);
            }
            _ => {}
        }
        out
    }

    /// §17.1.1.2: a transport error terminates the transaction.
    pub fn on_transport_error(&mut self) -> Vec<Action> {
        self.state = IctState::Terminated;
        vec![Action::Timeout, Action::Terminated]
    }
}

/// ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same Request-URI,
/// Call-ID, From, CSeq number and top Via as the INVITE, To from the response,
/// the INVITE's Route headers.
pub fn ack_for_non_2xx(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    let h = &invite.headers;
    if let Some(v) = h.get(Hdr::Via) {
        let top = crate::grammar::split_list(v)
            .into_iter()
            .next()
            .unwrap_or(v);
        ack.headers.push(Hdr::Via, top);
    }
    if let Some(v) = h.get(Hdr::MaxForwards) {
        ack.headers.push(Hdr::MaxForwards, v);
    }
    for r in h.get_all(Hdr::Route) {
        ack.headers.push(Hdr::Route, r);
    }
    if let Some(v) = h.get(Hdr::From) {
        ack.headers.push(Hdr::From, v);
    }
    if let Some(v) = resp.headers.get(Hdr::To) {
        ack.headers.push(Hdr::To, v);
    }
    if let Some(v) = h.get(Hdr::CallId) {
        ack.headers.push(Hdr::CallId, v);
    }
    let seq = h.cseq().map(|c| c.seq).unwrap_or(0);
    ack.headers.push(Hdr::CSeq, &format!("{seq} ACK"));
    ack.headers.push(Hdr::ContentLength, "0");
    ack
}

/// Non-INVITE client transaction states (RFC 3261 figure 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NictState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// RFC 3261 §17.1.2.
#[derive(Debug, Clone)]
pub struct NonInviteClientTransaction {
    request: Request,
    state: NictState,
    reliable: bool,
    cfg: TimerConfig,
    timer_e: Duration,
}

impl NonInviteClientTransaction {
    pub fn new(request: Request, reliable: bool, cfg: TimerConfig) -> (Self, Vec<Action>) {
        let mut out = vec![Action::SendRequest(request.clone())];
        if !reliable {
            out.push(Action::StartTimer(Timer::E, cfg.t1));
        }
        out.push(Action::StartTimer(Timer::F, cfg.t1x64()));
        let t = NonInviteClientTransaction {
            request,
            state: NictState::Trying,
            reliable,
            cfg,
            timer_e: cfg.t1,
        };
        (t, out)
    }

    pub fn state(&self) -> NictState {
        self.state
    }
    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn on_response(&mut self, resp: Response) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state {
            NictState::Trying | NictState::Proceeding => {
                if resp.status < 200 {
                    self.state = NictState::Proceeding;
                    out.push(Action::DeliverResponse(resp));
                } else {
                    self.state = NictState::Completed;
                    // Completed sends nothing (§17.1.2.2): for its T4 keep only the head.
                    self.request = identifying_head(&self.request);
                    out.push(Action::StopTimer(Timer::E));
                    out.push(Action::StopTimer(Timer::F));
                    out.push(Action::DeliverResponse(resp));
                    // §17.1.2.2: timer K = T4 unreliable, zero reliable.
                    if self.reliable {
                        self.state = NictState::Terminated;
                        out.push(Action::Terminated);
                    } else {
                        out.push(Action::StartTimer(Timer::K, self.cfg.t4));
                    }
                }
            }
            // Completed: response retransmissions are absorbed.
            NictState::Completed | NictState::Terminated => {}
        }
        out
    }

    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state, timer) {
            (NictState::Trying, Timer::E) => {
                // §17.1.2.2: E doubles up to T2.
                out.push(Action::SendRequest(self.request.clone()));
                self.timer_e = (self.timer_e * 2).min(self.cfg.t2);
                out.push(Action::StartTimer(Timer::E, self.timer_e));
            }
            (NictState::Proceeding, Timer::E) => {
                // In Proceeding, retransmit every T2.
                out.push(Action::SendRequest(self.request.clone()));
                out.push(Action::StartTimer(Timer::E, self.cfg.t2));
            }
            (NictState::Trying | NictState::Proceeding, Timer::F) => {
                self.state = NictState::Terminated;
                out.push(Action::StopTimer(Timer::E));
                out.push(Action::Timeout);
                out.push(Action::Terminated);
            }
            (NictState::Completed, Timer::K) => {
                self.state = NictState::Terminated;
                out.push(Action::Terminated);
            }
            _ => {}
        }
        out
    }

    pub fn on_transport_error(&mut self) -> Vec<Action> {
        self.state = NictState::Terminated;
        vec![Action::Timeout, Action::Terminated]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_keeps_only_the_identifying_head() {
        let Ok(crate::message::Message::Request(invite)) = crate::message::Message::parse(
            b"INVITE sip:4930123456@127.0.0.1 SIP/2.0\r\n\
              Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
              From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n\
              Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
              Contact: <sip:a@127.0.0.1>\r\nContent-Type: application/sdp\r\n\
              Content-Length: 4\r\n\r\nv=0\n",
        ) else {
            panic!("test INVITE does not parse");
        };
        let (mut t, _) =
            InviteClientTransaction::new(invite.clone(), false, TimerConfig::default());
        let mut ok = Response::new(200);
        for h in [Hdr::Via, Hdr::From, Hdr::CallId, Hdr::CSeq] {
            ok.headers
                .push(h, invite.headers.get(h).unwrap_or_default());
        }
        ok.headers.push(Hdr::To, "<sip:b@127.0.0.1>;tag=2");
        t.on_response(ok);
        assert_eq!(t.state(), IctState::Accepted);
        let kept = t.request();
        assert!(kept.body.is_empty());
        assert_eq!(kept.uri, invite.uri);
        for h in [Hdr::Via, Hdr::From, Hdr::To, Hdr::CallId, Hdr::CSeq] {
            assert_eq!(kept.headers.get(h), invite.headers.get(h), "{h:?}");
        }
        assert_eq!(kept.headers.get(Hdr::Contact), None);
    }
}
