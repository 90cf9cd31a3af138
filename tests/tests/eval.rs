//! `vigil eval` on real labelled data reaches the reference libraries' detection quality.
//! The reference figures (River 0.26.1, scikit-learn 1.9.1) are in the issue that set them;
//! each line below states the bar.

mod common;

use common::{eval, number};

#[test]
fn hst_on_odds_http_shuffled() {
    // River's Half-Space Trees, same setup: 0.994.
    let Some(s) = eval(
        &["--detector", "hst", "--shuffle", "1", "--seeds", "5"],
        "data/odds/http.csv",
    ) else {
        return;
    };
    assert_eq!(s["rows"], 567_498);
    assert_eq!(s["anomalies"], 2211);
    assert_eq!(s["seeds"], 5);
    assert!(number(&s, "roc_auc") >= 0.99, "{s}");
    assert!(number(&s, "roc_auc_std") < 0.01, "{s}");
    for key in ["average_precision", "events_per_sec", "peak_rss_bytes"] {
        assert!(number(&s, key) > 0.0, "{key}: {s}");
    }
}

#[test]
fn hst_on_nsl_kdd_without_categoricals() {
    // River: 0.839 +- 0.035 over 5 seeds.
    let args = [
        "--detector",
        "hst",
        "--shuffle",
        "1",
        "--seeds",
        "5",
        "--categorical",
        "drop",
    ];
    let Some(s) = eval(&args, "data/nsl-kdd/KDDTrain+_20Percent.txt") else {
        return;
    };
    assert_eq!(s["rows"], 25_192);
    assert_eq!(
        s["anomalies"],
        25_192 - 13_449,
        "NSL-KDD's label is normal vs any attack"
    );
    assert!(number(&s, "roc_auc") >= 0.82, "{s}");
}

#[test]
fn batch_ocsvm_on_nsl_kdd() {
    // scikit-learn OneClassSVM, nu 0.1, gamma "scale", standard-scaled, first 5,000 normal rows: 0.965.
    let args = ["--detector", "ocsvm", "--categorical", "drop"];
    let Some(s) = eval(&args, "data/nsl-kdd/KDDTrain+_20Percent.txt") else {
        return;
    };
    assert_eq!(s["params"]["train_rows"], 5000);
    assert_eq!(s["rows_scored"], 25_192 - 5000);
    assert!(number(&s, "roc_auc") >= 0.96, "{s}");
}

#[test]
fn online_ocsvm_and_rules_run_and_onehot_widens_the_rows() {
    let Some(dropped) = eval(
        &[
            "--detector",
            "online-ocsvm",
            "--categorical",
            "drop",
            "--limit",
            "5000",
        ],
        "data/unsw-nb15/UNSW_NB15_training-set.csv",
    ) else {
        return;
    };
    let Some(onehot) = eval(
        &[
            "--detector",
            "online-ocsvm",
            "--categorical",
            "onehot",
            "--limit",
            "5000",
        ],
        "data/unsw-nb15/UNSW_NB15_training-set.csv",
    ) else {
        return;
    };
    assert_eq!(dropped["rows"], 5000);
    assert!(
        onehot["columns"].as_u64() > dropped["columns"].as_u64(),
        "{onehot}"
    );
    let auc = number(&onehot, "roc_auc");
    assert!((0.0..=1.0).contains(&auc), "{onehot}");
    let Some(rules) = eval(
        &["--detector", "rules"],
        "data/cic-ids2017-improved-sample/Portscan_2500.csv",
    ) else {
        return;
    };
    assert_eq!(rules["detector"], "rules");
    assert_eq!(rules["rows"], 2500);
}
