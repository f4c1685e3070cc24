/* SPDX-License-Identifier: MIT */
/* The ready queue; see queue.h. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "internal.h"
#include "queue.h"
#include "task.h"

/* Adaptive spinning. An idle consumer spins before parking only when the
 * spin can succeed: the machine has more than one CPU for us, the latest
 * producer of this queue ran on another CPU than ours (a producer on our
 * CPU cannot run while we spin: spinning there only delays the wake it
 * would send), no other consumer of the queue is spinning already (one
 * spinner catches the wake as well as two), and the machine is not busy
 * (a spin that was preempted says another thread wanted our CPU: for a
 * while nobody spins). A cross-CPU wake that lands within the spin costs
 * no futex round trip.
 *
 * The budget adapts to when the work arrived, as the producer's signal
 * time tells, not to when the parked consumer got running again: that
 * includes its own wake-up latency, which no spin can shorten. It doubles
 * when the work arrived soon after the spin gave up, halves when much
 * later. A consumer that has just woken a parked thread (as in a
 * ping-pong whose other side parked) extends its spin by the wake-up
 * latency measured of parked consumers: the reply cannot come sooner.
 * Without this, once both sides of a ping-pong park each waits for the
 * other's wake-up, longer than any spin, and neither spins again. */
#define SPIN_MAX_NS 20000u
#define SPIN_MIN_NS 500u
/* Bounds the extension for a peer's wake-up. */
#define WAKE_LATENCY_MAX_NS 100000u
/* A gap this long between two looks of a spin means it was preempted. */
#define PREEMPTED_NS 50000u
/* How long nobody spins after a spin was preempted. */
#define BUSY_BACKOFF_NS 4000000u

/* Wake-up latency of parked consumers (signal to running), averaged. */
static _Atomic uint32_t wake_latency_ns;
/* Real-clock time until which the machine counts as busy. */
static _Atomic uint64_t busy_until;
/* 1 if this thread has signalled a parked consumer since its latest wait
 * ended. */
static _Thread_local int tls_signalled;

/* 1 if this process may run on more than one CPU. Sampled once, at load,
 * on the thread that loads the library: a worker that pinned itself to
 * one CPU would see only its own mask, though its producers run on
 * others. A stale answer costs only speed: a spin whose producer shares
 * our CPU is declined anyway (push_cpu). */
static int several_cpus = 1;

__attribute__((constructor)) static void queue_cpus_init(void) {
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof(set), &set) == 0
                ? CPU_COUNT(&set)
                : (int)sysconf(_SC_NPROCESSORS_ONLN);
    several_cpus = n > 1;
}

static int multi_cpu(void) { return several_cpus; }

int tf__queue_init(tf_queue *q) {
    for (int l = 0; l < TF_QUEUE_LANES; l++) {
        tf_lane *q1 = &q->lane[l];
        memset(&q1->stub, 0, sizeof(q1->stub));
        atomic_init(&q1->stub.next, NULL);
        atomic_init(&q1->tail, &q1->stub);
        q1->head = &q1->stub;
    }
    q->new_streak = 0;
    atomic_init(&q->sleepers, 0);
    atomic_init(&q->signal_pending, 0);
    atomic_init(&q->push_cpu, -1);
    atomic_init(&q->spin_ns, SPIN_MAX_NS);
    atomic_init(&q->spinning, 0);
    atomic_init(&q->signal_ns, 0);
    atomic_init(&q->spun_sleepers, 0);
    atomic_init(&q->park_seq, 0);
    if (tf__mutex_init(&q->lock) != 0) return TF_ENOMEM;
    return TF_OK;
}

void tf__queue_destroy(tf_queue *q) { pthread_mutex_destroy(&q->lock); }

/* The park: an event count on one futex word. A consumer reads park_seq
 * before its last look at the queue and sleeps only while the word still
 * holds what it read; every wake changes the word first. A wake sent
 * between the read and the sleep so makes the sleep return at once
 * (the kernel compares the word under its own lock), so none is lost.
 * Unlike a condition variable, waking takes no lock on either side: a
 * same-CPU hand-over costs one FUTEX_WAKE and one FUTEX_WAIT, with no
 * mutex to re-take (and wake for) after the wait. */
