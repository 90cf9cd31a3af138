//! Committing alerts, drift events and checkpoints together, and reading alerts back.

use std::net::IpAddr;
use std::ops::Bound;
use std::sync::atomic::Ordering;

use sled::IVec;
use sled::transaction::{TransactionError, Transactional, TransactionalTree};

use crate::checkpoint::Checkpoint;
use crate::error::StateError;
use crate::keys::{
    AlertId, AlertKey, DriftKey, hex, ip_from_raw, ip_prefix, ip_raw, push_escaped, time_bytes,
};
use crate::scores::{tx_index_score, tx_move_score};
use crate::store::{
    ALERT_IDS, ALERTS, CHECKPOINTS, META, META_ALERT_COUNT, META_LAST_POSITION, Store, TxError,
    decode_u64, owned, tx_read_u64,
};

pub(crate) const CHECKPOINT_LATEST: &[u8] = b"latest";
pub(crate) const CHECKPOINT_SEQUENCE: &[u8] = b"latest_sequence";
pub(crate) const CHECKPOINT_POSITION: &[u8] = b"latest_alert_position";

/// An alert to store: its id and index fields, and its bytes exactly as outputs and the API
/// will hand them out (the daemon serialises an alert once).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// Stable id; a second alert with the same id is not stored.
    pub id: AlertId,
    /// Event time of the event that raised it, in microseconds since the Unix epoch.
    pub event_time_micros: i64,
    /// Source address, indexed for [`Store::alerts_by_source`].
    pub src_ip: Option<IpAddr>,
    /// The alert's score (in `[0, 1]` for Vigil's alerts), indexed for
    /// [`Store::alerts_by_score`].
    pub score: f64,
    /// The serialised alert.
    pub bytes: Vec<u8>,
}

/// New bytes for a stored alert (cooldown aggregation raising its count, last-seen time
/// and score). The alert keeps its key and its outbox position; its score index entry
/// moves when `score` changes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertUpdate {
    /// The alert to rewrite.
    pub id: AlertId,
    /// Its new score (the highest over its repeats), or `None` to keep the indexed one (an
    /// analyst's edit, which does not change the score).
    pub score: Option<f64>,
    /// Its new serialised form.
    pub bytes: Vec<u8>,
}

/// A drift decision to record at the event sequence number where the pool made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDriftEvent {
    /// Event sequence number of the decision.
    pub event_sequence: u64,
    /// The serialised drift event.
    pub bytes: Vec<u8>,
}

/// Everything one event boundary changes, written in one transaction: either all of it is
/// on disk after a crash, or none of it.
///
/// ```
/// use vigil_state::{AlertId, Checkpoint, Commit, NewAlert, Store, StoreOptions};
/// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
/// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
/// let alerts = [NewAlert {
///     id: AlertId::new(1),
///     event_time_micros: 1_000,
///     src_ip: None,
///     score: 0.5,
///     bytes: br#"{"id":"0000000000000001"}"#.to_vec(),
/// }];
/// let checkpoint = Checkpoint { sequence: 10, ..Checkpoint::default() };
/// let outcome = store
///     .commit(&Commit { new_alerts: &alerts, checkpoint: Some(&checkpoint), ..Commit::default() })
///     .map_err(|e| e.to_string())?;
/// assert_eq!(outcome.inserted, vec![AlertId::new(1)]);
/// let stored = store.read_checkpoint().map_err(|e| e.to_string())?.ok_or("no checkpoint")?;
/// assert_eq!(stored.checkpoint.sequence, 10);
/// assert_eq!(stored.last_alert_position, 1);
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Commit<'a> {
    /// Alerts raised since the last commit, in the order outputs should see them.
    pub new_alerts: &'a [NewAlert],
    /// Stored alerts to rewrite (applied after `new_alerts`, so an alert inserted here can
    /// be updated in the same commit).
    pub alert_updates: &'a [AlertUpdate],
    /// Drift decisions to record.
    pub drift_events: &'a [NewDriftEvent],
    /// The checkpoint of this boundary, replacing the stored one.
    pub checkpoint: Option<&'a Checkpoint>,
}

