//! One instance of a plugin's detector, as a [`Detector`].

use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use vigil_detectors::{Detector, DetectorError, check_batch, check_input};
use vigil_plugin::abi::{Status, VigilBytes, VigilError, VigilInstance, VigilStr};

use crate::error::{CallFailure, PluginError};
use crate::library::Loaded;

/// Failures after which a model is disabled, unless set otherwise.
pub const DEFAULT_MAX_FAILURES: u64 = 10;

/// An instance of a plugin's detector. It keeps its library loaded, checks every input
/// before passing it on (so the plugin sees only rows of the right length with finite
/// values), scores through the plugin's batch functions, and counts the plugin's failures: a
/// call that returns an error (a caught panic included) or a non-finite score counts one
/// (see [`PluginError::is_plugin_failure`]). Once [`failures`](Self::failures) reaches
/// [`max_failures`](Self::max_failures) the model is disabled: every call returns
/// [`PluginError::Disabled`] without calling the plugin.
///
/// `Send` but not `Sync`: one thread at a time uses it, as the ABI requires.
pub struct PluginModel {
    lib: Arc<Loaded>,
    instance: NonNull<VigilInstance>,
    config: String,
    dim: usize,
    detector_name: String,
    failures: Cell<u64>,
    max_failures: u64,
    disabled: Cell<bool>,
}

// SAFETY: the SDK's generated functions only accept detector types that are `Send` (the
// `PluginDetector` trait requires it), and the ABI requires the same of any other plugin, so
// the instance may move to another thread. `PluginModel` is not `Sync` (its `Cell`s), so
// the instance is never used by two threads at once.
unsafe impl Send for PluginModel {}

impl fmt::Debug for PluginModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginModel")
            .field("plugin", &self.lib.name)
            .field("path", &self.lib.path)
            .field("dim", &self.dim)
            .field("config", &self.config)
            .field("failures", &self.failures.get())
            .field("max_failures", &self.max_failures)
            .field("disabled", &self.disabled.get())
            .finish_non_exhaustive()
    }
}

/// Calls `f` with an empty error, and copies out (then frees) what the plugin reported.
fn with_error(lib: &Loaded, f: impl FnOnce(*mut VigilError) -> Status) -> Result<(), CallFailure> {
    let mut err = VigilError::empty();
    let status = f(&mut err);
    if status.is_ok() {
        return Ok(());
    }
    // SAFETY: on an error status the plugin has filled `err`, and its message is either null
    // or `len` bytes it allocated, valid until `free_error`.
    let message = String::from_utf8_lossy(unsafe { err.message.as_slice() }).into_owned();
    let failure = CallFailure {
        status,
        expected: err.expected,
        got: err.got,
        index: err.index,
        value: err.value,
        message,
    };
    // SAFETY: `err` was filled by this plugin's call; `free_error` releases its message once.
    unsafe { (lib.vtable.free_error)(&mut err) };
    Err(failure)
}

/// Makes an instance with `create` (no snapshot) or `restore`.
fn new_instance(
    lib: &Loaded,
    config: &str,
    dim: usize,
    snapshot: Option<&[u8]>,
) -> Result<NonNull<VigilInstance>, PluginError> {
    let mut out: *mut VigilInstance = std::ptr::null_mut();
    let call = if snapshot.is_some() {
        "restore"
    } else {
        "create"
    };
    let result = with_error(lib, |err| {
        let config = VigilStr::new(config);
        match snapshot {
            // SAFETY: `config` and `bytes` are borrowed for the call, `out` and `err` are
            // writable locals; the function comes from a checked descriptor of a loaded
            // library.
            Some(bytes) => unsafe {
                (lib.vtable.restore)(
                    config,
                    dim as u64,
                    bytes.as_ptr(),
                    bytes.len() as u64,
                    &mut out,
                    err,
                )
            },
            // SAFETY: as above.
            None => unsafe { (lib.vtable.create)(config, dim as u64, &mut out, err) },
        }
    });
    let make_error = |failure| PluginError::Create {
        plugin: lib.name.clone(),
        call,
        failure,
    };
    result.map_err(make_error)?;
    NonNull::new(out).ok_or_else(|| {
        make_error(CallFailure {
            status: Status::NULL_POINTER,
            expected: 0,
            got: 0,
            index: 0,
            value: 0.0,
            message: format!("{call} succeeded but returned a null instance"),
        })
    })
}

