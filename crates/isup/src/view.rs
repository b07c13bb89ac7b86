//! Zero-copy view over an ISUP message (Q.763 §1): validates the structure once — fixed part, pointers,
//! variable part, optional part — then hands out parameter slices without allocating.

use crate::codes::{MessageType, ParameterCode};
use crate::error::Error;
use crate::tables::{Fixed, MessageFormat, Variant};

/// The most mandatory variable parameters any message type has (CQR has two).
pub const MAX_VARIABLE: usize = 4;

/// The most optional parameters a message may carry. Q.763 Table 32 gives the IAM, the richest
/// message, about 55 optional parameters, nearly all at most once; real traffic carries fewer
/// than 20. Without a bound a 64 KiB M3UA frame could hold 32 000 empty parameters, each a
/// 56-byte slot in the decoded message.
pub const MAX_OPTIONAL_PARAMETERS: usize = 64;

/// Which part of the message a parameter was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    MandatoryFixed,
    MandatoryVariable,
    Optional,
}

/// A checked view over a message starting at the message type octet (no CIC).
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    data: &'a [u8],
    format: Option<&'static MessageFormat>,
    variable: [(usize, usize); MAX_VARIABLE],
    optional: Option<(usize, usize)>,
    /// How many parameters the optional part holds.
    optional_count: usize,
    empty_optional_part: bool,
    end: usize,
}

fn label(format: Option<&'static MessageFormat>) -> &'static str {
    format.map_or("unknown message", |f| f.abbreviation)
}

impl<'a> MessageView<'a> {
    /// Check the structure of `data` (message type first) against `variant`'s format table.
    #[inline]
    pub fn new_checked(data: &'a [u8], variant: &Variant) -> Result<Self, Error> {
        let Some(&code) = data.first() else {
            return Err(Error::Truncated {
                message: "unknown message",
                parameter: "message type",
            });
        };
        let format = variant.format(MessageType(code));
        let mut view = MessageView {
            data,
            format,
            variable: [(0, 0); MAX_VARIABLE],
            optional: None,
            optional_count: 0,
            empty_optional_part: false,
            end: data.len(),
        };
        let Some(fmt) = format.filter(|f| f.parsed) else {
            return Ok(view);
        };
        let msg = fmt.abbreviation;
        let mut pos = 1;
        for fixed in fmt.fixed {
            if pos + fixed.len > data.len() {
                return Err(Error::Truncated {
                    message: msg,
                    parameter: fixed.code.name(),
                });
            }
            pos += fixed.len;
        }
        let n_pointers = fmt.variable.len() + fmt.optional_part as usize;
        if pos + n_pointers > data.len() {
            return Err(Error::Truncated {
                message: msg,
                parameter: "pointer",
            });
        }
        let pointers_end = pos + n_pointers;
        let mut end = pointers_end;
        for (i, code) in fmt.variable.iter().enumerate() {
            let at = pos + i;
            let pointer = data[at] as usize;
            if pointer == 0 {
                return Err(Error::MissingMandatory {
                    message: msg,
                    parameter: code.name(),
                });
            }
            let li = at + pointer;
            if li < pointers_end || li >= data.len() {
                return Err(Error::BadPointer {
                    message: msg,
                    parameter: code.name(),
                });
            }
            let start = li + 1;
            let stop = start + data[li] as usize;
            if stop > data.len() {
                return Err(Error::Truncated {
                    message: msg,
                    parameter: code.name(),
                });
            }
            view.variable[i] = (start, stop);
            end = end.max(stop);
        }
        if fmt.optional_part {
            let at = pos + fmt.variable.len();
            let pointer = data[at] as usize;
            if pointer != 0 {
                let mut p = at + pointer;
                if p < pointers_end || p >= data.len() {
                    return Err(Error::BadPointer {
                        message: msg,
                        parameter: "optional part",
                    });
                }
                let start = p;
                loop {
                    let Some(&pc) = data.get(p) else {
                        return Err(Error::Truncated {
                            message: msg,
                            parameter: "end_of_optional_parameters",
                        });
                    };
                    if pc == 0 {
                        break;
                    }
                    if view.optional_count == MAX_OPTIONAL_PARAMETERS {
                        return Err(Error::TooManyParameters {
                            message: msg,
                            limit: MAX_OPTIONAL_PARAMETERS,
                        });
                    }
                    let name = ParameterCode(pc).name();
                    let Some(&len) = data.get(p + 1) else {
                        return Err(Error::Truncated {
                            message: msg,
                            parameter: name,
                        });
                    };
                    let next = p + 2 + len as usize;
                    if next > data.len() {
                        return Err(Error::Truncated {
                            message: msg,
                            parameter: name,
                        });
                    }
                    p = next;
                    view.optional_count += 1;
                }
                view.empty_optional_part = p == start;
                view.optional = Some((start, p));
                end = end.max(p + 1);
            }
        }
        view.end = end;
        Ok(view)
    }

    pub fn message_type(&self) -> MessageType {
        MessageType(self.data[0])
    }

    /// The format row used, `None` for message types the variant does not define.
    pub fn format(&self) -> Option<&'static MessageFormat> {
        self.format
    }

    /// The abbreviation used in errors.
    pub fn label(&self) -> &'static str {
        label(self.format)
    }

    /// For message types without a parsed format (unknown, PAM, CRG): the octets after the type.
    pub fn raw_body(&self) -> Option<&'a [u8]> {
        match self.format {
            Some(f) if f.parsed => None,
            _ => Some(&self.data[1..]),
        }
    }

    /// Octets after the end of the message proper (after the end-of-optional-parameters octet, or
    /// after the mandatory part of a message that has no optional part).
    pub fn trailing(&self) -> &'a [u8] {
        &self.data[self.end..]
    }

    /// The optional-part pointer designates an end-of-optional-parameters octet with no parameter
    /// before it (Q.763 would code the pointer as zero instead).
    pub fn empty_optional_part(&self) -> bool {
        self.empty_optional_part
    }

    /// How many parameters [`MessageView::parameters`] yields.
    pub fn parameter_count(&self) -> usize {
        match self.format {
            Some(f) if f.parsed => f.fixed.len() + f.variable.len() + self.optional_count,
            _ => 0,
        }
    }

    /// The octets of the `i`th mandatory fixed parameter.
    pub fn fixed(&self, i: usize) -> Option<&'a [u8]> {
        let fmt = self.format.filter(|f| f.parsed)?;
        let mut pos = 1;
        for (j, f) in fmt.fixed.iter().enumerate() {
            if j == i {
                return Some(&self.data[pos..pos + f.len]);
            }
            pos += f.len;
        }
        None
    }

    /// The value octets of the `i`th mandatory variable parameter.
    pub fn variable(&self, i: usize) -> Option<&'a [u8]> {
        let fmt = self.format.filter(|f| f.parsed)?;
        if i >= fmt.variable.len() {
            return None;
        }
        let (s, e) = self.variable[i];
        Some(&self.data[s..e])
    }

    /// The optional parameters in wire order.
    pub fn optional_parameters(&self) -> OptionalParameters<'a> {
        let (s, e) = self.optional.unwrap_or((0, 0));
        OptionalParameters {
            data: &self.data[s..e],
        }
    }

    /// Every parameter in wire order: mandatory fixed, mandatory variable, then optional.
    pub fn parameters(&self) -> Parameters<'a> {
        let (fixed, variable): (&[Fixed], &[ParameterCode]) = match self.format {
            Some(f) if f.parsed => (f.fixed, f.variable),
            _ => (&[], &[]),
        };
        Parameters {
            data: self.data,
            fixed: fixed.iter(),
            fixed_pos: 1,
            variable: variable.iter().zip(self.variable),
            optional: self.optional_parameters(),
        }
    }

    /// The first parameter with `code`, wherever it is.
    pub fn find(&self, code: ParameterCode) -> Option<&'a [u8]> {
        self.parameters()
            .find(|(c, _, _)| *c == code)
            .map(|(_, v, _)| v)
    }
}

