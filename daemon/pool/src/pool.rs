//! The pool: scoring, learning, feedback, drift decisions and background fits.

use std::collections::VecDeque;

use serde::Serialize;
use vigil_detectors::calibration::Calibrator;
use vigil_detectors::drift::Adwin;
use vigil_detectors::{DriftDetector, check_input};

use crate::config::nested;
use crate::event::{DriftEvent, DriftKind};
use crate::history::{History, SlotScore};
use crate::job::{Collection, FitDone, FitJob, FitPurpose, PendingJob};
use crate::model::{Member, Model, ModelParams, ModelRef, calibrator_config, derive_seed};
use crate::{MAX_MODELS, ModelKind, PoolConfig, PoolError};

/// Undrained drift events kept at most; older ones are dropped and counted
/// ([`Pool::events_dropped`]). Decisions are rare, so only a caller that never drains hits it.
pub const MAX_PENDING_EVENTS: usize = 10_000;

/// Fewest events the estimated change point leaves on either side of it, and so the fewest
/// events challengers are compared on after a drift (when the history holds them).
pub const MIN_COMPARE_EVENTS: usize = 16;

/// Score of the pool while no model can score yet (only the baseline configured, and not
/// fitted): the calibrators' "no evidence" value, below any sensible alert threshold.
pub const NO_MODEL_SCORE: f64 = 0.5;

/// One model's score for one event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelScore {
    /// The model.
    pub model: ModelRef,
    /// Its raw score (higher is more anomalous; the scale is the model's own).
    pub raw: f64,
    /// Its calibrated score in [0, 1]: the raw score's quantile among the model's reference.
    pub calibrated: f64,
}

/// What [`Pool::score`] returns for an event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PoolScore {
    /// The event's sequence number.
    pub seq: u64,
    /// The pool's score: the champion's calibrated score ([`NO_MODEL_SCORE`] without one).
    pub calibrated: f64,
    /// The champion that scored it.
    pub champion: Option<ModelRef>,
    /// Every active model's score, by slot (the order of [`PoolConfig::models`]).
    models: [Option<ModelScore>; MAX_MODELS],
}

impl PoolScore {
    /// Every active model's score, in the order of [`PoolConfig::models`].
    pub fn models(&self) -> impl Iterator<Item = &ModelScore> {
        self.models.iter().flatten()
    }

    /// The score of the active model of `kind`, if there is one.
    pub fn model(&self, kind: ModelKind) -> Option<&ModelScore> {
        self.models().find(|m| m.model.kind == kind)
    }

    /// The champion's score.
    pub fn champion_score(&self) -> Option<&ModelScore> {
        let champion = self.champion?;
        self.models().find(|m| m.model == champion)
    }
}

/// What [`Pool::feedback`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackOutcome {
    /// Turned into one error per model that scored the event.
    Applied,
    /// The event is older than the history the pool keeps
    /// ([`PoolConfig::feedback_window_events`]); nothing changed.
    OutOfWindow,
    /// The event already had feedback; the first one stands.
    Duplicate,
}

/// Which stream the ADWINs watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// No feedback yet: each model's calibrated scores (lower mean = leads).
    Scores,
    /// Since the first feedback: each model's errors on events with feedback.
    Errors,
}

impl Signal {
    fn what(self) -> &'static str {
        match self {
            Signal::Scores => "mean calibrated score",
            Signal::Errors => "error rate",
        }
    }
}

/// An active model: the member, its ADWIN, and when it started scoring.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub(crate) member: Member,
    pub(crate) adwin: Adwin,
    pub(crate) since_seq: u64,
}

/// The place of one kind in the active set.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) kind: ModelKind,
    pub(crate) active: Option<Active>,
    /// A plugin's slot whose model was disabled: it stays empty for good.
    pub(crate) disabled: bool,
    /// Failures of the plugin's models in this slot since the pool was made (not part of
    /// snapshots: a counter for metrics).
    pub(crate) failures_total: u64,
}

/// A retired model, kept for recurring drift.
#[derive(Debug, Clone)]
pub(crate) struct Retired {
    pub(crate) member: Member,
    pub(crate) retired_seq: u64,
}

/// The detector pool's decision core: deterministic and synchronous.
///
/// Per event, in stream order: [`score`](Self::score) (or [`score_timed`](Self::score_timed)),
/// then [`learn`](Self::learn) with the alert decision taken on that score.
/// [`feedback`](Self::feedback) may come at any time for any recent event. Background fits
/// are handed out by [`fit_job`](Self::fit_job) and come back through
/// [`install`](Self::install); they take effect at a fixed sequence number, and `score`
/// answers [`PoolError::WaitingForFit`] when one is due and not installed.
/// [`run_pending_fits`](Self::run_pending_fits) runs them inline for synchronous callers.
/// Decisions are drained with [`drain_events`](Self::drain_events).
///
/// ```
/// use vigil_pool::{DriftKind, ModelKind, Pool, PoolConfig, PoolError};
/// let config = PoolConfig {
///     models: vec![ModelKind::Ocsvm, ModelKind::Hst],
///     baseline_train_events: 200,
///     swap_after_events: 50,
///     ..PoolConfig::default()
/// };
/// let mut pool = Pool::new(2, config)?;
/// for seq in 0..1_000u64 {
///     let x = [(seq % 13) as f64, (seq % 7) as f64];
///     let scored = match pool.score(&x, seq) {
///         Err(PoolError::WaitingForFit { .. }) => {
///             pool.run_pending_fits()?;
///             pool.score(&x, seq)?
///         }
///         other => other?,
///     };
///     pool.learn(&x, scored.calibrated >= 0.95)?;
///     pool.feedback(seq, false)?;
/// }
/// // The baseline was fitted on the first 200 events and took effect 50 events later,
/// // taking over from Half-Space Trees, which stood in for it.
/// let events = pool.drain_events();
/// let fitted = events.iter().find(|e| e.kind == DriftKind::BaselineFitted).expect("fitted");
/// assert_eq!(fitted.seq, 199 + 50);
/// let takeover = events.iter().find(|e| e.kind == DriftKind::ChampionChanged).expect("takeover");
/// assert_eq!(takeover.champion_after, Some(fitted.model));
/// assert_eq!(pool.active_models().len(), 2);
/// # Ok::<(), PoolError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    pub(crate) config: PoolConfig,
    pub(crate) dim: usize,
    pub(crate) slots: Vec<Slot>,
    pub(crate) champion: Option<ModelRef>,
    /// True until the baseline's first fit takes effect: the online models only stand in for
    /// it, whichever of them leads, and the baseline takes over when it is fitted.
    pub(crate) stand_in: bool,
    pub(crate) retired: VecDeque<Retired>,
    pub(crate) history: History,
    pub(crate) signal: Signal,
    pub(crate) next_model_id: u64,
    pub(crate) next_job_id: u64,
    pub(crate) collections: Vec<Collection>,
    pub(crate) jobs: Vec<PendingJob>,
    pub(crate) events: VecDeque<DriftEvent>,
    pub(crate) events_dropped: u64,
    pub(crate) last_seq: Option<u64>,
    pub(crate) last_event_time: Option<i64>,
    /// The last scored event waits for `learn`.
    pub(crate) awaiting_learn: bool,
    pub(crate) feedback_applied: u64,
    scratch: Vec<SlotScore>,
}

impl Pool {
    /// A pool over feature vectors of `dim` values: the online models start learning at the
    /// first event, the baseline collects its training window.
    ///
    /// # Errors
    /// [`PoolError::InvalidConfig`] naming the first bad field (`dim` included).
    pub fn new(dim: usize, config: PoolConfig) -> Result<Pool, PoolError> {
        config.validate()?;
        if dim == 0 {
            return Err(PoolError::InvalidConfig {
                field: "dim".into(),
                requirement: "must be at least 1",
                value: "0".into(),
            });
        }
        let mut pool = Pool::empty(dim, config);
        for s in 0..pool.slots.len() {
            let kind = pool.slots[s].kind;
            if kind.is_batch() {
                // Builds one unfitted model to check the parameters against `dim`.
                Model::new(dim, &ModelParams::for_kind(&pool.config, kind, 0))
                    .map_err(|e| nested("ocsvm", e))?;
                let target = pool.config.baseline_train_events;
                pool.collections
                    .push(Collection::new(kind, FitPurpose::Baseline, target));
            } else {
                let member = pool.new_member(kind)?;
                pool.slots[s].active = Some(Active {
                    member,
                    adwin: pool.new_adwin(),
                    since_seq: 0,
                });
            }
        }
        pool.stand_in = pool.config.models.contains(&ModelKind::Ocsvm);
        pool.champion = pool
            .slots
            .iter()
            .find_map(|s| s.active.as_ref().map(|a| a.member.model_ref));
        Ok(pool)
    }

