//! Background fits: the training window a model waits for, the job that fits it (on any
//! thread), and its result.

use vigil_detectors::calibration::{Calibrator, CalibratorConfig};
use vigil_detectors::{Detector, DetectorError};

use crate::ModelKind;
use crate::model::{Member, Model, ModelParams, ModelRef};

/// Why a fit was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitPurpose {
    /// The baseline's first fit, on the first events after start that count as normal.
    Baseline,
    /// A fresh model after the champion's drift at `drift_seq`, on the post-drift window.
    AfterDrift {
        /// Sequence number at which the drift was acted on.
        drift_seq: u64,
    },
    /// A fresh model an analyst asked for ([`Pool::request_retrain`](crate::Pool::request_retrain))
    /// at `request_seq` (the last event scored then), on the recent window.
    Requested {
        /// Sequence number of the last event scored when the request was taken.
        request_seq: u64,
    },
}

impl FitPurpose {
    pub(crate) fn code(self) -> (u64, u64) {
        match self {
            FitPurpose::Baseline => (0, 0),
            FitPurpose::AfterDrift { drift_seq } => (1, drift_seq),
            FitPurpose::Requested { request_seq } => (2, request_seq),
        }
    }

    pub(crate) fn from_code(code: u64, drift_seq: u64) -> Option<FitPurpose> {
        match code {
            0 => Some(FitPurpose::Baseline),
            1 => Some(FitPurpose::AfterDrift { drift_seq }),
            2 => Some(FitPurpose::Requested {
                request_seq: drift_seq,
            }),
            _ => None,
        }
    }
}

/// A training window being collected: rows are added event by event (for the batch OCSVM
/// only those that count as normal) until there are `target` of them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Collection {
    pub(crate) kind: ModelKind,
    pub(crate) purpose: FitPurpose,
    pub(crate) target: usize,
    pub(crate) rows: Vec<f64>,
    pub(crate) normal: Vec<bool>,
    pub(crate) first_seq: Option<u64>,
    pub(crate) last_seq: Option<u64>,
}

impl Collection {
    pub(crate) fn new(kind: ModelKind, purpose: FitPurpose, target: usize) -> Collection {
        Collection {
            kind,
            purpose,
            target,
            rows: Vec::new(),
            normal: Vec::new(),
            first_seq: None,
            last_seq: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.normal.len()
    }

    /// Adds an event's row if this kind trains on it.
    pub(crate) fn add(&mut self, seq: u64, row: &[f64], normal: bool) {
        if self.kind.is_batch() && !normal {
            return;
        }
        self.rows.extend_from_slice(row);
        self.normal.push(normal);
        self.first_seq.get_or_insert(seq);
        self.last_seq = Some(seq);
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.len() >= self.target
    }
}

/// A fit to run, on any thread: owned training rows and parameters. Running it is a pure
/// function of its contents, so the model it gives does not depend on when or where it ran.
///
/// ```
/// use vigil_pool::{Pool, PoolConfig, ModelKind};
/// let config = PoolConfig {
///     models: vec![ModelKind::Ocsvm],
///     baseline_train_events: 50,
///     swap_after_events: 10,
///     ..PoolConfig::default()
/// };
/// let mut pool = Pool::new(2, config)?;
/// for seq in 0..50u64 {
///     let x = [(seq % 7) as f64, (seq % 5) as f64];
///     pool.score(&x, seq)?;
///     pool.learn(&x, false)?;
/// }
/// // The training window is complete: a job waits, due at event 49 + 10.
/// let job = pool.fit_job().expect("the baseline job");
/// assert_eq!((job.kind(), job.rows(), job.due_seq()), (ModelKind::Ocsvm, 50, 59));
/// let done = std::thread::spawn(move || job.run()).join().expect("the fit thread");
/// pool.install(done)?;
/// # Ok::<(), vigil_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FitJob {
    pub(crate) id: u64,
    pub(crate) model: ModelRef,
    pub(crate) purpose: FitPurpose,
    pub(crate) dim: usize,
    pub(crate) rows: Vec<f64>,
    pub(crate) normal: Vec<bool>,
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    pub(crate) fit_start_seq: u64,
    pub(crate) due_seq: u64,
    pub(crate) params: ModelParams,
    pub(crate) calibration: CalibratorConfig,
}

