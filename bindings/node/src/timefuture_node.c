/* SPDX-License-Identifier: MIT */
/*
 * The Node.js addon behind the `timefuture` package, written against
 * Node-API (napi_*) and the library's public header only.
 *
 * Each Node environment (main thread or worker) has, in its instance data,
 * its own timer driver in host mode on CLOCK_MONOTONIC and its own
 * tf_executor. The driver has no thread: its timerfd, watched by a
 * uv_poll_t on the environment's loop, says when tf_driver_advance() is
 * due, and the advance runs the fired timers' wakes on the loop thread.
 * Those wakes queue external tasks, which the same loop callback drains
 * right after the advance, so a timer is settled in the loop turn it fires
 * in. No library thread exists in a process using only this binding, and
 * no JavaScript ever runs on another thread. The executor's eventfd is
 * watched too, for wakes that happen outside an advance (a cancel).
 *
 * One-shot timeouts (setTimeout, sleep, sleepUntil) are the hot path: a
 * million of them must cost little more than their Promises. So they are
 * not one library timer and one external task each but 24-byte entries of
 * a min-heap owned by the environment, keyed by (deadline, creation order),
 * behind one library timer armed to the heap's earliest deadline and one
 * external task; each wake settles every entry that is due. A timeout due
 * at once (delay 0, a deadline already past) needs no timer at all: it goes
 * to a FIFO settled from the loop's check phase, so it still waits for the
 * next loop turn, as Node's setTimeout(0) does. An entry keeps only the
 * Promise's napi_deferred; an abortable one (with an AbortSignal) also has
 * a slab slot so that abort() can find it. Re-armable Timer objects keep a
 * library timer and an external task each; setInterval iterators a library
 * interval (the experimental interval API) and an external task each.
 *
 * Everything that names the clock or creates a library timer goes through
 * tfn_now() and tfn_timer_new_at(), on the environment's driver.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The interval API is in the library's experimental tier; the addon ships
 * with the library it was built against (a copy sits beside it). */
#define TF_EXPERIMENTAL
#include "timefuture.h"

/* External tasks taken per tf_executor_drain() call, and batches per loop
 * wake-up: large enough that a million fired timers cost few wake-ups, small
 * enough that one wake-up does not hold the loop for long. */
#define TFN_BATCH 1024
#define TFN_MAX_BATCHES 64
/* Timeouts settled per loop callback: a backlog is settled in rounds with
 * the awaiting code run between them. */
#define TFN_FIRE_MAX 65536
/* How late a timeout may be settled and still be ordered by deadline
 * among the others due (see heap_fire). */
#define TFN_LATE_NS 1000000u
/* Late entries popped one by one before the rest are taken in one pass. */
#define TFN_POP_MAX 1024

enum { KIND_FREE = 0, KIND_TIMEOUT = 1, KIND_TIMER = 2, KIND_INTERVAL = 3 };

/* A slab entry: a Timer object, a setInterval iterator's interval
 * (KIND_INTERVAL: iv, deferred, task, ref, counted, orphan), or an abortable
 * timeout (KIND_TIMEOUT, which uses only deferred, pos and gen: its timing
 * is a wait entry's). */
typedef struct tfn_entry {
  tf_timer *timer;
  tf_interval *iv;
  napi_deferred deferred; /* the pending Promise's resolver, or NULL */
  napi_ref promise;       /* Timer only: the Promise every then() shares */
  uint32_t gen;           /* bumped on reuse, so a stale tag is recognised */
  uint32_t next_free;
  uint32_t pos;     /* timeout: its index in the heap, or FIFO_POS | index */
  uint8_t kind;
  uint8_t task;     /* the external task exists (spawned, not reported done) */
  uint8_t ref;      /* wants to keep the loop alive while armed */
  uint8_t counted;  /* counted in refs right now */
  uint8_t orphan;   /* Timer object collected: free once the task is done */
  uint8_t fired;    /* Timer: fired since it was last armed */
  uint8_t canceled; /* Timer: cancelled since it was last armed */
} tfn_entry;

/* A pending timeout, in the heap or the FIFO. `key` is the creation order
 * shifted left by three, so that equal deadlines settle first in, first
 * out, with three flags below it. */
#define WAIT_REF 1u     /* keeps the loop alive */
#define WAIT_SLOT 2u    /* abortable: p is a slab index, not the deferred */
#define WAIT_DEAD 4u    /* aborted while in the FIFO: skipped */
#define WAIT_STEP 8u
typedef struct tfn_wait {
  uint64_t deadline;
  uint64_t key;
  void *p; /* napi_deferred, or (WAIT_SLOT) the slab index */
} tfn_wait;

#define FIFO_POS 0x80000000u

/* The loop handles, in one block freed by the last close callback (which
 * may run after the state is gone), with the cleanup hook's handle. */
typedef struct tfn_handles {
  uv_poll_t poll;   /* the executor's eventfd */
  uv_poll_t dpoll;  /* the driver's timerfd: keeps the loop alive (refs) */
  uv_check_t check; /* settles the FIFO after the loop's poll phase */
  uv_idle_t idle;   /* while the FIFO is not empty: the poll phase must not block */
  int open;
  napi_async_cleanup_hook_handle hook;
} tfn_handles;

/* The external task of the heap's timer; slab tags are below 2^63. */
#define QUEUE_TAG UINT64_MAX
#define NO_DEADLINE UINT64_MAX

