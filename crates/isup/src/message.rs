//! The typed message representation: parse from and emit to the Q.763 layout, driven by the
//! variant's format table.

use crate::codes::{MessageType, ParameterCode};
use crate::error::Error;
use crate::param::Parameter;
use crate::tables::{MessageFormat, Variant};
use crate::view::{MAX_OPTIONAL_PARAMETERS, MessageView, Part};

/// An ISUP message (without CIC): the message type and its parameters in wire order — mandatory
/// fixed, mandatory variable, then optional — each typed or raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub message_type: MessageType,
    pub parameters: Vec<Parameter>,
    /// For message types without a parsed format (unknown codes, PAM, CRG): every octet after the type.
    pub raw_body: Option<Vec<u8>>,
    /// The optional-part pointer designated an end-of-optional-parameters octet with no parameters.
    pub empty_optional_part: bool,
    /// Octets after the end of the message proper, kept so that nothing received is lost.
    pub trailing: Vec<u8>,
}

/// A typed parameter value with its one `Parameter` variant.
pub trait ParameterType: Sized {
    const CODE: ParameterCode;
    fn from_parameter(p: &Parameter) -> Option<&Self>;
    fn from_parameter_mut(p: &mut Parameter) -> Option<&mut Self>;
    fn into_parameter(self) -> Parameter;
}

impl Message {
    /// An empty message of the given type.
    pub fn new(message_type: MessageType) -> Self {
        Message {
            message_type,
            parameters: Vec::new(),
            raw_body: None,
            empty_optional_part: false,
            trailing: Vec::new(),
        }
    }

    /// Append a parameter (builder style). Add mandatory parameters first, in Q.763 order.
    pub fn with(mut self, p: impl Into<Parameter>) -> Self {
        self.parameters.push(p.into());
        self
    }

    /// Parse an ITU-T message starting at the message type octet (the RFC 3204 body form).
    pub fn parse(data: &[u8]) -> Result<Message, Error> {
        Variant::ITU.parse(data)
    }

    /// Emit an ITU-T message starting at the message type octet, appending to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        Variant::ITU.emit(self, out)
    }

    /// Emit to a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut v = Vec::with_capacity(64);
        self.emit(&mut v)?;
        Ok(v)
    }

    /// Parse ITU-T user data that starts with the CIC (M3UA/MTP3 form).
    pub fn parse_with_cic(data: &[u8]) -> Result<(u16, Message), Error> {
        Variant::ITU.parse_with_cic(data)
    }

    /// Emit ITU-T user data that starts with the CIC (M3UA/MTP3 form).
    pub fn emit_with_cic(&self, cic: u16, out: &mut Vec<u8>) -> Result<(), Error> {
        Variant::ITU.emit_with_cic(cic, self, out)
    }

    /// The first parameter with `code`.
    pub fn find(&self, code: ParameterCode) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.code() == code)
    }

    /// The first parameter of type `T` (typed form only).
    pub fn get<T: ParameterType>(&self) -> Option<&T> {
        self.parameters.iter().find_map(T::from_parameter)
    }

    /// The first parameter of type `T`, mutable.
    pub fn get_mut<T: ParameterType>(&mut self) -> Option<&mut T> {
        self.parameters.iter_mut().find_map(T::from_parameter_mut)
    }

    /// Replace the parameter with `p`'s code, or append it to the optional part.
    pub fn set(&mut self, p: impl Into<Parameter>) {
        let p = p.into();
        match self.parameters.iter_mut().find(|q| q.code() == p.code()) {
            Some(q) => *q = p,
            None => self.parameters.push(p),
        }
    }

    /// Remove every parameter with `code`; true if one was present.
    pub fn remove(&mut self, code: ParameterCode) -> bool {
        let n = self.parameters.len();
        self.parameters.retain(|p| p.code() != code);
        n != self.parameters.len()
    }
}

impl Variant {
    /// Parse a message starting at the message type octet.
    pub fn parse(&self, data: &[u8]) -> Result<Message, Error> {
        let view = MessageView::new_checked(data, self)?;
        let message_type = view.message_type();
        if let Some(body) = view.raw_body() {
            return Ok(Message {
                raw_body: Some(body.to_vec()),
                ..Message::new(message_type)
            });
        }
        // One allocation of exactly the right size; each parameter is then decoded straight into
        // its slot, so no decoded value is moved through a temporary.
        let n = view.parameter_count();
        debug_assert_eq!(n, view.parameters().count());
        let mut parameters: Vec<Parameter> = (0..n).map(|_| Parameter::placeholder()).collect();
        for (slot, (code, value, part)) in parameters.iter_mut().zip(view.parameters()) {
            if let Err(e) = Parameter::decode_into(code, value, slot) {
                if part == Part::Optional {
                    // Q.764 §2.9.5.2: an optional parameter with unreasonable content is handled
                    // like an unrecognized one; keep it raw for the compatibility procedures.
                    crate::param::fill(slot, Parameter::raw(code, value));
                } else {
                    return Err(e.in_message(view.label(), code.name()));
                }
            }
        }
        Ok(Message {
            message_type,
            parameters,
            raw_body: None,
            empty_optional_part: view.empty_optional_part(),
            trailing: view.trailing().to_vec(),
        })
    }

