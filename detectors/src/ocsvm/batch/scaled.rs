//! The batch OCSVM behind a batch standard scaler fitted on the same rows, as scikit-learn's
//! `make_pipeline(StandardScaler(), OneClassSVM())` does.

use super::kernel::Pivot;
use super::{BatchOcsvm, BatchOcsvmConfig, FitSummary, NAME, check_rows};
use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::snapshot_error;
use crate::{Detector, DetectorError, check_input};

/// Snapshot tag of [`ScaledBatchOcsvm`].
const TAG: [u8; 4] = *b"OCSS";
/// Snapshot format version of [`ScaledBatchOcsvm`].
const VERSION: u16 = 1;

/// Standardisation by the mean and population standard deviation of a batch of rows,
/// computed as scikit-learn's `StandardScaler.fit` computes them. A feature that is constant
/// over the batch (variance within rounding of 0) gets scale 1: it is only centred.
///
/// Unlike [`crate::scale::StandardScaler`] (River's streaming scaler), it does not change
/// after [`fit`](Self::fit).
///
/// ```
/// use vigil_detectors::ocsvm::batch::BatchStandardScaler;
/// let scaler = BatchStandardScaler::fit(&[1.0, 5.0, 3.0, 5.0], 2)?;
/// assert_eq!(scaler.mean(), &[2.0, 5.0]);
/// assert_eq!(scaler.scale(), &[1.0, 1.0]); // the second feature is constant
/// let mut out = [0.0; 2];
/// scaler.transform(&[4.0, 7.0], &mut out);
/// assert_eq!(out, [2.0, 2.0]);
/// # Ok::<(), vigil_detectors::DetectorError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStandardScaler {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl BatchStandardScaler {
    /// Fits on `rows` (row-major, `dim` values per row).
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] for `dim` 0 or `rows` not holding one or more whole
    /// rows; [`DetectorError::NonFinite`] for a NaN or infinite value.
    pub fn fit(rows: &[f64], dim: usize) -> Result<BatchStandardScaler, DetectorError> {
        let l = check_rows(rows, dim)?;
        let n = l as f64;
        // Column sums row after row, as numpy reduces over axis 0.
        let mut sum = vec![0.0; dim];
        for row in rows.chunks_exact(dim) {
            for (s, v) in sum.iter_mut().zip(row) {
                *s += v;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        // Sum of squared deviations less the square of the summed deviations (which is 0
        // in exact arithmetic): scikit-learn's correction for the rounding of the mean.
        let mut correction = vec![0.0; dim];
        let mut squares = vec![0.0; dim];
        for row in rows.chunks_exact(dim) {
            for (((c, s), v), m) in correction
                .iter_mut()
                .zip(squares.iter_mut())
                .zip(row)
                .zip(&mean)
            {
                let d = v - m;
                *c += d;
                *s += d * d;
            }
        }
        let eps = f64::EPSILON;
        let scale = squares
            .iter()
            .zip(&correction)
            .zip(&mean)
            .map(|((s, c), m)| {
                let var = (s - c * c / n) / n;
                let constant_bound = n * eps * var + (n * m * eps) * (n * m * eps);
                if var <= constant_bound {
                    1.0
                } else {
                    var.sqrt()
                }
            })
            .collect();
        Ok(BatchStandardScaler { mean, scale })
    }

    /// Number of features.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Per-feature mean.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature divisor: the population standard deviation, or 1 for a constant feature.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Writes `(x - mean) / scale` per feature into `out`.
    pub fn transform(&self, x: &[f64], out: &mut [f64]) {
        for (((o, v), m), s) in out.iter_mut().zip(x).zip(&self.mean).zip(&self.scale) {
            *o = (v - m) / s;
        }
    }

    /// Transforms row-major `rows` into a new matrix.
    pub fn transform_rows(&self, rows: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; rows.len()];
        let dim = self.dim().max(1);
        for (x, o) in rows.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
            self.transform(x, o);
        }
        out
    }
}

/// A [`BatchOcsvm`] fitted on standard-scaled rows, scaling every vector it scores the same
/// way: the batch OCSVM as `vigil eval --detector ocsvm` and the pool run it. With
/// [`Gamma::Scale`](super::Gamma::Scale), gamma comes from the variance of the *scaled*
/// training matrix.
///
/// ```
/// use vigil_detectors::Detector;
/// use vigil_detectors::ocsvm::batch::{BatchOcsvmConfig, ScaledBatchOcsvm};
///
/// // Two features on very different scales: bytes and a duration in seconds.
/// let rows: Vec<f64> = (0..100)
///     .flat_map(|i| [1000.0 + 50.0 * f64::from(i % 10), 0.5 + 0.01 * f64::from(i % 7)])
///     .collect();
/// let model = ScaledBatchOcsvm::fit(&rows, 2, &BatchOcsvmConfig::default())?;
/// assert!(model.score_one(&[1200.0, 9.0])? > model.score_one(&[1200.0, 0.53])?);
/// # Ok::<(), vigil_detectors::DetectorError>(())
/// ```
///
/// Scoring does not scale the row first: it works from the row's differences to a pivot row
/// the support vectors share most values with, so that it costs one multiply-add per
/// support vector for each feature that differs (on sparse rows of flags and counts, a few of
/// them), instead of one per feature. The result is the model's score of the scaled row up to
/// rounding (within about 1e-14 relative).
#[derive(Debug, Clone, PartialEq)]
pub struct ScaledBatchOcsvm {
    scaler: Option<BatchStandardScaler>,
    model: BatchOcsvm,
    /// Derived from the fitted model, not stored.
    pub(super) pivot: Option<Pivot>,
}

