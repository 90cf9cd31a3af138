//! Statistics, suppressions and the allowlist through the admin API of the real `vigil
//! run` (ephemeral port, temporary state directory, Cowrie logs with known event times).
//!
//! The summary, time series and top lists count what was fed, in event time, with deltas to
//! the previous window; bad windows, buckets and `by` values get 400 naming the parameter.
//! Suppressions need the token, validate their body naming the field, drop the alerts they
//! cover (counted by reason), survive a restart, and stop dropping once deleted; the
//! configured allowlist is never alerted on.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::Duration;

use daemon::{Setup, append, burst, failed_logins, settle, setup_with, start, wait_exit};
use serde_json::Value;
use vigil_tests::vigil_bin;
use web::{Response, assert_error, get, request_token};

const TOKEN: &str = "test-token-0123456789abcdef";

/// Every stored alert, through the pages.
fn all_alerts(addr: SocketAddr) -> Vec<Value> {
    let mut alerts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/alerts?limit=500".to_string();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = get(addr, &path);
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        let page = page.json();
        alerts.extend(page["alerts"].as_array().expect("alerts").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return alerts,
        }
    }
}

/// Events that raised an alert (each alert of this config stands for one finding, no
/// cooldown): distinct (source, event time) pairs among alerts whose event time is in
/// `[since, until)`.
fn alerted_events(alerts: &[Value], since: &str, until: &str) -> u64 {
    let time = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
    };
    let (since, until) = (time(since), time(until));
    let mut events = BTreeSet::new();
    for alert in alerts {
        let at = time(alert["event_time"].as_str().expect("event time"));
        if at >= since && at < until {
            events.insert((alert["src_ip"].to_string(), at));
        }
    }
    events.len() as u64
}

fn post_json(addr: SocketAddr, path: &str, token: Option<&str>, body: &Value) -> Response {
    request_token(addr, "POST", path, token, Some(body.to_string().as_bytes()))
}

fn shut_down(mut child: Child, addr: SocketAddr, setup: &Setup) {
    let response = request_token(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202, "{}", response.text());
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let text = std::fs::read_to_string(&setup.vigil_log).unwrap_or_default();
    assert!(exit.success(), "exit {exit}: {text}");
}

