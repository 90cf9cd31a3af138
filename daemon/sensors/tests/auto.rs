//! `--format auto`: recognition per input, bounded buffering, honest rejection counts.

mod common;

use vigil_sensors::detect::{AutoParser, DETECT_MAX_LINES, detect_format};
use vigil_sensors::{EventKind, Format, ParseOptions, RecordParser, RejectReason, parser_for};

use common::{Tally, only_rejection, parse_input};

fn auto() -> Box<dyn RecordParser> {
    parser_for(Format::Auto, ParseOptions::new("any"))
}

const COWRIE_CONNECT: &str = r#"{"eventid":"cowrie.session.connect","src_ip":"200.60.92.170","src_port":44070,"dst_ip":"172.25.0.2","dst_port":22,"session":"026c5bfa496b","protocol":"ssh","timestamp":"2022-06-01T14:33:54.902527Z"}"#;
const COWRIE_CLOSED: &str = r#"{"eventid":"cowrie.session.closed","duration":3.0,"src_ip":"200.60.92.170","session":"026c5bfa496b","timestamp":"2022-06-01T14:33:58Z"}"#;
const EVE: &str = r#"{"timestamp":"2025-09-06T15:21:17.170933+0000","event_type":"dns","src_ip":"172.24.0.2","dest_ip":"10.255.255.254","proto":"UDP","dns":{"rrname":"example.org"}}"#;

#[test]
fn each_input_is_recognised_afresh_and_the_parser_is_kept_when_the_format_repeats() {
    let mut parser = auto();
    let records = parse_input(
        parser.as_mut(),
        "cowrie.json.1",
        format!("{COWRIE_CONNECT}\n").as_bytes(),
    );
    assert_eq!(parser.format(), Format::Cowrie);
    assert_eq!(Tally::of(&records).events.len(), 1);

    let records = parse_input(
        parser.as_mut(),
        "eve.json",
        format!("{EVE}\n{EVE}\n").as_bytes(),
    );
    assert_eq!(parser.format(), Format::Suricata);
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 2);
    assert_eq!(tally.events[1].command.as_deref(), Some("example.org"));

    // Back to Cowrie: a fresh Cowrie parser, so the earlier session is unknown.
    let records = parse_input(parser.as_mut(), "cowrie.json.2", COWRIE_CLOSED.as_bytes());
    assert_eq!(parser.format(), Format::Cowrie);
    assert_eq!(Tally::of(&records).events[0].src_port, None);

    // Cowrie twice in a row: the same parser carries the session across the files.
    let records = parse_input(parser.as_mut(), "cowrie.json.3", COWRIE_CONNECT.as_bytes());
    assert_eq!(Tally::of(&records).events.len(), 1);
    let records = parse_input(parser.as_mut(), "cowrie.json", COWRIE_CLOSED.as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events[0].kind, EventKind::Disconnect);
    assert_eq!(tally.events[0].src_port, Some(44070));
    assert_eq!(&*tally.events[0].origin.source, "cowrie.json");
}

#[test]
fn a_byte_order_mark_and_blank_lines_before_the_first_record() {
    let data = format!("\u{feff}\n\n{COWRIE_CONNECT}\r\n");
    let records = parse_input(auto().as_mut(), "bom.json", data.as_bytes());
    let tally = Tally::of(&records);
    assert!(tally.rejected.is_empty(), "{:?}", tally.rejected);
    assert_eq!(tally.events.len(), 1);
    assert_eq!(tally.events[0].origin.offset, 5);

    let data = format!("\u{feff}{COWRIE_CONNECT}\n");
    let records = parse_input(auto().as_mut(), "bom.json", data.as_bytes());
    let tally = Tally::of(&records);
    assert!(tally.rejected.is_empty(), "{:?}", tally.rejected);
    assert_eq!(tally.events.len(), 1);
}

