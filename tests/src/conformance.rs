//! The conformance suite every [`Detector`] passes, built in or plugin.
//!
//! [`check_detector`] builds instances with a factory `make(seed)` and runs these checks,
//! each reported separately ([`Check`]):
//!
//! - **Identity**: `name()` is non-empty and `dim()` at least 1, the same for every seed.
//! - **Determinism**: two instances with the same seed give bit-identical scores over a
//!   score-then-learn stream, and every score is a finite number (a model that has learned
//!   nothing too, or it says [`DetectorError::NotFitted`]). (Different seeds may differ;
//!   the report says whether they do.)
//! - **Snapshot and restore**: a snapshot taken mid-stream, restored into a fresh instance made
//!   with another seed and into one that has learned, gives bit-identical scores from then on,
//!   and the restored instance's own snapshot equals the one it was restored from.
//! - **Corrupt snapshot**: an empty, truncated, over-long or retagged snapshot is refused with
//!   [`DetectorError::Snapshot`] and leaves the model unchanged.
//! - **Wrong dimension**: vectors and batches of the wrong length are refused with
//!   [`DetectorError::DimensionMismatch`] by every method, and leave the model unchanged.
//! - **Non-finite input**: NaN, +inf and -inf are refused with [`DetectorError::NonFinite`]
//!   naming the feature, by every method, and leave the model unchanged (except that
//!   `score_learn_many` has scored and learned the rows before the bad one, as its contract
//!   says).
//! - **Batch equals loop**: `score_many` equals `score_one` row by row, and `score_learn_many`
//!   (in chunks of awkward sizes) equals the score-then-learn loop, scores and final state.
//! - **ROC AUC**: at least [`Expectations::min_roc_auc`] (0.9) on
//!   `../shared/vectors/synth_anomaly_s7.csv` (20,000 rows, 5 features), the mean over
//!   [`Expectations::auc_seeds`]: progressive score-then-learn for an online model; for a
//!   batch model, fit on the first normal rows and score all the others.
//!
//! The stream for the first checks is generated here (seeded, any dimension: clustered
//! values, exact repeats, a few far outliers), so they need no data file. The checks run
//! on instances that have already learned (or been fitted on) part of it, and snapshots are
//! taken at an odd position so a half-filled window must be carried along.
//!
//! ```no_run
//! use vigil_tests::conformance::{check_detector, Expectations};
//! # fn my_detector(seed: u64) -> Box<dyn vigil_detectors::Detector> { unimplemented!() }
//! let report = check_detector(&|seed| my_detector(seed), &Expectations::online());
//! report.assert_conforms();
//! ```

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use vigil_detectors::metrics::roc_auc;
use vigil_detectors::{Detector, DetectorError};

pub use crate::labelled::LabelledRows;

/// Rows learned (or fitted on) before a check starts: odd, so that windowed models are
/// caught mid-window.
const WARMUP_ROWS: usize = 637;
/// Rows each check scores after the warm-up.
const CHECK_ROWS: usize = 700;
/// Where, within the checked rows, the snapshot is taken.
const SNAPSHOT_AT: usize = 123;
/// Chunk sizes for `score_learn_many`, cycled.
const CHUNKS: [usize; 6] = [1, 2, 7, 64, 250, 31];
/// Seed of the generated stream.
const STREAM_SEED: u64 = 0x5EED_C0DE;
/// The labelled file of the AUC check, under the shared folder.
pub const AUC_FILE: &str = "vectors/synth_anomaly_s7.csv";

/// Builds and fits a batch model: `fit(seed, rows)` with `rows` row-major.
pub type FitFn<'a> = &'a dyn Fn(u64, &[f64]) -> Result<Box<dyn Detector>, DetectorError>;

/// How the model under test learns.
#[derive(Clone, Copy)]
pub enum Training<'a> {
    /// An online model: score each row, then learn it.
    Progressive,
    /// A batch model: `fit` trains it on rows given all at once; it then scores the rest.
    FitOnNormal {
        /// How many normal rows of the AUC file to fit on (the first ones).
        train_rows: usize,
        /// Builds a fitted model from a seed and row-major training rows.
        fit: FitFn<'a>,
    },
}

