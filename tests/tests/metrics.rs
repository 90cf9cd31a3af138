//! `vigil replay --metrics-out` over a shared Cowrie file: the metrics pass
//! `promtool check metrics` and agree with the replay's summary; the dashboards' PromQL passes
//! `promtool check rules` and the scrape configuration `promtool check config`.
//!
//! `promtool` comes with the Debian package `prometheus` (`scripts/test` installs it). When it
//! is missing the test is skipped with a message, or fails when `CI` is set.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use vigil_tests::shared_file;

/// `promtool` on the `PATH`, or `None` (skip) when it is missing.
///
/// # Panics
/// When it is missing and `CI` is set.
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let message = "promtool is missing: install the Debian package `prometheus` (apt-get install -y prometheus; scripts/test does)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("skipping: {message}");
    }
    found
}

/// Runs `promtool ARGS`, feeding `stdin`; panics with its output when it fails.
fn promtool_ok(promtool: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(promtool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input
                .write_all(text.as_bytes())
                .expect("promtool reads stdin");
        }
    }
    let output = child.wait_with_output().expect("promtool finishes");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "promtool {args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // `check metrics` prints lint problems and still exits 0 with some versions.
    assert!(
        !stdout.contains("error") && !stderr.contains("error"),
        "promtool {args:?} reported problems:\n{stdout}\n{stderr}"
    );
    stdout
}

/// Samples of the text format: series (name and labels as written) to value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("a sample line has a value: {line}"));
            let value = value
                .parse()
                .unwrap_or_else(|e| panic!("value of {series} is a number ({e}): {line}"));
            (series.to_string(), value)
        })
        .collect()
}

