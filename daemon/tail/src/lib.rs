//! Line readers for Vigil's sources: files read once or followed across rotation, globs of
//! files, gzip files and stdin, framed into raw lines with their byte offsets.
//!
//! Parsing happens elsewhere: this crate only finds line boundaries. It does not look at
//! encodings, NUL bytes or `\r` (kept at the end of a CRLF line for the parser to trim).
//!
//! # Use
//!
//! [`open_input`] picks a reader for a path, a glob pattern or `-` (stdin) and returns a
//! [`LineSource`]. The caller owns the loop: it calls [`LineSource::read_batch`] with a
//! reused [`LineBatch`], hands lines to its parser, and sleeps its poll interval when told
//! [`ReadStatus::Idle`]. No call blocks for long, so a source can run on its own thread and
//! still see a shutdown request promptly.
//!
//! ```
//! use std::io::Write;
//! use vigil_tail::{open_input, LineBatch, ReadStatus, TailOptions};
//!
//! let mut file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
//! file.write_all(b"first\r\nsecond\nthird").map_err(|e| e.to_string())?;
//! let path = file.path().to_str().ok_or("temporary path is not UTF-8")?;
//!
//! let mut source = open_input(path, &TailOptions::default()).map_err(|e| e.to_string())?;
//! let mut batch = LineBatch::new();
//! let mut seen = Vec::new();
//! loop {
//!     match source.read_batch(1024, &mut batch).map_err(|e| e.to_string())? {
//!         ReadStatus::Lines => {
//!             for line in &batch {
//!                 seen.push((String::from_utf8_lossy(line.bytes).into_owned(), line.offset, line.terminated));
//!             }
//!         }
//!         ReadStatus::InputStarted { .. } | ReadStatus::InputEnded { .. } => {}
//!         ReadStatus::Idle => std::thread::sleep(std::time::Duration::from_millis(10)),
//!         ReadStatus::Finished => break,
//!     }
//! }
//! assert_eq!(seen, vec![
//!     ("first\r".to_string(), 0, true),
//!     ("second".to_string(), 7, true),
//!     ("third".to_string(), 14, false),
//! ]);
//! assert_eq!(source.position().offset, 19);
//! # Ok::<(), String>(())
//! ```
//!
//! # Offsets and checkpoints
//!
//! Every line carries the byte offset of its start in its input (for gzip: in the
//! decompressed stream). [`LineSource::position`] is the offset just after the last line
//! handed out; resuming with it (see [`Position`]) repeats no line and skips none.
//!
//! # Following
//!
//! With [`TailOptions::follow`] a file is followed like `tail -F`, by polling:
//!
//! - **Rename and create** (`logrotate` default): when the path names another file, the old
//!   file keeps being drained until nothing has arrived in it for
//!   [`TailOptions::rotate_wait`] (writers often write to their old descriptor for a while),
//!   then the new file is read from offset 0 as a new input ([`StartCause::Rotated`]). Lines
//!   written to the old file after that wait are not seen.
//! - **Copytruncate**: when the file is shorter than what was read, or the bytes just before
//!   the read offset are no longer the ones read there (the file was truncated and grew back
//!   past that offset between two polls), it is read again from 0 as a new input
//!   ([`StartCause::Truncated`]). Copytruncate loses by its nature whatever the follower had
//!   not read when the truncation happened: those lines exist only in the copy. Nothing can
//!   recover them short of reading the copy, which this crate does not guess at.
//! - **Disappearance**: a file that disappears is drained like a renamed one, a warning is
//!   logged once, and the path is watched until a file appears there again
//!   ([`StartCause::Recreated`]).
//! - A partial last line waits for its newline and is handed out once, complete. Only when
//!   a file is left behind (rotation, truncation) is its unterminated rest handed out as a
//!   line with `terminated == false`.
//!
//! A followed glob reads its matches in name order; each one but the newest is left once it
//! has been quiet for `rotate_wait` and a later match exists; new matches are picked up every
//! [`TailOptions::glob_rescan_polls`] idle polls. Files already read are recognised by
//! identity, so a rotated file renamed to a name that also matches is not read twice. Gzip
//! matches are skipped while following (they are compressed copies of rotated files).
//!
//! # Throughput
//!
//! One `read()` of [`TailOptions::read_buffer_bytes`] per batch, `memchr` to find newlines,
//! and the read buffer handed to the batch by swapping rather than copying when that moves
//! fewer bytes; `cargo bench -p vigil-tail` measures it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod error;
mod follow;
mod framer;
mod glob_source;
mod once;
mod options;
mod source;

