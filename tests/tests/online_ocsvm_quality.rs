//! Online One-Class SVM on labelled data: progressive score-then-learn (every row is scored by
//! the model that has learned the rows before it, then learned). ROC AUC is the detectors
//! crate's, whose own tests check it against the pairwise definition.

use std::error::Error;

use vigil_detectors::Detector;
use vigil_detectors::metrics::roc_auc;
use vigil_detectors::ocsvm::{OnlineOcsvm, OnlineOcsvmConfig};
use vigil_tests::conformance::{AUC_FILE, LabelledRows};

/// Fisher-Yates shuffle of the rows, driven by SplitMix64 seeded with `seed`.
fn shuffle(data: &mut LabelledRows, seed: u64) {
    let mut state = seed;
    data.shuffle(|i| (vigil_tests::splitmix64(&mut state) % (i as u64 + 1)) as usize);
}

/// Scores every row with the model as it is, then learns it.
fn progressive_scores(model: &mut OnlineOcsvm, data: &LabelledRows) -> Vec<f64> {
    data.features
        .chunks_exact(data.dim)
        .map(|x| {
            let score = model.score_one(x).expect("finite rows of the right length");
            model.learn_one(x).expect("finite rows of the right length");
            score
        })
        .collect()
}

#[test]
fn synthetic_anomalies_reach_auc_0_9() -> Result<(), Box<dyn Error>> {
    let Some(path) = vigil_tests::shared_file(AUC_FILE) else {
        return Ok(());
    };
    let data = LabelledRows::read(&path)?;
    assert_eq!((data.dim, data.labels.len()), (5, 20_000));
    let mut aucs = Vec::new();
    for seed in 0..3 {
        let config = OnlineOcsvmConfig {
            seed,
            ..OnlineOcsvmConfig::default()
        };
        let mut model = OnlineOcsvm::new(data.dim, config).expect("default parameters are valid");
        let scores = progressive_scores(&mut model, &data);
        aucs.push(roc_auc(&scores, &data.labels)?);
    }
    eprintln!("online OCSVM ROC AUC on synth_anomaly_s7.csv, seeds 0..3: {aucs:?}");
    for (seed, auc) in aucs.iter().enumerate() {
        assert!(*auc >= 0.9, "seed {seed}: ROC AUC {auc} < 0.9");
    }
    Ok(())
}

#[test]
fn http_flows_after_a_seeded_shuffle() -> Result<(), Box<dyn Error>> {
    let Some(path) = vigil_tests::shared_file("data/odds/http.csv") else {
        return Ok(());
    };
    let mut data = LabelledRows::read(&path)?;
    assert_eq!((data.dim, data.labels.len()), (3, 567_498));
    assert_eq!(data.labels.iter().filter(|&&l| l).count(), 2_211);
    shuffle(&mut data, 1);
    let mut model = OnlineOcsvm::new(data.dim, OnlineOcsvmConfig::default())
        .expect("default parameters are valid");
    let mut scores = vec![0.0; data.labels.len()];
    model
        .score_learn_many(&data.features, &mut scores)
        .expect("finite rows of the right length");
    let auc = roc_auc(&scores, &data.labels)?;
    eprintln!("online OCSVM ROC AUC on odds/http.csv, shuffle seed 1, model seed 0: {auc:.4}");
    assert!(auc >= 0.99, "ROC AUC {auc} < 0.99");
    Ok(())
}
