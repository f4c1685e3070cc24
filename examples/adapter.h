/* SPDX-License-Identifier: MIT */
/* The host-independent half of every event-loop adapter in this directory
 * (adapter_libuv.c, adapter_glib.c, adapter_libevent.c): what to do when
 * the executor's fd is readable. Copy it together with the adapter for
 * your loop.
 *
 * The host supplies one function that polls its own future for a tag with
 * the library's waker (a Python coroutine, a JavaScript promise chain, ...),
 * returning TF_PENDING or anything else to say the future has finished. */
#ifndef TF_EXAMPLE_ADAPTER_H
#define TF_EXAMPLE_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "timefuture.h"

/* What an adapter calls back into the host. */
typedef struct adapter_host {
    /* Poll the host's future for `tag`. `waker` is borrowed until the
     * adapter reports the poll; a future that keeps it clones it.
     * TF_PENDING keeps the task; any other value finishes it, like a C
     * future's tf_poll_fn (a host whose future failed returns its error). */
    int (*poll)(void *ctx, uint64_t tag, const tf_waker *waker);
    /* Called once if the executor itself fails (tf_executor_drain or
     * tf_executor_report); the adapter has stopped watching the fd by then
     * so that a broken executor cannot spin the loop. May be NULL. */
    void (*failed)(void *ctx, int status);
    void *ctx;
} adapter_host;

//! [drain]
/* External tasks taken per readiness. A larger batch saves loop turns; a
 * smaller one lets the loop's other sources in sooner. */
enum { ADAPTER_BATCH = 64 };

/* One drain: polls the ready C tasks, takes up to ADAPTER_BATCH woken
 * external tasks, polls and reports each. Returns 0 when nothing was left
 * ready, 1 when work remains (the fd stays readable, so a level-triggered
 * loop comes straight back after serving its other sources), or the first
 * negative TF_E* status of the executor. */
static inline int adapter_drain(tf_executor *executor, const adapter_host *host) {
    uint64_t tags[ADAPTER_BATCH];
    const tf_waker *wakers[ADAPTER_BATCH];
    size_t taken = 0;
    int more = tf_executor_drain(executor, tags, wakers, ADAPTER_BATCH, &taken);
    if (more < 0) return more;
    int failed = 0;
    /* Every task taken is reported exactly once, even after a failure:
     * an unreported task would count as running for ever. */
    for (size_t i = 0; i < taken; i++) {
        int r = host->poll(host->ctx, tags[i], wakers[i]);
        int rc = tf_executor_report(executor, wakers[i],
                                    r == TF_PENDING ? TF_PENDING : TF_READY);
        if (rc != TF_OK && !failed) failed = rc;
    }
    return failed ? failed : more;
}
//! [drain]

#endif
