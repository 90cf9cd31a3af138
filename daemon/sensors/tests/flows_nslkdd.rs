//! NSL-KDD: the real 20 % training file end to end, field mapping, and bad input.

mod flows_support;

use std::collections::BTreeMap;

use flows_support::{f64_of, feed_input, records, rejections, shared_bytes};
use vigil_sensors::flows::{NslKddParser, categorical_values};
use vigil_sensors::{
    EventKind, ParseOptions, Record, RecordParser, RejectReason, Sensor, Transport,
};

const NSL_FILE: &str = "data/nsl-kdd/KDDTrain+_20Percent.txt";

/// A hand-written row: every numeric cell distinct, to catch swaps.
const ROW: &str = "2,udp,Private,SF,105,146,0,1,2,3,4,1,5,0,1,6,7,8,9,0,0,1,10,11,0.01,0.02,0.03,0.04,0.05,0.06,0.07,12,13,0.08,0.09,0.10,0.11,0.12,0.13,0.14,0.15,snmpgetattack,17";

#[test]
fn twenty_percent_file_parses_completely_and_matches_an_independent_reading() {
    let Some(bytes) = shared_bytes(NSL_FILE) else {
        return;
    };
    // An independent reading: plain splitting of CRLF lines, no final newline in this file.
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        !text.ends_with('\n'),
        "the file is documented to lack a final newline"
    );
    let rows: Vec<Vec<&str>> = text
        .split('\n')
        .map(|line| line.trim_end_matches('\r').split(',').collect())
        .collect();
    let mut expected_classes = BTreeMap::new();
    for row in &rows {
        assert_eq!(row.len(), 43);
        *expected_classes
            .entry(row[41].to_string())
            .or_insert(0usize) += 1;
    }
    let expected_anomalous = rows.iter().filter(|row| row[41] != "normal").count();

    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let numeric_positions: Vec<usize> = [0].into_iter().chain(4..41).collect();
    let mut next_row = rows.iter();
    let tally = feed_input(&mut parser, "kdd.txt", &bytes, |event| {
        let row = next_row.next().expect("more events than rows");
        assert_eq!(event.duration_secs, Some(f64_of(row[0])));
        assert_eq!(event.transport, Some(Transport::parse(row[1])));
        assert_eq!(
            event.app_proto.as_deref(),
            Some(row[2].to_ascii_lowercase().as_str())
        );
        assert_eq!(categorical_values(event), Some([row[1], row[2], row[3]]));
        assert_eq!(event.bytes_out, Some(row[4].parse().unwrap()));
        assert_eq!(event.bytes_in, Some(row[5].parse().unwrap()));
        let numeric: Vec<f64> = numeric_positions.iter().map(|&i| f64_of(row[i])).collect();
        assert_eq!(event.numeric, numeric);
    });
    assert!(next_row.next().is_none(), "rows left without an event");
    assert!(
        tally.rejections.is_empty(),
        "{:?}",
        &tally.rejections[..tally.rejections.len().min(5)]
    );
    assert!(tally.skipped.is_empty(), "{:?}", tally.skipped);
    // The counts SOURCES.md documents for this file, as a cross-check of the reading above.
    assert_eq!(tally.events, 25_192);
    assert_eq!(expected_classes.get("normal"), Some(&13_449));
    assert_eq!(expected_classes.len(), 22);
    assert_eq!(tally.classes, expected_classes);
    assert_eq!(tally.anomalous, expected_anomalous);
}

#[test]
fn numeric_columns_are_the_38_numeric_kdd_features() {
    let parser = NslKddParser::new(ParseOptions::new("kdd"));
    let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
    assert_eq!(names.len(), 38);
    assert_eq!(names[..3], ["duration", "src_bytes", "dst_bytes"]);
    assert_eq!(names[37], "dst_host_srv_rerror_rate");
    for categorical in NslKddParser::CATEGORICAL_COLUMNS {
        assert!(!names.contains(&categorical), "{categorical}");
    }
}

