/* SPDX-License-Identifier: MIT */
/* The timing wheel as a data structure (private API, static build),
 * against a brute-force model: inserts, removals and advances interleaved
 * at random, with the wheel's time running through every level's slots
 * (the top level's too) so that every level fills and cascades natively.
 * Nothing fires early, nothing due is left behind, advancing to exactly
 * one before a deadline fires nothing there, equal deadlines come out in
 * arming order, and the reported next event is never late. */
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
    size_t armed;  /* arming order */
    int was_level; /* level it sat at when last looked at */
} model_timer;

/* What the runs reached, over all of them. */
/* The level a timer's slot is at: a timer filed as due sits at level 0;
 * a staged one counts at the level of the slot it was staged from until
 * it cascades further. */
static int level_of(const struct tf_timer *t) {
    if (t->level == TF_WHEEL_LEVEL_DUE) return 0;
    if (t->level >= TF_WHEEL_LEVEL_STAGED) return t->level - TF_WHEEL_LEVEL_STAGED + 1;
    return t->level;
}

typedef struct {
    long staged;          /* filed timers seen staged after an advance */
    unsigned inserted_at; /* bit L: an insert filed a timer at level L */
    unsigned cascaded;    /* bit L: a timer moved down from level L */
    unsigned top_slots;   /* top-level slot boundaries the time crossed */
    long exact_misses;    /* advances to deadline - 1 of a filed timer */
    long fired;
    long steps;
} model_stats;

typedef struct {
    tf_wheel *w;
    model_timer *m;
    size_t n, seq;
    uint64_t now;
    model_stats *st;
} model;

/* The batch advance returns is exactly the filed timers due by now; equal
 * deadlines come out in arming order; nothing due is left behind. */
static size_t model_advance(model *md, uint64_t to) {
    assert_true(to >= md->now);
    uint64_t before = md->now;
    struct tf_timer *list = tf__wheel_advance(md->w, to);
    md->now = to;
    if ((before >> 58) != (to >> 58)) md->st->top_slots++;
    size_t batch = 0;
    for (struct tf_timer *t = list; t; t = t->next) {
        model_timer *m = (model_timer *)(void *)t;
        assert_true(t->deadline <= to); /* never early */
        assert_true(m->in_wheel);       /* once, and only if filed */
        for (struct tf_timer *q = list; q != t; q = q->next)
            if (q->deadline == t->deadline)
                assert_true(((model_timer *)(void *)q)->armed < m->armed);
        if (m->was_level > 0) md->st->cascaded |= 1u << m->was_level;
        m->in_wheel = 0;
        batch++;
    }
    size_t filed = 0;
    for (size_t i = 0; i < md->n; i++) {
        model_timer *m = &md->m[i];
        if (!m->in_wheel) continue;
        filed++;
        assert_true(m->t.deadline > to); /* nothing due left behind */
        if (m->t.level >= TF_WHEEL_LEVEL_STAGED) md->st->staged++;
        if (level_of(&m->t) < m->was_level) md->st->cascaded |= 1u << m->was_level;
        m->was_level = level_of(&m->t);
    }
    assert_int_equal(md->w->count, filed);
    md->st->fired += (long)batch;
    return batch;
}

static uint64_t earliest(const model *md, model_timer **which) {
    uint64_t e = UINT64_MAX;
    for (size_t i = 0; i < md->n; i++)
        if (md->m[i].in_wheel && md->m[i].t.deadline < e) {
            e = md->m[i].t.deadline;
            if (which) *which = &md->m[i];
        }
    return e;
}

/* A random distance of 1 .. 2^bits, log-uniform in bits. */
static uint64_t distance(unsigned bits) {
    uint64_t mask = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    return 1 + (rnd() & mask);
}

/* Inserts, removals and advances interleaved at random, against the
 * brute-force model: deadlines at every distance (so at every level,
 * filed while the wheel's time is anywhere), clustered equal deadlines,
 * and advances by small and huge steps, straight to the next event, to
 * one before it, and to exactly one before a filed timer's deadline. The
 * wheel's time runs from start towards the top of the range, so every
 * level, the top one included, cascades in the course of it. */
