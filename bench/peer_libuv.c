/* SPDX-License-Identifier: MIT */
/* The same workloads on libuv, for comparison in the same run on the same
 * machine (libuv's timers take milliseconds, so sub-millisecond sleeps
 * round up to 1 ms, as a libuv user would have to).
 * usage: peer_libuv timers [n [spread_ms]] | sleep [count] |
 *        wake [round_trips] | executor [tasks]
 * Built with PEER_LIBUV_NO_MAIN, it lends peer_libuv_wake and
 * peer_libuv_executor to bench_wake and bench_executor, which print them
 * beside their own figures. */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "bench_util.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#ifndef PEER_LIBUV_NO_MAIN
static size_t fired;
static void on_timer(uv_timer_t *t) {
    (void)t;
    fired++;
}

/* The timers of bench_timers: one array, so that a timer's index gives
 * its deadline (the loop's millisecond time at arming plus its timeout,
 * replayed from the same random sequence) and its slot in late[]. */
static uv_timer_t *peer_timers;
static uint64_t *late; /* per timer: when it fired, then how late (ns) */

/* cppcheck-suppress constParameter ; the callback type is libuv's uv_timer_cb */
static void on_peer_timer(uv_timer_t *h) {
    late[h - peer_timers] = uv_hrtime();
    fired++;
}

static uint64_t next_rand(uint64_t *seed) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    return *seed;
}

/* Same deadlines as bench_timers (spread in ms), one timer each. Prints
 * a "result" line for bench_timers to read. */
static int bench_timers(size_t n, uint64_t spread_ms) {
    uv_loop_t *loop = uv_default_loop();
    peer_timers = malloc(n * sizeof(*peer_timers));
    late = calloc(n, sizeof(*late)); /* zeroed: a timer that never fired counts as early */
    uint64_t *armed_at = malloc((n / 1024 + 1) * sizeof(*armed_at));
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    uv_update_time(loop);
    uint64_t base_ms = uv_now(loop);
    uint64_t start = now_ns();
    for (size_t i = 0; i < n; i++) {
        uv_timer_init(loop, &peer_timers[i]);
        uv_timer_start(&peer_timers[i], on_peer_timer, next_rand(&seed) % spread_ms, 0);
        if (i % 1024 == 1023) armed_at[i / 1024] = now_ns();
    }
    uint64_t armed = now_ns();
    armed_at[n / 1024] = armed;
    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t end = now_ns();
    /* uv_hrtime() and now_ns() are both CLOCK_MONOTONIC. */
    uint64_t *armed_late = malloc(n * sizeof(*armed_late));
    size_t na = 0, early = 0;
    seed = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t deadline = (base_ms + next_rand(&seed) % spread_ms) * 1000000u;
        uint64_t at = late[i];
        if (at < deadline) early++;
        late[i] = at > deadline ? at - deadline : 0;
        if (deadline > armed_at[i / 1024]) armed_late[na++] = late[i];
    }
    free(armed_at);
    printf("libuv %zu timers over %llu ms: arm %.1f ms, total %.1f ms, peak rss %.1f MiB"
           " (%zu fired)\n",
           n, (unsigned long long)spread_ms, (double)(armed - start) / 1e6,
           (double)(end - start) / 1e6, bench_peak_rss_mib(), fired);
    uint64_t p50 = bench_percentile(late, n, 50), p99 = bench_percentile(late, n, 99);
    uint64_t a50 = na ? bench_percentile(armed_late, na, 50) : 0;
    uint64_t a99 = na ? bench_percentile(armed_late, na, 99) : 0;
    free(armed_late);
    printf("result arm_ns %llu total_ns %llu p50 %llu p99 %llu max %llu armed %zu"
           " armed_p50 %llu armed_p99 %llu early %zu\n",
           (unsigned long long)(armed - start), (unsigned long long)(end - start),
           (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)late[n - 1], na, (unsigned long long)a50,
           (unsigned long long)a99, early);
    printf("result peak_mib %.1f\n", bench_peak_rss_mib());
    return fired == n ? 0 : 1;
}

static int bench_sleep(size_t count) {
    uv_loop_t *loop = uv_default_loop();
    uint64_t *samples = malloc(count * sizeof(*samples));
    uv_timer_t t;
    uv_timer_init(loop, &t);
    /* A 100 us sleep has to be asked as 1 ms, like a 1 ms one. */
    for (size_t i = 0; i < count; i++) {
        uint64_t t0 = now_ns();
        uv_update_time(loop);
        uv_timer_start(&t, on_timer, 1, 0);
        uv_run(loop, UV_RUN_ONCE);
        samples[i] = now_ns() - t0;
    }
    double mean = bench_mean(samples, count);
    uint64_t p50 = bench_percentile(samples, count, 50);
    uint64_t p99 = bench_percentile(samples, count, 99);
    printf("libuv %zu sleeps of 100 us or 1 ms (both asked as 1 ms): mean %.1f us, p50 %.1f us,"
           " p99 %.1f us\n",
           count, mean / 1e3, (double)p50 / 1e3, (double)p99 / 1e3);
    free(samples);
    return 0;
}

