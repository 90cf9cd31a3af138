//! The interface every reader implements, and the names it gives its inputs.

use std::fmt;
use std::fs::Metadata;
use std::sync::Arc;

use crate::{LineBatch, TailError};

/// What stays the same about a file when it is renamed and changes when a new file takes its
/// path: `(device, inode)` on unix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileIdentity {
    /// Device the file lives on.
    pub device: u64,
    /// Inode number on that device.
    pub inode: u64,
}

impl FileIdentity {
    /// Identity of the file described by `metadata`; `None` where the platform has no stable
    /// file identity (then rotation is detected by size alone).
    pub fn of(metadata: &Metadata) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(Self {
                device: metadata.dev(),
                inode: metadata.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            None
        }
    }
}

impl fmt::Display for FileIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dev {} inode {}", self.device, self.inode)
    }
}

/// One input a source reads from: a file (at a path, with an identity) or a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputName {
    /// The path as configured or matched (`-` for stdin); lossily converted to UTF-8.
    pub path: Arc<str>,
    /// The file's identity; `None` for streams.
    pub identity: Option<FileIdentity>,
}

impl fmt::Display for InputName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.identity {
            Some(identity) => write!(f, "{} ({identity})", self.path),
            None => f.write_str(&self.path),
        }
    }
}

/// Why a new input begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartCause {
    /// The first file of a source, or the next member of a glob.
    Opened,
    /// A followed path now names a new file (rename-and-create rotation).
    Rotated,
    /// A followed file was truncated (copytruncate rotation) and is read again from 0.
    Truncated,
    /// A followed path had disappeared and exists again.
    Recreated,
}

/// What a call to [`LineSource::read_batch`] did, and what the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadStatus {
    /// The batch holds lines of [`LineBatch::input`]; call again at once. It can be empty
    /// when the call only skipped part of an over-long line.
    Lines,
    /// A new input begins (the caller calls its parser's `begin_input`); its lines follow.
    InputStarted {
        /// The input that begins.
        input: InputName,
        /// Why it begins.
        cause: StartCause,
    },
    /// The current input is done: every line of it has been handed out (the caller calls
    /// `finish_input`). Another input may start afterwards.
    InputEnded {
        /// The input that ended.
        input: InputName,
    },
    /// Following and nothing new: wait for the poll interval (or shutdown), then call again.
    Idle,
    /// Read once and everything was read; further calls return `Finished` again.
    Finished,
}

/// Where a source stands: what a checkpoint stores to resume without repeating or skipping
/// a line.
///
/// `offset` is just after the last line handed out (a line without newline is handed out
/// only at the end of a file read once, or when a followed file is left behind by a
/// rotation). Resume by passing `offset` as [`TailOptions::start_offset`](crate::TailOptions::start_offset),
/// `identity` as [`TailOptions::start_identity`](crate::TailOptions::start_identity) and, for
/// globs, `path` as [`TailOptions::start_path`](crate::TailOptions::start_path).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    /// Path of the current input (the configured path or pattern before any input opened).
    pub path: Arc<str>,
    /// Identity of the current file, when one is open.
    pub identity: Option<FileIdentity>,
    /// Offset just after the last line handed out.
    pub offset: u64,
}

/// A reader that frames one or more inputs into lines.
///
/// Calls never block for long: a source that has nothing to hand out says
/// [`ReadStatus::Idle`] and the caller decides how long to wait, so it can check for
/// shutdown in between. Reuse one [`LineBatch`] across calls: its buffer is recycled.
///
/// For each input the calls report, in order: `InputStarted`, any number of `Lines` (and
/// `Idle` while following), `InputEnded`. Lines of two inputs never share a batch.
pub trait LineSource: Send {
    /// Clears `batch` and fills it with up to `max_lines` lines (at least one is always
    /// allowed), or reports an input boundary, idleness or the end.
    ///
    /// # Errors
    /// When an input cannot be opened or read; the error names it. A followed source stays
    /// usable: the next call tries again.
    fn read_batch(
        &mut self,
        max_lines: usize,
        batch: &mut LineBatch,
    ) -> Result<ReadStatus, TailError>;

    /// Where the source stands after the lines handed out so far.
    fn position(&self) -> Position;
}

impl<S: LineSource + ?Sized> LineSource for Box<S> {
    fn read_batch(
        &mut self,
        max_lines: usize,
        batch: &mut LineBatch,
    ) -> Result<ReadStatus, TailError> {
        (**self).read_batch(max_lines, batch)
    }

    fn position(&self) -> Position {
        (**self).position()
    }
}
