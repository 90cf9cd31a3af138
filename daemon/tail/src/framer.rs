//! Splitting a byte stream into lines: one big read, `memchr` for newlines, and line bytes
//! handed to the batch by swapping buffers rather than copying where that is cheaper.

use std::io::{self, Read};

use memchr::memchr;

use crate::LineBatch;
use crate::batch::LineMeta;

/// Outcome of one attempt to read more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// This many bytes arrived.
    Data(usize),
    /// The input has no more bytes now (the end of a file, possibly growing later).
    Eof,
    /// Nothing arrived yet, but the stream is not over (stdin whose writer is slow).
    Pending,
}

/// Where bytes come from.
pub(crate) trait ByteSource {
    /// Reads some bytes into `dst` (never empty).
    fn fill(&mut self, dst: &mut [u8]) -> io::Result<Fill>;
}

/// Any blocking reader whose `read` returns promptly (files, decompressors).
pub(crate) struct ReadBytes<R>(pub(crate) R);

impl<R: Read> ByteSource for ReadBytes<R> {
    fn fill(&mut self, dst: &mut [u8]) -> io::Result<Fill> {
        loop {
            match self.0.read(dst) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(read) => return Ok(Fill::Data(read)),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
    }
}

/// A line longer than the limit, whose bytes are being dropped until its newline.
#[derive(Debug, Clone, Copy)]
struct Skipping {
    offset: u64,
    len: u64,
}

/// Line framing state of one input.
///
/// `buf[start..filled]` holds bytes read but not yet handed out; `buf[0]` is at input
/// offset `base`. Lines are handed out only when complete, so a partial last line waits in
/// the buffer for its newline.
#[derive(Debug)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    start: usize,
    /// Where to resume looking for a newline (the partial line before it has none).
    scan: usize,
    filled: usize,
    base: u64,
    skipping: Option<Skipping>,
    /// The last hand-out stopped at `max_lines` with bytes left: there may be lines ready.
    more_lines: bool,
    max_line: usize,
    chunk: usize,
}

