/* SPDX-License-Identifier: MIT */
/* The executor: ready queues, worker threads, external tasks, the eventfd,
 * shutdown. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "executor_internal.h"
#include "internal.h"

#define MAX_THREADS 1024u
/* Tasks a consumer takes per lock: a batch that stays in the cache from
 * the take (which walks it) to its polls, whether the consumer is alone
 * or one of workers that share the queue (with fewer, workers fight over
 * the queue's lock and its cache lines for every few tasks). Before each poll, a worker hands the rest of
 * its batch back if another consumer sleeps (run_list), so that the tasks
 * do not wait behind that poll while a thread is idle. */
#define BATCH 64u
/* Task objects the spawner takes from the pool per pool lock. Pooling
 * off, one: each is its own allocation anyway, and the allocator (or a
 * test's failing one) sees each spawn's. */
#ifdef TF_NO_POOL
#define TF_SPAWN_BLOCK 1u
#else
#define TF_SPAWN_BLOCK 64u
#endif
_Static_assert(TF_SPAWN_BLOCK <= TF_POOL_CHAIN_MAX, "a refill is one chain");


/* The executors this thread is running (run, run_ready, drain), innermost
 * first, linked through the callers' stack frames: a poll or drop function
 * may free or run any executor except one of these (a task of A that runs
 * B, whose task frees A, must be refused as well as a direct re-entry).
 * Set once per call, not per poll. And the executor a worker thread
 * belongs to. */
typedef struct run_frame {
    tf_executor *e;
    struct run_frame *up;
    tf_poll_slot saved; /* the outer poll's slot (a poll may run us) */
} run_frame;
static _Thread_local run_frame *tls_frames;
static _Thread_local tf_executor *tls_worker_of;

static int running_here(const tf_executor *e) {
    if (tls_worker_of == e) return 1;
    for (const run_frame *f = tls_frames; f; f = f->up)
        if (f->e == e) return 1;
    return 0;
}

static void frame_enter(run_frame *f, tf_executor *e) {
    f->e = e;
    f->up = tls_frames;
    f->saved = tf__task_poll_slot;
    tls_frames = f;
}

static void frame_leave(run_frame *f) {
    tf__task_poll_slot = f->saved;
    tls_frames = f->up;
}

static int check(const tf_executor *e) {
    if (!e) return TF_EINVAL;
    if (tf__magic(e) != TF_MAGIC_EXECUTOR) return TF_EHANDLE;
    if (e->fork_gen != atomic_load_explicit(&tf__fork_generation,
                                            memory_order_relaxed))
        return TF_EFORK;
    return TF_OK;
}

/* --- lifetime ----------------------------------------------------------- */

static void core_destroy(tf_executor *e) {
    tf__queue_destroy(&e->runq);
    tf__queue_destroy(&e->extq);
    pthread_mutex_destroy(&e->pool_lock);
    pthread_mutex_destroy(&e->fd_lock);
    tf__pool_destroy(&e->pool);
    tf__free(e->threads);
    e->magic = TF_MAGIC_DEAD;
    tf__free(e);
    atomic_fetch_sub(&tf__live_objects, 1);
}

/* --- task memory: the spawn lock, the reserve, frees -------------------- */

static void spawn_lock(tf_executor *e) { tf__spin_lock(&e->spawn_lock, 0, NULL); }

/* 1 with the lock taken, 0 if it is held: for callers that hold
 * pool_lock, which comes after it in the lock order and so must not wait. */
static int spawn_trylock(tf_executor *e) { return tf__spin_trylock(&e->spawn_lock); }

static void spawn_unlock(tf_executor *e) { tf__spin_unlock(&e->spawn_lock); }

/* Under pool_lock: frees a chain of tasks (linked through next) into the
 * pool; 1 if a chunk of it emptied. */
static int pool_free_chain(tf_executor *e, tf_task *chain) {
    return tf__pool_free_list(&e->pool, chain, offsetof(tf_task, next));
}

/* Under spawn_lock: takes the whole spawn reserve. */
static tf_task *reserve_take(tf_executor *e) {
    tf_task *chain = e->reserve;
    e->reserve = NULL;
    e->reserve_n = 0;
    return chain;
}

/* Under pool_lock, when a chunk of the pool has just emptied: the pool
 * is shrinking, so the spawn reserve goes back to it. Its objects were
 * carved last, at the top of the heap, and a heap gives memory back to
 * the system from its top only: kept, they would hold a whole burst's
 * memory after the burst. A spawn holding spawn_lock now skips this (the
 * lock order is spawn_lock, then pool_lock, so no waiting here); the
 * next emptied chunk, or tf_executor_free, gives the reserve back. */
