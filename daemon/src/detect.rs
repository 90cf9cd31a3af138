//! The detector stage's decision work, apart from actix: the pool of learned models and the
//! behaviour rules side by side, the alert decision per event, label feedback, background
//! fits, explanations and the stage's checkpoint.
//!
//! Per event, in stream order: the rules observe it; the pool scores it (waiting for a
//! background fit that is due); the alert decision is taken on the highest severity among
//! the pool's calibrated score and the rules' strengths; labels due are revealed as feedback;
//! the pool learns the event with that decision. So the pool's references and its baseline's
//! training window only take events that were not alerted on, whoever raised the alert.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc;

use serde::Serialize;

use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};
use vigil_detectors::rules::{RuleHit, RuleSet};
use vigil_features::Extracted;
use vigil_pool::{
    DriftEvent, FeedbackOutcome, FitDone, FitJob, LabelFeedback, LabelFeedbackConfig, ModelKind,
    Pool, PoolConfig, PoolError, PoolStatus, RetrainRequest,
};
use vigil_sensors::Event;

use crate::alert::{FeatureContribution, Severity, SeverityThresholds, feature_explanation};
use crate::metrics::ScoreRecorder;

/// The name alerts of the learned models carry as their detector; the champion that scored
/// the event is named beside it.
pub const POOL_DETECTOR: &str = "pool";

const STAGE_TAG: [u8; 4] = *b"VGDS";
/// Version 2 added the analyst verdicts' ledger; version 1 is still read (without it).
const STAGE_VERSION: u16 = 2;

/// Events whose detector findings are remembered for analyst verdicts when the pool does not
/// run (with the pool: its `feedback_window_events`).
const VERDICT_WINDOW_EVENTS: usize = 10_000;

/// Smallest spread a feature's deviation is measured in, so that a feature that never moved
/// in normal traffic gives a large but finite deviation.
const MIN_SPREAD: f64 = 1e-3;

/// What the detector stage found on one event that is worth an alert (RED or ORANGE).
#[derive(Debug, Clone)]
pub struct Finding {
    /// Index of the event in its batch.
    pub index: usize,
    /// Sequence number of the event.
    pub seq: u64,
    /// The rule or [`POOL_DETECTOR`].
    pub detector: &'static str,
    /// Calibrated score or rule strength, in [0, 1].
    pub score: f64,
    /// RED or ORANGE.
    pub severity: Severity,
    /// The sentence that says why.
    pub explanation: String,
    /// The model leading the pool when the event was scored.
    pub champion: Option<String>,
    /// For the pool: the features furthest from normal.
    pub top_features: Vec<FeatureContribution>,
}

