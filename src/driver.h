/* SPDX-License-Identifier: MIT */
/* Timer drivers: the process's default one (a thread started on first use)
 * and those made with tf_driver_new (a thread of their own, or driven by
 * the host). Each has its own lock, wheel and timer memory. */
#ifndef TF_DRIVER_H
#define TF_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pool.h"
#include "timer_internal.h"
#include "timer_wheel.h"

struct tf_driver {
    uint16_t magic;       /* TF_MAGIC_DRIVER */
    uint16_t index;       /* in the registry; what timers record */
    uint8_t clock;        /* TF_CLOCK_* */
    uint8_t mode;         /* TF_DRIVER_MODE_* */
    uint8_t fd_wait;      /* thread mode: sleeps in poll() on tfd and efd
                             (clocks pthread_cond_timedwait cannot use) */
    pthread_mutex_t lock;
    pthread_cond_t wakeup;    /* the thread sleeps on it (cond mode) */
    pthread_cond_t fire_done; /* broadcast after each batch of wakes */
    tf_wheel wheel;
    /* Timer memory has its own lock, so freeing a fired timer does not
     * contend with the driver. New timers come from a reserve taken from
     * the pool TF_TIMER_RESERVE_BLOCK at a time, under a spinlock: one
     * atomic exchange per timer instead of a mutex's lock and unlock. The
     * reserve goes back to the pool when one of its chunks empties
     * (tf__timer_release), so that it never pins a burst's memory, and
     * before anything counts the live timers. Order: lock, then
     * reserve_lock, then pool_lock. */
    _Atomic int reserve_lock;
    uint32_t reserve_n;         /* under reserve_lock */
    struct tf_timer *reserve;   /* under reserve_lock, linked through next */
    pthread_mutex_t pool_lock;
    tf_pool timers;
    /* Timers released while pool_lock was held by another thread, linked
     * through next: the next thread to take pool_lock frees them into the
     * pool (pool_lock_take in driver.c), before anything there counts or
     * allocates. A task that frees its timer must not sleep on that lock
     * while the arming thread holds it, page-faulting a new chunk in: on
     * two CPUs that stalled the executor's worker hundreds of times while
     * a million timers were armed. */
    struct tf_timer *_Atomic release_pending;
    pthread_t thread;
    /* The thread exists. Read without the lock by arms (which must start
     * it when it does not), written under it. */
    _Atomic int running;
    int stopping;
    int firing;           /* a batch's wakers are being woken */
    int advancing;        /* host threads inside tf_driver_advance */
    /* When the driver next looks at its wheel: the thread's wake-up time,
     * or what the host's timerfd is armed to. An arm earlier than this
     * (less the slack) must move it. 0 while a batch fires. */
    _Atomic uint64_t sleep_until;
    /* Thread mode: when the thread last woke to fire timers (0: never),
     * for the coalescing window (tf__driver_target_locked). */
    uint64_t fired_at;
    /* Timers armed without the lock, newest first (linked through next):
     * creating a timer pushes it here with one compare-and-swap, and the
     * next locked operation on the driver (the thread's next look, any
     * timer call, an advance) files them all into the wheel, oldest first,
     * so that arming does not fight the firing driver for its lock. An arm
     * earlier than sleep_until takes the lock and files at once; the
     * thread checks the inbox again after publishing sleep_until, before
     * it sleeps, so one of the two always sees the other. */
    struct tf_timer *_Atomic inbox;
    uint64_t slack_ns;
    /* Armed timers (those in the wheel) per tolerance class, for
     * per-timer slack without knowing the wheel's order: [0] counts the
     * timers that take the driver's slack_ns, [1 + e] those whose own
     * slack is 2^e ns (tf_timer_set_slack). slack_mask has bit e set while
     * [1 + e] is not 0. The driver wakes at its next event plus the
     * smallest tolerance counted (tf__driver_target_locked). */
    uint64_t slack_mask;
    uint64_t slack_count[65];
    /* Wake-ups of the thread (thread mode), for bench_slack. */
    uint64_t wakeups;
    uint64_t advanced_to;       /* host mode: the time of the last advance */
    _Atomic uint64_t manual_now; /* TF_CLOCK_MANUAL */
    int tfd;              /* timerfd (host mode on a real clock; fd_wait) */
    int efd;              /* eventfd waking the thread (fd_wait) */
    /* Test syncs (tf__driver_sync): requests made, and the last one the
     * driver has completed. */
    uint64_t sync_req, sync_done;
    void *raw;            /* what tf__alloc returned (aligned copy) */
};

