//! `vigil replay` over the labelled flow datasets: rows and per-label counts are checked
//! against an independent reading of each file.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{count, replay};
use vigil_tests::shared_file;

/// Rows and label counts of a comma-separated file, read without Vigil's parsers:
/// `label_at` picks the label cell from the split row; `header` says whether to skip line 1.
fn label_counts(
    path: &Path,
    header: bool,
    label_at: impl Fn(&[&str], &[&str]) -> String,
) -> (u64, BTreeMap<String, u64>) {
    let text = std::fs::read_to_string(path).expect("dataset is UTF-8");
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty());
    let names: Vec<&str> = if header {
        lines.next().expect("header row").split(',').collect()
    } else {
        Vec::new()
    };
    let mut rows = 0;
    let mut labels = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        rows += 1;
        *labels.entry(label_at(&names, &cells)).or_default() += 1;
    }
    (rows, labels)
}

fn column<'a>(names: &[&str], cells: &[&'a str], name: &str) -> &'a str {
    let at = names
        .iter()
        .position(|n| n.trim() == name)
        .unwrap_or_else(|| panic!("column {name} in header"));
    cells[at]
}

fn check(rel: &str, format: &str, header: bool, label_at: impl Fn(&[&str], &[&str]) -> String) {
    let Some(path) = shared_file(rel) else {
        return;
    };
    let (rows, labels) = label_counts(&path, header, label_at);
    let summary = replay(&["--format", format, "--alerts-out", "/dev/null"], &[&path]);
    assert_eq!(count(&summary, "/events_parsed"), rows, "{rel}: {summary}");
    assert_eq!(
        count(&summary, "/events_read"),
        rows + u64::from(header),
        "{rel}"
    );
    let seen: BTreeMap<String, u64> = summary["labels"]
        .as_object()
        .expect("labels object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(seen, labels, "{rel}: label counts");
    assert!(
        summary["events_rejected"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "{rel}: {summary}"
    );
}

#[test]
fn unsw_nb15_rows_and_labels() {
    check(
        "data/unsw-nb15/UNSW_NB15_training-set.csv",
        "unsw",
        true,
        |names, cells| column(names, cells, "attack_cat").to_string(),
    );
}

#[test]
fn nsl_kdd_rows_and_labels() {
    check(
        "data/nsl-kdd/KDDTrain+_20Percent.txt",
        "nslkdd",
        false,
        |_, cells| {
            assert_eq!(cells.len(), 43, "NSL-KDD rows have 43 fields");
            cells[41].to_string()
        },
    );
}

#[test]
fn cic_ids2017_rows_and_labels() {
    for class in ["BENIGN", "DDoS", "FTP-Patator", "Portscan", "SSH-Patator"] {
        check(
            &format!("data/cic-ids2017-improved-sample/{class}_2500.csv"),
            "auto",
            true,
            |names, cells| column(names, cells, "Label").to_string(),
        );
    }
}

#[test]
fn odds_http_rows_and_labels() {
    check("data/odds/http.csv", "auto", true, |names, cells| {
        column(names, cells, "label").to_string()
    });
}
