//! Page-Hinkley test, as River's `drift.PageHinkley` computes it.

use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::{invalid_parameter, snapshot_error};
use crate::{DetectorError, DriftDetector, check_input};

const NAME: &str = "page-hinkley";
const SNAPSHOT_TAG: [u8; 4] = *b"PHNK";
const SNAPSHOT_VERSION: u16 = 1;

/// Which direction of change Page-Hinkley watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageHinkleyMode {
    /// Increases of the mean only.
    Up,
    /// Decreases of the mean only.
    Down,
    /// Both directions (River's default).
    #[default]
    Both,
}

impl PageHinkleyMode {
    fn code(self) -> u64 {
        match self {
            PageHinkleyMode::Up => 0,
            PageHinkleyMode::Down => 1,
            PageHinkleyMode::Both => 2,
        }
    }

    fn from_code(code: u64) -> Option<PageHinkleyMode> {
        match code {
            0 => Some(PageHinkleyMode::Up),
            1 => Some(PageHinkleyMode::Down),
            2 => Some(PageHinkleyMode::Both),
            _ => None,
        }
    }
}

/// Page-Hinkley's parameters; [`Default`] gives River's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageHinkleyParams {
    /// Values seen (since the last detection) before a change may be reported, at least 1.
    /// Default 30.
    pub min_instances: u64,
    /// Tolerated deviation per value, in the stream's unit, finite and at least 0: drifts of
    /// the mean smaller than this are ignored. Default 0.005.
    pub delta: f64,
    /// Cumulative deviation (stream unit × values) that reports a change, finite and above 0.
    /// Default 50.
    pub threshold: f64,
    /// Forgetting factor applied to the cumulative sums at each value, in (0, 1].
    /// Default 1 - 1e-4.
    pub alpha: f64,
    /// Directions watched. Default [`PageHinkleyMode::Both`].
    pub mode: PageHinkleyMode,
}

impl Default for PageHinkleyParams {
    fn default() -> PageHinkleyParams {
        PageHinkleyParams {
            min_instances: 30,
            delta: 0.005,
            threshold: 50.0,
            alpha: 1.0 - 0.0001,
            mode: PageHinkleyMode::Both,
        }
    }
}

impl PageHinkleyParams {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] naming the first parameter out of range and its value.
    pub fn validate(&self) -> Result<(), DetectorError> {
        if self.min_instances == 0 {
            return Err(invalid_parameter(
                NAME,
                "min_instances",
                "must be at least 1",
                self.min_instances,
            ));
        }
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return Err(invalid_parameter(
                NAME,
                "delta",
                "must be a finite number at least 0",
                self.delta,
            ));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(invalid_parameter(
                NAME,
                "threshold",
                "must be a finite number above 0",
                self.threshold,
            ));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(invalid_parameter(
                NAME,
                "alpha",
                "must lie in (0, 1]",
                self.alpha,
            ));
        }
        Ok(())
    }
}

/// Page-Hinkley change detector, reproducing River's `drift.PageHinkley`.
///
/// For each value `x`: the running mean `x̄` of the values since the last detection is
/// updated, then the fading cumulative sums
/// `up = alpha·up + (x - x̄) - delta` and `down = alpha·down + (x - x̄) + delta`, with the
/// lowest `up` and highest `down` seen. Once `min_instances` values are in, a change is
/// reported when `up - min(up) > threshold` (the mean rose) or `max(down) - down > threshold`
/// (it fell), as [`PageHinkleyMode`] selects. The update after a detection starts over.
///
/// Use it for a stream whose scale you know (the threshold is in the stream's unit times
/// values); [`Adwin`](super::Adwin) adapts to the scale by itself.
///
/// ```
/// use vigil_detectors::DriftDetector;
/// use vigil_detectors::drift::PageHinkley;
///
/// let mut ph = PageHinkley::default();
/// // 100 zeros, then 40 per value: the first jump adds 39.6 to the increase sum
/// // (40 minus the new mean 40/101), the second 39.2: past the threshold of 50.
/// let stream = (0..200).map(|i| if i < 100 { 0.0 } else { 40.0 });
/// let detections: Vec<usize> = stream.enumerate().filter_map(|(i, x)| ph.update(x).then_some(i)).collect();
/// assert_eq!(detections, [101]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PageHinkley {
    params: PageHinkleyParams,
    /// Values since the last reset, as a float like River's `stats.Mean`.
    n: f64,
    mean: f64,
    sum_increase: f64,
    sum_decrease: f64,
    min_increase: f64,
    max_decrease: f64,
    detected: bool,
    detections: u64,
}

