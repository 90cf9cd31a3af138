//! Vigil: real-time anomaly detection for honeypot and network security telemetry.
//!
//! This crate is the daemon: configuration, the actix actor pipeline (sources → features →
//! detector pool → alerts → state store, with outputs following the store's outbox), and the commands of the `vigil` binary. Parsing, features,
//! detectors and line reading live in their own crates; see `ARCHITECTURE.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activity;
pub mod alert;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod detect;
pub mod eval;
pub mod input;
#[cfg(feature = "live-capture")]
pub mod live;
pub mod metrics;
pub mod outputs;
pub mod pipeline;
pub mod plugins;
pub mod reload;
pub mod stats;
pub mod suppress;
pub mod tls;
