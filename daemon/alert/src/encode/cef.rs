//! ArcSight Common Event Format.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::IpAddr;

use vigil_sensors::Transport;

use super::{EncodeOptions, append_or_restore};
use crate::{Alert, AlertError};

/// Device vendor in the CEF header.
pub const CEF_VENDOR: &str = "Vigil";
/// Device product in the CEF header.
pub const CEF_PRODUCT: &str = "Vigil";

/// Appends `alert` as one CEF line:
/// `CEF:0|Vigil|Vigil|<version>|<detector>|<SEVERITY> <detector>|<0-10>|<extension>`.
///
/// # Escaping
/// - Header fields: `\` becomes `\\` and `|` becomes `\|`. CEF defines no escape for line
///   breaks in the header, so any control character there becomes a space.
/// - Extension values: `\` becomes `\\`, `=` becomes `\=`, a line feed `\n` and a carriage
///   return `\r` (the two characters backslash and letter). `|` is left alone, as CEF says.
///   Optional values that are empty are left out.
///
/// # Extension keys
/// `rt`, `start`, `end` (event times in milliseconds since the epoch: raising event, first and
/// last aggregated), `cnt` (count), `externalId` (alert id), `act` (`alert`), `cat` (sensor
/// kind), `deviceExternalId` (sensor id), `src`/`dst` (IPv4) or `c6a2`/`c6a3` (IPv6, with their
/// labels), `spt`, `slat`/`slong` (source latitude and longitude, from GeoIP enrichment), `dpt`,
/// `proto` (`TCP`, `UDP`, `ICMP`), `app`, `suser`, `msg` (explanation), and labelled custom
/// fields: `cn1` source AS number, `flexString1` source country ISO code, `flexString2` source
/// AS organisation (GeoIP, each when known), `cs1` detector, `cs2` champion, `cs3` top features, `cs4` origin
/// (`source:offset:round`), `cs5` event kind, `cs6` password (only with redaction off), `cfp1`
/// score. The table is in `docs/outputs.md`.
///
/// # Errors
/// The alert fails [`Alert::validate`].
///
/// ```
/// # use std::sync::Arc;
/// # use vigil_alert::{Alert, EncodeOptions, Severity, encode_cef};
/// # use vigil_sensors::{Event, EventKind, Origin, Sensor};
/// # let origin = Origin { source: Arc::from("cowrie.json"), offset: 0, round: 0 };
/// let mut event = Event::new(chrono::DateTime::UNIX_EPOCH, Sensor::Cowrie, Arc::from("hp-1"),
///                            EventKind::LoginFailed, origin);
/// event.src_ip = Some("203.0.113.7".parse().unwrap());
/// let alert = Alert::new(&event, "brute_force", 0.995, Severity::Red, "a=b | c\nd".into())?;
/// let options = EncodeOptions { product_version: "1.0".into(), ..EncodeOptions::default() };
/// let mut line = Vec::new();
/// encode_cef(&alert, &options, &mut line)?;
/// let text = String::from_utf8(line).unwrap();
/// assert!(text.starts_with("CEF:0|Vigil|Vigil|1.0|brute_force|RED brute_force|10|rt=0 "));
/// assert!(text.contains(r" src=203.0.113.7 "));
/// assert!(text.contains(r" msg=a\=b | c\nd "));
/// # Ok::<(), vigil_alert::AlertError>(())
/// ```
pub fn encode_cef(
    alert: &Alert,
    options: &EncodeOptions,
    out: &mut Vec<u8>,
) -> Result<(), AlertError> {
    alert.validate()?;
    append_or_restore(out, |out| {
        write_cef(alert, options, out);
        Ok(())
    })
}

