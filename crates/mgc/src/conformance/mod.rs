//! The conformance runner: ISUP/SIP scenario fixtures (`isup-fixtures/*.toml`, format in
//! docs/conformance.md) replayed through the sans-IO [`Gateway`] on a virtual clock. The
//! gateway is the one `mgc run` drives; only the wire and the clock are simulated.
//!
//! ```no_run
//! let results = mgc::conformance::run_dir(std::path::Path::new("isup-fixtures"), None).unwrap();
//! assert!(results.iter().all(|r| r.verdict.ok()));
//! ```

pub mod cli;
pub mod fixture;
pub mod live;
pub mod pcap;

pub use fixture::{BodyExpect, EndState, Fixture, IsupBody, SipWhat, Startup, Step};

use crate::circuits::CircuitId;
use crate::config::{Config, DEFAULT_TOML};
use crate::gateway::{Gateway, Input, Output};
use isup::{Message, MessageType, Variant};
use sip::header::{Handling, Hdr};
use sip::{Request, Response, SipBody};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The SDP the simulated SIP peer offers and answers with (G.711 A-law, µ-law, RFC 4733).
pub const PEER_SDP: &str = "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// The To tag the simulated SIP peer puts in its responses (`{peer_tag}`).
pub const PEER_TAG: &str = "peer-tag-1";

/// Seed of the gateway's identifiers: runs are reproducible.
const SEED: u64 = 0x5EED_C0DE;

/// How one case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Failed, and listed as a known failure (with its reason).
    KnownFailure,
    /// Listed as a known failure but passed: the list must be updated.
    UnexpectedPass,
    /// Could not run (e.g. a corpus file is absent).
    Skipped,
}

impl Verdict {
    /// Whether the case lets the run succeed.
    pub fn ok(self) -> bool {
        !matches!(self, Verdict::Fail | Verdict::UnexpectedPass)
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::KnownFailure => "XFAIL",
            Verdict::UnexpectedPass => "XPASS",
            Verdict::Skipped => "SKIP",
        }
    }
}

/// The result of one fixture.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    pub verdict: Verdict,
    /// Why it failed (or the known-failure reason, or why it was skipped).
    pub detail: String,
    /// Steps run and expectations checked.
    pub steps: usize,
    pub checks: usize,
}

/// Every `*.toml` in `dir` (files starting with `_` excluded), sorted by name, then the
/// kancom trace when `shared` (the `../shared` directory) holds it.
pub fn run_dir(dir: &Path, shared: Option<&Path>) -> std::io::Result<Vec<CaseResult>> {
    run_dir_with(dir, shared, None, None)
}

/// [`run_dir`], in process or (`live`) against a running `mgc` (the kancom trace runs in
/// process only); `only`: fixtures whose file name contains it.
pub fn run_dir_with(
    dir: &Path,
    shared: Option<&Path>,
    live: Option<&live::LiveOptions>,
    only: Option<&str>,
) -> std::io::Result<Vec<CaseResult>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            only.is_none_or(|o| name.contains(o))
        })
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('_'))
        })
        .collect();
    files.sort();
    let mut out = Vec::with_capacity(files.len() + 1);
    for f in files {
        let file = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&f)?;
        out.push(match Fixture::from_toml(&text) {
            Ok(fx) => evaluate_with(&file, &fx, live),
            Err(e) => CaseResult {
                file,
                name: String::new(),
                verdict: Verdict::Fail,
                detail: format!("invalid fixture: {e}"),
                steps: 0,
                checks: 0,
            },
        });
    }
    if let Some(shared) = shared.filter(|_| live.is_none())
        && only.is_none_or(|o| "kancom-xdr_tester/isup.pcap".contains(o))
    {
        out.push(pcap::kancom_case(shared));
    }
    Ok(out)
}

/// Run one fixture and judge it against its `known_failure` entry.
pub fn evaluate(file: &str, fx: &Fixture) -> CaseResult {
    evaluate_with(file, fx, None)
}

/// [`evaluate`], in process or live.
pub fn evaluate_with(file: &str, fx: &Fixture, live: Option<&live::LiveOptions>) -> CaseResult {
    if let Some(why) = live.and_then(|o| live::unsupported(fx, o)) {
        return CaseResult {
            file: file.to_string(),
            name: fx.name.clone(),
            verdict: Verdict::Skipped,
            detail: format!("live: {why}"),
            steps: 0,
            checks: 0,
        };
    }
    let outcome = run_with(fx, live);
    let (steps, checks) = (outcome.steps, outcome.checks);
    let (verdict, detail) = match (outcome.error, &fx.known_failure) {
        (None, None) => (Verdict::Pass, String::new()),
        (Some(e), None) => (Verdict::Fail, e),
        (Some(e), Some(why)) => (Verdict::KnownFailure, format!("{why} [{e}]")),
        (None, Some(why)) => (
            Verdict::UnexpectedPass,
            format!("listed as known failure ({why}) but passes: remove known_failure"),
        ),
    };
    CaseResult {
        file: file.to_string(),
        name: fx.name.clone(),
        verdict,
        detail,
        steps,
        checks,
    }
}

