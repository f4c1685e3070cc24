// SPDX-License-Identifier: MIT
//! Rust futures run as C tasks of libtimefuture's executor, and the
//! `block_on` functions.

use std::any::Any;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::os::raw::{c_int, c_void};
use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::error::{check, Error};
use crate::pool;
use crate::sys;
use crate::waker::{abort_on_panic, BorrowedWaker};

/// The text of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic payload of a type other than a string".to_owned()
    }
}

/// Drop a panic payload without letting a panic in its own destructor
/// escape.
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(nested) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        // A payload whose destructor panics twice is leaked, not unwound.
        std::mem::forget(nested);
    }
}

// ---------------------------------------------------------------------------
// Task cells: a spawned future and what its JoinHandle sees, in one
// allocation whose address is the C task's state
// ---------------------------------------------------------------------------

/// What a task hands its JoinHandle (an error boxed: rare, and it keeps the
/// cell small).
type Output<T> = Result<T, Box<Error>>;

// The bits of a cell's state word. The two reference bits say who still
// holds the cell: the last holder frees it, and a bit once cleared is never
// set again (JoinHandle is not Clone), so a holder that sees the other's bit
// clear is alone and needs no atomic read-modify-write.
/// The task holds the cell, until its drop function has run.
const TASK: usize = 1;
/// The JoinHandle holds the cell, until it is dropped.
const HANDLE: usize = 2;
/// The stage holds the output (or the output is gone, see TAKEN); set by
/// the task, after which only the handle side touches the stage.
const COMPLETE: usize = 4;
/// The waker slot holds the awaiting task's waker, which the task side may
/// read (wake by reference) once it has set COMPLETE: the handle changes
/// the slot only while this bit is clear. Neither side clears the slot
/// after COMPLETE; it goes with the cell.
const WAKER: usize = 8;
/// The output has been moved out of the stage (or was dropped at once,
/// nobody holding a handle).
const TAKEN: usize = 16;
/// The flag bits. The rest of the word is the address of the waker slot,
/// or 0 before the handle's first Pending poll: set once, by the handle,
/// in the step that first sets WAKER, and freed with the cell.
const FLAGS: usize = 31;

/// The waker of the task awaiting a JoinHandle, in pool memory of its own
/// so that a cell whose handle is never polled does not carry its two
/// words; aligned so that its address leaves the flag bits clear. Owned as
/// the WAKER bit says.
#[repr(C, align(32))]
struct WakerSlot {
    waker: UnsafeCell<Waker>,
}

const _: () = assert!(std::mem::align_of::<WakerSlot>() > FLAGS);

/// The waker slot whose address a state word holds, if any.
#[inline]
fn slot_of(state: usize) -> Option<NonNull<WakerSlot>> {
    NonNull::new((state & !FLAGS) as *mut WakerSlot)
}

/// The part of a task cell that does not depend on the future's type: one
/// word, so that with a small future and output the whole cell is 16
/// bytes, a slot of the pool's 16-byte class.
#[repr(C)]
struct Header {
    /// TASK | HANDLE | COMPLETE | WAKER | TAKEN, and the slot's address.
    state: AtomicUsize,
}

/// The future until it completes, then its output: never both, so they
/// share the space.
#[repr(C)]
union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Output<F::Output>>,
}

/// A spawned future and its JoinHandle's state. The header comes first
/// (repr(C)), so a pointer to the cell is a pointer to its header.
#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    /// The future while COMPLETE is clear: touched only by poll_task and
    /// drop_task, which the library never runs concurrently for one task.
    /// Then the output, until TAKEN: the handle side's alone.
    stage: UnsafeCell<Stage<F>>,
}

/// Wake the task awaiting the handle, if it left a waker, after the fetch
/// that set COMPLETE returned `before`.
///
/// # Safety
/// Called once, by the task side, right after setting COMPLETE, with the
/// cell alive (the task's reference).
unsafe fn wake_joiner(before: usize) {
    if before & WAKER == 0 {
        return;
    }
    let slot = match slot_of(before) {
        Some(slot) => slot,
        None => {
            debug_assert!(false, "WAKER without a waker slot");
            return;
        }
    };
    // SAFETY: WAKER was set when we set COMPLETE, so the handle will not
    // change the slot again (it does so only after clearing WAKER, which
    // fails once COMPLETE is set); it may read it, as we do. The slot lives
    // as long as the cell.
    let waker = unsafe { &*(*slot.as_ptr()).waker.get() };
    // The JoinHandle's waker is user code: it must not unwind into C.
    abort_on_panic("waking a JoinHandle", || waker.wake_by_ref());
}

/// What a freed cell still held: user values, for the caller to drop where
/// a panic of their destructors may go.
struct Leftovers<T> {
    _output: Option<Output<T>>,
    _waker: Option<Waker>,
}

