/* SPDX-License-Identifier: MIT */
/* Timers: never early, the TimerFuture waker rules (store on pending,
 * replace unless will_wake), reset, cancel, free, ordering, ranges, and
 * a first poll that stores its waker without the driver's lock against
 * a fire or a cancel at each of its steps (forced with hooks).
 * Static build: the tests marked "fake clock" run under the test's clock
 * (fake_clock.h), where time stands still unless the test moves it and
 * timers fire only when it syncs the driver, so that "still pending"
 * and "fired in this order" do not depend on the machine's speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fake_clock.h"
#include "internal.h"
#include "task.h"
#include "testutil.h"
#include "timer_internal.h"

#define MS 1000000ull

/* Frees the timer and the test's waker reference, then checks that the
 * library released every clone it had taken of the waker. */
static void finish(tf_timer *t, tf_waker *w, counting_waker *c) {
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    assert_int_equal(atomic_load(&c->refs), 0);
    cw_destroy(c);
}

static int fake_start(void **state) {
    (void)state;
    fake_clock_start();
    return 0;
}
static int fake_stop(void **state) {
    (void)state;
    fake_clock_stop();
    return 0;
}

/* Fake clock. */
static void test_fires_not_early(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = cw_make(&c);
    tf_timer *t = NULL;
    uint64_t start = tf_now_ns();
    assert_int_equal(tf_timer_new(300 * MS, &t), TF_OK);
    uint64_t deadline = 0;
    assert_int_equal(tf_timer_deadline(t, &deadline), TF_OK);
    assert_int_equal(deadline, start + 300 * MS);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(atomic_load(&c.clones), 1);
    fake_clock_sync_to(deadline - 1);
    assert_int_equal(cw_total_wakes(&c), 0);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(atomic_load(&c.clones), 1); /* same waker: kept */
    fake_clock_sync_to(deadline);
    assert_int_equal(cw_total_wakes(&c), 1);
    assert_int_equal(atomic_load(&c.woken_at), deadline);
    assert_int_equal(tf_timer_poll(t, w), TF_READY);
    assert_int_equal(tf_timer_poll(t, w), TF_READY); /* stays ready */
    /* The stored clone was consumed by the wake. */
    assert_int_equal(atomic_load(&c.wakes), 1);
    finish(t, w, &c);
}

static void test_same_waker_is_not_cloned_again(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = cw_make(&c);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(10000 * MS, &t), TF_OK);
    for (int i = 0; i < 10; i++) assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(atomic_load(&c.clones), 1);
    assert_int_equal(tf_timer_free(t), TF_OK);
    /* Freeing drops the stored clone without waking it. */
    assert_int_equal(atomic_load(&c.drops), 1);
    assert_int_equal(cw_total_wakes(&c), 0);
    tf_waker_drop(w);
    assert_int_equal(atomic_load(&c.refs), 0);
    cw_destroy(&c);
}

/* Fake clock. */
static void test_moved_future_wakes_new_task(void **state) {
    (void)state;
    counting_waker a, b;
    cw_init(&a);
    cw_init(&b);
    tf_waker *wa = cw_make(&a), *wb = cw_make(&b);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(300 * MS, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, wa), TF_PENDING);
    /* The future moved to another task: the old waker is released. */
    assert_int_equal(tf_timer_poll(t, wb), TF_PENDING);
    assert_int_equal(atomic_load(&a.drops), 1);
    fake_clock_sync_to(tf_now_ns() + 300 * MS);
    assert_int_equal(cw_total_wakes(&b), 1);
    assert_int_equal(cw_total_wakes(&a), 0);
    tf_timer_free(t);
    tf_waker_drop(wa);
    tf_waker_drop(wb);
    assert_int_equal(atomic_load(&a.refs) + atomic_load(&b.refs), 0);
    cw_destroy(&a);
    cw_destroy(&b);
}