impl PluginModel {
    pub(crate) fn create(
        lib: Arc<Loaded>,
        config: &str,
        dim: usize,
    ) -> Result<PluginModel, PluginError> {
        let instance = new_instance(&lib, config, dim, None)?;
        Ok(PluginModel::wrap(lib, instance, config, dim))
    }

    pub(crate) fn restored(
        lib: Arc<Loaded>,
        config: &str,
        dim: usize,
        bytes: &[u8],
    ) -> Result<PluginModel, PluginError> {
        let instance = new_instance(&lib, config, dim, Some(bytes))?;
        Ok(PluginModel::wrap(lib, instance, config, dim))
    }

    fn wrap(
        lib: Arc<Loaded>,
        instance: NonNull<VigilInstance>,
        config: &str,
        dim: usize,
    ) -> PluginModel {
        lib.instances.fetch_add(1, Ordering::Relaxed);
        PluginModel {
            detector_name: format!("plugin:{}", lib.name),
            lib,
            instance,
            config: config.to_string(),
            dim,
            failures: Cell::new(0),
            max_failures: DEFAULT_MAX_FAILURES,
            disabled: Cell::new(false),
        }
    }

    /// The plugin's name (`loda`).
    pub fn plugin_name(&self) -> &str {
        &self.lib.name
    }

    /// The plugin's version.
    pub fn plugin_version(&self) -> &str {
        &self.lib.version
    }

    /// The JSON config it was made with.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// Failures counted so far.
    pub fn failures(&self) -> u64 {
        self.failures.get()
    }

    /// Failures after which it is disabled.
    pub fn max_failures(&self) -> u64 {
        self.max_failures
    }

    /// Sets the failures after which it is disabled (0 is taken as 1); disables it at once
    /// if it has failed that often already.
    pub fn set_max_failures(&mut self, max_failures: u64) {
        self.max_failures = max_failures.max(1);
        if self.failures.get() >= self.max_failures {
            self.disabled.set(true);
        }
    }

    /// Whether it is disabled (and never calls the plugin again).
    pub fn is_disabled(&self) -> bool {
        self.disabled.get()
    }

    fn plugin_error(&self, call: &'static str, failure: CallFailure) -> PluginError {
        PluginError::Call {
            plugin: self.lib.name.clone(),
            call,
            failure,
        }
    }

    /// Counts `error` if it is the plugin's failure, disabling the model at the limit.
    fn count(&self, error: PluginError) -> PluginError {
        if error.is_plugin_failure() {
            let failures = self.failures.get() + 1;
            self.failures.set(failures);
            if failures >= self.max_failures {
                self.disabled.set(true);
            }
        }
        error
    }

    fn check_enabled(&self) -> Result<(), PluginError> {
        if self.disabled.get() {
            return Err(PluginError::Disabled {
                plugin: self.lib.name.clone(),
                failures: self.failures.get(),
                max_failures: self.max_failures,
            });
        }
        Ok(())
    }

    fn input_error(&self, source: DetectorError) -> PluginError {
        PluginError::Input {
            plugin: self.lib.name.clone(),
            source,
        }
    }

    /// Checks a batch's length; returns the number of rows before the first row with a
    /// non-finite value, and that row's error.
    fn check_rows(
        &self,
        xs: &[f64],
        rows: usize,
    ) -> Result<(usize, Option<PluginError>), PluginError> {
        check_batch(&self.detector_name, self.dim, xs, rows).map_err(|e| self.input_error(e))?;
        for (i, x) in xs.chunks_exact(self.dim.max(1)).enumerate() {
            if let Err(e) = check_input(&self.detector_name, self.dim, x) {
                return Ok((i, Some(self.input_error(e))));
            }
        }
        Ok((rows, None))
    }