/// Free a cell that nobody else holds, and return what it still held.
///
/// # Safety
/// `header` is the header of a `TaskCell<F>` from `pool::alloc` whose
/// reference bits have both been let go of, and whose stage is no longer
/// the future.
unsafe fn free_cell<F: Future>(header: NonNull<Header>) -> Leftovers<F::Output> {
    let cell = header.cast::<TaskCell<F>>();
    // SAFETY: as the caller promises: nobody else refers to the cell, so
    // what it holds is ours to move out; the rest (the state word, the
    // ManuallyDrop stage) needs no drop, and the memory goes back after
    // the last read of it.
    unsafe {
        let cell = cell.as_ptr();
        let state = (*cell).header.state.load(Ordering::Relaxed);
        debug_assert!(state & COMPLETE != 0, "a cell freed with its future");
        let output = if state & TAKEN == 0 {
            // COMPLETE without TAKEN: the stage holds the output.
            Some(ManuallyDrop::take(&mut (*(*cell).stage.get()).output))
        } else {
            None
        };
        pool::free(NonNull::new_unchecked(cell));
        Leftovers {
            _output: output,
            _waker: slot_of(state).map(|slot| take_slot(slot)),
        }
    }
}

/// Move the waker out of a slot and free the slot.
///
/// # Safety
/// `slot` is from `pool::alloc` and holds a waker, ours alone; it is not
/// used again.
unsafe fn take_slot(slot: NonNull<WakerSlot>) -> Waker {
    // SAFETY: as the caller promises.
    unsafe {
        let waker = ptr::read((*slot.as_ptr()).waker.get());
        pool::free(slot);
        waker
    }
}

/// Let go of the reference `bit` of the cell; true if that was the last one
/// (the caller must then free the cell).
///
/// # Safety
/// The caller holds the reference `bit` of a live cell, and uses the cell
/// no more unless this returns true.
#[inline]
unsafe fn release(header: &Header, bit: usize) -> bool {
    let other = (TASK | HANDLE) & !bit;
    // Acquire: pairs with the other holder's release, so its last uses of
    // the cell happen before our free.
    // The bit is set (ours), so subtracting it clears it, and leaves the
    // slot's address alone: a single fetch-and-add, where fetch_and would
    // need a compare-exchange loop.
    header.state.load(Ordering::Acquire) & other == 0
        || header.state.fetch_sub(bit, Ordering::AcqRel) & other == 0
}

/// `tf_poll_fn` of a future spawned with a JoinHandle.
unsafe extern "C" fn poll_task<F: Future>(
    state: *mut c_void,
    waker: *const sys::tf_waker,
) -> c_int {
    // SAFETY: state is the TaskCell<F> given to tf_executor_spawn, alive
    // until drop_task releases the task's reference; the library polls a
    // task on one thread at a time and never after its drop function ran,
    // and the stage holds the future until this function completes it.
    let cell = unsafe { &*(state as *const TaskCell<F>) };
    let stage = cell.stage.get();
    // SAFETY: as above; the cell is never moved, so the future is pinned.
    let future = unsafe { Pin::new_unchecked(&mut *(*stage).future) };
    let result = match poll_lent(future, waker) {
        Poll::Pending => return sys::TF_PENDING,
        Poll::Ready(result) => result,
    };
    // The future goes at once, before its output is handed over.
    // SAFETY: it completed and is never polled again; drop_task sees
    // COMPLETE and leaves the stage alone.
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
        ManuallyDrop::drop(&mut (*stage).future)
    }));
    if let Err(payload) = dropped {
        // The output stands; the panic hook has reported the drop's panic.
        drop_payload(payload);
    }
    // SAFETY: the future is gone and COMPLETE is not set: we own the stage.
    unsafe { complete(&cell.header, stage, result) };
    sys::TF_READY
}

/// Hand the task's outcome to its JoinHandle (or drop it if there is none)
/// and wake the task awaiting the handle.
///
/// # Safety
/// Called once per cell, by the task side, whose stage no longer holds the
/// future and which has not set COMPLETE yet.
#[inline(always)]
unsafe fn complete<F: Future>(
    header: &Header,
    stage: *mut Stage<F>,
    result: Result<F::Output, Error>,
) {
    let state = header.state.load(Ordering::Acquire);
    if state & HANDLE == 0 {
        // Nobody will read the outcome, nor can anyone start to: a plain
        // store, and nobody to wake (a handle that left a waker is gone;
        // the slot goes with the cell).
        header
            .state
            .store(state | COMPLETE | TAKEN, Ordering::Relaxed);
        drop_quietly(result);
        return;
    }
    // SAFETY: the stage is ours until COMPLETE is set (the caller's promise).
    unsafe { (*stage).output = ManuallyDrop::new(result.map_err(Box::new)) };
    // Release: the handle that sees COMPLETE sees the output. Acquire: we
    // see the waker the handle stored before setting WAKER.
    let before = header.state.fetch_or(COMPLETE, Ordering::AcqRel);
    // SAFETY: we just set COMPLETE, once.
    unsafe { wake_joiner(before) };
}

