//! The brute-force rule, run through `vigil replay` over real Cowrie logs, alerts on exactly
//! the sources that reach the configured number of failed logins inside the login window.
//! The expected set is computed here from the raw JSON, independently of Vigil.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use chrono::{DateTime, Utc};
use common::replay;
use serde_json::Value;
use vigil_tests::shared_file;

const WINDOW_MICROS: i64 = 30_000_000;

/// Sources with at least `threshold` failed logins within some window `(t - 30 s, t]`.
fn expected_sources(text: &str, threshold: usize) -> BTreeSet<String> {
    let mut failures: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["eventid"] != "cowrie.login.failed" {
            continue;
        }
        let (Some(ip), Some(ts)) = (v["src_ip"].as_str(), v["timestamp"].as_str()) else {
            continue;
        };
        let t: DateTime<Utc> = ts.parse().expect("Cowrie timestamps are RFC 3339");
        failures
            .entry(ip.to_string())
            .or_default()
            .push(t.timestamp_micros());
    }
    failures
        .into_iter()
        .filter(|(_, times)| {
            let mut times = times.clone();
            times.sort_unstable();
            let mut lo = 0;
            (0..times.len()).any(|hi| {
                while times[hi] - times[lo] >= WINDOW_MICROS {
                    lo += 1;
                }
                hi + 1 - lo >= threshold
            })
        })
        .map(|(ip, _)| ip)
        .collect()
}

fn alerted_sources(alerts: &str, detector: &str) -> BTreeSet<String> {
    alerts
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("alerts are JSON lines"))
        .filter(|a| a["detector"] == detector)
        .map(|a| {
            a["src_ip"]
                .as_str()
                .expect("brute-force alerts name the source")
                .to_string()
        })
        .collect()
}

#[test]
fn brute_force_alerts_exactly_the_sources_over_threshold() {
    for rel in [
        "data/cowrie/seed-tpot-cowrie.json",
        "data/cowrie/scriptzteam-2017/cowrie.json.2017_11_4",
    ] {
        let Some(path) = shared_file(rel) else {
            return;
        };
        let text = std::fs::read_to_string(&path).expect("log is UTF-8");
        for threshold in [10usize, 20] {
            let expected = expected_sources(&text, threshold);
            assert!(
                !expected.is_empty(),
                "{rel} has sources with {threshold}+ failed logins in 30 s"
            );
            let dir = tempfile::tempdir().expect("temp dir");
            let config = dir.path().join("vigil.toml");
            let mut f = std::fs::File::create(&config).expect("config file");
            writeln!(
                f,
                "[features]\nlogin_window_secs = 30\n[rules.brute_force]\nmin_failed_logins = {threshold}"
            )
            .expect("write config");
            let alerts = dir.path().join("alerts.ndjson");
            let summary = replay(
                &[
                    "--config",
                    config.to_str().expect("utf-8 path"),
                    "--alerts-out",
                    alerts.to_str().expect("utf-8 path"),
                ],
                &[&path],
            );
            let got = alerted_sources(
                &std::fs::read_to_string(&alerts).expect("alerts file"),
                "brute_force",
            );
            assert_eq!(got, expected, "{rel} at threshold {threshold}: {summary}");
        }
    }
}
