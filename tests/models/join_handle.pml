/* SPDX-License-Identifier: MIT */
/* The Rust binding's task cell (bindings/rust/src/executor.rs): the state
 * word shared by a task spawned with Executor::spawn and its JoinHandle,
 * with the TASK and HANDLE reference bits, COMPLETE, WAKER (the waker slot
 * holds the awaiting task's waker and is the task side's to read) and
 * TAKEN (the output is gone), moved by `complete`, `release` (and
 * drop_task's form of it), `JoinHandle::poll` and `take_output`. The word
 * also holds the waker slot's address: the handle's first poll that
 * stores a waker makes the slot and puts its address in the word in the
 * step that sets WAKER; if that step finds COMPLETE instead, the slot
 * never made it into the word and the handle frees it. A slot in the word
 * goes with the cell.
 *
 * Threads: the task side (its final poll or the executor's shutdown, which
 * complete the cell alike, then its drop function) and the handle side,
 * which polls up to NPOLL times, each time with waker 1 or 2, may be
 * dropped at any point, and otherwise, once its budget is spent with the
 * last poll Pending, waits for the wake of the waker that poll left and
 * polls again.
 *
 * Abstractions: each compare-and-swap loop is one atomic step doing what
 * its successful CAS does (the loop re-reads and retries, so the step
 * happens at the CAS); a read or write of the waker slot is two steps, so
 * that one overlapping the other side's is seen; the output is a count.
 *
 * Properties:
 *   no use after free       every access checks the cell is not freed;
 *                           freed exactly once
 *   every waker slot made is freed exactly once, none used after
 *   the slot is never written while the task side reads it
 *   output created once, read only after COMPLETE, dropped exactly once
 *   no lost wake            a handle whose last poll was Pending is woken
 *                           through the waker of that poll (else it waits
 *                           for ever: an invalid end state), and then sees
 *                           the output
 *
 * Mutants: SET_IGNORES_COMPLETE (the handle sets WAKER without checking
 * COMPLETE: the task finished without seeing the waker, the wake is lost),
 * REPLACE_IN_PLACE (a different waker overwrites the slot without first
 * taking it back by clearing WAKER, while the task may be reading it) and
 * RELEASE_BY_STORE (a reference is let go of with a load and a store, not
 * one read-modify-write: two releases at once leak the cell),
 * SLOT_NOT_IN_WORD (WAKER is set without the new slot's address: the task
 * finds no slot to wake) and SLOT_KEPT_ON_COMPLETE (a new slot whose
 * hand-over found COMPLETE is not freed: it leaks).
 */

#ifndef NPOLL
#define NPOLL 3
#endif

#define TASK 1
#define HANDLE 2
#define COMPLETE 4
#define WAKER 8
#define TAKEN 16

byte st = TASK + HANDLE;
bit freed = 0;
byte frees = 0;
byte created = 0;      /* outputs the task stored or dropped at once */
byte out_drops = 0;    /* outputs taken by the handle or dropped */
byte slot = 0;         /* the waker in the slot: 0 none, 1 or 2 */
bit in_word = 0;       /* the slot's address is in the state word */
byte slot_allocs = 0;
byte slot_frees = 0;
bit slot_reading = 0;
bit slot_writing = 0;
byte woken = 0;        /* the waker the task woke, 0 none */
bit task_done = 0;
bit handle_done = 0;

inline free_cell() {
  atomic {
    assert(!freed);
    frees++;
    freed = 1;
    if
    :: (st & TAKEN) == 0 -> assert(created == 1); out_drops++
    :: else -> skip
    fi;
    /* The slot in the word goes with the cell. */
    if
    :: in_word -> slot_frees++
    :: else -> skip
    fi;
    slot = 0
  }
}

/* Let go of reference `mine`; the last holder frees (`other` is the other
 * holder's bit). */
inline release(mine, other, s) {
  atomic { assert(!freed); s = st }
  if
  :: (s & other) == 0 -> free_cell()
  :: else ->
#ifdef RELEASE_BY_STORE
    atomic { assert(!freed); s = st }
    atomic { assert(!freed); st = s - mine }
#else
    atomic { assert(!freed); s = st; st = st - mine }
#endif
    if
    :: (s & other) == 0 -> free_cell()
    :: else -> skip
    fi
  fi
}

