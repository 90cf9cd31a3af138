//! What the generator is told: site size, rate, attack schedule and drift.

use std::fmt;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// Ground-truth class of ordinary background traffic (`anomalous: false`).
pub const CLASS_NORMAL: &str = "normal";
/// Ground-truth class of the service that appears after `drift_after_secs`.
///
/// It is *normal* traffic (`anomalous: false`): a lasting change of what normal looks like,
/// which detectors should adapt to rather than alert on. The separate class name lets an
/// evaluation tell drift traffic apart from the old baseline.
pub const CLASS_NEW_SERVICE: &str = "new_service";
/// Ground-truth class of SSH brute-force events (`anomalous: true`).
pub const CLASS_BRUTE_FORCE: &str = "brute_force";
/// Ground-truth class of port-scan events (`anomalous: true`).
pub const CLASS_PORT_SCAN: &str = "port_scan";
/// Ground-truth class of traffic-spike events (`anomalous: true`).
pub const CLASS_TRAFFIC_SPIKE: &str = "traffic_spike";

/// Highest allowed `mean_events_per_sec / normal_hosts`.
///
/// Past this, single background hosts become busy enough to look like attackers (more than
/// 20 failed SSH logins in 30 s from one habitual scanner), and the ground truth would lie.
pub const MAX_EVENTS_PER_SEC_PER_HOST: f64 = 0.5;

/// Fewest background hosts: enough for every host class (internal clients, internet
/// scanners, web visitors) to be present.
pub const MIN_NORMAL_HOSTS: usize = 10;

/// Most background hosts.
pub const MAX_NORMAL_HOSTS: usize = 1_000_000;

/// Shortest allowed mean gap between attack episodes, in event-time seconds.
pub const MIN_ATTACK_MEAN_GAP_SECS: f64 = 30.0;

/// Largest allowed share of the new service in normal traffic after drift.
pub const MAX_DRIFT_SHARE: f64 = 0.9;

/// The injected attack kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttackKind {
    /// One public source, dozens to hundreds of failed SSH logins, at least 21 within 30 s.
    BruteForce,
    /// One public source probing at least 150 distinct TCP ports, at least 100 within 60 s.
    PortScan,
    /// One to three internal hosts sending many times their usual event rate for minutes.
    TrafficSpike,
}

impl AttackKind {
    /// Every attack kind, in schedule order before shuffling.
    pub const ALL: [AttackKind; 3] = [
        AttackKind::BruteForce,
        AttackKind::PortScan,
        AttackKind::TrafficSpike,
    ];

    /// The ground-truth class name carried by every event of this kind.
    pub fn class(self) -> &'static str {
        match self {
            AttackKind::BruteForce => CLASS_BRUTE_FORCE,
            AttackKind::PortScan => CLASS_PORT_SCAN,
            AttackKind::TrafficSpike => CLASS_TRAFFIC_SPIKE,
        }
    }
}

impl fmt::Display for AttackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class())
    }
}

/// A configuration value the generator refuses, with the field, the value and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid demo setting `{field}` = {value}: {reason}")]
pub struct DemoConfigError {
    /// The field name, as in [`DemoConfig`].
    pub field: &'static str,
    /// The refused value, printed.
    pub value: String,
    /// What a valid value looks like.
    pub reason: String,
}

