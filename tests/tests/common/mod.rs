//! Helpers for the end-to-end tests: run the real `vigil` binary and read its output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vigil_tests::vigil_bin;

/// Runs `vigil` with `args`, asserting success, and returns its output.
pub fn vigil_ok(args: &[&str]) -> Output {
    let output = Command::new(vigil_bin())
        .args(args)
        .output()
        .expect("vigil binary runs");
    assert!(
        output.status.success(),
        "vigil {:?} failed: {}\n{}",
        args,
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `vigil replay` with extra arguments and returns the parsed JSON summary.
pub fn replay(extra: &[&str], files: &[&Path]) -> serde_json::Value {
    let mut args: Vec<String> = vec!["replay".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = vigil_ok(&refs);
    let stdout = String::from_utf8(output.stdout).expect("summary is UTF-8");
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("summary is one JSON object ({e}): {stdout}"))
}

/// Every regular file below `dir`, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("data folder is readable") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A number field of the summary, 0 when absent.
pub fn count(summary: &serde_json::Value, pointer: &str) -> u64 {
    summary
        .pointer(pointer)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// Runs `vigil eval ARGS FILE` on the shared file `rel` and returns its JSON summary, or
/// `None` when the shared data is missing (the test is then skipped; under `CI` it fails).
pub fn eval(args: &[&str], rel: &str) -> Option<serde_json::Value> {
    let path = vigil_tests::shared_file(rel)?;
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    let path = path.to_string_lossy().into_owned();
    all.push(&path);
    let output = vigil_ok(&all);
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    Some(serde_json::from_str(stdout.trim()).expect("one JSON object"))
}

/// A number field of a summary; panics naming the key when it is missing.
pub fn number(summary: &serde_json::Value, key: &str) -> f64 {
    summary[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {summary}"))
}
