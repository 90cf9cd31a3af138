//! What a source actor reads from: lines of files parsed into events, or the demo generator.
//!
//! A [`Producer`] is called from the source actor's own thread and may block briefly on
//! I/O; it never waits for data (it says [`Produced::Idle`] instead), so the actor can check
//! for shutdown and pause between calls.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use vigil_demo::DemoGenerator;
use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};
use vigil_sensors::{Event, Record, RecordParser, RejectReason, Rejection};
use vigil_tail::{LineBatch, LineSource, Position, ReadStatus, TailOptions};

/// Records counted while producing one batch; merged into the pipeline stats per batch.
#[derive(Debug, Default)]
pub struct Tally {
    /// Records read (events + rejected + skipped).
    pub read: u64,
    /// Events produced.
    pub parsed: u64,
    /// Rejections by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Skipped records by reason.
    pub skipped: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn reject(&mut self, reason: RejectReason) {
        self.read += 1;
        *self.rejected.entry(reason.as_str()).or_default() += 1;
    }

    fn skip(&mut self, reason: &'static str) {
        self.read += 1;
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: Tally) {
        self.read += other.read;
        self.parsed += other.parsed;
        for (reason, n) in other.rejected {
            *self.rejected.entry(reason).or_default() += n;
        }
        for (reason, n) in other.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.read == 0
    }
}

/// What a call to [`Producer::produce`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produced {
    /// Events may have been appended; call again.
    More,
    /// Nothing new right now (a followed file): wait a poll interval, then call again.
    Idle,
    /// The input is exhausted; any events appended in this call are the last.
    Finished,
}

/// A source of events for a source actor.
pub trait Producer: Send {
    /// Appends up to `max` events to `out`, counting records in `tally`.
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced;

    /// Where the producer stands (file and offset), when it reads files.
    fn position(&self) -> Option<Position>;

    /// The source is asked to stop: stop taking input in. True when the producer still
    /// holds records it has taken in and that cannot be read again (a live capture's
    /// finished flows): the source then calls [`produce`](Self::produce) until it says
    /// [`Produced::Finished`]. False (the default) when what is not handed on yet can be
    /// read again after a restart.
    fn stop_intake(&mut self) -> bool {
        false
    }

    /// The source stops (end of input or shutdown): write out anything pending, such as
    /// the summary of rejections not yet logged.
    fn finish(&mut self) {}
}

/// Logs rejected records with their source and offset, at most `limit` lines per reason in
/// every interval; the rest are summarised in one line when the interval ends.
#[derive(Debug)]
pub struct RejectionLog {
    source: Arc<str>,
    limit: u32,
    interval: Duration,
    started: Instant,
    logged: BTreeMap<&'static str, u32>,
    suppressed: BTreeMap<&'static str, (u64, Arc<str>, u64)>,
}

impl RejectionLog {
    /// A log for the source called `source`.
    pub fn new(source: Arc<str>, limit: u32, interval: Duration) -> RejectionLog {
        RejectionLog {
            source,
            limit,
            interval,
            started: Instant::now(),
            logged: BTreeMap::new(),
            suppressed: BTreeMap::new(),
        }
    }

    /// Logs (or counts for the summary) one rejection read from `input`.
    pub fn record(&mut self, input: &Arc<str>, rejection: &Rejection) {
        self.roll_over();
        let reason = rejection.reason.as_str();
        let logged = self.logged.entry(reason).or_default();
        if *logged < self.limit {
            *logged += 1;
            tracing::warn!(
                source = %self.source,
                input = %input,
                offset = rejection.offset,
                reason,
                "rejected record: {}",
                rejection.detail
            );
        } else {
            let entry = self
                .suppressed
                .entry(reason)
                .or_insert_with(|| (0, input.clone(), 0));
            entry.0 += 1;
            entry.1 = input.clone();
            entry.2 = rejection.offset;
        }
    }

    fn roll_over(&mut self) {
        if self.started.elapsed() >= self.interval {
            self.flush();
            self.started = Instant::now();
        }
    }

    /// Writes the summary lines for rejections not logged one by one.
    pub fn flush(&mut self) {
        for (reason, (count, input, offset)) in std::mem::take(&mut self.suppressed) {
            tracing::warn!(
                source = %self.source,
                reason,
                "{count} more records rejected for {reason}, the last in {input} at offset {offset}"
            );
        }
        self.logged.clear();
    }
}

