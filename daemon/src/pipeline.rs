//! The actor pipeline: sources → features → detector pool → alerts → store (outputs follow
//! its outbox, see [`crate::outputs`]).
//!
//! # Checkpoints
//! A checkpoint is taken at an event boundary without stopping the stream: the feature
//! stage, when one is due and every source's last batch ended where the source can resume,
//! attaches to its next batch the sources' resume positions, the sequence number of the last
//! event and its own windows; the detector stage adds its state after scoring that batch,
//! and the alert stage adds its cooldowns and commits the whole checkpoint in the same
//! transaction as the batch's alerts and drift events. Since every stage handles batches in
//! order, each part describes the same point of the stream.
//!
//! Each stage is an actix actor on its own arbiter (thread). Messages carry batches of up
//! to `pipeline.batch_max_events` events. Mailboxes are bounded (`pipeline.mailbox_batches`)
//! and every hand-off is `send().await`, so a full stage makes the one before it wait:
//! backpressure reaches the sources, and a file source simply reads more slowly. Nothing is
//! dropped. Each stage forwards inside an [`AtomicResponse`], so it handles one batch at a
//! time and batches stay in order end to end.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;
use vigil_features::{Extracted, FeatureExtractor};
use vigil_geoip::{Geo, GeoIp};
use vigil_sensors::Event;

use vigil_state::{AlertId, AlertUpdate, Checkpoint, Commit, NewAlert, NewDriftEvent, Store};

use crate::activity::{Activity, BatchActivity};
use crate::alert::{
    Aggregation, Alert, Cooldowns, EncodeOptions, Severity, SourceGeo, encode_json,
};
use crate::detect::{Detect, Detected, POOL_DETECTOR};
use crate::input::{Produced, Producer, Tally, encode_position};
use crate::metrics::{Metrics, Stage, StageQueue};
use crate::stats::{DetectorCounts, MAX_DRIFT_EVENTS_LISTED, PipelineStats};
use crate::suppress::AlertFilter;
use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};

mod analyst;
pub use analyst::{
    AnalystVerdict, DetectorStage, DetectorStatus, RecordVerdict, RecordedVerdict, RetrainModel,
    StageError,
};
mod reload;
pub use reload::{LiveStages, SetAlertPolicy, SetSeverity};

/// A batch of events from one source.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EventBatch {
    /// The source's name.
    pub source: Arc<str>,
    /// The events, in the order they were read.
    pub events: Vec<Event>,
    /// When the first of them was read (for latency).
    pub read_at: Instant,
    /// Where the source resumes after the last of them, when the batch ends where the
    /// source can resume (see [`encode_position`]).
    pub resume: Option<Vec<u8>>,
}

/// A source has sent its last batch.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct SourceDone {
    /// The source's name.
    pub source: Arc<str>,
    /// Where it would resume.
    pub resume: Option<Vec<u8>>,
}

/// A checkpoint on its way through the stages; each fills in its part.
#[derive(Debug, Default)]
pub struct CheckpointDraft {
    /// Sequence number of the last event covered (0: none).
    pub sequence: u64,
    /// Resume positions by source.
    pub sources: Vec<(String, Vec<u8>)>,
    /// The feature stage's windows.
    pub features: Vec<u8>,
    /// The detector stage's state.
    pub detect: Vec<u8>,
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
    /// Where each event's source address is (GeoIP), one per event; empty when enrichment
    /// is off.
    pub geo: Vec<Geo>,
    /// Sequence number of the first event.
    pub first_seq: u64,
    /// When the first event was read.
    pub read_at: Instant,
    /// A checkpoint after the last event, when one is due.
    pub checkpoint: Option<Box<CheckpointDraft>>,
}

/// Events with what the detectors found.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ScoredBatch {
    /// The events.
    pub events: Vec<Event>,
    /// What the detectors found.
    pub detected: Detected,
    /// Where each event's source address is, as the feature stage found it (empty: off).
    pub geo: Vec<Geo>,
    /// When the first event was read.
    pub read_at: Instant,
    /// A checkpoint after the last event, when one is due.
    pub checkpoint: Option<Box<CheckpointDraft>>,
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

/// Shared switches of one source (stop and pause) and what it has read so far.
#[derive(Debug, Default)]
pub struct SourceControl {
    stop: AtomicBool,
    paused: AtomicBool,
    finished: AtomicBool,
    records_read: AtomicU64,
    events_parsed: AtomicU64,
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

    /// Whether reading is paused.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Whether the source has stopped (end of input, or stop asked): everything it read is
    /// sent and its `SourceDone` is on its way downstream.
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// Records read by this source (events, rejected and skipped).
    pub fn records_read(&self) -> u64 {
        self.records_read.load(Ordering::Relaxed)
    }

