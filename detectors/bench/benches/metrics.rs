//! Throughput of the evaluation and calibration paths, one thread:
//!
//! - `streaming_auc/update`: [`StreamingAuc::update`] from empty over 1,000,000 events with
//!   continuous scores (about as many distinct scores as events, the worst case for the
//!   tree) and over 1,000,000 events with 1,000 distinct scores; 2 % anomalies.
//! - `streaming_auc/batch_roc_auc`: the sort-based [`roc_auc`] over the same million, for
//!   comparison.
//! - `calibration/calibrate`: [`Calibrator::calibrate`] against a full 10,000-score reservoir.
//! - `calibration/offer_reference`: [`Calibrator::offer_reference`] into a full 10,000-score
//!   reservoir at the default refresh rate 0.1.
//!
//! The data is generated here with a seeded generator: no shared files needed.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vigil_detectors::calibration::{Calibrator, CalibratorConfig};
use vigil_detectors::metrics::{StreamingAuc, roc_auc};

const EVENTS: usize = 1_000_000;
const PROBES: usize = 100_000;

/// Scores with anomalies shifted up; `levels` rounds them to that many distinct values
/// (0 keeps them continuous).
fn labelled_scores(n: usize, levels: u32, seed: u64) -> (Vec<f64>, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scores = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let anomalous = rng.random::<f64>() < 0.02;
        let mut s: f64 = rng.random::<f64>() + if anomalous { 0.5 } else { 0.0 };
        if levels > 0 {
            s = (s * f64::from(levels)).floor();
        }
        scores.push(s);
        labels.push(anomalous);
    }
    (scores, labels)
}

fn streaming_auc(c: &mut Criterion) {
    let mut group = c.benchmark_group("streaming_auc");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    for (name, levels) in [("update_continuous", 0), ("update_1000_levels", 1_000)] {
        let (scores, labels) = labelled_scores(EVENTS, levels, 1);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut auc = StreamingAuc::new();
                for (s, l) in scores.iter().zip(&labels) {
                    // Scores are finite by construction; an error cannot occur.
                    let _ = auc.update(*s, *l);
                }
                black_box(auc.auc())
            })
        });
    }
    let (scores, labels) = labelled_scores(EVENTS, 0, 1);
    group.bench_function("batch_roc_auc", |b| {
        b.iter(|| black_box(roc_auc(black_box(&scores), &labels)))
    });
    group.finish();
}

fn full_calibrator() -> Calibrator {
    let Ok(mut c) = Calibrator::new(CalibratorConfig::default()) else {
        unreachable!("the default configuration is valid");
    };
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    while c.len() < c.config().capacity {
        c.offer_reference(rng.random::<f64>());
    }
    c
}

fn calibration(c: &mut Criterion) {
    let mut group = c.benchmark_group("calibration");
    group.throughput(Throughput::Elements(PROBES as u64));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let probes: Vec<f64> = (0..PROBES).map(|_| rng.random::<f64>()).collect();
    let full = full_calibrator();
    group.bench_function("calibrate", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for raw in &probes {
                sum += full.calibrate(*raw);
            }
            black_box(sum)
        })
    });
    group.bench_function("offer_reference", |b| {
        b.iter_batched(
            || full.clone(),
            |mut c| {
                for raw in &probes {
                    black_box(c.offer_reference(*raw));
                }
                c
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, streaming_auc, calibration);
criterion_main!(benches);
