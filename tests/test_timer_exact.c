/* SPDX-License-Identifier: MIT */
/* Timers at the exact nanosecond, under the test's clock (private hooks,
 * static build): deadline - 1 never fires and the deadline itself does,
 * at every level of the wheel, for tf_timer_new_at, tf_timer_new,
 * tf_timer_reset_at and the "deadline passed" path of tf_timer_poll; and a
 * timer re-armed from inside its own wake (on the driver thread), into the
 * past or the future, fires when it is due with the deadline it was given.
 *
 * The clock stands still unless a test moves it, and the driver fires
 * only when a test syncs it, so nothing here depends on the machine's
 * speed. The clock is fake for the whole program and only moves forward:
 * each test starts where the previous one left it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_clock.h"
#include "testutil.h"
#include "timer_internal.h"
#include "timer_wheel.h"

#define SLOT_SHIFT(level) (TF_WHEEL_BASE_SHIFT + TF_WHEEL_LEVEL_BITS * (level))

enum { ARM_NEW_AT, ARM_NEW, ARM_RESET_AT, ARM_KINDS };

static unsigned levels_seen; /* bit L: a timer was filed at level L */

static unsigned level_of(const tf_timer *t) {
    return ((const struct tf_timer *)(const void *)t)->level;
}

/* Arms a timer for deadline d the given way; it holds a clone of w. */
static tf_timer *arm(int kind, uint64_t d, tf_waker *w) {
    tf_timer *t = NULL;
    switch (kind) {
    case ARM_NEW_AT:
        assert_int_equal(tf_timer_new_at(d, &t), TF_OK);
        break;
    case ARM_NEW:
        assert_int_equal(tf_timer_new(d - fake_clock_now(), &t), TF_OK);
        break;
    default:
        /* Parked at the far end of the wheel first, waker stored there. */
        assert_int_equal(tf_timer_new_at(UINT64_MAX - 1, &t), TF_OK);
        assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
        assert_int_equal(tf_timer_reset_at(t, d), TF_OK);
    }
    uint64_t got = 0;
    assert_int_equal(tf_timer_deadline(t, &got), TF_OK);
    assert_int_equal(got, d); /* exact: the clock did not move */
    assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
    assert_int_equal(tf_timer_peek(t), TF_PENDING);
    levels_seen |= 1u << level_of(t);
    return t;
}

/* The times to sync the driver at on the way to d: the starts of the
 * slots (every level) that d falls in, and one nanosecond before each (the
 * moments where the wheel cascades d towards level 0), then d - 2 .. d + 1.
 * Ascending, after now; returns how many. */
static int sync_points(uint64_t d, uint64_t out[2 * TF_WHEEL_LEVELS + 4]) {
    int n = 0;
    uint64_t last = fake_clock_now();
    for (int level = TF_WHEEL_LEVELS - 1; level >= 0; level--) {
        uint64_t start = d >> SLOT_SHIFT(level) << SLOT_SHIFT(level);
        if (start > last + 1 && start + 2 < d) {
            out[n++] = start - 1;
            out[n++] = last = start;
        }
    }
    for (uint64_t t = d - 2; t <= d + 1; t++)
        if (t > last) out[n++] = last = t;
    return n;
}

/* Timers at d - 1, d and d + 1, armed the same way (so the wheel has
 * neighbours in one slot to tell apart): at every sync on the way, exactly
 * those whose deadline has come have fired, each once, and their
 * deadlines are unchanged. The middle one is also polled at d - 1. */
static void check_exact(int kind, uint64_t d) {
    /* On the heap, and not freed if an assertion fails: a timer left armed
     * then must not wake into a dead stack frame in later tests. */
    counting_waker *c = calloc(3, sizeof(*c));
    tf_waker *w[3];
    tf_timer *t[3];
    for (int i = 0; i < 3; i++) {
        cw_init(&c[i]);
        w[i] = cw_make(&c[i]);
        t[i] = arm(kind, d - 1 + (uint64_t)i, w[i]);
    }
    uint64_t pts[2 * TF_WHEEL_LEVELS + 4];
    int n = sync_points(d, pts);
    for (int k = 0; k < n; k++) {
        fake_clock_sync_to(pts[k]);
        for (int i = 0; i < 3; i++) {
            int due = pts[k] >= d - 1 + (uint64_t)i;
            assert_int_equal(atomic_load(&c[i].wakes), due);
            assert_int_equal(atomic_load(&c[i].wake_by_refs), 0);
            assert_int_equal(tf_timer_peek(t[i]), due ? TF_READY : TF_PENDING);
        }
        if (pts[k] == d - 1) /* poll's own check, one before */
            assert_int_equal(tf_timer_poll(t[1], w[1]), TF_PENDING);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tf_timer_poll(t[i], w[i]), TF_READY);
        uint64_t got = 0;
        assert_int_equal(tf_timer_deadline(t[i], &got), TF_OK);
        assert_int_equal(got, d - 1 + (uint64_t)i);
        assert_int_equal(tf_timer_free(t[i]), TF_OK);
        assert_int_equal(tf_waker_drop(w[i]), TF_OK);
        assert_int_equal(atomic_load(&c[i].refs), 0);
        cw_destroy(&c[i]);
    }
    free(c);
}