    /// Records of this source that became events.
    pub fn events_parsed(&self) -> u64 {
        self.events_parsed.load(Ordering::Relaxed)
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
    /// Batches in flight to the feature stage.
    queue: StageQueue,
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
            self.queue.clone(),
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
    queue: StageQueue,
) {
    let started = Instant::now();
    let mut pacer = Pacer::new(settings.pacing);
    let paced = settings.pacing != Pacing::MaxSpeed;
    let chunk = if paced { 64 } else { settings.batch_max_events };
    let mut pending: Vec<Event> = Vec::with_capacity(chunk);
    let mut out: Vec<Event> = Vec::with_capacity(settings.batch_max_events);
    let mut batch_read_at: Option<Instant> = None;
    let mut out_resume = ResumeMark::default();
    let mut finished = false;
    let mut draining = false;
    let name = settings.name.clone();

    while !finished {
        if !draining
            && (control.stopping() || settings.run_for.is_some_and(|d| started.elapsed() >= d))
        {
            // What the producer took in and cannot read again is handed on first.
            if !producer.stop_intake() {
                break;
            }
            draining = true;
        }
        if control.paused.load(Ordering::SeqCst) && !draining {
            flush(
                &name,
                &downstream,
                &queue,
                &mut out,
                &mut batch_read_at,
                &mut out_resume,
            )
            .await;
            actix_rt::time::sleep(settings.poll_interval).await;
            continue;
        }
        let mut tally = Tally::default();
        let status = producer.produce(chunk, &mut pending, &mut tally);
        if !tally.is_empty() {
            control
                .records_read
                .fetch_add(tally.read, Ordering::Relaxed);
            control
                .events_parsed
                .fetch_add(tally.parsed, Ordering::Relaxed);
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
                    flush(
                        &name,
                        &downstream,
                        &queue,
                        &mut out,
                        &mut batch_read_at,
                        &mut out_resume,
                    )
                    .await;
                    actix_rt::time::sleep_until(due.into()).await;
                }
            }
            batch_read_at.get_or_insert_with(Instant::now);
            out_resume.pending = None;
            out.push(event);
            if out.len() >= settings.batch_max_events {
                flush(
                    &name,
                    &downstream,
                    &queue,
                    &mut out,
                    &mut batch_read_at,
                    &mut out_resume,
                )
                .await;
            }
        }
        // Every record produced so far is in `out` or sent: the producer's position is where
        // the source resumes after the last of them.
        out_resume.pending = producer.position().map(|p| encode_position(&p));
        if batch_read_at.is_some_and(|t| t.elapsed() >= settings.batch_max_wait) {
            flush(
                &name,
                &downstream,
                &queue,
                &mut out,
                &mut batch_read_at,
                &mut out_resume,
            )
            .await;
        }
        match status {
            Produced::More => {}
            Produced::Idle => {
                flush(
                    &name,
                    &downstream,
                    &queue,
                    &mut out,
                    &mut batch_read_at,
                    &mut out_resume,
                )
                .await;
                actix_rt::time::sleep(settings.poll_interval).await;
            }
            Produced::Finished => finished = true,
        }
    }
    flush(
        &name,
        &downstream,
        &queue,
        &mut out,
        &mut batch_read_at,
        &mut out_resume,
    )
    .await;
    producer.finish();
    let position = producer.position();
    if let Some(position) = &position {
        tracing::info!(source = %settings.name, input = %position.path, offset = position.offset, "source stopped");
    }
    // Marked before the hand-off: once the last `SourceDone` is taken the pipeline may stop
    // this source's arbiter before the send returns.
    control.finished.store(true, Ordering::SeqCst);
    let _ = downstream
        .send(SourceDone {
            source: settings.name.clone(),
            resume: position.map(|p| encode_position(&p)),
        })
        .await;
}

/// Where a source resumes: after the last event it handed on, when known.
#[derive(Default)]
struct ResumeMark {
    /// The position after the last event in the batch being filled (`None` while that batch
    /// ends in the middle of what the producer read).
    pending: Option<Vec<u8>>,
    /// The last position handed on.
    sent: Option<Vec<u8>>,
}

