//! The pool is a function of its calls: the same stream gives bit-identical scores and
//! decisions, whether fits run inline or on other threads and whenever they finish.

mod common;

use common::*;
use vigil_pool::{ModelKind, Pool, PoolConfig};

fn config(seed: u64) -> PoolConfig {
    PoolConfig {
        seed,
        ..small_config(&ModelKind::ALL)
    }
}

fn run(seed: u64, fits: Fits) -> Trace {
    let events = bursts_then_shift(7, 3_000, 6_000);
    let mut pool = Pool::new(3, config(seed)).expect("valid config");
    drive(&mut pool, &events, 0, true, fits).expect("pool runs")
}

#[test]
fn same_calls_same_scores_and_decisions() {
    let a = run(0, Fits::Inline);
    assert!(
        a.events.len() >= 3,
        "the stream exercises fits and drifts: {:?}",
        a.events
    );
    assert_same(&a, &run(0, Fits::Inline));
}

#[test]
fn fits_on_other_threads_give_the_same_stream_as_inline_fits() {
    let inline = run(0, Fits::Inline);
    let threads = run(0, Fits::Threads);
    assert_same(&inline, &threads);
}

#[test]
fn another_seed_gives_other_scores() {
    let a = run(0, Fits::Inline);
    let b = run(1, Fits::Inline);
    let differ = a
        .scores
        .iter()
        .zip(&b.scores)
        .filter(|(x, y)| x.calibrated.to_bits() != y.calibrated.to_bits())
        .count();
    assert!(differ > 100, "{differ} scores differ");
}

#[test]
fn scores_do_not_depend_on_when_a_fit_is_installed() {
    // Install the baseline's fit as soon as it is handed out, or only when the pool waits.
    let events = bursts_then_shift(8, 1_500, 1_500);
    let mut early = Pool::new(3, config(0)).expect("valid config");
    let mut late = Pool::new(3, config(0)).expect("valid config");
    let threshold = early.config().alert_threshold;
    for (i, e) in events.iter().enumerate() {
        let seq = i as u64;
        while let Some(job) = early.fit_job() {
            early.install(job.run()).expect("installed");
        }
        let a = early.score(&e.x, seq).expect("never waits");
        let b = match late.score(&e.x, seq) {
            Err(vigil_pool::PoolError::WaitingForFit { due_seq, .. }) => {
                assert_eq!(due_seq, seq, "waits exactly at the due event");
                late.run_pending_fits().expect("fits run");
                late.score(&e.x, seq).expect("scored after the fit")
            }
            other => other.expect("scored"),
        };
        assert_eq!(
            a.calibrated.to_bits(),
            b.calibrated.to_bits(),
            "event {seq}"
        );
        assert_eq!(a.champion, b.champion);
        early
            .learn(&e.x, a.calibrated >= threshold)
            .expect("learned");
        late.learn(&e.x, b.calibrated >= threshold)
            .expect("learned");
    }
    // A fit created near the end may be installed in one and not yet in the other.
    late.run_pending_fits().expect("fits run");
    assert!(
        early.snapshot() == late.snapshot(),
        "the pools' states differ"
    );
}
