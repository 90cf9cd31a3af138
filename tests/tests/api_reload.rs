//! Config reload on the real `vigil run` (ephemeral port, temporary state, a followed
//! Cowrie file with known event times, the brute-force rule alone at 5 failed logins).
//!
//! `POST /api/v1/config/reload` needs the token; it applies new severity thresholds (a hit
//! at the rule's threshold, ORANGE before, is RED after) and a new allowlist (its sources
//! stop alerting, counted instead) and lists a restart-only change without applying it; a
//! broken file gets 400 naming the field and changes nothing, the daemon running on. SIGHUP
//! does the same, saying so in the log.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use daemon::{Setup, append, failed_logins, settle, start};
use serde_json::{Value, json};
use web::{Response, assert_error, send};

const TOKEN: &str = "test-token-0123456789abcdef";

/// One request with an optional bearer `token` (`Content-Length: 0` on a POST); the answers
/// here are never chunked.
fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Response {
    let auth = token.map(|token| format!("Bearer {token}"));
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    if method == "POST" {
        headers.push(("Content-Length", "0"));
    }
    let response = send(addr, method, path, &headers, None, Duration::from_secs(30));
    assert!(
        !response
            .header("transfer-encoding")
            .is_some_and(|value| value.to_ascii_lowercase().contains("chunked")),
        "{:?}",
        response.headers
    );
    response
}

fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None)
}

fn reload(addr: SocketAddr, token: Option<&str>) -> Response {
    request(addr, "POST", "/api/v1/config/reload", token)
}

