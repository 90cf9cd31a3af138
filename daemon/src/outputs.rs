//! Outputs: each follows the store's outbox with its own cursor, on its own thread.
//!
//! The alert stage commits alerts to the [`Store`] and never waits for an output; each
//! output reads committed alerts in commit order ([`Store::outbox_next`]), encodes them,
//! appends them to its file (rotating by size) and acknowledges them together with the
//! file's length ([`Store::outbox_ack_with_state`]). At start it cuts the file back to the
//! acknowledged length, so lines written after the last acknowledgement of a crashed run
//! are removed and written again once: each alert reaches each file exactly once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigil_alert::{Alert, EncodeOptions, LineFormat};
use vigil_state::{OutboxItem, Store};

/// Alerts read from the outbox per round.
const OUTBOX_BATCH: usize = 512;
/// How long an idle output waits before looking at the outbox again.
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// How long a failing output waits before trying again.
const RETRY_WAIT: Duration = Duration::from_millis(500);

/// How an output writes an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputEncoding {
    /// One line in a SIEM format.
    Line(LineFormat),
    /// One human-readable line (`vigil demo`, `vigil run` without outputs).
    Human,
}

/// Where an output writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// A file, rotated by size.
    File {
        /// The file.
        path: PathBuf,
        /// Rotate before a line would take it past this many bytes (`None`: never).
        max_bytes: Option<u64>,
        /// Rotated files kept (`path.1` ... `path.N`).
        keep_files: u32,
        /// Empty the file at start instead of cutting it back to the acknowledged length
        /// (a replay over a fresh store).
        truncate: bool,
    },
    /// Standard error (a replay without `--alerts-out`).
    Stderr,
    /// Standard output.
    Stdout,
}

/// One configured output.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// Its name, which is also its outbox cursor's name.
    pub name: String,
    /// How it encodes alerts.
    pub encoding: OutputEncoding,
    /// Where it writes.
    pub target: OutputTarget,
    /// Redaction and the CEF product version.
    pub options: EncodeOptions,
}

/// Errors of an output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file could not be opened, cut back, written or rotated.
    #[error("output {name}: {action} {path}: {source}")]
    Io {
        /// The output.
        name: String,
        /// What failed.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("output {name}: {source}")]
    State {
        /// The output.
        name: String,
        /// The cause.
        source: vigil_state::StateError,
    },
}

/// The running outputs.
pub struct Outputs {
    store: Store,
    names: Vec<String>,
    /// Set once nothing more will be committed: outputs exit when caught up.
    draining: Arc<AtomicBool>,
    /// Set when the grace period is over: outputs exit after their current batch.
    stop: Arc<AtomicBool>,
    threads: Vec<(String, JoinHandle<()>)>,
}

impl Outputs {
    /// Opens every output (cutting files back to their acknowledged length) and starts one
    /// thread per output. Fails, naming the output and the file, before any thread starts.
    pub fn start(store: &Store, specs: Vec<OutputSpec>) -> Result<Outputs, OutputError> {
        Outputs::open(store, specs)?.start()
    }

    /// Opens every output without starting it: a command can refuse a bad output before it
    /// reads anything, and start delivering later ([`OpenOutputs::start`]).
    pub fn open(store: &Store, specs: Vec<OutputSpec>) -> Result<OpenOutputs, OutputError> {
        let mut writers = Vec::new();
        for spec in specs {
            writers.push(OutputWriter::open(store, spec)?);
        }
        Ok(OpenOutputs {
            store: store.clone(),
            writers,
        })
    }

    /// Whether every output has acknowledged every committed alert.
    pub fn caught_up(&self) -> bool {
        caught_up_with(&self.store, &self.names)
    }

    /// Lets the outputs deliver everything committed so far, waiting at most `grace`
    /// (`Duration::MAX`: until they have, or until each has failed once), then stops them.
    /// Returns whether they caught up. Call it once the pipeline has drained.
    pub fn finish(self, grace: Duration) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        let deadline = Instant::now().checked_add(grace);
        while !self.threads.iter().all(|(_, handle)| handle.is_finished())
            && deadline.is_none_or(|deadline| Instant::now() < deadline)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stop.store(true, Ordering::SeqCst);
        for (name, handle) in self.threads {
            if handle.join().is_err() {
                tracing::error!(output = %name, "output thread panicked");
            }
        }
        let caught_up = caught_up_with(&self.store, &self.names);
        if !caught_up {
            tracing::warn!(
                "outputs did not deliver every alert before exit; the rest follow after the next start"
            );
        }
        caught_up
    }
}