/// What a [`Commit`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Ids of the alerts stored, in commit order.
    pub inserted: Vec<AlertId>,
    /// Ids already stored (re-derived after a restart): not stored again.
    pub duplicates: Vec<AlertId>,
    /// Ids of the alerts rewritten.
    pub updated: Vec<AlertId>,
    /// Ids of updates whose alert is not stored (removed by retention): nothing written.
    pub missing_updates: Vec<AlertId>,
    /// Each drift event's key, and whether it was new.
    pub drift_events: Vec<DriftAppend>,
    /// Outbox position of the last stored alert after this commit.
    pub last_alert_position: u64,
}

/// Where a drift event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftAppend {
    /// Stored under this key.
    Inserted(DriftKey),
    /// The same bytes were already stored at the same event sequence, under this key.
    Duplicate(DriftKey),
}

impl DriftAppend {
    /// The key the event is stored under.
    pub fn key(self) -> DriftKey {
        match self {
            DriftAppend::Inserted(key) | DriftAppend::Duplicate(key) => key,
        }
    }
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    /// Its key (event time and id); also the paging cursor.
    pub key: AlertKey,
    /// The serialised alert.
    pub bytes: Vec<u8>,
}

/// One page of alerts, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertPage {
    /// The alerts, newest first.
    pub alerts: Vec<StoredAlert>,
    /// Pass as `cursor` to get the next (older) page; `None` when this page is the last.
    pub next_cursor: Option<AlertKey>,
}

/// The checkpoint as stored, with what the store knew when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Outbox position of the last alert committed at or before the checkpoint. Every
    /// alert up to it was stored in the same transaction as the checkpoint or earlier.
    pub last_alert_position: u64,
}

/// What the `alert_ids` index holds for an alert.
pub(crate) struct IdEntry {
    pub(crate) key: AlertKey,
    pub(crate) position: u64,
    pub(crate) src_ip: Option<IpAddr>,
}

impl IdEntry {
    /// The layout: alert key ([`AlertKey::to_bytes`], 16 bytes), outbox position (8), then
    /// the source address (family tag and address bytes) or nothing.
    pub(crate) fn encode(key: AlertKey, position: u64, src_ip: Option<IpAddr>) -> Vec<u8> {
        let mut out = Vec::with_capacity(41);
        out.extend_from_slice(&key.to_bytes());
        out.extend_from_slice(&position.to_be_bytes());
        if let Some(ip) = src_ip {
            out.extend_from_slice(&ip_raw(ip));
        }
        out
    }

    pub(crate) fn decode(id: &[u8], value: &[u8]) -> Result<IdEntry, StateError> {
        let corrupt = |detail: &str| StateError::corrupt(ALERT_IDS, hex(id), detail);
        if value.len() < 24 {
            return Err(corrupt("shorter than a key and a position"));
        }
        let key = AlertKey::from_bytes(&value[..16]).ok_or_else(|| corrupt("bad alert key"))?;
        if key.id().to_bytes() != id {
            return Err(corrupt("points at another alert's key"));
        }
        let position = decode_u64(ALERT_IDS, id, &value[16..24])?;
        let src_ip = match &value[24..] {
            [] => None,
            rest => Some(ip_from_raw(rest).ok_or_else(|| corrupt("bad source address"))?),
        };
        Ok(IdEntry {
            key,
            position,
            src_ip,
        })
    }

    pub(crate) fn src_key(&self) -> Option<Vec<u8>> {
        self.src_ip.map(|ip| src_key(ip, self.key))
    }
}

fn abort(error: StateError) -> TxError {
    TxError::Abort(error)
}

pub(crate) fn finish<T>(
    operation: &'static str,
    result: Result<T, TransactionError<StateError>>,
) -> Result<T, StateError> {
    result.map_err(|error| match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(source) => StateError::engine(operation, source),
    })
}

impl Store {
    /// The stored bytes of the alert at `key`; `None` when retention removed it after an
    /// index pointed at it.
    pub(crate) fn alert_bytes(&self, key: AlertKey) -> Result<Option<IVec>, StateError> {
        self.inner
            .alerts
            .get(key.stored())
            .map_err(|source| StateError::engine("reading an alert", source))
    }

