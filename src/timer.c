/* SPDX-License-Identifier: MIT */
/* The timer future's public API. A new timer is pushed on its driver's
 * inbox without the lock (driver.h), and a poll stores its first waker
 * without it (the waker slot's protocol: timer_internal.h); every other
 * state change happens under the lock of the timer's driver, which files
 * the inbox first; wakers are cloned, woken and dropped outside it
 * whenever that may run the caller's code. */
#include "clock.h"
#include "internal.h"
#include "driver.h"
#include "waker_internal.h"

static int check_timer(const tf_timer *t) { return tf__check_handle(t, TF_MAGIC_TIMER); }

/* now + duration on d's clock, refusing overflow and the reserved
 * UINT64_MAX. */
static int deadline_after(const tf_driver *d, uint64_t duration_ns,
                          uint64_t *deadline) {
    uint64_t now = tf__driver_clock(d);
    if (duration_ns >= UINT64_MAX - now) return TF_ERANGE;
    *deadline = now + duration_ns;
    return TF_OK;
}

int tf_timer_new_at_on(tf_driver *d, uint64_t deadline_ns, tf_timer **out) {
    int rc = tf__check_handle(d, TF_MAGIC_DRIVER);
    if (rc) return rc;
    if (!out) return TF_EINVAL;
    if (deadline_ns == UINT64_MAX) return TF_ERANGE;
    tf_timer *t = tf__timer_alloc(d);
    if (!t) return TF_ENOMEM;
    t->magic = TF_MAGIC_TIMER;
    t->level = 0;
    t->driver = d->index;
    t->reserved = 0;
    atomic_init(&t->waker, NULL);
    t->next = t->prev = NULL;
    __atomic_store_n(&t->deadline, deadline_ns, __ATOMIC_RELAXED);
    atomic_store_explicit(&t->state, TF_TIMER_ARMED, memory_order_relaxed);
    rc = tf__driver_arm_new(d, t);
    if (rc) {
        tf__timer_release(d, t);
        return rc;
    }
    *out = t;
    return TF_OK;
}

int tf_timer_new_on(tf_driver *d, uint64_t duration_ns, tf_timer **out) {
    int rc = tf__check_handle(d, TF_MAGIC_DRIVER);
    if (rc) return rc;
    if (!out) return TF_EINVAL;
    uint64_t deadline;
    rc = deadline_after(d, duration_ns, &deadline);
    if (rc) return rc;
    return tf_timer_new_at_on(d, deadline, out);
}

int tf_timer_new_at(uint64_t deadline_ns, tf_timer **out) {
    return tf_timer_new_at_on(tf_driver_default(), deadline_ns, out);
}

int tf_timer_new(uint64_t duration_ns, tf_timer **out) {
    return tf_timer_new_on(tf_driver_default(), duration_ns, out);
}

int tf_timer_driver(const tf_timer *t, tf_driver **out) {
    int rc = check_timer(t);
    if (rc) return rc;
    if (!out) return TF_EINVAL;
    *out = tf__driver_of(t);
    return TF_OK;
}

/* Takes the stored waker, after a state change that ends the timer's
 * waiting: a poll storing its waker without the lock then either sees the
 * new state or has its clone taken here. */
static tf_waker *take_waker(tf_timer *t) {
    return atomic_exchange_explicit(&t->waker, NULL, memory_order_acq_rel);
}

/* Under the lock, for an ARMED timer whose deadline has passed before the
 * driver got to it: fire it here. Returns the waker to drop. */
static tf_waker *fire_now_locked(tf_driver *d, tf_timer *t) {
    tf__driver_unfile_locked(d, t);
    atomic_store_explicit(&t->state, TF_TIMER_FIRED, memory_order_release);
    return take_waker(t);
}

/* What tf_timer_poll returns to go the locked way. */
#define POLL_LOCKED 1

/* The first poll of an armed timer, without the driver's lock: the poll of
 * a task that starts by awaiting a timer, arriving as fast as timers are
 * made, must not wait for a driver thread that holds its lock to fire or
 * cascade thousands of them. It stores a clone of a library waker (a
 * refcount: no caller code) into the empty slot, then reads the state
 * again: still armed, whoever ends the timer takes the clone and wakes it
 * (it changes the state first); else the poll takes its clone back unless
 * that was taken already, and goes the locked way. TF_PENDING, or
 * POLL_LOCKED for everything else: another waker stored, a caller's
 * waker, a deadline passed (the locked way fires it), a driver thread to
 * start. */