static void reserve_flush_locked(tf_executor *e) {
    if (!spawn_trylock(e)) return;
    tf_task *chain = reserve_take(e);
    spawn_unlock(e);
    (void)pool_free_chain(e, chain);
}

/* Under pool_lock: frees a chain of dead tasks into the pool. */
static void free_dead_locked(tf_executor *e, tf_task *chain) {
    if (TF_UNLIKELY(pool_free_chain(e, chain))) reserve_flush_locked(e);
}

/* Under pool_lock: frees the dead tasks left to it, so that whatever is
 * done under the lock sees them freed. */
static void drain_dead_locked(tf_executor *e) {
    if (!atomic_load_explicit(&e->dead_pending, memory_order_relaxed)) return;
    free_dead_locked(e, atomic_exchange_explicit(&e->dead_pending, NULL,
                                                 memory_order_acquire));
}

static void pool_lock_take(tf_executor *e) {
    pthread_mutex_lock(&e->pool_lock);
    drain_dead_locked(e);
}

/* pool_lock is held by another thread: leaves the chain to the lock's
 * next taker while that is allowed (until tf_executor_free begins, which
 * takes the lock last), and returns 1; else 0, the chain untouched, and
 * the caller waits for the lock (it may be the one to free the
 * executor). The executor is not touched after deferring drops, which
 * tf_executor_free waits for. */
static int defer_dead(tf_executor *e, tf_task *chain) {
    atomic_fetch_add(&e->deferring, 1);
    int ok = atomic_load(&e->defer_ok);
    if (ok) {
        tf__hook(TF_HOOK_TASK_RELEASE_DEFER, e);
        tf_task *last = chain;
        for (tf_task *t; (t = tf__task_next(last)) != NULL;) last = t;
        tf_task *head = atomic_load_explicit(&e->dead_pending, memory_order_relaxed);
        do {
            tf__task_set_next(last, head);
        } while (!atomic_compare_exchange_weak_explicit(&e->dead_pending, &head, chain,
                                                        memory_order_release,
                                                        memory_order_relaxed));
    }
    atomic_fetch_sub(&e->deferring, 1);
    return ok;
}

/* Frees a chain of dead tasks (linked through next) under one lock. */
static void dealloc_chain(tf_executor *e, tf_task *chain) {
    /* An executor from before fork(): its pool lock may be held by a
     * thread that does not exist in this process. Leak the tasks, as the
     * executor itself is leaked (tf_executor_free refuses it). */
    if (TF_UNLIKELY(e->fork_gen != atomic_load_explicit(&tf__fork_generation,
                                                        memory_order_relaxed)))
        return;
    if (pthread_mutex_trylock(&e->pool_lock) != 0) {
        if (defer_dead(e, chain)) return;
        pthread_mutex_lock(&e->pool_lock);
    }
    drain_dead_locked(e);
    free_dead_locked(e, chain);
    int last = !e->handle_alive && e->pool.live == 0;
    pthread_mutex_unlock(&e->pool_lock);
    if (last) core_destroy(e);
}

void tf__executor_task_dealloc(tf_task *t) {
    tf__task_set_next(t, NULL);
    dealloc_chain(tf__task_exec(t), t);
}

/* --- eventfd ------------------------------------------------------------
 *
 * Invariant: efd_signalled and the eventfd's counter change together,
 * under fd_lock, so that outside the lock the fd is readable exactly when
 * efd_signalled is set. A producer pushes its task, then signals unless
 * the flag is already set; a consumer clears flag and counter together,
 * then re-checks the queues. Both sides order "write one, read the other"
 * with sequentially consistent operations (a Dekker pair), so either the
 * producer sees the cleared flag and signals, or the consumer sees the
 * task and signals. No read can swallow a write whose flag stays set, and
 * no write can land after its flag was cleared. docs/design.md states it
 * and tests/models/eventfd.pml checks it. */

/* Under fd_lock: make the fd readable (the flag is clear). */
static void fd_write_locked(tf_executor *e, int fd) {
    uint64_t one = 1;
    /* EAGAIN only if the counter is saturated: still readable. */
    ssize_t rc = write(fd, &one, sizeof(one));
    (void)rc;
    atomic_store(&e->efd_signalled, 1);
}

static void fd_signal(tf_executor *e) {
    if (atomic_load(&e->efd_signalled)) return;
    tf__hook(TF_HOOK_FD_SIGNAL_LOCK, e);
    pthread_mutex_lock(&e->fd_lock);
    /* Read under the lock: tf_executor_free closes the descriptor under
     * it, so its number cannot be reused between this read and the
     * write. */
    int fd = atomic_load_explicit(&e->efd, memory_order_relaxed);
    if (fd >= 0 && !atomic_load_explicit(&e->efd_signalled, memory_order_relaxed))
        fd_write_locked(e, fd);
    pthread_mutex_unlock(&e->fd_lock);
}

