//! Flow datasets in CSV form: UNSW-NB15, NSL-KDD, CIC-IDS2017 and generic labelled numeric CSV.
//!
//! Every parser here turns one CSV row into one [`EventKind::Flow`](crate::EventKind::Flow)
//! event carrying the dataset's ground truth in [`Event::label`] and its numeric feature
//! columns in [`Event::numeric`] (names from
//! [`RecordParser::numeric_columns`](crate::RecordParser::numeric_columns)).
//!
//! Conventions shared by all four parsers:
//!
//! * Lines may end in CRLF and the first may start with a UTF-8 byte-order mark; blank lines
//!   are ignored. Cells are split at commas; a quoted cell (`"a,b"`, `""` for a quote) must
//!   close on its own line. Blanks around a cell are ignored.
//! * A header line is reported as [`Record::Skipped`](crate::Record::Skipped) with reason
//!   `csv_header`, also when it is repeated later in the input (files joined with `cat`).
//! * [`Event::origin`] is the source named in `begin_input` and the byte offset of the row.
//! * Datasets without timestamps (UNSW-NB15, NSL-KDD, generic CSV, the original CIC-IDS2017
//!   release) get `dataset_start + row_index × row_interval_micros`, where `row_index`
//!   counts the data rows the parser has seen from 0, rejected rows included, so that a bad
//!   row does not shift the times of the rows after it. The count goes on from one input to
//!   the next (a parser reads one source), so that event time never runs backwards when
//!   several files are read in turn.
//! * Numeric cells accept `Infinity`/`NaN` (as CICFlowMeter writes them); in
//!   [`Event::numeric`] they become [`INFINITE_FEATURE_VALUE`] and [`NAN_FEATURE_VALUE`], so
//!   that every feature is finite. Counts (bytes, packets) and durations must be finite and
//!   not negative, else the row is rejected.
//! * Rejections: bytes that are not UTF-8 → `not_utf8`; a NUL byte → `binary_data`; a row
//!   with the wrong number of cells (or an unclosed quote) → `wrong_column_count`; a last
//!   line without newline that stops short → `truncated_record` (a *complete* last line
//!   without newline is a valid row); a cell that is not a number → `invalid_number`; a header
//!   that lacks required columns → `missing_field`; an input without any row →
//!   `empty_input`, once, from `finish_input`.
//!
//! Categorical columns (UNSW-NB15 `proto`/`service`/`state`, NSL-KDD
//! `protocol_type`/`service`/`flag`) are not in [`Event::numeric`]. Their values are kept
//! verbatim in [`Event::raw_kind`] joined by [`CATEGORICAL_SEPARATOR`] (`tcp|http|FIN`), so
//! that an evaluation can one-hot them; [`categorical_values`] splits them back. They also
//! feed the normalised fields: `transport` from the protocol, `app_proto` from the service.

mod cicids;
mod csv;
mod engine;
mod error;
mod generic;
mod header;
mod nslkdd;
mod unsw;
mod value;

use std::sync::Arc;

use crate::event::{Event, Sensor, Transport};
use crate::intern::Interner;

pub(crate) use engine::RowCounter;

pub use cicids::CicIdsParser;
pub use generic::{DEFAULT_LABEL_COLUMN, GenericCsvParser};
pub use nslkdd::NslKddParser;
pub use unsw::UnswParser;
pub use value::{INFINITE_FEATURE_VALUE, NAN_FEATURE_VALUE};

/// Separates the categorical values joined in [`Event::raw_kind`] by the UNSW-NB15 and
/// NSL-KDD parsers. Neither dataset uses it in a value (`/` would not do: UNSW-NB15 has the
/// protocol `a/n`); should a value hold it anyway, it is written as `_`, so the split stays
/// exact.
pub const CATEGORICAL_SEPARATOR: char = '|';

/// The `service` value UNSW-NB15 uses for "no identified service".
const NO_SERVICE: &str = "-";

/// The categorical values of a UNSW-NB15 or NSL-KDD event, in the order of
/// [`UnswParser::CATEGORICAL_COLUMNS`] or [`NslKddParser::CATEGORICAL_COLUMNS`]; `None` for
/// events of other sensors.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::flows::{categorical_values, NslKddParser};
/// use vigil_sensors::{ParseOptions, Record, RecordParser};
///
/// let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
/// parser.begin_input(Arc::from("KDDTest+.txt"));
/// let mut out = Vec::new();
/// let row = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20";
/// parser.feed(row.as_bytes(), 0, false, &mut out);
/// let Record::Event(event) = &out[0] else { panic!("{:?}", out[0]) };
/// assert_eq!(categorical_values(event), Some(["tcp", "ftp_data", "SF"]));
/// ```
pub fn categorical_values(event: &Event) -> Option<[&str; 3]> {
    if !matches!(event.sensor, Sensor::Unsw | Sensor::Nslkdd) {
        return None;
    }
    let mut parts = event.raw_kind.as_deref()?.split(CATEGORICAL_SEPARATOR);
    let values = [parts.next()?, parts.next()?, parts.next()?];
    parts.next().is_none().then_some(values)
}

/// What the three categorical columns of a UNSW-NB15 or NSL-KDD row (protocol, service and
/// a third: state or flag) set in its event.
#[derive(Debug, Default)]
struct Categoricals {
    services: Interner,
    kinds: CategoricalKinds,
}

impl Categoricals {
    /// Sets `transport` from the protocol, `app_proto` from the service in lower case
    /// (unless it is empty or the dataset's `no_service` marker) and `raw_kind` from all
    /// three values.
    #[inline]
    fn fill(&mut self, values: [&str; 3], no_service: Option<&str>, event: &mut Event) {
        let [protocol, service, _] = values;
        event.transport = Some(Transport::parse(protocol));
        if !service.is_empty() && Some(service) != no_service {
            event.app_proto = Some(self.services.get_lowercase(service));
        }
        event.raw_kind = Some(self.kinds.get(values));
    }
}

/// Interned `raw_kind` strings made of three categorical values.
#[derive(Debug, Default)]
struct CategoricalKinds {
    interner: Interner,
    joined: String,
}

impl CategoricalKinds {
    /// The shared `a|b|c` string for `values`, built without allocating once seen.
    fn get(&mut self, values: [&str; 3]) -> Arc<str> {
        self.joined.clear();
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.joined.push(CATEGORICAL_SEPARATOR);
            }
            if value.contains(CATEGORICAL_SEPARATOR) {
                self.joined
                    .push_str(&value.replace(CATEGORICAL_SEPARATOR, "_"));
            } else {
                self.joined.push_str(value);
            }
        }
        self.interner.get(&self.joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_inside_values_cannot_shift_the_split() {
        let mut kinds = CategoricalKinds::default();
        let joined = kinds.get(["a/n", "x|y", "FIN"]);
        assert_eq!(&*joined, "a/n|x_y|FIN");
        assert!(Arc::ptr_eq(&joined, &kinds.get(["a/n", "x|y", "FIN"])));
    }
}
