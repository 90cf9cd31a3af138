//! A faulty plugin: panics, NaN scores and errors are caught, counted, and disable the model
//! at `max_failures`; the host's own input checks and refused snapshots are not counted.

mod common;

use common::model;
use vigil_detectors::{Detector, DetectorError};
use vigil_plugin::abi::Status;
use vigil_plugin_host::{PluginError, PluginModel};

fn faulty(config: &str) -> PluginModel {
    model("vigil-plugin-faulty", config, 2)
}

#[test]
fn a_panic_is_caught_reported_and_counted() {
    let m = faulty(r#"{"panic_on": [0]}"#);
    let mut out = [0.0; 2];
    let error = m
        .try_score_batch(&[1.0, 2.0, 3.0, 4.0], &mut out)
        .expect_err("panics");
    match &error {
        PluginError::Call { call, failure, .. } => {
            assert_eq!(*call, "score_batch");
            assert_eq!(failure.status, Status::PANIC);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "plugin faulty: score_batch failed (panic): panicked: faulty plugin panics as told, at row 0"
    );
    assert_eq!(m.failures(), 1);
    // Through the Detector trait the failure names the model.
    let e = m.score_one(&[1.0, 2.0]).expect_err("panics");
    assert!(
        e.to_string().starts_with("plugin:faulty: parameter plugin call failed, got plugin faulty: score_batch failed (panic)"),
        "{e}"
    );
    assert_eq!(m.failures(), 2);
}

#[test]
fn nan_scores_and_errors_are_counted() {
    let mut m = faulty(r#"{"nan_on": [1], "fail_on": [2]}"#);
    let mut out = [0.0; 1];
    m.try_score_learn_batch(&[3.0, 4.0], &mut out)
        .expect("row 0");
    assert_eq!(out, [5.0]);
    let error = m
        .try_score_learn_batch(&[3.0, 4.0], &mut out)
        .expect_err("NaN");
    assert_eq!(
        error.to_string(),
        "plugin faulty: score_learn_batch scored row 0 NaN, not a finite number"
    );
    assert_eq!(m.failures(), 1);
    let error = m.try_score_batch(&[3.0, 4.0], &mut out).expect_err("fails");
    assert_eq!(
        error.to_string(),
        "plugin faulty: score_batch failed (failed): faulty plugin fails as told, at row 2"
    );
    assert_eq!(m.failures(), 2);
    assert!(!m.is_disabled());
}

#[test]
fn the_model_is_disabled_after_max_failures_and_never_called_again() {
    let mut m = faulty(r#"{"panic_on": [0]}"#);
    m.set_max_failures(3);
    let mut out = [0.0; 1];
    for i in 1..=3 {
        assert!(m.try_score_batch(&[1.0, 1.0], &mut out).is_err());
        assert_eq!(m.failures(), i);
    }
    assert!(m.is_disabled());
    // Calls that would succeed (a learn, a snapshot) are refused too, naming the plugin.
    let disabled = "plugin faulty: disabled after 3 failures (max_failures 3)";
    let e = m.try_learn_batch(&[1.0, 1.0], 1).expect_err("disabled");
    assert!(matches!(e, PluginError::Disabled { .. }));
    assert_eq!(e.to_string(), disabled);
    assert_eq!(
        m.try_snapshot().expect_err("disabled").to_string(),
        disabled
    );
    assert_eq!(
        m.try_score_learn_batch(&[1.0, 1.0], &mut out)
            .expect_err("disabled")
            .to_string(),
        disabled
    );
    assert_eq!(m.failures(), 3, "a disabled model counts nothing more");
    let e = m.learn_one(&[1.0, 1.0]).expect_err("disabled");
    assert!(e.to_string().contains(disabled), "{e}");
    assert!(m.snapshot().is_empty());
}

#[test]
fn host_input_checks_are_not_plugin_failures() {
    let mut m = faulty(r#"{"panic_on": [5]}"#);
    m.set_max_failures(1);
    let mut out = [0.0; 2];
    let e = m
        .try_score_batch(&[1.0, f64::NAN, 1.0, 1.0], &mut out)
        .expect_err("NaN input");
    assert!(matches!(
        e,
        PluginError::Input {
            source: DetectorError::NonFinite { index: 1, .. },
            ..
        }
    ));
    let e = m
        .try_score_batch(&[1.0, 1.0, 1.0], &mut out)
        .expect_err("length");
    assert_eq!(
        e.to_string(),
        "plugin faulty: plugin:faulty: expected 4 features, got 3"
    );
    assert_eq!(m.failures(), 0);
    assert!(!m.is_disabled());

    // score_learn stops at the bad row, having scored and learned the ones before.
    let mut out = [0.0; 3];
    let e = m
        .try_score_learn_batch(&[3.0, 4.0, 0.0, 0.0, f64::INFINITY, 0.0], &mut out)
        .expect_err("inf in row 2");
    assert!(matches!(
        e,
        PluginError::Input {
            source: DetectorError::NonFinite { index: 0, .. },
            ..
        }
    ));
    assert_eq!(out[..2], [5.0, 0.0]);
    assert_eq!(m.try_snapshot().expect("snapshot"), 2u64.to_le_bytes());
}

#[test]
fn refused_snapshots_are_not_failures_and_leave_the_model_unchanged() {
    let mut m = faulty("{}");
    m.set_max_failures(1);
    let mut out = [0.0; 3];
    m.try_score_learn_batch(&[0.0; 6], &mut out).expect("learn");
    let before = m.try_snapshot().expect("snapshot");
    let e = m.try_restore(&[1, 2, 3]).expect_err("3 bytes");
    assert_eq!(
        e.to_string(),
        "plugin faulty: restore failed (bad snapshot): cannot restore snapshot: 8 bytes expected, got 3"
    );
    assert!(matches!(
        e.to_detector_error("plugin:faulty"),
        DetectorError::Snapshot { .. }
    ));
    assert_eq!(m.failures(), 0);
    assert_eq!(m.try_snapshot().expect("snapshot"), before);
    m.try_restore(&7u64.to_le_bytes()).expect("restore");
    assert_eq!(m.try_snapshot().expect("snapshot"), 7u64.to_le_bytes());
}

#[test]
fn a_panic_in_snapshot_is_counted() {
    let m = faulty(r#"{"panic_on_snapshot": 1}"#);
    let e = m.try_snapshot().expect_err("panics");
    assert_eq!(
        e.to_string(),
        "plugin faulty: snapshot failed (panic): panicked: faulty plugin panics in snapshot"
    );
    assert!(m.snapshot().is_empty());
    assert_eq!(m.failures(), 2);
}
