//! Test support shared by every crate's tests, and (under `tests/`) the end-to-end tests
//! that start the real `vigil` binary.
//!
//! Real data lives outside the repository, in `../shared/data` and `../shared/vectors`
//! next to the checkout (override with `VIGIL_SHARED_DIR`). A test that needs it calls
//! [`shared_file`]: when the data is missing it is skipped with a message, unless `CI` is
//! set, in which case it fails and says what is missing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod conformance;
pub mod labelled;

use std::path::{Path, PathBuf};

/// The `shared` folder beside the checkout (or `$VIGIL_SHARED_DIR`).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VIGIL_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    // CARGO_MANIFEST_DIR of this crate is <checkout>/tests.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("shared")
}

/// Path of `rel` under the shared folder (for example `data/cowrie/seed-tpot-cowrie.json`),
/// or `None` when it is missing and the test should be skipped.
///
/// # Panics
/// When the file is missing and the `CI` environment variable is set: CI must not silently
/// skip the tests that prove Vigil on real data.
pub fn shared_file(rel: &str) -> Option<PathBuf> {
    let path = shared_dir().join(rel);
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "shared test data {} is missing (looked in {}); set VIGIL_SHARED_DIR to the folder that holds data/ and vectors/",
        rel,
        path.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("skipping: {message}");
    None
}

/// Every `vectors/<prefix>*.json` of the shared folder, sorted by name, or `None` when the
/// shared vectors are missing (see [`shared_file`]).
///
/// # Panics
/// When the vectors folder cannot be listed, or holds no file of that prefix: the golden
/// vectors come as a set, and a test that found none would prove nothing.
pub fn vector_files(prefix: &str) -> Option<Vec<PathBuf>> {
    let readme = shared_file("vectors/README.md")?;
    let dir = readme.parent()?;
    let listing = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the vectors folder {} lists: {e}", dir.display()));
    let mut files: Vec<PathBuf> = listing
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("an entry of {} reads: {e}", dir.display()))
                .path()
        })
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix) && name.ends_with(".json"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no {prefix}*.json in {}", dir.display());
    Some(files)
}

/// One step of SplitMix64: advances `state` and returns the next 64 random bits. A seeded
/// generator that needs no crate, for streams and shuffles whose exact values tests rely on.
///
/// ```
/// let mut state = 0;
/// // The first output of SplitMix64 seeded with 0.
/// assert_eq!(vigil_tests::splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
/// ```
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Path of the `vigil` binary built alongside these tests (`target/<profile>/vigil`), or
/// `$VIGIL_BIN`.
///
/// # Panics
/// When the binary is missing: build it first (`cargo build --release -p vigil`; the
/// project's `scripts/test` does).
pub fn vigil_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("VIGIL_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    // target/<profile>/deps/<test-binary> -> target/<profile>/vigil
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join(format!("vigil{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --release -p vigil` (scripts/test does), or set VIGIL_BIN",
        bin.display()
    );
    bin
}
