/* SPDX-License-Identifier: MIT */
/* The allocator hook and live-object accounting. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "timer_driver.h"

static void *default_alloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n);
}

static void default_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

/* Read on every allocation; written only by tf_set_allocator, which is
 * documented to run with no other call in flight. */
static tf_allocator current = {sizeof(tf_allocator), 0, default_alloc,
                               default_free, NULL};

atomic_long tf__live_objects;

void *tf__alloc(size_t n) { return current.alloc(current.user_data, n); }

void *tf__calloc(size_t n) {
    void *p = tf__alloc(n);
    if (p) memset(p, 0, n);
    return p;
}

void tf__free(void *p) {
    if (p) current.free(current.user_data, p);
}

int tf_set_allocator(const tf_allocator *a) {
    if (a) {
        if (a->size < sizeof(tf_allocator) || a->reserved != 0 || !a->alloc ||
            !a->free)
            return TF_EINVAL;
    }
    if (atomic_load(&tf__live_objects) != 0 || tf__driver_live_timers() != 0)
        return TF_EBUSY;
    /* The timer pool caches chunks from the old allocator: give them back. */
    tf__driver_release_cache();
    if (a) {
        current = *a;
        current.size = sizeof(tf_allocator);
    } else {
        current = (tf_allocator){sizeof(tf_allocator), 0, default_alloc,
                                 default_free, NULL};
    }
    return TF_OK;
}

static _Atomic(tf__thread_create_hook) thread_hook;

void tf__set_thread_create_hook(tf__thread_create_hook hook) {
    atomic_store(&thread_hook, hook);
}

int tf__thread_create_allowed(void) {
    tf__thread_create_hook h = atomic_load(&thread_hook);
    return h ? h() : 1;
}

int tf__mutex_init(pthread_mutex_t *m) {
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0) return -1;
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}
