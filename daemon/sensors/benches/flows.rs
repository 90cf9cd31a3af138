//! Throughput of the flow-dataset CSV parsers on the real shared data, in rows per second.
//!
//! Lines are located before timing, as the reader hands them over; each iteration parses
//! a whole file through a fresh parser and drops the records, as a pipeline that consumes
//! them would.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_sensors::flows::{CicIdsParser, GenericCsvParser, NslKddParser, UnswParser};
use vigil_sensors::{ParseOptions, Record, RecordParser};

/// A file in memory and where each of its lines starts and ends (without the newline).
struct Input {
    bytes: Vec<u8>,
    lines: Vec<(usize, usize, bool)>,
}

fn load(rel: &str) -> Option<Input> {
    let bytes = std::fs::read(vigil_tests::shared_file(rel)?).ok()?;
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(end) => {
                lines.push((start, start + end, true));
                start += end + 1;
            }
            None => {
                lines.push((start, bytes.len(), false));
                start = bytes.len();
            }
        }
    }
    Some(Input { bytes, lines })
}

/// Parses the whole input and returns how many events came out.
fn parse_all(parser: &mut dyn RecordParser, input: &Input) -> usize {
    let mut out: Vec<Record> = Vec::with_capacity(4);
    let mut events = 0;
    parser.begin_input(Arc::from("bench"));
    for &(start, end, terminated) in &input.lines {
        parser.feed(&input.bytes[start..end], start as u64, terminated, &mut out);
        events += out
            .drain(..)
            .filter(|record| matches!(record, Record::Event(_)))
            .count();
    }
    parser.finish_input(&mut out);
    events
}

fn bench_file(
    c: &mut Criterion,
    name: &str,
    rel: &str,
    make: fn(ParseOptions) -> Box<dyn RecordParser>,
) {
    let Some(input) = load(rel) else {
        return;
    };
    let rows = parse_all(make(ParseOptions::new("bench")).as_mut(), &input);
    let mut group = c.benchmark_group("flows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut parser = make(ParseOptions::new("bench"));
            black_box(parse_all(parser.as_mut(), &input))
        })
    });
    group.finish();
}

fn unsw(c: &mut Criterion) {
    bench_file(
        c,
        "unsw_training_set",
        "data/unsw-nb15/UNSW_NB15_training-set.csv",
        |opts| Box::new(UnswParser::new(opts)),
    );
}

fn nslkdd(c: &mut Criterion) {
    bench_file(
        c,
        "nslkdd_train_20pct",
        "data/nsl-kdd/KDDTrain+_20Percent.txt",
        |opts| Box::new(NslKddParser::new(opts)),
    );
}

fn cicids(c: &mut Criterion) {
    bench_file(
        c,
        "cicids_ddos_2500",
        "data/cic-ids2017-improved-sample/DDoS_2500.csv",
        |opts| Box::new(CicIdsParser::new(opts)),
    );
}

fn generic(c: &mut Criterion) {
    bench_file(c, "csv_odds_http", "data/odds/http.csv", |opts| {
        Box::new(GenericCsvParser::new(opts))
    });
}

criterion_group!(benches, unsw, nslkdd, cicids, generic);
criterion_main!(benches);
