//! M3UA wire format (RFC 4666 §3), in the style of smoltcp's `wire`: zero-copy views
//! ([`Header`], [`ParamIter`]) over `&[u8]` and typed representations ([`Message`]) with
//! `parse` and `emit`.

mod header;
mod message;
mod param;
mod values;

pub use header::{HEADER_LEN, Header, MAX_MESSAGE_LEN, VERSION, peek_length};
pub use message::{
    AspActive, AspDown, AspInactive, AspUp, Data, DestinationUserPartUnavailable, ErrorMsg,
    Heartbeat, Message, MessageClass, Notify, SignallingCongestion, Ssnm,
};
pub use param::{Param, ParamIter, Tag, padded};
pub use values::{
    AffectedPointCode, CongestionLevel, ErrorCode, ProtocolData, ServiceIndicator, Status,
    TrafficModeType, UserCause,
};
