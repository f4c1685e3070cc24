/* SPDX-License-Identifier: MIT */
/* Timers and tasks on a libuv loop with no thread of the library's own.
 *
 * A host-mode timer driver (tf_driver_new with TF_DRIVER_MODE_HOST) keeps
 * the timers; a uv_poll_t on its fd (tf_driver_fd) calls tf_driver_advance
 * when a deadline comes, which wakes the tasks awaiting the due timers on
 * the loop's thread. An executor without worker threads holds the tasks; a
 * second uv_poll_t on its fd (tf_executor_fd) polls the woken ones with
 * tf_executor_drain. Copy the two handles (driver_uv_* and exec_uv_*) into
 * a program: the loop's thread is then the only one.
 *
 * main() is the test: C tasks sleep in sequence, in parallel, on a timer
 * that is reset and on one that is cancelled; every sleep must end no
 * earlier than its deadline (checked against clock_gettime), the cancelled
 * one with TF_ECANCELED. The process must have exactly one thread at the
 * start, after the setup and at the end (/proc/self/task). Built a second
 * time against the static library (driver_libuv_nothreads), it also
 * refuses every thread the library might try to start, through the
 * private thread-creation hook, and requires that none was asked for.
 * Exits non-zero on any failure. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "timefuture.h"
#ifdef DRIVER_LIBUV_HOOK_THREADS
#include "internal.h"
#endif

//! [driver]
/* A uv_poll_t on a host-mode driver's timerfd: readable when a deadline
 * has come, so advance the driver to its clock's "now". */
typedef struct driver_uv {
    uv_poll_t handle;
    tf_driver *driver;
    uint64_t fired;     /* timers fired, for the test */
    int error;          /* first failure; the fd is no longer watched */
} driver_uv;

static void driver_uv_readable(uv_poll_t *handle, int status, int events) {
    driver_uv *a = handle->data;
    (void)events;
    uint64_t n = 0;
    /* The driver re-arms (or clears) its fd before returning, so the
     * level-triggered poll does not call back for the same deadline. */
    int rc = status < 0 ? TF_ESYS : tf_driver_advance(a->driver, TF_DRIVER_NOW, &n);
    if (rc != TF_OK) {
        a->error = rc;
        uv_poll_stop(&a->handle); /* a broken driver must not spin the loop */
        return;
    }
    a->fired += n;
}

static int driver_uv_attach(driver_uv *a, uv_loop_t *loop, tf_driver *driver) {
    int fd;
    int rc = tf_driver_fd(driver, &fd);
    if (rc != TF_OK) return rc;
    *a = (driver_uv){.driver = driver};
    if (uv_poll_init(loop, &a->handle, fd) != 0) return TF_ESYS;
    a->handle.data = a;
    if (uv_poll_start(&a->handle, UV_READABLE, driver_uv_readable) != 0) {
        uv_close((uv_handle_t *)&a->handle, NULL);
        return TF_ESYS;
    }
    return TF_OK;
}

/* A uv_poll_t on the executor's eventfd: readable when C tasks are ready. */
typedef struct exec_uv {
    uv_poll_t handle;
    tf_executor *executor;
    int error;
} exec_uv;

static void exec_uv_readable(uv_poll_t *handle, int status, int events) {
    exec_uv *a = handle->data;
    (void)events;
    size_t taken = 0;
    /* Capacity 0: C tasks only. On 1 (more ready than one drain polls) the
     * fd stays readable and libuv calls back on its next turn. */
    int rc = status < 0 ? TF_ESYS : tf_executor_drain(a->executor, NULL, NULL, 0, &taken);
    if (rc < 0) {
        a->error = rc;
        uv_poll_stop(&a->handle);
    }
}

static int exec_uv_attach(exec_uv *a, uv_loop_t *loop, tf_executor *executor) {
    int fd;
    int rc = tf_executor_fd(executor, &fd);
    if (rc != TF_OK) return rc;
    *a = (exec_uv){.executor = executor};
    if (uv_poll_init(loop, &a->handle, fd) != 0) return TF_ESYS;
    a->handle.data = a;
    if (uv_poll_start(&a->handle, UV_READABLE, exec_uv_readable) != 0) {
        uv_close((uv_handle_t *)&a->handle, NULL);
        return TF_ESYS;
    }
    return TF_OK;
}
//! [driver]

