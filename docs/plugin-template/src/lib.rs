//! A Vigil detector plugin (from the template): rename the type, `NAME`, and replace the
//! model. This one scores a row by its Euclidean distance from the running mean of the rows
//! it has learned.
//!
//! Build: `cargo build --release`, then copy `target/release/lib<crate>.so` into Vigil's
//! plugin folder (`plugins.dir`). See docs/plugins.md in the Vigil repository.

use vigil_plugin::serde_json::Value;
use vigil_plugin::{ConfigReader, Error, PluginDetector, export_detector};

/// The snapshot's first bytes: change them for your detector.
const TAG: &[u8; 4] = b"TMPL";
/// The snapshot format's version: bump it when the format changes.
const FORMAT: u8 = 1;

/// The detector's state.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateDetector {
    /// How much a feature's distance counts (an example of a config key).
    scale: f64,
    learned: u64,
    mean: Vec<f64>,
}

impl PluginDetector for TemplateDetector {
    /// The name Vigil knows the plugin by: its models are `plugin:<NAME>`.
    const NAME: &'static str = "template";

    fn create(config: &Value, dim: usize) -> Result<Self, Error> {
        // Read every key you accept; `finish` refuses the others (typos).
        let mut reader = ConfigReader::new(config)?;
        let scale = reader.f64("scale", 1.0)?;
        reader.finish()?;
        if scale <= 0.0 {
            return Err(Error::InvalidConfig(format!(
                "scale must be greater than 0, got {scale}"
            )));
        }
        Ok(TemplateDetector {
            scale,
            learned: 0,
            mean: vec![0.0; dim],
        })
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    // Rows arrive checked: `dim` values, all finite.
    fn score_one(&self, x: &[f64]) -> Result<f64, Error> {
        let d2: f64 = x
            .iter()
            .zip(&self.mean)
            .map(|(v, m)| (v - m) * (v - m))
            .sum();
        Ok(self.scale * d2.sqrt())
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<(), Error> {
        self.learned += 1;
        let n = self.learned as f64;
        for (m, v) in self.mean.iter_mut().zip(x) {
            *m += (v - *m) / n;
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = TAG.to_vec();
        out.push(FORMAT);
        out.extend_from_slice(&(self.mean.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.scale.to_le_bytes());
        out.extend_from_slice(&self.learned.to_le_bytes());
        for m in &self.mean {
            out.extend_from_slice(&m.to_le_bytes());
        }
        out
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let dim = self.mean.len();
        if bytes.len() != 5 + 8 * (3 + dim) || &bytes[..4] != TAG || bytes[4] != FORMAT {
            return Err(Error::Snapshot(format!(
                "not a {} snapshot of format {FORMAT} for {dim} features",
                Self::NAME
            )));
        }
        let words: Vec<[u8; 8]> = bytes[5..]
            .chunks_exact(8)
            .map(|c| c.try_into().unwrap_or([0; 8]))
            .collect();
        if u64::from_le_bytes(words[0]) != dim as u64 {
            return Err(Error::Snapshot("a snapshot for another dimension".into()));
        }
        self.scale = f64::from_le_bytes(words[1]);
        self.learned = u64::from_le_bytes(words[2]);
        self.mean = words[3..].iter().map(|w| f64::from_le_bytes(*w)).collect();
        Ok(())
    }
}

// Exports the ABI version and the entry symbol Vigil looks for.
export_detector!(TemplateDetector);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin::serde_json::json;

    #[test]
    fn far_rows_score_higher() {
        let mut d = TemplateDetector::create(&json!({}), 2).expect("config");
        let mut scores = vec![0.0; 4];
        d.score_learn_batch(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0, 9.0], &mut scores)
            .expect("batch");
        assert!(scores[3] > scores[2]);
    }

    #[test]
    fn snapshot_round_trips() {
        let mut d = TemplateDetector::create(&json!({"scale": 2.0}), 2).expect("config");
        d.learn_one(&[3.0, 4.0]).expect("learn");
        let mut r = TemplateDetector::create(&json!({}), 2).expect("config");
        r.restore(&d.snapshot()).expect("restore");
        assert_eq!(r, d);
        assert!(r.restore(&[0; 3]).is_err());
    }
}
