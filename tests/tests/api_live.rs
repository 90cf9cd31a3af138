//! The live parts of the admin API on the real binary: HTTP ingest (`POST /api/v1/events`)
//! through the `http` source, the Server-Sent Events stream (`GET /api/v1/stream`), the
//! export download (`GET /api/v1/export`), 503 with `Retry-After` when the ingest queue is
//! full, and `vigil replay --listen ADDR --hold`.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use daemon::{api_address, burst_per_second, failed_logins, settle, start_run, wait_exit};
use serde_json::Value;
use vigil_tests::vigil_bin;
use web::{Response, assert_error, get, request_ndjson};

const TOKEN: &str = "live-token-0123456789abcdef";

fn post_events(addr: SocketAddr, query: &str, token: Option<&str>, body: &str) -> Response {
    request_ndjson(
        addr,
        "POST",
        &format!("/api/v1/events{query}"),
        token,
        Some(body.as_bytes()),
    )
}

/// A config with the rules alone, every hit its own alert, and `extra` lines appended
/// (sources, `[api]` settings...).
fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            r#"[pipeline]
shutdown_grace_secs = 20
{pipeline}
[rules.brute_force]
min_failed_logins = 5
[pool]
enabled = false
[state]
dir = "{state}"
flush_every_millis = 20
retention_max_age_days = 0
[alerts]
cooldown_secs = 0
[outputs]
alerts_ndjson = "{flat}"
{extra}
"#,
            pipeline = "",
            state = dir.join("state").display(),
            flat = dir.join("alerts.ndjson").display(),
        ),
    )
    .expect("write the config");
    config
}

/// A `vigil run` over a followed (empty) Cowrie file, its API on an ephemeral port.
fn run_config(dir: &Path, pipeline: &str) -> PathBuf {
    let log = dir.join("cowrie.json");
    std::fs::write(&log, "").expect("create the log");
    let config = write_config(
        dir,
        &format!(
            r#"[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
max_body_bytes = 65536
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
            log = log.display()
        ),
    );
    if !pipeline.is_empty() {
        let text = std::fs::read_to_string(&config).expect("read the config");
        let text = text.replacen("[pipeline]\n", &format!("[pipeline]\n{pipeline}\n"), 1);
        std::fs::write(&config, text).expect("write the config");
    }
    config
}

/// An open `GET /api/v1/stream`, read as it arrives.
struct Stream {
    socket: TcpStream,
    raw: Vec<u8>,
}

impl Stream {
    fn open(addr: SocketAddr, last_event_id: Option<u64>) -> Stream {
        let mut socket = TcpStream::connect(addr).expect("connect to the API");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut head =
            format!("GET /api/v1/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        if let Some(id) = last_event_id {
            head.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        head.push_str("\r\n");
        socket.write_all(head.as_bytes()).expect("send head");
        let mut stream = Stream {
            socket,
            raw: Vec::new(),
        };
        stream.until(|text| text.contains("vigil live stream"));
        let text = stream.text();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{text}"
        );
        stream
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// Reads until `done` holds for what arrived (at most 60 s).
    fn until(&mut self, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut buf = [0u8; 8192];
        loop {
            let text = self.text();
            if done(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "the stream never had it: {text}");
            match self.socket.read(&mut buf) {
                Ok(0) => panic!("the stream closed: {text}"),
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("reading the stream: {e}"),
            }
        }
    }

    /// The `alert` events received: (id, data).
    fn alerts(&self) -> Vec<(u64, Value)> {
        events(&self.text(), "alert")
            .into_iter()
            .map(|(id, data)| (id.expect("alert events carry an id"), data))
            .collect()
    }
}

/// The events named `name` in a raw stream: their `id` and parsed `data`.
fn events(text: &str, name: &str) -> Vec<(Option<u64>, Value)> {
    let mut out = Vec::new();
    let mut id = None;
    let mut event = None;
    for line in text.split('\n') {
        if let Some(value) = line.strip_prefix("id: ") {
            id = value.trim().parse().ok();
        } else if let Some(value) = line.strip_prefix("event: ") {
            event = Some(value.trim().to_string());
        } else if let Some(data) = line.strip_prefix("data: ") {
            if event.as_deref() == Some(name) {
                let value = serde_json::from_str(data.trim())
                    .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}"));
                out.push((id, value));
            }
            id = None;
            event = None;
        }
    }
    out
}

fn count_alerts_in(text: &str) -> usize {
    text.matches("event: alert\n").count()
}

