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

/// The header of the original release's MachineLearningCSV files, as they write it: leading
/// spaces, `Fwd Header Length` twice, `Label` last.
const ORIGINAL_HEADER: &str = " Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets, Fwd Packet Length Max, Fwd Packet Length Min, Fwd Packet Length Mean, Fwd Packet Length Std,Bwd Packet Length Max, Bwd Packet Length Min, Bwd Packet Length Mean, Bwd Packet Length Std,Flow Bytes/s, Flow Packets/s, Flow IAT Mean, Flow IAT Std, Flow IAT Max, Flow IAT Min,Fwd IAT Total, Fwd IAT Mean, Fwd IAT Std, Fwd IAT Max, Fwd IAT Min,Bwd IAT Total, Bwd IAT Mean, Bwd IAT Std, Bwd IAT Max, Bwd IAT Min,Fwd PSH Flags, Bwd PSH Flags, Fwd URG Flags, Bwd URG Flags, Fwd Header Length, Bwd Header Length,Fwd Packets/s, Bwd Packets/s, Min Packet Length, Max Packet Length, Packet Length Mean, Packet Length Std, Packet Length Variance,FIN Flag Count, SYN Flag Count, RST Flag Count, PSH Flag Count, ACK Flag Count, URG Flag Count, CWE Flag Count, ECE Flag Count, Down/Up Ratio, Average Packet Size, Avg Fwd Segment Size, Avg Bwd Segment Size, Fwd Header Length,Fwd Avg Bytes/Bulk, Fwd Avg Packets/Bulk, Fwd Avg Bulk Rate, Bwd Avg Bytes/Bulk, Bwd Avg Packets/Bulk,Bwd Avg Bulk Rate,Subflow Fwd Packets, Subflow Fwd Bytes, Subflow Bwd Packets, Subflow Bwd Bytes,Init_Win_bytes_forward, Init_Win_bytes_backward, act_data_pkt_fwd, min_seg_size_forward,Active Mean, Active Std, Active Max, Active Min,Idle Mean, Idle Std, Idle Max, Idle Min, Label";

/// The header of the original release's GeneratedLabelledFlows files: the same columns after
/// `Flow ID`, addresses, ports, `Protocol` and a minute-resolution `Timestamp`.
fn labelled_flows_header() -> String {
    ORIGINAL_HEADER.replacen(
        " Destination Port,",
        "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp,",
        1,
    )
}

/// A hand-made row for `header` (an original-release header): identifying cells as given,
/// every other cell a distinct number derived from its position, flags set for FIN, SYN
/// and ACK only.
fn original_row(header: &str, overrides: &[(&str, &str)]) -> String {
    let cells: Vec<String> = header
        .split(',')
        .map(str::trim)
        .enumerate()
        .map(|(position, name)| {
            if let Some((_, value)) = overrides.iter().find(|(column, _)| *column == name) {
                return value.to_string();
            }
            match name {
                "Flow ID" => "192.168.10.5-104.16.207.165-54865-443-6".into(),
                "Source IP" => "104.16.207.165".into(),
                "Source Port" => "443".into(),
                "Destination IP" => "192.168.10.5".into(),
                "Destination Port" => "54865".into(),
                "Protocol" => "6".into(),
                "Timestamp" => "7/7/2017 3:30".into(),
                "Flow Duration" => "2500000".into(),
                "FIN Flag Count" | "SYN Flag Count" | "ACK Flag Count" => "2".into(),
                "RST Flag Count" | "PSH Flag Count" | "URG Flag Count" => "0".into(),
                "Label" => "DDoS".into(),
                _ => format!("{}", position * 10),
            }
        })
        .collect();
    cells.join(",")
}

