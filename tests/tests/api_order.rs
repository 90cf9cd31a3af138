//! `GET /api/v1/alerts?order=score` against the real `vigil run` (a followed Cowrie file,
//! the rules alone, the API on an ephemeral port): pages in score order return every stored
//! alert exactly once, scores never increasing and equal scores newest first, across page
//! sizes 1, 7 and 500, with `min_score` and `src_ip`; a cursor of the other order and an
//! unknown order are 400.
//!
//! The helpers are copied from `api.rs`, which other work owns.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use daemon::{append, burst, settle, setup, start, wait_exit, walk_pages};
use web::{assert_error, get, request_token};

const TOKEN: &str = "test-token-0123456789abcdef";

/// One alert of a walk: id, score and event time (RFC 3339, which sorts as time does).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    id: String,
    score: f64,
    event_time: String,
}

/// Every alert of a walk through the pages of `/api/v1/alerts?limit=..{query}`, in order,
/// and the number of pages.
fn walk(addr: SocketAddr, query: &str, limit: usize) -> (Vec<Seen>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    walk_pages(addr, query, limit, &mut |page| {
        pages += 1;
        seen.extend(
            page["alerts"]
                .as_array()
                .expect("alerts")
                .iter()
                .map(|a| Seen {
                    id: a["id"].as_str().expect("id").to_string(),
                    score: a["score"].as_f64().expect("score"),
                    event_time: a["event_time"].as_str().expect("event time").to_string(),
                }),
        );
        if page["next_cursor"].is_string() {
            assert!(pages < 10_000, "the walk does not end: {query}");
        }
    });
    (seen, pages)
}

/// Asserts the score order: scores never increase, equal scores come newest first, and no
/// alert comes twice.
fn assert_score_order(seen: &[Seen], what: &str) {
    for pair in seen.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(a.score >= b.score, "{what}: {a:?} before {b:?}");
        if a.score == b.score {
            assert!(a.event_time >= b.event_time, "{what}: {a:?} before {b:?}");
        }
    }
    let ids: BTreeSet<&str> = seen.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), seen.len(), "{what}: an alert came twice");
}

fn ids(seen: &[Seen]) -> BTreeSet<String> {
    seen.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn score_order_pages_every_alert_once_highest_first() {
    let setup = setup(&format!("token = \"{TOKEN}\"\nmax_page = 500"));
    // 60 addresses reach the threshold only (ORANGE, 0.95); 40 go on to escalate (a second
    // alert each, RED, 0.99), later in event time.
    append(&setup.log, &burst("203.0.113", 60, 6, 0));
    append(&setup.log, &burst("198.51.100", 40, 30, 100));
    let (mut child, addr) = start(&setup);
    let status = settle(addr, 60 * 6 + 40 * 30);
    let stored = status["store"]["alert_count"]
        .as_u64()
        .expect("alert count") as usize;
    assert!(stored >= 100, "{status}");

    let (newest, _) = walk(addr, "", 500);
    assert_eq!(newest.len(), stored);
    let everything = ids(&newest);
    assert_eq!(everything.len(), stored);
    let distinct_scores: BTreeSet<u64> = newest.iter().map(|s| s.score.to_bits()).collect();
    assert!(
        distinct_scores.len() >= 2,
        "scores to order: {distinct_scores:?}"
    );

    for limit in [1, 7, 500] {
        let (by_score, pages) = walk(addr, "&order=score", limit);
        let what = format!("order=score, limit={limit}");
        assert_score_order(&by_score, &what);
        assert_eq!(ids(&by_score), everything, "{what}");
        assert_eq!(pages, stored.div_ceil(limit), "{what}: full pages");
        // The highest score first, which newest-first order does not give here.
        let top = newest.iter().map(|s| s.score).fold(f64::MIN, f64::max);
        assert_eq!(by_score[0].score, top, "{what}");
    }

    // min_score ends the scan; the same alerts as the newest-first filter.
    let (high, _) = walk(addr, "&order=score&min_score=0.99", 7);
    assert_score_order(&high, "min_score");
    assert!(!high.is_empty() && high.iter().all(|s| s.score >= 0.99));
    let (high_newest, _) = walk(addr, "&min_score=0.99", 500);
    assert_eq!(ids(&high), ids(&high_newest));
    assert!(high.len() < stored);

    // One source: its escalated (RED) alert before its first one.
    let (one, _) = walk(addr, "&order=score&src_ip=198.51.100.9", 1);
    assert_eq!(one.len(), 2, "{one:?}");
    assert_score_order(&one, "src_ip");
    assert!(one[0].score > one[1].score, "{one:?}");

    // The destination port filter: every alert here went to port 22, none to 23, in
    // either order.
    for order in ["", "&order=score"] {
        let (to_ssh, _) = walk(addr, &format!("&dst_port=22{order}"), 7);
        assert_eq!(ids(&to_ssh), everything, "dst_port=22{order}");
        let (to_telnet, _) = walk(addr, &format!("&dst_port=23{order}"), 7);
        assert!(to_telnet.is_empty(), "dst_port=23{order}: {to_telnet:?}");
    }
    assert_error(
        &get(addr, "/api/v1/alerts?dst_port=70000"),
        400,
        "bad_request",
        "parameter `dst_port`",
    );

    // A cursor belongs to its order; an unknown order is refused.
    let newest_page = get(addr, "/api/v1/alerts?limit=3").json();
    let newest_cursor = newest_page["next_cursor"].as_str().expect("a cursor");
    let score_page = get(addr, "/api/v1/alerts?limit=3&order=score").json();
    let score_cursor = score_page["next_cursor"].as_str().expect("a cursor");
    assert_ne!(newest_cursor, score_cursor);
    assert_error(
        &get(
            addr,
            &format!("/api/v1/alerts?order=score&cursor={newest_cursor}"),
        ),
        400,
        "bad_request",
        "order=newest",
    );
    for query in [
        format!("cursor={score_cursor}"),
        format!("order=newest&cursor={score_cursor}"),
    ] {
        assert_error(
            &get(addr, &format!("/api/v1/alerts?{query}")),
            400,
            "bad_request",
            "order=score",
        );
    }
    assert_error(
        &get(addr, "/api/v1/alerts?order=bogus"),
        400,
        "bad_request",
        "parameter `order`",
    );
    assert_error(
        &get(addr, "/api/v1/alerts?order=score&order=newest"),
        400,
        "bad_request",
        "more than once",
    );
    // The score cursor continues where its page ended.
    let next = get(
        addr,
        &format!("/api/v1/alerts?order=score&limit=500&cursor={score_cursor}"),
    )
    .json();
    assert_eq!(
        next["alerts"].as_array().map(Vec::len),
        Some(stored - 3),
        "{next}"
    );

    let response = request_token(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202, "{}", response.text());
    let exit = wait_exit(&mut child, Duration::from_secs(60));
    assert!(exit.success(), "{exit}");
    drop(setup);
}