/// Waits until the log holds `needle` (at or after byte `from`); returns the text after it.
fn wait_for_log(setup: &Setup, from: usize, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = setup.vigil_log();
        if let Some(at) = text.get(from..).and_then(|tail| tail.find(needle)) {
            return text[from + at..].to_string();
        }
        assert!(Instant::now() < deadline, "{needle:?} not logged: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Severity of every stored alert, by source address.
fn severities(addr: SocketAddr) -> Vec<(String, String)> {
    let page = get(addr, "/api/v1/alerts?limit=1000").json();
    let mut out: Vec<(String, String)> = page["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            (
                a["src_ip"].as_str().expect("src_ip").to_string(),
                a["severity"].as_str().expect("severity").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn hang_up(child: &Child) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -HUP {}", child.id())])
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -HUP failed");
}

fn assert_bad_request(response: &Response, mentions: &str) {
    assert_error(response, 400, "bad_request", mentions);
}

/// Writes the config with `severity`, `alerts` and `pipeline` lines in those tables.
fn write_config(setup: &Setup, severity: &str, alerts: &str, pipeline: &str) {
    setup.write_config(&format!(
        r#"[pipeline]
shutdown_grace_secs = 20
{pipeline}
[rules.brute_force]
min_failed_logins = 5
[severity]
{severity}
[pool]
enabled = false
[state]
dir = "{state}"
flush_every_millis = 20
retention_max_age_days = 0
[alerts]
cooldown_secs = 0
{alerts}
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
        state = setup.state_dir().display(),
        log = setup.log.display(),
    ));
}

fn setup() -> Setup {
    let setup = Setup::create();
    write_config(&setup, "", "", "");
    setup
}

fn thresholds(addr: SocketAddr) -> Value {
    get(addr, "/api/v1/detectors").json()["thresholds"].clone()
}

#[test]
fn reload_applies_thresholds_and_allowlist_and_lists_what_needs_a_restart() {
    let setup = setup();
    let (mut child, addr) = start(&setup);

    // Before: a hit at the threshold is ORANGE, nobody is allowlisted.
    append(&setup.log, &failed_logins("198.51.100.1", 0, 6, 100));
    append(&setup.log, &failed_logins("203.0.113.1", 10, 6, 100));
    settle(addr, 12);
    assert_eq!(
        severities(addr),
        [
            ("198.51.100.1".to_string(), "orange".to_string()),
            ("203.0.113.1".to_string(), "orange".to_string()),
        ]
    );

    // New thresholds and allowlist, and a field that needs a restart.
    write_config(
        &setup,
        "red = 0.9\norange = 0.8",
        "allowlist = [\"198.51.100.0/24\"]",
        "batch_max_events = 512",
    );
    assert_eq!(reload(addr, None).status, 401);
    assert_eq!(reload(addr, Some("wrong-token-0123456789")).status, 401);
    let answer = reload(addr, Some(TOKEN));
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({
            "applied": ["severity.red", "severity.orange", "alerts.allowlist"],
            "restart_required": ["pipeline.batch_max_events"],
            "unchanged": false,
        })
    );
    wait_for_log(&setup, 0, "field=severity.red from=0.99 to=0.9");
    assert_eq!(thresholds(addr), json!({"orange": 0.8, "red": 0.9}));
    let listed = get(addr, "/api/v1/suppressions").json();
    assert_eq!(listed["allowlist"], json!(["198.51.100.0/24"]));

    // After: the same burst is RED, and the allowlisted source raises nothing (counted).
    append(&setup.log, &failed_logins("198.51.100.2", 20, 6, 100));
    append(&setup.log, &failed_logins("203.0.113.2", 30, 6, 100));
    settle(addr, 24);
    assert_eq!(
        severities(addr),
        [
            ("198.51.100.1".to_string(), "orange".to_string()),
            ("203.0.113.1".to_string(), "orange".to_string()),
            ("203.0.113.2".to_string(), "red".to_string()),
        ]
    );
    let listed = get(addr, "/api/v1/suppressions").json();
    assert_eq!(listed["alerts_suppressed"], json!({"allowlist": 1}));

    // The same file again: nothing to apply, the restart-only field still differs.
    let again = reload(addr, Some(TOKEN));
    assert_eq!(
        again.json(),
        json!({
            "applied": [],
            "restart_required": ["pipeline.batch_max_events"],
            "unchanged": false,
        })
    );

    // Broken files: 400 naming the field; nothing changes and the daemon runs on.
    write_config(
        &setup,
        "red = 0.5\norange = 0.6",
        "allowlist = [\"198.51.100.0/24\"]",
        "",
    );
    assert_bad_request(&reload(addr, Some(TOKEN)), "severity.red");
    write_config(&setup, "", "allowlist = [\"10.0.0.0/33\"]", "");
    assert_bad_request(&reload(addr, Some(TOKEN)), "alerts.allowlist[0]");
    write_config(&setup, "", "cooldown = 5", "");
    assert_bad_request(&reload(addr, Some(TOKEN)), "cooldown");
    assert_eq!(get(addr, "/api/v1/status").status, 200);
    assert_eq!(thresholds(addr), json!({"orange": 0.8, "red": 0.9}));

    // SIGHUP: the allowlist emptied and RED back at 0.99; the log says what was applied.
    let from = setup.vigil_log().len();
    write_config(
        &setup,
        "red = 0.99\norange = 0.8",
        "",
        "batch_max_events = 512",
    );
    hang_up(&child);
    let line = wait_for_log(&setup, from, "config reloaded from");
    assert!(
        line.lines().next().is_some_and(|l| l.contains(
            "(SIGHUP): applied [severity.red, alerts.allowlist], restart required [pipeline.batch_max_events]"
        )),
        "{line}"
    );
    assert_eq!(thresholds(addr), json!({"orange": 0.8, "red": 0.99}));
    append(&setup.log, &failed_logins("198.51.100.3", 40, 6, 100));
    settle(addr, 30);
    assert!(
        severities(addr).contains(&("198.51.100.3".to_string(), "orange".to_string())),
        "{:?}",
        severities(addr)
    );

    // A broken file on SIGHUP is logged at error level and changes nothing.
    let from = setup.vigil_log().len();
    write_config(&setup, "red = 0.5\norange = 0.8", "", "");
    hang_up(&child);
    let line = wait_for_log(&setup, from, "config reload (SIGHUP) failed");
    let line = line.lines().next().unwrap_or_default().to_string();
    assert!(line.contains("severity.red"), "{line}");
    let log = setup.vigil_log();
    let error_line = log[from..]
        .lines()
        .find(|l| l.contains("config reload (SIGHUP) failed"))
        .expect("the line");
    assert!(error_line.contains("ERROR"), "{error_line}");
    assert_eq!(thresholds(addr), json!({"orange": 0.8, "red": 0.99}));
    assert_eq!(get(addr, "/api/v1/status").status, 200);

    let response = request(addr, "POST", "/api/v1/shutdown", Some(TOKEN));
    assert_eq!(response.status, 202, "{}", response.text());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vigil did not exit: {}", setup.vigil_log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit {exit}: {}", setup.vigil_log());
}
