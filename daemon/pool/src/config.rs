//! The pool's parameters: which models run, thresholds, the baseline lifecycle, drift handling.

use std::fmt;

use serde::{Deserialize, Serialize};
use vigil_detectors::calibration::CalibratorConfig;
use vigil_detectors::drift::{AdwinMode, AdwinParams};
use vigil_detectors::hst::HstConfig;
use vigil_detectors::ocsvm::{BatchOcsvmConfig, OnlineOcsvmConfig};

use crate::PoolError;
use crate::plugin::{PluginId, PluginSpec};

/// The kinds of model the pool runs. Each kind has one active slot.
///
/// Serialised as its name: `ocsvm`, `hst`, `online-ocsvm`, or `plugin:<name>` for a
/// plugin's models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    /// The baseline: batch nu-One-Class SVM behind a batch standard scaler
    /// ([`ScaledBatchOcsvm`](vigil_detectors::ocsvm::ScaledBatchOcsvm)), fitted in the
    /// background on a window of events that count as normal.
    Ocsvm,
    /// Half-Space Trees behind an online min-max scaler, learning every event.
    Hst,
    /// Online One-Class SVM (SGD on random Fourier features) behind an online standard
    /// scaler, learning every event.
    OnlineOcsvm,
    /// A detector plugin ([`PoolConfig::plugins`] names its factory), learning every event.
    Plugin(PluginId),
}

/// Models a pool runs at most: the three built-in kinds and [`MAX_PLUGINS`] plugins.
pub const MAX_MODELS: usize = ModelKind::ALL.len() + MAX_PLUGINS;

/// Plugins a pool runs at most.
pub const MAX_PLUGINS: usize = 8;

/// The prefix of a plugin kind's name.
pub const PLUGIN_PREFIX: &str = "plugin:";

impl ModelKind {
    /// Every built-in kind, in the default order of [`PoolConfig::models`].
    pub const ALL: [ModelKind; 3] = [ModelKind::Ocsvm, ModelKind::Hst, ModelKind::OnlineOcsvm];

