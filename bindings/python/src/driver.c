/* SPDX-License-Identifier: MIT */
/* Driver: a timer driver of the library's own (tf_driver), for timers that
 * keep another clock (a manual one for tests, boot time) or that the host's
 * loop advances instead of a thread. */
#include "module.h"

static const char *const clock_names[] = {"monotonic", "boottime", "manual"};
static const char *const mode_names[] = {"thread", "host"};

/* The index of `obj` (a str) in `names`, or -1 with ValueError. */
static int driver_choice(PyObject *obj, const char *what,
                         const char *const *names, int n) {
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (PyUnicode_CompareWithASCIIString(obj, names[i]) == 0)
            return i;
    if (n == 3)
        PyErr_Format(PyExc_ValueError,
                     "%s must be 'monotonic', 'boottime' or 'manual', not %R",
                     what, obj);
    else
        PyErr_Format(PyExc_ValueError,
                     "%s must be 'thread' or 'host', not %R", what, obj);
    return -1;
}

/* A nanosecond time from a Python int in [0, 2**64 - 2] (2**64 - 1 is the
 * library's "now" marker, never a time). */
static int driver_ns_arg(PyObject *obj, const char *what, uint64_t *out) {
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be an int of nanoseconds, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long sv = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (sv == -1 && !overflow && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (!overflow && sv < 0)) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0, got %R", what, obj);
        return -1;
    }
    unsigned long long v = (unsigned long long)sv;
    if (overflow)
        v = PyLong_AsUnsignedLongLong(obj);
    if ((v == (unsigned long long)-1 && PyErr_Occurred()) || v >= UINT64_MAX) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s is too large: %R (at most 2**64 - 2)",
                     what, obj);
        return -1;
    }
    *out = v;
    return 0;
}

/* The live tf_driver of `self`, or NULL with RuntimeError once closed. */
static tf_driver *driver_live(DriverObject *self) {
    if (!self->driver)
        PyErr_SetString(PyExc_RuntimeError, "the driver is closed");
    return self->driver;
}

int tfpy_driver_arg(tfpy_state *st, PyObject *obj, DriverObject **out,
                    tf_driver **raw) {
    *out = NULL;
    *raw = NULL;
    if (!obj || obj == Py_None)
        return 0;
    if (!PyObject_TypeCheck(obj, st->DriverType)) {
        PyErr_Format(PyExc_TypeError,
                     "driver must be a timefuture.Driver or None, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    *raw = driver_live((DriverObject *)obj);
    if (!*raw)
        return -1;
    *out = (DriverObject *)obj;
    return 0;
}

uint64_t tfpy_timer_now(const tf_timer *timer) {
    tf_driver *d = NULL;
    uint64_t now;
    if (timer && tf_timer_driver(timer, &d) == TF_OK &&
        tf_driver_now(d, &now) == TF_OK)
        return now;
    return tf_now_ns();
}

static PyObject *Driver_new(PyTypeObject *type, PyObject *args,
                            PyObject *kwds) {
    static char *kwlist[] = {"clock", "mode", "slack", "start", NULL};
    PyObject *clock = NULL, *mode = Py_None, *slack = NULL, *start = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO$OO:Driver", kwlist,
                                     &clock, &mode, &slack, &start))
        return NULL;
    tfpy_state *st = PyType_GetModuleState(type);
    tf_driver_options o = TF_DRIVER_OPTIONS_INIT;
    int c = TF_CLOCK_MONOTONIC;
    if (clock && (c = driver_choice(clock, "clock", clock_names, 3)) < 0)
        return NULL;
    /* The manual clock only works in host mode, so it is its default. */
    int m = c == TF_CLOCK_MANUAL ? TF_DRIVER_MODE_HOST : TF_DRIVER_MODE_THREAD;
    if (mode != Py_None && (m = driver_choice(mode, "mode", mode_names, 2)) < 0)
        return NULL;
    o.clock = (uint32_t)c;
    o.mode = (uint32_t)m;
    if (slack && tfpy_seconds_to_ns(slack, "slack", &o.slack_ns) < 0)
        return NULL;
    if (start) {
        if (driver_ns_arg(start, "start", &o.start_ns) < 0)
            return NULL;
        /* A real clock starts where it reads: a start time would be lost. */
        if (o.start_ns != 0 && c != TF_CLOCK_MANUAL) {
            PyErr_SetString(PyExc_ValueError,
                            "start is only for clock='manual'");
            return NULL;
        }
    }
    DriverObject *self = (DriverObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    int rc = tf_driver_new(&o, &self->driver);
    if (rc < 0) {
        self->driver = NULL;
        Py_DECREF(self);
        return tfpy_raise(st, rc, "tf_driver_new");
    }
    self->clock = (uint8_t)c;
    self->mode = (uint8_t)m;
    self->slack_ns = o.slack_ns;
    return (PyObject *)self;
}

/* Frees the library driver. Every Timer and Sleep of this driver holds a
 * reference to it, so the last one is gone before this can run. */
static int driver_free(DriverObject *self) {
    tf_driver *d = self->driver;
    if (!d)
        return TF_OK;
    /* Marked closed first: while the GIL is released (a thread-mode
     * driver joins its thread) no other Python thread may use it. */
    self->driver = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = tf_driver_free(d);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        self->driver = d; /* refused: nothing changed, it still works */
    return rc;
}

static void Driver_dealloc(DriverObject *self) {
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    int rc = driver_free(self);
    if (rc < 0) {
        tfpy_raise(tfpy_state_of(self), rc, "tf_driver_free");
        PyErr_WriteUnraisable((PyObject *)self);
    }
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *Driver_close(DriverObject *self, PyObject *unused) {
    (void)unused;
    int rc = driver_free(self);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc,
                          rc == TF_EBUSY ? "tf_driver_free (free the driver's "
                                           "timers and sleeps first)"
                                         : "tf_driver_free");
    Py_RETURN_NONE;
}

static PyObject *Driver_now(DriverObject *self, PyObject *unused) {
    (void)unused;
    tf_driver *d = driver_live(self);
    if (!d)
        return NULL;
    uint64_t now;
    int rc = tf_driver_now(d, &now);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc, "tf_driver_now");
    return PyLong_FromUnsignedLongLong(now);
}

