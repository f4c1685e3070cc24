// SPDX-License-Identifier: MIT
//! The two waker bridges.
//!
//! - Rust → C: a [`Waker`] handed to a C timer becomes a custom `tf_waker`
//!   (`tf_waker_new` with [`RUST_WAKER_TABLE`]) whose data is an
//!   `Arc<Waker>`. Cloning it only bumps the `Arc`, so every clone keeps the
//!   same data pointer and `tf_waker_will_wake` recognises them as one task.
//! - C → Rust: a `tf_waker` of the library's executor appears to Rust code as
//!   an ordinary [`Waker`] whose [`RawWakerVTable`] calls
//!   `tf_waker_clone/wake/wake_by_ref/drop`. The waker lent to the poll
//!   running on this thread (or a clone of it) is passed back to C as
//!   itself, with no wrapper; any other is wrapped like a foreign waker.

use std::cell::Cell;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::error::{check, Error};
use crate::sys;

/// Run `f`, and abort the process if it panics: a panic must never unwind
/// into C, and a waker function has no way to report a failure.
pub(crate) fn abort_on_panic<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(_) => {
            eprintln!("timefuture: panic in {what}, which is called from C; aborting");
            std::process::abort();
        }
    }
}

// ---------------------------------------------------------------------------
// Rust Waker -> C tf_waker
// ---------------------------------------------------------------------------

unsafe extern "C" fn rust_waker_clone(data: *mut c_void) -> *mut c_void {
    // SAFETY: data came from Arc::<Waker>::into_raw and the caller holds a
    // reference, so the Arc is alive.
    unsafe { Arc::increment_strong_count(data as *const Waker) };
    data
}

unsafe extern "C" fn rust_waker_wake(data: *mut c_void) {
    abort_on_panic("Waker::wake", || {
        // SAFETY: the caller hands over one reference taken by into_raw or
        // rust_waker_clone.
        let waker = unsafe { Arc::from_raw(data as *const Waker) };
        match Arc::try_unwrap(waker) {
            Ok(waker) => waker.wake(),
            Err(shared) => shared.wake_by_ref(),
        }
    })
}

unsafe extern "C" fn rust_waker_wake_by_ref(data: *mut c_void) {
    abort_on_panic("Waker::wake_by_ref", || {
        // SAFETY: the caller holds a reference for the duration of the call.
        let waker = unsafe { &*(data as *const Waker) };
        waker.wake_by_ref();
    })
}

unsafe extern "C" fn rust_waker_drop(data: *mut c_void) {
    abort_on_panic("dropping a Waker", || {
        // SAFETY: the caller hands over one reference.
        drop(unsafe { Arc::from_raw(data as *const Waker) });
    })
}

/// The `tf_waker_vtable` of wakers made from Rust wakers.
static RUST_WAKER_TABLE: sys::tf_waker_vtable = sys::tf_waker_vtable {
    size: std::mem::size_of::<sys::tf_waker_vtable>() as u32,
    reserved: 0,
    clone: rust_waker_clone,
    wake: rust_waker_wake,
    wake_by_ref: rust_waker_wake_by_ref,
    drop: rust_waker_drop,
};

/// One reference to a C waker, released on drop.
pub(crate) struct OwnedCWaker {
    raw: NonNull<sys::tf_waker>,
}

// SAFETY: the C library documents wakers as refcounted, thread-safe handles:
// every waker function may be called from any thread.
unsafe impl Send for OwnedCWaker {}
// SAFETY: as above; &OwnedCWaker only lends the pointer for borrowed uses.
unsafe impl Sync for OwnedCWaker {}

impl OwnedCWaker {
    /// Wrap a Rust waker (shared through `shared`) as a custom C waker.
    pub(crate) fn from_shared(shared: &Arc<Waker>) -> Result<OwnedCWaker, Error> {
        let data = Arc::into_raw(Arc::clone(shared)) as *mut c_void;
        let mut out = std::ptr::null_mut();
        // SAFETY: the table is static and valid; data is one Arc reference,
        // consumed by the library on success.
        let status = unsafe { sys::tf_waker_new(&RUST_WAKER_TABLE, data, &mut out) };
        if let Err(error) = check(status) {
            // On failure the reference is still ours.
            // SAFETY: data came from Arc::into_raw above.
            drop(unsafe { Arc::from_raw(data as *const Waker) });
            return Err(error);
        }
        NonNull::new(out)
            .map(|raw| OwnedCWaker { raw })
            .ok_or(Error::NoMemory)
    }

    pub(crate) fn as_ptr(&self) -> *const sys::tf_waker {
        self.raw.as_ptr()
    }
}

impl Drop for OwnedCWaker {
    fn drop(&mut self) {
        // SAFETY: we own this reference and never use it again.
        let status = unsafe { sys::tf_waker_drop(self.raw.as_ptr()) };
        debug_assert_eq!(status, sys::TF_OK, "tf_waker_drop failed");
    }
}

// ---------------------------------------------------------------------------
// C tf_waker -> Rust Waker
// ---------------------------------------------------------------------------

unsafe fn c_waker_clone(data: *const ()) -> RawWaker {
    let mut out = std::ptr::null_mut();
    // SAFETY: data is a live C waker (the Waker we are cloning holds it).
    let status = unsafe { sys::tf_waker_clone(data as *const sys::tf_waker, &mut out) };
    if status != sys::TF_OK || out.is_null() {
        // Waker::clone cannot fail; losing the wake would hang the task
        // silently, so treat it like any failed allocation.
        eprintln!(
            "timefuture: tf_waker_clone failed: {}; aborting",
            crate::error::strerror(status)
        );
        std::process::abort();
    }
    RawWaker::new(out as *const (), &C_WAKER_VTABLE)
}

