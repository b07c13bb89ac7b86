//! The ISUP messages the simulator sends, built with the `isup` crate's typed parameters, and
//! parameter overrides in the `isup::json` form (used by scenarios and the originate API).

use isup::{
    BackwardCallIndicators, CalledPartyNumber, CallingPartyNumber, CallingPartysCategory,
    CauseIndicators, CircuitGroupSupervisionMessageType, CircuitStateIndicator, Digits,
    EventInformation, ForwardCallIndicators, Message, MessageType, NatureOfConnectionIndicators,
    Parameter, RangeAndStatus, SubsequentNumber, TransmissionMediumRequirement,
    UserServiceInformation,
};
use serde_json::Value;

use crate::config::Originate;

/// Address signals from text (`0-9`, `B`–`F`); invalid characters are refused by validation.
pub fn digits(s: &str) -> Digits {
    Digits::from_hex_str(s).unwrap_or_default()
}

/// The called number as text (hex signals, `F` = ST).
pub fn digits_text(d: &Digits) -> String {
    d.to_string()
}

/// `base` plus `i` as a decimal number of the same length (wrapping), e.g. 4930100 + 12 →
/// 4930112. Non-decimal signals (B, C, ST) are kept and skipped by the carry.
pub fn nth_number(base: &str, i: u64) -> String {
    let mut out: Vec<u8> = base.bytes().collect();
    let mut carry = i;
    for c in out.iter_mut().rev() {
        if carry == 0 {
            break;
        }
        if !c.is_ascii_digit() {
            continue;
        }
        let d = (*c - b'0') as u64 + carry % 10;
        carry = carry / 10 + d / 10;
        *c = b'0' + (d % 10) as u8;
    }
    String::from_utf8(out).unwrap_or_else(|_| base.to_string())
}

/// IAM (Q.763 Table 32) for an originated call; `called` is the part sent in the IAM.
pub fn iam(o: &Originate, called: &str) -> Message {
    let mut cdpn = CalledPartyNumber::new(o.called_noa, 1, digits(called));
    // Q.763 §3.9 INN: 0 = routing to internal network number allowed.
    cdpn.internal_network_number_indicator = Some(0);
    let fci = ForwardCallIndicators {
        // ISUP used all the way, ISUP preferred, originating access ISDN.
        isdn_user_part_indicator: 1,
        isdn_access_indicator: 1,
        ..Default::default()
    };
    let mut m = Message::new(MessageType::IAM)
        .with(NatureOfConnectionIndicators::default())
        .with(fci)
        .with(CallingPartysCategory { value: o.category })
        .with(TransmissionMediumRequirement { value: o.tmr })
        .with(cdpn);
    if !o.calling.is_empty() {
        let mut cgpn = CallingPartyNumber::new(o.calling_noa, 1, digits(&o.calling));
        cgpn.number_incomplete_indicator = Some(0);
        cgpn.presentation = Some(o.presentation);
        cgpn.screening = Some(o.screening);
        m = m.with(cgpn);
    }
    if let Ok(usi) = hex::decode(&o.usi)
        && usi.len() >= 2
    {
        m = m.with(UserServiceInformation {
            octets: usi.as_slice().into(),
        });
    }
    m
}

/// SAM with further address signals (Q.763 Table 35).
pub fn sam(more: &str) -> Message {
    Message::new(MessageType::SAM).with(SubsequentNumber {
        digits: digits(more),
    })
}

/// ACM (Q.763 Table 21) with the called party status (Q.763 §3.5 bits DC).
pub fn acm(called_party_status: u8) -> Message {
    Message::new(MessageType::ACM).with(BackwardCallIndicators {
        charge_indicator: 2,
        called_party_status,
        called_party_category: 1,
        isdn_user_part_indicator: 1,
        isdn_access_indicator: 1,
        ..Default::default()
    })
}

/// CPG (Q.763 Table 24) with an event indicator (1 alerting, 2 progress, 3 in-band information).
pub fn cpg(event_indicator: u8) -> Message {
    Message::new(MessageType::CPG).with(EventInformation {
        event_indicator,
        event_presentation_restricted_indicator: 0,
    })
}

