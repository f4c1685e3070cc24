/* External tasks: futures that live in another language, handed out by
 * tf_executor_next and reported with tf_executor_report; and the eventfd
 * that turns readable when one is ready. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "testutil.h"

#define MS 1000000ull

static int fd_readable(int fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    return rc > 0 && (p.revents & POLLIN);
}

static void test_first_poll_and_completion(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(tf_executor_spawn_external(e, i * 100), TF_OK);
    uint64_t ext;
    uint64_t tasks;
    assert_int_equal(tf_executor_count(e, &tasks, &ext), TF_OK);
    assert_int_equal(ext, 3);
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
        assert_int_equal(tag, i * 100); /* spawn order */
        assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    }
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    assert_int_equal(tf_executor_count(e, &tasks, &ext), TF_OK);
    assert_int_equal(ext, 0);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_pending_wake_and_wake_during_poll(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 7), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    tf_waker *kept;
    assert_int_equal(tf_waker_clone(w, &kept), TF_OK);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    /* Reporting twice is a state error, not a crash. */
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_ESTATE);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_ETIMEDOUT);
    /* Many wakes: handed out once. */
    for (int i = 0; i < 10; i++) tf_waker_wake_by_ref(kept);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tag, 7);
    /* A wake while the foreign side polls: re-queued after the report. */
    tf_waker_wake_by_ref(kept);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_ETIMEDOUT);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    /* After completion wakes do nothing. */
    tf_waker_wake_by_ref(kept);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    tf_waker_drop(kept);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_report_errors(void **state) {
    (void)state;
    tf_executor *e, *other;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_new(0, &other), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tf_executor_report(e, w, 5), TF_EINVAL);
    assert_int_equal(tf_executor_report(e, w, -1), TF_EINVAL);
    assert_int_equal(tf_executor_report(other, w, TF_READY), TF_EHANDLE);
    assert_int_equal(tf_executor_report(e, tf_waker_noop(), TF_READY), TF_EHANDLE);
    assert_int_equal(tf_executor_report(NULL, w, TF_READY), TF_EINVAL);
    assert_int_equal(tf_executor_report(e, NULL, TF_READY), TF_EINVAL);
    assert_int_equal(tf_executor_next(e, 0, NULL, &w), TF_EINVAL);
    assert_int_equal(tf_executor_next(e, 0, &tag, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    tf_executor_free(other);
    tf_executor_free(e);
}

static void test_next_times_out(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    uint64_t start = tf_now_ns();
    assert_int_equal(tf_executor_next(e, 30 * MS, &tag, &w), TF_ETIMEDOUT);
    assert_true(tf_now_ns() - start >= 30 * MS);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

typedef struct {
    tf_waker *w;
    int delay_ms;
} waker_thread_arg;

static void *wake_later(void *p) {
    waker_thread_arg *a = p;
    sleep_ms((unsigned)a->delay_ms);
    tf_waker_wake(a->w);
    return NULL;
}

static void test_fd_follows_readiness(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    int fd = -1;
    assert_int_equal(tf_executor_fd(e, &fd), TF_OK);
    assert_true(fd >= 0);
    int fd2;
    assert_int_equal(tf_executor_fd(e, &fd2), TF_OK);
    assert_int_equal(fd, fd2);
    assert_false(fd_readable(fd, 0));
    assert_int_equal(tf_executor_spawn_external(e, 42), TF_OK);
    assert_true(fd_readable(fd, 0));
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    tf_waker *kept;
    tf_waker_clone(w, &kept);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    /* Drained: the next empty call makes the fd unreadable. */
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_ETIMEDOUT);
    assert_false(fd_readable(fd, 0));
    /* A wake from another thread makes it readable. */
    pthread_t th;
    waker_thread_arg a = {kept, 20};
    pthread_create(&th, NULL, wake_later, &a);
    assert_true(fd_readable(fd, 10000));
    pthread_join(th, NULL);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tag, 42);
    assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* The way a binding drives a timer: its "future" polls the timer with the
 * waker from next, and the loop sleeps on the fd. */
static void test_timer_through_fd_loop(void **state) {
    (void)state;
    enum { N = 200 };
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    int fd;
    assert_int_equal(tf_executor_fd(e, &fd), TF_OK);
    tf_timer *timers[N];
    uint64_t deadlines[N];
    int polls[N];
    uint64_t now = tf_now_ns();
    for (int i = 0; i < N; i++) {
        deadlines[i] = now + (uint64_t)(i % 20) * MS;
        assert_int_equal(tf_timer_new_at(deadlines[i], &timers[i]), TF_OK);
        polls[i] = 0;
        assert_int_equal(tf_executor_spawn_external(e, (uint64_t)i), TF_OK);
    }
    int done = 0;
    while (done < N) {
        uint64_t tag;
        const tf_waker *w;
        int rc = tf_executor_next(e, 0, &tag, &w);
        if (rc == TF_ETIMEDOUT) {
            assert_true(fd_readable(fd, 10000));
            continue;
        }
        assert_int_equal(rc, TF_OK);
        polls[tag]++;
        rc = tf_timer_poll(timers[tag], w);
        if (rc == TF_READY) {
            assert_true(tf_now_ns() >= deadlines[tag]);
            done++;
        }
        assert_int_equal(tf_executor_report(e, w, rc == TF_READY ? TF_READY : TF_PENDING), TF_OK);
    }
    for (int i = 0; i < N; i++) {
        /* First poll, plus at most one after the driver's wake. */
        assert_true(polls[i] >= 1 && polls[i] <= 2);
        tf_timer_free(timers[i]);
    }
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_shutdown_while_waiting_and_polling(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 2), TF_OK);
    uint64_t tag;
    const tf_waker *w1, *w2;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w1), TF_OK);
    tf_waker *kept;
    tf_waker_clone(w1, &kept);
    assert_int_equal(tf_executor_report(e, w1, TF_PENDING), TF_OK);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w2), TF_OK);
    /* Task 2 is "being polled" by us while the executor is freed. */
    assert_int_equal(tf_executor_free(e), TF_OK);
    tf_waker_wake_by_ref(kept); /* harmless */
    tf_waker_drop(kept);
    /* The task taken before the shutdown is still reported, which releases
     * it: the executor's memory goes with it (valgrind/ASan check that). */
    assert_int_equal(tf_executor_report(e, w2, TF_PENDING), TF_ESHUTDOWN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_poll_and_completion),
        cmocka_unit_test(test_pending_wake_and_wake_during_poll),
        cmocka_unit_test(test_report_errors),
        cmocka_unit_test(test_next_times_out),
        cmocka_unit_test(test_fd_follows_readiness),
        cmocka_unit_test(test_timer_through_fd_loop),
        cmocka_unit_test(test_shutdown_while_waiting_and_polling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
