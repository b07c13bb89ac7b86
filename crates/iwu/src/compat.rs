//! Q.764 §2.9.5 compatibility procedures: what the gateway does with an ISUP message of a type it
//! does not recognise, or with parameters it does not recognise, following the message and
//! parameter compatibility information (Q.763 §3.33, §3.41) the sender attached.
//!
//! The gateway is an end node (type A exchange) toward plain SIP: nothing can be passed on. Toward
//! a SIP-I/SIP-T peer the ISUP is encapsulated (Q.1912.5 §6, RFC 3372), so information marked
//! "transit interpretation" is passed on inside the encapsulated message, as a transit (type B)
//! exchange would.

use isup::{
    CauseIndicators, Message, MessageCompatibilityInformation, MessageType, Parameter,
    ParameterCode, ParameterCompatibilityInformation, ParameterValue, Variant,
};

/// Q.850 causes of the compatibility procedures.
pub mod cause {
    /// Message type non-existent or not implemented.
    pub const MESSAGE_TYPE: u8 = 97;
    /// Information element / parameter non-existent or not implemented.
    pub const PARAMETER: u8 = 99;
    /// Message with unrecognized parameter, discarded.
    pub const MESSAGE_DISCARDED: u8 = 110;
}

/// What to do with a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Process the message (unrecognised parameters already removed where they had to be);
    /// `notify`: also send CFN with this cause and diagnostic.
    Process {
        msg: Message,
        notify: Option<(u8, Vec<u8>)>,
    },
    /// Pass an unrecognised message on unchanged (encapsulated toward SIP-I/SIP-T).
    PassOn {
        msg: Message,
        notify: Option<(u8, Vec<u8>)>,
    },
    /// Discard the message; `notify`: send CFN.
    Discard { notify: Option<(u8, Vec<u8>)> },
    /// Release the call with this cause and diagnostic.
    Release { cause: u8, diagnostic: Vec<u8> },
}

/// True if the code is one Q.763 defines (spare codes are unrecognised).
pub fn parameter_recognised(code: ParameterCode) -> bool {
    code.0 == 0 || isup::tables::parameter_name(code).is_some()
}

/// True if the variant defines the message type.
pub fn message_recognised(t: MessageType) -> bool {
    Variant::ITU.format(t).is_some()
}

/// The optional parameters of a message of unrecognised type. Q.763 §1.3 (forward
/// compatibility): new messages carry one pointer to an optional part and nothing mandatory.
fn optional_part(raw: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let Some(&ptr) = raw.first() else {
        return out;
    };
    let mut at = usize::from(ptr);
    while let Some(&code) = raw.get(at) {
        if code == 0 {
            break;
        }
        let Some(&len) = raw.get(at + 1) else { break };
        let Some(value) = raw.get(at + 2..at + 2 + usize::from(len)) else {
            break;
        };
        out.push((code, value));
        at += 2 + usize::from(len);
    }
    out
}

/// Decide on a received message. `can_pass_on`: the call's peer takes encapsulated ISUP and the
/// call state lets the message travel (an established dialog, or a message that is itself
/// encapsulated, such as the IAM in the INVITE).
pub fn examine(msg: Message, can_pass_on: bool) -> Verdict {
    let t = msg.message_type;
    // Q.764 §2.9.5.1: no confusion in reply to a confusion, release or release complete.
    let may_notify = ![MessageType::CFN, MessageType::REL, MessageType::RLC].contains(&t);
    let notify = |cause: u8, diag: Vec<u8>| may_notify.then_some((cause, diag));
    if !message_recognised(t) {
        let raw = msg.raw_body.clone().unwrap_or_default();
        let mci = optional_part(&raw)
            .into_iter()
            .find(|(c, _)| *c == ParameterCode::MESSAGE_COMPATIBILITY_INFORMATION.0)
            .and_then(|(_, v)| MessageCompatibilityInformation::parse(v).ok());
        let diag = vec![t.0];
        let Some(i) = mci else {
            // §2.9.5.3.1: no instructions: discard and notify.
            return Verdict::Discard {
                notify: notify(cause::MESSAGE_TYPE, diag),
            };
        };
        let send = (i.send_notification_indicator == 1)
            .then_some(())
            .and_then(|_| notify(cause::MESSAGE_TYPE, diag.clone()));
        if i.transit_at_intermediate_exchange_indicator == 0 && can_pass_on {
            return Verdict::PassOn { msg, notify: None };
        }
        if i.release_call_indicator == 1 {
            return Verdict::Release {
                cause: cause::MESSAGE_TYPE,
                diagnostic: diag,
            };
        }
        if i.discard_message_indicator == 1 || i.pass_on_not_possible_indicator == 1 {
            return Verdict::Discard { notify: send };
        }
        // Pass on requested, not possible, "pass on not possible" says release.
        return Verdict::Release {
            cause: cause::MESSAGE_TYPE,
            diagnostic: diag,
        };
    }

    let unknown: Vec<ParameterCode> = msg
        .parameters
        .iter()
        .map(Parameter::code)
        .filter(|c| !parameter_recognised(*c))
        .collect();
    if unknown.is_empty() {
        return Verdict::Process { msg, notify: None };
    }
    let pci = msg.get::<ParameterCompatibilityInformation>().cloned();
    let mut msg = msg;
    let mut cfn: Option<(u8, Vec<u8>)> = None;
    for code in unknown {
        let ins = pci.as_ref().and_then(|p| p.for_parameter(code.0));
        let Some(ins) = ins else {
            // §2.9.5.3.2: no instructions. A transit passes the parameter on; an end node
            // discards it and notifies (cause 99, diagnostic = the parameter name).
            if !can_pass_on {
                msg.remove(code);
                merge_notify(&mut cfn, notify(cause::PARAMETER, vec![code.0]));
            }
            continue;
        };
        if ins.transit_at_intermediate_exchange_indicator == 0 && can_pass_on {
            continue;
        }
        let send = ins.send_notification_indicator == 1;
        // Q.763 §3.41 bits B, D, E, then G-F "pass on not possible" (00 release, 01 discard
        // message, 10 discard parameter).
        let action = if ins.release_call_indicator == 1 {
            0
        } else if ins.discard_message_indicator == 1 {
            1
        } else if ins.discard_parameter_indicator == 1 {
            2
        } else {
            match ins.pass_on_not_possible_indicator {
                1 => 1,
                2 => 2,
                _ => 0,
            }
        };
        match action {
            0 => {
                return Verdict::Release {
                    cause: cause::PARAMETER,
                    diagnostic: vec![code.0],
                };
            }
            1 => {
                return Verdict::Discard {
                    notify: send
                        .then_some(())
                        .and_then(|_| notify(cause::MESSAGE_DISCARDED, vec![code.0])),
                };
            }
            _ => {
                msg.remove(code);
                if send {
                    merge_notify(&mut cfn, notify(cause::PARAMETER, vec![code.0]));
                }
            }
        }
    }
    Verdict::Process { msg, notify: cfn }
}

