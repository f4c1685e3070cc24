// SPDX-License-Identifier: MIT
//! Timer futures served by the library's timer driver thread, or by a
//! [`Driver`] of their own.

use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::Driver;
use crate::error::{check, Error};
use crate::instant;
use crate::sys;
use crate::waker::WakerCache;

/// Nanoseconds of a duration, or [`Error::Range`] if they do not fit in 64
/// bits (about 584 years).
pub(crate) fn duration_ns(duration: Duration) -> Result<u64, Error> {
    u64::try_from(duration.as_nanos()).map_err(|_| Error::Range)
}

/// A future that completes at a deadline on the library's monotonic clock
/// ([`now_ns`](crate::now_ns)), or on its [`Driver`]'s clock for a timer made
/// by [`Driver::timer`].
///
/// The timer is armed when it is created, fires no earlier than its
/// deadline, and works under any executor: each poll hands the task's
/// [`Waker`](std::task::Waker) to the C timer (a poll from the same task
/// reuses the C waker made the last time).
///
/// It resolves to `Ok(())` at the deadline, or to
/// `Err(`[`Error::Canceled`]`)` once [`cancel`](Timer::cancel)led. Polling
/// again after completion gives the same result until it is
/// [`reset`](Timer::reset). Dropping the timer cancels it: no wake from it
/// arrives after the drop.
///
/// ```no_run
/// use std::time::Duration;
/// # fn main() -> Result<(), timefuture::Error> {
/// let mut timer = timefuture::Timer::new(Duration::from_millis(5))?;
/// timefuture::block_on(&mut timer)??;
/// timer.reset(Duration::from_millis(1))?;
/// timefuture::block_on(timer)??;
/// # Ok(())
/// # }
/// ```
pub struct Timer {
    raw: NonNull<sys::tf_timer>,
    wakers: WakerCache,
    /// The driver of a timer made on one, held so that it is freed after
    /// the timer: fields drop after `Drop::drop` has freed the C timer.
    driver: Option<Driver>,
}

// SAFETY: every tf_timer function the Timer calls may be called from any
// thread; tf_timer_free needs exclusive use, which Drop has.
unsafe impl Send for Timer {}
// SAFETY: the methods taking &self are deadline_ns and peek
// (tf_timer_deadline and tf_timer_peek are thread-safe); everything else,
// including the waker cache, needs &mut.
unsafe impl Sync for Timer {}

impl Timer {
    /// Create a timer that fires `duration` from now (zero fires at once).
    ///
    /// # Errors
    /// [`Error::Range`] if the deadline does not fit in 64-bit nanoseconds;
    /// [`Error::NoMemory`] or [`Error::Thread`] if the library could not
    /// allocate the timer or start its driver thread.
    pub fn new(duration: Duration) -> Result<Timer, Error> {
        let ns = duration_ns(duration)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: out is a valid place for the result.
        check(unsafe { sys::tf_timer_new(ns, &mut out) })?;
        Ok(Timer::from_raw(out, None))
    }

    /// Create a timer that fires at `deadline_ns` on the
    /// [`now_ns`](crate::now_ns) clock; a deadline in the past fires at once.
    ///
    /// # Errors
    /// [`Error::Range`] for `u64::MAX` (reserved by the library), otherwise
    /// as [`Timer::new`].
    pub fn new_at(deadline_ns: u64) -> Result<Timer, Error> {
        let mut out = std::ptr::null_mut();
        // SAFETY: out is a valid place for the result.
        check(unsafe { sys::tf_timer_new_at(deadline_ns, &mut out) })?;
        Ok(Timer::from_raw(out, None))
    }

    pub(crate) fn from_raw(raw: *mut sys::tf_timer, driver: Option<Driver>) -> Timer {
        Timer {
            // The library writes a live timer on success.
            raw: NonNull::new(raw).expect("tf_timer_new succeeded without a timer"),
            wakers: WakerCache::default(),
            driver,
        }
    }

    /// The [`Driver`] the timer was made on, or `None` for the default
    /// driver ([`Timer::new`], [`sleep`]).
    pub fn driver(&self) -> Option<&Driver> {
        self.driver.as_ref()
    }

    /// Re-arm the timer to fire `duration` from now (on its driver's
    /// clock), whatever its state
    /// (armed, fired or cancelled). A task waiting on it stays registered.
    ///
    /// # Errors
    /// [`Error::Range`] if the deadline does not fit; [`Error::Thread`] if
    /// the driver thread could not be restarted.
    pub fn reset(&mut self, duration: Duration) -> Result<(), Error> {
        let ns = duration_ns(duration)?;
        // SAFETY: self.raw is a live timer.
        check(unsafe { sys::tf_timer_reset(self.raw.as_ptr(), ns) }).map(drop)
    }

