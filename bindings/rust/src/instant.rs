// SPDX-License-Identifier: MIT
//! [`Instant`]s on the library's clocks.
//!
//! On Linux `std::time::Instant` reads `CLOCK_MONOTONIC`, the clock of
//! [`now_ns`](crate::now_ns) and of the default driver, but it does not
//! expose its nanoseconds. An instant is therefore carried over by its
//! distance from now: read `Instant::now()` and the target clock back to
//! back and shift by the difference. For the monotonic clock that is the
//! same point in time up to the gap between the two reads, and the order
//! of the reads makes the error fall on the safe side (a deadline converted
//! to nanoseconds is never earlier than the instant; an instant converted
//! back is never earlier than the deadline). For other clocks (boot time,
//! a manual clock) it means "as far from the clock's now as the instant is
//! from `Instant::now()`".

use std::time::Instant;

use crate::error::Error;
use crate::timer::duration_ns;

/// `instant` in nanoseconds of the clock that `clock_now` reads;
/// [`Error::Range`] beyond 64 bits. An instant in the past gives a time in
/// the clock's past (0 at the earliest).
pub(crate) fn to_ns(instant: Instant, clock_now: impl FnOnce() -> u64) -> Result<u64, Error> {
    // Instant first: the clock read after it is no earlier, so the result
    // is no earlier than the instant.
    let base = Instant::now();
    let now = clock_now();
    match instant.checked_duration_since(base) {
        Some(ahead) => now.checked_add(duration_ns(ahead)?).ok_or(Error::Range),
        None => Ok(now.saturating_sub(duration_ns(base.duration_since(instant))?)),
    }
}

/// The [`Instant`] of `ns` on the clock that `clock_now` reads.
pub(crate) fn from_ns(ns: u64, clock_now: impl FnOnce() -> u64) -> Instant {
    // Clock first, Instant second: the result is no earlier than `ns`.
    let now = clock_now();
    let base = Instant::now();
    if ns >= now {
        let ahead = std::time::Duration::from_nanos(ns - now);
        // Beyond what Instant holds: the farthest it can say.
        base.checked_add(ahead).unwrap_or_else(|| far_future(base))
    } else {
        let behind = std::time::Duration::from_nanos(now - ns);
        base.checked_sub(behind).unwrap_or(base)
    }
}

/// An instant far enough ahead to stand for "never" (about 30 years).
fn far_future(base: Instant) -> Instant {
    let mut step = std::time::Duration::from_secs(86_400 * 365 * 30);
    loop {
        if let Some(instant) = base.checked_add(step) {
            return instant;
        }
        step /= 2;
    }
}
