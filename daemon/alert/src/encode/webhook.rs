//! Slack-compatible webhook bodies for RED alerts and drift events.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::json::FlatView;
use super::{EncodeOptions, Rfc3339Micros, append_or_restore, json_error};
use crate::{Alert, AlertError, Severity};

/// A change of the detector pool worth telling people about: a drift signal and what the pool
/// did about it. The pool's own drift event carries more; the daemon maps it onto this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftNotice {
    /// Event time at which the drift was detected.
    pub time: DateTime<Utc>,
    /// The model whose drift detector fired.
    pub model: String,
    /// Why the pool decided what it did, in a sentence.
    pub reason: String,
    /// The champion before the decision.
    pub champion_before: String,
    /// The champion after it (the same when the champion stayed).
    pub champion_after: String,
}

/// Attachment colour of each severity, and of drift notices.
fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Red => "#d00000",
        Severity::Orange => "#ff8c00",
        Severity::Green => "#2eb886",
    }
}
const DRIFT_COLOUR: &str = "#439fe0";

/// Appends the JSON body of a webhook POST for `alert` (meant for RED alerts; any severity
/// encodes). Slack and compatible receivers (Mattermost, Rocket.Chat) show `text` and the
/// `attachments[0].fields`; other receivers read the machine-readable `vigil` object:
/// `{"kind": "alert", "alert": <the flat JSON of encode_json>}`.
///
/// Text taken from the event (explanation, user name, sensor id...) has Slack's control
/// characters `&`, `<`, `>` escaped, so an attacker-chosen user name cannot mention
/// `<!channel>` or forge a link. The password follows `redact_credentials` as everywhere.
///
/// # Errors
/// The alert fails [`Alert::validate`], or a time has a year outside 0..=9999.
///
/// ```
/// # use std::sync::Arc;
/// # use vigil_alert::{Alert, EncodeOptions, Severity, encode_webhook_alert};
/// # use vigil_sensors::{Event, EventKind, Origin, Sensor};
/// # let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
/// # let event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
/// #                        EventKind::LoginFailed, origin);
/// let alert = Alert::new(&event, "brute_force", 0.995, Severity::Red, "52 failed logins <!channel>".into())?;
/// let mut body = Vec::new();
/// encode_webhook_alert(&alert, &EncodeOptions::default(), &mut body)?;
/// let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
/// assert!(json["text"].as_str().unwrap().starts_with("RED alert from brute_force"));
/// assert!(json["text"].as_str().unwrap().contains("&lt;!channel&gt;"));
/// assert_eq!(json["vigil"]["alert"]["explanation"], "52 failed logins <!channel>");
/// # Ok::<(), vigil_alert::AlertError>(())
/// ```
pub fn encode_webhook_alert(
    alert: &Alert,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), AlertError> {
    let flat = FlatView::of(alert, options)?;
    let event_time = Rfc3339Micros::new(alert.event_time)?;

    let mut text = format!(
        "{} alert from {} on {}: {}",
        alert.severity.as_upper_str(),
        slack_escape(&alert.detector),
        slack_escape(&alert.sensor_id),
        slack_escape(&alert.explanation)
    );
    if let Some(ip) = alert.src_ip {
        let _ = write!(text, " (source {ip})");
    }

    let mut fields = vec![
        Field::short("Severity", alert.severity.as_upper_str().to_string()),
        Field::short("Score", format!("{:.3}", alert.score)),
        Field::short("Detector", slack_escape(&alert.detector)),
        Field::short(
            "Champion",
            alert
                .champion
                .as_deref()
                .map_or_else(|| "none".to_string(), slack_escape),
        ),
        Field::short("Count", alert.count.to_string()),
        Field::short("Event time", event_time.to_string()),
        Field::short(
            "Sensor",
            format!("{} ({})", slack_escape(&alert.sensor_id), alert.sensor),
        ),
        Field::short("Alert id", alert.id.clone()),
    ];
    if let Some(source) = endpoint(alert.src_ip, alert.src_port) {
        fields.push(Field::short("Source", source));
    }
    if let Some(destination) = endpoint(alert.dst_ip, alert.dst_port) {
        fields.push(Field::short("Destination", destination));
    }
    if let Some(user) = alert.username.as_deref() {
        fields.push(Field::short("User", slack_escape(user)));
    }
    if let Some(password) = options.password(alert) {
        fields.push(Field::short("Password", slack_escape(password)));
    }
    if !alert.top_features.is_empty() {
        let lines: Vec<String> = alert
            .top_features
            .iter()
            .map(|f| slack_escape(&f.to_string()))
            .collect();
        fields.push(Field::long("Top features", lines.join("\n")));
    }

    let body = Body {
        attachments: [Attachment {
            fallback: &text,
            color: colour(alert.severity),
            fields,
        }],
        text: &text,
        vigil: VigilPayload::Alert { alert: flat },
    };
    append_or_restore(out, |out| {
        serde_json::to_writer(&mut *out, &body).map_err(|e| json_error(&alert.id, &e))
    })
}

