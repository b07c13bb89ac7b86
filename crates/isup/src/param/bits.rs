//! Parameters made of bit fields, declared as data: `field: octet [shift; width]` with bit A = shift 0.
//! Bits not declared are spare: a value with a spare bit set is kept raw by [`super::Parameter::decode`].

use super::{Parameter, ParameterValue, fill};
use crate::codes::ParameterCode;
use crate::error::{ParameterError, exact};
use crate::message::ParameterType;
use crate::sink::Sink;
use serde::{Deserialize, Serialize};

macro_rules! bitfields {
    ($( $(#[$meta:meta])* $name:ident ($len:literal) { $( $field:ident : $octet:literal [$shift:literal ; $width:literal] ),* $(,)? } )*) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
            #[serde(deny_unknown_fields, default)]
            pub struct $name { $( pub $field: u8, )* }

            impl $name {
                /// The bits Q.763 assigns, per octet; the others are spare.
                pub const ASSIGNED: [u8; $len] = {
                    let mut m = [0u8; $len];
                    $( m[$octet] |= (((1u16 << $width) - 1) << $shift) as u8; )*
                    m
                };
            }

            impl ParameterValue for $name {
                #[inline]
                fn parse_exact(b: &[u8]) -> Result<Option<Self>, ParameterError> {
                    let v = Self::parse(b)?;
                    let spare_clear = b.iter().zip(Self::ASSIGNED).all(|(o, m)| o & !m == 0);
                    Ok(spare_clear.then_some(v))
                }

                /// Typed straight into the slot; no `Result<Option<Self>>` goes through memory.
                #[inline(always)]
                fn decode_onto(
                    code: ParameterCode,
                    value: &[u8],
                    slot: &mut Parameter,
                ) -> Result<(), ParameterError> {
                    let v = Self::parse(value)?;
                    if value.iter().zip(Self::ASSIGNED).all(|(o, m)| o & !m == 0) {
                        fill(slot, v.into_parameter());
                    } else {
                        fill(slot, Parameter::raw(code, value));
                    }
                    Ok(())
                }

                #[inline]
                fn parse(b: &[u8]) -> Result<Self, ParameterError> {
                    exact(b, $len, stringify!($len))?;
                    Ok($name { $( $field: ((b[$octet] as u16 >> $shift) & ((1u16 << $width) - 1)) as u8, )* })
                }
                #[inline]
                fn emit<S: Sink>(&self, out: &mut S) {
                    let mut o = [0u8; $len];
                    $( o[$octet] |= (((self.$field as u16) & ((1u16 << $width) - 1)) << $shift) as u8; )*
                    out.put_slice(&o);
                }
            }
        )*
    };
}

bitfields! {
    /// Nature of connection indicators (Q.763 §3.35).
    NatureOfConnectionIndicators (1) {
        satellite_indicator: 0 [0; 2],
        continuity_check_indicator: 0 [2; 2],
        echo_control_device_indicator: 0 [4; 1],
    }
    /// Forward call indicators (Q.763 §3.23).
    ForwardCallIndicators (2) {
        national_international_call_indicator: 0 [0; 1],
        end_to_end_method_indicator: 0 [1; 2],
        interworking_indicator: 0 [3; 1],
        end_to_end_information_indicator: 0 [4; 1],
        isdn_user_part_indicator: 0 [5; 1],
        isdn_user_part_preference_indicator: 0 [6; 2],
        isdn_access_indicator: 1 [0; 1],
        sccp_method_indicator: 1 [1; 2],
        ported_number_translation_indicator: 1 [3; 1],
        query_on_release_attempt_indicator: 1 [4; 1],
        national_use: 1 [5; 3],
    }
    /// Optional forward call indicators (Q.763 §3.38).
    OptionalForwardCallIndicators (1) {
        closed_user_group_call_indicator: 0 [0; 2],
        simple_segmentation_indicator: 0 [2; 1],
        connected_line_identity_request_indicator: 0 [7; 1],
    }
    /// Calling party's category (Q.763 §3.11).
    CallingPartysCategory (1) { value: 0 [0; 8] }
    /// Transmission medium requirement (Q.763 §3.54).
    TransmissionMediumRequirement (1) { value: 0 [0; 8] }
    /// Transmission medium requirement prime (Q.763 §3.55).
    TransmissionMediumRequirementPrime (1) { value: 0 [0; 8] }
    /// Backward call indicators (Q.763 §3.5).
    BackwardCallIndicators (2) {
        charge_indicator: 0 [0; 2],
        called_party_status: 0 [2; 2],
        called_party_category: 0 [4; 2],
        end_to_end_method_indicator: 0 [6; 2],
        interworking_indicator: 1 [0; 1],
        end_to_end_information_indicator: 1 [1; 1],
        isdn_user_part_indicator: 1 [2; 1],
        holding_indicator: 1 [3; 1],
        isdn_access_indicator: 1 [4; 1],
        echo_control_device_indicator: 1 [5; 1],
        sccp_method_indicator: 1 [6; 2],
    }
    /// Optional backward call indicators (Q.763 §3.37).
    OptionalBackwardCallIndicators (1) {
        in_band_information_indicator: 0 [0; 1],
        call_diversion_may_occur_indicator: 0 [1; 1],
        simple_segmentation_indicator: 0 [2; 1],
        mlpp_user_indicator: 0 [3; 1],
        national_use: 0 [4; 4],
    }
    /// Event information (Q.763 §3.21).
    EventInformation (1) {
        event_indicator: 0 [0; 7],
        event_presentation_restricted_indicator: 0 [7; 1],
    }
    /// Suspend/resume indicators (Q.763 §3.52).
    SuspendResumeIndicators (1) { indicator: 0 [0; 1] }
    /// Circuit group supervision message type (Q.763 §3.13).
    CircuitGroupSupervisionMessageType (1) { type_indicator: 0 [0; 2] }
    /// Continuity indicators (Q.763 §3.18).
    ContinuityIndicators (1) { continuity_indicator: 0 [0; 1] }
    /// Information request indicators (Q.763 §3.29, national use).
    InformationRequestIndicators (2) {
        calling_party_address_request_indicator: 0 [0; 1],
        holding_indicator: 0 [1; 1],
        calling_partys_category_request_indicator: 0 [3; 1],
        charge_information_request_indicator: 0 [4; 1],
        malicious_call_identification_request_indicator: 0 [7; 1],
        national_use: 1 [4; 4],
    }
    /// Information indicators (Q.763 §3.28, national use).
    InformationIndicators (2) {
        calling_party_address_response_indicator: 0 [0; 2],
        hold_provided_indicator: 0 [2; 1],
        calling_partys_category_response_indicator: 0 [5; 1],
        charge_information_response_indicator: 0 [6; 1],
        solicited_information_indicator: 0 [7; 1],
        national_use: 1 [4; 4],
    }
    /// Redirection information (Q.763 §3.45).
    RedirectionInformation (2) {
        redirecting_indicator: 0 [0; 3],
        original_redirection_reason: 0 [4; 4],
        redirection_counter: 1 [0; 3],
        redirecting_reason: 1 [4; 4],
    }
    /// Hop counter (Q.763 §3.80).
    HopCounter (1) { hop_counter: 0 [0; 5] }
    /// Facility indicator (Q.763 §3.22).
    FacilityIndicator (1) { value: 0 [0; 8] }
    /// Automatic congestion level (Q.763 §3.4).
    AutomaticCongestionLevel (1) { level: 0 [0; 8] }
    /// Echo control information (Q.763 §3.19).
    EchoControlInformation (1) {
        outgoing_echo_control_device_information_indicator: 0 [0; 2],
        incoming_echo_control_device_information_indicator: 0 [2; 2],
        outgoing_echo_control_device_request_indicator: 0 [4; 2],
        incoming_echo_control_device_request_indicator: 0 [6; 2],
    }
    /// Call diversion information (Q.763 §3.6).
    CallDiversionInformation (1) {
        notification_subscription_options: 0 [0; 3],
        redirecting_reason: 0 [3; 4],
    }
}
