/* SPDX-License-Identifier: MIT */
/*
 * The Node.js addon behind the `timefuture` package, written against
 * Node-API (napi_*) and the library's public header only.
 *
 * One tf_executor per Node environment (main thread or worker) lives in the
 * environment's instance data. Every pending timer is an external task of
 * that executor whose tag names an entry of a slab. The library's driver
 * thread only wakes tasks; the executor's eventfd, watched by a uv_poll_t on
 * the environment's loop, tells the loop thread to drain, and only the loop
 * thread polls timers and settles Promises. No JavaScript ever runs on
 * another thread.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timefuture.h"

/* External tasks taken per tf_executor_drain() call, and batches per loop
 * wake-up: large enough that a million fired timers cost few wake-ups, small
 * enough that one wake-up does not hold the loop for long. */
#define TFN_BATCH 1024
#define TFN_MAX_BATCHES 64

enum { KIND_FREE = 0, KIND_TIMEOUT = 1, KIND_TIMER = 2 };

typedef struct tfn_entry {
  tf_timer *timer;
  napi_deferred deferred; /* the pending Promise's resolver, or NULL */
  napi_ref promise;       /* Timer only: the Promise every then() shares */
  uint32_t gen;           /* bumped on reuse, so a stale tag is recognised */
  uint32_t next_free;
  uint8_t kind;
  uint8_t task;     /* the external task exists (spawned, not reported done) */
  uint8_t ref;      /* wants to keep the loop alive while armed */
  uint8_t counted;  /* counted in refs right now */
  uint8_t orphan;   /* Timer object collected: free once the task is done */
  uint8_t fired;    /* Timer: fired since it was last armed */
  uint8_t canceled; /* Timer: cancelled since it was last armed */
} tfn_entry;

/* The poll handle carries the cleanup hook's handle itself: its close
 * callback may run after the state is gone. */
typedef struct tfn_poll {
  uv_poll_t h;
  napi_async_cleanup_hook_handle hook;
} tfn_poll;

typedef struct tfn_state {
  napi_env env;
  tf_executor *ex;
  tfn_poll *poll; /* freed by its close callback */
  tfn_entry *slab;
  uint32_t cap;
  uint32_t free_head; /* UINT32_MAX: none */
  uint64_t refs;      /* entries keeping the loop alive */
  napi_ref resource;  /* async resource for the callback scope */
  napi_async_context actx;
  napi_ref abort_ctor; /* AbortError class (from index.js) for Timer.cancel */
  napi_ref ids_ref;    /* Uint32Array the last started timer's id goes to */
  uint32_t *ids;
  int closed; /* the environment is being torn down: the slab is gone */
  uint64_t tags[TFN_BATCH];
  const tf_waker *wakers[TFN_BATCH];
} tfn_state;

#define NO_FREE UINT32_MAX

/* ---- helpers ------------------------------------------------------------ */

static void throw_status(napi_env env, int status) {
  const char *code = status == TF_ERANGE ? "ERR_OUT_OF_RANGE" : "ERR_TIMEFUTURE";
  if (status == TF_ERANGE)
    napi_throw_range_error(env, code, tf_strerror(status));
  else
    napi_throw_error(env, code, tf_strerror(status));
}

static tfn_state *get_state(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok)
    return NULL;
  tfn_state *st = data;
  if (st == NULL || st->closed) {
    napi_throw_error(env, "ERR_TIMEFUTURE", "timefuture: the environment is shutting down");
    return NULL;
  }
  return st;
}

static void refs_add(tfn_state *st, tfn_entry *e) {
  if (e->ref && !e->counted) {
    e->counted = 1;
    if (st->refs++ == 0)
      uv_ref((uv_handle_t *)&st->poll->h);
  }
}

static void refs_drop(tfn_state *st, tfn_entry *e) {
  if (e->counted) {
    e->counted = 0;
    if (--st->refs == 0)
      uv_unref((uv_handle_t *)&st->poll->h);
  }
}

