//! A pool restored from a snapshot goes on exactly as the pool it was taken from: the issue
//! asks for 1,000 identical scores after a restart from a checkpoint; these tests compare
//! every score to the end of the stream.

mod common;

use common::*;
use vigil_pool::{ModelKind, Pool, PoolConfig, PoolError};

const TOTAL: usize = 10_000;

fn config() -> PoolConfig {
    small_config(&ModelKind::ALL)
}

fn events() -> Vec<Labelled> {
    bursts_then_shift(11, 6_000, TOTAL)
}

/// Runs the stream to `at`, restores a snapshot into a fresh pool, and runs both to the end.
/// Returns whether a fit was pending at the checkpoint.
fn restart_at(at: usize, hand_out_pending: bool) -> bool {
    let events = events();
    let mut original = Pool::new(3, config()).expect("valid config");
    drive(&mut original, &events[..at], 0, true, Fits::Inline).expect("pool runs");
    let pending = !original.status().fits.is_empty();
    if hand_out_pending {
        // A job handed out to a fit thread that dies with the process.
        let _lost = original.fit_job();
    }
    let bytes = original.snapshot();
    let mut restored = Pool::new(3, config()).expect("valid config");
    restored.restore(&bytes).expect("snapshot restores");
    assert!(
        restored.snapshot() == bytes,
        "restore then snapshot gives the same bytes"
    );
    let a = drive(&mut original, &events[at..], at as u64, true, Fits::Inline).expect("runs");
    let b = drive(&mut restored, &events[at..], at as u64, true, Fits::Inline).expect("runs");
    assert_eq!(a.scores.len(), TOTAL - at);
    assert_same(&a, &b);
    assert!(
        original.snapshot() == restored.snapshot(),
        "final states differ"
    );
    pending
}

#[test]
fn restart_at_event_5000_scores_the_next_5000_bit_identically() {
    restart_at(5_000, false);
}

#[test]
fn restart_while_a_fit_is_pending_or_handed_out() {
    // Event 650: the baseline's window is complete and its fit not yet due. Later
    // checkpoints fall after the change at 6,000, while fresh models are being fitted.
    let mut pending = 0;
    for at in [650, 6_100, 6_400] {
        pending += usize::from(restart_at(at, false));
        pending += usize::from(restart_at(at, true));
    }
    assert!(pending >= 4, "checkpoints with a pending fit: {pending}");
}

#[test]
fn restart_between_score_and_learn() {
    let events = events();
    let threshold = config().alert_threshold;
    let mut original = Pool::new(3, config()).expect("valid config");
    drive(&mut original, &events[..3_000], 0, true, Fits::Inline).expect("runs");
    let scored = original.score(&events[3_000].x, 3_000).expect("scored");
    let mut restored = Pool::new(3, config()).expect("valid config");
    restored.restore(&original.snapshot()).expect("restores");
    for pool in [&mut original, &mut restored] {
        pool.feedback(3_000, events[3_000].anomalous)
            .expect("feedback");
        pool.learn(&events[3_000].x, scored.calibrated >= threshold)
            .expect("learned");
    }
    let a = drive(&mut original, &events[3_001..], 3_001, true, Fits::Inline).expect("runs");
    let b = drive(&mut restored, &events[3_001..], 3_001, true, Fits::Inline).expect("runs");
    assert_same(&a, &b);
}

#[test]
fn a_snapshot_from_another_configuration_is_refused_by_field() {
    let events = events();
    let mut pool = Pool::new(3, config()).expect("valid config");
    drive(&mut pool, &events[..1_000], 0, true, Fits::Inline).expect("runs");
    let bytes = pool.snapshot();
    let mut other = Pool::new(
        3,
        PoolConfig {
            alert_threshold: 0.99,
            ..config()
        },
    )
    .expect("valid config");
    let before = other.snapshot();
    match other.restore(&bytes) {
        Err(PoolError::SnapshotMismatch {
            field,
            snapshot,
            current,
        }) => {
            assert_eq!(field, "alert_threshold");
            assert_eq!((snapshot.as_str(), current.as_str()), ("0.95", "0.99"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        other.snapshot() == before,
        "a refused restore changes nothing"
    );
    let mut wider = Pool::new(4, config()).expect("valid config");
    assert!(matches!(
        wider.restore(&bytes),
        Err(PoolError::SnapshotMismatch { field, .. }) if field == "dim"
    ));
}

#[test]
fn corrupt_snapshots_are_refused_and_change_nothing() {
    let events = events();
    let mut pool = Pool::new(3, config()).expect("valid config");
    drive(&mut pool, &events[..1_200], 0, true, Fits::Inline).expect("runs");
    let good = pool.snapshot();
    let mut target = Pool::new(3, config()).expect("valid config");
    drive(&mut target, &events[..10], 0, true, Fits::Inline).expect("runs");
    let untouched = target.snapshot();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for cut in [0, 5, 100, good.len() / 3, good.len() / 2, good.len() - 1] {
        cases.push(good[..cut].to_vec());
    }
    let mut tag = good.clone();
    tag[0] = b'X';
    cases.push(tag);
    let mut version = good.clone();
    version[4] = 9;
    cases.push(version);
    let mut extra = good.clone();
    extra.push(0);
    cases.push(extra);
    for bad in cases {
        let result = target.restore(&bad);
        assert!(
            matches!(result, Err(PoolError::Snapshot { .. })),
            "{} bytes: {result:?}",
            bad.len()
        );
        assert!(
            target.snapshot() == untouched,
            "a refused restore changes nothing"
        );
    }
    assert!(target.restore(&good).is_ok());
}

#[test]
fn flipped_bytes_never_panic() {
    let events = events();
    let mut pool = Pool::new(3, config()).expect("valid config");
    drive(&mut pool, &events[..1_200], 0, true, Fits::Inline).expect("runs");
    let good = pool.snapshot();
    let mut g = Gen::new(99);
    let mut refused = 0;
    for _ in 0..300 {
        let mut bad = good.clone();
        let at = (g.next_u64() % bad.len() as u64) as usize;
        bad[at] ^= 0xFF;
        let mut target = Pool::new(3, config()).expect("valid config");
        match target.restore(&bad) {
            Err(_) => refused += 1,
            // A flip inside a model's numbers can be a valid state: it must still run.
            Ok(()) => {
                let _ = drive(
                    &mut target,
                    &events[1_200..1_250],
                    1_200,
                    true,
                    Fits::Inline,
                );
            }
        }
    }
    assert!(refused > 50, "{refused} of 300 refused");
}
