//! The conformance suite proves itself: a small reference detector passes every check, and
//! each deliberately broken variant of it fails the check meant to catch its flaw.

use std::sync::atomic::{AtomicU64, Ordering};

use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};
use vigil_detectors::{Detector, DetectorError, check_batch, check_input};
use vigil_tests::conformance::{
    AUC_FILE, Check, Expectations, LabelledRows, check_detector, generated_stream,
};
use vigil_tests::shared_file;

/// One deliberate bug each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// The reference itself.
    None,
    /// Mixes a process-wide counter into its seed.
    NonDeterministic,
    /// Scores NaN before it has learned anything (a 0/0).
    ColdNaN,
    /// Leaves its random stream out of the snapshot.
    SnapshotForgetsRng,
    /// Accepts a snapshot with trailing bytes.
    RestoreIgnoresTrailingBytes,
    /// Writes fields as it reads them, so a truncated snapshot leaves half a state.
    RestoreIsNotAtomic,
    /// Pads short vectors with zeros and ignores extra values.
    NoDimensionCheck,
    /// Takes NaN and infinities as numbers.
    AcceptsNonFinite,
    /// Counts the event and draws from its random stream before checking the input.
    LearnsBeforeChecking,
    /// `score_learn_many` learns the whole batch, then scores it.
    BatchLearnsFirst,
    /// Lower is more anomalous, against the contract.
    InvertedScore,
}

const TAG: [u8; 4] = *b"MAHA";
const NAME: &str = "reservoir-mahalanobis";

static CONSTRUCTIONS: AtomicU64 = AtomicU64::new(0);

/// Squared Mahalanobis distance from the mean of a seeded reservoir sample of the rows seen
/// (Algorithm R), with a small ridge on the covariance. The reservoir's sums are kept
/// incrementally, and the mean and Cholesky factor recomputed from them after each learn.
struct ReservoirMahalanobis {
    dim: usize,
    capacity: usize,
    flaw: Flaw,
    rng: u64,
    seen: u64,
    reservoir: Vec<f64>,
    sum: Vec<f64>,
    cross: Vec<f64>,
    mean: Vec<f64>,
    cholesky: Vec<f64>,
}

impl ReservoirMahalanobis {
    fn new(dim: usize, capacity: usize, seed: u64, flaw: Flaw) -> ReservoirMahalanobis {
        let rng = if flaw == Flaw::NonDeterministic {
            seed ^ CONSTRUCTIONS
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        } else {
            seed
        };
        let mut d = ReservoirMahalanobis {
            dim,
            capacity,
            flaw,
            rng,
            seen: 0,
            reservoir: Vec::new(),
            sum: vec![0.0; dim],
            cross: vec![0.0; dim * dim],
            mean: vec![0.0; dim],
            cholesky: vec![0.0; dim * dim],
        };
        d.refresh();
        d
    }

    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn rows(&self) -> usize {
        self.reservoir.len() / self.dim
    }

    fn accumulate(&mut self, x: &[f64], sign: f64) {
        for i in 0..self.dim {
            self.sum[i] += sign * x[i];
            for j in 0..self.dim {
                self.cross[i * self.dim + j] += sign * x[i] * x[j];
            }
        }
    }

    /// Mean and Cholesky factor of covariance + ridge, from the reservoir sums.
    fn refresh(&mut self) {
        let d = self.dim;
        let n = self.rows().max(1) as f64;
        for i in 0..d {
            self.mean[i] = self.sum[i] / n;
        }
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] = self.cross[i * d + j] / n - self.mean[i] * self.mean[j];
            }
        }
        let trace: f64 = (0..d).map(|i| cov[i * d + i].abs()).sum();
        let ridge = 1e-9 + 1e-6 * trace / d as f64;
        for i in 0..d {
            cov[i * d + i] += ridge;
        }
        let l = &mut self.cholesky;
        l.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..d {
            for j in 0..=i {
                let mut s = cov[i * d + j];
                for k in 0..j {
                    s -= l[i * d + k] * l[j * d + k];
                }
                if i == j {
                    l[i * d + i] = s.max(ridge).sqrt();
                } else {
                    l[i * d + j] = s / l[j * d + j];
                }
            }
        }
    }

    fn check(&self, x: &[f64]) -> Result<(), DetectorError> {
        match self.flaw {
            Flaw::NoDimensionCheck => match x.iter().position(|v| !v.is_finite()) {
                Some(index) => Err(DetectorError::NonFinite {
                    detector: NAME.into(),
                    index,
                    value: x[index],
                }),
                None => Ok(()),
            },
            Flaw::AcceptsNonFinite if x.len() == self.dim => Ok(()),
            _ => check_input(NAME, self.dim, x),
        }
    }

    fn corrupt(reason: &str) -> DetectorError {
        DetectorError::Snapshot {
            detector: NAME.into(),
            reason: reason.into(),
        }
    }
}