/// Inputs read in order, `rounds` times over (`vigil replay --repeat`). Each round after the
/// first is shifted in event time by the span of the first (plus a millisecond), so event
/// time never runs backwards and every round's windows see fresh time; its events carry
/// their round in their origin, so their alert ids are new.
#[derive(Debug)]
struct Rounds {
    inputs: Vec<String>,
    next_input: usize,
    rounds: u32,
    round: u32,
    shift: TimeDelta,
    span: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
}

impl Rounds {
    fn new(inputs: Vec<String>, rounds: u32) -> Rounds {
        Rounds {
            inputs,
            next_input: 0,
            rounds: rounds.max(1),
            round: 0,
            shift: TimeDelta::zero(),
            span: None,
        }
    }

    /// The next input to open, starting the next round after the last input; `None` once
    /// every round is read.
    fn next_input(&mut self) -> Option<String> {
        if self.next_input >= self.inputs.len() {
            self.round += 1;
            if self.round >= self.rounds {
                return None;
            }
            let (lo, hi) = self.span.unwrap_or_default();
            let span = (hi - lo) + TimeDelta::milliseconds(1);
            self.shift = span * i32::try_from(self.round).unwrap_or(i32::MAX);
            self.next_input = 0;
        }
        self.next_input += 1;
        self.inputs.get(self.next_input - 1).cloned()
    }

    /// Places an event of the current round: the first round's event times make the span;
    /// a later round's are shifted past it and the event carries the round.
    fn place(&mut self, event: &mut Event) {
        if self.round == 0 {
            let t = event.event_time;
            self.span = Some(match self.span {
                None => (t, t),
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
            });
        } else {
            event.event_time += self.shift;
            event.origin.round = self.round;
        }
    }
}

/// Lines of one or more inputs, read in order, parsed into events; optionally repeated.
pub struct LineProducer {
    name: Arc<str>,
    inputs: Rounds,
    options: TailOptions,
    reader: Option<Box<dyn LineSource>>,
    current_input: Arc<str>,
    parser: Box<dyn RecordParser>,
    batch: LineBatch,
    records: Vec<Record>,
    log: RejectionLog,
}

impl LineProducer {
    /// Reads `inputs` (paths, glob patterns or `-`) in order with `parser`, `rounds` times.
    pub fn new(
        name: Arc<str>,
        inputs: Vec<String>,
        options: TailOptions,
        parser: Box<dyn RecordParser>,
        rounds: u32,
        log: RejectionLog,
    ) -> LineProducer {
        LineProducer {
            name,
            inputs: Rounds::new(inputs, rounds),
            options,
            reader: None,
            current_input: Arc::from(""),
            parser,
            batch: LineBatch::new(),
            records: Vec::new(),
            log,
        }
    }

    fn drain_records(&mut self, out: &mut Vec<Event>, tally: &mut Tally) {
        for record in self.records.drain(..) {
            match record {
                Record::Event(mut event) => {
                    tally.read += 1;
                    tally.parsed += 1;
                    self.inputs.place(&mut event);
                    out.push(*event);
                }
                Record::Skipped { reason, .. } => tally.skip(reason),
                Record::Rejected(rejection) => {
                    tally.reject(rejection.reason);
                    self.log.record(&self.current_input, &rejection);
                }
            }
        }
    }

    /// Names of the numeric columns the parser passes through (flow datasets), as known
    /// after the inputs read so far: a CSV's own header names them.
    pub fn numeric_columns(&self) -> Vec<String> {
        self.parser
            .numeric_columns()
            .iter()
            .map(|name| name.to_string())
            .collect()
    }

    /// Opens the next input (or starts the next round); false when everything was read.
    fn open_next(&mut self) -> bool {
        loop {
            let Some(spec) = self.inputs.next_input() else {
                return false;
            };
            match vigil_tail::open_input(&spec, &self.options) {
                Ok(reader) => {
                    self.reader = Some(reader);
                    return true;
                }
                Err(error) => {
                    // Replay checks its files before starting; this is a file that vanished
                    // since, or a configured path that cannot be opened. Nothing was read.
                    tracing::error!(source = %self.name, "cannot read input: {error}");
                }
            }
        }
    }
}

