//! Crash and restart of `vigil run` with the whole pool.
//!
//! A writer fills a followed Cowrie file with 100,000 events. One `vigil run` reads it
//! uninterrupted; another is killed with SIGKILL halfway and started again on the same
//! state directory. The second must resume from its last checkpoint and end with the same
//! alert ids as the first, each in the NDJSON and CEF outputs exactly once, every event
//! scored, the pool's scores after the checkpoint identical to the uninterrupted run's, and
//! a store that opens and verifies cleanly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::{splitmix64, vigil_bin};

const EVENTS: usize = 100_000;

const COMMANDS: [&str; 4] = ["uname -a", "ls", "cat /etc/passwd", "wget http://x/y"];

/// 100,000 Cowrie lines: sessions of a few hundred regular clients (connect, login, a
/// command or two, close) and, every few thousand events, a brute-force burst from a new
/// address. Event time advances 40 ms per event.
fn cowrie_lines() -> Vec<String> {
    let mut rng = 0x5eed_u64;
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .expect("valid time")
        .with_timezone(&chrono::Utc);
    let mut lines = Vec::with_capacity(EVENTS);
    let mut burst: Option<(u32, u32)> = None;
    let mut bursts = 0u32;
    while lines.len() < EVENTS {
        let i = lines.len() as i64;
        let time = (start + chrono::TimeDelta::milliseconds(40 * i))
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let r = splitmix64(&mut rng);
        if burst.is_none() && r.is_multiple_of(4000) {
            bursts += 1;
            burst = Some((bursts, 0));
        }
        let line = if let Some((id, n)) = burst {
            burst = (n < 60).then_some((id, n + 1));
            serde_json::json!({
                "eventid": "cowrie.login.failed",
                "username": "root",
                "password": format!("guess{n}"),
                "message": "login attempt failed",
                "sensor": "hp",
                "timestamp": time,
                "src_ip": format!("203.0.{}.{}", 113 + id / 250, id % 250),
                "src_port": 50_000 + n,
                "dst_ip": "10.0.0.5",
                "dst_port": 22,
                "session": format!("b{id}-{n}"),
            })
        } else {
            let client = (r >> 8) % 300;
            let session = format!("c{client}-{}", (r >> 20) % 1000);
            let ip = format!(
                "10.{}.{}.{}",
                1 + client / 250,
                client % 250,
                1 + (r >> 40) % 3
            );
            let (eventid, extra) = match (r >> 32) % 6 {
                0 => ("cowrie.session.connect", serde_json::json!({})),
                1 => (
                    "cowrie.login.success",
                    serde_json::json!({"username": "admin", "password": "admin"}),
                ),
                2 | 3 => (
                    "cowrie.command.input",
                    serde_json::json!({"input": COMMANDS[((r >> 44) % 4) as usize]}),
                ),
                4 => (
                    "cowrie.login.failed",
                    serde_json::json!({"username": "user", "password": "123456"}),
                ),
                _ => (
                    "cowrie.session.closed",
                    serde_json::json!({"duration": (r >> 50) % 300}),
                ),
            };
            let mut line = serde_json::json!({
                "eventid": eventid,
                "message": eventid,
                "sensor": "hp",
                "timestamp": time,
                "src_ip": ip,
                "src_port": 30_000 + (r >> 48) % 30_000,
                "dst_ip": "10.0.0.5",
                "dst_port": if (r >> 56).is_multiple_of(5) { 23 } else { 22 },
                "session": session,
            });
            if let (Some(line), Some(extra)) = (line.as_object_mut(), extra.as_object()) {
                line.extend(extra.clone());
            }
            line
        };
        lines.push(line.to_string());
    }
    lines
}

struct Run {
    config: PathBuf,
    log: PathBuf,
    flat: PathBuf,
    cef: PathBuf,
    scores: PathBuf,
    state: PathBuf,
    /// Where vigil's log goes (a file, not a pipe nobody reads while it runs).
    vigil_log: PathBuf,
}

