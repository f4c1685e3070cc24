/* SPDX-License-Identifier: MIT */
/* Timers against the driver thread: fire, cancel, reset, free and poll, as
 * in src/timer.c and src/driver.c (fire_due_locked, finish_batch,
 * tf__driver_arm_locked, tf__driver_wait_not_firing_locked).
 *
 * Two timers, T0 awaited by task A (waker 1) and T1 by task B (waker 2),
 * both armed, each with its task's waker stored. Threads:
 *   driver  takes the due timers from the wheel under the lock, marks them
 *           FIRING, unlocks, visits them in either order: skips one a
 *           waker reset (FIRING_RESET), else takes its waker and wakes it
 *           if still FIRING (drops it otherwise), and then, outside the
 *           lock, turns a timer still FIRING into FIRED with one atomic
 *           step, after which it never touches that timer again; then
 *           finish_batch under the lock settles the timers the wakes
 *           changed (CANCELLED, re-filed, released) and ends the batch;
 *           timers reset into the past form the next batch at once.
 *   code    waker 1 runs code on the driver thread when the driver wakes
 *           it (at most MAXRUNS times): nothing, or cancel, reset (future
 *           or past) or free of T1, or reset of its own T0: calls made
 *           inside a batch, on the driver thread.
 *   user    another thread: NOPS calls on T0 (cancel, reset to the future
 *           or the past, poll with waker 1), then waits until T0 settles,
 *           checks it, and frees it. A poll of an armed T0 first tries
 *           the way without the lock (poll_unlocked): it stores its clone
 *           into an empty waker slot with a compare-and-swap, reads the
 *           state again, and takes its clone back (compare-and-swap) if
 *           the timer is no longer armed, going the locked way then.
 *   clock   makes the deadline of any filed timer pass, at any moment.
 *   init    at the end: waits until T1 settles, stops the driver as
 *           driver_stop does, checks, frees T1 if the code did not.
 *
 * Both timers are filed already: creating a timer goes through the
 * driver's inbox, which every locked call files first, so the calls here
 * see filed timers only; timer_inbox.pml checks the inbox against the
 * driver going to sleep.
 *
 * The waker slot is shared without the lock: every write to it is one
 * atomic step (an exchange or a compare-and-swap), and whoever ends an
 * armed timer changes its state before it takes the waker. refs1 counts
 * the clones of waker 1 not yet woken or dropped: a clone consumed twice
 * (woken by the driver after the poll took it back and dropped it) is a
 * use after free.
 *
 * Abstractions: a deadline is "due" or not; the wheel is one "filed" bit
 * per timer; the driver's timed wait returns once a filed timer is due or
 * none is filed; condition variables are waiting bits (no spurious
 * wake-ups); a waker is its task's number, a wake clears the task's
 * "waiting", a drop does not; clone/drop reference counting of wakers is
 * task_state.pml's. Never-early is not a property of this model.
 *
 * Properties (assertions, and invalid end states for threads stuck):
 *   quiet         a timer never fire-wakes after cancel or free returned
 *                 (until a reset returned)
 *   no use after free   the driver never touches a released timer;
 *                 each timer released exactly once
 *   one owner     every clone of waker 1 is woken or dropped exactly once
 *                 (refs1 never goes below 0, and is 0 at the end)
 *   reset fires   a timer that settled (fired or cancelled) leaves no task
 *                 waiting on it: a reset timer fired again with its stored
 *                 waker; and a filed timer always settles (else the waiting
 *                 thread is stuck: invalid end state)
 *
 * Mutants: FREE_RELEASES_FIRING (free releases a timer of the batch being
 * fired at once instead of leaving it to the driver or waiting for the
 * batch: the driver then touches freed memory) and
 * DRIVER_DROPS_RESET_WAKER (the driver takes and drops the waker of a
 * timer reset inside the batch: its next fire wakes nobody) and
 * FIRED_BEFORE_WAKE (the timer is marked FIRED before its waker is woken:
 * a thread that sees it fired finds its task not yet woken, and a free or
 * reset that sees FIRED no longer waits, so the wake comes after it
 * returned) and POLL_NO_RECHECK (the poll without the lock returns
 * PENDING once its clone is stored, without reading the state again: a
 * driver that took the empty slot just before leaves the clone in a fired
 * timer, and the task waits for ever) and TAKE_NOT_ATOMIC (the driver
 * reads the waker slot and clears it in two steps: a poll that takes its
 * clone back in between drops it, and the driver wakes it again).
 */

