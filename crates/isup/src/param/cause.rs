//! Parameters with extension bits or multi-octet structure: cause indicators (Q.850 coding), range
//! and status, propagation delay counter, generic notification, and the compatibility information
//! parameters Q.764 §2.9.5 acts on.

use super::{Octets, Parameter, ParameterValue, fill, hex_octets, is_empty};
use crate::codes::ParameterCode;
use crate::error::{ParameterError, at_least, exact};
use crate::sink::Sink;
use serde::{Deserialize, Serialize};

/// Cause indicators (Q.763 §3.12, coded as Q.850 §2.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CauseIndicators {
    /// Q.850 cause value (class in bits G-E, value in class in bits D-A).
    pub cause_value: u8,
    /// Location (bits D-A of octet 1): 0 user … 10 beyond an interworking point.
    pub location: u8,
    /// Coding standard (bits G-F of octet 1): 0 ITU-T … 3 specific to location.
    pub coding_standard: u8,
    /// Octet 1a, present when octet 1's extension bit is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<u8>,
    #[serde(with = "hex_octets")]
    pub diagnostics: Octets,
}

impl CauseIndicators {
    /// An ITU-T coded cause with no diagnostics.
    pub fn new(cause_value: u8, location: u8) -> Self {
        CauseIndicators {
            cause_value,
            location,
            ..Default::default()
        }
    }
}

impl CauseIndicators {
    /// Everything but the diagnostics, and the index of the octet holding the cause value.
    #[inline(always)]
    fn parse_head(b: &[u8]) -> Result<(Self, usize), ParameterError> {
        at_least(b, 2, "at least 2")?;
        let (recommendation, i) = if b[0] & 0x80 == 0 {
            at_least(b, 3, "at least 3 with octet 1a")?;
            (Some(b[1] & 0x7F), 2)
        } else {
            (None, 1)
        };
        let head = CauseIndicators {
            cause_value: b[i] & 0x7F,
            location: b[0] & 0x0F,
            coding_standard: (b[0] >> 5) & 0x03,
            recommendation,
            diagnostics: Octets::new(),
        };
        Ok((head, i))
    }
}

impl ParameterValue for CauseIndicators {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        let (mut c, i) = Self::parse_head(b)?;
        c.diagnostics.extend_from_slice(&b[i + 1..]);
        Ok(c)
    }

    /// Typed into the slot, diagnostics copied there. Exact unless the spare bit of octet 1
    /// is set or octet 1a or 2 has its extension bit clear (`emit` always sets it).
    #[inline(always)]
    fn decode_onto(
        code: ParameterCode,
        value: &[u8],
        slot: &mut Parameter,
    ) -> Result<(), ParameterError> {
        let (head, i) = Self::parse_head(value)?;
        let exact = value[0] & 0x10 == 0 && value[1..=i].iter().all(|o| o & 0x80 != 0);
        if !exact {
            fill(slot, Parameter::raw(code, value));
            return Ok(());
        }
        fill(slot, Parameter::CauseIndicators(head));
        if let Parameter::CauseIndicators(c) = slot {
            c.diagnostics.extend_from_slice(&value[i + 1..]);
        }
        Ok(())
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        let ext = self.recommendation.is_none() as u8;
        out.put((ext << 7) | ((self.coding_standard & 0x03) << 5) | (self.location & 0x0F));
        if let Some(r) = self.recommendation {
            out.put(0x80 | (r & 0x7F));
        }
        out.put(0x80 | (self.cause_value & 0x7F));
        out.put_slice(&self.diagnostics);
    }
}

/// Range and status (Q.763 §3.43): range = number of circuits − 1; status bits, bit A of the first
/// status octet for the CIC in the routing label. GRS and CQM carry no status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RangeAndStatus {
    pub range: u8,
    #[serde(with = "hex_octets")]
    pub status: Octets,
}

impl RangeAndStatus {
    /// Number of circuits covered (range + 1).
    pub fn circuits(&self) -> u16 {
        self.range as u16 + 1
    }

    /// The status bit for circuit `i` (0 = the CIC in the label), if the status field holds it.
    pub fn status_bit(&self, i: u16) -> Option<bool> {
        if i > self.range as u16 {
            return None;
        }
        self.status
            .get(i as usize / 8)
            .map(|o| o >> (i % 8) & 1 == 1)
    }

    /// A range with status bits for `bits.len()` circuits.
    pub fn with_status(bits: &[bool]) -> Self {
        let mut status = Octets::from_elem(0, bits.len().div_ceil(8));
        for (i, &b) in bits.iter().enumerate() {
            if b {
                status[i / 8] |= 1 << (i % 8);
            }
        }
        RangeAndStatus {
            range: bits.len().saturating_sub(1) as u8,
            status,
        }
    }
}

impl ParameterValue for RangeAndStatus {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        at_least(b, 1, "at least 1")?;
        Ok(RangeAndStatus {
            range: b[0],
            status: Octets::from_slice(&b[1..]),
        })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        out.put(self.range);
        out.put_slice(&self.status);
    }
}

/// Propagation delay counter (Q.763 §3.42): milliseconds, most significant octet first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PropagationDelayCounter {
    pub delay_ms: u16,
}

impl ParameterValue for PropagationDelayCounter {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        exact(b, 2, "2")?;
        Ok(PropagationDelayCounter {
            delay_ms: u16::from_be_bytes([b[0], b[1]]),
        })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        out.put_slice(&self.delay_ms.to_be_bytes());
    }
}

/// Generic notification indicator (Q.763 §3.25): one notification per parameter, extension bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenericNotificationIndicator {
    pub notification_indicator: u8,
}