impl Framer {
    /// A framer whose next byte read is at input offset `offset`.
    pub(crate) fn new(offset: u64, max_line: usize, chunk: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            scan: 0,
            filled: 0,
            base: offset,
            skipping: None,
            more_lines: false,
            max_line,
            chunk: chunk.max(1),
        }
    }

    /// Forgets everything buffered; the next byte read is at input offset `offset`.
    pub(crate) fn reset(&mut self, offset: u64) {
        self.start = 0;
        self.scan = 0;
        self.filled = 0;
        self.base = offset;
        self.skipping = None;
        self.more_lines = false;
    }

    /// Input offset of the next byte to read.
    pub(crate) fn read_offset(&self) -> u64 {
        self.base + self.filled as u64
    }

    /// Input offset just after the last line handed out.
    pub(crate) fn committed_offset(&self) -> u64 {
        match self.skipping {
            Some(skipping) => skipping.offset,
            None => self.base + self.start as u64,
        }
    }

    /// Whether complete lines may be waiting (the last hand-out was cut by `max_lines`).
    pub(crate) fn may_have_lines(&self) -> bool {
        self.more_lines
    }

    /// Reads once from `source` into the buffer.
    pub(crate) fn fill(&mut self, source: &mut impl ByteSource) -> io::Result<Fill> {
        self.make_room();
        let outcome = source.fill(&mut self.buf[self.filled..])?;
        if let Fill::Data(read) = outcome {
            self.filled += read;
        }
        Ok(outcome)
    }

    /// The last `len` bytes read (at most what is still buffered).
    pub(crate) fn last_read(&self, len: usize) -> &[u8] {
        &self.buf[self.filled.saturating_sub(len)..self.filled]
    }

    /// Ensures a worthwhile read fits after `filled`: moves the unconsumed bytes to the front,
    /// and grows the buffer only while a single line longer than one chunk is being assembled
    /// (bounded by `max_line`, since longer lines are dropped).
    fn make_room(&mut self) {
        let min_free = (self.chunk / 2).max(1);
        if self.buf.len() - self.filled >= min_free {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.base += self.start as u64;
            self.filled -= self.start;
            self.scan -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.filled < min_free {
            let wanted = (self.filled + self.chunk).max(self.chunk);
            self.buf.resize(wanted, 0);
        }
    }

    /// Hands out up to `max_lines` complete lines into `batch` (which must hold no line yet).
    /// Returns how many.
    pub(crate) fn take_lines(&mut self, max_lines: usize, batch: &mut LineBatch) -> usize {
        debug_assert!(batch.lines.is_empty());
        let max_lines = max_lines.max(1);
        self.more_lines = false;
        let mut count = 0;
        if let Some(skipping) = self.skipping.as_mut() {
            match memchr(b'\n', &self.buf[self.start..self.filled]) {
                Some(newline) => {
                    let end = self.start + newline;
                    batch.lines.push(LineMeta {
                        start: end + 1,
                        len: 0,
                        offset: skipping.offset,
                        terminated: true,
                        too_long: Some(skipping.len + newline as u64),
                    });
                    self.skipping = None;
                    self.start = end + 1;
                    self.scan = self.start;
                    count = 1;
                }
                None => {
                    skipping.len += (self.filled - self.start) as u64;
                    self.start = self.filled;
                    self.scan = self.filled;
                    return 0;
                }
            }
        }
        let region_start = self.start;
        let mut region_end = self.start;
        while count < max_lines {
            let Some(newline) = memchr(b'\n', &self.buf[self.scan..self.filled]) else {
                self.scan = self.filled;
                let partial = self.filled - self.start;
                if partial > self.max_line {
                    // The line is already too long: stop buffering it.
                    self.skipping = Some(Skipping {
                        offset: self.base + self.start as u64,
                        len: partial as u64,
                    });
                    self.start = self.filled;
                }
                break;
            };
            let end = self.scan + newline;
            let len = end - self.start;
            let offset = self.base + self.start as u64;
            batch.lines.push(if len > self.max_line {
                LineMeta {
                    start: self.start,
                    len: 0,
                    offset,
                    terminated: true,
                    too_long: Some(len as u64),
                }
            } else {
                LineMeta {
                    start: self.start,
                    len,
                    offset,
                    terminated: true,
                    too_long: None,
                }
            });
            self.start = end + 1;
            self.scan = self.start;
            region_end = self.start;
            count += 1;
        }
        self.more_lines = count == max_lines && self.start < self.filled;
        self.hand_over(batch, region_start, region_end);
        count
    }

    /// Gives `batch` the bytes `buf[region_start..region_end]` the new line entries point
    /// into, by whichever moves fewer bytes: swapping buffers (then the unconsumed rest is
    /// copied into the batch's old buffer, which becomes ours) or copying the region.
    fn hand_over(&mut self, batch: &mut LineBatch, region_start: usize, region_end: usize) {
        let region = region_end - region_start;
        if region == 0 {
            return;
        }
        let rest = self.filled - self.start;
        if rest < region {
            std::mem::swap(&mut self.buf, &mut batch.buf);
            let wanted = batch.buf.len();
            if self.buf.len() < wanted {
                self.buf.resize(wanted, 0);
            }
            self.buf[..rest].copy_from_slice(&batch.buf[self.start..self.filled]);
            self.base += self.start as u64;
            self.scan -= self.start;
            self.filled = rest;
            self.start = 0;
        } else {
            if batch.buf.len() < region {
                batch.buf.resize(region, 0);
            }
            batch.buf[..region].copy_from_slice(&self.buf[region_start..region_end]);
            for meta in &mut batch.lines {
                meta.start -= region_start;
            }
        }
    }

    /// At the end of an input: hands out the bytes after the last newline as one line
    /// without newline (or the over-long line being skipped). `batch` must hold no line.
    /// Returns whether there was such a line.
    pub(crate) fn take_rest(&mut self, batch: &mut LineBatch) -> bool {
        debug_assert!(batch.lines.is_empty());
        self.more_lines = false;
        if let Some(skipping) = self.skipping.take() {
            batch.lines.push(LineMeta {
                start: 0,
                len: 0,
                offset: skipping.offset,
                terminated: false,
                too_long: Some(skipping.len + (self.filled - self.start) as u64),
            });
            self.start = self.filled;
            self.scan = self.filled;
            return true;
        }
        if self.start == self.filled {
            return false;
        }
        let len = self.filled - self.start;
        let offset = self.base + self.start as u64;
        if len > self.max_line {
            batch.lines.push(LineMeta {
                start: 0,
                len: 0,
                offset,
                terminated: false,
                too_long: Some(len as u64),
            });
        } else {
            if batch.buf.len() < len {
                batch.buf.resize(len, 0);
            }
            batch.buf[..len].copy_from_slice(&self.buf[self.start..self.filled]);
            batch.lines.push(LineMeta {
                start: 0,
                len,
                offset,
                terminated: false,
                too_long: None,
            });
        }
        self.start = self.filled;
        self.scan = self.filled;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds fixed chunks, then reports the end.
    struct Chunks(Vec<Vec<u8>>);

    impl ByteSource for Chunks {
        fn fill(&mut self, dst: &mut [u8]) -> io::Result<Fill> {
            if self.0.is_empty() {
                return Ok(Fill::Eof);
            }
            let chunk = &mut self.0[0];
            let len = chunk.len().min(dst.len());
            dst[..len].copy_from_slice(&chunk[..len]);
            chunk.drain(..len);
            if chunk.is_empty() {
                self.0.remove(0);
            }
            Ok(Fill::Data(len))
        }
    }

    /// (bytes, offset, terminated, too_long) of every line, taking `max_lines` at a time.
    fn frame(
        chunks: &[&[u8]],
        max_lines: usize,
        max_line: usize,
        chunk: usize,
    ) -> Vec<(Vec<u8>, u64, bool, Option<u64>)> {
        let mut source = Chunks(chunks.iter().map(|chunk| chunk.to_vec()).collect());
        let mut framer = Framer::new(0, max_line, chunk);
        let mut batch = LineBatch::new();
        let mut out = Vec::new();
        let mut collect = |batch: &LineBatch| {
            for line in batch {
                out.push((
                    line.bytes.to_vec(),
                    line.offset,
                    line.terminated,
                    line.too_long,
                ));
            }
        };
        loop {
            batch.clear();
            if framer.may_have_lines() && framer.take_lines(max_lines, &mut batch) > 0 {
                collect(&batch);
                continue;
            }
            match framer.fill(&mut source).unwrap_or(Fill::Eof) {
                Fill::Data(_) => {
                    framer.take_lines(max_lines, &mut batch);
                    collect(&batch);
                }
                Fill::Eof | Fill::Pending => {
                    framer.take_rest(&mut batch);
                    collect(&batch);
                    return out;
                }
            }
        }
    }

    /// Splits `data` the obvious way, for comparison.
    fn expected(data: &[u8], max_line: usize) -> Vec<(Vec<u8>, u64, bool, Option<u64>)> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        let mut rest = data;
        while !rest.is_empty() {
            let (line, terminated, advance) = match rest.iter().position(|&byte| byte == b'\n') {
                Some(at) => (&rest[..at], true, at + 1),
                None => (rest, false, rest.len()),
            };
            if line.len() > max_line {
                out.push((Vec::new(), offset, terminated, Some(line.len() as u64)));
            } else {
                out.push((line.to_vec(), offset, terminated, None));
            }
            offset += advance as u64;
            rest = &rest[advance..];
        }
        out
    }

    #[test]
    fn frames_like_a_plain_split_for_every_chunking() {
        let mut data = Vec::new();
        for index in 0..200usize {
            let len = (index * 37) % 23;
            data.extend(std::iter::repeat_n(b'a' + (index % 26) as u8, len));
            if index % 17 == 3 {
                data.push(b'\r');
            }
            data.push(b'\n');
        }
        data.extend_from_slice(b"tail without newline");
        for max_line in [4usize, 16, 1000] {
            let want = expected(&data, max_line);
            for chunk_len in [1usize, 3, 7, 64, 4096] {
                for read_chunk in [2usize, 8, 64, 1 << 16] {
                    for max_lines in [1usize, 3, 1024] {
                        let chunks: Vec<&[u8]> = data.chunks(chunk_len).collect();
                        let got = frame(&chunks, max_lines, max_line, read_chunk);
                        assert_eq!(
                            got, want,
                            "max_line {max_line} chunk {chunk_len} read {read_chunk} max_lines {max_lines}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn too_long_unterminated_tail_is_reported_with_its_full_length() {
        let data = [b"ok\n".as_slice(), &[b'x'; 50]].concat();
        let chunks: Vec<&[u8]> = data.chunks(7).collect();
        let got = frame(&chunks, 10, 8, 4);
        assert_eq!(
            got,
            vec![
                (b"ok".to_vec(), 0, true, None),
                (Vec::new(), 3, false, Some(50))
            ]
        );
    }

    #[test]
    fn committed_offset_stays_at_a_line_being_skipped() {
        let mut framer = Framer::new(100, 4, 8);
        let mut source = Chunks(vec![b"ab\ncdefghijk".to_vec()]);
        let mut batch = LineBatch::new();
        assert_eq!(framer.fill(&mut source).ok(), Some(Fill::Data(8)));
        assert_eq!(framer.take_lines(10, &mut batch), 1);
        assert_eq!(framer.committed_offset(), 103);
        batch.clear();
        assert_eq!(framer.fill(&mut source).ok(), Some(Fill::Data(4)));
        assert_eq!(framer.take_lines(10, &mut batch), 0);
        assert_eq!(framer.committed_offset(), 103);
        assert_eq!(framer.read_offset(), 112);
    }
}
