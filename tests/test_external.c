/* SPDX-License-Identifier: MIT */
/* External tasks: futures that live in another language, handed out by
 * tf_executor_next and reported with tf_executor_report; and the eventfd
 * that turns readable when one is ready. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "testutil.h"

#define MS 1000000ull

static int fd_readable(int fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    return rc > 0 && (p.revents & POLLIN);
}

static void test_first_poll_and_completion(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(tf_executor_spawn_external(e, i * 100), TF_OK);
    uint64_t ext;
    uint64_t tasks;
    assert_int_equal(tf_executor_count(e, &tasks, &ext), TF_OK);
    assert_int_equal(ext, 3);
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
        assert_int_equal(tag, i * 100); /* spawn order */
        assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    }
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    assert_int_equal(tf_executor_count(e, &tasks, &ext), TF_OK);
    assert_int_equal(ext, 0);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_pending_wake_and_wake_during_poll(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 7), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    tf_waker *kept;
    assert_int_equal(tf_waker_clone(w, &kept), TF_OK);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    /* Reporting twice is a state error, not a crash. */
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_ESTATE);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_ETIMEDOUT);
    /* Many wakes: handed out once. */
    for (int i = 0; i < 10; i++) tf_waker_wake_by_ref(kept);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tag, 7);
    /* A wake while the foreign side polls: re-queued after the report. */
    tf_waker_wake_by_ref(kept);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_ETIMEDOUT);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    /* After completion wakes do nothing. */
    tf_waker_wake_by_ref(kept);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    tf_waker_drop(kept);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_report_errors(void **state) {
    (void)state;
    tf_executor *e, *other;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_new(0, &other), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tf_executor_report(e, w, 5), TF_EINVAL);
    assert_int_equal(tf_executor_report(e, w, -1), TF_EINVAL);
    assert_int_equal(tf_executor_report(other, w, TF_READY), TF_EHANDLE);
    assert_int_equal(tf_executor_report(e, tf_waker_noop(), TF_READY), TF_EHANDLE);
    assert_int_equal(tf_executor_report(NULL, w, TF_READY), TF_EINVAL);
    assert_int_equal(tf_executor_report(e, NULL, TF_READY), TF_EINVAL);
    assert_int_equal(tf_executor_next(e, 0, NULL, &w), TF_EINVAL);
    assert_int_equal(tf_executor_next(e, 0, &tag, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    tf_executor_free(other);
    tf_executor_free(e);
}

static void test_next_times_out(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    uint64_t start = tf_now_ns();
    assert_int_equal(tf_executor_next(e, 30 * MS, &tag, &w), TF_ETIMEDOUT);
    assert_true(tf_now_ns() - start >= 30 * MS);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

typedef struct {
    tf_waker *w;
    int delay_ms;
} waker_thread_arg;

static void *wake_later(void *p) {
    waker_thread_arg *a = p;
    sleep_ms((unsigned)a->delay_ms);
    tf_waker_wake(a->w);
    return NULL;
}

static void test_fd_follows_readiness(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    int fd = -1;
    assert_int_equal(tf_executor_fd(e, &fd), TF_OK);
    assert_true(fd >= 0);
    int fd2;
    assert_int_equal(tf_executor_fd(e, &fd2), TF_OK);
    assert_int_equal(fd, fd2);
    assert_false(fd_readable(fd, 0));
    assert_int_equal(tf_executor_spawn_external(e, 42), TF_OK);
    assert_true(fd_readable(fd, 0));
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    tf_waker *kept;
    tf_waker_clone(w, &kept);
    assert_int_equal(tf_executor_report(e, w, TF_PENDING), TF_OK);
    /* Drained: the next empty call makes the fd unreadable. */
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_ETIMEDOUT);
    assert_false(fd_readable(fd, 0));
    /* A wake from another thread makes it readable. */
    pthread_t th;
    waker_thread_arg a = {kept, 20};
    pthread_create(&th, NULL, wake_later, &a);
    assert_true(fd_readable(fd, 10000));
    pthread_join(th, NULL);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_OK);
    assert_int_equal(tag, 42);
    assert_int_equal(tf_executor_report(e, w, TF_READY), TF_OK);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* The way a binding drives a timer: its "future" polls the timer with the
 * waker from next, and the loop sleeps on the fd. */
static void test_timer_through_fd_loop(void **state) {
    (void)state;
    enum { N = 200 };
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    int fd;
    assert_int_equal(tf_executor_fd(e, &fd), TF_OK);
    tf_timer *timers[N];
    uint64_t deadlines[N];
    int polls[N];
    uint64_t now = tf_now_ns();
    for (int i = 0; i < N; i++) {
        deadlines[i] = now + (uint64_t)(i % 20) * MS;
        assert_int_equal(tf_timer_new_at(deadlines[i], &timers[i]), TF_OK);
        polls[i] = 0;
        assert_int_equal(tf_executor_spawn_external(e, (uint64_t)i), TF_OK);
    }
    int done = 0;
    while (done < N) {
        uint64_t tag;
        const tf_waker *w;
        int rc = tf_executor_next(e, 0, &tag, &w);
        if (rc == TF_ETIMEDOUT) {
            assert_true(fd_readable(fd, 10000));
            continue;
        }
        assert_int_equal(rc, TF_OK);
        polls[tag]++;
        rc = tf_timer_poll(timers[tag], w);
        if (rc == TF_READY) {
            assert_true(tf_now_ns() >= deadlines[tag]);
            done++;
        }
        assert_int_equal(tf_executor_report(e, w, rc == TF_READY ? TF_READY : TF_PENDING), TF_OK);
    }
    for (int i = 0; i < N; i++) {
        /* First poll, plus at most one after the driver's wake. */
        assert_true(polls[i] >= 1 && polls[i] <= 2);
        tf_timer_free(timers[i]);
    }
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w), TF_EEMPTY);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_shutdown_while_waiting_and_polling(void **state) {
    (void)state;
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 1), TF_OK);
    assert_int_equal(tf_executor_spawn_external(e, 2), TF_OK);
    uint64_t tag;
    const tf_waker *w1, *w2;
    assert_int_equal(tf_executor_next(e, 0, &tag, &w1), TF_OK);
    tf_waker *kept;
    tf_waker_clone(w1, &kept);
    assert_int_equal(tf_executor_report(e, w1, TF_PENDING), TF_OK);
    assert_int_equal(tf_executor_next(e, 0, &tag, &w2), TF_OK);
    /* Task 2 is "being polled" by us while the executor is freed. */
    assert_int_equal(tf_executor_free(e), TF_OK);
    tf_waker_wake_by_ref(kept); /* harmless */
    tf_waker_drop(kept);
    /* The task taken before the shutdown is still reported, which releases
     * it: the executor's memory goes with it (valgrind/ASan check that). */
    assert_int_equal(tf_executor_report(e, w2, TF_PENDING), TF_ESHUTDOWN);
}

