//! Batch nu-One-Class SVM with an RBF kernel, solved the way libsvm solves it (scikit-learn's
//! `OneClassSVM`).
//!
//! Training finds the dual variables `a` of
//!
//! ```text
//! min 0.5 a'Qa   subject to   0 <= a_i <= 1,   sum a_i = nu * l,   Q_ij = exp(-gamma |x_i - x_j|^2)
//! ```
//!
//! over the `l` training rows (libsvm's scaling: the coefficients sum to `nu * l`, not 1).
//! The solver is libsvm's SMO: second-order working-set selection, shrinking of variables
//! stuck at a bound, and a least-recently-used cache of kernel rows bounded by
//! [`cache_mb`](BatchOcsvmConfig::cache_mb). The `l x l` kernel matrix is never formed, and the
//! fitted model keeps only its support vectors (rows with `a_i > 0`) and their coefficients.
//!
//! The decision function is scikit-learn's `decision_function`,
//! `f(x) = sum_i a_i K(sv_i, x) - rho`: positive inside the learned support of the data,
//! negative outside. As a [`Detector`], the score is `-f(x)`, so higher is more anomalous.
//!
//! A batch model learns only by being fitted: [`Detector::learn_one`] checks its input and
//! changes nothing; fit again with [`BatchOcsvm::refit`] (the pool retrains it on a window of
//! recent events). Features are used as given: standardise them first, or use
//! [`ScaledBatchOcsvm`], which fits a standard scaler on the same rows.
//!
//! ```
//! use vigil_detectors::Detector;
//! use vigil_detectors::ocsvm::batch::{BatchOcsvm, BatchOcsvmConfig, Gamma};
//!
//! // Normal traffic: a 10 x 10 grid over the unit square.
//! let rows: Vec<f64> = (0..100)
//!     .flat_map(|i| [f64::from(i % 10) / 10.0, f64::from(i / 10) / 10.0])
//!     .collect();
//! let config = BatchOcsvmConfig { nu: 0.1, gamma: Gamma::Value(2.0), ..BatchOcsvmConfig::default() };
//! let model = BatchOcsvm::fit(&rows, 2, &config)?;
//! assert!(model.decision_function(&[0.45, 0.45])? > 0.0, "inside");
//! assert!(model.decision_function(&[3.0, 3.0])? < 0.0, "far away");
//! assert!(model.score_one(&[3.0, 3.0])? > model.score_one(&[0.45, 0.45])?);
//! assert!(model.n_support() >= 10, "at least nu * l support vectors");
//! # Ok::<(), vigil_detectors::DetectorError>(())
//! ```

mod cache;
mod kernel;
mod scaled;
mod solver;
#[cfg(test)]
mod tests;

pub use scaled::{BatchStandardScaler, ScaledBatchOcsvm};

use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::{invalid_parameter, snapshot_error};
use crate::{Detector, DetectorError, check_input};
use kernel::SvBlocks;
use solver::{SolveParams, solve_one_class};

/// The detector's name in errors and in the pool.
const NAME: &str = "ocsvm";
/// Snapshot tag of [`BatchOcsvm`].
const TAG: [u8; 4] = *b"OCSB";
/// Snapshot format version of [`BatchOcsvm`].
const VERSION: u16 = 1;

/// The RBF kernel coefficient `gamma` in `K(x, y) = exp(-gamma |x - y|^2)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gamma {
    /// scikit-learn's `"scale"`: `1 / (n_features * var)`, where `var` is the variance of
    /// every value of the training matrix as given (1 when that variance is 0).
    Scale,
    /// A fixed positive value.
    Value(f64),
}

