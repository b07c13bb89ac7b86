//! The MTP3 routing label (Q.704 §2.2, ITU): 14-bit DPC, 14-bit OPC, 4-bit SLS in 32 bits sent least
//! significant octet first. Over M3UA these travel in the Protocol Data header instead.

use crate::error::Error;

/// An ITU MTP3 routing label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoutingLabel {
    pub dpc: u16,
    pub opc: u16,
    pub sls: u8,
}

impl RoutingLabel {
    pub const LEN: usize = 4;

    /// Parse the label from the front of `data`; returns it and the rest (the ISUP user data).
    pub fn parse(data: &[u8]) -> Result<(RoutingLabel, &[u8]), Error> {
        let Some((label, rest)) = data.split_first_chunk::<4>() else {
            return Err(Error::Truncated {
                message: "MTP3",
                parameter: "routing label",
            });
        };
        let v = u32::from_le_bytes(*label);
        Ok((
            RoutingLabel {
                dpc: (v & 0x3FFF) as u16,
                opc: ((v >> 14) & 0x3FFF) as u16,
                sls: (v >> 28) as u8,
            },
            rest,
        ))
    }

    /// Emit the label, appending to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.dpc > 0x3FFF || self.opc > 0x3FFF || self.sls > 0x0F {
            return Err(Error::BadValue {
                message: "MTP3",
                parameter: "routing label",
                reason: "DPC/OPC wider than 14 bits or SLS wider than 4 bits",
            });
        }
        let v = self.dpc as u32 | (self.opc as u32) << 14 | (self.sls as u32) << 28;
        out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }

    /// Q.704 §2.2.4 practice for ISUP: the SLS is the low four bits of the CIC, so one circuit's
    /// messages stay in sequence on one link.
    pub fn sls_for_cic(cic: u16) -> u8 {
        (cic & 0x0F) as u8
    }
}