/* --- the fd protocol, with forced interleavings ----------------------------
 * These use the library's scheduling hooks (static library only) to put a
 * second thread's wake exactly inside a drain's re-arm, the windows where
 * a readiness can be lost or left behind. Each fails on a protocol that
 * clears the flag and reads the counter apart from each other. */

#include "executor_internal.h"
#include "internal.h"

/* An executor without workers, and its fd. */
static tf_executor *executor_with_fd(int *fd) {
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    assert_int_equal(tf_executor_fd(e, fd), TF_OK);
    return e;
}

/* A C task that stays pending, keeping a clone of its waker for others. */
typedef struct {
    tf_waker *w;
    atomic_int polls;
} keeper;

static int keeper_poll(void *s, const tf_waker *w) {
    keeper *k = s;
    atomic_fetch_add(&k->polls, 1);
    if (!k->w) assert_int_equal(tf_waker_clone(w, &k->w), TF_OK);
    return TF_PENDING;
}

static void keeper_drop(void *s) {
    keeper *k = s;
    tf_waker_drop(k->w);
    k->w = NULL;
}

/* A one-shot gate between two threads. */
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int open;
} gate;

static void gate_init(gate *g) {
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
    g->open = 0;
}

static void gate_open(gate *g) {
    pthread_mutex_lock(&g->m);
    g->open = 1;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

static void gate_wait(gate *g) {
    pthread_mutex_lock(&g->m);
    while (!g->open) pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
}

static struct {
    pthread_t host;         /* the thread that drains */
    atomic_int armed;       /* the hook acts once, when set */
    gate go;                /* host -> waker thread: wake now */
    gate at_lock_or_done;   /* waker thread -> host: wake is past its
                               flag check (blocked on the fd lock) or done */
    gate drained;           /* host -> waker thread: drain finished */
    keeper *k;
    int scenario;
} hk;

enum { SC_WAKE_INSIDE_REARM = 1, SC_SIGNAL_AFTER_DRAIN };

static void hook(int point, void *obj) {
    (void)obj;
    /* Other threads (a driver's, from an earlier test) call the hook at
     * their own points while a test sets hk up: only the fd points read
     * it, and they come from this test's threads. */
    if (point != TF_HOOK_FD_REARM_CLEARED && point != TF_HOOK_FD_SIGNAL_LOCK) return;
    int on_host = pthread_equal(pthread_self(), hk.host);
    if (hk.scenario == SC_WAKE_INSIDE_REARM) {
        if (on_host && point == TF_HOOK_FD_REARM_CLEARED &&
            atomic_exchange(&hk.armed, 0)) {
            /* The host has just made the fd unreadable: a wake lands now. */
            gate_open(&hk.go);
            gate_wait(&hk.at_lock_or_done);
        } else if (!on_host && point == TF_HOOK_FD_SIGNAL_LOCK) {
            gate_open(&hk.at_lock_or_done);
        }
    } else if (hk.scenario == SC_SIGNAL_AFTER_DRAIN) {
        /* The waker decided to signal; the host drains before it does. */
        if (!on_host && point == TF_HOOK_FD_SIGNAL_LOCK &&
            atomic_exchange(&hk.armed, 0)) {
            gate_open(&hk.go);
            gate_wait(&hk.drained);
        }
    }
}

static void *waker_thread(void *arg) {
    (void)arg;
    if (hk.scenario == SC_WAKE_INSIDE_REARM) gate_wait(&hk.go);
    assert_int_equal(tf_waker_wake_by_ref(hk.k->w), TF_OK);
    gate_open(&hk.at_lock_or_done);
    return NULL;
}

static void hook_setup(int scenario, keeper *k) {
    memset(&hk, 0, sizeof(hk));
    gate_init(&hk.go);
    gate_init(&hk.at_lock_or_done);
    gate_init(&hk.drained);
    hk.host = pthread_self();
    hk.k = k;
    hk.scenario = scenario;
}

static void test_fd_wake_inside_rearm_is_not_lost(void **state) {
    (void)state;
    int fd;
    keeper k = {0};
    tf_executor *e = executor_with_fd(&fd);
    assert_int_equal(tf_executor_spawn(e, keeper_poll, keeper_drop, &k), TF_OK);
    assert_true(fd_readable(fd, 0));
    hook_setup(SC_WAKE_INSIDE_REARM, &k);
    atomic_store(&hk.armed, 1);
    tf__set_hook(hook);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, waker_thread, NULL), 0);
    /* Polls the task; its re-arm clears the fd, and the other thread's
     * wake arrives right then. */
    uint64_t polled = 0;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 1);
    pthread_join(th, NULL);
    tf__set_hook(NULL);
    /* The task is queued again: the fd must say so. */
    assert_true(tf__queue_nonempty(&e->runq));
    assert_true(fd_readable(fd, 0));
    assert_int_equal(e->efd_signalled, 1);
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 1);
    assert_int_equal(atomic_load(&k.polls), 2);
    assert_false(fd_readable(fd, 0));
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* --- the queue's push window ----------------------------------------- */