static void run_model(uint64_t start, size_t n, long steps, model_stats *st) {
    model md = {malloc(sizeof(tf_wheel)), calloc(n, sizeof(model_timer)), n, 0,
                start, st};
    tf__wheel_init(md.w, start);
    /* Mostly slots of a few timers staged (the threshold the driver uses
     * would never be reached by 256 timers), now and then none. */
    if (rnd() % 4) md.w->stage_min = (size_t)(rnd() % 8);
    const uint64_t limit = UINT64_MAX - (UINT64_C(1) << 60);
    for (long step = 0; step < steps && md.now < limit; step++) {
        st->steps++;
        uint32_t op = (uint32_t)(rnd() % 100);
        model_timer *m = &md.m[rnd() % n];
        if (op < 40) { /* insert (re-arm) a timer that is not filed */
            if (m->in_wheel) continue;
            uint64_t room = UINT64_MAX - 1 - md.now, d;
            model_timer *other = &md.m[rnd() % n];
            if (op < 8 && other->in_wheel) {
                d = other->t.deadline; /* equal deadlines */
            } else {
                /* Mostly near, now and then as far as the top level. */
                unsigned bits = rnd() % 16 == 0 ? 40 + (unsigned)(rnd() % 23)
                                                : (unsigned)(rnd() % 40);
                uint64_t dist = distance(bits);
                d = md.now + (dist < room ? dist : room);
                if (op < 12) d = md.now; /* due already: refused */
            }
            m->t.deadline = d;
            int rc = tf__wheel_insert(md.w, &m->t);
            assert_int_equal(rc, d <= md.now);
            if (rc == 0) {
                m->in_wheel = 1;
                m->armed = md.seq++;
                m->was_level = level_of(&m->t);
                st->inserted_at |= 1u << m->t.level;
            }
        } else if (op < 50) { /* remove */
            if (!m->in_wheel) continue;
            tf__wheel_remove(md.w, &m->t);
            m->in_wheel = 0;
        } else {
            uint64_t next = tf__wheel_next(md.w);
            model_timer *first = NULL;
            uint64_t e = earliest(&md, &first);
            /* Never later than the earliest deadline. */
            assert_true(next <= e);
            uint64_t to;
            switch (op % 5) {
            case 0: /* exactly one before a filed timer's deadline */
                for (size_t k = 0; k < n && !m->in_wheel; k++)
                    m = &md.m[(size_t)(m - md.m + 1) % n];
                if (!m->in_wheel || m->t.deadline - 1 < md.now) continue;
                to = m->t.deadline - 1;
                model_advance(&md, to);
                assert_true(m->in_wheel);
                st->exact_misses++;
                if (rnd() % 2) { /* and then the deadline itself */
                    model_advance(&md, to + 1);
                    assert_false(m->in_wheel);
                }
                continue;
            case 1: /* straight to the next event */
                if (next == UINT64_MAX) continue;
                to = next;
                break;
            case 2: /* one before the next event: nothing is due yet */
                if (next == UINT64_MAX || next - 1 < md.now) continue;
                assert_int_equal(model_advance(&md, next - 1), 0);
                continue;
            case 3: /* a huge step, now and then */
                to = md.now + distance(rnd() % 64 == 0 ? 58 + (unsigned)(rnd() % 3)
                                                       : (unsigned)(rnd() % 50));
                break;
            default: /* a small one */
                to = md.now + distance((unsigned)(rnd() % 24));
            }
            if (to < md.now || to > UINT64_MAX - 1) to = UINT64_MAX - 1;
            size_t batch = model_advance(&md, to);
            if (e <= to) assert_true(batch > 0);
        }
    }
    /* Drain: event by event to the end, all checks still on. */
    while (md.w->count) {
        uint64_t next = tf__wheel_next(md.w);
        assert_true(next <= earliest(&md, NULL));
        if (next > md.now) model_advance(&md, next - 1);
        model_advance(&md, next > md.now ? next : md.now);
    }
    for (size_t i = 0; i < n; i++) assert_false(md.m[i].in_wheel);
    free(md.m);
    free(md.w);
}

static void check_reach(const model_stats *st) {
    print_message("wheel model: %ld steps, %ld fired, %ld advances to deadline - 1, "
                  "%u top-level slot crossings, levels filed 0x%x, "
                  "cascaded from 0x%x, %ld seen staged\n", st->steps, st->fired,
                  st->exact_misses, st->top_slots, st->inserted_at, st->cascaded, st->staged);
    unsigned all = (1u << TF_WHEEL_LEVELS) - 1;
    assert_int_equal(st->inserted_at, all);
    assert_int_equal(st->cascaded, all & ~1u); /* every level above 0 */
    assert_true(st->top_slots > 0);
    assert_true(st->exact_misses > 0);
    assert_true(st->staged > 0);
}