/// ANM without optional parameters.
pub fn anm() -> Message {
    Message::new(MessageType::ANM)
}

/// REL (Q.763 Table 26) with a Q.850 cause.
pub fn rel(cause: u8, location: u8) -> Message {
    Message::new(MessageType::REL).with(CauseIndicators::new(cause, location))
}

/// CFN (Q.763 Table 27): cause 97 "message type non-existent or not implemented", the
/// offending message type as diagnostic (Q.850 §2.2.7).
pub fn cfn_unrecognized(message_type: MessageType, location: u8) -> Message {
    let mut cause = CauseIndicators::new(97, location);
    cause.diagnostics = [message_type.0].as_slice().into();
    Message::new(MessageType::CFN).with(cause)
}

/// A message with no parameters (RLC, RSC, BLO, BLA, UBL, UBA, UCIC, ANM).
pub fn bare(t: MessageType) -> Message {
    Message::new(t)
}

/// GRS / CQM: range only (Q.763 §3.43, no status).
pub fn range_only(t: MessageType, range: u8) -> Message {
    Message::new(t).with(RangeAndStatus {
        range,
        status: Default::default(),
    })
}

/// GRA: range and status (bit set = locally blocked for maintenance).
pub fn gra(bits: &[bool]) -> Message {
    Message::new(MessageType::GRA).with(RangeAndStatus::with_status(bits))
}

/// CGB, CGBA, CGU, CGUA: supervision type (0 maintenance, 1 hardware) then range and status.
pub fn group_supervision(t: MessageType, type_indicator: u8, rs: RangeAndStatus) -> Message {
    Message::new(t)
        .with(CircuitGroupSupervisionMessageType { type_indicator })
        .with(rs)
}

/// CQR: range and one circuit state octet per circuit (Q.763 §3.14).
pub fn cqr(range: u8, states: Vec<u8>) -> Message {
    Message::new(MessageType::CQR)
        .with(RangeAndStatus {
            range,
            status: Default::default(),
        })
        .with(CircuitStateIndicator {
            states: states.as_slice().into(),
        })
}

/// A default message of a type, for scenarios: the simulator's usual content.
pub fn default_for(t: MessageType, o: &Originate, cause_location: u8) -> Option<Message> {
    Some(match t {
        MessageType::IAM => iam(o, &o.called),
        MessageType::SAM => sam("1"),
        MessageType::ACM => acm(1),
        MessageType::CPG => cpg(1),
        MessageType::ANM => anm(),
        MessageType::CON => Message::new(MessageType::CON).with(BackwardCallIndicators {
            charge_indicator: 2,
            called_party_category: 1,
            isdn_user_part_indicator: 1,
            isdn_access_indicator: 1,
            ..Default::default()
        }),
        MessageType::REL => rel(o.release_cause, cause_location),
        MessageType::GRS | MessageType::CQM => range_only(t, 0),
        MessageType::GRA => gra(&[false]),
        MessageType::CGB | MessageType::CGBA | MessageType::CGU | MessageType::CGUA => {
            group_supervision(t, 0, RangeAndStatus::with_status(&[true]))
        }
        MessageType::CQR => cqr(0, vec![0x03]),
        MessageType::RLC
        | MessageType::RSC
        | MessageType::BLO
        | MessageType::BLA
        | MessageType::UBL
        | MessageType::UBA
        | MessageType::UCIC => bare(t),
        _ => return None,
    })
}

