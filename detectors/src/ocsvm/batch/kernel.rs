//! The decision function's inner loops: support vectors laid out in blocks for scoring, an
//! exponential that vectorises, and the pivoted form that the scaled model uses on sparse rows.
//!
//! Support vectors are stored in blocks of [`LANES`]: within a block, feature-major, so that
//! one feature of all the block's vectors is one contiguous run of `LANES` values. A block's
//! squared distances then build up in `LANES` independent accumulators, one per vector, each
//! summing its features in order (the same order, and so the same bits, as one vector at a
//! time); the compiler turns the accumulators into vector registers. Kernels are summed into
//! `LANES` partial sums per lane, combined in a fixed order at the end, so a score does not
//! depend on anything but the model and the row.

/// Support vectors per block.
pub(super) const LANES: usize = 8;
/// Blocks per pass of [`SvBlocks::sum_kernels`].
const PASS: usize = 16;

/// One value for each vector of a block, aligned to a cache line so that the compiler knows
/// it may load them whole.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Lanes([f64; LANES]);

impl Lanes {
    const ZERO: Lanes = Lanes([0.0; LANES]);
}

/// Support vectors and coefficients laid out for scoring (see the module documentation);
/// derived from the fitted model, never stored.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SvBlocks {
    dim: usize,
    /// `blocks x dim` lanes; the last block padded with zeros.
    values: Vec<Lanes>,
    /// The coefficients, a lane per block; 0 for padding, so padded slots add nothing.
    coef: Vec<Lanes>,
}

impl SvBlocks {
    /// Lays out `support_vectors` (row-major, `dim` values per row) and their coefficients.
    pub(super) fn new(dim: usize, support_vectors: &[f64], dual_coef: &[f64]) -> SvBlocks {
        let n = dual_coef.len();
        let blocks = n.div_ceil(LANES);
        let mut values = vec![Lanes::ZERO; blocks * dim];
        let mut coef = vec![Lanes::ZERO; blocks];
        for (i, (sv, a)) in support_vectors
            .chunks_exact(dim.max(1))
            .zip(dual_coef)
            .enumerate()
        {
            let (b, l) = (i / LANES, i % LANES);
            coef[b].0[l] = *a;
            for (j, v) in sv.iter().enumerate() {
                values[b * dim + j].0[l] = *v;
            }
        }
        SvBlocks { dim, values, coef }
    }

    /// The blocks: each one's features (`dim` lanes) and coefficients.
    fn blocks(&self) -> impl Iterator<Item = (&[Lanes], &[f64; LANES])> {
        self.values
            .chunks_exact(self.dim.max(1))
            .zip(self.coef.iter().map(|c| &c.0))
    }

    /// Value `l` of vector `i`'s feature `j`.
    fn value(&self, i: usize, j: usize) -> f64 {
        self.values[(i / LANES) * self.dim + j].0[i % LANES]
    }

    /// `sum_i a_i exp(-gamma |x - sv_i|^2)`, each squared distance summed feature by feature
    /// in order, as libsvm does.
    pub(super) fn kernel_sum(&self, gamma: f64, x: &[f64]) -> f64 {
        let x = &x[..self.dim];
        self.sum_kernels(gamma, |_, features| squared_distances(features, x))
    }

    /// `sum_i a_i exp(-gamma d_i)` with `distances(b, features)` giving the `d_i` of block
    /// `b`. A pass takes [`PASS`] blocks: their distances into a buffer first, then their
    /// kernels, so that each loop is vectorised on its own (lane by lane, as the values are
    /// laid out).
    #[inline(always)]
    fn sum_kernels(&self, gamma: f64, distances: impl Fn(usize, &[Lanes]) -> [f64; LANES]) -> f64 {
        let dim = self.dim.max(1);
        let mut sums = [0.0; LANES];
        let mut buffer = [Lanes::ZERO; PASS];
        for (pass, (values, coefs)) in self
            .values
            .chunks(PASS * dim)
            .zip(self.coef.chunks(PASS))
            .enumerate()
        {
            for (k, (slot, features)) in buffer.iter_mut().zip(values.chunks_exact(dim)).enumerate()
            {
                slot.0 = distances(pass * PASS + k, features);
            }
            for (distance, coef) in buffer.iter().zip(coefs) {
                accumulate(&mut sums, &coef.0, gamma, &distance.0);
            }
        }
        combine(&sums)
    }