/* ---- the test ---------------------------------------------------------- */

#define MS UINT64_C(1000000)
enum { SEQ_TASKS = 2, SEQ_STEPS = 3, PAR_TASKS = 5 };

static tf_driver *driver;
static uv_loop_t loop;
static driver_uv drv_handle;
static exec_uv exec_handle;
static uv_timer_t guard;
static int failures;
static int tasks_left;
static uint64_t expected_fires;   /* timers that must fire, all told */

static void failf(const char *what, int rc) {
    fprintf(stderr, "FAIL: %s: %s\n", what, tf_strerror(rc));
    failures++;
}

/* CLOCK_MONOTONIC read directly, not through the library: the witness
 * that no timer fires before its deadline. */
static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Threads of this process (entries of /proc/self/task). */
static int count_threads(void) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(dir);
    return n;
}

static void close_all(void) {
    static int closed; /* by the last task or by the guard, once */
    if (closed++) return;
    uv_close((uv_handle_t *)&drv_handle.handle, NULL);
    uv_close((uv_handle_t *)&exec_handle.handle, NULL);
    uv_close((uv_handle_t *)&guard, NULL);
}

/* Every task's drop: the last one ends the loop by closing its handles. */
static void task_done(void) {
    if (--tasks_left == 0) close_all();
}

/* A finished sleep: the timer's deadline and the clock must agree that it
 * is over (the driver's clock is CLOCK_MONOTONIC here). */
static void check_not_early(const char *who, tf_timer *t, uint64_t not_before) {
    uint64_t now = mono_ns(), deadline = 0;
    int rc = tf_timer_deadline(t, &deadline);
    if (rc != TF_OK) failf("tf_timer_deadline", rc);
    if (now < deadline || now < not_before) {
        fprintf(stderr, "FAIL: %s: done at %" PRIu64 " ns, before its deadline %" PRIu64
                        " / %" PRIu64 " ns\n", who, now, deadline, not_before);
        failures++;
    }
}

/* Sleeps SEQ_STEPS times in a row, each on a new timer. */
typedef struct {
    int id, step;
    tf_timer *timer;
    uint64_t not_before;  /* start of the step plus its duration */
} seq_task;

static int seq_poll(void *s, const tf_waker *w) {
    seq_task *t = s;
    for (;;) {
        if (!t->timer) {
            if (t->step == SEQ_STEPS) return TF_READY;
            uint64_t dur = (uint64_t)(5 + 7 * t->step + 3 * t->id) * MS;
            t->not_before = mono_ns() + dur;
            int rc = tf_timer_new_on(driver, dur, &t->timer);
            if (rc != TF_OK) {
                failf("tf_timer_new_on (sequence)", rc);
                return rc;
            }
        }
        int rc = tf_timer_poll(t->timer, w);
        if (rc == TF_PENDING) return rc;
        if (rc != TF_READY) {
            failf("tf_timer_poll (sequence)", rc);
            return rc;
        }
        check_not_early("sequence", t->timer, t->not_before);
        tf_timer_free(t->timer);
        t->timer = NULL;
        t->step++;
    }
}

static void seq_drop(void *s) {
    seq_task *t = s;
    if (t->step != SEQ_STEPS) {
        fprintf(stderr, "FAIL: sequence task %d ended after %d of %d sleeps\n", t->id,
                t->step, SEQ_STEPS);
        failures++;
    }
    tf_timer_free(t->timer);
    task_done();
}

/* One sleep on a timer made before the task runs; the parallel sleepers,
 * and the reset and cancelled ones, which the controller changes. */
typedef struct {
    const char *name;
    tf_timer *timer;
    uint64_t not_before;
    int expect;   /* TF_READY, or TF_ECANCELED for the cancelled one */
    int result;   /* what the last poll gave */
    int done;
} one_task;