static uint64_t tag_of(const tfn_state *st, uint32_t idx) {
  return ((uint64_t)st->slab[idx].gen << 32) | idx;
}

/* Returns an index into the slab, or NO_FREE when memory ran out. */
static uint32_t slot_alloc(tfn_state *st) {
  if (st->free_head == NO_FREE) {
    uint32_t ncap = st->cap ? st->cap * 2 : 1024;
    if (ncap <= st->cap || ncap > (UINT32_MAX >> 1))
      return NO_FREE;
    tfn_entry *n = realloc(st->slab, (size_t)ncap * sizeof *n);
    if (n == NULL)
      return NO_FREE;
    memset(n + st->cap, 0, (size_t)(ncap - st->cap) * sizeof *n);
    for (uint32_t i = ncap; i-- > st->cap;) {
      n[i].next_free = st->free_head;
      st->free_head = i;
    }
    st->slab = n;
    st->cap = ncap;
  }
  uint32_t idx = st->free_head;
  tfn_entry *e = &st->slab[idx];
  st->free_head = e->next_free;
  uint32_t gen = e->gen + 1;
  memset(e, 0, sizeof *e);
  e->gen = gen;
  return idx;
}

static void slot_free(tfn_state *st, uint32_t idx) {
  tfn_entry *e = &st->slab[idx];
  refs_drop(st, e);
  if (e->timer != NULL)
    tf_timer_free(e->timer);
  e->timer = NULL;
  e->kind = KIND_FREE;
  e->next_free = st->free_head;
  st->free_head = idx;
}

static tfn_entry *lookup(tfn_state *st, uint64_t tag, uint32_t *idx_out) {
  uint32_t idx = (uint32_t)tag;
  if (idx >= st->cap)
    return NULL;
  tfn_entry *e = &st->slab[idx];
  if (e->kind == KIND_FREE || e->gen != (uint32_t)(tag >> 32))
    return NULL;
  *idx_out = idx;
  return e;
}

/* Milliseconds (a finite double >= 0, checked by index.js and again here)
 * to nanoseconds, rounded up so that a timer is never early. */
static int ms_to_ns(double ms, uint64_t *ns) {
  if (!(ms >= 0.0) || !(ms <= 1.8e13)) /* also refuses NaN */
    return TF_ERANGE;
  double v = ceil(ms * 1e6);
  *ns = (uint64_t)v;
  return TF_OK;
}

static int new_abort_error(napi_env env, tfn_state *st, napi_value *out) {
  napi_value ctor;
  if (st->abort_ctor == NULL || napi_get_reference_value(env, st->abort_ctor, &ctor) != napi_ok ||
      ctor == NULL)
    return napi_throw_error(env, "ERR_TIMEFUTURE", "timefuture: AbortError not registered"), -1;
  return napi_new_instance(env, ctor, 0, NULL, out) == napi_ok ? 0 : -1;
}

/* ---- the loop side: drain the executor and settle Promises -------------- */

static void settle_error(napi_env env, tfn_entry *e, int status) {
  napi_value msg, err;
  if (e->deferred == NULL)
    return;
  if (napi_create_string_utf8(env, tf_strerror(status), NAPI_AUTO_LENGTH, &msg) == napi_ok &&
      napi_create_error(env, NULL, msg, &err) == napi_ok)
    napi_reject_deferred(env, e->deferred, err);
  e->deferred = NULL;
}

