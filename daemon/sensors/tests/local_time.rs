//! Naive local times (no offset written) mean the same instant in every format: the JSON
//! logs (Dionaea, Tanner, Suricata) and CIC-IDS2017 cells follow one rule, also in the hour
//! skipped when clocks go forward and the hour repeated when they go back.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{only_event, parse_lines};
use vigil_sensors::dionaea::DionaeaParser;
use vigil_sensors::flows::CicIdsParser;
use vigil_sensors::suricata::SuricataParser;
use vigil_sensors::tanner::TannerParser;
use vigil_sensors::{Event, ParseOptions, Record, RecordParser};

fn utc(text: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => panic!("bad reference time {text}: {e}"),
    }
}

fn opts(zone: chrono_tz::Tz) -> ParseOptions {
    let mut opts = ParseOptions::new("tz");
    opts.naive_timezone = zone;
    opts
}

/// The event time each format gives the naive local time `local` (`YYYY-MM-DD HH:MM:SS`)
/// in `zone`, by format name.
fn event_times(local: &str, zone: chrono_tz::Tz) -> Vec<(&'static str, DateTime<Utc>)> {
    let iso = local.replace(' ', "T");
    let dionaea = format!(
        r#"{{"connection": {{"protocol": "smbd", "transport": "tcp", "type": "accept"}}, "dst_ip": "172.28.0.2", "dst_port": 445, "src_hostname": "", "src_ip": "78.104.37.230", "src_port": 39926, "timestamp": "{iso}.000000"}}"#
    );
    let tanner = format!(
        r#"{{"method": "GET", "path": "/", "uuid": "7e58", "peer": {{"ip": "149.100.11.243", "port": 42870}}, "timestamp": "{iso}"}}"#
    );
    let suricata = format!(
        r#"{{"timestamp":"{iso}","event_type":"alert","src_ip":"192.168.1.30","src_port":32772,"dest_ip":"172.16.112.5","dest_port":161,"proto":"UDP","alert":{{"signature":"GPL SNMP public access udp","severity":2}}}}"#
    );
    let mut times = vec![
        (
            "dionaea",
            only_event(&parse_lines(
                &mut DionaeaParser::new(opts(zone)),
                &[&dionaea],
            ))
            .event_time,
        ),
        (
            "tanner",
            only_event(&parse_lines(&mut TannerParser::new(opts(zone)), &[&tanner])).event_time,
        ),
        (
            "suricata",
            only_event(&parse_lines(
                &mut SuricataParser::new(opts(zone)),
                &[&suricata],
            ))
            .event_time,
        ),
    ];
    times.push(("cicids", cicids_event(local, zone).event_time));
    times
}

/// One CIC-IDS2017 row (improved release) whose `Timestamp` is `local`.
fn cicids_event(local: &str, zone: chrono_tz::Tz) -> Event {
    let mut parser = CicIdsParser::new(opts(zone));
    let names: Vec<String> = parser
        .numeric_columns()
        .iter()
        .map(|name| name.to_string())
        .collect();
    let header = format!(
        "Src IP,Src Port,Dst IP,Dst Port,Timestamp,Label,{}",
        names.join(",")
    );
    let mut row = format!("172.16.0.1,40000,192.168.10.50,80,{local},BENIGN");
    for name in &names {
        row.push_str(if name == "Protocol" { ",6" } else { ",0" });
    }
    let mut out = Vec::new();
    parser.begin_input(Arc::from("cic.csv"));
    parser.feed(header.as_bytes(), 0, true, &mut out);
    parser.feed(row.as_bytes(), header.len() as u64 + 1, true, &mut out);
    match out.pop() {
        Some(Record::Event(event)) => *event,
        other => panic!("{local}: {other:?}"),
    }
}

fn assert_every_format_gives(local: &str, zone: chrono_tz::Tz, expected: &str) {
    for (format, time) in event_times(local, zone) {
        assert_eq!(time, utc(expected), "{format}: {local} in {zone}");
    }
}

#[test]
fn a_skipped_local_time_is_read_with_the_offset_before_the_change_in_every_format() {
    // Berlin, 2017-03-26: 02:00 CET (+01:00) became 03:00 CEST; 02:30 is read at +01:00.
    assert_every_format_gives(
        "2017-03-26 02:30:00",
        chrono_tz::Europe::Berlin,
        "2017-03-26T01:30:00Z",
    );
    // New York, 2017-03-12: 02:00 EST (-05:00) became 03:00 EDT; 02:30 is read at -05:00.
    assert_every_format_gives(
        "2017-03-12 02:30:00",
        chrono_tz::America::New_York,
        "2017-03-12T07:30:00Z",
    );
    // Lord Howe Island, 2017-10-01: 02:00 (+10:30) became 02:30 (+11:00), a half-hour gap.
    assert_every_format_gives(
        "2017-10-01 02:15:00",
        chrono_tz::Australia::Lord_Howe,
        "2017-09-30T15:45:00Z",
    );
}

#[test]
fn a_repeated_local_time_is_its_first_occurrence_in_every_format() {
    // Berlin, 2017-10-29: 02:30 happens at +02:00 (00:30Z), then at +01:00 (01:30Z).
    assert_every_format_gives(
        "2017-10-29 02:30:00",
        chrono_tz::Europe::Berlin,
        "2017-10-29T00:30:00Z",
    );
}

#[test]
fn ordinary_local_times_agree_in_every_format() {
    assert_every_format_gives(
        "2017-07-07 12:59:21",
        chrono_tz::America::Halifax,
        "2017-07-07T15:59:21Z",
    );
    assert_every_format_gives(
        "2017-07-07 12:59:21",
        chrono_tz::UTC,
        "2017-07-07T12:59:21Z",
    );
}
