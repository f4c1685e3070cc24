/* SPDX-License-Identifier: MIT */
/* The timer example (examples/timer_tutorial.c) for a program that loads
 * libtimefuture at run time, as a plugin host or a language runtime would.
 *
 * It is not linked with the library: it dlopen()s "libtimefuture.so.1",
 * looks up the one symbol tf_get_api, and calls everything through the
 * returned table. The header is used only for the table's type and the
 * status codes, so a program built against this header keeps working with
 * any later 1.x library, which serves a table that is at least as long.
 *
 * Usage: dlopen_timer [delay_ms]   (the library is found like any shared
 * library: LD_LIBRARY_PATH, the ld.so cache, or the default directories). */
#include <dlfcn.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "timefuture.h"

static const tf_api_v1 *tf;
static int finished_on_time; /* set by the task when it completes well */

/* An entry may be used only if the loaded library's table reaches it. */
#define TF_API_HAS(api, entry) \
    ((api)->size >= offsetof(tf_api_v1, entry) + sizeof((api)->entry))

typedef struct {
    int step; /* 0: not started, 1: awaiting the timer */
    uint64_t delay_ns;
    tf_timer *timer;
    uint64_t started;
} howdy_future;

static int howdy_poll(void *state, const tf_waker *waker) {
    howdy_future *f = state;
    if (f->step == 0) {
        printf("howdy!\n");
        f->started = tf->now_ns();
        int rc = tf->timer_new(f->delay_ns, &f->timer);
        if (rc != TF_OK) {
            fprintf(stderr, "timer_new: %s\n", tf->strerror(rc));
            return rc;
        }
        f->step = 1;
    }
    /* The timer stores a clone of this task's waker; the library's driver
     * thread wakes it at the deadline and the executor polls us again. */
    int rc = tf->timer_poll(f->timer, waker);
    if (rc == TF_PENDING) return TF_PENDING;
    if (rc != TF_READY) {
        fprintf(stderr, "timer_poll: %s\n", tf->strerror(rc));
        return rc;
    }
    uint64_t waited = tf->now_ns() - f->started;
    printf("done! (waited %.3f ms)\n", (double)waited / 1e6);
    if (waited < f->delay_ns) {
        fprintf(stderr, "the timer fired %" PRIu64 " ns early\n", f->delay_ns - waited);
        return TF_ERANGE;
    }
    finished_on_time = 1;
    return TF_READY;
}

static void howdy_drop(void *state) {
    howdy_future *f = state;
    tf->timer_free(f->timer);
    free(f);
}

int main(int argc, char **argv) {
    uint64_t delay_ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;

    void *lib = dlopen("libtimefuture.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    const void *(*get_api)(uint32_t);
    /* dlsym returns void *; POSIX guarantees it converts to a function
     * pointer, ISO C does not, hence the copy through the object. */
    void *sym = dlsym(lib, TF_GET_API_SYMBOL);
    if (!sym) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        dlclose(lib);
        return 1;
    }
    *(void **)&get_api = sym;
    tf = get_api(TF_ABI_MAJOR);
    if (!tf || !TF_API_HAS(tf, executor_free) || (tf->version >> 16) != TF_VERSION_MAJOR) {
        fprintf(stderr, "libtimefuture.so.1 does not serve ABI %d\n", TF_ABI_MAJOR);
        dlclose(lib);
        return 1;
    }
    printf("loaded libtimefuture %s through one symbol (table of %u bytes)\n",
           tf->version_string(), (unsigned)tf->size);

    int status = 1;
    tf_executor *exec;
    int rc = tf->executor_new(0, &exec);
    if (rc != TF_OK) {
        fprintf(stderr, "executor_new: %s\n", tf->strerror(rc));
        goto out;
    }
    howdy_future *f = calloc(1, sizeof(*f));
    if (!f) {
        tf->executor_free(exec);
        goto out;
    }
    f->delay_ns = delay_ms * 1000000u;
    rc = tf->executor_spawn(exec, howdy_poll, howdy_drop, f);
    if (rc != TF_OK) {
        fprintf(stderr, "executor_spawn: %s\n", tf->strerror(rc));
        free(f);
        tf->executor_free(exec);
        goto out;
    }
    rc = tf->executor_run(exec);
    tf->executor_free(exec);
    if (rc != TF_OK) {
        fprintf(stderr, "executor_run: %s\n", tf->strerror(rc));
        goto out;
    }
    status = finished_on_time ? 0 : 1;
out:
    /* The library's destructor stops its timer thread, so unloading is
     * safe once nothing of it is in use. */
    if (dlclose(lib) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        status = 1;
    }
    return status;
}