    /// Writes one event boundary's changes in a single transaction: new alerts (each with
    /// its index entries and the next outbox position; an id already stored is skipped and
    /// reported), alert updates, drift events and the checkpoint.
    ///
    /// The alert stage calls it once per batch. After a crash, the database holds a prefix
    /// of the commits: a checkpoint is never on disk without the alerts committed with it or
    /// before it.
    pub fn commit(&self, commit: &Commit<'_>) -> Result<CommitOutcome, StateError> {
        let inner = &self.inner;
        // Keys are built outside the transaction, whose closure may run more than once.
        let prepared: Vec<Prepared> = commit
            .new_alerts
            .iter()
            .map(|alert| {
                let key = AlertKey::new(alert.event_time_micros, alert.id);
                Prepared {
                    stored_key: key.stored(),
                    key_bytes: key.to_bytes(),
                    src_ip: alert.src_ip,
                    src_key: alert.src_ip.map(|ip| src_key(ip, key)),
                    key,
                }
            })
            .collect();
        let checkpoint = commit.checkpoint.map(|c| (c.sequence, c.encode()));

        let trees = (
            &inner.alerts,
            &inner.alert_ids,
            &inner.alerts_by_src,
            &inner.alert_log,
            &inner.alert_scores,
            &inner.alerts_by_score,
            &inner.drift_events,
            &inner.checkpoints,
            &inner.meta,
        );
        let result = trees.transaction(
            |(
                alerts,
                alert_ids,
                alerts_by_src,
                alert_log,
                alert_scores,
                by_score,
                drift_events,
                checkpoints,
                meta,
            )| {
                let mut outcome = CommitOutcome::default();
                let count_before = tx_read_u64(meta, META, META_ALERT_COUNT)?;
                let position_before = tx_read_u64(meta, META, META_LAST_POSITION)?;
                let mut position = position_before;

                for (alert, prepared) in commit.new_alerts.iter().zip(&prepared) {
                    let id = alert.id.to_bytes();
                    if alert_ids.get(id)?.is_some() {
                        outcome.duplicates.push(alert.id);
                        continue;
                    }
                    position += 1;
                    alerts.insert(prepared.stored_key.as_slice(), alert.bytes.as_slice())?;
                    let entry = IdEntry::encode(prepared.key, position, prepared.src_ip);
                    alert_ids.insert(&id[..], entry)?;
                    if let Some(src_key) = &prepared.src_key {
                        alerts_by_src.insert(src_key.as_slice(), IVec::default())?;
                    }
                    alert_log.insert(&position.to_be_bytes()[..], &prepared.key_bytes[..])?;
                    tx_index_score(alert_scores, by_score, prepared.key, alert.score)?;
                    outcome.inserted.push(alert.id);
                }

                for update in commit.alert_updates {
                    let id = update.id.to_bytes();
                    let Some(value) = alert_ids.get(id)? else {
                        outcome.missing_updates.push(update.id);
                        continue;
                    };
                    let entry = IdEntry::decode(&id, &value).map_err(abort)?;
                    let key = entry.key.stored();
                    if alerts.get(&key)?.is_none() {
                        return Err(abort(StateError::corrupt(
                            ALERT_IDS,
                            hex(&id),
                            format!("indexes alert key {} that is not stored", entry.key),
                        )));
                    }
                    alerts.insert(key, update.bytes.as_slice())?;
                    if let Some(score) = update.score {
                        tx_move_score(alert_scores, by_score, entry.key, score)?;
                    }
                    outcome.updated.push(update.id);
                }

                for event in commit.drift_events {
                    outcome
                        .drift_events
                        .push(append_drift(drift_events, event)?);
                }

                if let Some((sequence, encoded)) = &checkpoint {
                    if let Some(stored) = checkpoints.get(CHECKPOINT_SEQUENCE)? {
                        let stored =
                            decode_u64(CHECKPOINTS, CHECKPOINT_SEQUENCE, &stored).map_err(abort)?;
                        if *sequence < stored {
                            return Err(abort(StateError::CheckpointRegressed {
                                stored,
                                offered: *sequence,
                            }));
                        }
                    }
                    checkpoints.insert(CHECKPOINT_LATEST, encoded.as_slice())?;
                    checkpoints.insert(CHECKPOINT_SEQUENCE, &sequence.to_be_bytes()[..])?;
                    checkpoints.insert(CHECKPOINT_POSITION, &position.to_be_bytes()[..])?;
                }

                if position != position_before {
                    let inserted = position - position_before;
                    meta.insert(META_LAST_POSITION, &position.to_be_bytes()[..])?;
                    meta.insert(
                        META_ALERT_COUNT,
                        &(count_before + inserted).to_be_bytes()[..],
                    )?;
                }
                outcome.last_alert_position = position;
                Ok(outcome)
            },
        );
        let outcome = finish("committing alerts", result)?;
        inner
            .last_position
            .fetch_max(outcome.last_alert_position, Ordering::AcqRel);
        Ok(outcome)
    }

