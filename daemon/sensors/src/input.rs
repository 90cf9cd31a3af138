//! Per-input bookkeeping shared by the JSON log parsers.

use std::sync::Arc;

use crate::event::Origin;
use crate::format::{Record, RejectReason, Rejection};

/// The input being read: its name for event origins, and whether it held any record.
#[derive(Debug, Clone)]
pub(crate) struct InputState {
    pub(crate) source: Arc<str>,
    records: u64,
}

impl InputState {
    pub(crate) fn new() -> InputState {
        InputState {
            source: Arc::from(""),
            records: 0,
        }
    }

    pub(crate) fn begin(&mut self, source: Arc<str>) {
        self.source = source;
        self.records = 0;
    }

    /// Counts a non-blank line (event, skipped or rejected alike).
    pub(crate) fn saw_record(&mut self) {
        self.records += 1;
    }

    pub(crate) fn origin(&self, offset: u64) -> Origin {
        Origin {
            source: Arc::clone(&self.source),
            offset,
            round: 0,
        }
    }

    /// At end of input: one [`RejectReason::EmptyInput`] if it held nothing but blank lines.
    pub(crate) fn finish(&mut self, out: &mut Vec<Record>) {
        if self.records == 0 {
            out.push(Record::Rejected(Rejection {
                reason: RejectReason::EmptyInput,
                offset: 0,
                detail: format!("input {:?} holds no record", &*self.source),
            }));
        }
        self.records = 0;
    }
}

impl InputState {
    /// Reads one NDJSON line as an object of type `T`: `None` for a blank line (not counted),
    /// otherwise the parsed object or why it is unusable.
    pub(crate) fn read_object<'a, T: serde::Deserialize<'a>>(
        &mut self,
        line: &'a [u8],
        terminated: bool,
    ) -> Option<Result<T, crate::json::FieldError>> {
        use crate::json::{Line, parse_object, prepare_line};
        match prepare_line(line) {
            Line::Blank => None,
            Line::Bad(e) => {
                self.saw_record();
                Some(Err(e))
            }
            Line::Text(text) => {
                self.saw_record();
                Some(parse_object(text, terminated))
            }
        }
    }
}
