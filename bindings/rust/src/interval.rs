// SPDX-License-Identifier: MIT
//! Periodic ticks, like tokio's `Interval`: built on the library's
//! experimental interval API (`tf_interval_*`), which keeps the schedule
//! and the missed-tick policies; this module keeps its own API stable over
//! it.

use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::driver::Driver;
use crate::error::{check, Error};
use crate::instant;
use crate::sys;
use crate::timer::duration_ns;
use crate::waker::WakerCache;

/// What an [`Interval`] does when a tick is observed a whole period or more
/// after it was due (the task was busy, or the thread was not scheduled):
/// the ticks in between are *missed*. A tick observed less than a period
/// late is not a missed one: every behaviour keeps the schedule then.
///
/// With a period `P` and ticks due at `0, P, 2P, ...`, a poll at `4.5P`
/// (the ticks at `P` to `4P` missed) gives:
///
/// | behaviour | ticks reported                 | next tick due |
/// |-----------|--------------------------------|---------------|
/// | `Burst`   | 1, then 1, 1, 1 on immediate polls | `5P`      |
/// | `Delay`   | 4 at once                      | `5.5P`        |
/// | `Skip`    | 4 at once                      | `5P`          |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTickBehavior {
    /// Report the missed ticks one per poll, each ready at once, until the
    /// schedule has caught up with the clock; the schedule
    /// `start + k * period` is kept. The default, as in tokio.
    #[default]
    Burst,
    /// Report the missed ticks in one tick, and restart the schedule one
    /// period after the late poll.
    Delay,
    /// Report the missed ticks in one tick, and skip to the next
    /// `start + k * period` after now: the schedule is kept.
    Skip,
}

impl MissedTickBehavior {
    fn raw(self) -> u32 {
        match self {
            MissedTickBehavior::Burst => sys::TF_MISSED_TICK_BURST,
            MissedTickBehavior::Delay => sys::TF_MISSED_TICK_DELAY,
            MissedTickBehavior::Skip => sys::TF_MISSED_TICK_SKIP,
        }
    }
}

/// Ticks a period apart, from a start time: tick `k` is due at
/// `start + k * period` on its clock, never earlier, and the schedule is
/// kept from the start rather than from when the task got around to
/// polling, so it does not drift. See [`MissedTickBehavior`] for ticks
/// observed late.
///
/// Made by [`interval`](fn@interval) and [`interval_at`] on the library's default
/// driver (the monotonic clock of `Instant`), or by [`Driver::interval`]
/// and [`Driver::interval_at`] on a driver of one's own (e.g. a manual
/// clock for deterministic tests).
///
/// Unlike tokio, whose `tick` returns the tick's `Instant`, a tick here
/// resolves to the number of ticks it stands for (at least 1; more when
/// [`Delay`](MissedTickBehavior::Delay) or
/// [`Skip`](MissedTickBehavior::Skip) fold missed ticks into one), since
/// the count is what the library reports and the crate's deadlines are
/// nanoseconds of a driver's clock; [`deadline_ns`](Interval::deadline_ns)
/// gives the next tick's time.
///
/// ```
/// use std::time::{Duration, Instant};
/// # fn main() -> Result<(), timefuture::Error> {
/// let start = Instant::now();
/// let mut interval = timefuture::interval(Duration::from_millis(2))?;
/// timefuture::block_on(async {
///     for _ in 0..3 {
///         interval.tick().await?; // the first tick is at once
///     }
///     Ok::<_, timefuture::Error>(())
/// })??;
/// assert!(start.elapsed() >= Duration::from_millis(4));
/// # Ok(())
/// # }
/// ```
pub struct Interval {
    raw: NonNull<sys::tf_interval>,
    wakers: WakerCache,
    /// The task waiting for the next tick (the last poll was pending), to
    /// be woken when the C interval is replaced under it.
    waiting: Option<Waker>,
    period: Duration,
    behavior: MissedTickBehavior,
    /// The driver of an interval made on one; `None` for the default
    /// driver. Held so that the driver outlives the interval (fields drop
    /// after `Drop::drop` has freed the C interval).
    driver: Option<Driver>,
}

