//! Rule snapshots: a restored rule set fires exactly as one that never stopped; bad bytes are
//! refused and leave the rules unchanged.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const S: i64 = 1_000_000;
const EVENT_WINDOW: i64 = 30 * S;
const LOGIN_WINDOW: i64 = 30 * S;
const PORT_WINDOW: i64 = 60 * S;

/// One counted event of a source, as the simulated windows keep it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    time: i64,
    failed: bool,
    port: Option<u16>,
}

/// A seeded stream of events with honest sliding-window counts: 200 sources plus three heavy
/// hitters (one brute-forcing, one scanning, one flooding), bursts and quiet gaps that drain
/// the windows, late events and events without a source.
struct Stream {
    rng: ChaCha8Rng,
    clock: i64,
    sources: Vec<IpAddr>,
    history: HashMap<u128, VecDeque<Seen>>,
    attacker: usize,
}

impl Stream {
    fn new(seed: u64) -> Stream {
        let sources = (0..200u32)
            .map(|i| {
                if i % 5 == 0 {
                    format!("2001:db8:{i:x}::{:x}", i * 3 + 1)
                } else {
                    format!("198.51.{}.{}", i / 250, i % 250)
                }
            })
            .chain(["203.0.113.1", "203.0.113.2", "203.0.113.3"].map(String::from))
            .filter_map(|s| s.parse().ok())
            .collect();
        Stream {
            rng: ChaCha8Rng::seed_from_u64(seed),
            clock: 1_700_000_000 * S,
            sources,
            history: HashMap::new(),
            attacker: 0,
        }
    }

    fn next(&mut self) -> (EventView, SourceWindow) {
        let rng = &mut self.rng;
        self.clock += match rng.random_range(0..1000) {
            0..=699 => rng.random_range(0..20_000),
            700..=997 => 0,
            _ => rng.random_range(20 * S..120 * S),
        };
        // Attack phases: one heavy hitter at a time sends most of the traffic.
        if rng.random_bool(0.002) {
            self.attacker = rng.random_range(0..3);
        }
        let heavy = self.sources.len() - 3;
        let index = if rng.random_bool(0.6) {
            heavy + self.attacker
        } else {
            rng.random_range(0..heavy)
        };
        let ip = self.sources[index];
        let failed = rng.random_bool(if index == heavy { 0.8 } else { 0.3 });
        let port = if !rng.random_bool(0.8) {
            None
        } else if index == heavy + 1 || rng.random_bool(0.05) {
            Some(rng.random_range(1..2_000))
        } else {
            Some([22, 23, 80, 443][rng.random_range(0..4)])
        };
        let late = rng.random_bool(0.04);
        let sourceless = rng.random_bool(0.01);
        let time = if late {
            self.clock - rng.random_range(300 * S..400 * S)
        } else {
            self.clock
        };
        let source = SourceId::new(ip, 64);
        let event = EventView {
            time_micros: time,
            src_ip: (!sourceless).then_some(ip),
            source: (!sourceless).then_some(source),
            dst_port: port,
            failed_login: failed,
            login: failed || rng.random_bool(0.1),
            ..EventView::default()
        };
        // A baseline that changes from one tumbling window to the next moves the spike
        // threshold up and down.
        let bucket = self.clock / EVENT_WINDOW;
        let baseline_events = 1.0 + ((bucket * 7 + index as i64) % 9) as f64 * 0.8;
        let mut window = SourceWindow {
            tracked: !sourceless,
            counted: !sourceless && !late,
            late,
            baseline_events,
            event_window_secs: 30,
            login_window_secs: 30,
            port_window_secs: 60,
            ..SourceWindow::default()
        };
        if sourceless {
            return (event, window);
        }
        let now = self.clock;
        let seen = self.history.entry(source.key()).or_default();
        while seen.front().is_some_and(|s| s.time <= now - PORT_WINDOW) {
            seen.pop_front();
        }
        if !late {
            window.port_new_in_window =
                port.is_some_and(|p| seen.iter().all(|s| s.port != Some(p)));
            seen.push_back(Seen { time, failed, port });
        }
        let mut ports: Vec<u16> = seen.iter().filter_map(|s| s.port).collect();
        ports.sort_unstable();
        ports.dedup();
        window.events = seen.iter().filter(|s| s.time > now - EVENT_WINDOW).count() as u32;
        window.failed_logins = seen
            .iter()
            .filter(|s| s.failed && s.time > now - LOGIN_WINDOW)
            .count() as u32;
        window.distinct_dst_ports = ports.len() as u32;
        (event, window)
    }
}

