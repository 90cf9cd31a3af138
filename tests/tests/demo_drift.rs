//! The pool on the demo generator's lasting change of normal behaviour, with the demo's
//! labels as feedback: a drift decision follows the change within 2,000 events, and the
//! model that leads afterwards is not the one that led before.

use std::process::Command;

use serde_json::Value;
use vigil_tests::vigil_bin;

/// Where the change begins, in event seconds after the start.
const CHANGE_AFTER_SECS: u32 = 1_500;

#[test]
fn the_pool_answers_the_demo_behaviour_change_with_a_new_champion() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scores = dir.path().join("scores.ndjson");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            r#"[demo]
drift_after_secs = {CHANGE_AFTER_SECS}
drift_ramp_secs = 1
[outputs]
scores_ndjson = "{}"
"#,
            scores.display()
        ),
    )
    .expect("write config");
    let output = Command::new(vigil_bin())
        .args([
            "demo",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--acceleration",
            "1000000",
            "--event-secs",
            &(CHANGE_AFTER_SECS + 400).to_string(),
        ])
        .output()
        .expect("vigil demo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "vigil demo failed: {stderr}");
    let summary: Value = stderr
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON summary on stderr: {stderr}"));

    // The change: the first event of the new service; the champion just before it.
    let lines: Vec<Value> = std::fs::read_to_string(&scores)
        .expect("score log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("score lines are JSON"))
        .collect();
    let change = lines
        .iter()
        .position(|l| l["label"] == "new_service")
        .expect("the demo's behaviour change happened");
    let change_seq = lines[change]["seq"].as_u64().expect("seq");
    let champion_before = lines[change - 1]["champion"]
        .as_str()
        .expect("a champion before the change");

    let drift_events = summary["drift_events"].as_array().expect("drift_events");
    let answer = drift_events
        .iter()
        .filter(|e| e["kind"] == "drift_detected")
        .find(|e| e["seq"].as_u64().is_some_and(|seq| seq >= change_seq))
        .unwrap_or_else(|| {
            panic!("no drift detected after the change at event {change_seq}: {drift_events:#?}")
        });
    let answered_at = answer["seq"].as_u64().expect("seq");
    assert!(
        answered_at - change_seq <= 2_000,
        "drift detected {} events after the change (at {answered_at}, change at {change_seq}): {answer}",
        answered_at - change_seq
    );
    let champion_after = lines
        .iter()
        .find(|l| l["seq"].as_u64().is_some_and(|seq| seq > answered_at))
        .and_then(|l| l["champion"].as_str())
        .expect("events after the drift decision");
    assert_ne!(
        champion_after, champion_before,
        "the champion did not change: {answer}"
    );
}
