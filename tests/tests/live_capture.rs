//! Live capture through the real `vigil run`: short TCP connections this test makes on the
//! loopback interface become flows, exactly one event per connection, and the
//! connection-rate rule names the connecting address; flows made while the source is paused
//! wait and arrive on resume; a restart resumes from the shutdown checkpoint; a shared
//! capture sent onto a veth pair by tcpreplay gives the flows the file gives; CAP_NET_RAW
//! alone lets an unprivileged user capture in promiscuous mode; start-up stops naming the
//! missing right when the process may not capture, and naming the interface when there is
//! none.
//!
//! Needs a `vigil` built with `--features live-capture` (as `scripts/test` builds it) and
//! the right to capture (CI runs as root). Without either the tests say so and pass, except
//! under `CI`, where they fail naming what is missing.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use daemon::{settle, start_run, wait_exit};
use serde_json::Value;
use vigil_packets::{FlowConfig, flows_from_capture};
use vigil_tests::{shared_file, vigil_bin};
use web::{get, request_token};

/// Connections the test makes; the rule's threshold is 20.
const CONNECTIONS: usize = 25;

/// Connections made while the source is paused: more finished flows than the channel from
/// the capture thread holds hand-offs (64), as each idle moment hands one on.
const WHILE_PAUSED: usize = 100;

/// Connections made while paused just before the stop.
const AT_STOP: usize = 15;

/// The admin API's token in the test's config.
const TOKEN: &str = "live-capture-test-token-0123456789";

/// Whether the `vigil` under test can capture live; says why not (or fails under `CI`).
fn live_capture_built() -> bool {
    let output = Command::new(vigil_bin())
        .arg("--version")
        .output()
        .expect("vigil --version");
    let version = String::from_utf8_lossy(&output.stdout).into_owned();
    if version.contains("live capture: yes") {
        return true;
    }
    skip(&format!(
        "vigil was built without live capture ({}): build it with --features live-capture",
        version.trim()
    ));
    false
}

/// Says why a test does nothing here; under `CI`, where everything it needs is installed,
/// fails saying so instead.
fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "CI is set but {why}");
    eprintln!("skipped: {why}");
}

/// Whether this process runs as root, which the test needs to `do_what`; says why not.
fn root_to(do_what: &str) -> bool {
    let root = is_root();
    if !root {
        skip(&format!(
            "the test does not run as root: it needs to {do_what}"
        ));
    }
    root
}

/// Whether this process runs as root (`id -u` is 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A config capturing `interface` for `tcp port {port}` with the connection-rate rule
/// watching that port, the pool off and every alert to `alerts.ndjson` in `dir`.
fn config(dir: &Path, interface: &str, port: u16) -> String {
    format!(
        r#"[pipeline]
shutdown_grace_secs = 20
[pool]
enabled = false
[state]
dir = "{state}"
flush_every_millis = 20
[alerts]
cooldown_secs = 0
[rules.connection_rate]
ports = [{port}]
min_connections = 20
window_secs = 60
[outputs]
alerts_ndjson = "{alerts}"
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
[sources.loopback]
type = "pcap"
interface = "{interface}"
filter = "tcp port {port}"
promiscuous = false
"#,
        state = dir.join("state").display(),
        alerts = dir.join("alerts.ndjson").display(),
    )
}

/// Makes `count` short connections to 127.0.0.1:`port`: a line, FIN, read to the server's FIN.
fn connect(port: u16, count: usize) {
    for _ in 0..count {
        let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        client.write_all(b"SSH-2.0-probe\r\n").expect("send");
        client
            .shutdown(std::net::Shutdown::Write)
            .expect("send FIN");
        let mut rest = Vec::new();
        client
            .read_to_end(&mut rest)
            .expect("read to the server's FIN");
    }
}

/// Waits (at most 30 s) for `needle` in the file at `path`.
fn wait_for_log(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `vigil run --config CONFIG`, started through `wrapper` (such as `setpriv ...`) when given.
fn run_to_exit(config: &Path, wrapper: &[&str]) -> Output {
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(vigil_bin());
            command
        }
        None => Command::new(vigil_bin()),
    };
    command
        .args(["run", "--config", config.to_str().expect("utf-8")])
        .output()
        .expect("vigil runs")
}

