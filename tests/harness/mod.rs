//! The harness of the process tests (calls, faults): per-test mgc configurations with free
//! loopback ports, `mgc`, `ss7sim` and SIPp as bounded child processes, and the /metrics checks
//! (every circuit idle). Each test binary includes it with `mod harness;`.
#![allow(dead_code)] // each test binary uses part of it

pub use e2e::{Proc, free_port, repo_root, scratch, workspace_bin};

pub use serde_json::Value;
pub use std::io::{Read, Write};
pub use std::net::{SocketAddr, TcpStream};
pub use std::path::{Path, PathBuf};
pub use std::process::Command;
pub use std::time::{Duration, Instant};

/// Circuits 1-31 on every trunk group in these tests.
pub const CICS: &str = "1-31";
pub const CIC_COUNT: u64 = 31;
/// Point codes: every gateway is 1, every far-end exchange (ss7sim) is 2.
pub const GW_PC: u32 = 1;
pub const SIM_PC: u32 = 2;

/// A test's scratch directory (configs, logs, traces, captures): removed when the test passes,
/// kept (and named on stderr) when it fails. Declared first in a test, it is dropped last,
/// after every process in it has been killed.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        Scratch(scratch(name))
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// mgc

/// One gateway's configuration: config/default.toml with the test's ports and options.
pub struct GwConfig {
    pub sip: u16,
    pub m3ua: u16,
    pub metrics: u16,
    /// Where the gateway sends SIP requests (SIPp's port, or the other gateway's).
    pub peer_port: u16,
    pub profile: &'static str,
    /// The peer's cause mapping profile (`rfc3398` or `q1912`).
    pub cause_profile: &'static str,
    /// `Some(rules)`: the embedded simulator on `m3ua`, with these `[[simulator.answer]]` bodies.
    pub embedded: Option<Vec<&'static str>>,
    pub t9: u64,
    /// The peer is inside the trust domain (RFC 3325).
    pub trusted: bool,
    /// Extra lines for the `[sip]` table (e.g. `t1_ms = 50`).
    pub sip_extra: String,
    /// Extra lines for the `[[peers]]` table.
    pub peer_extra: String,
    /// Extra tables appended at the end.
    pub extra: String,
}

impl GwConfig {
    pub fn new(peer_port: u16) -> GwConfig {
        GwConfig {
            sip: free_port(),
            m3ua: free_port(),
            metrics: free_port(),
            peer_port,
            profile: "sip-i",
            cause_profile: "rfc3398",
            embedded: None,
            t9: 90,
            trusted: true,
            sip_extra: String::new(),
            peer_extra: String::new(),
            extra: String::new(),
        }
    }

    pub fn toml(&self) -> String {
        let mut t = format!(
            r#"# written by tests/calls.rs
[sip]
listen = "127.0.0.1:{sip}"
{sip_extra}

[ss7]
point_code = {GW_PC}
network_indicator = 2

[m3ua]
remote = "127.0.0.1:{m3ua}"
beat_interval_s = 10

[[peers]]
name = "softswitch"
host = "127.0.0.1"
port = {peer}
trunk_group = "pstn"
profile = "{profile}"
trusted = {trusted}
uri_form = "sip-user-phone"
cause_profile = "{cause_profile}"
{peer_extra}

[[trunk_groups]]
name = "pstn"
dpc = {SIM_PC}
cics = "{CICS}"
direction = "bothway"
sip_peer = "softswitch"
country_code = "49"

[trunk_groups.media]
address = "127.0.0.1"
rtp_port_min = 20000
rtp_port_max = 20998
codecs = ["PCMA", "PCMU"]

[call_timers]
t7 = 20
t9 = {t9}

[metrics]
listen = "127.0.0.1:{metrics}"

[log]
level = "debug"
format = "pretty"

[simulator]
enabled = {enabled}
listen = "127.0.0.1:{m3ua}"
"#,
            sip = self.sip,
            m3ua = self.m3ua,
            peer = self.peer_port,
            profile = self.profile,
            cause_profile = self.cause_profile,
            metrics = self.metrics,
            t9 = self.t9,
            enabled = self.embedded.is_some(),
            trusted = self.trusted,
            sip_extra = self.sip_extra,
            peer_extra = self.peer_extra,
        );
        for rule in self.embedded.iter().flatten() {
            t.push_str("\n[[simulator.answer]]\n");
            t.push_str(rule);
            t.push('\n');
        }
        t.push_str(&self.extra);
        t
    }
}