/// Parameters of [`BatchOcsvm`], validated once when a model is built.
///
/// The defaults are scikit-learn's `OneClassSVM` defaults except `nu`, which is Vigil's
/// baseline 0.1 (scikit-learn: 0.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchOcsvmConfig {
    /// Upper bound on the fraction of training rows left outside (margin errors) and lower
    /// bound on the fraction of support vectors; in (0, 1]. Default 0.1.
    pub nu: f64,
    /// RBF coefficient. Default [`Gamma::Scale`].
    pub gamma: Gamma,
    /// Stopping tolerance: the solver stops when the maximal KKT violation is below it
    /// (libsvm's `eps`). Positive; default 1e-3.
    pub tol: f64,
    /// Whether to shrink the active set (same solution, usually faster). Default true.
    pub shrinking: bool,
    /// Budget of the kernel row cache, in MiB (2^20 bytes); positive. It is never made
    /// smaller than two full kernel rows (8 bytes per training row). Default 200, as
    /// scikit-learn's `cache_size`; the cache holds only rows the solver asked for, so a fit
    /// uses less when it needs fewer rows.
    pub cache_mb: f64,
    /// Cap on solver iterations; `None` runs to convergence (scikit-learn's -1). A capped fit
    /// still returns a model, with [`FitSummary::converged`] false. Default `None`.
    pub max_iter: Option<u64>,
    /// Smallest per-feature divisor of [`ScaledBatchOcsvm`]'s scaler, in the feature's own
    /// units; 0 (the default) is scikit-learn's `StandardScaler`. A feature that barely moves
    /// within a short training window (the time of day over a few minutes) otherwise gets a
    /// tiny spread, every later value of it scales to a huge distance, every kernel vanishes
    /// and the model scores all events alike. Finite, at least 0.
    pub min_scale: f64,
}

impl Default for BatchOcsvmConfig {
    fn default() -> BatchOcsvmConfig {
        BatchOcsvmConfig {
            nu: 0.1,
            gamma: Gamma::Scale,
            tol: 1e-3,
            shrinking: true,
            cache_mb: 200.0,
            max_iter: None,
            min_scale: 0.0,
        }
    }
}

impl BatchOcsvmConfig {
    /// Checks every parameter.
    ///
    /// ```
    /// use vigil_detectors::ocsvm::batch::BatchOcsvmConfig;
    /// assert!(BatchOcsvmConfig::default().validate().is_ok());
    /// let err = BatchOcsvmConfig { nu: 1.5, ..BatchOcsvmConfig::default() }.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "ocsvm: parameter nu must be in (0, 1], got 1.5");
    /// ```
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] naming the first bad parameter and its value.
    pub fn validate(&self) -> Result<(), DetectorError> {
        if !(self.min_scale >= 0.0 && self.min_scale.is_finite()) {
            return Err(invalid_parameter(
                NAME,
                "min_scale",
                "must be a finite number, at least 0",
                self.min_scale.to_string(),
            ));
        }
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return Err(invalid_parameter(
                NAME,
                "nu",
                "must be in (0, 1]",
                self.nu.to_string(),
            ));
        }
        if let Gamma::Value(gamma) = self.gamma
            && !(gamma > 0.0 && gamma.is_finite())
        {
            return Err(invalid_parameter(
                NAME,
                "gamma",
                "must be a positive finite number",
                gamma.to_string(),
            ));
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return Err(invalid_parameter(
                NAME,
                "tol",
                "must be a positive finite number",
                self.tol.to_string(),
            ));
        }
        if !(self.cache_mb > 0.0 && self.cache_mb.is_finite()) {
            return Err(invalid_parameter(
                NAME,
                "cache_mb",
                "must be a positive finite number",
                self.cache_mb.to_string(),
            ));
        }
        if self.max_iter == Some(0) {
            return Err(invalid_parameter(
                NAME,
                "max_iter",
                "must be at least 1 when set",
                "0",
            ));
        }
        Ok(())
    }

    fn cache_bytes(&self) -> u64 {
        // Saturating float-to-int conversion; validate() has made it positive and finite.
        (self.cache_mb * f64::from(1u32 << 20)) as u64
    }
}

