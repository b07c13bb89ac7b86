//! The transaction layer: owns the transactions, matches messages to them
//! (RFC 3261 §17.1.3, §17.2.3), and tags every action with its transaction
//! key and peer. Generic over the peer address type `A` so it stays sans-IO.

use super::client::{InviteClientTransaction, NonInviteClientTransaction};
use super::server::{InviteServerTransaction, NonInviteServerTransaction};
use super::{Action, KeyMap, Timer, TimerConfig, TransactionError, TransactionKey};
use crate::message::{Message, Request, Response};
use crate::method::Method;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Tx {
    Ict(InviteClientTransaction),
    Nict(NonInviteClientTransaction),
    Ist(InviteServerTransaction),
    Nist(NonInviteServerTransaction),
}

#[derive(Debug, Clone)]
struct Entry<A> {
    tx: Tx,
    peer: A,
}

/// What the layer passes up to the transaction user (UA core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A new request (a server transaction was created for it), or an ACK
    /// that matched no transaction (ACK for 2xx, §17.2.3) or an Accepted one.
    Request(Request),
    /// A response from a client transaction.
    Response(Response),
    /// A response that matched no transaction, e.g. a 2xx retransmission
    /// after timer M (the UA core re-sends ACK, §13.2.2.4).
    StrayResponse(Response),
    /// Timer B/F/H fired or the transport failed.
    Timeout,
    /// The transaction is gone; its timers can be dropped.
    Terminated,
}

/// An action for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerAction<A> {
    Send {
        peer: A,
        message: Message,
    },
    StartTimer {
        key: TransactionKey,
        timer: Timer,
        after: Duration,
    },
    StopTimer {
        key: TransactionKey,
        timer: Timer,
    },
    Deliver {
        key: Option<TransactionKey>,
        peer: A,
        event: Delivery,
    },
}

/// What names an RFC 2543 server transaction (§17.2.3) that the TU's response still carries:
/// its key without the Request-URI, which a response lacks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Rfc2543Answer {
    from_tag: String,
    call_id: String,
    cseq: u32,
    via: String,
    method: Method,
}

impl Rfc2543Answer {
    fn of_key(key: &TransactionKey) -> Option<Self> {
        match key {
            TransactionKey::Rfc2543 {
                from_tag,
                call_id,
                cseq,
                via,
                method,
                ..
            } => Some(Rfc2543Answer {
                from_tag: from_tag.clone(),
                call_id: call_id.clone(),
                cseq: *cseq,
                via: via.clone(),
                method: method.clone(),
            }),
            _ => None,
        }
    }

    /// The same fields of a response (§8.2.6.2: From, Call-ID, CSeq and Via copied from the
    /// request), as `TransactionKey::for_server_request` reads them from the request.
    fn of_response(resp: &Response) -> Option<Self> {
        let h = &resp.headers;
        let cseq = h.cseq().ok()?;
        Some(Rfc2543Answer {
            from_tag: h
                .from()
                .ok()
                .and_then(|f| f.tag().map(str::to_string))
                .unwrap_or_default(),
            call_id: h.call_id().ok()?.to_string(),
            cseq: cseq.seq,
            via: h.top_via().ok()?.to_string(),
            method: cseq.method,
        })
    }
}

/// All live transactions of one element.
#[derive(Debug)]
pub struct TransactionLayer<A> {
    /// Boxed entries ([`KeyMap`]), shrunk once mostly empty ([`TransactionLayer::forget`]): a
    /// burst of call set-ups (each INVITE transaction lives 32 s after its 2xx, RFC 6026 Timer
    /// M) must not leave a table sized for its peak behind.
    txs: KeyMap<TransactionKey, Entry<A>>,
    /// Live RFC 2543 server transactions by what their responses carry, so that a TU
    /// answering with a response alone ([`TransactionLayer::server_key_for`]) reaches them.
    rfc2543: HashMap<Rfc2543Answer, Vec<TransactionKey>>,
    cfg: TimerConfig,
}

