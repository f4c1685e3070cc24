/* SPDX-License-Identifier: MIT */
/* The ready queue; see queue.h. */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "internal.h"
#include "queue.h"
#include "task.h"

/* Adaptive spinning. An idle consumer spins before parking only when the
 * spin can succeed: the machine has more than one CPU for us, and the
 * latest producer of this queue ran on another CPU than ours (a producer
 * on our CPU cannot run while we spin: spinning there only delays the wake
 * it would send). The budget adapts to what spins achieve: it doubles when
 * a wake arrives just after the spin gave up (a longer spin would have
 * caught it) and halves when the wait turns out long (the spin was
 * wasted, as on a busy machine where the peer is not running). A
 * cross-CPU wake that lands within the budget costs no futex round trip. */
#define SPIN_MAX_NS 20000u
#define SPIN_MIN_NS 500u

/* 1 if this process may run on more than one CPU (sampled once: the
 * affinity mask rarely changes, and a stale answer costs only speed). */
static int multi_cpu(void) {
    static _Atomic int cached; /* 0 unknown, 1 one CPU, 2 several */
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (TF_UNLIKELY(c == 0)) {
        cpu_set_t set;
        int n = sched_getaffinity(0, sizeof(set), &set) == 0
                    ? CPU_COUNT(&set)
                    : (int)sysconf(_SC_NPROCESSORS_ONLN);
        c = n > 1 ? 2 : 1;
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c == 2;
}

int tf__queue_init(tf_queue *q) {
    atomic_init(&q->inbox, NULL);
    atomic_init(&q->head, NULL);
    q->tail = NULL;
    atomic_init(&q->sleepers, 0);
    atomic_init(&q->signal_pending, 0);
    atomic_init(&q->push_cpu, -1);
    atomic_init(&q->spin_ns, SPIN_MAX_NS);
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
        /* Taking the lock orders us after a waiter's re-check: past it,
         * the waiter is inside cond_wait and the signal reaches it. It is
         * sent after the unlock, so that the woken waiter (which may run
         * at once on this CPU) does not find the lock still held by us. */
        pthread_mutex_lock(&q->lock);
        pthread_mutex_unlock(&q->lock);
        pthread_cond_signal(&q->cond);
    }
}

/* Remembers the CPU of the latest producer, for the spin decision. */
static void note_producer_cpu(tf_queue *q) {
    int cpu = sched_getcpu();
    if (atomic_load_explicit(&q->push_cpu, memory_order_relaxed) != cpu)
        atomic_store_explicit(&q->push_cpu, cpu, memory_order_relaxed);
}

void tf__queue_push(tf_queue *q, tf_task *t) {
    tf_task *old = atomic_load_explicit(&q->inbox, memory_order_relaxed);
    do {
        t->next = old;
    } while (!atomic_compare_exchange_weak_explicit(
        &q->inbox, &old, t, memory_order_seq_cst, memory_order_relaxed));
    note_producer_cpu(q);
    signal_one(q);
}

static void refill(tf_queue *q);

void tf__queue_append(tf_queue *q, tf_task *first, tf_task *last) {
    last->next = NULL;
    pthread_mutex_lock(&q->lock);
    /* Tasks pushed before go first, as they would through the inbox. */
    refill(q);
    tf_task *head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (head)
        q->tail->next = first;
    else
        atomic_store_explicit(&q->head, first, memory_order_relaxed);
    q->tail = last;
    pthread_mutex_unlock(&q->lock);
    /* A waiter counts itself and re-checks under the lock, so the lock
     * orders us: it saw our tasks, or we see it in sleepers. */
    note_producer_cpu(q);
    signal_one(q);
}

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

/* Spins for up to budget ns; 1 if the wait is over. */
static int spin(tf_queue *q, uint64_t until, int (*stop)(void *), void *arg) {
    for (unsigned i = 0;; i++) {
        if (tf__queue_nonempty(q) || stop(arg)) return 1;
        if ((i & 63) == 63 && tf__clock_now() >= until) return 0;
        tf__cpu_relax();
    }
}

void tf__queue_wait(tf_queue *q, uint64_t deadline, int (*stop)(void *),
                    void *arg) {
    uint64_t start = tf__clock_now();
    uint32_t budget = atomic_load_explicit(&q->spin_ns, memory_order_relaxed);
    int spun = multi_cpu() &&
               atomic_load_explicit(&q->push_cpu, memory_order_relaxed) != sched_getcpu();
    if (spun) {
        uint64_t until = start + budget;
        if (until > deadline) until = deadline;
        if (spin(q, until, stop, arg)) return;
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
    if (spun) {
        /* The spin failed. If the wake came soon after, a longer one
         * would have caught it; if much later, it was wasted. */
        uint64_t waited = tf__clock_now() - start;
        uint32_t next = waited < 2u * SPIN_MAX_NS ? budget * 2 : budget / 2;
        if (next > SPIN_MAX_NS) next = SPIN_MAX_NS;
        if (next < SPIN_MIN_NS) next = SPIN_MIN_NS;
        atomic_store_explicit(&q->spin_ns, next, memory_order_relaxed);
    }
}

void tf__queue_broadcast(tf_queue *q) {
    pthread_mutex_lock(&q->lock);
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}