#[test]
fn summary_timeseries_and_top_lists_count_in_event_time() {
    let setup = setup_with(&format!("token = \"{TOKEN}\""), "");
    // The previous hour: 2 sources, 6 failed logins each, in the minute from 00:00.
    append(&setup.log, &burst("192.0.2", 2, 6, 0));
    // The current hour: 3 sources, 10 each, in the minute from 01:00.
    append(&setup.log, &burst("203.0.113", 3, 10, 3_600));
    // And once more from the first of them, 40 s later: a second alert.
    append(&setup.log, &failed_logins("203.0.113.1", 3_640, 10, 100));
    let (child, addr) = start(&setup);
    settle(addr, 52);
    let alerts = all_alerts(addr);
    assert!(!alerts.is_empty(), "the bursts raise alerts");
    let (t0, t1, t2) = (
        "2026-03-01T00:00:00Z",
        "2026-03-01T01:00:00Z",
        "2026-03-01T02:00:00Z",
    );
    let anomalies_before = alerted_events(&alerts, t0, t1);
    let anomalies_now = alerted_events(&alerts, t1, t2);
    assert!(
        anomalies_before >= 2 && anomalies_now >= 3,
        "{anomalies_before} {anomalies_now}: {alerts:?}"
    );

    // Summary: the window ends with the minute of the latest event.
    let summary = get(addr, "/api/v1/stats/summary?window=1h");
    assert_eq!(summary.status, 200, "{}", summary.text());
    let summary = summary.json();
    assert_eq!(summary["window"], "1h");
    assert_eq!(summary["window_secs"], 3_600);
    assert_eq!(summary["until"], "2026-03-01T01:01:00Z");
    assert_eq!(summary["since"], "2026-03-01T00:01:00Z");
    assert_eq!(summary["previous"]["since"], "2026-02-28T23:01:00Z");
    assert_eq!(summary["previous"]["until"], "2026-03-01T00:01:00Z");
    assert_eq!(
        summary["events"],
        serde_json::json!({"value": 40, "previous": 12, "delta": 28})
    );
    assert_eq!(
        summary["anomalies"],
        serde_json::json!({
            "value": anomalies_now,
            "previous": anomalies_before,
            "delta": anomalies_now as i64 - anomalies_before as i64,
        })
    );
    assert_eq!(
        summary["distinct_sources"],
        serde_json::json!({"value": 3, "previous": 2, "delta": 1, "estimated": false})
    );
    assert_eq!(
        summary["mean_score"],
        serde_json::json!({"value": null, "previous": null, "delta": null}),
        "the pool is off: nothing scored"
    );
    assert_eq!(summary["alerts_suppressed"], serde_json::json!({}));
    assert_eq!(summary["events_not_counted"], 0);
    // An explicit end.
    let early = get(
        addr,
        "/api/v1/stats/summary?window=30m&until=2026-03-01T00:30:00Z",
    )
    .json();
    assert_eq!(
        early["events"],
        serde_json::json!({"value": 12, "previous": 0, "delta": 12})
    );

    // Time series: hourly buckets over the two hours, then the default day of 5m buckets.
    let series = get(
        addr,
        "/api/v1/stats/timeseries?bucket=1h&since=2026-03-01T00:00:00Z&until=2026-03-01T02:00:00Z",
    );
    assert_eq!(series.status, 200, "{}", series.text());
    let series = series.json();
    assert_eq!(series["bucket_secs"], 3_600);
    assert_eq!(series["distinct_sources_estimated"], false);
    assert_eq!(
        series["points"],
        serde_json::json!([
            {"start": t0, "events": 12, "anomalies": anomalies_before, "mean_score": null, "distinct_sources": 2},
            {"start": t1, "events": 40, "anomalies": anomalies_now, "mean_score": null, "distinct_sources": 3},
        ])
    );
    let day = get(addr, "/api/v1/stats/timeseries").json();
    assert_eq!(day["bucket"], "5m");
    assert_eq!(day["until"], "2026-03-01T01:05:00Z");
    assert_eq!(day["since"], "2026-02-28T01:05:00Z");
    let points = day["points"].as_array().expect("points");
    assert_eq!(points.len(), 288);
    let total: u64 = points
        .iter()
        .map(|p| p["events"].as_u64().expect("n"))
        .sum();
    assert_eq!(total, 52);

    // Top lists over both hours.
    let mut per_ip: Vec<(String, u64)> = Vec::new();
    for alert in &alerts {
        let ip = alert["src_ip"].as_str().expect("src_ip").to_string();
        match per_ip.iter_mut().find(|(i, _)| *i == ip) {
            Some((_, n)) => *n += 1,
            None => per_ip.push((ip, 1)),
        }
    }
    let total_alerts = alerts.len() as u64;
    let top = get(addr, "/api/v1/stats/top?by=src_ip&window=2h&limit=2");
    assert_eq!(top.status, 200, "{}", top.text());
    let top = top.json();
    assert_eq!(top["by"], "src_ip");
    assert_eq!(top["alerts_scanned"], total_alerts);
    assert_eq!(top["truncated"], false);
    let entries = top["top"].as_array().expect("top");
    assert_eq!(entries.len(), 2);
    let listed: u64 = entries
        .iter()
        .map(|e| e["alerts"].as_u64().expect("n"))
        .sum();
    assert_eq!(top["other_alerts"], total_alerts - listed);
    for entry in entries {
        let ip = entry["value"].as_str().expect("an address");
        let expected = per_ip.iter().find(|(i, _)| i == ip).expect("listed").1;
        assert_eq!(entry["alerts"], expected, "{entry}");
    }
    assert_eq!(entries[0]["value"], "203.0.113.1", "two bursts: {top}");
    assert!(entries[0]["alerts"].as_u64() >= Some(2), "{top}");
    // Ties rank by value.
    assert_eq!(entries[1]["value"], "192.0.2.1", "{top}");
    let ports = get(addr, "/api/v1/stats/top?by=dst_port&window=2h").json();
    assert_eq!(
        ports["top"][0],
        serde_json::json!({"value": 22, "alerts": total_alerts, "events": total_alerts})
    );
    let countries = get(addr, "/api/v1/stats/top?by=country&window=2h").json();
    assert_eq!(countries["top"], serde_json::json!([]));
    assert_eq!(
        countries["unknown_alerts"], total_alerts,
        "no GeoIP configured"
    );
    let recent = get(addr, "/api/v1/stats/top?by=src_ip&window=1h&limit=10").json();
    assert_eq!(
        recent["top"].as_array().expect("top").len(),
        3,
        "only the current hour's sources"
    );

    // Bad parameters name themselves.
    for (path, mentions) in [
        ("/api/v1/stats/summary?window=5x", "window"),
        ("/api/v1/stats/summary?window=90s", "window"),
        ("/api/v1/stats/summary?window=8d", "window"),
        ("/api/v1/stats/summary?window=1h&window=2h", "window"),
        ("/api/v1/stats/summary?until=yesterday", "until"),
        ("/api/v1/stats/summary?span=1h", "span"),
        ("/api/v1/stats/timeseries?bucket=0m", "bucket"),
        (
            "/api/v1/stats/timeseries?bucket=1m&since=2026-01-01T00:00:00Z",
            "bucket",
        ),
        (
            "/api/v1/stats/timeseries?since=2026-03-01T01:00:00Z&until=2026-03-01T01:00:00Z",
            "until",
        ),
        ("/api/v1/stats/top", "by"),
        ("/api/v1/stats/top?by=asn", "by"),
        ("/api/v1/stats/top?by=src_ip&limit=0", "limit"),
        ("/api/v1/stats/top?by=src_ip&window=1", "window"),
    ] {
        assert_error(&get(addr, path), 400, "bad_request", mentions);
    }
    shut_down(child, addr, &setup);
    drop(setup.dir);
}

