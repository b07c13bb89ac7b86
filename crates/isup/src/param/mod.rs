//! Typed parameter values (Q.763 §3). Each type parses from and emits to the value octets of its
//! parameter (no code, no length indicator). [`Parameter`] ties codes to types; every code without a
//! type, and every value a type would not re-encode octet for octet, is kept as [`RawParameter`].

mod bits;
mod cause;
mod digits;
mod number;
mod octets;
mod rose;

pub use bits::*;
pub use cause::{
    CauseIndicators, GenericNotificationIndicator, MessageCompatibilityInformation,
    ParameterCompatibilityInformation, ParameterInstruction, PropagationDelayCounter,
    RangeAndStatus,
};
pub use digits::Digits;
pub use number::*;
pub use octets::*;
pub use rose::{Component, ComponentType, OperationCode, RemoteOperations};

use crate::codes::ParameterCode;
use crate::error::ParameterError;
use crate::sink::{Matcher, Sink};

/// Small octet strings held inline (USI, diagnostics, status bits) without a heap allocation.
pub type Octets = smallvec::SmallVec<[u8; 16]>;

/// A parameter value with a Q.763 format.
pub trait ParameterValue: Sized {
    /// Decode the value octets.
    fn parse(value: &[u8]) -> Result<Self, ParameterError>;
    /// Encode the value octets.
    fn emit<S: Sink>(&self, out: &mut S);
    /// Bring a value built by hand (e.g. from JSON) to the form `parse` would give.
    fn normalize(&mut self) {}
    /// Decode only if the value re-encodes to exactly these octets (`Ok(None)` otherwise). The
    /// default proves it by emitting into a comparing sink; types override it with direct checks.
    #[inline]
    fn parse_exact(value: &[u8]) -> Result<Option<Self>, ParameterError> {
        let p = Self::parse(value)?;
        let mut m = Matcher::new(value);
        p.emit(&mut m);
        Ok(m.matched().then_some(p))
    }
    /// Decode `value` into `slot`: typed when it re-encodes exactly, raw otherwise; a malformed
    /// value leaves `slot` as it was and returns its error. Each arm writes its own variant
    /// straight into the slot, so the value is never moved through a temporary.
    #[inline(always)]
    fn decode_onto(
        code: ParameterCode,
        value: &[u8],
        slot: &mut Parameter,
    ) -> Result<(), ParameterError>
    where
        Self: crate::message::ParameterType,
    {
        match Self::parse_exact(value)? {
            Some(p) => fill(slot, p.into_parameter()),
            None => fill(slot, Parameter::raw(code, value)),
        }
        Ok(())
    }
}

/// Write `p` into a slot that holds [`Parameter::placeholder`]. The placeholder owns no heap
/// memory, so it is forgotten rather than dropped: the write then needs no call to the drop glue,
/// which would force the decoded value through a stack temporary.
#[inline(always)]
pub(crate) fn fill(slot: &mut Parameter, p: Parameter) {
    debug_assert!(matches!(slot, Parameter::Raw(r) if r.value.capacity() == 0));
    std::mem::forget(std::mem::replace(slot, p));
}

/// A parameter kept as octets: its code is untyped, or its value does not re-encode exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawParameter {
    pub code: ParameterCode,
    pub value: Vec<u8>,
}