#endif

/* Two loops on two threads ping-pong uv_async_send. */
typedef struct side {
    uv_loop_t loop;
    int cpu; /* pinned to this CPU, or -1 */
    uv_async_t async;
    struct side *other;
    size_t count, target;
    uint64_t last;
    uint64_t *samples;
} side;

static void on_async(uv_async_t *a) {
    side *s = a->data;
    if (s->samples) {
        uint64_t now = now_ns();
        if (s->last) s->samples[s->count] = now - s->last;
        s->last = now;
    }
    s->count++;
    uv_async_send(&s->other->async);
    if (s->count >= s->target) uv_close((uv_handle_t *)&s->async, NULL);
}

static void *run_side(void *p) {
    side *s = p;
    bench_pin(s->cpu);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Median round trip in microseconds; cpu_a, cpu_b: CPUs or -1. */
double peer_libuv_wake(size_t n, int cpu_a, int cpu_b);
double peer_libuv_wake(size_t n, int cpu_a, int cpu_b) {
    side a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.cpu = cpu_a;
    b.cpu = cpu_b;
    a.other = &b;
    b.other = &a;
    a.target = n;
    b.target = n;
    a.samples = calloc(n + 1, sizeof(uint64_t));
    uv_loop_init(&a.loop);
    uv_loop_init(&b.loop);
    uv_async_init(&a.loop, &a.async, on_async);
    uv_async_init(&b.loop, &b.async, on_async);
    a.async.data = &a;
    b.async.data = &b;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_side, &a);
    pthread_create(&tb, NULL, run_side, &b);
    uv_async_send(&a.async);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    uint64_t p50 = bench_percentile(a.samples + 1, n - 1, 50);
    uv_loop_close(&a.loop);
    uv_loop_close(&b.loop);
    free(a.samples);
    return (double)p50 / 1e3;
}

/* The executor workload of bench_executor on libuv with a hand-made
 * queue: each task is one malloc, queued on an intrusive FIFO and polled
 * from the loop's uv_async_t callback; it is pending once (waking itself:
 * queued again, uv_async_send) and then ready (freed). Spawning included.
 * Returns millions of tasks per second. */
typedef struct uv_task {
    struct uv_task *next;
    int (*poll)(struct uv_task *);
    int polled;
} uv_task;

typedef struct uv_exec {
    uv_loop_t loop;
    uv_async_t async;
    uv_task *head, *tail;
    size_t live;
} uv_exec;

static uv_exec *uv_current;

static void uv_exec_push(uv_exec *x, uv_task *t) {
    t->next = NULL;
    if (x->tail) x->tail->next = t;
    else x->head = t;
    x->tail = t;
    uv_async_send(&x->async);
}

static int uv_pending_once(uv_task *t) {
    if (!t->polled) {
        t->polled = 1;
        uv_exec_push(uv_current, t); /* the self-wake */
        return 0;
    }
    return 1;
}

static void on_exec_async(uv_async_t *a) {
    uv_exec *x = a->data;
    /* Only what is queued now; self-wakes go to the next callback. */
    uv_task *t = x->head;
    x->head = x->tail = NULL;
    while (t) {
        uv_task *next = t->next;
        if (t->poll(t)) {
            free(t);
            x->live--;
        }
        t = next;
    }
    if (x->live == 0) uv_close((uv_handle_t *)&x->async, NULL);
}

double peer_libuv_executor(size_t n);
double peer_libuv_executor(size_t n) {
    uv_exec x;
    memset(&x, 0, sizeof(x));
    uv_loop_init(&x.loop);
    uv_async_init(&x.loop, &x.async, on_exec_async);
    x.async.data = &x;
    uv_current = &x;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        uv_task *t = malloc(sizeof(*t));
        if (!t) {
            uv_current = NULL; /* x is gone on return */
            return 0;
        }
        t->poll = uv_pending_once;
        t->polled = 0;
        x.live++;
        uv_exec_push(&x, t);
    }
    uv_run(&x.loop, UV_RUN_DEFAULT);
    uint64_t t1 = now_ns();
    uv_loop_close(&x.loop);
    uv_current = NULL; /* x is gone on return */
    return (double)n / ((double)(t1 - t0) / 1e9) / 1e6;
}

#ifndef PEER_LIBUV_NO_MAIN
static int bench_wake(size_t n) {
    printf("libuv %zu cross-thread wake round trips (uv_async_send): median %.2f us\n", n,
           peer_libuv_wake(n, -1, -1));
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    if (!strcmp(mode, "timers")) {
        uint64_t spread = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000;
        return bench_timers(n ? n : 1000000, spread ? spread : 1000);
    }
    if (!strcmp(mode, "sleep")) return bench_sleep(n ? n : 1000);
    if (!strcmp(mode, "wake")) return bench_wake(n ? n : 100000);
    if (!strcmp(mode, "executor")) {
        printf("libuv hand-made queue: %.2f M tasks/s\n", peer_libuv_executor(n ? n : 1000000));
        return 0;
    }
    fprintf(stderr, "usage: peer_libuv timers|sleep|wake|executor [n]\n");
    return 2;
}
#endif
