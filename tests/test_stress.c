/* SPDX-License-Identifier: MIT */
/* Stress (label "stress"): many threads at once on the same objects, with
 * exact books kept, not just "it did not crash".
 *
 *  1. Waker storms: threads wake, clone, drop and compare wakers of the same
 *     tasks (C tasks on a worker pool, and external tasks served by a
 *     foreign loop) while the tasks complete. Every task completes exactly
 *     once, is never polled after completing or by two threads at once,
 *     and no wake is lost: a task that has been sent the wake it waits for
 *     always gets the poll that sees it.
 *  2. Timer storms: threads arm, reset, cancel, poll and free timers (their
 *     own, and shared ones) while the driver fires them. No wake comes from
 *     a freed timer, from a cancelled one before it is reset, or before a
 *     deadline; every stored waker is released exactly once; a final
 *     arming of every timer wakes exactly once. Plus the driver-thread
 *     paths: wakes that free, cancel and reset timers of the same batch.
 *  3. Executors freed while foreign threads still wake, clone and drop
 *     wakers of their tasks: every future is dropped exactly once, none is
 *     polled after tf_executor_free returns, and memory comes back when the
 *     last waker goes.
 *  4. A worker pool under a burst of spawns from several threads and from
 *     inside polls, with several threads in tf_executor_run: every task is
 *     polled exactly as often as it asked and dropped once.
 *
 * All allocations go through a counting allocator: each test ends with
 * allocations == frees. TF_STRESS_SCALE (percent, default 100) scales the
 * work, for slow runs under valgrind or ThreadSanitizer. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_clock.h"
#include "testutil.h"

#define US UINT64_C(1000)
#define MS UINT64_C(1000000)
#define NEVER_MS 120000 /* "never happened", on the slowest run */

/* --- shared machinery ------------------------------------------------------ */

static int scale_pct = 100;

static long scaled(long n) {
    long v = n * scale_pct / 100;
    return v < 1 ? 1 : v;
}

static atomic_long violations;

/* Usable on any thread (cmocka's asserts are not). */
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            if (atomic_fetch_add(&violations, 1) < 20)                       \
                (void)fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,      \
                        __LINE__, #cond);                                    \
        }                                                                    \
    } while (0)

static atomic_long n_alloc, n_free;
static void *count_alloc(void *ud, size_t n) {
    (void)ud;
    void *p = malloc(n);
    if (p) atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    return p;
}
static void count_free(void *ud, void *p) {
    (void)ud;
    atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    free(p);
}
static const tf_allocator counting = TF_ALLOCATOR_INIT(count_alloc,
                                      count_free, NULL);

static int setup(void **state) {
    (void)state;
    atomic_store(&violations, 0);
    atomic_store(&n_alloc, 0);
    atomic_store(&n_free, 0);
    return tf_set_allocator(&counting) == TF_OK ? 0 : -1;
}

/* Every object is gone: restoring malloc hands back the cached memory, so
 * the books must balance exactly. */
static int teardown(void **state) {
    (void)state;
    int rc = tf_set_allocator(NULL);
    long a = atomic_load(&n_alloc), f = atomic_load(&n_free);
    if (rc != TF_OK || a != f) {
        (void)fprintf(stderr, "teardown: tf_set_allocator %d, allocs %ld, frees %ld\n",
                rc, a, f);
        return -1;
    }
    return 0;
}

typedef struct {
    uint64_t s;
} rng;
static uint32_t rnd(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 16);
}


/* --- 1. waker storms ------------------------------------------------------ */

typedef struct storm_task {
    atomic_ulong issued;   /* incremented before every wake sent */
    atomic_ulong target;   /* complete once a poll sees this many */
    _Atomic(tf_waker *) slot; /* the test's reference, for other threads */
    atomic_int in_poll;
    atomic_int completed;
    atomic_int drops;
    atomic_long polls;
    atomic_long bad_polls; /* concurrent, or after completion */
    int external;
    uint64_t tag;
} storm_task;

static int storm_poll_common(storm_task *t, const tf_waker *w) {
    if (atomic_exchange(&t->in_poll, 1)) atomic_fetch_add(&t->bad_polls, 1);
    if (atomic_load(&t->completed)) atomic_fetch_add(&t->bad_polls, 1);
    atomic_fetch_add(&t->polls, 1);
    if (!atomic_load_explicit(&t->slot, memory_order_acquire)) {
        tf_waker *c = NULL;
        CHECK(tf_waker_clone(w, &c) == TF_OK);
        atomic_store_explicit(&t->slot, c, memory_order_release);
    }
    /* Issued is read before target: main raises target first. */
    unsigned long seen = atomic_load(&t->issued);
    int done = seen >= atomic_load(&t->target);
    if (done) atomic_store(&t->completed, 1);
    atomic_store(&t->in_poll, 0);
    return done ? TF_READY : TF_PENDING;
}

static int storm_poll(void *s, const tf_waker *w) { return storm_poll_common(s, w); }
static void storm_drop(void *s) { atomic_fetch_add(&((storm_task *)s)->drops, 1); }

typedef struct {
    storm_task *tasks;
    int n;
    long iters;
    uint64_t seed;
    long wakes_sent;
} storm_thread_arg;