async fn flush(
    source: &Arc<str>,
    downstream: &Addr<FeatureActor>,
    queue: &StageQueue,
    out: &mut Vec<Event>,
    read_at: &mut Option<Instant>,
    resume: &mut ResumeMark,
) {
    if out.is_empty() {
        // Records read without events (rejected or skipped lines) still move the position:
        // hand it on by itself, so a checkpoint can cover them.
        if resume.pending.is_none() || resume.pending == resume.sent {
            return;
        }
    }
    let events = std::mem::take(out);
    let read_at = read_at.take().unwrap_or_else(Instant::now);
    let position = resume.pending.take();
    if position.is_some() {
        resume.sent.clone_from(&position);
    }
    let batch = EventBatch {
        source: source.clone(),
        events,
        read_at,
        resume: position,
    };
    queue.queued();
    if downstream.send(batch).await.is_err() {
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

/// When checkpoints are taken.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    /// Wall time between two checkpoints.
    pub every: Duration,
}

/// A source as the feature stage knows it: where it resumes after its last batch.
#[derive(Debug, Default)]
struct SourceMark {
    /// The last resume position seen.
    resume: Option<Vec<u8>>,
    /// Whether `resume` is after the last event handled (false after a batch that ended
    /// where the source cannot resume).
    exact: bool,
}

/// The feature actor: windowed per-source features in event time, sequence numbers, and
/// the start of every checkpoint.
pub struct FeatureActor {
    extractor: FeatureExtractor,
    geoip: Option<GeoIp>,
    geoip_errors: u64,
    downstream: Addr<PoolActor>,
    stats: PipelineStats,
    next_seq: u64,
    checkpoints: Option<CheckpointPolicy>,
    last_checkpoint: Instant,
    sources: std::collections::BTreeMap<Arc<str>, SourceMark>,
    sources_open: usize,
    /// Batches in flight to this stage, and to the next.
    queue_in: StageQueue,
    queue_out: StageQueue,
}

impl FeatureActor {
    /// Each event's source looked up once (private addresses are skipped by the lookup);
    /// empty when enrichment is off.
    fn locate(&mut self, events: &[Event]) -> Vec<Geo> {
        let Some(geoip) = self.geoip.as_mut() else {
            return Vec::new();
        };
        let mut geo = Vec::with_capacity(events.len());
        for event in events {
            let found = match event.src_ip.map(|ip| geoip.lookup(ip)) {
                Some(Ok(found)) => found,
                None => Geo::default(),
                Some(Err(error)) => {
                    self.geoip_errors += 1;
                    if self.geoip_errors.is_power_of_two() {
                        tracing::warn!(errors = self.geoip_errors, "{error}");
                    }
                    Geo::default()
                }
            };
            geo.push(found);
        }
        geo
    }

    fn note_resume(&mut self, source: &Arc<str>, resume: Option<Vec<u8>>) {
        let mark = self.sources.entry(source.clone()).or_default();
        match resume {
            Some(resume) => {
                mark.resume = Some(resume);
                mark.exact = true;
            }
            None => mark.exact = false,
        }
    }

    /// A checkpoint draft after the last event handled, if checkpoints are on and (unless
    /// `force`) one is due and every source can resume exactly there.
    fn checkpoint_draft(&mut self, force: bool) -> Option<Box<CheckpointDraft>> {
        let policy = self.checkpoints?;
        let due = force || self.last_checkpoint.elapsed() >= policy.every;
        // Every source that handed on events must be able to resume right after them;
        // otherwise a restart would read some of them again into state that holds them.
        if !due || !self.sources.values().all(|m| m.exact) {
            return None;
        }
        self.last_checkpoint = Instant::now();
        Some(Box::new(CheckpointDraft {
            sequence: self.next_seq - 1,
            sources: self
                .sources
                .iter()
                .filter_map(|(name, mark)| Some((name.to_string(), mark.resume.clone()?)))
                .collect(),
            features: self.extractor.snapshot(),
            detect: Vec::new(),
        }))
    }
}

impl Actor for FeatureActor {
    type Context = Context<Self>;
}

impl Handler<EventBatch> for FeatureActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, batch: EventBatch, _: &mut Context<Self>) -> Self::Result {
        self.queue_in.taken();
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
        let geo = self.locate(&batch.events);
        let first_seq = self.next_seq;
        self.next_seq += batch.events.len() as u64;
        self.note_resume(&batch.source, batch.resume);
        let checkpoint = self.checkpoint_draft(false);
        let batch = FeatureBatch {
            events: batch.events,
            features,
            extracted,
            geo,
            first_seq,
            read_at: batch.read_at,
            checkpoint,
        };
        self.queue_out.queued();
        forward(&self.downstream, batch, "detector")
    }
}

impl Handler<SourceDone> for FeatureActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, done: SourceDone, _: &mut Context<Self>) -> Self::Result {
        self.sources_open = self.sources_open.saturating_sub(1);
        if done.resume.is_some() {
            self.note_resume(&done.source, done.resume.clone());
        }
        // The last source to finish: a final checkpoint before the drain completes.
        let last = (self.sources_open == 0)
            .then(|| self.checkpoint_draft(true))
            .flatten();
        let downstream = self.downstream.clone();
        let queue = self.queue_out.clone();
        let sends = async move {
            if let Some(checkpoint) = last {
                let batch = FeatureBatch {
                    events: Vec::new(),
                    features: Vec::new(),
                    extracted: Vec::new(),
                    geo: Vec::new(),
                    first_seq: 0,
                    read_at: Instant::now(),
                    checkpoint: Some(checkpoint),
                };
                queue.queued();
                if downstream.send(batch).await.is_err() {
                    tracing::error!(
                        "the detector stage is gone; the final checkpoint was not taken"
                    );
                }
            }
            // Delivered even when this fails: once the last source's `SourceDone` reaches the
            // alert stage the pipeline is drained and may stop before the answer comes back.
            if downstream.send(done).await.is_err() {
                tracing::debug!("the pipeline stopped as the last source finished");
            }
        };
        AtomicResponse::new(Box::pin(actix::fut::wrap_future(sends)))
    }
}

/// The detector stage: the pool of learned models and the behaviour rules beside them
/// (see [`crate::detect`]), on its own arbiter.
pub struct PoolActor {
    detect: Detect,
    downstream: Addr<AlertActor>,
    stats: PipelineStats,
    metrics: Option<Metrics>,
    /// Batches in flight to this stage, and to the next.
    queue_in: StageQueue,
    queue_out: StageQueue,
}

impl Actor for PoolActor {
    type Context = Context<Self>;
}

