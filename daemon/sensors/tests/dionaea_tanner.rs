//! Dionaea and Tanner parsers: nested objects, credentials, naive times, bad input.

mod common;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use vigil_sensors::dionaea::DionaeaParser;
use vigil_sensors::tanner::TannerParser;
use vigil_sensors::{Direction, EventKind, ParseOptions, RejectReason, Transport};

use common::{only_event, only_rejection, parse_lines};

fn utc(text: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => panic!("bad reference time {text}: {e}"),
    }
}

fn ip(text: &str) -> IpAddr {
    match text.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("bad test address {text}: {e}"),
    }
}

fn dionaea(line: &str) -> Vec<vigil_sensors::Record> {
    parse_lines(&mut DionaeaParser::new(ParseOptions::new("dio1")), &[line])
}

const SMB: &str = r#"{"connection": {"protocol": "smbd", "transport": "tcp", "type": "accept"}, "dst_ip": "172.28.0.2", "dst_port": 445, "src_hostname": "", "src_ip": "78.104.37.230", "src_port": 39926, "timestamp": "2022-05-31T05:03:17.841446"}"#;

#[test]
fn plain_connection() {
    let records = dionaea(SMB);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::Connect);
    assert_eq!(event.raw_kind.as_deref(), Some("smbd"));
    assert_eq!(event.app_proto.as_deref(), Some("smb"));
    assert_eq!(event.transport, Some(Transport::Tcp));
    assert_eq!(event.direction, Some(Direction::Inbound));
    assert_eq!(event.src_ip, Some(ip("78.104.37.230")));
    assert_eq!(event.src_port, Some(39926));
    assert_eq!(event.dst_ip, Some(ip("172.28.0.2")));
    assert_eq!(event.dst_port, Some(445));
    assert_eq!(event.username, None);
    assert_eq!(event.event_time, utc("2022-05-31T05:03:17.841446Z"));
}

#[test]
fn naive_time_in_a_non_utc_zone() {
    let mut opts = ParseOptions::new("dio1");
    opts.naive_timezone = chrono_tz::Europe::Berlin;
    let records = parse_lines(&mut DionaeaParser::new(opts), &[SMB]);
    // Berlin is two hours ahead of UTC in May.
    assert_eq!(
        only_event(&records).event_time,
        utc("2022-05-31T03:03:17.841446Z")
    );
}

#[test]
fn credentials_make_one_failed_login_with_the_first_pair() {
    let line = r#"{"connection": {"protocol": "mssqld", "transport": "tcp", "type": "accept"}, "dst_ip": "172.28.0.2", "dst_port": 1433, "src_hostname": "", "src_ip": "119.54.10.96", "src_port": 57966, "timestamp": "2022-05-31T08:31:05.018830", "credentials": {"username": ["sa", "admin"], "password": ["^_^$$wanniMaBI:: 1433 vl", "admin"]}}"#;
    let records = dionaea(line);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::LoginFailed);
    assert_eq!(event.app_proto.as_deref(), Some("mssql"));
    assert_eq!(event.username.as_deref(), Some("sa"));
    assert_eq!(event.password.as_deref(), Some("^_^$$wanniMaBI:: 1433 vl"));
}

#[test]
fn ftp_commands_with_the_password_masked() {
    let line = r#"{"connection": {"protocol": "ftpd", "transport": "tcp", "type": "accept"}, "dst_ip": "172.28.0.2", "dst_port": 21, "src_hostname": "", "src_ip": "35.233.62.116", "src_port": 45800, "timestamp": "2022-05-31T07:12:55.524838", "ftp": {"commands": {"arguments": ["anonymous", "anonymous@", "UTF8 ON", "", "A"], "command": ["USER", "PASS", "OPTS", "PWD", "TYPE"]}}, "credentials": {"username": ["anonymous"], "password": ["anonymous@"]}}"#;
    let records = dionaea(line);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::LoginFailed, "credentials come first");
    assert_eq!(event.app_proto.as_deref(), Some("ftp"));
    assert_eq!(
        event.command.as_deref(),
        Some("USER anonymous; PASS ***; OPTS UTF8 ON; PWD; TYPE A")
    );
    assert_eq!(event.password.as_deref(), Some("anonymous@"));

    let without_login = r#"{"connection": {"protocol": "ftpd", "transport": "tcp", "type": "accept"}, "dst_ip": "192.168.112.2", "dst_port": 21, "src_ip": "185.247.137.203", "src_port": 44019, "timestamp": "2025-10-24T03:00:05.026478", "ftp": {"commands": {"arguments": ["", "", "", ""], "command": ["HELP", "SYST", "FEAT", "QUIT"]}}}"#;
    let records = dionaea(without_login);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::Command);
    assert_eq!(event.command.as_deref(), Some("HELP; SYST; FEAT; QUIT"));
}

