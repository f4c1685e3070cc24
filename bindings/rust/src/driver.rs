// SPDX-License-Identifier: MIT
//! Timer drivers of their own: a manual clock for deterministic tests (like
//! a paused clock that only moves when told), boot time, or a host mode
//! that the caller's event loop advances instead of a thread.

use std::os::unix::io::RawFd;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{check, Error};
use crate::sys;
use crate::interval::{Interval, MissedTickBehavior};
use crate::timer::{duration_ns, Sleep, Timer};

/// The clock a [`Driver`] keeps its deadlines on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// `CLOCK_MONOTONIC`, the clock of [`now_ns`](crate::now_ns) and of the
    /// default driver.
    Monotonic,
    /// `CLOCK_BOOTTIME`: like `Monotonic` but counting time suspended, so a
    /// deadline that passes during a suspend fires on resume.
    Boottime,
    /// A clock that moves only when [`Driver::advance`] sets it. Needs
    /// [`Mode::Host`].
    Manual,
}

/// Who fires a [`Driver`]'s timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A thread of the driver's own sleeps until the next deadline.
    Thread,
    /// No thread: the caller fires due timers with [`Driver::advance`],
    /// e.g. when [`Driver::fd`] turns readable.
    Host,
}

/// How to make a [`Driver`] ([`Driver::new`]).
///
/// `DriverOptions::default()` is what the default driver uses: the
/// monotonic clock, a thread, no slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverOptions {
    /// The clock of the deadlines.
    pub clock: Clock,
    /// Who fires the timers.
    pub mode: Mode,
    /// How late the driver may wake, so that timers due within this window
    /// fire together with fewer wake-ups (timers never fire early).
    pub slack: Duration,
    /// [`Clock::Manual`] only: the clock's initial time in nanoseconds.
    pub start_ns: u64,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            clock: Clock::Monotonic,
            mode: Mode::Thread,
            slack: Duration::ZERO,
            start_ns: 0,
        }
    }
}

/// The library's driver, freed when the last handle or timer lets go.
pub(crate) struct DriverInner {
    raw: *mut sys::tf_driver,
    options: DriverOptions,
}

// SAFETY: every tf_driver function may be called from any thread;
// tf_driver_free runs in Drop, when no handle or timer is left.
unsafe impl Send for DriverInner {}
// SAFETY: as above; nothing is mutated through &DriverInner on our side.
unsafe impl Sync for DriverInner {}

impl Drop for DriverInner {
    fn drop(&mut self) {
        // No Timer of this driver is left: each holds an Arc of it and
        // frees its C timer before letting go. The library still refuses
        // (TF_EBUSY) when the last reference goes inside one of this
        // driver's own wakes (a waker that drops its task's timers when
        // woken); freeing later is impossible then, so the driver is left
        // allocated rather than freed under the library's feet.
        // SAFETY: raw is a live driver that nothing else uses any more.
        let status = unsafe { sys::tf_driver_free(self.raw) };
        debug_assert!(
            status == sys::TF_OK || status == sys::TF_EBUSY,
            "tf_driver_free failed: {status}"
        );
    }
}

/// A timer driver: its own clock, timing wheel and timer memory.
///
/// Timers made by [`Driver::timer`], [`Driver::timer_at`] and
/// [`Driver::sleep`] are ordinary [`Timer`]s and [`Sleep`]s (any executor,
/// reset, cancel) whose deadlines are on this driver's clock
/// ([`Driver::now`]); so are the ticks of [`Driver::interval`] and the
/// deadlines of [`Driver::timeout`].
///
/// A `Driver` is a shared handle: clones refer to the same driver, and
/// every timer made on it holds a reference too, so the library driver is
/// freed only after the last handle *and* the last timer are dropped, in
/// any order.
///
/// Testing with the manual clock: nothing fires until the test says so.
///
/// ```
/// use std::task::Poll;
/// use std::time::Duration;
/// # fn main() -> Result<(), timefuture::Error> {
/// let driver = timefuture::Driver::manual(0)?;
/// let mut timer = driver.timer(Duration::from_secs(3600))?;
/// assert!(timer.peek().is_pending());
/// assert_eq!(driver.advance_by(Duration::from_secs(3599))?, 0);
/// assert_eq!(driver.advance_by(Duration::from_secs(1))?, 1); // an hour, at once
/// assert_eq!(driver.now(), 3600 * 1_000_000_000);
/// timefuture::block_on(&mut timer)??;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Driver {
    inner: Arc<DriverInner>,
}

