//! The attack schedule over many seeds: the first episode within ten minutes, every kind
//! within the first hours, episodes apart from each other.

mod common;

use std::collections::HashMap;

use common::{MICROS, generator};
use vigil_demo::{AttackKind, DemoConfig};

#[test]
fn every_seed_attacks_early_with_every_kind() {
    for seed in 0..12 {
        let config = DemoConfig {
            seed,
            normal_hosts: 30,
            mean_events_per_sec: 1.0,
            duration_secs: Some(3.0 * 3600.0),
            ..DemoConfig::default()
        };
        let start = config.start;
        let mut first: HashMap<String, i64> = HashMap::new();
        for e in generator(config).filter(|e| e.label.as_ref().is_some_and(|l| l.anomalous)) {
            let t = e
                .event_time
                .signed_duration_since(start)
                .num_microseconds()
                .unwrap_or(i64::MAX);
            let class = e.label.map(|l| l.class.to_string()).unwrap_or_default();
            first.entry(class).or_insert(t);
        }
        let earliest = first.values().min().copied().unwrap_or(i64::MAX);
        assert!(
            earliest <= 600 * MICROS,
            "seed {seed}: first attack at {} s",
            earliest / MICROS
        );
        for kind in AttackKind::ALL {
            assert!(
                first.contains_key(kind.class()),
                "seed {seed}: no {kind} in 3 h: {first:?}"
            );
        }
    }
}

#[test]
fn the_mean_gap_sets_how_often_attacks_come() {
    // Brute-force episodes each come from a fresh source: count sources over two days.
    let count = |gap: f64| {
        let config = DemoConfig {
            seed: 3,
            normal_hosts: 10,
            mean_events_per_sec: 0.2,
            duration_secs: Some(2.0 * 86_400.0),
            attack_kinds: vec![AttackKind::BruteForce],
            attack_mean_gap_secs: gap,
            drift_share: 0.0,
            ..DemoConfig::default()
        };
        let mut sources: Vec<_> = generator(config)
            .filter(|e| e.label.as_ref().is_some_and(|l| l.anomalous))
            .filter_map(|e| e.src_ip)
            .collect();
        sources.sort();
        sources.dedup();
        sources.len() as f64
    };
    let expected = |gap: f64| 2.0 * 86_400.0 / gap;
    for gap in [900.0, 3600.0] {
        let n = count(gap);
        assert!(
            (n / expected(gap) - 1.0).abs() < 0.25,
            "gap {gap}: {n} episodes, expected about {}",
            expected(gap)
        );
    }
}
