//! The functions [`export_detector!`](crate::export_detector) puts in a plugin's vtable:
//! generic over the author's [`PluginDetector`], each one checking its pointers and inputs,
//! catching panics, and never unwinding across the boundary.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::{
    PluginDescriptor, PluginVTable, Status, VIGIL_PLUGIN_ABI_VERSION, VigilBytes, VigilError,
    VigilInstance, VigilStr,
};
use crate::detector::{Error, PluginDetector};

/// A failure at the boundary: the author's [`Error`], a caught panic, or a null pointer.
enum Failure {
    Detector(Error),
    Panic(String),
    Null(&'static str),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Detector(e)
    }
}

/// Runs `f`, catching a panic, and reports its failure in `*err` (when not null).
fn guard<F: FnOnce() -> Result<(), Failure>>(err: *mut VigilError, f: F) -> Status {
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return Status::OK,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::Panic(panic_text(payload)),
    };
    let mut report = VigilError::empty();
    let message = match failure {
        Failure::Detector(e) => {
            report.status = match &e {
                Error::InvalidConfig(_) => Status::INVALID_CONFIG,
                Error::DimensionMismatch { expected, got } => {
                    report.expected = *expected as u64;
                    report.got = *got as u64;
                    Status::DIMENSION_MISMATCH
                }
                Error::NonFinite { index, value } => {
                    report.index = *index as u64;
                    report.value = *value;
                    Status::NON_FINITE
                }
                Error::Snapshot(_) => Status::SNAPSHOT,
                Error::NotFitted => Status::NOT_FITTED,
                Error::Failed(_) => Status::FAILED,
            };
            e.to_string()
        }
        Failure::Panic(text) => {
            report.status = Status::PANIC;
            format!("panicked: {text}")
        }
        Failure::Null(what) => {
            report.status = Status::NULL_POINTER;
            format!("{what} is a null pointer")
        }
    };
    let status = report.status;
    if !err.is_null() {
        report.message = VigilBytes::from_vec(message.into_bytes());
        // SAFETY: `err` is non-null and, per the ABI, points to a writable `VigilError` the
        // host owns; its previous content is plain data (an empty error), not leaked.
        unsafe { err.write(report) };
    }
    status
}

/// The text of a panic payload. Dropping the payload may itself panic (a payload with a
/// panicking `Drop`); that second panic is caught and the payload leaked.
fn panic_text(payload: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    };
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(second);
    }
    text
}

/// Checks `dim` against the instance's and every value of `n_rows` rows, and borrows the
/// rows.
///
/// # Safety
/// `rows` must point to `n_rows * dim` readable `f64`s valid for `'a` (or `n_rows` is 0).
unsafe fn checked_rows<'a>(
    instance_dim: usize,
    rows: *const f64,
    n_rows: u64,
    dim: u64,
) -> Result<&'a [f64], Failure> {
    if dim != instance_dim as u64 {
        return Err(Error::DimensionMismatch {
            expected: instance_dim,
            got: usize::try_from(dim).unwrap_or(usize::MAX),
        }
        .into());
    }
    let too_large = || Error::Failed(format!("a batch of {n_rows} rows of {dim} is too large"));
    let n = usize::try_from(n_rows).map_err(|_| too_large())?;
    if n == 0 {
        return Ok(&[]);
    }
    if rows.is_null() {
        return Err(Failure::Null("rows"));
    }
    let len = n.checked_mul(instance_dim).ok_or_else(too_large)?;
    // SAFETY: non-null, and the caller guarantees `n * dim` readable values at `rows`.
    let xs = unsafe { std::slice::from_raw_parts(rows, len) };
    for row in xs.chunks_exact(instance_dim.max(1)) {
        if let Some((index, value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                index,
                value: *value,
            }
            .into());
        }
    }
    Ok(xs)
}