/* A push exchanges the queue's tail, then stores the link from the old
 * tail. In between, the task is queued but not reachable: a consumer that
 * gets there must wait for the link, not skip the task or stop. The hooks
 * hold the producer inside the window until the consumer waits in it. */
static struct {
    tf_queue *q;
    pthread_t producer;
    gate in_window;  /* producer -> host: tail exchanged, link not stored */
    gate consumer_waits; /* host's consumer -> producer: store it now */
    atomic_int waited;   /* the consumer reached the missing link */
} pw;

/* cppcheck-suppress constParameter ; the hook type is fixed (tf__hook_fn) */
static void push_window_hook(int point, void *obj) {
    if (point == TF_HOOK_QUEUE_PUSH_LINK && obj == pw.q &&
        pthread_equal(pthread_self(), pw.producer)) {
        gate_open(&pw.in_window);
        gate_wait(&pw.consumer_waits);
    } else if (point == TF_HOOK_QUEUE_LINK_WAIT &&
               !pthread_equal(pthread_self(), pw.producer)) {
        atomic_store(&pw.waited, 1);
        gate_open(&pw.consumer_waits);
    }
}

static void *push_window_waker(void *arg) {
    keeper *k = arg;
    assert_int_equal(tf_waker_wake_by_ref(k->w), TF_OK);
    return NULL;
}

