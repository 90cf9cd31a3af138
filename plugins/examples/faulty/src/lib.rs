//! A deliberately faulty plugin for the host's tests: it scores like a plain distance from
//! the origin, but panics or returns NaN when asked to score at the positions its config
//! names.
//!
//! Config (JSON, every key optional):
//!
//! - `panic_on` (list of integers): scoring panics while this many rows have been learned.
//! - `nan_on` (list of integers): scoring returns NaN while this many rows have been learned.
//! - `fail_on` (list of integers): scoring returns an error while this many rows have been
//!   learned.
//! - `panic_on_snapshot` (0 or 1): `snapshot` panics.
#![warn(missing_docs)]

use vigil_plugin::serde_json::Value;
use vigil_plugin::{ConfigReader, Error, PluginDetector, export_detector};

/// See the crate documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Faulty {
    dim: usize,
    learned: u64,
    panic_on: Vec<u64>,
    nan_on: Vec<u64>,
    fail_on: Vec<u64>,
    panic_on_snapshot: bool,
}

impl PluginDetector for Faulty {
    const NAME: &'static str = "faulty";

    fn create(config: &Value, dim: usize) -> Result<Faulty, Error> {
        let mut reader = ConfigReader::new(config)?;
        let faulty = Faulty {
            dim,
            learned: 0,
            panic_on: reader.u64_list("panic_on")?,
            nan_on: reader.u64_list("nan_on")?,
            fail_on: reader.u64_list("fail_on")?,
            panic_on_snapshot: reader.u64("panic_on_snapshot", 0)? != 0,
        };
        reader.finish()?;
        Ok(faulty)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn score_one(&self, x: &[f64]) -> Result<f64, Error> {
        if self.panic_on.contains(&self.learned) {
            panic!("faulty plugin panics as told, at row {}", self.learned);
        }
        if self.nan_on.contains(&self.learned) {
            return Ok(f64::NAN);
        }
        if self.fail_on.contains(&self.learned) {
            return Err(Error::Failed(format!(
                "faulty plugin fails as told, at row {}",
                self.learned
            )));
        }
        Ok(x.iter().map(|v| v * v).sum::<f64>().sqrt())
    }

    fn learn_one(&mut self, _x: &[f64]) -> Result<(), Error> {
        self.learned += 1;
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        assert!(!self.panic_on_snapshot, "faulty plugin panics in snapshot");
        self.learned.to_le_bytes().to_vec()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| Error::Snapshot(format!("8 bytes expected, got {}", bytes.len())))?;
        self.learned = u64::from_le_bytes(bytes);
        Ok(())
    }
}

export_detector!(Faulty);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin::serde_json::json;

    #[test]
    fn fails_where_told() {
        let mut f = Faulty::create(&json!({"nan_on": [1], "fail_on": [2], "panic_on": [3]}), 1)
            .expect("config");
        assert_eq!(f.score_one(&[3.0]).expect("row 0"), 3.0);
        f.learn_one(&[3.0]).expect("learn");
        assert!(f.score_one(&[3.0]).expect("row 1").is_nan());
        f.learn_one(&[3.0]).expect("learn");
        assert!(matches!(f.score_one(&[3.0]), Err(Error::Failed(_))));
        f.learn_one(&[3.0]).expect("learn");
        let caught = std::panic::catch_unwind(|| f.score_one(&[3.0]));
        assert!(caught.is_err());
    }
}
