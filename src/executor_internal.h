/* SPDX-License-Identifier: MIT */
/* The executor's private structure, shared with task.c. */
#ifndef TF_EXECUTOR_INTERNAL_H
#define TF_EXECUTOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "pool.h"
#include "queue.h"
#include "task.h"

/* The (poll, drop) pairs of an executor's C tasks: a task names its pair
 * by slot (tf_task.fn), so it need not carry two function pointers. Slots
 * are filled under spawn_lock and never change after, so a poll reads its
 * slot without a lock (the task's publication orders the fill before). */
#define TF_TASK_FN_SLOTS 255u
typedef struct tf_task_fns {
    tf_poll_fn poll; /* NULL: slot free */
    tf_drop_fn drop;
} tf_task_fns;

/* The queues' cache-line alignment is what pads this struct: on purpose. */
struct tf_executor { // NOLINT(clang-analyzer-optin.performance.Padding)
    uint16_t magic;
    uint16_t pad;
    uint32_t fork_gen; /* tf__fork_generation at creation */
    tf_queue runq;     /* C tasks */
    tf_queue extq;     /* external tasks, handed out by tf_executor_next */
    atomic_int shutdown;
    /* Live C tasks are spawned - finished. spawned is written only
     * under spawn_lock, with a plain store (no locked instruction per
     * spawn); readers load finished first, so a task counted finished is
     * counted spawned too and the difference is never short. */
    atomic_long spawned;
    atomic_long finished;
    atomic_long live_external; /* external tasks not yet complete */
    /* Spawning: a spinlock held for a few stores, and a reserve of pool
     * objects taken from the pool TF_SPAWN_BLOCK at a time, so the pool
     * mutex is taken once per block, not per spawn. Reserved objects
     * count as live in the pool and have magic 0, so shutdown's walk
     * skips them. Lock order: spawn_lock, then pool_lock. */
    atomic_int spawn_lock;
    uint32_t reserve_n;    /* under spawn_lock */
    tf_task *reserve;      /* under spawn_lock, linked through next */
    /* Task memory. The executor's memory lives until the handle is freed
     * and the pool is empty, so late wakers never touch freed memory. */
    pthread_mutex_t pool_lock;
    tf_pool pool;
    int handle_alive; /* under pool_lock */
    /* Dead tasks (chains linked through next) that found pool_lock held
     * while deferring was allowed: the next taker of the lock frees them
     * into the pool, tf_executor_free at the latest. A worker must not
     * sleep on the lock while a spawner holds it to refill its reserve
     * (page-faulting a fresh chunk in). tf_executor_free first disallows
     * it (defer_ok), then waits until no releaser is between its look at
     * defer_ok and its push (deferring), then takes the lock for the last
     * time (tests/models/task_release.pml). */
    tf_task *_Atomic dead_pending;
    atomic_int defer_ok;
    atomic_int deferring;
    uint32_t fn_hint; /* slot of the latest spawn, under spawn_lock */
    tf_task_fns fns[TF_TASK_FN_SLOTS];
    /* eventfd for foreign event loops, created on demand. fd_lock guards
     * the pair (efd_signalled, the eventfd's counter): see executor.c. */
    pthread_mutex_t fd_lock;
    atomic_int efd;
    atomic_int efd_signalled;
    uint32_t nthreads;
    pthread_t *threads;
};

/* Puts a task that just became SCHEDULED on its queue. */
void tf__executor_schedule(struct tf_executor *e, tf_task *t);
/* Returns a task's memory to its executor (last reference gone). */
void tf__executor_task_dealloc(tf_task *t);

/* Incremented in the child after fork(): executors from an older
 * generation refuse every call, since their threads are gone. */
extern _Atomic uint32_t tf__fork_generation;

#endif
