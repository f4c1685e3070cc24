// SPDX-License-Identifier: MIT
//! Safe Rust binding of libtimefuture: timer futures served by one driver
//! thread (nanosecond deadlines, never early) and a task executor, behind
//! the library's stable C ABI.
//!
//! - [`Timer`] and [`sleep`] are [`Future`](std::future::Future)s that work
//!   under any executor: the task's [`Waker`](std::task::Waker) is handed to
//!   the C timer as a custom C waker.
//! - [`Executor`] runs Rust futures as tasks of the library's executor (on
//!   its worker threads, or on the threads that call
//!   [`Executor::run`]/[`Executor::block_on`]); [`Executor::spawn`] returns
//!   a [`JoinHandle`].
//! - [`Driver`] is a timer driver of its own: a manual clock that only
//!   [`Driver::advance`] moves (deterministic tests, like a paused clock),
//!   boot time, or a host mode that the caller's event loop advances.
//! - [`Interval`] ([`interval`](fn@interval), [`Driver::interval`]) ticks a period
//!   apart without drift, with tokio's [`MissedTickBehavior`]s; built on
//!   the library's experimental interval API.
//! - [`timeout`](fn@timeout) and [`timeout_at`] race a future with a deadline
//!   ([`Elapsed`] when the deadline wins); [`sleep_until`] sleeps until a
//!   [`std::time::Instant`] (on Linux `Instant` and the library share
//!   `CLOCK_MONOTONIC`).
//! - [`block_on`] runs one future on the calling thread.
//! - Failures are [`Error`]s, one variant per status code of the C library.
//!
//! ```
//! use std::time::{Duration, Instant};
//! # fn main() -> Result<(), timefuture::Error> {
//! let executor = timefuture::Executor::new(1)?;
//! let start = Instant::now();
//! let task = executor.spawn(async {
//!     timefuture::sleep(Duration::from_millis(2)).await?;
//!     Ok::<_, timefuture::Error>("slept")
//! })?;
//! assert_eq!(executor.block_on(task)???, "slept");
//! assert!(start.elapsed() >= Duration::from_millis(2));
//! # Ok(())
//! # }
//! ```
//!
//! # Linking
//! The build script finds the library with the `pkg-config` binary, or in
//! the directory named by the `TIMEFUTURE_BUILD_DIR` environment variable
//! (a CMake build directory holding `libtimefuture.so`), which takes
//! precedence when set.

#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(rust_2018_idioms)]

mod driver;
mod error;
mod executor;
mod instant;
mod interval;
mod pool;
mod sys;
mod timeout;
mod timer;
mod waker;

use std::ffi::CStr;

pub use driver::{Clock, Driver, DriverOptions, Mode};
pub use error::Error;
pub use executor::{block_on, Executor, JoinHandle};
pub use interval::{interval, interval_at, Interval, MissedTickBehavior, Tick};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
pub use timer::{sleep, sleep_until, Sleep, Timer};

/// The library's monotonic clock (`CLOCK_MONOTONIC`) in nanoseconds: the
/// clock of every timer deadline. Only differences are meaningful.
pub fn now_ns() -> u64 {
    // SAFETY: no preconditions.
    unsafe { sys::tf_now_ns() }
}

/// The loaded library's version as `(major, minor, patch)`.
pub fn version() -> (u32, u32, u32) {
    // SAFETY: no preconditions.
    let number = unsafe { sys::tf_version() };
    (number >> 16, (number >> 8) & 0xff, number & 0xff)
}

/// The loaded library's version string, such as `"1.0.0"`.
pub fn version_string() -> &'static str {
    // SAFETY: tf_version_string returns a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(sys::tf_version_string()) };
    text.to_str().unwrap_or("(version is not UTF-8)")
}
