//! Vigil's alert model and its SIEM encodings.
//!
//! Pure code: alerts in, bytes out. Nothing here opens a file, a socket or reads the clock;
//! only event times are read, so a replay gives byte-identical output.
//!
//! # The model
//! - [`Severity`] (GREEN < ORANGE < RED) from a calibrated score or rule strength under
//!   [`SeverityThresholds`], with its ECS, CEF and Splunk CIM scales.
//! - [`alert_id`]: the stable id, 64-bit FNV-1a over the sensor id, the event's origin and the
//!   detector. The same event seen by the same detector always gets the same id, across runs,
//!   versions and platforms.
//! - [`Alert`]: a flat projection of the event (sensor, kind, addresses, ports, transport,
//!   application protocol, user name, password, label, origin) with the alert's own fields:
//!   severity, score, detector, champion, explanation, top features ([`FeatureContribution`]),
//!   count and first/last seen over its repeats, the analyst's [`AlertState`] and [`Verdict`], and where the
//!   source address is ([`SourceGeo`], from GeoIP enrichment). See [`Alert`] for why it is flat.
//! - [`Cooldowns`]: repeats from one source and detector within `alert_cooldown_secs` are
//!   counted into the open alert ([`Aggregation`]).
//!
//! # The encodings
//! Each appends to a reusable `Vec<u8>`; the field tables are in `docs/outputs.md`.
//! - [`encode_json`]: Vigil's flat JSON, one alert per line.
//! - [`encode_ecs`]: Elastic Common Schema NDJSON (`event.kind: "alert"`).
//! - [`encode_cef`]: ArcSight CEF, with header and extension escaping.
//! - [`encode_webhook_alert`], [`encode_webhook_drift`]: Slack-compatible webhook bodies for
//!   RED alerts and for the pool's drift decisions ([`DriftNotice`]).
//!
//! # Credentials
//! Passwords seen by honeypots are kept in the alert (the store keeps them) as a
//! [`Credential`], whose `Debug` form hides them, and are left out of every encoding unless
//! [`EncodeOptions::redact_credentials`] is turned off (`outputs.redact_credentials = false`).
//!
//! ```
//! use std::sync::Arc;
//! use vigil_alert::{Alert, EncodeOptions, Severity, SeverityThresholds, encode_ecs};
//! use vigil_sensors::{Event, EventKind, Origin, Sensor};
//!
//! let origin = Origin { source: Arc::from("cowrie.json"), offset: 4096, round: 0 };
//! let mut event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
//!                            EventKind::LoginFailed, origin);
//! event.src_ip = Some("203.0.113.7".parse().unwrap());
//! event.password = Some("123456".into());
//!
//! let score = 0.995;
//! let severity = Severity::of(score, &SeverityThresholds::default());
//! let alert = Alert::new(&event, "brute_force", score, severity,
//!                        "52 failed logins in 30 s from 203.0.113.7".into())?
//!     .with_champion("hst");
//!
//! let mut line = Vec::new();
//! encode_ecs(&alert, &EncodeOptions::default(), &mut line)?;
//! let doc: serde_json::Value = serde_json::from_slice(&line).unwrap();
//! assert_eq!(doc["rule"]["name"], "brute_force");
//! assert_eq!(doc["vigil"]["champion"], "hst");
//! assert!(!String::from_utf8(line).unwrap().contains("123456"));
//! # Ok::<(), vigil_alert::AlertError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alert;
mod cooldown;
mod encode;
mod error;
mod id;
mod severity;

pub use alert::{
    Alert, AlertState, Credential, FeatureContribution, SourceGeo, Verdict, feature_explanation,
};
pub use cooldown::{Aggregation, Cooldowns, OpenAlert};
pub use encode::{
    CEF_PRODUCT, CEF_VENDOR, DriftNotice, ECS_DATASET, ECS_VERSION, EncodeOptions, LineFormat,
    UnknownLineFormat, encode_cef, encode_ecs, encode_json, encode_webhook_alert,
    encode_webhook_drift,
};
pub use error::AlertError;
pub use id::{alert_id, alert_id_hash};
pub use severity::{Severity, SeverityThresholds, risk_score};
