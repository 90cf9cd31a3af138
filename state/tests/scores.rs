//! The score index through the public API: order and ties, paging, filters, updates that
//! move an alert, retention, the integrity check, and the upgrade of a store written
//! before the index existed (schema version 1).

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::{Mix, assert_consistent, open};
use vigil_state::{
    AlertId, AlertKey, AlertUpdate, Commit, NewAlert, SCHEMA_VERSION, ScoreCursor, ScorePage,
    StateError, Store, StoreOptions,
};

/// An alert whose bytes hold its score as JSON, as the daemon's do.
fn scored(id: u64, time: i64, score: f64, src: Option<&str>) -> NewAlert {
    NewAlert {
        id: AlertId::new(id),
        event_time_micros: time,
        src_ip: src.map(|s| s.parse::<IpAddr>().expect("test address")),
        score,
        bytes: format!("{{\"id\":\"{id:016x}\",\"score\":{score}}}").into_bytes(),
    }
}

/// The score member of the test alerts' bytes.
fn read_score(bytes: &[u8]) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value.get("score")?.as_f64()
}

fn with_reader() -> StoreOptions {
    StoreOptions {
        score_reader: Some(read_score),
        ..StoreOptions::default()
    }
}

/// The order the index promises: score descending, then event time, then id descending.
fn expected_order(alerts: &[NewAlert]) -> Vec<u64> {
    let mut sorted: Vec<&NewAlert> = alerts.iter().collect();
    sorted.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.event_time_micros.cmp(&a.event_time_micros))
            .then(b.id.cmp(&a.id))
    });
    sorted.iter().map(|a| a.id.get()).collect()
}

/// Every page of a walk with `limit`, through `next`.
fn walk(
    limit: usize,
    mut next: impl FnMut(usize, Option<ScoreCursor>) -> ScorePage,
) -> (Vec<u64>, Vec<f64>, usize) {
    let (mut ids, mut scores, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut cursor = None;
    loop {
        let page = next(limit, cursor);
        pages += 1;
        assert!(page.alerts.len() <= limit);
        for alert in &page.alerts {
            ids.push(alert.key.id().get());
            scores.push(alert.score);
            // The JSON text of a score may read back one rounding step off.
            let read = read_score(&alert.bytes).expect("a score in the bytes");
            assert!((read - alert.score).abs() < 1e-12, "{read} {}", alert.score);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (ids, scores, pages),
        }
        assert!(pages < 10_000, "the walk does not end");
    }
}

/// Alerts with scores drawn from a few values (many ties), times that repeat and go
/// negative, ids that hold 0xfe and 0xff bytes, three sources.
fn sample(n: u64) -> Vec<NewAlert> {
    let mut mix = Mix(42);
    let sources = ["192.0.2.1", "::ffff:192.0.2.2", "2001:db8::3"];
    (0..n)
        .map(|i| {
            let id = if i % 5 == 0 { u64::MAX - i } else { mix.next() };
            let time = mix.below(40) as i64 - 10;
            let score = [0.0, 0.25, 0.5, 0.9, 0.99, 1.0][mix.below(6) as usize];
            let src = sources[mix.below(3) as usize];
            scored(id, time, score, Some(src))
        })
        .collect()
}

#[test]
fn pages_come_highest_score_first_with_ties_newest_first_in_every_page_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let alerts = sample(300);
    store.commit_alerts(&alerts).expect("commit");
    let expected = expected_order(&alerts);
    for limit in [1, 7, 300, 500] {
        let (ids, scores, pages) = walk(limit, |limit, cursor| {
            store
                .alerts_by_score(None, None, None, limit, cursor)
                .expect("page")
        });
        assert_eq!(ids, expected, "limit {limit}");
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "limit {limit}");
        assert_eq!(pages, 300usize.div_ceil(limit), "limit {limit}");
    }
    assert_consistent(&store);
}

