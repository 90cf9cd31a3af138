//! Alerts: severity, stable ids, aggregation and the outbound encodings live in the
//! `vigil-alert` crate; this module re-exports it and maps the configuration onto it.

pub use vigil_alert::*;

use crate::config::SeverityConfig;

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
