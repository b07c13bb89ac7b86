//! docs/operations.md and docs/grafana-mgc.json checked against the code: every TOML example
//! parses with the gateway's `Config`; every key the configuration structs accept is documented
//! in its section (the key lists come from serde's own "unknown field, expected one of …"
//! errors, so they follow the structs); every exported metric family is in the metrics
//! reference; every dashboard query names exported metrics.

use mgc::config::Config;
use std::collections::BTreeSet;

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operations.md"
    ))
    .expect("docs/operations.md")
}

/// The text of the section under `heading` (up to the next heading of any level).
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc
        .lines()
        .scan(0usize, |off, l| {
            let here = *off;
            *off += l.len() + 1;
            Some((here, l))
        })
        .find(|(_, l)| l.trim_end() == heading)
        .map(|(off, l)| off + l.len())
        .unwrap_or_else(|| panic!("docs/operations.md has no heading {heading:?}"));
    let rest = &doc[start..];
    let end = rest.find("\n#").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

/// The keys serde expects where `probe` puts an unknown key.
fn expected_keys(probe: &str) -> Vec<String> {
    let err = Config::parse(probe, "probe")
        .expect_err("the probe has an unknown key")
        .to_string();
    let tail = err
        .split("unknown field `bogus`, expected ")
        .nth(1)
        .unwrap_or_else(|| panic!("not an unknown-field error: {err}"));
    let keys: Vec<String> = tail
        .lines()
        .next()
        .unwrap_or("")
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(!keys.is_empty(), "no key list in: {err}");
    keys
}

#[test]
fn every_config_key_is_documented_in_its_section() {
    let doc = doc();
    let probes: &[(&str, &str)] = &[
        ("bogus = 1\n", "### Top level"),
        ("[sip]\nbogus = 1\n", "### [sip]"),
        ("[ss7]\nbogus = 1\n", "### [ss7]"),
        ("[m3ua]\nbogus = 1\n", "### [m3ua]"),
        ("[simulator]\nbogus = 1\n", "### [simulator]"),
        (
            "[[simulator.answer]]\nbogus = 1\n",
            "#### [[simulator.answer]]",
        ),
        ("[metrics]\nbogus = 1\n", "### [metrics]"),
        ("[overload]\nbogus = 1\n", "### [overload]"),
        ("[log]\nbogus = 1\n", "### [log]"),
        ("[trace]\nbogus = 1\n", "### [trace]"),
        ("[call_timers]\nbogus = 1\n", "### [call_timers]"),
        (
            "[maintenance_timers]\nbogus = 1\n",
            "### [maintenance_timers]",
        ),
        ("[[peers]]\nbogus = 1\n", "### [[peers]]"),
        (
            "[[peers]]\nname = \"a\"\n[peers.digest]\nbogus = 1\n",
            "#### [peers.digest]",
        ),
        (
            "[[peers]]\nname = \"a\"\n[peers.cause_overrides]\nbogus = 1\n",
            "#### [peers.cause_overrides]",
        ),
        ("[[trunk_groups]]\nbogus = 1\n", "### [[trunk_groups]]"),
        (
            "[[trunk_groups]]\nname = \"a\"\n[trunk_groups.media]\nbogus = 1\n",
            "#### [trunk_groups.media]",
        ),
    ];
    let mut missing = Vec::new();
    let mut total = 0;
    for (probe, heading) in probes {
        let text = section(&doc, heading);
        for key in expected_keys(probe) {
            total += 1;
            if !text.contains(&format!("| `{key}` |")) {
                missing.push(format!("{heading}: `{key}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys missing from docs/operations.md: {missing:?}"
    );
    assert!(total >= 80, "only {total} keys checked");
}

#[test]
fn every_toml_example_parses() {
    let doc = doc();
    let mut blocks = 0;
    for (i, block) in doc.split("```toml\n").skip(1).enumerate() {
        let text = block.split("```").next().unwrap_or("");
        if let Err(e) = Config::parse(text, &format!("docs/operations.md toml block {}", i + 1)) {
            panic!("{e}\n{text}");
        }
        blocks += 1;
    }
    assert!(blocks >= 2, "{blocks} TOML examples");
}

/// Metric family names in an exposition (`# TYPE name kind`).
fn exported_families() -> BTreeSet<String> {
    let m = mgc::metrics::Metrics::new();
    // Labelled families appear once a series exists.
    m.isup(mgc::metrics::Direction::In, "IAM");
    m.sip_request(mgc::metrics::Direction::In, "INVITE");
    m.sip_response(mgc::metrics::Direction::Out, 200, "INVITE");
    m.call_releases.with_label_values(&["16", "sip"]).inc();
    m.circuits.with_label_values(&["tg", "idle"]).set(1);
    m.call_setup_seconds.with_label_values(&["ip_origination"]);
    m.call_answer_seconds.with_label_values(&["ip_origination"]);
    m.isup_timer_expiries.with_label_values(&["T7"]).inc();
    m.m3ua_message(&[1, 0, 3, 1, 0, 0, 0, 8]);
    m.render()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn metrics_reference_lists_every_family() {
    let doc = doc();
    let reference = section(&doc, "## 4. Metrics reference");
    let families = exported_families();
    assert!(families.len() >= 17, "{families:?}");
    for f in &families {
        assert!(
            reference.contains(&format!("| `{f}` |")),
            "metric {f} is not in the metrics reference"
        );
    }
    // And nothing documented that is not exported.
    for line in reference.lines().filter(|l| l.starts_with("| `")) {
        let name = line.split('`').nth(1).unwrap_or("");
        assert!(families.contains(name), "documented {name} is not exported");
    }
}

#[test]
fn grafana_dashboard_queries_name_exported_metrics() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana-mgc.json"
    ))
    .expect("docs/grafana-mgc.json");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let families = exported_families();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            exprs.push(t["expr"].as_str().expect("expr").to_string());
        }
    }
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    let mut used = BTreeSet::new();
    for e in &exprs {
        // A metric selector is an identifier directly followed by `{`.
        for (i, _) in e.match_indices('{') {
            let ident: String = e[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if ident.is_empty() {
                continue;
            }
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| ident.strip_suffix(s))
                .filter(|f| families.contains(*f))
                .unwrap_or(&ident)
                .to_string();
            assert!(
                families.contains(&family),
                "dashboard query uses {ident}, not exported: {e}"
            );
            used.insert(family);
        }
    }
    // The dashboard covers every family.
    let unused: Vec<_> = families.difference(&used).collect();
    assert!(unused.is_empty(), "not on the dashboard: {unused:?}");
}