static int fd_has_work(tf_executor *e) {
    return tf__queue_nonempty(&e->extq) ||
           (e->nthreads == 0 && tf__queue_nonempty(&e->runq));
}

/* Called by a consumer that found its queue empty (or took what it may):
 * make the fd unreadable, then re-check, so a push that raced with the
 * drain re-signals it. */
static void fd_rearm(tf_executor *e) {
    if (atomic_load(&e->efd) < 0) return;
    pthread_mutex_lock(&e->fd_lock);
    int fd = atomic_load_explicit(&e->efd, memory_order_relaxed);
    if (fd >= 0 && atomic_load_explicit(&e->efd_signalled, memory_order_relaxed)) {
        uint64_t v;
        ssize_t rc = read(fd, &v, sizeof(v)); /* the whole counter */
        (void)rc;
        atomic_store(&e->efd_signalled, 0);
    }
    tf__hook(TF_HOOK_FD_REARM_CLEARED, e);
    pthread_mutex_unlock(&e->fd_lock);
    /* The flag's clear must be ordered before the queues' re-check. */
    atomic_thread_fence(memory_order_seq_cst);
    if (fd_has_work(e)) fd_signal(e);
}

/* --- scheduling --------------------------------------------------------- */

static void drain_queue(tf_queue *q) {
    tf_task *list;
    while (tf__queue_pop_batch(q, &list, SIZE_MAX)) {
        while (list) {
            tf_task *next = tf__task_next(list);
            tf__task_unref(list);
            list = next;
        }
    }
}

/* Queues SCHEDULED tasks of one kind: one task (first == last) lock-free,
 * or a consumer's batch (first ... last, in queue order) appended to a
 * lane. New C tasks have a lane of their own, so that a task woken (by its
 * timer, say) is not polled only after every task spawned before its wake:
 * a million new tasks take a good part of a second to pass. External tasks
 * use one lane: tf_executor_next() hands them out in wake order, spawns
 * counting as wakes. */
static void schedule_chain(tf_executor *e, int lane, tf_task *first,
                           tf_task *last) {
    if (TF_UNLIKELY(e->fork_gen != atomic_load_explicit(
                                       &tf__fork_generation,
                                       memory_order_relaxed)))
        return; /* its threads and locks did not survive fork() */
    int external = (tf__task_flags(first) & TF_TASK_EXTERNAL) != 0;
    tf_queue *q = external ? &e->extq : &e->runq;
    tf__queue_push_chain(q, external ? TF_QUEUE_WOKEN : lane, first, last);
    tf__hook(TF_HOOK_SCHEDULE_PUSHED, e);
    /* A shutdown that began before our push may have drained the queue
     * already: then nobody else will release what we pushed. */
    if (TF_UNLIKELY(atomic_load(&e->shutdown))) {
        drain_queue(q);
        return;
    }
    /* Sequentially consistent: pairs with tf_executor_fd's store of efd
     * before its check of the queues. */
    if ((external || e->nthreads == 0) && atomic_load(&e->efd) >= 0)
        fd_signal(e);
}

void tf__executor_schedule(tf_executor *e, tf_task *t) {
    schedule_chain(e, TF_QUEUE_WOKEN, t, t);
}

static void notify_if_sleepers(tf_queue *q) {
    if (atomic_load(&q->sleepers) != 0) tf__queue_broadcast(q);
}

/* What a batch of polls leaves to do once: tasks to queue again (woken
 * during their poll), the count of completed tasks, and dead tasks to
 * free. Doing each with one queue operation, one atomic and one lock per
 * batch keeps workers and spawners off each other's cache lines. A long
 * batch is settled every FLUSH_EVERY polls, while its tasks are still in
 * the cache (a million-task batch settled at the end would walk cold
 * memory again). */
#define FLUSH_EVERY 64u

typedef struct batch {
    tf_task *requeue_first, *requeue_last; /* in queue order */
    tf_task *dead;
    long completed;
} batch;

/* Live C tasks: see executor_internal.h for the order of the loads. */
static long live_tasks(tf_executor *e) {
    long f = atomic_load(&e->finished);
    return atomic_load(&e->spawned) - f;
}

/* Counts n C tasks finished; returns the live count left. */
static long finish(tf_executor *e, long n) {
    long f = atomic_fetch_add(&e->finished, n) + n;
    return atomic_load(&e->spawned) - f;
}

/* Runs a C task's drop function, and frees its cold part: nothing reads
 * it once the task is complete. */
