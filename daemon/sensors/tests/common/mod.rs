//! Helpers shared by this crate's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_sensors::{Event, Record, RecordParser, RejectReason, Rejection};

/// Splits `data` on `\n` as a file reader would: each line with the offset where it starts
/// and whether a newline ended it. A final newline does not make an extra empty line.
pub fn split_lines(data: &[u8]) -> Vec<(&[u8], u64, bool)> {
    let mut lines = Vec::new();
    let mut start = 0usize;
    while start < data.len() {
        match data[start..].iter().position(|&b| b == b'\n') {
            Some(len) => {
                lines.push((&data[start..start + len], start as u64, true));
                start += len + 1;
            }
            None => {
                lines.push((&data[start..], start as u64, false));
                start = data.len();
            }
        }
    }
    lines
}

/// Feeds one whole input through `parser` and returns everything it produced.
pub fn parse_input(parser: &mut dyn RecordParser, source: &str, data: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    parser.begin_input(Arc::from(source));
    for (line, offset, terminated) in split_lines(data) {
        parser.feed(line, offset, terminated, &mut out);
    }
    parser.finish_input(&mut out);
    out
}

/// [`parse_input`] of text given as lines joined with `\n` (with a final newline).
pub fn parse_lines(parser: &mut dyn RecordParser, lines: &[&str]) -> Vec<Record> {
    let mut data = lines.join("\n");
    data.push('\n');
    parse_input(parser, "test", data.as_bytes())
}

/// The events, skip reasons and rejections of a parse, apart.
#[derive(Debug, Default)]
pub struct Tally<'r> {
    pub events: Vec<&'r Event>,
    pub skipped: BTreeMap<&'static str, usize>,
    pub rejected: Vec<&'r Rejection>,
}

impl<'r> Tally<'r> {
    pub fn of(records: &'r [Record]) -> Tally<'r> {
        let mut tally = Tally::default();
        for record in records {
            match record {
                Record::Event(event) => tally.events.push(event),
                Record::Skipped { reason, .. } => *tally.skipped.entry(reason).or_default() += 1,
                Record::Rejected(rejection) => tally.rejected.push(rejection),
            }
        }
        tally
    }

    pub fn reasons(&self) -> Vec<RejectReason> {
        self.rejected.iter().map(|r| r.reason).collect()
    }
}

/// The only record, which must be an event.
pub fn only_event(records: &[Record]) -> &Event {
    match records {
        [Record::Event(event)] => event,
        other => panic!("expected exactly one event, got {other:?}"),
    }
}

/// The only record, which must be a rejection.
pub fn only_rejection(records: &[Record]) -> &Rejection {
    match records {
        [Record::Rejected(rejection)] => rejection,
        other => panic!("expected exactly one rejection, got {other:?}"),
    }
}
