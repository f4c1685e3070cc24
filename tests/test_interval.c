/* SPDX-License-Identifier: MIT */
/* Intervals (experimental) on a manual-clock host driver: the schedule,
 * the missed-tick policies, never-early, reset/cancel/free, bad input. */
#define TF_EXPERIMENTAL
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "timefuture.h"

#define P UINT64_C(1000) /* the period used throughout, in ns of the manual clock */

static tf_driver *manual(uint64_t start) {
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = TF_CLOCK_MANUAL;
    o.mode = TF_DRIVER_MODE_HOST;
    o.start_ns = start;
    tf_driver *d = NULL;
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    return d;
}

static tf_interval *interval(tf_driver *d, uint64_t first, uint32_t policy) {
    tf_interval *iv = NULL;
    assert_int_equal(tf_interval_new_on(d, first, P, policy, &iv), TF_OK);
    assert_non_null(iv);
    return iv;
}

/* Polls once: TF_READY with its ticks, or the status. */
static int poll_ticks(tf_interval *iv, uint64_t *ticks) {
    *ticks = 0;
    return tf_interval_poll(iv, tf_waker_noop(), ticks);
}

static uint64_t next_of(tf_interval *iv) {
    uint64_t dl = 0;
    assert_int_equal(tf_interval_deadline(iv, &dl), TF_OK);
    return dl;
}

/* A host loop that advances to each next deadline: every policy ticks
 * exactly on first + k * period, 10,000 times, with no drift at all. */
static void run_on_time(uint32_t policy) {
    tf_driver *d = manual(0);
    tf_interval *iv = interval(d, 5 * P, policy);
    counting_waker cw;
    cw_init(&cw);
    tf_waker *w = cw_make(&cw);
    uint64_t ticks = 0;
    for (uint64_t k = 0; k < 10000; k++) {
        uint64_t due = 5 * P + k * P;
        assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_PENDING);
        /* One ns before: still pending (never early), and no wake. */
        int before = cw_total_wakes(&cw);
        assert_int_equal(tf_driver_advance(d, due - 1, NULL), TF_OK);
        assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_PENDING);
        assert_int_equal(cw_total_wakes(&cw), before);
        uint64_t next = 0;
        assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
        assert_true(next >= due);
        assert_int_equal(tf_driver_advance(d, due, NULL), TF_OK);
        assert_true(cw_total_wakes(&cw) > before); /* the timer woke us */
        assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_READY);
        assert_int_equal(ticks, 1);
        assert_int_equal(next_of(iv), due + P);
    }
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
    cw_destroy(&cw);
}

static void test_on_time_burst(void **s) { (void)s; run_on_time(TF_MISSED_TICK_BURST); }
static void test_on_time_delay(void **s) { (void)s; run_on_time(TF_MISSED_TICK_DELAY); }
static void test_on_time_skip(void **s) { (void)s; run_on_time(TF_MISSED_TICK_SKIP); }

/* Every tick observed late by a jitter under a period: the delay policy
 * keeps the schedule, so after 10,000 ticks the drift is under one tick. */
