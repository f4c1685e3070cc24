/* SPDX-License-Identifier: MIT */
/* Monotonic clock helpers. */
#ifndef TF_CLOCK_H
#define TF_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The library's "now" (and tf_now_ns()): the hook's value when one is set. */
uint64_t tf__clock_now(void);
/* A kernel clock in nanoseconds, whatever the hook. */
uint64_t tf__clock_read(clockid_t id);
/* CLOCK_MONOTONIC, whatever the hook. */
uint64_t tf__clock_real(void);
void tf__clock_to_timespec(uint64_t ns, struct timespec *ts);

/* Test hook (static library only): every clock read of the library, timers
 * and executor timeouts alike, returns now() instead; NULL restores the
 * real clock. While it is set, the timer driver advances only when asked
 * (tf__driver_sync), so a test decides exactly when, and at which time,
 * timers fire. The hook's time must never go backwards, and must not be
 * behind the real clock when the hook is set (the wheel's time is never
 * ahead of the clock); when removing it, wait until the real clock has
 * passed the fake one. A frozen clock makes executor timeouts never
 * expire, so such tests wait on timers only. */
typedef uint64_t (*tf__clock_fn)(void);
void tf__clock_set_hook(tf__clock_fn now);
int tf__clock_hooked(void);

#endif