// SAFETY: the C interval is used by one thread at a time, which &mut gives;
// tf_interval_free in Drop has exclusive use. No &self method touches it
// except deadline_ns, hence no Sync.
unsafe impl Send for Interval {}

/// An interval on the default driver whose first tick is at once and the
/// following ones `period` apart: `interval_at(Instant::now(), period)`.
///
/// # Errors
/// [`Error::Invalid`] for a zero period; [`Error::Range`] for a period
/// beyond 64-bit nanoseconds; [`Error::NoMemory`] or [`Error::Thread`] as
/// for [`Timer::new`](crate::Timer::new).
pub fn interval(period: Duration) -> Result<Interval, Error> {
    interval_at(Instant::now(), period)
}

/// An interval on the default driver whose first tick is due at `start`
/// (at once if it has passed) and the following ones `period` apart.
///
/// # Errors
/// As [`interval`](fn@interval); [`Error::Range`] also for a start beyond 64-bit
/// nanoseconds of the clock.
pub fn interval_at(start: Instant, period: Duration) -> Result<Interval, Error> {
    let first = instant::to_ns(start, crate::now_ns)?;
    Interval::new(None, first, period, MissedTickBehavior::default())
}

impl Interval {
    pub(crate) fn new(
        driver: Option<Driver>,
        first_ns: u64,
        period: Duration,
        behavior: MissedTickBehavior,
    ) -> Result<Interval, Error> {
        let raw = make(driver.as_ref(), first_ns, duration_ns(period)?, behavior)?;
        Ok(Interval {
            raw,
            wakers: WakerCache::default(),
            waiting: None,
            period,
            behavior,
            driver,
        })
    }

    /// The time between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The [`Driver`] the interval was made on, or `None` for the default
    /// driver.
    pub fn driver(&self) -> Option<&Driver> {
        self.driver.as_ref()
    }

