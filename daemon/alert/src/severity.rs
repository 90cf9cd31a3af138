//! Severity levels, their thresholds and their SIEM scales.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::AlertError;

/// The score thresholds that split GREEN, ORANGE and RED.
///
/// A score or rule strength at or above `red` is RED, at or above `orange` (and below `red`)
/// ORANGE, GREEN below. The daemon maps its `[severity]` config section onto this struct.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeverityThresholds {
    /// RED at or above this, in (orange, 1].
    pub red: f64,
    /// ORANGE at or above this (and below `red`), in (0, red).
    pub orange: f64,
}

impl SeverityThresholds {
    /// The defaults of DESIGN section 6: RED at 0.99, ORANGE at 0.95.
    pub const DEFAULT: SeverityThresholds = SeverityThresholds {
        red: 0.99,
        orange: 0.95,
    };

    /// Checked thresholds: `0 < orange < red <= 1`.
    ///
    /// ```
    /// use vigil_alert::SeverityThresholds;
    /// assert!(SeverityThresholds::new(0.99, 0.95).is_ok());
    /// let err = SeverityThresholds::new(0.9, 0.95).unwrap_err();
    /// assert!(err.to_string().contains("0.9"));
    /// ```
    pub fn new(red: f64, orange: f64) -> Result<SeverityThresholds, AlertError> {
        let thresholds = SeverityThresholds { red, orange };
        thresholds.validate()?;
        Ok(thresholds)
    }

    /// Checks `0 < orange < red <= 1` (which also rules out NaN).
    pub fn validate(&self) -> Result<(), AlertError> {
        if self.orange > 0.0 && self.orange < self.red && self.red <= 1.0 {
            Ok(())
        } else {
            Err(AlertError::Thresholds {
                red: self.red,
                orange: self.orange,
            })
        }
    }
}

impl Default for SeverityThresholds {
    fn default() -> Self {
        SeverityThresholds::DEFAULT
    }
}

/// How urgently an analyst should look.
///
/// The order is by urgency: `Green < Orange < Red`.
///
/// # SIEM scales
/// Each level maps onto one rung of the four-rung scales SIEMs use. Vigil has three levels, so
/// one rung stays unused: *medium*. RED means "look now" and takes the top rung everywhere;
/// ORANGE means "worth a look" and takes the second; GREEN is counted, not alerted, and takes
/// the bottom one. The values are fixed per level so that SIEM correlation rules can match on
/// them; the fine grain is in the score (ECS `event.risk_score`, CEF `cfp1`).
///
/// | level  | ECS `event.severity` | CEF severity | Splunk CIM `severity` |
/// |--------|----------------------|--------------|-----------------------|
/// | RED    | 99 (critical)        | 10 (very high, 9-10) | `critical`     |
/// | ORANGE | 73 (high)            | 7 (high, 7-8)        | `high`         |
/// | GREEN  | 21 (low)             | 3 (low, 0-3)         | `low`          |
///
/// The ECS numbers are the risk scores Elastic Security assigns to its own severities (low
/// 21, medium 47, high 73, critical 99), so Vigil's alerts sort with Elastic's rule alerts.
/// The CEF bands are ArcSight's (0-3 low, 4-6 medium, 7-8 high, 9-10 very high).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Below the ORANGE threshold: counted, not alerted.
    Green,
    /// At or above the ORANGE threshold.
    Orange,
    /// At or above the RED threshold.
    Red,
}

impl Severity {
    /// Every level, from the least urgent.
    pub const ALL: [Severity; 3] = [Severity::Green, Severity::Orange, Severity::Red];

    /// Severity of a calibrated score or rule strength under `thresholds`.
    ///
    /// A NaN score is GREEN: it compares below every threshold.
    ///
    /// ```
    /// use vigil_alert::{Severity, SeverityThresholds};
    /// let t = SeverityThresholds::default();
    /// assert_eq!(Severity::of(0.995, &t), Severity::Red);
    /// assert_eq!(Severity::of(0.99, &t), Severity::Red);
    /// assert_eq!(Severity::of(0.96, &t), Severity::Orange);
    /// assert_eq!(Severity::of(0.5, &t), Severity::Green);
    /// ```
    pub fn of(score: f64, thresholds: &SeverityThresholds) -> Severity {
        if score >= thresholds.red {
            Severity::Red
        } else if score >= thresholds.orange {
            Severity::Orange
        } else {
            Severity::Green
        }
    }

