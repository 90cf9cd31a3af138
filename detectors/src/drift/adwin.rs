//! ADWIN: adaptive windowing over an exponential histogram, as River computes it.

use super::read_usize;
use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::{invalid_parameter, snapshot_error};
use crate::{DetectorError, DriftDetector, check_input};

const NAME: &str = "adwin";
const SNAPSHOT_TAG: [u8; 4] = *b"ADWN";
const SNAPSHOT_VERSION: u16 = 1;

/// Largest accepted `max_buckets`: every histogram row reserves room for this many
/// buckets plus one, and beyond a few dozen the histogram stops saving any work.
const MAX_BUCKETS_LIMIT: usize = 1024;

/// Rows reserved up front: row `i` holds buckets of `2^i` values, so 16 rows cover windows
/// of several hundred thousand values before the first (and rare) growth.
const INITIAL_ROWS: usize = 16;

/// What ADWIN does after it reports a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdwinMode {
    /// River's public `drift.ADWIN`: the update after a detection first empties the whole
    /// window (and restarts the check clock), then adds its value.
    #[default]
    River,
    /// The paper's window (River's bare `AdaptiveWindowing` helper): a detection only drops
    /// the oldest buckets until the two halves agree, and the window keeps growing from there.
    Shrinking,
}

impl AdwinMode {
    fn code(self) -> u64 {
        match self {
            AdwinMode::River => 0,
            AdwinMode::Shrinking => 1,
        }
    }

    fn from_code(code: u64) -> Option<AdwinMode> {
        match code {
            0 => Some(AdwinMode::River),
            1 => Some(AdwinMode::Shrinking),
            _ => None,
        }
    }
}

/// ADWIN's parameters; [`Default`] gives River's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdwinParams {
    /// Confidence of the cut test, in (0, 1): the smaller, the fewer false alarms and the
    /// later a real change is seen. Default 0.002.
    pub delta: f64,
    /// The cut test runs every `clock` values (at least 1). Default 32.
    pub clock: usize,
    /// Buckets of one size kept before the two oldest merge, at least 2 and at most 1,024.
    /// Default 5.
    pub max_buckets: usize,
    /// Fewest values on each side of a tested cut, at least 1. Default 5.
    pub min_window_length: usize,
    /// No cut test while the window holds this many values or fewer. Default 10.
    pub grace_period: usize,
    /// What a detection does to the window. Default [`AdwinMode::River`].
    pub mode: AdwinMode,
}

impl Default for AdwinParams {
    fn default() -> AdwinParams {
        AdwinParams {
            delta: 0.002,
            clock: 32,
            max_buckets: 5,
            min_window_length: 5,
            grace_period: 10,
            mode: AdwinMode::River,
        }
    }
}

impl AdwinParams {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] naming the first parameter out of range and its value.
    pub fn validate(&self) -> Result<(), DetectorError> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(invalid_parameter(
                NAME,
                "delta",
                "must lie strictly between 0 and 1",
                self.delta,
            ));
        }
        if self.clock == 0 {
            return Err(invalid_parameter(
                NAME,
                "clock",
                "must be at least 1",
                self.clock,
            ));
        }
        if !(2..=MAX_BUCKETS_LIMIT).contains(&self.max_buckets) {
            return Err(invalid_parameter(
                NAME,
                "max_buckets",
                "must lie between 2 and 1024",
                self.max_buckets,
            ));
        }
        if self.min_window_length == 0 {
            return Err(invalid_parameter(
                NAME,
                "min_window_length",
                "must be at least 1",
                self.min_window_length,
            ));
        }
        Ok(())
    }
}

/// A bucket of the exponential histogram: the sum of its values and the sum of their
/// squared deviations from its own mean (`M2`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bucket {
    total: f64,
    m2: f64,
}

/// Number of values in a bucket of `row`, `2^row`.
#[inline]
fn bucket_size(row: usize) -> f64 {
    // Built from its exponent bits: exact, and cheaper than converting an integer. Rows
    // never come near 1,023 (a window of 2^63 values cannot be fed).
    f64::from_bits((1023 + row as u64) << 52)
}

