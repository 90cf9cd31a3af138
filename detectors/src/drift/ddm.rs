//! DDM, the drift detection method of Gama et al. (2004), as River's `drift.binary.DDM`
//! computes it.

use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::{invalid_parameter, snapshot_error};
use crate::{DetectorError, DriftDetector, check_input};

const NAME: &str = "ddm";
const SNAPSHOT_TAG: [u8; 4] = *b"DDM0";
const SNAPSHOT_VERSION: u16 = 1;

/// DDM's parameters; [`Default`] gives River's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdmParams {
    /// Values seen (since the last detection) before the test starts: it runs from the
    /// `warm_start + 1`-th value on. Default 30.
    pub warm_start: u64,
    /// Standard deviations above the best error rate that raise the warning, finite, above 0
    /// and at most `drift_threshold`. Default 2.
    pub warning_threshold: f64,
    /// Standard deviations above the best error rate that report a change, finite and
    /// above 0. Default 3.
    pub drift_threshold: f64,
}

impl Default for DdmParams {
    fn default() -> DdmParams {
        DdmParams {
            warm_start: 30,
            warning_threshold: 2.0,
            drift_threshold: 3.0,
        }
    }
}

impl DdmParams {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] naming the first parameter out of range and its value.
    pub fn validate(&self) -> Result<(), DetectorError> {
        if !(self.drift_threshold.is_finite() && self.drift_threshold > 0.0) {
            return Err(invalid_parameter(
                NAME,
                "drift_threshold",
                "must be a finite number above 0",
                self.drift_threshold,
            ));
        }
        if !(self.warning_threshold > 0.0 && self.warning_threshold <= self.drift_threshold) {
            return Err(invalid_parameter(
                NAME,
                "warning_threshold",
                "must be above 0 and at most drift_threshold",
                self.warning_threshold,
            ));
        }
        Ok(())
    }
}

/// DDM change detector over an error stream, reproducing River's `drift.binary.DDM`.
///
/// Each value is 1 for an error and 0 for a correct prediction (values in between count as
/// that fraction of an error). With `p` the error rate since the last detection and
/// `s = sqrt(p (1 - p) / n)`, DDM remembers the `p_min`, `s_min` where `p + s` was lowest;
/// after `warm_start` values it raises the warning when
/// `p + s > p_min + warning_threshold · s_min` and reports a change when
/// `p + s > p_min + drift_threshold · s_min`. The update after a detection starts over.
///
/// As in River, a stream that begins with more than `warm_start` correct values has
/// `s_min = 0`, so its first error is reported as a change at once.
///
/// ```
/// use vigil_detectors::DriftDetector;
/// use vigil_detectors::drift::Ddm;
///
/// let mut ddm = Ddm::default();
/// // One error in four for 400 values, then only errors.
/// let stream = (0..500).map(|i| if i < 400 { (i % 4 == 3) as u8 } else { 1 });
/// let mut first_warning = None;
/// let mut detections = Vec::new();
/// for (i, error) in stream.enumerate() {
///     if ddm.update(f64::from(error)) {
///         detections.push(i);
///     }
///     if ddm.warning() && first_warning.is_none() {
///         first_warning = Some(i);
///     }
/// }
/// assert_eq!(first_warning, Some(410));
/// assert_eq!(detections, [423]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Ddm {
    params: DdmParams,
    /// Values since the last reset, as a float like River's `stats.Mean`.
    n: f64,
    error_rate: f64,
    p_min: f64,
    s_min: f64,
    ps_min: f64,
    warning: bool,
    detected: bool,
    detections: u64,
}

impl Default for Ddm {
    /// A DDM with River's defaults.
    fn default() -> Ddm {
        Ddm::with_valid_params(DdmParams::default())
    }
}

impl Ddm {
    /// A fresh detector.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] when a parameter is out of range (see [`DdmParams`]).
    pub fn new(params: DdmParams) -> Result<Ddm, DetectorError> {
        params.validate()?;
        Ok(Ddm::with_valid_params(params))
    }

    fn with_valid_params(params: DdmParams) -> Ddm {
        let mut ddm = Ddm {
            params,
            n: 0.0,
            error_rate: 0.0,
            p_min: 0.0,
            s_min: 0.0,
            ps_min: 0.0,
            warning: false,
            detected: false,
            detections: 0,
        };
        ddm.start_over();
        ddm
    }

    /// Its parameters.
    pub fn params(&self) -> &DdmParams {
        &self.params
    }

    /// Forgets the values seen; River's state after construction or a detection.
    fn start_over(&mut self) {
        self.n = 0.0;
        self.error_rate = 0.0;
        self.p_min = f64::INFINITY;
        self.s_min = f64::INFINITY;
        self.ps_min = f64::INFINITY;
        self.warning = false;
        self.detected = false;
    }

