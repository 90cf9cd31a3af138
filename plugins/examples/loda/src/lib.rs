//! LODA, the lightweight on-line detector of anomalies (T. Pevný, "Loda: Lightweight on-line
//! detector of anomalies", Machine Learning 102, 2016), as a Vigil plugin: a detector the
//! core does not have.
//!
//! The model is `k` sparse random projections, each with a one-dimensional histogram of
//! the projected values. A row's score is the mean, over the projections, of `-ln p`, where
//! `p` is the density of the row's projection in that projection's histogram: rows that
//! fall where few rows fell score high.
//!
//! - **Projections**: each has `ceil(sqrt(dim))` non-zero weights on distinct features,
//!   drawn from N(0, 1), as in the paper; all drawn from the seed (SplitMix64 and
//!   Box-Muller), so two instances with the same config are identical.
//! - **Histograms** (the paper's on-line variant with two alternating histograms): the
//!   projections of the rows learned are kept for the current window of `window` rows; when
//!   it is full, each projection's histogram is rebuilt from it and the window starts over.
//!   Scoring uses the histograms of the last full window. Each histogram is equi-width, from
//!   the window's smallest value, with Scott's bin width `3.49 sd window^(-1/3)`; the density
//!   of a bin holding `c` of the window's `n` values is `(c + 0.5) / ((n + 1) width)`, and a
//!   value outside every bin counts as `c = 0`.
//! - Until the first window is full, every row scores 0.
//!
//! Config (JSON, every key optional): `seed` (integer, default 0), `projections` (`k`,
//! 1..=10,000, default 100), `window` (rows, 16..=1,000,000, default 256).
//!
//! The snapshot holds the parameters (the projections are drawn again from the seed), the
//! current window's projected values and the histograms, in a versioned little-endian format.
#![warn(missing_docs)]

use vigil_plugin::serde_json::Value;
use vigil_plugin::{ConfigReader, Error, PluginDetector, export_detector};

/// The snapshot's first bytes.
const TAG: &[u8; 4] = b"VPLD";
/// The snapshot format's version.
const FORMAT: u8 = 1;
/// Bounds of the config.
const MAX_PROJECTIONS: usize = 10_000;
const MIN_WINDOW: usize = 16;
const MAX_WINDOW: usize = 1_000_000;

/// LODA's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LodaConfig {
    /// Seed of the projections.
    pub seed: u64,
    /// Number of projections (`k`).
    pub projections: usize,
    /// Rows per histogram window.
    pub window: usize,
}

impl Default for LodaConfig {
    fn default() -> LodaConfig {
        LodaConfig {
            seed: 0,
            projections: 100,
            window: 256,
        }
    }
}

impl LodaConfig {
    /// Reads the JSON config; absent keys take their defaults.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the key and value refused.
    pub fn from_json(config: &Value) -> Result<LodaConfig, Error> {
        let defaults = LodaConfig::default();
        let mut reader = ConfigReader::new(config)?;
        let c = LodaConfig {
            seed: reader.u64("seed", defaults.seed)?,
            projections: reader.usize("projections", defaults.projections)?,
            window: reader.usize("window", defaults.window)?,
        };
        reader.finish()?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), Error> {
        if !(1..=MAX_PROJECTIONS).contains(&self.projections) {
            return Err(Error::InvalidConfig(format!(
                "projections must be 1 to {MAX_PROJECTIONS}, got {}",
                self.projections
            )));
        }
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.window) {
            return Err(Error::InvalidConfig(format!(
                "window must be {MIN_WINDOW} to {MAX_WINDOW}, got {}",
                self.window
            )));
        }
        Ok(())
    }
}

/// One projection's histogram over a full window, with each bin's `-ln p` precomputed.
#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    origin: f64,
    width: f64,
    counts: Vec<u32>,
    /// `-ln p` per bin.
    nll: Vec<f64>,
    /// `-ln p` outside every bin.
    nll_outside: f64,
}

impl Histogram {
    fn new(origin: f64, width: f64, counts: Vec<u32>) -> Histogram {
        let n: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        let base = ((n + 1) as f64 * width).ln();
        let nll = counts
            .iter()
            .map(|&c| base - (f64::from(c) + 0.5).ln())
            .collect();
        Histogram {
            origin,
            width,
            counts,
            nll,
            nll_outside: base - 0.5f64.ln(),
        }
    }

