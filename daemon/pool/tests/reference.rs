//! The calibrators' reference and the baseline's training window only take events that
//! count as normal: not alerted on, unless feedback says they are normal.

mod common;

use common::*;
use vigil_pool::{ModelKind, Pool, PoolConfig};

/// Two online models and no drift handling, so the same two calibrators are watched
/// throughout.
fn online_pool() -> Pool {
    let config = PoolConfig {
        min_drift_rise: 0.99,
        switch_margin: 0.99,
        ..small_config(&[ModelKind::Hst, ModelKind::OnlineOcsvm])
    };
    Pool::new(3, config).expect("valid config")
}

fn calibrator_bytes(pool: &Pool) -> Vec<Vec<u8>> {
    pool.active_models()
        .into_iter()
        .map(|m| pool.calibrator(m).expect("active model").snapshot())
        .collect()
}

fn offered(pool: &Pool) -> Vec<u64> {
    pool.active_models()
        .into_iter()
        .map(|m| pool.calibrator(m).expect("active model").offered())
        .collect()
}

#[test]
fn alerted_events_do_not_move_the_reference() {
    let mut g = Gen::new(5);
    let mut pool = online_pool();
    let normal = regime(&mut g, 1_500, &A, &ATTACK, 1_000, 0);
    for (seq, e) in normal.iter().enumerate() {
        pool.score(&e.x, seq as u64).expect("scored");
        pool.learn(&e.x, false).expect("learned");
    }
    assert_eq!(offered(&pool), vec![1_500, 1_500]);
    let reference = calibrator_bytes(&pool);
    let models_before: Vec<u64> = pool
        .status()
        .models
        .iter()
        .map(|m| m.references as u64)
        .collect();

    // A burst the pool alerted on: the models learn it, the references stay as they were.
    let burst = regime(&mut g, 500, &ATTACK, &ATTACK, 1_000, 0);
    let mut high = 0;
    for (i, e) in burst.iter().enumerate() {
        let scored = pool.score(&e.x, 1_500 + i as u64).expect("scored");
        high += usize::from(scored.calibrated >= 0.95);
        pool.learn(&e.x, true).expect("learned");
    }
    assert!(high >= 50, "the burst scores high at first ({high} of 500)");
    assert_eq!(calibrator_bytes(&pool), reference);
    let models_after: Vec<u64> = pool
        .status()
        .models
        .iter()
        .map(|m| m.references as u64)
        .collect();
    assert_eq!(models_after, models_before);

    // The next event that was not alerted on is offered again.
    let e = &normal[0];
    pool.score(&e.x, 2_000).expect("scored");
    pool.learn(&e.x, false).expect("learned");
    assert_eq!(offered(&pool), vec![1_501, 1_501]);
}

#[test]
fn feedback_decides_for_the_events_it_names() {
    let mut g = Gen::new(6);
    let mut pool = online_pool();
    let events = regime(&mut g, 300, &A, &ATTACK, 1_000, 0);
    for (seq, e) in events.iter().enumerate().take(200) {
        pool.score(&e.x, seq as u64).expect("scored");
        pool.learn(&e.x, false).expect("learned");
    }
    assert_eq!(offered(&pool), vec![200, 200]);
    // Alerted, then found normal: offered when the feedback arrives.
    pool.score(&events[200].x, 200).expect("scored");
    pool.learn(&events[200].x, true).expect("learned");
    assert_eq!(offered(&pool), vec![200, 200]);
    pool.feedback(200, false).expect("feedback");
    assert_eq!(offered(&pool), vec![201, 201]);
    // Alerted and confirmed anomalous: never offered.
    pool.score(&events[201].x, 201).expect("scored");
    pool.learn(&events[201].x, true).expect("learned");
    pool.feedback(201, true).expect("feedback");
    assert_eq!(offered(&pool), vec![201, 201]);
    // Feedback before learning wins over the alert decision, both ways.
    pool.score(&events[202].x, 202).expect("scored");
    pool.feedback(202, false).expect("feedback");
    pool.learn(&events[202].x, true).expect("learned");
    assert_eq!(offered(&pool), vec![202, 202]);
    pool.score(&events[203].x, 203).expect("scored");
    pool.feedback(203, true).expect("feedback");
    pool.learn(&events[203].x, false).expect("learned");
    assert_eq!(offered(&pool), vec![202, 202]);
}

#[test]
fn the_baseline_trains_only_on_events_that_count_as_normal() {
    let config = PoolConfig {
        baseline_train_events: 100,
        ..small_config(&[ModelKind::Ocsvm, ModelKind::Hst])
    };
    let mut pool = Pool::new(2, config).expect("valid config");
    // Event i carries its index, so the training rows tell which events they were.
    // Every third event is alerted on; every seventh gets feedback "anomalous" first.
    let mut expected = Vec::new();
    let mut seq = 0u64;
    while expected.len() < 100 {
        let x = [seq as f64, (seq % 5) as f64];
        pool.score(&x, seq).expect("scored");
        let anomalous_feedback = seq.is_multiple_of(7);
        if anomalous_feedback {
            pool.feedback(seq, true).expect("feedback");
        }
        let alerted = seq.is_multiple_of(3);
        pool.learn(&x, alerted).expect("learned");
        if !alerted && !anomalous_feedback {
            expected.push(seq as f64);
        }
        seq += 1;
    }
    let job = pool.fit_job().expect("the window is complete");
    assert_eq!(job.kind(), ModelKind::Ocsvm);
    assert_eq!(job.rows(), 100);
    let firsts: Vec<f64> = job.training_rows().chunks_exact(2).map(|r| r[0]).collect();
    assert_eq!(firsts, expected);
    assert_eq!(job.window(), (1, seq - 1));
    assert_eq!(job.fit_start_seq(), seq - 1);
    assert_eq!(job.due_seq(), seq - 1 + 300);
}