    /// Adds one value, 1 for an error and 0 for a correct prediction; `Ok(true)` when it
    /// revealed a change.
    ///
    /// # Errors
    /// [`DetectorError::NonFinite`] for NaN or an infinity, and
    /// [`DetectorError::InvalidParameter`] (named `x`) for a value outside [0, 1]; the
    /// detector is left unchanged.
    pub fn try_update(&mut self, x: f64) -> Result<bool, DetectorError> {
        check_input(NAME, 1, std::slice::from_ref(&x))?;
        if !(0.0..=1.0).contains(&x) {
            return Err(invalid_parameter(
                NAME,
                "x",
                "must lie in [0, 1] (1 = error, 0 = correct)",
                x,
            ));
        }
        if self.detected {
            self.start_over();
        }
        self.n += 1.0;
        self.error_rate += (1.0 / self.n) * (x - self.error_rate);
        let p = self.error_rate;
        let s = (p * (1.0 - p) / self.n).sqrt();
        if self.n > self.params.warm_start as f64 {
            if p + s <= self.ps_min {
                self.p_min = p;
                self.s_min = s;
                self.ps_min = self.p_min + self.s_min;
            }
            self.warning = p + s > self.p_min + self.params.warning_threshold * self.s_min;
            if p + s > self.p_min + self.params.drift_threshold * self.s_min {
                self.detected = true;
                self.warning = false;
                self.detections += 1;
            }
        }
        Ok(self.detected)
    }

    /// Whether the last update revealed a change (River's `drift_detected`).
    pub fn detected(&self) -> bool {
        self.detected
    }

    /// Whether the last update left the detector in the warning zone (River's
    /// `warning_detected`); false on the update that reports a change.
    pub fn warning(&self) -> bool {
        self.warning
    }

    /// Updates at which a change was detected since construction (or the last [`reset`](Self::reset)).
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// Values seen since the last detection.
    pub fn width(&self) -> usize {
        self.n as usize
    }

    /// Error rate since the last detection (0 before any value).
    pub fn estimation(&self) -> f64 {
        self.error_rate
    }

    /// Forgets everything but the parameters.
    pub fn reset(&mut self) {
        self.start_over();
        self.detections = 0;
    }

    /// The detector's whole state (parameters included) as versioned bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(SNAPSHOT_TAG, SNAPSHOT_VERSION);
        w.u64(self.params.warm_start);
        w.f64(self.params.warning_threshold);
        w.f64(self.params.drift_threshold);
        w.f64(self.n);
        w.f64(self.error_rate);
        w.f64(self.p_min);
        w.f64(self.s_min);
        w.f64(self.ps_min);
        w.u64(u64::from(self.warning));
        w.u64(u64::from(self.detected));
        w.u64(self.detections);
        w.finish()
    }

    /// Rebuilds a detector from [`snapshot`](Self::snapshot) bytes.
    ///
    /// # Errors
    /// [`DetectorError::Snapshot`] for another detector's snapshot, another format version or
    /// a cut-short one; [`DetectorError::InvalidParameter`] for parameters out of range.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Ddm, DetectorError> {
        let mut r = SnapshotReader::new(NAME, bytes, SNAPSHOT_TAG, SNAPSHOT_VERSION)?;
        let params = DdmParams {
            warm_start: r.u64()?,
            warning_threshold: r.f64()?,
            drift_threshold: r.f64()?,
        };
        params.validate()?;
        let ddm = Ddm {
            params,
            n: r.f64()?,
            error_rate: r.f64()?,
            p_min: r.f64()?,
            s_min: r.f64()?,
            ps_min: r.f64()?,
            warning: r.flag("warning")?,
            detected: r.flag("detected")?,
            detections: r.u64()?,
        };
        r.end()?;
        if !(ddm.n >= 0.0 && ddm.n.fract() == 0.0) {
            return Err(snapshot_error(
                NAME,
                format!("value count {} is not a count", ddm.n),
            ));
        }
        if !(0.0..=1.0).contains(&ddm.error_rate) {
            return Err(snapshot_error(
                NAME,
                format!("error rate {} is outside [0, 1]", ddm.error_rate),
            ));
        }
        Ok(ddm)
    }

    /// Replaces this detector, parameters included, with the one a snapshot holds.
    ///
    /// # Errors
    /// As [`from_snapshot`](Self::from_snapshot); the detector is left unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        *self = Ddm::from_snapshot(bytes)?;
        Ok(())
    }
}

impl DriftDetector for Ddm {
    /// As [`Ddm::try_update`], except that a value it refuses (NaN, an infinity, outside
    /// [0, 1]) is skipped: it returns false and changes nothing.
    fn update(&mut self, x: f64) -> bool {
        self.try_update(x).unwrap_or(false)
    }

    fn estimation(&self) -> f64 {
        Ddm::estimation(self)
    }

