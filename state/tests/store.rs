//! The store's behaviour through its public API: persistence across reopen, schema checks,
//! dedupe, ordering, paging, outbox cursors, retention, checkpoints, drift events and
//! suppressions.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use common::{Mix, alert, assert_consistent, open};
use vigil_state::{
    AlertId, AlertKey, Checkpoint, Commit, DriftAppend, DriftKey, NewAlert, NewDriftEvent,
    SCHEMA_VERSION, StateError, Store, StoreOptions,
};

fn ids(page: &vigil_state::AlertPage) -> Vec<u64> {
    page.alerts.iter().map(|a| a.key.id().get()).collect()
}

#[test]
fn everything_written_is_there_after_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let checkpoint = Checkpoint {
        sequence: 99,
        sources: vec![("cowrie".into(), vec![1, 2, 3])],
        features: vec![4; 1000],
        pool: vec![5; 70_000],
        cooldowns: vec![6],
        created_at_micros: 1_700_000_000_000_000,
    };
    {
        let store = open(dir.path());
        let batch = vec![
            alert(1, 10, Some("192.0.2.1")),
            alert(2, 20, None),
            alert(3, -30, Some("2001:db8::3")),
        ];
        let drift = [NewDriftEvent {
            event_sequence: 50,
            bytes: b"champion hst -> ocsvm".to_vec(),
        }];
        store
            .commit(&Commit {
                new_alerts: &batch,
                drift_events: &drift,
                checkpoint: Some(&checkpoint),
                ..Commit::default()
            })
            .expect("commit");
        store
            .put_suppression("lab-scanner", b"{\"src\":\"192.0.2.1\"}")
            .expect("suppression");
        store
            .outbox_ack_with_state("cef", 2, b"len=512")
            .expect("ack");
        // Dropped without an explicit flush.
    }
    let store = open(dir.path());
    assert_eq!(store.alert_count().expect("count"), 3);
    assert_eq!(
        store
            .get_alert(AlertId::new(3))
            .expect("get")
            .map(|a| a.bytes),
        Some(alert(3, -30, None).bytes)
    );
    let stored = store.read_checkpoint().expect("read").expect("checkpoint");
    assert_eq!(stored.checkpoint, checkpoint);
    assert_eq!(stored.last_alert_position, 3);
    let drift = store.drift_events(10, None).expect("drift");
    assert_eq!(drift.events.len(), 1);
    assert_eq!(drift.events[0].key, DriftKey::new(50, 0));
    assert_eq!(
        store.suppression("lab-scanner").expect("suppression"),
        Some(b"{\"src\":\"192.0.2.1\"}".to_vec())
    );
    let cursor = store.outbox_cursor("cef").expect("cursor").expect("stored");
    assert_eq!(
        (cursor.position, cursor.sink_state),
        (2, b"len=512".to_vec())
    );
    assert_eq!(store.last_alert_position(), 3);
    assert!(store.size_on_disk().expect("size") > 0);
    assert_consistent(&store);
}