impl Driver {
    /// Make a driver. A [`Mode::Thread`] driver starts its thread when its
    /// first timer is armed.
    ///
    /// # Errors
    /// [`Error::Invalid`] for [`Clock::Manual`] with [`Mode::Thread`];
    /// [`Error::Range`] for a slack beyond 64-bit nanoseconds or a start of
    /// `u64::MAX`; [`Error::NoMemory`] when out of memory or when 1024
    /// drivers exist; [`Error::System`] if its timerfd could not be made.
    pub fn new(options: DriverOptions) -> Result<Driver, Error> {
        let raw_options = sys::tf_driver_options {
            size: std::mem::size_of::<sys::tf_driver_options>() as u32,
            clock: match options.clock {
                Clock::Monotonic => sys::TF_CLOCK_MONOTONIC,
                Clock::Boottime => sys::TF_CLOCK_BOOTTIME,
                Clock::Manual => sys::TF_CLOCK_MANUAL,
            },
            mode: match options.mode {
                Mode::Thread => sys::TF_DRIVER_MODE_THREAD,
                Mode::Host => sys::TF_DRIVER_MODE_HOST,
            },
            reserved: 0,
            slack_ns: duration_ns(options.slack)?,
            start_ns: options.start_ns,
        };
        let mut raw = std::ptr::null_mut();
        // SAFETY: the options are a complete table; raw is a valid place.
        check(unsafe { sys::tf_driver_new(&raw_options, &mut raw) })?;
        assert!(!raw.is_null(), "tf_driver_new succeeded without a driver");
        Ok(Driver {
            inner: Arc::new(DriverInner { raw, options }),
        })
    }

    /// A host-mode driver on the manual clock, starting at `start_ns`.
    ///
    /// # Errors
    /// As [`Driver::new`].
    pub fn manual(start_ns: u64) -> Result<Driver, Error> {
        Driver::new(DriverOptions {
            clock: Clock::Manual,
            mode: Mode::Host,
            start_ns,
            ..DriverOptions::default()
        })
    }

    /// The options the driver was made with.
    pub fn options(&self) -> DriverOptions {
        self.inner.options
    }

    pub(crate) fn raw(&self) -> *mut sys::tf_driver {
        self.inner.raw
    }

    /// The driver's clock in nanoseconds: for [`Clock::Manual`], the time of
    /// the last [`advance`](Driver::advance) (or the start time).
    pub fn now(&self) -> u64 {
        let mut now = 0;
        // SAFETY: the driver is live; now is a valid place.
        let status = unsafe { sys::tf_driver_now(self.raw(), &mut now) };
        debug_assert_eq!(status, sys::TF_OK, "tf_driver_now failed");
        now
    }

    /// When the driver next needs to advance, or `None` when no timer is
    /// armed. No timer is due before it; it may come before the earliest
    /// deadline (advancing to it then fires nothing and the next call gives
    /// a later time), so "advance to the next deadline until something
    /// fires" loops terminate.
    pub fn next_deadline(&self) -> Option<u64> {
        let mut deadline = u64::MAX;
        // SAFETY: the driver is live; deadline is a valid place.
        let status = unsafe { sys::tf_driver_next_deadline(self.raw(), &mut deadline) };
        debug_assert_eq!(status, sys::TF_OK, "tf_driver_next_deadline failed");
        if deadline == u64::MAX {
            None
        } else {
            Some(deadline)
        }
    }

    /// Fire every timer due at `to_ns` and return how many fired; their
    /// tasks' wakers are woken on this thread. A [`Clock::Manual`] clock is
    /// set to `to_ns` first.
    ///
    /// # Errors
    /// [`Error::State`] in [`Mode::Thread`]; [`Error::Range`] if `to_ns` is
    /// before the previous advance (time never goes backwards), after a
    /// real clock's reading (timers would fire early), or `u64::MAX`;
    /// [`Error::Busy`] from inside one of this driver's own wakes. Nothing
    /// fires then.
    pub fn advance(&self, to_ns: u64) -> Result<u64, Error> {
        if to_ns == sys::TF_DRIVER_NOW {
            // The library's "now" marker, not a time: see advance_now.
            return Err(Error::Range);
        }
        self.advance_raw(to_ns)
    }

