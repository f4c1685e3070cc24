/* SPDX-License-Identifier: MIT */
/* Threads and locks: the hook that lets tests refuse thread creation,
 * thread names, and the library's mutex flavour. */
#include <sys/prctl.h>

#include "internal.h"

static _Atomic(tf__thread_create_hook) thread_hook;

void tf__set_thread_create_hook(tf__thread_create_hook hook) {
    atomic_store(&thread_hook, hook);
}

int tf__thread_create_allowed(void) {
    tf__thread_create_hook h = atomic_load(&thread_hook);
    return h ? h() : 1;
}

void tf__thread_name(const char *name) { (void)prctl(PR_SET_NAME, name, 0, 0, 0); }

int tf__mutex_init(pthread_mutex_t *m) {
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0) return -1;
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}
