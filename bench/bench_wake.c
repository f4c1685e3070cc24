/* SPDX-License-Identifier: MIT */
/* Cross-thread wake latency: two executors, each run by its own worker
 * thread, ping-pong a wake 100,000 times (the 1.0 target: <= 20 us median per
 * round trip). Task A wakes task B's waker and waits; B wakes A's. A round
 * trip is the time between two consecutive polls of A.
 * usage: bench_wake [round_trips] */
#include <stdatomic.h>

#include "bench_util.h"
#include "timefuture.h"

typedef struct player {
    _Atomic(tf_waker *) mine;  /* this task's waker, once known */
    struct player *other;
    size_t rounds, target;
    uint64_t last;
    uint64_t *samples;
} player;

static int play(void *s, const tf_waker *w) {
    player *p = s;
    if (!atomic_load(&p->mine)) {
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
        return TF_READY;
    }
    tf_waker_wake_by_ref(peer);
    return TF_PENDING;
}

static void drop_player(void *s) {
    player *p = s;
    (void)p;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    uint64_t *samples = calloc(n + 2, sizeof(*samples));
    player a = {NULL, NULL, 0, n, 0, samples}, b = {NULL, NULL, 0, n, 0, NULL};
    a.other = &b;
    b.other = &a;
    tf_executor *ea, *eb;
    tf_executor_new(1, &ea);
    tf_executor_new(1, &eb);
    uint64_t t0 = tf_now_ns();
    tf_executor_spawn(ea, play, drop_player, &a);
    tf_executor_spawn(eb, play, drop_player, &b);
    tf_executor_run(ea);
    tf_executor_run(eb);
    uint64_t t1 = tf_now_ns();
    /* samples[1..n] hold round trips (samples[0] has none). */
    size_t m = n - 1;
    uint64_t *rt = samples + 1;
    double mean = bench_mean(rt, m);
    uint64_t p50 = bench_percentile(rt, m, 50);
    uint64_t p99 = bench_percentile(rt, m, 99);
    printf("%zu cross-thread wake round trips (two executors, one worker each):\n", n);
    printf("  median %.2f us, mean %.2f us, p99 %.2f us; total %.1f ms\n", (double)p50 / 1e3,
           mean / 1e3, (double)p99 / 1e3, (double)(t1 - t0) / 1e6);
    tf_waker_drop(atomic_load(&a.mine));
    tf_waker_drop(atomic_load(&b.mine));
    tf_executor_free(ea);
    tf_executor_free(eb);
    free(samples);
    return 0;
}
