//! The transaction layer: owns the transactions, matches messages to them
//! (RFC 3261 §17.1.3, §17.2.3), and tags every action with its transaction
//! key and peer. Generic over the peer address type `A` so it stays sans-IO.

use super::client::{InviteClientTransaction, NonInviteClientTransaction};
use super::server::{InviteServerTransaction, NonInviteServerTransaction};
use super::{Action, Timer, TimerConfig, TransactionError, TransactionKey};
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

/// All live transactions of one element.
#[derive(Debug)]
pub struct TransactionLayer<A> {
    txs: HashMap<TransactionKey, Entry<A>>,
    cfg: TimerConfig,
}

impl<A: Clone> TransactionLayer<A> {
    pub fn new(cfg: TimerConfig) -> Self {
        TransactionLayer {
            txs: HashMap::new(),
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
                    self.txs.remove(key);
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
