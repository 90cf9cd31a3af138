//! What every flow-dataset parser does the same way: line checks, headers, row numbering,
//! origins, empty inputs. Each format only says how to read its header and one row.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::{Event, EventKind, Origin, Sensor};
use crate::format::{Format, ParseOptions, Record, RejectReason, Rejection};

use super::csv::{CellSplitter, Cells};
use super::error::RowError;
use super::header::Columns;
use super::value;

/// The format-specific half of a flow-dataset parser.
pub(crate) trait RowSchema: Send {
    /// The sensor kind written into every event.
    const SENSOR: Sensor;
    /// The format reported by the parser.
    const FORMAT: Format;

    /// Whether a line, met where a header could be (`header_bound` is false before the
    /// input's header), is a header line rather than a data row. By default the first
    /// non-blank line of an input is its header and every later line a data row.
    fn is_header(&self, _cells: &Cells<'_>, header_bound: bool) -> bool {
        !header_bound
    }

    /// The column positions from a header line; an error rejects the line.
    fn bind_header(&mut self, cells: &Cells<'_>) -> Result<Columns, RowError>;

    /// The column positions of an input without header, from its first data row: `None` for
    /// a format whose rows can only be read once a header has named the columns.
    fn headerless_columns(&self, _first_row: &Cells<'_>) -> Option<Columns> {
        None
    }

    /// Fills `event` (time, sensor, origin already set) from a row of `columns.width` cells.
    fn fill(
        &mut self,
        columns: &Columns,
        cells: &Cells<'_>,
        opts: &ParseOptions,
        event: &mut Event,
    ) -> Result<(), RowError>;

    /// Names of the values in [`Event::numeric`], in order.
    fn numeric_columns(&self) -> &[Arc<str>];
}

/// The index of the next data row of one source, valid or not, counted across its inputs.
///
/// Datasets without timestamps take their event time from it, so it must never restart
/// while the source lives: a second input replayed after the first, or a rotated file,
/// carries on in time instead of starting over. Every flow parser of one
/// [`AutoParser`](crate::detect::AutoParser) shares one counter, so that alternating formats
/// in one source do not restart it either.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowCounter(Arc<AtomicU64>);

impl RowCounter {
    /// Takes the next row index.
    fn next(&self) -> u64 {
        // The parsers sharing a count feed one at a time, from one thread at a time, so a
        // plain load and store suffice (no locked read-modify-write on the per-row path);
        // the atomic type only makes the count shareable between them (`Send`).
        let index = self.0.load(Ordering::Relaxed);
        self.0.store(index.wrapping_add(1), Ordering::Relaxed);
        index
    }
}

/// Per-input bookkeeping.
#[derive(Debug)]
struct InputState {
    source: Arc<str>,
    /// Whether anything but blank lines and headers was met (for [`RejectReason::EmptyInput`]).
    saw_row: bool,
    /// The current header line, to recognise it when repeated (concatenated files).
    header_text: Option<String>,
    /// Where the columns stand; `None` until a header, or for a format without one the
    /// first data row, has told.
    columns: Option<Columns>,
    /// Set by `finish_input`, so that a second call does not report the input twice.
    finished: bool,
}

impl InputState {
    fn new(source: Arc<str>) -> InputState {
        InputState {
            source,
            saw_row: false,
            header_text: None,
            columns: None,
            finished: false,
        }
    }

    /// Counts a data row of this input and returns its index within the source.
    fn count_data_row(&mut self, rows: &RowCounter) -> u64 {
        self.saw_row = true;
        rows.next()
    }
}

/// A complete [`crate::RecordParser`] for one flow-dataset format.
pub(crate) struct FlowCsv<S> {
    schema: S,
    opts: ParseOptions,
    splitter: CellSplitter,
    input: InputState,
    rows: RowCounter,
}

impl<S: RowSchema> FlowCsv<S> {
    /// A parser reading the schema `schema` with `opts`, numbering rows with `rows`.
    pub(crate) fn new(schema: S, opts: ParseOptions, rows: RowCounter) -> FlowCsv<S> {
        FlowCsv {
            schema,
            opts,
            splitter: CellSplitter::default(),
            input: InputState::new(Arc::from("")),
            rows,
        }
    }

    pub(crate) fn format(&self) -> Format {
        S::FORMAT
    }

    pub(crate) fn begin_input(&mut self, source: Arc<str>) {
        // The next input brings its own header; the row count goes on.
        self.input = InputState::new(source);
    }

    pub(crate) fn numeric_columns(&self) -> &[Arc<str>] {
        self.schema.numeric_columns()
    }

