/* SPDX-License-Identifier: MIT */
/*
 * timefuture: the CPython binding of libtimefuture.
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
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

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

static _Thread_local tfpy_ctx *tfpy_current;

/* The identity of the asyncio loop running on this thread, or NULL (none,
 * or asyncio never imported; then no loop can run). Errors are cleared:
 * this only decides who drives an awaitable. */
static const void *tfpy_running_loop_id(tfpy_state *st) {
    if (!st->get_running_loop) {
        PyObject *name = PyUnicode_FromString("asyncio");
        PyObject *asyncio = name ? PyImport_GetModule(name) : NULL;
        Py_XDECREF(name);
        if (!asyncio) {
            PyErr_Clear();
            return NULL;
        }
        st->get_running_loop =
            PyObject_GetAttrString(asyncio, "_get_running_loop");
        Py_DECREF(asyncio);
        if (!st->get_running_loop) {
            PyErr_Clear();
            return NULL;
        }
    }
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    if (!loop) {
        PyErr_Clear();
        return NULL;
    }
    const void *id = loop == Py_None ? NULL : (const void *)loop;
    Py_DECREF(loop); /* the running loop is alive while it runs */
    return id;
}

/* The timefuture task that is driving the current coroutine step, or NULL.
 * A task of ours may start another event loop on this thread (asyncio.run()
 * inside timefuture.run()): the coroutines that loop runs are driven by it,
 * not by our task, even though our poll is still on the stack. An
 * executor of another instance of this module (a sub-interpreter, a second
 * copy) does not drive ours either: it would not know our marker. */
static tfpy_ctx *tfpy_driver(tfpy_state *st) {
    tfpy_ctx *ctx = tfpy_current;
    if (ctx && (ctx->st != st || tfpy_running_loop_id(st) != ctx->loop))
        return NULL;
    return ctx;
}


/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyBaseExceptionObject base;
    int code;
} ErrorObject;

static int Error_init(ErrorObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"code", "context", NULL};
    int code;
    const char *context = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|z:Error", kwlist, &code,
                                     &context))
        return -1;
    self->code = code;
    PyObject *msg =
        context ? PyUnicode_FromFormat("%s: %s (code %d)", context,
                                       tf_strerror(code), code)
                : PyUnicode_FromFormat("%s (code %d)", tf_strerror(code), code);
    if (!msg)
        return -1;
    PyObject *newargs = PyTuple_Pack(1, msg);
    Py_DECREF(msg);
    if (!newargs)
        return -1;
    Py_XSETREF(self->base.args, newargs);
    return 0;
}

static PyObject *Error_get_strerror(ErrorObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(tf_strerror(self->code));
}