/* The driver a timer belongs to: live drivers sit in a registry of
 * TF_DRIVER_MAX entries, and a timer records the index (it has 16 bits to
 * spare, not a pointer's 64). Index 0 is the default driver. */
tf_driver *tf__driver_of(const struct tf_timer *t);
/* The driver's clock. */
uint64_t tf__driver_clock(const tf_driver *d);

/* Under d->lock: start the thread (thread mode) if it is not running. */
int tf__driver_ensure_locked(tf_driver *d);
/* Takes d->lock and files the inbox: what every timer call does before it
 * looks at a timer, so that a timer still in the inbox is never seen
 * there. */
void tf__driver_lock(tf_driver *d);
/* Under the lock: files the inbox into the wheel, oldest first. */
void tf__driver_drain_locked(tf_driver *d);
/* Arms a new timer (ARMED, deadline set): through the inbox, or under
 * the lock when the driver must be started or told (it then becomes
 * FIRED at once if its deadline has passed). TF_OK or TF_ETHREAD. */
int tf__driver_arm_new(tf_driver *d, struct tf_timer *t);
/* Under the lock: file an armed timer, moving the driver's wake-up if it
 * now fires first. Returns 1 if the deadline has passed already (not
 * filed). */
int tf__driver_arm_locked(tf_driver *d, struct tf_timer *t);
/* Under the lock: take an ARMED timer out of the wheel (and out of the
 * slack counts). */
void tf__driver_unfile_locked(tf_driver *d, struct tf_timer *t);
/* Under the lock: when the driver must next look at its wheel: the next
 * event plus the smallest tolerance among the armed timers, and for a
 * thread without slack of its own no sooner than the end of the
 * coalescing window after its last firing wake-up (TF_DRIVER_COALESCE_NS,
 * less when an armed timer's own slack is less); UINT64_MAX when none is
 * armed. */
uint64_t tf__driver_target_locked(tf_driver *d);
/* Under the lock: give t the slack class c (0: the driver's slack; 1 + e:
 * 2^e ns), moving the wake-up earlier if that needs it. */
void tf__driver_set_slack_locked(tf_driver *d, struct tf_timer *t, uint16_t c);
/* A thread-mode driver without slack does not wake again sooner than
 * this after a wake-up that fired timers: when timers fall due densely,
 * the ones due meanwhile fire together at the end, at most this late
 * (and, as ever, never early). A wake-up costs the thread about 15 us of
 * CPU on a virtual machine, where a million timers over a second made it
 * wake 58,000 times a second and take nearly a whole CPU; the kernel's own
 * default timer slack is this window. */
#define TF_DRIVER_COALESCE_NS 50000u
/* Test and bench accessor: wake-ups of d's thread so far. */
uint64_t tf__driver_wakeups(tf_driver *d);
/* Under the lock: wait until t is not part of a batch being fired (unless
 * the caller is the thread firing d's batch). Returns 1 if it is. */
int tf__driver_wait_not_firing_locked(tf_driver *d, struct tf_timer *t);
/* 1 for FIRING and the FIRING_* states. */
int tf__timer_state_firing(uint8_t st);

/* Stops the default driver's thread and releases its cached timer memory
 * if no timer is alive (tf_set_allocator). */
void tf__driver_release_cache(void);
/* Timer memory of d: alloc takes it from the reserve (reserve_lock, and
 * pool_lock to refill it); release gives it to the pool (pool_lock). Either
 * may be called under lock. */
#ifdef TF_NO_POOL
/* Every object its own allocation: a block would only hide allocation
 * failures (a refill that gets some objects succeeds) from fault tests. */
#define TF_TIMER_RESERVE_BLOCK 1u
#else
#define TF_TIMER_RESERVE_BLOCK 64u
#endif
struct tf_timer *tf__timer_alloc(tf_driver *d);
void tf__timer_release(tf_driver *d, struct tf_timer *t);
/* Gives d's reserve back to its pool, so that its live count is the
 * timers alive (tf_driver_free, tf_set_allocator). */
void tf__timer_reserve_release(tf_driver *d);
/* Test hook: makes the default driver advance to the clock's current value
 * (fire everything due, including timers re-armed into the past by those
 * wakes) and waits until it has; starts the driver if needed. TF_EBUSY on
 * the driver thread. With tf__clock_set_hook, the only way the default
 * driver's timers fire apart from the calls that fire them themselves. */
int tf__driver_sync(void);
/* Timers alive on the default driver, and whether any other driver exists
 * (tf_set_allocator). */
size_t tf__driver_live_timers(void);
int tf__driver_others_alive(void);

#endif
