/* SPDX-License-Identifier: MIT */
/* Bad input: every public function gets NULL, handles of the wrong type,
 * zero and huge durations, deadlines in the past, double cancel, reset
 * after fire, tf_executor_next with no external task, and calls during and
 * after shutdown. Each must return the status the header documents, and
 * nothing may crash or leak (the sanitizer and valgrind runs check that). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

/* Handles of every kind, and fakes: memory that is no live object. */
typedef struct handles {
    tf_executor *exec;
    tf_timer *timer;
    tf_waker *custom;
    counting_waker cw;
    _Alignas(16) unsigned char zeros[256];
    _Alignas(16) unsigned char junk[256];
} handles;

static int setup_handles(void **state) {
    handles *h = test_calloc(1, sizeof(*h));
    if (!h) return -1;
    if (tf_executor_new(0, &h->exec) != TF_OK) return -1;
    if (tf_timer_new(UINT64_C(3600) * 1000000000u, &h->timer) != TF_OK)
        return -1;
    cw_init(&h->cw);
    h->custom = cw_make(&h->cw);
    if (!h->custom) return -1;
    memset(h->junk, 0xa5, sizeof(h->junk));
    *state = h;
    return 0;
}

static int teardown_handles(void **state) {
    handles *h = *state;
    int bad = 0;
    bad |= tf_executor_free(h->exec) != TF_OK;
    bad |= tf_timer_free(h->timer) != TF_OK;
    bad |= tf_waker_drop(h->custom) != TF_OK;
    bad |= atomic_load(&h->cw.refs) != 0;
    cw_destroy(&h->cw);
    test_free(h);
    return bad ? -1 : 0;
}

/* Something that is not the expected kind of handle, for each slot. */
#define N_WRONG 3
static void wrong_executors(handles *h, tf_executor *out[N_WRONG]) {
    out[0] = (tf_executor *)h->timer;
    out[1] = (tf_executor *)h->zeros;
    out[2] = (tf_executor *)h->junk;
}
static void wrong_timers(handles *h, tf_timer *out[N_WRONG]) {
    out[0] = (tf_timer *)h->exec;
    out[1] = (tf_timer *)h->custom;
    out[2] = (tf_timer *)h->junk;
}
static void wrong_wakers(handles *h, tf_waker *out[N_WRONG]) {
    out[0] = (tf_waker *)h->exec;
    out[1] = (tf_waker *)h->timer;
    out[2] = (tf_waker *)h->zeros;
}

static int ready_poll(void *s, const tf_waker *w) {
    (void)w;
    if (s) (*(int *)s)++;
    return TF_READY;
}

/* --- library-wide functions ------------------------------------------- */

static void test_general(void **state) {
    (void)state;
    assert_int_equal(tf_version(), TF_VERSION_NUMBER);
    assert_string_equal(tf_version_string(), TF_VERSION_STRING);
    static const int codes[] = {TF_OK,        TF_READY,     TF_EINVAL,
                                TF_EHANDLE,   TF_ENOMEM,    TF_ERANGE,
                                TF_ESHUTDOWN, TF_ETIMEDOUT, TF_EEMPTY,
                                TF_ECANCELED, TF_ESTATE,    TF_EBUSY,
                                TF_ETHREAD,   TF_ESYS,      TF_EVERSION,
                                TF_EFORK};
    const char *unknown = tf_strerror(-1000);
    assert_non_null(unknown);
    assert_string_equal(unknown, "unknown status");
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *s = tf_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, unknown);
        /* Distinct texts, so a log line names one cause. */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, tf_strerror(codes[j]));
    }
    static const int odd[] = {INT_MIN, INT_MAX, -15, 2, 1000};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        assert_string_equal(tf_strerror(odd[i]), "unknown status");

    uint64_t a = tf_now_ns(), b = tf_now_ns();
    assert_true(b >= a);

    assert_null(tf_get_api(0));
    assert_null(tf_get_api(2));
    assert_null(tf_get_api(UINT32_MAX));
    const tf_api_v1 *api = tf_get_api(TF_ABI_MAJOR);
    assert_non_null(api);
    assert_true(api->size >= sizeof(tf_api_v1));
    assert_int_equal(api->version, tf_version());
    assert_ptr_equal(api->timer_new, tf_timer_new);
    assert_ptr_equal(api->executor_free, tf_executor_free);
    assert_ptr_equal(api->block_on, tf_block_on);
}

