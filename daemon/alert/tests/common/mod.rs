//! Alerts for the tests: seeded random ones with adversarial text, and real ones built from
//! the shared Cowrie and Dionaea logs.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vigil_alert::{Alert, AlertState, FeatureContribution, Severity, Verdict};
use vigil_sensors::{
    Event, EventKind, Format, Label, Origin, ParseOptions, Record, Sensor, Transport, parser_for,
};

/// Pieces that break naive encoders: CEF and JSON specials, line breaks, Slack controls,
/// look-alike key/value pairs, non-ASCII text.
pub const NASTY: &[&str] = &[
    "|",
    "\\",
    "=",
    "\n",
    "\r",
    "\r\n",
    " ",
    "  ",
    "\t",
    "\"",
    "'",
    "a=b",
    " msg=evil",
    " cs1=forged cs1Label=detector",
    "\\=",
    "\\|",
    "\\n",
    "|CEF:0|x|y|",
    "<!channel>",
    "<https://evil.example|click>",
    "&amp;",
    "é",
    "日本語",
    "🦀",
    "\u{0}",
    "\u{1b}[31m",
    "\u{2028}",
    "\u{feff}",
    "root",
    "admin",
    "123456",
    "",
];

/// A random string of 0..6 pieces from [`NASTY`] and plain words.
pub fn nasty_text(rng: &mut ChaCha8Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.random_range(0..6) {
        if rng.random_bool(0.6) {
            s.push_str(NASTY[rng.random_range(0..NASTY.len())]);
        } else {
            s.push_str(["failed", "logins", "from", "52", "30 s", "x"][rng.random_range(0..6)]);
        }
    }
    s
}

fn random_ip(rng: &mut ChaCha8Rng) -> IpAddr {
    if rng.random_bool(0.7) {
        IpAddr::V4(Ipv4Addr::from(rng.random::<u32>()))
    } else {
        IpAddr::V6(Ipv6Addr::from(rng.random::<u128>()))
    }
}

/// A random time between 1990 and 2060, with microsecond precision (what sensors give).
pub fn random_time(rng: &mut ChaCha8Rng) -> DateTime<Utc> {
    let micros = rng.random_range(631_152_000_000_000_i64..2_871_763_200_000_000);
    DateTime::from_timestamp_micros(micros).expect("in range")
}

/// A seeded random alert: every optional field present or not, adversarial text wherever the
/// event or a detector could put text.
pub fn random_alert(rng: &mut ChaCha8Rng) -> Alert {
    let sensor = Sensor::ALL[rng.random_range(0..Sensor::ALL.len())];
    let kinds = [
        EventKind::Connect,
        EventKind::LoginFailed,
        EventKind::LoginSuccess,
        EventKind::Command,
        EventKind::Flow,
        EventKind::IdsAlert,
        EventKind::Other,
    ];
    let kind = kinds[rng.random_range(0..kinds.len())];
    let origin = Origin {
        source: Arc::from(format!("/var/log/{}.json", nasty_text(rng))),
        offset: rng.random(),
        round: if rng.random_bool(0.8) {
            0
        } else {
            rng.random()
        },
    };
    let time = random_time(rng);
    let mut event = Event::new(
        time,
        sensor,
        Arc::from(format!("hp-{}", nasty_text(rng))),
        kind,
        origin,
    );
    if rng.random_bool(0.9) {
        event.src_ip = Some(random_ip(rng));
    }
    if rng.random_bool(0.7) {
        event.src_port = Some(rng.random());
    }
    if rng.random_bool(0.7) {
        event.dst_ip = Some(random_ip(rng));
    }
    if rng.random_bool(0.7) {
        event.dst_port = Some(rng.random());
    }
    if rng.random_bool(0.8) {
        let transports = [
            Transport::Tcp,
            Transport::Udp,
            Transport::Icmp,
            Transport::Other,
        ];
        event.transport = Some(transports[rng.random_range(0..transports.len())]);
    }
    if rng.random_bool(0.6) {
        event.app_proto = Some(Arc::from(nasty_text(rng)));
    }
    if rng.random_bool(0.6) {
        event.username = Some(nasty_text(rng).into());
    }
    if rng.random_bool(0.6) {
        // A marker no other field can contain, so tests can look for it.
        event.password = Some(format!("PW{}{}", rng.random::<u32>(), nasty_text(rng)).into());
    }
    if rng.random_bool(0.3) {
        event.label = Some(Label {
            class: Arc::from(nasty_text(rng)),
            anomalous: rng.random(),
        });
    }
    let score = match rng.random_range(0..4) {
        0 => 1.0,
        1 => 0.0,
        _ => rng.random::<f64>(),
    };
    let severity = Severity::ALL[rng.random_range(0..3)];
    let detector = match rng.random_range(0..4) {
        0 => "brute_force".to_string(),
        1 => "hst".to_string(),
        2 => "plugin:odd|name\\x=y".to_string(),
        _ => format!("det{}", nasty_text(rng)),
    };
    let mut alert =
        Alert::new(&event, &detector, score, severity, nasty_text(rng)).expect("valid score");
    if rng.random_bool(0.5) {
        alert = alert.with_champion(nasty_text(rng));
    }
    if rng.random_bool(0.5) {
        let features = (0..rng.random_range(1..4))
            .map(|_| {
                FeatureContribution::new(
                    nasty_text(rng),
                    rng.random_range(-1e6..1e6),
                    rng.random_range(-20.0..20.0),
                )
                .expect("finite")
            })
            .collect();
        alert = alert.with_top_features(features).expect("finite");
    }
    for _ in 0..rng.random_range(0..3) {
        let repeat = time + TimeDelta::microseconds(rng.random_range(-5_000_000..60_000_000));
        alert
            .record_repeat(repeat, rng.random::<f64>(), Severity::Green)
            .expect("valid score");
    }
    alert.state = AlertState::ALL[rng.random_range(0..3)];
    if rng.random_bool(0.3) {
        alert.feedback = Some(Verdict::ALL[rng.random_range(0..2)]);
    }
    if rng.random_bool(0.5) {
        alert = alert.with_seq(rng.random());
    }
    alert
}

