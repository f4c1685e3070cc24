/* SPDX-License-Identifier: MIT */
/* Timer churn per driver: tf_timer_new_on (an hour away), tf_timer_poll
 * with tf_waker_noop() (stores the waker: TF_PENDING), tf_timer_free, in a
 * loop, as timers per second.
 *
 *   one     1 thread on one driver
 *   shared  2 threads on ONE driver (they share its lock and timer memory)
 *   two     2 threads on TWO drivers, one each
 *   default the default driver through tf_timer_new, 1 and 2 threads
 *   machine the same kind of work without the library (a private mutex,
 *           clock_gettime, malloc and free of 40 bytes), 1 and 2 threads:
 *           how far two threads can scale on this machine at this load
 *
 * for thread-mode drivers on CLOCK_MONOTONIC and for host-mode ones (no
 * thread at all), in one run, each case once per round, rounds
 * interleaved; medians are printed with the ratios. Target: "two" at
 * >= 1.7x "one" (drivers do not contend), which needs two idle cores:
 * the "machine" ratio shows what the cores gave in this run, and
 * /proc/loadavg is printed at the start and end. CPU time per timer
 * (CLOCK_THREAD_CPUTIME_ID) tells contention apart from a busy machine:
 * a shared lock or cache line makes each timer cost more CPU, other
 * processes on the cores only stretch the wall time.
 *
 * usage: bench_driver [timers_per_thread] [rounds] */
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "bench_util.h"
#include "timefuture.h"

#define HOUR_NS (UINT64_C(3600) * 1000000000u)

enum { MAX_THREADS = 2, MAX_ROUNDS = 64 };

/* Stands for "no driver: the work without the library". */
static tf_driver *const MACHINE = (tf_driver *)(uintptr_t)1;

typedef struct {
    tf_driver *driver;    /* NULL: the default driver, via tf_timer_new */
    size_t n;
    pthread_barrier_t *start;
    uint64_t t0, t1;      /* CLOCK_MONOTONIC around the loop */
    uint64_t c0, c1;      /* the thread's CPU time around it */
    int rc;
} worker;

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The machine's share: per timer, what a driver does that is not
 * contention (a lock, a clock read, a small allocation), on data of this
 * thread alone. */
static uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *machine(void *arg) {
    worker *w = arg;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    uint64_t sum = 0;
    pthread_barrier_wait(w->start);
    w->c0 = cpu_ns();
    w->t0 = mono_ns();
    for (size_t i = 0; i < w->n; i++) {
        pthread_mutex_lock(&lock);
        sum += mono_ns();
        pthread_mutex_unlock(&lock);
        void *volatile p = malloc(40);
        if (!p) {
            w->rc = TF_ENOMEM;
            break;
        }
        free(p);
    }
    w->t1 = mono_ns();
    w->c1 = cpu_ns();
    if (sum == 0) w->rc = TF_ESTATE; /* keeps the clock reads */
    return NULL;
}

static void *churn(void *arg) {
    worker *w = arg;
    if (w->driver == MACHINE) return machine(arg);
    const tf_waker *noop = tf_waker_noop();
    pthread_barrier_wait(w->start);
    w->c0 = cpu_ns();
    w->t0 = mono_ns();
    for (size_t i = 0; i < w->n; i++) {
        tf_timer *t;
        int rc = w->driver ? tf_timer_new_on(w->driver, HOUR_NS, &t)
                           : tf_timer_new(HOUR_NS, &t);
        if (rc != TF_OK) {
            w->rc = rc;
            break;
        }
        rc = tf_timer_poll(t, noop);
        if (rc != TF_PENDING) w->rc = rc == TF_OK ? TF_ESTATE : rc;
        rc = tf_timer_free(t);
        if (rc != TF_OK) w->rc = rc;
        if (w->rc) break;
    }
    w->t1 = mono_ns();
    w->c1 = cpu_ns();
    return NULL;
}

/* Runs `threads` workers on drivers[i] each; returns timers per second
 * over the span from the first start to the last end, or 0 on failure,
 * and the CPU time the workers spent per timer. */
