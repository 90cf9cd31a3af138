//! Every CEF line Vigil writes parses with a strict parser written here from the CEF rules
//! (seven header fields, `\|` and `\\` in the header; `\\`, `\=`, `\n`, `\r` in extension
//! values; `|` unescaped there), and decodes back to the alert's own values.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use vigil_alert::{Alert, EncodeOptions, Severity, encode_cef};
use vigil_sensors::Transport;

/// A parsed CEF line.
#[derive(Debug)]
struct Cef {
    version: u32,
    vendor: String,
    product: String,
    device_version: String,
    signature_id: String,
    name: String,
    severity: u8,
    extension: BTreeMap<String, String>,
}

/// Parses one CEF line (without its line terminator), strictly: any deviation from the rules is
/// an error naming where it is.
fn parse_cef(line: &str) -> Result<Cef, String> {
    if line.contains(['\n', '\r']) {
        return Err("raw line break inside the line".into());
    }
    let rest = line
        .strip_prefix("CEF:")
        .ok_or("line does not start with CEF:")?;

    // Header: seven fields separated by unescaped pipes; only \\ and \| are escapes.
    let mut fields: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut chars = rest.char_indices();
    let mut extension_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '|'))) => current.push(e),
                other => return Err(format!("bad header escape \\{other:?} at {i}")),
            },
            '|' => {
                fields.push(std::mem::take(&mut current));
                if fields.len() == 7 {
                    extension_start = Some(i + 1);
                    break;
                }
            }
            c if c.is_control() => return Err(format!("control character {c:?} in header")),
            c => current.push(c),
        }
    }
    let extension_start = extension_start.ok_or(format!(
        "only {} header fields, need 7 before the extension",
        fields.len()
    ))?;
    let version: u32 = fields[0]
        .parse()
        .map_err(|_| format!("version {:?}", fields[0]))?;
    let severity: u8 = fields[6]
        .parse()
        .map_err(|_| format!("severity {:?} is not an integer", fields[6]))?;
    if severity > 10 {
        return Err(format!("severity {severity} above 10"));
    }
    let extension = parse_extension(&rest[extension_start..])?;
    let mut it = fields.into_iter().skip(1);
    let mut next = || it.next().unwrap_or_default();
    Ok(Cef {
        version,
        vendor: next(),
        product: next(),
        device_version: next(),
        signature_id: next(),
        name: next(),
        severity,
        extension,
    })
}

/// `key=value` pairs separated by single spaces. Keys are ASCII letters and digits. In values,
/// `\\`, `\=`, `\n`, `\r` are the only escapes; an unescaped `=` ends the value before it at
/// the last space, where the next key starts.
fn parse_extension(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut pairs = BTreeMap::new();
    if text.is_empty() {
        return Ok(pairs);
    }
    // Raw tokens: (decoded value so far, raw byte length), split at unescaped '='.
    let mut key: Option<String> = None;
    let mut raw_key = String::new();
    let mut value = String::new();
    // Positions in `value` where an unescaped space was pushed.
    let mut spaces: Vec<usize> = Vec::new();
    let mut chars = text.chars();
    let finish = |key: String, value: String, pairs: &mut BTreeMap<String, String>| {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("bad extension key {key:?}"));
        }
        if pairs.insert(key.clone(), value).is_some() {
            return Err(format!("duplicate extension key {key:?}"));
        }
        Ok(())
    };
    while let Some(c) = chars.next() {
        match (key.is_some(), c) {
            (false, '=') => {
                key = Some(std::mem::take(&mut raw_key));
            }
            (false, c) => raw_key.push(c),
            (true, '\\') => match chars.next() {
                Some('\\') => value.push('\\'),
                Some('=') => value.push('='),
                Some('n') => value.push('\n'),
                Some('r') => value.push('\r'),
                other => return Err(format!("bad extension escape \\{other:?} in {value:?}")),
            },
            (true, '=') => {
                // The next key started after the last unescaped space.
                let split = *spaces
                    .last()
                    .ok_or(format!("unescaped '=' inside the value {value:?}"))?;
                let next_key = value[split + 1..].to_string();
                value.truncate(split);
                let done = key.take().unwrap_or_default();
                finish(done, std::mem::take(&mut value), &mut pairs)?;
                spaces.clear();
                key = Some(next_key);
            }
            (true, ' ') => {
                spaces.push(value.len());
                value.push(' ');
            }
            (true, c) => value.push(c),
        }
    }
    match key {
        Some(key) => finish(key, value, &mut pairs)?,
        None => return Err(format!("extension ends in a key without '=': {raw_key:?}")),
    }
    Ok(pairs)
}

