//! The Grafana dashboards against a real Prometheus: a running `vigil demo` (whose traffic
//! changes behaviour early, so the drift panels have data; with an allowlist and a
//! suppression, so the dropped-alert panel does too) is scraped every second by
//! `/usr/bin/prometheus` (Debian package `prometheus`), configured from
//! `grafana/prometheus.yml`; then every panel query of `grafana/dashboards/*.json`, with
//! Grafana's variables replaced as Grafana would replace them, must return at least one
//! series, and none may pad itself with `or vector(...)`.
//!
//! When the Prometheus server is missing the test is skipped with a message, or fails
//! naming the package when `CI` is set.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::vigil_bin;
use web::request_token;

/// The Prometheus server of the Debian package `prometheus`.
const PROMETHEUS: &str = "/usr/bin/prometheus";

/// How often the test's Prometheus scrapes Vigil, in seconds.
const SCRAPE_SECS: u64 = 1;

/// The API token of the demo (the suppression is a mutating call).
const TOKEN: &str = "grafana-prometheus-test-token-0123";

/// Event-time seconds after the start when the demo's behaviour change begins.
const CHANGE_AFTER_SECS: u32 = 1_500;

/// The demo's first event time (`demo.start`), in seconds since the Unix epoch
/// (2026-01-05T00:00:00Z).
const DEMO_START_SECS: i64 = 1_767_571_200;

/// Event time runs this many times faster than the wall clock: the change comes about
/// 10 s after the start, and the demo keeps running (and being scraped) afterwards.
const ACCELERATION: u32 = 150;

/// How long the test waits for the scrape and for the drift decision.
const DEADLINE: Duration = Duration::from_secs(120);

