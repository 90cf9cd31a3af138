//! Every real sensor log under the shared data folder, through `--format auto`, checked
//! against counts and values computed independently with plain `serde_json` and `chrono`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use vigil_sensors::{Event, EventKind, Format, ParseOptions, RejectReason, parser_for};

use common::{Tally, parse_input, split_lines};

/// The file whose last line was cut mid-object at its origin.
const TRUNCATED_FILE: &str = "cowrie/scriptzteam-2017/cowrie.json";

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => panic!("cannot list {}: {e}", dir.display()),
        };
        for entry in entries {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(e) => panic!("cannot list {}: {e}", dir.display()),
            };
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The records of a file as plain JSON: each array element, or each line that parses, and
/// how many non-blank lines did not parse.
struct Independent {
    /// (byte offset of the line, or `None` inside an array; the object)
    objects: Vec<(Option<u64>, serde_json::Map<String, Value>)>,
    unparsable_lines: usize,
}

fn independent(data: &[u8]) -> Independent {
    let first = data.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first == Some(b'[') {
        let elements: Vec<Value> = match serde_json::from_slice(data) {
            Ok(elements) => elements,
            Err(e) => panic!("array file does not parse: {e}"),
        };
        let objects = elements
            .into_iter()
            .map(|v| match v {
                Value::Object(object) => (None, object),
                other => panic!("array element is not an object: {other}"),
            })
            .collect();
        return Independent {
            objects,
            unparsable_lines: 0,
        };
    }
    let mut objects = Vec::new();
    let mut unparsable_lines = 0;
    for (line, offset, _) in split_lines(data) {
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(object)) => objects.push((Some(offset), object)),
            _ => unparsable_lines += 1,
        }
    }
    Independent {
        objects,
        unparsable_lines,
    }
}

fn is_stats(object: &serde_json::Map<String, Value>) -> bool {
    object.get("event_type").and_then(Value::as_str) == Some("stats")
}

/// The record's time read by chrono's own parsers: RFC 3339, `+hhmm` offsets, or naive UTC.
fn reference_time(text: &str) -> DateTime<Utc> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return t.with_timezone(&Utc);
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return t.with_timezone(&Utc);
    }
    match NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        Ok(t) => t.and_utc(),
        Err(e) => panic!("reference parser cannot read {text:?}: {e}"),
    }
}

fn str_at<'v>(object: &'v serde_json::Map<String, Value>, path: &[&str]) -> Option<&'v str> {
    let mut value = object.get(path[0])?;
    for key in &path[1..] {
        value = value.get(key)?;
    }
    value.as_str()
}

fn u64_at(object: &serde_json::Map<String, Value>, path: &[&str]) -> Option<u64> {
    let mut value = object.get(path[0])?;
    for key in &path[1..] {
        value = value.get(key)?;
    }
    value.as_u64()
}

/// Checks one file; returns the number of events.
fn check_file(path: &Path, rel: &str, sensor_dir: &str) -> usize {
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    let expected = independent(&data);
    let stats = expected.objects.iter().filter(|(_, o)| is_stats(o)).count();

    let mut parser = parser_for(Format::Auto, ParseOptions::new("test"));
    let records = parse_input(parser.as_mut(), rel, &data);
    let tally = Tally::of(&records);

    assert_eq!(
        parser.format().as_str(),
        sensor_dir,
        "{rel}: detected format"
    );
    assert_eq!(
        tally.events.len(),
        expected.objects.len() - stats,
        "{rel}: events = JSON objects - stats records; rejections {:?}",
        tally.rejected.iter().take(3).collect::<Vec<_>>()
    );
    let skipped: usize = tally.skipped.values().sum();
    assert_eq!(skipped, stats, "{rel}: skipped = stats records");
    assert!(
        tally
            .skipped
            .keys()
            .all(|&reason| reason == "suricata_stats"),
        "{rel}: {:?}",
        tally.skipped
    );
    assert_eq!(
        tally.rejected.len(),
        expected.unparsable_lines,
        "{rel}: rejections = lines plain serde_json cannot parse"
    );
    if rel == TRUNCATED_FILE {
        assert_eq!(tally.reasons(), [RejectReason::TruncatedRecord], "{rel}");
        let last_line = split_lines(&data).last().map(|&(_, offset, _)| offset);
        assert_eq!(Some(tally.rejected[0].offset), last_line, "{rel}");
    } else {
        assert!(tally.rejected.is_empty(), "{rel}: {:?}", tally.rejected);
    }

    let sources: Vec<_> = expected
        .objects
        .iter()
        .filter(|(_, o)| !is_stats(o))
        .collect();
    for (event, (offset, object)) in tally.events.iter().zip(&sources) {
        check_event(rel, event, *offset, object);
    }
    match sensor_dir {
        "cowrie" => check_cowrie_sessions(rel, &tally.events, &sources),
        "suricata" => check_suricata_totals(rel, &tally.events, &sources),
        _ => {}
    }
    tally.events.len()
}