    /// Parse user data that starts with the CIC.
    pub fn parse_with_cic(&self, data: &[u8]) -> Result<(u16, Message), Error> {
        let (cic, rest) = self.split_cic(data)?;
        Ok((cic, self.parse(rest)?))
    }

    /// Split off the CIC (Q.763 §1.2: least significant octet first).
    pub fn split_cic<'a>(&self, data: &'a [u8]) -> Result<(u16, &'a [u8]), Error> {
        match data {
            [lo, hi, rest @ ..] => {
                let cic = u16::from_le_bytes([*lo, *hi]) & self.max_cic();
                Ok((cic, rest))
            }
            _ => Err(Error::Truncated {
                message: "unknown message",
                parameter: "circuit identification code",
            }),
        }
    }

    /// Emit a message starting at the message type octet, appending to `out`.
    pub fn emit(&self, msg: &Message, out: &mut Vec<u8>) -> Result<(), Error> {
        out.push(msg.message_type.0);
        if let Some(body) = &msg.raw_body {
            out.extend_from_slice(body);
            return Ok(());
        }
        let Some(fmt) = self.format(msg.message_type).filter(|f| f.parsed) else {
            return Err(Error::BadValue {
                message: "unknown message",
                parameter: "message type",
                reason: "no format for this message type: give its raw body",
            });
        };
        emit_parameters(fmt, msg, out)?;
        out.extend_from_slice(&msg.trailing);
        Ok(())
    }

    /// Emit user data that starts with the CIC.
    pub fn emit_with_cic(&self, cic: u16, msg: &Message, out: &mut Vec<u8>) -> Result<(), Error> {
        if cic > self.max_cic() {
            return Err(Error::BadValue {
                message: fmt_label(self.format(msg.message_type)),
                parameter: "circuit identification code",
                reason: "CIC wider than the variant allows",
            });
        }
        out.extend_from_slice(&cic.to_le_bytes());
        self.emit(msg, out)
    }
}

fn fmt_label(f: Option<&MessageFormat>) -> &'static str {
    f.map_or("unknown message", |f| f.abbreviation)
}

/// Write a value with its length indicator; the value must fit in 255 octets.
fn put_with_length(out: &mut Vec<u8>, p: &Parameter, message: &'static str) -> Result<(), Error> {
    let li = out.len();
    out.push(0);
    p.emit_value(out);
    let len = out.len() - li - 1;
    if len > 255 {
        return Err(Error::LengthMismatch {
            message,
            parameter: p.name(),
            expected: "at most 255",
            actual: len,
        });
    }
    out[li] = len as u8;
    Ok(())
}

fn emit_parameters(fmt: &MessageFormat, msg: &Message, out: &mut Vec<u8>) -> Result<(), Error> {
    let m = fmt.abbreviation;
    let mut params = msg.parameters.iter();
    let missing = |code: ParameterCode| Error::MissingMandatory {
        message: m,
        parameter: code.name(),
    };
    for f in fmt.fixed {
        let p = params
            .next()
            .filter(|p| p.code() == f.code)
            .ok_or_else(|| missing(f.code))?;
        let start = out.len();
        p.emit_value(out);
        if out.len() - start != f.len {
            return Err(Error::LengthMismatch {
                message: m,
                parameter: f.code.name(),
                expected: if f.len == 1 { "1" } else { "2" },
                actual: out.len() - start,
            });
        }
    }
    let pointers = out.len();
    let n_pointers = fmt.variable.len() + fmt.optional_part as usize;
    out.resize(pointers + n_pointers, 0);
    let pointer = |out: &mut Vec<u8>, i: usize, param: &'static str| -> Result<(), Error> {
        let distance = out.len() - (pointers + i);
        let v = u8::try_from(distance).map_err(|_| Error::BadPointer {
            message: m,
            parameter: param,
        })?;
        out[pointers + i] = v;
        Ok(())
    };
    for (i, code) in fmt.variable.iter().enumerate() {
        let p = params
            .next()
            .filter(|p| p.code() == *code)
            .ok_or_else(|| missing(*code))?;
        pointer(out, i, code.name())?;
        put_with_length(out, p, m)?;
    }
    let rest = params.as_slice();
    if fmt.optional_part {
        if !rest.is_empty() || msg.empty_optional_part {
            // Nothing is emitted that `parse` would refuse.
            if rest.len() > MAX_OPTIONAL_PARAMETERS {
                return Err(Error::TooManyParameters {
                    message: m,
                    limit: MAX_OPTIONAL_PARAMETERS,
                });
            }
            pointer(out, fmt.variable.len(), "optional part")?;
            for p in rest {
                if p.code() == ParameterCode::END_OF_OPTIONAL_PARAMETERS {
                    return Err(Error::BadValue {
                        message: m,
                        parameter: p.name(),
                        reason: "code 0 ends the optional part and cannot be a parameter",
                    });
                }
                out.push(p.code().0);
                put_with_length(out, p, m)?;
            }
            out.push(0);
        }
    } else if let Some(p) = rest.first() {
        return Err(Error::BadValue {
            message: m,
            parameter: p.name(),
            reason: "not a mandatory parameter and the message type has no optional part",
        });
    }
    Ok(())
}
