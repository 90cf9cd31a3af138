//! Helpers for the plugin end-to-end tests: the plugin libraries Cargo built, plugin
//! folders, and a `vigil run` with its admin API on an ephemeral port.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigil_tests::vigil_bin;

/// The bearer token of the configs these tests write.
pub const TOKEN: &str = "plugin-test-token-0123456789";

/// The `cdylib` Cargo built for plugin crate `krate` (a dev-dependency of this crate).
pub fn built(krate: &str) -> PathBuf {
    vigil_plugin_host::locate::built_plugin(krate)
        .unwrap_or_else(|| panic!("{krate} was not built beside the test binary"))
}

/// A plugin folder in `dir` holding the libraries of `crates`.
pub fn plugin_dir(dir: &Path, crates: &[&str]) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin folder");
    for krate in crates {
        let lib = built(krate);
        let name = lib.file_name().expect("a file name");
        std::fs::copy(&lib, plugins.join(name)).expect("copy the plugin");
    }
    plugins
}

/// A running `vigil run`, its API address and its log.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

/// Starts `vigil run --config config`, logging to `log`, and waits for the API address.
pub fn start(config: &Path, log: &Path) -> Running {
    let file = std::fs::File::create(log).expect("vigil log");
    let mut child = Command::new(vigil_bin())
        .args(["run", "--config", config.to_str().expect("utf-8")])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("vigil starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("admin API on http://").nth(1) {
            let addr = rest
                .split(|c: char| c.is_whitespace())
                .next()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no address in the log: {text}"));
            return Running {
                child,
                addr,
                log: log.to_path_buf(),
            };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vigil exited ({status}) before serving: {text}");
        }
        assert!(Instant::now() < deadline, "no API address logged: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Running {
    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks it to shut down and waits for it to exit 0.
    pub fn shutdown(mut self) {
        let (status, _) = request(self.addr, "POST", "/api/v1/shutdown", Some(TOKEN));
        assert_eq!(status, 202, "shutdown accepted");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "vigil exited {status}: {}",
                    self.log_text()
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("vigil did not exit");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP/1.1 request without a body; the status and the body.
pub fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the series `series` (name and labels, as printed) in a Prometheus text.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
}

/// Waits until `done(metrics text)` holds, or panics with the last text after 60 s.
pub fn wait_metrics(running: &Running, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = request(running.addr, "GET", "/metrics", None);
        if status == 200 && done(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never got there: {text}\n{}",
            running.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `vigil run` config: the file `input` (Cowrie, read once), the API on an ephemeral port
/// with [`TOKEN`], state in `dir`, and `extra` appended (the `[plugins]` tables).
pub fn run_config(dir: &Path, input: &Path, extra: &str) -> PathBuf {
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            r#"[pipeline]
shutdown_grace_secs = 20
[state]
dir = "{state}"
checkpoint_secs = 1
retention_max_age_days = 0
[outputs]
alerts_ndjson = "{alerts}"
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
[sources.honeypot]
type = "file"
path = "{input}"
format = "cowrie"
follow = true
poll_millis = 20
{extra}
"#,
            state = dir.join("state").display(),
            alerts = dir.join("alerts.ndjson").display(),
            input = input.display(),
        ),
    )
    .expect("write the config");
    config
}
