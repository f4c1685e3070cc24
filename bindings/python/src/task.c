/* SPDX-License-Identifier: MIT */
/* Task handles: the outcome of a spawned coroutine, awaitable from other tasks. */
#include "module.h"

/* ------------------------------------------------------------------------ */
/* Task                                                                      */
/* ------------------------------------------------------------------------ */

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
void task_finish(TaskObject *t, int state, PyObject *result,
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

PyObject *task_new_cancelled_error(tfpy_state *st) {
    return PyObject_CallNoArgs(st->CancelledError);
}

/* The outcome of a finished task: its result (new reference), or NULL with
 * its exception raised. */
PyObject *task_outcome(TaskObject *t) {
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
    t->cancelling++;
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

static PyObject *Task_cancelling(TaskObject *t, PyObject *unused) {
    (void)unused;
    return PyLong_FromSsize_t(t->cancelling);
}

static PyObject *Task_uncancel(TaskObject *t, PyObject *unused) {
    (void)unused;
    if (t->cancelling > 0 && --t->cancelling == 0)
        /* No request is left: one not yet delivered is withdrawn, so that a
         * timeout whose block ended first does not cancel what follows. */
        t->cancel_requested = 0;
    return PyLong_FromSsize_t(t->cancelling);
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

PyType_Spec TaskWait_spec = {
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
    {"cancelling", TFPY_CAST(Task_cancelling), METH_NOARGS,
     "cancelling($self, /)\n--\n\nThe number of cancel() requests not yet "
     "undone by uncancel(), as\nasyncio.Task.cancelling()."},
    {"uncancel", TFPY_CAST(Task_uncancel), METH_NOARGS,
     "uncancel($self, /)\n--\n\nUndo one cancel() request and return the "
     "number left (as\nasyncio.Task.uncancel()); at 0 a request not yet "
     "delivered is withdrawn."},
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

PyType_Spec Task_spec = {
    .name = "timefuture.Task",
    .basicsize = sizeof(TaskObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Task_slots,
};