#ifndef NOPS
#define NOPS 2
#endif
#ifndef MAXRUNS
#define MAXRUNS 2
#endif

#define ARMED 1
#define FIRING 2
#define FIRED 3
#define CANCELLED 4
#define F_CANCEL 5
#define F_RESET 6
#define F_FREE 7
#define isfiring(s) ((s) == FIRING || (s) >= F_CANCEL)

byte ts[2] = ARMED;
bit filed[2] = 1;        /* in the wheel */
bit due[2];
byte waker[2];           /* stored waker: 0 none, else the task's number */
bit waiting[2] = 1;      /* the task polled PENDING, not woken since */
bit released[2];
byte releases[2];
bit user_freed[2];       /* tf_timer_free was called */
bit quiet[2];            /* cancel or free returned, no reset since */
byte refs1;              /* clones of waker 1 not yet woken or dropped */

bit lk;                  /* d->lock */
bit firing;              /* d->firing */
bit dw;                  /* the driver waits on d->wakeup */
bit fdw[2];              /* waiting on d->fire_done: user, init */
bit stopping;
bit driver_exited;
bit user_done;
byte code_runs;

inline lock() { atomic { lk == 0 -> lk = 1 } }
inline unlock() { lk = 0 }

inline release(i) {
  atomic { assert(!released[i]); released[i] = 1; releases[i]++ }
}

/* A clone taken from a slot is woken or dropped: it ends. */
inline consume(w) {
  if
  :: w == 1 -> assert(refs1 > 0); refs1--
  :: else -> skip
  fi
}

/* Takes the waker out of timer i's slot: one exchange. */
inline take(i, w) {
  atomic { w = waker[i]; waker[i] = 0 }
}

/* A wake: the task learns (it polls again); a drop does nothing. Either
 * ends the clone. */
inline wake_plain(w) {
  consume(w);
  if
  :: w == 1 -> waiting[0] = 0
  :: w == 2 -> waiting[1] = 0
  :: else -> skip
  fi
}

/* tf__driver_arm_locked: 1 if the deadline has passed (not filed). */
inline arm_locked(i, r) {
  if
  :: due[i] -> r = 1
  :: else -> filed[i] = 1; r = 0; dw = 0   /* signal d->wakeup */
  fi
}

/* tf__driver_wait_not_firing_locked, for a thread that is not the driver. */
inline wait_not_firing(i) {
  if
  :: me_driver -> skip
  :: else ->
     skip;
     do
     :: isfiring(ts[i]) ->
        atomic { fdw[me] = 1; unlock() };
        atomic { fdw[me] == 0 && lk == 0 -> lk = 1 }
     :: else -> break
     od
  fi
}

inline t_cancel(i) {
  o_w = 0;
  lock();
  wait_not_firing(i);
  o_st = ts[i];
  assert(!released[i]);
  if
  :: me_driver && (o_st == FIRING || o_st == F_RESET) ->
     ts[i] = F_CANCEL; take(i, o_w); o_rc = 1
  :: !(me_driver && (o_st == FIRING || o_st == F_RESET)) && o_st == ARMED ->
     filed[i] = 0; ts[i] = CANCELLED; take(i, o_w); o_rc = 1
  :: else -> o_rc = 0          /* TF_ESTATE */
  fi;
  unlock();
  wake_plain(o_w);
  if
  :: o_rc -> quiet[i] = 1
  :: else -> skip
  fi
}

/* tf_timer_reset_at with a deadline in the past (d = 1) or future (0). */
inline t_reset(i, d) {
  o_w = 0;
  lock();
  wait_not_firing(i);
  o_st = ts[i];
  assert(!released[i]);
  if
  :: me_driver && isfiring(o_st) ->
     due[i] = d; ts[i] = F_RESET          /* the driver re-files it */
  :: else ->
     if
     :: o_st == ARMED -> filed[i] = 0
     :: else -> skip
     fi;
     due[i] = d;
     ts[i] = ARMED;
     arm_locked(i, o_rc);
     if
     :: o_rc -> ts[i] = FIRED; take(i, o_w)
     :: else -> skip
     fi
  fi;
  quiet[i] = 0;
  unlock();
  wake_plain(o_w)
}

