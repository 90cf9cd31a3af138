//! Elastic Common Schema NDJSON.

use std::net::IpAddr;

use serde::Serialize;
use vigil_sensors::{Label, Transport};

use super::{EncodeOptions, Rfc3339Micros, append_or_restore, json_error};
use crate::{Alert, AlertError, AlertState, FeatureContribution, SourceGeo, risk_score};

/// The ECS version whose field set the encoding follows (`ecs.version`).
pub const ECS_VERSION: &str = "8.11.0";

/// `event.dataset` of every alert (`event.module` is `vigil`).
pub const ECS_DATASET: &str = "vigil.alert";

/// Appends `alert` as one line of ECS JSON (`event.kind: "alert"`), nested objects as ECS
/// defines them, ports and scores as numbers, addresses and times as strings. The field table
/// is in `docs/outputs.md`; in short:
///
/// - `@timestamp` (the raising event's time), `event.{kind, category, type, severity,
///   risk_score, id, dataset, module, start, end}`, `ecs.version`;
/// - `source.{ip, port}`, `destination.{ip, port}`, `network.{transport, protocol}`,
///   `user.name`, each when the event has it;
/// - from GeoIP enrichment, each when known: `source.geo.{country_iso_code, country_name,
///   location: {lat, lon}}`, `source.as.{number, organization.name}`;
/// - `rule.name` (the detector), `message` (the explanation), `observer.{name, product}`
///   (sensor id and sensor kind);
/// - `vigil.{detector, score, champion, explanation, count, top_features, severity, state,
///   sensor, event_kind, origin, label}`, and `vigil.password` only with redaction off.
///
/// # Errors
/// The alert fails [`Alert::validate`], or a time has a year outside 0..=9999.
///
/// ```
/// # use std::sync::Arc;
/// # use vigil_alert::{Alert, EncodeOptions, Severity, encode_ecs};
/// # use vigil_sensors::{Event, EventKind, Origin, Sensor};
/// # let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
/// let mut event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
///                            EventKind::LoginFailed, origin);
/// event.src_ip = Some("203.0.113.7".parse().unwrap());
/// event.src_port = Some(50122);
/// let alert = Alert::new(&event, "brute_force", 0.995, Severity::Red, "52 failed logins".into())?;
/// let mut line = Vec::new();
/// encode_ecs(&alert, &EncodeOptions::default(), &mut line)?;
/// let doc: serde_json::Value = serde_json::from_slice(&line).unwrap();
/// assert_eq!(doc["event"]["kind"], "alert");
/// assert_eq!(doc["event"]["severity"], 99);
/// assert_eq!(doc["source"]["ip"], "203.0.113.7");
/// assert_eq!(doc["source"]["port"], 50122);
/// assert_eq!(doc["vigil"]["count"], 1);
/// # Ok::<(), vigil_alert::AlertError>(())
/// ```
pub fn encode_ecs(
    alert: &Alert,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), AlertError> {
    alert.validate()?;
    let timestamp = Rfc3339Micros::new(alert.event_time)?;
    let document = Document {
        timestamp,
        ecs: Ecs {
            version: ECS_VERSION,
        },
        event: EventFields {
            kind: "alert",
            category: ["intrusion_detection"],
            event_type: ["info"],
            severity: alert.severity.ecs_severity(),
            risk_score: risk_score(alert.score),
            id: &alert.id,
            dataset: ECS_DATASET,
            module: "vigil",
            start: Rfc3339Micros::new(alert.first_seen)?,
            end: Rfc3339Micros::new(alert.last_seen)?,
        },
        source: Endpoint::of(alert.src_ip, alert.src_port, alert.src_geo.as_ref()),
        destination: Endpoint::of(alert.dst_ip, alert.dst_port, None),
        network: Network::of(alert.transport, alert.app_proto.as_deref()),
        rule: Rule {
            name: &alert.detector,
        },
        message: &alert.explanation,
        observer: Observer {
            name: &alert.sensor_id,
            product: alert.sensor.as_str(),
        },
        user: alert.username.as_deref().map(|name| User { name }),
        vigil: VigilFields {
            detector: &alert.detector,
            score: alert.score,
            champion: alert.champion.as_deref(),
            explanation: &alert.explanation,
            count: alert.count,
            top_features: &alert.top_features,
            severity: alert.severity.as_str(),
            state: alert.state,
            sensor: alert.sensor.as_str(),
            event_kind: alert.kind.as_str(),
            origin: OriginFields {
                source: &alert.origin.source,
                offset: alert.origin.offset,
                round: alert.origin.round,
            },
            label: alert.label.as_ref(),
            password: options.password(alert),
        },
    };
    append_or_restore(out, |out| {
        serde_json::to_writer(&mut *out, &document).map_err(|e| json_error(&alert.id, &e))?;
        out.push(b'\n');
        Ok(())
    })
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: Rfc3339Micros,
    ecs: Ecs,
    event: EventFields<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<Network<'a>>,
    rule: Rule<'a>,
    message: &'a str,
    observer: Observer<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User<'a>>,
    vigil: VigilFields<'a>,
}

