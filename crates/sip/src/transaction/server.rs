//! Server transactions (RFC 3261 §17.2, RFC 6026 §7.1).

use super::{Action, Timer, TimerConfig, TransactionError, identifying_head};
use crate::message::{Request, Response};
use std::time::Duration;

/// INVITE server transaction states (RFC 6026 figure 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IstState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// RFC 3261 §17.2.1.
#[derive(Debug, Clone)]
pub struct InviteServerTransaction {
    request: Request,
    last_response: Option<Response>,
    state: IstState,
    reliable: bool,
    cfg: TimerConfig,
    timer_g: Duration,
}

impl InviteServerTransaction {
    /// Created on a new INVITE: sends 100 Trying at once (§17.2.1 lets the
    /// transaction do so; the TU need not) and passes the INVITE up.
    pub fn new(request: Request, reliable: bool, cfg: TimerConfig) -> (Self, Vec<Action>) {
        let trying = Response::for_request(&request, 100, None);
        let out = vec![
            Action::SendResponse(trying.clone()),
            Action::DeliverRequest(request.clone()),
        ];
        let t = InviteServerTransaction {
            request,
            last_response: Some(trying),
            state: IstState::Proceeding,
            reliable,
            cfg,
            timer_g: cfg.t1,
        };
        (t, out)
    }

    pub fn state(&self) -> IstState {
        self.state
    }
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// A request matched this transaction: INVITE retransmission or ACK.
    pub fn on_request(&mut self, req: Request) -> Vec<Action> {
        let mut out = Vec::new();
        let is_ack = req.method == crate::method::Method::Ack;
        match (self.state, is_ack) {
            // §17.2.1: retransmitted INVITE gets the last response again.
            (IstState::Proceeding | IstState::Completed, false) => {
                if let Some(r) = &self.last_response {
                    out.push(Action::SendResponse(r.clone()));
                }
            }
            (IstState::Completed, true) => {
                self.state = IstState::Confirmed;
                out.push(Action::StopTimer(Timer::G));
                out.push(Action::StopTimer(Timer::H));
                if self.reliable {
                    self.state = IstState::Terminated;
                    out.push(Action::Terminated);
                } else {
                    out.push(Action::StartTimer(Timer::I, self.cfg.t4));
                }
            }
            // RFC 6026 §7.1: ACKs matching in Accepted go to the TU;
            // INVITE retransmissions are absorbed (the TU retransmits 2xx).
            (IstState::Accepted, true) => out.push(Action::DeliverRequest(req)),
            _ => {}
        }
        out
    }

    /// The TU sends a response through this transaction.
    pub fn send_response(&mut self, resp: Response) -> Result<Vec<Action>, TransactionError> {
        let mut out = Vec::new();
        let code = resp.status;
        match self.state {
            IstState::Proceeding => {
                out.push(Action::SendResponse(resp.clone()));
                if code < 200 {
                    self.last_response = Some(resp);
                } else if code < 300 {
                    // RFC 6026 §7.1: Accepted absorbs INVITE retransmissions and sends only
                    // the TU's 2xx, so neither the INVITE's body nor the 2xx is kept.
                    self.state = IstState::Accepted;
                    out.push(Action::StartTimer(Timer::L, self.cfg.t1x64()));
                    self.request = identifying_head(&self.request);
                    self.last_response = None;
                } else {
                    // Completed resends the final response, not the INVITE (§17.2.1).
                    self.request = identifying_head(&self.request);
                    self.state = IstState::Completed;
                    if !self.reliable {
                        out.push(Action::StartTimer(Timer::G, self.cfg.t1));
                    }
                    out.push(Action::StartTimer(Timer::H, self.cfg.t1x64()));
                    self.last_response = Some(resp);
                }
            }
            // RFC 6026 §7.1: further 2xx (retransmissions from the TU) pass through.
            IstState::Accepted if (200..300).contains(&code) => {
                out.push(Action::SendResponse(resp))
            }
            _ => return Err(TransactionError::WrongState),
        }
        Ok(out)
    }

    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state, timer) {
            (IstState::Completed, Timer::G) => {
                // §17.2.1: G doubles up to T2.
                if let Some(r) = &self.last_response {
                    out.push(Action::SendResponse(r.clone()));
                }
                self.timer_g = (self.timer_g * 2).min(self.cfg.t2);
                out.push(Action::StartTimer(Timer::G, self.timer_g));
            }
            (IstState::Completed, Timer::H) => {
                self.state = IstState::Terminated;
                out.push(Action::StopTimer(Timer::G));
                out.push(Action::Timeout);
                out.push(Action::Terminated);
            }
            (IstState::Confirmed, Timer::I) | (IstState::Accepted, Timer::L) => {
                self.state = IstState::Terminated;
                out.push(Action::Terminated);
            }
            _ => {}
        }
        out
    }

    pub fn on_transport_error(&mut self) -> Vec<Action> {
        self.state = IstState::Terminated;
        vec![Action::Timeout, Action::Terminated]
    }
}

/// Non-INVITE server transaction states (RFC 3261 figure 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NistState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// RFC 3261 §17.2.2.
#[derive(Debug, Clone)]
pub struct NonInviteServerTransaction {
    request: Request,
    last_response: Option<Response>,
    state: NistState,
    reliable: bool,
    cfg: TimerConfig,
}

