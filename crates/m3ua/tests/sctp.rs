//! Kernel SCTP transport (feature `sctp`): bring-up and DATA both ways on 127.0.0.1. Skips with a
//! message where the kernel has no SCTP (as on the project's lab machines).
#![cfg(feature = "sctp")]

use std::time::Duration;

use bytes::Bytes;
use m3ua::asp::{AspConfig, AspEvent, AspState};
use m3ua::sgp::{SgpConfig, SgpEvent};
use m3ua::transport::{AspTransportConfig, Transport, spawn_asp, spawn_sgp};
use m3ua::wire::ProtocolData;
use tokio::time::timeout;

#[tokio::test]
async fn sctp_bring_up_and_data() {
    let sgp = spawn_sgp(
        SgpConfig::default(),
        Transport::Sctp,
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let (sgp, mut sgp_ev, _sgp_task) = match sgp {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
            eprintln!("SKIP sctp_bring_up_and_data: {e}");
            return;
        }
        Err(e) => panic!("SCTP listen failed: {e}"),
    };
    let mut tc = AspTransportConfig::tcp(sgp.local_addr());
    tc.transport = Transport::Sctp;
    let cfg = AspConfig {
        routing_contexts: vec![1],
        ..AspConfig::default()
    };
    let (asp, mut ev, _t) = spawn_asp(cfg, tc);
    timeout(Duration::from_secs(10), async {
        while !matches!(
            ev.recv().await,
            Some(AspEvent::StateChanged {
                to: AspState::Active,
                ..
            })
        ) {}
    })
    .await
    .expect("ASP active over SCTP");
    let pd = ProtocolData {
        opc: 1,
        dpc: 2,
        si: 5,
        ni: 2,
        mp: 0,
        sls: 3,
        user_data: Bytes::from_static(&[1, 0, 1]),
    };
    asp.transfer(pd.clone()).await.unwrap();
    let got = timeout(Duration::from_secs(10), async {
        loop {
            if let Some(SgpEvent::Transfer { data, .. }) = sgp_ev.recv().await {
                return data.protocol_data;
            }
        }
    })
    .await
    .expect("DATA over SCTP");
    assert_eq!(got, pd);
}
