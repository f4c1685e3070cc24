/* SPDX-License-Identifier: MIT */
/* A libtimefuture executor attached to a GLib main context (GTK's loop).
 *
 * The adapter (adapter_glib_attach / adapter_glib_detach) is a custom
 * GSource: g_source_add_unix_fd puts the executor's fd in the context's
 * poll for G_IO_IN, check looks at what the poll found, and dispatch runs
 * one tf_executor_drain through adapter_drain() (adapter.h). Copy the two
 * and adapter.h into a program; nothing else here is needed for them.
 *
 * main() is the test: the shared workload (adapter_workload.c) of 1,000
 * external tasks sleeping on library timers and 100 C tasks woken from
 * another thread runs to completion on the loop, then the loop idles for
 * 200 ms with the adapter attached and a timer an hour away, which must
 * cost no dispatches. Exits non-zero on any failure. */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>

#include "adapter.h"
#include "adapter_workload.h"
#include "timefuture.h"

//! [adapter]
typedef struct adapter_glib {
    GSource source; /* first: GLib allocates the whole struct around it */
    tf_executor *executor;
    adapter_host host;
    gpointer fd_tag;    /* NULL once the fd is no longer watched */
    uint64_t callbacks; /* dispatches run, for tests and tuning */
    int error;          /* first failure; the fd is no longer watched */
} adapter_glib;

static gboolean adapter_glib_prepare(GSource *source, gint *timeout) {
    (void)source;
    *timeout = -1; /* no deadline of our own: the fd says when */
    return FALSE;
}

static gboolean adapter_glib_check(GSource *source) {
    adapter_glib *a = (adapter_glib *)source;
    return a->fd_tag && (g_source_query_unix_fd(source, a->fd_tag) & G_IO_IN);
}

static gboolean adapter_glib_dispatch(GSource *source, GSourceFunc callback,
                                      gpointer data) {
    adapter_glib *a = (adapter_glib *)source;
    (void)callback;
    (void)data;
    a->callbacks++;
    /* On 1 (work left) the fd stays readable, so the next iteration of the
     * context dispatches again, after its other sources. */
    int rc = adapter_drain(a->executor, &a->host);
    if (rc < 0) {
        a->error = rc;
        /* Keep the source (detach still frees it) but stop polling the fd,
         * so a broken executor cannot spin the loop. */
        g_source_remove_unix_fd(source, a->fd_tag);
        a->fd_tag = NULL;
        if (a->host.failed) a->host.failed(a->host.ctx, rc);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs adapter_glib_funcs = {
    .prepare = adapter_glib_prepare,
    .check = adapter_glib_check,
    .dispatch = adapter_glib_dispatch,
};

/* Starts serving `executor` (created without worker threads, or with them
 * for external tasks only) on `context` (NULL: the default context).
 * Returns TF_OK and the attached source in *out, a status of
 * tf_executor_fd, or TF_EINVAL. */
static int adapter_glib_attach(GMainContext *context, tf_executor *executor,
                               const adapter_host *host, adapter_glib **out) {
    if (!host || !host->poll || !out) return TF_EINVAL;
    int fd;
    int rc = tf_executor_fd(executor, &fd);
    if (rc != TF_OK) return rc;
    GSource *source = g_source_new(&adapter_glib_funcs, sizeof(adapter_glib));
    adapter_glib *a = (adapter_glib *)source; /* zero-filled by GLib */
    a->executor = executor;
    a->host = *host;
    a->fd_tag = g_source_add_unix_fd(source, fd, G_IO_IN);
    g_source_set_name(source, "timefuture executor");
    g_source_attach(source, context);
    *out = a;
    return TF_OK;
}

/* Stops watching at once and releases the source, so the executor may be
 * freed right after. Call it on the context's thread, not from inside the
 * adapter's own drain (a host poll function). */
static void adapter_glib_detach(adapter_glib *a) {
    g_source_destroy(&a->source);
    g_source_unref(&a->source);
}
//! [adapter]

/* ---- the test ---------------------------------------------------------- */

static int timed_out;

static void stop_loop(void *loop) { g_main_loop_quit(loop); }

static gboolean on_guard(gpointer loop) {
    timed_out = 1;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_idle_over(gpointer loop) {
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "FAIL: %s: %s\n", what, tf_strerror(rc));
    return 1;
}

/* A timeout source on `context`; the caller destroys and unrefs it. */
static GSource *add_timeout(GMainContext *context, guint ms, GSourceFunc fn,
                            GMainLoop *loop) {
    GSource *s = g_timeout_source_new(ms);
    g_source_set_callback(s, fn, loop, NULL);
    g_source_attach(s, context);
    return s;
}

int main(void) {
    GMainContext *context = g_main_context_new();
    GMainLoop *loop = g_main_loop_new(context, FALSE);
    tf_executor *exec;
    int rc = tf_executor_new(0, &exec);
    if (rc != TF_OK) return fail("tf_executor_new", rc);
    workload *w = NULL;
    rc = workload_start(exec, stop_loop, loop, &w);
    if (rc != TF_OK) return fail("workload_start", rc);

    adapter_host host = workload_host(w);
    adapter_glib *adapter;
    rc = adapter_glib_attach(context, exec, &host, &adapter);
    if (rc != TF_OK) return fail("adapter_glib_attach", rc);

    GSource *guard = add_timeout(context, WORKLOAD_GUARD_S * 1000u, on_guard, loop);
    g_main_loop_run(loop);
    g_source_destroy(guard);
    g_source_unref(guard);
    if (timed_out) workload_fail(w, "the run did not finish (hang guard)", TF_ETIMEDOUT);
    if (adapter->error) workload_fail(w, "the adapter failed", adapter->error);
    workload_finish(w, "glib", adapter->callbacks);

    /* Idle: everything done but the far-off sleeper, adapter attached. */
    uint64_t before = adapter->callbacks;
    GSource *idle = add_timeout(context, WORKLOAD_IDLE_MS, on_idle_over, loop);
    g_main_loop_run(loop);
    g_source_destroy(idle);
    g_source_unref(idle);
    int attached = adapter->fd_tag != NULL && !g_source_is_destroyed(&adapter->source);
    int failures = workload_check_idle(w, "glib", adapter->callbacks - before, attached);

    adapter_glib_detach(adapter);
    rc = tf_executor_free(exec);
    if (rc != TF_OK) failures += fail("tf_executor_free", rc);
    workload_free(w);
    g_main_loop_unref(loop);
    g_main_context_unref(context);
    printf("glib: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
