//! Overload control (issue 7 item 3) with real processes: SIPp offers calls at twice the
//! capacity of a gateway configured with a small admission limit (`[overload] max_calls`), so
//! the run takes seconds. Bounded in count (60 calls) and time; loopback only.

#[macro_use]
mod harness;
use harness::*;

/// The peak resident set of a process in KiB (`VmHWM`), Linux only.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// From /metrics: IP-originated calls answered, and calls the gateway refused with cause 42.
fn answered_and_refused(text: &str) -> (f64, f64) {
    let answered = sample(
        text,
        "calls_total",
        &[("model", "ip_origination"), ("outcome", "answered")],
    )
    .unwrap_or(0.0);
    let refused = sample(
        text,
        "call_releases_total",
        &[("cause", "42"), ("side", "gateway")],
    )
    .unwrap_or(0.0);
    (answered, refused)
}

/// Capacity: `MAX_CALLS` calls at once, each held `HOLD_MS` (plus ~100 ms to answer), i.e.
/// about 4 calls/s. SIPp offers 8 calls/s for 60 calls. Every call must end either answered and
/// completed, or refused with 503 + Retry-After + Reason cause 42 (SIPp checks both); the
/// goodput stays ≥ 90 % of capacity, the gateway never holds more than `MAX_CALLS` calls, its
/// memory stays bounded, and every circuit is idle afterwards.
#[test]
fn twice_the_capacity_keeps_goodput_and_refuses_the_excess_with_503() {
    require_sipp!();
    const MAX_CALLS: usize = 5;
    const HOLD_MS: u64 = 1000;
    const CALLS: u32 = 60;
    const RATE: u32 = 8;
    let dir = Scratch::new("overload");
    let mut cfg = GwConfig::new(free_port());
    cfg.embedded = Some(vec![
        r#"prefix = ""
answer_after = "100ms""#,
    ]);
    cfg.extra = format!("\n[overload]\nmax_calls = {MAX_CALLS}\nretry_after_s = 2\n");
    let uac_port = cfg.peer_port;
    let mut gw = Gateway::start(&dir, "mgc", cfg);
    gw.wait_ready(START);
    let sf = scenario(&dir, "uac_overload.xml", &[("HOLD", &HOLD_MS.to_string())]);
    let target = gw.sip_addr();
    let started = Instant::now();
    let mut uac = Sipp::start(
        &dir,
        "uac",
        &["-sf", &sf, "-s", "4930123456", "-r", &RATE.to_string()],
        uac_port,
        Some(&target),
        CALLS,
        &[],
    );
    // Sample the calls in progress while the load runs.
    let mut peak_active = 0.0f64;
    while uac.proc.child.try_wait().ok().flatten().is_none()
        && started.elapsed() < Duration::from_secs(40)
    {
        let active = gw.counter("calls_active", &[("model", "ip_origination")]);
        peak_active = peak_active.max(active);
        std::thread::sleep(Duration::from_millis(100));
    }
    uac.expect_success(Duration::from_secs(40));
    let offered_for = started.elapsed().as_secs_f64();
    let text = gw.wait_circuits_idle(SETTLE);
    let (answered, refused) = answered_and_refused(&text);
    assert_eq!(
        answered + refused,
        CALLS as f64,
        "every call answered or refused for overload\n{}",
        grep(&text, &["calls_total", "call_releases_total"])
    );
    assert!(refused > 0.0, "the admission limit engaged");
    assert!(
        peak_active <= MAX_CALLS as f64,
        "at most {MAX_CALLS} calls at once, saw {peak_active}"
    );
    // Capacity over the offered period (calls arrive for CALLS/RATE seconds): MAX_CALLS calls
    // per (hold + setup), with 250 ms of setup and slot hand-over allowed per call.
    let offer_s = f64::from(CALLS) / f64::from(RATE);
    let capacity = MAX_CALLS as f64 * offer_s / (HOLD_MS as f64 / 1000.0 + 0.25);
    assert!(
        answered >= 0.9 * capacity,
        "goodput {answered} calls < 90 % of capacity {capacity:.1} (run {offered_for:.1} s)"
    );
    let rss = peak_rss_kib(gw.proc.child.id()).unwrap_or(0);
    eprintln!(
        "overload: {answered} answered, {refused} refused (503), capacity {capacity:.1}, \
         peak {peak_active} calls, mgc peak RSS {rss} KiB, {offered_for:.1} s"
    );
    assert!(rss < 256 * 1024, "mgc peak RSS {rss} KiB");
    assert_eq!(
        sample(&text, "sip_malformed_messages_total", &[]),
        Some(0.0)
    );
}

