//! Configuration as plain serde structs (embedded by `mgc` in its TOML file). Every struct denies
//! unknown fields and has defaults where the standards give one.

use serde::Deserialize;
use std::time::Duration;

use crate::cause::{CauseOverride, CauseProfile};

/// The whole IWU configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IwuConfig {
    /// Where this gateway's SIP side is reachable (Via sent-by, Contact, From host).
    pub local: LocalSip,
    /// ISUP timers (Q.764 Annex A); each can be overridden in seconds.
    #[serde(default)]
    pub timers: IsupTimers,
    /// PSTN trunk groups (circuits, numbering, media endpoint, SIP peer for calls from the PSTN).
    #[serde(default)]
    pub trunk_groups: Vec<TrunkGroupConfig>,
    /// SIP peers (profile, trust, URI form, cause mapping, trunk group for calls from the peer).
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
}

/// This gateway's SIP address.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocalSip {
    pub host: String,
    #[serde(default = "default_sip_port")]
    pub port: u16,
    /// `UDP` or `TCP`.
    #[serde(default = "default_transport")]
    pub transport: String,
}

fn default_sip_port() -> u16 {
    5060
}
fn default_transport() -> String {
    "UDP".into()
}

/// ISUP supervision timers. Defaults: Q.764 Annex A ranges, values as in jSS7/Yate
/// (shared/reference/isup-q764-timers.md §1).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IsupTimers {
    /// T1 (15-60 s): REL sent → RLC; on expiry re-send REL.
    #[serde(with = "secs")]
    pub t1: Duration,
    /// T2 (3 min): user-initiated SUS received by the controlling exchange → RES; on expiry
    /// release (Q.764 §2.5.1.1).
    #[serde(with = "secs")]
    pub t2: Duration,
    /// T5 (5-15 min): first REL sent → RLC; on expiry RSC + maintenance alert.
    #[serde(with = "secs")]
    pub t5: Duration,
    /// T6 (Q.118): network-initiated SUS received by the controlling exchange → RES; on expiry
    /// release (Q.764 §2.5.1.2).
    #[serde(with = "secs")]
    pub t6: Duration,
    /// T7 (20-30 s): IAM sent → ACM/CON; on expiry release (cause 102).
    #[serde(with = "secs")]
    pub t7: Duration,
    /// T8 (10-15 s): IAM with continuity check received → COT; on expiry release (cause 41).
    #[serde(with = "secs")]
    pub t8: Duration,
    /// T9 (Q.118, 90-180 s): ACM received → ANM; on expiry release (cause 19).
    #[serde(with = "secs")]
    pub t9: Duration,
    /// T10 (4-6 s): last digit received in the interworking case; here the SAM collection
    /// timer of the en-bloc conversion (RFC 3578 §2) on overlap trunk groups.
    #[serde(with = "secs")]
    pub t10: Duration,
    /// T11 (15-20 s): IAM received (interworking) → ACM sent; on expiry send ACM "no indication".
    #[serde(with = "secs")]
    pub t11: Duration,
    /// T17 (5-15 min): RSC sent after T5 (Q.764 §2.9.6) → RLC; re-send RSC. Not read from
    /// `[call_timers]`: the runtime copies `[maintenance_timers] t17`, the circuit manager's, so
    /// one value serves every circuit reset.
    #[serde(skip)]
    pub t17: Duration,
}

impl Default for IsupTimers {
    fn default() -> Self {
        IsupTimers {
            t1: Duration::from_secs(15),
            t2: Duration::from_secs(180),
            t5: Duration::from_secs(300),
            t6: Duration::from_secs(60),
            t7: Duration::from_secs(20),
            t8: Duration::from_secs(10),
            t9: Duration::from_secs(90),
            t10: Duration::from_secs(4),
            t11: Duration::from_secs(15),
            t17: Duration::from_secs(300),
        }
    }
}

mod secs {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v > 0.0 && v < 86_400.0) {
            return Err(serde::de::Error::custom(
                "timer must be a positive number of seconds below one day",
            ));
        }
        Ok(Duration::from_secs_f64(v))
    }
}

