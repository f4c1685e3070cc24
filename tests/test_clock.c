/* SPDX-License-Identifier: MIT */
/* Clock and time: deadlines days and years away at every wheel level,
 * deadlines straddling wheel-level boundaries, many equal deadlines armed
 * in different ways (new, reset, several threads; on a manual clock)
 * firing in arming order,
 * deadlines of 'now', and all of it with the CPUs busy.
 *
 * No test bounds how late a timer may be except by a generous "never"
 * (NEVER_MS): the machine is shared and loaded. Every test still fails if
 * a timer fires before its deadline, fires twice, or never fires. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "testutil.h"

#define US UINT64_C(1000)
#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)
#define DAY (UINT64_C(86400) * SEC)
#define NEVER_MS 60000 /* "never fired" on even the slowest run */

/* A waker per timer that records each wake: when, and in which order. */
typedef struct stamp_log {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int *order; /* index of each wake, in wake order */
    int n, cap;
} stamp_log;

typedef struct stamp {
    stamp_log *log;
    _Atomic uint64_t deadline; /* the deadline it must not beat */
    _Atomic uint64_t woken_at;
    int index;
    atomic_int wakes;
    atomic_int early;      /* wakes seen before the deadline */
    atomic_int refs;       /* references the library holds */
    tf_driver *driver;     /* whose clock "early" is judged by (NULL: the
                              default one) */
} stamp;

static void stamp_note(stamp *s) {
    uint64_t now = tf_now_ns();
    if (s->driver) (void)tf_driver_now(s->driver, &now);
    if (now < s->deadline) atomic_fetch_add(&s->early, 1);
    atomic_store(&s->woken_at, now);
    atomic_fetch_add(&s->wakes, 1);
    stamp_log *l = s->log;
    if (!l) return;
    pthread_mutex_lock(&l->lock);
    if (l->n < l->cap) l->order[l->n] = s->index;
    l->n++;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}
static void *st_clone(void *d) {
    atomic_fetch_add(&((stamp *)d)->refs, 1);
    return d;
}
static void st_wake(void *d) {
    stamp_note(d);
    atomic_fetch_sub(&((stamp *)d)->refs, 1);
}
static void st_wake_by_ref(void *d) { stamp_note(d); }
static void st_drop(void *d) { atomic_fetch_sub(&((stamp *)d)->refs, 1); }
static const tf_waker_vtable st_vt = TF_WAKER_VTABLE_INIT(st_clone,
                                      st_wake, st_wake_by_ref, st_drop);

static void log_init(stamp_log *l, int cap) {
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &a);
    pthread_condattr_destroy(&a);
    l->order = calloc((size_t)cap, sizeof(int));
    l->n = 0;
    l->cap = cap;
}
static void log_destroy(stamp_log *l) {
    free(l->order);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
}
/* Waits until n wakes are logged or NEVER_MS passes; returns the count. */
static int log_wait(stamp_log *l, int n) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += NEVER_MS / 1000;
    pthread_mutex_lock(&l->lock);
    while (l->n < n)
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) != 0) break;
    int got = l->n;
    pthread_mutex_unlock(&l->lock);
    return got;
}

/* Arms t (already created) with a waker for s: polls it once. */
static int poll_with(tf_timer *t, stamp *s) {
    tf_waker *w = NULL;
    atomic_fetch_add(&s->refs, 1);
    assert_int_equal(tf_waker_new(&st_vt, s, &w), TF_OK);
    int rc = tf_timer_poll(t, w);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    return rc;
}

static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* --- long deadlines ------------------------------------------------------- */

/* Deadlines from a day to decades, one at every level of the wheel (and at
 * its slot boundaries): none fires, each keeps its exact deadline, the
 * driver does not spin while they wait, and moving one to "soon" fires it
 * while moving a short one to days away stops it firing. */