    /// Squared norms `|z - sv_i|^2` of the vectors from `z`, a lane per block.
    fn distances_from(&self, z: &[f64]) -> Vec<Lanes> {
        self.blocks()
            .map(|(features, _)| Lanes(squared_distances(features, z)))
            .collect()
    }
}

/// The squared distances of `x` from a block's vectors, each summed feature by feature.
#[inline(always)]
fn squared_distances(features: &[Lanes], x: &[f64]) -> [f64; LANES] {
    let mut distance = [0.0; LANES];
    for (column, xj) in features.iter().zip(x) {
        for (d, v) in distance.iter_mut().zip(&column.0) {
            let diff = xj - v;
            *d += diff * diff;
        }
    }
    distance
}

/// Adds `coef * exp(-gamma * distance)` lane by lane into `sums`.
#[inline(always)]
fn accumulate(sums: &mut [f64; LANES], coef: &[f64; LANES], gamma: f64, distance: &[f64; LANES]) {
    let mut arg = [0.0; LANES];
    for (a, d) in arg.iter_mut().zip(distance) {
        *a = -gamma * d;
    }
    let kernel = exp_lanes(&arg);
    for ((s, c), k) in sums.iter_mut().zip(coef).zip(&kernel) {
        *s += c * k;
    }
}

/// The lanes' partial sums in a fixed order.
#[inline(always)]
fn combine(s: &[f64; LANES]) -> f64 {
    ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

/// The scaled model's view of its support vectors for rows given before scaling: a pivot row
/// `z` (in scaled units) and each vector's squared distance `B_i = |z - sv_i|^2` from it.
///
/// A scaled row `x_s` differs from the pivot in the features of `nz`, by `d_j = x_s,j - z_j`,
/// so that
///
/// ```text
/// |x_s - sv_i|^2 = B_i + S - 2 T_i,   S = sum_nz d_j (2 z_j + d_j),   T_i = sum_nz d_j sv_i,j
/// ```
///
/// which costs `|nz|` multiply-adds per support vector instead of `dim`. The pivot of a
/// feature is the value most support vectors share (0 where none repeats), so on real rows,
/// where most features hold one of a few values (flags, counts, zeros), `nz` is short. The
/// pivot is a scaled training value, so `B_i` stays within the spread of the training data
/// and the rounding of the sum within a few units of 1e-16 of it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pivot {
    /// The pivot row, scaled.
    z: Vec<f64>,
    /// `B_i`, a lane per block.
    norms: Vec<Lanes>,
}

/// Largest `|d_j|` the pivoted form takes; beyond it (rows astronomically far out) the
/// squares could overflow and the direct form is used.
const PIVOT_MAX_OFFSET: f64 = 1e100;

impl Pivot {
    /// The pivot of `blocks` (see the type's documentation).
    pub(super) fn new(blocks: &SvBlocks, n_support: usize) -> Pivot {
        let dim = blocks.dim;
        let mut z = vec![0.0; dim];
        let mut column: Vec<u64> = Vec::with_capacity(n_support);
        for (j, zj) in z.iter_mut().enumerate() {
            column.clear();
            for i in 0..n_support {
                column.push(blocks.value(i, j).to_bits());
            }
            column.sort_unstable();
            let mut best = (1usize, 0.0);
            let mut run = 0usize;
            for (k, bits) in column.iter().enumerate() {
                run = if k > 0 && column[k - 1] == *bits {
                    run + 1
                } else {
                    1
                };
                if run > best.0 {
                    best = (run, f64::from_bits(*bits));
                }
            }
            *zj = best.1;
        }
        let norms = blocks.distances_from(&z);
        Pivot { z, norms }
    }

    /// The pivot row, scaled.
    #[cfg(test)]
    pub(super) fn z(&self) -> &[f64] {
        &self.z
    }

