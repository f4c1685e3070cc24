/* SPDX-License-Identifier: MIT */
/* Timer drivers (tf_driver_*): arguments and states of every call, the
 * manual clock (timers fire exactly when time is advanced past their
 * deadline, in arming order, with wakes that reset, cancel or free timers
 * of their own batch), host mode on a real clock driven through the fd,
 * thread mode on CLOCK_BOOTTIME, several drivers at once, allocation and
 * thread-creation faults. (Drivers across fork() are in test_fork.c, which
 * the sanitizer runs leave out.)
 *
 * Built against the static library: it uses tf__set_thread_create_hook. */
#define TF_EXPERIMENTAL /* tf_timer_set_slack */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "driver.h"
#include "internal.h"
#include "testutil.h"

#define US UINT64_C(1000)
#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static tf_driver *manual_driver(uint64_t start) {
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = TF_CLOCK_MANUAL;
    o.mode = TF_DRIVER_MODE_HOST;
    o.start_ns = start;
    tf_driver *d = NULL;
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    assert_non_null(d);
    return d;
}

static tf_driver *host_driver(uint32_t clock, uint64_t slack) {
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = clock;
    o.mode = TF_DRIVER_MODE_HOST;
    o.slack_ns = slack;
    tf_driver *d = NULL;
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    return d;
}

/* --- a scripted waker: records the order of wakes, runs an action -------- */

typedef struct script script;
struct script {
    void (*action)(script *s); /* run inside the wake, on the firing thread */
    tf_timer *target;          /* what the action works on */
    uint64_t arg;
    uint64_t woken_at;         /* the driver's clock at the first wake */
    tf_driver *driver;
    int id;
    int rc;                    /* the action's result */
    atomic_int wakes, drops;
};

static int order[64];
static atomic_int norder;

static void *sc_clone(void *p) { return p; }
static void sc_wake(void *p) {
    script *s = p;
    if (atomic_fetch_add(&s->wakes, 1) == 0 && s->driver)
        (void)tf_driver_now(s->driver, &s->woken_at);
    int i = atomic_fetch_add(&norder, 1);
    if (i < 64) order[i] = s->id;
    if (s->action) s->action(s);
}
static void sc_drop(void *p) { atomic_fetch_add(&((script *)p)->drops, 1); }
static const tf_waker_vtable sc_vtable = TF_WAKER_VTABLE_INIT(sc_clone, sc_wake,
                                          sc_wake, sc_drop);

/* Polls t with a waker for s (the timer keeps its own clone). */
static int poll_with(tf_timer *t, script *s) {
    tf_waker *w = NULL;
    assert_int_equal(tf_waker_new(&sc_vtable, s, &w), TF_OK);
    int rc = tf_timer_poll(t, w);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    return rc;
}

static void reset_order(void) {
    atomic_store(&norder, 0);
    memset(order, 0, sizeof order);
}

/* --- arguments and states ------------------------------------------------- */

static void test_bad_arguments(void **state) {
    (void)state;
    tf_driver *d = NULL;
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    assert_int_equal(tf_driver_new(&o, NULL), TF_EINVAL);
    o.size = 8;
    assert_int_equal(tf_driver_new(&o, &d), TF_EINVAL);
    o = (tf_driver_options)TF_DRIVER_OPTIONS_INIT;
    o.reserved = 1;
    assert_int_equal(tf_driver_new(&o, &d), TF_EINVAL);
    o = (tf_driver_options)TF_DRIVER_OPTIONS_INIT;
    o.clock = 3;
    assert_int_equal(tf_driver_new(&o, &d), TF_EINVAL);
    o = (tf_driver_options)TF_DRIVER_OPTIONS_INIT;
    o.mode = 2;
    assert_int_equal(tf_driver_new(&o, &d), TF_EINVAL);
    o = (tf_driver_options)TF_DRIVER_OPTIONS_INIT;
    o.clock = TF_CLOCK_MANUAL; /* a manual clock needs a host to move it */
    assert_int_equal(tf_driver_new(&o, &d), TF_EINVAL);
    o.mode = TF_DRIVER_MODE_HOST;
    o.start_ns = UINT64_MAX;
    assert_int_equal(tf_driver_new(&o, &d), TF_ERANGE);
    assert_null(d);

    /* A handle of another type, and a NULL one, for every call. */
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(SEC, &t), TF_OK);
    tf_driver *wrong = (tf_driver *)(void *)t;
    uint64_t v;
    int fd;
    assert_int_equal(tf_driver_free(NULL), TF_OK);
    assert_int_equal(tf_driver_free(wrong), TF_EHANDLE);
    assert_int_equal(tf_driver_now(NULL, &v), TF_EINVAL);
    assert_int_equal(tf_driver_now(wrong, &v), TF_EHANDLE);
    assert_int_equal(tf_driver_now(tf_driver_default(), NULL), TF_EINVAL);
    assert_int_equal(tf_driver_next_deadline(NULL, &v), TF_EINVAL);
    assert_int_equal(tf_driver_next_deadline(wrong, &v), TF_EHANDLE);
    assert_int_equal(tf_driver_next_deadline(tf_driver_default(), NULL), TF_EINVAL);
    assert_int_equal(tf_driver_advance(NULL, 0, &v), TF_EINVAL);
    assert_int_equal(tf_driver_advance(wrong, 0, &v), TF_EHANDLE);
    assert_int_equal(tf_driver_fd(NULL, &fd), TF_EINVAL);
    assert_int_equal(tf_driver_fd(wrong, &fd), TF_EHANDLE);
    tf_timer *u = NULL;
    assert_int_equal(tf_timer_new_on(NULL, 0, &u), TF_EINVAL);
    assert_int_equal(tf_timer_new_on(wrong, 0, &u), TF_EHANDLE);
    assert_int_equal(tf_timer_new_on(tf_driver_default(), 0, NULL), TF_EINVAL);
    assert_int_equal(tf_timer_new_at_on(NULL, 0, &u), TF_EINVAL);
    assert_int_equal(tf_timer_new_at_on(wrong, 0, &u), TF_EHANDLE);
    assert_int_equal(tf_timer_new_at_on(tf_driver_default(), UINT64_MAX, &u), TF_ERANGE);
    assert_int_equal(tf_timer_new_on(tf_driver_default(), UINT64_MAX, &u), TF_ERANGE);
    assert_null(u);
    tf_driver *got = NULL;
    assert_int_equal(tf_timer_driver(NULL, &got), TF_EINVAL);
    assert_int_equal(tf_timer_driver(t, NULL), TF_EINVAL);
    assert_int_equal(tf_timer_driver((tf_timer *)(void *)tf_driver_default(), &got),
                     TF_EHANDLE);
    assert_int_equal(tf_timer_free(t), TF_OK);
}