#[test]
fn min_score_and_time_bounds_filter_in_score_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let alerts = sample(200);
    store.commit_alerts(&alerts).expect("commit");
    for (min, since, until) in [
        (Some(0.9), None, None),
        (Some(0.5), Some(0), Some(20)),
        (None, Some(-5), None),
        (Some(1.0), None, Some(0)),
        (Some(0.0), None, None),
    ] {
        let kept: Vec<NewAlert> = alerts
            .iter()
            .filter(|a| {
                min.is_none_or(|m| a.score >= m)
                    && since.is_none_or(|s| a.event_time_micros >= s)
                    && until.is_none_or(|u| a.event_time_micros < u)
            })
            .cloned()
            .collect();
        for limit in [1, 9, 1_000] {
            let (ids, _, _) = walk(limit, |limit, cursor| {
                store
                    .alerts_by_score(min, since, until, limit, cursor)
                    .expect("page")
            });
            assert_eq!(ids, expected_order(&kept), "{min:?} {since:?} {until:?}");
        }
    }
    // A minimum above every score gives nothing; a cursor past the minimum too.
    let page = store
        .alerts_by_score(Some(1.5), None, None, 10, None)
        .expect("page");
    assert_eq!(page, ScorePage::default());
    let low = ScoreCursor::new(0.1, AlertKey::new(0, AlertId::new(0)));
    let page = store
        .alerts_by_score(Some(0.5), None, None, 10, Some(low))
        .expect("page");
    assert_eq!(page, ScorePage::default());
}

#[test]
fn by_source_pages_match_the_filtered_index_and_fold_mapped_addresses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let alerts = sample(250);
    store.commit_alerts(&alerts).expect("commit");
    for (src, matching) in [
        ("192.0.2.2", "::ffff:192.0.2.2"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:db8::3", "2001:db8::3"),
    ] {
        let ip: IpAddr = src.parse().expect("address");
        let wanted: IpAddr = matching.parse().expect("address");
        for (min, since, until) in [(None, None, None), (Some(0.5), Some(-3), Some(25))] {
            let kept: Vec<NewAlert> = alerts
                .iter()
                .filter(|a| {
                    a.src_ip == Some(wanted)
                        && min.is_none_or(|m| a.score >= m)
                        && since.is_none_or(|s| a.event_time_micros >= s)
                        && until.is_none_or(|u| a.event_time_micros < u)
                })
                .cloned()
                .collect();
            assert!(!kept.is_empty());
            for limit in [1, 7, 500] {
                let (ids, _, pages) = walk(limit, |limit, cursor| {
                    store
                        .alerts_by_source_and_score(ip, min, since, until, limit, cursor)
                        .expect("page")
                });
                assert_eq!(ids, expected_order(&kept), "{src} {min:?} limit {limit}");
                // Pages are full until the last.
                assert_eq!(pages, kept.len().div_ceil(limit).max(1), "{src} {limit}");
            }
        }
    }
    let nobody: IpAddr = "198.51.100.1".parse().expect("address");
    let page = store
        .alerts_by_source_and_score(nobody, None, None, None, 10, None)
        .expect("page");
    assert_eq!(page, ScorePage::default());
}