static void task_drop(tf_executor *e, tf_task *t) {
    if (TF_LIKELY(t->fn != TF_TASK_FN_COLD)) {
        tf_drop_fn drop = e->fns[t->fn].drop;
        if (drop) drop(t->v.data);
        return;
    }
    tf_task_cold *c = t->v.data;
    t->v.data = NULL;
    if (c->drop) c->drop(c->data);
    tf__free(c);
}

static void requeue(batch *b, tf_task *t) {
    tf__task_set_next(t, NULL);
    if (b->requeue_last) tf__task_set_next(b->requeue_last, t);
    else b->requeue_first = t;
    b->requeue_last = t;
}

static void run_task(tf_executor *e, tf_task *t, batch *b) {
    unsigned flags = tf__task_flags(t);
    if (flags & TF_TASK_CARRIED) {
        /* Re-queued while RUNNING: still ours, only a shutdown may have
         * completed it meanwhile. */
        tf__task_set_flags(t, flags & ~(unsigned)TF_TASK_CARRIED);
        if (!tf__task_begin_carried(t)) return;
    } else if (!tf__task_begin_poll(t)) {
        return;
    }
    tf_poll_slot *slot = &tf__task_poll_slot;
    slot->cur = t;
    slot->woken = 0;
    int r;
    if (TF_LIKELY(t->fn != TF_TASK_FN_COLD)) {
        r = e->fns[t->fn].poll(t->v.data, (const tf_waker *)t);
    } else {
        tf_task_cold *c = t->v.data;
        r = c->poll(c->data, (const tf_waker *)t);
    }
    int woken = slot->woken;
    slot->cur = NULL;
    if (r == TF_PENDING) {
        if (woken) {
            /* It woke itself: queue it again still RUNNING, the running
             * reference becoming the queue's. A remote wake meanwhile set
             * or sets NOTIFIED, seen by the end of its next poll. */
            tf__task_set_flags(t, flags | TF_TASK_CARRIED);
            tf__hook(TF_HOOK_TASK_CARRIED, t);
            requeue(b, t);
        } else if (tf__task_end_poll_pending(t)) {
            requeue(b, t);
        }
        return;
    }
    task_drop(e, t);
    b->completed++;
    if (tf__task_end_poll_complete(t) == 2) {
        tf__task_set_next(t, b->dead);
        b->dead = t;
    }
}

/* Settles a batch. The dead tasks go last: freeing them may free the
 * executor (its handle gone and this its last memory). */
static void settle(tf_executor *e, batch *b) {
    if (b->completed) {
        long n = b->completed;
        b->completed = 0;
        if (finish(e, n) == 0) notify_if_sleepers(&e->runq);
    }
    if (b->requeue_first)
        schedule_chain(e, TF_QUEUE_WOKEN, b->requeue_first, b->requeue_last);
    b->requeue_first = b->requeue_last = NULL;
    if (b->dead) dealloc_chain(e, b->dead);
    b->dead = NULL;
}

/* Queues the rest of a batch again, ahead of new tasks. */
static void give_back(tf_executor *e, tf_task *list) {
    tf_task *last = list;
    for (tf_task *t; (t = tf__task_next(last)) != NULL;) last = t;
    schedule_chain(e, TF_QUEUE_WOKEN, list, last);
}

static void run_list(tf_executor *e, tf_task *list) {
    batch b = {NULL, NULL, NULL, 0};
    unsigned n = 0;
    while (list) {
        tf_task *next = tf__task_next(list);
        /* Before each poll (which may be long): another consumer sleeps,
         * so the rest of the batch goes to it rather than wait here. */
        if (next && e->nthreads &&
            TF_UNLIKELY(atomic_load_explicit(&e->runq.sleepers, memory_order_relaxed) != 0)) {
            give_back(e, next);
            next = NULL;
        }
        run_task(e, list, &b);
        list = next;
        if (++n == FLUSH_EVERY) {
            settle(e, &b);
            n = 0;
        }
    }
    settle(e, &b);
}

static int stop_shutdown(void *arg) {
    return atomic_load(&((tf_executor *)arg)->shutdown);
}

static int stop_run(void *arg) {
    tf_executor *e = arg;
    return atomic_load(&e->shutdown) || live_tasks(e) == 0;
}

static int stop_next(void *arg) {
    tf_executor *e = arg;
    return atomic_load(&e->shutdown) || atomic_load(&e->live_external) == 0;
}

static void *worker_main(void *arg) {
    tf_executor *e = arg;
    tls_worker_of = e;
    tf__thread_name("tf-worker");
    while (!atomic_load(&e->shutdown)) {
        tf_task *list;
        if (tf__queue_pop_batch(&e->runq, &list, BATCH))
            run_list(e, list);
        else
            tf__queue_wait(&e->runq, UINT64_MAX, stop_shutdown, e);
    }
    return NULL;
}

