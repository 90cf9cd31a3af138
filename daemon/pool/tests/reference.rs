//! The calibrators' reference and the baseline's training window only take events that
//! count as normal: not alerted on, unless feedback says they are normal.

mod common;

use common::*;
use vigil_pool::{ModelKind, Pool, PoolConfig, ReferencePolicy};

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
    // Warm-up scores stay out: Half-Space Trees' first window (100 events here), the online
    // OCSVM's first 50.
    assert_eq!(offered(&pool), vec![1_400, 1_450]);
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
    assert_eq!(offered(&pool), vec![1_401, 1_451]);
}

#[test]
fn feedback_decides_for_the_events_it_names() {
    let mut g = Gen::new(6);
    let mut pool = online_pool();
    let events = regime(&mut g, 500, &A, &ATTACK, 1_000, 0);
    for (seq, e) in events.iter().enumerate().take(400) {
        pool.score(&e.x, seq as u64).expect("scored");
        pool.learn(&e.x, false).expect("learned");
    }
    let base = offered(&pool);
    assert_eq!(base, vec![300, 350], "warm-up scores stay out");
    let plus = |n: u64| base.iter().map(|b| b + n).collect::<Vec<u64>>();
    // Alerted, then found normal: offered when the feedback arrives.
    pool.score(&events[400].x, 400).expect("scored");
    pool.learn(&events[400].x, true).expect("learned");
    assert_eq!(offered(&pool), plus(0));
    pool.feedback(400, false).expect("feedback");
    assert_eq!(offered(&pool), plus(1));
    // Alerted and confirmed anomalous: never offered.
    pool.score(&events[401].x, 401).expect("scored");
    pool.learn(&events[401].x, true).expect("learned");
    pool.feedback(401, true).expect("feedback");
    assert_eq!(offered(&pool), plus(1));
    // Feedback before learning wins over the alert decision, both ways.
    pool.score(&events[402].x, 402).expect("scored");
    pool.feedback(402, false).expect("feedback");
    pool.learn(&events[402].x, true).expect("learned");
    assert_eq!(offered(&pool), plus(2));
    pool.score(&events[403].x, 403).expect("scored");
    pool.feedback(403, true).expect("feedback");
    pool.learn(&events[403].x, false).expect("learned");
    assert_eq!(offered(&pool), plus(2));
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

/// Alerted share of the last 1,000 of 4,000 normal events without feedback, drift handling
/// off, and whether the baseline got its window and every reference its minimum.
fn no_feedback_run(reference: ReferencePolicy) -> (usize, bool, bool) {
    let mut g = Gen::new(12);
    let events = regime(&mut g, 4_000, &A, &ATTACK, 1_000, 0);
    let config = PoolConfig {
        min_drift_rise: 0.99,
        switch_margin: 0.99,
        reference,
        ..small_config(&ModelKind::ALL)
    };
    let mut pool = Pool::new(3, config).expect("valid config");
    let trace = drive(&mut pool, &events, 0, false, Fits::Inline).expect("pool runs");
    let fitted = trace
        .events
        .iter()
        .any(|e| e.kind == vigil_pool::DriftKind::BaselineFitted);
    let alerted = trace.scores[3_000..]
        .iter()
        .filter(|s| s.calibrated >= 0.95)
        .count();
    let filled = pool.status().models.iter().all(|m| m.references >= 1_000);
    (alerted, fitted, filled)
}

#[test]
fn within_reference_keeps_the_alert_rate_at_the_threshold_without_feedback() {
    let (alerted, fitted, filled) = no_feedback_run(ReferencePolicy::WithinReference);
    assert!(fitted && filled);
    assert!(
        alerted < 90,
        "{alerted} of the last 1,000 normal events alerted"
    );
    // Under the default policy the champion's reference ratchets down instead.
    let (ratcheted, fitted, _) = no_feedback_run(ReferencePolicy::NotAlerted);
    assert!(fitted);
    assert!(ratcheted > alerted + 50, "{ratcheted} against {alerted}");
}

#[test]
fn within_reference_offers_an_alerted_score_only_inside_the_reference() {
    for policy in [
        ReferencePolicy::WithinReference,
        ReferencePolicy::NotAlerted,
    ] {
        let mut g = Gen::new(5);
        let config = PoolConfig {
            min_drift_rise: 0.99,
            switch_margin: 0.99,
            reference: policy,
            ..small_config(&[ModelKind::Hst, ModelKind::OnlineOcsvm])
        };
        let mut pool = Pool::new(3, config).expect("valid config");
        for (seq, e) in regime(&mut g, 1_500, &A, &ATTACK, 1_000, 0)
            .iter()
            .enumerate()
        {
            pool.score(&e.x, seq as u64).expect("scored");
            pool.learn(&e.x, false).expect("learned");
        }
        // Alerted events, some like normal traffic, some far beyond it.
        let mut burst = regime(&mut g, 100, &A, &ATTACK, 1_000, 0);
        burst.extend(regime(&mut g, 100, &[30.0, 30.0, -30.0], &ATTACK, 1_000, 0));
        let (mut inside, mut beyond) = (0, 0);
        for (i, e) in burst.iter().enumerate() {
            let before = offered(&pool);
            let scored = pool.score(&e.x, 1_500 + i as u64).expect("scored");
            pool.learn(&e.x, true).expect("learned");
            let after = offered(&pool);
            for (k, m) in scored.models().enumerate() {
                let within = m.calibrated < 1.0;
                inside += usize::from(within);
                beyond += usize::from(!within);
                let expected = u64::from(policy == ReferencePolicy::WithinReference && within);
                assert_eq!(
                    after[k] - before[k],
                    expected,
                    "{policy:?} {} at {i}",
                    m.model
                );
            }
        }
        assert!(
            inside > 150 && beyond >= 5,
            "{inside} inside, {beyond} beyond"
        );
    }
}

#[test]
fn without_feedback_the_alerts_do_not_lock_the_reference() {
    // Live use without any feedback: alerts are the pool's own decisions. Early scores
    // (Half-Space Trees score 0 through their first window) must not become a reference
    // that makes every later event look anomalous and so never grows again.
    let mut g = Gen::new(12);
    let events = regime(&mut g, 4_000, &A, &ATTACK, 1_000, 0);
    // Drift handling would eventually replace a locked model; the calibration must not need
    // it, so it is off here.
    let config = PoolConfig {
        min_drift_rise: 0.99,
        switch_margin: 0.99,
        ..small_config(&ModelKind::ALL)
    };
    let mut pool = Pool::new(3, config).expect("valid config");
    let trace = drive(&mut pool, &events, 0, false, Fits::Inline).expect("pool runs");
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.kind == vigil_pool::DriftKind::BaselineFitted),
        "the baseline's window of non-alerted events fills"
    );
    for m in pool.status().models {
        assert!(m.references >= 1_000, "{m:?}");
    }
}
