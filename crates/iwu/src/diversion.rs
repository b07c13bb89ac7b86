//! Redirection: ISUP redirecting number / original called number / redirection information ↔
//! SIP `Diversion` (RFC 5806), the form most SIP trunks use (sip-isup-mapping.md §3.1 leaves
//! History-Info or Diversion to the deployment).
//!
//! Diversion lists the most recent diversion first. ISUP keeps the last redirecting party
//! (Redirecting number) and the first one (Original called number), with the two reasons and a
//! counter in Redirection information (Q.763 §3.45).

use isup::{Digits, Message, OriginalCalledNumber, RedirectingNumber, RedirectionInformation};
use sip::header::NameAddr;

use crate::config::UriForm;
use crate::msgs::typed;
use crate::number::{self, apri};

/// Q.763 §3.45 redirecting reason ↔ RFC 5806 §4 diversion-reason, as data.
pub static REASONS: &[(u8, &str)] = &[
    (0, "unknown"),
    (1, "user-busy"),
    (2, "no-answer"),
    (3, "unconditional"),
    (4, "deflection"),
    (5, "deflection"),
    (6, "unavailable"),
];

pub fn reason_to_sip(r: u8) -> &'static str {
    REASONS.iter().find(|x| x.0 == r).map_or("unknown", |x| x.1)
}

pub fn reason_to_isup(s: &str) -> u8 {
    REASONS
        .iter()
        .find(|x| x.1.eq_ignore_ascii_case(s))
        .map_or(0, |x| x.0)
}

/// Diversion header values for an IAM (most recent first); empty if the call was not diverted.
pub fn to_sip(iam: &Message, form: UriForm, host: &str, cc: &str, area: &str) -> Vec<String> {
    let info = typed::<RedirectionInformation>(iam);
    let entry = |noa: u8, d: &Digits, presentation: Option<u8>, reason: u8, counter: u8| {
        let uri = number::to_uri(&number::from_isup(noa, d, cc, area), form, host, 5060);
        let privacy = if presentation == Some(apri::RESTRICTED) {
            "full"
        } else {
            "off"
        };
        format!(
            "{};reason={};counter={};privacy={privacy}",
            NameAddr::new(uri),
            reason_to_sip(reason),
            counter.max(1)
        )
    };
    let mut out = Vec::new();
    let counter = info.map_or(1, |i| i.redirection_counter);
    let redirecting = typed::<RedirectingNumber>(iam).filter(|n| !n.digits.is_empty());
    if let Some(n) = &redirecting {
        out.push(entry(
            n.nature_of_address,
            &n.digits,
            n.presentation,
            info.map_or(0, |i| i.redirecting_reason),
            counter,
        ));
    }
    if let Some(n) = typed::<OriginalCalledNumber>(iam).filter(|n| !n.digits.is_empty()) {
        let same = redirecting
            .as_ref()
            .is_some_and(|r| r.digits == n.digits && r.nature_of_address == n.nature_of_address);
        if !same {
            out.push(entry(
                n.nature_of_address,
                &n.digits,
                n.presentation,
                info.map_or(0, |i| i.original_redirection_reason),
                1,
            ));
        }
    }
    out
}

/// Redirection parameters for an IAM from the Diversion headers of an INVITE.
pub fn to_isup(
    diversions: &[NameAddr],
    cc: &str,
) -> Option<(
    RedirectingNumber,
    OriginalCalledNumber,
    RedirectionInformation,
)> {
    fn parse<'a>(d: &'a NameAddr, cc: &str) -> Option<((u8, Digits), &'a NameAddr)> {
        number::to_isup(&d.uri, cc).map(|n| (n, d))
    }
    let first = diversions.iter().find_map(|d| parse(d, cc))?;
    let last = diversions
        .iter()
        .rev()
        .find_map(|d| parse(d, cc))
        .unwrap_or_else(|| first.clone());
    let presentation = |d: &NameAddr| {
        if d.params
            .value("privacy")
            .is_some_and(|p| !p.eq_ignore_ascii_case("off"))
        {
            apri::RESTRICTED
        } else {
            apri::ALLOWED
        }
    };
    let reason = |d: &NameAddr| reason_to_isup(&d.params.value("reason").unwrap_or_default());
    let counter: u32 = diversions
        .iter()
        .map(|d| {
            d.params
                .value("counter")
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(1)
        })
        .sum();
    let mut rn = RedirectingNumber::new(first.0.0, number::NPI_E164, first.0.1.clone());
    rn.presentation = Some(presentation(first.1));
    let mut ocn = OriginalCalledNumber::new(last.0.0, number::NPI_E164, last.0.1.clone());
    ocn.presentation = Some(presentation(last.1));
    let restricted = rn.presentation == Some(apri::RESTRICTED);
    let info = RedirectionInformation {
        // Q.763 §3.45 a): 3 call diverted, 4 call diverted, all redirection information
        // presentation restricted.
        redirecting_indicator: if restricted { 4 } else { 3 },
        original_redirection_reason: reason(last.1),
        // Q.763: counter 1-5 (3 bits); RFC 5806 counters beyond 5 saturate.
        redirection_counter: counter.clamp(1, 5) as u8,
        redirecting_reason: reason(first.1),
    };
    Some((rn, ocn, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::text_to_signals;

    #[test]
    fn isup_to_diversion_and_back() {
        let mut rn = RedirectingNumber::new(3, 1, text_to_signals("3011").unwrap());
        rn.presentation = Some(0);
        let mut ocn = OriginalCalledNumber::new(3, 1, text_to_signals("3022").unwrap());
        ocn.presentation = Some(0);
        let info = RedirectionInformation {
            redirecting_indicator: 3,
            original_redirection_reason: 3,
            redirection_counter: 2,
            redirecting_reason: 1,
        };
        let iam = crate::msgs::iam(
            false,
            false,
            crate::number::called_party(3, text_to_signals("30123").unwrap(), false),
            None,
        )
        .with(rn.clone())
        .with(ocn.clone())
        .with(info);
        let d = to_sip(&iam, UriForm::Tel, "gw", "49", "");
        assert_eq!(
            d,
            vec![
                "<tel:+493011>;reason=user-busy;counter=2;privacy=off".to_string(),
                "<tel:+493022>;reason=unconditional;counter=1;privacy=off".to_string()
            ]
        );
        let parsed: Vec<NameAddr> = d.iter().map(|s| NameAddr::parse(s).unwrap()).collect();
        let (rn2, ocn2, info2) = to_isup(&parsed, "49").unwrap();
        assert_eq!(rn2.digits, rn.digits);
        assert_eq!(ocn2.digits, ocn.digits);
        assert_eq!(info2.redirecting_reason, 1);
        assert_eq!(info2.original_redirection_reason, 3);
        assert_eq!(info2.redirection_counter, 3);
        assert!(to_isup(&[], "49").is_none());
    }
}
