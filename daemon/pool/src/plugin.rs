//! Detector plugins as members of the pool.
//!
//! The pool knows plugins through two traits, so that it depends on no loader: a
//! [`PluginFactory`] makes instances of one plugin from its configuration (the daemon's
//! implementation loads a shared library through `vigil-plugin-host`), and a
//! [`PluginInstance`] scores, learns and snapshots. A [`PluginSpec`] in
//! [`PoolConfig::plugins`](crate::PoolConfig::plugins) names the factory and how the pool
//! treats its models; [`ModelKind::Plugin`](crate::ModelKind::Plugin) is its kind.
//!
//! A plugin model learns every event (like Half-Space Trees). A call that fails (an error
//! the plugin reports, a caught panic, a NaN or infinite score) is a failure of that model:
//! the event is skipped by it (no score, nothing learned) and scored by the others. After
//! [`PluginSpec::max_failures`] failures the model is disabled: it leaves the active set
//! for good (a [`DriftKind::Retired`](crate::DriftKind::Retired) event says why), never
//! leads again, and its kind is neither retrained nor restored.

use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use crate::PoolError;

/// Plugin kinds a process can name at most (distinct plugin names seen in configurations,
/// snapshots and model references).
pub const MAX_PLUGIN_NAMES: usize = 64;

/// The names of plugin kinds, interned: [`PluginId`] `n` is `names[n]` (the name and the
/// kind's label `plugin:<name>`). Names are never removed, so an id means the same name for
/// the whole process.
#[allow(clippy::type_complexity)]
fn names() -> &'static RwLock<Vec<(&'static str, &'static str)>> {
    static NAMES: OnceLock<RwLock<Vec<(&'static str, &'static str)>>> = OnceLock::new();
    NAMES.get_or_init(|| RwLock::new(Vec::new()))
}

/// A plugin's name, interned: small and `Copy`, so that
/// [`ModelKind::Plugin`](crate::ModelKind::Plugin) stays `Copy`. Ordered by name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PluginId(u16);

impl PluginId {
    /// The id of the plugin named `name` (ASCII letters, digits, `-`, `_`; what the plugin
    /// ABI allows), interning it on first use.
    ///
    /// # Errors
    /// [`PoolError::InvalidConfig`] (field `plugins`) for an empty or malformed name, or
    /// when [`MAX_PLUGIN_NAMES`] names are interned already.
    pub fn intern(name: &str) -> Result<PluginId, PoolError> {
        if name.is_empty()
            || name.len() > 128
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PoolError::InvalidConfig {
                field: "plugins".into(),
                requirement: "must name plugins with ASCII letters, digits, '-' and '_'",
                value: format!("{name:?}"),
            });
        }
        if let Some(id) = PluginId::lookup(name) {
            return Ok(id);
        }
        let mut table = names().write().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = table.iter().position(|n| n.0 == name) {
            return Ok(PluginId(i as u16));
        }
        if table.len() >= MAX_PLUGIN_NAMES {
            return Err(PoolError::InvalidConfig {
                field: "plugins".into(),
                requirement: "must name at most 64 distinct plugins in one process",
                value: name.to_string(),
            });
        }
        // Bounded by MAX_PLUGIN_NAMES: at most 64 short strings live as long as the process.
        table.push((
            Box::leak(name.to_string().into_boxed_str()),
            Box::leak(format!("{}{name}", crate::config::PLUGIN_PREFIX).into_boxed_str()),
        ));
        Ok(PluginId((table.len() - 1) as u16))
    }

    /// The id of `name` if it was interned.
    pub fn lookup(name: &str) -> Option<PluginId> {
        let table = names().read().unwrap_or_else(|p| p.into_inner());
        table
            .iter()
            .position(|n| n.0 == name)
            .map(|i| PluginId(i as u16))
    }

    /// The plugin's name (`loda`).
    pub fn name(self) -> &'static str {
        let table = names().read().unwrap_or_else(|p| p.into_inner());
        table.get(usize::from(self.0)).map_or("?", |n| n.0)
    }

    /// The label of its kind: `plugin:<name>`.
    pub fn label(self) -> &'static str {
        let table = names().read().unwrap_or_else(|p| p.into_inner());
        table.get(usize::from(self.0)).map_or("plugin:?", |n| n.1)
    }
}

impl fmt::Debug for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PluginId({:?})", self.name())
    }
}