/// One PSTN trunk group.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrunkGroupConfig {
    pub name: String,
    /// The far end's signalling point code: the trunk group's circuits are `(dpc, cic)`.
    pub dpc: u32,
    /// CIC ranges, inclusive: `[[1, 31], [33, 63]]`; unique per DPC (Q.763 §1.2), so groups
    /// toward different exchanges may use the same CICs.
    pub cics: Vec<[u16; 2]>,
    /// The SIP peer (by name) that calls arriving on this trunk group are sent to.
    pub sip_peer: String,
    /// Country code (E.164, no `+`) used to turn national numbers into `+CC…` and back.
    pub country_code: String,
    /// Area code for NOA "subscriber number" (RFC 3398 §8.2.1.1); empty = keep local.
    #[serde(default)]
    pub area_code: String,
    /// FCI national/international call indicator for IAMs sent on this group.
    #[serde(default)]
    pub international: bool,
    /// NCI echo control device indicator: the media gateway inserts echo cancellation.
    #[serde(default)]
    pub echo_control: bool,
    /// End the called party number with ST (en-bloc complete, Q.764 §2.1.1.1).
    #[serde(default)]
    pub append_st: bool,
    /// Overlap receiving: collect SAM digits (until ST or T10) before sending the INVITE.
    #[serde(default)]
    pub overlap: bool,
    /// Send ACM "no indication" when T11 expires before the SIP side progresses.
    #[serde(default = "yes")]
    pub t11_acm: bool,
    /// Media gateway endpoint serving this group's circuits.
    pub media: MediaConfig,
}

fn yes() -> bool {
    true
}

/// The static media gateway endpoint of a trunk group (item 4: address, RTP port range, codecs).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// RTP address (IPv4 or IPv6 literal) offered in SDP.
    pub address: String,
    /// First RTP port; CIC number i of the group (counted from 0) gets `rtp_port_min + 2*i`.
    pub rtp_port_min: u16,
    /// Last usable RTP port.
    pub rtp_port_max: u16,
    /// Audio codecs in preference order: `PCMA`, `PCMU`.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
    /// RTP payload type for telephone-event (RFC 4733); none disables DTMF events.
    #[serde(default = "default_te")]
    pub telephone_event: Option<u8>,
    /// Packetization time in ms.
    #[serde(default = "default_ptime")]
    pub ptime: u16,
}

fn default_codecs() -> Vec<String> {
    vec!["PCMA".into(), "PCMU".into()]
}
fn default_te() -> Option<u8> {
    Some(101)
}
fn default_ptime() -> u16 {
    20
}

/// ISUP encapsulation toward a SIP peer (item 2).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Encapsulation {
    /// Q.1912.5 profile C: ISUP body on INVITE, 18x, 200, BYE, CANCEL, error responses, INFO.
    SipI,
    /// RFC 3372 SIP-T: the same bodies, headers authoritative for routing.
    SipT,
    /// RFC 3398 only: no ISUP bodies.
    Sip,
}

/// URI form for telephone numbers toward a peer.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum UriForm {
    /// `sip:+4930123456@host;user=phone`
    SipUserPhone,
    /// `tel:+4930123456`
    Tel,
}

/// `handling` parameter of the ISUP parts this gateway sends (RFC 3204 §4).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IsupHandling {
    Optional,
    Required,
}

/// One SIP peer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub name: String,
    /// Host (name or literal) for Request-URIs and where the runtime sends requests.
    pub host: String,
    #[serde(default = "default_sip_port")]
    pub port: u16,
    /// The trunk group that INVITEs from this peer are routed to.
    pub trunk_group: String,
    #[serde(default = "default_profile")]
    pub profile: Encapsulation,
    /// Inside the trust domain (RFC 3325): receives P-Asserted-Identity and ISUP bodies.
    #[serde(default)]
    pub trusted: bool,
    #[serde(default = "default_uri_form")]
    pub uri_form: UriForm,
    #[serde(default)]
    pub cause_profile: CauseProfile,
    /// Row-by-row overrides of the cause profile.
    #[serde(default)]
    pub cause_overrides: CauseOverride,
    /// Use reliable provisional responses (RFC 3262) when the peer offers 100rel.
    #[serde(default = "yes")]
    pub reliable_provisional: bool,
    /// ISUP `version` token sent and accepted (RFC 3204 §4), besides `base=itu-t92+`.
    #[serde(default = "default_isup_version")]
    pub isup_version: String,
    #[serde(default = "default_handling")]
    pub isup_handling: IsupHandling,
    /// Digest authentication of the peer (RFC 3261 §22.4 with SHA-256, RFC 8760), on top of
    /// its address: checked by the runtime, not by the engine.
    #[serde(default)]
    pub digest: Option<PeerDigest>,
}