#[test]
fn outgoing_connections_and_unknown_services() {
    let line = r#"{"connection": {"protocol": "TftpServerHandler", "transport": "udp", "type": "connect"}, "dst_ip": "172.28.0.2", "dst_port": 58445, "src_hostname": "", "src_ip": "146.88.240.4", "src_port": 39772, "timestamp": "2022-05-31T05:33:08.085737"}"#;
    let records = dionaea(line);
    let event = only_event(&records);
    assert_eq!(event.direction, Some(Direction::Outbound));
    assert_eq!(event.transport, Some(Transport::Udp));
    assert_eq!(event.app_proto.as_deref(), Some("tftp"));
    let novel = SMB.replace("smbd", "NovelService");
    let records = dionaea(&novel);
    assert_eq!(
        only_event(&records).app_proto.as_deref(),
        Some("novelservice")
    );
}

#[test]
fn dionaea_shapes_that_are_wrong() {
    let cases = [
        (
            SMB.replace(
                r#"{"protocol": "smbd", "transport": "tcp", "type": "accept"}"#,
                r#""smbd""#,
            ),
            RejectReason::WrongFieldType,
            "connection",
        ),
        (
            SMB.replace(
                r#""timestamp""#,
                r#""credentials": {"username": "sa"}, "timestamp""#,
            ),
            RejectReason::WrongFieldType,
            "credentials.username",
        ),
        (
            SMB.replace("39926", "99999"),
            RejectReason::InvalidPort,
            "99999",
        ),
        (
            SMB.replace("2022-05-31T05:03:17.841446", "31/05/2022"),
            RejectReason::InvalidTimestamp,
            "31/05/2022",
        ),
        (
            SMB.replace(
                r#""timestamp": "2022-05-31T05:03:17.841446""#,
                r#""timestamp": null"#,
            ),
            RejectReason::MissingField,
            "timestamp",
        ),
    ];
    for (line, reason, named) in cases {
        let records = dionaea(&line);
        let rejection = only_rejection(&records);
        assert_eq!(rejection.reason, reason, "{line}");
        assert!(rejection.detail.contains(named), "{}", rejection.detail);
    }
}

fn tanner(line: &str) -> Vec<vigil_sensors::Record> {
    parse_lines(&mut TannerParser::new(ParseOptions::new("web1")), &[line])
}

const TANNER: &str = r#"{"method": "POST", "path": "/cgi-bin/.%2e/.%2e/bin/sh", "headers": {"host": "35.225.86.61:80", "user-agent": null, "content-type": "text/plain"}, "uuid": "7e5880f3-f4fc-4ac6-b8f2-99cfa79a28b4", "peer": {"ip": "142.93.132.14", "port": 53978}, "status": 200, "post_data": {}, "cookies": {"sess_uuid": null}, "response_msg": {"version": "0.6.0", "response": {"message": {"detection": {"name": "unknown", "order": 0, "type": 1, "version": "0.6.0"}, "sess_uuid": "1ebba8f5-154f-4ce3-ae8d-ad4988b0627c"}}}, "timestamp": "2025-10-24T03:28:41.977489"}"#;

#[test]
fn tanner_request() {
    let records = tanner(TANNER);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::HttpRequest);
    assert_eq!(event.raw_kind.as_deref(), Some("POST"));
    assert_eq!(
        event.command.as_deref(),
        Some("POST /cgi-bin/.%2e/.%2e/bin/sh")
    );
    assert_eq!(event.src_ip, Some(ip("142.93.132.14")));
    assert_eq!(event.src_port, Some(53978));
    assert_eq!(event.app_proto.as_deref(), Some("http"));
    assert_eq!(event.direction, Some(Direction::Inbound));
    assert_eq!(
        event.session.as_deref(),
        Some("1ebba8f5-154f-4ce3-ae8d-ad4988b0627c")
    );
    assert_eq!(event.event_time, utc("2025-10-24T03:28:41.977489Z"));
}

#[test]
fn tanner_response_of_another_shape_only_loses_the_session() {
    let line = TANNER.replace(
        r#"{"detection": {"name": "unknown", "order": 0, "type": 1, "version": "0.6.0"}, "sess_uuid": "1ebba8f5-154f-4ce3-ae8d-ad4988b0627c"}"#,
        r#""error""#,
    );
    let records = tanner(&line);
    let event = only_event(&records);
    assert_eq!(event.session, None);
    assert_eq!(event.src_port, Some(53978));
}

#[test]
fn tanner_wrong_peer() {
    let records = tanner(&TANNER.replace(
        r#"{"ip": "142.93.132.14", "port": 53978}"#,
        r#""142.93.132.14""#,
    ));
    let rejection = only_rejection(&records);
    assert_eq!(rejection.reason, RejectReason::WrongFieldType);
    assert!(rejection.detail.contains("peer"), "{}", rejection.detail);
    let records = tanner(&TANNER.replace("53978", r#""port""#));
    let rejection = only_rejection(&records);
    assert_eq!(rejection.reason, RejectReason::WrongFieldType);
    assert!(
        rejection.detail.contains("peer.port"),
        "{}",
        rejection.detail
    );
}