static void test_default_driver(void **state) {
    (void)state;
    tf_driver *d = tf_driver_default();
    assert_non_null(d);
    assert_ptr_equal(tf_driver_default(), d);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new(10 * SEC, &t), TF_OK);
    tf_driver *got = NULL;
    assert_int_equal(tf_timer_driver(t, &got), TF_OK);
    assert_ptr_equal(got, d);
    uint64_t now = 0, next = 0, dl = 0;
    assert_int_equal(tf_driver_now(d, &now), TF_OK);
    assert_true(now <= tf_now_ns());
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(tf_timer_deadline(t, &dl), TF_OK);
    assert_true(next <= dl);
    /* It has its thread: the host may not advance it or take an fd. */
    assert_int_equal(tf_driver_advance(d, TF_DRIVER_NOW, NULL), TF_ESTATE);
    int fd = -1;
    assert_int_equal(tf_driver_fd(d, &fd), TF_ESTATE);
    assert_int_equal(tf_driver_free(d), TF_EINVAL);
    assert_int_equal(tf_timer_free(t), TF_OK);
    /* NULL options mean the defaults: a thread-mode monotonic driver. */
    tf_driver *e = NULL;
    assert_int_equal(tf_driver_new(NULL, &e), TF_OK);
    assert_int_equal(tf_driver_advance(e, TF_DRIVER_NOW, NULL), TF_ESTATE);
    assert_int_equal(tf_driver_fd(e, &fd), TF_ESTATE);
    assert_int_equal(tf_driver_free(e), TF_OK);
}

static void test_manual_clock(void **state) {
    (void)state;
    tf_driver *d = manual_driver(1000);
    uint64_t now = 0, next = 0, fired = 99;
    assert_int_equal(tf_driver_now(d, &now), TF_OK);
    assert_int_equal(now, 1000);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, UINT64_MAX);
    int fd = -1;
    assert_int_equal(tf_driver_fd(d, &fd), TF_ESTATE);

    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new_on(d, 500, &t), TF_OK);
    uint64_t dl = 0;
    assert_int_equal(tf_timer_deadline(t, &dl), TF_OK);
    assert_int_equal(dl, 1500);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_true(next > 1000 && next <= 1500);
    script s = {.id = 1, .driver = d};
    assert_int_equal(poll_with(t, &s), TF_PENDING);

    assert_int_equal(tf_driver_advance(d, 1499, &fired), TF_OK);
    assert_int_equal(fired, 0);
    assert_int_equal(tf_timer_peek(t), TF_PENDING);
    assert_int_equal(poll_with(t, &s), TF_PENDING); /* the clock says 1499 */
    assert_int_equal(atomic_load(&s.wakes), 0);
    assert_int_equal(tf_driver_advance(d, 1500, &fired), TF_OK);
    assert_int_equal(fired, 1);
    assert_int_equal(atomic_load(&s.wakes), 1);
    assert_int_equal(s.woken_at, 1500); /* the wake sees the new time */
    assert_int_equal(tf_timer_peek(t), TF_READY);

    /* Backwards is refused and changes nothing; TF_DRIVER_NOW stays put. */
    assert_int_equal(tf_driver_advance(d, 1400, &fired), TF_ERANGE);
    assert_int_equal(tf_driver_now(d, &now), TF_OK);
    assert_int_equal(now, 1500);
    assert_int_equal(tf_driver_advance(d, TF_DRIVER_NOW, NULL), TF_OK);
    assert_int_equal(tf_driver_now(d, &now), TF_OK);
    assert_int_equal(now, 1500);

    /* Reset and durations follow the manual clock. */
    assert_int_equal(tf_timer_reset(t, 100), TF_OK);
    assert_int_equal(tf_timer_deadline(t, &dl), TF_OK);
    assert_int_equal(dl, 1600);
    assert_int_equal(tf_timer_peek(t), TF_PENDING);
    /* Its waker went with the wake: poll again to get one woken. */
    assert_int_equal(poll_with(t, &s), TF_PENDING);
    /* A deadline not after the clock fires at once. */
    tf_timer *past = NULL;
    assert_int_equal(tf_timer_new_at_on(d, 1500, &past), TF_OK);
    assert_int_equal(tf_timer_peek(past), TF_READY);
    assert_int_equal(tf_timer_free(past), TF_OK);

    /* A big jump fires it, however far the wheel has to cascade. */
    assert_int_equal(tf_driver_advance(d, 1000 * SEC, &fired), TF_OK);
    assert_int_equal(fired, 1);
    assert_int_equal(atomic_load(&s.wakes), 2);

    /* Freed with a timer alive: refused, nothing lost, then fine. */
    assert_int_equal(tf_driver_free(d), TF_EBUSY);
    assert_int_equal(tf_timer_reset(t, 5), TF_OK);
    assert_int_equal(poll_with(t, &s), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 1000 * SEC + 5, &fired), TF_OK);
    assert_int_equal(fired, 1);
    assert_int_equal(atomic_load(&s.wakes), 3);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

static void test_manual_equal_deadlines_in_order(void **state) {
    (void)state;
    tf_driver *d = manual_driver(0);
    enum { N = 40 };
    tf_timer *t[N];
    script s[N];
    reset_order();
    for (int i = 0; i < N; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].id = i + 1;
        /* Two groups at equal deadlines, armed interleaved: 7 us and 3 us. */
        assert_int_equal(tf_timer_new_at_on(d, i % 2 ? 3 * US : 7 * US, &t[i]), TF_OK);
        assert_int_equal(poll_with(t[i], &s[i]), TF_PENDING);
    }
    uint64_t fired = 0, next = 0;
    /* Step to each next deadline: nothing fires early, everything fires. */
    uint64_t total = 0, steps = 0;
    while (tf_driver_next_deadline(d, &next) == TF_OK && next != UINT64_MAX) {
        assert_true(steps++ < 100);
        assert_int_equal(tf_driver_advance(d, next, &fired), TF_OK);
        total += fired;
    }
    assert_int_equal(total, N);
    assert_int_equal(atomic_load(&norder), N);
    /* The 3 us group first, each group in arming order. */
    for (int k = 0; k < N / 2; k++) assert_int_equal(order[k], 2 * k + 2);
    for (int k = 0; k < N / 2; k++) assert_int_equal(order[N / 2 + k], 2 * k + 1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&s[i].wakes), 1);
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
    }
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* Actions run inside a wake, on the thread in tf_driver_advance(). */
static void act_reset_past(script *s) {
    if (atomic_load(&s->wakes) == 1) s->rc = tf_timer_reset_at(s->target, s->arg);
}
static void act_cancel(script *s) { s->rc = tf_timer_cancel(s->target); }
static void act_free(script *s) {
    s->rc = tf_timer_free(s->target);
    s->target = NULL;
}
static void act_reset_future(script *s) { s->rc = tf_timer_reset_at(s->target, s->arg); }
static void act_advance_self(script *s) { s->rc = tf_driver_advance(s->driver, TF_DRIVER_NOW, NULL); }
static void act_free_driver(script *s) { s->rc = tf_driver_free(s->driver); }

