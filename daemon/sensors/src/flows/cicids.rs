//! CIC-IDS2017 flows in the layout of the improved, re-labelled release (Engelen et al.,
//! 91 columns from `id, Flow ID, Src IP, ...` to `Label, Attempted Category`).

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

/// The numeric feature columns, in the order of the published files; the order of
/// [`Event::numeric`] whatever the column order of the input.
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

const PROTOCOL: usize = index_of(&NUMERIC, "Protocol");
const FLOW_DURATION: usize = index_of(&NUMERIC, "Flow Duration");
const FWD_PACKETS: usize = index_of(&NUMERIC, "Total Fwd Packet");
const BWD_PACKETS: usize = index_of(&NUMERIC, "Total Bwd packets");
const FWD_BYTES: usize = index_of(&NUMERIC, "Total Length of Fwd Packet");
const BWD_BYTES: usize = index_of(&NUMERIC, "Total Length of Bwd Packet");

/// Flag-count columns and the TCP flag bit each one sets when non-zero.
const FLAG_COUNTS: [(usize, u8); 6] = [
    (index_of(&NUMERIC, "FIN Flag Count"), TCP_FIN),
    (index_of(&NUMERIC, "SYN Flag Count"), TCP_SYN),
    (index_of(&NUMERIC, "RST Flag Count"), TCP_RST),
    (index_of(&NUMERIC, "PSH Flag Count"), TCP_PSH),
    (index_of(&NUMERIC, "ACK Flag Count"), TCP_ACK),
    (index_of(&NUMERIC, "URG Flag Count"), TCP_URG),
];

/// The other columns a header must have.
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

/// The flow id column; rows keep no session when a file lacks it.
const FLOW_ID: &str = "Flow ID";

/// The class of normal traffic; every other class is an attack.
const BENIGN_CLASS: &str = "BENIGN";

/// Microseconds per second: `Flow Duration` is in microseconds.
const MICROS_PER_SEC: f64 = 1_000_000.0;

/// Parser for CIC-IDS2017 CSV files ([`Format::Cicids`]) in the improved release's layout.
///
/// Header-driven like [`UnswParser`](super::UnswParser): columns are found by name (any
/// order, ASCII case and surrounding blanks ignored); `id`, `Attempted Category` and unknown
/// columns are ignored, `Flow ID` is optional.
///
/// | event field | from |
/// |---|---|
/// | `event_time` | `Timestamp` (`2017-07-07 12:59:21.088203`), naive, read in `naive_timezone` |
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
                    numeric_columns: shared_names(&NUMERIC),
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
    numeric_columns: Vec<Arc<str>>,
    /// Parsed numeric cells of the current row, before [`value::finite_feature`].
    raw: Vec<f64>,
    classes: Interner,
}

impl RowSchema for CicIdsRows {
    const SENSOR: Sensor = Sensor::Cicids;
    const FORMAT: Format = Format::Cicids;

    fn bind_header(&mut self, cells: &Cells<'_>) -> Result<Columns, RowError> {
        let mut columns = Columns::locate(cells, &NUMERIC, &OTHER, "CIC-IDS2017")?;
        columns.flow_id = cells
            .iter()
            .position(|cell| cell.eq_ignore_ascii_case(FLOW_ID));
        Ok(columns)
    }

    fn fill(
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

        let numbers = Numbers::parse(&NUMERIC, &columns.numeric, cells, &mut self.raw)?;
        event.duration_secs = Some(numbers.duration_secs(FLOW_DURATION, MICROS_PER_SEC)?);
        event.packets_out = Some(numbers.count(FWD_PACKETS)?);
        event.packets_in = Some(numbers.count(BWD_PACKETS)?);
        event.bytes_out = Some(numbers.count(FWD_BYTES)?);
        event.bytes_in = Some(numbers.count(BWD_BYTES)?);
        let transport = Transport::parse(numbers.cell(PROTOCOL));
        event.transport = Some(transport);
        if transport == Transport::Tcp {
            let mut flags = 0;
            for (index, bit) in FLAG_COUNTS {
                if numbers.count(index)? > 0 {
                    flags |= bit;
                }
            }
            event.tcp_flags = Some(flags);
        }

        let class = other(LABEL);
        if class.is_empty() {
            return Err(RowError::Missing {
                what: "Label is empty".to_string(),
            });
        }
        event.label = Some(Label {
            class: self.classes.get(class),
            anomalous: !class.eq_ignore_ascii_case(BENIGN_CLASS),
        });
        if let Some(position) = columns.flow_id {
            let flow_id = cells.get(position);
            if !flow_id.is_empty() {
                event.session = Some(Box::from(flow_id));
            }
        }
        event.numeric = numbers.features();
        Ok(())
    }

    fn numeric_columns(&self) -> &[Arc<str>] {
        &self.numeric_columns
    }
}