/// `tf_drop_fn` of a future spawned with a JoinHandle: runs when the task
/// completed, or when its executor is freed with the task unfinished.
unsafe extern "C" fn drop_task<F: Future>(state: *mut c_void) {
    let cell = state as *mut TaskCell<F>;
    // SAFETY: the library calls this exactly once, after the last poll, with
    // the cell alive (the task's reference).
    let header = unsafe { &(*cell).header };
    if header.state.load(Ordering::Relaxed) & COMPLETE == 0 {
        // SAFETY: as above, COMPLETE clear: the stage is the future.
        unsafe { shut_down(cell) };
    }
    // Let go of the task's reference (`release`, with its first load used
    // once more). Acquire: pairs with the handle's release.
    let state = header.state.load(Ordering::Acquire);
    if state == TASK | COMPLETE | TAKEN {
        // The handle is gone, and with it the output, and it left no waker
        // slot: the cell holds nothing but its memory (a task spawned with
        // its handle dropped at once ends here).
        // SAFETY: the last reference; nothing in the cell needs a drop.
        unsafe { pool::free(NonNull::new_unchecked(cell)) };
        return;
    }
    if state & HANDLE == 0 || header.state.fetch_sub(TASK, Ordering::AcqRel) & HANDLE == 0 {
        // SAFETY: the last reference, and the stage holds no future.
        let leftovers = unsafe { free_cell::<F>(NonNull::new_unchecked(cell as *mut Header)) };
        // An output nobody took, a waker: user code, called from C.
        drop_quietly(leftovers);
    }
}

/// The executor is going away with the task unfinished: drop the future,
/// and complete the cell with the outcome.
///
/// # Safety
/// Called by drop_task, with the cell alive and COMPLETE clear: the stage
/// is the future, and ours to drop.
#[cold]
#[inline(never)]
unsafe fn shut_down<F: Future>(cell: *mut TaskCell<F>) {
    // SAFETY: as the caller promises.
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
        ManuallyDrop::drop(&mut (*(*cell).stage.get()).future)
    }));
    let outcome = match dropped {
        Ok(()) => Err(Error::Shutdown),
        Err(payload) => Err(Error::Panicked(take_message(payload))),
    };
    // SAFETY: the future is gone, COMPLETE is clear.
    unsafe { complete::<F>(&(*cell).header, (*cell).stage.get(), outcome) };
}

/// Poll `future` with the C waker lent to this call, catching a panic.
#[inline]
fn poll_lent<F: Future>(
    future: Pin<&mut F>,
    waker: *const sys::tf_waker,
) -> Poll<Result<F::Output, Error>> {
    // SAFETY: the waker is lent for the duration of the poll from C that
    // called us, which outlasts this function.
    let waker = unsafe { BorrowedWaker::new(waker) };
    let mut cx = Context::from_waker(&waker);
    match catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Err(payload) => Poll::Ready(Err(Error::Panicked(take_message(payload)))),
    }
}

/// The message of a panic payload, which is dropped.
fn take_message(payload: Box<dyn Any + Send>) -> String {
    let message = panic_message(&*payload);
    drop_payload(payload);
    message
}

/// Drop a value from inside a call from C, ignoring a panic of its
/// destructor (whose message the panic hook has already printed).
fn drop_quietly<T>(value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        drop_payload(payload);
    }
}

/// `tf_poll_fn` of a future spawned with [`Executor::spawn_detached`]: the
/// state is the future alone, in memory from `pool::alloc::<F>`.
unsafe extern "C" fn poll_detached<F: Future>(
    state: *mut c_void,
    waker: *const sys::tf_waker,
) -> c_int {
    // SAFETY: state is the F given to tf_executor_spawn, polled on one
    // thread at a time and never after drop_detached; it never moves.
    let future = unsafe { Pin::new_unchecked(&mut *(state as *mut F)) };
    match poll_lent(future, waker) {
        Poll::Pending => sys::TF_PENDING,
        Poll::Ready(result) => {
            drop_quietly(result);
            sys::TF_READY
        }
    }
}

/// `tf_drop_fn` of a future spawned with [`Executor::spawn_detached`].
unsafe extern "C" fn drop_detached<F: Future>(state: *mut c_void) {
    // SAFETY: state is the F from pool::alloc (never null); the library
    // calls this exactly once.
    let future = unsafe { NonNull::new_unchecked(state as *mut F) };
    drop_quietly(FreeOnDrop(future));
}

