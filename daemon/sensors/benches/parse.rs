//! Throughput of the JSON log parsers on real sensor logs.
//!
//! `cowrie_tpet_2022` parses the whole tpet-2022 Cowrie day (11,410 events) per iteration;
//! the per-event budget of the whole pipeline is 2 µs (500k events/s on one core), so
//! parsing alone should stay well under 1 µs per event.
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_sensors::cowrie::CowrieParser;
use vigil_sensors::{Format, ParseOptions, Record, RecordParser, parser_for};

/// Splits `data` into lines with their offsets, as a reader would hand them over.
fn lines(data: &[u8]) -> Vec<(&[u8], u64, bool)> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    for piece in data.split(|&b| b == b'\n') {
        let terminated = offset + piece.len() < data.len();
        if !piece.is_empty() || terminated {
            out.push((piece, offset as u64, terminated));
        }
        offset += piece.len() + 1;
    }
    out
}

fn run(
    parser: &mut dyn RecordParser,
    lines: &[(&[u8], u64, bool)],
    out: &mut Vec<Record>,
) -> usize {
    parser.begin_input(Arc::from("bench"));
    out.clear();
    for &(line, offset, terminated) in lines {
        parser.feed(line, offset, terminated, out);
    }
    parser.finish_input(out);
    out.len()
}

fn bench_file(c: &mut Criterion, name: &str, rel: &str, make: &dyn Fn() -> Box<dyn RecordParser>) {
    let Some(path) = vigil_tests::shared_file(rel) else {
        return;
    };
    let data = match std::fs::read(Path::new(&path)) {
        Ok(data) => data,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    let lines = lines(&data);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(lines.len() as u64));
    let mut out = Vec::with_capacity(lines.len() + 1);
    let mut parser = make();
    group.bench_function(name, |b| {
        b.iter(|| black_box(run(parser.as_mut(), &lines, &mut out)));
    });
    group.finish();
}

fn parsers(c: &mut Criterion) {
    let opts = || ParseOptions::new("bench");
    bench_file(
        c,
        "cowrie_tpet_2022",
        "data/cowrie/tpet-2022/cowrie.json.2022-06-01",
        &|| Box::new(CowrieParser::new(opts())),
    );
    bench_file(
        c,
        "auto_cowrie_tpet_2022",
        "data/cowrie/tpet-2022/cowrie.json.2022-06-01",
        &|| parser_for(Format::Auto, opts()),
    );
    bench_file(
        c,
        "dionaea_tpet_2022",
        "data/dionaea/tpet-2022-dionaea.json.4",
        &|| parser_for(Format::Dionaea, opts()),
    );
    bench_file(
        c,
        "suricata_home_lab_2025",
        "data/suricata/home-lab-2025-eve.json",
        &|| parser_for(Format::Suricata, opts()),
    );
}

criterion_group!(benches, parsers);
criterion_main!(benches);