    /// Stores a batch of new alerts in one transaction; ids already stored are skipped and
    /// reported as duplicates. The same as [`Store::commit`] with only `new_alerts`.
    ///
    /// ```
    /// use vigil_state::{AlertId, NewAlert, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// let alert = NewAlert {
    ///     id: AlertId::new(7),
    ///     event_time_micros: -1,
    ///     src_ip: Some("192.0.2.7".parse().map_err(|_| "address")?),
    ///     score: 0.9,
    ///     bytes: b"{}".to_vec(),
    /// };
    /// let first = store.commit_alerts(&[alert.clone()]).map_err(|e| e.to_string())?;
    /// let again = store.commit_alerts(&[alert]).map_err(|e| e.to_string())?;
    /// assert_eq!((first.inserted.len(), again.duplicates.len()), (1, 1));
    /// assert_eq!(store.alert_count().map_err(|e| e.to_string())?, 1);
    /// # Ok::<(), String>(())
    /// ```
    pub fn commit_alerts(&self, batch: &[NewAlert]) -> Result<CommitOutcome, StateError> {
        self.commit(&Commit {
            new_alerts: batch,
            ..Commit::default()
        })
    }

    /// Replaces a stored alert's bytes, keeping its key, outbox position and indexed score
    /// (an analyst's edit; to change the score, commit an [`AlertUpdate`] with one). Returns
    /// `false` when no alert with that id is stored (retention removed it).
    pub fn update_alert(&self, id: AlertId, bytes: &[u8]) -> Result<bool, StateError> {
        let update = [AlertUpdate {
            id,
            score: None,
            bytes: bytes.to_vec(),
        }];
        let outcome = self.commit(&Commit {
            alert_updates: &update,
            ..Commit::default()
        })?;
        Ok(!outcome.updated.is_empty())
    }

    /// Replaces the stored checkpoint, in one transaction. A checkpoint with a lower
    /// sequence than the stored one is refused ([`StateError::CheckpointRegressed`]); to
    /// write alerts with it, use [`Store::commit`].
    pub fn write_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StateError> {
        self.commit(&Commit {
            checkpoint: Some(checkpoint),
            ..Commit::default()
        })
        .map(|_| ())
    }

    /// The stored checkpoint, if any.
    pub fn read_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StateError> {
        let trees = (&self.inner.checkpoints,);
        // One transaction, so the checkpoint and its alert position are read together.
        let result = trees.transaction(|(checkpoints,)| {
            let Some(encoded) = checkpoints.get(CHECKPOINT_LATEST)? else {
                return Ok(None);
            };
            let position = tx_read_u64(checkpoints, CHECKPOINTS, CHECKPOINT_POSITION)?;
            Ok(Some((encoded, position)))
        });
        let Some((encoded, last_alert_position)) = finish("reading the checkpoint", result)? else {
            return Ok(None);
        };
        Ok(Some(StoredCheckpoint {
            checkpoint: Checkpoint::decode(&encoded)?,
            last_alert_position,
        }))
    }

    /// Removes the stored checkpoint, so the next start begins from the beginning of its
    /// inputs and a checkpoint of any sequence can be written. Returns whether one existed.
    pub fn clear_checkpoint(&self) -> Result<bool, StateError> {
        let trees = (&self.inner.checkpoints,);
        let result = trees.transaction(|(checkpoints,)| {
            let existed = checkpoints.remove(CHECKPOINT_LATEST)?.is_some();
            checkpoints.remove(CHECKPOINT_SEQUENCE)?;
            checkpoints.remove(CHECKPOINT_POSITION)?;
            Ok(existed)
        });
        finish("clearing the checkpoint", result)
    }

    /// The alert with this id, if stored.
    pub fn get_alert(&self, id: AlertId) -> Result<Option<StoredAlert>, StateError> {
        let id_bytes = id.to_bytes();
        let Some(value) = self
            .inner
            .alert_ids
            .get(id_bytes)
            .map_err(|source| StateError::engine("looking up an alert id", source))?
        else {
            return Ok(None);
        };
        let entry = IdEntry::decode(&id_bytes, &value)?;
        let bytes = self.alert_bytes(entry.key)?;
        // Retention may remove the alert between the two reads; then it is gone.
        Ok(bytes.map(|bytes| StoredAlert {
            key: entry.key,
            bytes: owned(bytes),
        }))
    }

