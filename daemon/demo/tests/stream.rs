//! The stream as a whole: determinism, order, numbering, shapes of events, ending, pacing.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use chrono::TimeDelta;
use common::{MICROS, episodes, generator, max_distinct_in_window, max_in_window};
use vigil_demo::{AttackKind, CLASS_NEW_SERVICE, DemoConfig, DemoGenerator, Pacer};
use vigil_sensors::{Direction, Event, EventKind, Sensor, TCP_RST, TCP_SYN, Transport};

fn ndjson(events: impl Iterator<Item = Event>) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        if let Err(err) = serde_json::to_writer(&mut out, &event) {
            panic!("event does not serialise: {err}");
        }
        let _ = out.write_all(b"\n");
    }
    out
}

#[test]
fn window_helpers_count_what_they_say() {
    let s = MICROS;
    assert_eq!(
        max_in_window(&[0, 10 * s, 29 * s, 30 * s, 31 * s], 30 * s),
        4
    );
    assert_eq!(max_in_window(&[], 30 * s), 0);
    let probes = [
        (0, 1),
        (s, 1),
        (2 * s, 2),
        (61 * s, 3),
        (62 * s, 4),
        (62 * s, 5),
    ];
    assert_eq!(max_distinct_in_window(&probes, 60 * s), 3);
    assert_eq!(
        episodes(&[0, 1, 2, 100, 101], 10),
        vec![&[0, 1, 2][..], &[100, 101][..]]
    );
}

#[test]
fn same_config_gives_byte_identical_streams() {
    let config = DemoConfig::default();
    let first = ndjson(generator(config.clone()).take(100_000));
    let second = ndjson(generator(config.clone()).take(100_000));
    assert!(first.len() > 10_000_000, "{} bytes", first.len());
    assert!(first == second, "two runs of one config differ");

    let other = ndjson(
        generator(DemoConfig {
            seed: config.seed + 1,
            ..config
        })
        .take(100_000),
    );
    assert!(first != other, "another seed gave the same stream");
}

#[test]
fn batches_and_deadlines_cut_the_same_stream() {
    let config = DemoConfig {
        duration_secs: Some(900.0),
        ..DemoConfig::default()
    };
    let whole = ndjson(generator(config.clone()));

    let mut batched = Vec::new();
    let mut g = generator(config.clone());
    while g.fill(777, &mut batched) == 777 {}
    assert_eq!(g.events_emitted(), batched.len() as u64);
    assert!(ndjson(batched.into_iter()) == whole);

    // Released in wall-time ticks through a pacer, as `vigil demo` does.
    let pacer = Pacer::new(config.start, 60.0).unwrap_or_else(|e| panic!("{e}"));
    let mut g = generator(config);
    let mut paced = Vec::new();
    let mut tick = Duration::ZERO;
    let mut ticks = 0;
    while g.peek_time().is_some() {
        tick += Duration::from_millis(50);
        let due = pacer.event_time_at(tick);
        let before = paced.len();
        g.fill_until(due, usize::MAX, &mut paced);
        assert!(paced[before..].iter().all(|e| e.event_time <= due));
        assert!(g.peek_time().is_none_or(|next| next > due));
        ticks += 1;
    }
    // 900 event seconds at 60x is 15 wall seconds: 300 ticks of 50 ms.
    assert!((300..=301).contains(&ticks), "{ticks} ticks");
    assert!(ndjson(paced.into_iter()) == whole);
}

#[test]
fn events_are_ordered_numbered_and_labelled() {
    let config = DemoConfig {
        sensor_id: "edge-7".into(),
        mean_events_per_sec: 10.0,
        duration_secs: Some(3.0 * 3600.0),
        ..DemoConfig::default()
    };
    let start = config.start;
    let end = start + TimeDelta::hours(3);
    let mut count = 0u64;
    let mut previous = start;
    let mut classes: HashMap<String, u64> = HashMap::new();
    for event in generator(config) {
        assert_eq!(event.origin.offset, count);
        assert_eq!(&*event.origin.source, "demo");
        assert_eq!(event.origin.round, 0);
        assert_eq!(event.sensor, Sensor::Demo);
        assert_eq!(&*event.sensor_id, "edge-7");
        assert!(event.event_time >= previous, "time went back at {count}");
        assert!(event.event_time <= end);
        previous = event.event_time;
        let label = event
            .label
            .as_ref()
            .unwrap_or_else(|| panic!("no label at {count}"));
        let expected_anomalous = !matches!(&*label.class, "normal" | "new_service");
        assert_eq!(label.anomalous, expected_anomalous, "{label:?}");
        *classes.entry(label.class.to_string()).or_default() += 1;
        count += 1;
    }
    // 10 events/s on a Monday's first (night) hours is well under 108,000.
    assert!(count > 20_000, "{count}");
    for class in ["normal", "brute_force", "port_scan", "traffic_spike"] {
        assert!(classes.contains_key(class), "no {class} in {classes:?}");
    }
    // Drift starts after 6 h by default.
    assert!(!classes.contains_key(CLASS_NEW_SERVICE));
}

