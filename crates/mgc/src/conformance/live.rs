//! `--live`: the same fixtures against a running `mgc run` process, over real sockets. An
//! `ss7sim` SGP (no automatic calls or maintenance) plays the SS7 exchange over M3UA, a UDP
//! socket plays the SIP peer, and the wall clock replaces the virtual one.
//!
//! Only the wire is observable here: `expect_circuit`, `expect_event` and `expect_record` steps
//! are not checked, and fixtures with operator actions or raw (malformed) ISUP are skipped. The
//! SIP transaction layer's own traffic is absorbed as the virtual runner's transaction layer
//! would: 100 Trying, request retransmissions, and ACKs for non-2xx final responses (both ways).

use super::Fixture;
use crate::config::Config;
use crate::gateway::{Input, Output};
use isup::Variant;
use sip::header::Hdr;
use sip::{Method, Request, Response};
use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How live runs are made.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The `mgc` binary to run.
    pub mgc: PathBuf,
    /// Fixtures that wait longer than this in total (seconds) are skipped.
    pub max_wait: f64,
}

/// Why a fixture cannot run live, if it cannot.
pub fn unsupported(fx: &Fixture, opts: &LiveOptions) -> Option<String> {
    let waits: f64 = fx.steps.iter().filter_map(|s| s.wait).sum();
    if waits > opts.max_wait {
        return Some(format!("waits {waits} s (live limit {} s)", opts.max_wait));
    }
    for s in &fx.steps {
        if let Some(op) = &s.operator {
            return Some(format!("operator {op} is not available live"));
        }
        if s.isup_in.is_some() && s.hex.is_some() {
            return Some("raw ISUP octets cannot be sent through ss7sim".into());
        }
        if s.dpc.is_some() {
            return Some("circuits toward several exchanges: the live SGP plays one".into());
        }
    }
    None
}

/// Steps whose subject is internal state: not checked live.
pub fn observable(kind: &str) -> bool {
    !matches!(kind, "expect_circuit" | "expect_event" | "expect_record")
}