/* One random waker operation on task t, through the test's reference. */
static int storm_op(storm_task *t, rng *r) {
    tf_waker *base = atomic_load_explicit(&t->slot, memory_order_acquire);
    if (!base) return 0;
    tf_waker *c = NULL, *c2 = NULL;
    switch (rnd(r) % 6) {
    case 0: /* clone, wake (consumes the clone) */
        CHECK(tf_waker_clone(base, &c) == TF_OK);
        atomic_fetch_add(&t->issued, 1);
        CHECK(tf_waker_wake(c) == TF_OK);
        return 1;
    case 1: /* wake by reference */
        atomic_fetch_add(&t->issued, 1);
        CHECK(tf_waker_wake_by_ref(base) == TF_OK);
        return 1;
    case 2: /* clone, wake by reference, drop */
        CHECK(tf_waker_clone(base, &c) == TF_OK);
        atomic_fetch_add(&t->issued, 1);
        CHECK(tf_waker_wake_by_ref(c) == TF_OK);
        CHECK(tf_waker_drop(c) == TF_OK);
        return 1;
    case 3: /* clone of a clone, compare, drop both */
        CHECK(tf_waker_clone(base, &c) == TF_OK);
        CHECK(tf_waker_clone(c, &c2) == TF_OK);
        CHECK(tf_waker_will_wake(c2, base) == 1);
        CHECK(tf_waker_drop(c) == TF_OK);
        CHECK(tf_waker_drop(c2) == TF_OK);
        return 0;
    case 4: /* many clones dropped */
        for (int k = 0; k < 4; k++) {
            CHECK(tf_waker_clone(base, &c) == TF_OK);
            CHECK(tf_waker_drop(c) == TF_OK);
        }
        return 0;
    default: /* clone, wake twice through different references */
        CHECK(tf_waker_clone(base, &c) == TF_OK);
        CHECK(tf_waker_clone(base, &c2) == TF_OK);
        atomic_fetch_add(&t->issued, 2);
        CHECK(tf_waker_wake(c) == TF_OK);
        CHECK(tf_waker_wake(c2) == TF_OK);
        return 2;
    }
}

static void *storm_thread(void *p) {
    storm_thread_arg *a = p;
    rng r = {a->seed};
    for (long i = 0; i < a->iters; i++) {
        storm_task *t = &a->tasks[rnd(&r) % (uint32_t)a->n];
        a->wakes_sent += storm_op(t, &r);
        if ((i & 255) == 0) sched_yield();
    }
    return NULL;
}

/* A foreign event loop serving the external tasks. */
typedef struct {
    tf_executor *e;
    storm_task *tasks; /* indexed by tag */
    atomic_int stop;
    long served;
} ext_loop_arg;

static void *ext_loop(void *p) {
    ext_loop_arg *a = p;
    for (;;) {
        uint64_t tag = 0;
        const tf_waker *w = NULL;
        int rc = tf_executor_next(a->e, 20 * MS, &tag, &w);
        if (rc == TF_EEMPTY) break;
        if (rc == TF_ETIMEDOUT) continue;
        CHECK(rc == TF_OK);
        if (rc != TF_OK) break;
        storm_task *t = &a->tasks[tag];
        int r = storm_poll_common(t, w);
        CHECK(tf_executor_report(a->e, w, r) == TF_OK);
        if (r == TF_READY) atomic_fetch_add(&t->drops, 1); /* "dropped" */
        a->served++;
    }
    return NULL;
}

static void *run_thread(void *p) {
    CHECK(tf_executor_run(p) == TF_OK);
    return NULL;
}

