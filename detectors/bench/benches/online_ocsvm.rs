//! Online One-Class SVM throughput: score then learn every event (the progressive loop of
//! `vigil eval` and of the live pipeline), on 3 features (the flows of ODDS `http.csv`) and
//! on 20 features (a seeded Gaussian stream with a few outliers).
//!
//! Run with `cargo bench -p vigil-detectors-bench --bench online_ocsvm`; criterion reports
//! events per second as `thrpt`. `http.csv` is read from `$VIGIL_SHARED_DIR/data/odds/`
//! (default `../shared` beside the checkout); a seeded Gaussian stream stands in when it is
//! missing.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vigil_detectors::Detector;
use vigil_detectors::ocsvm::{OnlineOcsvm, OnlineOcsvmConfig};

/// Events per measured batch.
const EVENTS: usize = 20_000;

/// The first `EVENTS` rows of `http.csv` (features only), if the file is there.
fn http_rows() -> Option<Vec<f64>> {
    let text =
        std::fs::read_to_string(vigil_tests::shared_dir().join("data/odds/http.csv")).ok()?;
    let mut rows = Vec::with_capacity(EVENTS * 3);
    for line in text.lines().skip(1).take(EVENTS) {
        let fields: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse().ok())
            .collect::<Option<_>>()?;
        rows.extend_from_slice(fields.get(..3)?);
    }
    Some(rows)
}

/// A seeded stream of `dim`-feature Gaussian rows, one in a hundred shifted far away.
fn gaussian_rows(dim: usize) -> Vec<f64> {
    let mut state: u64 = 0x5EED;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..EVENTS * dim)
        .map(|i| {
            let normal = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
            let outlier = (i / dim) % 100 == 99;
            normal + if outlier { 6.0 } else { 0.0 }
        })
        .collect()
}

fn bench_score_learn(c: &mut Criterion, label: &str, dim: usize, rows: &[f64]) {
    let mut group = c.benchmark_group("online_ocsvm");
    group.throughput(Throughput::Elements((rows.len() / dim) as u64));
    group.sample_size(20);
    let fresh = || OnlineOcsvm::new(dim, OnlineOcsvmConfig::default()).expect("valid defaults");
    group.bench_function(format!("score_learn_many/{label}"), |b| {
        b.iter_batched_ref(
            || (fresh(), vec![0.0; rows.len() / dim]),
            |(model, scores)| {
                model
                    .score_learn_many(black_box(rows), scores)
                    .expect("finite rows");
            },
            BatchSize::LargeInput,
        );
    });
    group.bench_function(format!("score_one+learn_one/{label}"), |b| {
        b.iter_batched_ref(
            fresh,
            |model| {
                for x in rows.chunks_exact(dim) {
                    black_box(model.score_one(black_box(x)).expect("finite rows"));
                    model.learn_one(x).expect("finite rows");
                }
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn online_ocsvm(c: &mut Criterion) {
    let (label, rows_3) = match http_rows() {
        Some(rows) => ("3_features_http", rows),
        None => ("3_features_gaussian", gaussian_rows(3)),
    };
    bench_score_learn(c, label, 3, &rows_3);
    bench_score_learn(c, "20_features_gaussian", 20, &gaussian_rows(20));
}

criterion_group!(benches, online_ocsvm);
criterion_main!(benches);