static void test_manual_wakes_change_their_batch(void **state) {
    (void)state;
    tf_driver *d = manual_driver(100);
    uint64_t fired = 0;

    /* A wake re-arms its own timer into the past: it fires again in the
     * same advance (fired counts both; the second firing has no waker to
     * wake, as the first wake consumed it). */
    tf_timer *a = NULL;
    assert_int_equal(tf_timer_new_at_on(d, 200, &a), TF_OK);
    script sa = {.id = 1, .action = act_reset_past, .arg = 150, .driver = d};
    sa.target = a;
    assert_int_equal(poll_with(a, &sa), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 300, &fired), TF_OK);
    assert_int_equal(sa.rc, TF_OK);
    assert_int_equal(fired, 2);
    assert_int_equal(atomic_load(&sa.wakes), 1);
    assert_int_equal(tf_timer_peek(a), TF_READY);

    /* One batch (equal deadlines fire in arming order): x's wake frees e,
     * y's resets f into the future, b's cancels c; so e is never woken
     * (its waker is dropped once), c's wake is the cancel's, f fires
     * later. */
    tf_timer *x, *y, *b, *c, *e, *f;
    tf_timer **arm[] = {&x, &y, &b, &c, &e, &f};
    for (size_t i = 0; i < sizeof arm / sizeof arm[0]; i++)
        assert_int_equal(tf_timer_new_at_on(d, 400, arm[i]), TF_OK);
    script sx = {.id = 6, .action = act_free, .driver = d};
    sx.target = e;
    script sy = {.id = 7, .action = act_reset_future, .arg = 900, .driver = d};
    sy.target = f;
    script sb1 = {.id = 2, .action = act_cancel, .driver = d};
    sb1.target = c;
    script sc = {.id = 3}, se = {.id = 4}, sf = {.id = 5};
    assert_int_equal(poll_with(x, &sx), TF_PENDING);
    assert_int_equal(poll_with(y, &sy), TF_PENDING);
    assert_int_equal(poll_with(b, &sb1), TF_PENDING);
    assert_int_equal(poll_with(c, &sc), TF_PENDING);
    assert_int_equal(poll_with(e, &se), TF_PENDING);
    assert_int_equal(poll_with(f, &sf), TF_PENDING);
    reset_order();
    assert_int_equal(tf_driver_advance(d, 400, &fired), TF_OK);
    assert_int_equal(fired, 6);
    assert_int_equal(atomic_load(&norder), 4); /* x, y, b, and c's cancel */
    assert_int_equal(order[0], 6);
    assert_int_equal(order[1], 7);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 3);
    assert_int_equal(sx.rc, TF_OK);
    assert_int_equal(sy.rc, TF_OK);
    assert_int_equal(sb1.rc, TF_OK);
    assert_int_equal(atomic_load(&sb1.wakes), 1);
    assert_int_equal(atomic_load(&sc.wakes), 1); /* the cancel wakes it... */
    assert_int_equal(tf_timer_peek(c), TF_ECANCELED); /* ...to see this */
    assert_int_equal(atomic_load(&se.wakes), 0);
    /* Its waker released once (the other drop is poll_with's own). */
    assert_int_equal(atomic_load(&se.drops), 2);
    assert_int_equal(atomic_load(&sf.wakes), 0);
    assert_int_equal(tf_timer_peek(f), TF_PENDING);
    uint64_t dl = 0;
    assert_int_equal(tf_timer_deadline(f, &dl), TF_OK);
    assert_int_equal(dl, 900);
    assert_int_equal(tf_driver_advance(d, 899, &fired), TF_OK);
    assert_int_equal(fired, 0);
    assert_int_equal(tf_driver_advance(d, 900, &fired), TF_OK);
    assert_int_equal(fired, 1);
    assert_int_equal(atomic_load(&sf.wakes), 1);

    /* From inside its own wake, the driver can be neither advanced nor
     * freed. */
    tf_timer *g;
    assert_int_equal(tf_timer_new_at_on(d, 1000, &g), TF_OK);
    script sg = {.id = 8, .action = act_advance_self, .driver = d};
    assert_int_equal(poll_with(g, &sg), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 1000, &fired), TF_OK);
    assert_int_equal(sg.rc, TF_EBUSY);
    assert_int_equal(tf_timer_reset_at(g, 1100), TF_OK);
    script sh = {.id = 9, .action = act_free_driver, .driver = d};
    assert_int_equal(poll_with(g, &sh), TF_PENDING);
    assert_int_equal(tf_driver_advance(d, 1100, &fired), TF_OK);
    assert_int_equal(sh.rc, TF_EBUSY);

    tf_timer *all[] = {a, b, c, f, g, x, y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_int_equal(tf_timer_free(all[i]), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* --- host mode on a real clock -------------------------------------------- */

static void run_host_fd(uint32_t clock, clockid_t id, uint64_t slack) {
    tf_driver *d = host_driver(clock, slack);
    int fd = -1;
    assert_int_equal(tf_driver_fd(d, &fd), TF_OK);
    assert_true(fd >= 0);
    enum { N = 50 };
    tf_timer *t[N];
    script s[N];
    int expect = N; /* timers left for the driver to fire */
    int woken[N];
    for (int i = 0; i < N; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].id = i;
        s[i].driver = d;
        /* 0.1 ms to 5 ms, in a scrambled order. */
        assert_int_equal(tf_timer_new_on(d, 100 * US + (uint64_t)((i * 37) % N) * 100 * US, &t[i]),
                         TF_OK);
        /* On a slow run a timer may be due already when it is polled:
         * then the poll fires it, and the driver must not. */
        int rc = poll_with(t[i], &s[i]);
        assert_true(rc == TF_PENDING || rc == TF_READY);
        woken[i] = rc == TF_PENDING;
        if (rc == TF_READY) {
            uint64_t dl = 0;
            assert_int_equal(tf_timer_deadline(t[i], &dl), TF_OK);
            assert_true(clock_ns(id) >= dl);
            expect--;
        }
    }
    struct pollfd p = {fd, POLLIN, 0};
    uint64_t total = 0, fired = 0;
    uint64_t limit = clock_ns(id) + 30 * SEC; /* a hang guard only */
    while (total < (uint64_t)expect) {
        assert_true(clock_ns(id) < limit);
        int r = poll(&p, 1, 1000);
        assert_true(r >= 0 || errno == EINTR);
        if (r <= 0) continue;
        assert_int_equal(tf_driver_advance(d, TF_DRIVER_NOW, &fired), TF_OK);
        total += fired;
        for (int i = 0; i < N; i++) {
            if (atomic_load(&s[i].wakes) == 0) continue;
            uint64_t dl = 0;
            assert_int_equal(tf_timer_deadline(t[i], &dl), TF_OK);
            /* Never early, against the real clock. */
            assert_true(s[i].woken_at >= dl);
        }
    }
    assert_int_equal(total, expect);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&s[i].wakes), woken[i]);
        assert_int_equal(tf_timer_peek(t[i]), TF_READY);
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
    }
    /* Empty: the fd is disarmed and stays quiet. */
    assert_int_equal(poll(&p, 1, 20), 0);
    uint64_t next = 0;
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, UINT64_MAX);
    /* A real clock cannot be advanced into its future, nor backwards. */
    uint64_t now = 0;
    assert_int_equal(tf_driver_now(d, &now), TF_OK);
    assert_int_equal(tf_driver_advance(d, now + 10 * SEC, NULL), TF_ERANGE);
    assert_int_equal(tf_driver_advance(d, 1, NULL), TF_ERANGE);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

