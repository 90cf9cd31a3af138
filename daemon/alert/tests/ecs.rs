//! ECS NDJSON: every line is one JSON object with the ECS fields of docs/outputs.md, of the
//! right JSON types, holding the alert's values. Checked with plain serde_json, field by field.

mod common;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use vigil_alert::{Alert, EncodeOptions, Severity, encode_ecs};
use vigil_sensors::Transport;

/// The ECS severity Vigil promises for each level (docs/outputs.md).
fn expected_ecs_severity(severity: Severity) -> u64 {
    match severity {
        Severity::Red => 99,
        Severity::Orange => 73,
        Severity::Green => 21,
    }
}

/// serde_json's reader may land one unit in the last place off the exact value (its exact
/// mode is a feature Vigil does not enable); the writer is exact.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-14 * a.abs().max(b.abs()).max(1.0)
}

fn f64_at(doc: &Value, path: &str) -> f64 {
    doc.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{path} is not a number"))
}

fn str_at<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    doc.pointer(path).map(|v| {
        v.as_str()
            .unwrap_or_else(|| panic!("{path} is not a string: {v}"))
    })
}

fn u64_at(doc: &Value, path: &str) -> Option<u64> {
    doc.pointer(path).map(|v| {
        v.as_u64()
            .unwrap_or_else(|| panic!("{path} is not an unsigned integer: {v}"))
    })
}

