//! Vigil's detectors. Pure code: no I/O, no actix, sled, HTTP or serde_json.
//!
//! Learned models implement [`Detector`] (score a feature vector, higher is more anomalous,
//! then learn it); change detectors implement [`DriftDetector`]; [`scale`] holds the
//! streaming scalers put in front of models and [`codec`] the snapshot encoding.
//!
//! The behaviour [`rules`]: brute force, port scan and traffic
//! spike. Each looks at one event ([`EventView`]) and the per-source window facts the feature
//! step computed for it ([`SourceWindow`]), fires when an episode opens and once more if the
//! episode escalates to RED strength ([`escalation_level`]), and explains itself in a sentence
//! ([`RuleHit`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod calibration;
pub mod codec;
mod detector;
pub mod drift;
pub mod hst;
pub mod metrics;
pub mod ocsvm;
pub mod rules;
pub mod scale;

pub use detector::{Detector, DetectorError, DriftDetector, check_batch, check_input};

pub use rules::{
    BruteForce, BruteForceConfig, ConnectionRate, ConnectionRateConfig, ESCALATION_STRENGTH,
    EventView, PortScan, PortScanConfig, Rule, RuleConfigError, RuleHit, RuleSet, RulesConfig,
    SourceId, SourceWindow, THRESHOLD_STRENGTH, TrafficSpike, TrafficSpikeConfig, escalation_level,
    rule_strength,
};
