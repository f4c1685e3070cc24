/* SPDX-License-Identifier: MIT */
/* Timer drivers. A driver keeps a wheel of armed timers on one clock and
 * fires what is due: on a thread of its own that sleeps until the earliest
 * deadline, or on the host's thread inside tf_driver_advance(). Wakers are
 * woken outside the driver's lock, so a waker's code may call back into
 * the library. Each driver has its own locks: timers of different drivers
 * never contend. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "driver.h"
#include "internal.h"

static tf_driver default_driver = {
    .magic = TF_MAGIC_DRIVER,
    .index = 0,
    .clock = TF_CLOCK_MONOTONIC,
    .mode = TF_DRIVER_MODE_THREAD,
    /* Adaptive: spins briefly before sleeping. The lock is held for short
     * stretches by the driver and by every timer call, and glibc's default
     * mutex would put the loser to sleep at once. */
    .lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
    .pool_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
    .sleep_until = UINT64_MAX,
    .tfd = -1,
    .efd = -1,
};

/* Live drivers by index. Written under registry_lock, read without it: a
 * timer's driver outlives the timer, and whoever passed a timer to another
 * thread synchronized with its creation. */
static tf_driver *_Atomic registry[TF_DRIVER_MAX] = {&default_driver};
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned others_alive; /* under registry_lock */

/* The driver whose batch this thread is firing: set for a driver's whole
 * thread, and around the batches of tf_driver_advance() on a host thread.
 * Its wakes may reset, cancel or free timers of that batch, which must not
 * wait for the batch to end. */
static _Thread_local tf_driver *tls_firing;
static int conds_ready;

/* A deadline plus a tolerance, as a wake-up time: saturates below
 * UINT64_MAX, which means "nothing armed" (the thread would sleep for ever,
 * the host be told there is nothing to wait for). */
static uint64_t sat_add(uint64_t a, uint64_t b) {
    return b >= UINT64_MAX - 1 || a >= UINT64_MAX - 1 - b ? UINT64_MAX - 1 : a + b;
}

static int init_conds(tf_driver *d) {
    /* Deadlines are monotonic: the thread's condition waits must be too. */
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return -1;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&d->wakeup, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) return -1;
    if (pthread_cond_init(&d->fire_done, NULL) != 0) {
        pthread_cond_destroy(&d->wakeup);
        return -1;
    }
    return 0;
}

tf_driver *tf__driver_of(const struct tf_timer *t) {
    return atomic_load_explicit(&registry[t->driver], memory_order_acquire);
}

/* The kernel clock of a real-clock driver's timerfd. */
static clockid_t kernel_clock(const tf_driver *d) {
    return d->clock == TF_CLOCK_BOOTTIME ? CLOCK_BOOTTIME : CLOCK_MONOTONIC;
}

uint64_t tf__driver_clock(const tf_driver *d) {
    switch (d->clock) {
    case TF_CLOCK_BOOTTIME:
        return tf__clock_read(CLOCK_BOOTTIME);
    case TF_CLOCK_MANUAL:
        return atomic_load_explicit(&d->manual_now, memory_order_acquire);
    default:
        return tf__clock_now(); /* the library clock: tests may hook it */
    }
}

/* The smallest tolerance among the armed timers (UINT64_MAX: none armed).
 * Only the earliest deadline decides when to wake, but the wheel cannot say
 * which timer that is without a scan, so the driver assumes the least
 * tolerant timer may be the earliest: never late for any timer. */
static uint64_t tolerance_locked(const tf_driver *d) {
    uint64_t tol = d->slack_count[0] ? d->slack_ns : UINT64_MAX;
    if (d->slack_mask) {
        uint64_t own = UINT64_C(1) << __builtin_ctzll(d->slack_mask);
        if (own < tol) tol = own;
    }
    return tol;
}

/* The end of the coalescing window: a thread-mode driver without slack
 * of its own does not wake again before it. No timer's tolerance is
 * exceeded: the window is no wider than the smallest own slack armed. 0
 * when there is no window. */
static uint64_t coalesce_end_locked(const tf_driver *d) {
    if (d->mode != TF_DRIVER_MODE_THREAD || d->slack_ns || !d->fired_at) return 0;
    uint64_t win = TF_DRIVER_COALESCE_NS;
    if (d->slack_mask) {
        uint64_t own = UINT64_C(1) << __builtin_ctzll(d->slack_mask);
        if (own < win) win = own;
    }
    return sat_add(d->fired_at, win);
}

/* A wake-up time moved to the end of the coalescing window if it falls
 * inside it. */
static uint64_t coalesce_locked(const tf_driver *d, uint64_t when) {
    uint64_t end = coalesce_end_locked(d);
    return when < end ? end : when;
}