#[test]
fn a_hand_written_row_maps_to_every_field() {
    let mut opts = ParseOptions::new("kdd");
    opts.row_interval_micros = 1_000_000;
    let mut parser = NslKddParser::new(opts);
    let text = format!("{ROW}\r\n{}", ROW.replace("snmpgetattack", "normal"));
    let records = records(&mut parser, &text);
    let [Record::Event(first), Record::Event(second)] = &records[..] else {
        panic!("{records:?}");
    };
    assert_eq!(first.sensor, Sensor::Nslkdd);
    assert_eq!(first.kind, EventKind::Flow);
    assert_eq!(first.event_time, chrono::DateTime::UNIX_EPOCH);
    assert_eq!(second.event_time.timestamp(), 1);
    assert_eq!(second.origin.offset, ROW.len() as u64 + 2);
    assert_eq!(first.transport, Some(Transport::Udp));
    assert_eq!(first.app_proto.as_deref(), Some("private"));
    assert_eq!(first.raw_kind.as_deref(), Some("udp|Private|SF"));
    assert_eq!(first.duration_secs, Some(2.0));
    assert_eq!((first.bytes_out, first.bytes_in), (Some(105), Some(146)));
    assert_eq!((first.packets_out, first.packets_in), (None, None));
    let label = first.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("snmpgetattack", true));
    let label = second.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("normal", false));
    let cells: Vec<&str> = ROW.split(',').collect();
    let expected: Vec<f64> = [0]
        .into_iter()
        .chain(4..41)
        .map(|i| f64_of(cells[i]))
        .collect();
    assert_eq!(first.numeric, expected);
}

#[test]
fn a_header_line_and_kdd_cup_class_dots_are_tolerated() {
    let names = "duration,protocol_type,service,flag,src_bytes,dst_bytes,land,wrong_fragment,urgent,hot,num_failed_logins,logged_in,num_compromised,root_shell,su_attempted,num_root,num_file_creations,num_shells,num_access_files,num_outbound_cmds,is_host_login,is_guest_login,count,srv_count,serror_rate,srv_serror_rate,rerror_rate,srv_rerror_rate,same_srv_rate,diff_srv_rate,srv_diff_host_rate,dst_host_count,dst_host_srv_count,dst_host_same_srv_rate,dst_host_diff_srv_rate,dst_host_same_src_port_rate,dst_host_srv_diff_host_rate,dst_host_serror_rate,dst_host_srv_serror_rate,dst_host_rerror_rate,dst_host_srv_rerror_rate,class,difficulty";
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let row = ROW.replace("snmpgetattack", "normal.");
    let records = records(&mut parser, &format!("{names}\n{row}\n"));
    assert_eq!(
        records[0],
        Record::Skipped {
            reason: "csv_header",
            offset: 0
        }
    );
    let Record::Event(event) = &records[1] else {
        panic!("{records:?}");
    };
    let label = event.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("normal", false));
}

#[test]
fn bad_rows_are_rejected_with_column_and_value() {
    let cases = [
        (
            ROW.replace(",105,", ",1O5,"),
            RejectReason::InvalidNumber,
            "src_bytes",
        ),
        (
            ROW.replace(",105,", ",-105,"),
            RejectReason::InvalidNumber,
            "src_bytes",
        ),
        (
            ROW.replace(",0.01,", ",,"),
            RejectReason::InvalidNumber,
            "serror_rate",
        ),
        (
            ROW.replace(",17", ",hard"),
            RejectReason::InvalidNumber,
            "difficulty",
        ),
        (
            ROW.replace("snmpgetattack", ""),
            RejectReason::MissingField,
            "attack name",
        ),
        (
            ROW.replace(",17", ""),
            RejectReason::WrongColumnCount,
            "expected 43 columns, found 42",
        ),
    ];
    for (row, reason, needle) in cases {
        let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
        // After a 43-field row, the input is NSL-KDD: a row without difficulty is damaged.
        let records = records(&mut parser, &format!("{ROW}\n{row}\n"));
        let rejected = rejections(&records);
        assert_eq!(rejected.len(), 1, "{row}: {records:?}");
        assert_eq!(rejected[0].offset, ROW.len() as u64 + 1);
        assert_eq!(rejected[0].reason, reason, "{row}");
        assert!(
            rejected[0].detail.contains(needle),
            "{}",
            rejected[0].detail
        );
    }
}

