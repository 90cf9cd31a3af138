//! The score index: alerts highest score first, and the upgrade that builds it in a store
//! written before it existed (schema version 1).
//!
//! Two trees keep it, written in the same transactions as the alerts:
//!
//! - `alerts_by_score`: the score in descending byte order, then the alert key with every
//!   byte inverted, both escaped like the other keys ([`push_escaped`]); the value is
//!   empty. Reading forwards gives the highest score first and, among equal scores, the
//!   newest event time first (then the higher id), the same tie order as newest-first
//!   paging.
//! - `alert_scores`: alert id (8) to the score its index entry carries (the `f64` bits,
//!   8 bytes big-endian), so an update that changes the score finds the old entry.
//!
//! Scores are ordered as [`f64::total_cmp`] orders them; the daemon's scores are in
//! `[0, 1]`.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::fmt;
use std::net::IpAddr;
use std::ops::Bound;
use std::path::Path;
use std::str::FromStr;

use sled::transaction::TransactionalTree;
use sled::{IVec, Tree};

use crate::alerts::{parse_alert_key, src_entry_key, time_key};
use crate::error::StateError;
use crate::keys::{AlertKey, ParseKeyError, hex, ip_prefix, parse_hex, push_escaped};
use crate::store::{ALERT_SCORES, ALERTS_BY_SCORE, Store, TxError, owned};

/// Reads an alert's score from its stored bytes; [`Store::open`] uses it to build the score
/// index of a store written before the index existed (see [`StoreOptions::score_reader`]).
///
/// [`StoreOptions::score_reader`]: crate::StoreOptions::score_reader
pub type ScoreReader = fn(&[u8]) -> Option<f64>;

/// Index entries [`Store::alerts_by_score`] examines at most in one call when its time
/// bounds skip most of them; the page then ends early with a cursor where the scan stopped.
pub const SCORE_SCAN_BUDGET: usize = 100_000;

/// Index entries written per batch while building the index of an old store.
const UPGRADE_CHUNK: usize = 4_096;

/// The score as 8 bytes whose byte order is the descending [`f64::total_cmp`] order.
pub(crate) fn descending_score_bytes(score: f64) -> [u8; 8] {
    let bits = score.to_bits();
    // Ascending total order: negative values have every bit inverted, positive ones the
    // sign bit set. Descending is the complement of that.
    let ascending = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    (!ascending).to_be_bytes()
}

fn score_from_descending(bytes: [u8; 8]) -> f64 {
    let ascending = !u64::from_be_bytes(bytes);
    let bits = if ascending >> 63 == 1 {
        ascending & !(1 << 63)
    } else {
        !ascending
    };
    f64::from_bits(bits)
}

/// The `alerts_by_score` key of alert `key` with `score`.
pub(crate) fn score_index_key(score: f64, key: AlertKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    push_escaped(&mut out, &descending_score_bytes(score));
    push_escaped(&mut out, &key.to_bytes().map(|b| !b));
    out
}

