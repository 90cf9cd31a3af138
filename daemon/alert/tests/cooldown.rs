//! Repeats from one source and detector within the cooldown count into the open alert.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use vigil_alert::{Aggregation, Alert, Cooldowns, Severity};
use vigil_sensors::{Event, EventKind, Origin, Sensor};

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::seconds(1_700_000_000 + secs)
}

fn alert(offset: u64, secs: i64, ip: Option<&str>, detector: &str, severity: Severity) -> Alert {
    let origin = Origin {
        source: Arc::from("cowrie.json"),
        offset,
        round: 0,
    };
    let mut event = Event::new(
        t(secs),
        Sensor::Cowrie,
        Arc::from("hp-1"),
        EventKind::LoginFailed,
        origin,
    );
    event.src_ip = ip.map(|ip| ip.parse::<IpAddr>().expect("valid ip"));
    let score = match severity {
        Severity::Red => 0.995,
        Severity::Orange => 0.96,
        Severity::Green => 0.5,
    };
    Alert::new(&event, detector, score, severity, "…".into()).expect("valid")
}

const A: Option<&str> = Some("203.0.113.7");
const B: Option<&str> = Some("2001:db8::7");

fn is_repeat_of(aggregation: Aggregation<'_>, id: &str) -> bool {
    aggregation == Aggregation::Repeat { open_id: id }
}

#[test]
fn repeats_within_the_cooldown_count_into_the_opener() {
    let mut cooldowns = Cooldowns::new(300);
    let opener = alert(0, 0, A, "brute_force", Severity::Orange);
    assert_eq!(cooldowns.offer(&opener), Aggregation::New);
    assert!(is_repeat_of(
        cooldowns.offer(&alert(1, 299, A, "brute_force", Severity::Orange)),
        &opener.id
    ));
    // A late event just before the opener belongs to the same burst.
    assert!(is_repeat_of(
        cooldowns.offer(&alert(2, -100, A, "brute_force", Severity::Orange)),
        &opener.id
    ));
    // Another source, another detector: their own alerts.
    assert_eq!(
        cooldowns.offer(&alert(3, 10, B, "brute_force", Severity::Orange)),
        Aggregation::New
    );
    assert_eq!(
        cooldowns.offer(&alert(4, 10, A, "port_scan", Severity::Orange)),
        Aggregation::New
    );
    assert_eq!(cooldowns.len(), 3);
    // The cooldown runs from the opener, not from the last repeat.
    let next = alert(5, 300, A, "brute_force", Severity::Orange);
    assert_eq!(cooldowns.offer(&next), Aggregation::New);
    assert!(is_repeat_of(
        cooldowns.offer(&alert(6, 301, A, "brute_force", Severity::Orange)),
        &next.id
    ));
    assert_eq!(cooldowns.len(), 3, "the new opener replaced the old one");
}

#[test]
fn an_escalation_is_a_new_alert() {
    let mut cooldowns = Cooldowns::new(300);
    let orange = alert(0, 0, A, "brute_force", Severity::Orange);
    assert_eq!(cooldowns.offer(&orange), Aggregation::New);
    let red = alert(1, 20, A, "brute_force", Severity::Red);
    assert_eq!(cooldowns.offer(&red), Aggregation::New);
    // Now RED is open: both levels count into it.
    assert!(is_repeat_of(
        cooldowns.offer(&alert(2, 30, A, "brute_force", Severity::Red)),
        &red.id
    ));
    assert!(is_repeat_of(
        cooldowns.offer(&alert(3, 40, A, "brute_force", Severity::Orange)),
        &red.id
    ));
}

#[test]
fn no_source_or_no_cooldown_means_no_aggregation() {
    let mut cooldowns = Cooldowns::new(300);
    for i in 0..3 {
        assert_eq!(
            cooldowns.offer(&alert(i, 0, None, "hst", Severity::Red)),
            Aggregation::New
        );
    }
    assert!(cooldowns.is_empty());
    let mut none = Cooldowns::new(0);
    for i in 0..3 {
        assert_eq!(
            none.offer(&alert(i, 0, A, "hst", Severity::Red)),
            Aggregation::New
        );
    }
}

#[test]
fn record_repeat_counts_and_widens() {
    let mut opener = alert(0, 0, A, "brute_force", Severity::Orange);
    opener
        .record_repeat(t(30), 0.97, Severity::Orange)
        .expect("valid");
    opener
        .record_repeat(t(-5), 0.955, Severity::Orange)
        .expect("valid");
    assert_eq!(opener.count, 3);
    assert_eq!((opener.first_seen, opener.last_seen), (t(-5), t(30)));
    assert_eq!(opener.event_time, t(0));
    assert_eq!(opener.score, 0.97);
    assert!(opener.validate().is_ok());
    let err = opener
        .record_repeat(t(40), f64::INFINITY, Severity::Orange)
        .expect_err("bad score");
    assert!(err.to_string().contains("inf"), "{err}");
    assert_eq!(opener.count, 3, "a refused repeat changes nothing");
}

#[test]
fn state_is_bounded_by_pruning() {
    let mut cooldowns = Cooldowns::new(60);
    // 20,000 sources, one alert each, a second apart: at most a minute's worth stay open
    // (plus what accumulates between prunings).
    for i in 0..20_000u32 {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
        cooldowns.offer(&alert(
            u64::from(i),
            i64::from(i),
            Some(&ip),
            "hst",
            Severity::Red,
        ));
        assert!(cooldowns.len() <= 2 * 1024 + 1, "{}", cooldowns.len());
    }
    let dropped = cooldowns.prune(t(20_000));
    assert!(dropped > 0);
    assert!(cooldowns.len() <= 60, "{}", cooldowns.len());
}

#[test]
fn the_checkpoint_form_restores_the_same_decisions() {
    let mut cooldowns = Cooldowns::new(300);
    let opener = alert(0, 0, A, "brute_force", Severity::Orange);
    cooldowns.offer(&opener);
    cooldowns.offer(&alert(1, 5, B, "hst", Severity::Red));
    let bytes = serde_json::to_vec(&cooldowns).expect("serialises");
    let mut restored: Cooldowns = serde_json::from_slice(&bytes).expect("restores");
    assert_eq!(restored, cooldowns);
    assert_eq!(
        serde_json::to_vec(&restored).expect("serialises"),
        bytes,
        "equal states give equal bytes"
    );
    assert!(is_repeat_of(
        restored.offer(&alert(2, 100, A, "brute_force", Severity::Orange)),
        &opener.id
    ));
    assert_eq!(restored.cooldown(), TimeDelta::seconds(300));
}