proctype Task() {
  byte s;
  /* complete() */
  atomic { assert(!freed); s = st }
  if
  :: (s & HANDLE) == 0 ->
    /* Nobody can read the outcome: a plain store, the output dropped. */
    atomic { assert(!freed); st = s | COMPLETE | TAKEN; created++; out_drops++ }
  :: else ->
    atomic { assert(!freed); created++ }
    atomic { assert(!freed); s = st; st = st | COMPLETE }
    if
    :: (s & WAKER) != 0 ->
      /* WAKER set: the slot is in the word (set in the same step). */
      atomic { assert(!freed); assert(in_word); assert(!slot_writing); slot_reading = 1 }
      atomic { assert(slot != 0); woken = slot; slot_reading = 0 }
    :: else -> skip
    fi
  fi;
  /* drop_task: let go of the task's reference. */
  release(TASK, HANDLE, s);
  task_done = 1
}

byte pending_with = 0; /* the waker the handle's last Pending poll left */
bit ready = 0;

/* take_output(s): s has COMPLETE. */
inline take(s) {
  atomic {
    assert(!freed);
    assert((s & COMPLETE) != 0);
    assert((s & TAKEN) == 0);
    assert(created == 1);
    st = st | TAKEN;
    out_drops++;
    ready = 1;
    pending_with = 0
  }
}

/* JoinHandle::poll with waker w. */
inline poll(w, s, same, ok, fresh) {
  atomic { assert(!freed); s = st }
  if
  :: (s & COMPLETE) != 0 -> take(s)
  :: else ->
    same = 0;
    if
    :: (s & WAKER) != 0 ->
      atomic { assert(!freed); same = (slot == w) }
      if
      :: same -> pending_with = w
      :: else ->
#ifdef REPLACE_IN_PLACE
        skip
#else
        /* Take the slot back: clear WAKER unless COMPLETE. */
        atomic {
          assert(!freed);
          s = st;
          if
          :: (s & COMPLETE) == 0 -> st = s & ~WAKER; ok = 1
          :: else -> ok = 0
          fi
        }
        if
        :: !ok -> take(s)
        :: else -> skip
        fi
#endif
      fi
    :: else -> skip
    fi;
    if
    :: !same && !ready ->
      /* The slot is ours: store the waker, in a new slot if the word
       * has none yet. */
      atomic {
        assert(!freed);
        assert(!slot_reading);
        slot_writing = 1;
        if
        :: !in_word -> fresh = 1; slot_allocs++
        :: else -> fresh = 0
        fi
      }
      atomic { slot = w; slot_writing = 0 };
      /* Hand it over: set WAKER unless COMPLETE. */
      atomic {
        assert(!freed);
        s = st;
#ifdef SET_IGNORES_COMPLETE
        st = s | WAKER; ok = 1
#else
        if
        :: (s & COMPLETE) == 0 -> st = s | WAKER; ok = 1
        :: else -> ok = 0
        fi
#endif
        ;
        if
#ifndef SLOT_NOT_IN_WORD
        :: ok && fresh -> in_word = 1
#endif
        :: else -> skip
        fi
      }
      if
      :: ok -> pending_with = w
      :: else ->
        /* A new slot that never made it into the word is still ours. */
        if
#ifndef SLOT_KEPT_ON_COMPLETE
        :: fresh -> slot_frees++
#endif
        :: else -> skip
        fi;
        take(s)
      fi
    :: else -> skip
    fi
  fi
}

proctype Handle() {
  byte s, w, same, ok, fresh, polls = 0;
  do
  :: ready -> break
  :: !ready && polls < NPOLL ->
    polls++;
    if
    :: w = 1
    :: w = 2
    fi;
    poll(w, s, same, ok, fresh)
  :: !ready && polls > 0 && pending_with != 0 ->
    /* Awaited: wait for the wake of the waker the last poll left. */
    woken == pending_with;
    poll(w, s, same, ok, fresh);
    assert(ready);
    break
  :: !ready -> break /* dropped, perhaps while pending */
  od;
  release(HANDLE, TASK, s);
  handle_done = 1
}

init {
  atomic {
    run Task();
    run Handle()
  }
  (task_done && handle_done);
  assert(frees == 1);
  assert(created == 1);
  assert(out_drops == 1);
  assert(slot_frees == slot_allocs)
}