static void test_long_deadlines(void **state) {
    (void)state;
    enum { N = 24 };
    static stamp s[N];
    tf_timer *t[N];
    uint64_t now = tf_now_ns();
    uint64_t far[N];
    int n = 0;
    far[n++] = now + DAY;
    far[n++] = now + 3 * DAY;
    far[n++] = now + 30 * DAY;
    far[n++] = now + 365 * DAY;
    far[n++] = now + UINT64_C(50) * 365 * DAY;
    far[n++] = UINT64_MAX - 1;
    /* Level L slots are 2^(16+6L) ns wide: sit just before, at and after
     * a slot boundary of every level from 3 (17 s) up. */
    for (unsigned level = 3; level < 8 && n + 3 <= N; level++) {
        uint64_t width = UINT64_C(1) << (16 + 6 * level);
        uint64_t b = (now / width + 2) * width;
        if (b < now) continue; /* overflow at the top level */
        far[n++] = b - 1;
        far[n++] = b;
        far[n++] = b + 1;
    }
    for (int i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof(s[i]));
        s[i].deadline = far[i];
        assert_int_equal(tf_timer_new_at(far[i], &t[i]), TF_OK);
        assert_int_equal(poll_with(t[i], &s[i]), TF_PENDING);
    }
    /* Short timers keep the driver turning meanwhile. */
    stamp_log log;
    log_init(&log, 64);
    static stamp sh[8];
    tf_timer *st[8];
    for (int i = 0; i < 8; i++) {
        memset(&sh[i], 0, sizeof(sh[i]));
        sh[i].log = &log;
        sh[i].index = i;
        /* Armed a day away and polled first, so that a stall of this
         * thread (valgrind, a busy machine) cannot make the poll find it
         * due; then moved to its real deadline, later for each i. */
        assert_int_equal(tf_timer_new(DAY, &st[i]), TF_OK);
        assert_int_equal(poll_with(st[i], &sh[i]), TF_PENDING);
        uint64_t dl = tf_now_ns() + (uint64_t)(i + 1) * 5 * MS;
        sh[i].deadline = dl;
        assert_int_equal(tf_timer_reset_at(st[i], dl), TF_OK);
    }
    assert_int_equal(log_wait(&log, 8), 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(atomic_load(&sh[i].wakes), 1);
        assert_int_equal(atomic_load(&sh[i].early), 0);
        assert_int_equal(log.order[i], i);
    }

    /* Idle with only far timers armed: the driver sleeps. A spinning
     * driver would burn about the whole interval on its own. */
    uint64_t c0 = cpu_ns(), w0 = tf_now_ns();
    sleep_ms(300);
    uint64_t c1 = cpu_ns(), w1 = tf_now_ns();
    assert_true(c1 - c0 < (w1 - w0) / 2);

    for (int i = 0; i < n; i++) {
        uint64_t d = 0;
        assert_int_equal(tf_timer_deadline(t[i], &d), TF_OK);
        assert_int_equal(d, far[i]);
        assert_int_equal(atomic_load(&s[i].wakes), 0);
        /* Same waker again: the stored one stays. */
        assert_int_equal(poll_with(t[i], &s[i]), TF_PENDING);
        assert_int_equal(atomic_load(&s[i].refs), 1);
    }

    /* Days away -> soon: fires (through the waker stored days ago). */
    for (int i = 0; i < n; i++) {
        uint64_t soon = tf_now_ns() + (uint64_t)(i % 4) * MS;
        s[i].deadline = soon;
        s[i].log = &log;
        s[i].index = 100 + i;
        assert_int_equal(tf_timer_reset_at(t[i], soon), TF_OK);
    }
    assert_int_equal(log_wait(&log, 8 + n), 8 + n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(atomic_load(&s[i].wakes), 1);
        assert_int_equal(atomic_load(&s[i].early), 0);
        assert_int_equal(tf_timer_poll(t[i], tf_waker_noop()), TF_READY);
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
        assert_int_equal(atomic_load(&s[i].refs), 0);
    }
    /* Soon -> days away: a short timer re-armed for days stays quiet
     * (unless this thread stalled past the short deadline in between:
     * then that timer proves nothing and is not counted). */
    uint64_t t0 = tf_now_ns();
    int quiet[8];
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tf_timer_reset(st[i], 2 * DAY), TF_OK);
        assert_int_equal(poll_with(st[i], &sh[i]), TF_PENDING);
        assert_int_equal(tf_timer_reset(st[i], 200 * MS), TF_OK);
        assert_int_equal(tf_timer_reset(st[i], 2 * DAY), TF_OK);
        quiet[i] = tf_now_ns() - t0 < 200 * MS;
    }
    sleep_ms(400);
    int checked = 0;
    for (int i = 0; i < 8; i++) {
        if (!quiet[i]) continue;
        checked++;
        assert_int_equal(atomic_load(&sh[i].wakes), 1);
        assert_int_equal(tf_timer_poll(st[i], tf_waker_noop()), TF_PENDING);
    }
    assert_true(checked > 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tf_timer_poll(st[i], tf_waker_noop()), TF_PENDING);
        assert_int_equal(tf_timer_free(st[i]), TF_OK);
        assert_int_equal(atomic_load(&sh[i].refs), 0);
    }
    log_destroy(&log);
}