static void handle_task(tfn_state *st, uint64_t tag, const tf_waker *waker) {
  napi_env env = st->env;
  uint32_t idx;
  tfn_entry *e = lookup(st, tag, &idx);
  if (e == NULL || e->timer == NULL) {
    /* Cannot happen while tags are only reused after their task ended;
     * completing the task keeps the executor consistent regardless. */
    tf_executor_report(st->ex, waker, TF_READY);
    return;
  }
  int r = tf_timer_poll(e->timer, waker);
  if (r == TF_PENDING && !(e->orphan && e->deferred == NULL)) {
    tf_executor_report(st->ex, waker, TF_PENDING);
    return;
  }
  tf_executor_report(st->ex, waker, TF_READY);
  e->task = 0;
  if (r == TF_READY) {
    if (e->deferred != NULL) {
      napi_value undef;
      napi_get_undefined(env, &undef);
      napi_resolve_deferred(env, e->deferred, undef);
      e->deferred = NULL;
    }
    e->fired = 1;
  } else if (r != TF_ECANCELED && r != TF_PENDING) {
    settle_error(env, e, r);
  }
  refs_drop(st, e);
  if (e->kind == KIND_TIMEOUT || e->orphan)
    slot_free(st, idx);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  tfn_state *st = handle->data;
  if (st == NULL || st->closed)
    return;
  (void)status; /* an error on an eventfd is not expected; draining is safe */
  napi_env env = st->env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok)
    return;
  napi_value resource;
  napi_callback_scope cs;
  int have_cs = napi_get_reference_value(env, st->resource, &resource) == napi_ok &&
                napi_open_callback_scope(env, resource, st->actx, &cs) == napi_ok;
  for (int b = 0; b < TFN_MAX_BATCHES; b++) {
    size_t taken = 0;
    int rc = tf_executor_drain(st->ex, st->tags, st->wakers, TFN_BATCH, &taken);
    if (rc < 0)
      break;
    napi_handle_scope inner;
    int have_inner = napi_open_handle_scope(env, &inner) == napi_ok;
    for (size_t i = 0; i < taken; i++)
      handle_task(st, st->tags[i], st->wakers[i]);
    if (have_inner)
      napi_close_handle_scope(env, inner);
    if (rc == 0)
      break;
    /* rc == 1: more is ready; the fd stays readable if the bound stops us */
  }
  /* Closing the outermost callback scope runs the microtasks (the awaiting
   * code) and process.nextTick callbacks, as after any libuv callback. */
  if (have_cs)
    napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
}

/* ---- starting one-shot timeouts ----------------------------------------- */

/* mode 0: ms (number) from now; 1: ns (bigint) from now; 2: deadline (bigint). */
static napi_value start_timeout(napi_env env, napi_callback_info info, int mode) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "timefuture: two arguments expected");
    return NULL;
  }
  uint64_t v = 0;
  if (mode == 0) {
    double ms;
    if (napi_get_value_double(env, argv[0], &ms) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"delay\" argument must be of type number");
      return NULL;
    }
    if (ms_to_ns(ms, &v) != TF_OK) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The value of \"delay\" is out of range");
      return NULL;
    }
  } else {
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env, argv[0], &v, &lossless) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The argument must be of type bigint");
      return NULL;
    }
    if (!lossless) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The value is out of range");
      return NULL;
    }
  }
  bool ref = true;
  if (napi_get_value_bool(env, argv[1], &ref) != napi_ok)
    ref = true;

  napi_deferred deferred;
  napi_value promise;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok)
    return NULL;
  tf_timer *t = NULL;
  int r = mode == 2 ? tf_timer_new_at(v, &t) : tf_timer_new(v, &t);
  uint32_t idx = NO_FREE;
  if (r == TF_OK) {
    idx = slot_alloc(st);
    if (idx == NO_FREE)
      r = TF_ENOMEM;
  }
  if (r == TF_OK)
    r = tf_executor_spawn_external(st->ex, tag_of(st, idx));
  if (r != TF_OK) {
    /* The Promise is rejected rather than left pending for ever. */
    napi_value err, msg, code;
    napi_create_string_utf8(env, tf_strerror(r), NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, r == TF_ERANGE ? "ERR_OUT_OF_RANGE" : "ERR_TIMEFUTURE",
                            NAPI_AUTO_LENGTH, &code);
    if (r == TF_ERANGE)
      napi_create_range_error(env, code, msg, &err);
    else
      napi_create_error(env, code, msg, &err);
    napi_reject_deferred(env, deferred, err);
    if (idx != NO_FREE) {
      st->slab[idx].kind = KIND_TIMEOUT;
      st->slab[idx].timer = t;
      slot_free(st, idx);
    } else {
      tf_timer_free(t);
    }
    return promise;
  }
  tfn_entry *e = &st->slab[idx];
  e->kind = KIND_TIMEOUT;
  e->timer = t;
  e->deferred = deferred;
  e->task = 1;
  e->ref = ref;
  refs_add(st, e);
  st->ids[0] = idx;
  st->ids[1] = e->gen;
  return promise;
}

