// SPDX-License-Identifier: MIT
//! Interval: the schedule never drifts and a tick is never early; what each
//! missed-tick behaviour does; reset, period and changing the behaviour.
//! Deterministic on a manual-clock driver; one test on the real clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use timefuture::{Driver, Error, MissedTickBehavior};

/// The period of the manual-clock tests, in nanoseconds.
const P: u64 = 1_000_000;
const PERIOD: Duration = Duration::from_millis(1);

/// A waker that counts its wakes.
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Wakes>, Waker) {
    let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
    (Arc::clone(&wakes), Waker::from(wakes))
}

fn poll(interval: &mut timefuture::Interval, waker: &Waker) -> Poll<Result<u64, Error>> {
    interval.poll_tick(&mut std::task::Context::from_waker(waker))
}

fn manual_interval(behavior: MissedTickBehavior) -> (Driver, timefuture::Interval) {
    let driver = Driver::manual(0).expect("driver");
    let mut interval = driver.interval_at(P, PERIOD).expect("interval");
    interval
        .set_missed_tick_behavior(behavior)
        .expect("behaviour");
    assert_eq!(interval.missed_tick_behavior(), behavior);
    (driver, interval)
}

#[test]
fn delay_does_not_drift_over_ten_thousand_late_ticks() {
    let (driver, mut interval) = manual_interval(MissedTickBehavior::Delay);
    let (_, waker) = counting();
    let mut total = 0;
    for k in 0..10_000u64 {
        let due = interval.deadline_ns();
        // Every tick observed late by a jitter under one period.
        let late = (k * 7919) % (P - 1);
        driver.advance(due + late).expect("advance");
        assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)), "tick {k}");
        total += 1;
    }
    assert_eq!(total, 10_000);
    // Tick 10,000 (counting from 0 at P) is ideally due at P + 10,000 P.
    let ideal = P + 10_000 * P;
    let next = interval.deadline_ns();
    assert!(
        next >= ideal && next - ideal < P,
        "next {next}, ideal {ideal}"
    );
    assert_eq!(
        next, ideal,
        "jitter under a period keeps the schedule exactly"
    );
}

#[test]
fn a_tick_is_never_early_and_its_waker_is_woken_at_the_deadline() {
    for behavior in [
        MissedTickBehavior::Burst,
        MissedTickBehavior::Delay,
        MissedTickBehavior::Skip,
    ] {
        let (driver, mut interval) = manual_interval(behavior);
        let (wakes, waker) = counting();
        for k in 1..=100u64 {
            let due = k * P;
            assert_eq!(interval.deadline_ns(), due);
            driver.advance(due - 1).expect("advance");
            assert_eq!(
                poll(&mut interval, &waker),
                Poll::Pending,
                "{behavior:?} tick {k} early"
            );
            let before = wakes.0.load(Ordering::SeqCst);
            driver.advance(due).expect("advance");
            assert_eq!(
                wakes.0.load(Ordering::SeqCst),
                before + 1,
                "{behavior:?}: no wake at {k}"
            );
            assert_eq!(
                poll(&mut interval, &waker),
                Poll::Ready(Ok(1)),
                "{behavior:?} tick {k}"
            );
        }
    }
}

#[test]
fn burst_catches_up_one_tick_per_poll() {
    let (driver, mut interval) = manual_interval(MissedTickBehavior::Burst);
    let (_, waker) = counting();
    driver.advance(4 * P + P / 2).expect("advance");
    // The ticks at P, 2P, 3P and 4P, each at once.
    for _ in 0..4 {
        assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)));
    }
    assert_eq!(poll(&mut interval, &waker), Poll::Pending);
    assert_eq!(interval.deadline_ns(), 5 * P, "the schedule is kept");
}

#[test]
fn skip_counts_the_missed_ticks_and_keeps_the_schedule() {
    let (driver, mut interval) = manual_interval(MissedTickBehavior::Skip);
    let (_, waker) = counting();
    driver.advance(4 * P + P / 2).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(4)));
    assert_eq!(interval.deadline_ns(), 5 * P);
    assert_eq!(poll(&mut interval, &waker), Poll::Pending);
    driver.advance(7 * P).expect("advance");
    assert_eq!(
        poll(&mut interval, &waker),
        Poll::Ready(Ok(3)),
        "5P, 6P, 7P"
    );
    assert_eq!(interval.deadline_ns(), 8 * P);
}

#[test]
fn delay_counts_the_missed_ticks_and_restarts_after_the_late_poll() {
    let (driver, mut interval) = manual_interval(MissedTickBehavior::Delay);
    let (_, waker) = counting();
    driver.advance(4 * P + P / 2).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(4)));
    assert_eq!(interval.deadline_ns(), 5 * P + P / 2);
    driver.advance(5 * P + P / 2 - 1).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Pending);
    driver.advance(5 * P + P / 2).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)));
}

#[test]
fn changing_the_behaviour_keeps_the_next_tick_and_wakes_the_waiting_task() {
    let (driver, mut interval) = manual_interval(MissedTickBehavior::Burst);
    let (wakes, waker) = counting();
    assert_eq!(poll(&mut interval, &waker), Poll::Pending);
    interval
        .set_missed_tick_behavior(MissedTickBehavior::Skip)
        .expect("behaviour");
    // The waker registered with the replaced C interval must not be lost.
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert_eq!(interval.deadline_ns(), P);
    driver.advance(3 * P).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(3)), "now skips");
    assert_eq!(interval.deadline_ns(), 4 * P);
    // The same behaviour again changes nothing and wakes nobody.
    interval
        .set_missed_tick_behavior(MissedTickBehavior::Skip)
        .expect("behaviour");
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
}

