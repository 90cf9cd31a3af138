//! Events per second through the pool with its three models (the batch OCSVM baseline fitted
//! on 5,000 events, Half-Space Trees, the online OCSVM), one thread, default parameters, on
//! 3, 40 and 66 features: per event `score`, then `learn` (the live path), and the same with
//! the label revealed as feedback in between (the `vigil eval` path, where every ADWIN takes
//! an error per event).
//!
//! Run with `cargo bench -p vigil-pool --bench pool` (`-- 66_features` for the daemon's
//! width only); criterion reports events per second as `thrpt`. The streams are seeded. The
//! dense ones (`N_features`) are Gaussian normal traffic with one event in a hundred far
//! outside it: every value non-zero, the pessimistic case. `66_features_sparse` is shaped like
//! the daemon's rows of honeypot logins (the columns of `vigil_features::Column`): mostly
//! zeros, a few one-hot flags, time of day and small log counts, about 20 non-zero values of
//! 66, with one event in a hundred a port scan or a burst of failed logins.
//!
//! Each pool is warmed on 20,000 events first (its baseline is fitted and in effect), and the
//! change threshold is set out of reach during the measurement, so that the figures are the
//! hot path without refits; a refit costs one fit plus `swap_after_events` catch-up steps,
//! once per drift.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_pool::{Pool, PoolConfig, PoolError};

/// Events per measured batch.
const EVENTS: usize = 5_000;

/// Events the pool sees before the measurement: the baseline's 5,000 plus its swap delay.
const WARM_UP: usize = 20_000;

/// Seeded rows: standard normal features, one event in a hundred shifted by 6 on each.
fn rows(dim: usize, n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
    let mut uniform = uniform_stream(seed);
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

/// A SplitMix64 stream of uniform numbers in (0, 1).
fn uniform_stream(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64).max(f64::MIN_POSITIVE)
    }
}

/// Width of the daemon's feature rows (`vigil_features::Column::ALL.len()`).
const SCHEMA_DIM: usize = 66;

/// Column indices of the daemon's schema used by [`sparse_rows`] (see
/// `daemon/features/src/schema.rs`; the bench does not depend on `vigil-features`).
mod col {
    pub const BYTES_MISSING: usize = 2;
    pub const PACKETS_MISSING: usize = 5;
    pub const DURATION_LOG1P: usize = 6;
    pub const DURATION_MISSING: usize = 7;
    pub const BYTE_RATIO_OUT: usize = 11;
    pub const PACKET_RATIO_OUT: usize = 12;
    pub const HOUR_SIN: usize = 13;
    pub const HOUR_COS: usize = 14;
    pub const WEEKDAY: usize = 15;
    pub const WEEKEND: usize = 16;
    pub const BUSINESS_HOURS: usize = 17;
    pub const TCP_FLAGS_MISSING: usize = 24;
    pub const DST_PRIVATE: usize = 26;
    pub const DST_PORT_COMMON: usize = 28;
    pub const DST_PORT_WELL_KNOWN: usize = 29;
    pub const TRANSPORT_TCP: usize = 31;
    pub const PROTO_SSH: usize = 35;
    pub const PROTO_TELNET: usize = 36;
    pub const PROTO_OTHER: usize = 45;
    pub const KIND_CONNECT: usize = 46;
    pub const KIND_LOGIN_FAILED: usize = 47;
    pub const KIND_LOGIN_SUCCESS: usize = 48;
    pub const KIND_COMMAND: usize = 49;
    pub const KIND_FILE_TRANSFER: usize = 50;
    pub const KIND_OTHER: usize = 54;
    pub const SRC_TRACKED: usize = 55;
    pub const SRC_EVENTS_LOG1P: usize = 56;
    pub const SRC_FAILED_LOGINS_LOG1P: usize = 57;
    pub const SRC_DISTINCT_DST_PORTS_LOG1P: usize = 58;
    pub const SRC_DISTINCT_DST_IPS_LOG1P: usize = 59;
    pub const SRC_LOGIN_SUCCESS_RATIO: usize = 61;
    pub const SRC_DST_PORT_ENTROPY: usize = 62;
    pub const SRC_COMMANDS_PER_SESSION_LOG1P: usize = 63;
    pub const SRC_EVENTS_OVER_BASELINE_LOG1P: usize = 64;
    pub const SRC_DST_PORT_NEW: usize = 65;
}