static void test_waker_storm(void **state) {
    (void)state;
    enum { C_TASKS = 48, X_TASKS = 16, N = C_TASKS + X_TASKS, THREADS = 4 };
    long iters = scaled(60000);
    for (int round = 0; round < 3; round++) {
        tf_executor *e = NULL;
        assert_int_equal(tf_executor_new(2, &e), TF_OK);
        storm_task *tasks = calloc(N, sizeof(*tasks));
        assert_non_null(tasks);
        rng r = {0x1234567u + (uint64_t)round};
        for (int i = 0; i < N; i++) {
            /* Some finish early, while the storm goes on; some only when
             * told to at the end. */
            unsigned long target = i % 3 == 0 ? ULONG_MAX : 50 + rnd(&r) % 4000;
            atomic_store(&tasks[i].target, target);
            tasks[i].external = i >= C_TASKS;
            tasks[i].tag = (uint64_t)i;
            if (tasks[i].external)
                assert_int_equal(tf_executor_spawn_external(e, (uint64_t)i), TF_OK);
            else
                assert_int_equal(tf_executor_spawn(e, storm_poll, storm_drop,
                                                   &tasks[i]), TF_OK);
        }
        ext_loop_arg la = {e, tasks, 0, 0};
        pthread_t loop, runner, th[THREADS];
        assert_int_equal(pthread_create(&loop, NULL, ext_loop, &la), 0);
        /* Every task has been polled once, so its waker is published. */
        for (int i = 0; i < N; i++)
            for (int k = 0; k < NEVER_MS && !atomic_load(&tasks[i].slot); k++)
                sleep_ms(1);
        for (int i = 0; i < N; i++) assert_non_null(atomic_load(&tasks[i].slot));
        assert_int_equal(pthread_create(&runner, NULL, run_thread, e), 0);
        storm_thread_arg args[THREADS];
        for (int k = 0; k < THREADS; k++) {
            args[k] = (storm_thread_arg){tasks, N, iters, 0x9e3779b97f4a7c15ull * (uint64_t)(k + 1 + round * 8), 0};
            assert_int_equal(pthread_create(&th[k], NULL, storm_thread, &args[k]), 0);
        }
        long sent = 0;
        for (int k = 0; k < THREADS; k++) {
            pthread_join(th[k], NULL);
            sent += args[k].wakes_sent;
        }
        /* No lost wake: a task whose target was reached by the wakes sent
         * must complete with no further wake. */
        for (int i = 0; i < N; i++) {
            if (atomic_load(&tasks[i].issued) < atomic_load(&tasks[i].target)) continue;
            for (int k = 0; k < NEVER_MS && !atomic_load(&tasks[i].completed); k++)
                sleep_ms(1);
            assert_int_equal(atomic_load(&tasks[i].completed), 1);
        }
        /* The rest: raise the target to one more wake, and send it. */
        for (int i = 0; i < N; i++) {
            if (atomic_load(&tasks[i].completed)) continue;
            atomic_store(&tasks[i].target, atomic_load(&tasks[i].issued) + 1);
            atomic_fetch_add(&tasks[i].issued, 1);
            assert_int_equal(tf_waker_wake_by_ref(atomic_load(&tasks[i].slot)), TF_OK);
        }
        pthread_join(runner, NULL);
        pthread_join(loop, NULL);
        assert_int_equal(tf_executor_run(e), TF_OK);
        uint64_t left = 1, ext_left = 1;
        assert_int_equal(tf_executor_count(e, &left, &ext_left), TF_OK);
        assert_int_equal(left, 0);
        assert_int_equal(ext_left, 0);
        long polls = 0;
        for (int i = 0; i < N; i++) {
            assert_int_equal(atomic_load(&tasks[i].completed), 1);
            assert_int_equal(atomic_load(&tasks[i].drops), 1);
            assert_int_equal(atomic_load(&tasks[i].bad_polls), 0);
            long p = atomic_load(&tasks[i].polls);
            /* Polled at least once, and never more than once per wake. */
            assert_true(p >= 1 && (unsigned long)p <= atomic_load(&tasks[i].issued) + 1);
            polls += p;
        }
        /* Late wakes after completion do nothing. */
        for (int i = 0; i < N; i++) {
            tf_waker *w = atomic_load(&tasks[i].slot);
            assert_int_equal(tf_waker_wake_by_ref(w), TF_OK);
        }
        uint64_t polled = 7;
        assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
        assert_int_equal(polled, 0);
        for (int i = 0; i < N; i++) assert_int_equal(atomic_load(&tasks[i].polls) >= 1, 1);
        assert_int_equal(tf_executor_free(e), TF_OK);
        /* The wakers outlive the executor; the last one frees the task. */
        for (int i = 0; i < N; i++) {
            assert_int_equal(tf_waker_wake(atomic_load(&tasks[i].slot)), TF_OK);
        }
        assert_int_equal(atomic_load(&violations), 0);
        if (round == 0)
            print_message("waker storm: %d threads, %ld wakes sent, %ld polls, "
                          "%ld external polls\n", THREADS, sent, polls, la.served);
        free(tasks);
    }
}

/* --- 2. timer storms ------------------------------------------------------ */

/* One arming's worth of waker data: never reused, so a wake can be pinned
 * to the timer life it belongs to. */
typedef struct ticket {
    atomic_int refs;       /* references the library holds */
    atomic_int clones, wakes, drops;
    atomic_int dead;       /* its timer was freed */
    atomic_int cancelled;  /* cancelled and not yet reset */
    _Atomic uint64_t lb;   /* no wake may come before this time */
} ticket;

static atomic_long tk_bad_dead, tk_bad_cancel, tk_bad_early;

static void tk_note(ticket *t) {
    if (atomic_load(&t->dead)) atomic_fetch_add(&tk_bad_dead, 1);
    if (atomic_load(&t->cancelled)) atomic_fetch_add(&tk_bad_cancel, 1);
    if (tf_now_ns() < atomic_load(&t->lb)) atomic_fetch_add(&tk_bad_early, 1);
}
static void *tk_clone(void *d) {
    ticket *t = d;
    atomic_fetch_add(&t->clones, 1);
    atomic_fetch_add(&t->refs, 1);
    return d;
}
static void tk_wake(void *d) {
    ticket *t = d;
    tk_note(t);
    atomic_fetch_add(&t->wakes, 1);
    atomic_fetch_sub(&t->refs, 1);
}
static void tk_wake_by_ref(void *d) {
    tk_note(d);
    atomic_fetch_add(&((ticket *)d)->wakes, 1);
}
static void tk_drop(void *d) {
    ticket *t = d;
    atomic_fetch_add(&t->drops, 1);
    atomic_fetch_sub(&t->refs, 1);
}
static const tf_waker_vtable tk_vt = TF_WAKER_VTABLE_INIT(tk_clone,
                                      tk_wake, tk_wake_by_ref, tk_drop);

