/* SPDX-License-Identifier: MIT */
/* Exceptions of the module and helpers to raise and carry them. */
#include "module.h"

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

PyType_Spec Error_spec = {
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

PyType_Spec TimerCancelled_spec = {
    .name = "timefuture.TimerCancelled",
    .basicsize = sizeof(ErrorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = TimerCancelled_slots,
};

/* Raise the library status `code` as timefuture.Error (TimerCancelled for
 * TF_ECANCELED), with `context` naming the failed operation. */
PyObject *tfpy_raise(tfpy_state *st, int code, const char *context) {
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
PyObject *tfpy_fetch_exception(void) {
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
void tfpy_restore_exception(PyObject *exc) {
    PyObject *tb = PyException_GetTraceback(exc);
    Py_INCREF(exc);
    PyErr_Restore((PyObject *)Py_NewRef(Py_TYPE(exc)), exc, tb);
}

PyObject *tfpy_stop_iteration(PyObject *value) {
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
