//! The call contract: what the pool refuses, and that a refusal changes nothing.

mod common;

use common::*;
use vigil_detectors::DetectorError;
use vigil_pool::{DriftKind, FeedbackOutcome, ModelKind, Pool, PoolConfig, PoolError};

fn pool() -> Pool {
    Pool::new(2, small_config(&ModelKind::ALL)).expect("valid config")
}

#[test]
fn bad_vectors_are_refused_with_the_event_named() {
    let mut pool = pool();
    let before = pool.snapshot();
    match pool.score(&[1.0], 7) {
        Err(PoolError::Input {
            seq: 7,
            source:
                DetectorError::DimensionMismatch {
                    expected: 2,
                    got: 1,
                    ..
                },
        }) => {}
        other => panic!("{other:?}"),
    }
    match pool.score(&[1.0, f64::NAN], 8) {
        Err(
            e @ PoolError::Input {
                seq: 8,
                source: DetectorError::NonFinite { index: 1, .. },
            },
        ) => {
            assert!(e.to_string().starts_with("event 8:"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(pool.snapshot() == before);
}

#[test]
fn the_call_order_is_enforced() {
    let mut pool = pool();
    assert_eq!(
        pool.learn(&[0.0, 0.0], false),
        Err(PoolError::NothingToLearn { last: None })
    );
    assert_eq!(
        pool.feedback(0, true),
        Err(PoolError::FeedbackFromFuture { seq: 0, last: None })
    );
    pool.score(&[1.0, 2.0], 10).expect("scored");
    assert_eq!(
        pool.score(&[1.0, 2.0], 11),
        Err(PoolError::NotLearned {
            seq: 11,
            pending: 10
        })
    );
    assert_eq!(
        pool.learn(&[1.0, 2.5], false),
        Err(PoolError::LearnMismatch { seq: 10 })
    );
    pool.learn(&[1.0, 2.0], false).expect("learned");
    assert_eq!(
        pool.learn(&[1.0, 2.0], false),
        Err(PoolError::NothingToLearn { last: Some(10) })
    );
    for seq in [9, 10] {
        assert_eq!(
            pool.score(&[1.0, 2.0], seq),
            Err(PoolError::SeqNotIncreasing { seq, last: 10 })
        );
    }
    assert_eq!(
        pool.feedback(11, false),
        Err(PoolError::FeedbackFromFuture {
            seq: 11,
            last: Some(10)
        })
    );
    // Gaps in the sequence are fine.
    pool.score(&[1.0, 2.0], 1_000).expect("scored");
}

#[test]
fn feedback_outcomes() {
    let mut pool = Pool::new(
        2,
        PoolConfig {
            feedback_window_events: 50,
            recent_window_events: 50,
            retrain_min_events: 20,
            retrain_max_events: 50,
            ..small_config(&[ModelKind::Hst])
        },
    )
    .expect("valid config");
    for seq in 0..100u64 {
        let x = [seq as f64 % 3.0, 1.0];
        pool.score(&x, seq).expect("scored");
        pool.learn(&x, false).expect("learned");
    }
    assert_eq!(pool.feedback(10, false), Ok(FeedbackOutcome::OutOfWindow));
    assert_eq!(pool.status().feedback_applied, 0);
    assert_eq!(pool.signal(), vigil_pool::Signal::Scores);
    assert_eq!(pool.feedback(60, false), Ok(FeedbackOutcome::Applied));
    assert_eq!(pool.signal(), vigil_pool::Signal::Errors);
    assert_eq!(pool.feedback(60, true), Ok(FeedbackOutcome::Duplicate));
    assert_eq!(pool.status().feedback_applied, 1);
    // The switch to errors starts every ADWIN afresh, with this one error value.
    assert!(pool.status().models.iter().all(|m| m.evidence == 1));
}

#[test]
fn a_due_fit_makes_intake_wait_without_changing_anything() {
    // No drift handling: the only fit is the baseline's.
    let config = PoolConfig {
        min_drift_rise: 0.99,
        switch_margin: 0.99,
        ..small_config(&ModelKind::ALL)
    };
    let mut pool = Pool::new(2, config).expect("valid config");
    let mut g = Gen::new(3);
    let events = regime(&mut g, 2_000, &[0.0, 0.0], &[9.0, 9.0], 1_000, 0);
    let mut seq = 0u64;
    let job = loop {
        pool.score(&events[seq as usize].x, seq).expect("scored");
        pool.learn(&events[seq as usize].x, false).expect("learned");
        seq += 1;
        if let Some(job) = pool.fit_job() {
            break job;
        }
    };
    assert_eq!(job.kind(), ModelKind::Ocsvm);
    assert_eq!(job.fit_start_seq(), seq - 1);
    let due = job.due_seq();
    assert!(pool.fit_job().is_none(), "a job is handed out once");
    while seq < due {
        assert!(!pool.needs_fit(seq));
        pool.score(&events[seq as usize].x, seq)
            .expect("scored before the due event");
        pool.learn(&events[seq as usize].x, false).expect("learned");
        seq += 1;
    }
    assert!(pool.needs_fit(due));
    let before = pool.snapshot();
    let x = &events[due as usize].x;
    assert_eq!(
        pool.score(x, due),
        Err(PoolError::WaitingForFit {
            seq: due,
            kind: ModelKind::Ocsvm,
            job: job.id(),
            due_seq: due,
        })
    );
    assert!(pool.snapshot() == before, "waiting changes nothing");
    // A result from a pool that never made this job is refused; a second install of the
    // right one is discarded.
    let done = job.run();
    assert!(done.error().is_none());
    let mut stranger = Pool::new(2, small_config(&ModelKind::ALL)).expect("valid config");
    assert_eq!(
        stranger.install(done.clone()),
        Err(PoolError::UnknownJob { job: job.id() })
    );
    pool.install(done.clone()).expect("installed");
    pool.install(done).expect("a second install is discarded");
    let scored = pool
        .score_timed(x, due, 1_700_000_000_000_000)
        .expect("scored");
    assert_eq!(scored.champion.map(|m| m.kind), Some(ModelKind::Ocsvm));
    let events = pool.drain_events();
    let fitted = events
        .iter()
        .find(|e| e.kind == DriftKind::BaselineFitted)
        .expect("baseline fitted");
    assert_eq!(fitted.seq, due);
    assert_eq!(fitted.event_time_micros, Some(1_700_000_000_000_000));
    assert!(pool.drain_events().is_empty(), "events are drained once");
}

#[test]
fn bad_model_parameters_are_named_when_the_pool_is_built() {
    let cases = [
        (
            PoolConfig {
                hst: vigil_detectors::hst::HstConfig {
                    n_trees: 0,
                    ..Default::default()
                },
                ..PoolConfig::default()
            },
            "hst.n_trees",
        ),
        (
            PoolConfig {
                online_ocsvm: vigil_detectors::ocsvm::OnlineOcsvmConfig {
                    gamma: Some(-1.0),
                    ..Default::default()
                },
                ..PoolConfig::default()
            },
            "online_ocsvm.gamma",
        ),
    ];
    for (config, name) in cases {
        match Pool::new(3, config) {
            Err(PoolError::InvalidConfig { field, .. }) => assert_eq!(field, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(
        Pool::new(0, PoolConfig::default()),
        Err(PoolError::InvalidConfig { field, .. }) if field == "dim"
    ));
}

#[test]
fn a_baseline_only_pool_scores_the_no_model_value_until_it_is_fitted() {
    let mut pool = Pool::new(
        1,
        PoolConfig {
            baseline_train_events: 10,
            swap_after_events: 5,
            ..PoolConfig {
                models: vec![ModelKind::Ocsvm],
                ..PoolConfig::default()
            }
        },
    )
    .expect("valid config");
    for seq in 0..30u64 {
        let x = [(seq % 4) as f64];
        let scored = match pool.score(&x, seq) {
            Err(PoolError::WaitingForFit { .. }) => {
                pool.run_pending_fits().expect("fits");
                pool.score(&x, seq).expect("scored")
            }
            other => other.expect("scored"),
        };
        if seq < 14 {
            assert_eq!(scored.champion, None);
            assert_eq!(scored.calibrated, vigil_pool::NO_MODEL_SCORE);
            assert_eq!(scored.models().count(), 0);
        } else {
            assert_eq!(scored.champion.map(|m| m.kind), Some(ModelKind::Ocsvm));
        }
        pool.learn(&x, false).expect("learned");
    }
}
