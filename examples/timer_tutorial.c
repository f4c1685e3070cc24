/* SPDX-License-Identifier: MIT */
/* The async book's "Build a Timer" + "Build an Executor" example, in C.
 *
 * The book spawns one future that prints "howdy!", awaits a 2-second
 * TimerFuture, and prints "done!". Here the TimerFuture is tf_timer: its
 * poll clones the task's waker (on every poll, unless it would wake the same
 * task), and the library's one driver thread wakes it at the deadline; the
 * executor keeps woken tasks on its ready queue and polls them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "timefuture.h"

/* The async block `async { println!("howdy!"); TimerFuture::new(..).await;
 * println!("done!"); }` written as a state machine. */
typedef struct {
    int step;         /* 0: not started, 1: awaiting the timer */
    uint64_t delay_ns;
    tf_timer *timer;
    uint64_t started; /* for printing how long the wait really took */
} howdy_future;

static int howdy_poll(void *state, const tf_waker *waker) {
    howdy_future *f = state;
    if (f->step == 0) {
        printf("howdy!\n");
        f->started = tf_now_ns();
        int rc = tf_timer_new(f->delay_ns, &f->timer);
        if (rc != TF_OK) {
            fprintf(stderr, "tf_timer_new: %s\n", tf_strerror(rc));
            return rc; /* anything but TF_PENDING completes the task */
        }
        f->step = 1;
    }
    int rc = tf_timer_poll(f->timer, waker);
    if (rc == TF_PENDING) return TF_PENDING;
    if (rc != TF_READY) {
        fprintf(stderr, "tf_timer_poll: %s\n", tf_strerror(rc));
        return rc;
    }
    printf("done! (waited %.3f ms)\n", (double)(tf_now_ns() - f->started) / 1e6);
    return TF_READY;
}

static void howdy_drop(void *state) {
    howdy_future *f = state;
    tf_timer_free(f->timer);
    free(f);
}

int main(int argc, char **argv) {
    /* The book waits 2 s; an argument in milliseconds shortens it. */
    uint64_t delay_ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
    tf_executor *exec;
    int rc = tf_executor_new(0, &exec);
    if (rc != TF_OK) {
        fprintf(stderr, "tf_executor_new: %s\n", tf_strerror(rc));
        return 1;
    }
    howdy_future *f = calloc(1, sizeof(*f));
    if (!f) return 1;
    f->delay_ns = delay_ms * 1000000u;
    rc = tf_executor_spawn(exec, howdy_poll, howdy_drop, f);
    if (rc != TF_OK) {
        fprintf(stderr, "tf_executor_spawn: %s\n", tf_strerror(rc));
        free(f);
        tf_executor_free(exec);
        return 1;
    }
    /* Runs until no task is left, as the book's executor does once the
     * spawner is dropped. */
    rc = tf_executor_run(exec);
    tf_executor_free(exec);
    if (rc != TF_OK) {
        fprintf(stderr, "tf_executor_run: %s\n", tf_strerror(rc));
        return 1;
    }
    return 0;
}