/// `n` seeded random alerts.
pub fn random_alerts(seed: u64, n: usize) -> Vec<Alert> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| random_alert(&mut rng)).collect()
}

/// Every event of a shared log file, or `None` when the data is missing.
pub fn shared_events(rel: &str, format: Format) -> Option<Vec<Event>> {
    let path = vigil_tests::shared_file(rel)?;
    let bytes = std::fs::read(&path).expect("readable shared file");
    let mut parser = parser_for(format, ParseOptions::new("hp-shared"));
    parser.begin_input(Arc::from(rel));
    let mut records = Vec::new();
    let mut offset = 0u64;
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        if i == last && line.is_empty() {
            break;
        }
        parser.feed(line, offset, i < last, &mut records);
        offset += line.len() as u64 + 1;
    }
    parser.finish_input(&mut records);
    Some(
        records
            .into_iter()
            .filter_map(|r| match r {
                Record::Event(e) => Some(*e),
                _ => None,
            })
            .collect(),
    )
}

/// One alert per real event, severity and score varied by position.
pub fn alerts_from(events: &[Event]) -> Vec<Alert> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let score = 0.95 + (i % 50) as f64 / 1000.0;
            let severity = if score >= 0.99 {
                Severity::Red
            } else {
                Severity::Orange
            };
            let explanation = format!(
                "{} from {}: user {:?}",
                event.kind.as_str(),
                event.src_ip.map_or("?".to_string(), |ip| ip.to_string()),
                event.username.as_deref().unwrap_or("")
            );
            Alert::new(event, "brute_force", score, severity, explanation).expect("valid score")
        })
        .collect()
}

/// Events of the shared Cowrie and Dionaea logs that carry credentials or users, the
/// real-world source of odd text in alerts. `None` when the data is missing.
pub fn shared_alerts() -> Option<Vec<Alert>> {
    let mut alerts = Vec::new();
    for (rel, format) in [
        ("data/cowrie/seed-tpot-cowrie.json", Format::Cowrie),
        (
            "data/cowrie/tpet-2022/cowrie.json.2022-06-01",
            Format::Cowrie,
        ),
        ("data/dionaea/seed-tpot-dionaea.json", Format::Dionaea),
    ] {
        let events = shared_events(rel, format)?;
        alerts.extend(alerts_from(&events));
    }
    Some(alerts)
}
