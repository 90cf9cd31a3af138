//! Cowrie parser: bad input, schema drift and session carry-over.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use vigil_sensors::cowrie::{CowrieParser, cowrie_kind};
use vigil_sensors::{
    Direction, EventKind, ParseOptions, Record, RecordParser, RejectReason, Transport,
};

use common::{Tally, only_event, only_rejection, parse_input, parse_lines};

fn parser() -> CowrieParser {
    CowrieParser::new(ParseOptions::new("hp1"))
}

fn one(line: &str) -> Vec<Record> {
    parse_lines(&mut parser(), &[line])
}

fn ip(text: &str) -> IpAddr {
    match text.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("bad test address {text}: {e}"),
    }
}

const CONNECT: &str = r#"{"eventid":"cowrie.session.connect","src_ip":"200.60.92.170","src_port":44070,"dst_ip":"172.25.0.2","dst_port":22,"session":"026c5bfa496b","protocol":"ssh","message":"New connection","sensor":"4020fce951fd","timestamp":"2022-06-01T14:33:54.902527Z"}"#;

#[test]
fn connect_event_fields() {
    let records = one(CONNECT);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::Connect);
    assert_eq!(event.raw_kind.as_deref(), Some("cowrie.session.connect"));
    assert_eq!(event.src_ip, Some(ip("200.60.92.170")));
    assert_eq!(event.src_port, Some(44070));
    assert_eq!(event.dst_ip, Some(ip("172.25.0.2")));
    assert_eq!(event.dst_port, Some(22));
    assert_eq!(event.app_proto.as_deref(), Some("ssh"));
    assert_eq!(event.transport, Some(Transport::Tcp));
    assert_eq!(event.direction, Some(Direction::Inbound));
    assert_eq!(event.session.as_deref(), Some("026c5bfa496b"));
    // Cowrie's own `sensor` name is not the configured sensor id.
    assert_eq!(&*event.sensor_id, "hp1");
    assert_eq!(
        event.event_time.to_rfc3339(),
        "2022-06-01T14:33:54.902527+00:00"
    );
}

#[test]
fn session_ports_reach_later_events_until_the_session_closes() {
    let lines = [
        CONNECT,
        r#"{"eventid":"cowrie.login.failed","username":"jh","password":"123456","src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:33:56.000000Z"}"#,
        r#"{"eventid":"cowrie.command.input","input":"uname -a","src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:33:57.000000Z"}"#,
        r#"{"eventid":"cowrie.session.closed","duration":"1.6","src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:33:58.000000Z"}"#,
        r#"{"eventid":"cowrie.log.closed","ttylog":"x","size":12,"duration":1.5,"src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:33:59.000000Z"}"#,
    ];
    let mut parser = parser();
    let records = parse_lines(&mut parser, &lines);
    let tally = Tally::of(&records);
    assert!(tally.rejected.is_empty(), "{:?}", tally.rejected);
    let kinds: Vec<EventKind> = tally.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Connect,
            EventKind::LoginFailed,
            EventKind::Command,
            EventKind::Disconnect,
            EventKind::Disconnect
        ]
    );
    for event in &tally.events[1..4] {
        assert_eq!(event.src_port, Some(44070), "{:?}", event.raw_kind);
        assert_eq!(event.dst_ip, Some(ip("172.25.0.2")));
        assert_eq!(event.dst_port, Some(22));
        assert_eq!(event.app_proto.as_deref(), Some("ssh"));
    }
    let login = tally.events[1];
    assert_eq!(login.username.as_deref(), Some("jh"));
    assert_eq!(login.password.as_deref(), Some("123456"));
    assert_eq!(tally.events[2].command.as_deref(), Some("uname -a"));
    // Duration as a string (SSH sessions of the 2025 T-Pot log) and as a number.
    assert_eq!(tally.events[3].duration_secs, Some(1.6));
    assert_eq!(tally.events[4].duration_secs, Some(1.5));
    // The table entry went with session.closed: log.closed has no port, and is still valid.
    assert_eq!(tally.events[4].src_port, None);
    assert_eq!(tally.events[4].dst_port, None);
    assert_eq!(parser.open_sessions(), 0);
}

