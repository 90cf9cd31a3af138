//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_tail::{LineBatch, LineSource, ReadStatus, StartCause};

/// Everything a source reported, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Started(String, StartCause),
    Line {
        bytes: Vec<u8>,
        offset: u64,
        terminated: bool,
        too_long: Option<u64>,
    },
    Ended(String),
}

/// A terminated line as `Seen` expects it.
pub fn line(bytes: &[u8], offset: u64) -> Seen {
    Seen::Line {
        bytes: bytes.to_vec(),
        offset,
        terminated: true,
        too_long: None,
    }
}

/// Lines of `data` split the obvious way, starting at `base`, for comparison.
pub fn split_lines(data: &[u8], base: u64) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut offset = base;
    let mut rest = data;
    while !rest.is_empty() {
        match rest.iter().position(|&byte| byte == b'\n') {
            Some(at) => {
                out.push(line(&rest[..at], offset));
                offset += at as u64 + 1;
                rest = &rest[at + 1..];
            }
            None => {
                out.push(Seen::Line {
                    bytes: rest.to_vec(),
                    offset,
                    terminated: false,
                    too_long: None,
                });
                rest = &[];
            }
        }
    }
    out
}

/// Records one status (and the batch's lines) into `seen`.
pub fn record(status: &ReadStatus, batch: &LineBatch, seen: &mut Vec<Seen>) {
    match status {
        ReadStatus::Lines => {
            let input = batch.input().map(|input| input.path.to_string());
            assert!(
                batch.is_empty() || input.is_some(),
                "a batch with lines names its input"
            );
            for line in batch {
                seen.push(Seen::Line {
                    bytes: line.bytes.to_vec(),
                    offset: line.offset,
                    terminated: line.terminated,
                    too_long: line.too_long,
                });
            }
        }
        ReadStatus::InputStarted { input, cause } => {
            seen.push(Seen::Started(input.path.to_string(), *cause))
        }
        ReadStatus::InputEnded { input } => seen.push(Seen::Ended(input.path.to_string())),
        ReadStatus::Idle | ReadStatus::Finished => {}
    }
}

/// Reads a source that is read once until `Finished`, waiting briefly when idle.
pub fn read_all(source: &mut dyn LineSource, max_lines: usize) -> Vec<Seen> {
    let mut batch = LineBatch::new();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = match source.read_batch(max_lines, &mut batch) {
            Ok(status) => status,
            Err(error) => panic!("reading failed: {error}"),
        };
        record(&status, &batch, &mut seen);
        match status {
            ReadStatus::Finished => return seen,
            ReadStatus::Idle => {
                assert!(Instant::now() < deadline, "source never finished");
                std::thread::sleep(Duration::from_millis(1));
            }
            _ => {}
        }
    }
}

/// Only the lines of what was seen.
pub fn lines_only(seen: &[Seen]) -> Vec<Seen> {
    seen.iter()
        .filter(|item| matches!(item, Seen::Line { .. }))
        .cloned()
        .collect()
}

/// A writer into a shared buffer, to capture log output.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `body` with this thread's log events captured; returns its result and the log.
pub fn with_captured_log<T>(body: impl FnOnce() -> T) -> (T, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, body);
    (result, captured.text())
}
