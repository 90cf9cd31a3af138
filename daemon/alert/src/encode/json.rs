//! Vigil's own flat JSON: the store form of an alert, with the password redacted.

use std::net::IpAddr;

use serde::Serialize;
use vigil_sensors::{EventKind, Label, Origin, Sensor, Transport};

use super::{EncodeOptions, Rfc3339Micros, append_or_restore, json_error};
use crate::{Alert, AlertError, AlertState, FeatureContribution, Severity, SourceGeo};

/// Appends `alert` as one line of Vigil's flat JSON: the fields of [`Alert`] under their own
/// names (`id`, `event_time`, `severity`, `score`, `detector`, `explanation`, `src_ip`...),
/// with times as fixed-width RFC 3339 UTC and the password left out unless
/// `redact_credentials` is off. With redaction off it reads back as the same [`Alert`].
///
/// # Errors
/// The alert fails [`Alert::validate`], or a time has a year outside 0..=9999.
///
/// ```
/// # use std::sync::Arc;
/// # use vigil_alert::{Alert, EncodeOptions, Severity, encode_json};
/// # use vigil_sensors::{Event, EventKind, Origin, Sensor};
/// # let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
/// let mut event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
///                            EventKind::LoginFailed, origin);
/// event.password = Some("hunter2".into());
/// let alert = Alert::new(&event, "brute_force", 0.99, Severity::Red, "x".into())?;
/// let mut line = Vec::new();
/// encode_json(&alert, &EncodeOptions::default(), &mut line)?;
/// let text = String::from_utf8(line).unwrap();
/// assert!(text.contains(r#""detector":"brute_force""#));
/// assert!(!text.contains("hunter2"));
/// # Ok::<(), vigil_alert::AlertError>(())
/// ```
pub fn encode_json(
    alert: &Alert,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), AlertError> {
    let view = FlatView::of(alert, options)?;
    append_or_restore(out, |out| {
        serde_json::to_writer(&mut *out, &view).map_err(|e| json_error(&alert.id, &e))?;
        out.push(b'\n');
        Ok(())
    })
}

impl<'a> FlatView<'a> {
    /// The view of a validated alert.
    pub(super) fn of(
        alert: &'a Alert,
        options: &EncodeOptions,
    ) -> Result<FlatView<'a>, AlertError> {
        alert.validate()?;
        Ok(FlatView {
            id: &alert.id,
            event_time: Rfc3339Micros::new(alert.event_time)?,
            first_seen: Rfc3339Micros::new(alert.first_seen)?,
            last_seen: Rfc3339Micros::new(alert.last_seen)?,
            count: alert.count,
            severity: alert.severity,
            score: alert.score,
            detector: &alert.detector,
            champion: alert.champion.as_deref(),
            explanation: &alert.explanation,
            top_features: &alert.top_features,
            state: alert.state,
            analyst: AnalystFields(alert),
            sensor: alert.sensor,
            sensor_id: &alert.sensor_id,
            kind: alert.kind,
            src_ip: alert.src_ip,
            src_port: alert.src_port,
            src_geo: alert.src_geo.as_ref(),
            dst_ip: alert.dst_ip,
            dst_port: alert.dst_port,
            transport: alert.transport,
            app_proto: alert.app_proto.as_deref(),
            username: alert.username.as_deref(),
            password: options.password(alert),
            label: alert.label.as_ref(),
            origin: &alert.origin,
        })
    }
}

/// [`Alert`] field for field, borrowed, in the same order and with the same names, so the line
/// reads back as an `Alert`. A test checks that the two stay in step.
#[derive(Serialize)]
pub(super) struct FlatView<'a> {
    id: &'a str,
    event_time: Rfc3339Micros,
    first_seen: Rfc3339Micros,
    last_seen: Rfc3339Micros,
    count: u64,
    severity: Severity,
    score: f64,
    detector: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    champion: Option<&'a str>,
    explanation: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    top_features: &'a [FeatureContribution],
    state: AlertState,
    #[serde(flatten)]
    analyst: AnalystFields<'a>,
    sensor: Sensor,
    sensor_id: &'a str,
    kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_geo: Option<&'a SourceGeo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport: Option<Transport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_proto: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a Label>,
    origin: &'a Origin,
}

