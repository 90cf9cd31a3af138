//! The examples in docs/outputs.md are what the encoders write for the alert they describe.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use vigil_alert::{Alert, EncodeOptions, Severity, encode_cef, encode_json};
use vigil_sensors::{Event, EventKind, Origin, Sensor, Transport};

fn documented_alert() -> Alert {
    let at = |m, s| {
        Utc.with_ymd_and_hms(2026, 3, 1, 10, m, s)
            .single()
            .expect("valid")
    };
    let origin = Origin {
        source: Arc::from("/var/log/cowrie/cowrie.json"),
        offset: 4096,
        round: 0,
    };
    let mut event = Event::new(
        at(0, 7),
        Sensor::Cowrie,
        Arc::from("hp-1"),
        EventKind::LoginFailed,
        origin,
    );
    event.src_ip = Some("203.0.113.7".parse().expect("valid"));
    event.src_port = Some(50122);
    event.dst_ip = Some("172.17.0.2".parse().expect("valid"));
    event.dst_port = Some(22);
    event.transport = Some(Transport::Tcp);
    event.app_proto = Some(Arc::from("ssh"));
    event.username = Some("root".into());
    event.password = Some("123456".into());
    let mut alert = Alert::new(
        &event,
        "brute_force",
        0.995,
        Severity::Red,
        "52 failed logins in 30 s from 203.0.113.7, escalated".into(),
    )
    .expect("valid");
    for _ in 0..12 {
        alert
            .record_repeat(at(1, 0), 0.99, Severity::Red)
            .expect("valid");
    }
    alert
        .record_repeat(at(2, 41), 0.99, Severity::Red)
        .expect("valid");
    alert
}

fn docs() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/outputs.md");
    std::fs::read_to_string(path).expect("docs/outputs.md exists")
}

#[test]
fn the_documented_lines_are_the_encoded_ones() {
    let alert = documented_alert();
    let docs = docs();
    let options = EncodeOptions {
        product_version: "0.1.0".into(),
        ..EncodeOptions::default()
    };
    for (name, encode) in [
        ("json", encode_json as fn(&_, &_, &mut _) -> _),
        ("cef", encode_cef),
    ] {
        let mut out = Vec::new();
        encode(&alert, &options, &mut out).expect("encodes");
        let line = String::from_utf8(out).expect("UTF-8");
        assert!(
            docs.contains(&line),
            "docs/outputs.md lacks the {name} line:\n{line}"
        );
    }
}