/// The outcome of running a fixture.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub steps: usize,
    pub checks: usize,
    /// `step N (kind): reason`, or the end-state failure.
    pub error: Option<String>,
    /// One line per input and output, for `--verbose`.
    pub trace: Vec<String>,
}

/// Run a fixture to its end or its first failed step.
pub fn run(fx: &Fixture) -> Outcome {
    run_with(fx, None)
}

/// [`run`], in process or live.
pub fn run_with(fx: &Fixture, live: Option<&live::LiveOptions>) -> Outcome {
    let mut h = match Harness::new(fx, live) {
        Ok(h) => h,
        Err(e) => {
            return Outcome {
                error: Some(format!("setup: {e}")),
                ..Default::default()
            };
        }
    };
    let mut out = Outcome::default();
    for (i, step) in fx.steps.iter().enumerate() {
        let kind = step.kind().unwrap_or("?");
        out.steps += 1;
        if kind.starts_with("expect_") && (live.is_none() || live::observable(kind)) {
            out.checks += 1;
        }
        if let Err(e) = h.step(step).and_then(|_| h.live_error()) {
            out.error = Some(format!("step {} ({kind}): {e}", i + 1));
            out.trace = h.trace;
            return out;
        }
    }
    if let Err(e) = h.finish(fx.end_state) {
        out.error = Some(format!("end: {e}"));
    }
    out.trace = h.trace;
    out
}

/// Print the results as a table and a summary line; true if the run passed.
pub fn print_table(results: &[CaseResult], w: &mut impl std::io::Write) -> std::io::Result<bool> {
    let fw = results
        .iter()
        .map(|r| r.file.len())
        .max()
        .unwrap_or(8)
        .max(7);
    writeln!(w, "{:<6} {:<fw$} {:>5}  NAME", "RESULT", "FIXTURE", "CHECK")?;
    for r in results {
        writeln!(
            w,
            "{:<6} {:<fw$} {:>5}  {}",
            r.verdict.label(),
            r.file,
            r.checks,
            r.name
        )?;
        if !r.detail.is_empty() && r.verdict != Verdict::Pass {
            writeln!(w, "{:<6} {:<fw$}        └ {}", "", "", r.detail)?;
        }
    }
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    let ok = results.iter().all(|r| r.verdict.ok());
    writeln!(
        w,
        "\n{} fixtures: {} passed, {} failed, {} known failures, {} unexpectedly passed, {} skipped; {} checks",
        results.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::KnownFailure),
        count(Verdict::UnexpectedPass),
        count(Verdict::Skipped),
        results.iter().map(|r| r.checks).sum::<usize>()
    )?;
    Ok(ok)
}

/// The gateway configuration of a fixture: config/default.toml with the overlay merged in.
pub fn fixture_config(fx: &Fixture) -> Result<Config, String> {
    let text = toml::to_string(&fixture_table(fx)?).map_err(|e| e.to_string())?;
    Config::parse(&text, &format!("fixture {:?} config", fx.name)).map_err(|e| e.to_string())
}

/// config/default.toml with the fixture's overlay, as TOML.
fn fixture_table(fx: &Fixture) -> Result<toml::Table, String> {
    let mut base: toml::Table = toml::from_str(DEFAULT_TOML).map_err(|e| e.to_string())?;
    merge(&mut base, &fx.config);
    Ok(base)
}