fn setup(dir: &Path) -> Run {
    let run = Run {
        config: dir.join("vigil.toml"),
        log: dir.join("cowrie.json"),
        flat: dir.join("alerts.ndjson"),
        cef: dir.join("alerts.cef"),
        scores: dir.join("scores.ndjson"),
        state: dir.join("state"),
        vigil_log: dir.join("vigil.log"),
    };
    std::fs::create_dir_all(dir).expect("run dir");
    std::fs::write(&run.log, "").expect("create log");
    std::fs::write(
        &run.config,
        format!(
            r#"[pipeline]
shutdown_grace_secs = 20
[rules.brute_force]
min_failed_logins = 10
[api]
listen = "127.0.0.1:0"
[state]
dir = "{state}"
flush_every_millis = 20
checkpoint_secs = 1
retention_max_age_days = 0
[alerts]
cooldown_secs = 60
[outputs]
alerts_ndjson = "{flat}"
scores_ndjson = "{scores}"
[outputs.cef]
path = "{cef}"
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
            state = run.state.display(),
            flat = run.flat.display(),
            scores = run.scores.display(),
            cef = run.cef.display(),
            log = run.log.display(),
        ),
    )
    .expect("write config");
    run
}

fn start(run: &Run) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&run.vigil_log)
        .expect("vigil log file");
    Command::new(vigil_bin())
        .args(["run", "--config", run.config.to_str().expect("utf-8 path")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("vigil starts")
}

fn append(log: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .expect("open log");
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    f.write_all(text.as_bytes()).expect("append");
    f.flush().expect("flush");
}

/// Score log lines: (byte offset of the event in the log, seq, score as written). Only
/// whole lines count (the writer may be in the middle of one); a line a killed process left
/// unfinished does not parse and is counted in `unreadable`.
fn read_scores(path: &Path) -> (Vec<(u64, u64, String)>, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = text.rsplit_once('\n').map_or("", |(whole, _)| whole);
    let mut unreadable = 0;
    let mut out = Vec::new();
    for line in whole.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => out.push((
                v["offset"].as_u64().expect("offset"),
                v["seq"].as_u64().expect("seq"),
                v["score"].to_string(),
            )),
            Err(_) => unreadable += 1,
        }
    }
    (out, unreadable)
}

fn scores(path: &Path) -> Vec<(u64, u64, String)> {
    read_scores(path).0
}

/// Waits until every event of the log has a score (the score log holds `EVENTS` distinct
/// offsets); on timeout, stops `child` and fails with the end of its log.
fn wait_scored(run: &Run, child: &mut Child, deadline: Duration) {
    let start = Instant::now();
    loop {
        let distinct: BTreeSet<u64> = scores(&run.scores).into_iter().map(|s| s.0).collect();
        if distinct.len() >= EVENTS {
            return;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&run.vigil_log).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
            panic!(
                "only {} of {EVENTS} events were scored within {deadline:?}; vigil's log ends:\n{}",
                distinct.len(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(run: &Run, mut child: Child) -> String {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            let stderr = std::fs::read_to_string(&run.vigil_log).unwrap_or_default();
            assert!(status.success(), "vigil exited with {status}: {stderr}");
            return stderr;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "vigil did not stop within the grace period"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Alert ids of the flat NDJSON output, in order.
fn flat_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "partial line in {}",
        path.display()
    );
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("alert lines are JSON");
            v["id"].as_str().expect("id").to_string()
        })
        .collect()
}

/// Alert ids of the CEF output (the `externalId` extension), in order.
fn cef_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "partial line in {}",
        path.display()
    );
    text.lines()
        .map(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("externalId="))
                .unwrap_or_else(|| panic!("CEF line without externalId: {line}"))
                .to_string()
        })
        .collect()
}

fn once(ids: &[String], what: &str) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "{what} holds an alert more than once");
    set
}

