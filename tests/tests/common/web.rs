//! HTTP and process helpers for the tests of the API and the dashboard: one HTTP/1.1 request
//! per connection (any headers, or a bearer token; JSON or NDJSON bodies; chunked answers
//! de-chunked), API error checks, and `vigil demo` / `vigil replay --listen` started on an
//! ephemeral port with the address read from stderr. Included with
//! `#[path = "common/web.rs"] mod web;`.
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

/// One HTTP/1.1 request on its own connection, with extra `headers` and an optional JSON body
/// (`Content-Length: 0` on a body-less request other than GET and HEAD).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut all = headers.to_vec();
    match body {
        Some(_) => all.push(("Content-Type", "application/json")),
        None if method != "GET" && method != "HEAD" => all.push(("Content-Length", "0")),
        None => {}
    }
    send(addr, method, path, &all, body, Duration::from_secs(30))
}

/// How [`request_token`] and [`request_ndjson`] send a body: its content type, and how long
/// each read of the answer may wait.
struct Framing {
    content_type: &'static str,
    read_timeout: Duration,
}

const JSON: Framing = Framing {
    content_type: "application/json",
    read_timeout: Duration::from_secs(30),
};

const NDJSON: Framing = Framing {
    content_type: "application/x-ndjson",
    read_timeout: Duration::from_secs(60),
};

/// One HTTP/1.1 request on its own connection with `Authorization: Bearer TOKEN` when there
/// is a `token` and an optional JSON body (no `Content-Length` when there is none).
pub fn request_token(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Response {
    request_framed(addr, method, path, token, body, &JSON)
}

/// As [`request_token`] with an NDJSON body, waiting up to 60 s for each read of the answer.
pub fn request_ndjson(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Response {
    request_framed(addr, method, path, token, body, &NDJSON)
}

/// A request with an optional bearer `token` and an optional body framed by `framing`.
fn request_framed(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
    framing: &Framing,
) -> Response {
    let auth = token.map(|token| format!("Bearer {token}"));
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    if body.is_some() {
        headers.push(("Content-Type", framing.content_type));
    }
    send(addr, method, path, &headers, body, framing.read_timeout)
}

/// `GET path` without a token.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request_token(addr, "GET", path, None, None)
}

/// Asserts an API error: the status, the `error` code and a `detail` that mentions `mentions`.
pub fn assert_error(response: &Response, status: u16, code: &str, mentions: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert_eq!(body["error"], code, "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains(mentions), "{mentions:?} not in {detail:?}");
}

/// Sends one HTTP/1.1 request on its own connection: the request line, `Host`, `Connection:
/// close`, `headers` as given, then `Content-Length` and the body when there is one. Reads the
/// answer to its end (waiting at most `read_timeout` per read) and de-chunks a chunked body.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    read_timeout: Duration,
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(read_timeout))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
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
    Response {
        status,
        headers,
        body,
    }
}

/// A chunked body's data; a body cut short yields what arrived whole.
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
        if size == 0 || data.len() < end + 2 + size {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[(end + 4 + size).min(data.len())..];
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
