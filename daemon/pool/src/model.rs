//! The models the pool holds: one enum over the three kinds, with their calibrators.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use vigil_detectors::calibration::{Calibrator, CalibratorConfig};
use vigil_detectors::hst::{HalfSpaceTrees, HstConfig};
use vigil_detectors::ocsvm::{BatchOcsvmConfig, OnlineOcsvm, OnlineOcsvmConfig, ScaledBatchOcsvm};
use vigil_detectors::{Detector, DetectorError};

use crate::plugin::{PluginCallError, PluginModelState, PluginSpec};
use crate::{ModelKind, PoolError};

/// One model instance of the pool: its kind and a number unique within the pool (and its
/// snapshots), written `hst#2`.
///
/// Serialised as that string, so drift events read well in JSON.
///
/// ```
/// use vigil_pool::{ModelKind, ModelRef};
/// let model = ModelRef { kind: ModelKind::OnlineOcsvm, id: 7 };
/// assert_eq!(model.to_string(), "online-ocsvm#7");
/// assert_eq!("online-ocsvm#7".parse::<ModelRef>(), Ok(model));
/// assert!("svm#1".parse::<ModelRef>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ModelRef {
    /// The kind of model.
    pub kind: ModelKind,
    /// Its number: models are numbered from 1 in the order the pool creates them.
    pub id: u64,
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind, self.id)
    }
}

impl From<ModelRef> for String {
    fn from(model: ModelRef) -> String {
        model.to_string()
    }
}

impl FromStr for ModelRef {
    type Err = String;

    fn from_str(s: &str) -> Result<ModelRef, String> {
        let (name, id) = s
            .split_once('#')
            .ok_or_else(|| format!("model {s:?} is not written kind#id"))?;
        let kind = if name.starts_with(crate::PLUGIN_PREFIX) {
            ModelKind::parse(name).map_err(|e| format!("model {s:?}: {e}"))?
        } else {
            ModelKind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| format!("model {s:?}: unknown kind {name:?}"))?
        };
        let id = id
            .parse()
            .map_err(|_| format!("model {s:?}: {id:?} is not a model number"))?;
        Ok(ModelRef { kind, id })
    }
}

impl TryFrom<String> for ModelRef {
    type Error = String;

    fn try_from(s: String) -> Result<ModelRef, String> {
        s.parse()
    }
}

/// A model of one of the three built-in kinds, or a plugin's.
#[derive(Debug, Clone)]
pub(crate) enum Model {
    Ocsvm(ScaledBatchOcsvm),
    Hst(HalfSpaceTrees),
    OnlineOcsvm(OnlineOcsvm),
    Plugin(PluginModelState),
}

/// The parameters a fresh model of one kind is built with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ModelParams {
    Ocsvm(BatchOcsvmConfig),
    Hst(HstConfig),
    OnlineOcsvm(OnlineOcsvmConfig),
    Plugin(PluginSpec),
    /// A plugin kind the configuration has no spec for (refused when built).
    MissingPlugin(ModelKind),
}

impl ModelParams {
    /// The parameters of `kind` from the pool's config, with the model's own seed.
    pub(crate) fn for_kind(config: &crate::PoolConfig, kind: ModelKind, seed: u64) -> ModelParams {
        match kind {
            ModelKind::Ocsvm => ModelParams::Ocsvm(config.ocsvm),
            ModelKind::Hst => ModelParams::Hst(HstConfig {
                seed,
                ..config.hst.clone()
            }),
            ModelKind::OnlineOcsvm => ModelParams::OnlineOcsvm(OnlineOcsvmConfig {
                seed,
                ..config.online_ocsvm
            }),
            ModelKind::Plugin(_) => match config.plugin_spec(kind) {
                Some(spec) => ModelParams::Plugin(spec.clone()),
                None => ModelParams::MissingPlugin(kind),
            },
        }
    }
}

/// A plugin's error as a detector error of `plugin:<name>`.
pub(crate) fn plugin_error(kind: impl fmt::Display, error: PluginCallError) -> DetectorError {
    DetectorError::InvalidParameter {
        detector: kind.to_string(),
        name: "plugin",
        requirement: "must make a model",
        value: error.message,
    }
}