/// A pinned value in pool memory, dropped in place and then freed, as a
/// `Box` would be: the memory goes back even if the drop panics.
struct FreeOnDrop<T>(NonNull<T>);

impl<T> Drop for FreeOnDrop<T> {
    fn drop(&mut self) {
        /// Frees the memory after the value's drop, even on unwind.
        struct Free<T>(NonNull<T>);
        impl<T> Drop for Free<T> {
            fn drop(&mut self) {
                // SAFETY: from pool::alloc::<T>, its value dropped (or its
                // drop unwinding), never used again.
                unsafe { pool::free(self.0) };
            }
        }
        let free = Free(self.0);
        // SAFETY: FreeOnDrop owns the live value, dropped once, here.
        unsafe { ptr::drop_in_place(free.0.as_ptr()) };
    }
}

/// The output of a task spawned with [`Executor::spawn`]: a future that
/// resolves to the task's output, or to an error if the task panicked
/// ([`Error::Panicked`]) or was dropped unfinished because its executor was
/// dropped ([`Error::Shutdown`]).
///
/// Dropping a `JoinHandle` detaches the task: it still runs to completion.
#[must_use = "dropping a JoinHandle detaches the task"]
pub struct JoinHandle<T> {
    /// The HANDLE reference to the task's cell.
    header: NonNull<Header>,
    /// The output's place in the cell (its offset depends on the future's
    /// alignment, which the handle does not know).
    output: NonNull<Output<T>>,
    /// `free_cell` of the cell's future type: kept here, not in the cell,
    /// so that the heap pays nothing for it.
    free: unsafe fn(NonNull<Header>) -> Leftovers<T>,
    /// Owns a T (the output it may drop).
    _output: PhantomData<T>,
}

// SAFETY: the handle touches the cell only through its atomic state word,
// the waker slot and the output as that word hands them over; the output
// and the awaiting task's waker cross threads, hence T: Send (Waker is
// Send).
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; &JoinHandle only reads the state word.
unsafe impl<T: Send> Sync for JoinHandle<T> {}
// Unwind safety as when the handle's state sat behind a Mutex: a panic
// leaves the cell consistent (each change is one atomic step, and user code
// runs before or after those), so only the output's own counts.
impl<T: std::panic::UnwindSafe> std::panic::UnwindSafe for JoinHandle<T> {}
impl<T: std::panic::RefUnwindSafe> std::panic::RefUnwindSafe for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: our reference keeps the cell alive.
        unsafe { self.header.as_ref() }
    }

    /// Whether the task has finished (completed, panicked or been dropped).
    pub fn is_finished(&self) -> bool {
        self.header().state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// The output, once the state word (read with Acquire) has COMPLETE.
    fn take_output(&self, state: usize) -> Result<T, Error> {
        if state & TAKEN != 0 {
            // Polled again after it returned the output.
            return Err(Error::State);
        }
        // Relaxed: only this handle touches TAKEN once COMPLETE is set, and
        // the task's reference bit may change meanwhile (hence an RMW).
        self.header().state.fetch_or(TAKEN, Ordering::Relaxed);
        // SAFETY: COMPLETE seen with Acquire and TAKEN not yet set: the stage
        // holds the output, which nobody else touches any more.
        let output = unsafe { std::ptr::read(self.output.as_ptr()) };
        output.map_err(|error| *error)
    }
}

impl<T> Drop for JoinHandle<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: our reference, not used again unless it was the last.
        if unsafe { release(self.header(), HANDLE) } {
            self.free();
        }
    }
}