/// What the detector stage did to one batch.
#[derive(Debug, Default)]
pub struct Detected {
    /// Findings, in event order.
    pub findings: Vec<Finding>,
    /// Drift decisions taken while scoring the batch.
    pub drift_events: Vec<DriftEvent>,
    /// Events the pool scored.
    pub pool_scored: u64,
    /// Events scored with every rule.
    pub rules_scored: u64,
    /// The pool's calibrated score of each event, in event order (`None`: not scored).
    pub scores: Vec<Option<f64>>,
    /// Events each plugin model of the pool scored (`plugin:<name>`), for the plugins that
    /// scored any.
    pub plugins_scored: Vec<(&'static str, u64)>,
}

/// Settings of the detector stage.
pub struct DetectSettings {
    /// Number of features per event.
    pub dim: usize,
    /// Names of the features, in schema order.
    pub feature_names: Arc<[String]>,
    /// The pool's configuration, or `None` to run the rules alone.
    pub pool: Option<PoolConfig>,
    /// Labels standing in for feedback, if any.
    pub label_feedback: Option<LabelFeedbackConfig>,
    /// The behaviour rules.
    pub rules: RuleSet,
    /// Severity thresholds.
    pub severity: SeverityThresholds,
    /// Features named in an explanation.
    pub explain_top_features: usize,
    /// Every event's pool score goes here as NDJSON, when set.
    pub score_log: Option<Box<dyn Write + Send>>,
}

/// A background fit worker: a thread that runs fits in the order they were handed out.
struct FitWorker {
    jobs: Option<mpsc::Sender<FitJob>>,
    results: mpsc::Receiver<FitDone>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FitWorker {
    fn start() -> std::io::Result<FitWorker> {
        let (job_tx, job_rx) = mpsc::channel::<FitJob>();
        let (done_tx, done_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("vigil-fit".into())
            .spawn(move || {
                for job in job_rx {
                    let started = std::time::Instant::now();
                    let done = job.run();
                    tracing::debug!(
                        job = job.id(),
                        model = %job.model(),
                        purpose = ?job.purpose(),
                        rows = job.rows(),
                        due_seq = job.due_seq(),
                        millis = started.elapsed().as_millis() as u64,
                        "background fit finished"
                    );
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            })?;
        Ok(FitWorker {
            jobs: Some(job_tx),
            results: done_rx,
            thread: Some(thread),
        })
    }
}

impl Drop for FitWorker {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Running mean and spread of each feature over events that were not alerted on: what
/// "normal" means in an explanation.
#[derive(Debug, Clone, PartialEq)]
struct NormalStats {
    count: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl NormalStats {
    fn new(dim: usize) -> NormalStats {
        NormalStats {
            count: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    fn add(&mut self, x: &[f64]) {
        self.count += 1;
        let n = self.count as f64;
        for ((mean, m2), &v) in self.mean.iter_mut().zip(&mut self.m2).zip(x) {
            let delta = v - *mean;
            *mean += delta / n;
            *m2 += delta * (v - *mean);
        }
    }

    /// The `k` features of `x` furthest from normal, most deviant first.
    fn top(&self, x: &[f64], names: &[String], k: usize) -> Vec<FeatureContribution> {
        if k == 0 || self.count < 2 {
            return Vec::new();
        }
        let n = self.count as f64;
        let mut deviations: Vec<(usize, f64)> = x
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                let spread = (self.m2[j] / (n - 1.0)).max(0.0).sqrt().max(MIN_SPREAD);
                (j, (v - self.mean[j]) / spread)
            })
            .filter(|(_, d)| d.is_finite() && d.abs() >= 1.0)
            .collect();
        deviations.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        deviations
            .into_iter()
            .take(k)
            .filter_map(|(j, d)| {
                let name = names
                    .get(j)
                    .cloned()
                    .unwrap_or_else(|| format!("feature_{j}"));
                FeatureContribution::new(name, x[j], d).ok()
            })
            .collect()
    }

    fn write(&self, w: &mut SnapshotWriter) {
        w.u64(self.count);
        w.f64s(&self.mean);
        w.f64s(&self.m2);
    }

    fn read(r: &mut SnapshotReader<'_>, dim: usize) -> Result<NormalStats, DetectError> {
        let count = r.u64()?;
        let mean = r.f64s()?;
        let m2 = r.f64s()?;
        if mean.len() != dim || m2.len() != dim {
            return Err(DetectError::Restore(format!(
                "normal statistics hold {} features, the schema has {dim}",
                mean.len()
            )));
        }
        Ok(NormalStats { count, mean, m2 })
    }
}

/// The detector stage could not start, restore or score.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The pool refused its configuration or an event.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A snapshot could not be read.
    #[error("detector stage checkpoint: {0}")]
    Restore(String),
    /// The fit worker thread could not start.
    #[error("cannot start the background fit thread: {0}")]
    FitThread(#[from] std::io::Error),
}

impl From<vigil_detectors::DetectorError> for DetectError {
    fn from(error: vigil_detectors::DetectorError) -> DetectError {
        DetectError::Restore(error.to_string())
    }
}

/// The detector stage's state: pool, rules, feedback, explanation statistics.
pub struct Detect {
    dim: usize,
    feature_names: Arc<[String]>,
    pool: Option<Pool>,
    fits: Option<FitWorker>,
    feedback: Option<LabelFeedback>,
    rules: RuleSet,
    rule_names: Vec<&'static str>,
    severity: SeverityThresholds,
    top_k: usize,
    normal: NormalStats,
    score_log: Option<Box<dyn Write + Send>>,
    hits: Vec<RuleHit>,
    released: Vec<(u64, bool)>,
    /// Events the pool could not score (an error other than waiting for a fit), logged once.
    pool_failures: u64,
    /// Score distributions for the metrics, when they are kept.
    scores: Option<ScoreRecorder>,
    /// Which detectors fired on recent events, and the analyst verdicts counted on them.
    verdicts: VerdictLedger,
    /// The rules' thresholds, for the detectors view.
    rule_views: Vec<RuleView>,
}

impl Detect {
    /// The stage, fresh.
    ///
    /// # Errors
    /// A pool configuration that does not fit `dim`, or a fit thread that cannot start.
    pub fn new(settings: DetectSettings) -> Result<Detect, DetectError> {
        let pool = match &settings.pool {
            Some(config) => Some(Pool::new(settings.dim, config.clone())?),
            None => None,
        };
        let fits = if pool.is_some() {
            Some(FitWorker::start()?)
        } else {
            None
        };
        let feedback = match (&pool, settings.label_feedback) {
            (Some(_), Some(config)) => Some(LabelFeedback::new(config)?),
            _ => None,
        };
        let rule_names = settings.rules.names();
        let window = settings
            .pool
            .as_ref()
            .map_or(VERDICT_WINDOW_EVENTS, |config| {
                config.feedback_window_events
            });
        let verdicts = VerdictLedger::new(window, rule_names.len() + 1);
        Ok(Detect {
            dim: settings.dim,
            feature_names: settings.feature_names,
            pool,
            fits,
            feedback,
            rules: settings.rules,
            rule_names,
            severity: settings.severity,
            top_k: settings.explain_top_features,
            normal: NormalStats::new(settings.dim),
            score_log: settings.score_log,
            hits: Vec::new(),
            released: Vec::new(),
            pool_failures: 0,
            scores: None,
            verdicts,
            rule_views: Vec::new(),
        })
    }

    /// Records every pool score and rule hit into `recorder`, merged once per batch.
    pub fn record_scores(&mut self, recorder: ScoreRecorder) {
        self.scores = Some(recorder);
    }

    /// Names of the behaviour rules that run.
    pub fn rule_names(&self) -> &[&'static str] {
        &self.rule_names
    }

    /// Whether the learned models run.
    pub fn has_pool(&self) -> bool {
        self.pool.is_some()
    }

    /// The pool, for status.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }

    /// Installs fits that have finished.
    fn install_finished(&mut self) {
        let (Some(pool), Some(fits)) = (self.pool.as_mut(), self.fits.as_ref()) else {
            return;
        };
        while let Ok(done) = fits.results.try_recv() {
            if let Err(error) = pool.install(done) {
                tracing::error!("a background fit could not be installed: {error}");
            }
        }
    }

    /// Hands new fits to the worker.
    fn hand_out_fits(&mut self) {
        let (Some(pool), Some(fits)) = (self.pool.as_mut(), self.fits.as_ref()) else {
            return;
        };
        while let Some(job) = pool.fit_job() {
            tracing::debug!(job = job.id(), model = %job.model(), purpose = ?job.purpose(), rows = job.rows(), due_seq = job.due_seq(), "background fit started");
            let sent = fits.jobs.as_ref().is_some_and(|tx| tx.send(job).is_ok());
            if !sent {
                tracing::error!("the background fit thread is gone");
            }
        }
    }

    /// Scores `x` with the pool, waiting for a due fit when there is one.
    fn pool_score(
        &mut self,
        x: &[f64],
        seq: u64,
        event_time_micros: i64,
    ) -> Option<vigil_pool::PoolScore> {
        let pool = self.pool.as_mut()?;
        loop {
            match pool.score_timed(x, seq, event_time_micros) {
                Ok(score) => return Some(score),
                Err(PoolError::WaitingForFit { job, due_seq, .. }) => {
                    let fits = self.fits.as_ref()?;
                    tracing::debug!(job, due_seq, "intake waits for a background fit");
                    match fits.results.recv() {
                        Ok(done) => {
                            if let Err(error) = pool.install(done) {
                                tracing::error!("a background fit could not be installed: {error}");
                            }
                        }
                        Err(_) => {
                            tracing::error!(
                                "the background fit thread is gone; the pool stops scoring"
                            );
                            self.pool = None;
                            return None;
                        }
                    }
                }
                Err(error) => {
                    self.pool_failures += 1;
                    if self.pool_failures <= 10 {
                        tracing::error!("the pool could not score event {seq}: {error}");
                    }
                    return None;
                }
            }
        }
    }

    /// Scores a batch whose first event has sequence number `first_seq`: rules, pool,
    /// alert decision, feedback, learning.
    pub fn detect(
        &mut self,
        events: &[Event],
        features: &[f64],
        extracted: &[Extracted],
        first_seq: u64,
    ) -> Detected {
        let mut out = Detected {
            scores: vec![None; events.len()],
            ..Detected::default()
        };
        let dim = self.dim;
        for (index, ((event, x), facts)) in events
            .iter()
            .zip(features.chunks_exact(dim))
            .zip(extracted)
            .enumerate()
        {
            let seq = first_seq + index as u64;
            self.install_finished();
            let mut alerted = false;
            let mut fired = 0u32;
            self.rules
                .observe(&facts.view, &facts.window, &mut self.hits);
            for hit in self.hits.drain(..) {
                if let Some(scores) = &self.scores {
                    scores.rule(hit.rule, hit.strength);
                }
                let severity = Severity::of(hit.strength, &self.severity);
                if severity == Severity::Green {
                    continue;
                }
                alerted = true;
                if let Some(bit) = self.rule_names.iter().position(|name| *name == hit.rule) {
                    fired |= 1 << bit;
                }
                out.findings.push(Finding {
                    index,
                    seq,
                    detector: hit.rule,
                    score: hit.strength,
                    severity,
                    explanation: hit.explanation,
                    champion: None,
                    top_features: Vec::new(),
                });
            }
            out.rules_scored += 1;
            let Some(score) = self.pool_score(x, seq, event.event_time.timestamp_micros()) else {
                if !alerted {
                    self.normal.add(x);
                }
                self.verdicts.push(seq, fired);
                continue;
            };
            out.pool_scored += 1;
            out.scores[index] = Some(score.calibrated);
            if let Some(scores) = &self.scores {
                scores.pool(&score);
            }
            for model in score.models() {
                if model.model.kind.plugin().is_none() {
                    continue;
                }
                let name = model.model.kind.name();
                match out.plugins_scored.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, n)) => *n += 1,
                    None => out.plugins_scored.push((name, 1)),
                }
            }
            let severity = Severity::of(score.calibrated, &self.severity);
            let champion = score.champion.map(|c| c.to_string());
            if severity != Severity::Green {
                alerted = true;
                fired |= self.pool_bit();
                let top_features = self.normal.top(x, &self.feature_names, self.top_k);
                let model = champion.as_deref().unwrap_or("no model");
                let explanation = format!(
                    "{model} scored it above {:.1} % of normal traffic; {}",
                    score.calibrated * 100.0,
                    feature_explanation(&top_features)
                );
                out.findings.push(Finding {
                    index,
                    seq,
                    detector: POOL_DETECTOR,
                    score: score.calibrated,
                    severity,
                    explanation,
                    champion: champion.clone(),
                    top_features,
                });
            }
            if let Some(log) = self.score_log.as_mut() {
                let line = serde_json::json!({
                    "seq": seq,
                    "source": event.origin.source,
                    "offset": event.origin.offset,
                    "round": event.origin.round,
                    "score": score.calibrated,
                    "champion": champion,
                    "models": score.models().collect::<Vec<_>>(),
                    "label": event.label.as_ref().map(|l| &l.class),
                });
                let _ = writeln!(log, "{line}");
            }
            if let (Some(feedback), Some(label)) = (self.feedback.as_mut(), &event.label) {
                feedback.release(seq, label.anomalous, &mut self.released);
            }
            if let Some(pool) = self.pool.as_mut() {
                for (labelled, anomalous) in self.released.drain(..) {
                    if let Err(error) = pool.feedback(labelled, anomalous) {
                        tracing::warn!("label feedback on event {labelled} refused: {error}");
                    }
                }
                if let Err(error) = pool.learn(x, alerted) {
                    tracing::error!("the pool could not learn event {seq}: {error}");
                }
            }
            if !alerted {
                self.normal.add(x);
            }
            self.verdicts.push(seq, fired);
            self.hand_out_fits();
        }
        if let Some(pool) = self.pool.as_mut() {
            out.drift_events = pool.drain_events();
        }
        if let Some(log) = self.score_log.as_mut() {
            let _ = log.flush();
        }
        if let Some(scores) = &self.scores {
            scores.flush();
            if let Some(pool) = &self.pool {
                scores.plugins(&pool.plugin_status());
            }
        }
        out
    }

    /// The stage's state: pool, rules, feedback and explanation statistics.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(STAGE_TAG, STAGE_VERSION);
        w.u64(self.dim as u64);
        w.bytes(&self.rules.snapshot());
        match &self.pool {
            Some(pool) => {
                w.u64(1);
                w.bytes(&pool.snapshot());
            }
            None => w.u64(0),
        }
        match &self.feedback {
            Some(feedback) => {
                w.u64(1);
                w.bytes(&feedback.snapshot());
            }
            None => w.u64(0),
        }
        self.normal.write(&mut w);
        self.verdicts.write(&mut w);
        w.finish()
    }

    /// Restores a [`snapshot`](Self::snapshot) taken under the same configuration.
    ///
    /// # Errors
    /// [`DetectError::Restore`] naming what does not match. The stage may then be half
    /// restored: drop it and build a fresh one.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectError> {
        // Version 1 (before the verdicts' ledger) is read too; its ledger starts empty.
        let version = match bytes.get(4..6) {
            Some([lo, hi]) if u16::from_le_bytes([*lo, *hi]) == 1 => 1,
            _ => STAGE_VERSION,
        };
        let mut r = SnapshotReader::new("detector stage", bytes, STAGE_TAG, version)?;
        let dim = r.u64()?;
        if dim != self.dim as u64 {
            return Err(DetectError::Restore(format!(
                "taken over {dim} features, the schema now has {}",
                self.dim
            )));
        }
        self.rules
            .restore(r.bytes()?)
            .map_err(|e| DetectError::Restore(format!("behaviour rules: {e}")))?;
        let has_pool = r.u64()? == 1;
        if has_pool != self.pool.is_some() {
            return Err(DetectError::Restore(format!(
                "taken with the learned models {}, they are now {}",
                if has_pool { "on" } else { "off" },
                if self.pool.is_some() { "on" } else { "off" }
            )));
        }
        if has_pool {
            let bytes = r.bytes()?;
            if let Some(pool) = self.pool.as_mut() {
                pool.restore(bytes)?;
            }
        }
        let has_feedback = r.u64()? == 1;
        if has_feedback {
            let bytes = r.bytes()?;
            if let Some(feedback) = self.feedback.as_mut() {
                feedback.restore(bytes)?;
            }
        }
        self.normal = NormalStats::read(&mut r, self.dim)?;
        if version >= 2 {
            self.verdicts.read(&mut r)?;
        }
        r.end()?;
        // Fits that were pending at the checkpoint are handed out again.
        self.hand_out_fits();
        Ok(())
    }
}

/// An analyst's verdict, as the detector stage took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictTaken {
    /// Whether it entered the detectors' precision and recall: `applied`; `duplicate` when
    /// the event already had a verdict (the first stands); `out_of_window` when the event is
    /// older than the events the stage remembers.
    pub counted: FeedbackOutcome,
    /// For an alert of the learned models, what the pool did with it (`None` for a rule's
    /// alert, which only counts).
    pub pool: Option<FeedbackOutcome>,
}