/* Deadlines for a level: a few slots of that level ahead, and just
 * before, at and after one of its slot boundaries. The top level's slots
 * are 2^58 ns (9 years) wide; the clock only moves forward, so it gets
 * one slot's worth of deadlines per arming kind. */
static int deadlines_for(unsigned level, uint64_t now, uint64_t out[4]) {
    unsigned s = SLOT_SHIFT(level);
    uint64_t b = ((now >> s) + 1) << s;
    if (level == TF_WHEEL_LEVELS - 1) {
        out[0] = b - 1;
        out[1] = b;
        out[2] = b + 1;
        return 3;
    }
    out[0] = now + (UINT64_C(3) << s) + 12345;
    out[1] = b + (UINT64_C(1) << s) - 1;
    out[2] = b + (UINT64_C(1) << s);
    out[3] = b + (UINT64_C(1) << s) + 1;
    return 4;
}

static void test_exact_deadline_every_level(void **state) {
    (void)state;
    levels_seen = 0;
    for (unsigned level = 0; level < TF_WHEEL_LEVELS; level++) {
        for (int kind = 0; kind < ARM_KINDS; kind++) {
            /* Each check moves the clock: the next deadline is chosen
             * from where it left it. */
            uint64_t d[4];
            int n = deadlines_for(level, fake_clock_now(), d);
            for (int i = 0; i < n; i++) {
                deadlines_for(level, fake_clock_now(), d);
                check_exact(kind, d[i]);
            }
        }
    }
    /* Every level of the wheel held one of them. */
    assert_int_equal(levels_seen, (1u << TF_WHEEL_LEVELS) - 1);
}

/* Armed while the wheel's time is exactly d - 1 (the driver has just
 * advanced there): filed, not fired; one nanosecond later, fired. And a
 * deadline equal to the wheel's time is due at once. */
static void test_arm_one_before_wheel_time(void **state) {
    (void)state;
    for (int kind = 0; kind < ARM_KINDS; kind++) {
        uint64_t now = fake_clock_now() + 1000;
        fake_clock_sync_to(now);
        counting_waker *c = calloc(1, sizeof(*c));
        cw_init(c);
        tf_waker *w = cw_make(c);
        tf_timer *t = arm(kind, now + 1, w);
        fake_clock_sync_to(now); /* a round at the same time again */
        assert_int_equal(cw_total_wakes(c), 0);
        fake_clock_sync_to(now + 1);
        assert_int_equal(atomic_load(&c->wakes), 1);
        assert_int_equal(tf_timer_poll(t, w), TF_READY);
        /* Re-armed for exactly now: ready at once, woken by the call. */
        if (kind == ARM_RESET_AT) {
            assert_int_equal(tf_timer_reset_at(t, now), TF_OK);
            assert_int_equal(tf_timer_peek(t), TF_READY);
        } else {
            assert_int_equal(tf_timer_free(t), TF_OK);
            t = NULL;
            if (kind == ARM_NEW_AT)
                assert_int_equal(tf_timer_new_at(now + 1, &t), TF_OK);
            else
                assert_int_equal(tf_timer_new(0, &t), TF_OK);
            assert_int_equal(tf_timer_poll(t, w), TF_READY);
        }
        assert_int_equal(atomic_load(&c->wakes), 1);
        assert_int_equal(tf_timer_free(t), TF_OK);
        assert_int_equal(tf_waker_drop(w), TF_OK);
        assert_int_equal(atomic_load(&c->refs), 0);
        cw_destroy(c);
        free(c);
    }
}

/* tf_timer_poll fires the timer itself once its deadline has passed, even
 * if the driver has not got to it: not at d - 1, and at d. The poller is
 * told directly (READY), so the stored waker is dropped, not woken, and
 * the driver does not fire the timer again later. */
