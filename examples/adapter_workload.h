/* SPDX-License-Identifier: MIT */
/* The demo and test workload shared by the three adapter programs; it
 * knows nothing of the host loop. On one executor without worker threads:
 *  - WORKLOAD_EXTERNAL external tasks, "foreign futures" polled by the host
 *    through adapter_host, each sleeping WORKLOAD_SLEEPS times on a library
 *    timer of 1-50 ms, checking at each wake-up that it is not early;
 *  - WORKLOAD_C_TASKS C tasks, woken many times from a thread of their own
 *    through cloned wakers, finishing on the last wake;
 *  - one external task asleep on a timer an hour away, still pending when
 *    the rest is done, so that the idle check has an armed timer. */
#ifndef TF_EXAMPLE_ADAPTER_WORKLOAD_H
#define TF_EXAMPLE_ADAPTER_WORKLOAD_H

#include <stdint.h>

#include "adapter.h"
#include "timefuture.h"

enum {
    WORKLOAD_EXTERNAL = 1000,
    WORKLOAD_SLEEPS = 2,
    WORKLOAD_C_TASKS = 100,
    WORKLOAD_WAKE_ROUNDS = 20, /* wakes by reference per C task */
    WORKLOAD_IDLE_MS = 200,    /* length of the idle check */
    WORKLOAD_GUARD_S = 120     /* hang guard only: fails a stuck run */
};

typedef struct workload workload;

/* Spawns every task on `executor` (no worker threads) and starts the waking
 * thread. `stop` is called on the host loop's thread, once, when every task
 * but the far-off sleeper has finished or when something failed: it should
 * stop the host loop. Returns TF_OK or a negative TF_E*. */
int workload_start(tf_executor *executor, void (*stop)(void *ctx), void *ctx,
                   workload **out);

/* The functions the adapter calls back (adapter_host::ctx is the workload). */
adapter_host workload_host(workload *w);

/* Records a failure of the host side (printed at once). */
void workload_fail(workload *w, const char *what, int status);

/* Joins the waking thread and checks that everything finished, in time and
 * not early; prints the figures. `callbacks` is how many times the adapter
 * was called during the run. Returns the number of failures so far. */
int workload_finish(workload *w, const char *host, uint64_t callbacks);

/* Checks the idle phase: `callbacks` adapter calls while the host loop ran
 * for WORKLOAD_IDLE_MS with nothing to do but the far-off timer, `attached`
 * whether the adapter still watched the fd. Returns the failures so far. */
int workload_check_idle(workload *w, const char *host, uint64_t callbacks,
                        int attached);

/* Frees what the workload still holds; after tf_executor_free(). */
void workload_free(workload *w);

#endif
