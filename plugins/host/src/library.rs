//! Opening plugin libraries and scanning the plugin folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use vigil_plugin::abi::{
    ABI_VERSION_SYMBOL, CreateFn, DestroyFn, ENTRY_SYMBOL, FreeBytesFn, FreeErrorFn, LearnBatchFn,
    PluginDescriptor, RestoreFn, ScoreBatchFn, ScoreLearnBatchFn, SnapshotFn,
    VIGIL_PLUGIN_ABI_VERSION,
};

use crate::error::{PluginError, Refusal};
use crate::model::PluginModel;

/// The plugin's functions, checked non-null.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VTable {
    pub(crate) create: CreateFn,
    pub(crate) score_batch: ScoreBatchFn,
    pub(crate) score_learn_batch: ScoreLearnBatchFn,
    pub(crate) learn_batch: LearnBatchFn,
    pub(crate) snapshot: SnapshotFn,
    pub(crate) restore: RestoreFn,
    pub(crate) destroy: DestroyFn,
    pub(crate) free_bytes: FreeBytesFn,
    pub(crate) free_error: FreeErrorFn,
}

/// A loaded library and what was read from its descriptor. Dropped (and the library
/// unloaded) when the last [`PluginLibrary`] handle and the last [`PluginModel`] are gone.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) vtable: VTable,
    pub(crate) instances: AtomicUsize,
    /// Last field: dropped after everything above, which may point into it.
    _library: libloading::Library,
}

/// A plugin library, loaded and checked. Cheap to clone; the library stays loaded while any
/// handle or any [`PluginModel`] made from it lives.
#[derive(Debug, Clone)]
pub struct PluginLibrary {
    pub(crate) loaded: Arc<Loaded>,
}

fn refused(path: &Path, reason: Refusal) -> PluginError {
    PluginError::Refused {
        path: path.to_path_buf(),
        reason,
    }
}

