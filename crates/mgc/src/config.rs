//! The gateway's TOML configuration. Every section has defaults, every struct rejects unknown
//! keys, and every error names the file, the line and the field (`mgc check-config FILE`).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The embedded default: `make run` and `mgc run` without `--config` use it.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Why a configuration was refused: where, and what.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The causes are part of the message, not error sources: `mgc: {e:#}` prints each once.
    #[error("{origin}: cannot read: {error}")]
    Read {
        origin: String,
        error: std::io::Error,
    },
    /// Syntax, type, range and unknown-key errors, with line, column and a caret snippet.
    #[error("{origin}: {error}")]
    Toml {
        origin: String,
        error: Box<toml::de::Error>,
    },
    /// A value that parses but does not make sense with the rest.
    #[error("{origin}: line {line}: {field}: {reason}")]
    Invalid {
        origin: String,
        line: usize,
        field: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub sip: SipConfig,
    #[serde(default)]
    pub ss7: Ss7Config,
    #[serde(default)]
    pub m3ua: M3uaConfig,
    #[serde(default)]
    pub simulator: SimulatorConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Overload control: the admission limit.
    #[serde(default)]
    pub overload: OverloadConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub trace: TraceConfig,
    /// ISUP call timers (Q.764 Annex A: T1, T5, T7, T9, T11), seconds.
    #[serde(default)]
    pub call_timers: iwu::IsupTimers,
    /// ISUP circuit maintenance timers (Q.764 Annex A: T12–T23, T28), seconds.
    #[serde(default)]
    pub maintenance_timers: crate::circuits::TimerConfig,
    /// SIP peers (softswitches): address, trust, encapsulation profile, cause mapping.
    #[serde(default)]
    pub peers: Vec<iwu::PeerConfig>,
    /// PSTN trunk groups: circuits toward a point code, and how their calls interwork.
    #[serde(default)]
    pub trunk_groups: Vec<TrunkGroup>,
}

/// `[[trunk_groups]]`: circuits toward one far-end point code, and how their calls interwork.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkGroup {
    /// Unique name (logs, metrics `trunk_group` label, CLI).
    pub name: String,
    /// The far end's signalling point code.
    pub dpc: u32,
    /// CIC ranges, e.g. `"1-15,17-31"`; unique per DPC (Q.763 §1.2): groups toward other
    /// exchanges may reuse them.
    pub cics: crate::circuits::CicRanges,
    #[serde(default)]
    pub direction: crate::circuits::Direction,
    #[serde(default)]
    pub selection: crate::circuits::SelectionPolicy,
    /// The SIP peer calls arriving on this group are sent to.
    pub sip_peer: String,
    /// E.164 country code (no `+`) for national numbers (RFC 3398 §8.2.1.1).
    pub country_code: String,
    /// Area code for NOA "subscriber number"; empty keeps numbers local.
    #[serde(default)]
    pub area_code: String,
    /// FCI national/international call indicator in the IAMs sent.
    #[serde(default)]
    pub international: bool,
    /// NCI echo control device indicator (the media gateway cancels echo).
    #[serde(default)]
    pub echo_control: bool,
    /// End the called number with ST (en bloc, Q.764 §2.1.1.1).
    #[serde(default)]
    pub append_st: bool,
    /// Overlap receiving: collect SAM digits (until ST or T10) before the INVITE (RFC 3578 §2).
    #[serde(default)]
    pub overlap: bool,
    /// Send ACM "no indication" when T11 expires before SIP progress.
    #[serde(default = "yes")]
    pub t11_acm: bool,
    /// The media gateway endpoint serving these circuits (SDP).
    pub media: iwu::MediaConfig,
}

fn yes() -> bool {
    true
}

