//! Alerts: severity, stable ids and the JSON form written to outputs.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use vigil_sensors::{Event, Label, Origin};

use crate::config::SeverityConfig;

/// How urgently an analyst should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Below the ORANGE threshold: counted, not alerted.
    Green,
    /// At or above `severity.orange`.
    Orange,
    /// At or above `severity.red`.
    Red,
}

impl Severity {
    /// Severity of a calibrated score or rule strength under the configured thresholds.
    ///
    /// ```
    /// use vigil::alert::Severity;
    /// use vigil::config::SeverityConfig;
    /// let t = SeverityConfig::default();
    /// assert_eq!(Severity::of(0.995, &t), Severity::Red);
    /// assert_eq!(Severity::of(0.96, &t), Severity::Orange);
    /// assert_eq!(Severity::of(0.5, &t), Severity::Green);
    /// ```
    pub fn of(score: f64, thresholds: &SeverityConfig) -> Severity {
        if score >= thresholds.red {
            Severity::Red
        } else if score >= thresholds.orange {
            Severity::Orange
        } else {
            Severity::Green
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Green => "green",
            Severity::Orange => "orange",
            Severity::Red => "red",
        }
    }
}

/// A stable alert id: the same event seen by the same detector always gets the same id,
/// so a replayed or re-delivered event never makes a second alert.
///
/// It is the 64-bit FNV-1a hash of the sensor id, the origin (source, offset, round) and
/// the detector name, as 16 hex digits. FNV-1a is fixed by its specification, so ids stay
/// the same across Vigil versions and platforms.
///
/// ```
/// use std::sync::Arc;
/// use vigil::alert::alert_id;
/// use vigil_sensors::Origin;
/// let origin = Origin { source: Arc::from("cowrie.json"), offset: 4096, round: 0 };
/// let id = alert_id("hp-1", &origin, "brute_force");
/// assert_eq!(id.len(), 16);
/// assert_eq!(id, alert_id("hp-1", &origin, "brute_force"));
/// assert_ne!(id, alert_id("hp-2", &origin, "brute_force"));
/// ```
pub fn alert_id(sensor_id: &str, origin: &Origin, detector: &str) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    eat(sensor_id.as_bytes());
    eat(&[0]);
    eat(origin.source.as_bytes());
    eat(&[0]);
    eat(&origin.offset.to_le_bytes());
    eat(&origin.round.to_le_bytes());
    eat(detector.as_bytes());
    format!("{hash:016x}")
}

/// An alert as written to outputs (one JSON object per line). Credentials are never included.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Stable id, see [`alert_id`].
    pub id: String,
    /// Event time of the event that raised it.
    pub event_time: DateTime<Utc>,
    /// RED or ORANGE.
    pub severity: Severity,
    /// Calibrated score or rule strength, in [0, 1].
    pub score: f64,
    /// The detector or rule that raised it.
    pub detector: String,
    /// A sentence that says why, naming the numbers.
    pub explanation: String,
    /// Sensor kind.
    pub sensor: &'static str,
    /// Sensor instance.
    pub sensor_id: Arc<str>,
    /// Event kind.
    pub kind: &'static str,
    /// Source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpAddr>,
    /// Source port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Destination address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<IpAddr>,
    /// Destination port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// Application protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<Arc<str>>,
    /// User name of a login attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Box<str>>,
    /// Ground truth, when the data is labelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Where the event was read from.
    pub origin: Origin,
}

impl Alert {
    /// The alert a detector raises on an event.
    pub fn new(
        event: &Event,
        detector: &str,
        score: f64,
        severity: Severity,
        explanation: String,
    ) -> Alert {
        Alert {
            id: alert_id(&event.sensor_id, &event.origin, detector),
            event_time: event.event_time,
            severity,
            score,
            detector: detector.to_string(),
            explanation,
            sensor: event.sensor.as_str(),
            sensor_id: event.sensor_id.clone(),
            kind: event.kind.as_str(),
            src_ip: event.src_ip,
            src_port: event.src_port,
            dst_ip: event.dst_ip,
            dst_port: event.dst_port,
            app_proto: event.app_proto.clone(),
            username: event.username.clone(),
            label: event.label.clone(),
            origin: event.origin.clone(),
        }
    }
}