/// Reads an `alerts_by_score` key.
pub(crate) fn parse_score_index_key(bytes: &[u8]) -> Option<(f64, AlertKey)> {
    let (score, rest) = crate::keys::take_escaped::<8>(bytes)?;
    let (inverted, rest) = crate::keys::take_escaped::<16>(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let key = AlertKey::from_bytes(&inverted.map(|b| !b))?;
    Some((score_from_descending(score), key))
}

fn corrupt_index_key(bytes: &[u8]) -> StateError {
    StateError::corrupt(
        ALERTS_BY_SCORE,
        hex(bytes),
        "not a score followed by an alert key",
    )
}

/// Reads an `alert_scores` value.
pub(crate) fn decode_score(id: &[u8], value: &[u8]) -> Result<f64, StateError> {
    let array: [u8; 8] = value.try_into().map_err(|_| {
        StateError::corrupt(
            ALERT_SCORES,
            hex(id),
            format!("expected 8 bytes of score, found {}", value.len()),
        )
    })?;
    Ok(f64::from_bits(u64::from_be_bytes(array)))
}

/// Indexes a new alert's score, inside a commit's transaction.
pub(crate) fn tx_index_score(
    alert_scores: &TransactionalTree,
    by_score: &TransactionalTree,
    key: AlertKey,
    score: f64,
) -> Result<(), TxError> {
    alert_scores.insert(&key.id().to_bytes()[..], &score.to_bits().to_be_bytes()[..])?;
    by_score.insert(score_index_key(score, key), IVec::default())?;
    Ok(())
}

/// Moves an alert's index entry to `score` (when it changed), inside a transaction.
pub(crate) fn tx_move_score(
    alert_scores: &TransactionalTree,
    by_score: &TransactionalTree,
    key: AlertKey,
    score: f64,
) -> Result<(), TxError> {
    let id = key.id().to_bytes();
    let old = match alert_scores.get(id)? {
        Some(value) => decode_score(&id, &value).map_err(TxError::Abort)?,
        None => {
            return Err(TxError::Abort(StateError::corrupt(
                ALERT_SCORES,
                hex(&id),
                format!("alert {key} has no indexed score"),
            )));
        }
    };
    if old.to_bits() == score.to_bits() {
        return Ok(());
    }
    by_score.remove(score_index_key(old, key))?;
    tx_index_score(alert_scores, by_score, key, score)
}

/// Removes an alert's index entries (retention), inside a transaction. Tolerates a missing
/// or damaged entry: retention must still make room; the integrity check reports it.
pub(crate) fn tx_remove_score(
    alert_scores: &TransactionalTree,
    by_score: &TransactionalTree,
    key: AlertKey,
) -> Result<(), TxError> {
    let id = key.id().to_bytes();
    if let Some(value) = alert_scores.remove(&id[..])?
        && let Ok(score) = decode_score(&id, &value)
    {
        by_score.remove(score_index_key(score, key))?;
    }
    Ok(())
}

/// Where a highest-score-first walk stands: the score and key of the last alert it
/// examined. Its text form (48 hex digits: the score's `f64` bits, then the alert key) is
/// what an API hands out as a paging cursor; it never reads as an [`AlertKey`] (32 digits).
///
/// ```
/// use vigil_state::{AlertId, AlertKey, ScoreCursor};
/// let cursor = ScoreCursor::new(0.75, AlertKey::new(1_000, AlertId::new(7)));
/// let text = cursor.to_string();
/// assert_eq!(text.len(), 48);
/// assert_eq!(text.parse::<ScoreCursor>()?, cursor);
/// assert!(text.parse::<AlertKey>().is_err());
/// # Ok::<(), vigil_state::ParseKeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreCursor {
    score: f64,
    key: AlertKey,
}

impl ScoreCursor {
    /// The position of the alert `key` indexed with `score`.
    pub const fn new(score: f64, key: AlertKey) -> ScoreCursor {
        ScoreCursor { score, key }
    }

    /// The score of the alert at this position.
    pub const fn score(self) -> f64 {
        self.score
    }

    /// The key of the alert at this position.
    pub const fn key(self) -> AlertKey {
        self.key
    }

    /// Whether an alert with `score` and `key` comes after this position in the
    /// highest-score-first order.
    fn is_before(self, score: f64, key: AlertKey) -> bool {
        order(score, key, self.score, self.key) == CmpOrdering::Greater
    }
}

/// The highest-score-first order: `Less` when (`a_score`, `a_key`) comes first.
fn order(a_score: f64, a_key: AlertKey, b_score: f64, b_key: AlertKey) -> CmpOrdering {
    b_score.total_cmp(&a_score).then(b_key.cmp(&a_key))
}

impl fmt::Display for ScoreCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}{}", self.score.to_bits(), self.key)
    }
}

impl FromStr for ScoreCursor {
    type Err = ParseKeyError;

    /// Parses the 48 hex digits [`Display`](fmt::Display) writes.
    fn from_str(text: &str) -> Result<ScoreCursor, ParseKeyError> {
        let bytes = parse_hex::<24>(text, "score cursor")?;
        let (score, key) = bytes.split_at(8);
        let score = f64::from_bits(u64::from_be_bytes(score.try_into().map_err(|_| {
            ParseKeyError {
                text: text.to_owned(),
                what: "score cursor",
                expected: "48 hex digits",
            }
        })?));
        let key = AlertKey::from_bytes(key).ok_or_else(|| ParseKeyError {
            text: text.to_owned(),
            what: "score cursor",
            expected: "48 hex digits",
        })?;
        Ok(ScoreCursor { score, key })
    }
}

