//! Live capture as a source: packets from a network interface, tracked into flows as they
//! arrive, each finished flow one `flow` event (the same flows and features a capture file
//! gives). Built with the `live-capture` feature.
//!
//! A thread of its own reads the packets and tracks the flows, so that a pause downstream
//! (a full mailbox while the pool catches up) holds up finished flows, not packets: the
//! kernel's buffer would fill with packets ten times faster than a queue fills with the
//! flows they make. The thread hands finished flows to the source actor over a bounded
//! channel; while that is full it keeps reading and holds the flows itself, and only when
//! it holds [`MAX_HELD_EVENTS`] does it wait, leaving the packets to the kernel's buffer,
//! which counts what it has to drop.
//!
//! Each time the capture opens (at start, and again after the interface went away) its
//! events get a new origin, `interface:NAME@<open time>`, as frame numbers start again at
//! 0: alert ids, derived from the origin, never repeat those of an earlier capture.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigil_capture::{CaptureCounters, LiveCapture, LiveError, LiveOptions};
use vigil_packets::{ConfigError, FlowConfig, FlowEvents, FlowRecord, FlowTracker, decode};
use vigil_sensors::Event;
use vigil_tail::Position;

use crate::input::{Produced, Producer, Tally, count_packet_skips, hand_out, session_origin};
use crate::metrics::CAPTURE_DROPPED;

/// Frames read between two looks at the channel and the stop flag.
const FRAMES_PER_ROUND: usize = 4_096;

/// Most flow events in one hand-off from the capture thread.
const EVENTS_PER_CHUNK: usize = 1_024;

/// Hand-offs the channel holds.
const CHUNKS_QUEUED: usize = 64;

/// Finished flows the capture thread holds while the channel is full before it stops
/// reading: with the channel's, at most about 131,000 flows wait for the pipeline.
pub const MAX_HELD_EVENTS: usize = 65_536;

/// Longest a finished flow waits in the capture thread for others to share its hand-off.
const CHUNK_MAX_WAIT: Duration = Duration::from_millis(20);

/// How long the capture thread sleeps when no packet is waiting.
const IDLE_SLEEP: Duration = Duration::from_millis(5);

/// How often the kernel's drop counter is read.
const COUNTERS_EVERY: Duration = Duration::from_secs(5);

/// How long after a failed read (the interface went away) the capture is opened again.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// Why a live source could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveSourceError {
    /// The capture did not open (no right to capture, no such interface, a bad filter).
    #[error(transparent)]
    Capture(#[from] LiveError),
    /// The `[flows]` configuration is out of range.
    #[error(transparent)]
    Flows(#[from] ConfigError),
    /// The capture thread could not be started.
    #[error("cannot start the capture thread: {0}")]
    Thread(std::io::Error),
}

/// What the capture thread hands on: finished flows as events, and the packets it counted
/// (skipped, rejected, dropped by the kernel).
struct Chunk {
    events: Vec<Event>,
    tally: Tally,
    frames: u64,
    /// When the first event or count went in.
    started: Option<Instant>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            events: Vec::with_capacity(EVENTS_PER_CHUNK),
            tally: Tally::default(),
            frames: 0,
            started: None,
        }
    }

    /// Whether it should be handed on now: full, or holding something that has waited
    /// long enough (or the capture has nothing more right now).
    fn due(&self, idle: bool) -> bool {
        self.events.len() >= EVENTS_PER_CHUNK
            || self
                .started
                .is_some_and(|t| idle || t.elapsed() >= CHUNK_MAX_WAIT)
    }
}

/// A source reading packets live from one interface.
///
/// When the source is asked to stop, the thread stops reading and the flows it finished
/// are still handed on, since packets cannot be read again.
///
/// Counting, as for capture files: every flow is a record read and an event parsed; a
/// packet the decoder cannot use is a record read, rejected or skipped under its reason;
/// packets the kernel dropped are records read and skipped as [`CAPTURE_DROPPED`].
///
/// Flows still open when the source stops are not emitted: they would end at an arbitrary
/// point, and a restart starts them again from the packets that follow.
pub struct LiveProducer {
    chunks: Option<Receiver<Chunk>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Chunk>>,
    pending: VecDeque<Event>,
    /// Counts taken in at the stop, for the next call of `produce`.
    pending_tally: Tally,
    origin: Arc<str>,
    frames_read: u64,
}

