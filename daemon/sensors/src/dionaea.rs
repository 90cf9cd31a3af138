//! Dionaea multi-protocol honeypot JSON logs (T-Pot `log_json` output, one connection per line).
//!
//! Each line is one event, so the event count always equals the number of records:
//!
//! * a record with `credentials` is one [`EventKind::LoginFailed`] carrying the first
//!   username/password pair. Dionaea logs the attempt, not its outcome; for a honeypot every
//!   attempt is a guess at a credential, which is what brute-force rules count. In the
//!   logs seen so far every record carries exactly one pair;
//! * otherwise a record with FTP commands is one [`EventKind::Command`] whose `command` lists
//!   them (`USER anonymous; PASS ***; PWD`); `PASS` arguments are masked there because the
//!   command text is not redacted in outbound outputs the way `password` is;
//! * otherwise the record is one [`EventKind::Connect`].
//!
//! `connection.type` `accept` (the attacker connected to the honeypot) is inbound, `connect`
//! (the honeypot connected out, as TFTP or the mirror service do) outbound; `src_ip` is the
//! remote peer in both cases. Timestamps are naive, read in `ParseOptions::naive_timezone`.

use std::borrow::Cow;

use serde::Deserialize;

use crate::event::{Direction, Event, EventKind, Sensor, Transport};
use crate::format::{Format, ParseOptions, delegate_record_parser};
use crate::input::{JsonLines, JsonSchema, RecordContext};
use crate::json::{FieldError, Json, List, Nested, boxed, text_of};

/// The application protocol of a Dionaea service name (`connection.protocol`).
///
/// ```
/// use vigil_sensors::dionaea::dionaea_app_proto;
/// assert_eq!(dionaea_app_proto("smbd"), "smb");
/// assert_eq!(dionaea_app_proto("TftpServerHandler"), "tftp");
/// assert_eq!(dionaea_app_proto("SomethingNew"), "somethingnew");
/// ```
pub fn dionaea_app_proto(service: &str) -> Cow<'_, str> {
    let known = match service {
        "smbd" => "smb",
        "httpd" => "http",
        "httpsd" => "https",
        "mssqld" => "mssql",
        "mysqld" => "mysql",
        "ftpd" | "ftpdatacon" | "ftpdatalisten" => "ftp",
        "mongod" => "mongodb",
        "TftpServerHandler" | "TftpClient" | "tftpd" => "tftp",
        "epmapper" => "epmap",
        "mirrord" | "mirrorc" => "mirror",
        "sipd" | "SipSession" => "sip",
        "pptpd" => "pptp",
        "upnpd" => "upnp",
        "mqttd" => "mqtt",
        "memcached" => "memcache",
        "printerd" => "printer",
        "blackhole" => "blackhole",
        other if other.bytes().any(|b| b.is_ascii_uppercase()) => {
            return Cow::Owned(other.to_ascii_lowercase());
        }
        other => return Cow::Borrowed(other),
    };
    Cow::Borrowed(known)
}

#[derive(Deserialize)]
struct DionaeaLine<'a> {
    #[serde(borrow)]
    connection: Option<Nested<Connection<'a>>>,
    #[serde(borrow)]
    timestamp: Option<Json<'a>>,
    #[serde(borrow)]
    src_ip: Option<Json<'a>>,
    #[serde(borrow)]
    src_port: Option<Json<'a>>,
    #[serde(borrow)]
    dst_ip: Option<Json<'a>>,
    #[serde(borrow)]
    dst_port: Option<Json<'a>>,
    #[serde(borrow)]
    credentials: Option<Nested<Credentials<'a>>>,
    #[serde(borrow)]
    ftp: Option<Nested<Ftp<'a>>>,
}

#[derive(Deserialize)]
struct Connection<'a> {
    #[serde(borrow)]
    protocol: Option<Json<'a>>,
    #[serde(borrow)]
    transport: Option<Json<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct Credentials<'a> {
    #[serde(borrow)]
    username: Option<List<Json<'a>>>,
    #[serde(borrow)]
    password: Option<List<Json<'a>>>,
}

#[derive(Deserialize)]
struct Ftp<'a> {
    #[serde(borrow)]
    commands: Option<Nested<FtpCommands<'a>>>,
}

#[derive(Deserialize)]
struct FtpCommands<'a> {
    #[serde(borrow)]
    command: Option<List<Json<'a>>>,
    #[serde(borrow)]
    arguments: Option<List<Json<'a>>>,
}

