//! The one normalised event every sensor is turned into.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// TCP flag bit: FIN.
pub const TCP_FIN: u8 = 0x01;
/// TCP flag bit: SYN.
pub const TCP_SYN: u8 = 0x02;
/// TCP flag bit: RST.
pub const TCP_RST: u8 = 0x04;
/// TCP flag bit: PSH.
pub const TCP_PSH: u8 = 0x08;
/// TCP flag bit: ACK.
pub const TCP_ACK: u8 = 0x10;
/// TCP flag bit: URG.
pub const TCP_URG: u8 = 0x20;

/// The kind of sensor (or dataset) an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensor {
    /// Cowrie SSH/Telnet honeypot JSON log.
    Cowrie,
    /// Dionaea multi-protocol honeypot JSON log.
    Dionaea,
    /// Suricata EVE JSON.
    Suricata,
    /// Tanner web honeypot JSON log.
    Tanner,
    /// UNSW-NB15 flow CSV.
    Unsw,
    /// NSL-KDD connection records.
    Nslkdd,
    /// CIC-IDS2017 flow CSV.
    Cicids,
    /// A generic labelled numeric CSV.
    Csv,
    /// Flows extracted from packet captures.
    Pcap,
    /// NDJSON posted over HTTP.
    Http,
    /// Vigil's synthetic demo generator.
    Demo,
}

impl Sensor {
    /// Every sensor kind, in a stable order.
    pub const ALL: [Sensor; 11] = [
        Sensor::Cowrie,
        Sensor::Dionaea,
        Sensor::Suricata,
        Sensor::Tanner,
        Sensor::Unsw,
        Sensor::Nslkdd,
        Sensor::Cicids,
        Sensor::Csv,
        Sensor::Pcap,
        Sensor::Http,
        Sensor::Demo,
    ];

    /// The lower-case name used in config, JSON output and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensor::Cowrie => "cowrie",
            Sensor::Dionaea => "dionaea",
            Sensor::Suricata => "suricata",
            Sensor::Tanner => "tanner",
            Sensor::Unsw => "unsw",
            Sensor::Nslkdd => "nslkdd",
            Sensor::Cicids => "cicids",
            Sensor::Csv => "csv",
            Sensor::Pcap => "pcap",
            Sensor::Http => "http",
            Sensor::Demo => "demo",
        }
    }
}

impl fmt::Display for Sensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, independent of the sensor that saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new connection or session was opened.
    Connect,
    /// A session or connection was closed.
    Disconnect,
    /// A login attempt failed.
    LoginFailed,
    /// A login attempt succeeded.
    LoginSuccess,
    /// A command was entered in an interactive session.
    Command,
    /// A file was uploaded or downloaded.
    FileTransfer,
    /// Client software or key-exchange details (SSH version, HASSH, terminal size...).
    ClientInfo,
    /// A port-forwarding / tunnelling request through the honeypot.
    Tunnel,
    /// A completed network flow (flow datasets, Suricata `flow`, pcap flows).
    Flow,
    /// An IDS signature match.
    IdsAlert,
    /// An HTTP request.
    HttpRequest,
    /// A DNS query or answer.
    Dns,
    /// A TLS or QUIC handshake record.
    Tls,
    /// An SSH protocol record from an IDS.
    Ssh,
    /// A DHCP record.
    Dhcp,
    /// A file seen on the wire (Suricata `fileinfo`).
    FileInfo,
    /// Anything else the sensor reported.
    Other,
}

impl EventKind {
    /// The snake_case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connect => "connect",
            EventKind::Disconnect => "disconnect",
            EventKind::LoginFailed => "login_failed",
            EventKind::LoginSuccess => "login_success",
            EventKind::Command => "command",
            EventKind::FileTransfer => "file_transfer",
            EventKind::ClientInfo => "client_info",
            EventKind::Tunnel => "tunnel",
            EventKind::Flow => "flow",
            EventKind::IdsAlert => "ids_alert",
            EventKind::HttpRequest => "http_request",
            EventKind::Dns => "dns",
            EventKind::Tls => "tls",
            EventKind::Ssh => "ssh",
            EventKind::Dhcp => "dhcp",
            EventKind::FileInfo => "file_info",
            EventKind::Other => "other",
        }
    }
}

/// Transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP or ICMPv6.
    Icmp,
    /// Any other IP protocol.
    Other,
}

