//! Typed messages (RFC 4666 §3.3–§3.8) with `parse` and `emit`.
//!
//! Parsing accepts parameters in any order; emission writes them in the order of the RFC's
//! message formats (the order of [`crate::tables::MESSAGES`]), so a message in that canonical
//! form round-trips byte for byte.

use bytes::{BufMut, Bytes};

use crate::error::DecodeError;
use crate::tables::{self, MessageSpec, Presence};
use crate::wire::header::{HEADER_LEN, Header, VERSION};
use crate::wire::param::{Param, Tag, padded};
use crate::wire::values::{
    AffectedPointCode, ErrorCode, ProtocolData, Status, TrafficModeType, UserCause,
};

/// Message classes (RFC 4666 §3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageClass(pub u8);

impl MessageClass {
    pub const MGMT: MessageClass = MessageClass(0);
    pub const TRANSFER: MessageClass = MessageClass(1);
    pub const SSNM: MessageClass = MessageClass(2);
    pub const ASPSM: MessageClass = MessageClass(3);
    pub const ASPTM: MessageClass = MessageClass(4);
    pub const RKM: MessageClass = MessageClass(9);
}

/// Error (ERR), RFC 4666 §3.8.1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorMsg {
    pub error_code: ErrorCode,
    /// Empty when absent.
    pub routing_context: Vec<u32>,
    pub network_appearance: Option<u32>,
    /// Empty when absent.
    pub affected_point_codes: Vec<AffectedPointCode>,
    /// The first 40 octets (or more) of the offending message.
    pub diagnostic_information: Option<Bytes>,
}

impl Default for ErrorCode {
    fn default() -> Self {
        ErrorCode::PROTOCOL_ERROR
    }
}

/// Notify (NTFY), RFC 4666 §3.8.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub status: Status,
    pub asp_identifier: Option<u32>,
    /// Empty when absent.
    pub routing_context: Vec<u32>,
    pub info_string: Option<Bytes>,
}

/// Payload Data (DATA), RFC 4666 §3.3.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    pub network_appearance: Option<u32>,
    /// RFC 4666 §3.3.1: a single Routing Context value in DATA.
    pub routing_context: Option<u32>,
    pub protocol_data: ProtocolData,
    pub correlation_id: Option<u32>,
}

/// DUNA, DAVA, DAUD and DRST share one format (RFC 4666 §3.4.1–§3.4.3, §3.4.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ssnm {
    pub network_appearance: Option<u32>,
    /// Empty when absent.
    pub routing_context: Vec<u32>,
    /// At least one entry.
    pub affected_point_codes: Vec<AffectedPointCode>,
    pub info_string: Option<Bytes>,
}

/// Signalling Congestion (SCON), RFC 4666 §3.4.4.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignallingCongestion {
    pub network_appearance: Option<u32>,
    pub routing_context: Vec<u32>,
    pub affected_point_codes: Vec<AffectedPointCode>,
    /// Concerned DPC (24 bits).
    pub concerned_destination: Option<u32>,
    /// Congestion level 0–3.
    pub congestion_level: Option<u8>,
    pub info_string: Option<Bytes>,
}

/// Destination User Part Unavailable (DUPU), RFC 4666 §3.4.5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUserPartUnavailable {
    pub network_appearance: Option<u32>,
    pub routing_context: Vec<u32>,
    /// A single point code.
    pub affected_point_code: AffectedPointCode,
    pub user_cause: UserCause,
    pub info_string: Option<Bytes>,
}

/// ASP Up (ASPUP) and its acknowledgement, RFC 4666 §3.5.1, §3.5.2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AspUp {
    pub asp_identifier: Option<u32>,
    pub info_string: Option<Bytes>,
}

/// ASP Down (ASPDN) and its acknowledgement, RFC 4666 §3.5.3, §3.5.4.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AspDown {
    pub info_string: Option<Bytes>,
}

/// Heartbeat (BEAT) and its acknowledgement, RFC 4666 §3.5.5, §3.5.6.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heartbeat {
    pub heartbeat_data: Option<Bytes>,
}

