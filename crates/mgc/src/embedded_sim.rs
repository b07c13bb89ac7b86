//! The embedded SS7 far end (`[simulator] enabled = true`): an `ss7sim` SGP in this process,
//! playing the exchange at the far end of the trunk groups, so that `make run` alone answers calls.

use crate::config::Config;
use tracing::info;

/// The simulator's configuration derived from the gateway's: its point code is the trunk
/// groups' DPC, the gateway's is its peer, the circuits are the trunk groups' CICs.
pub fn sim_config(cfg: &Config) -> anyhow::Result<ss7sim::config::Config> {
    let first = cfg
        .trunk_groups
        .first()
        .ok_or_else(|| anyhow::anyhow!("[simulator] needs at least one [[trunk_groups]]"))?;
    let cics = cfg
        .trunk_groups
        .iter()
        .filter(|t| t.dpc == first.dpc)
        .flat_map(|t| t.cics.0.iter())
        .map(|&(a, b)| ss7sim::config::CicRange::new(a, b))
        .collect();
    Ok(ss7sim::config::Config {
        local_pc: first.dpc,
        remote_pc: cfg.ss7.point_code,
        ni: cfg.ss7.network_indicator,
        cics,
        routing_context: cfg.m3ua.routing_context.unwrap_or(1),
        answer: cfg.simulator.answer.clone(),
        ..ss7sim::config::Config::default()
    })
}

/// Start the simulator on the current runtime; it runs while the handle is kept.
pub async fn start(cfg: &Config) -> anyhow::Result<ss7sim::SimHandle> {
    let sim = sim_config(cfg)?;
    let pc = sim.local_pc;
    let opts = ss7sim::SimOptions::sgp(sim, cfg.simulator.listen);
    let (handle, _task) = ss7sim::Simulator::spawn(opts).await?;
    info!(listen = ?handle.local_addr(), point_code = pc, "embedded SS7 simulator");
    Ok(handle)
}
