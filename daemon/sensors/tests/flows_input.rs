//! Input-level behaviour shared by every flow parser: empty inputs, encodings, line ends,
//! blank lines, quoting, repeated headers, and how inputs follow one another.

mod flows_support;

use std::sync::Arc;

use flows_support::{events, records, rejections};
use vigil_sensors::flows::{CicIdsParser, GenericCsvParser, NslKddParser, UnswParser};
use vigil_sensors::{ParseOptions, Record, RecordParser, RejectReason};

fn all_parsers() -> Vec<Box<dyn RecordParser>> {
    let opts = ParseOptions::new("test");
    vec![
        Box::new(UnswParser::new(opts.clone())),
        Box::new(NslKddParser::new(opts.clone())),
        Box::new(CicIdsParser::new(opts.clone())),
        Box::new(GenericCsvParser::new(opts)),
    ]
}

const NSL_ROW: &str = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20";

#[test]
fn an_empty_input_is_one_empty_input_rejection() {
    for mut parser in all_parsers() {
        for text in ["", "\n", "\r\n  \r\n"] {
            let records = records(parser.as_mut(), text);
            let rejected = rejections(&records);
            assert_eq!(
                records.len(),
                1,
                "{}: {text:?}: {records:?}",
                parser.format()
            );
            assert_eq!(rejected[0].reason, RejectReason::EmptyInput);
            assert!(
                rejected[0].detail.contains("test.csv"),
                "{}",
                rejected[0].detail
            );
        }
    }
}

#[test]
fn a_header_without_rows_is_an_empty_input() {
    let mut parser = GenericCsvParser::new(ParseOptions::new("test"));
    let records = records(&mut parser, "f0,label\n");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(rejections(&records)[0].reason, RejectReason::EmptyInput);
}

#[test]
fn finishing_twice_reports_the_empty_input_once() {
    let mut parser = NslKddParser::new(ParseOptions::new("test"));
    let mut out = Vec::new();
    parser.begin_input(Arc::from("empty"));
    parser.finish_input(&mut out);
    parser.finish_input(&mut out);
    assert_eq!(out.len(), 1, "{out:?}");
}

#[test]
fn binary_and_non_utf8_lines_are_rejected_and_the_rest_still_parses() {
    for mut parser in all_parsers() {
        let mut out = Vec::new();
        parser.begin_input(Arc::from("mixed"));
        parser.feed(b"a,\0b,label", 0, true, &mut out);
        parser.feed(b"caf\xE9,1,label", 20, true, &mut out);
        let reasons: Vec<RejectReason> = out
            .iter()
            .map(|record| match record {
                Record::Rejected(rejection) => rejection.reason,
                other => panic!("{}: {other:?}", parser.format()),
            })
            .collect();
        assert_eq!(reasons, [RejectReason::BinaryData, RejectReason::NotUtf8]);
        let Record::Rejected(rejection) = &out[1] else {
            unreachable!()
        };
        assert_eq!(rejection.offset, 20);
        assert_eq!(rejection.detail, "invalid UTF-8 at byte 3 of the line");
        parser.finish_input(&mut out);
        assert_eq!(out.len(), 2, "a rejected line is not an empty input");
    }
}

#[test]
fn bom_crlf_blank_lines_and_a_missing_final_newline_are_tolerated() {
    let mut parser = GenericCsvParser::new(ParseOptions::new("test"));
    let records = records(&mut parser, "\u{feff}f0,label\r\n\r\n1,0\r\n   \r\n2,1");
    let events = events(&records);
    assert_eq!(events.len(), 2, "{records:?}");
    assert_eq!(events[1].numeric, [2.0]);
    assert!(rejections(&records).is_empty());
    // Blank lines take no row index: the second row is one interval after the first.
    assert_eq!(
        events[1].event_time - events[0].event_time,
        chrono::TimeDelta::milliseconds(1)
    );
}

#[test]
fn quoted_cells_are_read_per_rfc_4180() {
    let mut parser = GenericCsvParser::new(ParseOptions::new("test"));
    let records = records(
        &mut parser,
        "\"f,0\",\"label\"\n\"1.5\",\"port \"\"scan\"\", slow\"\n2,\"open\n",
    );
    let events = events(&records);
    assert_eq!(events.len(), 1, "{records:?}");
    assert_eq!(
        &*events[0].label.as_ref().unwrap().class,
        "port \"scan\", slow"
    );
    assert_eq!(parser.numeric_columns()[0].as_ref(), "f,0");
    let rejected = rejections(&records);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason, RejectReason::WrongColumnCount);
    assert_eq!(
        rejected[0].detail,
        "quoted cell in column 2 is never closed"
    );
}

#[test]
fn repeated_headers_of_concatenated_files_are_skipped() {
    let mut parser = GenericCsvParser::new(ParseOptions::new("test"));
    let records = records(&mut parser, "f0,label\n1,0\n\u{feff}f0,label\r\n2,1\n");
    let skipped = records
        .iter()
        .filter(|r| {
            matches!(
                r,
                Record::Skipped {
                    reason: "csv_header",
                    ..
                }
            )
        })
        .count();
    assert_eq!(skipped, 2, "{records:?}");
    assert_eq!(events(&records).len(), 2);
}

#[test]
fn every_input_restarts_row_numbering_and_headers() {
    let mut parser = NslKddParser::new(ParseOptions::new("test"));
    let first = records(&mut parser, &format!("{NSL_ROW}\n{NSL_ROW}\n"));
    let second = records(&mut parser, &format!("{NSL_ROW}\n"));
    assert_eq!(events(&first)[1].event_time.timestamp_millis(), 1);
    assert_eq!(events(&second)[0].event_time.timestamp_millis(), 0);

    let mut parser = GenericCsvParser::new(ParseOptions::new("test"));
    records(&mut parser, "f0,label\n1,0\n");
    let next = records(&mut parser, "f0,label\n1,0\n");
    assert!(
        matches!(
            next[0],
            Record::Skipped {
                reason: "csv_header",
                offset: 0
            }
        ),
        "{next:?}"
    );
    assert_eq!(events(&next).len(), 1);
}

#[test]
fn label_classes_are_shared_not_copied() {
    let mut parser = NslKddParser::new(ParseOptions::new("test"));
    let records = records(&mut parser, &format!("{NSL_ROW}\n{NSL_ROW}\n"));
    let events = events(&records);
    let (a, b) = (
        events[0].label.as_ref().unwrap(),
        events[1].label.as_ref().unwrap(),
    );
    assert!(Arc::ptr_eq(&a.class, &b.class));
}
