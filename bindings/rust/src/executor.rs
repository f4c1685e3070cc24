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
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use crate::error::{check, Error};
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

struct JoinState<T> {
    /// The task's output (an error boxed: rare, and it keeps the cell
    /// small), until the JoinHandle takes it.
    result: Option<Result<T, Box<Error>>>,
    /// The task has finished (even if the result was taken since).
    finished: bool,
    /// The task awaiting the JoinHandle.
    waker: Option<Waker>,
}

/// The part of a task cell that its [`JoinHandle`] knows: it depends only on
/// the output type, not on the future's.
#[repr(C)]
struct Header<T> {
    /// Holders of the cell: the task until its drop function has run, and
    /// the JoinHandle until it is dropped. Starts at 2; once it is 1 nothing
    /// can raise it again (JoinHandle is not Clone).
    refs: AtomicUsize,
    /// Frees the whole cell, whose future has already been dropped.
    free: unsafe fn(NonNull<Header<T>>),
    /// Touched only while the JoinHandle lives: a detached task never locks.
    join: Mutex<JoinState<T>>,
}

impl<T> Header<T> {
    fn lock(&self) -> MutexGuard<'_, JoinState<T>> {
        // Nothing panics while the lock is held; tolerate poison anyway.
        self.join
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Store the outcome (first one wins) and wake the awaiting task.
    fn finish(&self, result: Result<T, Error>) {
        let waker = {
            let mut state = self.lock();
            if state.finished {
                return;
            }
            state.finished = true;
            state.result = Some(result.map_err(Box::new));
            state.waker.take()
        };
        // Woken outside the lock: the waker may run arbitrary code.
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the other holder of the cell has let go of it.
    #[inline]
    fn alone(&self) -> bool {
        // Acquire: pairs with the other holder's Release in `release`, so
        // its last uses of the cell happen before ours.
        self.refs.load(Ordering::Acquire) == 1
    }

    /// Let go of one reference; the last one frees the cell.
    ///
    /// # Safety
    /// `header` is the header of a live cell and the caller holds one of its
    /// references, which it never uses again.
    #[inline]
    unsafe fn release(header: NonNull<Header<T>>) {
        // SAFETY: the caller's reference keeps the cell alive until here.
        let this = unsafe { header.as_ref() };
        // Alone: no atomic read-modify-write needed (the common case for a
        // task whose JoinHandle was dropped at once).
        if this.alone() || this.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: that was the last reference; free matches the cell.
            unsafe { (this.free)(header) };
        }
    }
}

/// A spawned future and its JoinHandle's state. The header comes first
/// (repr(C)), so a pointer to the cell is a pointer to its header.
#[repr(C)]
struct TaskCell<F: Future> {
    header: Header<F::Output>,
    /// Used only by poll_task and drop_task, which the library never runs
    /// concurrently for one task; dropped by drop_task, never by `free`.
    future: UnsafeCell<ManuallyDrop<F>>,
}

/// `Header::free` of a `TaskCell<F>`.
unsafe fn free_cell<F: Future>(header: NonNull<Header<F::Output>>) {
    // SAFETY: the header is the first field of a Box<TaskCell<F>> that
    // nobody else refers to any more; the future is ManuallyDrop (already
    // dropped), so this drops only the JoinHandle's state.
    drop(unsafe { Box::from_raw(header.as_ptr() as *mut TaskCell<F>) });
}

/// `tf_poll_fn` of a future spawned with a JoinHandle.
unsafe extern "C" fn poll_task<F: Future>(
    state: *mut c_void,
    waker: *const sys::tf_waker,
) -> c_int {
    // SAFETY: state is the TaskCell<F> given to tf_executor_spawn, alive
    // until drop_task; the library polls a task on one thread at a time and
    // never after its drop function ran, so this is the only access to the
    // future (the JoinHandle side never touches it).
    let cell = unsafe { &*(state as *const TaskCell<F>) };
    // SAFETY: as above; the cell is never moved, so the future is pinned.
    let future = unsafe { Pin::new_unchecked(&mut **cell.future.get()) };
    let result = match poll_lent(future, waker) {
        Poll::Pending => return sys::TF_PENDING,
        Poll::Ready(result) => result,
    };
    if cell.header.alone() {
        // Detached: nobody will read the outcome.
        drop_quietly(result);
    } else {
        // The JoinHandle's waker is user code: it must not unwind into C.
        abort_on_panic("waking a JoinHandle", || cell.header.finish(result));
    }
    sys::TF_READY
}

