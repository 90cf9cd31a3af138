//! Drift events and suppressions.

use crate::alerts::{Commit, DriftAppend, NewDriftEvent};
use crate::error::StateError;
use crate::keys::{DriftKey, hex};
use crate::store::{DRIFT_EVENTS, SUPPRESSIONS, Store, check_name, owned};

/// A stored drift event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftEvent {
    /// Its key (event sequence and ordinal); also the paging cursor.
    pub key: DriftKey,
    /// The serialised event.
    pub bytes: Vec<u8>,
}

/// One page of drift events, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftPage {
    /// The events, newest first.
    pub events: Vec<DriftEvent>,
    /// Pass as `cursor` to get the next (older) page; `None` when this page is the last.
    pub next_cursor: Option<DriftKey>,
}

impl Store {
    /// Records a drift decision made at event sequence number `event_sequence`.
    ///
    /// The same bytes at the same event sequence are the same decision re-derived after a
    /// restart and are not stored twice; different decisions at one event get successive
    /// ordinals.
    ///
    /// ```
    /// use vigil_state::{DriftAppend, DriftKey, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// let first = store.append_drift_event(500, b"promote hst").map_err(|e| e.to_string())?;
    /// let second = store.append_drift_event(500, b"retire ocsvm").map_err(|e| e.to_string())?;
    /// let again = store.append_drift_event(500, b"promote hst").map_err(|e| e.to_string())?;
    /// assert_eq!(first, DriftAppend::Inserted(DriftKey::new(500, 0)));
    /// assert_eq!(second, DriftAppend::Inserted(DriftKey::new(500, 1)));
    /// assert_eq!(again, DriftAppend::Duplicate(DriftKey::new(500, 0)));
    /// # Ok::<(), String>(())
    /// ```
    pub fn append_drift_event(
        &self,
        event_sequence: u64,
        bytes: &[u8],
    ) -> Result<DriftAppend, StateError> {
        let events = [NewDriftEvent {
            event_sequence,
            bytes: bytes.to_vec(),
        }];
        let outcome = self.commit(&Commit {
            drift_events: &events,
            ..Commit::default()
        })?;
        outcome.drift_events.first().copied().ok_or_else(|| {
            StateError::corrupt(
                DRIFT_EVENTS,
                event_sequence.to_string(),
                "the commit recorded no drift event",
            )
        })
    }

    /// Drift events, newest first, at most `limit`, continuing below `cursor` (the previous
    /// page's [`DriftPage::next_cursor`]).
    pub fn drift_events(
        &self,
        limit: usize,
        cursor: Option<DriftKey>,
    ) -> Result<DriftPage, StateError> {
        let tree = &self.inner.drift_events;
        let items = match cursor {
            Some(cursor) => tree.range(..cursor.stored()),
            None => tree.iter(),
        };
        let mut page = DriftPage::default();
        for item in items.rev() {
            let (key, bytes) =
                item.map_err(|source| StateError::engine("reading drift events", source))?;
            let key = DriftKey::from_stored(&key).ok_or_else(|| {
                StateError::corrupt(DRIFT_EVENTS, hex(&key), "not a stored drift event key")
            })?;
            if page.events.len() == limit {
                page.next_cursor = page.events.last().map(|event| event.key);
                break;
            }
            page.events.push(DriftEvent {
                key,
                bytes: owned(bytes),
            });
        }
        Ok(page)
    }

    /// Stores suppression `name` (created or replaced), returning the bytes it replaced.
    ///
    /// ```
    /// use vigil_state::{Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// assert_eq!(store.put_suppression("scanner-a", b"{\"src\":\"192.0.2.1\"}").map_err(|e| e.to_string())?, None);
    /// assert_eq!(store.suppressions().map_err(|e| e.to_string())?.len(), 1);
    /// assert!(store.remove_suppression("scanner-a").map_err(|e| e.to_string())?);
    /// assert_eq!(store.suppression("scanner-a").map_err(|e| e.to_string())?, None);
    /// # Ok::<(), String>(())
    /// ```
    pub fn put_suppression(&self, name: &str, bytes: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        check_name("suppression", name)?;
        self.inner
            .suppressions
            .insert(name.as_bytes(), bytes)
            .map(|old| old.map(owned))
            .map_err(|source| StateError::engine("storing a suppression", source))
    }

    /// Suppression `name`, if stored.
    pub fn suppression(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        check_name("suppression", name)?;
        self.inner
            .suppressions
            .get(name.as_bytes())
            .map(|value| value.map(owned))
            .map_err(|source| StateError::engine("reading a suppression", source))
    }

    /// Removes suppression `name`; returns whether it existed.
    pub fn remove_suppression(&self, name: &str) -> Result<bool, StateError> {
        check_name("suppression", name)?;
        self.inner
            .suppressions
            .remove(name.as_bytes())
            .map(|old| old.is_some())
            .map_err(|source| StateError::engine("removing a suppression", source))
    }

    /// Every suppression, by name in byte order.
    pub fn suppressions(&self) -> Result<Vec<(String, Vec<u8>)>, StateError> {
        let mut out = Vec::new();
        for item in self.inner.suppressions.iter() {
            let (name, bytes) =
                item.map_err(|source| StateError::engine("reading suppressions", source))?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| {
                StateError::corrupt(SUPPRESSIONS, hex(&name), "the name is not UTF-8")
            })?;
            out.push((name, owned(bytes)));
        }
        Ok(out)
    }
}
