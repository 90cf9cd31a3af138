//! One-Class SVMs: online (SGD on random Fourier features) and batch (SMO, RBF kernel).
pub mod online;
pub use online::{OnlineOcsvm, OnlineOcsvmConfig};
pub mod batch;
pub use batch::{BatchOcsvm, BatchOcsvmConfig, Gamma, ScaledBatchOcsvm};