#[test]
fn an_update_with_a_score_moves_the_alert_and_one_without_keeps_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), &with_reader()).expect("open");
    let alerts = [
        scored(1, 10, 0.3, None),
        scored(2, 20, 0.6, Some("192.0.2.9")),
        scored(3, 30, 0.9, None),
    ];
    store.commit_alerts(&alerts).expect("commit");
    let order = |store: &Store| -> Vec<(u64, f64)> {
        store
            .alerts_by_score(None, None, None, 10, None)
            .expect("page")
            .alerts
            .iter()
            .map(|a| (a.key.id().get(), a.score))
            .collect()
    };
    assert_eq!(order(&store), [(3, 0.9), (2, 0.6), (1, 0.3)]);

    // A repeat raises alert 1 above the others, in the same commit as a new alert.
    let update = [AlertUpdate {
        id: AlertId::new(1),
        score: Some(0.95),
        bytes: br#"{"id":"1","score":0.95}"#.to_vec(),
    }];
    let outcome = store
        .commit(&Commit {
            new_alerts: &[scored(4, 5, 0.95, None)],
            alert_updates: &update,
            ..Commit::default()
        })
        .expect("commit");
    assert_eq!(outcome.updated, [AlertId::new(1)]);
    assert_eq!(
        order(&store),
        [(1, 0.95), (4, 0.95), (3, 0.9), (2, 0.6)],
        "equal scores: the newer event time first"
    );

    // An analyst's edit keeps the indexed score; so does an update to the same score.
    assert!(
        store
            .update_alert(AlertId::new(2), br#"{"id":"2","score":0.6,"note":"x"}"#)
            .expect("update")
    );
    let same = [AlertUpdate {
        id: AlertId::new(3),
        score: Some(0.9),
        bytes: br#"{"id":"3","score":0.9}"#.to_vec(),
    }];
    store
        .commit(&Commit {
            alert_updates: &same,
            ..Commit::default()
        })
        .expect("commit");
    assert_eq!(order(&store), [(1, 0.95), (4, 0.95), (3, 0.9), (2, 0.6)]);
    let by_source = store
        .alerts_by_source_and_score(
            "192.0.2.9".parse().expect("address"),
            None,
            None,
            None,
            10,
            None,
        )
        .expect("page");
    assert_eq!(by_source.alerts.len(), 1);
    assert_eq!(by_source.alerts[0].score, 0.6);

    // A lower score (a restart rewriting an open alert as the checkpoint had it) moves it
    // down again.
    let lower = [AlertUpdate {
        id: AlertId::new(1),
        score: Some(0.1),
        bytes: br#"{"id":"1","score":0.1}"#.to_vec(),
    }];
    store
        .commit(&Commit {
            alert_updates: &lower,
            ..Commit::default()
        })
        .expect("commit");
    assert_eq!(order(&store), [(4, 0.95), (3, 0.9), (2, 0.6), (1, 0.1)]);
    let report = store.verify().expect("verify");
    assert!(report.is_consistent(), "{report:#?}");
    assert_eq!(report.score_entries, 4);
}

#[test]
fn retention_removes_score_entries_with_their_alerts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), &with_reader()).expect("open");
    let alerts: Vec<NewAlert> = (0..1_200u64)
        .map(|i| scored(i, i as i64, (i % 97) as f64 / 96.0, Some("192.0.2.1")))
        .collect();
    store.commit_alerts(&alerts).expect("commit");
    let report = store
        .apply_retention(Some(500), None, 0)
        .expect("retention");
    assert_eq!(report.remaining, 500);
    let kept: Vec<NewAlert> = alerts[700..].to_vec();
    let (ids, _, _) = walk(1_000, |limit, cursor| {
        store
            .alerts_by_score(None, None, None, limit, cursor)
            .expect("page")
    });
    assert_eq!(ids, expected_order(&kept));
    let ip = "192.0.2.1".parse().expect("address");
    let (ids, _, _) = walk(64, |limit, cursor| {
        store
            .alerts_by_source_and_score(ip, None, None, None, limit, cursor)
            .expect("page")
    });
    assert_eq!(ids, expected_order(&kept));
    let verified = store.verify().expect("verify");
    assert!(verified.is_consistent(), "{verified:#?}");
    assert_eq!(verified.score_entries, 500);
}

/// Opens the database with the engine directly (the store's handle must be dropped; its
/// lock goes a moment later, from background threads).
fn raw_open(dir: &Path) -> sled::Db {
    let mut attempts = 0;
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(error) if attempts < 100 => {
                attempts += 1;
                eprintln!("waiting for the lock: {error}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("raw open: {error}"),
        }
    }
}

#[test]
fn verify_reports_a_missing_a_stray_and_a_wrong_score_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(dir.path());
        store
            .commit_alerts(&[scored(1, 10, 0.5, None), scored(2, 20, 0.7, None)])
            .expect("commit");
        store.flush().expect("flush");
    }
    {
        let db = raw_open(dir.path());
        let by_score = db.open_tree("alerts_by_score").expect("tree");
        let scores = db.open_tree("alert_scores").expect("tree");
        // Alert 1 loses its index entry; a stray entry appears; alert 2's recorded score
        // no longer matches its bytes.
        let first = by_score
            .iter()
            .keys()
            .last()
            .expect("an entry")
            .expect("key");
        by_score.remove(first).expect("remove");
        by_score.insert([1u8, 2, 3], &[][..]).expect("insert");
        scores
            .insert(
                AlertId::new(2).to_bytes(),
                &0.25f64.to_bits().to_be_bytes()[..],
            )
            .expect("insert");
        db.flush().expect("flush");
    }
    let store = Store::open(dir.path(), &with_reader()).expect("reopen");
    let report = store.verify().expect("verify");
    assert!(!report.is_consistent());
    let text = report.problems.join("\n");
    assert!(
        text.contains("alerts_by_score: no entry for alert"),
        "{text}"
    );
    assert!(text.contains("alerts_by_score: entry 010203"), "{text}");
    assert!(
        text.contains("is indexed at score 0.25 but its bytes hold Some(0.7)"),
        "{text}"
    );
}