#[test]
fn suppressions_and_the_allowlist_drop_alerts_and_count_them() {
    let setup = setup_with(
        &format!("token = \"{TOKEN}\"\nmax_body_bytes = 1024"),
        "allowlist = [\"198.51.100.0/24\"]",
    );
    let (child, addr) = start(&setup);

    let listed = get(addr, "/api/v1/suppressions").json();
    assert_eq!(
        listed,
        serde_json::json!({
            "suppressions": [],
            "allowlist": ["198.51.100.0/24"],
            "alerts_suppressed": {},
        })
    );

    // Creating one needs the token and a valid body.
    let red_team = serde_json::json!({"src_cidr": "203.0.113.0/24", "reason": "red team exercise"});
    assert_error(
        &post_json(addr, "/api/v1/suppressions", None, &red_team),
        401,
        "unauthorized",
        "Bearer",
    );
    for (body, mentions) in [
        (
            serde_json::json!({"src_cidr": "203.0.113.0/33", "reason": "x"}),
            "src_cidr",
        ),
        (serde_json::json!({"src_cidr": "203.0.113.0/24"}), "reason"),
        (
            serde_json::json!({"src_cidr": "203.0.113.0/24", "reason": "x", "until": "soon"}),
            "until",
        ),
        (
            serde_json::json!({"src_cidr": "203.0.113.0/24", "reason": "x", "cidr": "1"}),
            "cidr",
        ),
    ] {
        let response = post_json(addr, "/api/v1/suppressions", Some(TOKEN), &body);
        assert_error(&response, 400, "bad_request", mentions);
    }
    let huge = serde_json::json!({"src_cidr": "203.0.113.0/24", "reason": "r".repeat(2_000)});
    assert_error(
        &post_json(addr, "/api/v1/suppressions", Some(TOKEN), &huge),
        413,
        "payload_too_large",
        "api.max_body_bytes",
    );
    let created = post_json(addr, "/api/v1/suppressions", Some(TOKEN), &red_team);
    assert_eq!(created.status, 201, "{}", created.text());
    let location = created.header("location").map(str::to_string);
    let created = created.json();
    let red_team_id = created["id"].as_str().expect("id").to_string();
    assert_eq!(
        location,
        Some(format!("/api/v1/suppressions/{red_team_id}"))
    );
    assert_eq!(created["src_cidr"], "203.0.113.0/24");
    assert_eq!(created["reason"], "red team exercise");
    assert_eq!(created["suppressed"], 0);
    // Two that do not cover what follows: another detector, and an end in the past.
    for body in [
        serde_json::json!({"src_cidr": "192.0.2.0/24", "detector": "port_scan", "reason": "other detector"}),
        serde_json::json!({"src_cidr": "192.0.2.0/24", "until": "2026-03-01T00:00:00Z", "reason": "expired"}),
    ] {
        let response = post_json(addr, "/api/v1/suppressions", Some(TOKEN), &body);
        assert_eq!(response.status, 201, "{}", response.text());
    }

    // Three pairs of sources with the same bursts: allowlisted, suppressed, alerted on.
    append(&setup.log, &burst("198.51.100", 2, 10, 0));
    append(&setup.log, &burst("203.0.113", 2, 10, 100));
    append(&setup.log, &burst("192.0.2", 2, 10, 200));
    settle(addr, 60);
    let alerts = all_alerts(addr);
    assert!(!alerts.is_empty());
    for alert in &alerts {
        let ip = alert["src_ip"].as_str().expect("src_ip");
        assert!(
            ip.starts_with("192.0.2."),
            "only 192.0.2.x alerted on: {alert}"
        );
    }
    let raised = alerts.len() as u64;
    let listed = get(addr, "/api/v1/suppressions").json();
    assert_eq!(
        listed["alerts_suppressed"],
        serde_json::json!({"allowlist": raised, "red team exercise": raised}),
        "the same bursts from allowlisted and suppressed sources are counted, not alerted"
    );
    let suppressions = listed["suppressions"].as_array().expect("suppressions");
    assert_eq!(suppressions.len(), 3);
    let counts: Vec<(&str, u64)> = suppressions
        .iter()
        .map(|s| {
            (
                s["reason"].as_str().expect("reason"),
                s["suppressed"].as_u64().expect("count"),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("red team exercise", raised),
            ("other detector", 0),
            ("expired", 0)
        ]
    );
    let summary = get(addr, "/api/v1/stats/summary?window=1h").json();
    assert_eq!(summary["events"]["value"], 60);
    assert_eq!(summary["distinct_sources"]["value"], 6);
    assert_eq!(
        summary["anomalies"]["value"],
        alerted_events(&alerts, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
    );
    assert_eq!(summary["alerts_suppressed"], listed["alerts_suppressed"]);

    // The suppressions survive a restart.
    shut_down(child, addr, &setup);
    let (child, addr) = start(&setup);
    let listed = get(addr, "/api/v1/suppressions").json();
    let ids: Vec<&str> = listed["suppressions"]
        .as_array()
        .expect("suppressions")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], red_team_id);
    append(&setup.log, &failed_logins("203.0.113.50", 300, 10, 100));
    settle(addr, 10);
    assert_eq!(all_alerts(addr).len() as u64, raised, "still suppressed");
    let counted =
        get(addr, "/api/v1/suppressions").json()["alerts_suppressed"]["red team exercise"]
            .as_u64()
            .expect("counted after the restart");
    assert!(counted > 0);

    // Deleting one needs the token; a second delete finds nothing.
    let path = format!("/api/v1/suppressions/{red_team_id}");
    assert_error(
        &request_token(addr, "DELETE", &path, None, None),
        401,
        "unauthorized",
        "Bearer",
    );
    let deleted = request_token(addr, "DELETE", &path, Some(TOKEN), None);
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_error(
        &request_token(addr, "DELETE", &path, Some(TOKEN), None),
        404,
        "not_found",
        &red_team_id,
    );
    assert_error(
        &request_token(
            addr,
            "DELETE",
            "/api/v1/suppressions/nope",
            Some(TOKEN),
            None,
        ),
        404,
        "not_found",
        "nope",
    );
    append(&setup.log, &failed_logins("203.0.113.60", 400, 10, 100));
    settle(addr, 20);
    let after = all_alerts(addr);
    assert!(
        after.iter().any(|a| a["src_ip"] == "203.0.113.60"),
        "alerted on again once the suppression is gone"
    );
    assert!(!after.iter().any(|a| a["src_ip"] == "203.0.113.50"));
    assert_eq!(
        get(addr, "/api/v1/suppressions").json()["suppressions"]
            .as_array()
            .expect("suppressions")
            .len(),
        2
    );
    shut_down(child, addr, &setup);
    drop(setup.dir);
}

#[test]
fn a_bad_allowlist_entry_stops_start_up_naming_it() {
    let setup = setup_with("", "allowlist = [\"10.0.0.0/8\", \"10.0.0.0/33\"]");
    let output = Command::new(vigil_bin())
        .args(["check-config", setup.config.to_str().expect("utf-8")])
        .output()
        .expect("vigil runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("alerts.allowlist[1]"), "{stderr}");
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
    drop(setup.dir);
}