fn write_cef(alert: &Alert, options: &EncodeOptions, out: &mut Vec<u8>) {
    out.extend_from_slice(b"CEF:0|");
    for field in [
        CEF_VENDOR,
        CEF_PRODUCT,
        &options.product_version,
        &alert.detector,
    ] {
        header(out, format_args!("{field}"));
        out.push(b'|');
    }
    header(
        out,
        format_args!("{} {}", alert.severity.as_upper_str(), alert.detector),
    );
    // Writing into a Vec cannot fail.
    let _ = write!(out, "|{}|", alert.severity.cef_severity());

    let mut ext = Extension { out, first: true };
    ext.value("rt", alert.event_time.timestamp_millis());
    ext.value("start", alert.first_seen.timestamp_millis());
    ext.value("end", alert.last_seen.timestamp_millis());
    ext.value("cnt", alert.count);
    ext.text("externalId", &alert.id);
    ext.text("act", "alert");
    ext.text("cat", alert.sensor.as_str());
    ext.text("deviceExternalId", &alert.sensor_id);
    address(&mut ext, alert.src_ip, "src", "c6a2", "Source IPv6 Address");
    if let Some(port) = alert.src_port {
        ext.value("spt", port);
    }
    let geo = alert.src_geo.as_ref();
    if let Some((lat, lon)) = geo.and_then(crate::SourceGeo::location) {
        ext.value("slat", lat);
        ext.value("slong", lon);
    }
    address(
        &mut ext,
        alert.dst_ip,
        "dst",
        "c6a3",
        "Destination IPv6 Address",
    );
    if let Some(port) = alert.dst_port {
        ext.value("dpt", port);
    }
    if let Some(proto) = alert.transport.and_then(cef_proto) {
        ext.text("proto", proto);
    }
    if let Some(app) = alert.app_proto.as_deref().filter(|a| !a.is_empty()) {
        ext.text("app", app);
    }
    if let Some(user) = alert.username.as_deref().filter(|u| !u.is_empty()) {
        ext.text("suser", user);
    }
    ext.text("msg", &alert.explanation);
    ext.labelled("cs1", "detector", format_args!("{}", alert.detector));
    if let Some(champion) = alert.champion.as_deref() {
        ext.labelled("cs2", "champion", format_args!("{champion}"));
    }
    if !alert.top_features.is_empty() {
        ext.labelled("cs3", "topFeatures", TopFeatures(&alert.top_features));
    }
    let origin = &alert.origin;
    ext.labelled(
        "cs4",
        "origin",
        format_args!("{}:{}:{}", origin.source, origin.offset, origin.round),
    );
    ext.labelled("cs5", "eventKind", format_args!("{}", alert.kind.as_str()));
    if let Some(password) = options.password(alert) {
        ext.labelled("cs6", "password", format_args!("{password}"));
    }
    ext.labelled("cfp1", "score", format_args!("{}", alert.score));
    if let Some(geo) = geo {
        if let Some(asn) = geo.asn {
            ext.labelled("cn1", "sourceAsn", format_args!("{asn}"));
        }
        if let Some(code) = geo.country_iso_code.as_deref().filter(|c| !c.is_empty()) {
            ext.labelled("flexString1", "sourceCountry", format_args!("{code}"));
        }
        if let Some(org) = geo.as_org.as_deref().filter(|o| !o.is_empty()) {
            ext.labelled("flexString2", "sourceAsOrganization", format_args!("{org}"));
        }
    }
    ext.out.push(b'\n');
}

/// CEF's `proto` values; "other" names no protocol.
fn cef_proto(transport: Transport) -> Option<&'static str> {
    match transport {
        Transport::Tcp => Some("TCP"),
        Transport::Udp => Some("UDP"),
        Transport::Icmp => Some("ICMP"),
        Transport::Other => None,
    }
}

/// `src`/`dst` take IPv4 only in the CEF dictionary; IPv6 goes to the labelled custom IPv6
/// address fields the dictionary reserves for source and destination.
fn address(
    ext: &mut Extension<'_>,
    ip: Option<IpAddr>,
    v4_key: &str,
    v6_key: &str,
    v6_label: &str,
) {
    match ip {
        Some(IpAddr::V4(v4)) => ext.value(v4_key, v4),
        Some(IpAddr::V6(v6)) => ext.labelled(v6_key, v6_label, format_args!("{v6}")),
        None => {}
    }
}

/// Top features as `name = value (z sd above normal); ...`.
struct TopFeatures<'a>(&'a [crate::FeatureContribution]);

impl fmt::Display for TopFeatures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, feature) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{feature}")?;
        }
        Ok(())
    }
}

/// Writes a header field, escaped.
fn header(out: &mut Vec<u8>, field: impl fmt::Display) {
    let _ = write!(HeaderEscaper(out), "{field}");
}

/// Escapes what it is given as a CEF header field.
struct HeaderEscaper<'a>(&'a mut Vec<u8>);

impl fmt::Write for HeaderEscaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '\\' => self.0.extend_from_slice(b"\\\\"),
                '|' => self.0.extend_from_slice(b"\\|"),
                c if c.is_control() => self.0.push(b' '),
                c => {
                    let mut utf8 = [0; 4];
                    self.0
                        .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        Ok(())
    }
}

/// Escapes what it is given as a CEF extension value.
struct ValueEscaper<'a>(&'a mut Vec<u8>);

impl fmt::Write for ValueEscaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // The escaped characters are ASCII, so splitting the UTF-8 bytes at them is safe.
        let bytes = s.as_bytes();
        let mut clean_from = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'\\' => b"\\\\",
                b'=' => b"\\=",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                _ => continue,
            };
            self.0.extend_from_slice(&bytes[clean_from..i]);
            self.0.extend_from_slice(escaped);
            clean_from = i + 1;
        }
        self.0.extend_from_slice(&bytes[clean_from..]);
        Ok(())
    }
}

/// The extension being written: `key=value` pairs separated by single spaces.
struct Extension<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Extension<'_> {
    /// Starts a pair: the separating space, `<key><suffix>=`.
    fn key(&mut self, key: &str, suffix: &str) {
        if !self.first {
            self.out.push(b' ');
        }
        self.first = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(suffix.as_bytes());
        self.out.push(b'=');
    }

    /// A value whose text never needs escaping (numbers, IPv4 addresses).
    fn value(&mut self, key: &str, value: impl fmt::Display) {
        self.key(key, "");
        let _ = write!(self.out, "{value}");
    }

    /// A text value, escaped.
    fn text(&mut self, key: &str, value: &str) {
        self.key(key, "");
        let _ = ValueEscaper(self.out).write_str(value);
    }

    /// A custom field with its label: `<key>Label=<label> <key>=<value>`, both escaped.
    fn labelled(&mut self, key: &str, label: &str, value: impl fmt::Display) {
        self.key(key, "Label");
        let _ = ValueEscaper(self.out).write_str(label);
        self.key(key, "");
        let _ = write!(ValueEscaper(self.out), "{value}");
    }
}
