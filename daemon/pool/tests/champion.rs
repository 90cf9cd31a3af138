//! The champion follows the model that wins each regime: the batch OCSVM while attacks come
//! in long bursts (Half-Space Trees get used to a burst and miss its end), Half-Space Trees
//! after the normal traffic moves (the fitted OCSVM flags all of it).

mod common;

use common::*;
use vigil_pool::{DriftKind, ModelKind, Pool};

const CHANGE: usize = 5_000;
const TOTAL: usize = 8_000;

#[test]
fn each_regime_has_its_own_winner() {
    // The premise, measured from the outside on the models' own reported scores.
    let events = bursts_then_shift(1, CHANGE, TOTAL);
    let config = small_config(&[ModelKind::Ocsvm, ModelKind::Hst]);
    let threshold = config.alert_threshold;
    let mut pool = Pool::new(3, config).expect("valid config");
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("pool runs");
    let rate = |range: std::ops::Range<usize>, kind| {
        error_rate(&trace, &events, range, kind, threshold).expect("model scored the range")
    };
    let (ocsvm_a, hst_a) = (
        rate(1_000..CHANGE, ModelKind::Ocsvm),
        rate(1_000..CHANGE, ModelKind::Hst),
    );
    let (ocsvm_b, hst_b) = (
        rate(CHANGE..CHANGE + 1_000, ModelKind::Ocsvm),
        rate(CHANGE..CHANGE + 1_000, ModelKind::Hst),
    );
    assert!(
        ocsvm_a + 0.1 < hst_a,
        "regime A: ocsvm {ocsvm_a}, hst {hst_a}"
    );
    assert!(
        hst_b + 0.1 < ocsvm_b,
        "regime B: ocsvm {ocsvm_b}, hst {hst_b}"
    );
}

#[test]
fn champion_switches_after_an_abrupt_change() {
    let events = bursts_then_shift(1, CHANGE, TOTAL);
    let mut pool =
        Pool::new(3, small_config(&[ModelKind::Ocsvm, ModelKind::Hst])).expect("valid config");
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("pool runs");

    // The baseline takes over from its stand-in exactly at fit start + swap_after_events:
    // its window is complete at the 500th event that counts as normal.
    let normal_500th = events
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.anomalous)
        .nth(499)
        .map(|(i, _)| i as u64)
        .expect("500 normal events");
    let fitted = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::BaselineFitted)
        .expect("baseline fitted");
    assert_eq!(fitted.seq, normal_500th + 300, "{}", fitted.reason);
    let stand_in = &trace.scores[fitted.seq as usize - 1];
    assert_eq!(stand_in.champion.map(|m| m.kind), Some(ModelKind::Hst));
    assert_eq!(
        trace.scores[fitted.seq as usize].champion,
        Some(fitted.model)
    );

    let before = trace.scores[CHANGE - 1].champion.expect("a champion");
    assert_eq!(
        before.kind,
        ModelKind::Ocsvm,
        "the OCSVM leads through the bursts"
    );
    let first = trace
        .events
        .iter()
        .find(|e| e.seq >= CHANGE as u64)
        .expect("a decision after the change");
    assert!(
        first.seq < (CHANGE + 2_000) as u64,
        "first decision at {}",
        first.seq
    );
    let switch = trace
        .events
        .iter()
        .find(|e| e.seq >= CHANGE as u64 && e.kind == DriftKind::ChampionChanged)
        .expect("champion changed after the change");
    assert!(switch.seq < (CHANGE + 2_000) as u64, "{switch:?}");
    assert_eq!(switch.champion_before, Some(before));
    let after = switch.champion_after.expect("a new champion");
    assert_eq!(after.kind, ModelKind::Hst, "{}", switch.reason);
    assert!(switch.reason.contains("error rate"), "{}", switch.reason);
    // And it stays with Half-Space Trees' kind through the rest of regime B.
    let late = trace.scores[TOTAL - 1].champion.expect("a champion");
    assert_ne!(late, before);
}

#[test]
fn the_pool_score_is_the_champions_calibrated_score() {
    let events = bursts_then_shift(3, 2_000, 3_000);
    let mut pool = Pool::new(3, small_config(&vigil_pool::ModelKind::ALL)).expect("valid config");
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("pool runs");
    for s in &trace.scores {
        let champion = s.champion_score().expect("a champion scores every event");
        assert_eq!(s.calibrated.to_bits(), champion.calibrated.to_bits());
        assert!((0.0..=1.0).contains(&s.calibrated));
    }
    // Before the baseline is fitted only the online models score.
    assert!(trace.scores[0].model(ModelKind::Ocsvm).is_none());
    assert_eq!(trace.scores[2_999].models().count(), 3);
}
