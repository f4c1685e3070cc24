/* SPDX-License-Identifier: MIT */
/* The one timer driver thread of the process, and the state it guards. */
#ifndef TF_TIMER_DRIVER_H
#define TF_TIMER_DRIVER_H

#include <pthread.h>
#include <stdint.h>

#include "pool.h"
#include "timer_internal.h"
#include "timer_wheel.h"

typedef struct tf_driver {
    pthread_mutex_t lock;
    pthread_cond_t wakeup;    /* the driver sleeps on it */
    pthread_cond_t fire_done; /* broadcast after each batch of wakes */
    tf_wheel wheel;
    /* Timer memory has its own lock, so freeing a fired timer does not
     * contend with the driver. Order: lock, then pool_lock. */
    pthread_mutex_t pool_lock;
    tf_pool timers;
    pthread_t thread;
    int running;              /* the thread exists */
    int stopping;
    int firing;               /* a batch's wakers are being woken */
    uint64_t sleep_until;     /* the driver's current wake-up time */
    /* Test syncs (tf__driver_sync): requests made, and the last one the
     * driver has completed. */
    uint64_t sync_req, sync_done;
} tf_driver;

extern tf_driver tf__driver;

/* Under tf__driver.lock: start the thread if it is not running. */
int tf__driver_ensure_locked(void);
/* Under the lock: file an armed timer, waking the driver if it now fires
 * first. Returns 1 if the deadline has passed already (not filed). */
int tf__driver_arm_locked(struct tf_timer *t);
/* Under the lock: wait until t is not part of a batch being fired (unless
 * on the driver thread). Returns 1 if the caller is the driver thread. */
int tf__driver_wait_not_firing_locked(struct tf_timer *t);
/* 1 for FIRING and the FIRING_* states. */
int tf__timer_state_firing(uint8_t st);

/* Stops the thread and releases cached timer memory if no timer is alive
 * (tf_set_allocator, library unload). */
void tf__driver_release_cache(void);
/* Timer memory (takes pool_lock; may be called under lock). */
struct tf_timer *tf__timer_alloc(void);
void tf__timer_release(struct tf_timer *t);
/* Test hook: makes the driver advance to the clock's current value (fire
 * everything due, including timers re-armed into the past by those wakes)
 * and waits until it has; starts the driver if needed. TF_EBUSY on the
 * driver thread. With tf__clock_set_hook, the only way timers fire apart
 * from the calls that fire them themselves. */
int tf__driver_sync(void);
/* Number of timers alive, for tf_set_allocator. */
size_t tf__driver_live_timers(void);

#endif