impl Model {
    /// A fresh model; the batch OCSVM is unfitted.
    pub(crate) fn new(dim: usize, params: &ModelParams) -> Result<Model, DetectorError> {
        Ok(match params {
            ModelParams::Ocsvm(c) => Model::Ocsvm(ScaledBatchOcsvm::new(dim, c)?),
            ModelParams::Hst(c) => Model::Hst(HalfSpaceTrees::new(dim, c.clone())?),
            ModelParams::OnlineOcsvm(c) => Model::OnlineOcsvm(OnlineOcsvm::new(dim, *c)?),
            ModelParams::Plugin(spec) => Model::Plugin(
                PluginModelState::new(spec, dim).map_err(|e| plugin_error(spec.name(), e))?,
            ),
            ModelParams::MissingPlugin(kind) => {
                return Err(DetectorError::InvalidParameter {
                    detector: kind.to_string(),
                    name: "plugin",
                    requirement: "must be among the pool's plugins",
                    value: kind.to_string(),
                });
            }
        })
    }

    /// An empty built-in model of `kind` to restore a snapshot into (the snapshot carries
    /// the parameters).
    pub(crate) fn blank(dim: usize, kind: ModelKind) -> Result<Model, DetectorError> {
        let params = match kind {
            ModelKind::Ocsvm => ModelParams::Ocsvm(BatchOcsvmConfig::default()),
            ModelKind::Hst => ModelParams::Hst(HstConfig::default()),
            ModelKind::OnlineOcsvm => ModelParams::OnlineOcsvm(OnlineOcsvmConfig::default()),
            ModelKind::Plugin(_) => ModelParams::MissingPlugin(kind),
        };
        Model::new(dim, &params)
    }

    /// The built-in model as a detector; `None` for a plugin's.
    pub(crate) fn detector(&self) -> Option<&dyn Detector> {
        match self {
            Model::Ocsvm(m) => Some(m),
            Model::Hst(m) => Some(m),
            Model::OnlineOcsvm(m) => Some(m),
            Model::Plugin(_) => None,
        }
    }

    /// Restores a built-in model's snapshot.
    pub(crate) fn restore_builtin(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        match self {
            Model::Ocsvm(m) => m.restore(bytes),
            Model::Hst(m) => m.restore(bytes),
            Model::OnlineOcsvm(m) => m.restore(bytes),
            Model::Plugin(_) => Err(DetectorError::Snapshot {
                detector: "plugin".into(),
                reason: "a plugin model is restored through its factory".into(),
            }),
        }
    }

    /// The raw score of `x` (already checked); `None` when a plugin model failed on it (the
    /// failure is counted) or is disabled.
    pub(crate) fn raw_score(&self, x: &[f64]) -> Result<Option<f64>, DetectorError> {
        match self {
            Model::Ocsvm(m) => m.score_one(x).map(Some),
            Model::Hst(m) => m.score_one(x).map(Some),
            Model::OnlineOcsvm(m) => m.score_one(x).map(Some),
            Model::Plugin(p) => Ok(p.score(x)),
        }
    }

    /// Learns `x` (already checked). A plugin model's failure is counted, not returned.
    pub(crate) fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
        match self {
            Model::Ocsvm(m) => m.learn_one(x),
            Model::Hst(m) => m.learn_one(x),
            Model::OnlineOcsvm(m) => m.learn_one(x),
            Model::Plugin(p) => {
                p.learn(x);
                Ok(())
            }
        }
    }

    /// The plugin model's state, for a plugin's.
    pub(crate) fn plugin(&self) -> Option<&PluginModelState> {
        match self {
            Model::Plugin(p) => Some(p),
            _ => None,
        }
    }

    /// Whether it is a plugin's model that failed `max_failures` times.
    pub(crate) fn is_disabled(&self) -> bool {
        self.plugin().is_some_and(PluginModelState::is_disabled)
    }

    /// Whether it learns event by event; the batch OCSVM only learns by a fit.
    pub(crate) fn learns_online(&self) -> bool {
        !matches!(self, Model::Ocsvm(_))
    }

    /// Whether its scores say something yet: Half-Space Trees score 0 until their first
    /// window is learned, and the online OCSVM's first 50 steps swing widely. Scores of a model
    /// that is not warm stay out of its reference.
    pub(crate) fn is_warm(&self) -> bool {
        match self {
            Model::Ocsvm(m) => m.scaler().is_some(),
            Model::Hst(m) => m.is_warm(),
            Model::OnlineOcsvm(m) => m.learned() >= ONLINE_OCSVM_WARM_UP,
            Model::Plugin(p) => p.is_warm(),
        }
    }
}

