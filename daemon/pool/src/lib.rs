//! Vigil's detector pool: the decision core.
//!
//! A [`Pool`] holds one model of each configured [`ModelKind`] (the batch OCSVM baseline,
//! Half-Space Trees, the online OCSVM), each with a [`Calibrator`] that turns its raw score
//! into a quantile among recent normal scores, and an ADWIN over its error stream (or, before
//! any feedback, its calibrated scores). The pool's score is the champion's calibrated score.
//! When the champion's ADWIN sees a rise, the best challenger (or a retired model, for a
//! recurring pattern) takes the lead and a fresh model of the champion's kind is trained on
//! the post-drift window; the model it replaces retires into a bounded pool. Every decision
//! is a [`DriftEvent`] with its reason.
//!
//! The core is synchronous and deterministic: given the same calls in the same order (score,
//! learn, feedback, and the results of the fits it hands out), it gives bit-identical scores
//! and decisions, whenever and on whatever thread the fits ran. A fit takes effect at a fixed
//! sequence number (fit start + [`PoolConfig::swap_after_events`]); if its result is not
//! installed by then, [`Pool::score`] answers [`PoolError::WaitingForFit`].
//! [`Pool::snapshot`] and [`Pool::restore`] carry the whole state.
//!
//! See `docs/pool.md` for the lifecycle, the rules and the measured figures.
//!
//! [`Calibrator`]: vigil_detectors::calibration::Calibrator
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod event;
mod feedback;
mod history;
mod job;
mod model;
mod plugin;
mod pool;
mod snapshot;

pub use config::{MAX_MODELS, MAX_PLUGINS, ModelKind, PLUGIN_PREFIX, PoolConfig, ReferencePolicy};
pub use error::PoolError;
pub use event::{DriftEvent, DriftKind};
pub use feedback::{LabelFeedback, LabelFeedbackConfig};
pub use job::{FitDone, FitJob, FitPurpose};
pub use model::ModelRef;
pub use plugin::{
    MAX_PLUGIN_NAMES, PluginCallError, PluginFactory, PluginId, PluginInstance, PluginSpec,
};
pub use pool::{
    CollectingStatus, FeedbackOutcome, FitStatus, MAX_PENDING_EVENTS, MIN_COMPARE_EVENTS,
    ModelScore, ModelStatus, NO_MODEL_SCORE, PluginModelStatus, Pool, PoolScore, PoolStatus,
    RetiredStatus, RetrainRequest, Signal,
};
