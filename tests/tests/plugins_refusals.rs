//! Plugins the daemon must refuse: a library of another ABI version, one without the entry
//! symbol, a file that is not a library, and a plugin whose `create` refuses its config.
//! The real `vigil run` starts without them (and with the good one), names each file and
//! reason in its log, and so do `vigil plugins list` and `GET /api/v1/plugins`.

mod common;
mod plugin_support;

use common::vigil_ok;
use plugin_support::{plugin_dir, request, run_config, start, wait_metrics};
use serde_json::Value;
use vigil_tests::shared_file;

const COWRIE: &str = "data/cowrie/seed-tpot-cowrie.json";

/// (file name, reason fragment) of every refusal.
fn expected(dir: &std::path::Path) -> Vec<(String, &'static str)> {
    let file = |krate: &str| {
        dir.join(vigil_plugin_host::locate::library_file_name(krate))
            .display()
            .to_string()
    };
    vec![
        (
            file("vigil-plugin-fixture-wrong-abi"),
            "plugin ABI version 999, but this vigil speaks version 1",
        ),
        (
            file("vigil-plugin-fixture-no-entry"),
            "missing symbol vigil_plugin_entry",
        ),
        (
            dir.join(format!("libgarbage.{}", std::env::consts::DLL_EXTENSION))
                .display()
                .to_string(),
            "not a library",
        ),
        (
            file("vigil-plugin-loda"),
            "create failed (invalid config): invalid config: projections must be 1 to 10000, got 0",
        ),
    ]
}

fn check_rows(rows: &[Value], dir: &std::path::Path) {
    for (path, reason) in expected(dir) {
        let row = rows
            .iter()
            .find(|r| r["path"].as_str() == Some(path.as_str()))
            .unwrap_or_else(|| panic!("no row for {path}: {rows:#?}"));
        assert_eq!(row["status"], "refused", "{row}");
        assert!(
            row["reason"].as_str().is_some_and(|r| r.contains(reason)),
            "{path}: {row}"
        );
        assert_eq!(row["in_pool"], false);
    }
    let good = rows
        .iter()
        .find(|r| r["name"] == "running-z")
        .unwrap_or_else(|| panic!("no running-z row: {rows:#?}"));
    assert_eq!(
        (&good["status"], &good["in_pool"], &good["reason"]),
        (&Value::from("loaded"), &Value::from(true), &Value::Null)
    );
    let loda = rows.iter().find(|r| r["name"] == "loda").expect("loda row");
    assert_eq!(loda["enabled"], true);
}

#[test]
fn refused_plugins_are_named_in_the_log_the_list_and_the_api() {
    let Some(input) = shared_file(COWRIE) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir(
        dir.path(),
        &[
            "vigil-plugin-fixture-wrong-abi",
            "vigil-plugin-fixture-no-entry",
            "vigil-plugin-loda",
            "vigil-plugin-minimal",
        ],
    );
    std::fs::write(
        plugins.join(format!("libgarbage.{}", std::env::consts::DLL_EXTENSION)),
        b"this is not a shared library\n",
    )
    .expect("garbage");
    let extra = format!(
        "[plugins]\ndir = \"{}\"\n[plugins.enabled.loda]\nconfig = {{ projections = 0 }}\n[plugins.enabled.running-z]\n",
        plugins.display()
    );
    let config = run_config(dir.path(), &input, &extra);

    // The CLI, before anything runs.
    let listed = vigil_ok(&[
        "plugins",
        "list",
        "--config",
        config.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("one JSON object");
    check_rows(listed["plugins"].as_array().expect("rows"), &plugins);
    let table = vigil_ok(&["plugins", "list", "--dir", plugins.to_str().expect("utf-8")]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("plugin ABI version 999"), "{table}");
    assert!(
        table.contains("missing symbol vigil_plugin_entry"),
        "{table}"
    );

    // The daemon starts without them, scores with the good one, and logs each refusal.
    let running = start(&config, &dir.path().join("vigil.log"));
    let metrics = wait_metrics(&running, |text| {
        plugin_support::sample(
            text,
            "vigil_detector_events_scored_total{detector=\"plugin:running-z\"}",
        )
        .is_some_and(|n| n >= 2_000.0)
    });
    assert!(
        !metrics.contains("model_kind=\"plugin:loda\""),
        "loda is not in the pool"
    );
    let log = running.log_text();
    for (path, reason) in expected(&plugins) {
        let line = log
            .lines()
            .find(|l| l.contains(&path) && l.contains("refused"))
            .unwrap_or_else(|| panic!("no log line for {path}: {log}"));
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains(reason), "{line}");
    }
    let (status, body) = request(running.addr, "GET", "/api/v1/plugins", None);
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["dir"], plugins.display().to_string());
    check_rows(body["plugins"].as_array().expect("rows"), &plugins);
    running.shutdown();
}
