//! The example plugins pass the detector conformance suite through the plugin ABI: each
//! model is a `PluginModel` over the `cdylib` Cargo built (the plugin crates are
//! dev-dependencies of this crate, so their libraries are built before this test; see
//! `vigil_plugin_host::locate`).

use vigil_detectors::Detector;
use vigil_plugin_host::PluginLibrary;
use vigil_plugin_host::locate::built_plugin;
use vigil_tests::conformance::{Expectations, check_detector};

/// The features of the conformance suite's AUC file.
const DIM: usize = 5;

fn library(crate_name: &str) -> PluginLibrary {
    let path = built_plugin(crate_name).unwrap_or_else(|| {
        panic!("the cdylib of {crate_name} was not built beside this test binary")
    });
    PluginLibrary::open(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn factory(
    library: &PluginLibrary,
    config: impl Fn(u64) -> String,
) -> impl Fn(u64) -> Box<dyn Detector> {
    move |seed| {
        let model = library
            .create(&config(seed), DIM)
            .unwrap_or_else(|e| panic!("{e}"));
        Box::new(model)
    }
}

#[test]
fn loda_plugin_conforms_through_the_abi() {
    let lib = library("vigil-plugin-loda");
    let make = factory(&lib, |seed| format!(r#"{{"seed": {seed}}}"#));
    let report = check_detector(&make, &Expectations::online());
    eprintln!("{report}");
    assert_eq!(report.detector, "plugin:loda");
    report.assert_conforms();
    // Random projections: another seed draws others.
    report.assert_seed_matters();
    assert_eq!(
        lib.live_instances(),
        0,
        "the suite's models are all dropped"
    );
}

#[test]
fn minimal_plugin_conforms_through_the_abi() {
    let lib = library("vigil-plugin-minimal");
    // No randomness, so no seed.
    let make = factory(&lib, |_| "{}".to_string());
    let report = check_detector(&make, &Expectations::online());
    eprintln!("{report}");
    assert_eq!(report.detector, "plugin:running-z");
    report.assert_conforms();
}
