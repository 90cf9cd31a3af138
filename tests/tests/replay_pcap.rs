//! `vigil replay` and `vigil run` over the shared packet captures: every capture replays
//! whole (events equal to the flows vigil-packets finds, nothing rejected), the port-scan
//! rule names the scanner of a 1,001-port scan, and the connection-rate rule names the
//! attacker of an SSH brute force whose login outcomes are encrypted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{count, replay};
use serde_json::Value;
use vigil_packets::{FlowConfig, flows_from_capture};
use vigil_tests::{shared_file, vigil_bin};

/// Every shared capture, below `data/pcap/`.
const CAPTURES: [&str; 9] = [
    "axr00t-research/hydra_brute_force_get_success_106_attempts.pcap",
    "axr00t-research/ssh-brute-force.pcap",
    "axr00t-research/ssh_brute_force.pcap",
    "esnet-curated/nmap_80_all.pcap",
    "esnet-curated/nmap_80_vanilla.pcap",
    "esnet-curated/nmap_80_w_service_detection.pcap",
    "esnet-curated/tcp_0_1000_20190821.pcap",
    "esnet-curated/udp_0_1000_20190821.pcap",
    "chrissanders/http_google.pcapng",
];

fn capture(rel: &str) -> Option<PathBuf> {
    shared_file(&format!("data/pcap/{rel}"))
}

/// Replays `path` (format from the magic number) with alerts to a file; the summary and
/// the alerts.
fn replay_alerts(path: &Path, extra: &[&str]) -> (Value, Vec<Value>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("alerts.ndjson");
    let mut args = vec!["--alerts-out", out.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let summary = replay(&args, &[path]);
    let alerts = std::fs::read_to_string(&out)
        .expect("alerts file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert is JSON"))
        .collect();
    (summary, alerts)
}

fn by_detector<'a>(alerts: &'a [Value], detector: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["detector"] == detector)
        .collect()
}

fn no_rejections(summary: &Value, what: &str) {
    assert!(
        summary["events_rejected"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "{what}: {summary}"
    );
}

#[test]
fn every_shared_capture_replays_whole_as_its_flows() {
    for rel in CAPTURES {
        let Some(path) = capture(rel) else { return };
        let bytes = std::fs::read(&path).expect("capture reads");
        let flows = flows_from_capture(&bytes, rel, &FlowConfig::default())
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let summary = replay(&["--format", "pcap", "--alerts-out", "/dev/null"], &[&path]);
        no_rejections(&summary, rel);
        assert_eq!(
            count(&summary, "/events_parsed"),
            flows.flows.len() as u64,
            "{rel}: {summary}"
        );
        assert_eq!(
            count(&summary, "/by_sensor/pcap"),
            flows.flows.len() as u64,
            "{rel}"
        );
        // Records read: the flows and the packet records skipped by design (not IP).
        assert_eq!(
            count(&summary, "/events_read"),
            flows.flows.len() as u64 + flows.read.skipped(),
            "{rel}: {summary}"
        );
    }
}

#[test]
fn a_thousand_port_scan_is_named_by_the_port_scan_rule() {
    let Some(path) = capture("esnet-curated/tcp_0_1000_20190821.pcap") else {
        return;
    };
    // The scanner, found independently: the initiator reaching the most destination ports.
    let bytes = std::fs::read(&path).expect("capture reads");
    let flows = flows_from_capture(&bytes, "scan", &FlowConfig::default()).expect("reads");
    let mut ports: BTreeMap<IpAddr, BTreeSet<u16>> = BTreeMap::new();
    for f in &flows.flows {
        ports.entry(f.src).or_default().insert(f.dst_port);
    }
    let (scanner, reached) = ports
        .iter()
        .max_by_key(|(_, p)| p.len())
        .expect("some flows");
    assert!(reached.len() >= 1000, "{scanner} reached {}", reached.len());
    let scanner = scanner.to_string();

    let (summary, alerts) = replay_alerts(&path, &[]);
    no_rejections(&summary, "scan");
    let scans = by_detector(&alerts, "port_scan");
    assert!(!scans.is_empty(), "no port_scan alert: {summary}");
    for alert in &scans {
        assert_eq!(alert["src_ip"], scanner.as_str(), "{alert}");
        let explanation = alert["explanation"].as_str().expect("explanation");
        assert!(
            explanation.contains(&format!("from {scanner}")),
            "{explanation}"
        );
        assert!(
            explanation.contains("distinct destination ports"),
            "{explanation}"
        );
    }
    // Disabled, the rule is silent: the alert was the rule's.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[rules.port_scan]\nenabled = false\n").expect("config");
    let (_, alerts) = replay_alerts(&path, &["--config", config.to_str().expect("utf-8")]);
    assert!(by_detector(&alerts, "port_scan").is_empty());
}

#[test]
fn an_encrypted_ssh_brute_force_is_named_by_the_connection_rate_rule() {
    let Some(path) = capture("axr00t-research/ssh-brute-force.pcap") else {
        return;
    };
    // Format detection by the magic number (no --format).
    let (summary, alerts) = replay_alerts(&path, &[]);
    no_rejections(&summary, "ssh");
    // Login outcomes are encrypted: the brute-force rule has nothing to count.
    assert!(by_detector(&alerts, "brute_force").is_empty());
    let hits = by_detector(&alerts, "connection_rate");
    assert!(!hits.is_empty(), "no connection_rate alert: {summary}");
    let first = hits[0]["explanation"].as_str().expect("explanation");
    assert_eq!(
        first,
        "20 short connections (at most 30 s each) to port 22 in 60 s from 192.168.0.146 (threshold 20)"
    );
    for alert in &hits {
        assert_eq!(alert["src_ip"], "192.168.0.146", "{alert}");
        assert_eq!(alert["dst_port"], 22, "{alert}");
    }
    // The threshold is the configured one.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        "[rules.connection_rate]\nmin_connections = 50\nwindow_secs = 120\n",
    )
    .expect("config");
    let (_, alerts) = replay_alerts(&path, &["--config", config.to_str().expect("utf-8")]);
    let hits = by_detector(&alerts, "connection_rate");
    assert_eq!(
        hits.first().and_then(|a| a["explanation"].as_str()),
        Some(
            "50 short connections (at most 30 s each) to port 22 in 120 s from 192.168.0.146 (threshold 50)"
        )
    );
}