impl ParameterValue for GenericNotificationIndicator {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        exact(b, 1, "1")?;
        Ok(GenericNotificationIndicator {
            notification_indicator: b[0] & 0x7F,
        })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        out.put(0x80 | (self.notification_indicator & 0x7F));
    }
}

/// Message compatibility information (Q.763 §3.33): the instruction indicators for a message the
/// receiver does not recognise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageCompatibilityInformation {
    pub transit_at_intermediate_exchange_indicator: u8,
    pub release_call_indicator: u8,
    pub send_notification_indicator: u8,
    pub discard_message_indicator: u8,
    pub pass_on_not_possible_indicator: u8,
    pub broadband_narrowband_interworking_indicator: u8,
    /// Further octets after an extension bit of 0 (not defined by Q.763, kept as is).
    #[serde(with = "hex_octets", skip_serializing_if = "is_empty")]
    pub extension: Octets,
}

impl ParameterValue for MessageCompatibilityInformation {
    fn parse(b: &[u8]) -> Result<Self, ParameterError> {
        at_least(b, 1, "at least 1")?;
        let o = b[0];
        if o & 0x80 == 0 && b.len() == 1 {
            return Err(ParameterError::BadValue(
                "extension bit announces a missing octet",
            ));
        }
        Ok(MessageCompatibilityInformation {
            transit_at_intermediate_exchange_indicator: o & 1,
            release_call_indicator: (o >> 1) & 1,
            send_notification_indicator: (o >> 2) & 1,
            discard_message_indicator: (o >> 3) & 1,
            pass_on_not_possible_indicator: (o >> 4) & 1,
            broadband_narrowband_interworking_indicator: (o >> 5) & 3,
            extension: Octets::from_slice(&b[1..]),
        })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        out.put(
            ((self.extension.is_empty() as u8) << 7)
                | ((self.broadband_narrowband_interworking_indicator & 3) << 5)
                | ((self.pass_on_not_possible_indicator & 1) << 4)
                | ((self.discard_message_indicator & 1) << 3)
                | ((self.send_notification_indicator & 1) << 2)
                | ((self.release_call_indicator & 1) << 1)
                | (self.transit_at_intermediate_exchange_indicator & 1),
        );
        out.put_slice(&self.extension);
    }
}

/// One upgraded parameter's instructions in parameter compatibility information (Q.763 §3.41).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParameterInstruction {
    pub upgraded_parameter: u8,
    pub transit_at_intermediate_exchange_indicator: u8,
    pub release_call_indicator: u8,
    pub send_notification_indicator: u8,
    pub discard_message_indicator: u8,
    pub discard_parameter_indicator: u8,
    pub pass_on_not_possible_indicator: u8,
    /// Octet 2 bits B-A, present when octet 1's extension bit is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadband_narrowband_interworking_indicator: Option<u8>,
    /// Octets after an octet 2 whose extension bit is 0, up to the one with the bit set.
    #[serde(with = "hex_octets", skip_serializing_if = "is_empty")]
    pub extension: Octets,
}

/// Parameter compatibility information (Q.763 §3.41).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParameterCompatibilityInformation {
    pub instructions: Vec<ParameterInstruction>,
}

impl ParameterCompatibilityInformation {
    /// The instructions for an upgraded parameter code.
    pub fn for_parameter(&self, code: u8) -> Option<&ParameterInstruction> {
        self.instructions
            .iter()
            .find(|i| i.upgraded_parameter == code)
    }
}

impl ParameterValue for ParameterCompatibilityInformation {
    fn parse(mut b: &[u8]) -> Result<Self, ParameterError> {
        at_least(b, 2, "at least 2")?;
        let mut instructions = Vec::new();
        while !b.is_empty() {
            let [code, o, rest @ ..] = b else {
                return Err(ParameterError::Truncated);
            };
            let mut ins = ParameterInstruction {
                upgraded_parameter: *code,
                transit_at_intermediate_exchange_indicator: o & 1,
                release_call_indicator: (o >> 1) & 1,
                send_notification_indicator: (o >> 2) & 1,
                discard_message_indicator: (o >> 3) & 1,
                discard_parameter_indicator: (o >> 4) & 1,
                pass_on_not_possible_indicator: (o >> 5) & 3,
                ..Default::default()
            };
            b = rest;
            if o & 0x80 == 0 {
                let (&o2, rest) = b.split_first().ok_or(ParameterError::Truncated)?;
                ins.broadband_narrowband_interworking_indicator = Some(o2 & 3);
                b = rest;
                if o2 & 0x80 == 0 {
                    // Q.763 §3.41: further octets until one has its extension bit set.
                    let n = b
                        .iter()
                        .position(|x| x & 0x80 != 0)
                        .ok_or(ParameterError::Truncated)?
                        + 1;
                    ins.extension = Octets::from_slice(&b[..n]);
                    b = &b[n..];
                }
            }
            instructions.push(ins);
        }
        Ok(ParameterCompatibilityInformation { instructions })
    }

    fn emit<S: Sink>(&self, out: &mut S) {
        for i in &self.instructions {
            out.put(i.upgraded_parameter);
            let ext = i.broadband_narrowband_interworking_indicator.is_none() as u8;
            out.put(
                (ext << 7)
                    | ((i.pass_on_not_possible_indicator & 3) << 5)
                    | ((i.discard_parameter_indicator & 1) << 4)
                    | ((i.discard_message_indicator & 1) << 3)
                    | ((i.send_notification_indicator & 1) << 2)
                    | ((i.release_call_indicator & 1) << 1)
                    | (i.transit_at_intermediate_exchange_indicator & 1),
            );
            if let Some(bn) = i.broadband_narrowband_interworking_indicator {
                out.put(((i.extension.is_empty() as u8) << 7) | (bn & 3));
                out.put_slice(&i.extension);
            }
        }
    }
}
