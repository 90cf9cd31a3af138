//! ADWIN against River 0.26.1's golden vectors (`../shared/vectors/adwin_*.json`): every
//! file, every index, no tolerance.
//!
//! For each file the stream is parsed and proven bit-identical to River's input through its
//! SHA-256 (little-endian f64), then replayed twice: River's public `drift.ADWIN` (the window
//! is emptied on the update after a detection) must give `detections`, `width_trace`,
//! `width_after_detection`, `estimation_after_detection` and `final`; the paper's shrinking
//! window must give the same fields under `no_reset`.

use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use vigil_detectors::DriftDetector;
use vigil_detectors::drift::{Adwin, AdwinMode, AdwinParams};

fn floats(v: &Value, what: &str) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is an array"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("{what} holds numbers")))
        .collect()
}

fn counts(v: &Value, what: &str) -> Vec<usize> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is an array"))
        .iter()
        .map(|x| {
            x.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or_else(|| panic!("{what} holds counts"))
        })
        .collect()
}

/// The number, or array of numbers, of the first `"key":` at or after byte `from` of the raw
/// JSON text, parsed by std. The comparison is bit for bit, and std parses correctly rounded,
/// while serde_json's default parser can land one unit in the last place off (it does on
/// one of these estimations).
fn exact_numbers(text: &str, from: usize, key: &str) -> Vec<f64> {
    let quoted = format!("\"{key}\"");
    let at = text[from..]
        .find(&quoted)
        .unwrap_or_else(|| panic!("no {quoted} after byte {from}"))
        + from
        + quoted.len();
    let rest = text[at..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .unwrap_or_else(|| panic!("{quoted} has no value"))
        .trim_start();
    let body = match rest.strip_prefix('[') {
        Some(array) => {
            &array[..array
                .find(']')
                .unwrap_or_else(|| panic!("{quoted}: unterminated array"))]
        }
        None => &rest[..rest.find([',', '}']).unwrap_or(rest.len())],
    };
    body.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().unwrap_or_else(|e| panic!("{quoted}: {v:?}: {e}")))
        .collect()
}