/* --- public API --------------------------------------------------------- */

static void stop_workers(tf_executor *e, uint32_t started) {
    atomic_store(&e->shutdown, 1);
    tf__queue_broadcast(&e->runq);
    for (uint32_t i = 0; i < started; i++) pthread_join(e->threads[i], NULL);
}

int tf_executor_new(uint32_t threads, tf_executor **out) {
    if (!out || threads > MAX_THREADS) return TF_EINVAL;
    tf_executor *e = tf__calloc(sizeof(*e));
    if (!e) return TF_ENOMEM;
    int rc = TF_ENOMEM;
    if (tf__queue_init(&e->runq) != TF_OK) goto fail_mem;
    if (tf__queue_init(&e->extq) != TF_OK) goto fail_runq;
    if (tf__mutex_init(&e->pool_lock) != 0) goto fail_extq;
    if (pthread_mutex_init(&e->fd_lock, NULL) != 0) goto fail_pool_lock;
    if (threads) {
        e->threads = tf__alloc(threads * sizeof(pthread_t));
        if (!e->threads) goto fail_fd_lock;
    }
    e->magic = TF_MAGIC_EXECUTOR;
    e->fork_gen = atomic_load(&tf__fork_generation);
    tf__pool_init(&e->pool, sizeof(tf_task));
    /* A task finds its executor through its pool chunk (tf__task_exec). */
    e->pool.owner = e;
    e->handle_alive = 1;
    atomic_init(&e->defer_ok, 1);
    atomic_init(&e->efd, -1);
    e->nthreads = threads;
    for (uint32_t i = 0; i < threads; i++) {
        if (!tf__thread_create_allowed() ||
            pthread_create(&e->threads[i], NULL, worker_main, e) != 0) {
            stop_workers(e, i);
            rc = TF_ETHREAD;
            tf__free(e->threads);
            e->magic = TF_MAGIC_DEAD;
            goto fail_fd_lock;
        }
    }
    atomic_fetch_add(&tf__live_objects, 1);
    *out = e;
    return TF_OK;

fail_fd_lock:
    pthread_mutex_destroy(&e->fd_lock);
fail_pool_lock:
    pthread_mutex_destroy(&e->pool_lock);
fail_extq:
    tf__queue_destroy(&e->extq);
fail_runq:
    tf__queue_destroy(&e->runq);
fail_mem:
    tf__free(e);
    return rc;
}

/* Under spawn_lock: the slot of the pair (poll, drop), filled if new, or
 * TF_TASK_FN_COLD when the table is full. Open addressing from a hash of
 * the pair; the latest spawn's slot is tried first, the common case of
 * many tasks with the same functions. */
static uint32_t fn_slot(tf_executor *e, tf_poll_fn poll, tf_drop_fn drop) {
    tf_task_fns *h = &e->fns[e->fn_hint];
    if (h->poll == poll && h->drop == drop) return e->fn_hint;
    uintptr_t k = (uintptr_t)poll * 31u + (uintptr_t)drop;
    uint32_t i = (uint32_t)((k ^ (k >> 7) ^ (k >> 17)) % TF_TASK_FN_SLOTS);
    for (uint32_t n = 0; n < TF_TASK_FN_SLOTS; n++) {
        tf_task_fns *f = &e->fns[i];
        if (!f->poll) {
            f->poll = poll;
            f->drop = drop;
            e->fn_hint = i;
            return i;
        }
        if (f->poll == poll && f->drop == drop) {
            e->fn_hint = i;
            return i;
        }
        if (++i == TF_TASK_FN_SLOTS) i = 0;
    }
    return TF_TASK_FN_COLD; /* every slot holds another pair */
}

/* Under spawn_lock: a block of pool objects for the reserve. 0 if the
 * allocator gave none. */
static int reserve_fill(tf_executor *e) {
    /* In the order the pool hands them out (address order in a fresh
     * chunk), so that tasks spawned in a row are queued, and walked, in
     * ascending addresses, which the hardware prefetcher follows. */
    /* Magic 0: not a task yet, so shutdown's walk skips it. */
    void *first;
    pool_lock_take(e);
    size_t n = tf__pool_alloc_chain(&e->pool, TF_SPAWN_BLOCK, offsetof(tf_task, next), &first);
    e->reserve = first;
    e->reserve_n = (uint32_t)n;
    pthread_mutex_unlock(&e->pool_lock);
    return e->reserve != NULL;
}

/* Gives the reserve back to the pool (tf_executor_free: no spawn
 * follows). */
