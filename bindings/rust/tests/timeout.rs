// SPDX-License-Identifier: MIT
//! timeout/timeout_at: the inner future is polled first (ready in the same
//! poll as the deadline passes is Ok), Elapsed once the deadline passes,
//! the inner future dropped exactly once in every outcome, and Elapsed as
//! an error type. Deterministic on a manual-clock driver, plus the default
//! driver's real clock.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{poll_fn, poll_once};
use timefuture::{Driver, Elapsed, Error};

const MS: u64 = 1_000_000;

/// A future that is pending `pending` times and then ready with 42 (or
/// never ready for `usize::MAX`), and counts its polls and drops.
struct Probe {
    pending: usize,
    polls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

impl Probe {
    fn new(pending: usize) -> (Probe, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let polls = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let probe = Probe {
            pending,
            polls: Arc::clone(&polls),
            drops: Arc::clone(&drops),
        };
        (probe, polls, drops)
    }
}

impl Future for Probe {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.pending == 0 {
            Poll::Ready(42)
        } else {
            if self.pending != usize::MAX {
                self.pending -= 1;
            }
            Poll::Pending
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn noop() -> std::task::Waker {
    common::clone_counting_waker().0
}

#[test]
fn the_inner_future_is_polled_first_so_a_ready_one_is_never_elapsed() {
    let driver = Driver::manual(0).expect("driver");
    let waker = noop();
    // Pending once, then ready: the deadline passes between the polls.
    let (probe, polls, drops) = Probe::new(1);
    let mut timeout = driver.timeout(Duration::from_millis(5), probe);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Pending);
    driver.advance(10 * MS).expect("advance");
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Ready(Ok(42)));
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    drop(timeout);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // A zero timeout with a ready future, on both drivers.
    let (probe, _, _) = Probe::new(0);
    let mut timeout = driver.timeout(Duration::ZERO, probe);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Ready(Ok(42)));
    let (probe, _, _) = Probe::new(0);
    let mut timeout = timefuture::timeout(Duration::ZERO, probe);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Ready(Ok(42)));
    // A deadline long past.
    let (probe, _, _) = Probe::new(0);
    let past = Instant::now() - Duration::from_millis(1);
    let mut timeout = timefuture::timeout_at(past, probe);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Ready(Ok(42)));
}

#[test]
fn completing_at_the_very_deadline_is_ok() {
    // The inner future is a timer due at the same instant as the deadline.
    let driver = Driver::manual(0).expect("driver");
    let waker = noop();
    let inner = driver.sleep(Duration::from_millis(5));
    let mut timeout = driver.timeout_at(5 * MS, inner);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Pending);
    driver.advance(5 * MS).expect("advance");
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Ready(Ok(Ok(()))));
}