macro_rules! parameters {
    ($( $code:ident => $variant:ident($ty:ty), )*) => {
        /// One ISUP parameter: typed where Q.763 gives it a format this crate implements, raw otherwise.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Parameter {
            $( $variant($ty), )*
            Raw(RawParameter),
        }

        impl Parameter {
            /// The parameter code.
            pub fn code(&self) -> ParameterCode {
                match self {
                    $( Parameter::$variant(_) => ParameterCode::$code, )*
                    Parameter::Raw(r) => r.code,
                }
            }

            /// Decode a value with the type its code has, if any (lenient: normalizes spare bits).
            fn parse_typed(code: ParameterCode, value: &[u8]) -> Option<Result<Parameter, ParameterError>> {
                match code {
                    $( ParameterCode::$code => Some(<$ty>::parse(value).map(Parameter::$variant)), )*
                    _ => None,
                }
            }

            /// Decode a value with its code's type only if it re-encodes exactly.
            #[inline(always)]
            fn parse_typed_exact(code: ParameterCode, value: &[u8]) -> Option<Result<Option<Parameter>, ParameterError>> {
                match code {
                    $( ParameterCode::$code => Some(<$ty>::parse_exact(value).map(|p| p.map(Parameter::$variant))), )*
                    _ => None,
                }
            }

            /// Decode one value into `slot`: typed when it re-encodes exactly, raw otherwise.
            /// A malformed value leaves `slot` untouched and returns its error.
            #[inline(always)]
            pub(crate) fn decode_into(code: ParameterCode, value: &[u8], slot: &mut Parameter) -> Result<(), ParameterError> {
                match code {
                    $( ParameterCode::$code => <$ty>::decode_onto(code, value, slot), )*
                    _ => {
                        fill(slot, Parameter::raw(code, value));
                        Ok(())
                    }
                }
            }

            /// Encode the value octets.
            pub fn emit_value<S: Sink>(&self, out: &mut S) {
                match self {
                    $( Parameter::$variant(p) => p.emit(out), )*
                    Parameter::Raw(r) => out.put_slice(&r.value),
                }
            }

            /// The typed fields as JSON (`None` for raw parameters).
            pub(crate) fn fields_to_json(&self) -> Option<serde_json::Value> {
                match self {
                    $( Parameter::$variant(p) => serde_json::to_value(p).ok(), )*
                    Parameter::Raw(_) => None,
                }
            }

            /// Build a typed parameter from JSON fields; `None` if the code has no type.
            pub(crate) fn typed_from_json(code: ParameterCode, fields: serde_json::Value) -> Option<Result<Parameter, String>> {
                match code {
                    $( ParameterCode::$code => Some(
                        serde_json::from_value::<$ty>(fields)
                            .map_err(|e| e.to_string())
                            .and_then(|mut p| { p.normalize(); checked(p).map(Parameter::$variant) })
                    ), )*
                    _ => None,
                }
            }
        }

        $(
            impl crate::message::ParameterType for $ty {
                const CODE: ParameterCode = ParameterCode::$code;
                fn from_parameter(p: &Parameter) -> Option<&Self> {
                    if let Parameter::$variant(v) = p { Some(v) } else { None }
                }
                fn from_parameter_mut(p: &mut Parameter) -> Option<&mut Self> {
                    if let Parameter::$variant(v) = p { Some(v) } else { None }
                }
                fn into_parameter(self) -> Parameter {
                    Parameter::$variant(self)
                }
            }

            impl From<$ty> for Parameter {
                fn from(v: $ty) -> Parameter {
                    Parameter::$variant(v)
                }
            }
        )*
    };
}

impl From<RawParameter> for Parameter {
    fn from(r: RawParameter) -> Parameter {
        Parameter::Raw(r)
    }
}

/// A hand-built value is accepted only if it survives emit → parse unchanged (no field out of range).
fn checked<T: ParameterValue + PartialEq>(p: T) -> Result<T, String> {
    let mut bytes = Vec::new();
    p.emit(&mut bytes);
    if bytes.len() > 255 {
        return Err(format!("value is {} octets, more than 255", bytes.len()));
    }
    match T::parse(&bytes) {
        Ok(back) if back == p => Ok(p),
        Ok(_) => Err("a field is out of range for its bit width".into()),
        Err(e) => Err(e.to_string()),
    }
}

