//! Snapshot and restore: a restored extractor continues bit-identically; bad bytes are refused.

mod common;

use std::sync::Arc;

use common::event;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_detectors::{RuleHit, RuleSet, RulesConfig, TrafficSpikeConfig};
use vigil_features::{
    Extracted, FeatureConfig, FeatureExtractor, FeatureSnapshotError, SNAPSHOT_FORMAT_VERSION,
};
use vigil_sensors::{Event, EventKind, Transport};

const S: i64 = 1_000_000;
const T0: i64 = 1_700_000_010 * S;

/// A configuration small enough that a few thousand events evict sources, truncate rings, cap
/// the distinct sets and fold capped windows into baselines.
fn tight() -> FeatureConfig {
    FeatureConfig {
        max_tracked_sources: 24,
        max_entries_per_source: 48,
        max_distinct_per_source: 7,
        baseline_spike_level: TrafficSpikeConfig {
            min_events: 4,
            factor: 2.0,
        },
        ..FeatureConfig::default()
    }
}

fn extractor(config: &FeatureConfig) -> FeatureExtractor {
    FeatureExtractor::new(config.clone()).unwrap_or_else(|e| panic!("config: {e}"))
}

/// A honeypot-like stream: 60 sources (IPv4, IPv6 prefixes, a mapped address, one without a
/// source), a few heavy hitters, logins, commands, flows with bytes and packets, scans over many
/// ports, bursts, quiet gaps longer than every window, out-of-order and late events.
fn stream(seed: u64, n: usize) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let sources: Vec<String> = (0..40)
        .map(|i| format!("203.0.113.{i}"))
        .chain((0..18).map(|i| format!("2001:db8:{}::{:x}", i % 7, i * 11 + 1)))
        .chain(["::ffff:203.0.113.5".to_string(), "10.0.0.9".to_string()])
        .collect();
    let dsts: Vec<String> = (0..12)
        .map(|i| format!("198.51.100.{i}"))
        .chain((0..6).map(|i| format!("2001:db8:ff::{i}")))
        .collect();
    let kinds = [
        EventKind::Connect,
        EventKind::LoginFailed,
        EventKind::LoginFailed,
        EventKind::LoginSuccess,
        EventKind::Command,
        EventKind::Flow,
        EventKind::HttpRequest,
        EventKind::Other,
    ];
    let protos = ["ssh", "telnet", "http", "smbd", "mysql", "quic", "mongod"];
    let mut clock = T0;
    let mut attacker = 0;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        clock += match rng.random_range(0..10_000) {
            0..=6_999 => rng.random_range(0..50_000),
            7_000..=9_974 => 0,
            9_975..=9_994 => rng.random_range(10 * S..90 * S),
            _ => rng.random_range(300 * S..700 * S),
        };
        let time = if rng.random_bool(0.1) {
            clock - rng.random_range(0..420 * S)
        } else {
            clock
        };
        // Attack phases: one of four heavy hitters at a time sends half the events, mostly
        // failed logins.
        if rng.random_bool(0.003) {
            attacker = rng.random_range(0..4);
        }
        let attacking = rng.random_bool(0.5);
        let src = if rng.random_bool(0.02) {
            None
        } else if attacking {
            Some(sources[attacker].as_str())
        } else {
            Some(sources[rng.random_range(0..sources.len())].as_str())
        };
        let kind = if attacking && rng.random_bool(0.5) {
            EventKind::LoginFailed
        } else {
            kinds[rng.random_range(0..kinds.len())]
        };
        let mut e = event(time, src, kind);
        if rng.random_bool(0.85) {
            e.dst_port = Some(if rng.random_bool(0.3) {
                rng.random_range(1..1024)
            } else {
                [22, 23, 80, 443, 445, 3306][rng.random_range(0..6)]
            });
        }
        if rng.random_bool(0.7) {
            e.dst_ip = dsts[rng.random_range(0..dsts.len())].parse().ok();
        }
        if rng.random_bool(0.6) {
            e.bytes_out = Some(rng.random_range(0..50_000));
            if rng.random_bool(0.5) {
                e.bytes_in = Some(rng.random_range(0..500_000));
            }
            e.packets_out = Some(rng.random_range(1..80));
            e.duration_secs = Some(rng.random_range(0.0..30.0));
        }
        if rng.random_bool(0.5) {
            e.tcp_flags = Some(rng.random_range(0..64));
            e.transport = Some(Transport::Tcp);
        }
        if rng.random_bool(0.5) {
            e.app_proto = Some(Arc::from(protos[rng.random_range(0..protos.len())]));
        }
        out.push(e);
    }
    out
}

