// SPDX-License-Identifier: MIT
//! Helpers shared by the integration tests: a minimal hand-written executor
//! (the async book's design, with no knowledge of libtimefuture) and a
//! waker that counts its wakes.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

struct MiniTask {
    future: Mutex<Option<BoxFuture>>,
    /// In a Mutex: Sender is Sync (as Wake needs) only since Rust 1.72.
    queue: Mutex<Sender<Arc<MiniTask>>>,
}

impl Wake for MiniTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // The executor may be gone (the run loop finished); then the wake is
        // moot.
        let _ = self.queue.lock().unwrap().send(Arc::clone(self));
    }
}

/// A single-threaded executor over a channel of tasks, as in the async
/// book: `run` polls woken tasks until every task and waker is gone.
pub struct MiniExecutor {
    queue: Receiver<Arc<MiniTask>>,
    sender: Sender<Arc<MiniTask>>,
}

impl MiniExecutor {
    pub fn new() -> Self {
        let (sender, queue) = channel();
        MiniExecutor { queue, sender }
    }

    pub fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        let task = Arc::new(MiniTask {
            future: Mutex::new(Some(Box::pin(future))),
            queue: Mutex::new(self.sender.clone()),
        });
        self.sender.send(task).expect("queue is open");
    }

    /// Poll tasks until none is left; returns the number of polls.
    pub fn run(self) -> u64 {
        let MiniExecutor { queue, sender } = self;
        drop(sender);
        let mut polls = 0;
        while let Ok(task) = queue.recv() {
            let mut slot = task.future.lock().unwrap();
            if let Some(mut future) = slot.take() {
                let waker = Waker::from(Arc::clone(&task));
                let mut cx = Context::from_waker(&waker);
                polls += 1;
                if future.as_mut().poll(&mut cx).is_pending() {
                    *slot = Some(future);
                }
            }
        }
        polls
    }
}

/// A waker that counts its wakes and lets a test wait for them.
pub struct Counter {
    wakes: Mutex<usize>,
    changed: Condvar,
}

impl Counter {
    pub fn new() -> Arc<Counter> {
        Arc::new(Counter {
            wakes: Mutex::new(0),
            changed: Condvar::new(),
        })
    }

    pub fn wakes(&self) -> usize {
        *self.wakes.lock().unwrap()
    }

    /// Wait until at least `n` wakes arrived. The limit only keeps a broken
    /// build from hanging the test run; it is far above any expected delay.
    pub fn wait_for(&self, n: usize) -> usize {
        let guard = self.wakes.lock().unwrap();
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, Duration::from_secs(30), |wakes| *wakes < n)
            .unwrap();
        *guard
    }
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        *self.wakes.lock().unwrap() += 1;
        self.changed.notify_all();
    }
}

/// Wait until `condition` holds, for things another thread finishes a
/// moment after the event the test saw (e.g. the timer driver letting go of
/// a waker after waking it). The limit only keeps a broken build from
/// hanging the test run; it is far above any expected delay.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gave up after 30 s waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Poll `future` once with `waker`.
pub fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// A waker that counts how often it is cloned (it does nothing when woken).
// As in the crate: every unsafe operation in its own unsafe block.
#[deny(unsafe_op_in_unsafe_fn)]
pub fn clone_counting_waker() -> (Waker, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{RawWaker, RawWakerVTable};

    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: data is an Arc<AtomicUsize> reference held by the waker.
        unsafe {
            (*(data as *const AtomicUsize)).fetch_add(1, Ordering::SeqCst);
            Arc::increment_strong_count(data as *const AtomicUsize);
        }
        RawWaker::new(data, &VTABLE)
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: the waker hands over its reference.
        drop(unsafe { Arc::from_raw(data as *const AtomicUsize) });
    }
    unsafe fn wake_by_ref(_: *const ()) {}
    unsafe fn drop_waker(data: *const ()) {
        // SAFETY: the waker hands over its reference.
        drop(unsafe { Arc::from_raw(data as *const AtomicUsize) });
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

    let clones = Arc::new(AtomicUsize::new(0));
    let data = Arc::into_raw(Arc::clone(&clones)) as *const ();
    // SAFETY: the vtable's contract holds for an Arc<AtomicUsize> reference.
    let waker = unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) };
    (waker, clones)
}

/// A future made of a poll closure: `std::future::poll_fn`, which is newer
/// than Rust 1.63.
pub fn poll_fn<T, F: FnMut(&mut Context<'_>) -> Poll<T> + Unpin>(f: F) -> PollFn<F> {
    PollFn(f)
}

/// The future returned by [`poll_fn`].
pub struct PollFn<F>(F);

impl<T, F: FnMut(&mut Context<'_>) -> Poll<T> + Unpin> Future for PollFn<F> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        (self.get_mut().0)(cx)
    }
}