static napi_value js_timeout(napi_env env, napi_callback_info info) {
  return start_timeout(env, info, 0);
}
static napi_value js_sleep(napi_env env, napi_callback_info info) {
  return start_timeout(env, info, 1);
}
static napi_value js_sleep_until(napi_env env, napi_callback_info info) {
  return start_timeout(env, info, 2);
}

/* abort(idx, gen, error): rejects a pending timeout with `error` and cancels
 * its timer; the task ends at the next drain. Returns whether it was pending. */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  uint32_t idx = 0, gen = 0, found = 0;
  if (argc == 3 && napi_get_value_uint32(env, argv[0], &idx) == napi_ok &&
      napi_get_value_uint32(env, argv[1], &gen) == napi_ok) {
    uint32_t i;
    tfn_entry *e = lookup(st, ((uint64_t)gen << 32) | idx, &i);
    if (e != NULL && e->kind == KIND_TIMEOUT && e->deferred != NULL) {
      napi_reject_deferred(env, e->deferred, argv[2]);
      e->deferred = NULL;
      refs_drop(st, e);
      tf_timer_cancel(e->timer); /* wakes the task: the drain frees the entry */
      found = 1;
    }
  }
  napi_get_boolean(env, found, &result);
  return result;
}

/* ---- the Timer class ---------------------------------------------------- */

static void timer_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  tfn_state *st = hint;
  if (st == NULL || st->closed)
    return;
  uint32_t idx;
  tfn_entry *e = lookup(st, (uint64_t)(uintptr_t)data, &idx);
  if (e == NULL)
    return;
  if (e->promise != NULL) {
    napi_delete_reference(env, e->promise);
    e->promise = NULL;
  }
  e->orphan = 1;
  if (e->deferred != NULL)
    return; /* still awaited: it settles, then the drain frees it */
  refs_drop(st, e);
  if (e->task)
    tf_timer_cancel(e->timer); /* the drain sees the orphan and frees it */
  else
    slot_free(st, idx);
}

static tfn_entry *timer_arg(napi_env env, tfn_state *st, napi_value v, uint32_t *idx) {
  void *data = NULL;
  napi_valuetype t;
  tfn_entry *e = NULL;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, v, &data) == napi_ok)
    e = lookup(st, (uint64_t)(uintptr_t)data, idx);
  if (e == NULL || e->kind != KIND_TIMER)
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "timefuture: not a Timer handle");
  return e == NULL || e->kind != KIND_TIMER ? NULL : e;
}

/* The one argument of a timer call, a Timer handle: its entry (with the
 * environment's state and the entry's index), or NULL with an exception
 * pending. */
static tfn_entry *sole_timer_arg(napi_env env, napi_callback_info info,
                                 tfn_state **st, uint32_t *idx) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  *st = get_state(env);
  return *st && argc == 1 ? timer_arg(env, *st, argv[0], idx) : NULL;
}

static int timer_arm_task(tfn_state *st, uint32_t idx) {
  tfn_entry *e = &st->slab[idx];
  if (!e->task) {
    int r = tf_executor_spawn_external(st->ex, tag_of(st, idx));
    if (r != TF_OK)
      return r;
    e->task = 1;
  }
  return TF_OK;
}