/// Analyst verdicts on events one detector fired on or not, as confusion counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    /// Verdicts "attack" on events it fired on.
    pub true_positives: u64,
    /// Verdicts "normal" on events it fired on.
    pub false_positives: u64,
    /// Verdicts "attack" on events it did not fire on (another detector's alert).
    pub false_negatives: u64,
    /// Verdicts "normal" on events it did not fire on (another detector's false alarm).
    pub true_negatives: u64,
}

impl VerdictCounts {
    /// TP / (TP + FP), when it fired on a judged event.
    pub fn precision(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// TP / (TP + FN), when a judged event was an attack.
    pub fn recall(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of precision and recall, when both are known (0 when both are 0).
    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        Some(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        })
    }

    fn as_array(&self) -> [u64; 4] {
        [
            self.true_positives,
            self.false_positives,
            self.false_negatives,
            self.true_negatives,
        ]
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Which detectors fired on each recent event (a bit per rule, in running order, and one for
/// the pool after them), whether the event has an analyst verdict yet, and the verdicts'
/// confusion counts per detector. Kept in the stage's checkpoint.
#[derive(Debug, Clone, PartialEq)]
struct VerdictLedger {
    capacity: usize,
    /// `(seq, fired bits, judged)`, oldest first; sequence numbers increase.
    recent: VecDeque<(u64, u32, bool)>,
    counts: Vec<VerdictCounts>,
}

impl VerdictLedger {
    fn new(capacity: usize, detectors: usize) -> VerdictLedger {
        VerdictLedger {
            capacity: capacity.max(1),
            recent: VecDeque::new(),
            counts: vec![VerdictCounts::default(); detectors],
        }
    }

    fn push(&mut self, seq: u64, fired: u32) {
        if self.recent.len() >= self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, fired, false));
    }

    /// Counts a verdict on event `seq` for every detector, once per event.
    fn judge(&mut self, seq: u64, anomalous: bool) -> FeedbackOutcome {
        let Ok(i) = self.recent.binary_search_by_key(&seq, |entry| entry.0) else {
            return FeedbackOutcome::OutOfWindow;
        };
        let (_, fired, judged) = &mut self.recent[i];
        if *judged {
            return FeedbackOutcome::Duplicate;
        }
        *judged = true;
        let fired = *fired;
        for (bit, counts) in self.counts.iter_mut().enumerate() {
            let hit = fired & (1 << bit) != 0;
            match (hit, anomalous) {
                (true, true) => counts.true_positives += 1,
                (true, false) => counts.false_positives += 1,
                (false, true) => counts.false_negatives += 1,
                (false, false) => counts.true_negatives += 1,
            }
        }
        FeedbackOutcome::Applied
    }

    fn write(&self, w: &mut SnapshotWriter) {
        let counts: Vec<u64> = self.counts.iter().flat_map(|c| c.as_array()).collect();
        w.u64s(&counts);
        let seqs: Vec<u64> = self.recent.iter().map(|e| e.0).collect();
        let marks: Vec<u64> = self
            .recent
            .iter()
            .map(|&(_, fired, judged)| u64::from(fired) | (u64::from(judged) << 32))
            .collect();
        w.u64s(&seqs);
        w.u64s(&marks);
    }

    fn read(&mut self, r: &mut SnapshotReader<'_>) -> Result<(), DetectError> {
        let counts = r.u64s()?;
        if counts.len() != 4 * self.counts.len() {
            return Err(DetectError::Restore(format!(
                "verdict counts for {} detectors, {} run now",
                counts.len() / 4,
                self.counts.len()
            )));
        }
        let seqs = r.u64s()?;
        let marks = r.u64s()?;
        if seqs.len() != marks.len() || seqs.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DetectError::Restore(
                "the verdicts' ledger is not in event order".to_string(),
            ));
        }
        self.counts = counts
            .chunks_exact(4)
            .map(|c| VerdictCounts {
                true_positives: c[0],
                false_positives: c[1],
                false_negatives: c[2],
                true_negatives: c[3],
            })
            .collect();
        let skip = seqs.len().saturating_sub(self.capacity);
        self.recent = seqs
            .into_iter()
            .zip(marks)
            .skip(skip)
            .map(|(seq, mark)| (seq, mark as u32, mark >> 32 != 0))
            .collect();
        Ok(())
    }
}

