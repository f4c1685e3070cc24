/* SPDX-License-Identifier: MIT */
/**
 * @file timefuture.h
 * @brief libtimefuture: poll futures, wakers, one timer driver and a task
 *        executor behind a stable C ABI.
 *
 * The model is Rust's: a future is polled with a waker; when it cannot make
 * progress it stores a clone of the waker and returns ::TF_PENDING; whoever
 * completes the awaited event calls wake, which puts the task back on its
 * executor's ready queue.
 *
 * ABI rules every declaration here follows:
 * - every handle is an opaque pointer; no struct is passed or returned by value;
 * - functions return an `int` status: 0 (or a documented non-negative value)
 *   on success, a negative `TF_E*` code on failure (see tf_strerror());
 * - outputs go through pointer parameters, which are written only on success;
 * - the only public structs are versioned tables that begin with their own
 *   size and only ever grow at the end;
 * - no varargs, no `bool`, no enum types: fixed-width integers only.
 *
 * Handles are validated on a best-effort basis: NULL, a misaligned pointer,
 * a handle of another type and a freed one whose memory the library still
 * holds are refused with ::TF_EINVAL or ::TF_EHANDLE. Passing a stale or
 * arbitrary pointer beyond what that check catches is undefined behaviour,
 * as for any C library.
 *
 * Functions marked "Since 1.1" are in the `TF_1.1` symbol version node and
 * at the end of the function table; check tf_version() or
 * @ref tf_api_v1::size before calling them through a dlopen()ed library.
 *
 * Ownership vocabulary used in the documentation below:
 * - *borrowed*: the callee uses the object only during the call;
 * - *consumed*: the callee takes over the caller's reference;
 * - *owned by the caller*: the caller must release it with the named function.
 */
#ifndef TIMEFUTURE_H
#define TIMEFUTURE_H

#include <stddef.h>
#include <stdint.h>

#include "timefuture_version.h"