/* Polls t with a fresh waker for tk (the timer keeps a clone). */
static int tk_poll(tf_timer *t, ticket *tk) {
    tf_waker *w = NULL;
    atomic_fetch_add(&tk->refs, 1);
    if (tf_waker_new(&tk_vt, tk, &w) != TF_OK) {
        atomic_fetch_sub(&tk->refs, 1);
        return TF_ENOMEM;
    }
    int rc = tf_timer_poll(t, w);
    tf_waker_drop(w);
    return rc;
}

enum { OWN = 24, SHARED = 12 };

typedef struct {
    tf_timer **shared;
    ticket *shared_tk;
    long iters;
    uint64_t seed;
    ticket *tickets; /* one per timer life, iters + OWN of them */
    long used;
    long ops[6];
} timer_thread_arg;

static uint64_t short_ns(rng *r) { return (uint64_t)(rnd(r) % 300) * US; }

static void *timer_thread(void *p) {
    timer_thread_arg *a = p;
    rng r = {a->seed};
    tf_timer *own[OWN] = {0};
    ticket *tk[OWN] = {0};
    for (long i = 0; i < a->iters; i++) {
        if ((i & 31) == 0) {
            /* Pause now and then, so the driver fires what is due while
             * the others keep going. */
            struct timespec ts = {0, (long)(rnd(&r) % 300) * 1000};
            nanosleep(&ts, NULL);
        }
        int k = (int)(rnd(&r) % OWN);
        tf_timer *t = own[k];
        uint32_t op = rnd(&r) % 8;
        if (op >= 6) { /* shared timers: any thread may reset, cancel, poll */
            int s = (int)(rnd(&r) % SHARED);
            int rc;
            switch (rnd(&r) % 3) {
            case 0: rc = tf_timer_reset(a->shared[s], short_ns(&r)); CHECK(rc == TF_OK); break;
            case 1: rc = tf_timer_cancel(a->shared[s]); CHECK(rc == TF_OK || rc == TF_ESTATE); break;
            default:
                rc = tk_poll(a->shared[s], &a->shared_tk[s]);
                CHECK(rc == TF_PENDING || rc == TF_READY || rc == TF_ECANCELED);
            }
            continue;
        }
        if (!t) { /* a new life for slot k */
            ticket *n = &a->tickets[a->used++];
            uint64_t d = short_ns(&r);
            atomic_store(&n->lb, tf_now_ns() + d);
            CHECK(tf_timer_new(d, &own[k]) == TF_OK);
            tk[k] = n;
            int rc = tk_poll(own[k], n);
            CHECK(rc == TF_PENDING || rc == TF_READY);
            a->ops[0]++;
            continue;
        }
        ticket *c = tk[k];
        switch (op) {
        case 0: case 1: { /* reset, then poll so a waker is stored again */
            uint64_t d = short_ns(&r), now = tf_now_ns();
            uint64_t old = atomic_load(&c->lb);
            /* During the call a wake of the old arming is still allowed. */
            atomic_store(&c->lb, old < now + d ? old : now + d);
            atomic_store(&c->cancelled, 0);
            CHECK(tf_timer_reset(t, d) == TF_OK);
            atomic_store(&c->lb, now + d);
            int rc = tk_poll(t, c);
            CHECK(rc == TF_PENDING || rc == TF_READY);
            a->ops[1]++;
            break;
        }
        case 2: { /* cancel: wakes the stored waker (inside the call, so
                   * before the deadline), then no wake until a reset */
            atomic_store(&c->lb, 0);
            int rc = tf_timer_cancel(t);
            CHECK(rc == TF_OK || rc == TF_ESTATE);
            if (rc == TF_OK) {
                atomic_store(&c->cancelled, 1);
                CHECK(tk_poll(t, c) == TF_ECANCELED);
            }
            a->ops[2]++;
            break;
        }
        case 3: { /* poll */
            int rc = tk_poll(t, c);
            CHECK(rc == TF_PENDING || rc == TF_READY || rc == TF_ECANCELED);
            if (rc == TF_READY) CHECK(tf_now_ns() >= atomic_load(&c->lb));
            a->ops[3]++;
            break;
        }
        default: /* free: no wake from this life can follow */
            CHECK(tf_timer_free(t) == TF_OK);
            atomic_store(&c->dead, 1);
            own[k] = NULL;
            a->ops[4]++;
        }
    }
    /* Final arming of every live timer: each wakes exactly once. Cancel
     * first, so no waker is stored and no earlier arming can still wake. */
    for (int k = 0; k < OWN; k++) {
        if (!own[k]) {
            ticket *n = &a->tickets[a->used++];
            CHECK(tf_timer_new(3600 * MS * 1000, &own[k]) == TF_OK);
            tk[k] = n;
        }
        ticket *c = tk[k];
        atomic_store(&c->lb, 0); /* the cancel may wake the stored waker */
        int rc = tf_timer_cancel(own[k]);
        CHECK(rc == TF_OK || rc == TF_ESTATE);
        atomic_store(&c->cancelled, 1);
        int w0 = atomic_load(&c->wakes);
        atomic_store(&c->lb, tf_now_ns() + 200 * US);
        atomic_store(&c->cancelled, 0);
        CHECK(tf_timer_reset(own[k], 200 * US) == TF_OK);
        rc = tk_poll(own[k], c);
        CHECK(rc == TF_PENDING || rc == TF_READY);
        int expect = w0 + (rc == TF_PENDING);
        for (int i = 0; i < NEVER_MS && atomic_load(&c->wakes) < expect; i++)
            sleep_ms(1);
        CHECK(atomic_load(&c->wakes) == expect);
        CHECK(tf_timer_poll(own[k], tf_waker_noop()) == TF_READY);
        CHECK(tf_timer_free(own[k]) == TF_OK);
        atomic_store(&c->dead, 1);
        CHECK(atomic_load(&c->wakes) == expect); /* nothing more came */
    }
    return NULL;
}