#[test]
fn ingest_stream_and_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = run_config(dir.path(), "");
    let (mut child, addr) = start_run(&config, &dir.path().join("vigil.log"), "http");
    assert_eq!(get(addr, "/readyz").status, 200);
    let sources = get(addr, "/api/v1/sources").json();
    assert_eq!(sources["sources"][0]["name"], "honeypot");
    assert_eq!(sources["sources"][1]["name"], "http");

    // A stream opened now sees what is committed after it, with a KPI tick.
    let mut stream = Stream::open(addr, None);
    stream.until(|text| text.contains("event: kpi\n"));
    let kpi = events(&stream.text(), "kpi");
    assert!(kpi[0].1["events_decided"].is_u64(), "{:?}", kpi[0]);
    assert!(kpi[0].1["alerts_red"].is_u64());

    // Ingest: counted per line, bad lines named by number; mutating, so token-gated.
    let mut body = burst_per_second("203.0.113", 6, 6, 0);
    body.push_str("this is not json\n");
    assert_error(
        &post_events(addr, "?format=cowrie", None, &body),
        401,
        "unauthorized",
        "Bearer",
    );
    assert_error(
        &post_events(addr, "?format=snort", Some(TOKEN), &body),
        400,
        "bad_request",
        "snort",
    );
    assert_error(
        &post_events(addr, "?format=cowrie&sensor=x", Some(TOKEN), &body),
        400,
        "bad_request",
        "sensor",
    );
    assert_error(
        &post_events(addr, "", Some(TOKEN), &"x".repeat(70_000)),
        413,
        "payload_too_large",
        "65536",
    );
    let answer = post_events(addr, "?format=cowrie", Some(TOKEN), &body);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer = answer.json();
    assert_eq!(answer["accepted"], 36, "{answer}");
    assert_eq!(answer["rejected"], 1, "{answer}");
    assert_eq!(answer["source"], "http");
    assert_eq!(answer["rejections"][0]["line"], 37, "{answer}");
    // format=auto recognises the lines; the same lines again are new records (own origins).
    let answer = post_events(
        addr,
        "",
        Some(TOKEN),
        &burst_per_second("198.51.100", 4, 6, 600),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["accepted"], 24);

    // One alert per address at least.
    let status = settle(addr, 60);
    assert_eq!(status["events_rejected"], 1, "{status}");
    let stored = status["store"]["alert_count"].as_u64().expect("count") as usize;
    assert!(stored >= 10, "{status}");
    let http = &status["sources"][1];
    assert_eq!(http["records_read"], 61, "{status}");
    assert_eq!(http["events_parsed"], 60, "{status}");

    let text = stream.until(|text| count_alerts_in(text) == stored);
    assert!(!text.contains("secret-guess"), "passwords are redacted");
    let alerts = stream.alerts();
    let ids: Vec<u64> = alerts.iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "commit order: {ids:?}");
    assert!(
        alerts
            .iter()
            .all(|(_, alert)| alert["detector"] == "brute_force"),
        "{alerts:?}"
    );
    let ips: std::collections::BTreeSet<&str> = alerts
        .iter()
        .map(|(_, alert)| alert["src_ip"].as_str().expect("src_ip"))
        .collect();
    assert_eq!(ips.len(), 10, "{ips:?}");

    // Resuming after an id gets exactly what followed it.
    let mut resumed = Stream::open(addr, Some(ids[3]));
    resumed.until(|text| count_alerts_in(text) == stored - 4);
    let resumed_ids: Vec<u64> = resumed.alerts().iter().map(|(id, _)| *id).collect();
    assert_eq!(resumed_ids, ids[4..]);
    assert_error(
        &get(addr, "/api/v1/stream?last_event_id=abc"),
        400,
        "bad_request",
        "last_event_id",
    );

    // Export: every stored alert, newest first, redacted; CEF too; time bounds; bad params.
    let export = get(addr, "/api/v1/export?format=ndjson");
    assert_eq!(export.status, 200, "{}", export.text());
    assert!(
        export
            .header("content-disposition")
            .is_some_and(|v| v.contains("attachment"))
    );
    let text = export.text();
    assert!(!text.contains("secret-guess"));
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), stored);
    let times: Vec<&str> = lines
        .iter()
        .map(|a| a["event_time"].as_str().expect("time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let cef = get(addr, "/api/v1/export?format=cef").text();
    assert_eq!(cef.lines().count(), stored);
    assert!(cef.lines().all(|line| line.starts_with("CEF:")), "{cef}");
    assert!(!cef.contains("secret-guess"));
    let early = get(
        addr,
        "/api/v1/export?since=2026-03-01T00:00:00Z&until=2026-03-01T00:05:00Z",
    )
    .text();
    let from_first = alerts
        .iter()
        .filter(|(_, alert)| {
            alert["src_ip"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("203."))
        })
        .count();
    assert_eq!(early.lines().count(), from_first, "{early}");
    assert!(early.lines().all(|line| line.contains("\"203.0.113.")));
    assert_error(
        &get(addr, "/api/v1/export?format=xml"),
        400,
        "bad_request",
        "format",
    );
    assert_error(
        &get(
            addr,
            "/api/v1/export?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z",
        ),
        400,
        "bad_request",
        "until",
    );

    drop(stream);
    drop(resumed);
    let shutdown = request_ndjson(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(shutdown.status, 202);
    assert!(wait_exit(&mut child, Duration::from_secs(60)).success());
}

#[test]
fn a_full_ingest_queue_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The http source's queue holds one request.
    let config = run_config(dir.path(), "mailbox_batches = 1");
    let (mut child, addr) = start_run(&config, &dir.path().join("vigil.log"), "http");
    let paused = request_ndjson(
        addr,
        "POST",
        "/api/v1/sources/http/pause",
        Some(TOKEN),
        None,
    );
    assert_eq!(paused.status, 200, "{}", paused.text());
    // Two requests while the source takes nothing: one waits in the queue, the other is
    // refused at once (whichever came second), and nothing of it is taken.
    let (tx, rx) = mpsc::channel();
    for (i, ip) in ["192.0.2.1", "192.0.2.2"].into_iter().enumerate() {
        let tx = tx.clone();
        let body = failed_logins(ip, 100 * i as i64, 6, 100);
        std::thread::spawn(move || {
            let response = post_events(addr, "?format=cowrie", Some(TOKEN), &body);
            let _ = tx.send(response);
        });
    }
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("one request answered while the source is paused");
    assert_error(&first, 503, "unavailable", "full");
    assert_eq!(first.header("retry-after"), Some("1"));
    let resumed = request_ndjson(
        addr,
        "POST",
        "/api/v1/sources/http/resume",
        Some(TOKEN),
        None,
    );
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    let second = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the queued request is answered once taken");
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.json()["accepted"], 6);
    // Only the accepted request's events went through.
    let status = settle(addr, 6);
    assert_eq!(status["sources"][1]["records_read"], 6, "{status}");
    let exported = get(addr, "/api/v1/export").text();
    assert!(!exported.is_empty());
    let ips: std::collections::BTreeSet<String> = exported
        .lines()
        .map(|line| {
            let alert: Value = serde_json::from_str(line).expect("a JSON line");
            alert["src_ip"].as_str().expect("src_ip").to_string()
        })
        .collect();
    assert_eq!(ips.len(), 1, "the refused request raised nothing: {ips:?}");
    let shutdown = request_ndjson(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(shutdown.status, 202);
    assert!(wait_exit(&mut child, Duration::from_secs(60)).success());
}

#[test]
fn replay_serves_the_api_while_it_runs_and_holds_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("cowrie.json");
    std::fs::write(&input, burst_per_second("203.0.113", 3, 6, 0)).expect("write the input");
    let config = write_config(dir.path(), &format!("[api]\ntoken = \"{TOKEN}\"\n"));
    let mut child = Command::new(vigil_bin())
        .args([
            "replay",
            "--listen",
            "127.0.0.1:0",
            "--hold",
            "--format",
            "cowrie",
            "--config",
            config.to_str().expect("utf-8"),
            input.to_str().expect("utf-8"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil starts");
    let (err_tx, err_rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let (out_tx, out_rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let addr = loop {
        let line = err_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no address printed: {seen:?}"));
        if let Some(addr) = api_address(&line, "http") {
            break addr;
        }
        seen.push(line);
    };
    // The summary comes once the replay is done; the process then keeps serving.
    let summary: Value = serde_json::from_str(
        &out_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the replay's summary"),
    )
    .expect("the summary is JSON");
    assert_eq!(summary["events_parsed"], 18, "{summary}");
    let mut held = Vec::new();
    loop {
        let line = err_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no hold notice: {held:?}"));
        if line.contains("still serving") {
            break;
        }
        held.push(line);
    }
    assert!(child.try_wait().expect("wait").is_none(), "still running");
    let status = get(addr, "/api/v1/status").json();
    assert_eq!(status["events_decided"], 18, "{status}");
    let stored = status["store"]["alert_count"].as_u64().expect("count") as usize;
    assert!(stored >= 3, "{status}");
    assert_eq!(status["sources"][0]["name"], "replay");
    assert_eq!(status["sources"][0]["state"], "finished");
    let alerts = get(addr, "/api/v1/alerts").json();
    assert_eq!(alerts["alerts"].as_array().map(Vec::len), Some(stored));
    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text().contains("vigil_events_processed_total 18"),
        "{}",
        metrics.text()
    );
    assert_eq!(
        get(addr, "/api/v1/export").text().lines().count(),
        stored,
        "export from a held replay"
    );
    // A replay takes no events over HTTP.
    assert_error(
        &post_events(
            addr,
            "",
            Some(TOKEN),
            &failed_logins("192.0.2.9", 0, 1, 100),
        ),
        503,
        "unavailable",
        "HTTP",
    );
    let shutdown = request_ndjson(addr, "POST", "/api/v1/shutdown", Some(TOKEN), None);
    assert_eq!(shutdown.status, 202);
    assert!(wait_exit(&mut child, Duration::from_secs(60)).success());
}