/// Fields every sensor's event must reproduce from its own record.
fn check_event(
    rel: &str,
    event: &Event,
    offset: Option<u64>,
    object: &serde_json::Map<String, Value>,
) {
    if let Some(offset) = offset {
        assert_eq!(event.origin.offset, offset, "{rel}");
    }
    assert_eq!(&*event.origin.source, rel);
    assert_eq!(
        &*event.sensor_id, "test",
        "{rel}: sensor_id comes from the options"
    );
    let stamp = str_at(object, &["timestamp"]).unwrap_or_default();
    assert_eq!(
        event.event_time,
        reference_time(stamp),
        "{rel} at {offset:?}"
    );
    let ip = |text: Option<&str>| {
        text.map(|t| t.parse::<std::net::IpAddr>().map(|ip| ip.to_canonical()))
    };
    let src = ip(str_at(object, &["src_ip"]).or(str_at(object, &["peer", "ip"])));
    assert_eq!(event.src_ip.map(Ok), src, "{rel} at {offset:?}");
    let src_port = u64_at(object, &["src_port"]).or(u64_at(object, &["peer", "port"]));
    if let Some(port) = src_port {
        assert_eq!(
            event.src_port.map(u64::from),
            Some(port),
            "{rel} at {offset:?}"
        );
    }
    match event.sensor.as_str() {
        "cowrie" => {
            assert_eq!(event.raw_kind.as_deref(), str_at(object, &["eventid"]));
            if event.kind == EventKind::Command {
                assert_eq!(event.command.as_deref(), str_at(object, &["input"]));
            }
            if matches!(event.kind, EventKind::LoginFailed | EventKind::LoginSuccess) {
                assert_eq!(event.username.as_deref(), str_at(object, &["username"]));
                assert_eq!(event.password.as_deref(), str_at(object, &["password"]));
            }
            if let Some(duration) = object.get("duration") {
                let seconds = match duration {
                    Value::String(s) => s.parse::<f64>().ok(),
                    other => other.as_f64(),
                };
                assert_eq!(event.duration_secs, seconds, "{rel} at {offset:?}");
            }
        }
        "dionaea" => {
            let username = object
                .get("credentials")
                .and_then(|c| c.get("username"))
                .and_then(|u| u.get(0))
                .and_then(Value::as_str);
            assert_eq!(event.username.as_deref(), username, "{rel} at {offset:?}");
            let expected_kind = if username.is_some() {
                EventKind::LoginFailed
            } else if object.contains_key("ftp") {
                EventKind::Command
            } else {
                EventKind::Connect
            };
            assert_eq!(event.kind, expected_kind, "{rel} at {offset:?}");
            assert_eq!(
                event.raw_kind.as_deref(),
                str_at(object, &["connection", "protocol"])
            );
        }
        "tanner" => {
            let request = format!(
                "{} {}",
                str_at(object, &["method"]).unwrap_or_default(),
                str_at(object, &["path"]).unwrap_or_default()
            );
            assert_eq!(event.command.as_deref(), Some(request.as_str()));
            assert_eq!(event.kind, EventKind::HttpRequest);
        }
        "suricata" => {
            assert_eq!(event.raw_kind.as_deref(), str_at(object, &["event_type"]));
            assert_eq!(
                event.signature.as_deref(),
                str_at(object, &["alert", "signature"])
            );
            assert_eq!(
                event.severity.map(u64::from),
                u64_at(object, &["alert", "severity"])
            );
            let flow_id = object.get("flow_id").map(|id| id.to_string());
            assert_eq!(event.session.as_deref(), flow_id.as_deref());
            let dst = ip(str_at(object, &["dest_ip"]));
            assert_eq!(event.dst_ip.map(Ok), dst, "{rel} at {offset:?}");
        }
        other => panic!("unexpected sensor {other}"),
    }
}