/* behind_another: a task fully queued before the one in the window (the
 * consumer takes it, finds it looks last, and must wait for its link);
 * otherwise the queue was empty (the consumer waits at the stub). */
static void push_window_round(int behind_another) {
    keeper k[2] = {{0}, {0}};
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(tf_executor_spawn(e, keeper_poll, keeper_drop, &k[i]), TF_OK);
    uint64_t polled = 0;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 2);
    assert_false(tf__queue_nonempty(&e->runq));
    if (behind_another) assert_int_equal(tf_waker_wake_by_ref(k[0].w), TF_OK);

    memset(&pw, 0, sizeof(pw));
    pw.q = &e->runq;
    gate_init(&pw.in_window);
    gate_init(&pw.consumer_waits);
    tf__set_hook(push_window_hook);
    assert_int_equal(pthread_create(&pw.producer, NULL, push_window_waker, &k[1]), 0);
    gate_wait(&pw.in_window);
    /* Queued from the exchange on, though not reachable yet. */
    assert_true(tf__queue_nonempty(&e->runq));
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    pthread_join(pw.producer, NULL);
    tf__set_hook(NULL);
    assert_int_equal(atomic_load(&pw.waited), 1);
    /* Every queued task was polled, none skipped, in arrival order. */
    assert_int_equal(polled, behind_another ? 2 : 1);
    assert_int_equal(atomic_load(&k[0].polls), behind_another ? 2 : 1);
    assert_int_equal(atomic_load(&k[1].polls), 2);
    assert_false(tf__queue_nonempty(&e->runq));
    assert_int_equal(tf_executor_free(e), TF_OK);
}

static void test_push_window_consumer_waits_for_the_link(void **state) {
    (void)state;
    push_window_round(0);
    push_window_round(1);
}

static void *late_signaller(void *arg) {
    (void)arg;
    /* Pushes the task; the hook holds the signal back until the host has
     * drained and re-armed. */
    assert_int_equal(tf_waker_wake_by_ref(hk.k->w), TF_OK);
    return NULL;
}

static void test_fd_late_signal_leaves_no_stuck_readiness(void **state) {
    (void)state;
    int fd;
    keeper k = {0};
    tf_executor *e = executor_with_fd(&fd);
    assert_int_equal(tf_executor_spawn(e, keeper_poll, keeper_drop, &k), TF_OK);
    uint64_t polled = 0;
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_false(fd_readable(fd, 0));
    hook_setup(SC_SIGNAL_AFTER_DRAIN, &k);
    atomic_store(&hk.armed, 1);
    tf__set_hook(hook);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_signaller, NULL), 0);
    gate_wait(&hk.go); /* the task is queued, its signal not yet sent */
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 1);
    gate_open(&hk.drained);
    pthread_join(th, NULL);
    tf__set_hook(NULL);
    /* The late signal may make the fd readable once, with nothing queued;
     * the next drain must clear it for good. */
    assert_false(tf__queue_nonempty(&e->runq));
    assert_int_equal(tf_executor_run_ready(e, &polled), TF_OK);
    assert_int_equal(polled, 0);
    assert_false(fd_readable(fd, 0));
    assert_int_equal(e->efd_signalled, 0);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* --- several threads in tf_executor_next -------------------------------- */

