//! The seams every model and drift detector implements.

/// A detector failure caused by its input, its parameters or a snapshot.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectorError {
    /// A feature vector of the wrong length.
    #[error("{detector}: expected {expected} features, got {got}")]
    DimensionMismatch {
        /// The detector's name.
        detector: String,
        /// Its dimension.
        expected: usize,
        /// The length passed in.
        got: usize,
    },
    /// A NaN or infinite feature. Detectors refuse them instead of learning garbage.
    #[error("{detector}: feature {index} is {value}, not a finite number")]
    NonFinite {
        /// The detector's name.
        detector: String,
        /// Index of the offending feature.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A parameter out of range, named with its value.
    #[error("{detector}: parameter {name} {requirement}, got {value}")]
    InvalidParameter {
        /// The detector's name.
        detector: String,
        /// The parameter.
        name: &'static str,
        /// What it must be.
        requirement: &'static str,
        /// The rejected value, as written.
        value: String,
    },
    /// A snapshot that is not this detector's, or from an unknown format version, or cut short.
    #[error("{detector}: cannot restore snapshot: {reason}")]
    Snapshot {
        /// The detector's name.
        detector: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The model cannot score yet (a batch model before its first fit).
    #[error("{detector}: not fitted yet")]
    NotFitted {
        /// The detector's name.
        detector: String,
    },
}

/// An anomaly detector over fixed-length feature vectors. Higher scores are more anomalous;
/// thresholds and calibration live elsewhere.
///
/// Object safe: the pool holds `Box<dyn Detector>`. Batches are row-major: `xs` holds
/// `out.len()` rows of [`dim`](Detector::dim) values.
///
/// ```
/// use vigil_detectors::{check_input, Detector, DetectorError};
///
/// /// Distance from the running mean: a toy detector to show the contract.
/// struct MeanDistance { n: f64, mean: f64 }
///
/// impl Detector for MeanDistance {
///     fn name(&self) -> &str { "mean-distance" }
///     fn dim(&self) -> usize { 1 }
///     fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
///         check_input(self.name(), 1, x)?;
///         self.n += 1.0;
///         self.mean += (x[0] - self.mean) / self.n;
///         Ok(())
///     }
///     fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError> {
///         check_input(self.name(), 1, x)?;
///         Ok((x[0] - self.mean).abs())
///     }
///     fn snapshot(&self) -> Vec<u8> { [self.n.to_le_bytes(), self.mean.to_le_bytes()].concat() }
///     fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
///         let bad = || DetectorError::Snapshot { detector: "mean-distance".into(), reason: "16 bytes expected".into() };
///         let (n, mean) = bytes.split_at_checked(8).ok_or_else(bad)?;
///         self.n = f64::from_le_bytes(n.try_into().map_err(|_| bad())?);
///         self.mean = f64::from_le_bytes(mean.try_into().map_err(|_| bad())?);
///         Ok(())
///     }
/// }
///
/// let mut d = MeanDistance { n: 0.0, mean: 0.0 };
/// let xs = [1.0, 1.0, 1.0, 9.0];
/// let mut scores = [0.0; 4];
/// d.score_learn_many(&xs, &mut scores)?;
/// assert_eq!(scores, [1.0, 0.0, 0.0, 8.0]);
/// # Ok::<(), DetectorError>(())
/// ```
pub trait Detector: Send {
    /// A short, stable name (`hst`, `online-ocsvm`, `ocsvm`, `plugin:loda`).
    fn name(&self) -> &str;

    /// Length of the feature vectors it takes.
    fn dim(&self) -> usize;

    /// Learns one vector.
    ///
    /// # Errors
    /// Wrong length or a non-finite value; the model is left unchanged.
    fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError>;

    /// Scores one vector without learning it; higher is more anomalous.
    ///
    /// # Errors
    /// Wrong length, a non-finite value, or a batch model not fitted yet.
    fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError>;

    /// Scores `out.len()` rows of `xs` without learning them.
    ///
    /// # Errors
    /// As [`score_one`](Detector::score_one), or `xs` not holding `out.len()` rows.
    fn score_many(&self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        check_batch(self.name(), self.dim(), xs, out.len())?;
        for (x, score) in xs.chunks_exact(self.dim().max(1)).zip(out.iter_mut()) {
            *score = self.score_one(x)?;
        }
        Ok(())
    }

    /// For each row in order: scores it into `out`, then learns it. The result is the same
    /// as that loop; implementations may only make it faster.
    ///
    /// # Errors
    /// As [`score_one`](Detector::score_one); rows before the bad one have been scored
    /// and learned.
    fn score_learn_many(&mut self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        check_batch(self.name(), self.dim(), xs, out.len())?;
        let dim = self.dim().max(1);
        for (x, score) in xs.chunks_exact(dim).zip(out.iter_mut()) {
            *score = self.score_one(x)?;
            self.learn_one(x)?;
        }
        Ok(())
    }

    /// The model's whole state as versioned bytes (see [`crate::codec`]).
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the model's state with a snapshot taken by the same kind of detector.
    ///
    /// # Errors
    /// A snapshot of another detector or version, or a corrupt one; the model is left unchanged.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError>;
}

/// Checks that `xs` holds exactly `rows` rows of `dim` values.
///
/// # Errors
/// [`DetectorError::DimensionMismatch`] naming the detector.
pub fn check_batch(name: &str, dim: usize, xs: &[f64], rows: usize) -> Result<(), DetectorError> {
    if xs.len() != rows * dim {
        return Err(DetectorError::DimensionMismatch {
            detector: name.to_string(),
            expected: rows * dim,
            got: xs.len(),
        });
    }
    Ok(())
}

/// Checks one vector: length `dim`, every value finite.
///
/// ```
/// use vigil_detectors::{check_input, DetectorError};
/// assert!(check_input("hst", 2, &[0.5, 1.0]).is_ok());
/// assert!(matches!(check_input("hst", 2, &[0.5]), Err(DetectorError::DimensionMismatch { .. })));
/// assert!(matches!(check_input("hst", 2, &[0.5, f64::NAN]), Err(DetectorError::NonFinite { index: 1, .. })));
/// ```
///
/// # Errors
/// [`DetectorError::DimensionMismatch`] or [`DetectorError::NonFinite`], naming the detector.
pub fn check_input(name: &str, dim: usize, x: &[f64]) -> Result<(), DetectorError> {
    if x.len() != dim {
        return Err(DetectorError::DimensionMismatch {
            detector: name.to_string(),
            expected: dim,
            got: x.len(),
        });
    }
    if let Some((index, value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DetectorError::NonFinite {
            detector: name.to_string(),
            index,
            value: *value,
        });
    }
    Ok(())
}

/// Checks a batch and each of its rows, and writes `score(row)` for each row into `out`, in
/// order: what every model's `score_many` and `score_learn_many` do around their own per-row
/// step. `score` sees only checked rows.
///
/// # Errors
/// [`DetectorError::DimensionMismatch`] when `xs` does not hold `out.len()` rows of `dim`
/// values (nothing is scored), or the first row's error from [`check_input`] (the rows before
/// it have been scored).
// Always inlined: it is the per-row loop of the models' batch calls, and the model's step
// must be inlined into it as into the loop each model once wrote by hand.
#[inline(always)]
pub(crate) fn score_checked_rows(
    name: &str,
    dim: usize,
    xs: &[f64],
    out: &mut [f64],
    mut score: impl FnMut(&[f64]) -> f64,
) -> Result<(), DetectorError> {
    check_batch(name, dim, xs, out.len())?;
    for (x, slot) in xs.chunks_exact(dim.max(1)).zip(out.iter_mut()) {
        check_input(name, dim, x)?;
        *slot = score(x);
    }
    Ok(())
}

/// A [`DetectorError::InvalidParameter`] for `detector`.
pub(crate) fn invalid_parameter(
    detector: &str,
    name: &'static str,
    requirement: &'static str,
    value: impl std::fmt::Display,
) -> DetectorError {
    DetectorError::InvalidParameter {
        detector: detector.to_string(),
        name,
        requirement,
        value: value.to_string(),
    }
}

/// A [`DetectorError::Snapshot`] for `detector`.
pub(crate) fn snapshot_error(detector: &str, reason: impl Into<String>) -> DetectorError {
    DetectorError::Snapshot {
        detector: detector.to_string(),
        reason: reason.into(),
    }
}

/// A change detector over a stream of numbers (an error stream, or scores).
///
/// ```
/// use vigil_detectors::DriftDetector;
/// fn feed(d: &mut dyn DriftDetector, xs: &[f64]) -> Vec<usize> {
///     xs.iter().enumerate().filter_map(|(i, x)| d.update(*x).then_some(i)).collect()
/// }
/// # let _ = feed;
/// ```
pub trait DriftDetector: Send {
    /// Adds one value; true when a change was detected at this value.
    fn update(&mut self, x: f64) -> bool;

    /// The current estimate of the stream's mean.
    fn estimation(&self) -> f64;

    /// How many values the current estimate rests on.
    fn width(&self) -> usize;
}