static void test_host_fd_monotonic(void **state) {
    (void)state;
    run_host_fd(TF_CLOCK_MONOTONIC, CLOCK_MONOTONIC, 0);
}

static void test_host_fd_boottime_with_slack(void **state) {
    (void)state;
    run_host_fd(TF_CLOCK_BOOTTIME, CLOCK_BOOTTIME, 1 * MS);
}

/* --- thread mode ------------------------------------------------------------ */

static void run_thread_driver(uint32_t clock, clockid_t id, uint64_t slack) {
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    o.clock = clock;
    o.slack_ns = slack;
    tf_driver *d = NULL;
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    enum { N = 20 };
    tf_timer *t[N];
    counting_waker cw;
    cw_init(&cw);
    uint64_t dl[N];
    int pending = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(tf_timer_new_on(d, 200 * US + (uint64_t)i * 150 * US, &t[i]), TF_OK);
        tf_waker *w = cw_make(&cw);
        int rc = tf_timer_poll(t[i], w); /* READY if already due (slow run) */
        assert_true(rc == TF_PENDING || rc == TF_READY);
        pending += rc == TF_PENDING;
        assert_int_equal(tf_waker_drop(w), TF_OK);
        assert_int_equal(tf_timer_deadline(t[i], &dl[i]), TF_OK);
    }
    assert_int_equal(cw_wait_wakes(&cw, pending, 30000), pending);
    uint64_t now = clock_ns(id);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tf_timer_peek(t[i]), TF_READY);
        assert_true(dl[i] <= now);
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
    }
    assert_int_equal(tf_driver_free(d), TF_OK);
    cw_destroy(&cw);
}

static void test_thread_monotonic(void **state) {
    (void)state;
    run_thread_driver(TF_CLOCK_MONOTONIC, CLOCK_MONOTONIC, 0);
}

static void test_thread_boottime(void **state) {
    (void)state;
    run_thread_driver(TF_CLOCK_BOOTTIME, CLOCK_BOOTTIME, 0);
}

static void test_thread_slack(void **state) {
    (void)state;
    run_thread_driver(TF_CLOCK_MONOTONIC, CLOCK_MONOTONIC, 2 * MS);
}

/* Several drivers, each used by its own thread, all at once. */
typedef struct worker {
    tf_driver *d;
    int fired, failures;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    counting_waker cw;
    cw_init(&cw);
    for (int round = 0; round < 200; round++) {
        tf_timer *t = NULL;
        if (tf_timer_new_on(w->d, 50 * US, &t) != TF_OK) {
            w->failures++;
            break;
        }
        tf_waker *wk = cw_make(&cw);
        int rc = tf_timer_poll(t, wk);
        tf_waker_drop(wk);
        if (rc == TF_PENDING) rc = cw_wait_wakes(&cw, w->fired + 1, 30000) == w->fired + 1
                                       ? TF_READY : TF_ETIMEDOUT;
        else if (rc == TF_READY) atomic_fetch_add(&cw.wakes, 1); /* count it */
        if (rc != TF_READY || tf_timer_peek(t) != TF_READY) w->failures++;
        w->fired++;
        tf_driver *back = NULL;
        if (tf_timer_driver(t, &back) != TF_OK || back != w->d) w->failures++;
        tf_timer_free(t);
    }
    cw_destroy(&cw);
    return NULL;
}

static void test_drivers_in_parallel(void **state) {
    (void)state;
    enum { T = 4 };
    worker w[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        memset(&w[i], 0, sizeof w[i]);
        assert_int_equal(tf_driver_new(NULL, &w[i].d), TF_OK);
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
        assert_int_equal(w[i].fired, 200);
        assert_int_equal(tf_driver_free(w[i].d), TF_OK);
    }
}

/* --- faults ------------------------------------------------------------------ */

static atomic_long fail_at, attempts, allocs, frees;
static void *f_alloc(void *ud, size_t n) {
    (void)ud;
    long k = atomic_fetch_add(&attempts, 1) + 1;
    if (k == atomic_load(&fail_at)) return NULL;
    atomic_fetch_add(&allocs, 1);
    return malloc(n);
}
static void f_free(void *ud, void *p) {
    (void)ud;
    atomic_fetch_add(&frees, 1);
    free(p);
}

/* One scenario: a host driver, a thread driver, timers on both. Returns
 * TF_OK, or the first failure's status (then everything made is freed). */
static int fault_scenario(void) {
    tf_driver *h = NULL, *m = NULL;
    tf_timer *a = NULL, *b = NULL;
    int rc = tf_driver_new(&(tf_driver_options){sizeof(tf_driver_options), TF_CLOCK_MANUAL,
                                                TF_DRIVER_MODE_HOST, 0, 0, 10},
                           &h);
    if (rc) goto out;
    rc = tf_driver_new(NULL, &m);
    if (rc) goto out;
    rc = tf_timer_new_on(h, 5, &a);
    if (rc) goto out;
    rc = tf_timer_new_on(m, 0, &b);
    if (rc) goto out;
    uint64_t fired = 0;
    rc = tf_driver_advance(h, 15, &fired);
    if (rc == TF_OK && (fired != 1 || tf_timer_peek(a) != TF_READY)) rc = TF_ESTATE;
out:
    tf_timer_free(a);
    tf_timer_free(b);
    if (tf_driver_free(h) != TF_OK || tf_driver_free(m) != TF_OK) rc = TF_EBUSY;
    return rc;
}

static void test_allocation_faults(void **state) {
    (void)state;
    tf_allocator al = TF_ALLOCATOR_INIT(f_alloc, f_free, NULL);
    assert_int_equal(tf_set_allocator(&al), TF_OK);
    atomic_store(&fail_at, 0);
    atomic_store(&attempts, 0);
    assert_int_equal(fault_scenario(), TF_OK);
    long n = atomic_load(&attempts);
    assert_true(n >= 4); /* two drivers and a chunk of timers each */
    for (long k = 1; k <= n; k++) {
        atomic_store(&attempts, 0);
        atomic_store(&fail_at, k);
        assert_int_equal(fault_scenario(), TF_ENOMEM);
    }
    atomic_store(&fail_at, 0);
    assert_int_equal(fault_scenario(), TF_OK);
    /* While a driver other than the default one exists, the allocator
     * cannot change (the driver's memory came from this one). */
    tf_driver *d = manual_driver(0);
    assert_int_equal(tf_set_allocator(NULL), TF_EBUSY);
    assert_int_equal(tf_driver_free(d), TF_OK);
    assert_int_equal(tf_set_allocator(NULL), TF_OK);
    assert_int_equal(atomic_load(&allocs), atomic_load(&frees));
}