/// Tables merge by key; arrays of tables merge element by element; anything else is replaced.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (Some(toml::Value::Array(b)), toml::Value::Array(o))
                if o.iter().all(toml::Value::is_table) && b.iter().all(toml::Value::is_table) =>
            {
                for (i, item) in o.iter().enumerate() {
                    match (b.get_mut(i), item) {
                        (Some(toml::Value::Table(bt)), toml::Value::Table(ot)) => merge(bt, ot),
                        _ => b.push(item.clone()),
                    }
                }
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A gateway output waiting for an expectation.
#[derive(Debug, Clone)]
enum SipOut {
    Request(Request),
    Response(Response),
}

#[derive(Debug, Clone)]
enum Event {
    Glare,
    Alert(String),
    Discarded(String),
    Record(iwu::CallRecord),
}

struct Harness {
    gw: Gateway,
    cfg: Config,
    now: Duration,
    /// Virtual timer wheel: (due, id).
    timers: BTreeMap<(Duration, u64), ()>,
    due: HashMap<u64, Duration>,
    isup_out: VecDeque<(CircuitId, Message)>,
    sip_out: VecDeque<SipOut>,
    events: VecDeque<Event>,
    /// Responses already sent: a repeat is a retransmission (RFC 3261 §13.3.1.4), not queued.
    sent_responses: HashSet<Vec<u8>>,
    last_request: Option<Request>,
    last_by_method: HashMap<String, Request>,
    last_response: Option<Response>,
    /// The last response to each method (by CSeq).
    last_response_by_method: HashMap<String, Response>,
    /// The circuit of steps that give no `cic` (or no `dpc`): the last one sent or expected.
    circuit: CircuitId,
    /// The fixture's exchange (`opc`): traces name the DPC of circuits toward other exchanges.
    exchange: u32,
    peer: String,
    trace: Vec<String>,
    /// `--live`: the running gateway and far ends (else the in-process gateway above).
    live: Option<live::LiveIo>,
    live_error: Option<String>,
}

impl Harness {
    fn new(fx: &Fixture, live_opts: Option<&live::LiveOptions>) -> Result<Harness, String> {
        let (cfg, live) = match live_opts {
            Some(o) => {
                let (io, cfg) = live::LiveIo::start(fixture_table(fx)?, o)?;
                (cfg, Some(io))
            }
            None => (fixture_config(fx)?, None),
        };
        let gw = crate::assemble::gateway_seeded(&cfg, SEED).map_err(|e| e.to_string())?;
        let opc = fx
            .opc
            .or_else(|| cfg.trunk_groups.first().map(|t| t.dpc))
            .ok_or("no trunk group")?;
        let peer = fx
            .peer
            .clone()
            .or_else(|| cfg.peers.first().map(|p| p.name.clone()))
            .ok_or("no SIP peer")?;
        let mut h = Harness {
            gw,
            cfg,
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            due: HashMap::new(),
            isup_out: VecDeque::new(),
            sip_out: VecDeque::new(),
            events: VecDeque::new(),
            sent_responses: HashSet::new(),
            last_request: None,
            last_by_method: HashMap::new(),
            last_response: None,
            last_response_by_method: HashMap::new(),
            circuit: CircuitId { dpc: opc, cic: 1 },
            exchange: opc,
            peer,
            trace: Vec::new(),
            live,
            live_error: None,
        };
        if fx.startup == Startup::Reset {
            if h.live.is_some() {
                // The running gateway resets its circuits once its ASP is active.
                h.await_output(Duration::from_secs(10), |h| !h.isup_out.is_empty());
                h.advance(Duration::from_millis(300));
            } else {
                h.input(Input::TransportUp);
            }
            // Q.764 §2.9.3.2: the far end answers each start-up GRS with GRA (nothing blocked).
            let grs: Vec<_> = std::mem::take(&mut h.isup_out).into_iter().collect();
            for (circuit, m) in grs {
                let answer = match m.message_type {
                    MessageType::GRS => {
                        let range = m.get::<isup::RangeAndStatus>().map_or(0, |r| r.range);
                        ss7sim::msg::gra(&vec![false; usize::from(range) + 1])
                    }
                    // A group of one circuit is reset with RSC (Q.764 §2.9.3.1).
                    MessageType::RSC => Message::new(MessageType::RLC),
                    t => return Err(format!("start-up sent {t} (not GRS or RSC)")),
                };
                h.isup_from(circuit, &answer)?;
            }
            if h.live.is_some() {
                // GRA travels over M3UA, the next step may be a SIP datagram: let it land
                // (nothing acknowledges a GRA).
                h.advance(Duration::from_millis(300));
            }
            if let Some((_, m)) = h.isup_out.front() {
                return Err(format!("start-up: unexpected {}", m.message_type));
            }
            h.trace.push("-- start-up reset done --".into());
        }
        Ok(h)
    }

    /// Feed one input; queue its outputs.
    fn input(&mut self, input: Input) {
        if let Some(l) = self.live.as_mut() {
            if let Err(e) = l.send(input) {
                self.live_error.get_or_insert(e);
            }
            return;
        }
        let outputs = self.gw.handle(self.now, input);
        self.absorb(outputs);
    }

    fn live_error(&mut self) -> Result<(), String> {
        match self.live_error.take() {
            Some(e) => Err(format!("live: {e}")),
            None => Ok(()),
        }
    }

    /// Live: collect outputs until `ready` holds or `limit` passes.
    fn await_output(&mut self, limit: Duration, ready: impl Fn(&Harness) -> bool) {
        let until = std::time::Instant::now() + limit;
        while !ready(self) && std::time::Instant::now() < until {
            let outputs = match self.live.as_mut() {
                Some(l) => l.poll(Duration::from_millis(20)),
                None => return,
            };
            self.absorb(outputs);
        }
    }

    fn absorb(&mut self, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Isup { dpc, user_data, .. } => {
                    match Variant::ITU.parse_with_cic(&user_data) {
                        Ok((cic, m)) => {
                            let circuit = CircuitId { dpc, cic };
                            self.trace.push(format!(
                                "{:>8.3} ISUP out  {} {}",
                                self.secs(),
                                m.message_type,
                                self.on(circuit)
                            ));
                            self.isup_out.push_back((circuit, m));
                        }
                        Err(e) => self
                            .events
                            .push_back(Event::Alert(format!("gateway sent undecodable ISUP: {e}"))),
                    }
                }
                Output::SipRequest { request, .. } => {
                    self.trace.push(format!(
                        "{:>8.3} SIP out  {} {}",
                        self.secs(),
                        request.method,
                        request.uri
                    ));
                    self.last_by_method
                        .insert(request.method.to_string(), request.clone());
                    self.last_request = Some(request.clone());
                    self.sip_out.push_back(SipOut::Request(request));
                }
                Output::SipResponse(r) => {
                    if !self.sent_responses.insert(r.to_bytes()) {
                        self.trace.push(format!(
                            "{:>8.3} SIP out  {} (retransmission)",
                            self.secs(),
                            r.status
                        ));
                        continue;
                    }
                    self.trace.push(format!(
                        "{:>8.3} SIP out  {} {}",
                        self.secs(),
                        r.status,
                        cseq_of(&r)
                    ));
                    self.last_response_by_method.insert(cseq_of(&r), r.clone());
                    self.last_response = Some(r.clone());
                    self.sip_out.push_back(SipOut::Response(r));
                }
                Output::StartTimer { id, after } => {
                    let due = self.now + after;
                    self.timers.insert((due, id), ());
                    self.due.insert(id, due);
                }
                Output::StopTimer { id } => {
                    if let Some(due) = self.due.remove(&id) {
                        self.timers.remove(&(due, id));
                    }
                }
                Output::CallRecord(r) => self.events.push_back(Event::Record(r)),
                Output::CircuitState { .. } => {}
                Output::IsupDiscarded { reason, .. } => {
                    self.events.push_back(Event::Discarded(reason))
                }
                Output::Alert(a) => self.events.push_back(Event::Alert(a)),
                Output::Glare => self.events.push_back(Event::Glare),
            }
        }
    }

    fn secs(&self) -> f64 {
        self.now.as_secs_f64()
    }

    /// `cic N` for a circuit toward the fixture's exchange, `cic N dpc D` toward another.
    fn on(&self, c: CircuitId) -> String {
        if c.dpc == self.exchange {
            format!("cic {}", c.cic)
        } else {
            format!("cic {} dpc {}", c.cic, c.dpc)
        }
    }

    /// ISUP from the exchange at the far end of `circuit` (its OPC is the circuit's DPC).
    fn isup_from(&mut self, circuit: CircuitId, m: &Message) -> Result<(), String> {
        let mut user_data = Vec::with_capacity(64);
        Variant::ITU
            .emit_with_cic(circuit.cic, m, &mut user_data)
            .map_err(|e| format!("cannot encode {}: {e}", m.message_type))?;
        self.trace.push(format!(
            "{:>8.3} ISUP in   {} {}",
            self.secs(),
            m.message_type,
            self.on(circuit)
        ));
        self.input(Input::Isup {
            opc: circuit.dpc,
            user_data,
        });
        Ok(())
    }

    /// The circuit a step names: its `dpc` and `cic`, each defaulting to the current circuit's.
    fn step_circuit(&self, s: &Step) -> CircuitId {
        CircuitId {
            dpc: s.dpc.unwrap_or(self.circuit.dpc),
            cic: s.cic.unwrap_or(self.circuit.cic),
        }
    }

    fn step(&mut self, s: &Step) -> Result<(), String> {
        let kind = s.kind()?;
        if self.live.is_some() {
            if !live::observable(kind) {
                return Ok(());
            }
            // Give the wire time: what is expected may still be on its way.
            const ARRIVAL: Duration = Duration::from_secs(3);
            match kind {
                "expect_isup" => self.await_output(ARRIVAL, |h| !h.isup_out.is_empty()),
                "expect_sip" => self.await_output(ARRIVAL, |h| !h.sip_out.is_empty()),
                // Only what is in flight: a longer grace would cross timer boundaries.
                "expect_nothing" => self.advance(Duration::from_millis(30)),
                _ => {}
            }
        }
        match kind {
            "isup_in" => self.isup_in(s),
            "sip_in" => self.sip_in(s),
            "sip_reply" => self.sip_reply(s),
            "wait" => {
                let secs = s.wait.unwrap_or(0.0);
                if !(0.0..=86_400.0).contains(&secs) {
                    return Err(format!("wait {secs}: 0 to 86400 seconds"));
                }
                self.advance(Duration::from_secs_f64(secs));
                Ok(())
            }
            "expect_isup" => self.expect_isup(s),
            "expect_sip" => self.expect_sip(s),
            "expect_nothing" => self.expect_nothing(),
            "expect_circuit" => self.expect_circuit(s),
            "expect_event" => self.expect_event(s),
            "expect_record" => self.expect_record(s),
            "operator" => self.operator(s),
            k => Err(format!("unknown step {k}")),
        }
    }

    /// Fire every timer due within `d`, in order, each at its own time.
    fn advance(&mut self, d: Duration) {
        if let Some(l) = self.live.as_mut() {
            let outputs = l.poll(d);
            self.now += d;
            self.absorb(outputs);
            return;
        }
        let until = self.now + d;
        while let Some((&(due, id), _)) = self.timers.iter().next() {
            if due > until {
                break;
            }
            self.timers.remove(&(due, id));
            self.due.remove(&id);
            self.now = due;
            self.input(Input::Timer(id));
        }
        self.now = until;
    }

    fn build_isup(
        &self,
        label: Option<&str>,
        parameters: &[serde_json::Value],
        remove: &[String],
        message: Option<&serde_json::Value>,
        hex: Option<&str>,
    ) -> Result<Built, String> {
        if let Some(h) = hex {
            let clean: String = h.chars().filter(|c| c.is_ascii_hexdigit()).collect();
            return hex::decode(clean)
                .map(Built::Raw)
                .map_err(|e| format!("hex: {e}"));
        }
        if let Some(j) = message {
            let (_, m) = isup::json::from_json(j, &Variant::ITU).map_err(|e| e.to_string())?;
            return Ok(Built::Msg(m));
        }
        let t = label.ok_or("give a message type, message or hex")?;
        let mt = Variant::ITU
            .message_type_by_abbreviation(t)
            .ok_or_else(|| format!("unknown message type {t:?}"))?;
        let mut m = ss7sim::msg::default_for(mt, &ss7sim::config::Originate::default(), 2)
            .unwrap_or_else(|| Message::new(mt));
        ss7sim::msg::apply_overrides(&mut m, parameters, remove)?;
        Ok(Built::Msg(m))
    }

    fn isup_in(&mut self, s: &Step) -> Result<(), String> {
        let circuit = self.step_circuit(s);
        self.circuit = circuit;
        let built = self.build_isup(
            s.isup_in.as_deref(),
            &s.parameters,
            &s.remove,
            s.message.as_ref(),
            s.hex.as_deref(),
        )?;
        match built {
            Built::Msg(m) => self.isup_from(circuit, &m),
            Built::Raw(bytes) => {
                // CIC first (Q.763 §1.2: 12 bits, least significant octet first), then the octets.
                let cic = circuit.cic;
                let mut user_data = vec![(cic & 0xFF) as u8, ((cic >> 8) & 0x0F) as u8];
                user_data.extend_from_slice(&bytes);
                self.trace.push(format!(
                    "{:>8.3} ISUP in   raw {} {}",
                    self.secs(),
                    hex::encode(&bytes),
                    self.on(circuit)
                ));
                self.input(Input::Isup {
                    opc: circuit.dpc,
                    user_data,
                });
                Ok(())
            }
        }
    }

    /// SDP and/or ISUP body of a SIP step.
    fn body(&self, s: &Step) -> Result<Option<Body>, String> {
        let sdp = s.sdp.unwrap_or(false).then_some(PEER_SDP.as_bytes());
        let Some(b) = &s.isup else {
            return Ok(sdp.map(|b| ("application/sdp".to_string(), b.to_vec(), None)));
        };
        let bytes = match self.build_isup(
            b.send.as_deref(),
            &b.parameters,
            &b.remove,
            b.message.as_ref(),
            b.hex.as_deref(),
        )? {
            Built::Msg(m) => m.to_bytes().map_err(|e| e.to_string())?,
            Built::Raw(r) => r,
        };
        let handling = match b.handling.as_deref() {
            None | Some("required") => Handling::Required,
            Some("optional") => Handling::Optional,
            Some(h) => return Err(format!("handling {h:?}: required or optional")),
        };
        Ok(Some(sip::body::build_sip_i(
            sdp,
            &bytes,
            b.version.as_deref().unwrap_or("itu-t92+"),
            match b.base.as_deref() {
                None => Some("itu-t92+"),
                Some("") => None,
                Some(x) => Some(x),
            },
            handling,
        )))
    }

    fn sip_in(&mut self, s: &Step) -> Result<(), String> {
        let text = self.fill(s.sip_in.as_deref().unwrap_or_default())?;
        let text = text.trim_start().replace("\r\n", "\n");
        // Head and an optional literal body after the first empty line (Content-Length is
        // computed here).
        let (head, literal) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
        let mut wire: String = head
            .lines()
            .filter(|l| {
                !l.to_ascii_lowercase().starts_with("content-length:")
                    && !l.to_ascii_lowercase().starts_with("l:")
            })
            .map(|l| format!("{l}\r\n"))
            .collect();
        wire.push_str("Content-Length: 0\r\n\r\n");
        let msg = sip::Message::parse(wire.as_bytes()).map_err(|e| format!("sip_in: {e}"))?;
        let literal = literal.trim_end();
        let body = match self.body(s)? {
            None if !literal.is_empty() => {
                let ct = msg
                    .headers()
                    .get(Hdr::ContentType)
                    .ok_or("sip_in: a literal body needs Content-Type")?
                    .to_string();
                let text: String = literal.lines().map(|l| format!("{l}\r\n")).collect();
                Some((ct, text.into_bytes(), None))
            }
            b => b,
        };
        match msg {
            sip::Message::Request(mut r) => {
                set_body(&mut r.headers, &mut r.body, body);
                self.trace.push(format!(
                    "{:>8.3} SIP in   {} {}",
                    self.secs(),
                    r.method,
                    r.uri
                ));
                self.input(Input::SipRequest {
                    peer: self.peer.clone(),
                    request: r,
                });
            }
            sip::Message::Response(mut r) => {
                set_body(&mut r.headers, &mut r.body, body);
                self.trace
                    .push(format!("{:>8.3} SIP in   {}", self.secs(), r.status));
                self.input(Input::SipResponse(r));
            }
        }
        Ok(())
    }

    fn sip_reply(&mut self, s: &Step) -> Result<(), String> {
        let method = s.to.as_deref().unwrap_or("INVITE").to_ascii_uppercase();
        let req = self
            .last_by_method
            .get(&method)
            .ok_or_else(|| format!("the gateway sent no {method} to reply to"))?
            .clone();
        let status = s.sip_reply.unwrap_or(200);
        let mut r = Response::for_request(&req, status, Some(PEER_TAG));
        if method == "INVITE" && (101..300).contains(&status) {
            let peer = self.peer_addr();
            r.headers.push(Hdr::Contact, &format!("<sip:peer@{peer}>"));
        }
        for h in &s.add_headers {
            let (n, v) = h
                .split_once(':')
                .ok_or_else(|| format!("add_headers {h:?}: Name: value"))?;
            r.headers
                .push(sip::HeaderName::from_name(n.trim()), v.trim());
        }
        let body = self.body(s)?;
        set_body(&mut r.headers, &mut r.body, body);
        self.trace
            .push(format!("{:>8.3} SIP in   {status} ({method})", self.secs()));
        self.input(Input::SipResponse(r));
        Ok(())
    }

    fn peer_addr(&self) -> String {
        self.cfg
            .peers
            .iter()
            .find(|p| p.name == self.peer)
            .map(|p| format!("{}:{}", p.host, p.port))
            .unwrap_or_default()
    }

    /// Replace `{variables}` (docs/conformance.md § Variables).
    fn fill(&self, t: &str) -> Result<String, String> {
        let mut out = String::with_capacity(t.len() + 128);
        let mut rest = t;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let j = rest[i..].find('}').ok_or("unclosed { in sip_in")?;
            let name = &rest[i + 1..i + j];
            out.push_str(&self.var(name)?);
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn var(&self, name: &str) -> Result<String, String> {
        match name {
            "gw" => return Ok(self.cfg.sip.listen.to_string()),
            "peer" => return Ok(self.peer_addr()),
            "peer_tag" => return Ok(PEER_TAG.into()),
            "cic" => return Ok(self.circuit.cic.to_string()),
            _ => {}
        }
        let (scope, field) = name
            .split_once('.')
            .ok_or_else(|| format!("unknown variable {{{name}}}"))?;
        let headers = match scope {
            "req" => self.last_request.as_ref().map(|r| (&r.headers, Some(r))),
            "resp" => self.last_response.as_ref().map(|r| (&r.headers, None)),
            s if s.starts_with("resp_") => self
                .last_response_by_method
                .get(&s[5..].to_ascii_uppercase())
                .map(|r| (&r.headers, None)),
            m => self
                .last_by_method
                .get(&m.to_ascii_uppercase())
                .map(|r| (&r.headers, Some(r))),
        };
        let (h, req) =
            headers.ok_or_else(|| format!("{{{name}}}: the gateway sent no such message yet"))?;
        let v = match field {
            "call_id" => h.get(Hdr::CallId).map(str::to_string),
            "from" => h.get(Hdr::From).map(str::to_string),
            "to" => h.get(Hdr::To).map(str::to_string),
            "via" => h.get(Hdr::Via).map(str::to_string),
            "cseq" => h.get(Hdr::CSeq).map(str::to_string),
            "cseq_num" => h.cseq().ok().map(|c| c.seq.to_string()),
            "contact" => h.get(Hdr::Contact).map(str::to_string),
            "contact_uri" => h.get(Hdr::Contact).map(|c| {
                let c = c.split_once('<').map_or(c, |(_, r)| r);
                c.split_once('>').map_or(c, |(l, _)| l).trim().to_string()
            }),
            "branch" => h
                .top_via()
                .ok()
                .and_then(|v| v.branch().map(str::to_string)),
            "from_tag" => h.from().ok().and_then(|a| a.tag().map(str::to_string)),
            "to_tag" => h.to().ok().and_then(|a| a.tag().map(str::to_string)),
            "uri" => req.map(|r| r.uri.to_string()),
            _ => return Err(format!("unknown variable {{{name}}}")),
        };
        v.ok_or_else(|| format!("{{{name}}}: not in the message"))
    }

    fn expect_isup(&mut self, s: &Step) -> Result<(), String> {
        let want = s.expect_isup.as_deref().unwrap_or_default();
        let Some((circuit, m)) = self.isup_out.pop_front() else {
            let sip: Vec<String> = self.sip_out.iter().map(describe).collect();
            return Err(format!(
                "expected {want}, the gateway sent no ISUP{}",
                if sip.is_empty() {
                    String::new()
                } else {
                    format!(" (SIP waiting: {})", sip.join("; "))
                }
            ));
        };
        let got = m.message_type.abbreviation().unwrap_or("unknown");
        let on = self.on(circuit);
        if !got.eq_ignore_ascii_case(want) {
            return Err(format!(
                "expected {want}, got {got} on {on}: {}",
                isup::json::to_json(&m, None)
            ));
        }
        if let Some(c) = s.cic
            && c != circuit.cic
        {
            return Err(format!("{got} on {on}, expected cic {c}"));
        }
        if let Some(d) = s.dpc
            && d != circuit.dpc
        {
            return Err(format!("{got} on {on}, expected dpc {d}"));
        }
        self.circuit = circuit;
        ss7sim::scenario::check_fields(&m, &s.fields).map_err(|e| format!("{got}: {e}"))
    }

    fn expect_sip(&mut self, s: &Step) -> Result<(), String> {
        let want = s.expect_sip.clone().ok_or("expect_sip")?;
        let got = self
            .sip_out
            .pop_front()
            .ok_or_else(|| format!("expected {want}, the gateway sent no SIP"))?;
        let (headers, body) = match (&want, &got) {
            (SipWhat::Method(m), SipOut::Request(r))
                if r.method.to_string() == m.to_ascii_uppercase() =>
            {
                if let Some(u) = &s.uri
                    && !r.uri.to_string().contains(u.as_str())
                {
                    return Err(format!("{m} Request-URI {} lacks {u:?}", r.uri));
                }
                (&r.headers, &r.body)
            }
            (SipWhat::Status(st), SipOut::Response(r)) if r.status == *st => {
                if let Some(m) = &s.to {
                    let c = cseq_of(r);
                    if !c.eq_ignore_ascii_case(m) {
                        return Err(format!("{st} answers {c}, expected {m}"));
                    }
                }
                (&r.headers, &r.body)
            }
            _ => return Err(format!("expected {want}, got {}", describe(&got))),
        };
        let what = describe(&got);
        for (name, cond) in &s.headers {
            let values: Vec<&str> = headers.get_named(name).collect();
            match cond {
                serde_json::Value::Bool(true) if values.is_empty() => {
                    return Err(format!("{what}: no {name} header"));
                }
                serde_json::Value::Bool(false) if !values.is_empty() => {
                    return Err(format!("{what}: unexpected {name}: {}", values.join(", ")));
                }
                serde_json::Value::String(sub) => {
                    let sub_l = sub.to_ascii_lowercase();
                    if !values
                        .iter()
                        .any(|v| v.to_ascii_lowercase().contains(&sub_l))
                    {
                        return Err(format!(
                            "{what}: {name} {:?} does not contain {sub:?}",
                            values
                        ));
                    }
                }
                serde_json::Value::Bool(_) => {}
                other => return Err(format!("headers.{name} = {other}: true, false or text")),
            }
        }
        if let Some(c) = s.reason_cause {
            match headers.q850_cause() {
                Some(g) if g == c => {}
                g => {
                    return Err(format!(
                        "{what}: Reason Q.850 cause {g:?}, expected {c} ({:?})",
                        headers.get(Hdr::Reason)
                    ));
                }
            }
        }
        let parsed = SipBody::parse(headers, body).map_err(|e| format!("{what}: body: {e}"))?;
        if let Some(want_sdp) = s.sdp
            && parsed.sdp().is_some() != want_sdp
        {
            return Err(format!(
                "{what}: SDP {}",
                if want_sdp { "missing" } else { "unexpected" }
            ));
        }
        let isup = parsed.isup();
        match (&s.isup_body, isup) {
            (None, _) => {}
            (Some(BodyExpect::Present(false)), Some(p)) => {
                return Err(format!(
                    "{what}: unexpected ISUP body ({})",
                    Message::parse(p.data)
                        .map(|m| m.message_type.to_string())
                        .unwrap_or_else(|e| e.to_string())
                ));
            }
            (Some(BodyExpect::Present(false)), None) => {}
            (Some(_), None) => return Err(format!("{what}: no ISUP body")),
            (Some(b), Some(p)) => {
                let m = Message::parse(p.data)
                    .map_err(|e| format!("{what}: ISUP body does not decode: {e}"))?;
                if let BodyExpect::Type(t) = b {
                    let got = m.message_type.abbreviation().unwrap_or("unknown");
                    if !got.eq_ignore_ascii_case(t) {
                        return Err(format!("{what}: ISUP body {got}, expected {t}"));
                    }
                }
                ss7sim::scenario::check_fields(&m, &s.fields)
                    .map_err(|e| format!("{what}: ISUP body: {e}"))?;
            }
        }
        if s.isup_body.is_none() && !s.fields.is_empty() {
            return Err("fields on expect_sip need isup_body".into());
        }
        Ok(())
    }

    fn expect_nothing(&mut self) -> Result<(), String> {
        let mut pending = Vec::new();
        for (circuit, m) in &self.isup_out {
            pending.push(format!("ISUP {} {}", m.message_type, self.on(*circuit)));
        }
        for s in &self.sip_out {
            pending.push(format!("SIP {}", describe(s)));
        }
        if pending.is_empty() {
            Ok(())
        } else {
            Err(format!("the gateway sent {}", pending.join("; ")))
        }
    }

    fn expect_circuit(&mut self, s: &Step) -> Result<(), String> {
        let want = s.expect_circuit.as_deref().unwrap_or_default();
        match s.cic {
            None if want == "idle" => {
                if self.gw.circuits().all_idle() {
                    Ok(())
                } else {
                    Err(format!("not all circuits idle: {}", self.busy_circuits()))
                }
            }
            // Another state without a CIC: the step's current circuit.
            _ => {
                let circuit = self.step_circuit(s);
                let on = self.on(circuit);
                let st = self
                    .gw
                    .circuits()
                    .state(circuit)
                    .ok_or_else(|| format!("{on} is not equipped"))?;
                let got = serde_json::to_value(st.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                if got == want {
                    Ok(())
                } else {
                    Err(format!("{on} is {got}, expected {want}"))
                }
            }
        }
    }

    fn busy_circuits(&self) -> String {
        let c = self.gw.circuits();
        let busy: Vec<String> = c
            .groups()
            .flat_map(|(g, _)| c.group_states(g))
            .filter(|s| {
                s.state != crate::circuits::CircuitState::Idle || s.awaiting_acknowledgement
            })
            .map(|s| format!("{} {:?}", self.on(s.circuit), s.state))
            .collect();
        if busy.is_empty() {
            "a group procedure awaits acknowledgement".into()
        } else {
            busy.join(", ")
        }
    }

    fn expect_event(&mut self, s: &Step) -> Result<(), String> {
        let want = s.expect_event.as_deref().unwrap_or_default();
        let pos = self.events.iter().position(|e| {
            let (kind, text) = match e {
                Event::Glare => ("glare", ""),
                Event::Alert(t) => ("alert", t.as_str()),
                Event::Discarded(t) => ("discarded", t.as_str()),
                Event::Record(_) => ("record", ""),
            };
            kind == want && s.contains.as_deref().is_none_or(|c| text.contains(c))
        });
        match pos {
            Some(i) => {
                self.events.remove(i);
                Ok(())
            }
            None => Err(format!(
                "no {want} event{}; events: {:?}",
                s.contains
                    .as_deref()
                    .map(|c| format!(" containing {c:?}"))
                    .unwrap_or_default(),
                self.events
            )),
        }
    }

    fn expect_record(&mut self, s: &Step) -> Result<(), String> {
        let want = s.expect_record.as_deref().unwrap_or_default();
        let i = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Record(_)))
            .ok_or("no call record")?;
        let Some(Event::Record(r)) = self.events.remove(i) else {
            return Err("no call record".into());
        };
        let got = format!("{:?}", r.outcome).to_ascii_lowercase();
        if got != want {
            return Err(format!(
                "call record {got} (cause {}), expected {want}",
                r.cause
            ));
        }
        if let Some(c) = s.cause
            && c != r.cause
        {
            return Err(format!("call record cause {}, expected {c}", r.cause));
        }
        Ok(())
    }

    fn operator(&mut self, s: &Step) -> Result<(), String> {
        let op = s.operator.as_deref().unwrap_or_default();
        let circuit = || {
            s.cic
                .map(|cic| CircuitId {
                    dpc: s.dpc.unwrap_or(self.circuit.dpc),
                    cic,
                })
                .ok_or(format!("{op} needs cic"))
        };
        match op {
            "transport_up" => self.input(Input::TransportUp),
            "transport_down" => self.input(Input::TransportDown),
            "sip_timeout" => {
                let m = s.to.as_deref().unwrap_or("INVITE").to_ascii_uppercase();
                let r = self
                    .last_by_method
                    .get(&m)
                    .ok_or_else(|| format!("the gateway sent no {m}"))?;
                let call_id = r.headers.call_id().map_err(|e| e.to_string())?.to_string();
                let method = r.method.clone();
                self.input(Input::SipTimeout { call_id, method });
            }
            "block" | "unblock" | "reset" => {
                let id = circuit()?;
                let c = self.gw.circuits_mut();
                let done = match op {
                    "block" => c.block(id),
                    "unblock" => c.unblock(id),
                    _ => c.reset(id),
                };
                if !done {
                    return Err(format!("{op} {id} refused"));
                }
                let out = self.gw.drain(self.now);
                self.absorb(out);
            }
            _ => {
                return Err(format!(
                    "operator {op:?}: transport_up, transport_down, sip_timeout, block, unblock, reset"
                ));
            }
        }
        Ok(())
    }

    fn finish(&mut self, end: EndState) -> Result<(), String> {
        if self.live.is_some() {
            self.advance(Duration::from_millis(500));
        }
        self.expect_nothing()
            .map_err(|e| format!("unconsumed output: {e}"))?;
        if end == EndState::Any || self.live.is_some() {
            return Ok(());
        }
        if self.gw.active_calls() != 0 {
            return Err(format!("{} call(s) still active", self.gw.active_calls()));
        }
        if !self.gw.circuits().all_idle() {
            return Err(format!("circuits not idle: {}", self.busy_circuits()));
        }
        if self.gw.running_timers() != 0 {
            return Err(format!(
                "{} timer(s) still running",
                self.gw.running_timers()
            ));
        }
        Ok(())
    }
}

