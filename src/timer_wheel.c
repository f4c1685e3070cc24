/* SPDX-License-Identifier: MIT */
/* The hierarchical timing wheel; see timer_wheel.h. */
#include <string.h>

#include "timer_internal.h"
#include "timer_wheel.h"

static inline unsigned level_shift(unsigned level) {
    return TF_WHEEL_BASE_SHIFT + TF_WHEEL_LEVEL_BITS * level;
}

static inline unsigned slot_of(uint64_t t, unsigned level) {
    return (unsigned)(t >> level_shift(level)) & (TF_WHEEL_SLOTS - 1);
}

/* Start time of slot s at level, in the level's window around elapsed. */
static inline uint64_t slot_start(uint64_t elapsed, unsigned level, unsigned s) {
    unsigned shift = level_shift(level);
    unsigned win = shift + TF_WHEEL_LEVEL_BITS;
    uint64_t base = win >= 64 ? 0 : elapsed & ~((UINT64_C(1) << win) - 1);
    return base | ((uint64_t)s << shift);
}

void tf__wheel_init(tf_wheel *w, uint64_t now) {
    memset(w, 0, sizeof(*w));
    w->elapsed = now;
    w->l0_min_slot = -1;
}

static void slot_append(tf_wheel *w, unsigned level, unsigned s,
                        struct tf_timer *t) {
    tf_wheel_slot *sl = &w->slots[level][s];
    if (level == 0 && w->l0_min_slot == (int)s && t->deadline < w->l0_min)
        w->l0_min = t->deadline;
    t->next = NULL;
    t->prev = sl->tail;
    if (sl->tail)
        sl->tail->next = t;
    else
        sl->head = t;
    sl->tail = t;
    w->occupied[level] |= UINT64_C(1) << s;
}

/* The level is where the deadline first differs from now, at slot
 * granularity: the slot is then ahead of the level's current slot. */
static unsigned level_for(const tf_wheel *w, uint64_t deadline) {
    uint64_t diff = (w->elapsed ^ deadline) >> TF_WHEEL_BASE_SHIFT;
    return diff ? (unsigned)(63 - __builtin_clzll(diff)) / TF_WHEEL_LEVEL_BITS : 0;
}

int tf__wheel_insert(tf_wheel *w, struct tf_timer *t) {
    if (t->deadline <= w->elapsed) return 1;
    unsigned level = level_for(w, t->deadline);
    t->level = (uint8_t)level;
    slot_append(w, level, slot_of(t->deadline, level), t);
    w->count++;
    return 0;
}

void tf__wheel_remove(tf_wheel *w, struct tf_timer *t) {
    unsigned level = t->level, s = slot_of(t->deadline, level);
    if (level == 0 && w->l0_min_slot == (int)s) w->l0_min_slot = -1;
    tf_wheel_slot *sl = &w->slots[level][s];
    if (t->prev)
        t->prev->next = t->next;
    else
        sl->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        sl->tail = t->prev;
    if (!sl->head) w->occupied[level] &= ~(UINT64_C(1) << s);
    t->next = t->prev = NULL;
    w->count--;
}

/* First occupied slot at or after the level's current slot. */
static int first_slot(const tf_wheel *w, unsigned level) {
    uint64_t occ = w->occupied[level];
    if (!occ) return -1;
    unsigned cur = slot_of(w->elapsed, level);
    uint64_t ahead = occ & (~UINT64_C(0) << cur);
    return __builtin_ctzll(ahead ? ahead : occ);
}

static uint64_t slot_min_deadline(tf_wheel *w, unsigned s) {
    if (w->l0_min_slot == (int)s) return w->l0_min;
    uint64_t m = UINT64_MAX;
    for (const struct tf_timer *t = w->slots[0][s].head; t; t = t->next)
        if (t->deadline < m) m = t->deadline;
    w->l0_min_slot = (int)s;
    w->l0_min = m;
    return m;
}

/* The next event: level and slot, and its time. Higher levels win ties so
 * that cascading comes before firing the level-0 slot it may feed. */
static uint64_t next_event(tf_wheel *w, unsigned *level_out,
                           unsigned *slot_out) {
    uint64_t best = UINT64_MAX;
    for (int level = TF_WHEEL_LEVELS - 1; level >= 0; level--) {
        int s = first_slot(w, (unsigned)level);
        if (s < 0) continue;
        uint64_t when = level == 0
                            ? slot_min_deadline(w, (unsigned)s)
                            : slot_start(w->elapsed, (unsigned)level, (unsigned)s);
        if (when < best) {
            best = when;
            *level_out = (unsigned)level;
            *slot_out = (unsigned)s;
        }
    }
    return best;
}

uint64_t tf__wheel_next(tf_wheel *w) {
    unsigned l, s;
    return next_event(w, &l, &s);
}

/* Arming order among equal deadlines needs no sort: a slot receives
 * direct inserts only once the wheel's time has entered its window, which
 * is exactly when the higher levels cascade into it (highest first on
 * ties), so appending keeps every slot in arming order for equal
 * deadlines, and the walk below keeps that order. */
struct tf_timer *tf__wheel_advance(tf_wheel *w, uint64_t now) {
    struct tf_timer *fired = NULL, **fired_tail = &fired;
    unsigned level, s;
    while (next_event(w, &level, &s) <= now) {
        uint64_t start = slot_start(w->elapsed, level, s);
        if (start > w->elapsed) w->elapsed = start;
        tf_wheel_slot *sl = &w->slots[level][s];
        if (level == 0) {
            /* Unlink what is due by now, in place; note the earliest of
             * the rest so the next look at this slot needs no scan. */
            uint64_t min = UINT64_MAX;
            struct tf_timer *t = sl->head;
            while (t) {
                struct tf_timer *next = t->next;
                if (t->deadline <= now) {
                    if (t->prev) t->prev->next = next; else sl->head = next;
                    if (next) next->prev = t->prev; else sl->tail = t->prev;
                    w->count--;
                    *fired_tail = t;
                    fired_tail = &t->next;
                } else if (t->deadline < min) {
                    min = t->deadline;
                }
                t = next;
            }
            if (!sl->head) w->occupied[0] &= ~(UINT64_C(1) << s);
            w->l0_min_slot = (int)s;
            w->l0_min = min;
            continue;
        }
        /* Cascade towards level 0; only what is due at the slot's start
         * expires here. */
        struct tf_timer *t = sl->head;
        sl->head = sl->tail = NULL;
        w->occupied[level] &= ~(UINT64_C(1) << s);
        while (t) {
            struct tf_timer *next = t->next;
            if (t->deadline <= w->elapsed) {
                w->count--;
                *fired_tail = t;
                fired_tail = &t->next;
            } else {
                unsigned l = level_for(w, t->deadline);
                t->level = (uint8_t)l;
                slot_append(w, l, slot_of(t->deadline, l), t);
            }
            t = next;
        }
    }
    *fired_tail = NULL;
    if (now > w->elapsed) w->elapsed = now;
    return fired;
}