    /// The detector's name: `ocsvm`, `hst`, `online-ocsvm`, or `plugin:<name>`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Ocsvm => "ocsvm",
            ModelKind::Hst => "hst",
            ModelKind::OnlineOcsvm => "online-ocsvm",
            ModelKind::Plugin(id) => id.label(),
        }
    }

    /// The kind named `name` (as [`name`](Self::name) writes it; `online_ocsvm` too, and
    /// any case for the built-in kinds). A plugin's name is interned.
    ///
    /// # Errors
    /// [`PoolError::InvalidConfig`] (field `models`) for a name that is neither.
    pub fn parse(name: &str) -> Result<ModelKind, PoolError> {
        if let Some(plugin) = name.strip_prefix(PLUGIN_PREFIX) {
            return Ok(ModelKind::Plugin(PluginId::intern(plugin)?));
        }
        let lower = name.to_ascii_lowercase().replace('_', "-");
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == lower)
            .ok_or_else(|| {
                invalid(
                    "models",
                    "must name ocsvm, hst, online-ocsvm or plugin:<name>",
                    format!("{name:?}"),
                )
            })
    }

    /// The plugin whose models these are, for a plugin kind.
    pub fn plugin(self) -> Option<PluginId> {
        match self {
            ModelKind::Plugin(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the model is fitted on a batch of rows (the baseline) rather than learning
    /// event by event.
    pub fn is_batch(self) -> bool {
        self == ModelKind::Ocsvm
    }

    /// The code of a built-in kind in snapshots; plugins are written as [`PLUGIN_CODE`] and
    /// their name.
    pub(crate) fn code(self) -> u64 {
        match self {
            ModelKind::Ocsvm => 0,
            ModelKind::Hst => 1,
            ModelKind::OnlineOcsvm => 2,
            ModelKind::Plugin(_) => PLUGIN_CODE,
        }
    }

    pub(crate) fn from_code(code: u64) -> Option<ModelKind> {
        match code {
            0 => Some(ModelKind::Ocsvm),
            1 => Some(ModelKind::Hst),
            2 => Some(ModelKind::OnlineOcsvm),
            _ => None,
        }
    }
}

/// The snapshot code of a plugin kind, followed by the plugin's name.
pub(crate) const PLUGIN_CODE: u64 = 3;

impl Serialize for ModelKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ModelKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ModelKind, D::Error> {
        let name = String::deserialize(deserializer)?;
        ModelKind::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which events' scores enter a model's reference (its calibrator's reservoir).
///
/// Feedback decides for the events it names, under either policy: an event reported normal
/// enters, one reported anomalous stays out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferencePolicy {
    /// Only events that were not alerted on (DESIGN section 5). A burst of attacks cannot
    /// move the reference. Without feedback the champion's reference ratchets: its alerts
    /// are the top of its own reference distribution, so each turnover of the reservoir
    /// (`capacity / refresh_rate` offered scores) cuts the reference at a lower point and
    /// the champion alerts on a larger share (5 %, then about 10 %, 14 %, ... at threshold
    /// 0.95) until a drift replaces it.
    #[default]
    NotAlerted,
    /// Also alerted events whose raw score is not above the highest reference score: they
    /// look like the normal tail, not like something new. Only scores beyond the whole
    /// reference stay out, so a burst of attacks that score beyond normal traffic still
    /// cannot move it, and the alert rate on normal traffic stays at 1 - threshold.
    WithinReference,
}

/// Parameters of a [`Pool`](crate::Pool). [`Default`] gives the documented defaults; check a
/// hand-made one with [`validate`](Self::validate) (the pool does it too).
///
/// ```
/// use vigil_pool::{ModelKind, PoolConfig};
/// let config = PoolConfig { models: vec![ModelKind::Ocsvm, ModelKind::Hst], ..PoolConfig::default() };
/// assert!(config.validate().is_ok());
/// let bad = PoolConfig { alert_threshold: 1.5, ..PoolConfig::default() };
/// assert_eq!(
///     bad.validate().unwrap_err().to_string(),
///     "pool config: alert_threshold must lie in (0, 1], got 1.5"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// The models, each kind at most once. The order breaks ties and picks the stand-in
    /// champion: until the baseline ([`ModelKind::Ocsvm`]) is fitted, the first online kind
    /// in this list leads. Default: ocsvm, hst, online-ocsvm.
    pub models: Vec<ModelKind>,
    /// Calibrated score at or above which a model's verdict is "anomalous" in its error
    /// stream: error = (calibrated ≥ threshold) ≠ feedback. Default 0.95, the ORANGE severity.
    pub alert_threshold: f64,
    /// Events that count as normal the first baseline fit waits for (the first this many
    /// after start), at least 2. Default 5,000.
    pub baseline_train_events: usize,
    /// A background fit takes effect at the event whose sequence number is the fit start's
    /// plus this; if the fit is not installed by then, intake waits. At least 1. Default 10,000.
    pub swap_after_events: u64,
    /// Fewest events a fresh model after a drift is trained on: when the post-drift window
    /// is shorter, the pool collects events until it has this many. At least 2. Default 1,000.
    pub retrain_min_events: usize,
    /// Most events a fresh model after a drift is trained on: the post-drift window (ADWIN's
    /// window length) is cut to its newest this many. At least `retrain_min_events`.
    /// Default 5,000.
    pub retrain_max_events: usize,
    /// Retired models kept for recurring drift; the oldest leaves first. 0 keeps none.
    /// Default 4.
    pub max_retired_models: usize,
    /// Most recent events on which, after a drift, challengers and retired models are
    /// compared (the post-drift window, at least 64 events, at most this). At least 1.
    /// Default 1,000.
    pub recent_window_events: usize,
    /// Recent events whose per-model scores are kept to turn feedback into errors: feedback
    /// about an older event is ignored (and reported so). At least 1. Default 10,000.
    /// The pool's history holds `max(feedback_window_events, recent_window_events,
    /// retrain_max_events)` events, features included.
    pub feedback_window_events: usize,
    /// Values a challenger's ADWIN must hold before it can take the lead between drifts.
    /// Default 200.
    pub min_evidence: usize,
    /// How far below the champion's estimate a challenger's must be to take the lead between
    /// drifts (error rate, or mean calibrated score before any feedback), in [0, 1).
    /// Default 0.02.
    pub switch_margin: f64,
    /// How much the champion's ADWIN estimate must rise at a detection for the pool to act
    /// on it, in [0, 1): over a long window ADWIN also detects changes of a tenth of a point,
    /// which are no reason to retrain. Default 0.01.
    pub min_drift_rise: f64,
    /// Reference scores a model's calibrator must hold before its calibrated score means
    /// anything: until then it is [`NO_MODEL_SCORE`](crate::NO_MODEL_SCORE) (0.5, below any
    /// sensible alert threshold), so that a reference of a few early scores cannot make every
    /// event look anomalous and, alerted on, keep itself from ever growing. At most
    /// `calibration.capacity`. Default 100.
    pub min_reference_scores: usize,
    /// Which events' scores enter the references. Default
    /// [`ReferencePolicy::NotAlerted`].
    pub reference: ReferencePolicy,
    /// Calibrators' reservoir: capacity, refresh rate, seed (each model's calibrator draws
    /// from a seed derived from this one and the model's id).
    pub calibration: CalibratorConfig,
    /// ADWIN of every model. Default: River's parameters in [`AdwinMode::Shrinking`], so that
    /// a detection keeps the post-drift window, which the fresh model is trained on.
    pub adwin: AdwinParams,
    /// The baseline's parameters.
    pub ocsvm: BatchOcsvmConfig,
    /// Half-Space Trees' parameters (`seed` is replaced per model).
    pub hst: HstConfig,
    /// The online OCSVM's parameters (`seed` is replaced per model).
    pub online_ocsvm: OnlineOcsvmConfig,
    /// Seed of everything random in the pool: model `n` gets a seed derived from this and `n`.
    pub seed: u64,
    /// The plugins the pool can run, one spec per plugin name: a plugin kind in
    /// [`models`](Self::models) needs its spec here. Default: none.
    pub plugins: Vec<PluginSpec>,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            models: ModelKind::ALL.to_vec(),
            alert_threshold: 0.95,
            baseline_train_events: 5_000,
            swap_after_events: 10_000,
            retrain_min_events: 1_000,
            retrain_max_events: 5_000,
            max_retired_models: 4,
            recent_window_events: 1_000,
            feedback_window_events: 10_000,
            min_evidence: 200,
            switch_margin: 0.02,
            min_drift_rise: 0.01,
            min_reference_scores: 100,
            reference: ReferencePolicy::NotAlerted,
            calibration: CalibratorConfig::default(),
            adwin: AdwinParams {
                mode: AdwinMode::Shrinking,
                ..AdwinParams::default()
            },
            ocsvm: BatchOcsvmConfig::default(),
            hst: HstConfig::default(),
            online_ocsvm: OnlineOcsvmConfig::default(),
            seed: 0,
            plugins: Vec::new(),
        }
    }
}

