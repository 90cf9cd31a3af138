//! The batch One-Class SVM on labelled data, in the batch-baseline setup of
//! `vigil eval --detector ocsvm`: standard scaling fitted on the first 5,000 normal rows,
//! nu 0.1, gamma "scale", every other row scored. ROC AUC is computed here by ranking,
//! independently of the detectors crate.

use std::path::Path;

use vigil_detectors::Detector;
use vigil_detectors::ocsvm::batch::{BatchOcsvmConfig, ScaledBatchOcsvm};

/// Training rows of the baseline setup.
const TRAIN_ROWS: usize = 5_000;

fn baseline() -> BatchOcsvmConfig {
    BatchOcsvmConfig {
        nu: 0.1,
        ..BatchOcsvmConfig::default()
    }
}

/// ROC AUC of `scores` (higher = more anomalous) against `labels` (true = anomaly): the
/// probability that an anomaly outscores a normal row, ties counting one half, from mid-ranks.
fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let mid_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += mid_rank * order[start..end].iter().filter(|i| labels[**i]).count() as f64;
        start = end;
    }
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

#[test]
fn roc_auc_by_ranking_is_right_on_a_small_case() {
    // Anomaly scores 0.9 and 0.4 against normal 0.1, 0.4, 0.5: 0.9 wins its 3 pairs, 0.4
    // wins one, ties one (one half) and loses one, so 4.5 of 6 pairs.
    let auc = roc_auc(
        &[0.1, 0.9, 0.4, 0.4, 0.5],
        &[false, true, true, false, false],
    );
    assert!((auc - 4.5 / 6.0).abs() < 1e-12, "{auc}");
}

/// Fits on the first `TRAIN_ROWS` normal rows and scores every `stride`-th other row.
fn baseline_auc(
    dim: usize,
    rows: &[f64],
    labels: &[bool],
    stride: usize,
) -> (f64, ScaledBatchOcsvm) {
    let mut train = Vec::with_capacity(TRAIN_ROWS * dim);
    let mut in_train = vec![false; labels.len()];
    for (i, (x, anomaly)) in rows.chunks_exact(dim).zip(labels).enumerate() {
        if !anomaly && train.len() < TRAIN_ROWS * dim {
            train.extend_from_slice(x);
            in_train[i] = true;
        }
    }
    assert_eq!(train.len(), TRAIN_ROWS * dim, "enough normal rows");
    let model = ScaledBatchOcsvm::fit(&train, dim, &baseline()).expect("the fit succeeds");
    let mut scores = Vec::new();
    let mut scored_labels = Vec::new();
    for (i, (x, anomaly)) in rows.chunks_exact(dim).zip(labels).enumerate() {
        if !in_train[i] && i % stride == 0 {
            scores.push(model.score_one(x).expect("scoring succeeds"));
            scored_labels.push(*anomaly);
        }
    }
    assert!(scored_labels.iter().any(|a| *a) && scored_labels.iter().any(|a| !*a));
    (roc_auc(&scores, &scored_labels), model)
}

/// NSL-KDD rows with the three categorical columns (protocol, service, flag) dropped; the
/// label is normal versus any attack. 41 features, attack name, difficulty; no header.
fn read_nsl_kdd(path: &Path) -> (usize, Vec<f64>, Vec<bool>) {
    let text = std::fs::read_to_string(path).expect("NSL-KDD is readable");
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
        assert_eq!(fields.len(), 43, "line {} has 43 fields", n + 1);
        for (column, field) in fields[..41].iter().enumerate() {
            if !(1..=3).contains(&column) {
                rows.push(field.trim().parse::<f64>().expect("a numeric feature"));
            }
        }
        labels.push(fields[41] != "normal");
    }
    (38, rows, labels)
}

#[test]
fn nsl_kdd_baseline_roc_auc() {
    let Some(path) = vigil_tests::shared_file("data/nsl-kdd/KDDTrain+_20Percent.txt") else {
        return;
    };
    let (dim, rows, labels) = read_nsl_kdd(&path);
    assert_eq!(labels.len(), 25_192);
    let (auc, model) = baseline_auc(dim, &rows, &labels, 1);
    eprintln!(
        "NSL-KDD (categorical dropped): ROC AUC {auc:.4}, {} support vectors, gamma {:?}",
        model.model().n_support(),
        model.model().gamma()
    );
    // scikit-learn's OneClassSVM in the same setup: 0.965.
    assert!(auc >= 0.96, "ROC AUC {auc}");
}

#[test]
fn odds_http_baseline_roc_auc() {
    let Some(path) = vigil_tests::shared_file("data/odds/http.csv") else {
        return;
    };
    let text = std::fs::read_to_string(path).expect("http.csv is readable");
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse().expect("a number"))
            .collect();
        rows.extend_from_slice(&fields[..3]);
        labels.push(fields[3] == 1.0);
    }
    assert_eq!(labels.len(), 567_498);
    // Every tenth row keeps the test quick; anomalies only start after row 200,000.
    let (auc, model) = baseline_auc(3, &rows, &labels, 10);
    eprintln!(
        "ODDS http (every tenth row): ROC AUC {auc:.4}, {} support vectors",
        model.model().n_support()
    );
    assert!(auc >= 0.95, "ROC AUC {auc}");
}
