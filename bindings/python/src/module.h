/* SPDX-License-Identifier: MIT */
/*
 * Shared declarations of the timefuture extension module
 * (timefuture._timefuture): its state, its objects and what one part of it
 * calls in another. One file per concern, as in CPython's Modules/_sqlite/.
 *
 * It uses only the public C ABI (timefuture.h), like any outside binding.
 *
 * How Python coroutines become library tasks: every coroutine spawned on an
 * Executor is an *external* task whose tag is its Task object. The run loop
 * (here, in C) takes a woken task with tf_executor_next(), makes the
 * borrowed waker "current" for this thread, resumes the coroutine with one
 * send(None), and reports TF_PENDING or TF_READY. The awaitables of this
 * module (sleep, Timer, Task handles, yield_now) find the current waker and
 * hand it to the library, then yield a private marker object up to the run
 * loop. Anything else a coroutine yields is a foreign awaitable (an asyncio
 * future, say) and is refused with a RuntimeError thrown into it.
 *
 * Under an asyncio loop (no current waker), the same awaitables register an
 * external task on a per-loop "bridge" executor whose eventfd the loop
 * watches with add_reader(): the library's timer driver thread only writes
 * to that descriptor, so no Python code ever runs on it.
 */
#ifndef TFPY_MODULE_H
#define TFPY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The interval type is built on the library's experimental interval API,
 * which ships with the library of the same version. */
#define TF_EXPERIMENTAL
#include "timefuture.h"

/* How long the run loop waits inside the library with the GIL released
 * before it looks for signals (Ctrl-C) again. */
#define TFPY_WAIT_SLICE_NS (UINT64_C(50) * 1000 * 1000)
/* How many polls the run loop makes between two signal checks while busy. */
#define TFPY_SIGNAL_CHECK_MASK 1023u
/* Largest duration accepted, in ns: the library adds it to the clock. */
#define TFPY_MAX_NS 9.2e18

#define TFPY_CAST(f) ((PyCFunction)(void (*)(void))(f))
/* Type and module slots hold functions as void *, as the CPython API asks;
 * ISO C frowns on that conversion, hence __extension__. */
#define TFPY_FN(f) (__extension__(void *)(f))

/* ------------------------------------------------------------------------ */
/* Module state (multi-phase init: one per module object, so sub-           */
/* interpreters and separately loaded copies do not share Python objects)   */
/* ------------------------------------------------------------------------ */

typedef struct tfpy_state {
    /* The value our awaitables yield to the run loop: "pending, waker
     * stored". */
    PyObject *pending;
    PyObject *CancelledError;
    /* asyncio loop -> a weak reference to its bridge, weak on the loop too.
     * The bridge is kept alive by the loop itself (its reader callback),
     * never by this table: a strong value here would keep the loop alive
     * through the futures the bridge holds, and a closed loop would never
     * be freed. */
    PyObject *bridges;
    /* asyncio._get_running_loop, looked up once asyncio is in use. */
    PyObject *get_running_loop;
    PyTypeObject *ErrorType;
    PyTypeObject *TimerCancelledType;
    PyTypeObject *ExecutorType;
    PyTypeObject *TaskType;
    PyTypeObject *TaskWaitType;
    PyTypeObject *SleepType;
    PyTypeObject *TimerType;
    PyTypeObject *YieldNowType;
    PyTypeObject *BridgeType;
    PyTypeObject *DriverType;
    PyTypeObject *IntervalType;
} tfpy_state;

/* The state of the module that made `obj`'s type (none of our types but
 * the exceptions can be subclassed, so the type is always ours). */
static inline tfpy_state *tfpy_state_of(void *obj) {
    return (tfpy_state *)PyType_GetModuleState(Py_TYPE((PyObject *)obj));
}

static inline tfpy_state *tfpy_module_state(PyObject *module) {
    return (tfpy_state *)PyModule_GetState(module);
}

