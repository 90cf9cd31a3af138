//! The pool makes a plugin champion when it is the best model, by its error stream: on a
//! labelled stream where a running z-score separates the classes and the built-in online
//! models do badly (a dense cluster of attacks they learn as normal mass), `vigil eval
//! --detector pool` with label feedback starts with Half-Space Trees leading and hands the
//! lead to `plugin:running-z` because its error rate is lower, with all three scoring.

mod common;
mod plugin_support;

use common::vigil_ok;
use plugin_support::plugin_dir;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// 4,000 rows of three features: normal traffic around 0 (sd 1), every fifth row an attack
/// from a tight cluster around 8.
fn write_stream(path: &std::path::Path) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut normal = || {
        // Box-Muller.
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let mut text = String::from("f0,f1,f2,label\n");
    for i in 0..4_000 {
        let attack = i % 5 == 4;
        let row: Vec<String> = (0..3)
            .map(|_| {
                let v = if attack {
                    8.0 + 0.3 * normal()
                } else {
                    normal()
                };
                format!("{v:.5}")
            })
            .collect();
        text.push_str(&row.join(","));
        text.push_str(if attack { ",attack\n" } else { ",normal\n" });
    }
    std::fs::write(path, text).expect("write the stream");
}

fn eval(args: &[&str], file: &std::path::Path) -> Value {
    let mut all = vec!["eval", "--format", "csv"];
    all.extend_from_slice(args);
    all.push(file.to_str().expect("utf-8"));
    let output = vigil_ok(&all);
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn the_pool_makes_the_plugin_champion_by_its_error_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("stream.csv");
    write_stream(&data);
    let plugins = plugin_dir(dir.path(), &["vigil-plugin-minimal"]);
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[pool]\nmodels = [\"hst\", \"online-ocsvm\"]\n[feedback]\nfrom_labels = true\n[plugins]\ndir = \"{}\"\n[plugins.enabled.running-z]\n",
            plugins.display()
        ),
    )
    .expect("config");
    // The built-in models alone do badly here.
    let hst = eval(&["--detector", "hst"], &data);
    assert!(hst["roc_auc"].as_f64().expect("auc") < 0.9, "{hst}");

    let pool = eval(
        &[
            "--detector",
            "pool",
            "--config",
            config.to_str().expect("utf-8"),
        ],
        &data,
    );
    let params = &pool["params"];
    assert_eq!(
        params["models"],
        serde_json::json!(["hst", "online-ocsvm", "plugin:running-z"])
    );
    let events = pool["drift_events"].as_array().expect("drift events");
    let first = events
        .iter()
        .find(|e| e["kind"] == "champion_changed")
        .unwrap_or_else(|| panic!("no champion change: {events:#?}"));
    assert!(
        first["champion_before"]
            .as_str()
            .is_some_and(|c| c.starts_with("hst#"))
    );
    let model = first["model"].as_str().expect("model");
    assert!(model.starts_with("plugin:running-z#"), "{first}");
    let reason = first["reason"].as_str().expect("reason");
    assert!(reason.contains("error rate"), "{reason}");
    assert!(
        params["final_champion"]
            .as_str()
            .is_some_and(|c| c.starts_with("plugin:running-z#")),
        "{params}"
    );
    // Every model kept scoring; the plugin's error rate is the lowest by far.
    let estimates: Vec<(String, f64)> = params["final_models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| {
            (
                m["model"].as_str().unwrap_or_default().to_string(),
                m["estimate"].as_f64().unwrap_or(1.0),
            )
        })
        .collect();
    assert_eq!(estimates.len(), 3, "{estimates:?}");
    let plugin = estimates
        .iter()
        .find(|(m, _)| m.starts_with("plugin:"))
        .expect("plugin")
        .1;
    for (model, estimate) in &estimates {
        if !model.starts_with("plugin:") {
            assert!(plugin + 0.1 < *estimate, "{estimates:?}");
        }
    }
    assert!(pool["roc_auc"].as_f64().expect("auc") > 0.95, "{pool}");
}
