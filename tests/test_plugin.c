/* SPDX-License-Identifier: MIT */
/* Plugin-style use: a host that dlopen()s libtimefuture, uses it through the
 * one tf_get_api symbol (timers fire, tasks run on worker threads and on the
 * caller), and dlclose()s it, 100 times in one process. After every unload
 * no thread of the library may be left (/proc/self/task is back to where it
 * started) and the library must really be unmapped (/proc/self/maps), or a
 * later call into a stale thread's code would crash the host.
 *
 * This program is not linked with the library. Usage: test_plugin LIBRARY */
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "timefuture.h"

#define ROUNDS 100
#define TASKS 4

static const char *lib_path;
static const tf_api_v1 *api; /* valid only while the library is loaded */

static atomic_int fired, early, failed;

static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A thread is gone from /proc/self/task a moment after pthread_join()
 * returns (the kernel wakes the joiner before it reaps the thread), so
 * wait for the count, with a bound that only a leak can reach. */
static int wait_threads(int want) {
    int n = count_threads();
    for (int i = 0; i < 5000 && n != want; i++) {
        sleep_us(1000);
        n = count_threads();
    }
    return n;
}

/* Whether any mapping of the process is the file with this device and
 * inode; names would not do, since the library is reached by a symlink. */
static int is_mapped(dev_t dev, ino_t ino) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned maj, min;
        unsigned long long inode;
        /* All three fields are required (== 3): a short line is skipped. */
        if (sscanf(line, "%*x-%*x %*s %*x %x:%x %llu", &maj, &min, &inode) == 3 && /* NOLINT(cert-err34-c) */
            inode == (unsigned long long)ino && makedev(maj, min) == dev && inode != 0) {
            found = 1;
        }
    }
    (void)fclose(f);
    return found;
}

/* A future that sleeps on one of the library's timers. */
typedef struct {
    uint64_t delay_ns;
    uint64_t deadline;
    tf_timer *timer;
} sleeper;

static int sleeper_poll(void *state, const tf_waker *waker) {
    sleeper *s = state;
    int rc;
    if (!s->timer) {
        rc = api->timer_new(s->delay_ns, &s->timer);
        if (rc == TF_OK) rc = api->timer_deadline(s->timer, &s->deadline);
        if (rc != TF_OK) {
            atomic_fetch_add(&failed, 1);
            return rc;
        }
    }
    rc = api->timer_poll(s->timer, waker);
    if (rc == TF_PENDING) return TF_PENDING;
    if (rc != TF_READY) {
        atomic_fetch_add(&failed, 1);
        return rc;
    }
    if (api->now_ns() < s->deadline) atomic_fetch_add(&early, 1);
    atomic_fetch_add(&fired, 1);
    return TF_READY;
}

static void sleeper_drop(void *state) {
    sleeper *s = state;
    api->timer_free(s->timer);
    free(s);
}

static void *note_tid(void *arg) {
    *(long *)arg = syscall(SYS_gettid);
    return NULL;
}

/* The thread count before the library is loaded. One thread is created and
 * joined first: some runtimes (ThreadSanitizer's) start a helper thread of
 * their own at the first pthread_create, which must not count as ours. The
 * joined thread itself is waited out of /proc by its tid. */
static int baseline_threads(void) {
    pthread_t th;
    long tid = 0;
    if (pthread_create(&th, NULL, note_tid, &tid) == 0) pthread_join(th, NULL);
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/self/task/%ld", tid);
    for (int i = 0; i < 5000 && tid > 0 && access(path, F_OK) == 0; i++) sleep_us(1000);
    return count_threads();
}

static void *load(void) {
    void *h = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!h) fail_msg("dlopen: %s", dlerror());
    void *sym = dlsym(h, TF_GET_API_SYMBOL);
    if (!sym) fail_msg("dlsym: %s", dlerror());
    const void *(*get_api)(uint32_t);
    memcpy(&get_api, &sym, sizeof get_api);
    api = get_api(TF_ABI_MAJOR);
    assert_non_null(api);
    assert_true(api->size >= offsetof(tf_api_v1, block_on) + sizeof api->block_on);
    return h;
}

static void unload(void *h) {
    api = NULL;
    if (dlclose(h) != 0) fail_msg("dlclose: %s", dlerror());
}