#[test]
fn reset_restarts_one_period_from_now() {
    let (driver, mut interval) = manual_interval(MissedTickBehavior::Burst);
    let (_, waker) = counting();
    assert_eq!(interval.period(), PERIOD);
    driver.advance(10 * P + 7).expect("advance");
    interval.reset().expect("reset");
    assert_eq!(interval.deadline_ns(), 11 * P + 7);
    assert_eq!(
        poll(&mut interval, &waker),
        Poll::Pending,
        "the missed ticks are gone"
    );
    driver.advance(11 * P + 7).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)));
    assert_eq!(interval.deadline_ns(), 12 * P + 7);
}

#[test]
fn the_first_tick_of_driver_interval_is_at_once() {
    let driver = Driver::manual(5 * P).expect("driver");
    let mut interval = driver.interval(PERIOD).expect("interval");
    let (_, waker) = counting();
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)));
    assert_eq!(poll(&mut interval, &waker), Poll::Pending);
    assert_eq!(interval.deadline_ns(), 6 * P);
}

#[test]
fn bad_arguments() {
    assert_eq!(
        timefuture::interval(Duration::ZERO).err(),
        Some(Error::Invalid)
    );
    assert_eq!(
        timefuture::interval(Duration::MAX).err(),
        Some(Error::Range)
    );
    let driver = Driver::manual(0).expect("driver");
    assert_eq!(
        driver.interval_at(u64::MAX, PERIOD).err(),
        Some(Error::Range)
    );
}

#[test]
fn the_end_of_the_clock_is_an_error_not_a_hang() {
    let driver = Driver::manual(u64::MAX - 3 * P).expect("driver");
    let mut interval = driver
        .interval_at(u64::MAX - 2 * P, PERIOD)
        .expect("interval");
    interval
        .set_missed_tick_behavior(MissedTickBehavior::Skip)
        .expect("behaviour");
    let (_, waker) = counting();
    driver.advance(u64::MAX - P).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(2)));
    // The next tick, u64::MAX, is past the end of the clock.
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Err(Error::Range)));
}

#[test]
fn real_clock_ticks_are_never_early() {
    let period = Duration::from_millis(2);
    let start = Instant::now() + Duration::from_millis(1);
    let mut interval = timefuture::interval_at(start, period).expect("interval");
    let ticks = timefuture::block_on(async {
        let mut ticks = 0u64;
        let mut seen = Vec::new();
        while ticks < 5 {
            ticks += interval.tick().await?;
            seen.push((ticks, Instant::now()));
        }
        Ok::<_, Error>(seen)
    })
    .expect("block_on")
    .expect("ticks");
    for (count, at) in ticks {
        // Tick number `count` (1-based) is due at start + (count-1) periods.
        let due = start + period * (count as u32 - 1);
        assert!(at >= due, "tick {count} came {:?} early", due - at);
    }
}

#[test]
fn an_interval_outlives_nothing_it_needs() {
    // The interval holds its driver: dropping the handle first is fine.
    let driver = Driver::manual(0).expect("driver");
    let mut interval = driver.interval(PERIOD).expect("interval");
    drop(driver);
    let (_, waker) = counting();
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)));
    let driver = interval.driver().expect("its driver").clone();
    driver.advance(P).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)));
    drop(interval);
    assert_eq!(
        driver.next_deadline(),
        None,
        "the interval left no timer behind"
    );
}

#[test]
fn reset_at_an_instant_moves_the_schedule() {
    let (driver, mut interval) = manual_interval(MissedTickBehavior::Burst);
    let (_, waker) = counting();
    driver.advance(3 * P).expect("advance");
    // An hour from now, as the manual clock counts it: the manual clock
    // stands still while the real time between this Instant::now() and the
    // conversion passes, so the deadline is at most an hour away.
    let hour = 3_600_000_000_000;
    interval
        .reset_at(Instant::now() + Duration::from_secs(3600))
        .expect("reset_at");
    let due = interval.deadline_ns();
    assert!(due > 3 * P && due <= 3 * P + hour, "due at {due}");
    driver.advance(due - 1).expect("advance");
    assert_eq!(
        poll(&mut interval, &waker),
        Poll::Pending,
        "the missed ticks are gone"
    );
    driver.advance(due).expect("advance");
    assert_eq!(poll(&mut interval, &waker), Poll::Ready(Ok(1)));
    assert_eq!(
        interval.deadline_ns(),
        due + P,
        "a period apart from the new start"
    );
}

#[test]
fn ticks_on_the_crates_executor_are_never_early() {
    let executor = timefuture::Executor::new(1).expect("executor");
    let period = Duration::from_millis(1);
    let task = executor
        .spawn(async move {
            let start = Instant::now();
            let mut interval = timefuture::interval(period)?;
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip)?;
            let mut ticks = 0u64;
            while ticks < 5 {
                ticks += interval.tick().await?;
                // Tick number `ticks` (1-based, the first at once) is due
                // `ticks - 1` periods after the start.
                let due = start + period * (ticks as u32 - 1);
                assert!(Instant::now() >= due, "tick {ticks} early");
            }
            Ok::<_, Error>(ticks)
        })
        .expect("spawn");
    let ticks = executor
        .block_on(task)
        .expect("block_on")
        .expect("join")
        .expect("ticks");
    assert!(ticks >= 5);
}