#[test]
fn a_finished_stream_stays_finished() {
    let config = DemoConfig {
        duration_secs: Some(30.0),
        ..DemoConfig::default()
    };
    let end = config.start + TimeDelta::seconds(30);
    let mut g = generator(config);
    let events: Vec<Event> = g.by_ref().collect();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e.event_time <= end));
    assert!(g.next().is_none());
    assert!(g.peek_time().is_none());
    let mut more = Vec::new();
    assert_eq!(g.fill(10, &mut more), 0);
    assert_eq!(g.fill_until(end + TimeDelta::days(1), 10, &mut more), 0);
}

#[test]
fn attack_kinds_and_drift_can_be_chosen() {
    let classes = |config: DemoConfig| -> HashMap<String, u64> {
        let mut classes = HashMap::new();
        for e in generator(config) {
            let class = e.label.map(|l| l.class.to_string()).unwrap_or_default();
            *classes.entry(class).or_default() += 1;
        }
        classes
    };
    let base = DemoConfig {
        duration_secs: Some(7200.0),
        mean_events_per_sec: 2.0,
        drift_after_secs: 600.0,
        attack_mean_gap_secs: 300.0,
        ..DemoConfig::default()
    };
    let only_scans = classes(DemoConfig {
        attack_kinds: vec![AttackKind::PortScan],
        ..base.clone()
    });
    assert!(only_scans.contains_key("port_scan"));
    assert!(!only_scans.contains_key("brute_force") && !only_scans.contains_key("traffic_spike"));
    assert!(only_scans.contains_key("new_service"));

    let quiet = classes(DemoConfig {
        attack_kinds: Vec::new(),
        drift_share: 0.0,
        ..base
    });
    assert_eq!(quiet.keys().collect::<Vec<_>>(), vec!["normal"]);
}