/// Writes a schema version into an existing store with the engine directly, as a newer
/// (or broken) build would have.
fn write_raw_version(dir: &std::path::Path, version: &[u8]) {
    // The engine releases the previous handle's lock from background threads a moment
    // after it is dropped.
    let mut attempts = 0;
    let db = loop {
        match sled::open(dir) {
            Ok(db) => break db,
            Err(error) if attempts < 100 => {
                attempts += 1;
                eprintln!("waiting for the lock: {error}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("raw open: {error}"),
        }
    };
    let meta = db.open_tree("meta").expect("meta tree");
    meta.insert("schema_version", version).expect("insert");
    db.flush().expect("flush");
}

#[test]
fn schema_versions_other_than_this_builds_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(open(dir.path()));

    write_raw_version(dir.path(), &(SCHEMA_VERSION + 1).to_be_bytes());
    let error = Store::open(dir.path(), &StoreOptions::default()).expect_err("newer refused");
    match &error {
        StateError::SchemaTooNew {
            path,
            found,
            supported,
        } => {
            assert_eq!(path, dir.path());
            assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{message}"
    );
    assert!(
        message.contains(&format!("version {SCHEMA_VERSION}")),
        "{message}"
    );

    write_raw_version(dir.path(), &0u32.to_be_bytes());
    let error = Store::open(dir.path(), &StoreOptions::default()).expect_err("0 refused");
    assert!(
        matches!(&error, StateError::SchemaUnknown { found, .. } if found == "0"),
        "{error:?}"
    );

    write_raw_version(dir.path(), b"v1");
    let error = Store::open(dir.path(), &StoreOptions::default()).expect_err("garbage refused");
    assert!(
        matches!(&error, StateError::SchemaUnknown { found, .. } if found == "0x7631"),
        "{error:?}"
    );

    // Putting the version back makes the same database usable again.
    write_raw_version(dir.path(), &SCHEMA_VERSION.to_be_bytes());
    assert_consistent(&open(dir.path()));
}

#[test]
fn a_database_with_data_but_no_schema_version_is_not_adopted() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let db = sled::open(dir.path()).expect("raw open");
        db.open_tree("orders")
            .expect("tree")
            .insert("k", "v")
            .expect("insert");
        db.flush().expect("flush");
    }
    let error = Store::open(dir.path(), &StoreOptions::default()).expect_err("refused");
    assert!(
        matches!(&error, StateError::NotAStateDatabase { path } if path == dir.path()),
        "{error:?}"
    );
}

#[test]
fn a_locked_database_is_a_clear_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = open(dir.path());
    let error = Store::open(dir.path(), &StoreOptions::default()).expect_err("locked");
    assert!(
        matches!(&error, StateError::Locked { path } if path == dir.path()),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string())
    );
}

#[test]
fn damaged_files_are_a_clear_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(open(dir.path()));
    std::fs::write(dir.path().join("conf"), b"this is not sled's configuration")
        .expect("overwrite conf");
    let error = Store::open(dir.path(), &StoreOptions::default()).expect_err("damaged");
    assert!(
        matches!(&error, StateError::Open { path, .. } if path == dir.path()),
        "{error:?}"
    );

    let file = tempfile::NamedTempFile::new().expect("temp file");
    let error = Store::open(file.path(), &StoreOptions::default()).expect_err("a file");
    assert!(
        matches!(&error, StateError::Open { path, .. } if path == file.path()),
        "{error:?}"
    );
}

#[test]
fn an_id_is_stored_once_whatever_its_bytes_and_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(dir.path());
        let first = vec![alert(1, 100, Some("192.0.2.1")), alert(2, 200, None)];
        let outcome = store.commit_alerts(&first).expect("commit");
        assert_eq!(outcome.inserted, vec![AlertId::new(1), AlertId::new(2)]);
        assert!(outcome.duplicates.is_empty());

        // A re-derived alert carries the same id; a batch may even repeat an id itself.
        let mut again = alert(1, 999, Some("192.0.2.9"));
        again.bytes = b"second version".to_vec();
        let second = vec![again, alert(3, 300, None), alert(3, 301, None)];
        let outcome = store.commit_alerts(&second).expect("commit");
        assert_eq!(outcome.inserted, vec![AlertId::new(3)]);
        assert_eq!(outcome.duplicates, vec![AlertId::new(1), AlertId::new(3)]);
        assert_eq!(outcome.last_alert_position, 3);
    }
    let store = open(dir.path());
    let outcome = store
        .commit_alerts(&[alert(2, 200, None)])
        .expect("commit after reopen");
    assert_eq!(outcome.duplicates, vec![AlertId::new(2)]);
    assert_eq!(store.alert_count().expect("count"), 3);
    let kept = store
        .get_alert(AlertId::new(1))
        .expect("get")
        .expect("stored");
    assert_eq!(kept.key, AlertKey::new(100, AlertId::new(1)));
    assert_eq!(kept.bytes, alert(1, 100, None).bytes);
    let from_nine = store
        .alerts_by_source("192.0.2.9".parse().expect("ip"), None, None, 10, None)
        .expect("by source");
    assert!(from_nine.alerts.is_empty());
    assert_consistent(&store);
}

