//! Helpers for the tests of the admin API of a real `vigil run`: Cowrie failed-login lines
//! with known event times, a temporary directory with a followed Cowrie file and a config
//! (the rules alone with an `[api]` on an ephemeral port, or any other), `vigil run` started
//! with the API's address read from its log, waiting for the pipeline to settle, and walking
//! the pages of `/api/v1/alerts`. Included with `#[path = "common/daemon.rs"] mod daemon;`
//! next to `#[path = "common/web.rs"] mod web;`, which it uses.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::vigil_bin;

use crate::web::get;

/// The event time every Cowrie line builder counts from.
pub const EPOCH: &str = "2026-03-01T00:00:00Z";

/// Cowrie failed logins: `count` events from `ip`, one per `step_millis` of event time from
/// `start_millis` after [`EPOCH`], each with its own password, source port and session.
pub fn failed_logins_at(ip: &str, start_millis: i64, count: usize, step_millis: i64) -> String {
    let start = chrono::DateTime::parse_from_rfc3339(EPOCH)
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

/// Cowrie failed logins: `count` events from `ip`, one per `step_millis` of event time from
/// `start_secs` after [`EPOCH`]. With `min_failed_logins = 5` and no cooldown, every one from
/// the fifth on raises a brute-force alert.
pub fn failed_logins(ip: &str, start_secs: i64, count: usize, step_millis: i64) -> String {
    failed_logins_at(ip, start_secs * 1000, count, step_millis)
}

/// `each` failed logins from each of `hosts` addresses `prefix.1`, `prefix.2`..., one
/// address after the other, 100 ms apart, from `start_secs` on: each address raises an
/// ORANGE alert at the fifth, and a RED one when it goes on long enough to escalate.
pub fn burst(prefix: &str, hosts: usize, each: usize, start_secs: i64) -> String {
    spaced_burst(prefix, hosts, each, start_secs * 1000, each as i64 * 100)
}

/// `each` failed logins 100 ms apart from each of `hosts` addresses `prefix.1`,
/// `prefix.2`..., address `k` starting `k - 1` seconds after `start_secs`.
pub fn burst_per_second(prefix: &str, hosts: usize, each: usize, start_secs: i64) -> String {
    spaced_burst(prefix, hosts, each, start_secs * 1000, 1000)
}

/// `each` failed logins 100 ms apart from each of `hosts` addresses, address `k` starting
/// `(k - 1) * gap_millis` after `start_millis`.
fn spaced_burst(
    prefix: &str,
    hosts: usize,
    each: usize,
    start_millis: i64,
    gap_millis: i64,
) -> String {
    (0..hosts)
        .map(|host| {
            failed_logins_at(
                &format!("{prefix}.{}", host + 1),
                start_millis + host as i64 * gap_millis,
                each,
                100,
            )
        })
        .collect()
}

/// Appends `text` to the file at `path` (which must exist), as a sensor writing its log.
pub fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open the log");
    f.write_all(text.as_bytes()).expect("append");
}

/// A temporary directory holding a config, a followed Cowrie file and `vigil`'s stderr.
pub struct Setup {
    /// The directory; removed when dropped.
    pub dir: tempfile::TempDir,
    /// `vigil.toml` in it.
    pub config: PathBuf,
    /// `cowrie.json` in it, the followed file.
    pub log: PathBuf,
    /// `vigil.log` in it, where `vigil`'s stderr goes.
    pub vigil_log: PathBuf,
}

impl Setup {
    /// A fresh temporary directory with an empty `cowrie.json`; no config written yet.
    pub fn create() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let setup = Setup {
            config: dir.path().join("vigil.toml"),
            log: dir.path().join("cowrie.json"),
            vigil_log: dir.path().join("vigil.log"),
            dir,
        };
        std::fs::write(&setup.log, "").expect("create the log");
        setup
    }

    /// Writes `text` as the config: whole, then renamed over the old one, as editors and
    /// config tools do.
    pub fn write_config(&self, text: &str) {
        let fresh = self.dir.path().join("vigil.toml.new");
        std::fs::write(&fresh, text).expect("write the config");
        std::fs::rename(&fresh, &self.config).expect("replace the config");
    }

    /// The state directory a config here names (`state/`).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `vigil`'s stderr so far.
    pub fn vigil_log(&self) -> String {
        std::fs::read_to_string(&self.vigil_log).unwrap_or_default()
    }
}

