//! Half-Space Trees (with its online min-max scaler, River's defaults) pass the detector
//! conformance suite.

use vigil_detectors::Detector;
use vigil_detectors::hst::{HalfSpaceTrees, HstConfig};
use vigil_tests::conformance::{Expectations, check_detector};

fn make(seed: u64) -> Box<dyn Detector> {
    let config = HstConfig {
        seed,
        ..HstConfig::default()
    };
    match HalfSpaceTrees::new(5, config) {
        Ok(model) => Box::new(model),
        Err(e) => panic!("the default configuration is refused: {e}"),
    }
}

#[test]
fn half_space_trees_conform() {
    let report = check_detector(&make, &Expectations::online());
    eprintln!("{report}");
    report.assert_conforms();
    // Random trees: another seed grows other trees.
    report.assert_seed_matters();
}