/// Borrows the output buffer of `n_rows` scores.
///
/// # Safety
/// `out` must point to `n_rows` writable `f64`s valid for `'a` and not aliased elsewhere (or
/// `n_rows` is 0).
unsafe fn scores<'a>(out: *mut f64, n_rows: usize) -> Result<&'a mut [f64], Failure> {
    if n_rows == 0 {
        return Ok(&mut []);
    }
    if out.is_null() {
        return Err(Failure::Null("out"));
    }
    // SAFETY: non-null, and the caller guarantees `n_rows` writable, unaliased values.
    Ok(unsafe { std::slice::from_raw_parts_mut(out, n_rows) })
}

/// Parses the config and makes a `T` for `dim` features.
///
/// # Safety
/// `config` must point to `config.len` readable bytes (or have length 0).
unsafe fn make<T: PluginDetector>(config: VigilStr, dim: u64) -> Result<T, Failure> {
    // SAFETY: the caller guarantees the bytes are readable for the call.
    let text = unsafe { config.as_bytes() };
    let value = if text.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(text)
            .map_err(|e| Error::InvalidConfig(format!("the config is not JSON: {e}")))?
    };
    let dim = usize::try_from(dim)
        .map_err(|_| Error::InvalidConfig(format!("dim {dim} is too large")))?;
    if dim == 0 {
        return Err(Error::InvalidConfig("dim must be at least 1, got 0".into()).into());
    }
    let detector = T::create(&value, dim)?;
    if detector.dim() != dim {
        return Err(Error::Failed(format!(
            "create for {dim} features made a detector of {}",
            detector.dim()
        ))
        .into());
    }
    Ok(detector)
}

/// [`CreateFn`](crate::abi::CreateFn) for `T`.
///
/// # Safety
/// As the ABI says: `config` readable for the call, `out` and `err` null or writable.
pub unsafe extern "C" fn create<T: PluginDetector>(
    config: VigilStr,
    dim: u64,
    out: *mut *mut VigilInstance,
    err: *mut VigilError,
) -> Status {
    guard(err, || {
        if out.is_null() {
            return Err(Failure::Null("out"));
        }
        // SAFETY: forwarded from the caller.
        let detector = unsafe { make::<T>(config, dim) }?;
        let instance = Box::into_raw(Box::new(detector)).cast::<VigilInstance>();
        // SAFETY: `out` is non-null and writable per the ABI.
        unsafe { out.write(instance) };
        Ok(())
    })
}

/// [`ScoreBatchFn`](crate::abi::ScoreBatchFn) for `T`.
///
/// # Safety
/// As the ABI says: `instance` made by this plugin's `create` or `restore` for `T` and not
/// destroyed, rows and out as described, `err` null or writable.
pub unsafe extern "C" fn score_batch<T: PluginDetector>(
    instance: *const VigilInstance,
    rows: *const f64,
    n_rows: u64,
    dim: u64,
    out: *mut f64,
    err: *mut VigilError,
) -> Status {
    guard(err, || {
        if instance.is_null() {
            return Err(Failure::Null("instance"));
        }
        // SAFETY: a live `T` made by `create` or `restore`, used by one thread at a time.
        let detector = unsafe { &*instance.cast::<T>() };
        // SAFETY: forwarded from the caller.
        let xs = unsafe { checked_rows(detector.dim(), rows, n_rows, dim) }?;
        // SAFETY: forwarded from the caller; `checked_rows` made sure `n_rows` fits a usize.
        let out = unsafe { scores(out, n_rows as usize) }?;
        detector.score_batch(xs, out)?;
        Ok(())
    })
}

