//! What can go wrong loading a plugin or calling it.

use std::path::PathBuf;

use vigil_detectors::DetectorError;
use vigil_plugin::abi::Status;

/// Why a library was refused as a plugin. Its text (without the path) is what `vigil plugins
/// list` and the API show as the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The file could not be loaded as a shared library.
    #[error("not a library: {detail}")]
    NotALibrary {
        /// The loader's message.
        detail: String,
    },
    /// The library was built against another plugin ABI.
    #[error("plugin ABI version {found}, but this vigil speaks version {expected}")]
    AbiMismatch {
        /// The version the library exports.
        found: u32,
        /// The host's version.
        expected: u32,
    },
    /// A required symbol is not exported.
    #[error("missing symbol {symbol}: not a vigil plugin")]
    MissingSymbol {
        /// The symbol's name.
        symbol: &'static str,
    },
    /// The entry function returned a descriptor the host cannot use.
    #[error("bad descriptor: {detail}")]
    BadDescriptor {
        /// What is wrong with it.
        detail: String,
    },
    /// Another library of the folder already provides a plugin of this name.
    #[error("plugin {name:?} is already loaded from {}", first.display())]
    DuplicateName {
        /// The plugin's name.
        name: String,
        /// The library loaded first.
        first: PathBuf,
    },
}

/// What a failed plugin call reported, copied out of the plugin's
/// [`VigilError`](vigil_plugin::abi::VigilError).
#[derive(Debug, Clone, PartialEq)]
pub struct CallFailure {
    /// The status returned.
    pub status: Status,
    /// For a dimension mismatch: the length expected.
    pub expected: u64,
    /// For a dimension mismatch: the length passed.
    pub got: u64,
    /// For a non-finite input: the feature's index.
    pub index: u64,
    /// For a non-finite input: the value.
    pub value: f64,
    /// The plugin's message (invalid UTF-8 replaced).
    pub message: String,
}

/// A plugin refused, a call that failed, or a plugin disabled. Every variant names the
/// library or the plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin folder cannot be listed.
    #[error("cannot list plugin folder {}: {source}", dir.display())]
    ReadDir {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A library refused as a plugin.
    #[error("{}: {reason}", path.display())]
    Refused {
        /// The library file.
        path: PathBuf,
        /// Why.
        reason: Refusal,
    },
    /// `create` (or `restore`) refused the config or failed: no instance was made.
    #[error("plugin {plugin}: {call} failed ({}): {}", failure.status.name(), failure.message)]
    Create {
        /// The plugin's name.
        plugin: String,
        /// `create` or `restore`.
        call: &'static str,
        /// What it reported.
        failure: CallFailure,
    },
    /// The host's own checks refused the input before calling the plugin (wrong length, a
    /// non-finite value). Not counted as a failure of the plugin.
    #[error("plugin {plugin}: {source}")]
    Input {
        /// The plugin's name.
        plugin: String,
        /// The refusal, naming the detector (`plugin:<name>`).
        source: DetectorError,
    },
    /// A call returned an error status.
    #[error("plugin {plugin}: {call} failed ({}): {}", failure.status.name(), failure.message)]
    Call {
        /// The plugin's name.
        plugin: String,
        /// The call (`score_batch`, `snapshot`...).
        call: &'static str,
        /// What it reported.
        failure: CallFailure,
    },
    /// A call succeeded but gave a NaN or infinite score.
    #[error("plugin {plugin}: {call} scored row {row} {value}, not a finite number")]
    NonFiniteScore {
        /// The plugin's name.
        plugin: String,
        /// The call.
        call: &'static str,
        /// The row of the batch.
        row: usize,
        /// The score.
        value: f64,
    },
    /// The model failed too often and is no longer called.
    #[error("plugin {plugin}: disabled after {failures} failures (max_failures {max_failures})")]
    Disabled {
        /// The plugin's name.
        plugin: String,
        /// Failures counted.
        failures: u64,
        /// The limit.
        max_failures: u64,
    },
}

impl PluginError {
    /// Whether this error counts as a failure of the plugin: a panic, an error the plugin
    /// reported on input the host had checked, or a non-finite score. Refused snapshots,
    /// "not fitted", the host's own input checks, refused configs and a disabled model do not
    /// count.
    pub fn is_plugin_failure(&self) -> bool {
        match self {
            PluginError::Call { failure, .. } => {
                !matches!(failure.status, Status::SNAPSHOT | Status::NOT_FITTED)
            }
            PluginError::NonFiniteScore { .. } => true,
            _ => false,
        }
    }

    /// The error as a [`DetectorError`] of `detector` (`plugin:<name>`), for the
    /// [`Detector`](vigil_detectors::Detector) implementation: the plugin's own dimension,
    /// non-finite, snapshot and not-fitted errors map to the same variants; a refused config
    /// to [`DetectorError::InvalidParameter`] `config`; every other failure (panic, NaN
    /// score, disabled) to [`DetectorError::InvalidParameter`] `plugin call`, whose value is
    /// this error's text.
    pub fn to_detector_error(&self, detector: &str) -> DetectorError {
        let detector = detector.to_string();
        match self {
            PluginError::Input { source, .. } => source.clone(),
            PluginError::Call { failure, .. } | PluginError::Create { failure, .. } => {
                match failure.status {
                    Status::DIMENSION_MISMATCH => DetectorError::DimensionMismatch {
                        detector,
                        expected: failure.expected as usize,
                        got: failure.got as usize,
                    },
                    Status::NON_FINITE => DetectorError::NonFinite {
                        detector,
                        index: failure.index as usize,
                        value: failure.value,
                    },
                    Status::SNAPSHOT => DetectorError::Snapshot {
                        detector,
                        reason: failure.message.clone(),
                    },
                    Status::NOT_FITTED => DetectorError::NotFitted { detector },
                    Status::INVALID_CONFIG => DetectorError::InvalidParameter {
                        detector,
                        name: "config",
                        requirement: "must be accepted by the plugin",
                        value: failure.message.clone(),
                    },
                    _ => failed(detector, self),
                }
            }
            _ => failed(detector, self),
        }
    }
}

fn failed(detector: String, error: &PluginError) -> DetectorError {
    DetectorError::InvalidParameter {
        detector,
        name: "plugin call",
        requirement: "failed",
        value: error.to_string(),
    }
}