impl Default for PageHinkley {
    /// A Page-Hinkley test with River's defaults.
    fn default() -> PageHinkley {
        PageHinkley::with_valid_params(PageHinkleyParams::default())
    }
}

impl PageHinkley {
    /// A fresh test.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] when a parameter is out of range (see
    /// [`PageHinkleyParams`]).
    pub fn new(params: PageHinkleyParams) -> Result<PageHinkley, DetectorError> {
        params.validate()?;
        Ok(PageHinkley::with_valid_params(params))
    }

    fn with_valid_params(params: PageHinkleyParams) -> PageHinkley {
        let mut ph = PageHinkley {
            params,
            n: 0.0,
            mean: 0.0,
            sum_increase: 0.0,
            sum_decrease: 0.0,
            min_increase: 0.0,
            max_decrease: 0.0,
            detected: false,
            detections: 0,
        };
        ph.start_over();
        ph
    }

    /// Its parameters.
    pub fn params(&self) -> &PageHinkleyParams {
        &self.params
    }

    /// Forgets the values seen; River's state after construction or a detection.
    fn start_over(&mut self) {
        self.n = 0.0;
        self.mean = 0.0;
        self.sum_increase = 0.0;
        self.sum_decrease = 0.0;
        self.min_increase = f64::INFINITY;
        // River starts the running maximum at -1 rather than minus infinity. It never shows:
        // the first value is its own mean, so the first decrease sum is delta >= 0.
        self.max_decrease = -1.0;
        self.detected = false;
    }

    /// Adds one value; `Ok(true)` when it revealed a change.
    ///
    /// # Errors
    /// [`DetectorError::NonFinite`] for NaN or an infinity; the detector is left unchanged.
    pub fn try_update(&mut self, x: f64) -> Result<bool, DetectorError> {
        check_input(NAME, 1, std::slice::from_ref(&x))?;
        if self.detected {
            self.start_over();
        }
        self.n += 1.0;
        self.mean += (1.0 / self.n) * (x - self.mean);
        let deviation = x - self.mean;
        let alpha = self.params.alpha;
        self.sum_increase = alpha * self.sum_increase + deviation - self.params.delta;
        self.sum_decrease = alpha * self.sum_decrease + deviation + self.params.delta;
        if self.sum_increase < self.min_increase {
            self.min_increase = self.sum_increase;
        }
        if self.sum_decrease > self.max_decrease {
            self.max_decrease = self.sum_decrease;
        }
        if self.n >= self.params.min_instances as f64 {
            let rose = self.sum_increase - self.min_increase > self.params.threshold;
            let fell = self.max_decrease - self.sum_decrease > self.params.threshold;
            self.detected = match self.params.mode {
                PageHinkleyMode::Up => rose,
                PageHinkleyMode::Down => fell,
                PageHinkleyMode::Both => rose || fell,
            };
        }
        if self.detected {
            self.detections += 1;
        }
        Ok(self.detected)
    }

    /// Whether the last update revealed a change (River's `drift_detected`).
    pub fn detected(&self) -> bool {
        self.detected
    }

    /// Updates at which a change was detected since construction (or the last [`reset`](Self::reset)).
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// Values seen since the last detection.
    pub fn width(&self) -> usize {
        self.n as usize
    }

    /// Running mean of the values since the last detection (0 before any).
    pub fn estimation(&self) -> f64 {
        self.mean
    }

    /// The statistic for a rise, `up - min(up)`; a change is reported above `threshold`.
    pub fn increase_statistic(&self) -> f64 {
        if self.n == 0.0 {
            0.0
        } else {
            self.sum_increase - self.min_increase
        }
    }

    /// The statistic for a fall, `max(down) - down`; a change is reported above `threshold`.
    pub fn decrease_statistic(&self) -> f64 {
        if self.n == 0.0 {
            0.0
        } else {
            self.max_decrease - self.sum_decrease
        }
    }

    /// Forgets everything but the parameters.
    pub fn reset(&mut self) {
        self.start_over();
        self.detections = 0;
    }