#[test]
fn oldest_sessions_are_forgotten_beyond_the_capacity() {
    let mut parser = CowrieParser::with_session_capacity(ParseOptions::new("hp1"), 1);
    let second_connect = CONNECT
        .replace("026c5bfa496b", "bbbbbbbbbbbb")
        .replace("44070", "5555");
    let lines = [
        CONNECT,
        second_connect.as_str(),
        r#"{"eventid":"cowrie.client.version","version":"SSH-2.0-Go","src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:33:56Z"}"#,
        r#"{"eventid":"cowrie.client.version","version":"SSH-2.0-Go","src_ip":"200.60.92.170","session":"bbbbbbbbbbbb","timestamp":"2022-06-01T14:33:56Z"}"#,
    ];
    let records = parse_lines(&mut parser, &lines);
    let tally = Tally::of(&records);
    assert_eq!(tally.events[2].kind, EventKind::ClientInfo);
    assert_eq!(tally.events[2].src_port, None);
    assert_eq!(tally.events[3].src_port, Some(5555));
    assert_eq!(parser.open_sessions(), 1);
}

#[test]
fn sessions_survive_the_end_of_an_input() {
    let mut parser = parser();
    parse_input(
        &mut parser,
        "cowrie.json.1",
        format!("{CONNECT}\n").as_bytes(),
    );
    let closed = r#"{"eventid":"cowrie.session.closed","duration":2.0,"src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-02T00:00:01Z"}"#;
    let records = parse_input(&mut parser, "cowrie.json", closed.as_bytes());
    let event = only_event(&records);
    assert_eq!(event.src_port, Some(44070));
    assert_eq!(&*event.origin.source, "cowrie.json");
}

#[test]
fn port_forwarding_keeps_its_own_target() {
    let lines = [
        CONNECT,
        r#"{"eventid":"cowrie.direct-tcpip.request","dst_ip":"142.250.74.36","dst_port":443,"src_ip":"200.60.92.170","src_port":5555,"session":"026c5bfa496b","timestamp":"2022-06-01T14:34:00Z"}"#,
        r#"{"eventid":"cowrie.direct-tcpip.data","dst_ip":"mail.yahoo.com","dst_port":25,"data":"EHLO","src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:34:01Z"}"#,
        r#"{"eventid":"cowrie.direct-tcpip.data","dst_ip":"not a host!","dst_port":25,"src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:34:02Z"}"#,
    ];
    let records = parse_lines(&mut parser(), &lines);
    let Record::Event(request) = &records[1] else {
        panic!("{:?}", records[1]);
    };
    assert_eq!(request.kind, EventKind::Tunnel);
    assert_eq!(request.dst_ip, Some(ip("142.250.74.36")));
    assert_eq!(request.dst_port, Some(443));
    assert_eq!(request.src_port, Some(5555));
    assert_eq!(request.command.as_deref(), Some("142.250.74.36:443"));
    let Record::Event(data) = &records[2] else {
        panic!("{:?}", records[2]);
    };
    assert_eq!(data.dst_ip, None, "a host name is not an address");
    assert_eq!(data.dst_port, Some(25));
    assert_eq!(data.src_port, Some(44070), "carried from the session");
    assert_eq!(data.command.as_deref(), Some("mail.yahoo.com:25"));
    let rejected = only_rejection(&records[3..]);
    assert_eq!(rejected.reason, RejectReason::InvalidIp);
    assert!(
        rejected.detail.contains("not a host!"),
        "{}",
        rejected.detail
    );
}

#[test]
fn logs_of_2017_without_protocol_take_it_from_the_transport_class() {
    let lines = [
        r#"{"eventid": "cowrie.session.connect", "timestamp": "2017-11-15T00:00:06.849227Z", "session": "aaae1eaf50d0", "src_port": 59982, "system": "cowrie.ssh.factory.CowrieSSHFactory", "isError": 0, "src_ip": "78.137.2.109", "dst_port": 2222, "dst_ip": "10.3.66.85", "sensor": "scw-8456a9"}"#,
        r#"{"eventid": "cowrie.client.version", "macCS": ["hmac-sha1"], "timestamp": "2017-11-15T00:00:06.911084Z", "session": "aaae1eaf50d0", "system": "HoneyPotSSHTransport,24896,78.137.2.109", "isError": 0, "src_ip": "78.137.2.109", "version": "SSH-2.0-libssh2_1.4.3"}"#,
    ];
    let records = parse_lines(&mut parser(), &lines);
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 2);
    for event in &tally.events {
        assert_eq!(event.app_proto.as_deref(), Some("ssh"));
    }
    assert_eq!(tally.events[1].dst_port, Some(2222));
}

