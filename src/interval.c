/* SPDX-License-Identifier: MIT */
/* Intervals: a periodic timer future, built on one tf_timer kept armed to
 * the next tick. The schedule (next) is the interval's own; the timer only
 * wakes the poller. Ticks are decided by comparing the driver's clock with
 * next, never by when the timer fired, so a tick is never early and late
 * polls do not shift the schedule (except under the delay policy). */
#include "driver.h"
#include "internal.h"
#include "waker_internal.h"

struct tf_interval {
    uint16_t magic;      /* TF_MAGIC_INTERVAL */
    uint8_t policy;      /* TF_MISSED_TICK_* */
    uint8_t cancelled;
    uint64_t period;
    uint64_t next;       /* the next tick; UINT64_MAX: past the clock's end */
    tf_timer *timer;     /* armed to next while the schedule runs */
    tf_driver *driver;
};

static int check_interval(const tf_interval *iv) {
    return tf__check_handle(iv, TF_MAGIC_INTERVAL);
}

int tf_interval_new_on(tf_driver *d, uint64_t first_deadline_ns,
                       uint64_t period_ns, uint32_t policy, tf_interval **out) {
    if (!d || !out) return TF_EINVAL;
    if (tf__magic(d) != TF_MAGIC_DRIVER) return TF_EHANDLE;
    if (period_ns == 0 || policy > TF_MISSED_TICK_SKIP) return TF_EINVAL;
    if (first_deadline_ns == UINT64_MAX) return TF_ERANGE;
    tf_interval *iv = tf__calloc(sizeof(*iv));
    if (!iv) return TF_ENOMEM;
    int rc = tf_timer_new_at_on(d, first_deadline_ns, &iv->timer);
    if (rc) {
        tf__free(iv);
        return rc;
    }
    iv->magic = TF_MAGIC_INTERVAL;
    iv->policy = (uint8_t)policy;
    iv->period = period_ns;
    iv->next = first_deadline_ns;
    iv->driver = d;
    *out = iv;
    return TF_OK;
}

/* Moves the schedule past a tick observed at now (>= next). Returns the
 * ticks it stands for. next becomes UINT64_MAX when the schedule leaves
 * the 64-bit clock. */
static uint64_t take_tick(tf_interval *iv, uint64_t now) {
    uint64_t p = iv->period, late = now - iv->next;
    /* Missed ticks: whole periods between the due tick and now. */
    uint64_t missed = late / p;
    uint64_t ticks = 1, next;
    switch (iv->policy) {
    case TF_MISSED_TICK_BURST:
        /* Stays first + k * period even when that is still in the past:
         * the next polls report the missed ticks one by one. (The bounds
         * are written as x >= MAX - p: MAX - 1 - p would wrap for a
         * period of UINT64_MAX.) */
        if (iv->next >= UINT64_MAX - p) return iv->next = UINT64_MAX, 1;
        iv->next += p;
        return 1;
    case TF_MISSED_TICK_DELAY:
        ticks += missed;
        if (missed == 0) {
            /* On time (less than a period late): the schedule holds, so
             * jitter does not accumulate into drift. */
            if (iv->next >= UINT64_MAX - p) return iv->next = UINT64_MAX, ticks;
            iv->next += p;
        } else {
            if (now >= UINT64_MAX - p) return iv->next = UINT64_MAX, ticks;
            iv->next = now + p;
        }
        return ticks;
    default: /* TF_MISSED_TICK_SKIP */
        ticks += missed;
        /* The first first + k * period after now. */
        if (ticks > (UINT64_MAX - 1 - iv->next) / p) {
            iv->next = UINT64_MAX;
            return ticks;
        }
        next = iv->next + ticks * p;
        iv->next = next;
        return ticks;
    }
}

int tf_interval_poll(tf_interval *iv, const tf_waker *w, uint64_t *ticks) {
    int rc = check_interval(iv);
    if (rc) return rc;
    if (!w) return TF_EINVAL;
    if (!tf__waker_valid(w)) return TF_EHANDLE;
    if (iv->cancelled) return TF_ECANCELED;
    for (;;) {
        if (iv->next == UINT64_MAX) return TF_ERANGE;
        uint64_t now = tf__driver_clock(iv->driver);
        if (now >= iv->next) {
            uint64_t n = take_tick(iv, now);
            if (iv->next != UINT64_MAX) {
                /* Re-arm for the next tick; past-due re-arms fire at once,
                 * which is harmless: the next poll compares the clock. */
                rc = tf_timer_reset_at(iv->timer, iv->next);
                if (rc) return rc;
            }
            if (ticks) *ticks = n;
            return TF_READY;
        }
        rc = tf_timer_poll(iv->timer, w);
        /* READY: the clock passed next between our read and the timer's:
         * look again, so the tick count uses the newer time. */
        if (rc != TF_READY) return rc;
    }
}

int tf_interval_reset_at(tf_interval *iv, uint64_t deadline_ns) {
    int rc = check_interval(iv);
    if (rc) return rc;
    if (deadline_ns == UINT64_MAX) return TF_ERANGE;
    rc = tf_timer_reset_at(iv->timer, deadline_ns);
    if (rc) return rc;
    iv->next = deadline_ns;
    iv->cancelled = 0;
    return TF_OK;
}

int tf_interval_reset(tf_interval *iv) {
    int rc = check_interval(iv);
    if (rc) return rc;
    uint64_t now = tf__driver_clock(iv->driver);
    if (iv->period >= UINT64_MAX - now) return TF_ERANGE;
    return tf_interval_reset_at(iv, now + iv->period);
}

int tf_interval_cancel(tf_interval *iv) {
    int rc = check_interval(iv);
    if (rc) return rc;
    if (iv->cancelled) return TF_ESTATE;
    iv->cancelled = 1;
    /* Wakes a stored waker; TF_ESTATE when the timer had fired (nothing
     * to wake then). */
    rc = tf_timer_cancel(iv->timer);
    return rc == TF_ESTATE ? TF_OK : rc;
}

int tf_interval_deadline(const tf_interval *iv, uint64_t *deadline_ns) {
    int rc = check_interval(iv);
    if (rc) return rc;
    if (!deadline_ns) return TF_EINVAL;
    *deadline_ns = iv->next;
    return TF_OK;
}

int tf_interval_free(tf_interval *iv) {
    if (!iv) return TF_OK;
    if (tf__magic(iv) != TF_MAGIC_INTERVAL) return TF_EHANDLE;
    iv->magic = TF_MAGIC_DEAD;
    (void)tf_timer_free(iv->timer);
    tf__free(iv);
    return TF_OK;
}