/// A running `mgc run`.
pub struct Gateway {
    pub proc: Proc,
    pub cfg: GwConfig,
}

impl Gateway {
    /// Start mgc with `cfg` (written to `<dir>/<name>.toml`).
    pub fn start(dir: &Path, name: &str, cfg: GwConfig) -> Gateway {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, cfg.toml()).expect("write mgc config");
        let proc = Proc::spawn(
            name,
            Command::new(workspace_bin("mgc"))
                .arg("run")
                .arg("--config")
                .arg(&file)
                .env("NO_COLOR", "1"),
            dir,
        );
        Gateway { proc, cfg }
    }

    pub fn sip_addr(&self) -> String {
        format!("127.0.0.1:{}", self.cfg.sip)
    }

    /// The /metrics exposition, or `None` while the endpoint is not up.
    pub fn metrics(&self) -> Option<String> {
        http_get(
            SocketAddr::from(([127, 0, 0, 1], self.cfg.metrics)),
            "/metrics",
        )
    }

    /// Wait until the M3UA ASP is active and every circuit is idle (the start-up GRS is done).
    pub fn wait_ready(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < end {
            if let Ok(Some(s)) = self.proc.child.try_wait() {
                panic!("mgc exited early: {s}\n{}", self.proc.dump());
            }
            if let Some(text) = self.metrics() {
                let active = sample(&text, "m3ua_asp_state", &[]) == Some(2.0);
                if active && circuits_settled(&text).is_ok() {
                    return;
                }
                last = text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "mgc not ready (ASP active, circuits idle) within {limit:?}\nlast metrics:\n{}\n{}",
            grep(&last, &["m3ua_asp_state", "circuits{"]),
            self.proc.dump()
        );
    }

    /// Kill mgc (SIGKILL: no orderly shutdown) and start it again with the same configuration.
    pub fn restart(&mut self, dir: &Path, name: &str) {
        let _ = self.proc.child.kill();
        let _ = self.proc.child.wait();
        let file = dir.join(format!("{name}.toml"));
        self.proc = Proc::spawn(
            &format!("{name}-restarted"),
            Command::new(workspace_bin("mgc"))
                .arg("run")
                .arg("--config")
                .arg(&file)
                .env("NO_COLOR", "1"),
            dir,
        );
    }

    /// Poll /metrics until every circuit is idle (at most `limit`); panics with the gauge.
    /// Returns the exposition that showed it.
    pub fn wait_circuits_idle(&self, limit: Duration) -> String {
        let end = Instant::now() + limit;
        let mut why = String::from("metrics endpoint unreachable");
        while Instant::now() < end {
            if let Some(text) = self.metrics() {
                match circuits_settled(&text) {
                    Ok(()) => return text,
                    Err(e) => why = e,
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "circuits not idle after {limit:?}: {why}\n{}",
            self.proc.dump()
        );
    }

    /// Poll /metrics until every circuit is idle (at most `limit`); panics with the gauge.
    /// Also requires that nothing the gateway received was malformed (SIP or ISUP).
    pub fn assert_circuits_idle(&self, limit: Duration) {
        let end = Instant::now() + limit;
        let mut why = String::from("metrics endpoint unreachable");
        while Instant::now() < end {
            if let Some(text) = self.metrics() {
                match circuits_settled(&text) {
                    Ok(()) => {
                        for m in [
                            "sip_malformed_messages_total",
                            "isup_malformed_messages_total",
                        ] {
                            assert_eq!(
                                sample(&text, m, &[]),
                                Some(0.0),
                                "{m}\n{}",
                                self.proc.dump()
                            );
                        }
                        return;
                    }
                    Err(e) => why = e,
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "circuits not idle after {limit:?}: {why}\n{}",
            self.proc.dump()
        );
    }

    /// The value of a counter/gauge sample with these labels (0 when absent).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metrics()
            .and_then(|t| sample(&t, name, labels))
            .unwrap_or(0.0)
    }
}

/// `Ok` when the `circuits` gauge shows every circuit idle: each `circuits{...}` sample is 0,
/// except `state="idle"`, which equals the configured circuit count.
pub fn circuits_settled(text: &str) -> Result<(), String> {
    let mut idle = None;
    for (labels, value) in samples(text, "circuits") {
        let state = labels
            .iter()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if state == "idle" {
            idle = Some(value);
        } else if value != 0.0 {
            return Err(format!("circuits{labels:?} = {value}"));
        }
    }
    match idle {
        Some(n) if n == CIC_COUNT as f64 => Ok(()),
        other => Err(format!("circuits idle = {other:?}, want {CIC_COUNT}")),
    }
}

/// Every sample of metric `name` as (labels, value).
pub fn samples(text: &str, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, value) = if let Some(r) = rest.strip_prefix('{') {
            let Some((l, v)) = r.split_once('}') else {
                continue;
            };
            let labels = l
                .split(',')
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                .collect();
            (labels, v)
        } else if rest.starts_with(' ') {
            (Vec::new(), rest)
        } else {
            continue; // another metric sharing the prefix
        };
        if let Ok(v) = value.trim().parse::<f64>() {
            out.push((labels, v));
        }
    }
    out
}

/// The sample of `name` whose labels include all of `want`.
pub fn sample(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples(text, name)
        .into_iter()
        .find(|(labels, _)| {
            want.iter()
                .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, v)| v)
}

pub fn grep(text: &str, prefixes: &[&str]) -> String {
    text.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A minimal HTTP/1.0 GET on loopback: the body, or `None` on any failure.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8(buf).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.")
        .then_some(())
        .filter(|_| head.contains(" 200 "))?;
    Some(body.to_string())
}

// ---------------------------------------------------------------------------------------------
// ss7sim (external)

/// An external `ss7sim` SGP: the far-end exchange (pc 2) for a gateway (pc 1).
pub struct Sim {
    pub proc: Proc,
    pub log: PathBuf,
}

impl Sim {
    /// `ss7sim --listen 127.0.0.1:<port> ... <mode args>`, logging every ISUP message as JSON.
    pub fn start(dir: &Path, name: &str, port: u16, global: &[&str], mode: &[&str]) -> Sim {
        let log = dir.join(format!("{name}.jsonl"));
        let mut cmd = Command::new(workspace_bin("ss7sim"));
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--local-pc", &SIM_PC.to_string()])
            .args(["--remote-pc", &GW_PC.to_string()])
            .args(["--cics", CICS])
            .args(["--wait", "20s", "--drain", "5s"])
            .arg("--log-json")
            .arg(&log)
            .args(global)
            .args(mode);
        Sim {
            proc: Proc::spawn(name, &mut cmd, dir),
            log,
        }
    }

    /// Wait for exit (at most `limit`) and require exit code 0: with it ss7sim reports that its
    /// calls went as asked and that every one of its circuits is idle.
    pub fn expect_success(&mut self, limit: Duration) {
        match self.proc.wait_timeout(limit) {
            Some(s) if s.success() => {}
            Some(s) => panic!("{} failed ({s})\n{}", self.proc.name, self.proc.dump()),
            None => panic!(
                "{} still running after {limit:?}\n{}",
                self.proc.name,
                self.proc.dump()
            ),
        }
    }

    /// The ISUP messages logged, in order: (dir, message in isup::json form).
    pub fn messages(&self) -> Vec<(String, Value)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| {
                let dir = v["dir"].as_str()?.to_string();
                let m = v.get("message")?.clone();
                Some((dir, m))
            })
            .collect()
    }

    /// The call messages only (maintenance such as GRS/GRA left out), as "dir TYPE" strings.
    pub fn call_ladder(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter(|(_, m)| is_call_message(m))
            .map(|(d, m)| format!("{d} {}", m["message_type"].as_str().unwrap_or("?")))
            .collect()
    }

    /// The first message of `message_type` logged in direction `dir`.
    pub fn first(&self, dir: &str, message_type: &str) -> Value {
        self.messages()
            .into_iter()
            .find(|(d, m)| d == dir && m["message_type"] == message_type)
            .map(|(_, m)| m)
            .unwrap_or_else(|| {
                panic!(
                    "{}: no {dir} {message_type}; ladder {:?}",
                    self.proc.name,
                    self.call_ladder()
                )
            })
    }
}

