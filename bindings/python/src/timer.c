/* SPDX-License-Identifier: MIT */
/* Timer, sleep awaitables and yield_now, over the library's timer driver. */
#include "module.h"

/* ------------------------------------------------------------------------ */
/* Argument helpers                                                          */
/* ------------------------------------------------------------------------ */

/* Convert a number of seconds to whole nanoseconds, rounding up so that a
 * timer never fires before the time asked for. */
/* The number `obj` as a double, or -1 with TypeError/ValueError (NaN). */
static int seconds_as_double(PyObject *obj, const char *what, double *out) {
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
    *out = d;
    return 0;
}

int tfpy_seconds_to_ns(PyObject *obj, const char *what, uint64_t *out) {
    double d;
    if (seconds_as_double(obj, what, &d) < 0)
        return -1;
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

/* ------------------------------------------------------------------------ */
/* Timer and sleep                                                           */
/* ------------------------------------------------------------------------ */

/* Poll the timer with `waker`, keeping track of which await of a Timer is
 * in progress (a timer stores one waker, so it has one awaiter). If the
 * Timer is cancelled, the library wakes the stored waker and the next poll
 * raises TimerCancelled. */
int sleep_poll_timer(SleepObject *s, const tf_waker *waker) {
    IntervalObject *iv = s->interval;
    if (iv) {
        int irc = tf_interval_poll(iv->iv, waker, &s->ticks);
        if (irc == TF_PENDING)
            iv->awaiter = s;
        else if (iv->awaiter == s)
            iv->awaiter = NULL;
        return irc;
    }
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

PyObject *sleep_error(tfpy_state *st, int rc) {
    return tfpy_raise(st, rc, rc == TF_ECANCELED ? "the timer was cancelled"
                                             : "tf_timer_poll");
}

/* How an await ends once the library said `rc`: its value travels in
 * StopIteration (the tick count, or sleep()'s result); a cancelled or
 * exhausted interval ends an `async for` with StopAsyncIteration. */
PyObject *sleep_finish(SleepObject *s, int rc) {
    s->state = rc == TF_READY ? SLEEP_DONE : SLEEP_INIT;
    if (rc == TF_READY) {
        if (s->interval) {
            PyObject *n = PyLong_FromUnsignedLongLong(s->ticks);
            if (!n)
                return NULL;
            tfpy_stop_iteration(n);
            Py_DECREF(n);
            return NULL;
        }
        return s->result ? tfpy_stop_iteration(s->result) : NULL;
    }
    if (s->interval && (rc == TF_ECANCELED || rc == TF_ERANGE)) {
        PyErr_SetNone(PyExc_StopAsyncIteration);
        return NULL;
    }
    return sleep_error(tfpy_state_of(s), rc);
}

static PyObject *Sleep_iternext(SleepObject *s) {
    if (s->state == SLEEP_DONE)
        return NULL;
    if (!s->timer && !s->interval) {
        /* sleep() of a delay <= 0: one bare yield, as asyncio.sleep(0)
         * does (the run loop and asyncio both reschedule the task at once). */
        if (s->state == SLEEP_INIT) {
            s->state = SLEEP_WAITING;
            return Py_NewRef(Py_None);
        }
        return sleep_finish(s, TF_READY);
    }
    if (s->state == SLEEP_ASYNCIO) {
        if (s->entry) {
            PyErr_SetString(PyExc_RuntimeError,
                            "this timer is already awaited by another task");
            return NULL;
        }
        /* Resumed by asyncio after the bridge saw the timer finish. */
        return sleep_finish(s, s->err ? s->err : TF_READY);
    }
    TimerObject *tm = s->owner;
    if (tm && tm->awaiter && tm->awaiter != s) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this Timer is already awaited by another task; a "
                        "Timer wakes one awaiter (share a Task handle "
                        "instead)");
        return NULL;
    }
    IntervalObject *iv = s->interval;
    if (iv && iv->awaiter && iv->awaiter != s) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this Interval is already awaited by another task; "
                        "an Interval wakes one awaiter");
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
    return sleep_finish(s, rc);
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
    } else if (s->interval) {
        if (s->interval->awaiter == s)
            s->interval->awaiter = NULL;
        Py_DECREF(s->interval);
    } else if (s->timer) {
        tf_timer_free(s->timer);
    }
    Py_XDECREF(s->result);
    /* After the timer: the driver must outlive it. */
    Py_XDECREF(s->driver);
    PyTypeObject *tp = Py_TYPE(s);
    PyObject_Free(s);
    Py_DECREF(tp);
}