typedef struct tfn_state {
  napi_env env;
  tf_driver *drv; /* host mode: advanced by the loop, no thread */
  tf_executor *ex;
  tfn_handles *h; /* freed by its close callbacks */
  tfn_entry *slab;
  uint32_t cap;
  uint32_t free_head; /* UINT32_MAX: none */
  uint64_t refs;      /* slab entries and waits keeping the loop alive */
  /* the timeouts: a binary min-heap, and the FIFO of those due at once */
  tfn_wait *heap;
  uint32_t heap_len, heap_cap;
  tfn_wait *fifo;
  uint32_t fifo_len, fifo_cap;
  uint32_t fifo_dead; /* aborted entries still in the FIFO */
  uint64_t next_key;
  uint64_t plain;      /* waits without a slab slot, for stats() */
  tf_timer *q_timer;   /* armed to q_armed, at or before the heap's minimum */
  uint64_t q_armed;    /* NO_DEADLINE: not armed */
  int q_task;          /* the external task QUEUE_TAG exists */
  uint64_t q_polls;    /* times that task was drained, for stats() */
  int q_yield;         /* the drain stops: the heap's task is due again */
  napi_ref resource;   /* async resource for the callback scope */
  napi_async_context actx;
  napi_ref abort_ctor; /* AbortError class (from index.js) for Timer.cancel */
  napi_ref ids_ref;    /* Uint32Array the last started timer's id goes to */
  uint32_t *ids;
  int closed; /* the environment is being torn down: the slab is gone */
  uint64_t tags[TFN_BATCH];
  const tf_waker *wakers[TFN_BATCH];
} tfn_state;

#define NO_FREE UINT32_MAX

/* ---- the clock and the timers ------------------------------------------- */

/* The environment's driver's clock: CLOCK_MONOTONIC, as tf_now_ns() and
 * process.hrtime.bigint() read it. */
static uint64_t tfn_now(tfn_state *st) {
  uint64_t ns = 0;
  if (tf_driver_now(st->drv, &ns) != TF_OK)
    ns = tf_now_ns(); /* cannot fail on a live driver; the same clock */
  return ns;
}

static int tfn_timer_new_at(tfn_state *st, uint64_t deadline, tf_timer **out) {
  return tf_timer_new_at_on(st->drv, deadline, out);
}

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

/* The driver's poll handle keeps the loop alive exactly while ref'd timers
 * are pending: it is what fires them. */
static void refs_inc(tfn_state *st) {
  if (st->refs++ == 0)
    uv_ref((uv_handle_t *)&st->h->dpoll);
}

static void refs_dec(tfn_state *st) {
  if (--st->refs == 0)
    uv_unref((uv_handle_t *)&st->h->dpoll);
}

static void refs_add(tfn_state *st, tfn_entry *e) {
  if (e->ref && !e->counted) {
    e->counted = 1;
    refs_inc(st);
  }
}