static void test_timer_storm(void **state) {
    (void)state;
    enum { THREADS = 4 };
    long iters = scaled(40000);
    atomic_store(&tk_bad_dead, 0);
    atomic_store(&tk_bad_cancel, 0);
    atomic_store(&tk_bad_early, 0);
    tf_timer *shared[SHARED];
    ticket *shared_tk = calloc(SHARED, sizeof(ticket));
    for (int s = 0; s < SHARED; s++)
        assert_int_equal(tf_timer_new((uint64_t)s * 50 * US, &shared[s]), TF_OK);
    timer_thread_arg args[THREADS];
    pthread_t th[THREADS];
    for (int k = 0; k < THREADS; k++) {
        memset(&args[k], 0, sizeof(args[k]));
        args[k].shared = shared;
        args[k].shared_tk = shared_tk;
        args[k].iters = iters;
        args[k].seed = 0xdeadbeefcafef00dull * (uint64_t)(k + 3);
        args[k].tickets = calloc((size_t)(iters + OWN + 1), sizeof(ticket));
        assert_non_null(args[k].tickets);
        assert_int_equal(pthread_create(&th[k], NULL, timer_thread, &args[k]), 0);
    }
    for (int k = 0; k < THREADS; k++) pthread_join(th[k], NULL);
    for (int s = 0; s < SHARED; s++) assert_int_equal(tf_timer_free(shared[s]), TF_OK);

    assert_int_equal(atomic_load(&violations), 0);
    assert_int_equal(atomic_load(&tk_bad_dead), 0);
    assert_int_equal(atomic_load(&tk_bad_cancel), 0);
    assert_int_equal(atomic_load(&tk_bad_early), 0);
    long lives = 0, wakes = 0, ops[6] = {0};
    for (int k = 0; k < THREADS; k++) {
        for (long i = 0; i < args[k].used; i++) {
            ticket *t = &args[k].tickets[i];
            /* Every reference the library took was given back once. */
            assert_int_equal(atomic_load(&t->refs), 0);
            wakes += atomic_load(&t->wakes);
        }
        lives += args[k].used;
        for (int o = 0; o < 6; o++) ops[o] += args[k].ops[o];
        free(args[k].tickets);
    }
    for (int s = 0; s < SHARED; s++) assert_int_equal(atomic_load(&shared_tk[s].refs), 0);
    free(shared_tk);
    print_message("timer storm: %d threads, %ld timer lives, %ld new, %ld resets, "
                  "%ld cancels, %ld polls, %ld frees, %ld wakes\n",
                  THREADS, lives, ops[0], ops[1], ops[2], ops[3], ops[4], wakes);
}

/* The driver-thread paths: a wake that frees, cancels or resets timers
 * that are in the same batch (equal deadline, armed later). */
typedef struct {
    tf_timer *victim_free, *victim_cancel, *self;
    int periods_left;
    atomic_int wakes;
    int rc_free, rc_cancel, rc_reset, rc_poll;
} batch_ctl;

static batch_ctl bc;
static ticket bt_free, bt_cancel;
static const tf_waker_vtable bc_vt;

static void *bc_clone(void *d) { return d; }
static void bc_wake_by_ref(void *d) {
    (void)d;
    int n = atomic_fetch_add(&bc.wakes, 1);
    if (n == 0) {
        /* On the driver thread, in the middle of the batch. */
        bc.rc_free = tf_timer_free(bc.victim_free);
        bc.rc_cancel = tf_timer_cancel(bc.victim_cancel);
    }
    if (bc.periods_left-- > 0) {
        /* Periodic: re-arm, and store a waker again (the one being woken
         * is used up), as the woken task would. */
        bc.rc_reset |= tf_timer_reset(bc.self, 100 * US);
        tf_waker *w = NULL;
        bc.rc_poll |= tf_waker_new(&bc_vt, &bc, &w);
        int rc = tf_timer_poll(bc.self, w);
        if (rc != TF_PENDING) bc.rc_poll = rc;
        tf_waker_drop(w);
    }
}
static void bc_wake(void *d) { bc_wake_by_ref(d); }
static void bc_drop(void *d) { (void)d; }
static const tf_waker_vtable bc_vt = TF_WAKER_VTABLE_INIT(bc_clone,
                                      bc_wake, bc_wake_by_ref, bc_drop);

