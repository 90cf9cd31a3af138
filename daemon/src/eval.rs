//! `vigil eval`: progressive score-then-learn of one detector over a labelled file, with
//! ROC AUC and average precision against the file's ground truth.
//!
//! Rows become feature vectors the way the reference measurements build them: flow
//! datasets pass their own numeric columns through (categoricals dropped or one-hot
//! encoded); log sensors use Vigil's feature schema. `--shuffle SEED` permutes the rows once
//! (Fisher-Yates driven by ChaCha8 seeded with SEED); `--seeds N` then runs the detector N
//! times over that order with model seeds 0..N-1. `events_per_sec` counts only the time spent
//! in the model (scaler, score, learn), not parsing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use vigil_detectors::Detector;
use vigil_detectors::hst::{HalfSpaceTrees, HstConfig};
use vigil_detectors::metrics;
use vigil_detectors::ocsvm::{BatchOcsvmConfig, OnlineOcsvm, OnlineOcsvmConfig, ScaledBatchOcsvm};
use vigil_detectors::rules::RuleSet;
use vigil_features::FeatureExtractor;
use vigil_sensors::{Event, Format, ParseOptions};
use vigil_tail::TailOptions;

use crate::config::Config;
use crate::input::{LineProducer, Produced, Producer, RejectionLog, Tally};

/// How categorical columns of flow datasets enter the feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Categorical {
    /// Left out.
    Drop,
    /// One column per distinct value (`proto=tcp`), 1 or 0.
    Onehot,
}

/// Which detector `vigil eval` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalDetector {
    /// Half-Space Trees with online min-max scaling in front.
    Hst,
    /// Online One-Class SVM (SGD on random Fourier features) with online standard scaling.
    OnlineOcsvm,
    /// Batch nu-One-Class SVM fitted on the first `--train-rows` normal rows.
    Ocsvm,
    /// The behaviour rules over Vigil's windowed features (score: strongest hit, 0 without).
    Rules,
    /// The detector pool (OCSVM baseline, Half-Space Trees, online OCSVM): the champion's
    /// calibrated score, with each label revealed as feedback right after its score.
    Pool,
}

impl EvalDetector {
    fn as_str(self) -> &'static str {
        match self {
            EvalDetector::Hst => "hst",
            EvalDetector::OnlineOcsvm => "online-ocsvm",
            EvalDetector::Ocsvm => "ocsvm",
            EvalDetector::Rules => "rules",
            EvalDetector::Pool => "pool",
        }
    }
}

/// What `vigil eval` was asked to do.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Input format.
    pub format: Format,
    /// Label column of a generic CSV.
    pub label_column: Option<String>,
    /// Categorical columns: drop or one-hot.
    pub categorical: Categorical,
    /// The detector.
    pub detector: EvalDetector,
    /// Rows the batch OCSVM fits on (the first this many normal rows).
    pub train_rows: usize,
    /// Shuffle the rows once with this seed.
    pub shuffle: Option<u64>,
    /// Run with model seeds 0..seeds.
    pub seeds: u64,
    /// Read at most this many rows.
    pub limit: Option<usize>,
}

/// A labelled data set as feature rows.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Column names, in row order.
    pub columns: Vec<String>,
    /// Row-major feature values, `columns.len()` per row.
    pub rows: Vec<f64>,
    /// Ground truth per row: anomalous or not.
    pub labels: Vec<bool>,
    /// The events, kept for the behaviour rules.
    pub events: Vec<Event>,
    /// Records rejected while reading, by reason.
    pub rejected: BTreeMap<&'static str, u64>,
}

impl Dataset {
    /// Number of feature columns.
    pub fn dim(&self) -> usize {
        self.columns.len()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        let dim = self.dim();
        &self.rows[i * dim..(i + 1) * dim]
    }

