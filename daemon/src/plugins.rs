//! Detector plugins in the daemon: loading the plugin folder once at start, checking the
//! enabled plugins' configurations, the report `vigil plugins list` and
//! `GET /api/v1/plugins` show, and the bridge from `vigil-plugin-host` to the pool's plugin
//! traits.
//!
//! A plugin that cannot be used (a file that is not a library, another ABI version, no
//! entry symbol, a configuration its `create` refuses, an enabled plugin no library
//! provides) is refused with the reason: logged at warn naming the file, reported, and left
//! out of the pool; the daemon starts without it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use vigil_plugin_host::{PluginError, PluginLibrary, PluginModel, PluginStatus};
use vigil_pool::{
    ModelKind, PluginCallError, PluginFactory, PluginId, PluginInstance, PluginSpec, PoolConfig,
};

use crate::config::PluginsSection;

/// Whether a plugin can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    /// Loaded (and, when enabled, its model was made from its configuration).
    Loaded,
    /// Refused: see the reason.
    Refused,
}

/// One row of the plugin report: a library of the plugin folder, or an enabled plugin no
/// library provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginRow {
    /// The library file (`None` for an enabled plugin no library provides).
    pub path: Option<PathBuf>,
    /// The plugin's name, when known.
    pub name: Option<String>,
    /// Its version, when loaded.
    pub version: Option<String>,
    /// Its plugin ABI version, when loaded.
    pub abi: Option<u32>,
    /// Loaded or refused.
    pub status: PluginState,
    /// Why it was refused.
    pub reason: Option<String>,
    /// Whether `[plugins.enabled]` names it.
    pub enabled: bool,
    /// Whether its model runs in the pool (enabled and usable).
    pub in_pool: bool,
}

/// What was loaded at start: the report, and the specs of the plugins that run in the pool.
#[derive(Debug, Default, Clone)]
pub struct Plugins {
    /// The plugin folder, if one is configured.
    pub dir: Option<PathBuf>,
    /// Every row, libraries in file name order, then enabled plugins no library provides.
    pub rows: Vec<PluginRow>,
    /// The usable enabled plugins, by name.
    pub specs: BTreeMap<String, PluginSpec>,
}

/// The pool's factory over a loaded library and one configuration.
#[derive(Debug)]
pub struct HostFactory {
    library: PluginLibrary,
    config: String,
}

impl HostFactory {
    /// A factory of `library`'s models made with `config` (JSON).
    pub fn new(library: PluginLibrary, config: String) -> HostFactory {
        HostFactory { library, config }
    }
}

fn call_error(error: PluginError) -> PluginCallError {
    PluginCallError {
        counts: error.is_plugin_failure(),
        message: error.to_string(),
    }
}

/// A model of the host, counted by the pool: the host's own limit is lifted, since the
/// pool counts failures (and keeps the count in its checkpoints).
fn instance(mut model: PluginModel) -> Box<dyn PluginInstance> {
    model.set_max_failures(u64::MAX);
    Box::new(HostInstance(model))
}

impl PluginFactory for HostFactory {
    fn name(&self) -> &str {
        self.library.name()
    }

    fn config(&self) -> &str {
        &self.config
    }

    fn create(&self, dim: usize) -> Result<Box<dyn PluginInstance>, PluginCallError> {
        self.library
            .create(&self.config, dim)
            .map(instance)
            .map_err(call_error)
    }

    fn restore(
        &self,
        dim: usize,
        bytes: &[u8],
    ) -> Result<Box<dyn PluginInstance>, PluginCallError> {
        self.library
            .restore(&self.config, dim, bytes)
            .map(instance)
            .map_err(call_error)
    }
}

/// A plugin instance of the host, for the pool.
#[derive(Debug)]
pub struct HostInstance(PluginModel);

impl PluginInstance for HostInstance {
    fn score(&self, x: &[f64]) -> Result<f64, PluginCallError> {
        let mut out = [0.0];
        self.0.try_score_batch(x, &mut out).map_err(call_error)?;
        Ok(out[0])
    }

    fn learn(&mut self, x: &[f64]) -> Result<(), PluginCallError> {
        self.0.try_learn_batch(x, 1).map_err(call_error)
    }

    fn snapshot(&self) -> Result<Vec<u8>, PluginCallError> {
        self.0.try_snapshot().map_err(call_error)
    }
}

