//! The conformance fixtures (isup-fixtures/) through the gateway core, as part of `make test`,
//! and the runner's own behaviour: a wrong expectation fails, a known failure that passes is
//! reported, the CLI exits non-zero on failure.

use mgc::conformance::{self, Fixture, Verdict};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> Option<PathBuf> {
    let s = root().join("../shared");
    s.is_dir().then_some(s)
}

#[test]
fn every_fixture_passes() {
    let results = conformance::run_dir(&root().join("isup-fixtures"), shared().as_deref())
        .expect("isup-fixtures readable");
    let fixtures = results
        .iter()
        .filter(|r| r.verdict != Verdict::Skipped)
        .count();
    assert!(fixtures >= 40, "only {fixtures} fixtures ran");
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.verdict.ok())
        .map(|r| format!("{} {}: {}", r.verdict.label(), r.file, r.detail))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing fixtures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every fixture asserts something.
    assert!(
        results
            .iter()
            .all(|r| r.verdict == Verdict::Skipped || r.checks > 0)
    );
}

const BUSY: &str = r#"
name = "busy"
[[step]]
isup_in = "IAM"
cic = 4
[[step]]
expect_sip = "INVITE"
[[step]]
sip_reply = 486
[[step]]
expect_isup = "REL"
fields = { "cause_indicators.cause_value" = CAUSE }
[[step]]
isup_in = "RLC"
"#;

#[test]
fn a_wrong_expectation_fails_with_the_step() {
    let ok = Fixture::from_toml(&BUSY.replace("CAUSE", "17")).unwrap();
    assert_eq!(
        conformance::evaluate("busy.toml", &ok).verdict,
        Verdict::Pass
    );
    let wrong = Fixture::from_toml(&BUSY.replace("CAUSE", "18")).unwrap();
    let r = conformance::evaluate("busy.toml", &wrong);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.starts_with("step 4 (expect_isup)"), "{}", r.detail);
    assert!(
        r.detail.contains("cause_value is 17, expected 18"),
        "{}",
        r.detail
    );
}

#[test]
fn unconsumed_output_and_hung_circuits_fail() {
    // The REL is never expected: the run must not pass silently.
    let text = BUSY
        .replace(
            "[[step]]\nexpect_isup = \"REL\"\nfields = { \"cause_indicators.cause_value\" = CAUSE }\n",
            "",
        )
        .replace("[[step]]\nisup_in = \"RLC\"\n", "");
    let r = conformance::evaluate("x.toml", &Fixture::from_toml(&text).unwrap());
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.contains("unconsumed output"), "{}", r.detail);
    // REL consumed but never acknowledged: the circuit is not idle at the end.
    let text = BUSY
        .replace("CAUSE", "17")
        .replace("[[step]]\nisup_in = \"RLC\"\n", "");
    let r = conformance::evaluate("x.toml", &Fixture::from_toml(&text).unwrap());
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.detail.starts_with("end:"), "{}", r.detail);
}

#[test]
fn known_failures_are_checked_both_ways() {
    let text = format!("known_failure = \"demo\"\n{}", BUSY.replace("CAUSE", "18"));
    let r = conformance::evaluate("x.toml", &Fixture::from_toml(&text).unwrap());
    assert_eq!(r.verdict, Verdict::KnownFailure);
    assert!(r.verdict.ok());
    let text = format!("known_failure = \"demo\"\n{}", BUSY.replace("CAUSE", "17"));
    let r = conformance::evaluate("x.toml", &Fixture::from_toml(&text).unwrap());
    assert_eq!(r.verdict, Verdict::UnexpectedPass);
    assert!(!r.verdict.ok());
}

