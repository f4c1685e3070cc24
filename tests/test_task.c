/* SPDX-License-Identifier: MIT */
/* The task state word's self-wake (carried) path: a task that wakes itself
 * during its poll is re-queued still RUNNING, and its next poll starts
 * with no transition. The interleavings with a remote waker are forced:
 * from inside the poll, or at TF_HOOK_TASK_CARRIED (the task about to be
 * re-queued), on another thread, joined before the runner goes on. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "executor_internal.h"
#include "internal.h"
#include "timefuture.h"
#include "testutil.h"

typedef struct probe {
    int polls;
    int event;            /* what the future waits for */
    const tf_waker *w;    /* its waker, for the remote thread */
    uint32_t state_after; /* the state word after the remote wake */
    int wake_rc;          /* cmocka asserts only on the test's thread */
} probe;

static void *remote_wake(void *arg) {
    probe *p = arg;
    p->event = 1;
    p->wake_rc = tf_waker_wake_by_ref(p->w);
    p->state_after = atomic_load(&((tf_task *)p->w)->state);
    return NULL;
}

static void wake_from_thread(probe *p) {
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, remote_wake, p), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(p->wake_rc, TF_OK);
}

/* Poll 1 wakes itself; poll 2 (carried) sees no event, then a remote wake
 * sets it before the poll returns PENDING: that wake must bring poll 3. */
static int wake_during_carried_poll(void *s, const tf_waker *w) {
    probe *p = s;
    p->polls++;
    if (p->polls == 1) {
        assert_int_equal(tf_waker_wake_by_ref(w), TF_OK);
        /* The self-wake changed nothing in the word: still RUNNING only. */
        uint32_t st = atomic_load(&((tf_task *)w)->state);
        assert_int_equal(st & (TF_TASK_NOTIFIED | TF_TASK_SCHEDULED), 0);
        assert_true(st & TF_TASK_RUNNING);
        return TF_PENDING;
    }
    if (p->event) return TF_READY;
    p->w = w;
    wake_from_thread(p);
    /* The remote thread found it RUNNING (carried, never left) and only
     * marked it. */
    assert_int_equal(p->state_after & (TF_TASK_NOTIFIED | TF_TASK_RUNNING |
                                       TF_TASK_SCHEDULED),
                     TF_TASK_NOTIFIED | TF_TASK_RUNNING);
    return TF_PENDING;
}