/// What a header field holds after CEF's rules: control characters became spaces.
fn header_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The CEF severity Vigil promises for each level (docs/outputs.md).
fn expected_cef_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Red => 10,
        Severity::Orange => 7,
        Severity::Green => 3,
    }
}

/// Encodes `alert`, parses the line strictly and checks every field against the alert.
fn check(alert: &Alert, options: &EncodeOptions) {
    let mut out = Vec::new();
    encode_cef(alert, options, &mut out).expect("encodes");
    let text = String::from_utf8(out).expect("UTF-8");
    let line = text.strip_suffix('\n').expect("one line ending in \\n");
    assert!(!line.contains('\n'), "exactly one line: {text:?}");
    let cef = parse_cef(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(cef.version, 0);
    assert_eq!(cef.vendor, "Vigil");
    assert_eq!(cef.product, "Vigil");
    assert_eq!(cef.device_version, header_text(&options.product_version));
    assert_eq!(cef.signature_id, header_text(&alert.detector));
    assert_eq!(
        cef.name,
        header_text(&format!(
            "{} {}",
            alert.severity.as_str().to_uppercase(),
            alert.detector
        ))
    );
    assert_eq!(cef.severity, expected_cef_severity(alert.severity));

    let ext = &cef.extension;
    let get = |key: &str| ext.get(key).map(String::as_str);
    assert_eq!(
        get("rt"),
        Some(alert.event_time.timestamp_millis().to_string().as_str())
    );
    assert_eq!(
        get("start"),
        Some(alert.first_seen.timestamp_millis().to_string().as_str())
    );
    assert_eq!(
        get("end"),
        Some(alert.last_seen.timestamp_millis().to_string().as_str())
    );
    assert_eq!(get("cnt"), Some(alert.count.to_string().as_str()));
    assert_eq!(get("externalId"), Some(alert.id.as_str()));
    assert_eq!(get("act"), Some("alert"));
    assert_eq!(get("cat"), Some(alert.sensor.as_str()));
    assert_eq!(get("deviceExternalId"), Some(&*alert.sensor_id));
    assert_eq!(get("msg"), Some(alert.explanation.as_str()));
    assert_eq!(get("cs1Label"), Some("detector"));
    assert_eq!(get("cs1"), Some(alert.detector.as_str()));
    assert_eq!(get("cs2"), alert.champion.as_deref());
    assert_eq!(get("cs2Label").is_some(), alert.champion.is_some());
    let origin = &alert.origin;
    assert_eq!(
        get("cs4"),
        Some(format!("{}:{}:{}", origin.source, origin.offset, origin.round).as_str())
    );
    assert_eq!(get("cs5"), Some(alert.kind.as_str()));
    assert_eq!(get("cfp1Label"), Some("score"));
    let score: f64 = get("cfp1").expect("score").parse().expect("a number");
    assert_eq!(score, alert.score, "cfp1 round-trips the score exactly");

    match alert.src_ip {
        Some(IpAddr::V4(ip)) => assert_eq!(get("src"), Some(ip.to_string().as_str())),
        Some(IpAddr::V6(ip)) => {
            assert_eq!(get("c6a2"), Some(ip.to_string().as_str()));
            assert_eq!(get("c6a2Label"), Some("Source IPv6 Address"));
            assert_eq!(get("src"), None);
        }
        None => assert!(get("src").is_none() && get("c6a2").is_none()),
    }
    match alert.dst_ip {
        Some(IpAddr::V4(ip)) => assert_eq!(get("dst"), Some(ip.to_string().as_str())),
        Some(IpAddr::V6(ip)) => assert_eq!(get("c6a3"), Some(ip.to_string().as_str())),
        None => assert!(get("dst").is_none() && get("c6a3").is_none()),
    }
    assert_eq!(get("spt"), alert.src_port.map(|p| p.to_string()).as_deref());
    assert_eq!(get("dpt"), alert.dst_port.map(|p| p.to_string()).as_deref());
    let proto = match alert.transport {
        Some(Transport::Tcp) => Some("TCP"),
        Some(Transport::Udp) => Some("UDP"),
        Some(Transport::Icmp) => Some("ICMP"),
        _ => None,
    };
    assert_eq!(get("proto"), proto);
    assert_eq!(
        get("app"),
        alert.app_proto.as_deref().filter(|a| !a.is_empty())
    );
    assert_eq!(
        get("suser"),
        alert.username.as_deref().filter(|u| !u.is_empty())
    );
    let password = alert.password.as_ref().map(|p| p.expose());
    if options.redact_credentials {
        assert_eq!(get("cs6"), None);
        assert_eq!(get("cs6Label"), None);
    } else {
        assert_eq!(get("cs6"), password);
    }
    if alert.top_features.is_empty() {
        assert_eq!(get("cs3"), None);
    } else {
        let features = get("cs3").expect("top features");
        assert_eq!(get("cs3Label"), Some("topFeatures"));
        for feature in &alert.top_features {
            assert!(features.contains(&feature.to_string()), "{features:?}");
        }
    }
}

#[test]
fn the_parser_is_strict() {
    let good = r"CEF:0|V|P|1|sig|name|5|a=1 msg=x \= y | z\\ b=2";
    let cef = parse_cef(good).expect("valid");
    assert_eq!(cef.extension["msg"], r"x = y | z\");
    assert_eq!(cef.extension["b"], "2");
    for bad in [
        "CEF:0|V|P|1|sig|name|5",          // six pipes: no extension start
        r"CEF:0|V|P|1|sig\x|name|5|a=1",   // unknown header escape
        "CEF:0|V|P|1|sig|name|11|a=1",     // severity above 10
        "CEF:0|V|P|1|sig|name|high|a=1",   // severity not a number
        "CEF:0|V|P|1|sig|name|5|a=1=2",    // unescaped '=' in a value
        r"CEF:0|V|P|1|sig|name|5|a=x\|y",  // '\|' is no extension escape
        "CEF:0|V|P|1|sig|name|5|a=1 a=2",  // duplicate key
        "CEF:0|V|P|1|sig|name|5|a=1\nb=2", // raw line break
        "CEF:0|V|P|1|sig|name|5|a-b=1",    // key not alphanumeric
        "CEF:0|V|P|1|sig|name|5|novalue",  // no '='
        "CEF:0|V|P|1|si\u{7}g|name|5|a=1", // control character in the header
        "LEEF:0|V|P|1|sig|name|5|a=1",     // not CEF
    ] {
        assert!(parse_cef(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn generated_alerts_parse_strictly_and_decode_to_their_values() {
    let redacting = EncodeOptions::default();
    let revealing = EncodeOptions {
        redact_credentials: false,
        product_version: "9.9|beta\\1\n".to_string(),
    };
    let alerts = common::random_alerts(0x00ce_f001, 4000);
    let v6_sources = alerts
        .iter()
        .filter(|a| a.src_ip.is_some_and(|ip| ip.is_ipv6()))
        .count();
    assert!(v6_sources > 100, "IPv6 sources generated: {v6_sources}");
    for alert in &alerts {
        check(alert, &redacting);
        check(alert, &revealing);
    }
}

#[test]
fn real_honeypot_alerts_parse_strictly() {
    let Some(alerts) = common::shared_alerts() else {
        return;
    };
    assert!(alerts.len() > 10_000, "{} alerts", alerts.len());
    let options = EncodeOptions::default();
    for alert in &alerts {
        check(alert, &options);
    }
}