    /// Builds the histogram of `values` (a full window).
    fn of(values: &[f64]) -> Histogram {
        let n = values.len() as f64;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut mean, mut m2) = (0.0, 0.0);
        for (i, &v) in values.iter().enumerate() {
            lo = lo.min(v);
            hi = hi.max(v);
            let delta = v - mean;
            mean += delta / (i + 1) as f64;
            m2 += delta * (v - mean);
        }
        let sd = (m2 / n).sqrt();
        let floor = 16.0 * f64::EPSILON * (1.0 + lo.abs().max(hi.abs()));
        let width = (3.49 * sd * n.powf(-1.0 / 3.0)).max(floor);
        // At most one bin per value (plus one): the bins cover [lo, hi].
        let bins = (((hi - lo) / width).floor() as usize + 1).min(values.len() + 1);
        let mut counts = vec![0u32; bins];
        for &v in values {
            let b = (((v - lo) / width) as usize).min(bins - 1);
            counts[b] += 1;
        }
        Histogram::new(lo, width, counts)
    }

    #[inline]
    fn nll(&self, z: f64) -> f64 {
        let pos = (z - self.origin) / self.width;
        if pos >= 0.0 && pos < self.nll.len() as f64 {
            self.nll[pos as usize]
        } else {
            self.nll_outside
        }
    }
}

/// LODA; see the crate documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Loda {
    config: LodaConfig,
    dim: usize,
    /// Non-zero weights per projection.
    per_projection: usize,
    /// `projections * per_projection` feature indices and weights.
    features: Vec<usize>,
    weights: Vec<f64>,
    /// Rows learned in all.
    learned: u64,
    /// Rows in the current window.
    fill: usize,
    /// Projected values of the current window, projection-major: `window` slots each.
    buffer: Vec<f64>,
    /// Histograms of the last full window, one per projection; empty before the first.
    histograms: Vec<Histogram>,
}

/// SplitMix64: the next 64 random bits.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1).
fn uniform(state: &mut u64) -> f64 {
    (splitmix64(state) >> 11) as f64 / (1u64 << 53) as f64
}

impl Loda {
    /// A model for `dim` features.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for parameters out of range or `dim` 0.
    pub fn new(dim: usize, config: LodaConfig) -> Result<Loda, Error> {
        config.validate()?;
        if dim == 0 {
            return Err(Error::InvalidConfig("dim must be at least 1, got 0".into()));
        }
        let per_projection = (dim as f64).sqrt().ceil() as usize;
        let mut state = config.seed;
        let mut features = Vec::with_capacity(config.projections * per_projection);
        let mut weights = Vec::with_capacity(config.projections * per_projection);
        let mut pool: Vec<usize> = (0..dim).collect();
        for _ in 0..config.projections {
            // A partial Fisher-Yates shuffle picks distinct features.
            for j in 0..per_projection {
                let pick = j + ((uniform(&mut state) * (dim - j) as f64) as usize).min(dim - j - 1);
                pool.swap(j, pick);
                features.push(pool[j]);
                // Box-Muller: a standard normal weight.
                let u1 = 1.0 - uniform(&mut state);
                let u2 = uniform(&mut state);
                weights.push((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos());
            }
        }
        Ok(Loda {
            config,
            dim,
            per_projection,
            features,
            weights,
            learned: 0,
            fill: 0,
            buffer: vec![0.0; config.projections * config.window],
            histograms: Vec::new(),
        })
    }

    /// Its parameters.
    pub fn config(&self) -> LodaConfig {
        self.config
    }

    /// Rows learned.
    pub fn learned(&self) -> u64 {
        self.learned
    }

    /// The projection `i` of `x`.
    #[inline]
    fn project(&self, i: usize, x: &[f64]) -> f64 {
        let start = i * self.per_projection;
        let end = start + self.per_projection;
        self.features[start..end]
            .iter()
            .zip(&self.weights[start..end])
            .map(|(&f, w)| x[f] * w)
            .sum()
    }

    /// The score of the projections `z` of a row.
    fn score_projected(&self, z: &[f64]) -> f64 {
        if self.histograms.is_empty() {
            return 0.0;
        }
        let sum: f64 = self.histograms.iter().zip(z).map(|(h, &v)| h.nll(v)).sum();
        sum / self.histograms.len() as f64
    }

    /// Adds the projections `z` of a row to the window, rebuilding the histograms when it is
    /// full.
    fn learn_projected(&mut self, z: &[f64]) {
        let window = self.config.window;
        for (i, &v) in z.iter().enumerate() {
            self.buffer[i * window + self.fill] = v;
        }
        self.fill += 1;
        self.learned += 1;
        if self.fill == window {
            self.histograms = self
                .buffer
                .chunks_exact(window)
                .map(Histogram::of)
                .collect();
            // Cleared, so that the state is exactly what a snapshot carries.
            self.buffer.fill(0.0);
            self.fill = 0;
        }
    }

    fn projected(&self, x: &[f64], z: &mut Vec<f64>) {
        z.clear();
        z.extend((0..self.config.projections).map(|i| self.project(i, x)));
    }
}

impl PluginDetector for Loda {
    const NAME: &'static str = "loda";

