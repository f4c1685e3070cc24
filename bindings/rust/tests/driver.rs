// SPDX-License-Identifier: MIT
//! Driver: the manual clock fires timers exactly when advanced (under a
//! small block_on of our own and under the crate's executors), errors of
//! every call, and that handles and timers may be dropped in any order.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::poll_once;
use timefuture::{Clock, Driver, DriverOptions, Error, Executor, Mode};

const MS: u64 = 1_000_000;

/// A waker that only records that it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag() -> (Arc<Flag>, Waker) {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    (Arc::clone(&flag), Waker::from(flag))
}

/// A single-future block_on for the manual clock: polls `future`; whenever
/// it is pending and its waker has not fired, calls `advance` (which must
/// move time) and polls again once woken. Returns the output and how many
/// times `advance` was called. Never sleeps: with a manual clock the test
/// itself is what moves time.
fn block_on_manual<F: Future + Unpin>(mut future: F, mut advance: impl FnMut()) -> (F::Output, u32) {
    let (woken, waker) = flag();
    let mut advances = 0;
    loop {
        woken.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(output) = Pin::new(&mut future).poll(&mut Context::from_waker(&waker)) {
            return (output, advances);
        }
        while !woken.0.load(Ordering::SeqCst) {
            advance();
            advances += 1;
            assert!(advances < 10_000, "the future never woke");
        }
    }
}

#[test]
fn manual_clock_fires_exactly_at_the_deadline() {
    let driver = Driver::manual(1_000).expect("driver");
    assert_eq!(driver.now(), 1_000);
    assert_eq!(driver.next_deadline(), None);
    let mut sleep = driver.sleep(Duration::from_millis(5));
    let (woken, waker) = flag();
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(driver.advance(1_000 + 5 * MS - 1), Ok(0));
    assert!(!woken.0.load(Ordering::SeqCst), "woke before the deadline");
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(driver.advance(1_000 + 5 * MS), Ok(1));
    assert!(woken.0.load(Ordering::SeqCst), "not woken at the deadline");
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(Ok(())));
    assert_eq!(driver.now(), 1_000 + 5 * MS);
    assert_eq!(driver.advance(1_000 + 5 * MS), Ok(0), "fired twice");
}

#[test]
fn next_deadline_loop_reaches_the_deadline_and_terminates() {
    let driver = Driver::manual(0).expect("driver");
    let timer = driver.timer(Duration::from_micros(7_250_333)).expect("timer");
    let deadline = timer.deadline_ns().expect("deadline");
    assert_eq!(deadline, 7_250_333_000);
    let ((), advances) = block_on_manual(
        async {
            let mut timer = timer;
            (&mut timer).await.expect("timer");
            assert_eq!(timer.driver().map(Driver::now), Some(deadline));
        }
        .boxed_local(),
        || {
            let next = driver.next_deadline().expect("an armed timer");
            assert!(next <= deadline, "next deadline {next} past the timer's {deadline}");
            driver.advance(next).expect("advance");
        },
    );
    assert!(advances >= 1);
    assert_eq!(driver.now(), deadline);
    assert_eq!(driver.next_deadline(), None);
}

#[test]
fn sleeps_on_an_executor_wake_in_deadline_order() {
    let driver = Driver::manual(0).expect("driver");
    let executor = Executor::new(0).expect("executor");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for ms in [3u64, 1, 2] {
        let (driver, order) = (driver.clone(), Arc::clone(&order));
        // Armed now, at time 0, whenever the task first runs.
        let sleep = driver.sleep(Duration::from_millis(ms));
        let handle = executor
            .spawn(async move {
                sleep.await.expect("sleep");
                order.lock().unwrap().push((ms, driver.now()));
            })
            .expect("spawn");
        handles.push((ms, handle));
    }
    handles.sort_by_key(|(ms, _)| *ms);
    for (step, (ms, handle)) in (1u64..).zip(handles) {
        assert_eq!(ms, step);
        assert_eq!(order.lock().unwrap().len() as u64, step - 1, "woke before its time");
        assert_eq!(driver.advance(step * MS), Ok(1));
        executor.block_on(handle).expect("run").expect("join");
    }
    assert_eq!(*order.lock().unwrap(), vec![(1, MS), (2, 2 * MS), (3, 3 * MS)]);
}

