/* SPDX-License-Identifier: MIT */
/* Executor and its run loop: Python coroutines as external tasks of a library executor. */
#include "module.h"

/* The step being run on this thread (see tfpy_ctx in module.h). */
_Thread_local tfpy_ctx *tfpy_current;

/* The timefuture task that is driving the current coroutine step, or NULL.
 * A task of ours may start another event loop on this thread (asyncio.run()
 * inside timefuture.run()): the coroutines that loop runs are driven by it,
 * not by our task, even though our poll is still on the stack. An
 * executor of another instance of this module (a sub-interpreter, a second
 * copy) does not drive ours either: it would not know our marker. */
tfpy_ctx *tfpy_driver(tfpy_state *st) {
    tfpy_ctx *ctx = tfpy_current;
    if (ctx && (ctx->st != st || tfpy_running_loop_id(st) != ctx->loop))
        return NULL;
    return ctx;
}

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
void executor_drop_all(ExecutorObject *self) {
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
int tfpy_check_coroutine(PyObject *coro, const char *fname) {
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

TaskObject *executor_spawn(ExecutorObject *self, PyObject *coro) {
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
    t->cancelling = 0;
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

PyObject *Executor_new(PyTypeObject *type, PyObject *args,
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

PyObject *Executor_run_until_complete(ExecutorObject *self,
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

PyType_Spec Executor_spec = {
    .name = "timefuture.Executor",
    .basicsize = sizeof(ExecutorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Executor_slots,
};