parameters! {
    TRANSMISSION_MEDIUM_REQUIREMENT => TransmissionMediumRequirement(TransmissionMediumRequirement),
    ACCESS_TRANSPORT => AccessTransport(AccessTransport),
    CALLED_PARTY_NUMBER => CalledPartyNumber(CalledPartyNumber),
    SUBSEQUENT_NUMBER => SubsequentNumber(SubsequentNumber),
    NATURE_OF_CONNECTION_INDICATORS => NatureOfConnectionIndicators(NatureOfConnectionIndicators),
    FORWARD_CALL_INDICATORS => ForwardCallIndicators(ForwardCallIndicators),
    OPTIONAL_FORWARD_CALL_INDICATORS => OptionalForwardCallIndicators(OptionalForwardCallIndicators),
    CALLING_PARTYS_CATEGORY => CallingPartysCategory(CallingPartysCategory),
    CALLING_PARTY_NUMBER => CallingPartyNumber(CallingPartyNumber),
    REDIRECTING_NUMBER => RedirectingNumber(RedirectingNumber),
    REDIRECTION_NUMBER => RedirectionNumber(RedirectionNumber),
    INFORMATION_REQUEST_INDICATORS => InformationRequestIndicators(InformationRequestIndicators),
    INFORMATION_INDICATORS => InformationIndicators(InformationIndicators),
    CONTINUITY_INDICATORS => ContinuityIndicators(ContinuityIndicators),
    BACKWARD_CALL_INDICATORS => BackwardCallIndicators(BackwardCallIndicators),
    CAUSE_INDICATORS => CauseIndicators(CauseIndicators),
    REDIRECTION_INFORMATION => RedirectionInformation(RedirectionInformation),
    CIRCUIT_GROUP_SUPERVISION_MESSAGE_TYPE => CircuitGroupSupervisionMessageType(CircuitGroupSupervisionMessageType),
    RANGE_AND_STATUS => RangeAndStatus(RangeAndStatus),
    FACILITY_INDICATOR => FacilityIndicator(FacilityIndicator),
    USER_SERVICE_INFORMATION => UserServiceInformation(UserServiceInformation),
    USER_TO_USER_INFORMATION => UserToUserInformation(UserToUserInformation),
    CONNECTED_NUMBER => ConnectedNumber(ConnectedNumber),
    SUSPEND_RESUME_INDICATORS => SuspendResumeIndicators(SuspendResumeIndicators),
    TRANSIT_NETWORK_SELECTION => TransitNetworkSelection(TransitNetworkSelection),
    EVENT_INFORMATION => EventInformation(EventInformation),
    CIRCUIT_STATE_INDICATOR => CircuitStateIndicator(CircuitStateIndicator),
    AUTOMATIC_CONGESTION_LEVEL => AutomaticCongestionLevel(AutomaticCongestionLevel),
    ORIGINAL_CALLED_NUMBER => OriginalCalledNumber(OriginalCalledNumber),
    OPTIONAL_BACKWARD_CALL_INDICATORS => OptionalBackwardCallIndicators(OptionalBackwardCallIndicators),
    GENERIC_NOTIFICATION_INDICATOR => GenericNotificationIndicator(GenericNotificationIndicator),
    USER_SERVICE_INFORMATION_PRIME => UserServiceInformationPrime(UserServiceInformationPrime),
    PROPAGATION_DELAY_COUNTER => PropagationDelayCounter(PropagationDelayCounter),
    REMOTE_OPERATIONS => RemoteOperations(RemoteOperations),
    CALL_DIVERSION_INFORMATION => CallDiversionInformation(CallDiversionInformation),
    ECHO_CONTROL_INFORMATION => EchoControlInformation(EchoControlInformation),
    MESSAGE_COMPATIBILITY_INFORMATION => MessageCompatibilityInformation(MessageCompatibilityInformation),
    PARAMETER_COMPATIBILITY_INFORMATION => ParameterCompatibilityInformation(ParameterCompatibilityInformation),
    HOP_COUNTER => HopCounter(HopCounter),
    TRANSMISSION_MEDIUM_REQUIREMENT_PRIME => TransmissionMediumRequirementPrime(TransmissionMediumRequirementPrime),
    LOCATION_NUMBER => LocationNumber(LocationNumber),
    GENERIC_NUMBER => GenericNumber(GenericNumber),
}

