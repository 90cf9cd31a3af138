//! A real crash: a child process runs a simulated pipeline against the store (alerts,
//! alert updates, drift events, a checkpoint every few batches, and a file output fed from
//! the outbox) and is killed with SIGKILL in the middle of its writes, several times. After
//! every kill the database must open cleanly, its indexes must agree, and the checkpoint
//! must agree with the committed alerts; after the last restart runs to the end of the
//! input, the store and the output file must hold every alert exactly once.
//!
//! The child is this test binary run again with `--ignored --exact crash_writer_child` and
//! the database directory in an environment variable.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Mix, assert_consistent};
use vigil_state::{
    AlertId, AlertUpdate, Checkpoint, Commit, NewAlert, NewDriftEvent, Store, StoreOptions,
};

const CHILD_DIR_ENV: &str = "VIGIL_STATE_CRASH_CHILD_DIR";
const SOURCE: &str = "synthetic";
const OUTPUT: &str = "file";
/// Events in the simulated input.
const TOTAL_EVENTS: u64 = 120_000;
/// Events per batch; every checkpoint falls on a batch boundary.
const BATCH_EVENTS: u64 = 250;
const CHECKPOINT_EVERY_BATCHES: u64 = 4;
const KILLS: u64 = 4;

/// The alert, if any, that the event at `offset` raises: about one event in four, with a
/// time that jumps around (negative ones included) and one of a few sources.
fn event_alert(offset: u64) -> Option<NewAlert> {
    let mut mix = Mix(offset);
    if mix.below(4) != 0 {
        return None;
    }
    let id = mix.next();
    let time = mix.below(10_000_000) as i64 - 2_000_000;
    let src: IpAddr = match mix.below(3) {
        0 => IpAddr::from([203, 0, 113, (offset % 200) as u8]),
        1 => IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, (offset % 50) as u16]),
        _ => IpAddr::from([255, 255, 255, 255]),
    };
    // About 600 bytes, like a real alert's JSON.
    let padding = "x".repeat(500 + (offset % 100) as usize);
    let bytes = format!("{{\"id\":\"{id:016x}\",\"offset\":{offset},\"pad\":\"{padding}\"}}");
    Some(NewAlert {
        id: AlertId::new(id),
        event_time_micros: time,
        src_ip: Some(src),
        score: mix.below(1_000) as f64 / 1_000.0,
        bytes: bytes.into_bytes(),
    })
}

/// Cooldown aggregation stands in here: the first alert of each batch is rewritten in the
/// same commit with a count.
fn updated_bytes(alert: &NewAlert) -> Vec<u8> {
    format!("{{\"id\":\"{}\",\"count\":2}}", alert.id).into_bytes()
}

fn drift_event(offset: u64) -> Option<NewDriftEvent> {
    (offset % 5_000 == 4_999).then(|| NewDriftEvent {
        event_sequence: offset,
        bytes: format!("{{\"at\":{offset},\"reason\":\"adwin\"}}").into_bytes(),
    })
}

/// What the store must hold for events before `end`: each alert's final bytes, by id.
fn expected_alerts(end: u64) -> BTreeMap<AlertId, Vec<u8>> {
    let mut expected = BTreeMap::new();
    let mut start = 0;
    while start < end {
        let batch_end = (start + BATCH_EVENTS).min(end);
        let mut first = true;
        for offset in start..batch_end {
            if let Some(alert) = event_alert(offset) {
                let bytes = if first {
                    updated_bytes(&alert)
                } else {
                    alert.bytes.clone()
                };
                first = false;
                expected.entry(alert.id).or_insert(bytes);
            }
        }
        start = batch_end;
    }
    expected
}

fn resume_offset(store: &Store) -> u64 {
    let stored = store.read_checkpoint().expect("read the checkpoint");
    stored
        .and_then(|s| s.checkpoint.source_state(SOURCE).map(<[u8]>::to_vec))
        .map(|state| u64::from_be_bytes(state.try_into().expect("an 8-byte offset")))
        .unwrap_or(0)
}

/// The file output: at start it cuts its file back to the length recorded with its last
/// acknowledgement, then appends every alert the outbox hands it, one id per line.
struct FileOutput {
    path: PathBuf,
}

impl FileOutput {
    fn start(store: &Store, path: PathBuf) -> FileOutput {
        let length = store
            .outbox_cursor(OUTPUT)
            .expect("cursor")
            .map(|cursor| u64::from_be_bytes(cursor.sink_state.try_into().expect("a length")))
            .unwrap_or(0);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .expect("open the output file");
        file.set_len(length)
            .expect("cut back to the acknowledged length");
        FileOutput { path }
    }