static PyObject *Sleep_repr(SleepObject *s) {
    static const char *names[] = {"new", "waiting", "waiting (asyncio)",
                                  "done"};
    if (!s->timer)
        return PyUnicode_FromFormat("<timefuture.Sleep %s, %s>",
                                    names[s->state],
                                    s->interval ? "next tick of an Interval"
                                                : "yield once");
    uint64_t deadline = 0;
    tf_timer_deadline(s->timer, &deadline);
    double left = ((double)deadline - (double)tfpy_timer_now(s->timer)) / 1e9;
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
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "See PEP 585 (``Sleep[int]``: what the await returns)."},
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

PyType_Spec Sleep_spec = {
    .name = "timefuture.Sleep",
    .basicsize = sizeof(SleepObject),
    .flags = Py_TPFLAGS_DEFAULT |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Sleep_slots,
};

SleepObject *sleep_alloc(tfpy_state *st, tf_timer *timer,
                                TimerObject *owner) {
    SleepObject *s = PyObject_New(SleepObject, st->SleepType);
    if (!s)
        return NULL;
    s->timer = timer;
    s->owner = owner;
    Py_XINCREF(owner);
    s->interval = NULL;
    s->result = NULL;
    s->ticks = 0;
    s->driver = NULL;
    s->waiter_id = NULL;
    s->entry = NULL;
    s->err = 0;
    s->state = SLEEP_INIT;
    return s;
}

/* Wraps a timer just made (rc from its tf_timer_new*) in a sleep awaitable
 * that owns it, and holds `driver` (may be NULL) for as long. */
static PyObject *sleep_wrap(tfpy_state *st, int rc, tf_timer *timer,
                            DriverObject *driver, const char *what) {
    if (rc < 0)
        return tfpy_raise(st, rc, what);
    SleepObject *s = sleep_alloc(st, timer, NULL);
    if (!s) {
        tf_timer_free(timer);
        return NULL;
    }
    s->driver = driver;
    Py_XINCREF(driver);
    return (PyObject *)s;
}

/* Parses `(value, /, *, driver=None)` for sleep() and sleep_until(). */
static int sleep_args(tfpy_state *st, PyObject *args, PyObject *kwds,
                      const char *format, const char *what, uint64_t *ns,
                      DriverObject **driver, tf_driver **raw) {
    static char *kwlist[] = {"", "driver", NULL};
    PyObject *value, *d = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, &value, &d))
        return -1;
    if (tfpy_seconds_to_ns(value, what, ns) < 0)
        return -1;
    return tfpy_driver_arg(st, d, driver, raw);
}

PyObject *tfpy_sleep(PyObject *module, PyObject *args, PyObject *kwds) {
    tfpy_state *st = tfpy_module_state(module);
    static char *kwlist[] = {"delay", "result", "driver", NULL};
    PyObject *value, *result = Py_None, *d = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O$O:sleep", kwlist, &value,
                                     &result, &d))
        return NULL;
    /* What asyncio.sleep() accepts: a delay <= 0 yields once, one too long
     * for the 64-bit clock (math.inf included) never ends. NaN stays an
     * error: asyncio 3.11 waits for ever on it without a word, later
     * versions raise ValueError, as this always has. */
    double secs;
    if (seconds_as_double(value, "delay", &secs) < 0)
        return NULL;
    DriverObject *driver;
    tf_driver *raw;
    if (tfpy_driver_arg(st, d, &driver, &raw) < 0)
        return NULL;
    tf_timer *timer = NULL;
    int rc = TF_OK;
    const char *what = NULL;
    if (secs > 0) {
        double ns = ceil(secs * 1e9);
        if (ns < TFPY_MAX_NS) {
            what = raw ? "tf_timer_new_on" : "tf_timer_new";
            rc = raw ? tf_timer_new_on(raw, (uint64_t)ns, &timer)
                     : tf_timer_new((uint64_t)ns, &timer);
        } else {
            /* The last deadline there is (UINT64_MAX is reserved): about
             * 584 years of the clock, which no advance of a real clock
             * reaches. */
            what = raw ? "tf_timer_new_at_on" : "tf_timer_new_at";
            rc = raw ? tf_timer_new_at_on(raw, UINT64_MAX - 1, &timer)
                     : tf_timer_new_at(UINT64_MAX - 1, &timer);
        }
    }
    PyObject *s = what ? sleep_wrap(st, rc, timer, driver, what)
                       : (PyObject *)sleep_alloc(st, NULL, NULL);
    if (s && result != Py_None)
        ((SleepObject *)s)->result = Py_NewRef(result);
    return s;
}

