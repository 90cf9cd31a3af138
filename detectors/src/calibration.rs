//! Score calibration against a reservoir of reference scores.
//!
//! Raw scores of different models live on different scales (a Half-Space Trees mass, an SVM
//! decision value); an analyst's threshold cannot. A [`Calibrator`] turns a model's raw score
//! into its quantile, in [0, 1], among a bounded reservoir of that model's *reference* scores:
//! scores of recent events that were not alerted on (DESIGN section 5). The caller decides what
//! to offer with [`Calibrator::offer_reference`]; offering only non-alerted events means a burst
//! of attacks does not move the reference, so an alert threshold of 0.99 keeps meaning "more
//! anomalous than 99 % of recent normal traffic".
//!
//! The reservoir fills with every offered score until it holds `capacity` of them. From then on
//! it refreshes slowly: each offered score is accepted with probability `refresh_rate` (a seeded
//! draw) and replaces the oldest reference score. The reference therefore spans the last
//! `capacity / refresh_rate` offered scores or so (100,000 with the defaults), and follows slow
//! drift without being swept away by a short burst.
//!
//! ```
//! use vigil_detectors::calibration::{Calibrator, CalibratorConfig};
//! let mut c = Calibrator::new(CalibratorConfig { capacity: 4, ..CalibratorConfig::default() })?;
//! assert_eq!(c.calibrate(3.0), 0.5); // nothing to compare with yet
//! for raw in [1.0, 2.0, 3.0, 4.0] {
//!     c.offer_reference(raw);
//! }
//! assert_eq!(c.calibrate(0.5), 0.0); // below every reference score
//! assert_eq!(c.calibrate(2.5), 0.5); // above half of them
//! assert_eq!(c.calibrate(3.0), 0.625); // ties count half: (2 + 0.5) / 4
//! assert_eq!(c.calibrate(9.0), 1.0); // above all of them
//! # Ok::<(), vigil_detectors::DetectorError>(())
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::DetectorError;
use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::{invalid_parameter, snapshot_error};

/// Name used in errors.
const NAME: &str = "calibrator";
/// Snapshot tag and format version.
const TAG: [u8; 4] = *b"CALB";
const VERSION: u16 = 1;

/// Parameters of a [`Calibrator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibratorConfig {
    /// Most reference scores kept (default 10,000). Memory is 16 bytes per score.
    pub capacity: usize,
    /// Once the reservoir is full, the probability that an offered score enters it, replacing
    /// the oldest (default 0.1, in (0, 1]). 1 makes the reservoir a plain sliding window over
    /// the last `capacity` offered scores.
    pub refresh_rate: f64,
    /// Seed of the acceptance draws.
    pub seed: u64,
}

impl Default for CalibratorConfig {
    fn default() -> CalibratorConfig {
        CalibratorConfig {
            capacity: 10_000,
            refresh_rate: 0.1,
            seed: 0,
        }
    }
}

impl CalibratorConfig {
    fn validate(&self) -> Result<(), DetectorError> {
        if self.capacity == 0 {
            return Err(invalid_parameter(
                NAME,
                "capacity",
                "must be at least 1",
                self.capacity,
            ));
        }
        if !(self.refresh_rate > 0.0 && self.refresh_rate <= 1.0) {
            return Err(invalid_parameter(
                NAME,
                "refresh_rate",
                "must be in (0, 1]",
                self.refresh_rate,
            ));
        }
        Ok(())
    }
}

/// What [`Calibrator::offer_reference`] did with a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The reservoir was not full yet: the score was added.
    Added,
    /// The reservoir was full and the draw accepted the score: it replaced the oldest one.
    Replaced,
    /// The reservoir was full and the draw passed over the score.
    Skipped,
    /// The score was NaN or infinite and was ignored: it has no place in a ranking.
    NonFinite,
}

