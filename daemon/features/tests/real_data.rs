//! The windows and the brute-force rule on real Cowrie logs. Expected numbers come from the
//! raw JSON (read with plain `serde_json`), counted directly per source, independently of the
//! extractor's data structures.

mod common;

use std::collections::HashMap;

use common::event;
use serde_json::Value;
use vigil_detectors::{BruteForceConfig, RuleSet, RulesConfig, TrafficSpikeConfig};
use vigil_features::{FeatureConfig, FeatureExtractor};
use vigil_sensors::{Event, EventKind};

/// The well-formed lines of a Cowrie NDJSON file as events (malformed lines are skipped; one
/// file ends in a truncated line).
fn cowrie_events(rel: &str) -> Option<Vec<Event>> {
    let path = vigil_tests::shared_file(rel)?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(ts) = v["timestamp"].as_str() else {
            continue;
        };
        let Ok(time) = chrono::DateTime::parse_from_rfc3339(ts) else {
            panic!("unparsable timestamp {ts}");
        };
        let kind = match v["eventid"].as_str() {
            Some("cowrie.login.failed") => EventKind::LoginFailed,
            Some("cowrie.login.success") => EventKind::LoginSuccess,
            Some("cowrie.command.input") => EventKind::Command,
            Some("cowrie.session.connect") => EventKind::Connect,
            _ => EventKind::Other,
        };
        let mut e = event(time.timestamp_micros(), v["src_ip"].as_str(), kind);
        e.dst_port = v["dst_port"].as_u64().and_then(|p| u16::try_from(p).ok());
        e.dst_ip = v["dst_ip"].as_str().and_then(|s| s.parse().ok());
        out.push(e);
    }
    Some(out)
}

/// Per event: the failed logins and distinct destination ports of its source counted straight
/// from the list, over (t - 30 s, t] and (t - 60 s, t] of the events so far. The files are in
/// time order, so "so far" and "up to t" agree.
fn direct_counts(events: &[Event]) -> Vec<(u32, u32)> {
    let mut by_src: HashMap<String, Vec<(i64, bool, Option<u16>)>> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let t = e.event_time.timestamp_micros();
        let Some(ip) = e.src_ip else {
            out.push((0, 0));
            continue;
        };
        let seen = by_src.entry(ip.to_string()).or_default();
        seen.push((t, e.kind == EventKind::LoginFailed, e.dst_port));
        let failed = seen
            .iter()
            .filter(|(u, f, _)| *f && *u > t - 30_000_000)
            .count() as u32;
        let mut ports: Vec<u16> = seen
            .iter()
            .filter(|(u, _, p)| p.is_some() && *u > t - 60_000_000)
            .filter_map(|(_, _, p)| *p)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        out.push((failed, ports.len() as u32));
    }
    out
}