    /// [`advance`](Driver::advance) by `by` from [`now`](Driver::now): for
    /// the manual clock.
    ///
    /// # Errors
    /// [`Error::Range`] if the time does not fit in 64 bits; otherwise as
    /// [`advance`](Driver::advance).
    pub fn advance_by(&self, by: Duration) -> Result<u64, Error> {
        let to = self.now().checked_add(duration_ns(by)?).ok_or(Error::Range)?;
        self.advance(to)
    }

    /// Fire the timers due at the driver's clock as it reads now (for a
    /// real clock, when [`fd`](Driver::fd) turns readable; for the manual
    /// clock, without moving it).
    ///
    /// # Errors
    /// As [`advance`](Driver::advance).
    pub fn advance_now(&self) -> Result<u64, Error> {
        self.advance_raw(sys::TF_DRIVER_NOW)
    }

    fn advance_raw(&self, to_ns: u64) -> Result<u64, Error> {
        let mut fired = 0;
        // SAFETY: the driver is live; fired is a valid place.
        check(unsafe { sys::tf_driver_advance(self.raw(), to_ns, &mut fired) })?;
        Ok(fired)
    }

    /// A descriptor that becomes readable when a [`Mode::Host`] driver on a
    /// real clock needs [`advance_now`](Driver::advance_now): watch it with
    /// poll, epoll or an event loop. Owned by the driver: do not read, close
    /// or change it; it stays valid while any handle or timer of the driver
    /// exists.
    ///
    /// # Errors
    /// [`Error::State`] in [`Mode::Thread`] or on [`Clock::Manual`].
    pub fn fd(&self) -> Result<RawFd, Error> {
        let mut fd = -1;
        // SAFETY: the driver is live; fd is a valid place.
        check(unsafe { sys::tf_driver_fd(self.raw(), &mut fd) })?;
        Ok(fd)
    }

    /// A [`Timer`] on this driver that fires `duration` from
    /// [`now`](Driver::now).
    ///
    /// # Errors
    /// [`Error::Range`] if the deadline does not fit in 64 bits;
    /// [`Error::NoMemory`] or [`Error::Thread`] as for [`Timer::new`].
    pub fn timer(&self, duration: Duration) -> Result<Timer, Error> {
        let ns = duration_ns(duration)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: the driver is live (the timer keeps it so); out is valid.
        check(unsafe { sys::tf_timer_new_on(self.raw(), ns, &mut out) })?;
        Ok(Timer::from_raw(out, Some(self.clone())))
    }

    /// A [`Timer`] on this driver that fires at `deadline_ns` of its clock;
    /// a deadline not after [`now`](Driver::now) fires at once.
    ///
    /// # Errors
    /// [`Error::Range`] for `u64::MAX`; otherwise as [`timer`](Driver::timer).
    pub fn timer_at(&self, deadline_ns: u64) -> Result<Timer, Error> {
        let mut out = std::ptr::null_mut();
        // SAFETY: as in timer.
        check(unsafe { sys::tf_timer_new_at_on(self.raw(), deadline_ns, &mut out) })?;
        Ok(Timer::from_raw(out, Some(self.clone())))
    }

    /// Sleep for `duration` on this driver's clock; as
    /// [`sleep`](crate::sleep), a creation error is the future's output.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::on(Some(self.clone()), self.timer(duration))
    }

    /// An [`Interval`] on this driver whose first tick is at
    /// [`now`](Driver::now) and the following ones `period` apart.
    ///
    /// # Errors
    /// As [`interval`](fn@crate::interval).
    pub fn interval(&self, period: Duration) -> Result<Interval, Error> {
        self.interval_at(self.now(), period)
    }

    /// An [`Interval`] on this driver whose first tick is due at
    /// `start_ns` of its clock (at once if not after
    /// [`now`](Driver::now)) and the following ones `period` apart.
    ///
    /// # Errors
    /// As [`interval`](fn@crate::interval); [`Error::Range`] also for a start
    /// of `u64::MAX`.
    pub fn interval_at(&self, start_ns: u64, period: Duration) -> Result<Interval, Error> {
        Interval::new(Some(self.clone()), start_ns, period, MissedTickBehavior::default())
    }

    /// True if both handles refer to the same driver.
    pub fn same(&self, other: &Driver) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("options", &self.inner.options)
            .field("now", &self.now())
            .finish()
    }
}