/// ASP Active (ASPAC) and its acknowledgement, RFC 4666 §3.7.1, §3.7.2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AspActive {
    pub traffic_mode_type: Option<TrafficModeType>,
    /// Empty when absent.
    pub routing_context: Vec<u32>,
    pub info_string: Option<Bytes>,
}

/// ASP Inactive (ASPIA) and its acknowledgement, RFC 4666 §3.7.3, §3.7.4.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AspInactive {
    pub routing_context: Vec<u32>,
    pub info_string: Option<Bytes>,
}

/// Every M3UA message an ASP and an SGP exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Error(ErrorMsg),
    Notify(Notify),
    Data(Data),
    DestinationUnavailable(Ssnm),
    DestinationAvailable(Ssnm),
    DestinationStateAudit(Ssnm),
    SignallingCongestion(SignallingCongestion),
    DestinationUserPartUnavailable(DestinationUserPartUnavailable),
    DestinationRestricted(Ssnm),
    AspUp(AspUp),
    AspDown(AspDown),
    Heartbeat(Heartbeat),
    AspUpAck(AspUp),
    AspDownAck(AspDown),
    HeartbeatAck(Heartbeat),
    AspActive(AspActive),
    AspInactive(AspInactive),
    AspActiveAck(AspActive),
    AspInactiveAck(AspInactive),
}

/// A parameter value handed to the emitter.
enum Value<'a> {
    U32(u32),
    List(&'a [u32]),
    Apc(&'a [AffectedPointCode]),
    Raw(&'a [u8]),
    Pd(&'a ProtocolData),
    Pair(u16, u16),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::U32(_) | Value::Pair(..) => 4,
            Value::List(l) => 4 * l.len(),
            Value::Apc(l) => 4 * l.len(),
            Value::Raw(r) => r.len(),
            Value::Pd(pd) => pd.value_len(),
        }
    }

    fn put<B: BufMut>(&self, buf: &mut B) {
        match self {
            Value::U32(v) => buf.put_u32(*v),
            Value::Pair(a, b) => {
                buf.put_u16(*a);
                buf.put_u16(*b);
            }
            Value::List(l) => l.iter().for_each(|v| buf.put_u32(*v)),
            Value::Apc(l) => l.iter().for_each(|a| buf.put_slice(&a.to_be())),
            Value::Raw(r) => buf.put_slice(r),
            Value::Pd(pd) => {
                buf.put_u32(pd.opc);
                buf.put_u32(pd.dpc);
                buf.put_slice(&[pd.si, pd.ni, pd.mp, pd.sls]);
                buf.put_slice(&pd.user_data);
            }
        }
    }
}

/// Calls `f` for every present parameter, in the RFC's order.
macro_rules! opt {
    ($f:ident, $tag:expr, $v:expr, $ctor:expr) => {
        if let Some(v) = $v {
            $f($tag, $ctor(v));
        }
    };
}
macro_rules! list {
    ($f:ident, $tag:expr, $v:expr, $ctor:expr) => {
        if !$v.is_empty() {
            $f($tag, $ctor(&$v[..]));
        }
    };
}

fn raw(b: &Bytes) -> Value<'_> {
    Value::Raw(b)
}
fn u32v(v: &u32) -> Value<'static> {
    Value::U32(*v)
}

impl Message {
    /// Class and type octets (RFC 4666 §3.1.2).
    pub fn class_and_type(&self) -> (u8, u8) {
        match self {
            Message::Error(_) => (0, 0),
            Message::Notify(_) => (0, 1),
            Message::Data(_) => (1, 1),
            Message::DestinationUnavailable(_) => (2, 1),
            Message::DestinationAvailable(_) => (2, 2),
            Message::DestinationStateAudit(_) => (2, 3),
            Message::SignallingCongestion(_) => (2, 4),
            Message::DestinationUserPartUnavailable(_) => (2, 5),
            Message::DestinationRestricted(_) => (2, 6),
            Message::AspUp(_) => (3, 1),
            Message::AspDown(_) => (3, 2),
            Message::Heartbeat(_) => (3, 3),
            Message::AspUpAck(_) => (3, 4),
            Message::AspDownAck(_) => (3, 5),
            Message::HeartbeatAck(_) => (3, 6),
            Message::AspActive(_) => (4, 1),
            Message::AspInactive(_) => (4, 2),
            Message::AspActiveAck(_) => (4, 3),
            Message::AspInactiveAck(_) => (4, 4),
        }
    }