/// [`ScoreLearnBatchFn`](crate::abi::ScoreLearnBatchFn) for `T`.
///
/// # Safety
/// As [`score_batch`], with the instance used mutably.
pub unsafe extern "C" fn score_learn_batch<T: PluginDetector>(
    instance: *mut VigilInstance,
    rows: *const f64,
    n_rows: u64,
    dim: u64,
    out: *mut f64,
    err: *mut VigilError,
) -> Status {
    guard(err, || {
        if instance.is_null() {
            return Err(Failure::Null("instance"));
        }
        // SAFETY: a live `T` made by `create` or `restore`, used by one thread at a time
        // and not borrowed elsewhere during the call.
        let detector = unsafe { &mut *instance.cast::<T>() };
        // SAFETY: forwarded from the caller.
        let xs = unsafe { checked_rows(detector.dim(), rows, n_rows, dim) }?;
        // SAFETY: forwarded from the caller; `checked_rows` made sure `n_rows` fits a usize.
        let out = unsafe { scores(out, n_rows as usize) }?;
        detector.score_learn_batch(xs, out)?;
        Ok(())
    })
}

/// [`LearnBatchFn`](crate::abi::LearnBatchFn) for `T`.
///
/// # Safety
/// As [`score_learn_batch`], without `out`.
pub unsafe extern "C" fn learn_batch<T: PluginDetector>(
    instance: *mut VigilInstance,
    rows: *const f64,
    n_rows: u64,
    dim: u64,
    err: *mut VigilError,
) -> Status {
    guard(err, || {
        if instance.is_null() {
            return Err(Failure::Null("instance"));
        }
        // SAFETY: a live `T` made by `create` or `restore`, used by one thread at a time
        // and not borrowed elsewhere during the call.
        let detector = unsafe { &mut *instance.cast::<T>() };
        // SAFETY: forwarded from the caller.
        let xs = unsafe { checked_rows(detector.dim(), rows, n_rows, dim) }?;
        detector.learn_batch(xs)?;
        Ok(())
    })
}

/// [`SnapshotFn`](crate::abi::SnapshotFn) for `T`.
///
/// # Safety
/// As the ABI says: `instance` live, `out` and `err` null or writable.
pub unsafe extern "C" fn snapshot<T: PluginDetector>(
    instance: *const VigilInstance,
    out: *mut VigilBytes,
    err: *mut VigilError,
) -> Status {
    guard(err, || {
        if instance.is_null() {
            return Err(Failure::Null("instance"));
        }
        if out.is_null() {
            return Err(Failure::Null("out"));
        }
        // SAFETY: a live `T` made by `create` or `restore`.
        let detector = unsafe { &*instance.cast::<T>() };
        let bytes = VigilBytes::from_vec(detector.snapshot());
        // SAFETY: `out` is non-null and writable per the ABI.
        unsafe { out.write(bytes) };
        Ok(())
    })
}

/// [`RestoreFn`](crate::abi::RestoreFn) for `T`.
///
/// # Safety
/// As the ABI says: `config` and `bytes` readable for the call, `out` and `err` null or
/// writable.
pub unsafe extern "C" fn restore<T: PluginDetector>(
    config: VigilStr,
    dim: u64,
    bytes: *const u8,
    len: u64,
    out: *mut *mut VigilInstance,
    err: *mut VigilError,
) -> Status {
    guard(err, || {
        if out.is_null() {
            return Err(Failure::Null("out"));
        }
        // SAFETY: forwarded from the caller.
        let mut detector = unsafe { make::<T>(config, dim) }?;
        let snapshot = VigilStr { ptr: bytes, len };
        // SAFETY: the caller guarantees `len` readable bytes at `bytes` (or `len` 0).
        detector.restore(unsafe { snapshot.as_bytes() })?;
        let instance = Box::into_raw(Box::new(detector)).cast::<VigilInstance>();
        // SAFETY: `out` is non-null and writable per the ABI.
        unsafe { out.write(instance) };
        Ok(())
    })
}

