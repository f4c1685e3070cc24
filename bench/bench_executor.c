/* SPDX-License-Identifier: MIT */
/* Executor throughput: 1,000,000 tasks that each return PENDING once
 * (waking themselves) and then READY, spawning included. Beside it, in the
 * same run, the same workload on (when built with libuv) libuv with a
 * hand-made queue and (when peer_tokio is built) tokio's current-thread
 * runtime, detached tasks, best of the same rounds (one thread only); and
 * two floors: a FIFO with one malloc per task, and a preallocated array of
 * tasks with a preallocated ring. A second figure
 * keeps spawning out of the timing. Every round of every contender runs in
 * a process of its own (see tf_round), so each starts from cold memory and
 * its peak RSS is its own; with no workers, all of them on CPU 0. With a
 * worker count, the workers poll while this thread spawns and then helps
 * them, and each round also runs the library with no workers (on CPU 0,
 * as above), so that the two are compared in the same run.
 * usage: bench_executor [tasks] [rounds] [workers] */
#include <stdatomic.h>

#include "bench_util.h"
#include "peer_tokio.h"
#include "timefuture.h"

#ifdef TF_BENCH_LIBUV
double peer_libuv_executor(size_t n);
#endif

/* One bit per task, so the bench's own bookkeeping stays out of the
 * library's memory figure. With workers, tasks sharing a byte are polled
 * on different threads at once: the bit is set with an atomic or, else
 * one thread's update overwrites another's. (A task is polled by one
 * thread at a time, so its own bit needs no more than that.) */
static _Atomic unsigned char *seen;
/* With no workers, one thread sets the bits: a load and a store, as the
 * peers' poll functions do, not a locked read-modify-write per task. */
static int seen_shared;

static int pending_once(void *s, const tf_waker *w) {
    size_t i = (size_t)(uintptr_t)s;
    unsigned char bit = (unsigned char)(1u << (i & 7));
    unsigned char byte = atomic_load_explicit(&seen[i >> 3], memory_order_relaxed);
    if (!(byte & bit)) {
        if (seen_shared)
            atomic_fetch_or_explicit(&seen[i >> 3], bit, memory_order_relaxed);
        else
            atomic_store_explicit(&seen[i >> 3], (unsigned char)(byte | bit),
                                  memory_order_relaxed);
        tf_waker_wake_by_ref(w);
        return TF_PENDING;
    }
    return TF_READY;
}

static double mtps(size_t n, uint64_t ns) { return (double)n / ((double)ns / 1e9) / 1e6; }

/* --- floor 1: a FIFO with one malloc per task --------------------------- */

typedef struct ftask {
    struct ftask *next;
    int (*poll)(struct ftask *);
    int polled;
} ftask;

static ftask *fhead, *ftail;

static void fpush(ftask *t) {
    t->next = NULL;
    if (ftail) ftail->next = t;
    else fhead = t;
    ftail = t;
}

static int fpending_once(ftask *t) {
    if (!t->polled) {
        t->polled = 1;
        fpush(t);
        return 0;
    }
    return 1;
}

static double floor_malloc_fifo(size_t n) {
    uint64_t t0 = tf_now_ns();
    for (size_t i = 0; i < n; i++) {
        ftask *t = malloc(sizeof(*t));
        if (!t) exit(1); /* NOLINT(concurrency-mt-unsafe): one thread by now */
        t->poll = fpending_once;
        t->polled = 0;
        fpush(t);
    }
    while (fhead) {
        ftask *t = fhead;
        fhead = t->next;
        if (!fhead) ftail = NULL;
        if (t->poll(t)) free(t);
    }
    return mtps(n, tf_now_ns() - t0);
}

/* --- floor 2: preallocated tasks and ring ------------------------------- */

static double floor_prealloc(size_t n) {
    /* One spare entry each: no 0-byte allocation when n is 0. */
    ftask *tasks = calloc(n + 1, sizeof(*tasks));
    ftask **ring = calloc(2 * n + 1, sizeof(*ring));
    if (!tasks || !ring) exit(1); /* NOLINT(concurrency-mt-unsafe): one thread by now */
    uint64_t t0 = tf_now_ns();
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++) {
        tasks[i].poll = fpending_once;
        ring[tail++] = &tasks[i];
    }
    while (head < tail) {
        ftask *t = ring[head++];
        if (!t->polled) { /* fpending_once without the FIFO */
            t->polled = 1;
            ring[tail++] = t;
        }
    }
    double r = mtps(n, tf_now_ns() - t0);
    free(ring);
    free(tasks);
    return r;
}