impl Producer for LineProducer {
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced {
        let target = out.len() + max;
        while out.len() < target {
            if self.reader.is_none() && !self.open_next() {
                return Produced::Finished;
            }
            let Some(reader) = self.reader.as_mut() else {
                continue;
            };
            let status = match reader.read_batch(target - out.len(), &mut self.batch) {
                Ok(status) => status,
                Err(error) => {
                    tracing::warn!(source = %self.name, "read error: {error}");
                    if self.options.follow {
                        return Produced::Idle;
                    }
                    self.reader = None;
                    continue;
                }
            };
            match status {
                ReadStatus::Lines => {
                    for line in self.batch.iter() {
                        if let Some(length) = line.too_long {
                            let rejection = Rejection {
                                reason: RejectReason::LineTooLong,
                                offset: line.offset,
                                detail: format!(
                                    "line of {length} bytes is longer than max_line_bytes ({})",
                                    self.options.max_line_bytes
                                ),
                            };
                            self.records.push(Record::Rejected(rejection));
                        } else {
                            self.parser.feed(
                                line.bytes,
                                line.offset,
                                line.terminated,
                                &mut self.records,
                            );
                        }
                    }
                    self.drain_records(out, tally);
                }
                ReadStatus::InputStarted { input, cause } => {
                    tracing::debug!(source = %self.name, input = %input, ?cause, "input started");
                    self.current_input = input.path.clone();
                    self.parser.begin_input(input.path.clone());
                }
                ReadStatus::InputEnded { .. } => {
                    self.parser.finish_input(&mut self.records);
                    self.drain_records(out, tally);
                }
                ReadStatus::Idle => return Produced::Idle,
                ReadStatus::Finished => {
                    self.reader = None;
                }
            }
        }
        Produced::More
    }

    fn position(&self) -> Option<Position> {
        self.reader.as_ref().map(|r| r.position())
    }

    fn finish(&mut self) {
        self.log.flush();
    }
}

/// The demo generator, for as long as it is asked.
pub struct DemoProducer {
    generator: DemoGenerator,
}

impl DemoProducer {
    /// Wraps a generator.
    pub fn new(generator: DemoGenerator) -> DemoProducer {
        DemoProducer { generator }
    }
}

impl Producer for DemoProducer {
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced {
        let before = out.len();
        out.extend(self.generator.by_ref().take(max));
        let made = (out.len() - before) as u64;
        tally.read += made;
        tally.parsed += made;
        if made < max as u64 {
            Produced::Finished
        } else {
            Produced::More
        }
    }

    fn position(&self) -> Option<Position> {
        None
    }
}

const POSITION_TAG: [u8; 4] = *b"VGSP";
const POSITION_VERSION: u16 = 1;

/// A source's resume position as a checkpoint stores it: the path, the file's identity
/// (device and inode, when known) and the offset after the last line read.
///
/// ```
/// use std::sync::Arc;
/// use vigil::input::{decode_position, encode_position};
/// use vigil_tail::{FileIdentity, Position};
/// let position = Position {
///     path: Arc::from("/var/log/cowrie/cowrie.json"),
///     identity: Some(FileIdentity { device: 2049, inode: 77 }),
///     offset: 4_096,
/// };
/// assert_eq!(decode_position(&encode_position(&position))?, position);
/// # Ok::<(), String>(())
/// ```
pub fn encode_position(position: &Position) -> Vec<u8> {
    let mut w = SnapshotWriter::new(POSITION_TAG, POSITION_VERSION);
    w.bytes(position.path.as_bytes());
    match position.identity {
        Some(identity) => {
            w.u64(1);
            w.u64(identity.device);
            w.u64(identity.inode);
        }
        None => w.u64(0),
    }
    w.u64(position.offset);
    w.finish()
}

/// Reads what [`encode_position`] wrote.
///
/// # Errors
/// A message naming what is wrong with the bytes.
pub fn decode_position(bytes: &[u8]) -> Result<Position, String> {
    let fail = |e: vigil_detectors::DetectorError| e.to_string();
    let mut r = SnapshotReader::new("source position", bytes, POSITION_TAG, POSITION_VERSION)
        .map_err(fail)?;
    let path = std::str::from_utf8(r.bytes().map_err(fail)?)
        .map_err(|e| format!("source position: the path is not UTF-8: {e}"))?;
    let path: Arc<str> = Arc::from(path);
    let identity = match r.u64().map_err(fail)? {
        0 => None,
        _ => Some(vigil_tail::FileIdentity {
            device: r.u64().map_err(fail)?,
            inode: r.u64().map_err(fail)?,
        }),
    };
    let offset = r.u64().map_err(fail)?;
    r.end().map_err(fail)?;
    Ok(Position {
        path,
        identity,
        offset,
    })
}

