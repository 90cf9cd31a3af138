//! One simulated Monday (and a Saturday), checked the way a detector or an analyst would:
//! attack thresholds, quiet background, daily rhythm, rate, drift, and realism against real
//! Cowrie logs.

mod common;

use std::collections::HashMap;
use std::io::BufRead;
use std::net::IpAddr;
use std::sync::OnceLock;

use chrono::TimeDelta;
use common::{MICROS, Rec, by_source, episodes, max_distinct_in_window, max_in_window, records};
use vigil_demo::{
    CLASS_BRUTE_FORCE, CLASS_NEW_SERVICE, CLASS_NORMAL, CLASS_PORT_SCAN, CLASS_TRAFFIC_SPIKE,
    DemoConfig,
};
use vigil_sensors::{Direction, EventKind};

const HOUR: i64 = 3600 * MICROS;
const RATE: f64 = 5.0;
const DRIFT_AFTER: f64 = 3600.0;
const DRIFT_RAMP: f64 = 900.0;
const DRIFT_SHARE: f64 = 0.3;

/// A Monday at the default per-host intensity (5 events/s over 30 hosts is the same
/// 1/6 event/s per host as 50 over 300), with drift after the first hour.
fn monday_config() -> DemoConfig {
    DemoConfig {
        seed: 1,
        normal_hosts: 30,
        mean_events_per_sec: RATE,
        duration_secs: Some(86_400.0),
        drift_after_secs: DRIFT_AFTER,
        drift_ramp_secs: DRIFT_RAMP,
        drift_share: DRIFT_SHARE,
        ..DemoConfig::default()
    }
}

fn monday() -> &'static [Rec] {
    static DAY: OnceLock<Vec<Rec>> = OnceLock::new();
    DAY.get_or_init(|| records(monday_config()))
}

fn is(class: &str) -> impl Fn(&&Rec) -> bool + '_ {
    move |r| &*r.class == class
}

fn in_hours(r: &Rec, from: i64, to: i64) -> bool {
    (from * HOUR..to * HOUR).contains(&r.t)
}

#[test]
fn stream_is_ordered_numbered_and_labelled() {
    let day = monday();
    assert!(day.windows(2).all(|w| w[0].t <= w[1].t));
    assert!(day.iter().enumerate().all(|(i, r)| r.offset == i as u64));
    for r in day {
        let known = [
            CLASS_NORMAL,
            CLASS_NEW_SERVICE,
            CLASS_BRUTE_FORCE,
            CLASS_PORT_SCAN,
            CLASS_TRAFFIC_SPIKE,
        ];
        assert!(known.contains(&&*r.class), "{}", r.class);
        let attack = !matches!(&*r.class, CLASS_NORMAL | CLASS_NEW_SERVICE);
        assert_eq!(r.anomalous, attack);
    }
}

#[test]
fn every_attack_kind_shows_early() {
    let day = monday();
    let first = |class: &str| day.iter().find(is(class)).map(|r| r.t);
    let first_attack = day.iter().find(|r| r.anomalous).map(|r| r.t);
    assert!(
        first_attack.is_some_and(|t| t <= 600 * MICROS),
        "{first_attack:?}"
    );
    for class in [CLASS_BRUTE_FORCE, CLASS_PORT_SCAN, CLASS_TRAFFIC_SPIKE] {
        let t = first(class);
        assert!(t.is_some_and(|t| t < 3 * HOUR), "{class} first at {t:?}");
    }
}

#[test]
fn brute_force_exceeds_twenty_failed_logins_in_thirty_seconds() {
    let day = monday();
    let failed = day
        .iter()
        .filter(is(CLASS_BRUTE_FORCE))
        .filter(|r| r.kind == EventKind::LoginFailed);
    let sources = by_source(failed);
    // One fresh source per episode, about four episodes per hour in rounds of three kinds.
    assert!(sources.len() >= 20, "{} brute-force sources", sources.len());
    for (src, logins) in &sources {
        let times: Vec<i64> = logins.iter().map(|r| r.t).collect();
        let peak = max_in_window(&times, 30 * MICROS);
        assert!(peak > 20, "{src}: at most {peak} failed logins in 30 s");
        assert!(
            (39..=300).contains(&times.len()),
            "{src}: {} failed logins",
            times.len()
        );
        assert!(
            logins
                .iter()
                .all(|r| r.dst_port == 22 && r.proto.as_deref() == Some("ssh"))
        );
        assert!(!src_is_private(*src));
    }
}