    /// A pool with no models, for `new` and `restore` to fill.
    pub(crate) fn empty(dim: usize, config: PoolConfig) -> Pool {
        let slots: Vec<Slot> = config
            .models
            .iter()
            .map(|&kind| Slot {
                kind,
                active: None,
                disabled: false,
                failures_total: 0,
            })
            .collect();
        let history = History::new(config.history_events(), dim, slots.len());
        Pool {
            dim,
            scratch: vec![SlotScore::default(); slots.len()],
            slots,
            champion: None,
            stand_in: false,
            retired: VecDeque::new(),
            history,
            signal: Signal::Scores,
            next_model_id: 1,
            next_job_id: 1,
            collections: Vec::new(),
            jobs: Vec::new(),
            events: VecDeque::new(),
            events_dropped: 0,
            last_seq: None,
            last_event_time: None,
            awaiting_learn: false,
            feedback_applied: 0,
            config,
        }
    }

    /// A fresh online model with the next id.
    fn new_member(&mut self, kind: ModelKind) -> Result<Member, PoolError> {
        let id = self.next_model_id;
        self.next_model_id += 1;
        let seed = derive_seed(self.config.seed, id);
        let params = ModelParams::for_kind(&self.config, kind, seed);
        let plugin_prefix;
        let prefix = match kind {
            ModelKind::Ocsvm => "ocsvm",
            ModelKind::Hst => "hst",
            ModelKind::OnlineOcsvm => "online_ocsvm",
            ModelKind::Plugin(id) => {
                plugin_prefix = format!("plugins.{}", id.name());
                &plugin_prefix
            }
        };
        let model = Model::new(self.dim, &params).map_err(|e| nested(prefix, e))?;
        let calibrator = Calibrator::new(calibrator_config(&self.config.calibration, id))
            .map_err(|e| nested("calibration", e))?;
        Ok(Member {
            model_ref: ModelRef { kind, id },
            model,
            calibrator,
        })
    }

    fn new_adwin(&self) -> Adwin {
        // The parameters were validated with the config.
        Adwin::new(self.config.adwin).unwrap_or_default()
    }

    /// Its configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Number of features per event.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The model whose calibrated score is the pool's score.
    pub fn champion(&self) -> Option<ModelRef> {
        self.champion
    }

    /// Which stream the ADWINs watch: scores until the first feedback, errors after.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// The last event scored.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// The calibrator of an active or retired model.
    pub fn calibrator(&self, model: ModelRef) -> Option<&Calibrator> {
        self.member(model).map(|m| &m.calibrator)
    }

    fn member(&self, model: ModelRef) -> Option<&Member> {
        self.slots
            .iter()
            .filter_map(|s| s.active.as_ref())
            .map(|a| &a.member)
            .chain(self.retired.iter().map(|r| &r.member))
            .find(|m| m.model_ref == model)
    }

    /// The active models, in slot order.
    pub fn active_models(&self) -> Vec<ModelRef> {
        self.actives().map(|a| a.member.model_ref).collect()
    }

    /// The retired models, oldest first.
    pub fn retired_models(&self) -> Vec<ModelRef> {
        self.retired.iter().map(|r| r.member.model_ref).collect()
    }

    fn actives(&self) -> impl Iterator<Item = &Active> {
        self.slots.iter().filter_map(|s| s.active.as_ref())
    }

    fn slot_of(&self, kind: ModelKind) -> Option<usize> {
        self.slots.iter().position(|s| s.kind == kind)
    }

