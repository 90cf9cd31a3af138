//! Recurring drift: a model retired when its regime ended comes back when the regime returns;
//! the retired pool is bounded, oldest out.

mod common;

use common::*;
use vigil_detectors::calibration::CalibratorConfig;
use vigil_pool::{DriftKind, ModelKind, Pool, PoolConfig};

/// Calibrators that follow a new regime slowly (a tenth of the offers enter a full
/// reservoir), so a model fitted on one regime keeps flagging another for a while.
fn config(max_retired_models: usize) -> PoolConfig {
    PoolConfig {
        max_retired_models,
        calibration: CalibratorConfig {
            capacity: 1_000,
            refresh_rate: 0.1,
            seed: 0,
        },
        ..small_config(&[ModelKind::Ocsvm])
    }
}

fn regimes(seed: u64, centres: &[[f64; 3]], each: usize) -> Vec<Labelled> {
    let mut g = Gen::new(seed);
    centres
        .iter()
        .flat_map(|c| regime(&mut g, each, c, &ATTACK, 1_000, 0))
        .collect()
}

#[test]
fn a_retired_model_comes_back_when_its_regime_returns() {
    let events = regimes(2, &[A, B, A], 3_000);
    let mut pool = Pool::new(3, config(4)).expect("valid config");
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("pool runs");

    let baseline = trace.scores[2_999].champion.expect("champion in A");
    assert_eq!(baseline.kind, ModelKind::Ocsvm);
    // In B a fresh model, trained after the drift, replaces it; the baseline retires.
    let retrained = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::Retrained)
        .expect("a fresh model after the first change");
    assert!((3_000..5_000).contains(&retrained.seq), "{retrained:?}");
    let fresh = retrained.model;
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.kind == DriftKind::Retired && e.model == baseline && e.seq == retrained.seq)
    );
    assert_eq!(trace.scores[5_999].champion, Some(fresh));

    // Back in A: the baseline, fitted on A, beats the model fitted on B and returns.
    let restored = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::Restored)
        .expect("a model restored");
    assert_eq!(restored.model, baseline, "{}", restored.reason);
    assert!(
        (6_000..8_000).contains(&restored.seq),
        "restored at {}",
        restored.seq
    );
    assert_eq!(restored.champion_before, Some(fresh));
    assert_eq!(restored.champion_after, Some(baseline));
    assert!(
        restored.reason.contains("comes back"),
        "{}",
        restored.reason
    );
    // No fresh model was needed: the one it replaces retires and nothing is being fitted.
    assert_eq!(pool.retired_models(), vec![fresh]);
    assert!(pool.status().fits.is_empty() && pool.status().collecting.is_empty());
    assert_eq!(trace.scores[8_999].champion, Some(baseline));
    // Its errors on the returning regime are those of a model that knows it.
    let threshold = pool.config().alert_threshold;
    let late =
        error_rate(&trace, &events, 8_000..9_000, ModelKind::Ocsvm, threshold).expect("scored");
    assert!(late < 0.15, "error rate {late}");
}

#[test]
fn the_retired_pool_is_bounded_oldest_out() {
    // A, B, C, B with room for one retired model: the model fitted on B retires when C comes,
    // and leaves the pool when C's own model pushes the next one in. When B returns, it
    // cannot come back; a fresh model is trained instead.
    let events = regimes(4, &[A, B, C, B], 3_000);
    let mut pool = Pool::new(3, config(1)).expect("valid config");
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("pool runs");
    let model_of_b = trace.scores[5_999].champion.expect("a champion in B");
    assert_ne!(
        model_of_b,
        trace.scores[2_999].champion.expect("a champion in A")
    );
    let pushed_out = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::Retired && e.reason.contains("leaves the pool"))
        .expect("a model left the retired pool");
    assert!(
        pushed_out
            .reason
            .contains(&format!("oldest retired model {model_of_b} leaves")),
        "{}",
        pushed_out.reason
    );
    assert!((6_000..9_000).contains(&pushed_out.seq), "{pushed_out:?}");
    assert!(
        !trace.events.iter().any(|e| e.kind == DriftKind::Restored
            && e.model == model_of_b
            && e.seq > pushed_out.seq)
    );
    let late = trace.scores[11_999]
        .champion
        .expect("a champion in B again");
    assert_ne!(late, model_of_b);
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.kind == DriftKind::Retrained && e.seq >= 9_000 && e.model == late)
    );
    assert!(pool.retired_models().len() <= 1);
}

#[test]
fn a_retired_model_that_is_only_less_bad_is_a_stopgap() {
    // A, B, C: when C comes, the model fitted on A beats the one fitted on B there but is no
    // good on C. It may lead for a while; a model fitted on C still replaces it.
    let events = regimes(4, &[A, B, C], 3_000);
    let mut pool = Pool::new(3, config(4)).expect("valid config");
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("pool runs");
    let detected = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::DriftDetected && e.seq >= 6_000)
        .expect("a drift when C comes");
    assert!(
        detected.reason.contains("will be trained"),
        "{}",
        detected.reason
    );
    let fresh = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::Retrained && e.seq > detected.seq)
        .expect("a model fitted on C");
    assert_eq!(trace.scores[8_999].champion, Some(fresh.model));
    let threshold = pool.config().alert_threshold;
    let late =
        error_rate(&trace, &events, 8_000..9_000, ModelKind::Ocsvm, threshold).expect("scored");
    assert!(late < 0.15, "error rate {late}");
}

#[test]
fn without_a_retired_pool_models_are_dropped() {
    let events = regimes(2, &[A, B, A], 3_000);
    let mut pool = Pool::new(3, config(0)).expect("valid config");
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("pool runs");
    assert!(pool.retired_models().is_empty());
    assert!(
        trace
            .events
            .iter()
            .any(|e| e.kind == DriftKind::Retired && e.reason.contains("max_retired_models is 0"))
    );
    assert!(!trace.events.iter().any(|e| e.kind == DriftKind::Restored));
}
