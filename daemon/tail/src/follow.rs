//! A file followed like `tail -F`: by polling, across rename-and-create and copytruncate
//! rotations, and through the file disappearing for a while.

use std::collections::VecDeque;
use std::fs::{File, Metadata};
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::framer::{Fill, Framer, ReadBytes};
use crate::once::MAX_READS_PER_CALL;
use crate::{
    FileIdentity, InputName, LineBatch, LineSource, Position, ReadStatus, StartCause, TailError,
    TailOptions,
};

/// How many of the last bytes read are remembered to recognise the file they came from.
const SIGNATURE_LEN: usize = 32;

/// A followed file that is open.
struct OpenFile {
    file: ReadBytes<File>,
    input: InputName,
    framer: Framer,
    /// The last read found no more bytes: look for growth, truncation or rotation first.
    at_end: bool,
    /// When bytes last arrived (or the file was opened).
    last_data: Instant,
    /// When the path was first seen naming another file (or nothing) during this drain.
    rotation_seen: Option<Instant>,
    /// The last bytes read, ending at the read offset. A truncated file that grew past our
    /// offset between two polls has other bytes there, which betrays the truncation.
    signature: Vec<u8>,
}

impl OpenFile {
    fn remember_read(&mut self, read: usize) {
        let fresh = self.framer.last_read(read);
        if fresh.len() >= SIGNATURE_LEN {
            self.signature.clear();
            self.signature
                .extend_from_slice(&fresh[fresh.len() - SIGNATURE_LEN..]);
        } else {
            self.signature.extend_from_slice(fresh);
            let excess = self.signature.len().saturating_sub(SIGNATURE_LEN);
            self.signature.drain(..excess);
        }
    }