#[test]
fn events_have_the_shape_of_their_kind() {
    let config = DemoConfig {
        duration_secs: Some(1800.0),
        start: DemoConfig::default().start + TimeDelta::hours(10),
        ..DemoConfig::default()
    };
    let events: Vec<Event> = generator(config).collect();
    let mut sessions: HashMap<&str, Vec<&Event>> = HashMap::new();
    let mut web_responses = Vec::new();
    let mut kinds: HashMap<EventKind, u64> = HashMap::new();
    for e in &events {
        *kinds.entry(e.kind).or_default() += 1;
        assert!(e.src_ip.is_some() && e.dst_ip.is_some() && e.src_port.is_some());
        assert!(e.dst_port.is_some() && e.transport.is_some() && e.direction.is_some());
        assert!(e.raw_kind.is_some());
        let proto = e.app_proto.as_deref();
        match e.kind {
            EventKind::HttpRequest => {
                assert_eq!(proto, Some("http"));
                assert!(matches!(e.dst_port, Some(80 | 443)), "{e:?}");
                let line = e.command.as_deref().unwrap_or_default();
                let (method, path) = line.split_once(' ').unwrap_or_default();
                assert!(matches!(method, "GET" | "POST" | "HEAD"), "{line}");
                assert!(path.starts_with('/'), "{line}");
                assert!(e.bytes_out.is_some() && e.bytes_in.is_some());
                assert!(e.packets_out.is_some() && e.packets_in.is_some());
                if e.direction == Some(Direction::Outbound) {
                    web_responses.push(e.bytes_in.unwrap_or_default());
                }
            }
            EventKind::Dns => {
                assert_eq!(proto, Some("dns"));
                assert_eq!(e.transport, Some(Transport::Udp));
                assert_eq!(e.dst_port, Some(53));
                assert!(e.command.as_deref().is_some_and(|name| name.contains('.')));
            }
            EventKind::Flow => {
                for value in [e.bytes_out, e.bytes_in, e.packets_out, e.packets_in] {
                    assert!(value.is_some_and(|v| v > 0), "{e:?}");
                }
                assert!(e.duration_secs.is_some_and(|d| d >= 0.0));
                if e.transport == Some(Transport::Tcp) {
                    assert!(e.tcp_flags.is_some_and(|f| f & TCP_SYN != 0) || proto == Some("mqtt"));
                }
            }
            _ => {
                assert!(matches!(proto, Some("ssh" | "telnet")), "{e:?}");
                let session = e
                    .session
                    .as_deref()
                    .unwrap_or_else(|| panic!("no session: {e:?}"));
                sessions.entry(session).or_default().push(e);
            }
        }
    }
    for kind in [
        EventKind::Connect,
        EventKind::ClientInfo,
        EventKind::LoginFailed,
        EventKind::LoginSuccess,
        EventKind::Command,
        EventKind::Disconnect,
        EventKind::HttpRequest,
        EventKind::Dns,
        EventKind::Flow,
    ] {
        assert!(
            kinds.get(&kind).is_some_and(|&n| n > 0),
            "no {kind:?} in {kinds:?}"
        );
    }

    let mut complete = 0;
    for (id, session) in &sessions {
        assert_eq!(id.len(), 12);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let first = session[0];
        let last = session[session.len() - 1];
        assert_eq!(
            first.kind,
            EventKind::Connect,
            "session {id} opens with {:?}",
            first.kind
        );
        assert!(
            session
                .iter()
                .all(|e| e.src_ip == first.src_ip && e.dst_port == first.dst_port)
        );
        if first.app_proto.as_deref() == Some("ssh") {
            assert_eq!(first.dst_port, Some(22));
        } else {
            assert_eq!(first.dst_port, Some(23));
        }
        for e in session {
            match e.kind {
                EventKind::LoginFailed | EventKind::LoginSuccess => assert!(e.username.is_some()),
                EventKind::Command | EventKind::ClientInfo => assert!(e.command.is_some()),
                _ => {}
            }
            if e.raw_kind
                .as_deref()
                .is_some_and(|r| r.starts_with("cowrie.login"))
            {
                assert!(e.password.is_some(), "{e:?}");
            }
        }
        if last.kind == EventKind::Disconnect {
            complete += 1;
            let span = last.event_time.signed_duration_since(first.event_time);
            let span = span.num_microseconds().unwrap_or_default() as f64 / 1e6;
            let reported = last.duration_secs.unwrap_or(-1.0);
            assert!((reported - span).abs() < 1e-3, "{reported} vs {span}");
        }
    }
    assert!(complete > 100, "{complete} complete sessions");

    // Log-normal response sizes: a long right tail.
    web_responses.sort_unstable();
    let median = web_responses[web_responses.len() / 2] as f64;
    let p99 = web_responses[web_responses.len() * 99 / 100] as f64;
    let mean = web_responses.iter().sum::<u64>() as f64 / web_responses.len() as f64;
    assert!(
        mean > 1.3 * median && p99 > 8.0 * median,
        "median {median} mean {mean} p99 {p99}"
    );
}

#[test]
fn port_scan_probes_are_refused_short_flows() {
    let config = DemoConfig {
        duration_secs: Some(4.0 * 3600.0),
        mean_events_per_sec: 1.0,
        attack_kinds: vec![AttackKind::PortScan],
        ..DemoConfig::default()
    };
    let mut scans = 0;
    for e in generator(config).filter(|e| e.label.as_ref().is_some_and(|l| l.anomalous)) {
        scans += 1;
        assert_eq!(e.kind, EventKind::Flow);
        assert_eq!(e.transport, Some(Transport::Tcp));
        let flags = e.tcp_flags.unwrap_or_default();
        assert!(flags & TCP_SYN != 0 && flags & TCP_RST != 0, "{flags:#x}");
        assert!(e.packets_out.is_some_and(|p| p <= 2));
        assert!(e.duration_secs.is_some_and(|d| d < 0.1));
    }
    assert!(scans >= 150, "{scans}");
}

#[test]
fn generator_reports_its_config() {
    let config = DemoConfig {
        seed: 99,
        ..DemoConfig::default()
    };
    let g: DemoGenerator = generator(config.clone());
    assert_eq!(g.config(), &config);
    assert_eq!(g.events_emitted(), 0);
}
