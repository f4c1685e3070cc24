/* SPDX-License-Identifier: MIT */
/* Fault injection: the library allocates only through tf_set_allocator's
 * hook, and creates threads through a private hook. A realistic scenario
 * (executors with and without workers, C tasks that arm timers, external
 * tasks, caller-made wakers, block_on) is run once to count its
 * allocations, then once more for every k with the k-th allocation failing.
 * Each run must see TF_ENOMEM from exactly the call that hit the failure,
 * succeed when that call is retried, finish the scenario with exact
 * results, and give back every byte (allocations == frees). The same is
 * done for every thread creation (workers and the timer driver), and with
 * random failures on several threads at once, whose timers are spread
 * over several drivers.
 *
 * Built against the static library: it uses tf__set_thread_create_hook. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

/* --- the failing allocator --------------------------------------------- */

typedef struct fault_alloc {
    atomic_long attempts; /* every call of alloc */
    atomic_long allocs;   /* successful ones */
    atomic_long frees;
    atomic_long failed;   /* failures injected */
    atomic_long fail_at;  /* fail this attempt (1-based); 0: none */
    atomic_uint rate;     /* or fail 1 in rate attempts at random; 0: none */
    atomic_uint seed;
} fault_alloc;

static fault_alloc fa;
/* Failures injected on this thread: the library allocates on the calling
 * thread, so a TF_ENOMEM can be matched to the failure that caused it. */
static _Thread_local long tl_failed;

static unsigned next_random(void) {
    unsigned x = atomic_load(&fa.seed), y;
    do {
        y = x;
        y ^= y << 13;
        y ^= y >> 17;
        y ^= y << 5;
    } while (!atomic_compare_exchange_weak(&fa.seed, &x, y));
    return y;
}

static void *fa_alloc(void *ud, size_t n) {
    (void)ud;
    long k = atomic_fetch_add(&fa.attempts, 1) + 1;
    unsigned rate = atomic_load(&fa.rate);
    if (k == atomic_load(&fa.fail_at) || (rate && next_random() % rate == 0)) {
        atomic_fetch_add(&fa.failed, 1);
        tl_failed++;
        return NULL;
    }
    void *p = malloc(n);
    if (p) atomic_fetch_add(&fa.allocs, 1);
    return p;
}

static void fa_free(void *ud, void *p) {
    (void)ud;
    atomic_fetch_add(&fa.frees, 1);
    free(p);
}

static const tf_allocator fa_table = TF_ALLOCATOR_INIT(fa_alloc,
                                      fa_free, NULL);

static void fa_reset(long fail_at, unsigned rate) {
    atomic_store(&fa.attempts, 0);
    atomic_store(&fa.allocs, 0);
    atomic_store(&fa.frees, 0);
    atomic_store(&fa.failed, 0);
    atomic_store(&fa.fail_at, fail_at);
    atomic_store(&fa.rate, rate);
    atomic_store(&fa.seed, 0x9e3779b9u ^ (unsigned)fail_at);
}

/* --- checks usable on any thread ---------------------------------------- */

static atomic_long violations;
static atomic_long enomem_seen;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            atomic_fetch_add(&violations, 1);                                \
            (void)fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

/* Runs a call; if it reports TF_ENOMEM, that must come from a failure
 * injected during this very call on this thread; then the call is retried
 * (the state must be usable: with a one-shot failure the retry succeeds). */
