/* SPDX-License-Identifier: MIT */
/* tf_block_on: polls one future on the calling thread, parking between
 * polls until its waker (a parker) is woken. */
#include "internal.h"
#include "parker.h"

int tf_block_on(tf_poll_fn poll, void *state) {
    if (!poll) return TF_EINVAL;
    tf_parker *p = tf__parker_new();
    if (!p) return TF_ENOMEM;
    int r;
    while ((r = poll(state, tf__parker_waker(p))) == TF_PENDING)
        tf__parker_park(p);
    tf__parker_unref(p);
    return r;
}
