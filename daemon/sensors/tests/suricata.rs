//! Suricata EVE parser: event types, time zones, IPv6, JSON arrays and bad input.

mod common;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use vigil_sensors::suricata::{STATS_SKIP_REASON, SuricataParser};
use vigil_sensors::{
    EventKind, ParseOptions, Record, RejectReason, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, Transport,
};

use common::{Tally, only_event, only_rejection, parse_input, parse_lines};

fn parser() -> SuricataParser {
    SuricataParser::new(ParseOptions::new("ids1"))
}

fn one(line: &str) -> Vec<Record> {
    parse_lines(&mut parser(), &[line])
}

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

const ALERT: &str = r#"{"timestamp":"2015-03-29T11:01:38.221126-0600","flow_id":1959620435402694,"pcap_cnt":98966,"event_type":"alert","src_ip":"222.186.56.46","src_port":4904,"dest_ip":"192.168.0.2","dest_port":22,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2001219,"rev":20,"signature":"ET SCAN Potential SSH Scan","category":"Attempted Information Leak","severity":2},"flow":{"pkts_toserver":1,"pkts_toclient":0,"bytes_toserver":66,"bytes_toclient":0,"start":"2015-03-29T11:01:38.221126-0600"}}"#;

#[test]
fn alert_with_offset_without_colon() {
    let records = one(ALERT);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::IdsAlert);
    assert_eq!(event.raw_kind.as_deref(), Some("alert"));
    assert_eq!(event.event_time, utc("2015-03-29T17:01:38.221126Z"));
    assert_eq!(
        event.signature.as_deref(),
        Some("ET SCAN Potential SSH Scan")
    );
    assert_eq!(event.severity, Some(2));
    assert_eq!(event.session.as_deref(), Some("1959620435402694"));
    assert_eq!(event.transport, Some(Transport::Tcp));
    assert_eq!(event.src_port, Some(4904));
    assert_eq!(event.dst_ip, Some(ip("192.168.0.2")));
    assert_eq!(event.dst_port, Some(22));
    assert_eq!(event.packets_out, Some(1));
    assert_eq!(event.bytes_out, Some(66));
    assert_eq!(event.duration_secs, None, "no flow end yet");
    assert_eq!(event.direction, None);
}