#[test]
fn unrecognised_input_rejects_every_line_once() {
    let lines = DETECT_MAX_LINES + 6;
    let mut data = String::new();
    for i in 0..lines {
        data.push_str(&format!("plain text line {i}\n\n"));
    }
    let mut parser = auto();
    let records = parse_input(parser.as_mut(), "notes.txt", data.as_bytes());
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 0);
    assert_eq!(
        tally.rejected.len(),
        lines,
        "one rejection per non-blank line"
    );
    assert!(
        tally
            .reasons()
            .iter()
            .all(|&r| r == RejectReason::UnknownFormat)
    );
    let mut offsets: Vec<u64> = tally.rejected.iter().map(|r| r.offset).collect();
    offsets.dedup();
    assert_eq!(offsets.len(), lines, "each line rejected at its own offset");
    assert!(tally.rejected[0].detail.contains("notes.txt"));
    assert_eq!(parser.format(), Format::Auto);

    // A short undecidable input is rejected when it ends.
    let records = parse_input(parser.as_mut(), "short.txt", b"a\nb\nc");
    let tally = Tally::of(&records);
    assert_eq!(tally.reasons(), [RejectReason::UnknownFormat; 3]);
}

#[test]
fn json_that_matches_no_sensor_is_unknown() {
    let data = "{\"hello\": \"world\"}\n{\"hello\": 2}\n";
    let records = parse_input(auto().as_mut(), "other.json", data.as_bytes());
    assert_eq!(
        Tally::of(&records).reasons(),
        [RejectReason::UnknownFormat, RejectReason::UnknownFormat]
    );
}

#[test]
fn empty_and_binary_inputs() {
    for data in ["", "\n", " \r\n\n"] {
        let records = parse_input(auto().as_mut(), "empty.log", data.as_bytes());
        assert_eq!(only_rejection(&records).reason, RejectReason::EmptyInput);
    }
    let binary = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\nmore\x00bytes\nand text\n";
    let records = parse_input(auto().as_mut(), "cowrie.json.gz", binary);
    let tally = Tally::of(&records);
    assert_eq!(tally.reasons(), [RejectReason::BinaryData; 3]);
    assert!(tally.rejected[0].detail.contains("cowrie.json.gz"));
}

#[test]
fn pretty_printed_arrays_are_recognised_past_the_line_limit() {
    // A first element longer than the line limit: only the byte limit applies to arrays.
    let mut element = String::from("  {\n    \"timestamp\": \"2019-01-02T03:50:11\",\n");
    for i in 0..DETECT_MAX_LINES {
        element.push_str(&format!("    \"k{i}\": {i},\n"));
    }
    element.push_str("    \"event_type\": \"alert\"\n  }");
    let data = format!("[\n{element}\n]\n");
    let mut parser = auto();
    let records = parse_input(parser.as_mut(), "alerts.json", data.as_bytes());
    assert_eq!(parser.format(), Format::Suricata);
    let tally = Tally::of(&records);
    assert_eq!(tally.events.len(), 1);
    assert!(tally.rejected.is_empty(), "{:?}", tally.rejected);
}

#[test]
fn csv_datasets_go_to_the_flow_parsers() {
    let unsw = "\u{feff}id,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,sttl,dttl,sload,dload,sloss,dloss,sinpkt,dinpkt,sjit,djit,swin,stcpb,dtcpb,dwin,tcprtt,synack,ackdat,smean,dmean,trans_depth,response_body_len,ct_srv_src,ct_state_ttl,ct_dst_ltm,ct_src_dport_ltm,ct_dst_sport_ltm,ct_dst_src_ltm,is_ftp_login,ct_ftp_cmd,ct_flw_http_mthd,ct_src_ltm,ct_srv_dst,is_sm_ips_ports,attack_cat,label\r\n1,0.000011,udp,-,INT,2,0,496,0,90909.0902,254,0,180363632,0,0,0,0.011,0,0,0,0,0,0,0,0,0,0,248,0,0,0,2,2,1,1,1,2,0,0,0,1,2,0,Normal,0\r\n";
    let kdd = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20\r\n";
    let generic = "f0,f1,f2,label\n-2.30,5.37,10.71,0\n";
    let mut parser = auto();
    for (data, format) in [
        (unsw, Format::Unsw),
        (kdd, Format::Nslkdd),
        (generic, Format::Csv),
    ] {
        let records = parse_input(parser.as_mut(), "flows.csv", data.as_bytes());
        assert_eq!(parser.format(), format);
        let tally = Tally::of(&records);
        assert_eq!(tally.events.len(), 1, "{format}: {:?}", tally.rejected);
        assert!(tally.rejected.is_empty(), "{format}: {:?}", tally.rejected);
    }
}

