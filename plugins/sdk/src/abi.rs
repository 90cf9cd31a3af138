//! The stable C ABI between the host (`vigil-plugin-host`) and a plugin library.
//!
//! Everything here is `#[repr(C)]` with fixed-width fields, so a plugin built by another
//! compiler version (or written in another language) agrees with the host on every byte.
//! Any change to these types or to the meaning of a call bumps
//! [`VIGIL_PLUGIN_ABI_VERSION`].
//!
//! # Symbols
//!
//! A plugin library exports two symbols (the [`export_detector!`](crate::export_detector)
//! macro writes both):
//!
//! - [`ABI_VERSION_SYMBOL`] (`VIGIL_PLUGIN_ABI_VERSION`): a `u32` static holding the ABI
//!   version the plugin was built against. The host reads it before anything else and
//!   refuses the library when it differs from its own.
//! - [`ENTRY_SYMBOL`] (`vigil_plugin_entry`): an `extern "C" fn() -> *const
//!   PluginDescriptor`, returning a pointer to a descriptor that lives as long as the library
//!   is loaded.
//!
//! # Memory ownership
//!
//! Whoever allocates frees, with its own allocator (the host and the plugin each link their
//! own copy of the Rust standard library):
//!
//! - Borrowed inputs ([`VigilStr`] config, row buffers, snapshot bytes passed to `restore`)
//!   are owned by the host and valid only for the duration of the call; the plugin copies
//!   what it keeps.
//! - Score buffers (`out`) are allocated by the host; the plugin writes exactly `n_rows`
//!   values into them.
//! - Snapshot bytes ([`VigilBytes`]) are allocated by the plugin; the host copies them and
//!   hands them back to the plugin's `free_bytes`, exactly once.
//! - Error messages (the `message` of [`VigilError`]) are allocated by the plugin; the host
//!   reads them and calls the plugin's `free_error`, exactly once, for every call that
//!   returned an error status. `free_error` leaves the error empty.
//! - Instances ([`VigilInstance`]) are created by `create` or `restore` and released by
//!   `destroy`, exactly once, after which the pointer is never used again.
//!
//! # Calls
//!
//! Every call but `destroy`, `free_bytes` and `free_error` returns a [`Status`]; on anything
//! but [`Status::OK`] it has filled the `err` out-parameter (when not null) and has written
//! no other out-parameter. No call unwinds across the boundary: panics are caught inside the
//! plugin and reported as [`Status::PANIC`].

use std::ffi::c_void;
use std::marker::PhantomData;

/// The version of this ABI. A plugin built against another version is refused by the host.
pub const VIGIL_PLUGIN_ABI_VERSION: u32 = 1;

/// Name of the `u32` static holding the plugin's ABI version, NUL-terminated.
pub const ABI_VERSION_SYMBOL: &[u8] = b"VIGIL_PLUGIN_ABI_VERSION\0";

/// Name of the entry function returning the [`PluginDescriptor`], NUL-terminated.
pub const ENTRY_SYMBOL: &[u8] = b"vigil_plugin_entry\0";

/// The result of a call: 0 is success, anything else an error whose details are in the
/// call's [`VigilError`].
///
/// A plain `i32` rather than a Rust enum, so that an unknown value coming from a newer or
/// foreign plugin is a value to report, not undefined behaviour.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub i32);

impl Status {
    /// Success.
    pub const OK: Status = Status(0);
    /// `create` or `restore` refused the JSON config (not JSON, unknown key, value out of
    /// range).
    pub const INVALID_CONFIG: Status = Status(1);
    /// A row or batch of the wrong length; `expected` and `got` say which.
    pub const DIMENSION_MISMATCH: Status = Status(2);
    /// A NaN or infinite input value; `index` and `value` say which.
    pub const NON_FINITE: Status = Status(3);
    /// `restore` refused the snapshot bytes (another plugin's, another version, cut short).
    pub const SNAPSHOT: Status = Status(4);
    /// The model cannot score yet.
    pub const NOT_FITTED: Status = Status(5);
    /// The plugin panicked; the panic was caught and its message is in `message`.
    pub const PANIC: Status = Status(6);
    /// A required pointer was null.
    pub const NULL_POINTER: Status = Status(7);
    /// Any other failure of the plugin, described in `message`.
    pub const FAILED: Status = Status(8);

    /// True for [`Status::OK`].
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// A short name of the status (`"panic"`, `"invalid config"`), or `"unknown status"`.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "ok",
            1 => "invalid config",
            2 => "dimension mismatch",
            3 => "non-finite input",
            4 => "bad snapshot",
            5 => "not fitted",
            6 => "panic",
            7 => "null pointer",
            8 => "failed",
            _ => "unknown status",
        }
    }
}

/// A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated. `ptr` may be null
/// when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VigilStr {
    /// First byte.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: u64,
}