/* timerNew(ms, ref) -> handle */
static napi_value js_timer_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  double ms = -1;
  uint64_t ns;
  bool ref = true;
  if (argc < 2 || napi_get_value_double(env, argv[0], &ms) != napi_ok || ms_to_ns(ms, &ns) != TF_OK) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The value of \"delay\" is out of range");
    return NULL;
  }
  napi_get_value_bool(env, argv[1], &ref);
  tf_timer *t = NULL;
  int r = tf_timer_new(ns, &t);
  if (r != TF_OK) {
    throw_status(env, r);
    return NULL;
  }
  uint32_t idx = slot_alloc(st);
  if (idx == NO_FREE) {
    tf_timer_free(t);
    throw_status(env, TF_ENOMEM);
    return NULL;
  }
  tfn_entry *e = &st->slab[idx];
  e->kind = KIND_TIMER;
  e->timer = t;
  e->ref = ref;
  r = timer_arm_task(st, idx);
  if (r != TF_OK ||
      napi_create_external(env, (void *)(uintptr_t)tag_of(st, idx), timer_finalize, st, &out) != napi_ok) {
    e->task = 0; /* an external task spawned here ends with the executor */
    slot_free(st, idx);
    if (r != TF_OK)
      throw_status(env, r);
    return NULL;
  }
  refs_add(st, e);
  return out;
}

/* timerReset(handle, ms): re-arm; an await in progress waits for the new
 * deadline, a settled Promise is replaced by a fresh one for later awaits. */
static napi_value js_timer_reset(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  uint32_t idx;
  tfn_entry *e = st && argc == 2 ? timer_arg(env, st, argv[0], &idx) : NULL;
  if (e == NULL)
    return NULL;
  double ms = -1;
  uint64_t ns;
  if (napi_get_value_double(env, argv[1], &ms) != napi_ok || ms_to_ns(ms, &ns) != TF_OK) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The value of \"delay\" is out of range");
    return NULL;
  }
  int r = tf_timer_reset(e->timer, ns);
  if (r == TF_OK)
    r = timer_arm_task(st, idx);
  if (r != TF_OK) {
    throw_status(env, r);
    return NULL;
  }
  e = &st->slab[idx];
  if (e->deferred == NULL && e->promise != NULL) {
    napi_delete_reference(env, e->promise);
    e->promise = NULL;
  }
  e->fired = 0;
  e->canceled = 0;
  refs_add(st, e);
  return NULL;
}

/* timerCancel(handle) -> whether it was armed; an await in progress rejects
 * with an AbortError. */
static napi_value js_timer_cancel(napi_env env, napi_callback_info info) {
  napi_value result;
  tfn_state *st;
  uint32_t idx;
  tfn_entry *e = sole_timer_arg(env, info, &st, &idx);
  if (e == NULL)
    return NULL;
  int r = tf_timer_cancel(e->timer);
  if (r == TF_OK) {
    e->canceled = 1;
    refs_drop(st, e);
    if (e->deferred != NULL) {
      napi_value err;
      if (new_abort_error(env, st, &err) != 0)
        return NULL;
      napi_reject_deferred(env, e->deferred, err);
      e->deferred = NULL;
    }
  }
  napi_get_boolean(env, r == TF_OK, &result);
  return result;
}

/* timerPromise(handle) -> the Promise of the current arming. */
static napi_value js_timer_promise(napi_env env, napi_callback_info info) {
  napi_value promise;
  tfn_state *st;
  uint32_t idx;
  tfn_entry *e = sole_timer_arg(env, info, &st, &idx);
  if (e == NULL)
    return NULL;
  if (e->promise != NULL && napi_get_reference_value(env, e->promise, &promise) == napi_ok &&
      promise != NULL)
    return promise;
  napi_deferred d;
  if (napi_create_promise(env, &d, &promise) != napi_ok)
    return NULL;
  int state = tf_timer_peek(e->timer);
  if (e->fired) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, d, undef);
  } else if (e->canceled || state == TF_ECANCELED) {
    napi_value err;
    if (new_abort_error(env, st, &err) != 0)
      return NULL;
    napi_reject_deferred(env, d, err);
  } else if (e->task) {
    /* Settled by the drain once the timer fires (even if it has already
     * fired in the driver: the task is then queued). */
    e->deferred = d;
  } else {
    napi_value msg, err;
    napi_create_string_utf8(env, "timefuture: the timer is not armed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, d, err);
  }
  if (napi_create_reference(env, promise, 1, &e->promise) != napi_ok)
    e->promise = NULL;
  return promise;
}

