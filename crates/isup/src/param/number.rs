//! Number parameters (Q.763 §3.9 ff.). They share one layout with per-parameter differences in the
//! second octet, described as data in [`NumberLayout`]; the const parameter selects the row.

use super::{Digits, Parameter, ParameterValue, fill};
use crate::codes::ParameterCode;
use crate::error::{ParameterError, at_least};
use crate::message::ParameterType;
use crate::sink::Sink;
use serde::{Deserialize, Serialize};

/// What the octet after the nature of address holds, per parameter (bits named as in Q.763).
#[derive(Debug, Clone, Copy)]
pub struct NumberLayout {
    /// A number qualifier indicator octet precedes the number (generic number).
    pub qualifier: bool,
    /// Bit H: internal network number indicator (INN).
    pub inn: bool,
    /// Bit H: number incomplete indicator (NI).
    pub ni: bool,
    /// Bits D-C: address presentation restricted indicator (APRI).
    pub presentation: bool,
    /// Bits B-A: screening indicator.
    pub screening: bool,
    /// Digits may be absent (APRI "address not available").
    pub digits_optional: bool,
}

const fn layout(code: u8) -> NumberLayout {
    let (qualifier, inn, ni, presentation, screening, digits_optional) = match code {
        0x04 | 0x0C => (false, true, false, false, false, false), // called party, redirection number
        0x0A => (false, false, true, true, true, true),           // calling party number
        0x3F => (false, true, false, true, true, true),           // location number
        0x21 => (false, false, false, true, true, true),          // connected number
        0x0B | 0x28 => (false, false, false, true, false, true), // redirecting, original called number
        0xC0 => (true, false, true, true, true, true),           // generic number
        _ => (false, false, false, false, false, true),
    };
    NumberLayout {
        qualifier,
        inn,
        ni,
        presentation,
        screening,
        digits_optional,
    }
}

/// A number parameter. Fields that the parameter's layout does not have are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Number<const CODE: u8> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_qualifier_indicator: Option<u8>,
    #[serde(default)]
    pub nature_of_address: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_network_number_indicator: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_incomplete_indicator: Option<u8>,
    #[serde(default)]
    pub numbering_plan_indicator: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presentation: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screening: Option<u8>,
    #[serde(default)]
    pub digits: Digits,
}

/// Called party number (Q.763 §3.9).
pub type CalledPartyNumber = Number<0x04>;
/// Calling party number (Q.763 §3.10).
pub type CallingPartyNumber = Number<0x0A>;
/// Redirecting number (Q.763 §3.44).
pub type RedirectingNumber = Number<0x0B>;
/// Redirection number (Q.763 §3.46).
pub type RedirectionNumber = Number<0x0C>;
/// Connected number (Q.763 §3.17).
pub type ConnectedNumber = Number<0x21>;
/// Original called number (Q.763 §3.39).
pub type OriginalCalledNumber = Number<0x28>;
/// Location number (Q.763 §3.30).
pub type LocationNumber = Number<0x3F>;
/// Generic number (Q.763 §3.26).
pub type GenericNumber = Number<0xC0>;

impl<const CODE: u8> Number<CODE> {
    pub const LAYOUT: NumberLayout = layout(CODE);

    /// A number with the layout's fields present and zero.
    pub fn new(nature_of_address: u8, numbering_plan_indicator: u8, digits: Digits) -> Self {
        let mut n = Number {
            nature_of_address,
            numbering_plan_indicator,
            digits,
            ..Default::default()
        };
        n.normalize();
        n
    }
}

fn present(flag: bool, bits: u8) -> Option<u8> {
    flag.then_some(bits)
}

impl<const CODE: u8> Number<CODE> {
    /// Everything but the address signals: the number with no digits yet, the address signal
    /// octets, the odd indicator, and whether the value re-encodes exactly (no spare bit of the
    /// second octet set, filler zero).
    #[inline(always)]
    fn parse_head(b: &[u8]) -> Result<(Self, &[u8], bool, bool), ParameterError> {
        let l = Self::LAYOUT;
        let head = 2 + l.qualifier as usize;
        at_least(
            b,
            head,
            if l.qualifier {
                "at least 3"
            } else {
                "at least 2"
            },
        )?;
        let (q, b) = if l.qualifier {
            (Some(b[0]), &b[1..])
        } else {
            (None, b)
        };
        let odd = b[0] & 0x80 != 0;
        let o2 = b[1];
        let signals = &b[2..];
        if signals.is_empty() {
            if !l.digits_optional {
                return Err(ParameterError::BadValue("no address signals"));
            }
            if odd {
                return Err(ParameterError::BadValue(
                    "odd indicator without address signals",
                ));
            }
        }
        // Bits of the second octet this parameter assigns (numbering plan always).
        let assigned = 0x70
            | if l.inn || l.ni { 0x80 } else { 0 }
            | if l.presentation { 0x0C } else { 0 }
            | if l.screening { 0x03 } else { 0 };
        let filler_clear = !odd || signals.last().is_some_and(|o| o & 0xF0 == 0);
        let exact = o2 & !assigned == 0 && filler_clear;
        let n = Number {
            number_qualifier_indicator: q,
            nature_of_address: b[0] & 0x7F,
            internal_network_number_indicator: present(l.inn, o2 >> 7),
            number_incomplete_indicator: present(l.ni, o2 >> 7),
            numbering_plan_indicator: (o2 >> 4) & 0x07,
            presentation: present(l.presentation, (o2 >> 2) & 0x03),
            screening: present(l.screening, o2 & 0x03),
            digits: Digits::new(),
        };
        Ok((n, signals, odd, exact))
    }
}