static void test_wake_during_carried_poll_is_kept(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    probe p = {0};
    assert_int_equal(tf_executor_spawn(e, wake_during_carried_poll, NULL, &p), TF_OK);
    uint64_t polled = 0, tasks = 1;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(p.polls, 3);
    assert_int_equal(tf_executor_count(e, &tasks, NULL), TF_OK);
    assert_int_equal(tasks, 0);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* At TF_HOOK_TASK_CARRIED the task has woken itself and is not yet on the
 * queue: a remote wake there must mark it (not queue it a second time),
 * and the mark must bring one more poll after the carried one. */
static probe *hook_probe;
static int hook_fired;

static void carried_hook(int point, void *object) {
    if (point != TF_HOOK_TASK_CARRIED || !hook_probe || hook_fired) return;
    hook_fired = 1;
    assert_ptr_equal(object, hook_probe->w);
    wake_from_thread(hook_probe);
}

static int wakes_itself_once(void *s, const tf_waker *w) {
    probe *p = s;
    p->polls++;
    p->w = w;
    if (p->polls == 1) {
        tf_waker *c;
        /* Through the consuming wake of a clone: the same fast path. */
        assert_int_equal(tf_waker_clone(w, &c), TF_OK);
        assert_int_equal(tf_waker_wake(c), TF_OK);
        return TF_PENDING;
    }
    /* Poll 2 ignores the event on purpose: only the NOTIFIED mark set
     * while the task was carried can bring poll 3. */
    return p->polls == 3 && p->event ? TF_READY : TF_PENDING;
}

static void test_remote_wake_while_carried_is_kept(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    probe p = {0};
    hook_probe = &p;
    hook_fired = 0;
    tf__set_hook(carried_hook);
    assert_int_equal(tf_executor_spawn(e, wakes_itself_once, NULL, &p), TF_OK);
    uint64_t polled = 0, tasks = 1;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    tf__set_hook(NULL);
    hook_probe = NULL;
    assert_true(hook_fired);
    assert_int_equal(p.state_after & (TF_TASK_NOTIFIED | TF_TASK_RUNNING |
                                      TF_TASK_SCHEDULED),
                     TF_TASK_NOTIFIED | TF_TASK_RUNNING);
    assert_int_equal(p.polls, 3);
    assert_int_equal(polled, 3);
    assert_int_equal(tf_executor_count(e, &tasks, NULL), TF_OK);
    assert_int_equal(tasks, 0);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* A poll that runs another executor: the inner run's polls must not leave
 * the outer task's slot pointing elsewhere, so the outer task's wake after
 * the inner run still takes the self-wake path (and is not lost). */
static int inner_ready(void *s, const tf_waker *w) {
    (void)w;
    ++*(int *)s;
    return TF_READY;
}

typedef struct outer {
    tf_executor *inner;
    int polls, inner_polls;
    uint32_t state_after_wake;
} outer;

static int runs_inner_then_wakes(void *s, const tf_waker *w) {
    outer *o = s;
    if (++o->polls > 1) return TF_READY;
    assert_int_equal(tf_executor_spawn(o->inner, inner_ready, NULL, &o->inner_polls), TF_OK);
    assert_int_equal(tf_executor_run_ready(o->inner, NULL), TF_OK);
    assert_int_equal(tf_waker_wake_by_ref(w), TF_OK);
    o->state_after_wake = atomic_load(&((tf_task *)w)->state);
    return TF_PENDING;
}

static void test_nested_run_keeps_the_slot(void **state) {
    (void)state;
    tf_executor *a, *b;
    assert_int_equal(tf_executor_new(0, &a), TF_OK);
    assert_int_equal(tf_executor_new(0, &b), TF_OK);
    outer o = {b, 0, 0, 0};
    assert_int_equal(tf_executor_spawn(a, runs_inner_then_wakes, NULL, &o), TF_OK);
    assert_int_equal(tf_executor_run_ready(a, NULL), TF_OK);
    assert_int_equal(o.inner_polls, 1);
    assert_int_equal(o.polls, 2);
    /* The self-wake path: no NOTIFIED, the word untouched. */
    assert_int_equal(o.state_after_wake & TF_TASK_NOTIFIED, 0);
    assert_int_equal(tf_executor_free(b), TF_OK);
    assert_int_equal(tf_executor_free(a), TF_OK);
}

static int ready_at_once(void *state, const tf_waker *waker) {
    (void)waker;
    ++*(int *)state;
    return TF_READY;
}

/* The spawn reserve is taken from the pool a block at a time, so after a
 * burst its rest sits in the chunk carved last, at the top of the heap.
 * Once the burst's tasks are freed the pool must hold nothing back but
 * its one spare chunk: a reserve kept would pin the top chunk and, with
 * it, every freed chunk of the burst below it in the heap. */
static void test_burst_leaves_no_reserve_pinned(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    /* Over three chunks, and not a whole number of spawn blocks, so the
     * last block leaves objects in the reserve. */
    size_t n = 3 * e->pool.per_chunk + 1;
    int polls = 0;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tf_executor_spawn(e, ready_at_once, NULL, &polls), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_equal(polls, (int)n);
    pthread_mutex_lock(&e->pool_lock);
    size_t live = e->pool.live, chunks = e->pool.chunks;
    pthread_mutex_unlock(&e->pool_lock);
    assert_int_equal(live, 0);
    assert_true(chunks <= 1);
    /* Spawning again refills the reserve from what is left. */
    assert_int_equal(tf_executor_spawn(e, ready_at_once, NULL, &polls), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_equal(polls, (int)n + 1);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* ---- a batch behind a long poll goes to an idle worker ----------------
 * Two workers, both asleep. A is spawned and wakes one of them, which a
 * hook holds until B is queued too, so that it takes A and B in one
 * batch. A's poll waits until B has run: B must go to the other, idle,
 * worker before A's poll starts, not wait behind it. */
static atomic_int b_ran, holding, woken, a_saw_b;
static tf_executor *batch_e;
/* Its ready queue, for the hook: atomic, as the workers read it while the
 * test thread sets it after tf_executor_new (which started them). */
static _Atomic(tf_queue *) batch_q;

static int a_waits_for_b(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    for (int i = 0; i < 10000 && !atomic_load(&b_ran); i++) sleep_ms(1);
    atomic_store(&a_saw_b, atomic_load(&b_ran));
    return TF_READY;
}

static int b_runs(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    atomic_store(&b_ran, 1);
    return TF_READY;
}

/* cppcheck-suppress constParameter ; the hook type is fixed (tf__hook_fn) */
static void hold_first_woken(int point, void *object) {
    if (point != TF_HOOK_QUEUE_WOKEN || object != atomic_load(&batch_q)) return;
    if (atomic_exchange(&woken, 1) != 0) return;
    for (int i = 0; i < 10000 && atomic_load(&holding); i++) sleep_ms(1);
}

static void test_batch_goes_to_an_idle_worker(void **state) {
    (void)state;
    assert_int_equal(tf_executor_new(2, &batch_e), TF_OK);
    atomic_store(&batch_q, &batch_e->runq);
    for (int i = 0; i < 10000 && atomic_load(&batch_e->runq.sleepers) != 2; i++) sleep_ms(1);
    assert_int_equal(atomic_load(&batch_e->runq.sleepers), 2);
    atomic_store(&b_ran, 0);
    atomic_store(&holding, 1);
    atomic_store(&woken, 0);
    tf__set_hook(hold_first_woken);
    atomic_store(&a_saw_b, -1);
    assert_int_equal(tf_executor_spawn(batch_e, a_waits_for_b, NULL, NULL), TF_OK);
    for (int i = 0; i < 10000 && !atomic_load(&woken); i++) sleep_ms(1);
    assert_int_equal(atomic_load(&woken), 1); /* a worker woke for A and is held */
    assert_int_equal(tf_executor_spawn(batch_e, b_runs, NULL, NULL), TF_OK);
    atomic_store(&holding, 0); /* it takes A and B together */
    uint64_t left = 1;
    for (int i = 0; i < 20000 && left; i++) {
        assert_int_equal(tf_executor_count(batch_e, &left, NULL), TF_OK);
        if (left) sleep_ms(1);
    }
    tf__set_hook(NULL);
    atomic_store(&batch_q, NULL);
    assert_int_equal(left, 0);
    assert_int_equal(atomic_load(&a_saw_b), 1); /* B ran while A's poll waited */
    assert_int_equal(tf_executor_free(batch_e), TF_OK);
}

/* ---- dead tasks released while the pool's lock is held ----------------
 * A task kept alive by a clone of its waker after it completed; the
 * clone's drop on another thread is the release. */
static tf_waker *kept_clone;
static atomic_int release_done, in_defer;
static tf_executor *defer_e;

static int ready_keeping_a_clone(void *s, const tf_waker *w) {
    (void)s;
    assert_int_equal(tf_waker_clone(w, &kept_clone), TF_OK);
    return TF_READY;
}

static void *drop_kept_clone(void *arg) {
    (void)arg;
    tf_waker_drop(kept_clone);
    atomic_store(&release_done, 1);
    return NULL;
}

/* A completed task, alive only through kept_clone. */
static tf_executor *executor_with_a_kept_task(void) {
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn(e, ready_keeping_a_clone, NULL, NULL), TF_OK);
    assert_int_equal(tf_executor_run(e), TF_OK);
    return e;
}

/* The release does not wait for a lock another thread holds (a spawner
 * refilling its reserve, say): it leaves the task to the lock's next
 * taker, and the executor's memory still goes when its handle is freed. */
static void test_release_while_the_pool_is_locked(void **state) {
    (void)state;
    long objects = atomic_load(&tf__live_objects);
    tf_executor *e = executor_with_a_kept_task();
    atomic_store(&release_done, 0);
    pthread_mutex_lock(&e->pool_lock);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drop_kept_clone, NULL), 0);
    for (int i = 0; i < 5000 && !atomic_load(&release_done); i++) sleep_ms(1);
    int done = atomic_load(&release_done);
    tf_task *pending = atomic_load(&e->dead_pending);
    pthread_mutex_unlock(&e->pool_lock);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(done, 1); /* returned while the lock was held */
    assert_non_null(pending);
    assert_null(tf__task_next(pending));
    assert_int_equal(tf_executor_free(e), TF_OK);
    assert_int_equal(atomic_load(&tf__live_objects), objects); /* all freed */
}

/* On the releaser's thread, about to push its dead task: waits until the
 * handle's free has begun (deferring is no longer allowed), so that
 * tf_executor_free runs while the task is neither pushed nor freed. */
/* cppcheck-suppress constParameter ; the hook type is fixed (tf__hook_fn) */
static void defer_until_freed(int point, void *object) {
    if (point != TF_HOOK_TASK_RELEASE_DEFER || object != defer_e) return;
    atomic_store(&in_defer, 1);
    for (int i = 0; i < 5000 && atomic_load(&defer_e->defer_ok); i++) sleep_ms(1);
}

/* The handle freed while a release that saw it alive has not pushed its
 * task yet: tf_executor_free waits for it, frees the task, and with it the
 * executor's memory; nothing is left behind. */
static void test_handle_freed_while_a_release_defers(void **state) {
    (void)state;
    long objects = atomic_load(&tf__live_objects);
    defer_e = executor_with_a_kept_task();
    atomic_store(&release_done, 0);
    atomic_store(&in_defer, 0);
    tf__set_hook(defer_until_freed);
    pthread_mutex_lock(&defer_e->pool_lock);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drop_kept_clone, NULL), 0);
    for (int i = 0; i < 5000 && !atomic_load(&in_defer); i++) sleep_ms(1);
    int deferring = atomic_load(&in_defer);
    pthread_mutex_unlock(&defer_e->pool_lock);
    assert_int_equal(tf_executor_free(defer_e), TF_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    tf__set_hook(NULL);
    assert_int_equal(deferring, 1);
    assert_int_equal(atomic_load(&release_done), 1);
    assert_int_equal(atomic_load(&tf__live_objects), objects);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wake_during_carried_poll_is_kept),
        cmocka_unit_test(test_remote_wake_while_carried_is_kept),
        cmocka_unit_test(test_nested_run_keeps_the_slot),
        cmocka_unit_test(test_burst_leaves_no_reserve_pinned),
        cmocka_unit_test(test_batch_goes_to_an_idle_worker),
        cmocka_unit_test(test_release_while_the_pool_is_locked),
        cmocka_unit_test(test_handle_freed_while_a_release_defers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
