//! Input formats, the line-oriented parser interface, and rejection reasons.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::event::Event;

/// A sensor log or dataset format that Vigil can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Recognise the format from the content of the input.
    Auto,
    /// Cowrie JSON lines.
    Cowrie,
    /// Dionaea JSON lines.
    Dionaea,
    /// Suricata EVE, as JSON lines or as a JSON array.
    Suricata,
    /// Tanner JSON lines.
    Tanner,
    /// UNSW-NB15 CSV with header.
    Unsw,
    /// NSL-KDD records (no header, 43 fields), or KDD Cup 99 records (42 fields).
    Nslkdd,
    /// CIC-IDS2017 CSV with header.
    Cicids,
    /// A generic numeric CSV with a header and a label column.
    Csv,
}

impl Format {
    /// Every format name accepted on the command line and in config.
    pub const NAMES: &'static [&'static str] = &[
        "auto", "cowrie", "dionaea", "suricata", "tanner", "unsw", "nslkdd", "cicids", "csv",
    ];

    /// The name used on the command line and in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Cowrie => "cowrie",
            Format::Dionaea => "dionaea",
            Format::Suricata => "suricata",
            Format::Tanner => "tanner",
            Format::Unsw => "unsw",
            Format::Nslkdd => "nslkdd",
            Format::Cicids => "cicids",
            Format::Csv => "csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is not one of [`Format::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown format {0:?}; expected one of auto, cowrie, dionaea, suricata, tanner, unsw, nslkdd, cicids, csv"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Format::Auto,
            "cowrie" => Format::Cowrie,
            "dionaea" => Format::Dionaea,
            "suricata" | "eve" => Format::Suricata,
            "tanner" => Format::Tanner,
            "unsw" | "unsw-nb15" | "unsw_nb15" => Format::Unsw,
            "nslkdd" | "nsl-kdd" | "nsl_kdd" => Format::Nslkdd,
            "cicids" | "cic-ids2017" | "cicids2017" => Format::Cicids,
            "csv" => Format::Csv,
            _ => return Err(UnknownFormat(s.to_string())),
        })
    }
}

/// How a parser should fill in what the input does not say.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The configured name of the sensor instance; every event carries it.
    pub sensor_id: Arc<str>,
    /// Time zone for timestamps written without an offset (Dionaea, Tanner, some EVE files).
    pub naive_timezone: chrono_tz::Tz,
    /// Event time of the first row a parser reads, for datasets without timestamps
    /// (UNSW-NB15, NSL-KDD, generic CSV, original CIC-IDS2017); later rows follow at
    /// `row_interval_micros`, across all the inputs of the parser.
    pub dataset_start: DateTime<Utc>,
    /// Event-time spacing of consecutive rows of datasets without timestamps, in microseconds.
    pub row_interval_micros: u64,
    /// Name of the label column of a generic CSV (default: `label`).
    pub label_column: Option<String>,
}

impl ParseOptions {
    /// Options with UTC for naive timestamps, row 0 at the Unix epoch and rows 1 ms apart.
    pub fn new(sensor_id: impl Into<Arc<str>>) -> ParseOptions {
        ParseOptions {
            sensor_id: sensor_id.into(),
            naive_timezone: chrono_tz::UTC,
            dataset_start: DateTime::UNIX_EPOCH,
            row_interval_micros: 1000,
            label_column: None,
        }
    }
}

/// Why a record was rejected. Each reason is a key of `events_rejected` in summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The line is not valid JSON.
    MalformedJson,
    /// The input ended in the middle of a record (a last line without newline that does not parse).
    TruncatedRecord,
    /// Valid JSON, but not an object of the expected shape (an array, a number...).
    NotAnObject,
    /// A field has the wrong JSON type (a string where a number is needed...).
    WrongFieldType,
    /// A field that every record of this format has is missing.
    MissingField,
    /// An IP address that does not parse.
    InvalidIp,
    /// A port outside 0..=65535 or not a number.
    InvalidPort,
    /// A timestamp that does not parse.
    InvalidTimestamp,
    /// A number (CSV cell, counter) that does not parse or is out of range.
    InvalidNumber,
    /// A CSV row with the wrong number of columns.
    WrongColumnCount,
    /// The bytes are not UTF-8.
    NotUtf8,
    /// The line is longer than `max_line_bytes`.
    LineTooLong,
    /// The input holds no record at all.
    EmptyInput,
    /// The input looks binary (NUL bytes).
    BinaryData,
    /// `--format auto` could not recognise the input.
    UnknownFormat,
}