    /// Alerts with `since_micros <= event time < until_micros` (either bound optional),
    /// newest first, at most `limit`, continuing below `cursor` (the previous page's
    /// [`AlertPage::next_cursor`]).
    ///
    /// ```
    /// use vigil_state::{AlertId, NewAlert, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// let batch: Vec<NewAlert> = (0..5)
    ///     .map(|i| NewAlert { id: AlertId::new(i), event_time_micros: i as i64 * 10, src_ip: None, score: 0.5, bytes: vec![i as u8] })
    ///     .collect();
    /// store.commit_alerts(&batch).map_err(|e| e.to_string())?;
    /// let first = store.alerts_range(Some(10), None, 2, None).map_err(|e| e.to_string())?;
    /// let times: Vec<i64> = first.alerts.iter().map(|a| a.key.event_time_micros()).collect();
    /// assert_eq!(times, [40, 30]);
    /// let second = store.alerts_range(Some(10), None, 2, first.next_cursor).map_err(|e| e.to_string())?;
    /// let times: Vec<i64> = second.alerts.iter().map(|a| a.key.event_time_micros()).collect();
    /// assert_eq!((times, second.next_cursor), (vec![20, 10], None));
    /// # Ok::<(), String>(())
    /// ```
    pub fn alerts_range(
        &self,
        since_micros: Option<i64>,
        until_micros: Option<i64>,
        limit: usize,
        cursor: Option<AlertKey>,
    ) -> Result<AlertPage, StateError> {
        let low = since_micros.map(time_key);
        let high = upper_bound(until_micros, cursor);
        let Some(range) = ranged(low, high) else {
            return Ok(AlertPage::default());
        };
        let mut page = AlertPage::default();
        for item in self.inner.alerts.range(range).rev() {
            let (key, bytes) =
                item.map_err(|source| StateError::engine("reading alerts", source))?;
            let key = parse_alert_key(&key)?;
            if page.alerts.len() == limit {
                page.next_cursor = page.alerts.last().map(|alert| alert.key);
                break;
            }
            page.alerts.push(StoredAlert {
                key,
                bytes: owned(bytes),
            });
        }
        Ok(page)
    }

    /// Alerts from source address `ip` (IPv4-mapped IPv6 addresses match their IPv4 form),
    /// with the same time bounds, order and paging as [`Store::alerts_range`].
    pub fn alerts_by_source(
        &self,
        ip: IpAddr,
        since_micros: Option<i64>,
        until_micros: Option<i64>,
        limit: usize,
        cursor: Option<AlertKey>,
    ) -> Result<AlertPage, StateError> {
        let prefix = ip_prefix(ip);
        let with_prefix = |suffix: &[u8]| {
            let mut key = prefix.clone();
            key.extend_from_slice(suffix);
            key
        };
        let low = Some(match since_micros {
            Some(t) => with_prefix(&time_key(t)),
            None => prefix.clone(),
        });
        let high = Some(match upper_bound(until_micros, cursor) {
            Some(bound) => with_prefix(&bound),
            // Stored keys never hold 0xff, so the prefix and one 0xff sorts above every
            // key under the prefix and below every other address's keys.
            None => with_prefix(&[0xff]),
        });
        let Some(range) = ranged(low, high) else {
            return Ok(AlertPage::default());
        };
        let mut page = AlertPage::default();
        for item in self.inner.alerts_by_src.range(range).rev() {
            let (index_key, _) =
                item.map_err(|source| StateError::engine("reading the source index", source))?;
            let alert_key = src_entry_key(&index_key, prefix.len())?;
            if page.alerts.len() == limit {
                page.next_cursor = page.alerts.last().map(|alert| alert.key);
                break;
            }
            let bytes = self.alert_bytes(alert_key)?;
            // An index entry whose alert retention removed a moment ago is skipped.
            if let Some(bytes) = bytes {
                page.alerts.push(StoredAlert {
                    key: alert_key,
                    bytes: owned(bytes),
                });
            }
        }
        Ok(page)
    }