/// Outputs opened but not yet delivering.
pub struct OpenOutputs {
    store: Store,
    writers: Vec<OutputWriter>,
}

impl OpenOutputs {
    /// Starts one thread per output.
    pub fn start(self) -> Result<Outputs, OutputError> {
        let store = &self.store;
        let draining = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for mut writer in self.writers {
            let store = store.clone();
            let flags = (draining.clone(), stop.clone());
            let name = writer.spec.name.clone();
            let handle = std::thread::Builder::new()
                .name(format!("output-{name}"))
                .spawn(move || writer.run(&store, &flags.0, &flags.1))
                .map_err(|source| OutputError::Io {
                    name: name.clone(),
                    action: "cannot start a thread for",
                    path: PathBuf::new(),
                    source,
                })?;
            threads.push((name, handle));
        }
        Ok(Outputs {
            store: store.clone(),
            names: threads.iter().map(|(name, _)| name.clone()).collect(),
            draining,
            stop,
            threads,
        })
    }
}

/// Whether every output in `names` has acknowledged every committed alert.
fn caught_up_with(store: &Store, names: &[String]) -> bool {
    let last = store.last_alert_position();
    names.iter().all(|name| {
        store
            .outbox_cursor(name)
            .ok()
            .flatten()
            .map_or(last == 0, |cursor| cursor.position >= last)
    })
}

/// An output's open sink.
enum Sink {
    File { file: File, len: u64, regular: bool },
    Stderr,
    Stdout,
}

struct OutputWriter {
    spec: OutputSpec,
    sink: Sink,
    buffer: Vec<u8>,
}

