//! Drift events (with the cursors of the outputs that follow them) and suppressions.

use std::ops::Bound;

use crate::alerts::{Commit, DriftAppend, NewDriftEvent};
use crate::error::StateError;
use crate::keys::{DriftKey, hex};
use crate::store::{DRIFT_EVENTS, SUPPRESSIONS, Store, check_name, owned};

/// The tree of drift cursors: output name to the key of the last drift event it delivered
/// ([`DriftKey::to_bytes`], 12 bytes), or to nothing when it has delivered none yet. Opened
/// on first use, so databases written before it existed read the same.
pub(crate) const DRIFT_CURSORS: &str = "drift_cursors";

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

/// Where an output that follows the drift events stands (its drift cursor).
///
/// Like an outbox cursor ([`crate::OutboxCursor`]) but over the `drift_events` tree, whose
/// keys are event sequence numbers rather than commit positions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriftCursor {
    /// The last drift event the output delivered; `None` when it has delivered none yet and
    /// the oldest stored event comes next.
    pub last: Option<DriftKey>,
}

impl DriftCursor {
    fn encode(self) -> Vec<u8> {
        self.last
            .map(|key| key.to_bytes().to_vec())
            .unwrap_or_default()
    }

    fn decode(name: &str, bytes: &[u8]) -> Result<DriftCursor, StateError> {
        if bytes.is_empty() {
            return Ok(DriftCursor { last: None });
        }
        DriftKey::from_bytes(bytes)
            .map(|key| DriftCursor { last: Some(key) })
            .ok_or_else(|| {
                StateError::corrupt(
                    DRIFT_CURSORS,
                    name.to_owned(),
                    format!(
                        "expected 0 or {} bytes, found {}",
                        DriftKey::LEN,
                        bytes.len()
                    ),
                )
            })
    }
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

    /// Drift events after `after` (all of them for `None`), oldest first, at most `limit`:
    /// what an output that follows the drift events reads next.
    ///
    /// ```
    /// use vigil_state::{DriftKey, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// for sequence in [700, 300, 500] {
    ///     store.append_drift_event(sequence, b"decision").map_err(|e| e.to_string())?;
    /// }
    /// let keys = |events: Vec<vigil_state::DriftEvent>| -> Vec<u64> {
    ///     events.iter().map(|event| event.key.event_sequence()).collect()
    /// };
    /// assert_eq!(keys(store.drift_events_after(None, 10).map_err(|e| e.to_string())?), [300, 500, 700]);
    /// let after = Some(DriftKey::new(300, 0));
    /// assert_eq!(keys(store.drift_events_after(after, 1).map_err(|e| e.to_string())?), [500]);
    /// # Ok::<(), String>(())
    /// ```
    pub fn drift_events_after(
        &self,
        after: Option<DriftKey>,
        limit: usize,
    ) -> Result<Vec<DriftEvent>, StateError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let from = match after {
            Some(key) => Bound::Excluded(key.stored()),
            None => Bound::Unbounded,
        };
        for item in self
            .inner
            .drift_events
            .range::<Vec<u8>, _>((from, Bound::Unbounded))
        {
            let (key, bytes) =
                item.map_err(|source| StateError::engine("reading drift events", source))?;
            let key = DriftKey::from_stored(&key).ok_or_else(|| {
                StateError::corrupt(DRIFT_EVENTS, hex(&key), "not a stored drift event key")
            })?;
            out.push(DriftEvent {
                key,
                bytes: owned(bytes),
            });
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    fn drift_cursor_tree(&self) -> Result<sled::Tree, StateError> {
        self.inner
            .db
            .open_tree(DRIFT_CURSORS)
            .map_err(|source| StateError::engine("opening the drift cursors", source))
    }

    /// Where output `name` stands in the drift events, or `None` before its first
    /// acknowledgement ([`Store::drift_ack`]).
    pub fn drift_cursor(&self, name: &str) -> Result<Option<DriftCursor>, StateError> {
        check_name("output", name)?;
        let value = self
            .drift_cursor_tree()?
            .get(name.as_bytes())
            .map_err(|source| StateError::engine("reading a drift cursor", source))?;
        value
            .map(|bytes| DriftCursor::decode(name, &bytes))
            .transpose()
    }

    /// Up to `limit` drift events after output `name`'s drift cursor, oldest first (from
    /// the oldest stored one when it has none).
    ///
    /// Drift events are keyed by the event sequence of the decision, so a restart that
    /// derives a decision again stores it under the same key, behind the cursor of an output
    /// that already delivered it: each event is delivered once.
    ///
    /// ```
    /// use vigil_state::{DriftKey, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// store.append_drift_event(40, b"champion changed").map_err(|e| e.to_string())?;
    /// let events = store.drift_next("webhook", 10).map_err(|e| e.to_string())?;
    /// assert_eq!(events.len(), 1);
    /// store.drift_ack("webhook", Some(events[0].key)).map_err(|e| e.to_string())?;
    /// assert!(store.drift_next("webhook", 10).map_err(|e| e.to_string())?.is_empty());
    /// # Ok::<(), String>(())
    /// ```
    pub fn drift_next(&self, name: &str, limit: usize) -> Result<Vec<DriftEvent>, StateError> {
        let after = self.drift_cursor(name)?.and_then(|cursor| cursor.last);
        self.drift_events_after(after, limit)
    }

    /// Records that output `name` delivered every drift event up to `last` (`None`: none
    /// yet, which records that the output exists and starts from the oldest event). A
    /// cursor only moves forward: an older key leaves it as it is. Returns the cursor now
    /// stored.
    pub fn drift_ack(&self, name: &str, last: Option<DriftKey>) -> Result<DriftCursor, StateError> {
        check_name("output", name)?;
        let tree = self.drift_cursor_tree()?;
        let wanted = DriftCursor { last };
        // Compare-and-swap, so two acknowledgements racing cannot move the cursor back.
        loop {
            let current = tree
                .get(name.as_bytes())
                .map_err(|source| StateError::engine("reading a drift cursor", source))?;
            if let Some(bytes) = &current {
                let stored = DriftCursor::decode(name, bytes)?;
                if stored.last >= last {
                    return Ok(stored);
                }
            }
            let swapped = tree
                .compare_and_swap(name.as_bytes(), current, Some(wanted.encode()))
                .map_err(|source| StateError::engine("moving a drift cursor", source))?;
            if swapped.is_ok() {
                return Ok(wanted);
            }
        }
    }

    /// Forgets output `name`'s drift cursor. Returns whether it existed.
    pub fn remove_drift_cursor(&self, name: &str) -> Result<bool, StateError> {
        check_name("output", name)?;
        self.drift_cursor_tree()?
            .remove(name.as_bytes())
            .map(|old| old.is_some())
            .map_err(|source| StateError::engine("removing a drift cursor", source))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir.join("state"), &StoreOptions::default()).expect("store")
    }

