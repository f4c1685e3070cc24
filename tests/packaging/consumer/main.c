/* SPDX-License-Identifier: MIT */
/* An out-of-tree program built against an installed libtimefuture, once
 * through pkg-config and once through find_package, each shared and static.
 * It checks that the header it was compiled with and the library it runs
 * with agree, and runs one timer on an executor. */
#include <stdio.h>
#include <stdlib.h>

#include <timefuture.h>

#ifdef TF_STATIC_DEFINE
#define LINKAGE "static"
#else
#define LINKAGE "shared"
#endif

typedef struct {
    tf_timer *timer;
    uint64_t deadline;
    int fired_on_time;
} sleep_future;

static int sleep_poll(void *state, const tf_waker *waker) {
    sleep_future *f = state;
    int rc = tf_timer_poll(f->timer, waker);
    if (rc == TF_READY) f->fired_on_time = tf_now_ns() >= f->deadline;
    return rc;
}

int main(void) {
    if (tf_version() != TF_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", TF_VERSION_STRING, tf_version_string());
        return 1;
    }
    sleep_future f = {0};
    tf_executor *exec = NULL;
    int rc = tf_timer_new(1000000, &f.timer);
    if (rc == TF_OK) rc = tf_timer_deadline(f.timer, &f.deadline);
    if (rc == TF_OK) rc = tf_executor_new(1, &exec);
    if (rc == TF_OK) rc = tf_executor_spawn(exec, sleep_poll, NULL, &f);
    if (rc == TF_OK) rc = tf_executor_run(exec);
    tf_executor_free(exec);
    tf_timer_free(f.timer);
    if (rc != TF_OK || !f.fired_on_time) {
        fprintf(stderr, "timer example failed: %s\n", tf_strerror(rc));
        return 1;
    }
    printf("consumer (" LINKAGE "): libtimefuture %s, timer fired on time\n", tf_version_string());
    return 0;
}