/// A config reading a followed Cowrie file with the rules alone (no pool), every hit its
/// own alert (no cooldown), and the API on an ephemeral port with `api` lines added.
pub fn setup(api: &str) -> Setup {
    setup_with(api, "")
}

/// As [`setup`], with `alerts` lines added to `[alerts]` too.
pub fn setup_with(api: &str, alerts: &str) -> Setup {
    let setup = Setup::create();
    setup.write_config(&format!(
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
{alerts}
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
        state = setup.state_dir().display(),
        flat = setup.dir.path().join("alerts.ndjson").display(),
        log = setup.log.display(),
    ));
    setup
}

/// Starts `vigil run` on the setup's config (its old log removed) and waits for the API's
/// address in its log.
pub fn start(setup: &Setup) -> (Child, SocketAddr) {
    let _ = std::fs::remove_file(&setup.vigil_log);
    start_run(&setup.config, &setup.vigil_log, "http")
}

/// Starts `vigil run --config CONFIG` (`RUST_LOG=info`, stderr to `vigil_log`) and waits, at
/// most 30 s, for `admin API on SCHEME://ADDR` in its log.
pub fn start_run(config: &Path, vigil_log: &Path, scheme: &str) -> (Child, SocketAddr) {
    let log = std::fs::File::create(vigil_log).expect("vigil log");
    let mut child = Command::new(vigil_bin())
        .args(["run", "--config", config.to_str().expect("utf-8")])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("vigil starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let marker = format!("admin API on {scheme}://");
    loop {
        let text = std::fs::read_to_string(vigil_log).unwrap_or_default();
        if text.contains(&marker) {
            let addr = api_address(&text, scheme)
                .unwrap_or_else(|| panic!("no address in the log: {text}"));
            return (child, addr);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vigil exited ({status}) before serving: {text}");
        }
        assert!(
            Instant::now() < deadline,
            "no {scheme} API address logged: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The address after the first `admin API on SCHEME://` in `text`.
pub fn api_address(text: &str, scheme: &str) -> Option<SocketAddr> {
    let rest = text.split(&format!("admin API on {scheme}://")).nth(1)?;
    rest.split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .and_then(|a| a.parse().ok())
}

/// Waits until `child` exits, at most `within`; panics (killing it) beyond.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
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

/// Waits (at most 60 s) until `events_decided` reaches `events` and the store's alert count
/// has settled; returns that last `/api/v1/status`.
pub fn settle(addr: SocketAddr, events: u64) -> Value {
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

/// Walks the pages of `/api/v1/alerts?limit=LIMIT{query}` (no token), following
/// `next_cursor`: asserts each page is 200 with at most `limit` alerts and hands it to
/// `on_page`. Returns the number of pages.
pub fn walk_pages(
    addr: SocketAddr,
    query: &str,
    limit: usize,
    on_page: &mut dyn FnMut(&Value),
) -> usize {
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
        on_page(&page);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return pages,
        }
    }
}

/// Every alert id of a walk through the pages, in order; `during` runs after each page.
pub fn walk(addr: SocketAddr, query: &str, limit: usize, during: &mut dyn FnMut()) -> Vec<String> {
    let mut ids = Vec::new();
    walk_pages(addr, query, limit, &mut |page| {
        ids.extend(
            page["alerts"]
                .as_array()
                .expect("alerts")
                .iter()
                .map(|a| a["id"].as_str().expect("id").to_string()),
        );
        during();
    });
    ids
}
