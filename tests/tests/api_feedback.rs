//! Analyst feedback and the detectors view of the real `vigil run` (the learned models on,
//! Half-Space Trees and the online OCSVM, beside the brute-force rule), on an ephemeral port.
//!
//! Verdicts on a pool alert reach the pool (its signal switches to errors, a second verdict
//! is a duplicate), a verdict on a rule's alert is recorded only, bad verdicts, unknown alerts
//! and missing tokens are refused; `GET /api/v1/detectors` shows the pool's status, the
//! thresholds, the rules and precision / recall per detector; `POST .../retrain` schedules a
//! fresh model that takes effect at its due event; and all of it survives a restart from the
//! final checkpoint.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::vigil_bin;

const TOKEN: &str = "test-token-0123456789abcdef";

/// A response: status, headers (lower-case names) and body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on its own connection.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    if let Some(body) = body {
        // The server may answer (413) and close before reading all of a large body.
        let _ = stream.write_all(body);
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None, None)
}

fn failed_logins_at(ip: &str, start_millis: i64, count: usize, step_millis: i64) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .expect("valid time")
        .with_timezone(&chrono::Utc);
    let mut text = String::new();
    for i in 0..count {
        let time = start + chrono::TimeDelta::milliseconds(start_millis + step_millis * i as i64);
        let line = serde_json::json!({
            "eventid": "cowrie.login.failed",
            "username": "root",
            "password": format!("secret-guess-{i}"),
            "message": "login attempt failed",
            "sensor": "hp",
            "timestamp": time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "src_ip": ip,
            "src_port": 40_000 + i,
            "dst_ip": "10.0.0.5",
            "dst_port": 22,
            "session": format!("s-{ip}-{i}"),
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open the log");
    f.write_all(text.as_bytes()).expect("append");
}

/// Starts `vigil run` and waits for the API's address in its log.
fn start(setup: &Setup) -> (Child, SocketAddr) {
    let _ = std::fs::remove_file(&setup.vigil_log);
    let log = std::fs::File::create(&setup.vigil_log).expect("vigil log");
    let mut child = Command::new(vigil_bin())
        .args(["run", "--config", setup.config.to_str().expect("utf-8")])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("vigil starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&setup.vigil_log).unwrap_or_default();
        if let Some(rest) = text.split("admin API on http://").nth(1) {
            let addr = rest
                .split(|c: char| c.is_whitespace())
                .next()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no address in the log: {text}"));
            return (child, addr);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vigil exited ({status}) before serving: {text}");
        }
        assert!(Instant::now() < deadline, "no API address logged: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vigil did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `events_decided` reaches `events` and the store's alert count has settled.
fn settle(addr: SocketAddr, events: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    loop {
        let status = get(addr, "/api/v1/status").json();
        let count = status["store"]["alert_count"].as_u64();
        if status["events_decided"].as_u64() == Some(events) && last == count {
            return status;
        }
        last = count;
        assert!(Instant::now() < deadline, "not settled: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_error(response: &Response, status: u16, code: &str, mentions: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert_eq!(body["error"], code, "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains(mentions), "{mentions:?} not in {detail:?}");
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    log: PathBuf,
    vigil_log: PathBuf,
}

/// Events a fit takes effect after its window was complete (`pool.swap_after_events`).
const SWAP_AFTER: u64 = 300;

/// A followed Cowrie file, the brute-force rule and the pool (Half-Space Trees and the
/// online OCSVM), no cooldown, the API with a token on an ephemeral port.
fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vigil.toml");
    let log = dir.path().join("cowrie.json");
    let vigil_log = dir.path().join("vigil.log");
    std::fs::write(&log, "").expect("create the log");
    std::fs::write(
        &config,
        format!(
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
            state = dir.path().join("state").display(),
            log = log.display(),
        ),
    )
    .expect("write the config");
    Setup {
        dir,
        config,
        log,
        vigil_log,
    }
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
    request(addr, "POST", path, Some(TOKEN), Some(body.as_bytes()))
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
        &request(
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
        let response = request(
            addr,
            "POST",
            &format!("/api/v1/detectors/{name}/retrain"),
            Some(TOKEN),
            None,
        );
        assert_error(&response, 404, "not_found", "");
    }
    assert_error(
        &request(addr, "POST", "/api/v1/detectors/hst/retrain", None, None),
        401,
        "unauthorized",
        "Bearer",
    );
    let old_hst = model_of(&view, "hst");
    let response = request(
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
    let response = request(
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
    let response = request(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
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
    let response = request(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    drop(setup.dir);
}
