//! SIP for the media gateway controller: RFC 3261 messages and URIs, typed
//! headers, SIP-I/SIP-T multipart bodies (RFC 3204, RFC 2046), sans-IO
//! transactions (RFC 3261 §17, RFC 6026) and dialogs (RFC 3261 §12, RFC 3262),
//! and tokio UDP/TCP transports. Layering is described in `docs/sip.md`.
//!
//! This crate knows nothing of ISUP: it carries ISUP as bytes.

pub mod auth;
pub mod body;
pub mod dialog;
pub mod grammar;
pub mod header;
pub mod mediatype;
pub mod message;
pub mod method;
pub mod multipart;
pub mod status;
pub mod transaction;
#[cfg(feature = "transport")]
pub mod transport;
pub mod uri;

pub use body::{BodyError, BodyLimits, BodyPart, IsupPart, SipBody};
pub use header::{Hdr, HeaderError, HeaderName, Headers};
pub use mediatype::MediaType;
pub use message::{Limits, Message, ParseError, Request, Response, error_response};
pub use method::Method;
pub use uri::{Host, SipUri, TelUri, Uri};