static atomic_int thread_calls;
static int refuse_threads(void) {
    atomic_fetch_add(&thread_calls, 1);
    return 0;
}

static void test_host_mode_creates_no_thread(void **state) {
    (void)state;
    tf__set_thread_create_hook(refuse_threads);
    atomic_store(&thread_calls, 0);
    tf_driver *h = host_driver(TF_CLOCK_MONOTONIC, 0);
    tf_driver *m = manual_driver(0);
    tf_timer *t = NULL, *u = NULL;
    assert_int_equal(tf_timer_new_on(h, 3600 * SEC, &t), TF_OK);
    assert_int_equal(tf_timer_new_on(m, 100, &u), TF_OK);
    script s = {.id = 1, .driver = h};
    assert_int_equal(poll_with(t, &s), TF_PENDING);
    assert_int_equal(tf_timer_reset(t, 50 * US), TF_OK);
    int fd = -1;
    assert_int_equal(tf_driver_fd(h, &fd), TF_OK);
    struct pollfd p = {fd, POLLIN, 0};
    while (atomic_load(&s.wakes) == 0) {
        if (poll(&p, 1, 1000) > 0) assert_int_equal(tf_driver_advance(h, TF_DRIVER_NOW, NULL), TF_OK);
    }
    assert_int_equal(tf_driver_advance(m, 100, NULL), TF_OK);
    assert_int_equal(tf_timer_peek(u), TF_READY);
    assert_int_equal(atomic_load(&thread_calls), 0); /* never even asked */
    /* A thread-mode driver reports the refusal, and stays usable. */
    tf_driver *th = NULL;
    assert_int_equal(tf_driver_new(NULL, &th), TF_OK);
    tf_timer *v = NULL;
    assert_int_equal(tf_timer_new_on(th, SEC, &v), TF_ETHREAD);
    assert_null(v);
    assert_true(atomic_load(&thread_calls) >= 1);
    tf__set_thread_create_hook(NULL);
    assert_int_equal(tf_timer_new_on(th, 0, &v), TF_OK);
    assert_int_equal(tf_timer_free(v), TF_OK);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_timer_free(u), TF_OK);
    assert_int_equal(tf_driver_free(th), TF_OK);
    assert_int_equal(tf_driver_free(h), TF_OK);
    assert_int_equal(tf_driver_free(m), TF_OK);
}

/* --- per-timer slack (experimental) -------------------------------------- */

/* A waker that records the driver's time at its wake. */
typedef struct stamp {
    tf_driver *d;
    uint64_t woken_at;
    int wakes;
} stamp;
static void *st_clone(void *p) { return p; }
static void st_wake_by_ref(void *p) {
    stamp *s = p;
    s->wakes++;
    (void)tf_driver_now(s->d, &s->woken_at);
}
static void st_drop(void *p) { (void)p; }
static const tf_waker_vtable stamp_vt =
    TF_WAKER_VTABLE_INIT(st_clone, st_wake_by_ref, st_wake_by_ref, st_drop);

/* A host on a manual clock that always advances to tf_driver_next_deadline
 * (the driver's wake-up target): with slack, every timer fires no earlier
 * than its deadline and no later than deadline + its own slack (rounded
 * down to a power of two), timers without slack exactly on time, and the
 * host advances fewer times than without slack. Returns the advances. */
static uint64_t run_slack(uint64_t slack, int mixed) {
    enum { N = 2000 };
    tf_driver *d = manual_driver(0);
    static tf_timer *t[N];
    static stamp st[N];
    uint64_t tol[N];
    for (int i = 0; i < N; i++) {
        /* Deadlines 1 us to 2 ms, scrambled. */
        uint64_t dl = 1000 + (uint64_t)((i * 7919) % N) * 1000;
        assert_int_equal(tf_timer_new_at_on(d, dl, &t[i]), TF_OK);
        uint64_t own = mixed && i % 3 == 0 ? 0 : slack;
        if (own) assert_int_equal(tf_timer_set_slack(t[i], own), TF_OK);
        /* The largest power of two not above the request. */
        tol[i] = own ? UINT64_C(1) << (63 - __builtin_clzll(own)) : 0;
        assert_true(tol[i] <= own);
        st[i] = (stamp){d, 0, 0};
        tf_waker *w = NULL;
        assert_int_equal(tf_waker_new(&stamp_vt, &st[i], &w), TF_OK);
        assert_int_equal(tf_timer_poll(t[i], w), TF_PENDING);
        assert_int_equal(tf_waker_drop(w), TF_OK);
    }
    uint64_t next = 0, advances = 0;
    while (tf_driver_next_deadline(d, &next) == TF_OK && next != UINT64_MAX) {
        assert_int_equal(tf_driver_advance(d, next, NULL), TF_OK);
        advances++;
    }
    for (int i = 0; i < N; i++) {
        uint64_t dl = 0;
        assert_int_equal(tf_timer_deadline(t[i], &dl), TF_OK);
        assert_int_equal(st[i].wakes, 1);
        assert_true(st[i].woken_at >= dl);           /* never early */
        assert_true(st[i].woken_at <= dl + tol[i]);  /* within its slack */
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
    }
    assert_int_equal(tf_driver_free(d), TF_OK);
    return advances;
}

/* Near the clock's end a large slack saturates the wake-up target: it must
 * stay a time (UINT64_MAX - 1), never "nothing armed" (UINT64_MAX). */
static void test_slack_at_the_clock_end(void **state) {
    (void)state;
    tf_driver *d = manual_driver(UINT64_MAX - 100);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new_at_on(d, UINT64_MAX - 50, &t), TF_OK);
    assert_int_equal(tf_timer_set_slack(t, UINT64_C(1) << 40), TF_OK);
    uint64_t next = 0, fired = 0;
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, UINT64_MAX - 1);
    assert_int_equal(tf_driver_advance(d, next, &fired), TF_OK);
    assert_int_equal(fired, 1);
    assert_int_equal(tf_timer_peek(t), TF_READY);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