/* --- wheel boundaries ------------------------------------------------------ */

/* Deadlines just before, at and after slot boundaries of levels 1 and 2
 * (4.2 ms and 268 ms wide) are close in time but far apart in the wheel;
 * armed at least 50 ms ahead, they start high and must cascade down
 * correctly: none early, none twice, none after a later slot. */
enum { SB_N = 18 };

static int straddle_run(stamp s[SB_N], tf_timer *t[SB_N], uint64_t dl[SB_N],
                        stamp_log *log, uint64_t lead) {
    uint64_t now = tf_now_ns(), first = UINT64_MAX;
    int n = 0;
    for (unsigned level = 1; level <= 2; level++) {
        uint64_t width = UINT64_C(1) << (16 + 6 * level);
        uint64_t b = (now / width + 1) * width;
        while (b - now < lead) b += width;
        dl[n++] = b - 65536;
        dl[n++] = b - 65535;
        dl[n++] = b - 1;
        dl[n++] = b;
        dl[n++] = b + 1;
        dl[n++] = b + 65535;
        dl[n++] = b + 65536;
        dl[n++] = b + 65537;
        dl[n++] = b + width / 2;
    }
    /* Arm in a scrambled order; they must come out sorted by deadline. */
    for (int j = 0; j < SB_N; j++) {
        int i = (j * 7) % SB_N;
        memset(&s[i], 0, sizeof(s[i]));
        s[i].log = log;
        s[i].index = i;
        s[i].deadline = dl[i];
        if (dl[i] < first) first = dl[i];
        assert_int_equal(tf_timer_new_at(dl[i], &t[i]), TF_OK);
        int rc = poll_with(t[i], &s[i]);
        assert_true(rc == TF_PENDING || rc == TF_READY);
    }
    return tf_now_ns() < first; /* else the machine stalled: not a test */
}

static void test_deadlines_straddling_boundaries(void **state) {
    (void)state;
    static stamp s[SB_N];
    tf_timer *t[SB_N];
    uint64_t dl[SB_N] = {0};
    stamp_log log;
    int ok = 0;
    for (uint64_t lead = 50 * MS; !ok && lead < 10 * SEC; lead *= 4) {
        log_init(&log, SB_N);
        ok = straddle_run(s, t, dl, &log, lead);
        if (ok) break;
        for (int i = 0; i < SB_N; i++) assert_int_equal(tf_timer_free(t[i]), TF_OK);
        log_destroy(&log);
    }
    assert_true(ok);
    assert_int_equal(log_wait(&log, SB_N), SB_N);
    for (int i = 0; i < SB_N; i++) {
        assert_int_equal(atomic_load(&s[i].early), 0);
        assert_int_equal(atomic_load(&s[i].wakes), 1);
        assert_int_equal(tf_timer_poll(t[i], tf_waker_noop()), TF_READY);
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
        assert_int_equal(atomic_load(&s[i].refs), 0);
    }
    /* Deadline order, except within one level-0 slot (65.5 us), where a
     * batch keeps arming order: a timer may never come after one that is
     * due a whole slot later, or it was not cascaded down in time. */
    for (int k = 1; k < SB_N; k++) {
        uint64_t a = dl[log.order[k - 1]], b = dl[log.order[k]];
        if (a > b) assert_int_equal(a >> 16, b >> 16);
    }
    log_destroy(&log);
}

/* --- equal deadlines ------------------------------------------------------ */

/* Equal deadlines fire in arming order, where arming is tf_timer_new_at_on,
 * tf_timer_reset_at (which moves a timer to the back) or either of them on
 * other threads, and the arms happen far from the deadline (high in the
 * wheel) and close to it (low). The arming order is recorded under a lock
 * that also covers the arm call, so it is the order the library saw. The
 * timers are on a manual clock, moved towards the deadline while the arms
 * go on: how fast the machine is does not matter. */
