//! HTTP Digest authentication of SIP requests, server side (RFC 3261 §22.4), with the SHA-256
//! algorithm that RFC 8760 brings to SIP and the computations of RFC 7616 §3.4. Sans-IO: the
//! caller gives the time and the secret; nonces are stateless (issued time + keyed hash), so a
//! restart only makes outstanding nonces stale.

use sha2::{Digest as _, Sha256};
use std::fmt;

/// Lower-case hex SHA-256 of `data` (RFC 7616 §3.4: `H(data)`).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The `response` of RFC 7616 §3.4.1 with SHA-256: `KD(H(A1), nonce:nc:cnonce:qop:H(A2))`
/// with `A1 = username:realm:password` and `A2 = method:uri` (qop `auth`); without qop
/// (RFC 2069 style, still allowed by RFC 3261 §22.4) `KD(H(A1), nonce:H(A2))`.
#[allow(clippy::too_many_arguments)]
pub fn response(
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str, &str)>,
) -> String {
    let ha1 = sha256_hex(format!("{username}:{realm}:{password}").as_bytes());
    let ha2 = sha256_hex(format!("{method}:{uri}").as_bytes());
    match qop {
        Some((nc, cnonce, qop)) => {
            sha256_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes())
        }
        None => sha256_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes()),
    }
}

/// A `WWW-Authenticate` challenge (RFC 3261 §22.4, RFC 8760 §2.3): SHA-256, qop `auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    /// The nonce of the request was too old (RFC 7616 §3.3): retry with the new one, no
    /// new password prompt.
    pub stale: bool,
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=SHA-256, qop=\"auth\"",
            self.realm, self.nonce
        )?;
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("not a Digest Authorization header")]
    NotDigest,
    #[error("Authorization lacks `{0}`")]
    Missing(&'static str),
    #[error("algorithm {0} is not supported (SHA-256 only)")]
    Algorithm(String),
}

/// The `Authorization` header of a request (RFC 3261 §25.1 `credentials`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub cnonce: Option<String>,
    pub nc: Option<String>,
    pub qop: Option<String>,
}

impl Credentials {
    /// Parse `Digest username="..", realm="..", ...`; only SHA-256 is accepted (RFC 8760 §2.4:
    /// the UAS chooses the algorithms it offers; we never offer MD5).
    pub fn parse(value: &str) -> Result<Credentials, AuthError> {
        let v = value.trim_start();
        let rest = v
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("digest"))
            .map(|_| &v[6..])
            .ok_or(AuthError::NotDigest)?;
        let mut c = Credentials::default();
        let mut algorithm = None;
        for (k, val) in params(rest) {
            match k.to_ascii_lowercase().as_str() {
                "username" => c.username = val,
                "realm" => c.realm = val,
                "nonce" => c.nonce = val,
                "uri" => c.uri = val,
                "response" => c.response = val.to_ascii_lowercase(),
                "cnonce" => c.cnonce = Some(val),
                "nc" => c.nc = Some(val),
                "qop" => c.qop = Some(val),
                "algorithm" => algorithm = Some(val),
                _ => {}
            }
        }
        match algorithm {
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => {}
            Some(a) => return Err(AuthError::Algorithm(a)),
            // RFC 7616 §3.4: absent means MD5, which we do not offer.
            None => return Err(AuthError::Algorithm("MD5".into())),
        }
        for (name, v) in [
            ("username", &c.username),
            ("realm", &c.realm),
            ("nonce", &c.nonce),
            ("uri", &c.uri),
            ("response", &c.response),
        ] {
            if v.is_empty() {
                return Err(AuthError::Missing(name));
            }
        }
        if c.qop.is_some() && (c.cnonce.is_none() || c.nc.is_none()) {
            return Err(AuthError::Missing("cnonce/nc"));
        }
        Ok(c)
    }

    /// True if the response proves knowledge of `password` for `method` (compared in
    /// constant time).
    pub fn verify(&self, method: &str, password: &str) -> bool {
        let qop = match (&self.qop, &self.nc, &self.cnonce) {
            (Some(q), Some(nc), Some(cn)) => Some((nc.as_str(), cn.as_str(), q.as_str())),
            _ => None,
        };
        let want = response(
            &self.username,
            &self.realm,
            password,
            method,
            &self.uri,
            &self.nonce,
            qop,
        );
        want.len() == self.response.len()
            && want
                .bytes()
                .zip(self.response.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// `key=value` / `key="quoted"` pairs separated by commas.
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = s[k0..i].trim().to_string();
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                v.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
            v
        } else {
            let v0 = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            s[v0..i].trim().to_string()
        };
        out.push((key, value));
    }
    out
}

