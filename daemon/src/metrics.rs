//! Prometheus metrics: what `GET /metrics` serves and `vigil replay --metrics-out` writes.
//!
//! [`Metrics`] owns a Prometheus registry. The stages feed it without slowing the pipeline:
//!
//! - what [`PipelineStats`] already counts (records read, rejected and skipped, events
//!   processed, tracked sources, the champion, ...) is read from it once per scrape, under
//!   its lock, and not counted twice;
//! - score distributions are observed into per-stage local histograms (plain memory, no
//!   atomics) and merged into the shared ones once per batch ([`ScoreRecorder`]);
//! - pipeline latency, alerts and drift decisions are recorded once per batch;
//! - mailbox depths are atomics incremented when a batch is sent to a stage and decremented
//!   when the stage handles it ([`StageQueue`]), read at scrape time;
//! - the store's size on disk and alert count are read at scrape time;
//! - alerts the allowlist and suppressions dropped are read from the alert stage's
//!   [`AlertFilter`] at scrape time.
//!
//! Names follow Prometheus' conventions: prefix `vigil_`, base units (seconds, bytes),
//! `_total` on counters, bounded labels (a model kind, never a model id or an address).
//! `docs/metrics.md` lists every metric.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus::core::Collector;
use prometheus::local::LocalHistogram;
use prometheus::{
    Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use vigil_pool::{DriftEvent, DriftKind, ModelKind, ModelRef, PoolScore};
use vigil_sensors::RejectReason;
use vigil_state::Store;

use crate::alert::Severity;
use crate::stats::PipelineStats;
use crate::suppress::{ALLOWLIST_REASON, AlertFilter};

/// Upper bounds of the score histograms: calibrated scores and rule strengths lie in [0, 1],
/// and alerts are decided near its top, so the buckets are finer from 0.9 on.
pub const SCORE_BUCKETS: &[f64] = &[
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99, 0.995, 0.999, 1.0,
];

/// Upper bounds of the pipeline latency histogram (read to decision), in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// Upper bounds of the API request duration histogram, in seconds.
pub const API_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What the build says about itself, exported as `vigil_build_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The crate version, e.g. `0.1.0`.
    pub version: String,
}

impl BuildInfo {
    /// This build: the version of the `vigil` crate.
    pub fn current() -> BuildInfo {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The pipeline stages whose mailboxes are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The feature actor (its batches come from the sources).
    Features,
    /// The detector stage (pool and rules).
    Detector,
    /// The alert actor.
    Alerts,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 3] = [Stage::Features, Stage::Detector, Stage::Alerts];

    /// The `stage` label value.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Features => "features",
            Stage::Detector => "detector",
            Stage::Alerts => "alerts",
        }
    }
}

/// The kind of a metric family, as `docs/metrics.md` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (name ends in `_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Cumulative buckets with `_bucket`, `_sum` and `_count` series.
    Histogram,
}

impl MetricKind {
    /// `counter`, `gauge` or `histogram`.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric family [`Metrics`] registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Its name, e.g. `vigil_alerts_total`.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Its label names.
    pub labels: Vec<String>,
    /// Its help text.
    pub help: String,
}

impl Family {
    /// The names of the series it exports: the name itself, or for a histogram its
    /// `_bucket`, `_sum` and `_count` series.
    pub fn series_names(&self) -> Vec<String> {
        match self.kind {
            MetricKind::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{}{suffix}", self.name))
                .collect(),
            _ => vec![self.name.clone()],
        }
    }
}

/// Batches sent to one stage and not handled yet (including a send waiting for room in a
/// full mailbox). Disabled (every call does nothing) when it comes from
/// [`StageQueue::default`], i.e. when the pipeline runs without metrics.
#[derive(Debug, Clone, Default)]
pub struct StageQueue(Option<Arc<AtomicI64>>);