static void test_poll_fires_itself_exactly(void **state) {
    (void)state;
    for (unsigned level = 0; level < TF_WHEEL_LEVELS; level += 3) {
        for (int kind = 0; kind < ARM_KINDS; kind++) {
            uint64_t d = fake_clock_now() + (UINT64_C(5) << SLOT_SHIFT(level)) + 77;
            counting_waker *c = calloc(1, sizeof(*c));
            cw_init(c);
            tf_waker *w = cw_make(c);
            tf_timer *t = arm(kind, d, w);
            fake_clock_set(d - 1); /* the driver does not run */
            assert_int_equal(tf_timer_poll(t, w), TF_PENDING);
            assert_int_equal(tf_timer_peek(t), TF_PENDING);
            fake_clock_set(d);
            assert_int_equal(tf_timer_peek(t), TF_PENDING); /* side-effect free */
            assert_int_equal(tf_timer_poll(t, w), TF_READY);
            assert_int_equal(tf_timer_peek(t), TF_READY);
            assert_int_equal(cw_total_wakes(c), 0);
            assert_int_equal(atomic_load(&c->refs), 1); /* only ours is left */
            fake_clock_sync_to(d + 1);
            assert_int_equal(cw_total_wakes(c), 0);
            assert_int_equal(tf_timer_poll(t, w), TF_READY);
            assert_int_equal(tf_timer_free(t), TF_OK);
            assert_int_equal(tf_waker_drop(w), TF_OK);
            assert_int_equal(atomic_load(&c->refs), 0);
            cw_destroy(c);
        free(c);
        }
    }
}

/* --- re-armed from inside its own wake ------------------------------------ */

typedef struct {
    tf_timer *t;
    uint64_t rearm_at;   /* the deadline the wake re-arms it for */
    tf_waker *again;     /* stored by the wake, as the woken task would */
    int with_waker;
    atomic_int wakes;
    int rc_reset, rc_poll, rc_peek;
} rearm_ctl;

static void *ra_clone(void *d) { return d; }
static void ra_wake_by_ref(void *d) {
    rearm_ctl *r = d;
    if (atomic_fetch_add(&r->wakes, 1) != 0) return;
    /* On the driver thread, inside the batch that fires r->t. */
    r->rc_reset = tf_timer_reset_at(r->t, r->rearm_at);
    r->rc_peek = tf_timer_peek(r->t);
    if (r->with_waker) r->rc_poll = tf_timer_poll(r->t, r->again);
}
static void ra_wake(void *d) { ra_wake_by_ref(d); }
static void ra_drop(void *d) { (void)d; }
static const tf_waker_vtable ra_vt = TF_WAKER_VTABLE_INIT(ra_clone,
                                      ra_wake, ra_wake_by_ref, ra_drop);

static void rearm_case(int64_t offset, int with_waker) {
    uint64_t d = fake_clock_now() + 10 * UINT64_C(65536) + 3;
    static rearm_ctl r; /* outlives the case if an assertion fails */
    memset(&r, 0, sizeof(r));
    counting_waker *c = calloc(1, sizeof(*c));
    cw_init(c);
    r.again = cw_make(c);
    r.with_waker = with_waker;
    r.rearm_at = (uint64_t)((int64_t)d + offset);
    tf_waker *w = NULL;
    assert_int_equal(tf_waker_new(&ra_vt, &r, &w), TF_OK);
    assert_int_equal(tf_timer_new_at(d, &r.t), TF_OK);
    assert_int_equal(tf_timer_poll(r.t, w), TF_PENDING);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    fake_clock_sync_to(d);
    assert_int_equal(atomic_load(&r.wakes), 1);
    assert_int_equal(r.rc_reset, TF_OK);
    assert_int_equal(r.rc_peek, TF_PENDING); /* re-armed, not fired yet */
    if (with_waker) assert_int_equal(r.rc_poll, TF_PENDING);
    uint64_t got = 0;
    assert_int_equal(tf_timer_deadline(r.t, &got), TF_OK);
    assert_int_equal(got, r.rearm_at); /* the deadline it was given */
    if (r.rearm_at <= d) {
        /* Due already: fired in the same sync, not lost, not postponed. */
        assert_int_equal(tf_timer_peek(r.t), TF_READY);
        assert_int_equal(atomic_load(&c->wakes), with_waker);
    } else {
        assert_int_equal(tf_timer_peek(r.t), TF_PENDING);
        fake_clock_sync_to(r.rearm_at - 1);
        assert_int_equal(tf_timer_peek(r.t), TF_PENDING);
        assert_int_equal(cw_total_wakes(c), 0);
        fake_clock_sync_to(r.rearm_at);
        assert_int_equal(tf_timer_peek(r.t), TF_READY);
        assert_int_equal(atomic_load(&c->wakes), with_waker);
    }
    assert_int_equal(atomic_load(&r.wakes), 1); /* its first waker: once */
    assert_int_equal(tf_timer_deadline(r.t, &got), TF_OK);
    assert_int_equal(got, r.rearm_at);
    assert_int_equal(tf_timer_poll(r.t, r.again), TF_READY);
    assert_int_equal(tf_timer_free(r.t), TF_OK);
    assert_int_equal(tf_waker_drop(r.again), TF_OK);
    assert_int_equal(atomic_load(&c->refs), 0);
    cw_destroy(c);
        free(c);
}

