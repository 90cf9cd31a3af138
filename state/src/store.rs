//! Opening the database, the schema version, and the small things every part shares.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sled::transaction::{ConflictableTransactionError, Transactional, TransactionalTree};
use sled::{IVec, Tree};

use crate::alerts::finish;
use crate::error::{EngineError, StateError};
use crate::keys::hex;
use crate::scores::{ScoreReader, build_score_index};

/// The layout version this build reads and writes, recorded in the `meta` tree.
///
/// Version 1: the trees `alerts`, `alert_ids`, `alerts_by_src`, `alert_log`, `drift_events`,
/// `checkpoints`, `outbox_cursors`, `suppressions` and `meta`, with the layouts described
/// in the crate documentation.
///
/// Version 2 adds the score index (`alerts_by_score`, `alert_scores`); [`Store::open`]
/// upgrades a version 1 store in place (see [`StoreOptions::score_reader`]).
pub const SCHEMA_VERSION: u32 = 2;

/// The version before the score index, which [`Store::open`] upgrades.
const SCHEMA_VERSION_BEFORE_SCORES: u32 = 1;

pub(crate) const ALERTS: &str = "alerts";
pub(crate) const ALERT_IDS: &str = "alert_ids";
pub(crate) const ALERTS_BY_SRC: &str = "alerts_by_src";
pub(crate) const ALERT_LOG: &str = "alert_log";
pub(crate) const ALERTS_BY_SCORE: &str = "alerts_by_score";
pub(crate) const ALERT_SCORES: &str = "alert_scores";
pub(crate) const DRIFT_EVENTS: &str = "drift_events";
pub(crate) const CHECKPOINTS: &str = "checkpoints";
pub(crate) const OUTBOX_CURSORS: &str = "outbox_cursors";
pub(crate) const SUPPRESSIONS: &str = "suppressions";
pub(crate) const META: &str = "meta";

pub(crate) const META_SCHEMA_VERSION: &[u8] = b"schema_version";
pub(crate) const META_ALERT_COUNT: &[u8] = b"alert_count";
pub(crate) const META_LAST_POSITION: &[u8] = b"alert_log_last_position";

/// The longest output or suppression name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// How the database is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Memory the engine may use to cache pages, in bytes.
    pub cache_capacity_bytes: u64,
    /// How often the engine writes buffered changes to disk on its own, in milliseconds;
    /// `None` leaves it to [`Store::flush`]. A crash loses at most this much of the most
    /// recent writes, always whole transactions (see the crate documentation).
    pub flush_every_ms: Option<u64>,
    /// Reads an alert's score from its stored bytes. Needed only to open a store written
    /// before the score index (schema version 1): [`Store::open`] then scores every stored
    /// alert with it and builds the index. Without it such a store is refused
    /// ([`StateError::UpgradeNeedsScoreReader`]). [`Store::verify`] also uses it, when
    /// given, to check each indexed score against the alert's bytes.
    ///
    /// The store keeps alerts as opaque bytes and has no JSON decoder of its own, so the
    /// daemon, which knows the alert's format, supplies this.
    pub score_reader: Option<ScoreReader>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            cache_capacity_bytes: 128 * 1024 * 1024,
            flush_every_ms: Some(500),
            score_reader: None,
        }
    }
}