static PyObject *Driver_time(DriverObject *self, PyObject *unused) {
    PyObject *ns = Driver_now(self, unused);
    if (!ns)
        return NULL;
    double s = (double)PyLong_AsUnsignedLongLong(ns) / 1e9;
    Py_DECREF(ns);
    return PyFloat_FromDouble(s);
}

static PyObject *Driver_next_deadline(DriverObject *self, PyObject *unused) {
    (void)unused;
    tf_driver *d = driver_live(self);
    if (!d)
        return NULL;
    uint64_t t;
    int rc = tf_driver_next_deadline(d, &t);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc, "tf_driver_next_deadline");
    if (t == UINT64_MAX)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(t);
}

static PyObject *Driver_advance(DriverObject *self, PyObject *args,
                                PyObject *kwds) {
    static char *kwlist[] = {"to", NULL};
    PyObject *to = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:advance", kwlist, &to))
        return NULL;
    tf_driver *d = driver_live(self);
    if (!d)
        return NULL;
    uint64_t ns = TF_DRIVER_NOW;
    if (to != Py_None && driver_ns_arg(to, "to", &ns) < 0)
        return NULL;
    /* The GIL stays held: the wakes only queue library tasks (no Python
     * code), and a host-mode driver has no thread to wait for. */
    uint64_t fired = 0;
    int rc = tf_driver_advance(d, ns, &fired);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc,
                          rc == TF_ERANGE ? "tf_driver_advance (time cannot "
                                            "go backwards, nor past a real "
                                            "clock)"
                                          : "tf_driver_advance");
    return PyLong_FromUnsignedLongLong(fired);
}

static PyObject *Driver_fileno(DriverObject *self, PyObject *unused) {
    (void)unused;
    tf_driver *d = driver_live(self);
    if (!d)
        return NULL;
    int fd;
    int rc = tf_driver_fd(d, &fd);
    if (rc < 0)
        return tfpy_raise(tfpy_state_of(self), rc,
                          rc == TF_ESTATE ? "tf_driver_fd (only a host-mode "
                                            "driver on a real clock has one)"
                                          : "tf_driver_fd");
    return PyLong_FromLong(fd);
}

static PyObject *Driver_enter(DriverObject *self, PyObject *unused) {
    (void)unused;
    if (!driver_live(self))
        return NULL;
    return Py_NewRef(self);
}

