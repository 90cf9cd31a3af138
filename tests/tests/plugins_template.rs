//! From the template to a plugin scoring in a running `vigil`: the test copies
//! `docs/plugin-template` out of the workspace, points it at this checkout's SDK, builds it with
//! its own target folder (`cargo build --release`; the SDK's dependencies only), puts the
//! library into a plugin folder and starts `vigil run` on a file source with it enabled.

mod plugin_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use plugin_support::{request, run_config, sample, start, wait_metrics};
use vigil_tests::shared_file;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("read the template") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn a_plugin_made_from_the_template_scores_in_a_running_vigil() {
    let Some(input) = shared_file("data/cowrie/seed-tpot-cowrie.json") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let crate_dir = dir.path().join("my-detector");
    copy_dir(&repo().join("docs/plugin-template"), &crate_dir);
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("the template's manifest");
    let sdk = repo().join("plugins/sdk");
    let rewritten = text
        .replace(
            "vigil-plugin = { path = \"../../plugins/sdk\" }",
            &format!(
                "vigil-plugin = {{ path = {:?} }}",
                sdk.display().to_string()
            ),
        )
        .replace("name = \"vigil-plugin-template\"", "name = \"my-detector\"");
    assert_ne!(
        text, rewritten,
        "the template names the SDK as ../../plugins/sdk"
    );
    std::fs::write(&manifest, rewritten).expect("rewrite");
    let target = dir.path().join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        built.status.success(),
        "the template does not build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let lib = target
        .join("release")
        .join(vigil_plugin_host::locate::library_file_name("my-detector"));
    assert!(lib.is_file(), "{} was not built", lib.display());
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin folder");
    std::fs::copy(&lib, plugins.join(lib.file_name().expect("name"))).expect("copy");

    let extra = format!(
        "[plugins]\ndir = \"{}\"\n[plugins.enabled.template]\nconfig = {{ scale = 2.0 }}\n",
        plugins.display()
    );
    let config = run_config(dir.path(), &input, &extra);
    let running = start(&config, &dir.path().join("vigil.log"));
    let text = wait_metrics(&running, |text| {
        sample(
            text,
            "vigil_detector_events_scored_total{detector=\"plugin:template\"}",
        )
        .is_some_and(|n| n >= 2_000.0)
    });
    let scored = sample(
        &text,
        "vigil_model_score_count{model_kind=\"plugin:template\"}",
    );
    assert!(scored.is_some_and(|n| n >= 2_000.0), "{text}");
    let (status, body) = request(running.addr, "GET", "/api/v1/plugins", None);
    assert_eq!(status, 200);
    assert!(
        body.contains("\"name\":\"template\"") && body.contains("\"in_pool\":true"),
        "{body}"
    );
    running.shutdown();
}
