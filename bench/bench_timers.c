/* SPDX-License-Identifier: MIT */
/* 1,000,000 timers, deadlines spread uniformly over 1 s, each awaited by
 * its own task, until all fired. Beside each figure it prints, measured in
 * the same run on the same deadlines: libuv (peer_libuv, when it was
 * built), tokio (peer_tokio, when it was built: its timer wheel has
 * millisecond slots, like libuv's timers) and the floor, a binary heap
 * and one thread that sleeps until its top. Each runs in its own process,
 * so peak RSS is its own.
 *
 * Lateness is given for all timers and for those armed before their
 * deadline (a timer whose deadline passed while the program was still
 * arming is late by design). For timefuture it is also given for the
 * timers whose task awaited them (polled them pending) before the deadline:
 * those went through the driver and a wake; the others were ready at their
 * task's first poll, so their lateness is the time the executor took to
 * reach that task in its queue of a million new tasks.
 *
 * timefuture runs twice: with 0 worker threads (the arming thread spawns
 * every task, then runs the executor: no task is polled before arming is
 * done) and with worker_threads of them (1 unless told: they poll while
 * the arming thread spawns, then the arming thread helps them through
 * tf_executor_run; arming on one thread and firing on another is the
 * floor's structure). Each figure and the table row say which run it is.
 *
 * usage: bench_timers [timers] [spread_ms] [worker_threads] */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "peer_tokio.h"
#include "timefuture.h"

/* What one implementation measured; every time in ns. */
typedef struct result {
    int ok;
    uint32_t workers;             /* timefuture: its executor's threads */
    double arm, total, peak_mib;
    uint64_t p50, p99, max;       /* all timers */
    uint64_t a_p50, a_p99;        /* armed before their deadline */
    size_t n_armed;
    uint64_t w_p50, w_p99;        /* awaited before their deadline */
    size_t n_awaited;
    size_t early;
    /* timefuture: CPU time of each kind of thread while the arming ran */
    uint64_t cpu_arm, cpu_driver, cpu_workers;
} result;

#define BLOCK 1024 /* the arming time is sampled once per block of timers */

static uint64_t rng(uint64_t *seed) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return *seed;
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* p50 and p99 of v (sorted in place); zero when v is empty. */
static void percentiles(uint64_t *v, size_t n, uint64_t *p50, uint64_t *p99) {
    if (n == 0) {
        *p50 = *p99 = 0;
        return;
    }
    *p50 = bench_percentile(v, n, 50);
    *p99 = bench_percentile(v, n, 99);
}

/* --- timefuture ---------------------------------------------------------
 * Each task's state is its slot in one array: the timer's address, with
 * bit 0 set once a poll found it pending; when done, the lateness with
 * the flags below. No memory beyond what the figures need. A task is
 * polled by one thread at a time, so its slot needs no atomics; the counts
 * are shared by the worker threads and the thread running the executor. */
#define AWAITED UINT64_C(1)
#define DONE (UINT64_C(1) << 63)
#define WAS_AWAITED (UINT64_C(1) << 62)
#define LATE_MASK (WAS_AWAITED - 1)

static uint64_t *slots;
static _Atomic size_t completed, early_tf;

static int sleeper_poll(void *s, const tf_waker *w) {
    uint64_t *slot = s;
    tf_timer *t = (tf_timer *)(uintptr_t)(*slot & ~AWAITED);
    int rc = tf_timer_poll(t, w);
    if (rc == TF_PENDING) *slot |= AWAITED;
    if (rc != TF_READY) return rc;
    uint64_t now = tf_now_ns(), deadline;
    tf_timer_deadline(t, &deadline);
    if (now < deadline) atomic_fetch_add_explicit(&early_tf, 1, memory_order_relaxed);
    uint64_t late = now > deadline ? now - deadline : 0;
    *slot = DONE | ((*slot & AWAITED) ? WAS_AWAITED : 0) | (late & LATE_MASK);
    atomic_fetch_add_explicit(&completed, 1, memory_order_relaxed);
    tf_timer_free(t);
    return TF_READY;
}

static void sleeper_drop(void *s) {
    uint64_t *slot = s;
    if (!(*slot & DONE)) tf_timer_free((tf_timer *)(uintptr_t)(*slot & ~AWAITED));
}

