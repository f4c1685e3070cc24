/* SPDX-License-Identifier: MIT */
/* One C task's state word (src/task.h, src/task.c): the SCHEDULED,
 * RUNNING, NOTIFIED and COMPLETE flags and the reference count above
 * them, moved by wake_by_ref, begin_poll, end_poll_pending,
 * end_poll_complete, unref and waker clone/drop, by the worker loop and
 * run_task of src/executor.c, and (with -DSHUTDOWN) by tf_executor_free:
 * stop_workers, mark_complete, drain_queue, the reaping of the lifetime
 * references, and the drain a late wake does in schedule_chain.
 *
 * Threads: NCONS (2) worker threads popping the ready queue and polling;
 * the task's future returns PENDING until "event" is set, READY after, and
 * at its first poll hands a waker clone to each of two waker threads. W1
 * sets the event and wakes by value (wake_by_ref, then drop). W2 clones
 * its clone, wakes by reference through the copy, and drops both. With
 * SHUTDOWN, a thread that calls tf_executor_free at any moment.
 *
 * Abstractions: the ready queue is the number of times the task is on it
 * (its own protocol: external.pml); parking is a blocking guard; each
 * compare-and-swap loop is one atomic step doing what its successful CAS
 * does (the loop re-reads and retries, so the step happens at the CAS);
 * the pool is "not yet freed".
 *
 * Properties (assertions):
 *   no double queueing   on the queue at most once
 *   never polled concurrently, no poll after complete
 *   no use after free    every access checks the task is not freed;
 *                        freed once, when the count reaches 0
 *   future dropped exactly once   (at most once always, once at the end)
 *   no lost wake         at the end (nothing can run: timeout), without a
 *                        shutdown the task is complete: the wake after the
 *                        event was set led to a poll that saw it; and the
 *                        task is freed (no reference leaked).
 *
 * Self-wake (carried) path: at any pending poll the future may wake
 * itself through the poller's thread slot (tf__task_poll_slot): no state
 * change, the runner re-queues the task still RUNNING and marks it
 * carried (a plain field, owned by whoever holds the queue's reference);
 * taking a carried task only checks COMPLETE (a shutdown's), and its next
 * poll ends like any other. The waker threads race with the carried
 * state: a wake then sees RUNNING and sets NOTIFIED (one extra poll).
 *
 * Mutants: PENDING_IGNORES_NOTIFIED (end_poll_pending goes idle although
 * a wake came during the poll: the wake is lost),
 * WAKE_IGNORES_SCHEDULED (a wake of a queued task queues it again),
 * CARRIED_DROPS_NOTIFIED (the runner, ending a pending poll of a task it
 * had carried, takes NOTIFIED for a stale mark of a wake made while the
 * task was carried, which that poll already served, and goes idle: a
 * wake that came during the poll is lost), SOLE_OWNER_LAX (begin_poll and
 * end_poll_complete take the plain-store path with a waker's reference
 * still out: that waker's concurrent change of the word is overwritten).
 *
 * Sole owner: begin_poll and end_poll_complete, finding no reference but
 * the runner's two (the lifetime one and the queue's or running one), do
 * a load and a plain store instead of a compare-and-swap: nobody else can
 * change the word then (a clone needs a reference). The carried task's check for
 * COMPLETE is modelled but has no mutant here: the model's runners are
 * workers, which shutdown joins before it marks the task.
 */

#ifndef NCONS
#define NCONS 2
#endif

#define SCHEDULED 1
#define RUNNING 2
#define NOTIFIED 4
#define COMPLETE 8
#define REF 16

/* sole_owner() in src/task.c: exactly the runner's two references. The
 * mutant SOLE_OWNER_LAX also takes a third (a waker's) for none. */
#ifndef SOLE_OWNER_LAX
#define SOLE(s) ((s) / REF == 2 && ((s) & COMPLETE) == 0)
#else
#define SOLE(s) ((s) / REF <= 3 && ((s) & COMPLETE) == 0)
#endif