static void test_delay_jitter_no_drift(void **s) {
    (void)s;
    tf_driver *d = manual(0);
    tf_interval *iv = interval(d, P, TF_MISSED_TICK_DELAY);
    uint64_t ticks = 0, total = 0;
    for (uint64_t k = 0; k < 10000; k++) {
        uint64_t due = next_of(iv);
        uint64_t now = due + (k * 7919) % (P - 1); /* 0 .. P-2 late */
        assert_int_equal(tf_driver_advance(d, now, NULL), TF_OK);
        assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
        total += ticks;
    }
    assert_int_equal(total, 10000);
    uint64_t ideal = P + 10000 * (uint64_t)P;
    uint64_t next = next_of(iv);
    assert_true(next >= ideal && next - ideal < P);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* Burst: a poll 3.5 periods late reports the 4 missed ticks one per poll,
 * on the original schedule, then is pending again. */
static void test_burst_catches_up(void **s) {
    (void)s;
    tf_driver *d = manual(0);
    tf_interval *iv = interval(d, P, TF_MISSED_TICK_BURST);
    assert_int_equal(tf_driver_advance(d, 4 * P + P / 2, NULL), TF_OK);
    uint64_t ticks = 0;
    for (int i = 1; i <= 4; i++) {
        assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
        assert_int_equal(ticks, 1);
        assert_int_equal(next_of(iv), (uint64_t)(i + 1) * P);
    }
    assert_int_equal(poll_ticks(iv, &ticks), TF_PENDING);
    assert_int_equal(next_of(iv), 5 * P);
    assert_int_equal(tf_driver_advance(d, 5 * P, NULL), TF_OK);
    assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
    assert_int_equal(ticks, 1);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* Skip: one READY counts the ticks that elapsed; the next tick is the next
 * point of the original schedule after now. */
static void test_skip_counts(void **s) {
    (void)s;
    tf_driver *d = manual(0);
    tf_interval *iv = interval(d, P, TF_MISSED_TICK_SKIP);
    assert_int_equal(tf_driver_advance(d, 4 * P + P / 2, NULL), TF_OK);
    uint64_t ticks = 0;
    assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
    assert_int_equal(ticks, 4); /* P, 2P, 3P, 4P */
    assert_int_equal(next_of(iv), 5 * P);
    assert_int_equal(poll_ticks(iv, &ticks), TF_PENDING);
    /* Exactly on a later tick: that tick counts. */
    assert_int_equal(tf_driver_advance(d, 7 * P, NULL), TF_OK);
    assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
    assert_int_equal(ticks, 3); /* 5P, 6P, 7P */
    assert_int_equal(next_of(iv), 8 * P);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* Delay: after missed ticks the schedule restarts a period after the late
 * poll. */
static void test_delay_restarts(void **s) {
    (void)s;
    tf_driver *d = manual(0);
    tf_interval *iv = interval(d, P, TF_MISSED_TICK_DELAY);
    assert_int_equal(tf_driver_advance(d, 3 * P + 10, NULL), TF_OK);
    uint64_t ticks = 0;
    assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
    assert_int_equal(ticks, 3);
    assert_int_equal(next_of(iv), 4 * P + 10);
    assert_int_equal(tf_driver_advance(d, 4 * P + 9, NULL), TF_OK);
    assert_int_equal(poll_ticks(iv, &ticks), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 4 * P + 10, NULL), TF_OK);
    assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
    assert_int_equal(ticks, 1);
    assert_int_equal(next_of(iv), 5 * P + 10);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* A first deadline in the past is due at once. */
static void test_first_in_past(void **s) {
    (void)s;
    tf_driver *d = manual(10 * P);
    tf_interval *iv = interval(d, 10 * P, TF_MISSED_TICK_BURST);
    uint64_t ticks = 0;
    assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
    assert_int_equal(ticks, 1);
    assert_int_equal(poll_ticks(iv, &ticks), TF_PENDING);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* Cancel wakes the waiter, then polls fail; reset re-arms; in every state
 * free works, and the driver is left with no timer. */
static void test_reset_cancel_free(void **s) {
    (void)s;
    tf_driver *d = manual(0);
    counting_waker cw;
    cw_init(&cw);
    tf_waker *w = cw_make(&cw);
    tf_interval *iv = interval(d, P, TF_MISSED_TICK_SKIP);
    uint64_t ticks = 0;
    assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_PENDING);
    assert_int_equal(tf_interval_cancel(iv), TF_OK);
    assert_int_equal(cw_total_wakes(&cw), 1);
    assert_int_equal(tf_interval_cancel(iv), TF_ESTATE);
    assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_ECANCELED);
    assert_int_equal(tf_driver_advance(d, 5 * P, NULL), TF_OK);
    assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_ECANCELED);
    /* reset: one period from now. */
    assert_int_equal(tf_interval_reset(iv), TF_OK);
    assert_int_equal(next_of(iv), 6 * P);
    assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_PENDING);
    /* reset_at moves an armed interval; the old deadline no longer ticks. */
    assert_int_equal(tf_interval_reset_at(iv, 20 * P), TF_OK);
    assert_int_equal(tf_driver_advance(d, 19 * P, NULL), TF_OK);
    assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 20 * P, NULL), TF_OK);
    assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_READY);
    assert_int_equal(ticks, 1);
    assert_int_equal(next_of(iv), 21 * P);
    /* Cancel after a tick (its timer re-armed), then free while cancelled. */
    assert_int_equal(tf_interval_cancel(iv), TF_OK);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    /* Free while pending with a stored waker: dropped, not woken. */
    iv = interval(d, 30 * P, TF_MISSED_TICK_BURST);
    assert_int_equal(tf_interval_poll(iv, w, &ticks), TF_PENDING);
    int wakes = cw_total_wakes(&cw);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_advance(d, 40 * P, NULL), TF_OK);
    assert_int_equal(cw_total_wakes(&cw), wakes);
    /* Free when due but not polled. */
    iv = interval(d, 41 * P, TF_MISSED_TICK_DELAY);
    assert_int_equal(tf_driver_advance(d, 50 * P, NULL), TF_OK);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK); /* no timer left behind */
    cw_destroy(&cw);
}

