/* SPDX-License-Identifier: MIT */
/* The timer driver: one thread for every timer of the process. It sleeps
 * until the earliest deadline, fires what is due, and wakes the wakers
 * outside its lock, so a waker's code may call back into the library. */
#include <errno.h>
#include <sys/prctl.h>
#include <time.h>

#include "clock.h"
#include "executor_internal.h"
#include "internal.h"
#include "timer_driver.h"

tf_driver tf__driver = {
    /* Adaptive: spins briefly before sleeping. The lock is held for short
     * stretches by the driver and by every timer call, and glibc's default
     * mutex would put the loser to sleep at once. */
    .lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
    .pool_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
    .sleep_until = UINT64_MAX,
};

static _Thread_local int tls_is_driver;
static int conds_ready;


static void init_conds(void) {
    /* Deadlines are monotonic: the driver's condition waits must be too. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&tf__driver.wakeup, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&tf__driver.fire_done, NULL);
}

/* Ends a batch: settles each timer according to what the wakes did to it.
 * Returns the timers that a waker reset into the past: they are due, so
 * they form the next batch at once (still FIRING, their deadline kept as
 * given); the batch is over only when that is empty. */
static struct tf_timer *finish_batch(struct tf_timer *list) {
    tf_driver *d = &tf__driver;
    struct tf_timer *refire = NULL;
    pthread_mutex_lock(&d->lock);
    while (list) {
        struct tf_timer *t = list, *next = t->next;
        t->next = t->prev = NULL;
        switch (atomic_load_explicit(&t->state, memory_order_relaxed)) {
        case TF_TIMER_FIRING:
            atomic_store(&t->state, TF_TIMER_FIRED);
            break;
        case TF_TIMER_FIRING_CANCEL:
            atomic_store(&t->state, TF_TIMER_CANCELLED);
            break;
        case TF_TIMER_FIRING_RESET:
            atomic_store(&t->state, TF_TIMER_ARMED);
            if (tf__driver_arm_locked(t)) {
                atomic_store(&t->state, TF_TIMER_FIRING);
                t->next = refire;
                refire = t;
            }
            break;
        case TF_TIMER_FIRING_FREE:
            tf__timer_release(t);
            break;
        }
        list = next;
    }
    if (!refire) {
        d->firing = 0;
        pthread_cond_broadcast(&d->fire_done);
    }
    pthread_mutex_unlock(&d->lock);
    return refire;
}

static void *driver_main(void *arg) {
    (void)arg;
    tf_driver *d = &tf__driver;
    tls_is_driver = 1;
    /* The default 50 us slack would make every sleep late by that much. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        /* Under a test's clock the driver advances only for a sync
         * request, so the test alone decides when timers fire. */
        uint64_t sync = d->sync_req;
        int hooked = tf__clock_hooked();
        if (TF_UNLIKELY(hooked) && d->sync_done == sync) {
            d->sleep_until = tf__wheel_next(&d->wheel);
            pthread_cond_wait(&d->wakeup, &d->lock);
            continue;
        }
        uint64_t now = tf__clock_now();
        struct tf_timer *fired = tf__wheel_advance(&d->wheel, now);
        if (fired) {
            for (struct tf_timer *t = fired; t; t = t->next)
                atomic_store_explicit(&t->state, TF_TIMER_FIRING,
                                      memory_order_relaxed);
            d->firing = 1;
            d->sleep_until = 0; /* new arms need not signal us meanwhile */
            pthread_mutex_unlock(&d->lock);
            while (fired) {
                for (struct tf_timer *t = fired; t; t = t->next) {
                    /* A waker run earlier in this batch may have
                     * cancelled, reset or freed t (on this thread): then
                     * no wake. */
                    uint8_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
                    if (st == TF_TIMER_FIRING_RESET) continue;
                    tf_waker *w = t->waker;
                    t->waker = NULL;
                    if (!w) continue;
                    if (st == TF_TIMER_FIRING)
                        tf_waker_wake(w);
                    else
                        tf_waker_drop(w);
                }
                fired = finish_batch(fired);
            }
            pthread_mutex_lock(&d->lock);
            continue;
        }
        if (TF_UNLIKELY(d->sync_done != sync)) {
            /* Advanced to the clock as it was when asked, every batch
             * (and every re-fire) done: the sync is complete. */
            d->sync_done = sync;
            pthread_cond_broadcast(&d->fire_done);
        }
        uint64_t next = tf__wheel_next(&d->wheel);
        d->sleep_until = next;
        if (next == UINT64_MAX || hooked) {
            pthread_cond_wait(&d->wakeup, &d->lock);
        } else {
            struct timespec ts;
            tf__clock_to_timespec(next, &ts);
            pthread_cond_timedwait(&d->wakeup, &d->lock, &ts);
        }
    }
    d->sleep_until = UINT64_MAX;
    pthread_cond_broadcast(&d->fire_done); /* syncs waiting see stopping */
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void atfork_prepare(void) {
    pthread_mutex_lock(&tf__driver.lock);
    /* A batch being fired is linked only from the driver's stack, which
     * the child will not have: its timers would stay FIRING there, and
     * every reset, cancel or free of one would wait for fire_done for
     * ever. Let the batch finish first (wakers are short by contract);
     * not on the driver thread itself, which would wait for itself. */
    while (tf__driver.firing && !tls_is_driver)
        pthread_cond_wait(&tf__driver.fire_done, &tf__driver.lock);
    pthread_mutex_lock(&tf__driver.pool_lock);
}
static void atfork_parent(void) {
    pthread_mutex_unlock(&tf__driver.pool_lock);
    pthread_mutex_unlock(&tf__driver.lock);
}
static void atfork_child(void) {
    /* Only the forking thread survives: the driver must be started again
     * on the next timer call; timers armed before fork stay armed. The
     * condition variables may have had waiters that no longer exist. */
    tf__driver.running = 0;
    tf__driver.stopping = 0;
    tf__driver.firing = 0;
    tf__driver.sleep_until = UINT64_MAX;
    tf__driver.sync_done = tf__driver.sync_req; /* its waiters are gone */
    if (conds_ready) init_conds();
    atomic_fetch_add(&tf__fork_generation, 1);
    pthread_mutex_unlock(&tf__driver.pool_lock);
    pthread_mutex_unlock(&tf__driver.lock);
}

__attribute__((constructor)) static void driver_init(void) {
    tf__pool_init(&tf__driver.timers, sizeof(struct tf_timer));
    tf__wheel_init(&tf__driver.wheel, tf__clock_now());
    init_conds();
    conds_ready = 1;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void driver_stop(void) {
    tf_driver *d = &tf__driver;
    pthread_mutex_lock(&d->lock);
    if (!d->running || tls_is_driver) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    d->stopping = 1;
    pthread_cond_signal(&d->wakeup);
    pthread_t th = d->thread;
    pthread_mutex_unlock(&d->lock);
    pthread_join(th, NULL);
    pthread_mutex_lock(&d->lock);
    d->running = 0;
    d->stopping = 0;
    pthread_mutex_unlock(&d->lock);
}

/* At dlclose() or exit: no thread of ours may outlive the code it runs. */
__attribute__((destructor)) static void driver_fini(void) {
    tf__driver_release_cache();
}

int tf__driver_ensure_locked(void) {
    tf_driver *d = &tf__driver;
    if (TF_LIKELY(d->running)) return TF_OK;
    if (!tf__thread_create_allowed()) return TF_ETHREAD;
    /* Timers armed while no thread ran (after fork, or before a failed
     * start) are still in the wheel; the new thread picks them up. */
    d->stopping = 0;
    d->sleep_until = 0;
    if (pthread_create(&d->thread, NULL, driver_main, NULL) != 0)
        return TF_ETHREAD;
    d->running = 1;
    return TF_OK;
}

int tf__driver_arm_locked(struct tf_timer *t) {
    tf_driver *d = &tf__driver;
    if (tf__wheel_insert(&d->wheel, t)) return 1;
    if (t->deadline < d->sleep_until) {
        d->sleep_until = t->deadline;
        pthread_cond_signal(&d->wakeup);
    }
    return 0;
}

int tf__timer_state_firing(uint8_t st) {
    return st == TF_TIMER_FIRING || st >= TF_TIMER_FIRING_CANCEL;
}

int tf__driver_wait_not_firing_locked(struct tf_timer *t) {
    if (tls_is_driver) return 1;
    while (tf__timer_state_firing(
        atomic_load_explicit(&t->state, memory_order_relaxed)))
        pthread_cond_wait(&tf__driver.fire_done, &tf__driver.lock);
    return 0;
}

void tf__driver_release_cache(void) {
    driver_stop();
    pthread_mutex_lock(&tf__driver.pool_lock);
    if (tf__driver.timers.live == 0) tf__pool_destroy(&tf__driver.timers);
    pthread_mutex_unlock(&tf__driver.pool_lock);
}

size_t tf__driver_live_timers(void) {
    pthread_mutex_lock(&tf__driver.pool_lock);
    size_t n = tf__driver.timers.live;
    pthread_mutex_unlock(&tf__driver.pool_lock);
    return n;
}

struct tf_timer *tf__timer_alloc(void) {
    pthread_mutex_lock(&tf__driver.pool_lock);
    struct tf_timer *t = tf__pool_alloc(&tf__driver.timers);
    pthread_mutex_unlock(&tf__driver.pool_lock);
    return t;
}

void tf__timer_release(struct tf_timer *t) {
    pthread_mutex_lock(&tf__driver.pool_lock);
    tf__pool_free(&tf__driver.timers, t);
    pthread_mutex_unlock(&tf__driver.pool_lock);
}

int tf__driver_sync(void) {
    tf_driver *d = &tf__driver;
    if (tls_is_driver) return TF_EBUSY; /* it would wait for itself */
    pthread_mutex_lock(&d->lock);
    int rc = tf__driver_ensure_locked();
    if (rc == TF_OK) {
        uint64_t want = ++d->sync_req;
        pthread_cond_signal(&d->wakeup);
        while (d->sync_done < want && !d->stopping)
            pthread_cond_wait(&d->fire_done, &d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}