/// Sum of every sample of `name` (any labels).
fn total(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| series.as_str() == name || series.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .sum()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn replay_metrics_pass_promtool_and_match_the_summary() {
    let Some(input) = shared_file("data/cowrie/seed-tpot-cowrie.json") else {
        return;
    };
    let Some(promtool) = promtool() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let metrics_path = dir.path().join("metrics.prom");
    let alerts_path = dir.path().join("alerts.ndjson");
    let summary = common::replay(
        &[
            "--metrics-out",
            metrics_path.to_str().expect("UTF-8 path"),
            "--alerts-out",
            alerts_path.to_str().expect("UTF-8 path"),
        ],
        &[&input],
    );
    let text = std::fs::read_to_string(&metrics_path).expect("--metrics-out wrote its file");
    promtool_ok(&promtool, &["check", "metrics"], Some(&text));

    let s = samples(&text);
    let count = |pointer: &str| common::count(&summary, pointer) as f64;
    assert!(count("/events_read") > 1000.0, "{summary}");
    assert_eq!(
        s.get("vigil_events_received_total"),
        Some(&count("/events_read"))
    );
    assert_eq!(
        s.get("vigil_events_parsed_total"),
        Some(&count("/events_parsed"))
    );
    assert_eq!(
        s.get("vigil_events_processed_total"),
        Some(&count("/events_parsed")),
        "every parsed event is decided by the end of a replay"
    );
    assert_eq!(
        total(&s, "vigil_events_rejected_total"),
        summary["events_rejected"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()) as f64
    );
    assert_eq!(
        s.get("vigil_sensor_events_total{sensor=\"cowrie\"}"),
        Some(&count("/events_parsed"))
    );
    // Alerts: the metric agrees with the summary and with the alerts file.
    let red = count("/alerts/red");
    let orange = count("/alerts/orange");
    assert!(red + orange > 0.0, "the seed file raises alerts: {summary}");
    assert_eq!(total(&s, "vigil_alerts_total"), red + orange);
    let red_series: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("vigil_alerts_total{") && k.contains("severity=\"red\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(red_series, red);
    let alert_lines = std::fs::read_to_string(&alerts_path)
        .expect("alerts file")
        .lines()
        .count() as f64;
    assert_eq!(s.get("vigil_store_alerts"), Some(&alert_lines));
    assert!(s.get("vigil_store_size_bytes").is_some_and(|b| *b > 0.0));
    for (detector, counts) in summary["by_detector"].as_object().expect("by_detector") {
        let alerts = counts["alerts"].as_u64().unwrap_or(0) as f64;
        let series: f64 = s
            .iter()
            .filter(|(k, _)| {
                k.starts_with("vigil_alerts_total{")
                    && k.contains(&format!("detector=\"{detector}\""))
            })
            .map(|(_, v)| v)
            .sum();
        assert_eq!(series, alerts, "alerts of {detector}");
        assert_eq!(
            s.get(&format!(
                "vigil_detector_events_scored_total{{detector=\"{detector}\"}}"
            )),
            Some(&(counts["events_scored"].as_u64().unwrap_or(0) as f64)),
            "events scored by {detector}"
        );
    }
    // Histograms: one latency observation per event; one pool score per event, all in [0, 1].
    assert_eq!(
        s.get("vigil_pipeline_latency_seconds_count"),
        Some(&count("/events_parsed"))
    );
    assert_eq!(
        s.get("vigil_detector_score_count{detector=\"pool\"}"),
        Some(&count("/events_parsed"))
    );
    assert_eq!(
        s.get("vigil_detector_score_bucket{detector=\"pool\",le=\"1\"}"),
        s.get("vigil_detector_score_count{detector=\"pool\"}"),
        "calibrated scores lie in [0, 1]"
    );
    // Drift decisions and the champion, by model kind only.
    assert_eq!(
        total(&s, "vigil_drift_decisions_total"),
        count("/drift_events_total")
    );
    let champions: Vec<_> = s
        .iter()
        .filter(|(k, _)| k.starts_with("vigil_pool_champion_info{"))
        .collect();
    let champion = summary["champion"]
        .as_str()
        .expect("the pool has a champion");
    let kind = champion.split('#').next().expect("kind#id");
    assert_eq!(
        champions,
        vec![(
            &format!("vigil_pool_champion_info{{model_kind=\"{kind}\"}}"),
            &1.0
        )],
        "one champion series, labelled with the model kind of {champion}"
    );
    assert!(
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .all(|line| !line.contains('#')),
        "a model id (kind#id) leaked into a label"
    );
    assert_eq!(
        s.get("vigil_sources_tracked"),
        Some(&count("/sources_tracked"))
    );
    for stage in ["features", "detector", "alerts"] {
        assert_eq!(
            s.get(&format!("vigil_mailbox_batches{{stage=\"{stage}\"}}")),
            Some(&0.0),
            "nothing is in flight to the {stage} stage once the replay has drained"
        );
    }
    assert!(s.keys().any(|k| k.starts_with("vigil_build_info{version=")));
}

/// Every PromQL expression of the dashboards, with Grafana's variables replaced by values.
fn dashboard_expressions() -> Vec<(String, String)> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("expr", Value::String(expr)) => out.push(expr.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    for name in ["overview.json", "models.json"] {
        let path = repo().join("grafana/dashboards").join(name);
        let board: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name} reads: {e}")),
        )
        .unwrap_or_else(|e| panic!("{name} is JSON: {e}"));
        let mut exprs = Vec::new();
        walk(&board, &mut exprs);
        for expr in exprs {
            let concrete = expr
                .replace("$__rate_interval", "1m")
                .replace("$__interval", "15s")
                .replace("$__range", "6h")
                .replace("$instance", ".*");
            assert!(
                !concrete.contains('$'),
                "{name}: `{expr}` uses a variable the check does not know"
            );
            all.push((name.to_string(), concrete));
        }
    }
    all
}

#[test]
fn dashboard_queries_and_scrape_config_pass_promtool() {
    let Some(promtool) = promtool() else {
        return;
    };
    let exprs = dashboard_expressions();
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    let mut rules = String::from("groups:\n  - name: vigil_dashboards\n    rules:\n");
    for (i, (name, expr)) in exprs.iter().enumerate() {
        let quoted = serde_json::to_string(expr).expect("a string serialises");
        rules.push_str(&format!(
            "      - record: vigil_dashboard:{}:query{i}\n        expr: {quoted}\n",
            name.trim_end_matches(".json")
        ));
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let rules_path = dir.path().join("dashboards.rules.yml");
    std::fs::write(&rules_path, &rules).expect("rules file written");
    let out = promtool_ok(
        &promtool,
        &["check", "rules", rules_path.to_str().expect("UTF-8 path")],
        None,
    );
    assert!(
        out.contains(&format!("{} rules found", exprs.len())),
        "promtool read every query: {out}"
    );
    let config = repo().join("grafana/prometheus.yml");
    promtool_ok(
        &promtool,
        &["check", "config", config.to_str().expect("UTF-8 path")],
        None,
    );
}
