//! The integrity check: every index agrees with the alerts, and the counters with both.

use std::collections::HashSet;

use crate::alerts::{CHECKPOINT_LATEST, CHECKPOINT_POSITION, IdEntry};
use crate::checkpoint::Checkpoint;
use crate::error::StateError;
use crate::keys::{AlertKey, DriftKey, hex, ip_from_prefix};
use crate::outbox::OutboxCursor;
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
    /// outbox entries and each entry its alert; the alert counter equals the number of
    /// alerts; outbox positions, cursors and the checkpoint's alert position do not exceed
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
}
