/* SPDX-License-Identifier: MIT */
/* Wake races (label "stress"): threads waking the same and different tasks
 * hundreds of thousands of times, with exact assertions.
 *
 * Rounds: while the executor is idle, 4 threads wake random tasks
 * concurrently (clone/wake, wake_by_ref, clone/drop mixed); then one
 * run_ready must poll every woken task exactly once (queued once, however
 * often woken) and no other task, and each poll sees every wake issued.
 *
 * Live: threads wake tasks while the executor (caller-driven or a worker
 * pool) polls them. No task is polled concurrently or after completing; no
 * wake is lost: after the last wake, one more poll sees all of them; polls
 * never outnumber wakes + 1.
 *
 * Fd hosts: a poll() loop that serves the executor only through its fd
 * (tf_executor_run_ready, or tf_executor_drain with external tasks) while
 * another thread wakes 2,000 tasks over and over: every task completes,
 * and the fd never stays unreadable with work queued (poll's long timeout
 * is the hang guard that reports a lost wake). */
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

enum { THREADS = 4, TASKS = 8, ROUNDS = 50, ROUND_WAKES = 2000, LIVE_WAKES = 100000 };

typedef struct {
    atomic_ulong issued; /* incremented before every wake call */
    unsigned long seen;  /* issued, as read by the latest poll */
    atomic_ulong target; /* complete once a poll sees this many */
    atomic_int in_poll;
    atomic_int completed;
    long polls;
    long concurrent_polls;
    long polls_after_complete;
    tf_waker *waker;
    atomic_int published; /* waker is set (release/acquire) */
} race_task;

static int race_poll(void *s, const tf_waker *w) {
    race_task *t = s;
    if (atomic_exchange(&t->in_poll, 1) != 0) t->concurrent_polls++;
    if (atomic_load(&t->completed)) t->polls_after_complete++;
    t->polls++;
    if (!t->waker) {
        assert_int_equal(tf_waker_clone(w, &t->waker), TF_OK);
        atomic_store_explicit(&t->published, 1, memory_order_release);
    }
    t->seen = atomic_load(&t->issued);
    int done = t->seen >= atomic_load(&t->target);
    if (done) atomic_store(&t->completed, 1);
    atomic_store(&t->in_poll, 0);
    return done ? TF_READY : TF_PENDING;
}

static void race_drop(void *s) {
    race_task *t = s;
    tf_waker_drop(t->waker);
    t->waker = NULL;
}

static void wake_one(race_task *t, tf_waker *w, int how) {
    atomic_fetch_add(&t->issued, 1);
    switch (how % 3) {
    case 0: tf_waker_wake_by_ref(w); break;
    case 1: {
        tf_waker *c;
        if (tf_waker_clone(w, &c) == TF_OK) tf_waker_wake(c);
        break;
    }
    default: {
        tf_waker *c;
        if (tf_waker_clone(w, &c) == TF_OK) {
            tf_waker_wake_by_ref(c);
            tf_waker_drop(c);
        }
    }
    }
}

typedef struct {
    race_task *tasks;
    tf_waker **wakers; /* published before the threads start */
    int index;
    int wakes;
    int only_task; /* -1: random tasks */
    pthread_barrier_t *start;
    unsigned char *woken; /* per task, for the round being run */
} waker_arg;

static void *waker_main(void *p) {
    waker_arg *a = p;
    unsigned seed = (unsigned)a->index * 7919u + 17u;
    if (a->start) pthread_barrier_wait(a->start);
    for (int i = 0; i < a->wakes; i++) {
        seed = seed * 1103515245u + 12345u;
        int k = a->only_task >= 0 ? a->only_task : (int)((seed >> 16) % TASKS);
        if (a->woken) a->woken[k] = 1;
        wake_one(&a->tasks[k], a->wakers[k], i);
    }
    return NULL;
}

static void spawn_all(tf_executor *e, race_task *tasks) {
    for (int i = 0; i < TASKS; i++) {
        atomic_init(&tasks[i].target, ULONG_MAX);
        assert_int_equal(tf_executor_spawn(e, race_poll, race_drop, &tasks[i]), TF_OK);
    }
}

static void finish_all(tf_executor *e, race_task *tasks, tf_waker **wakers) {
    for (int i = 0; i < TASKS; i++) {
        /* Complete on the poll that sees this last wake, not on any poll
         * still running from before: one of those may have read issued
         * long ago (a worker preempted mid-poll), and completing there
         * would leave seen behind issued with no wake lost. */
        atomic_store(&tasks[i].target, atomic_load(&tasks[i].issued) + 1);
        wake_one(&tasks[i], wakers[i], 0);
    }
    assert_int_equal(tf_executor_run(e), TF_OK);
    for (int i = 0; i < TASKS; i++) {
        race_task *t = &tasks[i];
        assert_int_equal(atomic_load(&t->completed), 1);
        assert_int_equal(t->concurrent_polls, 0);
        assert_int_equal(t->polls_after_complete, 0);
        /* The last poll saw every wake: none was lost. */
        assert_int_equal(t->seen, atomic_load(&t->issued));
        assert_true((unsigned long)t->polls <= atomic_load(&t->issued) + 1);
        assert_null(t->waker);
        tf_waker_drop(wakers[i]);
    }
}

