//! `vigil replay --format auto` over every shared honeypot and IDS log parses every
//! well-formed JSON object, and the counts are checked against plain `serde_json`.

mod common;

use std::path::Path;

use common::{count, files_below, replay};
use serde_json::Value;
use vigil_tests::shared_file;

/// What plain serde_json finds in a file: (well-formed objects, Suricata stats records,
/// lines that do not parse).
fn independent_counts(path: &Path) -> (u64, u64, u64) {
    let bytes = std::fs::read(path).expect("data file is readable");
    let text = String::from_utf8_lossy(&bytes);
    let mut objects = Vec::new();
    let mut broken = 0;
    if text.trim_start().starts_with('[') {
        let all: Vec<Value> = serde_json::from_str(&text).expect("array files are valid JSON");
        objects = all;
    } else {
        for line in text.split('\n') {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(v) if v.is_object() => objects.push(v),
                _ => broken += 1,
            }
        }
    }
    let stats = objects
        .iter()
        .filter(|o| o.get("event_type").and_then(Value::as_str) == Some("stats"))
        .count() as u64;
    (objects.len() as u64 - stats, stats, broken)
}

#[test]
fn every_sensor_log_is_parsed_completely() {
    let Some(data) = shared_file("data") else {
        return;
    };
    let mut checked = 0;
    for sensor in ["cowrie", "dionaea", "suricata", "tanner"] {
        for file in files_below(&data.join(sensor)) {
            let (events, stats, broken) = independent_counts(&file);
            let summary = replay(&["--format", "auto", "--alerts-out", "/dev/null"], &[&file]);
            let name = file.display();
            assert_eq!(
                count(&summary, "/events_parsed"),
                events,
                "events_parsed of {name}"
            );
            assert_eq!(
                count(&summary, "/records_skipped/suricata_stats"),
                stats,
                "stats records of {name}"
            );
            let rejected: u64 = summary["events_rejected"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0);
            assert_eq!(
                rejected, broken,
                "rejections of {name}: {}",
                summary["events_rejected"]
            );
            assert_eq!(
                count(&summary, &format!("/by_sensor/{sensor}")),
                events,
                "by_sensor of {name}"
            );
            assert_eq!(
                count(&summary, "/events_read"),
                events + stats + broken,
                "events_read of {name}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 15,
        "expected the shared logs, found {checked} files"
    );
}

#[test]
fn truncated_last_cowrie_line_is_counted_under_a_reason() {
    let Some(file) = shared_file("data/cowrie/scriptzteam-2017/cowrie.json") else {
        return;
    };
    let summary = replay(&["--alerts-out", "/dev/null"], &[&file]);
    assert_eq!(
        count(&summary, "/events_rejected/truncated_record"),
        1,
        "{summary}"
    );
    assert_eq!(count(&summary, "/events_parsed"), 6073);
}
