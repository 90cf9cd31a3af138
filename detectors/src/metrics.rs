//! Streaming evaluation metrics.
