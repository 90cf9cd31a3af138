//! Pipeline counters shared by the actors, and the JSON summary `vigil replay` prints.
//!
//! Actors add to the counters once per batch, so the lock is taken a few thousand times a
//! second at most, never per event.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Events scored and alerts raised by one detector.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct DetectorCounts {
    /// Events the detector looked at.
    pub events_scored: u64,
    /// Alerts (RED or ORANGE) it raised.
    pub alerts: u64,
}

/// Alert counts by severity.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct AlertCounts {
    /// New RED alerts stored.
    pub red: u64,
    /// New ORANGE alerts stored.
    pub orange: u64,
    /// Events scored below ORANGE by every detector (counted, not alerted).
    pub green: u64,
}

/// What the pipeline counted; printed as part of the [`Summary`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Records read from inputs: events parsed + rejected + skipped.
    pub events_read: u64,
    /// Records that became events.
    pub events_parsed: u64,
    /// Rejected records by reason.
    pub events_rejected: BTreeMap<&'static str, u64>,
    /// Well-formed records that are not events, by reason.
    pub records_skipped: BTreeMap<&'static str, u64>,
    /// Events older than the newest seen minus the allowed lateness (scored and counted).
    pub events_late: u64,
    /// Events by sensor kind.
    pub by_sensor: BTreeMap<&'static str, u64>,
    /// Events by ground-truth label class (labelled data only).
    pub labels: BTreeMap<Arc<str>, u64>,
    /// Events scored and alerts raised by each detector.
    pub by_detector: BTreeMap<String, DetectorCounts>,
    /// Alerts by severity; `green` counts events scored below ORANGE.
    pub alerts: AlertCounts,
    /// Alerts folded into an open alert of the same source and detector within the cooldown
    /// (counted in that alert's `count`, not in `alerts`).
    pub alerts_aggregated: u64,
    /// Sources with window state (at the end, in a summary).
    pub sources_tracked: u64,
    /// Sources evicted from window state.
    pub sources_evicted: u64,
    /// The pool's drift decisions, oldest first (the first [`MAX_DRIFT_EVENTS_LISTED`]).
    pub drift_events: Vec<vigil_pool::DriftEvent>,
    /// Drift decisions in all.
    pub drift_events_total: u64,
    /// The model leading the pool at the end, when the pool runs.
    pub champion: Option<String>,
}

/// Drift decisions a summary lists; the rest are counted in `drift_events_total`.
pub const MAX_DRIFT_EVENTS_LISTED: usize = 1_000;

/// Everything the counters hold: the counts, and what throughput and latency derive from.
#[derive(Debug)]
pub struct Counters {
    /// The counts.
    pub counts: Counts,
    /// Events decided (passed the alert stage).
    pub events_decided: u64,
    /// Event read to decision, in microseconds.
    pub latency_micros: Histogram<u64>,
    /// When the first record was read.
    pub first_read: Option<Instant>,
    /// When the last event was decided.
    pub last_decided: Option<Instant>,
}

/// The shared, thread-safe counters of one pipeline.
#[derive(Debug, Clone)]
pub struct PipelineStats {
    inner: Arc<Mutex<Counters>>,
}

impl Default for PipelineStats {
    fn default() -> Self {
        PipelineStats::new()
    }
}

impl PipelineStats {
    /// Empty counters.
    pub fn new() -> PipelineStats {
        let latency = Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .expect("static histogram bounds are valid");
        PipelineStats {
            inner: Arc::new(Mutex::new(Counters {
                counts: Counts::default(),
                events_decided: 0,
                latency_micros: latency,
                first_read: None,
                last_decided: None,
            })),
        }
    }

    /// Locks the counters for an update or a read. A poisoned lock (a panicking actor) still
    /// yields the counters: they are plain numbers and remain meaningful.
    pub fn lock(&self) -> MutexGuard<'_, Counters> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The summary as printed by `vigil replay`. `startup_secs` is measured by the caller.
    pub fn summary(&self, startup_secs: f64) -> Summary {
        let c = self.lock();
        let elapsed_secs = match (c.first_read, c.last_decided) {
            (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
            _ => 0.0,
        };
        let events_per_sec = if elapsed_secs > 0.0 {
            c.events_decided as f64 / elapsed_secs
        } else {
            0.0
        };
        let (p50, p99) = if c.latency_micros.is_empty() {
            (0, 0)
        } else {
            (
                c.latency_micros.value_at_quantile(0.5),
                c.latency_micros.value_at_quantile(0.99),
            )
        };
        Summary {
            counts: c.counts.clone(),
            startup_secs,
            elapsed_secs,
            events_per_sec,
            latency_p50_micros: p50,
            latency_p99_micros: p99,
            peak_rss_bytes: peak_rss_bytes(),
        }
    }
}

/// The JSON object `vigil replay` prints on stdout.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// What the pipeline counted.
    #[serde(flatten)]
    pub counts: Counts,
    /// From process start to the pipeline being ready, in seconds.
    pub startup_secs: f64,
    /// From the first record read to the last event decided, in seconds.
    pub elapsed_secs: f64,
    /// Events decided per second over `elapsed_secs`.
    pub events_per_sec: f64,
    /// Median latency from a record being read to its event being decided.
    pub latency_p50_micros: u64,
    /// 99th percentile of that latency.
    pub latency_p99_micros: u64,
    /// Peak resident set size of the process (`VmHWM`), 0 where unknown.
    pub peak_rss_bytes: u64,
}

/// Peak resident set size of this process, from `/proc/self/status` (`VmHWM`); 0 elsewhere.
pub fn peak_rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}