static void *fa_alloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n);
}
static void fa_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static void test_set_allocator(void **state) {
    (void)state;
    tf_allocator a = TF_ALLOCATOR_INIT(fa_alloc, fa_free, NULL);
    tf_allocator bad = a;
    bad.size = sizeof(tf_allocator) - 1;
    assert_int_equal(tf_set_allocator(&bad), TF_EINVAL);
    bad.size = 0;
    assert_int_equal(tf_set_allocator(&bad), TF_EINVAL);
    bad = a;
    bad.reserved = 1;
    assert_int_equal(tf_set_allocator(&bad), TF_EINVAL);
    bad = a;
    bad.alloc = NULL;
    assert_int_equal(tf_set_allocator(&bad), TF_EINVAL);
    bad = a;
    bad.free = NULL;
    assert_int_equal(tf_set_allocator(&bad), TF_EINVAL);

    /* Refused while any object of the library is alive, of each kind. */
    tf_executor *e = NULL;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_set_allocator(&a), TF_EBUSY);
    assert_int_equal(tf_set_allocator(NULL), TF_EBUSY);
    assert_int_equal(tf_executor_free(e), TF_OK);

    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(0, &t), TF_OK);
    assert_int_equal(tf_set_allocator(&a), TF_EBUSY);
    assert_int_equal(tf_timer_free(t), TF_OK);

    counting_waker cw;
    cw_init(&cw);
    tf_waker *w = cw_make(&cw);
    assert_non_null(w);
    assert_int_equal(tf_set_allocator(&a), TF_EBUSY);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    cw_destroy(&cw);

    /* A larger table from a newer caller is accepted. */
    struct {
        tf_allocator a;
        void *newer; /* cppcheck-suppress unusedStructMember ; only its size counts */
    } big = {a, NULL};
    big.a.size = sizeof(big);
    assert_int_equal(tf_set_allocator(&big.a), TF_OK);
    assert_int_equal(tf_timer_new(0, &t), TF_OK);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_set_allocator(NULL), TF_OK);
}

/* --- wakers ------------------------------------------------------------ */

