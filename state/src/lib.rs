//! Everything Vigil persists, in sled behind a small `Store` API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
