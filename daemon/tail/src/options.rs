//! How an input is read.

use std::path::PathBuf;
use std::time::Duration;

use crate::FileIdentity;

/// Default for [`TailOptions::max_line_bytes`]: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Default for [`TailOptions::read_buffer_bytes`]: 256 KiB.
pub const DEFAULT_READ_BUFFER_BYTES: usize = 256 << 10;
/// Default for [`TailOptions::rotate_wait`]: 5 seconds.
pub const DEFAULT_ROTATE_WAIT: Duration = Duration::from_secs(5);
/// Default for [`TailOptions::glob_rescan_polls`].
pub const DEFAULT_GLOB_RESCAN_POLLS: u32 = 4;

/// How an input is read: once or followed, where to start, and the limits that keep memory
/// bounded.
///
/// A plain struct: set the fields you need and take the rest from [`Default`].
///
/// ```
/// use std::time::Duration;
/// use vigil_tail::TailOptions;
///
/// let options = TailOptions {
///     follow: true,
///     rotate_wait: Duration::from_secs(2),
///     ..TailOptions::default()
/// };
/// assert_eq!(options.max_line_bytes, 1 << 20);
/// assert_eq!(options.start_offset, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailOptions {
    /// Keep reading as the input grows, across rotations (like `tail -F`), instead of
    /// stopping at its end. Ignored for stdin; an error for gzip files.
    pub follow: bool,
    /// Byte offset to resume at in the first file read (for a glob: in
    /// [`start_path`](Self::start_path) when given). Take it from a checkpointed
    /// [`Position`](crate::Position); it must be the start of a line. In a gzip file it
    /// counts decompressed bytes and is reached by decompressing and discarding at open.
    pub start_offset: u64,
    /// For globs: the member to resume in (the path of a checkpointed
    /// [`Position`](crate::Position)). Members sorting before it have been read already and
    /// are skipped; when it no longer exists, reading starts at the first member sorting after
    /// it. Ignored for single files.
    pub start_path: Option<PathBuf>,
    /// Identity of the file [`start_offset`](Self::start_offset) was recorded in. When
    /// following and the file now at the path has another identity, that file was rotated
    /// away while nobody was reading and the offset means nothing in the new one: reading
    /// starts at 0 with a warning. `None` trusts the offset.
    pub start_identity: Option<FileIdentity>,
    /// Longest line (without its `\n`) handed out. A longer line is reported as too long, with
    /// its offset and length, and skipped up to its newline without being buffered.
    pub max_line_bytes: usize,
    /// After a rename-and-create rotation, keep draining the old file until nothing new has
    /// arrived in it for this long, since writers often keep writing to their old descriptor
    /// for a while. Also how long a followed glob member must be quiet before moving on.
    pub rotate_wait: Duration,
    /// Size of one `read()`. Bigger means fewer system calls per line.
    pub read_buffer_bytes: usize,
    /// A followed glob is expanded again every this many idle polls, to pick up new files.
    pub glob_rescan_polls: u32,
}

impl Default for TailOptions {
    fn default() -> Self {
        Self {
            follow: false,
            start_offset: 0,
            start_path: None,
            start_identity: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            rotate_wait: DEFAULT_ROTATE_WAIT,
            read_buffer_bytes: DEFAULT_READ_BUFFER_BYTES,
            glob_rescan_polls: DEFAULT_GLOB_RESCAN_POLLS,
        }
    }
}
