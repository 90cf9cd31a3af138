//! NSL-KDD connection records (`KDDTrain+.txt`, `KDDTest+.txt` and their 20 % subsets).

use std::sync::Arc;

use crate::event::{Event, Label, Sensor};
use crate::format::{Format, ParseOptions, delegate_record_parser};
use crate::intern::Interner;

use super::Categoricals;
use super::csv::Cells;
use super::engine::{FlowCsv, RowCounter, RowSchema};
use super::error::RowError;
use super::header::{Columns, index_of, shared_names};
use super::value::{self, IN_SECONDS, Numbers};

/// The 41 KDD Cup 99 features, in file order.
const FEATURES: [&str; 41] = [
    "duration",
    "protocol_type",
    "service",
    "flag",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    "hot",
    "num_failed_logins",
    "logged_in",
    "num_compromised",
    "root_shell",
    "su_attempted",
    "num_root",
    "num_file_creations",
    "num_shells",
    "num_access_files",
    "num_outbound_cmds",
    "is_host_login",
    "is_guest_login",
    "count",
    "srv_count",
    "serror_rate",
    "srv_serror_rate",
    "rerror_rate",
    "srv_rerror_rate",
    "same_srv_rate",
    "diff_srv_rate",
    "srv_diff_host_rate",
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate",
    "dst_host_srv_serror_rate",
    "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
];

const DURATION: usize = index_of(&FEATURES, "duration");
const PROTOCOL_TYPE: usize = index_of(&FEATURES, "protocol_type");
const SERVICE: usize = index_of(&FEATURES, "service");
const FLAG: usize = index_of(&FEATURES, "flag");
const SRC_BYTES: usize = index_of(&FEATURES, "src_bytes");
const DST_BYTES: usize = index_of(&FEATURES, "dst_bytes");
/// The attack name follows the features; in NSL-KDD, the difficulty level comes last.
const CLASS: usize = FEATURES.len();
const DIFFICULTY: usize = CLASS + 1;
/// Cells of an NSL-KDD row: features, attack name, difficulty level.
const NSL_KDD_WIDTH: usize = FEATURES.len() + 2;
/// Cells of a KDD Cup 99 row: features and attack name.
const KDD_CUP_WIDTH: usize = FEATURES.len() + 1;

/// Positions of the attack name and, in NSL-KDD, the difficulty among [`Columns::other`].
const CLASS_OTHER: usize = 0;
const DIFFICULTY_OTHER: usize = 1;

/// Whether a feature column is categorical (kept in `raw_kind`, not in `numeric`).
const fn is_categorical(index: usize) -> bool {
    index == PROTOCOL_TYPE || index == SERVICE || index == FLAG
}

/// The position of a numeric feature among the numeric features only.
const fn numeric_index(feature: usize) -> usize {
    let mut index = 0;
    let mut earlier = 0;
    while earlier < feature {
        if !is_categorical(earlier) {
            index += 1;
        }
        earlier += 1;
    }
    index
}

/// [`DURATION`], [`SRC_BYTES`] and [`DST_BYTES`] among the numeric features.
const DURATION_VALUE: usize = numeric_index(DURATION);
const SRC_BYTES_VALUE: usize = numeric_index(SRC_BYTES);
const DST_BYTES_VALUE: usize = numeric_index(DST_BYTES);

/// The class of normal traffic; every other class is an attack.
const NORMAL_CLASS: &str = "normal";

/// Parser for NSL-KDD records ([`Format::Nslkdd`]).
///
/// Rows have no header and 43 cells: the 41 KDD features, the attack name (`normal`,
/// `neptune`, ...) and the difficulty level. The original KDD Cup 99 files, which NSL-KDD
/// was derived from, are read too: their rows have 42 cells, without difficulty level, and
/// their attack names end in `.` (`normal.`, `smurf.`). The first data row of an input tells
/// its layout, and every row of that input must have as many cells. A header line whose
/// first cell is `duration` is tolerated and skipped (with 42 names, it announces the KDD
/// Cup 99 layout).
///
/// | event field | from |
/// |---|---|
/// | `transport` | `protocol_type` (tcp, udp, icmp) |
/// | `app_proto` | `service`, lower case |
/// | `raw_kind` | `protocol_type`, `service` and `flag`, see [`categorical_values`](super::categorical_values) |
/// | `duration_secs` | `duration` |
/// | `bytes_out`, `bytes_in` | `src_bytes`, `dst_bytes` |
/// | `label` | class = attack name (the trailing `.` of KDD Cup 99 files is dropped), anomalous unless `normal` |
/// | `numeric` | the 38 numeric features, in both layouts; the difficulty level is left out, as it describes the label, not the traffic |
/// | `event_time` | `dataset_start + row_index × row_interval_micros` |
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::flows::NslKddParser;
/// use vigil_sensors::{ParseOptions, Record, RecordParser, Transport};
///
/// let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
/// parser.begin_input(Arc::from("KDDTrain+.txt"));
/// let mut out = Vec::new();
/// let row = b"0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,123,6,1.00,1.00,0.00,0.00,0.05,0.07,0.00,255,26,0.10,0.05,0.00,0.00,1.00,1.00,0.00,0.00,neptune,19\r";
/// parser.feed(row, 0, true, &mut out);
/// let Record::Event(event) = &out[0] else { panic!("{:?}", out[0]) };
/// assert_eq!(event.transport, Some(Transport::Tcp));
/// assert_eq!(event.label.as_ref().map(|l| (&*l.class, l.anomalous)), Some(("neptune", true)));
/// assert_eq!(parser.numeric_columns()[0].as_ref(), "duration");
///
/// // The same connection in a KDD Cup 99 file.
/// parser.begin_input(Arc::from("kddcup.data_10_percent"));
/// let row = b"0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,123,6,1.00,1.00,0.00,0.00,0.05,0.07,0.00,255,26,0.10,0.05,0.00,0.00,1.00,1.00,0.00,0.00,neptune.";
/// let mut cup_out = Vec::new();
/// parser.feed(row, 0, true, &mut cup_out);
/// let Record::Event(cup) = &cup_out[0] else { panic!("{:?}", cup_out[0]) };
/// assert_eq!((&cup.label, &cup.numeric), (&event.label, &event.numeric));
/// ```
pub struct NslKddParser {
    inner: FlowCsv<NslKddRows>,
}