static void refs_drop(tfn_state *st, tfn_entry *e) {
  if (e->counted) {
    e->counted = 0;
    refs_dec(st);
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
  if (e->iv != NULL)
    tf_interval_free(e->iv);
  e->timer = NULL;
  e->iv = NULL;
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

/* An Error (a RangeError for TF_ERANGE) carrying tf_strerror(status). */
static void status_error(napi_env env, int status, napi_value *err) {
  napi_value msg, code;
  napi_create_string_utf8(env, tf_strerror(status), NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, status == TF_ERANGE ? "ERR_OUT_OF_RANGE" : "ERR_TIMEFUTURE",
                          NAPI_AUTO_LENGTH, &code);
  if (status == TF_ERANGE)
    napi_create_range_error(env, code, msg, err);
  else
    napi_create_error(env, code, msg, err);
}

/* ---- the heap and the FIFO of pending timeouts -------------------------- */

static int wait_before(const tfn_wait *a, const tfn_wait *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->key < b->key);
}

/* Puts w at heap index i, telling an abortable entry where it is. */
static void heap_put(tfn_state *st, uint32_t i, const tfn_wait *w) {
  st->heap[i] = *w;
  if (w->key & WAIT_SLOT)
    st->slab[(uint32_t)(uintptr_t)w->p].pos = i;
}

/* A 4-ary heap: half the levels of a binary one, and a node's children
 * share a cache line or two, which is what a million-entry heap's sifts
 * spend their time on. */
#define HEAP_D 4

static void heap_sift_up(tfn_state *st, uint32_t i, tfn_wait w) {
  while (i > 0) {
    uint32_t parent = (i - 1) / HEAP_D;
    if (!wait_before(&w, &st->heap[parent]))
      break;
    heap_put(st, i, &st->heap[parent]);
    i = parent;
  }
  heap_put(st, i, &w);
}

static void heap_sift_down(tfn_state *st, uint32_t i, tfn_wait w) {
  uint32_t n = st->heap_len;
  for (;;) {
    uint32_t c = HEAP_D * i + 1;
    if (c >= n)
      break;
    uint32_t end = c + HEAP_D < n ? c + HEAP_D : n;
    uint32_t best = c;
    for (uint32_t k = c + 1; k < end; k++)
      if (wait_before(&st->heap[k], &st->heap[best]))
        best = k;
    if (!wait_before(&st->heap[best], &w))
      break;
    heap_put(st, i, &st->heap[best]);
    i = best;
  }
  heap_put(st, i, &w);
}

/* Grows (or, when mostly empty, shrinks) an entry array to hold `need`. */
static int waits_fit(tfn_wait **arr, uint32_t *cap, uint32_t need) {
  uint32_t ncap = *cap;
  if (need > ncap) {
    ncap = ncap ? ncap : 256;
    while (ncap < need) {
      if (ncap > (UINT32_MAX >> 2))
        return TF_ENOMEM;
      ncap *= 2;
    }
  } else if (ncap > 4096 && need < ncap / 8) {
    ncap /= 4; /* a burst of timers must not hold its memory for ever */
  } else {
    return TF_OK;
  }
  tfn_wait *n = realloc(*arr, (size_t)ncap * sizeof *n);
  if (n == NULL)
    return need > *cap ? TF_ENOMEM : TF_OK;
  *arr = n;
  *cap = ncap;
  return TF_OK;
}

static void heap_remove(tfn_state *st, uint32_t i) {
  tfn_wait last = st->heap[--st->heap_len];
  if (i < st->heap_len) {
    if (i > 0 && wait_before(&last, &st->heap[(i - 1) / HEAP_D]))
      heap_sift_up(st, i, last);
    else
      heap_sift_down(st, i, last);
  }
  waits_fit(&st->heap, &st->heap_cap, st->heap_len);
}

/* Makes sure the heap's timer will wake its task by `deadline`. */
static int queue_arm(tfn_state *st, uint64_t deadline) {
  if (deadline >= st->q_armed)
    return TF_OK;
  int r = st->q_timer == NULL ? tfn_timer_new_at(st, deadline, &st->q_timer)
                              : tf_timer_reset_at(st->q_timer, deadline);
  if (r != TF_OK)
    return r;
  if (!st->q_task) {
    r = tf_executor_spawn_external(st->ex, QUEUE_TAG);
    if (r != TF_OK) {
      tf_timer_cancel(st->q_timer);
      return r;
    }
    st->q_task = 1;
  }
  st->q_armed = deadline;
  return TF_OK;
}

static void on_check(uv_check_t *handle);
static void on_idle(uv_idle_t *handle);

static void fifo_start(tfn_state *st) {
  uv_check_start(&st->h->check, on_check);
  uv_idle_start(&st->h->idle, on_idle);
}

/* Files a pending timeout: the FIFO when it is due at once, else the heap. */
static int wait_add(tfn_state *st, uint64_t deadline, int due, tfn_wait *w) {
  w->deadline = deadline;
  w->key |= st->next_key;
  if (due) {
    if (waits_fit(&st->fifo, &st->fifo_cap, st->fifo_len + 1) != TF_OK)
      return TF_ENOMEM;
    if (st->fifo_len == 0)
      fifo_start(st);
    uint32_t i = st->fifo_len++;
    st->fifo[i] = *w;
    if (w->key & WAIT_SLOT)
      st->slab[(uint32_t)(uintptr_t)w->p].pos = FIFO_POS | i;
  } else {
    if (waits_fit(&st->heap, &st->heap_cap, st->heap_len + 1) != TF_OK)
      return TF_ENOMEM;
    int r = queue_arm(st, deadline);
    if (r != TF_OK)
      return r;
    heap_sift_up(st, st->heap_len++, *w);
  }
  st->next_key += WAIT_STEP;
  if (w->key & WAIT_REF)
    refs_inc(st);
  if (!(w->key & WAIT_SLOT))
    st->plain++;
  return TF_OK;
}

/* Resolves (status TF_OK) or rejects a wait that has left the heap or FIFO. */
static void wait_settle(tfn_state *st, const tfn_wait *w, int status) {
  napi_deferred d;
  if (w->key & WAIT_REF)
    refs_dec(st);
  if (w->key & WAIT_SLOT) {
    uint32_t idx = (uint32_t)(uintptr_t)w->p;
    d = st->slab[idx].deferred;
    st->slab[idx].deferred = NULL;
    slot_free(st, idx);
  } else {
    d = w->p;
    st->plain--;
  }
  if (d == NULL)
    return;
  napi_value v;
  if (status == TF_OK) {
    napi_get_undefined(st->env, &v);
    napi_resolve_deferred(st->env, d, v);
  } else {
    status_error(st->env, status, &v);
    napi_reject_deferred(st->env, d, v);
  }
}

/* Settles the heap entries due by `now`, at most TFN_FIRE_MAX of them;
 * returns whether it stopped at that bound. Entries are taken out before
 * they are settled, so a promise hook that starts or aborts a timeout
 * meanwhile finds the heap consistent. */
static int key_cmp(const void *a, const void *b) {
  uint64_t x = ((const tfn_wait *)a)->key, y = ((const tfn_wait *)b)->key;
  return x < y ? -1 : x > y;
}

/* Settles waits[0..n), an array the heap no longer uses, in creation
 * order: through a table indexed by creation number when the numbers are
 * dense (the usual backlog), else after sorting the array in place. */
static void settle_in_key_order(tfn_state *st, tfn_wait *waits, uint32_t n) {
  uint64_t lo = UINT64_MAX, hi = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t k = waits[i].key / WAIT_STEP;
    lo = k < lo ? k : lo;
    hi = k > hi ? k : hi;
    if (waits[i].key & WAIT_SLOT)
      st->slab[(uint32_t)(uintptr_t)waits[i].p].pos = NO_FREE;
  }
  uint64_t range = n ? hi - lo + 1 : 0;
  uint32_t *at = n && range <= 4 * (uint64_t)n ? calloc(range, sizeof *at) : NULL;
  if (at == NULL) {
    qsort(waits, n, sizeof *waits, key_cmp);
    for (uint32_t i = 0; i < n; i++)
      wait_settle(st, &waits[i], TF_OK);
    return;
  }
  for (uint32_t i = 0; i < n; i++)
    at[waits[i].key / WAIT_STEP - lo] = i + 1;
  for (uint64_t k = 0; k < range; k++)
    if (at[k] != 0)
      wait_settle(st, &waits[at[k] - 1], TF_OK);
  free(at);
}

/* Floyd's heap construction over the whole array, which was reordered:
 * every abortable entry is told its place first (a leaf is never moved). */
static void heap_build(tfn_state *st) {
  for (uint32_t i = 0; i < st->heap_len; i++)
    if (st->heap[i].key & WAIT_SLOT)
      st->slab[(uint32_t)(uintptr_t)st->heap[i].p].pos = i;
  for (uint32_t i = st->heap_len / HEAP_D + 1; i-- > 0;)
    if (i < st->heap_len)
      heap_sift_down(st, i, st->heap[i]);
}

/* Settles the heap entries due by `now`; returns whether it stopped at the
 * bound TFN_FIRE_MAX with more due.
 *
 * Entries more than TFN_LATE_NS overdue (the loop fell behind: it was busy
 * or blocked) are settled first and in the order they were created; the
 * rest in deadline order. A large backlog then touches its Promises in the
 * order they were allocated, which is several times faster than the random
 * order of their deadlines, and it is what a coarse timer tick does anyway
 * (the order among timers that all expired while the loop was away is not
 * their expiry order in Node either once they fall in one millisecond). A
 * large backlog is taken out by one pass over the heap and a rebuild, not
 * by one pop each.
 *
 * Entries are taken out before they are settled, so a promise hook that
 * starts or aborts a timeout meanwhile finds the heap consistent. */