fn free_port_udp() -> Result<u16, String> {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn free_port_tcp() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// The running gateway and the two far ends.
pub struct LiveIo {
    rt: tokio::runtime::Runtime,
    sim: ss7sim::SimHandle,
    events: tokio::sync::broadcast::Receiver<ss7sim::SimEvent>,
    sip: UdpSocket,
    gw_sip: SocketAddr,
    child: Child,
    dir: PathBuf,
    seen_requests: HashSet<Vec<u8>>,
    /// Call-IDs of gateway INVITEs we refused (their hop-by-hop ACK is the transaction layer's).
    refused: HashSet<String>,
    /// Our INVITEs by Call-ID (to ACK the gateway's non-2xx final responses).
    invites: HashMap<String, Request>,
}

impl LiveIo {
    /// Start ss7sim and `mgc run` on free loopback ports for `table` (the merged fixture
    /// configuration); returns the I/O and the configuration the gateway runs with.
    pub fn start(mut table: toml::Table, opts: &LiveOptions) -> Result<(LiveIo, Config), String> {
        let sip = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let peer_port = sip.local_addr().map_err(|e| e.to_string())?.port();
        let (gw_port, m3ua_port, metrics_port) =
            (free_port_udp()?, free_port_tcp()?, free_port_tcp()?);
        let set = |t: &mut toml::Table, section: &str, key: &str, v: toml::Value| {
            let s = t
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(s) = s.as_table_mut() {
                s.insert(key.into(), v);
            }
        };
        set(
            &mut table,
            "sip",
            "listen",
            format!("127.0.0.1:{gw_port}").into(),
        );
        set(
            &mut table,
            "m3ua",
            "remote",
            format!("127.0.0.1:{m3ua_port}").into(),
        );
        set(&mut table, "m3ua", "beat_interval_s", 0.into());
        set(&mut table, "simulator", "enabled", false.into());
        set(
            &mut table,
            "metrics",
            "listen",
            format!("127.0.0.1:{metrics_port}").into(),
        );
        set(&mut table, "log", "level", "error".into());
        if let Some(peers) = table.get_mut("peers").and_then(|p| p.as_array_mut()) {
            for p in peers.iter_mut().filter_map(|p| p.as_table_mut()) {
                p.insert("host".into(), "127.0.0.1".into());
                p.insert("port".into(), i64::from(peer_port).into());
            }
        }
        let text = toml::to_string(&table).map_err(|e| e.to_string())?;
        let cfg = Config::parse(&text, "live fixture config").map_err(|e| e.to_string())?;
        let dir = std::env::temp_dir().join(format!("mgc-live-{}-{gw_port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("gateway.toml");
        std::fs::write(&file, &text).map_err(|e| e.to_string())?;

        // The simulator runs on its own worker while the steps block on sockets.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut sim_cfg = crate::embedded_sim::sim_config(&cfg).map_err(|e| e.to_string())?;
        sim_cfg.auto_maintenance = false;
        let mut sim_opts = ss7sim::SimOptions::sgp(
            sim_cfg,
            format!("127.0.0.1:{m3ua_port}")
                .parse()
                .unwrap_or(ss7sim::DEFAULT_LISTEN),
        );
        sim_opts.auto_calls = false;
        let (sim, _task) = rt
            .block_on(ss7sim::Simulator::spawn(sim_opts))
            .map_err(|e| format!("ss7sim: {e}"))?;
        let events = sim.subscribe();
        let child = Command::new(&opts.mgc)
            .args(["run", "--config"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", opts.mgc.display()))?;
        sip.set_read_timeout(Some(Duration::from_millis(10)))
            .map_err(|e| e.to_string())?;
        let io = LiveIo {
            rt,
            sim,
            events,
            sip,
            gw_sip: cfg.sip.listen,
            child,
            dir,
            seen_requests: HashSet::new(),
            refused: HashSet::new(),
            invites: HashMap::new(),
        };
        if !io.rt.block_on(io.sim.wait_active(Duration::from_secs(10))) {
            return Err("mgc did not bring its M3UA ASP up within 10 s".into());
        }
        Ok((io, cfg))
    }

    /// Put an input on the wire.
    pub fn send(&mut self, input: Input) -> Result<(), String> {
        match input {
            Input::Isup { user_data, .. } => {
                let (cic, m) = Variant::ITU
                    .parse_with_cic(&user_data)
                    .map_err(|e| e.to_string())?;
                self.rt
                    .block_on(self.sim.send(cic, m))
                    .map_err(|e| format!("ss7sim send: {e}"))
            }
            Input::SipRequest { request, .. } => {
                if request.method == Method::Invite
                    && let Ok(id) = request.headers.call_id()
                {
                    self.invites.insert(id.to_string(), request.clone());
                }
                self.udp(&request.to_bytes())
            }
            Input::SipResponse(r) => {
                if r.status >= 300
                    && r.headers.cseq().is_ok_and(|c| c.method == Method::Invite)
                    && let Ok(id) = r.headers.call_id()
                {
                    self.refused.insert(id.to_string());
                }
                self.udp(&r.to_bytes())
            }
            other => Err(format!("{other:?} is not available live")),
        }
    }

    fn udp(&self, bytes: &[u8]) -> Result<(), String> {
        self.sip
            .send_to(bytes, self.gw_sip)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Collect what the gateway sends during `d`, as gateway outputs.
    pub fn poll(&mut self, d: Duration) -> Vec<Output> {
        let until = Instant::now() + d;
        let mut out = Vec::new();
        loop {
            while let Ok(ev) = self.events.try_recv() {
                if let ss7sim::SimEvent::Message {
                    dir: ss7sim::sim::MsgDir::Received,
                    dpc,
                    cic,
                    message,
                    ..
                } = ev
                {
                    let mut user_data = Vec::new();
                    if Variant::ITU
                        .emit_with_cic(cic, &message, &mut user_data)
                        .is_ok()
                    {
                        // What the gateway sent: toward the exchange it addressed (the DPC
                        // the simulator received it on), as the sans-IO gateway outputs it.
                        out.push(Output::Isup {
                            dpc,
                            sls: 0,
                            message_type: message.message_type,
                            user_data,
                        });
                    }
                }
            }
            let mut buf = [0u8; 65_535];
            while let Ok((n, _)) = self.sip.recv_from(&mut buf) {
                if let Some(o) = self.sip_in(&buf[..n]) {
                    out.push(o);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
            if Instant::now() >= until {
                return out;
            }
        }
    }

    fn sip_in(&mut self, bytes: &[u8]) -> Option<Output> {
        match sip::Message::parse(bytes).ok()? {
            sip::Message::Response(r) => {
                let invite = r.headers.cseq().is_ok_and(|c| c.method == Method::Invite);
                if invite && r.status == 100 {
                    return None;
                }
                if invite && r.status >= 300 {
                    self.ack_non_2xx(&r);
                }
                Some(Output::SipResponse(r))
            }
            sip::Message::Request(q) => {
                if !self.seen_requests.insert(bytes.to_vec()) {
                    return None;
                }
                let call_id = q.headers.call_id().ok()?.to_string();
                if q.method == Method::Ack && self.refused.contains(&call_id) {
                    return None;
                }
                Some(Output::SipRequest {
                    peer: String::new(),
                    request: q,
                })
            }
        }
    }

    /// RFC 3261 §17.1.1.3: the client transaction ACKs a non-2xx final response itself.
    fn ack_non_2xx(&mut self, r: &Response) {
        let Some(inv) = r.headers.call_id().ok().and_then(|id| self.invites.get(id)) else {
            return;
        };
        let mut ack = Request::new(Method::Ack, inv.uri.clone());
        for h in [Hdr::Via, Hdr::MaxForwards, Hdr::From, Hdr::CallId] {
            if let Some(v) = inv.headers.get(h) {
                ack.headers.push(h, v);
            }
        }
        if let Some(to) = r.headers.get(Hdr::To) {
            ack.headers.push(Hdr::To, to);
        }
        if let Ok(c) = inv.headers.cseq() {
            ack.headers.push(Hdr::CSeq, &format!("{} ACK", c.seq));
        }
        ack.headers.push(Hdr::ContentLength, "0");
        let _ = self.udp(&ack.to_bytes());
    }
}

impl Drop for LiveIo {
    fn drop(&mut self) {
        // The process this run started, by its own handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.rt.block_on(self.sim.shutdown());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
