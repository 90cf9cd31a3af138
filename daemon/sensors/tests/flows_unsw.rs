//! UNSW-NB15: the real training-set file end to end, field mapping, and bad input.

mod flows_support;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use flows_support::{f64_of, feed_input, records, rejections, shared_bytes};
use vigil_sensors::flows::{UnswParser, categorical_values};
use vigil_sensors::{
    EventKind, ParseOptions, Record, RecordParser, RejectReason, Sensor, Transport,
};

const UNSW_FILE: &str = "data/unsw-nb15/UNSW_NB15_training-set.csv";

/// The published header, in file order.
const HEADER: &str = "id,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,sttl,dttl,sload,dload,sloss,dloss,sinpkt,dinpkt,sjit,djit,swin,stcpb,dtcpb,dwin,tcprtt,synack,ackdat,smean,dmean,trans_depth,response_body_len,ct_srv_src,ct_state_ttl,ct_dst_ltm,ct_src_dport_ltm,ct_dst_sport_ltm,ct_dst_src_ltm,is_ftp_login,ct_ftp_cmd,ct_flw_http_mthd,ct_src_ltm,ct_srv_dst,is_sm_ips_ports,attack_cat,label";

/// A hand-written row matching [`HEADER`]: every numeric cell distinct, to catch swaps.
const ROW: &str = "7,1.5,tcp,http,FIN,12,10,1300,5400,14.5,31,29,6900.5,28000.25,1,2,120.5,140.25,3.5,4.5,255,1111,2222,254,0.125,0.0625,0.0625,108,540,1,900,3,4,5,6,7,8,0,0,1,9,10,0,Exploits,1";