#[test]
fn short_loopback_connections_become_flows_and_a_connection_rate_alert() {
    if !live_capture_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
    let port = listener.local_addr().expect("address").port();
    let config_path = dir.path().join("vigil.toml");
    // A 2 s window, so that an episode ends across the restart below.
    let text = config(dir.path(), "lo", port).replace("window_secs = 60", "window_secs = 2");
    std::fs::write(&config_path, text).expect("config");
    let log_path = dir.path().join("vigil.log");

    // Start-up fails before the API serves when capture is not permitted.
    let probe = run_probe(&config_path, &log_path);
    let Some((child, addr)) = probe else {
        return;
    };
    // A failed assertion must not leave a daemon capturing behind.
    let mut child = KillOnDrop(child);
    wait_for_log(&log_path, "live capture started");
    let server = serve(listener);
    connect(port, CONNECTIONS);

    // One flow per connection, no more: the filter keeps the API's own traffic out.
    let status = settle(addr, CONNECTIONS as u64);
    assert_eq!(status["events_decided"], CONNECTIONS as u64, "{status}");
    let sources = get(addr, "/api/v1/sources").json();
    let loopback = sources["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == "loopback")
        .unwrap_or_else(|| panic!("no loopback source: {sources}"));
    assert_eq!(loopback["events_parsed"], CONNECTIONS as u64, "{sources}");
    assert_eq!(loopback["records_read"], CONNECTIONS as u64, "{sources}");
    assert_eq!(loopback["state"], "running", "{sources}");

    let hits = connection_rate_alerts(addr);
    assert_eq!(hits.len(), 1, "one episode: {hits:?}");
    let alert = &hits[0];
    assert_eq!(
        alert["explanation"],
        format!(
            "20 short connections (at most 30 s each) to port {port} in 2 s from 127.0.0.1 (threshold 20)"
        ),
        "{alert}"
    );
    assert_eq!(alert["src_ip"], "127.0.0.1", "{alert}");
    assert_eq!(alert["dst_port"], port, "{alert}");
    assert_eq!(alert["kind"], "flow", "{alert}");
    assert_eq!(alert["sensor"], "pcap", "{alert}");
    assert_eq!(alert["sensor_id"], "loopback", "{alert}");
    let origin = alert["origin"]["source"].as_str().expect("origin");
    assert!(origin.starts_with("interface:lo@"), "{alert}");

    // Paused, the source hands nothing on; its packets are still read into flows, which
    // wait for the resume: more of them than the channel to the source holds.
    pause(addr, "pause");
    connect(port, WHILE_PAUSED);
    std::thread::sleep(Duration::from_millis(500));
    let status = get(addr, "/api/v1/status").json();
    assert_eq!(
        status["events_decided"], CONNECTIONS as u64,
        "nothing while paused: {status}"
    );
    pause(addr, "resume");
    let decided = (CONNECTIONS + WHILE_PAUSED) as u64;
    let status = settle(addr, decided);
    assert_eq!(status["events_decided"], decided, "{status}");

    // Stopped while paused: the flows already finished are still handed on and decided.
    pause(addr, "pause");
    connect(port, AT_STOP);
    std::thread::sleep(Duration::from_millis(300));
    terminate(&mut child);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let decided = decided + AT_STOP as u64;
    assert!(
        log.contains(&format!("vigil stopped events={decided} ")),
        "every finished flow decided before the exit: {log}"
    );
    let flat = std::fs::read_to_string(dir.path().join("alerts.ndjson")).expect("alerts file");
    assert!(flat.contains("connection_rate"), "{flat}");

    // The live source let the shutdown checkpoint be taken: a restart resumes from it.
    let restart_log = dir.path().join("restart.log");
    let (restarted, addr) = start_run(&config_path, &restart_log, "http");
    let mut restarted = KillOnDrop(restarted);
    let text = wait_for_log(&restart_log, "live capture started");
    assert!(text.contains("resuming from the checkpoint"), "{text}");
    // A new episode after the restart, at the same packet number of a capture that starts
    // counting again, is a new alert: the new capture has an origin of its own.
    let before = connection_rate_alerts(addr);
    assert!(!before.is_empty());
    std::thread::sleep(Duration::from_millis(2500));
    connect(port, CONNECTIONS);
    let deadline = Instant::now() + Duration::from_secs(30);
    let hits = loop {
        let hits = connection_rate_alerts(addr);
        if hits.len() > before.len() || Instant::now() > deadline {
            break hits;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        hits.len(),
        before.len() + 1,
        "a new episode, stored: {hits:?}"
    );
    let newest = &hits[0]["origin"]["source"];
    assert!(
        before.iter().all(|a| &a["origin"]["source"] != newest),
        "{hits:?}"
    );
    terminate(&mut restarted);
    server.join().expect("server thread");
}

/// Accepts the test's connections on `listener`, each read to its FIN, until they are all
/// made.
fn serve(listener: TcpListener) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..2 * CONNECTIONS + WHILE_PAUSED + AT_STOP {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            stream
                .read_to_end(&mut request)
                .expect("read to the client's FIN");
            assert_eq!(request, b"SSH-2.0-probe\r\n");
        }
    })
}

