//! `mgc`: the SIP-to-PSTN media gateway controller and its operator CLI.

mod cmd_isup;
mod cmd_map;
mod cmd_sip;

use mgc::config;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// mimalloc: it returns the pages the short-lived set-up transactions freed, which glibc's
// malloc kept (RSS per held call), and spends less time per allocation (docs/performance.md,
// "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "mgc", version, about = "SIP-to-PSTN media gateway controller")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// ISUP codec tools (ITU-T Q.763).
    #[command(subcommand)]
    Isup(cmd_isup::IsupCommand),
    /// ISUP cause ↔ SIP status mapping of the interworking unit (RFC 3398, Q.1912.5).
    #[command(subcommand)]
    Map(cmd_map::MapCommand),
    /// SIP message tools (RFC 3261, SIP-I/SIP-T bodies).
    #[command(subcommand)]
    Sip(cmd_sip::SipCommand),
    /// Run the gateway: SIP, M3UA, circuits and interworking (Ctrl-C stops it).
    Run {
        /// TOML configuration; without it the embedded default (config/default.toml).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Log format, overriding `[log] format`.
        #[arg(long, value_enum)]
        log_format: Option<config::LogFormat>,
        /// Write every SIP and M3UA message to this pcap file (overrides `[trace] pcap`).
        #[arg(long)]
        pcap: Option<std::path::PathBuf>,
    },
    /// Replay the ISUP/SIP conformance fixtures through the gateway core on a virtual clock;
    /// print a pass/fail table, exit 1 on any failure (docs/conformance.md).
    Conformance(mgc::conformance::cli::Args),
    /// Check a configuration file: exit 0, or print the file, line and field at fault.
    CheckConfig {
        /// TOML configuration file.
        file: std::path::PathBuf,
    },
}

fn run(
    file: Option<std::path::PathBuf>,
    log_format: Option<config::LogFormat>,
    pcap: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = match &file {
        Some(f) => config::Config::load(f)?,
        None => config::Config::embedded_default(),
    };
    if pcap.is_some() {
        cfg.trace.pcap = pcap;
    }
    mgc::logging::init(&cfg.log, log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(mgc::runtime::run(cfg))?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Isup(c) => cmd_isup::run(c),
        Command::Map(c) => cmd_map::run(c),
        Command::Sip(c) => cmd_sip::run(c),
        Command::Run {
            config,
            log_format,
            pcap,
        } => run(config, log_format, pcap),
        Command::Conformance(a) => mgc::conformance::cli::run(a),
        Command::CheckConfig { file } => config::Config::load(&file)
            .map(|_| {
                println!("{}: OK", file.display());
                ExitCode::SUCCESS
            })
            .map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mgc: {e:#}");
            ExitCode::FAILURE
        }
    }
}
