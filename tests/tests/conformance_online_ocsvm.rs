//! The online One-Class SVM (SGD on random Fourier features, standard scaler in front,
//! defaults) passes the detector conformance suite.

use vigil_detectors::Detector;
use vigil_detectors::ocsvm::{OnlineOcsvm, OnlineOcsvmConfig};
use vigil_tests::conformance::{Expectations, check_detector};

fn make(seed: u64) -> Box<dyn Detector> {
    let config = OnlineOcsvmConfig {
        seed,
        ..OnlineOcsvmConfig::default()
    };
    match OnlineOcsvm::new(5, config) {
        Ok(model) => Box::new(model),
        Err(e) => panic!("the default configuration is refused: {e}"),
    }
}

#[test]
fn online_ocsvm_conforms() {
    let report = check_detector(&make, &Expectations::online());
    eprintln!("{report}");
    report.assert_conforms();
    // Random Fourier features: another seed draws other frequencies.
    report.assert_seed_matters();
}
