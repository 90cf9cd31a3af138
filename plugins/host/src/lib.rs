//! The Vigil plugin host (crate `vigil-plugin-host`): loads detector plugins built with the
//! `vigil-plugin` SDK and wraps each instance as a [`vigil_detectors::Detector`].
//!
//! - [`PluginLibrary::open`] loads one library and checks it (a shared library; the ABI
//!   version symbol first, then the entry symbol and its descriptor), or refuses it with a
//!   [`Refusal`]. The library stays loaded while any handle or instance lives.
//! - [`load_dir`] and [`scan`] do that for every library of the plugin folder and report
//!   each one, loaded or refused with the reason ([`PluginReport`]).
//! - [`PluginLibrary::create`] makes a [`PluginModel`] from a JSON config; the model scores
//!   and learns through the plugin's batch functions, snapshots and restores, and counts the
//!   plugin's failures (errors, caught panics, non-finite scores) until it disables itself
//!   at [`PluginModel::max_failures`].
//!
//! Only the crates under `plugins/` contain `unsafe`; here every `unsafe` block is a call
//! through the ABI and says why it is sound.
//!
//! ```no_run
//! use std::path::Path;
//! use vigil_detectors::Detector;
//! use vigil_plugin_host::PluginLibrary;
//!
//! let library = PluginLibrary::open(Path::new("plugins/libvigil_plugin_loda.so"))?;
//! let mut model = library.create(r#"{"seed": 7}"#, 5)?;
//! let mut scores = [0.0; 2];
//! model.try_score_learn_batch(&[0.0; 10], &mut scores)?;
//! assert_eq!(model.name(), "plugin:loda");
//! # Ok::<(), vigil_plugin_host::PluginError>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod error;
mod library;
pub mod locate;
mod model;

pub use error::{CallFailure, PluginError, Refusal};
pub use library::{PluginLibrary, PluginReport, PluginStatus, ScannedPlugin, load_dir, scan};
pub use model::{DEFAULT_MAX_FAILURES, PluginModel};
pub use vigil_plugin::VIGIL_PLUGIN_ABI_VERSION;