static void test_load_use_unload_100_times(void **state) {
    (void)state;
    struct stat st;
    assert_int_equal(stat(lib_path, &st), 0);
    const int base = baseline_threads();
    assert_true(base >= 1);
    assert_int_equal(is_mapped(st.st_dev, st.st_ino), 0); /* not linked */

    for (int round = 0; round < ROUNDS; round++) {
        void *h = load();
        assert_int_equal(is_mapped(st.st_dev, st.st_ino), 1);
        atomic_store(&fired, 0);

        tf_executor *exec = NULL;
        assert_int_equal(api->executor_new(2, &exec), TF_OK);
        for (int i = 0; i < TASKS; i++) {
            sleeper *s = calloc(1, sizeof *s);
            assert_non_null(s);
            s->delay_ns = (uint64_t)(100 + 150 * i + round % 7) * 1000; /* 0.1-0.6 ms */
            assert_int_equal(api->executor_spawn(exec, sleeper_poll, sleeper_drop, s), TF_OK);
        }
        assert_int_equal(api->executor_run(exec), TF_OK);
        assert_int_equal(atomic_load(&fired), TASKS);

        /* The caller-thread path: tf_block_on parks this thread until the
         * driver wakes it. */
        sleeper own = {.delay_ns = 200000};
        assert_int_equal(api->block_on(sleeper_poll, &own), TF_READY);
        api->timer_free(own.timer);
        assert_int_equal(atomic_load(&fired), TASKS + 1);

        /* Two workers and the timer driver are running now: the counter
         * does see the library's threads. */
        assert_true(count_threads() >= base + 3);
        assert_int_equal(api->executor_free(exec), TF_OK);

        unload(h);
        int now = wait_threads(base);
        if (now != base) fail_msg("round %d: %d threads after dlclose, %d before dlopen", round, now, base);
        if (is_mapped(st.st_dev, st.st_ino) != 0) fail_msg("round %d: still mapped after dlclose", round);
    }
    assert_int_equal(atomic_load(&early), 0);
    assert_int_equal(atomic_load(&failed), 0);
}

static void test_unload_while_the_driver_sleeps_long(void **state) {
    (void)state;
    struct stat st;
    assert_int_equal(stat(lib_path, &st), 0);
    const int base = baseline_threads();
    void *h = load();
    /* The driver sleeps until this deadline, a minute away; the unload must
     * wake and join it rather than wait for the deadline. */
    tf_timer *t = NULL;
    assert_int_equal(api->timer_new(60ull * 1000000000ull, &t), TF_OK);
    assert_int_equal(api->timer_poll(t, api->waker_noop()), TF_PENDING);
    sleep_us(20000); /* let the driver go to sleep on it */
    assert_true(count_threads() >= base + 1);
    assert_int_equal(api->timer_free(t), TF_OK);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    unload(h);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(wait_threads(base), base);
    assert_int_equal(is_mapped(st.st_dev, st.st_ino), 0);
    /* Far below the minute, far above any scheduling delay. */
    assert_true(b.tv_sec - a.tv_sec < 30);
}

/* The memory a test leaves to the library on purpose, from an allocator of
 * the test's own, so that the test can give it back once the library is
 * gone (and a leak checker sees nothing lost). */
enum { KEPT_MAX = 4096 };
static void *kept[KEPT_MAX];
static size_t kept_n;
static void *keep_alloc(void *ud, size_t n) {
    (void)ud;
    if (kept_n == KEPT_MAX) return NULL;
    void *p = malloc(n);
    if (p) kept[kept_n++] = p;
    return p;
}
static void keep_free(void *ud, void *p) {
    (void)ud;
    for (size_t i = 0; i < kept_n; i++) {
        if (kept[i] == p) {
            kept[i] = kept[--kept_n];
            free(p);
            return;
        }
    }
    fail_msg("the library freed memory it never took: %p", p);
}

/* Drivers of its own with threads (a monotonic one sleeping in a condition
 * wait, a boot-time one in poll()) and timers still armed on them: the
 * unload stops and joins those threads too. */
static void test_unload_with_drivers_alive(void **state) {
    (void)state;
    struct stat st;
    assert_int_equal(stat(lib_path, &st), 0);
    const int base = baseline_threads();
    void *h = load();
    assert_true(api->size >= offsetof(tf_api_v1, timer_driver) + sizeof api->timer_driver);
    const tf_allocator keep = TF_ALLOCATOR_INIT(keep_alloc, keep_free, NULL);
    assert_int_equal(api->set_allocator(&keep), TF_OK);
    tf_driver *d[2] = {NULL, NULL};
    tf_timer *t[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
        o.clock = i ? TF_CLOCK_BOOTTIME : TF_CLOCK_MONOTONIC;
        assert_int_equal(api->driver_new(&o, &d[i]), TF_OK);
        assert_int_equal(api->timer_new_on(d[i], 60ull * 1000000000ull, &t[i]), TF_OK);
        assert_int_equal(api->timer_poll(t[i], api->waker_noop()), TF_PENDING);
    }
    assert_true(wait_threads(base + 2) >= base + 2);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    unload(h); /* timers and drivers left alive on purpose */
    clock_gettime(CLOCK_MONOTONIC, &b);
    /* Their memory stayed with them; it is the test's to give back now. */
    assert_true(kept_n >= 2);
    while (kept_n) free(kept[--kept_n]);
    assert_int_equal(wait_threads(base), base);
    assert_int_equal(is_mapped(st.st_dev, st.st_ino), 0);
    assert_true(b.tv_sec - a.tv_sec < 30);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
        return 2;
    }
    lib_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_use_unload_100_times),
        cmocka_unit_test(test_unload_while_the_driver_sleeps_long),
        cmocka_unit_test(test_unload_with_drivers_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