/// A SIP body: Content-Type, octets, Content-Disposition.
type Body = (String, Vec<u8>, Option<String>);

enum Built {
    Msg(Message),
    Raw(Vec<u8>),
}

fn set_body(headers: &mut sip::Headers, body: &mut Vec<u8>, b: Option<Body>) {
    match b {
        Some((ct, bytes, disp)) => {
            if ct.starts_with("multipart") {
                headers.set(Hdr::MimeVersion, "1.0");
            }
            headers.set(Hdr::ContentType, &ct);
            if let Some(d) = disp {
                headers.set(Hdr::ContentDisposition, &d);
            }
            headers.set(Hdr::ContentLength, &bytes.len().to_string());
            *body = bytes;
        }
        None => {
            if !headers.contains(Hdr::ContentLength) {
                headers.set(Hdr::ContentLength, &body.len().to_string());
            }
        }
    }
}

fn cseq_of(r: &Response) -> String {
    r.headers
        .cseq()
        .map(|c| c.method.to_string())
        .unwrap_or_default()
}

fn describe(s: &SipOut) -> String {
    match s {
        SipOut::Request(r) => format!("{} {}", r.method, r.uri),
        SipOut::Response(r) => format!(
            "{} {} ({}){}",
            r.status,
            r.reason,
            cseq_of(r),
            r.headers
                .get(Hdr::Reason)
                .map(|x| format!(" Reason: {x}"))
                .unwrap_or_default()
        ),
    }
}