static void test_rearm_from_own_wake(void **state) {
    (void)state;
    for (int with_waker = 0; with_waker < 2; with_waker++) {
        rearm_case(-1000000, with_waker); /* well in the past */
        rearm_case(-1, with_waker);
        rearm_case(0, with_waker);        /* its old deadline: now */
        rearm_case(1, with_waker);        /* one nanosecond ahead */
        rearm_case(5 * INT64_C(65536), with_waker);
    }
}

/* --- freed from inside a wake of its own batch ---------------------------- */

/* A wake that frees its own timer and a later one of the same batch: the
 * driver still walks that batch, so their memory must outlive it (in ASan
 * builds the pool poisons freed timers, so an early release is reported).
 * The freed batch-mate's waker is dropped, not woken; the rest fire. */
typedef struct {
    tf_timer *self, *mate;
    atomic_int wakes;
    int rc_self, rc_mate;
} self_free_ctl;

static void *sf_clone(void *d) { return d; }
static void sf_wake_by_ref(void *d) {
    self_free_ctl *f = d;
    if (atomic_fetch_add(&f->wakes, 1) != 0) return;
    f->rc_self = tf_timer_free(f->self);
    f->rc_mate = tf_timer_free(f->mate);
}
static void sf_wake(void *d) { sf_wake_by_ref(d); }
static void sf_drop(void *d) { (void)d; }
static const tf_waker_vtable sf_vt = TF_WAKER_VTABLE_INIT(sf_clone,
                                      sf_wake, sf_wake_by_ref, sf_drop);

static void test_free_from_own_batch(void **state) {
    (void)state;
    static self_free_ctl f; /* outlives the test if an assertion fails */
    memset(&f, 0, sizeof(f));
    counting_waker *c = calloc(2, sizeof(*c));
    cw_init(&c[0]);
    cw_init(&c[1]);
    uint64_t d = fake_clock_now() + 3 * UINT64_C(65536);
    tf_waker *w = NULL, *wm = cw_make(&c[0]), *wl = cw_make(&c[1]);
    tf_timer *last = NULL;
    assert_int_equal(tf_waker_new(&sf_vt, &f, &w), TF_OK);
    /* Equal deadlines fire in arming order: self, mate, last. */
    assert_int_equal(tf_timer_new_at(d, &f.self), TF_OK);
    assert_int_equal(tf_timer_new_at(d, &f.mate), TF_OK);
    assert_int_equal(tf_timer_new_at(d, &last), TF_OK);
    assert_int_equal(tf_timer_poll(f.self, w), TF_PENDING);
    assert_int_equal(tf_timer_poll(f.mate, wm), TF_PENDING);
    assert_int_equal(tf_timer_poll(last, wl), TF_PENDING);
    assert_int_equal(tf_waker_drop(w), TF_OK);
    fake_clock_sync_to(d);
    assert_int_equal(atomic_load(&f.wakes), 1);
    assert_int_equal(f.rc_self, TF_OK);
    assert_int_equal(f.rc_mate, TF_OK);
    assert_int_equal(cw_total_wakes(&c[0]), 0);  /* freed: dropped */
    assert_int_equal(atomic_load(&c[0].drops), 1);
    assert_int_equal(atomic_load(&c[1].wakes), 1);
    assert_int_equal(tf_timer_peek(last), TF_READY);
    assert_int_equal(tf_timer_free(last), TF_OK);
    assert_int_equal(tf_waker_drop(wm), TF_OK);
    assert_int_equal(tf_waker_drop(wl), TF_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(atomic_load(&c[i].refs), 0);
        cw_destroy(&c[i]);
    }
    free(c);
}

int main(void) {
    fake_clock_start();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_deadline_every_level),
        cmocka_unit_test(test_arm_one_before_wheel_time),
        cmocka_unit_test(test_poll_fires_itself_exactly),
        cmocka_unit_test(test_rearm_from_own_wake),
        cmocka_unit_test(test_free_from_own_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
