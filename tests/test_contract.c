/* SPDX-License-Identifier: MIT */
/* Promises of the header that the module tests did not pin down, each
 * found by a mutant of tests/mutants.txt that survived them: caller code
 * never runs under the library's locks, freed handles are refused (and
 * never released twice), tf_timer_peek follows the timer, a timer reset
 * into the past from its own wake fires again, and what a wake does to
 * another timer of its batch (cancel, reset) holds off other threads until
 * the batch is over and takes effect on that timer's own wake; a worker
 * cannot free or run its own executor, and a thread waiting for external
 * tasks learns when the last one finished. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "testutil.h"

/* Generous: only a hang guard, never a measure of speed. */
#define HANG_GUARD_MS 20000
#define HOUR_NS (3600ull * 1000000000ull)

/* A timer that the driver fires about 1 ms from now, with w stored. Armed
 * far ahead and polled first, then moved: a timer created 1 ms ahead could
 * already be due at its first poll on a loaded machine (and fire there). */
static tf_timer *armed_soon(const tf_waker *w) {
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(HOUR_NS, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    /* Still in the future for the driver whatever the delay so far. */
    assert_int_equal(tf_timer_reset(t, 1000000), TF_OK);
    return t;
}

/* --- a caller-made waker whose clone calls into the library ------------- */

typedef struct calling_waker {
    tf_timer *other;  /* cancelled from inside clone */
    int clone_rc;     /* what that cancel returned */
    atomic_int refs;
} calling_waker;

static void *calling_clone(void *data) {
    calling_waker *c = data;
    /* Takes the timer driver's lock: were the caller's clone run under
     * it, this would never return. */
    c->clone_rc = tf_timer_cancel(c->other);
    atomic_fetch_add(&c->refs, 1);
    return c;
}

static void calling_release(void *data) {
    atomic_fetch_sub(&((calling_waker *)data)->refs, 1);
}

static void calling_wake_by_ref(void *data) { (void)data; }

static const tf_waker_vtable calling_vtable = TF_WAKER_VTABLE_INIT(
    calling_clone, calling_release,
    calling_wake_by_ref, calling_release);

static void test_caller_clone_runs_outside_the_library_locks(void **state) {
    (void)state;
    calling_waker c = {.clone_rc = 1};
    atomic_init(&c.refs, 1);
    tf_timer *t, *other;
    assert_int_equal(tf_timer_new(HOUR_NS, &t), TF_OK);
    assert_int_equal(tf_timer_new(HOUR_NS, &other), TF_OK);
    c.other = other;
    tf_waker *w;
    assert_int_equal(tf_waker_new(&calling_vtable, &c, &w), TF_OK);

    /* The timer stores a clone of w: the clone function runs. */
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(c.clone_rc, TF_OK);
    assert_int_equal(tf_timer_peek(other), TF_ECANCELED);

    assert_int_equal(tf_timer_free(t), TF_OK);   /* drops the stored clone */
    assert_int_equal(tf_timer_free(other), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(atomic_load(&c.refs), 0);
}

/* --- freed handles: memory that is not reused, so the check is defined --- */

/* An allocator that keeps freed blocks (still readable) until the test
 * ends: a freed handle then holds whatever the library left in it. */
#define QUARANTINE_MAX 256
static void *quarantine[QUARANTINE_MAX];
static int quarantined;

static void *q_alloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n);
}

static void q_free(void *ud, void *p) {
    (void)ud;
    if (quarantined < QUARANTINE_MAX)
        quarantine[quarantined++] = p;
    else
        free(p);
}

static int quarantine_setup(void **state) {
    (void)state;
    static const tf_allocator a = TF_ALLOCATOR_INIT(q_alloc, q_free, NULL);
    quarantined = 0;
    return tf_set_allocator(&a) == TF_OK ? 0 : -1;
}

static int quarantine_teardown(void **state) {
    (void)state;
    int rc = tf_set_allocator(NULL);
    for (int i = 0; i < quarantined; i++) free(quarantine[i]);
    quarantined = 0;
    return rc == TF_OK ? 0 : -1;
}