impl Detector for ReservoirMahalanobis {
    fn name(&self) -> &str {
        NAME
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
        if self.flaw == Flaw::LearnsBeforeChecking {
            self.seen += 1;
            self.next_random();
            self.check(x)?;
            self.seen -= 1;
        }
        self.check(x)?;
        let x: Vec<f64> = (0..self.dim)
            .map(|i| x.get(i).copied().unwrap_or(0.0))
            .collect();
        self.seen += 1;
        if self.rows() < self.capacity {
            self.reservoir.extend_from_slice(&x);
            self.accumulate(&x, 1.0);
        } else {
            let slot = self.next_random() % self.seen;
            if let Ok(slot) = usize::try_from(slot)
                && slot < self.capacity
            {
                let old: Vec<f64> = self.reservoir[slot * self.dim..(slot + 1) * self.dim].to_vec();
                self.accumulate(&old, -1.0);
                self.reservoir[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(&x);
                self.accumulate(&x, 1.0);
            }
        }
        self.refresh();
        Ok(())
    }

    fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError> {
        self.check(x)?;
        let d = self.dim;
        if self.rows() == 0 {
            return Ok(if self.flaw == Flaw::ColdNaN {
                0.0 / self.rows() as f64
            } else {
                0.0
            });
        }
        let mut y = vec![0.0; d];
        let mut distance = 0.0;
        for i in 0..d {
            let mut s = x.get(i).copied().unwrap_or(0.0) - self.mean[i];
            let row = &self.cholesky[i * d..i * d + i];
            s -= row.iter().zip(&y).map(|(l, yk)| l * yk).sum::<f64>();
            y[i] = s / self.cholesky[i * d + i];
            distance += y[i] * y[i];
        }
        Ok(if self.flaw == Flaw::InvertedScore {
            -distance
        } else {
            distance
        })
    }

    fn score_learn_many(&mut self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        if self.flaw != Flaw::BatchLearnsFirst {
            check_batch(NAME, self.dim, xs, out.len())?;
            for (x, score) in xs.chunks_exact(self.dim).zip(out.iter_mut()) {
                *score = self.score_one(x)?;
                self.learn_one(x)?;
            }
            return Ok(());
        }
        check_batch(NAME, self.dim, xs, out.len())?;
        for x in xs.chunks_exact(self.dim) {
            self.learn_one(x)?;
        }
        for (x, score) in xs.chunks_exact(self.dim).zip(out.iter_mut()) {
            *score = self.score_one(x)?;
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(TAG, 1);
        w.u64(self.dim as u64);
        w.u64(self.capacity as u64);
        w.u64(if self.flaw == Flaw::SnapshotForgetsRng {
            0
        } else {
            self.rng
        });
        w.u64(self.seen);
        w.f64s(&self.reservoir);
        w.f64s(&self.sum);
        w.f64s(&self.cross);
        w.finish()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let mut r = SnapshotReader::new(NAME, bytes, TAG, 1)?;
        if self.flaw == Flaw::RestoreIsNotAtomic {
            self.seen = 0;
        }
        let dim = r.u64()?;
        let capacity = r.u64()?;
        let rng = r.u64()?;
        let seen = r.u64()?;
        let reservoir = r.f64s()?;
        let sum = r.f64s()?;
        let cross = r.f64s()?;
        if self.flaw != Flaw::RestoreIgnoresTrailingBytes {
            r.end()?;
        }
        if dim != self.dim as u64 {
            return Err(Self::corrupt("another dimension"));
        }
        let capacity = usize::try_from(capacity).map_err(|_| Self::corrupt("capacity"))?;
        if reservoir.len() % self.dim != 0
            || reservoir.len() / self.dim > capacity
            || sum.len() != self.dim
            || cross.len() != self.dim * self.dim
        {
            return Err(Self::corrupt("inconsistent lengths"));
        }
        self.capacity = capacity;
        if self.flaw != Flaw::SnapshotForgetsRng {
            self.rng = rng;
        }
        self.seen = seen;
        self.reservoir = reservoir;
        self.sum = sum;
        self.cross = cross;
        self.refresh();
        Ok(())
    }
}

fn reference(flaw: Flaw) -> impl Fn(u64) -> Box<dyn Detector> {
    move |seed| Box::new(ReservoirMahalanobis::new(5, 256, seed, flaw))
}

#[test]
fn the_reference_detector_conforms() {
    let report = check_detector(&reference(Flaw::None), &Expectations::online());
    eprintln!("{report}");
    report.assert_conforms();
    report.assert_seed_matters();
}

#[test]
fn each_flaw_is_caught_by_its_check() {
    let cases: [(Flaw, &[Check]); 10] = [
        (
            Flaw::NonDeterministic,
            &[Check::Determinism, Check::NonFinite, Check::BatchEqualsLoop],
        ),
        (Flaw::ColdNaN, &[Check::Determinism, Check::RocAuc]),
        (Flaw::SnapshotForgetsRng, &[Check::SnapshotRestore]),
        (Flaw::RestoreIgnoresTrailingBytes, &[Check::CorruptSnapshot]),
        (Flaw::RestoreIsNotAtomic, &[Check::CorruptSnapshot]),
        (Flaw::NoDimensionCheck, &[Check::DimensionMismatch]),
        (Flaw::AcceptsNonFinite, &[Check::NonFinite]),
        (
            Flaw::LearnsBeforeChecking,
            &[Check::DimensionMismatch, Check::NonFinite],
        ),
        (
            Flaw::BatchLearnsFirst,
            &[Check::NonFinite, Check::BatchEqualsLoop],
        ),
        (Flaw::InvertedScore, &[Check::RocAuc]),
    ];
    let auc_file_present = shared_file(AUC_FILE).is_some();
    for (flaw, expected) in cases {
        let report = check_detector(&reference(flaw), &Expectations::online());
        let mut failed: Vec<Check> = report.failures().iter().map(|(c, _)| *c).collect();
        let mut expected = expected.to_vec();
        if !auc_file_present {
            expected.retain(|c| *c != Check::RocAuc);
        }
        failed.sort_by_key(|c| format!("{c:?}"));
        expected.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(failed, expected, "{flaw:?}:\n{report}");
    }
}

#[test]
fn a_detector_for_another_dimension_fails_only_the_auc_check() {
    if shared_file(AUC_FILE).is_none() {
        return;
    }
    let make = |seed| -> Box<dyn Detector> {
        Box::new(ReservoirMahalanobis::new(3, 64, seed, Flaw::None))
    };
    let report = check_detector(&make, &Expectations::online());
    let failed: Vec<Check> = report.failures().iter().map(|(c, _)| *c).collect();
    assert_eq!(failed, [Check::RocAuc], "{report}");
}

#[test]
fn a_batch_model_is_fitted_then_scores_the_rest() {
    // The reference fitted in one go on the training rows and never learning afterwards
    // behaves as a batch model; the suite must fit it through the callback.
    let fit = |seed: u64, rows: &[f64]| -> Result<Box<dyn Detector>, DetectorError> {
        let mut d = ReservoirMahalanobis::new(5, usize::MAX, seed, Flaw::None);
        for x in rows.chunks_exact(5) {
            d.learn_one(x)?;
        }
        Ok(Box::new(d))
    };
    let make = |seed| -> Box<dyn Detector> {
        Box::new(ReservoirMahalanobis::new(5, usize::MAX, seed, Flaw::None))
    };
    let report = check_detector(&make, &Expectations::batch(5_000, &fit));
    eprintln!("{report}");
    report.assert_conforms();
}

#[test]
fn the_auc_file_reads_as_its_description_says() {
    let Some(path) = shared_file(AUC_FILE) else {
        return;
    };
    let Ok(data) = LabelledRows::read(&path) else {
        panic!("{} does not parse", path.display());
    };
    // Independently: count lines and those whose last field is 1.
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    let anomalies = lines.iter().filter(|l| l.ends_with(",1")).count();
    assert_eq!(data.dim, 5);
    assert_eq!(data.labels.len(), 20_000);
    assert_eq!(data.labels.len(), lines.len());
    assert_eq!(data.labels.iter().filter(|l| **l).count(), anomalies);
    assert_eq!(data.features.len(), 5 * 20_000);
    let first: Vec<f64> = lines[0]
        .split(',')
        .take(5)
        .filter_map(|c| c.parse().ok())
        .collect();
    assert_eq!(&data.features[..5], first.as_slice());

    let (train, test, labels) = data.split_first_normal(5_000);
    assert_eq!(train.len(), 5 * 5_000);
    assert_eq!(test.len(), 5 * 15_000);
    assert_eq!(labels.iter().filter(|l| **l).count(), anomalies);
}

#[test]
fn the_generated_stream_is_seeded_finite_and_has_repeats_and_outliers() {
    let a = generated_stream(4, 2_000, 1);
    assert_eq!(a, generated_stream(4, 2_000, 1));
    assert_ne!(a, generated_stream(4, 2_000, 2));
    assert!(a.iter().all(|v| v.is_finite()));
    let rows: Vec<&[f64]> = a.chunks_exact(4).collect();
    let repeats = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| rows[..*i].contains(r))
        .count();
    let outliers = rows.iter().filter(|r| r.iter().any(|v| *v > 8.0)).count();
    assert!((50..150).contains(&repeats), "{repeats} repeats");
    assert!((20..120).contains(&outliers), "{outliers} outliers");
}
