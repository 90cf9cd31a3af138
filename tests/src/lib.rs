//! End-to-end tests of the `vigil` binary live in `tests/`; this library is empty.