static void test_released_wakers_are_refused(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);

    tf_waker *dropped = cw_make(&c);
    assert_non_null(dropped);
    assert_int_equal(tf_waker_drop(dropped), TF_OK);
    tf_waker *woken = cw_make(&c);
    assert_non_null(woken);
    assert_int_equal(tf_waker_wake(woken), TF_OK);
    assert_int_equal(atomic_load(&c.drops), 1);
    assert_int_equal(atomic_load(&c.wakes), 1);

    tf_waker *released[] = {dropped, woken};
    for (size_t i = 0; i < 2; i++) {
        tf_waker *w = released[i], *out = NULL;
        assert_int_equal(tf_waker_wake_by_ref(w), TF_EHANDLE);
        assert_int_equal(tf_waker_clone(w, &out), TF_EHANDLE);
        assert_null(out);
        assert_int_equal(tf_waker_will_wake(w, w), TF_EHANDLE);
        assert_int_equal(tf_waker_wake(w), TF_EHANDLE);
        assert_int_equal(tf_waker_drop(w), TF_EHANDLE);
    }
    /* Nothing of the caller's ran twice. */
    assert_int_equal(atomic_load(&c.drops), 1);
    assert_int_equal(atomic_load(&c.wakes), 1);
    assert_int_equal(atomic_load(&c.wake_by_refs), 0);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

static int ready_poll(void *state, const tf_waker *w) {
    (void)state;
    (void)w;
    return TF_READY;
}

static void test_freed_executor_and_timer_are_refused(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    uint64_t n;
    assert_int_equal(tf_executor_spawn(e, ready_poll, NULL, NULL), TF_EHANDLE);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_EHANDLE);
    assert_int_equal(tf_executor_run(e), TF_EHANDLE);
    assert_int_equal(tf_executor_run_ready(e, &n), TF_EHANDLE);
    assert_int_equal(tf_executor_count(e, &n, NULL), TF_EHANDLE);
    int fd;
    assert_int_equal(tf_executor_fd(e, &fd), TF_EHANDLE);
    assert_int_equal(tf_executor_free(e), TF_EHANDLE);

#ifndef TF_TEST_ASAN
    /* Timers come from the library's pool, not from the quarantining
     * allocator: under ASan a freed one is poisoned, and reading it would
     * be the use after free that the poisoning exists to catch
     * (test_freed_handles covers timers in those builds). */
    tf_timer *t;
    assert_int_equal(tf_timer_new(HOUR_NS, &t), TF_OK);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_timer_peek(t), TF_EHANDLE);
    assert_int_equal(tf_timer_cancel(t), TF_EHANDLE);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_EHANDLE);
    assert_int_equal(tf_timer_free(t), TF_EHANDLE);
#endif
}

/* --- tf_timer_peek ------------------------------------------------------- */