/// Applies overrides in the `isup::json` parameter form: each names a parameter (`name` or
/// `code`); a parameter already present has only the given fields replaced, others are added.
/// `remove` lists parameter names to drop.
pub fn apply_overrides(
    msg: &mut Message,
    overrides: &[Value],
    remove: &[String],
) -> Result<(), String> {
    for name in remove {
        let code = isup::tables::parameter_by_name(name)
            .ok_or_else(|| format!("unknown parameter name {name:?}"))?;
        msg.remove(code);
    }
    for o in overrides {
        let obj = o
            .as_object()
            .ok_or("a parameter override must be a table/object")?;
        let code = match (
            obj.get("code").and_then(Value::as_u64),
            obj.get("name").and_then(Value::as_str),
        ) {
            (Some(c), _) if c <= 255 => isup::ParameterCode(c as u8),
            (None, Some(n)) => isup::tables::parameter_by_name(n)
                .ok_or_else(|| format!("unknown parameter name {n:?}"))?,
            _ => return Err("a parameter override needs a name or code".into()),
        };
        let merged = match msg.find(code) {
            Some(existing) if !obj.contains_key("raw") => {
                let mut base = isup::json::parameter_to_json(existing);
                if let (Some(b), Some(new)) = (base.as_object_mut(), o.as_object()) {
                    if b.contains_key("raw") {
                        b.remove("raw");
                    }
                    for (k, v) in new {
                        b.insert(k.clone(), v.clone());
                    }
                }
                base
            }
            _ => o.clone(),
        };
        let p: Parameter = isup::json::parameter_from_json(&merged)
            .map_err(|e| format!("parameter {}: {e}", code.name()))?;
        msg.set(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_round_trips_and_carries_the_configured_fields() {
        let o = Originate::default();
        let m = iam(&o, &o.called);
        let mut b = Vec::new();
        m.emit_with_cic(7, &mut b).unwrap();
        let (cic, back) = Message::parse_with_cic(&b).unwrap();
        assert_eq!(cic, 7);
        assert_eq!(back, m);
        let cdpn = back.get::<CalledPartyNumber>().unwrap();
        assert_eq!(cdpn.digits.to_string(), "4930123456");
        assert_eq!(cdpn.nature_of_address, 3);
        let cgpn = back.get::<CallingPartyNumber>().unwrap();
        assert_eq!(cgpn.screening, Some(3));
        assert_eq!(back.get::<CallingPartysCategory>().unwrap().value, 10);
    }

    #[test]
    fn every_default_message_encodes() {
        let o = Originate::default();
        for code in 0..=255u8 {
            if let Some(m) = default_for(MessageType(code), &o, 2) {
                let mut b = Vec::new();
                m.emit_with_cic(1, &mut b)
                    .unwrap_or_else(|e| panic!("{}: {e}", MessageType(code)));
                assert_eq!(Message::parse_with_cic(&b).unwrap().1, m);
            }
        }
    }

    #[test]
    fn numbers_increment_with_carry() {
        assert_eq!(nth_number("4930100", 0), "4930100");
        assert_eq!(nth_number("4930100", 12), "4930112");
        assert_eq!(nth_number("4930199", 1), "4930200");
        assert_eq!(nth_number("999", 1), "000");
        assert_eq!(nth_number("49F", 3), "52F");
        assert_eq!(nth_number("", 5), "");
    }

    #[test]
    fn overrides_merge_fields() {
        let o = Originate::default();
        let mut m = iam(&o, &o.called);
        let ov: Vec<Value> = serde_json::from_str(
            r#"[{"name": "called_party_number", "digits": "123"},
                {"name": "calling_partys_category", "value": 15},
                {"name": "generic_notification_indicator", "raw": "81"}]"#,
        )
        .unwrap();
        apply_overrides(&mut m, &ov, &["user_service_information".into()]).unwrap();
        let cdpn = m.get::<CalledPartyNumber>().unwrap();
        assert_eq!(cdpn.digits.to_string(), "123");
        assert_eq!(cdpn.nature_of_address, 3, "other fields kept");
        assert_eq!(m.get::<CallingPartysCategory>().unwrap().value, 15);
        assert!(m.get::<UserServiceInformation>().is_none());
        let bad: Vec<Value> =
            serde_json::from_str(r#"[{"name": "cause_indicators", "bogus": 1}]"#).unwrap();
        assert!(apply_overrides(&mut m, &bad, &[]).is_err());
    }
}
