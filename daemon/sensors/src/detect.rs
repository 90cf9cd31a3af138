//! Recognising an input's format from its first lines (`--format auto`).
//!
//! JSON logs are told apart by their keys: Cowrie by an `eventid` starting with `cowrie.`,
//! Suricata by `event_type` (also inside a JSON array), Dionaea by a `connection` object
//! next to `src_ip`, Tanner by a `peer` object with `method` and `uuid` or `path`. CSV
//! datasets by their header: UNSW-NB15's feature names (after a possible byte-order mark),
//! CIC-IDS2017's `Flow ID`/`Dst Port`/`Flow Duration`, a `label` column over otherwise
//! numeric columns (generic CSV); NSL-KDD has no header and is recognised by the shape of
//! its 43 fields (42 in the KDD Cup 99 layout, without difficulty level).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::flows::{DEFAULT_LABEL_COLUMN, RowCounter};
use crate::format::{Format, ParseOptions, Record, RecordParser, RejectReason, Rejection};
use crate::json::{Framed, JsonFramer, UTF8_BOM, strip_bom};
use crate::parser_sharing_rows;

/// Most non-blank lines [`AutoParser`] holds back while it recognises the format of a
/// line-oriented input.
pub const DETECT_MAX_LINES: usize = 64;

/// Most bytes [`AutoParser`] holds back while it recognises the format of an input (also
/// bounds the first element of a pretty-printed JSON array, which may span many lines).
pub const DETECT_MAX_BYTES: usize = 256 * 1024;

/// How many data rows of a CSV are checked before deciding on its format.
const CSV_ROWS_CHECKED: usize = 8;

/// The format of an input, judged from its first lines (without their terminators), or
/// `None` when they do not tell (yet).
///
/// Blank lines are skipped and a UTF-8 byte-order mark before the first line is ignored.
/// A generic CSV is only recognised once at least one data row shows its columns numeric.
///
/// ```
/// use vigil_sensors::detect::detect_format;
/// use vigil_sensors::Format;
/// let cowrie: &[u8] = br#"{"eventid":"cowrie.session.connect","src_ip":"192.0.2.1","timestamp":"2022-06-01T14:33:54.902527Z"}"#;
/// assert_eq!(detect_format(&[cowrie]), Some(Format::Cowrie));
/// let array: [&[u8]; 3] = [b"[", b"  {", br#"    "event_type": "alert", "timestamp": "2019-01-02T03:50:11"}"#];
/// assert_eq!(detect_format(&array), Some(Format::Suricata));
/// assert_eq!(detect_format(&[b"f0,f1,label", b"0.5,1e3,0"]), Some(Format::Csv));
/// assert_eq!(detect_format(&[b"hello world"]), None);
/// ```
pub fn detect_format(first_lines: &[&[u8]]) -> Option<Format> {
    detect(first_lines, DEFAULT_LABEL_COLUMN, false)
}

/// [`detect_format`] with the generic CSV's label column named, and `complete` when the
/// lines are the whole input (a CSV header alone is then enough).
fn detect(first_lines: &[&[u8]], label_column: &str, complete: bool) -> Option<Format> {
    let lines: Vec<&[u8]> = first_lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let line = if i == 0 {
                line.strip_prefix(UTF8_BOM).unwrap_or(line)
            } else {
                line
            };
            line.trim_ascii()
        })
        .filter(|line| !line.is_empty())
        .collect();
    let first = *lines.first()?;
    if lines.iter().any(|line| line.contains(&0)) {
        return None;
    }
    if opens_multiline_json(first) {
        let mut framer = JsonFramer::new(DETECT_MAX_BYTES);
        let mut found = None;
        for line in &lines {
            framer.push_line(line, 0, &mut |framed| {
                if let (None, Framed::Element { text, .. }) = (found, framed) {
                    found = Some(classify_json(text));
                }
            });
            if let Some(format) = found {
                return format;
            }
        }
        return None;
    }
    if first.starts_with(b"{") {
        return lines
            .iter()
            .filter(|line| line.starts_with(b"{"))
            .find_map(|line| classify_json(line));
    }
    detect_csv(&lines, label_column, complete)
}

