//! ISDN User Part wire formats (ITU-T Q.763), after smoltcp's `wire` module: a zero-copy
//! [`MessageView`] over `&[u8]` and a typed [`Message`] with `parse` and `emit`.
//!
//! - Message formats are one table row per message type ([`tables::ITU_FORMATS`]); a [`Variant`]
//!   resolves a code to its row and can override rows for national or ANSI variants.
//! - Parameters decode to typed values ([`param`]) where Q.763 defines them; every other code, and
//!   any value with bits the type does not model, is kept as [`RawParameter`] and re-emitted
//!   unchanged, so `emit(parse(x)) == x` for every well-formed message.
//! - Three framings: the RFC 3204 body (message type first: [`Message::parse`]), M3UA/MTP3 user
//!   data (CIC first: [`Message::parse_with_cic`]) and the MTP3 routing label ([`RoutingLabel`]).
//!
//! ```
//! let rel = [0x0C, 0x02, 0x00, 0x02, 0x83, 0x9F]; // REL, cause 31, location transit network
//! let msg = isup::Message::parse(&rel).unwrap();
//! let cause = msg.get::<isup::CauseIndicators>().unwrap();
//! assert_eq!((cause.cause_value, cause.location), (31, 3));
//! assert_eq!(msg.to_bytes().unwrap(), rel);
//! ```

pub mod codes;
pub mod error;
pub mod json;
pub mod message;
pub mod param;
pub mod routing_label;
pub mod sink;
pub mod tables;
pub mod view;

pub use codes::{MessageType, ParameterCode};
pub use error::{Error, ParameterError};
pub use message::{Message, ParameterType};
pub use param::*;
pub use routing_label::RoutingLabel;
pub use tables::{MessageFormat, Variant};
pub use view::MessageView;