impl<T> JoinHandle<T> {
    /// Free the cell, the handle holding its last reference.
    #[cold]
    #[inline(never)]
    fn free(&mut self) {
        // SAFETY: the last reference; the task's drop function has run, so
        // the stage holds no future.
        drop(unsafe { (self.free)(self.header) });
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.header();
        let mut state = header.state.load(Ordering::Acquire);
        if state & COMPLETE != 0 {
            return Poll::Ready(self.take_output(state));
        }
        if state & WAKER != 0 {
            // SAFETY: WAKER is set: the slot exists, and the task side may
            // read it, never change it.
            let same = slot_of(state).map_or(false, |slot| unsafe {
                (*(*slot.as_ptr()).waker.get()).will_wake(cx.waker())
            });
            if same {
                return Poll::Pending;
            }
            // Take the slot back to replace its waker.
            loop {
                match header.state.compare_exchange_weak(
                    state,
                    state & !WAKER,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(now) if now & COMPLETE != 0 => {
                        return Poll::Ready(self.take_output(now));
                    }
                    Err(now) => state = now,
                }
            }
            state &= !WAKER;
        }
        // WAKER is clear: the slot, if there is one yet, is ours. Cloning
        // (user code) before any change leaves the cell consistent if it
        // panics.
        let waker = cx.waker().clone();
        let (slot, old) = match slot_of(state) {
            Some(slot) => {
                // SAFETY: as just said.
                let old = unsafe { std::mem::replace(&mut *(*slot.as_ptr()).waker.get(), waker) };
                (slot, Some(old))
            }
            None => {
                let slot = pool::alloc::<WakerSlot>();
                // SAFETY: fresh memory for one slot.
                unsafe {
                    slot.as_ptr().write(WakerSlot {
                        waker: UnsafeCell::new(waker),
                    })
                };
                (slot, None)
            }
        };
        // A new slot's address goes into the word with WAKER.
        let set = match old {
            None => WAKER | slot.as_ptr() as usize,
            Some(_) => WAKER,
        };
        debug_assert_eq!(set & FLAGS, WAKER, "a misaligned waker slot");
        // Release: the task that sees WAKER sees the slot and its waker.
        let outcome = loop {
            if state & COMPLETE != 0 {
                // Finished meanwhile: the output is ready. A slot in the
                // word stays there (it goes with the cell).
                break Poll::Ready(());
            }
            match header.state.compare_exchange_weak(
                state,
                state | set,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break Poll::Pending,
                Err(now) => state = now,
            }
        };
        // The replaced waker (user code) goes once the cell is consistent.
        drop(old);
        match outcome {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                if slot_of(state).is_none() {
                    // The new slot never made it into the word: still ours.
                    // SAFETY: written above, shared with nobody.
                    drop(unsafe { take_slot(slot) });
                }
                Poll::Ready(self.take_output(state))
            }
        }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
// ---------------------------------------------------------------------------
// Executor
// ---------------------------------------------------------------------------

/// libtimefuture's task executor, running Rust futures as its C tasks.
///
/// With `threads > 0` worker threads poll the tasks in parallel; with 0 the
/// tasks run only while a thread calls [`run`](Executor::run),
/// [`run_ready`](Executor::run_ready) or [`block_on`](Executor::block_on).
/// Futures see the task's C waker as an ordinary [`Waker`].
///
/// Dropping the executor stops and joins its workers, then drops every
/// unfinished task's future; their [`JoinHandle`]s resolve to
/// [`Error::Shutdown`].
///
/// ```
/// # fn main() -> Result<(), timefuture::Error> {
/// let executor = timefuture::Executor::new(2)?;
/// let task = executor.spawn(async { 6 * 7 })?;
/// assert_eq!(executor.block_on(task)??, 42);
/// # Ok(())
/// # }
/// ```
///
/// Only `Send` futures can be spawned, since any worker may poll them:
///
/// ```compile_fail
/// let executor = timefuture::Executor::new(1).unwrap();
/// let shared = std::rc::Rc::new(1);
/// executor.spawn(async move { *shared });
/// ```
pub struct Executor {
    raw: NonNull<sys::tf_executor>,
    threads: u32,
}

// SAFETY: tf_executor_spawn/run/run_ready/count/fd may be called from any
// thread, concurrently; tf_executor_free, the only call that needs
// exclusive use, happens in Drop.
unsafe impl Send for Executor {}
// SAFETY: as above: every &self method is a thread-safe C call.
unsafe impl Sync for Executor {}

impl Executor {
    /// Create an executor with `threads` worker threads (at most 1024; 0
    /// means the calling threads poll the tasks).
    ///
    /// # Errors
    /// [`Error::Invalid`] for more than 1024 threads; [`Error::NoMemory`];
    /// [`Error::Thread`] if a worker could not be started.
    pub fn new(threads: u32) -> Result<Executor, Error> {
        let mut out = std::ptr::null_mut();
        // SAFETY: out is a valid place for the result.
        check(unsafe { sys::tf_executor_new(threads, &mut out) })?;
        let raw = NonNull::new(out).expect("tf_executor_new succeeded without an executor");
        Ok(Executor { raw, threads })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> u32 {
        self.threads
    }

    /// Spawn `future` as a new task, scheduled at once.
    ///
    /// # Errors
    /// [`Error::NoMemory`] or [`Error::Shutdown`]; the future is dropped.
    // Always inlined: the handle then stays in registers, and a handle
    // dropped at once costs its release alone (returned through memory, the
    // result cost about an eighth of a task's time in bench_rust.sh).
    #[inline(always)]
    pub fn spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let cell = pool::alloc::<TaskCell<F>>().as_ptr();
        // SAFETY: fresh memory for one cell.
        unsafe {
            cell.write(TaskCell {
                header: Header {
                    state: AtomicUsize::new(TASK | HANDLE),
                },
                stage: UnsafeCell::new(Stage {
                    future: ManuallyDrop::new(future),
                }),
            })
        };
        // SAFETY: poll_task/drop_task match TaskCell<F>; on success the
        // task holds the cell's TASK reference.
        let status = unsafe {
            sys::tf_executor_spawn(
                self.raw.as_ptr(),
                poll_task::<F>,
                Some(drop_task::<F>),
                cell as *mut c_void,
            )
        };
        if status < 0 {
            // SAFETY: the cell was not handed over.
            return Err(unsafe { spawn_failed(cell, status) });
        }
        // SAFETY: pool::alloc never returns null; the header is the first
        // field of the repr(C) cell, and the stage a field of it.
        let (header, stage) = unsafe {
            (
                NonNull::new_unchecked(cell as *mut Header),
                NonNull::new_unchecked((*cell).stage.get()),
            )
        };
        Ok(JoinHandle {
            header,
            // A union's fields all start at its address (repr(C)).
            output: stage.cast::<Output<F::Output>>(),
            free: free_cell::<F>,
            _output: PhantomData,
        })
    }

