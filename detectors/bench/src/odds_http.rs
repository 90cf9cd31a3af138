//! The first normal rows of ODDS http (`shared/data/odds/http.csv`: columns `f0,f1,f2,label`),
//! read with plain std for the batch OCSVM bench and memory example. Reading stops after the
//! rows needed, so the file itself never sits in memory.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// Number of features of ODDS http.
pub const DIM: usize = 3;

/// `shared/data/odds/http.csv` beside the checkout, or under `$VIGIL_SHARED_DIR`.
pub fn http_csv() -> PathBuf {
    vigil_tests::shared_dir().join("data/odds/http.csv")
}

/// The first `n` rows labelled 0, row-major, [`DIM`] values each.
pub fn first_normal_rows(n: usize) -> Result<Vec<f64>, String> {
    let path = http_csv();
    let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::with_capacity(n * DIM);
    let mut taken = 0;
    for (number, line) in BufReader::new(file).lines().enumerate().skip(1) {
        if taken == n {
            break;
        }
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let fields: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{} line {}: {e}", path.display(), number + 1))?;
        if fields.len() != DIM + 1 {
            return Err(format!(
                "{} line {}: {} fields",
                path.display(),
                number + 1,
                fields.len()
            ));
        }
        if fields[DIM] == 0.0 {
            rows.extend_from_slice(&fields[..DIM]);
            taken += 1;
        }
    }
    if taken < n {
        return Err(format!("{}: only {taken} normal rows", path.display()));
    }
    Ok(rows)
}