impl Handler<FeatureBatch> for PoolActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, batch: FeatureBatch, _: &mut Context<Self>) -> Self::Result {
        self.queue_in.taken();
        let detected = self.detect.detect(
            &batch.events,
            &batch.features,
            &batch.extracted,
            batch.first_seq,
        );
        let mut checkpoint = batch.checkpoint;
        if let Some(draft) = checkpoint.as_mut() {
            draft.detect = self.detect.snapshot();
        }
        {
            let mut c = self.stats.lock();
            for name in self.detect.rule_names() {
                let counts = c.counts.by_detector.entry((*name).to_string()).or_default();
                counts.events_scored += detected.rules_scored;
            }
            if self.detect.has_pool() {
                let counts = c
                    .counts
                    .by_detector
                    .entry(POOL_DETECTOR.to_string())
                    .or_default();
                counts.events_scored += detected.pool_scored;
                for (plugin, scored) in &detected.plugins_scored {
                    let counts = c
                        .counts
                        .by_detector
                        .entry((*plugin).to_string())
                        .or_default();
                    counts.events_scored += scored;
                }
                c.counts.champion = self
                    .detect
                    .pool()
                    .and_then(|p| p.champion())
                    .map(|m| m.to_string());
            }
            c.counts.drift_events_total += detected.drift_events.len() as u64;
            let room = MAX_DRIFT_EVENTS_LISTED.saturating_sub(c.counts.drift_events.len());
            c.counts
                .drift_events
                .extend(detected.drift_events.iter().take(room).cloned());
        }
        for event in &detected.drift_events {
            tracing::info!(seq = event.seq, kind = ?event.kind, model = %event.model, "{}", event.reason);
        }
        if let Some(metrics) = &self.metrics {
            metrics.drift_decisions(&detected.drift_events);
        }
        let batch = ScoredBatch {
            events: batch.events,
            detected,
            geo: batch.geo,
            read_at: batch.read_at,
            checkpoint,
        };
        self.queue_out.queued();
        forward(&self.downstream, batch, "alert")
    }
}

impl Handler<SourceDone> for PoolActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, done: SourceDone, _: &mut Context<Self>) -> Self::Result {
        forward(&self.downstream, done, "alert")
    }
}

/// The alert actor: severity, stable ids, aggregation of repeats, the store, counts.
///
/// Each scored batch's new alerts and updated repeats go to the [`Store`] in one commit;
/// only what the store took is counted. Outputs follow the store's outbox on their own
/// threads, so they never slow this stage.
pub struct AlertActor {
    store: Store,
    cooldowns: Cooldowns,
    /// Every alert whose cooldown may still be open, by id, as last stored.
    open: HashMap<String, Alert>,
    /// Encoding of the stored form: credentials kept (outputs redact them).
    store_encoding: EncodeOptions,
    stats: PipelineStats,
    metrics: Option<Metrics>,
    /// Batches in flight to this stage.
    queue_in: StageQueue,
    sources_open: usize,
    done: Option<oneshot::Sender<()>>,
    /// The allowlist and suppressions: findings it covers raise no alert (counted).
    filter: Arc<AlertFilter>,
    /// Events, anomalies, scores and sources per minute of event time.
    activity: Arc<Activity>,
}

impl Actor for AlertActor {
    type Context = Context<Self>;
}

/// What one batch raised, before it is committed.
#[derive(Default)]
struct BatchAlerts {
    /// Ids of new alerts, in raise order.
    new: Vec<String>,
    /// Ids of stored alerts that took a repeat.
    updated: Vec<String>,
    /// Repeats folded into an open alert.
    aggregated: u64,
}

impl AlertActor {
    /// The open alert `id`, from memory or, after a restart, from the store.
    fn open_alert(&mut self, id: &str) -> Option<&mut Alert> {
        if !self.open.contains_key(id) {
            let stored_id: AlertId = id.parse().ok()?;
            let stored = self.store.get_alert(stored_id).ok()??;
            let alert: Alert = serde_json::from_slice(&stored.bytes).ok()?;
            self.open.insert(id.to_string(), alert);
        }
        self.open.get_mut(id)
    }

    fn raise(&mut self, alert: Alert, batch: &mut BatchAlerts) {
        let open_id = match self.cooldowns.offer(&alert) {
            Aggregation::New => None,
            Aggregation::Repeat { open_id } => Some(open_id.to_string()),
        };
        let Some(open_id) = open_id else {
            batch.new.push(alert.id.clone());
            self.open.insert(alert.id.clone(), alert);
            return;
        };
        let (time, score, severity) = (alert.event_time, alert.score, alert.severity);
        match self.open_alert(&open_id) {
            Some(open) => {
                if let Err(error) = open.record_repeat(time, score, severity) {
                    tracing::error!("repeat of alert {open_id} not counted: {error}");
                    return;
                }
                batch.aggregated += 1;
                if !batch.new.contains(&open_id) && !batch.updated.contains(&open_id) {
                    batch.updated.push(open_id);
                }
            }
            // Removed by retention: the repeat stands for itself.
            None => {
                batch.new.push(alert.id.clone());
                self.open.insert(alert.id.clone(), alert);
            }
        }
    }

    fn stored_form(&self, id: &str) -> Option<(AlertId, &Alert, Vec<u8>)> {
        let alert = self.open.get(id)?;
        let stored_id: AlertId = match id.parse() {
            Ok(stored_id) => stored_id,
            Err(error) => {
                tracing::error!("alert id {id} is not 16 hex digits: {error}");
                return None;
            }
        };
        let mut bytes = Vec::with_capacity(512);
        match encode_json(alert, &self.store_encoding, &mut bytes) {
            Ok(()) => Some((stored_id, alert, bytes)),
            Err(error) => {
                tracing::error!("cannot serialise alert {id}: {error}");
                None
            }
        }
    }

