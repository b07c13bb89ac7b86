//! The `ss7sim` binary as processes on 127.0.0.1: scripted scenarios of one instance (test-only
//! ASP role) against another in `answer` or `call` mode, exit codes, the JSON log and summary,
//! and tshark as the outside oracle for `--pcap`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use e2e::{have_tool, tshark_fields, tshark_malformed};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ss7sim");

fn scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The far end in SGP role (pc 2, peer pc 1) as a child process.
fn sgp(port: u16, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--answer", "4930=answer,after=50ms"])
        .args(["--answer", "4966=reject,cause=17"])
        .args(["--answer", "4977=ring"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ss7sim starts")
}

/// The test-only ASP role (pc 1, peer pc 2), run to completion with a time bound.
fn asp(port: u16, args: &[&str]) -> Output {
    asp_to(port, "2", args)
}

/// The same towards the far-end exchange with point code `remote_pc`.
fn asp_to(port: u16, remote_pc: &str, args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .args(["--connect", &format!("127.0.0.1:{port}")])
        .args(["--local-pc", "1", "--remote-pc", remote_pc, "--wait", "10s"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ss7sim starts");
    wait_bounded(child, Duration::from_secs(30))
}

fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "ss7sim did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ss7sim-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn scenarios_against_answer_mode_and_exit_codes() {
    let port = free_port();
    let dir = scratch("answer");
    let far_log = dir.join("far.jsonl");
    let far_json = dir.join("far.json");
    let far = sgp(
        port,
        &[
            "--log-json",
            far_log.to_str().unwrap(),
            "--json",
            far_json.to_str().unwrap(),
            "answer",
            "--duration",
            "20s",
            "--calls",
            "3",
        ],
    );
    for s in ["maintenance", "basic-call", "busy"] {
        let out = asp(
            port,
            &[
                "scenario",
                scenarios().join(format!("{s}.toml")).to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{s}: {}", show(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("PASSED"));
    }
    // A failing expectation gives exit code 1 (busy number, but ANM expected).
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "cic = 7\n[[step]]\nsend = \"IAM\"\nparameters = [{ name = \"called_party_number\", digits = \"4966\" }]\n\
         [[step]]\nexpect = \"ANM\"\ntimeout = \"1s\"\n",
    )
    .unwrap();
    let out = asp(port, &["scenario", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("received REL on cic 7"));

    // The bad scenario left the far end's REL on CIC 7 unanswered (its T1 is running): answer
    // it, so that every circuit is idle when the far end stops after its 3rd call.
    let fix = dir.join("fix.toml");
    std::fs::write(&fix, "cic = 7\n[[step]]\nsend = \"RLC\"\n").unwrap();
    assert!(
        asp(port, &["scenario", fix.to_str().unwrap()])
            .status
            .success()
    );

    let out = wait_bounded(far, Duration::from_secs(30));
    assert!(out.status.success(), "{}", show(&out));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&far_json).unwrap()).unwrap();
    assert_eq!(summary["incoming"]["attempted"], 3);
    assert_eq!(summary["incoming"]["completed"], 1);
    assert_eq!(summary["incoming"]["failed_by_cause"]["17"], 2);
    assert_eq!(summary["circuits_not_idle"], 0);
    // Every ISUP message in and out, in isup::json form.
    let log = read_jsonl(&far_log);
    let iam = log
        .iter()
        .find(|l| l["dir"] == "received" && l["message"]["message_type"] == "IAM")
        .expect("IAM logged");
    assert_eq!(
        (iam["opc"].as_u64(), iam["dpc"].as_u64()),
        (Some(1), Some(2))
    );
    let params = iam["message"]["parameters"].as_array().unwrap();
    let cgpn = params
        .iter()
        .find(|p| p["name"] == "calling_party_number")
        .unwrap();
    assert_eq!(cgpn["presentation"], 1, "the scenario's override arrived");
    assert!(
        log.iter()
            .any(|l| l["dir"] == "sent" && l["message"]["message_type"] == "GRA")
    );
}

#[test]
fn call_mode_counts_answers_and_causes() {
    let port = free_port();
    let dir = scratch("call");
    let far_log = dir.join("far.jsonl");
    let far = sgp(
        port,
        &[
            "--log-json",
            far_log.to_str().unwrap(),
            "answer",
            "--duration",
            "20s",
            "--calls",
            "6",
        ],
    );
    let json = dir.join("calls.json");
    let out = asp(
        port,
        &[
            "--json",
            json.to_str().unwrap(),
            "call",
            "--calls",
            "4",
            "--rate",
            "50",
            "--hold",
            "100ms",
            "--called",
            "4930129",
            "--increment",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(s["outgoing"]["attempted"], 4);
    assert_eq!(s["outgoing"]["answered"], 4);
    assert_eq!(s["outgoing"]["setup_latency"]["count"], 4);
    assert!(s["outgoing"]["setup_latency"]["p50_ms"].as_f64().unwrap() >= 50.0);
    // Busy: every call fails with cause 17, as expected → exit 0; without --expect-cause → 1.
    let busy = asp(
        port,
        &["call", "--called", "4966000", "--expect-cause", "17"],
    );
    assert!(busy.status.success(), "{}", show(&busy));
    let busy = asp(port, &["call", "--called", "4966000"]);
    assert_eq!(busy.status.code(), Some(1), "{}", show(&busy));
    assert!(String::from_utf8_lossy(&busy.stdout).contains("cause 17: 1"));
    let far = wait_bounded(far, Duration::from_secs(30));
    assert!(far.status.success(), "{}", show(&far));
    // --increment: each IAM has its own called number.
    let mut called: Vec<String> = read_jsonl(&far_log)
        .iter()
        .filter(|l| l["message"]["message_type"] == "IAM")
        .filter_map(|l| {
            l["message"]["parameters"]
                .as_array()?
                .iter()
                .find(|p| p["name"] == "called_party_number")
                .map(|p| p["digits"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    called.sort();
    assert_eq!(
        called,
        [
            "4930129", "4930130", "4930131", "4930132", "4966000", "4966000"
        ]
    );
}

#[test]
fn terminating_scenario_against_call_mode_and_no_peer_exit_code() {
    let port = free_port();
    // The far end originates; the scenario side terminates.
    let far = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["call", "--called", "4930777", "--hold", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = asp(
        port,
        &[
            "scenario",
            scenarios().join("terminate.toml").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let far = wait_bounded(far, Duration::from_secs(30));
    assert!(far.status.success(), "{}", show(&far));

    // Nobody to talk to: exit code 3.
    let out = Command::new(BIN)
        .args([
            "--connect",
            &format!("127.0.0.1:{}", free_port()),
            "--wait",
            "300ms",
        ])
        .args(["call"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    // Bad configuration: exit code 2.
    let out = Command::new(BIN)
        .args(["--cics", "9-1", "answer"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// tshark is given the `--pcap` of a scripted run and must report the M3UA classes/types and
/// the ISUP message types and CICs that the JSON log says were sent and received.
#[test]
fn tshark_decodes_the_pcap_of_a_scripted_run() {
    if !have_tool("tshark") {
        return;
    }
    let port = free_port();
    let dir = scratch("tshark");
    let pcap = dir.join("run.pcap");
    let log = dir.join("run.jsonl");
    let far = sgp(port, &["answer", "--duration", "20s", "--calls", "2"]);
    let out = asp(
        port,
        &[
            "--pcap",
            pcap.to_str().unwrap(),
            "--log-json",
            log.to_str().unwrap(),
            "scenario",
            scenarios().join("basic-call.toml").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    // A second call ends the far end's run (--calls 2); it is not traced.
    let out2 = asp(
        port,
        &["scenario", scenarios().join("busy.toml").to_str().unwrap()],
    );
    assert!(out2.status.success(), "{}", show(&out2));
    assert!(wait_bounded(far, Duration::from_secs(30)).status.success());

    // Management: the ASP's bring-up, in order, as tshark sees it (class, type).
    let rows = tshark_fields(
        &pcap,
        "m3ua",
        &[
            "m3ua.message_class",
            "m3ua.message_type",
            "isup.message_type",
            "isup.cic",
        ],
    );
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        s.strip_prefix("0x")
            .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
    };
    let classes: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| (num(&r[0]).unwrap(), num(&r[1]).unwrap()))
        .collect();
    // ASPUP (3,1), ASPUP_ACK (3,4), then ASPAC (4,1) and ASPAC_ACK (4,3); NTFY (0,1) may interleave.
    let mgmt: Vec<(u64, u64)> = classes
        .iter()
        .copied()
        .filter(|c| c.0 != 1 && c.0 != 0)
        .collect();
    assert_eq!(mgmt[..4], [(3, 1), (3, 4), (4, 1), (4, 3)], "{classes:?}");
    assert!(classes.contains(&(0, 1)), "NTFY AS-ACTIVE: {classes:?}");
    // Every DATA (1,1) carries ISUP; its type and CIC must match the JSON log, in order.
    let isup_rows: Vec<(u64, u64)> = rows
        .iter()
        .filter(|r| num(&r[0]) == Some(1))
        .map(|r| {
            (
                num(&r[2]).expect("isup.message_type"),
                num(&r[3]).expect("isup.cic"),
            )
        })
        .collect();
    let logged: Vec<(u64, u64)> = read_jsonl(&log)
        .iter()
        .map(|l| {
            (
                l["message"]["message_type_code"].as_u64().unwrap(),
                l["cic"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(isup_rows, logged, "tshark vs --log-json");
    let types: Vec<u64> = logged.iter().map(|l| l.0).collect();
    // IAM, ACM, ANM, REL, RLC of the basic call.
    assert_eq!(types, vec![0x01, 0x06, 0x09, 0x0C, 0x10]);
    let mut cics: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, c) in &logged {
        *cics.entry(*c).or_default() += 1;
    }
    assert_eq!(cics, BTreeMap::from([(1, 5)]));
    let bad = tshark_malformed(&pcap);
    assert!(bad.is_empty(), "tshark complains: {bad:#?}");
}

#[test]
fn load_in_both_directions_between_two_processes() {
    let port = free_port();
    let dir = scratch("load");
    let (ja, jb) = (dir.join("a.json"), dir.join("b.json"));
    let common = [
        "--cics",
        "1-200",
        "--answer",
        "=answer,after=5ms",
        "load",
        "--calls",
        "300",
        "--incoming",
        "300",
        "--rate",
        "300",
        "--hold",
        "20ms",
    ];
    let far = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--json", ja.to_str().unwrap()])
        .args(common)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let near = asp(
        port,
        &[&["--json", jb.to_str().unwrap()][..], &common[..]].concat(),
    );
    assert!(near.status.success(), "{}", show(&near));
    let far = wait_bounded(far, Duration::from_secs(30));
    assert!(far.status.success(), "{}", show(&far));
    for j in [ja, jb] {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
        assert_eq!(s["mode"], "load");
        assert_eq!(s["outgoing"]["completed"], 300);
        assert_eq!(s["incoming"]["completed"], 300);
        assert_eq!(s["outgoing"]["setup_latency"]["count"], 300);
        let p = &s["outgoing"]["setup_latency"];
        assert!(p["p50_ms"].as_f64().unwrap() >= 5.0, "{p}");
        assert!(p["p50_ms"].as_f64() <= p["p99_ms"].as_f64());
        // Per own call IAM and REL out, ACM, ANM, RLC in; per incoming call the reverse.
        assert_eq!(s["messages"]["sent"], 300 * 5);
        assert_eq!(s["messages"]["received"], 300 * 5);
        assert_eq!(s["circuits_not_idle"], 0);
    }
}

#[test]
fn two_exchanges_behind_one_sgp_and_misrouted_data() {
    let port = free_port();
    let dir = scratch("exchanges");
    let far_json = dir.join("far.json");
    // Point codes 2 and 3, CICs 1-31 each.
    let far = sgp(
        port,
        &[
            "--local-pc",
            "2-3",
            "--cics",
            "1-31",
            "--json",
            far_json.to_str().unwrap(),
            "answer",
            "--duration",
            "20s",
            "--calls",
            "4",
        ],
    );
    // Calls to each exchange (the ASP side names it with --remote-pc).
    for pc in ["3", "2"] {
        let out = asp_to(
            port,
            pc,
            &[
                "call", "--calls", "2", "--rate", "50", "--hold", "50ms", "--called", "4930129",
            ],
        );
        assert!(out.status.success(), "pc {pc}: {}", show(&out));
        if pc == "3" {
            // An IAM to a point code the far end does not play.
            let stray = dir.join("stray.toml");
            std::fs::write(&stray, "[[step]]\nsend = \"IAM\"\n").unwrap();
            let out = asp_to(port, "9", &["scenario", stray.to_str().unwrap()]);
            assert!(out.status.success(), "{}", show(&out));
        }
    }
    let out = wait_bounded(far, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "misrouted DATA fails the run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("circuits: 62 total in 2 exchanges"),
        "{stdout}"
    );
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&far_json).unwrap()).unwrap();
    assert_eq!(s["incoming"]["completed"], 4);
    assert_eq!(s["messages"]["misrouted"], 1);
    assert_eq!(s["circuits"]["total"], 62);
    assert_eq!(s["circuits_not_idle"], 0);
    let by: Vec<(u64, u64)> = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["local_pc"].as_u64().unwrap(),
                x["circuits"]["total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by, vec![(2, 31), (3, 31)]);
}

#[test]
fn calls_start_on_sigusr1_and_are_held_until_sigusr2() {
    use std::io::{BufRead, BufReader};
    let port = free_port();
    let dir = scratch("signals");
    let json = dir.join("held.json");
    let far = sgp(port, &["answer", "--duration", "20s", "--calls", "3"]);
    let mut near = Command::new(BIN)
        .args(["--connect", &format!("127.0.0.1:{port}")])
        .args(["--local-pc", "1", "--remote-pc", "2", "--wait", "10s"])
        .args(["--json", json.to_str().unwrap()])
        .args(["call", "--calls", "3", "--rate", "100", "--hold", "none"])
        .args(["--called", "4930129", "--max-time", "20s"])
        .args(["--start-on-sigusr1", "--release-on-sigusr2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ss7sim starts");
    let kill = |sig: &str, pid: u32| {
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    // It says when it waits for the start signal; until then no call is placed.
    let mut err = BufReader::new(near.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("waiting for SIGUSR1") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "stderr ended");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(near.try_wait().unwrap().is_none());
    kill("-USR1", near.id());
    // The calls are answered (50 ms) and held: nothing ends on its own.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(near.try_wait().unwrap().is_none(), "calls are held");
    kill("-USR2", near.id());
    let out = wait_bounded(near, Duration::from_secs(20));
    assert!(out.status.success(), "{}", show(&out));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(s["outgoing"]["completed"], 3);
    let far = wait_bounded(far, Duration::from_secs(20));
    assert!(far.status.success(), "{}", show(&far));
}
