//! The alert: what a detector raised on an event, aggregated over its repeats.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vigil_sensors::{Event, EventKind, Label, Origin, Sensor, Transport};

use crate::{AlertError, Severity, alert_id};

/// Where an analyst has taken an alert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised, nobody has looked yet.
    #[default]
    New,
    /// An analyst is on it.
    Acknowledged,
    /// Dealt with.
    Resolved,
}

impl AlertState {
    /// Every state, in workflow order.
    pub const ALL: [AlertState; 3] = [
        AlertState::New,
        AlertState::Acknowledged,
        AlertState::Resolved,
    ];

    /// Lower-case name: `new`, `acknowledged`, `resolved` (the JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::New => "new",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertState {
    type Err = AlertError;

    /// Reads `new`, `acknowledged` or `resolved`, in any letter case.
    fn from_str(s: &str) -> Result<AlertState, AlertError> {
        AlertState::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| AlertError::UnknownState(s.to_string()))
    }
}

/// An analyst's verdict on an alert: was the event it was raised on an attack?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The event was an attack (or otherwise worth the alert).
    TruePositive,
    /// The event was normal: the alert was a false alarm.
    FalsePositive,
}

impl Verdict {
    /// Both verdicts.
    pub const ALL: [Verdict; 2] = [Verdict::TruePositive, Verdict::FalsePositive];

    /// `true_positive` or `false_positive` (the JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TruePositive => "true_positive",
            Verdict::FalsePositive => "false_positive",
        }
    }

    /// Whether the verdict says the event was anomalous (an attack).
    pub fn anomalous(self) -> bool {
        self == Verdict::TruePositive
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = AlertError;

    /// Reads `true_positive` or `false_positive`, in any letter case.
    ///
    /// ```
    /// use vigil_alert::Verdict;
    /// assert_eq!("true_positive".parse::<Verdict>()?, Verdict::TruePositive);
    /// assert!("maybe".parse::<Verdict>().unwrap_err().to_string().contains("maybe"));
    /// # Ok::<(), vigil_alert::AlertError>(())
    /// ```
    fn from_str(s: &str) -> Result<Verdict, AlertError> {
        Verdict::ALL
            .into_iter()
            .find(|verdict| verdict.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| AlertError::UnknownVerdict(s.to_string()))
    }
}

/// One feature that pushed a learned model's score up: its value on the event and how far that
/// is from normal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureContribution {
    /// Feature name, as in the feature schema (`failed_logins_window`, `bytes_out`...).
    pub name: String,
    /// The feature's value on the event.
    pub value: f64,
    /// Signed distance from normal in units of normal spread, typically the z-score
    /// `(value - mean) / std` against the model's reference of non-alerted events. Positive
    /// means above normal.
    pub deviation: f64,
}

impl FeatureContribution {
    /// A checked contribution: `value` and `deviation` must be finite, so that every encoding
    /// can write them as JSON numbers.
    ///
    /// ```
    /// use vigil_alert::FeatureContribution;
    /// assert!(FeatureContribution::new("bytes_out", 1.5e6, 4.2).is_ok());
    /// let err = FeatureContribution::new("bytes_out", 1.0, f64::INFINITY).unwrap_err();
    /// assert!(err.to_string().contains("bytes_out"));
    /// ```
    pub fn new(
        name: impl Into<String>,
        value: f64,
        deviation: f64,
    ) -> Result<FeatureContribution, AlertError> {
        let contribution = FeatureContribution {
            name: name.into(),
            value,
            deviation,
        };
        contribution.validate()?;
        Ok(contribution)
    }

