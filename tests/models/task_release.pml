/* SPDX-License-Identifier: MIT */
/* Dead tasks released while the executor's pool lock is held, against
 * tf_executor_free, as in src/executor.c (dealloc_chain, defer_dead,
 * pool_lock_take, the end of tf_executor_free).
 *
 * Threads:
 *   rel[i]  releases one dead task (its last reference is gone): tries
 *           the lock; if that fails, counts itself in deferring, reads
 *           defer_ok and, if set, pushes the task on dead_pending (one
 *           atomic step) and is done; else (or if it got the lock) it
 *           holds the lock, frees every pending task and its own, and if
 *           the handle is gone (handle_alive, under the lock) and no task
 *           is live it destroys the executor.
 *   holder  another user of the lock (a spawner refilling its reserve):
 *           takes it, frees what is pending, lets go; once or twice.
 *   freer   tf_executor_free: clears defer_ok, waits for deferring to be
 *           0, takes the lock, frees what is pending, clears handle_alive,
 *           and destroys the executor if no task is live.
 *
 * Properties: the executor is destroyed exactly once, never while a
 * thread may still touch it (no use after free), and only when every task
 * is freed; at the end nothing is pending and it is destroyed (no leak:
 * otherwise an assertion in the end check fails).
 *
 * Mutants: NO_WAIT (tf_executor_free does not wait for deferring: a
 * release that saw deferring allowed pushes its task after the free's
 * last look, and the executor is never destroyed) and ALIVE_EARLY (the
 * handle counts as gone from the free's start, not from its last locked
 * look: a release holding the lock then destroys the executor while the
 * free, or a deferring release, still uses it).
 */

#ifndef NREL
#define NREL 2
#endif

bit lk;
bit alive = 1;           /* handle_alive, under the lock */
bit defer_ok = 1;
byte deferring;
byte pending;            /* tasks on dead_pending */
byte live = NREL;        /* tasks counted live by the pool */
bit destroyed;
byte destroys;
byte done;               /* threads finished */

inline lock() { atomic { lk == 0 -> lk = 1 } }
inline unlock() { lk = 0 }

/* Any access to the executor's memory. */
inline touch() { assert(!destroyed) }

/* The exchange that takes every pending task, and their free. */
inline drain() {
  touch();
  atomic { live = live - pending; pending = 0 }
}

inline destroy() {
  atomic { assert(!destroyed); assert(live == 0 && pending == 0); destroyed = 1; destroys++ }
}

proctype rel() {
  bit got, last, a;
  touch();
  if
  :: atomic { lk == 0 -> lk = 1; got = 1 }
  :: atomic { lk == 1 -> got = 0 }            /* trylock fails */
  fi;
  if
  :: !got ->
     touch();
     deferring++;
     touch();
     a = defer_ok;
     if
     :: a ->
        touch();
        pending++;                            /* the push */
        touch();
        deferring--                           /* last access */
     :: else ->
        touch();
        deferring--;
        lock();
        got = 1
     fi
  :: else -> skip
  fi;
  if
  :: got ->
     drain();
     live--;                                  /* its own task */
     last = !alive && live == 0;
     unlock();
     if
     :: last -> destroy()
     :: else -> skip
     fi
  :: else -> skip
  fi;
  done++
}

proctype holder() {
  byte n;
  for (n : 1 .. 2) {
    /* A spawner: only while the handle is alive (spawns after the
     * free began are refused before they reach the pool). */
    if
    :: atomic { defer_ok && lk == 0 -> lk = 1 };
       drain();
       unlock()
    :: !defer_ok -> break
    fi
  }
  done++
}

proctype freer() {
  bit last;
  touch();
  defer_ok = 0;
#ifdef ALIVE_EARLY
  alive = 0;
#endif
#ifndef NO_WAIT
  (deferring == 0);
#endif
  lock();
  drain();
  alive = 0;
  last = live == 0;
  unlock();
  if
  :: last -> destroy()
  :: else -> skip
  fi;
  done++
}

init {
  byte i;
  atomic {
    for (i : 1 .. NREL) { run rel() }
    run holder();
    run freer()
  }
  (done == NREL + 2);
  /* No leak: every task freed and the executor destroyed, once. */
  assert(pending == 0);
  assert(destroys == 1)
}
