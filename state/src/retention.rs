//! Retention: removing the oldest alerts, with every index entry that points at them.

use std::time::Duration;

use sled::transaction::Transactional;

use crate::alerts::{IdEntry, finish, parse_alert_key};
use crate::error::StateError;
use crate::keys::AlertKey;
use crate::scores::tx_remove_score;
use crate::store::{META, META_ALERT_COUNT, Store, tx_read_u64};

/// Alerts removed per transaction, so a large clean-up never holds the write lock long
/// enough to stall the alert stage.
const RETENTION_CHUNK: usize = 512;

/// What [`Store::apply_retention`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Alerts removed because they were older than the age limit.
    pub removed_by_age: u64,
    /// Alerts removed because there were more than the count limit.
    pub removed_by_count: u64,
    /// Alerts stored afterwards.
    pub remaining: u64,
}

impl Store {
    /// Removes the oldest alerts (by event time) until at most `max_alerts` remain and none
    /// has an event time before `now_micros - max_age`, with their id, source and outbox
    /// index entries (score index included). Either limit may be `None`.
    ///
    /// `now_micros` is the clock ages are measured against (microseconds since the Unix
    /// epoch): the wall clock for a live sensor, the newest event time for a replay of old
    /// data. Runs in chunks of its own transactions, so the alert stage can keep committing
    /// meanwhile; an alert removed before an output delivered it is not delivered.
    ///
    /// ```
    /// use vigil_state::{AlertId, NewAlert, Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path(), &StoreOptions::default()).map_err(|e| e.to_string())?;
    /// let batch: Vec<NewAlert> = (0..10)
    ///     .map(|i| NewAlert { id: AlertId::new(i), event_time_micros: i as i64 * 1_000_000, src_ip: None, score: 0.5, bytes: vec![] })
    ///     .collect();
    /// store.commit_alerts(&batch).map_err(|e| e.to_string())?;
    /// // Ages against t = 9 s: the limit of 5.5 s removes t = 0..3 s, the count limit then t = 4 s.
    /// let report = store
    ///     .apply_retention(Some(5), Some(std::time::Duration::from_millis(5_500)), 9_000_000)
    ///     .map_err(|e| e.to_string())?;
    /// assert_eq!((report.removed_by_age, report.removed_by_count, report.remaining), (4, 1, 5));
    /// # Ok::<(), String>(())
    /// ```
    pub fn apply_retention(
        &self,
        max_alerts: Option<u64>,
        max_age: Option<Duration>,
        now_micros: i64,
    ) -> Result<RetentionReport, StateError> {
        let cutoff = max_age.map(|age| {
            let micros = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            now_micros.saturating_sub(micros)
        });
        let mut report = RetentionReport::default();
        loop {
            let count = self.alert_count()?;
            let mut over_count = max_alerts.map_or(0, |max| count.saturating_sub(max));
            let mut chunk: Vec<(AlertKey, bool)> = Vec::with_capacity(RETENTION_CHUNK);
            for item in self.inner.alerts.iter().keys() {
                if chunk.len() == RETENTION_CHUNK {
                    break;
                }
                let key = item.map_err(|source| StateError::engine("reading alerts", source))?;
                let key = parse_alert_key(&key)?;
                if cutoff.is_some_and(|cutoff| key.event_time_micros() < cutoff) {
                    chunk.push((key, true));
                    over_count = over_count.saturating_sub(1);
                } else if over_count > 0 {
                    chunk.push((key, false));
                    over_count -= 1;
                } else {
                    break;
                }
            }
            if chunk.is_empty() {
                report.remaining = self.alert_count()?;
                return Ok(report);
            }
            let (by_age, by_count) = self.remove_alerts(&chunk)?;
            report.removed_by_age += by_age;
            report.removed_by_count += by_count;
        }
    }

    /// Removes the given alerts and their index entries in one transaction; returns how
    /// many were removed for age and for count (an alert already gone is not counted).
    fn remove_alerts(&self, chunk: &[(AlertKey, bool)]) -> Result<(u64, u64), StateError> {
        let inner = &self.inner;
        let trees = (
            &inner.alerts,
            &inner.alert_ids,
            &inner.alerts_by_src,
            &inner.alert_log,
            &inner.alert_scores,
            &inner.alerts_by_score,
            &inner.meta,
        );
        let result = trees.transaction(
            |(alerts, alert_ids, alerts_by_src, alert_log, alert_scores, by_score, meta)| {
                let mut count = tx_read_u64(meta, META, META_ALERT_COUNT)?;
                let (mut by_age, mut by_count) = (0u64, 0u64);
                for (key, for_age) in chunk {
                    if alerts.remove(key.stored())?.is_none() {
                        continue;
                    }
                    let id = key.id().to_bytes();
                    if let Some(value) = alert_ids.get(id)? {
                        // Tolerate a damaged or foreign index entry here: retention must
                        // still make room. The integrity check reports such entries.
                        if let Ok(entry) = IdEntry::decode(&id, &value)
                            && entry.key == *key
                        {
                            alert_ids.remove(&id[..])?;
                            alert_log.remove(&entry.position.to_be_bytes()[..])?;
                            if let Some(src_key) = entry.src_key() {
                                alerts_by_src.remove(src_key)?;
                            }
                        }
                    }
                    tx_remove_score(alert_scores, by_score, *key)?;
                    count = count.saturating_sub(1);
                    if *for_age {
                        by_age += 1;
                    } else {
                        by_count += 1;
                    }
                }
                meta.insert(META_ALERT_COUNT, &count.to_be_bytes()[..])?;
                Ok((by_age, by_count))
            },
        );
        finish("removing old alerts", result)
    }
}