    /// The detector's whole state (parameters included) as versioned bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(SNAPSHOT_TAG, SNAPSHOT_VERSION);
        w.u64(self.params.min_instances);
        w.f64(self.params.delta);
        w.f64(self.params.threshold);
        w.f64(self.params.alpha);
        w.u64(self.params.mode.code());
        w.f64(self.n);
        w.f64(self.mean);
        w.f64(self.sum_increase);
        w.f64(self.sum_decrease);
        w.f64(self.min_increase);
        w.f64(self.max_decrease);
        w.u64(u64::from(self.detected));
        w.u64(self.detections);
        w.finish()
    }

    /// Rebuilds a detector from [`snapshot`](Self::snapshot) bytes.
    ///
    /// # Errors
    /// [`DetectorError::Snapshot`] for another detector's snapshot, another format version or
    /// a cut-short one; [`DetectorError::InvalidParameter`] for parameters out of range.
    pub fn from_snapshot(bytes: &[u8]) -> Result<PageHinkley, DetectorError> {
        let mut r = SnapshotReader::new(NAME, bytes, SNAPSHOT_TAG, SNAPSHOT_VERSION)?;
        let min_instances = r.u64()?;
        let delta = r.f64()?;
        let threshold = r.f64()?;
        let alpha = r.f64()?;
        let mode_code = r.u64()?;
        let mode = PageHinkleyMode::from_code(mode_code)
            .ok_or_else(|| snapshot_error(NAME, format!("unknown mode {mode_code}")))?;
        let params = PageHinkleyParams {
            min_instances,
            delta,
            threshold,
            alpha,
            mode,
        };
        params.validate()?;
        let ph = PageHinkley {
            params,
            n: r.f64()?,
            mean: r.f64()?,
            sum_increase: r.f64()?,
            sum_decrease: r.f64()?,
            min_increase: r.f64()?,
            max_decrease: r.f64()?,
            detected: r.flag("detected")?,
            detections: r.u64()?,
        };
        r.end()?;
        if !(ph.n >= 0.0 && ph.n.fract() == 0.0) {
            return Err(snapshot_error(
                NAME,
                format!("value count {} is not a count", ph.n),
            ));
        }
        Ok(ph)
    }

    /// Replaces this detector, parameters included, with the one a snapshot holds.
    ///
    /// # Errors
    /// As [`from_snapshot`](Self::from_snapshot); the detector is left unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        *self = PageHinkley::from_snapshot(bytes)?;
        Ok(())
    }
}

impl DriftDetector for PageHinkley {
    /// As [`PageHinkley::try_update`], except that a NaN or infinite value is skipped: it
    /// returns false and changes nothing.
    fn update(&mut self, x: f64) -> bool {
        self.try_update(x).unwrap_or(false)
    }

    fn estimation(&self) -> f64 {
        PageHinkley::estimation(self)
    }