/// Turns a store written by this build into one written before the score index: the
/// score trees go and the recorded version is 1, which is exactly the version 1 layout.
fn make_version_1(dir: &Path) {
    let db = raw_open(dir);
    assert!(db.drop_tree("alerts_by_score").expect("drop"));
    assert!(db.drop_tree("alert_scores").expect("drop"));
    db.open_tree("meta")
        .expect("meta")
        .insert("schema_version", &1u32.to_be_bytes()[..])
        .expect("insert");
    db.flush().expect("flush");
}

fn recorded_version(dir: &Path) -> u32 {
    let db = raw_open(dir);
    let value = db
        .open_tree("meta")
        .expect("meta")
        .get("schema_version")
        .expect("read")
        .expect("a version");
    u32::from_be_bytes(value.as_ref().try_into().expect("4 bytes"))
}

#[test]
fn a_version_1_store_is_upgraded_at_open_with_the_callers_score_reader() {
    assert_eq!(SCHEMA_VERSION, 2);
    let dir = tempfile::tempdir().expect("temp dir");
    // More alerts than one upgrade batch.
    let alerts: Vec<NewAlert> = (0..5_000u64)
        .map(|i| {
            let src = ["192.0.2.1", "192.0.2.2"][(i % 2) as usize];
            scored(i, (i % 300) as i64, (i % 101) as f64 / 100.0, Some(src))
        })
        .collect();
    {
        let store = open(dir.path());
        for chunk in alerts.chunks(1_000) {
            store.commit_alerts(chunk).expect("commit");
        }
        store.flush().expect("flush");
    }
    make_version_1(dir.path());
    assert_eq!(recorded_version(dir.path()), 1);

    // Without a reader the store is refused, naming the path and both versions.
    let error = Store::open(dir.path(), &StoreOptions::default()).expect_err("refused");
    assert!(
        matches!(
            &error,
            StateError::UpgradeNeedsScoreReader { path, found: 1, supported: 2 } if path == dir.path()
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("score reader"), "{error}");

    // A reader that cannot read one alert leaves the store at version 1, unchanged.
    fn picky(bytes: &[u8]) -> Option<f64> {
        read_score(bytes).filter(|score| *score != 0.42)
    }
    let options = StoreOptions {
        score_reader: Some(picky),
        ..StoreOptions::default()
    };
    let error = Store::open(dir.path(), &options).expect_err("an alert is unreadable");
    assert!(
        matches!(&error, StateError::UpgradeUnreadableAlert { path, .. } if path == dir.path()),
        "{error:?}"
    );
    assert_eq!(recorded_version(dir.path()), 1);

    let store = Store::open(dir.path(), &with_reader()).expect("upgraded");
    assert_eq!(store.upgraded_from(), Some((1, 5_000)));
    let report = store.verify().expect("verify");
    assert!(report.is_consistent(), "{report:#?}");
    assert_eq!(report.score_entries, 5_000);
    let (ids, _, _) = walk(1_000, |limit, cursor| {
        store
            .alerts_by_score(None, None, None, limit, cursor)
            .expect("page")
    });
    assert_eq!(ids, expected_order(&alerts));
    // It keeps working as a current store: new alerts are indexed with the old ones.
    store
        .commit_alerts(&[scored(9_999, 1, 2.0, None)])
        .expect("commit");
    let top = store
        .alerts_by_score(None, None, None, 1, None)
        .expect("page");
    assert_eq!(top.alerts[0].key.id(), AlertId::new(9_999));
    drop(store);
    assert_eq!(recorded_version(dir.path()), SCHEMA_VERSION);
    let again = Store::open(dir.path(), &StoreOptions::default()).expect("current store");
    assert_eq!(again.upgraded_from(), None);
    assert_consistent(&again);
}
