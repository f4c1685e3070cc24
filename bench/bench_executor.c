/* SPDX-License-Identifier: MIT */
/* Executor throughput: 1,000,000 tasks that each return PENDING once
 * (waking themselves) and then READY, on one thread (the 1.0 target: >= 8 M
 * tasks/s), spawning included. A second figure keeps spawning out of the
 * timing. With a worker count, the workers poll while this thread spawns
 * and then helps them. usage: bench_executor [tasks] [rounds] [workers] */
#include "bench_util.h"
#include "timefuture.h"

static unsigned char *seen;

static int pending_once(void *s, const tf_waker *w) {
    size_t i = (size_t)(uintptr_t)s;
    if (!seen[i]) {
        seen[i] = 1;
        tf_waker_wake_by_ref(w);
        return TF_PENDING;
    }
    return TF_READY;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
    uint32_t workers = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0;
    seen = malloc(n);
    printf("%zu tasks, each pending once (self-wake) then ready, %u worker thread(s)%s:\n", n,
           workers, workers ? " plus the spawning thread" : ", on the calling thread");
    for (int r = 0; r < rounds; r++) {
        memset(seen, 0, n);
        tf_executor *e;
        tf_executor_new(workers, &e);
        uint64_t t0 = tf_now_ns();
        for (size_t i = 0; i < n; i++)
            if (tf_executor_spawn(e, pending_once, NULL, (void *)(uintptr_t)i) != TF_OK) return 1;
        uint64_t t1 = tf_now_ns();
        tf_executor_run(e);
        uint64_t t2 = tf_now_ns();
        tf_executor_free(e);
        for (size_t i = 0; i < n; i++)
            if (!seen[i]) return 1;
        printf("  round %d: %.2f M tasks/s with spawning (%.1f ms), %.2f M tasks/s run only\n", r + 1,
               (double)n / ((double)(t2 - t0) / 1e9) / 1e6, (double)(t2 - t0) / 1e6,
               (double)n / ((double)(t2 - t1) / 1e9) / 1e6);
    }
    free(seen);
    return 0;
}