fn time_at(doc: &Value, path: &str) -> DateTime<Utc> {
    let text = str_at(doc, path).unwrap_or_else(|| panic!("{path} missing"));
    assert!(text.ends_with('Z'), "{path} is UTC: {text}");
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{path} {text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// The time as written: microseconds, UTC.
fn micros(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn check(alert: &Alert, options: &EncodeOptions) {
    let mut out = Vec::new();
    encode_ecs(alert, options, &mut out).expect("encodes");
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(
        out.iter().filter(|b| **b == b'\n').count(),
        1,
        "one line per alert"
    );
    let doc: Value = serde_json::from_slice(&out).expect("valid JSON");
    assert!(doc.is_object());

    assert_eq!(
        micros(time_at(&doc, "/@timestamp")),
        micros(alert.event_time)
    );
    assert_eq!(
        micros(time_at(&doc, "/event/start")),
        micros(alert.first_seen)
    );
    assert_eq!(micros(time_at(&doc, "/event/end")), micros(alert.last_seen));
    assert_eq!(str_at(&doc, "/event/kind"), Some("alert"));
    assert_eq!(
        doc.pointer("/event/category"),
        Some(&serde_json::json!(["intrusion_detection"]))
    );
    assert_eq!(
        u64_at(&doc, "/event/severity"),
        Some(expected_ecs_severity(alert.severity))
    );
    let risk = doc
        .pointer("/event/risk_score")
        .and_then(Value::as_f64)
        .expect("risk_score is a number");
    assert!(
        (risk - alert.score * 100.0).abs() <= 5e-4,
        "{risk} vs {}",
        alert.score
    );
    assert_eq!(str_at(&doc, "/event/id"), Some(alert.id.as_str()));
    assert_eq!(str_at(&doc, "/event/dataset"), Some("vigil.alert"));
    assert_eq!(str_at(&doc, "/event/module"), Some("vigil"));
    assert!(str_at(&doc, "/ecs/version").is_some_and(|v| v.starts_with("8.")));

    let ip_text = |ip: Option<std::net::IpAddr>| ip.map(|ip| ip.to_string());
    assert_eq!(
        str_at(&doc, "/source/ip").map(str::to_string),
        ip_text(alert.src_ip)
    );
    assert_eq!(u64_at(&doc, "/source/port"), alert.src_port.map(u64::from));
    assert_eq!(
        str_at(&doc, "/destination/ip").map(str::to_string),
        ip_text(alert.dst_ip)
    );
    assert_eq!(
        u64_at(&doc, "/destination/port"),
        alert.dst_port.map(u64::from)
    );
    if alert.src_ip.is_none() && alert.src_port.is_none() {
        assert!(doc.get("source").is_none(), "no empty source object");
    }
    let transport = match alert.transport {
        Some(Transport::Tcp) => Some("tcp"),
        Some(Transport::Udp) => Some("udp"),
        Some(Transport::Icmp) => Some("icmp"),
        _ => None,
    };
    assert_eq!(str_at(&doc, "/network/transport"), transport);
    assert_eq!(
        str_at(&doc, "/network/protocol"),
        alert.app_proto.as_deref()
    );
    assert_eq!(str_at(&doc, "/rule/name"), Some(alert.detector.as_str()));
    assert_eq!(str_at(&doc, "/message"), Some(alert.explanation.as_str()));
    assert_eq!(str_at(&doc, "/observer/name"), Some(&*alert.sensor_id));
    assert_eq!(
        str_at(&doc, "/observer/product"),
        Some(alert.sensor.as_str())
    );
    assert_eq!(str_at(&doc, "/user/name"), alert.username.as_deref());

    let vigil = doc.get("vigil").expect("vigil object");
    assert!(vigil.is_object());
    assert_eq!(str_at(vigil, "/detector"), Some(alert.detector.as_str()));
    assert!(close(f64_at(vigil, "/score"), alert.score), "vigil.score");
    assert_eq!(str_at(vigil, "/champion"), alert.champion.as_deref());
    assert_eq!(
        str_at(vigil, "/explanation"),
        Some(alert.explanation.as_str())
    );
    assert_eq!(u64_at(vigil, "/count"), Some(alert.count));
    assert_eq!(str_at(vigil, "/severity"), Some(alert.severity.as_str()));
    assert_eq!(str_at(vigil, "/state"), Some(alert.state.as_str()));
    assert_eq!(str_at(vigil, "/sensor"), Some(alert.sensor.as_str()));
    assert_eq!(str_at(vigil, "/event_kind"), Some(alert.kind.as_str()));
    assert_eq!(str_at(vigil, "/origin/source"), Some(&*alert.origin.source));
    assert_eq!(u64_at(vigil, "/origin/offset"), Some(alert.origin.offset));
    assert_eq!(
        u64_at(vigil, "/origin/round"),
        Some(u64::from(alert.origin.round))
    );
    let features = vigil
        .get("top_features")
        .and_then(Value::as_array)
        .expect("top_features is an array");
    assert_eq!(features.len(), alert.top_features.len());
    for (json, feature) in features.iter().zip(&alert.top_features) {
        assert_eq!(str_at(json, "/name"), Some(feature.name.as_str()));
        assert!(close(f64_at(json, "/value"), feature.value));
        assert!(close(f64_at(json, "/deviation"), feature.deviation));
    }
    match &alert.label {
        Some(label) => {
            assert_eq!(str_at(vigil, "/label/class"), Some(&*label.class));
            assert_eq!(
                vigil.pointer("/label/anomalous").and_then(Value::as_bool),
                Some(label.anomalous)
            );
        }
        None => assert!(vigil.get("label").is_none()),
    }
    let password = alert.password.as_ref().map(|p| p.expose());
    if options.redact_credentials {
        assert!(vigil.get("password").is_none());
    } else {
        assert_eq!(str_at(vigil, "/password"), password);
    }
}

#[test]
fn generated_alerts_have_ecs_fields_of_the_right_types() {
    let redacting = EncodeOptions::default();
    let revealing = EncodeOptions {
        redact_credentials: false,
        ..EncodeOptions::default()
    };
    for alert in common::random_alerts(0x0000_ec50, 4000) {
        check(&alert, &redacting);
        check(&alert, &revealing);
    }
}

#[test]
fn real_honeypot_alerts_have_ecs_fields() {
    let Some(alerts) = common::shared_alerts() else {
        return;
    };
    let options = EncodeOptions::default();
    let mut with_user = 0;
    for alert in &alerts {
        check(alert, &options);
        with_user += usize::from(alert.username.is_some());
    }
    assert!(
        with_user > 1000,
        "the logs hold login attempts: {with_user}"
    );
}

#[test]
fn lines_append_to_one_buffer() {
    let alerts = common::random_alerts(11, 50);
    let options = EncodeOptions::default();
    let mut out = Vec::new();
    for alert in &alerts {
        encode_ecs(alert, &options, &mut out).expect("encodes");
    }
    let lines: Vec<&[u8]> = out.split(|b| *b == b'\n').collect();
    assert_eq!(lines.len(), alerts.len() + 1, "50 lines and the empty rest");
    for (line, alert) in lines.iter().zip(&alerts) {
        let doc: Value = serde_json::from_slice(line).expect("each line is JSON");
        assert_eq!(doc["event"]["id"], alert.id.as_str());
    }
}

#[test]
fn an_invalid_alert_writes_nothing_and_names_the_value() {
    let mut alert = common::random_alerts(3, 1).remove(0);
    alert.score = f64::NAN;
    let mut out = b"earlier line\n".to_vec();
    let err = encode_ecs(&alert, &EncodeOptions::default(), &mut out).expect_err("NaN score");
    assert!(err.to_string().contains("NaN"), "{err}");
    assert_eq!(out, b"earlier line\n");

    let mut alert = common::random_alerts(4, 1).remove(0);
    alert.count = 0;
    let err = encode_ecs(&alert, &EncodeOptions::default(), &mut out).expect_err("count 0");
    assert!(err.to_string().contains(&alert.id), "{err}");
    assert_eq!(out, b"earlier line\n");
}