#[test]
fn port_scans_reach_a_hundred_distinct_ports_in_a_minute() {
    let day = monday();
    let sources = by_source(day.iter().filter(is(CLASS_PORT_SCAN)));
    assert!(sources.len() >= 20, "{} scanning sources", sources.len());
    for (src, probes) in &sources {
        let probes: Vec<(i64, u16)> = probes.iter().map(|r| (r.t, r.dst_port)).collect();
        let peak = max_distinct_in_window(&probes, 60 * MICROS);
        assert!(peak >= 100, "{src}: at most {peak} distinct ports in 60 s");
        let mut ports: Vec<u16> = probes.iter().map(|p| p.1).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), probes.len(), "{src} probed a port twice");
        assert!(!src_is_private(*src));
    }
}

#[test]
fn background_sources_stay_below_attack_thresholds() {
    quiet_background(monday());
    // At the highest allowed intensity per host, too.
    let busy = records(DemoConfig {
        seed: 5,
        normal_hosts: 20,
        mean_events_per_sec: 20.0 * vigil_demo::MAX_EVENTS_PER_SEC_PER_HOST,
        duration_secs: Some(4.0 * 3600.0),
        start: DemoConfig::default().start + TimeDelta::hours(10),
        attack_kinds: Vec::new(),
        ..DemoConfig::default()
    });
    quiet_background(&busy);
}

fn quiet_background(records: &[Rec]) {
    let normal = by_source(records.iter().filter(|r| !r.anomalous));
    let mut busiest_logins = 0;
    let mut busiest_ports = 0;
    for events in normal.values() {
        let failed: Vec<i64> = events
            .iter()
            .filter(|r| r.kind == EventKind::LoginFailed)
            .map(|r| r.t)
            .collect();
        busiest_logins = busiest_logins.max(max_in_window(&failed, 30 * MICROS));
        let probes: Vec<(i64, u16)> = events.iter().map(|r| (r.t, r.dst_port)).collect();
        busiest_ports = busiest_ports.max(max_distinct_in_window(&probes, 60 * MICROS));
    }
    assert!(
        busiest_logins <= 15,
        "a background source failed {busiest_logins} logins in 30 s"
    );
    assert!(
        busiest_ports <= 20,
        "a background source hit {busiest_ports} ports in 60 s"
    );
}

