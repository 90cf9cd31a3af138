//! A small, versioned binary encoding for detector snapshots.
//!
//! Every snapshot starts with a four-byte tag naming the detector kind and a `u16` format
//! version, followed by little-endian numbers. The crate does not use serde, so models stay
//! free of format crates; the encoding is stable across platforms.

use crate::DetectorError;

/// Writes a snapshot.
///
/// ```
/// use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};
/// let mut w = SnapshotWriter::new(*b"demo", 1);
/// w.u64(42);
/// w.f64s(&[1.5, -2.0]);
/// let bytes = w.finish();
/// let mut r = SnapshotReader::new("demo", &bytes, *b"demo", 1)?;
/// assert_eq!(r.u64()?, 42);
/// assert_eq!(r.f64s()?, vec![1.5, -2.0]);
/// r.end()?;
/// # Ok::<(), vigil_detectors::DetectorError>(())
/// ```
#[derive(Debug)]
pub struct SnapshotWriter {
    bytes: Vec<u8>,
}

impl SnapshotWriter {
    /// Starts a snapshot of the detector kind `tag`, in format `version`.
    pub fn new(tag: [u8; 4], version: u16) -> SnapshotWriter {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&tag);
        bytes.extend_from_slice(&version.to_le_bytes());
        SnapshotWriter { bytes }
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends an `f64`.
    pub fn f64(&mut self, v: f64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a length-prefixed slice of `f64`.
    pub fn f64s(&mut self, vs: &[f64]) {
        self.u64(vs.len() as u64);
        for v in vs {
            self.f64(*v);
        }
    }

    /// Appends a length-prefixed slice of `u64`.
    pub fn u64s(&mut self, vs: &[u64]) {
        self.u64(vs.len() as u64);
        for v in vs {
            self.u64(*v);
        }
    }

    /// Appends length-prefixed raw bytes (a nested snapshot).
    pub fn bytes(&mut self, vs: &[u8]) {
        self.u64(vs.len() as u64);
        self.bytes.extend_from_slice(vs);
    }

    /// The finished snapshot.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads a snapshot written by [`SnapshotWriter`], checking tag, version and length.
#[derive(Debug)]
pub struct SnapshotReader<'a> {
    detector: &'a str,
    rest: &'a [u8],
}

impl<'a> SnapshotReader<'a> {
    /// Opens `bytes` for the detector `detector` (named in errors), expecting `tag` and `version`.
    ///
    /// # Errors
    /// Another detector's tag, another version, or fewer than six bytes.
    pub fn new(
        detector: &'a str,
        bytes: &'a [u8],
        tag: [u8; 4],
        version: u16,
    ) -> Result<SnapshotReader<'a>, DetectorError> {
        let mut reader = SnapshotReader {
            detector,
            rest: bytes,
        };
        let got_tag = reader.take(4)?;
        if got_tag != tag {
            return Err(reader.error(format!(
                "it is a snapshot of {:?}, not of {:?}",
                String::from_utf8_lossy(got_tag),
                String::from_utf8_lossy(&tag)
            )));
        }
        let got_version = u16::from_le_bytes([reader.take(1)?[0], reader.take(1)?[0]]);
        if got_version != version {
            return Err(reader.error(format!(
                "format version {got_version} is not the supported version {version}"
            )));
        }
        Ok(reader)
    }

    fn error(&self, reason: String) -> DetectorError {
        DetectorError::Snapshot {
            detector: self.detector.to_string(),
            reason,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DetectorError> {
        if self.rest.len() < n {
            return Err(self.error(format!(
                "cut short: {n} more bytes needed, {} left",
                self.rest.len()
            )));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Reads a `u64`.
    ///
    /// # Errors
    /// When the snapshot is cut short.
    pub fn u64(&mut self) -> Result<u64, DetectorError> {
        let bytes = self.take(8)?;
        let mut buf = [0u8; 8];
        buf.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(buf))
    }

    /// Reads an `f64`.
    ///
    /// # Errors
    /// When the snapshot is cut short.
    pub fn f64(&mut self) -> Result<f64, DetectorError> {
        self.u64().map(f64::from_bits)
    }

    fn len(&mut self, item_bytes: usize) -> Result<usize, DetectorError> {
        let n = self.u64()?;
        let n = usize::try_from(n).map_err(|_| self.error(format!("length {n} is too large")))?;
        if n.saturating_mul(item_bytes) > self.rest.len() {
            return Err(self.error(format!(
                "a list of {n} items does not fit in the {} bytes left",
                self.rest.len()
            )));
        }
        Ok(n)
    }

    /// Reads a flag written as the `u64` 0 or 1; `what` names it in the error.
    ///
    /// # Errors
    /// When the snapshot is cut short, or the value is neither 0 nor 1.
    pub(crate) fn flag(&mut self, what: &str) -> Result<bool, DetectorError> {
        match self.u64()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.error(format!("{what} flag is {other}, not 0 or 1"))),
        }
    }

    /// Reads a length-prefixed list of `f64`.
    ///
    /// # Errors
    /// When the snapshot is cut short.
    pub fn f64s(&mut self) -> Result<Vec<f64>, DetectorError> {
        let n = self.len(8)?;
        (0..n).map(|_| self.f64()).collect()
    }

    /// Reads a length-prefixed list of `u64`.
    ///
    /// # Errors
    /// When the snapshot is cut short.
    pub fn u64s(&mut self) -> Result<Vec<u64>, DetectorError> {
        let n = self.len(8)?;
        (0..n).map(|_| self.u64()).collect()
    }

    /// Reads length-prefixed raw bytes.
    ///
    /// # Errors
    /// When the snapshot is cut short.
    pub fn bytes(&mut self) -> Result<&'a [u8], DetectorError> {
        let n = self.len(1)?;
        self.take(n)
    }

    /// Checks that nothing is left over.
    ///
    /// # Errors
    /// When bytes remain: the snapshot is not what the reader expected.
    pub fn end(self) -> Result<(), DetectorError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("{} unexpected bytes at the end", self.rest.len())))
        }
    }
}