impl VigilStr {
    /// Borrows `s` (for a `'static` string, as the descriptor's name, or for one call).
    pub const fn new(s: &str) -> VigilStr {
        VigilStr {
            ptr: s.as_ptr(),
            len: s.len() as u64,
        }
    }

    /// The bytes it points to.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid and unchanged for `'a` (or
    /// `len` must be 0).
    pub unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            return &[];
        }
        // SAFETY: the caller guarantees `len` readable bytes at a non-null `ptr`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len as usize) }
    }
}

/// Bytes allocated by the plugin (a snapshot, an error message). The receiver copies them
/// and returns them to the plugin (`free_bytes`, or `free_error` for a message). `ptr` is
/// null when there are none.
#[repr(C)]
#[derive(Debug)]
pub struct VigilBytes {
    /// First byte, or null.
    pub ptr: *mut u8,
    /// Length in bytes.
    pub len: u64,
}

impl VigilBytes {
    /// No bytes.
    pub const fn empty() -> VigilBytes {
        VigilBytes {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Hands `bytes` over; only [`VigilBytes::into_vec`] in the same library may free them.
    pub fn from_vec(bytes: Vec<u8>) -> VigilBytes {
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len() as u64;
        VigilBytes {
            ptr: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }

    /// Takes the bytes back, leaving `self` empty.
    ///
    /// # Safety
    /// `self` must be empty or come from [`VigilBytes::from_vec`] in this same library (the
    /// same allocator), and not have been taken back already.
    pub unsafe fn into_vec(&mut self) -> Vec<u8> {
        let taken = std::mem::replace(self, VigilBytes::empty());
        if taken.ptr.is_null() {
            return Vec::new();
        }
        let slice = std::ptr::slice_from_raw_parts_mut(taken.ptr, taken.len as usize);
        // SAFETY: per the contract, `slice` is the pointer and length of a `Box<[u8]>`
        // leaked by `from_vec` with this library's allocator, taken back once.
        unsafe { Box::from_raw(slice) }.into_vec()
    }

    /// Reads the bytes without taking them.
    ///
    /// # Safety
    /// `ptr` must be null or point to `len` readable bytes valid for `'a`.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            return &[];
        }
        // SAFETY: the caller guarantees `len` readable bytes at a non-null `ptr`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len as usize) }
    }
}

/// Details of a failed call, filled by the plugin. The host passes a pointer to one made
/// with [`VigilError::empty`] to every call and, when the call fails, reads it and releases
/// its message with the plugin's `free_error`.
#[repr(C)]
#[derive(Debug)]
pub struct VigilError {
    /// The same status the call returned.
    pub status: Status,
    /// Always 0 (explicit padding).
    pub reserved: u32,
    /// For [`Status::DIMENSION_MISMATCH`]: the length expected.
    pub expected: u64,
    /// For [`Status::DIMENSION_MISMATCH`]: the length passed.
    pub got: u64,
    /// For [`Status::NON_FINITE`]: the index of the feature within its row.
    pub index: u64,
    /// For [`Status::NON_FINITE`]: the value.
    pub value: f64,
    /// A UTF-8 message for a human, allocated by the plugin.
    pub message: VigilBytes,
}

impl VigilError {
    /// No error yet.
    pub const fn empty() -> VigilError {
        VigilError {
            status: Status::OK,
            reserved: 0,
            expected: 0,
            got: 0,
            index: 0,
            value: 0.0,
            message: VigilBytes::empty(),
        }
    }
}

impl Default for VigilError {
    fn default() -> VigilError {
        VigilError::empty()
    }
}

/// An instance of a plugin's detector, opaque to the host.
#[repr(C)]
pub struct VigilInstance {
    _private: [u8; 0],
    _not_send_sync: PhantomData<*mut c_void>,
}

/// `create(config, dim, out, err)`: parses the JSON `config` and makes an instance for
/// vectors of `dim` features, written to `*out`.
pub type CreateFn = unsafe extern "C" fn(
    config: VigilStr,
    dim: u64,
    out: *mut *mut VigilInstance,
    err: *mut VigilError,
) -> Status;

/// `score_batch(instance, rows, n_rows, dim, out, err)`: scores `n_rows` rows of `dim`
/// values (row-major at `rows`) into `out[0..n_rows]` without learning them.
pub type ScoreBatchFn = unsafe extern "C" fn(
    instance: *const VigilInstance,
    rows: *const f64,
    n_rows: u64,
    dim: u64,
    out: *mut f64,
    err: *mut VigilError,
) -> Status;

/// `score_learn_batch(instance, rows, n_rows, dim, out, err)`: for each row in order,
/// scores it into `out` and then learns it.
pub type ScoreLearnBatchFn = unsafe extern "C" fn(
    instance: *mut VigilInstance,
    rows: *const f64,
    n_rows: u64,
    dim: u64,
    out: *mut f64,
    err: *mut VigilError,
) -> Status;

/// `learn_batch(instance, rows, n_rows, dim, err)`: learns `n_rows` rows of `dim` values, in
/// order, without scoring them.
pub type LearnBatchFn = unsafe extern "C" fn(
    instance: *mut VigilInstance,
    rows: *const f64,
    n_rows: u64,
    dim: u64,
    err: *mut VigilError,
) -> Status;

/// `snapshot(instance, out, err)`: the instance's whole state as bytes in `*out`, allocated
/// by the plugin (release them with `free_bytes`).
pub type SnapshotFn = unsafe extern "C" fn(
    instance: *const VigilInstance,
    out: *mut VigilBytes,
    err: *mut VigilError,
) -> Status;

/// `restore(config, dim, bytes, len, out, err)`: a new instance, made from `config` and
/// `dim` as `create` would, whose state is then replaced by the snapshot `bytes[0..len]`.
pub type RestoreFn = unsafe extern "C" fn(
    config: VigilStr,
    dim: u64,
    bytes: *const u8,
    len: u64,
    out: *mut *mut VigilInstance,
    err: *mut VigilError,
) -> Status;

/// `destroy(instance)`: releases an instance made by `create` or `restore`.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut VigilInstance);

/// `free_bytes(bytes)`: releases bytes the plugin allocated (a snapshot).
pub type FreeBytesFn = unsafe extern "C" fn(bytes: VigilBytes);

/// `free_error(err)`: releases the message of an error the plugin filled, and empties it.
pub type FreeErrorFn = unsafe extern "C" fn(err: *mut VigilError);

/// The plugin's functions. Each is nullable in the layout (`Option` of a function pointer
/// is a nullable pointer); the host refuses a descriptor with any of them null.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginVTable {
    /// See [`CreateFn`].
    pub create: Option<CreateFn>,
    /// See [`ScoreBatchFn`].
    pub score_batch: Option<ScoreBatchFn>,
    /// See [`ScoreLearnBatchFn`].
    pub score_learn_batch: Option<ScoreLearnBatchFn>,
    /// See [`LearnBatchFn`].
    pub learn_batch: Option<LearnBatchFn>,
    /// See [`SnapshotFn`].
    pub snapshot: Option<SnapshotFn>,
    /// See [`RestoreFn`].
    pub restore: Option<RestoreFn>,
    /// See [`DestroyFn`].
    pub destroy: Option<DestroyFn>,
    /// See [`FreeBytesFn`].
    pub free_bytes: Option<FreeBytesFn>,
    /// See [`FreeErrorFn`].
    pub free_error: Option<FreeErrorFn>,
}

