//! CIC-IDS2017 flows, in the layout of the improved, re-labelled release (Engelen et al.,
//! 91 columns from `id, Flow ID, Src IP, ...` to `Label, Attempted Category`) or of the
//! original release (MachineLearningCSV, 79 columns from ` Destination Port` to ` Label`,
//! and GeneratedLabelledFlows, which adds `Flow ID`, addresses and `Timestamp`).

use std::sync::Arc;

use crate::event::{
    Event, Label, Sensor, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, Transport,
};
use crate::format::{Format, ParseOptions, delegate_record_parser};
use crate::intern::Interner;

use super::csv::Cells;
use super::engine::{FlowCsv, RowCounter, RowSchema};
use super::error::RowError;
use super::header::{Columns, index_of, shared_names};
use super::value::{self, Numbers};

/// The numeric feature columns of the improved release, in the order of its files; the
/// order of [`Event::numeric`] whatever the column order of the input.
const NUMERIC: [&str; 82] = [
    "Protocol",
    "Flow Duration",
    "Total Fwd Packet",
    "Total Bwd packets",
    "Total Length of Fwd Packet",
    "Total Length of Bwd Packet",
    "Fwd Packet Length Max",
    "Fwd Packet Length Min",
    "Fwd Packet Length Mean",
    "Fwd Packet Length Std",
    "Bwd Packet Length Max",
    "Bwd Packet Length Min",
    "Bwd Packet Length Mean",
    "Bwd Packet Length Std",
    "Flow Bytes/s",
    "Flow Packets/s",
    "Flow IAT Mean",
    "Flow IAT Std",
    "Flow IAT Max",
    "Flow IAT Min",
    "Fwd IAT Total",
    "Fwd IAT Mean",
    "Fwd IAT Std",
    "Fwd IAT Max",
    "Fwd IAT Min",
    "Bwd IAT Total",
    "Bwd IAT Mean",
    "Bwd IAT Std",
    "Bwd IAT Max",
    "Bwd IAT Min",
    "Fwd PSH Flags",
    "Bwd PSH Flags",
    "Fwd URG Flags",
    "Bwd URG Flags",
    "Fwd RST Flags",
    "Bwd RST Flags",
    "Fwd Header Length",
    "Bwd Header Length",
    "Fwd Packets/s",
    "Bwd Packets/s",
    "Packet Length Min",
    "Packet Length Max",
    "Packet Length Mean",
    "Packet Length Std",
    "Packet Length Variance",
    "FIN Flag Count",
    "SYN Flag Count",
    "RST Flag Count",
    "PSH Flag Count",
    "ACK Flag Count",
    "URG Flag Count",
    "CWR Flag Count",
    "ECE Flag Count",
    "Down/Up Ratio",
    "Average Packet Size",
    "Fwd Segment Size Avg",
    "Bwd Segment Size Avg",
    "Fwd Bytes/Bulk Avg",
    "Fwd Packet/Bulk Avg",
    "Fwd Bulk Rate Avg",
    "Bwd Bytes/Bulk Avg",
    "Bwd Packet/Bulk Avg",
    "Bwd Bulk Rate Avg",
    "Subflow Fwd Packets",
    "Subflow Fwd Bytes",
    "Subflow Bwd Packets",
    "Subflow Bwd Bytes",
    "FWD Init Win Bytes",
    "Bwd Init Win Bytes",
    "Fwd Act Data Pkts",
    "Fwd Seg Size Min",
    "Active Mean",
    "Active Std",
    "Active Max",
    "Active Min",
    "Idle Mean",
    "Idle Std",
    "Idle Max",
    "Idle Min",
    "ICMP Code",
    "ICMP Type",
    "Total TCP Flow Time",
];

/// The other columns an improved-release header must have.
const OTHER: [&str; 6] = [
    "Src IP",
    "Src Port",
    "Dst IP",
    "Dst Port",
    "Timestamp",
    "Label",
];
const SRC_IP: usize = index_of(&OTHER, "Src IP");
const SRC_PORT: usize = index_of(&OTHER, "Src Port");
const DST_IP: usize = index_of(&OTHER, "Dst IP");
const DST_PORT: usize = index_of(&OTHER, "Dst Port");
const TIMESTAMP: usize = index_of(&OTHER, "Timestamp");
const LABEL: usize = index_of(&OTHER, "Label");

