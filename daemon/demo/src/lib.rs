//! Synthetic sensor traffic for `vigil demo`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
