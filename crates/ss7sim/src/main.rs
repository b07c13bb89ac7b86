//! `ss7sim`: the SS7 (M3UA/ISUP) far-end exchange simulator. See `docs/ss7sim.md`.
//!
//! Exit codes: 0 success; 1 a call, expectation or final-state check failed; 2 bad usage or
//! configuration; 3 the M3UA peer never became active.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use ss7sim::config::dur;
use ss7sim::exchange::{CircuitCounts, Event};
use ss7sim::scenario::{self, Scenario};
use ss7sim::{
    AnswerRule, CallRequest, CicRange, Config, Role, SimEvent, SimOptions, Simulator, Stats,
};
use tokio::time::Instant;

// mimalloc, as in mgc: less time in the allocator under load (docs/performance.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "ss7sim",
    version,
    about = "SS7 signalling simulator: M3UA SGP + far-end ISUP exchange"
)]
struct Cli {
    /// Listen as M3UA SGP on this address (TCP).
    #[arg(long, default_value = "127.0.0.1:2905", global = true)]
    listen: SocketAddr,
    /// Connect as an M3UA ASP instead of listening (test role: drive another ss7sim).
    #[arg(long, global = true)]
    connect: Option<SocketAddr>,
    /// TOML configuration (point codes, CICs, timers, originate defaults, answer rules).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Write every M3UA message to this pcap (SCTP framing; tshark decodes M3UA/ISUP).
    #[arg(long, global = true)]
    pcap: Option<PathBuf>,
    /// Write one JSON line per ISUP message sent/received.
    #[arg(long = "log-json", global = true)]
    log_json: Option<PathBuf>,
    /// Write the end-of-run summary as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Own point code, or several (`2,3,4`, `2-14`): one far-end exchange per point code, each
    /// with the CICs of `--cics` (or the config's). Replaces the config's exchanges.
    #[arg(long = "local-pc", global = true)]
    local_pc: Option<PointCodes>,
    /// The peer's point code (overrides the config).
    #[arg(long = "remote-pc", global = true)]
    remote_pc: Option<u32>,
    /// CIC ranges, e.g. `1-31,33-63` (overrides the config).
    #[arg(long, global = true, value_delimiter = ',')]
    cics: Vec<CicRange>,
    /// Answer rule `PREFIX=answer[,after=100ms][,hold=1s]`, `PREFIX=reject,cause=17` or
    /// `PREFIX=ring` (ACM, never ANM); repeatable, added to the config's rules.
    #[arg(long = "answer", global = true)]
    answer: Vec<String>,
    /// Send GRS for every circuit once the peer is active.
    #[arg(long = "reset-on-start", global = true)]
    reset_on_start: bool,
    /// How long to wait for the M3UA peer to become active.
    #[arg(long, default_value = "30s", value_parser = dur::parse, global = true)]
    wait: Duration,
    /// Send M3UA BEAT at this interval and drop a peer that misses 3 (default: off, the peer's
    /// own heartbeat is answered).
    #[arg(long, value_parser = dur::parse, global = true)]
    beat: Option<Duration>,
    /// Before calls or a scenario start, wait (at most this long) until the peer has reset
    /// every circuit with GRS or RSC, as a gateway does when its M3UA association comes up
    /// (Q.764 §2.9.3). Without it, a call started at once races that reset.
    #[arg(long = "await-reset", value_parser = dur::parse, global = true)]
    await_reset: Option<Duration>,
    /// After the run, wait this long for calls in progress to end before checking circuits.
    #[arg(long, default_value = "5s", value_parser = dur::parse, global = true)]
    drain: Duration,
    /// M3UA over kernel SCTP (PPID 3) instead of TCP.
    #[cfg(feature = "sctp")]
    #[arg(long, global = true)]
    sctp: bool,
    /// Print each ISUP message sent and received.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Terminate calls by the answer rules (and answer maintenance) until --duration, --calls
    /// incoming calls have ended, or SIGINT/SIGTERM.
    Answer {
        #[arg(long, value_parser = dur::parse)]
        duration: Option<Duration>,
        /// Stop after this many incoming calls have ended.
        #[arg(long)]
        calls: Option<u64>,
    },
    /// Originate calls (and terminate the peer's calls meanwhile).
    Call(CallArgs),
    /// Like `call` with load defaults (1000 calls at 100/s, hold 0): both directions, percentiles.
    Load(CallArgs),
    /// Run a scripted scenario (TOML); exit 0 only if every step held.
    Scenario { file: PathBuf },
}

