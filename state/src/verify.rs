//! The integrity check: every index agrees with the alerts, and the counters with both.

use std::collections::{HashMap, HashSet};

use crate::alerts::{CHECKPOINT_LATEST, CHECKPOINT_POSITION, IdEntry};
use crate::checkpoint::Checkpoint;
use crate::error::StateError;
use crate::keys::{AlertId, AlertKey, DriftKey, hex, ip_from_prefix};
use crate::outbox::OutboxCursor;
use crate::scores::{decode_score, parse_score_index_key, score_index_key};
use crate::store::{CHECKPOINTS, META_LAST_POSITION, Store, decode_u64, read_meta_u64};

/// Problems listed in an [`IntegrityReport`] at most; the rest are only counted.
const MAX_LISTED_PROBLEMS: usize = 100;

/// The result of [`Store::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Alerts found in the `alerts` tree.
    pub alerts: u64,
    /// The alert counter kept in `meta`.
    pub counted_alerts: u64,
    /// Entries in the id index.
    pub id_entries: u64,
    /// Entries in the source index.
    pub source_entries: u64,
    /// Entries in the outbox log.
    pub log_entries: u64,
    /// Entries in the score index (`alerts_by_score`).
    pub score_entries: u64,
    /// Drift events.
    pub drift_events: u64,
    /// The first problems found, each naming the tree and key.
    pub problems: Vec<String>,
    /// Problems found in all, listed or not.
    pub problem_count: u64,
}

impl IntegrityReport {
    /// Whether no problem was found.
    pub fn is_consistent(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(text);
        }
    }
}

impl Store {
    /// Reads every tree and checks that they agree: each alert has its id, source and
    /// outbox entries and each entry its alert; each alert has one score index entry at the
    /// score `alert_scores` records for it (and, when [`StoreOptions::score_reader`](crate::StoreOptions::score_reader) was
    /// given, the score its bytes hold); the alert counter equals the number of alerts; outbox positions, cursors and the checkpoint's alert position do not exceed
    /// the last position handed out; the checkpoint decodes.
    ///
    /// It reads without a transaction, so it is exact only while nothing writes (at start,
    /// in tests, from a maintenance command). Storage failures are errors; inconsistencies
    /// are listed in the report.
    pub fn verify(&self) -> Result<IntegrityReport, StateError> {
        let inner = &self.inner;
        let read = |source| StateError::engine("verifying the database", source);
        let mut report = IntegrityReport {
            counted_alerts: self.alert_count()?,
            ..IntegrityReport::default()
        };
        let last_position = read_meta_u64(&inner.meta, META_LAST_POSITION)?;

        let mut alert_keys: HashSet<AlertKey> = HashSet::new();
        for item in inner.alerts.iter().keys() {
            let key = item.map_err(read)?;
            report.alerts += 1;
            match AlertKey::from_stored(&key) {
                Some(key) => {
                    alert_keys.insert(key);
                }
                None => report.problem(format!("alerts: key {} is not an alert key", hex(&key))),
            }
        }
        if report.alerts != report.counted_alerts {
            report.problem(format!(
                "meta: alert counter says {} but {} alerts are stored",
                report.counted_alerts, report.alerts
            ));
        }

        let mut indexed: HashSet<AlertKey> = HashSet::new();
        let mut positions: HashSet<u64> = HashSet::new();
        for item in inner.alert_ids.iter() {
            let (id, value) = item.map_err(read)?;
            report.id_entries += 1;
            let entry = match IdEntry::decode(&id, &value) {
                Ok(entry) => entry,
                Err(error) => {
                    report.problem(error.to_string());
                    continue;
                }
            };
            if !alert_keys.contains(&entry.key) {
                report.problem(format!(
                    "alert_ids: {} points at alert {} which is not stored",
                    hex(&id),
                    entry.key
                ));
            }
            if entry.position == 0 || entry.position > last_position {
                report.problem(format!(
                    "alert_ids: {} has outbox position {} outside 1..={last_position}",
                    hex(&id),
                    entry.position
                ));
            }
            match inner
                .alert_log
                .get(entry.position.to_be_bytes())
                .map_err(read)?
            {
                Some(logged) if logged.as_ref() == entry.key.to_bytes() => {}
                _ => report.problem(format!(
                    "alert_log: position {} does not point at alert {}",
                    entry.position, entry.key
                )),
            }
            if let Some(src_key) = entry.src_key()
                && !inner.alerts_by_src.contains_key(&src_key).map_err(read)?
            {
                report.problem(format!(
                    "alerts_by_src: no entry {} for alert {}",
                    hex(&src_key),
                    entry.key
                ));
            }
            if !positions.insert(entry.position) {
                report.problem(format!(
                    "alert_ids: outbox position {} is used twice",
                    entry.position
                ));
            }
            indexed.insert(entry.key);
        }
        for key in alert_keys.difference(&indexed) {
            report.problem(format!("alerts: {key} has no alert_ids entry"));
        }

        for item in inner.alerts_by_src.iter().keys() {
            let index_key = item.map_err(read)?;
            report.source_entries += 1;
            let alert_key =
                ip_from_prefix(&index_key).and_then(|(_, rest)| AlertKey::from_stored(rest));
            match alert_key {
                Some(key) if indexed.contains(&key) => {}
                _ => report.problem(format!(
                    "alerts_by_src: entry {} has no indexed alert",
                    hex(&index_key)
                )),
            }
        }

        for item in inner.alert_log.iter() {
            let (position, key) = item.map_err(read)?;
            report.log_entries += 1;
            let position = decode_u64("alert_log", &position, &position).ok();
            let key = AlertKey::from_bytes(&key);
            let fine = matches!((position, key), (Some(p), Some(k)) if positions.contains(&p) && indexed.contains(&k));
            if !fine {
                report.problem(format!(
                    "alert_log: entry at position {position:?} for {key:?} has no indexed alert"
                ));
            }
        }

        self.verify_scores(&alert_keys, &mut report)?;

        for item in inner.drift_events.iter().keys() {
            let key = item.map_err(read)?;
            report.drift_events += 1;
            if DriftKey::from_stored(&key).is_none() {
                report.problem(format!(
                    "drift_events: key {} is not a drift event key",
                    hex(&key)
                ));
            }
        }

        for item in inner.outbox_cursors.iter() {
            let (name, value) = item.map_err(read)?;
            let name = String::from_utf8_lossy(&name).into_owned();
            match OutboxCursor::decode(&name, &value) {
                Ok(cursor) if cursor.position <= last_position => {}
                Ok(cursor) => report.problem(format!(
                    "outbox_cursors: {name:?} is at position {} beyond the last {last_position}",
                    cursor.position
                )),
                Err(error) => report.problem(error.to_string()),
            }
        }

        if let Some(encoded) = inner.checkpoints.get(CHECKPOINT_LATEST).map_err(read)? {
            if let Err(error) = Checkpoint::decode(&encoded) {
                report.problem(format!("checkpoints: {error}"));
            }
            match inner.checkpoints.get(CHECKPOINT_POSITION).map_err(read)? {
                Some(value) => match decode_u64(CHECKPOINTS, CHECKPOINT_POSITION, &value) {
                    Ok(position) if position <= last_position => {}
                    Ok(position) => report.problem(format!(
                        "checkpoints: alert position {position} beyond the last {last_position}"
                    )),
                    Err(error) => report.problem(error.to_string()),
                },
                None => report.problem("checkpoints: the alert position is missing".to_owned()),
            }
        }

        Ok(report)
    }