/// The columns an improved-release header may lack; rows keep no session without it.
const OPTIONAL: [&str; 1] = ["Flow ID"];
const FLOW_ID: usize = index_of(&OPTIONAL, "Flow ID");

/// The numeric feature columns of the original release, in the order of its files, without
/// `Destination Port` (a port, like the improved release's `Dst Port`) and without the
/// second `Fwd Header Length` (the files repeat that column; the first one is read).
const ORIGINAL_NUMERIC: [&str; 76] = [
    "Flow Duration",
    "Total Fwd Packets",
    "Total Backward Packets",
    "Total Length of Fwd Packets",
    "Total Length of Bwd Packets",
    "Fwd Packet Length Max",
    "Fwd Packet Length Min",
    "Fwd Packet Length Mean",
    "Fwd Packet Length Std",
    "Bwd Packet Length Max",
    "Bwd Packet Length Min",
    "Bwd Packet Length Mean",
    "Bwd Packet Length Std",
    "Flow Bytes/s",
    "Flow Packets/s",
    "Flow IAT Mean",
    "Flow IAT Std",
    "Flow IAT Max",
    "Flow IAT Min",
    "Fwd IAT Total",
    "Fwd IAT Mean",
    "Fwd IAT Std",
    "Fwd IAT Max",
    "Fwd IAT Min",
    "Bwd IAT Total",
    "Bwd IAT Mean",
    "Bwd IAT Std",
    "Bwd IAT Max",
    "Bwd IAT Min",
    "Fwd PSH Flags",
    "Bwd PSH Flags",
    "Fwd URG Flags",
    "Bwd URG Flags",
    "Fwd Header Length",
    "Bwd Header Length",
    "Fwd Packets/s",
    "Bwd Packets/s",
    "Min Packet Length",
    "Max Packet Length",
    "Packet Length Mean",
    "Packet Length Std",
    "Packet Length Variance",
    "FIN Flag Count",
    "SYN Flag Count",
    "RST Flag Count",
    "PSH Flag Count",
    "ACK Flag Count",
    "URG Flag Count",
    "CWE Flag Count",
    "ECE Flag Count",
    "Down/Up Ratio",
    "Average Packet Size",
    "Avg Fwd Segment Size",
    "Avg Bwd Segment Size",
    "Fwd Avg Bytes/Bulk",
    "Fwd Avg Packets/Bulk",
    "Fwd Avg Bulk Rate",
    "Bwd Avg Bytes/Bulk",
    "Bwd Avg Packets/Bulk",
    "Bwd Avg Bulk Rate",
    "Subflow Fwd Packets",
    "Subflow Fwd Bytes",
    "Subflow Bwd Packets",
    "Subflow Bwd Bytes",
    "Init_Win_bytes_forward",
    "Init_Win_bytes_backward",
    "act_data_pkt_fwd",
    "min_seg_size_forward",
    "Active Mean",
    "Active Std",
    "Active Max",
    "Active Min",
    "Idle Mean",
    "Idle Std",
    "Idle Max",
    "Idle Min",
];

/// The other columns an original-release header must have.
const ORIGINAL_OTHER: [&str; 2] = ["Destination Port", "Label"];
const ORIGINAL_DST_PORT: usize = index_of(&ORIGINAL_OTHER, "Destination Port");
const ORIGINAL_LABEL: usize = index_of(&ORIGINAL_OTHER, "Label");

/// The columns that GeneratedLabelledFlows files add to MachineLearningCSV ones, read when
/// present. Their `Timestamp` is not among them: it is written to the minute only, as
/// `d/m/yyyy h:mm`, which cannot order the flows of one minute.
const ORIGINAL_OPTIONAL: [&str; 5] = [
    "Flow ID",
    "Source IP",
    "Source Port",
    "Destination IP",
    "Protocol",
];
const ORIGINAL_FLOW_ID: usize = index_of(&ORIGINAL_OPTIONAL, "Flow ID");
const ORIGINAL_SRC_IP: usize = index_of(&ORIGINAL_OPTIONAL, "Source IP");
const ORIGINAL_SRC_PORT: usize = index_of(&ORIGINAL_OPTIONAL, "Source Port");
const ORIGINAL_DST_IP: usize = index_of(&ORIGINAL_OPTIONAL, "Destination IP");
const ORIGINAL_PROTOCOL: usize = index_of(&ORIGINAL_OPTIONAL, "Protocol");