#[test]
fn alerts_come_back_newest_first_across_negative_times_with_paging_and_bounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut mix = Mix(7);
    let mut expected: Vec<(i64, u64)> = Vec::new();
    let mut batch = Vec::new();
    for id in 0..600u64 {
        // Times straddle the epoch and repeat, so ties are broken by id.
        let time = (mix.below(2_000) as i64 - 1_000) * 1_000_000;
        expected.push((time, id));
        batch.push(alert(id, time, None));
        if batch.len() == 97 {
            store.commit_alerts(&batch).expect("commit");
            batch.clear();
        }
    }
    batch.push(alert(600, i64::MIN, None));
    batch.push(alert(601, i64::MAX, None));
    expected.push((i64::MIN, 600));
    expected.push((i64::MAX, 601));
    store.commit_alerts(&batch).expect("commit");
    expected.sort_unstable_by(|a, b| b.cmp(a));

    let all = store.alerts_range(None, None, 10_000, None).expect("range");
    let got: Vec<(i64, u64)> = all
        .alerts
        .iter()
        .map(|a| (a.key.event_time_micros(), a.key.id().get()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(all.next_cursor, None);
    for stored in &all.alerts {
        let time = stored.key.event_time_micros();
        assert_eq!(stored.bytes, alert(stored.key.id().get(), time, None).bytes);
    }

    // Pages of 7 concatenate to the same list, each page's cursor being its last key.
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.alerts_range(None, None, 7, cursor).expect("page");
        assert!(page.alerts.len() <= 7);
        paged.extend(ids(&page));
        match page.next_cursor {
            Some(next) => {
                assert_eq!(Some(next), page.alerts.last().map(|a| a.key));
                cursor = Some(next);
            }
            None => break,
        }
    }
    let expected_ids: Vec<u64> = expected.iter().map(|&(_, id)| id).collect();
    assert_eq!(paged, expected_ids);

    // Bounds: since inclusive, until exclusive, both in event time.
    let (since, until) = (-250_000_000, 125_000_000);
    let bounded = store
        .alerts_range(Some(since), Some(until), 10_000, None)
        .expect("bounded");
    let expected_bounded: Vec<u64> = expected
        .iter()
        .filter(|&&(t, _)| since <= t && t < until)
        .map(|&(_, id)| id)
        .collect();
    assert!(!expected_bounded.is_empty());
    assert_eq!(ids(&bounded), expected_bounded);
    let before_epoch = store
        .alerts_range(None, Some(0), 10_000, None)
        .expect("before the epoch");
    assert_eq!(
        before_epoch.alerts.len(),
        expected.iter().filter(|&&(t, _)| t < 0).count()
    );
    assert!(
        store
            .alerts_range(Some(10), Some(10), 10, None)
            .expect("empty")
            .alerts
            .is_empty()
    );
    assert!(
        store
            .alerts_range(Some(10), Some(-10), 10, None)
            .expect("inverted")
            .alerts
            .is_empty()
    );
    assert!(
        store
            .alerts_range(None, None, 0, None)
            .expect("limit 0")
            .alerts
            .is_empty()
    );
}