/// What a nonce check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    Valid,
    /// Ours, but older than the allowed age: challenge again with `stale=true`.
    Stale,
    /// Not issued by us (or tampered with).
    Invalid,
}

/// Stateless nonces: `<issued seconds, hex>-<keyed hash>`; only the holder of `secret` can
/// make one that checks.
#[derive(Clone)]
pub struct NonceKey {
    secret: [u8; 32],
}

impl NonceKey {
    pub fn new(secret: [u8; 32]) -> NonceKey {
        NonceKey { secret }
    }

    fn mac(&self, issued: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(issued.to_be_bytes());
        hex(&h.finalize()[..16])
    }

    /// A nonce issued at `now_s` (seconds of any monotonic clock the checker also uses).
    pub fn issue(&self, now_s: u64) -> String {
        format!("{now_s:x}-{}", self.mac(now_s))
    }

    pub fn check(&self, nonce: &str, now_s: u64, max_age_s: u64) -> NonceState {
        let Some((t, mac)) = nonce.split_once('-') else {
            return NonceState::Invalid;
        };
        let Ok(issued) = u64::from_str_radix(t, 16) else {
            return NonceState::Invalid;
        };
        if self.mac(issued) != mac || issued > now_s {
            NonceState::Invalid
        } else if now_s - issued > max_age_s {
            NonceState::Stale
        } else {
            NonceState::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1, the SHA-256 example (the computation is the same for SIP, RFC 8760).
    #[test]
    fn rfc7616_sha256_example() {
        let r = response(
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            Some((
                "00000001",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                "auth",
            )),
        );
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn credentials_parse_and_verify() {
        let h = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="x""#;
        let c = Credentials::parse(h).unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert!(c.verify("GET", "Circle of Life"));
        assert!(!c.verify("GET", "circle of life"));
        assert!(!c.verify("POST", "Circle of Life"));
        // MD5 (explicit or by default) is refused, as is a non-Digest scheme.
        assert_eq!(
            Credentials::parse(&h.replace("algorithm=SHA-256, ", "")),
            Err(AuthError::Algorithm("MD5".into()))
        );
        assert!(matches!(
            Credentials::parse(&h.replace("SHA-256", "MD5")),
            Err(AuthError::Algorithm(_))
        ));
        assert_eq!(
            Credentials::parse("Basic QWxhZGRpbjpvcGVu"),
            Err(AuthError::NotDigest)
        );
        assert_eq!(
            Credentials::parse(&h.replace("username=\"Mufasa\", ", "")),
            Err(AuthError::Missing("username"))
        );
        // Garbage never panics.
        for g in [
            "Digest",
            "Digest ,,,=",
            "Digest a=\"unterminated",
            "Digest é=\"ü\"",
        ] {
            let _ = Credentials::parse(g);
        }
    }

    #[test]
    fn nonces_check_age_and_origin() {
        let k = NonceKey::new([7; 32]);
        let n = k.issue(1000);
        assert_eq!(k.check(&n, 1000, 300), NonceState::Valid);
        assert_eq!(k.check(&n, 1300, 300), NonceState::Valid);
        assert_eq!(k.check(&n, 1301, 300), NonceState::Stale);
        assert_eq!(k.check(&n, 999, 300), NonceState::Invalid);
        let other = NonceKey::new([8; 32]);
        assert_eq!(other.check(&n, 1000, 300), NonceState::Invalid);
        assert_eq!(k.check("3e8-00", 1000, 300), NonceState::Invalid);
        assert_eq!(k.check("nonsense", 1000, 300), NonceState::Invalid);
        let challenge = Challenge {
            realm: "mgc".into(),
            nonce: n.clone(),
            stale: true,
        };
        assert_eq!(
            challenge.to_string(),
            format!(
                "Digest realm=\"mgc\", nonce=\"{n}\", algorithm=SHA-256, qop=\"auth\", stale=true"
            )
        );
    }
}
