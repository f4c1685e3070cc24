/* SPDX-License-Identifier: MIT */
/* Timeouts (experimental) on a manual-clock host driver: the inner future
 * is polled first, a passed deadline gives TF_ETIMEDOUT, and the inner
 * future is dropped exactly once on every path. */
#define TF_EXPERIMENTAL
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "testutil.h"
#include "timefuture.h"

static tf_driver *manual(void) {
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = TF_CLOCK_MANUAL;
    o.mode = TF_DRIVER_MODE_HOST;
    tf_driver *d = NULL;
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    return d;
}

/* An inner future: READY (or `result`) once `ready` is set; counts its
 * polls and drops. */
typedef struct inner {
    int ready, result, polls, drops;
} inner;

static int inner_poll(void *state, const tf_waker *w) {
    (void)w;
    inner *in = state;
    in->polls++;
    return in->ready ? in->result : TF_PENDING;
}

static void inner_drop(void *state) { ((inner *)state)->drops++; }

static tf_timeout *timeout(tf_driver *d, uint64_t ns, inner *in) {
    tf_timeout *to = NULL;
    assert_int_equal(tf_timeout_new_on(d, ns, inner_poll, inner_drop, in, &to), TF_OK);
    assert_non_null(to);
    return to;
}

static void test_inner_completes(void **s) {
    (void)s;
    tf_driver *d = manual();
    inner in = {0, TF_READY, 0, 0};
    tf_timeout *to = timeout(d, 100, &in);
    assert_int_equal(tf_timeout_poll(to, tf_waker_noop()), TF_PENDING);
    in.ready = 1;
    assert_int_equal(tf_timeout_poll(to, tf_waker_noop()), TF_READY);
    assert_int_equal(in.drops, 1);
    /* Later polls repeat the result and poll nothing. */
    assert_int_equal(tf_timeout_poll(to, tf_waker_noop()), TF_READY);
    assert_int_equal(in.polls, 2);
    assert_int_equal(tf_timeout_free(to), TF_OK);
    assert_int_equal(in.drops, 1);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* The deadline has passed AND the inner future is ready: inner first, so
 * no timeout is reported. */
static void test_inner_first_even_when_late(void **s) {
    (void)s;
    tf_driver *d = manual();
    inner in = {0, TF_READY, 0, 0};
    tf_timeout *to = timeout(d, 100, &in);
    assert_int_equal(tf_timeout_poll(to, tf_waker_noop()), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 500, NULL), TF_OK);
    in.ready = 1;
    assert_int_equal(tf_timeout_poll(to, tf_waker_noop()), TF_READY);
    assert_int_equal(in.drops, 1);
    assert_int_equal(tf_timeout_free(to), TF_OK);
    /* The same with the inner future's own error status. */
    inner in2 = {1, TF_ESTATE, 0, 0};
    to = timeout(d, 0, &in2);
    assert_int_equal(tf_timeout_poll(to, tf_waker_noop()), TF_ESTATE);
    assert_int_equal(in2.drops, 1);
    assert_int_equal(tf_timeout_free(to), TF_OK);
    assert_int_equal(in2.drops, 1);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

static void test_times_out(void **s) {
    (void)s;
    tf_driver *d = manual();
    counting_waker cw;
    cw_init(&cw);
    tf_waker *w = cw_make(&cw);
    inner in = {0, TF_READY, 0, 0};
    tf_timeout *to = timeout(d, 100, &in);
    assert_int_equal(tf_timeout_poll(to, w), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 99, NULL), TF_OK);
    assert_int_equal(cw_total_wakes(&cw), 0);
    assert_int_equal(tf_timeout_poll(to, w), TF_PENDING); /* never early */
    assert_int_equal(tf_driver_advance(d, 100, NULL), TF_OK);
    assert_int_equal(cw_total_wakes(&cw), 1); /* the deadline woke it */
    assert_int_equal(tf_timeout_poll(to, w), TF_ETIMEDOUT);
    assert_int_equal(in.drops, 1);
    assert_int_equal(in.polls, 3);
    /* Done: the inner future is not polled again even if ready now. */
    in.ready = 1;
    assert_int_equal(tf_timeout_poll(to, w), TF_ETIMEDOUT);
    assert_int_equal(in.polls, 3);
    assert_int_equal(tf_timeout_free(to), TF_OK);
    assert_int_equal(in.drops, 1);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    cw_destroy(&cw);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

static void test_free_while_pending(void **s) {
    (void)s;
    tf_driver *d = manual();
    inner in = {0, TF_READY, 0, 0};
    tf_timeout *to = timeout(d, 100, &in);
    assert_int_equal(tf_timeout_poll(to, tf_waker_noop()), TF_PENDING);
    assert_int_equal(tf_timeout_free(to), TF_OK);
    assert_int_equal(in.drops, 1);
    /* Never polled at all. */
    inner in2 = {0, TF_READY, 0, 0};
    to = timeout(d, 100, &in2);
    assert_int_equal(tf_timeout_free(to), TF_OK);
    assert_int_equal(in2.drops, 1);
    assert_int_equal(in2.polls, 0);
    assert_int_equal(tf_driver_free(d), TF_OK); /* its timer went too */
}

/* Errors of tf_timeout_new_on drop the inner future, once. */
static int fail_allocs;
static void *f_alloc(void *ud, size_t n) {
    (void)ud;
    return fail_allocs ? NULL : malloc(n);
}
static void f_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static void test_errors_drop_once(void **s) {
    (void)s;
    tf_driver *d = manual();
    tf_timeout *to = NULL;
    inner in = {0, TF_READY, 0, 0};
    assert_int_equal(tf_timeout_new_on(d, 1, NULL, inner_drop, &in, &to), TF_EINVAL);
    assert_int_equal(in.drops, 1);
    assert_int_equal(tf_timeout_new_on(d, 1, inner_poll, inner_drop, &in, NULL), TF_EINVAL);
    assert_int_equal(in.drops, 2);
    assert_int_equal(tf_timeout_new_on(NULL, 1, inner_poll, inner_drop, &in, &to), TF_EINVAL);
    assert_int_equal(in.drops, 3);
    uint64_t junk[8] = {0};
    assert_int_equal(tf_timeout_new_on((tf_driver *)junk, 1, inner_poll, inner_drop, &in, &to),
                     TF_EHANDLE);
    assert_int_equal(in.drops, 4);
    assert_int_equal(tf_timeout_new_on(d, UINT64_MAX, inner_poll, inner_drop, &in, &to),
                     TF_ERANGE);
    assert_int_equal(in.drops, 5);
    assert_null(to);
    /* No drop function: nothing to call, still refused cleanly. */
    assert_int_equal(tf_timeout_new_on(d, 1, inner_poll, NULL, &in, NULL), TF_EINVAL);
    assert_int_equal(in.drops, 5);
    assert_int_equal(in.polls, 0);
    assert_int_equal(tf_driver_free(d), TF_OK);

    /* Allocation failure (the allocator can change only with no object
     * alive). */
    tf_allocator al = TF_ALLOCATOR_INIT(f_alloc, f_free, NULL);
    assert_int_equal(tf_set_allocator(&al), TF_OK);
    d = manual();
    fail_allocs = 1;
    inner in2 = {0, TF_READY, 0, 0};
    assert_int_equal(tf_timeout_new_on(d, 1, inner_poll, inner_drop, &in2, &to), TF_ENOMEM);
    assert_int_equal(in2.drops, 1);
    fail_allocs = 0;
    assert_int_equal(tf_driver_free(d), TF_OK);
    assert_int_equal(tf_set_allocator(NULL), TF_OK);

    /* Bad handles on the other calls. */
    tf_timeout *bogus = (tf_timeout *)junk;
    assert_int_equal(tf_timeout_poll(NULL, tf_waker_noop()), TF_EINVAL);
    assert_int_equal(tf_timeout_poll(bogus, tf_waker_noop()), TF_EHANDLE);
    assert_int_equal(tf_timeout_free(bogus), TF_EHANDLE);
    assert_int_equal(tf_timeout_free(NULL), TF_OK);
    d = manual();
    inner in3 = {0, TF_READY, 0, 0};
    to = timeout(d, 5, &in3);
    assert_int_equal(tf_timeout_poll(to, NULL), TF_EINVAL);
    assert_int_equal(tf_timeout_poll(to, (const tf_waker *)junk), TF_EHANDLE);
    assert_int_equal(in3.polls, 0);
    assert_int_equal(tf_timeout_free(to), TF_OK);
    assert_int_equal(in3.drops, 1);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* Spawned as a task: the deadline's wake re-polls it on the executor, the
 * task ends, and its drop frees the timeout and the inner future. */
static void test_spawned(void **s) {
    (void)s;
    tf_driver *d = manual();
    tf_executor *e = NULL;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    inner slow = {0, TF_READY, 0, 0}, quick = {1, TF_READY, 0, 0};
    tf_timeout *a = timeout(d, 100, &slow), *b = timeout(d, 100, &quick);
    assert_int_equal(tf_executor_spawn(e, tf_timeout_task_poll, tf_timeout_task_drop, a), TF_OK);
    assert_int_equal(tf_executor_spawn(e, tf_timeout_task_poll, tf_timeout_task_drop, b), TF_OK);
    uint64_t polled = 0, tasks = 0;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(quick.drops, 1); /* b completed and was freed */
    assert_int_equal(slow.drops, 0);
    assert_int_equal(tf_executor_count(e, &tasks, NULL), TF_OK);
    assert_int_equal(tasks, 1);
    assert_int_equal(tf_driver_advance(d, 100, NULL), TF_OK);
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(slow.drops, 1);
    assert_int_equal(slow.polls, 2);
    assert_int_equal(tf_executor_count(e, &tasks, NULL), TF_OK);
    assert_int_equal(tasks, 0);
    /* A spawned timeout still pending when its executor goes: dropped once. */
    inner left = {0, TF_READY, 0, 0};
    tf_timeout *c = timeout(d, 100, &left);
    assert_int_equal(tf_executor_spawn(e, tf_timeout_task_poll, tf_timeout_task_drop, c), TF_OK);
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    assert_int_equal(left.drops, 1);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inner_completes),
        cmocka_unit_test(test_inner_first_even_when_late),
        cmocka_unit_test(test_times_out),
        cmocka_unit_test(test_free_while_pending),
        cmocka_unit_test(test_errors_drop_once),
        cmocka_unit_test(test_spawned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