    fn check_scores(&self, call: &'static str, out: &[f64]) -> Result<(), PluginError> {
        match out.iter().position(|s| !s.is_finite()) {
            None => Ok(()),
            Some(row) => Err(self.count(PluginError::NonFiniteScore {
                plugin: self.lib.name.clone(),
                call,
                row,
                value: out[row],
            })),
        }
    }

    /// Scores `out.len()` rows of `xs` (row-major) without learning them, in one call of the
    /// plugin.
    ///
    /// # Errors
    /// [`PluginError::Input`] for a wrong length or a non-finite value (the plugin is not
    /// called); [`PluginError::Call`] or [`PluginError::NonFiniteScore`] (counted);
    /// [`PluginError::Disabled`].
    pub fn try_score_batch(&self, xs: &[f64], out: &mut [f64]) -> Result<(), PluginError> {
        self.check_enabled()?;
        let (good, bad) = self.check_rows(xs, out.len())?;
        if let Some(e) = bad {
            debug_assert!(good < out.len());
            return Err(e);
        }
        if out.is_empty() {
            return Ok(());
        }
        let lib = &self.lib;
        with_error(lib, |err| {
            // SAFETY: a live instance of this library; `xs` holds `out.len()` rows of `dim`
            // checked values and `out` has `out.len()` slots, both borrowed for the call; the
            // instance is not used elsewhere (`PluginModel` is not `Sync`).
            unsafe {
                (lib.vtable.score_batch)(
                    self.instance.as_ptr(),
                    xs.as_ptr(),
                    out.len() as u64,
                    self.dim as u64,
                    out.as_mut_ptr(),
                    err,
                )
            }
        })
        .map_err(|f| self.count(self.plugin_error("score_batch", f)))?;
        self.check_scores("score_batch", out)
    }

    /// For each row in order: scores it into `out`, then learns it, in one call of the
    /// plugin. A row with a non-finite value stops the batch: the rows before it are scored
    /// and learned (as `Detector::score_learn_many` says).
    ///
    /// # Errors
    /// As [`try_score_batch`](Self::try_score_batch).
    pub fn try_score_learn_batch(
        &mut self,
        xs: &[f64],
        out: &mut [f64],
    ) -> Result<(), PluginError> {
        self.check_enabled()?;
        let (good, bad) = self.check_rows(xs, out.len())?;
        if good > 0 {
            let out = &mut out[..good];
            let lib = &self.lib;
            with_error(lib, |err| {
                // SAFETY: as in `try_score_batch`, with the first `good` rows; `&mut self`
                // makes this the only use of the instance.
                unsafe {
                    (lib.vtable.score_learn_batch)(
                        self.instance.as_ptr(),
                        xs.as_ptr(),
                        good as u64,
                        self.dim as u64,
                        out.as_mut_ptr(),
                        err,
                    )
                }
            })
            .map_err(|f| self.count(self.plugin_error("score_learn_batch", f)))?;
            self.check_scores("score_learn_batch", out)?;
        }
        bad.map_or(Ok(()), Err)
    }

    /// Learns the rows of `xs` (row-major, `rows` of them), in order, in one call of the
    /// plugin. A row with a non-finite value stops the batch: the rows before it are learned.
    ///
    /// # Errors
    /// As [`try_score_batch`](Self::try_score_batch), without non-finite scores.
    pub fn try_learn_batch(&mut self, xs: &[f64], rows: usize) -> Result<(), PluginError> {
        self.check_enabled()?;
        let (good, bad) = self.check_rows(xs, rows)?;
        if good > 0 {
            let lib = &self.lib;
            with_error(lib, |err| {
                // SAFETY: as in `try_score_learn_batch`, without `out`.
                unsafe {
                    (lib.vtable.learn_batch)(
                        self.instance.as_ptr(),
                        xs.as_ptr(),
                        good as u64,
                        self.dim as u64,
                        err,
                    )
                }
            })
            .map_err(|f| self.count(self.plugin_error("learn_batch", f)))?;
        }
        bad.map_or(Ok(()), Err)
    }