    /// The kernel sum for the row `x` given before scaling, scaled here feature by feature
    /// as [`BatchStandardScaler::transform`](super::BatchStandardScaler::transform) does
    /// (`(x - mean) / scale`); `None` when the row is too far out for the pivoted form.
    pub(super) fn kernel_sum(
        &self,
        blocks: &SvBlocks,
        gamma: f64,
        x: &[f64],
        mean: &[f64],
        scale: &[f64],
    ) -> Option<f64> {
        const STACK: usize = 128;
        let dim = blocks.dim;
        let mut stack_index = [0usize; STACK];
        let mut stack_offset = [0.0; STACK];
        let mut heap: (Vec<usize>, Vec<f64>);
        let (index, offset): (&mut [usize], &mut [f64]) = if dim <= STACK {
            (&mut stack_index[..dim], &mut stack_offset[..dim])
        } else {
            heap = (vec![0; dim], vec![0.0; dim]);
            (&mut heap.0, &mut heap.1)
        };
        let mut nz = 0;
        let mut s = 0.0;
        for (j, (((x, m), sc), z)) in x[..dim]
            .iter()
            .zip(mean)
            .zip(scale)
            .zip(&self.z)
            .enumerate()
        {
            let xs = (x - m) / sc;
            if xs.to_bits() == z.to_bits() {
                continue;
            }
            let d = xs - z;
            if d.is_nan() || d.abs() > PIVOT_MAX_OFFSET {
                return None;
            }
            s += d * (2.0 * z + d);
            index[nz] = j;
            offset[nz] = d;
            nz += 1;
        }
        let (index, offset) = (&index[..nz], &offset[..nz]);
        let sum = blocks.sum_kernels(gamma, |b, features| {
            let mut dot = [0.0; LANES];
            for (j, d) in index.iter().zip(offset) {
                let Some(column) = features.get(*j) else {
                    continue;
                };
                for (t, v) in dot.iter_mut().zip(&column.0) {
                    *t += d * v;
                }
            }
            let norms = self.norms.get(b).map_or([0.0; LANES], |n| n.0);
            let mut distance = [0.0; LANES];
            for ((dist, n), t) in distance.iter_mut().zip(&norms).zip(&dot) {
                // Rounding can take a distance of (nearly) 0 just below it.
                *dist = ((n + s) - 2.0 * t).max(0.0);
            }
            distance
        });
        Some(sum)
    }
}

/// `2^(j / 64)` for `j = 0..64`, correctly rounded (computed to 60 digits, then rounded).
#[rustfmt::skip]
const EXP2_TABLE: [u64; 64] = [
    0x3FF0_0000_0000_0000, 0x3FF0_2C9A_3E77_8061, 0x3FF0_59B0_D315_8574, 0x3FF0_8745_1875_9BC8,
    0x3FF0_B558_6CF9_890F, 0x3FF0_E3EC_32D3_D1A2, 0x3FF1_1301_D012_5B51, 0x3FF1_429A_AEA9_2DE0,
    0x3FF1_72B8_3C7D_517B, 0x3FF1_A35B_EB6F_CB75, 0x3FF1_D487_3168_B9AA, 0x3FF2_063B_8862_8CD6,
    0x3FF2_387A_6E75_6238, 0x3FF2_6B45_65E2_7CDD, 0x3FF2_9E9D_F51F_DEE1, 0x3FF2_D285_A6E4_030B,
    0x3FF3_06FE_0A31_B715, 0x3FF3_3C08_B264_16FF, 0x3FF3_71A7_373A_A9CB, 0x3FF3_A7DB_34E5_9FF7,
    0x3FF3_DEA6_4C12_3422, 0x3FF4_160A_21F7_2E2A, 0x3FF4_4E08_6061_892D, 0x3FF4_86A2_B5C1_3CD0,
    0x3FF4_BFDA_D536_2A27, 0x3FF4_F9B2_769D_2CA7, 0x3FF5_342B_569D_4F82, 0x3FF5_6F47_36B5_27DA,
    0x3FF5_AB07_DD48_5429, 0x3FF5_E76F_15AD_2148, 0x3FF6_247E_B03A_5585, 0x3FF6_6238_8255_2225,
    0x3FF6_A09E_667F_3BCD, 0x3FF6_DFB2_3C65_1A2F, 0x3FF7_1F75_E8EC_5F74, 0x3FF7_5FEB_5642_67C9,
    0x3FF7_A114_73EB_0187, 0x3FF7_E2F3_36CF_4E62, 0x3FF8_2589_994C_CE13, 0x3FF8_68D9_9B44_92ED,
    0x3FF8_ACE5_422A_A0DB, 0x3FF8_F1AE_9915_7736, 0x3FF9_3737_B0CD_C5E5, 0x3FF9_7D82_9FDE_4E50,
    0x3FF9_C491_82A3_F090, 0x3FFA_0C66_7B5D_E565, 0x3FFA_5503_B23E_255D, 0x3FFA_9E6B_5579_FDBF,
    0x3FFA_E89F_995A_D3AD, 0x3FFB_33A2_B84F_15FB, 0x3FFB_7F76_F2FB_5E47, 0x3FFB_CC1E_904B_C1D2,
    0x3FFC_199B_DD85_529C, 0x3FFC_67F1_2E57_D14B, 0x3FFC_B720_DCEF_9069, 0x3FFD_072D_4A07_897C,
    0x3FFD_5818_DCFB_A487, 0x3FFD_A9E6_03DB_3285, 0x3FFD_FC97_337B_9B5F, 0x3FFE_502E_E78B_3FF6,
    0x3FFE_A4AF_A2A4_90DA, 0x3FFE_FA1B_EE61_5A27, 0x3FFF_5076_5B6E_4540, 0x3FFF_A7C1_819E_90D8,
];
/// `64 / ln 2` (an exact scaling of `log2 e`).
const INV_LN2_64: f64 = std::f64::consts::LOG2_E * 64.0;
/// `ln 2 / 64` to 32 bits (fdlibm's `ln2_hi / 64`): `k * LN2_64_HI` is exact for the `k` used
/// here.
const LN2_64_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000) / 64.0;
/// `ln 2 / 64 - LN2_64_HI` (fdlibm's `ln2_lo / 64`).
const LN2_64_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76) / 64.0;
/// Adding then subtracting 1.5 * 2^52 rounds to the nearest integer, which the low bits of
/// the sum hold (two's complement).
const ROUNDING_SHIFT: f64 = 6_755_399_441_055_744.0;
/// `1023 * 64`: added to `k`, makes it non-negative with `k / 64 + 1023` (the biased binary
/// exponent) in its high bits.
const EXPONENT_BIAS: u64 = 1023 << 6;
/// Below this, `exp` is subnormal or 0 and [`exp_lanes`] leaves it to the platform.
const EXP_MIN: f64 = -708.0;
/// Below this, `exp` rounds to 0 (`ln 2^-1075` is -745.13).
const EXP_ZERO: f64 = -746.0;