    fn sequences(events: &[DriftEvent]) -> Vec<(u64, u32)> {
        events
            .iter()
            .map(|event| (event.key.event_sequence(), event.key.ordinal()))
            .collect()
    }

    #[test]
    fn drift_events_after_reads_oldest_first_past_the_key_in_pages() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path());
        // Sequences whose bytes need escaping (0xfe, 0xff) sort as numbers all the same.
        let wanted = [1u64, 0xfe, 0xff, 0x1_00, 0xfeff, u64::MAX - 1, u64::MAX];
        for sequence in wanted.iter().rev() {
            store.append_drift_event(*sequence, b"a").expect("append");
        }
        store.append_drift_event(0xff, b"b").expect("append");
        let all = store.drift_events_after(None, 100).expect("read");
        let mut expected: Vec<(u64, u32)> = wanted.iter().map(|s| (*s, 0)).collect();
        expected.insert(3, (0xff, 1));
        assert_eq!(sequences(&all), expected);

        // Paging by the last key read gives the same events, each once.
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = store.drift_events_after(after, 3).expect("page");
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            after = page.last().map(|event| event.key);
            paged.extend(page);
        }
        assert_eq!(paged, all);
        assert!(store.drift_events_after(None, 0).expect("read").is_empty());
        let last = all.last().map(|event| event.key);
        assert!(store.drift_events_after(last, 10).expect("read").is_empty());
    }

    #[test]
    fn drift_cursor_moves_forward_only_and_survives_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = open(dir.path());
            assert_eq!(store.drift_cursor("webhook").expect("cursor"), None);
            // Acknowledging nothing records that the output exists, from the oldest event.
            let start = store.drift_ack("webhook", None).expect("ack");
            assert_eq!(start, DriftCursor { last: None });
            assert_eq!(store.drift_cursor("webhook").expect("cursor"), Some(start));
            for sequence in [10, 20, 30] {
                store.append_drift_event(sequence, b"x").expect("append");
            }
            let next = store.drift_next("webhook", 2).expect("next");
            assert_eq!(sequences(&next), [(10, 0), (20, 0)]);
            let key = next[1].key;
            assert_eq!(
                store.drift_ack("webhook", Some(key)).expect("ack").last,
                Some(key)
            );
            // Older acknowledgements leave it where it is.
            assert_eq!(
                store
                    .drift_ack("webhook", Some(DriftKey::new(10, 0)))
                    .expect("ack")
                    .last,
                Some(key)
            );
            assert_eq!(
                store.drift_ack("webhook", None).expect("ack").last,
                Some(key)
            );
            // Another output has a cursor of its own.
            assert_eq!(
                sequences(&store.drift_next("other", 10).expect("next")).len(),
                3
            );
            store.flush().expect("flush");
        }
        let store = open(dir.path());
        assert_eq!(
            store.drift_cursor("webhook").expect("cursor"),
            Some(DriftCursor {
                last: Some(DriftKey::new(20, 0))
            })
        );
        // The same decision derived again after a restart is not handed out again.
        store.append_drift_event(20, b"x").expect("append");
        assert_eq!(
            sequences(&store.drift_next("webhook", 10).expect("next")),
            [(30, 0)]
        );
        assert!(store.remove_drift_cursor("webhook").expect("remove"));
        assert!(!store.remove_drift_cursor("webhook").expect("remove"));
        assert_eq!(store.drift_next("webhook", 10).expect("next").len(), 3);
        assert!(store.drift_cursor("").is_err(), "names are checked");
        assert!(store.verify().expect("verify").problems.is_empty());
    }

    #[test]
    fn a_damaged_drift_cursor_is_reported_with_its_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path());
        store
            .drift_cursor_tree()
            .expect("tree")
            .insert("webhook", &[1u8, 2, 3][..])
            .expect("insert");
        let error = store.drift_cursor("webhook").expect_err("damaged");
        assert!(error.to_string().contains("webhook"), "{error}");
        assert!(error.to_string().contains("found 3"), "{error}");
    }
}