static void test_model_from_low_time(void **state) {
    (void)state;
    model_stats st = {0};
    /* A run ends where the time nears the top of the range: go again. */
    for (uint64_t round = 0; st.steps < 100000; round++)
        run_model(1000000000ull + round * 12345, 256, 20000, &st);
    check_reach(&st);
}

static void test_model_near_top_of_range(void **state) {
    (void)state;
    model_stats st = {0};
    for (uint64_t round = 0; st.steps < 50000; round++)
        run_model(UINT64_MAX - (UINT64_C(1) << 62) - round * 999, 256, 20000, &st);
    check_reach(&st);
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

/* Timers whose deadline the wheel's time has passed, filed to fire at the
 * next advance (the driver's inbox can hold such timers): their deadline
 * kept, reported as the next event, removable, and fired by the first
 * advance, with the slot's own timers that are due, before any later
 * slot, whatever the wheel's time was within its level-0 slot. */
static void test_due_insert_fires_at_next_advance(void **state) {
    (void)state;
    const uint64_t width = UINT64_C(1) << TF_WHEEL_BASE_SHIFT;
    const uint64_t starts[] = {UINT64_C(5) << 40, (UINT64_C(5) << 40) + width - 1,
                               (UINT64_C(5) << 40) + 3 * width / 2};
    for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
        tf_wheel *w = malloc(sizeof(*w));
        uint64_t now = starts[k];
        tf__wheel_init(w, now);
        struct tf_timer later = {0}, past = {0}, gone = {0}, far = {0};
        later.deadline = now + 1;            /* this slot or the next one */
        far.deadline = now + 64 * width;     /* a higher level */
        assert_int_equal(tf__wheel_insert(w, &later), 0);
        assert_int_equal(tf__wheel_insert(w, &far), 0);
        past.deadline = now - 3 * width;     /* slots behind the wheel's time */
        gone.deadline = now;
        assert_int_equal(tf__wheel_insert(w, &past), 1);
        tf__wheel_insert_due(w, &past);
        tf__wheel_insert_due(w, &gone);
        assert_int_equal(w->count, 4);
        assert_int_equal(past.deadline, now - 3 * width);
        assert_true(tf__wheel_next(w) <= now);
        tf__wheel_remove(w, &gone);
        assert_int_equal(w->count, 3);
        /* Advancing to the wheel's own time fires the due one alone. */
        assert_ptr_equal(tf__wheel_advance(w, now), &past);
        assert_null(past.next);
        assert_int_equal(w->count, 2);
        assert_int_equal(tf__wheel_next(w), now + 1);
        assert_ptr_equal(tf__wheel_advance(w, now + 1), &later);
        tf__wheel_remove(w, &far);
        assert_int_equal(w->count, 0);
        assert_int_equal(tf__wheel_next(w), UINT64_MAX);
        free(w);
    }
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

/* One level-0 slot fired a little at a time, the way the driver does when
 * it keeps up: asked for its earliest deadline (which sorts the slot),
 * inserted into and removed from while sorted, and advanced to each next
 * deadline in turn. Every batch is exactly what is due, equal deadlines
 * in arming order, and the reported next event is the exact earliest. */
static void test_level0_slot_fired_piecemeal(void **state) {
    (void)state;
    enum { N = 300 };
    tf_wheel *w = malloc(sizeof(*w));
    uint64_t start = UINT64_C(1) << 40; /* at the start of a level-0 slot */
    tf__wheel_init(w, start);
    model_timer *m = calloc(N, sizeof(*m));
    const uint64_t width = UINT64_C(1) << TF_WHEEL_BASE_SHIFT;
    size_t seq = 0;
    for (size_t i = 0; i < N; i++) {
        /* The first half before the slot is sorted, the rest after; one
         * in four shares its deadline with an earlier timer. */
        if (i == N / 2) assert_true(tf__wheel_next(w) >= start);
        m[i].t.deadline = i > 0 && rnd() % 4 == 0 ? m[rnd() % i].t.deadline
                                                  : start + 1 + rnd() % (width - 1);
        assert_int_equal(tf__wheel_insert(w, &m[i].t), 0);
        assert_int_equal(m[i].t.level, 0);
        m[i].in_wheel = 1;
        m[i].armed = seq++;
    }
    for (size_t i = 0; i < N; i += 7) { /* removals from the sorted slot */
        tf__wheel_remove(w, &m[i].t);
        m[i].in_wheel = 0;
    }
    size_t fired = 0, batches = 0;
    while (w->count) {
        uint64_t next = tf__wheel_next(w), e = UINT64_MAX;
        for (size_t i = 0; i < N; i++)
            if (m[i].in_wheel && m[i].t.deadline < e) e = m[i].t.deadline;
        assert_int_equal(next, e); /* exact, inside level 0 */
        assert_null(tf__wheel_advance(w, next - 1));
        uint64_t now = next;
        struct tf_timer *list = tf__wheel_advance(w, now);
        assert_non_null(list);
        const model_timer *prev = NULL;
        for (struct tf_timer *t = list; t; t = t->next) {
            model_timer *mt = (model_timer *)(void *)t;
            assert_int_equal(t->deadline, now);
            assert_true(mt->in_wheel);
            if (prev) assert_true(prev->armed < mt->armed);
            mt->in_wheel = 0;
            prev = mt;
            fired++;
        }
        batches++;
    }
    for (size_t i = 0; i < N; i++) assert_false(m[i].in_wheel);
    assert_int_equal(fired, N - (N + 6) / 7);
    assert_true(batches < fired); /* equal deadlines came together */
    assert_int_equal(tf__wheel_next(w), UINT64_MAX);
    free(m);
    free(w);
}

/* A level-2 slot of many timers (a million spread over a second fills
 * such slots with a quarter of a million each) is cascaded ahead of its
 * start, a paced share per advance, so that its start moves only what
 * came since; timers removed while staged and after, and timers filed
 * into the slot meanwhile, with deadlines equal to staged ones. Nothing
 * fires early or twice, equal deadlines fire in arming order, and the
 * wheel asks for the advances the staging needs. */
static void test_large_slot_is_staged_ahead(void **state) {
    (void)state;
    enum { N = 3 * TF_WHEEL_STAGE_MIN, LATE = 100 };
    const unsigned shift2 = TF_WHEEL_BASE_SHIFT + 2 * TF_WHEEL_LEVEL_BITS;
    const uint64_t width2 = UINT64_C(1) << shift2, lead = width2 / 4;
    const uint64_t width1 = width2 >> TF_WHEEL_LEVEL_BITS;
    tf_wheel *w = malloc(sizeof(*w));
    uint64_t now = UINT64_C(1) << 40; /* the start of a level-3 slot */
    tf__wheel_init(w, now);
    const uint64_t s = now + 2 * width2; /* the level-2 slot's start */
    model_timer *m = calloc(N + LATE, sizeof(*m));
    size_t seq = 0;
    for (size_t i = 0; i < N; i++) {
        /* One in eight in the first level-1 slot (cascaded lower at the
         * start), one in four sharing a deadline, one at the start itself. */
        uint64_t d = i == 0 ? s : rnd() % 8 == 0 ? s + rnd() % width1 : s + rnd() % width2;
        if (i > 1 && rnd() % 4 == 0) d = m[rnd() % i].t.deadline;
        m[i].t.deadline = d;
        assert_int_equal(tf__wheel_insert(w, &m[i].t), 0);
        assert_int_equal(m[i].t.level, 2);
        m[i].in_wheel = 1;
        m[i].armed = seq++;
    }
    /* The staging's first step is asked for at the lead's beginning. */
    assert_int_equal(tf__wheel_next(w), s - lead);
    assert_null(tf__wheel_advance(w, s - lead - 1));
    assert_int_equal(w->stage.level, 0);
    size_t steps = 0, late = 0, removed = 0;
    for (;;) {
        uint64_t next = tf__wheel_next(w);
        if (next >= s) break;
        assert_true(next > now || steps == 0);
        now = next;
        assert_null(tf__wheel_advance(w, now)); /* staging fires nothing */
        steps++;
        assert_int_equal(w->stage.level, 2);
        if (steps % 4 == 0 && late < LATE) { /* filed into the slot meanwhile */
            model_timer *x = &m[N + late++];
            x->t.deadline = m[rnd() % N].t.deadline;
            assert_int_equal(tf__wheel_insert(w, &x->t), 0);
            x->in_wheel = 1;
            x->armed = seq++;
        }
        /* From the stage: now and then the head or the tail of a
         * sub-list, else anywhere in one. */
        model_timer *r = &m[rnd() % N];
        if (steps % 3 == 0 && w->stage.occupied) {
            tf_wheel_slot *sub = &w->stage.sub[__builtin_ctzll(w->stage.occupied)];
            if (steps % 9 == 0) r = (model_timer *)(void *)sub->head;
            if (steps % 9 == 3) r = (model_timer *)(void *)sub->tail;
        }
        if (steps % 3 == 0 && r->in_wheel && r->t.level >= TF_WHEEL_LEVEL_STAGED) {
            size_t before = w->stage.count;
            tf__wheel_remove(w, &r->t);
            assert_int_equal(w->stage.count, before - 1);
            r->in_wheel = 0;
            removed++;
        }
    }
    /* Paced: about one step per TF_WHEEL_STAGE_STEP timers, and before the
     * start only the last step's worth is left for it. */
    assert_true(steps >= N / TF_WHEEL_STAGE_STEP);
    assert_true(steps <= 4 * (N + LATE) / TF_WHEEL_STAGE_STEP + 4);
    assert_true(removed > 0);
    assert_true(w->stage.count + TF_WHEEL_STAGE_STEP >= N + late - removed);
    assert_true(w->stage.count <= N + late - removed);
    assert_int_equal(w->count, N + late - removed);
    /* Drain event by event from one before the start. */
    assert_null(tf__wheel_advance(w, s - 1));
    /* Filed last, after the staging's last step: its deadline is that of a
     * staged timer due in the first level-1 slot, which goes lower at the
     * start; arming order says the staged one fires first. */
    const size_t filed_late = late;
    for (size_t i = 0; i < N && late < LATE; i++) {
        if (!m[i].in_wheel || m[i].t.level < TF_WHEEL_LEVEL_STAGED || m[i].t.deadline - s >= width1)
            continue;
        model_timer *x = &m[N + late++];
        x->t.deadline = m[i].t.deadline;
        assert_int_equal(tf__wheel_insert(w, &x->t), 0);
        assert_int_equal(x->t.level, 2);
        x->in_wheel = 1;
        x->armed = seq; /* the last armed */
        break;
    }
    assert_int_equal(late, filed_late + 1);
    assert_int_equal(w->count, N + late - removed);
    size_t fired = 0;
    while (w->count) {
        uint64_t next = tf__wheel_next(w), e = UINT64_MAX;
        for (size_t i = 0; i < N + late; i++)
            if (m[i].in_wheel && m[i].t.deadline < e) e = m[i].t.deadline;
        assert_true(next <= e);
        if (next > now) assert_null(tf__wheel_advance(w, next - 1));
        now = next > now ? next : now;
        const model_timer *prev = NULL;
        for (struct tf_timer *t = tf__wheel_advance(w, now); t; t = t->next) {
            model_timer *mt = (model_timer *)(void *)t;
            assert_true(t->deadline <= now);
            assert_true(mt->in_wheel);
            if (prev && prev->t.deadline == t->deadline) assert_true(prev->armed < mt->armed);
            mt->in_wheel = 0;
            prev = mt;
            fired++;
        }
        assert_int_equal(w->stage.level, 0);
        /* Now and then one leaves a slot the staging spliced whole. */
        model_timer *r = &m[rnd() % N];
        if (rnd() % 8 == 0 && r->in_wheel && r->t.level >= TF_WHEEL_LEVEL_STAGED) {
            tf__wheel_remove(w, &r->t);
            r->in_wheel = 0;
            removed++;
        }
    }
    assert_int_equal(fired + removed, N + late);
    for (size_t i = 0; i < N + late; i++) assert_false(m[i].in_wheel);
    assert_int_equal(tf__wheel_next(w), UINT64_MAX);
    free(m);
    free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_from_low_time),
        cmocka_unit_test(test_model_near_top_of_range),
        cmocka_unit_test(test_expired_insert_is_refused),
        cmocka_unit_test(test_due_insert_fires_at_next_advance),
        cmocka_unit_test(test_far_deadline_cascades_exactly),
        cmocka_unit_test(test_level0_slot_fired_piecemeal),
        cmocka_unit_test(test_large_slot_is_staged_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