impl StageQueue {
    /// A batch is sent to the stage.
    pub fn queued(&self) {
        if let Some(depth) = &self.0 {
            depth.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The stage starts handling a batch.
    pub fn taken(&self) {
        if let Some(depth) = &self.0 {
            depth.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Batches in flight to the stage (0 when disabled).
    pub fn depth(&self) -> i64 {
        self.0.as_ref().map_or(0, |d| d.load(Ordering::Relaxed))
    }
}

/// What the scrape reads from the running pipeline.
#[derive(Default)]
struct Sources {
    stats: Option<PipelineStats>,
    store: Option<Store>,
    filter: Option<Arc<AlertFilter>>,
}

/// The metrics fed from [`PipelineStats`] at scrape time.
struct FromStats {
    received: IntCounter,
    parsed: IntCounter,
    rejected: IntCounterVec,
    skipped: IntCounterVec,
    processed: IntCounter,
    late: IntCounter,
    by_sensor: IntCounterVec,
    scored: IntCounterVec,
    aggregated: IntCounter,
    evicted: IntCounter,
    tracked: IntGauge,
    champion: IntGaugeVec,
}

struct Inner {
    registry: Registry,
    families: Vec<Family>,
    /// Held while a scrape syncs and encodes, so two scrapes never add the same delta.
    sources: Mutex<Sources>,
    from_stats: FromStats,
    queues: [StageQueue; 3],
    mailbox: IntGaugeVec,
    store_bytes: IntGauge,
    store_alerts: IntGauge,
    alerts: IntCounterVec,
    dropped: IntCounterVec,
    drift: IntCounterVec,
    detector_score: HistogramVec,
    model_score: HistogramVec,
    plugin_failures: IntCounterVec,
    plugin_disabled: IntGaugeVec,
    latency: Histogram,
    api_requests: IntCounterVec,
    api_duration: HistogramVec,
}

/// Vigil's Prometheus metrics. Cheap to clone: clones share one registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("families", &self.inner.families.len())
            .finish()
    }
}

/// Registers metric families and remembers what they are.
struct Builder {
    registry: Registry,
    families: Vec<Family>,
}

impl Builder {
    fn add<C: Collector + Clone + 'static>(&mut self, kind: MetricKind, collector: C) -> C {
        for desc in collector.desc() {
            self.families.push(Family {
                name: desc.fq_name.clone(),
                kind,
                labels: desc.variable_labels.clone(),
                help: desc.help.clone(),
            });
        }
        self.registry
            .register(Box::new(collector.clone()))
            .expect("metric names are static and registered once");
        collector
    }

    fn counter(&mut self, name: &str, help: &str) -> IntCounter {
        let c = IntCounter::new(name, help).expect("valid metric name");
        self.add(MetricKind::Counter, c)
    }

    fn counter_vec(&mut self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric name");
        self.add(MetricKind::Counter, c)
    }

    fn gauge(&mut self, name: &str, help: &str) -> IntGauge {
        let g = IntGauge::new(name, help).expect("valid metric name");
        self.add(MetricKind::Gauge, g)
    }

    fn gauge_vec(&mut self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric name");
        self.add(MetricKind::Gauge, g)
    }

    fn histogram_vec(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        let h = HistogramVec::new(opts, labels).expect("valid metric name and buckets");
        self.add(MetricKind::Histogram, h)
    }
}

impl Metrics {
    /// A fresh registry with every metric family registered and `vigil_build_info` set.
    pub fn new(build: &BuildInfo) -> Metrics {
        let mut b = Builder {
            registry: Registry::new(),
            families: Vec::new(),
        };
        let build_info = b.gauge_vec(
            "vigil_build_info",
            "Always 1; the labels say which build is running.",
            &["version"],
        );
        build_info.with_label_values(&[&build.version]).set(1);
        let start_time = Gauge::new(
            "vigil_start_time_seconds",
            "When the metrics were created (process start), in seconds since the Unix epoch.",
        )
        .expect("valid metric name");
        let start_time = b.add(MetricKind::Gauge, start_time);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        start_time.set(now);

        let from_stats = FromStats {
            received: b.counter(
                "vigil_events_received_total",
                "Records read from the inputs: parsed into events, rejected or skipped.",
            ),
            parsed: b.counter(
                "vigil_events_parsed_total",
                "Records that became events.",
            ),
            rejected: b.counter_vec(
                "vigil_events_rejected_total",
                "Records rejected as malformed, by reason.",
                &["reason"],
            ),
            skipped: b.counter_vec(
                "vigil_events_skipped_total",
                "Well-formed records that are not events (e.g. session bookkeeping), by reason.",
                &["reason"],
            ),
            processed: b.counter(
                "vigil_events_processed_total",
                "Events decided: scored by every detector and past the alert stage.",
            ),
            late: b.counter(
                "vigil_events_late_total",
                "Events older than the newest seen minus the allowed lateness (still scored).",
            ),
            by_sensor: b.counter_vec(
                "vigil_sensor_events_total",
                "Events by sensor kind (cowrie, suricata, ...).",
                &["sensor"],
            ),
            scored: b.counter_vec(
                "vigil_detector_events_scored_total",
                "Events each detector (the pool or a rule) looked at.",
                &["detector"],
            ),
            aggregated: b.counter(
                "vigil_alerts_aggregated_total",
                "Alerts folded into an open alert of the same source and detector within the cooldown.",
            ),
            evicted: b.counter(
                "vigil_sources_evicted_total",
                "Sources evicted from window state (least recently seen first).",
            ),
            tracked: b.gauge(
                "vigil_sources_tracked",
                "Sources with window state.",
            ),
            champion: b.gauge_vec(
                "vigil_pool_champion_info",
                "1 for the kind of model leading the pool; absent while none leads or the pool is off.",
                &["model_kind"],
            ),
        };
        let mailbox = b.gauge_vec(
            "vigil_mailbox_batches",
            "Batches sent to a stage and not yet handled (at most the mailbox capacity, plus one waiting sender).",
            &["stage"],
        );
        let store_bytes = b.gauge(
            "vigil_store_size_bytes",
            "Bytes the state store's files take on disk.",
        );
        let store_alerts = b.gauge(
            "vigil_store_alerts",
            "Alerts held in the state store (after retention).",
        );
        let alerts = b.counter_vec(
            "vigil_alerts_total",
            "New alerts stored, by severity (red, orange) and detector (pool or a rule).",
            &["severity", "detector"],
        );
        let dropped = b.counter_vec(
            "vigil_alerts_dropped_total",
            "Alerts not raised because their source is on the allowlist (reason=\"allowlist\") or an analyst's suppression covers them (reason=\"suppressed\"); the events were still scored.",
            &["reason"],
        );
        let drift = b.counter_vec(
            "vigil_drift_decisions_total",
            "Decisions of the pool (drift detected, champion changed, retrained, ...), by kind and by the kind of model they are about.",
            &["kind", "model_kind"],
        );
        let detector_score = b.histogram_vec(
            "vigil_detector_score",
            "Per event, the pool's calibrated score (detector=\"pool\"); per rule hit, the rule's strength. In [0, 1].",
            &["detector"],
            SCORE_BUCKETS,
        );
        let model_score = b.histogram_vec(
            "vigil_model_score",
            "Per event, the calibrated score of every active model of the pool, by model kind. In [0, 1].",
            &["model_kind"],
            SCORE_BUCKETS,
        );
        let plugin_failures = b.counter_vec(
            "vigil_plugin_failures_total",
            "Failures of a detector plugin's models while scoring and learning (errors, panics, NaN or infinite scores), by plugin (configured plugins only).",
            &["plugin"],
        );
        let plugin_disabled = b.gauge_vec(
            "vigil_plugin_disabled",
            "1 when a plugin's model was disabled after plugins.max_failures failures (it left the pool), else 0; by plugin (configured plugins only).",
            &["plugin"],
        );
        let latency = b.add(
            MetricKind::Histogram,
            Histogram::with_opts(
                HistogramOpts::new(
                    "vigil_pipeline_latency_seconds",
                    "From a record being read to its event being decided, per event, in seconds.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric name and buckets"),
        );
        let api_requests = b.counter_vec(
            "vigil_api_requests_total",
            "API requests answered, by route template and HTTP status.",
            &["route", "status"],
        );
        let api_duration = b.histogram_vec(
            "vigil_api_request_duration_seconds",
            "Time to answer an API request, by route template, in seconds.",
            &["route"],
            API_BUCKETS,
        );
        let queues = [(); 3].map(|_| StageQueue(Some(Arc::new(AtomicI64::new(0)))));
        for stage in Stage::ALL {
            mailbox.with_label_values(&[stage.name()]).set(0);
        }
        Metrics {
            inner: Arc::new(Inner {
                registry: b.registry,
                families: b.families,
                sources: Mutex::new(Sources::default()),
                from_stats,
                queues,
                mailbox,
                store_bytes,
                store_alerts,
                alerts,
                dropped,
                drift,
                detector_score,
                model_score,
                plugin_failures,
                plugin_disabled,
                latency,
                api_requests,
                api_duration,
            }),
        }
    }

    /// Every metric family registered, in registration order.
    pub fn families(&self) -> &[Family] {
        &self.inner.families
    }

    /// Connects the running pipeline: its counters and its store are read at every
    /// [`render`](Self::render). `detectors` (the pool and the rules that run) and, when the
    /// pool runs, `model_kinds` get their series at 0 at once, so rates exist before the
    /// first alert or drift decision.
    pub fn attach(
        &self,
        stats: &PipelineStats,
        store: &Store,
        detectors: &[&str],
        model_kinds: &[ModelKind],
    ) {
        {
            let mut sources = self.lock_sources();
            sources.stats = Some(stats.clone());
            sources.store = Some(store.clone());
        }
        for detector in detectors {
            for severity in [Severity::Red, Severity::Orange] {
                self.inner
                    .alerts
                    .with_label_values(&[severity_label(severity), detector]);
            }
            self.inner.from_stats.scored.with_label_values(&[detector]);
        }
        for kind in model_kinds {
            for drift in DRIFT_KINDS {
                self.inner
                    .drift
                    .with_label_values(&[drift_label(drift), kind.name()]);
            }
        }
        for reason in REJECT_REASONS {
            self.inner
                .from_stats
                .rejected
                .with_label_values(&[reason.as_str()]);
        }
        for reason in SKIP_REASONS {
            self.inner.from_stats.skipped.with_label_values(&[reason]);
        }
        // Packet captures count their records under the reader's reasons: damage as
        // rejected, the rest as skipped.
        for reason in vigil_packets::SkipReason::ALL {
            let counters = if reason.is_damage() {
                &self.inner.from_stats.rejected
            } else {
                &self.inner.from_stats.skipped
            };
            counters.with_label_values(&[reason.as_str()]);
        }
        self.inner
            .from_stats
            .rejected
            .with_label_values(&[crate::input::MALFORMED_CAPTURE]);
        self.inner
            .from_stats
            .skipped
            .with_label_values(&[CAPTURE_DROPPED]);
    }

    /// Connects the alert stage's allowlist and suppressions: what they dropped is read at
    /// every [`render`](Self::render) as `vigil_alerts_dropped_total`, whose two series
    /// (`allowlist`, `suppressed`) exist at 0 from now on.
    pub fn attach_filter(&self, filter: Arc<AlertFilter>) {
        for reason in [DROPPED_ALLOWLIST, DROPPED_SUPPRESSED] {
            self.inner.dropped.with_label_values(&[reason]);
        }
        self.lock_sources().filter = Some(filter);
    }

    /// The queue counter of `stage`'s mailbox.
    pub fn queue(&self, stage: Stage) -> StageQueue {
        self.inner.queues[stage as usize].clone()
    }

    /// Batches in flight to each stage, in pipeline order, by stage name.
    pub fn queue_depths(&self) -> Vec<(&'static str, i64)> {
        Stage::ALL
            .iter()
            .map(|&stage| (stage.name(), self.queue(stage).depth().max(0)))
            .collect()
    }

    /// A recorder of score distributions for the detector stage, which runs `rules` (and
    /// the pool when `pool` is true, with the built-in kinds).
    pub fn score_recorder(&self, rules: &[&'static str], pool: bool) -> ScoreRecorder {
        self.score_recorder_with_models(rules, pool, &[])
    }

    /// [`score_recorder`](Self::score_recorder) for a pool that also runs the plugin kinds
    /// among `models`: their scores get `model_kind="plugin:<name>"` series, and their
    /// failures and disabling `vigil_plugin_failures_total` and `vigil_plugin_disabled`
    /// (at 0 from now on). Only configured plugins get series, so labels stay bounded.
    pub fn score_recorder_with_models(
        &self,
        rules: &[&'static str],
        pool: bool,
        models: &[ModelKind],
    ) -> ScoreRecorder {
        let plugin_kinds: Vec<ModelKind> = models
            .iter()
            .copied()
            .filter(|k| k.plugin().is_some())
            .collect();
        let pool = pool.then(|| {
            (
                self.inner
                    .detector_score
                    .with_label_values(&["pool"])
                    .local(),
                ModelKind::ALL
                    .iter()
                    .chain(&plugin_kinds)
                    .map(|kind| {
                        (
                            *kind,
                            self.inner
                                .model_score
                                .with_label_values(&[kind.name()])
                                .local(),
                        )
                    })
                    .collect(),
            )
        });
        let plugins = plugin_kinds
            .iter()
            .filter_map(|kind| {
                let name = kind.plugin()?.name();
                let disabled = self.inner.plugin_disabled.with_label_values(&[name]);
                disabled.set(0);
                Some(PluginSeries {
                    kind: *kind,
                    failures: self.inner.plugin_failures.with_label_values(&[name]),
                    disabled,
                    counted: std::cell::Cell::new(0),
                })
            })
            .collect();
        ScoreRecorder {
            rules: rules
                .iter()
                .map(|name| {
                    (
                        *name,
                        self.inner.detector_score.with_label_values(&[name]).local(),
                    )
                })
                .collect(),
            pool,
            plugins,
        }
    }

    /// A batch of `events` was decided `seconds` after its first record was read.
    pub fn batch_decided(&self, seconds: f64, events: usize) {
        if events == 0 {
            return;
        }
        let local = self.inner.latency.local();
        for _ in 0..events {
            local.observe(seconds);
        }
        local.flush();
    }

    /// New alerts the store took, by severity and detector.
    pub fn alerts_stored<'a>(&self, alerts: impl IntoIterator<Item = (Severity, &'a str)>) {
        for (severity, detector) in alerts {
            self.inner
                .alerts
                .with_label_values(&[severity_label(severity), detector])
                .inc();
        }
    }

    /// Drift decisions taken while scoring a batch.
    pub fn drift_decisions(&self, events: &[DriftEvent]) {
        for event in events {
            self.inner
                .drift
                .with_label_values(&[drift_label(event.kind), event.model.kind.name()])
                .inc();
        }
    }

    /// One API request: its route template (e.g. `/api/v1/alerts/{id}`, never the path
    /// as requested, so the label stays bounded), its HTTP status and how long it took.
    pub fn observe_api(&self, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.inner
            .api_requests
            .with_label_values(&[route, &status])
            .inc();
        self.inner
            .api_duration
            .with_label_values(&[route])
            .observe(seconds);
    }

    /// Every metric in the Prometheus text format (version 0.0.4), after reading the
    /// pipeline's counters, the mailbox depths and the store.
    pub fn render(&self) -> String {
        let sources = self.lock_sources();
        if let Some(stats) = &sources.stats {
            self.sync_stats(stats);
        }
        if let Some(filter) = &sources.filter {
            let counts = filter.counts();
            let allowlisted = counts.by_reason.get(ALLOWLIST_REASON).copied();
            raise(
                &self.inner.dropped.with_label_values(&[DROPPED_ALLOWLIST]),
                allowlisted.unwrap_or(0),
            );
            raise(
                &self.inner.dropped.with_label_values(&[DROPPED_SUPPRESSED]),
                counts.by_suppression.values().sum(),
            );
        }
        if let Some(store) = &sources.store {
            match store.size_on_disk() {
                Ok(bytes) => self
                    .inner
                    .store_bytes
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX)),
                Err(error) => tracing::debug!("metrics: store size unknown: {error}"),
            }
            match store.alert_count() {
                Ok(n) => self
                    .inner
                    .store_alerts
                    .set(i64::try_from(n).unwrap_or(i64::MAX)),
                Err(error) => tracing::debug!("metrics: stored alert count unknown: {error}"),
            }
        }
        for stage in Stage::ALL {
            self.inner
                .mailbox
                .with_label_values(&[stage.name()])
                .set(self.queue(stage).depth().max(0));
        }
        let families = self.inner.registry.gather();
        let mut text = String::new();
        if let Err(error) = TextEncoder::new().encode_utf8(&families, &mut text) {
            tracing::error!("metrics could not be encoded: {error}");
        }
        text
    }

