//! The safe side for plugin authors: the [`PluginDetector`] trait, its [`Error`], and a
//! small reader for JSON configs.

use std::fmt;

use serde_json::{Map, Value};

/// A plugin detector's failure, turned into a [`Status`](crate::abi::Status) and a message at
/// the boundary.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The JSON config is refused: not an object, an unknown key, a value out of range.
    InvalidConfig(String),
    /// A vector or batch of the wrong length.
    DimensionMismatch {
        /// The length expected.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// A NaN or infinite input value.
    NonFinite {
        /// The feature's index within its row.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A snapshot that is not this detector's, from another version, or cut short.
    Snapshot(String),
    /// The model cannot score yet.
    NotFitted,
    /// Any other failure, described.
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(why) => write!(f, "invalid config: {why}"),
            Error::DimensionMismatch { expected, got } => {
                write!(f, "expected {expected} features, got {got}")
            }
            Error::NonFinite { index, value } => {
                write!(f, "feature {index} is {value}, not a finite number")
            }
            Error::Snapshot(why) => write!(f, "cannot restore snapshot: {why}"),
            Error::NotFitted => f.write_str("not fitted yet"),
            Error::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

/// An anomaly detector a plugin exports with [`export_detector!`](crate::export_detector):
/// the plugin side of `vigil_detectors::Detector`. Higher scores are more anomalous.
///
/// The generated functions check every input before calling these methods: each row has
/// [`dim`](PluginDetector::dim) values, all finite, and `out` has one slot per row. A batch
/// with a bad row is refused whole (the host splits batches at bad rows itself).
///
/// An instance is used from one thread at a time, possibly a different one from call to call
/// (hence `Send`); it is never shared between threads.
///
/// ```
/// use vigil_plugin::{ConfigReader, Error, PluginDetector};
///
/// /// Distance from the running mean of the first feature.
/// struct MeanDistance { n: f64, mean: f64, dim: usize }
///
/// impl PluginDetector for MeanDistance {
///     const NAME: &'static str = "mean-distance";
///     fn create(config: &serde_json::Value, dim: usize) -> Result<Self, Error> {
///         ConfigReader::new(config)?.finish()?;
///         Ok(MeanDistance { n: 0.0, mean: 0.0, dim })
///     }
///     fn dim(&self) -> usize { self.dim }
///     fn score_one(&self, x: &[f64]) -> Result<f64, Error> { Ok((x[0] - self.mean).abs()) }
///     fn learn_one(&mut self, x: &[f64]) -> Result<(), Error> {
///         self.n += 1.0;
///         self.mean += (x[0] - self.mean) / self.n;
///         Ok(())
///     }
///     fn snapshot(&self) -> Vec<u8> { [self.n.to_le_bytes(), self.mean.to_le_bytes()].concat() }
///     fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
///         let bad = || Error::Snapshot(format!("16 bytes expected, got {}", bytes.len()));
///         let (n, mean) = bytes.split_at_checked(8).ok_or_else(bad)?;
///         self.n = f64::from_le_bytes(n.try_into().map_err(|_| bad())?);
///         self.mean = f64::from_le_bytes(mean.try_into().map_err(|_| bad())?);
///         Ok(())
///     }
/// }
///
/// let mut d = MeanDistance::create(&serde_json::json!({}), 1)?;
/// let mut scores = [0.0; 4];
/// d.score_learn_batch(&[1.0, 1.0, 1.0, 9.0], &mut scores)?;
/// assert_eq!(scores, [1.0, 0.0, 0.0, 8.0]);
/// # Ok::<(), Error>(())
/// ```
pub trait PluginDetector: Send + Sized + 'static {
    /// The detector's name: non-empty, ASCII letters, digits, `-` and `_`. The host calls
    /// the model `plugin:<NAME>`.
    const NAME: &'static str;

    /// Makes an instance for vectors of `dim` features from its JSON config (`null` when
    /// the user gave none). Every random choice must come from a seed in the config, so that
    /// two instances made from the same config score alike.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the key and value refused.
    fn create(config: &Value, dim: usize) -> Result<Self, Error>;

    /// Length of the vectors it takes (the `dim` it was created with).
    fn dim(&self) -> usize;

    /// Scores one checked vector without learning it.
    ///
    /// # Errors
    /// [`Error::NotFitted`], or [`Error::Failed`].
    fn score_one(&self, x: &[f64]) -> Result<f64, Error>;

    /// Learns one checked vector.
    ///
    /// # Errors
    /// [`Error::Failed`].
    fn learn_one(&mut self, x: &[f64]) -> Result<(), Error>;

    /// Scores `out.len()` checked rows of `xs` (row-major) without learning them. The
    /// default calls [`score_one`](PluginDetector::score_one) per row; override it only to be
    /// faster, with the same results.
    ///
    /// # Errors
    /// As [`score_one`](PluginDetector::score_one).
    fn score_batch(&self, xs: &[f64], out: &mut [f64]) -> Result<(), Error> {
        for (x, slot) in xs.chunks_exact(self.dim().max(1)).zip(out.iter_mut()) {
            *slot = self.score_one(x)?;
        }
        Ok(())
    }

    /// For each checked row in order: scores it into `out`, then learns it. The default is
    /// that loop; override it only to be faster, with the same results.
    ///
    /// # Errors
    /// As [`score_one`](PluginDetector::score_one) and
    /// [`learn_one`](PluginDetector::learn_one).
    fn score_learn_batch(&mut self, xs: &[f64], out: &mut [f64]) -> Result<(), Error> {
        for (x, slot) in xs.chunks_exact(self.dim().max(1)).zip(out.iter_mut()) {
            *slot = self.score_one(x)?;
            self.learn_one(x)?;
        }
        Ok(())
    }

    /// Learns the checked rows of `xs` (row-major), in order. The default calls
    /// [`learn_one`](PluginDetector::learn_one) per row; override it only to be faster, with
    /// the same result.
    ///
    /// # Errors
    /// As [`learn_one`](PluginDetector::learn_one).
    fn learn_batch(&mut self, xs: &[f64]) -> Result<(), Error> {
        for x in xs.chunks_exact(self.dim().max(1)) {
            self.learn_one(x)?;
        }
        Ok(())
    }

    /// The whole state as bytes, in a format of the plugin's own (version it: a tag and a
    /// version number first).
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the state with a snapshot taken by the same detector. Called on a fresh
    /// instance made from the config the host holds.
    ///
    /// # Errors
    /// [`Error::Snapshot`] for bytes of another detector or version, or cut short; the
    /// instance is then dropped, so it need not be left unchanged.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error>;
}

/// Reads a JSON config object key by key, and refuses keys nobody read.
///
/// ```
/// use vigil_plugin::ConfigReader;
/// let config = serde_json::json!({"seed": 7, "window": 128});
/// let mut reader = ConfigReader::new(&config)?;
/// assert_eq!(reader.u64("seed", 0)?, 7);
/// assert_eq!(reader.usize("window", 256)?, 128);
/// assert_eq!(reader.f64("alpha", 0.5)?, 0.5);
/// reader.finish()?;
///
/// let typo = serde_json::json!({"sead": 7});
/// let mut reader = ConfigReader::new(&typo)?;
/// reader.u64("seed", 0)?;
/// assert_eq!(reader.finish().unwrap_err().to_string(), "invalid config: unknown key \"sead\"");
/// # Ok::<(), vigil_plugin::Error>(())
/// ```
#[derive(Debug)]
pub struct ConfigReader<'a> {
    object: Option<&'a Map<String, Value>>,
    read: Vec<String>,
}