/// How a fit went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitSummary {
    /// Number of training rows.
    pub n_train: usize,
    /// Solver iterations (SMO steps).
    pub iterations: u64,
    /// False when [`BatchOcsvmConfig::max_iter`] stopped the solver before the tolerance was met.
    pub converged: bool,
    /// The dual objective `0.5 a'Qa` at the solution.
    pub objective: f64,
}

/// What a fit leaves behind: the support vectors and their coefficients.
#[derive(Debug, Clone, PartialEq)]
struct Fitted {
    gamma: f64,
    rho: f64,
    dual_coef: Vec<f64>,
    /// Row-major, `dual_coef.len()` rows of `dim` values.
    support_vectors: Vec<f64>,
    /// Index of each support vector among the training rows.
    support_indices: Vec<usize>,
    summary: FitSummary,
    /// The support vectors and coefficients laid out for scoring (derived, not stored).
    blocks: SvBlocks,
}

/// A batch nu-One-Class SVM with an RBF kernel (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOcsvm {
    dim: usize,
    config: BatchOcsvmConfig,
    fitted: Option<Fitted>,
}

/// Fits a [`BatchOcsvm`] on `rows` (row-major, `dim` values per row); the same as
/// [`BatchOcsvm::fit`].
///
/// # Errors
/// As [`BatchOcsvm::fit`].
pub fn fit(
    rows: &[f64],
    dim: usize,
    config: &BatchOcsvmConfig,
) -> Result<BatchOcsvm, DetectorError> {
    BatchOcsvm::fit(rows, dim, config)
}

/// scikit-learn's `X.var()`: the population variance of every value, each sum taken the way
/// numpy takes it (pairwise), so that `Gamma::Scale` resolves to the same number.
fn matrix_variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = pairwise_sum(values, &|v| v) / n;
    pairwise_sum(values, &|v| (v - mean) * (v - mean)) / n
}

/// numpy's pairwise summation of `term(v)` over `values`: blocks of up to 128 values summed
/// with eight accumulators, halves of larger ranges summed recursively.
fn pairwise_sum(values: &[f64], term: &dyn Fn(f64) -> f64) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        let mut sum = 0.0;
        for v in values {
            sum += term(*v);
        }
        sum
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        for (slot, v) in r.iter_mut().zip(values) {
            *slot = term(*v);
        }
        let whole = n - n % 8;
        for chunk in values[8..whole].chunks_exact(8) {
            for (slot, v) in r.iter_mut().zip(chunk) {
                *slot += term(*v);
            }
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &values[whole..] {
            sum += term(*v);
        }
        sum
    } else {
        let mut half = n / 2;
        half -= half % 8;
        let (low, high) = values.split_at(half);
        pairwise_sum(low, term) + pairwise_sum(high, term)
    }
}

/// Checks the training matrix: `dim` at least 1, a whole and non-zero number of rows, every
/// value finite. Returns the number of rows.
fn check_rows(rows: &[f64], dim: usize) -> Result<usize, DetectorError> {
    if dim == 0 {
        return Err(invalid_parameter(NAME, "dim", "must be at least 1", "0"));
    }
    if rows.is_empty() || !rows.len().is_multiple_of(dim) {
        return Err(invalid_parameter(
            NAME,
            "rows",
            "must hold one or more whole rows of dim values",
            format!("{} values for dim {dim}", rows.len()),
        ));
    }
    for row in rows.chunks_exact(dim) {
        check_input(NAME, dim, row)?;
    }
    Ok(rows.len() / dim)
}

