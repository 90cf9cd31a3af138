//! Bad input to the binary gets a clear error that names what is wrong.

mod common;

use std::process::Command;

use vigil_tests::vigil_bin;

fn fails_with(args: &[&str], needle: &str) {
    let output = Command::new(vigil_bin())
        .args(args)
        .output()
        .expect("vigil runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "vigil {args:?} should fail");
    assert!(
        stderr.contains(needle),
        "vigil {args:?}: stderr should name {needle:?}: {stderr}"
    );
}

#[test]
fn missing_replay_file_is_named() {
    fails_with(
        &["replay", "/nonexistent/cowrie.json"],
        "/nonexistent/cowrie.json",
    );
}

#[test]
fn bad_config_names_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("[pipeline]\nbatch_max_event = 5\n", "batch_max_event"),
        ("[severity]\nred = 0.5\norange = 0.9\n", "severity.red"),
        ("[sources.hp]\ntype = \"file\"\n", "sources.hp.path"),
        (
            "[features]\nipv6_source_prefix = 0\n",
            "features.ipv6_source_prefix",
        ),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&path, text).expect("write config");
        let path = path.to_str().expect("utf-8 path");
        fails_with(&["check-config", path], field);
        fails_with(&["replay", "--config", path, "/dev/null"], field);
    }
}

#[test]
fn shipped_config_is_valid() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/vigil.toml");
    let output = Command::new(vigil_bin())
        .args(["check-config", config])
        .output()
        .expect("vigil runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn unknown_format_is_refused() {
    fails_with(&["replay", "--format", "syslog", "/dev/null"], "syslog");
}