#define TRY(var, expr)                                                       \
    do {                                                                     \
        for (int try_ = 0;; try_++) {                                        \
            long before_ = tl_failed;                                        \
            (var) = (expr);                                                  \
            if ((var) != TF_ENOMEM) break;                                   \
            CHECK(tl_failed > before_);                                      \
            atomic_fetch_add(&enomem_seen, 1);                               \
            if (try_ == 10000) {                                             \
                CHECK(!"call keeps failing: " #expr);                        \
                break;                                                       \
            }                                                                \
        }                                                                    \
    } while (0)

/* --- the scenario --------------------------------------------------------- */

/* A caller-made waker that relays to a task's waker (like a foreign
 * runtime's waker wrapping ours). */
typedef struct relay {
    tf_waker *inner; /* a reference to the task's waker */
    atomic_int refs; /* references the library holds through our vtable */
    atomic_int wakes;
} relay;

static void *relay_clone(void *d) {
    atomic_fetch_add(&((relay *)d)->refs, 1);
    return d;
}
static void relay_wake_by_ref(void *d) {
    relay *r = d;
    atomic_fetch_add(&r->wakes, 1);
    tf_waker_wake_by_ref(r->inner);
}
static void relay_wake(void *d) {
    relay_wake_by_ref(d);
    atomic_fetch_sub(&((relay *)d)->refs, 1);
}
static void relay_drop(void *d) { atomic_fetch_sub(&((relay *)d)->refs, 1); }

static const tf_waker_vtable relay_vt = TF_WAKER_VTABLE_INIT(relay_clone, relay_wake,
                                         relay_wake_by_ref, relay_drop);

/* A C task that arms a timer, waits for it (through its own waker, or
 * through a relay waker) and completes. */
typedef struct timer_task {
    tf_executor *spawn_into; /* if set, spawns a child task on first poll */
    tf_timer *timer;
    tf_waker *relay_waker;
    relay rl;
    int use_relay;
    uint64_t deadline;
    atomic_int polls, completed, dropped;
    atomic_int children_done;
} timer_task;

static atomic_long tasks_completed;

static int child_poll(void *s, const tf_waker *w) {
    (void)w;
    atomic_fetch_add((atomic_int *)s, 1);
    return TF_READY;
}

static int timer_task_poll(void *s, const tf_waker *w) {
    timer_task *tt = s;
    int rc;
    CHECK(atomic_load(&tt->completed) == 0); /* never polled after */
    atomic_fetch_add(&tt->polls, 1);
    if (tt->spawn_into) {
        TRY(rc, tf_executor_spawn(tt->spawn_into, child_poll, NULL,
                                  (void *)&tt->children_done));
        CHECK(rc == TF_OK);
        tt->spawn_into = NULL;
    }
    if (!tt->timer) {
        TRY(rc, tf_timer_new(100000 + (uint64_t)(tt->polls & 7) * 10000,
                             &tt->timer));
        CHECK(rc == TF_OK);
        if (rc != TF_OK) return rc;
        CHECK(tf_timer_deadline(tt->timer, &tt->deadline) == TF_OK);
        if (tt->use_relay) {
            CHECK(tf_waker_clone(w, &tt->rl.inner) == TF_OK);
            atomic_store(&tt->rl.refs, 1);
            TRY(rc, tf_waker_new(&relay_vt, &tt->rl, &tt->relay_waker));
            CHECK(rc == TF_OK);
        }
    }
    const tf_waker *pw = tt->use_relay ? tt->relay_waker : w;
    TRY(rc, tf_timer_poll(tt->timer, pw));
    if (rc == TF_PENDING) return TF_PENDING;
    CHECK(rc == TF_READY);
    CHECK(tf_now_ns() >= tt->deadline); /* never early */
    CHECK(tf_timer_free(tt->timer) == TF_OK);
    tt->timer = NULL;
    if (tt->use_relay) {
        CHECK(tf_waker_drop(tt->relay_waker) == TF_OK);
        CHECK(atomic_load(&tt->rl.refs) == 0); /* every clone released */
        CHECK(tf_waker_drop(tt->rl.inner) == TF_OK);
    }
    atomic_store(&tt->completed, 1);
    atomic_fetch_add(&tasks_completed, 1);
    return TF_READY;
}

static void timer_task_drop(void *s) {
    timer_task *tt = s;
    atomic_fetch_add(&tt->dropped, 1);
}

/* block_on future: arms a timer on the first poll and waits for it. */
typedef struct {
    tf_timer *t;
    uint64_t deadline;
} sleep_future;

static int sleep_poll(void *s, const tf_waker *w) {
    sleep_future *sf = s;
    int rc;
    if (!sf->t) {
        TRY(rc, tf_timer_new(200000, &sf->t));
        if (rc != TF_OK) return rc;
        CHECK(tf_timer_deadline(sf->t, &sf->deadline) == TF_OK);
    }
    TRY(rc, tf_timer_poll(sf->t, w));
    return rc;
}

static int trivial_poll(void *s, const tf_waker *w) {
    (void)w;
    atomic_fetch_add((atomic_long *)s, 1);
    return TF_READY;
}

/* A caller-made waker counting its references. */
static atomic_int plain_refs;
static void *plain_clone(void *d) {
    atomic_fetch_add(&plain_refs, 1);
    return d;
}
static void plain_wake(void *d) {
    (void)d;
    atomic_fetch_sub(&plain_refs, 1);
}
static void plain_wake_by_ref(void *d) { (void)d; }
static void plain_drop(void *d) {
    (void)d;
    atomic_fetch_sub(&plain_refs, 1);
}
static const tf_waker_vtable plain_vt = TF_WAKER_VTABLE_INIT(plain_clone, plain_wake,
                                         plain_wake_by_ref, plain_drop);

enum { C_TASKS = 70, POOL_TASKS = 150, EXTERNALS = 5, LOOSE_TIMERS = 40 };

/* The scenario. workers: threads of the second executor. Returns nothing:
 * results are checked with CHECK. */
static void scenario(uint32_t workers) {
    int rc;
    tf_executor *e = NULL, *pool = NULL;
    TRY(rc, tf_executor_new(0, &e));
    CHECK(rc == TF_OK);
    TRY(rc, tf_executor_new(workers, &pool));
    CHECK(rc == TF_OK);
    if (!e || !pool) return;

    /* Caller-made wakers, cloned. */
    atomic_store(&plain_refs, 1);
    tf_waker *pw = NULL, *pw2 = NULL;
    TRY(rc, tf_waker_new(&plain_vt, &plain_refs, &pw));
    CHECK(rc == TF_OK);
    TRY(rc, tf_waker_clone(pw, &pw2));
    CHECK(rc == TF_OK);

    /* Loose timers polled with the caller-made waker (each poll clones). */
    tf_timer *loose[LOOSE_TIMERS] = {0};
    for (int i = 0; i < LOOSE_TIMERS; i++) {
        TRY(rc, tf_timer_new(i % 3 == 0 ? 0 : UINT64_C(1000000000) * 3600,
                             &loose[i]));
        CHECK(rc == TF_OK);
        TRY(rc, tf_timer_poll(loose[i], i % 2 ? pw : pw2));
        CHECK(rc == (i % 3 == 0 ? TF_READY : TF_PENDING));
    }

    /* C tasks that arm timers; some spawn a child on the worker pool. */
    static timer_task tasks[C_TASKS];
    memset(tasks, 0, sizeof(tasks));
    atomic_store(&tasks_completed, 0);
    for (int i = 0; i < C_TASKS; i++) {
        tasks[i].use_relay = i % 2;
        tasks[i].spawn_into = i % 5 == 0 ? pool : NULL;
        uint64_t before = 0, after = 0;
        CHECK(tf_executor_count(e, &before, NULL) == TF_OK);
        for (;;) {
            long f0 = tl_failed;
            rc = tf_executor_spawn(e, timer_task_poll, timer_task_drop, &tasks[i]);
            if (rc != TF_ENOMEM) break;
            CHECK(tl_failed > f0);
            atomic_fetch_add(&enomem_seen, 1);
            /* Nothing was changed: the task was not spawned. */
            CHECK(tf_executor_count(e, &after, NULL) == TF_OK && after == before);
        }
        CHECK(rc == TF_OK);
    }

    /* External tasks: first poll, pending, woken, complete. */
    for (uint64_t i = 0; i < EXTERNALS; i++) {
        TRY(rc, tf_executor_spawn_external(e, 100 + i));
        CHECK(rc == TF_OK);
    }
    int fd = -1;
    CHECK(tf_executor_fd(e, &fd) == TF_OK && fd >= 0);
    tf_waker *ext_kept[EXTERNALS] = {0};
    for (int i = 0; i < EXTERNALS; i++) {
        uint64_t tag = 0;
        const tf_waker *w = NULL;
        CHECK(tf_executor_next(e, 0, &tag, &w) == TF_OK);
        CHECK(tag == 100 + (uint64_t)i);
        if (!w) return;
        CHECK(tf_waker_clone(w, &ext_kept[i]) == TF_OK);
        CHECK(tf_executor_report(e, w, TF_PENDING) == TF_OK);
    }

    CHECK(tf_executor_run(e) == TF_OK);
    CHECK(atomic_load(&tasks_completed) == C_TASKS);
    for (int i = 0; i < C_TASKS; i++) {
        CHECK(atomic_load(&tasks[i].completed) == 1);
        CHECK(atomic_load(&tasks[i].dropped) == 1);
    }

    for (int i = 0; i < EXTERNALS; i++) {
        CHECK(tf_waker_wake(ext_kept[i]) == TF_OK);
        uint64_t tag = 0;
        const tf_waker *w = NULL;
        CHECK(tf_executor_next(e, TF_TIMEOUT_INFINITE, &tag, &w) == TF_OK);
        CHECK(tag == 100 + (uint64_t)i);
        CHECK(tf_executor_report(e, w, TF_READY) == TF_OK);
    }
    uint64_t tag;
    const tf_waker *w;
    CHECK(tf_executor_next(e, TF_TIMEOUT_INFINITE, &tag, &w) == TF_EEMPTY);

    /* block_on over a timer. */
    sleep_future sf = {0};
    rc = tf_block_on(sleep_poll, &sf);
    if (rc == TF_ENOMEM) { /* the parker: nothing ran yet */
        atomic_fetch_add(&enomem_seen, 1);
        CHECK(sf.t == NULL);
        rc = tf_block_on(sleep_poll, &sf);
    }
    CHECK(rc == TF_READY);
    CHECK(tf_now_ns() >= sf.deadline);
    CHECK(tf_timer_free(sf.t) == TF_OK);

    /* A burst of spawns on the worker pool. */
    atomic_long pool_done;
    atomic_init(&pool_done, 0);
    for (int i = 0; i < POOL_TASKS; i++) {
        TRY(rc, tf_executor_spawn(pool, trivial_poll, NULL, &pool_done));
        CHECK(rc == TF_OK);
    }
    CHECK(tf_executor_run(pool) == TF_OK);
    CHECK(atomic_load(&pool_done) == POOL_TASKS);
    int children = 0;
    for (int i = 0; i < C_TASKS; i++) children += atomic_load(&tasks[i].children_done);
    CHECK(children == (C_TASKS + 4) / 5); /* every 5th task spawned one */

    for (int i = 0; i < LOOSE_TIMERS; i++) CHECK(tf_timer_free(loose[i]) == TF_OK);
    CHECK(tf_waker_drop(pw) == TF_OK);
    CHECK(tf_waker_drop(pw2) == TF_OK);
    CHECK(atomic_load(&plain_refs) == 0);
    CHECK(tf_executor_free(e) == TF_OK);
    CHECK(tf_executor_free(pool) == TF_OK);
    /* Each task's future dropped exactly once. */
    for (int i = 0; i < C_TASKS; i++) CHECK(atomic_load(&tasks[i].dropped) == 1);
}

/* Runs the scenario under the failing allocator and checks the books.
 * Returns the number of allocation attempts made. */
static long run_with_failure(long fail_at, uint32_t workers) {
    fa_reset(fail_at, 0);
    atomic_store(&violations, 0);
    atomic_store(&enomem_seen, 0);
    tl_failed = 0;
    assert_int_equal(tf_set_allocator(&fa_table), TF_OK);
    scenario(workers);
    /* Restoring malloc releases the timer pool's cached chunk, so every
     * allocation must have been freed. */
    assert_int_equal(tf_set_allocator(NULL), TF_OK);
    long attempts = atomic_load(&fa.attempts);
    if (atomic_load(&violations) != 0 || atomic_load(&fa.allocs) != atomic_load(&fa.frees) ||
        atomic_load(&enomem_seen) != atomic_load(&fa.failed)) {
        (void)fprintf(stderr,
                "fail_at %ld: violations %ld, allocs %ld, frees %ld, injected "
                "%ld, TF_ENOMEM seen %ld\n",
                fail_at, atomic_load(&violations), atomic_load(&fa.allocs),
                atomic_load(&fa.frees), atomic_load(&fa.failed),
                atomic_load(&enomem_seen));
    }
    assert_int_equal(atomic_load(&violations), 0);
    assert_int_equal(atomic_load(&fa.allocs), atomic_load(&fa.frees));
    /* Every injected failure surfaced as exactly one TF_ENOMEM. */
    assert_int_equal(atomic_load(&enomem_seen), atomic_load(&fa.failed));
    if (fail_at > 0 && fail_at <= attempts) assert_int_equal(atomic_load(&fa.failed), 1);
    return attempts;
}

static void test_every_allocation_fails_once(void **state) {
    (void)state;
    /* Allocations all happen on this thread, but their number can vary a
     * little between runs (a timer that fired before its first poll needs
     * no waker clone; an executor pool that empties gives chunks back), so
     * k runs up to the largest count seen. */
    long total = run_with_failure(0, 2);
    assert_true(total > 10);
    long tried = 0;
    for (long k = 1; k <= total; k++) {
        long attempts = run_with_failure(k, 2);
        if (attempts > total) total = attempts;
        tried++;
    }
    print_message("fault points tried: %ld allocations, every one failed once\n",
                  tried);
}

/* Random failures while worker threads allocate too (tasks spawning
 * children and arming timers on the workers), with the timers spread
 * over the default driver and two drivers of their own, whose timer
 * memory is then first allocated on the workers too. */
enum { TREE_DRIVERS = 3 };
static tf_driver *tree_drivers[TREE_DRIVERS]; /* NULL: the default one */

typedef struct {
    tf_executor *pool;
    tf_driver *driver; /* of its timer; NULL: tf_timer_new */
    atomic_long *done;
    int depth;
    tf_timer *t;
    tf_waker *relay_waker; /* caller-made: each new and clone allocates */
    relay rl;
} tree_task;

static int tree_poll(void *s, const tf_waker *w) {
    tree_task *tt = s;
    int rc;
    if (tt->depth > 0) {
        for (int i = 0; i < 2; i++) {
            tree_task *child = malloc(sizeof(*child));
            CHECK(child != NULL);
            if (!child) return TF_READY;
            memset(child, 0, sizeof(*child));
            child->pool = tt->pool;
            child->done = tt->done;
            child->depth = tt->depth - 1;
            child->driver = tree_drivers[(tt->depth + i) % TREE_DRIVERS];
            TRY(rc, tf_executor_spawn(tt->pool, tree_poll, free, child));
            CHECK(rc == TF_OK);
        }
        tt->depth = 0;
    }
    if (!tt->t) {
        TRY(rc, tt->driver ? tf_timer_new_on(tt->driver, 50000, &tt->t)
                           : tf_timer_new(50000, &tt->t));
        CHECK(rc == TF_OK);
        if (rc) return rc;
        tf_driver *owner = NULL;
        CHECK(tf_timer_driver(tt->t, &owner) == TF_OK &&
              owner == (tt->driver ? tt->driver : tf_driver_default()));
        CHECK(tf_waker_clone(w, &tt->rl.inner) == TF_OK);
        atomic_store(&tt->rl.refs, 1);
        TRY(rc, tf_waker_new(&relay_vt, &tt->rl, &tt->relay_waker));
        CHECK(rc == TF_OK);
    }
    /* Cloned afresh on each poll (as a foreign runtime would), so every
     * poll allocates. */
    tf_waker *fresh = NULL;
    TRY(rc, tf_waker_clone(tt->relay_waker, &fresh));
    CHECK(rc == TF_OK);
    TRY(rc, tf_timer_poll(tt->t, fresh));
    CHECK(tf_waker_drop(fresh) == TF_OK);
    if (rc == TF_PENDING) return rc;
    CHECK(rc == TF_READY);
    CHECK(tf_timer_free(tt->t) == TF_OK);
    tt->t = NULL;
    CHECK(tf_waker_drop(tt->relay_waker) == TF_OK);
    CHECK(atomic_load(&tt->rl.refs) == 0);
    CHECK(tf_waker_drop(tt->rl.inner) == TF_OK);
    atomic_fetch_add(tt->done, 1);
    return TF_READY;
}

static void test_random_failures_on_many_threads(void **state) {
    (void)state;
    long injected = 0, runs = 0;
    for (unsigned rate = 3; rate <= 20; rate += 1) {
        fa_reset(0, rate);
        atomic_store(&violations, 0);
        atomic_store(&enomem_seen, 0);
        assert_int_equal(tf_set_allocator(&fa_table), TF_OK);
        tf_executor *pool = NULL;
        int rc;
        TRY(rc, tf_executor_new(2, &pool));
        assert_int_equal(rc, TF_OK);
        tree_drivers[0] = NULL;
        for (int i = 1; i < TREE_DRIVERS; i++) {
            TRY(rc, tf_driver_new(NULL, &tree_drivers[i]));
            assert_int_equal(rc, TF_OK);
        }
        atomic_long done;
        atomic_init(&done, 0);
        enum { ROOTS = 8, DEPTH = 5 }; /* 8 * (2^6 - 1) = 504 tasks */
        for (int i = 0; i < ROOTS; i++) {
            tree_task *root = malloc(sizeof(*root));
            assert_non_null(root);
            memset(root, 0, sizeof(*root));
            root->pool = pool;
            root->done = &done;
            root->depth = DEPTH;
            root->driver = tree_drivers[i % TREE_DRIVERS];
            TRY(rc, tf_executor_spawn(pool, tree_poll, free, root));
            assert_int_equal(rc, TF_OK);
        }
        assert_int_equal(tf_executor_run(pool), TF_OK);
        assert_int_equal(atomic_load(&done), ROOTS * ((1 << (DEPTH + 1)) - 1));
        assert_int_equal(tf_executor_free(pool), TF_OK);
        /* Every timer was freed: the drivers go (and give back their
         * memory, so that the allocator may change). */
        for (int i = 1; i < TREE_DRIVERS; i++)
            assert_int_equal(tf_driver_free(tree_drivers[i]), TF_OK);
        assert_int_equal(tf_set_allocator(NULL), TF_OK);
        assert_int_equal(atomic_load(&violations), 0);
        assert_int_equal(atomic_load(&fa.allocs), atomic_load(&fa.frees));
        assert_int_equal(atomic_load(&enomem_seen), atomic_load(&fa.failed));
        injected += atomic_load(&fa.failed);
        runs++;
    }
    assert_true(injected > 0);
    print_message("random fault runs: %ld, failures injected: %ld\n", runs,
                  injected);
}

/* --- shutdown without memory to spare ------------------------------------ */

/* tf_executor_free lists the tasks it completes in an array sized for all
 * of them; when that allocation fails it must still drop every one (in
 * several walks of a small list), with nothing to report. */
typedef struct {
    int polls, drops;
} idle_task;

static int idle_poll(void *s, const tf_waker *w) {
    (void)w;
    ((idle_task *)s)->polls++;
    return TF_PENDING; /* and nobody wakes it */
}

static void idle_drop(void *s) { ((idle_task *)s)->drops++; }

static void test_free_reaps_without_its_list(void **state) {
    (void)state;
    enum { N = 1000 };
    static idle_task t[N];
    memset(t, 0, sizeof(t));
    fa_reset(0, 0);
    assert_int_equal(tf_set_allocator(&fa_table), TF_OK);
    tf_executor *e;
    assert_int_equal(tf_executor_new(0, &e), TF_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(tf_executor_spawn(e, idle_poll, idle_drop, &t[i]), TF_OK);
    assert_int_equal(tf_executor_run_ready(e, NULL), TF_OK);
    /* The next allocation is the list's. */
    atomic_store(&fa.fail_at, atomic_load(&fa.attempts) + 1);
    assert_int_equal(tf_executor_free(e), TF_OK);
    assert_int_equal(atomic_load(&fa.failed), 1);
    assert_int_equal(tf_set_allocator(NULL), TF_OK);
    assert_int_equal(atomic_load(&fa.allocs), atomic_load(&fa.frees));
    for (int i = 0; i < N; i++) {
        assert_int_equal(t[i].polls, 1);
        assert_int_equal(t[i].drops, 1);
    }
}

/* --- thread creation failures -------------------------------------------- */

static atomic_int thread_attempts;
static atomic_int thread_fail_at;

static int thread_hook(void) {
    int k = atomic_fetch_add(&thread_attempts, 1) + 1;
    return k != atomic_load(&thread_fail_at);
}

static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    /* This DIR stream is used by this thread alone. */
    while ((de = readdir(d)) != NULL) /* NOLINT(concurrency-mt-unsafe) */
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Waits (a while) for the thread count to reach n: a joined thread can
 * still be listed for a moment while the kernel finishes its exit. A
 * thread left running stays listed, and the count stays wrong. */
static int threads_settle_at(int n) {
    int c = count_threads();
    for (int i = 0; i < 5000 && c != n; i++) {
        sleep_ms(1);
        c = count_threads();
    }
    return c;
}

static int count_poll(void *s, const tf_waker *w) {
    (void)w;
    atomic_fetch_add((atomic_int *)s, 1);
    return TF_READY;
}

static void test_thread_creation_fails(void **state) {
    (void)state;
    enum { WORKERS = 3 };
    long points = 0;
    /* Attempts 1..WORKERS are the executor's workers; WORKERS+1 is the
     * timer driver. */
    for (int k = 1; k <= WORKERS + 1; k++) {
        fa_reset(0, 0);
        /* Installing an allocator stops the driver thread (no timer is
         * alive), so the next timer has to start it again. */
        assert_int_equal(tf_set_allocator(&fa_table), TF_OK);
        /* Every thread of ours has been joined (the driver just now), but
         * one may still be leaving the list: wait until it is steady.
         * (Not a fixed number: sanitizers may run threads of their own.) */
        int base = count_threads(), prev = -1;
        for (int i = 0; i < 500 && base != prev; i++) {
            sleep_ms(10);
            prev = base;
            base = count_threads();
        }
        assert_true(base >= 1);
        atomic_store(&thread_attempts, 0);
        atomic_store(&thread_fail_at, k);
        tf__set_thread_create_hook(thread_hook);

        tf_executor *e = (tf_executor *)0x1;
        int rc = tf_executor_new(WORKERS, &e);
        if (k <= WORKERS) {
            assert_int_equal(rc, TF_ETHREAD);
            assert_ptr_equal(e, (tf_executor *)0x1);
            /* None is left running, nothing leaked. */
            assert_int_equal(threads_settle_at(base), base);
            assert_int_equal(atomic_load(&fa.allocs), atomic_load(&fa.frees));
            rc = tf_executor_new(WORKERS, &e); /* usable: the retry works */
            points++;
        }
        assert_int_equal(rc, TF_OK);
        assert_int_equal(count_threads(), base + WORKERS);

        tf_timer *t = (tf_timer *)0x1;
        rc = tf_timer_new(1000000, &t);
        if (k == WORKERS + 1) {
            assert_int_equal(rc, TF_ETHREAD);
            assert_ptr_equal(t, (tf_timer *)0x1);
            /* Fail the next attempt too: tf_timer_new_at starts it alike. */
            atomic_store(&thread_fail_at, atomic_load(&thread_attempts) + 1);
            assert_int_equal(tf_timer_new_at(0, &t), TF_ETHREAD);
            assert_ptr_equal(t, (tf_timer *)0x1);
            assert_int_equal(count_threads(), base + WORKERS);
            rc = tf_timer_new(1000000, &t);
            points++;
        }
        assert_int_equal(rc, TF_OK);
        assert_int_equal(count_threads(), base + WORKERS + 1); /* the driver */
        tf__set_thread_create_hook(NULL);

        /* Everything works: a task on the workers waits for the timer. */
        atomic_int polled;
        atomic_init(&polled, 0);
        assert_int_equal(tf_executor_spawn(e, count_poll, NULL, &polled), TF_OK);
        assert_int_equal(tf_executor_run(e), TF_OK);
        assert_int_equal(atomic_load(&polled), 1);
        sleep_future sf = {t, 0};
        assert_int_equal(tf_timer_deadline(t, &sf.deadline), TF_OK);
        assert_int_equal(tf_block_on(sleep_poll, &sf), TF_READY);
        assert_true(tf_now_ns() >= sf.deadline);
        assert_int_equal(tf_timer_free(t), TF_OK);
        assert_int_equal(tf_executor_free(e), TF_OK);
        assert_int_equal(tf_set_allocator(NULL), TF_OK);
        assert_int_equal(atomic_load(&fa.allocs), atomic_load(&fa.frees));
        assert_int_equal(threads_settle_at(base), base);
    }
    print_message("thread creation fault points tried: %ld\n", points);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_once),
        cmocka_unit_test(test_random_failures_on_many_threads),
        cmocka_unit_test(test_free_reaps_without_its_list),
        cmocka_unit_test(test_thread_creation_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
