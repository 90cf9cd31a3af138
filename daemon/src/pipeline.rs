//! The actor pipeline: sources → features → detector pool → alerts.
//!
//! Each stage is an actix actor on its own arbiter (thread). Messages carry batches of up
//! to `pipeline.batch_max_events` events. Mailboxes are bounded (`pipeline.mailbox_batches`)
//! and every hand-off is `send().await`, so a full stage makes the one before it wait:
//! backpressure reaches the sources, and a file source simply reads more slowly. Nothing is
//! dropped. Each stage forwards inside an [`AtomicResponse`], so it handles one batch at a
//! time and batches stay in order end to end.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;
use vigil_detectors::rules::{RuleHit, RuleSet};
use vigil_features::{Extracted, FeatureExtractor};
use vigil_sensors::Event;

use crate::alert::{Alert, EncodeOptions, Severity, SeverityThresholds, encode_json};
use crate::config::SeverityConfig;
use crate::input::{Produced, Producer, Tally};
use crate::stats::{DetectorCounts, PipelineStats};

/// A batch of events from one source.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EventBatch {
    /// The events, in the order they were read.
    pub events: Vec<Event>,
    /// When the first of them was read (for latency).
    pub read_at: Instant,
}

/// A source has sent its last batch.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct SourceDone {
    /// The source's name.
    pub source: Arc<str>,
}

/// Events with their features and window facts.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FeatureBatch {
    /// The events.
    pub events: Vec<Event>,
    /// Feature rows, `dim` values per event, in schema order.
    pub features: Vec<f64>,
    /// What the feature step found per event (rule view and source window).
    pub extracted: Vec<Extracted>,
    /// When the first event was read.
    pub read_at: Instant,
}

/// Events with what the detectors found.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ScoredBatch {
    /// The events.
    pub events: Vec<Event>,
    /// Rule hits as (event index, hit), in event order.
    pub hits: Vec<(usize, RuleHit)>,
    /// When the first event was read.
    pub read_at: Instant,
}

/// How a source paces events in wall time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// As fast as the pipeline takes them.
    MaxSpeed,
    /// Real event-time gaps divided by this factor, each wait capped at `max_gap`.
    Speed {
        /// Event seconds per wall second.
        factor: f64,
        /// Longest single wait.
        max_gap: Duration,
    },
    /// A fixed rate, in events per wall second.
    Rate(f64),
}

/// Shared switches of one source: stop and pause.
#[derive(Debug, Default)]
pub struct SourceControl {
    stop: AtomicBool,
    paused: AtomicBool,
}

impl SourceControl {
    /// Asks the source to stop reading; it sends what it holds and then [`SourceDone`].
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether stop was asked.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Pauses or resumes reading.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }
}

/// Settings of one source actor.
pub struct SourceSettings {
    /// The source's name.
    pub name: Arc<str>,
    /// Most events per batch.
    pub batch_max_events: usize,
    /// Longest time a partial batch waits.
    pub batch_max_wait: Duration,
    /// How long to wait when the producer is idle.
    pub poll_interval: Duration,
    /// Wall-time pacing.
    pub pacing: Pacing,
    /// Stop after this much wall time (demo `--duration`).
    pub run_for: Option<Duration>,
}

/// A source actor: owns its producer on its own arbiter and pushes batches downstream.
pub struct SourceActor {
    settings: Option<SourceSettings>,
    producer: Option<Box<dyn Producer>>,
    downstream: Addr<FeatureActor>,
    control: Arc<SourceControl>,
    stats: PipelineStats,
}

impl Actor for SourceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (Some(settings), Some(producer)) = (self.settings.take(), self.producer.take()) else {
            return;
        };
        let run = run_source(
            settings,
            producer,
            self.downstream.clone(),
            self.control.clone(),
            self.stats.clone(),
        );
        ctx.spawn(run.into_actor(self).map(|_, _, ctx| ctx.stop()));
    }
}

/// Paces events in wall time: for each event, when it is due.
struct Pacer {
    pacing: Pacing,
    start: Option<Instant>,
    due: Duration,
    previous: Option<chrono::DateTime<chrono::Utc>>,
    count: u64,
}