/// `[sip]`: where the gateway listens (UDP and TCP on the same address).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    pub listen: SocketAddr,
    /// RFC 3261 §17.1.1.1 timer values, in milliseconds.
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    /// Largest SIP message accepted (413 beyond it).
    pub max_message_size: usize,
    /// MIME parts a body may have in all, nested ones included (413 beyond it).
    pub max_body_parts: usize,
    /// Requests one source IP may have unanswered at once (503 + Retry-After beyond it).
    pub max_transactions_per_source: usize,
    /// SO_RCVBUF/SO_SNDBUF of the UDP socket: the burst of datagrams it absorbs while the
    /// gateway is busy (the kernel drops what does not fit).
    pub udp_buffer_bytes: usize,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: "127.0.0.1:5060".parse().expect("literal address"),
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            max_message_size: 65_535,
            max_body_parts: 16,
            max_transactions_per_source: 4096,
            udp_buffer_bytes: 4 << 20,
        }
    }
}

impl SipConfig {
    /// The body limits of the gateway (nesting stays at the `sip` default).
    pub fn body_limits(&self) -> sip::BodyLimits {
        sip::BodyLimits {
            max_parts: self.max_body_parts,
            ..sip::BodyLimits::default()
        }
    }

    pub fn timers(&self) -> sip::transaction::TimerConfig {
        sip::transaction::TimerConfig {
            t1: Duration::from_millis(self.t1_ms),
            t2: Duration::from_millis(self.t2_ms),
            t4: Duration::from_millis(self.t4_ms),
        }
    }
}

/// `[ss7]`: this signalling point.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ss7Config {
    /// Our 14-bit ITU signalling point code (OPC of what we send).
    pub point_code: u32,
    /// Network indicator (Q.704 §14.2: 0 international, 2 national).
    pub network_indicator: u8,
    /// Q.764 §2.12: answer messages for an unequipped CIC with UCIC (else discard silently).
    pub send_ucic: bool,
}

impl Default for Ss7Config {
    fn default() -> Self {
        Ss7Config {
            point_code: 1,
            network_indicator: 2,
            send_ucic: true,
        }
    }
}

/// `[m3ua]`: the ASP association toward the signalling gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct M3uaConfig {
    /// The SGP to connect to (RFC 4666 registered port 2905).
    pub remote: SocketAddr,
    pub routing_context: Option<u32>,
    pub asp_identifier: Option<u32>,
    /// BEAT interval in seconds (0: off).
    pub beat_interval_s: u64,
}

impl Default for M3uaConfig {
    fn default() -> Self {
        M3uaConfig {
            remote: "127.0.0.1:2905".parse().expect("literal address"),
            routing_context: None,
            asp_identifier: None,
            beat_interval_s: 10,
        }
    }
}

/// `[simulator]`: an SS7 far end (`ss7sim`) run inside the gateway, for labs and demos. It plays
/// the exchange at the far end of the trunk groups: their DPC is its point code, their CICs its
/// circuits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    pub enabled: bool,
    /// Where the embedded SGP listens; `[m3ua] remote` should point here.
    pub listen: SocketAddr,
    /// How it answers IAMs, by called-number prefix (longest wins); none: answer every call.
    pub answer: Vec<ss7sim::config::AnswerRule>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            enabled: false,
            listen: "127.0.0.1:2905".parse().expect("literal address"),
            answer: Vec::new(),
        }
    }
}

/// `[overload]`: admission control (issue 7 item 3). Beyond `max_calls` calls in progress a
/// new INVITE gets 503 with Retry-After and a new IAM REL cause 42 with the automatic
/// congestion level; calls in progress are not affected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverloadConfig {
    /// `None`: no limit (the circuits are the only one).
    pub max_calls: Option<usize>,
    /// Messages received and not yet taken by the gateway (SIP and M3UA input queues) beyond
    /// which new calls are refused like at `max_calls` (0: no such bound).
    pub max_backlog: usize,
    /// Seconds in the Retry-After of the 503s (RFC 3261 §20.33): this limit's and
    /// `[sip] max_transactions_per_source`'s.
    pub retry_after_s: u32,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            max_calls: None,
            max_backlog: 512,
            retry_after_s: 5,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `None`: no endpoint.
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: Some("127.0.0.1:9464".parse().expect("literal address")),
        }
    }
}

/// `[log]`: `tracing` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// An `EnvFilter` directive (`RUST_LOG` wins when set).
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

