//! Everything Vigil persists (alerts and their indexes, drift events, the checkpoint, output
//! cursors, suppressions and the schema version) in an embedded sled database, behind the
//! small [`Store`] API so the engine stays replaceable.
//!
//! The crate stores bytes and the few fields it indexes. It knows nothing of the alert
//! model, actix or HTTP: the daemon serialises each alert once (as JSON) and the API and
//! outputs later hand out those bytes as they are.
//!
//! # Use
//!
//! ```
//! use vigil_state::{AlertId, Checkpoint, Commit, NewAlert, Store, StoreOptions};
//!
//! let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
//! let store = Store::open(dir.path().join("state"), &StoreOptions::default())
//!     .map_err(|e| e.to_string())?;
//!
//! // The alert stage commits each batch, and at a checkpoint boundary the checkpoint with it.
//! let batch = vec![NewAlert {
//!     id: "8c1f6a0e2b4d9f70".parse().map_err(|e| format!("{e}"))?,
//!     event_time_micros: 1_729_738_290_093_164,
//!     src_ip: Some("203.0.113.7".parse().map_err(|_| "address")?),
//!     score: 0.995,
//!     bytes: br#"{"id":"8c1f6a0e2b4d9f70","severity":"red"}"#.to_vec(),
//! }];
//! let checkpoint = Checkpoint { sequence: 2_057, ..Checkpoint::default() };
//! store
//!     .commit(&Commit { new_alerts: &batch, checkpoint: Some(&checkpoint), ..Commit::default() })
//!     .map_err(|e| e.to_string())?;
//!
//! // The API pages through alerts, newest first.
//! let page = store.alerts_range(None, None, 50, None).map_err(|e| e.to_string())?;
//! assert_eq!(page.alerts[0].bytes, batch[0].bytes);
//!
//! // Or highest score first.
//! let page = store.alerts_by_score(Some(0.9), None, None, 50, None).map_err(|e| e.to_string())?;
//! assert_eq!(page.alerts[0].score, 0.995);
//!
//! // Each output follows committed alerts with its own cursor.
//! let items = store.outbox_next("ndjson", 100).map_err(|e| e.to_string())?;
//! assert_eq!(items.len(), 1);
//! store.outbox_ack("ndjson", items[0].position).map_err(|e| e.to_string())?;
//!
//! store.flush().map_err(|e| e.to_string())?;
//! # Ok::<(), String>(())
//! ```
//!
//! # Trees and layouts (schema version 2)
//!
//! All integers are big-endian, so byte order is numeric order. Event times are
//! microseconds since the Unix epoch with the sign bit flipped, so negative times sort
//! before positive ones.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `alerts` | event time (8) + alert id (8): an [`AlertKey`] | the serialised alert, written once, rewritten only by [`Store::update_alert`] |
//! | `alert_ids` | alert id (8) | alert key (16) + outbox position (8) + source address (as in `alerts_by_src`, or nothing) |
//! | `alerts_by_src` | family (`4` or `6`) + address (4 or 16) + alert key (16) | empty |
//! | `alert_log` | outbox position (8) | alert key (16) |
//! | `alerts_by_score` | score (8, descending order, escaped) + alert key with every byte inverted (16, escaped) | empty |
//! | `alert_scores` | alert id (8) | the score its `alerts_by_score` entry carries (`f64` bits, 8) |
//! | `drift_events` | event sequence (8) + ordinal (4): a [`DriftKey`] | the serialised drift event |
//! | `checkpoints` | `latest`, `latest_sequence`, `latest_alert_position` | the encoded [`Checkpoint`], its sequence, the outbox position of the last alert committed with or before it |
//! | `outbox_cursors` | output name | outbox position (8) + the output's sink state |
//! | `drift_cursors` | output name | the [`DriftKey`] of the last drift event it delivered (12), or nothing before the first |
//! | `suppressions` | suppression name | the serialised suppression |
//! | `meta` | `schema_version`, `alert_count`, `alert_log_last_position` | u32 version, u64 counters |
//!
//! `alert_log` is the design's outbox: outputs follow outbox positions (commit order), not
//! event times, because alerts from several sources and late events are committed with
//! event times older than alerts already delivered, and a cursor over event time would skip
//! them.
//!
//! # Crash semantics
//!
//! Every write that changes more than one entry ([`Store::commit`] and the helpers built on
//! it, and each retention chunk) is one sled transaction over all the trees it touches.
//! sled writes transactions to one log and recovers a prefix of it, never part of a
//! transaction. What a crash can lose is the tail written after the last flush (at most
//! [`StoreOptions::flush_every_ms`], 500 ms by default, or nothing after [`Store::flush`]).
//!
//! Hence, for the pipeline's checkpoint (written with [`Commit::checkpoint`], in the same
//! transaction as that boundary's alerts):
//!
//! 1. The checkpoint on disk after a crash is never ahead of the alerts: every alert
//!    committed with it or before it is on disk too
//!    ([`StoredCheckpoint::last_alert_position`] names the last of them).
//! 2. Alerts committed after it may or may not be on disk. A restart restores the checkpoint
//!    and re-reads its sources from the checkpoint's offsets; the events after the
//!    checkpoint raise the same alerts again, with the same ids (derived from the sensor,
//!    the event's origin and the detector), and [`Store::commit`] stores those it does not
//!    already hold and reports the others as duplicates. Drift decisions are keyed by event
//!    sequence and deduplicated the same way.
//! 3. So after the restart the store holds each alert exactly once and none is lost, as
//!    long as the sources can still be read from the checkpoint's offsets.
//!
//! For outputs: [`Store::outbox_next`] hands out only alerts already on disk (it flushes
//! first when needed), so a crash never takes back an alert an output delivered. An output
//! acknowledges with [`Store::outbox_ack`] after delivering; a crash between delivery and
//! acknowledgement makes it deliver those alerts again, unless it records its sink's state
//! with the acknowledgement ([`Store::outbox_ack_with_state`], for a file its length) and
//! cuts the sink back to it on restart, which makes delivery exactly once.
//!
//! # Schema versions
//!
//! `meta/schema_version` records the layout ([`SCHEMA_VERSION`]). [`Store::open`] creates
//! it in an empty database, and refuses a newer version ([`StateError::SchemaTooNew`]), a
//! version no release wrote ([`StateError::SchemaUnknown`]) and a non-empty database
//! without one ([`StateError::NotAStateDatabase`]), naming the path and both versions.
//!
//! Version 2 added the score index (`alerts_by_score` and `alert_scores`). A version 1
//! store is upgraded at open: each stored alert is scored with the caller's
//! [`StoreOptions::score_reader`] (the crate does not parse alerts itself) and indexed, the
//! trees are flushed, and only then is the version raised, so an interrupted upgrade is
//! simply done again at the next open.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alerts;
mod checkpoint;
mod error;
mod keys;
mod outbox;
mod records;
mod retention;
mod scores;
mod store;
mod verify;

pub use alerts::{
    AlertPage, AlertUpdate, Commit, CommitOutcome, DriftAppend, NewAlert, NewDriftEvent,
    StoredAlert, StoredCheckpoint,
};
pub use checkpoint::{CHECKPOINT_FORMAT_VERSION, Checkpoint, CheckpointError};
pub use error::{EngineError, StateError};
pub use keys::{AlertId, AlertKey, DriftKey, ParseKeyError};
pub use outbox::{OutboxCursor, OutboxItem};
pub use records::{DriftCursor, DriftEvent, DriftPage};
pub use retention::RetentionReport;
pub use scores::{SCORE_SCAN_BUDGET, ScoreCursor, ScorePage, ScoreReader, ScoredAlert};
pub use store::{MAX_NAME_BYTES, SCHEMA_VERSION, Store, StoreOptions};
pub use verify::IntegrityReport;
