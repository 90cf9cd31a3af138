//! The batch One-Class SVM against scikit-learn's `OneClassSVM` (libsvm) on every
//! `vectors/ocsvm_rbf_*.json`: raw, unscaled training data and the parameters stored in each
//! file. The expected numbers come from the file only; this test reads them with serde_json.

use std::path::Path;

use serde_json::Value;
use vigil_detectors::Detector;
use vigil_detectors::ocsvm::batch::{BatchOcsvm, BatchOcsvmConfig, Gamma};

/// One golden vector.
struct Golden {
    name: String,
    dim: usize,
    train: Vec<f64>,
    test: Vec<f64>,
    nu: f64,
    gamma: f64,
    tol: f64,
    shrinking: bool,
    cache_mb: f64,
    decision_test: Vec<f64>,
    decision_train: Vec<f64>,
    n_support: usize,
    support_indices: Vec<usize>,
    dual_coef: Vec<f64>,
    rho: f64,
    tight_decision_test: Vec<f64>,
    tight_rho: f64,
    tight_tol: f64,
    tight_shrinking: bool,
}

fn numbers(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("{key} holds numbers")))
        .collect()
}

fn matrix(v: &Value, key: &str, dim: usize) -> Vec<f64> {
    let rows = v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"));
    let mut out = Vec::with_capacity(rows.len() * dim);
    for row in rows {
        let row = row.as_array().unwrap_or_else(|| panic!("{key} holds rows"));
        assert_eq!(row.len(), dim, "{key} rows have {dim} values");
        out.extend(row.iter().map(|x| x.as_f64().expect("a number")));
    }
    out
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number"))
}

/// Every golden vector, read; none when the shared vectors are missing.
fn goldens() -> Vec<Golden> {
    let files = vigil_tests::vector_files("ocsvm_rbf_").unwrap_or_default();
    files.iter().map(|path| read_golden(path)).collect()
}

fn read_golden(path: &Path) -> Golden {
    let text = std::fs::read_to_string(path).expect("the vector is readable");
    let v: Value = serde_json::from_str(&text).expect("the vector is JSON");
    let params = &v["params"];
    assert_eq!(params["kernel"], "rbf");
    let dim = v["d"].as_u64().expect("d") as usize;
    let g = Golden {
        name: v["name"].as_str().expect("name").to_string(),
        dim,
        train: matrix(&v, "train_X", dim),
        test: matrix(&v, "test_X", dim),
        nu: number(params, "nu"),
        gamma: number(params, "gamma"),
        tol: number(params, "tol"),
        shrinking: params["shrinking"].as_bool().expect("shrinking"),
        cache_mb: number(params, "cache_size"),
        decision_test: numbers(&v, "decision_test"),
        decision_train: numbers(&v, "decision_train"),
        n_support: v["n_support"].as_u64().expect("n_support") as usize,
        support_indices: numbers(&v, "support_indices")
            .iter()
            .map(|i| *i as usize)
            .collect(),
        dual_coef: numbers(&v, "dual_coef"),
        rho: number(&v, "rho"),
        tight_decision_test: numbers(&v["tight"], "decision_test"),
        tight_rho: number(&v["tight"], "rho"),
        tight_tol: number(&v["tight"]["params"], "tol"),
        tight_shrinking: v["tight"]["params"]["shrinking"]
            .as_bool()
            .expect("tight shrinking"),
    };
    assert_eq!(
        g.train.len(),
        v["n_train"].as_u64().expect("n_train") as usize * dim
    );
    assert_eq!(g.test.len(), g.decision_test.len() * dim);
    g
}

impl Golden {
    fn config(&self, tol: f64) -> BatchOcsvmConfig {
        BatchOcsvmConfig {
            nu: self.nu,
            gamma: Gamma::Value(self.gamma),
            tol,
            shrinking: self.shrinking,
            cache_mb: self.cache_mb,
            max_iter: None,
            min_scale: 0.0,
        }
    }
}

fn max_abs_diff(model: &BatchOcsvm, xs: &[f64], expected: &[f64]) -> f64 {
    xs.chunks_exact(model.dim())
        .zip(expected)
        .map(|(x, want)| {
            let got = model.decision_function(x).expect("a fitted model scores");
            (got - want).abs()
        })
        .fold(0.0, f64::max)
}

/// Asserts that `model` has scikit-learn's `rho` and decision values on the test rows to
/// 1e-9: the same solution, not merely a close one. `what` names which (`""` or `"tight "`).
fn assert_same_solution(
    model: &BatchOcsvm,
    g: &Golden,
    rho: f64,
    decision_test: &[f64],
    what: &str,
) {
    let got = model.rho().expect("fitted");
    assert!(
        (got - rho).abs() < 1e-9,
        "{}: {what}rho {got} vs {rho}",
        g.name
    );
    let test_diff = max_abs_diff(model, &g.test, decision_test);
    assert!(
        test_diff < 1e-9,
        "{}: {what}decision_test off by {test_diff}",
        g.name
    );
}

#[test]
fn the_file_describes_its_decision_function() {
    // Recomputes scikit-learn's decision values from the file's own support vectors, dual
    // coefficients and rho, to pin down the formula the model must reproduce.
    for g in goldens() {
        assert_eq!(g.support_indices.len(), g.n_support, "{}", g.name);
        let nu_l = g.nu * (g.train.len() / g.dim) as f64;
        let coef_sum: f64 = g.dual_coef.iter().sum();
        assert!(
            (coef_sum - nu_l).abs() < 1e-9,
            "{}: coefficients sum to nu*l",
            g.name
        );
        for (x, want) in g.test.chunks_exact(g.dim).zip(&g.decision_test) {
            let mut sum = 0.0;
            for (i, coef) in g.support_indices.iter().zip(&g.dual_coef) {
                let sv = &g.train[i * g.dim..(i + 1) * g.dim];
                let d2: f64 = sv.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum();
                sum += coef * (-g.gamma * d2).exp();
            }
            assert!((sum - g.rho - want).abs() < 1e-9, "{}", g.name);
        }
    }
}

