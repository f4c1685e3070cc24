/* SPDX-License-Identifier: MIT */
/* Waker helpers shared with the timer and the executor. */
#ifndef TF_WAKER_INTERNAL_H
#define TF_WAKER_INTERNAL_H

#include "timefuture.h"

/* Both valid wakers; 1 if they wake the same task. */
int tf__waker_same(const tf_waker *a, const tf_waker *b);
/* 1 if cloning or dropping the waker runs no caller code (so it may be done
 * under a library lock). */
int tf__waker_is_library(const tf_waker *w);
int tf__waker_valid(const tf_waker *w);

#endif
