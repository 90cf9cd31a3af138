//! Outputs: each follows the store's outbox with its own cursor, on its own thread.
//!
//! The alert stage commits alerts to the [`Store`] and never waits for an output; each
//! output reads committed alerts in commit order ([`Store::outbox_next`]), encodes them,
//! appends them to its file (rotating by size) and acknowledges them together with the
//! file's length ([`Store::outbox_ack_with_state`]). At start it cuts the file back to the
//! acknowledged length, so lines written after the last acknowledgement of a crashed run
//! are removed and written again once: each alert reaches each file exactly once.
//!
//! The webhook output ([`OutputTarget::Webhook`]) POSTs each alert at or above its minimum
//! severity, and each drift event of the detector pool ([`Store::drift_next`], with a drift
//! cursor of its own), as the Slack-compatible JSON body of `vigil_alert`, and acknowledges
//! each item once the receiver answered 2xx. It retries 408, 429, 5xx, connection errors and
//! timeouts with exponential backoff, never passing an undelivered item; it logs and skips an
//! item the receiver refuses with another 4xx, so one bad payload cannot wedge it. A crash
//! between a POST and its acknowledgement sends that one item again: at least once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use vigil_alert::{
    Alert, DriftNotice, EncodeOptions, LineFormat, Severity, encode_webhook_alert,
    encode_webhook_drift,
};
use vigil_state::{DriftEvent, OutboxItem, Store};

use crate::config::redacted_url;

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
    /// The Slack-compatible webhook body (`vigil_alert::encode_webhook_alert`): what
    /// [`OutputTarget::Webhook`] sends; to a file, one body per line.
    Webhook,
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
    /// An HTTP endpoint: one JSON POST per alert (and drift event). Takes
    /// [`OutputEncoding::Webhook`].
    Webhook(WebhookSpec),
}

/// Where and how the webhook output POSTs (`[outputs.webhook]`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    /// The `http://` or `https://` URL POSTed to.
    pub url: String,
    /// Most time one POST may take, connecting, TLS and reading the answer included.
    pub timeout: Duration,
    /// Failed tries of one item with doubling waits; after them the output waits
    /// `backoff_max` between tries. At shutdown it gives up after this many (the item is
    /// delivered after the next start).
    pub max_retries: u32,
    /// Wait after the first failed try.
    pub backoff_initial: Duration,
    /// Longest wait between two tries (unless the receiver's `Retry-After` asks for longer).
    pub backoff_max: Duration,
    /// Alerts below this severity are acknowledged without being sent.
    pub min_severity: Severity,
    /// Whether the detector pool's drift events are sent too.
    pub drift_events: bool,
    /// Extra request headers (name, value), such as `Authorization`.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for WebhookSpec {
    /// Leaves out the URL's path and the header values, which often hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSpec")
            .field("url", &redacted_url(&self.url))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("min_severity", &self.min_severity)
            .field("drift_events", &self.drift_events)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The longest `Retry-After` the webhook output honours.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl WebhookSpec {
    /// How long to wait after the `failures`-th failed try in a row of one item: the
    /// receiver's `Retry-After` when it sent one (at least `backoff_initial`, at most an
    /// hour), else `backoff_initial` doubled per earlier failure up to `backoff_max`, and
    /// `backoff_max` once `max_retries` tries have failed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vigil::outputs::WebhookSpec;
    /// let spec = WebhookSpec {
    ///     url: "http://127.0.0.1:9/".into(),
    ///     timeout: Duration::from_secs(5),
    ///     max_retries: 3,
    ///     backoff_initial: Duration::from_millis(100),
    ///     backoff_max: Duration::from_millis(300),
    ///     min_severity: vigil::alert::Severity::Red,
    ///     drift_events: true,
    ///     headers: vec![],
    /// };
    /// let ms = |failures, retry_after| spec.wait_after(failures, retry_after).as_millis();
    /// assert_eq!([ms(1, None), ms(2, None), ms(3, None), ms(4, None)], [100, 200, 300, 300]);
    /// assert_eq!(ms(1, Some(Duration::from_secs(2))), 2000);
    /// assert_eq!(ms(1, Some(Duration::ZERO)), 100);
    /// ```
    pub fn wait_after(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked.clamp(
                self.backoff_initial,
                MAX_RETRY_AFTER.max(self.backoff_initial),
            );
        }
        if failures > self.max_retries {
            return self.backoff_max;
        }
        let doublings = failures.saturating_sub(1).min(31);
        self.backoff_initial
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }
}