fn invalid(field: &str, requirement: &'static str, value: impl ToString) -> PoolError {
    PoolError::InvalidConfig {
        field: field.to_string(),
        requirement,
        value: value.to_string(),
    }
}

impl PoolConfig {
    /// Checks every parameter that does not depend on the number of features (the pool
    /// checks the rest when it builds its models).
    ///
    /// # Errors
    /// [`PoolError::InvalidConfig`] naming the first bad field and its value; a model
    /// parameter is named `ocsvm.nu`, `adwin.delta`, `calibration.capacity` and so on.
    pub fn validate(&self) -> Result<(), PoolError> {
        if self.models.is_empty() {
            return Err(invalid("models", "must name at least one model", "[]"));
        }
        for (i, kind) in self.models.iter().enumerate() {
            if self.models[..i].contains(kind) {
                return Err(invalid("models", "must name each kind at most once", kind));
            }
        }
        if self.models.len() > MAX_MODELS {
            return Err(invalid(
                "models",
                "must name at most 11 models (3 built-in kinds and 8 plugins)",
                self.models.len(),
            ));
        }
        for (i, spec) in self.plugins.iter().enumerate() {
            spec.kind()?;
            if self.plugins[..i].iter().any(|p| p.name() == spec.name()) {
                return Err(invalid(
                    "plugins",
                    "must name each plugin at most once",
                    spec.name(),
                ));
            }
            if spec.max_failures == 0 {
                return Err(invalid(
                    &format!("plugins.{}.max_failures", spec.name()),
                    "must be at least 1",
                    0,
                ));
            }
        }
        for kind in &self.models {
            if let ModelKind::Plugin(id) = kind
                && self.plugin_spec(*kind).is_none()
            {
                return Err(invalid(
                    "models",
                    "names a plugin the pool was given no spec for",
                    id.label(),
                ));
            }
        }
        if !(self.alert_threshold > 0.0 && self.alert_threshold <= 1.0) {
            return Err(invalid(
                "alert_threshold",
                "must lie in (0, 1]",
                self.alert_threshold,
            ));
        }
        if self.baseline_train_events < 2 {
            return Err(invalid(
                "baseline_train_events",
                "must be at least 2",
                self.baseline_train_events,
            ));
        }
        if self.swap_after_events == 0 {
            return Err(invalid(
                "swap_after_events",
                "must be at least 1",
                self.swap_after_events,
            ));
        }
        if self.retrain_min_events < 2 {
            return Err(invalid(
                "retrain_min_events",
                "must be at least 2",
                self.retrain_min_events,
            ));
        }
        if self.retrain_max_events < self.retrain_min_events {
            return Err(invalid(
                "retrain_max_events",
                "must be at least retrain_min_events",
                self.retrain_max_events,
            ));
        }
        if self.recent_window_events == 0 {
            return Err(invalid(
                "recent_window_events",
                "must be at least 1",
                self.recent_window_events,
            ));
        }
        if self.feedback_window_events == 0 {
            return Err(invalid(
                "feedback_window_events",
                "must be at least 1",
                self.feedback_window_events,
            ));
        }
        if !(self.switch_margin >= 0.0 && self.switch_margin < 1.0) {
            return Err(invalid(
                "switch_margin",
                "must lie in [0, 1)",
                self.switch_margin,
            ));
        }
        if !(self.min_drift_rise >= 0.0 && self.min_drift_rise < 1.0) {
            return Err(invalid(
                "min_drift_rise",
                "must lie in [0, 1)",
                self.min_drift_rise,
            ));
        }
        let capacity = self.calibration.capacity;
        if capacity == 0 {
            return Err(invalid(
                "calibration.capacity",
                "must be at least 1",
                capacity,
            ));
        }
        let rate = self.calibration.refresh_rate;
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(invalid(
                "calibration.refresh_rate",
                "must lie in (0, 1]",
                rate,
            ));
        }
        if self.min_reference_scores > capacity {
            return Err(invalid(
                "min_reference_scores",
                "must be at most calibration.capacity",
                self.min_reference_scores,
            ));
        }
        self.adwin.validate().map_err(|e| nested("adwin", e))?;
        if self.models.contains(&ModelKind::Ocsvm) {
            self.ocsvm.validate().map_err(|e| nested("ocsvm", e))?;
        }
        if self.models.contains(&ModelKind::OnlineOcsvm) {
            // The dimension is checked when the pool is built; 1 stands for "some".
            self.online_ocsvm
                .validate(1)
                .map_err(|e| nested("online_ocsvm", e))?;
        }
        Ok(())
    }

    /// The spec of a plugin kind's plugin.
    pub fn plugin_spec(&self, kind: ModelKind) -> Option<&PluginSpec> {
        let id = kind.plugin()?;
        self.plugins.iter().find(|p| p.name() == id.name())
    }

    /// Events the pool's history holds.
    pub(crate) fn history_events(&self) -> usize {
        self.feedback_window_events
            .max(self.recent_window_events)
            .max(self.retrain_max_events)
    }
}

