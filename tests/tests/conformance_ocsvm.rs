//! The batch nu-One-Class SVM (RBF kernel, nu 0.1, gamma "scale", tol 1e-3) passes the
//! detector conformance suite, bare and with its standard scaler, fitted on the first 5,000
//! normal rows and scoring all the others.

use vigil_detectors::ocsvm::{BatchOcsvm, BatchOcsvmConfig, ScaledBatchOcsvm};
use vigil_detectors::{Detector, DetectorError};
use vigil_tests::conformance::{Expectations, check_detector};

const DIM: usize = 5;
const TRAIN_ROWS: usize = 5_000;

/// Runs the suite on the model that `new` builds unfitted and `fit` fits, both with the
/// default parameters.
fn assert_conforms<D: Detector + 'static>(
    new: fn(usize, &BatchOcsvmConfig) -> Result<D, DetectorError>,
    fit: fn(&[f64], usize, &BatchOcsvmConfig) -> Result<D, DetectorError>,
) {
    let config = BatchOcsvmConfig::default();
    let make = |_seed: u64| -> Box<dyn Detector> {
        match new(DIM, &config) {
            Ok(model) => Box::new(model),
            Err(e) => panic!("the default configuration is refused: {e}"),
        }
    };
    let fit = |_seed: u64, rows: &[f64]| -> Result<Box<dyn Detector>, DetectorError> {
        Ok(Box::new(fit(rows, DIM, &config)?))
    };
    // The solver draws nothing at random, so one AUC seed measures it fully.
    let expectations = Expectations {
        auc_seeds: vec![0],
        ..Expectations::batch(TRAIN_ROWS, &fit)
    };
    let report = check_detector(&make, &expectations);
    eprintln!("{report}");
    report.assert_conforms();
}

#[test]
fn batch_ocsvm_conforms() {
    assert_conforms(BatchOcsvm::new, BatchOcsvm::fit);
}

#[test]
fn standard_scaled_batch_ocsvm_conforms() {
    assert_conforms(ScaledBatchOcsvm::new, ScaledBatchOcsvm::fit);
}
