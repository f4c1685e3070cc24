/* SPDX-License-Identifier: MIT */
/* External tasks handed to host threads by tf_executor_next and given back
 * by tf_executor_report, through the ready queue's park/signal handshake,
 * as in src/queue.c (signal_one, tf__queue_pop_batch, tf__queue_wait),
 * src/executor.c (tf_executor_next, tf_executor_report,
 * notify_if_sleepers) and src/task.c (the state word).
 *
 * Threads: NHOST hosts (2 or 3), each calling tf_executor_next once, which
 * takes ONE task (or returns TF_EEMPTY once no external task is alive),
 * polls it and reports TF_READY; one waker holding a clone of each of two
 * idle external tasks, which wakes T0 and T1 back to back (wake_by_ref),
 * optionally T0 once more (unless NO_REWAKE), then drops both clones.
 *
 * Abstractions: the queue (Vyukov's intrusive FIFO, popped under one
 * lock) is a FIFO channel, pushed without the lock and popped under it
 * (a push is its exchange of the tail: the queue counts as non-empty from
 * there, and a pop that reaches the task waits for its link, so the link
 * adds no state that a consumer can act on; a consumer's re-queued batch
 * is pushed as one chain: still one FIFO step); the park is the futex
 * word that every wake increments, and the kernel's futex one "waiting"
 * bit per host (FUTEX_WAIT compares the word and sets the bit in one
 * step; a wake clears one bit chosen nondeterministically, a broadcast
 * all; no spurious wake-ups, which would hide a lost signal; the park
 * itself is checked in queue_park.pml); the spin phase of tf__queue_wait is one
 * check; the eventfd re-arm inside next is left out (eventfd.pml); each
 * compare-and-swap loop of task.c is one atomic step that does what its
 * successful CAS does. Promela's single global order stands for the
 * sequentially consistent operations on sleepers and signal_pending.
 *
 * Properties:
 *   no double queueing   a task is never on the queue twice (assertion at
 *                        each push)
 *   at most once per wake  a task is handed out no more often than it was
 *                        queued (assertion at each take)
 *   one report per take  a report finds the task RUNNING; at the end every
 *                        task was taken once and reported once, and freed
 *                        once (assertions at the end)
 *   liveness             no host sleeps for ever while a task is queued:
 *                        an invalid end state in the safety search, and the
 *                        LTL claim "parked" under weak fairness: never, from
 *                        some point on, a task queued and a host parked.
 *
 * Mutant OLD_RULE: the queue before the fix, where a consumer that took
 * only part of the queue did not pass the signal on. Two hosts park; the
 * first wake signals one, the second wake sees signal_pending set and sends
 * nothing; the woken host takes one task and leaves; the other sleeps for
 * ever beside the second task.
 */

#ifndef NHOST
#define NHOST 2
#endif
#define NTASK 2

/* The state word (src/task.h). */
#define SCHEDULED 1
#define RUNNING 2
#define NOTIFIED 4
#define COMPLETE 8
#define REF 16

byte st[NTASK];        /* state words; each starts idle with 2 references */
bit freed[NTASK];
byte onq[NTASK];       /* times on the queue now */
byte queued_n[NTASK];  /* times pushed in all */
byte takes[NTASK];
byte reports[NTASK];
byte queued = 0;       /* tasks on the queue (for the LTL claim) */
byte parked = 0;       /* hosts inside FUTEX_WAIT (for the LTL claim) */
byte live_ext = NTASK; /* e->live_external */
byte empties = 0;      /* nexts that returned TF_EEMPTY */

chan rq = [NTASK] of { byte };
bit qlk = 0;           /* q->lock */
byte sleepers = 0;
bit signal_pending = 0;
byte word = 0;         /* q->park_seq */
bit waiting[3];        /* in the kernel's futex queue */

inline qlock() { atomic { qlk == 0 -> qlk = 1 } }
inline qunlock() { qlk = 0 }

inline futex_wake_one() {
  if
  :: waiting[0] -> waiting[0] = 0
  :: waiting[1] -> waiting[1] = 0
  :: waiting[2] -> waiting[2] = 0
  :: else -> skip
  fi
}

/* park_wake: change the word, then FUTEX_WAKE one or all. */
inline park_wake(all) {
  word++;
  atomic {
    if
    :: all -> waiting[0] = 0; waiting[1] = 0; waiting[2] = 0
    :: else -> futex_wake_one()
    fi
  }
}

/* park_sleep: sleeps unless the word changed since it was read. */
inline park_sleep(me, seen) {
  atomic {
    if
    :: word == seen -> waiting[me] = 1; parked++; slept = 1
    :: else -> slept = 0
    fi
  };
  if
  :: slept -> atomic { waiting[me] == 0 -> parked-- }
  :: else -> skip
  fi
}

/* signal_one: only if someone sleeps and no signal is on its way. */
inline signal_one() {
  if
  :: sleepers != 0 ->
     atomic { old = signal_pending; signal_pending = 1 };
     if
     :: old == 0 -> park_wake(0)
     :: else -> skip
     fi
  :: else -> skip
  fi
}