impl NslKddParser {
    /// The categorical columns carried in `raw_kind`, in order.
    pub const CATEGORICAL_COLUMNS: [&'static str; 3] = ["protocol_type", "service", "flag"];

    /// A parser for NSL-KDD input.
    pub fn new(opts: ParseOptions) -> NslKddParser {
        NslKddParser::sharing_rows(opts, RowCounter::default())
    }

    /// A parser that numbers its rows with `rows`, shared with the other flow parsers of
    /// its source.
    pub(crate) fn sharing_rows(opts: ParseOptions, rows: RowCounter) -> NslKddParser {
        let positions: Vec<usize> = (0..FEATURES.len())
            .filter(|&index| !is_categorical(index))
            .collect();
        let numeric: Vec<&str> = positions.iter().map(|&index| FEATURES[index]).collect();
        let nsl_kdd = Columns {
            width: NSL_KDD_WIDTH,
            numeric: positions,
            other: vec![CLASS, DIFFICULTY],
            optional: Vec::new(),
        };
        let kdd_cup = Columns {
            width: KDD_CUP_WIDTH,
            other: vec![CLASS],
            ..nsl_kdd.clone()
        };
        NslKddParser {
            inner: FlowCsv::new(
                NslKddRows {
                    numeric_columns: shared_names(&numeric),
                    nsl_kdd,
                    kdd_cup,
                    raw: Vec::with_capacity(numeric.len()),
                    classes: Interner::default(),
                    categoricals: Categoricals::default(),
                },
                opts,
                rows,
            ),
        }
    }
}

delegate_record_parser!(NslKddParser);

struct NslKddRows {
    numeric_columns: Vec<Arc<str>>,
    /// The NSL-KDD layout, with difficulty level.
    nsl_kdd: Columns,
    /// The KDD Cup 99 layout, without.
    kdd_cup: Columns,
    /// Parsed numeric cells of the current row, before [`value::finite_feature`].
    raw: Vec<f64>,
    classes: Interner,
    categoricals: Categoricals,
}

impl NslKddRows {
    /// The KDD Cup 99 layout for rows (or a header) of its width, else NSL-KDD's.
    fn layout(&self, width: usize) -> Columns {
        if width == KDD_CUP_WIDTH {
            self.kdd_cup.clone()
        } else {
            self.nsl_kdd.clone()
        }
    }
}

impl RowSchema for NslKddRows {
    const SENSOR: Sensor = Sensor::Nslkdd;
    const FORMAT: Format = Format::Nslkdd;

    fn is_header(&self, cells: &Cells<'_>, _header_bound: bool) -> bool {
        cells.get(DURATION).eq_ignore_ascii_case(FEATURES[DURATION])
    }

    fn bind_header(&mut self, cells: &Cells<'_>) -> Result<Columns, RowError> {
        // The columns are in a fixed order; only the width tells the layout.
        Ok(self.layout(cells.len()))
    }

    fn headerless_columns(&self, first_row: &Cells<'_>) -> Option<Columns> {
        Some(self.layout(first_row.len()))
    }

    fn fill(
        &mut self,
        columns: &Columns,
        cells: &Cells<'_>,
        _opts: &ParseOptions,
        event: &mut Event,
    ) -> Result<(), RowError> {
        let numbers = Numbers::parse(
            &self.numeric_columns,
            &columns.numeric,
            cells,
            &mut self.raw,
        )?;
        event.duration_secs = Some(numbers.duration_secs(DURATION_VALUE, IN_SECONDS)?);
        event.bytes_out = Some(numbers.count(SRC_BYTES_VALUE)?);
        event.bytes_in = Some(numbers.count(DST_BYTES_VALUE)?);

        if let Some(&difficulty) = columns.other.get(DIFFICULTY_OTHER) {
            // Not carried on, but a difficulty that is not a number betrays a damaged row.
            value::number("difficulty", cells.get(difficulty))?;
        }

        let class_cell = columns.other(cells, CLASS_OTHER);
        let class = class_cell.strip_suffix('.').unwrap_or(class_cell);
        if class.is_empty() {
            return Err(RowError::Missing {
                what: format!("attack name (column {}) is empty", CLASS + 1),
            });
        }
        event.label = Some(Label {
            class: self.classes.get(class),
            anomalous: !class.eq_ignore_ascii_case(NORMAL_CLASS),
        });

        let categorical = [
            cells.get(PROTOCOL_TYPE),
            cells.get(SERVICE),
            cells.get(FLAG),
        ];
        self.categoricals.fill(categorical, None, event);
        event.numeric = numbers.features();
        Ok(())
    }

    fn numeric_columns(&self) -> &[Arc<str>] {
        &self.numeric_columns
    }
}