    /// Spawn `future` as a new task without a [`JoinHandle`]: its output is
    /// dropped, and a panic ends the task (the panic hook reports it).
    ///
    /// Cheaper than [`spawn`](Executor::spawn) with the handle dropped: the
    /// task's Rust state is the future alone (no allocation at all for a
    /// zero-sized future).
    ///
    /// ```
    /// # fn main() -> Result<(), timefuture::Error> {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// let executor = timefuture::Executor::new(0)?;
    /// let done = Arc::new(AtomicU32::new(0));
    /// for _ in 0..3 {
    ///     let done = Arc::clone(&done);
    ///     executor.spawn_detached(async move {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///     })?;
    /// }
    /// executor.run()?;
    /// assert_eq!(done.load(Ordering::Relaxed), 3);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::NoMemory`] or [`Error::Shutdown`]; the future is dropped.
    // Always inlined, as spawn.
    #[inline(always)]
    pub fn spawn_detached<F>(&self, future: F) -> Result<(), Error>
    where
        F: Future + Send + 'static,
    {
        let state = pool::alloc::<F>();
        // SAFETY: fresh memory for one F.
        unsafe { state.as_ptr().write(future) };
        let state = state.as_ptr();
        // SAFETY: poll_detached/drop_detached match F; on success the task
        // owns it.
        let status = unsafe {
            sys::tf_executor_spawn(
                self.raw.as_ptr(),
                poll_detached::<F>,
                Some(drop_detached::<F>),
                state as *mut c_void,
            )
        };
        if status < 0 {
            // SAFETY: not handed over: still ours alone, and never polled.
            return Err(unsafe { spawn_detached_failed(state, status) });
        }
        Ok(())
    }

    /// Poll tasks on the calling thread until none is left (with workers,
    /// help them), blocking while tasks wait for wakes.
    ///
    /// # Errors
    /// [`Error::Busy`] if called from inside one of this executor's tasks;
    /// [`Error::Fork`] in a child process.
    pub fn run(&self) -> Result<(), Error> {
        // SAFETY: self.raw is a live executor.
        check(unsafe { sys::tf_executor_run(self.raw.as_ptr()) }).map(drop)
    }

    /// Poll the tasks that are ready now, without waiting; returns the
    /// number of polls made.
    ///
    /// # Errors
    /// As [`run`](Executor::run).
    pub fn run_ready(&self) -> Result<u64, Error> {
        let mut polled = 0;
        // SAFETY: self.raw is a live executor; polled is a valid place.
        check(unsafe { sys::tf_executor_run_ready(self.raw.as_ptr(), &mut polled) })?;
        Ok(polled)
    }

    /// `tf_executor_drain` for an executor whose tasks are all C tasks (the
    /// crate spawns no external ones): poll the ready tasks and re-arm the
    /// eventfd. True if work remains (the fd stays readable).
    fn drain(&self) -> Result<bool, Error> {
        let mut taken = 0;
        // SAFETY: self.raw is live; with capacity 0 the library writes
        // neither tags nor wakers, only `taken`.
        let status = unsafe {
            sys::tf_executor_drain(
                self.raw.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
                &mut taken,
            )
        };
        let more = check(status)? == 1;
        debug_assert_eq!(taken, 0, "an external task was taken");
        Ok(more)
    }

    /// The number of unfinished tasks (it may change at once).
    ///
    /// # Errors
    /// Only if the library rejects the handle, which would be a bug.
    pub fn task_count(&self) -> Result<u64, Error> {
        let mut tasks = 0;
        // SAFETY: self.raw is a live executor; tasks is a valid place.
        check(unsafe {
            sys::tf_executor_count(self.raw.as_ptr(), &mut tasks, std::ptr::null_mut())
        })?;
        Ok(tasks)
    }

