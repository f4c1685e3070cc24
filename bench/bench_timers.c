/* SPDX-License-Identifier: MIT */
/* 1,000,000 timers, deadlines spread uniformly over 1 s, each awaited by
 * its own task, until all fired (the 1.0 target: <= 1.3 s wall in total,
 * <= 250 ms to arm them all, <= 100 MiB peak). Also reports how late the
 * timers fired and checks that none fired early.
 *
 * usage: bench_timers [timers] [spread_ms] [worker_threads] */
#include <inttypes.h>

#include "bench_util.h"
#include "timefuture.h"

static uint64_t *lateness; /* ns after the deadline, per completed task */
static size_t completed;
static size_t early;

static int sleeper_poll(void *s, const tf_waker *w) {
    tf_timer *t = s;
    int rc = tf_timer_poll(t, w);
    if (rc != TF_READY) return rc;
    uint64_t now = tf_now_ns(), deadline;
    tf_timer_deadline(t, &deadline);
    if (now < deadline) early++;
    lateness[completed++] = now - deadline;
    return TF_READY;
}

static void sleeper_drop(void *s) { tf_timer_free(s); }

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    uint64_t spread = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1000) * 1000000u;
    uint32_t threads = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0;
    if (threads) {
        fprintf(stderr, "bench_timers counts completions on one thread: use 0 workers\n");
        return 2;
    }
    lateness = malloc(n * sizeof(*lateness));
    double rss0 = bench_rss_mib();
    tf_executor *e;
    if (tf_executor_new(threads, &e) != TF_OK) return 1;

    uint64_t start = tf_now_ns();
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tf_timer *t;
        int rc = tf_timer_new_at(start + seed % spread, &t);
        if (rc == TF_OK) rc = tf_executor_spawn(e, sleeper_poll, sleeper_drop, t);
        if (rc != TF_OK) {
            fprintf(stderr, "arming failed: %s\n", tf_strerror(rc));
            return 1;
        }
    }
    uint64_t armed = tf_now_ns();
    double rss_armed = bench_rss_mib();
    int rc = tf_executor_run(e);
    uint64_t end = tf_now_ns();
    if (rc != TF_OK || completed != n) {
        fprintf(stderr, "run: %s, %zu of %zu completed\n", tf_strerror(rc), completed, n);
        return 1;
    }
    tf_executor_free(e);

    double mean_late = bench_mean(lateness, n);
    uint64_t p50 = bench_percentile(lateness, n, 50);
    uint64_t p99 = bench_percentile(lateness, n, 99);
    uint64_t max = lateness[n - 1];
    printf("timers: %zu, deadlines spread over %.0f ms\n", n, (double)spread / 1e6);
    printf("  arm (create + spawn): %8.1f ms   (target <= 250 ms)\n", (double)(armed - start) / 1e6);
    printf("  total wall:           %8.1f ms   (target <= 1300 ms)\n", (double)(end - start) / 1e6);
    printf("  overhead past spread: %8.1f ms\n", (double)(end - start) / 1e6 - (double)spread / 1e6);
    printf("  rss: %.1f MiB at start, %.1f MiB armed, %.1f MiB peak (target <= 100 MiB);"
           " %.0f bytes per task+timer\n",
           rss0, rss_armed, bench_peak_rss_mib(),
           (rss_armed - rss0) * 1048576.0 / (double)n);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  cpu: user %.3f s, system %.3f s (all threads)\n",
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    printf("  fired late by: mean %.1f us, p50 %.1f us, p99 %.1f us, max %.1f us; early: %zu\n",
           mean_late / 1e3, (double)p50 / 1e3, (double)p99 / 1e3, (double)max / 1e3, early);
    free(lateness);
    return early ? 1 : 0;
}
