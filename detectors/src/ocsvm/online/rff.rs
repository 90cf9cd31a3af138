//! Random Fourier features (Rahimi and Recht, 2007): an explicit map `phi` with
//! `<phi(x), phi(y)> ≈ exp(-gamma ||x - y||²)`, so a linear model on `phi(x)` behaves like a
//! kernel machine with the RBF kernel at a fixed cost per event.
//!
//! `phi(x) = sqrt(2 / D) cos(W x + b)`, with the rows of `W` drawn from `N(0, 2 gamma I)` (the
//! spectral density of the RBF kernel) and `b` from `U[0, 2 pi)`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A drawn feature map. The frequencies are kept feature-major as drawn and stored
/// (`frequencies[j * D + k]` is the weight of input feature `j` in component `k`), and laid
/// out for the projection in blocks of [`BLOCK`] components: within a block feature-major, so
/// that folding in one input feature reads one contiguous run of `BLOCK` weights, and the
/// last block padded with zero weights and phases. The projection `theta = W z + b` is
/// computed into buffers of [`padded_len`](Self::padded_len) values.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RandomFourierFeatures {
    dim: usize,
    frequencies: Vec<f64>,
    phases: Vec<f64>,
    amplitude: f64,
    /// `blocks x dim x BLOCK` frequencies (derived from `frequencies`).
    blocked: Vec<f64>,
    /// The phases padded with zeros to whole blocks.
    padded_phases: Vec<f64>,
}

impl RandomFourierFeatures {
    /// Draws `n_components` features for `dim` inputs and the RBF kernel of width `gamma`,
    /// from a ChaCha8 stream seeded with `seed`. Both are at least 1 (checked by the caller).
    pub(super) fn sample(dim: usize, n_components: usize, gamma: f64, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let std_dev = (2.0 * gamma).sqrt();
        let mut frequencies = Vec::with_capacity(dim * n_components);
        while frequencies.len() < dim * n_components {
            let (a, b) = standard_normal_pair(&mut rng);
            frequencies.push(a * std_dev);
            if frequencies.len() < dim * n_components {
                frequencies.push(b * std_dev);
            }
        }
        let phases = (0..n_components)
            .map(|_| rng.random::<f64>() * std::f64::consts::TAU)
            .collect();
        Self::from_parts(dim, frequencies, phases)
    }

    /// Rebuilds a map from its stored parts; `frequencies` holds `dim * phases.len()` values.
    pub(super) fn from_parts(dim: usize, frequencies: Vec<f64>, phases: Vec<f64>) -> Self {
        let n = phases.len();
        let amplitude = (2.0 / n.max(1) as f64).sqrt();
        let padded = n.div_ceil(BLOCK) * BLOCK;
        let mut blocked = vec![0.0; padded * dim];
        for j in 0..dim {
            for (k, w) in frequencies[j * n..(j + 1) * n].iter().enumerate() {
                blocked[((k / BLOCK) * dim + j) * BLOCK + k % BLOCK] = *w;
            }
        }
        let mut padded_phases = phases.clone();
        padded_phases.resize(padded, 0.0);
        RandomFourierFeatures {
            dim,
            frequencies,
            phases,
            amplitude,
            blocked,
            padded_phases,
        }
    }

    /// Number of components `D`.
    pub(super) fn len(&self) -> usize {
        self.phases.len()
    }

    /// Length of the projection buffers: `D` rounded up to whole blocks.
    pub(super) fn padded_len(&self) -> usize {
        self.padded_phases.len()
    }

    /// The frequency matrix, feature-major.
    pub(super) fn frequencies(&self) -> &[f64] {
        &self.frequencies
    }

    /// The phase offsets `b`.
    pub(super) fn phases(&self) -> &[f64] {
        &self.phases
    }

    /// Writes `phi(z)` into `out` (length `D`); `z` has length `dim`. `theta` is a buffer of
    /// [`padded_len`](Self::padded_len) values, left holding the projection `W z + b`.
    #[cfg(test)]
    pub(super) fn map(&self, z: &[f64], theta: &mut [f64], out: &mut [f64]) {
        let mut index = vec![0; self.dim];
        self.project(z, &mut index, theta);
        self.cosines(theta, out);
    }

