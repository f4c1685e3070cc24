// SPDX-License-Identifier: MIT
//! sleep_until and the Instant clock: Instant and the library share
//! CLOCK_MONOTONIC; a past instant is ready at once; Sleep::reset moves the
//! deadline (on the default driver and on a manual clock); never early;
//! Sleep::deadline and Sleep::is_elapsed.

mod common;

use std::task::Poll;
use std::time::{Duration, Instant};

use common::poll_once;
use timefuture::{Driver, Error};

fn noop() -> std::task::Waker {
    common::clone_counting_waker().0
}

#[test]
fn instant_and_the_library_read_the_same_clock() {
    // Sandwich each library reading between two Instant readings: on one
    // clock, the library's elapsed time lies between the inner and the
    // outer Instant difference. A clock that ran at another rate or jumped
    // (CLOCK_REALTIME, or CLOCK_BOOTTIME across a suspend) would not.
    let a0 = Instant::now();
    let n0 = timefuture::now_ns();
    let a1 = Instant::now();
    std::thread::sleep(Duration::from_millis(20));
    let b0 = Instant::now();
    let n1 = timefuture::now_ns();
    let b1 = Instant::now();
    let library = Duration::from_nanos(n1 - n0);
    assert!(library >= b0 - a1, "{library:?} < {:?}", b0 - a1);
    assert!(library <= b1 - a0, "{library:?} > {:?}", b1 - a0);
}

#[test]
fn a_past_instant_is_ready_at_once() {
    let waker = noop();
    for ago in [
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_secs(3600),
    ] {
        let past = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
        let mut sleep = timefuture::sleep_until(past);
        assert!(sleep.is_elapsed());
        assert_eq!(
            poll_once(&mut sleep, &waker),
            Poll::Ready(Ok(())),
            "{ago:?} ago"
        );
    }
}

#[test]
fn sleep_until_is_never_early() {
    for ms in [1u64, 3, 10] {
        let until = Instant::now() + Duration::from_millis(ms);
        let mut sleep = timefuture::sleep_until(until);
        assert!(!sleep.is_elapsed());
        let deadline = sleep.deadline().expect("a timer");
        assert!(deadline >= until, "the deadline reads earlier than asked");
        timefuture::block_on(&mut sleep)
            .expect("block_on")
            .expect("sleep");
        assert!(Instant::now() >= until, "woke before the instant");
        assert!(sleep.is_elapsed());
    }
}

#[test]
fn reset_moves_the_deadline_on_the_default_driver() {
    // From an hour to a few milliseconds: it completes, not early.
    let mut sleep = timefuture::sleep(Duration::from_secs(3600));
    let until = Instant::now() + Duration::from_millis(3);
    sleep.reset(until).expect("reset");
    let deadline = sleep.deadline().expect("a timer");
    assert!(deadline >= until);
    assert!(
        deadline < until + Duration::from_secs(1800),
        "still near the old deadline"
    );
    timefuture::block_on(&mut sleep)
        .expect("block_on")
        .expect("sleep");
    assert!(Instant::now() >= until);
    // A completed sleep reset to the future is pending again.
    sleep
        .reset(Instant::now() + Duration::from_secs(3600))
        .expect("reset");
    assert!(!sleep.is_elapsed());
    assert_eq!(poll_once(&mut sleep, &noop()), Poll::Pending);
}

#[test]
fn reset_moves_the_deadline_on_a_manual_clock() {
    let driver = Driver::manual(0).expect("driver");
    let waker = noop();
    let mut sleep = driver.sleep(Duration::from_secs(1));
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Pending);
    // An hour from now, as the manual clock counts it.
    sleep
        .reset(Instant::now() + Duration::from_secs(3600))
        .expect("reset");
    driver.advance_by(Duration::from_secs(2)).expect("advance");
    assert!(!sleep.is_elapsed(), "the old deadline still fired it");
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Pending);
    driver
        .advance_by(Duration::from_secs(3599))
        .expect("advance");
    assert!(sleep.is_elapsed());
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(Ok(())));
    // And back into the manual clock's past: ready at once.
    sleep
        .reset(Instant::now() - Duration::from_millis(1))
        .expect("reset");
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(Ok(())));
}

#[test]
fn is_elapsed_follows_the_driver_clock() {
    let driver = Driver::manual(0).expect("driver");
    let sleep = driver.sleep(Duration::from_millis(5));
    assert!(!sleep.is_elapsed());
    driver
        .advance_by(Duration::from_millis(4))
        .expect("advance");
    assert!(!sleep.is_elapsed());
    driver
        .advance_by(Duration::from_millis(1))
        .expect("advance");
    assert!(sleep.is_elapsed());
}

#[test]
fn a_sleep_without_a_timer_gets_one_from_reset() {
    let waker = noop();
    // Beyond 64-bit nanoseconds: no timer, the error is the output.
    let mut sleep = timefuture::sleep(Duration::MAX);
    assert_eq!(sleep.deadline(), None);
    assert!(sleep.is_elapsed());
    sleep.reset(Instant::now()).expect("reset");
    assert!(sleep.deadline().is_some());
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(Ok(())));
    // The same on a driver: the new timer is on that driver's clock.
    let driver = Driver::manual(0).expect("driver");
    let mut sleep = driver.sleep(Duration::MAX);
    assert_eq!(
        poll_once(&mut sleep, &waker),
        Poll::Ready(Err(Error::Range))
    );
    sleep
        .reset(Instant::now() + Duration::from_secs(10))
        .expect("reset");
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Pending);
    driver.advance_by(Duration::from_secs(11)).expect("advance");
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(Ok(())));
    let timer = sleep.into_timer().expect("a timer");
    assert!(timer.driver().expect("on the driver").same(&driver));
}

#[test]
fn an_instant_beyond_the_clock_is_a_range_error() {
    let far = Instant::now().checked_add(Duration::from_secs(600 * 365 * 86_400));
    if let Some(far) = far {
        let mut sleep = timefuture::sleep_until(far);
        assert_eq!(
            poll_once(&mut sleep, &noop()),
            Poll::Ready(Err(Error::Range))
        );
        let mut sleep = timefuture::sleep(Duration::from_secs(1));
        assert_eq!(sleep.reset(far), Err(Error::Range));
        assert!(
            sleep.deadline().is_some(),
            "a failed reset leaves the sleep as it was"
        );
    }
}