    fn width(&self) -> usize {
        Ddm::width(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Indices of the first warning of each episode and of the detections.
    fn run(ddm: &mut Ddm, xs: impl IntoIterator<Item = f64>) -> (Vec<usize>, Vec<usize>) {
        let (mut warnings, mut detections) = (Vec::new(), Vec::new());
        let mut warned = false;
        for (i, x) in xs.into_iter().enumerate() {
            if ddm.update(x) {
                detections.push(i);
            }
            if ddm.warning() && !warned {
                warnings.push(i);
            }
            warned = ddm.warning();
        }
        (warnings, detections)
    }

    /// One error in four (the 4th, 8th, ... value) for `before` values, then only errors.
    fn quarter_then_all_errors(before: usize, len: usize) -> impl Iterator<Item = f64> {
        (0..len).map(move |i| if i >= before || i % 4 == 3 { 1.0 } else { 0.0 })
    }

    #[test]
    fn rejects_parameters_out_of_range_naming_them() {
        let cases: [(DdmParams, &str, &str); 4] = [
            (
                DdmParams {
                    drift_threshold: 0.0,
                    ..Default::default()
                },
                "drift_threshold",
                "0",
            ),
            (
                DdmParams {
                    drift_threshold: f64::NAN,
                    ..Default::default()
                },
                "drift_threshold",
                "NaN",
            ),
            (
                DdmParams {
                    warning_threshold: -1.0,
                    ..Default::default()
                },
                "warning_threshold",
                "-1",
            ),
            (
                DdmParams {
                    warning_threshold: 4.0,
                    ..Default::default()
                },
                "warning_threshold",
                "4",
            ),
        ];
        for (params, expected_name, expected_value) in cases {
            match Ddm::new(params) {
                Err(DetectorError::InvalidParameter { name, value, .. }) => {
                    assert_eq!((name, value.as_str()), (expected_name, expected_value));
                }
                other => panic!("{params:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_rising_error_rate_warns_then_detects() {
        // The lowest p + s is at the 399th value, just before the 100th error:
        // p_min = 99/399 = 0.24812, s_min = sqrt(p_min (1 - p_min) / 399) = 0.021623.
        // Warning level p_min + 2 s_min = 0.29137, drift level p_min + 3 s_min = 0.31299.
        // After the 400 values p = 0.25; with k more errors p = (100 + k) / (400 + k) and
        // s is about 0.0219 to 0.0221. p + s passes the warning level at k = 11
        // (0.2701 + 0.0219 = 0.2920; k = 10 gives 0.2902) and the drift level at k = 24
        // (0.2925 + 0.0221 = 0.3145; k = 23 gives 0.3128).
        let mut ddm = Ddm::default();
        let (warnings, detections) = run(&mut ddm, quarter_then_all_errors(400, 424));
        assert_eq!(warnings, [410]);
        assert_eq!(detections, [423]);
        assert!(!ddm.warning(), "the drift update clears the warning");
        assert_eq!(ddm.width(), 424);
        // The next update starts over.
        ddm.update(1.0);
        assert_eq!(ddm.width(), 1);
        assert_eq!(ddm.estimation(), 1.0);
        assert!(!ddm.detected());
    }

    #[test]
    fn a_stable_error_rate_never_detects() {
        let mut ddm = Ddm::default();
        let (_, detections) = run(&mut ddm, quarter_then_all_errors(usize::MAX, 100_000));
        assert!(detections.is_empty());
        assert!((ddm.estimation() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn nothing_is_tested_during_the_warm_start() {
        // The first test is at the 31st value; 30 values of anything can not fire.
        let mut ddm = Ddm::default();
        let (warnings, detections) = run(&mut ddm, (0..30).map(|i| if i < 15 { 0.0 } else { 1.0 }));
        assert!(warnings.is_empty() && detections.is_empty());
        assert_eq!(ddm.p_min, f64::INFINITY);
    }

    #[test]
    fn after_a_clean_start_the_first_error_is_a_change_as_in_river() {
        // 100 correct values: p_min = s_min = 0, so any p + s > 0 passes p_min + 3 s_min.
        let mut ddm = Ddm::default();
        let (_, detections) = run(&mut ddm, (0..150).map(|i| if i == 100 { 1.0 } else { 0.0 }));
        assert_eq!(detections, [100]);
    }

    #[test]
    fn values_outside_the_unit_interval_are_refused_and_change_nothing() {
        let mut ddm = Ddm::default();
        run(&mut ddm, [0.0, 1.0, 0.0]);
        let before = ddm.clone();
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            assert!(ddm.try_update(bad).is_err(), "{bad}");
            assert!(!ddm.update(bad));
        }
        assert!(matches!(
            ddm.try_update(2.0),
            Err(DetectorError::InvalidParameter { name: "x", .. })
        ));
        assert_eq!(ddm, before);
    }

    #[test]
    fn snapshot_round_trips_to_bit_identical_behaviour() {
        let stream: Vec<f64> = quarter_then_all_errors(400, 900).collect();
        let mut original = Ddm::default();
        run(&mut original, stream[..405].iter().copied());
        let mut restored = Ddm::default();
        restored.restore(&original.snapshot()).unwrap();
        assert_eq!(restored, original);
        for &x in &stream[405..] {
            assert_eq!(original.update(x), restored.update(x));
            assert_eq!(original.warning(), restored.warning());
            assert_eq!(
                original.estimation().to_bits(),
                restored.estimation().to_bits()
            );
        }
        let bytes = original.snapshot();
        assert!(restored.restore(&bytes[..10]).is_err());
        assert_eq!(restored, original);
    }
}
