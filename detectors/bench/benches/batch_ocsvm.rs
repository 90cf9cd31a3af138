//! Batch One-Class SVM: fit time on the first 5,000 normal rows of ODDS `http.csv`
//! (standard-scaled with the population deviation, nu 0.1, gamma "scale", tol 1e-3; target at
//! most 0.5 s), and scoring throughput of the fitted model.
//!
//! Run with `cargo bench -p vigil-detectors --bench batch_ocsvm`. `http.csv` is read from
//! `$VIGIL_SHARED_DIR/data/odds/` (default `../shared` beside the checkout); without it the
//! bench says so and measures nothing. Peak memory of the same fit:
//! `cargo run --release -p vigil-detectors --example ocsvm_fit_memory`.

use vigil_detectors_bench::odds_http;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_detectors::Detector;
use vigil_detectors::ocsvm::batch::{BatchOcsvmConfig, Gamma, ScaledBatchOcsvm};

const TRAIN_ROWS: usize = 5_000;

fn config() -> BatchOcsvmConfig {
    BatchOcsvmConfig {
        nu: 0.1,
        gamma: Gamma::Scale,
        tol: 1e-3,
        ..BatchOcsvmConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let rows = match odds_http::first_normal_rows(TRAIN_ROWS) {
        Ok(rows) => rows,
        Err(why) => {
            eprintln!("batch_ocsvm: skipped, ODDS http is not readable: {why}");
            return;
        }
    };
    let dim = odds_http::DIM;

    let mut group = c.benchmark_group("batch_ocsvm");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("fit_http_5000_scaled", |b| {
        b.iter(|| {
            ScaledBatchOcsvm::fit(black_box(&rows), dim, &config()).expect("the fit succeeds")
        })
    });

    let model = ScaledBatchOcsvm::fit(&rows, dim, &config()).expect("the fit succeeds");
    group.throughput(Throughput::Elements(TRAIN_ROWS as u64));
    group.sample_size(30);
    group.bench_function("score_http_5000", |b| {
        let mut out = vec![0.0; TRAIN_ROWS];
        b.iter(|| {
            model
                .score_many(black_box(&rows), &mut out)
                .expect("scoring succeeds");
            black_box(out[0])
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