static void park_wake(tf_queue *q, int n) {
    /* Sequentially consistent: the change is ordered after what the waker
     * did before (a push, a stop condition), and a sleeper that reads the
     * new value sees that too. */
    atomic_fetch_add_explicit(&q->park_seq, 1, memory_order_seq_cst);
    (void)syscall(SYS_futex, (uint32_t *)&q->park_seq, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Sleeps while park_seq holds seen, until the monotonic deadline (ns;
 * UINT64_MAX for none). Returns early on any wake, signal or spurious
 * return: the caller re-checks. */
static void park_sleep(tf_queue *q, uint32_t seen, uint64_t deadline) {
    struct timespec ts, *abs = NULL;
    if (deadline != UINT64_MAX) {
        tf__clock_to_timespec(deadline, &ts);
        abs = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
    (void)syscall(SYS_futex, (uint32_t *)&q->park_seq, FUTEX_WAIT_BITSET_PRIVATE, seen, abs,
                  NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Wakes one parked consumer unless a signal is already on its way.
 * Pairs with the waiter's increment of sleepers before its re-check:
 * either we see the sleeper or it sees the queued task; a sleeper seen
 * gets the wake even if it has not gone to sleep yet (park_wake). While
 * one signal is on its way, later pushes need not send another: the woken
 * waiter clears signal_pending before it re-checks the queue, and passes
 * the signal on if it leaves work behind (see tf__queue_pop_batch). */
static void signal_one(tf_queue *q) {
    if (atomic_load_explicit(&q->sleepers, memory_order_seq_cst) != 0 &&
        atomic_exchange_explicit(&q->signal_pending, 1, memory_order_seq_cst) == 0) {
        /* The time only matters to a sleeper that spun before it parked
         * (adapt); it is a clock read on every signal otherwise. The
         * sleeper counted itself there before it counted itself a
         * sleeper, which the load of sleepers above saw. */
        if (atomic_load_explicit(&q->spun_sleepers, memory_order_relaxed) != 0)
            atomic_store_explicit(&q->signal_ns, tf__clock_real(), memory_order_relaxed);
        tls_signalled = 1;
        park_wake(q, 1);
    }
}

/* Remembers the CPU of the latest producer, for the spin decision. */
static void note_producer_cpu(tf_queue *q) {
    int cpu = sched_getcpu();
    if (atomic_load_explicit(&q->push_cpu, memory_order_relaxed) != cpu)
        atomic_store_explicit(&q->push_cpu, cpu, memory_order_relaxed);
}

void tf__queue_push_chain(tf_queue *q, int lane, tf_task *first,
                          tf_task *last) {
    tf_lane *l = &q->lane[lane];
    tf__task_set_next(last, NULL);
    /* Sequentially consistent: pairs with a waiter's count of itself in
     * sleepers before its re-check (signal_one). */
    tf_task *prev = atomic_exchange_explicit(&l->tail, last, memory_order_seq_cst);
    /* The chain is queued from here (tf__queue_nonempty sees it) but not
     * reachable until the link is stored: a consumer that gets to prev
     * waits for it (wait_link), so no task is skipped. */
    tf__hook(TF_HOOK_QUEUE_PUSH_LINK, q);
    atomic_store_explicit(&prev->next, first, memory_order_release);
    note_producer_cpu(q);
    signal_one(q);
}

/* Under q->lock: t's successor, which a producer that exchanged the tail
 * after t is about to store. The window is two instructions of that
 * producer; yield in case it was preempted inside it. */
static tf_task *wait_link(tf_task *t) {
    tf_task *n = atomic_load_explicit(&t->next, memory_order_acquire);
    if (n) return n;
    tf__hook(TF_HOOK_QUEUE_LINK_WAIT, t);
    for (unsigned i = 0;
         !(n = atomic_load_explicit(&t->next, memory_order_acquire)); i++) {
        if (i < 64) tf__cpu_relax();
        else sched_yield();
    }
    return n;
}

/* Under the queue's lock: takes the lane's oldest task, or NULL if none
 * is queued. */
static tf_task *take(tf_lane *q) {
    tf_task *h = q->head;
    if (h == &q->stub) {
        if (atomic_load_explicit(&q->tail, memory_order_acquire) == &q->stub)
            return NULL;
        h = wait_link(&q->stub); /* the stub leaves the FIFO */
        q->head = h;
    }
    tf_task *n = atomic_load_explicit(&h->next, memory_order_acquire);
    if (!n) {
        /* h looks last. Put the stub back in its place, so that producers
         * keep a predecessor; if a producer exchanged the tail meanwhile,
         * h is not last after all: wait for its link. The stub's link is
         * cleared first: its producers store it after they see it as the
         * tail. */
        atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
        tf_task *expect = h;
        if (atomic_compare_exchange_strong_explicit(&q->tail, &expect, &q->stub,
                                                    memory_order_seq_cst,
                                                    memory_order_acquire)) {
            q->head = &q->stub;
            return h; /* no producer will store h's link */
        }
        n = wait_link(h);
    }
    /* h's link was stored once, by the producer that followed it; nobody
     * stores it again while h is off the queue, so the caller may. */
    q->head = n;
    return h;
}

/* Under q->lock: appends up to max tasks of one lane to the list
 * (*first ... *last), returns how many. Consecutive takes are linked
 * already, except across the stub (put back when the lane emptied) and
 * across lanes: link each one to the previous. */
static size_t take_lane(tf_lane *l, size_t max, tf_task **first,
                        tf_task **last) {
    size_t n = 0;
    while (n < max) {
        tf_task *t = take(l);
        if (!t) break;
        if (*last) tf__task_set_next(*last, t);
        else *first = t;
        *last = t;
        n++;
    }
    return n;
}

static int lane_nonempty(tf_lane *l) {
    /* The consumer puts the stub back as the tail when it takes the last
     * task, so the tail is the stub exactly when nothing is queued. */
    return atomic_load_explicit(&l->tail, memory_order_seq_cst) != &l->stub;
}

size_t tf__queue_pop_batch(tf_queue *q, tf_task **list, size_t max) {
    *list = NULL;
    if (!tf__queue_nonempty(q)) return 0;
    pthread_mutex_lock(&q->lock);
    /* Walking the batch here warms it for its polls. Woken tasks first,
     * then new ones fill the batch; but after TF_QUEUE_NEW_EVERY batches
     * in a row that were all woken tasks while new ones waited, a batch
     * starts with the new lane, so tasks that keep waking each other
     * cannot starve the new ones (which get at least one batch in
     * TF_QUEUE_NEW_EVERY + 1). */
    tf_task *first = NULL, *last = NULL;
    tf_lane *woken = &q->lane[TF_QUEUE_WOKEN], *fresh = &q->lane[TF_QUEUE_NEW];
    size_t n = 0, n_new = 0;
    if (q->new_streak >= TF_QUEUE_NEW_EVERY) {
        n_new = take_lane(fresh, max, &first, &last);
        n = n_new + take_lane(woken, max - n_new, &first, &last);
    } else {
        n = take_lane(woken, max, &first, &last);
        if (n < max) {
            n_new = take_lane(fresh, max - n, &first, &last);
            n += n_new;
        }
    }
    if (n_new) q->new_streak = 0;
    else if (lane_nonempty(fresh)) q->new_streak++;
    pthread_mutex_unlock(&q->lock);
    if (!n) return 0;
    tf__task_set_next(last, NULL);
    *list = first;
    /* A consumer that takes part of the queue may have been woken by the
     * only signal sent for several pushes: hand the rest to another
     * sleeper, or it would sleep while work waits for it. */
    if (tf__queue_nonempty(q)) signal_one(q);
    return n;
}

int tf__queue_nonempty(tf_queue *q) {
    return lane_nonempty(&q->lane[TF_QUEUE_WOKEN]) ||
           lane_nonempty(&q->lane[TF_QUEUE_NEW]);
}

/* Spins until the real clock reaches until or the monotonic deadline
 * passes; 1 if the wait is over. A preempted spin marks the machine busy
 * and gives up. */
static int spin(tf_queue *q, uint64_t until, uint64_t deadline,
                int (*stop)(void *), void *arg) {
    uint64_t last = tf__clock_real();
    for (unsigned i = 0;; i++) {
        if (tf__queue_nonempty(q) || stop(arg)) return 1;
        if ((i & 63) == 63) {
            uint64_t now = tf__clock_real();
            if (now - last > PREEMPTED_NS) {
                atomic_store_explicit(&busy_until, now + BUSY_BACKOFF_NS,
                                      memory_order_relaxed);
                return 0;
            }
            last = now;
            if (now >= until) return 0;
            if (deadline != UINT64_MAX && tf__clock_now() >= deadline) return 1;
        }
        tf__cpu_relax();
    }
}

/* The spin's length, or 0 for none; takes q->spinning when nonzero, and
 * then sets *start to the real-clock time, which only a spin needs (the
 * checks that need no clock come first: a consumer whose producer shares
 * its CPU parks with no clock read). */
static uint64_t spin_length(tf_queue *q, uint64_t *start) {
    if (!multi_cpu() ||
        atomic_load_explicit(&q->push_cpu, memory_order_relaxed) == sched_getcpu() ||
        atomic_load_explicit(&q->spinning, memory_order_relaxed))
        return 0;
    uint64_t now = tf__clock_real();
    if (now < atomic_load_explicit(&busy_until, memory_order_relaxed) ||
        atomic_exchange_explicit(&q->spinning, 1, memory_order_acquire))
        return 0;
    *start = now;
    uint64_t len = atomic_load_explicit(&q->spin_ns, memory_order_relaxed);
    if (tls_signalled) {
        uint32_t lat = atomic_load_explicit(&wake_latency_ns, memory_order_relaxed);
        len += lat < WAKE_LATENCY_MAX_NS ? lat : WAKE_LATENCY_MAX_NS;
    }
    return len;
}

/* After a failed spin of len that began at start: the wake came from a
 * producer that signalled at sig (0 if none did). */
static void adapt(tf_queue *q, uint64_t start, uint64_t len, uint64_t sig,
                  uint64_t now) {
    if (sig > start) {
        /* Our own wake-up latency, for the next spinner that woke us. */
        uint64_t lat = now - sig;
        if (lat < UINT64_C(10) * WAKE_LATENCY_MAX_NS) {
            uint32_t old = atomic_load_explicit(&wake_latency_ns, memory_order_relaxed);
            uint32_t avg = (uint32_t)(((uint64_t)old * 3 + lat) / 4);
            atomic_store_explicit(&wake_latency_ns, avg, memory_order_relaxed);
        }
    }
    uint64_t arrived = (sig > start ? sig : now) - start;
    uint32_t budget = atomic_load_explicit(&q->spin_ns, memory_order_relaxed);
    uint64_t next = arrived < UINT64_C(2) * len ? (uint64_t)budget * 2 : budget / 2;
    if (next > SPIN_MAX_NS) next = SPIN_MAX_NS;
    if (next < SPIN_MIN_NS) next = SPIN_MIN_NS;
    if (next != budget)
        atomic_store_explicit(&q->spin_ns, (uint32_t)next, memory_order_relaxed);
}

void tf__queue_wait(tf_queue *q, uint64_t deadline, int (*stop)(void *),
                    void *arg) {
    uint64_t start = 0;
    uint64_t len = spin_length(q, &start);
    if (len) {
        int done = spin(q, start + len, deadline, stop, arg);
        atomic_store_explicit(&q->spinning, 0, memory_order_release);
        if (done) {
            tls_signalled = 0;
            return;
        }
        atomic_fetch_add_explicit(&q->spun_sleepers, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&q->sleepers, 1, memory_order_seq_cst);
    for (;;) {
        /* Read first: a wake after the read changes the word, and
         * park_sleep then returns at once. Before the clear below too: a
         * producer that sets signal_pending after the clear (so that later
         * pushes send nothing) changes the word after our read, and its
         * wake is not lost even if it comes before our sleep. */
        uint32_t seen = atomic_load_explicit(&q->park_seq, memory_order_seq_cst);
        /* Cleared before the check, so a push that saw it set (and sent no
         * signal) is seen by the check. */
        atomic_store_explicit(&q->signal_pending, 0, memory_order_seq_cst);
        if (tf__queue_nonempty(q) || stop(arg)) break;
        if (deadline != UINT64_MAX && tf__clock_now() >= deadline) break;
        park_sleep(q, seen, deadline);
        tf__hook(TF_HOOK_QUEUE_WOKEN, q);
    }
    atomic_fetch_sub_explicit(&q->sleepers, 1, memory_order_relaxed);
    uint64_t sig = atomic_load_explicit(&q->signal_ns, memory_order_relaxed);
    tls_signalled = 0;
    if (len) {
        atomic_fetch_sub_explicit(&q->spun_sleepers, 1, memory_order_relaxed);
        adapt(q, start, len, sig, tf__clock_real());
    }
}

void tf__queue_broadcast(tf_queue *q) { park_wake(q, INT_MAX); }
