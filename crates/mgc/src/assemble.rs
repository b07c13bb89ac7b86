//! From the TOML configuration to the sans-IO gateway: the interworking engine's and the circuit
//! manager's configurations are views of the same `[[trunk_groups]]`.

use crate::circuits::{CircuitManager, CircuitsConfig, TrunkGroupConfig};
use crate::config::Config;
use crate::gateway::Gateway;
use crate::metrics::Metrics;

pub fn iwu_config(cfg: &Config) -> iwu::IwuConfig {
    iwu::IwuConfig {
        local: iwu::LocalSip {
            host: cfg.sip.listen.ip().to_string(),
            port: cfg.sip.listen.port(),
            transport: "UDP".into(),
        },
        timers: cfg.call_timers,
        trunk_groups: cfg
            .trunk_groups
            .iter()
            .map(|t| iwu::TrunkGroupConfig {
                name: t.name.clone(),
                cics: t.cics.0.iter().map(|&(a, b)| [a, b]).collect(),
                sip_peer: t.sip_peer.clone(),
                country_code: t.country_code.clone(),
                area_code: t.area_code.clone(),
                international: t.international,
                echo_control: t.echo_control,
                append_st: t.append_st,
                overlap: t.overlap,
                t11_acm: t.t11_acm,
                media: t.media.clone(),
            })
            .collect(),
        peers: cfg.peers.clone(),
    }
}

pub fn circuits_config(cfg: &Config) -> CircuitsConfig {
    CircuitsConfig {
        own_point_code: cfg.ss7.point_code,
        send_ucic: cfg.ss7.send_ucic,
        timers: cfg.maintenance_timers.clone(),
        trunk_groups: cfg
            .trunk_groups
            .iter()
            .map(|t| TrunkGroupConfig {
                name: t.name.clone(),
                dpc: t.dpc,
                cics: t.cics.clone(),
                direction: t.direction,
                selection: t.selection,
            })
            .collect(),
    }
}

/// The gateway for `cfg`, its identifiers seeded from the clock (RFC 3261 §8.1.1.4 needs
/// uniqueness across restarts).
pub fn gateway(cfg: &Config) -> anyhow::Result<Gateway> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id()).rotate_left(32);
    gateway_seeded(cfg, seed)
}

pub fn gateway_seeded(cfg: &Config, seed: u64) -> anyhow::Result<Gateway> {
    let engine = iwu::Engine::new(iwu_config(cfg), seed)?;
    let circuits = CircuitManager::new(&circuits_config(cfg))?;
    Ok(Gateway::new(engine, circuits, cfg.sip.timers()))
}

/// Metrics from one call record.
pub fn record_call(m: &Metrics, r: &iwu::CallRecord) {
    let model = model_label(r.model);
    let outcome = match r.outcome {
        iwu::Outcome::Answered => "answered",
        iwu::Outcome::Rejected => "rejected",
        iwu::Outcome::Abandoned => "abandoned",
        iwu::Outcome::Failed => "failed",
    };
    m.calls.with_label_values(&[model, outcome]).inc();
    m.call_releases
        .with_label_values(&[&r.cause.to_string(), "any"])
        .inc();
    if let Some(t) = r.setup_time {
        m.call_setup_seconds
            .with_label_values(&[model])
            .observe(t.as_secs_f64());
    }
    if let Some(t) = r.answer_time {
        m.call_answer_seconds
            .with_label_values(&[model])
            .observe(t.as_secs_f64());
    }
}

pub fn model_label(m: iwu::CallModel) -> &'static str {
    match m {
        iwu::CallModel::PstnOrigination => "pstn_origination",
        iwu::CallModel::IpOrigination => "ip_origination",
    }
}
