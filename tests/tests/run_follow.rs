//! `vigil run` follows a live log, alerts on what is appended, and stops cleanly on
//! SIGTERM and SIGINT within the grace period.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigil_tests::vigil_bin;

fn failed_login(ip: &str, second: u32, session: u32) -> String {
    format!(
        r#"{{"eventid":"cowrie.login.failed","username":"root","password":"x{second}","message":"login attempt failed","sensor":"hp","timestamp":"2026-03-01T10:00:{second:02}.000000Z","src_ip":"{ip}","session":"s{session}"}}"#
    )
}

fn start(dir: &Path) -> (Child, std::path::PathBuf, std::path::PathBuf) {
    let log = dir.join("cowrie.json");
    let alerts = dir.join("alerts.ndjson");
    std::fs::write(&log, "").expect("create log");
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            r#"[pipeline]
shutdown_grace_secs = 5
[rules.brute_force]
min_failed_logins = 5
[api]
listen = "127.0.0.1:0"
[state]
dir = "{}"
[outputs]
alerts_ndjson = "{}"
[sources.honeypot]
type = "file"
path = "{}"
format = "cowrie"
poll_millis = 20
"#,
            dir.join("state").display(),
            alerts.display(),
            log.display()
        ),
    )
    .expect("write config");
    let child = Command::new(vigil_bin())
        .args(["run", "--config", config.to_str().expect("utf-8 path")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil starts");
    (child, log, alerts)
}

fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop_with(signal: &str, mut child: Child) {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            assert!(
                status.success(),
                "vigil exited with {status} after {signal}: {stderr}"
            );
            assert!(stderr.contains("shutting down"), "{stderr}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "vigil did not stop within the grace period after {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn follows_appended_lines_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, log, alerts) = start(dir.path());
    // Give the source a moment to open the file, then append as a live sensor would.
    std::thread::sleep(Duration::from_millis(200));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    for i in 0..8 {
        writeln!(f, "{}", failed_login("198.51.100.23", i, i)).expect("append");
        f.flush().expect("flush");
    }
    wait_for("a brute-force alert", Duration::from_secs(20), || {
        std::fs::read_to_string(&alerts)
            .is_ok_and(|t| t.contains("\"brute_force\"") && t.contains("198.51.100.23"))
    });
    let text = std::fs::read_to_string(&alerts).expect("alerts file");
    assert!(
        !text.contains("\"password\""),
        "credentials never reach outputs: {text}"
    );
    stop_with("TERM", child);
}

#[test]
fn stops_on_sigint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, _, _) = start(dir.path());
    std::thread::sleep(Duration::from_millis(300));
    stop_with("INT", child);
}