#[test]
fn a_killed_run_resumes_from_its_checkpoint_and_ends_like_an_uninterrupted_one() {
    let lines = cowrie_lines();
    let dir = tempfile::tempdir().expect("temp dir");

    // The uninterrupted run.
    let a = setup(&dir.path().join("run"));
    let mut child = start(&a);
    for chunk in lines.chunks(5_000) {
        append(&a.log, chunk);
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_scored(&a, &mut child, Duration::from_secs(120));
    stop(&a, child);
    let a_ids = once(&flat_ids(&a.flat), "the uninterrupted run's NDJSON");
    assert_eq!(once(&cef_ids(&a.cef), "the uninterrupted run's CEF"), a_ids);
    assert!(
        a_ids.len() >= 10,
        "the run raised only {} alerts",
        a_ids.len()
    );
    let (a_lines, a_unreadable) = read_scores(&a.scores);
    assert_eq!(
        a_unreadable, 0,
        "the uninterrupted run's score log is whole"
    );
    let a_scores: BTreeMap<u64, (u64, String)> = a_lines
        .into_iter()
        .map(|(offset, seq, score)| (offset, (seq, score)))
        .collect();
    assert_eq!(a_scores.len(), EVENTS);

    // The run that is killed halfway and started again, at the same paths: alert ids are
    // derived from the sensor and the event's origin, its file path included.
    std::fs::remove_dir_all(dir.path().join("run")).expect("clear the first run");
    let b = setup(&dir.path().join("run"));
    let mut child = start(&b);
    let half = EVENTS / 2;
    for chunk in lines[..half].chunks(1_000) {
        append(&b.log, chunk);
        std::thread::sleep(Duration::from_millis(40));
    }
    // Past a few checkpoints and into the stream.
    let start_wait = Instant::now();
    while scores(&b.scores).len() < half * 3 / 4 {
        assert!(
            start_wait.elapsed() < Duration::from_secs(120),
            "the first process scores nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1_500));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let scored_before_kill = scores(&b.scores).len();

    let mut child = start(&b);
    for chunk in lines[half..].chunks(5_000) {
        append(&b.log, chunk);
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_scored(&b, &mut child, Duration::from_secs(120));
    let stderr = stop(&b, child);
    assert!(
        stderr.contains("resuming from the checkpoint"),
        "the restart did not resume from a checkpoint: {stderr}"
    );

    // Same alerts, each delivered once.
    let b_ids = once(&flat_ids(&b.flat), "the restarted run's NDJSON");
    assert_eq!(once(&cef_ids(&b.cef), "the restarted run's CEF"), b_ids);
    let missing: Vec<_> = a_ids.difference(&b_ids).take(5).collect();
    let extra: Vec<_> = b_ids.difference(&a_ids).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "alert ids differ: missing {missing:?}, extra {extra:?} ({} vs {})",
        a_ids.len(),
        b_ids.len()
    );

    // Every event scored; after the restart, exactly as the uninterrupted run scored it.
    let (b_scores, unreadable) = read_scores(&b.scores);
    assert!(
        unreadable <= 1,
        "{unreadable} score lines do not parse; only the one the kill cut short may not"
    );

    let distinct: BTreeSet<u64> = b_scores.iter().map(|s| s.0).collect();
    assert_eq!(distinct.len(), EVENTS, "events were skipped");
    let after_restart = &b_scores[scored_before_kill..];
    assert!(
        after_restart.len() >= 1_000,
        "only {} events scored after the restart",
        after_restart.len()
    );
    let first_resumed = after_restart[0].1;
    assert!(
        first_resumed > 1,
        "the restart began from the first event, not a checkpoint"
    );
    for (offset, seq, score) in after_restart {
        let (a_seq, a_score) = &a_scores[offset];
        assert_eq!(
            (seq, score),
            (a_seq, a_score),
            "event at offset {offset} scored differently after the restart"
        );
    }

    eprintln!(
        "{} alerts in both runs; restart resumed at event {first_resumed}; {} scores after it compared",
        b_ids.len(),
        after_restart.len()
    );

    // The store opens and its trees agree.
    let store = vigil_state::Store::open(&b.state, &vigil_state::StoreOptions::default())
        .expect("the state database opens after the crash and restart");
    let report = store.verify().expect("verify runs");
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.alerts as usize, b_ids.len());
}
