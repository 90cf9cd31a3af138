//! Change detectors over a stream of numbers: ADWIN, Page-Hinkley, DDM.
//!
//! All three implement [`DriftDetector`](crate::DriftDetector) and follow River's
//! semantics, defaults included:
//!
//! - [`Adwin`]: adaptive windowing (Bifet and Gavaldà, 2007) over any bounded stream
//!   (an error stream, calibrated scores). Reproduces River's `drift.ADWIN` bit for bit;
//!   [`AdwinMode::Shrinking`] keeps the paper's window, which only sheds its oldest part.
//! - [`PageHinkley`]: the Page-Hinkley test on a fading cumulative deviation from the running
//!   mean (River's `drift.PageHinkley`), for shifts of a known size in an unbounded stream.
//! - [`Ddm`]: the drift detection method of Gama et al. (2004) over a 0/1 error stream
//!   (River's `drift.binary.DDM`), with a warning zone.
//!
//! Each detector refuses a NaN or infinite value: the inherent `try_update` returns
//! [`DetectorError::NonFinite`] and leaves the detector
//! unchanged, and the trait's `update` skips such a value (returns `false`, changes nothing),
//! so one bad reading can neither poison the statistics nor raise an alarm.
//!
//! ```
//! use vigil_detectors::DriftDetector;
//! use vigil_detectors::drift::{Adwin, Ddm, PageHinkley};
//!
//! let mut detectors: Vec<Box<dyn DriftDetector>> = vec![
//!     Box::new(Adwin::default()),
//!     Box::new(PageHinkley::default()),
//!     Box::new(Ddm::default()),
//! ];
//! // An error rate that jumps from 0.1 to 0.9 after 1,000 values.
//! let stream = (0..2_000).map(|i| if i < 1_000 { (i % 10 == 0) as u8 } else { (i % 10 != 0) as u8 });
//! let mut first_alarm = vec![None; detectors.len()];
//! for (i, x) in stream.enumerate() {
//!     for (d, alarm) in detectors.iter_mut().zip(first_alarm.iter_mut()) {
//!         if d.update(f64::from(x)) && alarm.is_none() {
//!             *alarm = Some(i);
//!         }
//!     }
//! }
//! assert!(first_alarm.iter().all(|a| a.is_some_and(|i| i >= 1_000)));
//! ```

mod adwin;
mod ddm;
mod page_hinkley;

pub use adwin::{Adwin, AdwinMode, AdwinParams};
pub use ddm::{Ddm, DdmParams};
pub use page_hinkley::{PageHinkley, PageHinkleyMode, PageHinkleyParams};

use crate::DetectorError;
use crate::codec::SnapshotReader;
use crate::detector::snapshot_error;

/// Reads a `u64` that must fit a `usize`.
fn read_usize(
    r: &mut SnapshotReader<'_>,
    detector: &str,
    what: &str,
) -> Result<usize, DetectorError> {
    let v = r.u64()?;
    usize::try_from(v)
        .map_err(|_| snapshot_error(detector, format!("{what} {v} does not fit this platform")))
}