impl PartialOrd for PluginId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PluginId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

/// A plugin call that failed, as the pool sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCallError {
    /// What went wrong, naming the plugin.
    pub message: String,
    /// Whether it counts as a failure of the plugin (an error it reported, a panic, a
    /// non-finite score), as opposed to a refusal of the host's own checks or of a snapshot.
    pub counts: bool,
}

impl fmt::Display for PluginCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One instance of a plugin's detector. Used by one thread at a time.
pub trait PluginInstance: Send + fmt::Debug {
    /// The raw score of one row (`dim` finite values; higher is more anomalous). The pool
    /// treats a NaN or infinite score as a failure.
    ///
    /// # Errors
    /// The call failed.
    fn score(&self, x: &[f64]) -> Result<f64, PluginCallError>;

    /// Learns one row.
    ///
    /// # Errors
    /// The call failed.
    fn learn(&mut self, x: &[f64]) -> Result<(), PluginCallError>;

    /// The instance's state, in the plugin's own format.
    ///
    /// # Errors
    /// The call failed.
    fn snapshot(&self) -> Result<Vec<u8>, PluginCallError>;
}

/// Makes instances of one plugin from one configuration.
pub trait PluginFactory: Send + Sync + fmt::Debug {
    /// The plugin's name (`loda`); its models are of kind `plugin:<name>`.
    fn name(&self) -> &str;

    /// The configuration instances are made with (JSON), as stored in checkpoints: a
    /// snapshot taken under another configuration is refused.
    fn config(&self) -> &str;

    /// A fresh instance for rows of `dim` values.
    ///
    /// # Errors
    /// The plugin refused the configuration or failed.
    fn create(&self, dim: usize) -> Result<Box<dyn PluginInstance>, PluginCallError>;

    /// An instance made from this configuration and `dim` whose state is a
    /// [`PluginInstance::snapshot`].
    ///
    /// # Errors
    /// The plugin refused the snapshot or failed.
    fn restore(&self, dim: usize, bytes: &[u8])
    -> Result<Box<dyn PluginInstance>, PluginCallError>;
}

/// A plugin the pool runs: its factory and how the pool treats its models.
#[derive(Clone)]
pub struct PluginSpec {
    /// Makes the plugin's instances.
    pub factory: Arc<dyn PluginFactory>,
    /// Failures after which a model of this plugin is disabled (at least 1).
    pub max_failures: u64,
    /// Events a model learns before its scores enter its reference (as Half-Space Trees
    /// wait for their first window): a plugin that scores 0 until it has seen enough events
    /// would otherwise fill its reference with zeros. 0: from the first event.
    pub warm_up_events: u64,
}

impl PluginSpec {
    /// The spec of `factory` with `max_failures` and no warm-up.
    pub fn new(factory: Arc<dyn PluginFactory>, max_failures: u64) -> PluginSpec {
        PluginSpec {
            factory,
            max_failures,
            warm_up_events: 0,
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        self.factory.name()
    }

    /// The kind of its models.
    ///
    /// # Errors
    /// As [`PluginId::intern`].
    pub fn kind(&self) -> Result<crate::ModelKind, PoolError> {
        Ok(crate::ModelKind::Plugin(PluginId::intern(self.name())?))
    }

    /// What a snapshot records of it: name, configuration, limits.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}={} (max_failures {}, warm_up_events {})",
            self.name(),
            self.factory.config(),
            self.max_failures,
            self.warm_up_events
        )
    }
}

impl fmt::Debug for PluginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginSpec")
            .field("name", &self.name())
            .field("config", &self.factory.config())
            .field("max_failures", &self.max_failures)
            .field("warm_up_events", &self.warm_up_events)
            .finish()
    }
}

impl PartialEq for PluginSpec {
    fn eq(&self, other: &PluginSpec) -> bool {
        self.describe() == other.describe()
    }
}

/// A plugin model of the pool: the instance (none once disabled), its failures, the events
/// it learned.
pub(crate) struct PluginModelState {
    pub(crate) kind: crate::ModelKind,
    pub(crate) spec: PluginSpec,
    pub(crate) dim: usize,
    pub(crate) instance: Option<Box<dyn PluginInstance>>,
    pub(crate) failures: std::cell::Cell<u64>,
    pub(crate) learned: u64,
    pub(crate) last_error: std::cell::RefCell<String>,
}