static double run_case(tf_driver **drivers, int threads, size_t n, double *cpu_per_op) {
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.driver = drivers[i], .n = n, .start = &start};
        if (pthread_create(&th[i], NULL, churn, &w[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1); /* NOLINT(concurrency-mt-unsafe): the bench gives up, workers and all */
        }
    }
    uint64_t t0 = UINT64_MAX, t1 = 0, cpu = 0;
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (w[i].rc) {
            fprintf(stderr, "worker failed: %s\n", tf_strerror(w[i].rc));
            failed = 1;
        }
        if (w[i].t0 < t0) t0 = w[i].t0;
        if (w[i].t1 > t1) t1 = w[i].t1;
        cpu += w[i].c1 - w[i].c0;
    }
    *cpu_per_op = (double)cpu / ((double)n * threads);
    pthread_barrier_destroy(&start);
    if (failed || t1 <= t0) return 0;
    return (double)n * threads * 1e9 / (double)(t1 - t0);
}

static void print_loadavg(const char *when) {
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        (void)fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("loadavg at %s: %s\n", when, buf);
}

static double median(double *v, int n) {
    /* Insertion sort: a handful of rounds. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { C_THR_ONE, C_THR_SHARED, C_THR_TWO, C_HOST_ONE, C_HOST_SHARED, C_HOST_TWO,
       C_DEF_ONE, C_DEF_TWO, C_MACH_ONE, C_MACH_TWO, CASES };

static const char *case_names[CASES] = {
    "thread-mode, 1 thread, 1 driver", "thread-mode, 2 threads, 1 shared driver",
    "thread-mode, 2 threads, 2 drivers", "host-mode,   1 thread, 1 driver",
    "host-mode,   2 threads, 1 shared driver", "host-mode,   2 threads, 2 drivers",
    "default driver (tf_timer_new), 1 thread", "default driver (tf_timer_new), 2 threads",
    "machine (no library), 1 thread", "machine (no library), 2 threads",
};

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    int rounds = 5;
    if (argc > 2) { /* anything but a number in range gets the usage line */
        char *end;
        long v = strtol(argv[2], &end, 10);
        rounds = end != argv[2] && !*end && v >= 1 && v <= MAX_ROUNDS ? (int)v : 0;
    }
    if (n == 0 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_driver [timers_per_thread > 0] [rounds 1-%d]\n",
                MAX_ROUNDS);
        return 2;
    }
    print_loadavg("start");
    tf_driver *thr[2], *host[2];
    for (int i = 0; i < 2; i++) {
        tf_driver_options o = TF_DRIVER_OPTIONS_INIT; /* thread, monotonic */
        int rc = tf_driver_new(&o, &thr[i]);
        o.mode = TF_DRIVER_MODE_HOST;
        if (rc == TF_OK) rc = tf_driver_new(&o, &host[i]);
        if (rc != TF_OK) {
            fprintf(stderr, "tf_driver_new: %s\n", tf_strerror(rc));
            return 1;
        }
    }
    tf_driver *sets[CASES][MAX_THREADS] = {
        [C_THR_ONE] = {thr[0]},           [C_THR_SHARED] = {thr[0], thr[0]},
        [C_THR_TWO] = {thr[0], thr[1]},   [C_HOST_ONE] = {host[0]},
        [C_HOST_SHARED] = {host[0], host[0]}, [C_HOST_TWO] = {host[0], host[1]},
        [C_DEF_ONE] = {NULL},             [C_DEF_TWO] = {NULL, NULL},
        [C_MACH_ONE] = {MACHINE},         [C_MACH_TWO] = {MACHINE, MACHINE},
    };
    static const int nthreads[CASES] = {1, 2, 2, 1, 2, 2, 1, 2, 1, 2};
    double rate[CASES][MAX_ROUNDS], cpu[CASES][MAX_ROUNDS], scratch;
    /* A warm-up pass: every driver's timer memory and thread exist before
     * the first measured round. */
    for (int c = 0; c < CASES; c++)
        if (run_case(sets[c], nthreads[c], n / 10 + 1, &scratch) == 0) return 1;
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < CASES; c++) {
            rate[c][r] = run_case(sets[c], nthreads[c], n, &cpu[c][r]);
            if (rate[c][r] == 0) return 1;
        }
    double med[CASES], lo[CASES], hi[CASES], cpu_med[CASES];
    for (int c = 0; c < CASES; c++) {
        cpu_med[c] = median(cpu[c], rounds);
        med[c] = median(rate[c], rounds);
        lo[c] = rate[c][0];
        hi[c] = rate[c][rounds - 1];
    }
    printf("timer new_on + poll(noop) + free, %zu per thread, %d rounds, medians"
           " (min-max), and CPU time per timer:\n", n, rounds);
    for (int c = 0; c < CASES; c++)
        printf("  %-42s %7.2f M/s  (%5.2f-%5.2f)  %6.1f ns cpu\n", case_names[c],
               med[c] / 1e6, lo[c] / 1e6, hi[c] / 1e6, cpu_med[c]);
    printf("ratios to 1 thread on 1 driver (target: 2 drivers >= 1.70x):\n");
    printf("  thread-mode: 2 drivers %.2fx, 1 shared driver %.2fx\n",
           med[C_THR_TWO] / med[C_THR_ONE], med[C_THR_SHARED] / med[C_THR_ONE]);
    printf("  host-mode:   2 drivers %.2fx, 1 shared driver %.2fx\n",
           med[C_HOST_TWO] / med[C_HOST_ONE], med[C_HOST_SHARED] / med[C_HOST_ONE]);
    printf("  default driver: 2 threads %.2fx; 1 thread on it vs on its own driver %.2fx\n",
           med[C_DEF_TWO] / med[C_DEF_ONE], med[C_DEF_ONE] / med[C_THR_ONE]);
    double mach = med[C_MACH_TWO] / med[C_MACH_ONE];
    printf("  machine (no library): 2 threads %.2fx: the most two threads got here;\n"
           "  2 drivers relative to it: thread-mode %.2f, host-mode %.2f (1.00: no contention)\n",
           mach, med[C_THR_TWO] / med[C_THR_ONE] / mach, med[C_HOST_TWO] / med[C_HOST_ONE] / mach);
    /* Contention (a lock or cache line the threads share) makes each
     * timer cost more CPU time; a busy machine only makes wall time
     * longer. */
    printf("CPU time per timer, 2 threads over 1 (1.00: no contention):\n"
           "  thread-mode: 2 drivers %.2f, 1 shared driver %.2f; host-mode: 2 drivers %.2f,"
           " 1 shared driver %.2f;\n  default driver %.2f; machine %.2f\n",
           cpu_med[C_THR_TWO] / cpu_med[C_THR_ONE], cpu_med[C_THR_SHARED] / cpu_med[C_THR_ONE],
           cpu_med[C_HOST_TWO] / cpu_med[C_HOST_ONE],
           cpu_med[C_HOST_SHARED] / cpu_med[C_HOST_ONE], cpu_med[C_DEF_TWO] / cpu_med[C_DEF_ONE],
           cpu_med[C_MACH_TWO] / cpu_med[C_MACH_ONE]);
    for (int i = 0; i < 2; i++) {
        if (tf_driver_free(thr[i]) != TF_OK || tf_driver_free(host[i]) != TF_OK) {
            fprintf(stderr, "tf_driver_free failed\n");
            return 1;
        }
    }
    print_loadavg("end");
    char what[192], tf[160], peer[128], flo[128], cnt[32];
    (void)snprintf(what, sizeof what, "timer new + poll + free, %s per thread: 2 threads with a driver "
             "each over 1 thread, median of %d rounds", bench_count(cnt, sizeof cnt, n), rounds);
    (void)snprintf(tf, sizeof tf, "thread-mode %.2fx, host-mode %.2fx (%.2f M/s on 1 thread)",
             med[C_THR_TWO] / med[C_THR_ONE], med[C_HOST_TWO] / med[C_HOST_ONE],
             med[C_THR_ONE] / 1e6);
    (void)snprintf(peer, sizeof peer, "2 threads on 1 shared driver %.2fx; default driver %.2fx",
             med[C_THR_SHARED] / med[C_THR_ONE], med[C_DEF_TWO] / med[C_DEF_ONE]);
    (void)snprintf(flo, sizeof flo, "no library (lock, clock, malloc): %.2fx", mach);
    bench_row(what, tf, peer, flo);
    return 0;
}