/// The KDD Cup 99 layout: NSL-KDD's 41 features and the label, without difficulty, and a
/// label that ends in `.`.
fn kdd_cup_row(nsl_row: &str) -> String {
    let (rest, _difficulty) = nsl_row.rsplit_once(',').unwrap();
    format!("{rest}.")
}

#[test]
fn kdd_cup_99_rows_without_difficulty_are_read_like_nsl_kdd_rows() {
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let nsl = records(&mut parser, &format!("{ROW}\n"));
    let normal = kdd_cup_row(&ROW.replace("snmpgetattack", "normal"));
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let cup = records(
        &mut parser,
        &format!("{}\r\n{normal}\r\n{}", kdd_cup_row(ROW), kdd_cup_row(ROW)),
    );
    assert!(rejections(&cup).is_empty(), "{cup:?}");
    let [Record::Event(nsl)] = &nsl[..] else {
        panic!("{nsl:?}");
    };
    let [
        Record::Event(attack),
        Record::Event(normal),
        Record::Event(last),
    ] = &cup[..]
    else {
        panic!("{cup:?}");
    };
    assert_eq!(attack.numeric, nsl.numeric);
    assert_eq!(attack.raw_kind, nsl.raw_kind);
    assert_eq!(attack.label, nsl.label, "the trailing dot is dropped");
    let label = normal.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("normal", false));
    // A complete last line without newline is a row, as in NSL-KDD files.
    assert_eq!(last.label, nsl.label);

    // Once an input shows its layout, a row of the other one is damaged.
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let mixed = records(&mut parser, &format!("{}\n{ROW}\n", kdd_cup_row(ROW)));
    let rejected = rejections(&mixed);
    assert_eq!(rejected.len(), 1, "{mixed:?}");
    assert_eq!(rejected[0].reason, RejectReason::WrongColumnCount);
    assert_eq!(rejected[0].detail, "expected 42 columns, found 43");
    // A last line without newline that stops short of the input's layout is truncated.
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let cut = records(&mut parser, &format!("{ROW}\n{}", kdd_cup_row(ROW)));
    assert_eq!(rejections(&cut)[0].reason, RejectReason::TruncatedRecord);
}

#[test]
fn the_twenty_percent_file_in_the_kdd_cup_99_layout_gives_the_same_events() {
    let Some(bytes) = shared_bytes(NSL_FILE) else {
        return;
    };
    let text = std::str::from_utf8(&bytes).unwrap();
    let cup: Vec<String> = text
        .split('\n')
        .map(|line| kdd_cup_row(line.trim_end_matches('\r')))
        .collect();
    let cup = cup.join("\n") + "\n";

    let mut nsl_events = Vec::new();
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let nsl = feed_input(&mut parser, "KDDTrain+_20Percent.txt", &bytes, |event| {
        nsl_events.push(event.clone());
    });
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let mut next = nsl_events.iter();
    let tally = feed_input(&mut parser, "kddcup.data", cup.as_bytes(), |event| {
        let expected = next.next().expect("more events than rows");
        assert_eq!(event.numeric, expected.numeric);
        assert_eq!(event.raw_kind, expected.raw_kind);
        assert_eq!(event.label, expected.label);
        assert_eq!(
            (event.bytes_out, event.bytes_in),
            (expected.bytes_out, expected.bytes_in)
        );
        assert_eq!(event.event_time, expected.event_time);
    });
    assert!(next.next().is_none(), "rows left without an event");
    assert!(tally.rejections.is_empty(), "{:?}", &tally.rejections[..1]);
    assert_eq!(tally.events, 25_192);
    assert_eq!(tally.classes, nsl.classes);
}

#[test]
fn an_unterminated_last_line_is_a_row_when_complete_and_truncated_otherwise() {
    let mut parser = NslKddParser::new(ParseOptions::new("kdd"));
    let records = records(&mut parser, ROW);
    assert!(matches!(&records[..], [Record::Event(_)]), "{records:?}");

    let cut = &ROW[..ROW.len() / 2];
    let records = flows_support::records(&mut parser, &format!("{ROW}\n{cut}"));
    let rejected = rejections(&records);
    assert_eq!(rejected.len(), 1, "{records:?}");
    assert_eq!(rejected[0].reason, RejectReason::TruncatedRecord);
    assert_eq!(rejected[0].offset, ROW.len() as u64 + 1);
}
