/* SPDX-License-Identifier: MIT */
/* Interval: a periodic timer as an async iterator of tick counts, built on
 * the library's experimental interval API (tf_interval), so that the
 * missed-tick policies are the library's own, not a copy of them. Each
 * await of a tick is a Sleep bound to the interval (timer.c), which runs
 * under the module's executors and under asyncio alike. */
#include "module.h"

static const char *const missed_names[] = {"burst", "delay", "skip"};

/* The clock of `iv`'s driver, in ns. */
static int interval_now(IntervalObject *iv, uint64_t *now) {
    tf_driver *d = iv->driver ? iv->driver->driver : tf_driver_default();
    return tf_driver_now(d, now);
}

PyObject *tfpy_interval(PyObject *module, PyObject *args, PyObject *kwds) {
    tfpy_state *st = tfpy_module_state(module);
    static char *kwlist[] = {"period", "missed", "start", "driver", NULL};
    PyObject *period, *missed = NULL, *start = Py_None, *d = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOO:interval", kwlist,
                                     &period, &missed, &start, &d))
        return NULL;
    uint64_t period_ns;
    if (tfpy_seconds_to_ns(period, "period", &period_ns) < 0)
        return NULL;
    if (period_ns == 0) {
        PyErr_SetString(PyExc_ValueError, "period must be > 0");
        return NULL;
    }
    /* tokio's default policy. */
    int policy = TF_MISSED_TICK_BURST;
    if (missed) {
        if (!PyUnicode_Check(missed)) {
            PyErr_Format(PyExc_TypeError, "missed must be a str, not %.100s",
                         Py_TYPE(missed)->tp_name);
            return NULL;
        }
        policy = -1;
        for (int i = 0; i < 3; i++)
            if (PyUnicode_CompareWithASCIIString(missed, missed_names[i]) == 0)
                policy = i;
        if (policy < 0) {
            PyErr_Format(PyExc_ValueError,
                         "missed must be 'burst', 'delay' or 'skip', not %R",
                         missed);
            return NULL;
        }
    }
    DriverObject *driver;
    tf_driver *raw;
    if (tfpy_driver_arg(st, d, &driver, &raw) < 0)
        return NULL;
    if (!raw)
        raw = tf_driver_default();
    uint64_t first;
    if (start == Py_None) {
        /* Like tokio's interval(): the first tick is due at once. */
        int rc = tf_driver_now(raw, &first);
        if (rc < 0)
            return tfpy_raise(st, rc, "tf_driver_now");
    } else if (tfpy_seconds_to_ns(start, "start", &first) < 0) {
        return NULL;
    }
    IntervalObject *self = PyObject_New(IntervalObject, st->IntervalType);
    if (!self)
        return NULL;
    self->iv = NULL;
    self->driver = NULL;
    self->period_ns = period_ns;
    self->policy = (uint32_t)policy;
    self->awaiter = NULL;
    self->weakreflist = NULL;
    int rc = tf_interval_new_on(raw, first, period_ns, (uint32_t)policy,
                                &self->iv);
    if (rc < 0) {
        self->iv = NULL;
        Py_DECREF(self);
        return tfpy_raise(st, rc, "tf_interval_new_on");
    }
    self->driver = (DriverObject *)Py_XNewRef(driver);
    return (PyObject *)self;
}

static void Interval_dealloc(IntervalObject *self) {
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->iv)
        tf_interval_free(self->iv);
    /* After the interval: the driver must outlive it. */
    Py_XDECREF(self->driver);
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyObject *Interval_tick(IntervalObject *self, PyObject *unused) {
    (void)unused;
    SleepObject *s = sleep_alloc(tfpy_state_of(self), NULL, NULL);
    if (s)
        s->interval = (IntervalObject *)Py_NewRef(self);
    return (PyObject *)s;
}

static PyObject *Interval_anext(IntervalObject *self) {
    return Interval_tick(self, NULL);
}

static PyObject *Interval_reset(IntervalObject *self, PyObject *unused) {
    (void)unused;
    int rc = tf_interval_reset(self->iv);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc, "tf_interval_reset");
    Py_RETURN_NONE;
}

static PyObject *Interval_reset_at(IntervalObject *self, PyObject *deadline) {
    uint64_t ns;
    if (tfpy_seconds_to_ns(deadline, "deadline", &ns) < 0)
        return NULL;
    int rc = tf_interval_reset_at(self->iv, ns);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc, "tf_interval_reset_at");
    Py_RETURN_NONE;
}

static PyObject *Interval_cancel(IntervalObject *self, PyObject *unused) {
    (void)unused;
    /* The library wakes the awaiting task, whose await then ends the
     * iteration (StopAsyncIteration). */
    int rc = tf_interval_cancel(self->iv);
    if (rc == TF_ESTATE)
        Py_RETURN_FALSE;
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc, "tf_interval_cancel");
    Py_RETURN_TRUE;
}

static PyObject *Interval_aclose(IntervalObject *self, PyObject *unused) {
    PyObject *r = Interval_cancel(self, unused);
    if (!r)
        return NULL;
    Py_DECREF(r);
    /* An awaitable that is already done: cancelling needs no wait. */
    SleepObject *s = sleep_alloc(tfpy_state_of(self), NULL, NULL);
    if (s)
        s->state = SLEEP_DONE;
    return (PyObject *)s;
}

