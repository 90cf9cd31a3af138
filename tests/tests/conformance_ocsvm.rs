//! The batch nu-One-Class SVM (RBF kernel, nu 0.1, gamma "scale", tol 1e-3) passes the
//! detector conformance suite, bare and with its standard scaler, fitted on the first 5,000
//! normal rows and scoring all the others.

use vigil_detectors::ocsvm::{BatchOcsvm, BatchOcsvmConfig, ScaledBatchOcsvm};
use vigil_detectors::{Detector, DetectorError};
use vigil_tests::conformance::{Expectations, FitFn, check_detector};

/// The solver draws nothing at random, so one AUC seed measures it fully.
fn expectations(fit: FitFn<'_>) -> Expectations<'_> {
    Expectations {
        auc_seeds: vec![0],
        ..Expectations::batch(TRAIN_ROWS, fit)
    }
}

const DIM: usize = 5;
const TRAIN_ROWS: usize = 5_000;

#[test]
fn batch_ocsvm_conforms() {
    let config = BatchOcsvmConfig::default();
    let make = |_seed: u64| -> Box<dyn Detector> {
        match BatchOcsvm::new(DIM, &config) {
            Ok(model) => Box::new(model),
            Err(e) => panic!("the default configuration is refused: {e}"),
        }
    };
    let fit = |_seed: u64, rows: &[f64]| -> Result<Box<dyn Detector>, DetectorError> {
        Ok(Box::new(BatchOcsvm::fit(rows, DIM, &config)?))
    };
    let report = check_detector(&make, &expectations(&fit));
    eprintln!("{report}");
    report.assert_conforms();
}

#[test]
fn standard_scaled_batch_ocsvm_conforms() {
    let config = BatchOcsvmConfig::default();
    let make = |_seed: u64| -> Box<dyn Detector> {
        match ScaledBatchOcsvm::new(DIM, &config) {
            Ok(model) => Box::new(model),
            Err(e) => panic!("the default configuration is refused: {e}"),
        }
    };
    let fit = |_seed: u64, rows: &[f64]| -> Result<Box<dyn Detector>, DetectorError> {
        Ok(Box::new(ScaledBatchOcsvm::fit(rows, DIM, &config)?))
    };
    let report = check_detector(&make, &expectations(&fit));
    eprintln!("{report}");
    report.assert_conforms();
}
