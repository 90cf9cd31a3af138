//! Alerts: severity, stable ids, aggregation and the outbound encodings live in the
//! `vigil-alert` crate; this module re-exports it and maps the configuration onto it.

pub use vigil_alert::*;

use crate::config::SeverityConfig;

/// The `score` member of an alert as stored (its flat JSON), or `None` when the bytes are
/// not an object with a numeric `score`. The state store uses it to build its score index
/// when it upgrades a store written before that index existed
/// (`vigil_state::StoreOptions::score_reader`).
///
/// ```
/// assert_eq!(vigil::alert::stored_score(br#"{"id":"a","score":0.75}"#), Some(0.75));
/// assert_eq!(vigil::alert::stored_score(br#"{"id":"a"}"#), None);
/// ```
pub fn stored_score(bytes: &[u8]) -> Option<f64> {
    #[derive(serde::Deserialize)]
    struct Scored {
        score: f64,
    }
    serde_json::from_slice::<Scored>(bytes)
        .ok()
        .map(|scored| scored.score)
}

impl From<&SeverityConfig> for SeverityThresholds {
    /// The `[severity]` section as `vigil-alert` thresholds (validated with the config).
    ///
    /// ```
    /// use vigil::alert::{Severity, SeverityThresholds};
    /// use vigil::config::SeverityConfig;
    /// let t = SeverityThresholds::from(&SeverityConfig::default());
    /// assert_eq!(Severity::of(0.995, &t), Severity::Red);
    /// assert_eq!(Severity::of(0.96, &t), Severity::Orange);
    /// assert_eq!(Severity::of(0.5, &t), Severity::Green);
    /// ```
    fn from(config: &SeverityConfig) -> SeverityThresholds {
        SeverityThresholds {
            red: config.red,
            orange: config.orange,
        }
    }
}
