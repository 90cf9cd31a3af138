//! The detector stage's decision work, apart from actix: the pool of learned models and the
//! behaviour rules side by side, the alert decision per event, label feedback, background
//! fits, explanations and the stage's checkpoint.
//!
//! Per event, in stream order: the rules observe it; the pool scores it (waiting for a
//! background fit that is due); the alert decision is taken on the highest severity among
//! the pool's calibrated score and the rules' strengths; labels due are revealed as feedback;
//! the pool learns the event with that decision. So the pool's references and its baseline's
//! training window only take events that were not alerted on, whoever raised the alert.

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc;

use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};
use vigil_detectors::rules::{RuleHit, RuleSet};
use vigil_features::Extracted;
use vigil_pool::{
    DriftEvent, FitDone, FitJob, LabelFeedback, LabelFeedbackConfig, Pool, PoolConfig, PoolError,
};
use vigil_sensors::Event;

use crate::alert::{FeatureContribution, Severity, SeverityThresholds, feature_explanation};
use crate::metrics::ScoreRecorder;

/// The name alerts of the learned models carry as their detector; the champion that scored
/// the event is named beside it.
pub const POOL_DETECTOR: &str = "pool";

const STAGE_TAG: [u8; 4] = *b"VGDS";
const STAGE_VERSION: u16 = 1;

/// Smallest spread a feature's deviation is measured in, so that a feature that never moved
/// in normal traffic gives a large but finite deviation.
const MIN_SPREAD: f64 = 1e-3;

/// What the detector stage found on one event that is worth an alert (RED or ORANGE).
#[derive(Debug, Clone)]
pub struct Finding {
    /// Index of the event in its batch.
    pub index: usize,
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
                out.findings.push(Finding {
                    index,
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
                continue;
            };
            out.pool_scored += 1;
            out.scores[index] = Some(score.calibrated);
            if let Some(scores) = &self.scores {
                scores.pool(&score);
            }
            let severity = Severity::of(score.calibrated, &self.severity);
            let champion = score.champion.map(|c| c.to_string());
            if severity != Severity::Green {
                alerted = true;
                let top_features = self.normal.top(x, &self.feature_names, self.top_k);
                let model = champion.as_deref().unwrap_or("no model");
                let explanation = format!(
                    "{model} scored it above {:.1} % of normal traffic; {}",
                    score.calibrated * 100.0,
                    feature_explanation(&top_features)
                );
                out.findings.push(Finding {
                    index,
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
        w.finish()
    }

    /// Restores a [`snapshot`](Self::snapshot) taken under the same configuration.
    ///
    /// # Errors
    /// [`DetectError::Restore`] naming what does not match. The stage may then be half
    /// restored: drop it and build a fresh one.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectError> {
        let mut r = SnapshotReader::new("detector stage", bytes, STAGE_TAG, STAGE_VERSION)?;
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
        r.end()?;
        // Fits that were pending at the checkpoint are handed out again.
        self.hand_out_fits();
        Ok(())
    }
}