/// The Prometheus server, or `None` (skip) when it is missing.
///
/// # Panics
/// When it is missing and `CI` is set.
fn prometheus() -> Option<PathBuf> {
    let path = PathBuf::from(PROMETHEUS);
    if path.is_file() {
        return Some(path);
    }
    let message = format!(
        "{PROMETHEUS} is missing: install the Debian package `prometheus` (apt-get install -y prometheus; scripts/test does)"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("skipping: {message}");
    None
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process killed (and reaped) when dropped, also when the test panics; then the
/// end of its log is printed.
struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Running {
    fn spawn(name: &'static str, command: &mut Command, log: &Path) -> Running {
        let file = std::fs::File::create(log).expect("create the log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Running {
            name,
            child,
            log: log.to_path_buf(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            eprintln!("--- the end of {}'s log ---\n{tail}", self.name);
        }
    }
}

/// `text` percent-encoded for a URL query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query; the whole answer (`status`, `data`).
fn query(prometheus: SocketAddr, promql: &str) -> Value {
    let response = request_token(
        prometheus,
        "GET",
        &format!("/api/v1/query?query={}", encode(promql)),
        None,
        None,
    );
    let answer = response.json();
    assert!(
        response.status == 200 || answer["status"] == "error",
        "Prometheus answered {}: {answer}",
        response.status
    );
    answer
}

/// The samples of an instant query's vector result (empty on any error).
fn vector(prometheus: SocketAddr, promql: &str) -> Vec<(Value, f64)> {
    let answer = query(prometheus, promql);
    answer["data"]["result"]
        .as_array()
        .map(|result| {
            result
                .iter()
                .map(|sample| {
                    let value = sample["value"][1]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN);
                    (sample["metric"].clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// Polls `check` every 250 ms until it gives a value; panics with `what` and the last
/// state it describes at the deadline.
fn wait_for<T>(
    what: &str,
    deadline: Instant,
    processes: &mut [&mut Running],
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    loop {
        let last = match check() {
            Ok(value) => return value,
            Err(state) => state,
        };
        for process in processes.iter_mut() {
            process.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {last}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One panel query of a dashboard.
struct Target {
    dashboard: &'static str,
    panel: String,
    expr: String,
}

/// Every panel target `expr` of both dashboards (rows' nested panels included).
fn targets() -> Vec<Target> {
    fn walk(dashboard: &'static str, panels: &[Value], out: &mut Vec<Target>) {
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("(untitled)").to_string();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push(Target {
                        dashboard,
                        panel: title.clone(),
                        expr: expr.to_string(),
                    });
                }
            }
            if let Some(nested) = panel["panels"].as_array() {
                walk(dashboard, nested, out);
            }
        }
    }
    let mut out = Vec::new();
    for name in ["overview.json", "models.json"] {
        let path = repo().join("grafana/dashboards").join(name);
        let board: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name} reads: {e}")),
        )
        .unwrap_or_else(|e| panic!("{name} is JSON: {e}"));
        walk(name, board["panels"].as_array().expect("panels"), &mut out);
    }
    out
}

/// Grafana's built-in interval variables for a dashboard showing the last `range`, on a data
/// source whose minimum interval is the scrape interval (`timeInterval`, as the
/// provisioning file sets it): `$__interval` is the range over the panel's data points
/// (about 1,000), at least the minimum interval; `$__rate_interval` is the larger of
/// `$__interval` plus one scrape and four scrapes; `$__range` is the range itself.
struct GrafanaTime {
    interval_secs: u64,
    rate_interval_secs: u64,
    range_secs: u64,
}

impl GrafanaTime {
    fn new(range: Duration, scrape_secs: u64) -> GrafanaTime {
        let range_secs = range.as_secs().max(1);
        let interval_secs = (range_secs / 1000).max(scrape_secs);
        GrafanaTime {
            interval_secs,
            rate_interval_secs: (interval_secs + scrape_secs).max(4 * scrape_secs),
            range_secs,
        }
    }

    /// `expr` with Grafana's variables replaced: the built-in intervals, and the `instance`
    /// template variable at "All" (its `allValue`, `.*`, in a regex matcher).
    fn substitute(&self, expr: &str) -> String {
        let mut out = expr.to_string();
        for (names, value) in [
            (
                ["${__rate_interval}", "$__rate_interval"],
                format!("{}s", self.rate_interval_secs),
            ),
            (
                ["${__interval}", "$__interval"],
                format!("{}s", self.interval_secs),
            ),
            (["${__range}", "$__range"], format!("{}s", self.range_secs)),
            (["${instance}", "$instance"], ".*".to_string()),
        ] {
            for name in names {
                out = out.replace(name, &value);
            }
        }
        out
    }
}

/// The scrape configuration for the test: `grafana/prometheus.yml` with the scrape interval
/// and the target replaced (its job name and metrics path kept).
fn scrape_config(vigil: SocketAddr) -> String {
    let shipped = std::fs::read_to_string(repo().join("grafana/prometheus.yml"))
        .expect("grafana/prometheus.yml reads");
    assert!(shipped.contains("job_name: vigil"), "{shipped}");
    assert!(shipped.contains("metrics_path: /metrics"), "{shipped}");
    let mut out = String::new();
    let mut replaced = (0, 0);
    for line in shipped.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        let trimmed = line.trim_start();
        if trimmed.starts_with("scrape_interval:") || trimmed.starts_with("evaluation_interval:") {
            let key = trimmed.split(':').next().unwrap_or_default();
            out.push_str(&format!("{indent}{key}: {SCRAPE_SECS}s\n"));
            replaced.0 += 1;
        } else if trimmed.starts_with("- targets:") {
            out.push_str(&format!("{indent}- targets: [\"{vigil}\"]\n"));
            replaced.1 += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(
        replaced,
        (2, 1),
        "grafana/prometheus.yml has one scrape and one evaluation interval and one target list:\n{shipped}"
    );
    out
}

#[test]
fn every_dashboard_query_returns_series_from_a_real_prometheus() {
    let Some(prometheus_bin) = prometheus() else {
        return;
    };
    let started = Instant::now();
    let targets = targets();
    let padded: Vec<String> = targets
        .iter()
        .filter(|t| {
            let squashed: String = t.expr.split_whitespace().collect();
            squashed.contains("orvector(") || squashed.contains("oron()vector(")
        })
        .map(|t| format!("{} / {}: {}", t.dashboard, t.panel, t.expr))
        .collect();
    assert!(
        padded.is_empty(),
        "queries padded with `or vector(...)`:\n{}",
        padded.join("\n")
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            r#"[demo]
start = "2026-01-05T00:00:00Z"
drift_after_secs = {CHANGE_AFTER_SECS}
drift_ramp_secs = 1
first_attack_within_secs = 60
attack_mean_gap_secs = 300
[state]
dir = "{state}"
[alerts]
allowlist = ["10.0.0.0/16"]
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
"#,
            state = dir.path().join("state").display(),
        ),
    )
    .expect("write the config");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("create tmp");
    let mut vigil = Running::spawn(
        "vigil demo",
        Command::new(vigil_bin())
            .args([
                "demo",
                "--config",
                config.to_str().expect("UTF-8 path"),
                "--acceleration",
                &ACCELERATION.to_string(),
            ])
            .env("RUST_LOG", "info")
            // The demo's temporary state directory goes with the test's.
            .env("TMPDIR", &tmp),
        &dir.path().join("vigil.log"),
    );
    let deadline = Instant::now() + DEADLINE;
    let api: SocketAddr = wait_for("the demo's API address", deadline, &mut [], || {
        vigil.assert_running();
        let log = vigil.log();
        log.split("admin API on http://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ' ', '\n']).next())
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| format!("no address logged yet:\n{log}"))
    });

    // An analyst's suppression of the office Wi-Fi (the allowlist holds the wired LAN).
    let created = request_token(
        api,
        "POST",
        "/api/v1/suppressions",
        Some(TOKEN),
        Some(
            r#"{"src_cidr": "192.168.0.0/16", "reason": "office Wi-Fi under maintenance"}"#
                .as_bytes(),
        ),
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );

    let scrape = dir.path().join("prometheus.yml");
    std::fs::write(&scrape, scrape_config(api)).expect("write the scrape config");
    let prometheus_addr: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("an address");
    let data = dir.path().join("tsdb");
    let mut prometheus = Running::spawn(
        "prometheus",
        Command::new(&prometheus_bin)
            .arg(format!("--config.file={}", scrape.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={prometheus_addr}"))
            .current_dir(dir.path()),
        &dir.path().join("prometheus.log"),
    );
    let scrape_start = Instant::now();

    // The target is up, and the pool has answered the behaviour change.
    wait_for(
        "the scrape of vigil to be up",
        deadline,
        &mut [&mut vigil, &mut prometheus],
        || {
            if TcpStream::connect(prometheus_addr).is_err() {
                return Err("Prometheus is not listening yet".to_string());
            }
            let up = vector(prometheus_addr, r#"up{job="vigil"}"#);
            match up.as_slice() {
                [(_, value)] if *value == 1.0 => Ok(()),
                _ => Err(format!("up: {up:?}")),
            }
        },
    );
    // The behaviour change has begun and the pool detected drift after it (Vigil's API
    // has the decisions with their event times) ...
    let change_micros = (DEMO_START_SECS + i64::from(CHANGE_AFTER_SECS)) * 1_000_000;
    let detected = wait_for(
        "a drift detected after the demo's behaviour change",
        deadline,
        &mut [&mut vigil, &mut prometheus],
        || {
            let page = request_token(api, "GET", "/api/v1/drift?limit=1000", None, None).json();
            let detected: Vec<&Value> = page["drift_events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["kind"] == "drift_detected")
                .collect();
            let after_change = detected
                .iter()
                .any(|e| e["event_time_micros"].as_i64() >= Some(change_micros));
            if after_change && page["next_cursor"].is_null() {
                Ok(detected.len())
            } else {
                Err(format!(
                    "{} drift detections, none after the change",
                    detected.len()
                ))
            }
        },
    );
    // ... and Prometheus has scraped them, and alerts the allowlist and the suppression
    // dropped.
    wait_for(
        "the drift decisions and dropped alerts in Prometheus",
        deadline,
        &mut [&mut vigil, &mut prometheus],
        || {
            let drift = vector(
                prometheus_addr,
                &format!(
                    r#"sum(vigil_drift_decisions_total{{job="vigil",kind="drift_detected"}}) >= {detected}"#
                ),
            );
            let dropped = vector(
                prometheus_addr,
                r#"vigil_alerts_dropped_total{job="vigil"} > 0"#,
            );
            if drift.is_empty() || dropped.len() < 2 {
                return Err(format!(
                    "drift detected (at least {detected} expected): {drift:?}; dropped: {dropped:?}"
                ));
            }
            Ok(())
        },
    );
    // Rates over `$__rate_interval` see the running demo after the change.
    std::thread::sleep(Duration::from_secs(4 * SCRAPE_SECS));
    vigil.assert_running();

    // The `instance` variable's query (`label_values(vigil_build_info, instance)`, which
    // Grafana asks of the label values endpoint) finds the demo.
    let instances = request_token(
        prometheus_addr,
        "GET",
        &format!(
            "/api/v1/label/instance/values?{}={}",
            encode("match[]"),
            encode("vigil_build_info")
        ),
        None,
        None,
    )
    .json();
    assert!(
        instances["data"]
            .as_array()
            .is_some_and(|values| values.iter().any(|v| *v == api.to_string())),
        "label_values(vigil_build_info, instance) lacks {api}: {instances}"
    );

    let time = GrafanaTime::new(scrape_start.elapsed(), SCRAPE_SECS);
    let mut failures = Vec::new();
    let mut checked = std::collections::BTreeMap::<&str, usize>::new();
    for target in &targets {
        let promql = time.substitute(&target.expr);
        assert!(
            !promql.contains('$'),
            "{} / {}: `{}` uses a variable the test does not replace",
            target.dashboard,
            target.panel,
            target.expr
        );
        let answer = query(prometheus_addr, &promql);
        let series = answer["data"]["result"].as_array().map_or(0, Vec::len);
        if answer["status"] != "success" || series == 0 {
            failures.push(format!(
                "{} / {}: {promql}\n    -> {answer}",
                target.dashboard, target.panel
            ));
        }
        *checked.entry(target.dashboard).or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {} dashboard queries return no series:\n{}",
        failures.len(),
        targets.len(),
        failures.join("\n")
    );
    assert!(
        checked.get("overview.json").is_some_and(|n| *n >= 20)
            && checked.get("models.json").is_some_and(|n| *n >= 15),
        "queries checked: {checked:?}"
    );
    eprintln!(
        "checked {checked:?} dashboard queries against Prometheus ($__rate_interval {}s, $__range {}s) in {:.1} s",
        time.rate_interval_secs,
        time.range_secs,
        started.elapsed().as_secs_f64()
    );
}