/// The class of normal traffic; every other class is an attack.
const BENIGN_CLASS: &str = "BENIGN";

/// Microseconds per second: `Flow Duration` is in microseconds.
const MICROS_PER_SEC: f64 = 1_000_000.0;

/// Where one release's numeric columns hold what the event's fields take from them.
struct NumericLayout {
    names: &'static [&'static str],
    flow_duration: usize,
    fwd_packets: usize,
    bwd_packets: usize,
    fwd_bytes: usize,
    bwd_bytes: usize,
    /// Flag-count columns and the TCP flag bit each one sets when non-zero.
    flag_counts: [(usize, u8); 6],
}

const IMPROVED_NUMBERS: NumericLayout = NumericLayout {
    names: &NUMERIC,
    flow_duration: index_of(&NUMERIC, "Flow Duration"),
    fwd_packets: index_of(&NUMERIC, "Total Fwd Packet"),
    bwd_packets: index_of(&NUMERIC, "Total Bwd packets"),
    fwd_bytes: index_of(&NUMERIC, "Total Length of Fwd Packet"),
    bwd_bytes: index_of(&NUMERIC, "Total Length of Bwd Packet"),
    flag_counts: [
        (index_of(&NUMERIC, "FIN Flag Count"), TCP_FIN),
        (index_of(&NUMERIC, "SYN Flag Count"), TCP_SYN),
        (index_of(&NUMERIC, "RST Flag Count"), TCP_RST),
        (index_of(&NUMERIC, "PSH Flag Count"), TCP_PSH),
        (index_of(&NUMERIC, "ACK Flag Count"), TCP_ACK),
        (index_of(&NUMERIC, "URG Flag Count"), TCP_URG),
    ],
};
const PROTOCOL: usize = index_of(&NUMERIC, "Protocol");

const ORIGINAL_NUMBERS: NumericLayout = NumericLayout {
    names: &ORIGINAL_NUMERIC,
    flow_duration: index_of(&ORIGINAL_NUMERIC, "Flow Duration"),
    fwd_packets: index_of(&ORIGINAL_NUMERIC, "Total Fwd Packets"),
    bwd_packets: index_of(&ORIGINAL_NUMERIC, "Total Backward Packets"),
    fwd_bytes: index_of(&ORIGINAL_NUMERIC, "Total Length of Fwd Packets"),
    bwd_bytes: index_of(&ORIGINAL_NUMERIC, "Total Length of Bwd Packets"),
    flag_counts: [
        (index_of(&ORIGINAL_NUMERIC, "FIN Flag Count"), TCP_FIN),
        (index_of(&ORIGINAL_NUMERIC, "SYN Flag Count"), TCP_SYN),
        (index_of(&ORIGINAL_NUMERIC, "RST Flag Count"), TCP_RST),
        (index_of(&ORIGINAL_NUMERIC, "PSH Flag Count"), TCP_PSH),
        (index_of(&ORIGINAL_NUMERIC, "ACK Flag Count"), TCP_ACK),
        (index_of(&ORIGINAL_NUMERIC, "URG Flag Count"), TCP_URG),
    ],
};

/// Which release's layout a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// Engelen et al.'s improved release.
    Improved,
    /// The original release: MachineLearningCSV or GeneratedLabelledFlows.
    Original,
}

impl Release {
    /// The release whose header `cells` are: the original one names the destination port
    /// `Destination Port`, the improved one `Dst Port`.
    fn of_header(cells: &Cells<'_>) -> Release {
        if cells
            .iter()
            .any(|cell| cell.eq_ignore_ascii_case(ORIGINAL_OTHER[ORIGINAL_DST_PORT]))
        {
            Release::Original
        } else {
            Release::Improved
        }
    }

    /// How header errors name the format.
    fn format_name(self) -> &'static str {
        match self {
            Release::Improved => "CIC-IDS2017",
            Release::Original => "CIC-IDS2017 original-release",
        }
    }

    /// How the rejection of a header of the other release names this one.
    fn name(self) -> &'static str {
        match self {
            Release::Improved => "improved-release",
            Release::Original => "original-release",
        }
    }
}