static void test_rounds_queue_each_task_once(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    race_task tasks[TASKS] = {0};
    tf_waker *wakers[TASKS];
    spawn_all(e, tasks);
    uint64_t polled;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, TASKS);
    for (int i = 0; i < TASKS; i++)
        assert_int_equal(tf_waker_clone(tasks[i].waker, &wakers[i]), TF_OK);

    unsigned long total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned char woken[THREADS][TASKS] = {{0}};
        long before[TASKS];
        for (int i = 0; i < TASKS; i++) before[i] = tasks[i].polls;
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, THREADS);
        pthread_t th[THREADS];
        waker_arg args[THREADS];
        for (int i = 0; i < THREADS; i++) {
            args[i] = (waker_arg){tasks, wakers, r * THREADS + i, ROUND_WAKES,
                                  r % 5 == 0 ? 0 : -1, &bar, woken[i]};
            pthread_create(&th[i], NULL, waker_main, &args[i]);
        }
        for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
        pthread_barrier_destroy(&bar);
        total += (unsigned long)THREADS * ROUND_WAKES;
        int expected = 0;
        for (int k = 0; k < TASKS; k++) {
            int any = 0;
            for (int i = 0; i < THREADS; i++) any |= woken[i][k];
            expected += any;
        }
        assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
        assert_int_equal(polled, (uint64_t)expected);
        for (int k = 0; k < TASKS; k++) {
            int any = 0;
            for (int i = 0; i < THREADS; i++) any |= woken[i][k];
            assert_int_equal(tasks[k].polls - before[k], any);
            assert_int_equal(tasks[k].seen, atomic_load(&tasks[k].issued));
        }
    }
    assert_true(total >= 400000);
    finish_all(e, tasks, wakers);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void run_live(uint32_t workers, int one_task) {
    tf_executor *e;
    assert_int_equal(tf_executor_new(workers, &e), TF_OK);
    race_task tasks[TASKS] = {0};
    tf_waker *wakers[TASKS];
    spawn_all(e, tasks);
    /* Wait for each first poll, which publishes the task's waker. */
    if (workers == 0) {
        uint64_t n;
        tf_executor_run_ready(e, &n);
    }
    for (int i = 0; i < TASKS; i++) {
        while (!atomic_load_explicit(&tasks[i].published, memory_order_acquire))
            sched_yield();
        assert_int_equal(tf_waker_clone(tasks[i].waker, &wakers[i]), TF_OK);
    }
    pthread_t th[THREADS];
    waker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (waker_arg){tasks, wakers, i, LIVE_WAKES, one_task ? 3 : -1, NULL, NULL};
        pthread_create(&th[i], NULL, waker_main, &args[i]);
    }
    if (workers == 0) {
        /* This thread polls while the others wake. */
        for (;;) {
            uint64_t n;
            tf_executor_run_ready(e, &n);
            unsigned long issued = 0;
            for (int i = 0; i < TASKS; i++) issued += atomic_load(&tasks[i].issued);
            if (issued >= (unsigned long)THREADS * LIVE_WAKES) break;
        }
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    finish_all(e, tasks, wakers);
    unsigned long all = 0;
    for (int i = 0; i < TASKS; i++) all += atomic_load(&tasks[i].issued);
    assert_int_equal(all, (unsigned long)THREADS * LIVE_WAKES + TASKS);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_live_same_task_caller_driven(void **state) {
    (void)state;
    run_live(0, 1);
}

static void test_live_many_tasks_caller_driven(void **state) {
    (void)state;
    run_live(0, 0);
}

static void test_live_same_task_worker_pool(void **state) {
    (void)state;
    run_live(2, 1);
}

static void test_live_many_tasks_worker_pool(void **state) {
    (void)state;
    run_live(3, 0);
}

/* --- fd hosts ---------------------------------------------------------- */

enum { FD_TASKS = 2000, FD_ROUNDS = 5 };

typedef struct {
    tf_waker *w; /* a clone, owned by the waking thread */
} fd_task;

static struct {
    fd_task t[FD_TASKS];
    atomic_int done;      /* the waking thread made its last round */
    atomic_int clones_ready;
    atomic_int completed;
} fh;

static int fd_task_poll(void *s, const tf_waker *w) {
    fd_task *t = s;
    if (!t->w) {
        assert_int_equal(tf_waker_clone(w, &t->w), TF_OK);
        atomic_fetch_add(&fh.clones_ready, 1);
    }
    /* Done once polled after the waking thread's rounds: its final wake
     * (which consumes its clone) guarantees that poll. */
    if (atomic_load(&fh.done)) {
        atomic_fetch_add(&fh.completed, 1);
        return TF_READY;
    }
    return TF_PENDING;
}

static void *fd_waker_main(void *arg) {
    (void)arg;
    while (atomic_load(&fh.clones_ready) < FD_TASKS) sched_yield();
    for (int r = 1; r <= FD_ROUNDS; r++)
        for (int i = 0; i < FD_TASKS; i++) tf_waker_wake_by_ref(fh.t[i].w);
    atomic_store(&fh.done, 1);
    for (int i = 0; i < FD_TASKS; i++) tf_waker_wake(fh.t[i].w);
    return NULL;
}

/* Serves e through its fd until every C task completed; fails if the fd
 * stays unreadable for 20 s with work left (a lost wake). */
static void fd_host_run(tf_executor *e, int use_drain) {
    int fd;
    assert_int_equal(tf_executor_fd(e, &fd), TF_OK);
    uint64_t tasks = 1;
    while (tasks) {
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, 20000);
        if (rc == 0) {
            assert_int_equal(tf_executor_count(e, &tasks, NULL), TF_OK);
            fail_msg("fd unreadable for 20 s with %llu tasks left",
                     (unsigned long long)tasks);
        }
        if (use_drain) {
            size_t taken;
            int more = tf_executor_drain(e, NULL, NULL, 0, &taken);
            assert_true(more == 0 || more == 1);
        } else {
            assert_int_equal(tf_executor_run_ready(e, NULL), TF_OK);
        }
        assert_int_equal(tf_executor_count(e, &tasks, NULL), TF_OK);
    }
}