/// ADWIN change detector, reproducing River 0.26.1's `drift.ADWIN` exactly (in
/// [`AdwinMode::River`]) or the paper's shrinking window ([`AdwinMode::Shrinking`]).
///
/// The window is an exponential histogram: row `i` holds up to `max_buckets + 1` buckets
/// of `2^i` values each (sum and `M2`); when a row overflows its two oldest buckets merge
/// into one bucket of the next row. Every `clock` values, once the window holds more than
/// `grace_period` values, every split between buckets (oldest part `W0`, newest part `W1`,
/// each at least `min_window_length` long) is tested, oldest first; when the means differ by
/// more than `eps = sqrt(2 m (M2 / width) dd) + (2/3) dd m`, with
/// `dd = ln(2 ln(width) / delta)` and `m = 1/(n0 - mwl + 1) + 1/(n1 - mwl + 1)`, the oldest
/// bucket is dropped and the test starts over. The floating-point operations follow River's
/// order, so widths and detections match it index for index.
///
/// Memory is about 2 KB with the default parameters, whatever the window length: 16 rows
/// of 8 bucket slots are reserved up front, so an update allocates nothing (past 16 rows,
/// about 300,000 values, a window longer than any seen before adds a row).
///
/// ```
/// use vigil_detectors::DriftDetector;
/// use vigil_detectors::drift::Adwin;
///
/// let mut adwin = Adwin::default();
/// // An error rate of 0.2, then 0.8 from value 1,000 on.
/// let mut detections = Vec::new();
/// for i in 0..2_000 {
///     let error = if i < 1_000 { i % 5 == 0 } else { i % 5 != 0 };
///     if adwin.update(f64::from(u8::from(error))) {
///         detections.push(i);
///     }
/// }
/// // Checks run every 32 values, so a detection lands on a multiple of 32, minus one.
/// assert_eq!(detections.len(), 1);
/// assert!(detections[0] >= 1_000 && (detections[0] + 1) % 32 == 0);
/// assert!(adwin.estimation() > 0.7);
/// ```
#[derive(Debug, Clone)]
pub struct Adwin {
    params: AdwinParams,
    /// `max_buckets + 1`: a row briefly holds one bucket too many before it merges.
    row_limit: usize,
    /// Slots per row: `row_limit` rounded up to a power of two, so a row is a ring buffer
    /// indexed with `& slot_mask` (dropping the oldest buckets moves no data).
    slots_per_row: usize,
    slot_mask: usize,
    min_window_length: f64,
    grace_period: f64,
    /// Ring buffers of buckets, `slots_per_row` per allocated row.
    buckets: Vec<Bucket>,
    /// Where each allocated row starts and how many buckets it holds.
    rows_meta: Vec<Row>,
    /// Rows in use (the last one holds the oldest values); at least 1.
    rows: usize,
    /// Values in the window. A float, as in River, because the cut test works in floats.
    width: f64,
    total: f64,
    /// Sum of squared deviations from the window mean (River's `variance`).
    m2: f64,
    /// Updates left before the next cut test: River tests when the number of updates since
    /// the window was last emptied is a multiple of `clock`; counting down avoids a division.
    until_check: u64,
    detected: bool,
    detections: u64,
}

/// A row of the histogram: its oldest bucket's slot and its number of buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Row {
    start: usize,
    count: usize,
}

impl Default for Adwin {
    /// An ADWIN with River's defaults.
    fn default() -> Adwin {
        Adwin::with_valid_params(AdwinParams::default())
    }
}

impl Adwin {
    /// An empty ADWIN.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] when a parameter is out of range (see [`AdwinParams`]).
    pub fn new(params: AdwinParams) -> Result<Adwin, DetectorError> {
        params.validate()?;
        Ok(Adwin::with_valid_params(params))
    }

    fn with_valid_params(params: AdwinParams) -> Adwin {
        let row_limit = params.max_buckets + 1;
        let slots_per_row = row_limit.next_power_of_two();
        let mut adwin = Adwin {
            params,
            row_limit,
            slots_per_row,
            slot_mask: slots_per_row - 1,
            min_window_length: params.min_window_length as f64,
            grace_period: params.grace_period as f64,
            buckets: vec![Bucket::default(); slots_per_row * INITIAL_ROWS],
            rows_meta: vec![Row::default(); INITIAL_ROWS],
            rows: 1,
            width: 0.0,
            total: 0.0,
            m2: 0.0,
            until_check: 0,
            detected: false,
            detections: 0,
        };
        adwin.clear_window();
        adwin
    }

