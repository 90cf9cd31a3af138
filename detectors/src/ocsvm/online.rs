//! Online nu-One-Class SVM: stochastic gradient descent on the primal problem, over random
//! Fourier features that approximate the RBF kernel, behind a streaming standard scaler.
//!
//! Schölkopf's nu-One-Class SVM finds the hyperplane `<w, phi(x)> = rho` that separates the
//! data from the origin with maximum margin, allowing a fraction of about `nu` of the points on
//! the wrong side:
//!
//! ```text
//! minimise over (w, rho):  1/2 ||w||²  +  1/(nu n) Σ max(0, rho - <w, phi(x_i)>)  -  rho
//! ```
//!
//! [`OnlineOcsvm`] takes one stochastic gradient step per learned event, exactly as
//! scikit-learn's `SGDOneClassSVM.partial_fit` does (same regularisation `alpha = nu / 2`, same
//! hinge sub-gradient, same offset update, same learning-rate schedules and averaging). Its
//! regulariser is half the one written above, so its optimum is that problem's `(w, rho)`
//! multiplied by 2: the same hyperplane, the same ranking of events, scores twice as large.
//!
//! The kernel is approximated with `D` random Fourier features, `phi(x) = sqrt(2/D) cos(Wx + b)`
//! with `W ~ N(0, 2 gamma I)` and `b ~ U[0, 2 pi)`, so learning and scoring cost `O(D d)` per
//! event for `d` features, whatever the length of the stream.
//!
//! The score is `rho - <w, phi(x)>`, scikit-learn's `-decision_function`: positive outside the
//! learned support (an outlier at the current threshold), negative inside, higher = more
//! anomalous.

mod rff;

use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::{invalid_parameter, score_checked_rows, snapshot_error};
use crate::scale::StandardScaler;
use crate::{Detector, DetectorError, check_input};
use rff::RandomFourierFeatures;

/// The name the detector reports (and puts in its errors).
pub const NAME: &str = "online-ocsvm";

const SNAPSHOT_TAG: [u8; 4] = *b"OOCS";
const SNAPSHOT_VERSION: u16 = 1;

/// Largest accepted `n_components`: the feature map holds `n_components x dim` numbers and
/// every event costs that many multiplications, so larger values are a configuration mistake.
pub const MAX_COMPONENTS: usize = 65_536;

/// How the step size `eta_t` of the `t`-th learned event (counting from 1) shrinks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LearningRate {
    /// scikit-learn's `"optimal"` schedule (its default), `eta_t = 1 / (alpha (t0 + t - 1))`
    /// with `alpha = nu / 2`, `t0 = alpha^(-3/4)`, so the first step is `alpha^(-1/4)`
    /// (about 2.1 at nu 0.1). The step decays as `1 / (alpha t)`, the rate that suits the
    /// strongly convex objective; no parameter to tune.
    Optimal,
    /// scikit-learn's `"invscaling"`: `eta_t = eta0 / t^power_t`.
    InvScaling {
        /// Initial step, finite and greater than 0 (scikit-learn has no default; 0.01 is common).
        eta0: f64,
        /// Decay exponent, finite and at least 0 (scikit-learn's default 0.5).
        power_t: f64,
    },
    /// A constant step `eta0` (finite, greater than 0): forgets old data at a steady rate.
    Constant {
        /// The step.
        eta0: f64,
    },
}

/// Parameters of [`OnlineOcsvm`]. `Default` gives the documented defaults.
///
/// ```
/// use vigil_detectors::ocsvm::{OnlineOcsvm, OnlineOcsvmConfig};
/// let config = OnlineOcsvmConfig { nu: 0.05, seed: 7, ..OnlineOcsvmConfig::default() };
/// let model = OnlineOcsvm::new(4, config)?;
/// assert_eq!(model.gamma(), 0.25); // 1 / n_features by default
/// # Ok::<(), vigil_detectors::DetectorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnlineOcsvmConfig {
    /// Upper bound on the fraction of learned events left outside the support (scored above 0),
    /// and lower bound on the fraction of support vectors; in (0, 1]. Default 0.1.
    pub nu: f64,
    /// RBF kernel width `gamma` in `exp(-gamma ||x - y||²)`, on standardised features, finite
    /// and greater than 0. Default `None`: `1 / n_features`, which is scikit-learn's `"scale"`
    /// (`1 / (n_features Var(X))`) on standardised data, where the variance is 1.
    pub gamma: Option<f64>,
    /// Number `D` of random Fourier features, 1 to [`MAX_COMPONENTS`]. Default 200: the
    /// kernel approximation error shrinks as `1 / sqrt(D)`, the cost grows as `D`.
    pub n_components: usize,
    /// Step-size schedule. Default [`LearningRate::Optimal`].
    pub learning_rate: LearningRate,
    /// Averaged SGD: `Some(n)` scores with the running mean of the weights and offset over the
    /// updates from the `n`-th learned event on (scikit-learn's `average=n`; `Some(1)` is its
    /// `average=True`), at least 1. Smoother scores, slower to follow drift. Default `None`.
    pub average: Option<u64>,
    /// Seed of the random Fourier features. Default 0.
    pub seed: u64,
}