#[test]
fn alerts_by_source_separates_addresses_and_families() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let sources = [
        "192.0.2.1",
        "192.0.2.2",
        "2001:db8::1",
        "::ffff:192.0.2.2",
        "0.0.0.0",
        "255.255.255.255",
    ];
    let mut mix = Mix(11);
    let mut expected: BTreeMap<IpAddr, Vec<(i64, u64)>> = BTreeMap::new();
    let mut batch = Vec::new();
    for id in 0..400u64 {
        let src = sources[mix.below(sources.len() as u64) as usize];
        let time = mix.below(1_000) as i64 - 500;
        let ip: IpAddr = src.parse().expect("ip");
        expected
            .entry(ip.to_canonical())
            .or_default()
            .push((time, id));
        batch.push(alert(id, time, Some(src)));
    }
    store.commit_alerts(&batch).expect("commit");
    for (ip, list) in &mut expected {
        list.sort_unstable_by(|a, b| b.cmp(a));
        let want: Vec<u64> = list.iter().map(|&(_, id)| id).collect();
        let page = store
            .alerts_by_source(*ip, None, None, 1_000, None)
            .expect("by source");
        assert_eq!(ids(&page), want, "{ip}");

        let mut paged = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .alerts_by_source(*ip, None, None, 9, cursor)
                .expect("page");
            paged.extend(ids(&page));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(paged, want, "{ip} paged");

        let bounded = store
            .alerts_by_source(*ip, Some(-100), Some(100), 1_000, None)
            .expect("bounded");
        let want_bounded: Vec<u64> = list
            .iter()
            .filter(|&&(t, _)| (-100..100).contains(&t))
            .map(|&(_, id)| id)
            .collect();
        assert_eq!(ids(&bounded), want_bounded, "{ip} bounded");
    }
    let mapped = store
        .alerts_by_source(
            "::ffff:192.0.2.2".parse().expect("ip"),
            None,
            None,
            1_000,
            None,
        )
        .expect("mapped");
    let plain = store
        .alerts_by_source("192.0.2.2".parse().expect("ip"), None, None, 1_000, None)
        .expect("plain");
    assert_eq!(mapped, plain);
    let unknown = store
        .alerts_by_source("198.51.100.1".parse().expect("ip"), None, None, 1_000, None)
        .expect("unknown");
    assert!(unknown.alerts.is_empty());
}

#[test]
fn outbox_cursors_only_move_forward_and_refuse_positions_not_yet_committed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    store
        .commit_alerts(
            &(1..=5)
                .map(|i| alert(i, i as i64, None))
                .collect::<Vec<_>>(),
        )
        .expect("commit");
    assert_eq!(store.outbox_cursor("ndjson").expect("cursor"), None);
    assert_eq!(store.outbox_ack("ndjson", 4).expect("ack").position, 4);
    let stale = store
        .outbox_ack_with_state("ndjson", 2, b"older")
        .expect("stale ack");
    assert_eq!((stale.position, stale.sink_state.as_slice()), (4, &b""[..]));
    assert_eq!(
        store
            .outbox_cursor("ndjson")
            .expect("cursor")
            .map(|c| c.position),
        Some(4)
    );
    let error = store.outbox_ack("ndjson", 6).expect_err("beyond");
    assert!(
        matches!(&error, StateError::AckBeyondCommitted { name, position: 6, committed: 5 } if name == "ndjson"),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"ndjson\""));
    let next = store.outbox_next("ndjson", 10).expect("next");
    assert_eq!(next.iter().map(|i| i.position).collect::<Vec<_>>(), [5]);
    assert_eq!(store.outbox_next("ndjson", 0).expect("limit 0"), Vec::new());
    // Another output has its own cursor.
    assert_eq!(store.outbox_next("webhook", 100).expect("webhook").len(), 5);
    let names: Vec<String> = store
        .outbox_cursors()
        .expect("cursors")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["ndjson"]);
    assert!(store.remove_outbox("ndjson").expect("remove"));
    assert!(!store.remove_outbox("ndjson").expect("remove again"));
    for bad in ["", &"x".repeat(256)] {
        assert!(matches!(
            store.outbox_ack(bad, 1),
            Err(StateError::InvalidName { what: "output", .. })
        ));
    }
}