/// `exp(x)` for `EXP_MIN <= x <= 0`: `x = (64 m + j) ln 2 / 64 + r` with `|r| <= ln 2 / 128`,
/// `exp(x) = 2^m 2^(j/64) exp(r)`, `exp(r) - 1` by its Taylor series to `r^5` (truncation
/// below 4e-17 relative). Branch-free apart from the table lookup, so that [`exp_lanes`]
/// vectorises, and the same bits on every platform.
#[inline(always)]
fn exp_reduced(x: f64) -> f64 {
    let shifted = x * INV_LN2_64 + ROUNDING_SHIFT;
    let k = shifted - ROUNDING_SHIFT;
    let r = (x - k * LN2_64_HI) - k * LN2_64_LO;
    let q = r * (1.0 + r * (1.0 / 2.0 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0)))));
    // k + 1023 * 64, at least 0 for x >= EXP_MIN: its low 6 bits are j, the rest m + 1023.
    let biased = shifted
        .to_bits()
        .wrapping_sub(ROUNDING_SHIFT.to_bits())
        .wrapping_add(EXPONENT_BIAS);
    let t = f64::from_bits(EXP2_TABLE[(biased & 63) as usize]);
    let scale = f64::from_bits((biased >> 6) << 52);
    (t + t * q) * scale
}

/// `exp` of each lane, every one at most 0 (the arguments of the RBF kernel): within 1e-15
/// relative of the exact value; below `EXP_MIN` the platform's `exp`, 0 below `EXP_ZERO`.
#[inline(always)]
fn exp_lanes(x: &[f64; LANES]) -> [f64; LANES] {
    let mut out = [0.0; LANES];
    let mut low = false;
    for (o, v) in out.iter_mut().zip(x) {
        low |= *v < EXP_MIN;
        *o = exp_reduced(v.max(EXP_MIN));
    }
    if low {
        for (o, v) in out.iter_mut().zip(x) {
            if *v < EXP_ZERO {
                *o = 0.0;
            } else if *v < EXP_MIN {
                *o = v.exp();
            }
        }
    }
    out
}

/// `exp(x)` for `x <= 0` as the decision function computes it (for tests).
#[cfg(test)]
pub(super) fn exp_non_positive(x: f64) -> f64 {
    exp_lanes(&[x; LANES])[0]
}