/// Under `auto`, the datasets without timestamps of one source share one row count, also
/// when their formats alternate, so that event time never runs backwards in the source.
#[test]
fn timeless_datasets_keep_counting_rows_across_inputs_and_formats() {
    let unsw = "\u{feff}id,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,sttl,dttl,sload,dload,sloss,dloss,sinpkt,dinpkt,sjit,djit,swin,stcpb,dtcpb,dwin,tcprtt,synack,ackdat,smean,dmean,trans_depth,response_body_len,ct_srv_src,ct_state_ttl,ct_dst_ltm,ct_src_dport_ltm,ct_dst_sport_ltm,ct_dst_src_ltm,is_ftp_login,ct_ftp_cmd,ct_flw_http_mthd,ct_src_ltm,ct_srv_dst,is_sm_ips_ports,attack_cat,label\r\n1,0.000011,udp,-,INT,2,0,496,0,90909.0902,254,0,180363632,0,0,0,0.011,0,0,0,0,0,0,0,0,0,0,248,0,0,0,2,2,1,1,1,2,0,0,0,1,2,0,Normal,0\r\n2,0.000008,udp,-,INT,2,0,1762,0,125000.0003,254,0,881000000,0,0,0,0.008,0,0,0,0,0,0,0,0,0,0,881,0,0,0,2,2,1,1,1,2,0,0,0,1,2,0,Normal,0\r\n";
    let kdd = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20\r\n";
    let generic = "f0,f1,f2,label\n-2.30,5.37,10.71,0\n";
    let mut parser = auto();
    let mut times = Vec::new();
    for (name, data) in [
        ("a.csv", unsw),
        ("b.txt", kdd),
        ("c.json", COWRIE_CONNECT),
        ("d.csv", unsw),
        ("e.csv", generic),
    ] {
        let records = parse_input(parser.as_mut(), name, data.as_bytes());
        let tally = Tally::of(&records);
        assert!(tally.rejected.is_empty(), "{name}: {:?}", tally.rejected);
        if name.ends_with(".json") {
            continue;
        }
        times.extend(
            tally
                .events
                .iter()
                .map(|event| event.event_time.timestamp_millis()),
        );
    }
    assert_eq!(times, [0, 1, 2, 3, 4, 5]);
}

/// What `auto` recognises as NSL-KDD, the NSL-KDD parser reads: also the KDD Cup 99
/// layout (no difficulty level, labels ending in `.`).
#[test]
fn kdd_cup_99_rows_are_recognised_and_read() {
    let data = "0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.\n0,icmp,ecr_i,SF,1032,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,511,511,0.00,0.00,0.00,0.00,1.00,0.00,0.00,255,255,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,smurf.\n";
    let mut parser = auto();
    let records = parse_input(parser.as_mut(), "kddcup.data_10_percent", data.as_bytes());
    assert_eq!(parser.format(), Format::Nslkdd);
    let tally = Tally::of(&records);
    assert!(tally.rejected.is_empty(), "{:?}", tally.rejected);
    let labels: Vec<(&str, bool)> = tally
        .events
        .iter()
        .filter_map(|event| event.label.as_ref())
        .map(|label| (&*label.class, label.anomalous))
        .collect();
    assert_eq!(labels, [("normal", false), ("smurf", true)]);

    // Rows of both layouts in one input are neither recognised nor read.
    let nsl = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20";
    let cup = data.lines().next().unwrap_or_default();
    assert_eq!(detect_format(&[nsl.as_bytes(), cup.as_bytes()]), None);
}

#[test]
fn detection_from_first_lines() {
    let cowrie: &[u8] = COWRIE_CONNECT.as_bytes();
    assert_eq!(detect_format(&[b"", cowrie]), Some(Format::Cowrie));
    assert_eq!(detect_format(&[EVE.as_bytes()]), Some(Format::Suricata));
    // An array whose first element has not ended yet does not tell.
    assert_eq!(
        detect_format(&[b"[", b"  {", b"    \"event_type\": \"alert\","]),
        None
    );
    assert_eq!(detect_format(&[]), None);
    assert_eq!(detect_format(&[b"{\"eventid\":\"cowrie.x\"}\0"]), None);
}

#[test]
fn auto_parser_reports_what_it_found() {
    let mut parser = AutoParser::new(ParseOptions::new("any"));
    assert_eq!(parser.detected(), None);
    let records = parse_input(&mut parser, "eve.json", EVE.as_bytes());
    assert_eq!(parser.detected(), Some(Format::Suricata));
    assert_eq!(Tally::of(&records).events.len(), 1);
    parser.begin_input("next".into());
    assert_eq!(parser.detected(), None);
}
