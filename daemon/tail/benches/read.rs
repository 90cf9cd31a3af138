//! Reading throughput: a 50 MB file of sensor-like JSON lines, read once, followed, and
//! gzip-compressed. Reading must not be what limits a pipeline of a million lines per
//! second.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use vigil_tail::{LineBatch, ReadStatus, TailOptions, open_input};

const FILE_BYTES: usize = 50 << 20;
const BATCH_LINES: usize = 1024;

/// Lines shaped like honeypot events, of varying length.
fn sample_data(target: usize) -> (Vec<u8>, u64) {
    let mut data = Vec::with_capacity(target + 512);
    let mut lines = 0u64;
    while data.len() < target {
        let index = lines;
        let command = "x".repeat((index % 97) as usize);
        writeln!(
            data,
            r#"{{"eventid":"cowrie.command.input","src_ip":"203.0.{}.{}","src_port":{},"session":"{:012x}","timestamp":"2024-05-01T12:{:02}:{:02}.{:06}Z","input":"{}"}}"#,
            index % 250,
            (index / 250) % 250,
            1024 + index % 60_000,
            index.wrapping_mul(0x9e37_79b9),
            (index / 60) % 60,
            index % 60,
            index % 1_000_000,
            command
        )
        .expect("writing to a Vec cannot fail");
        lines += 1;
    }
    (data, lines)
}

/// Reads `spec` to its end (or, following, until idle); returns lines and bytes seen.
fn read_through(spec: &str, options: &TailOptions) -> (u64, u64) {
    let mut source = open_input(spec, options).expect("open bench input");
    let mut batch = LineBatch::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        match source.read_batch(BATCH_LINES, &mut batch).expect("read") {
            ReadStatus::Lines => {
                for line in &batch {
                    lines += 1;
                    bytes += line.bytes.len() as u64 + 1;
                }
            }
            ReadStatus::Finished | ReadStatus::Idle => return (lines, bytes),
            ReadStatus::InputStarted { .. } | ReadStatus::InputEnded { .. } => {}
        }
    }
}

fn path_spec(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn bench_read(criterion: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, line_count) = sample_data(FILE_BYTES);
    let plain = dir.path().join("events.json");
    std::fs::write(&plain, &data).expect("write bench file");
    let gz_data = &data[..data.len() / 5];
    let gz_lines = gz_data.iter().filter(|&&byte| byte == b'\n').count() as u64;
    let compressed = dir.path().join("events.json.gz");
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(gz_data).expect("compress");
    std::fs::write(&compressed, encoder.finish().expect("compress")).expect("write gz");

    let plain_spec = path_spec(&plain);
    let once = TailOptions::default();
    let follow = TailOptions {
        follow: true,
        ..TailOptions::default()
    };
    assert_eq!(
        read_through(&plain_spec, &once),
        (line_count, data.len() as u64)
    );
    assert_eq!(read_through(&plain_spec, &follow).0, line_count);

    let mut bytes = criterion.benchmark_group("tail_bytes");
    bytes
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    bytes.throughput(Throughput::Bytes(data.len() as u64));
    bytes.bench_function("read_once_50MB", |bench| {
        bench.iter(|| read_through(&plain_spec, &once))
    });
    bytes.bench_function("follow_50MB", |bench| {
        bench.iter(|| read_through(&plain_spec, &follow))
    });
    bytes.finish();

    let mut lines = criterion.benchmark_group("tail_lines");
    lines
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    lines.throughput(Throughput::Elements(line_count));
    lines.bench_function("read_once_50MB", |bench| {
        bench.iter(|| read_through(&plain_spec, &once))
    });
    lines.finish();

    let compressed_spec = path_spec(&compressed);
    let mut gzip = criterion.benchmark_group("tail_gzip");
    gzip.sample_size(10)
        .measurement_time(Duration::from_secs(8));
    gzip.throughput(Throughput::Elements(gz_lines));
    gzip.bench_function("read_once_10MB_decompressed", |bench| {
        bench.iter(|| read_through(&compressed_spec, &once))
    });
    gzip.finish();
}

criterion_group!(benches, bench_read);
criterion_main!(benches);
