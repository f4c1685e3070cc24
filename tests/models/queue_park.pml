/* SPDX-License-Identifier: MIT */
/* The ready queue's park: consumers that find the queue empty sleep on a
 * futex word used as an event count, producers wake one through the
 * sleepers count and the pending-signal flag, and the consumer that takes
 * the last task wakes them all, as in src/queue.c (signal_one, park_wake,
 * park_sleep, tf__queue_pop_batch, tf__queue_wait, tf__queue_broadcast)
 * and src/executor.c (tf_executor_run's stop condition, settle's
 * notify_if_sleepers).
 *
 * Threads: NPROD producers (1 or 2) each pushing one task; NCONS
 * consumers (2 or 3), each taking one task per pop (a batch that leaves
 * work behind, as tf_executor_next's does), until every task is taken:
 * the stop condition, which the consumer taking the last task announces
 * with a broadcast when someone sleeps. With ONE_EACH a consumer leaves
 * after its first task, as a thread calling tf_executor_next once does.
 *
 * Abstractions: the queue is a count, pushed by one atomic step (the
 * exchange of its tail) and popped under the consumers' lock; the spin
 * phase of tf__queue_wait is one check; the futex word is a byte that
 * every wake increments (no wrap-around within a run); the kernel's futex
 * is one "waiting" bit per consumer: FUTEX_WAIT compares the word and
 * sets the bit in one step, FUTEX_WAKE clears one bit chosen
 * nondeterministically (or all), and the sleeper runs on once its bit is
 * clear. No spurious wake-ups and no timeouts: they would hide a lost
 * wake. Promela's single global order stands for the sequentially
 * consistent operations on the queue, sleepers, signal_pending and the
 * futex word.
 *
 * Properties:
 *   no lost task   every task is taken once (assertions at the end)
 *   no lost wake   no consumer sleeps for ever while a task is queued or
 *                  after the last one was taken: an invalid end state in
 *                  the safety search, and the LTL claim "parked_for_ever"
 *                  under weak fairness: never, from some point on, a task
 *                  queued and a consumer asleep.
 *
 * Mutants (each must fail):
 *   SEQ_AFTER_PENDING the consumer reads the futex word after it clears
 *                     signal_pending: a producer that set the flag after
 *                     the clear changes the word before the read, and its
 *                     FUTEX_WAKE comes before the FUTEX_WAIT; the flag
 *                     stays set, so no later push signals, and the
 *                     consumer sleeps beside the next task;
 *   SEQ_AFTER_CHECK   the consumer reads the futex word after its re-check
 *                     of the queue: a push and its wake in between leave
 *                     the word as read, and the consumer sleeps beside the
 *                     task;
 *   WAKE_KEEPS_WORD   a wake does not change the word: one sent between a
 *                     consumer's re-check and its FUTEX_WAIT finds nobody
 *                     waiting, and the consumer then sleeps;
 *   PENDING_AFTER_CHECK the consumer clears signal_pending after its
 *                     re-check: a push that saw it still set sent nothing,
 *                     and the consumer did not see that push;
 *   NO_PASS_ON        a consumer that takes part of the queue does not
 *                     pass the signal on: the only signal sent for two
 *                     pushes woke one consumer, which leaves with one task
 *                     (ONE_EACH), and the other sleeps on;
 *   BROADCAST_WAKES_ONE the wake of tf__queue_broadcast reaches one
 *                     sleeper: with three consumers, two asleep, the one
 *                     that takes the last task wakes one, the other sleeps
 *                     on past the stop condition.
 */

#ifndef NPROD
#define NPROD 2
#endif
#ifndef NCONS
#define NCONS 2
#endif
#define NTASK NPROD

byte queued = 0;        /* tasks on the queue */
byte taken = 0;         /* tasks popped, in all */
byte sleepers = 0;
bit signal_pending = 0;
byte word = 0;          /* park_seq */
bit waiting[3];         /* in the kernel's futex queue */
byte parked = 0;        /* consumers in FUTEX_WAIT (for the LTL claim) */
bit qlk = 0;            /* the consumers' lock of tf__queue_pop_batch */

inline futex_wake_one() {
  if
  :: waiting[0] -> waiting[0] = 0
  :: waiting[1] -> waiting[1] = 0
  :: waiting[2] -> waiting[2] = 0
  :: else -> skip
  fi
}

inline futex_wake_all() { waiting[0] = 0; waiting[1] = 0; waiting[2] = 0 }

/* park_wake: change the word, then FUTEX_WAKE. */
inline park_wake(all) {
#ifndef WAKE_KEEPS_WORD
  word++;
#endif
  atomic {
    if
#ifndef BROADCAST_WAKES_ONE
    :: all -> futex_wake_all()
#else
    :: all -> futex_wake_one()
#endif
    :: else -> futex_wake_one()
    fi
  }
}

/* park_sleep: FUTEX_WAIT compares the word and queues the sleeper in one
 * step, returns at once if it changed. */
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

proctype producer() {
  bit old;
  queued++;            /* the push: exchange of the tail */
  signal_one()
}

proctype consumer(byte me) {
  bit old, got, last, slept;
  byte seen;
loop:
  /* tf__queue_pop_batch(q, &t, 1) */
  got = 0;
  last = 0;
  if
  :: queued > 0 ->
     atomic { qlk == 0 -> qlk = 1 };
     if
     :: atomic { queued > 0 -> queued--; taken++; last = (taken == NTASK) }; got = 1
     :: else -> skip
     fi;
     qlk = 0;
#ifndef NO_PASS_ON
     if
     :: got && queued > 0 -> signal_one()
     :: else -> skip
     fi
#endif
  :: else -> skip
  fi;
  if
  :: got ->
     /* The poll; the task completes. The last one: notify_if_sleepers. */
     if
     :: last && sleepers != 0 -> park_wake(1)
     :: else -> skip
     fi;
#ifdef ONE_EACH
     goto done;
#endif
     goto loop
  :: else -> skip
  fi;
  if
  :: taken == NTASK -> goto done   /* stop(arg) before waiting */
  :: else -> skip
  fi;
  /* tf__queue_wait: the spin phase, one check */
  if
  :: queued > 0 || taken == NTASK -> goto loop
  :: else -> skip
  fi;
  sleepers++;
  do
  ::
#if !defined(SEQ_AFTER_CHECK) && !defined(SEQ_AFTER_PENDING)
     seen = word;
#endif
#ifndef PENDING_AFTER_CHECK
     signal_pending = 0;
#endif
#ifdef SEQ_AFTER_PENDING
     seen = word;
#endif
     if
     :: queued > 0 || taken == NTASK -> break
     :: else -> skip
     fi;
#ifdef PENDING_AFTER_CHECK
     signal_pending = 0;
#endif
#ifdef SEQ_AFTER_CHECK
     seen = word;
#endif
     park_sleep(me, seen)
  od;
  sleepers--;
  goto loop;
done:
  skip
}

init {
  byte i;
  atomic {
    i = 0;
    do
    :: i < NPROD -> run producer(); i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < NCONS -> run consumer(i); i++
    :: else -> break
    od
  };
  _nr_pr == 1;
  assert(taken == NTASK);
  assert(queued == 0);
  assert(sleepers == 0)
}

ltl parked_for_ever { [] <> (queued == 0 || parked == 0) }
