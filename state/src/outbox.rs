//! The outbox: each output reads committed alerts in commit order from its own cursor.
//!
//! Every stored alert gets the next outbox position (1, 2, 3, ...) in the transaction that
//! stores it; the `alert_log` tree maps positions to alert keys. Outputs follow positions,
//! not event times: alerts from several sources, or late events, are committed with event
//! times older than alerts already delivered, and a cursor over event time would skip them.

use std::sync::atomic::Ordering;

use crate::alerts::parse_alert_key_value;
use crate::error::StateError;
use crate::keys::{AlertKey, hex};
use crate::store::{ALERT_LOG, OUTBOX_CURSORS, Store, check_name, decode_u64, owned};

/// An alert handed to an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Its outbox position: acknowledge it with [`Store::outbox_ack`] once delivered.
    pub position: u64,
    /// Its key in the `alerts` tree.
    pub key: AlertKey,
    /// The serialised alert, as currently stored.
    pub bytes: Vec<u8>,
}

/// Where an output stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCursor {
    /// Outbox position of the last alert the output delivered (0: none yet).
    pub position: u64,
    /// What the output recorded about its sink with that acknowledgement (for a file: its
    /// length after the delivered lines), so that after a crash it can cut off lines it
    /// wrote but never acknowledged and deliver each alert exactly once.
    pub sink_state: Vec<u8>,
}

impl OutboxCursor {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.sink_state.len());
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.sink_state);
        out
    }

    pub(crate) fn decode(name: &str, bytes: &[u8]) -> Result<OutboxCursor, StateError> {
        if bytes.len() < 8 {
            return Err(StateError::corrupt(
                OUTBOX_CURSORS,
                name.to_owned(),
                format!("expected at least 8 bytes, found {}", bytes.len()),
            ));
        }
        Ok(OutboxCursor {
            position: decode_u64(OUTBOX_CURSORS, name.as_bytes(), &bytes[..8])?,
            sink_state: bytes[8..].to_vec(),
        })
    }
}

impl Store {
    /// Where output `name` stands, or `None` before its first acknowledgement (it then
    /// starts from the oldest stored alert; an output that should skip history
    /// acknowledges [`Store::last_alert_position`] first).
    pub fn outbox_cursor(&self, name: &str) -> Result<Option<OutboxCursor>, StateError> {
        check_name("output", name)?;
        let value = self
            .inner
            .outbox_cursors
            .get(name.as_bytes())
            .map_err(|source| StateError::engine("reading an outbox cursor", source))?;
        value
            .map(|bytes| OutboxCursor::decode(name, &bytes))
            .transpose()
    }

