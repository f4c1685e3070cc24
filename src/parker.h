/* SPDX-License-Identifier: MIT */
/* A parker: a refcounted futex word that is also a waker, so a thread can
 * sleep until woken (tf_block_on). */
#ifndef TF_PARKER_H
#define TF_PARKER_H

#include "task.h"

typedef struct tf_parker {
    struct tf_waker base; /* TF_MAGIC_WAKER, TF_WAKER_KIND_PARKER */
    _Atomic uint32_t refs;
    _Atomic uint32_t notified;
} tf_parker;

tf_parker *tf__parker_new(void);
const tf_waker *tf__parker_waker(tf_parker *p);
/* Sleeps until woken since the last park (a wake before it counts). */
void tf__parker_park(tf_parker *p);
void tf__parker_unpark(tf_parker *p);
void tf__parker_ref(tf_parker *p);
void tf__parker_unref(tf_parker *p);

#endif