/// Parser for Dionaea JSON logs.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::dionaea::DionaeaParser;
/// use vigil_sensors::{EventKind, ParseOptions, Record, RecordParser};
///
/// let mut parser = DionaeaParser::new(ParseOptions::new("dio1"));
/// parser.begin_input(Arc::from("dionaea.json"));
/// let line = br#"{"connection": {"protocol": "mssqld", "transport": "tcp", "type": "accept"}, "dst_ip": "172.28.0.2", "dst_port": 1433, "src_hostname": "", "src_ip": "119.54.10.96", "src_port": 57966, "timestamp": "2022-05-31T08:31:05.018830", "credentials": {"username": ["sa"], "password": ["123"]}}"#;
/// let mut out = Vec::new();
/// parser.feed(line, 0, true, &mut out);
/// let Record::Event(event) = &out[0] else { panic!("{:?}", out[0]) };
/// assert_eq!(event.kind, EventKind::LoginFailed);
/// assert_eq!(event.app_proto.as_deref(), Some("mssql"));
/// assert_eq!(event.username.as_deref(), Some("sa"));
/// ```
#[derive(Debug)]
pub struct DionaeaParser {
    inner: JsonLines<DionaeaRecords>,
}

impl DionaeaParser {
    /// A parser with the given options.
    pub fn new(opts: ParseOptions) -> DionaeaParser {
        DionaeaParser {
            inner: JsonLines::new(DionaeaRecords, opts),
        }
    }
}

delegate_record_parser!(DionaeaParser);

/// Dionaea records keep no state between lines.
#[derive(Debug)]
struct DionaeaRecords;

impl JsonSchema for DionaeaRecords {
    const SENSOR: Sensor = Sensor::Dionaea;
    const FORMAT: Format = Format::Dionaea;
    type Line<'a> = DionaeaLine<'a>;

    fn build(
        &mut self,
        line: &DionaeaLine<'_>,
        context: &mut RecordContext<'_>,
    ) -> Result<Box<Event>, FieldError> {
        let event_time = context.timestamp(&line.timestamp)?;
        let connection = line
            .connection
            .as_ref()
            .map(|c| c.get("connection"))
            .transpose()?;
        let credentials = line
            .credentials
            .as_ref()
            .map(|c| c.get("credentials"))
            .transpose()?;
        let (username, password) = match credentials {
            Some(c) => (
                first_text(&c.username, "credentials.username")?,
                first_text(&c.password, "credentials.password")?,
            ),
            None => (None, None),
        };
        let ftp_commands = match &line.ftp {
            Some(ftp) => match &ftp.get("ftp")?.commands {
                Some(commands) => ftp_command_line(commands.get("ftp.commands")?)?,
                None => None,
            },
            None => None,
        };
        let kind = if username.is_some() || password.is_some() {
            EventKind::LoginFailed
        } else if ftp_commands.is_some() {
            EventKind::Command
        } else {
            EventKind::Connect
        };

        let mut event = context.event(event_time, kind);
        if let Some(connection) = connection {
            if let Some(service) = text_of(&connection.protocol, "connection.protocol")? {
                event.raw_kind = Some(context.interner.get(service));
                event.app_proto = Some(context.interner.get(&dionaea_app_proto(service)));
            }
            if let Some(transport) = text_of(&connection.transport, "connection.transport")? {
                event.transport = Some(Transport::parse(transport));
            }
            event.direction = match text_of(&connection.kind, "connection.type")? {
                Some("accept") => Some(Direction::Inbound),
                Some("connect") => Some(Direction::Outbound),
                _ => None,
            };
        }
        if let Some(v) = &line.src_ip {
            event.src_ip = v.ip("src_ip")?;
        }
        if let Some(v) = &line.src_port {
            event.src_port = v.port("src_port")?;
        }
        if let Some(v) = &line.dst_ip {
            event.dst_ip = v.ip("dst_ip")?;
        }
        if let Some(v) = &line.dst_port {
            event.dst_port = v.port("dst_port")?;
        }
        event.username = username.map(boxed);
        event.password = password.map(boxed);
        event.command = ftp_commands.map(String::into_boxed_str);
        Ok(event)
    }
}

/// The first string of an optional list (`credentials.username[0]`).
fn first_text<'v>(
    list: &'v Option<List<Json<'_>>>,
    field: &str,
) -> Result<Option<&'v str>, FieldError> {
    match list {
        Some(list) => match list.get(field)?.first() {
            Some(first) => first.str(field).map(Some),
            None => Ok(None),
        },
        None => Ok(None),
    }
}

/// `USER anonymous; PASS ***; PWD` from the parallel `command`/`arguments` arrays, or `None`
/// when no command was logged.
fn ftp_command_line(commands: &FtpCommands<'_>) -> Result<Option<String>, FieldError> {
    let names = match &commands.command {
        Some(list) => list.get("ftp.commands.command")?,
        None => return Ok(None),
    };
    let arguments = match &commands.arguments {
        Some(list) => list.get("ftp.commands.arguments")?,
        None => &[],
    };
    let mut line = String::new();
    for (i, name) in names.iter().enumerate() {
        let name = name.str("ftp.commands.command")?;
        let argument = match arguments.get(i) {
            Some(a) => a.str("ftp.commands.arguments")?,
            None => "",
        };
        if !line.is_empty() {
            line.push_str("; ");
        }
        line.push_str(name);
        if !argument.is_empty() {
            line.push(' ');
            line.push_str(if name.eq_ignore_ascii_case("PASS") {
                "***"
            } else {
                argument
            });
        }
    }
    Ok((!line.is_empty()).then_some(line))
}
