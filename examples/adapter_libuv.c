/* SPDX-License-Identifier: MIT */
/* A libtimefuture executor attached to a libuv loop.
 *
 * The adapter (adapter_uv_attach / adapter_uv_detach) is a uv_poll_t on the
 * executor's fd, watched for UV_READABLE; its callback runs one
 * tf_executor_drain through adapter_drain() (adapter.h). Copy the two and
 * adapter.h into a program; nothing else here is needed for them.
 *
 * main() is the test: the shared workload (adapter_workload.c) of 1,000
 * external tasks sleeping on library timers and 100 C tasks woken from
 * another thread runs to completion on the loop, then the loop idles for
 * 200 ms with the adapter attached and a timer an hour away, which must
 * cost no callbacks. Exits non-zero on any failure. */
#include <inttypes.h>
#include <stdio.h>
#include <uv.h>

#include "adapter.h"
#include "adapter_workload.h"
#include "timefuture.h"

//! [adapter]
typedef struct adapter_uv {
    uv_poll_t handle;
    tf_executor *executor;
    adapter_host host;
    uint64_t callbacks; /* readiness callbacks run, for tests and tuning */
    int error;          /* first failure; the fd is no longer watched */
} adapter_uv;

static void adapter_uv_fail(adapter_uv *a, int status) {
    a->error = status;
    uv_poll_stop(&a->handle); /* a broken executor must not spin the loop */
    if (a->host.failed) a->host.failed(a->host.ctx, status);
}

static void adapter_uv_readable(uv_poll_t *handle, int status, int events) {
    adapter_uv *a = handle->data;
    (void)events;
    a->callbacks++;
    if (status < 0) {
        adapter_uv_fail(a, TF_ESYS);
        return;
    }
    /* On 1 (work left) the fd stays readable and libuv's level-triggered
     * poll calls back on its next turn, after the loop's other handles. */
    int rc = adapter_drain(a->executor, &a->host);
    if (rc < 0) adapter_uv_fail(a, rc);
}

/* Starts serving `executor` (created without worker threads, or with them
 * for external tasks only) on `loop`. `a` must stay valid until
 * adapter_uv_detach's close callback has run (or, if this fails after the
 * handle was made, until the next turn of the loop). Returns TF_OK, a
 * status of tf_executor_fd, TF_EINVAL, or TF_ESYS if libuv refused. */
static int adapter_uv_attach(adapter_uv *a, uv_loop_t *loop, tf_executor *executor,
                             const adapter_host *host) {
    if (!a || !loop || !host || !host->poll) return TF_EINVAL;
    int fd;
    int rc = tf_executor_fd(executor, &fd);
    if (rc != TF_OK) return rc;
    *a = (adapter_uv){.executor = executor, .host = *host};
    if (uv_poll_init(loop, &a->handle, fd) != 0) return TF_ESYS;
    a->handle.data = a;
    if (uv_poll_start(&a->handle, UV_READABLE, adapter_uv_readable) != 0) {
        uv_close((uv_handle_t *)&a->handle, NULL);
        return TF_ESYS;
    }
    return TF_OK;
}

/* Stops watching at once, so the executor may be freed right after; the
 * handle itself is released by the loop, which then calls `closed` (may be
 * NULL). Call it on the loop's thread, not from inside the adapter's own
 * drain (a host poll function). */
static void adapter_uv_detach(adapter_uv *a, uv_close_cb closed) {
    if (!uv_is_closing((uv_handle_t *)&a->handle))
        uv_close((uv_handle_t *)&a->handle, closed);
}
//! [adapter]

/* ---- the test ---------------------------------------------------------- */

static int timed_out;

static void stop_loop(void *loop) { uv_stop(loop); }

static void on_guard(uv_timer_t *timer) {
    timed_out = 1;
    uv_stop(timer->loop);
}

static void on_idle_over(uv_timer_t *timer) { uv_stop(timer->loop); }

static int fail(const char *what, int rc) {
    fprintf(stderr, "FAIL: %s: %s\n", what, tf_strerror(rc));
    return 1;
}

int main(void) {
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) return fail("uv_loop_init", TF_ESYS);
    tf_executor *exec;
    int rc = tf_executor_new(0, &exec);
    if (rc != TF_OK) return fail("tf_executor_new", rc);
    workload *w = NULL;
    rc = workload_start(exec, stop_loop, &loop, &w);
    if (rc != TF_OK) return fail("workload_start", rc);

    adapter_host host = workload_host(w);
    adapter_uv adapter;
    rc = adapter_uv_attach(&adapter, &loop, exec, &host);
    if (rc != TF_OK) return fail("adapter_uv_attach", rc);

    uv_timer_t guard, idle;
    uv_timer_init(&loop, &guard);
    uv_timer_init(&loop, &idle);
    uv_timer_start(&guard, on_guard, (uint64_t)WORKLOAD_GUARD_S * 1000u, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_timer_stop(&guard);
    if (timed_out) workload_fail(w, "the run did not finish (hang guard)", TF_ETIMEDOUT);
    if (adapter.error) workload_fail(w, "the adapter failed", adapter.error);
    workload_finish(w, "libuv", adapter.callbacks);

    /* Idle: everything done but the far-off sleeper, adapter attached. */
    adapter.callbacks = 0;
    uv_timer_start(&idle, on_idle_over, WORKLOAD_IDLE_MS, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    int failures = workload_check_idle(w, "libuv", adapter.callbacks,
                                       uv_is_active((uv_handle_t *)&adapter.handle));

    adapter_uv_detach(&adapter, NULL);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&idle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "FAIL: handles left open on the loop\n");
        failures++;
    }
    rc = tf_executor_free(exec);
    if (rc != TF_OK) failures += fail("tf_executor_free", rc);
    workload_free(w);
    printf("libuv: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
