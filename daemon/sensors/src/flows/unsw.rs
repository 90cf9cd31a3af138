//! UNSW-NB15 flow records (the CSV files with a header: `UNSW_NB15_training-set.csv`,
//! `UNSW_NB15_testing-set.csv`).

use std::sync::Arc;

use crate::event::{Event, Label, Sensor};
use crate::format::{Format, ParseOptions, delegate_record_parser};
use crate::intern::Interner;

use super::csv::Cells;
use super::engine::{FlowCsv, RowCounter, RowSchema};
use super::error::RowError;
use super::header::{Columns, index_of, shared_names};
use super::value::{self, IN_SECONDS, Numbers};
use super::{Categoricals, NO_SERVICE};

/// The numeric feature columns, in the order of the published files; the order of
/// [`Event::numeric`] whatever the column order of the input.
const NUMERIC: [&str; 39] = [
    "dur",
    "spkts",
    "dpkts",
    "sbytes",
    "dbytes",
    "rate",
    "sttl",
    "dttl",
    "sload",
    "dload",
    "sloss",
    "dloss",
    "sinpkt",
    "dinpkt",
    "sjit",
    "djit",
    "swin",
    "stcpb",
    "dtcpb",
    "dwin",
    "tcprtt",
    "synack",
    "ackdat",
    "smean",
    "dmean",
    "trans_depth",
    "response_body_len",
    "ct_srv_src",
    "ct_state_ttl",
    "ct_dst_ltm",
    "ct_src_dport_ltm",
    "ct_dst_sport_ltm",
    "ct_dst_src_ltm",
    "is_ftp_login",
    "ct_ftp_cmd",
    "ct_flw_http_mthd",
    "ct_src_ltm",
    "ct_srv_dst",
    "is_sm_ips_ports",
];

const DUR: usize = index_of(&NUMERIC, "dur");
const SPKTS: usize = index_of(&NUMERIC, "spkts");
const DPKTS: usize = index_of(&NUMERIC, "dpkts");
const SBYTES: usize = index_of(&NUMERIC, "sbytes");
const DBYTES: usize = index_of(&NUMERIC, "dbytes");

/// The other columns a header must have, found by name like the numeric ones.
const OTHER: [&str; 5] = ["proto", "service", "state", "attack_cat", "label"];
const PROTO: usize = index_of(&OTHER, "proto");
const SERVICE: usize = index_of(&OTHER, "service");
const STATE: usize = index_of(&OTHER, "state");
const ATTACK_CAT: usize = index_of(&OTHER, "attack_cat");
const LABEL: usize = index_of(&OTHER, "label");

/// Class of a normal row whose `attack_cat` cell is empty (as in the raw UNSW-NB15 files).
const NORMAL_CLASS: &str = "Normal";

/// Parser for UNSW-NB15 CSV files ([`Format::Unsw`]).
///
/// Header-driven: columns are found by name (any order, any case, surrounding blanks
/// ignored; `id` and unknown columns are ignored), so the first non-blank line of each input
/// must be the header. Lines before a usable header are rejected as
/// [`crate::RejectReason::MissingField`] naming the missing columns.
///
/// Each row becomes a [`crate::EventKind::Flow`] event:
///
/// | event field | from |
/// |---|---|
/// | `transport` | `proto` (tcp, udp, otherwise other; see [`Transport::parse`](crate::Transport::parse)) |
/// | `app_proto` | `service`, lower case; none for `-` |
/// | `raw_kind` | `proto`, `service` and `state`, see [`categorical_values`](super::categorical_values) |
/// | `duration_secs` | `dur` |
/// | `bytes_out`, `bytes_in` | `sbytes`, `dbytes` |
/// | `packets_out`, `packets_in` | `spkts`, `dpkts` |
/// | `label` | class `attack_cat` (`Normal`, `Generic`, ...), anomalous when `label` is 1 |
/// | `numeric` | the 39 numeric features, in the order of [`RecordParser::numeric_columns`](crate::RecordParser::numeric_columns) |
/// | `event_time` | `dataset_start + row_index × row_interval_micros` (the file has no times) |
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::flows::UnswParser;
/// use vigil_sensors::{ParseOptions, Record, RecordParser, Transport};
///
/// let mut parser = UnswParser::new(ParseOptions::new("lab"));
/// parser.begin_input(Arc::from("unsw.csv"));
/// let mut out = Vec::new();
/// parser.feed(b"proto,service,state,dur,spkts,dpkts,sbytes,dbytes,rate,sttl,dttl,sload,dload,sloss,dloss,sinpkt,dinpkt,sjit,djit,swin,stcpb,dtcpb,dwin,tcprtt,synack,ackdat,smean,dmean,trans_depth,response_body_len,ct_srv_src,ct_state_ttl,ct_dst_ltm,ct_src_dport_ltm,ct_dst_sport_ltm,ct_dst_src_ltm,is_ftp_login,ct_ftp_cmd,ct_flw_http_mthd,ct_src_ltm,ct_srv_dst,is_sm_ips_ports,attack_cat,label", 0, true, &mut out);
/// parser.feed(b"tcp,http,FIN,0.5,10,8,1200,5400,30,31,29,1,1,0,0,1,1,0,0,255,1,1,255,0.1,0.05,0.05,120,675,1,0,2,1,1,1,1,1,0,0,1,1,2,0,Exploits,1", 600, true, &mut out);
/// let Record::Event(event) = &out[1] else { panic!("{:?}", out[1]) };
/// assert_eq!(event.transport, Some(Transport::Tcp));
/// assert_eq!(event.bytes_out, Some(1200));
/// assert_eq!(event.label.as_ref().map(|l| (&*l.class, l.anomalous)), Some(("Exploits", true)));
/// assert_eq!(event.numeric.len(), parser.numeric_columns().len());
/// ```
pub struct UnswParser {
    inner: FlowCsv<UnswRows>,
}