impl NonInviteServerTransaction {
    pub fn new(request: Request, reliable: bool, cfg: TimerConfig) -> (Self, Vec<Action>) {
        let out = vec![Action::DeliverRequest(request.clone())];
        (
            NonInviteServerTransaction {
                request,
                last_response: None,
                state: NistState::Trying,
                reliable,
                cfg,
            },
            out,
        )
    }

    pub fn state(&self) -> NistState {
        self.state
    }
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// A retransmission of the request.
    pub fn on_request(&mut self, _req: Request) -> Vec<Action> {
        match (self.state, &self.last_response) {
            (NistState::Proceeding | NistState::Completed, Some(r)) => {
                vec![Action::SendResponse(r.clone())]
            }
            _ => Vec::new(), // Trying: absorbed
        }
    }

    pub fn send_response(&mut self, resp: Response) -> Result<Vec<Action>, TransactionError> {
        let mut out = Vec::new();
        match self.state {
            NistState::Trying | NistState::Proceeding => {
                out.push(Action::SendResponse(resp.clone()));
                if resp.status < 200 {
                    self.state = NistState::Proceeding;
                } else {
                    // Completed resends the final response only (§17.2.2).
                    self.request = identifying_head(&self.request);
                    self.state = NistState::Completed;
                    if self.reliable {
                        self.state = NistState::Terminated;
                        out.push(Action::Terminated);
                    } else {
                        out.push(Action::StartTimer(Timer::J, self.cfg.t1x64()));
                    }
                }
                self.last_response = Some(resp);
                Ok(out)
            }
            _ => Err(TransactionError::WrongState),
        }
    }

    pub fn on_timer(&mut self, timer: Timer) -> Vec<Action> {
        if self.state == NistState::Completed && timer == Timer::J {
            self.state = NistState::Terminated;
            return vec![Action::Terminated];
        }
        Vec::new()
    }

    pub fn on_transport_error(&mut self) -> Vec<Action> {
        self.state = NistState::Terminated;
        vec![Action::Terminated]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Hdr;
    use crate::message::Message;

    fn request(text: &str) -> Request {
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("test request does not parse: {other:?}"),
        }
    }

    fn invite() -> Request {
        request(
            "INVITE sip:4930123456@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK1\r\n\
             From: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
             Contact: <sip:a@127.0.0.2>\r\nContent-Type: application/sdp\r\n\
             Content-Length: 4\r\n\r\nv=0\n",
        )
    }

    fn sent(actions: &[Action]) -> Vec<u16> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::SendResponse(r) => Some(r.status),
                _ => None,
            })
            .collect()
    }

    fn assert_head_only(kept: &Request, original: &Request) {
        assert!(kept.body.is_empty());
        assert_eq!(kept.uri, original.uri);
        for h in [Hdr::Via, Hdr::From, Hdr::To, Hdr::CallId, Hdr::CSeq] {
            assert_eq!(kept.headers.get(h), original.headers.get(h), "{h:?}");
        }
        assert_eq!(kept.headers.get(Hdr::Contact), None);
    }

    #[test]
    fn accepted_keeps_neither_the_invite_body_nor_the_2xx() {
        let inv = invite();
        let (mut t, _) = InviteServerTransaction::new(inv.clone(), false, TimerConfig::default());
        let mut ok = Response::for_request(&inv, 200, Some("2"));
        ok.set_body(Some("application/sdp"), b"v=0\n".to_vec());
        assert_eq!(sent(&t.send_response(ok.clone()).unwrap()), [200]);
        assert_eq!(t.state(), IstState::Accepted);
        assert_head_only(t.request(), &inv);
        assert!(t.last_response.is_none());
        // RFC 6026 §7.1: an INVITE retransmission is absorbed; the TU's 2xx still passes.
        assert!(sent(&t.on_request(inv.clone())).is_empty());
        assert_eq!(sent(&t.send_response(ok).unwrap()), [200]);
    }

    #[test]
    fn completed_keeps_the_final_response_and_the_invite_head() {
        let inv = invite();
        let (mut t, _) = InviteServerTransaction::new(inv.clone(), false, TimerConfig::default());
        t.send_response(Response::for_request(&inv, 486, Some("2")))
            .unwrap();
        assert_eq!(t.state(), IstState::Completed);
        assert_head_only(t.request(), &inv);
        assert_eq!(sent(&t.on_request(inv.clone())), [486]);
        assert_eq!(sent(&t.on_timer(Timer::G)), [486]);
    }

    #[test]
    fn non_invite_completed_keeps_the_response_and_the_request_head() {
        let bye = request(
            "BYE sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK2\r\n\
             From: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: c1\r\n\
             CSeq: 2 BYE\r\nMax-Forwards: 70\r\nUser-Agent: t\r\nContent-Length: 0\r\n\r\n",
        );
        let (mut t, _) =
            NonInviteServerTransaction::new(bye.clone(), false, TimerConfig::default());
        t.send_response(Response::for_request(&bye, 200, None))
            .unwrap();
        assert_eq!(t.state(), NistState::Completed);
        assert_eq!(t.request().headers.get(Hdr::UserAgent), None);
        assert_eq!(t.request().headers.get(Hdr::CSeq), Some("2 BYE"));
        assert_eq!(sent(&t.on_request(bye)), [200]);
    }
}
