//! Telephone number mapping between ISUP number parameters and SIP/tel URIs
//! (RFC 3398 §7.2.1 and §8.2.1, RFC 3966, shared/reference/sip-isup-mapping.md §3.1, §5.1).

use crate::config::UriForm;
use isup::{CalledPartyNumber, CallingPartyNumber, Digits};
use sip::{Host, SipUri, TelUri, Uri};

/// Nature of address indicator values (Q.763 §3.9 c).
pub mod noa {
    pub const SUBSCRIBER: u8 = 1;
    pub const UNKNOWN: u8 = 2;
    pub const NATIONAL: u8 = 3;
    pub const INTERNATIONAL: u8 = 4;
}

/// Numbering plan ISDN/telephony (E.164), Q.763 §3.9 e.
pub const NPI_E164: u8 = 1;

/// A number in SIP terms: global (`+` and E.164 digits) or local with a phone-context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipNumber {
    Global(String),
    Local { digits: String, context: String },
}

/// Address signals as text: 0-9, code 11 → `*`, code 12 → `#` (RFC 3398 §8.2.1.1); ST and
/// other codes are dropped.
pub fn signals_to_text(d: &Digits) -> String {
    d.signals()
        .iter()
        .filter_map(|&s| match s {
            0..=9 => Some((b'0' + s) as char),
            11 => Some('*'),
            12 => Some('#'),
            _ => None,
        })
        .collect()
}

