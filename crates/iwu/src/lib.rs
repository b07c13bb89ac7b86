//! Sans-IO interworking unit between ISUP (ITU-T Q.763/Q.764) and SIP (RFC 3261): RFC 3398
//! mapping, SIP-T (RFC 3372) and SIP-I (Q.1912.5) encapsulation (RFC 3204 bodies), SDP offer/answer
//! for the PSTN leg. No sockets, no clocks: the runtime (`crates/mgc`) feeds events and performs
//! actions.
//!
//! # Driving the engine
//!
//! ```text
//! let mut engine = iwu::Engine::new(config, seed)?;          // config: iwu::IwuConfig (serde)
//! loop {
//!     let event = /* ISUP from M3UA, SIP from the transaction layer, a fired timer, admin */;
//!     for action in engine.handle(now, event, &mut circuit_pool) {
//!         match action {
//!             Action::SendIsup { circuit, msg }      => /* emit_with_cic → M3UA DATA to circuit.dpc */,
//!             Action::SendRequest { peer, request }  => /* client transaction (ACK: send as is) */,
//!             Action::SendResponse(r)                => /* server transaction by Via branch + method */,
//!             Action::StartTimer { key, after }      => /* (re)arm key at now + after */,
//!             Action::StopTimer { key }              => /* disarm key */,
//!             Action::CircuitIdle { circuit }        => circuit_pool.release(circuit),
//!             Action::MaintenanceAlert { circuit, reason } => /* alarm; out of service until RLC */,
//!             Action::CallRecord(cdr)                => /* metrics, CDR log */,
//!         }
//!     }
//! }
//! ```
//!
//! * `now` is any monotonic `Duration` (a virtual clock in tests); it is only used for call
//!   records. Timers are actions: re-arming a running key replaces it; a stale expiry is ignored.
//! * Calls are created by an IAM on an idle circuit (PSTN origination) and by an out-of-dialog
//!   INVITE (IP origination; with an encapsulated IAM this is SIP bridging). Calls are found by
//!   circuit ([`CircuitId`]: the far end's point code and the CIC, Q.763 §1.2) for ISUP and by
//!   Call-ID (+ To tag for in-dialog requests) for SIP.
//! * Circuits for calls toward the PSTN come from a [`CircuitPool`] passed to `handle`; the
//!   engine never frees a circuit it signalled on, it emits [`Action::CircuitIdle`] (it only calls
//!   `release` for a circuit it seized and could not use). [`MemoryPool`] is a test pool.
//! * The SIP transaction layer sends 100 Trying for INVITEs itself (RFC 3261 §17.2.1), absorbs
//!   retransmissions and ACKs non-2xx finals; the runtime retransmits 2xx to INVITE until ACK.
//! * Maintenance (RSC/GRS/BLO/CGB with T12-T23) is the circuit manager's; it tells the engine with
//!   [`Event::CircuitReset`]. The engine's own reset after T5 (Q.764 §2.9.6) repeats on
//!   [`IsupTimers::t17`], which the runtime sets from the circuit manager's T17.
//! * Dual seizure is decided by the runtime (it knows the point codes): the losing outgoing call
//!   gets [`Event::Reattempt`], then the incoming IAM is delivered.
//!
//! Mapping tables live in [`cause`] as data; `mgc map` and `docs/call-flows.md` render them.

pub mod cause;
pub mod compat;
pub mod config;
pub mod diversion;
pub mod engine;
pub mod event;
pub mod ids;
pub mod media;
pub mod msgs;
pub mod number;
pub mod sdp;

pub use cause::{CauseMap, CauseProfile};
pub use config::{
    ConfigError, ConfigProblem, Encapsulation, IsupTimers, IwuConfig, LocalSip, MediaConfig,
    PeerConfig, PeerDigest, TrunkGroupConfig, UriForm,
};
pub use engine::Engine;
pub use event::{
    Action, CallModel, CallRecord, CallRef, CallSummary, Cic, CircuitId, CircuitPool, Event,
    MemoryPool, Outcome, ReleaseSide, TimerKey, TimerKind,
};
pub use media::{MediaEndpoint, MediaGateway, StaticMediaGateway};
