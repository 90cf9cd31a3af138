//! Detector plugins in the real `vigil replay`: the two example plugins, enabled in the
//! config, score every event beside the built-in models (`by_detector` in the summary, their
//! model scores in the metrics); a faulty plugin is disabled after `max_failures` while the
//! daemon keeps alerting.

mod common;
mod plugin_support;

use common::replay;
use plugin_support::{plugin_dir, sample};
use vigil_tests::shared_file;

const COWRIE: &str = "data/cowrie/seed-tpot-cowrie.json";

#[test]
fn replay_scores_every_event_with_both_example_plugins() {
    let Some(input) = shared_file(COWRIE) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir(dir.path(), &["vigil-plugin-minimal", "vigil-plugin-loda"]);
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\ndir = \"{}\"\n[plugins.enabled.loda]\nwarm_up_events = 256\nconfig = {{ seed = 7, projections = 50 }}\n[plugins.enabled.running-z]\n",
            plugins.display()
        ),
    )
    .expect("config");
    let metrics = dir.path().join("metrics.prom");
    let summary = replay(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--alerts-out",
            dir.path().join("alerts.ndjson").to_str().expect("utf-8"),
            "--metrics-out",
            metrics.to_str().expect("utf-8"),
        ],
        &[&input],
    );
    let by = &summary["counts"]["by_detector"];
    let by = if by.is_null() {
        &summary["by_detector"]
    } else {
        by
    };
    let pool = by["pool"]["events_scored"]
        .as_u64()
        .expect("the pool scored");
    assert!(pool > 1_000, "{summary}");
    for plugin in ["plugin:loda", "plugin:running-z"] {
        assert_eq!(
            by[plugin]["events_scored"].as_u64(),
            Some(pool),
            "{plugin} scored every event the pool scored: {by}"
        );
    }
    let text = std::fs::read_to_string(&metrics).expect("metrics written");
    for kind in ["plugin:loda", "plugin:running-z"] {
        let count = sample(
            &text,
            &format!("vigil_model_score_count{{model_kind=\"{kind}\"}}"),
        );
        assert_eq!(count, Some(pool as f64), "{kind} in /metrics");
        assert_eq!(
            sample(
                &text,
                &format!("vigil_detector_events_scored_total{{detector=\"{kind}\"}}")
            ),
            Some(pool as f64)
        );
    }
    for plugin in ["loda", "running-z"] {
        assert_eq!(
            sample(
                &text,
                &format!("vigil_plugin_failures_total{{plugin=\"{plugin}\"}}")
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                &format!("vigil_plugin_disabled{{plugin=\"{plugin}\"}}")
            ),
            Some(0.0)
        );
    }
}

#[test]
fn a_faulty_plugin_is_disabled_after_max_failures_and_alerts_keep_coming() {
    let Some(input) = shared_file(COWRIE) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir(dir.path(), &["vigil-plugin-faulty"]);
    let alerts_without = dir.path().join("without.ndjson");
    let base = "[features]\nlogin_window_secs = 30\n[rules.brute_force]\nmin_failed_logins = 5\n";
    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, base).expect("config");
    let without = replay(
        &[
            "--config",
            plain.to_str().expect("utf-8"),
            "--alerts-out",
            alerts_without.to_str().expect("utf-8"),
        ],
        &[&input],
    );
    // The plugin panics at row 100, then (not having learned it) fails there again: three
    // failures in a row disable it at the third.
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "{base}[plugins]\ndir = \"{}\"\nmax_failures = 3\n[plugins.enabled.faulty]\nconfig = {{ panic_on = [100], nan_on = [], fail_on = [] }}\n[pool]\nmodels = [\"plugin:faulty\", \"hst\"]\n",
            plugins.display()
        ),
    )
    .expect("config");
    let metrics = dir.path().join("metrics.prom");
    let alerts_with = dir.path().join("with.ndjson");
    let summary = replay(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--alerts-out",
            alerts_with.to_str().expect("utf-8"),
            "--metrics-out",
            metrics.to_str().expect("utf-8"),
        ],
        &[&input],
    );
    let by = &summary["by_detector"];
    let pool = by["pool"]["events_scored"]
        .as_u64()
        .expect("the pool scored");
    assert_eq!(
        by["plugin:faulty"]["events_scored"].as_u64(),
        Some(100),
        "{by}"
    );
    let events = summary["drift_events"].as_array().expect("drift events");
    let disabled = events
        .iter()
        .find(|e| {
            e["kind"] == "retired"
                && e["model"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("plugin:faulty"))
        })
        .unwrap_or_else(|| panic!("no disabling in {events:#?}"));
    let reason = disabled["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("disabled after 3 failures (max_failures 3)"),
        "{reason}"
    );
    assert!(reason.contains("panic"), "{reason}");
    // It led; Half-Space Trees lead from the event that disabled it.
    let seq = disabled["seq"].as_u64().expect("seq");
    assert!(
        events.iter().any(|e| e["kind"] == "champion_changed"
            && e["seq"].as_u64() == Some(seq)
            && e["model"].as_str().is_some_and(|m| m.starts_with("hst#"))),
        "{events:#?}"
    );
    assert!(
        summary["champion"]
            .as_str()
            .is_some_and(|c| c.starts_with("hst#"))
    );
    assert!(pool > 1_000);
    // The rules alert exactly as without the plugin.
    let brute =
        |summary: &serde_json::Value| summary["by_detector"]["brute_force"]["alerts"].as_u64();
    assert!(brute(&without).unwrap_or(0) > 0, "{without}");
    assert_eq!(brute(&summary), brute(&without));
    let text = std::fs::read_to_string(&metrics).expect("metrics");
    assert_eq!(
        sample(&text, "vigil_plugin_failures_total{plugin=\"faulty\"}"),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "vigil_plugin_disabled{plugin=\"faulty\"}"),
        Some(1.0)
    );
}