static struct {
    tf_executor *e;
    atomic_int in_hook;
    gate release;
    atomic_int hooked;
} nw;

/* The hook type is fixed (tf__hook_fn): obj stays non-const. */
// cppcheck-suppress constParameter
static void next_hook(int point, void *obj) {
    /* The first waiter woken holds on before it clears the pending signal,
     * so both wakes below are pushed while that one signal is pending. */
    if (point == TF_HOOK_QUEUE_WOKEN && obj == &nw.e->extq &&
        atomic_exchange(&nw.hooked, 1) == 0) {
        atomic_store(&nw.in_hook, 1);
        gate_wait(&nw.release);
    }
}

typedef struct {
    int rc;
    uint64_t tag;
} next_result;

static void *next_waiter(void *arg) {
    next_result *r = arg;
    const tf_waker *w;
    /* No timeout: a waiter left asleep while a task waits for it would
     * come back only by its timeout, which is the bug. */
    r->rc = tf_executor_next(nw.e, TF_TIMEOUT_INFINITE, &r->tag, &w);
    if (r->rc == TF_OK) tf_executor_report(nw.e, w, TF_READY);
    return NULL;
}

/* Joins a waiter, failing (instead of hanging) if it is still asleep after
 * far longer than any scheduling delay. */
static void join_or_fail(pthread_t th) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    if (pthread_timedjoin_np(th, NULL, &ts) != 0)
        fail_msg("a thread waiting in tf_executor_next was never woken");
}

static void test_next_two_waiters_woken_back_to_back(void **state) {
    (void)state;
    memset(&nw, 0, sizeof(nw));
    gate_init(&nw.release);
    assert_int_equal(tf_executor_new(0, &nw.e), TF_OK);
    tf_waker *kept[2];
    for (uint64_t i = 0; i < 2; i++) {
        uint64_t tag;
        const tf_waker *w;
        assert_int_equal(tf_executor_spawn_external(nw.e, 10 + i), TF_OK);
        assert_int_equal(tf_executor_next(nw.e, 0, &tag, &w), TF_OK);
        assert_int_equal(tf_waker_clone(w, &kept[i]), TF_OK);
        assert_int_equal(tf_executor_report(nw.e, w, TF_PENDING), TF_OK);
    }
    next_result r[2] = {{1, 0}, {1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, next_waiter, &r[i]), 0);
    /* Both parked. */
    while (atomic_load(&nw.e->extq.sleepers) != 2) sleep_ms(1);
    tf__set_hook(next_hook);
    assert_int_equal(tf_waker_wake(kept[0]), TF_OK);
    while (!atomic_load(&nw.in_hook)) sleep_ms(1);
    assert_int_equal(tf_waker_wake(kept[1]), TF_OK);
    gate_open(&nw.release);
    for (int i = 0; i < 2; i++) join_or_fail(th[i]);
    tf__set_hook(NULL);
    assert_int_equal(r[0].rc, TF_OK);
    assert_int_equal(r[1].rc, TF_OK);
    assert_int_equal(r[0].tag + r[1].tag, 21); /* 10 and 11, once each */
    assert_int_equal(tf_executor_free(nw.e), TF_OK);
}

/* Three waiting threads, three wakes in a row: all taken, none times out;
 * one thread alone takes them in wake order. */
