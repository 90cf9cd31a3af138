//! Benchmarks and measuring examples of `vigil-detectors`.
//!
//! They live in this crate rather than in `vigil-detectors` itself because criterion (and
//! reading shared data files) would put serde_json and I/O into the detectors' dependency
//! tree, which must stay free of them: `cargo tree -p vigil-detectors` is checked in CI.
//! Run them with `cargo bench -p vigil-detectors-bench`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod odds_http;