    /// Its parameters.
    pub fn params(&self) -> &AdwinParams {
        &self.params
    }

    /// Adds one value; `Ok(true)` when this value revealed a change.
    ///
    /// In [`AdwinMode::River`], the update after a detection first empties the window.
    ///
    /// # Errors
    /// [`DetectorError::NonFinite`] for NaN or an infinity; the detector is left unchanged.
    pub fn try_update(&mut self, x: f64) -> Result<bool, DetectorError> {
        check_input(NAME, 1, std::slice::from_ref(&x))?;
        Ok(self.update_finite(x))
    }

    /// [`try_update`](Self::try_update) for a value known to be finite.
    #[inline]
    fn update_finite(&mut self, x: f64) -> bool {
        if self.detected && self.params.mode == AdwinMode::River {
            self.clear_window();
        }
        self.insert(x);
        self.until_check -= 1;
        self.detected = false;
        if self.until_check == 0 {
            self.until_check = self.params.clock as u64;
            self.detected = self.width > self.grace_period && self.cut_while_changed();
            if self.detected {
                self.detections += 1;
            }
        }
        self.detected
    }

    /// Whether the last update revealed a change (River's `drift_detected`).
    pub fn detected(&self) -> bool {
        self.detected
    }

    /// Updates at which a change was detected since construction (or the last [`reset`](Self::reset)).
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// Values in the window.
    pub fn width(&self) -> usize {
        self.width as usize
    }

