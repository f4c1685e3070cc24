/* SPDX-License-Identifier: MIT */
/* The workload of the adapter programs; see adapter_workload.h. */
#include "adapter_workload.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The far-off sleeper's tag, after the ordinary external tasks. */
#define SENTINEL_TAG ((uint64_t)WORKLOAD_EXTERNAL)
#define SENTINEL_NS (3600ull * 1000000000ull)

/* A foreign future: what a binding's coroutine would be. */
typedef struct {
    tf_timer *timer;
    uint64_t deadline;
    int sleeps_done;
    int finished;
    uint32_t polls;
} foreign_future;

typedef struct c_task {
    workload *w;
    int index;
    int published;
    uint32_t polls;
} c_task;

struct workload {
    tf_executor *exec;
    void (*stop)(void *);
    void *stop_ctx;
    int stopped;
    pthread_t loop_thread; /* every poll must happen on the host's thread */
    uint64_t started_ns;
    uint64_t done_ns;

    foreign_future ext[WORKLOAD_EXTERNAL + 1]; /* + the sentinel */
    int ext_done;
    uint64_t ext_polls;
    uint64_t late_min, late_max, late_sum, late_n;
    uint64_t early;

    int c_done;
    uint64_t c_polls;

    /* Shared with the waking thread. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int published;                 /* under lock */
    int quit;                      /* under lock: stop waiting, give up */
    tf_waker *slot[WORKLOAD_C_TASKS]; /* clones, owned by the thread once published */
    atomic_int final[WORKLOAD_C_TASKS];
    atomic_int thread_failures;
    atomic_uint_fast64_t wakes_sent;
    pthread_t thread;
    int thread_started;

    int failures;
};

void workload_fail(workload *w, const char *what, int status) {
    fprintf(stderr, "FAIL: %s (%d: %s)\n", what, status, tf_strerror(status));
    w->failures++;
    if (!w->stopped) {
        w->stopped = 1;
        w->stop(w->stop_ctx);
    }
}

static void check_thread(workload *w, const char *who) {
    if (!pthread_equal(pthread_self(), w->loop_thread))
        workload_fail(w, who, TF_ETHREAD);
}

static void maybe_done(workload *w) {
    if (w->ext_done == WORKLOAD_EXTERNAL && w->c_done == WORKLOAD_C_TASKS &&
        !w->stopped) {
        w->done_ns = tf_now_ns();
        w->stopped = 1;
        w->stop(w->stop_ctx);
    }
}

/* Delays spread over 1-50 ms, different for each sleep of a task. */
static uint64_t delay_ns(uint64_t tag, int sleep) {
    return (1 + (tag * 37 + (uint64_t)sleep * 11) % 50) * 1000000ull;
}

static int external_poll(void *ctx, uint64_t tag, const tf_waker *waker) {
    workload *w = ctx;
    check_thread(w, "external task polled off the host thread");
    if (tag > SENTINEL_TAG) {
        workload_fail(w, "unknown tag handed out", TF_EINVAL);
        return TF_EINVAL;
    }
    foreign_future *f = &w->ext[tag];
    f->polls++;
    if (tag == SENTINEL_TAG) {
        /* Sleeps for an hour; a second poll would mean a wake from nowhere. */
        if (f->polls > 1) workload_fail(w, "far-off sleeper polled again", TF_ESTATE);
        if (!f->timer) {
            int rc = tf_timer_new(SENTINEL_NS, &f->timer);
            if (rc != TF_OK) {
                workload_fail(w, "tf_timer_new (far-off)", rc);
                return rc;
            }
        }
        int rc = tf_timer_poll(f->timer, waker);
        if (rc != TF_PENDING) workload_fail(w, "far-off timer not pending", rc);
        return rc;
    }
    if (f->finished) {
        workload_fail(w, "finished external task handed out again", TF_ESTATE);
        return TF_ESTATE;
    }
    w->ext_polls++;
    for (;;) {
        if (!f->timer) {
            if (f->sleeps_done == WORKLOAD_SLEEPS) {
                f->finished = 1;
                w->ext_done++;
                maybe_done(w);
                return TF_READY;
            }
            int rc = tf_timer_new(delay_ns(tag, f->sleeps_done), &f->timer);
            if (rc == TF_OK) rc = tf_timer_deadline(f->timer, &f->deadline);
            if (rc != TF_OK) {
                workload_fail(w, "tf_timer_new", rc);
                return rc;
            }
        }
        int rc = tf_timer_poll(f->timer, waker);
        if (rc == TF_PENDING) return TF_PENDING; /* the timer keeps a clone */
        if (rc != TF_READY) {
            workload_fail(w, "tf_timer_poll", rc);
            return rc;
        }
        uint64_t now = tf_now_ns();
        if (now < f->deadline) {
            fprintf(stderr, "FAIL: task %" PRIu64 " woke %" PRIu64 " ns early\n", tag,
                    f->deadline - now);
            w->failures++;
            w->early++;
        } else {
            uint64_t late = now - f->deadline;
            if (w->late_n == 0 || late < w->late_min) w->late_min = late;
            if (late > w->late_max) w->late_max = late;
            w->late_sum += late;
            w->late_n++;
        }
        tf_timer_free(f->timer);
        f->timer = NULL;
        f->sleeps_done++;
    }
}