    /// The oldest and newest stored alert keys, or `None` when no alert is stored.
    pub fn alert_key_span(&self) -> Result<Option<(AlertKey, AlertKey)>, StateError> {
        let read =
            |item: sled::Result<Option<(IVec, IVec)>>| -> Result<Option<AlertKey>, StateError> {
                match item.map_err(|source| StateError::engine("reading alerts", source))? {
                    Some((key, _)) => parse_alert_key(&key).map(Some),
                    None => Ok(None),
                }
            };
        let first = read(self.inner.alerts.first())?;
        let last = read(self.inner.alerts.last())?;
        Ok(first.zip(last))
    }
}

/// Keys computed before a commit's transaction.
struct Prepared {
    key: AlertKey,
    key_bytes: [u8; 16],
    stored_key: Vec<u8>,
    src_ip: Option<IpAddr>,
    src_key: Option<Vec<u8>>,
}

/// The `alerts_by_src` key of alert `key` from `ip`.
fn src_key(ip: IpAddr, key: AlertKey) -> Vec<u8> {
    let mut out = ip_prefix(ip);
    key.push_stored(&mut out);
    out
}

/// The alert key of an `alerts_by_src` entry whose address prefix is `prefix_len` bytes.
pub(crate) fn src_entry_key(index_key: &[u8], prefix_len: usize) -> Result<AlertKey, StateError> {
    index_key
        .get(prefix_len..)
        .and_then(AlertKey::from_stored)
        .ok_or_else(|| {
            StateError::corrupt(
                crate::store::ALERTS_BY_SRC,
                hex(index_key),
                "not an address followed by an alert key",
            )
        })
}

/// A bound below every stored key at event time `micros` and above every earlier one: the
/// stored form of the time alone (a key at that time continues with its id).
pub(crate) fn time_key(micros: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    push_escaped(&mut out, &time_bytes(micros));
    out
}

/// The exclusive upper bound of a newest-first page: the lower of `until` and the cursor.
fn upper_bound(until_micros: Option<i64>, cursor: Option<AlertKey>) -> Option<Vec<u8>> {
    let until = until_micros.map(time_key);
    let cursor = cursor.map(AlertKey::stored);
    match (until, cursor) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A key range for the engine: inclusive low bound, exclusive high bound.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The key range from an inclusive low to an exclusive high bound, or `None` when it is
/// empty (the engine does not accept an inverted range).
fn ranged(low: Option<Vec<u8>>, high: Option<Vec<u8>>) -> Option<KeyRange> {
    if let (Some(low), Some(high)) = (&low, &high)
        && low >= high
    {
        return None;
    }
    Some((
        low.map_or(Bound::Unbounded, Bound::Included),
        high.map_or(Bound::Unbounded, Bound::Excluded),
    ))
}

/// Reads a key of the `alerts` tree.
pub(crate) fn parse_alert_key(key: &[u8]) -> Result<AlertKey, StateError> {
    AlertKey::from_stored(key)
        .ok_or_else(|| StateError::corrupt(ALERTS, hex(key), "not a stored alert key"))
}

/// Reads an alert key kept in a value (`alert_log`), in the 16-byte form.
pub(crate) fn parse_alert_key_value(
    tree: &'static str,
    key: &[u8],
    value: &[u8],
) -> Result<AlertKey, StateError> {
    AlertKey::from_bytes(value)
        .ok_or_else(|| StateError::corrupt(tree, hex(key), "the value is not a 16-byte alert key"))
}

/// Records a drift event at the first free ordinal of its event sequence, unless the same
/// bytes are already stored there.
fn append_drift(
    drift_events: &TransactionalTree,
    event: &NewDriftEvent,
) -> Result<DriftAppend, TxError> {
    for ordinal in 0..=u32::MAX {
        let key = DriftKey::new(event.event_sequence, ordinal);
        match drift_events.get(key.stored())? {
            None => {
                drift_events.insert(key.stored(), event.bytes.as_slice())?;
                return Ok(DriftAppend::Inserted(key));
            }
            Some(stored) if stored.as_ref() == event.bytes.as_slice() => {
                return Ok(DriftAppend::Duplicate(key));
            }
            Some(_) => {}
        }
    }
    Err(abort(StateError::corrupt(
        crate::store::DRIFT_EVENTS,
        event.event_sequence.to_string(),
        "every ordinal at this event sequence is taken",
    )))
}
