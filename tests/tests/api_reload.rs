//! Config reload on the real `vigil run` (ephemeral port, temporary state, a followed
//! Cowrie file with known event times, the brute-force rule alone at 5 failed logins).
//!
//! `POST /api/v1/config/reload` needs the token; it applies new severity thresholds (a hit
//! at the rule's threshold, ORANGE before, is RED after) and a new allowlist (its sources
//! stop alerting, counted instead) and lists a restart-only change without applying it; a
//! broken file gets 400 naming the field and changes nothing, the daemon running on. SIGHUP
//! does the same, saying so in the log.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vigil_tests::vigil_bin;

const TOKEN: &str = "test-token-0123456789abcdef";

/// A response: status and body.
struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on its own connection (the answers here are never chunked).
fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    Response {
        status,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None)
}

fn reload(addr: SocketAddr, token: Option<&str>) -> Response {
    request(addr, "POST", "/api/v1/config/reload", token)
}

/// `count` Cowrie failed logins from `ip`, 100 ms apart from `start_secs` after
/// 2026-03-01T00:00:00Z: the fifth raises a brute-force alert at strength 0.95.
fn failed_logins(ip: &str, start_secs: i64, count: usize) -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .expect("valid time")
        .with_timezone(&chrono::Utc);
    let mut text = String::new();
    for i in 0..count {
        let time = start + chrono::TimeDelta::milliseconds(start_secs * 1000 + 100 * i as i64);
        let line = json!({
            "eventid": "cowrie.login.failed",
            "username": "root",
            "password": format!("guess-{i}"),
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

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    log: PathBuf,
    vigil_log: PathBuf,
}

impl Setup {
    /// Writes the config with `severity`, `alerts` and `pipeline` lines in those tables.
    fn write_config(&self, severity: &str, alerts: &str, pipeline: &str) {
        let text = format!(
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
            state = self.dir.path().join("state").display(),
            log = self.log.display(),
        );
        // Written whole and renamed over the old one, as editors and config tools do.
        let fresh = self.dir.path().join("vigil.toml.new");
        std::fs::write(&fresh, text).expect("write the config");
        std::fs::rename(&fresh, &self.config).expect("replace the config");
    }

    fn vigil_log(&self) -> String {
        std::fs::read_to_string(&self.vigil_log).unwrap_or_default()
    }
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = Setup {
        config: dir.path().join("vigil.toml"),
        log: dir.path().join("cowrie.json"),
        vigil_log: dir.path().join("vigil.log"),
        dir,
    };
    std::fs::write(&setup.log, "").expect("create the log");
    setup.write_config("", "", "");
    setup
}

/// Starts `vigil run` and waits for the API's address in its log.
fn start(setup: &Setup) -> (Child, SocketAddr) {
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
        let text = setup.vigil_log();
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

/// Waits until `events_decided` reaches `events` and the store's alert count has settled.
fn settle(addr: SocketAddr, events: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    loop {
        let status = get(addr, "/api/v1/status").json();
        let count = status["store"]["alert_count"].as_u64();
        if status["events_decided"].as_u64() == Some(events) && last == count {
            return;
        }
        last = count;
        assert!(Instant::now() < deadline, "not settled: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
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
    assert_eq!(response.status, 400, "{}", response.text());
    let body = response.json();
    assert_eq!(body["error"], "bad_request", "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains(mentions), "{mentions:?} not in {detail:?}");
}

fn thresholds(addr: SocketAddr) -> Value {
    get(addr, "/api/v1/detectors").json()["thresholds"].clone()
}

#[test]
fn reload_applies_thresholds_and_allowlist_and_lists_what_needs_a_restart() {
    let setup = setup();
    let (mut child, addr) = start(&setup);

    // Before: a hit at the threshold is ORANGE, nobody is allowlisted.
    append(&setup.log, &failed_logins("198.51.100.1", 0, 6));
    append(&setup.log, &failed_logins("203.0.113.1", 10, 6));
    settle(addr, 12);
    assert_eq!(
        severities(addr),
        [
            ("198.51.100.1".to_string(), "orange".to_string()),
            ("203.0.113.1".to_string(), "orange".to_string()),
        ]
    );

    // New thresholds and allowlist, and a field that needs a restart.
    setup.write_config(
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
    append(&setup.log, &failed_logins("198.51.100.2", 20, 6));
    append(&setup.log, &failed_logins("203.0.113.2", 30, 6));
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
    setup.write_config(
        "red = 0.5\norange = 0.6",
        "allowlist = [\"198.51.100.0/24\"]",
        "",
    );
    assert_bad_request(&reload(addr, Some(TOKEN)), "severity.red");
    setup.write_config("", "allowlist = [\"10.0.0.0/33\"]", "");
    assert_bad_request(&reload(addr, Some(TOKEN)), "alerts.allowlist[0]");
    setup.write_config("", "cooldown = 5", "");
    assert_bad_request(&reload(addr, Some(TOKEN)), "cooldown");
    assert_eq!(get(addr, "/api/v1/status").status, 200);
    assert_eq!(thresholds(addr), json!({"orange": 0.8, "red": 0.9}));

    // SIGHUP: the allowlist emptied and RED back at 0.99; the log says what was applied.
    let from = setup.vigil_log().len();
    setup.write_config("red = 0.99\norange = 0.8", "", "batch_max_events = 512");
    hang_up(&child);
    let line = wait_for_log(&setup, from, "config reloaded from");
    assert!(
        line.lines().next().is_some_and(|l| l.contains(
            "(SIGHUP): applied [severity.red, alerts.allowlist], restart required [pipeline.batch_max_events]"
        )),
        "{line}"
    );
    assert_eq!(thresholds(addr), json!({"orange": 0.8, "red": 0.99}));
    append(&setup.log, &failed_logins("198.51.100.3", 40, 6));
    settle(addr, 30);
    assert!(
        severities(addr).contains(&("198.51.100.3".to_string(), "orange".to_string())),
        "{:?}",
        severities(addr)
    );

    // A broken file on SIGHUP is logged at error level and changes nothing.
    let from = setup.vigil_log().len();
    setup.write_config("red = 0.5\norange = 0.8", "", "");
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