    /// Reorders rows (and labels and events) by `order`.
    fn permute(&mut self, order: &[usize]) {
        let dim = self.dim();
        let mut rows = Vec::with_capacity(self.rows.len());
        for &i in order {
            rows.extend_from_slice(&self.rows[i * dim..(i + 1) * dim]);
        }
        self.rows = rows;
        self.labels = order.iter().map(|&i| self.labels[i]).collect();
        if !self.events.is_empty() {
            self.events = order.iter().map(|&i| self.events[i].clone()).collect();
        }
    }
}

/// Reads `path` into feature rows.
///
/// # Errors
/// A file that cannot be read, or that holds no labelled row.
pub fn load_dataset(
    path: &Path,
    config: &Config,
    options: &EvalOptions,
) -> anyhow::Result<Dataset> {
    if !path.is_file() {
        bail!(
            "input file {} does not exist or is not a file",
            path.display()
        );
    }
    let parse = ParseOptions {
        sensor_id: Arc::from("eval"),
        naive_timezone: chrono_tz::UTC,
        dataset_start: config.dataset_start()?,
        row_interval_micros: config.pipeline.row_interval_micros,
        label_column: options.label_column.clone(),
    };
    let parser = vigil_sensors::parser_for(options.format, parse);
    let mut producer = LineProducer::new(
        Arc::from("eval"),
        vec![path.to_string_lossy().into_owned()],
        TailOptions::default(),
        parser,
        1,
        RejectionLog::new(
            Arc::from("eval"),
            config.log.max_rejections_logged_per_interval,
            Duration::from_secs(10),
        ),
    );
    let mut events = Vec::new();
    let mut tally = Tally::default();
    let limit = options.limit.unwrap_or(usize::MAX);
    while events.len() < limit {
        let want = (limit - events.len()).min(4096);
        if producer.produce(want, &mut events, &mut tally) == Produced::Finished {
            break;
        }
    }
    producer.finish();
    let numeric_names = producer.numeric_columns();
    events.truncate(limit);
    let labelled = events.iter().filter(|e| e.label.is_some()).count();
    if labelled == 0 {
        bail!(
            "{} holds no labelled row ({} events read); eval needs ground truth",
            path.display(),
            events.len()
        );
    }
    events.retain(|e| e.label.is_some());
    let labels = events
        .iter()
        .map(|e| e.label.as_ref().is_some_and(|l| l.anomalous))
        .collect();

    let passthrough = events.first().is_some_and(|e| !e.numeric.is_empty());
    let (columns, rows) = if passthrough {
        numeric_rows(&events, options.categorical, numeric_names)?
    } else {
        schema_rows(&events, config)?
    };
    Ok(Dataset {
        columns,
        rows,
        labels,
        events,
        rejected: tally.rejected,
    })
}

/// Flow datasets: their own numeric columns, and categoricals as asked.
fn numeric_rows(
    events: &[Event],
    categorical: Categorical,
    names: Vec<String>,
) -> anyhow::Result<(Vec<String>, Vec<f64>)> {
    let dim = events[0].numeric.len();
    // The names come from the parser that read the file; positional names only if it
    // reports none that fit.
    let mut columns: Vec<String> = if names.len() == dim {
        names
    } else {
        (0..dim).map(|i| format!("f{i}")).collect()
    };
    if let Some(bad) = events.iter().find(|e| e.numeric.len() != dim) {
        bail!(
            "row at offset {} has {} numeric values, the first row {dim}",
            bad.origin.offset,
            bad.numeric.len()
        );
    }
    let names = categorical_names(events);
    let mut vocab: Vec<BTreeSet<String>> = vec![BTreeSet::new(); names.len()];
    if categorical == Categorical::Onehot {
        for event in events {
            if let Some(values) = vigil_sensors::flows::categorical_values(event) {
                for (set, value) in vocab.iter_mut().zip(values) {
                    set.insert(value.to_string());
                }
            }
        }
        for (name, set) in names.iter().zip(&vocab) {
            columns.extend(set.iter().map(|v| format!("{name}={v}")));
        }
    }
    let width = columns.len();
    let mut rows = Vec::with_capacity(events.len() * width);
    for event in events {
        rows.extend_from_slice(&event.numeric);
        if categorical == Categorical::Onehot {
            let values = vigil_sensors::flows::categorical_values(event);
            for (column, set) in vocab.iter().enumerate() {
                let value = values.map(|v| v[column]);
                rows.extend(
                    set.iter()
                        .map(|v| f64::from(u8::from(Some(v.as_str()) == value))),
                );
            }
        }
    }
    Ok((columns, rows))
}

