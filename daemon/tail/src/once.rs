//! Inputs read once from start to end: plain files, gzip files, streams such as stdin.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};

use flate2::read::MultiGzDecoder;

use crate::framer::{ByteSource, Fill, Framer, ReadBytes};
use crate::{
    FileIdentity, InputName, LineBatch, LineSource, Position, ReadStatus, StartCause, TailError,
    TailOptions,
};

/// At most this many reads per call, so that skipping a huge over-long line still lets the
/// caller look at its shutdown flag now and then.
pub(crate) const MAX_READS_PER_CALL: usize = 64;

/// Name used for standard input in positions and batches.
pub const STDIN_NAME: &str = "-";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    NotStarted,
    Reading,
    /// Everything is handed out; `InputEnded` is next.
    Drained,
    Finished,
}

/// One input read from its start (or resume offset) to its end.
pub(crate) struct OnceSource<S> {
    bytes: S,
    input: InputName,
    path: PathBuf,
    framer: Framer,
    stage: Stage,
}

impl<S: ByteSource> OnceSource<S> {
    fn new(
        bytes: S,
        path: PathBuf,
        identity: Option<FileIdentity>,
        offset: u64,
        options: &TailOptions,
    ) -> Self {
        Self {
            bytes,
            input: InputName {
                path: Arc::from(path.to_string_lossy().as_ref()),
                identity,
            },
            path,
            framer: Framer::new(offset, options.max_line_bytes, options.read_buffer_bytes),
            stage: Stage::NotStarted,
        }
    }

    fn read_error(&self, source: io::Error) -> TailError {
        TailError::Read {
            path: self.path.clone(),
            offset: self.framer.read_offset(),
            source,
        }
    }
}

impl<S: ByteSource + Send> LineSource for OnceSource<S> {
    fn read_batch(
        &mut self,
        max_lines: usize,
        batch: &mut LineBatch,
    ) -> Result<ReadStatus, TailError> {
        batch.clear();
        batch.input = Some(self.input.clone());
        match self.stage {
            Stage::NotStarted => {
                self.stage = Stage::Reading;
                return Ok(ReadStatus::InputStarted {
                    input: self.input.clone(),
                    cause: StartCause::Opened,
                });
            }
            Stage::Drained => {
                self.stage = Stage::Finished;
                return Ok(ReadStatus::InputEnded {
                    input: self.input.clone(),
                });
            }
            Stage::Finished => return Ok(ReadStatus::Finished),
            Stage::Reading => {}
        }
        if self.framer.may_have_lines() && self.framer.take_lines(max_lines, batch) > 0 {
            return Ok(ReadStatus::Lines);
        }
        for _ in 0..MAX_READS_PER_CALL {
            let filled = self.framer.fill(&mut self.bytes);
            match filled.map_err(|error| self.read_error(error))? {
                Fill::Data(_) => {
                    if self.framer.take_lines(max_lines, batch) > 0 {
                        return Ok(ReadStatus::Lines);
                    }
                }
                Fill::Eof => {
                    self.stage = Stage::Drained;
                    if self.framer.take_rest(batch) {
                        return Ok(ReadStatus::Lines);
                    }
                    self.stage = Stage::Finished;
                    return Ok(ReadStatus::InputEnded {
                        input: self.input.clone(),
                    });
                }
                Fill::Pending => return Ok(ReadStatus::Idle),
            }
        }
        Ok(ReadStatus::Lines)
    }

    fn position(&self) -> Position {
        Position {
            path: self.input.path.clone(),
            identity: self.input.identity,
            offset: self.framer.committed_offset(),
        }
    }
}

/// Opens `path` for reading, telling a missing file apart from other failures.
pub(crate) fn open_file(path: &Path) -> Result<File, TailError> {
    File::open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            TailError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            TailError::Open {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// A plain file read once from `start_offset`.
pub(crate) fn file_once(
    path: &Path,
    start_offset: u64,
    options: &TailOptions,
) -> Result<Box<dyn LineSource>, TailError> {
    let mut file = open_file(path)?;
    let open_error = |source| TailError::Open {
        path: path.to_path_buf(),
        source,
    };
    let metadata = file.metadata().map_err(open_error)?;
    if metadata.is_dir() {
        return Err(open_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory",
        )));
    }
    if metadata.len() < start_offset {
        return Err(TailError::StartBeyondEnd {
            path: path.to_path_buf(),
            offset: start_offset,
            size: metadata.len(),
        });
    }
    if start_offset > 0 {
        file.seek(SeekFrom::Start(start_offset))
            .map_err(open_error)?;
    }
    Ok(Box::new(OnceSource::new(
        ReadBytes(file),
        path.to_path_buf(),
        FileIdentity::of(&metadata),
        start_offset,
        options,
    )))
}

