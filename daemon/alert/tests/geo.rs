//! The source's GeoIP fields in every encoding: ECS `source.geo` / `source.as`, CEF
//! `slat`/`slong` and labelled fields, the flat JSON (store form) round trip, and the checks on
//! the location.

mod common;

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use vigil_alert::{
    Alert, AlertError, EncodeOptions, SourceGeo, encode_cef, encode_ecs, encode_json,
    encode_webhook_alert,
};

fn london() -> SourceGeo {
    SourceGeo {
        country_iso_code: Some(Arc::from("GB")),
        country_name: Some(Arc::from("United Kingdom")),
        latitude: Some(51.5142),
        longitude: Some(-0.0931),
        asn: Some(20712),
        as_org: Some(Arc::from("Andrews & Arnold Ltd")),
    }
}

fn alert_with(geo: SourceGeo) -> Alert {
    common::random_alerts(7, 1)
        .pop()
        .expect("one alert")
        .with_src_geo(geo)
        .expect("valid location")
}

fn ecs(alert: &Alert) -> Value {
    let mut line = Vec::new();
    encode_ecs(alert, &EncodeOptions::default(), &mut line).expect("encodes");
    serde_json::from_slice(&line).expect("JSON")
}

fn cef(alert: &Alert) -> String {
    let mut line = Vec::new();
    encode_cef(alert, &EncodeOptions::default(), &mut line).expect("encodes");
    String::from_utf8(line).expect("UTF-8")
}

#[test]
fn ecs_has_source_geo_and_as() {
    let doc = ecs(&alert_with(london()));
    let source = &doc["source"];
    assert_eq!(source["geo"]["country_iso_code"], "GB");
    assert_eq!(source["geo"]["country_name"], "United Kingdom");
    assert_eq!(source["geo"]["location"]["lat"], 51.5142);
    assert_eq!(source["geo"]["location"]["lon"], -0.0931);
    assert_eq!(source["as"]["number"], 20712);
    assert_eq!(source["as"]["organization"]["name"], "Andrews & Arnold Ltd");
    // Nothing of it on the destination.
    assert!(doc["destination"].get("geo").is_none());
}

#[test]
fn ecs_leaves_out_what_is_unknown() {
    let country_only = SourceGeo {
        country_iso_code: Some(Arc::from("NL")),
        ..SourceGeo::default()
    };
    let doc = ecs(&alert_with(country_only));
    assert_eq!(doc["source"]["geo"]["country_iso_code"], "NL");
    assert!(doc["source"]["geo"].get("location").is_none());
    assert!(doc["source"]["geo"].get("country_name").is_none());
    assert!(doc["source"].get("as").is_none());

    let asn_only = SourceGeo {
        asn: Some(1221),
        ..SourceGeo::default()
    };
    let doc = ecs(&alert_with(asn_only));
    assert!(doc["source"].get("geo").is_none());
    assert_eq!(doc["source"]["as"]["number"], 1221);
    assert!(doc["source"]["as"].get("organization").is_none());

    // No GeoIP at all: no geo or as key, and an empty SourceGeo is no SourceGeo.
    let plain = alert_with(SourceGeo::default());
    assert_eq!(plain.src_geo, None);
    let doc = ecs(&plain);
    if let Some(source) = doc.get("source") {
        assert!(source.get("geo").is_none() && source.get("as").is_none());
    }
}

#[test]
fn cef_has_location_and_labelled_fields_escaped() {
    let mut geo = london();
    geo.as_org = Some(Arc::from("Evil=Org\nmsg=forged"));
    let text = cef(&alert_with(geo));
    assert!(text.contains(" slat=51.5142 slong=-0.0931"), "{text}");
    assert!(text.contains(" cn1Label=sourceAsn cn1=20712"), "{text}");
    assert!(
        text.contains(" flexString1Label=sourceCountry flexString1=GB"),
        "{text}"
    );
    assert!(
        text.contains(r" flexString2Label=sourceAsOrganization flexString2=Evil\=Org\nmsg\=forged"),
        "{text}"
    );
    assert_eq!(text.matches('\n').count(), 1, "{text}");

    let plain = cef(&alert_with(SourceGeo::default()));
    for key in [
        " slat=",
        " slong=",
        " cn1=",
        " flexString1=",
        " flexString2=",
    ] {
        assert!(!plain.contains(key), "{key} in {plain}");
    }
}