    fn lock_sources(&self) -> std::sync::MutexGuard<'_, Sources> {
        self.inner.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the counters kept by [`PipelineStats`] up to date (called with the sources
    /// lock held, so two scrapes never add the same delta).
    fn sync_stats(&self, stats: &PipelineStats) {
        let m = &self.inner.from_stats;
        let c = stats.lock();
        raise(&m.received, c.counts.events_read);
        raise(&m.parsed, c.counts.events_parsed);
        raise(&m.processed, c.events_decided);
        raise(&m.late, c.counts.events_late);
        raise(&m.aggregated, c.counts.alerts_aggregated);
        raise(&m.evicted, c.counts.sources_evicted);
        for (reason, n) in &c.counts.events_rejected {
            raise(&m.rejected.with_label_values(&[reason]), *n);
        }
        for (reason, n) in &c.counts.records_skipped {
            raise(&m.skipped.with_label_values(&[reason]), *n);
        }
        for (sensor, n) in &c.counts.by_sensor {
            raise(&m.by_sensor.with_label_values(&[sensor]), *n);
        }
        for (detector, counts) in &c.counts.by_detector {
            raise(
                &m.scored.with_label_values(&[detector]),
                counts.events_scored,
            );
        }
        m.tracked
            .set(i64::try_from(c.counts.sources_tracked).unwrap_or(i64::MAX));
        let champion = c
            .counts
            .champion
            .as_deref()
            .and_then(|name| name.parse::<ModelRef>().ok());
        m.champion.reset();
        if let Some(champion) = champion {
            m.champion.with_label_values(&[champion.kind.name()]).set(1);
        }
    }
}

/// Adds to `counter` what `total` has beyond it (counters only go up).
fn raise(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

/// The `reason` of `vigil_alerts_dropped_total` for alerts the allowlist dropped.
pub const DROPPED_ALLOWLIST: &str = "allowlist";

/// The `reason` of `vigil_alerts_dropped_total` for alerts an analyst's suppression dropped
/// (whatever reason the suppression gives: that free text would make the label unbounded).
pub const DROPPED_SUPPRESSED: &str = "suppressed";

/// Every rejection reason, for the series of `vigil_events_rejected_total` set at 0 when
/// the pipeline runs.
const REJECT_REASONS: [RejectReason; 15] = [
    RejectReason::MalformedJson,
    RejectReason::TruncatedRecord,
    RejectReason::NotAnObject,
    RejectReason::WrongFieldType,
    RejectReason::MissingField,
    RejectReason::InvalidIp,
    RejectReason::InvalidPort,
    RejectReason::InvalidTimestamp,
    RejectReason::InvalidNumber,
    RejectReason::WrongColumnCount,
    RejectReason::NotUtf8,
    RejectReason::LineTooLong,
    RejectReason::EmptyInput,
    RejectReason::BinaryData,
    RejectReason::UnknownFormat,
];

/// Fails to compile when `RejectReason` gains a variant, so that [`REJECT_REASONS`] is
/// extended with it.
const fn _every_reject_reason_is_listed(reason: RejectReason) {
    match reason {
        RejectReason::MalformedJson
        | RejectReason::TruncatedRecord
        | RejectReason::NotAnObject
        | RejectReason::WrongFieldType
        | RejectReason::MissingField
        | RejectReason::InvalidIp
        | RejectReason::InvalidPort
        | RejectReason::InvalidTimestamp
        | RejectReason::InvalidNumber
        | RejectReason::WrongColumnCount
        | RejectReason::NotUtf8
        | RejectReason::LineTooLong
        | RejectReason::EmptyInput
        | RejectReason::BinaryData
        | RejectReason::UnknownFormat => {}
    }
}

/// Every reason a parser skips a well-formed record for (Suricata `stats` records, CSV
/// headers), for the series of `vigil_events_skipped_total` set at 0 when the pipeline runs.
const SKIP_REASONS: [&str; 2] = [vigil_sensors::suricata::STATS_SKIP_REASON, "csv_header"];

/// The skip reason of packets a live capture lost because the kernel's buffer was full.
pub const CAPTURE_DROPPED: &str = "capture_dropped";

/// Every kind of drift decision, for the series set at 0 when the pool runs.
const DRIFT_KINDS: [DriftKind; 8] = [
    DriftKind::DriftDetected,
    DriftKind::ChampionChanged,
    DriftKind::BaselineFitted,
    DriftKind::Retrained,
    DriftKind::Retired,
    DriftKind::Restored,
    DriftKind::FitFailed,
    DriftKind::RetrainRequested,
];

/// The `kind` label of a drift decision: its snake_case name, as in the stored records.
pub fn drift_label(kind: DriftKind) -> &'static str {
    match kind {
        DriftKind::DriftDetected => "drift_detected",
        DriftKind::ChampionChanged => "champion_changed",
        DriftKind::BaselineFitted => "baseline_fitted",
        DriftKind::Retrained => "retrained",
        DriftKind::Retired => "retired",
        DriftKind::Restored => "restored",
        DriftKind::FitFailed => "fit_failed",
        DriftKind::RetrainRequested => "retrain_requested",
    }
}

/// The `severity` label of an alert: `red`, `orange` (or `green`, never stored).
pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Red => "red",
        Severity::Orange => "orange",
        Severity::Green => "green",
    }
}

