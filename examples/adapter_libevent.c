/* SPDX-License-Identifier: MIT */
/* A libtimefuture executor attached to a libevent event_base.
 *
 * The adapter (adapter_event_attach / adapter_event_detach) is one
 * EV_READ | EV_PERSIST event on the executor's fd; its callback runs one
 * tf_executor_drain through adapter_drain() (adapter.h). Copy the two and
 * adapter.h into a program; nothing else here is needed for them.
 *
 * main() is the test: the shared workload (adapter_workload.c) of 1,000
 * external tasks sleeping on library timers and 100 C tasks woken from
 * another thread runs to completion on the loop, then the loop idles for
 * 200 ms with the adapter attached and a timer an hour away, which must
 * cost no callbacks. Exits non-zero on any failure. */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>

#include "adapter.h"
#include "adapter_workload.h"
#include "timefuture.h"

//! [adapter]
typedef struct adapter_event {
    struct event *event;
    tf_executor *executor;
    adapter_host host;
    uint64_t callbacks; /* readiness callbacks run, for tests and tuning */
    int error;          /* first failure; the fd is no longer watched */
} adapter_event;

static void adapter_event_readable(evutil_socket_t fd, short what, void *arg) {
    adapter_event *a = arg;
    (void)fd;
    (void)what;
    a->callbacks++;
    /* On 1 (work left) the fd stays readable and the level-triggered event
     * fires again on the base's next turn, after its other events. */
    int rc = adapter_drain(a->executor, &a->host);
    if (rc < 0) {
        a->error = rc;
        event_del(a->event); /* a broken executor must not spin the loop */
        if (a->host.failed) a->host.failed(a->host.ctx, rc);
    }
}

/* Starts serving `executor` (created without worker threads, or with them
 * for external tasks only) on `base`. `a` must stay valid until
 * adapter_event_detach. Returns TF_OK, a status of tf_executor_fd,
 * TF_EINVAL, TF_ENOMEM, or TF_ESYS if libevent refused the event. */
static int adapter_event_attach(adapter_event *a, struct event_base *base,
                                tf_executor *executor, const adapter_host *host) {
    if (!a || !base || !host || !host->poll) return TF_EINVAL;
    int fd;
    int rc = tf_executor_fd(executor, &fd);
    if (rc != TF_OK) return rc;
    *a = (adapter_event){.executor = executor, .host = *host};
    a->event = event_new(base, fd, EV_READ | EV_PERSIST, adapter_event_readable, a);
    if (!a->event) return TF_ENOMEM;
    if (event_add(a->event, NULL) != 0) {
        event_free(a->event);
        a->event = NULL;
        return TF_ESYS;
    }
    return TF_OK;
}

/* Stops watching and frees the event, so the executor may be freed right
 * after. Call it on the base's thread, not from inside the adapter's own
 * drain (a host poll function). */
static void adapter_event_detach(adapter_event *a) {
    if (a->event) event_free(a->event);
    a->event = NULL;
}
//! [adapter]

/* ---- the test ---------------------------------------------------------- */

static int timed_out;

static void stop_loop(void *base) { event_base_loopbreak(base); }

static void on_guard(evutil_socket_t fd, short what, void *base) {
    (void)fd;
    (void)what;
    timed_out = 1;
    event_base_loopbreak(base);
}

static void on_idle_over(evutil_socket_t fd, short what, void *base) {
    (void)fd;
    (void)what;
    event_base_loopbreak(base);
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "FAIL: %s: %s\n", what, tf_strerror(rc));
    return 1;
}

int main(void) {
    struct event_base *base = event_base_new();
    if (!base) return fail("event_base_new", TF_ENOMEM);
    tf_executor *exec;
    int rc = tf_executor_new(0, &exec);
    if (rc != TF_OK) return fail("tf_executor_new", rc);
    workload *w = NULL;
    rc = workload_start(exec, stop_loop, base, &w);
    if (rc != TF_OK) return fail("workload_start", rc);

    adapter_host host = workload_host(w);
    adapter_event adapter;
    rc = adapter_event_attach(&adapter, base, exec, &host);
    if (rc != TF_OK) return fail("adapter_event_attach", rc);
    printf("libevent: backend %s\n", event_base_get_method(base));

    struct event *guard = evtimer_new(base, on_guard, base);
    struct event *idle = evtimer_new(base, on_idle_over, base);
    if (!guard || !idle) return fail("evtimer_new", TF_ENOMEM);
    struct timeval guard_tv = {WORKLOAD_GUARD_S, 0};
    evtimer_add(guard, &guard_tv);
    event_base_dispatch(base);
    evtimer_del(guard);
    if (timed_out) workload_fail(w, "the run did not finish (hang guard)", TF_ETIMEDOUT);
    if (adapter.error) workload_fail(w, "the adapter failed", adapter.error);
    workload_finish(w, "libevent", adapter.callbacks);

    /* Idle: everything done but the far-off sleeper, adapter attached. */
    uint64_t before = adapter.callbacks;
    struct timeval idle_tv = {0, WORKLOAD_IDLE_MS * 1000L};
    evtimer_add(idle, &idle_tv);
    event_base_dispatch(base);
    int attached = event_pending(adapter.event, EV_READ, NULL) != 0;
    int failures = workload_check_idle(w, "libevent", adapter.callbacks - before, attached);

    adapter_event_detach(&adapter);
    event_free(guard);
    event_free(idle);
    rc = tf_executor_free(exec);
    if (rc != TF_OK) failures += fail("tf_executor_free", rc);
    workload_free(w);
    event_base_free(base);
    libevent_global_shutdown();
    printf("libevent: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