    /// Run `future` to completion on the calling thread while the executor
    /// runs its tasks, and return its output.
    ///
    /// `future` itself is polled on this thread (it needs no `Send`); with
    /// worker threads the spawned tasks run on them, and with none this
    /// thread polls them in between.
    ///
    /// Like any blocking call it should not be made from inside a task: it
    /// would hold up the worker thread that polls the task, and with no
    /// worker threads it fails with [`Error::Busy`].
    ///
    /// # Errors
    /// [`Error::NoMemory`] if the library could not make a waker; with no
    /// worker threads, the errors of [`run_ready`](Executor::run_ready)
    /// ([`Error::Busy`] from inside one of this executor's tasks) and
    /// [`Error::System`] if waiting failed. A panic of `future` propagates
    /// to the caller.
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        if self.threads > 0 {
            return block_on(future);
        }
        self.drive(future)
    }

    /// `block_on` for an executor without workers: alternate between the
    /// future and the ready tasks, sleeping in poll(2) on the executor's
    /// eventfd and on a socket pair that the future's waker writes to.
    fn drive<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        let mut executor_fd: c_int = -1;
        // SAFETY: self.raw is live; the descriptor stays owned by it.
        check(unsafe { sys::tf_executor_fd(self.raw.as_ptr(), &mut executor_fd) })?;
        let (receiver, sender) = UnixStream::pair().map_err(|_| Error::System)?;
        receiver.set_nonblocking(true).map_err(|_| Error::System)?;
        sender.set_nonblocking(true).map_err(|_| Error::System)?;
        let signal = Arc::new(FdSignal {
            woken: AtomicBool::new(true),
            sender,
        });
        let waker = Waker::from(Arc::clone(&signal));
        let mut cx = Context::from_waker(&waker);
        let mut future = future;
        // SAFETY: the future is shadowed and never moved again (stack
        // pinning; std's pin! macro is newer than Rust 1.63).
        let mut future = unsafe { Pin::new_unchecked(&mut future) };
        loop {
            if signal.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return Ok(output);
                }
            }
            // Polls the ready tasks and re-arms the eventfd so that it is
            // readable exactly when work remains: a task woken from another
            // thread after this makes it readable, so poll(2) below cannot
            // sleep through the wake (as a hand-written run_ready loop
            // could).
            if self.drain()? {
                continue;
            }
            if signal.woken.load(Ordering::Acquire) {
                continue;
            }
            // Nothing ready: sleep until a task or the future is woken.
            let mut fds = [
                PollFd {
                    fd: executor_fd,
                    events: POLLIN,
                    revents: 0,
                },
                PollFd {
                    fd: receiver.as_raw_fd(),
                    events: POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: fds is a valid array of two pollfd structs.
            let ready = unsafe { poll(fds.as_mut_ptr(), fds.len() as NfdsT, -1) };
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(Error::System);
                }
            }
            // Empty the socket; `woken` says whether to poll the future.
            let mut buffer = [0u8; 64];
            while matches!((&receiver).read(&mut buffer), Ok(n) if n > 0) {}
        }
    }
}

/// Undo a spawn that the library refused: free the cell, drop the future
/// (last), and return the error.
///
/// # Safety
/// `cell` is a written cell from `pool::alloc`, not handed over (so still
/// ours alone), and `status` negative. Its future was never polled (so
/// never pinned) and its header holds no waker slot.
#[cold]
#[inline(never)]
unsafe fn spawn_failed<F: Future>(cell: *mut TaskCell<F>, status: c_int) -> Error {
    // SAFETY: as the caller promises: the future moves out before the
    // memory goes back.
    let future = unsafe {
        let future = ManuallyDrop::take(&mut (*(*cell).stage.get()).future);
        pool::free(NonNull::new_unchecked(cell));
        future
    };
    drop(future);
    Error::from_code(status)
}

/// Undo a detached spawn that the library refused: drop the future, free
/// its memory and return the error.
///
/// # Safety
/// `state` holds a future from `pool::alloc`, not handed over (so still
/// ours alone) and never polled; `status` is negative.
#[cold]
#[inline(never)]
unsafe fn spawn_detached_failed<F>(state: *mut F, status: c_int) -> Error {
    // SAFETY: as the caller promises.
    drop(FreeOnDrop(unsafe { NonNull::new_unchecked(state) }));
    Error::from_code(status)
}

impl Drop for Executor {
    fn drop(&mut self) {
        // SAFETY: we own the executor; nothing else uses it after this.
        let status = unsafe { sys::tf_executor_free(self.raw.as_ptr()) };
        if status == sys::TF_EBUSY {
            // The last handle was dropped inside one of its own tasks on a
            // worker thread (a caller inside run() would still hold a
            // handle). Nobody else can use it now, so free it from a thread
            // that can join the workers.
            let raw = SendPtr(self.raw);
            let spawned = std::thread::Builder::new()
                .name("timefuture-free".into())
                .spawn(move || {
                    let raw = raw;
                    // SAFETY: as above; this thread is not a worker.
                    unsafe { sys::tf_executor_free(raw.0.as_ptr()) };
                });
            // Without a thread the executor can only be leaked.
            drop(spawned);
        } else {
            debug_assert_eq!(status, sys::TF_OK, "tf_executor_free failed");
        }
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("threads", &self.threads)
            .finish()
    }
}