    /// Writes the projection `theta = W z + b` (each component's phase, then each input
    /// feature folded in, in order) into `theta` ([`padded_len`](Self::padded_len) values);
    /// `index` is a buffer of `dim` indices. Features at 0 are skipped: folding one in adds a
    /// zero, which changes no phase (at most the sign of a zero one, which its cosine does not
    /// see), and a standardised feature is 0 wherever the scaler has seen it constant, which on
    /// rows of flags and counts is true of many.
    pub(super) fn project(&self, z: &[f64], index: &mut [usize], theta: &mut [f64]) {
        let mut nz = 0;
        for (j, v) in z[..self.dim].iter().enumerate() {
            if *v != 0.0 {
                index[nz] = j;
                nz += 1;
            }
        }
        let index = &index[..nz];
        self.fold(&self.padded_phases, index, |i| z[index[i]], theta);
    }

    /// Writes the projection of a vector that differs from the one projected to `base` by
    /// `delta[i]` in input feature `index[i]`: `theta = base + sum_i W[index[i]] delta[i]`.
    pub(super) fn project_from(
        &self,
        base: &[f64],
        index: &[usize],
        delta: &[f64],
        theta: &mut [f64],
    ) {
        self.fold(base, index, |i| delta[i], theta);
    }

    /// `theta = base + sum_i W[index[i]] value(i)`, the terms added in order.
    #[inline(always)]
    fn fold(&self, base: &[f64], index: &[usize], value: impl Fn(usize) -> f64, theta: &mut [f64]) {
        let block_len = self.dim * BLOCK;
        for ((weights, base), out) in self
            .blocked
            .chunks_exact(block_len)
            .zip(base.chunks_exact(BLOCK))
            .zip(theta.chunks_exact_mut(BLOCK))
        {
            let mut t = [0.0; BLOCK];
            t.copy_from_slice(base);
            for (i, j) in index.iter().enumerate() {
                let v = value(i);
                let row = &weights[j * BLOCK..(j + 1) * BLOCK];
                for (t, w) in t.iter_mut().zip(row) {
                    *t += w * v;
                }
            }
            out.copy_from_slice(&t);
        }
    }

    /// Writes `phi = sqrt(2 / D) cos(theta)` into `out` (length `D`).
    pub(super) fn cosines(&self, theta: &[f64], out: &mut [f64]) {
        let n = self.phases.len();
        let (body, tail) = out[..n].split_at_mut(n / BLOCK * BLOCK);
        let (theta_body, theta_tail) = theta.split_at(body.len());
        for (t, o) in theta_body
            .chunks_exact(BLOCK)
            .zip(body.chunks_exact_mut(BLOCK))
        {
            let mut block = [0.0; BLOCK];
            block.copy_from_slice(t);
            o.copy_from_slice(&self.block_cosines(&block));
        }
        for (o, t) in tail.iter_mut().zip(theta_tail) {
            *o = self.amplitude * cos(*t);
        }
    }

    /// Replaces the first `D` values of `theta` by `phi = sqrt(2 / D) cos(theta)`: the same
    /// values as [`cosines`](Self::cosines).
    pub(super) fn cosines_in_place(&self, theta: &mut [f64]) {
        let n = self.phases.len();
        let (body, tail) = theta[..n].split_at_mut(n / BLOCK * BLOCK);
        for t in body.chunks_exact_mut(BLOCK) {
            let mut block = [0.0; BLOCK];
            block.copy_from_slice(t);
            t.copy_from_slice(&self.block_cosines(&block));
        }
        for t in tail {
            *t = self.amplitude * cos(*t);
        }
    }