impl UnswParser {
    /// The categorical columns carried in `raw_kind`, in order.
    pub const CATEGORICAL_COLUMNS: [&'static str; 3] = ["proto", "service", "state"];

    /// A parser for UNSW-NB15 CSV input.
    pub fn new(opts: ParseOptions) -> UnswParser {
        UnswParser::sharing_rows(opts, RowCounter::default())
    }

    /// A parser that numbers its rows with `rows`, shared with the other flow parsers of
    /// its source.
    pub(crate) fn sharing_rows(opts: ParseOptions, rows: RowCounter) -> UnswParser {
        UnswParser {
            inner: FlowCsv::new(
                UnswRows {
                    numeric_columns: shared_names(&NUMERIC),
                    raw: Vec::with_capacity(NUMERIC.len()),
                    classes: Interner::default(),
                    categoricals: Categoricals::default(),
                },
                opts,
                rows,
            ),
        }
    }
}

delegate_record_parser!(UnswParser);

struct UnswRows {
    numeric_columns: Vec<Arc<str>>,
    /// Parsed numeric cells of the current row, before [`value::finite_feature`].
    raw: Vec<f64>,
    classes: Interner,
    categoricals: Categoricals,
}

impl RowSchema for UnswRows {
    const SENSOR: Sensor = Sensor::Unsw;
    const FORMAT: Format = Format::Unsw;

    fn bind_header(&mut self, cells: &Cells<'_>) -> Result<Columns, RowError> {
        Columns::locate(cells, &NUMERIC, &OTHER, "UNSW-NB15")
    }

    fn fill(
        &mut self,
        columns: &Columns,
        cells: &Cells<'_>,
        _opts: &ParseOptions,
        event: &mut Event,
    ) -> Result<(), RowError> {
        let numbers = Numbers::parse(&NUMERIC, &columns.numeric, cells, &mut self.raw)?;
        event.duration_secs = Some(numbers.duration_secs(DUR, IN_SECONDS)?);
        event.bytes_out = Some(numbers.count(SBYTES)?);
        event.bytes_in = Some(numbers.count(DBYTES)?);
        event.packets_out = Some(numbers.count(SPKTS)?);
        event.packets_in = Some(numbers.count(DPKTS)?);

        let label_cell = columns.other(cells, LABEL);
        let label_value = value::number(OTHER[LABEL], label_cell)?;
        let anomalous = if label_value == 1.0 {
            true
        } else if label_value == 0.0 {
            false
        } else {
            return Err(RowError::number(OTHER[LABEL], label_cell, "is not 0 or 1"));
        };
        let attack_cat = columns.other(cells, ATTACK_CAT);
        let class = match (attack_cat, anomalous) {
            ("", false) => NORMAL_CLASS,
            ("", true) => {
                return Err(RowError::Missing {
                    what: "attack_cat is empty in a row labelled 1".to_string(),
                });
            }
            (class, _) => class,
        };
        event.label = Some(Label {
            class: self.classes.get(class),
            anomalous,
        });

        let categorical = [
            columns.other(cells, PROTO),
            columns.other(cells, SERVICE),
            columns.other(cells, STATE),
        ];
        self.categoricals.fill(categorical, Some(NO_SERVICE), event);
        event.numeric = numbers.features();
        Ok(())
    }

    fn numeric_columns(&self) -> &[Arc<str>] {
        &self.numeric_columns
    }
}