fn exact_number(text: &str, from: usize, key: &str) -> f64 {
    match exact_numbers(text, from, key)[..] {
        [x] => x,
        ref other => panic!("{key}: one number expected, found {other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What one pass over the stream produced.
struct Run {
    detections: Vec<usize>,
    width_trace: Vec<usize>,
    width_after_detection: Vec<usize>,
    estimation_after_detection: Vec<f64>,
    adwin: Adwin,
}

fn run(params: AdwinParams, stream: &[f64]) -> Run {
    let mut adwin = Adwin::new(params).expect("the vector's parameters are valid");
    let mut out = Run {
        detections: Vec::new(),
        width_trace: Vec::with_capacity(stream.len()),
        width_after_detection: Vec::new(),
        estimation_after_detection: Vec::new(),
        adwin: Adwin::default(),
    };
    for (i, &x) in stream.iter().enumerate() {
        let detected = adwin.try_update(x).expect("vector values are finite");
        assert_eq!(detected, adwin.detected());
        if detected {
            out.detections.push(i);
            out.width_after_detection.push(adwin.width());
            out.estimation_after_detection.push(adwin.estimation());
        }
        out.width_trace.push(DriftDetector::width(&adwin));
    }
    out.adwin = adwin;
    out
}

/// Asserts equal sequences, naming the first index that differs.
fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], expected: &[T], what: &str) {
    if let Some(i) = got.iter().zip(expected).position(|(g, e)| g != e) {
        panic!(
            "{what}: first difference at index {i}: got {:?}, River {:?}",
            got[i], expected[i]
        );
    }
    assert_eq!(got.len(), expected.len(), "{what}: lengths differ");
}

/// Checks the `final` object that starts at byte `from` of the raw text.
fn check_final(adwin: &Adwin, text: &str, from: usize, expected: &Value, what: &str) {
    let number = |key: &str| exact_number(text, from, key);
    assert_eq!(adwin.width() as f64, number("final_width"), "{what} width");
    let statistics = [
        ("estimation", adwin.estimation(), "final_estimation"),
        ("total", adwin.total(), "final_total"),
        ("M2", adwin.m2(), "final_variance_M2"),
    ];
    for (name, got, key) in statistics {
        let expected = number(key);
        assert_eq!(
            got.to_bits(),
            expected.to_bits(),
            "{what} {name} {got} vs {expected}"
        );
    }
    if let Some(n) = expected.get("n_detections").and_then(Value::as_u64) {
        assert_eq!(adwin.detections(), n, "{what} detections");
    }
}

fn check_vector(path: &PathBuf) {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let text = std::fs::read_to_string(path).expect("the vector reads");
    let v: Value = serde_json::from_str(&text).expect("the vector is JSON");

    let stream = floats(&v["stream"], "stream");
    assert_eq!(Some(stream.len() as u64), v["n"].as_u64(), "{name}: n");
    let mut sha = Sha256::new();
    for x in &stream {
        sha.update(x.to_le_bytes());
    }
    assert_eq!(
        hex(&sha.finalize()),
        v["stream_sha256_f64le"]
            .as_str()
            .expect("the hash is a string"),
        "{name}: the stream did not parse to River's exact values"
    );

    let p = &v["params"];
    let count = |key: &str| {
        p[key]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or_else(|| panic!("{name}: params.{key} is a count"))
    };
    let river = AdwinParams {
        delta: p["delta"].as_f64().expect("params.delta is a number"),
        clock: count("clock"),
        max_buckets: count("max_buckets"),
        min_window_length: count("min_window_length"),
        grace_period: count("grace_period"),
        mode: AdwinMode::River,
    };
    assert_eq!(
        river,
        AdwinParams::default(),
        "{name}: vectors use River's defaults"
    );

    // The River part of the file is everything before `no_reset`.
    let no_reset_at = text.find("\"no_reset\"").expect("the vector has no_reset");
    let got = run(river, &stream);
    check_pass(&got, &v, &text, 0..no_reset_at, &name, "");
    if v.get("estimation_after_detection").is_some() {
        let expected = exact_numbers(&text[..no_reset_at], 0, "estimation_after_detection");
        let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_same(
            &bits(&got.estimation_after_detection),
            &bits(&expected),
            &format!("{name} estimation_after_detection (bits)"),
        );
    }

    let shrinking = AdwinParams {
        mode: AdwinMode::Shrinking,
        ..river
    };
    let got = run(shrinking, &stream);
    check_pass(
        &got,
        &v["no_reset"],
        &text,
        no_reset_at..text.len(),
        &name,
        "no_reset.",
    );
}

/// Checks one pass over the stream against its part of the vector: `expected` is that part
/// parsed (the whole file for River's mode, `no_reset` for the shrinking window), `section`
/// its byte range in the raw `text`, where `final`'s exact numbers are read, and `prefix`
/// how the file names its fields (`""` or `"no_reset."`).
fn check_pass(
    got: &Run,
    expected: &Value,
    text: &str,
    section: std::ops::Range<usize>,
    name: &str,
    prefix: &str,
) {
    let compare = |got: &[usize], field: &str, values: &Value| {
        let what = format!("{prefix}{field}");
        assert_same(got, &counts(values, &what), &format!("{name} {what}"));
    };
    compare(&got.detections, "detections", &expected["detections"]);
    compare(&got.width_trace, "width_trace", &expected["width_trace"]);
    if let Some(widths) = expected.get("width_after_detection") {
        compare(&got.width_after_detection, "width_after_detection", widths);
    }
    if let Some(fin) = expected.get("final") {
        let from = section.start
            + text[section]
                .find("\"final\"")
                .unwrap_or_else(|| panic!("{name}: {prefix}final is not where its part is"));
        check_final(
            &got.adwin,
            text,
            from,
            fin,
            &format!("{name} {prefix}final"),
        );
    }
}

#[test]
fn adwin_reproduces_every_river_vector_exactly() {
    let Some(files) = vigil_tests::vector_files("adwin_") else {
        return;
    };
    assert!(
        files.len() >= 4,
        "expected the four ADWIN vectors, found {files:?}"
    );
    for path in &files {
        check_vector(path);
    }
}

#[test]
fn a_snapshot_taken_mid_vector_replays_the_rest_identically() {
    let Some(path) = vigil_tests::vector_files("adwin_")
        .into_iter()
        .flatten()
        .find(|p| p.ends_with("adwin_gauss_abrupt_s2.json"))
    else {
        return;
    };
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("reads"))
        .expect("the vector is JSON");
    let stream = floats(&v["stream"], "stream");
    let expected = counts(&v["width_trace"], "width_trace");
    // Cut just after the first detection (index 3039): the restored detector must still
    // empty its window on the next update.
    let cut = 3_040;
    let mut adwin = Adwin::default();
    for &x in &stream[..cut] {
        adwin.update(x);
    }
    assert!(adwin.detected());
    let mut restored = Adwin::from_snapshot(&adwin.snapshot()).expect("the snapshot restores");
    for (i, &x) in stream.iter().enumerate().skip(cut) {
        restored.update(x);
        assert_eq!(restored.width(), expected[i], "width at {i} after restore");
    }
}
