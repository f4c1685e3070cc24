/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static void *cw_clone(void *data) {
    counting_waker *c = data;
    atomic_fetch_add(&c->clones, 1);
    atomic_fetch_add(&c->refs, 1);
    return c;
}

static void note_wake(counting_waker *c) {
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&c->woken_at, &zero, tf_now_ns());
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void cw_wake(void *data) {
    counting_waker *c = data;
    atomic_fetch_add(&c->wakes, 1);
    atomic_fetch_sub(&c->refs, 1);
    note_wake(c);
}

static void cw_wake_by_ref(void *data) {
    counting_waker *c = data;
    atomic_fetch_add(&c->wake_by_refs, 1);
    note_wake(c);
}

static void cw_drop(void *data) {
    counting_waker *c = data;
    atomic_fetch_add(&c->drops, 1);
    atomic_fetch_sub(&c->refs, 1);
}

const tf_waker_vtable cw_vtable = TF_WAKER_VTABLE_INIT(cw_clone,
                                   cw_wake, cw_wake_by_ref, cw_drop);

void cw_init(counting_waker *c) {
    atomic_init(&c->clones, 0);
    atomic_init(&c->wakes, 0);
    atomic_init(&c->wake_by_refs, 0);
    atomic_init(&c->drops, 0);
    atomic_init(&c->refs, 0);
    atomic_init(&c->woken_at, 0);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
}

void cw_destroy(counting_waker *c) {
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

tf_waker *cw_make(counting_waker *c) {
    tf_waker *w = NULL;
    atomic_fetch_add(&c->refs, 1);
    if (tf_waker_new(&cw_vtable, c, &w) != TF_OK) {
        atomic_fetch_sub(&c->refs, 1);
        return NULL;
    }
    return w;
}

int cw_total_wakes(counting_waker *c) {
    return atomic_load(&c->wakes) + atomic_load(&c->wake_by_refs);
}

int cw_wait_wakes(counting_waker *c, int n, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (cw_total_wakes(c) < n) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0) break;
    }
    pthread_mutex_unlock(&c->lock);
    return cw_total_wakes(c);
}

int tu_threads_named(const char *name) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int n = 0;
    const struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char path[64], buf[32] = {0};
        (void)snprintf(path, sizeof path, "/proc/self/task/%.16s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            buf[strcspn(buf, "\n")] = 0;
            n += strcmp(buf, name) == 0;
        }
        (void)fclose(f);
    }
    closedir(dir);
    return n;
}

int tu_wait_threads_named(const char *name, int n, int timeout_ms) {
    int got = tu_threads_named(name);
    for (int i = 0; i < timeout_ms && got != n; i++) {
        sleep_ms(1);
        got = tu_threads_named(name);
    }
    return got;
}