enum { EQ_THREADS = 3, EQ_PER_THREAD = 40, EQ_N = 2 + EQ_THREADS * EQ_PER_THREAD + 40 };

typedef struct eq_ctx {
    pthread_mutex_t arm_lock;
    int arm_order[EQ_N + 1]; /* timer 1 is armed twice */
    int armed;
    uint64_t deadline;
    stamp s[EQ_N];
    tf_timer *t[EQ_N];
    stamp_log log;
    int arm_errors;
    tf_driver *d; /* manual clock */
} eq_ctx;

/* Arms timer i (new if *t is NULL, else reset) at the common deadline. */
static void eq_arm(eq_ctx *c, int i) {
    pthread_mutex_lock(&c->arm_lock);
    int rc = c->t[i] ? tf_timer_reset_at(c->t[i], c->deadline)
                     : tf_timer_new_at_on(c->d, c->deadline, &c->t[i]);
    c->arm_order[c->armed++] = i;
    if (rc != TF_OK) c->arm_errors++;
    pthread_mutex_unlock(&c->arm_lock);
}

typedef struct {
    eq_ctx *c;
    int first;
} eq_thread_arg;

static void *eq_thread(void *p) {
    eq_thread_arg *a = p;
    for (int k = 0; k < EQ_PER_THREAD; k++) {
        int i = a->first + k;
        eq_arm(a->c, i);
        if (k % 10 == 9) sched_yield(); /* let the others and the clock on */
    }
    return NULL;
}

/* Moves the manual clock to t (before the deadline: nothing fires). */
static void eq_clock(eq_ctx *c, uint64_t t) {
    uint64_t fired = 1;
    assert_int_equal(tf_driver_advance(c->d, t, &fired), TF_OK);
    assert_int_equal(fired, 0);
}

static void eq_run(eq_ctx *c, uint64_t lead) {
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->arm_lock, NULL);
    log_init(&c->log, EQ_N);
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = TF_CLOCK_MANUAL;
    o.mode = TF_DRIVER_MODE_HOST;
    o.start_ns = SEC;
    assert_int_equal(tf_driver_new(&o, &c->d), TF_OK);
    c->deadline = SEC + lead;
    for (int i = 0; i < EQ_N; i++) {
        c->s[i].log = &c->log;
        c->s[i].index = i;
        c->s[i].deadline = c->deadline;
        c->s[i].driver = c->d;
    }
    /* 0 and 1: armed first, far from the deadline. 1 is later reset to
     * the same deadline, which re-arms it: it moves to the back. */
    eq_arm(c, 0);
    eq_arm(c, 1);
    /* The last 40 start elsewhere (one hour out) and are reset to the
     * deadline: arming order is the order of the resets. */
    int base = 2 + EQ_THREADS * EQ_PER_THREAD;
    for (int i = base; i < EQ_N; i++)
        assert_int_equal(tf_timer_new_at_on(c->d, c->deadline + 3600 * SEC, &c->t[i]), TF_OK);
    /* Wakers go in before anything can fire. */
    pthread_t th[EQ_THREADS];
    eq_thread_arg args[EQ_THREADS];
    for (int k = 0; k < EQ_THREADS; k++) {
        args[k] = (eq_thread_arg){c, 2 + k * EQ_PER_THREAD};
        pthread_create(&th[k], NULL, eq_thread, &args[k]);
    }
    /* The clock closes in on the deadline as the arms go on, so they
     * land at every distance from it, down to a slot of level 0. */
    uint64_t now = SEC;
    for (int i = base; i < EQ_N; i++) {
        eq_arm(c, i);
        if (i % 10 == 0) eq_clock(c, now += lead / 8);
    }
    for (int k = 0; k < EQ_THREADS; k++) pthread_join(th[k], NULL);
    eq_clock(c, c->deadline - 1);
    eq_arm(c, 1);
    for (int i = 0; i < EQ_N; i++)
        assert_int_equal(poll_with(c->t[i], &c->s[i]), TF_PENDING);
}

static void eq_finish(eq_ctx *c) {
    for (int i = 0; i < EQ_N; i++) {
        assert_int_equal(tf_timer_free(c->t[i]), TF_OK);
        assert_int_equal(atomic_load(&c->s[i].refs), 0);
        c->t[i] = NULL;
    }
    log_destroy(&c->log);
    pthread_mutex_destroy(&c->arm_lock);
    assert_int_equal(tf_driver_free(c->d), TF_OK);
}