pub fn is_call_message(m: &Value) -> bool {
    matches!(
        m["message_type"].as_str(),
        Some("IAM" | "SAM" | "ACM" | "CPG" | "ANM" | "CON" | "REL" | "RLC" | "SUS" | "RES")
    )
}

/// A parameter of a message in isup::json form, by name.
pub fn param<'a>(m: &'a Value, name: &str) -> Option<&'a Value> {
    m["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

pub fn cause_of(m: &Value) -> u64 {
    param(m, "cause_indicators")
        .and_then(|p| p["cause_value"].as_u64())
        .unwrap_or_else(|| panic!("no cause_indicators in {m}"))
}

// ---------------------------------------------------------------------------------------------
// SIPp

/// A SIPp run bounded by `-timeout`, with error and message traces in the scratch dir.
pub struct Sipp {
    pub proc: Proc,
    pub dir: PathBuf,
    pub name: String,
}

impl Sipp {
    /// `sipp <scenario args> -i 127.0.0.1 -p <port> -m <calls> ...`; `target` for a UAC.
    pub fn start(
        dir: &Path,
        name: &str,
        scenario: &[&str],
        port: u16,
        target: Option<&str>,
        calls: u32,
        extra: &[&str],
    ) -> Sipp {
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir)
            .args(scenario)
            .args(target)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &calls.to_string()])
            .args(["-nostdin", "-timeout", "30s", "-timeout_error"])
            .args(["-trace_err", "-error_file"])
            .arg(dir.join(format!("{name}_errors.log")))
            .args(["-trace_msg", "-message_file"])
            .arg(dir.join(format!("{name}_messages.log")))
            .args(["-trace_stat", "-stf"])
            .arg(dir.join(format!("{name}_stat.csv")))
            .args(extra);
        Sipp {
            proc: Proc::spawn(name, &mut cmd, dir),
            dir: dir.to_path_buf(),
            name: name.into(),
        }
    }

    /// Wait for SIPp to end; exit code 0 means every call followed the scenario.
    pub fn expect_success(&mut self, limit: Duration) {
        let status = self.proc.wait_timeout(limit);
        if status.is_some_and(|s| s.success()) {
            return;
        }
        panic!(
            "{} ended with {status:?} (0 = all calls successful)\n{}\n--- errors ---\n{}\n--- messages ---\n{}",
            self.name,
            self.proc.dump(),
            self.file("errors.log"),
            self.file("messages.log"),
        );
    }

    pub fn file(&self, suffix: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}_{suffix}", self.name)))
            .unwrap_or_default()
    }
}