inline t_free(i) {
  user_freed[i] = 1;
  o_st = ts[i];
  assert(!released[i]);
  if
  :: o_st == FIRED || o_st == CANCELLED ->
     /* lock-free: the driver is done with it */
     o_w = waker[i]; release(i); consume(o_w)
  :: else ->
     lock();
#ifndef FREE_RELEASES_FIRING
     wait_not_firing(i);
#endif
     o_st = ts[i];
     take(i, o_w);
     consume(o_w);
#ifndef FREE_RELEASES_FIRING
     if
     :: me_driver && isfiring(o_st) -> ts[i] = F_FREE   /* the driver frees it */
     :: else ->
        if
        :: o_st == ARMED -> filed[i] = 0
        :: else -> skip
        fi;
        release(i)
     fi;
#else
     filed[i] = 0;
     release(i);
#endif
     unlock()
  fi;
  quiet[i] = 1
  /* o_w is dropped: no wake */
}

/* tf_timer_poll(T0, waker 1), by task A on the user thread. o_rc: 0
 * PENDING, 1 READY, 2 ECANCELED, 3 not known yet (go the locked way). */
inline t_poll0() {
  o_w = 0;
  o_rc = 3;
  if
  :: ts[0] == FIRED -> o_rc = 1                    /* lock-free READY */
  :: ts[0] == ARMED ->                             /* poll_unlocked */
     if
     :: waker[0] == 1 && !due[0] -> o_rc = 0       /* stored already */
     :: waker[0] == 0 && !due[0] ->
        /* The compare-and-swap of an empty slot to a new clone. */
        atomic {
          if
          :: waker[0] == 0 -> waker[0] = 1; refs1++; waiting[0] = 1; o_w = 1
          :: else -> skip
          fi
        };
        if
        :: o_w == 1 ->
#ifndef POLL_NO_RECHECK
           if
           :: ts[0] == ARMED -> o_rc = 0
           :: else ->                              /* take it back, if still there */
              atomic {
                if
                :: waker[0] == 1 -> waker[0] = 0; consume(1)
                :: else -> skip
                fi
              }
           fi
#else
           o_rc = 0
#endif
        :: else -> skip
        fi;
        o_w = 0
     :: else -> skip                               /* locked: due, or another waker */
     fi
  :: else -> skip
  fi;
  if
  :: o_rc == 3 ->
     lock();
     o_st = ts[0];
     assert(!released[0]);
     if
     :: o_st == FIRED || o_st == FIRING -> o_rc = 1
     :: o_st != FIRED && o_st != FIRING && o_st != ARMED && o_st != F_RESET ->
        o_rc = 2                                   /* TF_ECANCELED */
     :: o_st == ARMED && due[0] ->                  /* fire_now_locked */
        filed[0] = 0; ts[0] = FIRED; take(0, o_w); o_rc = 1
     :: (o_st == ARMED && !due[0]) || o_st == F_RESET ->
        o_rc = 0;                                  /* TF_PENDING */
        if
        :: waker[0] != 1 ->                        /* exchange for a new clone */
           atomic { o_w = waker[0]; waker[0] = 1; refs1++ }
        :: else -> skip
        fi
     fi;
     /* waiting changes with the result, as the task sees it */
     waiting[0] = (o_rc == 0);
     unlock()
  :: else -> skip
  fi;
  if
  :: o_rc != 0 -> waiting[0] = 0
  :: else -> skip
  fi;
  consume(o_w)                                     /* a replaced or stale waker is dropped */
}

/* What waker 1 does when the driver wakes it. */
inline w1_code() {
  if
  :: code_runs >= MAXRUNS -> skip
  :: else ->
     code_runs++;
     if
     :: skip
     :: !user_freed[1] -> t_cancel(1)
     :: !user_freed[1] -> t_reset(1, 0)
     :: !user_freed[1] -> t_reset(1, 1)
     :: !user_freed[1] -> t_free(1)
     :: t_reset(0, 0)
     :: t_reset(0, 1)
     fi
  fi
}

/* One timer of the batch, outside the lock. */
inline visit(i) {
  if
  :: !b[i] -> skip
  :: else ->
  assert(!released[i]);
  d_st = ts[i];
#ifndef DRIVER_DROPS_RESET_WAKER
  if
  :: d_st == F_RESET -> skip
  :: else ->
#endif
#ifdef FIRED_BEFORE_WAKE
     atomic { if :: ts[i] == FIRING -> ts[i] = FIRED; b[i] = 0 :: else -> skip fi };
#endif
#ifndef TAKE_NOT_ATOMIC
     take(i, d_w);
#else
     d_w = waker[i];
     waker[i] = 0;
#endif
     if
     :: d_w != 0 && d_st == FIRING ->
        assert(!quiet[i]);              /* no wake after cancel/free */
        wake_plain(d_w);
        if
        :: d_w == 1 -> w1_code()
        :: else -> skip
        fi
     :: else -> consume(d_w)            /* none, or dropped */
     fi;
#ifndef FIRED_BEFORE_WAKE
     /* The compare-and-swap FIRING -> FIRED: the driver's last access.
      * A timer a wake changed stays in the batch, settled under the lock. */
     atomic { if :: ts[i] == FIRING -> ts[i] = FIRED; b[i] = 0 :: else -> skip fi }
#endif
#ifndef DRIVER_DROPS_RESET_WAKER
  fi
#endif
  fi
}