/// Parser for CIC-IDS2017 CSV files ([`Format::Cicids`]), in the layout of the improved
/// release or of the original one.
///
/// Header-driven like [`UnswParser`](super::UnswParser): columns are found by name (any
/// order, ASCII case and surrounding blanks ignored, so the original release's leading
/// spaces do not matter); unknown columns are ignored. The first header read tells the
/// release, and with it [`numeric_columns`](crate::RecordParser::numeric_columns) (the
/// improved release's until then); a later input of the other release is rejected as
/// `missing_field`, so that every event's `numeric` means the same thing.
///
/// **Improved release** (`id, Flow ID, Src IP, ...`): `id` and `Attempted Category` are
/// ignored, `Flow ID` is optional.
///
/// | event field | from |
/// |---|---|
/// | `event_time` | `Timestamp` (`2017-07-07 12:59:21.088203`), naive, read in `naive_timezone` by [`local_to_utc`](crate::time::local_to_utc) |
/// | `src_ip`, `src_port`, `dst_ip`, `dst_port` | `Src IP`, `Src Port`, `Dst IP`, `Dst Port` (addresses as by [`parse_ip`](crate::net::parse_ip); bad address → `invalid_ip`, bad port → `invalid_port`) |
/// | `transport` | `Protocol` number (6 tcp, 17 udp, 1 icmp, other) |
/// | `duration_secs` | `Flow Duration` (microseconds) / 10⁶ |
/// | `packets_out`, `packets_in` | `Total Fwd Packet`, `Total Bwd packets` |
/// | `bytes_out`, `bytes_in` | `Total Length of Fwd Packet`, `Total Length of Bwd Packet` |
/// | `tcp_flags` | for TCP flows, the `TCP_*` bit of every non-zero `FIN`/`SYN`/`RST`/`PSH`/`ACK`/`URG Flag Count` |
/// | `session` | `Flow ID` |
/// | `label` | class `Label`, anomalous unless `BENIGN` (so `... - Attempted` classes count as attacks) |
/// | `numeric` | the 82 numeric columns: all but `id`, `Flow ID`, addresses, ports, `Timestamp`, `Label`, `Attempted Category`; `Protocol` is kept, as reference pipelines keep it |
///
/// **Original release**: MachineLearningCSV files (` Destination Port, Flow Duration, Total
/// Fwd Packets, ...,  Label`) have neither addresses, source port, protocol nor time;
/// GeneratedLabelledFlows files add `Flow ID`, `Source IP`, `Source Port`, `Destination IP`,
/// `Protocol` and `Timestamp`, which are read when present, except `Timestamp`.
///
/// | event field | from |
/// |---|---|
/// | `event_time` | `dataset_start + row_index × row_interval_micros`, as for UNSW-NB15 |
/// | `dst_port` | `Destination Port` |
/// | `src_ip`, `src_port`, `dst_ip` | `Source IP`, `Source Port`, `Destination IP` when present, else absent |
/// | `transport`, `tcp_flags` | from `Protocol` as above when present, else absent |
/// | `duration_secs` | `Flow Duration` (microseconds) / 10⁶ |
/// | `packets_out`, `packets_in` | `Total Fwd Packets`, `Total Backward Packets` |
/// | `bytes_out`, `bytes_in` | `Total Length of Fwd Packets`, `Total Length of Bwd Packets` |
/// | `session`, `label` | `Flow ID` when present, `Label`, as above |
/// | `numeric` | the 76 numeric columns: the 78 features but `Destination Port` and the repeated `Fwd Header Length`, in file order |
///
/// `Infinity` and `NaN` cells (CICFlowMeter rates over zero-length flows) are accepted; see
/// [`INFINITE_FEATURE_VALUE`](super::INFINITE_FEATURE_VALUE). Negative values are kept in
/// `numeric` (CICFlowMeter writes some negative header lengths) but rejected in the counts
/// and the duration.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::flows::CicIdsParser;
/// use vigil_sensors::{ParseOptions, Record, RecordParser, TCP_SYN};
///
/// let mut opts = ParseOptions::new("cic");
/// opts.naive_timezone = chrono_tz::America::Halifax;
/// let mut parser = CicIdsParser::new(opts);
/// parser.begin_input(Arc::from("sample.csv"));
/// let names: Vec<&str> = parser.numeric_columns().iter().map(|n| n.as_ref()).collect();
/// let header = format!("Src IP,Src Port,Dst IP,Dst Port,Timestamp,Label,{}", names.join(","));
/// let mut row = String::from("172.16.0.1,40000,192.168.10.50,80,2017-07-07 12:59:21.5,DDoS");
/// for name in &names {
///     row.push_str(match *name { "Protocol" => ",6", "SYN Flag Count" => ",1", _ => ",0" });
/// }
/// let mut out = Vec::new();
/// parser.feed(header.as_bytes(), 0, true, &mut out);
/// parser.feed(row.as_bytes(), 100, false, &mut out);
/// let Record::Event(event) = &out[1] else { panic!("{:?}", out[1]) };
/// assert_eq!(event.event_time.to_rfc3339(), "2017-07-07T15:59:21.500+00:00");
/// assert_eq!(event.tcp_flags, Some(TCP_SYN));
/// assert_eq!(event.dst_port, Some(80));
/// ```
pub struct CicIdsParser {
    inner: FlowCsv<CicIdsRows>,
}