    /// `sqrt(2 / D) cos` of a block of phases: vectorised when every phase is in the range
    /// of [`cos_reduced`].
    #[inline(always)]
    fn block_cosines(&self, theta: &[f64; BLOCK]) -> [f64; BLOCK] {
        let mut out = [0.0; BLOCK];
        if theta.iter().all(|t| t.abs() < REDUCTION_LIMIT) {
            for (o, t) in out.iter_mut().zip(theta) {
                *o = self.amplitude * cos_reduced(*t);
            }
        } else {
            for (o, t) in out.iter_mut().zip(theta) {
                *o = self.amplitude * cos(*t);
            }
        }
        out
    }
}

/// Components computed together: their phases stay in registers while every input feature is
/// folded in, and the block's cosines are evaluated side by side (vectorised).
const BLOCK: usize = 8;

/// Two independent standard normal draws (Box-Muller).
fn standard_normal_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    // 1 - U[0, 1) lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let radius = (-2.0 * u1.ln()).sqrt();
    let angle = std::f64::consts::TAU * u2;
    (radius * angle.cos(), radius * angle.sin())
}

/// Largest argument reduced by the two-term Cody-Waite scheme below: with fewer than 2^20
/// half turns, `n * PI_HI` is exact and the reduced argument keeps full precision.
const REDUCTION_LIMIT: f64 = 1.0e6;
/// The first 33 bits of pi (twice fdlibm's `pio2_1`).
const PI_HI: f64 = f64::from_bits(0x4009_21FB_5440_0000);
/// pi - `PI_HI` (twice fdlibm's `pio2_1t`).
const PI_LO: f64 = f64::from_bits(0x3DE0_B461_1A62_6331);
/// Adding then subtracting 1.5 * 2^52 rounds to the nearest integer, and the lowest mantissa
/// bit of the sum is that integer's parity.
const ROUNDING_SHIFT: f64 = 6_755_399_441_055_744.0;

/// Taylor coefficients of the cosine, `(-1)^k / (2k)!` for `k = 1..=9` (the factorials are
/// exact in `f64`, so each quotient is correctly rounded).
const COS_TAYLOR: [f64; 9] = [
    -1.0 / 2.0,
    1.0 / 24.0,
    -1.0 / 720.0,
    1.0 / 40_320.0,
    -1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    -1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
    -1.0 / 6_402_373_705_728_000.0,
];

/// Cosine, within 1e-14 of the platform's: [`cos_reduced`] where it applies, the platform's
/// `cos` beyond (and for NaN and infinities).
pub(super) fn cos(theta: f64) -> f64 {
    if theta.abs() < REDUCTION_LIMIT {
        cos_reduced(theta)
    } else {
        theta.cos()
    }
}

