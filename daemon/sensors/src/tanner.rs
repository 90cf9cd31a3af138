//! Tanner web honeypot JSON logs (one HTTP request per line, as SNARE forwarded it).
//!
//! The attacker is `peer.ip`/`peer.port`; the request line (`GET /path`) goes into `command`
//! and the method into `raw_kind`. `uuid` names the Tanner instance, not the visit: the
//! attacker's session is `response_msg.response.message.sess_uuid`, read when the response
//! has that shape (it varies between Tanner versions; another shape just leaves the session
//! unset). Timestamps are naive, read in `ParseOptions::naive_timezone`.

use serde::Deserialize;

use crate::event::{Direction, Event, EventKind, Sensor, Transport};
use crate::format::{Format, ParseOptions, delegate_record_parser};
use crate::input::{JsonLines, JsonSchema, RecordContext};
use crate::json::{FieldError, Json, Nested, text_of};

#[derive(Deserialize)]
struct TannerLine<'a> {
    #[serde(borrow)]
    timestamp: Option<Json<'a>>,
    #[serde(borrow)]
    method: Option<Json<'a>>,
    #[serde(borrow)]
    path: Option<Json<'a>>,
    #[serde(borrow)]
    peer: Option<Nested<Peer<'a>>>,
    #[serde(borrow)]
    response_msg: Option<Nested<ResponseMsg<'a>>>,
}

#[derive(Deserialize)]
struct Peer<'a> {
    #[serde(borrow)]
    ip: Option<Json<'a>>,
    #[serde(borrow)]
    port: Option<Json<'a>>,
}

#[derive(Deserialize)]
struct ResponseMsg<'a> {
    #[serde(borrow)]
    response: Option<Nested<Response<'a>>>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow)]
    message: Option<Nested<Message<'a>>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    sess_uuid: Option<Json<'a>>,
}

/// Parser for Tanner JSON logs.
///
/// ```
/// use std::sync::Arc;
/// use vigil_sensors::tanner::TannerParser;
/// use vigil_sensors::{EventKind, ParseOptions, Record, RecordParser};
///
/// let mut parser = TannerParser::new(ParseOptions::new("web1"));
/// parser.begin_input(Arc::from("tanner.json"));
/// let line = br#"{"method": "GET", "path": "/cgi-bin/luci", "uuid": "7e58", "peer": {"ip": "193.142.147.209", "port": 1358}, "status": 200, "timestamp": "2025-10-24T02:57:02.021400"}"#;
/// let mut out = Vec::new();
/// parser.feed(line, 0, true, &mut out);
/// let Record::Event(event) = &out[0] else { panic!("{:?}", out[0]) };
/// assert_eq!(event.kind, EventKind::HttpRequest);
/// assert_eq!(event.command.as_deref(), Some("GET /cgi-bin/luci"));
/// assert_eq!(event.src_port, Some(1358));
/// ```
#[derive(Debug)]
pub struct TannerParser {
    inner: JsonLines<TannerRecords>,
}

impl TannerParser {
    /// A parser with the given options.
    pub fn new(opts: ParseOptions) -> TannerParser {
        TannerParser {
            inner: JsonLines::new(TannerRecords, opts),
        }
    }
}

delegate_record_parser!(TannerParser);

/// Tanner records keep no state between lines.
#[derive(Debug)]
struct TannerRecords;

impl JsonSchema for TannerRecords {
    const SENSOR: Sensor = Sensor::Tanner;
    const FORMAT: Format = Format::Tanner;
    type Line<'a> = TannerLine<'a>;

    fn build(
        &mut self,
        line: &TannerLine<'_>,
        context: &mut RecordContext<'_>,
    ) -> Result<Box<Event>, FieldError> {
        let event_time = context.timestamp(&line.timestamp)?;
        let mut event = context.event(event_time, EventKind::HttpRequest);
        event.transport = Some(Transport::Tcp);
        event.direction = Some(Direction::Inbound);
        event.app_proto = Some(context.interner.get("http"));
        if let Some(peer) = &line.peer {
            let peer = peer.get("peer")?;
            if let Some(v) = &peer.ip {
                event.src_ip = v.ip("peer.ip")?;
            }
            if let Some(v) = &peer.port {
                event.src_port = v.port("peer.port")?;
            }
        }
        let method = text_of(&line.method, "method")?;
        let path = text_of(&line.path, "path")?;
        if let Some(method) = method {
            event.raw_kind = Some(if method.bytes().any(|b| b.is_ascii_lowercase()) {
                context.interner.get(&method.to_ascii_uppercase())
            } else {
                context.interner.get(method)
            });
        }
        event.command = match (method, path) {
            (Some(m), Some(p)) => Some(format!("{m} {p}").into_boxed_str()),
            (None, Some(p)) => Some(Box::from(p)),
            (Some(m), None) => Some(Box::from(m)),
            (None, None) => None,
        };
        let session = line
            .response_msg
            .as_ref()
            .and_then(Nested::lenient)
            .and_then(|m| m.response.as_ref())
            .and_then(Nested::lenient)
            .and_then(|r| r.message.as_ref())
            .and_then(Nested::lenient)
            .and_then(|m| m.sess_uuid.as_ref());
        if let Some(Json::Str(id)) = session
            && !id.is_empty()
        {
            event.session = Some(Box::from(&**id));
        }
        Ok(event)
    }
}