#[test]
fn the_outbox_delivers_each_alert_once_in_commit_order_across_reopens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut mix = Mix(3);
    let mut committed: Vec<u64> = Vec::new();
    let mut delivered: Vec<u64> = Vec::new();
    let mut next_id = 0u64;
    for round in 0..6 {
        let store = open(dir.path());
        for _ in 0..5 {
            // Event times jump back and forth, as with several sources and late events;
            // some alerts are re-derived duplicates that must not be delivered twice.
            let mut batch = Vec::new();
            for _ in 0..mix.below(40) {
                if next_id > 0 && mix.below(5) == 0 {
                    let old = mix.below(next_id);
                    batch.push(alert(old, 0, None));
                } else {
                    batch.push(alert(next_id, mix.below(1_000_000) as i64 - 500_000, None));
                    next_id += 1;
                }
            }
            let outcome = store.commit_alerts(&batch).expect("commit");
            committed.extend(outcome.inserted.iter().map(|id| id.get()));
            // Deliver part of what is pending, acknowledging as a file output would.
            let items = store
                .outbox_next("ndjson", mix.below(30) as usize + 1)
                .expect("next");
            for item in &items {
                delivered.push(item.key.id().get());
            }
            if let Some(last) = items.last() {
                store.outbox_ack("ndjson", last.position).expect("ack");
            }
        }
        if round % 2 == 0 {
            store.flush().expect("flush");
        }
    }
    let store = open(dir.path());
    loop {
        let items = store.outbox_next("ndjson", 17).expect("next");
        let Some(last) = items.last() else { break };
        delivered.extend(items.iter().map(|i| i.key.id().get()));
        store.outbox_ack("ndjson", last.position).expect("ack");
    }
    assert_eq!(delivered, committed);
    let unique: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len());
    assert_eq!(store.alert_count().expect("count"), committed.len() as u64);
    assert_consistent(&store);
}

#[test]
fn retention_by_count_and_age_removes_the_oldest_with_their_index_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut mix = Mix(5);
    let mut all: Vec<(i64, u64, &str)> = Vec::new();
    let sources = ["192.0.2.1", "2001:db8::2", "198.51.100.3"];
    for chunk in 0..12u64 {
        let batch: Vec<NewAlert> = (0..250u64)
            .map(|i| {
                let id = chunk * 1_000 + i;
                let time = mix.below(100_000) as i64 * 1_000_000 - 20_000_000_000;
                let src = sources[mix.below(3) as usize];
                all.push((time, id, src));
                alert(id, time, Some(src))
            })
            .collect();
        store.commit_alerts(&batch).expect("commit");
    }
    all.sort_unstable();
    // The output has delivered only the first 100 alerts so far.
    store.outbox_ack("cef", 100).expect("ack");

    // Age first: with "now" at the newest event, keep 50,000 s.
    let now = all.last().map_or(0, |a| a.0);
    let cutoff = now - 50_000_000_000;
    let expected_by_age = all.iter().filter(|a| a.0 < cutoff).count() as u64;
    let report = store
        .apply_retention(None, Some(Duration::from_secs(50_000)), now)
        .expect("retention by age");
    assert_eq!(report.removed_by_age, expected_by_age);
    assert_eq!(report.removed_by_count, 0);
    let kept: Vec<(i64, u64, &str)> = all.iter().copied().filter(|a| a.0 >= cutoff).collect();
    assert_eq!(report.remaining, kept.len() as u64);
    assert_consistent(&store);

    // Then count: keep the newest 700.
    let report = store
        .apply_retention(Some(700), None, now)
        .expect("by count");
    assert_eq!(report.removed_by_count, kept.len() as u64 - 700);
    assert_eq!(report.remaining, 700);
    let survivors = &kept[kept.len() - 700..];
    let removed = &kept[..kept.len() - 700];
    assert_consistent(&store);

    let listed = store.alerts_range(None, None, 10_000, None).expect("range");
    let mut want: Vec<u64> = survivors.iter().map(|a| a.1).collect();
    want.reverse();
    assert_eq!(ids(&listed), want);
    for (_, id, _) in removed.iter().take(50) {
        assert_eq!(store.get_alert(AlertId::new(*id)).expect("get"), None);
    }
    for src in sources {
        let by_source = store
            .alerts_by_source(src.parse().expect("ip"), None, None, 10_000, None)
            .expect("by source");
        assert_eq!(
            by_source.alerts.len(),
            survivors.iter().filter(|a| a.2 == src).count(),
            "{src}"
        );
    }
    // The output resumes with the oldest survivor it has not delivered, in commit order.
    let pending: HashSet<u64> = store
        .outbox_next("cef", 10_000)
        .expect("next")
        .iter()
        .map(|item| item.key.id().get())
        .collect();
    let survivor_ids: HashSet<u64> = survivors.iter().map(|a| a.1).collect();
    assert!(pending.is_subset(&survivor_ids));
    // Retention with nothing to do removes nothing.
    let idle = store
        .apply_retention(Some(700), Some(Duration::from_secs(u64::MAX)), now)
        .expect("idle");
    assert_eq!(
        (idle.removed_by_age, idle.removed_by_count, idle.remaining),
        (0, 0, 700)
    );
    // A removed id may be stored again (it is no longer known).
    let (time, id, _) = removed[0];
    let outcome = store
        .commit_alerts(&[alert(id, time, None)])
        .expect("recommit");
    assert_eq!(outcome.inserted.len(), 1);
    assert_consistent(&store);
}

