//! The SDP subset a PSTN leg needs (RFC 4566, RFC 3264 offer/answer): one audio stream, PCMA/PCMU
//! and telephone-event. Parsing is lenient on lines it does not use and never panics.

use std::fmt::Write;

/// One RTP payload format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub pt: u8,
    /// Encoding name as in rtpmap (`PCMA`, `PCMU`, `telephone-event`).
    pub name: String,
    pub rate: u32,
}

impl Codec {
    /// The static payload types of RFC 3551 Table 4 this gateway supports.
    pub fn by_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::new(0, "PCMU", 8000))
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::new(8, "PCMA", 8000))
        } else {
            None
        }
    }

    pub fn new(pt: u8, name: &str, rate: u32) -> Codec {
        Codec {
            pt,
            name: name.into(),
            rate,
        }
    }

    pub fn telephone_event(pt: u8) -> Codec {
        Codec::new(pt, "telephone-event", 8000)
    }

    fn same_format(&self, o: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&o.name) && self.rate == o.rate
    }

    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }
}

/// The audio stream of a session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// Connection address (`c=`).
    pub address: String,
    pub port: u16,
    /// Formats in the order of the `m=` line.
    pub codecs: Vec<Codec>,
    pub ptime: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP is not UTF-8")]
    Encoding,
    #[error("SDP has no audio stream")]
    NoAudio,
    #[error("SDP has no connection address")]
    NoConnection,
    #[error("bad SDP line: {0}")]
    Bad(&'static str),
}

impl SessionDescription {
    pub fn parse(b: &[u8]) -> Result<SessionDescription, SdpError> {
        let s = std::str::from_utf8(b).map_err(|_| SdpError::Encoding)?;
        let mut session_c = None;
        let mut media_c = None;
        let mut audio: Option<(u16, Vec<u8>)> = None;
        let mut in_audio = false;
        let mut seen_audio = false;
        let mut rtpmaps: Vec<Codec> = Vec::new();
        let mut ptime = None;
        for line in s.lines() {
            let line = line.trim_end_matches('\r');
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k {
                "c" => {
                    // c=IN IP4 192.0.2.1
                    let addr = v.split_whitespace().nth(2).ok_or(SdpError::Bad("c="))?;
                    let addr = addr.split('/').next().unwrap_or(addr).to_string();
                    if in_audio {
                        media_c = Some(addr);
                    } else if !seen_audio {
                        session_c = Some(addr);
                    }
                }
                "m" => {
                    let mut it = v.split_whitespace();
                    let media = it.next().ok_or(SdpError::Bad("m="))?;
                    in_audio = media == "audio" && audio.is_none();
                    seen_audio |= media == "audio";
                    if in_audio {
                        let port = it
                            .next()
                            .and_then(|p| p.split('/').next())
                            .and_then(|p| p.parse().ok())
                            .ok_or(SdpError::Bad("m= port"))?;
                        let _proto = it.next().ok_or(SdpError::Bad("m= proto"))?;
                        let fmts = it.filter_map(|f| f.parse().ok()).collect();
                        audio = Some((port, fmts));
                    }
                }
                "a" if in_audio => {
                    if let Some(r) = v.strip_prefix("rtpmap:") {
                        let mut it = r.splitn(2, ' ');
                        let pt = it.next().and_then(|p| p.parse().ok());
                        let enc = it.next().unwrap_or("");
                        let mut e = enc.split('/');
                        let name = e.next().unwrap_or("");
                        let rate = e.next().and_then(|r| r.parse().ok()).unwrap_or(8000);
                        if let Some(pt) = pt {
                            rtpmaps.push(Codec::new(pt, name, rate));
                        }
                    } else if let Some(p) = v.strip_prefix("ptime:") {
                        ptime = p.trim().parse().ok();
                    }
                }
                _ => {}
            }
        }
        let (port, fmts) = audio.ok_or(SdpError::NoAudio)?;
        let address = media_c.or(session_c).ok_or(SdpError::NoConnection)?;
        let codecs = fmts
            .into_iter()
            .filter_map(|pt| {
                rtpmaps
                    .iter()
                    .find(|c| c.pt == pt)
                    .cloned()
                    .or_else(|| match pt {
                        0 => Codec::by_name("PCMU"),
                        8 => Codec::by_name("PCMA"),
                        _ => None,
                    })
            })
            .collect();
        Ok(SessionDescription {
            address,
            port,
            codecs,
            ptime,
        })
    }

    /// Render with an origin line `o=mgc <session> <version>`.
    pub fn to_bytes(&self, session: u64, version: u64) -> Vec<u8> {
        let ip = if self.address.contains(':') {
            "IP6"
        } else {
            "IP4"
        };
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            "v=0\r\no=mgc {session} {version} IN {ip} {a}\r\ns=-\r\nc=IN {ip} {a}\r\nt=0 0\r\nm=audio {p} RTP/AVP",
            a = self.address,
            p = self.port
        );
        for c in &self.codecs {
            let _ = write!(s, " {}", c.pt);
        }
        s.push_str("\r\n");
        for c in &self.codecs {
            let _ = write!(s, "a=rtpmap:{} {}/{}\r\n", c.pt, c.name, c.rate);
            if c.is_telephone_event() {
                let _ = write!(s, "a=fmtp:{} 0-15\r\n", c.pt);
            }
        }
        if let Some(p) = self.ptime {
            let _ = write!(s, "a=ptime:{p}\r\n");
        }
        s.push_str("a=sendrecv\r\n");
        s.into_bytes()
    }

    /// RFC 3264 §6.1: the formats of an answer to `offer` from what we support, in the offer's
    /// order with the offer's payload types. `None` if no audio codec is common (→ 488).
    pub fn answer_codecs(offer: &[Codec], ours: &[Codec]) -> Option<Vec<Codec>> {
        let common: Vec<Codec> = offer
            .iter()
            .filter(|c| ours.iter().any(|o| o.same_format(c)))
            .cloned()
            .collect();
        common
            .iter()
            .any(|c| !c.is_telephone_event())
            .then_some(common)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_answer() {
        let offer = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 0 8 96\r\na=rtpmap:96 telephone-event/8000\r\n";
        let sd = SessionDescription::parse(offer).unwrap();
        assert_eq!(sd.address, "10.0.0.1");
        assert_eq!(sd.port, 4000);
        assert_eq!(
            sd.codecs.iter().map(|c| c.pt).collect::<Vec<_>>(),
            vec![0, 8, 96]
        );
        let ours = vec![Codec::by_name("PCMA").unwrap(), Codec::telephone_event(101)];
        let ans = SessionDescription::answer_codecs(&sd.codecs, &ours).unwrap();
        assert_eq!(ans.iter().map(|c| c.pt).collect::<Vec<_>>(), vec![8, 96]);
        let only_g729 = [Codec::new(18, "G729", 8000), Codec::telephone_event(96)];
        assert!(SessionDescription::answer_codecs(&only_g729, &ours).is_none());
        let out = SessionDescription {
            address: "192.0.2.1".into(),
            port: 40000,
            codecs: ans,
            ptime: Some(20),
        };
        let back = SessionDescription::parse(&out.to_bytes(1, 1)).unwrap();
        assert_eq!(back, out);
    }

    #[test]
    fn bad_sdp_is_an_error() {
        assert!(SessionDescription::parse(b"v=0\r\n").is_err());
        assert!(SessionDescription::parse(b"\xff\xfe").is_err());
        assert!(SessionDescription::parse(b"m=audio x RTP/AVP 0\r\n").is_err());
    }
}