/// Whether an input starting with `first` holds JSON spanning several lines: an array, or a
/// pretty-printed object whose opening brace stands alone.
fn opens_multiline_json(first: &[u8]) -> bool {
    first.starts_with(b"[") || first == b"{"
}

/// The log format of one JSON object, from its keys.
fn classify_json(text: &[u8]) -> Option<Format> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(text) else {
        return None;
    };
    classify_object(&object)
}

fn classify_object(object: &Map<String, Value>) -> Option<Format> {
    if object
        .get("eventid")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with("cowrie."))
    {
        return Some(Format::Cowrie);
    }
    if object.get("event_type").is_some_and(Value::is_string) {
        return Some(Format::Suricata);
    }
    if object.get("connection").is_some_and(Value::is_object) && object.contains_key("src_ip") {
        return Some(Format::Dionaea);
    }
    if object.get("peer").is_some_and(Value::is_object)
        && object.contains_key("method")
        && (object.contains_key("uuid") || object.contains_key("path"))
    {
        return Some(Format::Tanner);
    }
    None
}

fn cells(line: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(line).ok()?;
    Some(
        text.split(',')
            .map(|cell| cell.trim().trim_matches('"').trim())
            .collect(),
    )
}

fn is_number(cell: &str) -> bool {
    !cell.is_empty() && cell.parse::<f64>().is_ok()
}

fn detect_csv(lines: &[&[u8]], label_column: &str, complete: bool) -> Option<Format> {
    let header = cells(lines[0])?;
    if header.len() < 2 {
        return None;
    }
    let has = |name: &str| header.iter().any(|cell| cell.eq_ignore_ascii_case(name));
    let unsw_columns = [
        "dur", "proto", "service", "state", "spkts", "dpkts", "sbytes", "dbytes",
    ];
    if unsw_columns.iter().all(|name| has(name)) {
        return Some(Format::Unsw);
    }
    if has("flow id") || (has("flow duration") && (has("dst port") || has("destination port"))) {
        return Some(Format::Cicids);
    }
    let rows = &lines[..lines.len().min(CSV_ROWS_CHECKED)];
    let nslkdd_widths: Option<Vec<usize>> = rows
        .iter()
        .map(|row| cells(row).filter(|c| is_nslkdd_row(c)).map(|c| c.len()))
        .collect();
    // One layout per input, as the parser reads it.
    if nslkdd_widths.is_some_and(|widths| widths.windows(2).all(|pair| pair[0] == pair[1])) {
        return Some(Format::Nslkdd);
    }
    let label_at = header
        .iter()
        .position(|cell| cell.eq_ignore_ascii_case(label_column))?;
    let data = &lines[1..lines.len().min(CSV_ROWS_CHECKED + 1)];
    if data.is_empty() {
        return complete.then_some(Format::Csv);
    }
    let numeric_rows = data.iter().all(|row| {
        cells(row).is_some_and(|row| {
            row.len() == header.len()
                && row
                    .iter()
                    .enumerate()
                    .all(|(i, cell)| i == label_at || is_number(cell))
        })
    });
    numeric_rows.then_some(Format::Csv)
}

/// An NSL-KDD record: duration, three symbolic fields (protocol, service, flag), 37 numbers,
/// the attack name and a difficulty level, which KDD Cup 99 records lack.
fn is_nslkdd_row(cells: &[&str]) -> bool {
    let symbol = |cell: &str| {
        !cell.is_empty()
            && !is_number(cell)
            && cell
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    let shape_ok = match cells.len() {
        43 => cells[42].parse::<u32>().is_ok(),
        42 => true,
        _ => false,
    };
    shape_ok
        && is_number(cells[0])
        && cells[1..4].iter().all(|c| symbol(c))
        && cells[4..41].iter().all(|c| is_number(c))
        && symbol(cells[41])
}

/// A line held back while the format is not known yet.
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    offset: u64,
    terminated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Holding lines back until they tell the format.
    Detecting,
    /// Handing lines to the parser of this format.
    Decided(Format),
    /// Gave up: every line of the input is rejected as of unknown format.
    Unknown,
    /// NUL bytes seen: every line of the input is rejected as binary.
    Binary,
}