impl BatchOcsvm {
    /// A model for `dim` features that has not been fitted: it scores nothing until
    /// [`refit`](Self::refit) or [`restore`](Detector::restore).
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] for a bad parameter or `dim` 0.
    pub fn new(dim: usize, config: &BatchOcsvmConfig) -> Result<BatchOcsvm, DetectorError> {
        config.validate()?;
        if dim == 0 {
            return Err(invalid_parameter(NAME, "dim", "must be at least 1", "0"));
        }
        Ok(BatchOcsvm {
            dim,
            config: *config,
            fitted: None,
        })
    }

    /// Fits a model on `rows`: row-major, `dim` values per row, as given (no scaling).
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] for a bad parameter, `dim` 0, or `rows` not holding
    /// one or more whole rows; [`DetectorError::NonFinite`] for a NaN or infinite value.
    pub fn fit(
        rows: &[f64],
        dim: usize,
        config: &BatchOcsvmConfig,
    ) -> Result<BatchOcsvm, DetectorError> {
        let mut model = BatchOcsvm::new(dim, config)?;
        model.refit(rows)?;
        Ok(model)
    }

    /// Replaces the model by one fitted on `rows` (row-major, [`dim`](Detector::dim) values
    /// per row), with the same parameters.
    ///
    /// # Errors
    /// As [`fit`](Self::fit); the model is left unchanged.
    pub fn refit(&mut self, rows: &[f64]) -> Result<(), DetectorError> {
        let dim = self.dim;
        let l = check_rows(rows, dim)?;
        let gamma = match self.config.gamma {
            Gamma::Value(gamma) => gamma,
            Gamma::Scale => {
                let var = matrix_variance(rows);
                if var == 0.0 {
                    1.0
                } else {
                    1.0 / (dim as f64 * var)
                }
            }
        };
        if !(gamma > 0.0 && gamma.is_finite()) {
            // Only reachable with "scale" on values so large that their variance overflows.
            return Err(invalid_parameter(
                NAME,
                "gamma",
                "must resolve to a positive finite number (\"scale\" on this data)",
                gamma.to_string(),
            ));
        }
        let solution = solve_one_class(
            rows.to_vec(),
            dim,
            SolveParams {
                nu: self.config.nu,
                gamma,
                tol: self.config.tol,
                shrinking: self.config.shrinking,
                max_iter: self.config.max_iter,
                cache_bytes: self.config.cache_bytes(),
            },
        );
        let support_indices: Vec<usize> =
            (0..l).filter(|i| solution.alpha[*i].abs() > 0.0).collect();
        let dual_coef: Vec<f64> = support_indices.iter().map(|i| solution.alpha[*i]).collect();
        let mut support_vectors = Vec::with_capacity(support_indices.len() * dim);
        for i in &support_indices {
            support_vectors.extend_from_slice(&rows[i * dim..(i + 1) * dim]);
        }
        let blocks = SvBlocks::new(dim, &support_vectors, &dual_coef);
        self.fitted = Some(Fitted {
            gamma,
            rho: solution.rho,
            dual_coef,
            support_vectors,
            support_indices,
            blocks,
            summary: FitSummary {
                n_train: l,
                iterations: solution.iterations,
                converged: solution.converged,
                objective: solution.objective,
            },
        });
        Ok(())
    }

    fn fitted(&self) -> Result<&Fitted, DetectorError> {
        self.fitted
            .as_ref()
            .ok_or_else(|| DetectorError::NotFitted {
                detector: NAME.to_string(),
            })
    }

    /// scikit-learn's `decision_function`: `sum_i a_i exp(-gamma |sv_i - x|^2) - rho`;
    /// positive inside the learned support, negative outside.
    ///
    /// # Errors
    /// Wrong length, a non-finite value, or a model not fitted yet.
    pub fn decision_function(&self, x: &[f64]) -> Result<f64, DetectorError> {
        check_input(NAME, self.dim, x)?;
        let fitted = self.fitted()?;
        Ok(decision(fitted, x))
    }

    /// Whether the model has been fitted (or restored from a fitted snapshot).
    pub fn is_fitted(&self) -> bool {
        self.fitted.is_some()
    }

    /// The parameters.
    pub fn config(&self) -> &BatchOcsvmConfig {
        &self.config
    }

    /// Number of support vectors (0 before the first fit).
    pub fn n_support(&self) -> usize {
        self.fitted.as_ref().map_or(0, |f| f.dual_coef.len())
    }

    /// The offset `rho` of the decision function (scikit-learn's `offset_`, minus its
    /// `intercept_`), or `None` before the first fit.
    pub fn rho(&self) -> Option<f64> {
        self.fitted.as_ref().map(|f| f.rho)
    }

    /// The resolved RBF coefficient, or `None` before the first fit.
    pub fn gamma(&self) -> Option<f64> {
        self.fitted.as_ref().map(|f| f.gamma)
    }

    /// The coefficient `a_i` of each support vector, in (0, 1], summing to `nu * l`
    /// (scikit-learn's `dual_coef_`); empty before the first fit.
    pub fn dual_coef(&self) -> &[f64] {
        self.fitted.as_ref().map_or(&[], |f| &f.dual_coef)
    }

    /// The support vectors, row-major, [`n_support`](Self::n_support) rows of
    /// [`dim`](Detector::dim) values (scikit-learn's `support_vectors_`).
    pub fn support_vectors(&self) -> &[f64] {
        self.fitted.as_ref().map_or(&[], |f| &f.support_vectors)
    }

    /// The index of each support vector among the training rows (scikit-learn's `support_`).
    pub fn support_indices(&self) -> &[usize] {
        self.fitted.as_ref().map_or(&[], |f| &f.support_indices)
    }

    /// How the last fit went, or `None` before the first fit.
    pub fn fit_summary(&self) -> Option<FitSummary> {
        self.fitted.as_ref().map(|f| f.summary)
    }

    /// Writes the whole state into `w` (used by [`snapshot`](Detector::snapshot) and by
    /// [`ScaledBatchOcsvm`]).
    fn write(&self, w: &mut SnapshotWriter) {
        w.u64(self.dim as u64);
        write_config(w, &self.config);
        match &self.fitted {
            None => w.u64(0),
            Some(f) => {
                w.u64(1);
                w.f64(f.gamma);
                w.f64(f.rho);
                w.f64s(&f.dual_coef);
                w.f64s(&f.support_vectors);
                let indices: Vec<u64> = f.support_indices.iter().map(|i| *i as u64).collect();
                w.u64s(&indices);
                w.u64(f.summary.n_train as u64);
                w.u64(f.summary.iterations);
                w.u64(u64::from(f.summary.converged));
                w.f64(f.summary.objective);
            }
        }
    }

    /// Reads a state written by [`write`](Self::write) for a model of `dim` features.
    fn read(r: &mut SnapshotReader<'_>, dim: usize) -> Result<BatchOcsvm, DetectorError> {
        let got_dim = r.u64()?;
        if got_dim != dim as u64 {
            return Err(snapshot_error(
                NAME,
                format!("a model of {got_dim} features, expected {dim}"),
            ));
        }
        let config = read_config(r)?;
        config
            .validate()
            .map_err(|e| snapshot_error(NAME, format!("invalid parameters: {e}")))?;
        let fitted = match r.u64()? {
            0 => None,
            1 => {
                let gamma = r.f64()?;
                let rho = r.f64()?;
                let dual_coef = r.f64s()?;
                let support_vectors = r.f64s()?;
                let indices = r.u64s()?;
                let n_train = r.u64()?;
                let iterations = r.u64()?;
                let converged = r.u64()?;
                let objective = r.f64()?;
                if support_vectors.len() != dual_coef.len() * dim
                    || indices.len() != dual_coef.len()
                {
                    return Err(snapshot_error(
                        NAME,
                        format!(
                            "{} coefficients, {} support-vector values and {} indices do not agree for dim {dim}",
                            dual_coef.len(),
                            support_vectors.len(),
                            indices.len()
                        ),
                    ));
                }
                if !(gamma > 0.0 && gamma.is_finite() && rho.is_finite())
                    || dual_coef
                        .iter()
                        .chain(&support_vectors)
                        .any(|v| !v.is_finite())
                {
                    return Err(snapshot_error(
                        NAME,
                        "a non-finite or non-positive model value",
                    ));
                }
                let n_train = usize::try_from(n_train).map_err(|_| {
                    snapshot_error(NAME, format!("{n_train} training rows is too many"))
                })?;
                let support_indices = indices
                    .iter()
                    .map(|i| usize::try_from(*i).ok().filter(|i| *i < n_train))
                    .collect::<Option<Vec<usize>>>()
                    .ok_or_else(|| {
                        snapshot_error(
                            NAME,
                            format!("a support index beyond the {n_train} training rows"),
                        )
                    })?;
                let blocks = SvBlocks::new(dim, &support_vectors, &dual_coef);
                Some(Fitted {
                    gamma,
                    rho,
                    dual_coef,
                    support_vectors,
                    support_indices,
                    blocks,
                    summary: FitSummary {
                        n_train,
                        iterations,
                        converged: converged != 0,
                        objective,
                    },
                })
            }
            other => {
                return Err(snapshot_error(
                    NAME,
                    format!("fitted flag {other} is neither 0 nor 1"),
                ));
            }
        };
        Ok(BatchOcsvm {
            dim,
            config,
            fitted,
        })
    }
}

