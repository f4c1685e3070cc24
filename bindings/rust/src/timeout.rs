// SPDX-License-Identifier: MIT
//! A future raced with a deadline, like tokio's `timeout`: the crate's own
//! composition of the inner future and a [`Timer`], with no C state of its
//! own (the library's `tf_timeout` would have to own the Rust future
//! through C callbacks for nothing gained).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::Driver;
use crate::error::Error;
use crate::instant;
use crate::timer::Timer;

/// The error of a [`Timeout`] whose deadline passed before its future
/// completed. Converts into [`Error::TimedOut`] for `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for Error {
    fn from(_: Elapsed) -> Error {
        Error::TimedOut
    }
}

/// The future returned by [`timeout`](fn@timeout), [`timeout_at`], [`Driver::timeout`]
/// and [`Driver::timeout_at`]: the inner future's output as `Ok`, or
/// `Err(`[`Elapsed`]`)` if the deadline passes first.
///
/// Each poll polls the inner future **first**: an inner future that is
/// ready by the time it is polled wins, even when the deadline has passed
/// too, so a completed future's output is never lost to a timeout. The
/// inner future is owned by the `Timeout` and dropped with it, exactly
/// once (also when it was the deadline that won).
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    future: F,
    /// `None`: a deadline too far to be represented, which never passes.
    deadline: Option<Timer>,
}

impl<F> Timeout<F> {
    fn new(future: F, timer: Result<Timer, Error>) -> Timeout<F> {
        let deadline = match timer {
            Ok(timer) => Some(timer),
            // Beyond the 64-bit clock (e.g. Duration::MAX, a common
            // "no timeout"): a deadline that never comes.
            Err(Error::Range) => None,
            Err(error) => panic!("timefuture: could not make the timer of a timeout: {error}"),
        };
        Timeout { future, deadline }
    }

    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The inner future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// The inner future, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        // SAFETY: the inner future is structurally pinned: it is never
        // moved out of a pinned Timeout (no Drop impl or method does).
        unsafe { self.map_unchecked_mut(|timeout| &mut timeout.future) }
    }

    /// The inner future, giving up the deadline.
    pub fn into_inner(self) -> F {
        self.future
    }
}

/// Run `future` with a deadline `duration` from now on the library's
/// default driver: the output is `Ok(output)`, or `Err(`[`Elapsed`]`)` if
/// `duration` passes first. A duration beyond 64-bit nanoseconds (such as
/// `Duration::MAX`) never passes.
///
/// ```
/// use std::time::Duration;
/// # fn main() -> Result<(), timefuture::Error> {
/// let slow = timefuture::sleep(Duration::from_secs(3600));
/// let result = timefuture::block_on(timefuture::timeout(Duration::from_millis(2), slow))?;
/// assert!(result.is_err()); // Elapsed
/// let fast = async { 7 };
/// let result = timefuture::block_on(timefuture::timeout(Duration::from_secs(3600), fast))?;
/// assert_eq!(result, Ok(7));
/// # Ok(())
/// # }
/// ```
///
/// # Panics
/// If the library cannot make the timer (out of memory, or its driver
/// thread could not be started), or, when polled, cannot register the
/// task's waker (out of memory): the future's output has no room for
/// those errors.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout::new(future, Timer::new(duration))
}

/// Run `future` with a deadline at `deadline` on the library's default
/// driver, whose clock is `Instant`'s (see [`sleep_until`](crate::sleep_until));
/// a deadline in the past still lets a ready future complete.
///
/// # Panics
/// As [`timeout`](fn@timeout).
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    let timer = instant::to_ns(deadline, crate::now_ns).and_then(Timer::new_at);
    Timeout::new(future, timer)
}

impl Driver {
    /// [`timeout`](fn@timeout) on this driver's clock: the deadline is `duration` from
    /// [`now`](Driver::now).
    ///
    /// # Panics
    /// As [`timeout`](fn@timeout).
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout::new(future, self.timer(duration))
    }

    /// [`timeout`](fn@timeout) with a deadline at `deadline_ns` of this driver's clock.
    ///
    /// # Panics
    /// As [`timeout`](fn@timeout).
    pub fn timeout_at<F: Future>(&self, deadline_ns: u64, future: F) -> Timeout<F> {
        Timeout::new(future, self.timer_at(deadline_ns))
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (see get_pin_mut); the
        // timer is Unpin and not pinned, so a plain &mut to it is fine.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above: `this.future` is never moved.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match &mut this.deadline {
            Some(timer) => match Pin::new(timer).poll(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(Err(Elapsed(()))),
                // Only a failure to register the waker (out of memory): not
                // a timeout, and the output has no room for it.
                Poll::Ready(Err(error)) => {
                    panic!("timefuture: could not wait for a timeout's deadline: {error}")
                }
                Poll::Pending => Poll::Pending,
            },
            None => Poll::Pending,
        }
    }
}