#[derive(Args, Debug)]
struct CallArgs {
    /// Number of calls.
    #[arg(long)]
    calls: Option<u64>,
    /// Calls per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Release from this side after answer + hold (`none`: wait for the far end's release).
    #[arg(long)]
    hold: Option<String>,
    /// Called party number (default from the config).
    #[arg(long)]
    called: Option<String>,
    /// Calling party number (`""` for none).
    #[arg(long)]
    calling: Option<String>,
    /// Release with cause 19 when ACM came but no ANM within this time.
    #[arg(long = "no-answer", value_parser = dur::parse)]
    no_answer: Option<Duration>,
    /// Calling party's category (10 ordinary subscriber, 15 payphone …).
    #[arg(long)]
    category: Option<u8>,
    /// Address presentation restricted indicator of the calling number (0 allowed, 1 restricted).
    #[arg(long)]
    presentation: Option<u8>,
    /// Nature of address of the called number (3 national, 4 international).
    #[arg(long = "called-noa")]
    called_noa: Option<u8>,
    /// Nature of address of the calling number.
    #[arg(long = "calling-noa")]
    calling_noa: Option<u8>,
    /// User service information, hex (`""` for none).
    #[arg(long)]
    usi: Option<String>,
    /// Call i goes to the called number plus i (same length, decimal carry), so that each call's
    /// IAM can be told apart at the far end.
    #[arg(long)]
    increment: bool,
    /// Overlap sending: digits in the IAM; the rest follow in SAMs (one digit each).
    #[arg(long)]
    overlap: Option<usize>,
    /// Both directions: also wait for this many calls from the peer to end, and require them all
    /// to be answered (run two instances against each other with the same N).
    #[arg(long)]
    incoming: Option<u64>,
    /// Every call is expected to fail with this cause (e.g. 17 for a busy prefix).
    #[arg(long = "expect-cause")]
    expect_cause: Option<u8>,
    /// Give up waiting for calls to finish after this long (default: calls/rate + hold + 30 s).
    #[arg(long = "max-time", value_parser = dur::parse)]
    max_time: Option<Duration>,
    /// Wait for SIGUSR1 before the first call (a script measures the idle peer first); the
    /// `--max-time` clock starts then.
    #[arg(long = "start-on-sigusr1")]
    start_on_sigusr1: bool,
    /// On SIGUSR2, release every call still up, at `--rate` calls/s (with `--hold none`: calls
    /// held until a script has measured them).
    #[arg(long = "release-on-sigusr2")]
    release_on_sigusr2: bool,
}

/// SIGUSR1 and SIGUSR2 for scripted runs, installed at start-up: a signal that comes before the
/// run waits for it is kept, not the default action (which ends the process).
#[derive(Default)]
struct UserSignals {
    #[cfg(unix)]
    start: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    release: Option<tokio::signal::unix::Signal>,
}

