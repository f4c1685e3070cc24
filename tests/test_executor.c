/* SPDX-License-Identifier: MIT */
/* The executor's rules: queued once however often woken, a wake during a
 * poll re-queues after it, wakes after completion or after the executor
 * are harmless, drop runs exactly once, worker pools, block_on, run_ready's
 * bound, and re-entrancy errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

typedef struct {
    int polls;
    int drops;
    int pending_polls; /* return PENDING this many times, waking itself */
    tf_waker *kept;    /* a clone kept by the future */
} counter_future;

static int counter_poll(void *s, const tf_waker *w) {
    counter_future *f = s;
    f->polls++;
    if (f->pending_polls > 0) {
        f->pending_polls--;
        tf_waker_wake_by_ref(w);
        return TF_PENDING;
    }
    return TF_READY;
}

static void counter_drop(void *s) { ((counter_future *)s)->drops++; }

static void test_spawn_run_drop_once(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    counter_future f[100] = {0};
    for (int i = 0; i < 100; i++) {
        f[i].pending_polls = i % 3;
        assert_int_equal(tf_executor_spawn(e, counter_poll, counter_drop, &f[i]), TF_OK);
    }
    uint64_t tasks = 0, ext = 9;
    assert_int_equal(tf_executor_count(e, &tasks, &ext), TF_OK);
    assert_int_equal(tasks, 100);
    assert_int_equal(ext, 0);
    assert_int_equal(tf_executor_run(e), TF_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(f[i].polls, 1 + i % 3); /* a self-wake re-polls once */
        assert_int_equal(f[i].drops, 1);
    }
    assert_int_equal(tf_executor_count(e, &tasks, NULL), TF_OK);
    assert_int_equal(tasks, 0);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* Keeps a clone of its waker and stays pending until told to finish. */
typedef struct {
    int polls;
    int drops;
    int finish;
    tf_waker *kept;
} parked_future;

static int parked_poll(void *s, const tf_waker *w) {
    parked_future *f = s;
    f->polls++;
    if (f->finish) return TF_READY;
    if (!f->kept) assert_int_equal(tf_waker_clone(w, &f->kept), TF_OK);
    return TF_PENDING;
}

static void parked_drop(void *s) {
    parked_future *f = s;
    f->drops++;
    tf_waker_drop(f->kept);
    f->kept = NULL;
}

/* --- more (poll, drop) pairs than the executor's table holds ------------
 * A task names its pair by a slot of a per-executor table; pairs beyond it
 * live in a separate cold part. 17 x 17 distinct pairs overflow it. Each
 * future checks that its own functions run. */
enum { NFN = 17 };
typedef struct {
    int poll_fn, drop_fn; /* the functions this task was spawned with */
    int polls, drops, wrong;
    int stay; /* pending for ever (until tf_executor_free drops it) */
} pair_future;

static int pair_poll(pair_future *f, int i, const tf_waker *w) {
    if (f->poll_fn != i) f->wrong++;
    if (f->polls++ == 0 || f->stay) {
        if (!f->stay) tf_waker_wake_by_ref(w);
        return TF_PENDING;
    }
    return TF_READY;
}

static void pair_drop(pair_future *f, int j) {
    if (f->drop_fn != j) f->wrong++;
    f->drops++;
}

#define PAIR_FNS(i)                                                            \
    static int pair_poll_##i(void *s, const tf_waker *w) {                     \
        return pair_poll(s, i, w);                                             \
    }                                                                          \
    static void pair_drop_##i(void *s) { pair_drop(s, i); }
PAIR_FNS(0) PAIR_FNS(1) PAIR_FNS(2) PAIR_FNS(3) PAIR_FNS(4) PAIR_FNS(5)
PAIR_FNS(6) PAIR_FNS(7) PAIR_FNS(8) PAIR_FNS(9) PAIR_FNS(10) PAIR_FNS(11)
PAIR_FNS(12) PAIR_FNS(13) PAIR_FNS(14) PAIR_FNS(15) PAIR_FNS(16)
#define PAIR_ROW(i) pair_poll_##i
static const tf_poll_fn pair_polls[NFN] = {
    PAIR_ROW(0), PAIR_ROW(1), PAIR_ROW(2), PAIR_ROW(3), PAIR_ROW(4), PAIR_ROW(5),
    PAIR_ROW(6), PAIR_ROW(7), PAIR_ROW(8), PAIR_ROW(9), PAIR_ROW(10), PAIR_ROW(11),
    PAIR_ROW(12), PAIR_ROW(13), PAIR_ROW(14), PAIR_ROW(15), PAIR_ROW(16)};
