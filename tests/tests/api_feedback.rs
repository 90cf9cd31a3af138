//! Analyst feedback and the detectors view of the real `vigil run` (the learned models on,
//! Half-Space Trees and the online OCSVM, beside the brute-force rule), on an ephemeral port.
//!
//! Verdicts on a pool alert reach the pool (its signal switches to errors, a second verdict
//! is a duplicate), a verdict on a rule's alert is recorded only, bad verdicts, unknown alerts
//! and missing tokens are refused; `GET /api/v1/detectors` shows the pool's status, the
//! thresholds, the rules and precision / recall per detector; `POST .../retrain` schedules a
//! fresh model that takes effect at its due event; and all of it survives a restart from the
//! final checkpoint.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::net::SocketAddr;
use std::time::Duration;

use daemon::{Setup, append, failed_logins_at, settle, start, wait_exit};
use serde_json::Value;
use web::{Response, assert_error, get, request_token};

const TOKEN: &str = "test-token-0123456789abcdef";

/// Events a fit takes effect after its window was complete (`pool.swap_after_events`).
const SWAP_AFTER: u64 = 300;

/// A followed Cowrie file, the brute-force rule and the pool (Half-Space Trees and the
/// online OCSVM), no cooldown, the API with a token on an ephemeral port.
fn setup() -> Setup {
    let setup = Setup::create();
    setup.write_config(&format!(
        r#"[pipeline]
shutdown_grace_secs = 20
[rules.brute_force]
min_failed_logins = 5
[rules.port_scan]
enabled = false
[pool]
models = ["hst", "online-ocsvm"]
swap_after_events = {SWAP_AFTER}
[state]
dir = "{state}"
flush_every_millis = 20
checkpoint_secs = 1
retention_max_age_days = 0
[alerts]
cooldown_secs = 0
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
max_body_bytes = 1024
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
        state = setup.state_dir().display(),
        log = setup.log.display(),
    ));
    setup
}

/// `count` Cowrie connections and logins from a few hundred addresses, one per 250 ms of
/// event time from `start_secs` after 2026-03-01T00:00:00Z, ports and users varied by a
/// seeded generator: traffic the learned models score, a few percent of it in their tail.
fn mixed(count: usize, start_secs: i64, seed: u64) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .expect("valid time")
        .with_timezone(&chrono::Utc);
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut text = String::new();
    for i in 0..count {
        let time = start
            + chrono::TimeDelta::milliseconds(
                start_secs * 1000 + 250 * i as i64 + next(200) as i64,
            );
        let ip = format!("10.{}.{}.{}", 1 + next(3), next(20), 1 + next(12));
        let timestamp = time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let dst_port = [22, 23, 2222, 80][next(4) as usize];
        let user = ["root", "admin", "pi", "oracle"][next(4) as usize];
        let line = if next(3) == 0 {
            serde_json::json!({
                "eventid": "cowrie.login.failed",
                "username": user,
                "password": "guess",
                "sensor": "hp",
                "timestamp": timestamp,
                "src_ip": ip,
                "session": format!("m-{i}"),
            })
        } else {
            serde_json::json!({
                "eventid": "cowrie.session.connect",
                "sensor": "hp",
                "timestamp": timestamp,
                "src_ip": ip,
                "src_port": 1024 + next(60000),
                "dst_ip": "10.0.0.5",
                "dst_port": dst_port,
                "protocol": "ssh",
                "session": format!("m-{i}"),
            })
        };
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    request_token(addr, "POST", path, Some(TOKEN), Some(body.as_bytes()))
}

fn verdict_body(verdict: &str) -> String {
    format!(r#"{{"verdict":"{verdict}"}}"#)
}

/// The first alert of `detector` the list returns.
fn first_alert(addr: SocketAddr, detector: &str) -> Value {
    let page = get(
        addr,
        &format!("/api/v1/alerts?detector={detector}&limit=1000"),
    );
    assert_eq!(page.status, 200, "{}", page.text());
    page.json()["alerts"]
        .as_array()
        .and_then(|alerts| alerts.last().cloned())
        .unwrap_or_else(|| panic!("no {detector} alert: {}", page.text()))
}

/// The verdict counts of `detector` in the detectors view.
fn counts(view: &Value, detector: &str) -> Value {
    view["verdicts"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["detector"] == detector).cloned())
        .unwrap_or_else(|| panic!("no verdicts of {detector}: {view}"))
}