    /// The instance's state as the plugin's snapshot bytes.
    ///
    /// # Errors
    /// [`PluginError::Call`] (counted) or [`PluginError::Disabled`].
    pub fn try_snapshot(&self) -> Result<Vec<u8>, PluginError> {
        self.check_enabled()?;
        let lib = &self.lib;
        let mut bytes = VigilBytes::empty();
        with_error(lib, |err| {
            // SAFETY: a live instance; `bytes` and `err` are writable locals.
            unsafe { (lib.vtable.snapshot)(self.instance.as_ptr(), &mut bytes, err) }
        })
        .map_err(|f| self.count(self.plugin_error("snapshot", f)))?;
        // SAFETY: on success the plugin wrote bytes it allocated: null or `len` readable
        // bytes, valid until `free_bytes`.
        let copy = unsafe { bytes.as_slice() }.to_vec();
        // SAFETY: handed back to the plugin that allocated them, once.
        unsafe { (lib.vtable.free_bytes)(bytes) };
        Ok(copy)
    }

    /// Replaces the instance's state with a snapshot: the plugin makes a new instance from
    /// this model's config and the bytes, which replaces the old one. On error the model is
    /// unchanged.
    ///
    /// # Errors
    /// [`PluginError::Call`] with status `SNAPSHOT` for bytes the plugin refuses (not
    /// counted), other [`PluginError::Call`]s (counted), or [`PluginError::Disabled`].
    pub fn try_restore(&mut self, bytes: &[u8]) -> Result<(), PluginError> {
        self.check_enabled()?;
        let instance = match new_instance(&self.lib, &self.config, self.dim, Some(bytes)) {
            Ok(instance) => instance,
            Err(PluginError::Create { failure, .. }) => {
                return Err(self.count(self.plugin_error("restore", failure)));
            }
            Err(other) => return Err(other),
        };
        let old = std::mem::replace(&mut self.instance, instance);
        // SAFETY: `old` was made by this library and is no longer referenced.
        unsafe { (self.lib.vtable.destroy)(old.as_ptr()) };
        Ok(())
    }

    /// A second model with the same plugin, config, state and failure count (through a
    /// snapshot and a restore).
    ///
    /// # Errors
    /// As [`try_snapshot`](Self::try_snapshot) and [`try_restore`](Self::try_restore).
    pub fn try_clone(&self) -> Result<PluginModel, PluginError> {
        let bytes = self.try_snapshot()?;
        let instance = match new_instance(&self.lib, &self.config, self.dim, Some(&bytes)) {
            Ok(instance) => instance,
            Err(PluginError::Create { failure, .. }) => {
                return Err(self.count(self.plugin_error("restore", failure)));
            }
            Err(other) => return Err(other),
        };
        let mut copy = PluginModel::wrap(self.lib.clone(), instance, &self.config, self.dim);
        copy.failures.set(self.failures.get());
        copy.set_max_failures(self.max_failures);
        Ok(copy)
    }
}

impl Drop for PluginModel {
    fn drop(&mut self) {
        // SAFETY: made by this library, destroyed once; the library is still loaded, since
        // `self.lib` is dropped after this.
        unsafe { (self.lib.vtable.destroy)(self.instance.as_ptr()) };
        self.lib.instances.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Detector for PluginModel {
    fn name(&self) -> &str {
        &self.detector_name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
        check_input(&self.detector_name, self.dim, x)?;
        self.try_learn_batch(x, 1)
            .map_err(|e| e.to_detector_error(&self.detector_name))
    }

    fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError> {
        check_input(&self.detector_name, self.dim, x)?;
        let mut out = [0.0];
        self.try_score_batch(x, &mut out)
            .map_err(|e| e.to_detector_error(&self.detector_name))?;
        Ok(out[0])
    }

    fn score_many(&self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        self.try_score_batch(xs, out)
            .map_err(|e| e.to_detector_error(&self.detector_name))
    }

    fn score_learn_many(&mut self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        self.try_score_learn_batch(xs, out)
            .map_err(|e| e.to_detector_error(&self.detector_name))
    }

    /// The plugin's snapshot, or no bytes when the plugin fails to give one (counted as a
    /// failure; [`PluginModel::try_snapshot`] says why).
    fn snapshot(&self) -> Vec<u8> {
        self.try_snapshot().unwrap_or_default()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        self.try_restore(bytes)
            .map_err(|e| e.to_detector_error(&self.detector_name))
    }
}
