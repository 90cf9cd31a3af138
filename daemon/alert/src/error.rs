//! The one error type of this crate.

use chrono::{DateTime, Utc};

/// What can be wrong with an alert, its thresholds or a value read back from text.
///
/// Every message names the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertError {
    /// Severity thresholds outside `0 < orange < red <= 1`.
    #[error(
        "severity thresholds red {red} and orange {orange} are invalid: need 0 < orange < red <= 1"
    )]
    Thresholds {
        /// The RED threshold given.
        red: f64,
        /// The ORANGE threshold given.
        orange: f64,
    },
    /// A score or rule strength that is not a number in [0, 1].
    #[error("alert score {score} is not a number in [0, 1]")]
    Score {
        /// The score given.
        score: f64,
    },
    /// A top feature whose value or distance from normal is NaN or infinite.
    #[error("top feature {name:?} has a non-finite {field} ({value})")]
    Feature {
        /// The feature's name.
        name: String,
        /// `value` or `deviation`.
        field: &'static str,
        /// The non-finite number.
        value: f64,
    },
    /// A source location that is half known, not finite or out of range.
    #[error(
        "source location latitude {latitude:?}, longitude {longitude:?} is not a pair of finite degrees within ±90 and ±180"
    )]
    Location {
        /// The latitude given.
        latitude: Option<f64>,
        /// The longitude given.
        longitude: Option<f64>,
    },
    /// An alert that claims to aggregate no events at all.
    #[error("alert {id} has count 0; an alert counts at least the event that raised it")]
    ZeroCount {
        /// The alert's id.
        id: String,
    },
    /// `first_seen` after `last_seen`, or the raising event outside that span.
    #[error(
        "alert {id} has event_time {event_time}, first_seen {first_seen} and last_seen {last_seen}: need first_seen <= event_time <= last_seen"
    )]
    TimeSpan {
        /// The alert's id.
        id: String,
        /// Event time of the event that raised it.
        event_time: DateTime<Utc>,
        /// Earliest event time aggregated.
        first_seen: DateTime<Utc>,
        /// Latest event time aggregated.
        last_seen: DateTime<Utc>,
    },
    /// A time RFC 3339 cannot write (a year before 0 or after 9999).
    #[error("time {time} cannot be written in RFC 3339: its year is outside 0000..=9999")]
    TimeOutOfRange {
        /// The time.
        time: DateTime<Utc>,
    },
    /// The JSON serializer refused a value (not expected for a validated alert).
    #[error("alert {id} could not be written as JSON: {detail}")]
    Json {
        /// The alert's id (or the drift notice's model).
        id: String,
        /// What the serializer said.
        detail: String,
    },
    /// Text that names no severity.
    #[error("unknown severity {0:?}: expected red, orange or green")]
    UnknownSeverity(String),
    /// Text that names no alert state.
    #[error("unknown alert state {0:?}: expected new, acknowledged or resolved")]
    UnknownState(String),
    /// Text that names no analyst verdict.
    #[error("unknown verdict {0:?}: expected true_positive or false_positive")]
    UnknownVerdict(String),
    /// Bytes that are not a cooldown snapshot this build reads, or one that does not fit the
    /// configuration; the reason names the offending value.
    #[error("cannot restore alert cooldowns: {reason}")]
    Snapshot {
        /// What is wrong, with the value.
        reason: String,
    },
}