static void external_failed(void *ctx, int status) {
    workload_fail(ctx, "the executor failed under the adapter", status);
}

adapter_host workload_host(workload *w) {
    return (adapter_host){.poll = external_poll, .failed = external_failed, .ctx = w};
}

/* A C task: hands a clone of its waker to the waking thread on its first
 * poll, then finishes on the poll after the thread's last wake. */
static int c_task_poll(void *state, const tf_waker *waker) {
    c_task *t = state;
    workload *w = t->w;
    check_thread(w, "C task polled off the host thread");
    t->polls++;
    w->c_polls++;
    if (!t->published) {
        tf_waker *clone;
        int rc = tf_waker_clone(waker, &clone);
        if (rc != TF_OK) {
            workload_fail(w, "tf_waker_clone", rc);
            return rc;
        }
        t->published = 1;
        pthread_mutex_lock(&w->lock);
        w->slot[t->index] = clone;
        w->published++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return TF_PENDING;
    }
    if (!atomic_load(&w->final[t->index])) return TF_PENDING;
    w->c_done++;
    maybe_done(w);
    return TF_READY;
}

static void c_task_drop(void *state) { free(state); }

static void thread_fail(workload *w, const char *what, int rc) {
    fprintf(stderr, "FAIL: waking thread: %s (%s)\n", what, tf_strerror(rc));
    atomic_fetch_add(&w->thread_failures, 1);
}

/* Wakes every C task WORKLOAD_WAKE_ROUNDS times by reference, in rounds,
 * then marks it final and gives its clone up with a consuming wake. */
static void *waking_thread(void *arg) {
    workload *w = arg;
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += WORKLOAD_GUARD_S;
    pthread_mutex_lock(&w->lock);
    while (w->published < WORKLOAD_C_TASKS && !w->quit) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &limit) == ETIMEDOUT) break;
    }
    int ready = w->published == WORKLOAD_C_TASKS;
    pthread_mutex_unlock(&w->lock);
    if (!ready) {
        thread_fail(w, "the C tasks never all ran their first poll", TF_ETIMEDOUT);
        return NULL; /* workload_free drops the clones published so far */
    }
    /* A short pause between rounds spreads the wakes over the run, so they
     * meet the loop asleep and awake (the outcome never depends on it). */
    struct timespec pause = {0, 200000};
    for (int round = 0; round < WORKLOAD_WAKE_ROUNDS; round++) {
        for (int i = 0; i < WORKLOAD_C_TASKS; i++) {
            int rc = tf_waker_wake_by_ref(w->slot[i]);
            if (rc != TF_OK) thread_fail(w, "tf_waker_wake_by_ref", rc);
            atomic_fetch_add(&w->wakes_sent, 1);
        }
        nanosleep(&pause, NULL);
    }
    for (int i = 0; i < WORKLOAD_C_TASKS; i++) {
        atomic_store(&w->final[i], 1);
        tf_waker *clone = w->slot[i];
        w->slot[i] = NULL;
        int rc = tf_waker_wake(clone);
        if (rc != TF_OK) thread_fail(w, "tf_waker_wake", rc);
        atomic_fetch_add(&w->wakes_sent, 1);
    }
    return NULL;
}

int workload_start(tf_executor *executor, void (*stop)(void *ctx), void *ctx,
                   workload **out) {
    workload *w = calloc(1, sizeof *w);
    if (!w) return TF_ENOMEM;
    w->exec = executor;
    w->stop = stop;
    w->stop_ctx = ctx;
    w->loop_thread = pthread_self();
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    for (int i = 0; i < WORKLOAD_C_TASKS; i++) atomic_init(&w->final[i], 0);
    atomic_init(&w->thread_failures, 0);
    atomic_init(&w->wakes_sent, 0);
    *out = w;

    for (uint64_t tag = 0; tag <= SENTINEL_TAG; tag++) {
        int rc = tf_executor_spawn_external(executor, tag);
        if (rc != TF_OK) return rc;
    }
    for (int i = 0; i < WORKLOAD_C_TASKS; i++) {
        c_task *t = calloc(1, sizeof *t);
        if (!t) return TF_ENOMEM;
        t->w = w;
        t->index = i;
        int rc = tf_executor_spawn(executor, c_task_poll, c_task_drop, t);
        if (rc != TF_OK) {
            free(t);
            return rc;
        }
    }
    if (pthread_create(&w->thread, NULL, waking_thread, w) != 0) return TF_ETHREAD;
    w->thread_started = 1;
    w->started_ns = tf_now_ns();
    return TF_OK;
}