fn opts() -> ParseOptions {
    let mut opts = ParseOptions::new("unsw-lab");
    opts.dataset_start = DateTime::parse_from_rfc3339("2015-01-22T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    opts.row_interval_micros = 2500;
    opts
}

#[test]
fn training_set_parses_completely_and_matches_an_independent_reading() {
    let Some(bytes) = shared_bytes(UNSW_FILE) else {
        return;
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(&bytes[..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(|name| name.trim_start_matches('\u{feff}').to_string())
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut expected_classes = BTreeMap::new();
    let mut expected_anomalous = 0;
    let mut rows = reader.records();

    let mut parser = UnswParser::new(opts());
    let numeric_positions: Vec<usize> = parser
        .numeric_columns()
        .iter()
        .map(|name| column(name))
        .collect();
    let mut row_index = 0i64;
    let tally = feed_input(&mut parser, "training.csv", &bytes, |event| {
        let row = rows
            .next()
            .expect("parser produced more events than rows")
            .unwrap();
        let cell = |name: &str| row.get(column(name)).unwrap();
        *expected_classes
            .entry(cell("attack_cat").to_string())
            .or_insert(0usize) += 1;
        expected_anomalous += usize::from(cell("label") == "1");

        let offset = usize::try_from(event.origin.offset).unwrap();
        assert_eq!(
            bytes[offset - 1],
            b'\n',
            "row {row_index} does not start a line"
        );
        assert!(
            bytes[offset..].starts_with(format!("{},", &row[0]).as_bytes()),
            "row {row_index} offset {offset} is not the row with id {}",
            &row[0]
        );
        assert_eq!(event.bytes_out, Some(cell("sbytes").parse().unwrap()));
        assert_eq!(event.bytes_in, Some(cell("dbytes").parse().unwrap()));
        assert_eq!(event.packets_out, Some(cell("spkts").parse().unwrap()));
        assert_eq!(event.packets_in, Some(cell("dpkts").parse().unwrap()));
        assert_eq!(event.duration_secs, Some(f64_of(cell("dur"))));
        assert_eq!(event.transport, Some(Transport::parse(cell("proto"))));
        let service = cell("service");
        assert_eq!(
            event.app_proto.as_deref(),
            (service != "-").then_some(service)
        );
        assert_eq!(
            categorical_values(event),
            Some([cell("proto"), service, cell("state")])
        );
        let numeric: Vec<f64> = numeric_positions
            .iter()
            .map(|&position| f64_of(&row[position]))
            .collect();
        assert_eq!(event.numeric, numeric, "row {row_index}");
        assert_eq!(
            event.event_time,
            opts().dataset_start + TimeDelta::microseconds(2500 * row_index)
        );
        row_index += 1;
    });
    assert!(rows.next().is_none(), "rows left without an event");
    assert!(
        tally.rejections.is_empty(),
        "{:?}",
        &tally.rejections[..tally.rejections.len().min(5)]
    );
    assert_eq!(tally.skipped.get("csv_header"), Some(&1));
    // The counts SOURCES.md documents for this file, as a cross-check of the reading above.
    assert_eq!(tally.events, 82_332);
    assert_eq!(expected_anomalous, 45_332);
    assert_eq!(tally.classes, expected_classes);
    assert_eq!(tally.anomalous, expected_anomalous);
    assert_eq!(parser.numeric_columns().len(), 39);
}

#[test]
fn a_hand_written_row_maps_to_every_field() {
    let mut parser = UnswParser::new(opts());
    let text = format!("{HEADER}\r\n{ROW}\r\n");
    let records = records(&mut parser, &text);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(
        records[0],
        Record::Skipped {
            reason: "csv_header",
            offset: 0
        }
    );
    let Record::Event(event) = &records[1] else {
        panic!("{:?}", records[1]);
    };
    assert_eq!(event.sensor, Sensor::Unsw);
    assert_eq!(&*event.sensor_id, "unsw-lab");
    assert_eq!(event.kind, EventKind::Flow);
    assert_eq!(event.event_time, opts().dataset_start);
    assert_eq!(&*event.origin.source, "test.csv");
    assert_eq!(event.origin.offset, HEADER.len() as u64 + 2);
    assert_eq!(event.transport, Some(Transport::Tcp));
    assert_eq!(event.app_proto.as_deref(), Some("http"));
    assert_eq!(event.raw_kind.as_deref(), Some("tcp|http|FIN"));
    assert_eq!(event.duration_secs, Some(1.5));
    assert_eq!(event.packets_out, Some(12));
    assert_eq!(event.packets_in, Some(10));
    assert_eq!(event.bytes_out, Some(1300));
    assert_eq!(event.bytes_in, Some(5400));
    let label = event.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("Exploits", true));
    assert!(event.src_ip.is_none() && event.dst_port.is_none() && event.tcp_flags.is_none());
    let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
    assert!(
        !names
            .iter()
            .any(|n| ["id", "proto", "service", "state", "attack_cat", "label"].contains(n))
    );
    let cells: Vec<&str> = ROW.split(',').collect();
    let header: Vec<&str> = HEADER.split(',').collect();
    for (name, value) in names.iter().zip(&event.numeric) {
        let position = header.iter().position(|h| h == name).unwrap();
        assert_eq!(*value, f64_of(cells[position]), "{name}");
    }
}

#[test]
fn columns_are_found_by_name_in_any_order() {
    let header: Vec<&str> = HEADER.split(',').collect();
    let row: Vec<&str> = ROW.split(',').collect();
    let reversed_header: Vec<&str> = header.iter().rev().copied().collect();
    let reversed_row: Vec<&str> = row.iter().rev().copied().collect();
    let mut straight = UnswParser::new(opts());
    let mut reversed = UnswParser::new(opts());
    let a = records(&mut straight, &format!("{HEADER}\n{ROW}\n"));
    let b = records(
        &mut reversed,
        &format!(
            "{}\n{}\n",
            reversed_header.join(","),
            reversed_row.join(",")
        ),
    );
    let (Record::Event(a), Record::Event(b)) = (&a[1], &b[1]) else {
        panic!("{a:?} {b:?}");
    };
    assert_eq!(a.numeric, b.numeric);
    assert_eq!(a.label, b.label);
    assert_eq!(a.raw_kind, b.raw_kind);
    assert_eq!(a.bytes_out, b.bytes_out);
}

#[test]
fn normal_rows_without_service_have_no_app_proto() {
    let row = ROW
        .replace("tcp,http,FIN", "udp,-,INT")
        .replace("Exploits,1", "Normal,0");
    let mut parser = UnswParser::new(opts());
    let records = records(&mut parser, &format!("{HEADER}\n{row}"));
    let Record::Event(event) = &records[1] else {
        panic!("{records:?}");
    };
    assert_eq!(event.transport, Some(Transport::Udp));
    assert_eq!(event.app_proto, None);
    assert_eq!(categorical_values(event), Some(["udp", "-", "INT"]));
    let label = event.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("Normal", false));
}

#[test]
fn rows_without_header_are_rejected_as_missing_columns() {
    let mut parser = UnswParser::new(opts());
    let records = records(&mut parser, &format!("{ROW}\n{ROW}\n"));
    let rejected = rejections(&records);
    assert_eq!(rejected.len(), 2, "{records:?}");
    assert!(
        rejected
            .iter()
            .all(|r| r.reason == RejectReason::MissingField)
    );
    assert!(
        rejected[0]
            .detail
            .starts_with("UNSW-NB15 header lacks columns dur, spkts"),
        "{}",
        rejected[0].detail
    );
}

#[test]
fn bad_cells_are_rejected_with_column_and_value() {
    let cases = [
        (
            ROW.replace(",1300,", ",13x0,"),
            RejectReason::InvalidNumber,
            "sbytes",
        ),
        (
            ROW.replace(",1300,", ",-1300,"),
            RejectReason::InvalidNumber,
            "sbytes",
        ),
        (
            ROW.replace(",1.5,", ",-1.5,"),
            RejectReason::InvalidNumber,
            "dur",
        ),
        (
            ROW.replace("Exploits,1", "Exploits,2"),
            RejectReason::InvalidNumber,
            "label",
        ),
        (
            ROW.replace("Exploits,1", ",1"),
            RejectReason::MissingField,
            "attack_cat",
        ),
        (
            format!("{ROW},extra"),
            RejectReason::WrongColumnCount,
            "expected 45 columns, found 46",
        ),
    ];
    for (row, reason, needle) in cases {
        let mut parser = UnswParser::new(opts());
        let records = records(&mut parser, &format!("{HEADER}\n{row}\n"));
        let rejected = rejections(&records);
        assert_eq!(rejected.len(), 1, "{row}: {records:?}");
        assert_eq!(rejected[0].reason, reason, "{row}");
        assert!(
            rejected[0].detail.contains(needle),
            "{}",
            rejected[0].detail
        );
    }
}

#[test]
fn rejected_rows_keep_their_place_in_time() {
    let bad = ROW.replace(",1300,", ",oops,");
    let mut parser = UnswParser::new(opts());
    let records = records(&mut parser, &format!("{HEADER}\n{bad}\n\n{ROW}\n"));
    let Record::Event(event) = &records[2] else {
        panic!("{records:?}");
    };
    assert_eq!(
        event.event_time,
        opts().dataset_start + TimeDelta::microseconds(2500)
    );
}