/// The wait a `Retry-After` header value asks for at `now`: delay-seconds (`120`) or an
/// HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`, zero when past); `None` when it is neither.
///
/// ```
/// use std::time::Duration;
/// use vigil::outputs::parse_retry_after;
/// let now = "2015-10-21T07:27:00Z".parse().unwrap();
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(60)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:26:00 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long values saturate; the caller caps the wait anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// What a webhook output did since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Alerts the receiver accepted (2xx).
    pub alerts_sent: u64,
    /// Alerts below the minimum severity, acknowledged without being sent.
    pub alerts_below_min_severity: u64,
    /// Drift events the receiver accepted (2xx).
    pub drift_events_sent: u64,
    /// Items the receiver refused with a 4xx other than 408 and 429: logged and skipped.
    pub rejected: u64,
    /// Failed tries that were tried again.
    pub retries: u64,
    /// Stored items that did not decode or encode: logged and skipped.
    pub undecodable: u64,
}

#[derive(Default)]
struct WebhookCounters {
    alerts_sent: AtomicU64,
    alerts_below_min_severity: AtomicU64,
    drift_events_sent: AtomicU64,
    rejected: AtomicU64,
    retries: AtomicU64,
    undecodable: AtomicU64,
}

impl WebhookCounters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> WebhookStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WebhookStats {
            alerts_sent: get(&self.alerts_sent),
            alerts_below_min_severity: get(&self.alerts_below_min_severity),
            drift_events_sent: get(&self.drift_events_sent),
            rejected: get(&self.rejected),
            retries: get(&self.retries),
            undecodable: get(&self.undecodable),
        }
    }
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
    /// A webhook target without the webhook encoding.
    #[error("output {name}: a webhook target takes the webhook encoding, not {encoding:?}")]
    Mismatch {
        /// The output.
        name: String,
        /// The encoding it was given.
        encoding: OutputEncoding,
    },
}

/// The running outputs.
pub struct Outputs {
    store: Store,
    names: Vec<String>,
    /// Outputs that also follow the drift events.
    drift_names: Vec<String>,
    webhooks: Vec<(String, Arc<WebhookCounters>)>,
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
    ///
    /// A webhook seen for the first time (no cursor in the store) starts after the alerts
    /// and drift events already stored, so adding one to an existing state directory does
    /// not send its history.
    pub fn open(store: &Store, specs: Vec<OutputSpec>) -> Result<OpenOutputs, OutputError> {
        let mut writers = Vec::new();
        for spec in specs {
            writers.push(match &spec.target {
                OutputTarget::Webhook(_) => {
                    Worker::Webhook(Box::new(WebhookWriter::open(store, spec)?))
                }
                _ => Worker::File(OutputWriter::open(store, spec)?),
            });
        }
        Ok(OpenOutputs {
            store: store.clone(),
            writers,
        })
    }

    /// Whether every output has acknowledged every committed alert (and every webhook
    /// every stored drift event).
    pub fn caught_up(&self) -> bool {
        caught_up_with(&self.store, &self.names, &self.drift_names)
    }

    /// What each webhook output did so far, by name.
    pub fn webhook_stats(&self) -> Vec<(String, WebhookStats)> {
        self.webhooks
            .iter()
            .map(|(name, counters)| (name.clone(), counters.snapshot()))
            .collect()
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
        for (name, stats) in self
            .webhooks
            .iter()
            .map(|(name, counters)| (name, counters.snapshot()))
        {
            tracing::info!(
                output = %name,
                alerts_sent = stats.alerts_sent,
                alerts_below_min_severity = stats.alerts_below_min_severity,
                drift_events_sent = stats.drift_events_sent,
                rejected = stats.rejected,
                retries = stats.retries,
                undecodable = stats.undecodable,
                "webhook output stopped"
            );
        }
        let caught_up = caught_up_with(&self.store, &self.names, &self.drift_names);
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
    writers: Vec<Worker>,
}

impl OpenOutputs {
    /// Starts one thread per output.
    pub fn start(self) -> Result<Outputs, OutputError> {
        let store = &self.store;
        let draining = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut drift_names = Vec::new();
        let mut webhooks = Vec::new();
        for mut writer in self.writers {
            let store = store.clone();
            let flags = (draining.clone(), stop.clone());
            let name = writer.name().to_string();
            if let Worker::Webhook(webhook) = &writer {
                webhooks.push((name.clone(), webhook.counters.clone()));
                if webhook.spec.drift_events {
                    drift_names.push(name.clone());
                }
            }
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
            drift_names,
            webhooks,
            draining,
            stop,
            threads,
        })
    }
}

/// Whether every output in `names` has acknowledged every committed alert, and every one
/// in `drift_names` every stored drift event.
fn caught_up_with(store: &Store, names: &[String], drift_names: &[String]) -> bool {
    let last = store.last_alert_position();
    names.iter().all(|name| {
        store
            .outbox_cursor(name)
            .ok()
            .flatten()
            .map_or(last == 0, |cursor| cursor.position >= last)
    }) && drift_names
        .iter()
        .all(|name| store.drift_next(name, 1).is_ok_and(|next| next.is_empty()))
}

/// An opened output, ready to run on its own thread.
enum Worker {
    File(OutputWriter),
    Webhook(Box<WebhookWriter>),
}

impl Worker {
    fn name(&self) -> &str {
        match self {
            Worker::File(writer) => &writer.spec.name,
            Worker::Webhook(writer) => &writer.name,
        }
    }

