/* SPDX-License-Identifier: MIT */
/* Does memory come back after a burst while a few objects live on?
 *
 * Timers: one long-lived timer is made, then a burst of timers (default
 * 1,000,000) is made and freed. Tasks: an executor holds one long-lived
 * external task, then a burst of C tasks is spawned and run to completion.
 * For each, the resident set (from /proc/self/statm) is printed before,
 * at the peak of and after the burst, and the ratio after/before (target
 * <= 2x: the survivor must not pin the burst's memory). The array that
 * holds the burst's timer handles counts in the peak only.
 *
 * usage: bench_memory [objects] */
#include <sys/mman.h>

#include "bench_util.h"
#include "timefuture.h"

static int ready_poll(void *state, const tf_waker *w) {
    (void)state;
    (void)w;
    return TF_READY;
}

/* The worst burst of each kind (highest after/before), for the table row. */
typedef struct worst {
    double before, peak, after, ratio;
} worst;
static worst worst_timers, worst_tasks;

static int report(const char *what, double before, double peak, double after, worst *w) {
    double ratio = after / before;
    if (ratio > w->ratio) *w = (worst){before, peak, after, ratio};
    printf("  %-6s rss: %7.1f MiB before, %7.1f MiB peak, %7.1f MiB after"
           " (%+.1f MiB); after/before %.2fx (target <= 2x)\n",
           what, before, peak, after, after - before, ratio);
    return ratio <= 2.0 ? 0 : 1;
}

static int bench_timers(size_t n) {
    tf_timer *keeper;
    const uint64_t hour = 3600ull * 1000000000ull;
    if (tf_timer_new(hour, &keeper) != TF_OK) return -1;
    /* The handles live in a mapping of their own: a malloc'd array this
     * big would be mapped too, and glibc, seeing it unmapped, raises its
     * threshold for giving heap memory back to twice its size, which
     * would keep the library's freed chunks resident in the next round. */
    size_t bytes = n * sizeof(tf_timer *);
    double before = bench_rss_mib();
    tf_timer **v = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v == MAP_FAILED) return -1;
    for (size_t i = 0; i < n; i++) {
        /* Distinct far deadlines: every timer sits in the wheel. */
        if (tf_timer_new(hour + i * 1000u, &v[i]) != TF_OK) {
            fprintf(stderr, "tf_timer_new failed at %zu\n", i);
            return -1;
        }
    }
    double peak = bench_rss_mib(); /* with the handles' 8 bytes each */
    for (size_t i = 0; i < n; i++) tf_timer_free(v[i]);
    munmap(v, bytes);
    double after = bench_rss_mib();
    int rc = report("timers", before, peak, after, &worst_timers);
    tf_timer_free(keeper);
    return rc;
}

static int bench_tasks(size_t n) {
    tf_executor *e;
    if (tf_executor_new(0, &e) != TF_OK) return -1;
    if (tf_executor_spawn_external(e, 1) != TF_OK) return -1;
    double before = bench_rss_mib();
    for (size_t i = 0; i < n; i++) {
        if (tf_executor_spawn(e, ready_poll, NULL, NULL) != TF_OK) {
            fprintf(stderr, "tf_executor_spawn failed at %zu\n", i);
            return -1;
        }
    }
    double peak = bench_rss_mib();
    /* Runs the C tasks; the external one stays, queued for its host. */
    if (tf_executor_run(e) != TF_OK) return -1;
    double after = bench_rss_mib();
    int rc = report("tasks", before, peak, after, &worst_tasks);
    tf_executor_free(e);
    return rc;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    printf("memory after a burst of %zu objects, one long-lived object kept:\n", n);
    /* Twice: the allocator serves the second burst from memory the
     * first one gave back (a heap rather than fresh mappings, with
     * glibc), where a survivor placed badly would pin what lies below. */
    int missed = 0;
    for (int round = 1; round <= 2; round++) {
        printf(" burst %d:\n", round);
        int t = bench_timers(n);
        int k = bench_tasks(n);
        if (t < 0 || k < 0) return 1;
        missed |= t | k;
    }
    printf("  %s\n", missed ? "target missed" : "target met");
    char what[192], tf[128], flo[160], cnt[32];
    bench_count(cnt, sizeof cnt, n);
    (void)snprintf(what, sizeof what, "burst of %s timers, then of %s tasks, made and freed while one "
             "lives on: RSS after vs before (worse of 2 bursts)", cnt, cnt);
    (void)snprintf(tf, sizeof tf, "timers %+.1f MiB (%.2fx); tasks %+.1f MiB (%.2fx)",
             worst_timers.after - worst_timers.before, worst_timers.ratio,
             worst_tasks.after - worst_tasks.before, worst_tasks.ratio);
    (void)snprintf(flo, sizeof flo, "before %.1f / %.1f MiB; at the peak %.1f / %.1f MiB",
             worst_timers.before, worst_tasks.before, worst_timers.peak, worst_tasks.peak);
    bench_row(what, tf, "", flo);
    return 0;
}