/* One round of each contender, each in a process of its own
 * (bench_in_child): every one starts from the same cold memory. In one
 * process, a contender run after another reuses the heap pages the
 * earlier one faulted in, which (pages being the dearest part of a
 * million tasks here) halves its cost: the order of the runs would decide
 * the comparison. */
typedef struct round_args {
    size_t n;
    uint32_t workers; /* the library's executor */
    int contender;    /* peer_round's: one of C_* */
    int pin;          /* tf_round: run on CPU 0 */
} round_args;

typedef struct round_out {
    double mtps, run_mtps, ms, peak_mib;
    int ok;
} round_out;

static void tf_round(void *arg, void *out) {
    const round_args *a = arg;
    round_out *o = out;
    memset(o, 0, sizeof(*o));
    size_t n = a->n;
    memset((void *)seen, 0, n / 8 + 1);
    if (a->pin) bench_pin(0);
    seen_shared = a->workers > 0;
    tf_executor *e;
    if (tf_executor_new(a->workers, &e) != TF_OK) return;
    uint64_t t0 = tf_now_ns();
    for (size_t i = 0; i < n; i++)
        if (tf_executor_spawn(e, pending_once, NULL, (void *)(uintptr_t)i) != TF_OK) return;
    uint64_t t1 = tf_now_ns();
    tf_executor_run(e);
    uint64_t t2 = tf_now_ns();
    tf_executor_free(e);
    for (size_t i = 0; i < n; i++)
        if (!(atomic_load_explicit(&seen[i >> 3], memory_order_relaxed) & (1u << (i & 7))))
            return;
    o->mtps = mtps(n, t2 - t0);
    o->run_mtps = mtps(n, t2 - t1);
    o->ms = (double)(t2 - t0) / 1e6;
    o->peak_mib = bench_peak_rss_mib();
    o->ok = 1;
}

enum { C_TF, C_FIFO, C_PREALLOC, C_LIBUV, C_COUNT };