impl ScaledBatchOcsvm {
    /// An unfitted model for `dim` features.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] for a bad parameter or `dim` 0.
    pub fn new(dim: usize, config: &BatchOcsvmConfig) -> Result<ScaledBatchOcsvm, DetectorError> {
        Ok(ScaledBatchOcsvm {
            scaler: None,
            model: BatchOcsvm::new(dim, config)?,
            pivot: None,
        })
    }

    /// Fits the scaler, then the model on the scaled `rows` (row-major, `dim` values per row).
    ///
    /// # Errors
    /// As [`BatchOcsvm::fit`].
    pub fn fit(
        rows: &[f64],
        dim: usize,
        config: &BatchOcsvmConfig,
    ) -> Result<ScaledBatchOcsvm, DetectorError> {
        let mut model = ScaledBatchOcsvm::new(dim, config)?;
        model.refit(rows)?;
        Ok(model)
    }

    /// Replaces scaler and model by ones fitted on `rows`.
    ///
    /// # Errors
    /// As [`BatchOcsvm::fit`]; the model is left unchanged.
    pub fn refit(&mut self, rows: &[f64]) -> Result<(), DetectorError> {
        let mut scaler = BatchStandardScaler::fit(rows, self.model.dim)?;
        let floor = self.model.config().min_scale;
        if floor > 0.0 {
            for scale in &mut scaler.scale {
                *scale = scale.max(floor);
            }
        }
        let scaled = scaler.transform_rows(rows);
        let mut model = self.model.clone();
        model.refit(&scaled)?;
        self.pivot = pivot_of(&model);
        self.scaler = Some(scaler);
        self.model = model;
        Ok(())
    }

    /// The fitted scaler, or `None` before the first fit.
    pub fn scaler(&self) -> Option<&BatchStandardScaler> {
        self.scaler.as_ref()
    }

    /// The model, which works on scaled vectors.
    pub fn model(&self) -> &BatchOcsvm {
        &self.model
    }

    /// How the last fit went, or `None` before the first fit.
    pub fn fit_summary(&self) -> Option<FitSummary> {
        self.model.fit_summary()
    }

    /// The model's decision function on `x` after scaling; positive inside the learned
    /// support, negative outside.
    ///
    /// # Errors
    /// Wrong length, a non-finite value, or a model not fitted yet.
    pub fn decision_function(&self, x: &[f64]) -> Result<f64, DetectorError> {
        let dim = self.model.dim;
        check_input(NAME, dim, x)?;
        let (Some(scaler), Some(pivot), Some(fitted)) =
            (&self.scaler, &self.pivot, &self.model.fitted)
        else {
            return Err(DetectorError::NotFitted {
                detector: NAME.to_string(),
            });
        };
        match pivot.kernel_sum(&fitted.blocks, fitted.gamma, x, &scaler.mean, &scaler.scale) {
            Some(sum) => Ok(sum - fitted.rho),
            None => {
                // A row so far out that the pivoted form could overflow: scale it first.
                let mut scaled = vec![0.0; dim];
                scaler.transform(x, &mut scaled);
                self.model.decision_function(&scaled)
            }
        }
    }
}

/// The pivot of a fitted model.
fn pivot_of(model: &BatchOcsvm) -> Option<Pivot> {
    model
        .fitted
        .as_ref()
        .map(|f| Pivot::new(&f.blocks, f.dual_coef.len()))
}

impl Detector for ScaledBatchOcsvm {
    fn name(&self) -> &str {
        NAME
    }

    fn dim(&self) -> usize {
        self.model.dim
    }

    /// Checks `x` and changes nothing: a batch model learns only by a new fit
    /// ([`ScaledBatchOcsvm::refit`]).
    fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
        check_input(NAME, self.model.dim, x)
    }

    /// `-decision_function(x)`: higher is more anomalous.
    fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError> {
        self.decision_function(x).map(|d| -d)
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(TAG, VERSION);
        match &self.scaler {
            None => w.u64(0),
            Some(s) => {
                w.u64(1);
                w.f64s(&s.mean);
                w.f64s(&s.scale);
            }
        }
        self.model.write(&mut w);
        w.finish()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let dim = self.model.dim;
        let mut r = SnapshotReader::new(NAME, bytes, TAG, VERSION)?;
        let scaler = match r.u64()? {
            0 => None,
            1 => {
                let mean = r.f64s()?;
                let scale = r.f64s()?;
                if mean.len() != dim || scale.len() != dim {
                    return Err(snapshot_error(
                        NAME,
                        format!("a scaler of {} features, expected {dim}", mean.len()),
                    ));
                }
                if mean.iter().any(|v| !v.is_finite())
                    || scale.iter().any(|v| !(v.is_finite() && *v > 0.0))
                {
                    return Err(snapshot_error(
                        NAME,
                        "a non-finite mean or a non-positive scale",
                    ));
                }
                Some(BatchStandardScaler { mean, scale })
            }
            other => {
                return Err(snapshot_error(
                    NAME,
                    format!("scaler flag {other} is neither 0 nor 1"),
                ));
            }
        };
        let model = BatchOcsvm::read(&mut r, dim)?;
        r.end()?;
        if scaler.is_some() != model.is_fitted() {
            return Err(snapshot_error(
                NAME,
                "scaler and model disagree on being fitted",
            ));
        }
        self.pivot = pivot_of(&model);
        self.scaler = scaler;
        self.model = model;
        Ok(())
    }
}