static void test_peek_follows_the_timer(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = cw_make(&c);

    /* Armed; peeking leaves the stored waker in place. */
    tf_timer *armed;
    assert_int_equal(tf_timer_new(HOUR_NS, &armed), TF_OK);
    assert_int_equal(tf_timer_poll(armed, w), TF_PENDING);
    assert_int_equal(tf_timer_peek(armed), TF_PENDING);
    assert_int_equal(tf_timer_peek(armed), TF_PENDING);
    assert_int_equal(cw_total_wakes(&c), 0);
    /* Cancelled: the stored waker is woken, peek says so. */
    assert_int_equal(tf_timer_cancel(armed), TF_OK);
    assert_int_equal(cw_wait_wakes(&c, 1, HANG_GUARD_MS), 1);
    assert_int_equal(tf_timer_peek(armed), TF_ECANCELED);

    /* Created with a deadline long past: fired at once. (A deadline of
     * "now" may still wait for the driver: peek says pending then.) */
    tf_timer *due;
    assert_int_equal(tf_timer_new_at(0, &due), TF_OK);
    assert_int_equal(tf_timer_peek(due), TF_READY);

    /* Fired by the driver thread. */
    tf_timer *fired = armed_soon(w);
    assert_int_equal(cw_wait_wakes(&c, 2, HANG_GUARD_MS), 2);
    assert_int_equal(tf_timer_peek(fired), TF_READY);

    assert_int_equal(tf_timer_free(armed), TF_OK);
    assert_int_equal(tf_timer_free(due), TF_OK);
    assert_int_equal(tf_timer_free(fired), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

/* --- reset into the past from the timer's own wake ---------------------- */

typedef struct resetting_waker {
    tf_timer *timer;
    tf_waker *next;     /* polled into the timer from inside the wake */
    int reset_rc, poll_rc;
    atomic_int refs;
} resetting_waker;

static void *resetting_clone(void *data) {
    atomic_fetch_add(&((resetting_waker *)data)->refs, 1);
    return data;
}

/* Runs on the driver thread, inside the timer's firing batch. */
static void resetting_wake(void *data) {
    resetting_waker *r = data;
    /* A deadline the driver has already passed (tf_timer_reset(t, 0)
     * would be "now", later than the batch: filed like any other). */
    r->reset_rc = tf_timer_reset_at(r->timer, 0);
    r->poll_rc = tf_timer_poll(r->timer, r->next);
    atomic_fetch_sub(&r->refs, 1);
}

static void resetting_wake_by_ref(void *data) { (void)data; }

static void resetting_drop(void *data) {
    atomic_fetch_sub(&((resetting_waker *)data)->refs, 1);
}

static const tf_waker_vtable resetting_vtable = TF_WAKER_VTABLE_INIT(
    resetting_clone, resetting_wake,
    resetting_wake_by_ref, resetting_drop);

static void test_reset_into_the_past_from_its_own_wake_fires(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    resetting_waker r = {.reset_rc = 1, .poll_rc = 1};
    atomic_init(&r.refs, 1);
    r.next = cw_make(&c);
    tf_waker *w;
    assert_int_equal(tf_waker_new(&resetting_vtable, &r, &w), TF_OK);
    /* r.timer is set before the timer can fire: the wake reads it on the
     * driver thread, which a stalled test thread may lose the race to. */
    assert_int_equal(tf_timer_new(HOUR_NS, &r.timer), TF_OK);
    assert_int_equal(tf_timer_poll(r.timer, w), TF_PENDING);
    assert_int_equal(tf_timer_reset(r.timer, 1000000), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);

    /* The first firing resets the timer to a deadline already past and
     * stores the next waker; the timer must fire again and wake it. */
    assert_int_equal(cw_wait_wakes(&c, 1, HANG_GUARD_MS), 1);
    assert_int_equal(r.reset_rc, TF_OK);
    assert_int_equal(r.poll_rc, TF_PENDING);
    assert_int_equal(tf_timer_peek(r.timer), TF_READY);
    assert_int_equal(tf_timer_poll(r.timer, tf_waker_noop()), TF_READY);
    assert_int_equal(tf_timer_free(r.timer), TF_OK);
    assert_int_equal(tf_waker_drop(r.next), TF_OK);
    assert_int_equal(atomic_load(&r.refs), 0);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

/* --- two timers fired in one batch, the first acting on the second ------ */

/* A gate: a waker whose wake blocks the driver thread until opened, so
 * that timers armed meanwhile are all due when the driver goes on, and
 * fire together in one batch, in arming order. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered, open;
    atomic_int refs;
} gate;

static void *gate_clone(void *data) {
    atomic_fetch_add(&((gate *)data)->refs, 1);
    return data;
}

static void gate_wake(void *data) {
    gate *g = data;
    pthread_mutex_lock(&g->lock);
    g->entered = 1;
    pthread_cond_broadcast(&g->cond);
    while (!g->open) pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_sub(&g->refs, 1);
}

static void gate_wake_by_ref(void *data) { (void)data; }

static void gate_drop(void *data) { atomic_fetch_sub(&((gate *)data)->refs, 1); }

static const tf_waker_vtable gate_vtable = TF_WAKER_VTABLE_INIT(gate_clone,
                                            gate_wake, gate_wake_by_ref, gate_drop);

/* Waits (with a hang guard) until *flag is set under lock/cond. */
static int wait_flag(pthread_mutex_t *lock, pthread_cond_t *cond, const int *flag, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(lock);
    while (!*flag && pthread_cond_timedwait(cond, lock, &ts) == 0) {
    }
    int v = *flag;
    pthread_mutex_unlock(lock);
    return v;
}

typedef struct pair {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    tf_timer *second;
    int (*act)(tf_timer *);  /* what the first timer's wake does to the second */
    int act_rc;
    int acted;               /* the wake has acted */
    int second_fired_first;  /* the second had fired already: not one batch */
    int main_done;           /* the main thread's call on the second returned */
    int main_done_in_batch;  /* ... while the first's wake still ran */
    int finished;            /* the first's wake has returned */
    atomic_int refs;
} pair;

static void *pair_clone(void *data) {
    atomic_fetch_add(&((pair *)data)->refs, 1);
    return data;
}

/* On the driver thread, inside the batch that fires both timers. */
static void pair_wake(void *data) {
    pair *p = data;
    p->second_fired_first = tf_timer_peek(p->second) != TF_READY;
    p->act_rc = p->act(p->second);
    pthread_mutex_lock(&p->lock);
    p->acted = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    /* Give the main thread's call on the second timer time to return, if
     * it (wrongly) does not wait for this batch to end. Correct code makes
     * it wait, so this always runs out; its length decides nothing. */
    int in_batch = wait_flag(&p->lock, &p->cond, &p->main_done, 300);
    pthread_mutex_lock(&p->lock);
    p->main_done_in_batch = in_batch;
    p->finished = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    atomic_fetch_sub(&p->refs, 1);
}

static void pair_drop(void *data) { atomic_fetch_sub(&((pair *)data)->refs, 1); }

static const tf_waker_vtable pair_vtable = TF_WAKER_VTABLE_INIT(pair_clone,
                                            pair_wake, gate_wake_by_ref, pair_drop);

/* Fires `first` and `second` in one batch; the first's wake runs act on
 * the second, then the main thread runs main_call on it (which must wait
 * for the batch to end). cw counts the second's wakes. */
static void run_pair(pair *p, counting_waker *cw, tf_timer **first,
                     int (*main_call)(tf_timer *)) {
    gate g = {.entered = 0, .open = 0};
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.cond, NULL);
    atomic_init(&g.refs, 1);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    atomic_init(&p->refs, 1);

    tf_timer *z;
    tf_waker *gw, *pw, *cwk = cw_make(cw);
    assert_int_equal(tf_waker_new(&gate_vtable, &g, &gw), TF_OK);
    assert_int_equal(tf_waker_new(&pair_vtable, p, &pw), TF_OK);
    z = armed_soon(gw);
    assert_int_equal(wait_flag(&g.lock, &g.cond, &g.entered, HANG_GUARD_MS), 1);

    /* The driver is held inside z's wake. Armed far ahead and polled, then
     * both moved to "now", which is past for the driver's wheel but not
     * before it goes on: due together, in arming order. */
    assert_int_equal(tf_timer_new(HOUR_NS, first), TF_OK);
    assert_int_equal(tf_timer_new(HOUR_NS, &p->second), TF_OK);
    assert_int_equal(tf_timer_poll(*first, pw), TF_PENDING);
    assert_int_equal(tf_timer_poll(p->second, cwk), TF_PENDING);
    uint64_t due = tf_now_ns();
    assert_int_equal(tf_timer_reset_at(*first, due), TF_OK);
    assert_int_equal(tf_timer_reset_at(p->second, due), TF_OK);
    pthread_mutex_lock(&g.lock);
    g.open = 1;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);

    assert_int_equal(wait_flag(&p->lock, &p->cond, &p->acted, HANG_GUARD_MS), 1);
    assert_int_equal(p->second_fired_first, 0);
    assert_int_equal(p->act_rc, TF_OK);
    assert_int_equal(main_call(p->second), TF_OK);
    pthread_mutex_lock(&p->lock);
    p->main_done = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    /* The batch was over when main_call returned. */
    assert_int_equal(wait_flag(&p->lock, &p->cond, &p->finished, HANG_GUARD_MS), 1);
    pthread_mutex_lock(&p->lock);
    int in_batch = p->main_done_in_batch;
    pthread_mutex_unlock(&p->lock);
    assert_int_equal(in_batch, 0);
    assert_int_equal(tf_timer_peek(*first), TF_READY);

    assert_int_equal(tf_timer_free(z), TF_OK);
    assert_int_equal(tf_waker_drop(gw), TF_OK);
    assert_int_equal(tf_waker_drop(pw), TF_OK);
    assert_int_equal(tf_waker_drop(cwk), TF_OK);
    assert_int_equal(atomic_load(&g.refs), 0);
    pthread_cond_destroy(&g.cond);
    pthread_mutex_destroy(&g.lock);
}

static int act_cancel(tf_timer *t) { return tf_timer_cancel(t); }
static int act_reset_later(tf_timer *t) { return tf_timer_reset(t, HOUR_NS); }
static int call_free(tf_timer *t) { return tf_timer_free(t); }

static void test_free_waits_for_a_batch_that_cancelled_the_timer(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    pair p = {.act = act_cancel};
    tf_timer *first;
    run_pair(&p, &c, &first, call_free);
    /* Cancel woke the second's waker, once. */
    assert_int_equal(cw_total_wakes(&c), 1);
    assert_int_equal(tf_timer_free(first), TF_OK);
    assert_int_equal(atomic_load(&p.refs), 0);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

static void test_timer_reset_by_its_batch_is_not_woken_now(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    pair p = {.act = act_reset_later};
    tf_timer *first;
    run_pair(&p, &c, &first, act_reset_later);
    /* Re-armed an hour ahead: nothing may have woken its waker, and it
     * must still hold it: moved into the past, it wakes it at once. */
    assert_int_equal(tf_timer_peek(p.second), TF_PENDING);
    assert_int_equal(cw_total_wakes(&c), 0);
    assert_int_equal(tf_timer_reset_at(p.second, 0), TF_OK);
    assert_int_equal(cw_total_wakes(&c), 1);
    assert_int_equal(tf_timer_peek(p.second), TF_READY);
    assert_int_equal(tf_timer_free(p.second), TF_OK);
    assert_int_equal(tf_timer_free(first), TF_OK);
    assert_int_equal(atomic_load(&p.refs), 0);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

/* --- executors: refusals on workers, and the last external task -------- */

typedef struct worker_probe {
    tf_executor *e;
    int free_rc, run_rc;
    int done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} worker_probe;

static int probe_poll(void *state, const tf_waker *w) {
    (void)w;
    worker_probe *p = state;
    /* On one of e's own workers: freeing e would join this thread, and
     * running it would never return. */
    p->free_rc = tf_executor_free(p->e);
    p->run_rc = tf_executor_run(p->e);
    pthread_mutex_lock(&p->lock);
    p->done = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return TF_READY;
}

static void test_worker_may_not_free_or_run_its_executor(void **state) {
    (void)state;
    worker_probe p = {.free_rc = 1, .run_rc = 1};
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    assert_int_equal(tf_executor_new(1, &p.e), TF_OK);
    assert_int_equal(tf_executor_spawn(p.e, probe_poll, NULL, &p), TF_OK);
    assert_int_equal(wait_flag(&p.lock, &p.cond, &p.done, HANG_GUARD_MS), 1);
    assert_int_equal(p.free_rc, TF_EBUSY);
    assert_int_equal(p.run_rc, TF_EBUSY);
    assert_int_equal(tf_executor_free(p.e), TF_OK);
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
}

typedef struct next_waiter {
    tf_executor *e;
    int rc;
} next_waiter;

static void *wait_next(void *arg) {
    next_waiter *w = arg;
    uint64_t tag;
    const tf_waker *wk;
    /* No timeout: after one, the call would find no task left and return
     * TF_EEMPTY anyway. It must return as soon as the last external task
     * is reported; if it never did, ctest's timeout ends the test. */
    w->rc = tf_executor_next(w->e, TF_TIMEOUT_INFINITE, &tag, &wk);
    return NULL;
}

static void test_waiting_next_learns_the_last_task_finished(void **state) {
    (void)state;
    next_waiter w = {.rc = 1};
    assert_int_equal(tf_executor_new(0, &w.e), TF_OK);
    assert_int_equal(tf_executor_spawn_external(w.e, 7), TF_OK);
    uint64_t tag;
    const tf_waker *wk;
    assert_int_equal(tf_executor_next(w.e, 0, &tag, &wk), TF_OK);
    assert_int_equal(tag, 7);
    /* Another thread waits for the next woken task while this one still
     * polls the only one. (If it has not gone to sleep yet when the task
     * is reported, it sees no task left at once: the same answer.) */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_next, &w), 0);
    sleep_ms(50);
    assert_int_equal(tf_executor_report(w.e, wk, TF_READY), TF_OK);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, TF_EEMPTY);
    assert_int_equal(tf_executor_free(w.e), TF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caller_clone_runs_outside_the_library_locks),
        cmocka_unit_test_setup_teardown(test_released_wakers_are_refused,
                                        quarantine_setup, quarantine_teardown),
        cmocka_unit_test_setup_teardown(test_freed_executor_and_timer_are_refused,
                                        quarantine_setup, quarantine_teardown),
        cmocka_unit_test(test_peek_follows_the_timer),
        cmocka_unit_test(test_reset_into_the_past_from_its_own_wake_fires),
        cmocka_unit_test(test_free_waits_for_a_batch_that_cancelled_the_timer),
        cmocka_unit_test(test_timer_reset_by_its_batch_is_not_woken_now),
        cmocka_unit_test(test_worker_may_not_free_or_run_its_executor),
        cmocka_unit_test(test_waiting_next_learns_the_last_task_finished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