impl fmt::Debug for Training<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Training::Progressive => f.write_str("Progressive"),
            Training::FitOnNormal { train_rows, .. } => f
                .debug_struct("FitOnNormal")
                .field("train_rows", train_rows)
                .finish_non_exhaustive(),
        }
    }
}

/// What the suite expects of a detector.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// How it learns.
    pub training: Training<'a>,
    /// Least mean ROC AUC on the AUC file (default 0.9).
    pub min_roc_auc: f64,
    /// Model seeds of the AUC check; the mean over them is compared (default 0, 1, 2).
    pub auc_seeds: Vec<u64>,
    /// Seed of the instances of the other checks (default 7; the restore target uses this
    /// plus 1,000).
    pub seed: u64,
}

impl<'a> Expectations<'a> {
    /// An online model with the default bar.
    pub fn online() -> Expectations<'a> {
        Expectations {
            training: Training::Progressive,
            min_roc_auc: 0.9,
            auc_seeds: vec![0, 1, 2],
            seed: 7,
        }
    }

    /// A batch model fitted by `fit` on the first `train_rows` normal rows, with the default
    /// bar.
    pub fn batch(train_rows: usize, fit: FitFn<'a>) -> Expectations<'a> {
        Expectations {
            training: Training::FitOnNormal { train_rows, fit },
            ..Expectations::online()
        }
    }
}

/// One check of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    /// Name and dimension.
    Identity,
    /// Same seed, same scores; finite scores.
    Determinism,
    /// Snapshot, restore into another seed's instance, same scores after.
    SnapshotRestore,
    /// Bad snapshots refused, model unchanged.
    CorruptSnapshot,
    /// Wrong lengths refused, model unchanged.
    DimensionMismatch,
    /// NaN and infinities refused, model unchanged.
    NonFinite,
    /// `score_many` / `score_learn_many` equal the loops.
    BatchEqualsLoop,
    /// ROC AUC on the labelled file.
    RocAuc,
}

/// How one check went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Passed, with what was measured.
    Passed(String),
    /// Failed, with why.
    Failed(String),
    /// Not run (its data file is missing), with why.
    Skipped(String),
}

/// The outcome of every check for one detector.
#[derive(Debug, Clone)]
pub struct Report {
    /// The detector's name.
    pub detector: String,
    /// Each check in the order run.
    pub results: Vec<(Check, Outcome)>,
}