/// A model's own parameter error as a pool config error named `prefix.parameter`.
pub(crate) fn nested(prefix: &str, error: vigil_detectors::DetectorError) -> PoolError {
    match error {
        vigil_detectors::DetectorError::InvalidParameter {
            name,
            requirement,
            value,
            ..
        } => PoolError::InvalidConfig {
            field: format!("{prefix}.{name}"),
            requirement,
            value,
        },
        other => PoolError::Model {
            model: prefix.to_string(),
            source: other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(config: PoolConfig) -> String {
        match config.validate() {
            Err(PoolError::InvalidConfig { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn default_is_valid() {
        assert!(PoolConfig::default().validate().is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        let d = PoolConfig::default;
        let cases: Vec<(PoolConfig, &str)> = vec![
            (
                PoolConfig {
                    models: vec![],
                    ..d()
                },
                "models",
            ),
            (
                PoolConfig {
                    models: vec![ModelKind::Hst, ModelKind::Hst],
                    ..d()
                },
                "models",
            ),
            (
                PoolConfig {
                    alert_threshold: 0.0,
                    ..d()
                },
                "alert_threshold",
            ),
            (
                PoolConfig {
                    alert_threshold: f64::NAN,
                    ..d()
                },
                "alert_threshold",
            ),
            (
                PoolConfig {
                    baseline_train_events: 1,
                    ..d()
                },
                "baseline_train_events",
            ),
            (
                PoolConfig {
                    swap_after_events: 0,
                    ..d()
                },
                "swap_after_events",
            ),
            (
                PoolConfig {
                    retrain_min_events: 1,
                    ..d()
                },
                "retrain_min_events",
            ),
            (
                PoolConfig {
                    retrain_max_events: 999,
                    ..d()
                },
                "retrain_max_events",
            ),
            (
                PoolConfig {
                    recent_window_events: 0,
                    ..d()
                },
                "recent_window_events",
            ),
            (
                PoolConfig {
                    feedback_window_events: 0,
                    ..d()
                },
                "feedback_window_events",
            ),
            (
                PoolConfig {
                    switch_margin: 1.0,
                    ..d()
                },
                "switch_margin",
            ),
            (
                PoolConfig {
                    min_drift_rise: -0.1,
                    ..d()
                },
                "min_drift_rise",
            ),
            (
                PoolConfig {
                    calibration: CalibratorConfig {
                        capacity: 0,
                        ..CalibratorConfig::default()
                    },
                    ..d()
                },
                "calibration.capacity",
            ),
            (
                PoolConfig {
                    calibration: CalibratorConfig {
                        refresh_rate: 2.0,
                        ..CalibratorConfig::default()
                    },
                    ..d()
                },
                "calibration.refresh_rate",
            ),
            (
                PoolConfig {
                    min_reference_scores: 10_001,
                    ..d()
                },
                "min_reference_scores",
            ),
            (
                PoolConfig {
                    adwin: AdwinParams {
                        delta: 1.0,
                        ..AdwinParams::default()
                    },
                    ..d()
                },
                "adwin.delta",
            ),
            (
                PoolConfig {
                    ocsvm: BatchOcsvmConfig {
                        nu: 0.0,
                        ..BatchOcsvmConfig::default()
                    },
                    ..d()
                },
                "ocsvm.nu",
            ),
            (
                PoolConfig {
                    online_ocsvm: OnlineOcsvmConfig {
                        n_components: 0,
                        ..OnlineOcsvmConfig::default()
                    },
                    ..d()
                },
                "online_ocsvm.n_components",
            ),
        ];
        for (config, field) in cases {
            assert_eq!(field_of(config), field);
        }
    }

    #[test]
    fn a_model_left_out_is_not_validated() {
        let config = PoolConfig {
            models: vec![ModelKind::Hst],
            ocsvm: BatchOcsvmConfig {
                nu: 0.0,
                ..BatchOcsvmConfig::default()
            },
            ..PoolConfig::default()
        };
        assert!(config.validate().is_ok());
    }

    #[test]
    fn kinds_round_trip_through_codes_and_names() {
        for kind in ModelKind::ALL {
            assert_eq!(ModelKind::from_code(kind.code()), Some(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(ModelKind::from_code(3), None);
    }
}
