//! Vigil daemon library.