#[test]
fn an_update_keeps_key_and_outbox_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    store
        .commit_alerts(&[alert(1, 50, Some("192.0.2.1")), alert(2, 60, None)])
        .expect("commit");
    assert!(
        store
            .update_alert(AlertId::new(1), b"{\"count\":2}")
            .expect("update")
    );
    assert!(!store.update_alert(AlertId::new(9), b"x").expect("missing"));
    let stored = store
        .get_alert(AlertId::new(1))
        .expect("get")
        .expect("stored");
    assert_eq!(stored.key, AlertKey::new(50, AlertId::new(1)));
    assert_eq!(stored.bytes, b"{\"count\":2}");
    let items = store.outbox_next("ndjson", 10).expect("next");
    assert_eq!(items[0].position, 1);
    assert_eq!(items[0].bytes, b"{\"count\":2}");
    assert_eq!(store.alert_count().expect("count"), 2);

    // An update in the same commit as the insert applies after it.
    let updates = [vigil_state::AlertUpdate {
        id: AlertId::new(3),
        score: None,
        bytes: b"updated".to_vec(),
    }];
    let outcome = store
        .commit(&Commit {
            new_alerts: &[alert(3, 70, None)],
            alert_updates: &updates,
            ..Commit::default()
        })
        .expect("commit");
    assert_eq!(outcome.updated, vec![AlertId::new(3)]);
    assert_eq!(
        store
            .get_alert(AlertId::new(3))
            .expect("get")
            .map(|a| a.bytes),
        Some(b"updated".to_vec())
    );
    assert_consistent(&store);
}

#[test]
fn checkpoints_do_not_regress_and_can_be_cleared() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    assert_eq!(store.read_checkpoint().expect("read"), None);
    let at = |sequence| Checkpoint {
        sequence,
        ..Checkpoint::default()
    };
    store.write_checkpoint(&at(10)).expect("write");
    store
        .write_checkpoint(&at(10))
        .expect("same sequence again");
    let error = store.write_checkpoint(&at(9)).expect_err("older");
    assert!(
        matches!(
            error,
            StateError::CheckpointRegressed {
                stored: 10,
                offered: 9
            }
        ),
        "{error:?}"
    );
    // A refused checkpoint takes the alerts of its commit down with it.
    let refused = store.commit(&Commit {
        new_alerts: &[alert(1, 1, None)],
        checkpoint: Some(&at(3)),
        ..Commit::default()
    });
    assert!(refused.is_err());
    assert_eq!(store.alert_count().expect("count"), 0);
    assert!(store.clear_checkpoint().expect("clear"));
    assert!(!store.clear_checkpoint().expect("clear again"));
    store.write_checkpoint(&at(3)).expect("after clear");
    assert_eq!(
        store
            .read_checkpoint()
            .expect("read")
            .map(|c| c.checkpoint.sequence),
        Some(3)
    );
    assert_consistent(&store);
}