/// A [`RecordParser`] that recognises each input's format from its content, then hands the
/// input to that format's parser (replaying the lines it held back).
///
/// Detection restarts with every input. When consecutive inputs have the same format, the
/// same parser carries on, so cross-file state such as Cowrie sessions is kept. The flow
/// datasets of the source share one row count whatever their format, so that datasets
/// without timestamps never go back in event time from one input to the next.
///
/// It holds back at most [`DETECT_MAX_LINES`] non-blank lines or [`DETECT_MAX_BYTES`] bytes
/// (for a JSON array, only the byte bound applies, since one pretty-printed element spans
/// many lines). If they do not tell the format, each of those lines and every later line of
/// the input is rejected as [`RejectReason::UnknownFormat`], one rejection per line so that
/// counts stay honest. An input with NUL bytes before its format is known is rejected line
/// by line as [`RejectReason::BinaryData`]; an input with no non-blank line gets one
/// [`RejectReason::EmptyInput`].
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::detect::AutoParser;
/// use vigil_sensors::{Format, ParseOptions, Record, RecordParser};
///
/// let mut parser = AutoParser::new(ParseOptions::new("hp1"));
/// parser.begin_input(Arc::from("tanner.json"));
/// let line = br#"{"method": "GET", "path": "/", "uuid": "7e58", "peer": {"ip": "149.100.11.243", "port": 42870}, "timestamp": "2025-10-24T02:58:36.860069"}"#;
/// let mut out = Vec::new();
/// parser.feed(line, 0, true, &mut out);
/// parser.finish_input(&mut out);
/// assert_eq!(parser.format(), Format::Tanner);
/// assert!(matches!(&out[..], [Record::Event(_)]));
/// ```
pub struct AutoParser {
    opts: ParseOptions,
    source: Arc<str>,
    state: State,
    pending: Vec<Pending>,
    pending_bytes: usize,
    /// Frames the first element of a JSON array as its lines arrive, so that recognising a
    /// pretty-printed array costs one pass however many lines its first element spans.
    array_probe: Option<JsonFramer>,
    parser: Option<Box<dyn RecordParser>>,
    /// The row count of every flow parser of this source.
    rows: RowCounter,
}

impl AutoParser {
    /// A parser that recognises the format of each input.
    pub fn new(opts: ParseOptions) -> AutoParser {
        AutoParser {
            opts,
            source: Arc::from(""),
            state: State::Detecting,
            pending: Vec::new(),
            pending_bytes: 0,
            array_probe: None,
            parser: None,
            rows: RowCounter::default(),
        }
    }

    /// The format recognised for the current input, if any yet.
    pub fn detected(&self) -> Option<Format> {
        match self.state {
            State::Decided(format) => Some(format),
            _ => None,
        }
    }

    fn label_column(&self) -> &str {
        self.opts
            .label_column
            .as_deref()
            .unwrap_or(DEFAULT_LABEL_COLUMN)
    }

    /// Holds one non-blank line back and tries to recognise the format.
    fn hold(&mut self, line: &[u8], offset: u64, terminated: bool, out: &mut Vec<Record>) {
        if self.pending.is_empty() {
            let first = line.strip_prefix(UTF8_BOM).unwrap_or(line).trim_ascii();
            if opens_multiline_json(first) {
                self.array_probe = Some(JsonFramer::new(DETECT_MAX_BYTES));
            }
        }
        self.pending.push(Pending {
            bytes: line.to_vec(),
            offset,
            terminated,
        });
        self.pending_bytes += line.len();

        let recognised = match &mut self.array_probe {
            Some(probe) => {
                let (line, offset) = strip_bom(line, offset);
                let mut found = None;
                probe.push_line(line, offset, &mut |framed| {
                    if let (None, Framed::Element { text, .. }) = (found, framed) {
                        found = Some(classify_json(text));
                    }
                });
                found.flatten()
            }
            None => {
                let lines: Vec<&[u8]> = self.pending.iter().map(|p| p.bytes.as_slice()).collect();
                detect(&lines, self.label_column(), false)
            }
        };
        if let Some(format) = recognised {
            self.engage(format, out);
            return;
        }
        let too_many_lines = self.array_probe.is_none() && self.pending.len() >= DETECT_MAX_LINES;
        if too_many_lines || self.pending_bytes >= DETECT_MAX_BYTES {
            self.give_up(out);
        }
    }