    fn create(config: &Value, dim: usize) -> Result<Loda, Error> {
        Loda::new(dim, LodaConfig::from_json(config)?)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn score_one(&self, x: &[f64]) -> Result<f64, Error> {
        if self.histograms.is_empty() {
            return Ok(0.0);
        }
        let sum: f64 = self
            .histograms
            .iter()
            .enumerate()
            .map(|(i, h)| h.nll(self.project(i, x)))
            .sum();
        Ok(sum / self.histograms.len() as f64)
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<(), Error> {
        let mut z = Vec::with_capacity(self.config.projections);
        self.projected(x, &mut z);
        self.learn_projected(&z);
        Ok(())
    }

    fn learn_batch(&mut self, xs: &[f64]) -> Result<(), Error> {
        let mut z = Vec::with_capacity(self.config.projections);
        for x in xs.chunks_exact(self.dim) {
            self.projected(x, &mut z);
            self.learn_projected(&z);
        }
        Ok(())
    }

    fn score_learn_batch(&mut self, xs: &[f64], out: &mut [f64]) -> Result<(), Error> {
        // Each row is projected once, for its score and for learning it.
        let mut z = Vec::with_capacity(self.config.projections);
        for (x, slot) in xs.chunks_exact(self.dim).zip(out.iter_mut()) {
            self.projected(x, &mut z);
            *slot = self.score_projected(&z);
            self.learn_projected(&z);
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(TAG);
        w.0.push(FORMAT);
        for v in [
            self.dim as u64,
            self.config.seed,
            self.config.projections as u64,
            self.config.window as u64,
            self.learned,
            self.fill as u64,
            self.histograms.len() as u64,
        ] {
            w.u64(v);
        }
        for chunk in self.buffer.chunks_exact(self.config.window) {
            for &v in &chunk[..self.fill] {
                w.f64(v);
            }
        }
        for h in &self.histograms {
            w.f64(h.origin);
            w.f64(h.width);
            w.u64(h.counts.len() as u64);
            for &c in &h.counts {
                w.0.extend_from_slice(&c.to_le_bytes());
            }
        }
        w.0
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let mut r = Reader(bytes);
        if r.take(4)? != TAG {
            return Err(Error::Snapshot("not a LODA snapshot (wrong tag)".into()));
        }
        let format = r.take(1)?[0];
        if format != FORMAT {
            return Err(Error::Snapshot(format!(
                "format version {format} is not {FORMAT}"
            )));
        }
        let dim = r.usize()?;
        if dim != self.dim {
            return Err(Error::Snapshot(format!(
                "a snapshot of {dim} features, this model takes {}",
                self.dim
            )));
        }
        let config = LodaConfig {
            seed: r.u64()?,
            projections: r.usize()?,
            window: r.usize()?,
        };
        config
            .validate()
            .map_err(|e| Error::Snapshot(format!("its parameters are refused: {e}")))?;
        let mut model =
            Loda::new(dim, config).map_err(|e| Error::Snapshot(format!("its model: {e}")))?;
        model.learned = r.u64()?;
        model.fill = r.usize()?;
        let histograms = r.usize()?;
        if model.fill >= config.window || (histograms != 0 && histograms != config.projections) {
            return Err(Error::Snapshot(format!(
                "window fill {} of {} or {histograms} histograms for {} projections",
                model.fill, config.window, config.projections
            )));
        }
        for i in 0..config.projections {
            for slot in 0..model.fill {
                model.buffer[i * config.window + slot] = r.finite()?;
            }
        }
        for _ in 0..histograms {
            let origin = r.finite()?;
            let width = r.finite()?;
            let bins = r.usize()?;
            if width <= 0.0 || bins == 0 || bins > config.window + 1 {
                return Err(Error::Snapshot(format!(
                    "a histogram of {bins} bins of width {width}"
                )));
            }
            let counts = (0..bins)
                .map(|_| {
                    r.take(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                })
                .collect::<Result<Vec<u32>, Error>>()?;
            model.histograms.push(Histogram::new(origin, width, counts));
        }
        if !r.0.is_empty() {
            return Err(Error::Snapshot(format!(
                "{} bytes too many at the end",
                r.0.len()
            )));
        }
        *self = model;
        Ok(())
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Snapshot("cut short".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        let mut w = [0; 8];
        w.copy_from_slice(b);
        Ok(u64::from_le_bytes(w))
    }
    fn usize(&mut self) -> Result<usize, Error> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| Error::Snapshot(format!("{v} is out of range")))
    }
    fn finite(&mut self) -> Result<f64, Error> {
        let v = f64::from_bits(self.u64()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::Snapshot(format!("{v} is not a finite number")))
        }
    }
}

export_detector!(Loda);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin::serde_json::json;

    /// Rows around the origin, with every 50th far out.
    fn stream(rows: usize, dim: usize) -> Vec<f64> {
        let mut state = 11;
        (0..rows)
            .flat_map(|r| {
                let far = r % 50 == 49;
                (0..dim)
                    .map(|_| {
                        let v = uniform(&mut state) + uniform(&mut state) - 1.0;
                        if far { v + 8.0 } else { v }
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn model(seed: u64) -> Loda {
        Loda::create(&json!({"seed": seed, "window": 64, "projections": 20}), 3).expect("config")
    }

    #[test]
    fn outliers_score_higher_after_the_first_window() {
        let mut m = model(1);
        let xs = stream(1000, 3);
        let mut scores = vec![0.0; 1000];
        m.score_learn_batch(&xs, &mut scores).expect("batch");
        assert!(scores[..64].iter().all(|&s| s == 0.0));
        let (mut far, mut near) = (0.0, 0.0);
        for (r, s) in scores.iter().enumerate().skip(64) {
            if r % 50 == 49 {
                far += s / 19.0;
            } else {
                near += s / 917.0;
            }
        }
        assert!(far > near + 1.0, "far {far}, near {near}");
    }

    #[test]
    fn same_seed_same_model_other_seed_other_projections() {
        assert_eq!(model(3), model(3));
        assert_ne!(model(3).weights, model(4).weights);
    }

    #[test]
    fn projections_use_distinct_features() {
        let m = Loda::new(10, LodaConfig::default()).expect("model");
        assert_eq!(m.per_projection, 4);
        for p in m.features.chunks(4) {
            let mut f = p.to_vec();
            f.sort_unstable();
            f.dedup();
            assert_eq!(f.len(), 4, "{p:?}");
        }
    }

    #[test]
    fn batch_equals_loop() {
        let xs = stream(300, 3);
        let mut a = model(5);
        let mut b = model(5);
        let mut batched = vec![0.0; 300];
        a.score_learn_batch(&xs, &mut batched).expect("batch");
        for (i, x) in xs.chunks(3).enumerate() {
            let s = b.score_one(x).expect("score");
            b.learn_one(x).expect("learn");
            assert_eq!(s.to_bits(), batched[i].to_bits(), "row {i}");
        }
        assert_eq!(a, b);
    }

    #[test]
    fn snapshot_round_trips_mid_window() {
        let xs = stream(150, 3);
        let mut a = model(6);
        let mut out = vec![0.0; 150];
        a.score_learn_batch(&xs, &mut out).expect("batch");
        let bytes = a.snapshot();
        let mut b = model(99);
        b.restore(&bytes).expect("restore");
        assert_eq!(a, b);
        assert_eq!(b.snapshot(), bytes);
        for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
            let before = b.clone();
            assert!(
                matches!(b.restore(&bytes[..cut]), Err(Error::Snapshot(_))),
                "{cut}"
            );
            assert_eq!(b, before);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(b.restore(&longer), Err(Error::Snapshot(_))));
    }

    #[test]
    fn bad_config_is_named() {
        let e = Loda::create(&json!({"projections": 0}), 3).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "invalid config: projections must be 1 to 10000, got 0"
        );
        let e = Loda::create(&json!({"window": "big"}), 3).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "invalid config: window must be a non-negative integer, got \"big\""
        );
    }
}