    /// What the interval does with missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.behavior
    }

    /// Change what the interval does with missed ticks, from the next tick
    /// on; the next tick stays due when it was.
    ///
    /// # Errors
    /// [`Error::NoMemory`] or [`Error::Thread`] as for
    /// [`Timer::new`](crate::Timer::new); the behaviour is unchanged then.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) -> Result<(), Error> {
        if behavior == self.behavior {
            return Ok(());
        }
        let next = self.deadline_ns();
        if next != u64::MAX {
            // The library fixes the policy at creation: carry the schedule
            // over to a new C interval whose first tick is the next one.
            let period = duration_ns(self.period)?;
            let raw = make(self.driver.as_ref(), next, period, behavior)?;
            // SAFETY: we own the old interval and never use it again.
            let status = unsafe { sys::tf_interval_free(self.raw.as_ptr()) };
            debug_assert_eq!(status, sys::TF_OK, "tf_interval_free failed");
            self.raw = raw;
            // The old interval took its registered waker with it: wake the
            // task so that it polls, and registers with, the new one.
            if let Some(waker) = self.waiting.take() {
                waker.wake();
            }
        }
        // Past the end of the 64-bit clock no tick is left to treat.
        self.behavior = behavior;
        Ok(())
    }

    /// When the next tick is due, in nanoseconds of the interval's clock
    /// ([`now_ns`](crate::now_ns), or its driver's [`Driver::now`]);
    /// `u64::MAX` once the schedule has run past the 64-bit clock.
    pub fn deadline_ns(&self) -> u64 {
        let mut deadline = u64::MAX;
        // SAFETY: self.raw is live; deadline is a valid place.
        let status = unsafe { sys::tf_interval_deadline(self.raw.as_ptr(), &mut deadline) };
        debug_assert_eq!(status, sys::TF_OK, "tf_interval_deadline failed");
        deadline
    }

    /// Restart the schedule one period from now: the next tick is due then,
    /// the following ones a period apart. A waiting task stays registered.
    ///
    /// # Errors
    /// [`Error::Range`] if now + period does not fit in 64 bits;
    /// [`Error::Thread`] if the driver thread could not be restarted.
    pub fn reset(&mut self) -> Result<(), Error> {
        // SAFETY: self.raw is live.
        check(unsafe { sys::tf_interval_reset(self.raw.as_ptr()) }).map(drop)
    }

    /// Restart the schedule at `start`: the next tick is due then (at once
    /// if it has passed), the following ones a period apart. On a
    /// [`Driver`] of another clock, `start` is as far from that clock's now
    /// as it is from `Instant::now()`.
    ///
    /// # Errors
    /// [`Error::Range`] if `start` does not fit in 64-bit nanoseconds of
    /// the clock; [`Error::Thread`] as for [`reset`](Interval::reset).
    pub fn reset_at(&mut self, start: Instant) -> Result<(), Error> {
        let driver = self.driver.clone();
        let ns = instant::to_ns(start, || match &driver {
            Some(driver) => driver.now(),
            None => crate::now_ns(),
        })?;
        // SAFETY: self.raw is live.
        check(unsafe { sys::tf_interval_reset_at(self.raw.as_ptr(), ns) }).map(drop)
    }

    /// Poll for the next tick: `Poll::Ready(Ok(ticks))` once it is due,
    /// with the number of ticks it stands for (at least 1; always 1 with
    /// [`Burst`](MissedTickBehavior::Burst)); otherwise the task is woken
    /// when it is due.
    ///
    /// # Errors
    /// [`Error::Range`] once the schedule has run past the 64-bit clock
    /// (the interval has ticked its last); [`Error::NoMemory`] if the
    /// task's waker could not be registered.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Result<u64, Error>> {
        let waker = match self.wakers.c_waker_for(cx.waker()) {
            Ok(waker) => waker,
            Err(error) => return Poll::Ready(Err(error)),
        };
        let mut ticks = 0;
        // SAFETY: self.raw is live; waker is borrowed from cx or the cache,
        // both of which outlive the call; ticks is a valid place.
        match unsafe { sys::tf_interval_poll(self.raw.as_ptr(), waker, &mut ticks) } {
            sys::TF_PENDING => {
                match &self.waiting {
                    Some(waiting) if waiting.will_wake(cx.waker()) => {}
                    _ => self.waiting = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            status => {
                self.waiting = None;
                Poll::Ready(check(status).map(|_| ticks))
            }
        }
    }

    /// Wait for the next tick; resolves as [`poll_tick`](Interval::poll_tick)
    /// does, to the number of ticks. The first tick of [`interval`](fn@interval) is at
    /// once.
    pub fn tick(&mut self) -> Tick<'_> {
        Tick { interval: self }
    }
}

/// Make a C interval on `driver` (the default one for `None`).
fn make(
    driver: Option<&Driver>,
    first_ns: u64,
    period_ns: u64,
    behavior: MissedTickBehavior,
) -> Result<NonNull<sys::tf_interval>, Error> {
    let raw_driver = match driver {
        Some(driver) => driver.raw(),
        // SAFETY: no preconditions; the default driver is never freed.
        None => unsafe { sys::tf_driver_default() },
    };
    let mut out = std::ptr::null_mut();
    // SAFETY: the driver is live (the interval holds its Driver); out is a
    // valid place.
    check(unsafe {
        sys::tf_interval_new_on(raw_driver, first_ns, period_ns, behavior.raw(), &mut out)
    })?;
    Ok(NonNull::new(out).expect("tf_interval_new_on succeeded without an interval"))
}

impl Drop for Interval {
    fn drop(&mut self) {
        // SAFETY: we own the interval and never use it again; its stored
        // waker is dropped without a wake.
        let status = unsafe { sys::tf_interval_free(self.raw.as_ptr()) };
        debug_assert_eq!(status, sys::TF_OK, "tf_interval_free failed");
    }
}

impl std::fmt::Debug for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interval")
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.behavior)
            .field("deadline_ns", &self.deadline_ns())
            .field("driver", &self.driver)
            .finish()
    }
}

/// The future returned by [`Interval::tick`]: the number of ticks, or the
/// error of [`Interval::poll_tick`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Tick<'a> {
    interval: &'a mut Interval,
}

impl Future for Tick<'_> {
    type Output = Result<u64, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().interval.poll_tick(cx)
    }
}