    /// The alert stage's part of a checkpoint: the cooldowns and the open alerts as they
    /// stand (a restart rewrites them, so repeats counted after the checkpoint and derived
    /// again are not counted twice).
    fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(ALERT_STAGE_TAG, ALERT_STAGE_VERSION);
        w.bytes(&self.cooldowns.snapshot());
        let open = self.cooldowns.open_alerts();
        w.u64(open.len() as u64);
        for entry in open {
            let bytes = self
                .open
                .get(entry.id.as_str())
                .and_then(|alert| serde_json::to_vec(alert).ok())
                .unwrap_or_default();
            w.bytes(&bytes);
        }
        w.finish()
    }

    /// Commits the batch's alerts, drift decisions and checkpoint in one transaction;
    /// returns the new alerts the store took.
    fn commit(
        &mut self,
        batch: &BatchAlerts,
        drift_events: &[NewDriftEvent],
        checkpoint: Option<&Checkpoint>,
    ) -> Vec<(Severity, String)> {
        let mut new_alerts = Vec::with_capacity(batch.new.len());
        let mut meta = HashMap::with_capacity(batch.new.len());
        for id in &batch.new {
            if let Some((stored_id, alert, bytes)) = self.stored_form(id) {
                meta.insert(stored_id, (alert.severity, alert.detector.clone()));
                new_alerts.push(NewAlert {
                    id: stored_id,
                    event_time_micros: alert.event_time.timestamp_micros(),
                    src_ip: alert.src_ip,
                    score: alert.score,
                    bytes,
                });
            }
        }
        let mut updates = Vec::with_capacity(batch.updated.len());
        for id in &batch.updated {
            if let Some((stored_id, alert, bytes)) = self.stored_form(id) {
                updates.push(AlertUpdate {
                    id: stored_id,
                    // The highest score over its repeats: the score index moves with it.
                    score: Some(alert.score),
                    bytes,
                });
            }
        }
        if new_alerts.is_empty()
            && updates.is_empty()
            && drift_events.is_empty()
            && checkpoint.is_none()
        {
            return Vec::new();
        }
        let commit = Commit {
            new_alerts: &new_alerts,
            alert_updates: &updates,
            drift_events,
            checkpoint,
        };
        match self.store.commit(&commit) {
            Ok(outcome) => {
                if !outcome.duplicates.is_empty() {
                    tracing::debug!(
                        duplicates = outcome.duplicates.len(),
                        "alerts already stored (events read again after a restart)"
                    );
                }
                outcome
                    .inserted
                    .iter()
                    .filter_map(|id| meta.remove(id))
                    .collect()
            }
            Err(error) => {
                tracing::error!(
                    "cannot store {} alerts, {} repeats, {} drift events{}: {error}",
                    new_alerts.len(),
                    updates.len(),
                    drift_events.len(),
                    if checkpoint.is_some() {
                        " and a checkpoint"
                    } else {
                        ""
                    }
                );
                Vec::new()
            }
        }
    }

    /// Forgets alerts whose cooldown has closed, keeping memory bounded.
    fn forget_closed(&mut self) {
        if self.open.len() <= 2 * self.cooldowns.len() + 1024 {
            return;
        }
        let still_open: std::collections::HashSet<&str> = self
            .cooldowns
            .open_alerts()
            .into_iter()
            .map(|open| open.id.as_str())
            .collect();
        self.open.retain(|id, _| still_open.contains(id.as_str()));
    }
}

impl Handler<ScoredBatch> for AlertActor {
    type Result = ();