/// Score distributions of the detector stage, observed into local histograms (no atomics,
/// no locks) and merged into the shared ones by [`flush`](Self::flush) once per batch.
pub struct ScoreRecorder {
    rules: Vec<(&'static str, LocalHistogram)>,
    /// The pool's calibrated score, and each model kind's (built-in kinds, then plugins).
    pool: Option<(LocalHistogram, Vec<(ModelKind, LocalHistogram)>)>,
    /// Each configured plugin's failure and disabled series.
    plugins: Vec<PluginSeries>,
}

/// A plugin's failure counter and disabled gauge, with the failures already counted.
struct PluginSeries {
    kind: ModelKind,
    failures: IntCounter,
    disabled: IntGauge,
    counted: std::cell::Cell<u64>,
}

impl std::fmt::Debug for ScoreRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScoreRecorder")
            .field("rules", &self.rules.iter().map(|r| r.0).collect::<Vec<_>>())
            .field("pool", &self.pool.is_some())
            .finish()
    }
}

impl ScoreRecorder {
    /// A rule hit of `strength`.
    pub fn rule(&self, rule: &str, strength: f64) {
        if let Some((_, h)) = self.rules.iter().find(|(name, _)| *name == rule) {
            h.observe(strength);
        }
    }

    /// The pool's score of one event: the champion's calibrated score, and every active
    /// model's.
    pub fn pool(&self, score: &PoolScore) {
        let Some((pool, models)) = &self.pool else {
            return;
        };
        pool.observe(score.calibrated);
        for model in score.models() {
            if let Some((_, h)) = models.iter().find(|(k, _)| *k == model.model.kind) {
                h.observe(model.calibrated);
            }
        }
    }