    fn slot_of_model(&self, model: ModelRef) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.active
                .as_ref()
                .is_some_and(|a| a.member.model_ref == model)
        })
    }

    /// Scores an event: the pool's calibrated score and every active model's. Call
    /// [`learn`](Self::learn) for it before scoring the next one.
    ///
    /// A fit due at or before `seq` takes effect first.
    ///
    /// # Errors
    /// - [`PoolError::WaitingForFit`]: a fit is due and not installed; nothing changed.
    /// - [`PoolError::Input`] for a vector of the wrong length or with a NaN or infinity,
    ///   [`PoolError::SeqNotIncreasing`], [`PoolError::NotLearned`]; nothing changed.
    pub fn score(&mut self, x: &[f64], seq: u64) -> Result<PoolScore, PoolError> {
        self.score_inner(x, seq, None)
    }

    /// [`score`](Self::score) for an event with an event time (microseconds since the Unix
    /// epoch), which the drift events it causes carry.
    ///
    /// # Errors
    /// As [`score`](Self::score).
    pub fn score_timed(
        &mut self,
        x: &[f64],
        seq: u64,
        event_time_micros: i64,
    ) -> Result<PoolScore, PoolError> {
        self.score_inner(x, seq, Some(event_time_micros))
    }

    fn score_inner(
        &mut self,
        x: &[f64],
        seq: u64,
        event_time: Option<i64>,
    ) -> Result<PoolScore, PoolError> {
        check_input("pool", self.dim, x).map_err(|source| PoolError::Input { seq, source })?;
        if let Some(last) = self.last_seq {
            if self.awaiting_learn {
                return Err(PoolError::NotLearned { seq, pending: last });
            }
            if seq <= last {
                return Err(PoolError::SeqNotIncreasing { seq, last });
            }
        }
        if let Some(p) = self.first_missing_due(seq) {
            let job = &self.jobs[p].job;
            return Err(PoolError::WaitingForFit {
                seq,
                kind: job.kind(),
                job: job.id,
                due_seq: job.due_seq,
            });
        }
        self.last_event_time = event_time;
        while let Some(p) = self.next_due(seq) {
            let pending = self.jobs.remove(p);
            self.take_effect(pending, seq)?;
        }
        let mut scores = std::mem::take(&mut self.scratch);
        let mut models = [None; MAX_MODELS];
        for (s, slot) in self.slots.iter_mut().enumerate() {
            scores[s] = SlotScore::default();
            if let Some(active) = &slot.active {
                let failures = active.member.plugin_failures();
                let scored = active.member.score(x, self.config.min_reference_scores);
                slot.failures_total += active.member.plugin_failures().saturating_sub(failures);
                let scored = match scored {
                    Ok(scored) => scored,
                    Err(e) => {
                        self.scratch = scores;
                        return Err(e);
                    }
                };
                // A plugin model that failed on the event skips it.
                let Some((raw, calibrated)) = scored else {
                    continue;
                };
                scores[s] = SlotScore {
                    model: active.member.model_ref.id,
                    raw,
                    calibrated,
                };
                models[s] = Some(ModelScore {
                    model: active.member.model_ref,
                    raw,
                    calibrated,
                });
            }
        }
        self.history.push(seq, x, &scores);
        self.scratch = scores;
        self.last_seq = Some(seq);
        self.awaiting_learn = true;
        if self.drop_disabled(seq) {
            // The champion may have changed: its score for this event, if it scored it.
            let champion = self.champion;
            let calibrated = champion
                .and_then(|c| models.iter().flatten().find(|m| m.model == c))
                .map_or(NO_MODEL_SCORE, |m| m.calibrated);
            return Ok(PoolScore {
                seq,
                calibrated,
                champion,
                models,
            });
        }
        let calibrated = self
            .champion
            .and_then(|c| models.iter().flatten().find(|m| m.model == c))
            .map_or(NO_MODEL_SCORE, |m| m.calibrated);
        Ok(PoolScore {
            seq,
            calibrated,
            champion: self.champion,
            models,
        })
    }

    /// Takes every disabled plugin model out of the active set for good, recording why,
    /// and hands the lead to the first active model left if it led. Returns whether any was
    /// taken out.
    fn drop_disabled(&mut self, seq: u64) -> bool {
        let mut any = false;
        for s in 0..self.slots.len() {
            let disabled = self.slots[s]
                .active
                .as_ref()
                .is_some_and(|a| a.member.model.is_disabled());
            if !disabled {
                continue;
            }
            any = true;
            let Some(active) = self.slots[s].active.take() else {
                continue;
            };
            self.slots[s].disabled = true;
            let kind = self.slots[s].kind;
            self.cancel_refits(kind);
            let model = active.member.model_ref;
            let why = active
                .member
                .model
                .plugin()
                .map_or_else(String::new, |p| p.disabled_reason());
            let led = self.champion == Some(model);
            if led {
                self.champion = None;
            }
            self.record(
                seq,
                DriftKind::Retired,
                model,
                format!(
                    "{model} is {why}; it leaves the active set for good, is neither retrained nor restored, and never leads"
                ),
                if led { Some(model) } else { self.champion },
            );
            if led {
                let next = self.actives().map(|a| a.member.model_ref).next();
                if let Some(next) = next {
                    let before = Some(model);
                    self.champion = Some(next);
                    self.record(
                        seq,
                        DriftKind::ChampionChanged,
                        next,
                        format!("champion {model} was disabled, so {next}, the first active model, leads"),
                        before,
                    );
                }
            }
        }
        any
    }

    /// Each plugin the pool runs: its kind, the failures its models had since the pool was
    /// made (or restored), and whether it is disabled.
    pub fn plugin_status(&self) -> Vec<PluginModelStatus> {
        self.slots
            .iter()
            .filter(|s| s.kind.plugin().is_some())
            .map(|s| PluginModelStatus {
                kind: s.kind,
                model: s.active.as_ref().map(|a| a.member.model_ref),
                failures: s.active.as_ref().map_or(0, |a| a.member.plugin_failures()),
                failures_total: s.failures_total,
                disabled: s.disabled,
            })
            .collect()
    }

    /// Index of the earliest job due at or before `seq` that has no result yet.
    fn first_missing_due(&self, seq: u64) -> Option<usize> {
        self.jobs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.job.due_seq <= seq && p.result.is_none())
            .min_by_key(|(_, p)| (p.job.due_seq, p.job.id))
            .map(|(i, _)| i)
    }

    /// Index of the earliest job due at or before `seq` (all have results).
    fn next_due(&self, seq: u64) -> Option<usize> {
        self.jobs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.job.due_seq <= seq)
            .min_by_key(|(_, p)| (p.job.due_seq, p.job.id))
            .map(|(i, _)| i)
    }

    /// Whether scoring an event with sequence number `seq` would wait for a fit.
    pub fn needs_fit(&self, seq: u64) -> bool {
        self.first_missing_due(seq).is_some()
    }

    /// Learns the event just scored. `alerted` is the alert decision taken on its score: the
    /// calibrators' reference only takes the scores of events that count as normal (not
    /// alerted on, unless feedback already said they are normal; feedback that an event is
    /// anomalous keeps it out too), and so does the baseline's training window. Online
    /// models learn every event.
    ///
    /// # Errors
    /// [`PoolError::NothingToLearn`] when no scored event waits, [`PoolError::LearnMismatch`]
    /// when `x` is not the vector scored; nothing changed.
    pub fn learn(&mut self, x: &[f64], alerted: bool) -> Result<(), PoolError> {
        if !self.awaiting_learn || self.history.len() == 0 {
            return Err(PoolError::NothingToLearn {
                last: self.last_seq,
            });
        }
        let i = self.history.len() - 1;
        let seq = self.history.seq(i);
        let same = x.len() == self.dim
            && x.iter()
                .zip(self.history.row(i))
                .all(|(a, b)| a.to_bits() == b.to_bits());
        if !same {
            return Err(PoolError::LearnMismatch { seq });
        }
        self.history.set_alerted(i, alerted);
        self.awaiting_learn = false;
        let normal = self.history.normal(i) == Some(true);
        // Under `WithinReference`, an alerted event without feedback still enters the
        // reference of each model that finds it within its reference.
        let tail_candidate = self.config.reference == crate::ReferencePolicy::WithinReference
            && alerted
            && self.history.label(i).is_none();
        for s in 0..self.slots.len() {
            let recorded = self.history.scores(i)[s];
            let Some(active) = self.slots[s].active.as_mut() else {
                continue;
            };
            if recorded.model != active.member.model_ref.id {
                continue;
            }
            if normal || (tail_candidate && active.member.within_reference(recorded.raw)) {
                active.member.offer(recorded.raw);
            }
            let failures = active.member.plugin_failures();
            active.member.learn(x)?;
            let failed = active.member.plugin_failures().saturating_sub(failures);
            self.slots[s].failures_total += failed;
        }
        self.drop_disabled(seq);
        for collection in &mut self.collections {
            collection.add(seq, x, normal);
        }
        self.start_complete_jobs(seq);
        if self.signal == Signal::Scores {
            // One slot per kind at most (as in `PoolScore`): no allocation per event.
            let mut values = [None; MAX_MODELS];
            let values = &mut values[..self.slots.len()];
            for (s, value) in values.iter_mut().enumerate() {
                *value = self.recorded_for_active(i, s).map(|r| r.calibrated);
            }
            self.update_adwins(values, seq)?;
        }
        Ok(())
    }

    /// The score history entry `i` holds for slot `s`, if the model that made it is still
    /// the slot's active model.
    fn recorded_for_active(&self, i: usize, s: usize) -> Option<SlotScore> {
        let recorded = self.history.scores(i)[s];
        let active = self.slots[s].active.as_ref()?;
        (recorded.model == active.member.model_ref.id).then_some(recorded)
    }

    /// Feedback about a recent event: anomalous or not. It turns into one error per model
    /// that scored the event (error = (calibrated ≥ `alert_threshold`) ≠ `anomalous`),
    /// which the model's ADWIN takes. The first feedback switches every ADWIN from scores to
    /// errors (they start empty then). An event that was alerted on and turns out normal
    /// has its scores offered to the calibrators' reference now.
    ///
    /// # Errors
    /// [`PoolError::FeedbackFromFuture`] for an event not scored yet.
    pub fn feedback(&mut self, seq: u64, anomalous: bool) -> Result<FeedbackOutcome, PoolError> {
        let last = self.last_seq;
        if last.is_none_or(|last| seq > last) {
            return Err(PoolError::FeedbackFromFuture { seq, last });
        }
        let Some(i) = self.history.find(seq) else {
            return Ok(FeedbackOutcome::OutOfWindow);
        };
        if self.history.label(i).is_some() {
            return Ok(FeedbackOutcome::Duplicate);
        }
        let false_positive = self.history.alerted(i) == Some(true) && !anomalous;
        self.history.set_label(i, anomalous);
        self.feedback_applied += 1;
        if self.signal == Signal::Scores {
            self.signal = Signal::Errors;
            let fresh = self.new_adwin();
            for slot in &mut self.slots {
                if let Some(active) = slot.active.as_mut() {
                    active.adwin = fresh.clone();
                }
            }
        }
        let threshold = self.config.alert_threshold;
        let mut values = [None; MAX_MODELS];
        let values = &mut values[..self.slots.len()];
        for (s, value) in values.iter_mut().enumerate() {
            let Some(recorded) = self.recorded_for_active(i, s) else {
                continue;
            };
            if false_positive && let Some(active) = self.slots[s].active.as_mut() {
                active.member.offer(recorded.raw);
            }
            let error = (recorded.calibrated >= threshold) != anomalous;
            *value = Some(f64::from(u8::from(error)));
        }
        let at = last.unwrap_or(seq);
        self.update_adwins(values, at)?;
        Ok(FeedbackOutcome::Applied)
    }

    /// Feeds each active model's ADWIN its value, acts on the champion's drift, and lets a
    /// clearly better challenger lead.
    fn update_adwins(&mut self, values: &[Option<f64>], seq: u64) -> Result<(), PoolError> {
        let champion = self.champion;
        let mut champion_drift = None;
        for (slot, value) in self.slots.iter_mut().zip(values) {
            let (Some(active), Some(value)) = (slot.active.as_mut(), value) else {
                continue;
            };
            let (before_mean, before_width) = (active.adwin.estimation(), active.adwin.width());
            let detected = active.adwin.update(*value);
            if detected && Some(active.member.model_ref) == champion {
                // The values the cut dropped: the champion's record before the change.
                let (after_mean, after_width) = (active.adwin.estimation(), active.adwin.width());
                let dropped = (before_width + 1).saturating_sub(after_width);
                if dropped > 0 {
                    let total =
                        before_mean * before_width as f64 + value - after_mean * after_width as f64;
                    champion_drift = Some(((total / dropped as f64).clamp(0.0, 1.0), dropped));
                }
            }
        }
        if let (Some(before), Some(champion)) = (champion_drift, champion) {
            let min_rise = self.config.min_drift_rise;
            let rose = self
                .slot_of_model(champion)
                .and_then(|s| self.slots[s].active.as_ref())
                .is_some_and(|a| {
                    let after = a.adwin.estimation();
                    after > before.0 && after - before.0 >= min_rise
                });
            // A drift towards fewer errors (or lower scores) is good news, not a reason to
            // replace the champion; a tiny rise is no reason either.
            if rose {
                self.on_champion_drift(champion, before, seq)?;
            }
        }
        self.select_champion(seq);
        Ok(())
    }

    /// Between drifts: a challenger with enough evidence whose estimate is more than
    /// `switch_margin` below the champion's takes the lead.
    fn select_champion(&mut self, seq: u64) {
        let min = self.config.min_evidence;
        let Some(champion) = self.champion else {
            return;
        };
        let Some(champion_active) = self
            .slot_of_model(champion)
            .and_then(|s| self.slots[s].active.as_ref())
        else {
            return;
        };
        let (c_est, c_width) = (
            champion_active.adwin.estimation(),
            champion_active.adwin.width(),
        );
        if c_width < min {
            return;
        }
        let mut best: Option<(ModelRef, f64, usize)> = None;
        for active in self.actives() {
            let model = active.member.model_ref;
            let (est, width) = (active.adwin.estimation(), active.adwin.width());
            if model == champion || width < min {
                continue;
            }
            if best.is_none_or(|(_, b, _)| est < b) {
                best = Some((model, est, width));
            }
        }
        let Some((model, est, width)) = best else {
            return;
        };
        if est + self.config.switch_margin < c_est {
            let what = self.signal.what();
            let reason = format!(
                "{model}'s {what} {est:.4} over its last {width} values is more than the margin {margin} below champion {champion}'s {c_est:.4} over {c_width}",
                margin = self.config.switch_margin,
            );
            self.set_champion(model, seq, reason);
        }
    }

    /// Makes `model` the champion and records it.
    fn set_champion(&mut self, model: ModelRef, seq: u64, reason: String) {
        let before = self.champion;
        self.champion = Some(model);
        self.record(seq, DriftKind::ChampionChanged, model, reason, before);
    }

    fn record(
        &mut self,
        seq: u64,
        kind: DriftKind,
        model: ModelRef,
        reason: String,
        champion_before: Option<ModelRef>,
    ) {
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(DriftEvent {
            seq,
            event_time_micros: self.last_event_time,
            kind,
            model,
            reason,
            champion_before,
            champion_after: self.champion,
        });
    }

    /// The champion's ADWIN saw its errors (or scores) rise. Everyone is compared on the
    /// events since the change: ADWIN's window after its cut (at most `recent_window_events`
    /// of it) still holds some events from before the change, so the change point is
    /// estimated inside it as the split where the champion's values rise most. The best
    /// challenger, or a retired model, takes the lead if it does at least as well as the
    /// champion there, and a fresh model of the champion's kind is trained on the post-drift
    /// window, unless a retired model of that kind does as well as the champion did before
    /// the drift (a regime that came back).
    fn on_champion_drift(
        &mut self,
        champion: ModelRef,
        before: (f64, usize),
        seq: u64,
    ) -> Result<(), PoolError> {
        let Some(cs) = self.slot_of_model(champion) else {
            return Ok(());
        };
        let Some((after_est, after_width)) = self.slots[cs]
            .active
            .as_ref()
            .map(|a| (a.adwin.estimation(), a.adwin.width()))
        else {
            return Ok(());
        };
        let what = self.signal.what();
        let drift = format!(
            "champion {champion}'s {what} rose from {:.4} over {} values to {after_est:.4} over the last {after_width} (ADWIN)",
            before.0, before.1
        );
        // How well a retired model must do on the recent window to be the answer to the
        // drift (a regime that came back) rather than a stopgap: as well as the champion did
        // before the drift, within two standard errors of that rate and switch_margin.
        let recurring_bar = |count: usize| {
            let p = before.0;
            p + self.config.switch_margin + 2.0 * (p * (1.0 - p) / count.max(1) as f64).sqrt()
        };
        let span = after_width
            .max(MIN_COMPARE_EVENTS)
            .min(self.config.recent_window_events)
            .min(self.history.len());
        let span_start = self.history.len() - span;
        let use_errors = (span_start..self.history.len()).any(|i| self.history.label(i).is_some());
        let start = self.change_point(cs, span_start, use_errors);
        let n = self.history.len() - start;
        let since = if start < self.history.len() {
            self.history.seq(start)
        } else {
            seq
        };
        let metric_name = if use_errors {
            "error rate"
        } else {
            "mean calibrated score"
        };
        let champion_metric = self.active_metric(cs, start, use_errors);

        // Candidates: challengers in slot order, then retired models, newest first; the
        // first of equals wins.
        let mut best: Option<(Candidate, f64, usize)> = None;
        for s in 0..self.slots.len() {
            if s == cs {
                continue;
            }
            if let Some((m, count)) = self.active_metric(s, start, use_errors)
                && best.as_ref().is_none_or(|(_, b, _)| m < *b)
            {
                best = Some((Candidate::Active(s), m, count));
            }
        }
        for r in (0..self.retired.len()).rev() {
            let member = &self.retired[r].member;
            let open = self
                .slot_of(member.model_ref.kind)
                .is_some_and(|s| !self.slots[s].disabled);
            if !open || member.model.is_disabled() {
                continue;
            }
            if let Some((m, count)) = self.retired_metric(r, start, use_errors)?
                && best.as_ref().is_none_or(|(_, b, _)| m < *b)
            {
                best = Some((Candidate::Retired(r), m, count));
            }
        }
        let champion_text = match champion_metric {
            Some((m, count)) => format!("{m:.4} over {count} events"),
            None => "nothing there".to_string(),
        };
        let wins = best
            .as_ref()
            .is_some_and(|(_, m, _)| champion_metric.is_none_or(|(cm, _)| *m <= cm));
        let best_name = best.as_ref().map(|(c, _, _)| self.candidate_ref(c));
        let outcome = match (&best, best_name) {
            (Some((Candidate::Active(_), m, count)), Some(model)) if wins => format!(
                "challenger {model} leads: its {metric_name} on the {n} events since the estimated change at event {since} was {m:.4} over {count} events, the champion's {champion_text}"
            ),
            (Some((Candidate::Retired(_), m, count)), Some(model)) if wins => format!(
                "retired {model} comes back: its {metric_name} on the {n} events since the estimated change at event {since} was {m:.4} over {count} events, the champion's {champion_text}"
            ),
            (Some((_, m, _)), Some(model)) => format!(
                "no model did as well on the {n} events since the estimated change at event {since} (best: {model} with {metric_name} {m:.4}, the champion's {champion_text}), so {champion} keeps the lead"
            ),
            _ => format!("no other model to compare, so {champion} keeps the lead"),
        };
        let recurring = wins
            && matches!(&best, Some((Candidate::Retired(r), m, count))
                if self.retired[*r].member.model_ref.kind == champion.kind
                    && *m <= recurring_bar(*count));
        // Restoring a model of the champion's kind cancels the refits of its slot.
        let restores_same_kind = wins
            && matches!(&best, Some((Candidate::Retired(r), _, _))
                if self.retired[*r].member.model_ref.kind == champion.kind);
        let refit_pending = self.refit_pending(champion.kind) && !restores_same_kind;
        let plan = if recurring {
            format!(
                "no fresh {} is needed: the returning model does as well as {champion} did before the drift",
                champion.kind
            )
        } else if refit_pending {
            format!("a fresh {} is already on its way", champion.kind)
        } else {
            format!(
                "a fresh {} will be trained on the post-drift window",
                champion.kind
            )
        };
        self.record(
            seq,
            DriftKind::DriftDetected,
            champion,
            format!("{drift}; {outcome}; {plan}; every model's record restarts"),
            self.champion,
        );
        if wins {
            match best {
                Some((Candidate::Active(s), _, _)) => {
                    if let Some(model) = self.slots[s].active.as_ref().map(|a| a.member.model_ref) {
                        self.set_champion(model, seq, format!("{drift}; {outcome}"));
                    }
                }
                Some((Candidate::Retired(r), _, _)) => {
                    self.restore_retired(r, seq, format!("{drift}; {outcome}"));
                }
                None => {}
            }
        }
        // A stopgap of the champion's kind is replaced by a fresh model like any drifted
        // champion.
        let disabled = self.slots[cs].disabled;
        if !recurring && !refit_pending && !disabled {
            self.schedule_retrain(champion.kind, after_width, seq);
        }
        // The stream changed: every model's record from before says little about after.
        // Restarting them all lets the models be compared between drifts on what they did
        // since, once each has `min_evidence` values again.
        let fresh = self.new_adwin();
        for slot in &mut self.slots {
            if let Some(active) = slot.active.as_mut() {
                active.adwin = fresh.clone();
            }
        }
        Ok(())
    }

    /// Estimated change point in the history from `span_start`: the first event after the
    /// split, with at least [`MIN_COMPARE_EVENTS`] valued events on each side, where the mean
    /// of slot `s`'s values (errors, or calibrated scores) rises most. Without room for such
    /// a split, `span_start`.
    fn change_point(&self, s: usize, span_start: usize, use_errors: bool) -> usize {
        let Some(active) = self.slots[s].active.as_ref() else {
            return span_start;
        };
        let id = active.member.model_ref.id;
        let threshold = self.config.alert_threshold;
        let mut valued: Vec<(usize, f64)> = Vec::new();
        for i in span_start..self.history.len() {
            let recorded = self.history.scores(i)[s];
            if recorded.model != id {
                continue;
            }
            let value = if use_errors {
                match self.history.label(i) {
                    Some(anomalous) => {
                        f64::from(u8::from((recorded.calibrated >= threshold) != anomalous))
                    }
                    None => continue,
                }
            } else {
                recorded.calibrated
            };
            valued.push((i, value));
        }
        let m = valued.len();
        if m < 2 * MIN_COMPARE_EVENTS {
            return span_start;
        }
        let total: f64 = valued.iter().map(|(_, v)| v).sum();
        let mut before = 0.0;
        let mut best: Option<(f64, usize)> = None;
        for (k, (_, v)) in valued.iter().enumerate().take(m - MIN_COMPARE_EVENTS) {
            if k >= MIN_COMPARE_EVENTS {
                let rise = (total - before) / (m - k) as f64 - before / k as f64;
                if best.is_none_or(|(b, _)| rise > b) {
                    best = Some((rise, k));
                }
            }
            before += v;
        }
        best.map_or(span_start, |(_, k)| valued[k].0)
    }

    fn candidate_ref(&self, candidate: &Candidate) -> ModelRef {
        match candidate {
            Candidate::Active(s) => self.slots[*s].active.as_ref().map(|a| a.member.model_ref),
            Candidate::Retired(r) => self.retired.get(*r).map(|m| m.member.model_ref),
        }
        .unwrap_or(ModelRef {
            kind: ModelKind::Ocsvm,
            id: 0,
        })
    }

    /// Mean error (or calibrated score) of slot `s`'s active model over the history from
    /// `start`, from the scores it recorded; `None` when it scored none of those events.
    fn active_metric(&self, s: usize, start: usize, use_errors: bool) -> Option<(f64, usize)> {
        let id = self.slots[s].active.as_ref()?.member.model_ref.id;
        let threshold = self.config.alert_threshold;
        let (mut sum, mut count) = (0.0, 0usize);
        for i in start..self.history.len() {
            let recorded = self.history.scores(i)[s];
            if recorded.model != id {
                continue;
            }
            if use_errors {
                let Some(anomalous) = self.history.label(i) else {
                    continue;
                };
                sum += f64::from(u8::from((recorded.calibrated >= threshold) != anomalous));
            } else {
                sum += recorded.calibrated;
            }
            count += 1;
        }
        (count > 0).then(|| (sum / count as f64, count))
    }

    /// The same for retired model `r`, which scores the history's events now.
    fn retired_metric(
        &self,
        r: usize,
        start: usize,
        use_errors: bool,
    ) -> Result<Option<(f64, usize)>, PoolError> {
        let member = &self.retired[r].member;
        let threshold = self.config.alert_threshold;
        let (mut sum, mut count) = (0.0, 0usize);
        for i in start..self.history.len() {
            let label = self.history.label(i);
            if use_errors && label.is_none() {
                continue;
            }
            let Some((_, calibrated)) =
                member.score(self.history.row(i), self.config.min_reference_scores)?
            else {
                continue;
            };
            sum += match label {
                Some(anomalous) if use_errors => {
                    f64::from(u8::from((calibrated >= threshold) != anomalous))
                }
                _ => calibrated,
            };
            count += 1;
        }
        Ok((count > 0).then(|| (sum / count as f64, count)))
    }

    /// Puts retired model `r` back into its kind's slot as champion; the model it replaces
    /// retires, and a refit pending for that slot is cancelled (it would replace it again).
    fn restore_retired(&mut self, r: usize, seq: u64, reason: String) {
        let Some(retired) = self.retired.remove(r) else {
            return;
        };
        let model = retired.member.model_ref;
        let Some(s) = self.slot_of(model.kind) else {
            self.retired.insert(r, retired);
            return;
        };
        let adwin = self.new_adwin();
        let old = self.slots[s].active.replace(Active {
            member: retired.member,
            adwin,
            since_seq: seq,
        });
        self.cancel_refits(model.kind);
        let before = self.champion;
        self.champion = Some(model);
        self.record(
            seq,
            DriftKind::Restored,
            model,
            format!("{reason}; it had retired at event {}", retired.retired_seq),
            before,
        );
        self.record(seq, DriftKind::ChampionChanged, model, reason, before);
        if let Some(old) = old {
            self.retire(
                old.member,
                seq,
                format!("the retired {model} of the same kind was restored in its place"),
            );
        }
    }

    /// Moves a model to the retired pool (oldest out), or drops it when the pool keeps none.
    fn retire(&mut self, member: Member, seq: u64, why: String) {
        let model = member.model_ref;
        let max = self.config.max_retired_models;
        let reason = if max == 0 {
            format!("{why}; dropped, since max_retired_models is 0")
        } else {
            self.retired.push_back(Retired {
                member,
                retired_seq: seq,
            });
            let mut reason = why;
            while self.retired.len() > max {
                if let Some(dropped) = self.retired.pop_front() {
                    reason.push_str(&format!(
                        "; the oldest retired model {} leaves the pool (max_retired_models {max})",
                        dropped.member.model_ref
                    ));
                }
            }
            reason
        };
        self.record(seq, DriftKind::Retired, model, reason, self.champion);
    }

    fn refit_pending(&self, kind: ModelKind) -> bool {
        self.collections.iter().any(|c| c.kind == kind)
            || self.jobs.iter().any(|p| p.job.kind() == kind)
    }

    fn cancel_refits(&mut self, kind: ModelKind) {
        self.collections.retain(|c| c.kind != kind);
        self.jobs.retain(|p| p.job.kind() != kind);
    }

    /// Starts the training window of a fresh model of `kind` with the newest `post_width`
    /// learned events (at most `retrain_max_events`); it completes once it holds
    /// `retrain_min_events`.
    fn schedule_retrain(&mut self, kind: ModelKind, post_width: usize, seq: u64) {
        self.schedule_fit(
            kind,
            FitPurpose::AfterDrift { drift_seq: seq },
            post_width,
            seq,
        );
    }

    /// Starts the training window of a fresh model of `kind` for `purpose` with the newest
    /// `width` learned events (at most `retrain_max_events`).
    fn schedule_fit(&mut self, kind: ModelKind, purpose: FitPurpose, width: usize, seq: u64) {
        let n = width
            .min(self.config.retrain_max_events)
            .min(self.history.len());
        let mut collection = Collection::new(kind, purpose, self.config.retrain_min_events);
        for i in self.history.len() - n..self.history.len() {
            // The event still waiting for `learn` joins the window when it is learned.
            if self.history.alerted(i).is_some() {
                collection.add(
                    self.history.seq(i),
                    self.history.row(i),
                    self.history.normal(i) == Some(true),
                );
            }
        }
        self.collections.push(collection);
        self.start_complete_jobs(seq);
    }

    /// An analyst's request for a fresh model of `kind`, trained the way a drift trains one:
    /// on the recent window (the newest `retrain_max_events` learned events, for the batch
    /// OCSVM those that count as normal), collected further until it holds
    /// `retrain_min_events`. Call it between events (after [`learn`](Self::learn)); it is
    /// part of the stream's order like any other call, so the pool stays deterministic: the
    /// window ends at the last event learned, the fit starts when the window is complete and
    /// takes effect `swap_after_events` later, the model it replaces retires, and if that
    /// model led, the fresh one leads. The champion and the ADWINs are left alone. A
    /// [`DriftKind::RetrainRequested`] event records the request, with the reason "retrain
    /// requested by an analyst".
    ///
    /// Answers [`RetrainRequest::AlreadyPending`] and changes nothing when a fresh model of
    /// that kind is already being collected or fitted (after a drift, an earlier request, or
    /// the baseline's first fit).
    ///
    /// # Errors
    /// - [`PoolError::ModelNotInPool`] for a kind the pool does not run.
    /// - [`PoolError::NotLearned`] between `score` and `learn`; nothing changed.
    ///
    /// ```
    /// use vigil_pool::{DriftKind, ModelKind, Pool, PoolConfig, RetrainRequest};
    /// let config = PoolConfig {
    ///     models: vec![ModelKind::Hst],
    ///     retrain_min_events: 100,
    ///     retrain_max_events: 200,
    ///     swap_after_events: 50,
    ///     min_drift_rise: 0.99,
    ///     ..PoolConfig::default()
    /// };
    /// let mut pool = Pool::new(1, config)?;
    /// for seq in 0..300u64 {
    ///     let x = [(seq % 5) as f64];
    ///     pool.score(&x, seq)?;
    ///     pool.learn(&x, false)?;
    /// }
    /// let request = pool.request_retrain(ModelKind::Hst)?;
    /// assert_eq!(request, RetrainRequest::Scheduled { replaces: pool.champion(), rows: 200, due_seq: Some(349) });
    /// assert_eq!(pool.request_retrain(ModelKind::Hst)?, RetrainRequest::AlreadyPending);
    /// assert!(pool.request_retrain(ModelKind::Ocsvm).is_err());
    /// let events = pool.drain_events();
    /// assert_eq!(events[0].kind, DriftKind::RetrainRequested);
    /// assert!(events[0].reason.starts_with("retrain requested by an analyst"));
    /// # Ok::<(), vigil_pool::PoolError>(())
    /// ```
    pub fn request_retrain(&mut self, kind: ModelKind) -> Result<RetrainRequest, PoolError> {
        let Some(s) = self.slot_of(kind).filter(|&s| !self.slots[s].disabled) else {
            return Err(PoolError::ModelNotInPool {
                kind,
                models: self
                    .config
                    .models
                    .iter()
                    .filter(|k| self.slot_of(**k).is_some_and(|s| !self.slots[s].disabled))
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if self.awaiting_learn
            && let Some(last) = self.last_seq
        {
            return Err(PoolError::NotLearned {
                seq: last,
                pending: last,
            });
        }
        if self.refit_pending(kind) {
            return Ok(RetrainRequest::AlreadyPending);
        }
        let seq = self.last_seq.unwrap_or(0);
        let replaces = self.slots[s].active.as_ref().map(|a| a.member.model_ref);
        let window = self.config.retrain_max_events;
        let first_job = self.next_job_id;
        self.schedule_fit(
            kind,
            FitPurpose::Requested { request_seq: seq },
            window,
            seq,
        );
        let (rows, due_seq) = match self.jobs.iter().find(|p| p.job.id >= first_job) {
            Some(pending) => (pending.job.rows(), Some(pending.job.due_seq)),
            None => (
                self.collections
                    .iter()
                    .find(|c| c.kind == kind)
                    .map_or(0, Collection::len),
                None,
            ),
        };
        let plan = match due_seq {
            Some(due) => format!(
                "a fresh {kind} is trained on the {rows} newest events it can learn from and takes effect at event {due}"
            ),
            None => format!(
                "a fresh {kind} collects its window ({rows} of {} events so far) and is fitted when it is complete",
                self.config.retrain_min_events
            ),
        };
        let model = replaces.unwrap_or(ModelRef { kind, id: 0 });
        let replaced = match replaces {
            Some(old) => format!("; it replaces {old}"),
            None => String::new(),
        };
        self.record(
            seq,
            DriftKind::RetrainRequested,
            model,
            format!("retrain requested by an analyst: {plan}{replaced}"),
            self.champion,
        );
        Ok(RetrainRequest::Scheduled {
            replaces,
            rows,
            due_seq,
        })
    }

    /// Turns every complete training window into a job due at `seq + swap_after_events`.
    fn start_complete_jobs(&mut self, seq: u64) {
        let mut k = 0;
        while k < self.collections.len() {
            if !self.collections[k].is_complete() {
                k += 1;
                continue;
            }
            let c = self.collections.remove(k);
            let id = self.next_model_id;
            self.next_model_id += 1;
            let job_id = self.next_job_id;
            self.next_job_id += 1;
            let seed = derive_seed(self.config.seed, id);
            let job = FitJob {
                id: job_id,
                model: ModelRef { kind: c.kind, id },
                purpose: c.purpose,
                dim: self.dim,
                first_seq: c.first_seq.unwrap_or(seq),
                last_seq: c.last_seq.unwrap_or(seq),
                rows: c.rows,
                normal: c.normal,
                fit_start_seq: seq,
                due_seq: seq.saturating_add(self.config.swap_after_events),
                params: ModelParams::for_kind(&self.config, c.kind, seed),
                calibration: calibrator_config(&self.config.calibration, id),
            };
            self.jobs.push(PendingJob {
                job,
                handed_out: false,
                result: None,
            });
        }
    }

    /// Puts a finished job into effect before event `seq` is scored.
    fn take_effect(&mut self, pending: PendingJob, seq: u64) -> Result<(), PoolError> {
        let job = pending.job;
        let model = job.model;
        let Some(result) = pending.result else {
            return Ok(());
        };
        let window = format!(
            "{} events (events {} to {})",
            job.rows(),
            job.first_seq,
            job.last_seq
        );
        let mut member = match result {
            Ok(member) => member,
            Err(e) => {
                let next = match job.purpose {
                    FitPurpose::Baseline => {
                        self.collections.push(Collection::new(
                            model.kind,
                            FitPurpose::Baseline,
                            self.config.baseline_train_events,
                        ));
                        "the baseline collects a new training window"
                    }
                    FitPurpose::AfterDrift { .. } | FitPurpose::Requested { .. } => {
                        "the model it was to replace stays"
                    }
                };
                let reason = format!("the fit of {model} on {window} failed: {e}; {next}");
                self.record(seq, DriftKind::FitFailed, model, reason, self.champion);
                return Ok(());
            }
        };
        let Some(s) = self.slot_of(model.kind) else {
            return Ok(());
        };
        // The fresh model goes through the events it missed while it was being fitted: an
        // online model learns them, and every model's reference gets their scores. The
        // batch OCSVM needs these out-of-sample scores: its training rows score lower than
        // new normal events do, so a reference of those alone calibrates normal traffic too
        // high (on UNSW-NB15 the pool's ROC AUC fell from 0.99 to 0.86 without them).
        let caught_up = self.catch_up(&mut member, job.fit_start_seq)?;
        let support = match &member.model {
            Model::Ocsvm(m) => format!(", {} support vectors", m.model().n_support()),
            _ => String::new(),
        };
        if self.slots[s].disabled {
            return Ok(());
        }
        let timing = format!(
            "the window was complete at event {}, so it took effect at event {seq} (due at {}: fit start + swap_after_events {})",
            job.fit_start_seq, job.due_seq, self.config.swap_after_events
        );
        let caught = if caught_up > 0 {
            format!(", after catching up on the {caught_up} events since the fit start")
        } else {
            String::new()
        };
        let adwin = self.new_adwin();
        let old = self.slots[s].active.replace(Active {
            member,
            adwin,
            since_seq: seq,
        });
        let (kind, reason) = match job.purpose {
            FitPurpose::Baseline => (
                DriftKind::BaselineFitted,
                format!(
                    "{model} fitted on {window} that count as normal{support}; {timing}{caught}"
                ),
            ),
            FitPurpose::AfterDrift { drift_seq } => (
                DriftKind::Retrained,
                format!(
                    "{model} trained on {window} after the drift at event {drift_seq}{support}; {timing}{caught}"
                ),
            ),
            FitPurpose::Requested { request_seq } => (
                DriftKind::Retrained,
                format!(
                    "{model} trained on {window} as an analyst requested at event {request_seq}{support}; {timing}{caught}"
                ),
            ),
        };
        self.record(seq, kind, model, reason, self.champion);
        if let Some(old) = old {
            let old_ref = old.member.model_ref;
            if self.champion == Some(old_ref) {
                self.set_champion(
                    model,
                    seq,
                    format!("{old_ref} makes way for its fresh replacement {model}"),
                );
            }
            self.retire(old.member, seq, format!("replaced by the fresh {model}"));
        }
        if self.stand_in && model.kind.is_batch() {
            self.stand_in = false;
            if self.champion != Some(model) {
                let reason = match self.champion {
                    Some(stand_in) => format!(
                        "the baseline {model} takes over from {stand_in}, which stood in for it until it was fitted"
                    ),
                    None => format!("the baseline {model} is the first model able to score"),
                };
                self.set_champion(model, seq, reason);
            }
        } else if self.champion.is_none() {
            self.set_champion(
                model,
                seq,
                format!("{model} is the first model able to score"),
            );
        }
        Ok(())
    }

    /// Brings a fresh model up to date on the events since its fit started: score, offer
    /// the score if the event counts as normal, learn. Returns how many it went through.
    fn catch_up(&self, member: &mut Member, fit_start_seq: u64) -> Result<usize, PoolError> {
        let from = self.history.first_after(fit_start_seq);
        for i in from..self.history.len() {
            let row = self.history.row(i);
            let Some((raw, _)) = member.score(row, self.config.min_reference_scores)? else {
                continue;
            };
            if self.history.normal(i) == Some(true) {
                member.offer(raw);
            }
            member.learn(row)?;
        }
        Ok(self.history.len() - from)
    }

    /// The next fit to run that has not been handed out yet (each job is handed out once
    /// per pool instance; after a restore, pending jobs are handed out again). Run it on any
    /// thread and [`install`](Self::install) the result before its due event.
    pub fn fit_job(&mut self) -> Option<FitJob> {
        let pending = self
            .jobs
            .iter_mut()
            .filter(|p| !p.handed_out && p.result.is_none())
            .min_by_key(|p| p.job.id)?;
        pending.handed_out = true;
        Some(pending.job.clone())
    }

    /// Installs a finished fit. It takes effect when its due event is scored, never before,
    /// so the stream scores the same whenever the fit finished. A result for a job the pool
    /// no longer waits for (already installed, or cancelled because a retired model of its
    /// kind came back) is discarded.
    ///
    /// # Errors
    /// [`PoolError::UnknownJob`] for a job this pool never created.
    pub fn install(&mut self, done: FitDone) -> Result<(), PoolError> {
        if let Some(pending) = self.jobs.iter_mut().find(|p| p.job.id == done.job) {
            if pending.result.is_none() {
                pending.result = Some(done.outcome);
            }
            return Ok(());
        }
        if done.job < self.next_job_id {
            return Ok(());
        }
        Err(PoolError::UnknownJob { job: done.job })
    }

    /// Runs every pending fit without a result here and now (handed out or not) and installs
    /// it: what a synchronous caller does on [`PoolError::WaitingForFit`]. Returns how many
    /// fits ran.
    ///
    /// # Errors
    /// None today; the signature leaves room for fits that can fail outside the model.
    pub fn run_pending_fits(&mut self) -> Result<usize, PoolError> {
        let mut ran = 0;
        for pending in &mut self.jobs {
            if pending.result.is_none() {
                pending.result = Some(pending.job.run().outcome);
                ran += 1;
            }
        }
        Ok(ran)
    }

    /// The decisions taken since the last call, oldest first.
    pub fn drain_events(&mut self) -> Vec<DriftEvent> {
        self.events.drain(..).collect()
    }

    /// Decisions dropped because more than [`MAX_PENDING_EVENTS`] were waiting to be drained.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// A picture of the pool for the API and metrics.
    pub fn status(&self) -> PoolStatus {
        PoolStatus {
            champion: self.champion,
            signal: self.signal,
            last_seq: self.last_seq,
            feedback_applied: self.feedback_applied,
            models: self
                .actives()
                .map(|a| ModelStatus {
                    model: a.member.model_ref,
                    champion: self.champion == Some(a.member.model_ref),
                    estimate: a.adwin.estimation(),
                    evidence: a.adwin.width(),
                    references: a.member.calibrator.len(),
                    since_seq: a.since_seq,
                })
                .collect(),
            retired: self
                .retired
                .iter()
                .map(|r| RetiredStatus {
                    model: r.member.model_ref,
                    retired_seq: r.retired_seq,
                })
                .collect(),
            collecting: self
                .collections
                .iter()
                .map(|c| CollectingStatus {
                    kind: c.kind,
                    rows: c.len(),
                    target: c.target,
                })
                .collect(),
            fits: self
                .jobs
                .iter()
                .map(|p| FitStatus {
                    job: p.job.id,
                    model: p.job.model,
                    rows: p.job.rows(),
                    fit_start_seq: p.job.fit_start_seq,
                    due_seq: p.job.due_seq,
                    installed: p.result.is_some(),
                })
                .collect(),
            events_dropped: self.events_dropped,
        }
    }
}

/// One plugin of the pool in [`Pool::plugin_status`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginModelStatus {
    /// Its kind (`plugin:<name>`).
    pub kind: ModelKind,
    /// Its active model, if it has one.
    pub model: Option<ModelRef>,
    /// Failures of the active model.
    pub failures: u64,
    /// Failures of its models while scoring and learning the stream since the pool was
    /// made or restored.
    pub failures_total: u64,
    /// Whether it was disabled (and left the active set for good).
    pub disabled: bool,
}

/// What [`Pool::request_retrain`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RetrainRequest {
    /// A fresh model's training window was started.
    Scheduled {
        /// The active model it will replace, if the slot has one.
        replaces: Option<ModelRef>,
        /// Rows in its window so far (the whole window once the fit started).
        rows: usize,
        /// Event from which it scores, when the window was complete at once and the fit
        /// started; `None` while the window is still collected.
        due_seq: Option<u64>,
    },
    /// A fresh model of that kind is already on its way; nothing changed.
    AlreadyPending,
}