/* Fake clock. */
static void test_cancel(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = cw_make(&c);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(300 * MS, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(tf_timer_cancel(t), TF_OK);
    /* The waiting task is woken, by cancel itself, to see the
     * cancellation; nothing comes later from the old deadline. */
    assert_int_equal(atomic_load(&c.wakes), 1);
    assert_int_equal(atomic_load(&c.drops), 0);
    assert_int_equal(tf_timer_poll(t, w), TF_ECANCELED);
    assert_int_equal(tf_timer_cancel(t), TF_ESTATE);
    fake_clock_sync_to(tf_now_ns() + 300 * MS); /* past the old deadline */
    assert_int_equal(cw_total_wakes(&c), 1);
    /* Reset re-arms a cancelled timer. */
    assert_int_equal(tf_timer_reset(t, 100 * MS), TF_OK);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    fake_clock_sync_to(tf_now_ns() + 100 * MS - 1);
    assert_int_equal(cw_total_wakes(&c), 1);
    fake_clock_sync_to(tf_now_ns() + 1);
    assert_int_equal(cw_total_wakes(&c), 2);
    assert_int_equal(tf_timer_poll(t, w), TF_READY);
    assert_int_equal(tf_timer_cancel(t), TF_ESTATE); /* already fired */
    finish(t, w, &c);
}

/* Fake clock. */
static void test_reset_moves_deadline(void **state) {
    (void)state;
    counting_waker c;
    cw_init(&c);
    tf_waker *w = cw_make(&c);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(300 * MS, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    uint64_t now = tf_now_ns();
    assert_int_equal(tf_timer_reset(t, 60 * MS), TF_OK);
    uint64_t deadline;
    tf_timer_deadline(t, &deadline);
    assert_int_equal(deadline, now + 60 * MS);
    /* The stored waker is kept and woken at the new deadline, not before. */
    fake_clock_sync_to(deadline - 1);
    assert_int_equal(cw_total_wakes(&c), 0);
    fake_clock_sync_to(deadline);
    assert_int_equal(cw_total_wakes(&c), 1);
    assert_int_equal(atomic_load(&c.woken_at), deadline);
    assert_int_equal(tf_timer_poll(t, w), TF_READY);
    /* Reset after fire: pending again, then ready again. */
    assert_int_equal(tf_timer_reset(t, 100 * MS), TF_OK);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    fake_clock_sync_to(tf_now_ns() + 100 * MS);
    assert_int_equal(cw_total_wakes(&c), 2);
    assert_int_equal(tf_timer_poll(t, w), TF_READY);
    /* Reset into the past wakes at once, inside the call. */
    assert_int_equal(tf_timer_reset(t, 10000 * MS), TF_OK);
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(tf_timer_reset_at(t, tf_now_ns() - 1), TF_OK);
    assert_int_equal(cw_total_wakes(&c), 3);
    assert_int_equal(tf_timer_poll(t, w), TF_READY);
    finish(t, w, &c);
}

static void test_free_armed_never_wakes(void **state) {
    (void)state;
    enum { N = 200 };
    counting_waker *c = calloc(N, sizeof(*c));
    int after_free[N];
    for (int i = 0; i < N; i++) {
        cw_init(&c[i]);
        tf_waker *w = cw_make(&c[i]);
        tf_timer *t = NULL;
        /* Deadlines around now, so some frees race with the driver. */
        assert_int_equal(tf_timer_new((uint64_t)(i % 5) * 20000, &t), TF_OK);
        int rc = tf_timer_poll(t, w);
        assert_true(rc == TF_PENDING || rc == TF_READY);
        assert_int_equal(tf_timer_free(t), TF_OK);
        after_free[i] = cw_total_wakes(&c[i]);
        assert_true(after_free[i] <= 1);
        tf_waker_drop(w);
    }
    sleep_ms(50);
    for (int i = 0; i < N; i++) {
        /* Nothing arrived after tf_timer_free returned, and every clone the
         * timer held was released. */
        assert_int_equal(cw_total_wakes(&c[i]), after_free[i]);
        assert_int_equal(atomic_load(&c[i].refs), 0);
        cw_destroy(&c[i]);
    }
    free(c);
}

static void test_past_and_now_deadlines(void **state) {
    (void)state;
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new_at(0, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_READY);
    tf_timer_free(t);
    assert_int_equal(tf_timer_new(0, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_READY);
    tf_timer_free(t);
    assert_int_equal(tf_timer_new_at(tf_now_ns(), &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_READY);
    tf_timer_free(t);
}

static void test_ranges(void **state) {
    (void)state;
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(UINT64_MAX, &t), TF_ERANGE);
    assert_int_equal(tf_timer_new(UINT64_MAX - tf_now_ns(), &t), TF_ERANGE);
    assert_int_equal(tf_timer_new_at(UINT64_MAX, &t), TF_ERANGE);
    assert_null(t);
    /* The largest deadline is fine, and so is a day. */
    assert_int_equal(tf_timer_new_at(UINT64_MAX - 1, &t), TF_OK);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_PENDING);
    assert_int_equal(tf_timer_reset(t, 86400ull * 1000 * MS), TF_OK);
    assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_PENDING);
    assert_int_equal(tf_timer_reset(t, UINT64_MAX), TF_ERANGE);
    assert_int_equal(tf_timer_reset_at(t, UINT64_MAX), TF_ERANGE);
    tf_timer_free(t);
    assert_int_equal(tf_timer_new(1, NULL), TF_EINVAL);
}

/* Equal deadlines fire in arming order, even when armed at different
 * distances from the deadline (so they sit at different wheel levels).
 * Fake clock. */
typedef struct {
    pthread_mutex_t lock;
    int order[64];
    int n;
} order_log;
typedef struct {
    order_log *log;
    int index;
} order_entry;

static void *ord_clone(void *d) { return d; }
static void ord_wake_by_ref(void *d) {
    order_entry *e = d;
    pthread_mutex_lock(&e->log->lock);
    e->log->order[e->log->n++] = e->index;
    pthread_mutex_unlock(&e->log->lock);
}
static void ord_wake(void *d) { ord_wake_by_ref(d); }
static void ord_drop(void *d) { (void)d; }
static const tf_waker_vtable ord_vt = TF_WAKER_VTABLE_INIT(ord_clone,
                                       ord_wake, ord_wake_by_ref, ord_drop);

static void test_equal_deadlines_fire_in_arming_order(void **state) {
    (void)state;
    order_log log = {.n = 0};
    pthread_mutex_init(&log.lock, NULL);
    order_entry entries[64];
    tf_timer *timers[64];
    /* 100 ms into a level-2 slot (2^28 ns) at least 268 ms away: the
     * first arms sit at level 2 or above, the last (50 ms before the
     * deadline, in its level-2 slot) at level 1 or below. */
    uint64_t start = tf_now_ns();
    uint64_t deadline = (((start >> 28) + 2) << 28) + 100 * MS;
    uint64_t step = (deadline - 50 * MS - start) / 3;
    unsigned levels = 0;
    for (int i = 0; i < 64; i++) {
        entries[i] = (order_entry){&log, i};
        tf_waker *w;
        assert_int_equal(tf_waker_new(&ord_vt, &entries[i], &w), TF_OK);
        assert_int_equal(tf_timer_new_at(deadline, &timers[i]), TF_OK);
        assert_int_equal(tf_timer_poll(timers[i], w), TF_PENDING);
        levels |= 1u << ((struct tf_timer *)(void *)timers[i])->level;
        tf_waker_drop(w);
        /* Later arms land lower in the wheel: the clock moves a step per
         * group, and the driver cascades the earlier ones meanwhile. */
        if (i % 16 == 15 && i < 63) fake_clock_sync_to(start + (uint64_t)(i / 16 + 1) * step);
    }
    assert_true(levels >> 2);      /* some at level 2 or above */
    assert_true(levels & 3);       /* some at level 0 or 1 */
    assert_int_equal(log.n, 0);
    fake_clock_sync_to(deadline - 1);
    assert_int_equal(log.n, 0);
    fake_clock_sync_to(deadline);
    assert_int_equal(log.n, 64);
    for (int i = 0; i < 64; i++) assert_int_equal(log.order[i], i);
    for (int i = 0; i < 64; i++) tf_timer_free(timers[i]);
    pthread_mutex_destroy(&log.lock);
}

/* Many timers with scattered deadlines: every one fires, none early. */
typedef struct {
    atomic_int fired;
    atomic_int early;
} spread_stats;
typedef struct {
    spread_stats *stats;
    uint64_t deadline;
} spread_entry;

static void *sp_clone(void *d) { return d; }
static void sp_wake_by_ref(void *d) {
    spread_entry *e = d;
    if (tf_now_ns() < e->deadline) atomic_fetch_add(&e->stats->early, 1);
    atomic_fetch_add(&e->stats->fired, 1);
}
static void sp_wake(void *d) { sp_wake_by_ref(d); }
static void sp_drop(void *d) { (void)d; }
static const tf_waker_vtable sp_vt = TF_WAKER_VTABLE_INIT(sp_clone,
                                      sp_wake, sp_wake_by_ref, sp_drop);

static void test_many_timers_none_early(void **state) {
    (void)state;
    enum { N = 20000 };
    spread_stats stats = {0};
    spread_entry *entries = calloc(N, sizeof(*entries));
    tf_timer **timers = calloc(N, sizeof(*timers));
    unsigned seed = 12345;
    uint64_t now = tf_now_ns();
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        /* 0..300 ms, with a few far-off ones that will be cancelled */
        uint64_t d = now + (seed >> 8) % (300 * MS);
        entries[i] = (spread_entry){&stats, d};
        assert_int_equal(tf_timer_new_at(d, &timers[i]), TF_OK);
        tf_waker *w;
        assert_int_equal(tf_waker_new(&sp_vt, &entries[i], &w), TF_OK);
        int rc = tf_timer_poll(timers[i], w);
        assert_true(rc == TF_PENDING || rc == TF_READY);
        if (rc == TF_READY) atomic_fetch_add(&stats.fired, 1);
        tf_waker_drop(w);
    }
    for (int tries = 0; tries < 3000 && atomic_load(&stats.fired) < N; tries++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&stats.fired), N);
    assert_int_equal(atomic_load(&stats.early), 0);
    for (int i = 0; i < N; i++) assert_int_equal(tf_timer_poll(timers[i], tf_waker_noop()), TF_READY);
    for (int i = 0; i < N; i++) tf_timer_free(timers[i]);
    free(entries);
    free(timers);
}