    fn handle(&mut self, batch: ScoredBatch, _: &mut Context<Self>) {
        self.queue_in.taken();
        let mut alerted = vec![false; batch.events.len()];
        let mut raised = BatchAlerts::default();
        let filter = self.filter.clone();
        let mut screen = filter.screen();
        for finding in batch.detected.findings {
            let event = &batch.events[finding.index];
            if !screen.is_empty()
                && screen
                    .check(event.src_ip, finding.detector, event.event_time)
                    .is_some()
            {
                continue;
            }
            let alert = Alert::new(
                event,
                finding.detector,
                finding.score,
                finding.severity,
                finding.explanation,
            )
            .map(|alert| alert.with_seq(finding.seq))
            .and_then(|alert| {
                let alert = match finding.champion {
                    Some(champion) => alert.with_champion(champion),
                    None => alert,
                };
                alert.with_top_features(finding.top_features)
            })
            .and_then(|alert| match batch.geo.get(finding.index) {
                Some(geo) if !geo.is_empty() => alert.with_src_geo(source_geo(geo)),
                _ => Ok(alert),
            });
            let alert = match alert {
                Ok(alert) => alert,
                Err(error) => {
                    tracing::error!("{} raised no alert: {error}", finding.detector);
                    continue;
                }
            };
            alerted[finding.index] = true;
            self.raise(alert, &mut raised);
        }
        drop(screen);
        let mut activity = BatchActivity::default();
        for (index, event) in batch.events.iter().enumerate() {
            let score = batch.detected.scores.get(index).copied().flatten();
            activity.event(event.event_time, event.src_ip, score, alerted[index]);
        }
        self.activity.record(activity, chrono::Utc::now());
        let drift_events: Vec<NewDriftEvent> = batch
            .detected
            .drift_events
            .iter()
            .filter_map(|event| {
                Some(NewDriftEvent {
                    event_sequence: event.seq,
                    bytes: serde_json::to_vec(event).ok()?,
                })
            })
            .collect();
        let checkpoint = batch.checkpoint.map(|draft| Checkpoint {
            sequence: draft.sequence,
            sources: draft.sources,
            features: draft.features,
            pool: draft.detect,
            cooldowns: self.snapshot(),
            created_at_micros: chrono::Utc::now().timestamp_micros(),
        });
        let stored = self.commit(&raised, &drift_events, checkpoint.as_ref());
        self.forget_closed();
        if let Some(metrics) = &self.metrics {
            metrics.alerts_stored(stored.iter().map(|(s, d)| (*s, d.as_str())));
        }
        let (mut red, mut orange) = (0, 0);
        let mut per_detector: Vec<(String, u64)> = Vec::new();
        for (severity, detector) in stored {
            match severity {
                Severity::Red => red += 1,
                _ => orange += 1,
            }
            match per_detector.iter_mut().find(|(name, _)| *name == detector) {
                Some((_, n)) => *n += 1,
                None => per_detector.push((detector, 1)),
            }
        }
        let now = Instant::now();
        let latency = now.saturating_duration_since(batch.read_at).as_micros();
        let latency = u64::try_from(latency).unwrap_or(u64::MAX).max(1);
        if let Some(metrics) = &self.metrics {
            metrics.batch_decided(latency as f64 / 1e6, batch.events.len());
        }
        let n = batch.events.len() as u64;
        let mut c = self.stats.lock();
        c.counts.alerts.red += red;
        c.counts.alerts.orange += orange;
        c.counts.alerts.green += alerted.iter().filter(|a| !**a).count() as u64;
        c.counts.alerts_aggregated += raised.aggregated;
        for (name, alerts) in per_detector {
            let counts: &mut DetectorCounts = c.counts.by_detector.entry(name).or_default();
            counts.alerts += alerts;
        }
        c.events_decided += n;
        c.last_decided = Some(now);
        let _ = c.latency_micros.record_n(latency, n);
    }
}

/// An analyst's change to an alert: its workflow state, assignee or note (`None` leaves a
/// field as it is; an empty string clears assignee or note). The alert actor applies it, so
/// that it and the repeats the actor counts into open alerts never overwrite each other.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Option<Vec<u8>>, String>")]
pub struct EditAlert {
    /// The alert.
    pub id: AlertId,
    /// New workflow state.
    pub state: Option<crate::alert::AlertState>,
    /// New assignee.
    pub assignee: Option<String>,
    /// New note.
    pub note: Option<String>,
}

impl EditAlert {
    fn apply(&self, alert: &mut Alert) {
        if let Some(state) = self.state {
            alert.state = state;
        }
        if let Some(assignee) = &self.assignee {
            alert.assignee = (!assignee.is_empty()).then(|| assignee.clone());
        }
        if let Some(note) = &self.note {
            alert.note = (!note.is_empty()).then(|| note.clone());
        }
    }
}

impl Handler<EditAlert> for AlertActor {
    type Result = Result<Option<Vec<u8>>, String>;

    /// Applies the edit to the open copy (if the alert's cooldown is open) and to the stored
    /// alert; answers the stored bytes, or `None` for an alert the store does not hold.
    fn handle(&mut self, edit: EditAlert, _: &mut Context<Self>) -> Self::Result {
        let id = edit.id.to_string();
        let stored = self
            .store
            .get_alert(edit.id)
            .map_err(|e| format!("reading alert {id}: {e}"))?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let mut alert = match self.open.get(&id) {
            Some(open) => open.clone(),
            None => serde_json::from_slice(&stored.bytes)
                .map_err(|e| format!("stored alert {id} does not read back: {e}"))?,
        };
        edit.apply(&mut alert);
        let mut bytes = Vec::with_capacity(stored.bytes.len() + 64);
        encode_json(&alert, &self.store_encoding, &mut bytes)
            .map_err(|e| format!("cannot serialise alert {id}: {e}"))?;
        if !self
            .store
            .update_alert(edit.id, &bytes)
            .map_err(|e| format!("updating alert {id}: {e}"))?
        {
            return Ok(None);
        }
        if let Some(open) = self.open.get_mut(&id) {
            edit.apply(open);
        }
        Ok(Some(bytes))
    }
}

/// The alert's form of a GeoIP answer.
fn source_geo(geo: &Geo) -> SourceGeo {
    SourceGeo {
        country_iso_code: geo.country_iso.map(|code| Arc::from(code.as_str())),
        country_name: geo.country_name.clone(),
        latitude: geo.latitude,
        longitude: geo.longitude,
        asn: geo.asn,
        as_org: geo.as_org.clone(),
    }
}

impl Handler<SourceDone> for AlertActor {
    type Result = ();