    /// The message's definition in [`tables::MESSAGES`].
    pub fn spec(&self) -> &'static MessageSpec {
        let (c, t) = self.class_and_type();
        // Every variant has a table row; the fallback is never taken.
        tables::message_spec(c, t).unwrap_or(&tables::MESSAGES[0])
    }

    /// The RFC's abbreviation, e.g. `ASPAC_ACK`.
    pub fn abbr(&self) -> &'static str {
        self.spec().abbr
    }

    /// The message class.
    pub fn class(&self) -> MessageClass {
        MessageClass(self.class_and_type().0)
    }

    fn each_param<F: FnMut(Tag, Value<'_>)>(&self, mut f: F) {
        match self {
            Message::Error(m) => {
                f(Tag::ERROR_CODE, Value::U32(m.error_code.0));
                list!(f, Tag::ROUTING_CONTEXT, m.routing_context, Value::List);
                opt!(f, Tag::NETWORK_APPEARANCE, &m.network_appearance, u32v);
                list!(
                    f,
                    Tag::AFFECTED_POINT_CODE,
                    m.affected_point_codes,
                    Value::Apc
                );
                opt!(
                    f,
                    Tag::DIAGNOSTIC_INFORMATION,
                    &m.diagnostic_information,
                    raw
                );
            }
            Message::Notify(m) => {
                f(
                    Tag::STATUS,
                    Value::Pair(m.status.status_type, m.status.status_info),
                );
                opt!(f, Tag::ASP_IDENTIFIER, &m.asp_identifier, u32v);
                list!(f, Tag::ROUTING_CONTEXT, m.routing_context, Value::List);
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
            Message::Data(m) => {
                opt!(f, Tag::NETWORK_APPEARANCE, &m.network_appearance, u32v);
                opt!(f, Tag::ROUTING_CONTEXT, &m.routing_context, u32v);
                f(Tag::PROTOCOL_DATA, Value::Pd(&m.protocol_data));
                opt!(f, Tag::CORRELATION_ID, &m.correlation_id, u32v);
            }
            Message::DestinationUnavailable(m)
            | Message::DestinationAvailable(m)
            | Message::DestinationStateAudit(m)
            | Message::DestinationRestricted(m) => {
                opt!(f, Tag::NETWORK_APPEARANCE, &m.network_appearance, u32v);
                list!(f, Tag::ROUTING_CONTEXT, m.routing_context, Value::List);
                f(
                    Tag::AFFECTED_POINT_CODE,
                    Value::Apc(&m.affected_point_codes),
                );
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
            Message::SignallingCongestion(m) => {
                opt!(f, Tag::NETWORK_APPEARANCE, &m.network_appearance, u32v);
                list!(f, Tag::ROUTING_CONTEXT, m.routing_context, Value::List);
                f(
                    Tag::AFFECTED_POINT_CODE,
                    Value::Apc(&m.affected_point_codes),
                );
                opt!(
                    f,
                    Tag::CONCERNED_DESTINATION,
                    &m.concerned_destination,
                    |v: &u32| { Value::U32(v & 0x00ff_ffff) }
                );
                opt!(
                    f,
                    Tag::CONGESTION_INDICATIONS,
                    &m.congestion_level,
                    |v: &u8| { Value::U32(u32::from(*v)) }
                );
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
            Message::DestinationUserPartUnavailable(m) => {
                opt!(f, Tag::NETWORK_APPEARANCE, &m.network_appearance, u32v);
                list!(f, Tag::ROUTING_CONTEXT, m.routing_context, Value::List);
                f(
                    Tag::AFFECTED_POINT_CODE,
                    Value::Apc(std::slice::from_ref(&m.affected_point_code)),
                );
                f(
                    Tag::USER_CAUSE,
                    Value::Pair(m.user_cause.cause, m.user_cause.user),
                );
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
            Message::AspUp(m) | Message::AspUpAck(m) => {
                opt!(f, Tag::ASP_IDENTIFIER, &m.asp_identifier, u32v);
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
            Message::AspDown(m) | Message::AspDownAck(m) => {
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
            Message::Heartbeat(m) | Message::HeartbeatAck(m) => {
                opt!(f, Tag::HEARTBEAT_DATA, &m.heartbeat_data, raw);
            }
            Message::AspActive(m) | Message::AspActiveAck(m) => {
                opt!(
                    f,
                    Tag::TRAFFIC_MODE_TYPE,
                    &m.traffic_mode_type,
                    |t: &TrafficModeType| { Value::U32(t.0) }
                );
                list!(f, Tag::ROUTING_CONTEXT, m.routing_context, Value::List);
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
            Message::AspInactive(m) | Message::AspInactiveAck(m) => {
                list!(f, Tag::ROUTING_CONTEXT, m.routing_context, Value::List);
                opt!(f, Tag::INFO_STRING, &m.info_string, raw);
            }
        }
    }

    /// Octets [`emit`](Self::emit) writes: header, parameters and their padding.
    pub fn buffer_len(&self) -> usize {
        let mut len = HEADER_LEN;
        self.each_param(|_, v| len += 4 + padded(v.len()));
        len
    }

    /// Appends the encoded message to `buf`.
    ///
    /// Values longer than a TLV can hold (65,531 octets) are not representable; such a
    /// message is written with a wrapped parameter length, which the peer rejects.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        let (class, msg_type) = self.class_and_type();
        buf.put_slice(&[VERSION, 0, class, msg_type]);
        buf.put_u32(self.buffer_len() as u32);
        self.each_param(|tag, v| {
            let len = 4 + v.len();
            buf.put_u16(tag.0);
            buf.put_u16(len as u16);
            v.put(buf);
            buf.put_bytes(0, padded(len) - len);
        });
    }

    /// The encoded message in a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buffer_len());
        self.emit(&mut v);
        v
    }

    /// Decodes exactly one message; variable-length values are copied out of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Message, DecodeError> {
        Self::parse_inner(buf, &mut Bytes::copy_from_slice)
    }

    /// Decodes exactly one message; variable-length values share `buf`'s storage (no copy).
    pub fn parse_bytes(buf: &Bytes) -> Result<Message, DecodeError> {
        Self::parse_inner(buf, &mut |s: &[u8]| buf.slice_ref(s))
    }

    fn parse_inner(buf: &[u8], mk: &mut dyn FnMut(&[u8]) -> Bytes) -> Result<Message, DecodeError> {
        let h = Header::new_checked(buf)?;
        let (class, msg_type) = (h.class(), h.msg_type());
        let spec = match tables::message_spec(class, msg_type) {
            Some(s) => s,
            // RFC 4666 §4.2: RKM is optional; this implementation does not support it.
            None if tables::class_known(class) && class != MessageClass::RKM.0 => {
                return Err(DecodeError::UnsupportedMessageType { class, msg_type });
            }
            None => return Err(DecodeError::UnsupportedMessageClass(class)),
        };
        let mut p = Fields {
            spec,
            slots: [None; MAX_PARAMS],
            mk,
        };
        for param in h.params() {
            let param = param?;
            let i = spec
                .params
                .iter()
                .position(|&(t, _)| t == param.tag)
                .ok_or(DecodeError::UnexpectedParameter { tag: param.tag })?;
            if p.slots[i].is_some() {
                return Err(DecodeError::ParameterFieldError {
                    tag: param.tag,
                    offset: param.offset,
                });
            }
            p.slots[i] = Some(param);
        }
        for (i, &(tag, presence)) in spec.params.iter().enumerate() {
            if presence == Presence::Mandatory && p.slots[i].is_none() {
                return Err(DecodeError::MissingParameter { tag });
            }
        }
        let info = Tag::INFO_STRING;
        let na = Tag::NETWORK_APPEARANCE;
        let rc = Tag::ROUTING_CONTEXT;
        let apc = Tag::AFFECTED_POINT_CODE;
        let ssnm = |p: &mut Fields<'_, '_>| -> Result<Ssnm, DecodeError> {
            Ok(Ssnm {
                network_appearance: p.u32(na)?,
                routing_context: p.list(rc)?,
                affected_point_codes: p.apcs(apc)?,
                info_string: p.bytes(info),
            })
        };
        let aspac = |p: &mut Fields<'_, '_>| -> Result<AspActive, DecodeError> {
            Ok(AspActive {
                traffic_mode_type: p.u32(Tag::TRAFFIC_MODE_TYPE)?.map(TrafficModeType),
                routing_context: p.list(rc)?,
                info_string: p.bytes(info),
            })
        };
        let aspia = |p: &mut Fields<'_, '_>| -> Result<AspInactive, DecodeError> {
            Ok(AspInactive {
                routing_context: p.list(rc)?,
                info_string: p.bytes(info),
            })
        };
        let aspup = |p: &mut Fields<'_, '_>| -> Result<AspUp, DecodeError> {
            Ok(AspUp {
                asp_identifier: p.u32(Tag::ASP_IDENTIFIER)?,
                info_string: p.bytes(info),
            })
        };
        let beat = |p: &mut Fields<'_, '_>| Heartbeat {
            heartbeat_data: p.bytes(Tag::HEARTBEAT_DATA),
        };
        let aspdn = |p: &mut Fields<'_, '_>| AspDown {
            info_string: p.bytes(info),
        };
        Ok(match (class, msg_type) {
            (0, 0) => Message::Error(ErrorMsg {
                error_code: ErrorCode(p.req_u32(Tag::ERROR_CODE)?),
                routing_context: p.list(rc)?,
                network_appearance: p.u32(na)?,
                affected_point_codes: p.apcs(apc)?,
                diagnostic_information: p.bytes(Tag::DIAGNOSTIC_INFORMATION),
            }),
            (0, 1) => {
                let (t, i) = p.pair(Tag::STATUS)?;
                Message::Notify(Notify {
                    status: Status::new(t, i),
                    asp_identifier: p.u32(Tag::ASP_IDENTIFIER)?,
                    routing_context: p.list(rc)?,
                    info_string: p.bytes(info),
                })
            }
            (1, 1) => Message::Data(Data {
                network_appearance: p.u32(na)?,
                routing_context: p.u32(rc)?,
                protocol_data: p.protocol_data()?,
                correlation_id: p.u32(Tag::CORRELATION_ID)?,
            }),
            (2, 1) => Message::DestinationUnavailable(ssnm(&mut p)?),
            (2, 2) => Message::DestinationAvailable(ssnm(&mut p)?),
            (2, 3) => Message::DestinationStateAudit(ssnm(&mut p)?),
            (2, 4) => Message::SignallingCongestion(SignallingCongestion {
                network_appearance: p.u32(na)?,
                routing_context: p.list(rc)?,
                affected_point_codes: p.apcs(apc)?,
                concerned_destination: p.u32(Tag::CONCERNED_DESTINATION)?.map(|v| v & 0x00ff_ffff),
                congestion_level: match p.u32(Tag::CONGESTION_INDICATIONS)? {
                    // RFC 4666 §3.4.4: levels 0–3 in the low octet.
                    Some(v) if v <= 3 => Some(v as u8),
                    Some(_) => {
                        return Err(DecodeError::InvalidParameterValue {
                            tag: Tag::CONGESTION_INDICATIONS,
                        });
                    }
                    None => None,
                },
                info_string: p.bytes(info),
            }),
            (2, 5) => {
                let apcs = p.apcs(apc)?;
                let affected_point_code = match apcs[..] {
                    [one] => one,
                    _ => return Err(p.field_error(apc)),
                };
                let (cause, user) = p.pair(Tag::USER_CAUSE)?;
                Message::DestinationUserPartUnavailable(DestinationUserPartUnavailable {
                    network_appearance: p.u32(na)?,
                    routing_context: p.list(rc)?,
                    affected_point_code,
                    user_cause: UserCause { cause, user },
                    info_string: p.bytes(info),
                })
            }
            (2, 6) => Message::DestinationRestricted(ssnm(&mut p)?),
            (3, 1) => Message::AspUp(aspup(&mut p)?),
            (3, 2) => Message::AspDown(aspdn(&mut p)),
            (3, 3) => Message::Heartbeat(beat(&mut p)),
            (3, 4) => Message::AspUpAck(aspup(&mut p)?),
            (3, 5) => Message::AspDownAck(aspdn(&mut p)),
            (3, 6) => Message::HeartbeatAck(beat(&mut p)),
            (4, 1) => Message::AspActive(aspac(&mut p)?),
            (4, 2) => Message::AspInactive(aspia(&mut p)?),
            (4, 3) => Message::AspActiveAck(aspac(&mut p)?),
            (4, 4) => Message::AspInactiveAck(aspia(&mut p)?),
            _ => return Err(DecodeError::UnsupportedMessageType { class, msg_type }),
        })
    }
}

/// Most parameters any message defines (SCON has six).
const MAX_PARAMS: usize = 6;

/// The parameters of one message being decoded, slotted by the spec's order.
struct Fields<'a, 'm> {
    spec: &'static MessageSpec,
    slots: [Option<Param<'a>>; MAX_PARAMS],
    mk: &'m mut dyn FnMut(&[u8]) -> Bytes,
}

impl<'a> Fields<'a, '_> {
    fn get(&self, tag: Tag) -> Option<Param<'a>> {
        let i = self.spec.params.iter().position(|&(t, _)| t == tag)?;
        self.slots[i]
    }

    fn field_error(&self, tag: Tag) -> DecodeError {
        DecodeError::ParameterFieldError {
            tag,
            offset: self.get(tag).map_or(0, |p| p.offset),
        }
    }

    fn u32(&self, tag: Tag) -> Result<Option<u32>, DecodeError> {
        match self.get(tag) {
            None => Ok(None),
            Some(p) => match *p.value {
                [a, b, c, d] => Ok(Some(u32::from_be_bytes([a, b, c, d]))),
                _ => Err(self.field_error(tag)),
            },
        }
    }

    fn req_u32(&self, tag: Tag) -> Result<u32, DecodeError> {
        self.u32(tag)?.ok_or(DecodeError::MissingParameter { tag })
    }

    fn pair(&self, tag: Tag) -> Result<(u16, u16), DecodeError> {
        let v = self.req_u32(tag)?;
        Ok(((v >> 16) as u16, v as u16))
    }

    /// A list of 32-bit values; absent gives an empty list, a present one must hold at least one.
    fn words(&self, tag: Tag) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.get(tag) {
            None => Ok(None),
            Some(p) if p.value.is_empty() || p.value.len() % 4 != 0 => Err(self.field_error(tag)),
            Some(p) => Ok(Some(p.value)),
        }
    }

    fn list(&self, tag: Tag) -> Result<Vec<u32>, DecodeError> {
        Ok(self.words(tag)?.map_or_else(Vec::new, |w| {
            w.chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }))
    }

    fn apcs(&self, tag: Tag) -> Result<Vec<AffectedPointCode>, DecodeError> {
        Ok(self.words(tag)?.map_or_else(Vec::new, |w| {
            w.chunks_exact(4)
                .map(|c| AffectedPointCode::from_be([c[0], c[1], c[2], c[3]]))
                .collect()
        }))
    }

    fn bytes(&mut self, tag: Tag) -> Option<Bytes> {
        let p = self.get(tag)?;
        Some((self.mk)(p.value))
    }

    fn protocol_data(&mut self) -> Result<ProtocolData, DecodeError> {
        let tag = Tag::PROTOCOL_DATA;
        let p = self.get(tag).ok_or(DecodeError::MissingParameter { tag })?;
        let mk = &mut self.mk;
        ProtocolData::parse_with(p.value, |u| mk(u)).ok_or(DecodeError::ParameterFieldError {
            tag,
            offset: p.offset,
        })
    }
}