static void test_timer_slack(void **state) {
    (void)state;
    uint64_t exact = run_slack(0, 0);
    uint64_t slack = run_slack(100 * US, 0);
    uint64_t mixed = run_slack(100 * US, 1);
    assert_true(slack < exact / 4); /* 64 us windows over 1 us spacing */
    assert_true(mixed >= slack);    /* the exact timers keep their times */
    /* Bad input; and 0 hands the timer back to the driver's slack. */
    uint64_t junk[8] = {0};
    assert_int_equal(tf_timer_set_slack(NULL, 1), TF_EINVAL);
    assert_int_equal(tf_timer_set_slack((tf_timer *)junk, 1), TF_EHANDLE);
    tf_driver *d = manual_driver(0);
    tf_timer *a = NULL, *b = NULL;
    assert_int_equal(tf_timer_new_at_on(d, 1000, &a), TF_OK);
    assert_int_equal(tf_timer_set_slack(a, 4096), TF_OK);
    uint64_t next = 0;
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 1000 + 4096);
    /* A less tolerant timer, later, brings the wake-up forward. */
    assert_int_equal(tf_timer_new_at_on(d, 3000, &b), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 1000);
    assert_int_equal(tf_timer_set_slack(b, UINT64_MAX), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 1000 + 4096);
    assert_int_equal(tf_timer_set_slack(a, 0), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 1000);
    /* Cancelled and re-armed: the counts follow. */
    assert_int_equal(tf_timer_cancel(a), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 3000 + (UINT64_C(1) << 63));
    assert_int_equal(tf_timer_set_slack(b, 512), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 3000 + 512);
    assert_int_equal(tf_timer_reset_at(a, 2000), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 2000);
    assert_int_equal(tf_timer_free(a), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 3000 + 512);
    assert_int_equal(tf_timer_free(b), TF_OK);
    /* A timer that fired leaves the counts: a later slack timer alone
     * coalesces again. */
    assert_int_equal(tf_timer_new_at_on(d, 4000, &a), TF_OK);
    assert_int_equal(tf_driver_advance(d, 4000, NULL), TF_OK);
    assert_int_equal(tf_timer_peek(a), TF_READY);
    assert_int_equal(tf_timer_new_at_on(d, 5000, &b), TF_OK);
    assert_int_equal(tf_timer_set_slack(b, 1024), TF_OK);
    assert_int_equal(tf_driver_next_deadline(d, &next), TF_OK);
    assert_int_equal(next, 5000 + 1024);
    assert_int_equal(tf_timer_free(a), TF_OK);
    assert_int_equal(tf_timer_free(b), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* --- the inbox: timers armed without the driver's lock ------------------- */

/* Waits (a hang guard, not a speed check) until peek, which takes no lock
 * and so files nothing, finds t fired. */
static int wait_fired_lock_free(tf_timer *t) {
    for (int i = 0; i < 10000 && tf_timer_peek(t) == TF_PENDING; i++) sleep_ms(1);
    return tf_timer_peek(t);
}

static tf_driver *idle_driver;  /* the driver the hook acts on */
static atomic_int idle_seen, idle_go, idle_done;

/* On the driver thread, lock held: the first time the driver goes idle,
 * another thread arms a timer and returns before the driver works out its
 * wake-up. That arm read the old sleep_until (0 since the thread started),
 * so it did not take the lock: only the driver's second look at the inbox
 * files it. */
/* cppcheck-suppress constParameter ; the hook type is fixed (tf__hook_fn) */
static void idle_hook(int point, void *object) {
    if (point != TF_HOOK_DRIVER_IDLE || object != idle_driver) return;
    if (atomic_fetch_add(&idle_seen, 1) != 0) return;
    atomic_store(&idle_go, 1);
    for (int i = 0; i < 10000 && !atomic_load(&idle_done); i++) sleep_ms(1);
}

static void *idle_arm(void *arg) {
    tf_timer **out = arg;
    while (!atomic_load(&idle_go)) sleep_ms(1);
    uint64_t now;
    (void)tf_driver_now(idle_driver, &now);
    if (tf_timer_new_at_on(idle_driver, now + 2 * MS, out) != TF_OK) *out = NULL;
    atomic_store(&idle_done, 1);
    return NULL;
}

static void test_inbox_arm_as_the_driver_goes_idle(void **state) {
    (void)state;
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    assert_int_equal(tf_driver_new(&o, &idle_driver), TF_OK);
    atomic_store(&idle_seen, 0);
    atomic_store(&idle_go, 0);
    atomic_store(&idle_done, 0);
    tf_timer *late = NULL, *soon = NULL;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, idle_arm, &soon), 0);
    tf__set_hook(idle_hook);
    /* Starts the thread; an hour away, so it alone would keep it asleep. */
    assert_int_equal(tf_timer_new_on(idle_driver, 3600 * SEC, &late), TF_OK);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_non_null(soon);
    assert_int_equal(atomic_load(&idle_done), 1);
    assert_int_equal(wait_fired_lock_free(soon), TF_READY);
    uint64_t now, dl;
    assert_int_equal(tf_driver_now(idle_driver, &now), TF_OK);
    assert_int_equal(tf_timer_deadline(soon, &dl), TF_OK);
    assert_true(dl <= now);
    assert_int_equal(tf_timer_peek(late), TF_PENDING);
    tf__set_hook(NULL);
    assert_int_equal(tf_timer_free(soon), TF_OK);
    assert_int_equal(tf_timer_free(late), TF_OK);
    assert_int_equal(tf_driver_free(idle_driver), TF_OK);
}

static atomic_int idles;
/* cppcheck-suppress constParameter ; the hook type is fixed (tf__hook_fn) */
static void count_idle(int point, void *object) {
    if (point == TF_HOOK_DRIVER_IDLE && object == idle_driver) atomic_fetch_add(&idles, 1);
}

/* The driver asleep with nothing to wait for: a new timer, pushed on the
 * inbox after the driver's last look at it, must wake it (the arm sees an
 * earlier deadline than sleep_until and files it under the lock). */
static void test_inbox_arm_wakes_a_sleeping_driver(void **state) {
    (void)state;
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    assert_int_equal(tf_driver_new(&o, &idle_driver), TF_OK);
    atomic_store(&idles, 0);
    tf__set_hook(count_idle);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new_on(idle_driver, 0, &t), TF_OK); /* starts it */
    assert_int_equal(tf_timer_free(t), TF_OK);
    for (int i = 0; i < 10000 && atomic_load(&idles) == 0; i++) sleep_ms(1);
    assert_int_not_equal(atomic_load(&idles), 0);
    /* The lock is free only once the idle thread sleeps, its inbox seen
     * empty (the free above took t out of the wheel, if it was there). */
    uint64_t next;
    assert_int_equal(tf_driver_next_deadline(idle_driver, &next), TF_OK);
    assert_int_equal(next, UINT64_MAX);
    int before = atomic_load(&idles);
    assert_int_equal(tf_timer_new_on(idle_driver, 2 * MS, &t), TF_OK);
    assert_int_equal(wait_fired_lock_free(t), TF_READY);
    assert_true(atomic_load(&idles) > before); /* it woke */
    tf__set_hook(NULL);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_driver_free(idle_driver), TF_OK);
}

/* Equal deadlines fire in arming order whether an arm went through the
 * inbox or, moving the wake-up, through the lock. */