static void test_waker_bad_input(void **state) {
    handles *h = *state;
    tf_waker *out = (tf_waker *)0x1;
    /* tf_waker_new: every malformed table, and the data stays the
     * caller's (never dropped) when it is refused. */
    tf_waker_vtable vt = cw_vtable;
    assert_int_equal(tf_waker_new(NULL, &h->cw, &out), TF_EINVAL);
    assert_int_equal(tf_waker_new(&vt, &h->cw, NULL), TF_EINVAL);
    vt.size = 0;
    assert_int_equal(tf_waker_new(&vt, &h->cw, &out), TF_EINVAL);
    vt.size = offsetof(tf_waker_vtable, drop);
    assert_int_equal(tf_waker_new(&vt, &h->cw, &out), TF_EINVAL);
    vt = cw_vtable;
    vt.reserved = 7;
    assert_int_equal(tf_waker_new(&vt, &h->cw, &out), TF_EINVAL);
    for (int f = 0; f < 4; f++) {
        vt = cw_vtable;
        if (f == 0) vt.clone = NULL;
        if (f == 1) vt.wake = NULL;
        if (f == 2) vt.wake_by_ref = NULL;
        if (f == 3) vt.drop = NULL;
        assert_int_equal(tf_waker_new(&vt, &h->cw, &out), TF_EINVAL);
    }
    assert_ptr_equal(out, (tf_waker *)0x1); /* outputs only on success */
    assert_int_equal(atomic_load(&h->cw.drops), 0);

    assert_int_equal(tf_waker_clone(NULL, &out), TF_EINVAL);
    assert_int_equal(tf_waker_clone(h->custom, NULL), TF_EINVAL);
    assert_int_equal(tf_waker_wake(NULL), TF_EINVAL);
    assert_int_equal(tf_waker_wake_by_ref(NULL), TF_EINVAL);
    assert_int_equal(tf_waker_drop(NULL), TF_OK);
    assert_int_equal(tf_waker_will_wake(NULL, h->custom), TF_EINVAL);
    assert_int_equal(tf_waker_will_wake(h->custom, NULL), TF_EINVAL);
    assert_int_equal(tf_waker_will_wake(NULL, NULL), TF_EINVAL);

    tf_waker *wrong[N_WRONG];
    wrong_wakers(h, wrong);
    for (int i = 0; i < N_WRONG; i++) {
        assert_int_equal(tf_waker_clone(wrong[i], &out), TF_EHANDLE);
        assert_int_equal(tf_waker_wake(wrong[i]), TF_EHANDLE);
        assert_int_equal(tf_waker_wake_by_ref(wrong[i]), TF_EHANDLE);
        assert_int_equal(tf_waker_drop(wrong[i]), TF_EHANDLE);
        assert_int_equal(tf_waker_will_wake(wrong[i], h->custom), TF_EHANDLE);
        assert_int_equal(tf_waker_will_wake(h->custom, wrong[i]), TF_EHANDLE);
    }
    assert_ptr_equal(out, (tf_waker *)0x1);
    /* Nothing was consumed: the objects passed as wakers still work. */
    uint64_t d = 0;
    assert_int_equal(tf_timer_deadline(h->timer, &d), TF_OK);
    uint64_t n = 1;
    assert_int_equal(tf_executor_count(h->exec, &n, NULL), TF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(cw_total_wakes(&h->cw), 0);
    assert_int_equal(atomic_load(&h->cw.refs), 1);
}

/* --- timers ------------------------------------------------------------ */

static void test_timer_null_and_wrong_handles(void **state) {
    handles *h = *state;
    tf_timer *t = (tf_timer *)0x1;
    uint64_t d = 42;
    assert_int_equal(tf_timer_new(0, NULL), TF_EINVAL);
    assert_int_equal(tf_timer_new_at(0, NULL), TF_EINVAL);
    assert_int_equal(tf_timer_poll(NULL, h->custom), TF_EINVAL);
    assert_int_equal(tf_timer_poll(h->timer, NULL), TF_EINVAL);
    assert_int_equal(tf_timer_reset(NULL, 1), TF_EINVAL);
    assert_int_equal(tf_timer_reset_at(NULL, 1), TF_EINVAL);
    assert_int_equal(tf_timer_cancel(NULL), TF_EINVAL);
    assert_int_equal(tf_timer_deadline(NULL, &d), TF_EINVAL);
    assert_int_equal(tf_timer_deadline(h->timer, NULL), TF_EINVAL);
    assert_int_equal(tf_timer_peek(NULL), TF_EINVAL);
    assert_int_equal(tf_timer_free(NULL), TF_OK);

    tf_timer *wrong[N_WRONG];
    wrong_timers(h, wrong);
    for (int i = 0; i < N_WRONG; i++) {
        assert_int_equal(tf_timer_poll(wrong[i], h->custom), TF_EHANDLE);
        assert_int_equal(tf_timer_reset(wrong[i], 1), TF_EHANDLE);
        assert_int_equal(tf_timer_reset_at(wrong[i], 1), TF_EHANDLE);
        assert_int_equal(tf_timer_cancel(wrong[i]), TF_EHANDLE);
        assert_int_equal(tf_timer_deadline(wrong[i], &d), TF_EHANDLE);
        assert_int_equal(tf_timer_peek(wrong[i]), TF_EHANDLE);
        assert_int_equal(tf_timer_free(wrong[i]), TF_EHANDLE);
    }
    /* A valid timer polled with something that is not a waker. */
    tf_waker *ww[N_WRONG];
    wrong_wakers(h, ww);
    for (int i = 0; i < N_WRONG; i++) {
        if ((void *)ww[i] == (void *)h->timer) continue;
        assert_int_equal(tf_timer_poll(h->timer, ww[i]), TF_EHANDLE);
    }
    assert_int_equal(d, 42);
    assert_ptr_equal(t, (tf_timer *)0x1);
    /* The executor passed to tf_timer_free was not freed. */
    assert_int_equal(tf_executor_spawn(h->exec, ready_poll, NULL, NULL), TF_OK);
    assert_int_equal(tf_executor_run(h->exec), TF_OK);
    assert_int_equal(tf_timer_poll(h->timer, h->custom), TF_PENDING);
}

static void test_timer_ranges(void **state) {
    handles *h = *state;
    tf_timer *t = NULL;
    /* Huge durations: now + d does not fit, or hits the reserved value. */
    assert_int_equal(tf_timer_new(UINT64_MAX, &t), TF_ERANGE);
    assert_int_equal(tf_timer_new(UINT64_MAX - 1, &t), TF_ERANGE);
    assert_int_equal(tf_timer_new(UINT64_MAX - tf_now_ns(), &t), TF_ERANGE);
    assert_int_equal(tf_timer_new_at(UINT64_MAX, &t), TF_ERANGE);
    assert_null(t);

    /* The largest deadline that is allowed is armed, not fired. */
    assert_int_equal(tf_timer_new_at(UINT64_MAX - 1, &t), TF_OK);
    uint64_t d = 0;
    assert_int_equal(tf_timer_deadline(t, &d), TF_OK);
    assert_int_equal(d, UINT64_MAX - 1);
    assert_int_equal(tf_timer_poll(t, h->custom), TF_PENDING);
    /* A range error leaves the timer as it was. */
    assert_int_equal(tf_timer_reset(t, UINT64_MAX), TF_ERANGE);
    assert_int_equal(tf_timer_reset_at(t, UINT64_MAX), TF_ERANGE);
    assert_int_equal(tf_timer_deadline(t, &d), TF_OK);
    assert_int_equal(d, UINT64_MAX - 1);
    assert_int_equal(tf_timer_poll(t, h->custom), TF_PENDING);
    /* A huge duration that still fits. */
    uint64_t huge = UINT64_MAX - tf_now_ns() - UINT64_C(1000000000000);
    assert_int_equal(tf_timer_reset(t, huge), TF_OK);
    assert_int_equal(tf_timer_poll(t, h->custom), TF_PENDING);
    assert_int_equal(tf_timer_free(t), TF_OK);
    t = NULL;
    assert_int_equal(tf_timer_new(huge, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_PENDING);
    assert_int_equal(tf_timer_free(t), TF_OK);

    /* Zero duration and past deadlines fire at once. */
    assert_int_equal(tf_timer_new(0, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, h->custom), TF_READY);
    assert_int_equal(tf_timer_poll(t, h->custom), TF_READY);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_timer_new_at(0, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, h->custom), TF_READY);
    assert_int_equal(tf_timer_deadline(t, &d), TF_OK);
    assert_int_equal(d, 0);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_timer_new_at(tf_now_ns() - 1, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, h->custom), TF_READY);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(cw_total_wakes(&h->cw), 0);
    assert_int_equal(atomic_load(&h->cw.refs), 1); /* only h->custom */
}

