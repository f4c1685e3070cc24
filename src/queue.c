/* SPDX-License-Identifier: MIT */
/* The ready queue; see queue.h. */
#include <errno.h>
#include <time.h>

#include "clock.h"
#include "internal.h"
#include "queue.h"
#include "task.h"

/* How long an idle consumer spins before parking. A cross-thread wake that
 * lands within it costs no futex round trip; past it the thread sleeps. */
#define SPIN_NS 20000u

int tf__queue_init(tf_queue *q) {
    atomic_init(&q->inbox, NULL);
    atomic_init(&q->head, NULL);
    q->tail = NULL;
    atomic_init(&q->sleepers, 0);
    atomic_init(&q->signal_pending, 0);
    if (tf__mutex_init(&q->lock) != 0) return TF_ENOMEM;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&q->lock);
        return TF_ENOMEM;
    }
    return TF_OK;
}

void tf__queue_destroy(tf_queue *q) {
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
}

/* Wakes one parked consumer unless a signal is already on its way.
 * Pairs with the waiter's increment of sleepers before its re-check:
 * either we see the sleeper or it sees the queued task. While one signal
 * is on its way, later pushes need not send another: the woken waiter
 * clears signal_pending before it re-checks the queue, and passes the
 * signal on if it leaves work behind (see tf__queue_pop_batch). */
static void signal_one(tf_queue *q) {
    if (atomic_load_explicit(&q->sleepers, memory_order_seq_cst) != 0 &&
        atomic_exchange_explicit(&q->signal_pending, 1, memory_order_seq_cst) == 0) {
        pthread_mutex_lock(&q->lock);
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
    }
}

void tf__queue_push_chain(tf_queue *q, tf_task *newest, tf_task *oldest) {
    tf_task *old = atomic_load_explicit(&q->inbox, memory_order_relaxed);
    do {
        oldest->next = old;
    } while (!atomic_compare_exchange_weak_explicit(
        &q->inbox, &old, newest, memory_order_seq_cst, memory_order_relaxed));
    signal_one(q);
}

void tf__queue_push(tf_queue *q, tf_task *t) { tf__queue_push_chain(q, t, t); }

/* Under q->lock: move the inbox, reversed to arrival order, to the FIFO. */
static void refill(tf_queue *q) {
    tf_task *s = atomic_exchange_explicit(&q->inbox, NULL, memory_order_acquire);
    if (!s) return;
    tf_task *rev = NULL, *last = s;
    while (s) {
        tf_task *n = s->next;
        s->next = rev;
        rev = s;
        s = n;
    }
    last->next = NULL;
    tf_task *head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (head)
        q->tail->next = rev;
    else
        atomic_store_explicit(&q->head, rev, memory_order_relaxed);
    q->tail = last;
}

size_t tf__queue_pop_batch(tf_queue *q, tf_task **list, size_t max) {
    if (!atomic_load_explicit(&q->head, memory_order_relaxed) &&
        !atomic_load_explicit(&q->inbox, memory_order_relaxed)) {
        *list = NULL;
        return 0;
    }
    pthread_mutex_lock(&q->lock);
    tf_task *head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (!head) {
        refill(q);
        head = atomic_load_explicit(&q->head, memory_order_relaxed);
    }
    if (max == SIZE_MAX) {
        /* Everything: detach the whole FIFO without walking it. */
        atomic_store_explicit(&q->head, NULL, memory_order_relaxed);
        q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        *list = head;
        return head ? 1 : 0;
    }
    size_t n = 0;
    tf_task *first = head, *t = head, *prev = NULL;
    while (t && n < max) {
        prev = t;
        t = t->next;
        n++;
    }
    if (prev) prev->next = NULL;
    atomic_store_explicit(&q->head, t, memory_order_relaxed);
    if (!t) q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    *list = n ? first : NULL;
    /* A consumer that takes part of the queue may have been woken by the
     * only signal sent for several pushes: hand the rest to another
     * sleeper, or it would sleep while work waits for it. */
    if (n && tf__queue_nonempty(q)) signal_one(q);
    return n;
}

int tf__queue_nonempty(tf_queue *q) {
    return atomic_load_explicit(&q->head, memory_order_acquire) != NULL ||
           atomic_load_explicit(&q->inbox, memory_order_acquire) != NULL;
}

void tf__queue_wait(tf_queue *q, uint64_t deadline, int (*stop)(void *),
                    void *arg) {
    uint64_t start = tf__clock_now();
    uint64_t spin_end = start + SPIN_NS;
    if (spin_end > deadline) spin_end = deadline;
    for (unsigned i = 0;; i++) {
        if (tf__queue_nonempty(q) || stop(arg)) return;
        if ((i & 63) == 63 && tf__clock_now() >= spin_end) break;
        tf__cpu_relax();
    }
    pthread_mutex_lock(&q->lock);
    atomic_fetch_add_explicit(&q->sleepers, 1, memory_order_seq_cst);
    for (;;) {
        /* Cleared before the check, so a push that saw it set (and sent no
         * signal) is seen by the check. */
        atomic_store_explicit(&q->signal_pending, 0, memory_order_seq_cst);
        if (tf__queue_nonempty(q) || stop(arg)) break;
        if (deadline == UINT64_MAX) {
            pthread_cond_wait(&q->cond, &q->lock);
        } else {
            if (tf__clock_now() >= deadline) break;
            struct timespec ts;
            tf__clock_to_timespec(deadline, &ts);
            pthread_cond_timedwait(&q->cond, &q->lock, &ts);
        }
        tf__hook(TF_HOOK_QUEUE_WOKEN, q);
    }
    atomic_fetch_sub_explicit(&q->sleepers, 1, memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
}

void tf__queue_broadcast(tf_queue *q) {
    pthread_mutex_lock(&q->lock);
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}
