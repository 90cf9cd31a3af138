//! Slack-compatible webhook bodies: a `text` Slack shows, attachment fields, a `vigil` object
//! for machines, and no way for event text to ping a channel or forge a link.

mod common;

use chrono::TimeZone;
use serde_json::Value;
use vigil_alert::{
    Alert, DriftNotice, EncodeOptions, Severity, encode_webhook_alert, encode_webhook_drift,
};

fn body(alert: &Alert) -> Value {
    let mut out = Vec::new();
    encode_webhook_alert(alert, &EncodeOptions::default(), &mut out).expect("encodes");
    assert!(!out.ends_with(b"\n"), "a body, not a line");
    serde_json::from_slice(&out).expect("valid JSON")
}

fn field<'a>(body: &'a Value, title: &str) -> Option<&'a str> {
    body["attachments"][0]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["title"] == title)
        .map(|f| f["value"].as_str().expect("field values are strings"))
}

/// What Slack would treat as markup in text Vigil did not write: `<` and `>` must not survive
/// unescaped, and `&` only as the start of an entity Vigil wrote.
fn assert_inert(text: &str) {
    assert!(!text.contains(['<', '>']), "{text:?}");
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        rest = &rest[at..];
        assert!(
            ["&amp;", "&lt;", "&gt;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "{text:?}"
        );
        rest = &rest[1..];
    }
}

#[test]
fn alert_bodies_carry_text_fields_and_the_alert() {
    for alert in common::random_alerts(0x000e_b400, 1500) {
        let body = body(&alert);
        let text = body["text"].as_str().expect("text is a string");
        assert!(
            text.starts_with(&format!("{} alert from ", alert.severity.as_upper_str())),
            "{text}"
        );
        assert_inert(text);
        assert_eq!(body["attachments"][0]["fallback"], text);
        let colour = body["attachments"][0]["color"].as_str().expect("colour");
        assert!(colour.starts_with('#') && colour.len() == 7, "{colour}");
        for f in body["attachments"][0]["fields"].as_array().expect("fields") {
            assert_inert(f["value"].as_str().expect("string"));
            assert!(f["short"].is_boolean());
        }
        assert_eq!(
            field(&body, "Severity"),
            Some(alert.severity.as_upper_str())
        );
        assert_eq!(field(&body, "Alert id"), Some(alert.id.as_str()));
        assert_eq!(
            field(&body, "Count"),
            Some(alert.count.to_string().as_str())
        );
        assert_eq!(field(&body, "User").is_some(), alert.username.is_some());
        assert_eq!(field(&body, "Password"), None);
        assert_eq!(body["vigil"]["kind"], "alert");
        // The machine part holds the raw values, not Slack's escaped ones.
        assert_eq!(body["vigil"]["alert"]["id"], alert.id.as_str());
        assert_eq!(
            body["vigil"]["alert"]["explanation"],
            alert.explanation.as_str()
        );
        assert_eq!(body["vigil"]["alert"]["detector"], alert.detector.as_str());
    }
}

#[test]
fn red_and_orange_look_different() {
    let mut alerts = common::random_alerts(9, 50);
    let mut red = alerts.remove(0);
    red.severity = Severity::Red;
    let mut orange = red.clone();
    orange.severity = Severity::Orange;
    assert_ne!(
        body(&red)["attachments"][0]["color"],
        body(&orange)["attachments"][0]["color"]
    );
}

#[test]
fn drift_bodies_name_the_change() {
    let notice = DriftNotice {
        time: chrono::Utc
            .with_ymd_and_hms(2026, 3, 1, 10, 0, 7)
            .single()
            .expect("valid"),
        model: "hst".into(),
        reason: "ADWIN on hst's error stream: mean 0.08 -> 0.31 <!here> & more".into(),
        champion_before: "hst".into(),
        champion_after: "online_ocsvm".into(),
    };
    let mut out = Vec::new();
    encode_webhook_drift(&notice, &mut out).expect("encodes");
    let body: Value = serde_json::from_slice(&out).expect("JSON");
    let text = body["text"].as_str().expect("text");
    assert!(text.contains("hst → online_ocsvm"), "{text}");
    assert!(text.contains("&lt;!here&gt; &amp; more"), "{text}");
    assert_inert(text);
    assert_eq!(field(&body, "Champion before"), Some("hst"));
    assert_eq!(field(&body, "Champion after"), Some("online_ocsvm"));
    assert_eq!(field(&body, "Time"), Some("2026-03-01T10:00:07.000000Z"));
    assert_eq!(body["vigil"]["kind"], "drift");
    assert_eq!(body["vigil"]["drift"]["reason"], notice.reason.as_str());
    assert_eq!(
        body["vigil"]["drift"]["time"],
        "2026-03-01T10:00:07.000000Z"
    );

    let stayed = DriftNotice {
        champion_after: "hst".into(),
        ..notice
    };
    out.clear();
    encode_webhook_drift(&stayed, &mut out).expect("encodes");
    let body: Value = serde_json::from_slice(&out).expect("JSON");
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.contains("champion stays hst")),
        "{body}"
    );
}
