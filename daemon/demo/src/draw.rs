//! The few distributions the traffic model needs, drawn from one seeded ChaCha8 stream.
//!
//! Written out here rather than taken from a distributions crate so the stream of draws,
//! and with it every generated event, is fixed by this crate alone.

use std::f64::consts::TAU;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Microseconds per second, the generator's time unit.
pub(crate) const MICROS: f64 = 1_000_000.0;

/// Seconds to whole microseconds (saturating: `as` clamps out-of-range floats).
pub(crate) fn micros(secs: f64) -> i64 {
    (secs * MICROS).round() as i64
}

/// A seeded random stream with the draws the traffic model uses.
#[derive(Debug)]
pub(crate) struct Draw {
    rng: ChaCha8Rng,
    /// The second normal of the last Box-Muller pair, not handed out yet.
    spare_normal: Option<f64>,
}

impl Draw {
    pub(crate) fn new(rng: ChaCha8Rng) -> Self {
        Draw {
            rng,
            spare_normal: None,
        }
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// Uniform 64 random bits.
    pub(crate) fn bits(&mut self) -> u64 {
        self.rng.random::<u64>()
    }

    /// Uniform in [lo, hi).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi]; `lo` when the range is empty.
    pub(crate) fn int(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.rng.random_range(0..=hi - lo)
    }

    /// Uniform index below `len`; 0 for an empty range.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        if len <= 1 {
            return 0;
        }
        self.rng.random_range(0..len)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean (a Poisson process's gap).
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        -mean * (1.0 - self.unit()).ln()
    }

    /// Standard normal (Box-Muller, both of each pair used).
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(spare) = self.spare_normal.take() {
            return spare;
        }
        let radius = (-2.0 * (1.0 - self.unit()).ln()).sqrt();
        let (sin, cos) = (TAU * self.unit()).sin_cos();
        self.spare_normal = Some(radius * sin);
        radius * cos
    }

    /// Log-normal with the given median and log-space spread: the shape of byte counts and
    /// durations on real networks (most small, a long tail of large ones).
    pub(crate) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Log-normal rounded to a whole count of at least `min`.
    pub(crate) fn log_normal_count(&mut self, median: f64, sigma: f64, min: u64) -> u64 {
        (self.log_normal(median, sigma).round() as u64).max(min)
    }

    /// One item of a non-empty slice, uniformly.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// One item of a non-empty slice of `(item, weight)`, in proportion to the weights.
    pub(crate) fn pick_weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut ticket = self.int(0, total.saturating_sub(1));
        for (item, weight) in items {
            let weight = u64::from(*weight);
            if ticket < weight {
                return *item;
            }
            ticket -= weight;
        }
        items[items.len() - 1].0
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// `count` distinct items of `items` (all of them when `count` is larger), in random order.
    pub(crate) fn sample<T: Copy>(&mut self, items: &[T], count: usize) -> Vec<T> {
        let mut all = items.to_vec();
        self.shuffle(&mut all);
        all.truncate(count);
        all
    }
}

/// Mean of a weighted table of counts.
pub(crate) fn weighted_mean(items: &[(u64, u32)]) -> f64 {
    let total: f64 = items.iter().map(|(_, w)| f64::from(*w)).sum();
    if total == 0.0 {
        return 0.0;
    }
    items
        .iter()
        .map(|(value, w)| *value as f64 * f64::from(*w))
        .sum::<f64>()
        / total
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn draw() -> Draw {
        Draw::new(ChaCha8Rng::seed_from_u64(11))
    }

    #[test]
    fn exponential_has_its_mean() {
        let mut d = draw();
        let n = 200_000;
        let mean = (0..n).map(|_| d.exponential(3.0)).sum::<f64>() / f64::from(n);
        assert!((mean - 3.0).abs() < 0.05, "{mean}");
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut d = draw();
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| d.normal()).collect();
        let mean = xs.iter().sum::<f64>() / f64::from(n);
        let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((variance - 1.0).abs() < 0.01, "{variance}");
    }

    #[test]
    fn log_normal_has_its_median() {
        let mut d = draw();
        let mut xs: Vec<f64> = (0..100_001).map(|_| d.log_normal(500.0, 1.2)).collect();
        xs.sort_by(f64::total_cmp);
        let median = xs[xs.len() / 2];
        assert!((median / 500.0 - 1.0).abs() < 0.03, "{median}");
    }

    #[test]
    fn weighted_pick_follows_weights() {
        let mut d = draw();
        let table = [("a", 1), ("b", 3)];
        let n = 100_000;
        let b = (0..n).filter(|_| d.pick_weighted(&table) == "b").count();
        let share = b as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }

    #[test]
    fn int_stays_in_range_and_reaches_both_ends() {
        let mut d = draw();
        let xs: Vec<u64> = (0..1000).map(|_| d.int(2, 5)).collect();
        assert!(xs.iter().all(|x| (2..=5).contains(x)));
        assert!(xs.contains(&2) && xs.contains(&5));
        assert_eq!(d.int(7, 7), 7);
        assert_eq!(d.int(9, 3), 9);
    }

    #[test]
    fn sample_is_distinct() {
        let mut d = draw();
        let items: Vec<u32> = (0..50).collect();
        let mut picked = d.sample(&items, 20);
        picked.sort_unstable();
        picked.dedup();
        assert_eq!(picked.len(), 20);
    }

    #[test]
    fn weighted_mean_of_table() {
        assert_eq!(weighted_mean(&[(0, 1), (2, 3)]), 1.5);
        assert_eq!(weighted_mean(&[]), 0.0);
    }
}