    fn run(&mut self, store: &Store, draining: &AtomicBool, stop: &AtomicBool) {
        match self {
            Worker::File(writer) => writer.run(store, draining, stop),
            Worker::Webhook(writer) => writer.run(store, draining, stop),
        }
    }
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
            OutputTarget::Webhook(_) => {
                return Err(OutputError::Mismatch {
                    name: spec.name.clone(),
                    encoding: spec.encoding,
                });
            }
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
            OutputEncoding::Webhook => {
                encode_webhook_alert(&alert, &self.spec.options, &mut self.buffer).map(|()| {
                    self.buffer.push(b'\n');
                })
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

/// Alerts or drift events a webhook reads from the store per round.
const WEBHOOK_BATCH: usize = 64;
/// Longest single sleep of a waiting webhook, so that it sees shutdown promptly.
const PAUSE_STEP: Duration = Duration::from_millis(25);
/// Bytes of a refused answer's body quoted in the log.
const SNIPPET_BYTES: u64 = 256;
/// Bytes of an accepted answer's body read (and dropped) so the connection can be reused.
const DRAIN_BYTES: u64 = 64 * 1024;

/// How one POST went.
enum Attempt {
    /// 2xx.
    Delivered,
    /// A 4xx other than 408 and 429: the receiver will not take this body.
    Refused { status: u16, snippet: String },
    /// Worth trying again: 408, 429, 5xx, another status, or no answer at all.
    Failed {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// How sending one item ended.
enum Sent {
    Delivered,
    Refused,
    /// Shutdown: the item stays after the cursor and is sent after the next start.
    Halted,
}

/// What one round of a webhook did.
enum Round {
    Idle,
    Progress,
    Halted,
}

struct WebhookWriter {
    name: String,
    spec: WebhookSpec,
    options: EncodeOptions,
    agent: ureq::Agent,
    /// The URL without its path, for logs.
    target: String,
    counters: Arc<WebhookCounters>,
    body: Vec<u8>,
}

impl WebhookWriter {
    fn open(store: &Store, spec: OutputSpec) -> Result<WebhookWriter, OutputError> {
        let OutputTarget::Webhook(webhook) = spec.target else {
            return Err(OutputError::Mismatch {
                name: spec.name,
                encoding: spec.encoding,
            });
        };
        if spec.encoding != OutputEncoding::Webhook {
            return Err(OutputError::Mismatch {
                name: spec.name,
                encoding: spec.encoding,
            });
        }
        let name = spec.name;
        let state_error = |source| OutputError::State {
            name: name.clone(),
            source,
        };
        // A webhook seen for the first time starts after what is already stored: adding one
        // to an existing state directory must not post its whole history to a chat channel.
        if store.outbox_cursor(&name).map_err(state_error)?.is_none() {
            store
                .outbox_ack(&name, store.last_alert_position())
                .map_err(state_error)?;
        }
        if webhook.drift_events && store.drift_cursor(&name).map_err(state_error)?.is_none() {
            let newest = store
                .drift_events(1, None)
                .map_err(state_error)?
                .events
                .first()
                .map(|event| event.key);
            store.drift_ack(&name, newest).map_err(state_error)?;
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(webhook.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(WebhookWriter {
            target: redacted_url(&webhook.url),
            name,
            spec: webhook,
            options: spec.options,
            agent,
            counters: Arc::new(WebhookCounters::default()),
            body: Vec::with_capacity(4096),
        })
    }

    fn state_error(&self, source: vigil_state::StateError) -> OutputError {
        OutputError::State {
            name: self.name.clone(),
            source,
        }
    }

    fn run(&mut self, store: &Store, draining: &AtomicBool, stop: &AtomicBool) {
        let mut failing = false;
        loop {
            // Read before looking at the store: once draining is set nothing more is
            // committed, so an empty round after it means caught up.
            let drain = draining.load(Ordering::SeqCst);
            match self.deliver_some(store, draining, stop) {
                Ok(Round::Idle) => {
                    if drain || stop.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(IDLE_WAIT);
                }
                Ok(Round::Progress) => {
                    failing = false;
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
                Ok(Round::Halted) => return,
                Err(error) => {
                    if drain || stop.load(Ordering::SeqCst) {
                        tracing::error!("{error}; the rest is sent after the next start");
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

    /// Sends up to one batch of alerts, then of drift events, acknowledging each item once
    /// it is delivered, refused or not to be sent.
    fn deliver_some(
        &mut self,
        store: &Store,
        draining: &AtomicBool,
        stop: &AtomicBool,
    ) -> Result<Round, OutputError> {
        let items = store
            .outbox_next(&self.name, WEBHOOK_BATCH)
            .map_err(|e| self.state_error(e))?;
        let mut handled = items.len();
        // Alerts passed over (below the minimum severity, undecodable) are acknowledged
        // together, before the next POST and at the end of the batch.
        let mut passed_over = None;
        for item in &items {
            if !self.encode_alert(item) {
                passed_over = Some(item.position);
                continue;
            }
            if let Some(position) = passed_over.take() {
                self.ack_alert(store, position)?;
            }
            let sent = self.send(draining, stop);
            match sent {
                Sent::Halted => return Ok(Round::Halted),
                Sent::Delivered => WebhookCounters::bump(&self.counters.alerts_sent),
                Sent::Refused => {}
            }
            self.ack_alert(store, item.position)?;
        }
        if let Some(position) = passed_over {
            self.ack_alert(store, position)?;
        }

        if self.spec.drift_events {
            let events = store
                .drift_next(&self.name, WEBHOOK_BATCH)
                .map_err(|e| self.state_error(e))?;
            handled += events.len();
            for event in &events {
                if self.encode_drift(event) {
                    match self.send(draining, stop) {
                        Sent::Halted => return Ok(Round::Halted),
                        Sent::Delivered => {
                            WebhookCounters::bump(&self.counters.drift_events_sent);
                        }
                        Sent::Refused => {}
                    }
                }
                store
                    .drift_ack(&self.name, Some(event.key))
                    .map_err(|e| self.state_error(e))?;
            }
        }
        Ok(if handled == 0 {
            Round::Idle
        } else {
            Round::Progress
        })
    }

    fn ack_alert(&self, store: &Store, position: u64) -> Result<(), OutputError> {
        store
            .outbox_ack(&self.name, position)
            .map(|_| ())
            .map_err(|e| self.state_error(e))
    }

    /// Puts the body for `item` into `self.body`; `false` when it is not to be sent (below
    /// the minimum severity, or it does not decode or encode: logged and counted).
    fn encode_alert(&mut self, item: &OutboxItem) -> bool {
        let alert: Alert = match serde_json::from_slice(&item.bytes) {
            Ok(alert) => alert,
            Err(error) => {
                tracing::error!(output = %self.name, key = %item.key, "stored alert does not decode, skipped: {error}");
                WebhookCounters::bump(&self.counters.undecodable);
                return false;
            }
        };
        if alert.severity < self.spec.min_severity {
            WebhookCounters::bump(&self.counters.alerts_below_min_severity);
            return false;
        }
        self.body.clear();
        match encode_webhook_alert(&alert, &self.options, &mut self.body) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(output = %self.name, id = %alert.id, "cannot encode an alert, skipped: {error}");
                WebhookCounters::bump(&self.counters.undecodable);
                false
            }
        }
    }

    /// Puts the body for a stored drift event into `self.body`; `false` when it does not
    /// decode or encode (logged and counted).
    fn encode_drift(&mut self, event: &DriftEvent) -> bool {
        self.body.clear();
        let encoded = drift_notice(&event.bytes)
            .map_err(|e| e.to_string())
            .and_then(|notice| {
                encode_webhook_drift(&notice, &mut self.body).map_err(|e| e.to_string())
            });
        match encoded {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(output = %self.name, key = %event.key, "stored drift event does not decode, skipped: {error}");
                WebhookCounters::bump(&self.counters.undecodable);
                false
            }
        }
    }

    /// POSTs `self.body` until the receiver takes or refuses it, or shutdown halts it.
    fn send(&mut self, draining: &AtomicBool, stop: &AtomicBool) -> Sent {
        let mut failures: u32 = 0;
        loop {
            if stop.load(Ordering::SeqCst) {
                return Sent::Halted;
            }
            match self.post() {
                Attempt::Delivered => {
                    if failures > 0 {
                        tracing::info!(output = %self.name, url = %self.target, retries = failures, "webhook delivered after retrying");
                    }
                    return Sent::Delivered;
                }
                Attempt::Refused { status, snippet } => {
                    WebhookCounters::bump(&self.counters.rejected);
                    tracing::error!(
                        output = %self.name,
                        url = %self.target,
                        status,
                        body = %snippet,
                        "webhook refused the item; skipped"
                    );
                    return Sent::Refused;
                }
                Attempt::Failed {
                    reason,
                    retry_after,
                } => {
                    failures = failures.saturating_add(1);
                    let exhausted = failures > self.spec.max_retries;
                    if exhausted && draining.load(Ordering::SeqCst) {
                        tracing::error!(
                            output = %self.name,
                            url = %self.target,
                            "webhook still failing at shutdown ({reason}); the rest is sent after the next start"
                        );
                        return Sent::Halted;
                    }
                    let wait = self.spec.wait_after(failures, retry_after);
                    if failures == self.spec.max_retries.saturating_add(1) {
                        tracing::error!(
                            output = %self.name,
                            url = %self.target,
                            "webhook failed {failures} times in a row ({reason}); trying every {} ms until it takes the item",
                            wait.as_millis()
                        );
                    } else {
                        tracing::warn!(
                            output = %self.name,
                            url = %self.target,
                            attempt = failures,
                            "webhook failed ({reason}); retrying in {} ms",
                            wait.as_millis()
                        );
                    }
                    WebhookCounters::bump(&self.counters.retries);
                    let exhausted_at_shutdown = || {
                        stop.load(Ordering::SeqCst)
                            || (draining.load(Ordering::SeqCst) && failures > self.spec.max_retries)
                    };
                    if !pause(wait, exhausted_at_shutdown) {
                        return Sent::Halted;
                    }
                }
            }
        }
    }

    /// One POST of `self.body`.
    fn post(&self) -> Attempt {
        let mut request = self
            .agent
            .post(&self.spec.url)
            .header("content-type", "application/json");
        for (name, value) in &self.spec.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = match request.send(&self.body[..]) {
            Ok(response) => response,
            Err(error) => {
                return Attempt::Failed {
                    reason: error.to_string(),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let mut sink = std::io::sink();
            let _ = std::io::copy(
                &mut std::io::Read::take(response.body_mut().as_reader(), DRAIN_BYTES),
                &mut sink,
            );
            return Attempt::Delivered;
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, Utc::now()));
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(|value| format!(", redirected to {}", redacted_url(value)))
            .unwrap_or_default();
        let snippet = body_snippet(response.body_mut());
        match status {
            408 | 429 | 500..=599 => Attempt::Failed {
                reason: format!("HTTP {status}: {snippet}"),
                retry_after,
            },
            400..=499 => Attempt::Refused { status, snippet },
            _ => Attempt::Failed {
                reason: format!("HTTP {status}{location}: {snippet}"),
                retry_after,
            },
        }
    }
}

/// The first bytes of an answer's body, as one line of text.
fn body_snippet(body: &mut ureq::Body) -> String {
    let mut bytes = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut std::io::Read::take(body.as_reader(), SNIPPET_BYTES),
        &mut bytes,
    );
    String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Sleeps for `wait` in short steps; returns `false` as soon as `interrupted` holds.
fn pause(wait: Duration, interrupted: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if interrupted() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(PAUSE_STEP));
    }
}

/// The webhook's notice for a drift event stored by the pipeline (the JSON of
/// `vigil_pool::DriftEvent`). Its time is the event time of the decision, or the time of
/// sending when the pool had none; its reason starts with what was decided.
///
/// ```
/// let stored = br#"{"seq":12,"event_time_micros":1772359207000000,"kind":"champion_changed",
///     "model":"hst#2","reason":"hst#2 leads","champion_before":"ocsvm#1","champion_after":"hst#2"}"#;
/// let notice = vigil::outputs::drift_notice(stored)?;
/// assert_eq!(notice.model, "hst#2");
/// assert_eq!(notice.reason, "champion changed: hst#2 leads");
/// assert_eq!(notice.champion_before, "ocsvm#1");
/// assert_eq!(notice.time.to_rfc3339(), "2026-03-01T10:00:07+00:00");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn drift_notice(bytes: &[u8]) -> Result<DriftNotice, serde_json::Error> {
    use vigil_pool::DriftKind;
    let event: vigil_pool::DriftEvent = serde_json::from_slice(bytes)?;
    let decision = match event.kind {
        DriftKind::DriftDetected => "drift detected",
        DriftKind::ChampionChanged => "champion changed",
        DriftKind::BaselineFitted => "baseline fitted",
        DriftKind::Retrained => "retrained",
        DriftKind::Retired => "retired",
        DriftKind::Restored => "restored",
        DriftKind::FitFailed => "fit failed",
        DriftKind::RetrainRequested => "retrain requested",
    };
    let champion = |model: Option<vigil_pool::ModelRef>| {
        model.map_or_else(|| "none".to_string(), |model| model.to_string())
    };
    Ok(DriftNotice {
        time: event
            .event_time_micros
            .and_then(DateTime::from_timestamp_micros)
            .unwrap_or_else(Utc::now),
        model: event.model.to_string(),
        reason: format!("{decision}: {}", event.reason),
        champion_before: champion(event.champion_before),
        champion_after: champion(event.champion_after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_alert::{Severity, encode_json};
    use vigil_sensors::{Event, EventKind, Origin, Sensor};
    use vigil_state::{AlertId, NewAlert, StoreOptions};

    /// Commits `count` alerts with ids `first..first+count`, stored as the daemon stores them.
    pub(super) fn commit_alerts(store: &Store, first: u64, count: u64) {
        commit_alerts_with(store, first, count, |_| Severity::Red);
    }

    /// Like [`commit_alerts`], with the severity of each id.
    pub(super) fn commit_alerts_with(
        store: &Store,
        first: u64,
        count: u64,
        severity_of: impl Fn(u64) -> Severity,
    ) {
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
            let mut alert =
                Alert::new(&event, "brute_force", 0.99, severity_of(offset), "x".into())
                    .expect("valid alert");
            alert.id = format!("{offset:016x}");
            let mut bytes = Vec::new();
            encode_json(&alert, &keep, &mut bytes).expect("encodes");
            store
                .commit_alerts(&[NewAlert {
                    id: AlertId::new(offset),
                    event_time_micros: alert.event_time.timestamp_micros(),
                    src_ip: alert.src_ip,
                    score: alert.score,
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

#[cfg(test)]
mod webhook_tests {
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;
    use std::sync::Mutex;

    use super::tests::{commit_alerts, commit_alerts_with};
    use super::*;
    use vigil_state::StoreOptions;

    /// One request the receiver answered.
    #[derive(Debug, Clone)]
    struct Request {
        status: u16,
        body: serde_json::Value,
        authorization: Option<String>,
    }

    /// A tiny HTTP/1.1 receiver on a local port: answers the n-th request with the n-th
    /// entry of its script (status and an optional `Retry-After`), then 200, and records
    /// every request.
    struct Receiver {
        url: String,
        requests: Arc<Mutex<Vec<Request>>>,
    }

    impl Receiver {
        fn start(script: Vec<(u16, Option<&'static str>)>) -> Receiver {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let url = format!(
                "http://{}/hook/secret",
                listener.local_addr().expect("addr")
            );
            let requests = Arc::new(Mutex::new(Vec::new()));
            let log = requests.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let mut reader = BufReader::new(stream);
                    let mut length = 0usize;
                    let mut authorization = None;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            let value = value.trim().to_string();
                            match name.to_ascii_lowercase().as_str() {
                                "content-length" => length = value.parse().unwrap_or(0),
                                "authorization" => authorization = Some(value),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        continue;
                    }
                    let mut log = log.lock().expect("log");
                    let (status, retry_after) =
                        script.get(log.len()).copied().unwrap_or((200, None));
                    log.push(Request {
                        status,
                        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                        authorization,
                    });
                    drop(log);
                    let text = format!("answer {status}");
                    let retry = retry_after
                        .map(|value| format!("Retry-After: {value}\r\n"))
                        .unwrap_or_default();
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = reader.get_mut().write_all(answer.as_bytes());
                }
            });
            Receiver { url, requests }
        }

        fn requests(&self) -> Vec<Request> {
            self.requests.lock().expect("log").clone()
        }

        /// Alert ids of the accepted alert bodies, in order.
        fn delivered_alert_ids(&self) -> Vec<u64> {
            self.requests()
                .iter()
                .filter(|r| r.status == 200 && r.body["vigil"]["kind"] == "alert")
                .map(|r| {
                    let id = r.body["vigil"]["alert"]["id"].as_str().expect("alert id");
                    u64::from_str_radix(id, 16).expect("hex id")
                })
                .collect()
        }
    }

    fn webhook(url: &str) -> WebhookSpec {
        WebhookSpec {
            url: url.to_string(),
            timeout: Duration::from_secs(10),
            max_retries: 5,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
            min_severity: Severity::Red,
            drift_events: true,
            headers: vec![("Authorization".into(), "Bearer t0ken".into())],
        }
    }

    fn spec(webhook: WebhookSpec) -> OutputSpec {
        OutputSpec {
            name: "webhook".to_string(),
            encoding: OutputEncoding::Webhook,
            target: OutputTarget::Webhook(webhook),
            options: EncodeOptions::default(),
        }
    }

    fn open_store(dir: &Path) -> Store {
        Store::open(dir.join("state"), &StoreOptions::default()).expect("store")
    }

    /// Ids 1..=count: every third ORANGE, the rest RED.
    fn severity(id: u64) -> Severity {
        if id.is_multiple_of(3) {
            Severity::Orange
        } else {
            Severity::Red
        }
    }

    #[test]
    fn sends_red_alerts_once_retrying_server_errors_and_honouring_retry_after() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        let receiver = Receiver::start(vec![
            (500, None),
            (503, None),
            (429, Some("0")),
            (408, None),
        ]);
        let outputs = Outputs::start(&store, vec![spec(webhook(&receiver.url))]).expect("starts");
        commit_alerts_with(&store, 1, 12, severity);
        let stats = {
            let started = &outputs;
            // Wait (without a time limit: the test fails by hanging) until every RED alert
            // is in, then read the counters before finishing.
            while receiver.delivered_alert_ids().len() < 8 || !started.caught_up() {
                std::thread::sleep(Duration::from_millis(5));
            }
            started.webhook_stats()
        };
        assert!(outputs.finish(Duration::MAX));
        let red: Vec<u64> = (1..=12)
            .filter(|id| severity(*id) == Severity::Red)
            .collect();
        assert_eq!(receiver.delivered_alert_ids(), red);
        let requests = receiver.requests();
        assert_eq!(
            requests.iter().map(|r| r.status).collect::<Vec<_>>()[..5],
            [500, 503, 429, 408, 200]
        );
        // The failed tries carried the first RED alert, every time.
        assert!(
            requests[..5]
                .iter()
                .all(|r| r.body["vigil"]["alert"]["id"] == "0000000000000001")
        );
        for request in &requests {
            assert!(
                request.body["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("RED alert"))
            );
            assert_eq!(request.authorization.as_deref(), Some("Bearer t0ken"));
        }
        assert_eq!(
            stats,
            vec![(
                "webhook".to_string(),
                WebhookStats {
                    alerts_sent: 8,
                    alerts_below_min_severity: 4,
                    retries: 4,
                    ..WebhookStats::default()
                }
            )]
        );
        assert_eq!(
            store
                .outbox_cursor("webhook")
                .expect("cursor")
                .map(|c| c.position),
            Some(12)
        );

        // A restart sends nothing again; new alerts follow.
        let outputs = Outputs::start(&store, vec![spec(webhook(&receiver.url))]).expect("starts");
        commit_alerts_with(&store, 13, 2, |_| Severity::Red);
        assert!(outputs.finish(Duration::MAX));
        let mut expected = red;
        expected.extend([13, 14]);
        assert_eq!(receiver.delivered_alert_ids(), expected);
    }

    #[test]
    fn min_severity_orange_sends_orange_alerts_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        let receiver = Receiver::start(vec![]);
        let mut hook = webhook(&receiver.url);
        hook.min_severity = Severity::Orange;
        let outputs = Outputs::start(&store, vec![spec(hook)]).expect("starts");
        commit_alerts_with(&store, 1, 6, severity);
        assert!(outputs.finish(Duration::MAX));
        assert_eq!(receiver.delivered_alert_ids(), (1..=6).collect::<Vec<_>>());
        let texts: Vec<String> = receiver
            .requests()
            .iter()
            .map(|r| r.body["text"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(texts[2].starts_with("ORANGE alert"), "{texts:?}");
    }

    #[test]
    fn refused_items_are_logged_skipped_and_counted_without_wedging_the_output() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        let receiver = Receiver::start(vec![(400, None), (200, None), (413, None)]);
        let outputs = Outputs::start(&store, vec![spec(webhook(&receiver.url))]).expect("starts");
        commit_alerts(&store, 1, 5);
        while !outputs.caught_up() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let stats = outputs.webhook_stats();
        assert!(outputs.finish(Duration::MAX));
        assert_eq!(receiver.delivered_alert_ids(), [2, 4, 5]);
        assert_eq!(
            receiver.requests().len(),
            5,
            "refused items are not tried again"
        );
        assert_eq!(stats[0].1.rejected, 2);
        assert_eq!(stats[0].1.alerts_sent, 3);
        assert_eq!(stats[0].1.retries, 0);
    }

    #[test]
    fn a_new_webhook_skips_stored_history_and_then_follows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        commit_alerts(&store, 1, 5);
        store
            .append_drift_event(7, &drift_json(7, "hst#1", "ocsvm#2"))
            .expect("drift");
        let receiver = Receiver::start(vec![]);
        let outputs = Outputs::start(&store, vec![spec(webhook(&receiver.url))]).expect("starts");
        commit_alerts(&store, 6, 2);
        assert!(outputs.finish(Duration::MAX));
        assert_eq!(receiver.delivered_alert_ids(), [6, 7]);
        assert_eq!(
            receiver.requests().len(),
            2,
            "no drift event from before it was added"
        );
    }

    /// A stored drift event as the pipeline stores it: the JSON of the pool's `DriftEvent`.
    fn drift_json(seq: u64, before: &str, after: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "seq": seq,
            "event_time_micros": 1_772_359_207_000_000i64 + seq as i64,
            "kind": "champion_changed",
            "model": after,
            "reason": format!("{after} <b>leads</b> after drift at {seq}"),
            "champion_before": before,
            "champion_after": after,
        }))
        .expect("JSON")
    }

    fn drift_sequences(receiver: &Receiver) -> Vec<String> {
        receiver
            .requests()
            .iter()
            .filter(|r| r.status == 200 && r.body["vigil"]["kind"] == "drift")
            .map(|r| {
                r.body["vigil"]["drift"]["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn drift_events_are_sent_once_across_restarts_with_their_own_cursor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let receiver = Receiver::start(vec![(502, None)]);
        {
            let store = open_store(dir.path());
            let outputs =
                Outputs::start(&store, vec![spec(webhook(&receiver.url))]).expect("starts");
            store
                .append_drift_event(100, &drift_json(100, "ocsvm#1", "hst#2"))
                .expect("drift");
            store
                .append_drift_event(150, b"not a drift event")
                .expect("drift");
            store
                .append_drift_event(200, &drift_json(200, "hst#2", "ocsvm#3"))
                .expect("drift");
            while !outputs.caught_up() {
                std::thread::sleep(Duration::from_millis(5));
            }
            let stats = outputs.webhook_stats();
            assert!(outputs.finish(Duration::MAX));
            assert_eq!(stats[0].1.drift_events_sent, 2);
            assert_eq!(stats[0].1.undecodable, 1);
            assert_eq!(stats[0].1.retries, 1);
            store.flush().expect("flush");
        }
        assert_eq!(
            drift_sequences(&receiver),
            [
                "champion changed: hst#2 <b>leads</b> after drift at 100",
                "champion changed: ocsvm#3 <b>leads</b> after drift at 200"
            ]
        );
        let first = &receiver.requests()[1];
        assert_eq!(
            first.body["text"],
            "Drift in hst#2: champion ocsvm#1 → hst#2. champion changed: hst#2 &lt;b&gt;leads&lt;/b&gt; after drift at 100"
        );
        assert_eq!(
            first.body["vigil"]["drift"]["time"],
            "2026-03-01T10:00:07.000100Z"
        );

        // After a restart: the decisions derived again are not sent again, a new one is.
        let store = open_store(dir.path());
        let outputs = Outputs::start(&store, vec![spec(webhook(&receiver.url))]).expect("starts");
        store
            .append_drift_event(200, &drift_json(200, "hst#2", "ocsvm#3"))
            .expect("drift");
        store
            .append_drift_event(300, &drift_json(300, "ocsvm#3", "hst#4"))
            .expect("drift");
        assert!(outputs.finish(Duration::MAX));
        assert_eq!(drift_sequences(&receiver).len(), 3);
        assert!(drift_sequences(&receiver)[2].ends_with("at 300"));

        // With drift_events = false nothing of them is sent.
        let mut quiet = webhook(&receiver.url);
        quiet.drift_events = false;
        let outputs = Outputs::start(&store, vec![spec(quiet)]).expect("starts");
        store
            .append_drift_event(400, &drift_json(400, "hst#4", "hst#5"))
            .expect("drift");
        assert!(outputs.finish(Duration::MAX));
        assert_eq!(drift_sequences(&receiver).len(), 3);
    }

    /// A local address nothing listens on.
    fn dead_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("addr");
        drop(listener);
        format!("http://{address}/hook")
    }

    #[test]
    fn a_dead_webhook_keeps_its_cursor_and_gives_up_at_shutdown_after_max_retries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        let mut hook = webhook(&dead_url());
        hook.max_retries = 3;
        let outputs = Outputs::start(&store, vec![spec(hook)]).expect("starts");
        commit_alerts(&store, 1, 2);
        // Draining: three retries, then it stops and leaves both alerts for the next start.
        assert!(!outputs.finish(Duration::MAX));
        assert_eq!(
            store
                .outbox_cursor("webhook")
                .expect("cursor")
                .map(|c| c.position),
            Some(0)
        );
    }

    #[test]
    fn a_webhook_waiting_at_the_backoff_cap_stops_on_shutdown() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        let mut hook = webhook(&dead_url());
        hook.max_retries = 1000;
        hook.backoff_initial = Duration::from_secs(3600);
        hook.backoff_max = Duration::from_secs(3600);
        let outputs = Outputs::start(&store, vec![spec(hook)]).expect("starts");
        commit_alerts(&store, 1, 1);
        while outputs.webhook_stats()[0].1.retries == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        // It now waits an hour before its next try; the end of the grace period stops it.
        let started = Instant::now();
        assert!(!outputs.finish(Duration::from_millis(50)));
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the output waited out its backoff instead of stopping"
        );
        assert_eq!(
            store
                .outbox_cursor("webhook")
                .expect("cursor")
                .map(|c| c.position),
            Some(0)
        );
    }

    #[test]
    fn a_webhook_target_needs_the_webhook_encoding() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        let mut wrong = spec(webhook(&dead_url()));
        wrong.encoding = OutputEncoding::Line(LineFormat::Json);
        let error = Outputs::open(&store, vec![wrong]).err().expect("refused");
        assert!(error.to_string().contains("output webhook"), "{error}");
    }

    #[test]
    fn the_webhook_encoding_writes_one_body_per_line_to_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(dir.path());
        let path = dir.path().join("bodies.ndjson");
        commit_alerts(&store, 1, 3);
        let file = OutputSpec {
            name: "bodies".to_string(),
            encoding: OutputEncoding::Webhook,
            target: OutputTarget::File {
                path: path.clone(),
                max_bytes: None,
                keep_files: 0,
                truncate: false,
            },
            options: EncodeOptions::default(),
        };
        let outputs = Outputs::start(&store, vec![file]).expect("starts");
        assert!(outputs.finish(Duration::MAX));
        let text = std::fs::read_to_string(&path).expect("file");
        let bodies: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON body"))
            .collect();
        assert_eq!(bodies.len(), 3);
        assert!(bodies.iter().all(|b| b["text"].is_string()));
        assert!(!text.contains("hunter2"), "credentials are redacted");
    }

    #[test]
    fn the_spec_debug_form_hides_secrets() {
        let text = format!(
            "{:?}",
            webhook("https://hooks.slack.com/services/T0/B0/XYZ")
        );
        assert!(text.contains("hooks.slack.com"), "{text}");
        assert!(!text.contains("XYZ"), "{text}");
        assert!(!text.contains("t0ken"), "{text}");
        assert!(text.contains("Authorization"), "{text}");
    }
}
