//! The embedded SS7 far end (`[simulator] enabled = true`): an `ss7sim` SGP in this process,
//! playing the exchanges at the far end of the trunk groups, so that `make run` alone answers calls.

use crate::config::Config;
use tracing::info;

/// The simulator's configuration derived from the gateway's: one exchange per DPC of the trunk
/// groups (in the order they first appear), each with the CICs of its groups; the gateway's
/// point code is their peer.
pub fn sim_config(cfg: &Config) -> anyhow::Result<ss7sim::config::Config> {
    let mut exchanges: Vec<ss7sim::ExchangeConfig> = Vec::new();
    for t in &cfg.trunk_groups {
        let ranges = t
            .cics
            .0
            .iter()
            .map(|&(a, b)| ss7sim::config::CicRange::new(a, b));
        match exchanges.iter_mut().find(|x| x.local_pc == t.dpc) {
            Some(x) => x.cics.extend(ranges),
            None => exchanges.push(ss7sim::ExchangeConfig {
                local_pc: t.dpc,
                cics: ranges.collect(),
            }),
        }
    }
    let first = exchanges
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("[simulator] needs at least one [[trunk_groups]]"))?;
    Ok(ss7sim::config::Config {
        local_pc: first.local_pc,
        remote_pc: cfg.ss7.point_code,
        ni: cfg.ss7.network_indicator,
        cics: first.cics,
        // One exchange: the plain local_pc/cics form.
        exchanges: if exchanges.len() > 1 {
            exchanges
        } else {
            Vec::new()
        },
        routing_context: cfg.m3ua.routing_context.unwrap_or(1),
        answer: cfg.simulator.answer.clone(),
        ..ss7sim::config::Config::default()
    })
}

/// Start the simulator on the current runtime; it runs while the handle is kept.
pub async fn start(cfg: &Config) -> anyhow::Result<ss7sim::SimHandle> {
    let sim = sim_config(cfg)?;
    let opts = ss7sim::SimOptions::sgp(sim, cfg.simulator.listen);
    let (handle, _task) = ss7sim::Simulator::spawn(opts).await?;
    info!(listen = ?handle.local_addr(), point_codes = ?handle.point_codes(), "embedded SS7 simulator");
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_exchange_per_dpc_with_the_cics_of_its_groups() {
        let cfg = Config::embedded_default();
        let one = sim_config(&cfg).unwrap();
        assert!(one.exchanges.is_empty());
        assert_eq!(one.exchanges().len(), 1);
        let text = format!(
            "{}\n[[trunk_groups]]\nname = \"far\"\ndpc = 7\ncics = \"1-31\"\nsip_peer = \"{}\"\n\
             country_code = \"49\"\nmedia = {{ address = \"127.0.0.1\", rtp_port_min = 30000, rtp_port_max = 30100 }}\n",
            crate::config::DEFAULT_TOML,
            cfg.peers[0].name
        );
        let two = sim_config(&Config::parse(&text, "test").unwrap()).unwrap();
        let x = two.exchanges();
        assert_eq!(
            x.iter().map(|x| x.local_pc).collect::<Vec<_>>(),
            vec![cfg.trunk_groups[0].dpc, 7]
        );
        assert_eq!(x[1].cics, vec![ss7sim::config::CicRange::new(1, 31)]);
        two.validate().unwrap();
    }
}
