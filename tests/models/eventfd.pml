/* SPDX-License-Identifier: MIT */
/* The executor's fd (tf_executor_fd): how wakes make it readable and how a
 * host loop's drain makes it unreadable again, as in src/executor.c
 * (fd_signal, fd_write_locked, fd_rearm, tf_executor_drain).
 *
 * Threads: NPROD producers, each waking PUSHES tasks (a wake pushes a task
 * on the queue, then calls fd_signal); one host loop that waits until
 * the fd is readable, drains (takes every queued task, or only one, as a
 * drain with a small capacity does), then re-arms; and (unless NO_NEXT) a
 * thread calling tf_executor_next twice, which re-arms too.
 *
 * Abstractions: the queue is its length (the ready queue's own protocol is
 * checked in external.pml); the eventfd is its counter (write adds 1, read
 * takes the whole counter to 0, "readable" is counter > 0); Promela runs
 * one statement at a time in one global order, which is what the C code's
 * sequentially consistent operations on the flag, the queues and the fence
 * in fd_rearm guarantee for the accesses that matter here.
 *
 * Properties:
 *   invariant   outside fd_lock, signalled == (counter > 0): the flag says
 *               exactly whether the fd is readable (monitor process).
 *   no lost wake   when every producer is done and the host waits for the
 *               fd for ever (nothing else can run: Promela's timeout), the
 *               queue is empty (assertion in the host).
 *   no spin     the fd is not readable for ever with nothing queued: a
 *               level-triggered host would spin (LTL no_spin under weak
 *               fairness: always eventually the fd is unreadable or there
 *               is work).
 *
 * Mutant OLD_PROTOCOL: the protocol before the fix. The producer does
 * exchange(signalled, 1) and writes without a lock; the re-arm does
 * exchange(signalled, 0) and reads if it was set. A read can then swallow
 * the write of a producer whose flag stays set (a lost wake: the fd stays
 * unreadable with tasks queued), and a write can land after the re-arm
 * cleared the flag (readable for ever with nothing queued). The invariant
 * monitor is left out for it: that protocol never kept the flag and the
 * counter together, and the two consequences above are what matter.
 */

#ifndef NPROD
#define NPROD 2
#endif
#ifndef PUSHES
#define PUSHES 1
#endif

byte q = 0;         /* tasks on the queue */
byte taken = 0;     /* tasks the host took */
bit signalled = 0;  /* e->efd_signalled */
byte counter = 0;   /* the eventfd's counter */
bit fd_lock = 0;    /* e->fd_lock */

inline lock() { atomic { fd_lock == 0 -> fd_lock = 1 } }
inline unlock() { fd_lock = 0 }

#ifndef OLD_PROTOCOL
/* fd_signal: a lock-free check, then flag and counter set together under
 * the lock (fd_write_locked). */
inline fd_signal() {
  if
  :: signalled -> skip
  :: else ->
     lock();
     if
     :: !signalled -> counter++; signalled = 1
     :: else -> skip
     fi;
     unlock()
  fi
}

/* fd_rearm: clear flag and counter together, then re-check the queue. */
inline fd_rearm() {
  lock();
  if
  :: signalled -> counter = 0; signalled = 0
  :: else -> skip
  fi;
  unlock();
  if
  :: q > 0 -> fd_signal()
  :: else -> skip
  fi
}
#else
inline fd_signal() {
  atomic { old = signalled; signalled = 1 };
  if
  :: old == 0 -> counter++
  :: else -> skip
  fi
}

inline fd_rearm() {
  atomic { old = signalled; signalled = 0 };
  if
  :: old -> counter = 0
  :: else -> skip
  fi;
  if
  :: q > 0 -> fd_signal()
  :: else -> skip
  fi
}
#endif

/* A wake: tf__queue_push_chain, then schedule_chain's fd_signal. */
active [NPROD] proctype producer() {
  bit old;
  byte i = 0;
  do
  :: i < PUSHES -> q++; fd_signal(); i++
  :: else -> break
  od
}

active proctype host() {
  bit old;
  do
  :: counter > 0 ->                  /* poll()/epoll says readable */
     if
     :: q > 0 -> atomic { q--; taken++ }            /* capacity 1 */
     :: atomic { taken = taken + q; q = 0 }         /* everything */
     fi;
     fd_rearm()
  :: timeout -> break                /* the fd stays unreadable for ever */
  od;
  /* Nothing else can run and the host sleeps: no task may be left. */
  assert(q == 0);
  assert(taken == NPROD * PUSHES)
}

#ifndef NO_NEXT
/* A thread in tf_executor_next beside the host loop: it takes one task if
 * there is one, else re-arms the fd, as next does before it parks (its
 * parking is the ready queue's business: external.pml). Two consumers
 * re-arming at once is what the executor allows. */
active proctype next_caller() {
  bit old;
  byte k = 0;
  do
  :: k < 2 ->
     if
     :: atomic { q > 0 -> q--; taken++ }
     :: q == 0 -> fd_rearm()
     fi;
     k++
  :: else -> break
  od
}
#endif

#ifndef OLD_PROTOCOL
active proctype invariant() {
end:
  atomic { fd_lock == 0 && signalled != (counter > 0) -> assert(false) }
}
#endif

ltl no_spin { [] <> (counter == 0 || q > 0) }
