//! `vigil run` with `[outputs.webhook]` over a followed Cowrie file, against a small HTTP
//! receiver in this test that answers 500 to its first requests and 200 after: every RED
//! alert reaches the receiver exactly once (the failed tries are retried, not dropped and not
//! doubled), no ORANGE alert does, every body carries Slack's `text`, and a restart that reads
//! the whole file again sends nothing twice.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::vigil_bin;

/// Requests answered 500 before the receiver starts taking them.
const FAILURES: usize = 3;

/// One request the receiver answered.
#[derive(Debug, Clone)]
struct Request {
    status: u16,
    body: Value,
    content_type: Option<String>,
    authorization: Option<String>,
}

/// A tiny HTTP/1.1 receiver on a local port: answers the first `failures` requests with 500,
/// the rest with 200, one request per connection, and records every request.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start(failures: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let url = format!(
            "http://{}/services/T0/B0/secret",
            listener.local_addr().expect("local address")
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                let mut content_type = None;
                let mut authorization = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        let value = value.trim().to_string();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.parse().unwrap_or(0),
                            "content-type" => content_type = Some(value),
                            "authorization" => authorization = Some(value),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let mut log = log.lock().expect("request log");
                let status = if log.len() < failures { 500 } else { 200 };
                log.push(Request {
                    status,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    content_type,
                    authorization,
                });
                drop(log);
                let text = if status == 200 { "ok" } else { "try later" };
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = reader.get_mut().write_all(answer.as_bytes());
            }
        });
        Receiver { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("request log").clone()
    }

    /// Ids of the alerts the receiver accepted, in order of arrival.
    fn accepted_ids(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| {
                r.body["vigil"]["alert"]["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("an alert body: {}", r.body))
                    .to_string()
            })
            .collect()
    }
}

/// A Cowrie failed login.
fn failed_login(ip: &str, second: u32) -> String {
    serde_json::json!({
        "eventid": "cowrie.login.failed",
        "username": "root",
        "password": format!("pw{second}"),
        "message": "login attempt failed",
        "sensor": "hp",
        "timestamp": format!("2026-03-01T10:{:02}:{:02}.000000Z", second / 60, second % 60),
        "src_ip": ip,
        "src_port": 40_000 + second,
        "dst_ip": "10.0.0.5",
        "dst_port": 22,
        "session": format!("{ip}-{second}"),
    })
    .to_string()
}

/// Failed logins from `198.51.<octet>.0..sources`, `per_source` each, one second apart.
/// With `min_failed_logins = 5`, 5 make an ORANGE alert, and 25 within the 30 s login window
/// escalate to a RED one.
fn burst(octet: u8, sources: u8, per_source: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for second in 0..per_source {
        for host in 0..sources {
            lines.push(failed_login(&format!("198.51.{octet}.{host}"), second));
        }
    }
    lines
}

struct Paths {
    config: PathBuf,
    log: PathBuf,
    flat: PathBuf,
}

fn write_config(dir: &Path, url: &str) -> Paths {
    let paths = Paths {
        config: dir.join("vigil.toml"),
        log: dir.join("cowrie.json"),
        flat: dir.join("alerts.ndjson"),
    };
    std::fs::write(&paths.log, "").expect("create log");
    std::fs::write(
        &paths.config,
        format!(
            r#"[pipeline]
shutdown_grace_secs = 10
[rules.brute_force]
min_failed_logins = 5
[api]
listen = "127.0.0.1:0"
[state]
dir = "{state}"
flush_every_millis = 50
# The events are from March 2026: age retention by the wall clock would remove them.
retention_max_age_days = 0
[alerts]
cooldown_secs = 300
[outputs]
alerts_ndjson = "{flat}"
[outputs.webhook]
url = "{url}"
timeout_millis = 5000
max_retries = 10
backoff_initial_millis = 20
backoff_max_millis = 100
[outputs.webhook.headers]
Authorization = "Bearer test-token"
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
            state = dir.join("state").display(),
            flat = paths.flat.display(),
            log = paths.log.display(),
        ),
    )
    .expect("write config");
    paths
}

fn start(config: &Path) -> Child {
    Command::new(vigil_bin())
        .args(["run", "--config", config.to_str().expect("utf-8 path")])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil starts")
}

fn append(log: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .expect("open log");
    for line in lines {
        writeln!(f, "{line}").expect("append");
    }
    f.flush().expect("flush");
}