/// The first four bytes of a classic pcap file (either byte order, micro- or nanosecond
/// timestamps) or of a pcapng section header block.
pub const CAPTURE_MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// Whether `first_bytes` (the start of a file) begin like a packet capture.
///
/// ```
/// assert!(vigil::input::is_capture(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]));
/// assert!(vigil::input::is_capture(&[0x0a, 0x0d, 0x0d, 0x0a]));
/// assert!(!vigil::input::is_capture(b"{\"eventid\""));
/// ```
pub fn is_capture(first_bytes: &[u8]) -> bool {
    first_bytes.len() >= 4 && CAPTURE_MAGICS.iter().any(|m| first_bytes[..4] == *m)
}

/// Whether the file at `path` starts with a packet-capture magic number, once gunzipped
/// when it is gzip (false when it cannot be read or is shorter than four bytes).
pub fn file_is_capture(path: &std::path::Path) -> bool {
    let mut head = [0u8; 4];
    open_capture_file(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| is_capture(&head))
}

/// Opens a capture file for reading, decompressing it when it starts with the gzip magic
/// number (`capture.pcap.gz`, as sensors rotate them).
pub fn open_capture_file(path: &std::path::Path) -> std::io::Result<Box<dyn Read + Send>> {
    let mut file = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    if file.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        let gunzipped = flate2::read::MultiGzDecoder::new(file);
        return Ok(Box::new(BufReader::with_capacity(1 << 16, gunzipped)));
    }
    Ok(Box::new(file))
}

