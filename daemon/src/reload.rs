//! Config reload: `POST /api/v1/config/reload` and SIGHUP on `vigil run`.
//!
//! A reload re-reads the config file the process was started with and checks it as `vigil
//! check-config` does; a bad file changes nothing (the error names the field). Then it
//! compares the file with the configuration that runs ([`diff`]): the fields in
//! [`LIVE_FIELDS`] are applied at once, each through a message to the stage that owns it
//! (see [`crate::pipeline::LiveStages`]), so the change takes effect between two batches;
//! every other field that differs is reported as needing a restart and is not applied. The
//! running configuration keeps the values it runs with, so a restart-only change is
//! reported again by the next reload until the process restarts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use serde::Serialize;

use crate::alert::SeverityThresholds;
use crate::config::Config;
use crate::pipeline::{LiveStages, SetAlertPolicy, StageError};

/// The fields a reload applies to the running process. Any other field that differs needs
/// a restart.
pub const LIVE_FIELDS: &[&str] = &[
    "severity.red",
    "severity.orange",
    "alerts.cooldown_secs",
    "alerts.allowlist",
    "log.level",
];

/// A live field whose value changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its dotted name (`severity.red`).
    pub field: String,
    /// The value running, as written in logs.
    pub before: String,
    /// The value in the file.
    pub after: String,
}

/// What differs between the running configuration and a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    /// Fields of [`LIVE_FIELDS`] that changed, in [`LIVE_FIELDS`] order.
    pub live: Vec<Change>,
    /// Every other field that changed, by name, sorted: a table's name (`sources.cowrie`,
    /// `outputs.webhook`, `rules.brute_force`) when its content differs.
    pub restart: Vec<String>,
}

impl ConfigDiff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.restart.is_empty()
    }
}

/// The configuration as `section.field` → the field's value as JSON text (a map section
/// such as `sources` gives one entry per key: `sources.cowrie`).
///
/// The configuration is serialised as it runs, defaults filled in, so every field of every
/// section is compared, those added later included, without a list to keep in step; secrets
/// (the API token, the webhook's URL and headers) are compared too, and never shown: only
/// [`LIVE_FIELDS`] values appear in a [`Change`].
fn fields(config: &Config) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let value = match serde_json::to_value(config) {
        Ok(value) => value,
        Err(error) => {
            // Every config type serialises (derived); this would be a bug, and a reload must
            // then report every section rather than none.
            tracing::error!("config reload: the configuration does not serialise: {error}");
            return out;
        }
    };
    let serde_json::Value::Object(sections) = value else {
        return out;
    };
    for (section, content) in sections {
        match content {
            serde_json::Value::Object(fields) => {
                for (field, value) in fields {
                    out.insert(format!("{section}.{field}"), value.to_string());
                }
            }
            other => {
                out.insert(section, other.to_string());
            }
        }
    }
    out
}

/// What differs between `running` and `new`: the live fields that changed, with their
/// values, and the names of the others.
pub fn diff(running: &Config, new: &Config) -> ConfigDiff {
    let before = fields(running);
    let after = fields(new);
    let mut changed: Vec<&str> = before
        .keys()
        .chain(after.keys())
        .map(String::as_str)
        .filter(|key| before.get(*key) != after.get(*key))
        .collect();
    changed.sort_unstable();
    changed.dedup();
    let live = LIVE_FIELDS
        .iter()
        .filter(|field| changed.contains(field))
        .map(|field| {
            let value =
                |fields: &BTreeMap<String, String>| fields.get(*field).cloned().unwrap_or_default();
            Change {
                field: field.to_string(),
                before: value(&before),
                after: value(&after),
            }
        })
        .collect();
    let restart = changed
        .into_iter()
        .filter(|field| !LIVE_FIELDS.contains(field))
        .map(str::to_string)
        .collect();
    ConfigDiff { live, restart }
}

