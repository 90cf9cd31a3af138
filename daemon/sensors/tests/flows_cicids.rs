//! CIC-IDS2017 (improved release): every sample file end to end, field mapping, bad input.

mod flows_support;

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{NaiveDateTime, TimeZone};
use flows_support::{f64_of, feed_input, records, rejections, shared_bytes};
use vigil_sensors::flows::{CicIdsParser, INFINITE_FEATURE_VALUE, NAN_FEATURE_VALUE};
use vigil_sensors::{
    EventKind, ParseOptions, Record, RecordParser, RejectReason, Sensor, TCP_ACK, TCP_FIN, TCP_PSH,
    TCP_RST, TCP_SYN, TCP_URG, Transport,
};

const CIC_DIR: &str = "data/cic-ids2017-improved-sample";
const CIC_FILES: [&str; 5] = [
    "BENIGN_2500.csv",
    "DDoS_2500.csv",
    "FTP-Patator_2500.csv",
    "Portscan_2500.csv",
    "SSH-Patator_2500.csv",
];

/// The header of the improved release, in file order.
const HEADER: &str = "id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,Fwd Packet Length Max,Fwd Packet Length Min,Fwd Packet Length Mean,Fwd Packet Length Std,Bwd Packet Length Max,Bwd Packet Length Min,Bwd Packet Length Mean,Bwd Packet Length Std,Flow Bytes/s,Flow Packets/s,Flow IAT Mean,Flow IAT Std,Flow IAT Max,Flow IAT Min,Fwd IAT Total,Fwd IAT Mean,Fwd IAT Std,Fwd IAT Max,Fwd IAT Min,Bwd IAT Total,Bwd IAT Mean,Bwd IAT Std,Bwd IAT Max,Bwd IAT Min,Fwd PSH Flags,Bwd PSH Flags,Fwd URG Flags,Bwd URG Flags,Fwd RST Flags,Bwd RST Flags,Fwd Header Length,Bwd Header Length,Fwd Packets/s,Bwd Packets/s,Packet Length Min,Packet Length Max,Packet Length Mean,Packet Length Std,Packet Length Variance,FIN Flag Count,SYN Flag Count,RST Flag Count,PSH Flag Count,ACK Flag Count,URG Flag Count,CWR Flag Count,ECE Flag Count,Down/Up Ratio,Average Packet Size,Fwd Segment Size Avg,Bwd Segment Size Avg,Fwd Bytes/Bulk Avg,Fwd Packet/Bulk Avg,Fwd Bulk Rate Avg,Bwd Bytes/Bulk Avg,Bwd Packet/Bulk Avg,Bwd Bulk Rate Avg,Subflow Fwd Packets,Subflow Fwd Bytes,Subflow Bwd Packets,Subflow Bwd Bytes,FWD Init Win Bytes,Bwd Init Win Bytes,Fwd Act Data Pkts,Fwd Seg Size Min,Active Mean,Active Std,Active Max,Active Min,Idle Mean,Idle Std,Idle Max,Idle Min,ICMP Code,ICMP Type,Total TCP Flow Time,Label,Attempted Category";

/// Columns that are not numeric features.
const NOT_NUMERIC: [&str; 9] = [
    "id",
    "Flow ID",
    "Src IP",
    "Src Port",
    "Dst IP",
    "Dst Port",
    "Timestamp",
    "Label",
    "Attempted Category",
];

/// A hand-written row for [`HEADER`]: identifying cells as given, every numeric cell a
/// distinct value derived from its position (so swapped columns show), flags set for FIN,
/// SYN and ACK only.
fn row_with(overrides: &[(&str, &str)]) -> String {
    let cells: Vec<String> = HEADER
        .split(',')
        .enumerate()
        .map(|(position, name)| {
            if let Some((_, value)) = overrides.iter().find(|(column, _)| *column == name) {
                return value.to_string();
            }
            match name {
                "id" => "99".into(),
                "Flow ID" => "172.16.0.1-192.168.10.50-40000-80-6".into(),
                "Src IP" => "172.16.0.1".into(),
                "Src Port" => "40000".into(),
                "Dst IP" => "192.168.10.50".into(),
                "Dst Port" => "80".into(),
                "Protocol" => "6".into(),
                "Timestamp" => "2017-07-07 12:59:21.088203".into(),
                "Flow Duration" => "2500000".into(),
                "FIN Flag Count" | "SYN Flag Count" | "ACK Flag Count" => "2".into(),
                "RST Flag Count" | "PSH Flag Count" | "URG Flag Count" => "0".into(),
                "Label" => "DDoS".into(),
                "Attempted Category" => "-1".into(),
                _ => format!("{}", position * 10),
            }
        })
        .collect();
    cells.join(",")
}

