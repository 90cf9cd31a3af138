//! Online One-Class SVM on labelled data: progressive score-then-learn (every row is scored by
//! the model that has learned the rows before it, then learned), ROC AUC computed here by
//! sorting, independently of the detectors crate.

use std::path::Path;

use vigil_detectors::Detector;
use vigil_detectors::ocsvm::{OnlineOcsvm, OnlineOcsvmConfig};

/// Rows of a numeric CSV whose last column is a 0/1 label.
struct Labelled {
    dim: usize,
    rows: Vec<f64>,
    labels: Vec<bool>,
}

fn read_labelled_csv(path: &Path) -> Labelled {
    let text = std::fs::read_to_string(path).expect("the shared CSV is readable");
    let mut lines = text.lines();
    let header = lines.next().expect("a header line");
    let columns = header.split(',').count();
    assert_eq!(
        header.split(',').next_back(),
        Some("label"),
        "last column is the label"
    );
    let dim = columns - 1;
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (n, line) in lines.enumerate() {
        let values: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse().expect("numeric field"))
            .collect();
        assert_eq!(values.len(), columns, "row {} has {columns} fields", n + 2);
        rows.extend_from_slice(&values[..dim]);
        labels.push(values[dim] == 1.0);
    }
    Labelled { dim, rows, labels }
}

/// Fisher-Yates shuffle of the rows, driven by SplitMix64 seeded with `seed`.
fn shuffle(data: &mut Labelled, seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let n = data.labels.len();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        data.labels.swap(i, j);
        for k in 0..data.dim {
            data.rows.swap(i * data.dim + k, j * data.dim + k);
        }
    }
}

/// ROC AUC as the Mann-Whitney statistic: sort the scores, give tied scores their mean rank,
/// and compare the rank sum of the positives with its range.
fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start + 1 ..= end share their mean.
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        positive_rank_sum +=
            mean_rank * order[start..end].iter().filter(|&&i| labels[i]).count() as f64;
        start = end;
    }
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    (positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Scores every row with the model as it is, then learns it.
fn progressive_scores(model: &mut OnlineOcsvm, data: &Labelled) -> Vec<f64> {
    data.rows
        .chunks_exact(data.dim)
        .map(|x| {
            let score = model.score_one(x).expect("finite rows of the right length");
            model.learn_one(x).expect("finite rows of the right length");
            score
        })
        .collect()
}

#[test]
fn roc_auc_by_sorting_is_right_on_small_cases() {
    assert_eq!(
        roc_auc(&[0.1, 0.2, 0.9, 0.8], &[false, false, true, true]),
        1.0
    );
    assert_eq!(
        roc_auc(&[0.9, 0.8, 0.1, 0.2], &[false, false, true, true]),
        0.0
    );
    assert_eq!(
        roc_auc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]),
        0.5
    );
    // One positive above both negatives, one between them: 3 of 4 pairs ordered.
    assert_eq!(
        roc_auc(&[0.1, 0.3, 0.2, 0.4], &[false, false, true, true]),
        0.75
    );
}

#[test]
fn synthetic_anomalies_reach_auc_0_9() {
    let Some(path) = vigil_tests::shared_file("vectors/synth_anomaly_s7.csv") else {
        return;
    };
    let data = read_labelled_csv(&path);
    assert_eq!((data.dim, data.labels.len()), (5, 20_000));
    let mut aucs = Vec::new();
    for seed in 0..3 {
        let config = OnlineOcsvmConfig {
            seed,
            ..OnlineOcsvmConfig::default()
        };
        let mut model = OnlineOcsvm::new(data.dim, config).expect("default parameters are valid");
        let scores = progressive_scores(&mut model, &data);
        aucs.push(roc_auc(&scores, &data.labels));
    }
    eprintln!("online OCSVM ROC AUC on synth_anomaly_s7.csv, seeds 0..3: {aucs:?}");
    for (seed, auc) in aucs.iter().enumerate() {
        assert!(*auc >= 0.9, "seed {seed}: ROC AUC {auc} < 0.9");
    }
}

#[test]
fn http_flows_after_a_seeded_shuffle() {
    let Some(path) = vigil_tests::shared_file("data/odds/http.csv") else {
        return;
    };
    let mut data = read_labelled_csv(&path);
    assert_eq!((data.dim, data.labels.len()), (3, 567_498));
    assert_eq!(data.labels.iter().filter(|&&l| l).count(), 2_211);
    shuffle(&mut data, 1);
    let mut model = OnlineOcsvm::new(data.dim, OnlineOcsvmConfig::default())
        .expect("default parameters are valid");
    let mut scores = vec![0.0; data.labels.len()];
    model
        .score_learn_many(&data.rows, &mut scores)
        .expect("finite rows of the right length");
    let auc = roc_auc(&scores, &data.labels);
    eprintln!("online OCSVM ROC AUC on odds/http.csv, shuffle seed 1, model seed 0: {auc:.4}");
    assert!(auc >= 0.99, "ROC AUC {auc} < 0.99");
}
