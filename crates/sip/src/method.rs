//! SIP methods (RFC 3261 §7.1; case-sensitive tokens).

use crate::grammar::is_token_str;
use std::fmt;

macro_rules! methods {
    ($( $var:ident => $s:literal, )*) => {
        /// A request method. Extension methods are kept as `Extension`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Method { $( $var, )* Extension(Box<str>) }
        static KNOWN: &[(Method, &str)] = &[ $( (Method::$var, $s), )* ];
    };
}

methods! {
    Invite => "INVITE",
    Ack => "ACK",
    Bye => "BYE",
    Cancel => "CANCEL",
    Options => "OPTIONS",
    Register => "REGISTER",
    Prack => "PRACK",
    Update => "UPDATE",
    Info => "INFO",
    Subscribe => "SUBSCRIBE",
    Notify => "NOTIFY",
    Refer => "REFER",
    Message => "MESSAGE",
    Publish => "PUBLISH",
}

impl Method {
    /// Parses a method token; `None` if it is not a token.
    pub fn parse(s: &str) -> Option<Method> {
        if let Some((m, _)) = KNOWN.iter().find(|(_, k)| *k == s) {
            return Some(m.clone());
        }
        is_token_str(s).then(|| Method::Extension(s.into()))
    }
    pub fn as_str(&self) -> &str {
        match self {
            Method::Extension(s) => s,
            m => KNOWN
                .iter()
                .find(|(k, _)| k == m)
                .map(|(_, s)| *s)
                .unwrap_or(""),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = crate::grammar::SyntaxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::parse(s).ok_or(crate::grammar::SyntaxError("bad method token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn known_and_extension() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::parse("invite"),
            Some(Method::Extension("invite".into()))
        );
        assert_eq!(Method::Prack.as_str(), "PRACK");
        assert!(Method::parse("RE%47IST%45R").is_some());
        assert!(Method::parse("A B").is_none());
    }
}