impl Pacer {
    fn new(pacing: Pacing) -> Pacer {
        Pacer {
            pacing,
            start: None,
            due: Duration::ZERO,
            previous: None,
            count: 0,
        }
    }

    /// When `event` is due, or `None` to send it now.
    fn due(&mut self, event: &Event) -> Option<Instant> {
        let start = *self.start.get_or_insert_with(Instant::now);
        match self.pacing {
            Pacing::MaxSpeed => return None,
            Pacing::Speed { factor, max_gap } => {
                if let Some(previous) = self.previous {
                    let gap = (event.event_time - previous).to_std().unwrap_or_default();
                    self.due += gap.div_f64(factor).min(max_gap);
                }
                self.previous = Some(event.event_time);
            }
            Pacing::Rate(rate) => {
                self.due = Duration::from_secs_f64(self.count as f64 / rate);
                self.count += 1;
            }
        }
        Some(start + self.due)
    }
}

async fn run_source(
    settings: SourceSettings,
    mut producer: Box<dyn Producer>,
    downstream: Addr<FeatureActor>,
    control: Arc<SourceControl>,
    stats: PipelineStats,
) {
    let started = Instant::now();
    let mut pacer = Pacer::new(settings.pacing);
    let paced = settings.pacing != Pacing::MaxSpeed;
    let chunk = if paced { 64 } else { settings.batch_max_events };
    let mut pending: Vec<Event> = Vec::with_capacity(chunk);
    let mut out: Vec<Event> = Vec::with_capacity(settings.batch_max_events);
    let mut batch_read_at: Option<Instant> = None;
    let mut finished = false;

    while !finished {
        if control.stopping() || settings.run_for.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        if control.paused.load(Ordering::SeqCst) {
            flush(&downstream, &mut out, &mut batch_read_at).await;
            actix_rt::time::sleep(settings.poll_interval).await;
            continue;
        }
        let mut tally = Tally::default();
        let status = producer.produce(chunk, &mut pending, &mut tally);
        if !tally.is_empty() {
            let now = Instant::now();
            let mut c = stats.lock();
            c.first_read.get_or_insert(now);
            c.counts.events_read += tally.read;
            c.counts.events_parsed += tally.parsed;
            for (reason, n) in tally.rejected {
                *c.counts.events_rejected.entry(reason).or_default() += n;
            }
            for (reason, n) in tally.skipped {
                *c.counts.records_skipped.entry(reason).or_default() += n;
            }
        }
        for event in pending.drain(..) {
            if let Some(due) = pacer.due(&event) {
                let now = Instant::now();
                if due > now {
                    flush(&downstream, &mut out, &mut batch_read_at).await;
                    actix_rt::time::sleep_until(due.into()).await;
                }
            }
            batch_read_at.get_or_insert_with(Instant::now);
            out.push(event);
            if out.len() >= settings.batch_max_events {
                flush(&downstream, &mut out, &mut batch_read_at).await;
            }
        }
        if batch_read_at.is_some_and(|t| t.elapsed() >= settings.batch_max_wait) {
            flush(&downstream, &mut out, &mut batch_read_at).await;
        }
        match status {
            Produced::More => {}
            Produced::Idle => {
                flush(&downstream, &mut out, &mut batch_read_at).await;
                actix_rt::time::sleep(settings.poll_interval).await;
            }
            Produced::Finished => finished = true,
        }
    }
    flush(&downstream, &mut out, &mut batch_read_at).await;
    producer.finish();
    if let Some(position) = producer.position() {
        tracing::info!(source = %settings.name, input = %position.path, offset = position.offset, "source stopped");
    }
    let _ = downstream
        .send(SourceDone {
            source: settings.name.clone(),
        })
        .await;
}

async fn flush(
    downstream: &Addr<FeatureActor>,
    out: &mut Vec<Event>,
    read_at: &mut Option<Instant>,
) {
    if out.is_empty() {
        return;
    }
    let events = std::mem::take(out);
    let read_at = read_at.take().unwrap_or_else(Instant::now);
    if downstream
        .send(EventBatch { events, read_at })
        .await
        .is_err()
    {
        tracing::error!("feature stage is gone; events of this batch were not processed");
    }
}