fn categorical_names(events: &[Event]) -> Vec<&'static str> {
    match events[0].sensor {
        vigil_sensors::Sensor::Unsw => {
            vigil_sensors::flows::UnswParser::CATEGORICAL_COLUMNS.to_vec()
        }
        vigil_sensors::Sensor::Nslkdd => {
            vigil_sensors::flows::NslKddParser::CATEGORICAL_COLUMNS.to_vec()
        }
        _ => Vec::new(),
    }
}

/// Log sensors: Vigil's own feature schema, computed in event time.
fn schema_rows(events: &[Event], config: &Config) -> anyhow::Result<(Vec<String>, Vec<f64>)> {
    let mut extractor = FeatureExtractor::new(config.feature_config()?)?;
    let dim = extractor.dim();
    let columns = extractor
        .schema()
        .names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut rows = vec![0.0; events.len() * dim];
    for (event, row) in events.iter().zip(rows.chunks_exact_mut(dim)) {
        extractor.extract(event, row)?;
    }
    Ok((columns, rows))
}

/// One seed's result.
#[derive(Debug, Clone, Serialize)]
pub struct SeedResult {
    /// Model seed.
    pub seed: u64,
    /// ROC AUC over the scored rows.
    pub roc_auc: f64,
    /// Average precision over the scored rows.
    pub average_precision: f64,
    /// Rows per second spent in the model.
    pub events_per_sec: f64,
}

/// The JSON object `vigil eval` prints.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    /// The file's name.
    pub dataset: String,
    /// The format it was read as.
    pub format: String,
    /// Labelled rows read.
    pub rows: usize,
    /// Rows labelled anomalous.
    pub anomalies: usize,
    /// Rows scored (all rows, or for `ocsvm` those not used to fit it).
    pub rows_scored: usize,
    /// Feature columns.
    pub columns: usize,
    /// The detector.
    pub detector: &'static str,
    /// Its parameters.
    pub params: serde_json::Value,
    /// How categoricals were handled.
    pub categorical: Categorical,
    /// The shuffle seed, if rows were shuffled.
    pub shuffle: Option<u64>,
    /// Number of model seeds.
    pub seeds: u64,
    /// Mean ROC AUC over seeds.
    pub roc_auc: f64,
    /// Population standard deviation of ROC AUC over seeds.
    pub roc_auc_std: f64,
    /// Mean average precision over seeds.
    pub average_precision: f64,
    /// Rows per second spent in the model (scaler, score, learn), over all seeds.
    pub events_per_sec: f64,
    /// Seconds spent fitting a batch model (mean over seeds), 0 for online models.
    pub fit_secs: f64,
    /// Per seed.
    pub per_seed: Vec<SeedResult>,
    /// Records rejected while reading, by reason.
    pub rows_rejected: BTreeMap<&'static str, u64>,
    /// Peak resident set size of the process.
    pub peak_rss_bytes: u64,
    /// `--detector pool`: how many decisions the pool recorded (first seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_event_count: Option<usize>,
    /// `--detector pool`: the decisions, in order (first seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_events: Option<Vec<vigil_pool::DriftEvent>>,
}

