//! Media types (RFC 3261 §20.15, RFC 2045 §5.1) with the SWS SIP allows around
//! `/` and `;`. Our own parser: the `mime` crate rejects `type/sub ; p=v`
//! (see docs/sip.md, "Dependencies").

use crate::grammar::{Params, SResult, Scanner, SyntaxError};
use std::fmt;

/// `m-type "/" m-subtype *(";" m-parameter)`. Type, subtype and parameter
/// names compare case-insensitively; parameter order does not matter.
#[derive(Debug, Clone)]
pub struct MediaType {
    pub ty: String,
    pub subtype: String,
    pub params: Params,
}

impl MediaType {
    pub fn new(ty: &str, subtype: &str) -> Self {
        MediaType {
            ty: ty.into(),
            subtype: subtype.into(),
            params: Params::new(),
        }
    }

    /// `application/ISUP; version=itu-t92+; base=itu-t92+` (RFC 3204 §4).
    pub fn isup(version: &str, base: Option<&str>) -> Self {
        let mut m = MediaType::new("application", "ISUP");
        m.params.set("version", Some(version));
        if let Some(b) = base {
            m.params.set("base", Some(b));
        }
        m
    }

    pub fn parse(s: &str) -> SResult<MediaType> {
        let mut sc = Scanner::new(s);
        sc.ws();
        let m = Self::parse_scanner(&mut sc)?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk after media type"));
        }
        Ok(m)
    }

    /// The same checks as [`MediaType::parse`] without allocating.
    pub fn validate(s: &str) -> SResult<()> {
        let mut sc = Scanner::new(s);
        sc.ws();
        sc.token().map_err(|_| SyntaxError("bad media type"))?;
        if !sc.sep(b'/') {
            return Err(SyntaxError("missing '/' in media type"));
        }
        sc.token().map_err(|_| SyntaxError("bad media subtype"))?;
        Params::scan(&mut sc, |_, _| Ok(()))?;
        sc.ws();
        if !sc.at_end() {
            return Err(SyntaxError("junk after media type"));
        }
        Ok(())
    }

    pub(crate) fn parse_scanner(sc: &mut Scanner<'_>) -> SResult<MediaType> {
        let ty = sc.token().map_err(|_| SyntaxError("bad media type"))?;
        if !sc.sep(b'/') {
            return Err(SyntaxError("missing '/' in media type"));
        }
        let subtype = sc.token().map_err(|_| SyntaxError("bad media subtype"))?;
        let params = Params::parse(sc)?;
        Ok(MediaType {
            ty: ty.into(),
            subtype: subtype.into(),
            params,
        })
    }

    /// Type and subtype match, ignoring case and parameters.
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.subtype.eq_ignore_ascii_case(subtype)
    }
    pub fn is_sdp(&self) -> bool {
        self.is("application", "sdp")
    }
    /// `application/ISUP` (RFC 3204), also SIP-T's QSIG sibling is not included.
    pub fn is_isup(&self) -> bool {
        self.is("application", "isup")
    }
    pub fn is_multipart(&self) -> bool {
        self.ty.eq_ignore_ascii_case("multipart")
    }
    /// A parameter, unquoted.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params.value(name)
    }
    pub fn boundary(&self) -> Option<String> {
        self.param("boundary")
    }
    pub fn essence(&self) -> String {
        format!("{}/{}", self.ty, self.subtype).to_ascii_lowercase()
    }
}

impl PartialEq for MediaType {
    /// RFC 2045 §5.1: case-insensitive type, subtype and parameter names;
    /// parameter values compared case-insensitively too (SIP-T `version`/`base`
    /// tokens are case-insensitive), quoted and unquoted forms equal.
    fn eq(&self, o: &Self) -> bool {
        self.is(&o.ty, &o.subtype)
            && self.params.0.len() == o.params.0.len()
            && self
                .params
                .iter()
                .all(|(n, _)| match (self.params.value(n), o.params.get(n)) {
                    (a, Some(_)) => a
                        .unwrap_or_default()
                        .eq_ignore_ascii_case(&o.params.value(n).unwrap_or_default()),
                    _ => false,
                })
    }
}
impl Eq for MediaType {}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.ty, self.subtype, self.params)
    }
}

impl std::str::FromStr for MediaType {
    type Err = SyntaxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MediaType::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_whitespace_and_case() {
        let a = MediaType::parse("application/ISUP; version=itu-t92+ ; base=itu-t92+").unwrap();
        let b = MediaType::parse("Application / isup;base=ITU-T92+;version=itu-t92+").unwrap();
        assert_eq!(a, b);
        assert!(a.is_isup());
        assert_eq!(a.param("VERSION").as_deref(), Some("itu-t92+"));
        assert_ne!(a, MediaType::parse("application/isup").unwrap());
        let m = MediaType::parse("multipart/mixed;boundary=\"unique boundary-1\"").unwrap();
        assert_eq!(m.boundary().as_deref(), Some("unique boundary-1"));
        assert!(MediaType::parse("application").is_err());
        assert!(MediaType::parse("application/sdp;").is_err());
        assert_eq!(
            a.to_string(),
            "application/ISUP;version=itu-t92+;base=itu-t92+"
        );
        assert_eq!(MediaType::isup("itu-t92+", Some("itu-t92+")), a);
    }
}
