/* SPDX-License-Identifier: MIT */
/* A ready queue: producers push lock-free onto an intrusive stack; one
 * consumer at a time (under a mutex) moves the stack, reversed, onto a FIFO.
 * Consumers that find it empty spin briefly (only when the spin can
 * succeed: see queue.c), then park on a condition
 * variable; a Dekker-style sleepers count lets producers skip the mutex
 * when nobody is parked. */
#ifndef TF_QUEUE_H
#define TF_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct tf_task;

typedef struct tf_queue {
    _Atomic(struct tf_task *) inbox; /* pushed, newest first */
    _Atomic(struct tf_task *) head;  /* FIFO, written under lock */
    struct tf_task *tail;
    _Atomic uint32_t sleepers;
    _Atomic uint32_t signal_pending; /* a signal is on its way to a sleeper */
    _Atomic int push_cpu;            /* CPU of the latest producer, or -1 */
    _Atomic uint32_t spin_ns;        /* adaptive spin budget (queue.c) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
} tf_queue;

int tf__queue_init(tf_queue *q);
void tf__queue_destroy(tf_queue *q);
/* Pushes one task, lock-free (any thread). */
void tf__queue_push(tf_queue *q, struct tf_task *t);
/* Appends a chain linked through next in queue order (first ... last)
 * under the lock, after what is already queued: for a consumer that
 * queues a batch again, so the chain is never walked (no reversal). */
void tf__queue_append(tf_queue *q, struct tf_task *first,
                      struct tf_task *last);
/* Pops up to max tasks into a list linked through next; returns the count,
 * except for max == SIZE_MAX (take everything, without counting): then
 * returns nonzero if the list is not empty. */
size_t tf__queue_pop_batch(tf_queue *q, struct tf_task **list, size_t max);
int tf__queue_nonempty(tf_queue *q);

/* Waits until the queue is non-empty, stop(arg) is true, or the monotonic
 * deadline (ns; UINT64_MAX for none) passes. May spin first. */
void tf__queue_wait(tf_queue *q, uint64_t deadline, int (*stop)(void *),
                    void *arg);
/* Wakes every waiter, so that they re-check their stop condition. */
void tf__queue_broadcast(tf_queue *q);

#endif
