//! Window behaviour of the extractor against a naive recomputation and hand-worked cases.

mod common;

use common::{BaselineRule, Reference, event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_detectors::{RuleSet, RulesConfig, TrafficSpikeConfig};
use vigil_features::{Column, FeatureConfig, FeatureExtractor};
use vigil_sensors::{Event, EventKind};

const S: i64 = 1_000_000;
const T0: i64 = 1_700_000_010 * S;

fn extractor(config: FeatureConfig) -> (FeatureExtractor, Vec<f64>) {
    let fx = FeatureExtractor::new(config).unwrap_or_else(|e| panic!("config: {e}"));
    let row = vec![0.0; fx.dim()];
    (fx, row)
}

fn random_stream(seed: u64, n: usize) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let sources: Vec<String> = (0..24)
        .map(|i| format!("203.0.113.{i}"))
        .chain((0..12).map(|i| format!("2001:db8:{}::{:x}", i % 5, i * 7 + 1)))
        .chain(["::ffff:203.0.113.3".to_string(), "10.0.0.9".to_string()])
        .collect();
    let dsts: Vec<String> = (0..20)
        .map(|i| format!("198.51.100.{i}"))
        .chain((0..8).map(|i| format!("2001:db8:ff::{i}")))
        .collect();
    let kinds = [
        EventKind::Connect,
        EventKind::LoginFailed,
        EventKind::LoginFailed,
        EventKind::LoginSuccess,
        EventKind::Command,
        EventKind::Flow,
        EventKind::Other,
    ];
    let mut clock = T0;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        // Mostly forward in small steps, with bursts, quiet gaps and out-of-order arrivals.
        clock += match rng.random_range(0..100) {
            0..=79 => rng.random_range(0..800_000),
            80..=94 => 0,
            95..=97 => rng.random_range(10 * S..90 * S),
            _ => rng.random_range(300 * S..400 * S),
        };
        let time = if rng.random_bool(0.12) {
            clock - rng.random_range(0..420 * S)
        } else {
            clock
        };
        let src = if rng.random_bool(0.03) {
            None
        } else {
            Some(sources[rng.random_range(0..sources.len())].as_str())
        };
        let mut e = event(time, src, kinds[rng.random_range(0..kinds.len())]);
        if rng.random_bool(0.8) {
            e.dst_port = Some(rng.random_range(0..40u16) * 7 + 20);
        }
        if rng.random_bool(0.7) {
            e.dst_ip = dsts[rng.random_range(0..dsts.len())].parse().ok();
        }
        if rng.random_bool(0.6) {
            e.bytes_out = Some(rng.random_range(0..5_000));
            if rng.random_bool(0.5) {
                e.bytes_in = Some(rng.random_range(0..50_000));
            }
        }
        out.push(e);
    }
    out
}