    fn deliver(&self, store: &Store) {
        let items = store.outbox_next(OUTPUT, 10_000).expect("outbox");
        let Some(last) = items.last() else { return };
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .expect("open for append");
        let mut lines = String::new();
        for item in &items {
            lines.push_str(&format!("{}\n", item.key.id()));
        }
        file.write_all(lines.as_bytes()).expect("write");
        let length = file.metadata().expect("metadata").len();
        store
            .outbox_ack_with_state(OUTPUT, last.position, &length.to_be_bytes())
            .expect("ack");
    }
}

/// The pipeline a start runs: restore the checkpoint, read from its offset, commit batch
/// after batch with a checkpoint every few batches, feeding the file output as it goes.
fn run_pipeline(store: &Store, output: &FileOutput, until: u64, mut progress: impl FnMut(u64)) {
    let mut offset = resume_offset(store);
    let mut batches = offset / BATCH_EVENTS;
    while offset < until {
        let end = (offset + BATCH_EVENTS).min(until);
        let alerts: Vec<NewAlert> = (offset..end).filter_map(event_alert).collect();
        let updates: Vec<AlertUpdate> = alerts
            .first()
            .map(|first| AlertUpdate {
                id: first.id,
                // A repeat with a higher score moves the alert in the score index.
                score: Some(first.score + 0.5),
                bytes: updated_bytes(first),
            })
            .into_iter()
            .collect();
        let drift: Vec<NewDriftEvent> = (offset..end).filter_map(drift_event).collect();
        batches += 1;
        let checkpoint = batches
            .is_multiple_of(CHECKPOINT_EVERY_BATCHES)
            .then(|| Checkpoint {
                sequence: end,
                sources: vec![(SOURCE.to_owned(), end.to_be_bytes().to_vec())],
                features: vec![(end % 251) as u8; 4_096],
                pool: end.to_le_bytes().repeat(512),
                cooldowns: vec![1, 2, 3],
                created_at_micros: end as i64,
            });
        store
            .commit(&Commit {
                new_alerts: &alerts,
                alert_updates: &updates,
                drift_events: &drift,
                checkpoint: checkpoint.as_ref(),
            })
            .expect("commit");
        output.deliver(store);
        offset = end;
        progress(end);
    }
}

/// The child process: runs the pipeline and reports each committed batch on stdout until it
/// is killed (it idles once the input is exhausted).
#[test]
#[ignore = "the child process of sigkill_mid_write_leaves_a_consistent_store"]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let store = Store::open(dir.join("state"), &StoreOptions::default()).expect("child opens");
    let output = FileOutput::start(&store, dir.join("alerts.out"));
    let stdout = std::io::stdout();
    run_pipeline(&store, &output, TOTAL_EVENTS, |end| {
        let mut out = stdout.lock();
        let _ = writeln!(out, "COMMITTED {end}");
        let _ = out.flush();
    });
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn spawn_child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            "crash_writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the writer")
}

/// `kill -9`: the process gets no chance to flush anything.
fn kill_9(child: &mut Child) {
    let killed = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if !killed {
        // Without a `kill` program, std's kill sends the same SIGKILL.
        child.kill().expect("SIGKILL the writer");
    }
    let status = child.wait().expect("reap the writer");
    assert!(!status.success(), "the writer ended on its own: {status}");
}