/// Events the online OCSVM learns before its scores enter its reference: past its first
/// large steps. (On ODDS http in file order, 250 cost the pool 0.01 to 0.02 of ROC AUC over
/// 50.)
pub(crate) const ONLINE_OCSVM_WARM_UP: u64 = 50;

/// A model with its calibrator: what a fit produces, what the retired pool keeps.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) model_ref: ModelRef,
    pub(crate) model: Model,
    pub(crate) calibrator: Calibrator,
}

impl Member {
    /// Raw and calibrated score of `x` (already checked). The calibrated score is
    /// [`NO_MODEL_SCORE`](crate::NO_MODEL_SCORE) while the reference holds fewer than
    /// `min_reference` scores. `None` when a plugin model failed on `x` or is disabled: it
    /// skips the event.
    pub(crate) fn score(
        &self,
        x: &[f64],
        min_reference: usize,
    ) -> Result<Option<(f64, f64)>, PoolError> {
        let raw = self.model.raw_score(x).map_err(|source| PoolError::Model {
            model: self.model_ref.to_string(),
            source,
        })?;
        Ok(raw.map(|raw| (raw, calibrate(&self.calibrator, raw, min_reference))))
    }

    /// Failures of a plugin model so far (0 for the built-in models).
    pub(crate) fn plugin_failures(&self) -> u64 {
        self.model.plugin().map_or(0, |p| p.failures.get())
    }

    /// Offers a score of an event that counts as normal to the reference, if the model is
    /// warm.
    pub(crate) fn offer(&mut self, raw: f64) {
        if self.model.is_warm() {
            self.calibrator.offer_reference(raw);
        }
    }

    /// Whether `raw` is within the reference: not above its highest score (ties count).
    pub(crate) fn within_reference(&self, raw: f64) -> bool {
        !self.calibrator.is_empty() && self.calibrator.calibrate(raw) < 1.0
    }

    /// Learns `x` (already checked); a no-op for the batch OCSVM.
    pub(crate) fn learn(&mut self, x: &[f64]) -> Result<(), PoolError> {
        if !self.model.learns_online() {
            return Ok(());
        }
        self.model.learn_one(x).map_err(|source| PoolError::Model {
            model: self.model_ref.to_string(),
            source,
        })
    }
}

/// `raw` calibrated against `calibrator`, or the "no evidence" score while its reference is
/// smaller than `min_reference`.
pub(crate) fn calibrate(calibrator: &Calibrator, raw: f64, min_reference: usize) -> f64 {
    if calibrator.len() < min_reference.max(1) {
        crate::NO_MODEL_SCORE
    } else {
        calibrator.calibrate(raw)
    }
}

/// A seed for model `id` derived from `base` (SplitMix64), so that models of one pool draw
/// unrelated random streams and the same pool always draws the same ones.
pub(crate) fn derive_seed(base: u64, id: u64) -> u64 {
    let mut z = base ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The calibrator configuration of model `id`.
pub(crate) fn calibrator_config(base: &CalibratorConfig, id: u64) -> CalibratorConfig {
    CalibratorConfig {
        seed: derive_seed(base.seed, id),
        ..*base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_refs_serialise_as_strings() {
        let model = ModelRef {
            kind: ModelKind::Hst,
            id: 12,
        };
        let json = serde_json::to_string(&model).unwrap_or_default();
        assert_eq!(json, "\"hst#12\"");
        let back: Result<ModelRef, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(model));
        for bad in ["\"hst\"", "\"hst#x\"", "\"tree#1\""] {
            assert!(serde_json::from_str::<ModelRef>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_seeds_differ_by_id_and_base() {
        let a = derive_seed(0, 1);
        assert_ne!(a, derive_seed(0, 2));
        assert_ne!(a, derive_seed(1, 1));
        assert_eq!(a, derive_seed(0, 1));
    }
}