/// A scenario from tests/sipp/, with `@KEY@` placeholders replaced, written to the scratch dir.
pub fn scenario(dir: &Path, file: &str, subst: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(repo_root().join("tests/sipp").join(file))
        .unwrap_or_else(|e| panic!("tests/sipp/{file}: {e}"));
    for (k, v) in subst {
        text = text.replace(&format!("@{k}@"), v);
    }
    let out = dir.join(file);
    std::fs::write(&out, text).expect("write scenario");
    out.display().to_string()
}

pub fn sipp_available() -> bool {
    // sipp has no --version; -v prints the version.
    Command::new("sipp")
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("SIPp"))
        .unwrap_or(false)
}

/// Skip (return early) unless SIPp is installed.
macro_rules! require_sipp {
    () => {
        if !sipp_available() {
            e2e::skip("sipp (sip-tester) is not installed");
            return;
        }
    };
}

/// Send `req` from `sock` to `to` and return the first final response (1xx skipped).
pub fn final_response(sock: &std::net::UdpSocket, to: &str, req: &str) -> String {
    sock.send_to(req.as_bytes(), to).unwrap();
    let mut buf = [0u8; 65536];
    loop {
        let n = sock.recv(&mut buf).expect("a response");
        let r = String::from_utf8_lossy(&buf[..n]).to_string();
        if !r.starts_with("SIP/2.0 1") {
            return r;
        }
    }
}

/// A header's value in a message's text (first occurrence, name case-insensitive).
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub const START: Duration = Duration::from_secs(20);
/// For an ss7sim that originates: the gateway resets every circuit (GRS) when its ASP becomes
/// active, and ss7sim waits for that before its first IAM, which would otherwise race the reset
/// (the gateway discards an IAM on a circuit it is resetting, and the GRS then clears the
/// call on ss7sim's side with cause 41).
pub const AWAIT_RESET: &[&str] = &["--await-reset", "10s"];
pub const SETTLE: Duration = Duration::from_secs(5);
