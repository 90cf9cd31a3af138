//! Two replays of the same files give byte-identical alert output.

mod common;

use common::replay;
use vigil_tests::shared_file;

#[test]
fn two_replays_write_identical_alerts() {
    let mut files = Vec::new();
    for rel in [
        "data/cowrie/seed-tpot-cowrie.json",
        "data/cowrie/scriptzteam-2017/cowrie.json.2017_11_4",
        "data/dionaea/seed-tpot-dionaea.json",
        "data/suricata/home-lab-2025-eve.json",
    ] {
        let Some(path) = shared_file(rel) else {
            return;
        };
        files.push(path);
    }
    let refs: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut outputs = Vec::new();
    for run in 0..2 {
        let out = dir.path().join(format!("alerts-{run}.ndjson"));
        let summary = replay(&["--alerts-out", out.to_str().expect("utf-8 path")], &refs);
        assert!(
            summary["events_parsed"].as_u64().unwrap_or(0) > 10_000,
            "{summary}"
        );
        outputs.push(std::fs::read(&out).expect("alerts written"));
    }
    assert!(!outputs[0].is_empty(), "these logs raise alerts");
    assert!(
        outputs[0] == outputs[1],
        "alert output differs between two replays"
    );
}