/// One behaviour rule in the detectors view: its name and thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleView {
    /// The rule (`brute_force`, `port_scan`, `traffic_spike`).
    pub name: &'static str,
    /// Whether it runs.
    pub enabled: bool,
    /// Its thresholds, by configuration key (`min_failed_logins`...).
    pub thresholds: BTreeMap<&'static str, f64>,
    /// The feature window it counts in, in seconds of event time.
    pub window_secs: u64,
}

impl RuleView {
    /// The rules of a configuration, enabled or not.
    pub fn from_config(config: &crate::config::Config) -> Vec<RuleView> {
        let rules = &config.rules;
        let features = &config.features;
        vec![
            RuleView {
                name: "brute_force",
                enabled: rules.brute_force.enabled,
                thresholds: BTreeMap::from([(
                    "min_failed_logins",
                    f64::from(rules.brute_force.min_failed_logins),
                )]),
                window_secs: u64::from(features.login_window_secs),
            },
            RuleView {
                name: "port_scan",
                enabled: rules.port_scan.enabled,
                thresholds: BTreeMap::from([(
                    "min_distinct_ports",
                    f64::from(rules.port_scan.min_distinct_ports),
                )]),
                window_secs: u64::from(features.port_window_secs),
            },
            RuleView {
                name: "traffic_spike",
                enabled: rules.traffic_spike.enabled,
                thresholds: BTreeMap::from([
                    ("min_events", f64::from(rules.traffic_spike.min_events)),
                    ("factor", rules.traffic_spike.factor),
                ]),
                window_secs: u64::from(features.event_window_secs),
            },
            RuleView {
                name: "connection_rate",
                enabled: rules.connection_rate.enabled,
                thresholds: BTreeMap::from([
                    (
                        "min_connections",
                        f64::from(rules.connection_rate.min_connections),
                    ),
                    ("max_duration_secs", rules.connection_rate.max_duration_secs),
                ]),
                window_secs: u64::from(rules.connection_rate.window_secs),
            },
        ]
    }
}