use std::path::Path;

pub use batch::{Line, LineBatch, Lines};
pub use error::TailError;
pub use once::{STDIN_NAME, open_reader};
pub use options::{
    DEFAULT_GLOB_RESCAN_POLLS, DEFAULT_MAX_LINE_BYTES, DEFAULT_READ_BUFFER_BYTES,
    DEFAULT_ROTATE_WAIT, TailOptions,
};
pub use source::{FileIdentity, InputName, LineSource, Position, ReadStatus, StartCause};

/// Whether `path` names a gzip file (by its `.gz` extension).
pub fn is_compressed(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("gz"))
}

/// Whether `spec` is a glob pattern rather than a path.
fn is_pattern(spec: &str) -> bool {
    spec.contains(['*', '?', '['])
}

/// Opens the reader `spec` asks for:
///
/// - `-`: stdin, read once to its end ([`open_stdin`]);
/// - an existing path, or one without glob characters: a file, read once or followed per
///   [`TailOptions::follow`]; a `.gz` file is decompressed and can only be read once;
/// - otherwise (`*`, `?` or `[` in it): a glob pattern, whose matches are read in name order.
///
/// # Errors
/// Reading once: a missing file ([`TailError::NotFound`]) or a pattern matching nothing
/// ([`TailError::NoMatch`]). Following a `.gz` file ([`TailError::FollowCompressed`]). A file
/// that cannot be opened, an invalid pattern, or a resume offset past the end of a file read
/// once. A followed file that does not exist yet is not an error: it is waited for.
///
/// ```
/// use vigil_tail::{open_input, TailError, TailOptions};
///
/// let missing = open_input("/nonexistent/vigil/eve.json", &TailOptions::default());
/// assert!(matches!(missing, Err(TailError::NotFound { .. })));
///
/// let follow = TailOptions { follow: true, ..TailOptions::default() };
/// let compressed = open_input("/var/log/cowrie.json.1.gz", &follow);
/// assert!(matches!(compressed, Err(TailError::FollowCompressed { .. })));
/// ```
pub fn open_input(spec: &str, options: &TailOptions) -> Result<Box<dyn LineSource>, TailError> {
    if spec == STDIN_NAME {
        return open_stdin(options);
    }
    let path = Path::new(spec);
    if !path.exists() && is_pattern(spec) {
        return Ok(Box::new(glob_source::GlobSource::new(spec, options)?));
    }
    if is_compressed(path) {
        if options.follow {
            return Err(TailError::FollowCompressed {
                path: path.to_path_buf(),
            });
        }
        return once::gzip_once(path, options.start_offset, options);
    }
    if options.follow {
        return Ok(Box::new(follow::FollowSource::new(
            path,
            options.start_offset,
            options.start_identity,
            options,
        )?));
    }
    once::file_once(path, options.start_offset, options)
}

/// Reads stdin once to its end, without ever blocking the caller (see [`open_reader`]).
/// [`TailOptions::follow`] and the start options do not apply to a stream.
///
/// # Errors
/// When the helper thread that reads stdin cannot be started.
pub fn open_stdin(options: &TailOptions) -> Result<Box<dyn LineSource>, TailError> {
    open_reader(STDIN_NAME, std::io::stdin(), options)
}