static void fd_host_round(int use_drain) {
    memset(&fh, 0, sizeof(fh));
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    for (int i = 0; i < FD_TASKS; i++)
        assert_int_equal(tf_executor_spawn(e, fd_task_poll, NULL, &fh.t[i]),
                         TF_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fd_waker_main, NULL), 0);
    fd_host_run(e, use_drain);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&fh.completed), FD_TASKS);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_fd_host_run_ready(void **state) {
    (void)state;
    for (int i = 0; i < 10; i++) fd_host_round(0);
}

static void test_fd_host_drain(void **state) {
    (void)state;
    for (int i = 0; i < 10; i++) fd_host_round(1);
}

/* External tasks through tf_executor_drain, woken from another thread. */
enum { EXT_TASKS = 2000 };
static tf_waker *ext_kept[EXT_TASKS];
static atomic_int ext_kept_n;
static atomic_int ext_done; /* set before the waking thread's final round */

static void *ext_waker_main(void *arg) {
    (void)arg;
    while (atomic_load(&ext_kept_n) < EXT_TASKS) sched_yield();
    for (int r = 0; r < FD_ROUNDS; r++)
        for (int i = 0; i < EXT_TASKS; i++) tf_waker_wake_by_ref(ext_kept[i]);
    atomic_store(&ext_done, 1);
    for (int i = 0; i < EXT_TASKS; i++) tf_waker_wake(ext_kept[i]);
    return NULL;
}

static void test_fd_host_drain_external(void **state) {
    (void)state;
    tf_executor *e;
    int fd;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_fd(e, &fd), TF_OK);
    static int polls[EXT_TASKS];
    memset(polls, 0, sizeof(polls));
    atomic_store(&ext_kept_n, 0);
    atomic_store(&ext_done, 0);
    for (uint64_t i = 0; i < EXT_TASKS; i++)
        assert_int_equal(tf_executor_spawn_external(e, i), TF_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ext_waker_main, NULL), 0);
    uint64_t tags[64];
    const tf_waker *wakers[64];
    uint64_t left = EXT_TASKS;
    while (left) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20000) == 0)
            fail_msg("fd unreadable for 20 s with %llu external tasks left",
                     (unsigned long long)left);
        size_t taken;
        int more;
        do {
            more = tf_executor_drain(e, tags, wakers, 64, &taken);
            assert_true(more == 0 || more == 1);
            for (size_t i = 0; i < taken; i++) {
                uint64_t tag = tags[i];
                int first = polls[tag]++ == 0;
                if (first) {
                    assert_int_equal(tf_waker_clone(wakers[i], &ext_kept[tag]), TF_OK);
                    atomic_fetch_add(&ext_kept_n, 1);
                }
                /* Complete on a poll after the final round began: that
                 * round's wake guarantees one. */
                if (atomic_load(&ext_done) && !first) {
                    assert_int_equal(tf_executor_report(e, wakers[i], TF_READY), TF_OK);
                    left--;
                } else {
                    assert_int_equal(tf_executor_report(e, wakers[i], TF_PENDING), TF_OK);
                }
            }
        } while (more);
    }
    pthread_join(th, NULL);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds_queue_each_task_once),
        cmocka_unit_test(test_live_same_task_caller_driven),
        cmocka_unit_test(test_live_many_tasks_caller_driven),
        cmocka_unit_test(test_live_same_task_worker_pool),
        cmocka_unit_test(test_live_many_tasks_worker_pool),
        cmocka_unit_test(test_fd_host_run_ready),
        cmocka_unit_test(test_fd_host_drain),
        cmocka_unit_test(test_fd_host_drain_external),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