/// Appends the JSON body of a webhook POST for a drift notice: `text`, attachment fields
/// (model, reason, champion before and after, time), and
/// `vigil: {"kind": "drift", "drift": <the notice>}`. Text is escaped as in
/// [`encode_webhook_alert`].
///
/// # Errors
/// The time has a year outside 0..=9999.
///
/// ```
/// use vigil_alert::{DriftNotice, encode_webhook_drift};
/// let notice = DriftNotice {
///     time: chrono::DateTime::UNIX_EPOCH,
///     model: "hst".into(),
///     reason: "ADWIN on the error stream of hst fired".into(),
///     champion_before: "hst".into(),
///     champion_after: "online_ocsvm".into(),
/// };
/// let mut body = Vec::new();
/// encode_webhook_drift(&notice, &mut body)?;
/// let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
/// assert_eq!(json["text"], "Drift in hst: champion hst → online_ocsvm. ADWIN on the error stream of hst fired");
/// assert_eq!(json["vigil"]["drift"]["champion_after"], "online_ocsvm");
/// # Ok::<(), vigil_alert::AlertError>(())
/// ```
pub fn encode_webhook_drift(notice: &DriftNotice, out: &mut Vec<u8>) -> Result<(), AlertError> {
    let time = Rfc3339Micros::new(notice.time)?;
    let champion = if notice.champion_before == notice.champion_after {
        format!("champion stays {}", slack_escape(&notice.champion_after))
    } else {
        format!(
            "champion {} → {}",
            slack_escape(&notice.champion_before),
            slack_escape(&notice.champion_after)
        )
    };
    let text = format!(
        "Drift in {}: {champion}. {}",
        slack_escape(&notice.model),
        slack_escape(&notice.reason)
    );
    let fields = vec![
        Field::short("Model", slack_escape(&notice.model)),
        Field::short("Time", time.to_string()),
        Field::short("Champion before", slack_escape(&notice.champion_before)),
        Field::short("Champion after", slack_escape(&notice.champion_after)),
        Field::long("Reason", slack_escape(&notice.reason)),
    ];
    let body = Body {
        attachments: [Attachment {
            fallback: &text,
            color: DRIFT_COLOUR,
            fields,
        }],
        text: &text,
        vigil: VigilPayload::Drift {
            drift: DriftView {
                time,
                model: &notice.model,
                reason: &notice.reason,
                champion_before: &notice.champion_before,
                champion_after: &notice.champion_after,
            },
        },
    };
    append_or_restore(out, |out| {
        serde_json::to_writer(&mut *out, &body).map_err(|e| json_error(&notice.model, &e))
    })
}

/// `&`, `<` and `>` as Slack wants them in message text.
fn slack_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `203.0.113.7:22`, `[2001:db8::1]:22`, `203.0.113.7` or `port 22`.
fn endpoint(ip: Option<std::net::IpAddr>, port: Option<u16>) -> Option<String> {
    match (ip, port) {
        (Some(ip), Some(port)) => Some(std::net::SocketAddr::new(ip, port).to_string()),
        (Some(ip), None) => Some(ip.to_string()),
        (None, Some(port)) => Some(format!("port {port}")),
        (None, None) => None,
    }
}

#[derive(Serialize)]
struct Body<'a> {
    text: &'a str,
    attachments: [Attachment<'a>; 1],
    vigil: VigilPayload<'a>,
}

#[derive(Serialize)]
struct Attachment<'a> {
    fallback: &'a str,
    color: &'static str,
    fields: Vec<Field>,
}

#[derive(Serialize)]
struct Field {
    title: &'static str,
    value: String,
    short: bool,
}

impl Field {
    fn short(title: &'static str, value: String) -> Field {
        Field {
            title,
            value,
            short: true,
        }
    }

    fn long(title: &'static str, value: String) -> Field {
        Field {
            title,
            value,
            short: false,
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum VigilPayload<'a> {
    Alert { alert: FlatView<'a> },
    Drift { drift: DriftView<'a> },
}

#[derive(Serialize)]
struct DriftView<'a> {
    time: Rfc3339Micros,
    model: &'a str,
    reason: &'a str,
    champion_before: &'a str,
    champion_after: &'a str,
}
