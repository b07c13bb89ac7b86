//! `mgc check-config FILE`: the error names the file, the line and the key once.

use std::process::Command;

fn check_config(text: &str, name: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("mgc-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_mgc"))
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run mgc");
    let _ = std::fs::remove_file(&path);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn parse_error_is_printed_once() {
    let (ok, err) = check_config("[sip]\nlistn = 1\n", "parse.toml");
    assert!(!ok);
    assert_eq!(err.matches("unknown field `listn`").count(), 1, "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn validation_error_names_path_and_line() {
    let text = mgc::config::DEFAULT_TOML.replace("rtp_port_min = 20000", "rtp_port_min = 30000");
    let line = 1 + text
        .lines()
        .position(|l| l.starts_with("rtp_port_min"))
        .expect("rtp_port_min in the default");
    let (ok, err) = check_config(&text, "media.toml");
    assert!(!ok);
    assert!(
        err.trim_end().ends_with(&format!(
            "media.toml: line {line}: trunk_groups[0].media.rtp_port_min: rtp_port_min above \
             rtp_port_max"
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
