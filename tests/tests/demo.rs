//! `vigil demo` runs the generator through the real pipeline and raises alerts.

mod common;

use std::process::Command;

use vigil_tests::vigil_bin;

#[test]
fn short_demo_raises_labelled_alerts_and_exits_cleanly() {
    let output = Command::new(vigil_bin())
        .args(["demo", "--duration", "4", "--acceleration", "900"])
        .output()
        .expect("vigil runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("RED") || l.starts_with("ORANGE")),
        "an hour of demo traffic holds attacks: stdout {stdout}\nstderr {stderr}"
    );
    let summary_line = stderr.lines().last().expect("a final summary");
    let summary: serde_json::Value =
        serde_json::from_str(summary_line).expect("final summary is JSON");
    assert!(
        summary["events_parsed"].as_u64().unwrap_or(0) > 1000,
        "{summary}"
    );
    assert!(
        summary["labels"]["normal"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
}