/// Runs the evaluation.
///
/// # Errors
/// A file that cannot be read, invalid options, or a detector error.
pub fn evaluate(
    path: &Path,
    config: &Config,
    options: &EvalOptions,
) -> anyhow::Result<EvalSummary> {
    if options.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let mut data = load_dataset(path, config, options)
        .with_context(|| format!("cannot evaluate on {}", path.display()))?;
    if options.detector != EvalDetector::Rules {
        data.events = Vec::new();
    }
    if let Some(seed) = options.shuffle {
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        order.shuffle(&mut rng);
        data.permute(&order);
    }
    let mut per_seed = Vec::new();
    let mut model_time = Duration::ZERO;
    let mut fit_time = Duration::ZERO;
    let mut scored_total = 0usize;
    let mut rows_scored = data.len();
    let mut params = serde_json::Value::Null;
    let mut drift_events = None;
    for seed in 0..options.seeds {
        let mut run = run_seed(&data, config, options, seed)?;
        if drift_events.is_none() {
            drift_events = run.drift_events.take();
        }
        model_time += run.model_time;
        fit_time += run.fit_time;
        scored_total += run.scores.len();
        rows_scored = run.scores.len();
        params = run.params;
        let labels: Vec<bool> = run.rows.iter().map(|&i| data.labels[i]).collect();
        let (auc, ap) = auc_and_ap(&run.scores, &labels);
        per_seed.push(SeedResult {
            seed,
            roc_auc: auc,
            average_precision: ap,
            events_per_sec: run.scores.len() as f64 / run.model_time.as_secs_f64().max(1e-9),
        });
        if matches!(options.detector, EvalDetector::Rules | EvalDetector::Ocsvm) {
            break; // neither the rules nor the batch solver draw random numbers
        }
    }
    let n = per_seed.len() as f64;
    let mean_auc = per_seed.iter().map(|r| r.roc_auc).sum::<f64>() / n;
    let std_auc = (per_seed
        .iter()
        .map(|r| (r.roc_auc - mean_auc).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    Ok(EvalSummary {
        dataset: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        format: format!("{}", options.format),
        rows: data.len(),
        anomalies: data.labels.iter().filter(|a| **a).count(),
        rows_scored,
        columns: data.dim(),
        detector: options.detector.as_str(),
        params,
        categorical: options.categorical,
        shuffle: options.shuffle,
        seeds: per_seed.len() as u64,
        roc_auc: mean_auc,
        roc_auc_std: std_auc,
        average_precision: per_seed.iter().map(|r| r.average_precision).sum::<f64>() / n,
        events_per_sec: scored_total as f64 / model_time.as_secs_f64().max(1e-9),
        fit_secs: fit_time.as_secs_f64() / n,
        per_seed,
        rows_rejected: data.rejected.clone(),
        peak_rss_bytes: crate::stats::peak_rss_bytes(),
        drift_event_count: drift_events.as_ref().map(Vec::len),
        drift_events,
    })
}

/// What one seed produced: scores of the rows it scored (by row index), and its timings.
struct Run {
    rows: Vec<usize>,
    scores: Vec<f64>,
    model_time: Duration,
    fit_time: Duration,
    params: serde_json::Value,
    drift_events: Option<Vec<vigil_pool::DriftEvent>>,
}

fn run_seed(
    data: &Dataset,
    config: &Config,
    options: &EvalOptions,
    seed: u64,
) -> anyhow::Result<Run> {
    match options.detector {
        EvalDetector::Rules => run_rules(data, config),
        EvalDetector::Ocsvm => run_batch_ocsvm(data, options.train_rows),
        EvalDetector::Pool => run_pool(data, config, seed),
        online => {
            let (mut detector, params) = online_detector(online, data.dim(), seed)?;
            let mut scores = vec![0.0; data.len()];
            let chunk = 1024;
            let started = Instant::now();
            for (xs, out) in data
                .rows
                .chunks(chunk * data.dim())
                .zip(scores.chunks_mut(chunk))
            {
                detector.score_learn_many(xs, out)?;
            }
            let model_time = started.elapsed();
            Ok(Run {
                rows: (0..data.len()).collect(),
                scores,
                model_time,
                fit_time: Duration::ZERO,
                params,
                drift_events: None,
            })
        }
    }
}

/// An online detector with the scaling the reference pipelines put in front of it.
fn online_detector(
    kind: EvalDetector,
    dim: usize,
    seed: u64,
) -> anyhow::Result<(Box<dyn Detector>, serde_json::Value)> {
    Ok(match kind {
        EvalDetector::Hst => {
            let config = HstConfig {
                seed,
                ..HstConfig::default()
            };
            let params = serde_json::json!({
                "n_trees": config.n_trees,
                "height": config.height,
                "window_size": config.window_size,
                "scaler": "online min-max",
            });
            (Box::new(HalfSpaceTrees::new(dim, config)?), params)
        }
        EvalDetector::OnlineOcsvm => {
            let config = OnlineOcsvmConfig {
                seed,
                ..OnlineOcsvmConfig::default()
            };
            let model = OnlineOcsvm::new(dim, config)?;
            let params = serde_json::json!({
                "nu": config.nu,
                "gamma": model.gamma(),
                "n_components": config.n_components,
                "learning_rate": format!("{:?}", config.learning_rate),
                "scaler": "online standard",
            });
            (Box::new(model), params)
        }
        other => bail!("{} is not an online detector", other.as_str()),
    })
}

/// The batch baseline: standard-scaled, fitted on the first `train_rows` normal rows, scoring
/// every other row.
fn run_batch_ocsvm(data: &Dataset, train_rows: usize) -> anyhow::Result<Run> {
    if train_rows == 0 {
        bail!("--train-rows must be at least 1");
    }
    let train: Vec<usize> = (0..data.len())
        .filter(|&i| !data.labels[i])
        .take(train_rows)
        .collect();
    if train.len() < 2 {
        bail!(
            "the batch OCSVM needs at least 2 normal rows to fit, found {}",
            train.len()
        );
    }
    let mut fit_rows = Vec::with_capacity(train.len() * data.dim());
    for &i in &train {
        fit_rows.extend_from_slice(data.row(i));
    }
    let config = BatchOcsvmConfig::default();
    let started = Instant::now();
    let model = ScaledBatchOcsvm::fit(&fit_rows, data.dim(), &config)?;
    let fit_time = started.elapsed();
    let mut in_train = vec![false; data.len()];
    for &i in &train {
        in_train[i] = true;
    }
    let rows: Vec<usize> = (0..data.len()).filter(|&i| !in_train[i]).collect();
    let mut scores = vec![0.0; rows.len()];
    let started = Instant::now();
    for (&i, score) in rows.iter().zip(scores.iter_mut()) {
        *score = model.score_one(data.row(i))?;
    }
    let model_time = started.elapsed();
    let summary = model.fit_summary();
    Ok(Run {
        rows,
        scores,
        model_time,
        fit_time,
        drift_events: None,
        params: serde_json::json!({
            "nu": config.nu,
            "gamma": model.model().gamma(),
            "tol": config.tol,
            "train_rows": train.len(),
            "n_support": model.model().n_support(),
            "iterations": summary.map(|s| s.iterations),
            "scaler": "standard (fitted on the training rows)",
        }),
    })
}

/// The detector pool, prequential (its default configuration with this seed; with plugins
/// enabled, `pool.models` and the enabled plugins): score each row, reveal its label as feedback (the share
/// and delay of `[feedback]`; none when `feedback.from_labels = false`), learn it (alerted
/// when the pool's score reaches the alert threshold). Fits run inline when the pool waits
/// for them; their time counts as fit time.
fn run_pool(data: &Dataset, config: &Config, seed: u64) -> anyhow::Result<Run> {
    use vigil_pool::{LabelFeedback, Pool, PoolConfig, PoolError};
    let mut pool_config = PoolConfig {
        seed,
        ..PoolConfig::default()
    };
    // With plugins enabled, the models are the configuration's (`pool.models` and the
    // enabled plugins), the plugins made for this data's width.
    if !config.plugins.enabled.is_empty() {
        pool_config.models = config.pool_config()?.models;
        crate::plugins::Plugins::load(&config.plugins, None, data.dim()).attach(&mut pool_config);
    }
    let feedback_config = config
        .label_feedback(true)?
        .map(|f| vigil_pool::LabelFeedbackConfig { seed, ..f });
    let mut pool = Pool::new(data.dim(), pool_config.clone())?;
    let mut feedback = feedback_config.map(LabelFeedback::new).transpose()?;
    let mut released = Vec::new();
    let mut scores = Vec::with_capacity(data.len());
    let mut fit_time = Duration::ZERO;
    let started = Instant::now();
    for (i, &anomalous) in data.labels.iter().enumerate() {
        let x = data.row(i);
        let seq = i as u64;
        let scored = match pool.score(x, seq) {
            Err(PoolError::WaitingForFit { .. }) => {
                let fit_started = Instant::now();
                pool.run_pending_fits()?;
                fit_time += fit_started.elapsed();
                pool.score(x, seq)?
            }
            other => other?,
        };
        scores.push(scored.calibrated);
        released.clear();
        if let Some(feedback) = feedback.as_mut() {
            feedback.release(seq, anomalous, &mut released);
        }
        for &(labelled, label) in &released {
            pool.feedback(labelled, label)?;
        }
        pool.learn(x, scored.calibrated >= pool_config.alert_threshold)?;
    }
    let model_time = started.elapsed().saturating_sub(fit_time);
    let status = pool.status();
    Ok(Run {
        rows: (0..data.len()).collect(),
        scores,
        model_time,
        fit_time,
        params: serde_json::json!({
            "models": pool_config.models,
            "alert_threshold": pool_config.alert_threshold,
            "baseline_train_events": pool_config.baseline_train_events,
            "swap_after_events": pool_config.swap_after_events,
            "feedback_from_labels": feedback_config.is_some(),
            "feedback_fraction": feedback_config.map(|f| f.fraction),
            "feedback_delay_events": feedback_config.map(|f| f.delay_events),
            "final_champion": status.champion,
            "final_models": status.models,
            "retired": status.retired,
        }),
        drift_events: Some(pool.drain_events()),
    })
}

fn run_rules(data: &Dataset, config: &Config) -> anyhow::Result<Run> {
    let mut extractor = FeatureExtractor::new(config.feature_config()?)?;
    let mut rules = RuleSet::new(&config.rule_set_config()?)?;
    let mut row = vec![0.0; extractor.dim()];
    let mut hits = Vec::new();
    let started = Instant::now();
    let scores = data
        .events
        .iter()
        .map(|event| {
            let x = extractor.extract(event, &mut row)?;
            hits.clear();
            rules.observe(&x.view, &x.window, &mut hits);
            Ok(hits.iter().map(|h| h.strength).fold(0.0, f64::max))
        })
        .collect::<anyhow::Result<Vec<f64>>>()?;
    Ok(Run {
        rows: (0..data.len()).collect(),
        scores,
        model_time: started.elapsed(),
        fit_time: Duration::ZERO,
        drift_events: None,
        params: serde_json::json!({
            "brute_force_min_failed_logins": config.rules.brute_force.min_failed_logins,
            "port_scan_min_distinct_ports": config.rules.port_scan.min_distinct_ports,
            "traffic_spike_min_events": config.rules.traffic_spike.min_events,
            "traffic_spike_factor": config.rules.traffic_spike.factor,
        }),
    })
}

/// ROC AUC and average precision from the detectors crate's metrics; NaN when one class is
/// absent from the scored rows.
fn auc_and_ap(scores: &[f64], labels: &[bool]) -> (f64, f64) {
    (
        metrics::roc_auc(scores, labels).unwrap_or(f64::NAN),
        metrics::average_precision(scores, labels).unwrap_or(f64::NAN),
    )
}
