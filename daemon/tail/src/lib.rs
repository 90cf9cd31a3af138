//! Line readers for Vigil's sources.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