    /// Re-arm the timer to fire at `deadline_ns` on the
    /// [`now_ns`](crate::now_ns) clock (its driver's, for a timer made on a
    /// [`Driver`]).
    ///
    /// # Errors
    /// [`Error::Range`] for `u64::MAX`; [`Error::Thread`] as for
    /// [`reset`](Timer::reset).
    pub fn reset_at(&mut self, deadline_ns: u64) -> Result<(), Error> {
        // SAFETY: self.raw is a live timer.
        check(unsafe { sys::tf_timer_reset_at(self.raw.as_ptr(), deadline_ns) }).map(drop)
    }

    /// Disarm the timer: the waiting task is woken once, so that it polls
    /// again, and polls resolve to `Err(`[`Error::Canceled`]`)` until a reset.
    ///
    /// Returns `Ok(true)` if the timer was armed, `Ok(false)` if it had
    /// already fired or been cancelled (nothing changes then).
    ///
    /// # Errors
    /// Only if the library rejects the handle, which would be a bug.
    pub fn cancel(&mut self) -> Result<bool, Error> {
        // SAFETY: self.raw is a live timer.
        match unsafe { sys::tf_timer_cancel(self.raw.as_ptr()) } {
            sys::TF_ESTATE => Ok(false),
            status => check(status).map(|_| true),
        }
    }

    /// The deadline on the [`now_ns`](crate::now_ns) clock (its driver's,
    /// for a timer made on a [`Driver`]).
    ///
    /// # Errors
    /// Only if the library rejects the handle, which would be a bug.
    pub fn deadline_ns(&self) -> Result<u64, Error> {
        let mut deadline = 0;
        // SAFETY: self.raw is a live timer; deadline is a valid place.
        check(unsafe { sys::tf_timer_deadline(self.raw.as_ptr(), &mut deadline) })?;
        Ok(deadline)
    }
}

impl Timer {
    /// What a poll would return now, without polling: `Poll::Ready(Ok(()))`
    /// once fired, `Poll::Ready(Err(`[`Error::Canceled`]`))` once cancelled,
    /// `Poll::Pending` while armed. Unlike a poll it changes nothing: the
    /// waiting task stays registered (and is still woken), and a timer whose
    /// deadline has just passed stays pending until the driver thread fires
    /// it. The answer may change as soon as it is returned.
    ///
    /// ```
    /// use std::task::Poll;
    /// use std::time::Duration;
    /// # fn main() -> Result<(), timefuture::Error> {
    /// let mut timer = timefuture::Timer::new(Duration::from_secs(60))?;
    /// assert!(timer.peek().is_pending());
    /// timer.cancel()?;
    /// assert_eq!(timer.peek(), Poll::Ready(Err(timefuture::Error::Canceled)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn peek(&self) -> Poll<Result<(), Error>> {
        // SAFETY: self.raw is a live timer.
        match unsafe { sys::tf_timer_peek(self.raw.as_ptr()) } {
            sys::TF_PENDING => Poll::Pending,
            // TF_READY, TF_ECANCELED, or an error that would be a bug.
            status => Poll::Ready(check(status).map(drop)),
        }
    }
}

impl Future for Timer {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Timer is Unpin: the C object lives on the heap, not in self.
        let this = self.get_mut();
        let waker = match this.wakers.c_waker_for(cx.waker()) {
            Ok(waker) => waker,
            Err(error) => return Poll::Ready(Err(error)),
        };
        // SAFETY: self.raw is live; waker is borrowed from cx or the cache,
        // both of which outlive the call.
        match unsafe { sys::tf_timer_poll(this.raw.as_ptr(), waker) } {
            sys::TF_PENDING => Poll::Pending,
            status => {
                // Nothing is registered any more: let the task's waker go.
                this.wakers.clear();
                Poll::Ready(check(status).map(drop))
            }
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: we own the timer and never use it again. After this no
        // wake from it arrives, so the cached waker may go too.
        let status = unsafe { sys::tf_timer_free(self.raw.as_ptr()) };
        debug_assert_eq!(status, sys::TF_OK, "tf_timer_free failed");
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("deadline_ns", &self.deadline_ns())
            .field("driver", &self.driver)
            .finish()
    }
}

/// The future returned by [`sleep`], [`sleep_until`] and [`Driver::sleep`]:
/// a [`Timer`], or the error met while creating one, reported at the first
/// poll.
///
/// Like tokio's `Sleep` it can be moved to a new deadline
/// ([`reset`](Sleep::reset)) and asked for its deadline
/// ([`deadline`](Sleep::deadline)) and whether it has passed
/// ([`is_elapsed`](Sleep::is_elapsed)). It is `Unpin`, so these take
/// `&mut self`/`&self` rather than `Pin<&mut Self>`.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    timer: Result<Timer, Option<Error>>,
    /// The driver of a sleep made on one, kept for a sleep without a timer
    /// so that [`Sleep::reset`] can make one on the right clock.
    driver: Option<Driver>,
}

