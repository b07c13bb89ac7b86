//! Syntax checks run at parse time for the headers a stateful element must be
//! able to trust (RFC 3261 §8.1.1, §18.3). Each is referenced from the header
//! table in `name.rs`.

use super::typed::{self, Contact, NameAddr, Via};
use crate::grammar::{SResult, SyntaxError};
use crate::mediatype::MediaType;

pub type Validator = fn(&str) -> SResult<()>;

pub fn via(s: &str) -> SResult<()> {
    Via::validate_list(s)
}
pub fn from_to(s: &str) -> SResult<()> {
    NameAddr::validate(s)
}
pub fn contact(s: &str) -> SResult<()> {
    Contact::validate_list(s)
}
pub fn route(s: &str) -> SResult<()> {
    crate::grammar::check_list(s, NameAddr::validate)
}
pub fn call_id(s: &str) -> SResult<()> {
    typed::parse_call_id(s).map(drop)
}
pub fn cseq(s: &str) -> SResult<()> {
    typed::CSeq::parse(s).map(drop)
}
pub fn max_forwards(s: &str) -> SResult<()> {
    typed::parse_max_forwards(s).map(drop)
}
pub fn content_length(s: &str) -> SResult<()> {
    typed::parse_content_length(s).map(drop)
}
pub fn content_type(s: &str) -> SResult<()> {
    MediaType::validate(s)
}

/// rfc1123-date (RFC 3261 §20.17): `wkday "," SP 2DIGIT SP month SP 4DIGIT SP
/// 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"`.
pub fn date(s: &str) -> SResult<()> {
    const WKDAY: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTH: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let e = SyntaxError("not an RFC 1123 date in GMT");
    let t = s.trim_matches([' ', '\t']).as_bytes();
    if t.len() != 29 {
        return Err(e);
    }
    let digits = |r: std::ops::Range<usize>| t[r].iter().all(u8::is_ascii_digit);
    let ok = WKDAY.iter().any(|w| w.as_bytes() == &t[0..3])
        && &t[3..5] == b", "
        && digits(5..7)
        && t[7] == b' '
        && MONTH.iter().any(|m| m.as_bytes() == &t[8..11])
        && t[11] == b' '
        && digits(12..16)
        && t[16] == b' '
        && digits(17..19)
        && t[19] == b':'
        && digits(20..22)
        && t[22] == b':'
        && digits(23..25)
        && &t[25..] == b" GMT";
    if ok { Ok(()) } else { Err(e) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert!(super::date("Sat, 15 Oct 2005 04:44:56 GMT").is_ok());
        assert!(super::date("Fri, 01 Jan 2010 16:00:00 EST").is_err());
    }
}