/// Vigil's persistent state: alerts and their indexes, drift events, the checkpoint, output
/// cursors and suppressions.
///
/// Cloning is cheap and clones share the database, so the alert stage, the outputs, the
/// API and the retention task can each hold one. Every method takes `&self` and is safe to
/// call from several threads.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) alerts: Tree,
    pub(crate) alert_ids: Tree,
    pub(crate) alerts_by_src: Tree,
    pub(crate) alert_log: Tree,
    pub(crate) alerts_by_score: Tree,
    pub(crate) alert_scores: Tree,
    pub(crate) drift_events: Tree,
    pub(crate) checkpoints: Tree,
    pub(crate) outbox_cursors: Tree,
    pub(crate) suppressions: Tree,
    pub(crate) meta: Tree,
    /// How the store reads an alert's score from its bytes, when the opener gave one.
    pub(crate) score_reader: Option<ScoreReader>,
    /// The schema version this open upgraded from and the alerts it indexed, if it did.
    pub(crate) upgraded_from: Option<(u32, u64)>,
    /// Highest outbox position handed to a committed alert.
    pub(crate) last_position: AtomicU64,
    /// Highest outbox position known to be on disk.
    pub(crate) durable_position: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field(
                "last_position",
                &self.inner.last_position.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database in directory `dir`, creating it (and the directory) on first use.
    ///
    /// Refuses, naming the path: a database locked by another process
    /// ([`StateError::Locked`], after waiting up to two seconds in case it is this process's
    /// previous handle, which the engine releases from background threads), damaged files ([`StateError::Open`]), a schema version this
    /// build does not read ([`StateError::SchemaTooNew`], [`StateError::SchemaUnknown`]), and
    /// a database with data but no Vigil schema version ([`StateError::NotAStateDatabase`]).
    ///
    /// A store written with schema version 1 (before the score index) is upgraded in place:
    /// every stored alert is scored with [`StoreOptions::score_reader`] and indexed, then
    /// the version is raised. A crash during the upgrade leaves version 1, and the next open
    /// starts it over. See [`Store::upgraded_from`].
    ///
    /// ```
    /// use vigil_state::{Store, StoreOptions};
    /// let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    /// let store = Store::open(dir.path().join("state"), &StoreOptions::default())
    ///     .map_err(|e| e.to_string())?;
    /// assert_eq!(store.alert_count().map_err(|e| e.to_string())?, 0);
    /// # Ok::<(), String>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>, options: &StoreOptions) -> Result<Store, StateError> {
        let path = dir.as_ref().to_path_buf();
        let config = sled::Config::new()
            .path(&path)
            .cache_capacity(options.cache_capacity_bytes)
            .flush_every_ms(options.flush_every_ms);
        // sled reports most damage as errors but panics on some; either way the caller
        // gets an error that names the directory instead of an abort.
        let db = open_engine(&path, &config)?;
        let open_tree = |name: &str| {
            db.open_tree(name)
                .map_err(|source| open_error(&path, source))
        };

        let meta = open_tree(META)?;
        let version = meta
            .get(META_SCHEMA_VERSION)
            .map_err(|source| open_error(&path, source))?;
        let alerts = open_tree(ALERTS)?;
        let alert_scores = open_tree(ALERT_SCORES)?;
        let alerts_by_score = open_tree(ALERTS_BY_SCORE)?;
        let mut upgraded_from = None;
        match version {
            Some(stored) => {
                let found = check_version(&path, &stored)?;
                if found == SCHEMA_VERSION_BEFORE_SCORES {
                    let reader = options.score_reader.ok_or_else(|| {
                        StateError::UpgradeNeedsScoreReader {
                            path: path.clone(),
                            found,
                            supported: SCHEMA_VERSION,
                        }
                    })?;
                    let indexed =
                        build_score_index(&path, &alerts, &alert_scores, &alerts_by_score, reader)?;
                    // The index is on disk before the version that says it is complete.
                    db.flush().map_err(|source| open_error(&path, source))?;
                    meta.insert(META_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes()[..])
                        .map_err(|source| open_error(&path, source))?;
                    db.flush().map_err(|source| open_error(&path, source))?;
                    upgraded_from = Some((found, indexed));
                }
            }
            None => {
                ensure_empty(&path, &db)?;
                // One transaction, so a crash during the first start leaves either a
                // complete meta tree or an empty database that the next start initialises.
                let initialised = (&meta,).transaction(|(meta,)| {
                    meta.insert(META_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes()[..])?;
                    meta.insert(META_ALERT_COUNT, &0u64.to_be_bytes()[..])?;
                    meta.insert(META_LAST_POSITION, &0u64.to_be_bytes()[..])?;
                    Ok::<(), TxError>(())
                });
                finish("initialising the database", initialised).and_then(|()| {
                    db.flush()
                        .map(|_| ())
                        .map_err(|source| open_error(&path, source))
                })?;
            }
        }

        let last_position = read_meta_u64(&meta, META_LAST_POSITION)?;
        let inner = Inner {
            alerts,
            alert_scores,
            alerts_by_score,
            score_reader: options.score_reader,
            upgraded_from,
            alert_ids: open_tree(ALERT_IDS)?,
            alerts_by_src: open_tree(ALERTS_BY_SRC)?,
            alert_log: open_tree(ALERT_LOG)?,
            drift_events: open_tree(DRIFT_EVENTS)?,
            checkpoints: open_tree(CHECKPOINTS)?,
            outbox_cursors: open_tree(OUTBOX_CURSORS)?,
            suppressions: open_tree(SUPPRESSIONS)?,
            meta,
            last_position: AtomicU64::new(last_position),
            // Whatever was recovered at open is on disk.
            durable_position: AtomicU64::new(last_position),
            db,
            path,
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// When this open upgraded the store: the schema version it was written with and the
    /// number of alerts indexed by score. `None` when the store was already current.
    pub fn upgraded_from(&self) -> Option<(u32, u64)> {
        self.inner.upgraded_from
    }

    /// Number of stored alerts, from a counter kept with every insert and deletion (the
    /// engine's own count would read every record).
    pub fn alert_count(&self) -> Result<u64, StateError> {
        read_meta_u64(&self.inner.meta, META_ALERT_COUNT)
    }

    /// Writes every change made so far to disk and waits until it is there. The shutdown
    /// path calls it last; [`StoreOptions::flush_every_ms`] bounds what a crash can lose
    /// in between.
    pub fn flush(&self) -> Result<(), StateError> {
        let target = self.inner.last_position.load(Ordering::Acquire);
        self.inner
            .db
            .flush()
            .map_err(|source| StateError::engine("flushing to disk", source))?;
        self.inner
            .durable_position
            .fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Bytes the database's files take on disk.
    pub fn size_on_disk(&self) -> Result<u64, StateError> {
        self.inner
            .db
            .size_on_disk()
            .map_err(|source| StateError::engine("measuring the size on disk", source))
    }
}

/// How long [`Store::open`] waits for a lock held by a handle of this process that is
/// being dropped: the engine releases its lock from background threads shortly after.
const LOCK_WAIT: Duration = Duration::from_secs(2);

fn open_engine(path: &Path, config: &sled::Config) -> Result<sled::Db, StateError> {
    let started = Instant::now();
    loop {
        // sled reports most damage as errors but panics on some; either way the caller
        // gets an error that names the directory instead of an abort.
        let opened = catch_unwind(AssertUnwindSafe(|| config.open())).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "the storage engine panicked".to_owned());
            Err(sled::Error::ReportableBug(message))
        });
        match opened.map_err(|source| open_error(path, source)) {
            Err(StateError::Locked { .. }) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn open_error(path: &Path, source: sled::Error) -> StateError {
    if let sled::Error::Io(io) = &source {
        // sled reports a held lock as a plain I/O error; its message is the only sign.
        if io.to_string().contains("could not acquire lock") {
            return StateError::Locked {
                path: path.to_path_buf(),
            };
        }
    }
    StateError::Open {
        path: path.to_path_buf(),
        source: EngineError(source),
    }
}

/// The stored version when this build reads it (the current one, or the one before the
/// score index, which [`Store::open`] upgrades).
fn check_version(path: &Path, stored: &[u8]) -> Result<u32, StateError> {
    let Ok(array) = <[u8; 4]>::try_from(stored) else {
        return Err(StateError::SchemaUnknown {
            path: path.to_path_buf(),
            found: format!("0x{}", hex(stored)),
            supported: SCHEMA_VERSION,
        });
    };
    let found = u32::from_be_bytes(array);
    if found == SCHEMA_VERSION || found == SCHEMA_VERSION_BEFORE_SCORES {
        Ok(found)
    } else if found > SCHEMA_VERSION {
        Err(StateError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        })
    } else {
        // No release wrote a version below the first one; there is nothing to migrate from.
        Err(StateError::SchemaUnknown {
            path: path.to_path_buf(),
            found: found.to_string(),
            supported: SCHEMA_VERSION,
        })
    }
}

/// A database without a schema version may be initialised only when it holds nothing, so
/// pointing the state directory at some other sled database never adopts it.
fn ensure_empty(path: &Path, db: &sled::Db) -> Result<(), StateError> {
    let not_ours = || StateError::NotAStateDatabase {
        path: path.to_path_buf(),
    };
    if !db.is_empty() {
        return Err(not_ours());
    }
    for name in db.tree_names() {
        let tree = db
            .open_tree(&name)
            .map_err(|source| open_error(path, source))?;
        if !tree.is_empty() {
            return Err(not_ours());
        }
    }
    Ok(())
}

pub(crate) fn decode_u64(tree: &'static str, key: &[u8], value: &[u8]) -> Result<u64, StateError> {
    let array: [u8; 8] = value.try_into().map_err(|_| {
        StateError::corrupt(
            tree,
            String::from_utf8_lossy(key).into_owned(),
            format!("expected 8 bytes, found {}", value.len()),
        )
    })?;
    Ok(u64::from_be_bytes(array))
}

pub(crate) fn read_meta_u64(meta: &Tree, key: &'static [u8]) -> Result<u64, StateError> {
    match meta
        .get(key)
        .map_err(|source| StateError::engine("reading a counter", source))?
    {
        Some(value) => decode_u64(META, key, &value),
        None => Err(StateError::corrupt(
            META,
            String::from_utf8_lossy(key).into_owned(),
            "missing",
        )),
    }
}

/// The error type inside a transaction closure.
pub(crate) type TxError = ConflictableTransactionError<StateError>;

/// Reads a u64 counter inside a transaction.
pub(crate) fn tx_read_u64(
    tree: &TransactionalTree,
    tree_name: &'static str,
    key: &'static [u8],
) -> Result<u64, TxError> {
    match tree.get(key)? {
        Some(value) => decode_u64(tree_name, key, &value).map_err(TxError::Abort),
        None => Err(TxError::Abort(StateError::corrupt(
            tree_name,
            String::from_utf8_lossy(key).into_owned(),
            "missing",
        ))),
    }
}

pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), StateError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_BYTES {
        "it is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(StateError::InvalidName {
        what,
        name: name.to_owned(),
        reason,
    })
}

/// Copies an engine value out, so no engine type crosses the API.
pub(crate) fn owned(value: IVec) -> Vec<u8> {
    value.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<Store>();
    }

    #[test]
    fn names_are_checked_for_length_and_emptiness() {
        assert!(check_name("output", "ndjson").is_ok());
        assert!(check_name("output", &"n".repeat(MAX_NAME_BYTES)).is_ok());
        let too_long = check_name("output", &"n".repeat(MAX_NAME_BYTES + 1));
        assert!(matches!(
            too_long,
            Err(StateError::InvalidName { what: "output", .. })
        ));
        let message = check_name("suppression", "").map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("invalid suppression name \"\": it is empty".to_owned())
        );
    }
}
