//! The Vigil detector plugin SDK (crate `vigil-plugin`).
//!
//! A plugin is a `cdylib` that implements [`PluginDetector`] for one type and calls
//! [`export_detector!`] once. The macro exports the [`abi`]'s two symbols; the functions it
//! puts in the vtable check every pointer and input, catch panics (turning them into
//! [`Status::PANIC`](abi::Status::PANIC) errors with the panic's message) and never unwind
//! into the host.
//!
//! A panic can only be caught if the plugin is built with `panic = "unwind"` (Cargo's
//! default). A plugin built with `panic = "abort"` takes the whole daemon down on its first
//! panic: do not set it in a plugin's profile.
//!
//! See `docs/plugins.md` for the author guide and the ABI rules, and `docs/plugin-template/` for
//! a starting point.
//!
//! A plugin is a `cdylib` crate with one type implementing [`PluginDetector`] and one
//! [`export_detector!`] call at its crate root; [`PluginDetector`] and [`export_detector!`]
//! show complete examples, and `plugins/examples/` holds two real plugins.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod abi;
mod detector;
mod export;

pub use abi::VIGIL_PLUGIN_ABI_VERSION;
pub use detector::{ConfigReader, Error, PluginDetector};
/// Re-exported so that plugins need not depend on it themselves.
pub use serde_json;
