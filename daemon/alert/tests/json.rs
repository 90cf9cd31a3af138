//! Vigil's flat JSON: the field names the end-to-end tests and existing consumers read, and a
//! round trip to the same alert when nothing is redacted.

mod common;

use serde_json::Value;
use vigil_alert::{Alert, EncodeOptions, encode_json};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-14 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn unredacted_lines_read_back_as_the_same_alert() {
    let options = EncodeOptions {
        redact_credentials: false,
        ..EncodeOptions::default()
    };
    for alert in common::random_alerts(0x150_0000, 3000) {
        let mut out = Vec::new();
        encode_json(&alert, &options, &mut out).expect("encodes");
        let mut back: Alert = serde_json::from_slice(&out).expect("reads back");
        // serde_json's reader may land one unit in the last place off (its exact mode is a
        // feature Vigil does not enable); the writer is exact. Compare floats with that slack,
        // everything else exactly.
        assert!(close(back.score, alert.score));
        back.score = alert.score;
        assert_eq!(back.top_features.len(), alert.top_features.len());
        for (read, written) in back.top_features.iter_mut().zip(&alert.top_features) {
            assert!(close(read.value, written.value) && close(read.deviation, written.deviation));
            read.value = written.value;
            read.deviation = written.deviation;
        }
        assert_eq!(back, alert);
        // The store form (serde) and the line hold the same fields.
        let stored: Value = serde_json::to_value(&alert).expect("serialises");
        let line: Value = serde_json::from_slice(&out).expect("JSON");
        let keys = |v: &Value| {
            v.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(keys(&line), keys(&stored));
    }
}

#[test]
fn the_established_field_names_stay() {
    for alert in common::random_alerts(5, 200) {
        let mut out = Vec::new();
        encode_json(&alert, &EncodeOptions::default(), &mut out).expect("encodes");
        let doc: Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(doc["id"], alert.id.as_str());
        assert_eq!(doc["detector"], alert.detector.as_str());
        assert_eq!(doc["severity"], alert.severity.as_str());
        assert_eq!(doc["explanation"], alert.explanation.as_str());
        assert!(doc["score"].as_f64().is_some_and(|s| close(s, alert.score)));
        assert_eq!(doc["count"].as_u64(), Some(alert.count));
        assert_eq!(doc["state"], alert.state.as_str());
        assert_eq!(doc["sensor"], alert.sensor.as_str());
        assert_eq!(doc["kind"], alert.kind.as_str());
        let time = doc["event_time"].as_str().expect("event_time is a string");
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(time).expect("RFC 3339"),
            alert.event_time
        );
        match alert.src_ip {
            Some(ip) => assert_eq!(doc["src_ip"], ip.to_string()),
            None => assert!(doc.get("src_ip").is_none()),
        }
        match alert.src_port {
            Some(port) => assert_eq!(doc["src_port"].as_u64(), Some(u64::from(port))),
            None => assert!(doc.get("src_port").is_none()),
        }
        assert!(doc.get("password").is_none());
    }
}