/// Turns raw scores into quantiles among a bounded, slowly refreshed reservoir of reference
/// scores (see the [module documentation](self)).
///
/// [`calibrate`](Self::calibrate) is a binary search in a sorted copy of the reservoir:
/// O(log capacity). An accepted [`offer_reference`](Self::offer_reference) moves part of the
/// sorted copy: O(capacity) memory moves in the worst case, about 5 microseconds at the
/// default capacity, paid only for the accepted fraction of the offers.
///
/// Deterministic: the same configuration and the same offers give the same reservoir, and
/// [`snapshot`](Self::snapshot) / [`restore`](Self::restore) carry the whole state, the
/// position of the random stream included.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrator {
    config: CalibratorConfig,
    rng: ChaCha8Rng,
    /// Reference scores in arrival order, used as a ring once full.
    ring: Vec<f64>,
    /// Index in `ring` of the oldest score once the ring is full (the next to be replaced).
    oldest: usize,
    /// The same scores, sorted ascending.
    sorted: Vec<f64>,
    /// Finite scores offered so far, accepted or not.
    offered: u64,
}

impl Calibrator {
    /// An empty calibrator.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] for a capacity of 0 or a refresh rate outside (0, 1].
    pub fn new(config: CalibratorConfig) -> Result<Calibrator, DetectorError> {
        config.validate()?;
        Ok(Calibrator {
            config,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            ring: Vec::new(),
            oldest: 0,
            sorted: Vec::new(),
            offered: 0,
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &CalibratorConfig {
        &self.config
    }

    /// How many reference scores it holds (at most the capacity).
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True before the first reference score.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// How many finite scores have been offered, accepted or not.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// The quantile of `raw` among the reference scores, in [0, 1]: the fraction of them below
    /// `raw`, with reference scores equal to `raw` counted half (the mid-rank, so a model whose
    /// scores are all equal calibrates them to 0.5, not to 0 or 1).
    ///
    /// - An empty reservoir gives 0.5: no evidence either way, and below any sensible alert
    ///   threshold, so a model cannot alert before it has a reference. Check
    ///   [`len`](Self::len) to require a minimum reference size.
    /// - `+inf` gives 1 and `-inf` gives 0, as any score beyond the reference does.
    /// - NaN gives NaN, so a broken score stays visible instead of passing for a normal one.
    pub fn calibrate(&self, raw: f64) -> f64 {
        if raw.is_nan() {
            return f64::NAN;
        }
        if self.sorted.is_empty() {
            return 0.5;
        }
        let below = self.sorted.partition_point(|&v| v < raw);
        // Continuous scores rarely tie: the second search only runs when one does.
        let equal = if self.sorted.get(below) == Some(&raw) {
            self.sorted[below..].partition_point(|&v| v <= raw)
        } else {
            0
        };
        (below as f64 + 0.5 * equal as f64) / self.sorted.len() as f64
    }

    /// Offers the raw score of an event that was not alerted on as a reference score: added
    /// while the reservoir is not full, then accepted with probability `refresh_rate`,
    /// replacing the oldest. NaN and infinite scores are ignored ([`Offer::NonFinite`]) and
    /// draw nothing from the random stream.
    pub fn offer_reference(&mut self, raw: f64) -> Offer {
        if !raw.is_finite() {
            return Offer::NonFinite;
        }
        // -0.0 and 0.0 rank the same; one spelling keeps the sorted copy bit-reproducible.
        let raw = raw + 0.0;
        self.offered += 1;
        if self.ring.len() < self.config.capacity {
            self.ring.push(raw);
            let at = self.sorted.partition_point(|&v| v < raw);
            self.sorted.insert(at, raw);
            return Offer::Added;
        }
        if self.rng.random::<f64>() >= self.config.refresh_rate {
            return Offer::Skipped;
        }
        let old = std::mem::replace(&mut self.ring[self.oldest], raw);
        self.oldest = (self.oldest + 1) % self.ring.len();
        // Both positions come from binary searches; the shift between them is the only
        // linear part, and it only spans the scores between the old and the new value.
        let from = self.sorted.partition_point(|&v| v < old);
        let to = self.sorted.partition_point(|&v| v < raw);
        if to <= from {
            self.sorted.copy_within(to..from, to + 1);
            self.sorted[to] = raw;
        } else {
            // `old` leaves index `from`; everything in (from, to) moves down by one.
            self.sorted.copy_within(from + 1..to, from);
            self.sorted[to - 1] = raw;
        }
        Offer::Replaced
    }

    /// The calibrator's whole state as versioned bytes (tag `CALB`).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(TAG, VERSION);
        w.u64(self.config.capacity as u64);
        w.f64(self.config.refresh_rate);
        w.u64(self.config.seed);
        let word_pos = self.rng.get_word_pos();
        w.u64(word_pos as u64);
        w.u64((word_pos >> 64) as u64);
        w.u64(self.oldest as u64);
        w.u64(self.offered);
        w.f64s(&self.ring);
        w.finish()
    }

    /// Replaces the whole state, configuration included, with a snapshot taken by
    /// [`snapshot`](Self::snapshot).
    ///
    /// # Errors
    /// [`DetectorError::Snapshot`] for another kind of snapshot, another version, a corrupt or
    /// cut-short one; the calibrator is left unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let mut r = SnapshotReader::new(NAME, bytes, TAG, VERSION)?;
        let capacity = r.u64()?;
        let refresh_rate = r.f64()?;
        let seed = r.u64()?;
        let word_pos = u128::from(r.u64()?) | (u128::from(r.u64()?) << 64);
        let oldest = r.u64()?;
        let offered = r.u64()?;
        let ring = r.f64s()?;
        r.end()?;
        let capacity = usize::try_from(capacity)
            .map_err(|_| snapshot_error(NAME, format!("capacity {capacity} is too large")))?;
        let config = CalibratorConfig {
            capacity,
            refresh_rate,
            seed,
        };
        config
            .validate()
            .map_err(|e| snapshot_error(NAME, e.to_string()))?;
        if ring.len() > capacity {
            return Err(snapshot_error(
                NAME,
                format!(
                    "{} reference scores exceed the capacity {capacity}",
                    ring.len()
                ),
            ));
        }
        if let Some(bad) = ring.iter().find(|v| !v.is_finite()) {
            return Err(snapshot_error(
                NAME,
                format!("reference score {bad} is not finite"),
            ));
        }
        let oldest = usize::try_from(oldest)
            .ok()
            .filter(|&o| o < ring.len().max(1))
            .ok_or_else(|| {
                snapshot_error(
                    NAME,
                    format!(
                        "oldest index {oldest} is outside the {} reference scores",
                        ring.len()
                    ),
                )
            })?;
        if (offered as u128) < ring.len() as u128 {
            return Err(snapshot_error(
                NAME,
                format!(
                    "{offered} offered scores cannot have filled {} places",
                    ring.len()
                ),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_word_pos(word_pos);
        let mut sorted = ring.clone();
        sorted.sort_by(f64::total_cmp);
        *self = Calibrator {
            config,
            rng,
            ring,
            oldest,
            sorted,
            offered,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calibrator(capacity: usize, refresh_rate: f64, seed: u64) -> Calibrator {
        match Calibrator::new(CalibratorConfig {
            capacity,
            refresh_rate,
            seed,
        }) {
            Ok(c) => c,
            Err(e) => panic!("valid test configuration refused: {e}"),
        }
    }

    /// A small deterministic uniform generator independent of the calibrator's own RNG.
    fn uniforms(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                (z >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    /// The definition, by counting: fraction below plus half the fraction equal.
    fn brute_quantile(reference: &[f64], raw: f64) -> f64 {
        if reference.is_empty() {
            return 0.5;
        }
        let below = reference.iter().filter(|&&v| v < raw).count() as f64;
        let equal = reference.iter().filter(|&&v| v == raw).count() as f64;
        (below + 0.5 * equal) / reference.len() as f64
    }

    #[test]
    fn parameters_are_validated_with_their_value() {
        for (capacity, rate, needle) in [
            (0, 0.1, "capacity"),
            (10, 0.0, "refresh_rate"),
            (10, 1.5, "refresh_rate"),
            (10, f64::NAN, "refresh_rate"),
        ] {
            let err = Calibrator::new(CalibratorConfig {
                capacity,
                refresh_rate: rate,
                seed: 0,
            })
            .err();
            let Some(DetectorError::InvalidParameter { name, value, .. }) = err else {
                panic!("{capacity} / {rate} accepted: {err:?}");
            };
            assert_eq!(name, needle);
            assert!(value == capacity.to_string() || value == rate.to_string());
        }
    }

    #[test]
    fn empty_reservoir_calibrates_to_one_half_and_nan_stays_nan() {
        let c = calibrator(10, 0.1, 0);
        assert!(c.is_empty());
        assert_eq!(c.calibrate(-1e300), 0.5);
        assert_eq!(c.calibrate(1e300), 0.5);
        assert!(c.calibrate(f64::NAN).is_nan());
    }

    #[test]
    fn ties_count_half_and_infinities_are_extremes() {
        let mut c = calibrator(8, 0.1, 0);
        for raw in [1.0, 1.0, 1.0, 2.0, 2.0, 5.0, -0.0, 0.0] {
            assert_eq!(c.offer_reference(raw), Offer::Added);
        }
        // Reference: 0, 0, 1, 1, 1, 2, 2, 5.
        assert_eq!(c.calibrate(1.0), (2.0 + 1.5) / 8.0);
        assert_eq!(c.calibrate(0.0), 0.125);
        assert_eq!(c.calibrate(-0.0), 0.125);
        assert_eq!(c.calibrate(5.0), 7.5 / 8.0);
        assert_eq!(c.calibrate(f64::INFINITY), 1.0);
        assert_eq!(c.calibrate(f64::NEG_INFINITY), 0.0);
        let mut constant = calibrator(3, 0.1, 0);
        for _ in 0..3 {
            constant.offer_reference(7.0);
        }
        assert_eq!(constant.calibrate(7.0), 0.5);
    }

    #[test]
    fn non_finite_offers_are_ignored_without_drawing() {
        let mut a = calibrator(2, 0.5, 3);
        let mut b = calibrator(2, 0.5, 3);
        for raw in [1.0, 2.0] {
            a.offer_reference(raw);
            b.offer_reference(raw);
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(a.offer_reference(bad), Offer::NonFinite);
        }
        assert_eq!(a.offered(), 2);
        for raw in uniforms(9, 200) {
            assert_eq!(a.offer_reference(raw), b.offer_reference(raw));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn calibrate_matches_counting_while_the_ring_turns_over() {
        // Coarse values force many ties and equal old/new replacements.
        let mut c = calibrator(64, 0.7, 11);
        let mut reference: Vec<f64> = Vec::new();
        let mut oldest = 0;
        let mut replaced = 0;
        for (i, u) in uniforms(5, 5_000).into_iter().enumerate() {
            let raw = (u * 20.0).floor() - 10.0;
            match c.offer_reference(raw) {
                Offer::Added => reference.push(raw),
                Offer::Replaced => {
                    reference[oldest] = raw;
                    oldest = (oldest + 1) % reference.len();
                    replaced += 1;
                }
                Offer::Skipped => {}
                Offer::NonFinite => panic!("{raw} is finite"),
            }
            if i % 97 == 0 {
                for probe in [-11.0, -10.0, -3.5, 0.0, 4.0, 9.0, 9.5] {
                    assert_eq!(c.calibrate(probe), brute_quantile(&reference, probe));
                }
            }
        }
        let mut sorted = reference.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(c.sorted, sorted);
        // About 70 % of the 4,936 offers after filling are accepted.
        assert!((3_300..3_600).contains(&replaced), "{replaced} replaced");
    }

    #[test]
    fn uniform_scores_calibrate_to_uniform() {
        let mut c = calibrator(2_000, 0.1, 1);
        for raw in uniforms(21, 20_000) {
            c.offer_reference(raw);
        }
        assert_eq!(c.len(), 2_000);
        // For uniform data the calibrated value of x is about x, and the calibrated values of
        // fresh uniform scores are themselves uniform: check the largest gap of their empirical
        // distribution (Kolmogorov-Smirnov); 0.05 is far above the 1 % critical value of a
        // 2,000-score reference and 4,000 probes.
        let mut calibrated: Vec<f64> = uniforms(99, 4_000)
            .into_iter()
            .map(|raw| c.calibrate(raw))
            .collect();
        calibrated.sort_by(f64::total_cmp);
        let n = calibrated.len() as f64;
        let ks = calibrated
            .iter()
            .enumerate()
            .map(|(i, q)| (q - i as f64 / n).abs().max((q - (i + 1) as f64 / n).abs()))
            .fold(0.0, f64::max);
        assert!(ks < 0.05, "KS distance {ks}");
        for x in [0.1, 0.5, 0.9, 0.99] {
            assert!(
                (c.calibrate(x) - x).abs() < 0.04,
                "{x} -> {}",
                c.calibrate(x)
            );
        }
    }

    #[test]
    fn a_burst_that_is_not_offered_does_not_move_the_reference() {
        let mut c = calibrator(1_000, 0.2, 4);
        for raw in uniforms(8, 5_000) {
            c.offer_reference(raw);
        }
        let before = c.snapshot();
        let before_099 = c.calibrate(0.99);
        // A burst of attack scores: calibrated (they calibrate high) but, being alerted on,
        // never offered as references.
        for raw in uniforms(13, 3_000) {
            let attack = 10.0 + raw;
            assert_eq!(c.calibrate(attack), 1.0);
        }
        assert_eq!(c.snapshot(), before);
        assert_eq!(c.calibrate(0.99), before_099);
        // Normal traffic after the burst still calibrates as before.
        assert!((c.calibrate(0.5) - 0.5).abs() < 0.05);
    }

    #[test]
    fn slow_refresh_follows_a_shift_gradually() {
        // A level shift of the normal scores by +1: with refresh rate 0.1 and capacity 500
        // the reference needs about 5,000 offers to turn over.
        let mut c = calibrator(500, 0.1, 6);
        for raw in uniforms(1, 1_000) {
            c.offer_reference(raw);
        }
        let shifted = uniforms(2, 10_000);
        for raw in &shifted[..1_000] {
            c.offer_reference(raw + 1.0);
        }
        let early = c.calibrate(1.5);
        assert!(
            early > 0.7,
            "after 1,000 shifted offers 1.5 is still high: {early}"
        );
        for raw in &shifted[1_000..] {
            c.offer_reference(raw + 1.0);
        }
        let late = c.calibrate(1.5);
        assert!(
            (late - 0.5).abs() < 0.1,
            "after turnover 1.5 is mid: {late}"
        );
    }

    #[test]
    fn same_seed_same_reservoir_other_seed_other_reservoir() {
        let scores = uniforms(3, 3_000);
        let run = |seed| {
            let mut c = calibrator(100, 0.3, seed);
            for raw in &scores {
                c.offer_reference(*raw);
            }
            c
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1).ring, run(2).ring);
    }

    #[test]
    fn snapshot_restore_continues_bit_identically() {
        let scores = uniforms(17, 4_000);
        let mut a = calibrator(300, 0.25, 42);
        for raw in &scores[..1_234] {
            a.offer_reference(*raw);
        }
        let mut b = calibrator(5, 1.0, 7);
        b.offer_reference(3.0);
        assert!(b.restore(&a.snapshot()).is_ok());
        assert_eq!(a, b);
        for raw in &scores[1_234..] {
            assert_eq!(a.offer_reference(*raw), b.offer_reference(*raw));
            assert_eq!(a.calibrate(*raw).to_bits(), b.calibrate(*raw).to_bits());
        }
        assert_eq!(a.snapshot(), b.snapshot());
    }

    #[test]
    fn corrupt_snapshots_are_refused_and_leave_the_state_alone() {
        let mut a = calibrator(4, 0.5, 1);
        for raw in [1.0, 2.0, 3.0] {
            a.offer_reference(raw);
        }
        let good = a.snapshot();
        let mut target = calibrator(9, 0.1, 2);
        target.offer_reference(5.0);
        let untouched = target.clone();

        let mut cut = good.clone();
        cut.pop();
        let mut other_tag = good.clone();
        other_tag[0] = b'X';
        let mut extra = good.clone();
        extra.push(0);
        // Capacity (bytes 6..14) set to 2, below the 3 stored scores.
        let mut over_capacity = good.clone();
        over_capacity[6..14].copy_from_slice(&2u64.to_le_bytes());
        // The last stored score made NaN.
        let mut nan_score = good.clone();
        let last = nan_score.len() - 8;
        nan_score[last..].copy_from_slice(&f64::NAN.to_le_bytes());
        // Refresh rate (bytes 14..22) set to 0.
        let mut zero_rate = good.clone();
        zero_rate[14..22].copy_from_slice(&0f64.to_le_bytes());
        for bad in [cut, other_tag, extra, over_capacity, nan_score, zero_rate] {
            let result = target.restore(&bad);
            assert!(
                matches!(result, Err(DetectorError::Snapshot { .. })),
                "{result:?}"
            );
            assert_eq!(target, untouched);
        }
        assert!(target.restore(&good).is_ok());
        assert_eq!(target, a);
    }
}