/// One event's output: the feature row as bits and the extracted facts (with the baseline as
/// bits, so that comparing them compares every bit).
#[derive(Debug, Clone, PartialEq)]
struct Output {
    row: Vec<u64>,
    extracted: Extracted,
    baseline_bits: u64,
}

fn extract(fx: &mut FeatureExtractor, e: &Event) -> Output {
    let mut row = vec![0.0; fx.dim()];
    let extracted = fx
        .extract(e, &mut row)
        .unwrap_or_else(|err| panic!("{err}"));
    Output {
        row: row.iter().map(|v| v.to_bits()).collect(),
        extracted,
        baseline_bits: extracted.window.baseline_events.to_bits(),
    }
}

/// Every counter and summary value the extractor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counters {
    tracked: usize,
    evicted: u64,
    late: u64,
    truncated: u64,
    newest: Option<i64>,
    global_baseline_bits: u64,
}

fn counters(fx: &FeatureExtractor) -> Counters {
    Counters {
        tracked: fx.tracked_sources(),
        evicted: fx.evicted_sources(),
        late: fx.late_events(),
        truncated: fx.truncated_entries(),
        newest: fx.newest_event_micros(),
        global_baseline_bits: fx.global_baseline().to_bits(),
    }
}

/// The uninterrupted run: every output, and the snapshot and counters before each event
/// index in `splits`, and after the last event.
struct Uninterrupted {
    outputs: Vec<Output>,
    snapshots: Vec<(usize, Vec<u8>, Counters)>,
    final_snapshot: Vec<u8>,
    final_counters: Counters,
}

fn uninterrupted(config: &FeatureConfig, events: &[Event], splits: &[usize]) -> Uninterrupted {
    let mut fx = extractor(config);
    let mut outputs = Vec::with_capacity(events.len());
    let mut snapshots = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if splits.contains(&i) {
            snapshots.push((i, fx.snapshot(), counters(&fx)));
        }
        outputs.push(extract(&mut fx, e));
    }
    if splits.contains(&events.len()) {
        snapshots.push((events.len(), fx.snapshot(), counters(&fx)));
    }
    Uninterrupted {
        outputs,
        snapshots,
        final_snapshot: fx.snapshot(),
        final_counters: counters(&fx),
    }
}

fn first_difference(a: &[Output], b: &[Output]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[test]
fn a_restored_extractor_continues_bit_identically_from_any_split() {
    let config = tight();
    let events = stream(41, 6_000);
    let n = events.len();
    let splits = [0, 1, 2, 17, 333, 1_000, 2_500, 4_321, n - 1, n];
    let run = uninterrupted(&config, &events, &splits);
    assert_eq!(run.snapshots.len(), splits.len());

    // The stream must exercise everything the state holds.
    let end = &run.final_counters;
    assert!(end.evicted > 100, "only {} evictions", end.evicted);
    assert!(end.late > 100, "only {} late events", end.late);
    assert!(
        end.truncated > 100,
        "only {} truncated entries",
        end.truncated
    );
    assert_eq!(end.tracked, config.max_tracked_sources);

    for (at, bytes, before) in &run.snapshots {
        let mut resumed = extractor(&config);
        resumed
            .restore(bytes)
            .unwrap_or_else(|e| panic!("split {at}: {e}"));
        assert_eq!(&counters(&resumed), before, "split {at}: counters");
        assert_eq!(&resumed.snapshot(), bytes, "split {at}: re-snapshot");
        let rest: Vec<Output> = events[*at..]
            .iter()
            .map(|e| extract(&mut resumed, e))
            .collect();
        if let Some(i) = first_difference(&rest, &run.outputs[*at..]) {
            panic!(
                "split {at}: event {} differs:\n resumed {:?}\n uninterrupted {:?}",
                at + i,
                rest[i],
                run.outputs[at + i]
            );
        }
        assert_eq!(counters(&resumed), *end, "split {at}: final counters");
        assert!(
            resumed.snapshot() == run.final_snapshot,
            "split {at}: final state differs"
        );
    }
}

#[test]
fn the_split_test_notices_lost_state() {
    // Control for the test above: starting the rest of the stream from a fresh extractor, or
    // from a snapshot taken a few events earlier, gives different output.
    let config = tight();
    let events = stream(41, 3_000);
    let at = 1_500;
    let run = uninterrupted(&config, &events, &[at - 3, at]);
    let mut fresh = extractor(&config);
    let rest: Vec<Output> = events[at..]
        .iter()
        .map(|e| extract(&mut fresh, e))
        .collect();
    assert!(first_difference(&rest, &run.outputs[at..]).is_some());
    let mut stale = extractor(&config);
    stale
        .restore(&run.snapshots[0].1)
        .unwrap_or_else(|e| panic!("{e}"));
    let rest: Vec<Output> = events[at..]
        .iter()
        .map(|e| extract(&mut stale, e))
        .collect();
    assert!(first_difference(&rest, &run.outputs[at..]).is_some());
}

#[test]
fn checkpointing_every_few_hundred_events_changes_nothing() {
    for (config, seed) in [(tight(), 5u64), (FeatureConfig::default(), 6)] {
        let events = stream(seed, 5_000);
        let run = uninterrupted(&config, &events, &[]);
        let mut fx = extractor(&config);
        let mut outputs = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            if i % 237 == 0 {
                let bytes = fx.snapshot();
                fx = extractor(&config);
                fx.restore(&bytes).unwrap_or_else(|e| panic!("{i}: {e}"));
            }
            outputs.push(extract(&mut fx, e));
        }
        assert_eq!(first_difference(&outputs, &run.outputs), None);
        assert_eq!(counters(&fx), run.final_counters);
        assert!(fx.snapshot() == run.final_snapshot);
    }
}

