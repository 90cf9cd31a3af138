//! The store's errors.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::checkpoint::CheckpointError;

/// What went wrong in the store. Every message names the path, tree, key or value at fault.
#[derive(Debug, Error)]
pub enum StateError {
    /// The database could not be opened or created (permissions, a file where the directory
    /// should be, damaged files).
    #[error("cannot open the state database at {path}: {source}")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// What the storage engine reported.
        source: EngineError,
    },
    /// Another process holds the database's lock.
    #[error(
        "the state database at {path} is locked by another process (is another vigil running with the same state directory?)"
    )]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The database was written by a newer Vigil whose layout this build does not know.
    #[error(
        "the state database at {path} has schema version {found}, newer than version {supported} that this build reads; run the newer vigil or use another state directory"
    )]
    SchemaTooNew {
        /// The database directory.
        path: PathBuf,
        /// Version recorded in the database.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },
    /// The database records a schema version that no Vigil release used.
    #[error(
        "the state database at {path} has an unknown schema version {found} (this build reads version {supported})"
    )]
    SchemaUnknown {
        /// The database directory.
        path: PathBuf,
        /// The recorded version (decimal, or the stored bytes in hex when they are not a
        /// version number).
        found: String,
        /// Version this build reads and writes.
        supported: u32,
    },
    /// A store written before the score index (schema version 1) was opened without a
    /// [`ScoreReader`](crate::ScoreReader) to build the index with.
    #[error(
        "the state database at {path} has schema version {found}; upgrading it to version {supported} builds the score index from the stored alerts, which needs a score reader, and none was given"
    )]
    UpgradeNeedsScoreReader {
        /// The database directory.
        path: PathBuf,
        /// Version recorded in the database.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },
    /// Building the score index of an old store met an alert whose score the
    /// [`ScoreReader`](crate::ScoreReader) could not read; nothing was changed.
    #[error(
        "cannot upgrade the state database at {path}: the stored alert {key} has no readable score"
    )]
    UpgradeUnreadableAlert {
        /// The database directory.
        path: PathBuf,
        /// The alert's key (32 hex digits).
        key: String,
    },
    /// The directory holds a database with data but no schema version: not Vigil's.
    #[error(
        "the directory {path} holds a database without a Vigil schema version; refusing to use it"
    )]
    NotAStateDatabase {
        /// The database directory.
        path: PathBuf,
    },
    /// A read or write failed in the storage engine.
    #[error("state database failure while {operation}: {source}")]
    Engine {
        /// What the store was doing.
        operation: &'static str,
        /// What the storage engine reported.
        source: EngineError,
    },
    /// A stored entry does not have the layout this build writes.
    #[error("corrupt entry in tree `{tree}` at key {key}: {detail}")]
    Corrupt {
        /// The tree holding the entry.
        tree: &'static str,
        /// The entry's key (hex, or the name for named entries).
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The stored checkpoint cannot be decoded.
    #[error("the stored checkpoint is unreadable: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A checkpoint older than the stored one was offered.
    #[error(
        "checkpoint at event sequence {offered} is older than the stored one at {stored}; clear the stored checkpoint first to start over"
    )]
    CheckpointRegressed {
        /// Sequence of the stored checkpoint.
        stored: u64,
        /// Sequence of the offered one.
        offered: u64,
    },
    /// An output or suppression name is empty or too long.
    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        /// "output" or "suppression".
        what: &'static str,
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An output acknowledged a position that no committed alert has reached.
    #[error(
        "output {name:?} acknowledged outbox position {position}, beyond the last committed alert at {committed}"
    )]
    AckBeyondCommitted {
        /// The output.
        name: String,
        /// The position it acknowledged.
        position: u64,
        /// The last position handed out.
        committed: u64,
    },
}

/// An error reported by the storage engine, kept opaque so the engine stays replaceable.
#[derive(Debug)]
pub struct EngineError(pub(crate) sled::Error);

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            sled::Error::Corruption { at, .. } => match at {
                Some(at) => write!(f, "the database files are corrupt (at {at:?})"),
                None => write!(f, "the database files are corrupt"),
            },
            sled::Error::Io(io) => write!(f, "I/O error: {io}"),
            other => write!(f, "{other}"),
        }
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            sled::Error::Io(io) => Some(io),
            _ => None,
        }
    }
}

impl StateError {
    pub(crate) fn engine(operation: &'static str, source: sled::Error) -> StateError {
        StateError::Engine {
            operation,
            source: EngineError(source),
        }
    }

    pub(crate) fn corrupt(
        tree: &'static str,
        key: String,
        detail: impl Into<String>,
    ) -> StateError {
        StateError::Corrupt {
            tree,
            key,
            detail: detail.into(),
        }
    }
}