/// Runs a random stream through the extractor and the naive reference; `min_capped` is how
/// many completed windows the stream must have folded into a baseline below their size.
fn check_against_reference(config: FeatureConfig, seed: u64, n: usize, min_capped: usize) {
    let mut reference = Reference::new(
        [
            i64::from(config.event_window_secs),
            i64::from(config.login_window_secs),
            i64::from(config.port_window_secs),
            i64::from(config.bytes_window_secs),
        ],
        i64::from(config.allowed_lateness_secs),
        config.ipv6_source_prefix,
        BaselineRule {
            alpha: config.baseline_alpha,
            spike: config.baseline_spike_level.clone(),
        },
    );
    let (mut fx, mut row) = extractor(config);
    let mut late = 0;
    let mut out_of_order = 0;
    let mut newest = i64::MIN;
    for (i, e) in random_stream(seed, n).iter().enumerate() {
        let want = reference.observe(e);
        let got = fx
            .extract(e, &mut row)
            .unwrap_or_else(|err| panic!("event {i}: {err}"));
        let w = got.window;
        let t = e.event_time.timestamp_micros();
        if want.late {
            late += 1;
        } else if t < newest {
            out_of_order += 1;
        }
        newest = newest.max(t);
        let have = (
            w.late,
            w.tracked,
            w.counted,
            w.events,
            w.failed_logins,
            w.successful_logins,
            w.distinct_dst_ports,
            w.distinct_dst_ips,
            w.port_new_in_window,
        );
        let expect = (
            want.late,
            want.tracked,
            want.counted,
            want.events,
            want.failed,
            want.succeeded,
            want.distinct_ports,
            want.distinct_ips,
            want.port_new,
        );
        assert_eq!(have, expect, "event {i}: {e:?}");
        assert_eq!(got.late, want.late);
        let col = |c: Column| row[c.index()];
        let mean = want.mean_bytes.map_or(0.0, f64::ln_1p);
        assert!(
            (col(Column::SrcMeanBytesLog1p) - mean).abs() < 1e-9,
            "event {i}: mean bytes"
        );
        assert!(
            (col(Column::SrcDstPortEntropy) - want.port_entropy_bits).abs() < 1e-9,
            "event {i}: entropy {} vs {}",
            col(Column::SrcDstPortEntropy),
            want.port_entropy_bits
        );
        let cps = (f64::from(want.commands) / f64::from(want.connects.max(1))).ln_1p();
        assert!((col(Column::SrcCommandsPerSessionLog1p) - cps).abs() < 1e-12);
        let logins = want.failed + want.succeeded;
        let ratio = if logins > 0 {
            f64::from(want.succeeded) / f64::from(logins)
        } else {
            0.0
        };
        assert!((col(Column::SrcLoginSuccessRatio) - ratio).abs() < 1e-12);
        assert_eq!(
            col(Column::SrcTracked),
            if want.tracked { 1.0 } else { 0.0 }
        );
        assert_eq!(col(Column::SrcEventsLog1p), f64::from(want.events).ln_1p());
        assert!(
            (w.baseline_events - want.baseline).abs() <= 1e-9 * want.baseline.max(1.0),
            "event {i}: baseline {} vs {}",
            w.baseline_events,
            want.baseline
        );
        assert!(
            row.iter().all(|v| v.is_finite()),
            "event {i}: non-finite feature"
        );
    }
    // The stream must actually exercise late and out-of-order handling.
    assert!(late > n / 50, "only {late} late events");
    assert!(
        out_of_order > n / 50,
        "only {out_of_order} out-of-order events"
    );
    assert_eq!(fx.late_events(), late as u64);
    assert_eq!(fx.evicted_sources(), 0);
    assert_eq!(fx.truncated_entries(), 0);
    assert!(
        reference.capped_windows >= min_capped,
        "only {} capped windows",
        reference.capped_windows
    );
    let global = reference.global_baseline();
    assert!((fx.global_baseline() - global).abs() < 1e-9 * global.max(1.0));
}

#[test]
fn windows_match_a_naive_recomputation_on_a_random_stream() {
    // No source ever reaches 200 events in a window here: the cap never binds.
    check_against_reference(FeatureConfig::default(), 7, 20_000, 0);
}

#[test]
fn capped_baselines_match_a_naive_recomputation() {
    let config = FeatureConfig {
        baseline_alpha: 0.3,
        baseline_spike_level: TrafficSpikeConfig {
            min_events: 2,
            factor: 1.5,
        },
        ..FeatureConfig::default()
    };
    check_against_reference(config, 19, 20_000, 1_000);
}

#[test]
fn windows_match_with_other_lengths_prefix_and_lateness() {
    let config = FeatureConfig {
        event_window_secs: 45,
        login_window_secs: 10,
        port_window_secs: 120,
        bytes_window_secs: 20,
        allowed_lateness_secs: 100,
        ipv6_source_prefix: 48,
        baseline_spike_level: TrafficSpikeConfig {
            min_events: 3,
            factor: 2.5,
        },
        ..FeatureConfig::default()
    };
    check_against_reference(config, 11, 20_000, 400);
}