impl CicIdsParser {
    /// A parser for CIC-IDS2017 CSV input.
    pub fn new(opts: ParseOptions) -> CicIdsParser {
        CicIdsParser::sharing_rows(opts, RowCounter::default())
    }

    /// A parser that numbers its rows with `rows`, shared with the other flow parsers of
    /// its source.
    pub(crate) fn sharing_rows(opts: ParseOptions, rows: RowCounter) -> CicIdsParser {
        CicIdsParser {
            inner: FlowCsv::new(
                CicIdsRows {
                    release: None,
                    improved_columns: shared_names(&NUMERIC),
                    original_columns: shared_names(&ORIGINAL_NUMERIC),
                    raw: Vec::with_capacity(NUMERIC.len()),
                    classes: Interner::default(),
                },
                opts,
                rows,
            ),
        }
    }
}

delegate_record_parser!(CicIdsParser);

struct CicIdsRows {
    /// Fixed by the first header read.
    release: Option<Release>,
    improved_columns: Vec<Arc<str>>,
    original_columns: Vec<Arc<str>>,
    /// Parsed numeric cells of the current row, before [`value::finite_feature`].
    raw: Vec<f64>,
    classes: Interner,
}

impl CicIdsRows {
    /// Fills the fields taken from the numeric columns, the protocol (when known) and the
    /// label, the same way in both releases.
    fn fill_common(
        &mut self,
        layout: &NumericLayout,
        columns: &Columns,
        cells: &Cells<'_>,
        protocol: Option<&str>,
        label: &str,
        event: &mut Event,
    ) -> Result<(), RowError> {
        let numbers = Numbers::parse(layout.names, &columns.numeric, cells, &mut self.raw)?;
        event.duration_secs = Some(numbers.duration_secs(layout.flow_duration, MICROS_PER_SEC)?);
        event.packets_out = Some(numbers.count(layout.fwd_packets)?);
        event.packets_in = Some(numbers.count(layout.bwd_packets)?);
        event.bytes_out = Some(numbers.count(layout.fwd_bytes)?);
        event.bytes_in = Some(numbers.count(layout.bwd_bytes)?);
        if let Some(protocol) = protocol {
            let transport = Transport::parse(protocol);
            event.transport = Some(transport);
            if transport == Transport::Tcp {
                let mut flags = 0;
                for (index, bit) in layout.flag_counts {
                    if numbers.count(index)? > 0 {
                        flags |= bit;
                    }
                }
                event.tcp_flags = Some(flags);
            }
        }

        if label.is_empty() {
            return Err(RowError::Missing {
                what: "Label is empty".to_string(),
            });
        }
        event.label = Some(Label {
            class: self.classes.get(label),
            anomalous: !label.eq_ignore_ascii_case(BENIGN_CLASS),
        });
        event.numeric = numbers.features();
        Ok(())
    }