/// The ISUP side of the admission limit: with `max_calls = 2`, ss7sim sends 6 IAMs within
/// 0.3 s, each answered call held 2 s. Exactly 2 calls are admitted and answered; the other 4
/// get REL cause 42 (switching equipment congestion) carrying the automatic congestion level
/// (Q.764 §2.11, Q.763 §3.4), decoded by ss7sim from the wire; all circuits end idle.
#[test]
fn iams_over_the_limit_get_rel_42_with_the_congestion_level() {
    require_sipp!();
    let dir = Scratch::new("overload_iam");
    let uas_port = free_port();
    let mut cfg = GwConfig::new(uas_port);
    cfg.extra = "\n[overload]\nmax_calls = 2\n".into();
    let gw = Gateway::start(&dir, "mgc", cfg);
    let mut sim = Sim::start(
        &dir,
        "ss7sim",
        gw.cfg.m3ua,
        AWAIT_RESET,
        &[
            "call",
            "--calls",
            "6",
            "--rate",
            "20",
            "--hold",
            "2s",
            "--called",
            "4930123456",
            "--calling",
            "4940111222",
            "--max-time",
            "20s",
        ],
    );
    let mut uas = Sipp::start(&dir, "uas", &["-sn", "uas"], uas_port, None, 2, &[]);
    // ss7sim reports failure (4 calls were refused); it must still end, with the circuits idle.
    assert!(
        sim.proc.wait_timeout(Duration::from_secs(40)).is_some(),
        "ss7sim did not end\n{}",
        sim.proc.dump()
    );
    uas.expect_success(Duration::from_secs(10));
    let messages = sim.messages();
    let rels: Vec<&Value> = messages
        .iter()
        .filter(|(d, m)| d == "received" && m["message_type"] == "REL")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(rels.len(), 4, "{:?}", sim.call_ladder());
    for rel in rels {
        assert_eq!(cause_of(rel), 42, "{rel}");
        let acl = param(rel, "automatic_congestion_level")
            .unwrap_or_else(|| panic!("no automatic congestion level in {rel}"));
        assert_eq!(acl["level"], 1, "{rel}");
    }
    let answered = messages
        .iter()
        .filter(|(d, m)| d == "received" && m["message_type"] == "ANM")
        .count();
    assert_eq!(answered, 2);
    gw.assert_circuits_idle(SETTLE);
}

/// Load shedding in the running gateway (`[overload] max_backlog`, no call limit): SIPp sends
/// 20 INVITEs in one burst (20 calls per 1 ms), faster than the gateway takes them, with the
/// bound at 1 message waiting. While the backlog is over it, new INVITEs get 503 +
/// Retry-After + cause 42 (SIPp checks both). Once it has drained, 3 calls at 5/s are all
/// admitted, answered and hung up. Every call ends one of those two ways, the episode is
/// counted and over, and every circuit ends idle.
#[test]
fn a_burst_beyond_the_backlog_bound_is_shed_with_503() {
    require_sipp!();
    const CALLS: u32 = 20;
    let dir = Scratch::new("overload_backlog");
    let mut cfg = GwConfig::new(free_port());
    cfg.embedded = Some(vec![
        r#"prefix = ""
answer_after = "50ms""#,
    ]);
    cfg.extra = "\n[overload]\nmax_backlog = 1\nretry_after_s = 1\n".into();
    let uac_port = cfg.peer_port;
    let mut gw = Gateway::start(&dir, "mgc", cfg);
    gw.wait_ready(START);
    let sf = scenario(&dir, "uac_overload.xml", &[("HOLD", "200")]);
    let target = gw.sip_addr();
    let mut uac = Sipp::start(
        &dir,
        "uac",
        &["-sf", &sf, "-s", "4930123456", "-r", "20", "-rp", "1"],
        uac_port,
        Some(&target),
        CALLS,
        &[],
    );
    uac.expect_success(Duration::from_secs(30));
    drop(uac);
    // The backlog is checked at least once a second: then new calls are admitted again.
    std::thread::sleep(Duration::from_millis(1500));
    let mut slow = Sipp::start(
        &dir,
        "uac-after",
        &["-sf", &sf, "-s", "4930123456", "-r", "5"],
        free_port(),
        Some(&target),
        3,
        &[],
    );
    slow.expect_success(Duration::from_secs(30));
    let text = gw.wait_circuits_idle(SETTLE);
    let (answered, refused) = answered_and_refused(&text);
    let episodes = sample(&text, "overload_congestion_episodes_total", &[]).unwrap_or(0.0);
    eprintln!("backlog shedding: {answered} answered, {refused} refused, {episodes} episodes");
    assert!(
        answered >= 3.0,
        "calls after the burst admitted\n{}",
        grep(&text, &["calls_total"])
    );
    assert_eq!(
        answered + refused,
        f64::from(CALLS + 3),
        "every call answered or refused for overload\n{}",
        grep(&text, &["calls_total", "call_releases_total", "overload_"])
    );
    assert!(
        refused > 0.0,
        "the burst was shed\n{}",
        grep(&text, &["overload_"])
    );
    assert!(episodes >= 1.0, "{}", grep(&text, &["overload_"]));
    assert_eq!(sample(&text, "overload_congested", &[]), Some(0.0));
}
