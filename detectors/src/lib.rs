//! Vigil's detectors. Pure code: no I/O, no actix, sled, HTTP or serde_json.
//!
//! For now this crate holds the behaviour [`rules`]: brute force, port scan and traffic
//! spike. Each looks at one event ([`EventView`]) and the per-source window facts the feature
//! step computed for it ([`SourceWindow`]), fires once per episode and explains itself in a
//! sentence ([`RuleHit`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod rules;

pub use rules::{
    BruteForce, BruteForceConfig, EventView, PortScan, PortScanConfig, Rule, RuleConfigError,
    RuleHit, RuleSet, RulesConfig, SourceId, SourceWindow, TrafficSpike, TrafficSpikeConfig,
    rule_strength,
};