#[test]
fn an_hour_passes_at_once_and_a_timer_resets_on_the_driver_clock() {
    let driver = Driver::manual(0).expect("driver");
    let mut timer = driver.timer(Duration::from_secs(3600)).expect("timer");
    assert!(timer.peek().is_pending());
    assert_eq!(driver.advance_by(Duration::from_secs(3600)), Ok(1));
    assert_eq!(timer.peek(), Poll::Ready(Ok(())));
    timer.reset(Duration::from_millis(1)).expect("reset");
    assert_eq!(timer.deadline_ns(), Ok(3600_000 * MS + MS));
    timer.reset_at(3600_000 * MS + 2 * MS).expect("reset_at");
    assert!(timer.cancel().expect("cancel"));
    assert_eq!(driver.next_deadline(), None);
    assert_eq!(timefuture::block_on(&mut timer).expect("block_on"), Err(Error::Canceled));
    let at = driver.timer_at(driver.now()).expect("timer_at");
    assert_eq!(at.peek(), Poll::Ready(Ok(())), "a deadline of now fires at once");
}

#[test]
fn advance_errors() {
    let driver = Driver::manual(10 * MS).expect("driver");
    let timer = driver.timer(Duration::from_millis(1)).expect("timer");
    assert_eq!(driver.advance(10 * MS - 1), Err(Error::Range), "backwards");
    assert_eq!(driver.now(), 10 * MS);
    assert!(timer.peek().is_pending(), "a refused advance fired a timer");
    assert_eq!(driver.advance(u64::MAX), Err(Error::Range));
    assert_eq!(driver.advance_by(Duration::MAX), Err(Error::Range));
    assert_eq!(driver.advance_now(), Ok(0), "the manual clock stays");
    assert_eq!(driver.now(), 10 * MS);
    assert_eq!(driver.fd(), Err(Error::State), "the manual clock has no fd");

    let thread = Driver::new(DriverOptions::default()).expect("thread driver");
    assert_eq!(thread.advance_now(), Err(Error::State));
    assert_eq!(thread.fd(), Err(Error::State));

    let host = Driver::new(DriverOptions { mode: Mode::Host, ..DriverOptions::default() })
        .expect("host driver");
    assert_eq!(host.advance(host.now() + 3600 * 1000 * MS), Err(Error::Range), "past the clock");
    assert!(host.fd().expect("fd") >= 0);
}

#[test]
fn bad_options() {
    let manual_thread = DriverOptions { clock: Clock::Manual, ..DriverOptions::default() };
    assert_eq!(Driver::new(manual_thread).map(drop), Err(Error::Invalid));
    assert_eq!(Driver::manual(u64::MAX).map(drop), Err(Error::Range));
    let huge_slack = DriverOptions { slack: Duration::MAX, ..DriverOptions::default() };
    assert_eq!(Driver::new(huge_slack).map(drop), Err(Error::Range));
    let options = DriverOptions {
        clock: Clock::Boottime,
        mode: Mode::Host,
        slack: Duration::from_micros(50),
        start_ns: 0,
    };
    assert_eq!(Driver::new(options).expect("boottime").options(), options);
}

#[test]
fn thread_mode_driver_fires_by_itself() {
    for clock in [Clock::Monotonic, Clock::Boottime] {
        let driver = Driver::new(DriverOptions { clock, ..DriverOptions::default() }).expect("driver");
        let start = driver.now();
        timefuture::block_on(driver.sleep(Duration::from_millis(2))).expect("block_on").expect("sleep");
        assert!(driver.now() - start >= 2 * MS, "{clock:?}: woke early");
    }
}

