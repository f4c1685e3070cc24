/* SPDX-License-Identifier: MIT */
/* Cross-thread wake latency: two executors, each run by its own worker
 * thread, ping-pong a wake (task A wakes task B's waker and waits; B wakes
 * A's). A round trip is the time between two consecutive polls of A.
 * Three placements: the two threads pinned to different CPUs, both pinned
 * to the same CPU (each wake must hand the CPU over), and unpinned. The
 * main thread waits apart until both tasks are done (were it in
 * tf_executor_run meanwhile, it would be a second consumer of A's
 * executor, on any CPU, and could poll A itself). Beside
 * each figure, in the same run: the floor, two threads ping-ponging a
 * futex word, (when built with libuv) libuv's uv_async_send peer and
 * (when peer_tokio is built) two tokio current-thread runtimes, one task
 * each, ping-ponging Waker::wake_by_ref.
 * usage: bench_wake [round_trips] [placement] [contender] [rounds]
 * placement: cross-CPU, same-CPU or unpinned (default: all three);
 * contender: libtimefuture, floor, libuv or tokio (default: all); rounds:
 * how many times each contender runs, interleaved, keeping its best
 * median (default 3). One
 * placement or one contender alone (for perf or strace) prints its lines
 * but no table row: a row needs every figure of every placement. */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "peer_tokio.h"
#include "timefuture.h"

#ifdef TF_BENCH_LIBUV
double peer_libuv_wake(size_t n, int cpu_a, int cpu_b);
#endif

static uint64_t median(uint64_t *v, size_t n) { return bench_percentile(v, n, 50); }