/// How a parameter's value octets decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Typed, and the type re-encodes the exact octets.
    Typed(Parameter),
    /// No type for this code, or the value has bits the type does not model (spare bits set,
    /// non-zero filler): kept raw so that it passes on unchanged.
    Raw(Parameter),
    /// The code has a type and the octets violate its format.
    Malformed(Parameter, ParameterError),
}

impl Parameter {
    /// Decode one parameter. Never fails: a malformed value comes back raw with its error.
    #[inline(always)]
    pub fn decode(code: ParameterCode, value: &[u8]) -> Decoded {
        let raw = || Parameter::raw(code, value);
        match Parameter::parse_typed_exact(code, value) {
            None | Some(Ok(None)) => Decoded::Raw(raw()),
            Some(Err(e)) => Decoded::Malformed(raw(), e),
            Some(Ok(Some(p))) => Decoded::Typed(p),
        }
    }

    /// A cheap value for a slot that is about to be overwritten (no heap, nothing to drop).
    #[inline]
    pub(crate) fn placeholder() -> Parameter {
        Parameter::Raw(RawParameter {
            code: ParameterCode::END_OF_OPTIONAL_PARAMETERS,
            value: Vec::new(),
        })
    }

    /// A raw parameter holding a copy of `value`.
    pub fn raw(code: ParameterCode, value: &[u8]) -> Parameter {
        Parameter::Raw(RawParameter {
            code,
            value: value.to_vec(),
        })
    }

    /// The parameter's snake_case Q.763 name.
    pub fn name(&self) -> &'static str {
        self.code().name()
    }

    /// The value octets.
    pub fn value_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.emit_value(&mut v);
        v
    }

    /// Re-decode a raw parameter with its code's type, if it has one and the octets fit it.
    pub fn to_typed(&self) -> Option<Parameter> {
        match self {
            Parameter::Raw(r) => Parameter::parse_typed(r.code, &r.value).and_then(Result::ok),
            p => Some(p.clone()),
        }
    }
}

/// serde helper: octet strings as lowercase hex.
pub(crate) mod hex_octets {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, T: AsRef<[u8]>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v.as_ref()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: From<Vec<u8>>>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        hex::decode(clean)
            .map(T::from)
            .map_err(serde::de::Error::custom)
    }
}

pub(crate) fn is_empty(v: &Octets) -> bool {
    v.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `decode_into`, which `Message::parse` uses and which several types override with direct
    /// checks, agrees with `Parameter::decode`, which proves exactness by re-encoding: same
    /// typed-or-raw outcome, same value, same error. Every value of up to two octets for every
    /// code, and a spread of longer ones.
    #[test]
    fn decode_into_agrees_with_decode() {
        let mut values: Vec<Vec<u8>> = vec![vec![]];
        values.extend((0..=255u8).map(|a| vec![a]));
        values.extend((0..=0xFFFFu16).map(|w| w.to_le_bytes().to_vec()));
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in 3..=30usize {
            for _ in 0..400 {
                values.push(
                    (0..len)
                        .map(|_| {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            x as u8
                        })
                        .collect(),
                );
            }
        }
        for code in (0..=255u8).map(ParameterCode) {
            for v in &values {
                let mut slot = Parameter::placeholder();
                let into = Parameter::decode_into(code, v, &mut slot);
                match (Parameter::decode(code, v), into) {
                    (Decoded::Typed(p) | Decoded::Raw(p), Ok(())) => {
                        assert_eq!(slot, p, "code {code:?} value {v:02x?}")
                    }
                    (Decoded::Malformed(_, e), Err(e2)) => {
                        assert_eq!(e, e2, "code {code:?} value {v:02x?}");
                        assert_eq!(slot, Parameter::placeholder());
                    }
                    (d, r) => panic!("code {code:?} value {v:02x?}: {d:?} vs {r:?}"),
                }
            }
        }
    }
}