fn column(name: &str) -> usize {
    HEADER.split(',').position(|h| h == name).unwrap()
}

#[test]
fn every_sample_file_parses_completely_and_matches_an_independent_reading() {
    for file in CIC_FILES {
        let Some(bytes) = shared_bytes(&format!("{CIC_DIR}/{file}")) else {
            return;
        };
        let mut reader = csv::Reader::from_reader(&bytes[..]);
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let numeric_positions: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, name)| !NOT_NUMERIC.contains(&name.as_str()))
            .map(|(position, _)| position)
            .collect();
        let mut expected_classes = BTreeMap::new();
        let mut expected_anomalous = 0;
        let mut rows = reader.records();

        let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
        let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
        assert_eq!(
            names,
            numeric_positions
                .iter()
                .map(|&p| header[p].as_str())
                .collect::<Vec<_>>()
        );
        let tally = feed_input(&mut parser, file, &bytes, |event| {
            let row = rows.next().expect("more events than rows").unwrap();
            let cell = |name: &str| row.get(column(name)).unwrap();
            *expected_classes
                .entry(cell("Label").to_string())
                .or_insert(0usize) += 1;
            expected_anomalous += usize::from(cell("Label") != "BENIGN");

            let time = NaiveDateTime::parse_from_str(cell("Timestamp"), "%Y-%m-%d %H:%M:%S%.f")
                .unwrap()
                .and_utc();
            assert_eq!(event.event_time, time);
            assert_eq!(
                event.src_ip,
                Some(cell("Src IP").parse::<IpAddr>().unwrap())
            );
            assert_eq!(
                event.dst_ip,
                Some(cell("Dst IP").parse::<IpAddr>().unwrap())
            );
            assert_eq!(event.src_port, Some(cell("Src Port").parse().unwrap()));
            assert_eq!(event.dst_port, Some(cell("Dst Port").parse().unwrap()));
            assert_eq!(event.transport, Some(Transport::parse(cell("Protocol"))));
            assert_eq!(event.session.as_deref(), Some(cell("Flow ID")));
            assert_eq!(
                event.duration_secs,
                Some(f64_of(cell("Flow Duration")) / 1e6)
            );
            assert_eq!(
                event.packets_out,
                Some(cell("Total Fwd Packet").parse().unwrap())
            );
            assert_eq!(
                event.packets_in,
                Some(cell("Total Bwd packets").parse().unwrap())
            );
            assert_eq!(
                event.bytes_out,
                Some(cell("Total Length of Fwd Packet").parse().unwrap())
            );
            assert_eq!(
                event.bytes_in,
                Some(cell("Total Length of Bwd Packet").parse().unwrap())
            );
            if cell("Protocol") == "6" {
                let mut flags = 0;
                for (name, bit) in [
                    ("FIN Flag Count", TCP_FIN),
                    ("SYN Flag Count", TCP_SYN),
                    ("RST Flag Count", TCP_RST),
                    ("PSH Flag Count", TCP_PSH),
                    ("ACK Flag Count", TCP_ACK),
                    ("URG Flag Count", TCP_URG),
                ] {
                    if cell(name) != "0" {
                        flags |= bit;
                    }
                }
                assert_eq!(event.tcp_flags, Some(flags));
            } else {
                assert_eq!(event.tcp_flags, None);
            }
            let numeric: Vec<f64> = numeric_positions.iter().map(|&p| f64_of(&row[p])).collect();
            assert_eq!(event.numeric, numeric);
        });
        assert!(rows.next().is_none(), "{file}: rows left without an event");
        assert!(
            tally.rejections.is_empty(),
            "{file}: {:?}",
            &tally.rejections[..tally.rejections.len().min(5)]
        );
        assert_eq!(tally.skipped.get("csv_header"), Some(&1), "{file}");
        // SOURCES.md: 2,500 rows of a single class per file.
        assert_eq!(tally.events, 2_500, "{file}");
        assert_eq!(expected_classes.len(), 1, "{file}");
        assert_eq!(tally.classes, expected_classes, "{file}");
        assert_eq!(tally.anomalous, expected_anomalous, "{file}");
    }
}

