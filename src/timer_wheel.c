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

static void slot_append(tf_wheel *w, unsigned level, unsigned s,
                        struct tf_timer *t) {
    tf_wheel_slot *sl = &w->slots[level][s];
    t->next = NULL;
    t->prev = sl->tail;
    if (sl->tail)
        sl->tail->next = t;
    else
        sl->head = t;
    sl->tail = t;
    w->occupied[level] |= UINT64_C(1) << s;
}

int tf__wheel_insert(tf_wheel *w, struct tf_timer *t) {
    if (t->deadline <= w->elapsed) return 1;
    /* The level is where the deadline first differs from now, at slot
     * granularity: the slot is then ahead of the level's current slot. */
    uint64_t diff = (w->elapsed ^ t->deadline) >> TF_WHEEL_BASE_SHIFT;
    unsigned level =
        diff ? (unsigned)(63 - __builtin_clzll(diff)) / TF_WHEEL_LEVEL_BITS : 0;
    t->level = (uint8_t)level;
    slot_append(w, level, slot_of(t->deadline, level), t);
    w->count++;
    return 0;
}

void tf__wheel_remove(tf_wheel *w, struct tf_timer *t) {
    unsigned level = t->level, s = slot_of(t->deadline, level);
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

static uint64_t slot_min_deadline(const tf_wheel_slot *sl) {
    uint64_t m = UINT64_MAX;
    for (const struct tf_timer *t = sl->head; t; t = t->next)
        if (t->deadline < m) m = t->deadline;
    return m;
}

/* The next event: level and slot, and its time. Higher levels win ties so
 * that cascading comes before firing the level-0 slot it may feed. */
static uint64_t next_event(const tf_wheel *w, unsigned *level_out,
                           unsigned *slot_out) {
    uint64_t best = UINT64_MAX;
    for (int level = TF_WHEEL_LEVELS - 1; level >= 0; level--) {
        int s = first_slot(w, (unsigned)level);
        if (s < 0) continue;
        uint64_t when = level == 0
                            ? slot_min_deadline(&w->slots[0][s])
                            : slot_start(w->elapsed, (unsigned)level, (unsigned)s);
        if (when < best) {
            best = when;
            *level_out = (unsigned)level;
            *slot_out = (unsigned)s;
        }
    }
    return best;
}

uint64_t tf__wheel_next(const tf_wheel *w) {
    unsigned l, s;
    return next_event(w, &l, &s);
}

static int timer_before(const struct tf_timer *a, const struct tf_timer *b) {
    if (a->deadline != b->deadline) return a->deadline < b->deadline;
    return (int32_t)(a->seq - b->seq) < 0;
}

/* Stable merge sort of a singly linked list by (deadline, seq). */
static struct tf_timer *sort_fired(struct tf_timer *list) {
    if (!list || !list->next) return list;
    struct tf_timer *slow = list, *fast = list->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    struct tf_timer *b = slow->next;
    slow->next = NULL;
    struct tf_timer *a = sort_fired(list);
    b = sort_fired(b);
    struct tf_timer head, *tail = &head;
    while (a && b) {
        if (timer_before(b, a)) {
            tail->next = b;
            b = b->next;
        } else {
            tail->next = a;
            a = a->next;
        }
        tail = tail->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

struct tf_timer *tf__wheel_advance(tf_wheel *w, uint64_t now) {
    struct tf_timer *fired = NULL, **fired_tail = &fired;
    size_t nfired = 0;
    unsigned level, s;
    while (next_event(w, &level, &s) <= now) {
        uint64_t start = slot_start(w->elapsed, level, s);
        if (start > w->elapsed) w->elapsed = start;
        tf_wheel_slot *sl = &w->slots[level][s];
        struct tf_timer *t = sl->head;
        sl->head = sl->tail = NULL;
        w->occupied[level] &= ~(UINT64_C(1) << s);
        while (t) {
            struct tf_timer *next = t->next;
            w->count--;
            if (t->deadline <= now && (level == 0 || t->deadline <= w->elapsed)) {
                *fired_tail = t;
                fired_tail = &t->next;
                nfired++;
            } else if (level == 0) {
                /* Later in this slot: back in, deadline kept exact. */
                slot_append(w, 0, s, t);
                w->count++;
            } else {
                /* Cascade towards level 0; it cannot have expired here
                 * since deadline > elapsed. */
                tf__wheel_insert(w, t);
            }
            t = next;
        }
    }
    *fired_tail = NULL;
    if (now > w->elapsed) w->elapsed = now;
    /* Only equal deadlines that met in different levels can be out of arming
     * order; a sort of the (usually short) batch settles it. */
    return nfired > 1 ? sort_fired(fired) : fired;
}