static int timer_poll_fn(void *s, const tf_waker *w) {
    return tf_timer_poll(s, w);
}

static void test_block_on_timer(void **state) {
    (void)state;
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(10 * MS, &t), TF_OK);
    uint64_t deadline;
    tf_timer_deadline(t, &deadline);
    assert_int_equal(tf_block_on(timer_poll_fn, t), TF_READY);
    assert_true(tf_now_ns() >= deadline);
    tf_timer_free(t);
    assert_int_equal(tf_block_on(NULL, NULL), TF_EINVAL);
}

/* ---- the first poll without the driver's lock --------------------------
 * A task awaits a timer of a host driver on a manual clock, so that only
 * the test fires timers; a hook fires or cancels the timer at one step of
 * the poll's lock-free store of its (task) waker. Whichever comes first,
 * that first poll must return what the timer now is, and no wake may be
 * lost or delivered to a clone already dropped. */
enum { AT_STORE = TF_HOOK_TIMER_POLL_STORE, AT_STORED = TF_HOOK_TIMER_POLL_STORED };
enum { DO_FIRE, DO_CANCEL };

typedef struct {
    tf_timer *t;
    int polls, first_rc, last_rc;
    tf_waker *keep; /* the test's own reference to the task */
} await_task;

static int await_poll(void *s, const tf_waker *w) {
    await_task *a = s;
    if (!a->keep) assert_int_equal(tf_waker_clone(w, &a->keep), TF_OK);
    int rc = tf_timer_poll(a->t, w);
    if (a->polls++ == 0) a->first_rc = rc;
    a->last_rc = rc;
    return rc == TF_PENDING ? TF_PENDING : TF_READY;
}

