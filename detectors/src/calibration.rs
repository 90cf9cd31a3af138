//! Score calibration against a reservoir of reference scores.