/// The numeric features of an original-release header read independently: every trimmed
/// name but the identifying ones and `Label`, a repeated name once, with the position of
/// its first occurrence.
fn original_features(header: &str) -> Vec<(String, usize)> {
    let identifying = [
        "Flow ID",
        "Source IP",
        "Source Port",
        "Destination IP",
        "Destination Port",
        "Protocol",
        "Timestamp",
        "Label",
    ];
    let mut features: Vec<(String, usize)> = Vec::new();
    for (position, name) in header.split(',').map(str::trim).enumerate() {
        if !identifying.contains(&name) && features.iter().all(|(seen, _)| seen != name) {
            features.push((name.to_string(), position));
        }
    }
    features
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

/// The original MachineLearningCSV files, which `--format auto` recognises as CIC-IDS2017:
/// no addresses, protocol or time, so times come from the row index as for UNSW-NB15.
#[test]
fn the_original_machine_learning_csv_layout_is_read() {
    let mut opts = ParseOptions::new("cic");
    opts.dataset_start = chrono::Utc.with_ymd_and_hms(2017, 7, 3, 8, 0, 0).unwrap();
    opts.row_interval_micros = 2500;
    let start = opts.dataset_start;
    let text = format!(
        "{ORIGINAL_HEADER}\r\n{}\r\n{}\r\n{}\r\n{}\r\n",
        original_row(ORIGINAL_HEADER, &[]),
        original_row(
            ORIGINAL_HEADER,
            &[
                ("Label", "BENIGN"),
                ("Flow Bytes/s", "Infinity"),
                ("Destination Port", "53")
            ]
        ),
        original_row(ORIGINAL_HEADER, &[("Label", "")]),
        original_row(ORIGINAL_HEADER, &[("Label", "PortScan")]),
    );
    for mut parser in [
        Box::new(CicIdsParser::new(opts.clone())) as Box<dyn RecordParser>,
        vigil_sensors::parser_for(vigil_sensors::Format::Auto, opts.clone()),
    ] {
        let records = records(parser.as_mut(), &text);
        assert_eq!(parser.format(), vigil_sensors::Format::Cicids);
        let rejected = rejections(&records);
        assert_eq!(rejected.len(), 1, "{records:?}");
        assert_eq!(rejected[0].reason, RejectReason::MissingField);
        let events = flows_support::events(&records);
        assert_eq!(events.len(), 3, "{records:?}");

        let features = original_features(ORIGINAL_HEADER);
        assert_eq!(features.len(), 76);
        let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
        let expected_names: Vec<&str> = features.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, expected_names);

        let event = events[0];
        assert_eq!(event.sensor, Sensor::Cicids);
        assert_eq!(event.kind, EventKind::Flow);
        assert_eq!(event.event_time, start);
        assert_eq!(event.dst_port, Some(54865));
        assert_eq!(
            (event.src_ip, event.src_port, event.dst_ip),
            (None, None, None)
        );
        assert_eq!((event.transport, event.tcp_flags), (None, None));
        assert_eq!(event.session, None);
        assert_eq!(event.duration_secs, Some(2.5));
        let position = |name: &str| {
            ORIGINAL_HEADER
                .split(',')
                .position(|cell| cell.trim() == name)
                .unwrap() as u64
        };
        assert_eq!(event.packets_out, Some(position("Total Fwd Packets") * 10));
        assert_eq!(
            event.packets_in,
            Some(position("Total Backward Packets") * 10)
        );
        assert_eq!(
            event.bytes_out,
            Some(position("Total Length of Fwd Packets") * 10)
        );
        assert_eq!(
            event.bytes_in,
            Some(position("Total Length of Bwd Packets") * 10)
        );
        let label = event.label.as_ref().unwrap();
        assert_eq!((&*label.class, label.anomalous), ("DDoS", true));
        let row = original_row(ORIGINAL_HEADER, &[]);
        let cells: Vec<&str> = row.split(',').collect();
        let expected: Vec<f64> = features
            .iter()
            .map(|(_, position)| f64_of(cells[*position]))
            .collect();
        assert_eq!(event.numeric, expected);

        let benign = events[1];
        assert_eq!(benign.dst_port, Some(53));
        let label = benign.label.as_ref().unwrap();
        assert_eq!((&*label.class, label.anomalous), ("BENIGN", false));
        let bytes_rate = names.iter().position(|n| *n == "Flow Bytes/s").unwrap();
        assert_eq!(benign.numeric[bytes_rate], INFINITE_FEATURE_VALUE);
        // The rejected row keeps its place in time.
        assert_eq!(
            benign.event_time,
            start + chrono::TimeDelta::microseconds(2500)
        );
        assert_eq!(
            events[2].event_time,
            start + chrono::TimeDelta::microseconds(7500)
        );
    }
}

#[test]
fn generated_labelled_flows_add_addresses_protocol_and_flow_id() {
    let header = labelled_flows_header();
    let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
    let text = format!(
        "{header}\n{}\n{}\n",
        original_row(&header, &[]),
        original_row(
            &header,
            &[("Protocol", "17"), ("Source IP", "::ffff:10.0.0.9")]
        ),
    );
    let records = records(&mut parser, &text);
    assert!(rejections(&records).is_empty(), "{records:?}");
    let events = flows_support::events(&records);
    let event = events[0];
    assert_eq!(event.src_ip, Some("104.16.207.165".parse().unwrap()));
    assert_eq!(event.src_port, Some(443));
    assert_eq!(event.dst_ip, Some("192.168.10.5".parse().unwrap()));
    assert_eq!(event.dst_port, Some(54865));
    assert_eq!(event.transport, Some(Transport::Tcp));
    assert_eq!(event.tcp_flags, Some(TCP_FIN | TCP_SYN | TCP_ACK));
    assert_eq!(
        event.session.as_deref(),
        Some("192.168.10.5-104.16.207.165-54865-443-6")
    );
    // The minute-resolution Timestamp is not read: times come from the row index.
    assert_eq!(event.event_time, chrono::DateTime::UNIX_EPOCH);
    let features = original_features(&header);
    let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
    let expected_names: Vec<&str> = features.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names, expected_names,
        "the same features as MachineLearningCSV"
    );
    let row = original_row(&header, &[]);
    let cells: Vec<&str> = row.split(',').collect();
    let expected: Vec<f64> = features
        .iter()
        .map(|(_, position)| f64_of(cells[*position]))
        .collect();
    assert_eq!(event.numeric, expected);

    let udp = events[1];
    assert_eq!((udp.transport, udp.tcp_flags), (Some(Transport::Udp), None));
    assert_eq!(udp.src_ip, Some("10.0.0.9".parse().unwrap()));
}

#[test]
fn one_source_reads_one_release() {
    let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
    let improved = records(&mut parser, &format!("{HEADER}\n{}\n", row_with(&[])));
    assert_eq!(flows_support::events(&improved).len(), 1);
    let original = records(
        &mut parser,
        &format!(
            "{ORIGINAL_HEADER}\n{}\n",
            original_row(ORIGINAL_HEADER, &[])
        ),
    );
    let rejected = rejections(&original);
    assert_eq!(rejected.len(), 2, "{original:?}");
    assert_eq!(rejected[0].reason, RejectReason::MissingField);
    assert!(
        rejected[0]
            .detail
            .contains("original-release header in a source that reads improved-release files"),
        "{}",
        rejected[0].detail
    );
    assert_eq!(parser.numeric_columns().len(), 82);

    let header = ORIGINAL_HEADER.replace(" Total Backward Packets,", " Total Bwd Packets,");
    let mut parser = CicIdsParser::new(ParseOptions::new("cic"));
    let records = records(&mut parser, &format!("{header}\n"));
    assert_eq!(
        rejections(&records)[0].detail,
        "CIC-IDS2017 original-release header lacks column Total Backward Packets"
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