impl UserSignals {
    fn install(a: &CallArgs) -> std::io::Result<UserSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(UserSignals {
                start: a
                    .start_on_sigusr1
                    .then(|| signal(SignalKind::user_defined1()))
                    .transpose()?,
                release: a
                    .release_on_sigusr2
                    .then(|| signal(SignalKind::user_defined2()))
                    .transpose()?,
            })
        }
        #[cfg(not(unix))]
        {
            if a.start_on_sigusr1 || a.release_on_sigusr2 {
                return Err(std::io::Error::other("SIGUSR1/SIGUSR2 need a Unix system"));
            }
            Ok(UserSignals::default())
        }
    }

    /// Waits for SIGUSR1 if asked to (else returns at once).
    async fn start(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.start {
            s.recv().await;
        }
    }

    /// Resolves on SIGUSR2 when asked for; never otherwise.
    async fn release(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.release {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

/// `--local-pc`: point codes and ranges of them, `2`, `2,3,4`, `2-14,20`.
#[derive(Debug, Clone)]
struct PointCodes(Vec<u32>);

impl std::str::FromStr for PointCodes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u32>()
                .ok()
                .filter(|pc| *pc <= 0x3FFF)
                .ok_or_else(|| format!("bad point code {t:?} (0..=16383, ITU 14-bit)"))
        };
        let mut v = Vec::new();
        for part in s.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => (num(part)?, num(part)?),
            };
            if a > b {
                return Err(format!("point code range {part:?} is empty"));
            }
            v.extend(a..=b);
        }
        Ok(PointCodes(v))
    }
}

fn parse_answer_rule(s: &str) -> Result<AnswerRule, String> {
    let (prefix, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("--answer {s:?}: expected PREFIX=KIND[,key=value]"))?;
    let mut parts = rest.split(',');
    let kind = parts.next().unwrap_or_default();
    let mut r = match kind {
        "answer" => AnswerRule::answer(prefix, Duration::from_millis(100), None),
        "reject" => AnswerRule::reject(prefix, 16),
        "ring" | "noanswer" => AnswerRule::no_answer(prefix),
        k => {
            return Err(format!(
                "--answer {s:?}: kind {k:?} is not answer, reject or ring"
            ));
        }
    };
    for kv in parts {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--answer {s:?}: {kv:?} is not key=value"))?;
        let num = || {
            v.parse::<u8>()
                .map_err(|_| format!("--answer {s:?}: {k}={v} is not 0..255"))
        };
        match k {
            "after" => r.answer_after = Some(dur::parse(v)?),
            "hold" if v == "none" => r.hold = None,
            "hold" => r.hold = Some(dur::parse(v)?),
            "cause" if kind == "reject" => r.reject_cause = Some(num()?),
            "cause" => r.release_cause = num()?,
            "status" => r.called_party_status = num()?,
            "cpg" => r.cpg_event = Some(num()?),
            "digits" => r.digits = num()? as usize,
            "acm" => r.acm = v == "true" || v == "1",
            _ => return Err(format!("--answer {s:?}: unknown key {k:?}")),
        }
    }
    Ok(r)
}