impl LiveProducer {
    /// Opens the capture `options` describe, for the source `name` as sensor instance
    /// `sensor_id`, and starts its thread.
    ///
    /// # Errors
    /// The capture cannot be opened (see [`LiveError`], which names the interface and, for
    /// a missing right, how to grant it), `flow_config` is out of range, or the thread
    /// cannot be started.
    pub fn open(
        name: Arc<str>,
        options: LiveOptions,
        sensor_id: &str,
        flow_config: FlowConfig,
    ) -> Result<LiveProducer, LiveSourceError> {
        let tracker = FlowTracker::new(flow_config)?;
        let capture = LiveCapture::open(&options)?;
        tracing::info!(
            source = %name,
            interface = %options.interface,
            linktype = capture.linktype(),
            filter = options.filter.as_deref().unwrap_or(""),
            "live capture started"
        );
        let origin = origin_name(&options.interface);
        let (sender, chunks) = std::sync::mpsc::sync_channel(CHUNKS_QUEUED);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = CaptureReader {
            name: name.clone(),
            options,
            capture: Some(capture),
            reopen_at: Instant::now(),
            tracker,
            events: FlowEvents::new(sensor_id, origin.clone()),
            flows: Vec::new(),
            dropped_seen: 0,
            counters_at: Instant::now(),
            stop: stop.clone(),
            sender,
        };
        let thread = std::thread::Builder::new()
            .name(format!("capture-{name}"))
            .spawn(move || reader.run())
            .map_err(LiveSourceError::Thread)?;
        Ok(LiveProducer {
            chunks: Some(chunks),
            stop,
            thread: Some(thread),
            pending: VecDeque::new(),
            pending_tally: Tally::default(),
            origin,
            frames_read: 0,
        })
    }

    /// Stops the capture thread, waits for it, and takes in what it finished: the chunks
    /// in the channel and the one it held.
    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let Some(thread) = self.thread.take() else {
            return;
        };
        let held = thread.join();
        if let Some(chunks) = self.chunks.take() {
            for chunk in chunks.try_iter() {
                self.take_in(chunk);
            }
        }
        match held {
            Ok(chunk) => self.take_in(chunk),
            Err(_) => tracing::error!(origin = %self.origin, "the capture thread panicked"),
        }
    }

    fn take_in(&mut self, chunk: Chunk) {
        self.frames_read += chunk.frames;
        self.pending_tally.add(chunk.tally);
        self.pending.extend(chunk.events);
    }
}

/// The origin of a capture opened now on `interface`: `interface:NAME@<time>`.
fn origin_name(interface: &str) -> Arc<str> {
    Arc::from(session_origin(&format!("interface:{interface}")))
}

impl Producer for LiveProducer {
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced {
        let start = out.len();
        tally.add(std::mem::take(&mut self.pending_tally));
        let read_before = tally.read;
        let target = start + max;
        loop {
            hand_out(&mut self.pending, out, target, tally);
            if out.len() >= target {
                return Produced::More;
            }
            let Some(chunks) = self.chunks.as_ref() else {
                return if out.len() > start {
                    Produced::More
                } else {
                    Produced::Finished
                };
            };
            match chunks.try_recv() {
                Ok(chunk) => {
                    self.frames_read += chunk.frames;
                    tally.add(chunk.tally);
                    self.pending.extend(chunk.events);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    tracing::error!(origin = %self.origin, "the capture thread stopped");
                    self.chunks = None;
                    break;
                }
            }
        }
        if out.len() > start || tally.read > read_before {
            Produced::More
        } else if self.chunks.is_none() {
            Produced::Finished
        } else {
            Produced::Idle
        }
    }

    /// Packets cannot be read again after a restart; the position (the interface and the
    /// frames read) only lets checkpoints cover this source.
    fn position(&self) -> Option<Position> {
        Some(Position {
            path: self.origin.clone(),
            identity: None,
            offset: self.frames_read,
        })
    }

    fn stop_intake(&mut self) -> bool {
        self.stop_thread();
        true
    }

    fn finish(&mut self) {
        self.stop_thread();
    }
}

impl Drop for LiveProducer {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// The capture thread's state: the capture, the flow tracker, and the channel to the
/// source actor.
struct CaptureReader {
    name: Arc<str>,
    options: LiveOptions,
    capture: Option<LiveCapture>,
    reopen_at: Instant,
    tracker: FlowTracker,
    events: FlowEvents,
    flows: Vec<FlowRecord>,
    dropped_seen: u64,
    counters_at: Instant,
    stop: Arc<AtomicBool>,
    sender: SyncSender<Chunk>,
}

impl CaptureReader {
    /// Reads until stopped or until the source actor is gone, then logs the kernel's
    /// totals; returns the chunk it still held.
    fn run(mut self) -> Chunk {
        let mut chunk = self.read_until_stopped();
        // The drops since the last look are counted too.
        if let Some(c) = self.count_drops(&mut chunk.tally, true) {
            tracing::info!(
                source = %self.name,
                interface = %self.options.interface,
                received = c.received,
                dropped = c.dropped,
                interface_dropped = c.interface_dropped,
                "live capture stopped"
            );
        }
        chunk
    }