/* Sleeps until *w holds want. */
static void futex_wait_for(_Atomic uint32_t *w, uint32_t want) {
    uint32_t v;
    while ((v = atomic_load(w)) != want)
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake_one(_Atomic uint32_t *w) {
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* --- libtimefuture ------------------------------------------------------ */

typedef struct player {
    _Atomic(tf_waker *) mine; /* this task's waker, once known */
    struct player *other;
    size_t rounds, target;
    uint64_t last;
    uint64_t *samples;
    int cpu;
    _Atomic uint32_t *done; /* players finished, a futex word */
} player;

static int play(void *s, const tf_waker *w) {
    player *p = s;
    if (!atomic_load(&p->mine)) {
        bench_pin(p->cpu); /* first poll: this is the worker thread */
        tf_waker *c;
        tf_waker_clone(w, &c);
        atomic_store(&p->mine, c);
    }
    tf_waker *peer = atomic_load(&p->other->mine);
    if (!peer) { /* the other side has not been polled yet */
        tf_waker_wake_by_ref(w);
        return TF_PENDING;
    }
    if (p->samples) {
        uint64_t now = tf_now_ns();
        if (p->last) p->samples[p->rounds] = now - p->last;
        p->last = now;
    }
    if (p->rounds++ >= p->target) {
        tf_waker_wake_by_ref(peer); /* let the peer finish too */
        atomic_fetch_add(p->done, 1);
        futex_wake_one(p->done);
        return TF_READY;
    }
    tf_waker_wake_by_ref(peer);
    return TF_PENDING;
}

static double tf_round_trip(size_t n, int cpu_a, int cpu_b) {
    uint64_t *samples = calloc(n + 2, sizeof(*samples));
    _Atomic uint32_t done = 0;
    player a = {NULL, NULL, 0, n, 0, samples, cpu_a, &done};
    player b = {NULL, NULL, 0, n, 0, NULL, cpu_b, &done};
    a.other = &b;
    b.other = &a;
    tf_executor *ea, *eb;
    if (tf_executor_new(1, &ea) != TF_OK || tf_executor_new(1, &eb) != TF_OK)
        exit(1); /* NOLINT(concurrency-mt-unsafe): the bench gives up, workers and all */
    tf_executor_spawn(ea, play, NULL, &a);
    tf_executor_spawn(eb, play, NULL, &b);
    futex_wait_for(&done, 2); /* both players */
    tf_executor_run(ea); /* returns once the workers have settled them */
    tf_executor_run(eb);
    /* samples[1..n] hold round trips (samples[0] has none). */
    uint64_t p50 = median(samples + 1, n - 1);
    tf_waker_drop(atomic_load(&a.mine));
    tf_waker_drop(atomic_load(&b.mine));
    tf_executor_free(ea);
    tf_executor_free(eb);
    free(samples);
    return (double)p50 / 1e3;
}

/* --- the floor: a futex ping-pong ---------------------------------------
 * Two threads hand a turn back and forth through one futex word: a waiter
 * sleeps in FUTEX_WAIT at once, the other wakes it with FUTEX_WAKE. No
 * spinning, so it is the kernel's hand-over cost on any placement. */

typedef struct pingpong {
    _Atomic uint32_t turn; /* 0: A's turn, 1: B's */
    size_t n;
    int cpu[2];
    uint64_t *samples;
} pingpong;

typedef struct pp_arg {
    pingpong *pp;
    uint32_t me;
} pp_arg;

static void *pp_main(void *arg) {
    pp_arg *a = arg;
    pingpong *pp = a->pp;
    bench_pin(pp->cpu[a->me]);
    uint64_t last = 0;
    for (size_t i = 0; i < pp->n; i++) {
        futex_wait_for(&pp->turn, a->me);
        if (a->me == 0) {
            uint64_t now = tf_now_ns();
            if (last) pp->samples[i] = now - last;
            last = now;
        }
        atomic_store(&pp->turn, 1 - a->me);
        futex_wake_one(&pp->turn);
    }
    return NULL;
}

static double futex_round_trip(size_t n, int cpu_a, int cpu_b) {
    pingpong pp = {0, n, {cpu_a, cpu_b}, calloc(n, sizeof(uint64_t))};
    pp_arg aa = {&pp, 0}, ab = {&pp, 1};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, pp_main, &aa);
    pthread_create(&tb, NULL, pp_main, &ab);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    uint64_t p50 = median(pp.samples + 1, n - 1);
    free(pp.samples);
    return (double)p50 / 1e3;
}

/* 1 if the selection sel ("all": everything) names what. */
static int selected(const char *sel, const char *what) {
    return strcmp(sel, "all") == 0 || strcmp(sel, what) == 0;
}

/* The lower of a figure so far (0: none yet) and a new one (0: failed). */
static double best_of(double so_far, double v) {
    if (v <= 0) return so_far;
    return so_far == 0 || v < so_far ? v : so_far;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    if (n < 2) n = 2;
    const char *placement = argc > 2 ? argv[2] : "all";
    const char *contender = argc > 3 ? argv[3] : "all";
    int rounds = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 3;
    static const char *shortname[] = {"cross-CPU", "same-CPU", "unpinned"};
    static const char *contenders[] = {"libtimefuture", "floor", "libuv", "tokio"};
    int known_p = selected(placement, "all"), known_c = selected(contender, "all");
    for (size_t i = 0; i < 3; i++) known_p |= strcmp(placement, shortname[i]) == 0;
    for (size_t i = 0; i < 4; i++) known_c |= strcmp(contender, contenders[i]) == 0;
    if (!known_p || !known_c || rounds < 1 || argc > 5) {
        fprintf(stderr, "usage: bench_wake [round_trips] [all|cross-CPU|same-CPU|unpinned] "
                        "[all|libtimefuture|floor|libuv|tokio] [rounds >= 1; 3]\n");
        return 2;
    }
    int full = selected(placement, "all") && selected(contender, "all");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct {
        const char *name;
        int a, b;
    } modes[] = {
        {"cross-CPU (pinned to CPUs 0 and 1)", 0, 1},
        {"same CPU (both pinned to CPU 0)", 0, 0},
        {"unpinned", -1, -1},
    };
    printf("%zu wake round trips between two threads, median, best of %d rounds (lower is"
           " better):\n", n, rounds);
    /* The table row: one figure per placement run, " / " between them. */
    char names[128] = "", tfs[128] = "", fxs[160] = "", uvs[160] = "", tks[160] = "";
    int any_tk = 0;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        if (cpus < 2 && modes[m].a != modes[m].b) continue;
        if (!selected(placement, shortname[m])) continue;
        /* Same-CPU round trips are futex hand-overs: fewer are enough. */
        size_t k = modes[m].a == modes[m].b && modes[m].a >= 0 ? n / 5 + 2 : n;
        /* Rounds interleave the contenders, and each keeps its best
         * median: this machine has slow spells that a single run of one
         * contender may fall into while the others do not. */
        double tf = 0, fx = 0, uv = 0, tk = 0;
        int have_tk = 0;
        for (int r = 0; r < rounds; r++) {
            if (selected(contender, "libtimefuture"))
                tf = best_of(tf, tf_round_trip(k, modes[m].a, modes[m].b));
            if (selected(contender, "floor"))
                fx = best_of(fx, futex_round_trip(k, modes[m].a, modes[m].b));
#ifdef TF_BENCH_LIBUV
            if (selected(contender, "libuv"))
                uv = best_of(uv, peer_libuv_wake(k, modes[m].a, modes[m].b));
#endif
            if (selected(contender, "tokio") && have_tk >= 0) {
                double t = 0;
                int got = peer_tokio_wake(k, modes[m].a, modes[m].b, &t);
                if (got > 0) tk = best_of(tk, t);
                if (got < 0 || (got == 0 && have_tk > 0)) have_tk = -1;
                else if (got > 0) have_tk = 1;
            }
        }
        printf("  %-36s", modes[m].name);
        if (selected(contender, "libtimefuture")) printf(" libtimefuture %7.2f us |", tf);
        if (selected(contender, "floor")) {
            printf(" futex ping-pong floor %6.2f us", fx);
            if (tf > 0) printf(" (x%.2f)", tf / fx);
        }
#ifdef TF_BENCH_LIBUV
        if (selected(contender, "libuv")) printf(" | libuv uv_async_send %6.2f us", uv);
#endif
        if (selected(contender, "tokio")) {
            if (have_tk > 0) printf(" | tokio %6.2f us", tk);
            else if (have_tk < 0) printf(" | tokio FAILED (no result line that parses)");
            if (have_tk > 0 && tf > 0) printf(" (x%.2f)", tf / tk);
        }
        printf("\n");
        fflush(stdout);
        const char *sep = names[0] ? " / " : "";
        (void)snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", sep, shortname[m]);
        (void)snprintf(tfs + strlen(tfs), sizeof tfs - strlen(tfs), "%s%.2f", sep, tf);
        (void)snprintf(fxs + strlen(fxs), sizeof fxs - strlen(fxs), "%s%.2f (x%.2f)", sep, fx, tf / fx);
#ifdef TF_BENCH_LIBUV
        (void)snprintf(uvs + strlen(uvs), sizeof uvs - strlen(uvs), "%s%.2f (x%.2f)", sep, uv, tf / uv);
#endif
        if (have_tk > 0)
            (void)snprintf(tks + strlen(tks), sizeof tks - strlen(tks), "%s%.2f (x%.2f)", sep, tk, tf / tk);
        else
            (void)snprintf(tks + strlen(tks), sizeof tks - strlen(tks), "%s-", sep);
        any_tk |= have_tk > 0;
    }
    if (!full) return 0;
    char what[256], tf_[160], peer[384] = "", flo[192], cnt[32];
    (void)snprintf(what, sizeof what,
                   "cross-thread wake round trip, median of %s, best of %d rounds: %s",
                   bench_count(cnt, sizeof cnt, n), rounds, names);
    (void)snprintf(tf_, sizeof tf_, "%s us", tfs);
#ifdef TF_BENCH_LIBUV
    (void)snprintf(peer, sizeof peer, "libuv uv_async_send %s us", uvs);
#endif
    if (any_tk)
        (void)snprintf(peer + strlen(peer), sizeof peer - strlen(peer), "%stokio current-thread %s us",
                       peer[0] ? "; " : "", tks);
    (void)snprintf(flo, sizeof flo, "futex ping-pong %s us", fxs);
    bench_row(what, tf_, peer, flo);
    return 0;
}