#[test]
fn repeat_replays_the_capture_again_later() {
    let Some(path) = capture("esnet-curated/nmap_80_all.pcap") else {
        return;
    };
    let once = replay(&["--alerts-out", "/dev/null"], &[&path]);
    let twice = replay(&["--alerts-out", "/dev/null", "--repeat", "2"], &[&path]);
    assert_eq!(
        count(&twice, "/events_parsed"),
        2 * count(&once, "/events_parsed")
    );
}

/// `vigil run --config CONFIG` to its end (a capture source finishes); asserts success and
/// returns its log.
fn run_to_end(config: &Path) -> String {
    let output = Command::new(vigil_bin())
        .args(["run", "--config", config.to_str().expect("utf-8")])
        .env("RUST_LOG", "info")
        .output()
        .expect("vigil runs");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    log
}

/// The file at `path`, gzipped by `gzip -c`.
fn gzip(path: &Path) -> Vec<u8> {
    let output = Command::new("gzip")
        .arg("-c")
        .arg(path)
        .output()
        .expect("gzip runs");
    assert!(output.status.success(), "gzip failed");
    output.stdout
}

fn fails_with(args: &[&str], needle: &str) {
    let output = Command::new(vigil_bin())
        .args(args)
        .output()
        .expect("vigil runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "vigil {args:?} should fail");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn bad_flow_settings_and_mixed_inputs_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[flows]\nmax_flows = 0\n").expect("config");
    fails_with(
        &["check-config", config.to_str().expect("utf-8")],
        "flows.max_flows",
    );
    std::fs::write(
        &config,
        "[sources.lan]\ntype = \"pcap\"\npath = \"x.pcap\"\ninterface = \"eth0\"\n",
    )
    .expect("config");
    fails_with(
        &["check-config", config.to_str().expect("utf-8")],
        "sources.lan.interface",
    );
    let Some(path) = capture("esnet-curated/nmap_80_vanilla.pcap") else {
        return;
    };
    let text = dir.path().join("cowrie.json");
    std::fs::write(&text, "{}\n").expect("text file");
    fails_with(
        &[
            "replay",
            path.to_str().expect("utf-8"),
            text.to_str().expect("utf-8"),
        ],
        "is a packet capture but",
    );
}