    fn handle(&mut self, done: SourceDone, _: &mut Context<Self>) {
        tracing::debug!(source = %done.source, "source drained");
        self.sources_open = self.sources_open.saturating_sub(1);
        if self.sources_open == 0
            && let Some(tx) = self.done.take()
        {
            let _ = tx.send(());
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
    alerts: Addr<AlertActor>,
    pool: Addr<PoolActor>,
    controls: Vec<Arc<SourceControl>>,
    names: Vec<Arc<str>>,
    done: Option<oneshot::Receiver<()>>,
    arbiters: Vec<Arbiter>,
    filter: Arc<AlertFilter>,
    activity: Arc<Activity>,
    mailbox_batches: usize,
}

/// Everything the stages need besides their sources.
pub struct StageSettings {
    /// Feature extractor (validated, restored from a checkpoint when resuming).
    pub extractor: FeatureExtractor,
    /// GeoIP databases for the feature stage's lookups; `None`: enrichment off.
    pub geoip: Option<GeoIp>,
    /// The detector stage (restored from a checkpoint when resuming).
    pub detect: Detect,
    /// Where alerts are committed; outputs follow its outbox.
    pub store: Store,
    /// Alert aggregation (restored from a checkpoint when resuming).
    pub alert_state: AlertStage,
    /// Mailbox capacity of each stage, in batches.
    pub mailbox_batches: usize,
    /// Sequence number of the first event (1 on a fresh start).
    pub first_seq: u64,
    /// When checkpoints are taken; `None` takes none.
    pub checkpoints: Option<CheckpointPolicy>,
    /// Prometheus metrics fed by the stages, when wanted.
    pub metrics: Option<Metrics>,
}

const ALERT_STAGE_TAG: [u8; 4] = *b"VGAS";
const ALERT_STAGE_VERSION: u16 = 1;

/// The alert stage's state: the cooldowns and the alerts they hold open.
pub struct AlertStage {
    cooldowns: Cooldowns,
    open: HashMap<String, Alert>,
    filter: Arc<AlertFilter>,
}

impl AlertStage {
    /// Fresh: repeats within `cooldown_secs` of event time are aggregated.
    pub fn new(cooldown_secs: u64) -> AlertStage {
        AlertStage {
            cooldowns: Cooldowns::new(cooldown_secs),
            open: HashMap::new(),
            filter: Arc::default(),
        }
    }

    /// The same stage, dropping (and counting) the findings `filter` covers: the allowlist
    /// and the suppressions.
    pub fn with_filter(mut self, filter: Arc<AlertFilter>) -> AlertStage {
        self.filter = filter;
        self
    }

    /// The state of a checkpoint's `cooldowns` part.
    ///
    /// # Errors
    /// A message naming what could not be read.
    pub fn restore(bytes: &[u8]) -> Result<AlertStage, String> {
        let mut r = SnapshotReader::new("alert stage", bytes, ALERT_STAGE_TAG, ALERT_STAGE_VERSION)
            .map_err(|e| e.to_string())?;
        let cooldowns = Cooldowns::restore(r.bytes().map_err(|e| e.to_string())?)
            .map_err(|e| format!("cooldowns: {e}"))?;
        let count = r.u64().map_err(|e| e.to_string())?;
        let mut open = HashMap::new();
        for _ in 0..count {
            let bytes = r.bytes().map_err(|e| e.to_string())?;
            if bytes.is_empty() {
                continue;
            }
            let alert: Alert = serde_json::from_slice(bytes)
                .map_err(|e| format!("an open alert does not read back: {e}"))?;
            open.insert(alert.id.clone(), alert);
        }
        r.end().map_err(|e| e.to_string())?;
        Ok(AlertStage {
            cooldowns,
            open,
            filter: Arc::default(),
        })
    }

    /// Writes the open alerts back to `store` as the checkpoint has them, so that repeats
    /// derived again after it are counted once; an analyst's state, assignee and note on the
    /// stored alert are kept, in the store and in the open copy that later repeats update.
    /// Returns how many were rewritten.
    pub fn rewrite_open_alerts(&mut self, store: &Store) -> usize {
        let mut rewritten = 0;
        for (id, alert) in &mut self.open {
            let Ok(stored_id) = id.parse::<AlertId>() else {
                continue;
            };
            if let Ok(Some(stored)) = store.get_alert(stored_id)
                && let Ok(stored) = serde_json::from_slice::<Alert>(&stored.bytes)
            {
                alert.state = stored.state;
                alert.assignee = stored.assignee;
                alert.note = stored.note;
                alert.feedback = stored.feedback;
            }
            let Ok(bytes) = serde_json::to_vec(&*alert) else {
                continue;
            };
            // The score as the checkpoint had it: repeats counted after the checkpoint may
            // have raised the stored one, and they are counted again.
            let update = [AlertUpdate {
                id: stored_id,
                score: Some(alert.score),
                bytes,
            }];
            let commit = Commit {
                alert_updates: &update,
                ..Commit::default()
            };
            match store.commit(&commit) {
                Ok(outcome) if !outcome.updated.is_empty() => rewritten += 1,
                Ok(_) => {}
                Err(error) => tracing::error!("cannot rewrite open alert {id}: {error}"),
            }
        }
        rewritten
    }
}

impl Pipeline {
    /// Starts every stage on its own arbiter and every source on its own. Must run inside
    /// an actix system.
    pub fn start(stages: StageSettings, sources: Vec<SourceSpec>) -> Pipeline {
        let stats = PipelineStats::new();
        let (tx, rx) = oneshot::channel();
        let capacity = stages.mailbox_batches;
        let mut arbiters = Vec::new();
        let metrics = stages.metrics;
        let mut detect = stages.detect;
        if let Some(m) = &metrics {
            let mut detectors = detect.rule_names().to_vec();
            let model_kinds = detect
                .pool()
                .map(|pool| pool.config().models.clone())
                .unwrap_or_default();
            if detect.has_pool() {
                detectors.push(POOL_DETECTOR);
            }
            m.attach(&stats, &stages.store, &detectors, &model_kinds);
            let recorder =
                m.score_recorder_with_models(detect.rule_names(), detect.has_pool(), &model_kinds);
            detect.record_scores(recorder);
        }
        let queue = |stage| metrics.as_ref().map(|m| m.queue(stage)).unwrap_or_default();

        let alert_arbiter = Arbiter::new();
        let alert_stats = stats.clone();
        let sources_open = sources.len();
        let store = stages.store;
        let alert_state = stages.alert_state;
        let alert_metrics = metrics.clone();
        let alert_queue = queue(Stage::Alerts);
        let filter = alert_state.filter.clone();
        if let Some(m) = &metrics {
            m.attach_filter(filter.clone());
        }
        let activity = Arc::new(Activity::new());
        let alert_activity = activity.clone();
        let alerts = AlertActor::start_in_arbiter(&alert_arbiter.handle(), move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            AlertActor {
                store,
                cooldowns: alert_state.cooldowns,
                open: alert_state.open,
                store_encoding: EncodeOptions {
                    redact_credentials: false,
                    ..EncodeOptions::default()
                },
                stats: alert_stats,
                metrics: alert_metrics,
                queue_in: alert_queue,
                sources_open,
                done: Some(tx),
                filter: alert_state.filter,
                activity: alert_activity,
            }
        });
        let alert_editor = alerts.clone();
        arbiters.push(alert_arbiter);

        let pool_arbiter = Arbiter::new();
        let pool_stats = stats.clone();
        let pool_metrics = metrics.clone();
        let (pool_queue_in, pool_queue_out) = (queue(Stage::Detector), queue(Stage::Alerts));
        let pool = PoolActor::start_in_arbiter(&pool_arbiter.handle(), move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            PoolActor {
                detect,
                downstream: alerts,
                stats: pool_stats,
                metrics: pool_metrics,
                queue_in: pool_queue_in,
                queue_out: pool_queue_out,
            }
        });
        let pool_handle = pool.clone();
        arbiters.push(pool_arbiter);

        let feature_arbiter = Arbiter::new();
        let feature_stats = stats.clone();
        let extractor = stages.extractor;
        let geoip = stages.geoip;
        let first_seq = stages.first_seq.max(1);
        let checkpoints = stages.checkpoints;
        let (feature_queue_in, feature_queue_out) =
            (queue(Stage::Features), queue(Stage::Detector));
        let features = FeatureActor::start_in_arbiter(&feature_arbiter.handle(), move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            FeatureActor {
                extractor,
                geoip,
                geoip_errors: 0,
                downstream: pool,
                stats: feature_stats,
                next_seq: first_seq,
                checkpoints,
                last_checkpoint: Instant::now(),
                sources: Default::default(),
                sources_open,
                queue_in: feature_queue_in,
                queue_out: feature_queue_out,
            }
        });
        arbiters.push(feature_arbiter);