#[test]
fn replay_is_deterministic() {
    let stream = random_stream(3, 5_000);
    let run = || {
        let (mut fx, mut row) = extractor(FeatureConfig {
            max_tracked_sources: 10,
            ..FeatureConfig::default()
        });
        let mut all = Vec::new();
        for e in &stream {
            let x = fx.extract(e, &mut row).map(|x| x.window);
            all.push((x, row.clone()));
        }
        (all, fx.evicted_sources(), fx.global_baseline())
    };
    let a = run();
    let b = run();
    assert!(a.1 > 0, "the small table should evict");
    assert_eq!(a, b);
}

#[test]
fn eviction_removes_the_least_recently_seen_source_and_counts_it() {
    let (mut fx, mut row) = extractor(FeatureConfig {
        max_tracked_sources: 3,
        ..FeatureConfig::default()
    });
    let mut send = |secs: i64, ip: &str| {
        let e = event(T0 + secs * S, Some(ip), EventKind::LoginFailed);
        fx.extract(&e, &mut row)
            .map(|x| x.window.failed_logins)
            .unwrap_or(0)
    };
    assert_eq!(send(0, "192.0.2.1"), 1);
    assert_eq!(send(1, "192.0.2.2"), 1);
    assert_eq!(send(2, "192.0.2.3"), 1);
    assert_eq!(send(3, "192.0.2.1"), 2);
    // Full: .2 is the least recently seen and goes.
    assert_eq!(send(4, "192.0.2.4"), 1);
    assert_eq!(send(5, "192.0.2.1"), 3);
    assert_eq!(send(6, "192.0.2.3"), 2);
    // .2 comes back with fresh windows, evicting .4 (seen at 4 s, before .1 and .3).
    assert_eq!(send(7, "192.0.2.2"), 1);
    assert_eq!(send(8, "192.0.2.4"), 1);
    assert_eq!(fx.tracked_sources(), 3);
    assert_eq!(fx.evicted_sources(), 3);
}