/// The severity thresholds on calibrated scores and rule strengths.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdsView {
    /// ORANGE at or above this (also the pool's `alert_threshold`: a model's verdict in its
    /// error stream).
    pub orange: f64,
    /// RED at or above this.
    pub red: f64,
}

/// The pool in the detectors view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolView {
    /// Champion, signal, every active model's ADWIN estimate and width (`evidence`) and
    /// reference size, the retired pool, windows being collected, fits pending.
    #[serde(flatten)]
    pub status: PoolStatus,
    /// The kinds of model it runs, in slot order (what `POST .../retrain` takes).
    pub kinds: Vec<ModelKind>,
    /// Events whose scores are kept for feedback.
    pub feedback_window_events: usize,
}

/// Analyst verdicts for one detector, with the measures they give.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorVerdicts {
    /// The rule, or `pool`.
    pub detector: String,
    /// The confusion counts.
    #[serde(flatten)]
    pub counts: VerdictCounts,
    /// TP / (TP + FP), `null` until it fired on a judged event.
    pub precision: Option<f64>,
    /// TP / (TP + FN), `null` until a judged event was an attack.
    pub recall: Option<f64>,
    /// Harmonic mean of the two.
    pub f1: Option<f64>,
}

/// What `GET /api/v1/detectors` shows: the pool, the rules, the thresholds and the analyst
/// verdicts per detector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorsView {
    /// The severity thresholds (the pool's calibrated threshold is `orange`).
    pub thresholds: ThresholdsView,
    /// The pool, when the learned models run.
    pub pool: Option<PoolView>,
    /// Every rule, enabled or not.
    pub rules: Vec<RuleView>,
    /// Verdicts per running detector (rules in running order, then `pool`).
    pub verdicts: Vec<DetectorVerdicts>,
    /// Events whose detector findings are remembered for verdicts.
    pub verdict_window_events: usize,
}