static void test_equal_deadlines_in_arming_order(void **state) {
    (void)state;
    static eq_ctx c;
    eq_run(&c, 700 * MS);
    assert_int_equal(c.arm_errors, 0);
    uint64_t fired = 0;
    assert_int_equal(tf_driver_advance(c.d, c.deadline, &fired), TF_OK);
    assert_int_equal(fired, EQ_N);
    /* The wakes ran inside the advance, on this thread. */
    assert_int_equal(log_wait(&c.log, EQ_N), EQ_N);
    /* One batch, in the order the arms happened (1 re-armed last). */
    assert_int_equal(c.armed, EQ_N + 1);
    int expect[EQ_N] = {0}, m = 0;
    for (int k = 0; k < c.armed; k++) {
        int i = c.arm_order[k];
        if (i == 1 && k == 1) continue; /* superseded by its reset */
        expect[m++] = i;
    }
    assert_int_equal(m, EQ_N);
    assert_int_equal(expect[EQ_N - 1], 1);
    for (int k = 0; k < EQ_N; k++) {
        assert_int_equal(c.log.order[k], expect[k]);
        assert_int_equal(atomic_load(&c.s[k].wakes), 1);
        assert_int_equal(atomic_load(&c.s[k].early), 0);
    }
    eq_finish(&c);
}

/* --- 'now' ---------------------------------------------------------------- */

typedef struct {
    tf_timer *t;
    int rounds, done;
    atomic_int *finished;
    uint64_t deadline;
    int mode;
} now_task;

/* Each round arms for 'now' (three ways) and awaits it. */
static int now_poll(void *p, const tf_waker *w) {
    now_task *n = p;
    for (;;) {
        if (n->done == n->rounds) {
            tf_timer_free(n->t);
            n->t = NULL;
            atomic_fetch_add(n->finished, 1);
            return TF_READY;
        }
        if (!n->deadline) {
            uint64_t now = tf_now_ns();
            int rc;
            switch ((n->done + n->mode) % 3) {
            case 0:
                rc = n->t ? tf_timer_reset_at(n->t, now)
                          : tf_timer_new_at(now, &n->t);
                break;
            case 1:
                rc = n->t ? tf_timer_reset(n->t, 0) : tf_timer_new(0, &n->t);
                break;
            default:
                rc = n->t ? tf_timer_reset(n->t, 1) : tf_timer_new(1, &n->t);
                break;
            }
            if (rc != TF_OK) return rc;
            n->deadline = now;
        }
        int rc = tf_timer_poll(n->t, w);
        if (rc == TF_PENDING) return TF_PENDING;
        if (rc != TF_READY) return rc;
        if (tf_now_ns() < n->deadline) return -1000; /* early */
        n->deadline = 0;
        n->done++;
    }
}