static void test_inbox_keeps_arming_order(void **state) {
    (void)state;
    tf_driver *d = manual_driver(1000);
    script s[6];
    tf_timer *t[6];
    memset(s, 0, sizeof s);
    reset_order();
    /* 5000 first (the lock: it moves the wake-up), then equal deadlines
     * (the inbox: not before the wake-up), then an earlier one (the lock,
     * filing the inbox first), then two more equal ones. */
    const uint64_t dl[6] = {5000, 5000, 5000, 3000, 5000, 5000};
    for (int i = 0; i < 6; i++) {
        s[i].id = i + 1;
        assert_int_equal(tf_timer_new_at_on(d, dl[i], &t[i]), TF_OK);
    }
    for (int i = 0; i < 6; i++) assert_int_equal(poll_with(t[i], &s[i]), TF_PENDING);
    uint64_t fired = 0;
    assert_int_equal(tf_driver_advance(d, 5000, &fired), TF_OK);
    assert_int_equal(fired, 6);
    const int want[6] = {4, 1, 2, 3, 5, 6};
    for (int i = 0; i < 6; i++) assert_int_equal(order[i], want[i]);
    for (int i = 0; i < 6; i++) assert_int_equal(tf_timer_free(t[i]), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* New timers come from a reserve taken from the pool a block at a time, so
 * after a burst its rest sits in the chunk carved last, at the top of the
 * heap. Once the burst's timers are freed the pool must hold nothing back
 * but its one spare chunk: a reserve kept would pin the top chunk and,
 * with it, every freed chunk of the burst below it in the heap. */
static void test_timer_reserve_not_pinned(void **state) {
    (void)state;
#ifdef TF_NO_POOL
    skip(); /* no chunks: nothing to pin, and nothing flushes the reserve */
#else
    tf_driver *d = manual_driver(0);
    /* Over three chunks, and not a whole number of blocks, so the last
     * block leaves timers in the reserve. */
    size_t n = 3 * d->timers.per_chunk + 1;
    if (n % TF_TIMER_RESERVE_BLOCK == 0) n++;
    tf_timer **t = calloc(n, sizeof(*t));
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tf_timer_new_at_on(d, 1000 + i, &t[i]), TF_OK);
    assert_int_not_equal(d->reserve_n, 0);
    for (size_t i = 0; i < n; i++) assert_int_equal(tf_timer_free(t[i]), TF_OK);
    pthread_mutex_lock(&d->pool_lock);
    size_t live = d->timers.live, chunks = d->timers.chunks;
    pthread_mutex_unlock(&d->pool_lock);
    assert_int_equal(live, 0);
    assert_true(chunks <= 1);
    assert_int_equal(d->reserve_n, 0);
    /* Arming again refills the reserve from what is left. */
    assert_int_equal(tf_timer_new_at_on(d, 10, &t[0]), TF_OK);
    assert_int_equal(tf_driver_advance(d, 10, NULL), TF_OK);
    assert_int_equal(tf_timer_peek(t[0]), TF_READY);
    assert_int_equal(tf_timer_free(t[0]), TF_OK);
    free(t);
    assert_int_equal(tf_driver_free(d), TF_OK);
#endif
}

/* The reserve holds pool objects that are no timers: they must not make a
 * driver whose timers are all freed look busy, nor keep the allocator
 * from changing; and a stale handle into the reserve is refused. */
static void test_timer_reserve_is_not_live(void **state) {
    (void)state;
    tf_driver *d = manual_driver(0);
    tf_timer *t = NULL;
    assert_int_equal(tf_timer_new_at_on(d, 5, &t), TF_OK);
    assert_int_equal(d->reserve_n, TF_TIMER_RESERVE_BLOCK - 1);
    /* The next timer the reserve hands out is not one yet. */
    if (d->reserve) assert_int_equal(tf_timer_peek(d->reserve), TF_EHANDLE);
    assert_int_equal(tf_driver_free(d), TF_EBUSY); /* t is alive */
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
    /* The default driver's reserve neither (counting gives it back). */
    assert_int_equal(tf__driver_live_timers(), 0);
    assert_int_equal(tf_timer_new(3600 * SEC, &t), TF_OK);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_driver_default()->reserve_n, TF_TIMER_RESERVE_BLOCK - 1);
    assert_int_equal(tf__driver_live_timers(), 0);
    assert_int_equal(tf_driver_default()->reserve_n, 0);
    static const tf_allocator al = TF_ALLOCATOR_INIT(f_alloc, f_free, NULL);
    assert_int_equal(tf_set_allocator(&al), TF_OK);
    assert_int_equal(tf_set_allocator(NULL), TF_OK);
}

/* A driver's thread carries the library's name for it, and goes when
 * the driver is freed. */
/* --- releasing timer memory ---------------------------------------------- */

static atomic_int release_rc;

static void *free_in_thread(void *arg) {
    atomic_store(&release_rc, 1000 + tf_timer_free(arg));
    return NULL;
}

/* A thread that frees a fired timer while another holds the driver's
 * timer-pool lock (as the arming thread does while it refills its reserve)
 * does not wait for it: the timer waits for the next thread that takes the
 * lock, which frees it into the pool before anything counts or allocates
 * there. */
static void test_release_while_the_pool_is_locked(void **state) {
    (void)state;
    tf_driver *d = manual_driver(0);
    tf_timer *t = NULL, *u = NULL;
    assert_int_equal(tf_timer_new_at_on(d, 10, &t), TF_OK);
    assert_int_equal(tf_timer_new_at_on(d, 20, &u), TF_OK);
    assert_int_equal(tf_driver_advance(d, 10, NULL), TF_OK);
    assert_int_equal(tf_timer_peek(t), TF_READY);
    atomic_store(&release_rc, 0);
    pthread_mutex_lock(&d->pool_lock);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, free_in_thread, t), 0);
    for (int i = 0; i < 5000 && atomic_load(&release_rc) == 0; i++) sleep_ms(1);
    int rc = atomic_load(&release_rc);
    struct tf_timer *pending = atomic_load(&d->release_pending);
    pthread_mutex_unlock(&d->pool_lock);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(rc, 1000 + TF_OK); /* returned while the lock was held */
    assert_ptr_equal(pending, (struct tf_timer *)(void *)t);
    assert_int_equal(tf_timer_peek(t), TF_EHANDLE); /* dead at once */
    /* The next release takes the lock and frees both: the driver then has
     * no live timer left. */
    assert_int_equal(tf_timer_free(u), TF_OK);
    assert_null(atomic_load(&d->release_pending));
    assert_int_equal(tf_driver_free(d), TF_OK);
}

/* --- the coalescing window of a thread without slack --------------------- */

/* The wake-up target after a firing wake-up, read under the lock as the
 * thread computes it (tf__driver_target_locked). */
static uint64_t target_after_fire(tf_driver *d, uint64_t fired_at) {
    pthread_mutex_lock(&d->lock);
    uint64_t saved = d->fired_at;
    d->fired_at = fired_at;
    uint64_t target = tf__driver_target_locked(d);
    d->fired_at = saved;
    pthread_mutex_unlock(&d->lock);
    return target;
}

