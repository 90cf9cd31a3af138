//! Suricata EVE JSON: one record per line, or a (pretty-printed) JSON array of records.
//!
//! An input whose first non-blank line starts with `[` is read as a JSON array spanning any
//! number of lines (one whose first line is a lone `{`, as a sequence of pretty-printed
//! objects): elements are framed across lines by a string-aware bracket scanner and parsed
//! one by one, so a malformed element is rejected at its own offset and the others still
//! count. Any other input is read line by line.
//!
//! `stats` records are counters about Suricata itself, not traffic: they become
//! [`Record::Skipped`] with reason [`STATS_SKIP_REASON`]. `direction` is left unset: EVE's
//! own `direction` (`to_server`/`to_client`) is about the flow, and Suricata does not say
//! which side is the monitored network.

use std::sync::Arc;

use serde::Deserialize;

use crate::event::{
    Event, EventKind, Sensor, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, Transport,
};
use crate::format::{Format, ParseOptions, Record, RecordParser, RejectReason};
use crate::input::{InputState, RecordContext};
use crate::intern::Interner;
use crate::json::{
    FieldError, First, Framed, Json, JsonFramer, Line, Nested, boxed, excerpt, parse_object,
    prepare_line, required, strip_bom, text_of,
};

/// The `Record::Skipped` reason of a Suricata `stats` record.
pub const STATS_SKIP_REASON: &str = "suricata_stats";

/// Largest array element kept while framing a JSON array, in bytes.
pub const MAX_ELEMENT_BYTES: usize = 1 << 20;

/// The event kind of an EVE `event_type`.
///
/// ```
/// use vigil_sensors::suricata::eve_kind;
/// use vigil_sensors::EventKind;
/// assert_eq!(eve_kind("alert"), EventKind::IdsAlert);
/// assert_eq!(eve_kind("quic"), EventKind::Tls);
/// assert_eq!(eve_kind("anomaly"), EventKind::Other);
/// ```
pub fn eve_kind(event_type: &str) -> EventKind {
    match event_type {
        "alert" => EventKind::IdsAlert,
        "flow" | "netflow" => EventKind::Flow,
        "dns" | "mdns" => EventKind::Dns,
        "http" => EventKind::HttpRequest,
        "tls" | "quic" => EventKind::Tls,
        "ssh" => EventKind::Ssh,
        "dhcp" => EventKind::Dhcp,
        "fileinfo" => EventKind::FileInfo,
        _ => EventKind::Other,
    }
}

/// Event types named after the application protocol they describe; used as `app_proto`
/// when the record has no `app_proto` field of its own.
const PROTOCOL_EVENT_TYPES: &[&str] = &[
    "dns", "mdns", "http", "http2", "tls", "quic", "ssh", "dhcp", "smtp", "ftp", "smb", "nfs",
    "rdp", "sip", "snmp", "krb5", "ike", "mqtt", "tftp", "rfb", "dnp3", "modbus", "pgsql",
];

#[derive(Deserialize)]
struct EveLine<'a> {
    #[serde(borrow)]
    timestamp: Option<Json<'a>>,
    #[serde(borrow)]
    event_type: Option<Json<'a>>,
    #[serde(borrow)]
    src_ip: Option<Json<'a>>,
    #[serde(borrow)]
    src_port: Option<Json<'a>>,
    #[serde(borrow)]
    dest_ip: Option<Json<'a>>,
    #[serde(borrow)]
    dest_port: Option<Json<'a>>,
    #[serde(borrow)]
    proto: Option<Json<'a>>,
    #[serde(borrow)]
    app_proto: Option<Json<'a>>,
    #[serde(borrow)]
    flow_id: Option<Json<'a>>,
    #[serde(borrow)]
    alert: Option<Nested<EveAlert<'a>>>,
    #[serde(borrow)]
    flow: Option<Nested<EveFlow<'a>>>,
    #[serde(borrow)]
    tcp: Option<Nested<EveTcp<'a>>>,
    #[serde(borrow)]
    http: Option<Nested<EveHttp<'a>>>,
    #[serde(borrow)]
    dns: Option<Nested<EveDns<'a>>>,
    #[serde(borrow)]
    mdns: Option<Nested<EveDns<'a>>>,
    #[serde(borrow)]
    tls: Option<Nested<EveTls<'a>>>,
    #[serde(borrow)]
    quic: Option<Nested<EveTls<'a>>>,
    #[serde(borrow)]
    fileinfo: Option<Nested<EveFileinfo<'a>>>,
}

