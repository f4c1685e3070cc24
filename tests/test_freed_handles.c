/* SPDX-License-Identifier: MIT */
/* A freed handle is refused with TF_EHANDLE, not taken for a live object:
 * freeing clears the type tag of executors, caller-made wakers and timers.
 *
 * Reading a freed handle is only defined while its memory stays mapped
 * and untouched. Here it does: the tests install an allocator that keeps
 * every freed block until the test ends, and pooled timers stay in the
 * timer pool. The one exception is a pooled AddressSanitizer build, which
 * poisons freed pool objects (so that the library's own uses after free
 * are reported): there the timer case is skipped, as reading it would be
 * a real use after free. (Static build: the private pool query.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pool.h"
#include "testutil.h"

enum { KEPT_MAX = 4096 };
static void *kept[KEPT_MAX];
static int n_kept;

static void *keep_alloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n);
}
/* Frees later: the block stays mapped, with what the library left in it. */
static void keep_free(void *ud, void *p) {
    (void)ud;
    if (!p) return;
    if (n_kept < KEPT_MAX) kept[n_kept++] = p;
    else free(p);
}
static const tf_allocator keeping = TF_ALLOCATOR_INIT(keep_alloc,
                                     keep_free, NULL);

static int setup(void **state) {
    (void)state;
    n_kept = 0;
    return tf_set_allocator(&keeping) == TF_OK ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    int rc = tf_set_allocator(NULL);
    for (int i = 0; i < n_kept; i++) free(kept[i]);
    n_kept = 0;
    return rc == TF_OK ? 0 : -1;
}

static void test_freed_executor_refused(void **state) {
    (void)state;
    for (uint32_t workers = 0; workers < 2; workers++) {
        tf_executor *e = NULL;
        assert_int_equal(tf_executor_new(workers, &e), TF_OK);
        int kept_before = n_kept;
        assert_int_equal(tf_executor_free(e), TF_OK);
        assert_true(n_kept > kept_before); /* its memory went back to us */
        uint64_t n = 0;
        int fd = -1;
        uint64_t tag = 0;
        const tf_waker *w = NULL;
        assert_int_equal(tf_executor_count(e, &n, NULL), TF_EHANDLE);
        assert_int_equal(tf_executor_spawn_external(e, 1), TF_EHANDLE);
        assert_int_equal(tf_executor_run(e), TF_EHANDLE);
        assert_int_equal(tf_executor_run_ready(e, NULL), TF_EHANDLE);
        assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EHANDLE);
        assert_int_equal(tf_executor_fd(e, &fd), TF_EHANDLE);
        assert_int_equal(tf_executor_free(e), TF_EHANDLE);
    }
}

static void *w_clone(void *d) { return d; }
static void w_wake(void *d) { (void)d; }
static void w_drop(void *d) { (void)d; }
static const tf_waker_vtable w_vt = TF_WAKER_VTABLE_INIT(w_clone,
                                     w_wake, w_wake, w_drop);

static void test_freed_custom_waker_refused(void **state) {
    (void)state;
    int data = 0;
    tf_waker *w = NULL, *c = NULL;
    assert_int_equal(tf_waker_new(&w_vt, &data, &w), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(tf_waker_clone(w, &c), TF_EHANDLE);
    assert_null(c);
    assert_int_equal(tf_waker_wake_by_ref(w), TF_EHANDLE);
    assert_int_equal(tf_waker_wake(w), TF_EHANDLE);
    assert_int_equal(tf_waker_drop(w), TF_EHANDLE);
    assert_int_equal(tf_waker_will_wake(w, tf_waker_noop()), TF_EHANDLE);
    /* Consumed by a wake: the same. */
    assert_int_equal(tf_waker_new(&w_vt, &data, &w), TF_OK);
    assert_int_equal(tf_waker_wake(w), TF_OK);
    assert_int_equal(tf_waker_wake(w), TF_EHANDLE);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(1000000000, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, w), TF_EHANDLE);
    assert_int_equal(tf_timer_free(t), TF_OK);
}

static void test_freed_timer_refused(void **state) {
    (void)state;
    if (tf__pool_poisons_freed()) skip(); /* reading it would be reported */
    uint64_t d = 0;
    tf_timer *t = NULL, *keep = NULL;
    /* Another timer keeps the pool from being trimmed, and the freed
     * timers' memory in it. */
    assert_int_equal(tf_timer_new(3600000000000ull, &keep), TF_OK);
    for (int how = 0; how < 3; how++) {
        assert_int_equal(tf_timer_new(how == 0 ? 0 : 3600000000000ull, &t), TF_OK);
        if (how == 1) assert_int_equal(tf_timer_cancel(t), TF_OK);
        /* fired (0), cancelled (1) or armed (2) when freed */
        assert_int_equal(tf_timer_free(t), TF_OK);
        assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_EHANDLE);
        assert_int_equal(tf_timer_peek(t), TF_EHANDLE);
        assert_int_equal(tf_timer_reset(t, 1), TF_EHANDLE);
        assert_int_equal(tf_timer_reset_at(t, 1), TF_EHANDLE);
        assert_int_equal(tf_timer_cancel(t), TF_EHANDLE);
        assert_int_equal(tf_timer_deadline(t, &d), TF_EHANDLE);
        assert_int_equal(tf_timer_free(t), TF_EHANDLE);
    }
    assert_int_equal(tf_timer_free(keep), TF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_freed_executor_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freed_custom_waker_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freed_timer_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