#[test]
fn run_reads_a_pcap_source_once_and_stops() {
    let Some(path) = capture("axr00t-research/ssh-brute-force.pcap") else {
        return;
    };
    let bytes = std::fs::read(&path).expect("capture reads");
    let flows = flows_from_capture(&bytes, "ssh", &FlowConfig::default())
        .expect("reads")
        .flows
        .len();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vigil.toml");
    let alerts = dir.path().join("alerts.ndjson");
    // A copy, so that another file can take its place below.
    let copy = dir.path().join("capture.pcap");
    std::fs::write(&copy, &bytes).expect("copy the capture");
    std::fs::write(
        &config,
        format!(
            "[pool]\nenabled = false\n[state]\ndir = \"{state}\"\n\
             [outputs]\nalerts_ndjson = \"{alerts}\"\n\
             [sources.lan]\ntype = \"pcap\"\npath = \"{path}\"\n",
            state = dir.path().join("state").display(),
            alerts = alerts.display(),
            path = copy.display(),
        ),
    )
    .expect("config");
    // A capture is a finite input: the daemon reads it once, drains and stops.
    let log = run_to_end(&config);
    assert!(log.contains(&format!("events={flows}")), "{log}");
    let text = std::fs::read_to_string(&alerts).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.contains("\"detector\":\"connection_rate\"")
                && l.contains("from 192.168.0.146")),
        "no connection_rate alert: {text}"
    );

    // Restarted on the same state, twice: every flow of the capture was handed on, so none
    // is handed on again (the position survives each restart), and no alert is written
    // twice.
    for restart in 1..=2 {
        let log = run_to_end(&config);
        assert!(
            log.contains("resuming from the checkpoint"),
            "restart {restart}: {log}"
        );
        assert!(
            log.contains(
                "the capture is read again from its start; the flows handed on before the restart are passed over"
            ) && log.contains(&format!("flows={flows}")),
            "restart {restart}: {log}"
        );
        assert!(log.contains("events=0"), "restart {restart}: {log}");
        assert_eq!(
            std::fs::read_to_string(&alerts).unwrap_or_default(),
            text,
            "restart {restart}"
        );
    }

    // Another file put in its place (here: the same capture, gzipped, renamed over it) is
    // read from its start.
    let fresh = dir.path().join("capture.pcap.new");
    std::fs::write(&fresh, gzip(&path)).expect("write");
    std::fs::rename(&fresh, &copy).expect("rename over the capture");
    let log = run_to_end(&config);
    assert!(
        log.contains("a different capture than before the restart: read from its start"),
        "{log}"
    );
    assert!(log.contains(&format!("events={flows}")), "{log}");
}

#[test]
fn a_gzipped_capture_replays_as_the_capture_and_one_cut_short_loses_only_its_tail() {
    let Some(path) = capture("esnet-curated/nmap_80_all.pcap") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let gz = dir.path().join("nmap.pcap.gz");
    let gzipped = gzip(&path);
    std::fs::write(&gz, &gzipped).expect("write the gzipped capture");

    let (plain, plain_alerts) = replay_alerts(&path, &[]);
    // Told a capture by what it holds once gunzipped (no --format).
    let (gunzipped, gunzipped_alerts) = replay_alerts(&gz, &[]);
    no_rejections(&gunzipped, "gzipped");
    for field in ["/events_read", "/events_parsed"] {
        assert_eq!(count(&gunzipped, field), count(&plain, field), "{field}");
    }
    assert!(count(&plain, "/events_parsed") > 0);
    let ids =
        |alerts: &[Value]| -> Vec<String> { alerts.iter().map(|a| a["id"].to_string()).collect() };
    assert_eq!(ids(&gunzipped_alerts), ids(&plain_alerts));

    // Cut in the middle of the compressed stream: the flows before the cut are read, the
    // cut is counted once, and the replay still succeeds.
    let cut = dir.path().join("cut.pcap.gz");
    std::fs::write(&cut, &gzipped[..gzipped.len() / 2]).expect("write");
    let summary = replay(&["--format", "pcap", "--alerts-out", "/dev/null"], &[&cut]);
    let parsed = count(&summary, "/events_parsed");
    assert!(
        parsed > 0 && parsed < count(&plain, "/events_parsed"),
        "{summary}"
    );
    assert_eq!(
        summary["events_rejected"],
        serde_json::json!({"malformed_capture": 1}),
        "{summary}"
    );
}