fn check_file(rel: &str, min_hits: usize, min_escalations: usize) {
    let Some(events) = cowrie_events(rel) else {
        return;
    };
    assert!(events.len() > 1000, "{rel}: only {} events", events.len());
    let want = direct_counts(&events);
    let mut fx = FeatureExtractor::new(FeatureConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut rules = RuleSet::new(&RulesConfig {
        brute_force: Some(BruteForceConfig::default()),
        port_scan: None,
        traffic_spike: None,
        connection_rate: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut row = vec![0.0; fx.dim()];
    let mut hits = Vec::new();
    let mut hit_sources: HashMap<String, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let x = fx
            .extract(e, &mut row)
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            (x.window.failed_logins, x.window.distinct_dst_ports),
            want[i],
            "{rel}: event {i} from {:?}",
            e.src_ip
        );
        let before = hits.len();
        rules.observe(&x.view, &x.window, &mut hits);
        if hits.len() > before {
            *hit_sources.entry(format!("{:?}", e.src_ip)).or_default() += 1;
        }
    }
    assert_eq!(fx.late_events(), 0, "{rel}: the file is in time order");

    // Independent episode count: a source's failed-login events whose direct count reaches 20
    // while its previous failed-login event's count was below 20 (or it had none) open an
    // episode; within it, the first such event whose count reaches 5 x 20 = 100 escalates.
    let mut expected = Vec::new();
    let mut episodes: HashMap<String, bool> = HashMap::new();
    for (e, (failed, _)) in events.iter().zip(&want) {
        if e.kind != EventKind::LoginFailed {
            continue;
        }
        let Some(ip) = e.src_ip else { continue };
        let source = ip.to_string();
        if *failed < 20 {
            episodes.remove(&source);
            continue;
        }
        match episodes.get(&source).copied() {
            None => {
                expected.push(format!(
                    "{failed} failed logins in 30 s from {source} (threshold 20)"
                ));
                episodes.insert(source, *failed >= 100);
            }
            Some(false) if *failed >= 100 => {
                expected.push(format!(
                    "{failed} failed logins in 30 s from {source} (threshold 20, {:.1}x: escalated)",
                    f64::from(*failed) / 20.0
                ));
                episodes.insert(source, true);
            }
            Some(_) => {}
        }
    }
    let explanations: Vec<&str> = hits.iter().map(|h| h.explanation.as_str()).collect();
    assert_eq!(explanations, expected, "{rel}: {hit_sources:?}");
    assert!(hits.len() >= min_hits, "{rel}: {} hits", hits.len());
    let escalations = explanations
        .iter()
        .filter(|h| h.ends_with("escalated)"))
        .count();
    assert!(
        escalations >= min_escalations,
        "{rel}: {escalations} escalations"
    );
    for h in &hits {
        let red = h.explanation.ends_with("escalated)");
        assert_eq!(h.strength >= 0.99, red, "{}: {}", h.explanation, h.strength);
        assert!(h.strength >= 0.95, "{}", h.explanation);
    }
}

#[test]
fn tpot_cowrie_windows_and_brute_force_match_direct_counts() {
    // One source reaches 141 failed logins in 30 s: it opens an episode and escalates.
    check_file("data/cowrie/seed-tpot-cowrie.json", 2, 1);
}

#[test]
fn scriptzteam_cowrie_windows_and_brute_force_match_direct_counts() {
    check_file("data/cowrie/scriptzteam-2017/cowrie.json.2017_11_4", 1, 0);
}

#[test]
fn truncated_cowrie_file_windows_match_direct_counts() {
    check_file("data/cowrie/scriptzteam-2017/cowrie.json", 1, 0);
}

/// Per event: the events of its source counted straight from the list over (t - 30 s, t].
fn direct_event_counts(events: &[Event]) -> Vec<u32> {
    let mut by_src: HashMap<String, Vec<i64>> = HashMap::new();
    events
        .iter()
        .map(|e| {
            let Some(ip) = e.src_ip else { return 0 };
            let t = e.event_time.timestamp_micros();
            let seen = by_src.entry(ip.to_string()).or_default();
            seen.push(t);
            seen.iter().filter(|u| **u > t - 30_000_000).count() as u32
        })
        .collect()
}

#[test]
fn tpot_cowrie_burst_is_one_traffic_spike_episode() {
    // 103.146.202.84 sends 1,249 events in 84 s, 303 and then 706 of them in two consecutive
    // 30 s tumbling windows. Had the first of those windows been folded into the baseline at
    // full size, the baseline would jump from about 3 to about 63, the spike threshold from
    // 200 to 317 events, above the count in the sliding window at that moment: the rule would
    // re-arm and fire a second time for the same burst 5 s later.
    let Some(events) = cowrie_events("data/cowrie/seed-tpot-cowrie.json") else {
        return;
    };
    let spike = TrafficSpikeConfig::default();
    let mut fx = FeatureExtractor::new(FeatureConfig {
        baseline_spike_level: spike.clone(),
        ..FeatureConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut rules = RuleSet::new(&RulesConfig {
        brute_force: None,
        port_scan: None,
        traffic_spike: Some(spike.clone()),
        connection_rate: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut row = vec![0.0; fx.dim()];
    let mut hits = Vec::new();
    let direct = direct_event_counts(&events);
    for (i, e) in events.iter().enumerate() {
        let x = fx
            .extract(e, &mut row)
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(x.window.events, direct[i], "event {i}");
        rules.observe(&x.view, &x.window, &mut hits);
    }

    // Independently: only this source ever has 200 events in 30 s, and once it gets there its
    // count stays at or above 200 until its last event, so with any threshold of at least 200
    // this is one episode. It peaks below 5 x 200 = 1000 events, so it cannot escalate.
    let attacker = "103.146.202.84";
    let mut busy: Vec<String> = Vec::new();
    let mut attacker_counts = Vec::new();
    for (e, n) in events.iter().zip(&direct) {
        let Some(ip) = e.src_ip else { continue };
        if *n >= spike.min_events && !busy.contains(&ip.to_string()) {
            busy.push(ip.to_string());
        }
        if ip.to_string() == attacker {
            attacker_counts.push(*n);
        }
    }
    assert_eq!(busy, vec![attacker.to_string()]);
    let first = attacker_counts
        .iter()
        .position(|n| *n >= spike.min_events)
        .unwrap_or(usize::MAX);
    assert!(
        attacker_counts[first..]
            .iter()
            .all(|n| *n >= spike.min_events)
    );
    let peak = attacker_counts.iter().copied().max().unwrap_or(0);
    assert!(peak > 700 && peak < 1000, "peak {peak}");

    let texts: Vec<&str> = hits.iter().map(|h| h.explanation.as_str()).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("200 events in 30 s from 103.146.202.84, "),
        "{}",
        texts[0]
    );
    assert!((hits[0].strength - 0.95).abs() < 1e-12);
}