static void test_timer_state_misuse(void **state) {
    (void)state;
    tf_timer *t = NULL;
    counting_waker c[3];
    tf_waker *w[3];
    for (int i = 0; i < 3; i++) {
        cw_init(&c[i]);
        w[i] = cw_make(&c[i]);
        assert_non_null(w[i]);
    }

    /* Double cancel. The first wakes the stored waker, before it returns,
     * so the awaiting task sees TF_ECANCELED; the second changes nothing. */
    assert_int_equal(tf_timer_new(UINT64_C(60) * 1000000000u, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, w[0]), TF_PENDING);
    assert_int_equal(atomic_load(&c[0].refs), 2);
    assert_int_equal(tf_timer_cancel(t), TF_OK);
    assert_int_equal(cw_total_wakes(&c[0]), 1);
    assert_int_equal(atomic_load(&c[0].refs), 1); /* the stored clone is used up */
    assert_int_equal(tf_timer_cancel(t), TF_ESTATE);
    assert_int_equal(cw_total_wakes(&c[0]), 1);
    assert_int_equal(tf_timer_poll(t, w[0]), TF_ECANCELED);
    assert_int_equal(atomic_load(&c[0].refs), 1); /* no waker stored */
    /* Reset after cancel re-arms; into the past it fires. */
    assert_int_equal(tf_timer_reset_at(t, 1), TF_OK);
    assert_int_equal(tf_timer_poll(t, w[0]), TF_READY);
    assert_int_equal(tf_timer_cancel(t), TF_ESTATE); /* cancel after fire */
    assert_int_equal(tf_timer_poll(t, w[0]), TF_READY);
    assert_int_equal(cw_total_wakes(&c[0]), 1);

    /* Reset after fire: pending again, then fires again, not early. */
    assert_int_equal(tf_timer_reset(t, UINT64_C(60) * 1000000000u), TF_OK);
    assert_int_equal(tf_timer_poll(t, w[1]), TF_PENDING);
    uint64_t dl = 0, before = tf_now_ns();
    assert_int_equal(tf_timer_reset(t, 2000000), TF_OK); /* 2 ms */
    assert_int_equal(tf_timer_deadline(t, &dl), TF_OK);
    assert_true(dl >= before + 2000000);
    assert_int_equal(cw_wait_wakes(&c[1], 1, 30000), 1);
    assert_true(atomic_load(&c[1].woken_at) >= dl);
    assert_int_equal(tf_timer_poll(t, w[1]), TF_READY);
    assert_true(tf_now_ns() >= dl);

    /* Reset of an armed timer with a stored waker into the past wakes it. */
    assert_int_equal(tf_timer_reset(t, UINT64_C(60) * 1000000000u), TF_OK);
    assert_int_equal(tf_timer_poll(t, w[2]), TF_PENDING);
    assert_int_equal(tf_timer_reset_at(t, 0), TF_OK);
    assert_int_equal(cw_wait_wakes(&c[2], 1, 30000), 1);
    assert_int_equal(tf_timer_poll(t, w[2]), TF_READY);
    /* Cancel with no waker stored, then free a cancelled timer. */
    assert_int_equal(tf_timer_reset(t, 1000000000u), TF_OK);
    assert_int_equal(tf_timer_cancel(t), TF_OK);
    assert_int_equal(tf_timer_free(t), TF_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tf_waker_drop(w[i]), TF_OK);
        assert_int_equal(atomic_load(&c[i].refs), 0);
        assert_int_equal(cw_total_wakes(&c[i]), 1); /* each exactly once */
        cw_destroy(&c[i]);
    }
}

/* --- executors ---------------------------------------------------------- */

