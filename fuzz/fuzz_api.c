/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the input is a program of API calls over a few
 * executors, tasks, external tasks, wakers and timers, including calls
 * with NULL, wrong-type handles and out-of-range values. A model of what
 * should happen is kept alongside and checked after every call:
 *
 * - every status is one the header documents for that call, and the
 *   deterministic ones are exact (double cancel, poll after cancel, counts
 *   of tasks on caller-polled executors, deadlines read back, ...);
 * - a task is never polled after it completed or was dropped, its future
 *   is dropped exactly once, and freeing an executor drops every one of its
 *   unfinished futures;
 * - every reference to a caller-made waker that the library took is given
 *   back exactly once;
 * - liveness: a cancel wakes the task (or caller-made waker) waiting on
 *   the timer; a task that woke itself is polled again; a woken external
 *   task is handed out by tf_executor_next and tf_executor_drain; timed
 *   scenes (tf_executor_run and tf_executor_next with timeouts, tasks on
 *   real, short timers, cancelled timers, self-waking tasks, on executors
 *   with and without workers) finish, each task polled exactly as often
 *   as its wakes require (a lost wake hangs the input: libFuzzer's
 *   -timeout reports it);
 * - tf_timer_peek agrees with poll;
 * - timer drivers: host-mode drivers on a manual clock, with timers made
 *   after a duration or at a deadline, polled, reset, cancelled and freed,
 *   are exact: tf_driver_advance fires exactly the armed timers due by its
 *   time (refusing time that goes backwards with TF_ERANGE), wakes each
 *   waiting waker once, and tf_driver_next_deadline never passes the
 *   earliest deadline while advancing to it reaches every timer; freeing
 *   a driver with timers is TF_EBUSY; tf_timer_driver names the driver;
 *   bad handles and options are refused;
 * - the experimental tier on those drivers: intervals of each missed-tick
 *   policy (READY or PENDING and the tick count exact, from the header's
 *   rules; reset, reset_at, cancel, deadline, free; TF_ERANGE at the
 *   clock's end; every refusal of tf_interval_new_on), timeouts around a
 *   scripted inner future (the inner future first, so it wins past the
 *   deadline; a final result repeated without polling; the inner future
 *   dropped exactly once on completion, timeout, free while pending and
 *   every error of tf_timeout_new_on, out of memory included), and
 *   per-timer slack (advancing to tf_driver_next_deadline never fires a
 *   timer early nor later than its deadline plus its rounded-down slack);
 * - at the end of each input, with everything released, tf_set_allocator
 *   succeeds (no object of the library is alive) and every allocation made
 *   through it has been freed.
 *
 * A violated invariant calls abort(), which libFuzzer reports as a crash.
 * Built by fuzz/CMakeLists.txt (clang, -fsanitize=fuzzer,address,undefined)
 * from the library sources; run by scripts/fuzz.sh. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "timefuture.h"

#define REQUIRE(cond)                                                        \
    do {                                                                     \
        if (!(cond)) {                                                       \
            (void)fprintf(stderr, "fuzz_api.c:%d: invariant failed: %s\n",         \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)
#define ONE_OF2(v, a, b) ((v) == (a) || (v) == (b))
#define ONE_OF3(v, a, b, c) (ONE_OF2(v, a, b) || (v) == (c))

enum { MAX_EXEC = 3, MAX_TASKS = 48, MAX_EXT = 16, MAX_WAKERS = 12,
       MAX_TIMERS = 8, PROGRAM = 6 };

/* --- input reader --------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t u8(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}
static uint32_t u32(input *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | u8(in);
    return v;
}

/* --- counting allocator ---------------------------------------------------- */

static atomic_long allocs, frees;
static _Thread_local int fail_allocs;
static void *fz_alloc(void *ud, size_t n) {
    (void)ud;
    if (fail_allocs) return NULL; /* an ENOMEM path, on this thread only */
    void *p = malloc(n);
    if (p) atomic_fetch_add(&allocs, 1);
    return p;
}
static void fz_free(void *ud, void *p) {
    (void)ud;
    atomic_fetch_add(&frees, 1);
    free(p);
}
static const tf_allocator fz_allocator = {sizeof(tf_allocator), 0, fz_alloc,
                                          fz_free, NULL};

/* --- caller-made wakers ------------------------------------------------------- */

typedef struct cdata_s {
    atomic_int refs; /* references the library holds, through our vtable */
    atomic_int wakes;
} cdata;

static cdata custom_data[2];

static void *c_clone(void *d) {
    atomic_fetch_add(&((cdata *)d)->refs, 1);
    return d;
}
static void c_wake(void *d) {
    atomic_fetch_add(&((cdata *)d)->wakes, 1);
    atomic_fetch_sub(&((cdata *)d)->refs, 1);
}
static void c_wake_by_ref(void *d) { atomic_fetch_add(&((cdata *)d)->wakes, 1); }
static void c_drop(void *d) { atomic_fetch_sub(&((cdata *)d)->refs, 1); }
static const tf_waker_vtable c_vt = {sizeof(tf_waker_vtable), 0, c_clone,
                                     c_wake, c_wake_by_ref, c_drop};

/* --- the model ------------------------------------------------------------------ */

typedef struct fz_task {
    int used;
    int exec;               /* index into executors */
    uint8_t program[PROGRAM];
    atomic_int polls;
    atomic_int completed;
    atomic_int drops;
    atomic_int in_poll;
    int wake_pending;       /* woken through a held waker, not yet polled */
    int polls_at_wake;
    int self_woke;          /* its last poll woke it: it must be polled again */
} fz_task;

typedef struct {
    tf_executor *e;
    int workers;
    int tasks_unfinished;   /* model, exact for caller-polled executors */
    int ext_unfinished;
} fz_exec;

typedef struct {
    int used, exec;
    uint64_t tag;
    const tf_waker *taken;  /* borrowed from tf_executor_next until report */
    int done;
    int woken;              /* woken while idle: next must hand it out */
} fz_ext;

typedef struct {
    tf_timer *t;
    int cancelled;          /* cancelled and not re-armed since */
    int has_abs;            /* deadline known exactly */
    uint64_t deadline;
    /* Who waits on it: the last pending poll's waker, stored by the timer
     * (a C task of a caller-polled executor, or a caller-made waker). Only
     * tracked while the deadline is far, so it cannot have fired since. */
    struct fz_task *waiter_task;
    struct cdata_s *waiter_custom;
} fz_timer;

/* Host-mode drivers on a manual clock, and timers on them: time moves
 * only in tf_driver_advance, so every result is exact. */
enum { MAX_DRIVERS = 2, MAX_DTIMERS = 6, MAX_IV = 3, MAX_TO = 3,
       /* Model timers: the driver timers, then each interval's and each
        * timeout's own timer (at MT_IV + j, MT_TO + j). */
       MT_IV = MAX_DTIMERS, MT_TO = MT_IV + MAX_IV, MAX_MT = MT_TO + MAX_TO };

typedef struct {
    tf_driver *d;
    uint64_t now;           /* the manual clock: the last advance */
    int timers;             /* live timers on it */
} fz_driver;

enum { DT_ARMED = 1, DT_FIRED, DT_CANCELLED };

typedef struct {
    tf_timer *t;
    int drv;                /* index into drivers */
    int state;              /* DT_* */
    uint64_t deadline;
    tf_waker *waker;        /* ours, a caller-made one on data[k] */
    int waiting;            /* the timer stores a clone of it */
    int wakes;              /* wakes it must have had */
    int live;               /* an interval's or a timeout's timer exists */
    uint64_t slack;         /* tf_timer_set_slack, rounded down; 0: none */
} fz_dtimer;

/* An interval: the schedule as the header's rules make it. */
typedef struct {
    tf_interval *iv;
    int policy, cancelled;
    uint64_t period, next;
} fz_interval;

/* A timeout's inner future: PENDING for `pending` polls (-1: for ever),
 * then `result`; yields (wakes its waker by reference) while pending. */
typedef struct {
    int pending, result, yield, with_drop;
    int polls, drops, completed;
} fz_inner;

typedef struct {
    tf_timeout *to;
    int done, result;
    fz_inner inner;
} fz_timeout;

static cdata dtimer_data[MAX_MT];

static struct {
    fz_driver drivers[MAX_DRIVERS];
    fz_dtimer dtimers[MAX_MT];
    fz_interval ivs[MAX_IV];
    fz_timeout tos[MAX_TO];
    fz_exec ex[MAX_EXEC];
    fz_task tasks[MAX_TASKS];
    fz_ext ext[MAX_EXT];
    tf_waker *wakers[MAX_WAKERS];   /* references we hold */
    fz_task *waker_task[MAX_WAKERS]; /* the C task a held waker wakes */
    int waker_ext[MAX_WAKERS];      /* or the external task's slot + 1 */
    cdata *waker_custom[MAX_WAKERS]; /* or the caller-made waker's data */
    fz_timer timers[MAX_TIMERS];
    int ntasks;
} S;

/* TF_FUZZ_TRACE=1 prints each operation, to read a crashing input. */
static int trace;

/* Junk that is no handle of any kind. */
static _Alignas(16) unsigned char junk[64];

static int free_waker_slot(void) {
    for (int i = 0; i < MAX_WAKERS; i++)
        if (!S.wakers[i]) return i;
    return -1;
}

/* External task slot k is gone (completed, or its executor freed) and may
 * be reused: held wakers of the old task no longer wake whatever is
 * spawned there next. */
static void forget_ext(int k) {
    for (int i = 0; i < MAX_WAKERS; i++)
        if (S.waker_ext[i] == k + 1) S.waker_ext[i] = 0;
}

static int far_deadline(const fz_timer *ft) {
    return ft->has_abs && ft->deadline > tf_now_ns() + UINT64_C(1000000000);
}

/* After a poll of ft: the waiter the timer now stores, if any. */
static void note_waiter(fz_timer *ft, int rc, struct fz_task *task, cdata *custom) {
    ft->waiter_task = NULL;
    ft->waiter_custom = NULL;
    if (rc != TF_PENDING || !far_deadline(ft)) return;
    ft->waiter_task = task;
    ft->waiter_custom = custom;
}

static void drop_fn(void *s) {
    fz_task *t = s;
    REQUIRE(atomic_fetch_add(&t->drops, 1) == 0); /* exactly once */
}

static int task_poll(void *s, const tf_waker *w) {
    fz_task *t = s;
    REQUIRE(!atomic_load(&t->completed));
    REQUIRE(!atomic_load(&t->drops));
    REQUIRE(atomic_exchange(&t->in_poll, 1) == 0);
    int p = atomic_fetch_add(&t->polls, 1);
    int workers = S.ex[t->exec].workers;
    int r = TF_PENDING;
    t->self_woke = 0;
    switch (t->program[p % PROGRAM] % 8) {
    case 0:
        r = TF_READY;
        break;
    case 1: /* keep a clone for the fuzzer to wake later */
        if (!workers) {
            int k = free_waker_slot();
            if (k >= 0) {
                REQUIRE(tf_waker_clone(w, &S.wakers[k]) == TF_OK);
                S.waker_task[k] = t;
                S.waker_ext[k] = 0;
                S.waker_custom[k] = NULL;
            }
        }
        break;
    case 2: /* yield */
        REQUIRE(tf_waker_wake_by_ref(w) == TF_OK);
        t->self_woke = !workers;
        break;
    case 3: { /* re-entrant calls are refused */
        tf_executor *e = S.ex[t->exec].e;
        REQUIRE(tf_executor_run(e) == TF_EBUSY);
        REQUIRE(tf_executor_run_ready(e, NULL) == TF_EBUSY);
        if (!workers) REQUIRE(tf_executor_free(e) == TF_EBUSY);
        REQUIRE(tf_executor_report(e, w, TF_READY) == TF_EHANDLE);
        size_t taken = 9;
        REQUIRE(tf_executor_drain(e, NULL, NULL, 0, &taken) == TF_EBUSY);
        r = p >= 3 ? 42 : TF_PENDING; /* any non-pending value completes */
        if (r == TF_PENDING) {
            REQUIRE(tf_waker_wake_by_ref(w) == TF_OK);
            t->self_woke = !workers;
        }
        break;
    }
    case 4: /* poll a timer with our waker */
        if (!workers) {
            fz_timer *ft = &S.timers[t->program[0] % MAX_TIMERS];
            if (ft->t) {
                int rc = tf_timer_poll(ft->t, w);
                REQUIRE(ONE_OF3(rc, TF_PENDING, TF_READY, TF_ECANCELED));
                REQUIRE((rc == TF_ECANCELED) == ft->cancelled);
                if (rc != TF_PENDING) r = TF_READY;
                note_waiter(ft, rc, t, NULL);
            } else {
                r = TF_READY;
            }
        } else {
            r = TF_READY;
        }
        break;
    case 5: /* spawn a sibling (caller-polled executors only) */
        if (!workers && S.ntasks < MAX_TASKS) {
            fz_task *n = &S.tasks[S.ntasks];
            memset(n, 0, sizeof(*n));
            n->used = 1;
            n->exec = t->exec;
            for (int i = 0; i < PROGRAM; i++) n->program[i] = t->program[(i + 1) % PROGRAM] + 1;
            REQUIRE(tf_executor_spawn(S.ex[t->exec].e, task_poll, drop_fn, n) == TF_OK);
            S.ntasks++;
            S.ex[t->exec].tasks_unfinished++;
        }
        break;
    case 6: /* pending with no waker kept: only a shutdown ends it */
        break;
    default:
        r = -3; /* an error value completes too */
    }
    if (r != TF_PENDING) {
        atomic_store(&t->completed, 1);
        if (!workers) S.ex[t->exec].tasks_unfinished--;
    }
    atomic_store(&t->in_poll, 0);
    return r;
}

/* Frees executor i and checks that every one of its futures was dropped. */
static void exec_free(int i) {
    fz_exec *x = &S.ex[i];
    if (!x->e) return;
    REQUIRE(tf_executor_free(x->e) == TF_OK);
    for (int k = 0; k < S.ntasks; k++) {
        fz_task *t = &S.tasks[k];
        if (t->used && t->exec == i) {
            REQUIRE(atomic_load(&t->drops) == 1);
            t->used = 0;
        }
    }
    for (int k = 0; k < MAX_EXT; k++) {
        fz_ext *e = &S.ext[k];
        if (e->used && e->exec == i) {
            /* One still taken must be reported: the only call allowed
             * on a freed executor. */
            if (e->taken)
                REQUIRE(tf_executor_report(x->e, e->taken, TF_PENDING) == TF_ESHUTDOWN);
            memset(e, 0, sizeof(*e));
            forget_ext(k);
        }
    }
    memset(x, 0, sizeof(*x));
}

static int task_block_on(void *s, const tf_waker *w) {
    int *left = s;
    if ((*left)-- > 0) {
        REQUIRE(tf_waker_wake_by_ref(w) == TF_OK);
        return TF_PENDING;
    }
    return 7;
}

/* Before waking held waker k: what the wake must lead to, for tasks of
 * caller-polled executors (whose polls happen only when we ask). */
static void note_wake(int k) {
    fz_task *t = S.waker_task[k];
    if (trace)
        (void)fprintf(stderr, "  wake of held waker %d: task %d, external %d\n", k,
                      t ? (int)(t - S.tasks) : -1, S.waker_ext[k] - 1);
    if (t && t->used && !S.ex[t->exec].workers && !atomic_load(&t->completed) &&
        !t->wake_pending) {
        t->wake_pending = 1;
        t->polls_at_wake = atomic_load(&t->polls);
    }
    int x = S.waker_ext[k] - 1;
    if (x >= 0 && S.ext[x].used && !S.ext[x].done && !S.ext[x].taken)
        S.ext[x].woken = 1;
}

/* After tf_executor_run_ready on executor xi: every task woken since its
 * last poll has been polled (no wake is lost, none left queued). */
static void check_woken_polled(int xi) {
    if (S.ex[xi].workers) return;
    for (int k = 0; k < S.ntasks; k++) {
        fz_task *t = &S.tasks[k];
        if (!t->used || t->exec != xi || !t->wake_pending) continue;
        REQUIRE(atomic_load(&t->polls) > t->polls_at_wake);
        t->wake_pending = 0;
    }
}

/* Runs caller-polled executor xi until a round polls nothing (at most a
 * few rounds: a task may yield for ever); then no task that woke itself
 * is still waiting for its poll. */
static void run_until_idle(int xi) {
    uint64_t polled = 1;
    for (int round = 0; round < 8 && polled; round++) {
        REQUIRE(tf_executor_run_ready(S.ex[xi].e, &polled) == TF_OK);
        check_woken_polled(xi);
    }
    if (polled || S.ex[xi].workers) return;
    for (int k = 0; k < S.ntasks; k++) {
        fz_task *t = &S.tasks[k];
        if (t->used && t->exec == xi && !atomic_load(&t->completed))
            REQUIRE(!t->self_woke);
    }
}

static uint64_t pick_duration(input *in) {
    switch (u8(in) % 8) {
    case 0: return 0;
    case 1: return 1;
    case 2: return u8(in) * UINT64_C(1000);        /* up to 255 us */
    case 3: return UINT64_C(3600) * 1000000000u;   /* an hour */
    case 4: return UINT64_MAX;
    case 5: return UINT64_MAX - u8(in);
    case 6: return (uint64_t)u32(in) << 20;        /* up to ~52 days */
    default: return u32(in);                       /* up to ~4 s */
    }
}

static uint64_t pick_deadline(input *in, int *out_of_range) {
    uint64_t now = tf_now_ns(), d;
    switch (u8(in) % 6) {
    case 0: d = 0; break;
    case 1: d = now; break;
    case 2: d = now + u8(in) * UINT64_C(1000); break;
    case 3: d = UINT64_MAX - 1; break;
    case 4: d = UINT64_MAX; break;
    default: d = now + ((uint64_t)u32(in) << 16); break;
    }
    *out_of_range = d == UINT64_MAX;
    return d;
}

static int timer_poll_fn(void *s, const tf_waker *w) {
    return tf_timer_poll(s, w);
}

/* --- timed scenes --------------------------------------------------------- */

/* A small executor of its own, run to the end by tf_executor_run (or by
 * tf_executor_run_ready loops): tasks that sleep on real timers of up to
 * 2 ms, tasks that yield a given number of times, and pairs where one task
 * awaits a timer an hour away and the other cancels it. Each finishes only
 * if every wake it needs arrives: a lost timer wake, a cancel that does not
 * wake its waiter or a self-wake that is not polled again hangs the input
 * (reported by libFuzzer's -timeout). Counts are exact: a sleeper is
 * polled at least twice and wakes after its deadline, a yielder exactly
 * yields + 1 times, a cancelled waiter sees TF_ECANCELED. */
enum { SCENE_MAX = 6 };
typedef struct scene_task {
    int kind;               /* 0 sleeper, 1 yielder, 2 waiter, 3 canceller */
    int yields;
    uint64_t sleep_ns;
    tf_timer *t;
    uint64_t deadline;
    struct scene_task *victim; /* for a canceller */
    atomic_int polls, done, saw_cancel, dropped;
} scene_task;

static int scene_poll(void *s, const tf_waker *w) {
    scene_task *t = s;
    REQUIRE(!atomic_load(&t->done));
    int p = atomic_fetch_add(&t->polls, 1);
    switch (t->kind) {
    case 0:
        if (!t->t) {
            REQUIRE(tf_timer_new(t->sleep_ns, &t->t) == TF_OK);
            REQUIRE(tf_timer_deadline(t->t, &t->deadline) == TF_OK);
        }
        break;
    case 1:
        if (p < t->yields) {
            REQUIRE(tf_waker_wake_by_ref(w) == TF_OK);
            return TF_PENDING;
        }
        atomic_store(&t->done, 1);
        return TF_READY;
    case 2:
        break; /* its timer is made before the run */
    default:
        if (t->victim) REQUIRE(tf_timer_cancel(t->victim->t) == TF_OK);
        atomic_store(&t->done, 1);
        return TF_READY;
    }
    int rc = tf_timer_poll(t->t, w);
    if (rc == TF_PENDING) return TF_PENDING;
    if (rc == TF_READY) REQUIRE(tf_now_ns() >= t->deadline);
    else REQUIRE(rc == TF_ECANCELED && t->kind == 2);
    atomic_store(&t->saw_cancel, rc == TF_ECANCELED);
    atomic_store(&t->done, 1);
    return TF_READY;
}
static void scene_drop(void *s) { atomic_fetch_add(&((scene_task *)s)->dropped, 1); }

static void timed_scene(input *in) {
    uint32_t workers = u8(in) % 3; /* 0: run on this thread */
    int n = 1 + u8(in) % SCENE_MAX, use_run = u8(in) % 2;
    scene_task *ts = calloc(SCENE_MAX, sizeof(*ts));
    REQUIRE(ts != NULL);
    for (int i = 0; i < n; i++) {
        scene_task *t = &ts[i];
        uint8_t b = u8(in);
        t->kind = b % 3 == 2 && i + 1 < n ? 2 : b % 2;
        t->yields = b / 4 % 5;
        t->sleep_ns = (uint64_t)(b / 4 % 9) * 250000u; /* 0 .. 2 ms */
        if (t->kind == 2) {
            /* The waiter's timer is an hour away: only the cancel ends it. */
            REQUIRE(tf_timer_new(UINT64_C(3600000000000), &t->t) == TF_OK);
            REQUIRE(tf_timer_deadline(t->t, &t->deadline) == TF_OK);
            ts[i + 1].kind = 3;
            ts[i + 1].victim = t;
            i++;
        }
    }
    tf_executor *e = NULL;
    REQUIRE(tf_executor_new(workers, &e) == TF_OK);
    for (int i = 0; i < n; i++)
        REQUIRE(tf_executor_spawn(e, scene_poll, scene_drop, &ts[i]) == TF_OK);
    if (use_run || workers) {
        REQUIRE(tf_executor_run(e) == TF_OK);
    } else {
        /* The host-loop way: run what is ready, sleep on the fd. */
        int fd = -1;
        REQUIRE(tf_executor_fd(e, &fd) == TF_OK);
        for (;;) {
            size_t taken = 0;
            REQUIRE(tf_executor_drain(e, NULL, NULL, 0, &taken) >= 0);
            uint64_t left = 0;
            REQUIRE(tf_executor_count(e, &left, NULL) == TF_OK);
            if (!left) break;
            /* Sleeps until the fd says a task is ready again (a timer's
             * wake, a cancel): a readiness that never comes hangs here. */
            struct pollfd pfd = {fd, POLLIN, 0};
            int pr;
            do /* libFuzzer's timeout checks interrupt it with SIGALRM */
                pr = poll(&pfd, 1, -1);
            while (pr < 0 && errno == EINTR);
            REQUIRE(pr == 1);
        }
    }
    for (int i = 0; i < n; i++) {
        scene_task *t = &ts[i];
        REQUIRE(atomic_load(&t->done) == 1);
        REQUIRE(atomic_load(&t->dropped) == 1);
        int polls = atomic_load(&t->polls);
        if (t->kind == 1) REQUIRE(polls == t->yields + 1);
        if (t->kind == 2) REQUIRE(atomic_load(&t->saw_cancel) == 1);
        if (t->kind == 0 && t->sleep_ns) REQUIRE(tf_now_ns() >= t->deadline);
        if (t->t) REQUIRE(tf_timer_free(t->t) == TF_OK);
    }
    REQUIRE(tf_executor_free(e) == TF_OK);
    free(ts);
}

/* One operation. */
/* Every driver timer's caller-made waker: held once by us, once more by
 * the timer while it waits, and woken exactly as often as the model says. */
static int mt_live(const fz_dtimer *dt) { return dt->t || dt->live; }

static void check_dtimers(void) {
    for (int k = 0; k < MAX_MT; k++) {
        fz_dtimer *dt = &S.dtimers[k];
        REQUIRE(atomic_load(&dtimer_data[k].refs) == (mt_live(dt) ? 1 + dt->waiting : 0));
        REQUIRE(atomic_load(&dtimer_data[k].wakes) == dt->wakes);
        if (!dt->t) continue;
        int pk = tf_timer_peek(dt->t);
        REQUIRE(pk == (dt->state == DT_ARMED   ? TF_PENDING
                       : dt->state == DT_FIRED ? TF_READY
                                               : TF_ECANCELED));
        uint64_t dl = 0;
        REQUIRE(tf_timer_deadline(dt->t, &dl) == TF_OK && dl == dt->deadline);
        tf_driver *owner = NULL;
        REQUIRE(tf_timer_driver(dt->t, &owner) == TF_OK && owner == S.drivers[dt->drv].d);
    }
    for (int k = 0; k < MAX_DRIVERS; k++) {
        if (!S.drivers[k].d) continue;
        uint64_t now = 1;
        REQUIRE(tf_driver_now(S.drivers[k].d, &now) == TF_OK && now == S.drivers[k].now);
    }
    for (int j = 0; j < MAX_IV; j++) {
        if (!S.ivs[j].iv) continue;
        uint64_t dl = 1;
        REQUIRE(tf_interval_deadline(S.ivs[j].iv, &dl) == TF_OK && dl == S.ivs[j].next);
    }
}

/* The model's side of a timer reaching its deadline. */
static void dtimer_fire(fz_dtimer *dt) {
    dt->state = DT_FIRED;
    if (dt->waiting) dt->wakes++;
    dt->waiting = 0;
}

/* A (re-)armed deadline: not after the clock, it fires at once. */
static void dtimer_arm(fz_dtimer *dt, uint64_t deadline) {
    dt->deadline = deadline;
    dt->state = DT_ARMED;
    if (deadline <= S.drivers[dt->drv].now) dtimer_fire(dt);
}

/* Advances driver k to `to` (TF_DRIVER_NOW allowed) and checks what fired. */
static uint64_t driver_advance(int k, uint64_t to) {
    fz_driver *fd = &S.drivers[k];
    uint64_t target = to == TF_DRIVER_NOW ? fd->now : to;
    uint64_t fired = 12345;
    int rc = tf_driver_advance(fd->d, to, &fired);
    if (target < fd->now) {
        /* Time never goes backwards: refused, nothing fired. */
        REQUIRE(rc == TF_ERANGE && fired == 12345);
        return 0;
    }
    REQUIRE(rc == TF_OK);
    fd->now = target;
    uint64_t expect = 0;
    for (int j = 0; j < MAX_MT; j++) {
        fz_dtimer *dt = &S.dtimers[j];
        if (mt_live(dt) && dt->drv == k && dt->state == DT_ARMED && dt->deadline <= target) {
            dtimer_fire(dt);
            expect++;
        }
    }
    REQUIRE(fired == expect);
    return fired;
}

static uint64_t pick_manual_time(input *in, uint64_t now) {
    switch (u8(in) % 6) {
    case 0: return now;
    case 1: return now + u8(in);                          /* ns */
    case 2: return now + ((uint64_t)u8(in) << 16);        /* level-0 slots */
    case 3: return now + ((uint64_t)u32(in) << (u8(in) % 32)); /* any level */
    case 4: return now - (now ? 1 + u8(in) % now : 0);    /* the past */
    default: return UINT64_MAX - 1 - u8(in);              /* the far end */
    }
}

/* Driver calls (ops 30-37): manual-clock host drivers, their timers,
 * advancing, and the calls' refusals. */
static void driver_step(int op, int i, input *in) {
    int k = i % MAX_DRIVERS;
    fz_driver *fd = &S.drivers[k];
    fz_dtimer *dt = &S.dtimers[i % MAX_DTIMERS];
    int dk = i % MAX_DTIMERS;
    int rc;
    switch (op) {
    case 30: /* new driver */
        if (!fd->d) {
            tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
            o.clock = TF_CLOCK_MANUAL;
            o.mode = TF_DRIVER_MODE_HOST;
            o.start_ns = (uint64_t)u32(in) << (u8(in) % 33);
            if (o.start_ns == UINT64_MAX) o.start_ns--;
            REQUIRE(tf_driver_new(&o, &fd->d) == TF_OK);
            fd->now = o.start_ns;
            fd->timers = 0;
            int fdn = -7;
            REQUIRE(tf_driver_fd(fd->d, &fdn) == TF_ESTATE && fdn == -7);
            uint64_t nd = 0;
            REQUIRE(tf_driver_next_deadline(fd->d, &nd) == TF_OK && nd == UINT64_MAX);
        }
        break;
    case 31: /* free a driver: refused while it has timers */
        if (fd->d) {
            rc = tf_driver_free(fd->d);
            if (fd->timers) {
                REQUIRE(rc == TF_EBUSY);
            } else {
                REQUIRE(rc == TF_OK);
                fd->d = NULL;
            }
        }
        break;
    case 32: /* a timer on a driver, after a duration or at a deadline */
        if (fd->d && !dt->t) {
            int at = u8(in) & 1;
            uint64_t when = pick_manual_time(in, fd->now);
            if (!at) when -= fd->now; /* a duration, wrapping for the past */
            tf_timer *t = NULL;
            rc = at ? tf_timer_new_at_on(fd->d, when, &t) : tf_timer_new_on(fd->d, when, &t);
            int range = at ? when == UINT64_MAX : when >= UINT64_MAX - fd->now;
            if (range) {
                REQUIRE(rc == TF_ERANGE && t == NULL);
                break;
            }
            REQUIRE(rc == TF_OK);
            atomic_fetch_add(&dtimer_data[dk].refs, 1);
            tf_waker *w = NULL;
            REQUIRE(tf_waker_new(&c_vt, &dtimer_data[dk], &w) == TF_OK);
            *dt = (fz_dtimer){.t = t, .drv = k, .waker = w, .wakes = dt->wakes};
            dtimer_arm(dt, at ? when : fd->now + when);
            fd->timers++;
        }
        break;
    case 33: /* advance: forwards, backwards, or to the clock's now */
        if (fd->d) {
            uint8_t how = u8(in) % 4;
            if (how == 0) driver_advance(k, TF_DRIVER_NOW);
            else if (how == 1) driver_advance(k, fd->now - (fd->now ? 1 : 0));
            else driver_advance(k, pick_manual_time(in, fd->now));
        }
        break;
    case 34: /* advance to the next deadline until something fires */
        if (fd->d) {
            for (int n = 0;; n++) {
                uint64_t nd = 0, earliest = UINT64_MAX, latest_ok = UINT64_MAX;
                REQUIRE(tf_driver_next_deadline(fd->d, &nd) == TF_OK);
                for (int j = 0; j < MAX_MT; j++) {
                    fz_dtimer *o = &S.dtimers[j];
                    if (!mt_live(o) || o->drv != k || o->state != DT_ARMED) continue;
                    if (o->deadline < earliest) earliest = o->deadline;
                    /* Its tolerance: its own slack, else the driver's (0).
                     * UINT64_MAX - 1 is the clock's last time. */
                    uint64_t lim = o->slack > UINT64_MAX - 1 - o->deadline
                                       ? UINT64_MAX - 1
                                       : o->deadline + o->slack;
                    if (lim < latest_ok) latest_ok = lim;
                }
                /* Advancing to it is never late for any armed timer (it
                 * fires then, and only if due: driver_advance checks that
                 * none fires early), and none is overlooked. Without slack
                 * this is: no timer is due before it. */
                REQUIRE(nd <= latest_ok);
                REQUIRE((nd == UINT64_MAX) == (earliest == UINT64_MAX));
                if (nd == UINT64_MAX) break;
                REQUIRE(nd > fd->now);
                /* Each step moves to a later wheel slot: bounded. */
                REQUIRE(n < 8 * 64);
                if (driver_advance(k, nd)) break;
            }
        }
        break;
    case 35: /* poll a driver timer with its waker */
        if (dt->t) {
            rc = tf_timer_poll(dt->t, dt->waker);
            if (dt->state == DT_ARMED) {
                REQUIRE(rc == TF_PENDING);
                dt->waiting = 1; /* a second poll keeps the same clone */
            } else {
                REQUIRE(rc == (dt->state == DT_FIRED ? TF_READY : TF_ECANCELED));
            }
        }
        break;
    case 36: /* reset, reset at, or cancel a driver timer */
        if (dt->t) {
            fz_driver *owner = &S.drivers[dt->drv];
            uint8_t how = u8(in) % 3;
            if (how == 2) {
                rc = tf_timer_cancel(dt->t);
                if (dt->state == DT_ARMED) {
                    REQUIRE(rc == TF_OK);
                    dt->state = DT_CANCELLED;
                    if (dt->waiting) dt->wakes++; /* learns of it at once */
                    dt->waiting = 0;
                } else {
                    REQUIRE(rc == TF_ESTATE);
                }
                break;
            }
            uint64_t when = pick_manual_time(in, owner->now);
            if (how == 0) {
                uint64_t dur = when - owner->now;
                rc = tf_timer_reset(dt->t, dur);
                if (dur >= UINT64_MAX - owner->now) {
                    REQUIRE(rc == TF_ERANGE);
                } else {
                    REQUIRE(rc == TF_OK);
                    dtimer_arm(dt, owner->now + dur);
                }
            } else {
                rc = tf_timer_reset_at(dt->t, when);
                if (when == UINT64_MAX) { /* reserved; the timer is unchanged */
                    REQUIRE(rc == TF_ERANGE);
                } else {
                    REQUIRE(rc == TF_OK);
                    dtimer_arm(dt, when);
                }
            }
        }
        break;
    case 37: { /* free a driver timer, or refusals */
        int free_it = u8(in) & 1; /* read first: seeds keep their layout */
        if (dt->t && free_it) {
            REQUIRE(tf_timer_free(dt->t) == TF_OK);
            S.drivers[dt->drv].timers--;
            dt->t = NULL;
            dt->waiting = 0; /* its clone dropped, not woken */
            REQUIRE(tf_waker_drop(dt->waker) == TF_OK);
            dt->waker = NULL;
        } else {
            tf_driver *junk_d = (tf_driver *)(void *)junk;
            tf_driver *got = NULL;
            uint64_t v = 3;
            tf_timer *t = NULL;
            int fdn = -7;
            REQUIRE(tf_driver_free(junk_d) == TF_EHANDLE);
            REQUIRE(tf_driver_free(tf_driver_default()) == TF_EINVAL);
            REQUIRE(tf_driver_advance(NULL, 0, &v) == TF_EINVAL && v == 3);
            REQUIRE(tf_driver_advance(junk_d, 0, &v) == TF_EHANDLE && v == 3);
            REQUIRE(tf_driver_advance(tf_driver_default(), TF_DRIVER_NOW, &v) == TF_ESTATE);
            REQUIRE(tf_driver_fd(tf_driver_default(), &fdn) == TF_ESTATE && fdn == -7);
            REQUIRE(tf_driver_now(junk_d, &v) == TF_EHANDLE && v == 3);
            REQUIRE(tf_driver_next_deadline(NULL, &v) == TF_EINVAL && v == 3);
            REQUIRE(tf_timer_new_on(junk_d, 1, &t) == TF_EHANDLE && t == NULL);
            REQUIRE(tf_timer_new_at_on(NULL, 1, &t) == TF_EINVAL && t == NULL);
            REQUIRE(tf_timer_driver((tf_timer *)(void *)junk, &got) == TF_EHANDLE && !got);
            if (fd->d) {
                REQUIRE(tf_timer_new_on(fd->d, 1, NULL) == TF_EINVAL);
                REQUIRE(tf_timer_new_at_on(fd->d, UINT64_MAX, &t) == TF_ERANGE && !t);
                REQUIRE(tf_timer_driver((tf_timer *)(void *)fd->d, &got) == TF_EHANDLE);
                /* A driver is no timer, executor or waker. */
                REQUIRE(tf_timer_poll((tf_timer *)(void *)fd->d, tf_waker_noop()) == TF_EHANDLE);
                REQUIRE(tf_executor_run((tf_executor *)(void *)fd->d) == TF_EHANDLE);
            }
            if (dt->t) /* a timer is no driver */
                REQUIRE(tf_driver_advance((tf_driver *)(void *)dt->t, 0, &v) == TF_EHANDLE);
            tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
            tf_driver *nd = NULL;
            switch (u8(in) % 4) {
            case 0: o.clock = TF_CLOCK_MANUAL; break;      /* needs host mode */
            case 1: o.size = 4; break;
            case 2: o.reserved = 1; break;
            default: o.mode = 2; break;
            }
            REQUIRE(tf_driver_new(&o, &nd) == TF_EINVAL && nd == NULL);
            o = (tf_driver_options)TF_DRIVER_OPTIONS_INIT;
            o.clock = TF_CLOCK_MANUAL;
            o.mode = TF_DRIVER_MODE_HOST;
            o.start_ns = UINT64_MAX;
            REQUIRE(tf_driver_new(&o, &nd) == TF_ERANGE && nd == NULL);
        }
        break;
    }
    }
    check_dtimers();
}

/* --- intervals, timeouts and per-timer slack (ops 38-45) ------------------ */

/* The model timer of interval j or timeout j: armed on its driver like a
 * driver timer, its waker one of ours on its own data. */
static fz_dtimer *mt_new(int slot, int drv) {
    fz_dtimer *m = &S.dtimers[slot];
    atomic_fetch_add(&dtimer_data[slot].refs, 1);
    tf_waker *w = NULL;
    REQUIRE(tf_waker_new(&c_vt, &dtimer_data[slot], &w) == TF_OK);
    *m = (fz_dtimer){.drv = drv, .waker = w, .wakes = m->wakes, .live = 1};
    return m;
}

static void mt_gone(int slot) {
    fz_dtimer *m = &S.dtimers[slot];
    S.drivers[m->drv].timers--;
    m->live = 0;
    m->waiting = 0; /* its clone dropped with the timer, not woken */
    REQUIRE(tf_waker_drop(m->waker) == TF_OK);
    m->waker = NULL;
}

static void iv_free(int j) {
    REQUIRE(tf_interval_free(S.ivs[j].iv) == TF_OK);
    S.ivs[j].iv = NULL;
    mt_gone(MT_IV + j);
}

static void to_free(int j) {
    fz_timeout *t = &S.tos[j];
    int drops0 = t->inner.drops;
    REQUIRE(tf_timeout_free(t->to) == TF_OK);
    /* Dropped exactly once on every path: here if it had not been yet. */
    REQUIRE(t->inner.drops == (t->inner.with_drop ? 1 : 0));
    if (t->done) REQUIRE(t->inner.drops == drops0);
    t->to = NULL;
    mt_gone(MT_TO + j);
}

/* The schedule after a tick observed at now (>= next), from the header's
 * rules; returns the ticks the READY stands for. UINT64_MAX is the end. */
static uint64_t model_tick(fz_interval *m, uint64_t now) {
    uint64_t p = m->period, due = m->next;
    REQUIRE(now >= due);
    uint64_t missed = (now - due) / p; /* whole periods late */
    unsigned __int128 nn;
    uint64_t ticks;
    switch (m->policy) {
    case TF_MISSED_TICK_BURST: /* one at a time, schedule kept */
        ticks = 1;
        nn = (unsigned __int128)due + p;
        break;
    case TF_MISSED_TICK_DELAY: /* restarts a period after the late poll */
        ticks = 1 + missed;
        nn = (unsigned __int128)(missed ? now : due) + p;
        break;
    default: /* skip: the first first + k * period after now */
        ticks = 1 + missed;
        nn = (unsigned __int128)due + (unsigned __int128)ticks * p;
        REQUIRE(nn > now);
    }
    m->next = nn >= UINT64_MAX ? UINT64_MAX : (uint64_t)nn;
    return ticks;
}

static uint64_t pick_period(input *in) {
    switch (u8(in) % 6) {
    case 0: return 1;
    case 1: return 1 + u8(in);                          /* ns */
    case 2: return ((uint64_t)u8(in) + 1) << 16;        /* level-0 slots */
    case 3: return (uint64_t)u32(in) << (u8(in) % 32);  /* any; maybe 0 */
    /* Runs off the end, up to the longest period there is. */
    case 4: return UINT64_MAX - u8(in);
    default: return (uint64_t)(1 + u8(in) % 16) << 20;  /* ~1 ms steps */
    }
}

static int inner_poll(void *s, const tf_waker *w) {
    fz_inner *f = s;
    REQUIRE(!f->completed && !f->drops); /* never polled after either */
    int p = f->polls++;
    if (f->pending >= 0 && p >= f->pending) {
        f->completed = 1;
        return f->result;
    }
    if (f->yield) REQUIRE(tf_waker_wake_by_ref(w) == TF_OK);
    return TF_PENDING;
}
static void inner_drop(void *s) {
    fz_inner *f = s;
    REQUIRE(f->with_drop);
    REQUIRE(f->drops++ == 0);
}

/* Ops 38-41: intervals; 42-44: timeouts; 45: per-timer slack. */
static void experimental_step(int op, int i, input *in) {
    int k = i % MAX_DRIVERS, j = i % MAX_IV, jt = i % MAX_TO;
    fz_driver *fd = &S.drivers[k];
    fz_interval *mi = &S.ivs[j];
    fz_dtimer *im = &S.dtimers[MT_IV + j];
    fz_timeout *mo = &S.tos[jt];
    fz_dtimer *om = &S.dtimers[MT_TO + jt];
    tf_driver *junk_d = (tf_driver *)(void *)junk;
    int rc;
    switch (op) {
    case 38: { /* new interval, or one of its refusals */
        if (mi->iv) break;
        int fault = u8(in) % 10;
        uint8_t pb = u8(in);
        uint32_t policy = pb % 3;
        uint64_t period = pick_period(in);
        uint64_t first = fd->d ? pick_manual_time(in, fd->now) : 0;
        tf_driver *d = fd->d;
        tf_interval *iv = NULL, **out = &iv;
        int expect = TF_OK;
        switch (fault) {
        case 0: out = NULL; expect = TF_EINVAL; break;
        case 1: d = NULL; expect = TF_EINVAL; break;
        case 2: d = junk_d; expect = TF_EHANDLE; break;
        case 3: period = 0; break;
        case 4: policy = 3 + pb % 253; break; /* unknown */
        case 5: first = UINT64_MAX; break;
        case 6: expect = TF_ENOMEM; break;
        default: break;
        }
        if (!d && fault != 1) break; /* no driver in this slot */
        if (fault >= 3) {
            if (period == 0 || policy > TF_MISSED_TICK_SKIP) expect = TF_EINVAL;
            else if (first == UINT64_MAX) expect = TF_ERANGE;
        }
        fail_allocs = fault == 6; /* only for this call */
        rc = tf_interval_new_on(d, first, period, policy, out);
        fail_allocs = 0;
        REQUIRE(rc == expect);
        if (rc) {
            REQUIRE(iv == NULL);
            break;
        }
        *mi = (fz_interval){iv, (int)policy, 0, period, first};
        mt_new(MT_IV + j, k);
        dtimer_arm(im, first);
        fd->timers++;
        break;
    }
    case 39: /* poll an interval: READY with the exact ticks, or PENDING */
        if (mi->iv) {
            uint64_t now = S.drivers[im->drv].now, ticks = 0xdead;
            int null_ticks = u8(in) % 4 == 0;
            rc = tf_interval_poll(mi->iv, im->waker, null_ticks ? NULL : &ticks);
            if (mi->cancelled) {
                REQUIRE(rc == TF_ECANCELED);
            } else if (mi->next == UINT64_MAX) {
                REQUIRE(rc == TF_ERANGE);
            } else if (now >= mi->next) {
                /* Its timer was armed to the tick, so it has fired. */
                REQUIRE(im->state == DT_FIRED);
                uint64_t want = model_tick(mi, now);
                REQUIRE(rc == TF_READY);
                if (!null_ticks) REQUIRE(ticks == want);
                if (mi->next != UINT64_MAX) dtimer_arm(im, mi->next);
                break;
            } else {
                REQUIRE(im->state == DT_ARMED && im->deadline == mi->next);
                REQUIRE(rc == TF_PENDING);
                im->waiting = 1;
            }
            if (!null_ticks) REQUIRE(ticks == 0xdead);
        }
        break;
    case 40: /* reset, reset at, cancel (twice) */
        if (mi->iv) {
            uint64_t now = S.drivers[im->drv].now;
            uint8_t how = u8(in) % 4;
            if (how == 0) {
                rc = tf_interval_reset(mi->iv);
                if (mi->period >= UINT64_MAX - now) {
                    REQUIRE(rc == TF_ERANGE);
                } else {
                    REQUIRE(rc == TF_OK);
                    mi->next = now + mi->period;
                    mi->cancelled = 0;
                    dtimer_arm(im, mi->next); /* the waker is kept */
                }
            } else if (how == 1 || how == 2) {
                uint64_t when = how == 2 ? UINT64_MAX : pick_manual_time(in, now);
                rc = tf_interval_reset_at(mi->iv, when);
                if (when == UINT64_MAX) {
                    REQUIRE(rc == TF_ERANGE);
                } else {
                    REQUIRE(rc == TF_OK);
                    mi->next = when;
                    mi->cancelled = 0;
                    dtimer_arm(im, when);
                }
            } else {
                rc = tf_interval_cancel(mi->iv);
                if (mi->cancelled) {
                    REQUIRE(rc == TF_ESTATE);
                } else {
                    REQUIRE(rc == TF_OK);
                    mi->cancelled = 1;
                    if (im->state == DT_ARMED) {
                        im->state = DT_CANCELLED;
                        if (im->waiting) im->wakes++; /* learns of it at once */
                        im->waiting = 0;
                    }
                }
                REQUIRE(tf_interval_cancel(mi->iv) == TF_ESTATE);
            }
        }
        break;
    case 41: { /* free an interval, or refusals */
        int free_it = u8(in) & 1;
        if (mi->iv && free_it) {
            iv_free(j);
            break;
        }
        tf_interval *bad = u8(in) & 1 ? NULL : (tf_interval *)(void *)junk;
        int exp = bad ? TF_EHANDLE : TF_EINVAL;
        uint64_t v = 3;
        REQUIRE(tf_interval_poll(bad, tf_waker_noop(), &v) == exp && v == 3);
        REQUIRE(tf_interval_reset(bad) == exp);
        REQUIRE(tf_interval_reset_at(bad, 1) == exp);
        REQUIRE(tf_interval_cancel(bad) == exp);
        REQUIRE(tf_interval_deadline(bad, &v) == exp && v == 3);
        REQUIRE(tf_interval_free(bad) == (bad ? TF_EHANDLE : TF_OK));
        if (fd->d) /* a driver is no interval */
            REQUIRE(tf_interval_free((tf_interval *)(void *)fd->d) == TF_EHANDLE);
        if (mo->to) /* a timeout is no interval */
            REQUIRE(tf_interval_cancel((tf_interval *)(void *)mo->to) == TF_EHANDLE);
        if (mi->iv) { /* bad wakers and pointers: refused, nothing changes */
            REQUIRE(tf_interval_poll(mi->iv, NULL, &v) == TF_EINVAL && v == 3);
            REQUIRE(tf_interval_poll(mi->iv, (tf_waker *)(void *)junk, &v) == TF_EHANDLE);
            REQUIRE(tf_interval_deadline(mi->iv, NULL) == TF_EINVAL);
            REQUIRE(tf_timeout_poll((tf_timeout *)(void *)mi->iv, tf_waker_noop()) == TF_EHANDLE);
            REQUIRE(tf_timer_set_slack((tf_timer *)(void *)mi->iv, 1) == TF_EHANDLE);
        }
        break;
    }
    case 42: { /* new timeout around a scripted inner future, or refusals */
        if (mo->to) break;
        int fault = u8(in) % 10;
        uint8_t b = u8(in);
        fz_inner f = {0};
        f.pending = b % 8 == 7 ? -1 : b % 8;
        f.result = b / 8 % 3 == 0 ? TF_READY : -100 - b / 8 % 3;
        f.yield = b / 32 & 1;
        f.with_drop = !(b & 0x40) || fault < 7; /* errors: mostly with one */
        uint64_t dur = fd->d ? pick_manual_time(in, fd->now) - fd->now : 0;
        tf_driver *d = fd->d;
        tf_poll_fn pf = inner_poll;
        tf_timeout *to = NULL, **out = &to;
        int expect = TF_OK;
        switch (fault) {
        case 0: pf = NULL; expect = TF_EINVAL; break;
        case 1: out = NULL; expect = TF_EINVAL; break;
        case 2: d = NULL; expect = TF_EINVAL; break;
        case 3: d = junk_d; expect = TF_EHANDLE; break;
        case 4: expect = TF_ENOMEM; break;
        case 5: dur = UINT64_MAX - fd->now; break; /* ERANGE */
        default: break;
        }
        if (!d && fault != 0 && fault != 1 && fault != 2) break;
        if (!fd->d && fault >= 4) break;
        if (fault >= 5 && dur >= UINT64_MAX - fd->now) expect = TF_ERANGE;
        /* Where the inner future lives: its slot on success, here if not. */
        fz_inner *fi = expect == TF_OK ? &mo->inner : &f;
        if (fi != &f) *fi = f;
        fail_allocs = fault == 4; /* only for this call */
        rc = tf_timeout_new_on(d, dur, pf, fi->with_drop ? inner_drop : NULL, fi, out);
        fail_allocs = 0;
        REQUIRE(rc == expect);
        REQUIRE(fi->polls == 0);
        if (rc) {
            /* Dropped once before the call returned (if it has a drop). */
            REQUIRE(to == NULL && f.drops == (f.with_drop ? 1 : 0));
            break;
        }
        REQUIRE(fi->drops == 0);
        mo->to = to;
        mo->done = 0;
        mo->result = 0;
        mt_new(MT_TO + jt, k);
        dtimer_arm(om, fd->now + dur);
        fd->timers++;
        break;
    }
    case 43: /* poll a timeout: the inner future first, then the deadline */
        if (mo->to) {
            fz_inner *f = &mo->inner;
            int polls0 = f->polls;
            rc = tf_timeout_poll(mo->to, om->waker);
            if (mo->done) { /* the same result, nothing polled */
                REQUIRE(rc == mo->result && f->polls == polls0);
                break;
            }
            REQUIRE(f->polls == polls0 + 1);
            if (f->completed) {
                /* The inner future wins, even past the deadline. */
                REQUIRE(rc == f->result);
            } else {
                if (f->yield) om->wakes++;
                if (om->state == DT_FIRED) {
                    REQUIRE(rc == TF_ETIMEDOUT);
                } else {
                    REQUIRE(om->state == DT_ARMED && rc == TF_PENDING);
                    om->waiting = 1;
                    REQUIRE(f->drops == 0);
                    break;
                }
            }
            mo->done = 1;
            mo->result = rc;
            /* Dropped as it completed; its timer stays as it was. */
            REQUIRE(f->drops == (f->with_drop ? 1 : 0));
        }
        break;
    case 44: { /* free a timeout, or refusals */
        int free_it = u8(in) & 1;
        if (mo->to && free_it) {
            to_free(jt);
            break;
        }
        tf_timeout *bad = u8(in) & 1 ? NULL : (tf_timeout *)(void *)junk;
        REQUIRE(tf_timeout_poll(bad, tf_waker_noop()) == (bad ? TF_EHANDLE : TF_EINVAL));
        REQUIRE(tf_timeout_free(bad) == (bad ? TF_EHANDLE : TF_OK));
        if (fd->d)
            REQUIRE(tf_timeout_free((tf_timeout *)(void *)fd->d) == TF_EHANDLE);
        if (mo->to) { /* bad wakers: refused, the inner future not polled */
            int polls0 = mo->inner.polls;
            REQUIRE(tf_timeout_poll(mo->to, NULL) == TF_EINVAL);
            REQUIRE(tf_timeout_poll(mo->to, (tf_waker *)(void *)junk) == TF_EHANDLE);
            REQUIRE(tf_interval_free((tf_interval *)(void *)mo->to) == TF_EHANDLE);
            REQUIRE(mo->inner.polls == polls0);
        }
        break;
    }
    default: { /* per-timer slack on a driver timer, or refusals */
        fz_dtimer *dt = &S.dtimers[i % MAX_DTIMERS];
        uint64_t s;
        switch (u8(in) % 6) {
        case 0: s = 0; break;
        case 1: s = 1 + u8(in); break;
        case 2: s = UINT64_C(1) << (u8(in) % 64); break;
        case 3: s = (UINT64_C(1) << (u8(in) % 64)) - 1; break;
        case 4: s = (uint64_t)u32(in) << (u8(in) % 32); break;
        default: s = UINT64_MAX - u8(in); break;
        }
        REQUIRE(tf_timer_set_slack(NULL, s) == TF_EINVAL);
        REQUIRE(tf_timer_set_slack((tf_timer *)(void *)junk, s) == TF_EHANDLE);
        if (fd->d)
            REQUIRE(tf_timer_set_slack((tf_timer *)(void *)fd->d, s) == TF_EHANDLE);
        if (dt->t) {
            REQUIRE(tf_timer_set_slack(dt->t, s) == TF_OK);
            /* Rounded down to a power of two: never more than asked. */
            dt->slack = s ? UINT64_C(1) << (63 - __builtin_clzll(s)) : 0;
        }
    }
    }
    check_dtimers();
}

static void step(input *in) {
    uint8_t op = u8(in) % 46;
    int i = u8(in);
    if (trace) (void)fprintf(stderr, "op %d on %d (%zu bytes left)\n", op, i, in->n);
    fz_exec *x = &S.ex[i % MAX_EXEC];
    int xi = i % MAX_EXEC;
    fz_timer *ft = &S.timers[i % MAX_TIMERS];
    int wi = i % MAX_WAKERS;
    int rc;
    if (op >= 38) {
        experimental_step(op, i, in);
        return;
    }
    if (op >= 30) {
        driver_step(op, i, in);
        return;
    }
    switch (op) {
    case 0: /* new executor */
        if (!x->e) {
            x->workers = u8(in) % 4 == 0;
            REQUIRE(tf_executor_new((uint32_t)x->workers, &x->e) == TF_OK);
        }
        break;
    case 1:
        exec_free(xi);
        break;
    case 2: /* spawn */
        if (x->e && S.ntasks < MAX_TASKS) {
            fz_task *t = &S.tasks[S.ntasks];
            memset(t, 0, sizeof(*t));
            t->used = 1;
            t->exec = xi;
            for (int k = 0; k < PROGRAM; k++) t->program[k] = u8(in);
            if (x->workers)
                for (int k = 0; k < PROGRAM; k++)
                    if (t->program[k] % 8 == 5) t->program[k] = 2; /* no spawns on workers */
            REQUIRE(tf_executor_spawn(x->e, task_poll, drop_fn, t) == TF_OK);
            S.ntasks++;
            if (!x->workers) x->tasks_unfinished++;
        }
        break;
    case 3: /* spawn an external task */
        if (x->e) {
            for (int k = 0; k < MAX_EXT; k++) {
                if (S.ext[k].used) continue;
                S.ext[k] = (fz_ext){1, xi, (uint64_t)k, NULL, 0, 0};
                REQUIRE(tf_executor_spawn_external(x->e, (uint64_t)k) == TF_OK);
                x->ext_unfinished++;
                break;
            }
        }
        break;
    case 4: /* next, non-blocking */
    case 26: /* next, with a short timeout (really waited for) */
        if (x->e) {
            uint64_t tag = UINT64_MAX;
            const tf_waker *w = NULL;
            uint64_t timeout = op == 4 ? 0 : (uint64_t)(u8(in) % 3) * 1000000u;
            uint64_t t0 = tf_now_ns();
            rc = tf_executor_next(x->e, timeout, &tag, &w);
            if (rc == TF_ETIMEDOUT) REQUIRE(tf_now_ns() - t0 >= timeout);
            REQUIRE(ONE_OF3(rc, TF_OK, TF_ETIMEDOUT, TF_EEMPTY));
            /* No lost wake: a woken external task is handed out. */
            for (int k = 0; k < MAX_EXT; k++)
                if (S.ext[k].used && S.ext[k].exec == xi && S.ext[k].woken)
                    REQUIRE(rc == TF_OK);
            if (rc == TF_EEMPTY) REQUIRE(x->ext_unfinished == 0);
            if (x->ext_unfinished == 0) REQUIRE(rc == TF_EEMPTY);
            if (rc == TF_OK) {
                REQUIRE(tag < MAX_EXT);
                fz_ext *e = &S.ext[tag];
                REQUIRE(e->used && e->exec == xi && !e->done);
                REQUIRE(e->taken == NULL); /* never handed out twice */
                e->taken = w;
                e->woken = 0;
            }
        }
        break;
    case 5: /* report a taken external task */
        for (int k = 0; k < MAX_EXT; k++) {
            fz_ext *e = &S.ext[(k + i) % MAX_EXT];
            if (!e->used || !e->taken) continue;
            int result = u8(in) % 3;
            fz_exec *ex = &S.ex[e->exec];
            if (result == 2) { /* keep a clone, stay pending */
                int s = free_waker_slot();
                if (s >= 0) {
                    REQUIRE(tf_waker_clone(e->taken, &S.wakers[s]) == TF_OK);
                    S.waker_task[s] = NULL;
                    S.waker_ext[s] = (int)(e - S.ext) + 1;
                    S.waker_custom[s] = NULL;
                }
                result = TF_PENDING;
            }
            REQUIRE(tf_executor_report(ex->e, e->taken, result) == TF_OK);
            /* Reported twice: refused (after TF_READY the task may be gone,
             * so only after TF_PENDING). */
            if (result == TF_PENDING)
                REQUIRE(tf_executor_report(ex->e, e->taken, TF_PENDING) == TF_ESTATE);
            e->taken = NULL;
            if (result == TF_READY) {
                e->done = 1;
                e->used = 0;
                ex->ext_unfinished--;
                forget_ext((int)(e - S.ext));
            }
            break;
        }
        break;
    case 6: /* run what is ready */
        if (x->e) {
            uint64_t polled = UINT64_MAX;
            REQUIRE(tf_executor_run_ready(x->e, &polled) == TF_OK);
            REQUIRE(polled != UINT64_MAX);
            check_woken_polled(xi);
        }
        break;
    case 7: /* count */
        if (x->e) {
            uint64_t n = 0, m = 0;
            REQUIRE(tf_executor_count(x->e, &n, &m) == TF_OK);
            if (!x->workers) REQUIRE(n == (uint64_t)x->tasks_unfinished);
            REQUIRE(m == (uint64_t)x->ext_unfinished);
        }
        break;
    case 8:
        if (x->e) {
            int fd = -1;
            REQUIRE(tf_executor_fd(x->e, &fd) == TF_OK && fd >= 0);
        }
        break;
    case 9: /* clone a held waker */
        if (S.wakers[wi]) {
            int s = free_waker_slot();
            if (s >= 0) {
                REQUIRE(tf_waker_clone(S.wakers[wi], &S.wakers[s]) == TF_OK);
                REQUIRE(tf_waker_will_wake(S.wakers[wi], S.wakers[s]) == 1);
                S.waker_task[s] = S.waker_task[wi];
                S.waker_ext[s] = S.waker_ext[wi];
                S.waker_custom[s] = S.waker_custom[wi];
            }
        }
        break;
    case 10:
        if (S.wakers[wi]) {
            note_wake(wi);
            REQUIRE(tf_waker_wake(S.wakers[wi]) == TF_OK);
            S.wakers[wi] = NULL;
        }
        break;
    case 11:
        if (S.wakers[wi]) {
            note_wake(wi);
            REQUIRE(tf_waker_wake_by_ref(S.wakers[wi]) == TF_OK);
        }
        break;
    case 12:
        REQUIRE(tf_waker_drop(S.wakers[wi]) == TF_OK); /* NULL is fine too */
        S.wakers[wi] = NULL;
        break;
    case 13: { /* will_wake of any two */
        tf_waker *a = S.wakers[wi], *b = S.wakers[u8(in) % MAX_WAKERS];
        rc = tf_waker_will_wake(a, b);
        if (!a || !b) REQUIRE(rc == TF_EINVAL);
        else REQUIRE(ONE_OF2(rc, 0, 1));
        if (a && a == b) REQUIRE(rc == 1);
        break;
    }
    case 14: /* a caller-made waker */
        if (!S.wakers[wi]) {
            cdata *d = &custom_data[u8(in) & 1];
            atomic_fetch_add(&d->refs, 1);
            REQUIRE(tf_waker_new(&c_vt, d, &S.wakers[wi]) == TF_OK);
            S.waker_task[wi] = NULL;
            S.waker_ext[wi] = 0;
            S.waker_custom[wi] = d;
        }
        break;
    case 15: /* new timer */
        if (!ft->t) {
            uint64_t d = pick_duration(in), before = tf_now_ns();
            rc = tf_timer_new(d, &ft->t);
            if (d >= UINT64_MAX - before) {
                REQUIRE(rc == TF_ERANGE && ft->t == NULL);
            } else if (rc == TF_ERANGE) {
                REQUIRE(d >= UINT64_MAX - tf_now_ns()); /* the clock moved */
                ft->t = NULL;
            } else {
                REQUIRE(rc == TF_OK);
                uint64_t dl = 0;
                REQUIRE(tf_timer_deadline(ft->t, &dl) == TF_OK);
                uint64_t after = tf_now_ns();
                REQUIRE(dl >= before + d);
                REQUIRE(dl <= (after > UINT64_MAX - d ? UINT64_MAX : after + d));
                *ft = (fz_timer){ft->t, 0, 1, dl, NULL, NULL};
            }
        }
        break;
    case 16: /* new timer at a deadline */
        if (!ft->t) {
            int oor;
            uint64_t d = pick_deadline(in, &oor);
            rc = tf_timer_new_at(d, &ft->t);
            if (oor) {
                REQUIRE(rc == TF_ERANGE && ft->t == NULL);
            } else {
                REQUIRE(rc == TF_OK);
                *ft = (fz_timer){ft->t, 0, 1, d, NULL, NULL};
            }
        }
        break;
    case 17: /* poll a timer with a held waker or the no-op one */
        if (ft->t) {
            int k = u8(in) % MAX_WAKERS;
            tf_waker *w = S.wakers[k];
            rc = tf_timer_poll(ft->t, w ? w : tf_waker_noop());
            REQUIRE(ONE_OF3(rc, TF_PENDING, TF_READY, TF_ECANCELED));
            REQUIRE((rc == TF_ECANCELED) == ft->cancelled);
            if (rc == TF_READY && ft->has_abs) REQUIRE(tf_now_ns() >= ft->deadline);
            if (rc == TF_PENDING && ft->has_abs) REQUIRE(ft->deadline > 0);
            fz_task *wt = w ? S.waker_task[k] : NULL;
            if (wt && (!wt->used || S.ex[wt->exec].workers)) wt = NULL;
            note_waiter(ft, rc, wt, w ? S.waker_custom[k] : NULL);
            if (rc == TF_PENDING && w && !wt && !S.waker_custom[k] && !S.waker_ext[k])
                ft->waiter_task = NULL; /* a task of a freed executor */
            /* Peek: the same answer (the timer cannot have been cancelled
             * meanwhile). That it leaves the stored waker alone is checked
             * exactly in tests/test_timer_exact.c: here the driver may be
             * firing other timers' caller-made wakers at the same time. */
            int pk = tf_timer_peek(ft->t);
            REQUIRE(ONE_OF3(pk, TF_PENDING, TF_READY, TF_ECANCELED));
            REQUIRE((pk == TF_ECANCELED) == ft->cancelled);
            if (rc == TF_READY) REQUIRE(pk == TF_READY);
            if (pk == TF_READY && ft->has_abs) REQUIRE(tf_now_ns() >= ft->deadline);
        }
        break;
    case 18: /* reset */
        if (ft->t) {
            uint64_t d = pick_duration(in), before = tf_now_ns();
            rc = tf_timer_reset(ft->t, d);
            if (d >= UINT64_MAX - before) {
                REQUIRE(rc == TF_ERANGE);
            } else if (rc == TF_OK) {
                uint64_t dl = 0;
                REQUIRE(tf_timer_deadline(ft->t, &dl) == TF_OK);
                REQUIRE(dl >= before + d);
                ft->cancelled = 0;
                ft->has_abs = 1;
                ft->deadline = dl;
                ft->waiter_task = NULL; /* it may have fired and woken it */
                ft->waiter_custom = NULL;
            } else {
                REQUIRE(rc == TF_ERANGE);
            }
        }
        break;
    case 19: /* reset at */
        if (ft->t) {
            int oor;
            uint64_t d = pick_deadline(in, &oor);
            rc = tf_timer_reset_at(ft->t, d);
            if (oor) {
                REQUIRE(rc == TF_ERANGE);
            } else {
                REQUIRE(rc == TF_OK);
                uint64_t dl = 0;
                REQUIRE(tf_timer_deadline(ft->t, &dl) == TF_OK && dl == d);
                ft->cancelled = 0;
                ft->has_abs = 1;
                ft->deadline = d;
                ft->waiter_task = NULL;
                ft->waiter_custom = NULL;
            }
        }
        break;
    case 20: /* cancel, maybe twice */
        if (ft->t) {
            cdata *cw = ft->waiter_custom;
            int wakes0 = cw ? atomic_load(&cw->wakes) : 0;
            int far = far_deadline(ft);
            rc = tf_timer_cancel(ft->t);
            REQUIRE(ONE_OF2(rc, TF_OK, TF_ESTATE));
            if (ft->cancelled) REQUIRE(rc == TF_ESTATE);
            if (!ft->cancelled && far) REQUIRE(rc == TF_OK); /* cannot have fired */
            if (rc == TF_OK) {
                ft->cancelled = 1;
                /* The waiter learns of it: woken inside the call. */
                if (cw) REQUIRE(atomic_load(&cw->wakes) > wakes0);
                fz_task *wt = ft->waiter_task;
                if (wt && wt->used && !atomic_load(&wt->completed) && !wt->wake_pending) {
                    wt->wake_pending = 1;
                    wt->polls_at_wake = atomic_load(&wt->polls);
                }
            }
            ft->waiter_task = NULL;
            ft->waiter_custom = NULL;
            REQUIRE(tf_timer_cancel(ft->t) == TF_ESTATE);
        }
        break;
    case 21: /* free */
        REQUIRE(tf_timer_free(ft->t) == TF_OK);
        memset(ft, 0, sizeof(*ft));
        break;
    case 22: { /* wrong handles and NULLs: refused, nothing changes */
        tf_executor *be = NULL;
        tf_timer *bt = NULL;
        tf_waker *bw = NULL;
        switch (u8(in) % 4) {
        case 0: break; /* NULL */
        case 1:
            be = (tf_executor *)(void *)junk;
            bt = (tf_timer *)(void *)junk;
            bw = (tf_waker *)(void *)junk;
            break;
        case 2: /* a timer where an executor or waker is expected */
            if (ft->t) {
                be = (tf_executor *)(void *)ft->t;
                bw = (tf_waker *)(void *)ft->t;
            }
            bt = x->e ? (tf_timer *)(void *)x->e : NULL;
            break;
        default: /* an executor or a caller-made waker as a timer */
            if (x->e) bw = (tf_waker *)(void *)x->e;
            if (S.wakers[wi]) {
                be = (tf_executor *)(void *)S.wakers[wi];
                bt = (tf_timer *)(void *)S.wakers[wi];
            }
        }
        uint64_t v = 5, tag = 6;
        const tf_waker *cw = NULL;
        int fd = -9;
        tf_waker *out = NULL;
        int e_exp = be ? TF_EHANDLE : TF_EINVAL;
        int t_exp = bt ? TF_EHANDLE : TF_EINVAL;
        int w_exp = bw ? TF_EHANDLE : TF_EINVAL;
        REQUIRE(tf_executor_spawn(be, task_poll, drop_fn, NULL) == e_exp);
        REQUIRE(tf_executor_spawn_external(be, 1) == e_exp);
        REQUIRE(tf_executor_run(be) == e_exp);
        REQUIRE(tf_executor_run_ready(be, &v) == e_exp);
        REQUIRE(tf_executor_count(be, &v, NULL) == e_exp);
        REQUIRE(tf_executor_next(be, 0, &tag, &cw) == e_exp);
        REQUIRE(tf_executor_fd(be, &fd) == e_exp);
        REQUIRE(tf_executor_report(be, tf_waker_noop(), TF_READY) == e_exp);
        size_t taken = 77;
        uint64_t tags1[1];
        const tf_waker *wk1[1];
        REQUIRE(tf_executor_drain(be, tags1, wk1, 1, &taken) == e_exp);
        REQUIRE(tf_timer_peek(bt) == t_exp);
        REQUIRE(tf_executor_free(be) == (be ? TF_EHANDLE : TF_OK));
        REQUIRE(tf_timer_poll(bt, tf_waker_noop()) == t_exp);
        REQUIRE(tf_timer_reset(bt, 1) == t_exp);
        REQUIRE(tf_timer_reset_at(bt, 1) == t_exp);
        REQUIRE(tf_timer_cancel(bt) == t_exp);
        REQUIRE(tf_timer_deadline(bt, &v) == t_exp);
        REQUIRE(tf_timer_free(bt) == (bt ? TF_EHANDLE : TF_OK));
        REQUIRE(tf_waker_clone(bw, &out) == w_exp);
        REQUIRE(tf_waker_wake(bw) == w_exp);
        REQUIRE(tf_waker_wake_by_ref(bw) == w_exp);
        REQUIRE(tf_waker_drop(bw) == (bw ? TF_EHANDLE : TF_OK));
        REQUIRE(tf_waker_will_wake(bw, tf_waker_noop()) == w_exp);
        if (ft->t) REQUIRE(tf_timer_poll(ft->t, bw) == w_exp);
        if (x->e) {
            REQUIRE(tf_executor_report(x->e, bw, TF_READY) == w_exp);
            REQUIRE(tf_executor_count(x->e, NULL, NULL) == TF_EINVAL);
            REQUIRE(tf_executor_next(x->e, 0, NULL, &cw) == TF_EINVAL);
            REQUIRE(tf_executor_spawn(x->e, NULL, NULL, NULL) == TF_EINVAL);
            REQUIRE(tf_executor_drain(x->e, NULL, NULL, 1, &taken) == TF_EINVAL);
            REQUIRE(tf_executor_drain(x->e, NULL, NULL, 0, NULL) == TF_EINVAL);
        }
        REQUIRE(taken == 77);
        REQUIRE(v == 5 && tag == 6 && cw == NULL && fd == -9 && out == NULL);
        break;
    }
    case 23: { /* block_on */
        int left = u8(in) % 4;
        REQUIRE(tf_block_on(task_block_on, &left) == 7);
        break;
    }
    case 24: { /* odd arguments */
        tf_executor *e = NULL;
        REQUIRE(tf_executor_new(1025 + u8(in), &e) == TF_EINVAL && e == NULL);
        REQUIRE(tf_strerror((int)u32(in)) != NULL);
        tf_allocator bad = fz_allocator;
        bad.reserved = 1;
        REQUIRE(tf_set_allocator(&bad) == TF_EINVAL);
        /* Handles are checked before the result value. */
        if (x->e)
            REQUIRE(tf_executor_report(x->e, tf_waker_noop(), u8(in) + 2) == TF_EHANDLE);
        break;
    }
    case 27: /* drain, as a host loop does when the fd is readable */
        if (x->e) {
            enum { CAP = 3 };
            uint64_t tags[CAP];
            const tf_waker *wk[CAP];
            size_t cap = u8(in) % (CAP + 1), taken = 99;
            int woken = 0;
            for (int k = 0; k < MAX_EXT; k++)
                if (S.ext[k].used && S.ext[k].exec == xi && S.ext[k].woken) woken++;
            rc = tf_executor_drain(x->e, tags, wk, cap, &taken);
            REQUIRE(ONE_OF2(rc, 0, 1));
            REQUIRE(taken <= cap);
            /* No lost wake: woken external tasks are taken, up to cap. */
            REQUIRE(taken >= (size_t)(woken < (int)cap ? woken : (int)cap));
            for (size_t k = 0; k < taken; k++) {
                REQUIRE(tags[k] < MAX_EXT);
                fz_ext *e = &S.ext[tags[k]];
                REQUIRE(e->used && e->exec == xi && !e->done && e->taken == NULL);
                e->taken = wk[k];
                e->woken = 0;
            }
            if (rc == 0)
                for (int k = 0; k < MAX_EXT; k++)
                    if (S.ext[k].used && S.ext[k].exec == xi) REQUIRE(!S.ext[k].woken);
            check_woken_polled(xi);
        }
        break;
    case 28: /* block on a timer that is due within 2 ms (a real wait) */
        if (ft->t && ft->has_abs) {
            uint64_t now = tf_now_ns();
            if (!ft->cancelled && ft->deadline > now + 2000000u) break;
            rc = tf_block_on(timer_poll_fn, ft->t);
            REQUIRE(rc == (ft->cancelled ? TF_ECANCELED : TF_READY));
            if (rc == TF_READY) REQUIRE(tf_now_ns() >= ft->deadline);
            REQUIRE(tf_timer_peek(ft->t) == rc);
            ft->waiter_task = NULL;
            ft->waiter_custom = NULL;
        }
        break;
    case 29:
        timed_scene(in);
        break;
    default: /* run every caller-polled executor until idle, counts exact */
        for (int k = 0; k < MAX_EXEC; k++) {
            if (!S.ex[k].e) continue;
            run_until_idle(k);
            uint64_t n = 0, m = 0;
            REQUIRE(tf_executor_count(S.ex[k].e, &n, &m) == TF_OK);
            if (!S.ex[k].workers) REQUIRE(n == (uint64_t)S.ex[k].tasks_unfinished);
            REQUIRE(m == (uint64_t)S.ex[k].ext_unfinished);
        }
    }
}

static void release_everything(void) {
    /* Taken external tasks are reported before their executor goes. */
    for (int k = 0; k < MAX_EXT; k++) {
        fz_ext *e = &S.ext[k];
        if (e->used && e->taken) {
            REQUIRE(tf_executor_report(S.ex[e->exec].e, e->taken, TF_PENDING) == TF_OK);
            e->taken = NULL;
        }
    }
    for (int k = 0; k < MAX_TIMERS; k++) {
        REQUIRE(tf_timer_free(S.timers[k].t) == TF_OK);
        S.timers[k].t = NULL;
    }
    /* Driver timers, then their drivers: freeing one with timers left is
     * refused. */
    for (int j = 0; j < MAX_IV; j++) {
        if (!S.ivs[j].iv) continue;
        REQUIRE(tf_driver_free(S.drivers[S.dtimers[MT_IV + j].drv].d) == TF_EBUSY);
        iv_free(j);
    }
    for (int j = 0; j < MAX_TO; j++) {
        if (!S.tos[j].to) continue;
        REQUIRE(tf_driver_free(S.drivers[S.dtimers[MT_TO + j].drv].d) == TF_EBUSY);
        to_free(j);
    }
    for (int k = 0; k < MAX_DTIMERS; k++) {
        fz_dtimer *dt = &S.dtimers[k];
        if (!dt->t) continue;
        REQUIRE(tf_driver_free(S.drivers[dt->drv].d) == TF_EBUSY);
        REQUIRE(tf_timer_free(dt->t) == TF_OK);
        REQUIRE(tf_waker_drop(dt->waker) == TF_OK);
        dt->t = NULL;
    }
    for (int k = 0; k < MAX_DRIVERS; k++) {
        REQUIRE(tf_driver_free(S.drivers[k].d) == TF_OK);
        S.drivers[k].d = NULL;
    }
    for (int k = 0; k < MAX_MT; k++) {
        REQUIRE(atomic_load(&dtimer_data[k].refs) == 0);
        atomic_store(&dtimer_data[k].wakes, 0);
    }
    /* Free the executors while wakers of their tasks are still held. */
    for (int k = 0; k < MAX_EXEC; k++) exec_free(k);
    for (int k = 0; k < MAX_WAKERS; k++) {
        if (S.wakers[k]) REQUIRE(tf_waker_wake(S.wakers[k]) == TF_OK);
        S.wakers[k] = NULL;
    }
    for (int k = 0; k < S.ntasks; k++) {
        REQUIRE(atomic_load(&S.tasks[k].drops) == 1);
        REQUIRE(!atomic_load(&S.tasks[k].in_poll));
    }
    /* Wakes from the driver may still be on their way to caller-made
     * wakers of freed timers: tf_timer_free waits for those, so none. */
    for (int k = 0; k < 2; k++) REQUIRE(atomic_load(&custom_data[k].refs) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    memset(junk, 0x5a, sizeof(junk));
    trace = getenv("TF_FUZZ_TRACE") != NULL; /* NOLINT(concurrency-mt-unsafe): no threads yet */
    REQUIRE(tf_set_allocator(&fz_allocator) == TF_OK);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    memset(&S, 0, sizeof(S));
    input in = {data, size};
    int steps = 0;
    while (in.n && steps++ < 400) step(&in);
    release_everything();
    /* Nothing is alive: switching allocators is allowed, and hands back the
     * cached timer memory, after which every allocation has been freed. */
    REQUIRE(tf_set_allocator(&fz_allocator) == TF_OK);
    REQUIRE(atomic_load(&allocs) == atomic_load(&frees));
    return 0;
}