#[test]
fn late_events_are_scored_as_of_arrival_and_never_added() {
    let (mut fx, mut row) = extractor(FeatureConfig::default());
    let ip = Some("198.51.100.7");
    for s in 0..5 {
        fx.extract(
            &event(T0 + (1000 + s) * S, ip, EventKind::LoginFailed),
            &mut row,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    // 301 s before the newest event: late. Windows as they stand; nothing added.
    let late = fx
        .extract(&event(T0 + 703 * S, ip, EventKind::LoginFailed), &mut row)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(late.late && late.window.late && !late.window.counted && late.window.tracked);
    assert_eq!(late.window.failed_logins, 5);
    assert_eq!(row[Column::SrcFailedLoginsLog1p.index()], 5f64.ln_1p());
    // Just inside the lateness: not late, counted (in the 300 s bytes window only).
    let edge = fx
        .extract(&event(T0 + 705 * S, ip, EventKind::LoginFailed), &mut row)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!edge.late && edge.window.counted);
    assert_eq!(edge.window.failed_logins, 5);
    // A late event from an unknown source creates nothing.
    let stranger = fx
        .extract(
            &event(T0, Some("192.0.2.200"), EventKind::Connect),
            &mut row,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(stranger.late && stranger.window.tracked && stranger.window.events == 0);
    assert_eq!(fx.tracked_sources(), 1);
    assert_eq!(fx.late_events(), 2);
    let next = fx
        .extract(&event(T0 + 1005 * S, ip, EventKind::LoginFailed), &mut row)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next.window.failed_logins, 6);
}

#[test]
fn slightly_out_of_order_events_give_the_same_windows_as_sorted_ones() {
    let sorted: Vec<(i64, u16)> = (0..200)
        .map(|i| {
            (
                T0 + i * 400_000,
                1000 + (i % 50) as u16 + (i / 150) as u16 * 100,
            )
        })
        .collect();
    // Swap neighbours pairwise: every other event arrives 0.4 s early.
    let mut shuffled = sorted.clone();
    for pair in shuffled.chunks_mut(2) {
        pair.reverse();
    }
    let windows = |events: &[(i64, u16)]| {
        let (mut fx, mut row) = extractor(FeatureConfig::default());
        let mut w = None;
        for (t, port) in events {
            let mut e = event(*t, Some("2001:db8:7::1"), EventKind::Connect);
            e.dst_port = Some(*port);
            w = fx.extract(&e, &mut row).ok().map(|x| x.window);
        }
        w.map(|w| (w.events, w.distinct_dst_ports, w.distinct_dst_ips))
    };
    // Event window (49.6 s, 79.6 s]: events 125..=199. Port window (19.6 s, 79.6 s]: events
    // 50..=199, ports 1000..1049 from events 50..=149 and 1100..1149 from 150..=199.
    assert_eq!(windows(&sorted), Some((75, 100, 0)));
    assert_eq!(windows(&shuffled), windows(&sorted));
}

#[test]
fn ipv6_sources_share_windows_per_prefix() {
    let (mut fx, mut row) = extractor(FeatureConfig::default());
    let mut failed = |secs: i64, ip: &str| {
        let e = event(T0 + secs * S, Some(ip), EventKind::LoginFailed);
        fx.extract(&e, &mut row)
            .ok()
            .map(|x| (x.window.failed_logins, x.view.source.map(|s| s.to_string())))
    };
    assert_eq!(
        failed(0, "2001:db8:1:2::1"),
        Some((1, Some("2001:db8:1:2::/64".into())))
    );
    assert_eq!(
        failed(1, "2001:db8:1:2:ffff:ffff:ffff:ffff").map(|x| x.0),
        Some(2)
    );
    assert_eq!(failed(2, "2001:db8:1:3::1").map(|x| x.0), Some(1));
    assert_eq!(
        failed(3, "::ffff:192.0.2.1"),
        Some((1, Some("192.0.2.1".into())))
    );
    assert_eq!(failed(4, "192.0.2.1").map(|x| x.0), Some(2));
    assert_eq!(fx.tracked_sources(), 3);

    let (mut fx48, mut row48) = extractor(FeatureConfig {
        ipv6_source_prefix: 48,
        ..FeatureConfig::default()
    });
    for (i, ip) in ["2001:db8:1:2::1", "2001:db8:1:3::1", "2001:db8:1:ffff::1"]
        .iter()
        .enumerate()
    {
        let e = event(T0 + i as i64 * S, Some(ip), EventKind::LoginFailed);
        let w = fx48
            .extract(&e, &mut row48)
            .ok()
            .map(|x| x.window.failed_logins);
        assert_eq!(w, Some(i as u32 + 1));
    }
}

#[test]
fn events_without_source_get_zero_window_columns() {
    let (mut fx, mut row) = extractor(FeatureConfig::default());
    let mut e = event(T0, None, EventKind::Flow);
    e.dst_port = Some(80);
    e.bytes_out = Some(100);
    let x = fx
        .extract(&e, &mut row)
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(!x.window.tracked && !x.window.counted && x.view.source.is_none());
    let first_window = Column::SrcTracked.index();
    assert!(row[first_window..].iter().all(|v| *v == 0.0));
    assert_eq!(row[Column::BytesOutLog1p.index()], 100f64.ln_1p());
    assert_eq!(fx.tracked_sources(), 0);
}

#[test]
fn wrong_output_length_is_an_error_naming_both_sizes() {
    let (mut fx, _) = extractor(FeatureConfig::default());
    let mut short = vec![0.0; 3];
    let err = fx
        .extract(&event(T0, None, EventKind::Flow), &mut short)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err,
        Some(format!(
            "feature output has 3 slots, the schema has {} columns",
            fx.dim()
        ))
    );
}