#[derive(Deserialize)]
struct EveAlert<'a> {
    #[serde(borrow)]
    signature: Option<Json<'a>>,
    #[serde(borrow)]
    severity: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct EveFlow<'a> {
    #[serde(borrow)]
    pkts_toserver: Option<Json<'a>>,
    #[serde(borrow)]
    pkts_toclient: Option<Json<'a>>,
    #[serde(borrow)]
    bytes_toserver: Option<Json<'a>>,
    #[serde(borrow)]
    bytes_toclient: Option<Json<'a>>,
    #[serde(borrow)]
    start: Option<Json<'a>>,
    #[serde(borrow)]
    end: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct EveTcp<'a> {
    #[serde(borrow)]
    tcp_flags: Option<Json<'a>>,
    #[serde(borrow)]
    syn: Option<Json<'a>>,
    #[serde(borrow)]
    fin: Option<Json<'a>>,
    #[serde(borrow)]
    rst: Option<Json<'a>>,
    #[serde(borrow)]
    psh: Option<Json<'a>>,
    #[serde(borrow)]
    ack: Option<Json<'a>>,
    #[serde(borrow)]
    urg: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct EveHttp<'a> {
    #[serde(borrow)]
    http_method: Option<Json<'a>>,
    #[serde(borrow)]
    url: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct EveDns<'a> {
    /// EVE v1/v2: the name sits on the record itself.
    #[serde(borrow)]
    rrname: Option<Json<'a>>,
    /// EVE v3 (and mDNS): inside the first query or answer.
    #[serde(borrow)]
    queries: Option<First<Nested<DnsName<'a>>>>,
    #[serde(borrow)]
    answers: Option<First<Nested<DnsName<'a>>>>,
}

#[derive(Deserialize)]
struct DnsName<'a> {
    #[serde(borrow)]
    rrname: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct EveTls<'a> {
    #[serde(borrow)]
    sni: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct EveFileinfo<'a> {
    #[serde(borrow)]
    filename: Option<Json<'a>>,
}

/// How the current input is laid out, known from its first non-blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Undecided,
    Lines,
    Array,
}

/// Parser for Suricata EVE JSON.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::suricata::SuricataParser;
/// use vigil_sensors::{EventKind, ParseOptions, Record, RecordParser};
///
/// let mut parser = SuricataParser::new(ParseOptions::new("ids1"));
/// parser.begin_input(Arc::from("alerts.json"));
/// let lines = [
///     "[",
///     "  {\"timestamp\": \"2019-01-02T03:50:11.315110\", \"event_type\": \"alert\",",
///     "   \"src_ip\": \"8.42.77.171\", \"src_port\": 49678, \"dest_ip\": \"138.68.3.71\",",
///     "   \"dest_port\": 22, \"proto\": \"TCP\",",
///     "   \"alert\": {\"signature\": \"ET SCAN Potential SSH Scan\", \"severity\": 2}}",
///     "]",
/// ];
/// let mut out = Vec::new();
/// let mut offset = 0;
/// for line in lines {
///     parser.feed(line.as_bytes(), offset, true, &mut out);
///     offset += line.len() as u64 + 1;
/// }
/// parser.finish_input(&mut out);
/// assert_eq!(out.len(), 1);
/// let Record::Event(event) = &out[0] else { panic!("{:?}", out[0]) };
/// assert_eq!(event.kind, EventKind::IdsAlert);
/// assert_eq!(event.severity, Some(2));
/// assert_eq!(event.origin.offset, 4);
/// ```
#[derive(Debug)]
pub struct SuricataParser {
    opts: ParseOptions,
    input: InputState,
    interner: Interner,
    layout: Layout,
    framer: JsonFramer,
}

