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
fn row_numbering_continues_across_inputs_while_headers_restart() {
    let mut parser = NslKddParser::new(ParseOptions::new("test"));
    let first = records(&mut parser, &format!("{NSL_ROW}\n{NSL_ROW}\n"));
    let second = records(&mut parser, &format!("{NSL_ROW}\n"));
    assert_eq!(events(&first)[1].event_time.timestamp_millis(), 1);
    assert_eq!(events(&second)[0].event_time.timestamp_millis(), 2);

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
    assert_eq!(events(&next)[0].event_time.timestamp_millis(), 1);
}

/// Two inputs of one source, the second after the first as `vigil replay a b` reads them:
/// event time never runs backwards, and rejected rows keep their place in time.
#[test]
fn event_time_never_runs_backwards_across_the_inputs_of_a_source() {
    let unsw_header = "proto,service,state,dur,spkts,dpkts,sbytes,dbytes,rate,sttl,dttl,sload,dload,sloss,dloss,sinpkt,dinpkt,sjit,djit,swin,stcpb,dtcpb,dwin,tcprtt,synack,ackdat,smean,dmean,trans_depth,response_body_len,ct_srv_src,ct_state_ttl,ct_dst_ltm,ct_src_dport_ltm,ct_dst_sport_ltm,ct_dst_src_ltm,is_ftp_login,ct_ftp_cmd,ct_flw_http_mthd,ct_src_ltm,ct_srv_dst,is_sm_ips_ports,attack_cat,label";
    let unsw_row = "udp,-,INT,0.000011,2,0,496,0,90909.0902,254,0,180363632,0,0,0,0.011,0,0,0,0,0,0,0,0,0,0,248,0,0,0,2,2,1,1,1,2,0,0,0,1,2,0,Normal,0";
    let unsw_bad = unsw_row.replace(",496,", ",x,");
    let cases: [(Box<dyn RecordParser>, String, String); 3] = [
        (
            Box::new(UnswParser::new(ParseOptions::new("test"))),
            format!("{unsw_header}\n{unsw_row}\n{unsw_bad}\n{unsw_row}\n"),
            format!("{unsw_header}\n{unsw_row}\n"),
        ),
        (
            Box::new(NslKddParser::new(ParseOptions::new("test"))),
            format!(
                "{NSL_ROW}\n{}\n{NSL_ROW}\n",
                NSL_ROW.replace(",491,", ",x,")
            ),
            format!("{NSL_ROW}\n"),
        ),
        (
            Box::new(GenericCsvParser::new(ParseOptions::new("test"))),
            "f0,label\n1,0\nx,1\n3,0\n".to_string(),
            "f0,label\n4,0\n".to_string(),
        ),
    ];
    for (mut parser, first, second) in cases {
        let first = records(parser.as_mut(), &first);
        let second = records(parser.as_mut(), &second);
        assert_eq!(rejections(&first).len(), 1, "{first:?}");
        let times: Vec<i64> = events(&first)
            .iter()
            .chain(events(&second).iter())
            .map(|event| event.event_time.timestamp_millis())
            .collect();
        // Rows 0 and 2 of the first input (row 1 was rejected), then row 3 = the second's row 0.
        assert_eq!(times, [0, 2, 3], "{}", parser.format());
    }
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