#[test]
fn flow_with_counters_duration_and_tcp_flags() {
    let line = r#"{"timestamp":"2025-09-06T15:21:30.000000+0000","flow_id":7,"event_type":"flow","src_ip":"172.24.0.2","src_port":38570,"dest_ip":"185.125.190.82","dest_port":80,"proto":"TCP","app_proto":"http","flow":{"pkts_toserver":12,"pkts_toclient":30,"bytes_toserver":1200,"bytes_toclient":45000,"start":"2025-09-06T15:21:21.154467+0000","end":"2025-09-06T15:21:23.654467+0000","age":2,"state":"closed","reason":"timeout","alerted":false},"tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","syn":true,"fin":true,"psh":true,"ack":true,"state":"closed"}}"#;
    let records = one(line);
    let event = only_event(&records);
    assert_eq!(event.kind, EventKind::Flow);
    assert_eq!(event.app_proto.as_deref(), Some("http"));
    assert_eq!(
        (
            event.packets_out,
            event.packets_in,
            event.bytes_out,
            event.bytes_in
        ),
        (Some(12), Some(30), Some(1200), Some(45000))
    );
    assert_eq!(event.duration_secs, Some(2.5));
    assert_eq!(event.tcp_flags, Some(TCP_FIN | TCP_SYN | TCP_PSH | TCP_ACK));

    // Without the hex summary the per-flag booleans are used.
    let booleans = line.replace(
        r#""tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b","#,
        "",
    );
    let records = one(&booleans);
    assert_eq!(
        only_event(&records).tcp_flags,
        Some(TCP_FIN | TCP_SYN | TCP_PSH | TCP_ACK)
    );
    let bad = line.replace(r#""tcp_flags":"1b""#, r#""tcp_flags":"zz""#);
    let records = one(&bad);
    let rejection = only_rejection(&records);
    assert_eq!(rejection.reason, RejectReason::InvalidNumber);
    assert!(rejection.detail.contains("zz"), "{}", rejection.detail);
}

#[test]
fn expanded_ipv6_and_icmp_flows() {
    let line = r#"{"timestamp":"2025-08-31T17:08:59.663176+0000","flow_id":1006424676359330,"in_iface":"eth1","event_type":"flow","src_ip":"fe80:0000:0000:0000:b085:ddff:fe50:a215","dest_ip":"ff02:0000:0000:0000:0000:0000:0000:0002","proto":"IPv6-ICMP","icmp_type":133,"icmp_code":0,"flow":{"pkts_toserver":4,"pkts_toclient":0,"bytes_toserver":280,"bytes_toclient":0,"start":"2025-08-31T17:07:31.842914+0000","end":"2025-08-31T17:08:22.885208+0000","age":51,"state":"new","reason":"timeout","alerted":false}}"#;
    let records = one(line);
    let event = only_event(&records);
    assert_eq!(event.src_ip, Some(ip("fe80::b085:ddff:fe50:a215")));
    assert_eq!(event.dst_ip, Some(ip("ff02::2")));
    assert_eq!(event.transport, Some(Transport::Icmp));
    assert_eq!(event.src_port, None);
}

#[test]
fn dns_http_tls_and_file_records_fill_command() {
    let cases = [
        (
            r#"{"timestamp":"2025-10-18T03:57:30.665480+0200","flow_id":1,"event_type":"dns","src_ip":"192.168.100.62","src_port":59686,"dest_ip":"192.168.100.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","queries":[{"rrname":"ads.mozilla.org","rrtype":"A"},{"rrname":"second.example","rrtype":"A"}]}}"#,
            EventKind::Dns,
            "ads.mozilla.org",
            "dns",
        ),
        (
            r#"{"timestamp":"2025-09-06T15:21:17.170933+0000","flow_id":2,"event_type":"dns","src_ip":"172.24.0.2","src_port":42781,"dest_ip":"10.255.255.254","dest_port":53,"proto":"UDP","dns":{"type":"query","id":39269,"rrname":"_http._tcp.archive.ubuntu.com","rrtype":"SRV","tx_id":0}}"#,
            EventKind::Dns,
            "_http._tcp.archive.ubuntu.com",
            "dns",
        ),
        (
            r#"{"timestamp":"2025-10-18T03:57:21.259752+0200","flow_id":3,"event_type":"mdns","src_ip":"fe80:0000:0000:0000:1b1f:1105:d401:a6a4","src_port":5353,"dest_ip":"ff02:0000:0000:0000:0000:0000:0000:00fb","dest_port":5353,"proto":"UDP","mdns":{"type":"request","queries":[{"rrname":"printer.local","rrtype":"a"}]}}"#,
            EventKind::Dns,
            "printer.local",
            "mdns",
        ),
        (
            r#"{"timestamp":"2025-09-06T15:21:21.154467+0000","flow_id":4,"event_type":"http","src_ip":"172.24.0.2","src_port":38570,"dest_ip":"185.125.190.82","dest_port":80,"proto":"TCP","tx_id":0,"http":{"hostname":"archive.ubuntu.com","url":"/ubuntu/pool/x.deb","http_method":"GET","protocol":"HTTP/1.1","status":"200","length":1448041}}"#,
            EventKind::HttpRequest,
            "GET /ubuntu/pool/x.deb",
            "http",
        ),
        (
            r#"{"timestamp":"2025-10-18T03:57:15.296607+0200","flow_id":5,"event_type":"quic","src_ip":"2a02:2f04:e104:3f00:2370:d47c:4774:d134","src_port":37048,"dest_ip":"2a00:1450:400c:0c0a:0000:0000:0000:0054","dest_port":443,"proto":"UDP","quic":{"version":"1","sni":"www.google.com"}}"#,
            EventKind::Tls,
            "www.google.com",
            "quic",
        ),
        (
            r#"{"timestamp":"2011-03-12T22:33:17.595416+0000","flow_id":6,"event_type":"fileinfo","src_ip":"192.168.24.201","src_port":80,"dest_ip":"192.168.204.59","dest_port":38011,"proto":"TCP","http":{"url":"/phppgadmin","http_method":"GET"},"app_proto":"http","fileinfo":{"filename":"/phppgadmin","state":"CLOSED","stored":false,"size":321,"tx_id":0}}"#,
            EventKind::FileInfo,
            "/phppgadmin",
            "http",
        ),
    ];
    for (line, kind, command, app_proto) in cases {
        let records = one(line);
        let event = only_event(&records);
        assert_eq!(event.kind, kind, "{line}");
        assert_eq!(event.command.as_deref(), Some(command), "{line}");
        assert_eq!(event.app_proto.as_deref(), Some(app_proto), "{line}");
    }
}

#[test]
fn other_event_types() {
    for (event_type, kind) in [
        ("ssh", EventKind::Ssh),
        ("dhcp", EventKind::Dhcp),
        ("tls", EventKind::Tls),
        ("anomaly", EventKind::Other),
    ] {
        let line = format!(
            r#"{{"timestamp":"2025-01-01T00:00:00Z","event_type":"{event_type}","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"17"}}"#
        );
        let records = one(&line);
        let event = only_event(&records);
        assert_eq!(event.kind, kind);
        assert_eq!(event.transport, Some(Transport::Udp));
    }
}

#[test]
fn stats_records_are_skipped_not_events() {
    let line = r#"{"timestamp":"2017-04-06T18:15:19.000142+0000","event_type":"stats","stats":{"uptime":8,"capture":{"kernel_packets":0},"decoder":{"pkts":0,"ipraw":{"invalid_ip_version":0}}}}"#;
    let records = one(line);
    assert_eq!(
        records,
        [Record::Skipped {
            reason: STATS_SKIP_REASON,
            offset: 0
        }]
    );
}

#[test]
fn daylight_saving_change_between_records() {
    // The home-lab log switches from +0200 to +0100 at the end of October.
    let lines = [
        r#"{"timestamp":"2025-10-26T02:59:00.000000+0200","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP","alert":{"signature":"a","severity":3}}"#,
        r#"{"timestamp":"2025-10-26T02:01:00.000000+0100","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP","alert":{"signature":"b","severity":3}}"#,
    ];
    let records = parse_lines(&mut parser(), &lines);
    let tally = Tally::of(&records);
    assert_eq!(tally.events[0].event_time, utc("2025-10-26T00:59:00Z"));
    assert_eq!(tally.events[1].event_time, utc("2025-10-26T01:01:00Z"));
    assert!(tally.events[0].event_time < tally.events[1].event_time);
}

#[test]
fn naive_timestamps_use_the_configured_zone() {
    let line = r#"{"timestamp":"1999-03-31T13:00:28.378229","pcap_cnt":8,"event_type":"alert","src_ip":"192.168.1.30","src_port":32772,"dest_ip":"172.16.112.5","dest_port":161,"proto":"UDP","alert":{"signature":"GPL SNMP public access udp","severity":2}}"#;
    let records = one(line);
    assert_eq!(
        only_event(&records).event_time,
        utc("1999-03-31T13:00:28.378229Z")
    );
    let mut opts = ParseOptions::new("ids1");
    opts.naive_timezone = chrono_tz::America::New_York;
    let records = parse_lines(&mut SuricataParser::new(opts), &[line]);
    assert_eq!(
        only_event(&records).event_time,
        utc("1999-03-31T18:00:28.378229Z")
    );
}

#[test]
fn bad_field_values_name_the_field() {
    let cases = [
        (
            ALERT.replace(r#""severity":2"#, r#""severity":"high""#),
            RejectReason::InvalidNumber,
            "alert.severity",
        ),
        (
            ALERT.replace(r#""alert":{"#, r#""alert":7,"x":{"#),
            RejectReason::WrongFieldType,
            "alert",
        ),
        (
            ALERT.replace(r#""pkts_toserver":1"#, r#""pkts_toserver":-1"#),
            RejectReason::InvalidNumber,
            "flow.pkts_toserver",
        ),
        (
            ALERT.replace(r#""dest_port":22"#, r#""dest_port":65536"#),
            RejectReason::InvalidPort,
            "dest_port",
        ),
        (
            ALERT.replace("192.168.0.2", "192.168.0"),
            RejectReason::InvalidIp,
            "192.168.0",
        ),
        (
            ALERT.replace(r#""event_type":"alert","#, ""),
            RejectReason::MissingField,
            "event_type",
        ),
        (
            ALERT.replace(
                "2015-03-29T11:01:38.221126-0600\",\"flow_id",
                "2015-03-29T11:01:38.221126-06:0\",\"flow_id",
            ),
            RejectReason::InvalidTimestamp,
            "-06:0",
        ),
    ];
    for (line, reason, named) in cases {
        let records = one(&line);
        let rejection = only_rejection(&records);
        assert_eq!(rejection.reason, reason, "{line}");
        assert!(rejection.detail.contains(named), "{}", rejection.detail);
    }
}

/// A pretty-printed array as `jq` writes it, offsets and all.
fn pretty_array(elements: &[&str]) -> String {
    let mut text = String::from("[\n");
    for (i, element) in elements.iter().enumerate() {
        text.push_str("  ");
        text.push_str(element);
        if i + 1 < elements.len() {
            text.push(',');
        }
        text.push('\n');
    }
    text.push_str("]\n");
    text
}

#[test]
fn json_array_with_a_malformed_element_in_the_middle() {
    let first = "{\n    \"timestamp\": \"2019-01-02T03:50:11.315110\",\n    \"event_type\": \"alert\",\n    \"src_ip\": \"8.42.77.171\",\n    \"dest_ip\": \"138.68.3.71\",\n    \"proto\": \"TCP\",\n    \"alert\": {\"signature\": \"ET SCAN {brace} [bracket] \\\"quoted\\\"\", \"severity\": 2}\n  }";
    let broken =
        "{\n    \"timestamp\": \"2019-01-02T03:50:12\",\n    \"event_type\" \"alert\"\n  }";
    let third = r#"{"timestamp": "2019-01-02T03:50:13", "event_type": "flow", "src_ip": "8.42.77.171", "dest_ip": "138.68.3.71", "proto": "UDP"}"#;
    let text = pretty_array(&[first, broken, third]);
    let records = parse_input(&mut parser(), "alerts-only.json", text.as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 2);
    assert_eq!(
        tally.events[0].signature.as_deref(),
        Some("ET SCAN {brace} [bracket] \"quoted\"")
    );
    assert_eq!(tally.events[1].kind, EventKind::Flow);
    assert_eq!(tally.reasons(), [RejectReason::MalformedJson]);
    let offsets = |needle: &str| text.find(needle).map(|at| at as u64);
    assert_eq!(Some(tally.events[0].origin.offset), offsets(first));
    assert_eq!(Some(tally.rejected[0].offset), offsets(broken));
    assert_eq!(Some(tally.events[1].origin.offset), offsets(third));
}

#[test]
fn json_array_cut_short() {
    let element = r#"{"timestamp": "2019-01-02T03:50:13", "event_type": "flow"}"#;
    // Cut inside the second element.
    let text = format!("[\n  {element},\n  {{\"timestamp\": \"2019-");
    let records = parse_input(&mut parser(), "cut.json", text.as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 1);
    assert_eq!(tally.reasons(), [RejectReason::TruncatedRecord]);
    // All elements complete, closing bracket missing.
    let text = format!("[\n  {element}\n");
    let records = parse_input(&mut parser(), "cut.json", text.as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 1);
    assert_eq!(tally.reasons(), [RejectReason::TruncatedRecord]);
    assert_eq!(tally.rejected[0].offset, 0);
}

#[test]
fn array_elements_that_are_not_objects_or_not_json() {
    let element = r#"{"timestamp": "2019-01-02T03:50:13", "event_type": "flow"}"#;
    let text = format!("[\n  {element},\n  42,\n  [1, 2],\n  {element}\n]\ntrailing garbage\n");
    let records = parse_input(&mut parser(), "odd.json", text.as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 2);
    assert_eq!(
        tally.reasons(),
        [
            RejectReason::NotAnObject,
            RejectReason::NotAnObject,
            RejectReason::MalformedJson
        ]
    );
}

#[test]
fn last_line_without_newline_is_a_record() {
    let data = format!("{ALERT}\n{ALERT}");
    let records = parse_input(&mut parser(), "eve.json", data.as_bytes());
    assert_eq!(Tally::of(&records).events.len(), 2);
}

#[test]
fn json_array_after_a_byte_order_mark() {
    let element = r#"{"timestamp": "2019-01-02T03:50:13", "event_type": "flow"}"#;
    let text = format!("\u{feff}[\n  {element}\n]\n");
    for mut parser in [
        vigil_sensors::parser_for(vigil_sensors::Format::Suricata, ParseOptions::new("ids1")),
        vigil_sensors::parser_for(vigil_sensors::Format::Auto, ParseOptions::new("ids1")),
    ] {
        let records = parse_input(parser.as_mut(), "bom.json", text.as_bytes());
        let event = only_event(&records);
        assert_eq!(
            Some(event.origin.offset),
            text.find(element).map(|at| at as u64)
        );
        assert_eq!(parser.format(), vigil_sensors::Format::Suricata);
    }
}