fn model_of(view: &Value, kind: &str) -> String {
    view["pool"]["models"]
        .as_array()
        .and_then(|models| {
            models
                .iter()
                .filter_map(|m| m["model"].as_str())
                .find(|m| m.starts_with(&format!("{kind}#")))
        })
        .unwrap_or_else(|| panic!("no active {kind}: {view}"))
        .to_string()
}

#[test]
fn verdicts_reach_the_pool_detectors_show_them_and_retrains_take_effect() {
    let setup = setup();
    let first = 2000u64;
    append(&setup.log, &mixed(first as usize, 0, 7));
    // A brute force the rule alerts on, after the pool's warm-up.
    append(
        &setup.log,
        &failed_logins_at("203.0.113.9", 600_000, 8, 100),
    );
    let (mut child, addr) = start(&setup);
    let total = first + 8;
    settle(addr, total);

    // Every alert carries its event's sequence number.
    let pool_alert = first_alert(addr, "pool");
    let rule_alert = first_alert(addr, "brute_force");
    let pool_seq = pool_alert["seq"].as_u64().expect("a pool alert's seq");
    let rule_seq = rule_alert["seq"].as_u64().expect("a rule alert's seq");
    assert!(pool_seq >= 1 && pool_seq <= total, "{pool_alert}");
    assert!(rule_seq > first && rule_seq <= total, "{rule_alert}");
    assert!(pool_alert.get("feedback").is_none());
    let pool_id = pool_alert["id"].as_str().expect("id").to_string();
    let rule_id = rule_alert["id"].as_str().expect("id").to_string();
    let feedback = |id: &str| format!("/api/v1/alerts/{id}/feedback");

    // Before any verdict the pool's ADWINs watch scores.
    let view = get(addr, "/api/v1/detectors");
    assert_eq!(view.status, 200, "{}", view.text());
    assert_eq!(view.header("content-type"), Some("application/json"));
    let view = view.json();
    assert_eq!(view["pool"]["signal"], "scores", "{view}");
    assert_eq!(view["pool"]["feedback_applied"], 0);
    assert_eq!(view["thresholds"]["orange"], 0.95);
    assert_eq!(view["thresholds"]["red"], 0.99);
    assert_eq!(
        view["pool"]["kinds"],
        serde_json::json!(["hst", "online-ocsvm"])
    );
    let models = view["pool"]["models"].as_array().expect("models");
    assert_eq!(models.len(), 2);
    for model in models {
        assert!(model["estimate"].is_f64(), "{model}");
        assert!(model["evidence"].as_u64().is_some_and(|w| w > 0), "{model}");
        assert!(
            model["references"].as_u64().is_some_and(|r| r >= 100),
            "{model}"
        );
    }
    let brute_force = view["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["name"] == "brute_force"))
        .expect("the brute-force rule");
    assert_eq!(brute_force["enabled"], true);
    assert_eq!(brute_force["thresholds"]["min_failed_logins"], 5.0);
    let port_scan = view["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["name"] == "port_scan"))
        .expect("the port-scan rule");
    assert_eq!(port_scan["enabled"], false);
    assert_eq!(counts(&view, "pool")["precision"], Value::Null);

    // Refusals: no token, a bad verdict, another key, a bad id, an unknown alert, too large.
    let body = verdict_body("false_positive");
    assert_error(
        &request_token(
            addr,
            "POST",
            &feedback(&pool_id),
            None,
            Some(body.as_bytes()),
        ),
        401,
        "unauthorized",
        "Bearer",
    );
    assert_error(
        &post(addr, &feedback(&pool_id), &verdict_body("maybe")),
        400,
        "bad_request",
        "must be true_positive or false_positive, got \"maybe\"",
    );
    assert_error(
        &post(
            addr,
            &feedback(&pool_id),
            r#"{"verdict":"true_positive","why":1}"#,
        ),
        400,
        "bad_request",
        "unknown field `why`",
    );
    assert_error(
        &post(addr, &feedback("not-an-id"), &body),
        400,
        "bad_request",
        "16 hex digits",
    );
    assert_error(
        &post(addr, &feedback("0123456789abcdef"), &body),
        404,
        "not_found",
        "no alert 0123456789abcdef",
    );
    let large = format!(
        r#"{{"verdict":"false_positive","x":"{}"}}"#,
        "a".repeat(1100)
    );
    assert_error(
        &post(addr, &feedback(&pool_id), &large),
        413,
        "payload_too_large",
        "api.max_body_bytes",
    );
    assert!(
        get(addr, &format!("/api/v1/alerts/{pool_id}"))
            .json()
            .get("feedback")
            .is_none(),
        "nothing was recorded"
    );

    // A false alarm of the pool: recorded, applied in the pool, counted.
    let response = post(addr, &feedback(&pool_id), &body);
    assert_eq!(response.status, 200, "{}", response.text());
    let answer = response.json();
    assert_eq!(answer["verdict"], "false_positive");
    assert_eq!(answer["previous_verdict"], Value::Null);
    assert_eq!(answer["outcome"], "applied", "{answer}");
    assert_eq!(answer["counted"], "applied", "{answer}");
    assert_eq!(answer["alert"]["id"], pool_id.as_str());
    assert_eq!(answer["alert"]["feedback"], "false_positive");
    assert!(!response.text().contains("\"password\""), "redacted");
    assert_eq!(
        get(addr, &format!("/api/v1/alerts/{pool_id}")).json()["feedback"],
        "false_positive"
    );
    // The same again, then changed: the alert keeps the latest, the pool the first.
    let again = post(addr, &feedback(&pool_id), &body).json();
    assert_eq!(
        (
            &again["outcome"],
            &again["counted"],
            &again["previous_verdict"]
        ),
        (
            &Value::from("duplicate"),
            &Value::from("duplicate"),
            &Value::from("false_positive")
        ),
        "{again}"
    );
    let changed = post(addr, &feedback(&pool_id), &verdict_body("TRUE_POSITIVE")).json();
    assert_eq!(changed["outcome"], "duplicate", "{changed}");
    assert_eq!(changed["alert"]["feedback"], "true_positive");
    assert_eq!(changed["previous_verdict"], "false_positive");

    // A rule's alert: recorded and counted, not given to the pool.
    let response = post(addr, &feedback(&rule_id), &verdict_body("true_positive"));
    assert_eq!(response.status, 200, "{}", response.text());
    let answer = response.json();
    assert_eq!(answer["outcome"], "recorded", "{answer}");
    assert_eq!(answer["counted"], "applied", "{answer}");

    let view = get(addr, "/api/v1/detectors").json();
    assert_eq!(view["pool"]["signal"], "errors", "{view}");
    assert_eq!(view["pool"]["feedback_applied"], 1, "{view}");
    let pool = counts(&view, "pool");
    assert_eq!(pool["false_positives"], 1, "{pool}");
    // The rule's attack is the pool's too: a hit if it fired there, else a miss.
    let hits = pool["true_positives"].as_u64().expect("count");
    assert_eq!(
        hits + pool["false_negatives"].as_u64().expect("count"),
        1,
        "{pool}"
    );
    assert_eq!(pool["precision"], hits as f64 / (hits + 1) as f64, "{pool}");
    assert_eq!(pool["recall"], hits as f64, "{pool}");
    let rule = counts(&view, "brute_force");
    assert_eq!(rule["true_positives"], 1, "{rule}");
    assert_eq!(rule["precision"], 1.0, "{rule}");
    assert_eq!(rule["recall"], 1.0, "{rule}");
    assert_eq!(rule["f1"], 1.0, "{rule}");
    // The pool's false alarm was not the rule's: a true negative for it, unless the rule
    // fired on that event too.
    assert_eq!(
        rule["true_negatives"].as_u64().unwrap_or(0)
            + rule["false_positives"].as_u64().unwrap_or(0),
        1,
        "{rule}"
    );

    // Retrain: rules and unknown or absent kinds are 404; a model kind is scheduled once.
    for name in ["brute_force", "nope", "ocsvm"] {
        let response = request_token(
            addr,
            "POST",
            &format!("/api/v1/detectors/{name}/retrain"),
            Some(TOKEN),
            None,
        );
        assert_error(&response, 404, "not_found", "");
    }
    assert_error(
        &request_token(addr, "POST", "/api/v1/detectors/hst/retrain", None, None),
        401,
        "unauthorized",
        "Bearer",
    );
    let old_hst = model_of(&view, "hst");
    let response = request_token(
        addr,
        "POST",
        "/api/v1/detectors/hst/retrain",
        Some(TOKEN),
        None,
    );
    assert_eq!(response.status, 202, "{}", response.text());
    let scheduled = response.json();
    assert_eq!(scheduled["model_kind"], "hst");
    assert_eq!(scheduled["outcome"], "scheduled");
    assert_eq!(scheduled["replaces"], old_hst.as_str());
    assert_eq!(scheduled["rows"], total, "the whole recent window");
    let due = total + SWAP_AFTER;
    assert_eq!(scheduled["due_seq"], due, "{scheduled}");
    let response = request_token(
        addr,
        "POST",
        "/api/v1/detectors/hst/retrain",
        Some(TOKEN),
        None,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["outcome"], "already_pending");
    let view = get(addr, "/api/v1/detectors").json();
    let fits = view["pool"]["fits"].as_array().expect("fits");
    assert_eq!(fits.len(), 1, "{view}");
    assert_eq!(fits[0]["due_seq"], due);

    // More traffic: the request is stored as a drift event, and the fresh model scores from
    // its due event on.
    append(&setup.log, &mixed(400, 3600, 11));
    let total = total + 400;
    settle(addr, total);
    let drift = get(addr, "/api/v1/drift?limit=1000").json();
    let events = drift["drift_events"].as_array().expect("drift events");
    let requested = events
        .iter()
        .find(|e| {
            e["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("retrain requested by an analyst"))
        })
        .unwrap_or_else(|| panic!("the request is not stored: {drift}"));
    assert_eq!(requested["kind"], "retrain_requested");
    assert_eq!(requested["seq"], total - 400);
    assert_eq!(requested["model"], old_hst.as_str());
    let retrained = events
        .iter()
        .find(|e| e["kind"] == "retrained")
        .unwrap_or_else(|| panic!("no retrained event: {drift}"));
    assert_eq!(retrained["seq"], due, "{retrained}");
    assert!(
        retrained["reason"]
            .as_str()
            .is_some_and(|r| r.contains("as an analyst requested")),
        "{retrained}"
    );
    let view = get(addr, "/api/v1/detectors").json();
    let new_hst = model_of(&view, "hst");
    assert_eq!(retrained["model"], new_hst.as_str());
    assert_ne!(new_hst, old_hst);
    let retired: Vec<&str> = view["pool"]["retired"]
        .as_array()
        .expect("retired")
        .iter()
        .filter_map(|r| r["model"].as_str())
        .collect();
    assert!(retired.contains(&old_hst.as_str()), "{view}");

    // Shutdown and restart: the verdicts, the pool's feedback and the retired model are in
    // the checkpoint, the verdicts on the alerts in the store.
    let response = request_token(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202, "{}", response.text());
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let text = std::fs::read_to_string(&setup.vigil_log).unwrap_or_default();
    assert!(exit.success(), "exit {exit}: {text}");
    let (mut child, addr) = start(&setup);
    let text = std::fs::read_to_string(&setup.vigil_log).unwrap_or_default();
    assert!(text.contains("resuming from the checkpoint"), "{text}");
    let after = get(addr, "/api/v1/detectors").json();
    assert_eq!(after["verdicts"], view["verdicts"], "{after}");
    assert_eq!(after["pool"]["feedback_applied"], 1);
    assert_eq!(after["pool"]["signal"], "errors");
    assert_eq!(model_of(&after, "hst"), new_hst);
    assert_eq!(
        get(addr, &format!("/api/v1/alerts/{pool_id}")).json()["feedback"],
        "true_positive"
    );
    // The pool still knows the event's feedback: a verdict on it is a duplicate.
    let again = post(addr, &feedback(&pool_id), &body).json();
    assert_eq!(again["outcome"], "duplicate", "{again}");
    assert_eq!(again["counted"], "duplicate", "{again}");
    let response = request_token(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    drop(setup.dir);
}
