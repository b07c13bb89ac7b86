//! Remote operations (Q.763 §3.48): a protocol profile octet followed by ROSE components (X.880) in
//! BER. The component headers — type, invoke id, linked id, operation or error code — are decoded
//! with `asn1-rs`; every component is kept as its exact octets, so it passes on unchanged.

use super::{ParameterValue, hex_octets};
use crate::error::{ParameterError, at_least};
use crate::sink::Sink;
use asn1_rs::{Any, Class, FromBer};
use serde::{Deserialize, Deserializer, Serialize};

/// X.880 ROS component type, from the context-specific tag of the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentType {
    Invoke,
    ReturnResult,
    ReturnError,
    Reject,
}

/// X.880 `Code`: a local integer or a global object identifier (dotted form).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationCode {
    Local(i64),
    Global(String),
}

/// One ROSE component: the decoded header plus its exact BER octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Component {
    pub component_type: ComponentType,
    /// Absent only in a Reject whose invoke id is NULL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_id: Option<i64>,
    /// Operation code (Invoke, ReturnResult with a result) or error code (ReturnError).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<OperationCode>,
    /// The whole component (tag, length, contents) as received.
    #[serde(with = "hex_octets")]
    pub raw: Vec<u8>,
}

/// JSON input names only `raw`; the header is always re-derived from it.
impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct RawOnly {
            #[serde(with = "hex_octets")]
            raw: Vec<u8>,
        }
        let r = RawOnly::deserialize(d)?;
        match Component::parse_one(&r.raw) {
            Ok((c, [])) => Ok(c),
            Ok(_) => Err(serde::de::Error::custom("octets after the ROSE component")),
            Err(e) => Err(serde::de::Error::custom(e)),
        }
    }
}

fn integer(content: &[u8]) -> Result<i64, ParameterError> {
    if content.is_empty() || content.len() > 8 {
        return Err(ParameterError::BadValue("ROSE integer length"));
    }
    let mut v: i64 = if content[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in content {
        v = (v << 8) | b as i64;
    }
    Ok(v)
}

fn ber_error(_: asn1_rs::Err<asn1_rs::Error>) -> ParameterError {
    ParameterError::BadValue("malformed BER in ROSE component")
}

fn code_of(any: &Any<'_>) -> Result<OperationCode, ParameterError> {
    match (any.header.class(), any.header.tag().0) {
        (Class::Universal, 2) => integer(any.data).map(OperationCode::Local),
        (Class::Universal, 6) => any
            .as_oid()
            .map(|o| OperationCode::Global(o.to_id_string()))
            .map_err(|_| ParameterError::BadValue("malformed ROSE global code")),
        _ => Err(ParameterError::BadValue(
            "ROSE code is neither INTEGER nor OID",
        )),
    }
}

impl Component {
    /// Decode one component from the front of `input`; returns it and the rest.
    pub fn parse_one(input: &[u8]) -> Result<(Component, &[u8]), ParameterError> {
        let (rest, any) = Any::from_ber(input).map_err(ber_error)?;
        let raw = input[..input.len() - rest.len()].to_vec();
        if any.header.class() != Class::ContextSpecific || !any.header.is_constructed() {
            return Err(ParameterError::BadValue(
                "ROSE component tag is not [1..4] constructed",
            ));
        }
        let component_type = match any.header.tag().0 {
            1 => ComponentType::Invoke,
            2 => ComponentType::ReturnResult,
            3 => ComponentType::ReturnError,
            4 => ComponentType::Reject,
            _ => return Err(ParameterError::BadValue("unknown ROSE component tag")),
        };
        let mut c = Component {
            component_type,
            invoke_id: None,
            linked_id: None,
            code: None,
            raw,
        };
        let (body, id) = Any::from_ber(any.data).map_err(ber_error)?;
        match (id.header.class(), id.header.tag().0) {
            (Class::Universal, 2) => c.invoke_id = Some(integer(id.data)?),
            (Class::Universal, 5) if component_type == ComponentType::Reject => {}
            _ => return Err(ParameterError::BadValue("ROSE invoke id is not an INTEGER")),
        }
        match component_type {
            ComponentType::Invoke => {
                let (rest, mut next) = Any::from_ber(body).map_err(ber_error)?;
                if next.header.class() == Class::ContextSpecific && next.header.tag().0 == 0 {
                    c.linked_id = Some(integer(next.data)?);
                    next = Any::from_ber(rest).map_err(ber_error)?.1;
                }
                c.code = Some(code_of(&next)?);
            }
            ComponentType::ReturnResult => {
                if !body.is_empty() {
                    let (_, seq) = Any::from_ber(body).map_err(ber_error)?;
                    let (_, op) = Any::from_ber(seq.data).map_err(ber_error)?;
                    c.code = Some(code_of(&op)?);
                }
            }
            ComponentType::ReturnError => {
                let (_, err) = Any::from_ber(body).map_err(ber_error)?;
                c.code = Some(code_of(&err)?);
            }
            ComponentType::Reject => {
                Any::from_ber(body).map_err(ber_error)?;
            }
        }
        Ok((c, rest))
    }
}

/// Remote operations parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteOperations {
    /// Bits E-A of octet 1: 0x11 = remote operations protocol (X.219/X.229).
    pub protocol_profile: u8,
    pub components: Vec<Component>,
}

impl ParameterValue for RemoteOperations {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        at_least(b, 1, "at least 1")?;
        let mut components = Vec::new();
        let mut rest = &b[1..];
        while !rest.is_empty() {
            let (c, r) = Component::parse_one(rest)?;
            components.push(c);
            rest = r;
        }
        Ok(RemoteOperations {
            protocol_profile: b[0] & 0x1F,
            components,
        })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        out.put(0x80 | (self.protocol_profile & 0x1F));
        for c in &self.components {
            out.put_slice(&c.raw);
        }
    }
}