    /// Hands the held lines to the parser of `format`, and every later line too.
    fn engage(&mut self, format: Format, out: &mut Vec<Record>) {
        let mut parser = match self.parser.take() {
            Some(parser) if parser.format() == format => parser,
            _ => parser_sharing_rows(format, self.opts.clone(), &self.rows),
        };
        parser.begin_input(Arc::clone(&self.source));
        for held in self.pending.drain(..) {
            parser.feed(&held.bytes, held.offset, held.terminated, out);
        }
        self.pending_bytes = 0;
        self.array_probe = None;
        self.parser = Some(parser);
        self.state = State::Decided(format);
    }

    fn give_up(&mut self, out: &mut Vec<Record>) {
        let lines = self.pending.len();
        for held in self.pending.drain(..) {
            out.push(Record::Rejected(Rejection {
                reason: RejectReason::UnknownFormat,
                offset: held.offset,
                detail: format!(
                    "input {:?} matches no known format in its first {lines} lines",
                    &*self.source
                ),
            }));
        }
        self.pending_bytes = 0;
        self.array_probe = None;
        self.state = State::Unknown;
    }

    fn reject_binary(&mut self, offset: u64, out: &mut Vec<Record>) {
        let detail = format!("input {:?} holds NUL bytes: not a text log", &*self.source);
        for held in self.pending.drain(..) {
            out.push(Record::Rejected(Rejection {
                reason: RejectReason::BinaryData,
                offset: held.offset,
                detail: detail.clone(),
            }));
        }
        out.push(Record::Rejected(Rejection {
            reason: RejectReason::BinaryData,
            offset,
            detail,
        }));
        self.pending_bytes = 0;
        self.array_probe = None;
    }
}

impl RecordParser for AutoParser {
    /// The recognised format of the current input, or [`Format::Auto`] while (or if) it is
    /// not known.
    fn format(&self) -> Format {
        self.detected().unwrap_or(Format::Auto)
    }

    fn begin_input(&mut self, source: Arc<str>) {
        self.source = source;
        self.state = State::Detecting;
        self.pending.clear();
        self.pending_bytes = 0;
        self.array_probe = None;
    }

    fn feed(&mut self, line: &[u8], offset: u64, terminated: bool, out: &mut Vec<Record>) {
        match self.state {
            State::Decided(_) => {
                if let Some(parser) = &mut self.parser {
                    parser.feed(line, offset, terminated, out);
                }
                return;
            }
            State::Unknown | State::Binary | State::Detecting => {}
        }
        let blank = line
            .strip_prefix(UTF8_BOM)
            .unwrap_or(line)
            .trim_ascii()
            .is_empty();
        if blank {
            return;
        }
        match self.state {
            State::Unknown => out.push(Record::Rejected(Rejection {
                reason: RejectReason::UnknownFormat,
                offset,
                detail: format!("input {:?} matches no known format", &*self.source),
            })),
            State::Binary => out.push(Record::Rejected(Rejection {
                reason: RejectReason::BinaryData,
                offset,
                detail: format!("input {:?} holds NUL bytes: not a text log", &*self.source),
            })),
            State::Detecting if memchr::memchr(0, line).is_some() => {
                self.reject_binary(offset, out);
                self.state = State::Binary;
            }
            State::Detecting | State::Decided(_) => self.hold(line, offset, terminated, out),
        }
    }

