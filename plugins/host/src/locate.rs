//! Finding a plugin library that Cargo built in this workspace, for tests and benches.
//!
//! A test or bench crate that loads a plugin lists the plugin's crate as a dev-dependency.
//! Its `crate-type` includes `cdylib`, so Cargo builds the shared library before the test
//! binary, into `target/<profile>/deps/` (and, when the plugin crate is itself built as a
//! workspace member, `target/<profile>/` too). The test binary runs from
//! `target/<profile>/deps/`, so [`built_plugin`] looks beside the running executable and in
//! its parent folder.

use std::path::{Path, PathBuf};

/// The file name Cargo gives the `cdylib` of crate `crate_name` on this platform
/// (`vigil-plugin-loda` → `libvigil_plugin_loda.so` on Linux).
pub fn library_file_name(crate_name: &str) -> String {
    format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// The newest `cdylib` of crate `crate_name` beside the running executable or in its parent
/// folder (see the module documentation), or `None`.
pub fn built_plugin(crate_name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let file = library_file_name(crate_name);
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join(&file))
        .filter(|p| p.is_file())
        .max_by_key(|p| modified(p))
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
