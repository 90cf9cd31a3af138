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
/// Version 2 adds the last learned row (the pivot scoring works from); version 1 snapshots,
/// without it, are still read.
const SNAPSHOT_VERSION: u16 = 2;
/// Inputs and projections up to these sizes are scored with buffers on the stack.
const STACK_DIM: usize = 128;
const STACK_COMPONENTS: usize = 256;

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
/// with the updated statistics; scoring standardises with the statistics as they are. Scoring
/// works from the last learned row, whose projection onto the random frequencies learning
/// has just computed: only the features in which the scored row differs from it are folded
/// in, which on rows of flags and counts (consecutive events share most of them) costs a
/// fraction of the whole projection. The result equals the projection from scratch up to
/// rounding (about 1e-15 of the phases). Before
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
    /// The last learned row and its projection, which scoring works from; `None` before the
    /// first event learned (and after restoring a version 1 snapshot, until the next one).
    pivot: Option<Pivot>,
    /// Buffers reused between calls; not part of the model's state.
    scratch: Scratch,
}

/// The last learned row, the scaler's deviations it was standardised with (the current ones:
/// only learning changes them), and its projection `W z + b`.
#[derive(Debug, Clone)]
struct Pivot {
    row: Vec<f64>,
    std: Vec<f64>,
    theta: Vec<f64>,
}

/// Buffers of one scoring: `dim` values and indices, and the padded projection and the
/// features (`n_components`).
#[derive(Debug, Clone, Default)]
struct Scratch {
    scaled: Vec<f64>,
    index: Vec<usize>,
    theta: Vec<f64>,
    mapped: Vec<f64>,
}

impl Scratch {
    fn new(dim: usize, features: &RandomFourierFeatures) -> Scratch {
        Scratch {
            scaled: vec![0.0; dim],
            index: vec![0; dim],
            theta: vec![0.0; features.padded_len()],
            mapped: vec![0.0; features.len()],
        }
    }
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
        let scratch = Scratch::new(dim, &features);
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
            pivot: None,
            scratch,
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

    /// Learns `x`, already checked, and makes it the pivot. Uses the scratch buffers.
    fn learn_checked(&mut self, x: &[f64]) {
        self.learned += 1;
        let eta = self.step_size(self.learned as f64);
        let alpha = self.alpha();
        self.scaler.learn_one(x);
        let Scratch {
            scaled,
            index,
            mapped,
            ..
        } = &mut self.scratch;
        self.scaler.transform(x, scaled);
        let (dim, padded) = (self.dim, self.features.padded_len());
        let pivot = self.pivot.get_or_insert_with(|| Pivot {
            row: vec![0.0; dim],
            std: vec![0.0; dim],
            theta: vec![0.0; padded],
        });
        self.features.project(scaled, index, &mut pivot.theta);
        self.features.cosines(&pivot.theta, mapped);
        pivot.row.copy_from_slice(x);
        self.scaler.deviations(&mut pivot.std);

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
        let score = self.score_into(x, &mut scratch);
        self.scratch = scratch;
        score
    }

    /// Scores `x`, already checked, with buffers on the stack when they fit there.
    fn score_unbuffered(&self, x: &[f64]) -> f64 {
        if self.dim <= STACK_DIM && self.features.padded_len() <= STACK_COMPONENTS {
            let mut scaled = [0.0; STACK_DIM];
            let mut index = [0usize; STACK_DIM];
            let mut theta = [0.0; STACK_COMPONENTS];
            let buffers = Buffers {
                scaled: &mut scaled[..self.dim],
                index: &mut index[..self.dim],
                theta: &mut theta[..self.features.padded_len()],
            };
            self.score_with(x, buffers)
        } else {
            self.score_into(x, &mut Scratch::new(self.dim, &self.features))
        }
    }

    fn score_into(&self, x: &[f64], scratch: &mut Scratch) -> f64 {
        let Scratch {
            scaled,
            index,
            theta,
            ..
        } = scratch;
        self.score_with(
            x,
            Buffers {
                scaled,
                index,
                theta,
            },
        )
    }