/* Copies into out the lateness of the slots whose class (bits 62-63) has
 * every bit of c set; returns how many. */
static size_t class_lateness(const uint64_t *v, size_t n, uint64_t c, uint64_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((v[i] >> 62 & c) == c) out[k++] = v[i] & LATE_MASK;
    return k;
}

/* The deadlines are not stored but replayed from the seed after the run
 * (as the libuv peer does): the bench's own bookkeeping stays out of the
 * library's memory figure, as in bench_executor. */
static void run_timefuture(size_t n, uint64_t spread, uint32_t workers, result *r) {
    slots = malloc(n * sizeof(*slots));
    uint64_t *armed_at = malloc((n / BLOCK + 1) * sizeof(*armed_at));
    uint64_t *scratch = NULL;
    tf_executor *e;
    r->workers = workers;
    if (!slots || !armed_at || tf_executor_new(workers, &e) != TF_OK) goto fail;
    static const char *const lib_threads[2] = {"tf-driver", "tf-worker"};
    uint64_t main0, lib0[2];
    bench_threads_cpu_ns(&main0, lib_threads, lib0, 2);
    uint64_t start = tf_now_ns();
    const uint64_t seed0 = 0x9E3779B97F4A7C15ull;
    uint64_t seed = seed0;
    for (size_t i = 0; i < n; i++) {
        tf_timer *t;
        int rc = tf_timer_new_at(start + rng(&seed) % spread, &t);
        slots[i] = (uint64_t)(uintptr_t)t;
        if (rc == TF_OK) rc = tf_executor_spawn(e, sleeper_poll, sleeper_drop, &slots[i]);
        if (rc != TF_OK) {
            fprintf(stderr, "arming failed: %s\n", tf_strerror(rc));
            goto fail;
        }
        if (i % BLOCK == BLOCK - 1) armed_at[i / BLOCK] = tf_now_ns();
    }
    uint64_t armed = tf_now_ns();
    armed_at[n / BLOCK] = armed;
    uint64_t main1, lib1[2];
    bench_threads_cpu_ns(&main1, lib_threads, lib1, 2);
    r->cpu_arm = main1 - main0;
    r->cpu_driver = lib1[0] - lib0[0];
    r->cpu_workers = lib1[1] - lib0[1];
    int rc = tf_executor_run(e);
    uint64_t end = tf_now_ns();
    r->peak_mib = bench_peak_rss_mib(); /* before the statistics' scratch */
    size_t done = atomic_load(&completed);
    if (rc != TF_OK || done != n) {
        fprintf(stderr, "run: %s, %zu of %zu completed\n", tf_strerror(rc), done, n);
        goto fail;
    }
    tf_executor_free(e);
    r->arm = (double)(armed - start);
    r->total = (double)(end - start);
    r->early = atomic_load(&early_tf);
    /* Each slot becomes its lateness and a class of two bits: awaited
     * before the deadline (bit 1), armed before it (bit 0: its deadline is
     * after the end of its block's arming). With 0 workers every awaited
     * timer is armed before too (polled after all arming); with workers a
     * timer may be awaited while its block is still arming, so the groups
     * need not nest: each group's percentiles are taken on a copy (scratch
     * made after the peak RSS was read). */
    seed = seed0;
    for (size_t i = 0; i < n; i++) {
        uint64_t deadline = start + rng(&seed) % spread;
        uint64_t c = ((slots[i] & WAS_AWAITED) ? 2 : 0) | (deadline > armed_at[i / BLOCK] ? 1 : 0);
        slots[i] = c << 62 | (slots[i] & LATE_MASK);
    }
    scratch = malloc(n * sizeof(*scratch));
    if (!scratch) goto fail;
    size_t nw = class_lateness(slots, n, 2, scratch);
    percentiles(scratch, nw, &r->w_p50, &r->w_p99);
    size_t na = class_lateness(slots, n, 1, scratch);
    percentiles(scratch, na, &r->a_p50, &r->a_p99);
    for (size_t i = 0; i < n; i++) slots[i] &= LATE_MASK;
    percentiles(slots, n, &r->p50, &r->p99);
    r->max = slots[n - 1];
    r->n_armed = na;
    r->n_awaited = nw;
    r->ok = 1;
fail: /* r->ok stays 0; the executor, if any, is never run again */
    free(scratch);
    free(armed_at);
    free(slots);
}

