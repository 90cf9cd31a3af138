//! The pool's errors.

use vigil_detectors::DetectorError;

use crate::ModelKind;

/// What can go wrong in the pool. Every message names the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoolError {
    /// A configuration field out of range.
    #[error("pool config: {field} {requirement}, got {value}")]
    InvalidConfig {
        /// The field, dotted for a model's parameter (`ocsvm.nu`).
        field: String,
        /// What it must be.
        requirement: &'static str,
        /// The rejected value, as written.
        value: String,
    },
    /// A feature vector the models refuse: wrong length, or a NaN or infinite value.
    #[error("event {seq}: {source}")]
    Input {
        /// The event's sequence number.
        seq: u64,
        /// What the check found.
        source: DetectorError,
    },
    /// Sequence numbers must increase from one scored event to the next.
    #[error("event {seq} scored after event {last}: sequence numbers must increase")]
    SeqNotIncreasing {
        /// The sequence number passed in.
        seq: u64,
        /// The last one scored.
        last: u64,
    },
    /// `score` was called again before the last scored event was learned.
    #[error("event {seq} scored while event {pending} has not been learned yet")]
    NotLearned {
        /// The sequence number passed in.
        seq: u64,
        /// The event still waiting for `learn`.
        pending: u64,
    },
    /// `learn` was called with no scored event waiting for it.
    #[error("learn called with no scored event waiting (last scored: {last:?})")]
    NothingToLearn {
        /// The last event scored, if any.
        last: Option<u64>,
    },
    /// `learn` was given another vector than the one just scored.
    #[error("event {seq}: learn was given another feature vector than the one scored")]
    LearnMismatch {
        /// The event waiting to be learned.
        seq: u64,
    },
    /// A background fit was due at or before this event and has not been installed: run the
    /// job from [`Pool::fit_job`](crate::Pool::fit_job), [`install`](crate::Pool::install)
    /// its result, and score the event again.
    #[error(
        "event {seq}: the {kind} fit (job {job}) takes effect at event {due_seq} and is not installed yet"
    )]
    WaitingForFit {
        /// The event that was not scored.
        seq: u64,
        /// Kind of model being fitted.
        kind: ModelKind,
        /// The job's id.
        job: u64,
        /// Sequence number at which it takes effect.
        due_seq: u64,
    },
    /// A fit result that matches no job the pool is waiting for (installed twice, or from
    /// before a restore).
    #[error("fit job {job} is not pending in this pool")]
    UnknownJob {
        /// The job's id.
        job: u64,
    },
    /// Feedback about an event that has not been scored yet.
    #[error("feedback about event {seq}, but the last event scored is {last:?}")]
    FeedbackFromFuture {
        /// The event the feedback names.
        seq: u64,
        /// The last event scored, if any.
        last: Option<u64>,
    },
    /// A model failed on an event it had accepted before (a bug, or a corrupt model).
    #[error("model {model}: {source}")]
    Model {
        /// The model, as `kind#id`.
        model: String,
        /// Its error.
        source: DetectorError,
    },
    /// A retrain was asked for a kind of model this pool does not run.
    #[error("the pool runs no {kind} model (its models: {models})")]
    ModelNotInPool {
        /// The kind asked for.
        kind: ModelKind,
        /// The kinds it runs, comma-separated.
        models: String,
    },
    /// A snapshot that cannot be restored: not a pool snapshot, another version, corrupt.
    #[error("cannot restore pool snapshot: {reason}")]
    Snapshot {
        /// What is wrong with it.
        reason: String,
    },
    /// A snapshot taken under another configuration or dimension.
    #[error(
        "cannot restore pool snapshot: it was taken with {field} = {snapshot}, this pool has {current}"
    )]
    SnapshotMismatch {
        /// The field that differs.
        field: String,
        /// Its value in the snapshot.
        snapshot: String,
        /// Its value in this pool.
        current: String,
    },
}