fn load_config(cli: &Cli) -> Result<Config, String> {
    let mut cfg = match &cli.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Config::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => Config::default(),
    };
    if let Some(PointCodes(pcs)) = &cli.local_pc {
        cfg.local_pc = pcs[0];
        cfg.exchanges = match pcs.len() {
            1 => Vec::new(),
            _ => pcs
                .iter()
                .map(|&local_pc| ss7sim::ExchangeConfig {
                    local_pc,
                    cics: Vec::new(),
                })
                .collect(),
        };
    }
    if let Some(pc) = cli.remote_pc {
        cfg.remote_pc = pc;
    }
    if !cli.cics.is_empty() {
        // Every exchange's circuits.
        cfg.cics = cli.cics.clone();
        for x in &mut cfg.exchanges {
            x.cics.clear();
        }
    }
    for a in &cli.answer {
        cfg.answer.push(parse_answer_rule(a)?);
    }
    cfg.reset_on_start |= cli.reset_on_start;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ss7sim: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(run(cli))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(cli: Cli) -> ExitCode {
    let cfg = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ss7sim: {e}");
            return ExitCode::from(2);
        }
    };
    let mut signals = match &cli.mode {
        Mode::Call(a) | Mode::Load(a) => match UserSignals::install(a) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ss7sim: signal handlers: {e}");
                return ExitCode::from(2);
            }
        },
        _ => UserSignals::default(),
    };
    let scenario = match &cli.mode {
        Mode::Scenario { file } => {
            match std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|t| Scenario::from_toml(&t).map_err(|e| e.to_string()))
            {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("ss7sim: {}: {e}", file.display());
                    return ExitCode::from(2);
                }
            }
        }
        _ => None,
    };
    let mut cfg = cfg;
    if let Some(am) = scenario.as_ref().and_then(|s| s.auto_maintenance) {
        cfg.auto_maintenance = am;
    }
    let role = match cli.connect {
        Some(remote) => Role::Asp { remote },
        None => Role::Sgp { listen: cli.listen },
    };
    let opts = SimOptions {
        config: cfg.clone(),
        role,
        auto_calls: scenario.is_none(),
        pcap: cli.pcap.clone(),
        log_json: cli.log_json.clone(),
        beat_interval: cli.beat,
        transport: m3ua::transport::Transport::Tcp,
    };
    #[cfg(feature = "sctp")]
    let opts = SimOptions {
        transport: if cli.sctp {
            m3ua::transport::Transport::Sctp
        } else {
            opts.transport
        },
        ..opts
    };
    // Subscribed before the simulator runs: a scenario's first expectation, or the peer's
    // start-up reset awaited by --await-reset, may come as soon as the peer is up.
    let (sim, early_rx, task) = match Simulator::spawn_subscribed(opts).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ss7sim: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let mut scenario_rx = (scenario.is_some() || cli.await_reset.is_some()).then_some(early_rx);
    if let Some(a) = sim.local_addr() {
        let pcs: Vec<String> = sim.point_codes().iter().map(u32::to_string).collect();
        eprintln!(
            "ss7sim: SGP listening on {a} (pc {}, peer pc {})",
            pcs.join(","),
            cfg.remote_pc
        );
    }
    if cli.verbose {
        let mut rx = sim.subscribe();
        tokio::spawn(async move {
            while let Ok(ev) = rx.recv().await {
                match ev {
                    SimEvent::Message {
                        dir,
                        opc,
                        dpc,
                        cic,
                        message,
                    } => {
                        let (arrow, pc) = if dir == ss7sim::MsgDir::Sent {
                            ("->", opc)
                        } else {
                            ("<-", dpc)
                        };
                        eprintln!("{arrow} pc {pc} cic {cic:4} {}", message.message_type);
                    }
                    SimEvent::Exchange {
                        pc,
                        event: e @ (Event::Maintenance(_) | Event::Unexpected { .. }),
                    } => {
                        eprintln!("   pc {pc} {e:?}")
                    }
                    _ => {}
                }
            }
        });
    }
    let started = Instant::now();
    // Answer mode serves whoever comes; the others need the peer first.
    let needs_peer = !matches!(cli.mode, Mode::Answer { .. });
    if needs_peer && !sim.wait_active(cli.wait).await {
        eprintln!(
            "ss7sim: the M3UA peer did not become active within {}",
            dur::format(&cli.wait)
        );
        sim.shutdown().await;
        let _ = task.await;
        return ExitCode::from(3);
    }
    if let (Some(rx), Some(limit)) = (scenario_rx.as_mut(), cli.await_reset)
        && needs_peer
        && !await_peer_reset(rx, &cfg.exchanges(), limit).await
    {
        eprintln!(
            "ss7sim: the peer did not reset every circuit within {}; starting anyway",
            dur::format(&limit)
        );
    }
    if !matches!(cli.mode, Mode::Scenario { .. }) {
        // Nobody reads it from here on: drop it rather than keep 64 Ki events alive.
        scenario_rx = None;
    }
    let (mode, mut passed, extra) = match &cli.mode {
        Mode::Answer { duration, calls } => {
            run_answer(&sim, *duration, *calls).await;
            ("answer", true, Value::Null)
        }
        Mode::Call(a) => {
            let ok = interruptible(run_calls(&sim, &cfg, a, &mut signals, 1, 1.0, None)).await;
            ("call", ok, Value::Null)
        }
        Mode::Load(a) => {
            let ok = interruptible(run_calls(
                &sim,
                &cfg,
                a,
                &mut signals,
                1000,
                100.0,
                Some("0ms"),
            ))
            .await;
            ("load", ok, Value::Null)
        }
        Mode::Scenario { .. } => {
            let sc = scenario.as_ref().expect("parsed above");
            let rx = scenario_rx.take().unwrap_or_else(|| sim.subscribe());
            let report = tokio::select! {
                r = scenario::run_from(&sim, rx, sc, &cfg) => r,
                _ = shutdown_signal() => {
                    eprintln!("ss7sim: interrupted");
                    scenario::Report { name: sc.name.clone(), passed: false, steps: Vec::new() }
                }
            };
            for s in &report.steps {
                println!(
                    "{:3} {:<28} {:>9.1} ms  {}{}",
                    s.step,
                    s.what,
                    s.elapsed_ms,
                    if s.ok { "ok" } else { "FAILED" },
                    if s.detail.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", s.detail)
                    }
                );
            }
            println!(
                "scenario {:?}: {}",
                report.name,
                if report.passed { "PASSED" } else { "FAILED" }
            );
            (
                "scenario",
                report.passed,
                serde_json::to_value(&report).unwrap_or(Value::Null),
            )
        }
    };
    // Let calls in progress end (bounded), then check the circuits.
    let calls_mode = !matches!(cli.mode, Mode::Scenario { .. });
    let (stats, circuits) = settle(
        &sim,
        if calls_mode {
            cli.drain
        } else {
            Duration::ZERO
        },
    )
    .await;
    let not_idle = circuits.busy + circuits.releasing;
    if calls_mode && not_idle > 0 {
        eprintln!("ss7sim: {not_idle} circuit(s) not idle at the end");
        passed = false;
    }
    if stats.misrouted > 0 {
        eprintln!(
            "ss7sim: {} DATA message(s) for a point code this simulator does not play, or not ISUP",
            stats.misrouted
        );
        passed = false;
    }
    if stats.decode_errors > 0 {
        eprintln!(
            "ss7sim: {} undecodable ISUP message(s) received",
            stats.decode_errors
        );
        passed = false;
    }
    let elapsed = started.elapsed();
    let by_exchange = sim.circuits_by_exchange().await.unwrap_or_default();
    let summary = summary_json(
        mode,
        passed,
        elapsed,
        &stats,
        &circuits,
        &by_exchange,
        extra,
    );
    print_summary(&stats, &circuits, by_exchange.len(), elapsed, passed);
    if let Some(p) = &cli.json
        && let Err(e) = std::fs::write(p, format!("{summary:#}\n"))
    {
        eprintln!("ss7sim: {}: {e}", p.display());
        passed = false;
    }
    sim.shutdown().await;
    let _ = task.await;
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Wait until the peer has reset (GRS or RSC) every circuit of every exchange, at most `limit`.
async fn await_peer_reset(
    rx: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    exchanges: &[ss7sim::ExchangeConfig],
    limit: Duration,
) -> bool {
    use ss7sim::exchange::Maintenance;
    let mut pending: std::collections::BTreeSet<(u32, u16)> = exchanges
        .iter()
        .flat_map(|x| {
            x.cics
                .iter()
                .flat_map(|r| r.iter().map(|c| (x.local_pc, c)))
        })
        .collect();
    let deadline = Instant::now() + limit;
    while !pending.is_empty() {
        let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return false,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) => return false,
            Ok(Ok(ev)) => ev,
        };
        match ev {
            // Q.763 §3.43: the range field is the number of circuits after `cic`.
            SimEvent::Exchange {
                pc,
                event: Event::Maintenance(Maintenance::GroupResetByPeer { cic, range }),
            } => {
                for c in cic..=cic.saturating_add(u16::from(range)) {
                    pending.remove(&(pc, c));
                }
            }
            SimEvent::Exchange {
                pc,
                event: Event::Maintenance(Maintenance::ResetByPeer { cic }),
            } => {
                pending.remove(&(pc, cic));
            }
            _ => {}
        }
    }
    true
}

