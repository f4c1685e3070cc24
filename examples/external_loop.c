/* SPDX-License-Identifier: MIT */
/* How a language binding drives libtimefuture without any callback into
 * its own language: its futures are "external tasks" identified by a tag.
 * The host loop sleeps in epoll on the executor's fd (as asyncio's
 * add_reader or a GUI loop would); when it is readable, tf_executor_drain
 * hands out the woken tasks, the host polls its own future for each with
 * the waker it got, and reports how the poll ended.
 *
 * Here the "foreign futures" are C structs standing in for, say, Python
 * coroutines: each sleeps three times for a few milliseconds, then ends. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "timefuture.h"

enum { TASKS = 5, SLEEPS = 3 };

typedef struct {
    int sleeps_done;
    tf_timer *timer;
    uint64_t deadline;
} foreign_future;

/* The binding's poll of its own future, given the library's waker. */
static int foreign_poll(int id, foreign_future *f, const tf_waker *waker) {
    for (;;) {
        if (!f->timer) {
            if (f->sleeps_done == SLEEPS) return TF_READY;
            uint64_t ms = 2 + (uint64_t)id;
            int rc = tf_timer_new(ms * 1000000u, &f->timer);
            if (rc != TF_OK) return rc;
            tf_timer_deadline(f->timer, &f->deadline);
        }
        int rc = tf_timer_poll(f->timer, waker);
        if (rc != TF_READY) return rc;
        uint64_t late = tf_now_ns() - f->deadline;
        printf("task %d: sleep %d done (%.1f us after its deadline)\n", id,
               f->sleeps_done + 1, (double)late / 1e3);
        tf_timer_free(f->timer);
        f->timer = NULL;
        f->sleeps_done++;
    }
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s\n", what, tf_strerror(rc));
    return 1;
}

int main(void) {
    tf_executor *exec;
    int rc = tf_executor_new(0, &exec);
    if (rc != TF_OK) return fail("tf_executor_new", rc);
    foreign_future futures[TASKS] = {{0}};
    for (uint64_t i = 0; i < TASKS; i++) {
        rc = tf_executor_spawn_external(exec, i);
        if (rc != TF_OK) return fail("tf_executor_spawn_external", rc);
    }
    int fd;
    rc = tf_executor_fd(exec, &fd);
    if (rc != TF_OK) return fail("tf_executor_fd", rc);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll");
        return 1;
    }

    int finished = 0, polls = 0, waits = 0;
    while (finished < TASKS) {
        uint64_t tags[TASKS];
        const tf_waker *wakers[TASKS];
        size_t taken;
        int more = tf_executor_drain(exec, tags, wakers, TASKS, &taken);
        if (more < 0) return fail("tf_executor_drain", more);
        for (size_t i = 0; i < taken; i++) {
            polls++;
            int r = foreign_poll((int)tags[i], &futures[tags[i]], wakers[i]);
            if (r < 0) return fail("foreign poll", r);
            rc = tf_executor_report(exec, wakers[i], r);
            if (rc != TF_OK) return fail("tf_executor_report", rc);
            if (r == TF_READY) {
                printf("task %" PRIu64 ": finished\n", tags[i]);
                finished++;
            }
        }
        if (!more && finished < TASKS) {
            /* Nothing ready: the host loop sleeps until the fd says so. */
            struct epoll_event out;
            if (epoll_wait(ep, &out, 1, 10000) < 0) perror("epoll_wait");
            waits++;
        }
    }
    printf("%d tasks, %d polls, %d epoll waits\n", TASKS, polls, waits);
    close(ep);
    tf_executor_free(exec);
    return 0;
}
