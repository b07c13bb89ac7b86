//! The JSON form of a message, shared by `mgc isup decode|encode`, fixtures and the simulator.
//!
//! ```json
//! {"cic": 1, "message_type": "REL", "message_type_code": 12,
//!  "parameters": [{"code": 18, "name": "cause_indicators", "cause_value": 31, "location": 3,
//!                  "coding_standard": 0, "diagnostics": ""}]}
//! ```
//! Typed parameters carry their Q.763 fields; others carry `raw` (hex), plus the decoded fields
//! when the octets fit the type but are not in its canonical form (raw wins on encode). `name` is
//! `"unknown"` for spare codes. `raw_body`, `trailing` and `empty_optional_part` appear only when needed to
//! reproduce the received octets exactly.

use crate::Message;
use crate::codes::{MessageType, ParameterCode};
use crate::param::{Parameter, RawParameter};
use crate::tables::{Variant, parameter_by_name};
use serde_json::{Map, Value, json};

/// Error building a message from JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("{0}")]
    Shape(String),
    #[error("parameter {index} ({name}): {reason}")]
    Parameter {
        index: usize,
        name: String,
        reason: String,
    },
}

/// One parameter as JSON. A raw parameter whose octets still fit its code's type (kept raw only
/// because a spare bit is set or the filler is not zero) carries the decoded fields too, with
/// `raw` beside them; `raw` is what [`parameter_from_json`] encodes.
pub fn parameter_to_json(p: &Parameter) -> Value {
    let mut m = Map::new();
    m.insert("code".into(), json!(p.code().0));
    m.insert("name".into(), json!(p.name()));
    match p {
        Parameter::Raw(r) => {
            if let Some(Value::Object(fields)) = p.to_typed().and_then(|t| t.fields_to_json()) {
                m.extend(fields);
            }
            m.insert("raw".into(), json!(hex::encode(&r.value)));
        }
        p => match p.fields_to_json() {
            Some(Value::Object(fields)) => m.extend(fields),
            _ => {
                m.insert("raw".into(), json!(hex::encode(p.value_bytes())));
            }
        },
    }
    Value::Object(m)
}