/// What `vigil check-config` checks beyond [`Config::load`]: the token file and the TLS
/// files of an enabled API, and the feature, rule and pool settings built together.
///
/// # Errors
/// The first problem, naming the field.
pub fn check_runnable(config: &Config) -> anyhow::Result<()> {
    if config.api.enabled {
        config.api.load_token()?;
        if let Some(tls) = &config.api.tls {
            crate::tls::server_config(tls)?;
        }
    }
    let extractor = vigil_features::FeatureExtractor::new(config.feature_config()?)?;
    vigil_detectors::rules::RuleSet::new(&config.rule_set_config()?)?;
    if config.pool.enabled {
        vigil_pool::Pool::new(extractor.dim(), config.pool_config()?)?;
    }
    Ok(())
}

/// The answer of a reload (the body of `POST /api/v1/config/reload`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// Fields that changed and were applied, in [`LIVE_FIELDS`] order.
    pub applied: Vec<String>,
    /// Fields that differ from what runs and take effect only after a restart, sorted.
    pub restart_required: Vec<String>,
    /// Whether the file holds exactly the configuration that runs.
    pub unchanged: bool,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The process was started without a config file.
    #[error(
        "Vigil was started without a config file (--config), so there is none to re-read; the configuration is unchanged"
    )]
    NoConfigFile,
    /// The file cannot be read or is not valid; the message names the field.
    #[error("{0}; the running configuration is unchanged")]
    Invalid(String),
    /// A stage did not take the change (the pipeline stopped, or did not answer in time).
    #[error("the configuration could not be applied: {0}")]
    Stage(#[from] StageError),
}

/// Sets the log filter: given to [`set_log_level_control`] by the logging set-up.
pub type LogLevelControl = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

static LOG_LEVEL: OnceLock<LogLevelControl> = OnceLock::new();

/// Lets reloads change the log level (`log.level`). Not called when `RUST_LOG` sets the
/// filter, which then keeps winning.
pub fn set_log_level_control(control: LogLevelControl) {
    let _ = LOG_LEVEL.set(control);
}

/// Re-reads the config file and applies what can change live (see the module's doc).
pub struct Reloader {
    path: Option<PathBuf>,
    running: tokio::sync::Mutex<Config>,
    stages: LiveStages,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// Reloads `path` (`None`: started without a config file, every reload answers
    /// [`ReloadError::NoConfigFile`]) over `running`, the configuration the pipeline was
    /// started with, into `stages`.
    pub fn new(path: Option<PathBuf>, running: Config, stages: LiveStages) -> Reloader {
        Reloader {
            path,
            running: tokio::sync::Mutex::new(running),
            stages,
        }
    }

    /// The config file reloads read.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Re-reads the file, checks it, applies the live fields and reports the rest;
    /// `trigger` (`API`, `SIGHUP`) goes into the log. One reload runs at a time.
    ///
    /// # Errors
    /// No config file, a file that cannot be read or is not valid (nothing is applied), or a
    /// stage that did not take a change (what was applied before it stays applied).
    pub async fn reload(&self, trigger: &str) -> Result<ReloadReport, ReloadError> {
        let path = self.path.as_deref().ok_or(ReloadError::NoConfigFile)?;
        let new = Config::load(path)
            .map_err(anyhow::Error::from)
            .and_then(|config| check_runnable(&config).map(|()| config))
            .with_context(|| format!("config reload from {}", path.display()))
            .map_err(|e| ReloadError::Invalid(format!("{e:#}")))?;
        let mut running = self.running.lock().await;
        let diff = diff(&running, &new);
        let changed = |field: &str| diff.live.iter().any(|change| change.field == field);
        if changed("severity.red") || changed("severity.orange") {
            self.stages
                .set_severity(SeverityThresholds::from(&new.severity))
                .await?;
            running.severity = new.severity.clone();
        }
        let cooldown_secs = changed("alerts.cooldown_secs").then_some(new.alerts.cooldown_secs);
        let allowlist = if changed("alerts.allowlist") {
            Some(
                new.alerts
                    .parsed_allowlist()
                    .map_err(|e| ReloadError::Invalid(e.to_string()))?,
            )
        } else {
            None
        };
        if cooldown_secs.is_some() || allowlist.is_some() {
            self.stages
                .set_alert_policy(SetAlertPolicy {
                    cooldown_secs,
                    allowlist,
                })
                .await?;
            running.alerts.cooldown_secs = new.alerts.cooldown_secs;
            running.alerts.allowlist = new.alerts.allowlist.clone();
        }
        if changed("log.level") {
            match LOG_LEVEL.get() {
                Some(control) => {
                    if let Err(error) = control(&new.log.level) {
                        tracing::error!("config reload: cannot change the log level: {error}");
                    }
                }
                None => tracing::warn!(
                    "config reload: log.level is now {:?}, but RUST_LOG sets the log filter",
                    new.log.level
                ),
            }
            running.log.level = new.log.level.clone();
        }
        for change in &diff.live {
            tracing::info!(
                field = %change.field,
                from = %change.before,
                to = %change.after,
                "config reload applied a change"
            );
        }
        if !diff.restart.is_empty() {
            tracing::warn!(
                "config reload: these fields differ from what runs and take effect only after a restart: {}",
                diff.restart.join(", ")
            );
        }
        let report = ReloadReport {
            applied: diff.live.iter().map(|c| c.field.clone()).collect(),
            restart_required: diff.restart.clone(),
            unchanged: diff.is_empty(),
        };
        tracing::info!(
            "config reloaded from {} ({trigger}): applied [{}], restart required [{}]",
            path.display(),
            report.applied.join(", "),
            report.restart_required.join(", ")
        );
        Ok(report)
    }
}

