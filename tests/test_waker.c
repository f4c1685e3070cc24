/* SPDX-License-Identifier: MIT */
/* Wakers: caller-made wakers through the vtable, the no-op waker, task
 * wakers' refcounting and identity, and argument checking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

static void test_custom_waker_calls_vtable(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = cw_make(&c);
    assert_non_null(w);

    tf_waker *w2 = NULL;
    assert_int_equal(tf_waker_clone(w, &w2), TF_OK);
    assert_non_null(w2);
    assert_int_equal(atomic_load(&c.clones), 1);
    assert_int_equal(tf_waker_will_wake(w, w2), 1);

    assert_int_equal(tf_waker_wake_by_ref(w), TF_OK);
    assert_int_equal(atomic_load(&c.wake_by_refs), 1);
    assert_int_equal(atomic_load(&c.wakes), 0);

    assert_int_equal(tf_waker_wake(w2), TF_OK); /* consumes w2 */
    assert_int_equal(atomic_load(&c.wakes), 1);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(atomic_load(&c.drops), 1);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

static void test_will_wake_distinguishes_data(void **state) {
    (void)state;
    counting_waker a, b;
    cw_init(&a);
    cw_init(&b);
    tf_waker *wa = cw_make(&a), *wb = cw_make(&b);
    assert_int_equal(tf_waker_will_wake(wa, wb), 0);
    assert_int_equal(tf_waker_will_wake(wa, wa), 1);
    assert_int_equal(tf_waker_will_wake(wa, tf_waker_noop()), 0);
    tf_waker_drop(wa);
    tf_waker_drop(wb);
    assert_int_equal(atomic_load(&a.refs) + atomic_load(&b.refs), 0);
    cw_destroy(&a);
    cw_destroy(&b);
}

static void *null_clone(void *data) {
    (void)data;
    return NULL;
}

static void test_clone_failure_is_enomem(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker_vtable vt = cw_vtable;
    vt.clone = null_clone;
    tf_waker *w = NULL;
    atomic_fetch_add(&c.refs, 1);
    assert_int_equal(tf_waker_new(&vt, &c, &w), TF_OK);
    tf_waker *w2 = (tf_waker *)0x1;
    assert_int_equal(tf_waker_clone(w, &w2), TF_ENOMEM);
    assert_ptr_equal(w2, (tf_waker *)0x1); /* untouched on failure */
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(atomic_load(&c.drops), 1);
    cw_destroy(&c);
}

static void test_bad_vtables_are_refused(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = NULL;
    tf_waker_vtable vt = cw_vtable;
    vt.size = 8;
    assert_int_equal(tf_waker_new(&vt, &c, &w), TF_EINVAL);
    vt = cw_vtable;
    vt.reserved = 1;
    assert_int_equal(tf_waker_new(&vt, &c, &w), TF_EINVAL);
    vt = cw_vtable;
    vt.wake = NULL;
    assert_int_equal(tf_waker_new(&vt, &c, &w), TF_EINVAL);
    assert_int_equal(tf_waker_new(NULL, &c, &w), TF_EINVAL);
    assert_int_equal(tf_waker_new(&cw_vtable, &c, NULL), TF_EINVAL);
    assert_null(w);
    /* A larger table from a newer caller is fine. */
    struct {
        tf_waker_vtable vt;
        void *future_field; /* cppcheck-suppress unusedStructMember ; only its size counts */
    } bigger = {cw_vtable, NULL};
    bigger.vt.size = sizeof(bigger);
    atomic_fetch_add(&c.refs, 1);
    assert_int_equal(tf_waker_new(&bigger.vt, &c, &w), TF_OK);
    tf_waker_drop(w);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

static void test_noop_waker(void **state) {
    (void)state;
    const tf_waker *n = tf_waker_noop();
    assert_non_null(n);
    tf_waker *c = NULL;
    assert_int_equal(tf_waker_clone(n, &c), TF_OK);
    assert_int_equal(tf_waker_will_wake(n, c), 1);
    assert_int_equal(tf_waker_wake_by_ref(n), TF_OK);
    assert_int_equal(tf_waker_wake(c), TF_OK);
    assert_int_equal(tf_waker_drop((tf_waker *)n), TF_OK);
}

static void test_wrong_handles(void **state) {
    (void)state;
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(1000000000u, &t), TF_OK);
    tf_waker *out = NULL;
    assert_int_equal(tf_waker_clone((const tf_waker *)t, &out), TF_EHANDLE);
    assert_int_equal(tf_waker_wake((tf_waker *)t), TF_EHANDLE);
    assert_int_equal(tf_waker_wake_by_ref((const tf_waker *)t), TF_EHANDLE);
    assert_int_equal(tf_waker_drop((tf_waker *)t), TF_EHANDLE);
    assert_int_equal(tf_waker_will_wake((const tf_waker *)t, tf_waker_noop()),
                     TF_EHANDLE);
    assert_int_equal(tf_waker_clone(NULL, &out), TF_EINVAL);
    assert_int_equal(tf_waker_clone(tf_waker_noop(), NULL), TF_EINVAL);
    assert_int_equal(tf_waker_wake(NULL), TF_EINVAL);
    assert_int_equal(tf_waker_wake_by_ref(NULL), TF_EINVAL);
    assert_int_equal(tf_waker_drop(NULL), TF_OK);
    assert_int_equal(tf_waker_will_wake(NULL, tf_waker_noop()), TF_EINVAL);
    assert_int_equal(tf_timer_free(t), TF_OK);
}

/* A task's waker: clone is the same handle, and it outlives the task. */
typedef struct {
    tf_waker *kept;
    const tf_waker *seen;
    int polls;
} keep_state;

static int keep_poll(void *s, const tf_waker *w) {
    keep_state *k = s;
    k->polls++;
    k->seen = w;
    if (!k->kept) {
        assert_int_equal(tf_waker_clone(w, &k->kept), TF_OK);
        assert_ptr_equal(k->kept, w);
        assert_int_equal(tf_waker_will_wake(k->kept, w), 1);
        assert_int_equal(tf_waker_will_wake(k->kept, tf_waker_noop()), 0);
    }
    return TF_READY;
}

static void test_task_waker_outlives_task_and_executor(void **state) {
    (void)state;
    tf_executor *e = NULL;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    keep_state k = {0};
    assert_int_equal(tf_executor_spawn(e, keep_poll, NULL, &k), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_equal(k.polls, 1);
    /* Waking a completed task does nothing. */
    assert_int_equal(tf_waker_wake_by_ref(k.kept), TF_OK);
    uint64_t polled = 99;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 0);
    assert_int_equal(k.polls, 1);
    assert_int_equal(tf_executor_free(e), TF_OK);
    /* ... and neither does it after the executor is gone. */
    assert_int_equal(tf_waker_wake_by_ref(k.kept), TF_OK);
    assert_int_equal(tf_waker_wake(k.kept), TF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_custom_waker_calls_vtable),
        cmocka_unit_test(test_will_wake_distinguishes_data),
        cmocka_unit_test(test_clone_failure_is_enomem),
        cmocka_unit_test(test_bad_vtables_are_refused),
        cmocka_unit_test(test_noop_waker),
        cmocka_unit_test(test_wrong_handles),
        cmocka_unit_test(test_task_waker_outlives_task_and_executor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
