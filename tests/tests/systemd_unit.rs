//! `config/vigil.service` against the real binary: systemd accepts the unit, and the
//! commands it runs are ones `vigil` takes (its `check-config` line passes on the shipped
//! default config).

use std::path::Path;
use std::process::Command;

use vigil_tests::vigil_bin;

const UNIT: &str = include_str!("../../config/vigil.service");
const INSTALLED_BINARY: &str = "/usr/local/bin/vigil";
const INSTALLED_CONFIG: &str = "/etc/vigil/vigil.toml";

/// The unit's `KEY=` lines' values.
fn values(key: &str) -> impl Iterator<Item = &str> {
    UNIT.lines()
        .filter_map(move |line| line.strip_prefix(key)?.strip_prefix('='))
}

/// The unit with the binary and config paths pointing at this build and `config`.
fn localised(config: &Path) -> String {
    UNIT.replace(INSTALLED_BINARY, vigil_bin().to_str().expect("utf-8"))
        .replace(INSTALLED_CONFIG, config.to_str().expect("utf-8"))
}

#[test]
fn the_units_commands_are_ones_vigil_takes() {
    let default_config = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/vigil.toml");
    let pre: Vec<&str> = values("ExecStartPre").collect();
    assert_eq!(pre.len(), 1, "one ExecStartPre");
    let start: Vec<&str> = values("ExecStart").collect();
    assert_eq!(
        start,
        [format!(
            "{INSTALLED_BINARY} run --config {INSTALLED_CONFIG}"
        )]
    );

    // The pre-start check, run as the unit would, on the shipped config.
    let words: Vec<&str> = pre[0].split_whitespace().collect();
    assert_eq!(words[0], INSTALLED_BINARY);
    let args: Vec<&str> = words[1..]
        .iter()
        .map(|w| {
            if *w == INSTALLED_CONFIG {
                default_config
            } else {
                w
            }
        })
        .collect();
    let output = Command::new(vigil_bin())
        .args(&args)
        .output()
        .expect("vigil runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The stop timeout leaves room for the graceful shutdown's steps.
    let timeout: u64 = values("TimeoutStopSec")
        .next()
        .and_then(|v| v.parse().ok())
        .expect("TimeoutStopSec in seconds");
    assert!(timeout >= 30, "{timeout}");
    assert_eq!(values("KillSignal").next(), Some("SIGTERM"));
}

#[test]
fn systemd_accepts_the_unit() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but systemd-analyze is missing (Debian package systemd)"
        );
        eprintln!("skipped: systemd-analyze not found");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "").expect("config");
    let unit = dir.path().join("vigil.service");
    std::fs::write(&unit, localised(&config)).expect("unit");
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Unknown keys and bad values are warnings, not failures, for `verify`.
    assert!(
        !stderr.contains("Unknown key") && !stderr.contains("Failed to parse"),
        "{stderr}"
    );
}