impl<'a> ConfigReader<'a> {
    /// A reader over `config`, which must be an object or `null` (no keys).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it is neither.
    pub fn new(config: &'a Value) -> Result<ConfigReader<'a>, Error> {
        let object = match config {
            Value::Null => None,
            Value::Object(map) => Some(map),
            other => {
                return Err(Error::InvalidConfig(format!(
                    "a JSON object expected, got {other}"
                )));
            }
        };
        Ok(ConfigReader {
            object,
            read: Vec::new(),
        })
    }

    fn get(&mut self, key: &str) -> Option<&'a Value> {
        self.read.push(key.to_string());
        self.object.and_then(|map| map.get(key))
    }

    /// A non-negative integer, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the key and value when it is not one.
    pub fn u64(&mut self, key: &str, default: u64) -> Result<u64, Error> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_u64().ok_or_else(|| {
                Error::InvalidConfig(format!("{key} must be a non-negative integer, got {v}"))
            }),
        }
    }

    /// A non-negative integer that fits a `usize`, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the key and value when it is not one.
    pub fn usize(&mut self, key: &str, default: usize) -> Result<usize, Error> {
        let value = self.u64(key, default as u64)?;
        usize::try_from(value)
            .map_err(|_| Error::InvalidConfig(format!("{key} is too large, got {value}")))
    }

    /// A finite number, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the key and value when it is not one.
    pub fn f64(&mut self, key: &str, default: f64) -> Result<f64, Error> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| Error::InvalidConfig(format!("{key} must be a number, got {v}"))),
        }
    }

    /// A list of non-negative integers, or empty when absent.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the key and value when it is not one.
    pub fn u64_list(&mut self, key: &str) -> Result<Vec<u64>, Error> {
        let Some(v) = self.get(key) else {
            return Ok(Vec::new());
        };
        let bad = || Error::InvalidConfig(format!("{key} must be a list of integers, got {v}"));
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|x| x.as_u64().ok_or_else(bad))
            .collect()
    }

    /// Checks that every key of the object was read.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first unknown key.
    pub fn finish(self) -> Result<(), Error> {
        if let Some(map) = self.object
            && let Some(key) = map.keys().find(|k| !self.read.contains(k))
        {
            return Err(Error::InvalidConfig(format!("unknown key {key:?}")));
        }
        Ok(())
    }
}
