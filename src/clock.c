/* SPDX-License-Identifier: MIT */
/* The library's clock: CLOCK_MONOTONIC in nanoseconds, or a test's. */
#include <time.h>

#include "clock.h"
#include "internal.h"

/* Set only by tests (static library): one predictable branch otherwise. */
static _Atomic(tf__clock_fn) clock_hook;

void tf__clock_set_hook(tf__clock_fn now) { atomic_store(&clock_hook, now); }

int tf__clock_hooked(void) {
    return atomic_load_explicit(&clock_hook, memory_order_relaxed) != NULL;
}

uint64_t tf__clock_read(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

uint64_t tf__clock_real(void) { return tf__clock_read(CLOCK_MONOTONIC); }

uint64_t tf__clock_now(void) {
    tf__clock_fn hook = atomic_load_explicit(&clock_hook, memory_order_acquire);
    if (TF_UNLIKELY(hook != NULL)) return hook();
    return tf__clock_real();
}

void tf__clock_to_timespec(uint64_t ns, struct timespec *ts) {
    ts->tv_sec = (time_t)(ns / UINT64_C(1000000000));
    ts->tv_nsec = (long)(ns % UINT64_C(1000000000));
}

uint64_t tf_now_ns(void) { return tf__clock_now(); }
