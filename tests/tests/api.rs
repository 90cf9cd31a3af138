//! The admin HTTP API of the real `vigil run`, on an ephemeral port (`api.listen =
//! "127.0.0.1:0"`, the bound address read from the log) with a temporary state directory.
//!
//! Every route; 401 without and with a wrong token, 403 on mutating calls without a
//! configured token; 400 on bad parameters; 404 on an unknown alert id; 413 on an oversized
//! body; paging over a few hundred alerts while more arrive returns each exactly once; `POST
//! /api/v1/shutdown` exits 0 with a final checkpoint that the next start resumes from.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::collections::BTreeSet;
use std::time::Duration;

use daemon::{append, burst, failed_logins, settle, setup, start, wait_exit, walk};
use web::{assert_error, get, request_token};

const TOKEN: &str = "test-token-0123456789abcdef";

#[test]
fn every_route_auth_errors_paging_and_shutdown() {
    let setup = setup(&format!(
        "token = \"{TOKEN}\"\nmax_body_bytes = 1024\nmax_page = 500"
    ));
    append(&setup.log, &burst("203.0.113", 120, 12, 0));
    append(&setup.log, &burst("198.51.100", 40, 40, 200));
    let (mut child, addr) = start(&setup);

    // Health, readiness, metrics, the OpenAPI document.
    assert_eq!(get(addr, "/healthz").json()["status"], "ok");
    assert_eq!(get(addr, "/readyz").json()["status"], "ready");
    let status = settle(addr, 3040);
    let stored = status["store"]["alert_count"]
        .as_u64()
        .expect("alert count");
    assert!(stored >= 150, "a few hundred alerts: {status}");
    assert!(
        status["alerts_red"].as_u64() > Some(0),
        "some escalate: {status}"
    );
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["uptime_secs"].as_f64().is_some_and(|s| s > 0.0));
    assert!(
        status["store"]["size_bytes"]
            .as_u64()
            .is_some_and(|b| b > 0)
    );
    assert_eq!(status["sources"][0]["name"], "honeypot");
    assert_eq!(status["sources"][0]["state"], "running");
    assert_eq!(status["sources"][0]["records_read"], 3040);
    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain"))
    );
    assert!(
        metrics
            .text()
            .contains("\nvigil_events_processed_total 3040\n"),
        "{}",
        metrics.text()
    );
    let openapi = get(addr, "/api/v1/openapi.json").json();
    assert!(
        openapi["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    assert!(openapi["paths"]["/api/v1/alerts/{id}"]["patch"].is_object());

    // Alerts: the newest first, every field as stored except the password.
    let page = get(addr, "/api/v1/alerts?limit=5");
    assert_eq!(page.status, 200);
    assert!(
        !page.text().contains("secret-guess"),
        "passwords are redacted"
    );
    let page = page.json();
    let alerts = page["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 5);
    let times: Vec<&str> = alerts
        .iter()
        .map(|a| a["event_time"].as_str().expect("time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert!(page["next_cursor"].is_string());
    let id = alerts[0]["id"].as_str().expect("id").to_string();
    let one = get(addr, &format!("/api/v1/alerts/{id}"));
    assert_eq!(one.status, 200);
    assert_eq!(one.json(), alerts[0]);

    // Filters.
    let by_ip = walk(addr, "&src_ip=198.51.100.9", 500, &mut || {});
    let by_ip_set: BTreeSet<&String> = by_ip.iter().collect();
    assert!(!by_ip.is_empty() && by_ip_set.len() == by_ip.len());
    let all = walk(addr, "", 500, &mut || {});
    assert_eq!(all.len() as u64, stored);
    let ip_page = get(addr, "/api/v1/alerts?limit=500&src_ip=198.51.100.9").json();
    for alert in ip_page["alerts"].as_array().expect("alerts") {
        assert_eq!(alert["src_ip"], "198.51.100.9");
    }
    let red = get(
        addr,
        "/api/v1/alerts?limit=500&severity=red&detector=brute_force&min_score=0.5",
    )
    .json();
    let red_alerts = red["alerts"].as_array().expect("alerts");
    for alert in red_alerts {
        assert_eq!(alert["severity"], "red");
        assert_eq!(alert["detector"], "brute_force");
        assert!(alert["score"].as_f64().is_some_and(|s| s >= 0.5));
    }
    let orange = walk(addr, "&severity=orange", 500, &mut || {});
    assert_eq!(
        red_alerts.len() + orange.len(),
        all.len(),
        "red and orange make up all"
    );
    let none = get(addr, "/api/v1/alerts?detector=port_scan").json();
    assert_eq!(none["alerts"].as_array().map(Vec::len), Some(0));
    assert!(none["next_cursor"].is_null());
    // Time bounds: the second group's events start 200 s in.
    let early = walk(addr, "&until=2026-03-01T00:03:20Z", 500, &mut || {});
    let late = walk(addr, "&since=2026-03-01T00:03:20Z", 500, &mut || {});
    assert_eq!(early.len() + late.len(), all.len());
    assert!(!early.is_empty() && !late.is_empty());

    // Bad parameters name themselves.
    for (query, mentions) in [
        ("severity=purple", "severity"),
        ("severity=green", "severity"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        (
            "since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z",
            "until",
        ),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=00", "cursor"),
        ("src_ip=300.1.1.1", "src_ip"),
        ("min_score=2", "min_score"),
        ("colour=red", "colour"),
        ("limit=5&limit=6", "limit"),
    ] {
        let response = get(addr, &format!("/api/v1/alerts?{query}"));
        assert_error(&response, 400, "bad_request", mentions);
    }
    assert_error(
        &get(addr, "/api/v1/drift?limit=0"),
        400,
        "bad_request",
        "limit",
    );
    assert_error(
        &get(addr, "/api/v1/drift?cursor=zz"),
        400,
        "bad_request",
        "cursor",
    );
    assert_error(
        &get(addr, "/api/v1/alerts/0123456789abcdef"),
        404,
        "not_found",
        "0123456789abcdef",
    );
    assert_error(
        &get(addr, "/api/v1/alerts/nothex"),
        400,
        "bad_request",
        "nothex",
    );
    assert_error(
        &get(addr, "/api/v1/nothing"),
        404,
        "not_found",
        "/api/v1/nothing",
    );
    assert_error(
        &request_token(
            addr,
            "DELETE",
            &format!("/api/v1/alerts/{id}"),
            Some(TOKEN),
            None,
        ),
        405,
        "method_not_allowed",
        "PATCH",
    );

    // PATCH: 401 without or with a wrong token, 413 on a large body, 400 on a bad one.
    let patch_path = format!("/api/v1/alerts/{id}");
    let ack = br#"{"state":"acknowledged","assignee":"alice","note":"looking"}"#;
    let response = request_token(addr, "PATCH", &patch_path, None, Some(ack));
    assert_error(&response, 401, "unauthorized", "Bearer");
    assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    let response = request_token(
        addr,
        "PATCH",
        &patch_path,
        Some("wrong-token-0123456789"),
        Some(ack),
    );
    assert_error(&response, 401, "unauthorized", "wrong token");
    let big = format!(r#"{{"note":"{}"}}"#, "x".repeat(2000));
    let response = request_token(
        addr,
        "PATCH",
        &patch_path,
        Some(TOKEN),
        Some(big.as_bytes()),
    );
    assert_error(&response, 413, "payload_too_large", "1024");
    for (body, mentions) in [
        (&br#"{"state":"closed"}"#[..], "state"),
        (br#"{"colour":"red"}"#, "colour"),
        (br#"{}"#, "changes nothing"),
        (br#"not json"#, "JSON"),
    ] {
        let response = request_token(addr, "PATCH", &patch_path, Some(TOKEN), Some(body));
        assert_error(&response, 400, "bad_request", mentions);
    }
    let response = request_token(
        addr,
        "PATCH",
        "/api/v1/alerts/0123456789abcdef",
        Some(TOKEN),
        Some(ack),
    );
    assert_error(&response, 404, "not_found", "0123456789abcdef");
    let response = request_token(addr, "PATCH", &patch_path, Some(TOKEN), Some(ack));
    assert_eq!(response.status, 200, "{}", response.text());
    let patched = response.json();
    assert_eq!(patched["state"], "acknowledged");
    assert_eq!(patched["assignee"], "alice");
    assert_eq!(patched["note"], "looking");
    assert!(patched.get("password").is_none());
    let again = get(addr, &patch_path).json();
    assert_eq!(again, patched);
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["count"], alerts[0]["count"]);
    let response = request_token(
        addr,
        "PATCH",
        &patch_path,
        Some(TOKEN),
        Some(br#"{"state":"resolved","assignee":""}"#),
    );
    assert_eq!(response.status, 200);
    let resolved = response.json();
    assert_eq!(resolved["state"], "resolved");
    assert!(resolved.get("assignee").is_none());
    assert_eq!(resolved["note"], "looking");

    // Drift: the pool is off, so none; the page is still well-formed.
    let drift = get(addr, "/api/v1/drift?limit=10").json();
    assert_eq!(drift["drift_events"].as_array().map(Vec::len), Some(0));
    assert!(drift["next_cursor"].is_null());

    // Sources: pause holds new records back, resume reads them.
    let sources = get(addr, "/api/v1/sources").json();
    assert_eq!(sources["sources"][0]["state"], "running");
    assert_error(
        &request_token(addr, "POST", "/api/v1/sources/honeypot/pause", None, None),
        401,
        "unauthorized",
        "Bearer",
    );
    assert_error(
        &request_token(
            addr,
            "POST",
            "/api/v1/sources/nosuch/pause",
            Some(TOKEN),
            None,
        ),
        404,
        "not_found",
        "nosuch",
    );
    let paused = request_token(
        addr,
        "POST",
        "/api/v1/sources/honeypot/pause",
        Some(TOKEN),
        None,
    );
    assert_eq!(paused.status, 200, "{}", paused.text());
    assert_eq!(paused.json()["state"], "paused");
    std::thread::sleep(Duration::from_millis(200));
    append(&setup.log, &failed_logins("192.0.2.1", 400, 20, 100));
    std::thread::sleep(Duration::from_millis(600));
    let status = get(addr, "/api/v1/status").json();
    assert_eq!(status["sources"][0]["state"], "paused");
    assert_eq!(status["events_decided"], 3040, "nothing read while paused");
    let resumed = request_token(
        addr,
        "POST",
        "/api/v1/sources/honeypot/resume",
        Some(TOKEN),
        None,
    );
    assert_eq!(resumed.json()["state"], "running");
    let status = settle(addr, 3060);
    assert_eq!(status["sources"][0]["records_read"], 3060);
    let queues: Vec<(&str, u64, u64)> = status["queues"]
        .as_array()
        .expect("status lists the pipeline's queues")
        .iter()
        .map(|q| {
            (
                q["stage"].as_str().expect("stage"),
                q["batches"].as_u64().expect("batches"),
                q["capacity"].as_u64().expect("capacity"),
            )
        })
        .collect();
    assert_eq!(
        queues,
        [("features", 0, 8), ("detector", 0, 8), ("alerts", 0, 8)],
        "every stage is drained once the pipeline settled"
    );

    // Paging while alerts keep arriving: every alert stored before the walk is returned,
    // none twice.
    let before: BTreeSet<String> = walk(addr, "", 500, &mut || {}).into_iter().collect();
    let mut round = 0i64;
    let log = setup.log.clone();
    let during = walk(addr, "", 7, &mut || {
        round += 1;
        if round % 3 == 0 {
            append(
                &log,
                &burst(&format!("192.0.{}", 2 + round), 3, 12, 500 + round * 10),
            );
        }
    });
    let during_set: BTreeSet<&String> = during.iter().collect();
    assert_eq!(
        during_set.len(),
        during.len(),
        "no alert twice while they arrive"
    );
    let missing: Vec<&String> = before
        .iter()
        .filter(|id| !during_set.contains(id))
        .collect();
    assert!(missing.is_empty(), "alerts skipped: {missing:?}");
    let appended = 36 * (round / 3) as u64;
    assert!(appended > 0, "alerts arrived during the walk");
    let status = settle(addr, 3060 + appended);
    let after = walk(addr, "", 13, &mut || {});
    let after_set: BTreeSet<&String> = after.iter().collect();
    assert_eq!(after_set.len(), after.len());
    assert_eq!(
        after.len() as u64,
        status["store"]["alert_count"].as_u64().expect("count")
    );
    assert!(after.len() > before.len());

    // Shutdown: 401 without the token; with it, the same path as SIGTERM, exit 0.
    assert_error(
        &request_token(addr, "POST", "/api/v1/shutdown", None, None),
        401,
        "unauthorized",
        "Bearer",
    );
    let response = request_token(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202, "{}", response.text());
    assert_eq!(response.json()["status"], "shutting_down");
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let text = std::fs::read_to_string(&setup.vigil_log).unwrap_or_default();
    assert!(exit.success(), "exit {exit}: {text}");
    assert!(
        text.contains("shutdown requested through the API"),
        "{text}"
    );
    assert!(text.contains("shutting down: intake stopped"), "{text}");
    assert!(text.contains("vigil stopped"), "{text}");

    // The restart resumes from the final checkpoint, with the analyst's update kept.
    let (mut child, addr) = start(&setup);
    let text = std::fs::read_to_string(&setup.vigil_log).unwrap_or_default();
    assert!(text.contains("resuming from the checkpoint"), "{text}");
    assert_eq!(get(addr, &patch_path).json()["state"], "resolved");
    let status = get(addr, "/api/v1/status").json();
    assert_eq!(
        status["store"]["alert_count"].as_u64(),
        Some(after.len() as u64),
        "nothing stored twice after the restart"
    );
    let response = request_token(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    drop(setup.dir);
}

#[test]
fn without_a_token_mutating_calls_are_refused() {
    let setup = setup("");
    append(&setup.log, &failed_logins("203.0.113.7", 0, 20, 100));
    let (mut child, addr) = start(&setup);
    assert_eq!(get(addr, "/api/v1/status").status, 200, "reads are open");
    settle(addr, 20);
    let id = get(addr, "/api/v1/alerts?limit=1").json()["alerts"][0]["id"]
        .as_str()
        .expect("an alert")
        .to_string();
    for (method, path, body) in [
        (
            "PATCH",
            format!("/api/v1/alerts/{id}"),
            Some(&br#"{"state":"resolved"}"#[..]),
        ),
        ("POST", "/api/v1/sources/honeypot/pause".to_string(), None),
        ("POST", "/api/v1/shutdown".to_string(), None),
    ] {
        let response = request_token(addr, method, &path, Some(TOKEN), body);
        assert_error(&response, 403, "forbidden", "no API token is configured");
    }
    assert_eq!(
        get(addr, &format!("/api/v1/alerts/{id}")).json()["state"],
        "new"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn reads_need_the_token_when_configured() {
    let setup = setup(&format!("token = \"{TOKEN}\"\nread_requires_token = true"));
    let (mut child, addr) = start(&setup);
    assert_eq!(get(addr, "/healthz").status, 200, "health stays open");
    assert_eq!(get(addr, "/readyz").status, 200, "readiness stays open");
    for path in [
        "/api/v1/status",
        "/api/v1/alerts",
        "/api/v1/sources",
        "/api/v1/drift",
        "/metrics",
    ] {
        assert_error(&get(addr, path), 401, "unauthorized", "Bearer");
        let wrong = request_token(addr, "GET", path, Some("wrong-token-0123456789"), None);
        assert_error(&wrong, 401, "unauthorized", "wrong token");
        assert_eq!(
            request_token(addr, "GET", path, Some(TOKEN), None).status,
            200,
            "{path}"
        );
    }
    let response = request_token(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202);
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    assert!(exit.success(), "{exit}");
}