impl FitJob {
    /// The job's id, unique within the pool.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The model it makes.
    pub fn model(&self) -> ModelRef {
        self.model
    }

    /// Its kind.
    pub fn kind(&self) -> ModelKind {
        self.model.kind
    }

    /// Why it was started.
    pub fn purpose(&self) -> FitPurpose {
        self.purpose
    }

    /// Number of training rows.
    pub fn rows(&self) -> usize {
        self.normal.len()
    }

    /// The training rows, row-major (`rows() x dim` values), oldest first. The batch OCSVM's
    /// hold only events that count as normal.
    pub fn training_rows(&self) -> &[f64] {
        &self.rows
    }

    /// Sequence numbers of the first and last training rows.
    pub fn window(&self) -> (u64, u64) {
        (self.first_seq, self.last_seq)
    }

    /// Sequence number of the event at which the training window was complete.
    pub fn fit_start_seq(&self) -> u64 {
        self.fit_start_seq
    }

    /// Sequence number from which the fitted model scores: fit start + `swap_after_events`.
    pub fn due_seq(&self) -> u64 {
        self.due_seq
    }

    /// Fits the model and fills its calibrator's reference.
    ///
    /// The batch OCSVM is fitted on the rows, then each row's score is offered to the
    /// calibrator. An online model goes through the rows in order as it would have live:
    /// score, offer the score if the row counts as normal and the model is warm, learn.
    pub fn run(&self) -> FitDone {
        FitDone {
            job: self.id,
            outcome: self.fit(),
        }
    }

    fn fit(&self) -> Result<Member, DetectorError> {
        let mut calibrator = Calibrator::new(self.calibration)?;
        let mut model = Model::new(self.dim, &self.params)?;
        let dim = self.dim;
        if let Model::Ocsvm(ocsvm) = &mut model {
            ocsvm.refit(&self.rows)?;
            for (row, normal) in self.rows.chunks_exact(dim).zip(&self.normal) {
                if *normal {
                    calibrator.offer_reference(ocsvm.score_one(row)?);
                }
            }
        } else {
            // A plugin model that fails on a row skips it (counted; it may end disabled,
            // which the pool finds when the fit takes effect).
            for (row, normal) in self.rows.chunks_exact(dim).zip(&self.normal) {
                let raw = model.raw_score(row)?;
                if let Some(raw) = raw
                    && *normal
                    && model.is_warm()
                {
                    calibrator.offer_reference(raw);
                }
                if raw.is_some() {
                    model.learn_one(row)?;
                }
            }
        }
        Ok(Member {
            model_ref: self.model,
            model,
            calibrator,
        })
    }
}

/// The result of a [`FitJob`], to [`install`](crate::Pool::install) in the pool.
#[derive(Debug, Clone)]
pub struct FitDone {
    pub(crate) job: u64,
    pub(crate) outcome: Result<Member, DetectorError>,
}

impl FitDone {
    /// The job it answers.
    pub fn job(&self) -> u64 {
        self.job
    }

    /// The model's error when the fit failed. A failed fit is installed like a good one:
    /// the pool records it when it would have taken effect.
    pub fn error(&self) -> Option<&DetectorError> {
        self.outcome.as_ref().err()
    }
}

/// A job the pool has created and not yet put into effect.
#[derive(Debug, Clone)]
pub(crate) struct PendingJob {
    pub(crate) job: FitJob,
    pub(crate) handed_out: bool,
    pub(crate) result: Option<Result<Member, DetectorError>>,
}