#[test]
fn fixtures_must_assert_and_be_well_formed() {
    let e = Fixture::from_toml("name = \"x\"\n[[step]]\nisup_in = \"IAM\"\n").unwrap_err();
    assert!(e.contains("no expect_"), "{e}");
    let e =
        Fixture::from_toml("name = \"x\"\n[[step]]\nisup_in = \"IAM\"\nwait = 1\n").unwrap_err();
    assert!(e.contains("more than one action"), "{e}");
    let e = Fixture::from_toml("name = \"x\"\n[[step]]\nexpect_isup = \"IAM\"\nbogus = 1\n")
        .unwrap_err();
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn config_overlay_merges_arrays_of_tables_by_index() {
    let fx = Fixture::from_toml(
        "name = \"x\"\n[config]\ncall_timers = { t7 = 25 }\n[[config.peers]]\nprofile = \"sip\"\n\
         [[step]]\nexpect_nothing = true\n",
    )
    .unwrap();
    let cfg = conformance::fixture_config(&fx).unwrap();
    assert_eq!(cfg.call_timers.t7.as_secs(), 25);
    assert_eq!(cfg.peers.len(), 1);
    assert_eq!(cfg.peers[0].name, "softswitch");
    assert!(cfg.peers[0].trusted, "untouched keys keep the default");
}

#[test]
fn kancom_trace_becomes_a_fixture() {
    let Some(shared) = shared() else {
        eprintln!("../shared absent: kancom trace skipped");
        return;
    };
    let data = std::fs::read(shared.join(conformance::pcap::KANCOM)).unwrap();
    let frames = conformance::pcap::read_isup(&data).unwrap();
    let types: Vec<String> = frames.iter().map(conformance::pcap::frame_label).collect();
    assert_eq!(types, ["IAM", "ACM", "CPG", "ANM", "REL", "RLC"]);
    assert!(frames.iter().all(|f| f.cic == 15));
    let fx = conformance::pcap::fixture_from_trace("kancom", &frames).unwrap();
    let r = conformance::evaluate("kancom", &fx);
    assert_eq!(r.verdict, Verdict::Pass, "{}", r.detail);
    assert!(r.checks >= 8);
}

#[test]
fn cli_exits_non_zero_on_failure() {
    let dir = std::env::temp_dir().join(format!("mgc-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wrong.toml"), BUSY.replace("CAUSE", "18")).unwrap();
    std::fs::write(dir.join("right.toml"), BUSY.replace("CAUSE", "17")).unwrap();
    std::fs::write(dir.join("_ignored.toml"), "not a fixture").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mgc"))
            .arg("conformance")
            .arg(&dir)
            .args(["--shared", "/nonexistent"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL   wrong.toml"), "{text}");
    assert!(text.contains("PASS   right.toml"), "{text}");
    assert!(text.contains("2 fixtures: 1 passed, 1 failed"), "{text}");
    let out = run(&["--only", "right"]);
    assert_eq!(out.status.code(), Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn live_mode_runs_fixtures_against_mgc_run() {
    let opts = conformance::live::LiveOptions {
        mgc: PathBuf::from(env!("CARGO_BIN_EXE_mgc")),
        max_wait: 30.0,
    };
    let dir = root().join("isup-fixtures");
    for file in ["pstn-reject-486-busy.toml", "ip-reject-17-busy.toml"] {
        let fx = Fixture::from_toml(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let r = conformance::evaluate_with(file, &fx, Some(&opts));
        assert_eq!(r.verdict, Verdict::Pass, "{file}: {}", r.detail);
        assert!(r.checks >= 3, "{file}: {} checks", r.checks);
    }
    // A wrong expectation fails live too.
    let wrong = Fixture::from_toml(&BUSY.replace("CAUSE", "18")).unwrap();
    let r = conformance::evaluate_with("wrong", &wrong, Some(&opts));
    assert_eq!(r.verdict, Verdict::Fail, "{}", r.detail);
    // Operator steps cannot run live: skipped, not passed.
    let fx = Fixture::from_toml(
        &std::fs::read_to_string(dir.join("maint-operator-block-unblock.toml")).unwrap(),
    )
    .unwrap();
    let r = conformance::evaluate_with("op", &fx, Some(&opts));
    assert_eq!(r.verdict, Verdict::Skipped);
}
