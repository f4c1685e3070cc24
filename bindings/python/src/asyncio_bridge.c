/* SPDX-License-Identifier: MIT */
/* The per-loop bridge that lets the awaitables work under asyncio. */
#include "module.h"

/* The identity of the asyncio loop running on this thread, or NULL (none,
 * or asyncio never imported; then no loop can run). Errors are cleared:
 * this only decides who drives an awaitable. */
const void *tfpy_running_loop_id(tfpy_state *st) {
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

/* ------------------------------------------------------------------------ */
/* asyncio bridge                                                            */
/* ------------------------------------------------------------------------ */

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

void sleep_abandon(SleepObject *s) {
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
    if (s->interval && s->interval->awaiter == s)
        s->interval->awaiter = NULL;
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

PyType_Spec Bridge_spec = {
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

PyObject *sleep_start_asyncio(SleepObject *s) {
    /* Already due? Then there is nothing to wait for. A peek, not a poll:
     * polling with the no-op waker would replace a stored waker. */
    int rc;
    if (s->interval) {
        /* An interval has no peek; a READY poll takes the tick, and a
         * PENDING one stores a waker that the bridge's first poll (at
         * once: a new external task is queued) replaces. */
        rc = sleep_poll_timer(s, tf_waker_noop());
    } else if ((rc = tf_timer_peek(s->timer)) == TF_PENDING) {
        /* Due (on its driver's clock) but not yet reached by the driver: a
         * poll fires it. */
        uint64_t deadline;
        if (tf_timer_deadline(s->timer, &deadline) == TF_OK &&
            tfpy_timer_now(s->timer) >= deadline)
            rc = sleep_poll_timer(s, tf_waker_noop());
    }
    if (rc != TF_PENDING)
        return sleep_finish(s, rc);
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
    if (s->interval)
        s->interval->awaiter = s;
    Py_DECREF(b);
    return fut;
fail:
    Py_DECREF(fut);
    Py_DECREF(b);
    sleep_abandon(s);
    return NULL;
}