/// Cosine of `theta` with `|theta| <` [`REDUCTION_LIMIT`]: `theta = n pi + r` with
/// `|r| <= pi/2`, `cos theta = (-1)^n cos r`, and `cos r` by its Taylor series up to `r^18`
/// (truncation error below 4e-15). Written out rather than calling the platform's `cos`
/// because it is branch-free, so the feature map's loops vectorise (they spend most of their
/// time here), and because it gives the same bits on every platform.
#[inline]
fn cos_reduced(theta: f64) -> f64 {
    let shifted = theta * std::f64::consts::FRAC_1_PI + ROUNDING_SHIFT;
    let half_turns = shifted - ROUNDING_SHIFT;
    let r = (theta - half_turns * PI_HI) - half_turns * PI_LO;
    let z = r * r;
    let c = &COS_TAYLOR;
    let cos_r = 1.0
        + z * (c[0]
            + z * (c[1]
                + z * (c[2]
                    + z * (c[3] + z * (c[4] + z * (c[5] + z * (c[6] + z * (c[7] + z * c[8]))))))));
    let sign = (shifted.to_bits() & 1) << 63;
    f64::from_bits(cos_r.to_bits() ^ sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_matches_the_platform_cosine() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut worst: f64 = 0.0;
        for i in 0..200_000 {
            // Spread over magnitudes from 1e-3 to beyond the reduction limit.
            let magnitude = 10f64.powf(rng.random::<f64>() * 10.0 - 3.0);
            let theta = if i % 2 == 0 { magnitude } else { -magnitude };
            worst = worst.max((cos(theta) - theta.cos()).abs());
        }
        assert!(worst < 1e-14, "worst absolute error {worst:e}");
        for theta in [
            0.0,
            std::f64::consts::FRAC_PI_2,
            std::f64::consts::PI,
            -3.0 * std::f64::consts::FRAC_PI_4,
        ] {
            assert!((cos(theta) - theta.cos()).abs() < 1e-14, "cos({theta})");
        }
        assert!(cos(f64::INFINITY).is_nan());
    }

    #[test]
    fn features_approximate_the_rbf_kernel() {
        let gamma = 0.3;
        let map = RandomFourierFeatures::sample(3, 4000, gamma, 5);
        let x = [0.2, -1.0, 0.7];
        let y = [0.9, -0.4, 0.1];
        let (mut px, mut py) = (vec![0.0; 4000], vec![0.0; 4000]);
        let mut theta = vec![0.0; map.padded_len()];
        map.map(&x, &mut theta, &mut px);
        map.map(&y, &mut theta, &mut py);
        let approx: f64 = px.iter().zip(&py).map(|(a, b)| a * b).sum();
        let sq: f64 = x.iter().zip(&y).map(|(a, b)| (a - b) * (a - b)).sum();
        let exact = (-gamma * sq).exp();
        // The Monte Carlo error of D = 4000 features is about 1/sqrt(D) ≈ 0.016.
        assert!(
            (approx - exact).abs() < 0.05,
            "approx {approx}, exact {exact}"
        );
        let self_product: f64 = px.iter().map(|a| a * a).sum();
        assert!(
            (self_product - 1.0).abs() < 0.05,
            "<phi(x), phi(x)> = {self_product}"
        );
    }

    #[test]
    fn the_projection_folds_features_in_order_and_from_a_base() {
        // 21 components: two whole blocks and a padded one.
        let map = RandomFourierFeatures::sample(5, 21, 0.4, 3);
        let z = [0.3, -1.2, 0.0, 2.5, 0.7];
        let mut theta = vec![0.0; map.padded_len()];
        let mut index = [0; 5];
        map.project(&z, &mut index, &mut theta);
        for (k, t) in theta.iter().take(21).enumerate() {
            let folded = (0..5).fold(map.phases()[k], |t, j| {
                t + map.frequencies()[j * 21 + k] * z[j]
            });
            assert_eq!(t.to_bits(), folded.to_bits(), "component {k}");
        }
        // The same vector reached from another one by its differences in two features.
        let other = [0.3, 4.0, 0.0, -1.0, 0.7];
        let mut base = vec![0.0; map.padded_len()];
        map.project(&other, &mut index, &mut base);
        let mut from = vec![0.0; map.padded_len()];
        map.project_from(
            &base,
            &[1, 3],
            &[z[1] - other[1], z[3] - other[3]],
            &mut from,
        );
        for (k, (f, t)) in from.iter().zip(&theta).take(21).enumerate() {
            assert!((f - t).abs() < 1e-14, "component {k}");
        }
        let mut phi = vec![0.0; 21];
        map.cosines(&theta, &mut phi);
        let amplitude = (2.0f64 / 21.0).sqrt();
        for (k, (p, t)) in phi.iter().zip(&theta).enumerate() {
            assert_eq!(
                p.to_bits(),
                (amplitude * cos(*t)).to_bits(),
                "component {k}"
            );
        }
        map.cosines_in_place(&mut theta);
        assert_eq!(&theta[..21], &phi[..]);
    }

    #[test]
    fn sampling_is_seeded() {
        let a = RandomFourierFeatures::sample(4, 50, 0.25, 9);
        let b = RandomFourierFeatures::sample(4, 50, 0.25, 9);
        let c = RandomFourierFeatures::sample(4, 50, 0.25, 10);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(
            a.phases()
                .iter()
                .all(|p| (0.0..std::f64::consts::TAU).contains(p))
        );
        // Frequencies have variance 2 gamma = 0.5.
        let n = a.frequencies().len() as f64;
        let var = a.frequencies().iter().map(|w| w * w).sum::<f64>() / n;
        assert!((var - 0.5).abs() < 0.15, "variance {var}");
    }
}