#[test]
fn moving_baseline_follows_completed_windows_and_seeds_new_sources() {
    let (mut fx, mut row) = extractor(FeatureConfig::default());
    let ip = Some("198.51.100.20");
    let mut last = |secs: i64, n: usize, ip: Option<&str>| {
        let mut w = None;
        for _ in 0..n {
            let e = event(T0 + secs * S, ip, EventKind::Connect);
            w = fx
                .extract(&e, &mut row)
                .ok()
                .map(|x| x.window.baseline_events);
        }
        w.unwrap_or(f64::NAN)
    };
    // T0 is a multiple of 30 s: windows [T0, T0+30), [T0+30, T0+60), ...
    assert_eq!(T0 % (30 * S), 0);
    assert!(
        (last(0, 10, ip) - 1.0).abs() < 1e-6,
        "seeded from the initial global baseline"
    );
    // Window 0 completed with 10 events: 0.2 * 10 + 0.8 * 1 = 2.8.
    assert!((last(31, 20, ip) - 2.8).abs() < 1e-5);
    // Window 1 completed with 20, then one empty window: (0.2 * 20 + 0.8 * 2.8) * 0.8.
    let expected = (0.2 * 20.0 + 0.8 * 2.8) * 0.8;
    assert!((last(95, 1, ip) - expected).abs() < 1e-5);
    // Two non-empty windows completed: global = 1 + 0.01 (10 - 1), then + 0.01 (20 - that).
    let g1 = 1.0 + 0.01 * (10.0 - 1.0);
    let g2 = g1 + 0.01 * (20.0 - g1);
    let newcomer = last(96, 1, Some("198.51.100.21"));
    assert!((fx.global_baseline() - g2).abs() < 1e-12);
    assert!((newcomer - g2).abs() < 1e-5);
}