impl RejectReason {
    /// The snake_case key used in summaries and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::TruncatedRecord => "truncated_record",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::WrongFieldType => "wrong_field_type",
            RejectReason::MissingField => "missing_field",
            RejectReason::InvalidIp => "invalid_ip",
            RejectReason::InvalidPort => "invalid_port",
            RejectReason::InvalidTimestamp => "invalid_timestamp",
            RejectReason::InvalidNumber => "invalid_number",
            RejectReason::WrongColumnCount => "wrong_column_count",
            RejectReason::NotUtf8 => "not_utf8",
            RejectReason::LineTooLong => "line_too_long",
            RejectReason::EmptyInput => "empty_input",
            RejectReason::BinaryData => "binary_data",
            RejectReason::UnknownFormat => "unknown_format",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected record: why, where, and a short human detail naming the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// Byte offset of the start of the record in its input.
    pub offset: u64,
    /// What was wrong, naming the field and value (`dst_port 70000 is above 65535`).
    pub detail: String,
}

/// What a parser makes of the lines it is fed.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A normalised event.
    Event(Box<Event>),
    /// A well-formed record that is deliberately not an event (Suricata `stats`, a CSV header).
    Skipped {
        /// Snake_case key counted under `records_skipped`.
        reason: &'static str,
        /// Byte offset of the record.
        offset: u64,
    },
    /// A record that could not be used.
    Rejected(Rejection),
}

/// A streaming, line-oriented parser for one input format.
///
/// The reader hands it every line (without the line terminator; a trailing `\r` may remain)
/// with the byte offset where the line starts. A parser may keep state across lines:
/// Cowrie session ports, a JSON array spanning many lines, a CSV header.
pub trait RecordParser: Send {
    /// The concrete format (never [`Format::Auto`] once a format has been recognised).
    fn format(&self) -> Format;

    /// A new input (file) starts: `source` names it in every event's origin. CSV headers
    /// restart; cross-file state such as Cowrie sessions and the row count that times
    /// datasets without timestamps is kept.
    fn begin_input(&mut self, source: Arc<str>);

    /// One line at `offset`. `terminated` is false only for a last line that ended without a
    /// newline at end of input.
    fn feed(&mut self, line: &[u8], offset: u64, terminated: bool, out: &mut Vec<Record>);

    /// End of the current input: flush anything buffered (an unterminated JSON array is a
    /// truncated record, an input with no record at all is [`RejectReason::EmptyInput`]).
    fn finish_input(&mut self, out: &mut Vec<Record>);

    /// Names of the numeric columns carried in [`Event::numeric`], in order (flow datasets).
    fn numeric_columns(&self) -> &[Arc<str>] {
        &[]
    }
}

/// Implements [`RecordParser`] for a public parser that wraps, in its field `inner`, one of
/// the crate's parser engines (`JsonLines`, `FlowCsv`): both have methods of the trait's names.
macro_rules! delegate_record_parser {
    ($parser:ty) => {
        impl $crate::format::RecordParser for $parser {
            fn format(&self) -> $crate::format::Format {
                self.inner.format()
            }

            fn begin_input(&mut self, source: std::sync::Arc<str>) {
                self.inner.begin_input(source);
            }

            fn feed(
                &mut self,
                line: &[u8],
                offset: u64,
                terminated: bool,
                out: &mut Vec<$crate::format::Record>,
            ) {
                self.inner.feed(line, offset, terminated, out);
            }

            fn finish_input(&mut self, out: &mut Vec<$crate::format::Record>) {
                self.inner.finish_input(out);
            }

            fn numeric_columns(&self) -> &[std::sync::Arc<str>] {
                self.inner.numeric_columns()
            }
        }
    };
}

pub(crate) use delegate_record_parser;