    /// Scores `x`, already checked: its projection onto the random frequencies, from the
    /// pivot's when there is one, else from the row standardised with the statistics as they
    /// are; the features (their cosines, in place); then `rho - <w, phi>`.
    #[inline]
    fn score_with(&self, x: &[f64], mut b: Buffers<'_>) -> f64 {
        if !self.project_from_pivot(x, &mut b) {
            self.scaler.transform(x, b.scaled);
            self.features.project(b.scaled, b.index, b.theta);
        }
        self.features.cosines_in_place(b.theta);
        self.score_mapped(&b.theta[..self.features.len()])
    }

    /// Writes the projection of `x` into `b.theta` from the pivot's: each feature in which
    /// `x` differs from the pivot row adds its frequencies times the difference of the two
    /// standardised values, `(x_j - pivot_j) / std_j`. False (`b.theta` untouched) without a
    /// pivot, or when a difference overflows.
    #[inline]
    fn project_from_pivot(&self, x: &[f64], b: &mut Buffers<'_>) -> bool {
        let Some(pivot) = &self.pivot else {
            return false;
        };
        let mut nz = 0;
        for (j, ((v, p), std)) in x.iter().zip(&pivot.row).zip(&pivot.std).enumerate() {
            // A feature with no deviation standardises to 0 whatever its value.
            if v.to_bits() == p.to_bits() || *std <= 0.0 {
                continue;
            }
            let delta = (v - p) / std;
            if !delta.is_finite() {
                return false;
            }
            b.index[nz] = j;
            b.scaled[nz] = delta;
            nz += 1;
        }
        self.features
            .project_from(&pivot.theta, &b.index[..nz], &b.scaled[..nz], b.theta);
        true
    }

    /// The pivot of a model whose last learned row is `row`: its projection with the
    /// statistics as they are (which are the ones learning it left).
    fn pivot_of(&self, row: Vec<f64>) -> Pivot {
        let mut scaled = vec![0.0; self.dim];
        self.scaler.transform(&row, &mut scaled);
        let mut theta = vec![0.0; self.features.padded_len()];
        let mut index = vec![0; self.dim];
        self.features.project(&scaled, &mut index, &mut theta);
        let mut std = vec![0.0; self.dim];
        self.scaler.deviations(&mut std);
        Pivot { row, std, theta }
    }
}