/* timerDeadline(handle) -> bigint nanoseconds on the tf_now_ns() clock */
static napi_value js_timer_deadline(napi_env env, napi_callback_info info) {
  napi_value out;
  tfn_state *st;
  uint32_t idx;
  tfn_entry *e = sole_timer_arg(env, info, &st, &idx);
  if (e == NULL)
    return NULL;
  uint64_t dl = 0;
  int r = tf_timer_deadline(e->timer, &dl);
  if (r != TF_OK) {
    throw_status(env, r);
    return NULL;
  }
  napi_create_bigint_uint64(env, dl, &out);
  return out;
}

/* timerState(handle) -> "pending" | "fired" | "canceled", without polling */
static napi_value js_timer_state(napi_env env, napi_callback_info info) {
  napi_value out;
  tfn_state *st;
  uint32_t idx;
  tfn_entry *e = sole_timer_arg(env, info, &st, &idx);
  if (e == NULL)
    return NULL;
  int r = tf_timer_peek(e->timer);
  const char *s = r == TF_READY ? "fired" : r == TF_PENDING ? "pending" : r == TF_ECANCELED ? "canceled" : NULL;
  if (s == NULL) {
    throw_status(env, r);
    return NULL;
  }
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out);
  return out;
}

/* ---- module-level functions ---------------------------------------------- */

static napi_value js_now(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_bigint_uint64(env, tf_now_ns(), &out);
  return out;
}

/* setAbortError(ctor): the class Timer.cancel rejects awaits with. */
static napi_value js_set_abort_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  if (argc != 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "timefuture: a class expected");
    return NULL;
  }
  if (st->abort_ctor != NULL)
    napi_delete_reference(env, st->abort_ctor);
  napi_create_reference(env, argv[0], 1, &st->abort_ctor);
  return NULL;
}

/* stats() -> { slots, refs, tasks, external }: for the leak tests. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void)info;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  uint64_t tasks = 0, external = 0;
  tf_executor_count(st->ex, &tasks, &external);
  uint32_t used = 0;
  for (uint32_t i = 0; i < st->cap; i++)
    used += st->slab[i].kind != KIND_FREE;
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_uint32(env, used, &v);
  napi_set_named_property(env, o, "slots", v);
  napi_create_uint32(env, st->cap, &v);
  napi_set_named_property(env, o, "capacity", v);
  napi_create_double(env, (double)st->refs, &v);
  napi_set_named_property(env, o, "refs", v);
  napi_create_double(env, (double)external, &v);
  napi_set_named_property(env, o, "external", v);
  return o;
}

/* ---- environment set-up and teardown ------------------------------------ */

static void on_poll_closed(uv_handle_t *h) {
  tfn_poll *p = (tfn_poll *)h;
  napi_async_cleanup_hook_handle hook = p->hook;
  free(p);
  if (hook != NULL)
    napi_remove_async_cleanup_hook(hook);
}

/* The environment goes away with timers possibly pending: free them all,
 * the executor and (once libuv has closed it) the poll handle. Promises
 * still pending are abandoned with the environment's JavaScript heap. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  tfn_state *st = arg;
  st->closed = 1;
  napi_env env = st->env;
  for (uint32_t i = 0; i < st->cap; i++) {
    tfn_entry *e = &st->slab[i];
    if (e->kind == KIND_FREE)
      continue;
    if (e->promise != NULL)
      napi_delete_reference(env, e->promise);
    if (e->timer != NULL)
      tf_timer_free(e->timer);
  }
  free(st->slab);
  st->slab = NULL;
  st->cap = 0;
  st->free_head = NO_FREE;
  tf_executor_free(st->ex);
  st->ex = NULL;
  if (st->abort_ctor != NULL)
    napi_delete_reference(env, st->abort_ctor);
  if (st->ids_ref != NULL)
    napi_delete_reference(env, st->ids_ref);
  if (st->resource != NULL)
    napi_delete_reference(env, st->resource);
  st->abort_ctor = st->ids_ref = st->resource = NULL;
  if (st->actx != NULL)
    napi_async_destroy(env, st->actx);
  st->actx = NULL;
  if (st->poll != NULL) {
    tfn_poll *p = st->poll;
    st->poll = NULL;
    p->hook = handle;
    p->h.data = NULL;
    uv_poll_stop(&p->h);
    uv_close((uv_handle_t *)&p->h, on_poll_closed);
  } else {
    napi_remove_async_cleanup_hook(handle);
  }
}

/* Runs after the cleanup hook and after every external's finalizer, so the
 * finalizers may still look at `closed`. */