impl PluginLibrary {
    /// Loads `path` and checks it, in this order: it is a shared library; it exports
    /// `VIGIL_PLUGIN_ABI_VERSION` equal to this host's
    /// [`VIGIL_PLUGIN_ABI_VERSION`]; it exports `vigil_plugin_entry`, which returns a
    /// descriptor with the same ABI version, a non-empty name of ASCII letters, digits, `-`
    /// and `_`, a UTF-8 version and no null function. Nothing of the library is called before
    /// its ABI version has been read and found equal.
    ///
    /// # Errors
    /// [`PluginError::Refused`] with the path and the [`Refusal`].
    pub fn open(path: &Path) -> Result<PluginLibrary, PluginError> {
        // SAFETY: loading a library runs its initialisers. A plugin folder holds code the
        // operator chose to run; Rust plugins have no initialisers of their own.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| {
            refused(
                path,
                Refusal::NotALibrary {
                    detail: e.to_string(),
                },
            )
        })?;
        let missing = |symbol: &'static str| refused(path, Refusal::MissingSymbol { symbol });

        // SAFETY: the symbol, if present, is a `u32` static (that is what the ABI says it is;
        // any other type of the same name is the plugin's lie, which we cannot detect). The
        // pointer is valid while `library` is loaded, and it is read at once.
        let found = unsafe {
            let symbol = library
                .get::<*const u32>(ABI_VERSION_SYMBOL)
                .map_err(|_| missing("VIGIL_PLUGIN_ABI_VERSION"))?;
            let ptr: *const u32 = *symbol;
            if ptr.is_null() {
                return Err(missing("VIGIL_PLUGIN_ABI_VERSION"));
            }
            ptr.read_unaligned()
        };
        if found != VIGIL_PLUGIN_ABI_VERSION {
            return Err(refused(
                path,
                Refusal::AbiMismatch {
                    found,
                    expected: VIGIL_PLUGIN_ABI_VERSION,
                },
            ));
        }

        type EntryFn = unsafe extern "C" fn() -> *const PluginDescriptor;
        // SAFETY: the ABI version matched, so the entry symbol, if present, is an
        // `extern "C" fn() -> *const PluginDescriptor` of this ABI; the function pointer is
        // copied out and used while `library` is loaded.
        let entry: EntryFn = unsafe {
            *library
                .get::<EntryFn>(ENTRY_SYMBOL)
                .map_err(|_| missing("vigil_plugin_entry"))?
        };
        // SAFETY: an entry function of this ABI takes nothing and returns a pointer.
        let descriptor = unsafe { entry() };
        let bad = |detail: String| refused(path, Refusal::BadDescriptor { detail });
        if descriptor.is_null() || !descriptor.is_aligned() {
            return Err(bad(
                "vigil_plugin_entry returned a null or misaligned pointer".into(),
            ));
        }
        // SAFETY: non-null and aligned; per the ABI it points to an immutable descriptor that
        // lives as long as the library, and we copy what we need out of it before `library`
        // could be unloaded.
        let descriptor = unsafe { &*descriptor };
        if descriptor.abi_version != VIGIL_PLUGIN_ABI_VERSION {
            return Err(bad(format!(
                "its ABI version is {}, the symbol's {found}",
                descriptor.abi_version
            )));
        }
        // SAFETY: per the ABI, `name` and `version` point to strings that live as long as
        // the library; they are copied at once.
        let (name, version) =
            unsafe { (descriptor.name.as_bytes(), descriptor.version.as_bytes()) };
        let name = std::str::from_utf8(name)
            .map_err(|_| bad(format!("its name {name:?} is not UTF-8")))?
            .to_string();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(format!(
                "its name {name:?} is not made of ASCII letters, digits, '-' and '_'"
            )));
        }
        let version = std::str::from_utf8(version)
            .map_err(|_| bad(format!("the version of {name} is not UTF-8")))?
            .to_string();
        let v = &descriptor.vtable;
        let need = |f: &str| bad(format!("function {f} of {name} is null"));
        let vtable = VTable {
            create: v.create.ok_or_else(|| need("create"))?,
            score_batch: v.score_batch.ok_or_else(|| need("score_batch"))?,
            score_learn_batch: v
                .score_learn_batch
                .ok_or_else(|| need("score_learn_batch"))?,
            learn_batch: v.learn_batch.ok_or_else(|| need("learn_batch"))?,
            snapshot: v.snapshot.ok_or_else(|| need("snapshot"))?,
            restore: v.restore.ok_or_else(|| need("restore"))?,
            destroy: v.destroy.ok_or_else(|| need("destroy"))?,
            free_bytes: v.free_bytes.ok_or_else(|| need("free_bytes"))?,
            free_error: v.free_error.ok_or_else(|| need("free_error"))?,
        };
        Ok(PluginLibrary {
            loaded: Arc::new(Loaded {
                path: path.to_path_buf(),
                name,
                version,
                vtable,
                instances: AtomicUsize::new(0),
                _library: library,
            }),
        })
    }

    /// The plugin's name (`loda`); its models are called `plugin:<name>`.
    pub fn name(&self) -> &str {
        &self.loaded.name
    }

    /// The plugin's version, as it says.
    pub fn version(&self) -> &str {
        &self.loaded.version
    }

    /// The ABI version it was built against (always this host's: others are refused).
    pub fn abi_version(&self) -> u32 {
        VIGIL_PLUGIN_ABI_VERSION
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.loaded.path
    }

    /// How many instances of it are alive.
    pub fn live_instances(&self) -> usize {
        self.loaded.instances.load(Ordering::Relaxed)
    }

    /// Makes an instance for vectors of `dim` features from `config_json` (a JSON document;
    /// empty or `null` for the plugin's defaults), failing after
    /// [`DEFAULT_MAX_FAILURES`](crate::DEFAULT_MAX_FAILURES) failures unless
    /// [`PluginModel::set_max_failures`] says otherwise.
    ///
    /// # Errors
    /// [`PluginError::Create`] with the plugin's reason (an invalid config, a panic).
    pub fn create(&self, config_json: &str, dim: usize) -> Result<PluginModel, PluginError> {
        PluginModel::create(self.loaded.clone(), config_json, dim)
    }

    /// Makes an instance from `config_json` and `dim` as [`create`](Self::create) would,
    /// and restores the snapshot `bytes` (taken by [`PluginModel::try_snapshot`]) into it:
    /// what a checkpoint restore does.
    ///
    /// # Errors
    /// [`PluginError::Create`] with the plugin's reason (a refused config or snapshot, a
    /// panic).
    pub fn restore(
        &self,
        config_json: &str,
        dim: usize,
        bytes: &[u8],
    ) -> Result<PluginModel, PluginError> {
        PluginModel::restored(self.loaded.clone(), config_json, dim, bytes)
    }
}