/// An alert as stored, with the score it is indexed under.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredAlert {
    /// Its indexed score (the alert's highest score over its repeats).
    pub score: f64,
    /// Its key (event time and id).
    pub key: AlertKey,
    /// The serialised alert.
    pub bytes: Vec<u8>,
}

impl ScoredAlert {
    /// The cursor that continues a walk after this alert.
    pub fn cursor(&self) -> ScoreCursor {
        ScoreCursor::new(self.score, self.key)
    }
}

/// One page of alerts, highest score first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScorePage {
    /// The alerts, highest score first; equal scores newest first.
    pub alerts: Vec<ScoredAlert>,
    /// Pass as `cursor` to get the next page; `None` when this page is the last. A page can
    /// hold fewer than `limit` alerts (even none) and still have a next cursor, when
    /// [`SCORE_SCAN_BUDGET`] entries outside the time bounds were skipped.
    pub next_cursor: Option<ScoreCursor>,
}

/// A heap entry of [`Store::alerts_by_source_and_score`]: the greatest is the one that
/// comes last in the highest-score-first order.
#[derive(Debug, Clone, Copy)]
struct Ranked(f64, AlertKey);

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> CmpOrdering {
        order(self.0, self.1, other.0, other.1)
    }
}

impl Store {
    /// Alerts highest score first (equal scores newest first), with score at least
    /// `min_score` and `since_micros <= event time < until_micros` (each optional), at most
    /// `limit`, continuing after `cursor` (the previous page's [`ScorePage::next_cursor`]).
    ///
    /// `min_score` ends the scan at the first lower score. The time bounds are checked per
    /// index entry (the index is not ordered by time), at most [`SCORE_SCAN_BUDGET`] of them
    /// per call. A walk through the pages returns each alert stored before it started once,
    /// except one whose score changes during the walk (a repeat with a higher score), which
    /// moves in the order and may be met twice or not at all.
    ///
    /// ```
    /// use vigil_state::{AlertId, NewAlert, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// let batch: Vec<NewAlert> = [0.2, 0.9, 0.5, 0.9]
    ///     .iter()
    ///     .enumerate()
    ///     .map(|(i, &score)| NewAlert {
    ///         id: AlertId::new(i as u64),
    ///         event_time_micros: i as i64 * 10,
    ///         src_ip: None,
    ///         score,
    ///         bytes: vec![i as u8],
    ///     })
    ///     .collect();
    /// store.commit_alerts(&batch).map_err(|e| e.to_string())?;
    /// let first = store.alerts_by_score(Some(0.3), None, None, 2, None).map_err(|e| e.to_string())?;
    /// let ids: Vec<u64> = first.alerts.iter().map(|a| a.key.id().get()).collect();
    /// assert_eq!(ids, [3, 1]); // 0.9 twice, newest first
    /// let rest = store
    ///     .alerts_by_score(Some(0.3), None, None, 2, first.next_cursor)
    ///     .map_err(|e| e.to_string())?;
    /// let ids: Vec<u64> = rest.alerts.iter().map(|a| a.key.id().get()).collect();
    /// assert_eq!((ids, rest.next_cursor), (vec![2], None));
    /// # Ok::<(), String>(())
    /// ```
    pub fn alerts_by_score(
        &self,
        min_score: Option<f64>,
        since_micros: Option<i64>,
        until_micros: Option<i64>,
        limit: usize,
        cursor: Option<ScoreCursor>,
    ) -> Result<ScorePage, StateError> {
        let low = match cursor {
            Some(cursor) => Bound::Excluded(score_index_key(cursor.score, cursor.key)),
            None => Bound::Unbounded,
        };
        let high = match min_score {
            Some(min) => {
                // Escaped bytes never hold 0xff: every key at `min` sorts below this bound,
                // every key at a lower score above it.
                let mut bound = Vec::with_capacity(17);
                push_escaped(&mut bound, &descending_score_bytes(min));
                bound.push(0xff);
                Bound::Excluded(bound)
            }
            None => Bound::Unbounded,
        };
        if let (Bound::Excluded(low), Bound::Excluded(high)) = (&low, &high)
            && low >= high
        {
            return Ok(ScorePage::default());
        }
        let in_time = |key: AlertKey| {
            since_micros.is_none_or(|since| key.event_time_micros() >= since)
                && until_micros.is_none_or(|until| key.event_time_micros() < until)
        };
        let mut page = ScorePage::default();
        // The last entry examined, kept or not: where the next page continues.
        let mut last: Option<ScoreCursor> = None;
        for (examined, item) in self.inner.alerts_by_score.range((low, high)).enumerate() {
            let (index_key, _) =
                item.map_err(|source| StateError::engine("reading the score index", source))?;
            let (score, key) =
                parse_score_index_key(&index_key).ok_or_else(|| corrupt_index_key(&index_key))?;
            if page.alerts.len() == limit || examined == SCORE_SCAN_BUDGET {
                page.next_cursor = last;
                break;
            }
            last = Some(ScoreCursor::new(score, key));
            if !in_time(key) {
                continue;
            }
            let bytes = self.alert_bytes(key)?;
            // An index entry whose alert retention removed a moment ago is skipped.
            if let Some(bytes) = bytes {
                page.alerts.push(ScoredAlert {
                    score,
                    key,
                    bytes: owned(bytes),
                });
            }
        }
        Ok(page)
    }