/// Runs a call run unless SIGINT/SIGTERM comes first (then the run fails, the summary is
/// still printed).
async fn interruptible(run: impl std::future::Future<Output = bool>) -> bool {
    tokio::select! {
        ok = run => ok,
        _ = shutdown_signal() => {
            eprintln!("ss7sim: interrupted");
            false
        }
    }
}

async fn run_answer(sim: &ss7sim::SimHandle, duration: Option<Duration>, calls: Option<u64>) {
    let mut rx = sim.subscribe();
    let deadline = duration.map(|d| Instant::now() + d);
    let mut ended = 0u64;
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut sleep => break,
            _ = &mut signal => break,
            ev = rx.recv() => match ev {
                Ok(SimEvent::Exchange { event: Event::CallEnded { direction: ss7sim::Direction::Incoming, .. }, .. }) => {
                    ended += 1;
                    if calls.is_some_and(|n| ended >= n) {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                _ => {}
            }
        }
    }
}

async fn run_calls(
    sim: &ss7sim::SimHandle,
    cfg: &Config,
    a: &CallArgs,
    signals: &mut UserSignals,
    default_calls: u64,
    default_rate: f64,
    default_hold: Option<&str>,
) -> bool {
    let mut o = cfg.originate.clone();
    if let Some(c) = &a.called {
        o.called = c.clone();
    }
    if let Some(c) = &a.calling {
        o.calling = c.clone();
    }
    match a.hold.as_deref().or(default_hold) {
        Some("none") => o.hold = None,
        Some(h) => match dur::parse(h) {
            Ok(d) => o.hold = Some(d),
            Err(e) => {
                eprintln!("ss7sim: --hold: {e}");
                return false;
            }
        },
        None => {}
    }
    if a.no_answer.is_some() {
        o.no_answer = a.no_answer;
    }
    o.category = a.category.unwrap_or(o.category);
    o.presentation = a.presentation.unwrap_or(o.presentation);
    o.called_noa = a.called_noa.unwrap_or(o.called_noa);
    o.calling_noa = a.calling_noa.unwrap_or(o.calling_noa);
    o.overlap = a.overlap.unwrap_or(o.overlap);
    if let Some(u) = &a.usi {
        o.usi = u.clone();
    }
    let mut check = cfg.clone();
    check.originate = o.clone();
    if let Err(e) = check.validate() {
        eprintln!("ss7sim: {e}");
        return false;
    }
    let n = a.calls.unwrap_or(default_calls);
    let rate = a.rate.unwrap_or(default_rate).max(0.001);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let hold = o.hold.unwrap_or_default();
    let max_time = a
        .max_time
        .unwrap_or(Duration::from_secs_f64(n as f64 / rate) + hold + Duration::from_secs(30));
    if a.start_on_sigusr1 {
        eprintln!("ss7sim: waiting for SIGUSR1 to start the calls");
        signals.start().await;
    }
    let deadline = Instant::now() + max_time;
    let mut next = Instant::now();
    // Kept for --release-on-sigusr2.
    let mut calls = Vec::new();
    for i in 0..n {
        tokio::time::sleep_until(next).await;
        let mut oi = o.clone();
        if a.increment {
            oi.called = ss7sim::msg::nth_number(&o.called, i);
        }
        match sim.originate(CallRequest::new(oi)).await {
            Ok((call, _)) if a.release_on_sigusr2 => calls.push(call),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "originate refused"),
        }
        next += interval;
        if Instant::now() >= deadline {
            break;
        }
    }
    // Wait for every call to end (answered and released, or failed).
    loop {
        let Ok((out, inc)) = sim.call_counts().await else {
            return false;
        };
        let (out, inc) = (&out, &inc);
        let incoming_done = a
            .incoming
            .is_none_or(|want| inc.completed + inc.failed >= want);
        if out.completed + out.failed >= out.attempted && incoming_done {
            break;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "ss7sim: --max-time reached with {} call(s) in progress",
                out.in_progress()
            );
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = signals.release() => {
                // Release what is still up (the exchange ignores calls already ended), paced.
                eprintln!("ss7sim: SIGUSR2: releasing {} call(s) at {rate}/s", calls.len());
                let mut next = Instant::now();
                for call in calls.drain(..) {
                    tokio::time::sleep_until(next).await;
                    if sim.release(call, o.release_cause).await.is_err() {
                        return false;
                    }
                    next += interval;
                }
            }
        }
    }
    let Ok((stats, _)) = sim.stats().await else {
        return false;
    };
    let out = &stats.outgoing;
    let incoming_ok = a
        .incoming
        .is_none_or(|want| stats.incoming.completed == want && stats.incoming.failed == 0);
    incoming_ok
        && match a.expect_cause {
            Some(c) => {
                out.attempted == n && out.failed == n && out.failed_by_cause.get(&c) == Some(&n)
            }
            None => out.attempted == n && out.completed == n,
        }
}