/// What became of one library of the plugin folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PluginStatus {
    /// Loaded and checked.
    Loaded {
        /// The plugin's name.
        name: String,
        /// Its version.
        version: String,
        /// Its ABI version.
        abi: u32,
    },
    /// Refused.
    Refused {
        /// Why, as [`Refusal`]'s text.
        reason: String,
    },
}

/// One library of the plugin folder and what became of it: the rows of `vigil plugins list`
/// and `GET /api/v1/plugins`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginReport {
    /// The library file.
    pub path: PathBuf,
    /// Loaded or refused, and why.
    #[serde(flatten)]
    pub status: PluginStatus,
}

/// A library of the plugin folder: its report, and the library when it was loaded.
#[derive(Debug)]
pub struct ScannedPlugin {
    /// What became of it.
    pub report: PluginReport,
    /// The library, when loaded.
    pub library: Option<PluginLibrary>,
}

/// Loads every file of `dir` whose extension is the platform's library extension (`so`,
/// `dylib`, `dll`), in file name order, with [`PluginLibrary::open`]. A second library with
/// the name of one already loaded is refused. Other files and folders are ignored.
///
/// # Errors
/// [`PluginError::ReadDir`] when the folder cannot be listed. A library refused is not an
/// error: its report says why.
pub fn load_dir(dir: &Path) -> Result<Vec<ScannedPlugin>, PluginError> {
    let read_error = |source| PluginError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let is_library = path
            .extension()
            .is_some_and(|e| e == std::env::consts::DLL_EXTENSION);
        if is_library && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut scanned: Vec<ScannedPlugin> = Vec::new();
    for path in paths {
        let opened = PluginLibrary::open(&path).and_then(|library| {
            match scanned
                .iter()
                .filter_map(|s| s.library.as_ref())
                .find(|other| other.name() == library.name())
            {
                Some(first) => Err(refused(
                    &path,
                    Refusal::DuplicateName {
                        name: library.name().to_string(),
                        first: first.path().to_path_buf(),
                    },
                )),
                None => Ok(library),
            }
        });
        let (status, library) = match opened {
            Ok(library) => (
                PluginStatus::Loaded {
                    name: library.name().to_string(),
                    version: library.version().to_string(),
                    abi: library.abi_version(),
                },
                Some(library),
            ),
            Err(PluginError::Refused { reason, .. }) => (
                PluginStatus::Refused {
                    reason: reason.to_string(),
                },
                None,
            ),
            Err(other) => (
                PluginStatus::Refused {
                    reason: other.to_string(),
                },
                None,
            ),
        };
        scanned.push(ScannedPlugin {
            report: PluginReport { path, status },
            library,
        });
    }
    Ok(scanned)
}

/// The reports of [`load_dir`], the libraries unloaded again: what `vigil plugins list`
/// shows.
///
/// # Errors
/// [`PluginError::ReadDir`] when the folder cannot be listed.
pub fn scan(dir: &Path) -> Result<Vec<PluginReport>, PluginError> {
    Ok(load_dir(dir)?.into_iter().map(|s| s.report).collect())
}
