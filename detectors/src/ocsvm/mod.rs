//! One-Class SVMs: online (SGD on random Fourier features) and batch (SMO, RBF kernel).