static void join_thread(workload *w) {
    if (!w->thread_started) return;
    pthread_mutex_lock(&w->lock);
    w->quit = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->thread_started = 0;
}

int workload_finish(workload *w, const char *host, uint64_t callbacks) {
    join_thread(w);
    int bad_ext = 0;
    for (int i = 0; i < WORKLOAD_EXTERNAL; i++)
        if (!w->ext[i].finished || w->ext[i].sleeps_done != WORKLOAD_SLEEPS) bad_ext++;
    if (bad_ext) {
        fprintf(stderr, "FAIL: %d of %d external tasks did not finish\n", bad_ext,
                WORKLOAD_EXTERNAL);
        w->failures++;
    }
    if (w->c_done != WORKLOAD_C_TASKS) {
        fprintf(stderr, "FAIL: %d of %d C tasks finished\n", w->c_done, WORKLOAD_C_TASKS);
        w->failures++;
    }
    if (w->late_n != (uint64_t)WORKLOAD_EXTERNAL * WORKLOAD_SLEEPS) {
        fprintf(stderr, "FAIL: %" PRIu64 " of %d sleeps ended on time, %" PRIu64
                " early\n", w->late_n, WORKLOAD_EXTERNAL * WORKLOAD_SLEEPS, w->early);
        w->failures++;
    }
    int tf = atomic_load(&w->thread_failures);
    if (tf) {
        fprintf(stderr, "FAIL: %d failures on the waking thread\n", tf);
        w->failures += tf;
    }
    uint64_t c_left = 0, ext_left = 0;
    int rc = tf_executor_count(w->exec, &c_left, &ext_left);
    if (rc != TF_OK || c_left != 0 || ext_left != 1) {
        fprintf(stderr, "FAIL: tf_executor_count: %s, %" PRIu64 " C and %" PRIu64
                " external tasks left (want 0 and 1)\n", tf_strerror(rc), c_left, ext_left);
        w->failures++;
    }
    uint64_t end = w->done_ns ? w->done_ns : tf_now_ns();
    printf("%s: %d external tasks x %d sleeps of 1-50 ms: %" PRIu64 " polls, late by "
           "min %.1f / mean %.1f / max %.1f us, %" PRIu64 " early\n",
           host, WORKLOAD_EXTERNAL, WORKLOAD_SLEEPS, w->ext_polls, (double)w->late_min / 1e3,
           w->late_n ? (double)w->late_sum / (double)w->late_n / 1e3 : 0.0,
           (double)w->late_max / 1e3, w->early);
    printf("%s: %d C tasks, %" PRIu64 " wakes from another thread, %" PRIu64
           " C polls\n", host, w->c_done, (uint64_t)atomic_load(&w->wakes_sent),
           w->c_polls);
    printf("%s: all done in %.1f ms with %" PRIu64 " adapter callbacks\n", host,
           (double)(end - w->started_ns) / 1e6, callbacks);
    return w->failures;
}

int workload_check_idle(workload *w, const char *host, uint64_t callbacks,
                        int attached) {
    printf("%s: idle for %d ms with a timer an hour away: %" PRIu64
           " adapter callbacks (at most 1 allowed)\n", host, WORKLOAD_IDLE_MS, callbacks);
    if (!attached) {
        fprintf(stderr, "FAIL: the adapter no longer watches the fd\n");
        w->failures++;
    }
    if (callbacks > 1) {
        fprintf(stderr, "FAIL: the adapter ran %" PRIu64 " times with nothing to do "
                "(the loop spins on the executor's fd)\n", callbacks);
        w->failures++;
    }
    tf_timer *far = w->ext[SENTINEL_TAG].timer;
    int peek = far ? tf_timer_peek(far) : TF_EINVAL;
    if (peek != TF_PENDING) {
        fprintf(stderr, "FAIL: the far-off timer is not pending (%s)\n", tf_strerror(peek));
        w->failures++;
    }
    return w->failures;
}

void workload_free(workload *w) {
    if (!w) return;
    join_thread(w);
    for (int i = 0; i <= WORKLOAD_EXTERNAL; i++) tf_timer_free(w->ext[i].timer);
    /* Clones the thread never took over (it gave up waiting). */
    for (int i = 0; i < WORKLOAD_C_TASKS; i++) tf_waker_drop(w->slot[i]);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