    fn fill_improved(
        &mut self,
        columns: &Columns,
        cells: &Cells<'_>,
        opts: &ParseOptions,
        event: &mut Event,
    ) -> Result<(), RowError> {
        let other = |index: usize| columns.other(cells, index);
        event.event_time =
            value::timestamp(OTHER[TIMESTAMP], other(TIMESTAMP), opts.naive_timezone)?;
        event.src_ip = Some(value::ip(OTHER[SRC_IP], other(SRC_IP))?);
        event.src_port = Some(value::port(OTHER[SRC_PORT], other(SRC_PORT))?);
        event.dst_ip = Some(value::ip(OTHER[DST_IP], other(DST_IP))?);
        event.dst_port = Some(value::port(OTHER[DST_PORT], other(DST_PORT))?);
        // Protocol is a numeric column here, checked with the others.
        let protocol = cells.get(columns.numeric[PROTOCOL]);
        self.fill_common(
            &IMPROVED_NUMBERS,
            columns,
            cells,
            Some(protocol),
            other(LABEL),
            event,
        )?;
        set_session(columns.optional_cell(cells, FLOW_ID), event);
        Ok(())
    }

    fn fill_original(
        &mut self,
        columns: &Columns,
        cells: &Cells<'_>,
        event: &mut Event,
    ) -> Result<(), RowError> {
        let optional = |index: usize| columns.optional_cell(cells, index);
        let name = |index: usize| ORIGINAL_OPTIONAL[index];
        if let Some(cell) = optional(ORIGINAL_SRC_IP) {
            event.src_ip = Some(value::ip(name(ORIGINAL_SRC_IP), cell)?);
        }
        if let Some(cell) = optional(ORIGINAL_SRC_PORT) {
            event.src_port = Some(value::port(name(ORIGINAL_SRC_PORT), cell)?);
        }
        if let Some(cell) = optional(ORIGINAL_DST_IP) {
            event.dst_ip = Some(value::ip(name(ORIGINAL_DST_IP), cell)?);
        }
        event.dst_port = Some(value::port(
            ORIGINAL_OTHER[ORIGINAL_DST_PORT],
            columns.other(cells, ORIGINAL_DST_PORT),
        )?);
        let protocol = optional(ORIGINAL_PROTOCOL);
        if let Some(cell) = protocol {
            value::number(name(ORIGINAL_PROTOCOL), cell)?;
        }
        self.fill_common(
            &ORIGINAL_NUMBERS,
            columns,
            cells,
            protocol,
            columns.other(cells, ORIGINAL_LABEL),
            event,
        )?;
        set_session(optional(ORIGINAL_FLOW_ID), event);
        Ok(())
    }
}

/// The flow id as the session, unless absent or empty.
fn set_session(flow_id: Option<&str>, event: &mut Event) {
    if let Some(flow_id) = flow_id.filter(|id| !id.is_empty()) {
        event.session = Some(Box::from(flow_id));
    }
}

impl RowSchema for CicIdsRows {
    const SENSOR: Sensor = Sensor::Cicids;
    const FORMAT: Format = Format::Cicids;

    fn bind_header(&mut self, cells: &Cells<'_>) -> Result<Columns, RowError> {
        let release = Release::of_header(cells);
        if let Some(fixed) = self.release
            && fixed != release
        {
            return Err(RowError::Missing {
                what: format!(
                    "CIC-IDS2017 {} header in a source that reads {} files: one source keeps one set of numeric columns",
                    release.name(),
                    fixed.name()
                ),
            });
        }
        let columns = match release {
            Release::Improved => Columns::locate(cells, &NUMERIC, &OTHER, release.format_name())?
                .with_optional(cells, &OPTIONAL),
            Release::Original => Columns::locate(
                cells,
                &ORIGINAL_NUMERIC,
                &ORIGINAL_OTHER,
                release.format_name(),
            )?
            .with_optional(cells, &ORIGINAL_OPTIONAL),
        };
        self.release = Some(release);
        Ok(columns)
    }

    fn fill(
        &mut self,
        columns: &Columns,
        cells: &Cells<'_>,
        opts: &ParseOptions,
        event: &mut Event,
    ) -> Result<(), RowError> {
        match self.release {
            Some(Release::Original) => self.fill_original(columns, cells, event),
            Some(Release::Improved) | None => self.fill_improved(columns, cells, opts, event),
        }
    }

    fn numeric_columns(&self) -> &[Arc<str>] {
        match self.release {
            Some(Release::Original) => &self.original_columns,
            Some(Release::Improved) | None => &self.improved_columns,
        }
    }
}