/// Ports and honeypot address from `session.connect` reach the later events of the session
/// (until it closes); port-forwarding events keep their own target.
fn check_cowrie_sessions(
    rel: &str,
    events: &[&Event],
    sources: &[&(Option<u64>, serde_json::Map<String, Value>)],
) {
    let mut open: HashMap<String, (u64, String)> = HashMap::new();
    let mut carried = 0usize;
    for (event, (_, object)) in events.iter().zip(sources) {
        let eventid = str_at(object, &["eventid"]).unwrap_or_default();
        let Some(session) = str_at(object, &["session"]) else {
            continue;
        };
        if eventid == "cowrie.session.connect" {
            if let (Some(port), Some(dst)) =
                (u64_at(object, &["src_port"]), str_at(object, &["dst_ip"]))
            {
                open.insert(session.to_string(), (port, dst.to_string()));
            }
            continue;
        }
        let Some((port, honeypot)) = open.get(session) else {
            continue;
        };
        let own_port = u64_at(object, &["src_port"]);
        assert_eq!(
            event.src_port.map(u64::from),
            Some(own_port.unwrap_or(*port)),
            "{rel}: {eventid} of session {session}"
        );
        let expected_dst = if eventid.starts_with("cowrie.direct-tcpip.") {
            let target = str_at(object, &["dst_ip"]).unwrap_or_default();
            let port = u64_at(object, &["dst_port"]).unwrap_or_default();
            let expected_command = format!("{target}:{port}");
            assert_eq!(
                event.command.as_deref(),
                Some(expected_command.as_str()),
                "{rel}"
            );
            // Host names are targets too, but not addresses.
            target
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| ip.to_string())
        } else {
            Some(honeypot.clone())
        };
        assert_eq!(
            event.dst_ip.map(|ip| ip.to_string()),
            expected_dst,
            "{rel}: {eventid} of session {session}"
        );
        if own_port.is_none() {
            carried += 1;
        }
        if eventid == "cowrie.session.closed" {
            open.remove(session);
        }
    }
    assert!(carried > 0, "{rel}: no event needed a carried port");
}

/// Flow counters and kinds add up to the totals of the raw records.
fn check_suricata_totals(
    rel: &str,
    events: &[&Event],
    sources: &[&(Option<u64>, serde_json::Map<String, Value>)],
) {
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, object) in sources {
        for (name, key) in [
            ("bytes_out", "bytes_toserver"),
            ("bytes_in", "bytes_toclient"),
            ("packets_out", "pkts_toserver"),
            ("packets_in", "pkts_toclient"),
        ] {
            *expected.entry(name).or_default() += u64_at(object, &["flow", key]).unwrap_or(0);
        }
    }
    let mut actual: BTreeMap<&str, u64> = BTreeMap::new();
    for event in events {
        for (name, value) in [
            ("bytes_out", event.bytes_out),
            ("bytes_in", event.bytes_in),
            ("packets_out", event.packets_out),
            ("packets_in", event.packets_in),
        ] {
            *actual.entry(name).or_default() += value.unwrap_or(0);
        }
    }
    assert_eq!(actual, expected, "{rel}: flow counters");
}

fn check_sensor(sensor_dir: &str) {
    let Some(root) = vigil_tests::shared_file("data") else {
        return;
    };
    let files = files_under(&root.join(sensor_dir));
    assert!(
        !files.is_empty(),
        "no {sensor_dir} files under {}",
        root.display()
    );
    let mut events = 0;
    for path in &files {
        let rel = match path.strip_prefix(&root) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => panic!("{} is not under {}", path.display(), root.display()),
        };
        events += check_file(path, &rel, sensor_dir);
    }
    assert!(events > 0, "{sensor_dir}: no events at all");
}

#[test]
fn cowrie_files() {
    check_sensor("cowrie");
}

#[test]
fn dionaea_files() {
    check_sensor("dionaea");
}

#[test]
fn suricata_files() {
    check_sensor("suricata");
}

#[test]
fn tanner_files() {
    check_sensor("tanner");
}

/// One parser reads several Cowrie files in a row, as `vigil replay a b c` does: sessions
/// that span a file boundary keep their ports, and every file is still recognised.
#[test]
fn consecutive_cowrie_inputs_share_one_parser() {
    let Some(root) = vigil_tests::shared_file("data/cowrie/scriptzteam-2017") else {
        return;
    };
    let mut parser = parser_for(Format::Auto, ParseOptions::new("test"));
    let mut total = 0;
    for name in ["cowrie.json.2017_11_4", "cowrie.json"] {
        let data = match std::fs::read(root.join(name)) {
            Ok(data) => data,
            Err(e) => panic!("cannot read {name}: {e}"),
        };
        let records = parse_input(parser.as_mut(), name, &data);
        assert_eq!(parser.format(), Format::Cowrie);
        let expected = independent(&data);
        assert_eq!(Tally::of(&records).events.len(), expected.objects.len());
        total += expected.objects.len();
    }
    assert!(total > 0);
}