    /// Whether the bytes before the read offset are still the ones read there.
    fn signature_holds(&mut self) -> io::Result<bool> {
        if self.signature.is_empty() {
            return Ok(true);
        }
        let mut probe = [0u8; SIGNATURE_LEN];
        let probe = &mut probe[..self.signature.len()];
        let at = self.framer.read_offset() - probe.len() as u64;
        match read_exact_at(&mut self.file.0, probe, at) {
            Ok(()) => Ok(probe == self.signature.as_slice()),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Starts over at offset 0 of the same file (after a copytruncate).
    fn restart(&mut self) -> io::Result<()> {
        self.file.0.seek(SeekFrom::Start(0))?;
        self.framer.reset(0);
        self.signature.clear();
        self.at_end = false;
        self.last_data = Instant::now();
        self.rotation_seen = None;
        Ok(())
    }
}

/// What was found at the end of the open file.
enum AtEnd {
    /// More bytes to read.
    Grew,
    /// The file is shorter than what was read, or other bytes stand before the read offset.
    Truncated,
    /// Nothing new; the path still names this file.
    Quiet(Metadata),
    /// Nothing new; the path names another file now.
    Rotated,
    /// Nothing new; nothing is at the path any more.
    Gone,
}

enum State {
    /// No file open; the next call tries to open the path.
    Waiting(StartCause),
    Open(Box<OpenFile>),
    /// Retired (glob member): everything handed out.
    Finished,
}

/// A file followed by path, like `tail -F`.
pub(crate) struct FollowSource {
    path: PathBuf,
    name: Arc<str>,
    max_line_bytes: usize,
    read_buffer_bytes: usize,
    rotate_wait: Duration,
    state: State,
    /// Boundaries to report before reading on.
    queued: VecDeque<ReadStatus>,
    /// The path is known to be missing and that was said once.
    missing_warned: bool,
    /// Set when a glob has newer members: end this one once it has been quiet long enough.
    retire_since: Option<Instant>,
}

impl FollowSource {
    /// Follows `path`, resuming at `start_offset` when the file there is the one the offset
    /// was recorded for. A missing file is waited for (and then read from 0).
    pub(crate) fn new(
        path: &Path,
        start_offset: u64,
        start_identity: Option<FileIdentity>,
        options: &TailOptions,
    ) -> Result<Self, TailError> {
        let mut source = Self {
            path: path.to_path_buf(),
            name: Arc::from(path.to_string_lossy().as_ref()),
            max_line_bytes: options.max_line_bytes,
            read_buffer_bytes: options.read_buffer_bytes,
            rotate_wait: options.rotate_wait,
            state: State::Waiting(StartCause::Opened),
            queued: VecDeque::new(),
            missing_warned: false,
            retire_since: None,
        };
        if let Some(status) = source.try_open(StartCause::Opened, start_offset, start_identity)? {
            source.queued.push_back(status);
        }
        Ok(source)
    }

    /// Asks the source to end once its file has been quiet for the rotate wait (a glob has
    /// found newer members). It then reports `InputEnded` and `Finished`.
    pub(crate) fn retire(&mut self) {
        self.retire_since.get_or_insert_with(Instant::now);
    }

    /// Identity of the open file.
    pub(crate) fn identity(&self) -> Option<FileIdentity> {
        match &self.state {
            State::Open(open) => open.input.identity,
            State::Waiting(_) | State::Finished => None,
        }
    }

    fn open_error(&self, source: io::Error) -> TailError {
        TailError::Open {
            path: self.path.clone(),
            source,
        }
    }

    /// Tries to open the path; `Some(InputStarted)` when it did, `None` (having warned once)
    /// when there is no file.
    fn try_open(
        &mut self,
        cause: StartCause,
        start_offset: u64,
        start_identity: Option<FileIdentity>,
    ) -> Result<Option<ReadStatus>, TailError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                self.state = State::Waiting(cause);
                if !self.missing_warned {
                    self.missing_warned = true;
                    tracing::warn!(
                        path = %self.path.display(),
                        "followed file does not exist; watching for it to appear"
                    );
                }
                return Ok(None);
            }
            Err(error) => return Err(self.open_error(error)),
        };
        let metadata = file.metadata().map_err(|error| self.open_error(error))?;
        if metadata.is_dir() {
            return Err(self.open_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            )));
        }
        let identity = FileIdentity::of(&metadata);
        let offset = if start_offset == 0 {
            0
        } else if start_identity.is_some() && start_identity != identity {
            tracing::warn!(
                path = %self.path.display(),
                offset = start_offset,
                "the file the resume offset was recorded for has been rotated away; reading the new one from the start"
            );
            0
        } else if metadata.len() < start_offset {
            tracing::warn!(
                path = %self.path.display(),
                offset = start_offset,
                size = metadata.len(),
                "the file is shorter than the resume offset (truncated since); reading it from the start"
            );
            0
        } else {
            start_offset
        };
        let mut file = file;
        let mut signature = Vec::new();
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|error| self.open_error(error))?;
            // Remember the bytes before the resume offset, so that a truncation is noticed
            // even before anything new was read.
            let mut before = [0u8; SIGNATURE_LEN];
            let len = offset.min(SIGNATURE_LEN as u64) as usize;
            if read_exact_at(&mut file, &mut before[..len], offset - len as u64).is_ok() {
                signature.extend_from_slice(&before[..len]);
            }
        }
        let input = InputName {
            path: self.name.clone(),
            identity,
        };
        self.missing_warned = false;
        self.state = State::Open(Box::new(OpenFile {
            file: ReadBytes(file),
            input: input.clone(),
            framer: Framer::new(offset, self.max_line_bytes, self.read_buffer_bytes),
            at_end: false,
            last_data: Instant::now(),
            rotation_seen: None,
            signature,
        }));
        Ok(Some(ReadStatus::InputStarted { input, cause }))
    }

    /// Hands out the open file's unterminated rest and queues its end; `next` is what follows.
    fn leave_file(&mut self, batch: &mut LineBatch, next: State) -> ReadStatus {
        let State::Open(mut open) = std::mem::replace(&mut self.state, next) else {
            return ReadStatus::Idle;
        };
        let ended = ReadStatus::InputEnded {
            input: open.input.clone(),
        };
        if open.framer.take_rest(batch) {
            self.queued.push_front(ended);
            ReadStatus::Lines
        } else {
            ended
        }
    }

    /// The open file was truncated: hands out its unterminated rest, ends the input and
    /// starts it again from offset 0.
    fn restart_truncated(&mut self, batch: &mut LineBatch) -> Result<ReadStatus, TailError> {
        let State::Open(open) = &mut self.state else {
            return Ok(ReadStatus::Idle);
        };
        tracing::info!(
            path = %self.path.display(),
            offset = open.framer.read_offset(),
            "followed file was truncated; reading it again from the start"
        );
        let ended = ReadStatus::InputEnded {
            input: open.input.clone(),
        };
        let had_rest = open.framer.take_rest(batch);
        open.restart().map_err(|source| TailError::Read {
            path: self.path.clone(),
            offset: 0,
            source,
        })?;
        self.queued.push_back(ReadStatus::InputStarted {
            input: open.input.clone(),
            cause: StartCause::Truncated,
        });
        if had_rest {
            self.queued.push_front(ended);
            return Ok(ReadStatus::Lines);
        }
        Ok(ended)
    }

    fn read_open(
        &mut self,
        max_lines: usize,
        batch: &mut LineBatch,
    ) -> Result<ReadStatus, TailError> {
        let State::Open(open) = &mut self.state else {
            return Ok(ReadStatus::Idle);
        };
        batch.input = Some(open.input.clone());
        if open.framer.may_have_lines() && open.framer.take_lines(max_lines, batch) > 0 {
            return Ok(ReadStatus::Lines);
        }
        for attempt in 0..MAX_READS_PER_CALL {
            let State::Open(open) = &mut self.state else {
                return Ok(ReadStatus::Idle);
            };
            if open.at_end {
                let now = Instant::now();
                match look_at_end(open, &self.path)? {
                    AtEnd::Grew => open.at_end = false,
                    AtEnd::Truncated => return self.restart_truncated(batch),
                    AtEnd::Quiet(metadata) => {
                        open.rotation_seen = None;
                        if retire_due(self.retire_since, self.rotate_wait, open, &metadata, now) {
                            return Ok(self.leave_file(batch, State::Finished));
                        }
                        return Ok(ReadStatus::Idle);
                    }
                    found @ (AtEnd::Rotated | AtEnd::Gone) => {
                        let gone = matches!(found, AtEnd::Gone);
                        if gone && !self.missing_warned {
                            self.missing_warned = true;
                            tracing::warn!(
                                path = %self.path.display(),
                                "followed file disappeared; draining what is still written to it and watching for it to reappear"
                            );
                        }
                        let seen = *open.rotation_seen.get_or_insert(now);
                        if now.duration_since(seen.max(open.last_data)) < self.rotate_wait {
                            return Ok(ReadStatus::Idle);
                        }
                        let cause = if gone {
                            StartCause::Recreated
                        } else {
                            StartCause::Rotated
                        };
                        return Ok(self.leave_file(batch, State::Waiting(cause)));
                    }
                }
            } else if attempt == 0 {
                // Time has passed since the previous call: the file may have been truncated
                // and rewritten past our offset meanwhile, which only its bytes can tell.
                let holds = open.signature_holds().map_err(|source| TailError::Read {
                    path: self.path.clone(),
                    offset: open.framer.read_offset(),
                    source,
                })?;
                if !holds {
                    return self.restart_truncated(batch);
                }
            }
            let filled = open.framer.fill(&mut open.file);
            let filled = filled.map_err(|source| TailError::Read {
                path: self.path.clone(),
                offset: open.framer.read_offset(),
                source,
            })?;
            match filled {
                Fill::Data(read) => {
                    open.remember_read(read);
                    open.last_data = Instant::now();
                    if open.framer.take_lines(max_lines, batch) > 0 {
                        return Ok(ReadStatus::Lines);
                    }
                }
                Fill::Eof | Fill::Pending => open.at_end = true,
            }
        }
        Ok(ReadStatus::Lines)
    }
}