/* Under the test clock (fake_clock.h): every round gets exactly the batch
 * it sets up, whatever the machine's load, and each periodic re-arm fires
 * when the test moves the clock past it. */
static void test_driver_thread_paths(void **state) {
    (void)state;
    long rounds = scaled(100);
    fake_clock_start();
    for (long round = 0; round < rounds; round++) {
        memset(&bc, 0, sizeof(bc));
        memset(&bt_free, 0, sizeof(bt_free));
        memset(&bt_cancel, 0, sizeof(bt_cancel));
        bc.periods_left = 5;
        uint64_t when = tf_now_ns() + 1 * MS;
        tf_waker *w = NULL;
        assert_int_equal(tf_waker_new(&bc_vt, &bc, &w), TF_OK);
        assert_int_equal(tf_timer_new_at(when, &bc.self), TF_OK);
        assert_int_equal(tf_timer_new_at(when, &bc.victim_free), TF_OK);
        assert_int_equal(tf_timer_new_at(when, &bc.victim_cancel), TF_OK);
        assert_int_equal(tf_timer_poll(bc.self, w), TF_PENDING);
        assert_int_equal(tf_waker_drop(w), TF_OK);
        assert_int_equal(tk_poll(bc.victim_free, &bt_free), TF_PENDING);
        assert_int_equal(tk_poll(bc.victim_cancel, &bt_cancel), TF_PENDING);
        /* First wake, then the 5 periodic re-arms from inside the wake,
         * each due 100 us after the one before. */
        fake_clock_sync_to(when);
        assert_int_equal(atomic_load(&bc.wakes), 1);
        for (int k = 2; k <= 6; k++) {
            fake_clock_sync_to(tf_now_ns() + 100 * US - 1);
            assert_int_equal(atomic_load(&bc.wakes), k - 1);
            fake_clock_sync_to(tf_now_ns() + 1);
            assert_int_equal(atomic_load(&bc.wakes), k);
        }
        assert_int_equal(bc.rc_free, TF_OK);
        assert_int_equal(bc.rc_cancel, TF_OK);
        assert_int_equal(bc.rc_reset, TF_OK);
        assert_int_equal(bc.rc_poll, TF_OK);
        /* Freed in the batch: its waker was dropped, not woken. */
        assert_int_equal(atomic_load(&bt_free.wakes), 0);
        assert_int_equal(atomic_load(&bt_free.refs), 0);
        /* The timer's one clone, and the waker tk_poll made. */
        assert_int_equal(atomic_load(&bt_free.clones), 1);
        assert_int_equal(atomic_load(&bt_free.drops), 2);
        /* The cancelled one's waker is woken by the cancel (so its task
         * sees TF_ECANCELED), on the driver thread, and not by the batch. */
        assert_int_equal(atomic_load(&bt_cancel.wakes), 1);
        assert_int_equal(atomic_load(&bt_cancel.refs), 0);
        assert_int_equal(atomic_load(&bt_cancel.drops), 1);
        assert_int_equal(tf_timer_poll(bc.victim_cancel, tf_waker_noop()), TF_ECANCELED);
        fake_clock_sync_to(tf_now_ns() + 1 * MS); /* no sixth re-arm */
        assert_int_equal(atomic_load(&bc.wakes), 6);
        assert_int_equal(tf_timer_poll(bc.self, tf_waker_noop()), TF_READY);
        assert_int_equal(tf_timer_free(bc.self), TF_OK);
        assert_int_equal(tf_timer_free(bc.victim_cancel), TF_OK);
    }
    fake_clock_stop();
}

/* --- 3. executors freed under foreign wakers ------------------------------ */

typedef struct {
    atomic_ulong issued, target;
    _Atomic(tf_waker *) slot;
    atomic_int in_poll, completed, drops, freed_flag;
    atomic_long polls, bad_polls;
} fw_task;

static atomic_int exec_freed; /* tf_executor_free has returned */

static int fw_poll(void *s, const tf_waker *w) {
    fw_task *t = s;
    if (atomic_exchange(&t->in_poll, 1)) atomic_fetch_add(&t->bad_polls, 1);
    if (atomic_load(&t->completed) || atomic_load(&t->drops) || atomic_load(&exec_freed))
        atomic_fetch_add(&t->bad_polls, 1);
    atomic_fetch_add(&t->polls, 1);
    if (!atomic_load(&t->slot)) {
        tf_waker *c = NULL;
        CHECK(tf_waker_clone(w, &c) == TF_OK);
        atomic_store(&t->slot, c);
    }
    int done = atomic_load(&t->issued) >= atomic_load(&t->target);
    if (done) atomic_store(&t->completed, 1);
    atomic_store(&t->in_poll, 0);
    return done ? TF_READY : TF_PENDING;
}
static void fw_drop(void *s) {
    fw_task *t = s;
    atomic_fetch_add(&t->drops, 1);
    if (atomic_load(&exec_freed)) atomic_fetch_add(&t->bad_polls, 1);
}

