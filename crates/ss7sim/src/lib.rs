//! `ss7sim`: an SS7 signalling simulator, the ISUP counterpart of SIPp.
//!
//! It listens as an M3UA SGP (default `127.0.0.1:2905`, TCP), accepts the gateway as ASP and
//! plays the far-end exchange for one trunk (own point code, the gateway's point code, CIC ranges),
//! or several exchanges behind the one SGP (`[[exchanges]]`, each its own point code and CICs):
//! it originates calls (IAM/SAM, release after a hold time, T1/T5), terminates calls by answer
//! rules per called-number prefix (ACM, CPG, ANM after a delay, or REL with a cause), answers
//! circuit maintenance (GRS/GRA, RSC, BLO/UBL, CGB/CGU, CQM/CQR) and runs scripted scenarios and
//! load. See `docs/ss7sim.md`.
//!
//! Layers:
//! - [`exchange`]: the sans-IO per-circuit state machine (events in, actions out).
//! - [`sim`]: the tokio driver ([`Simulator::spawn`] → [`SimHandle`]) over the `m3ua` transport.
//! - [`scenario`]: SIPp-like scripts of `send` / `expect` steps (TOML).
//! - [`stats`]: counters and latency percentiles (the load-mode JSON).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ss7sim::{Config, SimOptions, Simulator, AnswerRule};
//! let mut cfg = Config::default();
//! cfg.answer.push(AnswerRule::reject("4930666", 17)); // busy
//! let (sim, _task) = Simulator::spawn(SimOptions::sgp(cfg, ss7sim::DEFAULT_LISTEN)).await?;
//! sim.wait_active(std::time::Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```

pub mod config;
pub mod exchange;
pub mod msg;
pub mod scenario;
pub mod sim;
pub mod stats;

pub use config::{AnswerRule, CicRange, Config, ExchangeConfig, Originate, Timers};
pub use exchange::{CallId, CallOutcome, CallRequest, Direction, Event, Exchange, Maintenance};
pub use m3ua::transport::Transport;
pub use sim::{
    Counts, DEFAULT_LISTEN, MsgDir, Role, SimError, SimEvent, SimHandle, SimOptions, Simulator,
};
pub use stats::{CallCounts, Percentiles, Stats};