static PyMemberDef Error_members[] = {
    {"code", T_INT, offsetof(ErrorObject, code), READONLY,
     "The library's status code: a negative TF_E* value such as "
     "timefuture.ECANCELED."},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef Error_getset[] = {
    {"strerror", (getter)Error_get_strerror, NULL,
     "The library's explanation of the code (tf_strerror).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

/* The exception's own parts are BaseException's; these add what a heap
 * type's instance owes its type (a reference, and a visit). */
static int Error_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    return ((PyTypeObject *)PyExc_Exception)->tp_traverse(self, visit, arg);
}

static void Error_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    ((PyTypeObject *)PyExc_Exception)->tp_dealloc(self);
    Py_DECREF(tp);
}

static PyType_Slot Error_slots[] = {
    {Py_tp_traverse, TFPY_FN(Error_traverse)},
    {Py_tp_dealloc, TFPY_FN(Error_dealloc)},
    {Py_tp_doc, (void *)"Error(code, context=None)\n--\n\n"
                               "A libtimefuture call failed. ``code`` is the library's "
                               "negative status code\n(compare with timefuture.EINVAL, "
                               "timefuture.ENOMEM, ...) and ``strerror`` its text."},
    {Py_tp_init, TFPY_FN(Error_init)},
    {Py_tp_members, Error_members},
    {Py_tp_getset, Error_getset},
    {0, NULL}};

static PyType_Spec Error_spec = {
    .name = "timefuture.Error",
    .basicsize = sizeof(ErrorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Error_slots,
};

static PyType_Slot TimerCancelled_slots[] = {
    {Py_tp_traverse, TFPY_FN(Error_traverse)},
    {Py_tp_dealloc, TFPY_FN(Error_dealloc)},
    {Py_tp_doc, (void *)"TimerCancelled(code, context=None)\n--\n\n"
                               "Raised by awaiting a Timer that was cancelled (code "
                               "timefuture.ECANCELED).\nReset the timer to await it again."},
    {0, NULL}};

static PyType_Spec TimerCancelled_spec = {
    .name = "timefuture.TimerCancelled",
    .basicsize = sizeof(ErrorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = TimerCancelled_slots,
};

/* Raise the library status `code` as timefuture.Error (TimerCancelled for
 * TF_ECANCELED), with `context` naming the failed operation. */
static PyObject *tfpy_raise(tfpy_state *st, int code, const char *context) {
    PyObject *type = code == TF_ECANCELED ? (PyObject *)st->TimerCancelledType
                                          : (PyObject *)st->ErrorType;
    PyObject *exc = PyObject_CallFunction(type, "iz", code, context);
    if (exc) {
        PyErr_SetObject(type, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* The current exception, normalized, with its traceback attached; NULL if
 * none (3.11 has no PyErr_GetRaisedException). */
static PyObject *tfpy_fetch_exception(void) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* Raise the exception instance `exc` (borrowed). */
static void tfpy_restore_exception(PyObject *exc) {
    PyObject *tb = PyException_GetTraceback(exc);
    Py_INCREF(exc);
    PyErr_Restore((PyObject *)Py_NewRef(Py_TYPE(exc)), exc, tb);
}

/* ------------------------------------------------------------------------ */
/* Argument helpers                                                          */
/* ------------------------------------------------------------------------ */

/* Convert a number of seconds to whole nanoseconds, rounding up so that a
 * timer never fires before the time asked for. */
static int tfpy_seconds_to_ns(PyObject *obj, const char *what, uint64_t *out) {
    if (!PyFloat_Check(obj) && !PyLong_Check(obj) &&
        !PyNumber_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a number of seconds (int or float), not %.100s",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    double d = PyFloat_AsDouble(obj);
    if (d == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "%s must be a number of seconds (int or float), not "
                         "%.100s",
                         what, Py_TYPE(obj)->tp_name);
        }
        return -1;
    }
    if (isnan(d)) {
        PyErr_Format(PyExc_ValueError, "%s must not be NaN", what);
        return -1;
    }
    if (d < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0, got %R", what, obj);
        return -1;
    }
    double ns = ceil(d * 1e9);
    if (!(ns < TFPY_MAX_NS)) {
        PyErr_Format(PyExc_ValueError,
                     "%s is too large: %R (at most about 292 years)", what,
                     obj);
        return -1;
    }
    *out = (uint64_t)ns;
    return 0;
}

static PyObject *tfpy_stop_iteration(PyObject *value) {
    /* A value travels out of an iterator inside StopIteration; None needs
     * no exception at all. */
    if (value == Py_None)
        return NULL;
    PyObject *exc = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (exc) {
        PyErr_SetObject(PyExc_StopIteration, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Task                                                                      */
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

static int task_add_waiter(TaskObject *t, const tf_waker *w) {
    tfpy_state *st = tfpy_state_of(t);
    if (t->nwaiters == t->capwaiters) {
        Py_ssize_t cap = t->capwaiters ? t->capwaiters * 2 : 2;
        tf_waker **nw = PyMem_Realloc(t->waiters, (size_t)cap * sizeof(*nw));
        if (!nw) {
            PyErr_NoMemory();
            return -1;
        }
        t->waiters = nw;
        t->capwaiters = cap;
    }
    tf_waker *clone;
    int rc = tf_waker_clone(w, &clone);
    if (rc < 0) {
        tfpy_raise(st, rc, "tf_waker_clone");
        return -1;
    }
    t->waiters[t->nwaiters++] = clone;
    return 0;
}

/* Mark the task finished, wake every task awaiting it and let go of the
 * coroutine. Steals `result` and `exc`. */
static void task_finish(TaskObject *t, int state, PyObject *result,
                        PyObject *exc) {
    t->state = (uint8_t)state;
    Py_XSETREF(t->result, result);
    Py_XSETREF(t->exc, exc);
    Py_CLEAR(t->coro);
    for (Py_ssize_t i = 0; i < t->nwaiters; i++)
        tf_waker_wake(t->waiters[i]);
    PyMem_Free(t->waiters);
    t->waiters = NULL;
    t->nwaiters = t->capwaiters = 0;
    if (t->self_waker) {
        tf_waker_drop(t->self_waker);
        t->self_waker = NULL;
    }
}

static PyObject *task_new_cancelled_error(tfpy_state *st) {
    return PyObject_CallNoArgs(st->CancelledError);
}

/* The outcome of a finished task: its result (new reference), or NULL with
 * its exception raised. */
static PyObject *task_outcome(TaskObject *t) {
    if (t->state == TASK_PENDING) {
        PyErr_SetString(PyExc_RuntimeError, "the task is not done yet");
        return NULL;
    }
    t->exc_retrieved = 1;
    if (t->exc) {
        tfpy_restore_exception(t->exc);
        return NULL;
    }
    if (t->state == TASK_CANCELLED) {
        tfpy_state *st = tfpy_state_of(t);
        PyObject *e = task_new_cancelled_error(st);
        if (e) {
            PyErr_SetObject(st->CancelledError, e);
            Py_DECREF(e);
        }
        return NULL;
    }
    return Py_NewRef(t->result ? t->result : Py_None);
}

static int Task_traverse(TaskObject *t, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(t));
    Py_VISIT(t->coro);
    Py_VISIT(t->context);
    Py_VISIT(t->result);
    Py_VISIT(t->exc);
    return 0;
}

static int Task_clear(TaskObject *t) {
    Py_CLEAR(t->coro);
    Py_CLEAR(t->context);
    Py_CLEAR(t->result);
    Py_CLEAR(t->exc);
    return 0;
}

static void Task_finalize(TaskObject *t) {
    /* Like asyncio: an exception nobody looked at is reported, not lost. */
    if (t->exc && !t->exc_retrieved && t->state == TASK_DONE) {
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        t->exc_retrieved = 1;
        tfpy_restore_exception(t->exc);
        PyErr_WriteUnraisable((PyObject *)t);
        PyErr_Restore(et, ev, etb);
    }
}

static void Task_dealloc(TaskObject *t) {
    if (PyObject_CallFinalizerFromDealloc((PyObject *)t) < 0)
        return;
    PyObject_GC_UnTrack(t);
    if (t->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)t);
    Task_clear(t);
    for (Py_ssize_t i = 0; i < t->nwaiters; i++)
        tf_waker_drop(t->waiters[i]);
    PyMem_Free(t->waiters);
    if (t->self_waker)
        tf_waker_drop(t->self_waker);
    PyTypeObject *tp = Py_TYPE(t);
    PyObject_GC_Del(t);
    Py_DECREF(tp);
}

static PyObject *Task_repr(TaskObject *t) {
    static const char *names[] = {"pending", "done", "cancelled"};
    if (t->state == TASK_PENDING && t->coro)
        return PyUnicode_FromFormat("<timefuture.Task pending coro=%R>",
                                    t->coro);
    if (t->state == TASK_DONE && t->exc)
        return PyUnicode_FromFormat("<timefuture.Task done exception=%R>",
                                    t->exc);
    if (t->state == TASK_DONE)
        return PyUnicode_FromFormat("<timefuture.Task done result=%R>",
                                    t->result ? t->result : Py_None);
    return PyUnicode_FromFormat("<timefuture.Task %s>", names[t->state]);
}

static PyObject *Task_done(TaskObject *t, PyObject *unused) {
    (void)unused;
    return PyBool_FromLong(t->state != TASK_PENDING);
}

static PyObject *Task_cancelled(TaskObject *t, PyObject *unused) {
    (void)unused;
    return PyBool_FromLong(t->state == TASK_CANCELLED);
}

static PyObject *Task_result(TaskObject *t, PyObject *unused) {
    (void)unused;
    return task_outcome(t);
}

static PyObject *Task_exception(TaskObject *t, PyObject *unused) {
    (void)unused;
    if (t->state == TASK_PENDING) {
        PyErr_SetString(PyExc_RuntimeError, "the task is not done yet");
        return NULL;
    }
    if (t->state == TASK_CANCELLED)
        return task_outcome(t);
    t->exc_retrieved = 1;
    return Py_NewRef(t->exc ? t->exc : Py_None);
}

static PyObject *Task_cancel(TaskObject *t, PyObject *unused) {
    (void)unused;
    if (t->state != TASK_PENDING)
        Py_RETURN_FALSE;
    t->cancel_requested = 1;
    /* Before its first poll the task is already queued; afterwards it may
     * be waiting for a wake that will never come, so wake it now. */
    if (t->self_waker) {
        tfpy_state *st = tfpy_state_of(t);
        int rc = tf_waker_wake_by_ref(t->self_waker);
        if (rc < 0)
            return tfpy_raise(st, rc, "Task.cancel");
    }
    Py_RETURN_TRUE;
}

typedef struct {
    PyObject_HEAD
    TaskObject *task;
    uint8_t registered;
} TaskWaitObject;

static PyObject *Task_await(TaskObject *t) {
    TaskWaitObject *w =
        PyObject_GC_New(TaskWaitObject, tfpy_state_of(t)->TaskWaitType);
    if (!w)
        return NULL;
    w->task = (TaskObject *)Py_NewRef(t);
    w->registered = 0;
    PyObject_GC_Track(w);
    return (PyObject *)w;
}

static PyObject *TaskWait_iternext(TaskWaitObject *w) {
    tfpy_state *st = tfpy_state_of(w);
    TaskObject *t = w->task;
    if (t->state != TASK_PENDING) {
        PyObject *r = task_outcome(t);
        if (!r)
            return NULL;
        tfpy_stop_iteration(r);
        Py_DECREF(r);
        return NULL;
    }
    tfpy_ctx *ctx = tfpy_driver(st);
    if (!ctx) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a timefuture.Task can only be awaited by a coroutine "
                        "that a timefuture Executor runs (not under asyncio, "
                        "not outside any executor); use "
                        "Executor.run_until_complete(task) instead");
        return NULL;
    }
    if (ctx->task == t) {
        PyErr_SetString(PyExc_RuntimeError, "a task cannot await itself");
        return NULL;
    }
    if (!w->registered) {
        if (task_add_waiter(t, ctx->waker) < 0)
            return NULL;
        w->registered = 1;
    }
    return Py_NewRef(st->pending);
}

static int TaskWait_traverse(TaskWaitObject *w, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(w));
    Py_VISIT(w->task);
    return 0;
}

static int TaskWait_clear(TaskWaitObject *w) {
    Py_CLEAR(w->task);
    return 0;
}

static void TaskWait_dealloc(TaskWaitObject *w) {
    PyTypeObject *tp = Py_TYPE(w);
    PyObject_GC_UnTrack(w);
    Py_CLEAR(w->task);
    PyObject_GC_Del(w);
    Py_DECREF(tp);
}

static PyType_Slot TaskWait_slots[] = {
    {Py_tp_doc, (void *)"The iterator behind ``await task``."},
    {Py_am_await, TFPY_FN(PyObject_SelfIter)},
    {Py_tp_iter, TFPY_FN(PyObject_SelfIter)},
    {Py_tp_iternext, TFPY_FN(TaskWait_iternext)},
    {Py_tp_traverse, TFPY_FN(TaskWait_traverse)},
    {Py_tp_clear, TFPY_FN(TaskWait_clear)},
    {Py_tp_dealloc, TFPY_FN(TaskWait_dealloc)},
    {0, NULL}};

static PyType_Spec TaskWait_spec = {
    .name = "timefuture._TaskWait",
    .basicsize = sizeof(TaskWaitObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = TaskWait_slots,
};

static PyMethodDef Task_methods[] = {
    {"done", TFPY_CAST(Task_done), METH_NOARGS,
     "done($self, /)\n--\n\nTrue once the task has finished, failed or been "
     "cancelled."},
    {"cancelled", TFPY_CAST(Task_cancelled), METH_NOARGS,
     "cancelled($self, /)\n--\n\nTrue if the task ended by cancellation."},
    {"result", TFPY_CAST(Task_result), METH_NOARGS,
     "result($self, /)\n--\n\nThe coroutine's return value. Raises its "
     "exception if it failed,\nCancelledError if it was cancelled and "
     "RuntimeError if it is still running."},
    {"exception", TFPY_CAST(Task_exception), METH_NOARGS,
     "exception($self, /)\n--\n\nThe exception the coroutine raised, or "
     "None. Raises CancelledError if\nthe task was cancelled and "
     "RuntimeError if it is still running."},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "Task[T] in annotations."},
    {"cancel", TFPY_CAST(Task_cancel), METH_NOARGS,
     "cancel($self, /)\n--\n\nAsk the task to stop: timefuture.CancelledError "
     "is thrown into the\ncoroutine at its next step (it may catch it). "
     "Returns False if the task\nhad already finished, True otherwise."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef Task_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TaskObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Task_slots[] = {
    {Py_tp_doc, (void *)"The handle of a coroutine spawned on an Executor.\n\n"
                               "Await it from another task of a timefuture executor to get "
                               "the coroutine's\nresult (or its exception). Tasks are made by "
                               "Executor.spawn(), not directly."},
    {Py_am_await, TFPY_FN(Task_await)},
    {Py_tp_repr, TFPY_FN(Task_repr)},
    {Py_tp_methods, Task_methods},
    {Py_tp_traverse, TFPY_FN(Task_traverse)},
    {Py_tp_clear, TFPY_FN(Task_clear)},
    {Py_tp_finalize, TFPY_FN(Task_finalize)},
    {Py_tp_dealloc, TFPY_FN(Task_dealloc)},
    {Py_tp_members, Task_members},
    {0, NULL}};

static PyType_Spec Task_spec = {
    .name = "timefuture.Task",
    .basicsize = sizeof(TaskObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Task_slots,
};

/* ------------------------------------------------------------------------ */
/* Executor                                                                  */
/* ------------------------------------------------------------------------ */

static void executor_link(ExecutorObject *ex, TaskObject *t) {
    t->ex = ex;
    t->prev = NULL;
    t->next = ex->head;
    if (ex->head)
        ex->head->prev = t;
    ex->head = t;
    ex->ntasks++;
}

static void executor_unlink(ExecutorObject *ex, TaskObject *t) {
    if (t->prev)
        t->prev->next = t->next;
    else
        ex->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->ex = NULL;
    ex->ntasks--;
}

static int executor_ensure(ExecutorObject *self) {
    tfpy_state *st = tfpy_state_of(self);
    if (self->closed) {
        PyErr_SetString(PyExc_RuntimeError, "the executor is closed");
        return -1;
    }
    if (self->ex)
        return 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = tf_executor_new(self->threads, &self->ex);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        self->ex = NULL;
        tfpy_raise(st, rc, "tf_executor_new");
        return -1;
    }
    return 0;
}

/* Close every unfinished coroutine (its finally blocks run; it cannot await
 * any more), mark its handle cancelled and free the library executor. Used
 * by close(), at the end of run() and after an interrupt, so that nothing
 * is left running. An exception pending on entry is kept. */
static void executor_drop_all(ExecutorObject *self) {
    tfpy_state *st = tfpy_state_of(self);
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    while (self->head) {
        TaskObject *t = self->head;
        executor_unlink(self, t); /* the list's reference is now ours */
        PyObject *coro = t->coro;
        t->coro = NULL;
        task_finish(t, TASK_CANCELLED, NULL, NULL);
        if (coro) {
            /* finally blocks see the task's own context variables. */
            int entered = t->context && PyContext_Enter(t->context) == 0;
            if (!entered)
                PyErr_Clear();
            PyObject *r = PyObject_CallMethod(coro, "close", NULL);
            if (r)
                Py_DECREF(r);
            else
                PyErr_WriteUnraisable(coro);
            if (entered && PyContext_Exit(t->context) < 0)
                PyErr_WriteUnraisable(coro);
            Py_DECREF(coro);
        }
        Py_DECREF(t);
    }
    if (self->ex) {
        tf_executor *ex = self->ex;
        self->ex = NULL;
        int rc;
        /* Joining worker threads may take a moment. */
        Py_BEGIN_ALLOW_THREADS
        rc = tf_executor_free(ex);
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            tfpy_raise(st, rc, "tf_executor_free");
            PyErr_WriteUnraisable((PyObject *)self);
        }
    }
    PyErr_Restore(et, ev, etb);
}

static int tfpy_is_coroutine(PyObject *obj) {
    return PyCoro_CheckExact(obj) || PyGen_CheckExact(obj) ||
           PyObject_TypeCheck(obj, &PyCoro_Type) ||
           PyObject_TypeCheck(obj, &PyGen_Type);
}

/* Refuse anything but a coroutine object, with a hint for the usual slip
 * of passing the async function itself. */
static int tfpy_check_coroutine(PyObject *coro, const char *fname) {
    if (tfpy_is_coroutine(coro))
        return 0;
    if (PyCallable_Check(coro))
        PyErr_Format(PyExc_TypeError,
                     "%s() needs a coroutine object, not the %.100s %R "
                     "itself: call it, e.g. %s(main())",
                     fname, Py_TYPE(coro)->tp_name, coro, fname);
    else
        PyErr_Format(PyExc_TypeError,
                     "%s() needs a coroutine object (the result of calling "
                     "an async def function), not %.100s",
                     fname, Py_TYPE(coro)->tp_name);
    return -1;
}

static TaskObject *executor_spawn(ExecutorObject *self, PyObject *coro) {
    if (tfpy_check_coroutine(coro, "spawn") < 0)
        return NULL;
    if (executor_ensure(self) < 0)
        return NULL;
    tfpy_state *st = tfpy_state_of(self);
    TaskObject *t = PyObject_GC_New(TaskObject, st->TaskType);
    if (!t)
        return NULL;
    t->coro = Py_NewRef(coro);
    /* Like asyncio's tasks: each runs in a copy of the spawner's context,
     * so what one sets is seen neither by the others nor by the caller. */
    t->context = PyContext_CopyCurrent();
    t->result = NULL;
    t->exc = NULL;
    t->ex = NULL;
    t->prev = t->next = NULL;
    t->self_waker = NULL;
    t->waiters = NULL;
    t->nwaiters = t->capwaiters = 0;
    t->state = TASK_PENDING;
    t->cancel_requested = 0;
    t->exc_retrieved = 0;
    t->weakreflist = NULL;
    PyObject_GC_Track(t);
    if (!t->context) {
        Py_DECREF(t);
        return NULL;
    }
    /* The tag is the Task itself: the executor's list keeps it alive until
     * the library reports the task finished. */
    int rc = tf_executor_spawn_external(self->ex, (uint64_t)(uintptr_t)t);
    if (rc < 0) {
        Py_DECREF(t);
        return (TaskObject *)tfpy_raise(st, rc, "tf_executor_spawn_external");
    }
    Py_INCREF(t);
    executor_link(self, t);
    return t;
}

typedef enum { SEND_NEXT, SEND_RETURN, SEND_ERROR } tfpy_send;

/* Throw `exc` (borrowed) into the coroutine, with send()'s outcome. */
static tfpy_send tfpy_throw(PyObject *coro, PyObject *exc, PyObject **out) {
    PyObject *r = PyObject_CallMethod(coro, "throw", "O", exc);
    if (r) {
        *out = r;
        return SEND_NEXT;
    }
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
        PyObject *stop = tfpy_fetch_exception();
        PyObject *value = stop ? PyObject_GetAttrString(stop, "value") : NULL;
        Py_XDECREF(stop);
        if (!value)
            return SEND_ERROR;
        *out = value;
        return SEND_RETURN;
    }
    return SEND_ERROR;
}

/* Resume one task once. Returns 0, or -1 with an exception set when the
 * whole run must stop (KeyboardInterrupt, SystemExit, a library failure).
 * tf_executor_report() is called exactly once either way. */
static int executor_poll(ExecutorObject *self, TaskObject *t,
                         const tf_waker *waker) {
    tfpy_state *st = tfpy_state_of(self);
    int abort = 0, result = TF_READY;
    PyObject *res = NULL;
    tfpy_send sr;

    Py_INCREF(t);
    if (t->state != TASK_PENDING || !t->coro)
        goto report; /* dropped while queued */
    if (!t->self_waker && tf_waker_clone(waker, &t->self_waker) < 0)
        t->self_waker = NULL; /* only cancel() needs it; it then can't wake */

    tfpy_ctx ctx = {st, self, t, waker, tfpy_running_loop_id(st)};
    tfpy_ctx *saved = tfpy_current;
    int entered = PyContext_Enter(t->context) == 0;
    tfpy_current = &ctx;
    if (!entered) {
        /* Only if the context is already entered: fail the task with it. */
        sr = SEND_ERROR;
        goto step_done;
    }
    if (t->cancel_requested) {
        t->cancel_requested = 0;
        PyObject *e = task_new_cancelled_error(st);
        sr = e ? tfpy_throw(t->coro, e, &res) : SEND_ERROR;
        Py_XDECREF(e);
    } else {
        switch (PyIter_Send(t->coro, Py_None, &res)) {
        case PYGEN_NEXT: sr = SEND_NEXT; break;
        case PYGEN_RETURN: sr = SEND_RETURN; break;
        default: sr = SEND_ERROR; break;
        }
    }
step_done:
    for (;;) {
        if (sr == SEND_NEXT) {
            if (res == st->pending) {
                Py_DECREF(res);
                result = TF_PENDING;
                break;
            }
            if (res == Py_None) {
                /* A bare yield (yield_now(), asyncio.sleep(0)): run again
                 * after the other ready tasks. */
                Py_DECREF(res);
                tf_waker_wake_by_ref(waker);
                result = TF_PENDING;
                break;
            }
            /* A foreign awaitable would wait for ever for a wake that only
             * its own event loop can give: refuse it inside the coroutine. */
            PyObject *msg = PyUnicode_FromFormat(
                "a task run by timefuture awaited %R, which is not a "
                "timefuture awaitable; only timefuture.sleep, sleep_until, "
                "Timer, yield_now and Task handles can be awaited here "
                "(asyncio objects need an asyncio event loop)",
                res);
            Py_DECREF(res);
            res = NULL;
            PyObject *err =
                msg ? PyObject_CallOneArg(PyExc_RuntimeError, msg) : NULL;
            Py_XDECREF(msg);
            if (!err) {
                sr = SEND_ERROR;
                continue;
            }
            sr = tfpy_throw(t->coro, err, &res);
            Py_DECREF(err);
            continue;
        }
        if (sr == SEND_RETURN) {
            task_finish(t, TASK_DONE, res, NULL);
            res = NULL;
            break;
        }
        /* SEND_ERROR */
        PyObject *exc = tfpy_fetch_exception();
        if (!exc) {
            exc = PyObject_CallFunction(PyExc_SystemError, "s",
                                        "coroutine failed without exception");
            if (!exc) {
                PyErr_Clear();
                exc = Py_NewRef(Py_None);
            }
        }
        if (PyErr_GivenExceptionMatches(exc, PyExc_KeyboardInterrupt) ||
            PyErr_GivenExceptionMatches(exc, PyExc_SystemExit)) {
            /* Like asyncio: these end the whole run, not just the task. */
            Py_INCREF(exc);
            task_finish(t, TASK_DONE, NULL, exc);
            t->exc_retrieved = 1;
            tfpy_restore_exception(exc);
            Py_DECREF(exc);
            abort = 1;
        } else if (PyErr_GivenExceptionMatches(exc, st->CancelledError)) {
            task_finish(t, TASK_CANCELLED, NULL, exc);
        } else {
            task_finish(t, TASK_DONE, NULL, exc);
        }
        break;
    }
    tfpy_current = saved;
    if (entered && PyContext_Exit(t->context) < 0)
        PyErr_WriteUnraisable((PyObject *)t);

report:;
    int rc = tf_executor_report(self->ex, waker, result);
    if (result == TF_READY) {
        if (t->state == TASK_PENDING) /* dropped path never gets here */
            task_finish(t, TASK_CANCELLED, NULL, NULL);
        if (t->ex == self) {
            executor_unlink(self, t);
            Py_DECREF(t); /* the list's reference */
        }
    }
    Py_DECREF(t);
    if (rc < 0 && !abort) {
        tfpy_raise(st, rc, "tf_executor_report");
        return -1;
    }
    return abort ? -1 : 0;
}

/* Poll tasks until `until` has finished (or, if NULL, until no task is
 * left). The GIL is released whenever the loop waits. On failure (Ctrl-C
 * included) every task is dropped and the library executor freed. */
static int executor_run_loop(ExecutorObject *self, TaskObject *until) {
    tfpy_state *st = tfpy_state_of(self);
    unsigned polls = 0;
    int rc;
    uint64_t tag;
    const tf_waker *waker;

    self->running = 1;
    for (;;) {
        if (until && until->state != TASK_PENDING)
            break;
        rc = tf_executor_next(self->ex, 0, &tag, &waker);
        if (rc == TF_ETIMEDOUT) {
            if (PyErr_CheckSignals() < 0)
                goto fail;
            Py_BEGIN_ALLOW_THREADS
            rc = tf_executor_next(self->ex, TFPY_WAIT_SLICE_NS, &tag, &waker);
            Py_END_ALLOW_THREADS
            if (rc == TF_ETIMEDOUT)
                continue;
        }
        if (rc == TF_EEMPTY) {
            if (until) {
                PyErr_SetString(PyExc_RuntimeError,
                                "the executor has no task left but the "
                                "awaited task is not done");
                goto fail;
            }
            break;
        }
        if (rc < 0) {
            tfpy_raise(st, rc, "tf_executor_next");
            goto fail;
        }
        if (executor_poll(self, (TaskObject *)(uintptr_t)tag, waker) < 0)
            goto fail;
        if ((++polls & TFPY_SIGNAL_CHECK_MASK) == 0 &&
            PyErr_CheckSignals() < 0)
            goto fail;
    }
    self->running = 0;
    return 0;
fail:
    self->running = 0;
    executor_drop_all(self);
    return -1;
}

static int executor_check_can_run(ExecutorObject *self) {
    if (tfpy_driver(tfpy_state_of(self))) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot run an executor from inside a task that a "
                        "timefuture executor is running; await instead");
        return -1;
    }
    if (self->running) {
        PyErr_SetString(PyExc_RuntimeError, "the executor is already running");
        return -1;
    }
    if (self->closed) {
        PyErr_SetString(PyExc_RuntimeError, "the executor is closed");
        return -1;
    }
    return 0;
}

static int tfpy_parse_threads(PyObject *obj, uint32_t *out) {
    if (!obj || obj == Py_None) {
        *out = 0;
        return 0;
    }
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "threads must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < 0 || v > 1024) {
        PyErr_Format(PyExc_ValueError,
                     "threads must be between 0 and 1024, got %R", obj);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static PyObject *Executor_new(PyTypeObject *type, PyObject *args,
                              PyObject *kwds) {
    static char *kwlist[] = {"threads", NULL};
    PyObject *threads_obj = NULL;
    uint32_t threads;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Executor", kwlist,
                                     &threads_obj))
        return NULL;
    if (tfpy_parse_threads(threads_obj, &threads) < 0)
        return NULL;
    ExecutorObject *self = (ExecutorObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->threads = threads;
    if (executor_ensure(self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int Executor_traverse(ExecutorObject *self, visitproc visit,
                             void *arg) {
    Py_VISIT(Py_TYPE(self));
    for (TaskObject *t = self->head; t; t = t->next)
        Py_VISIT((PyObject *)t);
    return 0;
}

static int Executor_clear(ExecutorObject *self) {
    /* Normally tp_finalize has emptied the list already. */
    while (self->head) {
        TaskObject *t = self->head;
        executor_unlink(self, t);
        Py_DECREF(t);
    }
    return 0;
}

static void Executor_finalize(ExecutorObject *self) {
    if (!self->running)
        executor_drop_all(self);
}

static void Executor_dealloc(ExecutorObject *self) {
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return;
    PyObject_GC_UnTrack(self);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    Executor_clear(self);
    if (self->ex)
        tf_executor_free(self->ex);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *Executor_spawn(ExecutorObject *self, PyObject *coro) {
    return (PyObject *)executor_spawn(self, coro);
}

static PyObject *Executor_run(ExecutorObject *self, PyObject *unused) {
    (void)unused;
    if (executor_check_can_run(self) < 0 || executor_ensure(self) < 0)
        return NULL;
    if (executor_run_loop(self, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Executor_run_until_complete(ExecutorObject *self,
                                             PyObject *aw) {
    if (executor_check_can_run(self) < 0)
        return NULL;
    TaskObject *t;
    if (Py_IS_TYPE(aw, tfpy_state_of(self)->TaskType)) {
        t = (TaskObject *)Py_NewRef(aw);
        if (t->state == TASK_PENDING && t->ex != self) {
            Py_DECREF(t);
            PyErr_SetString(PyExc_ValueError,
                            "the task belongs to another executor");
            return NULL;
        }
    } else {
        t = executor_spawn(self, aw);
        if (!t)
            return NULL;
    }
    if (t->state == TASK_PENDING && executor_run_loop(self, t) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    PyObject *r = task_outcome(t);
    Py_DECREF(t);
    return r;
}

static PyObject *Executor_close(ExecutorObject *self, PyObject *unused) {
    (void)unused;
    if (self->running) {
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot close an executor while it is running");
        return NULL;
    }
    self->closed = 1;
    executor_drop_all(self);
    Py_RETURN_NONE;
}

static PyObject *Executor_enter(ExecutorObject *self, PyObject *unused) {
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *Executor_exit(ExecutorObject *self, PyObject *args) {
    (void)args;
    PyObject *r = Executor_close(self, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *Executor_get_pending(ExecutorObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSsize_t(self->ntasks);
}

static PyObject *Executor_get_threads(ExecutorObject *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLong(self->threads);
}

static PyObject *Executor_get_closed(ExecutorObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->closed);
}

static PyObject *Executor_capsule(ExecutorObject *self, PyObject *unused) {
    (void)unused;
    if (executor_ensure(self) < 0)
        return NULL;
    return PyCapsule_New(self->ex, "timefuture.tf_executor", NULL);
}

static PyObject *Executor_repr(ExecutorObject *self) {
    return PyUnicode_FromFormat("<timefuture.Executor threads=%u tasks=%zd%s>",
                                (unsigned)self->threads, self->ntasks,
                                self->closed    ? " closed"
                                : self->running ? " running"
                                                : "");
}

static PyMethodDef Executor_methods[] = {
    {"spawn", TFPY_CAST(Executor_spawn), METH_O,
     "spawn($self, coro, /)\n--\n\nSchedule the coroutine as a new task and "
     "return its Task handle.\nIt starts running when the executor runs "
     "(run(), run_until_complete(),\nor at once if called from one of its "
     "tasks). Safe to call from any thread."},
    {"run", TFPY_CAST(Executor_run), METH_NOARGS,
     "run($self, /)\n--\n\nRun tasks until none is left. Exceptions of "
     "tasks stay in their handles.\nCtrl-C raises KeyboardInterrupt after "
     "closing every task."},
    {"run_until_complete", TFPY_CAST(Executor_run_until_complete), METH_O,
     "run_until_complete($self, aw, /)\n--\n\nRun tasks until ``aw`` (a "
     "coroutine, which is spawned, or a Task of\nthis executor) is done; "
     "return its result or raise its exception.\nOther tasks keep their "
     "state and can be run later. The GIL is released\nwhile the executor "
     "waits. Ctrl-C raises KeyboardInterrupt after closing\nevery task."},
    {"close", TFPY_CAST(Executor_close), METH_NOARGS,
     "close($self, /)\n--\n\nClose every unfinished task's coroutine (its "
     "handle becomes cancelled),\nstop the worker threads and free the "
     "library executor. Idempotent."},
    {"capsule", TFPY_CAST(Executor_capsule), METH_NOARGS,
     "capsule($self, /)\n--\n\nA PyCapsule named 'timefuture.tf_executor' "
     "holding the library's\ntf_executor pointer, for C extensions that "
     "spawn C tasks (tf_executor_spawn)\non it; C tasks need threads >= 1. "
     "Valid until close() or until a run\nis interrupted (the executor is "
     "then freed and replaced by a new one)."},
    {"__enter__", TFPY_CAST(Executor_enter), METH_NOARGS,
     "__enter__($self, /)\n--\n\nReturn the executor."},
    {"__exit__", TFPY_CAST(Executor_exit), METH_VARARGS,
     "__exit__($self, *exc_info, /)\n--\n\nClose the executor."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Executor_getset[] = {
    {"pending", (getter)Executor_get_pending, NULL,
     "Number of spawned tasks that have not finished.", NULL},
    {"threads", (getter)Executor_get_threads, NULL,
     "Number of the library's worker threads (they poll C tasks only).",
     NULL},
    {"closed", (getter)Executor_get_closed, NULL,
     "True once close() has been called.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Executor_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ExecutorObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Executor_slots[] = {
    {Py_tp_doc, (void *)"Executor(threads=0)\n--\n\n"
                         "A libtimefuture executor running Python coroutines as tasks.\n\n"
                         "Each coroutine is an external task of the library: the run loop "
                         "takes woken\ntasks with tf_executor_next(), resumes them and "
                         "reports back. Python tasks\nalways run on the thread that calls "
                         "run() or run_until_complete() (they\nneed the GIL); ``threads`` "
                         "starts that many library worker threads, which\npoll only C tasks "
                         "spawned through capsule() by C extensions."},
    {Py_tp_new, TFPY_FN(Executor_new)},
    {Py_tp_repr, TFPY_FN(Executor_repr)},
    {Py_tp_methods, Executor_methods},
    {Py_tp_getset, Executor_getset},
    {Py_tp_traverse, TFPY_FN(Executor_traverse)},
    {Py_tp_clear, TFPY_FN(Executor_clear)},
    {Py_tp_finalize, TFPY_FN(Executor_finalize)},
    {Py_tp_dealloc, TFPY_FN(Executor_dealloc)},
    {Py_tp_members, Executor_members},
    {0, NULL}};

static PyType_Spec Executor_spec = {
    .name = "timefuture.Executor",
    .basicsize = sizeof(ExecutorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Executor_slots,
};

/* ------------------------------------------------------------------------ */
/* Timer and sleep                                                           */
/* ------------------------------------------------------------------------ */

struct TimerObject {
    PyObject_HEAD
    tf_timer *timer;
    uint64_t duration_ns;
    SleepObject *awaiter;  /* borrowed: the await in progress, if any */
    uint8_t cancelled;
    PyObject *weakreflist;
};

enum { SLEEP_INIT = 0, SLEEP_WAITING = 1, SLEEP_ASYNCIO = 2, SLEEP_DONE = 3 };

/* The iterator of one await of a timer. For sleep() it owns its timer; for
 * a Timer it borrows the Timer's (and keeps the Timer alive). */
struct SleepObject {
    PyObject_HEAD
    tf_timer *timer;
    TimerObject *owner;      /* strong, or NULL for sleep() */
    const void *waiter_id;   /* identity of the waiting task's waker */
    tfpy_entry *entry;       /* asyncio mode: the bridge's record, or NULL */
    int err;                 /* asyncio mode: how the wait ended */
    uint8_t state;
};

/* Poll the timer with `waker`, keeping track of which await of a Timer is
 * in progress (a timer stores one waker, so it has one awaiter). If the
 * Timer is cancelled, the library wakes the stored waker and the next poll
 * raises TimerCancelled. */
static int sleep_poll_timer(SleepObject *s, const tf_waker *waker) {
    int rc = tf_timer_poll(s->timer, waker);
    TimerObject *tm = s->owner;
    if (!tm)
        return rc;
    if (rc == TF_PENDING)
        tm->awaiter = s;
    else if (tm->awaiter == s)
        tm->awaiter = NULL;
    return rc;
}

static PyObject *sleep_start_asyncio(SleepObject *s);
static void sleep_abandon(SleepObject *s);

static PyObject *sleep_error(tfpy_state *st, int rc) {
    return tfpy_raise(st, rc, rc == TF_ECANCELED ? "the timer was cancelled"
                                             : "tf_timer_poll");
}

static PyObject *Sleep_iternext(SleepObject *s) {
    if (s->state == SLEEP_DONE)
        return NULL;
    if (s->state == SLEEP_ASYNCIO) {
        if (s->entry) {
            PyErr_SetString(PyExc_RuntimeError,
                            "this timer is already awaited by another task");
            return NULL;
        }
        /* Resumed by asyncio after the bridge saw the timer finish. */
        int err = s->err;
        s->state = err ? SLEEP_INIT : SLEEP_DONE;
        if (err)
            return sleep_error(tfpy_state_of(s), err);
        return NULL;
    }
    TimerObject *tm = s->owner;
    if (tm && tm->awaiter && tm->awaiter != s) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this Timer is already awaited by another task; a "
                        "Timer wakes one awaiter (share a Task handle "
                        "instead)");
        return NULL;
    }
    tfpy_state *st = tfpy_state_of(s);
    tfpy_ctx *ctx = tfpy_driver(st);
    if (!ctx)
        return sleep_start_asyncio(s);
    if (s->state == SLEEP_WAITING && s->waiter_id != (const void *)ctx->waker) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this sleep is already awaited by another task");
        return NULL;
    }
    int rc = sleep_poll_timer(s, ctx->waker);
    if (rc == TF_PENDING) {
        s->state = SLEEP_WAITING;
        s->waiter_id = ctx->waker;
        return Py_NewRef(st->pending);
    }
    s->state = rc == TF_READY ? SLEEP_DONE : SLEEP_INIT;
    if (rc == TF_READY)
        return NULL;
    return sleep_error(tfpy_state_of(s), rc);
}

static PyObject *Sleep_send(SleepObject *s, PyObject *value) {
    if (value != Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "can only send None to a timefuture awaitable");
        return NULL;
    }
    PyObject *r = Sleep_iternext(s);
    if (!r && !PyErr_Occurred())
        PyErr_SetNone(PyExc_StopIteration);
    return r;
}

/* Called through `yield from` when the awaiting coroutine is cancelled or
 * closed: forget the wait, then raise what was thrown. */
static PyObject *Sleep_throw(SleepObject *s, PyObject *const *args,
                             Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    sleep_abandon(s);
    PyObject *typ = args[0];
    PyObject *val = nargs > 1 ? args[1] : Py_None;
    PyObject *tb = nargs > 2 ? args[2] : Py_None;
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "instance exception may not have a separate value");
            return NULL;
        }
        tfpy_restore_exception(typ);
    } else if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, val);
    } else {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes or instances deriving from "
                     "BaseException, not %.100s",
                     Py_TYPE(typ)->tp_name);
        return NULL;
    }
    if (tb != Py_None && PyTraceBack_Check(tb)) {
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        PyErr_NormalizeException(&et, &ev, &etb);
        Py_XDECREF(etb);
        PyErr_Restore(et, ev, Py_NewRef(tb));
    }
    return NULL;
}

static PyObject *Sleep_close(SleepObject *s, PyObject *unused) {
    (void)unused;
    sleep_abandon(s);
    Py_RETURN_NONE;
}

static void Sleep_dealloc(SleepObject *s) {
    /* An entry keeps its sleep alive, so none can point here any more. */
    if (s->owner) {
        if (s->owner->awaiter == s)
            s->owner->awaiter = NULL;
        Py_DECREF(s->owner);
    } else if (s->timer) {
        tf_timer_free(s->timer);
    }
    PyTypeObject *tp = Py_TYPE(s);
    PyObject_Free(s);
    Py_DECREF(tp);
}

static PyObject *Sleep_repr(SleepObject *s) {
    static const char *names[] = {"new", "waiting", "waiting (asyncio)",
                                  "done"};
    uint64_t deadline = 0;
    tf_timer_deadline(s->timer, &deadline);
    double left = ((double)deadline - (double)tf_now_ns()) / 1e9;
    char buf[64];
    PyOS_snprintf(buf, sizeof buf, "%.6f", left);
    return PyUnicode_FromFormat("<timefuture.Sleep %s, deadline in %s s>",
                                names[s->state], buf);
}

static PyMethodDef Sleep_methods[] = {
    {"send", TFPY_CAST(Sleep_send), METH_O,
     "send($self, value, /)\n--\n\nResume the wait (value must be None)."},
    {"throw", TFPY_CAST(Sleep_throw), METH_FASTCALL,
     "throw($self, typ, val=None, tb=None, /)\n--\n\nAbandon the wait and "
     "raise the given exception."},
    {"close", TFPY_CAST(Sleep_close), METH_NOARGS,
     "close($self, /)\n--\n\nAbandon the wait."},
    {NULL, NULL, 0, NULL}};

static PyType_Slot Sleep_slots[] = {
    {Py_tp_doc, (void *)"An awaitable that completes at a deadline of the library's "
                               "timer driver.\n\nMade by sleep(), sleep_until() and by "
                               "awaiting a Timer. Await it once, from\none task."},
    {Py_am_await, TFPY_FN(PyObject_SelfIter)},
    {Py_tp_repr, TFPY_FN(Sleep_repr)},
    {Py_tp_iter, TFPY_FN(PyObject_SelfIter)},
    {Py_tp_iternext, TFPY_FN(Sleep_iternext)},
    {Py_tp_methods, Sleep_methods},
    {Py_tp_dealloc, TFPY_FN(Sleep_dealloc)},
    {0, NULL}};

static PyType_Spec Sleep_spec = {
    .name = "timefuture.Sleep",
    .basicsize = sizeof(SleepObject),
    .flags = Py_TPFLAGS_DEFAULT |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Sleep_slots,
};

static SleepObject *sleep_alloc(tfpy_state *st, tf_timer *timer,
                                TimerObject *owner) {
    SleepObject *s = PyObject_New(SleepObject, st->SleepType);
    if (!s)
        return NULL;
    s->timer = timer;
    s->owner = owner;
    Py_XINCREF(owner);
    s->waiter_id = NULL;
    s->entry = NULL;
    s->err = 0;
    s->state = SLEEP_INIT;
    return s;
}

/* Wraps a timer just made (rc from its tf_timer_new*) in a sleep awaitable
 * that owns it. */
static PyObject *sleep_wrap(tfpy_state *st, int rc, tf_timer *timer,
                            const char *what) {
    if (rc < 0)
        return tfpy_raise(st, rc, what);
    SleepObject *s = sleep_alloc(st, timer, NULL);
    if (!s)
        tf_timer_free(timer);
    return (PyObject *)s;
}

static PyObject *tfpy_sleep(PyObject *module, PyObject *seconds) {
    uint64_t ns;
    if (tfpy_seconds_to_ns(seconds, "seconds", &ns) < 0)
        return NULL;
    tf_timer *timer = NULL;
    int rc = tf_timer_new(ns, &timer);
    return sleep_wrap(tfpy_module_state(module), rc, timer, "tf_timer_new");
}

static PyObject *tfpy_sleep_until(PyObject *module, PyObject *deadline) {
    uint64_t ns;
    if (tfpy_seconds_to_ns(deadline, "deadline", &ns) < 0)
        return NULL;
    tf_timer *timer = NULL;
    int rc = tf_timer_new_at(ns, &timer);
    return sleep_wrap(tfpy_module_state(module), rc, timer,
                      "tf_timer_new_at");
}

static PyObject *Timer_new(PyTypeObject *type, PyObject *args,
                           PyObject *kwds) {
    static char *kwlist[] = {"seconds", NULL};
    PyObject *seconds;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Timer", kwlist, &seconds))
        return NULL;
    uint64_t ns;
    if (tfpy_seconds_to_ns(seconds, "seconds", &ns) < 0)
        return NULL;
    tfpy_state *st = PyType_GetModuleState(type);
    TimerObject *self = (TimerObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    int rc = tf_timer_new(ns, &self->timer);
    if (rc < 0) {
        self->timer = NULL;
        Py_DECREF(self);
        return tfpy_raise(st, rc, "tf_timer_new");
    }
    self->duration_ns = ns;
    return (PyObject *)self;
}

static void Timer_dealloc(TimerObject *self) {
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->timer)
        tf_timer_free(self->timer);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *Timer_await(TimerObject *self) {
    return (PyObject *)sleep_alloc(tfpy_state_of(self), self->timer, self);
}

static PyObject *Timer_reset(TimerObject *self, PyObject *args,
                             PyObject *kwds) {
    tfpy_state *st = tfpy_state_of(self);
    static char *kwlist[] = {"seconds", NULL};
    PyObject *seconds = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:reset", kwlist, &seconds))
        return NULL;
    uint64_t ns = self->duration_ns;
    if (seconds != Py_None && tfpy_seconds_to_ns(seconds, "seconds", &ns) < 0)
        return NULL;
    int rc = tf_timer_reset(self->timer, ns);
    if (rc < 0)
        return tfpy_raise(st, rc, "tf_timer_reset");
    self->duration_ns = ns;
    self->cancelled = 0;
    Py_RETURN_NONE;
}

static PyObject *Timer_cancel(TimerObject *self, PyObject *unused) {
    tfpy_state *st = tfpy_state_of(self);
    (void)unused;
    int rc = tf_timer_cancel(self->timer);
    if (rc == TF_ESTATE)
        Py_RETURN_FALSE;
    if (rc < 0)
        return tfpy_raise(st, rc, "tf_timer_cancel");
    /* The library wakes the awaiting task, which then sees TimerCancelled. */
    self->cancelled = 1;
    Py_RETURN_TRUE;
}

static PyObject *Timer_get_deadline(TimerObject *self, void *closure) {
    tfpy_state *st = tfpy_state_of(self);
    (void)closure;
    uint64_t d;
    int rc = tf_timer_deadline(self->timer, &d);
    if (rc < 0)
        return tfpy_raise(st, rc, "tf_timer_deadline");
    return PyFloat_FromDouble((double)d / 1e9);
}

static PyObject *Timer_get_duration(TimerObject *self, void *closure) {
    (void)closure;
    return PyFloat_FromDouble((double)self->duration_ns / 1e9);
}

static PyObject *Timer_get_cancelled(TimerObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->cancelled);
}

static PyObject *Timer_repr(TimerObject *self) {
    uint64_t d = 0;
    tf_timer_deadline(self->timer, &d);
    char buf[64];
    PyOS_snprintf(buf, sizeof buf, "%.6f",
                  ((double)d - (double)tf_now_ns()) / 1e9);
    return PyUnicode_FromFormat("<timefuture.Timer %sdeadline in %s s>",
                                self->cancelled ? "cancelled, " : "", buf);
}

static PyMethodDef Timer_methods[] = {
    {"reset", TFPY_CAST(Timer_reset), METH_VARARGS | METH_KEYWORDS,
     "reset($self, /, seconds=None)\n--\n\nRe-arm the timer to fire "
     "``seconds`` from now (default: the last\nduration given). Works "
     "whether it is armed, fired or cancelled; a task\nawaiting it keeps "
     "waiting for the new deadline."},
    {"cancel", TFPY_CAST(Timer_cancel), METH_NOARGS,
     "cancel($self, /)\n--\n\nDisarm the timer. A task awaiting it gets "
     "TimerCancelled; so does any\nlater await until reset(). Returns True "
     "if the timer was armed, False\nif it had already fired or been "
     "cancelled."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Timer_getset[] = {
    {"deadline", (getter)Timer_get_deadline, NULL,
     "The deadline in seconds on the monotonic() clock.", NULL},
    {"duration", (getter)Timer_get_duration, NULL,
     "The duration of the last arming, in seconds.", NULL},
    {"cancelled", (getter)Timer_get_cancelled, NULL,
     "True after cancel() until the next reset().", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Timer_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TimerObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Timer_slots[] = {
    {Py_tp_doc, (void *)"Timer(seconds)\n--\n\n"
                         "A re-armable timer of the library's driver thread, armed on "
                         "creation.\n\n``await timer`` returns once the deadline has passed "
                         "(at once if it already\nhas), never early: nanosecond deadlines, no "
                         "millisecond rounding. It works\nin tasks of a timefuture executor "
                         "and under asyncio. One task may await a\ngiven Timer at a time."},
    {Py_tp_new, TFPY_FN(Timer_new)},
    {Py_tp_repr, TFPY_FN(Timer_repr)},
    {Py_am_await, TFPY_FN(Timer_await)},
    {Py_tp_methods, Timer_methods},
    {Py_tp_getset, Timer_getset},
    {Py_tp_dealloc, TFPY_FN(Timer_dealloc)},
    {Py_tp_members, Timer_members},
    {0, NULL}};

static PyType_Spec Timer_spec = {
    .name = "timefuture.Timer",
    .basicsize = sizeof(TimerObject),
    .flags = Py_TPFLAGS_DEFAULT |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Timer_slots,
};

/* ------------------------------------------------------------------------ */
/* yield_now                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    uint8_t yielded;
} YieldNowObject;

static PyObject *YieldNow_iternext(YieldNowObject *y) {
    if (y->yielded)
        return NULL;
    y->yielded = 1;
    /* A bare yield: the timefuture run loop wakes the task by reference and
     * reports it pending; asyncio reschedules it with call_soon. */
    return Py_NewRef(Py_None);
}

static void YieldNow_dealloc(YieldNowObject *y) {
    PyTypeObject *tp = Py_TYPE(y);
    PyObject_Free(y);
    Py_DECREF(tp);
}

static PyType_Slot YieldNow_slots[] = {
    {Py_tp_doc, (void *)"The awaitable returned by yield_now()."},
    {Py_am_await, TFPY_FN(PyObject_SelfIter)},
    {Py_tp_iter, TFPY_FN(PyObject_SelfIter)},
    {Py_tp_iternext, TFPY_FN(YieldNow_iternext)},
    {Py_tp_dealloc, TFPY_FN(YieldNow_dealloc)},
    {0, NULL}};

static PyType_Spec YieldNow_spec = {
    .name = "timefuture.YieldNow",
    .basicsize = sizeof(YieldNowObject),
    .flags = Py_TPFLAGS_DEFAULT |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = YieldNow_slots,
};

static PyObject *tfpy_yield_now(PyObject *module, PyObject *unused) {
    (void)unused;
    YieldNowObject *y =
        PyObject_New(YieldNowObject, tfpy_module_state(module)->YieldNowType);
    if (y)
        y->yielded = 0;
    return (PyObject *)y;
}

/* ------------------------------------------------------------------------ */
/* asyncio bridge                                                            */
/* ------------------------------------------------------------------------ */

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

static void bridge_entry_free(BridgeObject *b, tfpy_entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        b->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    if (e->sleep->entry == e)
        e->sleep->entry = NULL;
    if (e->waker)
        tf_waker_drop(e->waker);
    Py_DECREF(e->sleep);
    Py_DECREF(e->fut);
    PyMem_Free(e);
}

static void sleep_abandon(SleepObject *s) {
    tfpy_entry *e = s->entry;
    if (e) {
        s->entry = NULL;
        e->dead = 1;
        /* Let the bridge report the entry finished; before its first poll it
         * is already queued. */
        if (e->waker)
            tf_waker_wake_by_ref(e->waker);
    }
    if (s->owner && s->owner->awaiter == s)
        s->owner->awaiter = NULL;
    if (s->state != SLEEP_DONE)
        s->state = SLEEP_INIT;
}

/* Polls one timer wait that the drain handed out, and reports it. */
static int bridge_poll_entry(BridgeObject *b, uint64_t tag,
                             const tf_waker *waker) {
    tfpy_state *st = tfpy_state_of(b);
    {
        tfpy_entry *e = (tfpy_entry *)(uintptr_t)tag;
        int done = 1;
        if (!e->dead) {
            if (!e->waker && tf_waker_clone(waker, &e->waker) < 0)
                e->waker = NULL;
            SleepObject *s = e->sleep;
            int prc = sleep_poll_timer(s, waker);
            if (prc == TF_PENDING) {
                done = 0;
            } else {
                s->err = prc == TF_READY ? 0 : prc;
                s->entry = NULL;
                PyObject *isdone = PyObject_CallMethod(e->fut, "done", NULL);
                if (isdone == Py_False) {
                    PyObject *r =
                        PyObject_CallMethod(e->fut, "set_result", "O", Py_None);
                    if (!r)
                        PyErr_WriteUnraisable(e->fut);
                    Py_XDECREF(r);
                } else if (!isdone) {
                    PyErr_WriteUnraisable(e->fut);
                }
                Py_XDECREF(isdone);
            }
        }
        int rc = tf_executor_report(b->ex, waker, done ? TF_READY : TF_PENDING);
        if (done)
            bridge_entry_free(b, e);
        if (rc < 0) {
            tfpy_raise(st, rc, "tf_executor_report");
            return -1;
        }
    }
    return 0;
}

/* The loop's reader callback: one tf_executor_drain, which leaves the fd
 * readable if more is ready, so the loop calls again on its next turn
 * (other callbacks get their turn in between). */
static PyObject *Bridge_on_readable(BridgeObject *b, PyObject *unused) {
    (void)unused;
    tfpy_state *st = tfpy_state_of(b);
    enum { BATCH = 256 };
    uint64_t tags[BATCH];
    const tf_waker *wakers[BATCH];
    size_t taken = 0;
    if (!b->ex)
        Py_RETURN_NONE;
    Py_INCREF(b);
    int rc = tf_executor_drain(b->ex, tags, wakers, BATCH, &taken);
    if (rc < 0) {
        Py_DECREF(b);
        return tfpy_raise(st, rc, "tf_executor_drain");
    }
    PyObject *first = NULL;
    for (size_t i = 0; i < taken; i++) {
        /* Every task taken is reported, even after an error; the first
         * error is raised. */
        if (bridge_poll_entry(b, tags[i], wakers[i]) < 0) {
            if (!first)
                first = tfpy_fetch_exception();
            else
                PyErr_Clear();
        }
    }
    Py_DECREF(b);
    if (first) {
        tfpy_restore_exception(first);
        Py_DECREF(first);
        return NULL;
    }
    Py_RETURN_NONE;
}

static int Bridge_traverse(BridgeObject *b, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(b));
    for (tfpy_entry *e = b->head; e; e = e->next) {
        Py_VISIT((PyObject *)e->sleep);
        Py_VISIT(e->fut);
    }
    return 0;
}

static int Bridge_clear(BridgeObject *b) {
    if (b->ex) {
        tf_executor_free(b->ex); /* forgets the external tasks */
        b->ex = NULL;
    }
    while (b->head) {
        tfpy_entry *e = b->head;
        if (e->sleep->entry == e)
            e->sleep->err = TF_ESHUTDOWN;
        bridge_entry_free(b, e);
    }
    return 0;
}

static void Bridge_dealloc(BridgeObject *b) {
    PyObject_GC_UnTrack(b);
    if (b->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)b);
    Bridge_clear(b);
    PyTypeObject *tp = Py_TYPE(b);
    PyObject_GC_Del(b);
    Py_DECREF(tp);
}

static PyMethodDef Bridge_methods[] = {
    {"_on_readable", TFPY_CAST(Bridge_on_readable), METH_NOARGS,
     "_on_readable($self, /)\n--\n\nPoll every woken timer wait (the loop "
     "calls this when the fd is readable)."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef Bridge_members[] = {
    {"fd", T_INT, offsetof(BridgeObject, fd), READONLY,
     "The library executor's eventfd that the loop watches."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(BridgeObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Bridge_slots[] = {
    {Py_tp_doc, (void *)"Per-event-loop link between asyncio and the library: an "
                               "executor whose\neventfd the loop watches with add_reader()."},
    {Py_tp_methods, Bridge_methods},
    {Py_tp_members, Bridge_members},
    {Py_tp_traverse, TFPY_FN(Bridge_traverse)},
    {Py_tp_clear, TFPY_FN(Bridge_clear)},
    {Py_tp_dealloc, TFPY_FN(Bridge_dealloc)},
    {0, NULL}};

static PyType_Spec Bridge_spec = {
    .name = "timefuture._AsyncioBridge",
    .basicsize = sizeof(BridgeObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Bridge_slots,
};

/* The running asyncio loop (new reference), or NULL with an exception. */
static PyObject *tfpy_running_loop(tfpy_state *st) {
    const void *id = tfpy_running_loop_id(st);
    if (!id) {
        PyErr_SetString(PyExc_RuntimeError,
                        "timefuture awaitables must be awaited in a task of "
                        "timefuture.run() or an Executor, or in a running "
                        "asyncio event loop");
        return NULL;
    }
    /* The loop is running, hence alive; only its identity was kept. */
    return Py_NewRef((PyObject *)id);
}

static BridgeObject *tfpy_bridge_for(tfpy_state *st, PyObject *loop) {
    PyObject *ref = PyObject_CallMethod(st->bridges, "get", "O", loop);
    if (!ref)
        return NULL;
    if (ref != Py_None) {
        PyObject *b = PyWeakref_GetObject(ref); /* borrowed */
        Py_DECREF(ref);
        if (b != Py_None)
            return (BridgeObject *)Py_NewRef(b);
    } else {
        Py_DECREF(ref);
    }

    BridgeObject *br = PyObject_GC_New(BridgeObject, st->BridgeType);
    if (!br)
        return NULL;
    br->ex = NULL;
    br->fd = -1;
    br->head = NULL;
    br->weakreflist = NULL;
    PyObject_GC_Track(br);
    int rc = tf_executor_new(0, &br->ex);
    if (rc < 0) {
        br->ex = NULL;
        Py_DECREF(br);
        return (BridgeObject *)tfpy_raise(st, rc, "tf_executor_new");
    }
    rc = tf_executor_fd(br->ex, &br->fd);
    if (rc < 0) {
        Py_DECREF(br);
        return (BridgeObject *)tfpy_raise(st, rc, "tf_executor_fd");
    }
    PyObject *cb = PyObject_GetAttrString((PyObject *)br, "_on_readable");
    PyObject *r =
        cb ? PyObject_CallMethod(loop, "add_reader", "iO", br->fd, cb) : NULL;
    Py_XDECREF(cb);
    if (!r) {
        Py_DECREF(br);
        return NULL;
    }
    Py_DECREF(r);
    PyObject *wr = PyWeakref_NewRef((PyObject *)br, NULL);
    if (!wr || PyObject_SetItem(st->bridges, loop, wr) < 0) {
        Py_XDECREF(wr);
        Py_DECREF(br);
        return NULL;
    }
    Py_DECREF(wr);
    return br;
}

static PyObject *sleep_start_asyncio(SleepObject *s) {
    /* Already due? Then there is nothing to wait for. A peek, not a poll:
     * polling with the no-op waker would replace a stored waker. */
    int rc = tf_timer_peek(s->timer);
    if (rc == TF_PENDING) {
        /* Due but not yet reached by the driver: a poll fires it. */
        uint64_t deadline;
        if (tf_timer_deadline(s->timer, &deadline) == TF_OK &&
            tf_now_ns() >= deadline)
            rc = sleep_poll_timer(s, tf_waker_noop());
    }
    if (rc != TF_PENDING) {
        s->state = rc == TF_READY ? SLEEP_DONE : SLEEP_INIT;
        return rc == TF_READY ? NULL : sleep_error(tfpy_state_of(s), rc);
    }
    tfpy_state *st = tfpy_state_of(s);
    PyObject *loop = tfpy_running_loop(st);
    if (!loop) {
        sleep_abandon(s);
        return NULL;
    }
    BridgeObject *b = tfpy_bridge_for(st, loop);
    PyObject *fut = b ? PyObject_CallMethod(loop, "create_future", NULL) : NULL;
    Py_DECREF(loop);
    if (!fut) {
        Py_XDECREF(b);
        sleep_abandon(s);
        return NULL;
    }
    /* asyncio's Task only accepts a yielded future marked as blocking. */
    if (PyObject_SetAttrString(fut, "_asyncio_future_blocking", Py_True) < 0)
        goto fail;
    tfpy_entry *e = PyMem_Calloc(1, sizeof *e);
    if (!e) {
        PyErr_NoMemory();
        goto fail;
    }
    rc = tf_executor_spawn_external(b->ex, (uint64_t)(uintptr_t)e);
    if (rc < 0) {
        PyMem_Free(e);
        tfpy_raise(st, rc, "tf_executor_spawn_external");
        goto fail;
    }
    e->sleep = (SleepObject *)Py_NewRef(s);
    e->fut = Py_NewRef(fut);
    e->next = b->head;
    if (b->head)
        b->head->prev = e;
    b->head = e;
    s->entry = e;
    s->err = 0;
    s->state = SLEEP_ASYNCIO;
    if (s->owner)
        s->owner->awaiter = s;
    Py_DECREF(b);
    return fut;
fail:
    Py_DECREF(fut);
    Py_DECREF(b);
    sleep_abandon(s);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Module functions                                                          */
/* ------------------------------------------------------------------------ */

static PyObject *tfpy_run(PyObject *module, PyObject *args, PyObject *kwds) {
    tfpy_state *st = tfpy_module_state(module);
    static char *kwlist[] = {"coro", "threads", NULL};
    PyObject *coro, *threads = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:run", kwlist, &coro,
                                     &threads))
        return NULL;
    if (tfpy_driver(st)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "timefuture.run() cannot be called from a task that a "
                        "timefuture executor is running; await instead");
        return NULL;
    }
    if (tfpy_check_coroutine(coro, "run") < 0)
        return NULL;
    PyObject *targs = PyTuple_New(0);
    PyObject *tkw = threads ? Py_BuildValue("{sO}", "threads", threads) : NULL;
    if (!targs || (threads && !tkw)) {
        Py_XDECREF(targs);
        Py_XDECREF(tkw);
        return NULL;
    }
    ExecutorObject *ex =
        (ExecutorObject *)Executor_new(st->ExecutorType, targs, tkw);
    Py_DECREF(targs);
    Py_XDECREF(tkw);
    if (!ex)
        return NULL;
    PyObject *r = Executor_run_until_complete(ex, coro);
    /* Tasks still running when the main coroutine ends are closed, so that
     * nothing outlives run(). */
    ex->closed = 1;
    executor_drop_all(ex);
    Py_DECREF(ex);
    return r;
}

static PyObject *tfpy_spawn(PyObject *module, PyObject *coro) {
    tfpy_ctx *ctx = tfpy_driver(tfpy_module_state(module));
    if (!ctx) {
        PyErr_SetString(PyExc_RuntimeError,
                        "timefuture.spawn() must be called inside a task of "
                        "a timefuture executor; use Executor.spawn() "
                        "elsewhere");
        return NULL;
    }
    return (PyObject *)executor_spawn(ctx->ex, coro);
}

static PyObject *tfpy_current_task(PyObject *module, PyObject *unused) {
    (void)unused;
    tfpy_ctx *ctx = tfpy_driver(tfpy_module_state(module));
    return Py_NewRef(ctx ? (PyObject *)ctx->task : Py_None);
}

static PyObject *tfpy_monotonic(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyFloat_FromDouble((double)tf_now_ns() / 1e9);
}

static PyObject *tfpy_monotonic_ns(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLongLong(tf_now_ns());
}

static PyObject *tfpy_strerror(PyObject *module, PyObject *arg) {
    (void)module;
    int overflow;
    long v = PyLong_AsLongAndOverflow(arg, &overflow);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    if (overflow || v < INT32_MIN || v > INT32_MAX)
        return PyUnicode_FromString(tf_strerror(INT32_MIN));
    return PyUnicode_FromString(tf_strerror((int)v));
}

static PyMethodDef tfpy_functions[] = {
    {"run", TFPY_CAST(tfpy_run), METH_VARARGS | METH_KEYWORDS,
     "run(coro, *, threads=0)\n--\n\nRun the coroutine on a new Executor "
     "until it finishes and return its\nresult (or raise its exception). "
     "Tasks it spawned that are still\nunfinished are then closed. The GIL is "
     "released while waiting; Ctrl-C\nraises KeyboardInterrupt after closing "
     "every coroutine and freeing the\nexecutor."},
    {"sleep", TFPY_CAST(tfpy_sleep), METH_O,
     "sleep(seconds, /)\n--\n\nAn awaitable that completes ``seconds`` "
     "(int or float, >= 0) from now,\nnever earlier, on the library's timer "
     "driver (nanosecond deadlines).\nUse it as ``await timefuture."
     "sleep(0.1)`` under timefuture.run(), an\nExecutor or asyncio."},
    {"sleep_until", TFPY_CAST(tfpy_sleep_until), METH_O,
     "sleep_until(deadline, /)\n--\n\nAn awaitable that completes at "
     "``deadline``, in seconds on the\nmonotonic() clock."},
    {"yield_now", TFPY_CAST(tfpy_yield_now), METH_NOARGS,
     "yield_now()\n--\n\nAn awaitable that lets the other ready tasks run "
     "once: the task wakes\nitself and is polled again after them (under "
     "asyncio, like asyncio.sleep(0))."},
    {"spawn", TFPY_CAST(tfpy_spawn), METH_O,
     "spawn(coro, /)\n--\n\nSpawn the coroutine on the executor running the "
     "current task and return\nits Task handle (like asyncio.create_task). "
     "Only valid inside a task."},
    {"current_task", TFPY_CAST(tfpy_current_task), METH_NOARGS,
     "current_task()\n--\n\nThe Task being run by a timefuture executor on "
     "this thread, or None."},
    {"monotonic", TFPY_CAST(tfpy_monotonic), METH_NOARGS,
     "monotonic()\n--\n\nThe library's monotonic clock (the clock of every "
     "deadline), in seconds."},
    {"monotonic_ns", TFPY_CAST(tfpy_monotonic_ns), METH_NOARGS,
     "monotonic_ns()\n--\n\nThe library's monotonic clock, in nanoseconds."},
    {"strerror", TFPY_CAST(tfpy_strerror), METH_O,
     "strerror(code, /)\n--\n\nThe library's text for a status code "
     "(tf_strerror)."},
    {NULL, NULL, 0, NULL}};

static int tfpy_traverse(PyObject *m, visitproc visit, void *arg) {
    tfpy_state *st = tfpy_module_state(m);
    Py_VISIT(st->pending);
    Py_VISIT(st->CancelledError);
    Py_VISIT(st->bridges);
    Py_VISIT(st->get_running_loop);
    Py_VISIT(st->ErrorType);
    Py_VISIT(st->TimerCancelledType);
    Py_VISIT(st->ExecutorType);
    Py_VISIT(st->TaskType);
    Py_VISIT(st->TaskWaitType);
    Py_VISIT(st->SleepType);
    Py_VISIT(st->TimerType);
    Py_VISIT(st->YieldNowType);
    Py_VISIT(st->BridgeType);
    return 0;
}

static int tfpy_clear(PyObject *m) {
    tfpy_state *st = tfpy_module_state(m);
    Py_CLEAR(st->pending);
    Py_CLEAR(st->CancelledError);
    Py_CLEAR(st->bridges);
    Py_CLEAR(st->get_running_loop);
    Py_CLEAR(st->ErrorType);
    Py_CLEAR(st->TimerCancelledType);
    Py_CLEAR(st->ExecutorType);
    Py_CLEAR(st->TaskType);
    Py_CLEAR(st->TaskWaitType);
    Py_CLEAR(st->SleepType);
    Py_CLEAR(st->TimerType);
    Py_CLEAR(st->YieldNowType);
    Py_CLEAR(st->BridgeType);
    return 0;
}

static void tfpy_free(void *m) { tfpy_clear((PyObject *)m); }

/* Makes the type of `spec` for module `m` into *slot; also adds it to the
 * module as `name` unless name is NULL (the private types). */
static int tfpy_add_type(PyObject *m, PyTypeObject **slot, PyType_Spec *spec,
                         PyObject *base, const char *name) {
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, base);
    if (!*slot)
        return -1;
    return name ? PyModule_AddObjectRef(m, name, (PyObject *)*slot) : 0;
}

static int tfpy_exec(PyObject *m) {
    tfpy_state *st = tfpy_module_state(m);
    if (tfpy_add_type(m, &st->ErrorType, &Error_spec, PyExc_Exception,
                      "Error") < 0 ||
        tfpy_add_type(m, &st->TimerCancelledType, &TimerCancelled_spec,
                      (PyObject *)st->ErrorType, "TimerCancelled") < 0 ||
        tfpy_add_type(m, &st->ExecutorType, &Executor_spec, NULL,
                      "Executor") < 0 ||
        tfpy_add_type(m, &st->TaskType, &Task_spec, NULL, "Task") < 0 ||
        tfpy_add_type(m, &st->TaskWaitType, &TaskWait_spec, NULL, NULL) < 0 ||
        tfpy_add_type(m, &st->SleepType, &Sleep_spec, NULL, "Sleep") < 0 ||
        tfpy_add_type(m, &st->TimerType, &Timer_spec, NULL, "Timer") < 0 ||
        tfpy_add_type(m, &st->YieldNowType, &YieldNow_spec, NULL,
                      "YieldNow") < 0 ||
        tfpy_add_type(m, &st->BridgeType, &Bridge_spec, NULL, NULL) < 0)
        return -1;

    st->CancelledError = PyErr_NewExceptionWithDoc(
        "timefuture.CancelledError",
        "Thrown into a task's coroutine by Task.cancel(), and raised by "
        "awaiting or\nasking the result of a cancelled task. It derives "
        "from BaseException, like\nasyncio's (a different class).",
        PyExc_BaseException, NULL);
    if (!st->CancelledError ||
        PyModule_AddObjectRef(m, "CancelledError", st->CancelledError) < 0)
        return -1;
    st->pending = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (!st->pending)
        return -1;
    PyObject *weakref = PyImport_ImportModule("weakref");
    if (!weakref)
        return -1;
    st->bridges = PyObject_CallMethod(weakref, "WeakKeyDictionary", NULL);
    Py_DECREF(weakref);
    if (!st->bridges)
        return -1;

    static const struct {
        const char *name;
        int value;
    } codes[] = {
        {"EINVAL", TF_EINVAL},       {"EHANDLE", TF_EHANDLE},
        {"ENOMEM", TF_ENOMEM},       {"ERANGE", TF_ERANGE},
        {"ESHUTDOWN", TF_ESHUTDOWN}, {"ETIMEDOUT", TF_ETIMEDOUT},
        {"EEMPTY", TF_EEMPTY},       {"ECANCELED", TF_ECANCELED},
        {"ESTATE", TF_ESTATE},       {"EBUSY", TF_EBUSY},
        {"ETHREAD", TF_ETHREAD},     {"ESYS", TF_ESYS},
        {"EVERSION", TF_EVERSION},   {"EFORK", TF_EFORK},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (PyModule_AddIntConstant(m, codes[i].name, codes[i].value) < 0)
            return -1;
    if (PyModule_AddStringConstant(m, "__version__", tf_version_string()) < 0 ||
        PyModule_AddIntConstant(m, "version_number", (long)tf_version()) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot tfpy_slots[] = {
    {Py_mod_exec, TFPY_FN(tfpy_exec)},
    {0, NULL}};

static struct PyModuleDef tfpy_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "timefuture._timefuture",
    .m_doc =
        "Python binding of libtimefuture: timers of one driver thread and a "
        "task executor.\n\n"
        "- ``await sleep(s)``, ``await sleep_until(t)`` and ``Timer(s)`` "
        "(reset/cancel)\n  use the library's timer driver: nanosecond "
        "deadlines, never early.\n"
        "- ``run(coro)`` and ``Executor`` run coroutines as library tasks; "
        "``spawn``\n  returns an awaitable Task handle.\n"
        "- The same awaitables work inside asyncio.run(): the loop watches "
        "the\n  library's eventfd (add_reader), so no Python code runs on "
        "the driver thread.",
    .m_size = sizeof(tfpy_state),
    .m_methods = tfpy_functions,
    .m_slots = tfpy_slots,
    .m_traverse = tfpy_traverse,
    .m_clear = tfpy_clear,
    .m_free = tfpy_free,
};

PyMODINIT_FUNC PyInit__timefuture(void) { return PyModuleDef_Init(&tfpy_module); }