#[test]
fn rules_fire_once_per_episode_on_extracted_windows() {
    let (mut fx, mut row) = extractor(FeatureConfig::default());
    let mut rules = RuleSet::new(&RulesConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut hits = Vec::new();
    // 60 failed logins in 30 s, then a second burst after the window has drained.
    for burst in [0i64, 200] {
        for i in 0..60 {
            let mut e = event(
                T0 + burst * S + i * 500_000,
                Some("203.0.113.7"),
                EventKind::LoginFailed,
            );
            e.dst_port = Some(22);
            let x = fx
                .extract(&e, &mut row)
                .unwrap_or_else(|err| panic!("{err}"));
            rules.observe(&x.view, &x.window, &mut hits);
        }
    }
    // A scan of 41 ports in 41 s.
    for port in 0..41u16 {
        let mut e = event(
            T0 + 400 * S + i64::from(port) * S,
            Some("198.51.100.4"),
            EventKind::Connect,
        );
        e.dst_port = Some(1000 + port);
        let x = fx
            .extract(&e, &mut row)
            .unwrap_or_else(|err| panic!("{err}"));
        rules.observe(&x.view, &x.window, &mut hits);
    }
    let texts: Vec<(&str, &str)> = hits
        .iter()
        .map(|h| (h.rule, h.explanation.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (
                "brute_force",
                "20 failed logins in 30 s from 203.0.113.7 (threshold 20)"
            ),
            (
                "brute_force",
                "20 failed logins in 30 s from 203.0.113.7 (threshold 20)"
            ),
            (
                "port_scan",
                "25 distinct destination ports in 60 s from 198.51.100.4 (threshold 25)"
            ),
        ]
    );
}

#[test]
fn traffic_spike_fires_once_against_the_moving_baseline() {
    let (mut fx, mut row) = extractor(FeatureConfig::default());
    let mut rules = RuleSet::new(&RulesConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut hits = Vec::new();
    let ip = Some("192.0.2.50");
    let mut send = |micros: i64, hits: &mut Vec<_>| {
        let x = fx
            .extract(&event(micros, ip, EventKind::Connect), &mut row)
            .unwrap_or_else(|e| panic!("{e}"));
        rules.observe(&x.view, &x.window, hits);
        x.window
    };
    // Ten tumbling windows of ten events each (one every 3 s), then a quiet window.
    for k in 0..10 {
        for j in 0..10 {
            send(T0 + (k * 30 + j * 3) * S, &mut hits);
        }
    }
    assert!(hits.is_empty());
    // Then 300 events in 15 s. Baseline by hand: seeded at 1, ten completed windows of 10
    // give 10 - 9 * 0.8^10, and the skipped empty window multiplies by 0.8.
    let baseline = (10.0 - 9.0 * 0.8f64.powi(10)) * 0.8;
    let mut last = None;
    for i in 0..300 {
        last = Some(send(T0 + 330 * S + i * 50_000, &mut hits));
    }
    let last = last.unwrap_or_default();
    assert!(
        (last.baseline_events - baseline).abs() < 1e-4,
        "{}",
        last.baseline_events
    );
    assert_eq!(last.events, 300);
    let texts: Vec<(&str, String)> = hits
        .iter()
        .map(|h| (h.rule, h.explanation.clone()))
        .collect();
    assert_eq!(
        texts,
        vec![(
            "traffic_spike",
            format!(
                "200 events in 30 s from 192.0.2.50, {:.1}x its moving baseline of {:.1} (threshold 5.0x, at least 200)",
                200.0 / baseline,
                baseline
            )
        )]
    );
    assert_eq!(
        texts[0].1,
        "200 events in 30 s from 192.0.2.50, 27.7x its moving baseline of 7.2 (threshold 5.0x, at least 200)"
    );
}

#[test]
fn a_lasting_change_of_level_is_absorbed_within_a_few_windows() {
    let (mut fx, mut row) = extractor(FeatureConfig::default());
    let spike = TrafficSpikeConfig::default();
    let mut rules = RuleSet::new(&RulesConfig {
        brute_force: None,
        port_scan: None,
        traffic_spike: Some(spike.clone()),
        connection_rate: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let ip = Some("192.0.2.60");
    let window = 30 * S;
    let mut hits = Vec::new();
    // Per event: its time, its window count, the spike threshold in force, its baseline.
    let mut send = |micros: i64, hits: &mut Vec<_>| {
        let x = fx
            .extract(&event(micros, ip, EventKind::Connect), &mut row)
            .unwrap_or_else(|e| panic!("{e}"));
        rules.observe(&x.view, &x.window, hits);
        let baseline = x.window.baseline_events;
        (micros, x.window.events, spike.threshold(baseline), baseline)
    };
    // Twenty windows at 50 events each, then an hour at 500 per window: ten times busier.
    for k in 0..20 {
        for j in 0..50 {
            send(T0 + k * window + j * 600_000, &mut hits);
        }
    }
    let change = T0 + 20 * window;
    let mut trace = Vec::new();
    for k in 0..120 {
        for j in 0..500 {
            trace.push(send(change + k * window + j * 60_000, &mut hits));
        }
    }
    // One spike when the level changes, and the source stops being in spike within a few
    // windows: by hand, the baseline goes 49.4 -> 88.9 -> 160 (threshold 801 > 500) when
    // each spiking window is folded in at the spike level.
    let in_spike: Vec<i64> = trace
        .iter()
        .filter(|(_, count, threshold, _)| count >= threshold)
        .map(|(t, ..)| *t)
        .collect();
    let baseline = trace.last().map_or(f64::NAN, |(.., b)| *b);
    let first = in_spike.first().copied().unwrap_or(i64::MIN);
    let last = in_spike.last().copied().unwrap_or(i64::MAX);
    assert!(first >= change && first < change + window, "{first}");
    assert!(
        last < change + 3 * window,
        "in spike until {}",
        last - change
    );
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        hits[0]
            .explanation
            .contains(" events in 30 s from 192.0.2.60, 5.0x its moving baseline of 49 "),
        "{}",
        hits[0].explanation
    );
    // An hour later the new level is the baseline.
    assert!((baseline - 500.0).abs() < 1.0, "{baseline}");
    // The rule has re-armed: a real spike on top of the new level (3000 events in 15 s)
    // fires again, against the new baseline.
    let spike_start = change + 120 * window;
    for j in 0..3000 {
        send(spike_start + j * 5_000, &mut hits);
    }
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits[1]
            .explanation
            .starts_with("2500 events in 30 s from 192.0.2.60, 5.0x its moving baseline of 500 "),
        "{}",
        hits[1].explanation
    );
}
