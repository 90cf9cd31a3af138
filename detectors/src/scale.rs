//! Streaming feature scalers placed in front of models, as River's pipelines do.
//!
//! Both follow River's semantics: `learn_one` updates the statistics; `transform` uses the
//! statistics as they are (scoring does not update them); a zero range or deviation
//! transforms to 0 instead of dividing by zero.

use crate::DetectorError;
use crate::codec::{SnapshotReader, SnapshotWriter};

/// Online min-max scaling to [0, 1] by the minimum and maximum seen so far per feature
/// (River's `preprocessing.MinMaxScaler`).
///
/// ```
/// use vigil_detectors::scale::MinMaxScaler;
/// let mut s = MinMaxScaler::new(1);
/// for x in [2.0, 4.0, 10.0] { s.learn_one(&[x]); }
/// let mut out = [0.0];
/// s.transform(&[6.0], &mut out);
/// assert_eq!(out, [0.5]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MinMaxScaler {
    min: Vec<f64>,
    max: Vec<f64>,
}

impl MinMaxScaler {
    /// A scaler for `dim` features that has seen nothing.
    pub fn new(dim: usize) -> MinMaxScaler {
        MinMaxScaler {
            min: vec![f64::INFINITY; dim],
            max: vec![f64::NEG_INFINITY; dim],
        }
    }

    /// Widens the per-feature ranges to include `x`.
    pub fn learn_one(&mut self, x: &[f64]) {
        for ((lo, hi), v) in self.min.iter_mut().zip(self.max.iter_mut()).zip(x) {
            *lo = lo.min(*v);
            *hi = hi.max(*v);
        }
    }

    /// Writes `(x - min) / (max - min)` per feature into `out` (0 where the range is empty).
    pub fn transform(&self, x: &[f64], out: &mut [f64]) {
        for (((o, v), lo), hi) in out.iter_mut().zip(x).zip(&self.min).zip(&self.max) {
            let range = hi - lo;
            *o = if range > 0.0 && range.is_finite() {
                (v - lo) / range
            } else {
                0.0
            };
        }
    }

    /// Appends the scaler's state to a snapshot.
    pub fn write(&self, w: &mut SnapshotWriter) {
        w.f64s(&self.min);
        w.f64s(&self.max);
    }

    /// Reads the state written by [`write`](Self::write).
    ///
    /// # Errors
    /// A cut-short snapshot or one for another dimension.
    pub fn read(
        &mut self,
        r: &mut SnapshotReader<'_>,
        detector: &str,
    ) -> Result<(), DetectorError> {
        let min = r.f64s()?;
        let max = r.f64s()?;
        if min.len() != self.min.len() || max.len() != self.max.len() {
            return Err(DetectorError::Snapshot {
                detector: detector.to_string(),
                reason: format!(
                    "min-max scaler of {} features, expected {}",
                    min.len(),
                    self.min.len()
                ),
            });
        }
        self.min = min;
        self.max = max;
        Ok(())
    }
}

/// Online standardisation by the running mean and population standard deviation per feature
/// (River's `preprocessing.StandardScaler`, Welford's algorithm).
///
/// ```
/// use vigil_detectors::scale::StandardScaler;
/// let mut s = StandardScaler::new(1);
/// for x in [1.0, 2.0, 3.0] { s.learn_one(&[x]); }
/// let mut out = [0.0];
/// s.transform(&[3.0], &mut out);
/// assert!((out[0] - 1.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StandardScaler {
    count: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl StandardScaler {
    /// A scaler for `dim` features that has seen nothing.
    pub fn new(dim: usize) -> StandardScaler {
        StandardScaler {
            count: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    /// Updates the running mean and variance with `x`.
    pub fn learn_one(&mut self, x: &[f64]) {
        self.count += 1.0;
        for ((mean, m2), v) in self.mean.iter_mut().zip(self.m2.iter_mut()).zip(x) {
            let delta = v - *mean;
            *mean += delta / self.count;
            *m2 += delta * (v - *mean);
        }
    }

    /// Writes `(x - mean) / std` per feature into `out` (0 where the deviation is 0).
    pub fn transform(&self, x: &[f64], out: &mut [f64]) {
        for (((o, v), mean), m2) in out.iter_mut().zip(x).zip(&self.mean).zip(&self.m2) {
            let std = if self.count > 0.0 {
                (m2 / self.count).sqrt()
            } else {
                0.0
            };
            *o = if std > 0.0 { (v - mean) / std } else { 0.0 };
        }
    }

    /// Writes the population standard deviation per feature, as
    /// [`transform`](Self::transform) divides by it, into `out` (0 before the first vector).
    pub fn deviations(&self, out: &mut [f64]) {
        for (o, m2) in out.iter_mut().zip(&self.m2) {
            *o = if self.count > 0.0 {
                (m2 / self.count).sqrt()
            } else {
                0.0
            };
        }
    }

    /// Number of vectors learned.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// Appends the scaler's state to a snapshot.
    pub fn write(&self, w: &mut SnapshotWriter) {
        w.f64(self.count);
        w.f64s(&self.mean);
        w.f64s(&self.m2);
    }

    /// Reads the state written by [`write`](Self::write).
    ///
    /// # Errors
    /// A cut-short snapshot or one for another dimension.
    pub fn read(
        &mut self,
        r: &mut SnapshotReader<'_>,
        detector: &str,
    ) -> Result<(), DetectorError> {
        let count = r.f64()?;
        let mean = r.f64s()?;
        let m2 = r.f64s()?;
        if mean.len() != self.mean.len() || m2.len() != self.m2.len() {
            return Err(DetectorError::Snapshot {
                detector: detector.to_string(),
                reason: format!(
                    "standard scaler of {} features, expected {}",
                    mean.len(),
                    self.mean.len()
                ),
            });
        }
        self.count = count;
        self.mean = mean;
        self.m2 = m2;
        Ok(())
    }
}