inline settle(i) {
  if
  :: b[i] ->
     b[i] = 0;
     assert(!released[i]);
     if
     :: ts[i] == F_CANCEL -> ts[i] = CANCELLED
     :: ts[i] == F_RESET ->
        ts[i] = ARMED;
        arm_locked(i, d_r);
        if
        :: d_r -> ts[i] = FIRING; nb[i] = 1   /* due already: refire */
        :: else -> skip
        fi
     :: ts[i] == F_FREE -> release(i)
     fi
  :: else -> skip
  fi
}

proctype driver() {
  bit me_driver = 1, me = 0;
  byte d_st, d_w, o_st, o_w;
  bit d_r;
  byte o_rc;
  bit b[2], nb[2];
  lock();
  do
  :: stopping -> break
  :: !stopping && ((filed[0] && due[0]) || (filed[1] && due[1])) ->
     /* tf__wheel_advance */
     if :: filed[0] && due[0] -> filed[0] = 0; b[0] = 1; ts[0] = FIRING :: else -> skip fi;
     if :: filed[1] && due[1] -> filed[1] = 0; b[1] = 1; ts[1] = FIRING :: else -> skip fi;
     firing = 1;
     unlock();
     do
     :: b[0] || b[1] ->
        if
        :: skip -> visit(0); visit(1)
        :: skip -> visit(1); visit(0)
        fi;
        /* finish_batch */
        lock();
        settle(0);
        settle(1);
        b[0] = nb[0]; b[1] = nb[1]; nb[0] = 0; nb[1] = 0;
        if
        :: !b[0] && !b[1] -> firing = 0; fdw[0] = 0; fdw[1] = 0  /* broadcast */
        :: else -> skip
        fi;
        unlock()
     :: else -> break
     od;
     lock()
  :: !stopping && !((filed[0] && due[0]) || (filed[1] && due[1])) ->
     if
     :: filed[0] || filed[1] ->                 /* timed wait */
        unlock();
        atomic { lk == 0 && ((filed[0] && due[0]) || (filed[1] && due[1]) ||
                             !(filed[0] || filed[1]) || stopping) -> lk = 1 }
     :: else ->                                 /* wait for an arm */
        atomic { dw = 1; unlock() };
end_idle:
        atomic { dw == 0 && lk == 0 -> lk = 1 }
     fi
  od;
  unlock();
  driver_exited = 1
}

proctype clock() {
end:
  do
  :: atomic { filed[0] && !due[0] -> due[0] = 1 }
  :: atomic { filed[1] && !due[1] -> due[1] = 1 }
  od
}

proctype user() {
  bit me_driver = 0, me = 0;
  byte o_st, o_w, n = 0;
  byte o_rc;
  do
  :: n < NOPS ->
     n++;
     if
     :: t_cancel(0)
     :: t_reset(0, 0)
     :: t_reset(0, 1)
     :: t_poll0()
     fi
  :: else -> break
  od;
  /* Wait for T0 to settle (fired or cancelled) by watching, not calling. */
  atomic { (ts[0] == FIRED || ts[0] == CANCELLED) && !isfiring(ts[0]) };
  assert(!waiting[0]);          /* it fired with the waker stored */
  t_free(0);
  user_done = 1
}

init {
  bit me_driver = 0, me = 1;
  byte o_st, o_w;
  byte o_rc;
  atomic {
    waker[0] = 1;
    refs1 = 1;
    waker[1] = 2;
    run driver();
    run clock();
    run user()
  };
  user_done;
  (user_freed[1] || ts[1] == FIRED || ts[1] == CANCELLED);
  /* driver_stop: a batch may still be ending (a timer is FIRED before its
   * batch is over); the driver finishes it before it sees stopping. */
  lock();
  stopping = 1;
  dw = 0;
  unlock();
  driver_exited;
  assert(!firing);
  assert(user_freed[1] || !waiting[1]);   /* T1 fired with its waker */
  if
  :: !user_freed[1] -> t_free(1)
  :: else -> skip
  fi;
  assert(releases[0] == 1 && releases[1] == 1);
  assert(refs1 == 0)
}