static int one_poll(void *s, const tf_waker *w) {
    one_task *t = s;
    int rc = tf_timer_poll(t->timer, w);
    if (rc == TF_PENDING) return rc;
    t->result = rc;
    t->done = 1;
    if (rc == TF_READY) check_not_early(t->name, t->timer, t->not_before);
    return rc;
}

static void one_drop(void *s) {
    one_task *t = s;
    if (!t->done || t->result != t->expect) {
        fprintf(stderr, "FAIL: %s: ended with %s, expected %s\n", t->name,
                t->done ? tf_strerror(t->result) : "no result", tf_strerror(t->expect));
        failures++;
    }
    tf_timer_free(t->timer);
    task_done();
}

/* Sleeps, then moves the reset task's far-off deadline close and cancels
 * the cancelled task's timer: both tasks wait on an hour-long timer until
 * then. */
typedef struct {
    tf_timer *timer;
    one_task *reset, *cancel;
    int done;
} controller_task;

static int controller_poll(void *s, const tf_waker *w) {
    controller_task *c = s;
    int rc = tf_timer_poll(c->timer, w);
    if (rc != TF_READY) return rc;
    uint64_t dur = 15 * MS;
    c->reset->not_before = mono_ns() + dur;
    rc = tf_timer_reset(c->reset->timer, dur);
    if (rc != TF_OK) failf("tf_timer_reset", rc);
    rc = tf_timer_cancel(c->cancel->timer);
    if (rc != TF_OK) failf("tf_timer_cancel", rc);
    c->done = 1;
    return TF_READY;
}

static void controller_drop(void *s) {
    controller_task *c = s;
    if (!c->done) {
        fprintf(stderr, "FAIL: the controller did not run\n");
        failures++;
    }
    tf_timer_free(c->timer);
    task_done();
}

static void on_guard(uv_timer_t *timer) {
    (void)timer;
    fprintf(stderr, "FAIL: the tasks did not finish (hang guard)\n");
    failures++;
    close_all();
}

static int spawn(tf_executor *e, tf_poll_fn poll, tf_drop_fn drop, void *state) {
    int rc = tf_executor_spawn(e, poll, drop, state);
    if (rc != TF_OK) {
        failf("tf_executor_spawn", rc);
        return rc;
    }
    tasks_left++;
    return TF_OK;
}

static int one_timer(one_task *t, const char *name, uint64_t dur, int expect) {
    *t = (one_task){.name = name, .expect = expect};
    t->not_before = mono_ns() + dur;
    int rc = tf_timer_new_on(driver, dur, &t->timer);
    if (rc != TF_OK) failf("tf_timer_new_on", rc);
    return rc;
}

#ifdef DRIVER_LIBUV_HOOK_THREADS
static int thread_requests;
/* Refuses every thread: with a host-mode driver and no workers, the
 * library must never ask for one. */
static int refuse_threads(void) {
    thread_requests++;
    return 0;
}
#endif