/* --- the floor: a binary heap and one thread ----------------------------
 * Keyed by (deadline, arming order); the thread pops what is due, runs the
 * timer's "task" (records its lateness), and sleeps until the new top. */
typedef struct heap_entry {
    uint64_t deadline;
    uint32_t id;
} heap_entry;

static int heap_less(const heap_entry *a, const heap_entry *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->id < b->id);
}

static void heap_push(heap_entry *h, size_t *len, heap_entry x) {
    size_t i = (*len)++;
    while (i > 0 && heap_less(&x, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static heap_entry heap_pop(heap_entry *h, size_t *len) {
    heap_entry top = h[0], last = h[--*len];
    size_t i = 0, n = *len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = last;
    return top;
}

static void run_heap(size_t n, uint64_t spread, uint32_t workers, result *r) {
    (void)workers; /* one thread fires, the main one arms */
    heap_entry *h = malloc(n * sizeof(*h));
    uint64_t *late = malloc(n * sizeof(*late));
    uint64_t *armed_late = malloc(n * sizeof(*armed_late));
    uint64_t *armed_at = malloc((n / BLOCK + 1) * sizeof(*armed_at));
    if (!h || !late || !armed_late || !armed_at) return;
    size_t len = 0;
    uint64_t start = mono_ns(), seed = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        heap_push(h, &len, (heap_entry){start + rng(&seed) % spread, (uint32_t)i});
        if (i % BLOCK == BLOCK - 1) armed_at[i / BLOCK] = mono_ns();
    }
    uint64_t armed = mono_ns();
    armed_at[n / BLOCK] = armed;
    size_t done = 0, na = 0;
    while (len) {
        uint64_t now = mono_ns();
        if (h[0].deadline > now) {
            struct timespec ts = {(time_t)(h[0].deadline / 1000000000u),
                                  (long)(h[0].deadline % 1000000000u)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            continue;
        }
        while (len && h[0].deadline <= now) {
            heap_entry x = heap_pop(h, &len);
            uint64_t t = mono_ns();
            late[done++] = t - x.deadline;
            if (x.deadline > armed_at[x.id / BLOCK]) armed_late[na++] = t - x.deadline;
        }
    }
    uint64_t end = mono_ns();
    r->arm = (double)(armed - start);
    r->total = (double)(end - start);
    percentiles(late, n, &r->p50, &r->p99);
    r->max = late[n - 1];
    percentiles(armed_late, na, &r->a_p50, &r->a_p99);
    r->n_armed = na;
    r->peak_mib = bench_peak_rss_mib();
    r->ok = 1;
}

/* Runs fn in a child process (its own RSS) and returns what it found. */
typedef struct child_job {
    void (*fn)(size_t, uint64_t, uint32_t, result *);
    size_t n;
    uint64_t spread;
    uint32_t workers;
} child_job;

static void run_job(void *arg, void *out) {
    const child_job *j = arg;
    result *r = out;
    memset(r, 0, sizeof(*r));
    j->fn(j->n, j->spread, j->workers, r);
}

static void in_child(void (*fn)(size_t, uint64_t, uint32_t, result *), size_t n,
                     uint64_t spread, uint32_t workers, result *r) {
    child_job j = {fn, n, spread, workers};
    memset(r, 0, sizeof(*r));
    if (bench_in_child(run_job, &j, r, sizeof(*r)) != 0) r->ok = 0;
}

/* In a peer's "result" line, the number after key (" name "); 0 if
 * it is missing or not a number. The figures are integers below 2^53, so
 * peer_field's double holds them exactly. */
static int result_field(const char *line, const char *key, unsigned long long *v) {
    double d;
    if (!peer_field(line, key, &d) || d < 0) return 0;
    *v = (unsigned long long)d;
    return 1;
}

/* Runs a peer (peer_libuv or peer_tokio) that prints peer_libuv's two
 * "result" lines; the other lines go to stdout. */
static void run_peer(const char *cmd, result *r) {
    memset(r, 0, sizeof(*r));
    fflush(stdout);
    /* The command is one of this build's peers, with numbers for arguments. */
    FILE *p = popen(cmd, "r"); /* NOLINT(cert-env33-c) */
    if (!p) return;
    char line[512];
    while (fgets(line, sizeof(line), p)) {
        static const char *const keys[9] = {" arm_ns ", " total_ns ", " p50 ", " p99 ",
                                             " max ", " armed ", " armed_p50 ", " armed_p99 ",
                                             " early "};
        unsigned long long v[9];
        int got = 0;
        if (strncmp(line, "result arm_ns ", 14) == 0)
            while (got < 9 && result_field(line, keys[got], &v[got])) got++;
        const char *mib = strncmp(line, "result peak_mib ", 16) == 0 ? line + 16 : NULL;
        char *end = NULL;
        double peak = mib ? strtod(mib, &end) : 0;
        if (got == 9) {
            r->arm = (double)v[0];
            r->total = (double)v[1];
            r->p50 = v[2];
            r->p99 = v[3];
            r->max = v[4];
            r->n_armed = (size_t)v[5];
            r->a_p50 = v[6];
            r->a_p99 = v[7];
            r->early = (size_t)v[8];
            r->ok = 1;
        } else if (mib && end != mib) {
            r->peak_mib = peak;
        } else {
            fputs(line, stdout);
        }
    }
    if (pclose(p) != 0) r->ok = 0;
}

/* peer_libuv from this program's directory. */
static void run_libuv(size_t n, uint64_t spread, result *r) {
    memset(r, 0, sizeof(*r));
    char self[PATH_MAX], cmd[PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) return;
    self[len] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return;
    *slash = 0;
    (void)snprintf(cmd, sizeof(cmd), "%s/peer_libuv", self);
    if (access(cmd, X_OK) != 0) return;
    (void)snprintf(cmd, sizeof(cmd), "%s/peer_libuv timers %zu %" PRIu64, self, n,
             spread / 1000000u);
    run_peer(cmd, r);
}

/* peer_tokio; 0 when it is not built, -1 when its figures did not parse. */
static int run_tokio(size_t n, uint64_t spread, result *r) {
    memset(r, 0, sizeof(*r));
    char args[64], cmd[PATH_MAX + 128];
    (void)snprintf(args, sizeof args, "timers %zu %" PRIu64, n, spread / 1000000u);
    if (!peer_tokio_cmd(cmd, sizeof cmd, args)) return 0;
    run_peer(cmd, r);
    return r->ok ? 1 : -1;
}

/* Which timefuture runs met a target: "0w+1w", "0w", "1w" or "none"; ""
 * when the row has no target. */
static const char *met_by(const result *t0, double v0, const result *t1, double v1,
                          double limit) {
    static char buf[32];
    if (limit < 0) return "";
    int a = t0->ok && v0 <= limit, b = t1->ok && v1 <= limit;
    (void)snprintf(buf, sizeof buf, "%s", a && b ? "0w+1w" : a ? "0w" : b ? "1w" : "none");
    return buf;
}

/* The figures of the summary, in its units: ms, MiB, us. */
typedef enum { F_ARM, F_TOTAL, F_RSS, F_P50, F_P99, F_MAX, F_A_P50, F_A_P99 } figure;

static double figure_of(const result *r, figure f) {
    switch (f) {
    case F_ARM: return r->arm / 1e6;
    case F_TOTAL: return r->total / 1e6;
    case F_RSS: return r->peak_mib;
    case F_P50: return (double)r->p50 / 1e3;
    case F_P99: return (double)r->p99 / 1e3;
    case F_MAX: return (double)r->max / 1e3;
    case F_A_P50: return (double)r->a_p50 / 1e3;
    default: return (double)r->a_p99 / 1e3;
    }
}

/* One figure of every implementation, its target (timefuture's) and which
 * timefuture run met it; limit < 0: no target to check. */
static void row(const char *what, const result *const rs[5], figure f, const char *target,
                double limit) {
    double v[5];
    for (int i = 0; i < 5; i++) v[i] = figure_of(rs[i], f);
    printf("  %-34s", what);
    for (int i = 0; i < 5; i++) {
        if (rs[i]->ok)
            printf(" %11.1f", v[i]);
        else
            printf(" %11s", "-");
    }
    printf("   %-8s %s\n", target, met_by(rs[0], v[0], rs[1], v[1], limit));
}

/* One implementation's figures for the table row; "" when it did not run. */
static void row_figures(char *buf, size_t len, const result *r, int full) {
    buf[0] = 0;
    if (!r->ok) return;
    if (full)
        (void)snprintf(buf, len, "%.3f s / %.0f ms / %.0f us / %.0f us / %.0f MiB", r->total / 1e9,
                 r->arm / 1e6, (double)r->a_p50 / 1e3, (double)r->a_p99 / 1e3, r->peak_mib);
    else
        (void)snprintf(buf, len, "%.0f us", (double)r->a_p99 / 1e3);
}

/* A timefuture run's figure over another's: the total, or (smaller runs)
 * the lateness p99. */
static double ratio(const result *t, const result *o, int full) {
    return full ? t->total / o->total : (double)t->a_p99 / (double)(o->a_p99 ? o->a_p99 : 1);
}

/* " (total x0.53 with 0 workers, x0.52 with 1)" for a peer or the floor:
 * each timefuture run's figure over its. */
static void ratios(char *buf, size_t len, const result *t0, const result *t1, const result *o,
                   int full) {
    (void)snprintf(buf, len, " (%sx%.2f with 0 workers, x%.2f with %u)", full ? "total " : "",
                   ratio(t0, o, full), ratio(t1, o, full), (unsigned)t1->workers);
}

/* The table row. Above 100,000 timers: total / arming / lateness p50 and
 * p99 of the timers armed before their deadline / peak RSS; at 100,000 or
 * fewer, the lateness p99 alone, the figure a smaller run is for. Both
 * timefuture runs are given, each named by its worker threads. */
static void table_row(size_t n, uint64_t spread, const result *t0, const result *t1,
                      const result *uv, const result *tk, const result *hp) {
    const int full = n > 100000;
    char what[256], a[512], b[768], c[512], cnt[32], fig[128], rat[128];
    bench_count(cnt, sizeof cnt, n);
    if (full)
        (void)snprintf(what, sizeof what, "%s timers over %.0f ms, one task each: total / arming / "
                 "late p50 / p99 (armed before their deadline) / peak RSS", cnt,
                 (double)spread / 1e6);
    else
        (void)snprintf(what, sizeof what, "%s timers over %.0f ms, one task each: late p99 (armed "
                 "before their deadline)", cnt, (double)spread / 1e6);
    char f0[128], f1[128];
    row_figures(f0, sizeof f0, t0, full);
    row_figures(f1, sizeof f1, t1, full);
    (void)snprintf(a, sizeof a, "0 worker threads (arming, then the executor, on one thread): %s; "
                   "%u worker thread%s polling while one thread arms: %s", f0,
                   (unsigned)t1->workers, t1->workers == 1 ? "" : "s", f1);
    b[0] = 0;
    const result *peers[2] = {uv, tk};
    const char *names[2] = {"libuv", "tokio"};
    for (int i = 0; i < 2; i++) {
        if (!peers[i]->ok) continue;
        size_t l = strlen(b);
        row_figures(fig, sizeof fig, peers[i], full);
        ratios(rat, sizeof rat, t0, t1, peers[i], full);
        (void)snprintf(b + l, sizeof b - l, "%s%s %s%s", l ? "; " : "", names[i], fig, rat);
    }
    c[0] = 0;
    if (hp->ok) {
        row_figures(fig, sizeof fig, hp, full);
        ratios(rat, sizeof rat, t0, t1, hp, full);
        (void)snprintf(c, sizeof c, "heap + one thread %s%s", fig, full ? rat : "");
    }
    bench_row(what, a, b, c);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    uint64_t spread = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1000) * 1000000u;
    uint32_t threads = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1;
    if (n == 0 || n > UINT32_MAX || spread == 0 || threads == 0 || threads > 1024) {
        fprintf(stderr, "usage: bench_timers [timers >= 1] [spread_ms >= 1] "
                        "[worker_threads of the second run, 1..1024; 1]\n");
        return 2;
    }
    result t0, t1, uv, tk, hp;
    in_child(run_heap, n, spread, 0, &hp);
    run_libuv(n, spread, &uv);
    int have_tk = run_tokio(n, spread, &tk);
    in_child(run_timefuture, n, spread, 0, &t0);
    in_child(run_timefuture, n, spread, threads, &t1);
    if (!t0.ok || !t1.ok) {
        fprintf(stderr, "bench_timers: the timefuture run with %u worker threads failed\n",
                t0.ok ? (unsigned)threads : 0u);
        return 1;
    }
    const int big = n >= 1000000;
    const result *rs[5] = {&t0, &t1, &uv, &tk, &hp};
    printf("timers: %zu, deadlines uniform over %.0f ms, one task each\n", n,
           (double)spread / 1e6);
    printf("  tf 0w: timefuture, 0 worker threads: one thread arms (creates and spawns), then\n"
           "         runs the executor; no task is polled before arming is done\n"
           "  tf %uw: timefuture, %u worker thread%s polling while one thread arms, which then\n"
           "         helps them (tf_executor_run); the floor's structure is this one\n",
           (unsigned)threads, (unsigned)threads, threads == 1 ? "" : "s");
    char h1[16];
    (void)snprintf(h1, sizeof h1, "tf %uw", (unsigned)threads);
    printf("  %-34s %11s %11s %11s %11s %11s   %-8s %s\n", "", "tf 0w", h1, "libuv", "tokio",
           "heap floor", big ? "target" : "", big ? "met by" : "");
    /* The targets are for a million timers. */
    row("arm (create + spawn), ms", rs, F_ARM, big ? "<= 150" : "", big ? 150 : -1);
    row("total wall, ms", rs, F_TOTAL, big ? "<= 1100" : "", big ? 1100 : -1);
    row("peak rss, MiB", rs, F_RSS, big ? "<= 80" : "", big ? 80 : -1);
    row("late p50, all timers, us", rs, F_P50, "", -1);
    row("late p99, all timers, us", rs, F_P99, "", -1);
    row("late max, all timers, us", rs, F_MAX, "", -1);
    row("late p50, armed before deadline", rs, F_A_P50, big ? "<= 1000" : "", big ? 1000 : -1);
    row("late p99, armed before deadline", rs, F_A_P99, big ? "<= 20000" : "",
        big ? 20000 : -1);
    printf("  %-34s %11zu %11zu %11zu %11zu %11zu\n", "  (timers armed before deadline)",
           t0.n_armed, t1.n_armed, uv.n_armed, tk.n_armed, hp.n_armed);
    if (!big) printf("  (target for fewer timers: late p99, armed before deadline, below libuv's)\n");
    for (int i = 0; i < 2; i++) {
        const result *t = rs[i];
        printf("  tf %uw late p50 / p99, awaited before deadline: %.1f / %.1f us (%zu timers;"
               " the rest were due at their task's first poll)\n",
               (unsigned)t->workers, (double)t->w_p50 / 1e3, (double)t->w_p99 / 1e3,
               t->n_awaited);
    }
    /* Where the CPU went while one thread armed: with workers, whether they
     * kept pace with the arming depends on the CPU left to them. */
    for (int i = 0; i < 2; i++) {
        const result *t = rs[i];
        printf("  tf %uw CPU while arming (%.1f ms): arming thread %.1f ms, driver thread %.1f ms,"
               " worker threads %.1f ms\n",
               (unsigned)t->workers, t->arm / 1e6, (double)t->cpu_arm / 1e6,
               (double)t->cpu_driver / 1e6, (double)t->cpu_workers / 1e6);
    }
    if (uv.ok) printf("  libuv fired %zu timers early (it rounds to milliseconds)\n", uv.early);
    if (tk.ok) printf("  tokio fired early: %zu\n", tk.early);
    if (have_tk < 0) printf("  peer tokio: FAILED (no result line that parses)\n");
    printf("  timefuture fired early: %zu with 0 workers, %zu with %u (target: none)\n", t0.early,
           t1.early, (unsigned)threads);
    table_row(n, spread, &t0, &t1, &uv, &tk, &hp);
    return t0.early || t1.early ? 1 : 0;
}
