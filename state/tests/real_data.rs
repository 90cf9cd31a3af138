//! Real honeypot records as alert payloads: every Cowrie and Dionaea event of the T-Pot seed
//! files is stored as an alert (its raw line as the bytes, its timestamp and source address
//! indexed), and the store's answers are compared with counts computed independently from
//! the same lines with serde_json.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use common::{assert_consistent, open};
use vigil_state::{AlertId, NewAlert, Store};

struct Record {
    id: AlertId,
    time: i64,
    src: Option<IpAddr>,
    line: Vec<u8>,
}

/// FNV-1a over the file name and the line's byte offset, as the daemon derives alert ids
/// from an event's origin.
fn origin_id(file: &str, offset: u64) -> AlertId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in file.bytes().chain([0]).chain(offset.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    AlertId::new(hash)
}

/// Cowrie writes `...Z`; Dionaea writes naive times, which are UTC.
fn parse_time(text: &str) -> i64 {
    match DateTime::parse_from_rfc3339(text) {
        Ok(time) => time.timestamp_micros(),
        Err(_) => NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .expect("a naive timestamp")
            .and_utc()
            .timestamp_micros(),
    }
}

fn read_records(path: &Path, name: &str) -> Vec<Record> {
    let text = std::fs::read(path).expect("read the data file");
    let mut records = Vec::new();
    let mut offset = 0u64;
    for line in text.split(|&b| b == b'\n') {
        let line_offset = offset;
        offset += line.len() as u64 + 1;
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(line).expect("a JSON line");
        let time = parse_time(value["timestamp"].as_str().expect("a timestamp"));
        let src = value["src_ip"]
            .as_str()
            .map(|s| s.parse().expect("an address"));
        records.push(Record {
            id: origin_id(name, line_offset),
            time,
            src,
            line: line.to_vec(),
        });
    }
    records
}

fn store_records(store: &Store, records: &[Record]) {
    for chunk in records.chunks(1_024) {
        let batch: Vec<NewAlert> = chunk
            .iter()
            .map(|r| NewAlert {
                id: r.id,
                event_time_micros: r.time,
                src_ip: r.src,
                score: (r.id.get() % 1_000) as f64 / 1_000.0,
                bytes: r.line.clone(),
            })
            .collect();
        let outcome = store.commit_alerts(&batch).expect("commit");
        assert!(outcome.duplicates.is_empty());
    }
}

#[test]
fn honeypot_events_stored_as_alerts_answer_like_the_raw_files() {
    let files = [
        ("data/cowrie/seed-tpot-cowrie.json", 2_057usize, 69usize),
        ("data/dionaea/seed-tpot-dionaea.json", 6_287, 51),
    ];
    let mut records = Vec::new();
    for (rel, events, sources) in files {
        let Some(path) = vigil_tests::shared_file(rel) else {
            return;
        };
        let file_records = read_records(&path, rel);
        // The counts SOURCES.md gives for these files.
        assert_eq!(file_records.len(), events, "{rel}");
        let distinct: std::collections::HashSet<_> =
            file_records.iter().filter_map(|r| r.src).collect();
        assert_eq!(distinct.len(), sources, "{rel}");
        records.extend(file_records);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    store_records(&store, &records);
    assert_eq!(store.alert_count().expect("count"), records.len() as u64);

    // Newest first, ties by id, bytes exactly as read.
    let mut expected: Vec<&Record> = records.iter().collect();
    expected.sort_unstable_by_key(|r| std::cmp::Reverse((r.time, r.id)));
    let all = store
        .alerts_range(None, None, usize::MAX, None)
        .expect("all");
    assert_eq!(all.alerts.len(), expected.len());
    for (got, want) in all.alerts.iter().zip(&expected) {
        assert_eq!(got.key.id(), want.id);
        assert_eq!(got.key.event_time_micros(), want.time);
        assert_eq!(got.bytes, want.line);
    }

    // Per source address.
    let mut per_source: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for record in &records {
        if let Some(src) = record.src {
            *per_source.entry(src).or_default() += 1;
        }
    }
    for (src, count) in &per_source {
        let page = store
            .alerts_by_source(*src, None, None, usize::MAX, None)
            .expect("by source");
        assert_eq!(page.alerts.len(), *count, "{src}");
        for alert in &page.alerts {
            let value: serde_json::Value =
                serde_json::from_slice(&alert.bytes).expect("stored bytes are the JSON line");
            assert_eq!(value["src_ip"].as_str(), Some(src.to_string().as_str()));
        }
    }

    // The last hour before the newest event, with the same bound the API would pass.
    let newest = expected[0].time;
    let hour_ago = newest - 3_600_000_000;
    let in_last_hour = records.iter().filter(|r| r.time >= hour_ago).count();
    let page = store
        .alerts_range(Some(hour_ago), None, usize::MAX, None)
        .expect("last hour");
    assert_eq!(page.alerts.len(), in_last_hour);

    // Retention by age against the newest event keeps exactly that hour.
    let report = store
        .apply_retention(None, Some(Duration::from_secs(3_600)), newest)
        .expect("retention");
    assert_eq!(report.remaining, in_last_hour as u64);
    assert_eq!(report.removed_by_age, (records.len() - in_last_hour) as u64);
    assert_consistent(&store);
}