/* Spawned: scheduled, the lifetime reference and the queue's. */
byte st = SCHEDULED + 2 * REF;
byte onq = 1;
bit freed = 0;
byte frees = 0;
byte polling = 0;    /* polls in progress */
bit done = 0;        /* the final poll returned READY, or shutdown reaped */
byte dropped = 0;    /* the future's drop function ran */
bit event = 0;       /* what the future waits for */
bit registered = 0;  /* the wakers got their clones */
bit shutdown = 0;
byte exited = 0;     /* workers that left their loop */
bit carried = 0;     /* TF_TASK_CARRIED: re-queued while RUNNING */

inline free_task() {
  assert(frees == 0);
  frees++;
  freed = 1
}

inline unref() {
  atomic {
    assert(!freed);
    st = st - REF;
    if
    :: st / REF == 0 -> free_task()
    :: else -> skip
    fi
  }
}

inline push() {
  atomic { assert(!freed); assert(onq == 0); onq++ }
}

/* drain_queue: pop everything, release the queue's references. */
inline drain_queue() {
  do
  :: atomic { onq > 0 -> onq-- }; unref()
  :: atomic { onq == 0 -> break }
  od
}

/* tf__task_wake_by_ref, then schedule_chain if it queued the task. */
inline wake_by_ref() {
  atomic {
    assert(!freed);
#ifndef WAKE_IGNORES_SCHEDULED
    if
    :: (st & (COMPLETE | SCHEDULED | NOTIFIED)) != 0 -> dopush = 0
    :: (st & (COMPLETE | SCHEDULED | NOTIFIED)) == 0 && (st & RUNNING) ->
       st = st | NOTIFIED; dopush = 0
    :: (st & (COMPLETE | SCHEDULED | NOTIFIED | RUNNING)) == 0 ->
       st = (st | SCHEDULED) + REF; dopush = 1
    fi
#else
    if
    :: (st & (COMPLETE | NOTIFIED)) != 0 -> dopush = 0
    :: (st & (COMPLETE | NOTIFIED)) == 0 && (st & RUNNING) ->
       st = st | NOTIFIED; dopush = 0
    :: (st & (COMPLETE | NOTIFIED | RUNNING)) == 0 ->
       st = (st | SCHEDULED) + REF; dopush = 1
    fi
#endif
  };
  if
  :: dopush ->
     push();
     /* A shutdown that began before the push may have drained already. */
     if
     :: shutdown -> drain_queue()
     :: else -> skip
     fi
  :: else -> skip
  fi
}