    /// The score index against the alerts: `alert_scores` has an entry for each alert and
    /// no other, `alerts_by_score` the entry that score names for each alert and no other.
    fn verify_scores(
        &self,
        alert_keys: &HashSet<AlertKey>,
        report: &mut IntegrityReport,
    ) -> Result<(), StateError> {
        let inner = &self.inner;
        let read = |source| StateError::engine("verifying the database", source);
        let by_id: HashMap<AlertId, AlertKey> =
            alert_keys.iter().map(|key| (key.id(), *key)).collect();
        let mut scored: HashMap<AlertKey, f64> = HashMap::with_capacity(alert_keys.len());
        for item in inner.alert_scores.iter() {
            let (id, value) = item.map_err(read)?;
            let score = match decode_score(&id, &value) {
                Ok(score) => score,
                Err(error) => {
                    report.problem(error.to_string());
                    continue;
                }
            };
            match AlertId::from_bytes(&id).and_then(|id| by_id.get(&id)) {
                Some(key) => {
                    scored.insert(*key, score);
                }
                None => report.problem(format!(
                    "alert_scores: {} has a score but no stored alert",
                    hex(&id)
                )),
            }
        }
        for key in alert_keys {
            let Some(&score) = scored.get(key) else {
                report.problem(format!("alerts: {key} has no alert_scores entry"));
                continue;
            };
            if !inner
                .alerts_by_score
                .contains_key(score_index_key(score, *key))
                .map_err(read)?
            {
                report.problem(format!(
                    "alerts_by_score: no entry for alert {key} at score {score}"
                ));
            }
            if let Some(reader) = inner.score_reader
                && let Some(bytes) = inner.alerts.get(key.stored()).map_err(read)?
            {
                match reader(&bytes) {
                    // A decimal text form of the score may read back one rounding step off.
                    Some(read_score) if same_score(read_score, score) => {}
                    read_score => report.problem(format!(
                        "alert_scores: alert {key} is indexed at score {score} but its bytes hold {read_score:?}"
                    )),
                }
            }
        }
        for item in inner.alerts_by_score.iter().keys() {
            let index_key = item.map_err(read)?;
            report.score_entries += 1;
            match parse_score_index_key(&index_key) {
                Some((score, key))
                    if scored
                        .get(&key)
                        .is_some_and(|s| s.to_bits() == score.to_bits()) => {}
                _ => report.problem(format!(
                    "alerts_by_score: entry {} has no alert indexed at its score",
                    hex(&index_key)
                )),
            }
        }
        Ok(())
    }
}

/// Whether two scores are equal up to the rounding of a decimal round trip.
fn same_score(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}