static struct {
    int point, action, done;
    tf_driver *d;
    tf_timer *t;
    uint64_t fired;
} race;

/* cppcheck-suppress constParameter ; the hook type is fixed (tf__hook_fn) */
static void race_hook(int point, void *object) {
    if (point != race.point || object != race.t || race.done) return;
    race.done = 1;
    if (race.action == DO_FIRE) {
        uint64_t deadline;
        assert_int_equal(tf_timer_deadline(race.t, &deadline), TF_OK);
        assert_int_equal(tf_driver_advance(race.d, deadline, &race.fired), TF_OK);
    } else {
        assert_int_equal(tf_timer_cancel(race.t), TF_OK);
    }
}

/* One first poll raced at `point` by `action`; returns the task's record. */
static await_task race_first_poll(int point, int action) {
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = TF_CLOCK_MANUAL;
    o.mode = TF_DRIVER_MODE_HOST;
    tf_executor *e;
    await_task a = {0};
    assert_int_equal(tf_driver_new(&o, &race.d), TF_OK);
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_timer_new_at_on(race.d, 100, &a.t), TF_OK);
    race.point = point;
    race.action = action;
    race.done = 0;
    race.t = a.t;
    race.fired = 0;
    tf__set_hook(race_hook);
    assert_int_equal(tf_executor_spawn(e, await_poll, NULL, &a), TF_OK);
    assert_int_equal(tf_executor_run_ready(e, NULL), TF_OK);
    tf__set_hook(NULL);
    assert_int_equal(race.done, 1); /* the poll went the lock-free way */
    uint64_t left;
    assert_int_equal(tf_executor_count(e, &left, NULL), TF_OK);
    assert_int_equal(left, 0); /* answered, not left waiting */
    /* Every clone the library took is gone, none twice: the test's own
     * reference is the task's last. */
    const tf_task *task = (const tf_task *)a.keep;
    assert_int_equal(task->magic, TF_MAGIC_TASK);
    assert_int_equal(atomic_load(&task->state) / TF_TASK_REF_ONE, 1);
    assert_int_equal(tf_waker_drop(a.keep), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    assert_int_equal(tf_timer_free(a.t), TF_OK);
    assert_int_equal(tf_driver_free(race.d), TF_OK);
    return a;
}

