//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Why an input could not be opened or read.
///
/// Every variant names the input (file path or glob pattern) it is about, so a message in
/// the daemon's log says which of its sources is at fault.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// A file to be read once does not exist.
    #[error("input file {} does not exist", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// A file exists but could not be opened (permissions, a directory, ...).
    #[error("cannot open input {}: {source}", path.display())]
    Open {
        /// The file that failed to open.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Reading (or decompressing) an open input failed.
    #[error("cannot read input {} at byte offset {offset}: {source}", path.display())]
    Read {
        /// The input being read.
        path: PathBuf,
        /// Offset (in the decompressed stream for gzip) of the first byte that could not be read.
        offset: u64,
        /// What the operating system or the decompressor said.
        #[source]
        source: io::Error,
    },
    /// Following was asked for a gzip file, which is a finished archive, not a growing log.
    #[error("cannot follow compressed input {}: a .gz file can only be read once", path.display())]
    FollowCompressed {
        /// The compressed file.
        path: PathBuf,
    },
    /// The resume offset lies past the end of a file read once: the file is not the one the
    /// offset was recorded for.
    #[error("start offset {offset} is beyond the end of {} ({size} bytes)", path.display())]
    StartBeyondEnd {
        /// The file being resumed.
        path: PathBuf,
        /// The requested start offset.
        offset: u64,
        /// The length of the file (decompressed length for gzip).
        size: u64,
    },
    /// A glob pattern is not valid syntax.
    #[error("invalid glob pattern {pattern:?}: {source}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        #[source]
        source: glob::PatternError,
    },
    /// A glob pattern read once matches no file.
    #[error("glob pattern {pattern:?} matches no file")]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
}