/// What the entry symbol returns: who the plugin is and its functions. Lives (immutable) as
/// long as the library is loaded.
#[repr(C)]
#[derive(Debug)]
pub struct PluginDescriptor {
    /// The ABI version again (must equal the exported symbol's).
    pub abi_version: u32,
    /// Always 0 (explicit padding).
    pub reserved: u32,
    /// The detector's name: non-empty UTF-8, letters, digits, `-` and `_` (`loda`).
    pub name: VigilStr,
    /// The plugin's version, UTF-8 (`0.1.0`).
    pub version: VigilStr,
    /// Its functions.
    pub vtable: PluginVTable,
}

// SAFETY: a descriptor is immutable and its pointers refer to `'static` strings and
// functions, so sharing it between threads is sound.
unsafe impl Sync for PluginDescriptor {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_fixed() {
        // The sizes the ABI documents, on 64-bit targets.
        if cfg!(target_pointer_width = "64") {
            assert_eq!(size_of::<VigilStr>(), 16);
            assert_eq!(size_of::<VigilBytes>(), 16);
            assert_eq!(size_of::<VigilError>(), 56);
            assert_eq!(size_of::<PluginVTable>(), 72);
            assert_eq!(size_of::<PluginDescriptor>(), 112);
        }
        assert_eq!(size_of::<Status>(), 4);
        assert_eq!(size_of::<Option<CreateFn>>(), size_of::<usize>());
    }

    #[test]
    fn bytes_round_trip() {
        let mut bytes = VigilBytes::from_vec(vec![1, 2, 3]);
        // SAFETY: made by from_vec just above, taken back once.
        let back = unsafe { bytes.into_vec() };
        assert_eq!(back, [1, 2, 3]);
        assert!(bytes.ptr.is_null());
        // SAFETY: empty now.
        assert!(unsafe { bytes.into_vec() }.is_empty());
    }

    #[test]
    fn status_names() {
        assert_eq!(Status::PANIC.name(), "panic");
        assert_eq!(Status(99).name(), "unknown status");
        assert!(Status::OK.is_ok() && !Status::FAILED.is_ok());
    }
}
