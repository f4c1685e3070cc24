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
}

static inline uint64_t bit(unsigned s) { return UINT64_C(1) << s; }

static inline int l0_is_sorted(const tf_wheel *w, unsigned s) {
    return (int)(w->l0_sorted >> s) & 1;
}

/* A slot has just become empty. An empty slot is not "sorted": the next
 * timers to arrive (a cascade, typically) are appended without a search. */
static inline void slot_emptied(tf_wheel *w, unsigned level, unsigned s) {
    w->occupied[level] &= ~bit(s);
    if (level == 0) w->l0_sorted &= ~bit(s);
}

/* Appends t, or in a sorted level-0 slot inserts it after every timer due
 * no later (equal deadlines stay in arming order). The search starts at
 * the tail: timers armed later tend to be due later. */
static void slot_append(tf_wheel *w, unsigned level, unsigned s,
                        struct tf_timer *t) {
    tf_wheel_slot *sl = &w->slots[level][s];
    struct tf_timer *after = sl->tail;
    if (level == 0 && l0_is_sorted(w, s))
        while (after && after->deadline > t->deadline) after = after->prev;
    t->prev = after;
    if (after) {
        t->next = after->next;
        after->next = t;
    } else {
        t->next = sl->head;
        sl->head = t;
    }
    if (t->next)
        t->next->prev = t;
    else
        sl->tail = t;
    sl->count++;
    w->occupied[level] |= bit(s);
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

/* t->level of a timer filed by tf__wheel_insert_due: level 0, in the slot
 * of the wheel's time rather than of its deadline. */
#define LEVEL_DUE TF_WHEEL_LEVELS

void tf__wheel_insert_due(tf_wheel *w, struct tf_timer *t) {
    t->level = LEVEL_DUE;
    slot_append(w, 0, slot_of(w->elapsed, 0), t);
    w->count++;
}

/* Unlinking keeps a sorted slot sorted: no cache to invalidate. */
void tf__wheel_remove(tf_wheel *w, struct tf_timer *t) {
    unsigned level = t->level, s;
    if (level == LEVEL_DUE) {
        /* Still in the slot of the wheel's time: it fires in that slot. */
        level = 0;
        s = slot_of(w->elapsed, 0);
    } else {
        s = slot_of(t->deadline, level);
    }
    tf_wheel_slot *sl = &w->slots[level][s];
    if (t->prev)
        t->prev->next = t->next;
    else
        sl->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        sl->tail = t->prev;
    sl->count--;
    if (!sl->head) slot_emptied(w, level, s);
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

/* Stable merge of two lists sorted by deadline; a's timers were armed
 * before b's, so a wins ties. */
static struct tf_timer *merge(struct tf_timer *a, struct tf_timer *b) {
    struct tf_timer *head = NULL, **tail = &head;
    while (a && b) {
        if (b->deadline < a->deadline) {
            *tail = b;
            tail = &b->next;
            b = b->next;
        } else {
            *tail = a;
            tail = &a->next;
            a = a->next;
        }
    }
    *tail = a ? a : b;
    return head;
}

/* Sorts a level-0 slot by deadline, stably, so that equal deadlines keep
 * arming order: a bottom-up merge sort (run i holds 2^i timers, all armed
 * before those of the runs below it), O(n log n) with no allocation; a
 * slot is small enough to stay in cache after the first pass. */
static void sort_slot(tf_wheel *w, unsigned s) {
    tf_wheel_slot *sl = &w->slots[0][s];
    struct tf_timer *runs[64] = {NULL};
    struct tf_timer *list = sl->head;
    unsigned top = 0;
    while (list) {
        struct tf_timer *t = list;
        list = list->next;
        t->next = NULL;
        unsigned i = 0;
        for (; runs[i]; i++) {
            t = merge(runs[i], t);
            runs[i] = NULL;
        }
        runs[i] = t;
        if (i > top) top = i;
    }
    struct tf_timer *sorted = NULL;
    for (unsigned i = 0; i <= top; i++)
        if (runs[i]) sorted = sorted ? merge(runs[i], sorted) : runs[i];
    struct tf_timer *prev = NULL;
    for (struct tf_timer *t = sorted; t; t = t->next) {
        t->prev = prev;
        prev = t;
    }
    sl->head = sorted;
    sl->tail = prev;
    w->l0_sorted |= bit(s);
}

/* The next event: level and slot, and its time. Higher levels win ties so
 * that cascading comes before firing the level-0 slot it may feed. For a
 * level-0 slot the time is its exact earliest deadline when exact is set
 * or the slot is sorted already, else the slot's start (no later than any
 * of its deadlines): advancing needs no more, and a slot due as a whole
 * is then never sorted. */
static uint64_t next_event(tf_wheel *w, unsigned *level_out,
                           unsigned *slot_out, int exact) {
    uint64_t best = UINT64_MAX;
    for (int level = TF_WHEEL_LEVELS - 1; level >= 0; level--) {
        int s = first_slot(w, (unsigned)level);
        if (s < 0) continue;
        uint64_t when;
        if (level > 0) {
            when = slot_start(w->elapsed, (unsigned)level, (unsigned)s);
        } else if (l0_is_sorted(w, (unsigned)s)) {
            when = w->slots[0][s].head->deadline;
        } else if (exact) {
            sort_slot(w, (unsigned)s);
            when = w->slots[0][s].head->deadline;
        } else {
            when = slot_start(w->elapsed, 0, (unsigned)s);
        }
        if (when < best) {
            best = when;
            *level_out = (unsigned)level;
            *slot_out = (unsigned)s;
        }
    }
    return best;
}

uint64_t tf__wheel_next(tf_wheel *w) {
    unsigned l = 0, s = 0;
    return next_event(w, &l, &s, 1);
}

/* Takes what is due by now out of level-0 slot s and appends it at
 * *fired_tail; returns the new tail. A slot due as a whole moves in O(1);
 * otherwise the slot is sorted and its due prefix is cut off, touching
 * only the timers that fire. */
static struct tf_timer **fire_slot(tf_wheel *w, unsigned s, uint64_t now,
                                   struct tf_timer **fired_tail) {
    tf_wheel_slot *sl = &w->slots[0][s];
    uint64_t end = slot_start(w->elapsed, 0, s) +
                   ((UINT64_C(1) << TF_WHEEL_BASE_SHIFT) - 1);
    int sorted = l0_is_sorted(w, s);
    if (end <= now || (sorted && sl->tail->deadline <= now)) {
        *fired_tail = sl->head;
        fired_tail = &sl->tail->next;
        w->count -= sl->count;
        sl->head = sl->tail = NULL;
        sl->count = 0;
        slot_emptied(w, 0, s);
        return fired_tail;
    }
    if (!sorted) sort_slot(w, s);
    struct tf_timer *head = sl->head, *last = NULL, *t = head;
    size_t n = 0;
    while (t && t->deadline <= now) {
        last = t;
        t = t->next;
        n++;
    }
    if (!last) return fired_tail; /* the earliest is not due yet */
    *fired_tail = head;
    fired_tail = &last->next;
    sl->head = t;
    if (t)
        t->prev = NULL;
    else
        sl->tail = NULL;
    sl->count -= n;
    w->count -= n;
    if (!t) slot_emptied(w, 0, s);
    return fired_tail;
}

/* Arming order among equal deadlines needs no sort key: a slot receives
 * direct inserts only once the wheel's time has entered its window, which
 * is exactly when the higher levels cascade into it (highest first on
 * ties), so appending keeps every slot in arming order for equal
 * deadlines; sorting a slot is stable, inserting into a sorted one goes
 * after equal deadlines, and firing keeps the slot's order. */
struct tf_timer *tf__wheel_advance(tf_wheel *w, uint64_t now) {
    struct tf_timer *fired = NULL, **fired_tail = &fired;
    unsigned level = 0, s = 0; /* set by next_event whenever it returns a time */
    while (next_event(w, &level, &s, 0) <= now) {
        uint64_t start = slot_start(w->elapsed, level, s);
        if (start > w->elapsed) __atomic_store_n(&w->elapsed, start, __ATOMIC_RELAXED);
        if (level == 0) {
            fired_tail = fire_slot(w, s, now, fired_tail);
            continue;
        }
        /* Cascade towards level 0; only what is due at the slot's start
         * expires here. */
        tf_wheel_slot *sl = &w->slots[level][s];
        struct tf_timer *t = sl->head;
        sl->head = sl->tail = NULL;
        sl->count = 0;
        slot_emptied(w, level, s);
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
    if (now > w->elapsed) __atomic_store_n(&w->elapsed, now, __ATOMIC_RELAXED);
    return fired;
}