/// Rules fed from a restored extractor, themselves restored, fire exactly as in one run.
#[test]
fn features_and_rules_restored_together_give_the_same_hits() {
    let config = tight();
    let rules_config = RulesConfig {
        brute_force: Some(vigil_detectors::BruteForceConfig {
            min_failed_logins: 4,
        }),
        port_scan: Some(vigil_detectors::PortScanConfig {
            min_distinct_ports: 5,
        }),
        traffic_spike: Some(TrafficSpikeConfig {
            min_events: 4,
            factor: 2.0,
        }),
        connection_rate: None,
    };
    let events = stream(77, 6_000);
    let rules = || RuleSet::new(&rules_config).unwrap_or_else(|e| panic!("{e}"));
    let step = |fx: &mut FeatureExtractor, rs: &mut RuleSet, e: &Event| -> Vec<RuleHit> {
        let x = extract(fx, e).extracted;
        let mut hits = Vec::new();
        rs.observe(&x.view, &x.window, &mut hits);
        hits
    };
    let (mut fx, mut rs) = (extractor(&config), rules());
    let all: Vec<Vec<RuleHit>> = events.iter().map(|e| step(&mut fx, &mut rs, e)).collect();
    let fired = all.iter().filter(|h| !h.is_empty()).count();
    assert!(fired > 50, "only {fired} events fired a rule");
    let escalated = all
        .iter()
        .flatten()
        .filter(|h| h.explanation.ends_with("escalated)"))
        .count();
    assert!(escalated > 0, "no escalation in the stream");

    for at in [700, 3_001, 5_500] {
        let (mut fx, mut rs) = (extractor(&config), rules());
        for e in &events[..at] {
            step(&mut fx, &mut rs, e);
        }
        let (fx_bytes, rules_bytes) = (fx.snapshot(), rs.snapshot());
        let (mut fx, mut rs) = (extractor(&config), rules());
        fx.restore(&fx_bytes).unwrap_or_else(|e| panic!("{e}"));
        rs.restore(&rules_bytes).unwrap_or_else(|e| panic!("{e}"));
        for (i, e) in events.iter().enumerate().skip(at) {
            assert_eq!(step(&mut fx, &mut rs, e), all[i], "split {at}, event {i}");
        }
    }
}

#[test]
fn every_truncation_and_every_flipped_bit_is_refused_and_changes_nothing() {
    let config = FeatureConfig {
        max_tracked_sources: 6,
        ..tight()
    };
    let events = stream(9, 400);
    let mut source = extractor(&config);
    for e in &events {
        extract(&mut source, e);
    }
    let bytes = source.snapshot();
    // The target holds another state, which every refused restore must leave alone.
    let mut target = extractor(&config);
    for e in &events[..150] {
        extract(&mut target, e);
    }
    let before = target.snapshot();
    assert_ne!(before, bytes);

    for len in 0..bytes.len() {
        let err = target.restore(&bytes[..len]);
        assert!(err.is_err(), "a snapshot cut to {len} bytes was accepted");
    }
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (i % 8);
        assert!(
            target.restore(&bad).is_err(),
            "a flipped bit in byte {i} was accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        target.restore(&longer),
        Err(FeatureSnapshotError::Length { .. })
    ));
    assert!(
        target.snapshot() == before,
        "a refused restore changed state"
    );

    assert!(matches!(
        target.restore(b"not a snapshot"),
        Err(FeatureSnapshotError::NotASnapshot { .. })
    ));
    assert!(matches!(
        target.restore(&[]),
        Err(FeatureSnapshotError::NotASnapshot { .. })
    ));
    let mut future = bytes.clone();
    future[8..10].copy_from_slice(&(SNAPSHOT_FORMAT_VERSION + 1).to_le_bytes());
    let err = target.restore(&future).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "feature snapshot format version {} is not the supported version {SNAPSHOT_FORMAT_VERSION}",
            SNAPSHOT_FORMAT_VERSION + 1
        )
    );
    assert!(target.snapshot() == before);
    target.restore(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert!(target.snapshot() == bytes);
}