/// A gzip file (possibly several concatenated members) read once; offsets count
/// decompressed bytes, and `start_offset` is reached by decompressing and discarding.
pub(crate) fn gzip_once(
    path: &Path,
    start_offset: u64,
    options: &TailOptions,
) -> Result<Box<dyn LineSource>, TailError> {
    let file = open_file(path)?;
    let metadata = file.metadata().map_err(|source| TailError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut decoder = MultiGzDecoder::new(file);
    if start_offset > 0 {
        let skipped = io::copy(&mut (&mut decoder).take(start_offset), &mut io::sink()).map_err(
            |source| TailError::Read {
                path: path.to_path_buf(),
                offset: 0,
                source,
            },
        )?;
        if skipped < start_offset {
            return Err(TailError::StartBeyondEnd {
                path: path.to_path_buf(),
                offset: start_offset,
                size: skipped,
            });
        }
    }
    Ok(Box::new(OnceSource::new(
        ReadBytes(decoder),
        path.to_path_buf(),
        FileIdentity::of(&metadata),
        start_offset,
        options,
    )))
}

/// What the helper thread of a stream sends.
enum StreamChunk {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

/// Bytes a helper thread reads from a blocking stream, so that reading lines never blocks.
struct StreamBytes {
    chunks: Receiver<StreamChunk>,
    current: Vec<u8>,
    consumed: usize,
    ended: bool,
}

impl ByteSource for StreamBytes {
    fn fill(&mut self, dst: &mut [u8]) -> io::Result<Fill> {
        if self.consumed == self.current.len() {
            if self.ended {
                return Ok(Fill::Eof);
            }
            match self.chunks.try_recv() {
                Ok(StreamChunk::Data(chunk)) => {
                    self.current = chunk;
                    self.consumed = 0;
                }
                Ok(StreamChunk::Failed(error)) => {
                    self.ended = true;
                    return Err(error);
                }
                Ok(StreamChunk::End) | Err(TryRecvError::Disconnected) => {
                    self.ended = true;
                    return Ok(Fill::Eof);
                }
                Err(TryRecvError::Empty) => return Ok(Fill::Pending),
            }
        }
        let len = (self.current.len() - self.consumed).min(dst.len());
        dst[..len].copy_from_slice(&self.current[self.consumed..self.consumed + len]);
        self.consumed += len;
        Ok(Fill::Data(len))
    }
}

/// Chunks a helper thread may read ahead before it waits for the lines to be taken.
const STREAM_CHUNKS_AHEAD: usize = 4;

fn pump(mut reader: impl Read, chunk_len: usize, chunks: &SyncSender<StreamChunk>) {
    loop {
        let mut chunk = vec![0; chunk_len];
        let message = match reader.read(&mut chunk) {
            Ok(0) => StreamChunk::End,
            Ok(len) => {
                chunk.truncate(len);
                StreamChunk::Data(chunk)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => StreamChunk::Failed(error),
        };
        let last = !matches!(message, StreamChunk::Data(_));
        // A closed channel means the source was dropped: nobody wants more.
        if chunks.send(message).is_err() || last {
            return;
        }
    }
}

/// Reads a blocking stream once to its end, as an input called `name`.
///
/// A helper thread does the blocking reads, so [`LineSource::read_batch`] returns
/// [`ReadStatus::Idle`] instead of blocking while the writer is silent. Offsets count bytes
/// from the start of the stream. The thread ends at the end of the stream, on a read error,
/// or at its next read after the source is dropped.
///
/// # Errors
/// When the helper thread cannot be started.
///
/// ```
/// use vigil_tail::{open_reader, LineBatch, ReadStatus, TailOptions};
///
/// let mut source = open_reader("greeting", &b"hello\nworld"[..], &TailOptions::default())?;
/// let mut batch = LineBatch::new();
/// let mut lines = Vec::new();
/// loop {
///     match source.read_batch(16, &mut batch)? {
///         ReadStatus::Lines => lines.extend(batch.iter().map(|line| (line.bytes.to_vec(), line.offset))),
///         ReadStatus::Finished => break,
///         ReadStatus::Idle => std::thread::sleep(std::time::Duration::from_millis(1)),
///         ReadStatus::InputStarted { .. } | ReadStatus::InputEnded { .. } => {}
///     }
/// }
/// assert_eq!(lines, vec![(b"hello".to_vec(), 0), (b"world".to_vec(), 6)]);
/// # Ok::<(), vigil_tail::TailError>(())
/// ```
pub fn open_reader<R: Read + Send + 'static>(
    name: &str,
    reader: R,
    options: &TailOptions,
) -> Result<Box<dyn LineSource>, TailError> {
    let (sender, chunks) = mpsc::sync_channel(STREAM_CHUNKS_AHEAD);
    let chunk_len = options.read_buffer_bytes.max(1);
    std::thread::Builder::new()
        .name(format!("vigil-tail reader {name}"))
        .spawn(move || pump(reader, chunk_len, &sender))
        .map_err(|source| TailError::Open {
            path: PathBuf::from(name),
            source,
        })?;
    let bytes = StreamBytes {
        chunks,
        current: Vec::new(),
        consumed: 0,
        ended: false,
    };
    Ok(Box::new(OnceSource::new(
        bytes,
        PathBuf::from(name),
        None,
        0,
        options,
    )))
}