/// An executor pointer moved to the thread that frees it.
struct SendPtr(NonNull<sys::tf_executor>);
// SAFETY: tf_executor_free may run on any thread that is not a worker.
unsafe impl Send for SendPtr {}

/// The waker of a future driven by `Executor::drive`.
struct FdSignal {
    woken: AtomicBool,
    sender: UnixStream,
}

impl Wake for FdSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            // A full socket already holds a byte that will wake the loop.
            let _ = (&self.sender).write(&[1]);
        }
    }
}

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

type NfdsT = std::os::raw::c_ulong;
const POLLIN: i16 = 0x1;

extern "C" {
    // poll(2) from the C library std already links; declared here because
    // the crate has no dependencies.
    fn poll(fds: *mut PollFd, nfds: NfdsT, timeout: c_int) -> c_int;
}

// ---------------------------------------------------------------------------
// block_on through tf_block_on
// ---------------------------------------------------------------------------

struct BlockOn<'a, T> {
    future: Pin<&'a mut dyn Future<Output = T>>,
    output: Option<T>,
    panic: Option<Box<dyn Any + Send>>,
}

/// `tf_poll_fn` of the future given to [`block_on`].
unsafe extern "C" fn poll_block_on<T>(state: *mut c_void, waker: *const sys::tf_waker) -> c_int {
    // SAFETY: state is the BlockOn on block_on's stack, alive for the call
    // of tf_block_on that polls us.
    let state = unsafe { &mut *(state as *mut BlockOn<'_, T>) };
    // SAFETY: the waker is lent for the duration of this call.
    let waker = unsafe { BorrowedWaker::new(waker) };
    let mut cx = Context::from_waker(&waker);
    match catch_unwind(AssertUnwindSafe(|| state.future.as_mut().poll(&mut cx))) {
        Ok(Poll::Pending) => sys::TF_PENDING,
        Ok(Poll::Ready(output)) => {
            state.output = Some(output);
            sys::TF_READY
        }
        Err(payload) => {
            // Carried past C and resumed on the Rust side.
            state.panic = Some(payload);
            sys::TF_READY
        }
    }
}

/// Run `future` to completion on the calling thread (through the library's
/// `tf_block_on`, which parks the thread between polls) and return its
/// output. Works for any future, including those that are not `Send`.
///
/// A panic of `future` propagates to the caller.
///
/// ```
/// # fn main() -> Result<(), timefuture::Error> {
/// let value = timefuture::block_on(async { 1 + 1 })?;
/// assert_eq!(value, 2);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::NoMemory`] if the library could not allocate its waker.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Error> {
    let mut future = future;
    // SAFETY: the future is shadowed and never moved again (stack pinning).
    let future = unsafe { Pin::new_unchecked(&mut future) };
    let mut state = BlockOn {
        future,
        output: None,
        panic: None,
    };
    // SAFETY: poll_block_on matches BlockOn<F::Output>; state outlives the
    // call, which polls only on this thread.
    let status = unsafe {
        sys::tf_block_on(
            poll_block_on::<F::Output>,
            &mut state as *mut BlockOn<'_, F::Output> as *mut c_void,
        )
    };
    if let Some(payload) = state.panic.take() {
        resume_unwind(payload);
    }
    check(status)?;
    state.output.take().ok_or(Error::State)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-byte future with no output, as the bench's.
    struct Small(#[allow(dead_code)] bool);

    impl Future for Small {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }

    #[test]
    fn a_small_task_s_cell_is_two_words() {
        // The state word alone, then the stage (the future, or the output
        // with its boxed error): a slot of the pool's 16-byte class.
        assert_eq!(std::mem::size_of::<Header>(), 8);
        assert_eq!(std::mem::size_of::<TaskCell<Small>>(), 16);
        // The waker slot's address leaves the flag bits clear.
        assert_eq!(std::mem::align_of::<WakerSlot>(), FLAGS + 1);
        let slot = pool::alloc::<WakerSlot>();
        assert_eq!(slot.as_ptr() as usize & FLAGS, 0);
        assert_eq!(slot_of(slot.as_ptr() as usize | WAKER | TASK), Some(slot));
        assert_eq!(slot_of(TASK | HANDLE | COMPLETE | WAKER | TAKEN), None);
        // SAFETY: from pool::alloc, never written.
        unsafe { pool::free(slot) };
    }
}