static int poll_unlocked(tf_driver *d, tf_timer *t, const tf_waker *w) {
    tf_waker *cur = atomic_load_explicit(&t->waker, memory_order_acquire);
    if (cur ? cur != w : !tf__waker_is_library(w)) return POLL_LOCKED;
    if (d->mode == TF_DRIVER_MODE_THREAD &&
        !atomic_load_explicit(&d->running, memory_order_relaxed))
        return POLL_LOCKED;
    if (tf__driver_clock(d) >= __atomic_load_n(&t->deadline, __ATOMIC_RELAXED))
        return POLL_LOCKED;
    if (cur) return TF_PENDING; /* polled again by the same task */
    tf_waker *clone;
    if (tf_waker_clone(w, &clone) != TF_OK) return POLL_LOCKED;
    tf__hook(TF_HOOK_TIMER_POLL_STORE, t);
    tf_waker *expect = NULL;
    if (!atomic_compare_exchange_strong_explicit(&t->waker, &expect, clone,
                                                 memory_order_acq_rel,
                                                 memory_order_relaxed)) {
        tf_waker_drop(clone);
        return POLL_LOCKED;
    }
    tf__hook(TF_HOOK_TIMER_POLL_STORED, t);
    if (atomic_load_explicit(&t->state, memory_order_acquire) == TF_TIMER_ARMED)
        return TF_PENDING;
    expect = clone;
    if (atomic_compare_exchange_strong_explicit(&t->waker, &expect, NULL,
                                                memory_order_acq_rel,
                                                memory_order_relaxed))
        tf_waker_drop(clone);
    return POLL_LOCKED;
}

int tf_timer_poll(tf_timer *t, const tf_waker *w) {
    int rc = check_timer(t);
    if (rc) return rc;
    if (!w) return TF_EINVAL;
    if (!tf__waker_valid(w)) return TF_EHANDLE;
    uint8_t first = atomic_load_explicit(&t->state, memory_order_acquire);
    if (first == TF_TIMER_FIRED) return TF_READY;
    tf_driver *d = tf__driver_of(t);
    if (first == TF_TIMER_ARMED) {
        rc = poll_unlocked(d, t, w);
        if (rc != POLL_LOCKED) return rc;
    }
    tf_waker *clone = NULL, *old = NULL;
    tf__driver_lock(d);
    for (;;) {
        uint8_t st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == TF_TIMER_FIRED || st == TF_TIMER_FIRING) {
            rc = TF_READY;
            break;
        }
        if (st != TF_TIMER_ARMED && st != TF_TIMER_FIRING_RESET) {
            rc = TF_ECANCELED;
            break;
        }
        if (st == TF_TIMER_ARMED && tf__driver_clock(d) >= t->deadline) {
            old = fire_now_locked(d, t);
            rc = TF_READY;
            break;
        }
        /* Armed timers must have a driver thread (after fork it is
         * restarted). */
        rc = tf__driver_ensure_locked(d);
        if (rc) break;
        rc = TF_PENDING;
        tf_waker *cur = atomic_load_explicit(&t->waker, memory_order_acquire);
        if (cur && tf__waker_same(cur, w)) break;
        if (!clone) {
            if (tf__waker_is_library(w)) {
                /* A refcount: no caller code. Fails only for a task of an
                 * executor from before fork(). */
                rc = tf_waker_clone(w, &clone);
                if (rc) break;
            } else {
                /* The caller's clone function runs outside our lock; the
                 * state is checked again afterwards. */
                pthread_mutex_unlock(&d->lock);
                rc = tf_waker_clone(w, &clone);
                pthread_mutex_lock(&d->lock);
                if (rc) break;
                continue;
            }
        }
        old = atomic_exchange_explicit(&t->waker, clone, memory_order_acq_rel);
        clone = NULL;
        break;
    }
    pthread_mutex_unlock(&d->lock);
    if (clone) tf_waker_drop(clone);
    if (old) tf_waker_drop(old);
    return rc;
}