    /// The pool's plugins after a batch: failures since the last call are added to
    /// `vigil_plugin_failures_total`, and `vigil_plugin_disabled` says which are disabled.
    pub fn plugins(&self, status: &[vigil_pool::PluginModelStatus]) {
        for series in &self.plugins {
            let Some(s) = status.iter().find(|s| s.kind == series.kind) else {
                continue;
            };
            let new = s.failures_total.saturating_sub(series.counted.get());
            if new > 0 {
                series.failures.inc_by(new);
                series.counted.set(s.failures_total);
            }
            series.disabled.set(i64::from(s.disabled));
        }
    }

    /// Merges what the batch observed into the shared histograms.
    pub fn flush(&self) {
        for (_, h) in &self.rules {
            h.flush();
        }
        if let Some((pool, models)) = &self.pool {
            pool.flush();
            for (_, h) in models {
                h.flush();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                (name == series).then(|| value.parse().ok())?
            })
    }

    #[test]
    fn build_info_and_start_time_are_set() {
        let m = Metrics::new(&BuildInfo {
            version: "9.8.7".into(),
        });
        let text = m.render();
        assert_eq!(
            sample(&text, "vigil_build_info{version=\"9.8.7\"}"),
            Some(1.0),
            "{text}"
        );
        assert!(sample(&text, "vigil_start_time_seconds").is_some_and(|t| t > 1.5e9));
    }