impl Detect {
    /// Takes the alert decision on `severity` from the next event on (a config reload). The
    /// pool's own verdict threshold (`alert_threshold`, for its error streams) keeps the
    /// value it started with.
    pub fn set_severity(&mut self, severity: SeverityThresholds) {
        self.severity = severity;
    }

    /// Names the rules' thresholds in the detectors view ([`RuleView::from_config`]).
    pub fn set_rule_views(&mut self, rules: Vec<RuleView>) {
        self.rule_views = rules;
    }

    fn pool_bit(&self) -> u32 {
        1 << self.rule_names.len()
    }

    /// An analyst's verdict on event `seq`, from an alert of `detector`: counted for every
    /// detector's precision and recall (once per event), and for an alert of the learned
    /// models given to the pool as feedback. Call it between batches.
    ///
    /// # Errors
    /// The pool refuses the feedback (an event it has not scored).
    pub fn analyst_verdict(
        &mut self,
        seq: u64,
        detector: &str,
        anomalous: bool,
    ) -> Result<VerdictTaken, DetectError> {
        let pool = match self.pool.as_mut() {
            Some(pool) if detector == POOL_DETECTOR => Some(pool.feedback(seq, anomalous)?),
            _ => None,
        };
        let counted = self.verdicts.judge(seq, anomalous);
        Ok(VerdictTaken { counted, pool })
    }

