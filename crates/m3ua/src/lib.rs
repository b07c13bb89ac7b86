//! M3UA — MTP3 User Adaptation Layer (RFC 4666).
//!
//! Layers, bottom up:
//! - [`wire`]: the codec. Zero-copy views ([`wire::Header`], [`wire::ParamIter`]) and typed
//!   [`wire::Message`]s with `parse` and `emit`; code tables as data in [`tables`].
//! - [`asp`] and [`sgp`]: sans-IO state machines. They take events (message in, timer fired,
//!   transport up/down, management requests) and return [`asp::Action`]s / [`sgp::Action`]s;
//!   no sockets, clocks or tokio inside.
//! - [`transport`]: tokio drivers over TCP (and kernel SCTP with the `sctp` feature) that run the
//!   state machines on real sockets.
//! - [`pcap`]: a pcap writer for M3UA-over-SCTP and UDP frames, decodable by Wireshark.
//!
//! M3UA carries its user part (ISUP) as opaque octets in [`wire::ProtocolData`].

pub mod asp;
pub mod dest;
pub mod error;
pub mod pcap;
pub mod sgp;
pub mod tables;
pub mod transport;
pub mod wire;

pub use error::DecodeError;
pub use wire::{Message, ProtocolData};

/// IANA-registered M3UA port, for SCTP and TCP (RFC 4666 §1.4.8).
pub const M3UA_PORT: u16 = 2905;
/// SCTP Payload Protocol Identifier for M3UA (RFC 4666 §1.4.8).
pub const M3UA_PPID: u32 = 3;