static int heap_fire(tfn_state *st, uint64_t now) {
  uint64_t late = now > TFN_LATE_NS ? now - TFN_LATE_NS : 0;
  if (st->heap_len > 0 && st->heap[0].deadline < late) {
    /* The late entries go to the tail of the heap array, in place: popped
     * one by one while they are few, then, if more remain, by one pass
     * over the heap and a rebuild (a pass per wake would cost a heap of far
     * timers dearly when only a few near ones are late). */
    uint32_t n = st->heap_len, popped = 0;
    while (st->heap_len > 0 && st->heap[0].deadline < late && popped++ < TFN_POP_MAX) {
      tfn_wait w = st->heap[0];
      tfn_wait last = st->heap[--st->heap_len];
      if (st->heap_len > 0)
        heap_sift_down(st, 0, last);
      st->heap[st->heap_len] = w;
    }
    uint32_t keep = st->heap_len;
    if (keep > 0 && st->heap[0].deadline < late) {
      keep = 0;
      for (uint32_t i = 0; i < st->heap_len; i++)
        if (!(st->heap[i].deadline < late)) {
          tfn_wait t = st->heap[keep];
          st->heap[keep++] = st->heap[i];
          st->heap[i] = t;
        }
      st->heap_len = keep;
      heap_build(st);
    }
    uint32_t count = n - keep;
    /* The late entries must be out of the heap's array while they are
     * settled (a promise hook may start a timeout): the smaller part is
     * copied, so that a backlog costs little memory when memory is at its
     * peak. The kept entries keep their indices. */
    tfn_wait *late_part = NULL, *old = st->heap;
    uint32_t ncap = 256;
    while (ncap < keep)
      ncap *= 2;
    tfn_wait *kept = keep < count ? malloc((size_t)ncap * sizeof *kept) : NULL;
    if (kept != NULL) {
      memcpy(kept, old, (size_t)keep * sizeof *kept);
      st->heap = kept;
      st->heap_cap = ncap;
      late_part = old + keep;
    } else if ((late_part = malloc((size_t)count * sizeof *late_part)) != NULL) {
      memcpy(late_part, old + keep, (size_t)count * sizeof *late_part);
      old = late_part;
    }
    if (late_part != NULL) {
      settle_in_key_order(st, late_part, count);
      free(old);
    } else {
      /* No memory: back into the heap, settled in deadline order below. */
      for (uint32_t i = keep; i < n; i++)
        heap_sift_up(st, st->heap_len++, st->heap[i]);
    }
  }
  uint32_t fired = 0;
  while (st->heap_len > 0 && st->heap[0].deadline <= now) {
    if (fired++ == TFN_FIRE_MAX)
      return 1;
    tfn_wait w = st->heap[0];
    tfn_wait last = st->heap[--st->heap_len];
    if (st->heap_len > 0)
      heap_sift_down(st, 0, last);
    wait_settle(st, &w, TF_OK);
  }
  waits_fit(&st->heap, &st->heap_cap, st->heap_len);
  return 0;
}

/* The library could not arm the heap's timer: every heap entry is
 * rejected rather than left pending for ever. */
static void heap_fail(tfn_state *st, int status) {
  while (st->heap_len > 0) {
    tfn_wait w = st->heap[--st->heap_len];
    wait_settle(st, &w, status);
  }
}

/* The drained external task of the heap's timer: settles what is due, then
 * re-arms the timer to the next deadline. When that is due already (the
 * loop fell behind), the task is queued again but the drain stops, so that
 * the awaiting code runs (the microtasks, at the end of the loop callback)
 * before the next round instead of after the whole backlog. */
static void handle_queue_task(tfn_state *st, const tf_waker *waker) {
  st->q_polls++;
  int r = tf_timer_poll(st->q_timer, waker);
  if (r == TF_PENDING) {
    tf_executor_report(st->ex, waker, TF_PENDING);
    return;
  }
  if (r == TF_READY) {
    int more = heap_fire(st, tfn_now(st));
    if (st->heap_len > 0) {
      uint64_t next = st->heap[0].deadline;
      r = tf_timer_reset_at(st->q_timer, next);
      if (r == TF_OK) {
        st->q_armed = next;
        if (!more)
          r = tf_timer_poll(st->q_timer, waker); /* stores the waker */
        if (more || r == TF_READY) {
          tf_waker_wake_by_ref(waker); /* queued again by the report */
          st->q_yield = 1;
          r = TF_PENDING;
        }
        if (r == TF_PENDING) {
          tf_executor_report(st->ex, waker, TF_PENDING);
          return;
        }
      }
    } else {
      r = TF_ECANCELED; /* nothing left: the task ends */
    }
  }
  if (r != TF_ECANCELED)
    heap_fail(st, r);
  else if (st->heap_len > 0)
    heap_fail(st, TF_ESTATE); /* cancelled only with the heap empty */
  st->q_armed = NO_DEADLINE;
  st->q_task = 0;
  tf_executor_report(st->ex, waker, TF_READY);
}

/* ---- the loop side: drain the executor and settle Promises -------------- */

static void settle_error(napi_env env, tfn_entry *e, int status) {
  napi_value err;
  if (e->deferred == NULL)
    return;
  status_error(env, status, &err);
  napi_reject_deferred(env, e->deferred, err);
  e->deferred = NULL;
}

/* The task of an awaited interval tick: resolves the await with the number
 * of ticks due (always 1 under TF_MISSED_TICK_BURST). The task exists only
 * while a tick is awaited, and ends with it. */
static void handle_interval_task(tfn_state *st, uint32_t idx, tfn_entry *e,
                                 const tf_waker *waker) {
  uint64_t ticks = 0;
  int r = tf_interval_poll(e->iv, waker, &ticks);
  if (r == TF_PENDING && e->deferred != NULL) {
    tf_executor_report(st->ex, waker, TF_PENDING);
    return;
  }
  tf_executor_report(st->ex, waker, TF_READY);
  e->task = 0;
  if (r == TF_READY && e->deferred != NULL) {
    napi_value n;
    napi_create_double(st->env, (double)ticks, &n);
    napi_resolve_deferred(st->env, e->deferred, n);
    e->deferred = NULL;
  } else if (r != TF_READY && r != TF_PENDING) {
    settle_error(st->env, e, r);
  }
  refs_drop(st, e);
  if (e->orphan)
    slot_free(st, idx);
}