impl SuricataParser {
    /// A parser with the given options.
    pub fn new(opts: ParseOptions) -> SuricataParser {
        SuricataParser {
            opts,
            input: InputState::new(),
            interner: Interner::default(),
            layout: Layout::Undecided,
            framer: JsonFramer::new(MAX_ELEMENT_BYTES),
        }
    }

    /// One record's text, from a line or an array element.
    fn record(&mut self, text: &str, offset: u64, terminated: bool) -> Record {
        let mut context = RecordContext::new(
            &self.opts,
            &self.input,
            &mut self.interner,
            Sensor::Suricata,
            offset,
        );
        match parse_object::<EveLine<'_>>(text, terminated)
            .and_then(|line| Self::build(&line, &mut context))
        {
            Ok(Some(event)) => Record::Event(event),
            Ok(None) => Record::Skipped {
                reason: STATS_SKIP_REASON,
                offset,
            },
            Err(e) => e.into_record(offset),
        }
    }

    /// The event of a record, or `None` for a `stats` record.
    fn build(
        line: &EveLine<'_>,
        context: &mut RecordContext<'_>,
    ) -> Result<Option<Box<Event>>, FieldError> {
        let event_type = required(&line.event_type, "event_type")?.str("event_type")?;
        if event_type == "stats" {
            return Ok(None);
        }
        let zone = context.zone();
        let event_time = context.timestamp(&line.timestamp)?;
        let kind = eve_kind(event_type);
        let mut event = context.event(event_time, kind);
        event.raw_kind = Some(context.interner.get(event_type));
        if let Some(v) = &line.src_ip {
            event.src_ip = v.ip("src_ip")?;
        }
        if let Some(v) = &line.src_port {
            event.src_port = v.port("src_port")?;
        }
        if let Some(v) = &line.dest_ip {
            event.dst_ip = v.ip("dest_ip")?;
        }
        if let Some(v) = &line.dest_port {
            event.dst_port = v.port("dest_port")?;
        }
        if let Some(v) = &line.proto {
            event.transport = match v {
                Json::UInt(n) => Some(Transport::parse(&n.to_string())),
                other => other.text("proto")?.map(Transport::parse),
            };
        }
        let app_proto = match &line.app_proto {
            Some(v) => v
                .text("app_proto")?
                .filter(|p| !matches!(*p, "failed" | "unknown")),
            None => PROTOCOL_EVENT_TYPES
                .iter()
                .find(|&&t| t == event_type)
                .copied(),
        };
        event.app_proto = app_proto.map(|p| context.interner.get_lowercase(p));
        if let Some(v) = &line.flow_id {
            event.session = v.id("flow_id")?;
        }
        if let Some(alert) = &line.alert {
            let alert = alert.get("alert")?;
            if let Some(v) = &alert.signature {
                event.signature = v.text("alert.signature")?.map(boxed);
            }
            if let Some(v) = &alert.severity {
                event.severity = Some(v.small_uint("alert.severity")?);
            }
        }
        if let Some(flow) = &line.flow {
            fill_flow(&mut event, flow.get("flow")?, zone)?;
        }
        if let Some(tcp) = &line.tcp {
            event.tcp_flags = tcp_flags(tcp.get("tcp")?)?;
        }
        event.command = command_of(line, kind)?.map(String::into_boxed_str);
        Ok(Some(event))
    }
}