impl Default for OnlineOcsvmConfig {
    fn default() -> Self {
        OnlineOcsvmConfig {
            nu: 0.1,
            gamma: None,
            n_components: 200,
            learning_rate: LearningRate::Optimal,
            average: None,
            seed: 0,
        }
    }
}

impl OnlineOcsvmConfig {
    /// Checks every parameter for a model of `dim` features.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] naming the first bad value.
    pub fn validate(&self, dim: usize) -> Result<(), DetectorError> {
        if dim == 0 {
            return Err(invalid_parameter(
                NAME,
                "dim",
                "must be at least 1",
                dim.to_string(),
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
        if let Some(gamma) = self.gamma
            && !(gamma > 0.0 && gamma.is_finite())
        {
            return Err(invalid_parameter(
                NAME,
                "gamma",
                "must be finite and greater than 0",
                gamma.to_string(),
            ));
        }
        if !(1..=MAX_COMPONENTS).contains(&self.n_components) {
            return Err(invalid_parameter(
                NAME,
                "n_components",
                "must be between 1 and 65536",
                self.n_components.to_string(),
            ));
        }
        match self.learning_rate {
            LearningRate::Optimal => {}
            LearningRate::InvScaling { eta0, power_t } => {
                check_eta0(eta0)?;
                if !(power_t >= 0.0 && power_t.is_finite()) {
                    return Err(invalid_parameter(
                        NAME,
                        "power_t",
                        "must be finite and at least 0",
                        power_t.to_string(),
                    ));
                }
            }
            LearningRate::Constant { eta0 } => check_eta0(eta0)?,
        }
        if self.average == Some(0) {
            return Err(invalid_parameter(
                NAME,
                "average",
                "must be at least 1 (None turns averaging off)",
                "0".to_string(),
            ));
        }
        Ok(())
    }
}

fn check_eta0(eta0: f64) -> Result<(), DetectorError> {
    if eta0 > 0.0 && eta0.is_finite() {
        Ok(())
    } else {
        Err(invalid_parameter(
            NAME,
            "eta0",
            "must be finite and greater than 0",
            eta0.to_string(),
        ))
    }
}

/// Online nu-One-Class SVM on random Fourier features with a streaming standard scaler in
/// front (see the [module documentation](self)).
///
/// Learning updates the scaler first, then takes one gradient step on the event standardised
/// with the updated statistics; scoring standardises with the statistics as they are. Before
/// the first event is learned every score is 0. NaN or infinite features are refused with
/// [`DetectorError::NonFinite`] (and the model is left unchanged), as is a vector of the wrong
/// length.
///
/// ```
/// use vigil_detectors::Detector;
/// use vigil_detectors::ocsvm::{OnlineOcsvm, OnlineOcsvmConfig};
///
/// let mut model = OnlineOcsvm::new(2, OnlineOcsvmConfig::default())?;
/// // A ring of normal traffic around (10, 10) in a 2-feature space.
/// for i in 0..2_000 {
///     let angle = i as f64 * 0.37;
///     model.learn_one(&[10.0 + angle.cos(), 10.0 + angle.sin()])?;
/// }
/// let inside = model.score_one(&[10.0, 11.0])?;
/// let far_away = model.score_one(&[25.0, -5.0])?;
/// assert!(far_away > inside);
/// assert!(model.score_one(&[f64::NAN, 1.0]).is_err());
/// # Ok::<(), vigil_detectors::DetectorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnlineOcsvm {
    config: OnlineOcsvmConfig,
    dim: usize,
    gamma: f64,
    features: RandomFourierFeatures,
    scaler: StandardScaler,
    weights: Vec<f64>,
    offset: f64,
    averaged_weights: Vec<f64>,
    averaged_offset: f64,
    /// Number of events learned.
    learned: u64,
    /// Buffers reused between calls; not part of the model's state.
    scratch: Scratch,
}

#[derive(Debug, Clone, Default)]
struct Scratch {
    scaled: Vec<f64>,
    mapped: Vec<f64>,
}

impl OnlineOcsvm {
    /// A model of `dim` features that has learned nothing.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] naming the first bad parameter.
    pub fn new(dim: usize, config: OnlineOcsvmConfig) -> Result<OnlineOcsvm, DetectorError> {
        config.validate(dim)?;
        let gamma = config.gamma.unwrap_or(1.0 / dim as f64);
        let features = RandomFourierFeatures::sample(dim, config.n_components, gamma, config.seed);
        Ok(Self::from_parts(dim, config, gamma, features))
    }

    fn from_parts(
        dim: usize,
        config: OnlineOcsvmConfig,
        gamma: f64,
        features: RandomFourierFeatures,
    ) -> OnlineOcsvm {
        let n = config.n_components;
        OnlineOcsvm {
            config,
            dim,
            gamma,
            features,
            scaler: StandardScaler::new(dim),
            weights: vec![0.0; n],
            offset: 0.0,
            averaged_weights: vec![0.0; n],
            averaged_offset: 0.0,
            learned: 0,
            scratch: Scratch {
                scaled: vec![0.0; dim],
                mapped: vec![0.0; n],
            },
        }
    }

    /// The parameters it was built with.
    pub fn config(&self) -> &OnlineOcsvmConfig {
        &self.config
    }

    /// The kernel width in use (the configured one, or `1 / dim`).
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// Number of events learned so far.
    pub fn learned(&self) -> u64 {
        self.learned
    }

    /// The current offset `rho` (the averaged one once averaging has started): events with
    /// `<w, phi(x)>` below it score above 0.
    pub fn offset(&self) -> f64 {
        self.model().1
    }

    /// Weights and offset used for scoring: the averaged ones once averaging has started.
    fn model(&self) -> (&[f64], f64) {
        match self.config.average {
            Some(start) if self.learned >= start => (&self.averaged_weights, self.averaged_offset),
            _ => (&self.weights, self.offset),
        }
    }

    /// Score of an already mapped event: `rho - <w, phi>`.
    fn score_mapped(&self, mapped: &[f64]) -> f64 {
        let (weights, offset) = self.model();
        offset - dot(weights, mapped)
    }

    /// Step size for the `t`-th learned event (`t` from 1), as scikit-learn computes it.
    fn step_size(&self, t: f64) -> f64 {
        match self.config.learning_rate {
            LearningRate::Optimal => {
                let alpha = self.alpha();
                // scikit-learn starts the schedule so that its first step is the "typical"
                // weight scale alpha^(-1/4) divided by the hinge loss's gradient bound of 1.
                let first_step = alpha.sqrt().sqrt().recip();
                let t0 = 1.0 / (first_step * alpha);
                1.0 / (alpha * (t0 + t - 1.0))
            }
            LearningRate::InvScaling { eta0, power_t } => eta0 / t.powf(power_t),
            LearningRate::Constant { eta0 } => eta0,
        }
    }

    /// scikit-learn's L2 regularisation strength for the one-class problem.
    fn alpha(&self) -> f64 {
        self.config.nu / 2.0
    }

    /// Learns `x`, already checked. Uses both scratch buffers.
    fn learn_checked(&mut self, x: &[f64]) {
        self.learned += 1;
        let eta = self.step_size(self.learned as f64);
        let alpha = self.alpha();
        self.scaler.learn_one(x);
        let Scratch { scaled, mapped } = &mut self.scratch;
        self.scaler.transform(x, scaled);
        self.features.map(scaled, mapped);

        // Hinge sub-gradient: the event pulls w towards phi(x) when it lies on or below the
        // hyperplane (scikit-learn's `p <= 1` with intercept 1 - rho).
        let violated = dot(&self.weights, mapped) <= self.offset;
        let decay = (1.0 - eta * alpha).max(0.0);
        let pull = if violated { eta } else { 0.0 };
        for (w, p) in self.weights.iter_mut().zip(mapped.iter()) {
            *w = decay * *w + pull * p;
        }
        // d/d rho of (hinge - nu rho) is violated - nu: too many violations lower rho.
        self.offset -= eta * (if violated { 1.0 } else { 0.0 } - self.config.nu);

        if let Some(start) = self.config.average
            && self.learned >= start
        {
            // Running mean over the `learned - start + 1` updates averaged so far.
            let share = 1.0 / (self.learned - start + 1) as f64;
            for (a, w) in self.averaged_weights.iter_mut().zip(&self.weights) {
                *a += (w - *a) * share;
            }
            self.averaged_offset += (self.offset - self.averaged_offset) * share;
        }
    }

    /// Scores `x`, already checked, with the scratch buffers.
    fn score_checked(&mut self, x: &[f64]) -> f64 {
        let mut scratch = std::mem::take(&mut self.scratch);
        let score = self.score_into(x, &mut scratch.scaled, &mut scratch.mapped);
        self.scratch = scratch;
        score
    }

    /// Scores `x`, already checked: standardised with the statistics as they are into
    /// `scaled` (`dim` values), mapped to the random features into `mapped`
    /// (`n_components`), then `rho - <w, phi>`.
    #[inline]
    fn score_into(&self, x: &[f64], scaled: &mut [f64], mapped: &mut [f64]) -> f64 {
        self.scaler.transform(x, scaled);
        self.features.map(scaled, mapped);
        self.score_mapped(mapped)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four partial sums let the loop vectorise; their order is fixed, so results are
    // reproducible.
    let mut sums = [0.0; 4];
    let mut a_chunks = a.chunks_exact(4);
    let mut b_chunks = b.chunks_exact(4);
    for (x, y) in (&mut a_chunks).zip(&mut b_chunks) {
        for lane in 0..4 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    let tail: f64 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

impl Detector for OnlineOcsvm {
    fn name(&self) -> &str {
        NAME
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
        check_input(NAME, self.dim, x)?;
        self.learn_checked(x);
        Ok(())
    }

    fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError> {
        check_input(NAME, self.dim, x)?;
        let mut scaled = vec![0.0; self.dim];
        let mut mapped = vec![0.0; self.config.n_components];
        Ok(self.score_into(x, &mut scaled, &mut mapped))
    }

    fn score_many(&self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        let mut scaled = vec![0.0; self.dim];
        let mut mapped = vec![0.0; self.config.n_components];
        score_checked_rows(NAME, self.dim, xs, out, |x| {
            self.score_into(x, &mut scaled, &mut mapped)
        })
    }

    fn score_learn_many(&mut self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        let dim = self.dim;
        score_checked_rows(NAME, dim, xs, out, |x| {
            let score = self.score_checked(x);
            self.learn_checked(x);
            score
        })
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(SNAPSHOT_TAG, SNAPSHOT_VERSION);
        w.u64(self.dim as u64);
        w.f64(self.config.nu);
        match self.config.gamma {
            None => w.u64(0),
            Some(gamma) => {
                w.u64(1);
                w.f64(gamma);
            }
        }
        w.u64(self.config.n_components as u64);
        match self.config.learning_rate {
            LearningRate::Optimal => w.u64(0),
            LearningRate::InvScaling { eta0, power_t } => {
                w.u64(1);
                w.f64(eta0);
                w.f64(power_t);
            }
            LearningRate::Constant { eta0 } => {
                w.u64(2);
                w.f64(eta0);
            }
        }
        w.u64(self.config.average.unwrap_or(0));
        w.u64(self.config.seed);
        w.f64(self.gamma);
        // The drawn features are stored, not redrawn from the seed, so a snapshot restores the
        // same model whatever platform or library version draws them.
        w.f64s(self.features.frequencies());
        w.f64s(self.features.phases());
        self.scaler.write(&mut w);
        w.f64s(&self.weights);
        w.f64(self.offset);
        w.f64s(&self.averaged_weights);
        w.f64(self.averaged_offset);
        w.u64(self.learned);
        w.finish()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let restored = read_snapshot(bytes)?;
        if restored.dim != self.dim {
            return Err(snapshot_error(
                NAME,
                format!(
                    "it holds a model of {} features, this one takes {}",
                    restored.dim, self.dim
                ),
            ));
        }
        *self = restored;
        Ok(())
    }
}

/// Decodes a whole snapshot into a fresh model, checking every length and parameter, so a
/// bad snapshot leaves the model it was meant for untouched.
fn read_snapshot(bytes: &[u8]) -> Result<OnlineOcsvm, DetectorError> {
    let mut r = SnapshotReader::new(NAME, bytes, SNAPSHOT_TAG, SNAPSHOT_VERSION)?;
    let dim = read_usize(&mut r, "dimension")?;
    let nu = r.f64()?;
    let gamma = match r.u64()? {
        0 => None,
        1 => Some(r.f64()?),
        other => {
            return Err(snapshot_error(
                NAME,
                format!("unknown gamma marker {other}"),
            ));
        }
    };
    let n_components = read_usize(&mut r, "n_components")?;
    let learning_rate = match r.u64()? {
        0 => LearningRate::Optimal,
        1 => LearningRate::InvScaling {
            eta0: r.f64()?,
            power_t: r.f64()?,
        },
        2 => LearningRate::Constant { eta0: r.f64()? },
        other => {
            return Err(snapshot_error(
                NAME,
                format!("unknown learning-rate kind {other}"),
            ));
        }
    };
    let average = match r.u64()? {
        0 => None,
        start => Some(start),
    };
    let seed = r.u64()?;
    let config = OnlineOcsvmConfig {
        nu,
        gamma,
        n_components,
        learning_rate,
        average,
        seed,
    };
    config
        .validate(dim)
        .map_err(|e| snapshot_error(NAME, format!("it holds invalid parameters: {e}")))?;
    let gamma = r.f64()?;
    if !(gamma > 0.0 && gamma.is_finite()) {
        return Err(snapshot_error(
            NAME,
            format!("kernel width {gamma} is not a positive number"),
        ));
    }
    let frequencies = r.f64s()?;
    let phases = r.f64s()?;
    if phases.len() != n_components || Some(frequencies.len()) != dim.checked_mul(n_components) {
        return Err(snapshot_error(
            NAME,
            format!(
                "{} phases and {} frequencies do not make {n_components} features of {dim} inputs",
                phases.len(),
                frequencies.len()
            ),
        ));
    }
    let features = RandomFourierFeatures::from_parts(dim, frequencies, phases);
    let mut model = OnlineOcsvm::from_parts(dim, config, gamma, features);
    model.scaler.read(&mut r, NAME)?;
    model.weights = read_vector(&mut r, n_components, "weights")?;
    model.offset = r.f64()?;
    model.averaged_weights = read_vector(&mut r, n_components, "averaged weights")?;
    model.averaged_offset = r.f64()?;
    model.learned = r.u64()?;
    r.end()?;
    Ok(model)
}

fn read_usize(r: &mut SnapshotReader<'_>, what: &str) -> Result<usize, DetectorError> {
    let value = r.u64()?;
    usize::try_from(value).map_err(|_| snapshot_error(NAME, format!("{what} {value} is too large")))
}

fn read_vector(
    r: &mut SnapshotReader<'_>,
    len: usize,
    what: &str,
) -> Result<Vec<f64>, DetectorError> {
    let values = r.f64s()?;
    if values.len() != len {
        return Err(snapshot_error(
            NAME,
            format!("{} {what}, expected {len}", values.len()),
        ));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `n` rows of `dim` standard normal features (Box-Muller), seeded.
    fn gaussian_rows(n: usize, dim: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * dim)
            .map(|_| {
                let u1 = 1.0 - rng.random::<f64>();
                let u2 = rng.random::<f64>();
                (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect()
    }

    fn model(dim: usize, config: OnlineOcsvmConfig) -> OnlineOcsvm {
        OnlineOcsvm::new(dim, config).expect("valid parameters")
    }

    fn progressive(model: &mut OnlineOcsvm, rows: &[f64]) -> Vec<f64> {
        rows.chunks_exact(model.dim())
            .map(|x| {
                let score = model.score_one(x).expect("valid row");
                model.learn_one(x).expect("valid row");
                score
            })
            .collect()
    }

    fn bits(scores: &[f64]) -> Vec<u64> {
        scores.iter().map(|s| s.to_bits()).collect()
    }

    fn invalid_parameter(result: Result<OnlineOcsvm, DetectorError>) -> (&'static str, String) {
        match result {
            Err(DetectorError::InvalidParameter { name, value, .. }) => (name, value),
            other => panic!("expected an invalid parameter, got {other:?}"),
        }
    }

    #[test]
    fn parameters_are_validated_with_the_bad_value_named() {
        let base = OnlineOcsvmConfig::default();
        let cases: Vec<(usize, OnlineOcsvmConfig, &str, &str)> = vec![
            (0, base, "dim", "0"),
            (2, OnlineOcsvmConfig { nu: 0.0, ..base }, "nu", "0"),
            (2, OnlineOcsvmConfig { nu: 1.5, ..base }, "nu", "1.5"),
            (
                2,
                OnlineOcsvmConfig {
                    nu: f64::NAN,
                    ..base
                },
                "nu",
                "NaN",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    gamma: Some(-1.0),
                    ..base
                },
                "gamma",
                "-1",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    gamma: Some(f64::INFINITY),
                    ..base
                },
                "gamma",
                "inf",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    n_components: 0,
                    ..base
                },
                "n_components",
                "0",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    n_components: 70_000,
                    ..base
                },
                "n_components",
                "70000",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    learning_rate: LearningRate::InvScaling {
                        eta0: 0.0,
                        power_t: 0.5,
                    },
                    ..base
                },
                "eta0",
                "0",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    learning_rate: LearningRate::InvScaling {
                        eta0: 0.1,
                        power_t: -0.5,
                    },
                    ..base
                },
                "power_t",
                "-0.5",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    learning_rate: LearningRate::Constant { eta0: f64::NAN },
                    ..base
                },
                "eta0",
                "NaN",
            ),
            (
                2,
                OnlineOcsvmConfig {
                    average: Some(0),
                    ..base
                },
                "average",
                "0",
            ),
        ];
        for (dim, config, name, value) in cases {
            assert_eq!(
                invalid_parameter(OnlineOcsvm::new(dim, config)),
                (name, value.to_string()),
                "{config:?}"
            );
        }
        let message = OnlineOcsvm::new(3, OnlineOcsvmConfig { nu: 2.0, ..base })
            .expect_err("nu 2 is refused")
            .to_string();
        assert_eq!(
            message,
            "online-ocsvm: parameter nu must be in (0, 1], got 2"
        );
        assert!(OnlineOcsvm::new(1, OnlineOcsvmConfig { nu: 1.0, ..base }).is_ok());
    }

    #[test]
    fn default_gamma_is_one_over_the_dimension() {
        assert_eq!(model(5, OnlineOcsvmConfig::default()).gamma(), 0.2);
        let config = OnlineOcsvmConfig {
            gamma: Some(0.7),
            ..OnlineOcsvmConfig::default()
        };
        assert_eq!(model(5, config).gamma(), 0.7);
    }

    #[test]
    fn wrong_length_and_non_finite_input_are_refused_without_learning() {
        let mut m = model(3, OnlineOcsvmConfig::default());
        m.learn_one(&[1.0, 2.0, 3.0]).expect("valid row");
        let before = m.snapshot();
        assert!(matches!(
            m.learn_one(&[1.0, 2.0]),
            Err(DetectorError::DimensionMismatch {
                expected: 3,
                got: 2,
                ..
            })
        ));
        assert!(matches!(
            m.learn_one(&[1.0, f64::NAN, 3.0]),
            Err(DetectorError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            m.score_one(&[f64::NEG_INFINITY, 0.0, 0.0]),
            Err(DetectorError::NonFinite { index: 0, .. })
        ));
        assert!(matches!(
            m.score_many(&[0.0; 5], &mut [0.0; 2]),
            Err(DetectorError::DimensionMismatch {
                expected: 6,
                got: 5,
                ..
            })
        ));
        assert_eq!(
            m.snapshot(),
            before,
            "refused input left the model unchanged"
        );
        assert_eq!(m.learned(), 1);
    }

    #[test]
    fn scores_are_zero_before_learning() {
        let m = model(2, OnlineOcsvmConfig::default());
        assert_eq!(m.score_one(&[3.0, -4.0]).expect("valid row"), 0.0);
    }

    #[test]
    fn first_step_follows_the_optimal_schedule() {
        // After one event the scaler has no spread, so every event standardises to 0 and maps
        // to phi(0). The first step, from w = 0 and rho = 0, is a violation with step
        // eta1 = alpha^(-1/4): w = eta1 phi(0), rho = eta1 (nu - 1); so every score is
        // eta1 (nu - 1) - eta1 ||phi(0)||², and ||phi(0)||² = k(0, 0) = 1 up to the Monte
        // Carlo error of D features.
        let nu = 0.2;
        let config = OnlineOcsvmConfig {
            nu,
            n_components: 20_000,
            ..OnlineOcsvmConfig::default()
        };
        let mut m = model(2, config);
        m.learn_one(&[5.0, 6.0]).expect("valid row");
        let eta1 = (nu / 2.0).powf(-0.25);
        assert!(
            (m.offset() - eta1 * (nu - 1.0)).abs() < 1e-12,
            "rho {}",
            m.offset()
        );
        let expected = eta1 * (nu - 1.0) - eta1;
        let score = m.score_one(&[-3.0, 40.0]).expect("valid row");
        assert!(
            (score - expected).abs() < 0.03 * eta1,
            "score {score}, expected {expected}"
        );
    }

    #[test]
    fn about_nu_of_a_stationary_stream_scores_above_zero() {
        for nu in [0.05, 0.2] {
            let mut m = model(
                4,
                OnlineOcsvmConfig {
                    nu,
                    ..OnlineOcsvmConfig::default()
                },
            );
            let scores = progressive(&mut m, &gaussian_rows(30_000, 4, 3));
            let tail = &scores[10_000..];
            let outside = tail.iter().filter(|s| **s > 0.0).count() as f64 / tail.len() as f64;
            assert!(
                (outside - nu).abs() < 0.2 * nu,
                "nu {nu}: {outside} of the events scored above 0"
            );
        }
    }

    #[test]
    fn outliers_score_higher_than_inliers() {
        for learning_rate in [
            LearningRate::Optimal,
            LearningRate::InvScaling {
                eta0: 0.05,
                power_t: 0.5,
            },
            LearningRate::Constant { eta0: 0.01 },
        ] {
            for average in [None, Some(1), Some(500)] {
                let config = OnlineOcsvmConfig {
                    learning_rate,
                    average,
                    ..OnlineOcsvmConfig::default()
                };
                let mut m = model(3, config);
                progressive(&mut m, &gaussian_rows(5_000, 3, 1));
                let inlier = m.score_one(&[0.1, -0.2, 0.0]).expect("valid row");
                let outlier = m.score_one(&[4.0, -4.0, 4.0]).expect("valid row");
                assert!(
                    outlier > inlier,
                    "{config:?}: outlier {outlier} <= inlier {inlier}"
                );
                assert!(
                    outlier > 0.0,
                    "{config:?}: outlier {outlier} inside the support"
                );
            }
        }
    }

    #[test]
    fn averaging_starts_at_the_configured_event() {
        let rows = gaussian_rows(300, 2, 4);
        let plain = progressive(&mut model(2, OnlineOcsvmConfig::default()), &rows);
        let config = OnlineOcsvmConfig {
            average: Some(201),
            ..OnlineOcsvmConfig::default()
        };
        let averaged = progressive(&mut model(2, config), &rows);
        // Scores of events 1..=201 come from models that learned at most 200 events.
        assert_eq!(bits(&plain[..201]), bits(&averaged[..201]));
        assert_ne!(bits(&plain[201..]), bits(&averaged[201..]));
        // Right after the first averaged update the mean is that one update.
        let mut m = model(2, config);
        for x in rows.chunks_exact(2).take(201) {
            m.learn_one(x).expect("valid row");
        }
        assert_eq!(m.averaged_weights, m.weights);
        assert_eq!(m.offset(), m.offset);
    }

    #[test]
    fn a_seed_fixes_every_score() {
        let rows = gaussian_rows(2_000, 3, 5);
        let config = OnlineOcsvmConfig {
            seed: 42,
            ..OnlineOcsvmConfig::default()
        };
        let a = progressive(&mut model(3, config), &rows);
        let b = progressive(&mut model(3, config), &rows);
        assert_eq!(bits(&a), bits(&b));
        let other = OnlineOcsvmConfig { seed: 43, ..config };
        let c = progressive(&mut model(3, other), &rows);
        assert_ne!(bits(&a), bits(&c));
    }

    #[test]
    fn batch_calls_give_the_same_bits_as_the_loop() {
        let rows = gaussian_rows(1_500, 3, 6);
        let config = OnlineOcsvmConfig {
            n_components: 61,
            ..OnlineOcsvmConfig::default()
        };
        let mut looped = model(3, config);
        let expected = progressive(&mut looped, &rows);
        let mut batched = model(3, config);
        let mut scores = vec![0.0; 1_500];
        batched
            .score_learn_many(&rows, &mut scores)
            .expect("valid rows");
        assert_eq!(bits(&scores), bits(&expected));
        assert_eq!(batched.snapshot(), looped.snapshot());

        let probe = gaussian_rows(50, 3, 7);
        let mut many = vec![0.0; 50];
        batched.score_many(&probe, &mut many).expect("valid rows");
        let one: Vec<f64> = probe
            .chunks_exact(3)
            .map(|x| batched.score_one(x).expect("valid row"))
            .collect();
        assert_eq!(bits(&many), bits(&one));
    }

    #[test]
    fn score_learn_many_stops_at_a_bad_row_having_learned_the_rows_before() {
        let mut rows = gaussian_rows(10, 2, 8);
        rows[2 * 6 + 1] = f64::NAN;
        let mut m = model(2, OnlineOcsvmConfig::default());
        let mut scores = vec![0.0; 10];
        let err = m
            .score_learn_many(&rows, &mut scores)
            .expect_err("row 6 holds a NaN");
        assert!(matches!(err, DetectorError::NonFinite { index: 1, .. }));
        assert_eq!(m.learned(), 6);
    }

    #[test]
    fn snapshot_then_restore_gives_identical_scores() {
        let rows = gaussian_rows(3_000, 4, 9);
        let (before, after) = rows.split_at(2_000 * 4);
        for average in [None, Some(1_500)] {
            let config = OnlineOcsvmConfig {
                average,
                gamma: Some(0.3),
                learning_rate: LearningRate::InvScaling {
                    eta0: 0.1,
                    power_t: 0.4,
                },
                seed: 17,
                ..OnlineOcsvmConfig::default()
            };
            let mut original = model(4, config);
            progressive(&mut original, before);
            let bytes = original.snapshot();
            // Restoring into a model with other parameters replaces them too.
            let mut restored = model(4, OnlineOcsvmConfig::default());
            restored.restore(&bytes).expect("own snapshot");
            assert_eq!(restored.config(), original.config());
            assert_eq!(restored.snapshot(), bytes);
            let a = progressive(&mut original, after);
            let b = progressive(&mut restored, after);
            assert_eq!(bits(&a), bits(&b));
        }
    }

    #[test]
    fn bad_snapshots_are_refused_and_leave_the_model_unchanged() {
        let mut source = model(3, OnlineOcsvmConfig::default());
        progressive(&mut source, &gaussian_rows(100, 3, 10));
        let good = source.snapshot();

        let mut target = model(
            3,
            OnlineOcsvmConfig {
                seed: 1,
                ..OnlineOcsvmConfig::default()
            },
        );
        progressive(&mut target, &gaussian_rows(10, 3, 11));
        let unchanged = target.snapshot();

        let mut other_tag = good.clone();
        other_tag[..4].copy_from_slice(b"HSTx");
        let mut other_version = good.clone();
        other_version[4] = 9;
        let cut_short = good[..good.len() - 3].to_vec();
        let mut trailing = good.clone();
        trailing.push(0);
        // nu is the f64 right after the tag, version and dimension.
        let mut bad_nu = good.clone();
        bad_nu[14..22].copy_from_slice(&(-1.0f64).to_le_bytes());
        let other_dim = model(2, OnlineOcsvmConfig::default()).snapshot();

        for (what, bytes) in [
            ("other tag", other_tag),
            ("other version", other_version),
            ("cut short", cut_short),
            ("trailing byte", trailing),
            ("invalid nu", bad_nu),
            ("other dimension", other_dim),
        ] {
            let err = target.restore(&bytes).expect_err(what);
            assert!(
                matches!(err, DetectorError::Snapshot { .. }),
                "{what}: {err}"
            );
            assert_eq!(target.snapshot(), unchanged, "{what} changed the model");
        }
        target.restore(&good).expect("good snapshot");
        assert_eq!(target.snapshot(), good);
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f64> = (0..11).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..11).map(|i| 1.0 - i as f64).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-12);
    }
}