#[test]
fn host_mode_driver_advanced_when_its_fd_is_readable() {
    let driver = Driver::new(DriverOptions { mode: Mode::Host, ..DriverOptions::default() })
        .expect("driver");
    let fd = driver.fd().expect("fd");
    // Read before the sleep is made: its deadline counts from its making.
    let start = driver.now();
    let mut sleep = driver.sleep(Duration::from_millis(3));
    let ((), polls) = block_on_manual(
        async { (&mut sleep).await.expect("sleep") }.boxed_local(),
        || {
            let mut pfd = PollFd { fd, events: 1 /* POLLIN */, revents: 0 };
            // SAFETY: one valid pollfd; a 60 s hang guard.
            let n = unsafe { poll(&mut pfd, 1, 60_000) };
            assert_eq!(n, 1, "the driver's fd never turned readable");
            driver.advance_now().expect("advance");
        },
    );
    assert!(polls >= 1);
    assert!(driver.now() - start >= 3 * MS, "woke early");
}

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

extern "C" {
    fn poll(fds: *mut PollFd, nfds: u64, timeout: i32) -> i32;
}

#[test]
fn the_driver_outlives_its_timers_in_any_drop_order() {
    // Far more rounds than drivers may exist at once (1024): were a driver
    // kept by a dropped timer, or freed under a live one, this would fail.
    for round in 0..1500u64 {
        let driver = Driver::manual(round).expect("driver (leaked drivers?)");
        let timer = driver.timer(Duration::from_millis(1)).expect("timer");
        let clone = driver.clone();
        assert!(clone.same(&driver));
        if round % 2 == 0 {
            drop(driver);
            drop(clone);
            // The timer still works: its driver lives on inside it.
            let owner = timer.driver().expect("driver").clone();
            assert_eq!(owner.advance(round + MS), Ok(1));
            assert_eq!(timer.peek(), Poll::Ready(Ok(())));
            drop(owner);
            drop(timer);
        } else {
            drop(timer);
            drop(clone);
            drop(driver);
        }
    }
    assert!(timefuture::Timer::new(Duration::ZERO).expect("timer").driver().is_none());
}

/// A waker that drops the timer it is given when woken, counting wakes.
struct DropOnWake(Mutex<Option<timefuture::Timer>>, AtomicUsize);

impl Wake for DropOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let timer = self.0.lock().unwrap().take();
        drop(timer);
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// Arms `driver`'s timer with a DropOnWake waker that owns the timer.
fn timer_dropped_by_its_wake(driver: &Driver) -> Arc<DropOnWake> {
    let mut timer = driver.timer(Duration::from_millis(1)).expect("timer");
    let state = Arc::new(DropOnWake(Mutex::new(None), AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&state));
    assert!(poll_once(&mut timer, &waker).is_pending());
    *state.0.lock().unwrap() = Some(timer);
    state
}

#[test]
fn a_timer_dropped_inside_its_own_wake_is_safe() {
    let driver = Driver::manual(0).expect("driver");
    let state = timer_dropped_by_its_wake(&driver);
    assert_eq!(driver.advance(MS), Ok(1));
    assert_eq!(state.1.load(Ordering::SeqCst), 1);
    assert!(state.0.lock().unwrap().is_none());
    assert_eq!(driver.next_deadline(), None);
}

#[test]
fn the_last_reference_dropped_inside_a_wake_leaves_the_driver_allocated() {
    // On a thread-mode driver the wake runs on the driver's thread; when it
    // drops the last timer after the last handle is gone, tf_driver_free
    // would be called from the driver's own wake, which the library
    // refuses (TF_EBUSY): the driver is left allocated instead, no UB.
    let driver = Driver::new(DriverOptions::default()).expect("driver");
    let state = timer_dropped_by_its_wake(&driver);
    drop(driver);
    common::wait_until("the wake dropped the timer", || state.1.load(Ordering::SeqCst) == 1);
    assert!(state.0.lock().unwrap().is_none());
    // Every other driver still works.
    let other = Driver::manual(0).expect("driver");
    let _timer = other.timer(Duration::ZERO).expect("timer");
}

/// `Box::pin` for the helpers above, which take `Unpin` futures.
trait BoxedLocal: Future + Sized {
    fn boxed_local<'a>(self) -> Pin<Box<dyn Future<Output = Self::Output> + 'a>>
    where
        Self: 'a,
    {
        Box::pin(self)
    }
}
impl<F: Future> BoxedLocal for F {}
