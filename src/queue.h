/* SPDX-License-Identifier: MIT */
/* A ready queue: an intrusive multi-producer FIFO after Vyukov. Producers
 * push lock-free, a task or a pre-linked chain, with one exchange of the
 * tail and one store of the link; one consumer at a time (under a mutex)
 * takes from the head. Arrival order is kept without a reversal pass over
 * the tasks. Consumers that find it empty spin briefly (only when the spin
 * can succeed: see queue.c), then park on a condition variable; a
 * Dekker-style sleepers count lets producers skip the mutex when nobody
 * is parked. */
#ifndef TF_QUEUE_H
#define TF_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "task.h"

typedef struct tf_queue {
    /* Producers' end: the latest task pushed, or &stub when empty. */
    _Alignas(64) _Atomic(struct tf_task *) tail;
    /* Consumer's end, under lock: the oldest task, or &stub. */
    _Alignas(64) struct tf_task *head;
    /* Kept in the FIFO whenever it would be empty, so producers always
     * have a predecessor to link to; never handed out. */
    struct tf_task stub;
    _Atomic uint32_t sleepers;
    _Atomic uint32_t signal_pending; /* a signal is on its way to a sleeper */
    _Atomic int push_cpu;            /* CPU of the latest producer, or -1 */
    _Atomic uint32_t spin_ns;        /* adaptive spin budget (queue.c) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
} tf_queue;

int tf__queue_init(tf_queue *q);
void tf__queue_destroy(tf_queue *q);
/* Pushes a chain linked through next in queue order (first ... last;
 * first == last for one task), lock-free, from any thread, after what is
 * already queued. The chain is never walked. */
void tf__queue_push_chain(tf_queue *q, struct tf_task *first,
                          struct tf_task *last);
/* Pops up to max tasks (max >= 1) into a NULL-terminated list linked
 * through next, in queue order; returns the count. */
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
