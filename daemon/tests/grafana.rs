//! The Grafana dashboards query only metrics Vigil exports, and `docs/metrics.md` documents
//! every metric it exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vigil::metrics::{BuildInfo, Metrics};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dashboard(name: &str) -> Value {
    let path = repo().join("grafana/dashboards").join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} reads: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is JSON: {e}", path.display()))
}

/// Every PromQL expression of a dashboard: panel targets (`expr`) and template variable
/// queries, with the JSON path they were found at.
fn expressions(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{path}.{key}");
                match (key.as_str(), v) {
                    ("expr" | "definition", Value::String(expr)) => out.push((here, expr.clone())),
                    ("query", Value::String(expr)) if expr.contains('(') => {
                        out.push((here, expr.clone()))
                    }
                    _ => expressions(v, &here, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                expressions(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The `vigil_*` names an expression uses.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(found) = expr[i..].find("vigil_") {
        let start = i + found;
        let preceded = start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b':');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if !preceded {
            names.push(expr[start..end].to_string());
        }
        i = end;
    }
    names
}

fn exported_series() -> BTreeSet<String> {
    Metrics::new(&BuildInfo::current())
        .families()
        .iter()
        .flat_map(|f| f.series_names())
        .collect()
}

#[test]
fn metric_names_are_found_in_expressions() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.9, sum by (le) (rate(vigil_a_bucket{x=\"vigil_no\"}[1m]))) / vigil_b"
        ),
        vec!["vigil_a_bucket", "vigil_no", "vigil_b"]
    );
    assert!(metric_names("job:vigil_x:rate5m").is_empty());
}

#[test]
fn dashboards_query_only_exported_metrics() {
    let exported = exported_series();
    for name in ["overview.json", "models.json"] {
        let board = dashboard(name);
        assert!(
            board["uid"].as_str().is_some_and(|uid| !uid.is_empty()),
            "{name} has a uid"
        );
        let mut exprs = Vec::new();
        expressions(&board, "", &mut exprs);
        assert!(exprs.len() >= 8, "{name} has only {} queries", exprs.len());
        for (path, expr) in &exprs {
            let names = metric_names(expr);
            assert!(
                !names.is_empty(),
                "{name} {path}: `{expr}` uses no Vigil metric"
            );
            for metric in names {
                assert!(
                    exported.contains(&metric),
                    "{name} {path}: `{expr}` uses {metric}, which Vigil does not export"
                );
            }
            let squashed: String = expr.split_whitespace().collect();
            assert!(
                !squashed.contains("orvector("),
                "{name} {path}: `{expr}` pads with `or vector(...)`"
            );
        }
    }
}

#[test]
fn dashboards_cover_what_operators_look_at() {
    let uses = |name: &str| -> BTreeSet<String> {
        let mut exprs = Vec::new();
        expressions(&dashboard(name), "", &mut exprs);
        exprs.iter().flat_map(|(_, e)| metric_names(e)).collect()
    };
    let overview = uses("overview.json");
    for metric in [
        "vigil_events_processed_total",
        "vigil_events_rejected_total",
        "vigil_alerts_total",
        "vigil_pipeline_latency_seconds_bucket",
        "vigil_sources_tracked",
        "vigil_mailbox_batches",
        "vigil_store_size_bytes",
    ] {
        assert!(overview.contains(metric), "overview.json lacks {metric}");
    }
    let models = uses("models.json");
    for metric in [
        "vigil_detector_score_bucket",
        "vigil_model_score_bucket",
        "vigil_drift_decisions_total",
        "vigil_pool_champion_info",
        "vigil_alerts_total",
    ] {
        assert!(models.contains(metric), "models.json lacks {metric}");
    }
    let mut latency = Vec::new();
    expressions(&dashboard("overview.json"), "", &mut latency);
    assert!(
        latency.iter().any(|(_, e)| e.contains("histogram_quantile")
            && e.contains("vigil_pipeline_latency_seconds_bucket")),
        "latency quantiles come from the histogram"
    );
}

#[test]
fn dashboards_use_the_provisioned_data_source() {
    let provisioned =
        std::fs::read_to_string(repo().join("grafana/provisioning/datasources/prometheus.yml"))
            .expect("the data source provisioning file reads");
    let uid = "vigil-prometheus";
    assert!(provisioned.contains(&format!("uid: {uid}")));
    for name in ["overview.json", "models.json"] {
        let board = dashboard(name);
        let variables = board["templating"]["list"].as_array().expect("templating");
        let datasource = variables
            .iter()
            .find(|v| v["type"] == "datasource")
            .unwrap_or_else(|| panic!("{name} has a data source variable"));
        assert_eq!(datasource["current"]["value"], uid, "{name}");
    }
    let providers =
        std::fs::read_to_string(repo().join("grafana/provisioning/dashboards/vigil.yml"))
            .expect("the dashboard provider file reads");
    assert!(providers.contains("type: file"));
}

#[test]
fn docs_list_every_metric() {
    let docs = std::fs::read_to_string(repo().join("docs/metrics.md")).expect("docs/metrics.md");
    for family in Metrics::new(&BuildInfo::current()).families() {
        let row = docs
            .lines()
            .find(|line| line.starts_with(&format!("| `{}`", family.name)))
            .unwrap_or_else(|| panic!("docs/metrics.md has no row for {}", family.name));
        assert!(
            row.contains(family.kind.name()),
            "docs/metrics.md gives {} another type than {}: {row}",
            family.name,
            family.kind.name()
        );
        for label in &family.labels {
            assert!(
                row.contains(&format!("`{label}`")),
                "docs/metrics.md does not name the label {label} of {}: {row}",
                family.name
            );
        }
    }
}
