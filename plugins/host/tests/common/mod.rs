//! Finding the plugin libraries Cargo built for these tests (the example and fixture crates
//! are dev-dependencies, so their `cdylib`s are built first; see `vigil_plugin_host::locate`).

use std::path::PathBuf;

use vigil_plugin_host::locate::built_plugin;
use vigil_plugin_host::{PluginLibrary, PluginModel};

/// The built library of crate `name`.
pub fn library_path(name: &str) -> PathBuf {
    built_plugin(name).unwrap_or_else(|| {
        panic!(
            "the cdylib of {name} is not beside the test binary {:?}: it is a dev-dependency, so cargo should have built it",
            std::env::current_exe().ok()
        )
    })
}

/// The library of crate `name`, loaded.
pub fn open(name: &str) -> PluginLibrary {
    let path = library_path(name);
    PluginLibrary::open(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A model of crate `name`'s plugin.
pub fn model(name: &str, config: &str, dim: usize) -> PluginModel {
    open(name)
        .create(config, dim)
        .unwrap_or_else(|e| panic!("{e}"))
}
