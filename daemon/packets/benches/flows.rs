//! Read + decode + flow-track the largest shared capture (ssh-brute-force.pcap, 21,070
//! packets) from memory, looped: the capture is repeated `ROUNDS` times in one buffer, each
//! round's timestamps shifted forward past the previous round's end (plus twice the idle
//! timeout, so rounds do not merge), and the whole buffer is read per iteration.
//! Throughput is in packets (records) per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_packets::{CaptureReader, FlowConfig, FlowEvents, FlowTracker};

const FILE: &str = "data/pcap/axr00t-research/ssh-brute-force.pcap";
const ROUNDS: u32 = 8;

/// The classic pcap `bytes` (little-endian, as the shared files are) repeated `rounds` times.
fn looped(bytes: &[u8], rounds: u32, shift_secs: u32) -> (Vec<u8>, u64) {
    let mut out = bytes.to_vec();
    let mut records = 0u64;
    let body = &bytes[24..];
    for round in 1..rounds {
        let mut at = 0;
        while at + 16 <= body.len() {
            let caplen = u32::from_le_bytes(body[at + 8..at + 12].try_into().unwrap()) as usize;
            let secs = u32::from_le_bytes(body[at..at + 4].try_into().unwrap());
            out.extend_from_slice(&(secs + round * shift_secs).to_le_bytes());
            out.extend_from_slice(&body[at + 4..at + 16 + caplen]);
            at += 16 + caplen;
        }
    }
    let mut at = 24;
    while at + 16 <= out.len() {
        records += 1;
        at += 16 + u32::from_le_bytes(out[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    (out, records)
}

fn span_secs(bytes: &[u8]) -> u32 {
    let mut at = 24;
    let (mut first, mut last) = (None, 0u32);
    while at + 16 <= bytes.len() {
        let secs = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        first.get_or_insert(secs);
        last = last.max(secs);
        at += 16 + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    last - first.unwrap_or(last) + 1
}

fn bench(c: &mut Criterion) {
    let Some(path) = vigil_tests::shared_file(FILE) else {
        return;
    };
    let bytes = std::fs::read(&path).expect("read the shared capture");
    let config = FlowConfig::default();
    let shift = span_secs(&bytes) + 2 * config.flow_idle_secs as u32;
    let (buffer, records) = looped(&bytes, ROUNDS, shift);

    let mut group = c.benchmark_group("pcap");
    group.throughput(Throughput::Elements(records));
    group.bench_function("read_decode_track", |b| {
        b.iter(|| {
            let mut reader = CaptureReader::new(black_box(&buffer[..]), "bench");
            let mut tracker = FlowTracker::new(config.clone()).unwrap();
            let mut flows = Vec::with_capacity(1024);
            while let Some(p) = reader.next_packet().unwrap() {
                tracker.push(&p, &mut flows);
            }
            tracker.finish(&mut flows);
            assert_eq!(reader.stats().records, records);
            black_box(flows.len())
        })
    });
    group.bench_function("read_decode_track_events", |b| {
        b.iter(|| {
            let mut reader = CaptureReader::new(black_box(&buffer[..]), "bench");
            let mut tracker = FlowTracker::new(config.clone()).unwrap();
            let mut events = FlowEvents::new("bench", "bench");
            let mut flows = Vec::with_capacity(1024);
            let mut n = 0usize;
            while let Some(p) = reader.next_packet().unwrap() {
                tracker.push(&p, &mut flows);
                for f in flows.drain(..) {
                    n += black_box(events.event(&f)).numeric.len();
                }
            }
            tracker.finish(&mut flows);
            for f in flows.drain(..) {
                n += black_box(events.event(&f)).numeric.len();
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