#[test]
fn a_checkpoint_and_its_alerts_survive_together_without_a_flush() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions {
        flush_every_ms: None,
        ..StoreOptions::default()
    };
    {
        let store = Store::open(dir.path(), &options).expect("open");
        let batch: Vec<NewAlert> = (0..100).map(|i| alert(i, i as i64, None)).collect();
        let checkpoint = Checkpoint {
            sequence: 1_000,
            sources: vec![("eve".into(), 77u64.to_be_bytes().to_vec())],
            ..Checkpoint::default()
        };
        store
            .commit(&Commit {
                new_alerts: &batch,
                checkpoint: Some(&checkpoint),
                ..Commit::default()
            })
            .expect("commit");
        store
            .commit_alerts(&[alert(500, 500, None)])
            .expect("after the checkpoint");
    }
    let store = Store::open(dir.path(), &options).expect("reopen");
    let stored = store.read_checkpoint().expect("read").expect("checkpoint");
    assert_eq!(
        stored.checkpoint.source_state("eve"),
        Some(&77u64.to_be_bytes()[..])
    );
    assert_eq!(stored.last_alert_position, 100);
    let count = store.alert_count().expect("count");
    assert!(count >= 100, "{count}");
    for i in 0..100 {
        assert!(store.get_alert(AlertId::new(i)).expect("get").is_some());
    }
    assert_consistent(&store);
}

#[test]
fn drift_events_are_deduplicated_by_sequence_and_bytes_and_paged_newest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(dir.path());
        for sequence in 0..30u64 {
            let bytes = format!("drift at {sequence}");
            let appended = store
                .append_drift_event(sequence * 100, bytes.as_bytes())
                .expect("append");
            assert_eq!(
                appended,
                DriftAppend::Inserted(DriftKey::new(sequence * 100, 0))
            );
        }
    }
    let store = open(dir.path());
    // After a restart the pool re-derives decisions from sequence 2,500 on.
    for sequence in 25..30u64 {
        let bytes = format!("drift at {sequence}");
        let appended = store
            .append_drift_event(sequence * 100, bytes.as_bytes())
            .expect("append");
        assert_eq!(
            appended,
            DriftAppend::Duplicate(DriftKey::new(sequence * 100, 0))
        );
    }
    let other = store
        .append_drift_event(2_900, b"another decision")
        .expect("append");
    assert_eq!(other, DriftAppend::Inserted(DriftKey::new(2_900, 1)));

    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.drift_events(4, cursor).expect("page");
        keys.extend(page.events.iter().map(|e| e.key));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut expected: Vec<DriftKey> = (0..30u64).map(|s| DriftKey::new(s * 100, 0)).collect();
    expected.push(DriftKey::new(2_900, 1));
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(keys, expected);
    assert_eq!(store.verify().expect("verify").drift_events, 31);
}

#[test]
fn suppressions_can_be_created_read_listed_replaced_and_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    assert_eq!(store.put_suppression("b", b"2").expect("put"), None);
    assert_eq!(store.put_suppression("a", b"1").expect("put"), None);
    assert_eq!(
        store.put_suppression("b", b"3").expect("put"),
        Some(b"2".to_vec())
    );
    assert_eq!(
        store.suppressions().expect("list"),
        vec![
            ("a".to_owned(), b"1".to_vec()),
            ("b".to_owned(), b"3".to_vec())
        ]
    );
    assert!(store.remove_suppression("a").expect("remove"));
    assert!(!store.remove_suppression("a").expect("remove again"));
    assert_eq!(store.suppression("a").expect("get"), None);
    let error = store.put_suppression("", b"x").expect_err("empty name");
    assert!(
        matches!(&error, StateError::InvalidName { what: "suppression", name, .. } if name.is_empty()),
        "{error:?}"
    );
}