impl Report {
    /// The checks that failed, with why.
    pub fn failures(&self) -> Vec<(Check, &str)> {
        self.results
            .iter()
            .filter_map(|(check, outcome)| match outcome {
                Outcome::Failed(why) => Some((*check, why.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The outcome of `check`.
    pub fn outcome(&self, check: Check) -> Option<&Outcome> {
        self.results
            .iter()
            .find(|(c, _)| *c == check)
            .map(|(_, outcome)| outcome)
    }

    /// True when `check` failed.
    pub fn failed(&self, check: Check) -> bool {
        matches!(self.outcome(check), Some(Outcome::Failed(_)))
    }

    /// Panics with the whole report when any check failed.
    ///
    /// # Panics
    /// When a check failed.
    pub fn assert_conforms(&self) {
        assert!(
            self.failures().is_empty(),
            "{} does not conform:\n{self}",
            self.detector
        );
    }

    /// Panics unless the determinism check passed and found that another seed gives other
    /// scores: for a model that draws at random (trees, random features), a seed that
    /// changes nothing is a seed it ignores.
    ///
    /// # Panics
    /// When determinism did not pass, or another seed gave the same scores.
    pub fn assert_seed_matters(&self) {
        let Some(Outcome::Passed(note)) = self.outcome(Check::Determinism) else {
            panic!("determinism did not pass:\n{self}");
        };
        assert!(note.contains(SEEDS_DIFFER), "{note}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (check, outcome) in &self.results {
            let (word, text) = match outcome {
                Outcome::Passed(t) => ("ok", t),
                Outcome::Failed(t) => ("FAILED", t),
                Outcome::Skipped(t) => ("skipped", t),
            };
            writeln!(f, "{}: {check:?} {word}: {text}", self.detector)?;
        }
        Ok(())
    }
}

/// Result of one check before it becomes an [`Outcome`]: `Ok(note)` or `Err(why)`.
type CheckResult = Result<String, String>;

/// Runs the whole suite on detectors built by `make(seed)`.
///
/// `make` builds an instance that has learned nothing (for a batch model: not fitted; the
/// suite fits through [`Training::FitOnNormal`]'s `fit` where it needs a fitted one, and
/// restores snapshots into `make`'s unfitted instances).
pub fn check_detector(
    make: &dyn Fn(u64) -> Box<dyn Detector>,
    expectations: &Expectations<'_>,
) -> Report {
    let probe = make(expectations.seed);
    let detector = probe.name().to_string();
    let dim = probe.dim();
    drop(probe);
    let suite = Suite {
        make,
        expectations,
        dim,
        stream: generated_stream(dim.max(1), WARMUP_ROWS + CHECK_ROWS, STREAM_SEED),
    };
    let mut results = Vec::new();
    let checks = [
        Check::Identity,
        Check::Determinism,
        Check::SnapshotRestore,
        Check::CorruptSnapshot,
        Check::DimensionMismatch,
        Check::NonFinite,
        Check::BatchEqualsLoop,
        Check::RocAuc,
    ];
    for check in checks {
        // A detector that panics fails the check it panicked in; the others still run.
        let outcome = match catch_unwind(AssertUnwindSafe(|| suite.run(check))) {
            Ok(Ok(note)) if note.starts_with(SKIPPED) => {
                Outcome::Skipped(note.trim_start_matches(SKIPPED).to_string())
            }
            Ok(Ok(note)) => Outcome::Passed(note),
            Ok(Err(why)) => Outcome::Failed(why),
            Err(panic) => Outcome::Failed(format!("panicked: {}", panic_text(&panic))),
        };
        results.push((check, outcome));
    }
    Report { detector, results }
}

/// Marks a check's note as a skip.
const SKIPPED: &str = "skipped: ";
/// What the determinism check's note says when another seed gives other scores.
const SEEDS_DIFFER: &str = "another seed gives other scores";

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

struct Suite<'a> {
    make: &'a dyn Fn(u64) -> Box<dyn Detector>,
    expectations: &'a Expectations<'a>,
    dim: usize,
    /// `WARMUP_ROWS + CHECK_ROWS` rows of `dim` values, row-major.
    stream: Vec<f64>,
}

impl Suite<'_> {
    fn run(&self, check: Check) -> CheckResult {
        match check {
            Check::Identity => self.identity(),
            Check::Determinism => self.determinism(),
            Check::SnapshotRestore => self.snapshot_restore(),
            Check::CorruptSnapshot => self.corrupt_snapshot(),
            Check::DimensionMismatch => self.dimension_mismatch(),
            Check::NonFinite => self.non_finite(),
            Check::BatchEqualsLoop => self.batch_equals_loop(),
            Check::RocAuc => self.roc_auc(),
        }
    }

    fn warmup(&self) -> &[f64] {
        &self.stream[..WARMUP_ROWS * self.dim]
    }

    fn checked(&self) -> &[f64] {
        &self.stream[WARMUP_ROWS * self.dim..]
    }

    fn rows<'s>(&self, xs: &'s [f64]) -> impl Iterator<Item = &'s [f64]> + use<'s> {
        xs.chunks_exact(self.dim.max(1))
    }

    /// A model with `seed` that has learned the warm-up rows (online) or been fitted on them
    /// (batch).
    fn prepared(&self, seed: u64) -> Result<Box<dyn Detector>, String> {
        match self.expectations.training {
            Training::Progressive => {
                let mut d = (self.make)(seed);
                for (i, x) in self.rows(self.warmup()).enumerate() {
                    d.learn_one(x)
                        .map_err(|e| format!("learning warm-up row {i} failed: {e}"))?;
                }
                Ok(d)
            }
            Training::FitOnNormal { fit, .. } => fit(seed, self.warmup())
                .map_err(|e| format!("fitting on the warm-up rows failed: {e}")),
        }
    }

    /// Scores then learns each row, one by one, returning the scores' bits.
    fn score_learn_loop(
        d: &mut dyn Detector,
        rows: &[f64],
        dim: usize,
    ) -> Result<Vec<u64>, String> {
        let mut bits = Vec::with_capacity(rows.len() / dim.max(1));
        for (i, x) in rows.chunks_exact(dim.max(1)).enumerate() {
            let s = d
                .score_one(x)
                .map_err(|e| format!("scoring checked row {i} failed: {e}"))?;
            d.learn_one(x)
                .map_err(|e| format!("learning checked row {i} failed: {e}"))?;
            bits.push(s.to_bits());
        }
        Ok(bits)
    }

    fn identity(&self) -> CheckResult {
        if self.dim == 0 {
            return Err("dim() is 0: a detector takes at least one feature".into());
        }
        let a = (self.make)(self.expectations.seed);
        let b = (self.make)(self.expectations.seed + 1);
        if a.name().is_empty() {
            return Err("name() is empty".into());
        }
        if a.name() != b.name() || a.dim() != b.dim() {
            return Err(format!(
                "seeds change the identity: {:?}/{} vs {:?}/{}",
                a.name(),
                a.dim(),
                b.name(),
                b.dim()
            ));
        }
        Ok(format!("name {:?}, {} features", a.name(), a.dim()))
    }

    fn determinism(&self) -> CheckResult {
        let seed = self.expectations.seed;
        // A model that has learned nothing still scores with a number (or, if batch, says
        // it is not fitted): the first events of a stream meet a cold model.
        let cold = (self.make)(seed);
        for (i, x) in self.rows(self.warmup()).take(3).enumerate() {
            match cold.score_one(x) {
                Ok(s) if s.is_finite() => {}
                Err(DetectorError::NotFitted { .. }) => {}
                other => {
                    return Err(format!(
                        "a model that has learned nothing scores row {i} {other:?}, not a finite number or NotFitted"
                    ));
                }
            }
        }
        let mut a = self.prepared(seed)?;
        let mut b = self.prepared(seed)?;
        let sa = Self::score_learn_loop(a.as_mut(), self.checked(), self.dim)?;
        let sb = Self::score_learn_loop(b.as_mut(), self.checked(), self.dim)?;
        if let Some(i) = first_difference(&sa, &sb) {
            return Err(format!(
                "two instances with seed {seed} differ at checked row {i}: {} vs {}",
                f64::from_bits(sa[i]),
                f64::from_bits(sb[i])
            ));
        }
        if let Some((i, s)) = sa
            .iter()
            .map(|b| f64::from_bits(*b))
            .enumerate()
            .find(|(_, s)| !s.is_finite())
        {
            return Err(format!("checked row {i} scored {s}, not a finite number"));
        }
        let mut other = self.prepared(seed + 1)?;
        let so = Self::score_learn_loop(other.as_mut(), self.checked(), self.dim)?;
        let seeds_matter = if first_difference(&sa, &so).is_some() {
            SEEDS_DIFFER
        } else {
            "another seed gives the same scores"
        };
        Ok(format!("{} rows bit-identical; {seeds_matter}", sa.len()))
    }

    fn snapshot_restore(&self) -> CheckResult {
        let seed = self.expectations.seed;
        let mut a = self.prepared(seed)?;
        let (before, after) = self.checked().split_at(SNAPSHOT_AT * self.dim);
        Self::score_learn_loop(a.as_mut(), before, self.dim)?;
        let snapshot = a.snapshot();
        let sa = Self::score_learn_loop(a.as_mut(), after, self.dim)?;
        // Into a fresh instance, and into one that has a history of its own: the pool
        // restores into both.
        let targets = [
            ("a fresh instance", (self.make)(seed + 1_000)),
            ("an instance that has learned", self.prepared(seed + 1_000)?),
        ];
        for (what, mut b) in targets {
            b.restore(&snapshot)
                .map_err(|e| format!("restoring its own snapshot into {what} failed: {e}"))?;
            if b.snapshot() != snapshot {
                return Err(format!(
                    "{what}, once restored, gives a snapshot that differs from the one it was restored from"
                ));
            }
            let sb = Self::score_learn_loop(b.as_mut(), after, self.dim)?;
            if let Some(i) = first_difference(&sa, &sb) {
                return Err(format!(
                    "after restore into {what}, row {} scores {} instead of {}",
                    SNAPSHOT_AT + i,
                    f64::from_bits(sb[i]),
                    f64::from_bits(sa[i])
                ));
            }
        }
        Ok(format!(
            "{}-byte snapshot after {} rows; {} rows bit-identical after restore into a fresh and a used instance",
            snapshot.len(),
            WARMUP_ROWS + SNAPSHOT_AT,
            sa.len()
        ))
    }

    fn corrupt_snapshot(&self) -> CheckResult {
        let seed = self.expectations.seed;
        let a = self.prepared(seed)?;
        let good = a.snapshot();
        let mut target = self.prepared(seed)?;
        let untouched = target.snapshot();
        let mut variants: Vec<(&str, Vec<u8>)> = vec![("an empty snapshot", Vec::new())];
        if !good.is_empty() {
            variants.push(("a snapshot one byte short", good[..good.len() - 1].to_vec()));
            variants.push(("half a snapshot", good[..good.len() / 2].to_vec()));
            let mut retagged = good.clone();
            retagged[0] ^= 0x20;
            variants.push(("a snapshot with another tag", retagged));
        }
        let mut longer = good.clone();
        longer.push(0);
        variants.push(("a snapshot with a byte too many", longer));
        for (what, bytes) in &variants {
            match target.restore(bytes) {
                Err(DetectorError::Snapshot { .. }) => {}
                Err(other) => return Err(format!("{what} gave {other:?}, not a Snapshot error")),
                Ok(()) => return Err(format!("{what} was accepted")),
            }
            if target.snapshot() != untouched {
                return Err(format!("refusing {what} changed the model"));
            }
        }
        Ok(format!("{} bad snapshots refused", variants.len()))
    }

    fn dimension_mismatch(&self) -> CheckResult {
        let dim = self.dim;
        let mut d = self.prepared(self.expectations.seed)?;
        let before = d.snapshot();
        let row = &self.checked()[..dim];
        let mut lengths = vec![0, dim + 1, 2 * dim];
        if dim > 1 {
            lengths.push(dim - 1);
        }
        for len in lengths {
            let x: Vec<f64> = row.iter().copied().cycle().take(len).collect();
            let expect = |what: &str, r: Result<(), DetectorError>| match r {
                Err(DetectorError::DimensionMismatch { expected, got, .. })
                    if expected == dim && got == len =>
                {
                    Ok(())
                }
                other => Err(format!(
                    "{what} of {len} values gave {other:?}, not DimensionMismatch {{ expected: {dim}, got: {len} }}"
                )),
            };
            expect("score_one", d.score_one(&x).map(|_| ()))?;
            expect("learn_one", d.learn_one(&x))?;
        }
        // Batches whose length is not rows x dim.
        let xs: Vec<f64> = self.checked()[..2 * dim + 1].to_vec();
        let mut out = [0.0; 2];
        let batch = |what: &str, r: Result<(), DetectorError>| match r {
            Err(DetectorError::DimensionMismatch { .. }) => Ok(()),
            other => Err(format!(
                "{what} of {} values for 2 rows gave {other:?}, not DimensionMismatch",
                xs.len()
            )),
        };
        batch("score_many", d.score_many(&xs, &mut out))?;
        batch("score_learn_many", d.score_learn_many(&xs, &mut out))?;
        if d.snapshot() != before {
            return Err("refused input changed the model".into());
        }
        Ok("every method refuses wrong lengths; model unchanged".into())
    }

    fn non_finite(&self) -> CheckResult {
        let dim = self.dim;
        let seed = self.expectations.seed;
        let mut d = self.prepared(seed)?;
        let before = d.snapshot();
        let rows = &self.checked()[..3 * dim];
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for index in [0, dim / 2, dim - 1] {
                let mut x = rows[..dim].to_vec();
                x[index] = bad;
                let expect = |what: &str, r: Result<(), DetectorError>| match r {
                    Err(DetectorError::NonFinite {
                        index: i, value, ..
                    }) if i == index && value.to_bits() == bad.to_bits() => Ok(()),
                    other => Err(format!(
                        "{what} with {bad} at feature {index} gave {other:?}, not NonFinite naming it"
                    )),
                };
                expect("score_one", d.score_one(&x).map(|_| ()))?;
                expect("learn_one", d.learn_one(&x))?;
                let mut batch = rows.to_vec();
                batch[dim + index] = bad;
                let mut out = [0.0; 3];
                match d.score_many(&batch, &mut out) {
                    Err(DetectorError::NonFinite { .. }) => {}
                    other => {
                        return Err(format!(
                            "score_many with {bad} in row 1 gave {other:?}, not NonFinite"
                        ));
                    }
                }
            }
        }
        if d.snapshot() != before {
            return Err("refused non-finite input changed the model".into());
        }
        // score_learn_many stops at the bad row, having scored and learned the rows before.
        let mut batch = rows.to_vec();
        batch[dim + dim / 2] = f64::NAN;
        let mut out = [0.0; 3];
        match d.score_learn_many(&batch, &mut out) {
            Err(DetectorError::NonFinite { .. }) => {}
            other => {
                return Err(format!(
                    "score_learn_many with NaN in row 1 gave {other:?}, not NonFinite"
                ));
            }
        }
        let mut control = self.prepared(seed)?;
        let first = control
            .score_one(&rows[..dim])
            .map_err(|e| format!("control scoring failed: {e}"))?;
        control
            .learn_one(&rows[..dim])
            .map_err(|e| format!("control learning failed: {e}"))?;
        if out[0].to_bits() != first.to_bits() || d.snapshot() != control.snapshot() {
            return Err(
                "score_learn_many did not score and learn exactly the rows before the NaN".into(),
            );
        }
        Ok(
            "NaN, +inf and -inf refused by every method, naming the feature; model unchanged"
                .into(),
        )
    }

    fn batch_equals_loop(&self) -> CheckResult {
        let dim = self.dim;
        let seed = self.expectations.seed;
        let mut a = self.prepared(seed)?;
        let mut b = self.prepared(seed)?;
        let rows = self.checked();
        let n = rows.len() / dim;

        let mut many = vec![0.0; n];
        a.score_many(rows, &mut many)
            .map_err(|e| format!("score_many failed: {e}"))?;
        for (i, x) in self.rows(rows).enumerate() {
            let one = a
                .score_one(x)
                .map_err(|e| format!("score_one of row {i} failed: {e}"))?;
            if one.to_bits() != many[i].to_bits() {
                return Err(format!(
                    "score_many gives {} for row {i}, score_one {one}",
                    many[i]
                ));
            }
        }
        a.score_many(&[], &mut [])
            .map_err(|e| format!("score_many of no rows failed: {e}"))?;

        let mut batched = vec![0.0; n];
        let mut start = 0;
        for size in CHUNKS.iter().cycle() {
            if start == n {
                break;
            }
            let end = (start + size).min(n);
            a.score_learn_many(&rows[start * dim..end * dim], &mut batched[start..end])
                .map_err(|e| format!("score_learn_many of rows {start}..{end} failed: {e}"))?;
            start = end;
        }
        let looped = Self::score_learn_loop(b.as_mut(), rows, dim)?;
        let batched_bits: Vec<u64> = batched.iter().map(|s| s.to_bits()).collect();
        if let Some(i) = first_difference(&batched_bits, &looped) {
            return Err(format!(
                "score_learn_many gives {} for row {i}, the loop {}",
                batched[i],
                f64::from_bits(looped[i])
            ));
        }
        if a.snapshot() != b.snapshot() {
            return Err("score_learn_many leaves another state than the loop".into());
        }
        Ok(format!("{n} rows, chunks of {CHUNKS:?}"))
    }

    fn roc_auc(&self) -> CheckResult {
        let Some(path) = crate::shared_file(AUC_FILE) else {
            return Ok(format!("{SKIPPED}{AUC_FILE} is missing"));
        };
        let data = LabelledRows::read(&path)?;
        if self.dim != data.dim {
            return Err(format!(
                "the AUC check needs a detector for the file's {} features; this one takes {}",
                data.dim, self.dim
            ));
        }
        let mut aucs = Vec::new();
        for &seed in &self.expectations.auc_seeds {
            let (scores, labels) = match self.expectations.training {
                Training::Progressive => {
                    let mut d = (self.make)(seed);
                    let mut scores = vec![0.0; data.labels.len()];
                    d.score_learn_many(&data.features, &mut scores)
                        .map_err(|e| format!("score_learn_many over the file failed: {e}"))?;
                    (scores, data.labels.clone())
                }
                Training::FitOnNormal { train_rows, fit } => {
                    let (train, test, labels) = data.split_first_normal(train_rows);
                    let d = fit(seed, &train).map_err(|e| format!("fit failed: {e}"))?;
                    let mut scores = vec![0.0; labels.len()];
                    d.score_many(&test, &mut scores)
                        .map_err(|e| format!("score_many of the test rows failed: {e}"))?;
                    (scores, labels)
                }
            };
            let auc = roc_auc(&scores, &labels).map_err(|e| format!("seed {seed}: {e}"))?;
            aucs.push(auc);
        }
        if aucs.is_empty() {
            return Err("no seeds to measure ROC AUC with".into());
        }
        let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
        let per_seed: Vec<String> = aucs.iter().map(|a| format!("{a:.4}")).collect();
        let note = format!(
            "ROC AUC {mean:.4} (seeds {:?}: {})",
            self.expectations.auc_seeds,
            per_seed.join(", ")
        );
        if mean < self.expectations.min_roc_auc {
            return Err(format!("{note} is below {}", self.expectations.min_roc_auc));
        }
        Ok(note)
    }
}

fn first_difference(a: &[u64], b: &[u64]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// A seeded stream of `rows` rows of `dim` values: points around a few cluster centres with
/// feature-dependent spreads, 5 % exact repeats of an earlier row, 3 % outliers far out, and
/// every value finite. Row-major.
pub fn generated_stream(dim: usize, rows: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut uniform = move || (crate::splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
    let centres = [-2.0, 0.5, 3.0];
    let mut out: Vec<f64> = Vec::with_capacity(dim * rows);
    for row in 0..rows {
        let kind = uniform();
        if row > 0 && kind < 0.05 {
            let earlier = ((uniform() * row as f64) as usize).min(row - 1);
            let copy: Vec<f64> = out[earlier * dim..(earlier + 1) * dim].to_vec();
            out.extend_from_slice(&copy);
            continue;
        }
        let centre = centres[((uniform() * 3.0) as usize).min(2)];
        let outlier = kind > 0.97;
        for f in 0..dim {
            // Sum of three uniforms: a bell shape without transcendental functions.
            let bell = uniform() + uniform() + uniform() - 1.5;
            let spread = 0.5 + 0.25 * f as f64;
            let v = centre + bell * spread;
            out.push(if outlier { v * 6.0 + 10.0 } else { v });
        }
    }
    out
}