/// `[peers.digest]`: the credentials a peer must prove in its out-of-dialog requests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerDigest {
    pub username: String,
    pub password: String,
    #[serde(default = "default_realm")]
    pub realm: String,
}

fn default_realm() -> String {
    "mgc".into()
}

fn default_profile() -> Encapsulation {
    Encapsulation::Sip
}
fn default_uri_form() -> UriForm {
    UriForm::SipUserPhone
}
fn default_isup_version() -> String {
    "itu-t92+".into()
}
fn default_handling() -> IsupHandling {
    IsupHandling::Optional
}

/// A configuration error found by [`IwuConfig::validate`]: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct ConfigError {
    /// The key concerned as a path into the configuration, arrays indexed from 0:
    /// `trunk_groups[0].media.rtp_port_min`, `peers[1].trunk_group`.
    pub path: String,
    pub problem: ConfigProblem,
}

/// What is wrong with the value at [`ConfigError::path`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    #[error("no peer named {0:?}")]
    UnknownPeer(String),
    #[error("no trunk group named {0:?}")]
    UnknownTrunkGroup(String),
    #[error("CIC {cic} toward DPC {dpc} belongs to more than one trunk group")]
    DuplicateCic { dpc: u32, cic: u16 },
    #[error("bad CIC range {0}-{1} (CICs 0-4095, Q.763 §1.2)")]
    BadRange(u16, u16),
    #[error("{0:?} is not an IP literal")]
    NotAnIpAddress(String),
    #[error("rtp_port_min above rtp_port_max")]
    PortRange,
    #[error("codec {0:?} is not supported (PCMA, PCMU)")]
    Codec(String),
    #[error("duplicate name {0:?}")]
    DuplicateName(String),
    /// E.164 §6.2.1: a country code is one to three digits.
    #[error("{0:?} is not an E.164 country code (1-3 digits, no `+`)")]
    CountryCode(String),
    #[error("status {0} is not a SIP final error status (400-699, RFC 3261 §21)")]
    Status(u16),
    #[error("cause {0} is not a Q.850 cause value (1-127)")]
    Cause(u8),
    #[error("{0:?} is not a host name or IP address")]
    Host(String),
}

impl ConfigProblem {
    pub fn at(self, path: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.into(),
            problem: self,
        }
    }
}

impl IwuConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (path, n) in self
            .trunk_groups
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("trunk_groups[{i}].name"), format!("tg:{}", t.name)))
            .chain(
                self.peers
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (format!("peers[{i}].name"), format!("peer:{}", p.name))),
            )
        {
            if !seen.insert(n.clone()) {
                return Err(ConfigProblem::DuplicateName(n).at(path));
            }
        }
        let mut cics = std::collections::HashSet::new();
        for (i, tg) in self.trunk_groups.iter().enumerate() {
            let at = |key: &str| format!("trunk_groups[{i}].{key}");
            if !self.peers.iter().any(|p| p.name == tg.sip_peer) {
                return Err(ConfigProblem::UnknownPeer(tg.sip_peer.clone()).at(at("sip_peer")));
            }
            for &[a, b] in &tg.cics {
                if a > b || b > 4095 {
                    return Err(ConfigProblem::BadRange(a, b).at(at("cics")));
                }
                for cic in a..=b {
                    // Q.763 §1.2: a CIC names one circuit of the signalling relation to `dpc`.
                    if !cics.insert((tg.dpc, cic)) {
                        return Err(ConfigProblem::DuplicateCic { dpc: tg.dpc, cic }.at(at("cics")));
                    }
                }
            }
            // E.164 §6.2.1: country codes have one to three digits.
            let cc = &tg.country_code;
            if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigProblem::CountryCode(cc.clone()).at(at("country_code")));
            }
            if tg.media.address.parse::<std::net::IpAddr>().is_err() {
                return Err(
                    ConfigProblem::NotAnIpAddress(tg.media.address.clone()).at(at("media.address"))
                );
            }
            if tg.media.rtp_port_min > tg.media.rtp_port_max {
                return Err(ConfigProblem::PortRange.at(at("media.rtp_port_min")));
            }
            for c in &tg.media.codecs {
                if crate::sdp::Codec::by_name(c).is_none() {
                    return Err(ConfigProblem::Codec(c.clone()).at(at("media.codecs")));
                }
            }
        }
        for (i, p) in self.peers.iter().enumerate() {
            if !self.trunk_groups.iter().any(|t| t.name == p.trunk_group) {
                return Err(ConfigProblem::UnknownTrunkGroup(p.trunk_group.clone())
                    .at(format!("peers[{i}].trunk_group")));
            }
            // RFC 3398 §7.2.4.1 / Q.1912.5 §6.10: a release maps to a final error status (4xx-6xx)
            // and a SIP failure to a Q.850 cause value (1-127; 0 is not a cause).
            let o = &p.cause_overrides;
            let at = |dir: &str, j: usize, key: &str| {
                format!("peers[{i}].cause_overrides.{dir}[{j}].{key}")
            };
            for (j, r) in o.isup_to_sip.iter().enumerate() {
                check_cause(r.cause).map_err(|e| e.at(at("isup_to_sip", j, "cause")))?;
                check_status(r.status).map_err(|e| e.at(at("isup_to_sip", j, "status")))?;
            }
            for (j, r) in o.sip_to_isup.iter().enumerate() {
                check_status(r.status).map_err(|e| e.at(at("sip_to_isup", j, "status")))?;
                check_cause(r.cause).map_err(|e| e.at(at("sip_to_isup", j, "cause")))?;
            }
        }
        Ok(())
    }
}

