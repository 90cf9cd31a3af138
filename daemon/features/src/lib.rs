//! Per-event and windowed per-source features.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
