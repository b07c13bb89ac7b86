//! The TOML examples in docs/ss7sim.md and the shipped scenarios parse, and the documented
//! configuration defaults are the real ones.

use std::path::PathBuf;

use ss7sim::Config;
use ss7sim::scenario::Scenario;

fn toml_blocks() -> Vec<String> {
    let doc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/ss7sim.md");
    let text = std::fs::read_to_string(doc).expect("docs/ss7sim.md");
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line.trim_start()) {
            (None, "```toml") => cur = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn documented_config_is_the_default_and_scenarios_parse() {
    let blocks = toml_blocks();
    let config = blocks
        .iter()
        .find(|b| b.contains("local_pc"))
        .expect("a config example");
    let mut parsed = Config::from_toml(config).expect("the documented config parses");
    assert_eq!(parsed.answer.len(), 2);
    parsed.answer.clear();
    assert_eq!(
        parsed,
        Config::default(),
        "the documented values are the defaults"
    );
    let scenarios: Vec<&String> = blocks.iter().filter(|b| b.contains("[[step]]")).collect();
    assert!(!scenarios.is_empty());
    for s in scenarios {
        Scenario::from_toml(s).expect("documented scenario parses");
    }
}

#[test]
fn shipped_scenarios_parse() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            Scenario::from_toml(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert_eq!(n, 4);
}
