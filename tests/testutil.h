/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests: a counting custom waker that threads can
 * wait on, and small time utilities. */
#ifndef TF_TESTUTIL_H
#define TF_TESTUTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "timefuture.h"

/* Defined in AddressSanitizer builds (GCC's and clang's way of saying so),
 * for the few cases a sanitizer build must leave out. */
#if defined(__SANITIZE_ADDRESS__)
#define TF_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TF_TEST_ASAN 1
#endif
#endif

/* A waker the test builds itself (through tf_waker_new) that counts every
 * call of its vtable and records when it was first woken. */
typedef struct counting_waker {
    atomic_int clones, wakes, wake_by_refs, drops;
    atomic_int refs;            /* references the library holds */
    _Atomic uint64_t woken_at;  /* tf_now_ns() of the first wake */
    pthread_mutex_t lock;
    pthread_cond_t cond;
} counting_waker;

void cw_init(counting_waker *c);
void cw_destroy(counting_waker *c);
/* A new library waker holding one reference to c. */
tf_waker *cw_make(counting_waker *c);
int cw_total_wakes(counting_waker *c);
/* Waits until c has been woken at least n times or timeout_ms passes;
 * returns the number of wakes. Generous timeouts only: the machine is
 * shared. */
int cw_wait_wakes(counting_waker *c, int n, int timeout_ms);
extern const tf_waker_vtable cw_vtable;

/* Threads of this process whose name (/proc/self/task/TID/comm) is name. */
int tu_threads_named(const char *name);
/* Waits up to timeout_ms until exactly n threads are named name; returns
 * the last count. */
int tu_wait_threads_named(const char *name, int n, int timeout_ms);

static inline void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

#endif