    fn finish_input(&mut self, out: &mut Vec<Record>) {
        match self.state {
            State::Detecting if self.pending.is_empty() => {
                out.push(Record::Rejected(Rejection {
                    reason: RejectReason::EmptyInput,
                    offset: 0,
                    detail: format!("input {:?} holds no record", &*self.source),
                }));
            }
            State::Detecting => {
                let lines: Vec<&[u8]> = self.pending.iter().map(|p| p.bytes.as_slice()).collect();
                match detect(&lines, self.label_column(), true) {
                    Some(format) => {
                        self.engage(format, out);
                        if let Some(parser) = &mut self.parser {
                            parser.finish_input(out);
                        }
                    }
                    None => self.give_up(out),
                }
            }
            State::Decided(_) => {
                if let Some(parser) = &mut self.parser {
                    parser.finish_input(out);
                }
            }
            State::Unknown | State::Binary => {}
        }
    }

    fn numeric_columns(&self) -> &[Arc<str>] {
        match (&self.state, &self.parser) {
            (State::Decided(_), Some(parser)) => parser.numeric_columns(),
            _ => &[],
        }
    }
}

impl std::fmt::Debug for AutoParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoParser")
            .field("source", &self.source)
            .field("state", &self.state)
            .field("pending_lines", &self.pending.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_decide_the_log_format() {
        let cases: [(&str, Option<Format>); 7] = [
            (r#"{"eventid":"cowrie.login.failed"}"#, Some(Format::Cowrie)),
            (r#"{"eventid":"other.thing"}"#, None),
            (
                r#"{"event_type":"stats","stats":{}}"#,
                Some(Format::Suricata),
            ),
            (
                r#"{"connection":{"protocol":"smbd"},"src_ip":"192.0.2.1"}"#,
                Some(Format::Dionaea),
            ),
            (r#"{"connection":"x","src_ip":"192.0.2.1"}"#, None),
            (
                r#"{"method":"GET","path":"/","peer":{"ip":"192.0.2.1","port":1}}"#,
                Some(Format::Tanner),
            ),
            (r#"{"method":"GET","peer":{"ip":"192.0.2.1"}}"#, None),
        ];
        for (line, expected) in cases {
            assert_eq!(detect_format(&[line.as_bytes()]), expected, "{line}");
        }
    }

    #[test]
    fn a_bad_first_line_does_not_hide_the_format() {
        let lines: [&[u8]; 3] = [
            b"",
            br#"{"eventid": "cowrie.session.connect", "timest"#,
            br#"{"eventid": "cowrie.session.closed"}"#,
        ];
        assert_eq!(detect_format(&lines), Some(Format::Cowrie));
    }

    #[test]
    fn csv_headers_and_shapes() {
        let unsw = b"\xEF\xBB\xBFid,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,attack_cat,label";
        assert_eq!(detect_format(&[unsw]), Some(Format::Unsw));
        let cic =
            b"id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Label";
        assert_eq!(detect_format(&[cic]), Some(Format::Cicids));
        let cic_original = b" Destination Port, Flow Duration, Total Fwd Packets, Label";
        assert_eq!(detect_format(&[cic_original]), Some(Format::Cicids));
        let kdd = b"0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20\r";
        assert_eq!(detect_format(&[kdd]), Some(Format::Nslkdd));
        let not_kdd = b"0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,hard";
        assert_eq!(detect_format(&[not_kdd]), None);
        assert_eq!(detect_format(&[b"f0,f1,label"]), None);
        assert_eq!(detect(&[b"f0,f1,label"], "label", true), Some(Format::Csv));
        assert_eq!(detect_format(&[b"f0,f1,label", b"1,x,0"]), None);
        assert_eq!(detect_format(&[b"f0,f1,label", b"1,2"]), None);
        assert_eq!(
            detect(&[b"a,b,Class", b"1,2,x"], "class", false),
            Some(Format::Csv)
        );
    }
}
