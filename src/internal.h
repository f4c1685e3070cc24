/* SPDX-License-Identifier: MIT */
/* Private declarations shared by the library's source files. */
#ifndef TF_INTERNAL_H
#define TF_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "timefuture.h"

/* Every handle begins with a 16-bit magic number, so a handle of the wrong
 * type (or one already freed: free() clears the magic) is refused with
 * TF_EHANDLE instead of being misused. 16 bits keeps timers at 40 bytes. */
enum {
    TF_MAGIC_TASK = 0x7a51,     /* a task, which is also its own waker */
    TF_MAGIC_WAKER = 0x3a6e,    /* a caller-made or built-in waker     */
    TF_MAGIC_TIMER = 0x71e4,
    TF_MAGIC_EXECUTOR = 0x4e8c,
    TF_MAGIC_DRIVER = 0x6d21,
    TF_MAGIC_INTERVAL = 0x1a7e,
    TF_MAGIC_TIMEOUT = 0x70e7,
    TF_MAGIC_DEAD = 0xdead,
};

#define TF_LIKELY(x) __builtin_expect(!!(x), 1)
#define TF_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Handle validation is best-effort: it catches NULL-free handles of the
 * wrong type and freed ones whose memory is still mapped. A misaligned
 * pointer is refused without being read (every handle is malloc- or
 * pool-aligned); the read itself is a memcpy, so no alignment or type
 * punning rule is broken. A stale or arbitrary pointer that happens to
 * point at readable memory is undefined behaviour beyond this check. */
static inline uint16_t tf__magic(const void *handle) {
    if ((uintptr_t)handle % _Alignof(void *) != 0) return 0;
    uint16_t m;
    memcpy(&m, handle, sizeof(m));
    return m;
}

/* The check every call makes of a handle argument: NULL is TF_EINVAL, a
 * handle of another type (or a freed one) TF_EHANDLE. */
static inline int tf__check_handle(const void *handle, uint16_t magic) {
    if (!handle) return TF_EINVAL;
    return tf__magic(handle) == magic ? TF_OK : TF_EHANDLE;
}

/* Allocation goes through one hook (tf_set_allocator) so that tests can
 * fail any chosen allocation. */
void *tf__alloc(size_t n);
void *tf__calloc(size_t n);
void tf__free(void *p);
/* Makes a (validated) allocator current, or malloc/free for NULL. */
void tf__alloc_install(const tf_allocator *a);

/* Counts of live objects, so that tf_set_allocator can refuse to switch
 * allocators while memory from the old one is still in use. */
extern atomic_long tf__live_objects;

/* Fault-injection hooks for tests (thread.c; not exported from the shared
 * library; tests that use them link the static library). */
typedef int (*tf__thread_create_hook)(void);
void tf__set_thread_create_hook(tf__thread_create_hook hook);
int tf__thread_create_allowed(void);
/* Names the calling thread (at most 15 characters), as ps -L, top -H
 * and debuggers show it: the library's own threads say what they are. */
void tf__thread_name(const char *name);

/* Scheduling hooks for tests: the library calls tf__hook(point, object)
 * at the named points of its thread protocols, so that a test can force
 * an interleaving (run a wake, or block a thread, exactly there) instead
 * of hoping for it. Unset in production; one predictable branch. */
enum {
    TF_HOOK_FD_REARM_CLEARED = 1, /* fd re-arm: flag and counter cleared,
                                     fd lock held (executor) */
    TF_HOOK_FD_SIGNAL_LOCK,       /* fd signal: flag seen clear, about to
                                     take the fd lock (executor) */
    TF_HOOK_SCHEDULE_PUSHED,      /* a task was pushed on a queue, its fd
                                     not yet signalled (executor) */
    TF_HOOK_QUEUE_WOKEN,          /* a parked consumer woke up, before it
                                     re-checks the queue (queue) */
    TF_HOOK_QUEUE_PUSH_LINK,      /* a push exchanged the queue's tail, its
                                     link not yet stored (queue) */
    TF_HOOK_QUEUE_LINK_WAIT,      /* a consumer reached a task whose
                                     successor's link is not yet stored, and
                                     waits for it (queue) */
    TF_HOOK_TASK_CARRIED,         /* a task that woke itself during its
                                     poll is about to be re-queued still
                                     RUNNING (executor) */
    TF_HOOK_TASK_RELEASE_DEFER,   /* a release found the task pool's lock
                                     held and the handle alive, and is about
                                     to leave its dead tasks to the next
                                     taker (executor; object: the
                                     executor) */
    /* Numbered apart from the executor's, which may grow. */
    TF_HOOK_DRIVER_IDLE = 32,     /* a driver thread fired what was due and
                                     is about to work out its wake-up, its
                                     lock held (driver) */
    TF_HOOK_TIMER_PUSHED,         /* a new timer was pushed on its driver's
                                     inbox, sleep_until not yet read (driver;
                                     object: the driver) */
    TF_HOOK_TIMER_RESERVE_FILL,   /* a driver's timer reserve is empty and
                                     about to be refilled, reserve_lock and
                                     pool_lock held (driver; object: the
                                     driver) */
    TF_HOOK_TIMER_RESERVE_SPIN,   /* a thread found a driver's reserve_lock
                                     held and spins for it (driver; object:
                                     the driver) */
    TF_HOOK_TIMER_POLL_STORE,     /* a poll of an armed timer without the
                                     driver's lock is about to store its
                                     waker in the empty slot (timer;
                                     object: the timer) */
    TF_HOOK_TIMER_POLL_STORED,    /* a poll stored its waker in an armed
                                     timer without the driver's lock, before
                                     it reads the state again (timer;
                                     object: the timer) */
};
typedef void (*tf__hook_fn)(int point, void *object);
extern _Atomic(tf__hook_fn) tf__hook_current;
void tf__set_hook(tf__hook_fn hook);
static inline void tf__hook(int point, void *object) {
    tf__hook_fn h = atomic_load_explicit(&tf__hook_current, memory_order_relaxed);
    if (TF_UNLIKELY(h != NULL)) h(point, object);
}

/* Initializes an adaptive mutex (spins briefly before sleeping): the
 * library's locks are held for a few instructions at a time. */
int tf__mutex_init(pthread_mutex_t *m);

static inline void tf__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* A spinlock for a few instructions (the spawn and timer reserves): one
 * exchange to take it uncontended. A waiter yields every 64 spins: the
 * holder may have been preempted (2 cores, many threads), and yielding
 * gives it the CPU instead of spinning out our time slice. hook_point,
 * when nonzero, is called (tf__hook) each time the lock is found held. */
static inline int tf__spin_trylock(atomic_int *lock) {
    return !atomic_exchange_explicit(lock, 1, memory_order_acquire);
}

static inline void tf__spin_lock(atomic_int *lock, int hook_point, void *hook_object) {
    unsigned spins = 0;
    while (!tf__spin_trylock(lock)) {
        if (hook_point) tf__hook(hook_point, hook_object);
        while (atomic_load_explicit(lock, memory_order_relaxed)) {
            if (++spins % 64 == 0) sched_yield();
            else tf__cpu_relax();
        }
    }
}

static inline void tf__spin_unlock(atomic_int *lock) {
    atomic_store_explicit(lock, 0, memory_order_release);
}

#endif /* TF_INTERNAL_H */