#[test]
fn a_hand_written_row_maps_to_every_field() {
    let mut opts = ParseOptions::new("cic-lab");
    opts.naive_timezone = chrono_tz::America::Halifax;
    let mut parser = CicIdsParser::new(opts);
    let row = row_with(&[]);
    let records = records(&mut parser, &format!("{HEADER}\n{row}\n"));
    let Record::Event(event) = &records[1] else {
        panic!("{records:?}");
    };
    assert_eq!(event.sensor, Sensor::Cicids);
    assert_eq!(&*event.sensor_id, "cic-lab");
    assert_eq!(event.kind, EventKind::Flow);
    assert_eq!(event.origin.offset, HEADER.len() as u64 + 1);
    // 12:59 in Halifax (ADT, UTC-3) in July.
    let expected = chrono::Utc
        .with_ymd_and_hms(2017, 7, 7, 15, 59, 21)
        .unwrap()
        + chrono::TimeDelta::microseconds(88_203);
    assert_eq!(event.event_time, expected);
    assert_eq!(event.src_ip, Some("172.16.0.1".parse().unwrap()));
    assert_eq!(event.src_port, Some(40000));
    assert_eq!(event.dst_ip, Some("192.168.10.50".parse().unwrap()));
    assert_eq!(event.dst_port, Some(80));
    assert_eq!(event.transport, Some(Transport::Tcp));
    assert_eq!(event.duration_secs, Some(2.5));
    assert_eq!(
        event.packets_out,
        Some(column("Total Fwd Packet") as u64 * 10)
    );
    assert_eq!(
        event.packets_in,
        Some(column("Total Bwd packets") as u64 * 10)
    );
    assert_eq!(
        event.bytes_out,
        Some(column("Total Length of Fwd Packet") as u64 * 10)
    );
    assert_eq!(
        event.bytes_in,
        Some(column("Total Length of Bwd Packet") as u64 * 10)
    );
    assert_eq!(event.tcp_flags, Some(TCP_FIN | TCP_SYN | TCP_ACK));
    assert_eq!(
        event.session.as_deref(),
        Some("172.16.0.1-192.168.10.50-40000-80-6")
    );
    let label = event.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("DDoS", true));
    let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
    assert_eq!(names.len(), 82);
    let cells: Vec<&str> = row.split(',').collect();
    for (name, value) in names.iter().zip(&event.numeric) {
        assert_eq!(*value, f64_of(cells[column(name)]), "{name}");
    }
}

#[test]
fn udp_flows_have_no_tcp_flags_and_benign_is_normal() {
    let row = row_with(&[("Protocol", "17"), ("Label", "BENIGN"), ("Flow ID", "")]);
    let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
    let records = records(&mut parser, &format!("{HEADER}\n{row}\n"));
    let Record::Event(event) = &records[1] else {
        panic!("{records:?}");
    };
    assert_eq!(event.transport, Some(Transport::Udp));
    assert_eq!(event.tcp_flags, None);
    assert_eq!(event.session, None);
    let label = event.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("BENIGN", false));
}