int tf_timer_reset_at(tf_timer *t, uint64_t deadline_ns) {
    int rc = check_timer(t);
    if (rc) return rc;
    if (deadline_ns == UINT64_MAX) return TF_ERANGE;
    tf_driver *d = tf__driver_of(t);
    tf_waker *wake = NULL;
    tf__driver_lock(d);
    rc = tf__driver_ensure_locked(d);
    if (rc) {
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    int on_driver = tf__driver_wait_not_firing_locked(d, t);
    uint8_t st = atomic_load_explicit(&t->state, memory_order_acquire);
    if (on_driver && tf__timer_state_firing(st)) {
        /* Being fired in the driver's current batch (we are inside one of
         * its wakes): the driver re-files it when the batch is done. */
        __atomic_store_n(&t->deadline, deadline_ns, __ATOMIC_RELAXED);
        atomic_store(&t->state, TF_TIMER_FIRING_RESET);
        pthread_mutex_unlock(&d->lock);
        return TF_OK;
    }
    if (st == TF_TIMER_ARMED) tf__driver_unfile_locked(d, t);
    __atomic_store_n(&t->deadline, deadline_ns, __ATOMIC_RELAXED);
    atomic_store_explicit(&t->state, TF_TIMER_ARMED, memory_order_relaxed);
    if (tf__driver_arm_locked(d, t)) {
        atomic_store_explicit(&t->state, TF_TIMER_FIRED, memory_order_release);
        wake = take_waker(t);
    }
    pthread_mutex_unlock(&d->lock);
    if (wake) tf_waker_wake(wake);
    return TF_OK;
}

int tf_timer_reset(tf_timer *t, uint64_t duration_ns) {
    int rc = check_timer(t);
    if (rc) return rc;
    uint64_t deadline;
    rc = deadline_after(tf__driver_of(t), duration_ns, &deadline);
    if (rc) return rc;
    return tf_timer_reset_at(t, deadline);
}

int tf_timer_cancel(tf_timer *t) {
    int rc = check_timer(t);
    if (rc) return rc;
    tf_driver *d = tf__driver_of(t);
    tf_waker *wake = NULL;
    tf__driver_lock(d);
    int on_driver = tf__driver_wait_not_firing_locked(d, t);
    uint8_t st = atomic_load_explicit(&t->state, memory_order_acquire);
    if (on_driver && (st == TF_TIMER_FIRING || st == TF_TIMER_FIRING_RESET)) {
        atomic_store(&t->state, TF_TIMER_FIRING_CANCEL);
        wake = take_waker(t);
        rc = TF_OK;
    } else if (st == TF_TIMER_ARMED) {
        tf__driver_unfile_locked(d, t);
        atomic_store(&t->state, TF_TIMER_CANCELLED);
        wake = take_waker(t);
        rc = TF_OK;
    } else {
        rc = TF_ESTATE;
    }
    pthread_mutex_unlock(&d->lock);
    /* The awaiting task must learn of the cancellation: it polls again and
     * gets TF_ECANCELED. */
    if (wake) tf_waker_wake(wake);
    return rc;
}

int tf_timer_set_slack(tf_timer *t, uint64_t slack_ns) {
    int rc = check_timer(t);
    if (rc) return rc;
    /* 16 bits hold a class, not 64 of nanoseconds: the largest power of
     * two not above the request, so the tolerance is never exceeded. */
    uint16_t c = slack_ns ? (uint16_t)(64 - __builtin_clzll(slack_ns)) : 0;
    tf_driver *d = tf__driver_of(t);
    tf__driver_lock(d);
    tf__driver_set_slack_locked(d, t, c);
    pthread_mutex_unlock(&d->lock);
    return TF_OK;
}

int tf_timer_peek(const tf_timer *t) {
    int rc = check_timer(t);
    if (rc) return rc;
    /* A lock-free read of the state: no waker is touched, nothing fires.
     * A timer being fired has fired (its wake is on its way); one whose
     * deadline passed but that the driver has not reached yet is still
     * pending, as tf_timer_poll() would make it ready. */
    switch (atomic_load_explicit(&t->state, memory_order_acquire)) {
    case TF_TIMER_FIRED:
    case TF_TIMER_FIRING:
        return TF_READY;
    case TF_TIMER_CANCELLED:
    case TF_TIMER_FIRING_CANCEL:
        return TF_ECANCELED;
    default: /* armed, or re-armed from inside its own wake */
        return TF_PENDING;
    }
}

int tf_timer_deadline(const tf_timer *t, uint64_t *deadline_ns) {
    int rc = check_timer(t);
    if (rc) return rc;
    if (!deadline_ns) return TF_EINVAL;
    /* Written only under the driver lock, atomically: no lock to read. */
    *deadline_ns = __atomic_load_n(&t->deadline, __ATOMIC_RELAXED);
    return TF_OK;
}

int tf_timer_free(tf_timer *t) {
    if (!t) return TF_OK;
    if (tf__magic(t) != TF_MAGIC_TIMER) return TF_EHANDLE;
    uint8_t st = atomic_load_explicit(&t->state, memory_order_acquire);
    if (st == TF_TIMER_FIRED || st == TF_TIMER_CANCELLED) {
        /* Out of the wheel and out of any batch: the driver is done with
         * it (these states are set after its last access), and no other
         * call may use it now. */
        tf_waker *drop = atomic_load_explicit(&t->waker, memory_order_relaxed);
        tf__timer_release(tf__driver_of(t), t);
        if (drop) tf_waker_drop(drop);
        return TF_OK;
    }
    tf_driver *d = tf__driver_of(t);
    tf__driver_lock(d);
    int on_driver = tf__driver_wait_not_firing_locked(d, t);
    st = atomic_load_explicit(&t->state, memory_order_acquire);
    tf_waker *drop = take_waker(t);
    if (on_driver && tf__timer_state_firing(st)) {
        /* The driver's batch still links it: the driver frees it. */
        t->magic = TF_MAGIC_DEAD;
        atomic_store(&t->state, TF_TIMER_FIRING_FREE);
    } else {
        if (st == TF_TIMER_ARMED) tf__driver_unfile_locked(d, t);
        tf__timer_release(d, t);
    }
    pthread_mutex_unlock(&d->lock);
    if (drop) tf_waker_drop(drop);
    return TF_OK;
}