/* The next tick's deadline for both getters, in seconds (a float) or in
 * nanoseconds (an int); None when no tick is scheduled. */
static PyObject *interval_deadline(IntervalObject *self, int in_ns) {
    uint64_t d;
    int rc = tf_interval_deadline(self->iv, &d);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc, "tf_interval_deadline");
    if (d == UINT64_MAX)
        Py_RETURN_NONE;
    return in_ns ? PyLong_FromUnsignedLongLong(d)
                 : PyFloat_FromDouble((double)d / 1e9);
}

static PyObject *Interval_get_deadline(IntervalObject *self, void *closure) {
    (void)closure;
    return interval_deadline(self, 0);
}

static PyObject *Interval_get_deadline_ns(IntervalObject *self,
                                          void *closure) {
    (void)closure;
    return interval_deadline(self, 1);
}

static PyObject *Interval_get_period(IntervalObject *self, void *closure) {
    (void)closure;
    return PyFloat_FromDouble((double)self->period_ns / 1e9);
}

static PyObject *Interval_get_missed(IntervalObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(missed_names[self->policy]);
}

static PyObject *Interval_get_driver(IntervalObject *self, void *closure) {
    (void)closure;
    return Py_NewRef(self->driver ? (PyObject *)self->driver : Py_None);
}

static PyObject *Interval_repr(IntervalObject *self) {
    uint64_t d = UINT64_MAX, now = 0;
    tf_interval_deadline(self->iv, &d);
    interval_now(self, &now);
    char per[32], left[32];
    PyOS_snprintf(per, sizeof per, "%.6f", (double)self->period_ns / 1e9);
    PyOS_snprintf(left, sizeof left, "%.6f", ((double)d - (double)now) / 1e9);
    return PyUnicode_FromFormat(
        "<timefuture.Interval every %s s, missed=%s, next tick in %s s>", per,
        missed_names[self->policy], d == UINT64_MAX ? "never" : left);
}

static PyMethodDef Interval_methods[] = {
    {"tick", TFPY_CAST(Interval_tick), METH_NOARGS,
     "tick($self, /)\n--\n\nAn awaitable of the next tick: it returns the "
     "number of ticks it stands\nfor (>= 1; always 1 with missed='burst'). "
     "StopAsyncIteration once the\ninterval is cancelled."},
    {"reset", TFPY_CAST(Interval_reset), METH_NOARGS,
     "reset($self, /)\n--\n\nRestart the schedule: the next tick one period "
     "from now, on the\ndriver's clock. Also re-arms a cancelled interval."},
    {"reset_at", TFPY_CAST(Interval_reset_at), METH_O,
     "reset_at($self, deadline, /)\n--\n\nRestart the schedule at "
     "``deadline`` (seconds on the driver's clock);\nthe following ticks "
     "a period apart. Also re-arms a cancelled interval."},
    {"cancel", TFPY_CAST(Interval_cancel), METH_NOARGS,
     "cancel($self, /)\n--\n\nStop the interval: the awaiting task wakes and "
     "its ``async for`` ends\n(StopAsyncIteration), as does every later "
     "tick until reset(). True if it\nwas running, False if already "
     "cancelled."},
    {"aclose", TFPY_CAST(Interval_aclose), METH_NOARGS,
     "aclose($self, /)\n--\n\ncancel(), as an awaitable (the async "
     "generator protocol)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Interval_getset[] = {
    {"deadline", (getter)Interval_get_deadline, NULL,
     "When the next tick is due, in seconds on the driver's clock "
     "(monotonic(),\nor Driver.time()); None once past the 64-bit clock.",
     NULL},
    {"deadline_ns", (getter)Interval_get_deadline_ns, NULL,
     "deadline in nanoseconds (int), exactly.", NULL},
    {"period", (getter)Interval_get_period, NULL, "The period, in seconds.",
     NULL},
    {"missed", (getter)Interval_get_missed, NULL,
     "The missed-tick policy: 'burst', 'delay' or 'skip'.", NULL},
    {"driver", (getter)Interval_get_driver, NULL,
     "The Driver the interval is on, or None for the default driver.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Interval_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(IntervalObject, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Interval_slots[] = {
    {Py_tp_doc,
     (void *)"A periodic timer, made by interval(): an async iterator of "
             "tick counts.\n\nTick k is due at start + k * period on the "
             "driver's clock, never early\nand without drift. ``missed`` "
             "says what a late consumer sees: 'burst'\n(every missed tick, "
             "one per step), 'delay' (one step counting them; the\nschedule "
             "restarts a period later) or 'skip' (one step counting them;\n"
             "the schedule is kept). Built on the library's experimental "
             "interval API."},
    {Py_am_aiter, TFPY_FN(PyObject_SelfIter)},
    {Py_am_anext, TFPY_FN(Interval_anext)},
    {Py_tp_repr, TFPY_FN(Interval_repr)},
    {Py_tp_methods, Interval_methods},
    {Py_tp_getset, Interval_getset},
    {Py_tp_members, Interval_members},
    {Py_tp_dealloc, TFPY_FN(Interval_dealloc)},
    {0, NULL}};

PyType_Spec Interval_spec = {
    .name = "timefuture.Interval",
    .basicsize = sizeof(IntervalObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Interval_slots,
};