    fn width(&self) -> usize {
        PageHinkley::width(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detections(ph: &mut PageHinkley, xs: impl IntoIterator<Item = f64>) -> Vec<usize> {
        xs.into_iter()
            .enumerate()
            .filter_map(|(i, x)| ph.update(x).then_some(i))
            .collect()
    }

    fn step(before: usize, from: f64, to: f64, len: usize) -> impl Iterator<Item = f64> {
        (0..len).map(move |i| if i < before { from } else { to })
    }

    #[test]
    fn rejects_parameters_out_of_range_naming_them() {
        let cases: [(PageHinkleyParams, &str, &str); 5] = [
            (
                PageHinkleyParams {
                    min_instances: 0,
                    ..Default::default()
                },
                "min_instances",
                "0",
            ),
            (
                PageHinkleyParams {
                    delta: -0.1,
                    ..Default::default()
                },
                "delta",
                "-0.1",
            ),
            (
                PageHinkleyParams {
                    threshold: 0.0,
                    ..Default::default()
                },
                "threshold",
                "0",
            ),
            (
                PageHinkleyParams {
                    threshold: f64::INFINITY,
                    ..Default::default()
                },
                "threshold",
                "inf",
            ),
            (
                PageHinkleyParams {
                    alpha: 1.5,
                    ..Default::default()
                },
                "alpha",
                "1.5",
            ),
        ];
        for (params, expected_name, expected_value) in cases {
            match PageHinkley::new(params) {
                Err(DetectorError::InvalidParameter { name, value, .. }) => {
                    assert_eq!((name, value.as_str()), (expected_name, expected_value));
                }
                other => panic!("{params:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_constant_stream_never_drifts() {
        // The mean equals every value, so each deviation is 0: `up` only falls (its minimum
        // follows it) and `down` only rises toward delta / (1 - alpha) = 50 (its maximum
        // follows it): both statistics stay 0.
        let mut ph = PageHinkley::default();
        assert!(detections(&mut ph, std::iter::repeat_n(3.0, 100_000)).is_empty());
        assert_eq!(ph.increase_statistic(), 0.0);
        assert_eq!(ph.decrease_statistic(), 0.0);
        assert_eq!(ph.estimation(), 3.0);
    }

    #[test]
    fn a_jump_of_60_fires_at_once_and_a_jump_of_40_one_value_later() {
        // After 100 zeros `up` is about -0.5 (its minimum). A jump to h adds
        // h - h/101 - 0.005 at the first value (59.4 for 60: past 50) and
        // h - 2h/102 - 0.005 more at the second (39.6 + 39.2 for 40).
        let mut ph = PageHinkley::default();
        assert_eq!(detections(&mut ph, step(100, 0.0, 60.0, 101)), [100]);
        let mut ph = PageHinkley::default();
        assert_eq!(detections(&mut ph, step(100, 0.0, 40.0, 102)), [101]);
    }

    #[test]
    fn a_fall_is_seen_by_down_and_both_but_not_by_up() {
        // Mirror image of the rise: `down` is about +0.5 after 100 zeros and falls by 39.6,
        // then 39.2.
        for (mode, expected) in [
            (PageHinkleyMode::Both, vec![101]),
            (PageHinkleyMode::Down, vec![101]),
            (PageHinkleyMode::Up, vec![]),
        ] {
            let params = PageHinkleyParams {
                mode,
                ..Default::default()
            };
            let mut ph = PageHinkley::new(params).unwrap();
            assert_eq!(
                detections(&mut ph, step(100, 0.0, -40.0, 102)),
                expected,
                "{mode:?}"
            );
        }
        let params = PageHinkleyParams {
            mode: PageHinkleyMode::Down,
            ..Default::default()
        };
        let mut ph = PageHinkley::new(params).unwrap();
        assert!(detections(&mut ph, step(100, 0.0, 40.0, 300)).is_empty());
    }

    #[test]
    fn nothing_is_reported_before_min_instances() {
        // A jump to 100 at value 5: the rise statistic passes 50 at once (83.3), but the
        // first test is at the 30th value (index 29), where it is about 850.
        let mut ph = PageHinkley::default();
        assert_eq!(detections(&mut ph, step(5, 0.0, 100.0, 30)), [29]);
        assert!(ph.increase_statistic() > 800.0 && ph.increase_statistic() < 900.0);
    }

    #[test]
    fn the_update_after_a_detection_starts_over() {
        let mut ph = PageHinkley::default();
        assert_eq!(detections(&mut ph, step(100, 0.0, 40.0, 102)), [101]);
        assert_eq!(ph.width(), 102);
        assert!(ph.detected());
        // A fresh test whose mean is the new level: no deviation, no further detection.
        assert!(!ph.update(40.0));
        assert_eq!(ph.width(), 1);
        assert_eq!(ph.estimation(), 40.0);
        assert!(detections(&mut ph, std::iter::repeat_n(40.0, 1_000)).is_empty());
        assert_eq!(ph.detections(), 1);
    }

    #[test]
    fn non_finite_values_are_refused_and_change_nothing() {
        let mut ph = PageHinkley::default();
        detections(&mut ph, [1.0, 2.0]);
        let before = ph.clone();
        assert!(matches!(
            ph.try_update(f64::NEG_INFINITY),
            Err(DetectorError::NonFinite { .. })
        ));
        assert!(!ph.update(f64::NAN));
        assert_eq!(ph, before);
    }

    #[test]
    fn snapshot_round_trips_to_bit_identical_behaviour() {
        let mut original = PageHinkley::default();
        detections(&mut original, step(50, 1.0, 2.0, 80));
        let mut restored = PageHinkley::new(PageHinkleyParams {
            mode: PageHinkleyMode::Up,
            ..Default::default()
        })
        .unwrap();
        restored.restore(&original.snapshot()).unwrap();
        assert_eq!(restored, original);
        for x in step(100, 2.0, 60.0, 400) {
            assert_eq!(original.update(x), restored.update(x));
            assert_eq!(
                original.increase_statistic().to_bits(),
                restored.increase_statistic().to_bits()
            );
        }
        let bytes = original.snapshot();
        assert!(restored.restore(&bytes[..bytes.len() - 1]).is_err());
        let mut other_tag = bytes.clone();
        other_tag[..4].copy_from_slice(b"ADWN");
        assert!(restored.restore(&other_tag).is_err());
        assert_eq!(restored, original);
    }
}