static void handle_task(tfn_state *st, uint64_t tag, const tf_waker *waker) {
  napi_env env = st->env;
  uint32_t idx;
  if (tag == QUEUE_TAG) {
    handle_queue_task(st, waker);
    return;
  }
  tfn_entry *e = lookup(st, tag, &idx);
  if (e != NULL && e->kind == KIND_INTERVAL && e->iv != NULL) {
    handle_interval_task(st, idx, e, waker);
    return;
  }
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
  if (e->orphan)
    slot_free(st, idx);
}

/* Runs `fn` as a libuv callback into JavaScript: in a callback scope whose
 * closing runs the microtasks (the awaiting code) and process.nextTick
 * callbacks, as after any libuv callback. */
static void with_scope(tfn_state *st, void (*fn)(tfn_state *)) {
  napi_env env = st->env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok)
    return;
  napi_value resource;
  napi_callback_scope cs;
  int have_cs = napi_get_reference_value(env, st->resource, &resource) == napi_ok &&
                napi_open_callback_scope(env, resource, st->actx, &cs) == napi_ok;
  fn(st);
  if (have_cs)
    napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
}

static void drain(tfn_state *st) {
  napi_env env = st->env;
  st->q_yield = 0;
  for (int b = 0; b < TFN_MAX_BATCHES && !st->closed && !st->q_yield; b++) {
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
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  (void)status; /* an error on an eventfd is not expected; draining is safe */
  tfn_state *st = handle->data;
  if (st != NULL && !st->closed)
    with_scope(st, drain);
}

/* Fires the driver's due timers (their wakes queue external tasks, here on
 * the loop thread) and drains those tasks in the same callback, so nothing
 * waits for the executor's eventfd to come round. */
static void advance(tfn_state *st) {
  uint64_t fired = 0;
  if (tf_driver_advance(st->drv, TF_DRIVER_NOW, &fired) == TF_OK && fired > 0)
    drain(st);
}

static void on_driver_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  (void)status; /* advancing is what clears the timerfd, error or not */
  tfn_state *st = handle->data;
  if (st != NULL && !st->closed)
    with_scope(st, advance);
}

/* Settles the FIFO entries there were when it started; entries added
 * meanwhile (by a promise hook) wait for the next loop turn. */
static void fifo_run(tfn_state *st) {
  uint32_t n = st->fifo_len;
  napi_handle_scope inner;
  int have_inner = napi_open_handle_scope(st->env, &inner) == napi_ok;
  for (uint32_t i = 0; i < n; i++) {
    tfn_wait w = st->fifo[i];
    if (w.key & WAIT_DEAD)
      continue; /* aborted */
    if (w.key & WAIT_SLOT)
      st->slab[(uint32_t)(uintptr_t)w.p].pos = NO_FREE;
    st->fifo[i].key |= WAIT_DEAD;
    wait_settle(st, &w, TF_OK);
  }
  if (have_inner)
    napi_close_handle_scope(st->env, inner);
  uint32_t rest = st->fifo_len - n;
  memmove(st->fifo, st->fifo + n, (size_t)rest * sizeof *st->fifo);
  st->fifo_len = rest;
  st->fifo_dead = 0;
  for (uint32_t i = 0; i < rest; i++) {
    if (st->fifo[i].key & WAIT_DEAD)
      st->fifo_dead++;
    else if (st->fifo[i].key & WAIT_SLOT)
      st->slab[(uint32_t)(uintptr_t)st->fifo[i].p].pos = FIFO_POS | i;
  }
  waits_fit(&st->fifo, &st->fifo_cap, st->fifo_len);
  if (st->fifo_len == 0 && st->h != NULL) {
    uv_check_stop(&st->h->check);
    uv_idle_stop(&st->h->idle);
  }
}

static void on_check(uv_check_t *handle) {
  tfn_state *st = handle->data;
  if (st != NULL && !st->closed)
    with_scope(st, fifo_run);
}

/* Only makes the loop's poll phase return at once while the FIFO waits. */
static void on_idle(uv_idle_t *handle) {
  (void)handle;
}

/* ---- starting one-shot timeouts ----------------------------------------- */

/* mode 0: ms (number) from now; 1: ns (bigint) from now; 2: deadline (bigint).
 * Arguments: (time[, ref[, abortable]]), ref by default, not abortable; an
 * abortable timeout's slab index and generation go to `ids` for abort().
 * The common call, setTimeout(ms), passes the time alone: a million of
 * them are dominated by the Promise each makes, so nothing else is read. */
static napi_value start_timeout(napi_env env, napi_callback_info info, int mode) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "timefuture: a time expected");
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
  bool ref = true, abortable = false;
  if (argc > 1 && napi_get_value_bool(env, argv[1], &ref) != napi_ok)
    ref = true;
  if (argc > 2 && napi_get_value_bool(env, argv[2], &abortable) != napi_ok)
    abortable = false;

  napi_deferred deferred;
  napi_value promise;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok)
    return NULL;
  /* A zero delay is due at once: no clock read, no timer. */
  uint64_t deadline;
  int r = TF_OK, due;
  if (mode == 2) {
    deadline = v;
    due = v == 0 || v <= tfn_now(st);
  } else {
    due = v == 0;
    uint64_t now = due ? 0 : tfn_now(st);
    if (now > UINT64_MAX - v)
      r = TF_ERANGE; /* the deadline would not fit the clock */
    deadline = now + v;
  }
  if (r == TF_OK && deadline == NO_DEADLINE)
    r = TF_ERANGE; /* reserved by the library */
  tfn_wait w = {0, ref ? WAIT_REF : 0, deferred};
  uint32_t idx = NO_FREE;
  if (r == TF_OK && abortable) {
    idx = slot_alloc(st);
    if (idx == NO_FREE) {
      r = TF_ENOMEM;
    } else {
      tfn_entry *e = &st->slab[idx];
      e->kind = KIND_TIMEOUT;
      e->deferred = deferred;
      w.key |= WAIT_SLOT;
      w.p = (void *)(uintptr_t)idx;
    }
  }
  if (r == TF_OK)
    r = wait_add(st, deadline, due, &w);
  if (r != TF_OK) {
    /* The Promise is rejected rather than left pending for ever. */
    napi_value err;
    status_error(env, r, &err);
    napi_reject_deferred(env, deferred, err);
    if (idx != NO_FREE)
      slot_free(st, idx);
    if (abortable) {
      st->ids[0] = NO_FREE; /* abort() must not find an earlier timeout */
      st->ids[1] = 0;
    }
    return promise;
  }
  if (idx != NO_FREE) {
    st->ids[0] = idx;
    st->ids[1] = st->slab[idx].gen;
  }
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