#[test]
fn default_tolerance_matches_scikit_learn() {
    for g in goldens() {
        let model = BatchOcsvm::fit(&g.train, g.dim, &g.config(g.tol)).expect("the fit succeeds");
        let test_diff = max_abs_diff(&model, &g.test, &g.decision_test);
        let train_diff = max_abs_diff(&model, &g.train, &g.decision_train);
        let rho = model.rho().expect("fitted");
        eprintln!(
            "{}: tol {}: n_support {} (sklearn {}), rho {rho} (sklearn {}), max |diff| test {test_diff:.3e}, train {train_diff:.3e}",
            g.name,
            g.tol,
            model.n_support(),
            g.n_support,
            g.rho
        );
        assert!(
            test_diff <= 2e-3,
            "{}: decision_test off by {test_diff}",
            g.name
        );
        assert!(
            train_diff <= 2e-3,
            "{}: decision_train off by {train_diff}",
            g.name
        );
        assert!(
            model.n_support().abs_diff(g.n_support) <= 2,
            "{}: {} support vectors, sklearn {}",
            g.name,
            model.n_support(),
            g.n_support
        );
        let nu_l = g.nu * (g.train.len() / g.dim) as f64;
        let coef_sum: f64 = model.dual_coef().iter().sum();
        assert!(
            (coef_sum - nu_l).abs() < 1e-9,
            "{}: coefficients sum to {coef_sum}",
            g.name
        );
        assert!(model.dual_coef().iter().all(|a| *a > 0.0 && *a <= 1.0));
        // Scores are the negated decision values.
        let x = &g.test[..g.dim];
        assert_eq!(
            model.score_one(x).ok(),
            model.decision_function(x).ok().map(|d| -d)
        );
    }
}

#[test]
fn default_tolerance_follows_libsvm_step_by_step() {
    // The solver reproduces libsvm's iterates (same working sets, same arithmetic), so at
    // scikit-learn's own tolerance it finds the same support vectors and coefficients, and
    // decision values far closer than the 2e-3 that any correct solver reaches.
    for g in goldens() {
        let model = BatchOcsvm::fit(&g.train, g.dim, &g.config(g.tol)).expect("the fit succeeds");
        assert_eq!(
            model.support_indices(),
            g.support_indices.as_slice(),
            "{}",
            g.name
        );
        for (got, want) in model.dual_coef().iter().zip(&g.dual_coef) {
            assert!(
                (got - want).abs() < 1e-9,
                "{}: coefficient {got} vs {want}",
                g.name
            );
        }
        assert_same_solution(&model, &g, g.rho, &g.decision_test, "");

        // The same holds for the tight solution, with its own parameters.
        let tight = BatchOcsvmConfig {
            shrinking: g.tight_shrinking,
            ..g.config(g.tight_tol)
        };
        let model = BatchOcsvm::fit(&g.train, g.dim, &tight).expect("the fit succeeds");
        assert_same_solution(&model, &g, g.tight_rho, &g.tight_decision_test, "tight ");
    }
}

#[test]
fn tight_tolerance_matches_the_tight_solution() {
    for g in goldens() {
        for shrinking in [true, false] {
            let config = BatchOcsvmConfig {
                shrinking,
                ..g.config(1e-6)
            };
            let model = BatchOcsvm::fit(&g.train, g.dim, &config).expect("the fit succeeds");
            let test_diff = max_abs_diff(&model, &g.test, &g.tight_decision_test);
            let rho = model.rho().expect("fitted");
            eprintln!(
                "{}: tol 1e-6, shrinking {shrinking}: n_support {}, rho {rho} (sklearn tight {}), max |diff| test {test_diff:.3e}",
                g.name,
                model.n_support(),
                g.tight_rho
            );
            assert!(
                test_diff <= 1e-5,
                "{}: tight decision_test off by {test_diff}",
                g.name
            );
            assert!(model.fit_summary().is_some_and(|s| s.converged));
        }
    }
}

#[test]
fn a_small_cache_changes_speed_not_the_solution() {
    // A cache far smaller than the kernel matrix forces evictions and recomputed rows; the
    // solution must not move by a bit.
    for g in goldens() {
        let roomy = BatchOcsvm::fit(&g.train, g.dim, &g.config(g.tol)).expect("fit");
        let tight = BatchOcsvm::fit(
            &g.train,
            g.dim,
            &BatchOcsvmConfig {
                cache_mb: 0.01,
                ..g.config(g.tol)
            },
        )
        .expect("fit");
        assert_eq!(roomy.dual_coef(), tight.dual_coef(), "{}", g.name);
        assert_eq!(roomy.rho(), tight.rho(), "{}", g.name);
    }
}

#[test]
fn snapshot_restore_gives_identical_scores() {
    for g in goldens() {
        let model = BatchOcsvm::fit(&g.train, g.dim, &g.config(g.tol)).expect("fit");
        let mut restored = BatchOcsvm::new(g.dim, &BatchOcsvmConfig::default()).expect("new");
        restored.restore(&model.snapshot()).expect("restore");
        assert_eq!(restored, model);
        for x in g.test.chunks_exact(g.dim) {
            let a = model.score_one(x).expect("score");
            let b = restored.score_one(x).expect("score");
            assert_eq!(a.to_bits(), b.to_bits(), "{}", g.name);
        }
    }
}
