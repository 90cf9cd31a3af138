//! Generic labelled CSV: the ODDS http benchmark end to end, labels, headers, bad input.

mod flows_support;

use std::collections::BTreeMap;

use chrono::TimeDelta;
use flows_support::{f64_of, feed_input, records, rejections, shared_bytes};
use vigil_sensors::flows::GenericCsvParser;
use vigil_sensors::{EventKind, ParseOptions, Record, RecordParser, RejectReason, Sensor};

const HTTP_FILE: &str = "data/odds/http.csv";

#[test]
fn odds_http_parses_completely_and_matches_an_independent_reading() {
    let Some(bytes) = shared_bytes(HTTP_FILE) else {
        return;
    };
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let label_position = header.iter().position(|h| h == "label").unwrap();
    let mut expected_classes = BTreeMap::new();
    let mut rows = reader.records();

    let mut parser = GenericCsvParser::new(ParseOptions::new("odds"));
    let mut row_index = 0i64;
    let tally = feed_input(&mut parser, "http.csv", &bytes, |event| {
        let row = rows.next().expect("more events than rows").unwrap();
        *expected_classes
            .entry(row[label_position].to_string())
            .or_insert(0usize) += 1;
        let numeric: Vec<f64> = row
            .iter()
            .enumerate()
            .filter(|&(position, _)| position != label_position)
            .map(|(_, cell)| f64_of(cell))
            .collect();
        assert_eq!(event.numeric, numeric, "row {row_index}");
        assert_eq!(
            event.event_time,
            chrono::DateTime::UNIX_EPOCH + TimeDelta::milliseconds(row_index)
        );
        row_index += 1;
    });
    assert!(rows.next().is_none(), "rows left without an event");
    assert!(
        tally.rejections.is_empty(),
        "{:?}",
        &tally.rejections[..tally.rejections.len().min(5)]
    );
    let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
    assert_eq!(names, ["f0", "f1", "f2"]);
    // SOURCES.md: 567,498 rows, 2,211 labelled 1.
    assert_eq!(tally.events, 567_498);
    assert_eq!(expected_classes.get("1"), Some(&2_211));
    assert_eq!(tally.classes, expected_classes);
    assert_eq!(
        tally.anomalous,
        expected_classes.get("1").copied().unwrap_or(0)
    );
}

#[test]
fn a_hand_written_row_maps_to_every_field() {
    let mut opts = ParseOptions::new("bench");
    opts.label_column = Some("Class".to_string());
    opts.row_interval_micros = 10;
    let mut parser = GenericCsvParser::new(opts);
    let records = records(
        &mut parser,
        "x,CLASS,y\r\n1.5,attack,-2\r\n3,normal,4e2\r\n",
    );
    let [
        Record::Skipped { .. },
        Record::Event(first),
        Record::Event(second),
    ] = &records[..]
    else {
        panic!("{records:?}");
    };
    assert_eq!(first.sensor, Sensor::Csv);
    assert_eq!(first.kind, EventKind::Flow);
    assert_eq!(&*first.sensor_id, "bench");
    assert_eq!(first.numeric, [1.5, -2.0]);
    assert_eq!(second.numeric, [3.0, 400.0]);
    assert_eq!(
        second.event_time,
        chrono::DateTime::UNIX_EPOCH + TimeDelta::microseconds(10)
    );
    assert_eq!(
        second.origin.offset,
        "x,CLASS,y\r\n1.5,attack,-2\r\n".len() as u64
    );
    let label = first.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("attack", true));
    let label = second.label.as_ref().unwrap();
    assert_eq!((&*label.class, label.anomalous), ("normal", false));
    let names: Vec<&str> = parser.numeric_columns().iter().map(|n| &**n).collect();
    assert_eq!(names, ["x", "y"]);
    assert!(first.transport.is_none() && first.bytes_out.is_none());
}

#[test]
fn later_inputs_are_mapped_to_the_first_header() {
    let mut parser = GenericCsvParser::new(ParseOptions::new("csv"));
    records(&mut parser, "a,b,label\n1,2,0\n");
    let second = records(&mut parser, "label,b,extra,a\n1,20,99,10\n");
    let Record::Event(event) = &second[1] else {
        panic!("{second:?}");
    };
    assert_eq!(event.numeric, [10.0, 20.0]);
    let third = records(&mut parser, "label,b\n1,20\n");
    let rejected = rejections(&third);
    assert_eq!(rejected.len(), 2, "{third:?}");
    assert_eq!(rejected[0].reason, RejectReason::MissingField);
    assert_eq!(rejected[0].detail, "CSV header lacks column a");
}

#[test]
fn bad_rows_are_rejected() {
    let cases = [
        (
            "f0,f1,label\n1,x,0\n",
            RejectReason::InvalidNumber,
            "column f1: \"x\" is not a number",
        ),
        ("f0,f1,label\n1,,0\n", RejectReason::InvalidNumber, "f1"),
        ("f0,f1,label\n1,2,\n", RejectReason::MissingField, "label"),
        (
            "f0,f1,label\n1,2\n",
            RejectReason::WrongColumnCount,
            "expected 3 columns, found 2",
        ),
        (
            "f0,f1,label\n1,2",
            RejectReason::TruncatedRecord,
            "2 of 3 columns",
        ),
        (
            "f0,f1\n1,2\n",
            RejectReason::MissingField,
            "CSV header lacks column label",
        ),
    ];
    for (text, reason, needle) in cases {
        let mut parser = GenericCsvParser::new(ParseOptions::new("csv"));
        let records = records(&mut parser, text);
        let rejected = rejections(&records);
        assert_eq!(rejected[0].reason, reason, "{text:?}: {records:?}");
        assert!(
            rejected[0].detail.contains(needle),
            "{}",
            rejected[0].detail
        );
    }
}
