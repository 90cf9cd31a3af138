//! Vigil's detectors. Pure code: no I/O, no actix, sled, HTTP or serde_json.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
