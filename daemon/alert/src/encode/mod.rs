//! Outbound encodings of an alert: Vigil's flat JSON, ECS NDJSON, CEF, and Slack-compatible
//! webhook bodies.
//!
//! Every encoder appends to a caller's `Vec<u8>` (reuse one buffer per output) and writes
//! nothing when it returns an error. The line encoders ([`encode_json`], [`encode_ecs`],
//! [`encode_cef`]) append exactly one line, `\n` included; the webhook encoders append one JSON
//! document without a newline.

mod cef;
mod ecs;
mod json;
mod webhook;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike, Utc};

pub use cef::{CEF_PRODUCT, CEF_VENDOR, encode_cef};
pub use ecs::{ECS_DATASET, ECS_VERSION, encode_ecs};
pub use json::encode_json;
pub use webhook::{DriftNotice, encode_webhook_alert, encode_webhook_drift};

use crate::{Alert, AlertError};

/// How outbound encodings are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Leave passwords seen by honeypots out of the output (`outputs.redact_credentials`,
    /// default true). Redacted means absent: no key, no placeholder.
    pub redact_credentials: bool,
    /// Product version written in the CEF header (default: this crate's version, which is the
    /// workspace's).
    pub product_version: String,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            redact_credentials: true,
            product_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl EncodeOptions {
    /// The password an encoding may write: `None` when redacting or when there is none.
    pub(crate) fn password<'a>(&self, alert: &'a Alert) -> Option<&'a str> {
        if self.redact_credentials {
            None
        } else {
            alert.password.as_ref().map(|p| p.expose())
        }
    }
}

/// A line-oriented output format, for outputs that pick one by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineFormat {
    /// Vigil's flat JSON ([`encode_json`]).
    Json,
    /// Elastic Common Schema JSON ([`encode_ecs`]).
    Ecs,
    /// ArcSight Common Event Format ([`encode_cef`]).
    Cef,
}

impl LineFormat {
    /// Every format.
    pub const ALL: [LineFormat; 3] = [LineFormat::Json, LineFormat::Ecs, LineFormat::Cef];

    /// Lower-case name: `json`, `ecs`, `cef`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineFormat::Json => "json",
            LineFormat::Ecs => "ecs",
            LineFormat::Cef => "cef",
        }
    }

    /// Appends `alert` as one line in this format.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vigil_alert::{Alert, EncodeOptions, LineFormat, Severity};
    /// # use vigil_sensors::{Event, EventKind, Origin, Sensor};
    /// # let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
    /// # let event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
    /// #                        EventKind::LoginFailed, origin);
    /// # let alert = Alert::new(&event, "brute_force", 0.99, Severity::Red, "x".into())?;
    /// let mut line = Vec::new();
    /// LineFormat::Cef.encode(&alert, &EncodeOptions::default(), &mut line)?;
    /// assert!(line.starts_with(b"CEF:0|Vigil|Vigil|"));
    /// assert!(line.ends_with(b"\n"));
    /// # Ok::<(), vigil_alert::AlertError>(())
    /// ```
    pub fn encode(
        self,
        alert: &Alert,
        options: &EncodeOptions,
        out: &mut Vec<u8>,
    ) -> Result<(), AlertError> {
        match self {
            LineFormat::Json => encode_json(alert, options, out),
            LineFormat::Ecs => encode_ecs(alert, options, out),
            LineFormat::Cef => encode_cef(alert, options, out),
        }
    }
}

impl fmt::Display for LineFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no [`LineFormat`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format {0:?}: expected json, ecs or cef")]
pub struct UnknownLineFormat(pub String);

impl FromStr for LineFormat {
    type Err = UnknownLineFormat;

    /// Reads `json`, `ecs` or `cef`, in any letter case.
    fn from_str(s: &str) -> Result<LineFormat, UnknownLineFormat> {
        LineFormat::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownLineFormat(s.to_string()))
    }
}

/// Runs `write` on `out`; on error, cuts `out` back to where it was, so a failed encoding
/// leaves no partial line behind.
fn append_or_restore(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), AlertError>,
) -> Result<(), AlertError> {
    let start = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The error for a value the JSON serializer refused.
fn json_error(id: &str, error: &serde_json::Error) -> AlertError {
    AlertError::Json {
        id: id.to_string(),
        detail: error.to_string(),
    }
}

/// A UTC time written as RFC 3339 with microseconds: `2026-03-01T10:00:07.123456Z`.
///
/// Fixed width, so SIEM date parsers need one pattern; microseconds because every sensor time
/// Vigil reads has at most that precision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rfc3339Micros(DateTime<Utc>);

impl Rfc3339Micros {
    /// `Err` for a year RFC 3339 cannot write (before 0 or after 9999).
    pub(crate) fn new(time: DateTime<Utc>) -> Result<Rfc3339Micros, AlertError> {
        if (0..=9999).contains(&time.year()) {
            Ok(Rfc3339Micros(time))
        } else {
            Err(AlertError::TimeOutOfRange { time })
        }
    }
}

impl fmt::Display for Rfc3339Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        // chrono keeps a leap second as nanoseconds past 1e9 in second 59; RFC 3339 writes :60.
        let nanos = t.nanosecond();
        let (second, nanos) = if nanos >= 1_000_000_000 {
            (t.second() + 1, nanos - 1_000_000_000)
        } else {
            (t.second(), nanos)
        };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            second,
            nanos / 1000
        )
    }
}

impl serde::Serialize for Rfc3339Micros {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_fixed_width_utc() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T10:00:07.123456789+02:00")
            .expect("valid")
            .with_timezone(&Utc);
        let text = Rfc3339Micros::new(t).expect("in range").to_string();
        assert_eq!(text, "2026-03-01T08:00:07.123456Z");
        let back = DateTime::parse_from_rfc3339(&text).expect("parses back");
        assert_eq!(back.timestamp_micros(), t.timestamp_micros());
        assert_eq!(
            Rfc3339Micros::new(DateTime::UNIX_EPOCH)
                .expect("in range")
                .to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn rfc3339_refuses_years_it_cannot_write() {
        let far = DateTime::<Utc>::MAX_UTC;
        let err = Rfc3339Micros::new(far).expect_err("year too large");
        assert!(err.to_string().contains(&far.to_string()), "{err}");
    }

    #[test]
    fn line_formats_read_back() {
        for format in LineFormat::ALL {
            assert_eq!(format.as_str().parse::<LineFormat>(), Ok(format));
            assert_eq!(format.to_string().to_uppercase().parse(), Ok(format));
        }
        let err = "syslog".parse::<LineFormat>().expect_err("unknown");
        assert!(err.to_string().contains("syslog"));
    }
}