async fn settle(sim: &ss7sim::SimHandle, drain: Duration) -> (Stats, CircuitCounts) {
    let deadline = Instant::now() + drain;
    loop {
        let idle = sim
            .counts()
            .await
            .is_ok_and(|c| c.circuits.busy + c.circuits.releasing == 0);
        if idle || Instant::now() >= deadline {
            return sim
                .stats()
                .await
                .unwrap_or_else(|_| (Stats::default(), CircuitCounts::default()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn summary_json(
    mode: &str,
    passed: bool,
    elapsed: Duration,
    s: &Stats,
    c: &CircuitCounts,
    by_exchange: &[(u32, CircuitCounts)],
    scenario: Value,
) -> Value {
    let exchanges: Vec<Value> = by_exchange
        .iter()
        .map(|(pc, c)| json!({"local_pc": pc, "circuits": c}))
        .collect();
    let secs = elapsed.as_secs_f64();
    let mut v = json!({
        "mode": mode,
        "passed": passed,
        "elapsed_s": secs,
        "outgoing": s.outgoing.report(),
        "incoming": s.incoming.report(),
        "calls_per_second": if secs > 0.0 { s.outgoing.attempted as f64 / secs } else { 0.0 },
        "messages": {
            "sent": s.messages_sent,
            "received": s.messages_received,
            "decode_errors": s.decode_errors,
            "send_failures": s.send_failures,
            "misrouted": s.misrouted,
            "unexpected": s.unexpected,
        },
        "maintenance_alerts": s.maintenance_alerts,
        "circuits": c,
        "circuits_not_idle": c.busy + c.releasing,
        "exchanges": exchanges,
    });
    if !scenario.is_null() {
        v["scenario"] = scenario;
    }
    v
}

fn print_summary(s: &Stats, c: &CircuitCounts, exchanges: usize, elapsed: Duration, passed: bool) {
    println!("--- ss7sim summary ({:.1} s) ---", elapsed.as_secs_f64());
    for (name, d) in [("outgoing", &s.outgoing), ("incoming", &s.incoming)] {
        let r = d.report();
        if r.attempted == 0 {
            continue;
        }
        println!(
            "{name}: attempted {} answered {} completed {} failed {} in progress {}",
            r.attempted, r.answered, r.completed, r.failed, r.in_progress
        );
        if !r.failed_by_cause.is_empty() {
            let causes: Vec<String> = r
                .failed_by_cause
                .iter()
                .map(|(c, n)| format!("cause {c}: {n}"))
                .collect();
            println!("  failed by cause: {}", causes.join(", "));
        }
        let p = r.setup_latency;
        if p.count > 0 {
            println!(
                "  setup latency (IAM→ANM) ms: p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
                p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
            );
        }
    }
    println!(
        "messages: sent {} received {} undecodable {} unsent {} unexpected {} misrouted {}",
        s.messages_sent,
        s.messages_received,
        s.decode_errors,
        s.send_failures,
        s.unexpected,
        s.misrouted
    );
    let of = match exchanges {
        0 | 1 => String::new(),
        n => format!(" in {n} exchanges"),
    };
    println!(
        "circuits: {} total{of}, {} idle, {} not idle, {} locally blocked, {} remotely blocked",
        c.total,
        c.idle,
        c.busy + c.releasing,
        c.locally_blocked,
        c.remotely_blocked
    );
    println!("result: {}", if passed { "PASSED" } else { "FAILED" });
}