    /// Sum of the values in the window.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Mean of the window, 0 when it is empty.
    pub fn estimation(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.total / self.width
        }
    }

    /// Sum of squared deviations from the window mean (what River's `ADWIN.variance` returns).
    pub fn m2(&self) -> f64 {
        self.m2
    }

    /// Population variance of the window, `m2 / width`; 0 when it is empty.
    pub fn variance(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.m2 / self.width
        }
    }

    /// Forgets everything but the parameters.
    pub fn reset(&mut self) {
        self.clear_window();
        self.detected = false;
        self.detections = 0;
    }

    /// Empties the window and restarts the clock, keeping the allocated rows.
    fn clear_window(&mut self) {
        self.rows_meta.fill(Row::default());
        self.rows = 1;
        self.width = 0.0;
        self.total = 0.0;
        self.m2 = 0.0;
        self.until_check = self.params.clock as u64;
    }

    /// Index in `buckets` of the `k`-th oldest bucket of `row`.
    #[inline]
    fn slot(&self, row: usize, k: usize) -> usize {
        row * self.slots_per_row + ((self.rows_meta[row].start + k) & self.slot_mask)
    }

    /// Appends `x` as a new bucket of row 0, updating width, total and `M2` (Welford), then
    /// merges overflowing rows.
    #[inline]
    fn insert(&mut self, x: f64) {
        let slot = self.slot(0, self.rows_meta[0].count);
        self.buckets[slot] = Bucket { total: x, m2: 0.0 };
        self.rows_meta[0].count += 1;

        self.width += 1.0;
        if self.width > 1.0 {
            // River's operation order, so M2 rounds the same way.
            let deviation = x - self.total / (self.width - 1.0);
            self.m2 += (self.width - 1.0) * deviation * deviation / self.width;
        }
        self.total += x;

        let mut row = 0;
        while self.rows_meta[row].count == self.row_limit {
            self.merge_oldest_pair(row);
            row += 1;
        }
    }

    /// Merges the two oldest buckets of the full `row` into a new bucket of `row + 1`.
    fn merge_oldest_pair(&mut self, row: usize) {
        let a = self.buckets[self.slot(row, 0)];
        let b = self.buckets[self.slot(row, 1)];
        let n = bucket_size(row);
        let (mean_a, mean_b) = (a.total / n, b.total / n);
        let merged = Bucket {
            total: a.total + b.total,
            m2: a.m2 + b.m2 + n * 0.5 * (mean_a - mean_b) * (mean_a - mean_b),
        };
        let meta = &mut self.rows_meta[row];
        meta.start = (meta.start + 2) & self.slot_mask;
        meta.count -= 2;

        let next = row + 1;
        if next == self.rows {
            self.rows += 1;
            if self.rows_meta.len() < self.rows {
                // A window longer than any seen so far: one more row, rarely.
                self.rows_meta.push(Row::default());
                self.buckets
                    .resize(self.buckets.len() + self.slots_per_row, Bucket::default());
            }
            self.rows_meta[next] = Row::default();
        }
        let slot = self.slot(next, self.rows_meta[next].count);
        self.buckets[slot] = merged;
        self.rows_meta[next].count += 1;
    }

    /// Runs the cut test, dropping the oldest bucket while a cut is found; true when at least
    /// one was.
    fn cut_while_changed(&mut self) -> bool {
        let mut changed = false;
        while self.find_cut() {
            changed = true;
            self.drop_oldest_bucket();
        }
        changed
    }

    /// Scans the splits between buckets from the oldest to the newest; true at the first
    /// split whose halves' means differ by more than the bound.
    ///
    /// The bound is River's, computed in River's operation order so that every decision is
    /// bit-identical. Most splits are cleared first by a division-free test that can only
    /// err towards running the exact one: with `a = n0 - mwl + 1`, `b = n1 - mwl + 1`,
    /// `m = (a + b) / (a b)` and `c = (2/3) dd`, the bound `sqrt(2 m v dd) + c m` is at least
    /// `sqrt(2 m v dd + c² m²)`, and the gap of the means is `|u0 n1 - u1 n0| / (n0 n1)`.
    /// Multiplied out, a split cannot cut when
    /// `(|u0 n1 - u1 n0| + slack)² (a b)² <= (2 v dd (a + b) a b + c² (a + b)²) (n0 n1)²`,
    /// where the slack (1e-12 of the products) and a 1e-9 relative margin cover every
    /// rounding on both sides by several orders of magnitude.
    fn find_cut(&self) -> bool {
        let mwl = self.min_window_length;
        // Both depend on the window only, which does not change during a scan; computed as
        // River computes them for each split, so the bound is bit-identical.
        let dd = (2.0 * self.width.ln() / self.params.delta).ln();
        let window_variance = self.m2 / self.width;
        let two_thirds_dd = 2.0 / 3.0 * dd;
        let variance_term = 2.0 * window_variance * dd;
        let squared_c = two_thirds_dd * two_thirds_dd;

        let (mut n0, mut n1) = (0.0, self.width);
        let (mut u0, mut u1) = (0.0, self.total);
        for row in (0..self.rows).rev() {
            let size = bucket_size(row);
            let Row { start, count } = self.rows_meta[row];
            let ring = &self.buckets[row * self.slots_per_row..(row + 1) * self.slots_per_row];
            for k in 0..count {
                let bucket_total = ring[(start + k) & self.slot_mask].total;
                n0 += size;
                n1 -= size;
                u0 += bucket_total;
                u1 -= bucket_total;
                if row == 0 && k + 1 == count {
                    // The newest bucket always stays in W1.
                    return false;
                }
                if n1 < mwl || n0 < mwl {
                    continue;
                }

                let (a, b) = (n0 - mwl + 1.0, n1 - mwl + 1.0);
                let (ab, a_plus_b, n0n1) = (a * b, a + b, n0 * n1);
                let gap = (u0 * n1 - u1 * n0).abs() + 1e-12 * (u0.abs() * n1 + u1.abs() * n0);
                let scaled_gap = gap * ab;
                let scaled_bound = (variance_term * a_plus_b * ab
                    + squared_c * a_plus_b * a_plus_b)
                    * n0n1
                    * n0n1
                    * (1.0 - 1e-9);
                if scaled_bound.is_finite() && scaled_gap * scaled_gap <= scaled_bound {
                    continue;
                }

                let mean_gap = u0 / n0 - u1 / n1;
                let m = 1.0 / (n0 - mwl + 1.0) + 1.0 / (n1 - mwl + 1.0);
                let eps = (2.0 * m * window_variance * dd).sqrt() + two_thirds_dd * m;
                if mean_gap.abs() > eps {
                    return true;
                }
            }
        }
        false
    }

    /// River's cut scan without the division-free pre-test: what [`find_cut`] must agree with.
    #[cfg(test)]
    fn find_cut_reference(&self) -> bool {
        let mwl = self.min_window_length;
        let (mut n0, mut n1) = (0.0, self.width);
        let (mut u0, mut u1) = (0.0, self.total);
        for row in (0..self.rows).rev() {
            let size = bucket_size(row);
            let count = self.rows_meta[row].count;
            for k in 0..count {
                let bucket_total = self.buckets[self.slot(row, k)].total;
                n0 += size;
                n1 -= size;
                u0 += bucket_total;
                u1 -= bucket_total;
                if row == 0 && k + 1 == count {
                    return false;
                }
                let mean_gap = u0 / n0 - u1 / n1;
                if n1 >= mwl && n0 >= mwl {
                    let dd = (2.0 * self.width.ln() / self.params.delta).ln();
                    let m = 1.0 / (n0 - mwl + 1.0) + 1.0 / (n1 - mwl + 1.0);
                    let eps = (2.0 * m * (self.m2 / self.width) * dd).sqrt() + 2.0 / 3.0 * dd * m;
                    if mean_gap.abs() > eps {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Removes the oldest bucket (the first of the last row), downdating width, total and `M2`.
    fn drop_oldest_bucket(&mut self) {
        let last = self.rows - 1;
        let bucket = self.buckets[self.slot(last, 0)];
        let n = bucket_size(last);
        let mean = bucket.total / n;

        self.width -= n;
        self.total -= bucket.total;
        let window_mean = self.total / self.width;
        self.m2 -= bucket.m2
            + n * self.width * (mean - window_mean) * (mean - window_mean) / (n + self.width);

        let meta = &mut self.rows_meta[last];
        meta.start = (meta.start + 1) & self.slot_mask;
        meta.count -= 1;
        if meta.count == 0 && last > 0 {
            self.rows -= 1;
        }
    }

    /// The detector's whole state (parameters included) as versioned bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(SNAPSHOT_TAG, SNAPSHOT_VERSION);
        w.f64(self.params.delta);
        w.u64(self.params.clock as u64);
        w.u64(self.params.max_buckets as u64);
        w.u64(self.params.min_window_length as u64);
        w.u64(self.params.grace_period as u64);
        w.u64(self.params.mode.code());
        w.f64(self.width);
        w.f64(self.total);
        w.f64(self.m2);
        w.u64(self.until_check);
        w.u64(u64::from(self.detected));
        w.u64(self.detections);
        let counts: Vec<u64> = self.rows_meta[..self.rows]
            .iter()
            .map(|row| row.count as u64)
            .collect();
        w.u64s(&counts);
        let live = self.live_buckets();
        w.f64s(&live.iter().map(|b| b.total).collect::<Vec<_>>());
        w.f64s(&live.iter().map(|b| b.m2).collect::<Vec<_>>());
        w.finish()
    }

    /// The buckets in use, row by row from row 0, oldest first within a row.
    fn live_buckets(&self) -> Vec<Bucket> {
        (0..self.rows)
            .flat_map(|row| {
                (0..self.rows_meta[row].count).map(move |k| self.buckets[self.slot(row, k)])
            })
            .collect()
    }

    /// Rebuilds a detector from [`snapshot`](Self::snapshot) bytes.
    ///
    /// # Errors
    /// [`DetectorError::Snapshot`] for another detector's snapshot, another format version, a
    /// cut-short or inconsistent one; [`DetectorError::InvalidParameter`] for parameters out
    /// of range.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Adwin, DetectorError> {
        let mut r = SnapshotReader::new(NAME, bytes, SNAPSHOT_TAG, SNAPSHOT_VERSION)?;
        let delta = r.f64()?;
        let clock = read_usize(&mut r, NAME, "clock")?;
        let max_buckets = read_usize(&mut r, NAME, "max_buckets")?;
        let min_window_length = read_usize(&mut r, NAME, "min_window_length")?;
        let grace_period = read_usize(&mut r, NAME, "grace_period")?;
        let mode_code = r.u64()?;
        let mode = AdwinMode::from_code(mode_code)
            .ok_or_else(|| snapshot_error(NAME, format!("unknown mode {mode_code}")))?;
        let params = AdwinParams {
            delta,
            clock,
            max_buckets,
            min_window_length,
            grace_period,
            mode,
        };
        params.validate()?;
        let mut adwin = Adwin::with_valid_params(params);

        let width = r.f64()?;
        let total = r.f64()?;
        let m2 = r.f64()?;
        let until_check = r.u64()?;
        let detected = r.flag("detected")?;
        let detections = r.u64()?;
        let counts = r.u64s()?;
        let totals = r.f64s()?;
        let m2s = r.f64s()?;
        r.end()?;

        if counts.is_empty() || counts.len() > 64 {
            return Err(snapshot_error(
                NAME,
                format!("{} histogram rows, expected 1 to 64", counts.len()),
            ));
        }
        let mut expected_width = 0.0;
        let mut live = 0usize;
        for (row, &count) in counts.iter().enumerate() {
            if count > adwin.params.max_buckets as u64 {
                return Err(snapshot_error(
                    NAME,
                    format!(
                        "row {row} holds {count} buckets, more than {}",
                        adwin.params.max_buckets
                    ),
                ));
            }
            expected_width += count as f64 * bucket_size(row);
            live += count as usize;
        }
        if totals.len() != live || m2s.len() != live {
            return Err(snapshot_error(
                NAME,
                format!(
                    "{} bucket totals and {} M2 values for {live} buckets",
                    totals.len(),
                    m2s.len()
                ),
            ));
        }
        if until_check == 0 || until_check > clock as u64 {
            return Err(snapshot_error(
                NAME,
                format!("{until_check} updates to the next check, outside 1..={clock}"),
            ));
        }
        if expected_width != width {
            return Err(snapshot_error(
                NAME,
                format!("width {width} disagrees with the buckets' {expected_width} values"),
            ));
        }
        if ![total, m2]
            .iter()
            .chain(&totals)
            .chain(&m2s)
            .all(|v| v.is_finite())
        {
            return Err(snapshot_error(NAME, "a sum is not a finite number"));
        }

        let rows = counts.len();
        if adwin.rows_meta.len() < rows {
            adwin.rows_meta.resize(rows, Row::default());
            adwin
                .buckets
                .resize(rows * adwin.slots_per_row, Bucket::default());
        }
        let mut next = 0;
        for (row, &count) in counts.iter().enumerate() {
            let count = count as usize;
            adwin.rows_meta[row] = Row { start: 0, count };
            for k in 0..count {
                let slot = adwin.slot(row, k);
                adwin.buckets[slot] = Bucket {
                    total: totals[next],
                    m2: m2s[next],
                };
                next += 1;
            }
        }
        adwin.rows = rows;
        adwin.width = width;
        adwin.total = total;
        adwin.m2 = m2;
        adwin.until_check = until_check;
        adwin.detected = detected;
        adwin.detections = detections;
        Ok(adwin)
    }

    /// Replaces this detector, parameters included, with the one a snapshot holds.
    ///
    /// # Errors
    /// As [`from_snapshot`](Self::from_snapshot); the detector is left unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        *self = Adwin::from_snapshot(bytes)?;
        Ok(())
    }
}

impl DriftDetector for Adwin {
    /// As [`Adwin::try_update`], except that a NaN or infinite value is skipped: it returns
    /// false and changes nothing.
    fn update(&mut self, x: f64) -> bool {
        x.is_finite() && self.update_finite(x)
    }

    fn estimation(&self) -> f64 {
        Adwin::estimation(self)
    }

    fn width(&self) -> usize {
        Adwin::width(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(adwin: &mut Adwin, xs: impl IntoIterator<Item = f64>) -> Vec<usize> {
        xs.into_iter()
            .enumerate()
            .filter_map(|(i, x)| adwin.update(x).then_some(i))
            .collect()
    }

    #[test]
    fn rejects_parameters_out_of_range_naming_them() {
        let cases: [(AdwinParams, &str, &str); 6] = [
            (
                AdwinParams {
                    delta: 0.0,
                    ..Default::default()
                },
                "delta",
                "0",
            ),
            (
                AdwinParams {
                    delta: f64::NAN,
                    ..Default::default()
                },
                "delta",
                "NaN",
            ),
            (
                AdwinParams {
                    clock: 0,
                    ..Default::default()
                },
                "clock",
                "0",
            ),
            (
                AdwinParams {
                    max_buckets: 1,
                    ..Default::default()
                },
                "max_buckets",
                "1",
            ),
            (
                AdwinParams {
                    max_buckets: 5000,
                    ..Default::default()
                },
                "max_buckets",
                "5000",
            ),
            (
                AdwinParams {
                    min_window_length: 0,
                    ..Default::default()
                },
                "min_window_length",
                "0",
            ),
        ];
        for (params, expected_name, expected_value) in cases {
            match Adwin::new(params) {
                Err(DetectorError::InvalidParameter { name, value, .. }) => {
                    assert_eq!((name, value.as_str()), (expected_name, expected_value));
                }
                other => panic!("{params:?} gave {other:?}"),
            }
        }
        assert!(Adwin::new(AdwinParams::default()).is_ok());
    }

    #[test]
    fn window_statistics_match_a_direct_computation() {
        // 1, 2, ..., 5: mean 3, squared deviations 4 + 1 + 0 + 1 + 4.
        let mut adwin = Adwin::default();
        feed(&mut adwin, (1..=5).map(f64::from));
        assert_eq!(adwin.width(), 5);
        assert_eq!(adwin.total(), 15.0);
        assert_eq!(adwin.estimation(), 3.0);
        assert_eq!(adwin.m2(), 10.0);
        assert_eq!(adwin.variance(), 2.0);
    }

    #[test]
    fn histogram_rows_hold_at_most_max_buckets_plus_one_and_add_up_to_the_width() {
        let mut adwin = Adwin::default();
        for i in 0..1_000u32 {
            adwin.update(f64::from(i % 7));
            let live: usize = (0..adwin.rows)
                .map(|row| adwin.rows_meta[row].count << row)
                .sum();
            assert_eq!(live, adwin.width());
            assert!(
                adwin.rows_meta[..adwin.rows]
                    .iter()
                    .all(|row| row.count <= 5)
            );
        }
        // Rows 0..r hold at most 5·(2^r - 1) values: 1,000 values need at least 8 rows.
        assert!(adwin.rows >= 8);
    }

    /// A deterministic pseudo-random stream in [0, 1) (SplitMix64), enough for shapes.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as f64 / 2f64.powi(64)
        }
    }

    #[test]
    fn the_division_free_pre_test_never_changes_a_decision() {
        // Every state reached on streams of several shapes, scales and parameters is scanned
        // both ways; the shifting streams cut often, at splits near the bound.
        type Shape = fn(usize, f64) -> f64;
        let shapes: [(&str, Shape); 5] = [
            ("bernoulli steps", |i, u| {
                f64::from(u8::from(u < if (i / 700) % 2 == 0 { 0.2 } else { 0.6 }))
            }),
            ("gaussian-ish ramp", |i, u| {
                (u - 0.5) * 3.0 + i as f64 / 2_000.0
            }),
            ("large values", |i, u| {
                1e9 + u * 1e6 + if i > 1_500 { 3e5 } else { 0.0 }
            }),
            ("tiny values", |i, u| {
                (u + if i % 1_000 > 500 { 0.3 } else { 0.0 }) * 1e-200
            }),
            ("rare spikes", |_, u| if u > 0.995 { 1e4 } else { u }),
        ];
        let mut scans = 0u64;
        let mut cuts = 0u64;
        for (seed, (shape, value)) in shapes.iter().enumerate() {
            for (max_buckets, min_window_length, delta) in
                [(5, 5, 0.002), (2, 1, 0.3), (7, 12, 1e-6)]
            {
                let params = AdwinParams {
                    max_buckets,
                    min_window_length,
                    delta,
                    clock: 1,
                    grace_period: 0,
                    mode: AdwinMode::Shrinking,
                };
                let mut adwin = Adwin::new(params).unwrap();
                let mut next = uniform(seed as u64);
                for i in 0..3_000 {
                    adwin.insert(value(i, next()));
                    while adwin.width >= 2.0 {
                        let reference = adwin.find_cut_reference();
                        assert_eq!(adwin.find_cut(), reference, "{shape} {params:?} at {i}");
                        scans += 1;
                        if !reference {
                            break;
                        }
                        cuts += 1;
                        adwin.drop_oldest_bucket();
                    }
                }
            }
        }
        assert!(scans > 40_000 && cuts > 300, "{scans} scans, {cuts} cuts");
    }

    #[test]
    fn a_constant_stream_never_drifts_and_keeps_every_value() {
        let mut adwin = Adwin::default();
        assert!(feed(&mut adwin, std::iter::repeat_n(0.25, 20_000)).is_empty());
        assert_eq!(adwin.width(), 20_000);
        assert_eq!(adwin.m2(), 0.0);
    }

    #[test]
    fn an_abrupt_shift_is_detected_on_a_clock_tick_and_river_mode_restarts_the_window() {
        let mut adwin = Adwin::default();
        let xs = (0..600).map(|i| if i < 300 { 0.0 } else { 1.0 });
        let detections = feed(&mut adwin, xs);
        assert!(!detections.is_empty());
        let first = detections[0];
        assert!(first >= 300 && (first + 1) % 32 == 0, "{detections:?}");
        // The update after the detection starts a new window with one value.
        let mut river = Adwin::default();
        for i in 0..=first {
            river.update(if i < 300 { 0.0 } else { 1.0 });
        }
        assert!(river.detected());
        river.update(1.0);
        assert_eq!(river.width(), 1);
        assert!(!river.detected());
    }

    #[test]
    fn shrinking_mode_drops_the_old_part_and_keeps_growing() {
        let params = AdwinParams {
            mode: AdwinMode::Shrinking,
            ..Default::default()
        };
        let mut adwin = Adwin::new(params).unwrap();
        let mut before = (0, 0.0);
        let mut detection = None;
        for i in 0..600 {
            let x = if i < 300 { 0.0 } else { 1.0 };
            if adwin.update(x) {
                detection = Some(i);
                break;
            }
            before = (adwin.width(), adwin.estimation());
        }
        let i = detection.expect("the shift is detected");
        let (width, estimation) = (adwin.width(), adwin.estimation());
        assert!(
            width + 1 < before.0,
            "detected at {i}: {width} values left of {}",
            before.0
        );
        assert!(estimation > before.1);
        adwin.update(1.0);
        assert_eq!(adwin.width(), width + 1);
    }

    #[test]
    fn non_finite_values_are_refused_and_change_nothing() {
        let mut adwin = Adwin::default();
        feed(&mut adwin, [1.0, 2.0, 3.0]);
        let before = adwin.snapshot();
        assert!(matches!(
            adwin.try_update(f64::NAN),
            Err(DetectorError::NonFinite { .. })
        ));
        assert!(!adwin.update(f64::INFINITY));
        assert_eq!(adwin.snapshot(), before);
    }

    #[test]
    fn snapshot_round_trips_to_bit_identical_behaviour() {
        let xs: Vec<f64> = (0..5_000u32)
            .map(|i| {
                f64::from(i.wrapping_mul(2_654_435_761) >> 28) / 16.0
                    + if i > 2_500 { 0.4 } else { 0.0 }
            })
            .collect();
        for mode in [AdwinMode::River, AdwinMode::Shrinking] {
            let params = AdwinParams {
                mode,
                ..Default::default()
            };
            let mut original = Adwin::new(params).unwrap();
            feed(&mut original, xs[..2_600].iter().copied());
            let mut restored = Adwin::default();
            restored.restore(&original.snapshot()).unwrap();
            assert_eq!(restored.params(), original.params());
            for &x in &xs[2_600..] {
                assert_eq!(original.update(x), restored.update(x));
                assert_eq!(original.width(), restored.width());
                assert_eq!(original.total().to_bits(), restored.total().to_bits());
                assert_eq!(original.m2().to_bits(), restored.m2().to_bits());
            }
            assert_eq!(original.detections(), restored.detections());
        }
    }

    #[test]
    fn corrupt_snapshots_are_refused_and_leave_the_detector_unchanged() {
        let mut adwin = Adwin::default();
        feed(&mut adwin, (0..100).map(f64::from));
        let bytes = adwin.snapshot();
        let before = adwin.snapshot();
        assert!(adwin.restore(&bytes[..bytes.len() - 3]).is_err());
        let mut wrong_tag = bytes.clone();
        wrong_tag[0] = b'X';
        assert!(adwin.restore(&wrong_tag).is_err());
        // Width field (after the 6-byte header and six parameter words) made inconsistent.
        let mut wrong_width = bytes.clone();
        wrong_width[6 + 48..6 + 56].copy_from_slice(&1.0f64.to_le_bytes());
        assert!(matches!(
            adwin.restore(&wrong_width),
            Err(DetectorError::Snapshot { .. })
        ));
        assert_eq!(adwin.snapshot(), before);
    }
}
