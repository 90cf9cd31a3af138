//! Batches of lines that share one buffer.

use crate::InputName;

/// Where one line lies in its batch's buffer, and what is known about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineMeta {
    /// Start of the line's bytes in the batch buffer.
    pub(crate) start: usize,
    /// Length of the line's bytes in the batch buffer (0 for a too-long line).
    pub(crate) len: usize,
    /// Byte offset of the line start in its input.
    pub(crate) offset: u64,
    /// Whether a `\n` ended the line.
    pub(crate) terminated: bool,
    /// Full length of a line that was skipped for being too long.
    pub(crate) too_long: Option<u64>,
}

/// Lines handed out by one [`read_batch`](crate::LineSource::read_batch) call, all from one
/// input, stored in one buffer so that no line costs an allocation.
///
/// ```
/// use vigil_tail::LineBatch;
///
/// let batch = LineBatch::new();
/// assert!(batch.is_empty());
/// assert_eq!(batch.iter().count(), 0);
/// ```
#[derive(Debug, Default, Clone)]
pub struct LineBatch {
    /// Line bytes; may hold bytes of no line (the recycled read buffer).
    pub(crate) buf: Vec<u8>,
    pub(crate) lines: Vec<LineMeta>,
    pub(crate) input: Option<InputName>,
}

impl LineBatch {
    /// An empty batch. Reuse it across calls: its buffers are recycled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of lines in the batch.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The input every line of the batch comes from (`None` before the first lines).
    pub fn input(&self) -> Option<&InputName> {
        self.input.as_ref()
    }

    /// The `index`-th line.
    pub fn get(&self, index: usize) -> Option<Line<'_>> {
        self.lines.get(index).map(|meta| self.line(meta))
    }

    /// The lines, in input order.
    pub fn iter(&self) -> Lines<'_> {
        Lines {
            batch: self,
            metas: self.lines.iter(),
        }
    }

    /// Forgets the lines (the buffer's memory is kept for the next call).
    pub fn clear(&mut self) {
        self.lines.clear();
    }

    fn line(&self, meta: &LineMeta) -> Line<'_> {
        Line {
            bytes: self
                .buf
                .get(meta.start..meta.start + meta.len)
                .unwrap_or_default(),
            offset: meta.offset,
            terminated: meta.terminated,
            too_long: meta.too_long,
        }
    }
}

impl<'a> IntoIterator for &'a LineBatch {
    type Item = Line<'a>;
    type IntoIter = Lines<'a>;

    fn into_iter(self) -> Lines<'a> {
        self.iter()
    }
}

/// Iterator over the lines of a [`LineBatch`].
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    batch: &'a LineBatch,
    metas: std::slice::Iter<'a, LineMeta>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        self.metas.next().map(|meta| self.batch.line(meta))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.metas.size_hint()
    }
}

impl ExactSizeIterator for Lines<'_> {}

impl<'a> DoubleEndedIterator for Lines<'a> {
    fn next_back(&mut self) -> Option<Line<'a>> {
        self.metas.next_back().map(|meta| self.batch.line(meta))
    }
}

/// One line: its raw bytes and where it was in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line without its `\n`; a `\r` before it is kept (the parser trims it). Empty for
    /// a line skipped as too long.
    pub bytes: &'a [u8],
    /// Byte offset of the line start in its input (in the decompressed stream for gzip).
    pub offset: u64,
    /// Whether a `\n` ended the line. `false` only for the last line of an input that ends
    /// without one.
    pub terminated: bool,
    /// `Some(length)` when the line (without `\n`) was longer than
    /// [`max_line_bytes`](crate::TailOptions::max_line_bytes) and was skipped.
    pub too_long: Option<u64>,
}

impl Line<'_> {
    /// Length of the line in its input, without the `\n`.
    pub fn len_in_input(&self) -> u64 {
        self.too_long.unwrap_or(self.bytes.len() as u64)
    }

    /// Offset just after the line (and its `\n`): where the next line starts.
    pub fn end_offset(&self) -> u64 {
        self.offset + self.len_in_input() + u64::from(self.terminated)
    }
}