/// Hands `message` to the next stage and holds this actor until it is accepted, so the
/// stage handles one message at a time and order is kept end to end.
fn forward<A, B, M>(downstream: &Addr<B>, message: M, stage: &'static str) -> AtomicResponse<A, ()>
where
    A: Actor<Context = Context<A>>,
    B: Actor<Context = Context<B>> + Handler<M>,
    M: Message<Result = ()> + Send + 'static,
{
    let send = downstream.send(message);
    AtomicResponse::new(Box::pin(actix::fut::wrap_future(async move {
        if send.await.is_err() {
            tracing::error!("the {stage} stage is gone; a message was not handed on");
        }
    })))
}

/// The feature actor: windowed per-source features in event time.
pub struct FeatureActor {
    extractor: FeatureExtractor,
    downstream: Addr<PoolActor>,
    stats: PipelineStats,
}

impl Actor for FeatureActor {
    type Context = Context<Self>;
}

impl Handler<EventBatch> for FeatureActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, batch: EventBatch, _: &mut Context<Self>) -> Self::Result {
        let dim = self.extractor.dim();
        let mut features = vec![0.0; batch.events.len() * dim];
        let mut extracted = Vec::with_capacity(batch.events.len());
        let mut late = 0;
        for (event, row) in batch.events.iter().zip(features.chunks_exact_mut(dim)) {
            match self.extractor.extract(event, row) {
                Ok(x) => {
                    late += u64::from(x.late);
                    extracted.push(x);
                }
                Err(error) => {
                    // The row is sized from the schema, so this cannot happen; say so loudly if it does.
                    tracing::error!("feature extraction failed: {error}");
                    extracted.push(Extracted {
                        view: Default::default(),
                        window: Default::default(),
                        late: false,
                    });
                }
            }
        }
        {
            let mut c = self.stats.lock();
            c.counts.events_late += late;
            for event in &batch.events {
                *c.counts.by_sensor.entry(event.sensor.as_str()).or_default() += 1;
                if let Some(label) = &event.label {
                    if let Some(n) = c.counts.labels.get_mut(&label.class) {
                        *n += 1;
                    } else {
                        c.counts.labels.insert(label.class.clone(), 1);
                    }
                }
            }
            c.counts.sources_tracked = self.extractor.tracked_sources() as u64;
            c.counts.sources_evicted = self.extractor.evicted_sources();
        }
        let batch = FeatureBatch {
            events: batch.events,
            features,
            extracted,
            read_at: batch.read_at,
        };
        forward(&self.downstream, batch, "detector")
    }
}

impl Handler<SourceDone> for FeatureActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, done: SourceDone, _: &mut Context<Self>) -> Self::Result {
        forward(&self.downstream, done, "detector")
    }
}

/// The detector pool: for now the behaviour rules; learned models join it later.
pub struct PoolActor {
    rules: RuleSet,
    rule_names: Vec<&'static str>,
    downstream: Addr<AlertActor>,
    stats: PipelineStats,
    hits_scratch: Vec<RuleHit>,
}

impl Actor for PoolActor {
    type Context = Context<Self>;
}

impl Handler<FeatureBatch> for PoolActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, batch: FeatureBatch, _: &mut Context<Self>) -> Self::Result {
        let mut hits = Vec::new();
        for (index, x) in batch.extracted.iter().enumerate() {
            self.rules
                .observe(&x.view, &x.window, &mut self.hits_scratch);
            hits.extend(self.hits_scratch.drain(..).map(|hit| (index, hit)));
        }
        {
            let mut c = self.stats.lock();
            for name in &self.rule_names {
                let counts = c.counts.by_detector.entry((*name).to_string()).or_default();
                counts.events_scored += batch.events.len() as u64;
            }
        }
        let batch = ScoredBatch {
            events: batch.events,
            hits,
            read_at: batch.read_at,
        };
        forward(&self.downstream, batch, "alert")
    }
}

impl Handler<SourceDone> for PoolActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, done: SourceDone, _: &mut Context<Self>) -> Self::Result {
        forward(&self.downstream, done, "alert")
    }
}