/// One CFN lists every discarded parameter in its diagnostic.
fn merge_notify(into: &mut Option<(u8, Vec<u8>)>, n: Option<(u8, Vec<u8>)>) {
    match (into.as_mut(), n) {
        (Some((_, d)), Some((_, more))) => d.extend(more),
        (None, Some(n)) => *into = Some(n),
        _ => {}
    }
}

/// CFN (Q.763 Table 29) with the cause and its diagnostic.
pub fn cfn(cause: u8, location: u8, diagnostic: &[u8]) -> Message {
    let mut ci = CauseIndicators::new(cause, location);
    ci.diagnostics = diagnostic.into();
    Message::new(MessageType::CFN).with(ci)
}

#[cfg(test)]
mod tests {
    use super::*;
    use isup::{ParameterType, RawParameter};

    fn acm_with(extra: Vec<Parameter>) -> Message {
        let mut m = crate::msgs::acm(1, false);
        m.parameters.extend(extra);
        m
    }

    fn raw(code: u8) -> Parameter {
        Parameter::Raw(RawParameter {
            code: ParameterCode(code),
            value: vec![1, 2],
        })
    }

    fn pci(code: u8, o: u8) -> Parameter {
        ParameterCompatibilityInformation::parse(&[code, o])
            .unwrap()
            .into_parameter()
    }

    #[test]
    fn unknown_parameter_without_instructions() {
        // End node: discarded, CFN 99 naming it.
        match examine(acm_with(vec![raw(0xF0)]), false) {
            Verdict::Process { msg, notify } => {
                assert!(msg.find(ParameterCode(0xF0)).is_none());
                assert_eq!(notify, Some((99, vec![0xF0])));
            }
            v => panic!("{v:?}"),
        }
        // Transit toward SIP-I: passed on untouched.
        match examine(acm_with(vec![raw(0xF0)]), true) {
            Verdict::Process { msg, notify: None } => {
                assert!(msg.find(ParameterCode(0xF0)).is_some())
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn parameter_instructions() {
        // 0x83: ext, B release call.
        let v = examine(acm_with(vec![raw(0xF0), pci(0xF0, 0x83)]), true);
        assert_eq!(
            v,
            Verdict::Release {
                cause: 99,
                diagnostic: vec![0xF0]
            }
        );
        // 0x8D: ext, A end node, C notify, D discard message → CFN 110.
        let v = examine(acm_with(vec![raw(0xF0), pci(0xF0, 0x8D)]), true);
        assert_eq!(
            v,
            Verdict::Discard {
                notify: Some((110, vec![0xF0]))
            }
        );
        // 0x90: ext, E discard parameter, no notification.
        match examine(acm_with(vec![raw(0xF0), pci(0xF0, 0x90)]), false) {
            Verdict::Process { msg, notify: None } => {
                assert!(msg.find(ParameterCode(0xF0)).is_none())
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn unknown_message() {
        let mut m = Message::new(MessageType(0xE0));
        m.raw_body = Some(vec![0x00]);
        assert_eq!(
            examine(m.clone(), true),
            Verdict::Discard {
                notify: Some((97, vec![0xE0]))
            }
        );
        // Pointer 1, MCI (0x38) length 1: ext, A end node, B release.
        m.raw_body = Some(vec![0x01, 0x38, 0x01, 0x83, 0x00]);
        assert_eq!(
            examine(m.clone(), true),
            Verdict::Release {
                cause: 97,
                diagnostic: vec![0xE0]
            }
        );
        // Transit interpretation, pass on possible.
        m.raw_body = Some(vec![0x01, 0x38, 0x01, 0x80, 0x00]);
        assert!(matches!(examine(m.clone(), true), Verdict::PassOn { .. }));
        // Pass on not possible → E = 1 discard information, C notify.
        m.raw_body = Some(vec![0x01, 0x38, 0x01, 0x94, 0x00]);
        assert_eq!(
            examine(m, false),
            Verdict::Discard {
                notify: Some((97, vec![0xE0]))
            }
        );
    }
}