impl Sleep {
    pub(crate) fn from_result(timer: Result<Timer, Error>) -> Sleep {
        Sleep::on(None, timer)
    }

    pub(crate) fn on(driver: Option<Driver>, timer: Result<Timer, Error>) -> Sleep {
        Sleep {
            timer: timer.map_err(Some),
            driver,
        }
    }

    /// The timer behind this sleep, or the error that kept it from being
    /// created.
    pub fn into_timer(self) -> Result<Timer, Error> {
        self.timer.map_err(|error| error.unwrap_or(Error::State))
    }

    /// Now on the sleep's clock: its driver's, or the monotonic clock.
    fn clock_now(&self) -> u64 {
        match &self.driver {
            Some(driver) => driver.now(),
            None => crate::now_ns(),
        }
    }

    /// Move the sleep to `deadline`, whether it is pending or has completed
    /// (a completed sleep becomes pending again unless the new deadline has
    /// passed). A task waiting on it stays registered. A sleep whose timer
    /// could not be made gets one now.
    ///
    /// For a sleep on a [`Driver`] with another clock than
    /// [`Clock::Monotonic`](crate::Clock::Monotonic), the deadline lies as
    /// far from that clock's now as `deadline` is from `Instant::now()`.
    ///
    /// # Errors
    /// [`Error::Range`] if the deadline does not fit in 64-bit nanoseconds
    /// of the clock; otherwise as [`Timer::new`]. The sleep is unchanged
    /// then.
    pub fn reset(&mut self, deadline: Instant) -> Result<(), Error> {
        let ns = instant::to_ns(deadline, || self.clock_now())?;
        match &mut self.timer {
            Ok(timer) => timer.reset_at(ns),
            Err(_) => {
                let timer = match &self.driver {
                    Some(driver) => driver.timer_at(ns)?,
                    None => Timer::new_at(ns)?,
                };
                self.timer = Ok(timer);
                Ok(())
            }
        }
    }

    /// The instant the sleep completes at (see [`reset`](Sleep::reset) for
    /// the clock of a sleep on a [`Driver`]), or `None` if its timer could
    /// not be made.
    pub fn deadline(&self) -> Option<Instant> {
        let ns = self.timer.as_ref().ok()?.deadline_ns().ok()?;
        Some(instant::from_ns(ns, || self.clock_now()))
    }

    /// True once the deadline has passed on the sleep's clock (so a poll
    /// completes at once), also when the timer has not been fired yet. A
    /// sleep whose timer could not be made counts as elapsed too: its poll
    /// completes at once, with the error.
    pub fn is_elapsed(&self) -> bool {
        match &self.timer {
            Ok(timer) => {
                timer.peek() == Poll::Ready(Ok(()))
                    || timer.deadline_ns().map_or(false, |ns| ns <= self.clock_now())
            }
            Err(_) => true,
        }
    }
}

/// Sleep for `duration`: a future that resolves to `Ok(())` no earlier than
/// `duration` after this call, under any executor.
///
/// Creating the timer can fail (e.g. [`Error::Range`] for a duration beyond
/// 64-bit nanoseconds); the error is then the future's output.
///
/// ```no_run
/// use std::time::Duration;
/// # fn main() -> Result<(), timefuture::Error> {
/// timefuture::block_on(async {
///     timefuture::sleep(Duration::from_millis(10)).await?;
///     Ok::<(), timefuture::Error>(())
/// })??;
/// # Ok(())
/// # }
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::from_result(Timer::new(duration))
}

/// Sleep until `deadline`: a future that resolves to `Ok(())` once
/// `Instant::now() >= deadline`, never before; a deadline in the past
/// completes at the first poll.
///
/// `Instant` reads `CLOCK_MONOTONIC` on Linux, the clock of the library's
/// default driver, so the sleep ends at that very instant (up to the
/// nanoseconds between reading the two clocks, which only ever make it
/// later).
///
/// ```
/// use std::time::{Duration, Instant};
/// # fn main() -> Result<(), timefuture::Error> {
/// let until = Instant::now() + Duration::from_millis(2);
/// timefuture::block_on(timefuture::sleep_until(until))??;
/// assert!(Instant::now() >= until);
/// # Ok(())
/// # }
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::from_result(instant::to_ns(deadline, crate::now_ns).and_then(Timer::new_at))
}

impl Future for Sleep {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().timer {
            Ok(timer) => Pin::new(timer).poll(cx),
            // The creation error is reported once; a poll after that is a
            // poll after completion.
            Err(error) => Poll::Ready(Err(error.take().unwrap_or(Error::State))),
        }
    }
}