/// Where alerts are written.
pub enum AlertSink {
    /// One JSON object per line to a writer (a file, or stderr).
    Ndjson(Box<dyn Write + Send>),
    /// One human-readable line per alert on stdout (`vigil demo`).
    Human,
    /// Nowhere (counted only).
    Discard,
}

/// The alert actor: severity, stable ids, outputs, counts.
pub struct AlertActor {
    severity: SeverityThresholds,
    encode: EncodeOptions,
    sink: AlertSink,
    stats: PipelineStats,
    sources_open: usize,
    done: Option<oneshot::Sender<()>>,
    line: Vec<u8>,
}

impl Actor for AlertActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.flush_sink();
    }
}

impl AlertActor {
    fn flush_sink(&mut self) {
        if let AlertSink::Ndjson(writer) = &mut self.sink
            && let Err(error) = writer.flush()
        {
            tracing::error!("cannot write alerts: {error}");
        }
    }

    fn emit(&mut self, alert: &Alert) {
        match &mut self.sink {
            AlertSink::Ndjson(writer) => {
                self.line.clear();
                match encode_json(alert, &self.encode, &mut self.line) {
                    Ok(()) => {
                        if let Err(error) = writer.write_all(&self.line) {
                            tracing::error!("cannot write alert {}: {error}", alert.id);
                        }
                    }
                    Err(error) => tracing::error!("cannot encode an alert: {error}"),
                }
            }
            AlertSink::Human => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(
                    stdout,
                    "{:<6} {} {:<13} {}  (score {:.3}, id {})",
                    alert.severity.as_str().to_uppercase(),
                    alert.event_time.format("%Y-%m-%d %H:%M:%S"),
                    alert.detector,
                    alert.explanation,
                    alert.score,
                    alert.id
                );
            }
            AlertSink::Discard => {}
        }
    }
}

impl Handler<ScoredBatch> for AlertActor {
    type Result = ();

    fn handle(&mut self, batch: ScoredBatch, _: &mut Context<Self>) {
        let mut alerted = vec![false; batch.events.len()];
        let mut per_detector: Vec<(&'static str, u64)> = Vec::new();
        let (mut red, mut orange) = (0, 0);
        for (index, hit) in &batch.hits {
            let severity = Severity::of(hit.strength, &self.severity);
            if severity == Severity::Green {
                continue;
            }
            let event = &batch.events[*index];
            let alert = match Alert::new(
                event,
                hit.rule,
                hit.strength,
                severity,
                hit.explanation.clone(),
            ) {
                Ok(alert) => alert,
                Err(error) => {
                    tracing::error!("rule {} raised no alert: {error}", hit.rule);
                    continue;
                }
            };
            self.emit(&alert);
            alerted[*index] = true;
            match severity {
                Severity::Red => red += 1,
                _ => orange += 1,
            }
            match per_detector.iter_mut().find(|(name, _)| *name == hit.rule) {
                Some((_, n)) => *n += 1,
                None => per_detector.push((hit.rule, 1)),
            }
        }
        if red + orange > 0 {
            self.flush_sink();
        }
        let now = Instant::now();
        let latency = now.saturating_duration_since(batch.read_at).as_micros();
        let latency = u64::try_from(latency).unwrap_or(u64::MAX).max(1);
        let n = batch.events.len() as u64;
        let mut c = self.stats.lock();
        c.counts.alerts.red += red;
        c.counts.alerts.orange += orange;
        c.counts.alerts.green += alerted.iter().filter(|a| !**a).count() as u64;
        for (name, alerts) in per_detector {
            let counts: &mut DetectorCounts =
                c.counts.by_detector.entry(name.to_string()).or_default();
            counts.alerts += alerts;
        }
        c.events_decided += n;
        c.last_decided = Some(now);
        let _ = c.latency_micros.record_n(latency, n);
    }
}

impl Handler<SourceDone> for AlertActor {
    type Result = ();

