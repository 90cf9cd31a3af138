//! ADWIN throughput on the stream of `vectors/adwin_bernoulli_s1.json` (10,000 values of a
//! Bernoulli stream whose rate jumps from 0.2 to 0.8 halfway), one thread, in both modes;
//! Page-Hinkley and DDM on the same stream for comparison.
//!
//! The stream is read with plain std: the crate stays free of JSON libraries, even for
//! benches. Without the shared vectors the bench says so and measures nothing.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_detectors::DriftDetector;
use vigil_detectors::drift::{Adwin, AdwinMode, AdwinParams, Ddm, PageHinkley};

const VECTOR: &str = "vectors/adwin_bernoulli_s1.json";

/// The numbers of the top-level `"stream": [...]` array.
fn parse_stream(json: &str) -> Result<Vec<f64>, String> {
    let key = json.find("\"stream\"").ok_or("no \"stream\" key")?;
    let rest = &json[key + "\"stream\"".len()..];
    let open = rest.find('[').ok_or("no array after \"stream\"")?;
    let close = rest[open..]
        .find(']')
        .ok_or("unterminated \"stream\" array")?
        + open;
    rest[open + 1..close]
        .split(',')
        .map(|v| v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}")))
        .collect()
}

fn load_stream() -> Option<Vec<f64>> {
    let path = vigil_tests::shared_dir().join(VECTOR);
    let json = match std::fs::read_to_string(&path) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("skipping the ADWIN bench: {}: {e}", path.display());
            return None;
        }
    };
    match parse_stream(&json) {
        Ok(stream) => Some(stream),
        Err(e) => {
            eprintln!("skipping the ADWIN bench: {}: {e}", path.display());
            None
        }
    }
}

fn adwin_updates(c: &mut Criterion) {
    let Some(stream) = load_stream() else {
        return;
    };
    let mut group = c.benchmark_group("adwin");
    group.throughput(Throughput::Elements(stream.len() as u64));
    for (label, mode) in [
        ("river", AdwinMode::River),
        ("shrinking", AdwinMode::Shrinking),
    ] {
        let params = AdwinParams {
            mode,
            ..AdwinParams::default()
        };
        group.bench_function(format!("update/{label}/bernoulli_s1"), |b| {
            b.iter(|| {
                let Ok(mut adwin) = Adwin::new(params) else {
                    unreachable!("default parameters are valid");
                };
                let mut detections = 0u32;
                for &x in black_box(&stream) {
                    detections += u32::from(adwin.update(x));
                }
                black_box((detections, adwin.width()))
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("drift");
    group.throughput(Throughput::Elements(stream.len() as u64));
    group.bench_function("update/page_hinkley/bernoulli_s1", |b| {
        b.iter(|| feed(&mut PageHinkley::default(), &stream));
    });
    group.bench_function("update/ddm/bernoulli_s1", |b| {
        b.iter(|| feed(&mut Ddm::default(), &stream));
    });
    group.finish();
}

/// Feeds the whole stream; returns the detections and the final width so nothing is elided.
fn feed(detector: &mut dyn DriftDetector, stream: &[f64]) -> (u32, usize) {
    let mut detections = 0u32;
    for &x in black_box(stream) {
        detections += u32::from(detector.update(x));
    }
    black_box((detections, detector.width()))
}

criterion_group!(benches, adwin_updates);
criterion_main!(benches);