/* The raced first poll answers what the timer has become, at once. */
static void expect_first_poll(int point, int action, int rc) {
    await_task a = race_first_poll(point, action);
    if (action == DO_FIRE) assert_int_equal(race.fired, 1);
    assert_int_equal(a.first_rc, rc);
    assert_int_equal(a.polls, 1);
}

/* The driver takes the slot's clone (stored a moment before) and wakes
 * it; the poll sees the timer fired and answers ready. */
static void test_unlocked_poll_fired_after_store(void **state) {
    (void)state;
    expect_first_poll(AT_STORED, DO_FIRE, TF_READY);
}

/* The driver fires with the slot still empty: nobody will wake the clone
 * the poll then stores, so the poll must see the fire and answer ready
 * (taking its clone back). */
static void test_unlocked_poll_fired_before_store(void **state) {
    (void)state;
    expect_first_poll(AT_STORE, DO_FIRE, TF_READY);
}

/* A cancel takes the stored clone and wakes it; the poll answers
 * cancelled. */
static void test_unlocked_poll_cancelled_after_store(void **state) {
    (void)state;
    expect_first_poll(AT_STORED, DO_CANCEL, TF_ECANCELED);
}

/* A cancel with the slot still empty: the poll must see it. */
static void test_unlocked_poll_cancelled_before_store(void **state) {
    (void)state;
    expect_first_poll(AT_STORE, DO_CANCEL, TF_ECANCELED);
}

