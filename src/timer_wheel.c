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

/* Width of a slot at level (every level's fits in 64 bits). */
static inline uint64_t slot_width(unsigned level) {
    return UINT64_C(1) << level_shift(level);
}

void tf__wheel_init(tf_wheel *w, uint64_t now) {
    memset(w, 0, sizeof(*w));
    w->elapsed = now;
    w->stage_min = TF_WHEEL_STAGE_MIN;
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

/* Unlinks t from the list sl; the caller updates counts and bits. */
static void list_unlink(tf_wheel_slot *sl, struct tf_timer *t) {
    if (t->prev)
        t->prev->next = t->next;
    else
        sl->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        sl->tail = t->prev;
    sl->count--;
    t->next = t->prev = NULL;
}

/* Appends t to the list sl. */
static void list_append(tf_wheel_slot *sl, struct tf_timer *t) {
    t->next = NULL;
    t->prev = sl->tail;
    if (sl->tail)
        sl->tail->next = t;
    else
        sl->head = t;
    sl->tail = t;
    sl->count++;
}

/* Empties the list sl; returns its timers, still linked through next. */
static struct tf_timer *list_take(tf_wheel_slot *sl) {
    struct tf_timer *t = sl->head;
    sl->head = sl->tail = NULL;
    sl->count = 0;
    return t;
}

/* Appends the whole list src to dst and empties src. */
static void list_splice(tf_wheel_slot *dst, tf_wheel_slot *src) {
    if (!src->head) return;
    src->head->prev = dst->tail;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->count += src->count;
    src->head = src->tail = NULL;
    src->count = 0;
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
#define LEVEL_DUE TF_WHEEL_LEVEL_DUE
#define LEVEL_STAGED TF_WHEEL_LEVEL_STAGED

void tf__wheel_insert_due(tf_wheel *w, struct tf_timer *t) {
    t->level = LEVEL_DUE;
    slot_append(w, 0, slot_of(w->elapsed, 0), t);
    w->count++;
}

/* 1 if t, marked staged, waits in the current staging's sub-lists rather
 * than in the slot a finished staging spliced it into: the staged slot's
 * range holds its deadline (earlier stagings covered earlier slots). */
static int in_stage(const tf_wheel *w, const struct tf_timer *t) {
    const tf_wheel_stage *st = &w->stage;
    return st->level && t->level == LEVEL_STAGED + st->level - 1 &&
           t->deadline >= st->start && t->deadline - st->start < slot_width(st->level);
}

/* Unlinking keeps a sorted slot sorted: no cache to invalidate. */
void tf__wheel_remove(tf_wheel *w, struct tf_timer *t) {
    unsigned level = t->level, s;
    if (level == LEVEL_DUE) {
        /* Still in the slot of the wheel's time: it fires in that slot. */
        level = 0;
        s = slot_of(w->elapsed, 0);
    } else if (level >= LEVEL_STAGED) {
        level -= LEVEL_STAGED;
        s = slot_of(t->deadline, level);
        if (in_stage(w, t)) {
            tf_wheel_stage *st = &w->stage;
            list_unlink(&st->sub[s], t);
            if (!st->sub[s].head) st->occupied &= ~bit(s);
            st->count--;
            w->count--;
            return;
        }
        /* Spliced whole into the slot of the level it was staged for. */
    } else {
        s = slot_of(t->deadline, level);
    }
    tf_wheel_slot *sl = &w->slots[level][s];
    list_unlink(sl, t);
    if (!sl->head) slot_emptied(w, level, s);
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
    /* A staged slot cascades at its start even when all its timers have
     * moved to the stage (its list, and bit, are then empty). */
    const tf_wheel_stage *st = &w->stage;
    if (st->level && (st->start < best || (st->start == best && st->level >= *level_out))) {
        best = st->start;
        *level_out = st->level;
        *slot_out = st->slot;
    }
    return best;
}

/* The slot above level 1 that cascades first (higher levels win ties, as
 * in next_event), if it holds more than stage_min timers; 0 if not. */
static int stage_candidate(const tf_wheel *w, unsigned *level, unsigned *slot,
                           uint64_t *start) {
    int found = 0;
    for (unsigned l = TF_WHEEL_LEVELS - 1; l >= 2; l--) {
        int s = first_slot(w, l);
        if (s < 0) continue;
        uint64_t when = slot_start(w->elapsed, l, (unsigned)s);
        if (!found || when < *start) {
            found = 1;
            *level = l;
            *slot = (unsigned)s;
            *start = when;
        }
    }
    return found && w->slots[*level][*slot].count > w->stage_min;
}

/* How far ahead of its start a slot at level is staged. */
static uint64_t stage_lead(unsigned level) { return slot_width(level) / 4; }

/* When the staging must take its next step (or begin): a large slot
 * would otherwise wait for an advance that may not come before its
 * start. UINT64_MAX: nothing to stage. */
static uint64_t stage_next(const tf_wheel *w) {
    const tf_wheel_stage *st = &w->stage;
    if (!st->level) {
        unsigned l, s;
        uint64_t start;
        if (!stage_candidate(w, &l, &s, &start)) return UINT64_MAX;
        uint64_t begin = start - stage_lead(l);
        return begin > w->elapsed ? begin : w->elapsed;
    }
    size_t left = w->slots[st->level][st->slot].count;
    if (left <= TF_WHEEL_STAGE_STEP) return UINT64_MAX; /* the start takes the rest */
    /* The time at which the pace reaches another step's worth. */
    double total = (double)(st->count + left);
    double at = (double)(st->count + TF_WHEEL_STAGE_STEP) / total;
    uint64_t when = st->begin + (uint64_t)((double)(st->start - st->begin) * at);
    return when > w->elapsed ? when : w->elapsed + 1;
}

uint64_t tf__wheel_next(tf_wheel *w) {
    unsigned l = 0, s = 0;
    uint64_t next = next_event(w, &l, &s, 1), step = stage_next(w);
    return step < next ? step : next;
}

/* Moves a timer down to where its deadline belongs now, or (due at the
 * wheel's time) onto the fired list; returns the new tail of that list. */
static struct tf_timer **cascade_one(tf_wheel *w, struct tf_timer *t,
                                     struct tf_timer **fired_tail) {
    if (t->deadline <= w->elapsed) {
        w->count--;
        *fired_tail = t;
        return &t->next;
    }
    unsigned l = level_for(w, t->deadline);
    t->level = (uint8_t)l;
    slot_append(w, l, slot_of(t->deadline, l), t);
    return fired_tail;
}

/* Cascades every timer of the list, in its order. */
static struct tf_timer **cascade_list(tf_wheel *w, struct tf_timer *t,
                                      struct tf_timer **fired_tail) {
    while (t) {
        struct tf_timer *next = t->next;
        fired_tail = cascade_one(w, t, fired_tail);
        t = next;
    }
    return fired_tail;
}

/* Cascades every timer of slot s at level, in its order, emptying it. */
static struct tf_timer **cascade_slot(tf_wheel *w, unsigned level, unsigned s,
                                      struct tf_timer **fired_tail) {
    struct tf_timer *t = list_take(&w->slots[level][s]);
    slot_emptied(w, level, s);
    return cascade_list(w, t, fired_tail);
}

/* At the wheel's time, under way or about to be: begins staging the slot
 * that cascades first if it is large and near, and stages its paced share
 * (the part of its timers that the time elapsed of the lead stands for),
 * oldest first. */
static void stage_advance(tf_wheel *w) {
    tf_wheel_stage *st = &w->stage;
    if (!st->level) {
        unsigned l, s;
        uint64_t start;
        if (!stage_candidate(w, &l, &s, &start) || start - w->elapsed > stage_lead(l)) return;
        st->level = (uint8_t)l;
        st->slot = (uint8_t)s;
        st->start = start;
        st->begin = w->elapsed;
        st->count = 0;
        st->occupied = 0;
    }
    tf_wheel_slot *sl = &w->slots[st->level][st->slot];
    if (!sl->head) return;
    double total = (double)(st->count + sl->count);
    double gone = (double)(w->elapsed - st->begin) / (double)(st->start - st->begin);
    size_t want = (size_t)(total * gone);
    unsigned dl = st->level - 1u;
    while (st->count < want && sl->head) {
        struct tf_timer *t = sl->head;
        list_unlink(sl, t);
        unsigned j = slot_of(t->deadline, dl);
        t->level = (uint8_t)(LEVEL_STAGED + dl);
        list_append(&st->sub[j], t);
        st->occupied |= bit(j);
        st->count++;
    }
    if (!sl->head) slot_emptied(w, st->level, st->slot);
}

/* The staged slot's cascade, at its start: the first sub-list's timers
 * go lower (or are due), every other sub-list becomes its slot whole,
 * then the timers filed into the slot since staging began follow. */
static struct tf_timer **cascade_staged(tf_wheel *w, struct tf_timer **fired_tail) {
    tf_wheel_stage *st = &w->stage;
    unsigned level = st->level, s = st->slot, dl = level - 1u;
    st->level = 0; /* the spliced timers are no longer in_stage */
    fired_tail = cascade_list(w, list_take(&st->sub[0]), fired_tail);
    for (uint64_t occ = st->occupied & ~UINT64_C(1); occ; occ &= occ - 1) {
        unsigned j = (unsigned)__builtin_ctzll(occ);
        list_splice(&w->slots[dl][j], &st->sub[j]);
        w->occupied[dl] |= bit(j);
    }
    st->occupied = 0;
    st->count = 0;
    return cascade_slot(w, level, s, fired_tail);
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
        if (w->stage.level == level && w->stage.slot == s) {
            fired_tail = cascade_staged(w, fired_tail);
            continue;
        }
        /* Cascade towards level 0; only what is due at the slot's start
         * expires here. */
        fired_tail = cascade_slot(w, level, s, fired_tail);
    }
    *fired_tail = NULL;
    if (now > w->elapsed) __atomic_store_n(&w->elapsed, now, __ATOMIC_RELAXED);
    stage_advance(w);
    return fired;
}
