/* SPDX-License-Identifier: MIT */
/* A hierarchical timing wheel over 64-bit nanosecond deadlines.
 *
 * 8 levels of 64 slots; a level-0 slot spans 2^16 ns (65.5 us) and each
 * level is 64 times wider, so the 8 levels cover every uint64 deadline with
 * no overflow list. Unlike tokio's or libuv's, deadlines are never rounded:
 * higher levels only decide when timers cascade down, and the level-0 slot
 * at hand is sorted by exact deadline, so a timer never fires early and the
 * driver can sleep until the exact earliest one.
 *
 * The wheel is a plain data structure: the driver serializes access. */
#ifndef TF_TIMER_WHEEL_H
#define TF_TIMER_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#define TF_WHEEL_LEVELS 8
#define TF_WHEEL_SLOTS 64
#define TF_WHEEL_BASE_SHIFT 16
#define TF_WHEEL_LEVEL_BITS 6

struct tf_timer;

typedef struct tf_wheel_slot {
    struct tf_timer *head, *tail;
    size_t count; /* so that a slot due as a whole moves in O(1) */
} tf_wheel_slot;

/* t->level beyond the levels: filed as due (tf__wheel_insert_due), and
 * staged for level l (TF_WHEEL_LEVEL_STAGED + l), see tf_wheel_stage. */
#define TF_WHEEL_LEVEL_DUE TF_WHEEL_LEVELS
#define TF_WHEEL_LEVEL_STAGED (TF_WHEEL_LEVELS + 1)

/* A slot above level 1 that holds more than stage_min timers is cascaded
 * ahead of its time, a paced share at each advance over the last quarter
 * of the slot before it: moving a quarter of a million timers at once
 * (a level-2 slot of a million timers spread over a second) would hold
 * up firing for tens of milliseconds at its start. The staged timers wait
 * in sub, by the slot of the level below that they go to; at the slot's
 * start each sub-list becomes that slot whole, except the first (its
 * timers go lower still), and the timers filed into the slot since are
 * cascaded after them, so that arming order among equal deadlines holds.
 * One slot is staged at a time. */
typedef struct tf_wheel_stage {
    uint8_t level; /* the staged slot's level; 0: none staged */
    uint8_t slot;
    uint64_t start;  /* the slot's start: when it cascades */
    uint64_t begin;  /* when its staging began */
    size_t count;    /* timers staged so far */
    uint64_t occupied;
    tf_wheel_slot sub[TF_WHEEL_SLOTS];
} tf_wheel_stage;

/* Timers a slot must hold to be staged: cascading fewer at once is short. */
#define TF_WHEEL_STAGE_MIN 4096u
/* Timers staged at least per step when the driver wakes only to stage. */
#define TF_WHEEL_STAGE_STEP 2048u

typedef struct tf_wheel {
    uint64_t elapsed; /* the wheel's notion of now; never ahead of the clock;
                         written atomically (tf__wheel_elapsed) */
    size_t count;     /* timers in the wheel (staged ones too) */
    size_t stage_min; /* TF_WHEEL_STAGE_MIN (tests lower it) */
    uint64_t occupied[TF_WHEEL_LEVELS];
    /* Bit s: level-0 slot s is non-empty and its list is sorted by
     * deadline (arming order among equal ones), and inserts keep it so.
     * A slot is sorted the first time its earliest deadline is asked for,
     * which makes that answer, and firing its due prefix, cost no scan. */
    uint64_t l0_sorted;
    tf_wheel_slot slots[TF_WHEEL_LEVELS][TF_WHEEL_SLOTS];
    tf_wheel_stage stage;
} tf_wheel;

void tf__wheel_init(tf_wheel *w, uint64_t now);
/* The wheel's time, readable without the driver's lock (written with
 * atomic stores): a deadline not after it has passed on the clock. */
static inline uint64_t tf__wheel_elapsed(const tf_wheel *w) {
    return __atomic_load_n(&w->elapsed, __ATOMIC_RELAXED);
}
/* Files t by t->deadline. Returns 0, or 1 (t not filed) when the deadline
 * is not after the wheel's time, i.e. the timer has expired already. */
int tf__wheel_insert(tf_wheel *w, struct tf_timer *t);
/* Files t, whose deadline is not after the wheel's time, so that the next
 * advance fires it: into the level-0 slot of the wheel's time, which no
 * advance leaves before it has fired that slot's due timers. For a timer
 * that must go through a firing (its waker is woken there), where
 * tf__wheel_insert would refuse it. */
void tf__wheel_insert_due(tf_wheel *w, struct tf_timer *t);
void tf__wheel_remove(tf_wheel *w, struct tf_timer *t);
/* When the wheel next needs attention: the exact earliest deadline when it
 * lies in the level-0 slot that comes first, else the start of the first
 * slot due to cascade, or earlier when a slot is to be staged (or its
 * staging's next step is due). UINT64_MAX when empty. */
uint64_t tf__wheel_next(tf_wheel *w);
/* Advances to now: unlinks every timer with deadline <= now and returns
 * them linked through next; timers with equal deadlines come in the order
 * they were inserted. */
struct tf_timer *tf__wheel_advance(tf_wheel *w, uint64_t now);

#endif