/// Reads exactly `buf.len()` bytes at offset `at` without moving the read position.
#[cfg(unix)]
fn read_exact_at(file: &mut File, buf: &mut [u8], at: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, at)
}

/// Reads exactly `buf.len()` bytes at offset `at`, then returns to the read position.
#[cfg(not(unix))]
fn read_exact_at(file: &mut File, buf: &mut [u8], at: u64) -> io::Result<()> {
    use std::io::Read;
    let position = file.stream_position()?;
    file.seek(SeekFrom::Start(at))?;
    let outcome = file.read_exact(buf);
    file.seek(SeekFrom::Start(position))?;
    outcome
}

/// Looks at the open file and its path once the file's end was reached.
fn look_at_end(open: &mut OpenFile, path: &Path) -> Result<AtEnd, TailError> {
    let read_offset = open.framer.read_offset();
    let read_error = |source| TailError::Read {
        path: path.to_path_buf(),
        offset: read_offset,
        source,
    };
    let metadata = open.file.0.metadata().map_err(read_error)?;
    if metadata.len() < read_offset {
        return Ok(AtEnd::Truncated);
    }
    if metadata.len() > read_offset {
        let holds = open.signature_holds().map_err(read_error)?;
        return Ok(if holds { AtEnd::Grew } else { AtEnd::Truncated });
    }
    match std::fs::metadata(path) {
        Ok(now_at_path) if FileIdentity::of(&now_at_path) == open.input.identity => {
            Ok(AtEnd::Quiet(metadata))
        }
        Ok(_) => Ok(AtEnd::Rotated),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(AtEnd::Gone),
        Err(source) => Err(TailError::Open {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether a retiring glob member has been quiet for `rotate_wait`: nothing arrived since
/// retirement was asked, or the file was last modified long enough ago (members that were
/// finished long before Vigil started move on at once).
fn retire_due(
    retire_since: Option<Instant>,
    rotate_wait: Duration,
    open: &OpenFile,
    metadata: &Metadata,
    now: Instant,
) -> bool {
    let Some(since) = retire_since else {
        return false;
    };
    let modified_long_ago = metadata
        .modified()
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age >= rotate_wait);
    modified_long_ago || now.duration_since(since.max(open.last_data)) >= rotate_wait
}

impl LineSource for FollowSource {
    fn read_batch(
        &mut self,
        max_lines: usize,
        batch: &mut LineBatch,
    ) -> Result<ReadStatus, TailError> {
        batch.clear();
        if let Some(status) = self.queued.pop_front() {
            return Ok(status);
        }
        match self.state {
            State::Finished => Ok(ReadStatus::Finished),
            State::Waiting(cause) => {
                if self.retire_since.is_some() {
                    self.state = State::Finished;
                    return Ok(ReadStatus::Finished);
                }
                Ok(self.try_open(cause, 0, None)?.unwrap_or(ReadStatus::Idle))
            }
            State::Open(_) => self.read_open(max_lines, batch),
        }
    }

    fn position(&self) -> Position {
        match &self.state {
            State::Open(open) => Position {
                path: self.name.clone(),
                identity: open.input.identity,
                offset: open.framer.committed_offset(),
            },
            State::Waiting(_) | State::Finished => Position {
                path: self.name.clone(),
                identity: None,
                offset: 0,
            },
        }
    }
}
