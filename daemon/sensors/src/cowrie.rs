//! Cowrie SSH/Telnet honeypot JSON logs (one event per line, 2017-2025 schemas).
//!
//! Only `cowrie.session.connect` carries the attacker's source port and the honeypot's
//! address and port; later events of the session carry just `session` and `src_ip`. The
//! parser remembers those fields per session (a bounded table, oldest sessions evicted) and
//! copies them into every later event of the session, so that per-port features and rules
//! see them. `cowrie.direct-tcpip.*` events name the port-forwarding target in
//! `dst_ip`/`dst_port`; those are kept as they are and never overwritten with the
//! honeypot's own address. The target, often a host name rather than an address, is also
//! written to `command` as `host:port`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

use crate::event::{Direction, Event, EventKind, Sensor, Transport};
use crate::format::{Format, ParseOptions, delegate_record_parser};
use crate::input::{JsonLines, JsonSchema, RecordContext};
use crate::json::{FieldError, Json, boxed, required, text_of};

/// Default bound on the number of open sessions whose connection details are remembered.
pub const DEFAULT_SESSION_CAPACITY: usize = 100_000;

/// The event kind of a Cowrie `eventid` (with or without the `cowrie.` prefix).
///
/// ```
/// use vigil_sensors::cowrie::cowrie_kind;
/// use vigil_sensors::EventKind;
/// assert_eq!(cowrie_kind("cowrie.login.failed"), EventKind::LoginFailed);
/// assert_eq!(cowrie_kind("cowrie.direct-tcpip.request"), EventKind::Tunnel);
/// assert_eq!(cowrie_kind("cowrie.log.open"), EventKind::Other);
/// ```
pub fn cowrie_kind(eventid: &str) -> EventKind {
    let name = eventid.strip_prefix("cowrie.").unwrap_or(eventid);
    match name {
        "session.connect" => EventKind::Connect,
        "session.closed" | "log.closed" => EventKind::Disconnect,
        "login.failed" => EventKind::LoginFailed,
        "login.success" => EventKind::LoginSuccess,
        "command.input" | "command.failed" | "command.success" => EventKind::Command,
        // A failed download still names the malware URL the attacker tried to fetch.
        "session.file_download" | "session.file_download.failed" | "session.file_upload" => {
            EventKind::FileTransfer
        }
        "client.version" | "client.kex" | "client.size" | "client.var" | "session.params" => {
            EventKind::ClientInfo
        }
        _ if name.starts_with("direct-tcpip.") => EventKind::Tunnel,
        _ => EventKind::Other,
    }
}

/// The fields of a Cowrie record that Vigil uses; everything else is skipped unread.
#[derive(Deserialize)]
struct CowrieLine<'a> {
    #[serde(borrow)]
    eventid: Option<Json<'a>>,
    #[serde(borrow)]
    timestamp: Option<Json<'a>>,
    #[serde(borrow)]
    session: Option<Json<'a>>,
    #[serde(borrow)]
    src_ip: Option<Json<'a>>,
    #[serde(borrow)]
    src_port: Option<Json<'a>>,
    #[serde(borrow)]
    dst_ip: Option<Json<'a>>,
    #[serde(borrow)]
    dst_port: Option<Json<'a>>,
    #[serde(borrow)]
    protocol: Option<Json<'a>>,
    #[serde(borrow)]
    system: Option<Json<'a>>,
    #[serde(borrow)]
    username: Option<Json<'a>>,
    #[serde(borrow)]
    password: Option<Json<'a>>,
    #[serde(borrow)]
    input: Option<Json<'a>>,
    #[serde(borrow)]
    duration: Option<Json<'a>>,
    #[serde(borrow)]
    url: Option<Json<'a>>,
    #[serde(borrow)]
    filename: Option<Json<'a>>,
}

/// What `session.connect` said about a session.
#[derive(Debug, Clone)]
struct SessionInfo {
    src_port: Option<u16>,
    dst_ip: Option<IpAddr>,
    dst_port: Option<u16>,
    app_proto: Option<Arc<str>>,
    generation: u64,
}

/// Open sessions by id, bounded: past `capacity` the oldest opened session is forgotten.
#[derive(Debug)]
struct SessionTable {
    sessions: HashMap<Arc<str>, SessionInfo>,
    /// Sessions in opening order; an entry whose generation no longer matches the table's
    /// (closed, or reopened under the same id) is stale and skipped.
    order: VecDeque<(Arc<str>, u64)>,
    next_generation: u64,
    capacity: usize,
}

impl SessionTable {
    fn new(capacity: usize) -> SessionTable {
        SessionTable {
            sessions: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
            capacity: capacity.max(1),
        }
    }

