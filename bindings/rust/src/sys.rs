// SPDX-License-Identifier: MIT
//! Raw declarations of the C ABI (`timefuture.h`), kept private: the crate's
//! public API wraps every one of them safely.
//!
//! The layouts mirror the header exactly; the versioned tables carry their
//! own size so that a newer library accepts them.

#![allow(non_camel_case_types, dead_code)]

// std::os::raw: std::ffi has these aliases only since Rust 1.64.
use std::os::raw::{c_char, c_int, c_void};

pub const TF_OK: c_int = 0;
pub const TF_PENDING: c_int = 0;
pub const TF_READY: c_int = 1;
pub const TF_EINVAL: c_int = -1;
pub const TF_EHANDLE: c_int = -2;
pub const TF_ENOMEM: c_int = -3;
pub const TF_ERANGE: c_int = -4;
pub const TF_ESHUTDOWN: c_int = -5;
pub const TF_ETIMEDOUT: c_int = -6;
pub const TF_EEMPTY: c_int = -7;
pub const TF_ECANCELED: c_int = -8;
pub const TF_ESTATE: c_int = -9;
pub const TF_EBUSY: c_int = -10;
pub const TF_ETHREAD: c_int = -11;
pub const TF_ESYS: c_int = -12;
pub const TF_EVERSION: c_int = -13;
pub const TF_EFORK: c_int = -14;

pub const TF_TIMEOUT_INFINITE: u64 = u64::MAX;

pub const TF_CLOCK_MONOTONIC: u32 = 0;
pub const TF_CLOCK_BOOTTIME: u32 = 1;
pub const TF_CLOCK_MANUAL: u32 = 2;
pub const TF_DRIVER_MODE_THREAD: u32 = 0;
pub const TF_DRIVER_MODE_HOST: u32 = 1;
pub const TF_DRIVER_NOW: u64 = u64::MAX;

/// Opaque `tf_driver`.
#[repr(C)]
pub struct tf_driver {
    _private: [u8; 0],
}

/// `tf_driver_options`: a versioned table (`size` first).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tf_driver_options {
    pub size: u32,
    pub clock: u32,
    pub mode: u32,
    pub reserved: u32,
    pub slack_ns: u64,
    pub start_ns: u64,
}

/// Opaque `tf_waker`.
#[repr(C)]
pub struct tf_waker {
    _private: [u8; 0],
}

/// Opaque `tf_timer`.
#[repr(C)]
pub struct tf_timer {
    _private: [u8; 0],
}

/// Opaque `tf_executor`.
#[repr(C)]
pub struct tf_executor {
    _private: [u8; 0],
}

/// `tf_allocator`: the allocator table of `tf_set_allocator`.
#[repr(C)]
pub struct tf_allocator {
    pub size: u32,
    pub reserved: u32,
    pub alloc: unsafe extern "C" fn(user_data: *mut c_void, n: usize) -> *mut c_void,
    pub free: unsafe extern "C" fn(user_data: *mut c_void, ptr: *mut c_void),
    pub user_data: *mut c_void,
}

/// `tf_waker_vtable`: the caller-made waker's behaviour.
#[repr(C)]
pub struct tf_waker_vtable {
    pub size: u32,
    pub reserved: u32,
    pub clone: unsafe extern "C" fn(data: *mut c_void) -> *mut c_void,
    pub wake: unsafe extern "C" fn(data: *mut c_void),
    pub wake_by_ref: unsafe extern "C" fn(data: *mut c_void),
    pub drop: unsafe extern "C" fn(data: *mut c_void),
}

pub type tf_poll_fn = unsafe extern "C" fn(state: *mut c_void, waker: *const tf_waker) -> c_int;
pub type tf_drop_fn = unsafe extern "C" fn(state: *mut c_void);