unsafe fn c_waker_wake(data: *const ()) {
    // SAFETY: the Waker hands over its reference.
    let status = unsafe { sys::tf_waker_wake(data as *mut sys::tf_waker) };
    debug_assert_eq!(status, sys::TF_OK, "tf_waker_wake failed");
}

unsafe fn c_waker_wake_by_ref(data: *const ()) {
    // SAFETY: the Waker keeps its reference alive during the call.
    let status = unsafe { sys::tf_waker_wake_by_ref(data as *const sys::tf_waker) };
    debug_assert_eq!(status, sys::TF_OK, "tf_waker_wake_by_ref failed");
}

unsafe fn c_waker_drop(data: *const ()) {
    // SAFETY: the Waker hands over its reference.
    let status = unsafe { sys::tf_waker_drop(data as *mut sys::tf_waker) };
    debug_assert_eq!(status, sys::TF_OK, "tf_waker_drop failed");
}

/// The vtable of Rust wakers that stand for a C waker. A `static`, so its
/// address identifies such wakers.
static C_WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(
    c_waker_clone,
    c_waker_wake,
    c_waker_wake_by_ref,
    c_waker_drop,
);

/// A Rust waker for the C waker `raw`, which it does not own.
///
/// # Safety
/// `raw` must be a live C waker while the result is used.
#[inline]
unsafe fn waker_for(raw: *const sys::tf_waker) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable's functions accept any live C waker; the
    // ManuallyDrop keeps us from releasing a reference we do not own.
    ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(raw as *const (), &C_WAKER_VTABLE)) })
}

thread_local! {
    /// The C waker lent to the innermost poll from C running on this thread
    /// (null outside one). Rust 1.63 has no `Waker::data`/`Waker::vtable`,
    /// so a waker is recognised as a C one by comparing it with this.
    static LENT: Cell<*const sys::tf_waker> = const { Cell::new(std::ptr::null()) };
}

/// If `waker` wakes the task whose poll from C is running on this thread,
/// that task's C waker (borrowed from the poll). Other C-backed wakers are
/// not recognised; they are wrapped like foreign ones, which still works.
pub(crate) fn as_c_waker(waker: &Waker) -> Option<*const sys::tf_waker> {
    let lent = LENT.with(Cell::get);
    if lent.is_null() {
        return None;
    }
    // SAFETY: LENT is set only while the poll that was lent it runs.
    let own = unsafe { waker_for(lent) };
    // Same data pointer and vtable: the lent waker or a clone of it (a
    // library task's clones are the task itself).
    if waker.will_wake(&own) {
        Some(lent)
    } else {
        None
    }
}

/// A Rust [`Waker`] that borrows a C waker for the lifetime `'a` (e.g. the
/// duration of a poll called from C). It is never dropped, so it releases
/// nothing; clones made from it are full references. While it exists it is
/// this thread's lent waker (see [`as_c_waker`]).
pub(crate) struct BorrowedWaker<'a> {
    waker: ManuallyDrop<Waker>,
    /// The lent waker of an enclosing poll, restored on drop.
    outer: *const sys::tf_waker,
    /// Tied to the lender, and to this thread (the record is thread-local).
    _lender: PhantomData<(&'a sys::tf_waker, *const ())>,
}

impl BorrowedWaker<'_> {
    /// # Safety
    /// `raw` must be a live C waker for the whole lifetime of the result,
    /// and results must be dropped in the reverse order of their creation
    /// (as locals of nested polls are).
    #[inline]
    pub(crate) unsafe fn new(raw: *const sys::tf_waker) -> Self {
        let outer = LENT.with(|lent| lent.replace(raw));
        BorrowedWaker {
            // SAFETY: raw is live for our lifetime (the caller's promise).
            waker: unsafe { waker_for(raw) },
            outer,
            _lender: PhantomData,
        }
    }
}

impl Drop for BorrowedWaker<'_> {
    #[inline]
    fn drop(&mut self) {
        LENT.with(|lent| lent.set(self.outer));
    }
}

impl Deref for BorrowedWaker<'_> {
    type Target = Waker;
    #[inline]
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// Remembers the C waker last made for a Rust waker, so that polling again
/// from the same task hands the C side the same waker without allocating.
#[derive(Default)]
pub(crate) struct WakerCache {
    last: Option<(Arc<Waker>, OwnedCWaker)>,
}

impl WakerCache {
    /// A C waker that wakes the same task as `waker`, borrowed from `waker`
    /// or from the cache until the next call.
    pub(crate) fn c_waker_for(&mut self, waker: &Waker) -> Result<*const sys::tf_waker, Error> {
        if let Some(raw) = as_c_waker(waker) {
            // The task runs on the library's executor: pass its own waker,
            // and let go of a wrapper made for an earlier, foreign task.
            self.last = None;
            return Ok(raw);
        }
        if let Some((shared, c_waker)) = &self.last {
            if shared.will_wake(waker) {
                return Ok(c_waker.as_ptr());
            }
        }
        let shared = Arc::new(waker.clone());
        let c_waker = OwnedCWaker::from_shared(&shared)?;
        let raw = c_waker.as_ptr();
        self.last = Some((shared, c_waker));
        Ok(raw)
    }

    /// Release the cached waker (e.g. once the future has completed).
    pub(crate) fn clear(&mut self) {
        self.last = None;
    }
}
