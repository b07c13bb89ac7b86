//! Transaction identification (RFC 3261 §17.1.3, §17.2.3) and identifiers.

use super::TransactionError;
use crate::header::{MAGIC_COOKIE, Via};
use crate::message::{Request, Response};
use crate::method::Method;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies a transaction on one side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionKey {
    /// Client side: top Via branch + CSeq method (§17.1.3).
    Client { branch: String, method: Method },
    /// Server side, RFC 3261 peer: branch + sent-by + method, ACK counted as
    /// INVITE (§17.2.3).
    Server {
        branch: String,
        sent_by: String,
        method: Method,
    },
    /// Server side, RFC 2543 peer (no magic cookie): Request-URI, From tag,
    /// Call-ID, CSeq number, top Via and method (§17.2.3). The To tag is left
    /// out so an ACK, which carries our tag, matches its INVITE.
    Rfc2543 {
        uri: String,
        from_tag: String,
        call_id: String,
        cseq: u32,
        via: String,
        method: Method,
    },
}

fn server_method(m: &Method) -> Method {
    if *m == Method::Ack {
        Method::Invite
    } else {
        m.clone()
    }
}

impl TransactionKey {
    pub fn for_client_request(req: &Request) -> Result<Self, TransactionError> {
        let via = req
            .headers
            .top_via()
            .map_err(|_| TransactionError::BadRequest("Via"))?;
        let branch = via
            .branch()
            .ok_or(TransactionError::BadRequest("Via branch"))?;
        let method = if req.method == Method::Ack {
            Method::Invite
        } else {
            req.method.clone()
        };
        Ok(TransactionKey::Client {
            branch: branch.to_string(),
            method,
        })
    }

    /// Key of the client transaction a response belongs to.
    pub fn for_response(resp: &Response) -> Result<Self, TransactionError> {
        let (via, method) = via_and_method(resp)?;
        let branch = via
            .branch()
            .ok_or(TransactionError::BadRequest("Via branch"))?;
        Ok(TransactionKey::Client {
            branch: branch.to_string(),
            method,
        })
    }

    /// Key of the server transaction a response of ours answers (§17.2.3): the response
    /// carries the request's top Via (branch, sent-by) and CSeq. An RFC 2543 request (no magic
    /// cookie) is keyed by its Request-URI, which a response lacks: `Err`.
    pub fn for_server_response(resp: &Response) -> Result<Self, TransactionError> {
        let (via, method) = via_and_method(resp)?;
        let branch = via
            .branch()
            .filter(|b| b.starts_with(MAGIC_COOKIE))
            .ok_or(TransactionError::BadRequest("Via branch"))?;
        Ok(TransactionKey::Server {
            branch: branch.to_string(),
            sent_by: via.sent_by().to_ascii_lowercase(),
            method,
        })
    }

    pub fn for_server_request(req: &Request) -> Result<Self, TransactionError> {
        Self::server_key(req, server_method(&req.method))
    }

    /// The INVITE server transaction a CANCEL refers to (§9.2).
    pub fn for_cancel_target(cancel: &Request) -> Result<Self, TransactionError> {
        Self::server_key(cancel, Method::Invite)
    }

    fn server_key(req: &Request, method: Method) -> Result<Self, TransactionError> {
        let via = req
            .headers
            .top_via()
            .map_err(|_| TransactionError::BadRequest("Via"))?;
        if let Some(b) = via.branch().filter(|b| b.starts_with(MAGIC_COOKIE)) {
            return Ok(TransactionKey::Server {
                branch: b.to_string(),
                sent_by: via.sent_by().to_ascii_lowercase(),
                method,
            });
        }
        let h = &req.headers;
        Ok(TransactionKey::Rfc2543 {
            uri: req.uri.to_string(),
            from_tag: h
                .from()
                .ok()
                .and_then(|f| f.tag().map(str::to_string))
                .unwrap_or_default(),
            call_id: h
                .call_id()
                .map_err(|_| TransactionError::BadRequest("Call-ID"))?
                .to_string(),
            cseq: h
                .cseq()
                .map_err(|_| TransactionError::BadRequest("CSeq"))?
                .seq,
            via: via.to_string(),
            method,
        })
    }
}

/// A response's top Via and CSeq method: what names its transaction on either side.
fn via_and_method(resp: &Response) -> Result<(Via, Method), TransactionError> {
    let via = resp
        .headers
        .top_via()
        .map_err(|_| TransactionError::BadRequest("Via"))?;
    let cseq = resp
        .headers
        .cseq()
        .map_err(|_| TransactionError::BadRequest("CSeq"))?;
    Ok((via, cseq.method))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_u64() -> u64 {
    // RandomState is seeded per process from the OS; mixing a counter gives
    // unique, unpredictable values without a rand dependency.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// A fresh branch with the magic cookie (RFC 3261 §8.1.1.7).
pub fn new_branch() -> String {
    format!("{MAGIC_COOKIE}{:016x}", random_u64())
}

/// A fresh From/To tag (RFC 3261 §19.3: at least 32 bits of randomness).
pub fn new_tag() -> String {
    format!("{:012x}", random_u64() & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_finds_its_server_transaction() {
        let raw = b"INVITE sip:u@h SIP/2.0\r\nVia: SIP/2.0/UDP Host.example:5070;branch=z9hG4bKk1;rport=4\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:u@h>\r\nCall-ID: c\r\nCSeq: 7 INVITE\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        let Ok(crate::message::Message::Request(req)) = crate::message::Message::parse(raw) else {
            panic!("valid request")
        };
        let resp = Response::for_request(&req, 486, Some("t"));
        assert_eq!(
            TransactionKey::for_server_response(&resp),
            TransactionKey::for_server_request(&req)
        );
        let old = String::from_utf8_lossy(raw).replace("z9hG4bKk1", "k1");
        let Ok(crate::message::Message::Request(req)) =
            crate::message::Message::parse(old.as_bytes())
        else {
            panic!("valid request")
        };
        let resp = Response::for_request(&req, 486, Some("t"));
        assert!(TransactionKey::for_server_response(&resp).is_err());
    }

    #[test]
    fn unique_ids() {
        let a = new_branch();
        assert!(a.starts_with("z9hG4bK"));
        assert_ne!(a, new_branch());
        assert_ne!(new_tag(), new_tag());
    }
}