int main(void) {
    int threads0 = count_threads();
    if (threads0 != 1) {
        fprintf(stderr, "FAIL: %d threads at the start, expected 1\n", threads0);
        return 1;
    }
#ifdef DRIVER_LIBUV_HOOK_THREADS
    tf__set_thread_create_hook(refuse_threads);
#endif
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "FAIL: uv_loop_init\n");
        return 1;
    }
    tf_driver_options opt = TF_DRIVER_OPTIONS_INIT;
    opt.mode = TF_DRIVER_MODE_HOST;
    int rc = tf_driver_new(&opt, &driver);
    if (rc != TF_OK) {
        failf("tf_driver_new", rc);
        return 1;
    }
    tf_executor *exec;
    rc = tf_executor_new(0, &exec);
    if (rc != TF_OK) {
        failf("tf_executor_new", rc);
        return 1;
    }
    if ((rc = driver_uv_attach(&drv_handle, &loop, driver)) != TF_OK ||
        (rc = exec_uv_attach(&exec_handle, &loop, exec)) != TF_OK) {
        failf("attach", rc);
        return 1;
    }
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, on_guard, UINT64_C(60000), 0); /* hang guard only */

    seq_task seq[SEQ_TASKS];
    for (int i = 0; i < SEQ_TASKS; i++) {
        seq[i] = (seq_task){.id = i};
        if (spawn(exec, seq_poll, seq_drop, &seq[i]) != TF_OK) return 1;
    }
    expected_fires += (uint64_t)SEQ_TASKS * SEQ_STEPS;
    static const char *par_names[PAR_TASKS] = {"parallel 0", "parallel 1", "parallel 2",
                                               "parallel 3", "parallel 4"};
    one_task par[PAR_TASKS], reset, cancel;
    for (int i = 0; i < PAR_TASKS; i++) {
        /* Created in the reverse order of their deadlines. */
        if (one_timer(&par[i], par_names[i], (uint64_t)(40 - 8 * i) * MS, TF_READY) != TF_OK ||
            spawn(exec, one_poll, one_drop, &par[i]) != TF_OK)
            return 1;
    }
    expected_fires += PAR_TASKS;
    if (one_timer(&reset, "reset", UINT64_C(3600000) * MS, TF_READY) != TF_OK ||
        spawn(exec, one_poll, one_drop, &reset) != TF_OK)
        return 1;
    if (one_timer(&cancel, "cancelled", UINT64_C(3600000) * MS, TF_ECANCELED) != TF_OK ||
        spawn(exec, one_poll, one_drop, &cancel) != TF_OK)
        return 1;
    controller_task ctl = {.reset = &reset, .cancel = &cancel};
    rc = tf_timer_new_on(driver, 20 * MS, &ctl.timer);
    if (rc != TF_OK || spawn(exec, controller_poll, controller_drop, &ctl) != TF_OK) {
        failf("controller", rc);
        return 1;
    }
    expected_fires += 2; /* the controller's and the reset one's */

    int threads_armed = count_threads();
    uv_run(&loop, UV_RUN_DEFAULT); /* until the last task closes the handles */
    int threads_end = count_threads();

    if (drv_handle.error) failf("the driver's handle", drv_handle.error);
    if (exec_handle.error) failf("the executor's handle", exec_handle.error);
    if (tasks_left != 0) {
        fprintf(stderr, "FAIL: %d tasks did not finish\n", tasks_left);
        failures++;
    }
    /* Timers fire in tf_driver_advance, or in the poll that finds one past
     * its deadline before the driver got to it: never more than expected,
     * and the cancelled one never. */
    if (drv_handle.fired == 0 || drv_handle.fired > expected_fires) {
        fprintf(stderr, "FAIL: %" PRIu64 " timers fired by the driver, expected 1 to %" PRIu64
                        "\n", drv_handle.fired, expected_fires);
        failures++;
    }
    uint64_t next = 0;
    rc = tf_driver_next_deadline(driver, &next);
    if (rc != TF_OK || next != UINT64_MAX) {
        fprintf(stderr, "FAIL: a timer is still armed (next deadline %" PRIu64 ")\n", next);
        failures++;
    }
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "FAIL: handles left open on the loop\n");
        failures++;
    }
    if ((rc = tf_executor_free(exec)) != TF_OK) failf("tf_executor_free", rc);
    if ((rc = tf_driver_free(driver)) != TF_OK) failf("tf_driver_free", rc);
    if (threads_armed != 1 || threads_end != 1) {
        fprintf(stderr, "FAIL: %d threads after the setup, %d at the end, expected 1\n",
                threads_armed, threads_end);
        failures++;
    }
#ifdef DRIVER_LIBUV_HOOK_THREADS
    if (thread_requests != 0) {
        fprintf(stderr, "FAIL: the library asked for %d threads\n", thread_requests);
        failures++;
    }
    tf__set_thread_create_hook(NULL);
#endif
    printf("driver_libuv: %d tasks, %" PRIu64 " timers fired by tf_driver_advance, "
           "threads %d/%d/%d: %s\n",
           SEQ_TASKS + PAR_TASKS + 3, drv_handle.fired, threads0, threads_armed, threads_end,
           failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