static void test_now_deadlines(void **state) {
    (void)state;
    /* Directly: each of the 'now' forms is ready on the first poll or
     * wakes its waker; never neither. */
    for (int i = 0; i < 300; i++) {
        stamp s;
        memset(&s, 0, sizeof(s));
        tf_timer *t = NULL;
        uint64_t now = tf_now_ns();
        s.deadline = now;
        if (i % 3 == 0) assert_int_equal(tf_timer_new_at(now, &t), TF_OK);
        if (i % 3 == 1) assert_int_equal(tf_timer_new(0, &t), TF_OK);
        if (i % 3 == 2) assert_int_equal(tf_timer_new(1, &t), TF_OK);
        int rc = poll_with(t, &s);
        if (rc == TF_PENDING) {
            for (int k = 0; k < NEVER_MS && atomic_load(&s.wakes) == 0; k++)
                sleep_ms(1);
            assert_int_equal(atomic_load(&s.wakes), 1);
            assert_int_equal(atomic_load(&s.early), 0);
        } else {
            assert_int_equal(rc, TF_READY);
            assert_int_equal(atomic_load(&s.wakes), 0);
        }
        assert_int_equal(tf_timer_poll(t, tf_waker_noop()), TF_READY);
        assert_int_equal(tf_timer_free(t), TF_OK);
        assert_int_equal(atomic_load(&s.refs), 0);
    }
    /* Tasks on a worker pool that await 'now' timers over and over. */
    enum { TASKS = 16, ROUNDS = 150 };
    tf_executor *e = NULL;
    assert_int_equal(tf_executor_new(2, &e), TF_OK);
    atomic_int finished;
    atomic_init(&finished, 0);
    static now_task nt[TASKS];
    for (int i = 0; i < TASKS; i++) {
        nt[i] = (now_task){NULL, ROUNDS, 0, &finished, 0, i};
        assert_int_equal(tf_executor_spawn(e, now_poll, NULL, &nt[i]), TF_OK);
    }
    assert_int_equal(tf_executor_run(e), TF_OK);
    assert_int_equal(atomic_load(&finished), TASKS);
    for (int i = 0; i < TASKS; i++) assert_int_equal(nt[i].done, ROUNDS);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* --- under load ------------------------------------------------------------- */

static atomic_int hog_stop;
static void *hog(void *p) {
    (void)p;
    volatile unsigned long x = 0;
    while (!atomic_load_explicit(&hog_stop, memory_order_relaxed)) x++;
    return NULL;
}

/* Both cores busy: timers with scattered deadlines (some reset later, some
 * cancelled) each wake exactly once: at or after the deadline, or, for a
 * cancelled one, from inside tf_timer_cancel (and never after). */
static void test_timers_with_cpus_busy(void **state) {
    (void)state;
    enum { N = 2000, HOGS = 2 };
    pthread_t h[HOGS];
    atomic_store(&hog_stop, 0);
    for (int i = 0; i < HOGS; i++)
        assert_int_equal(pthread_create(&h[i], NULL, hog, NULL), 0);
    stamp_log log;
    log_init(&log, N);
    static stamp s[N];
    static tf_timer *t[N];
    static int cancelled[N];
    memset(s, 0, sizeof(s));
    memset(cancelled, 0, sizeof(cancelled));
    unsigned seed = 777;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        uint64_t d = ((seed >> 8) % 400) * MS + (seed & 0xff) * US;
        s[i].log = &log;
        s[i].index = i;
        int rc;
        if (i % 5 == 1) {
            /* Far first, then reset to the scattered deadline. */
            assert_int_equal(tf_timer_new(DAY, &t[i]), TF_OK);
            assert_int_equal(poll_with(t[i], &s[i]), TF_PENDING);
            uint64_t now = tf_now_ns();
            s[i].deadline = now + d;
            assert_int_equal(tf_timer_reset_at(t[i], now + d), TF_OK);
            rc = TF_PENDING;
        } else {
            uint64_t now = tf_now_ns();
            s[i].deadline = now + d;
            assert_int_equal(tf_timer_new_at(now + d, &t[i]), TF_OK);
            rc = poll_with(t[i], &s[i]);
            if (rc == TF_READY) stamp_note(&s[i]); /* due already: counts */
        }
        if (i % 5 == 3 && rc == TF_PENDING) {
            /* Cancelled: its waker is woken inside the call, any time. */
            int before = atomic_load(&s[i].wakes);
            s[i].deadline = 0;
            int c = tf_timer_cancel(t[i]);
            if (c == TF_OK) {
                cancelled[i] = 1;
                assert_int_equal(atomic_load(&s[i].wakes), before + 1);
            } else {
                assert_int_equal(c, TF_ESTATE); /* fired meanwhile */
            }
        }
    }
    assert_int_equal(log_wait(&log, N), N);
    sleep_ms(20); /* room for a wrong extra wake to show */
    atomic_store(&hog_stop, 1);
    for (int i = 0; i < HOGS; i++) pthread_join(h[i], NULL);
    int n_cancelled = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&s[i].early), 0);
        assert_int_equal(atomic_load(&s[i].wakes), 1);
        int rc = tf_timer_poll(t[i], tf_waker_noop());
        assert_int_equal(rc, cancelled[i] ? TF_ECANCELED : TF_READY);
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
        assert_int_equal(atomic_load(&s[i].refs), 0);
        n_cancelled += cancelled[i];
    }
    assert_true(n_cancelled > 0);
    log_destroy(&log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_deadlines),
        cmocka_unit_test(test_deadlines_straddling_boundaries),
        cmocka_unit_test(test_equal_deadlines_in_arming_order),
        cmocka_unit_test(test_now_deadlines),
        cmocka_unit_test(test_timers_with_cpus_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