/// Checks the store as a restart finds it; returns the checkpoint's offset.
fn check_after_crash(dir: &Path, committed_before_kill: u64) -> u64 {
    let store = Store::open(dir.join("state"), &StoreOptions::default())
        .expect("the database opens cleanly after SIGKILL");
    assert_consistent(&store);

    let resume = resume_offset(&store);
    // The writer may have committed one more batch than it lived to report.
    let committed_at_most = committed_before_kill + BATCH_EVENTS;
    assert!(
        resume <= committed_at_most,
        "checkpoint at {resume}, beyond the last commit reported, {committed_before_kill}"
    );
    let stored = store.read_checkpoint().expect("read");
    if let Some(stored) = &stored {
        assert!(stored.last_alert_position <= store.last_alert_position());
        assert_eq!(stored.checkpoint.sequence, resume);
        assert_eq!(stored.checkpoint.pool, resume.to_le_bytes().repeat(512));
    }

    // Every alert of the events the checkpoint covers is stored, with its final bytes...
    let covered = expected_alerts(resume);
    for (id, bytes) in &covered {
        let alert = store.get_alert(*id).expect("get");
        assert_eq!(alert.map(|a| a.bytes).as_ref(), Some(bytes), "alert {id}");
    }
    // ...and nothing is stored that the events committed so far did not raise.
    let possible = expected_alerts(committed_at_most);
    let all = store
        .alerts_range(None, None, usize::MAX, None)
        .expect("all");
    assert_eq!(all.alerts.len() as u64, store.alert_count().expect("count"));
    assert!(all.alerts.len() >= covered.len());
    for alert in &all.alerts {
        assert!(
            possible.contains_key(&alert.key.id()),
            "stray alert {}",
            alert.key
        );
    }
    if let Some(stored) = stored {
        // The checkpoint's alert position counts at least the alerts it covers.
        assert!(stored.last_alert_position >= covered.len() as u64);
    }

    // The output file, up to its acknowledged length, holds stored alerts once each.
    let acknowledged = store.outbox_cursor(OUTPUT).expect("cursor").map_or(0, |c| {
        u64::from_be_bytes(c.sink_state.try_into().expect("length"))
    });
    let text = std::fs::read_to_string(dir.join("alerts.out")).unwrap_or_default();
    let acknowledged_text = &text[..acknowledged as usize];
    let mut seen = HashSet::new();
    for line in acknowledged_text.lines() {
        let id: AlertId = line.parse().expect("an id per line");
        assert!(seen.insert(id), "{id} delivered twice");
        assert!(
            store.get_alert(id).expect("get").is_some(),
            "{id} not stored"
        );
    }
    resume
}

#[test]
fn sigkill_mid_write_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut last_resume = 0;
    for kill in 0..KILLS {
        let mut child = spawn_child(dir.path());
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        // Let it commit a few checkpoints beyond where it resumed, then kill it at a
        // moment that varies from round to round, so the kill lands inside writes.
        let wanted = last_resume + 3 * CHECKPOINT_EVERY_BATCHES * BATCH_EVENTS + kill * 1_000;
        let started = Instant::now();
        let mut committed = 0;
        while committed < wanted {
            let line = lines
                .next()
                .expect("the writer keeps reporting")
                .expect("read a line");
            if let Some(end) = line.strip_prefix("COMMITTED ") {
                committed = end.parse().expect("an offset");
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "writer too slow"
            );
        }
        std::thread::sleep(Duration::from_millis(3 + 17 * kill));
        kill_9(&mut child);
        // Whatever it committed after the last line read is bounded by the lines still
        // in the pipe.
        for line in lines.map_while(Result::ok) {
            if let Some(end) = line.strip_prefix("COMMITTED ") {
                committed = end.parse().expect("an offset");
            }
        }
        let resume = check_after_crash(dir.path(), committed);
        assert!(resume >= last_resume, "the checkpoint went back");
        eprintln!("kill {kill}: committed up to {committed}, checkpoint at {resume}");
        last_resume = resume;
    }

    // The last restart runs to the end of the input.
    let store = Store::open(dir.path().join("state"), &StoreOptions::default()).expect("open");
    let output = FileOutput::start(&store, dir.path().join("alerts.out"));
    run_pipeline(&store, &output, TOTAL_EVENTS, |_| {});
    output.deliver(&store);

    let expected = expected_alerts(TOTAL_EVENTS);
    assert_eq!(store.alert_count().expect("count"), expected.len() as u64);
    let all = store
        .alerts_range(None, None, usize::MAX, None)
        .expect("all");
    let stored: BTreeMap<AlertId, Vec<u8>> = all
        .alerts
        .into_iter()
        .map(|a| (a.key.id(), a.bytes))
        .collect();
    assert_eq!(stored, expected, "each alert exactly once, none lost");
    let drift = store.drift_events(usize::MAX, None).expect("drift");
    let drift_expected = (0..TOTAL_EVENTS).filter_map(drift_event).count();
    assert_eq!(drift.events.len(), drift_expected);

    let text = std::fs::read_to_string(dir.path().join("alerts.out")).expect("output");
    let delivered: Vec<AlertId> = text
        .lines()
        .map(|line| line.parse().expect("an id"))
        .collect();
    let unique: HashSet<AlertId> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "an alert delivered twice");
    assert_eq!(
        unique,
        expected.keys().copied().collect::<HashSet<_>>(),
        "the output holds every alert"
    );
    assert_consistent(&store);
}