/// `[trace]`: the signalling trace (SIP and M3UA in one pcap file); `mgc run --pcap FILE` sets
/// `pcap`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConfig {
    /// The pcap file; `None`: no trace.
    pub pcap: Option<std::path::PathBuf>,
    /// Rotate when the file reaches this many bytes (0: never).
    pub max_file_bytes: u64,
    /// Rotated files kept (`NAME.1.pcap` newest … `NAME.N.pcap`).
    pub max_files: usize,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            pcap: None,
            max_file_bytes: 100 * 1024 * 1024,
            max_files: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Config {
    /// Parse and check a configuration; `origin` names it in errors (a path or "embedded default").
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        moved_keys(text, origin)?;
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Toml {
            origin: origin.into(),
            error: Box::new(e),
        })?;
        cfg.check(text, origin)?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            origin: origin.clone(),
            error,
        })?;
        Config::parse(&text, &origin)
    }

    pub fn embedded_default() -> Config {
        Config::parse(DEFAULT_TOML, "embedded default").expect("config/default.toml is valid")
    }

    /// Checks across fields, reported at the line of the key concerned.
    fn check(&self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let invalid = |path: &str, reason: String| ConfigError::Invalid {
            origin: origin.into(),
            line: line_of_path(text, path),
            field: path.into(),
            reason,
        };
        // The index of the last trunk group named `name` (a duplicate is the later one).
        let group = |name: &str| {
            self.trunk_groups
                .iter()
                .rposition(|t| t.name == name)
                .unwrap_or(0)
        };
        // Q.704 §2.2.1: an ITU point code has 14 bits.
        if self.ss7.point_code > 0x3FFF {
            return Err(invalid(
                "ss7.point_code",
                format!("{} exceeds 14 bits (max 16383)", self.ss7.point_code),
            ));
        }
        if self.ss7.network_indicator > 3 {
            return Err(invalid(
                "ss7.network_indicator",
                "must be 0..=3 (Q.704 §14.2)".into(),
            ));
        }
        for (i, t) in self.trunk_groups.iter().enumerate() {
            if t.dpc > 0x3FFF || t.dpc == self.ss7.point_code {
                return Err(invalid(
                    &format!("trunk_groups[{i}].dpc"),
                    format!("DPC {} must be a 14-bit point code other than ours", t.dpc),
                ));
            }
        }
        // Q.763 §1.2: a CIC names a circuit only within the signalling relation to one DPC, so
        // groups toward different exchanges may reuse CICs; toward one DPC they must not overlap.
        if let Err(e) = crate::assemble::circuits_config(self).validate() {
            use crate::circuits::ConfigError as E;
            let path = match &e {
                E::OverlappingCic { second: g, .. } | E::NoCircuits(g) => {
                    format!("trunk_groups[{}].cics", group(g))
                }
                E::DuplicateGroup(g) => format!("trunk_groups[{}].name", group(g)),
                E::Timer { timer, .. } => {
                    format!("maintenance_timers.{}", format!("{timer:?}").to_lowercase())
                }
                E::OwnPointCode { group: g, .. } => format!("trunk_groups[{}].dpc", group(g)),
                E::PointCode(_) => "ss7.point_code".into(),
            };
            return Err(invalid(&path, e.to_string()));
        }
        if let Err(e) = iwu::IwuConfig::validate(&crate::assemble::iwu_config(self)) {
            return Err(invalid(&e.path, e.problem.to_string()));
        }
        for (field, v) in [
            ("sip.max_body_parts", self.sip.max_body_parts),
            (
                "sip.max_transactions_per_source",
                self.sip.max_transactions_per_source,
            ),
        ] {
            if v == 0 {
                return Err(invalid(field, "must be at least 1".into()));
            }
        }
        if self.sip.t1_ms == 0 || self.sip.t2_ms < self.sip.t1_ms {
            return Err(invalid(
                "sip.t2_ms",
                "T1 must be > 0 and T2 ≥ T1 (RFC 3261 §17.1.2.2)".into(),
            ));
        }
        Ok(())
    }
}

/// The circuit maintenance timers (Q.764 Annex A) once accepted in `[call_timers]` and now only
/// in `[maintenance_timers]`, where the circuit manager reads them: refused by name rather than
/// as an unknown field, so an old file says where the key went.
const MOVED_TO_MAINTENANCE: [&str; 4] = ["t16", "t17", "t22", "t23"];

