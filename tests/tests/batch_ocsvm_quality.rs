//! The batch One-Class SVM on labelled data, in the batch-baseline setup of
//! `vigil eval --detector ocsvm`: standard scaling fitted on the first 5,000 normal rows,
//! nu 0.1, gamma "scale", every other row scored. ROC AUC is the detectors crate's, whose own
//! tests check it against the pairwise definition.

use std::error::Error;

use vigil_detectors::Detector;
use vigil_detectors::metrics::roc_auc;
use vigil_detectors::ocsvm::batch::{BatchOcsvmConfig, ScaledBatchOcsvm};
use vigil_tests::conformance::LabelledRows;

/// Training rows of the baseline setup.
const TRAIN_ROWS: usize = 5_000;

fn baseline() -> BatchOcsvmConfig {
    BatchOcsvmConfig {
        nu: 0.1,
        ..BatchOcsvmConfig::default()
    }
}

/// Fits on the first `TRAIN_ROWS` normal rows and scores every other row whose index is a
/// multiple of `stride`.
fn baseline_auc(
    data: &LabelledRows,
    stride: usize,
) -> Result<(f64, ScaledBatchOcsvm), Box<dyn Error>> {
    let dim = data.dim;
    let (train, test, labels) = data.split_first_normal_every(TRAIN_ROWS, stride);
    assert_eq!(train.len(), TRAIN_ROWS * dim, "enough normal rows");
    let model = ScaledBatchOcsvm::fit(&train, dim, &baseline()).expect("the fit succeeds");
    let scores = test
        .chunks_exact(dim)
        .map(|x| model.score_one(x))
        .collect::<Result<Vec<f64>, _>>()?;
    assert!(labels.iter().any(|a| *a) && labels.iter().any(|a| !*a));
    Ok((roc_auc(&scores, &labels)?, model))
}

#[test]
fn nsl_kdd_baseline_roc_auc() -> Result<(), Box<dyn Error>> {
    let Some(path) = vigil_tests::shared_file("data/nsl-kdd/KDDTrain+_20Percent.txt") else {
        return Ok(());
    };
    let data = LabelledRows::read_nsl_kdd(&path)?;
    assert_eq!(data.labels.len(), 25_192);
    let (auc, model) = baseline_auc(&data, 1)?;
    eprintln!(
        "NSL-KDD (categorical dropped): ROC AUC {auc:.4}, {} support vectors, gamma {:?}",
        model.model().n_support(),
        model.model().gamma()
    );
    // scikit-learn's OneClassSVM in the same setup: 0.965.
    assert!(auc >= 0.96, "ROC AUC {auc}");
    Ok(())
}

#[test]
fn odds_http_baseline_roc_auc() -> Result<(), Box<dyn Error>> {
    let Some(path) = vigil_tests::shared_file("data/odds/http.csv") else {
        return Ok(());
    };
    let data = LabelledRows::read(&path)?;
    assert_eq!((data.labels.len(), data.dim), (567_498, 3));
    // Every tenth row keeps the test quick; anomalies only start after row 200,000.
    let (auc, model) = baseline_auc(&data, 10)?;
    eprintln!(
        "ODDS http (every tenth row): ROC AUC {auc:.4}, {} support vectors",
        model.model().n_support()
    );
    assert!(auc >= 0.95, "ROC AUC {auc}");
    Ok(())
}