impl Plugins {
    /// Loads every library of `dir` (default: `plugins.dir`), makes one model of each
    /// enabled plugin from its configuration for rows of `dim` values (to check it), and
    /// reports each library and each enabled plugin. Refusals are logged at warn naming the
    /// file and the reason; none is an error.
    pub fn load(section: &PluginsSection, dir: Option<&Path>, dim: usize) -> Plugins {
        let dir = dir.map(Path::to_path_buf).or_else(|| section.dir.clone());
        let mut plugins = Plugins {
            dir: dir.clone(),
            ..Plugins::default()
        };
        let Some(dir) = dir else {
            return plugins;
        };
        let scanned = match vigil_plugin_host::load_dir(&dir) {
            Ok(scanned) => scanned,
            Err(error) => {
                tracing::error!("plugins: {error}; no plugin is loaded");
                for name in section.enabled.keys() {
                    plugins.rows.push(PluginRow {
                        path: None,
                        name: Some(name.clone()),
                        version: None,
                        abi: None,
                        status: PluginState::Refused,
                        reason: Some(error.to_string()),
                        enabled: true,
                        in_pool: false,
                    });
                }
                return plugins;
            }
        };
        for scanned in scanned {
            let path = scanned.report.path.clone();
            let mut row = PluginRow {
                path: Some(path.clone()),
                name: None,
                version: None,
                abi: None,
                status: PluginState::Refused,
                reason: None,
                enabled: false,
                in_pool: false,
            };
            match (&scanned.report.status, scanned.library) {
                (PluginStatus::Loaded { name, version, abi }, Some(library)) => {
                    row.name = Some(name.clone());
                    row.version = Some(version.clone());
                    row.abi = Some(*abi);
                    row.status = PluginState::Loaded;
                    if let Some(entry) = section.enabled.get(name) {
                        row.enabled = true;
                        let config = entry.config_json();
                        match library.create(&config, dim) {
                            Ok(model) => {
                                drop(model);
                                let factory = Arc::new(HostFactory::new(library, config));
                                let spec = PluginSpec {
                                    factory,
                                    max_failures: section.max_failures_of(name),
                                    warm_up_events: entry.warm_up_events,
                                };
                                plugins.specs.insert(name.clone(), spec);
                                row.in_pool = true;
                                tracing::info!(
                                    "plugin {name} {version} loaded from {} and enabled",
                                    path.display()
                                );
                            }
                            Err(error) => {
                                row.status = PluginState::Refused;
                                row.reason = Some(error.to_string());
                                tracing::warn!(
                                    "plugin {name} from {} refused: {error}; vigil runs without it",
                                    path.display()
                                );
                            }
                        }
                    } else {
                        tracing::info!(
                            "plugin {name} {version} loaded from {} (not enabled)",
                            path.display()
                        );
                    }
                }
                (status, _) => {
                    let reason = match status {
                        PluginStatus::Refused { reason } => reason.clone(),
                        PluginStatus::Loaded { .. } => {
                            "loaded, but the library was not kept".into()
                        }
                    };
                    tracing::warn!(
                        "plugin library {} refused: {reason}; vigil runs without it",
                        path.display()
                    );
                    row.reason = Some(reason);
                }
            }
            plugins.rows.push(row);
        }
        for name in section.enabled.keys() {
            let provided = plugins
                .rows
                .iter()
                .any(|r| r.name.as_deref() == Some(name.as_str()) && r.path.is_some());
            if !provided {
                let reason = format!(
                    "enabled in [plugins.enabled.{name}], but no library in {} provides it",
                    dir.display()
                );
                tracing::warn!("plugin {name} refused: {reason}; vigil runs without it");
                plugins.rows.push(PluginRow {
                    path: None,
                    name: Some(name.clone()),
                    version: None,
                    abi: None,
                    status: PluginState::Refused,
                    reason: Some(reason),
                    enabled: true,
                    in_pool: false,
                });
            }
        }
        plugins
    }

    /// Puts the usable plugins into the pool's configuration: their specs, and their kinds
    /// kept in `models` (a plugin that could not be used is taken out of it).
    pub fn attach(&self, config: &mut PoolConfig) {
        config.models.retain(|kind| match kind.plugin() {
            Some(id) => self.specs.contains_key(id.name()),
            None => true,
        });
        config.plugins = config
            .models
            .iter()
            .filter_map(|kind| kind.plugin())
            .filter_map(|id| self.specs.get(id.name()).cloned())
            .collect();
    }

    /// The kinds of the plugins that run in the pool.
    pub fn kinds(&self) -> Vec<ModelKind> {
        self.specs
            .keys()
            .filter_map(|name| PluginId::intern(name).ok())
            .map(ModelKind::Plugin)
            .collect()
    }

    /// The report as a table: one line per row.
    pub fn table(&self) -> String {
        let mut out =
            String::from("STATUS   NAME                 VERSION    POOL  FILE / REASON\n");
        for row in &self.rows {
            let status = match row.status {
                PluginState::Loaded => "loaded",
                PluginState::Refused => "refused",
            };
            let pool = if row.in_pool {
                "yes"
            } else if row.enabled {
                "no"
            } else {
                "-"
            };
            let file = row
                .path
                .as_ref()
                .map_or_else(|| "-".to_string(), |p| p.display().to_string());
            out.push_str(&format!(
                "{status:<8} {:<20} {:<10} {pool:<5} {file}",
                row.name.as_deref().unwrap_or("-"),
                row.version.as_deref().unwrap_or("-"),
            ));
            if let Some(reason) = &row.reason {
                out.push_str(&format!("\n{:<46} reason: {reason}", ""));
            }
            out.push('\n');
        }
        out
    }
}