fn fill_flow(event: &mut Event, flow: &EveFlow<'_>, zone: chrono_tz::Tz) -> Result<(), FieldError> {
    let count =
        |value: &Option<Json<'_>>, field: &str| value.as_ref().map(|v| v.count(field)).transpose();
    event.packets_out = count(&flow.pkts_toserver, "flow.pkts_toserver")?;
    event.packets_in = count(&flow.pkts_toclient, "flow.pkts_toclient")?;
    event.bytes_out = count(&flow.bytes_toserver, "flow.bytes_toserver")?;
    event.bytes_in = count(&flow.bytes_toclient, "flow.bytes_toclient")?;
    if let (Some(start), Some(end)) = (&flow.start, &flow.end) {
        let start = start.time("flow.start", zone)?;
        let end = end.time("flow.end", zone)?;
        let micros = (end - start).num_microseconds();
        // A flow that ends before it starts says nothing reliable about its length.
        event.duration_secs = micros.filter(|&m| m >= 0).map(|m| m as f64 / 1e6);
    }
    Ok(())
}

/// The `TCP_*` bits of an EVE `tcp` object: from the hex `tcp_flags` when present, else
/// from the per-flag booleans.
fn tcp_flags(tcp: &EveTcp<'_>) -> Result<Option<u8>, FieldError> {
    if let Some(v) = &tcp.tcp_flags {
        let hex = v.str("tcp.tcp_flags")?;
        return u8::from_str_radix(hex, 16)
            .map(|bits| Some(bits & (TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG)))
            .map_err(|_| {
                FieldError::new(
                    RejectReason::InvalidNumber,
                    format!("`tcp.tcp_flags` {:?} is not a hex byte", excerpt(hex)),
                )
            });
    }
    let named = [
        (&tcp.fin, TCP_FIN, "tcp.fin"),
        (&tcp.syn, TCP_SYN, "tcp.syn"),
        (&tcp.rst, TCP_RST, "tcp.rst"),
        (&tcp.psh, TCP_PSH, "tcp.psh"),
        (&tcp.ack, TCP_ACK, "tcp.ack"),
        (&tcp.urg, TCP_URG, "tcp.urg"),
    ];
    let mut bits = None;
    for (value, bit, field) in named {
        match value {
            None => {}
            Some(Json::Bool(set)) => {
                let acc = bits.get_or_insert(0u8);
                if *set {
                    *acc |= bit;
                }
            }
            Some(other) => {
                return Err(FieldError::wrong_type(
                    field,
                    &other.to_string(),
                    "a boolean",
                ));
            }
        }
    }
    Ok(bits)
}

/// What goes into `command`: the HTTP request line, the DNS name asked, the TLS/QUIC server
/// name, the file name. Alerts get whichever of these their record carries.
fn command_of(line: &EveLine<'_>, kind: EventKind) -> Result<Option<String>, FieldError> {
    let http = || -> Result<Option<String>, FieldError> {
        let Some(http) = &line.http else {
            return Ok(None);
        };
        let http = http.get("http")?;
        let method = text_of(&http.http_method, "http.http_method")?;
        let url = text_of(&http.url, "http.url")?;
        Ok(match (method, url) {
            (Some(m), Some(u)) => Some(format!("{m} {u}")),
            (Some(m), None) => Some(m.to_string()),
            (None, Some(u)) => Some(u.to_string()),
            (None, None) => None,
        })
    };
    let dns =
        |object: &Option<Nested<EveDns<'_>>>, field: &str| -> Result<Option<String>, FieldError> {
            let Some(dns) = object else {
                return Ok(None);
            };
            let dns = dns.get(field)?;
            if let Some(name) = text_of(&dns.rrname, "dns.rrname")? {
                return Ok(Some(name.to_string()));
            }
            for list in [&dns.queries, &dns.answers] {
                let first = list
                    .as_ref()
                    .and_then(|l| l.lenient())
                    .and_then(|n| n.lenient());
                if let Some(name) = first
                    .map(|n| text_of(&n.rrname, "dns.rrname"))
                    .transpose()?
                    .flatten()
                {
                    return Ok(Some(name.to_string()));
                }
            }
            Ok(None)
        };
    let sni =
        |object: &Option<Nested<EveTls<'_>>>, field: &str| -> Result<Option<String>, FieldError> {
            match object {
                Some(tls) => Ok(text_of(&tls.get(field)?.sni, "sni")?.map(str::to_string)),
                None => Ok(None),
            }
        };
    let file = || -> Result<Option<String>, FieldError> {
        match &line.fileinfo {
            Some(f) => {
                Ok(text_of(&f.get("fileinfo")?.filename, "fileinfo.filename")?.map(str::to_string))
            }
            None => Ok(None),
        }
    };
    match kind {
        EventKind::HttpRequest => http(),
        EventKind::Dns => match dns(&line.dns, "dns")? {
            Some(name) => Ok(Some(name)),
            None => dns(&line.mdns, "mdns"),
        },
        EventKind::Tls => match sni(&line.tls, "tls")? {
            Some(name) => Ok(Some(name)),
            None => sni(&line.quic, "quic"),
        },
        EventKind::FileInfo => file(),
        EventKind::IdsAlert => {
            if let Some(request) = http()? {
                return Ok(Some(request));
            }
            if let Some(name) = dns(&line.dns, "dns")? {
                return Ok(Some(name));
            }
            sni(&line.tls, "tls")
        }
        _ => Ok(None),
    }
}