/* No race: the lock-free store is what a later fire wakes, once. */
static void test_unlocked_poll_is_woken_by_fire(void **state) {
    (void)state;
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = TF_CLOCK_MANUAL;
    o.mode = TF_DRIVER_MODE_HOST;
    tf_driver *d;
    tf_executor *e;
    await_task a = {0};
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_timer_new_at_on(d, 100, &a.t), TF_OK);
    assert_int_equal(tf_executor_spawn(e, await_poll, NULL, &a), TF_OK);
    uint64_t polled, fired;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 1);
    assert_int_equal(a.last_rc, TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 99, &fired), TF_OK);
    assert_int_equal(fired, 0);
    assert_int_equal(tf_driver_advance(d, 100, &fired), TF_OK);
    assert_int_equal(fired, 1);
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 1);
    assert_int_equal(a.polls, 2);
    assert_int_equal(a.last_rc, TF_READY);
    assert_int_equal(tf_waker_drop(a.keep), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    assert_int_equal(tf_timer_free(a.t), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* Fake clock: a task polls a timer whose deadline has passed on the
 * clock before the driver got to it: ready at once, the way without the
 * lock giving way to the locked one that fires it. */
static void test_unlocked_poll_after_deadline_is_ready(void **state) {
    (void)state;
    tf_executor *e;
    await_task a = {0};
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_timer_new(10 * MS, &a.t), TF_OK);
    uint64_t deadline;
    assert_int_equal(tf_timer_deadline(a.t, &deadline), TF_OK);
    fake_clock_set(deadline); /* no sync: the driver has not fired it */
    assert_int_equal(tf_timer_peek(a.t), TF_PENDING);
    assert_int_equal(tf_executor_spawn(e, await_poll, NULL, &a), TF_OK);
    assert_int_equal(tf_executor_run_ready(e, NULL), TF_OK);
    assert_int_equal(a.polls, 1);
    assert_int_equal(a.first_rc, TF_READY);
    assert_int_equal(tf_timer_peek(a.t), TF_READY);
    assert_int_equal(tf_waker_drop(a.keep), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
    assert_int_equal(tf_timer_free(a.t), TF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fires_not_early, fake_start, fake_stop),
        cmocka_unit_test(test_same_waker_is_not_cloned_again),
        cmocka_unit_test_setup_teardown(test_moved_future_wakes_new_task, fake_start, fake_stop),
        cmocka_unit_test_setup_teardown(test_cancel, fake_start, fake_stop),
        cmocka_unit_test_setup_teardown(test_reset_moves_deadline, fake_start, fake_stop),
        cmocka_unit_test(test_free_armed_never_wakes),
        cmocka_unit_test(test_past_and_now_deadlines),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test_setup_teardown(test_equal_deadlines_fire_in_arming_order, fake_start, fake_stop),
        cmocka_unit_test(test_many_timers_none_early),
        cmocka_unit_test(test_block_on_timer),
        cmocka_unit_test(test_unlocked_poll_fired_after_store),
        cmocka_unit_test(test_unlocked_poll_fired_before_store),
        cmocka_unit_test(test_unlocked_poll_cancelled_after_store),
        cmocka_unit_test(test_unlocked_poll_cancelled_before_store),
        cmocka_unit_test(test_unlocked_poll_is_woken_by_fire),
        cmocka_unit_test_setup_teardown(test_unlocked_poll_after_deadline_is_ready, fake_start, fake_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