PyObject *tfpy_sleep_until(PyObject *module, PyObject *args, PyObject *kwds) {
    tfpy_state *st = tfpy_module_state(module);
    uint64_t ns;
    DriverObject *driver;
    tf_driver *raw;
    if (sleep_args(st, args, kwds, "O|$O:sleep_until", "deadline", &ns,
                   &driver, &raw) < 0)
        return NULL;
    tf_timer *timer = NULL;
    int rc = raw ? tf_timer_new_at_on(raw, ns, &timer)
                 : tf_timer_new_at(ns, &timer);
    return sleep_wrap(st, rc, timer, driver,
                      raw ? "tf_timer_new_at_on" : "tf_timer_new_at");
}

static PyObject *Timer_new(PyTypeObject *type, PyObject *args,
                           PyObject *kwds) {
    static char *kwlist[] = {"seconds", "driver", NULL};
    PyObject *seconds, *d = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:Timer", kwlist,
                                     &seconds, &d))
        return NULL;
    uint64_t ns;
    if (tfpy_seconds_to_ns(seconds, "seconds", &ns) < 0)
        return NULL;
    tfpy_state *st = PyType_GetModuleState(type);
    DriverObject *driver;
    tf_driver *raw;
    if (tfpy_driver_arg(st, d, &driver, &raw) < 0)
        return NULL;
    TimerObject *self = (TimerObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    int rc = raw ? tf_timer_new_on(raw, ns, &self->timer)
                 : tf_timer_new(ns, &self->timer);
    if (rc < 0) {
        self->timer = NULL;
        Py_DECREF(self);
        return tfpy_raise(st, rc, raw ? "tf_timer_new_on" : "tf_timer_new");
    }
    self->driver = (DriverObject *)Py_XNewRef(driver);
    self->duration_ns = ns;
    return (PyObject *)self;
}

static void Timer_dealloc(TimerObject *self) {
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->timer)
        tf_timer_free(self->timer);
    /* After the timer: the driver must outlive it. */
    Py_XDECREF(self->driver);
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

static PyObject *Timer_get_driver(TimerObject *self, void *closure) {
    (void)closure;
    return Py_NewRef(self->driver ? (PyObject *)self->driver : Py_None);
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
                  ((double)d - (double)tfpy_timer_now(self->timer)) / 1e9);
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
     "The deadline in seconds on the clock of the timer's driver: "
     "monotonic(),\nor Driver.time().", NULL},
    {"driver", (getter)Timer_get_driver, NULL,
     "The Driver the timer is on, or None for the default driver.", NULL},
    {"duration", (getter)Timer_get_duration, NULL,
     "The duration of the last arming, in seconds.", NULL},
    {"cancelled", (getter)Timer_get_cancelled, NULL,
     "True after cancel() until the next reset().", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Timer_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TimerObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Timer_slots[] = {
    {Py_tp_doc, (void *)"Timer(seconds, *, driver=None)\n--\n\n"
                         "A re-armable timer of the library's driver thread (or of "
                         "``driver``),\narmed on creation.\n\n``await timer`` returns once the deadline has passed "
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

PyType_Spec Timer_spec = {
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

PyType_Spec YieldNow_spec = {
    .name = "timefuture.YieldNow",
    .basicsize = sizeof(YieldNowObject),
    .flags = Py_TPFLAGS_DEFAULT |
             Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = YieldNow_slots,
};

PyObject *tfpy_yield_now(PyObject *module, PyObject *unused) {
    (void)unused;
    YieldNowObject *y =
        PyObject_New(YieldNowObject, tfpy_module_state(module)->YieldNowType);
    if (y)
        y->yielded = 0;
    return (PyObject *)y;
}