/* run_task */
inline run_task() {
  was_carried = carried;
  if
  :: was_carried ->
     /* tf__task_begin_carried: a load, no transition */
     carried = 0;
     atomic {
       assert(!freed);
       assert(st & RUNNING);
       if
       :: st & COMPLETE -> ok = 0
       :: else -> ok = 1
       fi
     }
  :: else ->
     /* tf__task_begin_poll: with no reference but the runner's two, a
      * load and a plain store (two steps: anything in between is lost),
      * else one compare-and-swap */
     atomic { assert(!freed); snap = st };
     if
     :: SOLE(snap) ->
        st = (snap & ~SCHEDULED) | RUNNING; ok = 1
     :: else ->
        atomic {
          assert(!freed);
          if
          :: st & COMPLETE -> ok = 0
          :: else -> st = (st & ~SCHEDULED) | RUNNING; ok = 1
          fi
        }
     fi
  fi;
  if
  :: !ok -> unref()
  :: else ->
     atomic { polling++; assert(polling == 1); assert(!done) };
     /* the poll */
     if
     :: event -> ready = 1
     :: else ->
        ready = 0;
        if
        :: !registered -> atomic { assert(!freed); st = st + 2 * REF; registered = 1 }
        :: else -> skip
        fi;
        /* tf_waker_wake_by_ref of its own waker: the slot names it, so
         * only the slot's flag is set */
        if
        :: selfwoken = 1
        :: selfwoken = 0
        fi
     fi;
     polling--;
     if
     :: !ready && selfwoken ->
        /* carried: re-queued still RUNNING, the running reference
         * becoming the queue's (schedule_chain of the batch) */
        selfwoken = 0;
        carried = 1;
        push();
        if
        :: shutdown -> drain_queue()
        :: else -> skip
        fi
     :: !ready && !selfwoken ->
        /* tf__task_end_poll_pending */
        atomic {
          assert(!freed);
          if
          :: st & COMPLETE -> requeue = 2
#if !defined(PENDING_IGNORES_NOTIFIED) && !defined(CARRIED_DROPS_NOTIFIED)
          :: (st & COMPLETE) == 0 && (st & NOTIFIED) ->
             st = (st & ~(RUNNING | NOTIFIED)) | SCHEDULED; requeue = 1
          :: (st & (COMPLETE | NOTIFIED)) == 0 ->
             st = (st & ~RUNNING) - REF; requeue = 0
#elif defined(CARRIED_DROPS_NOTIFIED)
          :: (st & COMPLETE) == 0 && (st & NOTIFIED) && !was_carried ->
             st = (st & ~(RUNNING | NOTIFIED)) | SCHEDULED; requeue = 1
          :: (st & COMPLETE) == 0 && (st & NOTIFIED) && was_carried ->
             st = (st & ~(RUNNING | NOTIFIED)) - REF; requeue = 0
          :: (st & (COMPLETE | NOTIFIED)) == 0 ->
             st = (st & ~RUNNING) - REF; requeue = 0
#else
          :: (st & COMPLETE) == 0 ->
             st = (st & ~RUNNING) - REF; requeue = 0
#endif
          fi
        };
        if
        :: requeue == 2 -> unref()
        :: requeue == 1 ->
           /* run_list's schedule_chain of the batch's re-queued tasks */
           push();
           if
           :: shutdown -> drain_queue()
           :: else -> skip
           fi
        :: else -> skip
        fi
     :: ready ->
        atomic { assert(dropped == 0); dropped++; done = 1 };   /* t->drop */
        /* tf__task_end_poll_complete: the sole owner's load and plain
         * store, else one compare-and-swap */
        atomic { assert(!freed); snap = st };
        if
        :: SOLE(snap) ->
           st = ((snap & ~(RUNNING | NOTIFIED)) | COMPLETE) - 2 * REF;
           requeue = 0;
           free_task()                          /* dealloc_chain */
        :: else ->
           atomic {
             assert(!freed);
             if
             :: st & COMPLETE -> requeue = 2
             :: else ->
                st = ((st & ~(RUNNING | NOTIFIED)) | COMPLETE) - 2 * REF;
                requeue = 0;
                if
                :: st / REF == 0 -> free_task()   /* dealloc_chain */
                :: else -> skip
                fi
             fi
           }
        fi;
        if
        :: requeue == 2 -> unref()
        :: else -> skip
        fi
     fi
  fi
}

active [NCONS] proctype worker() {
  bit ok, ready, dopush, selfwoken, was_carried;
  byte requeue, snap;
end:
  do
  :: atomic { onq > 0 -> onq-- }; run_task()
  :: shutdown -> break
  od;
  exited++
}

/* Sets the event, then wakes by value. */
active proctype w1() {
  bit dopush;
end:                      /* a shutdown before the first poll: no clone */
  registered;
  event = 1;
  wake_by_ref();
  unref()
}

/* Clones its clone, wakes through the copy by reference, drops both. */
active proctype w2() {
  bit dopush;
end:                      /* a shutdown before the first poll: no clone */
  registered;
  atomic { assert(!freed); st = st + REF };
  wake_by_ref();
  unref();
  unref()
}

#ifdef SHUTDOWN
active proctype freer() {
  bit reap;
  shutdown = 1;
  exited == NCONS;          /* stop_workers: broadcast, join */
  /* mark_complete, under the pool lock: only a task still in the pool */
  atomic {
    if
    :: freed || (st & COMPLETE) -> reap = 0
    :: else -> st = (st | COMPLETE) & ~NOTIFIED; reap = 1
    fi
  };
  drain_queue();
  if
  :: reap ->
     atomic { assert(dropped == 0); dropped++; done = 1 };
     unref()
  :: else -> skip
  fi
}
#endif

init {
  timeout;
  assert(polling == 0);
#ifndef SHUTDOWN
  assert(done);             /* no lost wake */
#endif
  assert(dropped == 1);     /* dropped exactly once */
  assert(freed);            /* every reference released */
  assert(onq == 0)
}
