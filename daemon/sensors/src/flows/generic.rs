//! Any numeric CSV with a header and a label column (ODDS benchmarks, exported feature sets).

use std::sync::Arc;

use crate::event::{Event, Label, Sensor};
use crate::format::{Format, ParseOptions, delegate_record_parser};
use crate::intern::Interner;

use super::csv::Cells;
use super::engine::{FlowCsv, RowCounter, RowSchema};
use super::error::RowError;
use super::header::{Columns, locate};
use super::value::Numbers;

/// The label column when [`ParseOptions::label_column`] is not set.
pub const DEFAULT_LABEL_COLUMN: &str = "label";

/// Label texts (ASCII case ignored) that mean "not an anomaly".
const NORMAL_LABELS: [&str; 2] = ["normal", "benign"];

/// Parser for a generic labelled numeric CSV ([`Format::Csv`]).
///
/// The first non-blank line of each input is the header. The label column is
/// [`ParseOptions::label_column`], or [`DEFAULT_LABEL_COLUMN`], matched ignoring ASCII case;
/// every other column must hold numbers and goes, in header order, to [`Event::numeric`].
///
/// The first header read fixes [`numeric_columns`](crate::RecordParser::numeric_columns):
/// a later input must have the same columns (in any order; extra columns are ignored), so
/// that every event's `numeric` means the same thing.
///
/// Label: class = the label cell's text; anomalous when it is a non-zero number, or when it
/// is not a number and not `normal`/`benign`. An empty label cell is rejected as
/// `missing_field`. Event times are `dataset_start + row_index × row_interval_micros`.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::flows::GenericCsvParser;
/// use vigil_sensors::{ParseOptions, Record, RecordParser};
///
/// let mut parser = GenericCsvParser::new(ParseOptions::new("odds"));
/// parser.begin_input(Arc::from("http.csv"));
/// let mut out = Vec::new();
/// parser.feed(b"f0,f1,Label", 0, true, &mut out);
/// parser.feed(b"-2.3,5.37,1", 12, true, &mut out);
/// let Record::Event(event) = &out[1] else { panic!("{:?}", out[1]) };
/// assert_eq!(event.numeric, [-2.3, 5.37]);
/// assert!(event.label.as_ref().is_some_and(|label| label.anomalous));
/// assert_eq!(parser.numeric_columns().len(), 2);
/// ```
pub struct GenericCsvParser {
    inner: FlowCsv<GenericRows>,
}

impl GenericCsvParser {
    /// A parser for labelled numeric CSV input.
    pub fn new(opts: ParseOptions) -> GenericCsvParser {
        GenericCsvParser::sharing_rows(opts, RowCounter::default())
    }

    /// A parser that numbers its rows with `rows`, shared with the other flow parsers of
    /// its source.
    pub(crate) fn sharing_rows(opts: ParseOptions, rows: RowCounter) -> GenericCsvParser {
        let label_column = opts
            .label_column
            .clone()
            .unwrap_or_else(|| DEFAULT_LABEL_COLUMN.to_string());
        GenericCsvParser {
            inner: FlowCsv::new(
                GenericRows {
                    label_column,
                    numeric_columns: None,
                    raw: Vec::new(),
                    classes: Interner::default(),
                },
                opts,
                rows,
            ),
        }
    }
}

delegate_record_parser!(GenericCsvParser);

/// The position of the label column among [`Columns::other`].
const LABEL: usize = 0;

struct GenericRows {
    label_column: String,
    /// Fixed by the first header read.
    numeric_columns: Option<Vec<Arc<str>>>,
    /// Parsed numeric cells of the current row, before
    /// [`finite_feature`](super::value::finite_feature).
    raw: Vec<f64>,
    classes: Interner,
}

impl RowSchema for GenericRows {
    const SENSOR: Sensor = Sensor::Csv;
    const FORMAT: Format = Format::Csv;

    fn bind_header(&mut self, cells: &Cells<'_>) -> Result<Columns, RowError> {
        let label = locate(cells, &[self.label_column.as_str()], "CSV")?[0];
        let numeric = match &self.numeric_columns {
            Some(names) => {
                let names: Vec<&str> = names.iter().map(|name| name.as_ref()).collect();
                locate(cells, &names, "CSV")?
            }
            None => {
                let positions: Vec<usize> = (0..cells.len())
                    .filter(|&position| position != label)
                    .collect();
                self.numeric_columns = Some(
                    positions
                        .iter()
                        .map(|&position| Arc::from(cells.get(position)))
                        .collect(),
                );
                positions
            }
        };
        Ok(Columns {
            width: cells.len(),
            numeric,
            other: vec![label],
            optional: Vec::new(),
        })
    }

    fn fill(
        &mut self,
        columns: &Columns,
        cells: &Cells<'_>,
        _opts: &ParseOptions,
        event: &mut Event,
    ) -> Result<(), RowError> {
        // Set by the header that bound `columns`.
        let names = self.numeric_columns.as_deref().unwrap_or_default();
        let numbers = Numbers::parse(names, &columns.numeric, cells, &mut self.raw)?;
        let class = columns.other(cells, LABEL);
        if class.is_empty() {
            return Err(RowError::Missing {
                what: format!("label column {} is empty", self.label_column),
            });
        }
        event.label = Some(Label {
            class: self.classes.get(class),
            anomalous: is_anomalous(class),
        });
        event.numeric = numbers.features();
        Ok(())
    }

    fn numeric_columns(&self) -> &[Arc<str>] {
        self.numeric_columns.as_deref().unwrap_or(&[])
    }
}

/// A non-zero number, or a word other than the normal ones.
fn is_anomalous(label: &str) -> bool {
    match label.parse::<f64>() {
        Ok(number) => number != 0.0,
        Err(_) => !NORMAL_LABELS
            .iter()
            .any(|normal| label.eq_ignore_ascii_case(normal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_anomalous_unless_zero_or_a_normal_word() {
        for normal in ["0", "0.0", "-0", "normal", "BENIGN", "Normal"] {
            assert!(!is_anomalous(normal), "{normal}");
        }
        for attack in ["1", "2", "-1", "0.5", "attack", "neptune", "nan"] {
            assert!(is_anomalous(attack), "{attack}");
        }
    }
}