impl DemoConfigError {
    fn new(field: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        DemoConfigError {
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Settings of the demo generator. Every run with equal settings yields the same events.
///
/// ```
/// use vigil_demo::DemoConfig;
/// let config = DemoConfig { seed: 7, mean_events_per_sec: 20.0, ..DemoConfig::default() };
/// assert!(config.validate().is_ok());
///
/// let bad = DemoConfig { drift_share: 1.5, ..DemoConfig::default() };
/// let err = bad.validate().unwrap_err();
/// assert_eq!(err.field, "drift_share");
/// assert!(err.to_string().contains("1.5"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Seed of the ChaCha8 random stream; everything random is drawn from it.
    pub seed: u64,
    /// `sensor_id` written into every event.
    pub sensor_id: String,
    /// Event time of the stream's beginning.
    pub start: DateTime<Utc>,
    /// Event-time length of the stream in seconds; `None` runs without end.
    pub duration_secs: Option<f64>,
    /// Number of background hosts (internal clients, habitual internet scanners, web visitors).
    pub normal_hosts: usize,
    /// Rate of background events per event-time second, averaged over a whole weekday
    /// (weekends are quieter), before the drift service is added.
    pub mean_events_per_sec: f64,
    /// Attack kinds to inject; empty turns attacks off. Each kind at most once.
    pub attack_kinds: Vec<AttackKind>,
    /// Mean event-time gap between the starts of two attack episodes, in seconds.
    pub attack_mean_gap_secs: f64,
    /// The first attack episode starts within this many event-time seconds of `start`.
    pub first_attack_within_secs: f64,
    /// Event-time seconds after `start` when the new service appears.
    pub drift_after_secs: f64,
    /// Event-time seconds over which the new service grows to its full share.
    pub drift_ramp_secs: f64,
    /// Share of the new service in normal events once ramped up, averaged over a weekday;
    /// 0 turns drift off.
    pub drift_share: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            seed: 0x5EED_u64,
            sensor_id: "demo".to_owned(),
            // A Monday, so the first simulated day is a working day.
            start: Utc
                .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
                .single()
                .unwrap_or(DateTime::UNIX_EPOCH),
            duration_secs: None,
            normal_hosts: 300,
            mean_events_per_sec: 50.0,
            attack_kinds: AttackKind::ALL.to_vec(),
            attack_mean_gap_secs: 900.0,
            first_attack_within_secs: 600.0,
            drift_after_secs: 6.0 * 3600.0,
            drift_ramp_secs: 900.0,
            drift_share: 0.3,
        }
    }
}

/// How far past `start` event times must stay representable.
const MAX_SIMULATED_SPAN: TimeDelta = TimeDelta::days(365 * 1000);