static void free_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static int setup_state(napi_env env, tfn_state *st, napi_value exports) {
  uv_loop_t *loop = NULL;
  int fd = -1;
  st->env = env;
  st->free_head = NO_FREE;
  int r = tf_executor_new(0, &st->ex);
  if (r == TF_OK)
    r = tf_executor_fd(st->ex, &fd);
  if (r != TF_OK) {
    throw_status(env, r);
    return -1;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok)
    return -1;
  st->poll = calloc(1, sizeof *st->poll);
  if (st->poll == NULL || uv_poll_init(loop, &st->poll->h, fd) != 0) {
    free(st->poll);
    st->poll = NULL;
    napi_throw_error(env, "ERR_TIMEFUTURE", "timefuture: cannot watch the executor's fd");
    return -1;
  }
  st->poll->h.data = st;
  uv_poll_start(&st->poll->h, UV_READABLE, on_readable);
  uv_unref((uv_handle_t *)&st->poll->h); /* referenced only while timers keep it */

  napi_value resource, name, ab, ids;
  void *idata = NULL;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_reference(env, resource, 1, &st->resource) != napi_ok ||
      napi_create_string_utf8(env, "timefuture", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, resource, name, &st->actx) != napi_ok ||
      napi_create_arraybuffer(env, 2 * sizeof(uint32_t), &idata, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_uint32_array, 2, ab, 0, &ids) != napi_ok ||
      napi_create_reference(env, ab, 1, &st->ids_ref) != napi_ok ||
      napi_set_named_property(env, exports, "ids", ids) != napi_ok)
    return -1;
  st->ids = idata;
  return 0;
}

NAPI_MODULE_INIT() {
  tfn_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    napi_throw_error(env, "ERR_TIMEFUTURE", "timefuture: out of memory");
    return NULL;
  }
  if (setup_state(env, st, exports) != 0) {
    if (st->poll != NULL) {
      uv_poll_stop(&st->poll->h);
      st->poll->h.data = NULL;
      uv_close((uv_handle_t *)&st->poll->h, on_poll_closed);
    }
    if (st->ex != NULL)
      tf_executor_free(st->ex);
    if (st->actx != NULL)
      napi_async_destroy(env, st->actx);
    if (st->resource != NULL)
      napi_delete_reference(env, st->resource);
    if (st->ids_ref != NULL)
      napi_delete_reference(env, st->ids_ref);
    free(st);
    return NULL;
  }
  if (napi_set_instance_data(env, st, free_state, NULL) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, st, NULL) != napi_ok)
    return NULL;

  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"timeout", js_timeout},
      {"sleep", js_sleep},
      {"sleepUntil", js_sleep_until},
      {"abort", js_abort},
      {"now", js_now},
      {"timerNew", js_timer_new},
      {"timerReset", js_timer_reset},
      {"timerCancel", js_timer_cancel},
      {"timerPromise", js_timer_promise},
      {"timerDeadline", js_timer_deadline},
      {"timerState", js_timer_state},
      {"setAbortError", js_set_abort_error},
      {"stats", js_stats},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
      return NULL;
  }
  napi_value ver;
  if (napi_create_string_utf8(env, tf_version_string(), NAPI_AUTO_LENGTH, &ver) == napi_ok)
    napi_set_named_property(env, exports, "version", ver);
  return exports;
}
