//! ISUP messages the IWU builds itself (Q.763 formats; field values per RFC 3398 §7.2/§8.2 and
//! shared/reference/sip-isup-mapping.md §5.1). Encapsulated messages from SIP-I/SIP-T peers are
//! passed on instead wherever the call state allows.

use isup::{
    BackwardCallIndicators, CallingPartysCategory, CauseIndicators, EventInformation,
    ForwardCallIndicators, Message, MessageType, NatureOfConnectionIndicators,
    OptionalBackwardCallIndicators, TransmissionMediumRequirement,
};

/// Q.763 §3.5: BCI for backward messages of an interworking gateway (RFC 3398 §7.2.2):
/// charge, called party's status as given, ordinary subscriber, interworking encountered,
/// ISDN user part not used all the way.
pub fn backward_call_indicators(called_party_status: u8) -> BackwardCallIndicators {
    BackwardCallIndicators {
        charge_indicator: 2,
        called_party_status,
        called_party_category: 1,
        interworking_indicator: 1,
        ..Default::default()
    }
}

/// BCI called party's status values (Q.763 §3.5 b).
pub mod status {
    pub const NO_INDICATION: u8 = 0;
    pub const SUBSCRIBER_FREE: u8 = 1;
}

/// Event information values (Q.763 §3.21).
pub mod event {
    pub const ALERTING: u8 = 1;
    pub const PROGRESS: u8 = 2;
    pub const IN_BAND: u8 = 3;
    pub const FORWARDED_UNCONDITIONAL: u8 = 6;
}

fn obci_in_band() -> OptionalBackwardCallIndicators {
    OptionalBackwardCallIndicators {
        in_band_information_indicator: 1,
        ..Default::default()
    }
}

/// ACM (Q.763 Table 22): BCI, plus OBCI "in-band information available" for early media.
pub fn acm(called_party_status: u8, in_band: bool) -> Message {
    let m = Message::new(MessageType::ACM).with(backward_call_indicators(called_party_status));
    if in_band { m.with(obci_in_band()) } else { m }
}

/// CPG (Q.763 Table 27).
pub fn cpg(event_indicator: u8, in_band: bool) -> Message {
    let m = Message::new(MessageType::CPG).with(EventInformation {
        event_indicator,
        event_presentation_restricted_indicator: 0,
    });
    if in_band { m.with(obci_in_band()) } else { m }
}

pub fn anm() -> Message {
    Message::new(MessageType::ANM)
}

/// CON (Q.763 Table 26): answer without a previous ACM.
pub fn con() -> Message {
    Message::new(MessageType::CON).with(backward_call_indicators(status::NO_INDICATION))
}

/// Q.850 location for causes mapped from SIP: network beyond the interworking point.
pub const LOCATION_BI: u8 = 10;
/// Q.850 location for causes the gateway generates itself: transit network.
pub const LOCATION_TN: u8 = 3;

/// Q.850 cause 42, switching equipment congestion: refused by the admission limit.
pub const CAUSE_SWITCHING_EQUIPMENT_CONGESTION: u8 = 42;
/// Q.850 cause 38, network out of order: the signalling toward the PSTN is lost.
pub const CAUSE_NETWORK_OUT_OF_ORDER: u8 = 38;

pub fn rel(cause: u8, location: u8) -> Message {
    Message::new(MessageType::REL).with(CauseIndicators::new(cause & 0x7F, location))
}

pub fn rlc() -> Message {
    Message::new(MessageType::RLC)
}

pub fn rsc() -> Message {
    Message::new(MessageType::RSC)
}

/// The cause value of a REL (or any message with cause indicators).
pub fn cause_of(m: &Message) -> Option<(u8, u8)> {
    m.find(isup::ParameterCode::CAUSE_INDICATORS)
        .and_then(|p| p.to_typed())
        .and_then(|p| match p {
            isup::Parameter::CauseIndicators(c) => Some((c.cause_value, c.location)),
            _ => None,
        })
}

/// A typed parameter even if the codec kept it raw (spare bits set): re-decoded leniently.
pub fn typed<T: isup::ParameterType + Clone>(m: &Message) -> Option<T> {
    m.find(T::CODE)
        .and_then(|p| p.to_typed())
        .and_then(|p| T::from_parameter(&p).cloned())
}

/// IAM defaults for a call from SIP without an encapsulated IAM (RFC 3398 §7.2.1,
/// sip-isup-mapping.md §5.1): no satellite, no continuity check, echo control per trunk group;
/// FCI interworking encountered, ISUP not used all the way, ISUP preferred; ordinary
/// subscriber; 3.1 kHz audio.
pub fn iam(
    international: bool,
    echo_control: bool,
    called: isup::CalledPartyNumber,
    calling: Option<isup::CallingPartyNumber>,
) -> Message {
    let m = Message::new(MessageType::IAM)
        .with(NatureOfConnectionIndicators {
            satellite_indicator: 0,
            continuity_check_indicator: 0,
            echo_control_device_indicator: echo_control as u8,
        })
        .with(ForwardCallIndicators {
            national_international_call_indicator: international as u8,
            interworking_indicator: 1,
            ..Default::default()
        })
        .with(CallingPartysCategory { value: 0x0A })
        .with(TransmissionMediumRequirement { value: 3 })
        .with(called);
    match calling {
        Some(c) => m.with(c),
        None => m,
    }
}

/// Mid-call messages carried in INFO (RFC 3372 §5, Q.1912.5 profile C).
pub fn is_mid_call(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::SUS
            | MessageType::RES
            | MessageType::INR
            | MessageType::INF
            | MessageType::CPG
            | MessageType::FAC
            | MessageType::USR
            | MessageType::APM
            | MessageType::FAR
            | MessageType::FAA
            | MessageType::FRJ
            | MessageType::IDR
            | MessageType::IRS
    )
}