/// The connection-rate alerts stored, newest first.
fn connection_rate_alerts(addr: std::net::SocketAddr) -> Vec<Value> {
    let alerts = get(addr, "/api/v1/alerts?limit=100").json();
    alerts["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["detector"] == "connection_rate")
        .cloned()
        .collect()
}

/// `POST /api/v1/sources/loopback/{action}` (`pause` or `resume`).
fn pause(addr: std::net::SocketAddr, action: &str) {
    let path = format!("/api/v1/sources/loopback/{action}");
    let answer = request_token(addr, "POST", &path, Some(TOKEN), None);
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
}

/// SIGTERM, and a clean exit within 30 s.
fn terminate(child: &mut KillOnDrop) {
    let pid = child.0.id().to_string();
    Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .expect("kill");
    assert!(wait_exit(&mut child.0, Duration::from_secs(30)).success());
}

/// A `vigil` process killed when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `vigil run`; `None` (after saying why, or failing under `CI`) when it exits
/// because this process may not capture.
fn run_probe(config: &Path, log: &Path) -> Option<(std::process::Child, std::net::SocketAddr)> {
    let result = std::panic::catch_unwind(|| start_run(config, log, "http"));
    match result {
        Ok(running) => Some(running),
        Err(panic) => {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("permission denied") && std::env::var_os("CI").is_none() {
                eprintln!("skipped: this process may not capture: {text}");
                return None;
            }
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn without_the_right_to_capture_start_up_stops_naming_it() {
    if !live_capture_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // As root, the right is dropped by running as `nobody`, who must reach the config and
    // write the state directory.
    let wrapper: &[&str] = if is_root() {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    set_mode(dir.path(), 0o777);
    let config_path = dir.path().join("vigil.toml");
    std::fs::write(&config_path, config(dir.path(), "lo", 9)).expect("config");
    set_mode(&config_path, 0o644);

    let output = run_to_exit(&config_path, wrapper);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "vigil ran without the right: {stderr}"
    );
    for needle in [
        "source \"loopback\"",
        "interface \"lo\"",
        "permission denied",
        "CAP_NET_RAW",
    ] {
        assert!(stderr.contains(needle), "{needle} missing: {stderr}");
    }
    // Nothing was read, so nothing was written as if it had been.
    assert!(
        !dir.path().join("alerts.ndjson").exists() || {
            std::fs::read_to_string(dir.path().join("alerts.ndjson"))
                .unwrap_or_default()
                .is_empty()
        }
    );
}

#[test]
fn an_unknown_interface_stops_start_up_naming_it_and_the_ones_there_are() {
    if !live_capture_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("vigil.toml");
    std::fs::write(&config_path, config(dir.path(), "vigil-nosuch0", 9)).expect("config");
    let output = run_to_exit(&config_path, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    if stderr.contains("permission denied") && std::env::var_os("CI").is_none() {
        eprintln!("skipped: this process may not capture: {stderr}");
        return;
    }
    assert!(stderr.contains("\"vigil-nosuch0\""), "{stderr}");
    assert!(
        stderr.contains("interfaces: ") && stderr.contains("lo"),
        "{stderr}"
    );
}

#[test]
fn a_bad_filter_stops_start_up_naming_the_field_before_the_port_is_taken() {
    if !live_capture_built() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("vigil.toml");
    let text =
        config(dir.path(), "lo", 9).replace("filter = \"tcp port 9\"", "filter = \"tcp port\"");
    std::fs::write(&config_path, text).expect("config");
    let output = run_to_exit(&config_path, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("sources.loopback.filter"), "{stderr}");
    assert!(stderr.contains("\"tcp port\""), "{stderr}");
    assert!(
        !stderr.contains("admin API on"),
        "config is checked before binding: {stderr}"
    );
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A veth pair made for one test (root only) and deleted when it ends: frames sent on
/// `peer` arrive on `capture`.
struct Veth {
    capture: String,
    peer: String,
}

impl Veth {
    /// Creates the pair, IPv6 off (so the kernel sends nothing of its own on it), both ends up.
    fn create() -> Veth {
        let id = std::process::id();
        let veth = Veth {
            capture: format!("vgl{id}a"),
            peer: format!("vgl{id}b"),
        };
        let run = |args: &[&str]| {
            let output = Command::new(args[0])
                .args(&args[1..])
                .output()
                .expect("runs");
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        run(&[
            "ip",
            "link",
            "add",
            &veth.capture,
            "type",
            "veth",
            "peer",
            "name",
            &veth.peer,
        ]);
        for end in [&veth.capture, &veth.peer] {
            let key = format!("net.ipv6.conf.{end}.disable_ipv6=1");
            let _ = Command::new("sysctl").args(["-qw", &key]).status();
            run(&["ip", "link", "set", end, "up"]);
        }
        veth
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.capture])
            .status();
    }
}

/// Whether `program` runs (`--version`); says why not, or fails under `CI`.
fn tool(program: &str, package: &str) -> bool {
    if Command::new(program).arg("-V").output().is_ok() {
        return true;
    }
    skip(&format!("{program} is missing (Debian package {package})"));
    false
}

#[test]
fn a_capture_replayed_onto_an_interface_gives_the_flows_the_file_gives() {
    if !live_capture_built() {
        return;
    }
    let Some(path) = shared_file("data/pcap/axr00t-research/ssh-brute-force.pcap") else {
        return;
    };
    if !root_to("create a veth pair") {
        return;
    }
    if !tool("tcpreplay", "tcpreplay") || !tool("ip", "iproute2") {
        return;
    }
    let bytes = std::fs::read(&path).expect("capture reads");
    let from_file = flows_from_capture(&bytes, "ssh", &FlowConfig::default()).expect("reads");
    let expected = from_file.flows.len() as u64;
    let packets = from_file.read.ip_packets;

    let veth = Veth::create();
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("vigil.toml");
    // The flows left open when the replay ends are emitted after 5 s without a packet.
    let text = config(dir.path(), &veth.capture, 22)
        .replace("filter = \"tcp port 22\"", "filter = \"ip\"")
        .replace("promiscuous = false\n", "")
        .replace(
            "[rules.connection_rate]\nports = [22]\n",
            "[flows]\nflow_idle_secs = 5\n[rules.connection_rate]\n",
        );
    std::fs::write(&config_path, text).expect("config");
    let log_path = dir.path().join("vigil.log");
    let (child, addr) = start_run(&config_path, &log_path, "http");
    let mut child = KillOnDrop(child);
    wait_for_log(&log_path, "live capture started");

    // Each packet sent as a frame on the peer, 100,000 a second (0.2 s in all).
    let replay = Command::new("tcpreplay")
        .args(["-q", "--pps=100000", "-i", &veth.peer])
        .arg(&path)
        .output()
        .expect("tcpreplay runs");
    assert!(
        replay.status.success(),
        "tcpreplay: {}",
        String::from_utf8_lossy(&replay.stderr)
    );

    let status = settle(addr, expected);
    assert_eq!(status["events_decided"], expected, "{status}");
    let metrics = get(addr, "/metrics").text();
    assert!(
        metrics.contains("vigil_events_skipped_total{reason=\"capture_dropped\"} 0"),
        "the kernel dropped packets"
    );
    let alerts = get(addr, "/api/v1/alerts?limit=100").json();
    let hits: Vec<&Value> = alerts["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["detector"] == "connection_rate")
        .collect();
    assert!(!hits.is_empty(), "no connection_rate alert: {alerts}");
    for alert in hits {
        assert_eq!(alert["src_ip"], "192.168.0.146", "{alert}");
        assert_eq!(alert["dst_port"], 22, "{alert}");
    }

    terminate(&mut child);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        log.contains(&format!("received={packets} dropped=0")),
        "every packet of the file was captured: {log}"
    );
}

#[test]
fn cap_net_raw_alone_is_enough_even_in_promiscuous_mode() {
    if !live_capture_built() {
        return;
    }
    if !root_to("hand out one capability") {
        return;
    }
    // As `nobody` with CAP_NET_RAW and nothing else, as config/vigil.service runs it.
    let dir = tempfile::tempdir().expect("temp dir");
    set_mode(dir.path(), 0o777);
    let config_path = dir.path().join("vigil.toml");
    let text = config(dir.path(), "lo", 9).replace("promiscuous = false", "promiscuous = true");
    std::fs::write(&config_path, text).expect("config");
    set_mode(&config_path, 0o644);
    let log_path = dir.path().join("vigil.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all,+net_raw",
            "--ambient-caps=-all,+net_raw",
            "--bounding-set=-all,+net_raw",
        ])
        .arg(vigil_bin())
        .args(["run", "--config", config_path.to_str().expect("utf-8")])
        .env("RUST_LOG", "info")
        .stderr(log)
        .spawn()
        .expect("setpriv runs vigil");
    let mut child = KillOnDrop(child);
    let text = wait_for_log(&log_path, "live capture started");
    assert!(text.contains("interface=lo"), "{text}");
    terminate(&mut child);
}