/// Addresses are read as in the JSON logs, so one host has one address in every format.
#[test]
fn addresses_are_read_like_those_of_the_json_logs() {
    let row = row_with(&[("Src IP", "::ffff:172.16.0.1"), ("Dst IP", "fe80::1%eth0")]);
    let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
    let records = records(&mut parser, &format!("{HEADER}\n{row}\n"));
    let Record::Event(event) = &records[1] else {
        panic!("{records:?}");
    };
    assert_eq!(
        event.src_ip,
        Some(IpAddr::V4(std::net::Ipv4Addr::new(172, 16, 0, 1)))
    );
    assert_eq!(
        event.dst_ip,
        Some(IpAddr::V6(std::net::Ipv6Addr::new(
            0xfe80, 0, 0, 0, 0, 0, 0, 1
        )))
    );
    // The shared reading, for the same cells.
    assert_eq!(
        event.src_ip,
        vigil_sensors::net::parse_ip("::ffff:172.16.0.1").ok()
    );
    assert_eq!(
        event.dst_ip,
        vigil_sensors::net::parse_ip("fe80::1%eth0").ok()
    );
}

#[test]
fn infinity_and_nan_become_documented_finite_features() {
    let row = row_with(&[("Flow Bytes/s", "Infinity"), ("Flow Packets/s", "NaN")]);
    let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
    let records = records(&mut parser, &format!("{HEADER}\n{row}\n"));
    let Record::Event(event) = &records[1] else {
        panic!("{records:?}");
    };
    let position = |name: &str| {
        parser
            .numeric_columns()
            .iter()
            .position(|n| &**n == name)
            .unwrap()
    };
    assert_eq!(
        event.numeric[position("Flow Bytes/s")],
        INFINITE_FEATURE_VALUE
    );
    assert_eq!(event.numeric[position("Flow Packets/s")], NAN_FEATURE_VALUE);
    assert!(event.numeric.iter().all(|v| v.is_finite()));
}

#[test]
fn bad_cells_are_rejected_with_the_right_reason() {
    let cases = [
        (
            ("Src IP", "172.16.0.256"),
            RejectReason::InvalidIp,
            "172.16.0.256",
        ),
        (
            ("Dst IP", "192.168.010.50"),
            RejectReason::InvalidIp,
            "Dst IP",
        ),
        (("Dst IP", ""), RejectReason::InvalidIp, "Dst IP"),
        (
            ("Src Port", "70000"),
            RejectReason::InvalidPort,
            "port \"70000\" is above 65535",
        ),
        (
            ("Dst Port", "http"),
            RejectReason::InvalidPort,
            "not a number",
        ),
        (
            ("Timestamp", "7/7/2017 8:59"),
            RejectReason::InvalidTimestamp,
            "7/7/2017 8:59",
        ),
        (
            ("Timestamp", "2017-02-30 10:00:00"),
            RejectReason::InvalidTimestamp,
            "Timestamp",
        ),
        (
            ("Flow Duration", "-5"),
            RejectReason::InvalidNumber,
            "Flow Duration",
        ),
        (
            ("Total Fwd Packet", "1.5"),
            RejectReason::InvalidNumber,
            "Total Fwd Packet",
        ),
        (
            ("Total Length of Bwd Packet", "Infinity"),
            RejectReason::InvalidNumber,
            "Total Length of Bwd Packet",
        ),
        (("Idle Std", "n/a"), RejectReason::InvalidNumber, "Idle Std"),
        (("Label", ""), RejectReason::MissingField, "Label"),
    ];
    for ((name, value), reason, needle) in cases {
        let row = row_with(&[(name, value)]);
        let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
        let records = records(&mut parser, &format!("{HEADER}\n{row}\n"));
        let rejected = rejections(&records);
        assert_eq!(rejected.len(), 1, "{name}={value}: {records:?}");
        assert_eq!(rejected[0].reason, reason, "{name}={value}");
        assert!(
            rejected[0].detail.contains(needle),
            "{}",
            rejected[0].detail
        );
    }
}

#[test]
fn a_header_missing_columns_names_them() {
    let header = HEADER.replace(",Src Port,", ",Source Port,");
    let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
    let records = records(&mut parser, &format!("{header}\n{}\n", row_with(&[])));
    let rejected = rejections(&records);
    assert_eq!(rejected.len(), 2, "{records:?}");
    assert_eq!(rejected[0].reason, RejectReason::MissingField);
    assert_eq!(
        rejected[0].detail,
        "CIC-IDS2017 header lacks column Src Port"
    );
}