fn check_status(status: u16) -> Result<(), ConfigProblem> {
    match status {
        400..=699 => Ok(()),
        _ => Err(ConfigProblem::Status(status)),
    }
}

fn check_cause(cause: u8) -> Result<(), ConfigProblem> {
    match cause {
        1..=127 => Ok(()),
        _ => Err(ConfigProblem::Cause(cause)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
[local]
host = "192.0.2.10"

[timers]
t7 = 25
t9 = 120.5

[[trunk_groups]]
name = "tg1"
dpc = 2
cics = [[1, 31]]
sip_peer = "core"
country_code = "49"
media = { address = "192.0.2.50", rtp_port_min = 40000, rtp_port_max = 40100 }

[[peers]]
name = "core"
host = "core.example"
trunk_group = "tg1"
profile = "sip-t"
trusted = true
uri_form = "tel"
cause_profile = "q1912"
cause_overrides = { isup_to_sip = [{ cause = 17, status = 600 }], sip_to_isup = [{ status = 503, cause = 34 }] }
"#;

    #[test]
    fn toml_with_defaults_and_overrides() {
        let c: IwuConfig = toml::from_str(MIN).unwrap();
        c.validate().unwrap();
        assert_eq!(c.local.port, 5060);
        assert_eq!(c.timers.t7, Duration::from_secs(25));
        assert_eq!(c.timers.t9, Duration::from_millis(120_500));
        assert_eq!(c.timers.t1, Duration::from_secs(15));
        assert_eq!(c.timers.t5, Duration::from_secs(300));
        let p = &c.peers[0];
        assert_eq!(p.profile, Encapsulation::SipT);
        assert_eq!(p.uri_form, UriForm::Tel);
        assert_eq!(p.cause_profile, CauseProfile::Q1912);
        assert_eq!(p.cause_overrides.isup_to_sip[0].status, 600);
        assert_eq!(p.isup_version, "itu-t92+");
        assert_eq!(c.trunk_groups[0].media.codecs, vec!["PCMA", "PCMU"]);
        assert_eq!(c.trunk_groups[0].media.telephone_event, Some(101));
    }

    #[test]
    fn unknown_fields_and_bad_references_are_rejected() {
        let bad = MIN.replace("trusted = true", "trusted = true\ntrustd = false");
        assert!(toml::from_str::<IwuConfig>(&bad).is_err());
        let bad = MIN.replace("t7 = 25", "t7 = -1");
        assert!(toml::from_str::<IwuConfig>(&bad).is_err());
        let bad = MIN.replace("profile = \"sip-t\"", "profile = \"h323\"");
        assert!(toml::from_str::<IwuConfig>(&bad).is_err());
        let c: IwuConfig =
            toml::from_str(&MIN.replace("sip_peer = \"core\"", "sip_peer = \"nope\"")).unwrap();
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "trunk_groups[0].sip_peer: no peer named \"nope\""
        );
        let c: IwuConfig =
            toml::from_str(&MIN.replace("[[1, 31]]", "[[1, 31], [31, 32]]")).unwrap();
        assert_eq!(
            c.validate(),
            Err(ConfigProblem::DuplicateCic { dpc: 2, cic: 31 }.at("trunk_groups[0].cics"))
        );
        let c: IwuConfig =
            toml::from_str(&MIN.replace("\"192.0.2.50\"", "\"mg.example\"")).unwrap();
        assert_eq!(
            c.validate().unwrap_err().path,
            "trunk_groups[0].media.address"
        );
        let c: IwuConfig =
            toml::from_str(&MIN.replace("trunk_group = \"tg1\"", "trunk_group = \"x\"")).unwrap();
        assert_eq!(
            c.validate(),
            Err(ConfigProblem::UnknownTrunkGroup("x".into()).at("peers[0].trunk_group"))
        );
    }

    /// E.164 §6.2.1 country codes; override statuses 400-699 and causes 1-127.
    #[test]
    fn country_code_and_cause_overrides_are_checked() {
        for (cc, ok) in [
            ("1", true),
            ("49", true),
            ("358", true),
            ("", false),
            ("4930", false),
        ]
        .into_iter()
        .chain([("+49", false), ("4a", false)])
        {
            let c: IwuConfig = toml::from_str(
                &MIN.replace("country_code = \"49\"", &format!("country_code = \"{cc}\"")),
            )
            .unwrap();
            let r = c.validate();
            assert_eq!(r.is_ok(), ok, "{cc:?}: {r:?}");
            if !ok {
                assert_eq!(
                    r.unwrap_err(),
                    ConfigProblem::CountryCode(cc.into()).at("trunk_groups[0].country_code")
                );
            }
        }
        let with = |from: &str, to: &str| -> Result<(), ConfigError> {
            toml::from_str::<IwuConfig>(&MIN.replace(from, to))
                .unwrap()
                .validate()
        };
        for status in [399, 700, 200] {
            assert_eq!(
                with("status = 600", &format!("status = {status}")),
                Err(ConfigProblem::Status(status)
                    .at("peers[0].cause_overrides.isup_to_sip[0].status"))
            );
            assert_eq!(
                with("status = 503", &format!("status = {status}")),
                Err(ConfigProblem::Status(status)
                    .at("peers[0].cause_overrides.sip_to_isup[0].status"))
            );
        }
        for cause in [0, 128] {
            assert_eq!(
                with("cause = 17", &format!("cause = {cause}")),
                Err(ConfigProblem::Cause(cause).at("peers[0].cause_overrides.isup_to_sip[0].cause"))
            );
        }
        assert_eq!(with("status = 600", "status = 699"), Ok(()));
        assert_eq!(with("cause = 34", "cause = 127"), Ok(()));
    }

    /// Q.763 §1.2: CICs are unique per signalling relation. A second trunk group toward another
    /// exchange may reuse CICs 1-31; toward the same exchange it must not overlap.
    #[test]
    fn cics_are_unique_per_dpc() {
        let second = |dpc: u32, cics: &str| {
            format!(
                "{MIN}\n[[trunk_groups]]\nname = \"tg2\"\ndpc = {dpc}\ncics = {cics}\n\
                 sip_peer = \"core\"\ncountry_code = \"49\"\n\
                 media = {{ address = \"192.0.2.51\", rtp_port_min = 40000, rtp_port_max = 40100 }}\n"
            )
        };
        let c: IwuConfig = toml::from_str(&second(3, "[[1, 31]]")).unwrap();
        assert_eq!(c.validate(), Ok(()));
        let c: IwuConfig = toml::from_str(&second(2, "[[31, 40]]")).unwrap();
        assert_eq!(
            c.validate(),
            Err(ConfigProblem::DuplicateCic { dpc: 2, cic: 31 }.at("trunk_groups[1].cics"))
        );
        let c: IwuConfig = toml::from_str(&second(2, "[[32, 40]]")).unwrap();
        assert_eq!(c.validate(), Ok(()));
    }
}