    /// Checks that `value` and `deviation` are finite.
    pub fn validate(&self) -> Result<(), AlertError> {
        for (field, value) in [("value", self.value), ("deviation", self.deviation)] {
            if !value.is_finite() {
                return Err(AlertError::Feature {
                    name: self.name.clone(),
                    field,
                    value,
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for FeatureContribution {
    /// `bytes_out = 1500000 (4.2 sd above normal)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = if self.deviation < 0.0 {
            "below"
        } else {
            "above"
        };
        write!(
            f,
            "{} = {} ({:.1} sd {side} normal)",
            self.name,
            ShortNumber(self.value),
            self.deviation.abs()
        )
    }
}

/// A feature value as a person reads it: whole numbers as they are, others with at most four
/// decimals and no trailing zeros (`1.7918`, not `1.791759469228055`).
struct ShortNumber(f64);

impl fmt::Display for ShortNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.fract() == 0.0 && v.abs() < 1e15 {
            return write!(f, "{v:.0}");
        }
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if text == "-0" { "0" } else { text })
    }
}

/// The explanation sentence of a learned model's alert: its top features, their values and how
/// far they are from normal, most deviant first as given.
///
/// ```
/// use vigil_alert::{FeatureContribution, feature_explanation};
/// let top = [
///     FeatureContribution::new("failed_logins_window", 52.0, 6.25).unwrap(),
///     FeatureContribution::new("distinct_ports_window", 0.0, -1.5).unwrap(),
/// ];
/// assert_eq!(
///     feature_explanation(&top),
///     "failed_logins_window = 52 (6.2 sd above normal), distinct_ports_window = 0 (1.5 sd below normal)"
/// );
/// assert_eq!(feature_explanation(&[]), "no feature stands out");
/// let log_count = FeatureContribution::new("src_distinct_dst_ports_window_log1p", 1.791759469228055, 4.4).unwrap();
/// assert_eq!(
///     log_count.to_string(),
///     "src_distinct_dst_ports_window_log1p = 1.7918 (4.4 sd above normal)"
/// );
/// ```
pub fn feature_explanation(features: &[FeatureContribution]) -> String {
    use fmt::Write;
    if features.is_empty() {
        return "no feature stands out".to_string();
    }
    let mut sentence = String::new();
    for (i, feature) in features.iter().enumerate() {
        if i > 0 {
            sentence.push_str(", ");
        }
        // Writing into a String cannot fail.
        let _ = write!(sentence, "{feature}");
    }
    sentence
}

/// A password or other secret seen by a honeypot.
///
/// It is kept in the store (its serde form is the plain string) but its `Debug` form never
/// shows it, so a stray `{:?}` in a log cannot leak it; outbound encodings leave it out unless
/// [`EncodeOptions::redact_credentials`](crate::EncodeOptions::redact_credentials) is off.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credential(Box<str>);

impl Credential {
    /// Wraps a secret.
    pub fn new(secret: impl Into<Box<str>>) -> Credential {
        Credential(secret.into())
    }

    /// The secret itself. Call it only where the secret may go.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

/// Where an alert's source address is, as the configured GeoIP databases say
/// (`geoip.databases`; looked up once per event by the feature stage). Every field is optional:
/// a country database gives the country only, an ASN database the AS only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceGeo {
    /// ISO 3166-1 alpha-2 country code (`GB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_iso_code: Option<Arc<str>>,
    /// Country name in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_name: Option<Arc<str>>,
    /// Latitude in degrees, -90..=90; set together with `longitude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Longitude in degrees, -180..=180; set together with `latitude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Autonomous system number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_org: Option<Arc<str>>,
}

impl SourceGeo {
    /// Whether no field is known.
    pub fn is_empty(&self) -> bool {
        *self == SourceGeo::default()
    }

    /// The location as `(latitude, longitude)`, when both are known.
    pub fn location(&self) -> Option<(f64, f64)> {
        self.latitude.zip(self.longitude)
    }