/// A model compared after a drift.
enum Candidate {
    Active(usize),
    Retired(usize),
}

/// What [`Pool::status`] reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStatus {
    /// The champion.
    pub champion: Option<ModelRef>,
    /// What the ADWINs watch.
    pub signal: Signal,
    /// The last event scored.
    pub last_seq: Option<u64>,
    /// Feedback turned into errors so far.
    pub feedback_applied: u64,
    /// The active models, in slot order.
    pub models: Vec<ModelStatus>,
    /// The retired pool, oldest first.
    pub retired: Vec<RetiredStatus>,
    /// Training windows being collected.
    pub collecting: Vec<CollectingStatus>,
    /// Fits created and not yet in effect.
    pub fits: Vec<FitStatus>,
    /// Drift events dropped undrained.
    pub events_dropped: u64,
}

/// One active model in [`PoolStatus`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStatus {
    /// The model.
    pub model: ModelRef,
    /// Whether it is the champion.
    pub champion: bool,
    /// Its ADWIN's estimate: error rate, or mean calibrated score before any feedback.
    pub estimate: f64,
    /// Values that estimate rests on.
    pub evidence: usize,
    /// Reference scores its calibrator holds.
    pub references: usize,
    /// Sequence number of the event from which it scores.
    pub since_seq: u64,
}