impl OutputWriter {
    fn open(store: &Store, spec: OutputSpec) -> Result<OutputWriter, OutputError> {
        let state_error = |source| OutputError::State {
            name: spec.name.clone(),
            source,
        };
        let cursor = store.outbox_cursor(&spec.name).map_err(state_error)?;
        let sink = match &spec.target {
            OutputTarget::Stderr => Sink::Stderr,
            OutputTarget::Stdout => Sink::Stdout,
            OutputTarget::File { path, truncate, .. } => {
                let io = |action, source| OutputError::Io {
                    name: spec.name.clone(),
                    action,
                    path: path.clone(),
                    source,
                };
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| io("cannot open", e))?;
                let metadata = file.metadata().map_err(|e| io("cannot read", e))?;
                let regular = metadata.is_file();
                let mut len = metadata.len();
                // What the last acknowledgement recorded: lines past it were written but never
                // acknowledged, and will be written again from the outbox.
                let acknowledged = if *truncate {
                    Some(0)
                } else {
                    cursor
                        .as_ref()
                        .and_then(|c| <[u8; 8]>::try_from(c.sink_state.as_slice()).ok())
                        .map(u64::from_be_bytes)
                };
                if regular && let Some(acknowledged) = acknowledged.filter(|a| *a < len) {
                    file.set_len(acknowledged)
                        .map_err(|e| io("cannot cut back", e))?;
                    tracing::info!(
                        output = %spec.name,
                        path = %path.display(),
                        removed_bytes = len - acknowledged,
                        "cut the output back to its last acknowledged line"
                    );
                    len = acknowledged;
                }
                Sink::File { file, len, regular }
            }
        };
        Ok(OutputWriter {
            spec,
            sink,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    fn run(&mut self, store: &Store, draining: &AtomicBool, stop: &AtomicBool) {
        let mut failing = false;
        loop {
            // Read before looking at the outbox: once draining is set nothing more is
            // committed, so an empty outbox after it means caught up.
            let drain = draining.load(Ordering::SeqCst);
            match self.deliver_some(store) {
                Ok(0) => {
                    if drain || stop.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(IDLE_WAIT);
                }
                Ok(_) => {
                    failing = false;
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
                Err(error) => {
                    // The alerts stay in the outbox: retry, and after a restart if need be.
                    if drain || stop.load(Ordering::SeqCst) {
                        tracing::error!("{error}; the rest is delivered after the next start");
                        return;
                    }
                    if !failing {
                        tracing::error!("{error}; retrying");
                        failing = true;
                    }
                    std::thread::sleep(RETRY_WAIT);
                }
            }
        }
    }

    /// Delivers up to one outbox batch; returns how many alerts it took.
    fn deliver_some(&mut self, store: &Store) -> Result<usize, OutputError> {
        let name = self.spec.name.clone();
        let state_error = |source| OutputError::State {
            name: name.clone(),
            source,
        };
        let items = store
            .outbox_next(&self.spec.name, OUTBOX_BATCH)
            .map_err(state_error)?;
        let Some(last) = items.last().map(|item| item.position) else {
            return Ok(0);
        };
        self.buffer.clear();
        for item in &items {
            let line_start = self.buffer.len();
            self.encode(item);
            let line_len = (self.buffer.len() - line_start) as u64;
            if self.needs_rotation(line_len) {
                // Deliver and acknowledge what precedes this line into the current file, so
                // the acknowledged length always describes the file at `path`.
                let head = self.buffer[..line_start].to_vec();
                self.write(&head)?;
                self.acknowledge(store, item.position - 1)?;
                self.rotate()?;
                self.acknowledge(store, item.position - 1)?;
                self.buffer.drain(..line_start);
            }
        }
        let body = std::mem::take(&mut self.buffer);
        let written = self.write(&body);
        self.buffer = body;
        written?;
        self.acknowledge(store, last)?;
        Ok(items.len())
    }

    fn encode(&mut self, item: &OutboxItem) {
        let alert: Alert = match serde_json::from_slice(&item.bytes) {
            Ok(alert) => alert,
            Err(error) => {
                tracing::error!(output = %self.spec.name, key = %item.key, "stored alert does not decode, skipped: {error}");
                return;
            }
        };
        let result = match self.spec.encoding {
            OutputEncoding::Line(format) => {
                format.encode(&alert, &self.spec.options, &mut self.buffer)
            }
            OutputEncoding::Human => {
                let line = format!(
                    "{:<6} {} {:<13} {}  (score {:.3}, count {}, id {})\n",
                    alert.severity.as_str().to_uppercase(),
                    alert.event_time.format("%Y-%m-%d %H:%M:%S"),
                    alert.detector,
                    alert.explanation,
                    alert.score,
                    alert.count,
                    alert.id
                );
                self.buffer.extend_from_slice(line.as_bytes());
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::error!(output = %self.spec.name, id = %alert.id, "cannot encode an alert, skipped: {error}");
        }
    }

    fn needs_rotation(&self, line_len: u64) -> bool {
        let (Sink::File { len, regular, .. }, OutputTarget::File { max_bytes, .. }) =
            (&self.sink, &self.spec.target)
        else {
            return false;
        };
        let pending = self.buffer.len() as u64 - line_len;
        *regular
            && max_bytes.is_some_and(|max| {
                let before = *len + pending;
                before > 0 && before + line_len > max
            })
    }

    fn path(&self) -> &Path {
        match &self.spec.target {
            OutputTarget::File { path, .. } => path,
            _ => Path::new("-"),
        }
    }

    fn io_error(&self, action: &'static str, source: std::io::Error) -> OutputError {
        OutputError::Io {
            name: self.spec.name.clone(),
            action,
            path: self.path().to_path_buf(),
            source,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let result = match &mut self.sink {
            Sink::File { file, len, regular } => {
                let result = file
                    .write_all(bytes)
                    .and_then(|()| if *regular { file.sync_data() } else { Ok(()) });
                if result.is_ok() {
                    *len += bytes.len() as u64;
                }
                result
            }
            Sink::Stderr => {
                let mut stderr = std::io::stderr().lock();
                stderr.write_all(bytes).and_then(|()| stderr.flush())
            }
            Sink::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(bytes).and_then(|()| stdout.flush())
            }
        };
        result.map_err(|e| self.io_error("cannot write", e))
    }

    fn acknowledge(&self, store: &Store, position: u64) -> Result<(), OutputError> {
        let state = match &self.sink {
            Sink::File { len, .. } => len.to_be_bytes().to_vec(),
            _ => Vec::new(),
        };
        store
            .outbox_ack_with_state(&self.spec.name, position, &state)
            .map(|_| ())
            .map_err(|source| OutputError::State {
                name: self.spec.name.clone(),
                source,
            })
    }

    /// `path` becomes `path.1`, `path.1` becomes `path.2` ..., the oldest beyond
    /// `keep_files` is removed, and a fresh `path` is opened.
    fn rotate(&mut self) -> Result<(), OutputError> {
        let OutputTarget::File {
            path, keep_files, ..
        } = self.spec.target.clone()
        else {
            return Ok(());
        };
        let numbered = |n: u32| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if keep_files == 0 {
            if let Sink::File { file, len, .. } = &mut self.sink {
                file.set_len(0).map_err(|e| OutputError::Io {
                    name: self.spec.name.clone(),
                    action: "cannot empty",
                    path: path.clone(),
                    source: e,
                })?;
                *len = 0;
            }
            return Ok(());
        }
        let rename = |from: &Path, to: &Path| -> Result<(), OutputError> {
            match std::fs::rename(from, to) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(OutputError::Io {
                    name: self.spec.name.clone(),
                    action: "cannot rotate",
                    path: from.to_path_buf(),
                    source: e,
                }),
            }
        };
        let _ = std::fs::remove_file(numbered(keep_files));
        for n in (1..keep_files).rev() {
            rename(&numbered(n), &numbered(n + 1))?;
        }
        rename(&path, &numbered(1))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| self.io_error("cannot open", e))?;
        self.sink = Sink::File {
            file,
            len: 0,
            regular: true,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_alert::{Severity, encode_json};
    use vigil_sensors::{Event, EventKind, Origin, Sensor};
    use vigil_state::{AlertId, NewAlert, StoreOptions};

    /// Commits `count` alerts with ids `first..first+count`, stored as the daemon stores them.
    fn commit_alerts(store: &Store, first: u64, count: u64) {
        let keep = EncodeOptions {
            redact_credentials: false,
            ..EncodeOptions::default()
        };
        for offset in first..first + count {
            let origin = Origin {
                source: Arc::from("cowrie.json"),
                offset,
                round: 0,
            };
            let mut event = Event::new(
                chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(offset as i64),
                Sensor::Cowrie,
                Arc::from("hp-1"),
                EventKind::LoginFailed,
                origin,
            );
            event.src_ip = Some("203.0.113.7".parse().expect("address"));
            event.password = Some("hunter2".into());
            let mut alert = Alert::new(&event, "brute_force", 0.99, Severity::Red, "x".into())
                .expect("valid alert");
            alert.id = format!("{offset:016x}");
            let mut bytes = Vec::new();
            encode_json(&alert, &keep, &mut bytes).expect("encodes");
            store
                .commit_alerts(&[NewAlert {
                    id: AlertId::new(offset),
                    event_time_micros: alert.event_time.timestamp_micros(),
                    src_ip: alert.src_ip,
                    bytes,
                }])
                .expect("commits");
        }
    }

    fn file_spec(path: &Path, max_bytes: Option<u64>, keep_files: u32) -> OutputSpec {
        OutputSpec {
            name: "ecs".to_string(),
            encoding: OutputEncoding::Line(LineFormat::Ecs),
            target: OutputTarget::File {
                path: path.to_path_buf(),
                max_bytes,
                keep_files,
                truncate: false,
            },
            options: EncodeOptions::default(),
        }
    }

    fn numbered(path: &Path, n: u32) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Ids of the lines in `files`, in order, checking each line is whole ECS JSON.
    fn ids_in(files: &[PathBuf]) -> Vec<u64> {
        let mut ids = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            assert!(text.is_empty() || text.ends_with('\n'));
            for line in text.lines() {
                let doc: serde_json::Value = serde_json::from_str(line).expect("ECS line");
                let id = doc["event"]["id"].as_str().expect("event.id");
                ids.push(u64::from_str_radix(id, 16).expect("hex id"));
            }
        }
        ids
    }

    #[test]
    fn rotates_by_size_and_keeps_every_line_whole_and_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("state"), &StoreOptions::default()).expect("store");
        let path = dir.path().join("alerts.ecs");
        commit_alerts(&store, 1, 200);
        let outputs =
            Outputs::start(&store, vec![file_spec(&path, Some(16 * 1024), 50)]).expect("starts");
        assert!(outputs.finish(Duration::MAX));
        let rotated: Vec<PathBuf> = (1..=50)
            .rev()
            .map(|n| numbered(&path, n))
            .filter(|p| p.exists())
            .collect();
        assert!(
            rotated.len() >= 2,
            "200 ECS lines exceed 16 KiB several times"
        );
        for file in rotated.iter().chain([&path]) {
            let len = std::fs::metadata(file).expect("metadata").len();
            assert!(len <= 16 * 1024, "{} is {len} bytes", file.display());
        }
        let mut files = rotated;
        files.push(path.clone());
        assert_eq!(ids_in(&files), (1..=200).collect::<Vec<_>>());
        let text = std::fs::read_to_string(&path).expect("output");
        assert!(!text.contains("hunter2"), "credentials are redacted");
    }

    #[test]
    fn keeps_only_keep_files_rotated_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("state"), &StoreOptions::default()).expect("store");
        let path = dir.path().join("alerts.ecs");
        commit_alerts(&store, 1, 200);
        let outputs =
            Outputs::start(&store, vec![file_spec(&path, Some(8 * 1024), 2)]).expect("starts");
        assert!(outputs.finish(Duration::MAX));
        assert!(numbered(&path, 2).exists());
        assert!(!numbered(&path, 3).exists());
        let files = [numbered(&path, 2), numbered(&path, 1), path.clone()];
        let ids = ids_in(&files);
        // The newest lines survive, contiguous and in order, ending with the last alert.
        assert_eq!(ids.last(), Some(&200));
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    }

    #[test]
    fn restart_cuts_unacknowledged_lines_and_delivers_each_alert_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("alerts.ecs");
        {
            let store =
                Store::open(dir.path().join("state"), &StoreOptions::default()).expect("store");
            commit_alerts(&store, 1, 10);
            let outputs = Outputs::start(&store, vec![file_spec(&path, None, 0)]).expect("starts");
            assert!(outputs.finish(Duration::MAX));
            store.flush().expect("flush");
        }
        // A crashed run wrote a line and a half after its last acknowledgement.
        let acknowledged = std::fs::metadata(&path).expect("metadata").len();
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(b"{\"event\":{\"id\":\"000000000000000b\"}}\n{\"trunc")
            .expect("write");
        drop(file);
        let store = Store::open(dir.path().join("state"), &StoreOptions::default()).expect("store");
        let outputs = Outputs::start(&store, vec![file_spec(&path, None, 0)]).expect("starts");
        assert_eq!(
            std::fs::metadata(&path).expect("metadata").len(),
            acknowledged,
            "cut back at start"
        );
        commit_alerts(&store, 11, 5);
        assert!(outputs.finish(Duration::MAX));
        assert_eq!(ids_in(&[path]), (1..=15).collect::<Vec<_>>());
    }

    #[test]
    fn non_file_targets_and_dev_null_are_not_cut() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("state"), &StoreOptions::default()).expect("store");
        commit_alerts(&store, 1, 3);
        let dev_null = OutputSpec {
            name: "null".to_string(),
            encoding: OutputEncoding::Line(LineFormat::Json),
            target: OutputTarget::File {
                path: PathBuf::from("/dev/null"),
                max_bytes: Some(4096),
                keep_files: 3,
                truncate: true,
            },
            options: EncodeOptions::default(),
        };
        let outputs = Outputs::start(&store, vec![dev_null]).expect("starts");
        assert!(outputs.finish(Duration::MAX));
        assert_eq!(
            store
                .outbox_cursor("null")
                .expect("cursor")
                .map(|c| c.position),
            Some(3)
        );
    }
}