fn moved_keys(text: &str, origin: &str) -> Result<(), ConfigError> {
    // A file that does not parse is reported by the typed parse, once.
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(());
    };
    let Some(timers) = table.get("call_timers").and_then(|v| v.as_table()) else {
        return Ok(());
    };
    match MOVED_TO_MAINTENANCE
        .iter()
        .find(|k| timers.contains_key(**k))
    {
        Some(key) => Err(ConfigError::Invalid {
            origin: origin.into(),
            line: line_of_path(text, &format!("call_timers.{key}")),
            field: format!("call_timers.{key}"),
            reason: format!(
                "{} is a circuit maintenance timer: set it in [maintenance_timers]",
                key.to_uppercase()
            ),
        }),
        None => Ok(()),
    }
}

/// The 1-based line of the key at `path` (`ss7.point_code`, `trunk_groups[1].media.rtp_port_min`,
/// `peers[0].cause_overrides.isup_to_sip[0].status`; arrays indexed from 0): the line of the
/// deepest part of the path written in `text` (a table header or array element when the key
/// itself is left at its default), 1 when none is.
pub fn line_of_path(text: &str, path: &str) -> usize {
    use toml::de::DeValue;
    let line = |offset: usize| 1 + text[..offset.min(text.len())].matches('\n').count();
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return 1;
    };
    let mut table = doc.get_ref();
    let mut found = None;
    for segment in path.split('.') {
        let (key, index) = match segment.split_once('[') {
            Some((k, i)) => (k, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((k, mut v)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == key) else {
            break;
        };
        found = Some(k.span().start);
        if let Some(i) = index {
            let Some(e) = (match v.get_ref() {
                DeValue::Array(a) => a.get(i),
                _ => None,
            }) else {
                break;
            };
            found = Some(e.span().start);
            v = e;
        }
        match v.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    found.map_or(1, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::embedded_default();
        assert_eq!(c.sip.listen.to_string(), "127.0.0.1:5060");
        assert_eq!(c.m3ua.remote.to_string(), "127.0.0.1:2905");
        assert!(c.simulator.enabled);
    }

    #[test]
    fn unknown_key_names_line_and_field() {
        let e = Config::parse("[sip]\nlisten = \"127.0.0.1:5060\"\nlistn = 1\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("gw.toml: "), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("unknown field `listn`"), "{e}");
    }

    #[test]
    fn bad_address_is_reported() {
        let e = Config::parse("[m3ua]\nremote = \"localhost\"\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn semantic_error_names_line_and_field() {
        let e = Config::parse("[ss7]\n\npoint_code = 20000\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "gw.toml: line 3: ss7.point_code: 20000 exceeds 14 bits (max 16383)"
        );
    }

    #[test]
    fn sip_limits_default_and_must_be_positive() {
        let c = Config::embedded_default();
        assert_eq!(
            (c.sip.max_body_parts, c.sip.max_transactions_per_source),
            (16, 4096)
        );
        let e = Config::parse("[sip]\nmax_transactions_per_source = 0\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "gw.toml: line 2: sip.max_transactions_per_source: must be at least 1"
        );
    }

    /// T16, T17, T22 and T23 are read only from `[maintenance_timers]`: a file setting them in
    /// `[call_timers]` is refused at that key, naming the section to use.
    #[test]
    fn maintenance_timers_in_call_timers_are_refused() {
        for key in MOVED_TO_MAINTENANCE {
            let e = Config::parse(&format!("[call_timers]\nt7 = 20\n{key} = 30\n"), "gw.toml")
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                format!(
                    "gw.toml: line 3: call_timers.{key}: {} is a circuit maintenance timer: set \
                     it in [maintenance_timers]",
                    key.to_uppercase()
                )
            );
        }
        let c = Config::parse("[maintenance_timers]\nt17 = 600\n", "gw.toml").unwrap();
        let iwu = crate::assemble::iwu_config(&c);
        assert_eq!(
            iwu.timers.t17,
            Duration::from_secs(600),
            "the engine's T17 after T5"
        );
    }

    /// IWU validation errors name the key's path (arrays indexed from 0) and its line.
    #[test]
    fn iwu_errors_name_path_and_line() {
        let line_of = |text: &str, needle: &str| {
            1 + text
                .lines()
                .position(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("{needle:?} in the config"))
        };
        let cases = [
            (
                DEFAULT_TOML.replace("rtp_port_min = 20000", "rtp_port_min = 30000"),
                "rtp_port_min =",
                "trunk_groups[0].media.rtp_port_min: rtp_port_min above rtp_port_max",
            ),
            (
                DEFAULT_TOML.replace("country_code = \"49\"", "country_code = \"+49\""),
                "country_code =",
                "trunk_groups[0].country_code: \"+49\" is not an E.164 country code (1-3 \
                 digits, no `+`)",
            ),
            (
                DEFAULT_TOML.replace("country_code = \"49\"", "country_code = \"4930\""),
                "country_code =",
                "trunk_groups[0].country_code: \"4930\" is not an E.164 country code (1-3 \
                 digits, no `+`)",
            ),
            (
                format!(
                    "{DEFAULT_TOML}\n[[peers]]\nname = \"other\"\nhost = \"127.0.0.9\"\n\
                     trunk_group = \"nope\"\n"
                ),
                "trunk_group = \"nope\"",
                "peers[1].trunk_group: no trunk group named \"nope\"",
            ),
            (
                format!(
                    "{DEFAULT_TOML}\n[[peers]]\nname = \"other\"\nhost = \"127.0.0.9\"\n\
                     trunk_group = \"pstn\"\n[peers.cause_overrides]\n\
                     isup_to_sip = [{{ cause = 17, status = 486 }},\n  {{ cause = 34, status = 302 }}]\n"
                ),
                "  { cause = 34",
                "peers[1].cause_overrides.isup_to_sip[1].status: status 302 is not a SIP final \
                 error status (400-699, RFC 3261 §21)",
            ),
            (
                format!(
                    "{DEFAULT_TOML}\n[[peers]]\nname = \"other\"\nhost = \"127.0.0.9\"\n\
                     trunk_group = \"pstn\"\n\
                     cause_overrides = {{ sip_to_isup = [{{ status = 404, cause = 0 }}] }}\n"
                ),
                "cause_overrides =",
                "peers[1].cause_overrides.sip_to_isup[0].cause: cause 0 is not a Q.850 cause \
                 value (1-127)",
            ),
        ];
        for (text, needle, want) in cases {
            let e = Config::parse(&text, "gw.toml").unwrap_err().to_string();
            assert_eq!(
                e,
                format!("gw.toml: line {}: {want}", line_of(&text, needle))
            );
        }
    }

    /// Two trunk groups toward one exchange: a CIC in both is refused at the line of `cics`;
    /// toward two exchanges the same CICs are two sets of circuits.
    #[test]
    fn cics_are_unique_per_dpc() {
        let with_second = |dpc: u32, cics: &str| {
            DEFAULT_TOML.replace(
                "[call_timers]",
                &format!(
                    "[[trunk_groups]]\nname = \"pstn-b\"\ndpc = {dpc}\ncics = \"{cics}\"\n\
                     sip_peer = \"softswitch\"\ncountry_code = \"49\"\n\
                     [trunk_groups.media]\naddress = \"127.0.0.2\"\nrtp_port_min = 20000\n\
                     rtp_port_max = 20998\n\n[call_timers]"
                ),
            )
        };
        let c = Config::parse(&with_second(3, "1-31"), "gw.toml").expect("same CICs, other DPC");
        assert_eq!(c.trunk_groups[1].cics.cics(), c.trunk_groups[0].cics.cics());
        let e = Config::parse(&with_second(2, "31-40"), "gw.toml")
            .unwrap_err()
            .to_string();
        let line = 1 + with_second(2, "31-40")
            .lines()
            .position(|l| l == "cics = \"31-40\"")
            .expect("the second group's cics");
        assert_eq!(
            e,
            format!(
                "gw.toml: line {line}: trunk_groups[1].cics: CIC 31 toward DPC 2 is in both trunk \
                 groups `pstn` and `pstn-b`"
            )
        );
        Config::parse(&with_second(2, "32-40"), "gw.toml").expect("disjoint CICs, same DPC");
    }
}