/// Sends SIGTERM and returns vigil's stderr once it exited cleanly.
fn stop(mut child: Child) -> String {
    let status = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            assert!(status.success(), "vigil exited with {status}: {stderr}");
            return stderr;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "vigil did not stop within the grace period"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `ready` holds, or fails naming `what`.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ids of the alerts in the flat JSON output, split into RED and ORANGE.
fn stored_ids(flat: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(flat).unwrap_or_default();
    let mut red = BTreeSet::new();
    let mut orange = BTreeSet::new();
    for line in text.lines() {
        let doc: Value = serde_json::from_str(line).expect("flat JSON line");
        let id = doc["id"].as_str().expect("id").to_string();
        match doc["severity"].as_str() {
            Some("red") => red.insert(id),
            Some("orange") => orange.insert(id),
            other => panic!("unexpected severity {other:?}"),
        };
    }
    (red, orange)
}

fn assert_once(ids: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        set.len(),
        ids.len(),
        "an alert reached the webhook twice: {ids:?}"
    );
    set
}

#[test]
fn run_posts_each_red_alert_once_through_failures_and_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start(FAILURES);
    let paths = write_config(dir.path(), &receiver.url);

    // First run: four sources escalate to RED (30 failed logins), four stay ORANGE (8).
    let child = start(&paths.config);
    let mut lines = burst(10, 4, 30);
    lines.extend(burst(20, 4, 8));
    append(&paths.log, &lines);
    wait_for("8 ORANGE and 4 RED alerts in the flat output", || {
        let (red, orange) = stored_ids(&paths.flat);
        red.len() == 4 && orange.len() == 8
    });
    let (red, orange) = stored_ids(&paths.flat);
    wait_for("every RED alert at the webhook", || {
        receiver.accepted_ids().len() >= red.len()
    });
    let stderr = stop(child);

    let requests = receiver.requests();
    let accepted = assert_once(&receiver.accepted_ids());
    assert_eq!(
        accepted, red,
        "the webhook takes exactly the RED alerts\n{stderr}"
    );
    assert!(accepted.is_disjoint(&orange));
    // The failed tries were retried: the first answers were 500, and what they carried was
    // accepted afterwards.
    let failed: Vec<&Request> = requests.iter().filter(|r| r.status == 500).collect();
    assert_eq!(failed.len(), FAILURES);
    assert!(requests[..FAILURES].iter().all(|r| r.status == 500));
    for request in &failed {
        let id = request.body["vigil"]["alert"]["id"].as_str().expect("id");
        assert!(accepted.contains(id), "{id} was dropped after a 500");
    }
    assert!(
        stderr.contains("retries=3"),
        "the stop log counts retries: {stderr}"
    );
    for request in &requests {
        let text = request.body["text"].as_str().expect("Slack's text field");
        assert!(text.starts_with("RED alert from brute_force"), "{text}");
        assert!(text.contains("escalated"), "{text}");
        assert_eq!(request.body["vigil"]["kind"], "alert");
        assert_eq!(request.body["vigil"]["alert"]["severity"], "red");
        assert!(request.body["vigil"]["alert"].get("password").is_none());
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.authorization.as_deref(), Some("Bearer test-token"));
    }
    assert!(
        !stderr.contains("secret"),
        "the webhook URL's path stays out of the logs: {stderr}"
    );

    // Second run over the same state: the file is read again from the start and raises the
    // same alerts, which must not be sent again; one new source escalates.
    let sent_before = requests.len();
    let child = start(&paths.config);
    append(&paths.log, &burst(30, 1, 30));
    wait_for("the new RED alert in the flat output", || {
        stored_ids(&paths.flat).0.len() == 5
    });
    wait_for("the new RED alert at the webhook", || {
        receiver.accepted_ids().len() > red.len()
    });
    let stderr = stop(child);
    let (all_red, _) = stored_ids(&paths.flat);
    let accepted = assert_once(&receiver.accepted_ids());
    assert_eq!(accepted, all_red, "{stderr}");
    assert_eq!(
        receiver.requests().len(),
        sent_before + 1,
        "after the restart only the new alert was sent"
    );
    let last = receiver.requests().pop().expect("a request");
    assert!(
        last.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("198.51.30.0")),
        "{}",
        last.body
    );
}