static void reserve_release(tf_executor *e) {
    spawn_lock(e);
    tf_task *chain = reserve_take(e);
    spawn_unlock(e);
    pool_lock_take(e);
    (void)pool_free_chain(e, chain);
    pthread_mutex_unlock(&e->pool_lock);
}

/* A new task, scheduled at once: the lifetime reference and the queue's.
 * Made whole under spawn_lock, which shutdown's walk of the pool also
 * holds, so that it never sees a half-made task. */
static int spawn_task(tf_executor *e, uint8_t flags, tf_poll_fn poll,
                      tf_drop_fn drop, void *data, uint64_t tag) {
    spawn_lock(e);
    int rc = TF_ENOMEM;
    if (atomic_load_explicit(&e->shutdown, memory_order_relaxed)) {
        rc = TF_ESHUTDOWN;
        goto fail;
    }
    uint32_t fn = 0;
    tf_task_cold *cold = NULL;
    if (!(flags & TF_TASK_EXTERNAL)) {
        fn = fn_slot(e, poll, drop);
        if (TF_UNLIKELY(fn == TF_TASK_FN_COLD)) {
            cold = tf__alloc(sizeof(*cold));
            if (!cold) goto fail;
            *cold = (tf_task_cold){poll, drop, data};
        }
    }
    if (TF_UNLIKELY(!e->reserve) && !reserve_fill(e)) {
        tf__free(cold);
        goto fail;
    }
    tf_task *t = e->reserve;
    e->reserve = tf__task_next(t);
    e->reserve_n--;
    t->magic = TF_MAGIC_TASK;
    t->fn = (uint8_t)fn;
    atomic_init(&t->flags, flags);
    atomic_init(&t->state, TF_TASK_SCHEDULED | 2 * TF_TASK_REF_ONE);
    atomic_init(&t->next, NULL);
    if (flags & TF_TASK_EXTERNAL) {
        t->v.tag = tag;
    } else {
        t->v.data = cold ? (void *)cold : data;
        atomic_store_explicit(
            &e->spawned,
            atomic_load_explicit(&e->spawned, memory_order_relaxed) + 1,
            memory_order_relaxed);
    }
    spawn_unlock(e);
    if (flags & TF_TASK_EXTERNAL) atomic_fetch_add(&e->live_external, 1);
    schedule_chain(e, TF_QUEUE_NEW, t, t);
    return TF_OK;
fail:
    spawn_unlock(e);
    return rc;
}

int tf_executor_spawn(tf_executor *e, tf_poll_fn poll, tf_drop_fn drop,
                      void *state) {
    int rc = check(e);
    if (rc) return rc;
    if (!poll) return TF_EINVAL;
    return spawn_task(e, 0, poll, drop, state, 0);
}

int tf_executor_spawn_external(tf_executor *e, uint64_t tag) {
    int rc = check(e);
    if (rc) return rc;
    return spawn_task(e, TF_TASK_EXTERNAL, NULL, NULL, NULL, tag);
}

/* The checks every call that polls C tasks on the caller's thread makes:
 * run, run_ready and drain. */
static int check_runner(tf_executor *e) {
    int rc = check(e);
    if (rc) return rc;
    /* From a poll or drop function of e, of a nested executor's task, or
     * on one of e's workers: the outer call would use what this frees,
     * or never return. */
    if (running_here(e)) return TF_EBUSY;
    if (atomic_load(&e->shutdown)) return TF_ESHUTDOWN;
    return TF_OK;
}

int tf_executor_run(tf_executor *e) {
    int rc = check_runner(e);
    if (rc) return rc;
    run_frame frame;
    frame_enter(&frame, e);
    for (;;) {
        tf_task *list;
        if (tf__queue_pop_batch(&e->runq, &list, BATCH)) {
            run_list(e, list);
            continue;
        }
        if (live_tasks(e) == 0) break;
        if (atomic_load(&e->shutdown)) {
            rc = TF_ESHUTDOWN;
            break;
        }
        tf__queue_wait(&e->runq, UINT64_MAX, stop_run, e);
    }
    frame_leave(&frame);
    if (rc == TF_OK) fd_rearm(e);
    return rc;
}

/* Polls the C tasks that are ready, and those woken meanwhile, up to a
 * bound, so a task that always wakes itself cannot keep the caller here
 * for ever. Returns the number of polls. */
static uint64_t run_bounded(tf_executor *e) {
    uint64_t bound = 2 * (uint64_t)live_tasks(e) + 64;
    uint64_t count = 0;
    while (count < bound) {
        tf_task *list;
        uint64_t left = bound - count;
        size_t n = tf__queue_pop_batch(&e->runq, &list,
                                       left < 1024 ? (size_t)left : 1024);
        if (!n) break;
        run_list(e, list);
        count += n;
    }
    return count;
}

