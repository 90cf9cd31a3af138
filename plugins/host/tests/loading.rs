//! Loading plugins: the checks and refusals of `PluginLibrary::open`, folder scans, configs
//! refused by `create`, and the library staying loaded while an instance lives.

mod common;

use std::path::Path;

use common::{library_path, model, open};
use vigil_detectors::Detector;
use vigil_plugin_host::{
    PluginError, PluginLibrary, PluginReport, PluginStatus, Refusal, VIGIL_PLUGIN_ABI_VERSION,
    load_dir, scan,
};

fn refusal(path: &Path) -> (Refusal, String) {
    match PluginLibrary::open(path) {
        Err(e @ PluginError::Refused { .. }) => {
            let text = e.to_string();
            let PluginError::Refused { reason, .. } = e else {
                unreachable!()
            };
            (reason, text)
        }
        Err(other) => panic!("{} gave {other}, not a refusal", path.display()),
        Ok(lib) => panic!("{} was loaded as plugin {}", path.display(), lib.name()),
    }
}

#[test]
fn examples_load_with_name_and_version() {
    for (krate, name) in [
        ("vigil-plugin-minimal", "running-z"),
        ("vigil-plugin-loda", "loda"),
        ("vigil-plugin-faulty", "faulty"),
    ] {
        let lib = open(krate);
        assert_eq!(lib.name(), name);
        assert_eq!(lib.version(), env!("CARGO_PKG_VERSION"));
        assert_eq!(lib.abi_version(), VIGIL_PLUGIN_ABI_VERSION);
        assert_eq!(lib.path(), library_path(krate));
        assert_eq!(lib.live_instances(), 0);
    }
}

#[test]
fn wrong_abi_version_is_refused_naming_both_versions() {
    // Its entry function aborts the process if called: passing means the version was read
    // first and nothing else was called.
    let path = library_path("vigil-plugin-fixture-wrong-abi");
    let (reason, text) = refusal(&path);
    assert_eq!(
        reason,
        Refusal::AbiMismatch {
            found: 999,
            expected: VIGIL_PLUGIN_ABI_VERSION
        }
    );
    assert_eq!(
        text,
        format!(
            "{}: plugin ABI version 999, but this vigil speaks version 1",
            path.display()
        )
    );
}

#[test]
fn missing_entry_symbol_is_refused_by_name() {
    let (reason, text) = refusal(&library_path("vigil-plugin-fixture-no-entry"));
    assert_eq!(
        reason,
        Refusal::MissingSymbol {
            symbol: "vigil_plugin_entry"
        }
    );
    assert!(
        text.ends_with(": missing symbol vigil_plugin_entry: not a vigil plugin"),
        "{text}"
    );
}

#[test]
fn a_library_without_the_version_symbol_is_refused_by_name() {
    // Any shared library that is not a plugin: the C library's own.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib/libc.so.6",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists());
    let Some(libc) = libc else {
        eprintln!("skipping: no libc.so.6 found");
        return;
    };
    let (reason, _) = refusal(libc);
    assert_eq!(
        reason,
        Refusal::MissingSymbol {
            symbol: "VIGIL_PLUGIN_ABI_VERSION"
        }
    );
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir
        .path()
        .join(format!("garbage.{}", std::env::consts::DLL_EXTENSION));
    std::fs::write(&path, b"this is not an ELF file, just text\n").expect("write");
    let (reason, text) = refusal(&path);
    assert!(matches!(reason, Refusal::NotALibrary { .. }), "{reason:?}");
    assert!(
        text.starts_with(&format!("{}: not a library: ", path.display())),
        "{text}"
    );
}

#[test]
fn create_refuses_a_bad_config_with_the_plugins_reason() {
    let lib = open("vigil-plugin-loda");
    let cases = [
        (
            r#"{"projections": 0}"#,
            "plugin loda: create failed (invalid config): invalid config: projections must be 1 to 10000, got 0",
        ),
        (
            r#"{"seed": 1, "windw": 64}"#,
            "plugin loda: create failed (invalid config): invalid config: unknown key \"windw\"",
        ),
        (
            "{seed: 1",
            "plugin loda: create failed (invalid config): invalid config: the config is not JSON: key must be a string at line 1 column 2",
        ),
    ];
    for (config, expected) in cases {
        let error = lib.create(config, 5).expect_err(config);
        assert!(matches!(error, PluginError::Create { .. }), "{error:?}");
        assert_eq!(error.to_string(), expected);
        assert!(!error.is_plugin_failure());
    }
    assert_eq!(lib.live_instances(), 0);
    // Empty and null configs take the defaults.
    for config in ["", "null", "{}"] {
        lib.create(config, 5)
            .unwrap_or_else(|e| panic!("{config:?}: {e}"));
    }
}