extern "C" {
    pub fn tf_version() -> u32;
    pub fn tf_version_string() -> *const c_char;
    pub fn tf_strerror(status: c_int) -> *const c_char;
    pub fn tf_now_ns() -> u64;

    pub fn tf_waker_new(
        vtable: *const tf_waker_vtable,
        data: *mut c_void,
        out: *mut *mut tf_waker,
    ) -> c_int;
    pub fn tf_waker_noop() -> *const tf_waker;
    pub fn tf_waker_clone(waker: *const tf_waker, out: *mut *mut tf_waker) -> c_int;
    pub fn tf_waker_wake(waker: *mut tf_waker) -> c_int;
    pub fn tf_waker_wake_by_ref(waker: *const tf_waker) -> c_int;
    pub fn tf_waker_drop(waker: *mut tf_waker) -> c_int;
    pub fn tf_waker_will_wake(a: *const tf_waker, b: *const tf_waker) -> c_int;

    pub fn tf_timer_new(duration_ns: u64, out: *mut *mut tf_timer) -> c_int;
    pub fn tf_timer_new_at(deadline_ns: u64, out: *mut *mut tf_timer) -> c_int;
    pub fn tf_timer_poll(timer: *mut tf_timer, waker: *const tf_waker) -> c_int;
    pub fn tf_timer_reset(timer: *mut tf_timer, duration_ns: u64) -> c_int;
    pub fn tf_timer_reset_at(timer: *mut tf_timer, deadline_ns: u64) -> c_int;
    pub fn tf_timer_cancel(timer: *mut tf_timer) -> c_int;
    pub fn tf_timer_deadline(timer: *const tf_timer, deadline_ns: *mut u64) -> c_int;
    pub fn tf_timer_free(timer: *mut tf_timer) -> c_int;
    /// Since 1.1 (TF_1.1).
    pub fn tf_timer_peek(timer: *const tf_timer) -> c_int;

    // Since 1.2.
    pub fn tf_driver_default() -> *mut tf_driver;
    pub fn tf_driver_new(options: *const tf_driver_options, out: *mut *mut tf_driver) -> c_int;
    pub fn tf_driver_free(driver: *mut tf_driver) -> c_int;
    pub fn tf_driver_now(driver: *const tf_driver, now_ns: *mut u64) -> c_int;
    pub fn tf_driver_next_deadline(driver: *mut tf_driver, deadline_ns: *mut u64) -> c_int;
    pub fn tf_driver_advance(driver: *mut tf_driver, now_ns: u64, fired: *mut u64) -> c_int;
    pub fn tf_driver_fd(driver: *mut tf_driver, fd: *mut c_int) -> c_int;
    pub fn tf_timer_new_on(driver: *mut tf_driver, duration_ns: u64, out: *mut *mut tf_timer) -> c_int;
    pub fn tf_timer_new_at_on(driver: *mut tf_driver, deadline_ns: u64, out: *mut *mut tf_timer)
        -> c_int;
    pub fn tf_timer_driver(timer: *const tf_timer, out: *mut *mut tf_driver) -> c_int;

    /// Declared for completeness (one list of the ABI); the crate leaves
    /// the process's allocator to the program.
    pub fn tf_set_allocator(allocator: *const tf_allocator) -> c_int;

    pub fn tf_executor_new(threads: u32, out: *mut *mut tf_executor) -> c_int;
    pub fn tf_executor_free(executor: *mut tf_executor) -> c_int;
    pub fn tf_executor_spawn(
        executor: *mut tf_executor,
        poll: tf_poll_fn,
        drop: Option<tf_drop_fn>,
        state: *mut c_void,
    ) -> c_int;
    pub fn tf_executor_run(executor: *mut tf_executor) -> c_int;
    pub fn tf_executor_run_ready(executor: *mut tf_executor, polled: *mut u64) -> c_int;
    pub fn tf_executor_count(
        executor: *mut tf_executor,
        tasks: *mut u64,
        external: *mut u64,
    ) -> c_int;
    pub fn tf_executor_spawn_external(executor: *mut tf_executor, tag: u64) -> c_int;
    pub fn tf_executor_next(
        executor: *mut tf_executor,
        timeout_ns: u64,
        tag: *mut u64,
        waker: *mut *const tf_waker,
    ) -> c_int;
    pub fn tf_executor_report(
        executor: *mut tf_executor,
        waker: *const tf_waker,
        result: c_int,
    ) -> c_int;
    pub fn tf_executor_fd(executor: *mut tf_executor, fd: *mut c_int) -> c_int;
    /// Since 1.1 (TF_1.1).
    pub fn tf_executor_drain(
        executor: *mut tf_executor,
        tags: *mut u64,
        wakers: *mut *const tf_waker,
        capacity: usize,
        taken: *mut usize,
    ) -> c_int;

    pub fn tf_block_on(poll: tf_poll_fn, state: *mut c_void) -> c_int;
}

// ---------------------------------------------------------------------------
// Experimental tier (`#define TF_EXPERIMENTAL`, symbol node
// TF_EXPERIMENTAL_1.3): not part of the stable list that
// scripts/check-abi-list.py compares this file with. These may change in any
// later release; the crate ships with the library of the same version and
// keeps its own API stable over them.
// ---------------------------------------------------------------------------

/// Opaque `tf_interval`.
#[repr(C)]
pub struct tf_interval {
    _private: [u8; 0],
}

pub const TF_MISSED_TICK_BURST: u32 = 0;
pub const TF_MISSED_TICK_DELAY: u32 = 1;
pub const TF_MISSED_TICK_SKIP: u32 = 2;

extern "C" {
    pub fn tf_interval_new_on(
        driver: *mut tf_driver,
        first_deadline_ns: u64,
        period_ns: u64,
        missed_tick_policy: u32,
        out: *mut *mut tf_interval,
    ) -> c_int;
    pub fn tf_interval_poll(interval: *mut tf_interval, waker: *const tf_waker, ticks: *mut u64)
        -> c_int;
    pub fn tf_interval_reset(interval: *mut tf_interval) -> c_int;
    pub fn tf_interval_reset_at(interval: *mut tf_interval, deadline_ns: u64) -> c_int;
    pub fn tf_interval_cancel(interval: *mut tf_interval) -> c_int;
    pub fn tf_interval_deadline(interval: *const tf_interval, deadline_ns: *mut u64) -> c_int;
    pub fn tf_interval_free(interval: *mut tf_interval) -> c_int;
}
