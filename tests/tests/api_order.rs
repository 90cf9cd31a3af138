//! `GET /api/v1/alerts?order=score` against the real `vigil run` (a followed Cowrie file,
//! the rules alone, the API on an ephemeral port): pages in score order return every stored
//! alert exactly once, scores never increasing and equal scores newest first, across page
//! sizes 1, 7 and 500, with `min_score` and `src_ip`; a cursor of the other order and an
//! unknown order are 400.
//!
//! The helpers are copied from `api.rs`, which other work owns.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
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
    Response { status, body }
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

/// Cowrie failed logins: `count` events from `ip`, one per `step_millis` of event time from
/// `start_millis` after 2026-03-01T00:00:00Z.
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

/// `each` failed logins from each of `hosts` addresses `prefix.1`, `prefix.2`..., one
/// address after the other, 100 ms apart, from `start_secs` on: each address raises an
/// ORANGE alert at the fifth, and a RED one when it goes on long enough to escalate.
fn burst(prefix: &str, hosts: usize, each: usize, start_secs: i64) -> String {
    let mut text = String::new();
    for host in 0..hosts {
        let start = start_secs * 1000 + (host * each) as i64 * 100;
        text.push_str(&failed_logins_at(
            &format!("{prefix}.{}", host + 1),
            start,
            each,
            100,
        ));
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
    /// Holds the temporary directory until the test ends.
    _dir: tempfile::TempDir,
    config: PathBuf,
    log: PathBuf,
    vigil_log: PathBuf,
}

/// A config reading a followed Cowrie file with the rules alone (no pool), every hit its
/// own alert (no cooldown), and the API on an ephemeral port with `api` lines added.
fn setup(api: &str) -> Setup {
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
[pool]
enabled = false
[state]
dir = "{state}"
flush_every_millis = 20
checkpoint_secs = 1
retention_max_age_days = 0
[alerts]
cooldown_secs = 0
[outputs]
alerts_ndjson = "{flat}"
[api]
listen = "127.0.0.1:0"
{api}
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
            state = dir.path().join("state").display(),
            flat = dir.path().join("alerts.ndjson").display(),
            log = log.display(),
        ),
    )
    .expect("write the config");
    Setup {
        _dir: dir,
        config,
        log,
        vigil_log,
    }
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
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/alerts?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = get(addr, &path);
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        pages += 1;
        let page = page.json();
        let alerts = page["alerts"].as_array().expect("alerts");
        assert!(alerts.len() <= limit, "{path}");
        seen.extend(alerts.iter().map(|a| Seen {
            id: a["id"].as_str().expect("id").to_string(),
            score: a["score"].as_f64().expect("score"),
            event_time: a["event_time"].as_str().expect("event time").to_string(),
        }));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (seen, pages),
        }
        assert!(pages < 10_000, "the walk does not end: {path}");
    }
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

fn assert_error(response: &Response, status: u16, code: &str, mentions: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert_eq!(body["error"], code, "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains(mentions), "{mentions:?} not in {detail:?}");
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

    let response = request(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(response.status, 202, "{}", response.text());
    let exit = wait_exit(&mut child, Duration::from_secs(60));
    assert!(exit.success(), "{exit}");
    drop(setup);
}