/// [`DestroyFn`](crate::abi::DestroyFn) for `T`. A panic in the detector's `Drop` is caught
/// and ignored.
///
/// # Safety
/// `instance` null, or made by this plugin's `create` or `restore` for `T` and not destroyed.
pub unsafe extern "C" fn destroy<T: PluginDetector>(instance: *mut VigilInstance) {
    if instance.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` of a `Box<T>` in `create`/`restore`, destroyed once.
    let boxed = unsafe { Box::from_raw(instance.cast::<T>()) };
    let _ = guard(std::ptr::null_mut(), move || {
        drop(boxed);
        Ok(())
    });
}

/// [`FreeBytesFn`](crate::abi::FreeBytesFn).
///
/// # Safety
/// `bytes` empty or made by this library's `snapshot`, freed once.
pub unsafe extern "C" fn free_bytes(mut bytes: VigilBytes) {
    // SAFETY: per the contract, allocated by `VigilBytes::from_vec` in this library.
    drop(unsafe { bytes.into_vec() });
}

/// [`FreeErrorFn`](crate::abi::FreeErrorFn).
///
/// # Safety
/// `err` null, or a `VigilError` filled by this library (or empty).
pub unsafe extern "C" fn free_error(err: *mut VigilError) {
    if err.is_null() {
        return;
    }
    // SAFETY: non-null and, per the contract, a valid `VigilError` whose message this
    // library allocated.
    let err = unsafe { &mut *err };
    // SAFETY: as above.
    drop(unsafe { err.message.into_vec() });
    *err = VigilError::empty();
}

impl PluginDescriptor {
    /// The descriptor of detector `T` at plugin `version`: what the entry symbol
    /// [`export_detector!`](crate::export_detector) writes returns.
    pub const fn of<T: PluginDetector>(version: &'static str) -> PluginDescriptor {
        PluginDescriptor {
            abi_version: VIGIL_PLUGIN_ABI_VERSION,
            reserved: 0,
            name: VigilStr::new(T::NAME),
            version: VigilStr::new(version),
            vtable: PluginVTable {
                create: Some(create::<T>),
                score_batch: Some(score_batch::<T>),
                score_learn_batch: Some(score_learn_batch::<T>),
                learn_batch: Some(learn_batch::<T>),
                snapshot: Some(snapshot::<T>),
                restore: Some(restore::<T>),
                destroy: Some(destroy::<T>),
                free_bytes: Some(free_bytes),
                free_error: Some(free_error),
            },
        }
    }
}

/// Exports a [`PluginDetector`] from a `cdylib`: writes the `VIGIL_PLUGIN_ABI_VERSION`
/// static and the `vigil_plugin_entry` function (see [`abi`](crate::abi)). The plugin's
/// version is its crate's `CARGO_PKG_VERSION`. Call it once, at the crate root.
///
/// ```
/// use vigil_plugin::{ConfigReader, Error, PluginDetector};
///
/// /// Distance from the last value learned.
/// struct LastValue { last: f64, dim: usize }
///
/// impl PluginDetector for LastValue {
///     const NAME: &'static str = "last-value";
///     fn create(config: &serde_json::Value, dim: usize) -> Result<Self, Error> {
///         ConfigReader::new(config)?.finish()?;
///         Ok(LastValue { last: 0.0, dim })
///     }
///     fn dim(&self) -> usize { self.dim }
///     fn score_one(&self, x: &[f64]) -> Result<f64, Error> { Ok((x[0] - self.last).abs()) }
///     fn learn_one(&mut self, x: &[f64]) -> Result<(), Error> { self.last = x[0]; Ok(()) }
///     fn snapshot(&self) -> Vec<u8> { self.last.to_le_bytes().to_vec() }
///     fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
///         let bytes = bytes.try_into().map_err(|_| Error::Snapshot("8 bytes expected".into()))?;
///         self.last = f64::from_le_bytes(bytes);
///         Ok(())
///     }
/// }
///
/// vigil_plugin::export_detector!(LastValue);
///
/// // What the host finds in the library: the version symbol and the descriptor.
/// assert_eq!(VIGIL_PLUGIN_ABI_VERSION, vigil_plugin::abi::VIGIL_PLUGIN_ABI_VERSION);
/// let descriptor = vigil_plugin_entry();
/// // SAFETY: the entry function returns a pointer to a `'static` descriptor.
/// let descriptor = unsafe { &*descriptor };
/// assert_eq!(descriptor.abi_version, vigil_plugin::abi::VIGIL_PLUGIN_ABI_VERSION);
/// ```
#[macro_export]
macro_rules! export_detector {
    ($detector:ty) => {
        /// The plugin ABI version this library was built against.
        #[unsafe(no_mangle)]
        pub static VIGIL_PLUGIN_ABI_VERSION: u32 = $crate::abi::VIGIL_PLUGIN_ABI_VERSION;

        /// The plugin's descriptor: its name, version and functions.
        #[unsafe(no_mangle)]
        pub extern "C" fn vigil_plugin_entry() -> *const $crate::abi::PluginDescriptor {
            static DESCRIPTOR: $crate::abi::PluginDescriptor =
                $crate::abi::PluginDescriptor::of::<$detector>(env!("CARGO_PKG_VERSION"));
            &DESCRIPTOR
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigReader;

    /// Scores the first feature; panics on a score of 13; learns nothing.
    struct Echo {
        dim: usize,
    }

    impl PluginDetector for Echo {
        const NAME: &'static str = "echo";
        fn create(config: &serde_json::Value, dim: usize) -> Result<Echo, Error> {
            ConfigReader::new(config)?.finish()?;
            Ok(Echo { dim })
        }
        fn dim(&self) -> usize {
            self.dim
        }
        fn score_one(&self, x: &[f64]) -> Result<f64, Error> {
            assert!(x[0] != 13.0, "unlucky row");
            Ok(x[0])
        }
        fn learn_one(&mut self, _x: &[f64]) -> Result<(), Error> {
            Ok(())
        }
        fn snapshot(&self) -> Vec<u8> {
            vec![7]
        }
        fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
            if bytes == [7] {
                Ok(())
            } else {
                Err(Error::Snapshot(format!("{bytes:?} is not [7]")))
            }
        }
    }

    const D: PluginDescriptor = PluginDescriptor::of::<Echo>("1.2.3");

    /// Takes the message out of `err` with the plugin's own `free_error`.
    fn message(err: &mut VigilError) -> String {
        // SAFETY: filled by a call of this library.
        let text = String::from_utf8_lossy(unsafe { err.message.as_slice() }).into_owned();
        // SAFETY: as above; freed once.
        unsafe { (D.vtable.free_error.expect("free_error"))(err) };
        assert!(err.message.ptr.is_null() && err.status == Status::OK);
        text
    }

    fn instance(config: &str, dim: u64) -> Result<*mut VigilInstance, (Status, String)> {
        let mut out = std::ptr::null_mut();
        let mut err = VigilError::empty();
        // SAFETY: borrowed config, writable out-parameters.
        let status = unsafe {
            (D.vtable.create.expect("create"))(VigilStr::new(config), dim, &mut out, &mut err)
        };
        if status.is_ok() {
            Ok(out)
        } else {
            Err((status, message(&mut err)))
        }
    }

    fn score(inst: *mut VigilInstance, rows: &[f64], dim: u64, out: &mut [f64]) -> VigilError {
        let mut err = VigilError::empty();
        // SAFETY: `rows` holds `out.len()` rows of `dim` (or the test means it not to).
        unsafe {
            (D.vtable.score_batch.expect("score_batch"))(
                inst,
                rows.as_ptr(),
                out.len() as u64,
                dim,
                out.as_mut_ptr(),
                &mut err,
            )
        };
        err
    }

    #[test]
    fn descriptor_names_the_detector() {
        assert_eq!(D.abi_version, VIGIL_PLUGIN_ABI_VERSION);
        // SAFETY: static strings.
        unsafe {
            assert_eq!(D.name.as_bytes(), b"echo");
            assert_eq!(D.version.as_bytes(), b"1.2.3");
        }
    }

    #[test]
    fn calls_report_errors_with_details() {
        assert_eq!(
            instance("[1]", 2).expect_err("not an object"),
            (
                Status::INVALID_CONFIG,
                "invalid config: a JSON object expected, got [1]".to_string()
            )
        );
        assert_eq!(
            instance("{", 2).expect_err("not JSON").0,
            Status::INVALID_CONFIG
        );
        assert_eq!(
            instance("", 0).expect_err("dim 0").1,
            "invalid config: dim must be at least 1, got 0"
        );
        let inst = instance("", 2).expect("create");
        let mut out = [0.0; 2];
        let mut err = score(inst, &[1.0, 2.0, 3.0, 4.0], 2, &mut out);
        assert_eq!(err.status, Status::OK);
        assert_eq!(out, [1.0, 3.0]);

        let mut err2 = score(inst, &[1.0, 2.0, 3.0, 4.0], 4, &mut out[..1]);
        assert_eq!(
            (err2.status, err2.expected, err2.got),
            (Status::DIMENSION_MISMATCH, 2, 4)
        );
        assert_eq!(message(&mut err2), "expected 2 features, got 4");

        err = score(inst, &[1.0, 2.0, f64::NEG_INFINITY, 4.0], 2, &mut out);
        assert_eq!(
            (err.status, err.index, err.value),
            (Status::NON_FINITE, 0, f64::NEG_INFINITY)
        );
        assert_eq!(message(&mut err), "feature 0 is -inf, not a finite number");

        err = score(inst, &[1.0, 2.0, 13.0, 4.0], 2, &mut out);
        assert_eq!(err.status, Status::PANIC);
        assert_eq!(message(&mut err), "panicked: unlucky row");

        // SAFETY: a null `rows` with rows to score is what the check is for.
        let status = unsafe {
            (D.vtable.score_batch.expect("score_batch"))(
                inst,
                std::ptr::null(),
                1,
                2,
                out.as_mut_ptr(),
                &mut err,
            )
        };
        assert_eq!(status, Status::NULL_POINTER);
        assert_eq!(message(&mut err), "rows is a null pointer");
        // No rows: no pointer is read.
        err = score(inst, &[], 2, &mut []);
        assert_eq!(err.status, Status::OK);
        // A null error pointer is allowed: the status alone says it failed.
        // SAFETY: valid rows and out, null err.
        let status = unsafe {
            (D.vtable.score_batch.expect("score_batch"))(
                inst,
                [13.0, 0.0].as_ptr(),
                1,
                2,
                out.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, Status::PANIC);
        // SAFETY: made by create, destroyed once.
        unsafe { (D.vtable.destroy.expect("destroy"))(inst) };
    }

    #[test]
    fn snapshot_and_restore_through_the_abi() {
        let inst = instance("", 1).expect("create");
        let mut bytes = VigilBytes::empty();
        let mut err = VigilError::empty();
        // SAFETY: live instance, writable out-parameters.
        let status = unsafe { (D.vtable.snapshot.expect("snapshot"))(inst, &mut bytes, &mut err) };
        assert_eq!(status, Status::OK);
        // SAFETY: allocated by snapshot.
        assert_eq!(unsafe { bytes.as_slice() }, [7]);
        let mut restored = std::ptr::null_mut();
        for (snapshot, expected) in [(vec![7u8], Status::OK), (vec![8u8], Status::SNAPSHOT)] {
            // SAFETY: borrowed inputs, writable out-parameters.
            let status = unsafe {
                (D.vtable.restore.expect("restore"))(
                    VigilStr::new("{}"),
                    1,
                    snapshot.as_ptr(),
                    snapshot.len() as u64,
                    &mut restored,
                    &mut err,
                )
            };
            assert_eq!(status, expected);
        }
        assert_eq!(message(&mut err), "cannot restore snapshot: [8] is not [7]");
        // SAFETY: each released once by the library that made it.
        unsafe {
            (D.vtable.free_bytes.expect("free_bytes"))(bytes);
            (D.vtable.destroy.expect("destroy"))(restored);
            (D.vtable.destroy.expect("destroy"))(inst);
        }
    }
}