    /// The reading loop; returns the chunk not handed on when it stops.
    fn read_until_stopped(&mut self) -> Chunk {
        let mut chunk = Chunk::new();
        while !self.stop.load(Ordering::Relaxed) {
            let idle = self.read_round(&mut chunk);
            self.count_drops(&mut chunk.tally, false);
            // Events are counted as read and parsed where they are handed out.
            for flow in self.flows.drain(..) {
                chunk.events.push(self.events.event(&flow));
            }
            if chunk.started.is_none() && !(chunk.events.is_empty() && chunk.tally.is_empty()) {
                chunk.started = Some(Instant::now());
            }
            if chunk.due(idle) {
                match self.sender.try_send(chunk) {
                    Ok(()) => chunk = Chunk::new(),
                    // The channel is full: read on, holding the flows, up to a bound.
                    Err(TrySendError::Full(back)) if back.events.len() < MAX_HELD_EVENTS => {
                        chunk = back;
                    }
                    Err(TrySendError::Full(back)) => match self.wait_to_hand_on(back) {
                        Some(back) => return back,
                        None => chunk = Chunk::new(),
                    },
                    Err(TrySendError::Disconnected(back)) => return back,
                }
            }
            if idle {
                std::thread::sleep(IDLE_SLEEP);
            }
        }
        chunk
    }

    /// Waits for room for `chunk` without reading; `None` once it is handed on, the chunk
    /// back when the source stops or is gone first.
    fn wait_to_hand_on(&self, mut chunk: Chunk) -> Option<Chunk> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Some(chunk);
            }
            match self.sender.try_send(chunk) {
                Ok(()) => return None,
                Err(TrySendError::Disconnected(back)) => return Some(back),
                Err(TrySendError::Full(back)) => {
                    chunk = back;
                    std::thread::sleep(IDLE_SLEEP);
                }
            }
        }
    }

    /// Reads up to [`FRAMES_PER_ROUND`] frames into the tracker; true when the capture had
    /// nothing more waiting (then the wall clock ends idle flows).
    fn read_round(&mut self, chunk: &mut Chunk) -> bool {
        if self.capture.is_none() {
            self.reopen();
        }
        let Some(capture) = self.capture.as_mut() else {
            return true;
        };
        let mut idle = false;
        for _ in 0..FRAMES_PER_ROUND {
            match capture.next_frame() {
                Ok(Some(frame)) => {
                    chunk.frames += 1;
                    match decode(&frame) {
                        Ok(packet) => self.tracker.push(&packet, &mut self.flows),
                        Err(reason) => count_packet_skips(&mut chunk.tally, reason, 1),
                    }
                }
                Ok(None) => {
                    idle = true;
                    break;
                }
                Err(error) => {
                    tracing::error!(source = %self.name, "{error}; reopening in {REOPEN_AFTER:?}");
                    self.capture = None;
                    self.reopen_at = Instant::now() + REOPEN_AFTER;
                    idle = true;
                    break;
                }
            }
        }
        if idle {
            // Between packets, the wall clock moves idle flows out.
            self.tracker.advance_to(now_nanos(), &mut self.flows);
        }
        idle
    }

    /// Reads the kernel's counters every [`COUNTERS_EVERY`] (or now, when `now`); new drops
    /// are counted and logged. The counters, when they were read.
    fn count_drops(&mut self, tally: &mut Tally, now: bool) -> Option<CaptureCounters> {
        if !now && self.counters_at.elapsed() < COUNTERS_EVERY {
            return None;
        }
        self.counters_at = Instant::now();
        let capture = self.capture.as_mut()?;
        match capture.counters() {
            Ok(counters) => {
                // The kernel's counter is 32 bits and wraps.
                let new =
                    u64::from((counters.dropped as u32).wrapping_sub(self.dropped_seen as u32));
                if new > 0 {
                    self.dropped_seen = counters.dropped;
                    tally.read += new;
                    *tally.skipped.entry(CAPTURE_DROPPED).or_default() += new;
                    tracing::warn!(
                        source = %self.name,
                        interface = %self.options.interface,
                        dropped = new,
                        dropped_total = counters.dropped,
                        received_total = counters.received,
                        "the kernel dropped packets: its capture buffer was full (raise buffer_bytes, or narrow the filter)"
                    );
                }
                Some(counters)
            }
            Err(error) => {
                tracing::debug!(source = %self.name, "{error}");
                None
            }
        }
    }

    /// Opens the capture again after a failed read, once [`REOPEN_AFTER`] has passed.
    fn reopen(&mut self) {
        if Instant::now() < self.reopen_at {
            return;
        }
        match LiveCapture::open(&self.options) {
            Ok(capture) => {
                let origin = origin_name(&self.options.interface);
                tracing::info!(source = %self.name, interface = %self.options.interface, %origin, "live capture reopened");
                self.events.set_source(origin);
                self.capture = Some(capture);
                self.dropped_seen = 0;
            }
            Err(error) => {
                tracing::warn!(source = %self.name, "{error}; trying again in {REOPEN_AFTER:?}");
                self.reopen_at = Instant::now() + REOPEN_AFTER;
            }
        }
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
