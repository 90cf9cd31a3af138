//! HTTP and process helpers for the dashboard's tests (`dashboard.rs`,
//! `dashboard_browser.rs`): one request per connection with any headers, and `vigil demo` /
//! `vigil replay --listen` started on an ephemeral port with the address read from stderr.
//! Included with `#[path = "common/web.rs"] mod web;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::vigil_bin;

/// A response: status, headers (lower-case names) and body.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every header, name lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on its own connection, with extra `headers` and an optional JSON body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match body {
        Some(body) => head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )),
        None if method != "GET" && method != "HEAD" => head.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    if let Some(body) = body {
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
    Response {
        status,
        headers,
        body,
    }
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

/// A running `vigil` with its API, killed when dropped.
pub struct Running {
    /// The process.
    pub child: Child,
    /// The API's address.
    pub addr: SocketAddr,
    /// The sign-in token `vigil demo` printed (generated, or `api.token of the config`).
    pub token: Option<String>,
    /// The dashboard URL `vigil demo` printed.
    pub url: Option<String>,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// Its stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until it exits, at most `within`; panics (killing it) beyond.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("vigil did not exit within {within:?}: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `vigil ARGS` with stderr to `log` and waits (at most 60 s) for the line holding
/// `marker` followed by `http://ADDR`.
pub fn start(args: &[&str], log: &Path, marker: &str) -> Running {
    let file = std::fs::File::create(log).expect("vigil log");
    let mut child = Command::new(vigil_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("vigil starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| line.contains(marker)) {
            let rest = line
                .split_once(marker)
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            let url = rest.split_whitespace().next().unwrap_or_default();
            let addr: SocketAddr = url
                .trim_start_matches("http://")
                .split('/')
                .next()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no address after {marker:?}: {line}"));
            let token = line
                .split_once("sign-in token: ")
                .map(|(_, token)| token.trim().to_string());
            return Running {
                child,
                addr,
                token,
                url: Some(url.to_string()),
                log: log.to_path_buf(),
            };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vigil exited ({status}) before serving: {text}");
        }
        assert!(
            Instant::now() < deadline,
            "no {marker:?} line within 60 s: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `vigil demo --config CONFIG EXTRA...` and waits for its dashboard line.
pub fn start_demo(config: &Path, extra: &[&str], log: &Path) -> Running {
    let mut args = vec!["demo", "--config", config.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    start(&args, log, "vigil demo: dashboard ")
}

/// The `vigil_session` cookie's value in a `Set-Cookie` header.
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .filter_map(|(_, value)| value.split(';').next())
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "vigil_session")
        .map(|(_, value)| value.to_string())
}