/// Seeded rows shaped like the daemon's rows of Cowrie events: no byte, packet or TCP flag
/// counts (their `*_missing` flags set, ratios at 0.5), SSH or Telnet to a common port of a
/// private honeypot address, one event kind, the time of day, and the source's window counts
/// (small, through `ln(1 + n)`). One event in a hundred is a port scan (many distinct ports
/// and addresses, new ports, high port entropy) or a burst of failed logins.
fn sparse_rows(n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
    let mut uniform = uniform_stream(seed);
    let mut xs = Vec::with_capacity(n * SCHEMA_DIM);
    let mut labels = Vec::with_capacity(n);
    let mut minute = 0u64;
    for i in 0..n {
        let anomalous = i % 100 == 99;
        let mut row = [0.0; SCHEMA_DIM];
        // Event time: a few seconds apart, so the hour columns sweep slowly.
        minute += u64::from(uniform() < 0.2);
        let day_turn = (minute % 1_440) as f64 / 1_440.0 * std::f64::consts::TAU;
        let weekday = (minute / 1_440) % 7;
        let hour = (minute % 1_440) / 60;
        row[col::HOUR_SIN] = day_turn.sin();
        row[col::HOUR_COS] = day_turn.cos();
        row[col::WEEKDAY] = weekday as f64 / 6.0;
        row[col::WEEKEND] = f64::from(u8::from(weekday >= 5));
        row[col::BUSINESS_HOURS] = f64::from(u8::from(weekday < 5 && (8..18).contains(&hour)));
        row[col::BYTES_MISSING] = 1.0;
        row[col::PACKETS_MISSING] = 1.0;
        row[col::BYTE_RATIO_OUT] = 0.5;
        row[col::PACKET_RATIO_OUT] = 0.5;
        row[col::TCP_FLAGS_MISSING] = 1.0;
        row[col::DST_PRIVATE] = 1.0;
        row[col::TRANSPORT_TCP] = 1.0;
        row[col::SRC_TRACKED] = 1.0;
        let ln1p = |k: f64| k.ln_1p();
        // A source's place in its session: small counts, heavier for a few.
        let events = (1.0 / uniform()).floor().min(500.0);
        row[col::SRC_EVENTS_LOG1P] = ln1p(events);
        row[col::SRC_EVENTS_OVER_BASELINE_LOG1P] = ln1p((events / 4.0).floor());
        row[col::SRC_DISTINCT_DST_PORTS_LOG1P] = ln1p(1.0);
        row[col::SRC_DISTINCT_DST_IPS_LOG1P] = ln1p(1.0);
        row[col::SRC_DST_PORT_NEW] = f64::from(u8::from(events <= 1.0));
        if anomalous {
            if i % 200 == 199 {
                // A port scan: connects to many ports and addresses.
                let ports = 20.0 + (uniform() * 200.0).floor();
                row[col::KIND_CONNECT] = 1.0;
                row[col::PROTO_OTHER] = 1.0;
                row[col::SRC_DISTINCT_DST_PORTS_LOG1P] = ln1p(ports);
                row[col::SRC_DISTINCT_DST_IPS_LOG1P] = ln1p((ports / 10.0).floor());
                row[col::SRC_DST_PORT_ENTROPY] = ports.log2();
                row[col::SRC_DST_PORT_NEW] = 1.0;
                row[col::SRC_EVENTS_LOG1P] = ln1p(ports);
                row[col::SRC_EVENTS_OVER_BASELINE_LOG1P] = ln1p(ports / 2.0);
            } else {
                // Brute force: hundreds of failed logins from one source.
                let failed = 200.0 + (uniform() * 800.0).floor();
                row[col::KIND_LOGIN_FAILED] = 1.0;
                row[col::PROTO_SSH] = 1.0;
                row[col::DST_PORT_COMMON] = 1.0;
                row[col::DST_PORT_WELL_KNOWN] = 1.0;
                row[col::SRC_FAILED_LOGINS_LOG1P] = ln1p(failed);
                row[col::SRC_EVENTS_LOG1P] = ln1p(failed);
                row[col::SRC_EVENTS_OVER_BASELINE_LOG1P] = ln1p(failed / 4.0);
            }
        } else {
            row[col::DST_PORT_COMMON] = 1.0;
            row[col::DST_PORT_WELL_KNOWN] = 1.0;
            let proto = if uniform() < 0.8 {
                col::PROTO_SSH
            } else {
                col::PROTO_TELNET
            };
            row[proto] = 1.0;
            let failed = (events * uniform()).floor();
            row[col::SRC_FAILED_LOGINS_LOG1P] = ln1p(failed);
            let u = uniform();
            let kind = if u < 0.25 {
                col::KIND_CONNECT
            } else if u < 0.65 {
                col::KIND_LOGIN_FAILED
            } else if u < 0.72 {
                col::KIND_LOGIN_SUCCESS
            } else if u < 0.9 {
                col::KIND_COMMAND
            } else if u < 0.93 {
                col::KIND_FILE_TRANSFER
            } else {
                col::KIND_OTHER
            };
            row[kind] = 1.0;
            if kind == col::KIND_LOGIN_SUCCESS || kind == col::KIND_COMMAND {
                row[col::SRC_LOGIN_SUCCESS_RATIO] = 1.0 / (1.0 + failed);
            }
            if kind == col::KIND_COMMAND {
                row[col::SRC_COMMANDS_PER_SESSION_LOG1P] = ln1p((uniform() * 12.0).floor());
            }
        }
        // Session ends carry a duration.
        if row[col::KIND_OTHER] == 1.0 {
            row[col::DURATION_LOG1P] = ln1p((uniform() * 600.0).floor());
        } else {
            row[col::DURATION_MISSING] = 1.0;
        }
        xs.extend_from_slice(&row);
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

/// A stream of rows.
#[derive(Clone, Copy)]
enum Input {
    /// Dense Gaussian rows of this many features.
    Dense(usize),
    /// Rows shaped like the daemon's Cowrie rows.
    Sparse,
}

impl Input {
    /// Its name in the bench ids.
    fn name(self) -> String {
        match self {
            Input::Dense(dim) => format!("{dim}_features"),
            Input::Sparse => format!("{SCHEMA_DIM}_features_sparse"),
        }
    }

    fn dim(self) -> usize {
        match self {
            Input::Dense(dim) => dim,
            Input::Sparse => SCHEMA_DIM,
        }
    }

    /// `n` seeded rows and their labels.
    fn rows(self, n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
        match self {
            Input::Dense(dim) => rows(dim, n, seed),
            Input::Sparse => sparse_rows(n, seed),
        }
    }
}

/// A pool that has seen `WARM_UP` events, baseline in effect, drift handling out of reach.
fn warm_pool(input: Input, with_feedback: bool) -> (Pool, u64) {
    let config = PoolConfig {
        min_drift_rise: 0.999,
        switch_margin: 0.999,
        ..PoolConfig::default()
    };
    let dim = input.dim();
    let mut pool = Pool::new(dim, config).expect("default parameters");
    let (xs, labels) = input.rows(WARM_UP, 1);
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

fn bench_input(c: &mut Criterion, input: Input) {
    let dim = input.dim();
    let (xs, labels) = input.rows(EVENTS, 2);
    let mut group = c.benchmark_group("pool");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    for with_feedback in [false, true] {
        let name = if with_feedback {
            "score+feedback+learn"
        } else {
            "score+learn"
        };
        // Warmed on first use, so that a filtered run (and a profile of it) spends no time
        // on the warm-up and fits of benches it does not run.
        let mut warmed = None;
        group.bench_function(format!("{name}/{}", input.name()), |b| {
            let (pool, seq) = warmed.get_or_insert_with(|| warm_pool(input, with_feedback));
            b.iter(|| {
                let mut total = 0.0;
                for (x, label) in black_box(&xs).chunks_exact(dim).zip(&labels) {
                    total += step(pool, x, *seq, with_feedback.then_some(*label));
                    *seq += 1;
                }
                black_box(total)
            })
        });
    }
    group.finish();
}

fn pool_throughput(c: &mut Criterion) {
    for input in [
        Input::Dense(3),
        Input::Dense(40),
        Input::Dense(SCHEMA_DIM),
        Input::Sparse,
    ] {
        bench_input(c, input);
    }
}

criterion_group!(benches, pool_throughput);
criterion_main!(benches);