int tf_executor_run_ready(tf_executor *e, uint64_t *polled) {
    int rc = check_runner(e);
    if (rc) return rc;
    run_frame frame;
    frame_enter(&frame, e);
    uint64_t count = run_bounded(e);
    frame_leave(&frame);
    fd_rearm(e);
    if (polled) *polled = count;
    return TF_OK;
}

int tf_executor_drain(tf_executor *e, uint64_t *tags, const tf_waker **wakers,
                      size_t capacity, size_t *taken) {
    if (!e || !taken || (capacity && (!tags || !wakers))) return TF_EINVAL;
    int rc = check_runner(e);
    if (rc) return rc;
    run_frame frame;
    frame_enter(&frame, e);
    if (e->nthreads == 0) run_bounded(e);
    frame_leave(&frame);
    size_t n = 0;
    while (n < capacity) {
        tf_task *list;
        if (!tf__queue_pop_batch(&e->extq, &list, capacity - n)) break;
        while (list) {
            tf_task *t = list;
            list = tf__task_next(t);
            /* Completed by a shutdown while queued: nothing to hand out. */
            if (!tf__task_begin_poll(t)) continue;
            tags[n] = t->v.tag;
            wakers[n] = (const tf_waker *)t;
            n++;
        }
    }
    fd_rearm(e);
    *taken = n;
    /* The re-arm left the fd readable if this is 1. */
    return fd_has_work(e) ? 1 : 0;
}

int tf_executor_count(tf_executor *e, uint64_t *tasks, uint64_t *external) {
    if (!e || !tasks) return TF_EINVAL;
    int rc = check(e);
    if (rc) return rc;
    *tasks = (uint64_t)live_tasks(e);
    if (external) *external = (uint64_t)atomic_load(&e->live_external);
    return TF_OK;
}

int tf_executor_next(tf_executor *e, uint64_t timeout_ns, uint64_t *tag,
                     const tf_waker **waker) {
    int rc = check(e);
    if (rc) return rc;
    if (!tag || !waker) return TF_EINVAL;
    uint64_t deadline;
    if (timeout_ns == TF_TIMEOUT_INFINITE) {
        deadline = UINT64_MAX;
    } else {
        uint64_t now = timeout_ns ? tf__clock_now() : 0;
        deadline = timeout_ns > UINT64_MAX - 1 - now ? UINT64_MAX - 1
                                                     : now + timeout_ns;
    }
    for (;;) {
        tf_task *t;
        if (tf__queue_pop_batch(&e->extq, &t, 1)) {
            if (!tf__task_begin_poll(t)) continue;
            *tag = t->v.tag;
            *waker = (const tf_waker *)t;
            return TF_OK;
        }
        fd_rearm(e);
        if (tf__queue_nonempty(&e->extq)) continue;
        if (atomic_load(&e->shutdown)) return TF_ESHUTDOWN;
        if (atomic_load(&e->live_external) == 0) return TF_EEMPTY;
        if (timeout_ns == 0 || tf__clock_now() >= deadline) return TF_ETIMEDOUT;
        tf__queue_wait(&e->extq, deadline, stop_next, e);
    }
}

int tf_executor_report(tf_executor *e, const tf_waker *waker, int result) {
    if (!e || !waker) return TF_EINVAL;
    if (tf__magic(e) != TF_MAGIC_EXECUTOR) return TF_EHANDLE;
    if (e->fork_gen != atomic_load_explicit(&tf__fork_generation,
                                            memory_order_relaxed))
        return TF_EFORK;
    if (tf__magic(waker) != TF_MAGIC_TASK) return TF_EHANDLE;
    tf_task *t = (tf_task *)waker;
    if (!(tf__task_flags(t) & TF_TASK_EXTERNAL) || tf__task_exec(t) != e) return TF_EHANDLE;
    if (result != TF_PENDING && result != TF_READY) return TF_EINVAL;
    uint32_t st = atomic_load(&t->state);
    if (!(st & TF_TASK_RUNNING)) return TF_ESTATE;
    if (st & TF_TASK_COMPLETE) {
        /* Shut down while the caller was polling it. */
        tf__task_unref(t);
        return TF_ESHUTDOWN;
    }
    if (result == TF_PENDING) {
        if (tf__task_end_poll_pending(t)) tf__executor_schedule(e, t);
    } else {
        if (atomic_fetch_sub(&e->live_external, 1) == 1)
            notify_if_sleepers(&e->extq);
        if (tf__task_end_poll_complete(t) == 2) tf__executor_task_dealloc(t);
    }
    return TF_OK;
}

