/* SPDX-License-Identifier: MIT */
/* Wakers: library tasks (refcounted, clone is an increment), the no-op
 * waker, tf_block_on's parker (parker.c), and wakers the caller builds from a vtable. */
#include <limits.h>

#include "internal.h"
#include "parker.h"
#include "task.h"
#include "waker_internal.h"

typedef struct custom_waker {
    struct tf_waker base;
    const tf_waker_vtable *vtable;
    void *data;
} custom_waker;

/* Smallest vtable we accept: every function up to drop. */
#define VTABLE_MIN_SIZE (offsetof(tf_waker_vtable, drop) + sizeof(void (*)(void *)))

/* Aligned like every other handle: tf__magic() refuses a handle that is
 * not pointer-aligned, and this 4-byte struct alone would not be. */
static const _Alignas(void *) struct tf_waker noop_waker = {TF_MAGIC_WAKER, TF_WAKER_KIND_NOOP, 0};

const tf_waker *tf_waker_noop(void) { return &noop_waker; }

static int is_waker(const tf_waker *w) {
    uint16_t m = tf__magic(w);
    return m == TF_MAGIC_TASK ||
           (m == TF_MAGIC_WAKER && w->kind >= TF_WAKER_KIND_NOOP &&
            w->kind <= TF_WAKER_KIND_PARKER);
}

static int custom_wrap(const tf_waker_vtable *vt, void *data, tf_waker **out) {
    custom_waker *c = tf__alloc(sizeof(*c));
    if (!c) return TF_ENOMEM;
    c->base = (struct tf_waker){TF_MAGIC_WAKER, TF_WAKER_KIND_CUSTOM, 0};
    c->vtable = vt;
    c->data = data;
    atomic_fetch_add(&tf__live_objects, 1);
    *out = &c->base;
    return TF_OK;
}

static void custom_release(custom_waker *c) {
    c->base.magic = TF_MAGIC_DEAD;
    tf__free(c);
    atomic_fetch_sub(&tf__live_objects, 1);
}

int tf_waker_new(const tf_waker_vtable *vt, void *data, tf_waker **out) {
    if (!vt || !out) return TF_EINVAL;
    if (vt->size < VTABLE_MIN_SIZE || vt->reserved != 0 || !vt->clone ||
        !vt->wake || !vt->wake_by_ref || !vt->drop)
        return TF_EINVAL;
    return custom_wrap(vt, data, out);
}

/* --- dispatch ----------------------------------------------------------- */

int tf_waker_clone(const tf_waker *w, tf_waker **out) {
    if (!w || !out) return TF_EINVAL;
    if (!is_waker(w)) return TF_EHANDLE;
    tf_waker *self = (tf_waker *)w;
    if (w->magic == TF_MAGIC_TASK) {
        if (tf__task_forked((const tf_task *)w)) return TF_EFORK;
        tf__task_ref((tf_task *)self);
        *out = self;
        return TF_OK;
    }
    switch (w->kind) {
    case TF_WAKER_KIND_PARKER:
        tf__parker_ref((tf_parker *)self);
        *out = self;
        return TF_OK;
    case TF_WAKER_KIND_CUSTOM: {
        const custom_waker *c = (const custom_waker *)w;
        void *data = c->vtable->clone(c->data);
        if (!data) return TF_ENOMEM;
        int rc = custom_wrap(c->vtable, data, out);
        if (rc != TF_OK) c->vtable->drop(data);
        return rc;
    }
    default: /* noop */
        *out = self;
        return TF_OK;
    }
}

/* Releases one reference, waking first if asked: tf_waker_wake and
 * tf_waker_drop. A caller-made waker gets its own wake (not wake_by_ref
 * plus drop), as Rust's Waker::wake(self) does. */
static int release(tf_waker *w, int wake) {
    if (!is_waker(w)) return TF_EHANDLE;
    if (w->magic == TF_MAGIC_TASK) {
        tf_task *t = (tf_task *)w;
        /* Left alone (and leaked, like its executor) in a child of fork. */
        if (tf__task_forked(t)) return TF_EFORK;
        if (wake) tf__task_wake_by_ref(t);
        tf__task_unref(t);
        return TF_OK;
    }
    switch (w->kind) {
    case TF_WAKER_KIND_PARKER:
        if (wake) tf__parker_unpark((tf_parker *)w);
        tf__parker_unref((tf_parker *)w);
        break;
    case TF_WAKER_KIND_CUSTOM: {
        custom_waker *c = (custom_waker *)w;
        const tf_waker_vtable *vt = c->vtable;
        void *data = c->data;
        custom_release(c);
        (wake ? vt->wake : vt->drop)(data);
        break;
    }
    default:
        break;
    }
    return TF_OK;
}

int tf_waker_wake(tf_waker *w) {
    if (!w) return TF_EINVAL;
    return release(w, 1);
}

int tf_waker_wake_by_ref(const tf_waker *w) {
    if (!w) return TF_EINVAL;
    if (!is_waker(w)) return TF_EHANDLE;
    if (w->magic == TF_MAGIC_TASK) {
        /* A self-wake first: the commonest wake, and the one that needs
         * no look at the task's executor. */
        if (tf__task_wake_self((const tf_task *)w)) return TF_OK;
        if (tf__task_forked((const tf_task *)w)) return TF_EFORK;
        tf__task_wake_other((tf_task *)w);
        return TF_OK;
    }
    switch (w->kind) {
    case TF_WAKER_KIND_PARKER:
        tf__parker_unpark((tf_parker *)w);
        break;
    case TF_WAKER_KIND_CUSTOM: {
        const custom_waker *c = (const custom_waker *)w;
        c->vtable->wake_by_ref(c->data);
        break;
    }
    default:
        break;
    }
    return TF_OK;
}

int tf_waker_drop(tf_waker *w) {
    if (!w) return TF_OK;
    return release(w, 0);
}

int tf__waker_same(const tf_waker *a, const tf_waker *b) {
    if (a == b) return 1;
    /* b first: a may be a waker stored in a timer by a poll without the
     * lock, which that poll may be taking back; for a library b the
     * answer needs nothing of a. */
    if (b->magic == TF_MAGIC_WAKER && b->kind == TF_WAKER_KIND_CUSTOM &&
        a->magic == TF_MAGIC_WAKER && a->kind == TF_WAKER_KIND_CUSTOM) {
        const custom_waker *ca = (const custom_waker *)a;
        const custom_waker *cb = (const custom_waker *)b;
        return ca->vtable == cb->vtable && ca->data == cb->data;
    }
    return 0;
}

int tf__waker_is_library(const tf_waker *w) {
    return w->magic == TF_MAGIC_TASK || w->kind != TF_WAKER_KIND_CUSTOM;
}

int tf__waker_valid(const tf_waker *w) { return is_waker(w); }

int tf_waker_will_wake(const tf_waker *a, const tf_waker *b) {
    if (!a || !b) return TF_EINVAL;
    if (!is_waker(a) || !is_waker(b)) return TF_EHANDLE;
    return tf__waker_same(a, b);
}