#[derive(Serialize)]
struct Ecs {
    version: &'static str,
}

#[derive(Serialize)]
struct EventFields<'a> {
    kind: &'static str,
    category: [&'static str; 1],
    #[serde(rename = "type")]
    event_type: [&'static str; 1],
    severity: u8,
    risk_score: f64,
    id: &'a str,
    dataset: &'static str,
    module: &'static str,
    start: Rfc3339Micros,
    end: Rfc3339Micros,
}

#[derive(Serialize)]
struct Endpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    geo: Option<Geo<'a>>,
    #[serde(rename = "as", skip_serializing_if = "Option::is_none")]
    autonomous_system: Option<AutonomousSystem<'a>>,
}

impl<'a> Endpoint<'a> {
    fn of(
        ip: Option<IpAddr>,
        port: Option<u16>,
        geo: Option<&'a SourceGeo>,
    ) -> Option<Endpoint<'a>> {
        let (geo, autonomous_system) = match geo {
            Some(geo) => (Geo::of(geo), AutonomousSystem::of(geo)),
            None => (None, None),
        };
        (ip.is_some() || port.is_some() || geo.is_some() || autonomous_system.is_some()).then_some(
            Endpoint {
                ip,
                port,
                geo,
                autonomous_system,
            },
        )
    }
}

/// ECS `geo` fields.
#[derive(Serialize)]
struct Geo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    country_iso_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<GeoPoint>,
}

impl<'a> Geo<'a> {
    fn of(geo: &'a SourceGeo) -> Option<Geo<'a>> {
        let fields = Geo {
            country_iso_code: geo.country_iso_code.as_deref(),
            country_name: geo.country_name.as_deref(),
            location: geo.location().map(|(lat, lon)| GeoPoint { lat, lon }),
        };
        (fields.country_iso_code.is_some()
            || fields.country_name.is_some()
            || fields.location.is_some())
        .then_some(fields)
    }
}

/// ECS `geo.location`, the `geo_point` object form.
#[derive(Serialize)]
struct GeoPoint {
    lat: f64,
    lon: f64,
}

/// ECS `as` fields.
#[derive(Serialize)]
struct AutonomousSystem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<Organization<'a>>,
}

impl<'a> AutonomousSystem<'a> {
    fn of(geo: &'a SourceGeo) -> Option<AutonomousSystem<'a>> {
        let organization = geo.as_org.as_deref().map(|name| Organization { name });
        (geo.asn.is_some() || organization.is_some()).then_some(AutonomousSystem {
            number: geo.asn,
            organization,
        })
    }
}

#[derive(Serialize)]
struct Organization<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Network<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    transport: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'a str>,
}

impl<'a> Network<'a> {
    fn of(transport: Option<Transport>, protocol: Option<&'a str>) -> Option<Network<'a>> {
        // ECS wants an IANA protocol name here; "other" names nothing.
        let transport = transport
            .filter(|t| *t != Transport::Other)
            .map(Transport::as_str);
        (transport.is_some() || protocol.is_some()).then_some(Network {
            transport,
            protocol,
        })
    }
}

#[derive(Serialize)]
struct Rule<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Observer<'a> {
    name: &'a str,
    product: &'static str,
}

#[derive(Serialize)]
struct User<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct VigilFields<'a> {
    detector: &'a str,
    score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    champion: Option<&'a str>,
    explanation: &'a str,
    count: u64,
    top_features: &'a [FeatureContribution],
    severity: &'static str,
    state: AlertState,
    sensor: &'static str,
    event_kind: &'static str,
    origin: OriginFields<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

#[derive(Serialize)]
struct OriginFields<'a> {
    source: &'a str,
    offset: u64,
    round: u32,
}
