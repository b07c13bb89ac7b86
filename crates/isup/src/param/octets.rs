//! Parameters whose value is carried through as octets: Q.931 information elements (USI, access
//! transport), user-to-user information, circuit states.

use super::{Octets, Parameter, ParameterValue, fill, hex_octets};
use crate::codes::ParameterCode;
use crate::error::{ParameterError, at_least};
use crate::message::ParameterType;
use crate::sink::Sink;
use serde::{Deserialize, Serialize};

macro_rules! octet_parameters {
    ($( $(#[$meta:meta])* $name:ident { $field:ident, min $min:literal } )*) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $name {
                #[serde(with = "hex_octets")]
                pub $field: Octets,
            }

            impl ParameterValue for $name {
                fn parse(b: &[u8]) -> Result<Self, ParameterError> {
                    at_least(b, $min, concat!("at least ", stringify!($min)))?;
                    Ok($name { $field: Octets::from_slice(b) })
                }
                fn emit<S: Sink>(&self, out: &mut S) {
                    out.put_slice(&self.$field);
                }
                #[inline]
                fn parse_exact(b: &[u8]) -> Result<Option<Self>, ParameterError> {
                    Self::parse(b).map(Some)
                }
                /// Every value is exact. The octets are copied into the slot itself, not into
                /// a stack temporary that would then be moved.
                #[inline(always)]
                fn decode_onto(
                    _code: ParameterCode,
                    value: &[u8],
                    slot: &mut Parameter,
                ) -> Result<(), ParameterError> {
                    at_least(value, $min, concat!("at least ", stringify!($min)))?;
                    fill(slot, $name { $field: Octets::new() }.into_parameter());
                    if let Some(p) = Self::from_parameter_mut(slot) {
                        p.$field.extend_from_slice(value);
                    }
                    Ok(())
                }
            }
        )*
    };
}

octet_parameters! {
    /// User service information (Q.763 §3.57): Q.931 bearer capability from octet 3 on, kept raw.
    UserServiceInformation { octets, min 2 }
    /// User service information prime (Q.763 §3.58).
    UserServiceInformationPrime { octets, min 2 }
    /// Access transport (Q.763 §3.3): Q.931 information elements passed through unchanged.
    AccessTransport { information_elements, min 0 }
    /// User-to-user information (Q.763 §3.61): the Q.931 user-user IE contents.
    UserToUserInformation { data, min 0 }
    /// Circuit state indicator (Q.763 §3.14): one octet per circuit of the range.
    CircuitStateIndicator { states, min 1 }
}

/// Q.931 §4.5.5 bearer capability fields of a USI (read-only view over the kept octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BearerCapability {
    pub coding_standard: u8,
    pub information_transfer_capability: u8,
    pub transfer_mode: u8,
    pub information_transfer_rate: u8,
    /// User information layer 1 protocol (octet 5), if present: 2 = G.711 µ-law, 3 = G.711 A-law.
    pub user_information_layer_1_protocol: Option<u8>,
}

impl UserServiceInformation {
    /// Decode the bearer capability fields; `None` if the octets are too short.
    pub fn bearer_capability(&self) -> Option<BearerCapability> {
        let o3 = *self.octets.first()?;
        let o4 = *self.octets.get(1)?;
        // Octet 5 follows octet 4 (and any 4a/4b) when its layer identification is 01.
        let mut i = 2;
        if o4 & 0x80 == 0 {
            while self.octets.get(i).is_some_and(|o| o & 0x80 == 0) {
                i += 1;
            }
            i += 1;
        }
        let layer1 = self
            .octets
            .get(i)
            .filter(|o| (*o >> 5) & 0x03 == 0x01)
            .map(|o| o & 0x1F);
        Some(BearerCapability {
            coding_standard: (o3 >> 5) & 0x03,
            information_transfer_capability: o3 & 0x1F,
            transfer_mode: (o4 >> 5) & 0x03,
            information_transfer_rate: o4 & 0x1F,
            user_information_layer_1_protocol: layer1,
        })
    }
}
