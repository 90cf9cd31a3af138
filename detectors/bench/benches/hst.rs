//! Half-Space Trees throughput on 3 features, one thread, default parameters (10 trees of
//! height 8, windows of 250) with the min-max scaler in front: score then learn every event
//! (the progressive loop of `vigil eval` and of the live pipeline), through the batch call
//! and through `score_one` + `learn_one`, and scoring alone.
//!
//! Run with `cargo bench -p vigil-detectors --bench hst`; criterion reports events per
//! second as `thrpt`. The rows are columns `f0..f2` of `vectors/synth_anomaly_s7.csv` and the
//! first rows of `data/odds/http.csv`, read from `$VIGIL_SHARED_DIR` (default `../shared`
//! beside the checkout); a seeded stream stands in for a missing file.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_detectors::Detector;
use vigil_detectors::hst::{HalfSpaceTrees, HstConfig};

const DIM: usize = 3;

/// Events per measured batch.
const EVENTS: usize = 20_000;

/// The first three columns of the first `EVENTS` data rows of a shared CSV with a header.
fn csv_rows(relative: &str) -> Option<Vec<f64>> {
    let text = std::fs::read_to_string(vigil_tests::shared_dir().join(relative)).ok()?;
    let mut rows = Vec::with_capacity(EVENTS * DIM);
    for line in text.lines().skip(1).take(EVENTS) {
        for field in line.split(',').take(DIM) {
            rows.push(field.trim().parse().ok()?);
        }
    }
    (rows.len() == EVENTS * DIM).then_some(rows)
}

/// A seeded stand-in: uniform rows, one in a hundred far outside the others.
fn seeded_rows() -> Vec<f64> {
    let mut state: u64 = 0x5EED;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..EVENTS * DIM)
        .map(|i| uniform() + if (i / DIM) % 100 == 99 { 4.0 } else { 0.0 })
        .collect()
}

/// A model that has already learned `rows` once, so the measurement is the steady state.
fn warm_model(rows: &[f64]) -> HalfSpaceTrees {
    let mut hst = HalfSpaceTrees::new(DIM, HstConfig::default()).expect("default parameters");
    let mut scores = vec![0.0; rows.len() / DIM];
    hst.score_learn_many(rows, &mut scores)
        .expect("finite rows of the right length");
    hst
}

fn bench_rows(c: &mut Criterion, label: &str, rows: &[f64]) {
    let events = rows.len() / DIM;
    let mut group = c.benchmark_group("hst");
    group.throughput(Throughput::Elements(events as u64));

    let mut hst = warm_model(rows);
    let mut scores = vec![0.0; events];
    group.bench_function(format!("score_learn_many/{label}"), |b| {
        b.iter(|| {
            hst.score_learn_many(black_box(rows), &mut scores)
                .expect("finite rows");
            black_box(&scores);
        })
    });

    let mut hst = warm_model(rows);
    group.bench_function(format!("score_one+learn_one/{label}"), |b| {
        b.iter(|| {
            let mut total = 0.0;
            for x in black_box(rows).chunks_exact(DIM) {
                total += hst.score_one(x).expect("finite row");
                hst.learn_one(x).expect("finite row");
            }
            black_box(total)
        })
    });

    let hst = warm_model(rows);
    group.bench_function(format!("score_many/{label}"), |b| {
        b.iter(|| {
            hst.score_many(black_box(rows), &mut scores)
                .expect("finite rows");
            black_box(&scores);
        })
    });
    group.finish();
}

fn hst(c: &mut Criterion) {
    let synth = csv_rows("vectors/synth_anomaly_s7.csv");
    let http = csv_rows("data/odds/http.csv");
    if synth.is_none() || http.is_none() {
        eprintln!("shared data missing: benchmarking a seeded stream instead");
    }
    bench_rows(c, "synth_anomaly_s7", &synth.unwrap_or_else(seeded_rows));
    bench_rows(c, "odds_http", &http.unwrap_or_else(seeded_rows));
}

criterion_group!(benches, hst);
criterion_main!(benches);