/* abort(idx, gen, error): rejects a pending abortable timeout with `error`
 * and forgets it. Returns whether it was pending. */
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
      uint32_t pos = e->pos;
      tfn_wait *w = NULL;
      if ((pos & FIFO_POS) && (pos & ~FIFO_POS) < st->fifo_len) {
        w = &st->fifo[pos & ~FIFO_POS];
      } else if (pos < st->heap_len) {
        w = &st->heap[pos];
      }
      if (w != NULL && (w->key & (WAIT_SLOT | WAIT_DEAD)) == WAIT_SLOT &&
          (uint32_t)(uintptr_t)w->p == i) {
        napi_deferred d = e->deferred;
        e->deferred = NULL;
        if (w->key & WAIT_REF)
          refs_dec(st);
        if (pos & FIFO_POS) {
          w->key |= WAIT_DEAD; /* skipped by fifo_run */
          st->fifo_dead++;
        } else {
          heap_remove(st, pos);
          if (st->heap_len == 0 && st->q_timer != NULL) {
            /* Ends the heap's task at the next drain; a timeout started
             * before that re-arms the timer, as it is armed to nothing. */
            tf_timer_cancel(st->q_timer);
            st->q_armed = NO_DEADLINE;
          }
        }
        slot_free(st, i);
        napi_reject_deferred(env, d, argv[2]);
        found = 1;
      }
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
  if (e->orphan)
    return; /* an interval closed already: its task's end frees it */
  e->orphan = 1;
  if (e->deferred != NULL)
    return; /* still awaited: it settles, then the drain frees it */
  refs_drop(st, e);
  if (!e->task)
    slot_free(st, idx);
  else if (e->kind == KIND_INTERVAL)
    tf_interval_cancel(e->iv); /* wakes the task: the drain frees it */
  else
    tf_timer_cancel(e->timer); /* the drain sees the orphan and frees it */
}

static tfn_entry *kind_arg(napi_env env, tfn_state *st, napi_value v, uint8_t kind,
                           uint32_t *idx) {
  void *data = NULL;
  napi_valuetype t;
  tfn_entry *e = NULL;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, v, &data) == napi_ok)
    e = lookup(st, (uint64_t)(uintptr_t)data, idx);
  if (e == NULL || e->kind != kind || e->orphan) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", kind == KIND_TIMER
                          ? "timefuture: not a Timer handle" : "timefuture: not a live interval handle");
    return NULL;
  }
  return e;
}

static tfn_entry *timer_arg(napi_env env, tfn_state *st, napi_value v, uint32_t *idx) {
  return kind_arg(env, st, v, KIND_TIMER, idx);
}

/* The one argument of a Timer or interval call, a handle of that kind: its
 * entry (with the environment's state and the entry's index), or NULL with
 * an exception pending. */
static tfn_entry *sole_kind_arg(napi_env env, napi_callback_info info, uint8_t kind,
                                tfn_state **st, uint32_t *idx) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  *st = get_state(env);
  return *st && argc == 1 ? kind_arg(env, *st, argv[0], kind, idx) : NULL;
}

static tfn_entry *sole_timer_arg(napi_env env, napi_callback_info info,
                                 tfn_state **st, uint32_t *idx) {
  return sole_kind_arg(env, info, KIND_TIMER, st, idx);
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

/* The (ms, ref) arguments of timerNew and intervalNew: the environment's
 * state, the delay in nanoseconds and whether the handle keeps the loop
 * alive; NULL with an exception pending. */
static tfn_state *delay_ref_args(napi_env env, napi_callback_info info, uint64_t *ns, bool *ref) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  double ms = -1;
  if (argc < 2 || napi_get_value_double(env, argv[0], &ms) != napi_ok || ms_to_ns(ms, ns) != TF_OK) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The value of \"delay\" is out of range");
    return NULL;
  }
  *ref = true;
  napi_get_value_bool(env, argv[1], ref);
  return st;
}

/* A new Timer (t) or interval (iv), of which it takes ownership, made with
 * status `made`: a slot and a handle for it, or NULL with an exception
 * pending and the object freed. A Timer is armed from the start, so its
 * task is spawned and it counts for the loop at once; an interval waits for
 * its first intervalNext. */
static napi_value handle_new(napi_env env, tfn_state *st, int made, uint8_t kind, tf_timer *t,
                             tf_interval *iv, bool ref) {
  napi_value out;
  if (made != TF_OK) {
    throw_status(env, made);
    return NULL;
  }
  uint32_t idx = slot_alloc(st);
  if (idx == NO_FREE) {
    if (t != NULL)
      tf_timer_free(t);
    if (iv != NULL)
      tf_interval_free(iv);
    throw_status(env, TF_ENOMEM);
    return NULL;
  }
  tfn_entry *e = &st->slab[idx];
  e->kind = kind;
  e->timer = t;
  e->iv = iv;
  e->ref = ref;
  int r = kind == KIND_TIMER ? timer_arm_task(st, idx) : TF_OK;
  e = &st->slab[idx];
  if (r != TF_OK ||
      napi_create_external(env, (void *)(uintptr_t)tag_of(st, idx), timer_finalize, st, &out) != napi_ok) {
    e->task = 0; /* an external task spawned here ends with the executor */
    slot_free(st, idx);
    if (r != TF_OK)
      throw_status(env, r);
    return NULL;
  }
  if (kind == KIND_TIMER)
    refs_add(st, e);
  return out;
}

/* A deadline query's result: the bigint, or NULL with the status thrown. */
static napi_value deadline_result(napi_env env, int r, uint64_t dl) {
  napi_value out;
  if (r != TF_OK) {
    throw_status(env, r);
    return NULL;
  }
  napi_create_bigint_uint64(env, dl, &out);
  return out;
}

