//! Labelled feature rows as the conformance suite and the quality tests read them: the
//! shared CSVs with a `label` column (`vectors/synth_anomaly_s7.csv`, `data/odds/http.csv`)
//! and NSL-KDD with its categorical columns dropped; a seeded Fisher-Yates shuffle; the
//! train/test split of a batch model fitted on the first normal rows.
//!
//! Everything is read with std, independently of the parsers under test.

use std::path::Path;

/// Feature rows with a 0/1 label in the last column, read with std.
#[derive(Debug, Clone)]
pub struct LabelledRows {
    /// Features per row.
    pub dim: usize,
    /// Row-major features.
    pub features: Vec<f64>,
    /// True for anomalies.
    pub labels: Vec<bool>,
}

/// Cells of an NSL-KDD row: 41 features, the attack name, the difficulty level.
const NSL_KDD_CELLS: usize = 43;
/// Position of the attack name in an NSL-KDD row.
const NSL_KDD_CLASS: usize = 41;
/// The categorical NSL-KDD features: protocol, service, flag.
const NSL_KDD_CATEGORICAL: std::ops::RangeInclusive<usize> = 1..=3;
/// The numeric NSL-KDD features: the 41 but the three categorical ones.
const NSL_KDD_NUMERIC_FEATURES: usize = 38;

impl LabelledRows {
    /// Reads a CSV with a header line, numeric feature columns and a last column named
    /// `label` holding 0 or 1 (as `synth_anomaly_s7.csv` and ODDS `http.csv`). Blank lines
    /// are skipped.
    ///
    /// # Errors
    /// An unreadable file, a header whose last column is not `label`, or a line that is not
    /// numbers with a 0/1 label, naming the line.
    pub fn read(path: &Path) -> Result<LabelledRows, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut lines = text.lines();
        let header = lines
            .next()
            .ok_or_else(|| format!("{} is empty", path.display()))?;
        let columns = header.split(',').count();
        if columns < 2 {
            return Err(format!(
                "{}: header {header:?} has no feature column",
                path.display()
            ));
        }
        if header.rsplit(',').next() != Some("label") {
            return Err(format!(
                "{}: header {header:?} does not end in a label column",
                path.display()
            ));
        }
        let dim = columns - 1;
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for (number, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = || format!("{} line {}: {line:?}", path.display(), number + 2);
            if cells.len() != columns {
                return Err(bad());
            }
            for cell in &cells[..dim] {
                features.push(cell.parse::<f64>().map_err(|_| bad())?);
            }
            labels.push(match cells[dim] {
                "0" => false,
                "1" => true,
                _ => return Err(bad()),
            });
        }
        Ok(LabelledRows {
            dim,
            features,
            labels,
        })
    }

    /// Reads an NSL-KDD file (`KDDTrain+.txt` and the like: no header, 43 cells a row) as
    /// its 38 numeric features, dropping the three categorical ones (protocol, service,
    /// flag) and the difficulty level; a row is anomalous unless its attack name is
    /// `normal`.
    ///
    /// # Errors
    /// An unreadable file, or a line without 43 cells or with a feature that is not a
    /// number, naming the line.
    pub fn read_nsl_kdd(path: &Path) -> Result<LabelledRows, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let bad =
                |why: &str| format!("{} line {}: {why}: {line:?}", path.display(), number + 1);
            let cells: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
            if cells.len() != NSL_KDD_CELLS {
                return Err(bad(&format!("{} cells, not {NSL_KDD_CELLS}", cells.len())));
            }
            for (index, cell) in cells[..NSL_KDD_CLASS].iter().enumerate() {
                if !NSL_KDD_CATEGORICAL.contains(&index) {
                    features.push(
                        cell.parse::<f64>()
                            .map_err(|_| bad(&format!("feature {index} is not a number")))?,
                    );
                }
            }
            labels.push(cells[NSL_KDD_CLASS] != "normal");
        }
        Ok(LabelledRows {
            dim: NSL_KDD_NUMERIC_FEATURES,
            features,
            labels,
        })
    }

    /// Shuffles the rows (features and label together) by Fisher-Yates: from the last row
    /// down, row `i` swaps with row `pick(i)`, which must be in `0..=i`. The caller's
    /// generator decides the permutation, so each test keeps the one its reference figures
    /// were measured on.
    ///
    /// ```
    /// use vigil_tests::conformance::LabelledRows;
    /// let mut rows = LabelledRows { dim: 1, features: vec![0.0, 1.0, 2.0], labels: vec![false, false, true] };
    /// // Always swapping with the first row rotates the rows left by one.
    /// rows.shuffle(|_| 0);
    /// assert_eq!(rows.features, [1.0, 2.0, 0.0]);
    /// assert_eq!(rows.labels, [false, true, false]);
    /// ```
    ///
    /// # Panics
    /// When `pick(i)` is greater than `i`.
    pub fn shuffle(&mut self, mut pick: impl FnMut(usize) -> usize) {
        for i in (1..self.labels.len()).rev() {
            let j = pick(i);
            assert!(j <= i, "pick({i}) gave {j}, past the row it swaps with");
            self.labels.swap(i, j);
            for k in 0..self.dim {
                self.features.swap(i * self.dim + k, j * self.dim + k);
            }
        }
    }

    /// The first `n` normal rows (row-major) for training, and every other row with its label
    /// for testing, in file order.
    pub fn split_first_normal(&self, n: usize) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
        self.split_first_normal_every(n, 1)
    }

    /// As [`split_first_normal`](Self::split_first_normal), but the test rows are only those
    /// whose row index (in the whole file) is a multiple of `stride`: a lighter test set
    /// that keeps the file's spread. Training may fall short of `n` rows when the file has
    /// fewer normal ones.
    ///
    /// ```
    /// use vigil_tests::conformance::LabelledRows;
    /// let rows = LabelledRows {
    ///     dim: 1,
    ///     features: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    ///     labels: vec![false, true, false, true, false, false],
    /// };
    /// let (train, test, labels) = rows.split_first_normal_every(2, 2);
    /// assert_eq!(train, [0.0, 2.0]);
    /// assert_eq!((test, labels), (vec![4.0], vec![false]));
    /// ```
    ///
    /// # Panics
    /// When `stride` is 0.
    pub fn split_first_normal_every(
        &self,
        n: usize,
        stride: usize,
    ) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
        assert!(stride > 0, "a stride of 0 rows");
        let mut train = Vec::with_capacity(n * self.dim);
        let mut test = Vec::new();
        let mut labels = Vec::new();
        let mut taken = 0;
        let rows = self.features.chunks_exact(self.dim).zip(&self.labels);
        for (index, (x, &anomalous)) in rows.enumerate() {
            if !anomalous && taken < n {
                train.extend_from_slice(x);
                taken += 1;
            } else if index.is_multiple_of(stride) {
                test.extend_from_slice(x);
                labels.push(anomalous);
            }
        }
        (train, test, labels)
    }
}
