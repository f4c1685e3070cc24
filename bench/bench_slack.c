/* SPDX-License-Identifier: MIT */
/* Per-timer slack: 100,000 timers spread uniformly over 10 s on a
 * thread-mode driver, first with no slack, then with 1 ms of slack each,
 * in one run. Prints the driver thread's wake-ups per second, the
 * process's CPU time, and the lateness of the timers (p50, p99, max), and
 * counts early fires (there must be none).
 *
 *   bench_slack [--quick]   (--quick: spread over 2 s, for smoke runs) */
#define TF_EXPERIMENTAL
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "driver.h" /* tf__driver_wakeups: a private counter */
#include "timefuture.h"

enum { N = 100000 };

typedef struct rec {
    uint64_t deadline, woken_at;
} rec;

static atomic_int fired;
static void *r_clone(void *p) { return p; }
static void r_wake(void *p) {
    ((rec *)p)->woken_at = tf_now_ns();
    atomic_fetch_add(&fired, 1);
}
static void r_drop(void *p) { (void)p; }
static const tf_waker_vtable r_vt = TF_WAKER_VTABLE_INIT(r_clone, r_wake, r_wake, r_drop);

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef struct result {
    double wakeups_per_s, cpu;
    uint64_t p50, p99, max, early;
} result;

static int run(uint64_t spread_ns, uint64_t slack_ns, result *out) {
    tf_driver *d = NULL;
    if (tf_driver_new(NULL, &d) != TF_OK) return -1;
    rec *r = calloc(N, sizeof *r);
    tf_timer **t = calloc(N, sizeof *t);
    uint64_t *late = calloc(N, sizeof *late);
    if (!r || !t || !late) goto fail;
    atomic_store(&fired, 0);
    uint64_t start = tf_now_ns() + 100 * 1000000ull; /* arm everything first */
    /* The same sequence every run, on purpose: both runs get the same
     * deadlines. */
    srand(1); /* NOLINT(cert-msc32-c,cert-msc51-cpp) */
    for (int i = 0; i < N; i++) {
        r[i].deadline = start + (uint64_t)((double)rand() / RAND_MAX * (double)spread_ns); /* NOLINT(cert-msc30-c,cert-msc50-cpp) */
        tf_waker *w = NULL;
        if (tf_timer_new_at_on(d, r[i].deadline, &t[i]) != TF_OK) goto fail;
        if (slack_ns && tf_timer_set_slack(t[i], slack_ns) != TF_OK) goto fail;
        if (tf_waker_new(&r_vt, &r[i], &w) != TF_OK) goto fail;
        int rc = tf_timer_poll(t[i], w);
        if (rc < 0) goto fail;
        /* Arming took past this deadline (a loaded machine): the poll
         * fired it, no wake is to come. Count it here, or the wait below
         * would never end. */
        if (rc == TF_READY) r_wake(&r[i]);
        tf_waker_drop(w);
    }
    uint64_t w0 = tf__driver_wakeups(d);
    double c0 = cpu_s();
    uint64_t t0 = tf_now_ns();
    while (atomic_load(&fired) < N) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    double secs = (double)(tf_now_ns() - t0) / 1e9;
    out->cpu = cpu_s() - c0;
    out->wakeups_per_s = (double)(tf__driver_wakeups(d) - w0) / secs;
    out->early = 0;
    for (int i = 0; i < N; i++) {
        if (r[i].woken_at < r[i].deadline) {
            out->early++;
            late[i] = 0;
        } else {
            late[i] = r[i].woken_at - r[i].deadline;
        }
        tf_timer_free(t[i]);
    }
    out->p50 = bench_percentile(late, N, 50);
    out->p99 = bench_percentile(late, N, 99);
    out->max = bench_percentile(late, N, 100);
    free(late);
    free(t);
    free(r);
    return tf_driver_free(d) == TF_OK ? 0 : -1;
fail: /* the bench gives up; its memory need not outlive it */
    free(late);
    free(t);
    free(r);
    return -1;
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    uint64_t spread = (quick ? 2 : 10) * 1000000000ull;
    result a, b;
    if (run(spread, 0, &a) || run(spread, 1000000, &b)) {
        fprintf(stderr, "bench_slack: a call failed\n");
        return 1;
    }
    printf("bench_slack: %d timers over %.0f s on a thread-mode driver\n", N, (double)spread / 1e9);
    printf("  %-10s %12s %8s %10s %10s %10s %6s\n", "slack", "wakeups/s", "cpu s", "late p50",
           "late p99", "late max", "early");
    const result *rs[2] = {&a, &b};
    const char *names[2] = {"none", "1 ms"};
    for (int i = 0; i < 2; i++)
        printf("  %-10s %12.0f %8.3f %8.1fus %8.1fus %8.1fus %6llu\n", names[i], rs[i]->wakeups_per_s,
               rs[i]->cpu, (double)rs[i]->p50 / 1e3, (double)rs[i]->p99 / 1e3, (double)rs[i]->max / 1e3,
               (unsigned long long)rs[i]->early);
    printf("  ratio 1 ms / none: wake-ups %.3f, cpu %.3f\n",
           b.wakeups_per_s / (a.wakeups_per_s > 0 ? a.wakeups_per_s : 1),
           b.cpu / (a.cpu > 0 ? a.cpu : 1e-9));
    char what[160], tf[192], flo[128], cnt[32];
    (void)snprintf(what, sizeof what, "%s timers over %.0f s on a thread-mode driver, 1 ms of slack "
             "each: driver wake-ups/s and CPU", bench_count(cnt, sizeof cnt, N), (double)spread / 1e9);
    (void)snprintf(tf, sizeof tf, "%.0f wake-ups/s, %.3f s CPU (x%.3f / x%.3f of no slack)%s",
             b.wakeups_per_s, b.cpu, b.wakeups_per_s / (a.wakeups_per_s > 0 ? a.wakeups_per_s : 1),
             b.cpu / (a.cpu > 0 ? a.cpu : 1e-9), a.early || b.early ? "; SOME EARLY" : "");
    (void)snprintf(flo, sizeof flo, "the same timers without slack: %.0f wake-ups/s, %.3f s CPU",
             a.wakeups_per_s, a.cpu);
    bench_row(what, tf, "", flo);
    return a.early || b.early ? 1 : 0;
}