impl<A: Clone> TransactionLayer<A> {
    pub fn new(cfg: TimerConfig) -> Self {
        TransactionLayer {
            txs: KeyMap::default(),
            rfc2543: HashMap::new(),
            cfg,
        }
    }

    pub fn config(&self) -> TimerConfig {
        self.cfg
    }

    pub fn len(&self) -> usize {
        self.txs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    fn convert(
        &mut self,
        key: &TransactionKey,
        peer: &A,
        actions: Vec<Action>,
        out: &mut Vec<LayerAction<A>>,
    ) {
        for a in actions {
            let la = match a {
                Action::SendRequest(r) => LayerAction::Send {
                    peer: peer.clone(),
                    message: Message::Request(r),
                },
                Action::SendResponse(r) => LayerAction::Send {
                    peer: peer.clone(),
                    message: Message::Response(r),
                },
                Action::StartTimer(timer, after) => LayerAction::StartTimer {
                    key: key.clone(),
                    timer,
                    after,
                },
                Action::StopTimer(timer) => LayerAction::StopTimer {
                    key: key.clone(),
                    timer,
                },
                Action::DeliverRequest(r) => LayerAction::Deliver {
                    key: Some(key.clone()),
                    peer: peer.clone(),
                    event: Delivery::Request(r),
                },
                Action::DeliverResponse(r) => LayerAction::Deliver {
                    key: Some(key.clone()),
                    peer: peer.clone(),
                    event: Delivery::Response(r),
                },
                Action::Timeout => LayerAction::Deliver {
                    key: Some(key.clone()),
                    peer: peer.clone(),
                    event: Delivery::Timeout,
                },
                Action::Terminated => {
                    self.forget(key);
                    self.forget_rfc2543(key);
                    LayerAction::Deliver {
                        key: Some(key.clone()),
                        peer: peer.clone(),
                        event: Delivery::Terminated,
                    }
                }
            };
            out.push(la);
        }
    }

    /// The TU sends a request. INVITE and non-INVITE requests get a client
    /// transaction; ACK (for 2xx) is sent without one (§17.1.1.3).
    pub fn send_request(
        &mut self,
        req: Request,
        peer: A,
        reliable: bool,
    ) -> Result<(Option<TransactionKey>, Vec<LayerAction<A>>), TransactionError> {
        if req.method == Method::Ack {
            return Ok((
                None,
                vec![LayerAction::Send {
                    peer,
                    message: Message::Request(req),
                }],
            ));
        }
        let key = TransactionKey::for_client_request(&req)?;
        let (tx, actions) = if req.method == Method::Invite {
            let (t, a) = InviteClientTransaction::new(req, reliable, self.cfg);
            (Tx::Ict(t), a)
        } else {
            let (t, a) = NonInviteClientTransaction::new(req, reliable, self.cfg);
            (Tx::Nict(t), a)
        };
        self.txs.insert(
            key.clone(),
            Entry {
                tx,
                peer: peer.clone(),
            },
        );
        let mut out = Vec::new();
        self.convert(&key, &peer, actions, &mut out);
        Ok((Some(key), out))
    }

    /// A request arrived from `peer`.
    pub fn on_request(&mut self, req: Request, peer: A, reliable: bool) -> Vec<LayerAction<A>> {
        let mut out = Vec::new();
        let Ok(key) = TransactionKey::for_server_request(&req) else {
            return out;
        };
        if let Some(e) = self.txs.get_mut(&key) {
            let p = e.peer.clone();
            let actions = match &mut e.tx {
                Tx::Ist(t) => t.on_request(req),
                Tx::Nist(t) => t.on_request(req),
                _ => Vec::new(),
            };
            self.convert(&key, &p, actions, &mut out);
            return out;
        }
        if req.method == Method::Ack {
            // ACK for a 2xx is its own transaction-less request (§17.2.3).
            out.push(LayerAction::Deliver {
                key: None,
                peer,
                event: Delivery::Request(req),
            });
            return out;
        }
        let (tx, actions) = if req.method == Method::Invite {
            let (t, a) = InviteServerTransaction::new(req, reliable, self.cfg);
            (Tx::Ist(t), a)
        } else {
            let (t, a) = NonInviteServerTransaction::new(req, reliable, self.cfg);
            (Tx::Nist(t), a)
        };
        if let Some(answer) = Rfc2543Answer::of_key(&key) {
            self.rfc2543.entry(answer).or_default().push(key.clone());
        }
        self.txs.insert(
            key.clone(),
            Entry {
                tx,
                peer: peer.clone(),
            },
        );
        self.convert(&key, &peer, actions, &mut out);
        out
    }

    /// A response arrived.
    pub fn on_response(&mut self, resp: Response, peer: A) -> Vec<LayerAction<A>> {
        let mut out = Vec::new();
        let key = match TransactionKey::for_response(&resp) {
            Ok(k) => k,
            Err(_) => return out,
        };
        match self.txs.get_mut(&key) {
            Some(e) => {
                let p = e.peer.clone();
                let actions = match &mut e.tx {
                    Tx::Ict(t) => t.on_response(resp),
                    Tx::Nict(t) => t.on_response(resp),
                    _ => Vec::new(),
                };
                self.convert(&key, &p, actions, &mut out);
            }
            None => out.push(LayerAction::Deliver {
                key: None,
                peer,
                event: Delivery::StrayResponse(resp),
            }),
        }
        out
    }

    /// The live server transaction that `resp`, a response of the TU, answers (§17.2.3): by the
    /// branch and sent-by of its top Via and its CSeq method; for an RFC 2543 request (no magic
    /// cookie), by From tag, Call-ID, CSeq and top Via — all of the key but the Request-URI. A
    /// TU that keeps responses rather than keys needs this, or RFC 2543 transactions would never
    /// get their final response and never end. Of RFC 2543 transactions differing only in
    /// Request-URI, one still awaiting a final response is preferred. `None` if none is live
    /// (e.g. a 2xx retransmitted after timer L, which goes to the transport, RFC 6026 §8.1).
    pub fn server_key_for(&self, resp: &Response) -> Option<TransactionKey> {
        if let Ok(key) = TransactionKey::for_server_response(resp) {
            return self.txs.contains_key(&key).then_some(key);
        }
        let live = self.rfc2543.get(&Rfc2543Answer::of_response(resp)?)?;
        live.iter()
            .find(|k| self.awaits_final(k))
            .or(live.first())
            .cloned()
    }

    /// A server transaction that has not sent a final response yet.
    fn awaits_final(&self, key: &TransactionKey) -> bool {
        match self.txs.get(key).map(|e| &e.tx) {
            Some(Tx::Ist(t)) => t.state() == super::IstState::Proceeding,
            Some(Tx::Nist(t)) => {
                matches!(
                    t.state(),
                    super::NistState::Trying | super::NistState::Proceeding
                )
            }
            _ => false,
        }
    }

    /// Drops a terminated transaction. Once the table is three quarters empty it is shrunk to
    /// twice its length: amortized O(1), as the length must halve again before the next shrink.
    fn forget(&mut self, key: &TransactionKey) {
        self.txs.remove(key);
        if self.txs.capacity() > 4 * self.txs.len() + 64 {
            self.txs.shrink_to(2 * self.txs.len());
        }
    }

    fn forget_rfc2543(&mut self, key: &TransactionKey) {
        let Some(answer) = Rfc2543Answer::of_key(key) else {
            return;
        };
        if let Some(live) = self.rfc2543.get_mut(&answer) {
            live.retain(|k| k != key);
            if live.is_empty() {
                self.rfc2543.remove(&answer);
            }
        }
    }

    /// The TU answers the request of server transaction `key`.
    pub fn send_response(
        &mut self,
        key: &TransactionKey,
        resp: Response,
    ) -> Result<Vec<LayerAction<A>>, TransactionError> {
        let e = self
            .txs
            .get_mut(key)
            .ok_or(TransactionError::NoTransaction)?;
        let p = e.peer.clone();
        let actions = match &mut e.tx {
            Tx::Ist(t) => t.send_response(resp)?,
            Tx::Nist(t) => t.send_response(resp)?,
            _ => return Err(TransactionError::WrongState),
        };
        let mut out = Vec::new();
        self.convert(key, &p, actions, &mut out);
        Ok(out)
    }

    pub fn on_timer(&mut self, key: &TransactionKey, timer: Timer) -> Vec<LayerAction<A>> {
        let mut out = Vec::new();
        if let Some(e) = self.txs.get_mut(key) {
            let p = e.peer.clone();
            let actions = match &mut e.tx {
                Tx::Ict(t) => t.on_timer(timer),
                Tx::Nict(t) => t.on_timer(timer),
                Tx::Ist(t) => t.on_timer(timer),
                Tx::Nist(t) => t.on_timer(timer),
            };
            self.convert(key, &p, actions, &mut out);
        }
        out
    }

    pub fn on_transport_error(&mut self, key: &TransactionKey) -> Vec<LayerAction<A>> {
        let mut out = Vec::new();
        if let Some(e) = self.txs.get_mut(key) {
            let p = e.peer.clone();
            let actions = match &mut e.tx {
                Tx::Ict(t) => t.on_transport_error(),
                Tx::Nict(t) => t.on_transport_error(),
                Tx::Ist(t) => t.on_transport_error(),
                Tx::Nist(t) => t.on_transport_error(),
            };
            self.convert(key, &p, actions, &mut out);
        }
        out
    }

    /// The INVITE server transaction a CANCEL targets (§9.2), if still live
    /// and not yet answered with a final response.
    pub fn cancel_target(&self, cancel: &Request) -> Option<(TransactionKey, &Request)> {
        let key = TransactionKey::for_cancel_target(cancel).ok()?;
        match self.txs.get(&key).map(|e| &e.tx) {
            Some(Tx::Ist(t)) => Some((key, t.request())),
            _ => None,
        }
    }

    /// Whether the INVITE server transaction still awaits a final response.
    pub fn is_proceeding(&self, key: &TransactionKey) -> bool {
        matches!(self.txs.get(key).map(|e| &e.tx), Some(Tx::Ist(t)) if t.state() == super::IstState::Proceeding)
    }

    /// The original request of a transaction.
    pub fn request(&self, key: &TransactionKey) -> Option<&Request> {
        self.txs.get(key).map(|e| match &e.tx {
            Tx::Ict(t) => t.request(),
            Tx::Nict(t) => t.request(),
            Tx::Ist(t) => t.request(),
            Tx::Nist(t) => t.request(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Hdr;
    use crate::{Response, Uri};

    fn options(n: u32) -> Request {
        let mut r = Request::new(Method::Options, Uri::parse("sip:bob@127.0.0.1").unwrap());
        r.headers.push(
            Hdr::Via,
            &format!("SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK{n}"),
        );
        r.headers.push(Hdr::MaxForwards, "70");
        r.headers.push(Hdr::From, "<sip:alice@127.0.0.1>;tag=a1");
        r.headers.push(Hdr::To, "<sip:bob@127.0.0.1>");
        r.headers.push(Hdr::CallId, &format!("c{n}"));
        r.headers.push(Hdr::CSeq, "1 OPTIONS");
        r
    }

    #[test]
    fn the_table_shrinks_after_a_burst() {
        let mut layer = TransactionLayer::<u8>::new(TimerConfig::default());
        let reqs: Vec<Request> = (0..20_000).map(options).collect();
        for r in &reqs {
            layer.send_request(r.clone(), 0, true).unwrap();
        }
        let peak = layer.txs.capacity();
        // Over a reliable transport a final response ends the client transaction at once
        // (Timer K = 0, RFC 3261 §17.1.2.2).
        for r in &reqs {
            let acts = layer.on_response(Response::for_request(r, 200, Some("b")), 0);
            for a in acts {
                if let LayerAction::StartTimer { key, timer, .. } = a {
                    layer.on_timer(&key, timer);
                }
            }
        }
        assert!(layer.is_empty());
        assert!(
            layer.txs.capacity() < peak / 100,
            "{} of {peak}",
            layer.txs.capacity()
        );
    }
}