    fn handle(&mut self, done: SourceDone, _: &mut Context<Self>) {
        tracing::debug!(source = %done.source, "source drained");
        self.sources_open = self.sources_open.saturating_sub(1);
        if self.sources_open == 0 {
            self.flush_sink();
            if let Some(tx) = self.done.take() {
                let _ = tx.send(());
            }
        }
    }
}

/// A source to start: its settings and what it reads.
pub struct SourceSpec {
    /// Name, batching and pacing.
    pub settings: SourceSettings,
    /// What it reads.
    pub producer: Box<dyn Producer>,
}

/// A running pipeline.
pub struct Pipeline {
    /// Its counters.
    pub stats: PipelineStats,
    controls: Vec<Arc<SourceControl>>,
    done: Option<oneshot::Receiver<()>>,
    arbiters: Vec<Arbiter>,
}

/// Everything the stages need besides their sources.
pub struct StageSettings {
    /// Feature extractor (validated).
    pub extractor: FeatureExtractor,
    /// Behaviour rules (validated).
    pub rules: RuleSet,
    /// Severity thresholds.
    pub severity: SeverityConfig,
    /// Where alerts go.
    pub sink: AlertSink,
    /// Mailbox capacity of each stage, in batches.
    pub mailbox_batches: usize,
}

impl Pipeline {
    /// Starts every stage on its own arbiter and every source on its own. Must run inside
    /// an actix system.
    pub fn start(stages: StageSettings, sources: Vec<SourceSpec>) -> Pipeline {
        let stats = PipelineStats::new();
        let (tx, rx) = oneshot::channel();
        let capacity = stages.mailbox_batches;
        let mut arbiters = Vec::new();

        let alert_arbiter = Arbiter::new();
        let alert_stats = stats.clone();
        let sources_open = sources.len();
        let severity = SeverityThresholds::from(&stages.severity);
        let sink = stages.sink;
        let alerts = AlertActor::start_in_arbiter(&alert_arbiter.handle(), move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            AlertActor {
                severity,
                encode: EncodeOptions::default(),
                sink,
                stats: alert_stats,
                sources_open,
                done: Some(tx),
                line: Vec::with_capacity(1024),
            }
        });
        arbiters.push(alert_arbiter);

        let pool_arbiter = Arbiter::new();
        let pool_stats = stats.clone();
        let rules = stages.rules;
        let pool = PoolActor::start_in_arbiter(&pool_arbiter.handle(), move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            let rule_names = rules.names();
            PoolActor {
                rules,
                rule_names,
                downstream: alerts,
                stats: pool_stats,
                hits_scratch: Vec::new(),
            }
        });
        arbiters.push(pool_arbiter);

        let feature_arbiter = Arbiter::new();
        let feature_stats = stats.clone();
        let extractor = stages.extractor;
        let features = FeatureActor::start_in_arbiter(&feature_arbiter.handle(), move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            FeatureActor {
                extractor,
                downstream: pool,
                stats: feature_stats,
            }
        });
        arbiters.push(feature_arbiter);

        let mut controls = Vec::new();
        for spec in sources {
            let control = Arc::new(SourceControl::default());
            controls.push(control.clone());
            let arbiter = Arbiter::new();
            let downstream = features.clone();
            let source_stats = stats.clone();
            SourceActor::start_in_arbiter(&arbiter.handle(), move |_| SourceActor {
                settings: Some(spec.settings),
                producer: Some(spec.producer),
                downstream,
                control,
                stats: source_stats,
            });
            arbiters.push(arbiter);
        }
        Pipeline {
            stats,
            controls,
            done: Some(rx),
            arbiters,
        }
    }

    /// Stops intake: every source sends what it holds, then says it is done.
    pub fn stop_intake(&self) {
        for control in &self.controls {
            control.stop();
        }
    }

    /// A future that resolves once every source has finished and everything it sent has
    /// been decided. Call it once; later calls resolve at once.
    pub fn drained(&mut self) -> impl std::future::Future<Output = ()> + 'static {
        let rx = if self.controls.is_empty() {
            None
        } else {
            self.done.take()
        };
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
        }
    }

    /// Stops the stages' arbiters.
    pub fn shut_down(self) {
        for arbiter in self.arbiters {
            arbiter.stop();
        }
    }
}