typedef struct {
    fw_task *tasks;
    int n;
    uint64_t seed;
    atomic_int *stop;
    long ops;
} fw_arg;

static void *fw_thread(void *p) {
    fw_arg *a = p;
    rng r = {a->seed};
    enum { HOLD = 32 };
    tf_waker *held[HOLD] = {0};
    while (!atomic_load(a->stop)) {
        fw_task *t = &a->tasks[rnd(&r) % (uint32_t)a->n];
        tf_waker *base = atomic_load(&t->slot);
        if (!base) continue;
        int h = (int)(rnd(&r) % HOLD);
        switch (rnd(&r) % 4) {
        case 0: /* keep a clone for later */
            if (held[h]) CHECK(tf_waker_drop(held[h]) == TF_OK);
            CHECK(tf_waker_clone(base, &held[h]) == TF_OK);
            break;
        case 1:
            atomic_fetch_add(&t->issued, 1);
            CHECK(tf_waker_wake_by_ref(base) == TF_OK);
            break;
        case 2: /* wake through a held clone, consuming it */
            if (held[h]) {
                CHECK(tf_waker_wake(held[h]) == TF_OK);
                held[h] = NULL;
            }
            break;
        default: {
            tf_waker *c = NULL;
            CHECK(tf_waker_clone(base, &c) == TF_OK);
            atomic_fetch_add(&t->issued, 1);
            CHECK(tf_waker_wake(c) == TF_OK);
        }
        }
        a->ops++;
    }
    for (int h = 0; h < HOLD; h++)
        if (held[h]) CHECK(tf_waker_drop(held[h]) == TF_OK);
    return NULL;
}

static void test_executor_freed_under_foreign_wakers(void **state) {
    (void)state;
    enum { N = 128, THREADS = 3 };
    long rounds = scaled(30);
    long total_ops = 0, completed = 0, dropped_unfinished = 0;
    for (long round = 0; round < rounds; round++) {
        tf_executor *e = NULL;
        uint32_t workers = (uint32_t)(round % 3); /* 0, 1 or 2 workers */
        assert_int_equal(tf_executor_new(workers, &e), TF_OK);
        atomic_store(&exec_freed, 0);
        fw_task *tasks = calloc(N, sizeof(*tasks));
        rng r = {0xabcdefull + (uint64_t)round};
        for (int i = 0; i < N; i++) {
            atomic_store(&tasks[i].target, i % 2 ? 20 + rnd(&r) % 300 : ULONG_MAX);
            assert_int_equal(tf_executor_spawn(e, fw_poll, fw_drop, &tasks[i]), TF_OK);
        }
        if (workers == 0) assert_int_equal(tf_executor_run_ready(e, NULL), TF_OK);
        for (int i = 0; i < N; i++)
            for (int k = 0; k < NEVER_MS && !atomic_load(&tasks[i].slot); k++)
                sleep_ms(1);
        atomic_int stop;
        atomic_init(&stop, 0);
        fw_arg args[THREADS];
        pthread_t th[THREADS];
        for (int k = 0; k < THREADS; k++) {
            args[k] = (fw_arg){tasks, N, 0x5555ull * (uint64_t)(k + 1) + (uint64_t)round, &stop, 0};
            assert_int_equal(pthread_create(&th[k], NULL, fw_thread, &args[k]), 0);
        }
        /* Let the storm run (and tasks complete), polling here too when
         * there are no workers, then free mid-storm. */
        for (int k = 0; k < 20; k++) {
            if (workers == 0) assert_int_equal(tf_executor_run_ready(e, NULL), TF_OK);
            sleep_ms(1);
        }
        assert_int_equal(tf_executor_free(e), TF_OK);
        atomic_store(&exec_freed, 1);
        long polls_at_free[N];
        for (int i = 0; i < N; i++) polls_at_free[i] = atomic_load(&tasks[i].polls);
        /* Every unfinished future was dropped by tf_executor_free. */
        for (int i = 0; i < N; i++) assert_int_equal(atomic_load(&tasks[i].drops), 1);
        sleep_ms(10); /* the storm goes on against a freed executor */
        atomic_store(&stop, 1);
        for (int k = 0; k < THREADS; k++) {
            pthread_join(th[k], NULL);
            total_ops += args[k].ops;
        }
        for (int i = 0; i < N; i++) {
            assert_int_equal(atomic_load(&tasks[i].polls), polls_at_free[i]);
            assert_int_equal(atomic_load(&tasks[i].bad_polls), 0);
            assert_int_equal(atomic_load(&tasks[i].drops), 1);
            if (atomic_load(&tasks[i].completed)) completed++;
            else dropped_unfinished++;
            /* The last reference: frees the task, and with the last one,
             * the executor's memory. */
            assert_int_equal(tf_waker_drop(atomic_load(&tasks[i].slot)), TF_OK);
        }
        free(tasks);
        assert_int_equal(atomic_load(&violations), 0);
    }
    print_message("executor freed under wakers: %ld rounds, %ld waker ops, "
                  "%ld tasks completed, %ld dropped unfinished\n",
                  rounds, total_ops, completed, dropped_unfinished);
}

/* --- 4. spawn bursts -------------------------------------------------------- */