    pub(crate) fn finish_input(&mut self, out: &mut Vec<Record>) {
        if !self.input.finished && !self.input.saw_row {
            out.push(Record::Rejected(Rejection {
                reason: RejectReason::EmptyInput,
                offset: 0,
                detail: format!("no {} rows in {:?}", S::FORMAT, &*self.input.source),
            }));
        }
        self.input.finished = true;
    }

    pub(crate) fn feed(
        &mut self,
        line: &[u8],
        offset: u64,
        terminated: bool,
        out: &mut Vec<Record>,
    ) {
        self.input.finished = false;
        match self.read_line(line, offset, terminated) {
            Ok(Some(record)) => out.push(record),
            Ok(None) => {}
            Err(err) => out.push(Record::Rejected(err.into_rejection(offset))),
        }
    }

    /// One line: `Ok(None)` for a blank line, an error for a rejected row or header.
    fn read_line(
        &mut self,
        line: &[u8],
        offset: u64,
        terminated: bool,
    ) -> Result<Option<Record>, RowError> {
        let text = match line_text(line) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(err) => {
                self.input.count_data_row(&self.rows);
                return Err(err);
            }
        };
        if self.input.header_text.as_deref() == Some(text) {
            return Ok(Some(csv_header(offset)));
        }
        let cells = match self.splitter.split(text) {
            Ok(cells) => cells,
            Err(err) => {
                self.input.count_data_row(&self.rows);
                return Err(err);
            }
        };
        let header_bound = self.input.header_text.is_some();
        if self.schema.is_header(&cells, header_bound) {
            return match self.schema.bind_header(&cells) {
                Ok(columns) => {
                    self.input.columns = Some(columns);
                    self.input.header_text = Some(text.to_string());
                    Ok(Some(csv_header(offset)))
                }
                Err(err) => {
                    // A line that fails as a header is still evidence the input is not empty.
                    self.input.saw_row = true;
                    Err(err)
                }
            };
        }
        let row_index = self.input.count_data_row(&self.rows);
        if self.input.columns.is_none() && !header_bound {
            self.input.columns = self.schema.headerless_columns(&cells);
        }
        let Some(columns) = &self.input.columns else {
            return Err(RowError::Missing {
                what: format!("no {} header before this row", S::FORMAT),
            });
        };
        let width = columns.width;
        if cells.len() != width {
            return Err(if !terminated && cells.len() < width {
                RowError::Truncated {
                    expected: width,
                    found: cells.len(),
                }
            } else {
                RowError::WrongColumnCount {
                    expected: width,
                    found: cells.len(),
                }
            });
        }
        let origin = Origin {
            source: Arc::clone(&self.input.source),
            offset,
            round: 0,
        };
        let time = value::row_time(
            self.opts.dataset_start,
            row_index,
            self.opts.row_interval_micros,
        );
        let mut event = Event::new(
            time,
            S::SENSOR,
            Arc::clone(&self.opts.sensor_id),
            EventKind::Flow,
            origin,
        );
        self.schema.fill(columns, &cells, &self.opts, &mut event)?;
        Ok(Some(Record::Event(Box::new(event))))
    }
}

fn csv_header(offset: u64) -> Record {
    Record::Skipped {
        reason: "csv_header",
        offset,
    }
}

/// The text of a line without byte-order mark and carriage return, `None` when blank.
///
/// A byte-order mark is dropped wherever it starts a line, not only at offset 0, so that
/// files concatenated with `cat` read like one.
fn line_text(line: &[u8]) -> Result<Option<&str>, RowError> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(position) = memchr::memchr(0, line) {
        return Err(RowError::Binary { position });
    }
    let text = std::str::from_utf8(line).map_err(|err| RowError::NotUtf8 {
        position: err.valid_up_to(),
    })?;
    if text.trim_ascii().is_empty() {
        return Ok(None);
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_text_strips_bom_and_carriage_return() {
        assert_eq!(line_text(b"\xEF\xBB\xBFid,dur\r").unwrap(), Some("id,dur"));
        assert_eq!(line_text(b"a,b").unwrap(), Some("a,b"));
        assert_eq!(line_text(b"  \r").unwrap(), None);
        assert_eq!(line_text(b"").unwrap(), None);
    }

    #[test]
    fn line_text_rejects_binary_and_invalid_utf8() {
        assert_eq!(
            line_text(b"ab\0c").unwrap_err(),
            RowError::Binary { position: 2 }
        );
        assert_eq!(
            line_text(b"ab\xFFc").unwrap_err(),
            RowError::NotUtf8 { position: 2 }
        );
    }
}