#[test]
fn traffic_spikes_are_ten_times_the_usual_rate_for_minutes() {
    let day = monday();
    let spikes = by_source(day.iter().filter(is(CLASS_TRAFFIC_SPIKE)));
    let normal = by_source(day.iter().filter(is(CLASS_NORMAL)));
    let mut checked = 0;
    for (src, events) in &spikes {
        assert!(
            src_is_private(*src),
            "spikes come from internal clients, not {src}"
        );
        let times: Vec<i64> = events.iter().map(|r| r.t).collect();
        for run in episodes(&times, 600 * MICROS) {
            let (first, last) = (run[0], run[run.len() - 1]);
            let span = (last - first).max(MICROS) as f64 / MICROS as f64;
            assert!((60.0..=1200.0).contains(&span), "{src}: spike of {span} s");
            let spike_rate = run.len() as f64 / span;
            // The source's own background rate in the hour around the spike.
            let (from, to) = (first - 1800 * MICROS, last + 1800 * MICROS);
            let usual = normal.get(src).map_or(0, |events| {
                events.iter().filter(|r| (from..to).contains(&r.t)).count()
            });
            let usual_rate = usual as f64 / ((to - from) as f64 / MICROS as f64);
            assert!(
                spike_rate >= 10.0 * usual_rate,
                "{src}: spike {spike_rate:.2}/s vs usual {usual_rate:.3}/s"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} spikes");
}

#[test]
fn daily_rhythm_is_busy_by_day_and_quiet_at_night() {
    let day = monday();
    let count = |from, to| {
        day.iter()
            .filter(is(CLASS_NORMAL))
            .filter(|r| in_hours(r, from, to))
            .count()
    };
    let night = count(2, 4);
    let midday = count(12, 14);
    assert!(
        midday as f64 > 2.0 * night as f64,
        "midday {midday} vs night {night}"
    );
    // Internal clients carry the rhythm; internet scanners keep knocking at night.
    let internal_night = day
        .iter()
        .filter(is(CLASS_NORMAL))
        .filter(|r| src_is_private(r.src) && in_hours(r, 2, 4))
        .count();
    let internal_midday = day
        .iter()
        .filter(is(CLASS_NORMAL))
        .filter(|r| src_is_private(r.src) && in_hours(r, 12, 14))
        .count();
    assert!(
        internal_midday > 8 * internal_night,
        "{internal_midday} vs {internal_night}"
    );
}

#[test]
fn weekends_are_quieter_than_weekdays() {
    let saturday = records(DemoConfig {
        start: DemoConfig::default().start + TimeDelta::days(5),
        duration_secs: Some(14.0 * 3600.0),
        attack_kinds: Vec::new(),
        drift_share: 0.0,
        ..monday_config()
    });
    let midday = |records: &[Rec]| {
        records
            .iter()
            .filter(is(CLASS_NORMAL))
            .filter(|r| in_hours(r, 12, 14))
            .count()
    };
    let (weekday, weekend) = (midday(monday()), midday(&saturday));
    assert!(
        (weekend as f64) < 0.7 * weekday as f64,
        "Saturday {weekend} vs Monday {weekday}"
    );
}

#[test]
fn background_rate_averages_the_configured_rate_over_a_weekday() {
    let normal = monday().iter().filter(is(CLASS_NORMAL)).count() as f64;
    let expected = RATE * 86_400.0;
    assert!(
        (normal / expected - 1.0).abs() < 0.08,
        "{normal} normal events, expected about {expected}"
    );
}

#[test]
fn drift_brings_a_new_service_that_stays() {
    let day = monday();
    let drift_start = (DRIFT_AFTER * MICROS as f64) as i64;
    let ramped = ((DRIFT_AFTER + DRIFT_RAMP) * MICROS as f64) as i64;
    assert!(day.iter().filter(|r| r.t < drift_start).all(|r| {
        &*r.class != CLASS_NEW_SERVICE && r.dst_port != 1883 && r.proto.as_deref() != Some("mqtt")
    }));
    let service: Vec<&Rec> = day.iter().filter(is(CLASS_NEW_SERVICE)).collect();
    for r in &service {
        assert!(!r.anomalous);
        assert_eq!(r.proto.as_deref(), Some("mqtt"));
        assert_eq!(r.dst_port, 1883);
        assert_eq!(r.kind, EventKind::Flow);
        assert!(matches!(r.src, IpAddr::V4(v4) if v4.octets()[..2] == [10, 20]));
    }
    let after = |r: &&Rec| r.t >= ramped;
    let new = service.iter().filter(|r| r.t >= ramped).count() as f64;
    let expected = DRIFT_SHARE / (1.0 - DRIFT_SHARE) * RATE * (86_400.0 - DRIFT_AFTER - DRIFT_RAMP);
    assert!(
        (new / expected - 1.0).abs() < 0.05,
        "{new} new-service events, expected about {expected}"
    );
    let old = day.iter().filter(is(CLASS_NORMAL)).filter(after).count() as f64;
    let share = new / (new + old);
    assert!(
        (0.25..=0.38).contains(&share),
        "new service is {share:.3} of normal traffic"
    );
    // It stays: every remaining hour carries it.
    for hour in 2..24 {
        let n = service
            .iter()
            .filter(|r| (hour * HOUR..(hour + 1) * HOUR).contains(&r.t))
            .count();
        assert!(n > 0, "no new-service events in hour {hour}");
    }
}

#[test]
fn honeypot_sessions_look_like_real_cowrie_sessions() {
    // Habitual-scanner SSH sessions of the generator...
    let mut sessions: HashMap<&str, (u64, Option<f64>)> = HashMap::new();
    for r in monday().iter().filter(is(CLASS_NORMAL)) {
        if r.proto.as_deref() != Some("ssh") || src_is_private(r.src) {
            continue;
        }
        let Some(id) = r.session.as_deref() else {
            continue;
        };
        let entry = sessions.entry(id).or_default();
        if r.kind == EventKind::LoginFailed {
            entry.0 += 1;
        }
        if r.kind == EventKind::Disconnect {
            entry.1 = r.duration_secs;
        }
    }
    let generated = SessionShape::of(sessions.values().copied());

    // ...against the SSH sessions of two real honeypot logs.
    for file in [
        "data/cowrie/seed-tpot-cowrie.json",
        "data/cowrie/tpet-2022/cowrie.json.2022-06-01",
    ] {
        let Some(path) = vigil_tests::shared_file(file) else {
            return;
        };
        let real = SessionShape::of(real_cowrie_ssh_sessions(&path).into_values());
        assert!(real.sessions > 300, "{file}: {} sessions", real.sessions);
        assert!(
            generated.at_most_one_failure >= real.at_most_one_failure - 0.1,
            "{file}: {:.3} of real sessions have at most one failed login, generated {:.3}",
            real.at_most_one_failure,
            generated.at_most_one_failure
        );
        let ratio = generated.median_duration / real.median_duration;
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{file}: real median session {:.2} s, generated {:.2} s",
            real.median_duration,
            generated.median_duration
        );
    }
}

struct SessionShape {
    sessions: usize,
    at_most_one_failure: f64,
    median_duration: f64,
}

impl SessionShape {
    fn of(sessions: impl Iterator<Item = (u64, Option<f64>)>) -> SessionShape {
        let sessions: Vec<(u64, Option<f64>)> = sessions.collect();
        let few = sessions.iter().filter(|(failed, _)| *failed <= 1).count();
        let mut durations: Vec<f64> = sessions.iter().filter_map(|(_, d)| *d).collect();
        durations.sort_by(f64::total_cmp);
        SessionShape {
            sessions: sessions.len(),
            at_most_one_failure: few as f64 / sessions.len().max(1) as f64,
            median_duration: durations
                .get(durations.len() / 2)
                .copied()
                .unwrap_or(f64::NAN),
        }
    }
}

/// Failed logins and duration of each SSH session of a Cowrie NDJSON log, read with plain
/// `serde_json` (the `duration` is a string in some files and a number in others).
fn real_cowrie_ssh_sessions(path: &std::path::Path) -> HashMap<String, (u64, Option<f64>)> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut sessions: HashMap<String, (u64, Option<f64>)> = HashMap::new();
    let mut ssh: HashMap<String, bool> = HashMap::new();
    for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let Some(id) = v["session"].as_str() else {
            continue;
        };
        let entry = sessions.entry(id.to_owned()).or_default();
        match v["eventid"].as_str() {
            Some("cowrie.session.connect") => {
                let port = v["dst_port"].as_u64();
                let protocol = v["protocol"].as_str();
                ssh.insert(
                    id.to_owned(),
                    protocol == Some("ssh") || (protocol.is_none() && port != Some(23)),
                );
            }
            Some("cowrie.login.failed") => entry.0 += 1,
            Some("cowrie.session.closed") => {
                entry.1 = v["duration"]
                    .as_f64()
                    .or_else(|| v["duration"].as_str().and_then(|s| s.parse().ok()));
            }
            _ => {}
        }
    }
    sessions.retain(|id, _| ssh.get(id).copied().unwrap_or(false));
    sessions
}

fn src_is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(_) => false,
    }
}

#[test]
fn directions_match_addresses() {
    for r in monday() {
        let expected = match (src_is_private(r.src), src_is_private(r.dst)) {
            (true, true) => Direction::Internal,
            (true, false) => Direction::Outbound,
            (false, _) => Direction::Inbound,
        };
        assert_eq!(r.direction, Some(expected), "{r:?}");
    }
}