/// Text digits to address signals; `None` if a character is not a dialable digit.
pub fn text_to_signals(s: &str) -> Option<Digits> {
    let mut d = Digits::new();
    for c in s.chars() {
        match c {
            '0'..='9' => d.push(c as u8 - b'0'),
            '*' => d.push(11),
            '#' => d.push(12),
            '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    (!d.is_empty()).then_some(d)
}

/// ISUP → SIP: the E.164 form of an ISUP number (RFC 3398 §8.2.1.1).
pub fn from_isup(nature_of_address: u8, digits: &Digits, cc: &str, area: &str) -> SipNumber {
    let d = signals_to_text(digits);
    let decimal = d.bytes().all(|c| c.is_ascii_digit()) && !d.is_empty();
    match nature_of_address {
        noa::INTERNATIONAL if decimal => SipNumber::Global(format!("+{d}")),
        noa::NATIONAL if decimal => SipNumber::Global(format!("+{cc}{d}")),
        noa::SUBSCRIBER if decimal && !area.is_empty() => {
            SipNumber::Global(format!("+{cc}{area}{d}"))
        }
        _ => SipNumber::Local {
            digits: d,
            context: format!("+{cc}"),
        },
    }
}

/// The URI for a number toward a peer: `sip:+…@host;user=phone` or `tel:+…`.
pub fn to_uri(n: &SipNumber, form: UriForm, host: &str, port: u16) -> Uri {
    match form {
        UriForm::Tel => {
            let mut params = sip::grammar::Params::new();
            let number = match n {
                SipNumber::Global(g) => g.clone(),
                SipNumber::Local { digits, context } => {
                    params.set("phone-context", Some(context));
                    digits.clone()
                }
            };
            Uri::Tel(TelUri { number, params })
        }
        UriForm::SipUserPhone => {
            let host = Host::parse(host).unwrap_or_else(|_| Host::Name("invalid".into()));
            let mut u = SipUri::new(host);
            u.user = Some(match n {
                SipNumber::Global(g) => g.clone(),
                // RFC 3261 §19.1.6: the telephone-subscriber part may carry phone-context.
                SipNumber::Local { digits, context } => {
                    format!("{};phone-context={context}", digits.replace('#', "%23"))
                }
            });
            if port != 5060 {
                u.port = Some(port);
            }
            u.params.set("user", Some("phone"));
            Uri::Sip(u)
        }
    }
}

/// SIP → ISUP: nature of address and digits of a URI's telephone number (RFC 3398 §7.2.1.1):
/// `+CC…` in our country → national (NOA 3) without the country code, other `+…` →
/// international (NOA 4), digits without `+` → national if their phone-context is our country
/// (or absent), else unknown (NOA 2). `None` if the URI carries no telephone number.
pub fn to_isup(uri: &Uri, cc: &str) -> Option<(u8, Digits)> {
    let (num, ctx) = match uri {
        Uri::Tel(t) => (t.digits(), t.phone_context().map(str::to_string)),
        Uri::Sip(s) => {
            let user = s.user.as_deref()?;
            let ctx = user
                .split(';')
                .skip(1)
                .find_map(|p| p.strip_prefix("phone-context="))
                .map(str::to_string);
            let n = s.phone_number()?;
            // A SIP user part is a number only with user=phone or when it looks like one.
            if !s.is_phone()
                && !n
                    .trim_start_matches('+')
                    .bytes()
                    .all(|c| c.is_ascii_digit())
            {
                return None;
            }
            (n, ctx)
        }
        Uri::Other(_) => return None,
    };
    if let Some(g) = num.strip_prefix('+') {
        let d = text_to_signals(g)?;
        if !d.is_decimal() {
            return None;
        }
        return match g.strip_prefix(cc) {
            Some(national) if !cc.is_empty() && !national.is_empty() => {
                Some((noa::NATIONAL, text_to_signals(national)?))
            }
            _ => Some((noa::INTERNATIONAL, d)),
        };
    }
    let d = text_to_signals(&num)?;
    let ours = ctx
        .as_deref()
        .is_none_or(|c| c.trim_start_matches('+') == cc);
    Some((if ours { noa::NATIONAL } else { noa::UNKNOWN }, d))
}

/// Called party number for an IAM (Q.763 §3.9): INN 0 (routing to internal network number
/// allowed), NPI E.164, optional ST.
pub fn called_party(nature: u8, mut digits: Digits, append_st: bool) -> CalledPartyNumber {
    if append_st {
        digits.push(15);
    }
    CalledPartyNumber::new(nature, NPI_E164, digits)
}

/// Q.763 §3.10: presentation (APRI) and screening values.
pub mod apri {
    pub const ALLOWED: u8 = 0;
    pub const RESTRICTED: u8 = 1;
    pub const NOT_AVAILABLE: u8 = 2;
}
pub mod screening {
    pub const USER_PROVIDED_NOT_VERIFIED: u8 = 0;
    pub const USER_PROVIDED_VERIFIED_PASSED: u8 = 1;
    pub const NETWORK_PROVIDED: u8 = 3;
}

/// Calling party number for an IAM.
pub fn calling_party(nature: u8, digits: Digits, apri: u8, scr: u8) -> CallingPartyNumber {
    let mut n = CallingPartyNumber::new(nature, NPI_E164, digits);
    n.presentation = Some(apri);
    n.screening = Some(scr);
    n.number_incomplete_indicator = Some(0);
    n
}

/// Q.763 §3.10: a calling party number with APRI "address not available" (no digits, NOA 0,
/// NPI 0, screening "network provided").
pub fn calling_party_not_available() -> CallingPartyNumber {
    let mut n = CallingPartyNumber::new(0, 0, Digits::new());
    n.presentation = Some(apri::NOT_AVAILABLE);
    n.screening = Some(screening::NETWORK_PROVIDED);
    n.number_incomplete_indicator = Some(0);
    n
}

/// The anonymous From URI (RFC 3323 §4.1.1.3).
pub fn anonymous_uri() -> Uri {
    Uri::Sip(SipUri::new(Host::Name("anonymous.invalid".into()))).with_user("anonymous")
}

trait WithUser {
    fn with_user(self, user: &str) -> Uri;
}
impl WithUser for Uri {
    fn with_user(self, user: &str) -> Uri {
        match self {
            Uri::Sip(mut s) => {
                s.user = Some(user.into());
                Uri::Sip(s)
            }
            u => u,
        }
    }
}

/// True if a URI is the anonymous identity of RFC 3323.
pub fn is_anonymous(uri: &Uri) -> bool {
    match uri {
        Uri::Sip(s) => {
            s.user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case("anonymous"))
                || matches!(&s.host, Host::Name(h) if h.eq_ignore_ascii_case("anonymous.invalid"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digits {
        text_to_signals(s).unwrap()
    }

    #[test]
    fn isup_to_sip_forms() {
        let n = from_isup(noa::INTERNATIONAL, &d("4930123456"), "49", "");
        assert_eq!(n, SipNumber::Global("+4930123456".into()));
        assert_eq!(
            to_uri(&n, UriForm::SipUserPhone, "peer.example", 5060).to_string(),
            "sip:+4930123456@peer.example;user=phone"
        );
        assert_eq!(
            to_uri(&n, UriForm::Tel, "x", 5060).to_string(),
            "tel:+4930123456"
        );
        let n = from_isup(noa::NATIONAL, &d("30123456"), "49", "");
        assert_eq!(n, SipNumber::Global("+4930123456".into()));
        let n = from_isup(noa::SUBSCRIBER, &d("123456"), "49", "30");
        assert_eq!(n, SipNumber::Global("+4930123456".into()));
        let n = from_isup(noa::UNKNOWN, &d("112"), "49", "");
        assert_eq!(
            to_uri(&n, UriForm::Tel, "x", 5060).to_string(),
            "tel:112;phone-context=+49"
        );
        let mut st = d("30123456");
        st.push(15);
        assert_eq!(
            from_isup(noa::NATIONAL, &st, "49", ""),
            SipNumber::Global("+4930123456".into())
        );
    }

    #[test]
    fn sip_to_isup_forms() {
        let u = Uri::parse("sip:+4930123456@gw;user=phone").unwrap();
        assert_eq!(to_isup(&u, "49"), Some((noa::NATIONAL, d("30123456"))));
        let u = Uri::parse("tel:+33123456789").unwrap();
        assert_eq!(
            to_isup(&u, "49"),
            Some((noa::INTERNATIONAL, d("33123456789")))
        );
        let u = Uri::parse("tel:112;phone-context=+49").unwrap();
        assert_eq!(to_isup(&u, "49"), Some((noa::NATIONAL, d("112"))));
        let u = Uri::parse("sip:alice@example.com").unwrap();
        assert_eq!(to_isup(&u, "49"), None);
        let u = Uri::parse("sip:030123@gw").unwrap();
        assert_eq!(to_isup(&u, "49"), Some((noa::NATIONAL, d("030123"))));
        assert!(is_anonymous(&anonymous_uri()));
        assert_eq!(
            anonymous_uri().to_string(),
            "sip:anonymous@anonymous.invalid"
        );
    }
}