int tf_executor_fd(tf_executor *e, int *fd) {
    int rc = check(e);
    if (rc) return rc;
    if (!fd) return TF_EINVAL;
    pthread_mutex_lock(&e->fd_lock);
    int f = atomic_load(&e->efd);
    if (f < 0) {
        f = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (f < 0) {
            pthread_mutex_unlock(&e->fd_lock);
            return TF_ESYS;
        }
        atomic_store(&e->efd, f);
        /* Work queued before the fd existed must show too: a producer
         * that pushed before our store saw no fd and did not signal. */
        atomic_thread_fence(memory_order_seq_cst);
        if (fd_has_work(e) && !atomic_load(&e->efd_signalled))
            fd_write_locked(e, f);
    }
    pthread_mutex_unlock(&e->fd_lock);
    *fd = f;
    return TF_OK;
}

/* Tasks that shutdown completed, to drop outside the pool lock. A task
 * has no spare link for this list, so it is an array: sized for every
 * live task, or (if that allocation fails) a small one filled in
 * several walks of the pool. */
typedef struct reap_list {
    tf_task **v;
    size_t n, cap;
} reap_list;

static void mark_complete(void *obj, void *arg) {
    tf_task *t = obj;
    reap_list *r = arg;
    uint32_t cur = atomic_load(&t->state);
    if (cur & TF_TASK_COMPLETE) return; /* finished, or reaped already */
    if (r->n == r->cap) return;         /* for the next walk */
    for (;;) {
        uint32_t next = (cur | TF_TASK_COMPLETE) & ~(uint32_t)TF_TASK_NOTIFIED;
        if (atomic_compare_exchange_weak(&t->state, &cur, next)) break;
        if (cur & TF_TASK_COMPLETE) return;
    }
    /* From now on no wake can queue it: its lifetime reference is ours to
     * release, after its future is dropped outside the lock. */
    r->v[r->n++] = t;
}

int tf_executor_free(tf_executor *e) {
    if (!e) return TF_OK;
    if (tf__magic(e) != TF_MAGIC_EXECUTOR) return TF_EHANDLE;
    if (e->fork_gen != atomic_load(&tf__fork_generation)) return TF_EFORK;
    if (running_here(e)) return TF_EBUSY;
    if (atomic_exchange(&e->shutdown, 1)) return TF_ESHUTDOWN;
    stop_workers(e, e->nthreads);
    tf__queue_broadcast(&e->extq);

    pool_lock_take(e);
    size_t live = e->pool.live; /* only falls: spawns are refused now */
    pthread_mutex_unlock(&e->pool_lock);
    tf_task *small[64];
    reap_list r = {NULL, 0, 0};
    if (live > 64) r.v = tf__alloc(live * sizeof(*r.v));
    r.cap = r.v ? live : 64;
    if (!r.v) r.v = small;
    do {
        r.n = 0;
        spawn_lock(e); /* a spawn in progress finishes its task first */
        pool_lock_take(e);
        tf__pool_each(&e->pool, mark_complete, &r);
        pthread_mutex_unlock(&e->pool_lock);
        spawn_unlock(e);
        drain_queue(&e->runq);
        drain_queue(&e->extq);
        for (size_t i = 0; i < r.n; i++) {
            tf_task *t = r.v[i];
            if (tf__task_flags(t) & TF_TASK_EXTERNAL) {
                atomic_fetch_sub(&e->live_external, 1);
            } else {
                task_drop(e, t);
                finish(e, 1);
            }
            tf__task_unref(t);
        }
    } while (r.n == r.cap); /* a full list may have left tasks unmarked */
    if (r.v != small) tf__free(r.v);
    /* Under fd_lock: a wake racing with us either wrote before we took
     * the descriptor away or sees -1; none writes to a closed (perhaps
     * already reused) number. */
    pthread_mutex_lock(&e->fd_lock);
    int fd = atomic_exchange(&e->efd, -1);
    pthread_mutex_unlock(&e->fd_lock);
    if (fd >= 0) close(fd);

    reserve_release(e);
    /* From here releasers wait for the lock instead of deferring; one
     * that looked before may still be pushing its chain: let it finish,
     * then take the lock, which frees every deferred chain. */
    atomic_store(&e->defer_ok, 0);
    for (unsigned i = 0; atomic_load(&e->deferring); i++) {
        if (i < 64) tf__cpu_relax();
        else sched_yield();
    }
    pool_lock_take(e);
    e->handle_alive = 0;
    int last = e->pool.live == 0;
    pthread_mutex_unlock(&e->pool_lock);
    if (last) core_destroy(e);
    return TF_OK;
}
