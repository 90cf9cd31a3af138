//! Half-Space Trees.
