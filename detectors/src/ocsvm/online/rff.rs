//! Random Fourier features (Rahimi and Recht, 2007): an explicit map `phi` with
//! `<phi(x), phi(y)> ≈ exp(-gamma ||x - y||²)`, so a linear model on `phi(x)` behaves like a
//! kernel machine with the RBF kernel at a fixed cost per event.
//!
//! `phi(x) = sqrt(2 / D) cos(W x + b)`, with the rows of `W` drawn from `N(0, 2 gamma I)` (the
//! spectral density of the RBF kernel) and `b` from `U[0, 2 pi)`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A drawn feature map. The frequencies are stored feature-major (`frequencies[j * D + k]` is
/// the weight of input feature `j` in component `k`) so that the projection runs as `dim`
/// sweeps over contiguous rows of length `D`, which the compiler vectorises.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RandomFourierFeatures {
    dim: usize,
    frequencies: Vec<f64>,
    phases: Vec<f64>,
    amplitude: f64,
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
        let amplitude = (2.0 / phases.len().max(1) as f64).sqrt();
        RandomFourierFeatures {
            dim,
            frequencies,
            phases,
            amplitude,
        }
    }

    /// The frequency matrix, feature-major.
    pub(super) fn frequencies(&self) -> &[f64] {
        &self.frequencies
    }

    /// The phase offsets `b`.
    pub(super) fn phases(&self) -> &[f64] {
        &self.phases
    }

    /// Writes `phi(z)` into `out` (length `D`); `z` has length `dim`.
    pub(super) fn map(&self, z: &[f64], out: &mut [f64]) {
        let n = self.phases.len();
        let z = &z[..self.dim];
        let out = &mut out[..n];
        let full_blocks = n / BLOCK * BLOCK;
        let (body, tail) = out.split_at_mut(full_blocks);
        for (block, chunk) in body.chunks_exact_mut(BLOCK).enumerate() {
            let start = block * BLOCK;
            let mut theta = [0.0; BLOCK];
            theta.copy_from_slice(&self.phases[start..start + BLOCK]);
            for (j, zj) in z.iter().enumerate() {
                let row = &self.frequencies[j * n + start..j * n + start + BLOCK];
                for (t, w) in theta.iter_mut().zip(row) {
                    *t += w * zj;
                }
            }
            if theta.iter().all(|t| t.abs() < REDUCTION_LIMIT) {
                for (o, t) in chunk.iter_mut().zip(&theta) {
                    *o = self.amplitude * cos_reduced(*t);
                }
            } else {
                for (o, t) in chunk.iter_mut().zip(&theta) {
                    *o = self.amplitude * cos(*t);
                }
            }
        }
        for (k, o) in (full_blocks..n).zip(tail.iter_mut()) {
            let theta = z.iter().enumerate().fold(self.phases[k], |t, (j, zj)| {
                t + self.frequencies[j * n + k] * zj
            });
            *o = self.amplitude * cos(theta);
        }
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
        map.map(&x, &mut px);
        map.map(&y, &mut py);
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