static void test_next_order_and_liveness(void **state) {
    (void)state;
    memset(&nw, 0, sizeof(nw));
    assert_int_equal(tf_executor_new(0, &nw.e), TF_OK);
    tf_waker *kept[3];
    for (uint64_t i = 0; i < 3; i++) {
        uint64_t tag;
        const tf_waker *w;
        assert_int_equal(tf_executor_spawn_external(nw.e, i), TF_OK);
        assert_int_equal(tf_executor_next(nw.e, 0, &tag, &w), TF_OK);
        assert_int_equal(tf_waker_clone(w, &kept[i]), TF_OK);
        assert_int_equal(tf_executor_report(nw.e, w, TF_PENDING), TF_OK);
    }
    /* Order: woken 2, 0, 1; handed out 2, 0, 1. */
    uint64_t order[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++) assert_int_equal(tf_waker_wake_by_ref(kept[order[i]]), TF_OK);
    for (int i = 0; i < 3; i++) {
        uint64_t tag;
        const tf_waker *w;
        assert_int_equal(tf_executor_next(nw.e, 0, &tag, &w), TF_OK);
        assert_int_equal(tag, order[i]);
        assert_int_equal(tf_executor_report(nw.e, w, TF_PENDING), TF_OK);
    }
    /* Liveness: three parked threads, three wakes back to back. */
    next_result r[3] = {{1, 0}, {1, 0}, {1, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, next_waiter, &r[i]), 0);
    while (atomic_load(&nw.e->extq.sleepers) != 3) sleep_ms(1);
    for (int i = 0; i < 3; i++) assert_int_equal(tf_waker_wake(kept[i]), TF_OK);
    uint64_t sum = 0;
    for (int i = 0; i < 3; i++) {
        join_or_fail(th[i]);
        assert_int_equal(r[i].rc, TF_OK);
        sum += r[i].tag;
    }
    assert_int_equal(sum, 3);
    assert_int_equal(tf_executor_free(nw.e), TF_OK);
}

/* --- a wake inside the park's window ------------------------------------ */

#include "clock.h"

static struct {
    tf_executor *e;
    tf_waker *kept;
    uint64_t base;
    atomic_int fired;
} win;

/* The clock of the test below: time stands still. Its first read while
 * the waiter counts itself a sleeper is the deadline check between its
 * last look at the queue and its sleep: the task is woken right there
 * (from the waiter's own thread, which holds no lock of the queue). */
static uint64_t window_clock(void) {
    if (atomic_load(&win.e->extq.sleepers) == 1 && atomic_exchange(&win.fired, 1) == 0)
        (void)tf_waker_wake_by_ref(win.kept);
    return win.base;
}

static void *window_waiter(void *arg) {
    next_result *r = arg;
    const tf_waker *w;
    /* An hour: a waiter that slept through the wake would be back only
     * then, far after join_or_fail gives up. */
    r->rc = tf_executor_next(win.e, UINT64_C(3600000000000), &r->tag, &w);
    if (r->rc == TF_OK) tf_executor_report(win.e, w, TF_READY);
    return NULL;
}

/* A wake that lands after the waiter's last look at the queue and before
 * it sleeps finds nobody asleep yet: the sleep must end at once. */
static void test_next_wake_between_check_and_sleep(void **state) {
    (void)state;
    memset(&win, 0, sizeof(win));
    assert_int_equal(tf_executor_new(0, &win.e), TF_OK);
    uint64_t tag;
    const tf_waker *w;
    assert_int_equal(tf_executor_spawn_external(win.e, 7), TF_OK);
    assert_int_equal(tf_executor_next(win.e, 0, &tag, &w), TF_OK);
    assert_int_equal(tf_waker_clone(w, &win.kept), TF_OK);
    assert_int_equal(tf_executor_report(win.e, w, TF_PENDING), TF_OK);
    /* The real clock's time, so that the deadline is an hour away for the
     * kernel's timeout too. */
    win.base = tf__clock_real();
    tf__clock_set_hook(window_clock);
    next_result r = {1, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, window_waiter, &r), 0);
    join_or_fail(th);
    tf__clock_set_hook(NULL);
    assert_int_equal(atomic_load(&win.fired), 1);
    assert_int_equal(r.rc, TF_OK);
    assert_int_equal(r.tag, 7);
    tf_waker_drop(win.kept);
    assert_int_equal(tf_executor_free(win.e), TF_OK);
}

/* --- tf_executor_drain -------------------------------------------------- */

static int ready_c(void *s, const tf_waker *w) {
    (void)w;
    atomic_fetch_add((atomic_int *)s, 1);
    return TF_READY;
}

