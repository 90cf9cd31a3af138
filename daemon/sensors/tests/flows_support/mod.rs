//! Feeding whole inputs to a flow parser the way the line reader does, and tallying what
//! comes out without keeping every event in memory.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_sensors::{Event, Record, RecordParser, Rejection};

/// What a parser made of one input.
#[derive(Debug, Default)]
pub struct Tally {
    /// Events produced.
    pub events: usize,
    /// Events per label class.
    pub classes: BTreeMap<String, usize>,
    /// Events whose label is anomalous.
    pub anomalous: usize,
    /// Skipped records per reason.
    pub skipped: BTreeMap<&'static str, usize>,
    /// Every rejection, in order.
    pub rejections: Vec<Rejection>,
}

/// Feeds `bytes` line by line as the reader would: lines without `\n` (a `\r` stays), the
/// offset of each line, `terminated == false` only for a last line without newline. Calls
/// `on_event` for every event in order.
pub fn feed_input(
    parser: &mut dyn RecordParser,
    source: &str,
    bytes: &[u8],
    mut on_event: impl FnMut(&Event),
) -> Tally {
    let mut tally = Tally::default();
    let mut out = Vec::new();
    parser.begin_input(Arc::from(source));
    let mut start = 0;
    while start < bytes.len() {
        let (line, next, terminated) = match memchr_newline(&bytes[start..]) {
            Some(end) => (&bytes[start..start + end], start + end + 1, true),
            None => (&bytes[start..], bytes.len(), false),
        };
        parser.feed(line, start as u64, terminated, &mut out);
        drain(&mut out, &mut tally, &mut on_event);
        start = next;
    }
    parser.finish_input(&mut out);
    drain(&mut out, &mut tally, &mut on_event);
    tally
}

/// Feeds `text` and returns every record, for small hand-written inputs.
pub fn records(parser: &mut dyn RecordParser, text: &str) -> Vec<Record> {
    let mut all = Vec::new();
    let mut out = Vec::new();
    parser.begin_input(Arc::from("test.csv"));
    let mut start = 0;
    let bytes = text.as_bytes();
    while start < bytes.len() {
        let (line, next, terminated) = match memchr_newline(&bytes[start..]) {
            Some(end) => (&bytes[start..start + end], start + end + 1, true),
            None => (&bytes[start..], bytes.len(), false),
        };
        parser.feed(line, start as u64, terminated, &mut out);
        all.append(&mut out);
        start = next;
    }
    parser.finish_input(&mut out);
    all.append(&mut out);
    all
}

/// The events among `records`.
pub fn events(records: &[Record]) -> Vec<&Event> {
    records
        .iter()
        .filter_map(|record| match record {
            Record::Event(event) => Some(&**event),
            _ => None,
        })
        .collect()
}

/// The rejections among `records`.
pub fn rejections(records: &[Record]) -> Vec<&Rejection> {
    records
        .iter()
        .filter_map(|record| match record {
            Record::Rejected(rejection) => Some(rejection),
            _ => None,
        })
        .collect()
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn drain(out: &mut Vec<Record>, tally: &mut Tally, on_event: &mut impl FnMut(&Event)) {
    for record in out.drain(..) {
        match record {
            Record::Event(event) => {
                tally.events += 1;
                if let Some(label) = &event.label {
                    *tally.classes.entry(label.class.to_string()).or_default() += 1;
                    tally.anomalous += usize::from(label.anomalous);
                }
                on_event(&event);
            }
            Record::Skipped { reason, .. } => *tally.skipped.entry(reason).or_default() += 1,
            Record::Rejected(rejection) => tally.rejections.push(rejection),
        }
    }
}

/// Reads a shared data file, or `None` when it is missing (the test is then skipped).
pub fn shared_bytes(rel: &str) -> Option<Vec<u8>> {
    let path = vigil_tests::shared_file(rel)?;
    Some(std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display())))
}

/// Parses a number the way a plain reader would, for comparisons.
pub fn f64_of(cell: &str) -> f64 {
    cell.trim()
        .parse()
        .unwrap_or_else(|err| panic!("{cell:?}: {err}"))
}