impl DemoConfig {
    /// Checks every field; the error names the first bad field and its value.
    pub fn validate(&self) -> Result<(), DemoConfigError> {
        if self.sensor_id.trim().is_empty() {
            return Err(DemoConfigError::new(
                "sensor_id",
                format!("{:?}", self.sensor_id),
                "must not be empty",
            ));
        }
        if self.start.checked_add_signed(MAX_SIMULATED_SPAN).is_none() {
            return Err(DemoConfigError::new(
                "start",
                self.start,
                "must leave 1000 years of representable event time after it",
            ));
        }
        if let Some(duration) = self.duration_secs
            && !(duration.is_finite() && duration > 0.0)
        {
            return Err(DemoConfigError::new(
                "duration_secs",
                duration,
                "must be a finite number of seconds above 0",
            ));
        }
        if !(MIN_NORMAL_HOSTS..=MAX_NORMAL_HOSTS).contains(&self.normal_hosts) {
            return Err(DemoConfigError::new(
                "normal_hosts",
                self.normal_hosts,
                format!("must be between {MIN_NORMAL_HOSTS} and {MAX_NORMAL_HOSTS}"),
            ));
        }
        let rate = self.mean_events_per_sec;
        if !(rate.is_finite() && rate > 0.0) {
            return Err(DemoConfigError::new(
                "mean_events_per_sec",
                rate,
                "must be a finite rate above 0",
            ));
        }
        let rate_limit = MAX_EVENTS_PER_SEC_PER_HOST * self.normal_hosts as f64;
        if rate > rate_limit {
            return Err(DemoConfigError::new(
                "mean_events_per_sec",
                rate,
                format!(
                    "must be at most {MAX_EVENTS_PER_SEC_PER_HOST} per normal host ({rate_limit} for {} hosts); raise normal_hosts for more traffic",
                    self.normal_hosts
                ),
            ));
        }
        for (index, kind) in self.attack_kinds.iter().enumerate() {
            if self.attack_kinds[..index].contains(kind) {
                return Err(DemoConfigError::new(
                    "attack_kinds",
                    format!("{:?}", self.attack_kinds),
                    format!("lists {kind} twice"),
                ));
            }
        }
        let gap = self.attack_mean_gap_secs;
        if !(gap.is_finite() && gap >= MIN_ATTACK_MEAN_GAP_SECS) {
            return Err(DemoConfigError::new(
                "attack_mean_gap_secs",
                gap,
                format!("must be a finite number of seconds, at least {MIN_ATTACK_MEAN_GAP_SECS}"),
            ));
        }
        let first = self.first_attack_within_secs;
        if !(first.is_finite() && first > 0.0) {
            return Err(DemoConfigError::new(
                "first_attack_within_secs",
                first,
                "must be a finite number of seconds above 0",
            ));
        }
        let drift_after = self.drift_after_secs;
        if !(drift_after.is_finite() && drift_after >= 0.0) {
            return Err(DemoConfigError::new(
                "drift_after_secs",
                drift_after,
                "must be a finite number of seconds, 0 or more",
            ));
        }
        let ramp = self.drift_ramp_secs;
        if !(ramp.is_finite() && ramp >= 0.0) {
            return Err(DemoConfigError::new(
                "drift_ramp_secs",
                ramp,
                "must be a finite number of seconds, 0 or more",
            ));
        }
        let share = self.drift_share;
        if !(share.is_finite() && (0.0..=MAX_DRIFT_SHARE).contains(&share)) {
            return Err(DemoConfigError::new(
                "drift_share",
                share,
                format!("must be between 0 and {MAX_DRIFT_SHARE}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(config: DemoConfig) -> DemoConfigError {
        match config.validate() {
            Ok(()) => panic!("config should be refused: {config:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn default_is_valid() {
        assert_eq!(DemoConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named_with_its_value() {
        let base = DemoConfig::default;
        let cases: Vec<(DemoConfig, &str, &str)> = vec![
            (
                DemoConfig {
                    sensor_id: "  ".into(),
                    ..base()
                },
                "sensor_id",
                "\"  \"",
            ),
            (
                DemoConfig {
                    start: DateTime::<Utc>::MAX_UTC,
                    ..base()
                },
                "start",
                "+262142",
            ),
            (
                DemoConfig {
                    duration_secs: Some(-1.0),
                    ..base()
                },
                "duration_secs",
                "-1",
            ),
            (
                DemoConfig {
                    duration_secs: Some(f64::NAN),
                    ..base()
                },
                "duration_secs",
                "NaN",
            ),
            (
                DemoConfig {
                    normal_hosts: 3,
                    ..base()
                },
                "normal_hosts",
                "3",
            ),
            (
                DemoConfig {
                    mean_events_per_sec: 0.0,
                    ..base()
                },
                "mean_events_per_sec",
                "0",
            ),
            (
                DemoConfig {
                    mean_events_per_sec: 151.0,
                    ..base()
                },
                "mean_events_per_sec",
                "151",
            ),
            (
                DemoConfig {
                    attack_kinds: vec![AttackKind::PortScan, AttackKind::PortScan],
                    ..base()
                },
                "attack_kinds",
                "PortScan",
            ),
            (
                DemoConfig {
                    attack_mean_gap_secs: 5.0,
                    ..base()
                },
                "attack_mean_gap_secs",
                "5",
            ),
            (
                DemoConfig {
                    first_attack_within_secs: f64::INFINITY,
                    ..base()
                },
                "first_attack_within_secs",
                "inf",
            ),
            (
                DemoConfig {
                    drift_after_secs: -3.0,
                    ..base()
                },
                "drift_after_secs",
                "-3",
            ),
            (
                DemoConfig {
                    drift_ramp_secs: -0.5,
                    ..base()
                },
                "drift_ramp_secs",
                "-0.5",
            ),
            (
                DemoConfig {
                    drift_share: 0.95,
                    ..base()
                },
                "drift_share",
                "0.95",
            ),
        ];
        for (config, field, value) in cases {
            let err = error_of(config);
            assert_eq!(err.field, field);
            let message = err.to_string();
            assert!(message.contains(field), "{message}");
            assert!(message.contains(value), "{message} should show {value}");
        }
    }

    #[test]
    fn rate_limit_scales_with_hosts() {
        let config = DemoConfig {
            normal_hosts: 1000,
            mean_events_per_sec: 500.0,
            ..DemoConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn attacks_and_drift_can_be_switched_off() {
        let config = DemoConfig {
            attack_kinds: Vec::new(),
            drift_share: 0.0,
            ..DemoConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}