    /// Checks that latitude and longitude are both known or both unknown, finite and in range,
    /// so every encoding can write them as numbers.
    ///
    /// ```
    /// use vigil_alert::SourceGeo;
    /// let london = SourceGeo { latitude: Some(51.5142), longitude: Some(-0.0931), ..SourceGeo::default() };
    /// assert!(london.validate().is_ok());
    /// let half = SourceGeo { latitude: Some(51.5), ..SourceGeo::default() };
    /// assert!(half.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), AlertError> {
        let ok = match (self.latitude, self.longitude) {
            (None, None) => true,
            (Some(lat), Some(lon)) => {
                lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(AlertError::Location {
                latitude: self.latitude,
                longitude: self.longitude,
            })
        }
    }
}

/// An alert: a detector's finding on one event, with the repeats aggregated into it.
///
/// # A flat projection of the event, not the whole event
/// The alert copies the event fields an analyst and a SIEM use (sensor, kind, addresses,
/// ports, transport, application protocol, user name, password, label, origin) side by side
/// with its own fields, instead of embedding the whole [`Event`]. Flat is what SIEM pipelines
/// index without nested mappings, what the daemon's alert lines always were, and it keeps the
/// stored alert small and stable: the event model may grow (flow counters, command lines,
/// dataset columns) without changing the alert's schema. The event itself stays findable
/// through [`Alert::origin`].
///
/// # Serde form: the store form
/// `Serialize`/`Deserialize` give the flat JSON the store keeps, **including the password**.
/// Anything outbound goes through the encoders ([`encode_json`](crate::encode_json),
/// [`encode_ecs`](crate::encode_ecs), [`encode_cef`](crate::encode_cef),
/// [`encode_webhook_alert`](crate::encode_webhook_alert)), which redact it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id, see [`alert_id`].
    pub id: String,
    /// Event time of the event that raised it.
    pub event_time: DateTime<Utc>,
    /// Earliest event time among the events aggregated into it.
    pub first_seen: DateTime<Utc>,
    /// Latest event time among the events aggregated into it.
    pub last_seen: DateTime<Utc>,
    /// How many events it stands for: 1, plus each repeat from the same source and detector
    /// within the cooldown (see [`Cooldowns`](crate::Cooldowns)).
    pub count: u64,
    /// RED or ORANGE (GREEN events are counted, not alerted).
    pub severity: Severity,
    /// Calibrated score or rule strength, in [0, 1]; the highest seen over its repeats.
    pub score: f64,
    /// The detector or rule that raised it.
    pub detector: String,
    /// The detector leading the pool when it was raised, when the pool had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion: Option<String>,
    /// A sentence that says why, naming the numbers: the rule's sentence, or
    /// [`feature_explanation`] of the top features.
    pub explanation: String,
    /// The features that pushed a learned model's score up, most deviant first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_features: Vec<FeatureContribution>,
    /// Where an analyst has taken it.
    #[serde(default)]
    pub state: AlertState,
    /// The analyst the alert is assigned to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The analyst's note, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The analyst's verdict, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Verdict>,
    /// Sequence number of the event that raised it in the detector stage (the first event,
    /// for an alert with repeats), when the daemon's pipeline raised it: what analyst
    /// feedback names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Sensor kind.
    pub sensor: Sensor,
    /// Sensor instance.
    pub sensor_id: Arc<str>,
    /// Event kind.
    pub kind: EventKind,
    /// Source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpAddr>,
    /// Source port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Where the source address is, when GeoIP enrichment is on and a database knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_geo: Option<SourceGeo>,
    /// Destination address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<IpAddr>,
    /// Destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// Transport protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// Application protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<Arc<str>>,
    /// User name of a login attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Box<str>>,
    /// Password of a login attempt: stored, redacted in outbound encodings by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Credential>,
    /// Ground truth, when the data is labelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Where the event was read from.
    pub origin: Origin,
}

impl Alert {
    /// The alert a detector raises on an event: count 1, state new, no champion and no top
    /// features (add them with [`Alert::with_champion`] and [`Alert::with_top_features`]).
    ///
    /// # Errors
    /// [`AlertError::Score`] when `score` is not in [0, 1] (NaN included).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vigil_alert::{Alert, Severity};
    /// use vigil_sensors::{Event, EventKind, Origin, Sensor};
    /// let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
    /// let event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
    ///                        EventKind::LoginFailed, origin);
    /// let alert = Alert::new(&event, "brute_force", 0.97, Severity::Orange, "10 failed logins".into())?;
    /// assert_eq!(alert.count, 1);
    /// assert_eq!(alert.first_seen, event.event_time);
    /// assert!(Alert::new(&event, "brute_force", 1.5, Severity::Red, String::new()).is_err());
    /// # Ok::<(), vigil_alert::AlertError>(())
    /// ```
    pub fn new(
        event: &Event,
        detector: &str,
        score: f64,
        severity: Severity,
        explanation: String,
    ) -> Result<Alert, AlertError> {
        check_score(score)?;
        Ok(Alert {
            id: alert_id(&event.sensor_id, &event.origin, detector),
            event_time: event.event_time,
            first_seen: event.event_time,
            last_seen: event.event_time,
            count: 1,
            severity,
            score,
            detector: detector.to_string(),
            champion: None,
            explanation,
            top_features: Vec::new(),
            state: AlertState::New,
            assignee: None,
            note: None,
            feedback: None,
            sensor: event.sensor,
            sensor_id: event.sensor_id.clone(),
            kind: event.kind,
            src_ip: event.src_ip,
            src_port: event.src_port,
            src_geo: None,
            dst_ip: event.dst_ip,
            dst_port: event.dst_port,
            transport: event.transport,
            app_proto: event.app_proto.clone(),
            username: event.username.clone(),
            password: event.password.as_deref().map(Credential::new),
            label: event.label.clone(),
            origin: event.origin.clone(),
            seq: None,
        })
    }