/// The origin of records taken in from now on by something that cannot be read again (HTTP
/// ingest, a live capture): `name@<UTC time to the microsecond>`. Offsets start again at 0
/// each time, so the time keeps their alert ids from repeating earlier ones.
pub fn session_origin(name: &str) -> String {
    format!(
        "{name}@{}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

/// The rejection reason of a capture whose framing is broken (it is read no further).
pub const MALFORMED_CAPTURE: &str = "malformed_capture";

/// Moves flow events from `pending` to `out` until `out` holds `target`, each counted as a
/// record read and parsed.
pub(crate) fn hand_out(
    pending: &mut std::collections::VecDeque<Event>,
    out: &mut Vec<Event>,
    target: usize,
    tally: &mut Tally,
) {
    while out.len() < target {
        let Some(event) = pending.pop_front() else {
            break;
        };
        tally.read += 1;
        tally.parsed += 1;
        out.push(event);
    }
}

/// Counts `n` packet records skipped for `reason`: as rejected when the reason means
/// damage, as skipped otherwise.
pub(crate) fn count_packet_skips(tally: &mut Tally, reason: vigil_packets::SkipReason, n: u64) {
    tally.read += n;
    let bucket = if reason.is_damage() {
        &mut tally.rejected
    } else {
        &mut tally.skipped
    };
    *bucket.entry(reason.as_str()).or_default() += n;
}

/// Packet captures (classic pcap or pcapng) read in order, their packets tracked into
/// flows (one [`FlowTracker`](vigil_packets::FlowTracker) per file, finished at its end)
/// and each flow turned into one `flow` event by [`FlowEvents`](vigil_packets::FlowEvents).
///
/// Counting: every flow is a record read and an event parsed; every packet record the
/// reader skips is a record read, counted as rejected under its reason when the reason
/// means damage (`truncated_record`, `malformed_ip`, ...) and as skipped otherwise
/// (`not_ip`, `unsupported_linktype`). A capture whose framing is broken (a bad magic, an
/// impossible block length) ends there with one record rejected as `malformed_capture`.
pub struct PcapProducer {
    name: Arc<str>,
    inputs: Rounds,
    flow_config: vigil_packets::FlowConfig,
    stream: Option<vigil_packets::CaptureStream<Box<dyn std::io::Read + Send>>>,
    tracker: Option<vigil_packets::FlowTracker>,
    events: vigil_packets::FlowEvents,
    flows: Vec<vigil_packets::FlowRecord>,
    pending: std::collections::VecDeque<Event>,
    counted_skips: BTreeMap<&'static str, u64>,
    current_input: Arc<str>,
    current_file: Option<Option<vigil_tail::FileIdentity>>,
    handed: u64,
    skip: u64,
    resume: Option<Position>,
}

impl PcapProducer {
    /// Reads the captures `inputs` (paths, or `-` for standard input) in order, `rounds`
    /// times, as sensor instance `sensor_id`.
    ///
    /// # Errors
    /// The flow configuration out of range, naming the field.
    pub fn new(
        name: Arc<str>,
        inputs: Vec<String>,
        sensor_id: &str,
        flow_config: vigil_packets::FlowConfig,
        rounds: u32,
    ) -> Result<PcapProducer, vigil_packets::ConfigError> {
        flow_config.validate()?;
        Ok(PcapProducer {
            name,
            inputs: Rounds::new(inputs, rounds),
            flow_config,
            stream: None,
            tracker: None,
            events: vigil_packets::FlowEvents::new(sensor_id, ""),
            flows: Vec::new(),
            pending: std::collections::VecDeque::new(),
            counted_skips: BTreeMap::new(),
            current_input: Arc::from(""),
            current_file: None,
            handed: 0,
            skip: 0,
            resume: None,
        })
    }

    /// Resumes from `position`, as [`Producer::position`] gave it before a restart. When the
    /// capture opened is the same file (path and identity), it is read again from its start
    /// (flow tracking needs every packet) and the flows it had handed on are dropped, so the
    /// rest follow exactly where the last checkpoint stopped; another file is read whole.
    pub fn resume(&mut self, position: Position) {
        self.resume = Some(position);
    }

    /// Opens the next capture (or starts the next round); false when everything was read.
    fn open_next(&mut self) -> bool {
        loop {
            let Some(spec) = self.inputs.next_input() else {
                return false;
            };
            let reader: std::io::Result<Box<dyn std::io::Read + Send>> = if spec == "-" {
                Ok(Box::new(std::io::BufReader::with_capacity(
                    1 << 16,
                    std::io::stdin(),
                )))
            } else {
                open_capture_file(std::path::Path::new(&spec))
            };
            match reader {
                Ok(reader) => {
                    let source: Arc<str> = Arc::from(spec.as_str());
                    self.current_input = source.clone();
                    self.current_file = std::fs::metadata(&spec)
                        .ok()
                        .filter(|_| spec != "-")
                        .map(|m| vigil_tail::FileIdentity::of(&m));
                    if let Some(position) = self.resume.take() {
                        self.resume_at(&position);
                    }
                    self.events.set_source(source.clone());
                    self.stream = Some(vigil_packets::CaptureStream::new(reader, source));
                    self.counted_skips.clear();
                    // The configuration was validated in `new`.
                    self.tracker = vigil_packets::FlowTracker::new(self.flow_config.clone()).ok();
                    return true;
                }
                Err(error) => {
                    tracing::error!(source = %self.name, input = %spec, "cannot read capture: {error}");
                }
            }
        }
    }

    /// Passes over the flows `position` says were handed on, if the capture just opened is
    /// the one it names.
    fn resume_at(&mut self, position: &Position) {
        if position.path == self.current_input && self.current_file == Some(position.identity) {
            tracing::info!(
                source = %self.name,
                input = %self.current_input,
                flows = position.offset,
                "the capture is read again from its start; the flows handed on before the restart are passed over"
            );
            self.skip = position.offset;
            self.handed = position.offset;
        } else {
            tracing::info!(
                source = %self.name,
                input = %self.current_input,
                "a different capture than before the restart: read from its start"
            );
        }
    }

    /// Counts the reader's skipped records not counted yet.
    fn count_skips(&mut self, tally: &mut Tally) {
        let Some(stream) = self.stream.as_ref() else {
            return;
        };
        for (reason, total) in stream.stats().skipped_by_reason() {
            let name = reason.as_str();
            let seen = self.counted_skips.entry(name).or_default();
            let new = total.saturating_sub(*seen);
            if new == 0 {
                continue;
            }
            *seen = total;
            count_packet_skips(tally, reason, new);
        }
    }

    /// Turns the flows emitted so far into pending events (less those handed on before a
    /// restart, see [`resume`](Self::resume)).
    fn convert_flows(&mut self) {
        for flow in self.flows.drain(..) {
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            let mut event = self.events.event(&flow);
            self.inputs.place(&mut event);
            self.pending.push_back(event);
        }
    }

    /// Ends the current capture: the tracker's remaining flows are emitted.
    fn end_input(&mut self, tally: &mut Tally) {
        self.count_skips(tally);
        if let Some(mut tracker) = self.tracker.take() {
            tracker.finish(&mut self.flows);
            tracing::debug!(
                source = %self.name,
                input = %self.current_input,
                flows = tracker.stats().emitted_total(),
                evicted = tracker.stats().evicted(),
                "capture read"
            );
        }
        self.convert_flows();
        self.stream = None;
    }
}

impl Producer for PcapProducer {
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced {
        let target = out.len() + max;
        loop {
            let before = out.len();
            hand_out(&mut self.pending, out, target, tally);
            self.handed += (out.len() - before) as u64;
            if out.len() >= target {
                return Produced::More;
            }
            if self.stream.is_none() && !self.open_next() {
                return Produced::Finished;
            }
            // Read packets until some flows are emitted or the capture ends.
            let mut ended = false;
            for _ in 0..4096 {
                let Some(stream) = self.stream.as_mut() else {
                    ended = true;
                    break;
                };
                match stream.next_packet() {
                    Ok(Some(packet)) => {
                        if let Some(tracker) = self.tracker.as_mut() {
                            tracker.push(&packet, &mut self.flows);
                        }
                        if !self.flows.is_empty() {
                            break;
                        }
                    }
                    Ok(None) => {
                        ended = true;
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(source = %self.name, "capture stops: {error}");
                        tally.read += 1;
                        *tally.rejected.entry(MALFORMED_CAPTURE).or_default() += 1;
                        ended = true;
                        break;
                    }
                }
            }
            self.count_skips(tally);
            self.convert_flows();
            if ended {
                self.end_input(tally);
            }
        }
    }

    /// The capture and the number of flow events handed on (for `vigil run`, which reads
    /// one capture once): a restart that finds the same file resumes after them (see
    /// [`resume`](PcapProducer::resume)).
    fn position(&self) -> Option<Position> {
        let identity = self.current_file?;
        Some(Position {
            path: self.current_input.clone(),
            identity,
            offset: self.handed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_packets::synth::{self, PcapWriter, TcpSpec};

    /// A capture of `n` SYN-only connection attempts, one a second, from one source.
    fn attempts(n: u16) -> tempfile::NamedTempFile {
        let mut w = PcapWriter::new(vigil_packets::capture::LINKTYPE_ETHERNET);
        for i in 0..n {
            let spec = TcpSpec::new([10, 0, 0, 1], 40_000 + i, [10, 0, 0, 2], 22, 0x02);
            w.record(
                i64::from(i) * 1_000_000_000,
                &synth::ethernet_ipv4_tcp(spec),
            );
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), w.finish()).unwrap();
        file
    }

    fn read_all(producer: &mut PcapProducer) -> (Vec<Event>, Tally) {
        let (mut events, mut tally) = (Vec::new(), Tally::default());
        while producer.produce(7, &mut events, &mut tally) != Produced::Finished {}
        (events, tally)
    }

    fn producer(path: &std::path::Path) -> PcapProducer {
        let spec = path.to_string_lossy().into_owned();
        PcapProducer::new(Arc::from("t"), vec![spec], "t", Default::default(), 1).unwrap()
    }

    #[test]
    fn a_resumed_capture_hands_on_exactly_the_flows_after_the_position() {
        let file = attempts(40);
        let mut whole = producer(file.path());
        let (all, _) = read_all(&mut whole);
        assert_eq!(all.len(), 40);
        assert_eq!(whole.position().unwrap().offset, 40);

        let mut first = producer(file.path());
        let (mut head, mut tally) = (Vec::new(), Tally::default());
        first.produce(13, &mut head, &mut tally);
        let position = first.position().unwrap();
        assert_eq!(position.offset, head.len() as u64);

        let mut resumed = producer(file.path());
        resumed.resume(position.clone());
        let (rest, tally) = read_all(&mut resumed);
        assert_eq!(
            tally.read,
            rest.len() as u64,
            "passed-over flows are not counted again"
        );
        let origins =
            |events: &[Event]| -> Vec<u64> { events.iter().map(|e| e.origin.offset).collect() };
        assert_eq!(
            origins(&rest),
            origins(&all[head.len()..]),
            "the rest, and only the rest"
        );
        assert_eq!(resumed.position().unwrap().offset, 40);
    }
}