/** @cond TF_INTERNAL */
#if defined(TF_STATIC_DEFINE)
#define TF_API
#elif defined(_WIN32)
#if defined(TF_BUILDING_LIBRARY)
#define TF_API __declspec(dllexport)
#else
#define TF_API __declspec(dllimport)
#endif
#else
#define TF_API __attribute__((visibility("default")))
#endif
/** @endcond */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup tf_status Status codes
 * @brief Return values shared by every function.
 * @{
 */
/** Success. */
#define TF_OK 0
/** A poll result: the future cannot complete yet; a waker was stored. */
#define TF_PENDING 0
/** A poll result: the future has completed. */
#define TF_READY 1
/** An argument is invalid (NULL pointer, unknown flag or value). */
#define TF_EINVAL (-1)
/** A handle is NULL-free but not a live object of the expected type. */
#define TF_EHANDLE (-2)
/** Memory could not be allocated; nothing was changed or leaked. */
#define TF_ENOMEM (-3)
/** A duration or deadline lies outside the representable range. */
#define TF_ERANGE (-4)
/** The executor has been shut down. */
#define TF_ESHUTDOWN (-5)
/** The timeout passed before anything became ready. */
#define TF_ETIMEDOUT (-6)
/** No task exists that could ever become ready on this queue. */
#define TF_EEMPTY (-7)
/** The timer was cancelled and will not fire until it is reset. */
#define TF_ECANCELED (-8)
/** The call is not valid in the object's current state. */
#define TF_ESTATE (-9)
/** The resource is in use (e.g. called from a thread that must not wait). */
#define TF_EBUSY (-10)
/** A thread could not be created. */
#define TF_ETHREAD (-11)
/** A system call failed (e.g. eventfd). */
#define TF_ESYS (-12)
/** The requested ABI version or table size is not supported. */
#define TF_EVERSION (-13)
/** The object was created before fork() and cannot be used in the child. */
#define TF_EFORK (-14)
/** @} */

/** A timeout value meaning "wait for ever". */
#define TF_TIMEOUT_INFINITE UINT64_MAX

/**
 * @defgroup tf_general Library
 * @brief Version, errors, clock and allocator.
 * @{
 */

/**
 * @brief The library's run-time version.
 * @return `(major << 16) | (minor << 8) | patch`, comparable with
 *         ::TF_VERSION_NUMBER.
 * @par Thread safety
 * Any thread, any time.
 */
TF_API uint32_t tf_version(void);

/**
 * @brief The library's run-time version as a string such as "1.0.0".
 * @return A static string; never NULL, never to be freed.
 * @par Thread safety
 * Any thread, any time.
 */
TF_API const char *tf_version_string(void);

/**
 * @brief Explain a status code.
 * @param status A value returned by any function of this library.
 * @return A static, human-readable English string; never NULL. Unknown codes
 *         give "unknown status".
 * @par Thread safety
 * Any thread, any time.
 */
TF_API const char *tf_strerror(int status);

/**
 * @brief The library's monotonic clock, in nanoseconds.
 *
 * The same clock as every timer deadline (CLOCK_MONOTONIC). Its epoch is
 * unspecified; only differences are meaningful.
 * @return Nanoseconds since an unspecified point in the past.
 * @par Thread safety
 * Any thread, any time.
 */
TF_API uint64_t tf_now_ns(void);

/**
 * @brief A memory allocator the library uses for all of its allocations.
 *
 * A versioned table: start from ::TF_ALLOCATOR_INIT, which sets
 * @ref tf_allocator::size to `sizeof(tf_allocator)`; fields may be
 * appended in later versions, never reordered.
 */
typedef struct tf_allocator {
    /** `sizeof(tf_allocator)` as the caller was compiled. */
    uint32_t size;
    /** Reserved, must be 0. */
    uint32_t reserved;
    /** Allocate @p n bytes aligned like malloc(); return NULL on failure. */
    void *(*alloc)(void *user_data, size_t n);
    /** Release memory returned by @ref alloc; @p ptr is never NULL. */
    void (*free)(void *user_data, void *ptr);
    /** Passed unchanged to @ref alloc and @ref free. */
    void *user_data;
} tf_allocator;

/** An initializer for ::tf_allocator with the caller's functions:
 *  `tf_allocator a = TF_ALLOCATOR_INIT(my_alloc, my_free, my_data);` */
#define TF_ALLOCATOR_INIT(alloc, free, user_data)                              \
    { sizeof(tf_allocator), 0, (alloc), (free), (user_data) }

/**
 * @brief Route every allocation of the library through @p allocator.
 *
 * Only allowed while the library owns no memory: no executor, timer or
 * custom waker is alive. Cached memory is returned to the previous allocator
 * first.
 * @param allocator The table to use (copied), or NULL to restore malloc/free.
 * @retval TF_OK The allocator is in effect.
 * @retval TF_EINVAL The table's size is too small, reserved is not 0, or a
 *         function pointer is NULL.
 * @retval TF_EBUSY Objects of the library are still alive.
 * @par Thread safety
 * Any thread, but no other call of the library may run concurrently.
 */
TF_API int tf_set_allocator(const tf_allocator *allocator);

/** @} */

/**
 * @defgroup tf_waker Wakers
 * @brief Refcounted, thread-safe handles that put a task back on its queue.
 *
 * A `tf_waker *` the caller holds is one reference. A `const tf_waker *` is
 * borrowed: it may be used (cloned, woken by reference, compared) only for
 * as long as the lender allows, typically the duration of a poll call.
 * tf_waker_clone() may return the same pointer value as its input (the
 * library's own wakers are refcounted objects); every reference must still
 * be released separately, by tf_waker_wake() or tf_waker_drop().
 * @{
 */

/** An opaque waker. */
typedef struct tf_waker tf_waker;

/**
 * @brief The behaviour of a waker made by the caller (Rust's RawWakerVTable).
 *
 * A versioned, append-only table: start from ::TF_WAKER_VTABLE_INIT, which
 * sets @ref tf_waker_vtable::size to `sizeof(tf_waker_vtable)`.
 * The table must stay valid for as long as any waker made from it lives
 * (a static table is usual). The functions may be called from any thread,
 * including the library's timer driver thread and worker threads, and must
 * not block for long: they should only enqueue work. They are never called
 * while the library holds one of its locks.
 */
typedef struct tf_waker_vtable {
    /** `sizeof(tf_waker_vtable)` as the caller was compiled. */
    uint32_t size;
    /** Reserved, must be 0. */
    uint32_t reserved;
    /** Return a new reference to the waker behind @p data (may be @p data
     *  itself after a refcount increment), or NULL if out of memory. */
    void *(*clone)(void *data);
    /** Wake and release the reference @p data. */
    void (*wake)(void *data);
    /** Wake without releasing @p data. */
    void (*wake_by_ref)(void *data);
    /** Release the reference @p data without waking. */
    void (*drop)(void *data);
} tf_waker_vtable;

/** An initializer for ::tf_waker_vtable:
 *  `static const tf_waker_vtable vt = TF_WAKER_VTABLE_INIT(c, w, wr, d);` */
#define TF_WAKER_VTABLE_INIT(clone, wake, wake_by_ref, drop)                   \
    { sizeof(tf_waker_vtable), 0, (clone), (wake), (wake_by_ref), (drop) }

/**
 * @brief Make a waker from the caller's data and function table.
 * @param vtable The functions (borrowed; must outlive every waker made).
 * @param data One reference to the caller's waker state. On success it is
 *        consumed: the library calls `vtable->drop` or `vtable->wake` on it
 *        exactly once. On failure the caller still owns it.
 * @param[out] out The new waker, owned by the caller.
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p vtable or @p out is NULL, the table is too small, its
 *         reserved field is not 0, or a function pointer is NULL.
 * @retval TF_ENOMEM Out of memory.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_waker_new(const tf_waker_vtable *vtable, void *data,
                        tf_waker **out);

/**
 * @brief A waker that does nothing, for polling a future outside any task.
 * @return A static waker; cloning, waking and dropping it are all allowed and
 *         have no effect.
 * @par Thread safety
 * Any thread.
 */
TF_API const tf_waker *tf_waker_noop(void);

/**
 * @brief Take a new reference to a waker.
 * @param waker The waker (borrowed).
 * @param[out] out The new reference, owned by the caller. It may be the same
 *        pointer as @p waker.
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p waker is not a waker.
 * @retval TF_ENOMEM Out of memory (only for wakers made by tf_waker_new()
 *         whose clone function returned NULL, or whose wrapper could not be
 *         allocated).
 * @retval TF_EFORK @p waker is a task of an executor created before
 *         fork(), used in the child: nothing is done (the task, like its
 *         executor, is left alone there).
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_waker_clone(const tf_waker *waker, tf_waker **out);

/**
 * @brief Wake the task behind the waker and release this reference.
 *
 * Like Rust's `Waker::wake(self)`. It never polls the task inline: it only
 * schedules it. Waking a task that has completed, or whose executor is gone,
 * does nothing.
 * @param waker The reference to consume.
 * @retval TF_OK Success (the reference is gone).
 * @retval TF_EINVAL @p waker is NULL.
 * @retval TF_EHANDLE @p waker is not a waker (nothing is consumed).
 * @retval TF_EFORK @p waker is a task of an executor created before
 *         fork(), used in the child: nothing is done (the task, like its
 *         executor, is left alone there).
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_waker_wake(tf_waker *waker);

/**
 * @brief Wake the task behind the waker, keeping the reference.
 * @param waker The waker (borrowed).
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p waker is NULL.
 * @retval TF_EHANDLE @p waker is not a waker.
 * @retval TF_EFORK @p waker is a task of an executor created before
 *         fork(), used in the child: nothing is done (the task, like its
 *         executor, is left alone there).
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_waker_wake_by_ref(const tf_waker *waker);

/**
 * @brief Release a reference without waking.
 * @param waker The reference to consume. NULL is accepted and ignored.
 * @retval TF_OK Success.
 * @retval TF_EHANDLE @p waker is not a waker (nothing is released).
 * @retval TF_EFORK @p waker is a task of an executor created before
 *         fork(), used in the child: nothing is done (the task, like its
 *         executor, is left alone there).
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_waker_drop(tf_waker *waker);

/**
 * @brief Tell whether two wakers wake the same task.
 *
 * Two references to one library task, or two caller-made wakers with the
 * same table and data pointer, will wake the same task.
 * @param a A waker (borrowed).
 * @param b A waker (borrowed).
 * @retval 1 They wake the same task.
 * @retval 0 They may wake different tasks.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE A pointer is not a waker.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_waker_will_wake(const tf_waker *a, const tf_waker *b);

/** @} */

/**
 * @defgroup tf_timer Timers
 * @brief Futures that complete at a deadline on the monotonic clock.
 *
 * Each timer belongs to a driver (@ref tf_driver): tf_timer_new() and
 * tf_timer_new_at() use the process's default driver, one thread started on
 * first use and stopped when the library is unloaded; tf_timer_new_on()
 * picks another. A timer is armed when it is created; it never fires before
 * its deadline (nanosecond precision, no rounding to milliseconds), and on
 * a driver without slack no later than the kernel lets its thread wake,
 * plus at most 50 us when timers fall due densely (see
 * @ref tf_driver_options::slack_ns). Timers
 * of one driver with equal deadlines fire in the order they were armed.
 * Deadlines and durations are on the timer's driver's clock.
 * @{
 */

/** An opaque timer future. */
typedef struct tf_timer tf_timer;

/**
 * @brief Create a timer that fires @p duration_ns from now.
 * @param duration_ns Nanoseconds from now; 0 fires at once.
 * @param[out] out The timer, owned by the caller (release with
 *        tf_timer_free()).
 * @retval TF_OK Success; the timer is armed.
 * @retval TF_EINVAL @p out is NULL.
 * @retval TF_ERANGE now + @p duration_ns does not fit in 64 bits.
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_ETHREAD The driver thread could not be started.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_new(uint64_t duration_ns, tf_timer **out);

/**
 * @brief Create a timer that fires at an absolute deadline of tf_now_ns().
 * @param deadline_ns The deadline; one in the past fires at once.
 * @param[out] out The timer, owned by the caller.
 * @retval TF_OK Success; the timer is armed.
 * @retval TF_EINVAL @p out is NULL.
 * @retval TF_ERANGE @p deadline_ns is UINT64_MAX (reserved).
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_ETHREAD The driver thread could not be started.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_new_at(uint64_t deadline_ns, tf_timer **out);

/**
 * @brief Poll the timer future.
 *
 * If the deadline has passed, returns ::TF_READY. Otherwise stores a clone
 * of @p waker (unless the stored waker will_wake the same task, in which
 * case the stored one is kept), so that the driver wakes it at the deadline,
 * and returns ::TF_PENDING. Polling again after ::TF_READY returns
 * ::TF_READY again.
 * @param timer The timer (borrowed).
 * @param waker The current task's waker (borrowed).
 * @retval TF_READY The deadline has passed.
 * @retval TF_PENDING Not yet; @p waker will be woken.
 * @retval TF_ECANCELED The timer was cancelled (no waker stored).
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE A handle is of the wrong type.
 * @retval TF_ENOMEM The waker could not be cloned; the previously stored
 *         waker, if any, stays registered.
 * @retval TF_ETHREAD The timer is armed but the driver thread could not be
 *         started again (only in the child of fork()); no waker stored.
 * @par Thread safety
 * Any thread; concurrent polls of one timer are serialized.
 */
TF_API int tf_timer_poll(tf_timer *timer, const tf_waker *waker);

/**
 * @brief Re-arm the timer to fire @p duration_ns from now.
 *
 * Works in any state: armed (moves the deadline), fired (polls return
 * ::TF_PENDING again) or cancelled. A stored waker is kept and will be woken
 * at the new deadline. When this returns, no wake from the earlier arming
 * can still arrive.
 * @param timer The timer (borrowed).
 * @param duration_ns Nanoseconds from now.
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p timer is NULL.
 * @retval TF_EHANDLE @p timer is not a timer.
 * @retval TF_ERANGE now + @p duration_ns does not fit in 64 bits.
 * @retval TF_ETHREAD The driver thread could not be restarted.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_reset(tf_timer *timer, uint64_t duration_ns);

/**
 * @brief Re-arm the timer to fire at an absolute deadline.
 * @param timer The timer (borrowed).
 * @param deadline_ns The new deadline on the tf_now_ns() clock.
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p timer is NULL.
 * @retval TF_EHANDLE @p timer is not a timer.
 * @retval TF_ERANGE @p deadline_ns is UINT64_MAX.
 * @retval TF_ETHREAD The driver thread could not be restarted.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_reset_at(tf_timer *timer, uint64_t deadline_ns);

/**
 * @brief Disarm the timer.
 *
 * A stored waker is woken (on the calling thread, before this returns), so
 * a task awaiting the timer polls it again and sees ::TF_ECANCELED instead
 * of waiting for ever. When this returns, no wake from this timer can
 * arrive until it is reset. Cancelling a fired or cancelled timer changes
 * nothing.
 * @param timer The timer (borrowed).
 * @retval TF_OK The timer was armed and is now cancelled.
 * @retval TF_ESTATE The timer had already fired or been cancelled.
 * @retval TF_EINVAL @p timer is NULL.
 * @retval TF_EHANDLE @p timer is not a timer.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_cancel(tf_timer *timer);

/**
 * @brief Read the timer's deadline.
 * @param timer The timer (borrowed).
 * @param[out] deadline_ns The deadline on the tf_now_ns() clock.
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p timer is not a timer.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_deadline(const tf_timer *timer, uint64_t *deadline_ns);

/**
 * @brief Tell whether the timer has fired, without polling it.
 *
 * Unlike tf_timer_poll() with tf_waker_noop(), which would replace the
 * stored waker (so the awaiting task would never be woken), this changes
 * nothing: no waker is stored, dropped or woken, and a timer whose deadline
 * has passed is left for the driver to fire. Since 1.1.
 * @param timer The timer (borrowed).
 * @retval TF_READY The timer has fired (its wake, if any, is done or under
 *         way).
 * @retval TF_PENDING The timer is armed and has not fired yet.
 * @retval TF_ECANCELED The timer was cancelled.
 * @retval TF_EINVAL @p timer is NULL.
 * @retval TF_EHANDLE @p timer is not a timer.
 * @par Thread safety
 * Any thread; the answer may change as soon as it is read.
 */
TF_API int tf_timer_peek(const tf_timer *timer);

/**
 * @brief Free a timer, cancelling it if armed.
 *
 * When this returns, no wake from the timer will ever arrive, even if the
 * driver was firing it at that moment (this call waits for that to finish,
 * except on the driver thread itself, where the pending wake is dropped).
 * @param timer The timer to free (consumed). NULL is accepted and ignored.
 * @retval TF_OK Success.
 * @retval TF_EHANDLE @p timer is not a timer (nothing is freed).
 * @par Thread safety
 * Any thread, but no other call may use @p timer concurrently or afterwards.
 */
TF_API int tf_timer_free(tf_timer *timer);

/** @} */

/**
 * @defgroup tf_driver Timer drivers
 * @brief Who keeps time for timers: a thread, or the host's own loop.
 *
 * Every timer belongs to one driver. tf_timer_new() and tf_timer_new_at()
 * use the process's default driver (tf_driver_default()): CLOCK_MONOTONIC,
 * a thread of its own started on first use. tf_driver_new() makes others,
 * each with its own lock, timing wheel and timer memory, so timers of
 * different drivers never contend:
 *
 * - ::TF_DRIVER_MODE_THREAD: the driver has a thread that sleeps until the
 *   next deadline and wakes the timers' wakers, like the default one.
 * - ::TF_DRIVER_MODE_HOST: no thread at all. The host (an event loop such
 *   as libuv, GLib, asyncio or Node.js) watches tf_driver_fd(), or asks
 *   tf_driver_next_deadline(), and calls tf_driver_advance(), which fires
 *   due timers and runs their wakes on the host's thread.
 *
 * A driver's clock is ::TF_CLOCK_MONOTONIC, ::TF_CLOCK_BOOTTIME (deadlines
 * that count time spent suspended) or ::TF_CLOCK_MANUAL (time moves only
 * when tf_driver_advance() says so: deterministic tests, like a paused
 * clock). A timer's deadlines are on its driver's clock
 * (tf_driver_now()); every tf_timer_* call works on timers of any driver,
 * since a timer knows its driver (tf_timer_driver()). Since 1.2.
 * @{
 */

/** An opaque timer driver. */
typedef struct tf_driver tf_driver;

/** CLOCK_MONOTONIC, the clock of tf_now_ns() and of the default driver. */
#define TF_CLOCK_MONOTONIC 0
/** CLOCK_BOOTTIME: like CLOCK_MONOTONIC but counting time suspended, so a
 *  deadline that passes during a suspend fires on resume. */
#define TF_CLOCK_BOOTTIME 1
/** A clock that moves only when tf_driver_advance() sets it, starting at
 *  @ref tf_driver_options::start_ns. Needs ::TF_DRIVER_MODE_HOST. */
#define TF_CLOCK_MANUAL 2

/** The driver has a thread of its own (the default driver's mode). */
#define TF_DRIVER_MODE_THREAD 0
/** No thread: the host calls tf_driver_advance(). */
#define TF_DRIVER_MODE_HOST 1

/** For tf_driver_advance(): advance to the driver's clock as it reads now. */
#define TF_DRIVER_NOW UINT64_MAX

/**
 * @brief How to make a driver (tf_driver_new()).
 *
 * A versioned table: start from ::TF_DRIVER_OPTIONS_INIT and change the
 * fields you need. Fields are only ever appended.
 */
typedef struct tf_driver_options {
    /** `sizeof(tf_driver_options)` as the caller was compiled. */
    uint32_t size;
    /** One of the TF_CLOCK_* values. */
    uint32_t clock;
    /** One of the TF_DRIVER_MODE_* values. */
    uint32_t mode;
    /** Reserved, must be 0. */
    uint32_t reserved;
    /** How late the driver may wake, in nanoseconds, so that timers due
     *  within this window fire together with fewer wake-ups (timers never
     *  fire before their deadline). In thread mode it is also the thread's
     *  kernel timer slack. 0: the driver wakes at each earliest deadline
     *  as exactly as the kernel allows, except that a thread does not
     *  wake again sooner than 50 us after a wake-up that fired timers
     *  (timers due meanwhile fire together at its end; never wider than
     *  the smallest tf_timer_set_slack() among the armed timers). A
     *  slack of 1 wakes at every deadline. */
    uint64_t slack_ns;
    /** ::TF_CLOCK_MANUAL only: the clock's initial time. */
    uint64_t start_ns;
} tf_driver_options;

/** Default options: CLOCK_MONOTONIC, a thread of its own, no slack. */
#define TF_DRIVER_OPTIONS_INIT                                                 \
    { sizeof(tf_driver_options), TF_CLOCK_MONOTONIC, TF_DRIVER_MODE_THREAD,   \
      0, 0, 0 }

/**
 * @brief The process's default driver, used by tf_timer_new() and
 *        tf_timer_new_at().
 * @return The driver; never NULL, never to be freed.
 * @par Thread safety
 * Any thread, any time.
 */
TF_API tf_driver *tf_driver_default(void);

/**
 * @brief Make a timer driver.
 *
 * A thread-mode driver starts its thread when its first timer is armed;
 * driver threads, the default driver's too, are named `tf-driver`.
 * @param options The options (copied), or NULL for ::TF_DRIVER_OPTIONS_INIT.
 * @param[out] out The driver, owned by the caller (tf_driver_free()).
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p out is NULL; the options' size is too small,
 *         reserved is not 0, the clock or mode is unknown, or
 *         ::TF_CLOCK_MANUAL is asked for with ::TF_DRIVER_MODE_THREAD.
 * @retval TF_ERANGE @p start_ns is UINT64_MAX.
 * @retval TF_ENOMEM Out of memory, or ::TF_DRIVER_MAX drivers exist.
 * @retval TF_ESYS The timerfd or eventfd could not be created.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_driver_new(const tf_driver_options *options, tf_driver **out);

/** How many drivers (the default one included) may exist at once. */
#define TF_DRIVER_MAX 1024

/**
 * @brief Free a driver.
 *
 * Refused while any timer of the driver is alive: free them first. Stops
 * the driver's thread and closes its fd.
 * @param driver The driver (consumed on success). NULL is accepted and
 *        ignored.
 * @retval TF_OK Success.
 * @retval TF_EBUSY Timers of the driver are alive, or the call comes from
 *         one of the driver's own wakes or during its tf_driver_advance()
 *         on another thread; nothing changed, the driver still works.
 * @retval TF_EINVAL @p driver is the default driver.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @par Thread safety
 * Any thread, but no other call may use @p driver concurrently or
 * afterwards.
 */
TF_API int tf_driver_free(tf_driver *driver);

/**
 * @brief Read the driver's clock.
 * @param driver The driver.
 * @param[out] now_ns Its time: for ::TF_CLOCK_MANUAL, the time of the last
 *        tf_driver_advance() (or the start time).
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_driver_now(const tf_driver *driver, uint64_t *now_ns);

/**
 * @brief When the driver next needs to advance.
 *
 * The driver's wake-up target: its next event plus the slack (the
 * driver's @ref tf_driver_options::slack_ns, or the smallest per-timer
 * slack among the armed timers, see tf_timer_set_slack()), which is also
 * what tf_driver_fd() is armed to. Advancing at this time fires every due
 * timer within its tolerance and none early. Without slack, no timer is
 * due before this time. It may come before the earliest
 * deadline (when the wheel must move timers between its levels first):
 * advancing to it then fires nothing and the next call gives a later
 * time, so "advance to the next deadline until something fires" loops
 * terminate.
 * @param driver The driver.
 * @param[out] deadline_ns The time, or UINT64_MAX when no timer is armed.
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_driver_next_deadline(tf_driver *driver, uint64_t *deadline_ns);

/**
 * @brief Fire every timer of a host-mode driver that is due at @p now_ns.
 *
 * Fired timers' wakers are woken on the calling thread, outside any lock:
 * a wake may create, reset, cancel or free timers of this driver, and a
 * timer re-armed into the past by a wake fires in this same call. For
 * ::TF_CLOCK_MANUAL, @p now_ns becomes the clock's time first (so the
 * wakes see it). Concurrent calls are serialized.
 * @param driver A ::TF_DRIVER_MODE_HOST driver.
 * @param now_ns The time to advance to, or ::TF_DRIVER_NOW for the
 *        driver's clock as it reads now.
 * @param[out] fired The number of timers fired (may be NULL).
 * @retval TF_OK Success.
 * @retval TF_ESTATE The driver is in thread mode.
 * @retval TF_ERANGE @p now_ns is before the time of the previous advance
 *         (time goes backwards), or, on a real clock, after the clock's
 *         current reading (timers would fire early); nothing fired.
 * @retval TF_EBUSY Called from one of this driver's own wakes.
 * @retval TF_EINVAL @p driver is NULL.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_driver_advance(tf_driver *driver, uint64_t now_ns,
                             uint64_t *fired);

/**
 * @brief A file descriptor that becomes readable when a host-mode driver
 *        needs tf_driver_advance().
 *
 * A timerfd on the driver's clock, armed to tf_driver_next_deadline() plus
 * the slack, and re-armed by every call that moves it; tf_driver_advance()
 * clears it. Watch it for reading with poll(), epoll, a libuv `uv_poll_t`,
 * a GLib source or asyncio's add_reader(). Owned by the driver: do not
 * read, close or change it. In the child of fork() the number stays the
 * same but refers to a new timer of the child's own: register it with the
 * child's poller again.
 * @param driver A host-mode driver on a real clock.
 * @param[out] fd The descriptor.
 * @retval TF_OK Success.
 * @retval TF_ESTATE The driver is in thread mode or on ::TF_CLOCK_MANUAL.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_driver_fd(tf_driver *driver, int *fd);

/**
 * @brief Create a timer on @p driver that fires @p duration_ns from the
 *        driver's now (tf_driver_now()).
 * @param driver The driver (borrowed; it must outlive the timer).
 * @param duration_ns Nanoseconds from the driver's now; 0 fires at once.
 * @param[out] out The timer, owned by the caller (tf_timer_free()).
 * @retval TF_OK Success; the timer is armed.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @retval TF_ERANGE now + @p duration_ns does not fit in 64 bits.
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_ETHREAD The driver's thread could not be started.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_new_on(tf_driver *driver, uint64_t duration_ns,
                           tf_timer **out);

/**
 * @brief Create a timer on @p driver that fires at an absolute deadline of
 *        the driver's clock.
 * @param driver The driver (borrowed; it must outlive the timer).
 * @param deadline_ns The deadline; one not after the driver's time fires at
 *        once.
 * @param[out] out The timer, owned by the caller.
 * @retval TF_OK Success; the timer is armed.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @retval TF_ERANGE @p deadline_ns is UINT64_MAX (reserved).
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_ETHREAD The driver's thread could not be started.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_new_at_on(tf_driver *driver, uint64_t deadline_ns,
                              tf_timer **out);

/**
 * @brief The driver a timer belongs to.
 * @param timer The timer (borrowed).
 * @param[out] out Its driver (borrowed).
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p timer is not a timer.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_driver(const tf_timer *timer, tf_driver **out);

/** @} */

/**
 * @defgroup tf_executor Executor
 * @brief A ready queue of tasks, polled by the caller or by worker threads.
 *
 * Each task's state is one atomic word, so: a task woken many times before
 * it runs is queued once; a wake that arrives during its poll re-queues it
 * after the poll; a wake after it completed, or after its executor was
 * freed, does nothing. Waking only enqueues; it never polls inline.
 * @{
 */

/** An opaque executor. */
typedef struct tf_executor tf_executor;

/**
 * @brief A C future's poll function.
 * @param state The state pointer given to tf_executor_spawn().
 * @param waker The task's waker, borrowed for the duration of the call;
 *        clone it with tf_waker_clone() to keep it.
 * @return ::TF_PENDING if the future stored a waker and wants to be polled
 *         again when woken; any other value completes the task.
 */
typedef int (*tf_poll_fn)(void *state, const tf_waker *waker);

/**
 * @brief A C future's destructor, called exactly once when the task
 *        completes or its executor is freed.
 *
 * It runs on the thread that polled the task to completion (inside
 * tf_executor_run(), tf_executor_run_ready(), tf_executor_drain() or a
 * worker thread) or on the thread calling tf_executor_free(). It may
 * spawn tasks, wake wakers and use timers and other executors. It must not
 * free or run the executor that is running it (nor one whose run is in
 * progress further up the same thread): such calls return ::TF_EBUSY (or
 * ::TF_ESHUTDOWN during tf_executor_free()) and change nothing.
 * @param state The state pointer given to tf_executor_spawn().
 */
typedef void (*tf_drop_fn)(void *state);

/**
 * @brief Create an executor.
 * @param threads Number of worker threads that poll C tasks in parallel;
 *        0 means the caller polls them, with tf_executor_run() or
 *        tf_executor_run_ready(). At most 1024. They are named
 *        `tf-worker` (as `ps -L`, `top -H` and debuggers show them).
 * @param[out] out The executor, owned by the caller (tf_executor_free()).
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p out is NULL or @p threads is above 1024.
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_ETHREAD A worker thread could not be started (none is left
 *         running).
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_executor_new(uint32_t threads, tf_executor **out);

/**
 * @brief Shut the executor down and release the caller's handle.
 *
 * Stops and joins the worker threads, then drops every unfinished C task's
 * future (its drop function runs on this thread). External tasks are
 * forgotten, except one taken by tf_executor_next() and not yet reported:
 * it must still be reported, which returns ::TF_ESHUTDOWN and releases it
 * (the only call allowed on @p executor afterwards). Wakers that still
 * refer to its tasks stay valid: waking them does nothing; memory is
 * released when the last of them is dropped.
 * @param executor The executor (consumed). NULL is accepted and ignored.
 * @retval TF_OK Success.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_EBUSY Called from one of its own worker threads, or while it is
 *         being run on this thread: from one of its tasks' poll or drop
 *         functions, or from a task of another executor run inside one of
 *         its polls; nothing was done.
 * @retval TF_EFORK The executor was created before fork(); nothing is freed
 *         (its threads and locks did not survive into this process).
 * @retval TF_ESHUTDOWN Called again, from a drop function this call runs;
 *         nothing more is done.
 * @par Thread safety
 * Any thread, but no other call may use @p executor concurrently (wakes of
 * its tasks may) or afterwards.
 */
TF_API int tf_executor_free(tf_executor *executor);

/**
 * @brief Spawn a C future as a new task; it is scheduled at once.
 * @param executor The executor (borrowed).
 * @param poll The poll function.
 * @param drop The destructor for @p state, or NULL if none is needed.
 * @param state The future's state, owned by the task from now on (on
 *        failure the caller keeps it).
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p executor or @p poll is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_ESHUTDOWN The executor is shutting down.
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread, including from inside a poll.
 */
TF_API int tf_executor_spawn(tf_executor *executor, tf_poll_fn poll,
                             tf_drop_fn drop, void *state);

/**
 * @brief Poll C tasks on the calling thread until none is left.
 *
 * Blocks while tasks wait for wakes. With worker threads the caller helps
 * them and returns once every C task has completed.
 * @param executor The executor (borrowed).
 * @retval TF_OK No C task is left.
 * @retval TF_EINVAL @p executor is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_EBUSY Called while the executor is being run on this thread
 *         (from one of its polls or drop functions, directly or through a
 *         nested executor), or on one of its worker threads.
 * @retval TF_ESHUTDOWN tf_executor_free() has begun (reachable only from
 *         a drop function it runs).
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread; several threads may run it at once.
 */
TF_API int tf_executor_run(tf_executor *executor);

/**
 * @brief Poll every C task that is ready now, then return without waiting.
 *
 * Tasks woken during this call are polled too, up to a bound that keeps a
 * task that always wakes itself from starving the caller.
 * @param executor The executor (borrowed).
 * @param[out] polled If not NULL, receives the number of polls made.
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p executor is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_EBUSY Called while the executor is being run on this thread
 *         (from one of its polls or drop functions, directly or through a
 *         nested executor), or on one of its worker threads.
 * @retval TF_ESHUTDOWN tf_executor_free() has begun (reachable only from
 *         a drop function it runs).
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_executor_run_ready(tf_executor *executor, uint64_t *polled);

/**
 * @brief Count the executor's unfinished tasks.
 * @param executor The executor (borrowed).
 * @param[out] tasks Unfinished C tasks.
 * @param[out] external Unfinished external tasks; may be NULL.
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p executor or @p tasks is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_EFORK The executor was created before fork() (its counts
 *         describe tasks that cannot run in this process).
 * @par Thread safety
 * Any thread; the counts may change as soon as they are read.
 */
TF_API int tf_executor_count(tf_executor *executor, uint64_t *tasks,
                             uint64_t *external);

/**
 * @brief Spawn an external task: one whose future lives in the caller's
 *        language and is polled through tf_executor_next().
 *
 * The task is scheduled at once, so the first tf_executor_next() hands it
 * out for its first poll.
 * @param executor The executor (borrowed).
 * @param tag Any value; tf_executor_next() returns it to identify the task.
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p executor is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_ESHUTDOWN The executor is shutting down.
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_executor_spawn_external(tf_executor *executor, uint64_t tag);

/**
 * @brief Wait for an external task to be woken and take it for polling.
 *
 * On success the caller polls its future with @p waker and must then call
 * tf_executor_report() exactly once with the outcome. Until then the task
 * counts as running: wakes that arrive are remembered and re-queue it when
 * the report says ::TF_PENDING.
 * @param executor The executor (borrowed).
 * @param timeout_ns How long to wait: 0 never blocks;
 *        ::TF_TIMEOUT_INFINITE waits for ever.
 * @param[out] tag The task's tag.
 * @param[out] waker The task's waker, borrowed until tf_executor_report();
 *        clone it to keep it longer.
 * @retval TF_OK A task was taken.
 * @retval TF_ETIMEDOUT None was woken within the timeout.
 * @retval TF_EEMPTY The executor has no unfinished external task at all.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_ESHUTDOWN The executor is shutting down.
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread; several threads may take tasks at once. Woken tasks are
 * handed out in the order they were woken, each to exactly one caller.
 * No woken task waits while a caller waits: with k tasks woken and k or
 * more threads waiting here, all k are taken without any waiter running
 * into its timeout. The fd (tf_executor_fd()) is readable while a woken
 * task has not been taken.
 */
TF_API int tf_executor_next(tf_executor *executor, uint64_t timeout_ns,
                            uint64_t *tag, const tf_waker **waker);

/**
 * @brief Report how the poll of a task taken by tf_executor_next() ended.
 * @param executor The executor (borrowed).
 * @param waker The waker tf_executor_next() returned with the task.
 * @param result ::TF_PENDING (the future stored a clone of the waker or will
 *        be woken otherwise) or ::TF_READY (the task is complete).
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL or @p result is neither value.
 * @retval TF_EHANDLE A handle is of the wrong type, or @p waker is not an
 *         external task of @p executor.
 * @retval TF_ESTATE The task was not taken by tf_executor_next().
 * @retval TF_ESHUTDOWN The executor was freed while the task was being
 *         polled; the task is released.
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread (not necessarily the one that took the task).
 */
TF_API int tf_executor_report(tf_executor *executor, const tf_waker *waker,
                              int result);

/**
 * @brief A file descriptor that is readable whenever work is ready.
 *
 * An eventfd, created on the first call, that turns readable when an
 * external task is woken, and, for an executor without worker threads,
 * when a C task is ready for tf_executor_run_ready(). Watch it with epoll,
 * poll, asyncio's add_reader, libuv or a GUI loop; when it is readable,
 * call tf_executor_drain() (or, as before 1.1, tf_executor_run_ready() and
 * tf_executor_next() with timeout 0 until nothing is left). The library
 * drains it; the caller must not read it. Once a drain has re-armed it,
 * it is readable exactly when work is ready: it is never left unreadable
 * with a task waiting, and never left readable for ever with nothing
 * ready (at most one spurious readiness follows a wake that raced with a
 * drain). It is closed by tf_executor_free().
 * @param executor The executor (borrowed).
 * @param[out] fd The descriptor, owned by the executor.
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_ESYS The eventfd could not be created.
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_executor_fd(tf_executor *executor, int *fd);

/**
 * @brief Do what a host loop must do when the executor's fd is readable.
 *
 * One call replaces the hand-written drain: it polls the C tasks that are
 * ready (for an executor without worker threads; bounded as in
 * tf_executor_run_ready()), then takes up to @p capacity woken external
 * tasks, in wake order, into @p tags and @p wakers, and re-arms the fd so
 * that it is readable exactly when work remains. The caller polls each
 * taken task's future with its waker and reports it with
 * tf_executor_report(), exactly once, as after tf_executor_next(). A task
 * woken again while the caller polls it is queued again by its report and
 * makes the fd readable. Since 1.1.
 * @param executor The executor (borrowed).
 * @param[out] tags Receives the taken tasks' tags (at least @p capacity
 *        entries); may be NULL if @p capacity is 0.
 * @param[out] wakers Receives the taken tasks' wakers, each borrowed until
 *        its report; may be NULL if @p capacity is 0.
 * @param capacity The most external tasks to take; 0 runs C tasks only.
 * @param[out] taken Receives the number of external tasks taken.
 * @retval 0 Nothing was left ready: go back to waiting on the fd.
 * @retval 1 Work remains (more woken external tasks than @p capacity, or
 *         C tasks past the bound): the fd stays readable; call again now or
 *         from the next readiness.
 * @retval TF_EINVAL @p executor or @p taken is NULL, or @p capacity is not 0
 *         and @p tags or @p wakers is NULL.
 * @retval TF_EHANDLE @p executor is not an executor.
 * @retval TF_EBUSY Called while the executor is being run on this thread
 *         (from one of its polls or drop functions, directly or through a
 *         nested executor), or on one of its worker threads.
 * @retval TF_ESHUTDOWN tf_executor_free() has begun.
 * @retval TF_EFORK The executor was created before fork().
 * @par Thread safety
 * Any thread; usually the host loop's.
 */
TF_API int tf_executor_drain(tf_executor *executor, uint64_t *tags,
                             const tf_waker **wakers, size_t capacity,
                             size_t *taken);

/**
 * @brief Run one future to completion on the calling thread.
 *
 * Polls @p poll with a waker that unparks this thread, and sleeps between
 * polls until woken.
 * @param poll The poll function.
 * @param state Passed to @p poll (borrowed).
 * @return The first value of @p poll other than ::TF_PENDING, or
 *         ::TF_EINVAL if @p poll is NULL, or ::TF_ENOMEM.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_block_on(tf_poll_fn poll, void *state);

/** @} */

/**
 * @defgroup tf_api Function table
 * @brief One entry point for programs that dlopen() the library.
 *
 * Like SQLite's `sqlite3_api_routines`, the table only grows at the end, and
 * begins with its own size: a caller compiled against an older header reads
 * only the entries it knows; one compiled against a newer header checks
 * @ref tf_api_v1::size before using an entry the loaded library may lack.
 * @{
 */

/** The ABI major version served by this header's tf_get_api(). */
#define TF_ABI_MAJOR 1

/** The name to pass to dlsym() to find tf_get_api(). */
#define TF_GET_API_SYMBOL "tf_get_api"

/**
 * @brief Every public function of ABI major version 1, in a fixed order.
 *
 * Append-only: entries are never removed or reordered; new ones are added at
 * the end and @ref tf_api_v1::size grows.
 */
typedef struct tf_api_v1 {
    /** `sizeof` the table as the library was built: entries beyond it are
     *  absent. */
    uint32_t size;
    /** The library's tf_version(). */
    uint32_t version;
    /** tf_version() */
    uint32_t (*version_fn)(void);
    /** tf_version_string() */
    const char *(*version_string)(void);
    /** tf_strerror() */
    const char *(*strerror)(int status);
    /** tf_now_ns() */
    uint64_t (*now_ns)(void);
    /** tf_set_allocator() */
    int (*set_allocator)(const tf_allocator *allocator);
    /** tf_waker_new() */
    int (*waker_new)(const tf_waker_vtable *vtable, void *data, tf_waker **out);
    /** tf_waker_noop() */
    const tf_waker *(*waker_noop)(void);
    /** tf_waker_clone() */
    int (*waker_clone)(const tf_waker *waker, tf_waker **out);
    /** tf_waker_wake() */
    int (*waker_wake)(tf_waker *waker);
    /** tf_waker_wake_by_ref() */
    int (*waker_wake_by_ref)(const tf_waker *waker);
    /** tf_waker_drop() */
    int (*waker_drop)(tf_waker *waker);
    /** tf_waker_will_wake() */
    int (*waker_will_wake)(const tf_waker *a, const tf_waker *b);
    /** tf_timer_new() */
    int (*timer_new)(uint64_t duration_ns, tf_timer **out);
    /** tf_timer_new_at() */
    int (*timer_new_at)(uint64_t deadline_ns, tf_timer **out);
    /** tf_timer_poll() */
    int (*timer_poll)(tf_timer *timer, const tf_waker *waker);
    /** tf_timer_reset() */
    int (*timer_reset)(tf_timer *timer, uint64_t duration_ns);
    /** tf_timer_reset_at() */
    int (*timer_reset_at)(tf_timer *timer, uint64_t deadline_ns);
    /** tf_timer_cancel() */
    int (*timer_cancel)(tf_timer *timer);
    /** tf_timer_deadline() */
    int (*timer_deadline)(const tf_timer *timer, uint64_t *deadline_ns);
    /** tf_timer_free() */
    int (*timer_free)(tf_timer *timer);
    /** tf_executor_new() */
    int (*executor_new)(uint32_t threads, tf_executor **out);
    /** tf_executor_free() */
    int (*executor_free)(tf_executor *executor);
    /** tf_executor_spawn() */
    int (*executor_spawn)(tf_executor *executor, tf_poll_fn poll,
                          tf_drop_fn drop, void *state);
    /** tf_executor_run() */
    int (*executor_run)(tf_executor *executor);
    /** tf_executor_run_ready() */
    int (*executor_run_ready)(tf_executor *executor, uint64_t *polled);
    /** tf_executor_count() */
    int (*executor_count)(tf_executor *executor, uint64_t *tasks,
                          uint64_t *external);
    /** tf_executor_spawn_external() */
    int (*executor_spawn_external)(tf_executor *executor, uint64_t tag);
    /** tf_executor_next() */
    int (*executor_next)(tf_executor *executor, uint64_t timeout_ns,
                         uint64_t *tag, const tf_waker **waker);
    /** tf_executor_report() */
    int (*executor_report)(tf_executor *executor, const tf_waker *waker,
                           int result);
    /** tf_executor_fd() */
    int (*executor_fd)(tf_executor *executor, int *fd);
    /** tf_block_on() */
    int (*block_on)(tf_poll_fn poll, void *state);
    /** tf_executor_drain() (since 1.1) */
    int (*executor_drain)(tf_executor *executor, uint64_t *tags,
                          const tf_waker **wakers, size_t capacity,
                          size_t *taken);
    /** tf_timer_peek() (since 1.1) */
    int (*timer_peek)(const tf_timer *timer);
    /** tf_driver_default() (since 1.2) */
    tf_driver *(*driver_default)(void);
    /** tf_driver_new() (since 1.2) */
    int (*driver_new)(const tf_driver_options *options, tf_driver **out);
    /** tf_driver_free() (since 1.2) */
    int (*driver_free)(tf_driver *driver);
    /** tf_driver_now() (since 1.2) */
    int (*driver_now)(const tf_driver *driver, uint64_t *now_ns);
    /** tf_driver_next_deadline() (since 1.2) */
    int (*driver_next_deadline)(tf_driver *driver, uint64_t *deadline_ns);
    /** tf_driver_advance() (since 1.2) */
    int (*driver_advance)(tf_driver *driver, uint64_t now_ns,
                          uint64_t *fired);
    /** tf_driver_fd() (since 1.2) */
    int (*driver_fd)(tf_driver *driver, int *fd);
    /** tf_timer_new_on() (since 1.2) */
    int (*timer_new_on)(tf_driver *driver, uint64_t duration_ns,
                        tf_timer **out);
    /** tf_timer_new_at_on() (since 1.2) */
    int (*timer_new_at_on)(tf_driver *driver, uint64_t deadline_ns,
                           tf_timer **out);
    /** tf_timer_driver() (since 1.2) */
    int (*timer_driver)(const tf_timer *timer, tf_driver **out);
} tf_api_v1;

/**
 * @brief Get the function table of an ABI major version.
 *
 * A program that dlopen()s `libtimefuture.so.1` needs only this one symbol.
 * @param abi_major The major version the caller was compiled for
 *        (::TF_ABI_MAJOR).
 * @return A static table (never to be freed) whose layout is `tf_api_v1` for
 *         @p abi_major 1, or NULL if that major version is not served.
 * @par Thread safety
 * Any thread, any time.
 */
TF_API const void *tf_get_api(uint32_t abi_major);

/** @} */

#ifdef TF_EXPERIMENTAL
/**
 * @defgroup tf_experimental Experimental tier
 * @brief New functions, visible only with `#define TF_EXPERIMENTAL` before
 *        including this header.
 *
 * Functions land here before they join the stable ABI. They are exported
 * in their own symbol version node (`TF_EXPERIMENTAL_1.3`), are not in the
 * function table ::tf_api_v1, and may change or go away in any later
 * release: a program that uses them must be rebuilt against each release
 * (the ABI gate does not hold them to the stable rules of growth). When
 * one becomes stable, its declaration moves out of this section under the
 * same name, it gets an entry at the end of ::tf_api_v1, and its symbol
 * becomes a default version in a new stable node, while the experimental
 * version stays exported as a non-default alias of the same code, so that
 * binaries linked against the experimental node keep running (see the
 * design document, "The experimental tier").
 *
 * Since 1.3, experimental.
 * @{
 */

/**
 * @defgroup tf_interval Intervals
 * @ingroup tf_experimental
 * @brief A periodic timer future on a driver, like tokio's `Interval`.
 *
 * Ticks are scheduled from the first deadline: tick k is due at
 * `first + k * period` on the driver's clock, never earlier, and never
 * from the time the task got around to polling, so the schedule does not
 * drift. A poll that comes a whole period or more after a tick was due has
 * **missed** ticks; the missed-tick policy says what happens then:
 *
 * - ::TF_MISSED_TICK_BURST (tokio's `Burst`): every missed tick is
 *   reported, one per poll (each poll returns ::TF_READY with 1 tick)
 *   until the schedule has caught up with the clock; the schedule stays
 *   `first + k * period`.
 * - ::TF_MISSED_TICK_DELAY (tokio's `Delay`): one ::TF_READY reports the
 *   ticks missed, and the next tick is due one period after the time it
 *   was observed; the schedule restarts from there.
 * - ::TF_MISSED_TICK_SKIP (tokio's `Skip`): one ::TF_READY reports the
 *   ticks missed, and the next tick is the first `first + k * period`
 *   after now: the schedule is kept, the missed ticks are skipped.
 *
 * A tick observed less than a period late is not a missed one: all
 * policies then schedule the next at `first + (k + 1) * period`. An
 * interval is used by one thread at a time (it is a future that one task
 * owns); its driver must outlive it.
 * @{
 */

/** An opaque interval. */
typedef struct tf_interval tf_interval;

/** Missed ticks are reported one per poll until caught up. */
#define TF_MISSED_TICK_BURST 0
/** After missed ticks, the next is one period after the late poll. */
#define TF_MISSED_TICK_DELAY 1
/** Missed ticks are counted and skipped; the schedule is kept. */
#define TF_MISSED_TICK_SKIP 2

/**
 * @brief Make an interval whose first tick is due at @p first_deadline_ns.
 * @param driver The driver (borrowed; it must outlive the interval).
 * @param first_deadline_ns The first tick, on the driver's clock; one not
 *        after the driver's time is due at once.
 * @param period_ns The period, in nanoseconds.
 * @param missed_tick_policy One of the TF_MISSED_TICK_* values.
 * @param[out] out The interval, owned by the caller (tf_interval_free()).
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL, @p period_ns is 0 or the policy is
 *         unknown.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @retval TF_ERANGE @p first_deadline_ns is UINT64_MAX (reserved).
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_ETHREAD The driver's thread could not be started.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_interval_new_on(tf_driver *driver, uint64_t first_deadline_ns,
                              uint64_t period_ns, uint32_t missed_tick_policy,
                              tf_interval **out);

/**
 * @brief Poll an interval for its next tick.
 *
 * Returns ::TF_READY once the next tick's deadline has passed on the
 * driver's clock, with the number of ticks it stands for; otherwise
 * stores a clone of @p waker, to be woken when the tick is due, and
 * returns ::TF_PENDING.
 * @param interval The interval.
 * @param waker The waker to wake at the next tick (borrowed).
 * @param[out] ticks On ::TF_READY, the ticks that elapsed since the last
 *        ::TF_READY (at least 1; always 1 with ::TF_MISSED_TICK_BURST). May
 *        be NULL.
 * @retval TF_READY A tick is due.
 * @retval TF_PENDING Not yet; @p waker will be woken.
 * @retval TF_ECANCELED The interval was cancelled (tf_interval_cancel()).
 * @retval TF_ERANGE The next tick would be beyond the 64-bit clock (the
 *         interval has ticked its last).
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p interval or @p waker is not a live handle.
 * @par Thread safety
 * One thread at a time per interval.
 */
TF_API int tf_interval_poll(tf_interval *interval, const tf_waker *waker,
                            uint64_t *ticks);

/**
 * @brief Restart the schedule one period from the driver's now.
 *
 * Also re-arms a cancelled interval. The stored waker, if any, is kept.
 * @param interval The interval.
 * @retval TF_OK Success.
 * @retval TF_ERANGE now + period does not fit in 64 bits.
 * @retval TF_EINVAL @p interval is NULL.
 * @retval TF_EHANDLE @p interval is not an interval.
 * @retval TF_ETHREAD The driver's thread could not be started.
 * @par Thread safety
 * One thread at a time per interval.
 */
TF_API int tf_interval_reset(tf_interval *interval);

/**
 * @brief Restart the schedule at an absolute deadline: the next tick is
 *        due at @p deadline_ns, the following ones a period apart.
 *
 * Also re-arms a cancelled interval.
 * @param interval The interval.
 * @param deadline_ns The next tick, on the driver's clock.
 * @retval TF_OK Success.
 * @retval TF_ERANGE @p deadline_ns is UINT64_MAX.
 * @retval TF_EINVAL @p interval is NULL.
 * @retval TF_EHANDLE @p interval is not an interval.
 * @retval TF_ETHREAD The driver's thread could not be started.
 * @par Thread safety
 * One thread at a time per interval.
 */
TF_API int tf_interval_reset_at(tf_interval *interval, uint64_t deadline_ns);

/**
 * @brief Stop an interval: polls return ::TF_ECANCELED until it is reset.
 *
 * A stored waker is woken (on the calling thread, before the call
 * returns), so a task awaiting the interval learns of the cancellation.
 * @param interval The interval.
 * @retval TF_OK Success.
 * @retval TF_ESTATE It was cancelled already.
 * @retval TF_EINVAL @p interval is NULL.
 * @retval TF_EHANDLE @p interval is not an interval.
 * @par Thread safety
 * Any thread, but not concurrently with another call on the interval.
 */
TF_API int tf_interval_cancel(tf_interval *interval);

/**
 * @brief When the next tick is due.
 * @param interval The interval.
 * @param[out] deadline_ns The next tick's deadline on the driver's clock,
 *        UINT64_MAX once the schedule has run past the 64-bit clock.
 * @retval TF_OK Success.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p interval is not an interval.
 * @par Thread safety
 * One thread at a time per interval.
 */
TF_API int tf_interval_deadline(const tf_interval *interval,
                                uint64_t *deadline_ns);

/**
 * @brief Free an interval; a stored waker is dropped without a wake.
 * @param interval The interval (consumed). NULL is accepted and ignored.
 * @retval TF_OK Success.
 * @retval TF_EHANDLE @p interval is not an interval.
 * @par Thread safety
 * Any thread, but no other call may use @p interval concurrently or
 * afterwards.
 */
TF_API int tf_interval_free(tf_interval *interval);

/** @} */

/**
 * @defgroup tf_timeout Timeouts
 * @ingroup tf_experimental
 * @brief A future that completes with another future's result, or with
 *        ::TF_ETIMEDOUT when its deadline passes first.
 *
 * The timeout owns the inner future (a poll function, a drop function and
 * a state, as tf_executor_spawn() takes them) and drops it exactly once:
 * when the inner future completes, when the deadline passes, when the
 * timeout is freed before either, or, if tf_timeout_new_on() fails, before
 * that returns. Each poll polls the inner future **first**: a timeout
 * whose inner future completes never reports ::TF_ETIMEDOUT, even if the
 * deadline has passed too.
 *
 * To await a timeout from a C future, call tf_timeout_poll() from its poll
 * function. To run one as a task of its own, spawn it with
 * tf_timeout_task_poll() and tf_timeout_task_drop() and the tf_timeout as
 * the state: `tf_executor_spawn(e, tf_timeout_task_poll,
 * tf_timeout_task_drop, timeout)`. The executor discards a task's result,
 * so a spawned timeout is for its side effects (the inner future's own
 * state can record what happened); the task frees the timeout when it
 * ends.
 * @{
 */

/** An opaque timeout. */
typedef struct tf_timeout tf_timeout;

/**
 * @brief Wrap a future in a timeout of @p duration_ns from the driver's
 *        now.
 * @param driver The driver (borrowed; it must outlive the timeout).
 * @param duration_ns Nanoseconds from the driver's now (tf_driver_now()).
 * @param poll The inner future's poll function.
 * @param drop The inner future's drop function, or NULL.
 * @param state The inner future's state, passed to @p poll and @p drop.
 * @param[out] out The timeout, owned by the caller (tf_timeout_free(), or
 *        the task's drop when spawned).
 * @retval TF_OK Success; the timeout owns the inner future.
 * @retval TF_EINVAL @p poll or @p out is NULL.
 * @retval TF_EHANDLE @p driver is not a driver.
 * @retval TF_ERANGE now + @p duration_ns does not fit in 64 bits.
 * @retval TF_ENOMEM Out of memory.
 * @retval TF_ETHREAD The driver's thread could not be started.
 * On every error the inner future has been dropped (@p drop called once).
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timeout_new_on(tf_driver *driver, uint64_t duration_ns,
                             tf_poll_fn poll, tf_drop_fn drop, void *state,
                             tf_timeout **out);

/**
 * @brief Poll a timeout: the inner future first, then the deadline.
 * @param timeout The timeout.
 * @param waker The task's waker (borrowed), given to the inner future and
 *        stored for the deadline.
 * @return ::TF_PENDING while neither the inner future nor the deadline is
 *         done; the inner future's result (::TF_READY or its own negative
 *         status) when it completes; ::TF_ETIMEDOUT when the deadline
 *         passed first. Once complete, every later poll returns the same
 *         result without polling anything.
 * @retval TF_EINVAL A pointer is NULL.
 * @retval TF_EHANDLE @p timeout or @p waker is not a live handle.
 * @par Thread safety
 * One thread at a time per timeout.
 */
TF_API int tf_timeout_poll(tf_timeout *timeout, const tf_waker *waker);

/**
 * @brief Free a timeout, dropping the inner future if it has not been
 *        dropped yet.
 * @param timeout The timeout (consumed). NULL is accepted and ignored.
 * @retval TF_OK Success.
 * @retval TF_EHANDLE @p timeout is not a timeout.
 * @par Thread safety
 * Any thread, but no other call may use @p timeout concurrently or
 * afterwards.
 */
TF_API int tf_timeout_free(tf_timeout *timeout);

/**
 * @brief A ::tf_poll_fn for spawning a timeout: tf_timeout_poll() on
 *        @p state, a `tf_timeout *`.
 * @param state The timeout.
 * @param waker The task's waker.
 * @return What tf_timeout_poll() returns.
 * @par Thread safety
 * The executor's polling thread, like any ::tf_poll_fn.
 */
TF_API int tf_timeout_task_poll(void *state, const tf_waker *waker);

/**
 * @brief A ::tf_drop_fn for spawning a timeout: tf_timeout_free() on
 *        @p state, a `tf_timeout *`.
 * @param state The timeout.
 * @par Thread safety
 * Called once by the executor, like any ::tf_drop_fn.
 */
TF_API void tf_timeout_task_drop(void *state);

/** @} */

/**
 * @defgroup tf_slack Per-timer slack
 * @ingroup tf_experimental
 * @brief How late one timer may fire, so that its driver can coalesce
 *        wake-ups.
 * @{
 */

/**
 * @brief Let the driver fire @p timer up to @p slack_ns late (never early).
 *
 * The tolerance is rounded down to a power of two (so it never exceeds
 * what was asked) and replaces, for this timer, the driver's own
 * @ref tf_driver_options::slack_ns. The driver wakes at its earliest
 * deadline plus the smallest tolerance among its armed timers, so every
 * timer fires within its own tolerance; a timer with a large slack lets
 * the driver sleep longer only when the other armed timers allow it too.
 * The slack stays with the timer across resets. 0 goes back to the
 * driver's slack.
 * @param timer The timer.
 * @param slack_ns The tolerance in nanoseconds.
 * @retval TF_OK Success.
 * @retval TF_EINVAL @p timer is NULL.
 * @retval TF_EHANDLE @p timer is not a timer.
 * @par Thread safety
 * Any thread.
 */
TF_API int tf_timer_set_slack(tf_timer *timer, uint64_t slack_ns);

/** @} */

/** @} */
#endif /* TF_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* TIMEFUTURE_H */