inline push(i) {
  atomic {
    assert(onq[i] == 0);   /* never queued twice */
    onq[i]++; queued_n[i]++; queued++;
    rq!i
  };
  signal_one()
}

inline unref(i) {
  atomic {
    assert(!freed[i]);
    st[i] = st[i] - REF;
    if
    :: st[i] / REF == 0 -> freed[i] = 1
    :: else -> skip
    fi
  }
}

/* tf__task_wake_by_ref, then tf__executor_schedule if it queued the task. */
inline wake_by_ref(i) {
  atomic {
    assert(!freed[i]);
    if
    :: (st[i] & (COMPLETE | SCHEDULED | NOTIFIED)) != 0 -> dopush = 0
    :: (st[i] & (COMPLETE | SCHEDULED | NOTIFIED)) == 0 && (st[i] & RUNNING) ->
       st[i] = st[i] | NOTIFIED; dopush = 0
    :: (st[i] & (COMPLETE | SCHEDULED | NOTIFIED | RUNNING)) == 0 ->
       st[i] = (st[i] | SCHEDULED) + REF; dopush = 1
    fi
  };
  if
  :: dopush -> push(i)
  :: else -> skip
  fi
}

proctype waker() {
  bit old, dopush;
  wake_by_ref(0);
  wake_by_ref(1);
#ifndef NO_REWAKE
  if
  :: wake_by_ref(0)   /* a second wake of T0, however late */
  :: skip
  fi;
#endif
  unref(0);
  unref(1)
}

proctype host(byte me) {
  bit old, got, slept;
  byte t, left, seen;
retry:
  /* tf__queue_pop_batch(&e->extq, &t, 1) */
  got = 0;
  if
  :: len(rq) > 0 ->
     qlock();
     if
     :: atomic { len(rq) > 0 -> rq?t; onq[t]--; queued-- }; got = 1
     :: else -> skip
     fi;
     qunlock();
#ifndef OLD_RULE
     /* The pass-on: work left behind goes to another sleeper. */
     if
     :: got && len(rq) > 0 -> signal_one()
     :: else -> skip
     fi
#endif
  :: else -> skip
  fi;
  if
  :: got -> goto take
  :: else -> skip
  fi;
  /* (fd_rearm) then: */
  if
  :: len(rq) > 0 -> goto retry
  :: else -> skip
  fi;
  if
  :: live_ext == 0 -> goto no_task
  :: else -> skip
  fi;
  /* tf__queue_wait(&e->extq, forever, stop_next): spin phase, then park */
  if
  :: len(rq) > 0 || live_ext == 0 -> goto retry
  :: else -> skip
  fi;
  sleepers++;
  do
  :: seen = word;
     signal_pending = 0;
     if
     :: len(rq) > 0 || live_ext == 0 -> break
     :: else -> park_sleep(me, seen)
     fi
  od;
  sleepers--;
  goto retry;

take:
  /* tf__task_begin_poll */
  atomic {
    assert(!freed[t]);
    if
    :: st[t] & COMPLETE -> got = 0
    :: else -> st[t] = (st[t] & ~SCHEDULED) | RUNNING
    fi
  };
  if
  :: !got -> unref(t); goto retry
  :: else -> skip
  fi;
  takes[t]++;
  assert(takes[t] <= queued_n[t]);    /* at most once per wake */

  /* The caller polls it; tf_executor_report(TF_READY): */
  atomic {
    assert(!freed[t]);
    assert(st[t] & RUNNING);          /* a report for this take */
    reports[t]++;
    left = live_ext; live_ext--
  };
  if
  :: left == 1 ->                     /* notify_if_sleepers */
     if
     :: sleepers != 0 -> park_wake(1)
     :: else -> skip
     fi
  :: else -> skip
  fi;
  /* tf__task_end_poll_complete: running and lifetime references */
  atomic {
    assert(!freed[t]);
    st[t] = ((st[t] & ~(RUNNING | NOTIFIED)) | COMPLETE) - 2 * REF;
    if
    :: st[t] / REF == 0 -> freed[t] = 1
    :: else -> skip
    fi
  };
  goto finished;

no_task:
  empties++;
finished:
  skip
}

init {
  byte i;
  /* Idle, polled once already: the lifetime reference and the waker's. */
  st[0] = 2 * REF;
  st[1] = 2 * REF;
  atomic {
    run waker();
    i = 0;
    do
    :: i < NHOST -> run host(i); i++
    :: else -> break
    od
  };
  _nr_pr == 1;
  assert(takes[0] == 1 && takes[1] == 1);
  assert(reports[0] == takes[0] && reports[1] == takes[1]);
  assert(freed[0] && freed[1]);
  assert(empties == NHOST - 2)
}

ltl parked_for_ever { [] <> (queued == 0 || parked == 0) }