static void peer_round(void *arg, void *out) {
    const round_args *a = arg;
    round_out *o = out;
    memset(o, 0, sizeof(*o));
    switch (a->contender) {
    case C_FIFO: o->mtps = floor_malloc_fifo(a->n); break;
    case C_PREALLOC: o->mtps = floor_prealloc(a->n); break;
#ifdef TF_BENCH_LIBUV
    case C_LIBUV: o->mtps = peer_libuv_executor(a->n); break;
#endif
    default: return;
    }
    o->peak_mib = bench_peak_rss_mib();
    o->ok = o->mtps > 0;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
    uint32_t workers = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0;
    seen = malloc(n / 8 + 1);
    if (!seen) return 1;
    /* One thread: every contender (each round a child of this process,
     * tokio's a child of it too) runs on the same CPU, so that none is
     * moved between CPUs mid-round, which here slows a round by half. */
    if (!workers) bench_pin(0);
    printf("%zu tasks, each pending once (self-wake) then ready, %u worker thread(s)%s;\n"
           "every round of every contender in a fresh process, rounds interleaved:\n", n,
           workers, workers ? " plus the spawning thread" : ", on the calling thread");
    double bestc[C_COUNT] = {0}, peak = 0, best0 = 0;
    int have_uv = 0, have_tk = 0;
    double tk = 0, tk_mib = 0;
#ifdef TF_BENCH_LIBUV
    have_uv = 1;
#endif
    for (int r = 0; r < rounds; r++) {
        round_args a = {n, workers, C_TF, 0};
        round_out o;
        if (bench_in_child(tf_round, &a, &o, sizeof o) != 0 || !o.ok) {
            fprintf(stderr, "round %d: the library's run failed\n", r + 1);
            return 1;
        }
        if (o.mtps > bestc[C_TF]) bestc[C_TF] = o.mtps;
        if (o.peak_mib > peak) peak = o.peak_mib;
        printf("  round %d: %.2f M tasks/s with spawning (%.1f ms), %.2f M tasks/s run only\n", r + 1,
               o.mtps, o.ms, o.run_mtps);
        if (workers) {
            round_args a0 = {n, 0, C_TF, 1};
            if (bench_in_child(tf_round, &a0, &o, sizeof o) != 0 || !o.ok) {
                fprintf(stderr, "round %d: the library's run with no workers failed\n", r + 1);
                return 1;
            }
            if (o.mtps > best0) best0 = o.mtps;
            printf("           %.2f M tasks/s with no workers, on CPU 0\n", o.mtps);
        }
        for (int c = C_FIFO; c < C_COUNT; c++) {
            if (c == C_LIBUV && !have_uv) continue;
            round_args pa = {n, 0, c, 0};
            if (bench_in_child(peer_round, &pa, &o, sizeof o) != 0 || !o.ok) {
                fprintf(stderr, "round %d: contender %d failed\n", r + 1, c);
                return 1;
            }
            if (o.mtps > bestc[c]) bestc[c] = o.mtps;
        }
        /* tokio's figure is for one thread: with workers it is left out.
         * One round per run of peer_tokio: a fresh process, as above. */
        double t = 0, t_mib = 0;
        int got = workers || have_tk < 0 ? 0 : peer_tokio_executor(n, 1, &t, &t_mib);
        if (got < 0 || (have_tk > 0 && got == 0)) {
            have_tk = -1;
        } else if (got > 0) {
            have_tk = 1;
            if (t > tk) tk = t;
            if (t_mib > tk_mib) tk_mib = t_mib;
        }
    }
    double best = bestc[C_TF], fifo = bestc[C_FIFO], pre = bestc[C_PREALLOC];
    printf("  libtimefuture best %.2f M tasks/s, peak RSS %.1f MiB\n", best, peak);
    if (workers)
        printf("  libtimefuture with no workers, same rounds: best %.2f M tasks/s (%u workers x%.2f)\n",
               best0, workers, best / best0);
    free((void *)seen);
#ifdef TF_BENCH_LIBUV
    double uv = bestc[C_LIBUV];
    printf("  peer libuv, hand-made queue: %.2f M tasks/s (libtimefuture x%.2f)\n", uv, best / uv);
#endif
    if (have_tk > 0)
        printf("  peer tokio, current-thread runtime: %.2f M tasks/s, peak RSS %.1f MiB (libtimefuture"
               " x%.2f)\n", tk, tk_mib, best / tk);
    else if (have_tk < 0)
        printf("  peer tokio: FAILED (no result line that parses)\n");
    printf("  floor, FIFO with one malloc per task: %.2f M tasks/s (libtimefuture x%.2f)\n", fifo,
           best / fifo);
    printf("  floor, preallocated array: %.2f M tasks/s (libtimefuture x%.2f)\n", pre, best / pre);
    char what[224], tf[128], peer[192] = "", flo[128], cnt[32];
    if (workers)
        (void)snprintf(what, sizeof what, "%s tasks, pending once then ready, %u worker threads"
                       " and the spawning one, against no workers in the same rounds; best of %d"
                       " rounds, each in a fresh process; peak RSS",
                       bench_count(cnt, sizeof cnt, n), workers, rounds);
    else
        (void)snprintf(what, sizeof what, "%s tasks, pending once then ready, one thread; best of"
                       " %d rounds, each in a fresh process; peak RSS",
                       bench_count(cnt, sizeof cnt, n), rounds);
    if (workers)
        (void)snprintf(tf, sizeof tf, "%u workers: %.2f M tasks/s (x%.2f of no workers: %.2f M/s), %.1f MiB",
                       workers, best, best / best0, best0, peak);
    else
        (void)snprintf(tf, sizeof tf, "%.2f M tasks/s, %.1f MiB", best, peak);
#ifdef TF_BENCH_LIBUV
    (void)snprintf(peer, sizeof peer, "libuv, hand-made queue: %.2f M/s (x%.2f)", uv, best / uv);
#endif
    if (have_tk > 0)
        (void)snprintf(peer + strlen(peer), sizeof peer - strlen(peer),
                       "%stokio current-thread: %.2f M/s (x%.2f), %.1f MiB", peer[0] ? "; " : "", tk,
                       best / tk, tk_mib);
    (void)snprintf(flo, sizeof flo, "malloc FIFO %.2f M/s (x%.2f); preallocated array %.2f M/s (x%.2f)",
             fifo, best / fifo, pre, best / pre);
    bench_row(what, tf, peer, flo);
    return 0;
}