    /// Every output's cursor, by name.
    pub fn outbox_cursors(&self) -> Result<Vec<(String, OutboxCursor)>, StateError> {
        let mut out = Vec::new();
        for item in self.inner.outbox_cursors.iter() {
            let (name, bytes) =
                item.map_err(|source| StateError::engine("reading outbox cursors", source))?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| {
                StateError::corrupt(OUTBOX_CURSORS, hex(&name), "the name is not UTF-8")
            })?;
            let cursor = OutboxCursor::decode(&name, &bytes)?;
            out.push((name, cursor));
        }
        Ok(out)
    }

    /// Outbox position of the last committed alert (0 before the first).
    pub fn last_alert_position(&self) -> u64 {
        self.inner.last_position.load(Ordering::Acquire)
    }

    /// Up to `limit` alerts after output `name`'s cursor, in commit order.
    ///
    /// Only alerts already on disk are handed out: when the next ones are not yet, this
    /// flushes first. An output therefore never delivers an alert that a crash could take
    /// back (and a restart would commit again under another position). Alerts that
    /// retention removed before delivery are skipped.
    ///
    /// ```
    /// use vigil_state::{AlertId, NewAlert, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// // Committed late, with an older event time, yet delivered after the first.
    /// for (id, time) in [(1, 500), (2, 100)] {
    ///     let alert = NewAlert { id: AlertId::new(id), event_time_micros: time, src_ip: None, score: 0.5, bytes: vec![] };
    ///     store.commit_alerts(&[alert]).map_err(|e| e.to_string())?;
    /// }
    /// let items = store.outbox_next("ndjson", 10).map_err(|e| e.to_string())?;
    /// let ids: Vec<u64> = items.iter().map(|item| item.key.id().get()).collect();
    /// assert_eq!(ids, [1, 2]);
    /// store.outbox_ack("ndjson", items[1].position).map_err(|e| e.to_string())?;
    /// assert!(store.outbox_next("ndjson", 10).map_err(|e| e.to_string())?.is_empty());
    /// # Ok::<(), String>(())
    /// ```
    pub fn outbox_next(&self, name: &str, limit: usize) -> Result<Vec<OutboxItem>, StateError> {
        let from = self
            .outbox_cursor(name)?
            .map_or(0, |cursor| cursor.position);
        self.outbox_after(from, limit)
    }

    /// Up to `limit` alerts after outbox position `after`, in commit order: what a reader
    /// that keeps its own cursor in memory (a live stream) reads next. Like
    /// [`Store::outbox_next`], only alerts already on disk are handed out, and alerts that
    /// retention removed are skipped.
    ///
    /// ```
    /// use vigil_state::{AlertId, NewAlert, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// for id in 1..=3 {
    ///     let alert = NewAlert { id: AlertId::new(id), event_time_micros: 0, src_ip: None, score: 0.5, bytes: vec![] };
    ///     store.commit_alerts(&[alert]).map_err(|e| e.to_string())?;
    /// }
    /// let items = store.outbox_after(1, 10).map_err(|e| e.to_string())?;
    /// let positions: Vec<u64> = items.iter().map(|item| item.position).collect();
    /// assert_eq!(positions, [2, 3]);
    /// # Ok::<(), String>(())
    /// ```
    pub fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxItem>, StateError> {
        let committed = self.last_alert_position();
        if limit == 0 || after >= committed {
            return Ok(Vec::new());
        }
        if self.inner.durable_position.load(Ordering::Acquire) < committed {
            self.flush()?;
        }
        let durable = self.inner.durable_position.load(Ordering::Acquire);
        let mut out = Vec::new();
        let range = (after + 1).to_be_bytes()..=durable.to_be_bytes();
        for item in self.inner.alert_log.range(range) {
            let (position, key) =
                item.map_err(|source| StateError::engine("reading the alert log", source))?;
            let key = parse_alert_key_value(ALERT_LOG, &position, &key)?;
            let position = decode_u64(ALERT_LOG, &position, &position)?;
            let bytes = self.alert_bytes(key)?;
            if let Some(bytes) = bytes {
                out.push(OutboxItem {
                    position,
                    key,
                    bytes: owned(bytes),
                });
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Records that output `name` delivered everything up to outbox `position`. A cursor
    /// only moves forward: an older position leaves it as it is. Returns the cursor now
    /// stored. Sets the sink state to empty; see [`Store::outbox_ack_with_state`].
    pub fn outbox_ack(&self, name: &str, position: u64) -> Result<OutboxCursor, StateError> {
        self.outbox_ack_with_state(name, position, &[])
    }

    /// Like [`Store::outbox_ack`], and records `sink_state` with the position in one write
    /// (for a file output, its length after the acknowledged lines).
    pub fn outbox_ack_with_state(
        &self,
        name: &str,
        position: u64,
        sink_state: &[u8],
    ) -> Result<OutboxCursor, StateError> {
        check_name("output", name)?;
        let committed = self.last_alert_position();
        if position > committed {
            return Err(StateError::AckBeyondCommitted {
                name: name.to_owned(),
                position,
                committed,
            });
        }
        let tree = &self.inner.outbox_cursors;
        let wanted = OutboxCursor {
            position,
            sink_state: sink_state.to_vec(),
        };
        // Compare-and-swap, so two acknowledgements racing cannot move the cursor back.
        loop {
            let current = tree
                .get(name.as_bytes())
                .map_err(|source| StateError::engine("reading an outbox cursor", source))?;
            if let Some(bytes) = &current {
                let stored = OutboxCursor::decode(name, bytes)?;
                if stored.position > position {
                    return Ok(stored);
                }
            }
            let swapped = tree
                .compare_and_swap(name.as_bytes(), current, Some(wanted.encode()))
                .map_err(|source| StateError::engine("moving an outbox cursor", source))?;
            if swapped.is_ok() {
                return Ok(wanted);
            }
        }
    }

    /// Forgets output `name`'s cursor (an output removed from the configuration). Returns
    /// whether it existed.
    pub fn remove_outbox(&self, name: &str) -> Result<bool, StateError> {
        check_name("output", name)?;
        self.inner
            .outbox_cursors
            .remove(name.as_bytes())
            .map(|old| old.is_some())
            .map_err(|source| StateError::engine("removing an outbox cursor", source))
    }
}
