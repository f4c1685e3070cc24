/* SPDX-License-Identifier: MIT */
/* Allocation: every byte the library takes goes through one hook, so that
 * a user allocator (tf_set_allocator, in allocator.c) or a test's failing
 * one sees it. The bottom layer: it imports nothing above the basics. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *default_alloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n);
}

static void default_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

/* Read on every allocation; written only by tf__alloc_install, which
 * tf_set_allocator calls with no other call in flight. */
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

void tf__alloc_install(const tf_allocator *a) {
    if (a) {
        current = *a;
        current.size = sizeof(tf_allocator);
    } else {
        current = (tf_allocator){sizeof(tf_allocator), 0, default_alloc,
                                 default_free, NULL};
    }
}