    /// Alerts from source address `ip` (IPv4-mapped IPv6 addresses match their IPv4 form),
    /// with the same filters, order and paging as [`Store::alerts_by_score`].
    ///
    /// The score index is not kept per source: this reads the source's index entries within
    /// the time bounds and each one's score (8 bytes, not the alert), keeps the best `limit`
    /// after the cursor in a bounded heap and reads only those alerts. Its cost grows with
    /// the number of the source's alerts in the time bounds (retention bounds it), its memory
    /// with `limit`; pages are always full until the last.
    pub fn alerts_by_source_and_score(
        &self,
        ip: IpAddr,
        min_score: Option<f64>,
        since_micros: Option<i64>,
        until_micros: Option<i64>,
        limit: usize,
        cursor: Option<ScoreCursor>,
    ) -> Result<ScorePage, StateError> {
        let prefix = ip_prefix(ip);
        let with_prefix = |suffix: &[u8]| {
            let mut key = prefix.clone();
            key.extend_from_slice(suffix);
            key
        };
        let low = match since_micros {
            Some(t) => with_prefix(&time_key(t)),
            None => prefix.clone(),
        };
        // Stored keys never hold 0xff, so the prefix and one 0xff sorts above every key
        // under the prefix and below every other address's keys.
        let high = with_prefix(&until_micros.map_or_else(|| vec![0xff], time_key));
        if low >= high {
            return Ok(ScorePage::default());
        }
        // The best `limit + 1` after the cursor; the extra one tells whether a page follows.
        let keep = limit.saturating_add(1);
        let mut best: BinaryHeap<Ranked> = BinaryHeap::with_capacity(keep.min(4_096) + 1);
        for item in self.inner.alerts_by_src.range(low..high) {
            let (index_key, _) =
                item.map_err(|source| StateError::engine("reading the source index", source))?;
            let key = src_entry_key(&index_key, prefix.len())?;
            let id = key.id().to_bytes();
            let Some(value) = self
                .inner
                .alert_scores
                .get(id)
                .map_err(|source| StateError::engine("reading a score", source))?
            else {
                // Retention removed the alert between the two reads.
                continue;
            };
            let score = decode_score(&id, &value)?;
            if min_score.is_some_and(|min| score.total_cmp(&min) == CmpOrdering::Less)
                || cursor.is_some_and(|cursor| !cursor.is_before(score, key))
            {
                continue;
            }
            best.push(Ranked(score, key));
            if best.len() > keep {
                best.pop();
            }
        }
        let mut ranked = best.into_sorted_vec();
        let more = ranked.len() > limit;
        ranked.truncate(limit);
        let mut page = ScorePage::default();
        for Ranked(score, key) in ranked {
            let bytes = self.alert_bytes(key)?;
            if let Some(bytes) = bytes {
                page.alerts.push(ScoredAlert {
                    score,
                    key,
                    bytes: owned(bytes),
                });
            }
            if more {
                page.next_cursor = Some(ScoreCursor::new(score, key));
            }
        }
        Ok(page)
    }
}