/// Iterator over the optional part: `(code, value)`.
#[derive(Debug, Clone)]
pub struct OptionalParameters<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for OptionalParameters<'a> {
    type Item = (ParameterCode, &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // The structure was checked in `new_checked`; `get` keeps this panic-free regardless.
        let (&code, rest) = self.data.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..len as usize)?;
        self.data = &rest[len as usize..];
        Some((ParameterCode(code), value))
    }
}

/// Iterator over all parameters: `(code, value, part)`.
#[derive(Debug, Clone)]
pub struct Parameters<'a> {
    data: &'a [u8],
    fixed: std::slice::Iter<'static, Fixed>,
    fixed_pos: usize,
    variable: std::iter::Zip<
        std::slice::Iter<'static, ParameterCode>,
        std::array::IntoIter<(usize, usize), MAX_VARIABLE>,
    >,
    optional: OptionalParameters<'a>,
}

impl<'a> Iterator for Parameters<'a> {
    type Item = (ParameterCode, &'a [u8], Part);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // The structure was checked in `new_checked`; `get` keeps this panic-free regardless.
        if let Some(f) = self.fixed.next() {
            let v = self.data.get(self.fixed_pos..self.fixed_pos + f.len)?;
            self.fixed_pos += f.len;
            return Some((f.code, v, Part::MandatoryFixed));
        }
        if let Some((code, (s, e))) = self.variable.next() {
            return Some((*code, self.data.get(s..e)?, Part::MandatoryVariable));
        }
        self.optional.next().map(|(c, v)| (c, v, Part::Optional))
    }
}