static PyObject *Driver_exit(DriverObject *self, PyObject *args) {
    (void)args;
    PyObject *r = Driver_close(self, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *Driver_get_clock(DriverObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(clock_names[self->clock]);
}

static PyObject *Driver_get_mode(DriverObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(mode_names[self->mode]);
}

static PyObject *Driver_get_slack(DriverObject *self, void *closure) {
    (void)closure;
    return PyFloat_FromDouble((double)self->slack_ns / 1e9);
}

static PyObject *Driver_get_closed(DriverObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->driver == NULL);
}

static PyObject *Driver_repr(DriverObject *self) {
    if (!self->driver)
        return PyUnicode_FromFormat("<timefuture.Driver %s %s, closed>",
                                    clock_names[self->clock],
                                    mode_names[self->mode]);
    uint64_t now = 0;
    tf_driver_now(self->driver, &now);
    return PyUnicode_FromFormat("<timefuture.Driver %s %s, now %llu ns>",
                                clock_names[self->clock],
                                mode_names[self->mode],
                                (unsigned long long)now);
}

static PyMethodDef Driver_methods[] = {
    {"now", TFPY_CAST(Driver_now), METH_NOARGS,
     "now($self, /)\n--\n\nThe driver's clock in nanoseconds (int). For the "
     "manual clock, the time\nof the last advance() (or the start time)."},
    {"time", TFPY_CAST(Driver_time), METH_NOARGS,
     "time($self, /)\n--\n\nThe driver's clock in seconds (float): the clock "
     "of sleep_until(...,\ndriver=self) and of the deadline of its Timers."},
    {"next_deadline", TFPY_CAST(Driver_next_deadline), METH_NOARGS,
     "next_deadline($self, /)\n--\n\nWhen the driver next needs to advance, "
     "in nanoseconds, or None when no\ntimer is armed. It may come before "
     "the earliest deadline (advancing to\nit then fires nothing and the "
     "next call gives a later time)."},
    {"advance", TFPY_CAST(Driver_advance), METH_VARARGS | METH_KEYWORDS,
     "advance($self, /, to=None)\n--\n\nFire the timers due at ``to`` "
     "(nanoseconds; None: the driver's clock as\nit reads now) and return "
     "how many fired; their tasks become ready. The\nmanual clock is set to "
     "``to`` first. Only for host-mode drivers;\ntimefuture.Error (code "
     "ERANGE) if ``to`` is before the last advance, or\nafter a real "
     "clock's reading."},
    {"fileno", TFPY_CAST(Driver_fileno), METH_NOARGS,
     "fileno($self, /)\n--\n\nA descriptor that becomes readable when a "
     "host-mode driver on a real\nclock needs advance(): "
     "``loop.add_reader(driver, driver.advance)``.\nOwned by the driver: do "
     "not read or close it. timefuture.Error (code\nESTATE) in thread mode "
     "or on the manual clock."},
    {"close", TFPY_CAST(Driver_close), METH_NOARGS,
     "close($self, /)\n--\n\nFree the library driver. timefuture.Error "
     "(code EBUSY) while a Timer or\nSleep of it is alive; nothing changes "
     "then. Closing twice is allowed."},
    {"__enter__", TFPY_CAST(Driver_enter), METH_NOARGS,
     "__enter__($self, /)\n--\n\nReturn the driver."},
    {"__exit__", TFPY_CAST(Driver_exit), METH_VARARGS,
     "__exit__($self, exc_type, exc, tb, /)\n--\n\nClose the driver."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Driver_getset[] = {
    {"clock", (getter)Driver_get_clock, NULL,
     "'monotonic', 'boottime' or 'manual'.", NULL},
    {"mode", (getter)Driver_get_mode, NULL, "'thread' or 'host'.", NULL},
    {"slack", (getter)Driver_get_slack, NULL,
     "How late the driver may wake, in seconds.", NULL},
    {"closed", (getter)Driver_get_closed, NULL,
     "True once close() has succeeded.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Driver_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(DriverObject, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Driver_slots[] = {
    {Py_tp_doc,
     (void *)"Driver(clock='monotonic', mode=None, *, slack=0.0, start=0)\n--\n\n"
             "A timer driver of its own: pass it as ``driver=`` to sleep(), "
             "sleep_until()\nand Timer().\n\n"
             "- clock: 'monotonic', 'boottime' (counts time suspended) or "
             "'manual' (moves\n  only by advance(): deterministic tests).\n"
             "- mode: 'thread' (a thread fires the timers) or 'host' (the "
             "caller's advance()\n  does, e.g. from an asyncio reader on "
             "fileno()). Default: 'host' for the\n  manual clock, 'thread' "
             "otherwise.\n"
             "- slack: how late the driver may wake, in seconds, so that "
             "nearby timers fire\n  together.\n"
             "- start: the manual clock's initial time, in nanoseconds."},
    {Py_tp_new, TFPY_FN(Driver_new)},
    {Py_tp_repr, TFPY_FN(Driver_repr)},
    {Py_tp_methods, Driver_methods},
    {Py_tp_getset, Driver_getset},
    {Py_tp_members, Driver_members},
    {Py_tp_dealloc, TFPY_FN(Driver_dealloc)},
    {0, NULL}};

PyType_Spec Driver_spec = {
    .name = "timefuture.Driver",
    .basicsize = sizeof(DriverObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Driver_slots,
};