    fn open(&mut self, id: &str, mut info: SessionInfo) {
        let key: Arc<str> = Arc::from(id);
        info.generation = self.next_generation;
        self.next_generation += 1;
        self.order.push_back((Arc::clone(&key), info.generation));
        self.sessions.insert(key, info);
        while self.sessions.len() > self.capacity {
            let Some((oldest, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .sessions
                .get(&oldest)
                .is_some_and(|s| s.generation == generation)
            {
                self.sessions.remove(&oldest);
            }
        }
        // Closed sessions leave stale entries behind; drop them before they outnumber the
        // live ones, so the queue stays proportional to the table.
        if self.order.len() > 2 * self.sessions.len() + 1024 {
            let sessions = &self.sessions;
            self.order.retain(|(id, generation)| {
                sessions
                    .get(id)
                    .is_some_and(|s| s.generation == *generation)
            });
        }
    }

    fn get(&self, id: &str) -> Option<&SessionInfo> {
        self.sessions.get(id)
    }

    fn close(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    fn len(&self) -> usize {
        self.sessions.len()
    }
}

/// Parser for Cowrie JSON logs.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::cowrie::CowrieParser;
/// use vigil_sensors::{EventKind, ParseOptions, Record, RecordParser};
///
/// let mut parser = CowrieParser::new(ParseOptions::new("hp1"));
/// parser.begin_input(Arc::from("cowrie.json"));
/// let connect = br#"{"eventid":"cowrie.session.connect","src_ip":"198.51.100.7","src_port":40332,"dst_ip":"172.29.0.2","dst_port":22,"session":"fc324807ccdb","protocol":"ssh","timestamp":"2025-10-24T02:51:30.093164Z"}"#;
/// let login = br#"{"eventid":"cowrie.login.failed","username":"root","password":"1234","src_ip":"198.51.100.7","session":"fc324807ccdb","timestamp":"2025-10-24T02:51:31.000000Z"}"#;
/// let mut out = Vec::new();
/// parser.feed(connect, 0, true, &mut out);
/// parser.feed(login, connect.len() as u64 + 1, true, &mut out);
/// let Record::Event(event) = &out[1] else { panic!("{:?}", out[1]) };
/// assert_eq!(event.kind, EventKind::LoginFailed);
/// assert_eq!(event.src_port, Some(40332)); // carried over from session.connect
/// assert_eq!(event.username.as_deref(), Some("root"));
/// ```
#[derive(Debug)]
pub struct CowrieParser {
    inner: JsonLines<CowrieRecords>,
}

impl CowrieParser {
    /// A parser remembering up to [`DEFAULT_SESSION_CAPACITY`] open sessions.
    pub fn new(opts: ParseOptions) -> CowrieParser {
        CowrieParser::with_session_capacity(opts, DEFAULT_SESSION_CAPACITY)
    }

    /// A parser remembering up to `capacity` open sessions (at least one).
    pub fn with_session_capacity(opts: ParseOptions, capacity: usize) -> CowrieParser {
        CowrieParser {
            inner: JsonLines::new(
                CowrieRecords {
                    sessions: SessionTable::new(capacity),
                },
                opts,
            ),
        }
    }

    /// Number of sessions whose connection details are currently remembered.
    pub fn open_sessions(&self) -> usize {
        self.inner.schema.sessions.len()
    }
}

delegate_record_parser!(CowrieParser);

/// What a Cowrie parser remembers between lines: the open sessions.
#[derive(Debug)]
struct CowrieRecords {
    sessions: SessionTable,
}

impl JsonSchema for CowrieRecords {
    const SENSOR: Sensor = Sensor::Cowrie;
    const FORMAT: Format = Format::Cowrie;
    type Line<'a> = CowrieLine<'a>;

    fn build(
        &mut self,
        line: &CowrieLine<'_>,
        context: &mut RecordContext<'_>,
    ) -> Result<Box<Event>, FieldError> {
        let eventid = required(&line.eventid, "eventid")?.str("eventid")?;
        let event_time = context.timestamp(&line.timestamp)?;
        let kind = cowrie_kind(eventid);
        let mut event = context.event(event_time, kind);
        event.raw_kind = Some(context.interner.get(eventid));
        event.transport = Some(Transport::Tcp);
        event.direction = Some(Direction::Inbound);
        if let Some(v) = &line.src_ip {
            event.src_ip = v.ip("src_ip")?;
        }
        if let Some(v) = &line.src_port {
            event.src_port = v.port("src_port")?;
        }
        if let Some(v) = &line.dst_port {
            event.dst_port = v.port("dst_port")?;
        }
        if let Some(v) = &line.dst_ip {
            if kind == EventKind::Tunnel {
                let target = v.text("dst_ip")?;
                event.dst_ip = tunnel_target(target)?;
                event.command = target.map(|host| match event.dst_port {
                    Some(port) => format!("{host}:{port}").into_boxed_str(),
                    None => boxed(host),
                });
            } else {
                event.dst_ip = v.ip("dst_ip")?;
            }
        }
        if let Some(v) = &line.protocol {
            event.app_proto = v
                .text("protocol")?
                .map(|p| context.interner.get_lowercase(p));
        } else if let Some(v) = &line.system {
            // 2017 logs have no `protocol`; the Twisted `system` names the transport class.
            event.app_proto =
                protocol_from_system(v.str("system")?).map(|p| context.interner.get(p));
        }
        if let Some(v) = &line.duration {
            event.duration_secs = Some(v.seconds("duration")?);
        }
        if let Some(v) = &line.username {
            event.username = Some(boxed(v.str("username")?));
        }
        if let Some(v) = &line.password {
            event.password = Some(boxed(v.str("password")?));
        }
        match kind {
            EventKind::Command => {
                if let Some(v) = &line.input {
                    event.command = Some(boxed(v.str("input")?));
                }
            }
            EventKind::FileTransfer => {
                let named = [(&line.url, "url"), (&line.filename, "filename")];
                for (value, field) in named {
                    if let Some(text) = text_of(value, field)? {
                        event.command = Some(boxed(text));
                        break;
                    }
                }
            }
            _ => {}
        }

        if let Some(id) = text_of(&line.session, "session")? {
            event.session = Some(boxed(id));
            if kind == EventKind::Connect {
                self.sessions.open(
                    id,
                    SessionInfo {
                        src_port: event.src_port,
                        dst_ip: event.dst_ip,
                        dst_port: event.dst_port,
                        app_proto: event.app_proto.clone(),
                        generation: 0,
                    },
                );
            } else if let Some(known) = self.sessions.get(id) {
                event.src_port = event.src_port.or(known.src_port);
                if kind != EventKind::Tunnel {
                    event.dst_ip = event.dst_ip.or(known.dst_ip);
                    event.dst_port = event.dst_port.or(known.dst_port);
                }
                if event.app_proto.is_none() {
                    event.app_proto.clone_from(&known.app_proto);
                }
                if eventid == "cowrie.session.closed" {
                    self.sessions.close(id);
                }
            }
        }
        Ok(event)
    }
}

/// The address of a port-forwarding target, which attackers often give as a host name
/// (`mail.yahoo.com`): a name leaves the address unset, anything else must be an address.
fn tunnel_target(target: Option<&str>) -> Result<Option<IpAddr>, FieldError> {
    let Some(target) = target else {
        return Ok(None);
    };
    match crate::net::parse_ip(target) {
        Ok(ip) => Ok(Some(ip)),
        Err(_) if is_host_name(target) => Ok(None),
        Err(e) => Err(FieldError::new(
            crate::format::RejectReason::InvalidIp,
            format!("`dst_ip`: {e} nor a host name"),
        )),
    }
}

/// A DNS host name: dot-separated labels of letters, digits, `-` and `_`, at most 253 bytes.
fn is_host_name(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `ssh` or `telnet` from a Twisted `system` string such as
/// `HoneyPotSSHTransport,24896,78.137.2.109` or `cowrie.ssh.factory.CowrieSSHFactory`.
fn protocol_from_system(system: &str) -> Option<&'static str> {
    let lower_has = |needle: &str| {
        system
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    if lower_has("ssh") {
        Some("ssh")
    } else if lower_has("telnet") {
        Some("telnet")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_table_evicts_oldest_and_forgets_closed() {
        let mut table = SessionTable::new(2);
        let info = || SessionInfo {
            src_port: Some(1),
            dst_ip: None,
            dst_port: None,
            app_proto: None,
            generation: 0,
        };
        table.open("a", info());
        table.open("b", info());
        table.open("c", info());
        assert!(table.get("a").is_none());
        assert!(table.get("b").is_some() && table.get("c").is_some());
        // Reopening "b" makes it the newest, so "c" goes first.
        table.open("b", info());
        table.open("d", info());
        assert!(table.get("c").is_none());
        assert!(table.get("b").is_some() && table.get("d").is_some());
        table.close("b");
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn stale_order_entries_do_not_pile_up() {
        let mut table = SessionTable::new(10);
        let info = SessionInfo {
            src_port: None,
            dst_ip: None,
            dst_port: None,
            app_proto: None,
            generation: 0,
        };
        for i in 0..100_000 {
            let id = format!("s{i}");
            table.open(&id, info.clone());
            table.close(&id);
        }
        assert_eq!(table.len(), 0);
        assert!(table.order.len() <= 1024 + 1);
    }

    #[test]
    fn protocol_from_twisted_system() {
        assert_eq!(
            protocol_from_system("HoneyPotSSHTransport,24896,78.137.2.109"),
            Some("ssh")
        );
        assert_eq!(
            protocol_from_system("CowrieTelnetTransport,5,1.2.3.4"),
            Some("telnet")
        );
        assert_eq!(protocol_from_system("twisted.internet"), None);
    }
}