#[test]
fn a_snapshot_from_another_configuration_is_refused_naming_the_field() {
    let base = tight();
    let mut fx = extractor(&base);
    for e in &stream(3, 300) {
        extract(&mut fx, e);
    }
    let bytes = fx.snapshot();
    let d = || base.clone();
    let cases: Vec<(FeatureConfig, &str, &str, &str)> = vec![
        (
            FeatureConfig {
                event_window_secs: 31,
                ..d()
            },
            "event_window_secs",
            "30",
            "31",
        ),
        (
            FeatureConfig {
                login_window_secs: 60,
                ..d()
            },
            "login_window_secs",
            "30",
            "60",
        ),
        (
            FeatureConfig {
                port_window_secs: 600,
                ..d()
            },
            "port_window_secs",
            "60",
            "600",
        ),
        (
            FeatureConfig {
                bytes_window_secs: 120,
                ..d()
            },
            "bytes_window_secs",
            "300",
            "120",
        ),
        (
            FeatureConfig {
                max_tracked_sources: 25,
                ..d()
            },
            "max_tracked_sources",
            "24",
            "25",
        ),
        (
            FeatureConfig {
                ipv6_source_prefix: 48,
                ..d()
            },
            "ipv6_source_prefix",
            "64",
            "48",
        ),
        (
            FeatureConfig {
                allowed_lateness_secs: 0,
                ..d()
            },
            "allowed_lateness_secs",
            "300",
            "0",
        ),
        (
            FeatureConfig {
                common_ports: vec![22, 23],
                ..d()
            },
            "common_ports",
            "[20, 21, 22",
            "[22, 23]",
        ),
        (
            FeatureConfig {
                max_entries_per_source: 49,
                ..d()
            },
            "max_entries_per_source",
            "48",
            "49",
        ),
        (
            FeatureConfig {
                max_distinct_per_source: 8,
                ..d()
            },
            "max_distinct_per_source",
            "7",
            "8",
        ),
        (
            FeatureConfig {
                baseline_alpha: 0.25,
                ..d()
            },
            "baseline_alpha",
            "0.2",
            "0.25",
        ),
        (
            FeatureConfig {
                baseline_spike_level: TrafficSpikeConfig {
                    min_events: 5,
                    factor: 2.0,
                },
                ..d()
            },
            "baseline_spike_level.min_events",
            "4",
            "5",
        ),
        (
            FeatureConfig {
                baseline_spike_level: TrafficSpikeConfig {
                    min_events: 4,
                    factor: 2.5,
                },
                ..d()
            },
            "baseline_spike_level.factor",
            "2",
            "2.5",
        ),
        (
            FeatureConfig {
                utc_offset_minutes: -60,
                ..d()
            },
            "utc_offset_minutes",
            "0",
            "-60",
        ),
        (
            FeatureConfig {
                hash_seed: 1,
                ..d()
            },
            "hash_seed",
            "8532",
            "1",
        ),
    ];
    for (config, field, snapshot, current) in cases {
        let mut other = extractor(&config);
        let before = other.snapshot();
        let err = other.restore(&bytes).unwrap_err();
        let FeatureSnapshotError::ConfigMismatch {
            field: named,
            snapshot: was,
            current: is,
        } = &err
        else {
            panic!("{field}: {err}");
        };
        assert_eq!(*named, field, "{err}");
        assert!(was.starts_with(snapshot), "{field}: {err}");
        assert_eq!(is, current, "{field}: {err}");
        assert!(err.to_string().contains(field));
        assert!(other.snapshot() == before, "{field}: state changed");
    }
    // Order and repeats in the common ports do not change what the configuration means.
    let mut ports = base.common_ports.clone();
    ports.reverse();
    ports.push(22);
    let mut same = extractor(&FeatureConfig {
        common_ports: ports,
        ..base.clone()
    });
    same.restore(&bytes).unwrap_or_else(|e| panic!("{e}"));
}