/// The analyst's `assignee`, `note` and `feedback` of an alert and the `seq` feedback names,
/// each written only when set. One pointer instead of four optional fields keeps [`FlatView`]
/// small.
pub(super) struct AnalystFields<'a>(&'a Alert);

impl Serialize for AnalystFields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let alert = self.0;
        let len = usize::from(alert.assignee.is_some())
            + usize::from(alert.note.is_some())
            + usize::from(alert.feedback.is_some())
            + usize::from(alert.seq.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        if let Some(assignee) = &alert.assignee {
            map.serialize_entry("assignee", assignee)?;
        }
        if let Some(note) = &alert.note {
            map.serialize_entry("note", note)?;
        }
        if let Some(verdict) = &alert.feedback {
            map.serialize_entry("feedback", verdict)?;
        }
        if let Some(seq) = &alert.seq {
            map.serialize_entry("seq", seq)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vigil_sensors::{Event, EventKind, Origin, Sensor};

    use super::*;

    #[test]
    fn the_analyst_fields_are_written_when_set_and_read_back() {
        let origin = Origin {
            source: Arc::from("cowrie.json"),
            offset: 7,
            round: 0,
        };
        let event = Event::new(
            chrono::DateTime::UNIX_EPOCH,
            Sensor::Cowrie,
            Arc::from("hp-1"),
            EventKind::LoginFailed,
            origin,
        );
        let mut alert =
            Alert::new(&event, "brute_force", 0.99, Severity::Red, "x".into()).expect("valid");
        let mut line = Vec::new();
        encode_json(&alert, &EncodeOptions::default(), &mut line).expect("encodes");
        let text = String::from_utf8(line).expect("utf-8");
        assert!(
            !text.contains("assignee") && !text.contains("note"),
            "{text}"
        );
        alert.state = AlertState::Acknowledged;
        alert.assignee = Some("alice".into());
        alert.note = Some("on it".into());
        let mut line = Vec::new();
        encode_json(&alert, &EncodeOptions::default(), &mut line).expect("encodes");
        let text = std::str::from_utf8(&line).expect("utf-8");
        assert!(
            text.contains(r#""state":"acknowledged","assignee":"alice","note":"on it","sensor""#),
            "{text}"
        );
        let back: Alert = serde_json::from_slice(&line).expect("reads back");
        assert_eq!(back, alert);
    }

    #[test]
    fn the_verdict_and_sequence_number_are_written_when_set_and_read_back() {
        let origin = Origin {
            source: Arc::from("cowrie.json"),
            offset: 7,
            round: 0,
        };
        let event = Event::new(
            chrono::DateTime::UNIX_EPOCH,
            Sensor::Cowrie,
            Arc::from("hp-1"),
            EventKind::LoginFailed,
            origin,
        );
        let mut alert = Alert::new(&event, "pool", 0.99, Severity::Red, "x".into()).expect("valid");
        let mut line = Vec::new();
        encode_json(&alert, &EncodeOptions::default(), &mut line).expect("encodes");
        let text = String::from_utf8(line).expect("utf-8");
        assert!(
            !text.contains("feedback") && !text.contains("\"seq\""),
            "{text}"
        );
        alert = alert.with_seq(41);
        alert.note = Some("seen".into());
        alert.feedback = Some(crate::Verdict::FalsePositive);
        let mut line = Vec::new();
        encode_json(&alert, &EncodeOptions::default(), &mut line).expect("encodes");
        let text = std::str::from_utf8(&line).expect("utf-8");
        assert!(
            text.contains(r#""note":"seen","feedback":"false_positive","seq":41,"sensor""#),
            "{text}"
        );
        let back: Alert = serde_json::from_slice(&line).expect("reads back");
        assert_eq!(back, alert);
        let keys = |v: serde_json::Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(
            keys(serde_json::to_value(&alert).expect("serialises")),
            keys(serde_json::from_slice(&line).expect("JSON"))
        );
    }
}
