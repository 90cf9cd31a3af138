//! Events per second through the pool with its three models (the batch OCSVM baseline fitted
//! on 5,000 events, Half-Space Trees, the online OCSVM), one thread, default parameters, on
//! 3 and on 40 features: per event `score`, then `learn` (the live path), and the same with
//! the label revealed as feedback in between (the `vigil eval` path, where every ADWIN takes
//! an error per event).
//!
//! Run with `cargo bench -p vigil-pool --bench pool`; criterion reports events per second as
//! `thrpt`. The stream is seeded: Gaussian normal traffic with one event in a hundred far
//! outside it. The pool is warmed on 20,000 events first (its baseline is fitted and in
//! effect), and the change threshold is set out of reach during the measurement, so that the
//! figures are the hot path without refits; a refit costs one fit plus
//! `swap_after_events` catch-up steps, once per drift.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_pool::{Pool, PoolConfig, PoolError};

/// Events per measured batch.
const EVENTS: usize = 5_000;

/// Events the pool sees before the measurement: the baseline's 5,000 plus its swap delay.
const WARM_UP: usize = 20_000;

/// Seeded rows: standard normal features, one event in a hundred shifted by 6 on each.
fn rows(dim: usize, n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64).max(f64::MIN_POSITIVE)
    };
    let mut xs = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let anomalous = i % 100 == 99;
        for _ in 0..dim {
            let normal = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
            xs.push(normal + if anomalous { 6.0 } else { 0.0 });
        }
        labels.push(anomalous);
    }
    (xs, labels)
}

/// Scores, optionally reveals the label, learns; runs fits inline when the pool waits.
fn step(pool: &mut Pool, x: &[f64], seq: u64, label: Option<bool>) -> f64 {
    let scored = match pool.score(x, seq) {
        Err(PoolError::WaitingForFit { .. }) => {
            pool.run_pending_fits().expect("fits run");
            pool.score(x, seq).expect("scored after the fit")
        }
        other => other.expect("scored"),
    };
    if let Some(anomalous) = label {
        pool.feedback(seq, anomalous).expect("feedback");
    }
    pool.learn(x, scored.calibrated >= 0.95).expect("learned");
    scored.calibrated
}

/// A pool that has seen `WARM_UP` events, baseline in effect, drift handling out of reach.
fn warm_pool(dim: usize, with_feedback: bool) -> (Pool, u64) {
    let config = PoolConfig {
        min_drift_rise: 0.999,
        switch_margin: 0.999,
        ..PoolConfig::default()
    };
    let mut pool = Pool::new(dim, config).expect("default parameters");
    let (xs, labels) = rows(dim, WARM_UP, 1);
    for (i, (x, label)) in xs.chunks_exact(dim).zip(&labels).enumerate() {
        step(&mut pool, x, i as u64, with_feedback.then_some(*label));
    }
    assert_eq!(
        pool.status().models.len(),
        3,
        "all three models score: {:?}",
        pool.status()
    );
    (pool, WARM_UP as u64)
}

fn bench_dim(c: &mut Criterion, dim: usize) {
    let (xs, labels) = rows(dim, EVENTS, 2);
    let mut group = c.benchmark_group("pool");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    for with_feedback in [false, true] {
        let (mut pool, mut seq) = warm_pool(dim, with_feedback);
        let name = if with_feedback {
            "score+feedback+learn"
        } else {
            "score+learn"
        };
        group.bench_function(format!("{name}/{dim}_features"), |b| {
            b.iter(|| {
                let mut total = 0.0;
                for (x, label) in black_box(&xs).chunks_exact(dim).zip(&labels) {
                    total += step(&mut pool, x, seq, with_feedback.then_some(*label));
                    seq += 1;
                }
                black_box(total)
            })
        });
    }
    group.finish();
}

fn pool_throughput(c: &mut Criterion) {
    bench_dim(c, 3);
    bench_dim(c, 40);
    bench_dim(c, 66);
}

criterion_group!(benches, pool_throughput);
criterion_main!(benches);
