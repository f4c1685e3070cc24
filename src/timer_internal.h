/* SPDX-License-Identifier: MIT */
/* The timer object, shared by timer.c, the driver and the wheel. */
#ifndef TF_TIMER_INTERNAL_H
#define TF_TIMER_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "timefuture.h"

enum {
    TF_TIMER_ARMED = 1,     /* filed in the wheel */
    TF_TIMER_FIRING,        /* taken by the driver, waker being woken */
    TF_TIMER_FIRED,         /* deadline passed, waker (if any) woken */
    TF_TIMER_CANCELLED,
    /* Set only on the driver thread (by code a waker ran) while the timer
     * waits in the driver's current batch: what to do instead of waking. */
    TF_TIMER_FIRING_CANCEL,
    TF_TIMER_FIRING_RESET,
    TF_TIMER_FIRING_FREE,
};

/* 40 bytes: the memory target allows about 100 bytes per task and timer. */
struct tf_timer {
    uint16_t magic;
    _Atomic uint8_t state;
    uint8_t level;       /* wheel level while ARMED */
    uint16_t driver;     /* its driver's registry index (driver.h) */
    uint16_t reserved;
    uint64_t deadline;
    /* The stored clone, owned by the timer. Every write after creation is
     * an atomic read-modify-write: a poll stores the first clone without
     * the driver's lock (NULL to clone, tf_timer_poll), and whoever ends
     * an armed timer changes its state first and takes the waker after
     * (exchange to NULL), so that either it takes that clone or the poll
     * sees the new state and takes its clone back. */
    tf_waker *_Atomic waker;
    struct tf_timer *next, *prev;
};

#endif
