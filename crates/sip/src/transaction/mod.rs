//! Sans-IO transactions (RFC 3261 §17 as updated by RFC 6026).
//!
//! Each state machine takes events (message received, timer fired, TU sends
//! a response) and returns [`Action`]s (transmit, start/stop timer, deliver
//! to the TU, terminated). No sockets, clocks or tasks in here: a driver owns
//! time and I/O (the tokio one is in `transport`, the tests use a virtual clock).

mod client;
mod key;
mod layer;
mod server;
mod timer_queue;

pub use client::{
    IctState, InviteClientTransaction, NictState, NonInviteClientTransaction, ack_for_non_2xx,
};
pub use key::{TransactionKey, new_branch, new_tag};
pub use layer::{Delivery, LayerAction, TransactionLayer};
pub use server::{InviteServerTransaction, IstState, NistState, NonInviteServerTransaction};
pub use timer_queue::TimerQueue;

use crate::header::Hdr;

mod key_map;
use crate::message::{Request, Response};
pub(crate) use key_map::KeyMap;
use std::time::Duration;

/// The request line and the headers that identify a transaction and its dialog (Via, From,
/// To, Call-ID, CSeq; RFC 3261 §17.1.3), without the body: what a transaction keeps once it
/// sends nothing more built from its request, for the 64·T1 (or T4) it stays to absorb
/// retransmissions. Memory per call under load (docs/performance.md).
pub(crate) fn identifying_head(req: &Request) -> Request {
    let mut head = Request::new(req.method.clone(), req.uri.clone());
    for h in [Hdr::Via, Hdr::From, Hdr::To, Hdr::CallId, Hdr::CSeq] {
        for v in req.headers.get_all(h) {
            head.headers.push(h, v);
        }
    }
    head
}

/// Timer values (RFC 3261 §17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s.
    pub t2: Duration,
    /// Maximum duration a message remains in the network, default 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64*T1: timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
    /// Timer D: at least 32 s over unreliable transports (§17.1.1.2).
    pub fn timer_d(&self) -> Duration {
        self.t1x64().max(Duration::from_secs(32))
    }
}

/// RFC 3261 §17 timers, plus L and M from RFC 6026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmit (client, unreliable).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait for response retransmits (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmit (client, unreliable).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmit (server, unreliable).
    G,
    /// Wait for ACK (server INVITE).
    H,
    /// Wait for ACK retransmits (server INVITE, Confirmed).
    I,
    /// Wait for non-INVITE request retransmits (server).
    J,
    /// Wait for response retransmits (client non-INVITE).
    K,
    /// RFC 6026: wait for INVITE retransmits after a 2xx (server, Accepted).
    L,
    /// RFC 6026: wait for 2xx retransmits (client, Accepted).
    M,
}

/// What a transaction asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this request to the transaction's peer (first send or retransmission).
    SendRequest(Request),
    /// Send this response to the transaction's peer.
    SendResponse(Response),
    StartTimer(Timer, Duration),
    StopTimer(Timer),
    /// Pass a response up to the TU (client transactions).
    DeliverResponse(Response),
    /// Pass a request up to the TU (server transactions; also ACK in Accepted).
    DeliverRequest(Request),
    /// Timer B, F or H fired: the TU is told (§17.1.1.2, §17.1.2.2, §17.2.1).
    Timeout,
    /// The transaction is over and can be forgotten.
    Terminated,
}

/// Errors from TU calls that do not fit the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("no such transaction")]
    NoTransaction,
    #[error("transaction cannot send that response in its current state")]
    WrongState,
    #[error("request lacks a usable {0}")]
    BadRequest(&'static str),
}
