//! Passwords seen by honeypots stay in the alert (and so in the store) and are left out of
//! every outbound encoding unless redaction is turned off.

mod common;

use vigil_alert::{
    Alert, EncodeOptions, encode_cef, encode_ecs, encode_json, encode_webhook_alert,
};

type Encoder = fn(&Alert, &EncodeOptions, &mut Vec<u8>) -> Result<(), vigil_alert::AlertError>;

const ENCODERS: [(&str, Encoder); 4] = [
    ("json", encode_json),
    ("ecs", encode_ecs),
    ("cef", encode_cef),
    ("webhook", encode_webhook_alert),
];

/// Generated alerts that carry a password (each starts with a `PW<number>` marker).
fn alerts_with_passwords() -> Vec<Alert> {
    let alerts: Vec<Alert> = common::random_alerts(0x5ec7e7, 600)
        .into_iter()
        .filter(|a| a.password.is_some())
        .collect();
    assert!(alerts.len() > 200, "{} alerts with passwords", alerts.len());
    alerts
}

/// The password's marker: unique to it, so finding it anywhere in the output is a leak.
fn marker(alert: &Alert) -> String {
    let password = alert.password.as_ref().map(|p| p.expose()).unwrap_or("");
    password
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

#[test]
fn redaction_is_on_by_default() {
    assert!(EncodeOptions::default().redact_credentials);
    for alert in alerts_with_passwords() {
        let marker = marker(&alert);
        assert!(marker.len() > 2);
        for (name, encode) in ENCODERS {
            let mut out = Vec::new();
            encode(&alert, &EncodeOptions::default(), &mut out).expect("encodes");
            let text = String::from_utf8(out).expect("UTF-8");
            assert!(!text.contains(&marker), "{name} leaks the password: {text}");
            assert!(
                !text.contains("password"),
                "{name} names a password: {text}"
            );
        }
    }
}

#[test]
fn turning_redaction_off_writes_the_password() {
    let options = EncodeOptions {
        redact_credentials: false,
        ..EncodeOptions::default()
    };
    for alert in alerts_with_passwords() {
        let marker = marker(&alert);
        for (name, encode) in ENCODERS {
            let mut out = Vec::new();
            encode(&alert, &options, &mut out).expect("encodes");
            let text = String::from_utf8(out).expect("UTF-8");
            assert!(text.contains(&marker), "{name} lacks the password: {text}");
        }
    }
}

#[test]
fn the_store_form_keeps_the_password_and_debug_hides_it() {
    for alert in alerts_with_passwords().into_iter().take(20) {
        let marker = marker(&alert);
        let stored = serde_json::to_string(&alert).expect("serialises");
        assert!(stored.contains(&marker), "the store keeps it");
        let back: Alert = serde_json::from_str(&stored).expect("reads back");
        assert_eq!(back.password, alert.password);
        let debug = format!("{alert:?}");
        assert!(!debug.contains(&marker), "Debug leaks it: {debug}");
    }
}

#[test]
fn real_honeypot_passwords_stay_out() {
    let Some(alerts) = common::shared_alerts() else {
        return;
    };
    let with_password: Vec<&Alert> = alerts.iter().filter(|a| a.password.is_some()).collect();
    assert!(
        with_password.len() > 500,
        "{} passwords",
        with_password.len()
    );
    let revealing = EncodeOptions {
        redact_credentials: false,
        ..EncodeOptions::default()
    };
    let (mut redacted, mut without, mut revealed) = (Vec::new(), Vec::new(), Vec::new());
    for alert in with_password {
        // Redacting must give exactly the bytes of the same alert had there been no password.
        let mut stripped = alert.clone();
        stripped.password = None;
        for (name, encode) in ENCODERS {
            redacted.clear();
            without.clear();
            revealed.clear();
            encode(alert, &EncodeOptions::default(), &mut redacted).expect("encodes");
            encode(&stripped, &EncodeOptions::default(), &mut without).expect("encodes");
            encode(alert, &revealing, &mut revealed).expect("encodes");
            assert_eq!(
                String::from_utf8_lossy(&redacted),
                String::from_utf8_lossy(&without),
                "{name}"
            );
            assert_ne!(redacted, revealed, "{name} writes the password when asked");
        }
    }
}