typedef struct ExecutorObject ExecutorObject;
typedef struct TaskObject TaskObject;
typedef struct SleepObject SleepObject;
typedef struct TimerObject TimerObject;
typedef struct BridgeObject BridgeObject;
typedef struct DriverObject DriverObject;
typedef struct IntervalObject IntervalObject;
typedef struct tfpy_entry tfpy_entry;

/* What an awaitable needs while the run loop polls a task. Thread-local
 * because several threads may each run their own executor, and the GIL can
 * pass between them in the middle of a coroutine step. */
typedef struct tfpy_ctx {
    tfpy_state *st; /* the module instance whose executor runs the task */
    ExecutorObject *ex;
    TaskObject *task;
    const tf_waker *waker;
    /* The asyncio loop running on this thread when the poll began (an
     * identity only, never dereferenced), or NULL. */
    const void *loop;
} tfpy_ctx;

extern _Thread_local tfpy_ctx *tfpy_current;

/* ------------------------------------------------------------------------ */
/* Objects shared between the parts                                         */
/* ------------------------------------------------------------------------ */

enum { TASK_PENDING = 0, TASK_DONE = 1, TASK_CANCELLED = 2 };

struct TaskObject {
    PyObject_HEAD
    PyObject *coro;         /* NULL once finished */
    PyObject *context;      /* contextvars copy the coroutine runs in */
    PyObject *result;
    PyObject *exc;          /* exception instance, or NULL */
    ExecutorObject *ex;     /* borrowed; NULL once finished or dropped */
    TaskObject *prev, *next; /* the executor's list of live tasks */
    tf_waker *self_waker;   /* clone, so that cancel() can wake the task */
    tf_waker **waiters;     /* clones of the wakers of tasks awaiting us */
    Py_ssize_t nwaiters, capwaiters;
    uint8_t state;
    uint8_t cancel_requested;
    uint8_t exc_retrieved;
    /* cancel() calls not yet undone by uncancel(), as asyncio.Task counts
     * them: a timeout tells its own cancellation from another's by it. */
    Py_ssize_t cancelling;
    PyObject *weakreflist;
};

struct ExecutorObject {
    PyObject_HEAD
    tf_executor *ex;        /* created lazily; NULL after an interrupt */
    uint32_t threads;
    uint8_t closed;
    uint8_t running;
    TaskObject *head;       /* live tasks, each holding one reference */
    Py_ssize_t ntasks;
    PyObject *weakreflist;
};

/* A tf_driver of its own. Each Timer and Sleep on it holds a reference,
 * so it is freed after its last timer (tf_driver_free refuses before). */
struct DriverObject {
    PyObject_HEAD
    tf_driver *driver;      /* NULL once closed */
    uint64_t slack_ns;
    uint8_t clock, mode;    /* TF_CLOCK_*, TF_DRIVER_MODE_* */
    PyObject *weakreflist;
};

struct TimerObject {
    PyObject_HEAD
    tf_timer *timer;
    DriverObject *driver;  /* strong, or NULL for the default driver */
    uint64_t duration_ns;
    SleepObject *awaiter;  /* borrowed: the await in progress, if any */
    uint8_t cancelled;
    PyObject *weakreflist;
};

/* A periodic timer (tf_interval) and the iterator state of `async for`. */
struct IntervalObject {
    PyObject_HEAD
    tf_interval *iv;
    DriverObject *driver;  /* strong, or NULL for the default driver */
    uint64_t period_ns;
    uint32_t policy;       /* TF_MISSED_TICK_* */
    SleepObject *awaiter;  /* borrowed: the await in progress, if any */
    PyObject *weakreflist;
};

enum { SLEEP_INIT = 0, SLEEP_WAITING = 1, SLEEP_ASYNCIO = 2, SLEEP_DONE = 3 };

/* The iterator of one await of a timer. For sleep() it owns its timer; for
 * a Timer it borrows the Timer's (and keeps the Timer alive). One await of
 * an Interval's next tick is the same object with `interval` set instead
 * of `timer`, so that both share the run loop's and asyncio's paths. */