    /// The same alert, carrying the sequence number of the event that raised it.
    pub fn with_seq(mut self, seq: u64) -> Alert {
        self.seq = Some(seq);
        self
    }

    /// The same alert, naming the detector that led the pool when it was raised.
    pub fn with_champion(mut self, champion: impl Into<String>) -> Alert {
        self.champion = Some(champion.into());
        self
    }

    /// The same alert with where its source address is; an empty `geo` leaves it unknown.
    ///
    /// # Errors
    /// [`AlertError::Location`] when the latitude and longitude fail [`SourceGeo::validate`].
    pub fn with_src_geo(mut self, geo: SourceGeo) -> Result<Alert, AlertError> {
        geo.validate()?;
        self.src_geo = (!geo.is_empty()).then_some(geo);
        Ok(self)
    }

    /// The same alert with its top contributing features.
    ///
    /// # Errors
    /// [`AlertError::Feature`] naming the first feature whose value or deviation is not finite.
    pub fn with_top_features(
        mut self,
        features: Vec<FeatureContribution>,
    ) -> Result<Alert, AlertError> {
        features
            .iter()
            .try_for_each(FeatureContribution::validate)?;
        self.top_features = features;
        Ok(self)
    }

    /// Folds a repeat (same source and detector, within the cooldown) into this alert: one
    /// more in `count`, the seen span widened to `event_time`, and the score and severity
    /// raised to the repeat's when higher.
    ///
    /// # Errors
    /// [`AlertError::Score`] when `score` is not in [0, 1]; the alert is then unchanged.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vigil_alert::{Alert, Severity};
    /// # use vigil_sensors::{Event, EventKind, Origin, Sensor};
    /// # let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
    /// # let event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
    /// #                        EventKind::LoginFailed, origin);
    /// let mut alert = Alert::new(&event, "brute_force", 0.96, Severity::Orange, "…".into())?;
    /// let later = event.event_time + chrono::TimeDelta::seconds(5);
    /// alert.record_repeat(later, 0.97, Severity::Orange)?;
    /// assert_eq!((alert.count, alert.last_seen, alert.score), (2, later, 0.97));
    /// # Ok::<(), vigil_alert::AlertError>(())
    /// ```
    pub fn record_repeat(
        &mut self,
        event_time: DateTime<Utc>,
        score: f64,
        severity: Severity,
    ) -> Result<(), AlertError> {
        check_score(score)?;
        self.count = self.count.saturating_add(1);
        self.first_seen = self.first_seen.min(event_time);
        self.last_seen = self.last_seen.max(event_time);
        self.score = self.score.max(score);
        self.severity = self.severity.max(severity);
        Ok(())
    }

    /// Checks what the encoders rely on: a score in [0, 1], a count of at least 1,
    /// `first_seen <= event_time <= last_seen`, finite top features, a valid source location. Constructors keep these;
    /// the fields are public, so encoders check again.
    pub fn validate(&self) -> Result<(), AlertError> {
        check_score(self.score)?;
        if self.count == 0 {
            return Err(AlertError::ZeroCount {
                id: self.id.clone(),
            });
        }
        if !(self.first_seen <= self.event_time && self.event_time <= self.last_seen) {
            return Err(AlertError::TimeSpan {
                id: self.id.clone(),
                event_time: self.event_time,
                first_seen: self.first_seen,
                last_seen: self.last_seen,
            });
        }
        if let Some(geo) = &self.src_geo {
            geo.validate()?;
        }
        self.top_features
            .iter()
            .try_for_each(FeatureContribution::validate)
    }
}

fn check_score(score: f64) -> Result<(), AlertError> {
    if (0.0..=1.0).contains(&score) {
        Ok(())
    } else {
        Err(AlertError::Score { score })
    }
}
