//! Unit tests of the batch OCSVM: parameters, input checks, optimality of the solution
//! (checked against a kernel matrix built here), snapshots, and the scaled variant.

use super::*;
use crate::scale::StandardScaler;

/// A seeded cloud of `n` points in `dim` dimensions: three Gaussian-ish clusters.
fn cloud(n: usize, dim: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .flat_map(|i| {
            let centre = (i % 3) as f64 * 3.0;
            (0..dim)
                .map(|_| centre + (uniform() + uniform() + uniform() - 1.5))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn config(nu: f64, gamma: f64, tol: f64) -> BatchOcsvmConfig {
    BatchOcsvmConfig {
        nu,
        gamma: Gamma::Value(gamma),
        tol,
        ..BatchOcsvmConfig::default()
    }
}

fn rbf(a: &[f64], b: &[f64], gamma: f64) -> f64 {
    (-gamma * a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>()).exp()
}

#[test]
fn bad_parameters_are_named_with_their_value() {
    let cases = [
        (
            BatchOcsvmConfig {
                nu: 0.0,
                ..BatchOcsvmConfig::default()
            },
            "nu",
            "0",
        ),
        (
            BatchOcsvmConfig {
                nu: f64::NAN,
                ..BatchOcsvmConfig::default()
            },
            "nu",
            "NaN",
        ),
        (
            BatchOcsvmConfig {
                gamma: Gamma::Value(-1.0),
                ..BatchOcsvmConfig::default()
            },
            "gamma",
            "-1",
        ),
        (
            BatchOcsvmConfig {
                gamma: Gamma::Value(f64::INFINITY),
                ..BatchOcsvmConfig::default()
            },
            "gamma",
            "inf",
        ),
        (
            BatchOcsvmConfig {
                tol: 0.0,
                ..BatchOcsvmConfig::default()
            },
            "tol",
            "0",
        ),
        (
            BatchOcsvmConfig {
                cache_mb: -5.0,
                ..BatchOcsvmConfig::default()
            },
            "cache_mb",
            "-5",
        ),
        (
            BatchOcsvmConfig {
                max_iter: Some(0),
                ..BatchOcsvmConfig::default()
            },
            "max_iter",
            "0",
        ),
    ];
    for (config, name, value) in cases {
        match BatchOcsvm::new(2, &config) {
            Err(DetectorError::InvalidParameter {
                name: got,
                value: v,
                ..
            }) => {
                assert_eq!((got, v.as_str()), (name, value));
            }
            other => panic!("{name}: expected InvalidParameter, got {other:?}"),
        }
    }
    assert!(matches!(
        BatchOcsvm::new(0, &BatchOcsvmConfig::default()),
        Err(DetectorError::InvalidParameter { name: "dim", .. })
    ));
    assert!(
        BatchOcsvmConfig {
            nu: 1.0,
            ..BatchOcsvmConfig::default()
        }
        .validate()
        .is_ok()
    );
}

#[test]
fn bad_training_rows_are_refused() {
    let c = BatchOcsvmConfig::default();
    assert!(matches!(
        BatchOcsvm::fit(&[], 2, &c),
        Err(DetectorError::InvalidParameter { name: "rows", .. })
    ));
    assert!(matches!(
        BatchOcsvm::fit(&[1.0, 2.0, 3.0], 2, &c),
        Err(DetectorError::InvalidParameter { name: "rows", .. })
    ));
    assert!(matches!(
        BatchOcsvm::fit(&[1.0, 2.0, 3.0, f64::NAN], 2, &c),
        Err(DetectorError::NonFinite { index: 1, .. })
    ));
    // A failed refit leaves the fitted model as it was.
    let mut model = BatchOcsvm::fit(&cloud(30, 2, 1), 2, &c).expect("fit");
    let before = model.clone();
    assert!(model.refit(&[f64::INFINITY, 0.0]).is_err());
    assert_eq!(model, before);
}

#[test]
fn an_unfitted_model_says_so() {
    let mut model = BatchOcsvm::new(2, &BatchOcsvmConfig::default()).expect("new");
    assert!(!model.is_fitted());
    assert_eq!(model.n_support(), 0);
    assert_eq!(model.rho(), None);
    assert!(matches!(
        model.score_one(&[0.0, 0.0]),
        Err(DetectorError::NotFitted { .. })
    ));
    // Input errors come first, whatever the state.
    assert!(matches!(
        model.score_one(&[0.0]),
        Err(DetectorError::DimensionMismatch { .. })
    ));
    assert!(model.learn_one(&[0.0, 0.0]).is_ok());
    assert!(!model.is_fitted(), "learn_one does not fit");
}

#[test]
fn scoring_checks_its_input_and_learning_changes_nothing() {
    let mut model = BatchOcsvm::fit(&cloud(60, 3, 2), 3, &config(0.2, 0.5, 1e-3)).expect("fit");
    let before = model.clone();
    assert!(matches!(
        model.score_one(&[1.0, 2.0]),
        Err(DetectorError::DimensionMismatch {
            expected: 3,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        model.score_one(&[1.0, f64::NEG_INFINITY, 0.0]),
        Err(DetectorError::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        model.learn_one(&[f64::NAN, 0.0, 0.0]),
        Err(DetectorError::NonFinite { index: 0, .. })
    ));
    model
        .learn_one(&[100.0, 100.0, 100.0])
        .expect("a valid vector");
    assert_eq!(model, before);
    let x = [0.5, 0.5, 0.5];
    assert_eq!(
        model.score_one(&x).ok(),
        model.decision_function(&x).ok().map(|d| -d)
    );
}

/// The Karush-Kuhn-Tucker conditions of the dual, checked with a kernel matrix built here
/// from scratch: with gradient G = Qa, free variables sit at G_i = rho, variables at 0 have
/// G_i >= rho and variables at 1 have G_i <= rho, all within the tolerance.
fn assert_optimal(rows: &[f64], dim: usize, c: &BatchOcsvmConfig, model: &BatchOcsvm) {
    let gamma = model.gamma().expect("fitted");
    let l = rows.len() / dim;
    let mut alpha = vec![0.0; l];
    for (i, a) in model.support_indices().iter().zip(model.dual_coef()) {
        alpha[*i] = *a;
    }
    let sum: f64 = alpha.iter().sum();
    assert!((sum - c.nu * l as f64).abs() < 1e-9, "sum of alphas {sum}");
    let rho = model.rho().expect("fitted");
    let point = |i: usize| &rows[i * dim..(i + 1) * dim];
    for i in 0..l {
        let g: f64 = (0..l)
            .map(|j| alpha[j] * rbf(point(i), point(j), gamma))
            .sum();
        // Q is single precision in the solver, as in libsvm: allow its rounding on top.
        let slack = c.tol + 1e-6 * sum;
        if alpha[i] < 1.0 {
            assert!(
                g >= rho - slack,
                "row {i}: alpha {} but G {g} < rho {rho}",
                alpha[i]
            );
        }
        if alpha[i] > 0.0 {
            assert!(
                g <= rho + slack,
                "row {i}: alpha {} but G {g} > rho {rho}",
                alpha[i]
            );
        }
        // The model's decision function is G - rho on the training rows.
        let decision = model.decision_function(point(i)).expect("score");
        assert!((decision - (g - rho)).abs() < 1e-9 * sum.max(1.0));
    }
}

#[test]
fn the_solution_satisfies_the_optimality_conditions() {
    for (n, dim, nu, gamma, seed) in [
        (150, 2, 0.1, 0.5, 3),
        (97, 4, 0.35, 0.2, 4),
        (40, 1, 0.9, 2.0, 5),
    ] {
        let rows = cloud(n, dim, seed);
        for shrinking in [true, false] {
            let c = BatchOcsvmConfig {
                shrinking,
                ..config(nu, gamma, 1e-6)
            };
            let model = BatchOcsvm::fit(&rows, dim, &c).expect("fit");
            assert!(
                model
                    .fit_summary()
                    .is_some_and(|s| s.converged && s.n_train == n)
            );
            assert!(model.dual_coef().iter().all(|a| *a > 0.0 && *a <= 1.0));
            assert!(
                model.n_support() as f64 >= nu * n as f64 - 1.0,
                "at least nu*l support vectors"
            );
            assert_optimal(&rows, dim, &c, &model);
        }
    }
}

#[test]
fn nu_bounds_the_fraction_of_training_outliers() {
    let rows = cloud(300, 2, 6);
    for nu in [0.05, 0.2, 0.5] {
        let model = BatchOcsvm::fit(&rows, 2, &config(nu, 0.5, 1e-4)).expect("fit");
        let outside = rows
            .chunks_exact(2)
            .filter(|x| model.decision_function(x).is_ok_and(|d| d < -1e-3))
            .count();
        assert!(
            outside as f64 <= nu * 300.0 + 1.0,
            "nu {nu}: {outside} outliers"
        );
        assert!(
            model.n_support() as f64 >= nu * 300.0,
            "nu {nu}: {} SVs",
            model.n_support()
        );
    }
}

#[test]
fn duplicate_rows_and_a_single_row_are_handled() {
    let rows: Vec<f64> = std::iter::repeat_n([1.0, 2.0], 50).flatten().collect();
    let model = BatchOcsvm::fit(&rows, 2, &BatchOcsvmConfig::default()).expect("fit");
    // Every kernel value is 1, so the decision on the training point is sum(a) - rho = 0.
    let d = model.decision_function(&[1.0, 2.0]).expect("score");
    assert!(d.abs() < 1e-9, "{d}");
    // The variance is over every value of the matrix: the 1s and 2s give 0.25.
    assert_eq!(model.gamma(), Some(2.0));
    assert!(model.decision_function(&[5.0, 5.0]).expect("score") < 0.0);
    let flat: Vec<f64> = vec![1.5; 40];
    let flat_model = BatchOcsvm::fit(&flat, 2, &BatchOcsvmConfig::default()).expect("fit");
    assert_eq!(
        flat_model.gamma(),
        Some(1.0),
        "zero variance resolves gamma to 1"
    );

    let one = BatchOcsvm::fit(&[3.0], 1, &config(0.5, 1.0, 1e-3)).expect("fit");
    assert_eq!(one.n_support(), 1);
    assert!(one.score_one(&[10.0]).expect("score") > one.score_one(&[3.0]).expect("score"));
}

#[test]
fn the_iteration_cap_stops_the_solver() {
    let rows = cloud(200, 2, 7);
    let capped = BatchOcsvmConfig {
        max_iter: Some(3),
        ..config(0.1, 0.5, 1e-9)
    };
    let model = BatchOcsvm::fit(&rows, 2, &capped).expect("a capped fit still gives a model");
    let summary = model.fit_summary().expect("fitted");
    assert_eq!((summary.iterations, summary.converged), (3, false));
    let full = BatchOcsvm::fit(&rows, 2, &config(0.1, 0.5, 1e-9)).expect("fit");
    assert!(
        full.fit_summary()
            .is_some_and(|s| s.converged && s.iterations > 3)
    );
}

#[test]
fn fitting_is_deterministic_and_the_cache_size_does_not_matter() {
    let rows = cloud(400, 3, 8);
    let a = BatchOcsvm::fit(&rows, 3, &config(0.1, 0.3, 1e-3)).expect("fit");
    let b = BatchOcsvm::fit(&rows, 3, &config(0.1, 0.3, 1e-3)).expect("fit");
    assert_eq!(a, b);
    // 0.001 MiB is far less than two rows: the floor of two full rows applies, and rows are
    // evicted and recomputed all the time.
    let small = BatchOcsvm::fit(
        &rows,
        3,
        &BatchOcsvmConfig {
            cache_mb: 0.001,
            ..config(0.1, 0.3, 1e-3)
        },
    )
    .expect("fit");
    assert_eq!(a.dual_coef(), small.dual_coef());
    assert_eq!(a.rho(), small.rho());
}

#[test]
fn gamma_scale_uses_the_variance_of_the_whole_matrix() {
    let rows = cloud(333, 3, 9);
    let n = rows.len() as f64;
    let mean = rows.iter().sum::<f64>() / n;
    let var = rows.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let model = BatchOcsvm::fit(&rows, 3, &BatchOcsvmConfig::default()).expect("fit");
    let gamma = model.gamma().expect("fitted");
    assert!(
        (gamma - 1.0 / (3.0 * var)).abs() < 1e-12 * gamma,
        "{gamma} vs {}",
        1.0 / (3.0 * var)
    );
}

#[test]
fn pairwise_summation_is_a_sum() {
    for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4099] {
        let values: Vec<f64> = (0..n).map(|i| f64::from(i % 17) * 0.25 - 1.0).collect();
        let naive: f64 = values.iter().sum();
        assert!(
            (pairwise_sum(&values, &|v| v) - naive).abs() < 1e-9,
            "n = {n}"
        );
        let squares: f64 = values.iter().map(|v| v * v).sum();
        assert!(
            (pairwise_sum(&values, &|v| v * v) - squares).abs() < 1e-9,
            "n = {n}"
        );
    }
}

#[test]
fn snapshots_round_trip_bit_for_bit() {
    let rows = cloud(120, 2, 10);
    let model = BatchOcsvm::fit(
        &rows,
        2,
        &BatchOcsvmConfig {
            max_iter: Some(10_000),
            ..config(0.15, 0.7, 1e-3)
        },
    )
    .expect("fit");
    let mut restored = BatchOcsvm::new(2, &BatchOcsvmConfig::default()).expect("new");
    restored.restore(&model.snapshot()).expect("restore");
    assert_eq!(restored, model);
    assert_eq!(restored.snapshot(), model.snapshot());
    for x in rows.chunks_exact(2) {
        assert_eq!(
            model.score_one(x).map(f64::to_bits),
            restored.score_one(x).map(f64::to_bits)
        );
    }
    // An unfitted model round-trips too, and restoring it unfits the target.
    let empty = BatchOcsvm::new(2, &config(0.3, 1.0, 1e-4)).expect("new");
    restored.restore(&empty.snapshot()).expect("restore");
    assert_eq!(restored, empty);
}

#[test]
fn bad_snapshots_are_refused_and_change_nothing() {
    let rows = cloud(80, 2, 11);
    let model = BatchOcsvm::fit(&rows, 2, &config(0.1, 0.5, 1e-3)).expect("fit");
    let bytes = model.snapshot();
    let mut target = BatchOcsvm::fit(&rows[..40], 2, &config(0.2, 0.5, 1e-3)).expect("fit");
    let before = target.clone();
    let mut retagged = bytes.clone();
    retagged[0] = b'X';
    let mut longer = bytes.clone();
    longer.push(0);
    for bad in [
        &[][..],
        &bytes[..bytes.len() - 1],
        &bytes[..10],
        &retagged,
        &longer,
    ] {
        assert!(matches!(
            target.restore(bad),
            Err(DetectorError::Snapshot { .. })
        ));
        assert_eq!(target, before);
    }
    // Another dimension.
    let mut three = BatchOcsvm::new(3, &BatchOcsvmConfig::default()).expect("new");
    assert!(matches!(
        three.restore(&bytes),
        Err(DetectorError::Snapshot { .. })
    ));
    // A scaled model's snapshot is not a bare model's.
    let scaled = ScaledBatchOcsvm::fit(&rows, 2, &BatchOcsvmConfig::default()).expect("fit");
    assert!(matches!(
        target.restore(&scaled.snapshot()),
        Err(DetectorError::Snapshot { .. })
    ));
    assert_eq!(target, before);
}

#[test]
fn the_batch_scaler_matches_the_streaming_one_on_non_constant_features() {
    let rows = cloud(500, 4, 12);
    let batch = BatchStandardScaler::fit(&rows, 4).expect("fit");
    let mut streaming = StandardScaler::new(4);
    for x in rows.chunks_exact(4) {
        streaming.learn_one(x);
    }
    let (mut a, mut b) = ([0.0; 4], [0.0; 4]);
    for x in rows.chunks_exact(4).take(50) {
        batch.transform(x, &mut a);
        streaming.transform(x, &mut b);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-9, "{u} vs {v}");
        }
    }
    // A constant feature is centred, not divided by zero.
    let constant = BatchStandardScaler::fit(&[7.0, 1.0, 7.0, 3.0], 2).expect("fit");
    assert_eq!(constant.scale(), &[1.0, 1.0]);
    let mut out = [0.0; 2];
    constant.transform(&[8.0, 2.0], &mut out);
    assert_eq!(out, [1.0, 0.0]);
}

#[test]
fn the_scaled_model_is_the_model_on_scaled_rows() {
    let rows: Vec<f64> = cloud(200, 3, 13)
        .chunks_exact(3)
        .flat_map(|x| [x[0] * 1000.0, x[1] * 0.001, x[2] + 50.0])
        .collect();
    let c = BatchOcsvmConfig::default();
    let scaled = ScaledBatchOcsvm::fit(&rows, 3, &c).expect("fit");
    let scaler = BatchStandardScaler::fit(&rows, 3).expect("fit");
    let bare = BatchOcsvm::fit(&scaler.transform_rows(&rows), 3, &c).expect("fit");
    assert_eq!(scaled.model(), &bare);
    let mut z = [0.0; 3];
    for x in rows.chunks_exact(3).take(20) {
        scaler.transform(x, &mut z);
        // The scaled model works from the raw row's offsets to its pivot: the same score up
        // to rounding.
        let got = scaled.score_one(x).expect("score");
        let want = bare.score_one(&z).expect("score");
        assert!(
            (got - want).abs() <= 1e-13 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
    // gamma "scale" on standardised data: 1 / (dim * 1) when no feature is constant.
    let gamma = scaled.model().gamma().expect("fitted");
    assert!((gamma - 1.0 / 3.0).abs() < 1e-9, "{gamma}");
}

#[test]
fn the_scaled_model_checks_input_and_round_trips() {
    let rows = cloud(90, 2, 14);
    let mut unfitted = ScaledBatchOcsvm::new(2, &BatchOcsvmConfig::default()).expect("new");
    assert!(matches!(
        unfitted.score_one(&[0.0, 0.0]),
        Err(DetectorError::NotFitted { .. })
    ));
    assert!(matches!(
        unfitted.score_one(&[0.0, f64::NAN]),
        Err(DetectorError::NonFinite { index: 1, .. })
    ));
    let model = ScaledBatchOcsvm::fit(&rows, 2, &BatchOcsvmConfig::default()).expect("fit");
    unfitted.restore(&model.snapshot()).expect("restore");
    assert_eq!(unfitted, model);
    for x in rows.chunks_exact(2) {
        assert_eq!(
            model.score_one(x).map(f64::to_bits),
            unfitted.score_one(x).map(f64::to_bits)
        );
    }
    let mut other = ScaledBatchOcsvm::new(2, &BatchOcsvmConfig::default()).expect("new");
    let before = other.clone();
    assert!(other.restore(&model.snapshot()[..30]).is_err());
    assert!(other.restore(&model.model().snapshot()).is_err());
    assert_eq!(other, before);
    // Wide vectors keep their offsets on the heap.
    let wide = cloud(40, STACK_WIDE, 15);
    let w = ScaledBatchOcsvm::fit(&wide, STACK_WIDE, &BatchOcsvmConfig::default()).expect("fit");
    assert!(w.score_one(&wide[..STACK_WIDE]).is_ok_and(f64::is_finite));
}

/// Wider than the stack buffers of [`ScaledBatchOcsvm`]'s scoring.
const STACK_WIDE: usize = 130;

#[test]
fn the_exponential_is_within_a_few_ulps_of_the_platform_one() {
    let mut state = 0x1234_5678_9ABC_DEF1u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut worst: f64 = 0.0;
    for i in 0..400_000 {
        // Half spread over magnitudes from 1e-12 to 745, half uniform on [-750, 0].
        let x = if i % 2 == 0 {
            -(10f64.powf(uniform() * 14.9 - 12.0))
        } else {
            -750.0 * uniform()
        };
        let (got, want) = (kernel::exp_non_positive(x), x.exp());
        if want == 0.0 {
            assert_eq!(got, 0.0, "exp({x})");
            continue;
        }
        worst = worst.max(((got - want) / want).abs());
    }
    assert!(worst < 1e-15, "worst relative error {worst:e}");
    for (x, want) in [
        (0.0, 1.0),
        (-0.0, 1.0),
        (f64::NEG_INFINITY, 0.0),
        (-1000.0, 0.0),
    ] {
        assert_eq!(kernel::exp_non_positive(x), want, "exp({x})");
    }
    // Below -708 the platform's exp takes over: the same subnormal bits.
    assert_eq!(
        kernel::exp_non_positive(-720.0).to_bits(),
        (-720f64).exp().to_bits()
    );
}

/// scikit-learn's decision function written out: `sum_i a_i exp(-gamma |sv_i - x|^2) - rho`.
fn naive_decision(model: &BatchOcsvm, x: &[f64]) -> f64 {
    let gamma = model.gamma().expect("fitted");
    let dim = x.len();
    model
        .support_vectors()
        .chunks_exact(dim)
        .zip(model.dual_coef())
        .map(|(sv, a)| a * rbf(sv, x, gamma))
        .sum::<f64>()
        - model.rho().expect("fitted")
}

#[test]
fn the_blocked_decision_function_is_the_sum_over_support_vectors() {
    for (n, dim, gamma, seed) in [(37, 1, 0.5, 21), (200, 3, 0.2, 22), (301, 9, 0.05, 23)] {
        let rows = cloud(n, dim, seed);
        let model = BatchOcsvm::fit(&rows, dim, &config(0.2, gamma, 1e-3)).expect("fit");
        let probes = cloud(60, dim, seed + 100);
        for x in rows.chunks_exact(dim).chain(probes.chunks_exact(dim)) {
            let (got, want) = (
                model.decision_function(x).expect("score"),
                naive_decision(&model, x),
            );
            assert!(
                (got - want).abs() <= 1e-13 * want.abs().max(1.0),
                "n {n}, dim {dim}: {got} vs {want}"
            );
        }
        // Far away every kernel underflows to 0: the score is rho exactly.
        let far = vec![1e6; dim];
        assert_eq!(model.score_one(&far).ok(), model.rho(), "n {n}, dim {dim}");
    }
}

/// `n` rows shaped like the daemon's: a few flags, a one-hot pair, small log counts, one
/// continuous feature, and zeros.
fn sparse_rows(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut rows = Vec::with_capacity(n * SPARSE_DIM);
    for _ in 0..n {
        let mut row = [0.0; SPARSE_DIM];
        row[0] = 1.0; // always set
        row[1] = 0.5; // a ratio at its default
        let ssh = uniform() < 0.8;
        row[2] = f64::from(u8::from(ssh));
        row[3] = f64::from(u8::from(!ssh));
        row[4] = (1.0 / uniform().max(1e-9)).floor().min(300.0).ln_1p();
        row[5] = (uniform() * std::f64::consts::TAU).sin();
        if uniform() < 0.1 {
            row[6] = (uniform() * 20.0).floor().ln_1p();
        }
        rows.extend_from_slice(&row);
    }
    rows
}

const SPARSE_DIM: usize = 12;

#[test]
fn the_scaled_model_on_sparse_rows_is_the_model_on_scaled_rows() {
    let rows = sparse_rows(1_500, 31);
    let c = BatchOcsvmConfig::default();
    let scaled = ScaledBatchOcsvm::fit(&rows, SPARSE_DIM, &c).expect("fit");
    let scaler = BatchStandardScaler::fit(&rows, SPARSE_DIM).expect("fit");
    let bare = BatchOcsvm::fit(&scaler.transform_rows(&rows), SPARSE_DIM, &c).expect("fit");
    assert_eq!(scaled.model(), &bare);
    // The pivot takes the values most support vectors share: the flags' common values, the
    // zeros of the rarely set count.
    let pivot = scaled.pivot.as_ref().expect("fitted");
    let mut scaled_common = [0.0; SPARSE_DIM];
    let mut common = [0.0; SPARSE_DIM];
    common[..3].copy_from_slice(&[1.0, 0.5, 1.0]);
    scaler.transform(&common, &mut scaled_common);
    for j in [0, 1, 2, 3, 6, 7, 11] {
        assert_eq!(
            pivot.z()[j].to_bits(),
            scaled_common[j].to_bits(),
            "feature {j}"
        );
    }
    let mut probes = sparse_rows(300, 32);
    // Values never seen, a row far out, and one far enough out for the direct form.
    probes.extend_from_slice(&[3.0; SPARSE_DIM]);
    probes.extend_from_slice(&[-1e7; SPARSE_DIM]);
    let mut huge = [0.0; SPARSE_DIM];
    huge[7] = 1e150;
    probes.extend_from_slice(&huge);
    let mut z = [0.0; SPARSE_DIM];
    for x in rows
        .chunks_exact(SPARSE_DIM)
        .chain(probes.chunks_exact(SPARSE_DIM))
    {
        scaler.transform(x, &mut z);
        let got = scaled.decision_function(x).expect("score");
        let want = naive_decision(&bare, &z);
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{x:?}: {got} vs {want}"
        );
    }
}