impl RecordParser for SuricataParser {
    fn format(&self) -> Format {
        Format::Suricata
    }

    fn begin_input(&mut self, source: Arc<str>) {
        self.input.begin(source);
        self.layout = Layout::Undecided;
        self.framer = JsonFramer::new(MAX_ELEMENT_BYTES);
    }

    fn feed(&mut self, line: &[u8], offset: u64, terminated: bool, out: &mut Vec<Record>) {
        if self.layout == Layout::Undecided {
            match prepare_line(line) {
                Line::Blank => return,
                // A pretty-printed object opens with a brace alone on its line.
                Line::Text(text) if text.starts_with('[') || text == "{" => {
                    self.layout = Layout::Array;
                }
                _ => self.layout = Layout::Lines,
            }
        }
        if self.layout == Layout::Lines {
            let record = match prepare_line(line) {
                Line::Blank => return,
                Line::Bad(e) => e.into_record(offset),
                Line::Text(text) => self.record(text, offset, terminated),
            };
            self.input.saw_record();
            out.push(record);
            return;
        }
        let (line, offset) = strip_bom(line, offset);
        let mut framer = std::mem::replace(&mut self.framer, JsonFramer::new(0));
        framer.push_line(line, offset, &mut |framed| self.framed(framed, out));
        self.framer = framer;
    }

    fn finish_input(&mut self, out: &mut Vec<Record>) {
        if self.layout == Layout::Array {
            let mut framer = std::mem::replace(&mut self.framer, JsonFramer::new(0));
            framer.finish(&mut |framed| self.framed(framed, out));
            self.framer = framer;
        }
        self.input.finish(out);
        self.layout = Layout::Undecided;
    }
}

impl SuricataParser {
    fn framed(&mut self, framed: Framed<'_>, out: &mut Vec<Record>) {
        self.input.saw_record();
        let (reason, offset, detail) = match framed {
            Framed::Element { offset, text } => {
                let record = match prepare_line(text) {
                    Line::Text(text) => self.record(text, offset, true),
                    Line::Bad(e) => e.into_record(offset),
                    Line::Blank => return,
                };
                out.push(record);
                return;
            }
            Framed::TooLong { offset, bytes } => (
                RejectReason::LineTooLong,
                offset,
                format!(
                    "array element of {bytes} bytes exceeds the {MAX_ELEMENT_BYTES}-byte limit"
                ),
            ),
            Framed::Stray { offset, text } => (
                RejectReason::MalformedJson,
                offset,
                format!(
                    "text outside any JSON value: {}",
                    excerpt(&String::from_utf8_lossy(text))
                ),
            ),
            Framed::Truncated { offset } => (
                RejectReason::TruncatedRecord,
                offset,
                "input ends inside this array element".to_string(),
            ),
            Framed::UnclosedArray { offset } => (
                RejectReason::TruncatedRecord,
                offset,
                "input ends before the JSON array opened here is closed".to_string(),
            ),
        };
        out.push(FieldError::new(reason, detail).into_record(offset));
    }
}