/// With `raw`, other fields may only repeat what `raw` decodes to (as [`parameter_to_json`]
/// shows them): `raw` wins on encode, so an edited field beside it would be silently lost.
fn check_fields_match_raw(
    code: ParameterCode,
    raw: &[u8],
    obj: &Map<String, Value>,
) -> Result<(), String> {
    let given: Vec<(&String, &Value)> = obj
        .iter()
        .filter(|(k, _)| !["code", "name", "raw"].contains(&k.as_str()))
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    let decoded = Parameter::raw(code, raw).to_typed();
    let Some((decoded, Value::Object(base))) =
        decoded.and_then(|d| d.fields_to_json().map(|f| (d, f)))
    else {
        return Err(format!(
            "raw does not decode as a typed {}: a raw parameter has only code, name and raw",
            code.name()
        ));
    };
    let differing: Vec<&str> = given
        .iter()
        .filter(|(k, v)| base.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    if differing.is_empty() {
        return Ok(());
    }
    // Equal once parsed (e.g. digits in lower case) is still the same value.
    let mut merged = base;
    merged.extend(given.iter().map(|(k, v)| ((*k).clone(), (*v).clone())));
    match Parameter::typed_from_json(code, Value::Object(merged)) {
        Some(Ok(p)) if p == decoded => Ok(()),
        Some(Err(e)) => Err(e),
        _ => Err(format!(
            "{} differ from what raw decodes to; raw is what is encoded: remove raw to encode the fields",
            differing.join(", ")
        )),
    }
}

/// A message as JSON; `cic` is included when given.
pub fn to_json(msg: &Message, cic: Option<u16>) -> Value {
    let mut m = Map::new();
    if let Some(cic) = cic {
        m.insert("cic".into(), json!(cic));
    }
    m.insert(
        "message_type".into(),
        json!(msg.message_type.abbreviation().unwrap_or("unknown")),
    );
    m.insert("message_type_code".into(), json!(msg.message_type.0));
    m.insert(
        "parameters".into(),
        Value::Array(msg.parameters.iter().map(parameter_to_json).collect()),
    );
    if let Some(body) = &msg.raw_body {
        m.insert("raw_body".into(), json!(hex::encode(body)));
    }
    if msg.empty_optional_part {
        m.insert("empty_optional_part".into(), json!(true));
    }
    if !msg.trailing.is_empty() {
        m.insert("trailing".into(), json!(hex::encode(&msg.trailing)));
    }
    Value::Object(m)
}

fn hex_field(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{what} must be a hex string"))?;
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    hex::decode(clean).map_err(|e| format!("{what}: {e}"))
}

/// One parameter from JSON: by `code` (or `name`), with `raw` or typed fields.
pub fn parameter_from_json(v: &Value) -> Result<Parameter, String> {
    let obj = v.as_object().ok_or("a parameter must be an object")?;
    let name = obj.get("name").and_then(Value::as_str);
    let code = match obj.get("code") {
        Some(c) => {
            let c = c
                .as_u64()
                .filter(|c| *c <= 255)
                .ok_or("code must be 0..=255")?;
            ParameterCode(c as u8)
        }
        None => name
            .and_then(parameter_by_name)
            .ok_or("give a code, or a known parameter name")?,
    };
    if let Some(n) = name.filter(|n| *n != "unknown")
        && parameter_by_name(n) != Some(code)
    {
        return Err(format!("name {n} does not match code {}", code.0));
    }
    if let Some(raw) = obj.get("raw") {
        // Raw wins: its octets are emitted exactly; fields beside it must agree with them.
        let value = hex_field(raw, "raw")?;
        check_fields_match_raw(code, &value, obj)?;
        return Ok(Parameter::Raw(RawParameter { code, value }));
    }
    let mut fields = obj.clone();
    fields.remove("code");
    fields.remove("name");
    Parameter::typed_from_json(code, Value::Object(fields))
        .unwrap_or_else(|| Err(format!("{code} has no typed form here: give \"raw\" (hex)")))
}

/// A message from JSON; returns the `cic` if present.
pub fn from_json(v: &Value, variant: &Variant) -> Result<(Option<u16>, Message), JsonError> {
    let shape = |s: &str| JsonError::Shape(s.to_string());
    let obj = v
        .as_object()
        .ok_or_else(|| shape("a message must be a JSON object"))?;
    for k in obj.keys() {
        if ![
            "cic",
            "message_type",
            "message_type_code",
            "parameters",
            "raw_body",
            "trailing",
            "empty_optional_part",
        ]
        .contains(&k.as_str())
        {
            return Err(JsonError::Shape(format!("unknown field {k}")));
        }
    }
    let cic = match obj.get("cic") {
        None | Some(Value::Null) => None,
        Some(c) => Some(
            c.as_u64()
                .filter(|c| *c <= variant.max_cic() as u64)
                .ok_or_else(|| shape("cic must be an integer within the variant's CIC width"))?
                as u16,
        ),
    };
    let message_type = match (obj.get("message_type_code"), obj.get("message_type")) {
        (Some(c), _) => MessageType(
            c.as_u64()
                .filter(|c| *c <= 255)
                .ok_or_else(|| shape("message_type_code must be 0..=255"))? as u8,
        ),
        (None, Some(Value::String(a))) => variant
            .message_type_by_abbreviation(a)
            .ok_or_else(|| JsonError::Shape(format!("unknown message type {a}")))?,
        _ => return Err(shape("give message_type_code or message_type")),
    };
    let mut msg = Message::new(message_type);
    if let Some(body) = obj.get("raw_body") {
        msg.raw_body = Some(hex_field(body, "raw_body").map_err(JsonError::Shape)?);
    }
    if let Some(t) = obj.get("trailing") {
        msg.trailing = hex_field(t, "trailing").map_err(JsonError::Shape)?;
    }
    msg.empty_optional_part = obj
        .get("empty_optional_part")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(params) = obj.get("parameters") {
        let params = params
            .as_array()
            .ok_or_else(|| shape("parameters must be an array"))?;
        for (index, p) in params.iter().enumerate() {
            let param = parameter_from_json(p).map_err(|reason| JsonError::Parameter {
                index,
                name: p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                reason,
            })?;
            msg.parameters.push(param);
        }
    }
    Ok((cic, msg))
}