static void test_executor_null_and_wrong_handles(void **state) {
    handles *h = *state;
    tf_executor *e = (tf_executor *)0x1;
    uint64_t n = 77, ext = 77, tag = 77;
    const tf_waker *w = (const tf_waker *)0x1;
    int fd = -77;
    assert_int_equal(tf_executor_new(0, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_new(1025, &e), TF_EINVAL);
    assert_int_equal(tf_executor_new(UINT32_MAX, &e), TF_EINVAL);
    assert_ptr_equal(e, (tf_executor *)0x1);
    assert_int_equal(tf_executor_free(NULL), TF_OK);
    assert_int_equal(tf_executor_spawn(NULL, ready_poll, NULL, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_spawn(h->exec, NULL, NULL, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_run(NULL), TF_EINVAL);
    assert_int_equal(tf_executor_run_ready(NULL, &n), TF_EINVAL);
    assert_int_equal(tf_executor_count(NULL, &n, &ext), TF_EINVAL);
    assert_int_equal(tf_executor_count(h->exec, NULL, &ext), TF_EINVAL);
    assert_int_equal(tf_executor_spawn_external(NULL, 1), TF_EINVAL);
    assert_int_equal(tf_executor_next(NULL, 0, &tag, &w), TF_EINVAL);
    assert_int_equal(tf_executor_next(h->exec, 0, NULL, &w), TF_EINVAL);
    assert_int_equal(tf_executor_next(h->exec, 0, &tag, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_report(NULL, h->custom, TF_READY), TF_EINVAL);
    assert_int_equal(tf_executor_report(h->exec, NULL, TF_READY), TF_EINVAL);
    assert_int_equal(tf_executor_fd(NULL, &fd), TF_EINVAL);
    assert_int_equal(tf_executor_fd(h->exec, NULL), TF_EINVAL);
    assert_int_equal(tf_block_on(NULL, NULL), TF_EINVAL);

    tf_executor *wrong[N_WRONG];
    wrong_executors(h, wrong);
    for (int i = 0; i < N_WRONG; i++) {
        assert_int_equal(tf_executor_free(wrong[i]), TF_EHANDLE);
        assert_int_equal(tf_executor_spawn(wrong[i], ready_poll, NULL, NULL),
                         TF_EHANDLE);
        assert_int_equal(tf_executor_run(wrong[i]), TF_EHANDLE);
        assert_int_equal(tf_executor_run_ready(wrong[i], &n), TF_EHANDLE);
        assert_int_equal(tf_executor_count(wrong[i], &n, &ext), TF_EHANDLE);
        assert_int_equal(tf_executor_spawn_external(wrong[i], 1), TF_EHANDLE);
        assert_int_equal(tf_executor_next(wrong[i], 0, &tag, &w), TF_EHANDLE);
        assert_int_equal(tf_executor_report(wrong[i], h->custom, TF_READY),
                         TF_EHANDLE);
        assert_int_equal(tf_executor_fd(wrong[i], &fd), TF_EHANDLE);
    }
    assert_int_equal(n, 77);
    assert_int_equal(ext, 77);
    assert_int_equal(tag, 77);
    assert_ptr_equal(w, (const tf_waker *)0x1);
    assert_int_equal(fd, -77);
    /* The timer passed to tf_executor_free is still alive. */
    assert_int_equal(tf_timer_poll(h->timer, h->custom), TF_PENDING);
}

static void test_next_without_external_tasks(void **state) {
    handles *h = *state;
    uint64_t tag = 5;
    const tf_waker *w = NULL;
    /* No external task at all: never blocks, even for ever. */
    assert_int_equal(tf_executor_next(h->exec, 0, &tag, &w), TF_EEMPTY);
    assert_int_equal(tf_executor_next(h->exec, 1000000, &tag, &w), TF_EEMPTY);
    assert_int_equal(tf_executor_next(h->exec, TF_TIMEOUT_INFINITE, &tag, &w),
                     TF_EEMPTY);
    assert_int_equal(tf_executor_next(h->exec, UINT64_MAX - 1, &tag, &w),
                     TF_EEMPTY);
    /* Only C tasks: still nothing for tf_executor_next. */
    int polls = 0;
    assert_int_equal(tf_executor_spawn(h->exec, ready_poll, NULL, &polls), TF_OK);
    assert_int_equal(tf_executor_next(h->exec, TF_TIMEOUT_INFINITE, &tag, &w),
                     TF_EEMPTY);
    assert_int_equal(tf_executor_run(h->exec), TF_OK);
    assert_int_equal(polls, 1);
    assert_int_equal(tag, 5);
    assert_null(w);

    /* An external task that waits for a wake: time-outs, not EEMPTY. */
    assert_int_equal(tf_executor_spawn_external(h->exec, 99), TF_OK);
    assert_int_equal(tf_executor_next(h->exec, 0, &tag, &w), TF_OK);
    assert_int_equal(tag, 99);
    tf_waker *kept = NULL;
    assert_int_equal(tf_waker_clone(w, &kept), TF_OK);
    assert_int_equal(tf_executor_report(h->exec, w, TF_PENDING), TF_OK);
    assert_int_equal(tf_executor_next(h->exec, 0, &tag, &w), TF_ETIMEDOUT);
    assert_int_equal(tf_executor_next(h->exec, 2000000, &tag, &w), TF_ETIMEDOUT);
    /* Report of a task that is not taken. */
    assert_int_equal(tf_executor_report(h->exec, kept, TF_PENDING), TF_ESTATE);
    assert_int_equal(tf_executor_report(h->exec, kept, TF_READY), TF_ESTATE);
    /* Woken: an almost infinite timeout returns at once. */
    assert_int_equal(tf_waker_wake_by_ref(kept), TF_OK);
    assert_int_equal(tf_executor_next(h->exec, UINT64_MAX - 1, &tag, &w), TF_OK);
    assert_ptr_equal(w, kept);
    /* Bad results, then wrong wakers, then the real report. */
    assert_int_equal(tf_executor_report(h->exec, w, 2), TF_EINVAL);
    assert_int_equal(tf_executor_report(h->exec, w, -1), TF_EINVAL);
    assert_int_equal(tf_executor_report(h->exec, tf_waker_noop(), TF_READY),
                     TF_EHANDLE);
    assert_int_equal(tf_executor_report(h->exec, h->custom, TF_READY),
                     TF_EHANDLE);
    tf_waker *ww[N_WRONG];
    wrong_wakers(h, ww);
    for (int i = 0; i < N_WRONG; i++)
        assert_int_equal(tf_executor_report(h->exec, ww[i], TF_READY),
                         TF_EHANDLE);
    tf_executor *other = NULL;
    assert_int_equal(tf_executor_new(0, &other), TF_OK);
    assert_int_equal(tf_executor_report(other, w, TF_READY), TF_EHANDLE);
    assert_int_equal(tf_executor_free(other), TF_OK);
    assert_int_equal(tf_executor_report(h->exec, w, TF_READY), TF_OK);
    /* Double report after completion (the clone keeps the task alive). */
    assert_int_equal(tf_executor_report(h->exec, kept, TF_READY), TF_ESTATE);
    assert_int_equal(tf_executor_report(h->exec, kept, TF_PENDING), TF_ESTATE);
    assert_int_equal(tf_executor_next(h->exec, TF_TIMEOUT_INFINITE, &tag, &w),
                     TF_EEMPTY);
    assert_int_equal(tf_waker_wake(kept), TF_OK); /* completed: no-op */
    uint64_t n = 1, ext = 1;
    assert_int_equal(tf_executor_count(h->exec, &n, &ext), TF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ext, 0);
    assert_int_equal(tf_executor_next(h->exec, 0, &tag, &w), TF_EEMPTY);
}

/* A C task's waker is no external task: report refuses it. */
typedef struct {
    tf_executor *e;
    tf_waker *kept;
    int reentrant[6];
} misuse_state;

static int misuse_poll(void *s, const tf_waker *w) {
    misuse_state *m = s;
    tf_waker_clone(w, &m->kept);
    uint64_t polled = 0;
    m->reentrant[0] = tf_executor_run(m->e);
    m->reentrant[1] = tf_executor_run_ready(m->e, &polled);
    m->reentrant[2] = tf_executor_free(m->e);
    m->reentrant[3] = tf_executor_report(m->e, w, TF_READY);
    /* A task handle is no timer and no executor. */
    m->reentrant[4] = tf_timer_poll((tf_timer *)(void *)m->kept, w);
    m->reentrant[5] = tf_executor_spawn((tf_executor *)(void *)m->kept,
                                        ready_poll, NULL, NULL);
    return TF_READY;
}

static void test_reentrant_calls(void **state) {
    handles *h = *state;
    misuse_state m = {.e = h->exec};
    assert_int_equal(tf_executor_spawn(h->exec, misuse_poll, NULL, &m), TF_OK);
    assert_int_equal(tf_executor_run(h->exec), TF_OK);
    assert_int_equal(m.reentrant[0], TF_EBUSY);
    assert_int_equal(m.reentrant[1], TF_EBUSY);
    assert_int_equal(m.reentrant[2], TF_EBUSY);
    assert_int_equal(m.reentrant[3], TF_EHANDLE);
    assert_int_equal(m.reentrant[4], TF_EHANDLE);
    assert_int_equal(m.reentrant[5], TF_EHANDLE);
    /* The executor survived the refused free. */
    int polls = 0;
    assert_int_equal(tf_executor_spawn(h->exec, ready_poll, NULL, &polls), TF_OK);
    assert_int_equal(tf_executor_run(h->exec), TF_OK);
    assert_int_equal(polls, 1);
    assert_int_equal(tf_executor_report(h->exec, m.kept, TF_READY), TF_EHANDLE);
    assert_int_equal(tf_waker_drop(m.kept), TF_OK);
}

/* The same refusals from a worker thread. */
typedef struct {
    tf_executor *e;
    atomic_int rc_free, rc_run, rc_ready, done;
} worker_state;

static int worker_poll(void *s, const tf_waker *w) {
    (void)w;
    worker_state *ws = s;
    atomic_store(&ws->rc_free, tf_executor_free(ws->e));
    atomic_store(&ws->rc_run, tf_executor_run(ws->e));
    atomic_store(&ws->rc_ready, tf_executor_run_ready(ws->e, NULL));
    atomic_store(&ws->done, 1);
    return TF_READY;
}

static void test_worker_reentrancy(void **state) {
    (void)state;
    worker_state ws;
    atomic_init(&ws.rc_free, 1);
    atomic_init(&ws.rc_run, 1);
    atomic_init(&ws.rc_ready, 1);
    atomic_init(&ws.done, 0);
    assert_int_equal(tf_executor_new(2, &ws.e), TF_OK);
    assert_int_equal(tf_executor_spawn(ws.e, worker_poll, NULL, &ws), TF_OK);
    assert_int_equal(tf_executor_run(ws.e), TF_OK);
    assert_int_equal(atomic_load(&ws.done), 1);
    assert_int_equal(atomic_load(&ws.rc_free), TF_EBUSY);
    assert_int_equal(atomic_load(&ws.rc_run), TF_EBUSY);
    assert_int_equal(atomic_load(&ws.rc_ready), TF_EBUSY);
    assert_int_equal(tf_executor_free(ws.e), TF_OK);
}

/* --- shutdown ------------------------------------------------------------ */

/* A future whose drop runs inside tf_executor_free and tries every call
 * on the executor that is shutting down. */
typedef struct {
    tf_executor *e;
    int drops;
    int rc_spawn, rc_spawn_ext, rc_next, rc_free, rc_run, rc_ready, rc_count;
    uint64_t polled;
} shutdown_state;

static int never_poll(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    return TF_PENDING; /* stores no waker: only shutdown ends it */
}

static void shutdown_drop(void *s) {
    shutdown_state *st = s;
    st->drops++;
    uint64_t tag;
    const tf_waker *w;
    uint64_t n;
    st->rc_spawn = tf_executor_spawn(st->e, ready_poll, NULL, NULL);
    st->rc_spawn_ext = tf_executor_spawn_external(st->e, 1);
    st->rc_next = tf_executor_next(st->e, TF_TIMEOUT_INFINITE, &tag, &w);
    st->rc_run = tf_executor_run(st->e);
    st->rc_ready = tf_executor_run_ready(st->e, &st->polled);
    st->rc_count = tf_executor_count(st->e, &n, NULL);
    st->rc_free = tf_executor_free(st->e);
}

static void test_calls_during_and_after_shutdown(void **state) {
    (void)state;
    for (uint32_t threads = 0; threads <= 2; threads += 2) {
        shutdown_state st = {0};
        st.polled = 123;
        assert_int_equal(tf_executor_new(threads, &st.e), TF_OK);
        assert_int_equal(tf_executor_spawn(st.e, never_poll, shutdown_drop, &st),
                         TF_OK);
        /* An external task taken and still being polled at shutdown, and
         * one that waits: both are forgotten, the taken one reported. */
        assert_int_equal(tf_executor_spawn_external(st.e, 7), TF_OK);
        assert_int_equal(tf_executor_spawn_external(st.e, 8), TF_OK);
        uint64_t tag = 0;
        const tf_waker *w = NULL;
        assert_int_equal(tf_executor_next(st.e, 0, &tag, &w), TF_OK);
        assert_int_equal(tag, 7);
        const tf_waker *w8 = NULL;
        assert_int_equal(tf_executor_next(st.e, 0, &tag, &w8), TF_OK);
        assert_int_equal(tag, 8);
        tf_waker *kept8 = NULL;
        assert_int_equal(tf_waker_clone(w8, &kept8), TF_OK);
        assert_int_equal(tf_executor_report(st.e, w8, TF_PENDING), TF_OK);
        if (threads == 0) assert_int_equal(tf_executor_run_ready(st.e, NULL), TF_OK);

        assert_int_equal(tf_executor_free(st.e), TF_OK);
        assert_int_equal(st.drops, 1);
        assert_int_equal(st.rc_spawn, TF_ESHUTDOWN);
        assert_int_equal(st.rc_spawn_ext, TF_ESHUTDOWN);
        assert_int_equal(st.rc_next, TF_ESHUTDOWN);
        assert_int_equal(st.rc_run, TF_ESHUTDOWN);
        /* Running it from a drop function its free runs is refused. */
        assert_int_equal(st.rc_ready, TF_ESHUTDOWN);
        assert_int_equal(st.polled, 123); /* outputs untouched on failure */
        assert_int_equal(st.rc_count, TF_OK);
        /* A second free from inside the first does nothing. */
        assert_int_equal(st.rc_free, TF_ESHUTDOWN);
        /* After shutdown: the taken task must still be reported. */
        assert_int_equal(tf_executor_report(st.e, w, TF_PENDING), TF_ESHUTDOWN);
        /* Wakers of the dead executor's tasks: valid, and do nothing. */
        assert_int_equal(tf_waker_wake_by_ref(kept8), TF_OK);
        tf_waker *again = NULL;
        assert_int_equal(tf_waker_clone(kept8, &again), TF_OK);
        assert_int_equal(tf_waker_will_wake(kept8, again), 1);
        assert_int_equal(tf_waker_wake(again), TF_OK);
        assert_int_equal(tf_waker_drop(kept8), TF_OK);
    }
}

static int value_poll(void *s, const tf_waker *w) {
    int *left = s;
    if ((*left)-- > 0) {
        assert_int_equal(tf_waker_wake_by_ref(w), TF_OK);
        return TF_PENDING;
    }
    return -7; /* any non-pending value completes, and is returned */
}

/* Garbage at every misalignment: refused, and the check itself is
 * well-defined (UBSan's alignment check runs in the sanitizer build). */
static void test_misaligned_handles(void **state) {
    (void)state;
    _Alignas(16) unsigned char buf[64];
    memset(buf, 0xe4, sizeof(buf)); /* bytes of a plausible magic */
    const tf_waker *noop = tf_waker_noop();
    uint64_t v;
    size_t taken;
    int fd;
    /* The library's own static waker passes the alignment check in every
     * build, wherever the linker puts it. */
    tf_timer *t;
    assert_int_equal(tf_timer_new(TF_TIMEOUT_INFINITE / 4, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, noop), TF_PENDING);
    tf_waker *nc;
    assert_int_equal(tf_waker_clone(noop, &nc), TF_OK);
    assert_int_equal(tf_waker_wake(nc), TF_OK);
    assert_int_equal(tf_timer_free(t), TF_OK);
    for (size_t off = 1; off < 8; off++) {
        void *p = buf + off;
        assert_int_equal(tf_timer_poll((tf_timer *)p, noop), TF_EHANDLE);
        assert_int_equal(tf_timer_peek((tf_timer *)p), TF_EHANDLE);
        assert_int_equal(tf_timer_deadline((tf_timer *)p, &v), TF_EHANDLE);
        assert_int_equal(tf_timer_free((tf_timer *)p), TF_EHANDLE);
        assert_int_equal(tf_waker_wake_by_ref((const tf_waker *)p), TF_EHANDLE);
        assert_int_equal(tf_waker_drop((tf_waker *)p), TF_EHANDLE);
        assert_int_equal(tf_executor_count((tf_executor *)p, &v, NULL), TF_EHANDLE);
        assert_int_equal(tf_executor_fd((tf_executor *)p, &fd), TF_EHANDLE);
        assert_int_equal(tf_executor_drain((tf_executor *)p, NULL, NULL, 0, &taken),
                         TF_EHANDLE);
        assert_int_equal(tf_executor_free((tf_executor *)p), TF_EHANDLE);
    }
}

static void test_block_on_values(void **state) {
    (void)state;
    int left = 3;
    assert_int_equal(tf_block_on(value_poll, &left), -7);
    assert_int_equal(left, -1);
    int polls = 0;
    assert_int_equal(tf_block_on(ready_poll, &polls), TF_READY);
    assert_int_equal(polls, 1);
}

static void test_executor_fd(void **state) {
    handles *h = *state;
    int fd1 = -1, fd2 = -2;
    assert_int_equal(tf_executor_fd(h->exec, &fd1), TF_OK);
    assert_true(fd1 >= 0);
    assert_int_equal(tf_executor_fd(h->exec, &fd2), TF_OK);
    assert_int_equal(fd1, fd2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_general),
        cmocka_unit_test(test_set_allocator),
        cmocka_unit_test_setup_teardown(test_waker_bad_input, setup_handles,
                                        teardown_handles),
        cmocka_unit_test_setup_teardown(test_timer_null_and_wrong_handles,
                                        setup_handles, teardown_handles),
        cmocka_unit_test_setup_teardown(test_timer_ranges, setup_handles,
                                        teardown_handles),
        cmocka_unit_test_setup_teardown(test_timer_state_misuse, setup_handles,
                                        teardown_handles),
        cmocka_unit_test_setup_teardown(test_executor_null_and_wrong_handles,
                                        setup_handles, teardown_handles),
        cmocka_unit_test_setup_teardown(test_next_without_external_tasks,
                                        setup_handles, teardown_handles),
        cmocka_unit_test_setup_teardown(test_reentrant_calls, setup_handles,
                                        teardown_handles),
        cmocka_unit_test(test_worker_reentrancy),
        cmocka_unit_test(test_calls_during_and_after_shutdown),
        cmocka_unit_test(test_block_on_values),
        cmocka_unit_test(test_misaligned_handles),
        cmocka_unit_test_setup_teardown(test_executor_fd, setup_handles,
                                        teardown_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