static void test_drain_runs_and_hands_out(void **state) {
    (void)state;
    int fd;
    atomic_int ran;
    atomic_init(&ran, 0);
    tf_executor *e = executor_with_fd(&fd);
    size_t taken = 99;
    /* Nothing there: 0, nothing taken, fd unreadable. */
    assert_int_equal(tf_executor_drain(e, NULL, NULL, 0, &taken), 0);
    assert_int_equal(taken, 0);
    assert_false(fd_readable(fd, 0));
    for (int i = 0; i < 3; i++)
        assert_int_equal(tf_executor_spawn(e, ready_c, NULL, &ran), TF_OK);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(tf_executor_spawn_external(e, 100 + i), TF_OK);
    assert_true(fd_readable(fd, 0));
    uint64_t tags[2];
    const tf_waker *wakers[2];
    /* Capacity 2 of 5: C tasks all run, two taken, work remains. */
    assert_int_equal(tf_executor_drain(e, tags, wakers, 2, &taken), 1);
    assert_int_equal(atomic_load(&ran), 3);
    assert_int_equal(taken, 2);
    assert_int_equal(tags[0], 100);
    assert_int_equal(tags[1], 101);
    assert_true(fd_readable(fd, 0));
    /* One reported pending and woken during its poll: queued again. */
    assert_int_equal(tf_waker_wake_by_ref(wakers[0]), TF_OK);
    assert_int_equal(tf_executor_report(e, wakers[0], TF_PENDING), TF_OK);
    assert_int_equal(tf_executor_report(e, wakers[1], TF_READY), TF_OK);
    uint64_t seen = 0;
    int rc;
    do {
        rc = tf_executor_drain(e, tags, wakers, 2, &taken);
        assert_true(rc == 0 || rc == 1);
        for (size_t i = 0; i < taken; i++) {
            seen++;
            assert_int_equal(tf_executor_report(e, wakers[i], TF_READY), TF_OK);
        }
        assert_int_equal(fd_readable(fd, 0), rc == 1);
    } while (rc == 1);
    assert_int_equal(seen, 4); /* 100 again, 102, 103, 104 */
    assert_false(fd_readable(fd, 0));
    uint64_t n, ext;
    assert_int_equal(tf_executor_count(e, &n, &ext), TF_OK);
    assert_int_equal(n + ext, 0);
    /* Bad arguments. */
    assert_int_equal(tf_executor_drain(NULL, tags, wakers, 2, &taken), TF_EINVAL);
    assert_int_equal(tf_executor_drain(e, tags, wakers, 2, NULL), TF_EINVAL);
    assert_int_equal(tf_executor_drain(e, NULL, wakers, 2, &taken), TF_EINVAL);
    assert_int_equal(tf_executor_drain(e, tags, NULL, 2, &taken), TF_EINVAL);
    assert_int_equal(tf_executor_drain((tf_executor *)&n, tags, wakers, 2, &taken),
                     TF_EHANDLE);
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* A C task that wakes itself for ever: the drain returns (bounded) and
 * says work remains, with the fd readable. */
static int always_again(void *s, const tf_waker *w) {
    atomic_fetch_add((atomic_int *)s, 1);
    tf_waker_wake_by_ref(w);
    return TF_PENDING;
}

static void test_drain_is_bounded(void **state) {
    (void)state;
    int fd;
    atomic_int polls;
    atomic_init(&polls, 0);
    tf_executor *e = executor_with_fd(&fd);
    assert_int_equal(tf_executor_spawn(e, always_again, NULL, &polls), TF_OK);
    size_t taken;
    assert_int_equal(tf_executor_drain(e, NULL, NULL, 0, &taken), 1);
    assert_true(atomic_load(&polls) > 1);
    assert_true(fd_readable(fd, 0));
    assert_int_equal(tf_executor_free(e), TF_OK);
}

/* --- nested executors and drop functions ------------------------------- */

static struct {
    tf_executor *a, *b;
    int rc_free_a, rc_run_a, rc_ready_a, rc_drain_a;
    int drops;
    int rc_drop_free, rc_drop_run, rc_drop_ready;
} ne;

static int b_task(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    size_t taken;
    ne.rc_free_a = tf_executor_free(ne.a);
    ne.rc_run_a = tf_executor_run(ne.a);
    ne.rc_ready_a = tf_executor_run_ready(ne.a, NULL);
    ne.rc_drain_a = tf_executor_drain(ne.a, NULL, NULL, 0, &taken);
    return TF_READY;
}

static int a_task(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    assert_int_equal(tf_executor_spawn(ne.b, b_task, NULL, NULL), TF_OK);
    assert_int_equal(tf_executor_run(ne.b), TF_OK);
    return TF_READY;
}

static void test_nested_executor_refuses_outer_free(void **state) {
    (void)state;
    memset(&ne, 0, sizeof(ne));
    assert_int_equal(tf_executor_new(0, &ne.a), TF_OK);
    assert_int_equal(tf_executor_new(0, &ne.b), TF_OK);
    assert_int_equal(tf_executor_spawn(ne.a, a_task, NULL, NULL), TF_OK);
    assert_int_equal(tf_executor_run(ne.a), TF_OK);
    assert_int_equal(ne.rc_free_a, TF_EBUSY);
    assert_int_equal(ne.rc_run_a, TF_EBUSY);
    assert_int_equal(ne.rc_ready_a, TF_EBUSY);
    assert_int_equal(ne.rc_drain_a, TF_EBUSY);
    /* Both still work. */
    atomic_int ran;
    atomic_init(&ran, 0);
    assert_int_equal(tf_executor_spawn(ne.a, ready_c, NULL, &ran), TF_OK);
    assert_int_equal(tf_executor_run(ne.a), TF_OK);
    assert_int_equal(atomic_load(&ran), 1);
    assert_int_equal(tf_executor_free(ne.b), TF_OK);
    assert_int_equal(tf_executor_free(ne.a), TF_OK);
}

static void self_freeing_drop(void *s) {
    (void)s;
    ne.drops++;
    ne.rc_drop_free = tf_executor_free(ne.a);
    ne.rc_drop_run = tf_executor_run(ne.a);
    ne.rc_drop_ready = tf_executor_run_ready(ne.a, NULL);
}

static int done_at_once(void *s, const tf_waker *w) {
    (void)s;
    (void)w;
    return TF_READY;
}

static void test_drop_function_cannot_free_or_run_its_executor(void **state) {
    (void)state;
    memset(&ne, 0, sizeof(ne));
    for (int via = 0; via < 3; via++) {
        ne.drops = 0;
        assert_int_equal(tf_executor_new(0, &ne.a), TF_OK);
        assert_int_equal(tf_executor_spawn(ne.a, done_at_once, self_freeing_drop, NULL),
                         TF_OK);
        size_t taken;
        if (via == 0) assert_int_equal(tf_executor_run(ne.a), TF_OK);
        if (via == 1) assert_int_equal(tf_executor_run_ready(ne.a, NULL), TF_OK);
        if (via == 2) assert_int_equal(tf_executor_drain(ne.a, NULL, NULL, 0, &taken), 0);
        assert_int_equal(ne.drops, 1);
        assert_int_equal(ne.rc_drop_free, TF_EBUSY);
        assert_int_equal(ne.rc_drop_run, TF_EBUSY);
        assert_int_equal(ne.rc_drop_ready, TF_EBUSY);
        assert_int_equal(tf_executor_free(ne.a), TF_OK);
        assert_int_equal(ne.drops, 1); /* not dropped again */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_poll_and_completion),
        cmocka_unit_test(test_pending_wake_and_wake_during_poll),
        cmocka_unit_test(test_report_errors),
        cmocka_unit_test(test_next_times_out),
        cmocka_unit_test(test_fd_follows_readiness),
        cmocka_unit_test(test_timer_through_fd_loop),
        cmocka_unit_test(test_shutdown_while_waiting_and_polling),
        cmocka_unit_test(test_fd_wake_inside_rearm_is_not_lost),
        cmocka_unit_test(test_fd_late_signal_leaves_no_stuck_readiness),
        cmocka_unit_test(test_next_two_waiters_woken_back_to_back),
        cmocka_unit_test(test_next_order_and_liveness),
        cmocka_unit_test(test_next_wake_between_check_and_sleep),
        cmocka_unit_test(test_drain_runs_and_hands_out),
        cmocka_unit_test(test_drain_is_bounded),
        cmocka_unit_test(test_push_window_consumer_waits_for_the_link),
        cmocka_unit_test(test_nested_executor_refuses_outer_free),
        cmocka_unit_test(test_drop_function_cannot_free_or_run_its_executor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
