/* SPDX-License-Identifier: MIT */
/* Embedding the executor in a host event loop that already waits on file
 * descriptors of its own (docs/embedding.md walks through it).
 *
 * The host here is a plain poll(2) loop that also owns a timerfd ticking
 * every 3 ms. It serves two kinds of work from one executor without any
 * thread of its own:
 *  - C tasks (futures written in C), polled inside tf_executor_drain();
 *  - external tasks: futures that live in the host's "language" (here,
 *    C structs standing in for coroutines), handed out by tf_executor_drain()
 *    and reported back with tf_executor_report().
 * The executor's fd turns readable when either kind has work, so the loop
 * sleeps in poll() until something happens. */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "timefuture.h"

enum { C_TASKS = 2, EXTERNAL_TASKS = 3, HOST_TICKS = 4 };

/* A C task: sleeps twice on a library timer. */
typedef struct {
    int id, naps;
    tf_timer *timer;
} c_sleeper;

static int c_sleeper_poll(void *state, const tf_waker *waker) {
    c_sleeper *s = state;
    for (;;) {
        if (!s->timer) {
            if (s->naps == 2) return TF_READY;
            int rc = tf_timer_new((uint64_t)(1 + s->id) * 1000000u, &s->timer);
            if (rc != TF_OK) return rc;
        }
        int rc = tf_timer_poll(s->timer, waker);
        if (rc != TF_READY) return rc; /* TF_PENDING: the waker is stored */
        tf_timer_free(s->timer);
        s->timer = NULL;
        printf("C task %d: nap %d over\n", s->id, ++s->naps);
    }
}

static void c_sleeper_drop(void *state) {
    c_sleeper *s = state;
    tf_timer_free(s->timer);
    free(s);
}

/* The host's own future, polled by the host with the library's waker. */
typedef struct {
    int steps;
    tf_timer *timer;
} host_future;

static int host_future_poll(uint64_t tag, host_future *f, const tf_waker *waker) {
    for (;;) {
        if (f->steps == 3) return TF_READY;
        if (!f->timer) {
            int rc = tf_timer_new(2000000u + tag * 500000u, &f->timer);
            if (rc != TF_OK) return rc;
        }
        int rc = tf_timer_poll(f->timer, waker);
        if (rc != TF_READY) return rc;
        tf_timer_free(f->timer);
        f->timer = NULL;
        printf("external task %" PRIu64 ": step %d\n", tag, ++f->steps);
    }
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s\n", what, tf_strerror(rc));
    return 1;
}

int main(void) {
    //! [setup]
    tf_executor *exec;
    int rc = tf_executor_new(0, &exec); /* no workers: the host polls */
    if (rc != TF_OK) return fail("tf_executor_new", rc);
    int exec_fd;
    rc = tf_executor_fd(exec, &exec_fd); /* owned by exec; never read it */
    if (rc != TF_OK) return fail("tf_executor_fd", rc);
    //! [setup]

    for (int i = 0; i < C_TASKS; i++) {
        c_sleeper *s = calloc(1, sizeof *s);
        if (!s) return 1;
        s->id = i;
        rc = tf_executor_spawn(exec, c_sleeper_poll, c_sleeper_drop, s);
        if (rc != TF_OK) return fail("tf_executor_spawn", rc);
    }
    host_future futures[EXTERNAL_TASKS] = {{0}};
    for (uint64_t tag = 0; tag < EXTERNAL_TASKS; tag++) {
        rc = tf_executor_spawn_external(exec, tag); /* tag: index in futures */
        if (rc != TF_OK) return fail("tf_executor_spawn_external", rc);
    }

    int tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec every3ms = {{0, 3000000}, {0, 3000000}};
    if (tick_fd < 0 || timerfd_settime(tick_fd, 0, &every3ms, NULL) != 0) {
        perror("timerfd");
        return 1;
    }

    int ticks = 0, sleeps = 0, done_external = 0;
    //! [loop]
    for (;;) {
        /* 1. Run the ready C tasks and take the woken external tasks, a
         *    batch at a time; poll each of ours and report it. */
        uint64_t tags[16];
        const tf_waker *wakers[16];
        size_t taken;
        int more;
        do {
            more = tf_executor_drain(exec, tags, wakers, 16, &taken);
            if (more < 0) return fail("tf_executor_drain", more);
            for (size_t i = 0; i < taken; i++) {
                int r = host_future_poll(tags[i], &futures[tags[i]], wakers[i]);
                if (r < 0) return fail("host future", r);
                rc = tf_executor_report(exec, wakers[i], r); /* exactly once */
                if (rc != TF_OK) return fail("tf_executor_report", rc);
                if (r == TF_READY) done_external++;
            }
        } while (more); /* or go back to poll(): the fd stays readable */

        uint64_t c_left, ext_left;
        tf_executor_count(exec, &c_left, &ext_left);
        if (c_left == 0 && ext_left == 0 && ticks >= HOST_TICKS) break;

        /* 2. Sleep until the executor or the host's own fd has news. A
         *    wake that came after step 1 has made exec_fd readable. */
        struct pollfd fds[2] = {{.fd = exec_fd, .events = POLLIN},
                                {.fd = tick_fd, .events = POLLIN}};
        if (poll(fds, 2, 10000) < 0) {
            perror("poll");
            return 1;
        }
        sleeps++;
        if (fds[1].revents & POLLIN) {
            uint64_t n;
            if (read(tick_fd, &n, sizeof n) == (ssize_t)sizeof n && ticks < HOST_TICKS)
                printf("host: tick %d\n", ++ticks);
        }
    }
    //! [loop]
    printf("all done: %d external tasks, %d host ticks, %d sleeps in poll()\n",
           done_external, ticks, sleeps);
    close(tick_fd);
    tf_executor_free(exec);
    return done_external == EXTERNAL_TASKS ? 0 : 1;
}