/// `tf_drop_fn` of a future spawned with a JoinHandle: runs when the task
/// completed, or when its executor is freed with the task unfinished.
unsafe extern "C" fn drop_task<F: Future>(state: *mut c_void) {
    let cell = state as *mut TaskCell<F>;
    // SAFETY: the library calls this exactly once, after the last poll:
    // the future is ours to drop, and the cell is alive (our reference).
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
        ManuallyDrop::drop(&mut *(*cell).future.get())
    }));
    // SAFETY: as above.
    let header = unsafe { &(*cell).header };
    if !header.alone() {
        // A no-op if the task finished; otherwise its executor is going
        // away.
        let outcome = match dropped {
            Ok(()) => Err(Error::Shutdown),
            Err(payload) => Err(Error::Panicked(take_message(payload))),
        };
        abort_on_panic("waking a JoinHandle", || header.finish(outcome));
    } else if let Err(payload) = dropped {
        drop_payload(payload);
    }
    // Freeing may drop an output nobody took: user code, called from C.
    // SAFETY: the task's reference, never used again.
    abort_on_panic("dropping a task's output", || unsafe {
        Header::release(NonNull::new_unchecked(cell as *mut Header<F::Output>))
    });
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
/// state is a `Box<F>` and nothing else.
unsafe extern "C" fn poll_detached<F: Future>(
    state: *mut c_void,
    waker: *const sys::tf_waker,
) -> c_int {
    // SAFETY: state is the Box<F> given to tf_executor_spawn, polled on one
    // thread at a time and never after drop_detached; the box never moves.
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
    // SAFETY: state is the Box<F>; the library calls this exactly once.
    drop_quietly(unsafe { Box::from_raw(state as *mut F) });
}

/// The output of a task spawned with [`Executor::spawn`]: a future that
/// resolves to the task's output, or to an error if the task panicked
/// ([`Error::Panicked`]) or was dropped unfinished because its executor was
/// dropped ([`Error::Shutdown`]).
///
/// Dropping a `JoinHandle` detaches the task: it still runs to completion.
#[must_use = "dropping a JoinHandle detaches the task"]
pub struct JoinHandle<T> {
    /// One reference to the task's cell.
    header: NonNull<Header<T>>,
    /// Owns a T (the output it may drop).
    _output: PhantomData<T>,
}

// SAFETY: the handle touches only the header: the reference count is
// atomic and the rest sits behind a Mutex, as in an Arc<Mutex<..>>; the
// output crosses threads, hence T: Send.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above; &JoinHandle only locks the Mutex.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    #[inline]
    fn header(&self) -> &Header<T> {
        // SAFETY: our reference keeps the cell alive.
        unsafe { self.header.as_ref() }
    }

    /// Whether the task has finished (completed, panicked or been dropped).
    pub fn is_finished(&self) -> bool {
        self.header().lock().finished
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: our reference, never used again.
        unsafe { Header::release(self.header) };
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.header().lock();
        if let Some(result) = state.result.take() {
            return Poll::Ready(result.map_err(|error| *error));
        }
        if state.finished {
            // Polled again after it returned the output.
            return Poll::Ready(Err(Error::State));
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
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
    pub fn spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let cell = Box::into_raw(Box::new(TaskCell {
            header: Header {
                refs: AtomicUsize::new(2),
                free: free_cell::<F>,
                join: Mutex::new(JoinState {
                    result: None,
                    finished: false,
                    waker: None,
                }),
            },
            future: UnsafeCell::new(ManuallyDrop::new(future)),
        }));
        // SAFETY: poll_task/drop_task match TaskCell<F>; on success the
        // task holds one of the cell's two references.
        let status = unsafe {
            sys::tf_executor_spawn(
                self.raw.as_ptr(),
                poll_task::<F>,
                Some(drop_task::<F>),
                cell as *mut c_void,
            )
        };
        if let Err(error) = check(status) {
            // On failure the cell is still only ours.
            // SAFETY: the box was not handed over; the future is dropped
            // here since free_cell leaves it alone.
            unsafe {
                ManuallyDrop::drop(&mut *(*cell).future.get());
                drop(Box::from_raw(cell));
            }
            return Err(error);
        }
        Ok(JoinHandle {
            // SAFETY: Box::into_raw is never null; the header is the first
            // field of the repr(C) cell.
            header: unsafe { NonNull::new_unchecked(cell as *mut Header<F::Output>) },
            _output: PhantomData,
        })
    }

    /// Spawn `future` as a new task without a [`JoinHandle`]: its output is
    /// dropped, and a panic ends the task (the panic hook reports it).
    ///
    /// Cheaper than [`spawn`](Executor::spawn) with the handle dropped: the
    /// task's Rust state is the boxed future alone (no allocation at all for
    /// a zero-sized future).
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
    pub fn spawn_detached<F>(&self, future: F) -> Result<(), Error>
    where
        F: Future + Send + 'static,
    {
        let state = Box::into_raw(Box::new(future));
        // SAFETY: poll_detached/drop_detached match Box<F>; on success the
        // task owns the box.
        let status = unsafe {
            sys::tf_executor_spawn(
                self.raw.as_ptr(),
                poll_detached::<F>,
                Some(drop_detached::<F>),
                state as *mut c_void,
            )
        };
        if let Err(error) = check(status) {
            // SAFETY: the box was not handed over.
            drop(unsafe { Box::from_raw(state) });
            return Err(error);
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