#[test]
fn event_kinds() {
    let cases = [
        ("cowrie.session.connect", EventKind::Connect),
        ("cowrie.session.closed", EventKind::Disconnect),
        ("cowrie.log.closed", EventKind::Disconnect),
        ("cowrie.login.failed", EventKind::LoginFailed),
        ("cowrie.login.success", EventKind::LoginSuccess),
        ("cowrie.command.input", EventKind::Command),
        ("cowrie.command.failed", EventKind::Command),
        ("cowrie.command.success", EventKind::Command),
        ("cowrie.session.file_download", EventKind::FileTransfer),
        ("cowrie.session.file_upload", EventKind::FileTransfer),
        ("cowrie.client.version", EventKind::ClientInfo),
        ("cowrie.client.kex", EventKind::ClientInfo),
        ("cowrie.client.size", EventKind::ClientInfo),
        ("cowrie.client.var", EventKind::ClientInfo),
        ("cowrie.session.params", EventKind::ClientInfo),
        ("cowrie.direct-tcpip.request", EventKind::Tunnel),
        ("cowrie.direct-tcpip.data", EventKind::Tunnel),
        ("cowrie.log.open", EventKind::Other),
        ("cowrie.client.fingerprint", EventKind::Other),
    ];
    for (eventid, kind) in cases {
        assert_eq!(cowrie_kind(eventid), kind, "{eventid}");
    }
}

#[test]
fn file_download_names_the_url() {
    let line = r#"{"eventid":"cowrie.session.file_download","url":"http://203.0.113.9/x.sh","outfile":"var/lib/cowrie/downloads/ab","shasum":"ab","src_ip":"200.60.92.170","session":"s1","timestamp":"2022-11-14T00:00:11Z"}"#;
    let records = one(line);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::FileTransfer);
    assert_eq!(event.command.as_deref(), Some("http://203.0.113.9/x.sh"));
}

fn rejection_of(line: &str) -> (RejectReason, String) {
    let records = one(line);
    let rejection = only_rejection(&records);
    assert_eq!(rejection.offset, 0);
    (rejection.reason, rejection.detail.clone())
}