impl Transport {
    /// The lower-case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
            Transport::Other => "other",
        }
    }

    /// Parses a protocol name or IANA number ("TCP", "tcp", "6", "udp", "17", "icmp", "ipv6-icmp", "1", "58").
    pub fn parse(s: &str) -> Transport {
        match s.trim() {
            t if t.eq_ignore_ascii_case("tcp") || t == "6" => Transport::Tcp,
            t if t.eq_ignore_ascii_case("udp") || t == "17" => Transport::Udp,
            t if t.eq_ignore_ascii_case("icmp")
                || t.eq_ignore_ascii_case("ipv6-icmp")
                || t.eq_ignore_ascii_case("icmpv6")
                || t == "1"
                || t == "58" =>
            {
                Transport::Icmp
            }
            _ => Transport::Other,
        }
    }
}

/// Direction of the event relative to the monitored network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From outside towards the sensor or the protected network.
    Inbound,
    /// From the protected network outwards.
    Outbound,
    /// Between two private addresses.
    Internal,
    /// Between two public addresses (neither side is ours).
    External,
}

/// Ground truth carried by labelled datasets and by the demo generator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    /// The dataset's class name (`Normal`, `Exploits`, `neptune`, `BENIGN`, `0`, `brute_force`...).
    pub class: Arc<str>,
    /// Whether the class is an attack / anomaly.
    pub anomalous: bool,
}

/// Where an event came from, precisely enough to find it again and to derive a stable id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The file path (or `stdin`, `demo`, a message id prefix...) the record was read from.
    pub source: Arc<str>,
    /// Byte offset of the start of the record in that source (a row or sequence number for generators).
    pub offset: u64,
    /// Replay round (`vigil replay --repeat N`): 0 for the first pass.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub round: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// One normalised event. Numeric fields a sensor does not report are `None`, never zero:
/// the feature step decides how to fill them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When the event happened, in UTC.
    pub event_time: DateTime<Utc>,
    /// The kind of sensor that reported it.
    pub sensor: Sensor,
    /// The configured name of the sensor instance, so a fleet can be told apart.
    pub sensor_id: Arc<str>,
    /// What happened.
    pub kind: EventKind,
    /// The sensor's own name for the record (`cowrie.login.failed`, `alert`, `smbd`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_kind: Option<Arc<str>>,
    /// Source address (the remote peer, for honeypots).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpAddr>,
    /// Source port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Destination address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<IpAddr>,
    /// Destination port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// Transport protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// Application protocol (`ssh`, `telnet`, `http`, `smb`, `dns`...), lower case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<Arc<str>>,
    /// Direction relative to the monitored network, when the sensor tells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Duration of the flow or session, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// Bytes from source to destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// Bytes from destination to source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    /// Packets from source to destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets_out: Option<u64>,
    /// Packets from destination to source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets_in: Option<u64>,
    /// TCP flags seen, as the `TCP_*` bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<u8>,
    /// User name of a login attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Box<str>>,
    /// Password of a login attempt (kept in the store, redacted in outbound outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Box<str>>,
    /// Command line entered, HTTP request line, DNS query name...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Box<str>>,
    /// IDS signature text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Box<str>>,
    /// IDS alert severity as the sensor rates it (Suricata: 1 is the most severe, 3 the least).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
    /// Sensor session id, or flow id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<str>>,
    /// Ground truth, for labelled datasets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Numeric columns passed through from flow datasets, in the parser's column order
    /// (see [`crate::RecordParser::numeric_columns`]). Empty for log sensors.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub numeric: Vec<f64>,
    /// Where the record was read from.
    pub origin: Origin,
}

impl Event {
    /// A bare event with only the fields every event has; parsers fill in the rest.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vigil_sensors::{Event, EventKind, Origin, Sensor};
    /// let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
    /// let e = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp1"), EventKind::Connect, origin);
    /// assert!(e.src_ip.is_none());
    /// ```
    pub fn new(
        event_time: DateTime<Utc>,
        sensor: Sensor,
        sensor_id: Arc<str>,
        kind: EventKind,
        origin: Origin,
    ) -> Event {
        Event {
            event_time,
            sensor,
            sensor_id,
            kind,
            raw_kind: None,
            src_ip: None,
            src_port: None,
            dst_ip: None,
            dst_port: None,
            transport: None,
            app_proto: None,
            direction: None,
            duration_secs: None,
            bytes_out: None,
            bytes_in: None,
            packets_out: None,
            packets_in: None,
            tcp_flags: None,
            username: None,
            password: None,
            command: None,
            signature: None,
            severity: None,
            session: None,
            label: None,
            numeric: Vec::new(),
            origin,
        }
    }
}