/// The buffers [`OnlineOcsvm::score_with`] works in: `dim` values (the standardised row, or
/// the differences from the pivot) and indices, and the padded projection (then the features).
struct Buffers<'a> {
    scaled: &'a mut [f64],
    index: &'a mut [usize],
    theta: &'a mut [f64],
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
        Ok(self.score_unbuffered(x))
    }

    fn score_many(&self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        let mut scratch = Scratch::new(self.dim, &self.features);
        score_checked_rows(NAME, self.dim, xs, out, |x| {
            self.score_into(x, &mut scratch)
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
        match &self.pivot {
            None => w.u64(0),
            Some(pivot) => {
                w.u64(1);
                w.f64s(&pivot.row);
            }
        }
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
    // Version 1 is read too: it lacks only the pivot.
    let version = match bytes.get(4..6) {
        Some([1, 0]) => 1,
        _ => SNAPSHOT_VERSION,
    };
    let mut r = SnapshotReader::new(NAME, bytes, SNAPSHOT_TAG, version)?;
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
    if version >= 2 {
        match r.u64()? {
            0 => {}
            1 => {
                let row = read_vector(&mut r, dim, "pivot values")?;
                if let Some(index) = row.iter().position(|v| !v.is_finite()) {
                    return Err(snapshot_error(
                        NAME,
                        format!("pivot value {index} is {}", row[index]),
                    ));
                }
                model.pivot = Some(model.pivot_of(row));
            }
            other => {
                return Err(snapshot_error(
                    NAME,
                    format!("unknown pivot marker {other}"),
                ));
            }
        }
    }
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

    /// `n` rows of flags, a one-hot pair, small log counts and one continuous feature: rows
    /// that share most of their values with the row before.
    fn sparse_rows(n: usize, dim: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let mut row = vec![0.0; dim];
            row[0] = 1.0;
            let ssh = rng.random::<f64>() < 0.8;
            row[1] = f64::from(u8::from(ssh));
            row[2] = f64::from(u8::from(!ssh));
            row[3] = (1.0 / (1.0 - rng.random::<f64>()))
                .floor()
                .min(300.0)
                .ln_1p();
            row[4] = (rng.random::<f64>() * std::f64::consts::TAU).sin();
            if rng.random::<f64>() < 0.05 {
                row[5] = 40.0 * rng.random::<f64>();
            }
            rows.extend_from_slice(&row);
        }
        rows
    }

    /// The score from scratch: the row standardised, projected, mapped, `rho - <w, phi>`.
    fn score_from_scratch(m: &OnlineOcsvm, x: &[f64]) -> f64 {
        let mut scaled = vec![0.0; m.dim];
        m.scaler.transform(x, &mut scaled);
        let mut theta = vec![0.0; m.features.padded_len()];
        let mut mapped = vec![0.0; m.features.len()];
        m.features.map(&scaled, &mut theta, &mut mapped);
        m.score_mapped(&mapped)
    }

    #[test]
    fn scores_from_the_pivot_equal_scores_from_scratch() {
        for (dim, rows) in [
            (9, sparse_rows(3_000, 9, 12)),
            (4, gaussian_rows(3_000, 4, 13)),
        ] {
            // 61 components: the last block is padded.
            let config = OnlineOcsvmConfig {
                n_components: 61,
                ..OnlineOcsvmConfig::default()
            };
            for config in [config, OnlineOcsvmConfig::default()] {
                let mut m = model(dim, config);
                let mut worst: f64 = 0.0;
                for x in rows.chunks_exact(dim) {
                    let (got, want) = (
                        m.score_one(x).expect("valid row"),
                        score_from_scratch(&m, x),
                    );
                    worst = worst.max((got - want).abs());
                    m.learn_one(x).expect("valid row");
                }
                assert!(worst < 1e-12, "dim {dim}: worst difference {worst:e}");
                // Right after learning a row, its own score is computed from scratch.
                let last = &rows[rows.len() - dim..];
                assert_eq!(
                    m.score_one(last).map(f64::to_bits),
                    Ok(score_from_scratch(&m, last).to_bits())
                );
            }
        }
        // A difference from the pivot that overflows falls back to scaling first.
        let mut m = model(2, OnlineOcsvmConfig::default());
        for x in [[0.0, 0.0], [1.0, 1.0], [1e308, 2.0]] {
            m.learn_one(&x).expect("valid row");
        }
        let far = [-1e308, 0.5];
        assert!(!(far[0] - 1e308f64).is_finite());
        let score = m.score_one(&far).expect("valid row");
        assert_eq!(score.to_bits(), score_from_scratch(&m, &far).to_bits());
    }

    #[test]
    fn version_1_snapshots_restore_without_a_pivot() {
        let dim = 6;
        let rows = sparse_rows(600, dim, 14);
        let (before, after) = rows.split_at(400 * dim);
        let mut original = model(dim, OnlineOcsvmConfig::default());
        progressive(&mut original, before);
        // Version 1 is version 2 without the pivot (marker, length, values) at the end.
        let mut v1 = original.snapshot();
        v1.truncate(v1.len() - 16 - 8 * dim);
        v1[4..6].copy_from_slice(&1u16.to_le_bytes());
        let mut restored = model(dim, OnlineOcsvmConfig::default());
        restored.restore(&v1).expect("a version 1 snapshot");
        assert!(restored.pivot.is_none());
        // Until the next event learned it scores from scratch, then it has the same pivot.
        let x = &after[..dim];
        assert_eq!(
            restored.score_one(x).map(f64::to_bits),
            Ok(score_from_scratch(&original, x).to_bits())
        );
        restored.learn_one(x).expect("valid row");
        original.learn_one(x).expect("valid row");
        let a = progressive(&mut original, &after[dim..]);
        let b = progressive(&mut restored, &after[dim..]);
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(restored.snapshot(), original.snapshot());
        // A bad pivot marker is refused.
        let mut bad = original.snapshot();
        let marker = bad.len() - 16 - 8 * dim;
        bad[marker] = 7;
        assert!(matches!(
            restored.restore(&bad),
            Err(DetectorError::Snapshot { .. })
        ));
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f64> = (0..11).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..11).map(|i| 1.0 - i as f64).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-12);
    }
}