impl fmt::Debug for PluginModelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginModelState")
            .field("plugin", &self.spec.name())
            .field("failures", &self.failures.get())
            .field("learned", &self.learned)
            .field("disabled", &self.is_disabled())
            .finish()
    }
}

impl Clone for PluginModelState {
    /// A copy through a snapshot and a restore. When the plugin cannot give or take its
    /// snapshot, the copy is disabled (and says why).
    fn clone(&self) -> PluginModelState {
        let mut copy = PluginModelState {
            kind: self.kind,
            spec: self.spec.clone(),
            dim: self.dim,
            instance: None,
            failures: self.failures.clone(),
            learned: self.learned,
            last_error: self.last_error.clone(),
        };
        if let Some(instance) = &self.instance {
            match instance
                .snapshot()
                .and_then(|bytes| self.spec.factory.restore(self.dim, &bytes))
            {
                Ok(instance) => copy.instance = Some(instance),
                Err(e) => {
                    *copy.last_error.borrow_mut() = format!("could not be copied: {e}");
                    copy.failures.set(self.spec.max_failures.max(1));
                }
            }
        }
        copy
    }
}

impl PluginModelState {
    pub(crate) fn new(spec: &PluginSpec, dim: usize) -> Result<PluginModelState, PluginCallError> {
        let kind = spec.kind().map_err(|e| PluginCallError {
            message: e.to_string(),
            counts: false,
        })?;
        let instance = spec.factory.create(dim)?;
        Ok(PluginModelState::with_instance(kind, spec, dim, instance))
    }

    /// A model over `instance`, with no failures and nothing learned.
    pub(crate) fn with_instance(
        kind: crate::ModelKind,
        spec: &PluginSpec,
        dim: usize,
        instance: Box<dyn PluginInstance>,
    ) -> PluginModelState {
        PluginModelState {
            kind,
            spec: spec.clone(),
            dim,
            instance: Some(instance),
            failures: std::cell::Cell::new(0),
            learned: 0,
            last_error: std::cell::RefCell::new(String::new()),
        }
    }

    pub(crate) fn is_disabled(&self) -> bool {
        self.instance.is_none() || self.failures.get() >= self.spec.max_failures.max(1)
    }

    pub(crate) fn is_warm(&self) -> bool {
        self.learned >= self.spec.warm_up_events
    }

    fn fail(&self, error: PluginCallError) {
        if error.counts {
            self.failures.set(self.failures.get() + 1);
        }
        *self.last_error.borrow_mut() = error.message;
    }

    /// The raw score, or `None` when the call failed (counted) or the model is disabled.
    pub(crate) fn score(&self, x: &[f64]) -> Option<f64> {
        if self.is_disabled() {
            return None;
        }
        let instance = self.instance.as_ref()?;
        match instance.score(x) {
            Ok(raw) if raw.is_finite() => Some(raw),
            Ok(raw) => {
                self.fail(PluginCallError {
                    message: format!(
                        "plugin {}: scored {raw}, not a finite number",
                        self.spec.name()
                    ),
                    counts: true,
                });
                None
            }
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    /// Learns `x`; returns whether it did (a failure is counted).
    pub(crate) fn learn(&mut self, x: &[f64]) -> bool {
        if self.is_disabled() {
            return false;
        }
        let Some(instance) = self.instance.as_mut() else {
            return false;
        };
        match instance.learn(x) {
            Ok(()) => {
                self.learned += 1;
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Why it is disabled.
    pub(crate) fn disabled_reason(&self) -> String {
        format!(
            "disabled after {} failures (max_failures {}), the last: {}",
            self.failures.get(),
            self.spec.max_failures.max(1),
            self.last_error.borrow()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_intern_once_and_order_by_name() {
        let b = PluginId::intern("zz-test-b").unwrap_or_else(|e| panic!("{e}"));
        let a = PluginId::intern("aa-test-a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(PluginId::intern("zz-test-b").ok(), Some(b));
        assert_eq!(b.name(), "zz-test-b");
        assert!(a < b);
        assert_eq!(PluginId::lookup("aa-test-a"), Some(a));
        assert_eq!(PluginId::lookup("never-interned"), None);
        for bad in ["", "a b", "x:y", "é"] {
            assert!(PluginId::intern(bad).is_err(), "{bad:?}");
        }
    }
}
