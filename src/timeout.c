/* SPDX-License-Identifier: MIT */
/* Timeouts: a future that owns another one and a tf_timer, and completes
 * with whichever finishes first. The inner future is polled before the
 * deadline is looked at, so an inner future that is done wins even when
 * the deadline has passed as well. */
#include "internal.h"
#include "waker_internal.h"

struct tf_timeout {
    uint16_t magic;      /* TF_MAGIC_TIMEOUT */
    uint8_t done;        /* result is final and the inner future dropped */
    int result;
    tf_poll_fn poll;
    tf_drop_fn drop;
    void *state;
    tf_timer *timer;
};

static int check_timeout(const tf_timeout *to) {
    return tf__check_handle(to, TF_MAGIC_TIMEOUT);
}

/* The one place the inner future is dropped; every caller checks done
 * first, and done is set before the drop runs, so it runs once. */
static int finish(tf_timeout *to, int result) {
    to->done = 1;
    to->result = result;
    if (to->drop) to->drop(to->state);
    return result;
}

int tf_timeout_new_on(tf_driver *d, uint64_t duration_ns, tf_poll_fn poll,
                      tf_drop_fn drop, void *state, tf_timeout **out) {
    int rc = TF_OK;
    tf_timeout *to = NULL;
    if (!poll || !out) {
        rc = TF_EINVAL;
        goto fail;
    }
    to = tf__calloc(sizeof(*to));
    if (!to) {
        rc = TF_ENOMEM;
        goto fail;
    }
    /* Checks the driver and the range too. */
    rc = tf_timer_new_on(d, duration_ns, &to->timer);
    if (rc) goto fail;
    to->magic = TF_MAGIC_TIMEOUT;
    to->poll = poll;
    to->drop = drop;
    to->state = state;
    *out = to;
    return TF_OK;
fail:
    /* The timeout took the inner future: it is dropped on every path. */
    tf__free(to);
    if (drop) drop(state);
    return rc;
}

int tf_timeout_poll(tf_timeout *to, const tf_waker *w) {
    int rc = check_timeout(to);
    if (rc) return rc;
    if (!w) return TF_EINVAL;
    if (!tf__waker_valid(w)) return TF_EHANDLE;
    if (to->done) return to->result;
    rc = to->poll(to->state, w);
    if (rc != TF_PENDING) return finish(to, rc);
    rc = tf_timer_poll(to->timer, w);
    if (rc == TF_READY) return finish(to, TF_ETIMEDOUT);
    if (rc != TF_PENDING) return finish(to, rc); /* the waker was refused */
    return TF_PENDING;
}

int tf_timeout_free(tf_timeout *to) {
    if (!to) return TF_OK;
    if (tf__magic(to) != TF_MAGIC_TIMEOUT) return TF_EHANDLE;
    to->magic = TF_MAGIC_DEAD;
    if (!to->done) (void)finish(to, TF_ECANCELED);
    (void)tf_timer_free(to->timer);
    tf__free(to);
    return TF_OK;
}

int tf_timeout_task_poll(void *state, const tf_waker *w) {
    return tf_timeout_poll(state, w);
}

void tf_timeout_task_drop(void *state) { (void)tf_timeout_free(state); }