fn config() -> RulesConfig {
    RulesConfig {
        brute_force: Some(BruteForceConfig {
            min_failed_logins: 5,
        }),
        port_scan: Some(PortScanConfig {
            min_distinct_ports: 6,
        }),
        traffic_spike: Some(TrafficSpikeConfig {
            min_events: 8,
            factor: 2.0,
        }),
        connection_rate: None,
    }
}

/// The rules of [`config`] with episode tables of at most `capacity` sources.
fn capped(capacity: usize) -> RuleSet {
    let c = config();
    let (Some(bf), Some(ps), Some(ts)) = (c.brute_force, c.port_scan, c.traffic_spike) else {
        panic!("every rule is configured");
    };
    let rules: Vec<Box<dyn Rule>> = vec![
        Box::new(
            BruteForce::new(bf)
                .map(|r| r.with_capacity_limit(capacity))
                .unwrap(),
        ),
        Box::new(
            PortScan::new(ps)
                .map(|r| r.with_capacity_limit(capacity))
                .unwrap(),
        ),
        Box::new(
            TrafficSpike::new(ts)
                .map(|r| r.with_capacity_limit(capacity))
                .unwrap(),
        ),
    ];
    RuleSet::from_rules(rules)
}

/// A hit with its strength as bits.
type Fired = Vec<(&'static str, u64, String)>;

/// Snapshots taken before the events at the given indices.
type Snapshots = Vec<(usize, Vec<u8>)>;

fn observe(rules: &mut RuleSet, event: &EventView, window: &SourceWindow) -> Fired {
    let mut hits = Vec::new();
    rules.observe(event, window, &mut hits);
    hits.into_iter()
        .map(|h| (h.rule, h.strength.to_bits(), h.explanation))
        .collect()
}

fn stream(seed: u64, n: usize) -> Vec<(EventView, SourceWindow)> {
    let mut s = Stream::new(seed);
    (0..n).map(|_| s.next()).collect()
}

/// Runs `events` through `rules`, snapshotting before each index in `splits`.
fn run(
    mut rules: RuleSet,
    events: &[(EventView, SourceWindow)],
    splits: &[usize],
) -> (Vec<Fired>, Snapshots, Vec<u8>) {
    let mut fired = Vec::with_capacity(events.len());
    let mut snapshots = Vec::new();
    for (i, (event, window)) in events.iter().enumerate() {
        if splits.contains(&i) {
            snapshots.push((i, rules.snapshot()));
        }
        fired.push(observe(&mut rules, event, window));
    }
    if splits.contains(&events.len()) {
        snapshots.push((events.len(), rules.snapshot()));
    }
    (fired, snapshots, rules.snapshot())
}

fn check_splits(make: impl Fn() -> RuleSet, seed: u64) {
    let events = stream(seed, 20_000);
    let n = events.len();
    let splits = [0, 1, 999, 5_000, 12_345, 17_777, n - 1, n];
    let (all, snapshots, last) = run(make(), &events, &splits);
    let hits: Vec<&(&str, u64, String)> = all.iter().flatten().collect();
    for rule in ["brute_force", "port_scan", "traffic_spike"] {
        let opened = hits
            .iter()
            .filter(|h| h.0 == rule && !h.2.ends_with("escalated)"))
            .count();
        let escalated = hits
            .iter()
            .filter(|h| h.0 == rule && h.2.ends_with("escalated)"))
            .count();
        assert!(opened > 20, "{rule}: only {opened} episodes opened");
        assert!(escalated > 2, "{rule}: only {escalated} escalations");
    }
    for (at, bytes) in snapshots {
        let mut resumed = make();
        resumed
            .restore(&bytes)
            .unwrap_or_else(|e| panic!("split {at}: {e}"));
        assert_eq!(resumed.snapshot(), bytes, "split {at}: re-snapshot");
        for (i, (event, window)) in events.iter().enumerate().skip(at) {
            assert_eq!(
                observe(&mut resumed, event, window),
                all[i],
                "split {at}, event {i}"
            );
        }
        assert_eq!(resumed.snapshot(), last, "split {at}: final state");
    }
}

#[test]
fn a_restored_rule_set_fires_exactly_as_an_uninterrupted_one() {
    check_splits(|| RuleSet::new(&config()).unwrap(), 1);
}

#[test]
fn a_restored_full_episode_table_sweeps_and_falls_back_exactly_as_before() {
    // Two open episodes per rule: the table fills, is swept, and falls back to exact crossings.
    check_splits(|| capped(2), 2);
    let events = stream(2, 20_000);
    let (roomy, _, _) = run(RuleSet::new(&config()).unwrap(), &events, &[]);
    let (full, _, _) = run(capped(2), &events, &[]);
    assert!(roomy != full, "the small tables never filled");
}

#[test]
fn the_split_test_notices_lost_rule_state() {
    // Control for the split tests: the rest of the stream through a fresh rule set fires
    // differently, so they do compare something the snapshot must carry.
    let events = stream(1, 20_000);
    let at = 5_000;
    let (all, _, _) = run(RuleSet::new(&config()).unwrap(), &events, &[]);
    let mut fresh = RuleSet::new(&config()).unwrap();
    let rest: Vec<Fired> = events[at..]
        .iter()
        .map(|(e, w)| observe(&mut fresh, e, w))
        .collect();
    assert!(rest != all[at..], "a fresh rule set fired the same");
}

#[test]
fn checkpointing_every_few_hundred_events_changes_nothing() {
    let events = stream(3, 12_000);
    let (all, _, last) = run(RuleSet::new(&config()).unwrap(), &events, &[]);
    let mut rules = RuleSet::new(&config()).unwrap();
    for (i, (event, window)) in events.iter().enumerate() {
        if i % 311 == 0 {
            let bytes = rules.snapshot();
            rules = RuleSet::new(&config()).unwrap();
            rules.restore(&bytes).unwrap();
        }
        assert_eq!(observe(&mut rules, event, window), all[i], "event {i}");
    }
    assert_eq!(rules.snapshot(), last);
}

/// A rule set that has seen some of the stream, and its snapshot.
fn busy(seed: u64, n: usize) -> (RuleSet, Vec<u8>) {
    let mut rules = RuleSet::new(&config()).unwrap();
    for (event, window) in stream(seed, n) {
        observe(&mut rules, &event, &window);
    }
    let bytes = rules.snapshot();
    (rules, bytes)
}

fn reason(result: Result<(), DetectorError>) -> (String, String) {
    match result {
        Err(DetectorError::Snapshot { detector, reason }) => (detector, reason),
        other => panic!("expected a snapshot error, got {other:?}"),
    }
}

#[test]
fn truncated_or_padded_bytes_are_refused_and_change_nothing() {
    let (_, bytes) = busy(4, 3_000);
    let (mut target, before) = busy(5, 1_000);
    assert_ne!(bytes, before);
    for len in 0..bytes.len() {
        assert!(
            target.restore(&bytes[..len]).is_err(),
            "a snapshot cut to {len} bytes was accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let (who, why) = reason(target.restore(&longer));
    assert_eq!(
        (who.as_str(), why.as_str()),
        ("rules", "1 unexpected bytes at the end")
    );
    assert_eq!(target.snapshot(), before);
    let (who, why) = reason(target.restore(b"HSTM\x01\x00"));
    assert_eq!(who, "rules");
    assert!(why.contains("\"HSTM\""), "{why}");
    let mut future = bytes.clone();
    future[4] = 2;
    let (_, why) = reason(target.restore(&future));
    assert_eq!(why, "format version 2 is not the supported version 1");
    assert_eq!(target.snapshot(), before);
    target.restore(&bytes).unwrap();
    assert_eq!(target.snapshot(), bytes);
}

#[test]
fn flipped_bits_are_refused_or_give_a_rule_set_that_still_runs() {
    // The rule codec has no checksum (the checkpoint around it has one): a flipped bit in a
    // time may give another valid state, but never a panic or an inconsistent table.
    let (_, bytes) = busy(6, 2_000);
    let events = stream(7, 300);
    let mut refused = 0;
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (i % 8);
        let mut rules = RuleSet::new(&config()).unwrap();
        let before = rules.snapshot();
        if rules.restore(&bad).is_err() {
            refused += 1;
            assert_eq!(
                rules.snapshot(),
                before,
                "byte {i}: a refused restore changed state"
            );
            continue;
        }
        for (event, window) in &events {
            observe(&mut rules, event, window);
        }
    }
    assert!(
        refused > bytes.len() / 4,
        "only {refused} of {} refused",
        bytes.len()
    );
}

#[test]
fn a_snapshot_of_other_rules_or_thresholds_is_refused_naming_the_difference() {
    let (_, bytes) = busy(8, 3_000);
    let cases: Vec<(RulesConfig, &str, &str)> = vec![
        (
            RulesConfig {
                brute_force: Some(BruteForceConfig {
                    min_failed_logins: 6,
                }),
                ..config()
            },
            "brute_force",
            "it was taken with brute_force.min_failed_logins = 5, this rule has 6",
        ),
        (
            RulesConfig {
                port_scan: Some(PortScanConfig {
                    min_distinct_ports: 25,
                }),
                ..config()
            },
            "port_scan",
            "it was taken with port_scan.min_distinct_ports = 6, this rule has 25",
        ),
        (
            RulesConfig {
                traffic_spike: Some(TrafficSpikeConfig {
                    min_events: 9,
                    factor: 2.0,
                }),
                ..config()
            },
            "traffic_spike",
            "it was taken with traffic_spike.min_events = 8, this rule has 9",
        ),
        (
            RulesConfig {
                traffic_spike: Some(TrafficSpikeConfig {
                    min_events: 8,
                    factor: 2.5,
                }),
                ..config()
            },
            "traffic_spike",
            "it was taken with traffic_spike.factor = 2, this rule has 2.5",
        ),
        (
            RulesConfig {
                port_scan: None,
                ..config()
            },
            "rules",
            "it holds the rules [brute_force, port_scan, traffic_spike], this set runs [brute_force, traffic_spike]",
        ),
    ];
    for (other, who, why) in cases {
        let (mut target, before) = {
            let mut rules = RuleSet::new(&other).unwrap();
            for (event, window) in stream(9, 2_000) {
                observe(&mut rules, &event, &window);
            }
            let snapshot = rules.snapshot();
            (rules, snapshot)
        };
        let (detector, reason) = reason(target.restore(&bytes));
        assert_eq!((detector.as_str(), reason.as_str()), (who, why));
        // The traffic-spike cases fail after the first two rules restored: they are rolled back.
        assert_eq!(target.snapshot(), before, "{why}: state changed");
    }
    let mut fewer = RuleSet::new(&RulesConfig {
        brute_force: None,
        ..config()
    })
    .unwrap();
    let (_, why) = reason(fewer.restore(&bytes));
    assert_eq!(
        why,
        "it holds the rules [brute_force, port_scan, traffic_spike], this set runs [port_scan, traffic_spike]"
    );
    // A rule's own snapshot is not a rule set's.
    let (_, why) = reason(
        fewer.restore(
            &BruteForce::new(BruteForceConfig::default())
                .unwrap()
                .snapshot(),
        ),
    );
    assert!(why.contains("\"RBRF\""), "{why}");
    // Nor another rule's.
    let mut scan = PortScan::new(PortScanConfig::default()).unwrap();
    let (who, _) = reason(
        scan.restore(
            &BruteForce::new(BruteForceConfig::default())
                .unwrap()
                .snapshot(),
        ),
    );
    assert_eq!(who, "port_scan");
}

/// A brute-force snapshot holding `flat` as its episode list.
fn brute_force_snapshot(capacity: u64, newest: i64, flat: &[u64]) -> Vec<u8> {
    let mut w = SnapshotWriter::new(*b"RBRF", RULE_SNAPSHOT_VERSION);
    w.u64(5);
    w.u64(capacity);
    w.u64(newest as u64);
    w.u64s(flat);
    w.finish()
}

#[test]
fn inconsistent_episode_tables_are_refused_by_name() {
    let mut rule = BruteForce::new(BruteForceConfig {
        min_failed_logins: 5,
    })
    .unwrap();
    let cap = MAX_OPEN_EPISODES as u64;
    let ok = brute_force_snapshot(cap, 10, &[0, 7, 9, 1, 0, 8, 10, 0]);
    rule.restore(&ok).unwrap();
    assert_eq!(rule.snapshot(), ok);
    let cases = [
        (
            brute_force_snapshot(cap, 10, &[0, 7, 9]),
            "its episode list has 3 numbers, not four per episode",
        ),
        (
            brute_force_snapshot(cap, 10, &[0, 7, 9, 2]),
            "the escalated flag of source 0x7 is 2, not 0 or 1",
        ),
        (
            brute_force_snapshot(cap, 10, &[0, 7, 11, 0]),
            "source 0x7 was last observed at 11, after the newest observation 10",
        ),
        (
            brute_force_snapshot(cap, 10, &[0, 7, 9, 0, 0, 7, 8, 1]),
            "source 0x7 has two open episodes",
        ),
        (
            brute_force_snapshot(4, 10, &[]),
            "it was taken with the open-episode capacity = 4, this rule has 65536",
        ),
    ];
    for (bytes, why) in cases {
        let (who, reason) = reason(rule.restore(&bytes));
        assert_eq!((who.as_str(), reason.as_str()), ("brute_force", why));
        assert_eq!(rule.snapshot(), ok, "{why}: state changed");
    }
    let mut small = BruteForce::new(BruteForceConfig {
        min_failed_logins: 5,
    })
    .unwrap()
    .with_capacity_limit(1);
    let (_, reason) =
        reason(small.restore(&brute_force_snapshot(1, 10, &[0, 7, 9, 1, 0, 8, 10, 0])));
    assert_eq!(reason, "it holds 2 open episodes, more than the capacity 1");
}
