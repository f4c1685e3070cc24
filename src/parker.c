/* SPDX-License-Identifier: MIT */
/* The futex parker; see parker.h. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "parker.h"

static long futex(_Atomic uint32_t *addr, int op, uint32_t val) {
    return syscall(SYS_futex, (uint32_t *)addr, op, val, NULL, NULL, 0);
}

tf_parker *tf__parker_new(void) {
    tf_parker *p = tf__alloc(sizeof(*p));
    if (!p) return NULL;
    p->base = (struct tf_waker){TF_MAGIC_WAKER, TF_WAKER_KIND_PARKER, 0};
    atomic_init(&p->refs, 1);
    atomic_init(&p->notified, 0);
    atomic_fetch_add(&tf__live_objects, 1);
    return p;
}

const tf_waker *tf__parker_waker(tf_parker *p) { return &p->base; }

void tf__parker_unpark(tf_parker *p) {
    if (atomic_exchange(&p->notified, 1) == 0)
        futex(&p->notified, FUTEX_WAKE_PRIVATE, 1);
}

void tf__parker_park(tf_parker *p) {
    /* Spurious futex returns are fine: only the flag counts. */
    while (atomic_exchange(&p->notified, 0) == 0)
        futex(&p->notified, FUTEX_WAIT_PRIVATE, 0);
}

void tf__parker_ref(tf_parker *p) { atomic_fetch_add(&p->refs, 1); }

void tf__parker_unref(tf_parker *p) {
    if (atomic_fetch_sub(&p->refs, 1) == 1) {
        p->base.magic = TF_MAGIC_DEAD;
        tf__free(p);
        atomic_fetch_sub(&tf__live_objects, 1);
    }
}
