/* SPDX-License-Identifier: MIT */
/* A ready queue: two intrusive multi-producer FIFOs (lanes) after Vyukov,
 * one for woken tasks and one for new ones, sharing one lock and one set
 * of parked consumers. Producers push lock-free, a task or a pre-linked
 * chain, with one exchange of a lane's tail and one store of the link; one
 * consumer at a time (under a mutex) takes from the heads, woken tasks
 * first (with a bound on how long new ones wait). Each lane keeps arrival
 * order without a reversal pass over the tasks. Consumers that find it empty spin briefly (only when the spin
 * can succeed: see queue.c), then park on a futex word (park_seq, an
 * event count); a Dekker-style sleepers count lets producers skip the
 * wake when nobody is parked. */
#ifndef TF_QUEUE_H
#define TF_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "task.h"

/* One FIFO. */
typedef struct tf_lane {
    /* Producers' end: the latest task pushed, or &stub when empty. */
    _Alignas(64) _Atomic(struct tf_task *) tail;
    /* Consumer's end, under the queue's lock: the oldest task, or &stub. */
    _Alignas(64) struct tf_task *head;
    /* Kept in the FIFO whenever it would be empty, so producers always
     * have a predecessor to link to; never handed out. */
    struct tf_task stub;
} tf_lane;

/* The lanes: tasks woken (or re-queued) and tasks never polled yet. A
 * queue that only ever uses TF_QUEUE_WOKEN is one FIFO. */
enum { TF_QUEUE_WOKEN = 0, TF_QUEUE_NEW = 1, TF_QUEUE_LANES = 2 };
/* Batches of woken tasks in a row, while new ones wait, after which a
 * batch starts with the new lane (the bound on their wait). */
#define TF_QUEUE_NEW_EVERY 3u

typedef struct tf_queue { // NOLINT(clang-analyzer-optin.performance.Padding): aligned lanes
    tf_lane lane[TF_QUEUE_LANES];
    uint32_t new_streak; /* under lock: see tf__queue_pop_batch */
    _Atomic uint32_t sleepers;
    _Atomic uint32_t signal_pending; /* a signal is on its way to a sleeper */
    _Atomic int push_cpu;            /* CPU of the latest producer, or -1 */
    _Atomic uint32_t spin_ns;        /* adaptive spin budget (queue.c) */
    _Atomic uint32_t spinning;       /* a consumer is spinning */
    _Atomic uint64_t signal_ns;      /* real-clock time of the latest signal */
    _Atomic uint32_t spun_sleepers;  /* parked consumers that spun first */
    _Atomic uint32_t park_seq;       /* futex word: changed by every wake */
    pthread_mutex_t lock;            /* consumers' exclusion in pop_batch */
} tf_queue;

int tf__queue_init(tf_queue *q);
void tf__queue_destroy(tf_queue *q);
/* Pushes a chain linked through next in queue order (first ... last;
 * first == last for one task), lock-free, from any thread, after what is
 * already queued in the lane. The chain is never walked. */
void tf__queue_push_chain(tf_queue *q, int lane, struct tf_task *first,
                          struct tf_task *last);
/* Pops up to max tasks (max >= 1) into a NULL-terminated list linked
 * through next, each lane in its own FIFO order: woken tasks ahead of new
 * ones, except that new ones waiting behind TF_QUEUE_NEW_EVERY full
 * batches of woken ones go first in the next. Returns the count. */
size_t tf__queue_pop_batch(tf_queue *q, struct tf_task **list, size_t max);
/* Nonzero once a push has begun and until its task is popped: a push
 * whose link is not yet stored counts, and a pop waits for the link. */
int tf__queue_nonempty(tf_queue *q);

/* Waits until the queue is non-empty, stop(arg) is true, or the monotonic
 * deadline (ns; UINT64_MAX for none) passes. May spin first. */
void tf__queue_wait(tf_queue *q, uint64_t deadline, int (*stop)(void *),
                    void *arg);
/* Wakes every waiter, so that they re-check their stop condition. */
void tf__queue_broadcast(tf_queue *q);

#endif