fn random_geo(rng: &mut ChaCha8Rng) -> SourceGeo {
    let text = |rng: &mut ChaCha8Rng| Arc::from(common::nasty_text(rng));
    let (latitude, longitude) = if rng.random_bool(0.6) {
        (
            Some(rng.random_range(-90.0..=90.0)),
            Some(rng.random_range(-180.0..=180.0)),
        )
    } else {
        (None, None)
    };
    SourceGeo {
        country_iso_code: rng.random_bool(0.7).then(|| text(rng)),
        country_name: rng.random_bool(0.5).then(|| text(rng)),
        latitude,
        longitude,
        asn: rng.random_bool(0.5).then(|| rng.random()),
        as_org: rng.random_bool(0.5).then(|| text(rng)),
    }
}

#[test]
fn flat_json_reads_back_with_the_geo() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6e0);
    let options = EncodeOptions {
        redact_credentials: false,
        ..EncodeOptions::default()
    };
    let mut with_geo = 0;
    for alert in common::random_alerts(0x6e0, 500) {
        let alert = alert.with_src_geo(random_geo(&mut rng)).expect("valid");
        with_geo += usize::from(alert.src_geo.is_some());
        let mut line = Vec::new();
        encode_json(&alert, &options, &mut line).expect("encodes");
        let back: Alert = serde_json::from_slice(&line).expect("reads back");
        // Scores and features are compared by the json tests; here the geo (serde_json's
        // reader may land one unit in the last place off, as the json tests say).
        let mut geo = back.src_geo.clone();
        if let (Some(read), Some(written)) = (geo.as_mut(), alert.src_geo.as_ref()) {
            for (r, w) in [
                (&mut read.latitude, written.latitude),
                (&mut read.longitude, written.longitude),
            ] {
                if let (Some(r), Some(w)) = (r.as_mut(), w) {
                    assert!((*r - w).abs() <= 1e-12, "{r} vs {w}");
                    *r = w;
                }
            }
        }
        assert_eq!(geo, alert.src_geo);
        let doc: Value = serde_json::from_slice(&line).expect("JSON");
        let stored = serde_json::to_value(&alert).expect("serialises");
        let keys = |v: &Value| {
            v.get("src_geo")
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        };
        assert_eq!(keys(&doc), keys(&stored));
        // Every encoding takes it.
        encode_ecs(&alert, &options, &mut line).expect("ECS");
        encode_cef(&alert, &options, &mut line).expect("CEF");
        encode_webhook_alert(&alert, &options, &mut line).expect("webhook");
    }
    assert!(with_geo > 400, "{with_geo}");
}

#[test]
fn alerts_stored_before_geoip_read_back() {
    let alert = alert_with(SourceGeo::default());
    let mut value = serde_json::to_value(&alert).expect("serialises");
    assert!(value.get("src_geo").is_none());
    value.as_object_mut().unwrap().remove("src_geo");
    let back: Alert = serde_json::from_value(value).expect("reads back");
    assert_eq!(back.src_geo, None);
}

#[test]
fn a_bad_location_is_refused_and_named() {
    let base = common::random_alerts(9, 1).pop().expect("one alert");
    for (latitude, longitude) in [
        (Some(51.5), None),
        (None, Some(0.1)),
        (Some(f64::NAN), Some(0.0)),
        (Some(91.0), Some(0.0)),
        (Some(0.0), Some(-180.5)),
        (Some(f64::INFINITY), Some(0.0)),
    ] {
        let geo = SourceGeo {
            latitude,
            longitude,
            ..SourceGeo::default()
        };
        let error = base.clone().with_src_geo(geo.clone()).unwrap_err();
        match error {
            AlertError::Location {
                latitude: lat,
                longitude: lon,
            } => assert_eq!(
                (lat.map(f64::to_bits), lon.map(f64::to_bits)),
                (latitude.map(f64::to_bits), longitude.map(f64::to_bits))
            ),
            ref other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains("latitude"), "{error}");
        // Set directly, the encoders refuse it too.
        let mut alert = base.clone();
        alert.src_geo = Some(geo);
        let mut out = Vec::new();
        assert!(encode_ecs(&alert, &EncodeOptions::default(), &mut out).is_err());
        assert!(encode_json(&alert, &EncodeOptions::default(), &mut out).is_err());
        assert!(out.is_empty());
    }
}
