/* SPDX-License-Identifier: MIT */
/* The async book's TimerFuture ("Build a Timer"), written by hand against
 * libtimefuture's waker API, and run on a tf_executor ("Build an
 * Executor"). docs/tutorial.md walks through it; the parts it shows are
 * marked with [name] snippet markers.
 *
 * Like the book, each timer has its own thread that sleeps and then wakes
 * the task. The library's tf_timer does the same job with one driver
 * thread for all timers (examples/timer_tutorial.c).
 *
 * Usage: book_timer [delay_ms]   (the book waits 2000 ms) */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "timefuture.h"

//! [shared]
/* SharedState in the book: written by the timer thread, read by poll. */
typedef struct {
    pthread_mutex_t lock;
    int completed;
    tf_waker *waker; /* the latest waker a poll stored (owned), or NULL */
} shared_state;

typedef struct {
    shared_state shared;
    pthread_t thread;
    uint64_t duration_ns;
} timer_future;
//! [shared]

//! [thread]
/* The thread TimerFuture::new spawns: sleep, mark the future completed,
 * and wake the last task that polled it. */
static void *timer_thread(void *arg) {
    timer_future *f = arg;
    struct timespec ts = {(time_t)(f->duration_ns / 1000000000u),
                          (long)(f->duration_ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&f->shared.lock);
    f->shared.completed = 1;
    tf_waker *waker = f->shared.waker; /* take it: waker.take() */
    f->shared.waker = NULL;
    pthread_mutex_unlock(&f->shared.lock);
    /* Wake outside the lock: waking only queues the task, but the task
     * may be polled on another thread at once and take the lock. */
    if (waker) tf_waker_wake(waker); /* consumes our reference */
    return NULL;
}

static int timer_future_new(uint64_t duration_ns, timer_future **out) {
    timer_future *f = calloc(1, sizeof *f);
    if (!f) return TF_ENOMEM;
    pthread_mutex_init(&f->shared.lock, NULL);
    f->duration_ns = duration_ns;
    if (pthread_create(&f->thread, NULL, timer_thread, f) != 0) {
        pthread_mutex_destroy(&f->shared.lock);
        free(f);
        return TF_ETHREAD;
    }
    *out = f;
    return TF_OK;
}
//! [thread]

//! [poll]
/* Future::poll for TimerFuture. */
static int timer_future_poll(timer_future *f, const tf_waker *waker) {
    tf_waker *old = NULL;
    pthread_mutex_lock(&f->shared.lock);
    if (f->shared.completed) {
        pthread_mutex_unlock(&f->shared.lock);
        return TF_READY;
    }
    /* Store a clone of the waker of *this* poll: the future may have moved
     * to another task since the last one. The book clones every time;
     * tf_waker_will_wake lets us skip the clone when nothing changed. */
    if (!f->shared.waker || tf_waker_will_wake(f->shared.waker, waker) != 1) {
        tf_waker *clone;
        int rc = tf_waker_clone(waker, &clone);
        if (rc != TF_OK) {
            pthread_mutex_unlock(&f->shared.lock);
            return rc;
        }
        old = f->shared.waker;
        f->shared.waker = clone;
    }
    pthread_mutex_unlock(&f->shared.lock);
    tf_waker_drop(old); /* NULL is accepted */
    return TF_PENDING;
}
//! [poll]

static void timer_future_free(timer_future *f) {
    if (!f) return;
    pthread_join(f->thread, NULL); /* the thread uses f until it ends */
    tf_waker_drop(f->shared.waker);
    pthread_mutex_destroy(&f->shared.lock);
    free(f);
}

//! [task]
/* The async block the book spawns:
 *   async { println!("howdy!"); TimerFuture::new(d).await; println!("done!"); }
 * as a state machine: `timer` is NULL before the first poll. */
typedef struct {
    uint64_t delay_ns;
    uint64_t started;
    timer_future *timer;
} howdy_task;

static int howdy_poll(void *state, const tf_waker *waker) {
    howdy_task *t = state;
    if (!t->timer) {
        printf("howdy!\n");
        t->started = tf_now_ns();
        int rc = timer_future_new(t->delay_ns, &t->timer);
        if (rc != TF_OK) return rc; /* any value but TF_PENDING ends the task */
    }
    int rc = timer_future_poll(t->timer, waker); /* .await */
    if (rc != TF_READY) return rc;
    printf("done! (after %.1f ms)\n", (double)(tf_now_ns() - t->started) / 1e6);
    return TF_READY;
}

static void howdy_drop(void *state) {
    howdy_task *t = state;
    timer_future_free(t->timer);
    free(t);
}
//! [task]

int main(int argc, char **argv) {
    uint64_t delay_ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
    //! [executor]
    tf_executor *exec;
    int rc = tf_executor_new(0, &exec); /* 0 workers: run() polls here */
    if (rc != TF_OK) {
        fprintf(stderr, "tf_executor_new: %s\n", tf_strerror(rc));
        return 1;
    }
    howdy_task *task = calloc(1, sizeof *task);
    if (!task) return 1;
    task->delay_ns = delay_ms * 1000000u;
    rc = tf_executor_spawn(exec, howdy_poll, howdy_drop, task); /* spawner.spawn */
    if (rc != TF_OK) {
        free(task);
    } else {
        rc = tf_executor_run(exec); /* executor.run(): until no task is left */
    }
    tf_executor_free(exec);
    //! [executor]
    if (rc != TF_OK) {
        fprintf(stderr, "book_timer: %s\n", tf_strerror(rc));
        return 1;
    }
    return 0;
}