/* timerNew(ms, ref) -> handle */
static napi_value js_timer_new(napi_env env, napi_callback_info info) {
  uint64_t ns;
  bool ref;
  tfn_state *st = delay_ref_args(env, info, &ns, &ref);
  if (st == NULL)
    return NULL;
  tf_timer *t = NULL;
  uint64_t now = tfn_now(st);
  int r = now > UINT64_MAX - ns ? TF_ERANGE : tfn_timer_new_at(st, now + ns, &t);
  return handle_new(env, st, r, KIND_TIMER, t, NULL, ref);
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

/* timerDeadline(handle) -> bigint nanoseconds on the driver's clock (now()) */
static napi_value js_timer_deadline(napi_env env, napi_callback_info info) {
  tfn_state *st;
  uint32_t idx;
  tfn_entry *e = sole_timer_arg(env, info, &st, &idx);
  if (e == NULL)
    return NULL;
  uint64_t dl = 0;
  int r = tf_timer_deadline(e->timer, &dl);
  return deadline_result(env, r, dl);
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

/* ---- setInterval's intervals ------------------------------------------- */

/* intervalNew(ms, ref) -> handle: an interval whose tick k is due at
 * now + k * period. Missed ticks follow TF_MISSED_TICK_BURST: every tick is
 * reported, one per await, and the schedule never moves, which is what
 * Node's setInterval iterator does with the ticks a slow consumer missed
 * (it queues them). A zero delay is a period of 1 ms, as in Node. */
static napi_value js_interval_new(napi_env env, napi_callback_info info) {
  uint64_t period;
  bool ref;
  tfn_state *st = delay_ref_args(env, info, &period, &ref);
  if (st == NULL)
    return NULL;
  if (period == 0)
    period = 1000000;
  uint64_t now = tfn_now(st);
  tf_interval *iv = NULL;
  int r = now > UINT64_MAX - 1 - period
              ? TF_ERANGE
              : tf_interval_new_on(st->drv, now + period, period, TF_MISSED_TICK_BURST, &iv);
  return handle_new(env, st, r, KIND_INTERVAL, NULL, iv, ref);
}

/* intervalNext(handle) -> Promise of the number of ticks due (1). A tick
 * due already resolves at once; otherwise the interval's task waits for
 * it, keeping the loop alive if the interval is ref'd. */
static napi_value js_interval_next(napi_env env, napi_callback_info info) {
  napi_value promise, v;
  tfn_state *st;
  uint32_t idx;
  tfn_entry *e = sole_kind_arg(env, info, KIND_INTERVAL, &st, &idx);
  if (e == NULL)
    return NULL;
  if (e->deferred != NULL) {
    throw_status(env, TF_ESTATE); /* one await at a time (the iterator's) */
    return NULL;
  }
  napi_deferred d;
  if (napi_create_promise(env, &d, &promise) != napi_ok)
    return NULL;
  uint64_t ticks = 0;
  /* A task in flight owns the interval's stored waker: only without one is
   * the interval polled here (the noop waker is replaced by the task's own
   * at its first poll, which comes as the spawned task is queued). */
  int r = e->task ? TF_PENDING : tf_interval_poll(e->iv, tf_waker_noop(), &ticks);
  if (r == TF_PENDING) {
    r = timer_arm_task(st, idx);
    if (r == TF_OK) {
      e = &st->slab[idx];
      e->deferred = d;
      refs_add(st, e);
      return promise;
    }
  }
  if (r == TF_READY) {
    napi_create_double(env, (double)ticks, &v);
    napi_resolve_deferred(env, d, v);
  } else {
    status_error(env, r, &v);
    napi_reject_deferred(env, d, v);
  }
  return promise;
}

/* intervalClose(handle, error): stops the interval for good; an await in
 * progress rejects with `error` (an AbortError when it is undefined).
 * Returns whether a tick was awaited. */
static napi_value js_interval_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return NULL;
  tfn_state *st = get_state(env);
  uint32_t idx;
  tfn_entry *e = st && argc >= 1 ? kind_arg(env, st, argv[0], KIND_INTERVAL, &idx) : NULL;
  if (e == NULL)
    return NULL;
  int awaited = e->deferred != NULL;
  if (awaited) {
    napi_valuetype t = napi_undefined;
    napi_value err = argc >= 2 ? argv[1] : NULL;
    if (err == NULL || napi_typeof(env, err, &t) != napi_ok || t == napi_undefined) {
      if (new_abort_error(env, st, &err) != 0)
        return NULL;
    }
    napi_deferred d = e->deferred;
    e->deferred = NULL;
    napi_reject_deferred(env, d, err);
  }
  refs_drop(st, e);
  e->orphan = 1; /* the handle is dead; its finalizer finds nothing to do */
  if (e->task)
    tf_interval_cancel(e->iv); /* wakes the task, whose end frees the entry */
  else
    slot_free(st, idx);
  napi_get_boolean(env, awaited, &result);
  return result;
}

/* intervalDeadline(handle) -> bigint: when the next tick is due, on the
 * now() clock (for the tests of the schedule). */
static napi_value js_interval_deadline(napi_env env, napi_callback_info info) {
  tfn_state *st;
  uint32_t idx;
  tfn_entry *e = sole_kind_arg(env, info, KIND_INTERVAL, &st, &idx);
  if (e == NULL)
    return NULL;
  uint64_t dl = 0;
  int r = tf_interval_deadline(e->iv, &dl);
  return deadline_result(env, r, dl);
}

/* ---- module-level functions ---------------------------------------------- */

static napi_value js_now(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  tfn_state *st = get_state(env);
  if (st == NULL)
    return NULL;
  napi_create_bigint_uint64(env, tfn_now(st), &out);
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

/* stats() -> { slots, capacity, refs, external, waiting }: for the leak
 * tests. slots counts Timer objects and pending timeouts; waiting the
 * timeouts in the heap and the FIFO; wakes the drains of the heap's task. */
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
  napi_create_double(env, (double)used + (double)st->plain, &v);
  napi_set_named_property(env, o, "slots", v);
  napi_create_double(env, (double)st->heap_len + st->fifo_len - st->fifo_dead, &v);
  napi_set_named_property(env, o, "waiting", v);
  napi_create_double(env, (double)st->q_polls, &v);
  napi_set_named_property(env, o, "wakes", v);
  napi_create_uint32(env, st->cap, &v);
  napi_set_named_property(env, o, "capacity", v);
  napi_create_double(env, (double)st->refs, &v);
  napi_set_named_property(env, o, "refs", v);
  napi_create_double(env, (double)external, &v);
  napi_set_named_property(env, o, "external", v);
  return o;
}

/* ---- environment set-up and teardown ------------------------------------ */

static void on_handle_closed(uv_handle_t *handle) {
  tfn_handles *h = handle->data;
  if (--h->open > 0)
    return;
  napi_async_cleanup_hook_handle hook = h->hook;
  free(h);
  if (hook != NULL)
    napi_remove_async_cleanup_hook(hook);
}

/* Closes the loop handles that were initialised; the last close callback
 * frees the block and removes the cleanup hook `hook` (if any). */
static void handles_close(tfn_handles *h, napi_async_cleanup_hook_handle hook) {
  uv_handle_t *all[4] = {(uv_handle_t *)&h->poll, (uv_handle_t *)&h->dpoll,
                         (uv_handle_t *)&h->check, (uv_handle_t *)&h->idle};
  int n = h->open;
  h->hook = hook;
  if (n == 0) {
    free(h);
    if (hook != NULL)
      napi_remove_async_cleanup_hook(hook);
    return;
  }
  for (int i = 0; i < n; i++) {
    all[i]->data = h; /* the callbacks find no state any more */
    uv_close(all[i], on_handle_closed);
  }
}

/* Pending Promises are abandoned with the environment's JavaScript heap. */
static void free_waits(tfn_state *st) {
  free(st->heap);
  free(st->fifo);
  st->heap = st->fifo = NULL;
  st->heap_len = st->heap_cap = st->fifo_len = st->fifo_cap = st->fifo_dead = 0;
  if (st->q_timer != NULL)
    tf_timer_free(st->q_timer);
  st->q_timer = NULL;
}

/* The environment goes away with timers possibly pending: free them all,
 * the executor and (once libuv has closed them) the loop handles. Promises
 * still pending are abandoned with the environment's JavaScript heap. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  tfn_state *st = arg;
  st->closed = 1;
  napi_env env = st->env;
  free_waits(st);
  for (uint32_t i = 0; i < st->cap; i++) {
    tfn_entry *e = &st->slab[i];
    if (e->kind == KIND_FREE)
      continue;
    if (e->promise != NULL)
      napi_delete_reference(env, e->promise);
    if (e->timer != NULL)
      tf_timer_free(e->timer);
    if (e->iv != NULL)
      tf_interval_free(e->iv);
  }
  free(st->slab);
  st->slab = NULL;
  st->cap = 0;
  st->free_head = NO_FREE;
  tf_executor_free(st->ex);
  st->ex = NULL;
  /* Out of the loop's poller before the descriptors close (uv_close runs
   * later), then the driver, whose timers are all gone now. */
  if (st->h != NULL) {
    uv_poll_stop(&st->h->poll);
    uv_poll_stop(&st->h->dpoll);
  }
  int fr = tf_driver_free(st->drv);
  if (fr != TF_OK) /* a timer of the driver outlived its owner: a bug here */
    fprintf(stderr, "timefuture: the environment's driver could not be freed: %s\n",
            tf_strerror(fr));
  st->drv = NULL;
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
  if (st->h != NULL) {
    tfn_handles *h = st->h;
    st->h = NULL;
    handles_close(h, handle);
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
  int fd = -1, dfd = -1;
  st->env = env;
  st->free_head = NO_FREE;
  st->q_armed = NO_DEADLINE;
  tf_driver_options opts = TF_DRIVER_OPTIONS_INIT;
  opts.clock = TF_CLOCK_MONOTONIC;
  opts.mode = TF_DRIVER_MODE_HOST;
  int r = tf_driver_new(&opts, &st->drv);
  if (r == TF_OK)
    r = tf_driver_fd(st->drv, &dfd);
  if (r == TF_OK)
    r = tf_executor_new(0, &st->ex);
  if (r == TF_OK)
    r = tf_executor_fd(st->ex, &fd);
  if (r != TF_OK) {
    throw_status(env, r);
    return -1;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok)
    return -1;
  tfn_handles *h = st->h = calloc(1, sizeof *st->h);
  /* `open` counts the handles initialised, in the order handles_close
   * closes them. */
  int ok = h != NULL && uv_poll_init(loop, &h->poll, fd) == 0;
  if (ok) {
    h->open = 1;
    ok = uv_poll_init(loop, &h->dpoll, dfd) == 0;
  }
  if (ok) {
    h->open = 2;
    ok = uv_check_init(loop, &h->check) == 0;
  }
  if (ok) {
    h->open = 3;
    ok = uv_idle_init(loop, &h->idle) == 0;
  }
  if (!ok) {
    napi_throw_error(env, "ERR_TIMEFUTURE", "timefuture: cannot set up the loop handles");
    return -1;
  }
  h->open = 4;
  h->poll.data = h->dpoll.data = h->check.data = h->idle.data = st;
  uv_poll_start(&h->poll, UV_READABLE, on_readable);
  uv_poll_start(&h->dpoll, UV_READABLE, on_driver_readable);
  /* None keeps the loop alive by itself: the driver's poll handle is
   * referenced only while timers keep it (refs), and that is what keeps
   * the loop turning for the FIFO too. */
  uv_unref((uv_handle_t *)&h->poll);
  uv_unref((uv_handle_t *)&h->dpoll);
  uv_unref((uv_handle_t *)&h->check);
  uv_unref((uv_handle_t *)&h->idle);

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
    if (st->h != NULL)
      handles_close(st->h, NULL);
    if (st->ex != NULL)
      tf_executor_free(st->ex);
    if (st->drv != NULL)
      tf_driver_free(st->drv);
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
      {"intervalNew", js_interval_new},
      {"intervalNext", js_interval_next},
      {"intervalClose", js_interval_close},
      {"intervalDeadline", js_interval_deadline},
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
