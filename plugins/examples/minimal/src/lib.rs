//! The smallest useful Vigil plugin, to show the shape: each feature's distance from its
//! running mean in units of its running standard deviation, combined as a root mean square.
//!
//! Config (JSON, every key optional):
//!
//! - `min_std` (number > 0, default `1e-6`): the smallest standard deviation divided by, so a
//!   constant feature does not divide by zero.
//!
//! The score of `x` is `sqrt(mean_i(((x_i - mean_i) / max(std_i, min_std))^2))`, with the
//! mean and (population) standard deviation of the rows learned so far (Welford's update).
//! A model that has learned nothing has mean 0 and standard deviation 0.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use vigil_plugin::serde_json::Value;
use vigil_plugin::{ConfigReader, Error, PluginDetector, export_detector};

/// The snapshot's first bytes.
const TAG: &[u8; 4] = b"VPMN";
/// The snapshot format's version.
const FORMAT: u8 = 1;

/// Running mean and variance per feature; see the crate documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningZ {
    min_std: f64,
    n: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl RunningZ {
    /// Rows learned.
    pub fn learned(&self) -> u64 {
        self.n
    }
}

impl PluginDetector for RunningZ {
    const NAME: &'static str = "running-z";

    fn create(config: &Value, dim: usize) -> Result<RunningZ, Error> {
        let mut reader = ConfigReader::new(config)?;
        let min_std = reader.f64("min_std", 1e-6)?;
        reader.finish()?;
        if min_std <= 0.0 {
            return Err(Error::InvalidConfig(format!(
                "min_std must be greater than 0, got {min_std}"
            )));
        }
        Ok(RunningZ {
            min_std,
            n: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        })
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn score_one(&self, x: &[f64]) -> Result<f64, Error> {
        let n = self.n.max(1) as f64;
        let sum: f64 = x
            .iter()
            .zip(self.mean.iter().zip(&self.m2))
            .map(|(v, (mean, m2))| {
                let std = (m2 / n).sqrt().max(self.min_std);
                let z = (v - mean) / std;
                z * z
            })
            .sum();
        Ok((sum / x.len() as f64).sqrt())
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<(), Error> {
        self.n += 1;
        let n = self.n as f64;
        for ((v, mean), m2) in x.iter().zip(&mut self.mean).zip(&mut self.m2) {
            let delta = v - *mean;
            *mean += delta / n;
            *m2 += delta * (v - *mean);
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 1 + 8 * (3 + 2 * self.dim()));
        out.extend_from_slice(TAG);
        out.push(FORMAT);
        out.extend_from_slice(&(self.dim() as u64).to_le_bytes());
        out.extend_from_slice(&self.min_std.to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
        for v in self.mean.iter().chain(&self.m2) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let dim = self.dim();
        let expected = 4 + 1 + 8 * (3 + 2 * dim);
        if bytes.len() != expected {
            return Err(Error::Snapshot(format!(
                "{expected} bytes expected for {dim} features, got {}",
                bytes.len()
            )));
        }
        let (tag, rest) = bytes.split_at(4);
        if tag != TAG {
            return Err(Error::Snapshot(format!("tag {tag:?} is not {TAG:?}")));
        }
        let (format, rest) = rest.split_at(1);
        if format[0] != FORMAT {
            return Err(Error::Snapshot(format!(
                "format version {} is not {FORMAT}",
                format[0]
            )));
        }
        let words: Vec<[u8; 8]> = rest
            .chunks_exact(8)
            .map(|c| {
                let mut w = [0; 8];
                w.copy_from_slice(c);
                w
            })
            .collect();
        if u64::from_le_bytes(words[0]) != dim as u64 {
            return Err(Error::Snapshot(format!(
                "a snapshot of {} features, this model takes {dim}",
                u64::from_le_bytes(words[0])
            )));
        }
        let min_std = f64::from_le_bytes(words[1]);
        let floats: Vec<f64> = words[3..].iter().map(|w| f64::from_le_bytes(*w)).collect();
        if min_std.is_nan() || min_std <= 0.0 || floats.iter().any(|v| !v.is_finite()) {
            return Err(Error::Snapshot("a non-finite or negative value".into()));
        }
        self.min_std = min_std;
        self.n = u64::from_le_bytes(words[2]);
        self.mean = floats[..dim].to_vec();
        self.m2 = floats[dim..].to_vec();
        Ok(())
    }
}

export_detector!(RunningZ);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin::serde_json::json;

    fn model(dim: usize) -> RunningZ {
        RunningZ::create(&json!({}), dim).expect("default config")
    }

    #[test]
    fn far_rows_score_higher() {
        let mut m = model(2);
        for i in 0..100 {
            let v = (i % 10) as f64 / 10.0;
            m.learn_one(&[v, 1.0 - v]).expect("learn");
        }
        let near = m.score_one(&[0.45, 0.55]).expect("score");
        let far = m.score_one(&[5.0, -5.0]).expect("score");
        assert!(far > 10.0 * near, "near {near}, far {far}");
        assert_eq!(m.learned(), 100);
    }

    #[test]
    fn matches_the_formula() {
        let mut m = model(1);
        for v in [1.0, 2.0, 3.0, 4.0] {
            m.learn_one(&[v]).expect("learn");
        }
        // mean 2.5, population variance 1.25
        let s = m.score_one(&[5.0]).expect("score");
        assert!((s - 2.5 / 1.25f64.sqrt()).abs() < 1e-12, "{s}");
    }

    #[test]
    fn batch_equals_loop() {
        let rows: Vec<f64> = (0..40).map(|i| ((i * 7) % 13) as f64).collect();
        let mut a = model(2);
        let mut b = model(2);
        let mut batched = vec![0.0; 20];
        a.score_learn_batch(&rows, &mut batched).expect("batch");
        for (i, x) in rows.chunks(2).enumerate() {
            let s = b.score_one(x).expect("score");
            b.learn_one(x).expect("learn");
            assert_eq!(s.to_bits(), batched[i].to_bits(), "row {i}");
        }
        assert_eq!(a, b);
    }

    #[test]
    fn snapshot_round_trips_and_refuses_garbage() {
        let mut m = model(3);
        for i in 0..17 {
            m.learn_one(&[i as f64, 1.0, -(i as f64)]).expect("learn");
        }
        let bytes = m.snapshot();
        let mut r = model(3);
        r.restore(&bytes).expect("restore");
        assert_eq!(r, m);
        assert!(matches!(r.restore(&bytes[1..]), Err(Error::Snapshot(_))));
        let mut other = bytes.clone();
        other[0] = b'X';
        assert!(matches!(r.restore(&other), Err(Error::Snapshot(_))));
        assert!(matches!(model(2).restore(&bytes), Err(Error::Snapshot(_))));
    }

    #[test]
    fn bad_config_is_named() {
        let e = RunningZ::create(&json!({"min_std": -1.0}), 2).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "invalid config: min_std must be greater than 0, got -1"
        );
        let e = RunningZ::create(&json!({"window": 3}), 2).expect_err("refused");
        assert_eq!(e.to_string(), "invalid config: unknown key \"window\"");
    }
}