    /// Lower-case name: `red`, `orange`, `green` (the JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Green => "green",
            Severity::Orange => "orange",
            Severity::Red => "red",
        }
    }

    /// Upper-case name, as analysts write it: `RED`, `ORANGE`, `GREEN`.
    pub fn as_upper_str(self) -> &'static str {
        match self {
            Severity::Green => "GREEN",
            Severity::Orange => "ORANGE",
            Severity::Red => "RED",
        }
    }

    /// ECS `event.severity`: 99, 73 or 21 (see the table on [`Severity`]).
    ///
    /// ```
    /// use vigil_alert::Severity;
    /// assert_eq!(Severity::Red.ecs_severity(), 99);
    /// ```
    pub fn ecs_severity(self) -> u8 {
        match self {
            Severity::Green => 21,
            Severity::Orange => 73,
            Severity::Red => 99,
        }
    }

    /// CEF header severity in 0..=10: 10, 7 or 3 (see the table on [`Severity`]).
    ///
    /// ```
    /// use vigil_alert::Severity;
    /// assert_eq!(Severity::Orange.cef_severity(), 7);
    /// ```
    pub fn cef_severity(self) -> u8 {
        match self {
            Severity::Green => 3,
            Severity::Orange => 7,
            Severity::Red => 10,
        }
    }

    /// Splunk CIM `severity`: `critical`, `high` or `low` (see the table on [`Severity`]).
    ///
    /// ```
    /// use vigil_alert::Severity;
    /// assert_eq!(Severity::Green.cim_severity(), "low");
    /// ```
    pub fn cim_severity(self) -> &'static str {
        match self {
            Severity::Green => "low",
            Severity::Orange => "high",
            Severity::Red => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = AlertError;

    /// Reads `red`, `orange` or `green`, in any letter case.
    fn from_str(s: &str) -> Result<Severity, AlertError> {
        Severity::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| AlertError::UnknownSeverity(s.to_string()))
    }
}

/// ECS `event.risk_score` of a score in [0, 1]: the score times 100, rounded to three decimal
/// places so that binary floating-point noise (`99.30000000000001`) does not reach the SIEM.
///
/// ```
/// assert_eq!(vigil_alert::risk_score(0.993), 99.3);
/// assert_eq!(vigil_alert::risk_score(1.0), 100.0);
/// ```
pub fn risk_score(score: f64) -> f64 {
    (score * 100_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_from_below() {
        let t = SeverityThresholds::new(0.9, 0.5).expect("valid");
        assert_eq!(Severity::of(0.9, &t), Severity::Red);
        assert_eq!(Severity::of(0.899_999, &t), Severity::Orange);
        assert_eq!(Severity::of(0.5, &t), Severity::Orange);
        assert_eq!(Severity::of(0.499_999, &t), Severity::Green);
        assert_eq!(Severity::of(f64::NAN, &t), Severity::Green);
    }

    #[test]
    fn invalid_thresholds_are_named() {
        for (red, orange) in [
            (0.9, 0.95),
            (0.9, 0.9),
            (1.5, 0.9),
            (0.9, 0.0),
            (f64::NAN, 0.5),
            (0.9, f64::NAN),
        ] {
            let err = SeverityThresholds::new(red, orange).expect_err("invalid");
            let text = err.to_string();
            assert!(text.contains(&red.to_string()), "{text}");
            assert!(text.contains(&orange.to_string()), "{text}");
        }
        assert!(SeverityThresholds::new(1.0, 0.001).is_ok());
    }

    #[test]
    fn scales_rise_with_urgency() {
        for pair in Severity::ALL.windows(2) {
            let (lower, higher) = (pair[0], pair[1]);
            assert!(lower < higher);
            assert!(lower.ecs_severity() < higher.ecs_severity());
            assert!(lower.cef_severity() < higher.cef_severity());
        }
        for level in Severity::ALL {
            assert!(level.cef_severity() <= 10);
            assert!((1..=100).contains(&level.ecs_severity()));
        }
        assert_eq!(Severity::Red.cim_severity(), "critical");
        assert_eq!(Severity::Orange.cim_severity(), "high");
    }

    #[test]
    fn names_read_back() {
        for level in Severity::ALL {
            assert_eq!(level.as_str().parse::<Severity>(), Ok(level));
            assert_eq!(level.as_upper_str().parse::<Severity>(), Ok(level));
            assert_eq!(level.to_string(), level.as_str());
        }
        let err = "purple".parse::<Severity>().expect_err("not a level");
        assert!(err.to_string().contains("purple"));
    }

    #[test]
    fn risk_score_scales_and_rounds() {
        assert_eq!(risk_score(0.0), 0.0);
        assert_eq!(risk_score(0.95), 95.0);
        assert_eq!(risk_score(0.123_456_7), 12.346);
    }
}