    /// An analyst's request for a fresh model of `kind` ([`Pool::request_retrain`]); the fit
    /// is handed to the fit thread at once when its window is complete. Call it between
    /// batches.
    ///
    /// # Errors
    /// No pool runs, or it runs no model of that kind.
    pub fn request_retrain(&mut self, kind: ModelKind) -> Result<RetrainRequest, DetectError> {
        let pool = self.pool.as_mut().ok_or_else(|| {
            DetectError::Pool(PoolError::ModelNotInPool {
                kind,
                models: "none: the learned models are off".to_string(),
            })
        })?;
        let request = pool.request_retrain(kind)?;
        self.hand_out_fits();
        Ok(request)
    }

    /// The detectors view: pool status, rules, thresholds, verdicts.
    pub fn view(&self) -> DetectorsView {
        let mut names: Vec<String> = self.rule_names.iter().map(|n| n.to_string()).collect();
        names.push(POOL_DETECTOR.to_string());
        let verdicts = names
            .into_iter()
            .zip(&self.verdicts.counts)
            .filter(|(name, _)| name != POOL_DETECTOR || self.pool.is_some())
            .map(|(detector, counts)| DetectorVerdicts {
                detector,
                counts: *counts,
                precision: counts.precision(),
                recall: counts.recall(),
                f1: counts.f1(),
            })
            .collect();
        DetectorsView {
            thresholds: ThresholdsView {
                orange: self.severity.orange,
                red: self.severity.red,
            },
            pool: self.pool.as_ref().map(|pool| PoolView {
                status: pool.status(),
                kinds: pool.config().models.clone(),
                feedback_window_events: pool.config().feedback_window_events,
            }),
            rules: self.rule_views.clone(),
            verdicts,
            verdict_window_events: self.verdicts.capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use vigil_detectors::rules::RulesConfig;

    use super::*;

    #[test]
    fn verdicts_count_once_per_event_for_every_detector() {
        // Two rules (bits 0 and 1) and the pool (bit 2).
        let mut ledger = VerdictLedger::new(3, 3);
        ledger.push(10, 0b001);
        ledger.push(11, 0b100);
        ledger.push(12, 0b000);
        ledger.push(13, 0b101);
        assert_eq!(ledger.judge(10, true), FeedbackOutcome::OutOfWindow);
        assert_eq!(ledger.judge(14, true), FeedbackOutcome::OutOfWindow);
        assert_eq!(ledger.judge(11, true), FeedbackOutcome::Applied);
        assert_eq!(ledger.judge(11, false), FeedbackOutcome::Duplicate);
        assert_eq!(ledger.judge(12, false), FeedbackOutcome::Applied);
        assert_eq!(ledger.judge(13, false), FeedbackOutcome::Applied);
        let [first, second, pool] = [ledger.counts[0], ledger.counts[1], ledger.counts[2]];
        assert_eq!(first.as_array(), [0, 1, 1, 1]);
        assert_eq!(second.as_array(), [0, 0, 1, 2]);
        assert_eq!(pool.as_array(), [1, 1, 0, 1]);
        assert_eq!(pool.precision(), Some(0.5));
        assert_eq!(pool.recall(), Some(1.0));
        let f1 = pool.f1().expect("both known");
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12, "{f1}");
        assert_eq!(second.precision(), None);
        assert_eq!(second.recall(), Some(0.0));
        assert_eq!(first.f1(), Some(0.0));
    }

    fn stage() -> Detect {
        Detect::new(DetectSettings {
            dim: 2,
            feature_names: vec!["a".to_string(), "b".to_string()].into(),
            pool: None,
            label_feedback: None,
            rules: RuleSet::new(&RulesConfig::default()).expect("default rules"),
            severity: SeverityThresholds::default(),
            explain_top_features: 3,
            score_log: None,
        })
        .expect("the stage starts")
    }

    #[test]
    fn the_verdicts_ledger_rides_the_checkpoint_and_old_checkpoints_still_restore() {
        let mut before = stage();
        let empty = before.snapshot();
        before.verdicts.push(7, 0b0001);
        before.verdicts.push(8, 0b0000);
        let verdict = before
            .analyst_verdict(7, "brute_force", true)
            .expect("counted");
        assert_eq!(
            verdict,
            VerdictTaken {
                counted: FeedbackOutcome::Applied,
                pool: None
            }
        );
        let bytes = before.snapshot();
        let mut after = stage();
        after.restore(&bytes).expect("restores");
        assert_eq!(after.verdicts, before.verdicts);
        assert_eq!(
            after.analyst_verdict(7, "pool", false).expect("answered"),
            VerdictTaken {
                counted: FeedbackOutcome::Duplicate,
                pool: None
            }
        );
        let view = after.view();
        assert!(view.pool.is_none());
        assert_eq!(
            view.verdicts
                .iter()
                .map(|v| v.detector.as_str())
                .collect::<Vec<_>>(),
            [
                "brute_force",
                "port_scan",
                "traffic_spike",
                "connection_rate"
            ]
        );
        assert_eq!(view.verdicts[0].counts.true_positives, 1);
        assert_eq!(view.verdicts[1].counts.false_negatives, 1);
        // A version 1 checkpoint: the same without the ledger (three empty u64 lists, the
        // counts of five detectors in the first).
        let ledger_bytes = 8 + 20 * 8 + 8 + 8;
        let mut v1 = empty[..empty.len() - ledger_bytes].to_vec();
        v1[4..6].copy_from_slice(&1u16.to_le_bytes());
        let mut old = stage();
        old.restore(&v1).expect("a version 1 checkpoint restores");
        assert_eq!(old.verdicts, stage().verdicts);
        // Version 2 without its ledger is cut short.
        let mut cut = empty[..empty.len() - ledger_bytes].to_vec();
        cut[4..6].copy_from_slice(&2u16.to_le_bytes());
        assert!(stage().restore(&cut).is_err());
    }

    #[test]
    fn retrain_needs_the_pool() {
        let mut rules_only = stage();
        let error = rules_only
            .request_retrain(ModelKind::Hst)
            .expect_err("no pool");
        assert!(
            error.to_string().contains("learned models are off"),
            "{error}"
        );
    }
}
