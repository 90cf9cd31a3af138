//! Live capture as a source: packets from a network interface, tracked into flows as they
//! arrive, each finished flow one `flow` event (the same flows and features a capture file
//! gives). Built with the `live-capture` feature.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigil_capture::{LiveCapture, LiveError, LiveOptions};
use vigil_packets::{ConfigError, FlowConfig, FlowEvents, FlowRecord, FlowTracker, decode};
use vigil_sensors::Event;
use vigil_tail::Position;

use crate::input::{Produced, Producer, Tally, count_packet_skips, hand_out};
use crate::metrics::CAPTURE_DROPPED;

/// Frames read per call at most, so that a busy interface still lets the source actor
/// hand on batches and see a shutdown.
const FRAMES_PER_CALL: usize = 16_384;

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
}

/// A source reading packets live from one interface.
///
/// Counting, as for capture files: every flow is a record read and an event parsed; a
/// packet the decoder cannot use is a record read, rejected or skipped under its reason;
/// packets the kernel dropped are records read and skipped as [`CAPTURE_DROPPED`].
///
/// Flows still open when the source stops are not emitted: they would end at an arbitrary
/// point, and a restart starts them again from the packets that follow.
pub struct LiveProducer {
    name: Arc<str>,
    options: LiveOptions,
    capture: Option<LiveCapture>,
    reopen_at: Instant,
    tracker: FlowTracker,
    events: FlowEvents,
    flows: Vec<FlowRecord>,
    pending: VecDeque<Event>,
    dropped_seen: u64,
    counters_at: Instant,
    origin: Arc<str>,
    frames_read: u64,
}

impl LiveProducer {
    /// Opens the capture `options` describe, for the source `name` as sensor instance
    /// `sensor_id`.
    ///
    /// # Errors
    /// The capture cannot be opened (see [`LiveError`], which names the interface and, for
    /// a missing right, how to grant it), or `flow_config` is out of range.
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
        let origin = vigil_capture::source_name(&options.interface);
        let events = FlowEvents::new(sensor_id, origin.clone());
        Ok(LiveProducer {
            name,
            options,
            capture: Some(capture),
            reopen_at: Instant::now(),
            tracker,
            events,
            flows: Vec::new(),
            pending: VecDeque::new(),
            dropped_seen: 0,
            counters_at: Instant::now(),
            origin,
            frames_read: 0,
        })
    }

    /// Reads the kernel's drop counter now and then; new drops are counted and logged.
    fn count_drops(&mut self, tally: &mut Tally) {
        if self.counters_at.elapsed() < COUNTERS_EVERY {
            return;
        }
        self.counters_at = Instant::now();
        let Some(capture) = self.capture.as_mut() else {
            return;
        };
        match capture.counters() {
            Ok(counters) => {
                let new = counters.dropped.saturating_sub(self.dropped_seen);
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
            }
            Err(error) => tracing::debug!(source = %self.name, "{error}"),
        }
    }

    /// Opens the capture again after a failed read, once [`REOPEN_AFTER`] has passed.
    fn reopen(&mut self) {
        if Instant::now() < self.reopen_at {
            return;
        }
        match LiveCapture::open(&self.options) {
            Ok(capture) => {
                tracing::info!(source = %self.name, interface = %self.options.interface, "live capture reopened");
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

impl Producer for LiveProducer {
    fn produce(&mut self, max: usize, out: &mut Vec<Event>, tally: &mut Tally) -> Produced {
        let start = out.len();
        let read_before = tally.read;
        let target = start + max;
        hand_out(&mut self.pending, out, target, tally);
        if out.len() >= target {
            return Produced::More;
        }
        if self.capture.is_none() {
            self.reopen();
        }
        let mut idle = true;
        if let Some(capture) = self.capture.as_mut() {
            idle = false;
            for _ in 0..FRAMES_PER_CALL {
                match capture.next_frame() {
                    Ok(Some(frame)) => {
                        self.frames_read += 1;
                        match decode(&frame) {
                            Ok(packet) => self.tracker.push(&packet, &mut self.flows),
                            Err(reason) => count_packet_skips(tally, reason, 1),
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
                if self.flows.len() >= target - out.len() {
                    break;
                }
            }
        }
        if idle {
            // Between packets, the wall clock moves idle flows out.
            self.tracker.advance_to(now_nanos(), &mut self.flows);
        }
        self.count_drops(tally);
        for flow in self.flows.drain(..) {
            self.pending.push_back(self.events.event(&flow));
        }
        hand_out(&mut self.pending, out, target, tally);
        if idle && out.len() == start && tally.read == read_before {
            Produced::Idle
        } else {
            Produced::More
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
}