#[test]
fn concurrent_writers_retention_and_readers_leave_consistent_indexes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let writers: Vec<_> = (0..2u64)
        .map(|writer| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut mix = Mix(writer + 100);
                for round in 0..40u64 {
                    let batch: Vec<NewAlert> = (0..50u64)
                        .map(|i| {
                            let id = writer << 32 | round << 16 | i;
                            let src = if i % 2 == 0 {
                                "192.0.2.1"
                            } else {
                                "2001:db8::1"
                            };
                            alert(id, mix.below(10_000) as i64, Some(src))
                        })
                        .collect();
                    store.commit_alerts(&batch).expect("commit");
                    if round % 5 == 0 {
                        store
                            .update_alert(AlertId::new(writer << 32 | round << 16), b"updated")
                            .expect("update");
                    }
                }
            })
        })
        .collect();
    let janitor = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..30 {
                store
                    .apply_retention(Some(1_000), None, 0)
                    .expect("retention");
                std::thread::yield_now();
            }
        })
    };
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut delivered = HashSet::new();
            for _ in 0..200 {
                let items = store.outbox_next("ndjson", 64).expect("next");
                for item in &items {
                    assert!(
                        delivered.insert(item.position),
                        "position {} twice",
                        item.position
                    );
                }
                if let Some(last) = items.last() {
                    store.outbox_ack("ndjson", last.position).expect("ack");
                }
                let _ = store.alerts_range(None, None, 20, None).expect("range");
            }
        })
    };
    for handle in writers {
        handle.join().expect("writer");
    }
    janitor.join().expect("janitor");
    reader.join().expect("reader");
    store
        .apply_retention(Some(1_000), None, 0)
        .expect("final retention");
    assert_eq!(store.alert_count().expect("count"), 1_000);
    assert_eq!(store.last_alert_position(), 4_000);
    assert_consistent(&store);
}

/// Keys full of 0xfe and 0xff bytes (times just below the epoch, ids near `u64::MAX`, the
/// broadcast address) across many tree nodes: newest-first reads walk backwards over every
/// node boundary, where the storage engine's own reverse iteration would lose its way.
#[test]
fn newest_first_reads_cross_node_boundaries_with_0xff_heavy_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut mix = Mix(13);
    let sources = [
        "255.255.255.255",
        "255.255.255.254",
        "254.255.255.255",
        "::ffff:255.255.255.255",
    ];
    let mut expected: Vec<(i64, u64)> = Vec::new();
    for chunk in 0..8u64 {
        let batch: Vec<NewAlert> = (0..500u64)
            .map(|i| {
                let id = u64::MAX - (chunk * 500 + i) * (1 + mix.below(3));
                let time = -(mix.below(400) as i64) - 1;
                expected.push((time, id));
                alert(id, time, Some(sources[(i % 4) as usize]))
            })
            .collect();
        store.commit_alerts(&batch).expect("commit");
    }
    expected.sort_unstable_by(|a, b| b.cmp(a));
    expected.dedup_by_key(|entry| entry.1);
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.alerts_range(None, None, 33, cursor).expect("page");
        paged.extend(
            page.alerts
                .iter()
                .map(|a| (a.key.event_time_micros(), a.key.id().get())),
        );
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let stored = store.alert_count().expect("count") as usize;
    assert_eq!(paged.len(), stored);
    let mut sorted = paged.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(paged, sorted);
    for src in sources {
        let ip: IpAddr = src.parse().expect("ip");
        let mut total = 0;
        let mut cursor = None;
        loop {
            let page = store
                .alerts_by_source(ip, Some(-300), None, 41, cursor)
                .expect("by source");
            total += page.alerts.len();
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert!(total > 0, "{src}");
    }
    for sequence in 0..3_000u64 {
        store
            .append_drift_event(u64::MAX - sequence, &[0xff; 8])
            .expect("drift");
    }
    let mut drift = 0;
    let mut cursor = None;
    loop {
        let page = store.drift_events(97, cursor).expect("drift page");
        drift += page.events.len();
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(drift, 3_000);
    assert!(store.alert_key_span().expect("span").is_some());
    assert_consistent(&store);
}
