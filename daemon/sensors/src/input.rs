//! What the JSON log parsers share: per-input bookkeeping, the start of every event, and the
//! whole line-to-record loop of the formats with one record per line.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::event::{Event, EventKind, Origin, Sensor};
use crate::format::{Format, ParseOptions, Record, RejectReason, Rejection};
use crate::intern::Interner;
use crate::json::{FieldError, Json, required};

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

    /// Reads one NDJSON line as an object of type `T`: `None` for a blank line (not counted),
    /// otherwise the parsed object or why it is unusable.
    pub(crate) fn read_object<'a, T: Deserialize<'a>>(
        &mut self,
        line: &'a [u8],
        terminated: bool,
    ) -> Option<Result<T, FieldError>> {
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

/// What building the event of one record needs from its parser: the options, where the
/// record stands, and the parser's cache of repeated strings.
pub(crate) struct RecordContext<'p> {
    opts: &'p ParseOptions,
    input: &'p InputState,
    /// The parser's cache for `raw_kind`, `app_proto` and other small repeated strings.
    pub(crate) interner: &'p mut Interner,
    sensor: Sensor,
    offset: u64,
}

impl<'p> RecordContext<'p> {
    /// The context of the record of a `sensor` parser that starts at `offset`.
    pub(crate) fn new(
        opts: &'p ParseOptions,
        input: &'p InputState,
        interner: &'p mut Interner,
        sensor: Sensor,
        offset: u64,
    ) -> RecordContext<'p> {
        RecordContext {
            opts,
            input,
            interner,
            sensor,
            offset,
        }
    }

    /// The zone naive timestamps are read in.
    pub(crate) fn zone(&self) -> chrono_tz::Tz {
        self.opts.naive_timezone
    }

    /// The record's required `timestamp` field.
    pub(crate) fn timestamp(&self, value: &Option<Json<'_>>) -> Result<DateTime<Utc>, FieldError> {
        required(value, "timestamp")?.time("timestamp", self.zone())
    }

    /// A new event of this record, every field beyond time, sensor, kind and origin unset.
    pub(crate) fn event(&self, event_time: DateTime<Utc>, kind: EventKind) -> Box<Event> {
        // Built in place on the heap: the event is large and would otherwise be
        // copied on every move up to the output vector.
        Box::new(Event::new(
            event_time,
            self.sensor,
            Arc::clone(&self.opts.sensor_id),
            kind,
            self.input.origin(self.offset),
        ))
    }
}

/// The format-specific half of a parser for a JSON log with one record per line.
pub(crate) trait JsonSchema: Send {
    /// The sensor kind written into every event.
    const SENSOR: Sensor;
    /// The format reported by the parser.
    const FORMAT: Format;
    /// The fields of a record that the format uses.
    type Line<'a>: Deserialize<'a>;

    /// The event of one record, or why the record cannot be one.
    fn build(
        &mut self,
        line: &Self::Line<'_>,
        context: &mut RecordContext<'_>,
    ) -> Result<Box<Event>, FieldError>;
}

/// A complete [`crate::RecordParser`] for a JSON log with one record per line: each
/// non-blank line becomes one event or one rejection.
#[derive(Debug)]
pub(crate) struct JsonLines<S> {
    /// The format-specific state (Cowrie sessions, for one).
    pub(crate) schema: S,
    opts: ParseOptions,
    input: InputState,
    interner: Interner,
}

impl<S: JsonSchema> JsonLines<S> {
    /// A parser reading the schema `schema` with `opts`.
    pub(crate) fn new(schema: S, opts: ParseOptions) -> JsonLines<S> {
        JsonLines {
            schema,
            opts,
            input: InputState::new(),
            interner: Interner::default(),
        }
    }

    pub(crate) fn format(&self) -> Format {
        S::FORMAT
    }

    pub(crate) fn begin_input(&mut self, source: Arc<str>) {
        self.input.begin(source);
    }

    pub(crate) fn feed(
        &mut self,
        line: &[u8],
        offset: u64,
        terminated: bool,
        out: &mut Vec<Record>,
    ) {
        let Some(parsed) = self.input.read_object::<S::Line<'_>>(line, terminated) else {
            return;
        };
        let mut context = RecordContext::new(
            &self.opts,
            &self.input,
            &mut self.interner,
            S::SENSOR,
            offset,
        );
        out.push(
            match parsed.and_then(|record| self.schema.build(&record, &mut context)) {
                Ok(event) => Record::Event(event),
                Err(e) => e.into_record(offset),
            },
        );
    }

    pub(crate) fn finish_input(&mut self, out: &mut Vec<Record>) {
        self.input.finish(out);
    }

    pub(crate) fn numeric_columns(&self) -> &[Arc<str>] {
        &[]
    }
}