#define PAIR_COL(i) pair_drop_##i
static const tf_drop_fn pair_drops[NFN] = {
    PAIR_COL(0), PAIR_COL(1), PAIR_COL(2), PAIR_COL(3), PAIR_COL(4), PAIR_COL(5),
    PAIR_COL(6), PAIR_COL(7), PAIR_COL(8), PAIR_COL(9), PAIR_COL(10), PAIR_COL(11),
    PAIR_COL(12), PAIR_COL(13), PAIR_COL(14), PAIR_COL(15), PAIR_COL(16)};

static void pairs_round(int stay, uint32_t workers) {
    static pair_future f[NFN * NFN];
    memset(f, 0, sizeof(f));
    tf_executor *e;
    assert_int_equal(tf_executor_new(workers, &e), TF_OK);
    /* Twice over: the second spawn of each pair finds it (slot or cold). */
    for (int rep = 0; rep < 2; rep++)
        for (int k = rep; k < NFN * NFN; k += 2) {
            f[k] = (pair_future){k / NFN, k % NFN, 0, 0, 0, stay};
            assert_int_equal(tf_executor_spawn(e, pair_polls[k / NFN],
                                               pair_drops[k % NFN], &f[k]),
                             TF_OK);
        }
    if (!stay) assert_int_equal(tf_executor_run(e), TF_OK);
    else if (!workers) assert_int_equal(tf_executor_run_ready(e, NULL), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    for (int k = 0; k < NFN * NFN; k++) {
        assert_int_equal(f[k].wrong, 0);
        assert_int_equal(f[k].drops, 1);
        if (!stay) assert_int_equal(f[k].polls, 2);
    }
}

static void test_more_function_pairs_than_slots(void **state) {
    (void)state;
    pairs_round(0, 0); /* completed by their polls */
    pairs_round(1, 0); /* dropped by tf_executor_free, polled once */
    pairs_round(0, 2);
    pairs_round(1, 2); /* maybe never polled */
}

static void test_many_wakes_queue_once(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    parked_future f = {0};
    assert_int_equal(tf_executor_spawn(e, parked_poll, parked_drop, &f), TF_OK);
    uint64_t polled;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 1);
    assert_int_equal(f.polls, 1);
    for (int i = 0; i < 1000; i++) assert_int_equal(tf_waker_wake_by_ref(f.kept), TF_OK);
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 1);
    assert_int_equal(f.polls, 2);
    /* Not woken: not polled. */
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 0);
    f.finish = 1;
    tf_waker *extra;
    assert_int_equal(tf_waker_clone(f.kept, &extra), TF_OK);
    assert_int_equal(tf_waker_wake(extra), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_equal(f.polls, 3);
    assert_int_equal(f.drops, 1);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* Wakes itself through a clone during the poll, several times. */
static int wake_during_poll(void *s, const tf_waker *w) {
    counter_future *f = s;
    f->polls++;
    if (f->polls < 5) {
        tf_waker *c;
        assert_int_equal(tf_waker_clone(w, &c), TF_OK);
        tf_waker_wake_by_ref(c);
        tf_waker_wake_by_ref(c); /* twice: still one re-poll */
        tf_waker_wake(c);
        return TF_PENDING;
    }
    return TF_READY;
}

static void test_wake_during_poll_requeues(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    counter_future f = {0};
    assert_int_equal(tf_executor_spawn(e, wake_during_poll, counter_drop, &f), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_equal(f.polls, 5);
    assert_int_equal(f.drops, 1);
    tf_executor_free(e);
}

static void test_free_drops_unfinished(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    parked_future f[50] = {0};
    for (int i = 0; i < 50; i++)
        assert_int_equal(tf_executor_spawn(e, parked_poll, parked_drop, &f[i]), TF_OK);
    /* Half are polled once and wait; half were never polled. Each is
     * dropped exactly once either way. */
    uint64_t polled;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 50);
    for (int i = 0; i < 25; i++) tf_waker_wake_by_ref(f[i].kept);
    tf_waker *survivor = NULL;
    assert_int_equal(tf_waker_clone(f[0].kept, &survivor), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(f[i].drops, 1);
        assert_int_equal(f[i].polls, 1);
    }
    /* A waker that outlived its executor is harmless. */
    assert_int_equal(tf_waker_wake_by_ref(survivor), TF_OK);
    assert_int_equal(tf_waker_wake(survivor), TF_OK);
}

typedef struct {
    atomic_int *done;
    int spins;
    long result; /* keeps the busy work from being optimized away */
} work_item;

static int work_poll(void *s, const tf_waker *w) {
    (void)w;
    work_item *it = s;
    long x = 0;
    for (int i = 0; i < it->spins; i++) x += i * (long)it->spins;
    it->result = x;
    atomic_fetch_add(it->done, 1);
    return TF_READY;
}

static void test_worker_pool_runs_everything(void **state) {
    (void)state;
    enum { N = 20000 };
    tf_executor *e;
    assert_int_equal(tf_executor_new(4, &e), TF_OK);
    atomic_int done = 0;
    work_item *items = calloc(N, sizeof(*items));
    for (int i = 0; i < N; i++) {
        items[i] = (work_item){&done, i % 100, 0};
        assert_int_equal(tf_executor_spawn(e, work_poll, NULL, &items[i]), TF_OK);
    }
    /* run() waits for the workers and helps them. */
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_equal(atomic_load(&done), N);
    for (int i = 0; i < N; i++) {
        long n = i % 100;
        assert_int_equal(items[i].result, n * (n - 1) / 2 * n);
    }
    assert_int_equal(tf_executor_free(e), TF_OK);
    free(items);
}

/* A task that awaits a timer, run by workers while the caller waits. */
typedef struct {
    tf_timer *timer;
    uint64_t deadline;
    atomic_int *done;
    int early;
} sleeper;

static int sleeper_poll(void *s, const tf_waker *w) {
    sleeper *z = s;
    if (!z->timer) {
        assert_int_equal(tf_timer_new_at(z->deadline, &z->timer), TF_OK);
    }
    int rc = tf_timer_poll(z->timer, w);
    if (rc == TF_PENDING) return TF_PENDING;
    assert_int_equal(rc, TF_READY);
    if (tf_now_ns() < z->deadline) z->early = 1;
    atomic_fetch_add(z->done, 1);
    return TF_READY;
}

static void sleeper_drop(void *s) {
    sleeper *z = s;
    tf_timer_free(z->timer);
    z->timer = NULL;
}

static void test_timers_on_worker_pool(void **state) {
    (void)state;
    enum { N = 2000 };
    for (uint32_t threads = 0; threads <= 3; threads += 3) {
        tf_executor *e;
        assert_int_equal(tf_executor_new(threads, &e), TF_OK);
        atomic_int done = 0;
        sleeper *z = calloc(N, sizeof(*z));
        uint64_t now = tf_now_ns();
        for (int i = 0; i < N; i++) {
            z[i] = (sleeper){NULL, now + (uint64_t)(i % 50) * 1000000u, &done, 0};
            assert_int_equal(tf_executor_spawn(e, sleeper_poll, sleeper_drop, &z[i]), TF_OK);
        }
        assert_int_equal(tf_executor_run(e), TF_OK);
        assert_int_equal(atomic_load(&done), N);
        for (int i = 0; i < N; i++) {
            assert_int_equal(z[i].early, 0);
            assert_null(z[i].timer);
        }
        assert_int_equal(tf_executor_free(e), TF_OK);
        free(z);
    }
}

static int self_waker(void *s, const tf_waker *w) {
    int *polls = s;
    (*polls)++;
    tf_waker_wake_by_ref(w);
    return TF_PENDING;
}

static void test_run_ready_is_bounded(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    int polls = 0;
    assert_int_equal(tf_executor_spawn(e, self_waker, NULL, &polls), TF_OK);
    uint64_t polled = 0;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_true(polled >= 1);
    assert_true(polled <= 66); /* 2 * live + 64 */
    assert_int_equal((uint64_t)polls, polled);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static tf_executor *reentrant_exec;
static int reentrant_poll(void *s, const tf_waker *w) {
    (void)w;
    int *results = s;
    results[0] = tf_executor_run(reentrant_exec);
    results[1] = tf_executor_free(reentrant_exec);
    uint64_t n;
    results[2] = tf_executor_run_ready(reentrant_exec, &n);
    /* Spawning from inside a poll is allowed. */
    results[3] = tf_executor_spawn(reentrant_exec, counter_poll, NULL, &results[4]);
    return TF_READY;
}

static void test_reentrant_calls(void **state) {
    (void)state;
    assert_int_equal(tf_executor_new(0, &reentrant_exec), TF_OK);
    int results[8] = {0};
    assert_int_equal(tf_executor_spawn(reentrant_exec, reentrant_poll, NULL, results), TF_OK);
    assert_int_equal(tf_executor_run(reentrant_exec), TF_OK);
    assert_int_equal(results[0], TF_EBUSY);
    assert_int_equal(results[1], TF_EBUSY);
    assert_int_equal(results[2], TF_EBUSY);
    assert_int_equal(results[3], TF_OK);
    assert_int_equal(tf_executor_free(reentrant_exec), TF_OK);
}

static void test_argument_errors(void **state) {
    (void)state;
    tf_executor *e = NULL;
    assert_int_equal(tf_executor_new(0, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_new(100000, &e), TF_EINVAL);
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn(e, NULL, NULL, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_spawn(NULL, counter_poll, NULL, NULL), TF_EINVAL);
    tf_timer *t;
    assert_int_equal(tf_timer_new(1000000000u, &t), TF_OK);
    assert_int_equal(tf_executor_spawn((tf_executor *)t, counter_poll, NULL, NULL), TF_EHANDLE);
    assert_int_equal(tf_executor_run((tf_executor *)t), TF_EHANDLE);
    assert_int_equal(tf_executor_free((tf_executor *)t), TF_EHANDLE);
    assert_int_equal(tf_timer_poll((tf_timer *)e, tf_waker_noop()), TF_EHANDLE);
    assert_int_equal(tf_timer_free((tf_timer *)e), TF_EHANDLE);
    tf_timer_free(t);
    assert_int_equal(tf_executor_run(NULL), TF_EINVAL);
    assert_int_equal(tf_executor_free(NULL), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_strerror_and_version(void **state) {
    (void)state;
    for (int s = 1; s >= -14; s--) {
        const char *m = tf_strerror(s);
        assert_non_null(m);
        assert_string_not_equal(m, "unknown status");
    }
    assert_string_equal(tf_strerror(-1000), "unknown status");
    assert_int_equal(tf_version(), TF_VERSION_NUMBER);
    assert_string_equal(tf_version_string(), TF_VERSION_STRING);
    uint64_t a = tf_now_ns(), b = tf_now_ns();
    assert_true(b >= a);
}

/* --- scheduling order: woken tasks ahead of new ones, within a bound ---- */

static unsigned sched_seq; /* polls so far, across the tasks below */

typedef struct {
    tf_waker *kept;       /* clone taken at the first poll */
    unsigned second_poll; /* sched_seq at the second poll, 0 before */
} waiting_task;

static int waiting_poll(void *s, const tf_waker *w) {
    waiting_task *t = s;
    sched_seq++;
    if (!t->kept) {
        assert_int_equal(tf_waker_clone(w, &t->kept), TF_OK);
        return TF_PENDING;
    }
    t->second_poll = sched_seq;
    tf_waker_drop(t->kept);
    return TF_READY;
}

static waiting_task *kick_targets[3];

/* Wakes the waiting tasks in the order 2, 0, 1. */
static int kicker_poll(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    sched_seq++;
    static const int order[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tf_waker_wake_by_ref(kick_targets[order[i]]->kept), TF_OK);
    return TF_READY;
}

static int plain_poll(void *s, const tf_waker *w) {
    (void)w;
    *(unsigned *)s = ++sched_seq;
    return TF_READY;
}

/* Three tasks go pending, then a task spawned after them wakes them, with
 * 2000 tasks queued that were never polled: the woken ones are polled
 * next, in wake order, not after the 2000 (a single FIFO of new and woken
 * tasks polls them at 2004 and on). The new tasks keep spawn order. */
static void test_woken_ahead_of_new(void **state) {
    (void)state;
    enum { NEW = 2000 };
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    sched_seq = 0;
    waiting_task wt[3] = {{0}};
    unsigned *at = calloc(NEW, sizeof(*at));
    assert_non_null(at);
    for (int i = 0; i < 3; i++) {
        kick_targets[i] = &wt[i];
        assert_int_equal(tf_executor_spawn(e, waiting_poll, NULL, &wt[i]), TF_OK);
    }
    assert_int_equal(tf_executor_spawn(e, kicker_poll, NULL, NULL), TF_OK);
    for (int i = 0; i < NEW; i++)
        assert_int_equal(tf_executor_spawn(e, plain_poll, NULL, &at[i]), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    /* Polled after at most the rest of the kicker's batch. */
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(wt[i].second_poll, 0);
        assert_true(wt[i].second_poll < 200);
    }
    assert_true(wt[2].second_poll < wt[0].second_poll);
    assert_true(wt[0].second_poll < wt[1].second_poll);
    for (int i = 1; i < NEW; i++) assert_true(at[i - 1] < at[i]);
    assert_int_equal(sched_seq, 3 * 2 + 1 + NEW);
    free(at);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

typedef struct {
    int left;          /* polls to go, waking itself each time */
    tf_executor *exec; /* set on one of them: spawns the late task */
} spinner_task;

static unsigned late_polled_at;

static int late_poll(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    late_polled_at = ++sched_seq;
    return TF_READY;
}

static int spinner_poll(void *s, const tf_waker *w) {
    spinner_task *t = s;
    sched_seq++;
    if (t->exec) {
        assert_int_equal(tf_executor_spawn(t->exec, late_poll, NULL, NULL), TF_OK);
        t->exec = NULL;
    }
    if (--t->left == 0) return TF_READY;
    tf_waker_wake_by_ref(w);
    return TF_PENDING;
}

/* Enough tasks that keep waking themselves to fill every batch, and a task
 * spawned by one of them: woken tasks go first, but not for ever. The new
 * task is polled within a few batches, not after the 100,000 polls the
 * others make. */
static void test_new_not_starved_by_woken(void **state) {
    (void)state;
    enum { SPIN = 100, POLLS = 1000 };
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    sched_seq = 0;
    late_polled_at = 0;
    spinner_task sp[SPIN];
    for (int i = 0; i < SPIN; i++) sp[i] = (spinner_task){POLLS, i == 0 ? e : NULL};
    for (int i = 0; i < SPIN; i++)
        assert_int_equal(tf_executor_spawn(e, spinner_poll, NULL, &sp[i]), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_not_equal(late_polled_at, 0);
    assert_true(late_polled_at < 2000);
    assert_int_equal(sched_seq, SPIN * POLLS + 1);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* Worker threads carry the library's name for them, as ps -L, top -H
 * and debuggers show it, and go when the executor does. */
static void test_worker_threads_are_named(void **state) {
    (void)state;
    int before = tu_threads_named("tf-worker");
    assert_true(before >= 0);
    tf_executor *e;
    assert_int_equal(tf_executor_new(2, &e), TF_OK);
    assert_int_equal(tu_wait_threads_named("tf-worker", before + 2, 10000), before + 2);
    assert_int_equal(tf_executor_free(e), TF_OK);
    assert_int_equal(tu_wait_threads_named("tf-worker", before, 10000), before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_run_drop_once),
        cmocka_unit_test(test_many_wakes_queue_once),
        cmocka_unit_test(test_wake_during_poll_requeues),
        cmocka_unit_test(test_free_drops_unfinished),
        cmocka_unit_test(test_worker_pool_runs_everything),
        cmocka_unit_test(test_timers_on_worker_pool),
        cmocka_unit_test(test_run_ready_is_bounded),
        cmocka_unit_test(test_reentrant_calls),
        cmocka_unit_test(test_more_function_pairs_than_slots),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_strerror_and_version),
        cmocka_unit_test(test_woken_ahead_of_new),
        cmocka_unit_test(test_new_not_starved_by_woken),
        cmocka_unit_test(test_worker_threads_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