#[test]
fn wrong_field_types_name_field_and_value() {
    let (reason, detail) = rejection_of(&CONNECT.replace("44070", r#""abc""#));
    assert_eq!(reason, RejectReason::WrongFieldType);
    assert!(
        detail.contains("src_port") && detail.contains("abc"),
        "{detail}"
    );

    let (reason, detail) = rejection_of(&CONNECT.replace(r#""2022-06-01T14:33:54.902527Z""#, "5"));
    assert_eq!(reason, RejectReason::WrongFieldType);
    assert!(
        detail.contains("timestamp") && detail.contains('5'),
        "{detail}"
    );

    let (reason, detail) = rejection_of(&CONNECT.replace(r#""ssh""#, "[1]"));
    assert_eq!(reason, RejectReason::WrongFieldType);
    assert!(
        detail.contains("protocol") && detail.contains("array"),
        "{detail}"
    );

    // A port written as a numeric string is fine.
    let records = one(&CONNECT.replace("44070", r#""44070""#));
    assert_eq!(only_event(&records).src_port, Some(44070));
}

#[test]
fn impossible_values_are_rejected() {
    let (reason, detail) = rejection_of(&CONNECT.replace("200.60.92.170", "200.60.92.999"));
    assert_eq!(reason, RejectReason::InvalidIp);
    assert!(detail.contains("200.60.92.999"), "{detail}");

    let (reason, detail) =
        rejection_of(&CONNECT.replace(r#""dst_port":22"#, r#""dst_port":70000"#));
    assert_eq!(reason, RejectReason::InvalidPort);
    assert!(
        detail.contains("dst_port") && detail.contains("70000"),
        "{detail}"
    );

    let (reason, _) = rejection_of(&CONNECT.replace(r#""dst_port":22"#, r#""dst_port":-1"#));
    assert_eq!(reason, RejectReason::InvalidPort);

    let (reason, detail) =
        rejection_of(&CONNECT.replace("2022-06-01T14:33:54.902527Z", "2022-13-01T14:33:54Z"));
    assert_eq!(reason, RejectReason::InvalidTimestamp);
    assert!(detail.contains("2022-13-01T14:33:54Z"), "{detail}");

    let closed = r#"{"eventid":"cowrie.session.closed","duration":"long","session":"s","timestamp":"2022-06-01T14:33:58Z"}"#;
    let (reason, detail) = rejection_of(closed);
    assert_eq!(reason, RejectReason::InvalidNumber);
    assert!(
        detail.contains("duration") && detail.contains("long"),
        "{detail}"
    );
}

#[test]
fn missing_required_fields() {
    let (reason, detail) =
        rejection_of(r#"{"timestamp":"2022-06-01T14:33:58Z","src_ip":"192.0.2.1"}"#);
    assert_eq!(reason, RejectReason::MissingField);
    assert!(detail.contains("eventid"), "{detail}");
    let (reason, detail) = rejection_of(r#"{"eventid":"cowrie.log.closed","src_ip":"192.0.2.1"}"#);
    assert_eq!(reason, RejectReason::MissingField);
    assert!(detail.contains("timestamp"), "{detail}");
}

#[test]
fn malformed_truncated_and_non_object_lines() {
    let (reason, detail) = rejection_of(r#"{"eventid": "cowrie.session.connect", "timestamp": }"#);
    assert_eq!(reason, RejectReason::MalformedJson);
    assert!(detail.contains("cowrie.session.connect"), "{detail}");

    for (text, kind) in [
        ("[1, 2]", "array"),
        ("42", "number"),
        (r#""cowrie""#, "string"),
        ("null", "null"),
    ] {
        let (reason, detail) = rejection_of(text);
        assert_eq!(reason, RejectReason::NotAnObject, "{text}");
        assert!(detail.contains(kind), "{detail}");
    }

    // The same cut-off line is truncated at the end of the input, malformed inside it.
    let cut = &CONNECT[..CONNECT.len() - 30];
    let records = parse_input(&mut parser(), "t", format!("{CONNECT}\n{cut}").as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 1);
    assert_eq!(tally.reasons(), [RejectReason::TruncatedRecord]);
    assert_eq!(tally.rejected[0].offset, CONNECT.len() as u64 + 1);
    let records = parse_input(&mut parser(), "t", format!("{cut}\n{CONNECT}").as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.reasons(), [RejectReason::MalformedJson]);
    // A complete last line without newline is a record like any other.
    assert_eq!(tally.events.len(), 1);
}

#[test]
fn bytes_that_are_not_text() {
    let mut line = CONNECT.as_bytes().to_vec();
    line[20] = 0xff;
    let mut out = Vec::new();
    let mut parser = parser();
    parser.begin_input(Arc::from("t"));
    parser.feed(&line, 0, true, &mut out);
    line[20] = 0;
    parser.feed(&line, 400, true, &mut out);
    let reasons: Vec<_> = out
        .iter()
        .map(|r| match r {
            Record::Rejected(r) => (r.reason, r.offset),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [(RejectReason::NotUtf8, 0), (RejectReason::BinaryData, 400)]
    );
}

#[test]
fn blank_lines_whitespace_and_carriage_returns() {
    let data = format!("\n  {CONNECT}  \r\n\r\n\t\n{CONNECT}\r\n");
    let records = parse_input(&mut parser(), "t", data.as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 2);
    assert!(tally.rejected.is_empty(), "{:?}", tally.rejected);
    // Offsets are where the lines start, leading blanks included.
    assert_eq!(tally.events[0].origin.offset, 1);
    let second_line = data.rfind(CONNECT).map(|at| at as u64);
    assert_eq!(Some(tally.events[1].origin.offset), second_line);
}

#[test]
fn empty_input_is_one_rejection() {
    for data in ["", "\n\n  \r\n"] {
        let records = parse_input(&mut parser(), "empty.json", data.as_bytes());
        let rejection = only_rejection(&records);
        assert_eq!(rejection.reason, RejectReason::EmptyInput);
        assert!(rejection.detail.contains("empty.json"));
    }
}