/* The window's arithmetic, on drivers whose timers are hours away (their
 * threads sleep; nothing fires): a thread without slack wakes no sooner
 * than TF_DRIVER_COALESCE_NS after a firing wake-up, and a timer with a
 * smaller own slack narrows the window to it; a thread with slack of its
 * own, and a host, have no window. */
static void test_coalescing_window(void **state) {
    (void)state;
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    tf_driver *th = NULL, *sl = NULL, *host = NULL;
    assert_int_equal(tf_driver_new(&o, &th), TF_OK);
    o.slack_ns = 1;
    assert_int_equal(tf_driver_new(&o, &sl), TF_OK);
    o.slack_ns = 0;
    o.mode = TF_DRIVER_MODE_HOST;
    assert_int_equal(tf_driver_new(&o, &host), TF_OK);
    tf_driver *all[3] = {th, sl, host};
    tf_timer *t[3], *own = NULL;
    uint64_t base[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tf_timer_new_on(all[i], 3600 * SEC, &t[i]), TF_OK);
        /* Without a firing wake-up: the wheel's next event (the cascade
         * that brings the timer down), the slack added. */
        base[i] = target_after_fire(all[i], 0);
        assert_true(base[i] > 10 * US && base[i] < UINT64_MAX);
    }
    /* Long after the last fire: no change. */
    assert_int_equal(target_after_fire(th, base[0] - SEC), base[0]);
    /* An event inside the window waits for its end. */
    assert_int_equal(target_after_fire(th, base[0] - 10 * US),
                     base[0] - 10 * US + TF_DRIVER_COALESCE_NS);
    assert_int_equal(target_after_fire(sl, base[1] - 10 * US), base[1]);
    assert_int_equal(target_after_fire(host, base[2] - 10 * US), base[2]);
    /* A timer whose own slack is 32 us (rounded down: 2^14 ns) narrows the
     * window. */
    assert_int_equal(tf_timer_new_on(th, 7200 * SEC, &own), TF_OK);
    assert_int_equal(tf_timer_set_slack(own, 32 * US), TF_OK);
    assert_int_equal(target_after_fire(th, 0), base[0]);
    assert_int_equal(target_after_fire(th, base[0] - 10 * US), base[0] - 10 * US + 16384);
    assert_int_equal(tf_timer_free(own), TF_OK);
    assert_int_equal(target_after_fire(th, base[0] - 10 * US),
                     base[0] - 10 * US + TF_DRIVER_COALESCE_NS);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
        assert_int_equal(tf_driver_free(all[i]), TF_OK);
    }
}

/* On the real clock, where the window is in force: 200 timers due 5 us
 * apart, 1 ms in all. Every one fires once and none early, and the thread
 * sleeps no more often than once per window. (That bound is a ceiling,
 * not the window's effect: timers this dense keep a thread without the
 * window firing rather than sleeping too; test_coalescing_window checks
 * the window itself.) */
static void test_dense_timers_share_wakeups(void **state) {
    (void)state;
    enum { N = 200 };
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    tf_driver *d = NULL;
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    static tf_timer *t[N];
    static stamp st[N];
    uint64_t start = 0, dl[N];
    assert_int_equal(tf_driver_now(d, &start), TF_OK);
    start += 30 * MS;
    for (int i = 0; i < N; i++) {
        dl[i] = start + (uint64_t)i * 5 * US;
        assert_int_equal(tf_timer_new_at_on(d, dl[i], &t[i]), TF_OK);
        st[i] = (stamp){d, 0, 0};
        tf_waker *w = NULL;
        assert_int_equal(tf_waker_new(&stamp_vt, &st[i], &w), TF_OK);
        int rc = tf_timer_poll(t[i], w);
        assert_int_equal(tf_waker_drop(w), TF_OK);
        if (rc != TF_PENDING) skip(); /* a machine too slow to arm 200 in 30 ms */
    }
    uint64_t before = tf__driver_wakeups(d);
    for (int i = 0; i < 10000 && tf_timer_peek(t[N - 1]) != TF_READY; i++) sleep_ms(1);
    for (int i = 0; i < 10000 && __atomic_load_n(&st[N - 1].wakes, __ATOMIC_SEQ_CST) == 0; i++)
        sleep_ms(1);
    uint64_t wakeups = tf__driver_wakeups(d) - before;
    for (int i = 0; i < N; i++) {
        assert_int_equal(__atomic_load_n(&st[i].wakes, __ATOMIC_SEQ_CST), 1);
        assert_true(st[i].woken_at >= dl[i]); /* never early */
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
    }
    /* 1 ms of deadlines in 50 us windows, the first wake-up, and one a
     * kick may have caused. */
    print_message("dense timers: %" PRIu64 " wake-ups for %d timers over 1 ms\n", wakeups, N);
    assert_true(wakeups <= (uint64_t)N * 5 * US / TF_DRIVER_COALESCE_NS + 3);
    assert_int_equal(tf_driver_free(d), TF_OK);
}

static void test_driver_thread_is_named(void **state) {
    (void)state;
    int before = tu_threads_named("tf-driver");
    assert_true(before >= 0);
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    tf_driver *d;
    tf_timer *t;
    assert_int_equal(tf_driver_new(&o, &d), TF_OK);
    assert_int_equal(tf_timer_new_on(d, 3600 * SEC, &t), TF_OK); /* starts it */
    assert_int_equal(tu_wait_threads_named("tf-driver", before + 1, 10000), before + 1);
    assert_int_equal(tf_timer_free(t), TF_OK);
    assert_int_equal(tf_driver_free(d), TF_OK);
    assert_int_equal(tu_wait_threads_named("tf-driver", before, 10000), before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_default_driver),
        cmocka_unit_test(test_manual_clock),
        cmocka_unit_test(test_manual_equal_deadlines_in_order),
        cmocka_unit_test(test_manual_wakes_change_their_batch),
        cmocka_unit_test(test_host_fd_monotonic),
        cmocka_unit_test(test_host_fd_boottime_with_slack),
        cmocka_unit_test(test_thread_monotonic),
        cmocka_unit_test(test_thread_boottime),
        cmocka_unit_test(test_thread_slack),
        cmocka_unit_test(test_drivers_in_parallel),
        cmocka_unit_test(test_allocation_faults),
        cmocka_unit_test(test_host_mode_creates_no_thread),
        cmocka_unit_test(test_timer_slack),
        cmocka_unit_test(test_slack_at_the_clock_end),
        cmocka_unit_test(test_inbox_arm_as_the_driver_goes_idle),
        cmocka_unit_test(test_inbox_arm_wakes_a_sleeping_driver),
        cmocka_unit_test(test_inbox_keeps_arming_order),
        cmocka_unit_test(test_timer_reserve_not_pinned),
        cmocka_unit_test(test_timer_reserve_is_not_live),
        cmocka_unit_test(test_driver_thread_is_named),
        cmocka_unit_test(test_release_while_the_pool_is_locked),
        cmocka_unit_test(test_coalescing_window),
        cmocka_unit_test(test_dense_timers_share_wakeups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