/// The decision function on a checked `x`: each kernel from the squared distance summed
/// feature by feature, as libsvm's `predict_values`; the support vectors are taken
/// [`kernel::LANES`] at a time, and the kernels summed in that many partial sums.
fn decision(fitted: &Fitted, x: &[f64]) -> f64 {
    fitted.blocks.kernel_sum(fitted.gamma, x) - fitted.rho
}

fn write_config(w: &mut SnapshotWriter, config: &BatchOcsvmConfig) {
    w.f64(config.nu);
    match config.gamma {
        Gamma::Scale => {
            w.u64(0);
            w.f64(0.0);
        }
        Gamma::Value(gamma) => {
            w.u64(1);
            w.f64(gamma);
        }
    }
    w.f64(config.tol);
    w.u64(u64::from(config.shrinking));
    w.f64(config.cache_mb);
    match config.max_iter {
        None => {
            w.u64(0);
            w.u64(0);
        }
        Some(cap) => {
            w.u64(1);
            w.u64(cap);
        }
    }
}

fn read_config(r: &mut SnapshotReader<'_>) -> Result<BatchOcsvmConfig, DetectorError> {
    let nu = r.f64()?;
    let gamma_kind = r.u64()?;
    let gamma_value = r.f64()?;
    let tol = r.f64()?;
    let shrinking = r.u64()? != 0;
    let cache_mb = r.f64()?;
    let has_cap = r.u64()?;
    let cap = r.u64()?;
    Ok(BatchOcsvmConfig {
        nu,
        gamma: if gamma_kind == 0 {
            Gamma::Scale
        } else {
            Gamma::Value(gamma_value)
        },
        tol,
        shrinking,
        cache_mb,
        max_iter: (has_cap != 0).then_some(cap),
        // Only a fit uses it, and the fitted scaler carries its effect: not stored.
        min_scale: 0.0,
    })
}

impl Detector for BatchOcsvm {
    fn name(&self) -> &str {
        NAME
    }

    fn dim(&self) -> usize {
        self.dim
    }

    /// Checks `x` and changes nothing: a batch model learns only by a new fit
    /// ([`BatchOcsvm::refit`]).
    fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
        check_input(NAME, self.dim, x)
    }

    /// `-decision_function(x)`: higher is more anomalous; positive outside the learned support.
    fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError> {
        self.decision_function(x).map(|d| -d)
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(TAG, VERSION);
        self.write(&mut w);
        w.finish()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let mut r = SnapshotReader::new(NAME, bytes, TAG, VERSION)?;
        let restored = BatchOcsvm::read(&mut r, self.dim)?;
        r.end()?;
        *self = restored;
        Ok(())
    }
}