/// SIGHUP, registered early so that one arriving before the pipeline runs does not end the
/// process (its default), and turned into reloads by [`Hangup::reload_with`].
pub struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    /// Catches SIGHUP from now on. Must run inside the actix system.
    pub fn catch() -> Hangup {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .inspect_err(|error| tracing::warn!("cannot watch SIGHUP: {error}"))
                .ok();
            Hangup { signal }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    /// Reloads with `reloader` on every SIGHUP (one caught before counts too); a failure is
    /// logged at error level and changes nothing.
    pub fn reload_with(self, reloader: Arc<Reloader>) {
        #[cfg(unix)]
        if let Some(mut signal) = self.signal {
            actix_rt::spawn(async move {
                while signal.recv().await.is_some() {
                    tracing::info!("SIGHUP received: reloading the configuration");
                    if let Err(error) = reloader.reload("SIGHUP").await {
                        tracing::error!("config reload (SIGHUP) failed: {error}");
                    }
                }
            });
        }
        #[cfg(not(unix))]
        let _ = reloader;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_toml(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn names(diff: &ConfigDiff) -> (Vec<&str>, Vec<&str>) {
        (
            diff.live.iter().map(|c| c.field.as_str()).collect(),
            diff.restart.iter().map(String::as_str).collect(),
        )
    }

    #[test]
    fn every_section_and_field_is_compared() {
        let fields = fields(&Config::default());
        for key in [
            "pipeline.batch_max_events",
            "features.common_ports",
            "rules.brute_force",
            "severity.red",
            "severity.orange",
            "outputs.redact_credentials",
            "outputs.webhook",
            "state.dir",
            "alerts.cooldown_secs",
            "alerts.allowlist",
            "pool.models",
            "feedback.fraction",
            "demo.seed",
            "log.level",
            "api.listen",
            "api.tls",
            "geoip.databases",
        ] {
            assert!(fields.contains_key(key), "{key} not in {fields:?}");
        }
        // Every key is `section.field`; every live field is one of them.
        assert!(
            fields.keys().all(|k| k.matches('.').count() == 1),
            "{fields:?}"
        );
        for field in LIVE_FIELDS {
            assert!(fields.contains_key(*field), "{field}");
        }
        assert_eq!(fields["severity.red"], "0.99");
        assert_eq!(fields["api.tls"], "null");
    }

    #[test]
    fn the_same_configuration_differs_in_nothing() {
        let text = "[sources.hp]\ntype = \"file\"\npath = \"/x\"\n[alerts]\nallowlist = [\"10.0.0.0/8\"]\n";
        let same = diff(&config(text), &config(text));
        assert!(same.is_empty(), "{same:?}");
        assert!(diff(&Config::default(), &Config::default()).is_empty());
    }

    #[test]
    fn thresholds_cooldown_allowlist_and_log_level_are_live() {
        let old = config("");
        let new = config(
            "[severity]\nred = 0.9\norange = 0.8\n[alerts]\ncooldown_secs = 60\nallowlist = [\"192.0.2.0/24\"]\n[log]\nlevel = \"debug\"\n",
        );
        let changes = diff(&old, &new);
        assert_eq!(
            names(&changes),
            (
                vec![
                    "severity.red",
                    "severity.orange",
                    "alerts.cooldown_secs",
                    "alerts.allowlist",
                    "log.level"
                ],
                vec![]
            )
        );
        assert_eq!(
            changes.live[0],
            Change {
                field: "severity.red".to_string(),
                before: "0.99".to_string(),
                after: "0.9".to_string(),
            }
        );
        assert!(
            changes.live[3].after.contains("\"192.0.2.0/24\""),
            "{changes:?}"
        );
    }

    #[test]
    fn everything_else_needs_a_restart_named_by_field_or_table() {
        let old = config(
            "[sources.hp]\ntype = \"file\"\npath = \"/x\"\n[api]\ntoken = \"0123456789abcdef-one\"\n",
        );
        let cases = [
            ("[api]\nlisten = \"127.0.0.1:9999\"\n", "api.listen"),
            ("[api]\ntoken = \"0123456789abcdef-two\"\n", "api.token"),
            (
                "[api.tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n",
                "api.tls",
            ),
            (
                "[pipeline]\nbatch_max_events = 10\n",
                "pipeline.batch_max_events",
            ),
            (
                "[rules.brute_force]\nmin_failed_logins = 3\n",
                "rules.brute_force",
            ),
            ("[state]\ndir = \"/elsewhere\"\n", "state.dir"),
            ("[pool]\nenabled = false\n", "pool.enabled"),
            (
                "[outputs]\nredact_credentials = false\n",
                "outputs.redact_credentials",
            ),
            (
                "[outputs.webhook]\nurl = \"https://example.com/hook/secret-1\"\n",
                "outputs.webhook",
            ),
            (
                "[log]\nmax_rejections_logged_per_interval = 1\n",
                "log.max_rejections_logged_per_interval",
            ),
            ("[geoip]\ndatabases = [\"/g.mmdb\"]\n", "geoip.databases"),
        ];
        for (extra, field) in cases {
            // `[api]` in `extra` replaces the old one (the token goes with it unless repeated).
            let base = if extra.starts_with("[api]") {
                "[sources.hp]\ntype = \"file\"\npath = \"/x\"\n".to_string()
            } else {
                "[sources.hp]\ntype = \"file\"\npath = \"/x\"\n[api]\ntoken = \"0123456789abcdef-one\"\n"
                    .to_string()
            };
            let new = config(&format!("{base}{extra}"));
            let changes = diff(&old, &new);
            assert!(changes.live.is_empty(), "{extra}: {changes:?}");
            assert!(
                changes.restart.iter().any(|f| f == field),
                "{extra}: {changes:?}"
            );
            let others: Vec<_> = changes
                .restart
                .iter()
                .filter(|f| *f != field && *f != "api.token")
                .collect();
            assert!(others.is_empty(), "{extra}: {changes:?}");
        }
        // A webhook's URL and headers are secrets, kept out of logs; they are still compared.
        let hook = |url: &str| {
            config(&format!(
                "[outputs.webhook]\nurl = \"https://example.com/hook/{url}\"\n"
            ))
        };
        let changes = diff(&hook("secret-1"), &hook("secret-2"));
        assert_eq!(names(&changes), (vec![], vec!["outputs.webhook"]));
    }

    #[test]
    fn sources_are_named_one_by_one() {
        let one = config("[sources.a]\ntype = \"file\"\npath = \"/a\"\n");
        let two =
            config("[sources.a]\ntype = \"file\"\npath = \"/a2\"\n[sources.b]\ntype = \"stdin\"\n");
        assert_eq!(
            names(&diff(&one, &two)),
            (vec![], vec!["sources.a", "sources.b"])
        );
        assert_eq!(
            names(&diff(&Config::default(), &one)),
            (vec![], vec!["sources.a"])
        );
    }
}