impl<const CODE: u8> ParameterValue for Number<CODE> {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        let (mut n, signals, odd, _) = Self::parse_head(b)?;
        n.digits.set_unpacked(signals, odd);
        Ok(n)
    }

    #[inline]
    fn parse_exact(b: &[u8]) -> Result<Option<Self>, ParameterError> {
        let (mut n, signals, odd, exact) = Self::parse_head(b)?;
        if !exact {
            return Ok(None);
        }
        n.digits.set_unpacked(signals, odd);
        Ok(Some(n))
    }

    /// The number goes into the slot first and its signals are unpacked there, so the
    /// 48-octet value is never staged on the stack.
    #[inline(always)]
    fn decode_onto(
        code: ParameterCode,
        value: &[u8],
        slot: &mut Parameter,
    ) -> Result<(), ParameterError>
    where
        Self: ParameterType,
    {
        let (n, signals, odd, exact) = Self::parse_head(value)?;
        if !exact {
            fill(slot, Parameter::raw(code, value));
            return Ok(());
        }
        fill(slot, n.into_parameter());
        if let Some(n) = Self::from_parameter_mut(slot) {
            n.digits.set_unpacked(signals, odd);
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        if let Some(q) = self.number_qualifier_indicator {
            out.put(q);
        }
        out.put(((self.digits.is_odd() as u8) << 7) | (self.nature_of_address & 0x7F));
        let h = self
            .internal_network_number_indicator
            .or(self.number_incomplete_indicator)
            .unwrap_or(0);
        out.put(
            ((h & 1) << 7)
                | ((self.numbering_plan_indicator & 0x07) << 4)
                | ((self.presentation.unwrap_or(0) & 0x03) << 2)
                | (self.screening.unwrap_or(0) & 0x03),
        );
        self.digits.pack(out);
    }

    fn normalize(&mut self) {
        let l = Self::LAYOUT;
        // A field the layout lacks stays as given, so that `checked` rejects it if set.
        let fill = |flag: bool, v: Option<u8>| if flag { Some(v.unwrap_or(0)) } else { v };
        self.number_qualifier_indicator = fill(l.qualifier, self.number_qualifier_indicator);
        self.internal_network_number_indicator =
            fill(l.inn, self.internal_network_number_indicator);
        self.number_incomplete_indicator = fill(l.ni, self.number_incomplete_indicator);
        self.presentation = fill(l.presentation, self.presentation);
        self.screening = fill(l.screening, self.screening);
    }
}

/// Subsequent number (Q.763 §3.51): odd/even indicator then address signals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsequentNumber {
    #[serde(default)]
    pub digits: Digits,
}

impl ParameterValue for SubsequentNumber {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        at_least(b, 1, "at least 1")?;
        let digits = Digits::unpack(&b[1..], b[0] & 0x80 != 0).ok_or(ParameterError::BadValue(
            "odd indicator without address signals",
        ))?;
        Ok(SubsequentNumber { digits })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        out.put((self.digits.is_odd() as u8) << 7);
        self.digits.pack(out);
    }
}

/// Transit network selection (Q.763 §3.53, national use).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransitNetworkSelection {
    pub type_of_network_identification: u8,
    pub network_identification_plan: u8,
    pub network_identification: Digits,
}

impl ParameterValue for TransitNetworkSelection {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        at_least(b, 1, "at least 1")?;
        let network_identification = Digits::unpack(&b[1..], b[0] & 0x80 != 0).ok_or(
            ParameterError::BadValue("odd indicator without network identification"),
        )?;
        Ok(TransitNetworkSelection {
            type_of_network_identification: (b[0] >> 4) & 0x07,
            network_identification_plan: b[0] & 0x0F,
            network_identification,
        })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        out.put(
            ((self.network_identification.is_odd() as u8) << 7)
                | ((self.type_of_network_identification & 0x07) << 4)
                | (self.network_identification_plan & 0x0F),
        );
        self.network_identification.pack(out);
    }
}