    #[test]
    fn every_family_is_prefixed_and_counters_end_in_total() {
        let m = Metrics::new(&BuildInfo::current());
        assert!(m.families().len() >= 20);
        for family in m.families() {
            assert!(family.name.starts_with("vigil_"), "{}", family.name);
            assert_eq!(
                family.kind == MetricKind::Counter,
                family.name.ends_with("_total"),
                "{}",
                family.name
            );
            assert!(!family.help.is_empty(), "{}", family.name);
            for label in &family.labels {
                assert!(
                    !["ip", "src_ip", "model", "model_id", "quantile"].contains(&label.as_str()),
                    "{} has the unbounded label {label}",
                    family.name
                );
            }
        }
    }

    #[test]
    fn queues_count_batches_in_flight() {
        let m = Metrics::new(&BuildInfo::current());
        let q = m.queue(Stage::Detector);
        q.queued();
        q.queued();
        q.queued();
        q.taken();
        assert_eq!(m.queue(Stage::Detector).depth(), 2);
        assert_eq!(m.queue(Stage::Alerts).depth(), 0);
        let text = m.render();
        assert_eq!(
            sample(&text, "vigil_mailbox_batches{stage=\"detector\"}"),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "vigil_mailbox_batches{stage=\"features\"}"),
            Some(0.0)
        );
        let off = StageQueue::default();
        off.queued();
        assert_eq!(off.depth(), 0);
    }

    #[test]
    fn latency_is_observed_once_per_event() {
        let m = Metrics::new(&BuildInfo::current());
        m.batch_decided(0.003, 5);
        m.batch_decided(2.0, 1);
        let text = m.render();
        assert_eq!(
            sample(&text, "vigil_pipeline_latency_seconds_count"),
            Some(6.0)
        );
        assert_eq!(
            sample(&text, "vigil_pipeline_latency_seconds_bucket{le=\"0.005\"}"),
            Some(5.0)
        );
        let sum = sample(&text, "vigil_pipeline_latency_seconds_sum").unwrap();
        assert!((sum - 2.015).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn rule_scores_are_merged_at_flush() {
        let m = Metrics::new(&BuildInfo::current());
        let r = m.score_recorder(&["brute_force", "port_scan"], false);
        r.rule("brute_force", 0.95);
        r.rule("brute_force", 0.5);
        r.rule("unknown_rule", 0.5);
        let series = "vigil_detector_score_count{detector=\"brute_force\"}";
        assert_eq!(sample(&m.render(), series), Some(0.0));
        r.flush();
        let text = m.render();
        assert_eq!(sample(&text, series), Some(2.0));
        assert_eq!(
            sample(
                &text,
                "vigil_detector_score_bucket{detector=\"brute_force\",le=\"0.9\"}"
            ),
            Some(1.0)
        );
        assert!(!text.contains("unknown_rule"));
    }

    #[test]
    fn api_requests_by_route_and_status() {
        let m = Metrics::new(&BuildInfo::current());
        m.observe_api("/api/v1/alerts/{id}", 200, 0.002);
        m.observe_api("/api/v1/alerts/{id}", 404, 0.001);
        m.observe_api("/api/v1/alerts/{id}", 200, 0.004);
        let text = m.render();
        assert_eq!(
            sample(
                &text,
                "vigil_api_requests_total{route=\"/api/v1/alerts/{id}\",status=\"200\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "vigil_api_request_duration_seconds_count{route=\"/api/v1/alerts/{id}\"}"
            ),
            Some(3.0)
        );
    }

    #[test]
    fn counters_follow_pipeline_stats_without_double_counting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Default::default()).unwrap();
        let stats = PipelineStats::new();
        let m = Metrics::new(&BuildInfo::current());
        m.attach(&stats, &store, &["pool", "brute_force"], &[ModelKind::Hst]);
        {
            let mut c = stats.lock();
            c.counts.events_read = 10;
            c.counts.events_rejected.insert("malformed_json", 2);
            c.events_decided = 8;
            c.counts.sources_tracked = 3;
            c.counts.champion = Some("hst#2".into());
        }
        let first = m.render();
        let second = m.render();
        for text in [&first, &second] {
            assert_eq!(sample(text, "vigil_events_received_total"), Some(10.0));
            assert_eq!(
                sample(
                    text,
                    "vigil_events_rejected_total{reason=\"malformed_json\"}"
                ),
                Some(2.0)
            );
            assert_eq!(sample(text, "vigil_events_processed_total"), Some(8.0));
            assert_eq!(sample(text, "vigil_sources_tracked"), Some(3.0));
            assert_eq!(
                sample(text, "vigil_pool_champion_info{model_kind=\"hst\"}"),
                Some(1.0)
            );
            assert_eq!(
                sample(
                    text,
                    "vigil_alerts_total{detector=\"brute_force\",severity=\"red\"}"
                ),
                Some(0.0)
            );
            assert_eq!(
                sample(
                    text,
                    "vigil_drift_decisions_total{kind=\"retrained\",model_kind=\"hst\"}"
                ),
                Some(0.0)
            );
            assert!(sample(text, "vigil_store_size_bytes").is_some());
            assert_eq!(sample(text, "vigil_store_alerts"), Some(0.0));
        }
        {
            let mut c = stats.lock();
            c.events_decided = 9;
            c.counts.champion = Some("online-ocsvm#5".into());
        }
        let third = m.render();
        assert_eq!(sample(&third, "vigil_events_processed_total"), Some(9.0));
        assert_eq!(
            sample(
                &third,
                "vigil_pool_champion_info{model_kind=\"online-ocsvm\"}"
            ),
            Some(1.0)
        );
        assert!(!third.contains("vigil_pool_champion_info{model_kind=\"hst\"}"));
    }

    #[test]
    fn dropped_alerts_are_counted_by_allowlist_and_suppression() {
        use crate::suppress::Suppression;
        let m = Metrics::new(&BuildInfo::current());
        assert!(!m.render().contains("vigil_alerts_dropped_total{"));
        let filter = Arc::new(AlertFilter::new(vec!["10.0.0.0/8".parse().unwrap()]));
        m.attach_filter(filter.clone());
        let allowlisted = "vigil_alerts_dropped_total{reason=\"allowlist\"}";
        let suppressed = "vigil_alerts_dropped_total{reason=\"suppressed\"}";
        let text = m.render();
        assert_eq!(sample(&text, allowlisted), Some(0.0), "{text}");
        assert_eq!(sample(&text, suppressed), Some(0.0), "{text}");
        let created_at = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        for (id, cidr) in [("a", "192.0.2.0/24"), ("b", "198.51.100.0/24")] {
            assert!(filter.insert(Suppression {
                id: id.to_string(),
                src_cidr: cidr.parse().unwrap(),
                detector: None,
                until: None,
                reason: format!("free text {id} that must not become a label"),
                created_at,
            }));
        }
        {
            let mut screen = filter.screen();
            for ip in [
                "10.1.1.1",
                "10.2.2.2",
                "192.0.2.7",
                "198.51.100.1",
                "203.0.113.1",
            ] {
                screen.check(Some(ip.parse().unwrap()), "pool", created_at);
            }
        }
        // A deleted suppression's drops stay counted: the counter never goes down.
        assert!(filter.remove("a").is_some());
        for _ in 0..2 {
            let text = m.render();
            assert_eq!(sample(&text, allowlisted), Some(2.0), "{text}");
            assert_eq!(sample(&text, suppressed), Some(2.0), "{text}");
            assert!(!text.contains("free text"), "{text}");
        }
    }

    #[test]
    fn known_rejection_and_skip_reasons_start_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Default::default()).unwrap();
        let m = Metrics::new(&BuildInfo::current());
        m.attach(&PipelineStats::new(), &store, &["pool"], &[]);
        let text = m.render();
        for reason in REJECT_REASONS {
            let series = format!(
                "vigil_events_rejected_total{{reason=\"{}\"}}",
                reason.as_str()
            );
            assert_eq!(sample(&text, &series), Some(0.0), "{series} in {text}");
        }
        for reason in SKIP_REASONS {
            let series = format!("vigil_events_skipped_total{{reason=\"{reason}\"}}");
            assert_eq!(sample(&text, &series), Some(0.0), "{series} in {text}");
        }
        for (series, reason) in [
            ("vigil_events_rejected_total", "malformed_ip"),
            ("vigil_events_rejected_total", "truncated_record"),
            ("vigil_events_rejected_total", "malformed_capture"),
            ("vigil_events_skipped_total", "not_ip"),
            ("vigil_events_skipped_total", "unsupported_linktype"),
            ("vigil_events_skipped_total", "capture_dropped"),
        ] {
            let series = format!("{series}{{reason=\"{reason}\"}}");
            assert_eq!(sample(&text, &series), Some(0.0), "{series} in {text}");
        }
    }

    /// The parsers skip records under the reasons [`SKIP_REASONS`] lists.
    #[test]
    fn skip_reasons_are_the_parsers_own() {
        use vigil_sensors::{Format, ParseOptions, Record, parser_for};
        let cases = [
            (
                Format::Suricata,
                r#"{"timestamp":"2026-03-01T00:00:00.000000+0000","event_type":"stats","stats":{"uptime":1}}"#,
            ),
            (Format::Csv, "duration,bytes,label"),
        ];
        let mut seen = Vec::new();
        for (format, line) in cases {
            let mut parser = parser_for(format, ParseOptions::new("t"));
            parser.begin_input("input".into());
            let mut out = Vec::new();
            parser.feed(line.as_bytes(), 0, true, &mut out);
            match out.as_slice() {
                [Record::Skipped { reason, .. }] => seen.push(*reason),
                other => panic!("{format:?} did not skip `{line}`: {other:?}"),
            }
        }
        assert_eq!(seen, SKIP_REASONS);
    }

    #[test]
    fn alerts_and_drift_by_bounded_labels() {
        let m = Metrics::new(&BuildInfo::current());
        m.alerts_stored([(Severity::Red, "pool"), (Severity::Red, "pool")]);
        m.alerts_stored([(Severity::Orange, "port_scan")]);
        let text = m.render();
        assert_eq!(
            sample(
                &text,
                "vigil_alerts_total{detector=\"pool\",severity=\"red\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "vigil_alerts_total{detector=\"port_scan\",severity=\"orange\"}"
            ),
            Some(1.0)
        );
        let drift = |kind, model: &str| DriftEvent {
            seq: 1,
            event_time_micros: None,
            kind,
            model: model.parse().unwrap(),
            reason: String::new(),
            champion_before: None,
            champion_after: None,
        };
        m.drift_decisions(&[
            drift(DriftKind::DriftDetected, "hst#1"),
            drift(DriftKind::DriftDetected, "hst#7"),
            drift(DriftKind::ChampionChanged, "ocsvm#3"),
        ]);
        let text = m.render();
        assert_eq!(
            sample(
                &text,
                "vigil_drift_decisions_total{kind=\"drift_detected\",model_kind=\"hst\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "vigil_drift_decisions_total{kind=\"champion_changed\",model_kind=\"ocsvm\"}"
            ),
            Some(1.0)
        );
        assert!(
            !text.contains("#7"),
            "a model id leaked into a label: {text}"
        );
    }
}