typedef struct burst_task {
    tf_executor *e;
    int yields;       /* asks to be polled yields + 1 times */
    int children;     /* spawns this many on its first poll */
    atomic_int polls, drops, done;
    struct burst_task *kids;
} burst_task;

static atomic_long burst_done, burst_polls, burst_spawn_fail;

static int burst_poll(void *s, const tf_waker *w) {
    burst_task *t = s;
    int p = atomic_fetch_add(&t->polls, 1);
    atomic_fetch_add(&burst_polls, 1);
    if (atomic_load(&t->done)) CHECK(!"polled after completion");
    if (p == 0) {
        for (int i = 0; i < t->children; i++) {
            t->kids[i].e = t->e;
            t->kids[i].yields = i;
            if (tf_executor_spawn(t->e, burst_poll, NULL, &t->kids[i]) != TF_OK)
                atomic_fetch_add(&burst_spawn_fail, 1);
        }
    }
    if (p < t->yields) {
        CHECK(tf_waker_wake_by_ref(w) == TF_OK);
        return TF_PENDING;
    }
    atomic_store(&t->done, 1);
    atomic_fetch_add(&burst_done, 1);
    return TF_READY;
}
static void burst_drop(void *s) { atomic_fetch_add(&((burst_task *)s)->drops, 1); }

typedef struct {
    tf_executor *e;
    burst_task *tasks;
    long n;
} spawner_arg;

static void *spawner(void *p) {
    spawner_arg *a = p;
    for (long i = 0; i < a->n; i++)
        if (tf_executor_spawn(a->e, burst_poll, burst_drop, &a->tasks[i]) != TF_OK)
            atomic_fetch_add(&burst_spawn_fail, 1);
    return NULL;
}

static void test_spawn_burst(void **state) {
    (void)state;
    enum { SPAWNERS = 4, KIDS = 3 };
    long per = scaled(6000);
    const uint32_t workers[] = {2, 4};
    for (int v = 0; v < 2; v++) {
        tf_executor *e = NULL;
        assert_int_equal(tf_executor_new(workers[v], &e), TF_OK);
        atomic_store(&burst_done, 0);
        atomic_store(&burst_polls, 0);
        atomic_store(&burst_spawn_fail, 0);
        long n = per * SPAWNERS;
        burst_task *tasks = calloc((size_t)n, sizeof(*tasks));
        burst_task *kids = calloc((size_t)n, sizeof(*kids) * KIDS);
        long expect_tasks = 0, expect_polls = 0;
        for (long i = 0; i < n; i++) {
            tasks[i].e = e;
            tasks[i].yields = (int)(i % 4);
            tasks[i].children = i % 8 == 0 ? KIDS : 0;
            tasks[i].kids = &kids[i * KIDS];
            expect_tasks += 1 + tasks[i].children;
            expect_polls += tasks[i].yields + 1;
            for (int k = 0; k < tasks[i].children; k++) expect_polls += k + 1;
        }
        spawner_arg args[SPAWNERS];
        pthread_t th[SPAWNERS], runners[2];
        for (int k = 0; k < SPAWNERS; k++) {
            args[k] = (spawner_arg){e, &tasks[k * per], per};
            assert_int_equal(pthread_create(&th[k], NULL, spawner, &args[k]), 0);
        }
        /* Two callers help the workers while the burst lands; run may
         * return early whenever the count touches zero, so repeat. */
        for (int k = 0; k < 2; k++)
            assert_int_equal(pthread_create(&runners[k], NULL, run_thread, e), 0);
        for (int k = 0; k < SPAWNERS; k++) pthread_join(th[k], NULL);
        for (int k = 0; k < 2; k++) pthread_join(runners[k], NULL);
        assert_int_equal(tf_executor_run(e), TF_OK);
        assert_int_equal(atomic_load(&burst_spawn_fail), 0);
        assert_int_equal(atomic_load(&burst_done), expect_tasks);
        assert_int_equal(atomic_load(&burst_polls), expect_polls);
        for (long i = 0; i < n; i++) {
            assert_int_equal(atomic_load(&tasks[i].polls), tasks[i].yields + 1);
            assert_int_equal(atomic_load(&tasks[i].drops), 1);
            for (int k = 0; k < tasks[i].children; k++)
                assert_int_equal(atomic_load(&tasks[i].kids[k].polls), k + 1);
        }
        uint64_t left = 1;
        assert_int_equal(tf_executor_count(e, &left, NULL), TF_OK);
        assert_int_equal(left, 0);
        assert_int_equal(tf_executor_free(e), TF_OK);
        assert_int_equal(atomic_load(&violations), 0);
        print_message("spawn burst (%u workers): %ld tasks, %ld polls\n", workers[v],
                      expect_tasks, expect_polls);
        free(tasks);
        free(kids);
    }
}

int main(void) {
    /* Read before any thread exists. */
    const char *s = getenv("TF_STRESS_SCALE"); /* NOLINT(concurrency-mt-unsafe) */
    if (s) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        if (end != s && *end == '\0' && v > 0 && v <= 10000) scale_pct = (int)v;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waker_storm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_storm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_thread_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_executor_freed_under_foreign_wakers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_burst, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