/// One retired model in [`PoolStatus`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetiredStatus {
    /// The model.
    pub model: ModelRef,
    /// When it retired.
    pub retired_seq: u64,
}

/// A training window in [`PoolStatus`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectingStatus {
    /// Kind of the model it is for.
    pub kind: ModelKind,
    /// Rows so far.
    pub rows: usize,
    /// Rows it waits for.
    pub target: usize,
}

/// A fit in [`PoolStatus`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitStatus {
    /// The job.
    pub job: u64,
    /// The model it makes.
    pub model: ModelRef,
    /// Training rows.
    pub rows: usize,
    /// Event at which its window was complete.
    pub fit_start_seq: u64,
    /// Event from which the model scores.
    pub due_seq: u64,
    /// Whether its result is installed.
    pub installed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fit_is_recorded_when_due_and_the_baseline_collects_again() {
        let config = PoolConfig {
            models: vec![ModelKind::Ocsvm, ModelKind::Hst],
            baseline_train_events: 20,
            swap_after_events: 5,
            min_drift_rise: 0.99,
            ..PoolConfig::default()
        };
        let mut pool = Pool::new(1, config).unwrap_or_else(|e| panic!("{e}"));
        let mut seq = 0u64;
        let job = loop {
            let x = [(seq % 3) as f64];
            pool.score(&x, seq).unwrap_or_else(|e| panic!("{e}"));
            pool.learn(&x, false).unwrap_or_else(|e| panic!("{e}"));
            seq += 1;
            if let Some(job) = pool.fit_job() {
                break job;
            }
        };
        let failure = vigil_detectors::DetectorError::NotFitted {
            detector: "ocsvm".into(),
        };
        pool.install(FitDone {
            job: job.id(),
            outcome: Err(failure),
        })
        .unwrap_or_else(|e| panic!("{e}"));
        // Nothing happens before the due event.
        while seq < job.due_seq() {
            pool.score(&[0.0], seq).unwrap_or_else(|e| panic!("{e}"));
            pool.learn(&[0.0], false).unwrap_or_else(|e| panic!("{e}"));
            seq += 1;
        }
        assert!(pool.drain_events().is_empty());
        let scored = pool.score(&[0.0], seq).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scored.champion.map(|m| m.kind), Some(ModelKind::Hst));
        let events = pool.drain_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, DriftKind::FitFailed);
        assert_eq!(events[0].seq, job.due_seq());
        assert!(
            events[0].reason.contains("not fitted yet"),
            "{}",
            events[0].reason
        );
        assert!(events[0].reason.contains("collects a new training window"));
        let status = pool.status();
        assert!(status.fits.is_empty());
        assert_eq!(status.collecting.len(), 1);
        assert_eq!(
            (status.collecting[0].rows, status.collecting[0].target),
            (0, 20)
        );
    }
    fn retrain_config() -> PoolConfig {
        PoolConfig {
            models: vec![ModelKind::Hst, ModelKind::OnlineOcsvm],
            retrain_min_events: 100,
            retrain_max_events: 150,
            swap_after_events: 40,
            min_drift_rise: 0.99,
            min_evidence: 1_000_000,
            ..PoolConfig::default()
        }
    }

    fn row(seq: u64) -> [f64; 2] {
        [(seq % 7) as f64, ((seq * 3) % 11) as f64 * 0.5]
    }

    /// Scores and learns events `from..to`, running due fits inline; returns the scores' bits.
    fn feed(pool: &mut Pool, from: u64, to: u64) -> Vec<u64> {
        let mut bits = Vec::new();
        for seq in from..to {
            let x = row(seq);
            let scored = match pool.score(&x, seq) {
                Err(PoolError::WaitingForFit { .. }) => {
                    pool.run_pending_fits().unwrap_or_else(|e| panic!("{e}"));
                    pool.score(&x, seq)
                }
                other => other,
            }
            .unwrap_or_else(|e| panic!("{e}"));
            bits.extend(scored.models().map(|m| m.calibrated.to_bits()));
            pool.learn(&x, scored.calibrated >= 0.95)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        bits
    }

    #[test]
    fn a_requested_retrain_fits_the_recent_window_and_takes_effect_when_due() {
        let mut pool = Pool::new(2, retrain_config()).unwrap_or_else(|e| panic!("{e}"));
        feed(&mut pool, 0, 200);
        pool.drain_events();
        let old = pool.champion().expect("a champion");
        assert_eq!(old.kind, ModelKind::Hst);
        // Not between score and learn.
        pool.score(&row(200), 200).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            pool.request_retrain(ModelKind::Hst),
            Err(PoolError::NotLearned { .. })
        ));
        pool.learn(&row(200), false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            pool.request_retrain(ModelKind::Ocsvm),
            Err(PoolError::ModelNotInPool {
                kind: ModelKind::Ocsvm,
                ..
            })
        ));
        let request = pool
            .request_retrain(ModelKind::Hst)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            request,
            RetrainRequest::Scheduled {
                replaces: Some(old),
                rows: 150,
                due_seq: Some(240),
            }
        );
        assert_eq!(
            pool.request_retrain(ModelKind::Hst)
                .unwrap_or_else(|e| panic!("{e}")),
            RetrainRequest::AlreadyPending
        );
        let events = pool.drain_events();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].kind, events[0].seq, events[0].model),
            (DriftKind::RetrainRequested, 200, old)
        );
        assert!(
            events[0].reason.starts_with(
                "retrain requested by an analyst: a fresh hst is trained on the 150 newest events"
            ),
            "{}",
            events[0].reason
        );
        let job = pool.fit_job().expect("the requested fit");
        assert_eq!(job.purpose(), FitPurpose::Requested { request_seq: 200 });
        assert_eq!((job.window(), job.due_seq()), ((51, 200), 240));
        // Nothing changes before the due event, and the fresh model leads from it.
        pool.install(job.run()).unwrap_or_else(|e| panic!("{e}"));
        feed(&mut pool, 201, 240);
        assert!(pool.drain_events().is_empty());
        assert_eq!(pool.champion(), Some(old));
        feed(&mut pool, 240, 241);
        let events = pool.drain_events();
        let kinds: Vec<DriftKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                DriftKind::Retrained,
                DriftKind::ChampionChanged,
                DriftKind::Retired
            ]
        );
        assert!(events.iter().all(|e| e.seq == 240));
        assert!(
            events[0]
                .reason
                .contains("as an analyst requested at event 200"),
            "{}",
            events[0].reason
        );
        assert_eq!(events[2].model, old);
        assert_eq!(pool.champion(), Some(events[0].model));
        assert_eq!(pool.retired_models(), vec![old]);
    }

    #[test]
    fn a_requested_retrain_is_deterministic_across_a_snapshot() {
        let run = |snapshot_at: Option<u64>| -> Vec<u64> {
            let mut pool = Pool::new(2, retrain_config()).unwrap_or_else(|e| panic!("{e}"));
            feed(&mut pool, 0, 180);
            pool.request_retrain(ModelKind::OnlineOcsvm)
                .unwrap_or_else(|e| panic!("{e}"));
            let mut bits = Vec::new();
            match snapshot_at {
                Some(at) => {
                    bits.extend(feed(&mut pool, 180, at));
                    let bytes = pool.snapshot();
                    let mut restored =
                        Pool::new(2, retrain_config()).unwrap_or_else(|e| panic!("{e}"));
                    restored.restore(&bytes).unwrap_or_else(|e| panic!("{e}"));
                    bits.extend(feed(&mut restored, at, 400));
                }
                None => bits.extend(feed(&mut pool, 180, 400)),
            }
            bits
        };
        let straight = run(None);
        assert_eq!(
            straight,
            run(Some(200)),
            "restored while the fit was pending"
        );
        assert_eq!(straight, run(Some(300)), "restored after it took effect");
        let mut unrequested = Pool::new(2, retrain_config()).unwrap_or_else(|e| panic!("{e}"));
        feed(&mut unrequested, 0, 180);
        assert_ne!(
            straight,
            feed(&mut unrequested, 180, 400),
            "the fresh model scores differently"
        );
    }
}
