/* SPDX-License-Identifier: MIT */
/* Tasks: one atomic state word each; a task is also its own waker. */
#ifndef TF_TASK_H
#define TF_TASK_H

#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"
#include "pool.h"

/* The common prefix of every waker (library tasks and other wakers). */
struct tf_waker {
    uint16_t magic; /* TF_MAGIC_TASK or TF_MAGIC_WAKER */
    uint8_t kind;   /* for TF_MAGIC_WAKER: one of the TF_WAKER_KIND_* */
    uint8_t flags;
};

enum { TF_WAKER_KIND_NOOP = 1, TF_WAKER_KIND_CUSTOM, TF_WAKER_KIND_PARKER };

/* State word: flags in the low 4 bits, reference count above them. */
enum {
    TF_TASK_SCHEDULED = 1u, /* on a ready queue (holds one reference) */
    TF_TASK_RUNNING = 2u,   /* being polled (holds one reference) */
    TF_TASK_NOTIFIED = 4u,  /* woken while running: re-queue after poll */
    TF_TASK_COMPLETE = 8u,  /* finished or cancelled by shutdown */
    TF_TASK_REF_ONE = 16u,
};

/* tf_task.flags. TF_TASK_CARRIED: re-queued after a poll in which it
 * woke itself, without leaving RUNNING (see tf__task_poll_slot). Plain,
 * owned by the runner: written before the push and read after the pop,
 * both ordered by the queue. */
enum { TF_TASK_EXTERNAL = 1u, TF_TASK_CARRIED = 2u };
/* fn of a task whose pair did not fit the executor's table: v.data points
 * to a separately allocated tf_task_cold. */
enum { TF_TASK_FN_COLD = 255u };

typedef struct tf_task {
    uint16_t magic; /* TF_MAGIC_TASK, shared layout with struct tf_waker */
    /* C tasks: the slot of their (poll, drop) pair in the executor's table
     * (executor_internal.h), or TF_TASK_FN_COLD. Keeping the functions
     * out of the task, and finding the executor through the pool
     * (tf__task_exec), keeps it at 24 bytes. */
    uint8_t fn;
    /* TF_TASK_EXTERNAL, fixed at spawn; TF_TASK_CARRIED, written by the
     * runner only. Atomic (relaxed: plain byte moves) because shutdown
     * and tf_executor_report read the first while a runner writes the
     * second. */
    _Atomic uint8_t flags;
    _Atomic uint32_t state;
    /* Ready-queue and batch link. Atomic because a producer stores it
     * while the queue's consumer may be reading it (queue.c); elsewhere
     * only its owner touches it, through the relaxed helpers below. */
    _Atomic(struct tf_task *) next;
    union {
        void *data;   /* C tasks: the future's state, or their cold part */
        uint64_t tag; /* external tasks */
    } v;
} tf_task;

_Static_assert(sizeof(tf_task) == 24, "a task is three words");
/* tf__task_exec masks a task's address with TF_POOL_CHUNK_SMALL: the
 * task pool's chunks must be that size (half of it leaves room for any
 * chunk header). */
_Static_assert(sizeof(tf_task) * TF_POOL_MIN_PER_CHUNK <= TF_POOL_CHUNK_SMALL / 2,
               "task pool chunks are small ones");

/* The executor of a task: the owner of the pool it came from (every
 * task is carved from its executor's pool, whose chunks name it). */
static inline struct tf_executor *tf__task_exec(const tf_task *t) {
    return (struct tf_executor *)tf__pool_owner(t);
}

/* The functions of a task whose pair found no slot. */
typedef struct tf_task_cold {
    tf_poll_fn poll;
    tf_drop_fn drop;
    void *data;
} tf_task_cold;

/* The task this thread is polling now, and whether it woke itself
 * during that poll. A self-wake needs no atomic: the task is RUNNING,
 * and its runner (this thread) re-queues it after the poll. Static TLS
 * (initial-exec: a few bytes, fine for a dlopen'ed library), so the wake
 * path reads it with no __tls_get_addr call. The executor saves and
 * restores it per run frame (a poll may run another executor). */
typedef struct tf_poll_slot {
    tf_task *cur;
    int woken;
} tf_poll_slot;
extern _Thread_local tf_poll_slot tf__task_poll_slot
    __attribute__((tls_model("initial-exec")));

/* A wake of the task this thread is polling: its runner re-queues it
 * after the poll, so the wake only notes it (no atomic, no queue). 1 if t
 * was that task. Safe before any fork check: a child's fork handler
 * clears the slot, so no task of the parent's is "being polled" there. */
static inline int tf__task_wake_self(const tf_task *t) {
    if (t != tf__task_poll_slot.cur) return 0;
    tf__task_poll_slot.woken = 1;
    return 1;
}

static inline unsigned tf__task_flags(const tf_task *t) {
    return atomic_load_explicit(&t->flags, memory_order_relaxed);
}

static inline void tf__task_set_flags(tf_task *t, unsigned flags) {
    atomic_store_explicit(&t->flags, (uint8_t)flags, memory_order_relaxed);
}

static inline tf_task *tf__task_next(tf_task *t) {
    return atomic_load_explicit(&t->next, memory_order_relaxed);
}

static inline void tf__task_set_next(tf_task *t, tf_task *next) {
    atomic_store_explicit(&t->next, next, memory_order_relaxed);
}

static inline void tf__task_ref(tf_task *t) {
    atomic_fetch_add_explicit(&t->state, TF_TASK_REF_ONE, memory_order_relaxed);
}

/* 1 if the task's executor was created before fork(): in the child its
 * locks and threads are gone, so its wakers refuse every call. */
int tf__task_forked(const tf_task *t);

/* Drops one reference; frees the task when it was the last. */
void tf__task_unref(tf_task *t);
/* Wakes t, which is not the task this thread is polling (that one is
 * tf__task_wake_self's): queues it, or notes the wake if it is running. */
void tf__task_wake_other(tf_task *t);
/* Wakes t (a remote wake of the task being polled still sets NOTIFIED:
 * at worst one extra poll). */
static inline void tf__task_wake_by_ref(tf_task *t) {
    if (!tf__task_wake_self(t)) tf__task_wake_other(t);
}

/* Transition SCHEDULED -> RUNNING. Returns 0 if the task was completed by a
 * shutdown while queued (the queue's reference is then released). */
int tf__task_begin_poll(tf_task *t);
/* The same for a task re-queued while RUNNING (TF_TASK_CARRIED): no
 * transition, only the check for a shutdown's completion. */
static inline int tf__task_begin_carried(tf_task *t) {
    if (TF_UNLIKELY(atomic_load_explicit(&t->state, memory_order_acquire) &
                    TF_TASK_COMPLETE)) {
        tf__task_unref(t);
        return 0;
    }
    return 1;
}
/* After a poll that returned TF_PENDING. Returns 1 if the task was woken
 * during the poll: it is SCHEDULED again and the caller must queue it (the
 * running reference becomes the queue's). */
int tf__task_end_poll_pending(tf_task *t);
/* After the final poll: mark complete and release the running and the
 * lifetime references. Returns 0 if a shutdown had already completed it,
 * 1 if it is complete, 2 if it is complete and that was its last reference:
 * the caller must free it (tf__executor_task_dealloc or a batch free). */
int tf__task_end_poll_complete(tf_task *t);

#endif