/* The end of the 64-bit clock: the last tick, then TF_ERANGE. */
static void test_overflow(void **s) {
    (void)s;
    tf_driver *d = manual(UINT64_MAX - 3 * P);
    tf_interval *iv = NULL;
    assert_int_equal(tf_interval_new_on(d, UINT64_MAX - 2 * P, P, TF_MISSED_TICK_SKIP, &iv), TF_OK);
    assert_int_equal(tf_driver_advance(d, UINT64_MAX - P, NULL), TF_OK);
    uint64_t ticks = 0;
    assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
    assert_int_equal(ticks, 2);
    assert_int_equal(next_of(iv), UINT64_MAX);
    assert_int_equal(poll_ticks(iv, &ticks), TF_ERANGE);
    assert_int_equal(tf_interval_reset(iv), TF_ERANGE);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* The longest period there is: one tick, then the schedule is past the
 * clock's end under every policy (no wrap-around to a tick in the past). */
static void test_longest_period(void **s) {
    (void)s;
    static const uint32_t policies[] = {TF_MISSED_TICK_BURST, TF_MISSED_TICK_DELAY,
                                        TF_MISSED_TICK_SKIP};
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        tf_driver *d = manual(0);
        tf_interval *iv = NULL;
        assert_int_equal(tf_interval_new_on(d, 10, UINT64_MAX, policies[i], &iv), TF_OK);
        assert_int_equal(tf_driver_advance(d, 10, NULL), TF_OK);
        uint64_t ticks = 0;
        assert_int_equal(poll_ticks(iv, &ticks), TF_READY);
        assert_int_equal(ticks, 1);
        assert_int_equal(next_of(iv), UINT64_MAX);
        assert_int_equal(poll_ticks(iv, &ticks), TF_ERANGE);
        assert_int_equal(tf_interval_free(iv), TF_OK);
        assert_int_equal(tf_driver_free(d), TF_OK);
    }
}

static void test_bad_arguments(void **s) {
    (void)s;
    tf_driver *d = manual(0);
    tf_interval *iv = NULL;
    assert_int_equal(tf_interval_new_on(NULL, 1, P, 0, &iv), TF_EINVAL);
    assert_int_equal(tf_interval_new_on(d, 1, P, 0, NULL), TF_EINVAL);
    assert_int_equal(tf_interval_new_on(d, 1, 0, 0, &iv), TF_EINVAL);
    assert_int_equal(tf_interval_new_on(d, 1, P, 3, &iv), TF_EINVAL);
    assert_int_equal(tf_interval_new_on(d, UINT64_MAX, P, 0, &iv), TF_ERANGE);
    uint64_t junk[8] = {0};
    assert_int_equal(tf_interval_new_on((tf_driver *)junk, 1, P, 0, &iv), TF_EHANDLE);
    assert_null(iv);
    tf_interval *bogus = (tf_interval *)junk;
    uint64_t v = 0;
    assert_int_equal(tf_interval_poll(NULL, tf_waker_noop(), &v), TF_EINVAL);
    assert_int_equal(tf_interval_poll(bogus, tf_waker_noop(), &v), TF_EHANDLE);
    assert_int_equal(tf_interval_reset(NULL), TF_EINVAL);
    assert_int_equal(tf_interval_reset(bogus), TF_EHANDLE);
    assert_int_equal(tf_interval_reset_at(bogus, 1), TF_EHANDLE);
    assert_int_equal(tf_interval_cancel(NULL), TF_EINVAL);
    assert_int_equal(tf_interval_cancel(bogus), TF_EHANDLE);
    assert_int_equal(tf_interval_deadline(bogus, &v), TF_EHANDLE);
    assert_int_equal(tf_interval_free(bogus), TF_EHANDLE);
    assert_int_equal(tf_interval_free(NULL), TF_OK);
    iv = interval(d, P, TF_MISSED_TICK_BURST);
    assert_int_equal(tf_interval_poll(iv, NULL, &v), TF_EINVAL);
    assert_int_equal(tf_interval_poll(iv, (const tf_waker *)junk, &v), TF_EHANDLE);
    assert_int_equal(tf_interval_deadline(iv, NULL), TF_EINVAL);
    assert_int_equal(tf_interval_reset_at(iv, UINT64_MAX), TF_ERANGE);
    assert_int_equal(tf_interval_poll(iv, tf_waker_noop(), NULL), TF_PENDING);
    assert_int_equal(tf_interval_free(iv), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_time_burst),
        cmocka_unit_test(test_on_time_delay),
        cmocka_unit_test(test_on_time_skip),
        cmocka_unit_test(test_delay_jitter_no_drift),
        cmocka_unit_test(test_burst_catches_up),
        cmocka_unit_test(test_skip_counts),
        cmocka_unit_test(test_delay_restarts),
        cmocka_unit_test(test_first_in_past),
        cmocka_unit_test(test_reset_cancel_free),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_longest_period),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