uint64_t tf__driver_target_locked(tf_driver *d) {
    uint64_t next = tf__wheel_next(&d->wheel);
    if (next == UINT64_MAX) return UINT64_MAX;
    uint64_t tol = tolerance_locked(d);
    /* A cascade with no armed timer left cannot happen, but stay exact. */
    return coalesce_locked(d, sat_add(next, tol == UINT64_MAX ? 0 : tol));
}

static void count_slack(tf_driver *d, const struct tf_timer *t, int filed) {
    unsigned c = t->reserved;
    if (filed) {
        if (d->slack_count[c]++ == 0 && c) d->slack_mask |= UINT64_C(1) << (c - 1);
    } else {
        if (--d->slack_count[c] == 0 && c) d->slack_mask &= ~(UINT64_C(1) << (c - 1));
    }
}

/* Arms the timerfd to when (absolute, on its clock); UINT64_MAX disarms. */
static void set_tfd(int tfd, uint64_t when) {
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (when != UINT64_MAX) {
        if (when == 0) when = 1; /* an all-zero time would disarm it */
        tf__clock_to_timespec(when, &its.it_value);
    }
    (void)timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Under the lock: the driver must next look at its wheel by `when`. */
static void retarget_locked(tf_driver *d, uint64_t when) {
    d->sleep_until = when;
    if (d->tfd >= 0)
        set_tfd(d->tfd, when); /* host's fd, or the thread's poll() */
    else if (d->mode == TF_DRIVER_MODE_THREAD)
        pthread_cond_signal(&d->wakeup);
    /* A manual clock has nobody to tell: the host advances it. */
}

/* Under the lock: make the thread look at its state (stop, sync). */
static void kick_thread_locked(tf_driver *d) {
    if (d->fd_wait) {
        uint64_t one = 1;
        (void)!write(d->efd, &one, sizeof(one));
    } else {
        pthread_cond_signal(&d->wakeup);
    }
}

/* Ends a batch: settles, under the lock, the timers whose state the wakes
 * changed (the others became FIRED without it). Returns the timers that a
 * waker reset into the past: they are due, so they form the next batch at
 * once (still FIRING, their deadline kept as given); the batch is over only
 * when that is empty. */
static struct tf_timer *finish_batch(tf_driver *d, struct tf_timer *list) {
    struct tf_timer *refire = NULL;
    tf__driver_lock(d); /* timers armed meanwhile file before re-armed ones */
    while (list) {
        struct tf_timer *t = list, *next = t->next;
        t->next = t->prev = NULL;
        switch (atomic_load_explicit(&t->state, memory_order_relaxed)) {
        case TF_TIMER_FIRING_CANCEL:
            atomic_store(&t->state, TF_TIMER_CANCELLED);
            break;
        case TF_TIMER_FIRING_RESET:
            atomic_store(&t->state, TF_TIMER_ARMED);
            if (tf__driver_arm_locked(d, t)) {
                atomic_store(&t->state, TF_TIMER_FIRING);
                t->next = refire;
                refire = t;
            }
            break;
        case TF_TIMER_FIRING_FREE:
            tf__timer_release(d, t);
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

/* Wakes a batch's timers outside the lock. A timer still FIRING after its
 * wake becomes FIRED in one compare-and-swap, the driver's last access to
 * it (a thread that sees FIRED may reset or free it at once), so the
 * common case costs no pass under the lock. Returns the timers a wake run
 * on this thread cancelled, reset or freed (FIRING_*), for finish_batch. */
static struct tf_timer *wake_batch(struct tf_timer *fired) {
    struct tf_timer *changed = NULL, **tail = &changed; /* batch order */
    for (struct tf_timer *t = fired, *next; t; t = next) {
        next = t->next;
        uint8_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
        if (st != TF_TIMER_FIRING_RESET) {
            /* A waker run earlier in this batch may have cancelled or freed
             * t: then its waker is dropped, not woken. */
            tf_waker *w = atomic_exchange_explicit(&t->waker, NULL, memory_order_acq_rel);
            if (w) {
                if (st == TF_TIMER_FIRING)
                    tf_waker_wake(w);
                else
                    tf_waker_drop(w);
            }
            if (st == TF_TIMER_FIRING) {
                t->next = t->prev = NULL;
                uint8_t expect = TF_TIMER_FIRING;
                if (atomic_compare_exchange_strong_explicit(
                        &t->state, &expect, TF_TIMER_FIRED, memory_order_release,
                        memory_order_relaxed))
                    continue;
            }
        }
        *tail = t;
        tail = &t->next;
    }
    *tail = NULL;
    return changed;
}

/* Under the lock (dropped while wakers run, held again on return): fires
 * every timer due at now, and those the wakes re-arm into the past.
 * Returns how many fired. The caller sets tls_firing to d. */
static uint64_t fire_due_locked(tf_driver *d, uint64_t now) {
    tf__driver_drain_locked(d);
    struct tf_timer *fired = tf__wheel_advance(&d->wheel, now);
    if (!fired) return 0;
    uint64_t n = 0;
    for (struct tf_timer *t = fired; t; t = t->next) {
        atomic_store_explicit(&t->state, TF_TIMER_FIRING, memory_order_relaxed);
        count_slack(d, t, 0); /* out of the wheel */
        n++;
    }
    d->firing = 1;
    d->sleep_until = 0; /* new arms need not move the wake-up meanwhile */
    pthread_mutex_unlock(&d->lock);
    while (fired) {
        fired = finish_batch(d, wake_batch(fired));
        for (struct tf_timer *t = fired; t; t = t->next) n++;
    }
    pthread_mutex_lock(&d->lock);
    return n;
}

/* Under the lock: sleep until `until` (UINT64_MAX: until kicked). */
static void thread_sleep_locked(tf_driver *d, uint64_t until) {
    if (d->fd_wait) {
        /* A clock pthread_cond_timedwait cannot wait on: the timerfd,
         * armed by retarget_locked (also by arms while we sleep), and the
         * eventfd for kicks. */
        set_tfd(d->tfd, until);
        pthread_mutex_unlock(&d->lock);
        struct pollfd p[2] = {{d->tfd, POLLIN, 0}, {d->efd, POLLIN, 0}};
        (void)poll(p, 2, -1);
        uint64_t buf;
        if (p[0].revents & POLLIN) (void)!read(d->tfd, &buf, sizeof(buf));
        if (p[1].revents & POLLIN) (void)!read(d->efd, &buf, sizeof(buf));
        pthread_mutex_lock(&d->lock);
    } else if (until == UINT64_MAX) {
        pthread_cond_wait(&d->wakeup, &d->lock);
    } else {
        struct timespec ts;
        tf__clock_to_timespec(until, &ts);
        pthread_cond_timedwait(&d->wakeup, &d->lock, &ts);
    }
}

static void *driver_main(void *arg) {
    tf_driver *d = arg;
    tls_firing = d;
    tf__thread_name("tf-driver");
    /* The kernel's default 50 us slack would make every sleep late by that
     * much; a driver with slack lets the kernel coalesce within it. */
    prctl(PR_SET_TIMERSLACK, d->slack_ns ? (unsigned long)d->slack_ns : 1UL,
          0, 0, 0);
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        /* Under a test's clock the driver advances only for a sync
         * request, so the test alone decides when timers fire. */
        uint64_t sync = d->sync_req;
        int hooked = d->clock == TF_CLOCK_MONOTONIC && tf__clock_hooked();
        if (TF_UNLIKELY(hooked) && d->sync_done == sync) {
            d->sleep_until = tf__wheel_next(&d->wheel);
            thread_sleep_locked(d, UINT64_MAX);
            continue;
        }
        uint64_t now = tf__driver_clock(d);
        if (fire_due_locked(d, now)) {
            d->fired_at = now;
            continue;
        }
        if (TF_UNLIKELY(d->sync_done != sync)) {
            /* Advanced to the clock as it was when asked, every batch
             * (and every re-fire) done: the sync is complete. */
            d->sync_done = sync;
            pthread_cond_broadcast(&d->fire_done);
        }
        tf__hook(TF_HOOK_DRIVER_IDLE, d);
        uint64_t until = tf__driver_target_locked(d);
        /* Publish the wake-up, then look at the inbox again: an arm that
         * read the old sleep_until did not take the lock to file itself
         * (seq_cst on both sides: one of the two sees the other). */
        atomic_store(&d->sleep_until, until);
        if (atomic_load(&d->inbox)) continue;
        thread_sleep_locked(d, hooked ? UINT64_MAX : until);
        d->wakeups++;
    }
    d->sleep_until = UINT64_MAX;
    pthread_cond_broadcast(&d->fire_done); /* syncs waiting see stopping */
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* The reserve's spinlock: held for a few instructions (a pop, or a
 * block's refill from the pool). */
static void reserve_lock(tf_driver *d) {
    tf__spin_lock(&d->reserve_lock, TF_HOOK_TIMER_RESERVE_SPIN, d);
}

/* 1 with the lock taken, 0 if it is held: for callers that hold
 * pool_lock, which comes after it in the lock order and so must not wait. */
static int reserve_trylock(tf_driver *d) { return tf__spin_trylock(&d->reserve_lock); }

static void reserve_unlock(tf_driver *d) { tf__spin_unlock(&d->reserve_lock); }

static void release_locked(tf_driver *d, struct tf_timer *t);

/* Under pool_lock: frees the timers released while another thread held
 * it, so that whatever is done under the lock sees them freed. */
static void drain_releases_locked(tf_driver *d) {
    if (!atomic_load_explicit(&d->release_pending, memory_order_relaxed)) return;
    struct tf_timer *t = atomic_exchange_explicit(&d->release_pending, NULL,
                                                  memory_order_acquire);
    while (t) {
        struct tf_timer *next = t->next;
        release_locked(d, t);
        t = next;
    }
}

/* Takes pool_lock (every taker but fork's drains the releases left to
 * it). */
static void pool_lock_take(tf_driver *d) {
    pthread_mutex_lock(&d->pool_lock);
    drain_releases_locked(d);
}

/* fork(): every driver's locks are taken (registry order) so that the
 * child gets them in a consistent state. */
static void atfork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    for (unsigned i = 0; i < TF_DRIVER_MAX; i++) {
        tf_driver *d = atomic_load_explicit(&registry[i], memory_order_relaxed);
        if (!d) continue;
        pthread_mutex_lock(&d->lock);
        /* A batch being fired is linked only from the firing thread's
         * stack, which the child will not have: its timers would stay
         * FIRING there, and every reset, cancel or free of one would wait
         * for fire_done for ever. Let the batch finish first (wakers are
         * short by contract); not on the firing thread itself, which
         * would wait for itself. */
        while (d->firing && tls_firing != d)
            pthread_cond_wait(&d->fire_done, &d->lock);
        /* A reserve being changed by another thread would reach the
         * child half-done, its lock held for ever. */
        reserve_lock(d);
        pthread_mutex_lock(&d->pool_lock);
    }
}

static void atfork_parent(void) {
    for (unsigned i = TF_DRIVER_MAX; i-- > 0;) {
        tf_driver *d = atomic_load_explicit(&registry[i], memory_order_relaxed);
        if (!d) continue;
        pthread_mutex_unlock(&d->pool_lock);
        reserve_unlock(d);
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* The child's own copy of an fd shared with the parent, at the same
 * number: the host's poller keeps knowing it, and arming it no longer
 * moves the parent's timer. */
static void renew_fd(int *fd, int fresh) {
    if (fresh < 0) return; /* keeps the shared one: late or early wakes
                              are then possible, never a lost one, as the
                              driver re-checks its wheel on every wake */
    if (dup3(fresh, *fd, O_CLOEXEC) < 0) {
        (void)close(*fd);
        *fd = fresh;
        return;
    }
    (void)close(fresh);
}

static void atfork_child(void) {
    for (unsigned i = 0; i < TF_DRIVER_MAX; i++) {
        tf_driver *d = atomic_load_explicit(&registry[i], memory_order_relaxed);
        if (!d) continue;
        /* Only the forking thread survives: a driver's thread must be
         * started again on the next timer call; timers armed before fork
         * stay armed. The condition variables may have had waiters that
         * no longer exist. */
        d->running = 0;
        d->stopping = 0;
        d->firing = 0;
        d->advancing = 0;
        d->sync_done = d->sync_req; /* its waiters are gone */
        if (conds_ready) (void)init_conds(d);
        if (d->tfd >= 0)
            renew_fd(&d->tfd, timerfd_create(kernel_clock(d), TFD_NONBLOCK | TFD_CLOEXEC));
        if (d->efd >= 0) renew_fd(&d->efd, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (d->mode == TF_DRIVER_MODE_HOST) {
            tf__driver_drain_locked(d);
            retarget_locked(d, tf__driver_target_locked(d));
        } else {
            d->sleep_until = UINT64_MAX;
        }
        pthread_mutex_unlock(&d->pool_lock);
        reserve_unlock(d);
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

__attribute__((constructor)) static void driver_init(void) {
    tf__pool_init(&default_driver.timers, sizeof(struct tf_timer));
    tf__wheel_init(&default_driver.wheel, tf__clock_now());
    (void)init_conds(&default_driver);
    conds_ready = 1;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Stops d's thread, if it has one and the caller is not it. */
static void driver_stop(tf_driver *d) {
    pthread_mutex_lock(&d->lock);
    if (!d->running || tls_firing == d) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    d->stopping = 1;
    kick_thread_locked(d);
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
    for (unsigned i = 1; i < TF_DRIVER_MAX; i++) {
        tf_driver *d = atomic_load(&registry[i]);
        if (d) driver_stop(d);
    }
    tf__driver_release_cache();
}

int tf__driver_ensure_locked(tf_driver *d) {
    if (TF_LIKELY(d->running) || d->mode != TF_DRIVER_MODE_THREAD)
        return TF_OK;
    if (!tf__thread_create_allowed()) return TF_ETHREAD;
    /* Timers armed while no thread ran (after fork, or before a failed
     * start) are still in the wheel; the new thread picks them up. */
    d->stopping = 0;
    d->sleep_until = 0;
    if (pthread_create(&d->thread, NULL, driver_main, d) != 0)
        return TF_ETHREAD;
    d->running = 1;
    return TF_OK;
}

/* Pushes t on a lock-free stack of timers linked through next (the
 * inbox, the releases left to pool_lock's next taker). Sequentially
 * consistent: the inbox's push pairs with the driver's look at it after
 * publishing sleep_until. */
static void push_timer(struct tf_timer *_Atomic *top, struct tf_timer *t) {
    struct tf_timer *head = atomic_load_explicit(top, memory_order_relaxed);
    do {
        t->next = head;
    } while (!atomic_compare_exchange_weak_explicit(top, &head, t, memory_order_seq_cst,
                                                    memory_order_relaxed));
}

void tf__driver_lock(tf_driver *d) {
    pthread_mutex_lock(&d->lock);
    tf__driver_drain_locked(d);
}

void tf__driver_drain_locked(tf_driver *d) {
    if (!atomic_load_explicit(&d->inbox, memory_order_relaxed)) return;
    struct tf_timer *t = atomic_exchange_explicit(&d->inbox, NULL, memory_order_acquire);
    struct tf_timer *list = NULL; /* reversed: oldest first, arming order */
    while (t) {
        struct tf_timer *next = t->next;
        t->next = list;
        list = t;
        t = next;
    }
    int filed = list != NULL;
    while (list) {
        t = list;
        list = t->next;
        /* Due already (the wheel advanced after it was pushed): filed so
         * that the next advance fires it, as a poll may have stored its
         * waker without the lock. */
        if (tf__wheel_insert(&d->wheel, t)) tf__wheel_insert_due(&d->wheel, t);
        count_slack(d, t, 1);
    }
    /* One retarget for the whole inbox, not one per timer. (0: a batch
     * fires, the next look is now anyway.) */
    uint64_t until = atomic_load_explicit(&d->sleep_until, memory_order_relaxed);
    if (filed && until != 0) {
        uint64_t due = tf__driver_target_locked(d);
        if (due < until) retarget_locked(d, due);
    }
}

int tf__driver_arm_new(tf_driver *d, struct tf_timer *t) {
    uint64_t deadline = t->deadline; /* t may be filed (and fire) once pushed */
    int pushed = 0;
    if (TF_LIKELY(d->mode != TF_DRIVER_MODE_THREAD ||
                  atomic_load_explicit(&d->running, memory_order_relaxed))) {
        if (deadline <= tf__wheel_elapsed(&d->wheel)) {
            /* Passed already (the wheel is never ahead of the clock):
             * fired at once, as the wheel would refuse it; the driver
             * never sees it. */
            atomic_store_explicit(&t->state, TF_TIMER_FIRED, memory_order_relaxed);
            return TF_OK;
        }
        push_timer(&d->inbox, t);
        tf__hook(TF_HOOK_TIMER_PUSHED, d);
        /* Not earlier than the driver's next look: it files t then. The
         * driver's slack only delays that look, so this never misses a
         * timer that must move it. */
        if (TF_LIKELY(deadline >= atomic_load(&d->sleep_until))) return TF_OK;
        pushed = 1;
    }
    pthread_mutex_lock(&d->lock);
    if (!pushed) {
        int rc = tf__driver_ensure_locked(d);
        if (rc) {
            pthread_mutex_unlock(&d->lock);
            return rc;
        }
        t->next = atomic_load_explicit(&d->inbox, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&d->inbox, &t->next, t,
                                                      memory_order_release,
                                                      memory_order_relaxed)) {
        }
    }
    tf__driver_drain_locked(d); /* files t, and moves the wake-up for it */
    pthread_mutex_unlock(&d->lock);
    return TF_OK;
}

int tf__driver_arm_locked(tf_driver *d, struct tf_timer *t) {
    if (tf__wheel_insert(&d->wheel, t)) return 1;
    uint64_t before = tolerance_locked(d);
    count_slack(d, t, 1);
    uint64_t tol = tolerance_locked(d);
    uint64_t due = coalesce_locked(d, sat_add(t->deadline, tol));
    /* A less tolerant timer may bring the wake-up of an earlier one
     * forward too. (0: a batch fires, the next look is now anyway.) */
    if (tol < before && d->sleep_until != 0) {
        uint64_t all = tf__driver_target_locked(d);
        if (all < due) due = all;
    }
    if (due < d->sleep_until) retarget_locked(d, due);
    return 0;
}

void tf__driver_unfile_locked(tf_driver *d, struct tf_timer *t) {
    tf__wheel_remove(&d->wheel, t);
    count_slack(d, t, 0);
}

void tf__driver_set_slack_locked(tf_driver *d, struct tf_timer *t, uint16_t c) {
    if (atomic_load_explicit(&t->state, memory_order_acquire) != TF_TIMER_ARMED) {
        t->reserved = c; /* counted when it is filed again */
        return;
    }
    uint64_t before = tolerance_locked(d);
    count_slack(d, t, 0);
    t->reserved = c;
    count_slack(d, t, 1);
    if (tolerance_locked(d) < before && d->sleep_until != 0) {
        uint64_t due = tf__driver_target_locked(d);
        if (due < d->sleep_until) retarget_locked(d, due);
    }
}

uint64_t tf__driver_wakeups(tf_driver *d) {
    pthread_mutex_lock(&d->lock);
    uint64_t n = d->wakeups;
    pthread_mutex_unlock(&d->lock);
    return n;
}

int tf__timer_state_firing(uint8_t st) {
    return st == TF_TIMER_FIRING || st >= TF_TIMER_FIRING_CANCEL;
}

int tf__driver_wait_not_firing_locked(tf_driver *d, struct tf_timer *t) {
    if (tls_firing == d) return 1;
    while (tf__timer_state_firing(
        atomic_load_explicit(&t->state, memory_order_acquire)))
        pthread_cond_wait(&d->fire_done, &d->lock);
    return 0;
}

void tf__driver_release_cache(void) {
    driver_stop(&default_driver);
    tf__timer_reserve_release(&default_driver);
    pool_lock_take(&default_driver);
    if (default_driver.timers.live == 0) tf__pool_destroy(&default_driver.timers);
    pthread_mutex_unlock(&default_driver.pool_lock);
}

size_t tf__driver_live_timers(void) {
    tf__timer_reserve_release(&default_driver);
    pool_lock_take(&default_driver);
    size_t n = default_driver.timers.live;
    pthread_mutex_unlock(&default_driver.pool_lock);
    return n;
}

int tf__driver_others_alive(void) {
    pthread_mutex_lock(&registry_lock);
    int n = others_alive != 0;
    pthread_mutex_unlock(&registry_lock);
    return n;
}

/* Under reserve_lock: takes the whole reserve. */
static struct tf_timer *reserve_take(tf_driver *d) {
    struct tf_timer *chain = d->reserve;
    d->reserve = NULL;
    d->reserve_n = 0;
    return chain;
}

/* Under pool_lock: frees a chain of reserved timers into the pool. */
static void pool_free_chain(tf_driver *d, struct tf_timer *chain) {
    (void)tf__pool_free_list(&d->timers, chain, offsetof(struct tf_timer, next));
}

_Static_assert(TF_TIMER_RESERVE_BLOCK <= TF_POOL_CHAIN_MAX, "a refill is one chain");

/* Under reserve_lock, the reserve empty: a block of pool objects for it,
 * handed out in the pool's order (a burst's timers then lie in memory in
 * the order they were armed, which the driver's walks of them follow). 0
 * if the allocator gave none. */
static int reserve_fill(tf_driver *d) {
    /* Magic 0: not a timer yet, so a stale handle to it is refused. */
    void *first;
    pool_lock_take(d);
    tf__hook(TF_HOOK_TIMER_RESERVE_FILL, d);
    size_t n = tf__pool_alloc_chain(&d->timers, TF_TIMER_RESERVE_BLOCK,
                                    offsetof(struct tf_timer, next), &first);
    pthread_mutex_unlock(&d->pool_lock);
    d->reserve = first;
    d->reserve_n = (uint32_t)n;
    return d->reserve != NULL;
}

struct tf_timer *tf__timer_alloc(tf_driver *d) {
    reserve_lock(d);
    struct tf_timer *t = d->reserve;
    if (TF_UNLIKELY(!t) && reserve_fill(d)) t = d->reserve;
    if (t) {
        d->reserve = t->next;
        d->reserve_n--;
    }
    reserve_unlock(d);
    return t;
}

void tf__timer_release(tf_driver *d, struct tf_timer *t) {
    if (pthread_mutex_trylock(&d->pool_lock) != 0) {
        /* Held: left to its holder's successor, no waiting. Dead from
         * here, as the pool would mark it. */
        t->magic = 0;
        push_timer(&d->release_pending, t);
        return;
    }
    drain_releases_locked(d);
    release_locked(d, t);
    pthread_mutex_unlock(&d->pool_lock);
}

/* Under pool_lock: t back to the pool. */
static void release_locked(tf_driver *d, struct tf_timer *t) {
    if (TF_UNLIKELY(tf__pool_free(&d->timers, t)) && reserve_trylock(d)) {
        /* A chunk emptied: the pool is shrinking, so the reserve goes
         * back. Its objects were carved last, at the top of the heap, and
         * a heap gives memory back to the system from its top only: kept,
         * they would hold a whole burst's memory after the burst. An alloc
         * holding reserve_lock now makes this skip (no waiting here, by
         * the lock order); the next emptied chunk gives the reserve
         * back. */
        struct tf_timer *chain = reserve_take(d);
        reserve_unlock(d);
        pool_free_chain(d, chain);
    }
}

void tf__timer_reserve_release(tf_driver *d) {
    reserve_lock(d);
    struct tf_timer *chain = reserve_take(d);
    reserve_unlock(d);
    pool_lock_take(d);
    pool_free_chain(d, chain);
    pthread_mutex_unlock(&d->pool_lock);
}

int tf__driver_sync(void) {
    tf_driver *d = &default_driver;
    if (tls_firing == d) return TF_EBUSY; /* it would wait for itself */
    pthread_mutex_lock(&d->lock);
    int rc = tf__driver_ensure_locked(d);
    if (rc == TF_OK) {
        uint64_t want = ++d->sync_req;
        kick_thread_locked(d);
        while (d->sync_done < want && !d->stopping)
            pthread_cond_wait(&d->fire_done, &d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* ---- the public calls ------------------------------------------------ */

static int check_driver(const tf_driver *d) { return tf__check_handle(d, TF_MAGIC_DRIVER); }

tf_driver *tf_driver_default(void) { return &default_driver; }

int tf_driver_new(const tf_driver_options *o, tf_driver **out) {
    static const tf_driver_options defaults = TF_DRIVER_OPTIONS_INIT;
    if (!out) return TF_EINVAL;
    if (!o) o = &defaults;
    if (o->size < sizeof(tf_driver_options) || o->reserved != 0 ||
        o->clock > TF_CLOCK_MANUAL || o->mode > TF_DRIVER_MODE_HOST ||
        (o->clock == TF_CLOCK_MANUAL && o->mode != TF_DRIVER_MODE_HOST))
        return TF_EINVAL;
    if (o->clock == TF_CLOCK_MANUAL && o->start_ns == UINT64_MAX)
        return TF_ERANGE;
    /* Its own cache lines: two drivers' locks must not share one. */
    void *raw = tf__alloc(sizeof(tf_driver) + 64);
    if (!raw) return TF_ENOMEM;
    tf_driver *d = (tf_driver *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    memset(d, 0, sizeof(*d));
    d->raw = raw;
    d->clock = (uint8_t)o->clock;
    d->mode = (uint8_t)o->mode;
    d->slack_ns = o->slack_ns;
    d->tfd = d->efd = -1;
    d->sleep_until = UINT64_MAX;
    int rc = TF_ENOMEM;
    if (tf__mutex_init(&d->lock) != 0) goto fail_raw;
    if (tf__mutex_init(&d->pool_lock) != 0) goto fail_lock;
    if (init_conds(d) != 0) goto fail_pool_lock;
    rc = TF_ESYS;
    if (d->clock != TF_CLOCK_MANUAL &&
        (d->mode == TF_DRIVER_MODE_HOST || d->clock == TF_CLOCK_BOOTTIME)) {
        d->tfd = timerfd_create(kernel_clock(d), TFD_NONBLOCK | TFD_CLOEXEC);
        if (d->tfd < 0) goto fail_conds;
    }
    if (d->mode == TF_DRIVER_MODE_THREAD && d->clock == TF_CLOCK_BOOTTIME) {
        d->fd_wait = 1;
        d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (d->efd < 0) goto fail_fds;
    }
    atomic_store(&d->manual_now, o->start_ns);
    uint64_t now = tf__driver_clock(d);
    d->advanced_to = now;
    tf__wheel_init(&d->wheel, now);
    tf__pool_init(&d->timers, sizeof(struct tf_timer));
    rc = TF_ENOMEM;
    pthread_mutex_lock(&registry_lock);
    unsigned i = 1;
    while (i < TF_DRIVER_MAX && atomic_load_explicit(&registry[i], memory_order_relaxed))
        i++;
    if (i == TF_DRIVER_MAX) {
        pthread_mutex_unlock(&registry_lock);
        goto fail_fds;
    }
    d->index = (uint16_t)i;
    d->magic = TF_MAGIC_DRIVER;
    atomic_store_explicit(&registry[i], d, memory_order_release);
    others_alive++;
    pthread_mutex_unlock(&registry_lock);
    *out = d;
    return TF_OK;

fail_fds:
    if (d->efd >= 0) (void)close(d->efd);
    if (d->tfd >= 0) (void)close(d->tfd);
fail_conds:
    pthread_cond_destroy(&d->wakeup);
    pthread_cond_destroy(&d->fire_done);
fail_pool_lock:
    pthread_mutex_destroy(&d->pool_lock);
fail_lock:
    pthread_mutex_destroy(&d->lock);
fail_raw:
    tf__free(raw);
    return rc;
}

int tf_driver_free(tf_driver *d) {
    if (!d) return TF_OK;
    if (tf__magic(d) != TF_MAGIC_DRIVER) return TF_EHANDLE;
    if (d == &default_driver) return TF_EINVAL;
    if (tls_firing == d) return TF_EBUSY; /* its thread cannot join itself */
    pthread_mutex_lock(&d->lock);
    tf__timer_reserve_release(d); /* counted live by the pool */
    pool_lock_take(d);
    int busy = d->timers.live != 0 || d->advancing != 0;
    pthread_mutex_unlock(&d->pool_lock);
    pthread_mutex_unlock(&d->lock);
    if (busy) return TF_EBUSY;
    driver_stop(d);
    pthread_mutex_lock(&registry_lock);
    atomic_store_explicit(&registry[d->index], NULL, memory_order_relaxed);
    others_alive--;
    pthread_mutex_unlock(&registry_lock);
    d->magic = TF_MAGIC_DEAD;
    tf__pool_destroy(&d->timers);
    if (d->efd >= 0) (void)close(d->efd);
    if (d->tfd >= 0) (void)close(d->tfd);
    pthread_cond_destroy(&d->wakeup);
    pthread_cond_destroy(&d->fire_done);
    pthread_mutex_destroy(&d->pool_lock);
    pthread_mutex_destroy(&d->lock);
    tf__free(d->raw);
    return TF_OK;
}

int tf_driver_now(const tf_driver *d, uint64_t *now_ns) {
    int rc = check_driver(d);
    if (rc) return rc;
    if (!now_ns) return TF_EINVAL;
    *now_ns = tf__driver_clock(d);
    return TF_OK;
}

int tf_driver_next_deadline(tf_driver *d, uint64_t *deadline_ns) {
    int rc = check_driver(d);
    if (rc) return rc;
    if (!deadline_ns) return TF_EINVAL;
    tf__driver_lock(d);
    /* The wake-up target, slack included: a host that advances at this
     * time fires every timer within its tolerance, and what tf_driver_fd()
     * is armed to. */
    *deadline_ns = tf__driver_target_locked(d);
    pthread_mutex_unlock(&d->lock);
    return TF_OK;
}

int tf_driver_advance(tf_driver *d, uint64_t now_ns, uint64_t *fired) {
    int rc = check_driver(d);
    if (rc) return rc;
    if (d->mode != TF_DRIVER_MODE_HOST) return TF_ESTATE;
    if (tls_firing == d) return TF_EBUSY; /* it would wait for itself */
    pthread_mutex_lock(&d->lock);
    /* One advance at a time: a second host thread waits for the batch. */
    while (d->firing) pthread_cond_wait(&d->fire_done, &d->lock);
    uint64_t clock = d->clock == TF_CLOCK_MANUAL
                         ? (now_ns == TF_DRIVER_NOW ? d->advanced_to : now_ns)
                         : tf__driver_clock(d);
    if (now_ns == TF_DRIVER_NOW) now_ns = clock;
    if (now_ns < d->advanced_to || now_ns > clock) {
        pthread_mutex_unlock(&d->lock);
        return TF_ERANGE;
    }
    d->advanced_to = now_ns;
    if (d->clock == TF_CLOCK_MANUAL)
        atomic_store_explicit(&d->manual_now, now_ns, memory_order_release);
    if (d->tfd >= 0) {
        uint64_t buf; /* clear the fd's readiness; re-armed below */
        (void)!read(d->tfd, &buf, sizeof(buf));
    }
    d->advancing++;
    tf_driver *outer = tls_firing;
    tls_firing = d;
    uint64_t n = fire_due_locked(d, now_ns);
    tls_firing = outer;
    d->advancing--;
    retarget_locked(d, tf__driver_target_locked(d));
    pthread_mutex_unlock(&d->lock);
    if (fired) *fired = n;
    return TF_OK;
}

int tf_driver_fd(tf_driver *d, int *fd) {
    int rc = check_driver(d);
    if (rc) return rc;
    if (!fd) return TF_EINVAL;
    if (d->mode != TF_DRIVER_MODE_HOST || d->clock == TF_CLOCK_MANUAL)
        return TF_ESTATE;
    *fd = d->tfd;
    return TF_OK;
}