#[test]
fn scan_reports_every_library_loaded_or_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ext = std::env::consts::DLL_EXTENSION;
    let copy = |krate: &str, file: &str| {
        std::fs::copy(
            library_path(krate),
            dir.path().join(format!("{file}.{ext}")),
        )
        .expect("copy");
    };
    copy("vigil-plugin-loda", "a-loda");
    copy("vigil-plugin-minimal", "b-minimal");
    copy("vigil-plugin-fixture-wrong-abi", "c-wrong-abi");
    copy("vigil-plugin-fixture-no-entry", "d-no-entry");
    copy("vigil-plugin-loda", "f-loda-again");
    std::fs::write(dir.path().join(format!("e-garbage.{ext}")), b"garbage").expect("write");
    std::fs::write(dir.path().join("README.txt"), b"not a library").expect("write");
    std::fs::create_dir(dir.path().join(format!("folder.{ext}"))).expect("mkdir");

    let reports = scan(dir.path()).expect("scan");
    let summary: Vec<(String, String)> = reports
        .iter()
        .map(|PluginReport { path, status }| {
            let file = path
                .file_name()
                .expect("file")
                .to_string_lossy()
                .into_owned();
            let what = match status {
                PluginStatus::Loaded { name, version, abi } => {
                    format!("loaded {name} {version} abi {abi}")
                }
                PluginStatus::Refused { reason } => format!("refused: {reason}"),
            };
            (file, what)
        })
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    let garbage = &summary[4].1;
    assert!(garbage.starts_with("refused: not a library: "), "{garbage}");
    let expected = vec![
        (
            format!("a-loda.{ext}"),
            format!("loaded loda {version} abi 1"),
        ),
        (
            format!("b-minimal.{ext}"),
            format!("loaded running-z {version} abi 1"),
        ),
        (
            format!("c-wrong-abi.{ext}"),
            "refused: plugin ABI version 999, but this vigil speaks version 1".to_string(),
        ),
        (
            format!("d-no-entry.{ext}"),
            "refused: missing symbol vigil_plugin_entry: not a vigil plugin".to_string(),
        ),
        (format!("e-garbage.{ext}"), garbage.clone()),
        (
            format!("f-loda-again.{ext}"),
            format!(
                "refused: plugin \"loda\" is already loaded from {}",
                dir.path().join(format!("a-loda.{ext}")).display()
            ),
        ),
    ];
    assert_eq!(summary, expected);

    // The same, with the libraries of the loaded ones.
    let loaded = load_dir(dir.path()).expect("load");
    let names: Vec<&str> = loaded
        .iter()
        .filter_map(|s| s.library.as_ref().map(|l| l.name()))
        .collect();
    assert_eq!(names, ["loda", "running-z"]);

    // The report as the API will serve it.
    let json = serde_json::to_value(&reports[2]).expect("json");
    assert_eq!(json["status"], "refused");
    assert_eq!(
        json["reason"],
        "plugin ABI version 999, but this vigil speaks version 1"
    );
    let json = serde_json::to_value(&reports[0]).expect("json");
    assert_eq!(json["status"], "loaded");
    assert_eq!(json["name"], "loda");
}

#[test]
fn scan_of_a_missing_folder_names_it() {
    let error = scan(Path::new("/nonexistent/vigil-plugins")).expect_err("missing");
    assert!(
        error
            .to_string()
            .starts_with("cannot list plugin folder /nonexistent/vigil-plugins: "),
        "{error}"
    );
}

/// Whether `path` is loaded in this process, asked without loading it.
#[cfg(unix)]
fn is_loaded(path: &Path) -> bool {
    use libloading::os::unix::{Library, RTLD_LAZY};
    const RTLD_NOLOAD: i32 = 4; // glibc and musl
    // SAFETY: RTLD_NOLOAD loads nothing; it only returns a handle to an already loaded
    // library, released at once.
    unsafe { Library::open(Some(path), RTLD_LAZY | RTLD_NOLOAD) }.is_ok()
}

#[test]
fn the_library_stays_loaded_while_an_instance_lives() {
    // A copy of its own, so that no other test holds it.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir
        .path()
        .join(format!("kept.{}", std::env::consts::DLL_EXTENSION));
    std::fs::copy(library_path("vigil-plugin-minimal"), &path).expect("copy");
    let lib = PluginLibrary::open(&path).expect("open");
    let mut model = lib.create("{}", 2).expect("create");
    let second = lib.create("{}", 2).expect("create");
    assert_eq!(lib.live_instances(), 2);
    drop(second);
    assert_eq!(lib.live_instances(), 1);
    drop(lib);
    #[cfg(unix)]
    assert!(
        is_loaded(&path),
        "the library was unloaded under a live instance"
    );
    let mut out = [0.0; 3];
    model
        .try_score_learn_batch(&[1.0, 2.0, 1.0, 2.0, 1.0, 2.0], &mut out)
        .expect("a model whose library handle is gone still scores");
    assert_eq!(out[1], 0.0);
    assert_eq!(model.name(), "plugin:running-z");
    drop(model);
    #[cfg(unix)]
    assert!(
        !is_loaded(&path),
        "the library stayed loaded with no instance and no handle"
    );
}

#[test]
fn a_model_moves_between_threads_and_clones() {
    let mut m = model("vigil-plugin-loda", r#"{"seed": 3, "window": 16}"#, 2);
    let rows: Vec<f64> = (0..80).map(|i| f64::from(i % 7)).collect();
    let mut out = vec![0.0; 40];
    m.try_score_learn_batch(&rows, &mut out).expect("batch");
    let copy = m.try_clone().expect("clone");
    let (a, b) = std::thread::spawn(move || {
        let mut a = [0.0; 3];
        let mut b = [0.0; 3];
        m.try_score_batch(&[0.0, 1.0, 5.0, 5.0, 100.0, -3.0], &mut a)
            .expect("a");
        copy.try_score_batch(&[0.0, 1.0, 5.0, 5.0, 100.0, -3.0], &mut b)
            .expect("b");
        (a, b)
    })
    .join()
    .expect("thread");
    assert_eq!(a, b);
    assert!(a[2] > a[0], "{a:?}");
}