        let mut controls = Vec::new();
        let mut names = Vec::new();
        for spec in sources {
            let control = Arc::new(SourceControl::default());
            controls.push(control.clone());
            names.push(spec.settings.name.clone());
            let arbiter = Arbiter::new();
            let downstream = features.clone();
            let source_stats = stats.clone();
            let source_queue = queue(Stage::Features);
            SourceActor::start_in_arbiter(&arbiter.handle(), move |_| SourceActor {
                settings: Some(spec.settings),
                producer: Some(spec.producer),
                downstream,
                control,
                stats: source_stats,
                queue: source_queue,
            });
            arbiters.push(arbiter);
        }
        Pipeline {
            stats,
            alerts: alert_editor,
            pool: pool_handle,
            controls,
            names,
            done: Some(rx),
            arbiters,
            filter,
            activity,
            mailbox_batches: capacity,
        }
    }

    /// The allowlist and suppressions the alert stage applies (the API changes them).
    pub fn alert_filter(&self) -> Arc<AlertFilter> {
        self.filter.clone()
    }

    /// Events, anomalies, scores and sources per minute of event time.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// Each stage's mailbox capacity, in batches (`pipeline.mailbox_batches`).
    pub fn mailbox_batches(&self) -> usize {
        self.mailbox_batches
    }

    /// Every source's name and control, in start order.
    pub fn sources(&self) -> Vec<(Arc<str>, Arc<SourceControl>)> {
        self.names
            .iter()
            .cloned()
            .zip(self.controls.iter().cloned())
            .collect()
    }

    /// Where an analyst's edits of alerts go (see [`EditAlert`]).
    pub fn alert_editor(&self) -> Recipient<EditAlert> {
        self.alerts.clone().recipient()
    }

    /// Where analyst verdicts, retrain requests and detector status requests go (see
    /// [`DetectorStage`]).
    pub fn detector_stage(&self) -> DetectorStage {
        DetectorStage::new(self.alerts.clone(), self.pool.clone())
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