/// Builds the score index of a store written with schema version 1: scores each stored
/// alert with `reader` and writes both score trees, in batches, without a transaction.
///
/// The caller records the new version only after this returned and the trees are flushed,
/// so a crash during the upgrade leaves version 1 and the next open starts it over (the
/// trees are cleared first).
pub(crate) fn build_score_index(
    path: &Path,
    alerts: &Tree,
    alert_scores: &Tree,
    by_score: &Tree,
    reader: ScoreReader,
) -> Result<u64, StateError> {
    let engine = |source| StateError::engine("building the score index", source);
    alert_scores.clear().map_err(engine)?;
    by_score.clear().map_err(engine)?;
    let mut indexed = 0u64;
    let mut scores = sled::Batch::default();
    let mut entries = sled::Batch::default();
    let mut pending = 0usize;
    for item in alerts.iter() {
        let (stored_key, bytes) = item.map_err(engine)?;
        let key = parse_alert_key(&stored_key)?;
        let score = reader(&bytes).ok_or_else(|| StateError::UpgradeUnreadableAlert {
            path: path.to_path_buf(),
            key: key.to_string(),
        })?;
        scores.insert(&key.id().to_bytes()[..], &score.to_bits().to_be_bytes()[..]);
        entries.insert(score_index_key(score, key), IVec::default());
        pending += 1;
        indexed += 1;
        if pending == UPGRADE_CHUNK {
            alert_scores
                .apply_batch(std::mem::take(&mut scores))
                .map_err(engine)?;
            by_score
                .apply_batch(std::mem::take(&mut entries))
                .map_err(engine)?;
            pending = 0;
        }
    }
    alert_scores.apply_batch(scores).map_err(engine)?;
    by_score.apply_batch(entries).map_err(engine)?;
    Ok(indexed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AlertId;

    #[test]
    fn descending_score_bytes_order_high_scores_first_and_round_trip() {
        let scores = [
            f64::INFINITY,
            1.0,
            0.999_999,
            0.5,
            f64::MIN_POSITIVE,
            0.0,
            -0.0,
            -0.5,
            f64::NEG_INFINITY,
        ];
        for pair in scores.windows(2) {
            assert!(
                descending_score_bytes(pair[0]) < descending_score_bytes(pair[1]),
                "{pair:?}"
            );
        }
        for score in scores {
            assert_eq!(
                score_from_descending(descending_score_bytes(score)).to_bits(),
                score.to_bits()
            );
        }
    }

    #[test]
    fn index_keys_sort_by_score_then_newest_and_parse_back() {
        let key = |t: i64, id: u64| AlertKey::new(t, AlertId::new(id));
        let ordered = [
            (0.9, key(5, 1)),
            (0.9, key(4, u64::MAX)),
            (0.9, key(4, 0xfe)),
            (0.9, key(-1, 3)),
            (0.5, key(i64::MAX, 0)),
            (0.0, key(i64::MIN, 0)),
        ];
        for pair in ordered.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(
                score_index_key(a.0, a.1) < score_index_key(b.0, b.1),
                "{a:?} {b:?}"
            );
            assert_eq!(order(a.0, a.1, b.0, b.1), CmpOrdering::Less);
        }
        for (score, key) in ordered {
            let stored = score_index_key(score, key);
            assert!(!stored.contains(&0xff));
            assert_eq!(parse_score_index_key(&stored), Some((score, key)));
        }
        assert_eq!(parse_score_index_key(&[1, 2, 3]), None);
    }

    #[test]
    fn score_cursor_text_is_strict() {
        let cursor = ScoreCursor::new(0.25, AlertKey::new(-3, AlertId::new(9)));
        assert_eq!(cursor.to_string().parse::<ScoreCursor>(), Ok(cursor));
        let newest = AlertKey::new(-3, AlertId::new(9)).to_string();
        let error = newest.parse::<ScoreCursor>().err();
        assert_eq!(
            error.map(|e| (e.what, e.expected)),
            Some(("score cursor", "48 hex digits"))
        );
        assert!("zz".repeat(24).parse::<ScoreCursor>().is_err());
    }
}