struct SleepObject {
    PyObject_HEAD
    tf_timer *timer;         /* NULL for an interval tick */
    TimerObject *owner;      /* strong, or NULL for sleep() */
    IntervalObject *interval; /* strong, or NULL for a timer */
    PyObject *result;        /* strong: what the await returns, or NULL */
    uint64_t ticks;          /* interval: the ticks of the READY */
    DriverObject *driver;    /* sleep() on a Driver: strong, else NULL */
    const void *waiter_id;   /* identity of the waiting task's waker */
    tfpy_entry *entry;       /* asyncio mode: the bridge's record, or NULL */
    int err;                 /* asyncio mode: how the wait ended */
    uint8_t state;
};

/* One await of a timer under asyncio: an external task of the loop's bridge
 * executor, polled when the executor's eventfd turns readable. */
struct tfpy_entry {
    tfpy_entry *prev, *next;
    SleepObject *sleep;  /* strong */
    PyObject *fut;       /* strong: the asyncio future the coroutine waits on */
    tf_waker *waker;     /* clone, to wake the entry when abandoned */
    int dead;
};

struct BridgeObject {
    PyObject_HEAD
    tf_executor *ex;
    int fd;
    tfpy_entry *head;
    PyObject *weakreflist;
};

/* errors.c */
PyObject *tfpy_fetch_exception(void);
PyObject *tfpy_raise(tfpy_state *st, int code, const char *context);
PyObject *tfpy_stop_iteration(PyObject *value);
extern PyType_Spec Error_spec;
extern PyType_Spec TimerCancelled_spec;
void tfpy_restore_exception(PyObject *exc);

/* task.c */
PyObject *task_new_cancelled_error(tfpy_state *st);
PyObject *task_outcome(TaskObject *t);
extern PyType_Spec TaskWait_spec;
extern PyType_Spec Task_spec;
void task_finish(TaskObject *t, int state, PyObject *result, PyObject *exc);

/* runloop.c */
PyObject *Executor_new(PyTypeObject *type, PyObject *args, PyObject *kwds);
PyObject *Executor_run_until_complete(ExecutorObject *self, PyObject *aw);
extern PyType_Spec Executor_spec;
TaskObject *executor_spawn(ExecutorObject *self, PyObject *coro);
int tfpy_check_coroutine(PyObject *coro, const char *fname);
tfpy_ctx *tfpy_driver(tfpy_state *st);
void executor_drop_all(ExecutorObject *self);

/* driver.c */
extern PyType_Spec Driver_spec;
int tfpy_driver_arg(tfpy_state *st, PyObject *obj, DriverObject **out,
                    tf_driver **raw);
uint64_t tfpy_timer_now(const tf_timer *timer);

/* timer.c */
int tfpy_seconds_to_ns(PyObject *obj, const char *what, uint64_t *out);
PyObject *sleep_error(tfpy_state *st, int rc);
PyObject *tfpy_sleep(PyObject *module, PyObject *args, PyObject *kwds);
PyObject *tfpy_sleep_until(PyObject *module, PyObject *args, PyObject *kwds);
PyObject *tfpy_yield_now(PyObject *module, PyObject *unused);
extern PyType_Spec Sleep_spec;
extern PyType_Spec Timer_spec;
extern PyType_Spec YieldNow_spec;
int sleep_poll_timer(SleepObject *s, const tf_waker *waker);
PyObject *sleep_finish(SleepObject *s, int rc);
SleepObject *sleep_alloc(tfpy_state *st, tf_timer *timer, TimerObject *owner);

/* interval.c */
extern PyType_Spec Interval_spec;
PyObject *tfpy_interval(PyObject *module, PyObject *args, PyObject *kwds);

/* asyncio_bridge.c */
PyObject *sleep_start_asyncio(SleepObject *s);
extern PyType_Spec Bridge_spec;
const void *tfpy_running_loop_id(tfpy_state *st);
void sleep_abandon(SleepObject *s);

#endif /* TFPY_MODULE_H */