#[test]
fn elapsed_when_the_deadline_passes_never_before() {
    let driver = Driver::manual(0).expect("driver");
    let (counter_waker, wakes) = {
        let counter = common::Counter::new();
        (std::task::Waker::from(Arc::clone(&counter)), counter)
    };
    let (probe, polls, drops) = Probe::new(usize::MAX);
    let mut timeout = driver.timeout(Duration::from_millis(5), probe);
    assert_eq!(poll_once(&mut timeout, &counter_waker), Poll::Pending);
    driver.advance(5 * MS - 1).expect("advance");
    assert_eq!(wakes.wakes(), 0, "woken before the deadline");
    assert_eq!(poll_once(&mut timeout, &counter_waker), Poll::Pending);
    driver.advance(5 * MS).expect("advance");
    assert_eq!(wakes.wakes(), 1, "the deadline wakes the task");
    assert_eq!(
        poll_once(&mut timeout, &counter_waker),
        Poll::Ready(Err(elapsed()))
    );
    assert_eq!(
        polls.load(Ordering::SeqCst),
        3,
        "the inner future was still polled first"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "kept until the Timeout goes"
    );
    drop(timeout);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// An Elapsed, from a timeout that has certainly elapsed.
fn elapsed() -> Elapsed {
    let driver = Driver::manual(0).expect("driver");
    let mut timeout = driver.timeout(Duration::ZERO, std::future::pending::<()>());
    match poll_once(&mut timeout, &noop()) {
        Poll::Ready(Err(elapsed)) => elapsed,
        other => panic!("a zero timeout of a pending future gave {other:?}"),
    }
}

#[test]
fn the_inner_future_is_dropped_exactly_once_in_every_outcome() {
    let driver = Driver::manual(0).expect("driver");
    let waker = noop();
    // Dropped before anything happened, unpolled and polled.
    for polls_first in [false, true] {
        let (probe, _, drops) = Probe::new(usize::MAX);
        let mut timeout = driver.timeout(Duration::from_millis(1), probe);
        if polls_first {
            assert_eq!(poll_once(&mut timeout, &waker), Poll::Pending);
        }
        drop(timeout);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
    // Completed, then polled again after completion and dropped.
    let (probe, _, drops) = Probe::new(0);
    let mut timeout = driver.timeout(Duration::from_millis(1), probe);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Ready(Ok(42)));
    drop(timeout);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Elapsed, polled again, dropped.
    let (probe, _, drops) = Probe::new(usize::MAX);
    let mut timeout = driver.timeout(Duration::from_millis(1), probe);
    driver
        .advance_by(Duration::from_millis(1))
        .expect("advance");
    assert!(matches!(
        poll_once(&mut timeout, &waker),
        Poll::Ready(Err(_))
    ));
    assert!(matches!(
        poll_once(&mut timeout, &waker),
        Poll::Ready(Err(_))
    ));
    drop(timeout);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Given back by into_inner: dropped once, by its new owner.
    let (probe, _, drops) = Probe::new(usize::MAX);
    let inner = driver.timeout(Duration::from_millis(1), probe).into_inner();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(inner);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // A timeout too far to represent never elapses and still drops once.
    let (probe, _, drops) = Probe::new(usize::MAX);
    let mut timeout = timefuture::timeout(Duration::MAX, probe);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Pending);
    drop(timeout);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn real_clock_timeout_elapses_no_earlier_than_its_duration() {
    let start = Instant::now();
    let result = timefuture::block_on(timefuture::timeout(
        Duration::from_millis(10),
        std::future::pending::<()>(),
    ))
    .expect("block_on");
    assert!(result.is_err());
    assert!(start.elapsed() >= Duration::from_millis(10));

    let deadline = Instant::now() + Duration::from_millis(5);
    let result = timefuture::block_on(timefuture::timeout_at(
        deadline,
        std::future::pending::<()>(),
    ))
    .expect("block_on");
    assert!(result.is_err());
    assert!(Instant::now() >= deadline);

    // A future that finishes first wins, on an executor of the crate.
    let executor = timefuture::Executor::new(1).expect("executor");
    let task = executor
        .spawn(async {
            let quick = async {
                timefuture::sleep(Duration::from_millis(1)).await?;
                Ok::<_, Error>("quick")
            };
            timefuture::timeout(Duration::from_secs(3600), quick).await
        })
        .expect("spawn");
    assert_eq!(
        executor.block_on(task).expect("block_on").expect("join"),
        Ok(Ok("quick"))
    );
}

#[test]
fn elapsed_is_an_error_type() {
    let error = elapsed();
    assert_eq!(error.to_string(), "deadline has elapsed");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
    assert_eq!(boxed.to_string(), "deadline has elapsed");
    assert!(boxed.source().is_none());
    let converted: Error = error.into();
    assert_eq!(converted, Error::TimedOut);
    // `?` into the crate's Error.
    fn run(timeout: Result<(), Elapsed>) -> Result<(), Error> {
        timeout?;
        Ok(())
    }
    assert_eq!(run(Err(error)), Err(Error::TimedOut));
}

#[test]
fn the_inner_future_is_reachable_and_stays_pinned() {
    let driver = Driver::manual(0).expect("driver");
    let waker = noop();
    let mut count = 0;
    let inner = poll_fn(move |_| {
        count += 1;
        if count == 3 {
            Poll::Ready(count)
        } else {
            Poll::Pending
        }
    });
    let mut timeout = driver.timeout(Duration::from_millis(1), inner);
    let _: &common::PollFn<_> = timeout.get_ref();
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Pending);
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Pending);
    // A !Unpin inner future, pinned on the heap.
    let mut boxed = Box::pin(driver.timeout(Duration::from_millis(1), async { 5 }));
    assert_eq!(
        boxed.as_mut().poll(&mut Context::from_waker(&waker)),
        Poll::Ready(Ok(5))
    );
    assert_eq!(poll_once(&mut timeout, &waker), Poll::Ready(Ok(3)));
}
