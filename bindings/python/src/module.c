/* SPDX-License-Identifier: MIT */
/* Module functions, module state and multi-phase init. */
#include "module.h"

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
    {"sleep", TFPY_CAST(tfpy_sleep), METH_VARARGS | METH_KEYWORDS,
     "sleep(delay, result=None, *, driver=None)\n--\n\nAn awaitable that "
     "completes ``delay`` seconds (int or float) from now,\nnever earlier, "
     "and returns ``result``; on the library's timer driver\n(nanosecond "
     "deadlines), or on ``driver`` (a Driver, whose clock \"now\" is\n"
     "then). As asyncio.sleep(): a delay <= 0 yields to the other tasks "
     "once,\nmath.inf (or any delay past the 64-bit clock) waits until "
     "cancelled;\nNaN is a ValueError. Use it as ``await timefuture."
     "sleep(0.1)`` under\ntimefuture.run(), an Executor or asyncio."},
    {"interval", TFPY_CAST(tfpy_interval), METH_VARARGS | METH_KEYWORDS,
     "interval(period, *, missed='burst', start=None, driver=None)\n--\n\n"
     "A periodic timer: ``async for n in interval(0.1)`` gets the number "
     "of ticks\n(>= 1) at each tick. Tick k is due at start + k * period "
     "(start: seconds\non the driver's clock; None: now, so the first tick "
     "is at once, as in\ntokio), never early, without drift. ``missed``: "
     "'burst' (tokio's default:\nevery missed tick, one per step), 'delay' "
     "or 'skip' (one step counting\nthem). Built on the library's "
     "experimental interval API."},
    {"sleep_until", TFPY_CAST(tfpy_sleep_until), METH_VARARGS | METH_KEYWORDS,
     "sleep_until(deadline, /, *, driver=None)\n--\n\nAn awaitable that "
     "completes at ``deadline``, in seconds on the\nmonotonic() clock, or on "
     "``driver``'s clock (Driver.time())."},
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
    Py_VISIT(st->DriverType);
    Py_VISIT(st->IntervalType);
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
    Py_CLEAR(st->DriverType);
    Py_CLEAR(st->IntervalType);
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
        tfpy_add_type(m, &st->BridgeType, &Bridge_spec, NULL, NULL) < 0 ||
        tfpy_add_type(m, &st->DriverType, &Driver_spec, NULL, "Driver") < 0 ||
        tfpy_add_type(m, &st->IntervalType, &Interval_spec, NULL,
                      "Interval") < 0)
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
        "- ``Driver(...)`` is a timer driver of its own, passed as "
        "``driver=``: a manual\n  clock that only advance() moves (for "
        "tests), or one the host loop advances.\n"
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
