/* The timing wheel as a data structure (private API, static build):
 * against a brute-force model, nothing fires early, nothing due is left
 * behind, batches come out in (deadline, arming) order, and the reported
 * next event is exact for level 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "timer_internal.h"
#include "timer_wheel.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

typedef struct {
    struct tf_timer t;
    int in_wheel;
    int fired;
    size_t armed; /* arming order */
} model_timer;

static void check_batch(struct tf_timer *list, uint64_t now, size_t *count) {
    for (struct tf_timer *t = list; t; t = t->next) {
        model_timer *m = (model_timer *)t;
        assert_true(t->deadline <= now); /* never early */
        assert_true(m->in_wheel);
        m->in_wheel = 0;
        m->fired = 1;
        /* Equal deadlines come out in arming order. */
        for (struct tf_timer *q = list; q != t; q = q->next)
            if (q->deadline == t->deadline)
                assert_true(((model_timer *)q)->armed < m->armed);
        (*count)++;
    }
}

static void run_model(uint64_t start, uint64_t span, size_t n, uint64_t step_max) {
    tf_wheel *w = malloc(sizeof(*w));
    tf__wheel_init(w, start);
    model_timer *m = calloc(n, sizeof(*m));
    size_t seq = 0;
    size_t filed = 0, fired = 0, expected = 0;
    for (size_t i = 0; i < n; i++) {
        /* Clustered deadlines too, so equal deadlines are common. */
        uint64_t d = start + 1 + (rnd() % 4 == 0 ? (rnd() % 16) * 1000 : rnd() % span);
        m[i].t.deadline = d;
        m[i].armed = seq++;
        if (tf__wheel_insert(w, &m[i].t) == 0) {
            m[i].in_wheel = 1;
            filed++;
        }
    }
    assert_int_equal(w->count, filed);
    /* Remove a tenth at random. */
    for (size_t i = 0; i < n; i += 10) {
        if (m[i].in_wheel) {
            tf__wheel_remove(w, &m[i].t);
            m[i].in_wheel = 0;
            filed--;
        }
    }
    assert_int_equal(w->count, filed);
    expected = filed;
    uint64_t now = start;
    while (w->count) {
        uint64_t next = tf__wheel_next(w);
        /* The next event is never later than the earliest pending deadline,
         * and exact when that deadline sits in level 0. */
        uint64_t earliest = UINT64_MAX;
        for (size_t i = 0; i < n; i++)
            if (m[i].in_wheel && m[i].t.deadline < earliest) earliest = m[i].t.deadline;
        assert_true(next <= earliest);
        if (rnd() % 2) {
            now = next > now ? next : now; /* jump straight to it */
        } else {
            now += 1 + rnd() % step_max;
        }
        size_t batch = 0;
        check_batch(tf__wheel_advance(w, now), now, &batch);
        fired += batch;
        for (size_t i = 0; i < n; i++) /* nothing due is left behind */
            if (m[i].in_wheel) assert_true(m[i].t.deadline > now);
        if (next == earliest && now >= next) assert_true(batch > 0);
    }
    assert_int_equal(fired, expected);
    for (size_t i = 0; i < n; i++) assert_true(m[i].fired || i % 10 == 0);
    free(m);
    free(w);
}

static void test_model_small_span(void **state) {
    (void)state;
    run_model(1000000000ull, 5000000ull, 2000, 100000);
}

static void test_model_wide_span(void **state) {
    (void)state;
    run_model(123456789ull, 1ull << 40, 2000, 1ull << 36);
}

static void test_model_near_top_of_range(void **state) {
    (void)state;
    run_model(UINT64_MAX - (1ull << 41), 1ull << 40, 1000, 1ull << 36);
}

static void test_expired_insert_is_refused(void **state) {
    (void)state;
    tf_wheel *w = malloc(sizeof(*w));
    tf__wheel_init(w, 5000);
    struct tf_timer t = {0};
    t.deadline = 5000;
    assert_int_equal(tf__wheel_insert(w, &t), 1);
    t.deadline = 10;
    assert_int_equal(tf__wheel_insert(w, &t), 1);
    t.deadline = 5001;
    assert_int_equal(tf__wheel_insert(w, &t), 0);
    assert_int_equal(tf__wheel_next(w), 5001);
    assert_null(tf__wheel_advance(w, 5000));
    assert_ptr_equal(tf__wheel_advance(w, 5001), &t);
    assert_int_equal(w->count, 0);
    assert_int_equal(tf__wheel_next(w), UINT64_MAX);
    free(w);
}

static void test_far_deadline_cascades_exactly(void **state) {
    (void)state;
    tf_wheel *w = malloc(sizeof(*w));
    uint64_t start = 1ull << 30;
    tf__wheel_init(w, start);
    struct tf_timer t = {0};
    t.deadline = start + 3ull * 86400 * 1000000000ull + 17; /* three days */
    assert_int_equal(tf__wheel_insert(w, &t), 0);
    assert_true(t.level >= 4);
    uint64_t now, steps = 0;
    for (;;) {
        uint64_t next = tf__wheel_next(w);
        assert_true(next <= t.deadline);
        now = next;
        struct tf_timer *f = tf__wheel_advance(w, now);
        steps++;
        if (f) {
            assert_ptr_equal(f, &t);
            break;
        }
    }
    assert_int_equal(now, t.deadline); /* fired exactly at its deadline */
    assert_true(steps <= UINT64_C(2) * TF_WHEEL_LEVELS);
    free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_small_span),
        cmocka_unit_test(test_model_wide_span),
        cmocka_unit_test(test_model_near_top_of_range),
        cmocka_unit_test(test_expired_insert_is_refused),
        cmocka_unit_test(test_far_deadline_cascades_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
