/* SPDX-License-Identifier: MIT */
/* New timers through a driver's inbox, against the driver thread going to
 * sleep, as in src/driver.c (tf__driver_arm_new, tf__driver_drain_locked,
 * the idle part of driver_main). The rest of the timer protocol (fire,
 * cancel, reset, free, poll of filed timers) is timer.pml's; every locked
 * call files the inbox first, so it sees filed timers only.
 *
 * Time is a small integer (0..3) that the clock moves on at any moment;
 * deadlines are 1..3. Threads:
 *   armer   creates N timers, each with any deadline: pushes it on the
 *           inbox (one atomic step), then reads sleep_until and, if the
 *           deadline is earlier, takes the lock and files the inbox (which
 *           moves the wake-up and signals the thread).
 *   driver  under the lock: files the inbox, fires the filed timers that
 *           are due, publishes its wake-up (the earliest filed deadline;
 *           INF when none), looks at the inbox again, and sleeps until the
 *           wake-up time or a signal. sleep_until is 0 until it publishes.
 *   clock   moves time on.
 *   init    once every timer is armed and time has reached its end, waits
 *           for every timer to have fired, then stops the driver.
 *
 * Property: no lost timer. A timer left in the inbox while the driver
 * sleeps for ever blocks init: an invalid end state.
 *
 * Mutants: NO_RECHECK (the driver sleeps without looking at the inbox
 * after publishing its wake-up: an arm that read the old sleep_until took
 * no lock) and NO_KICK (an arm never takes the lock: a driver asleep with
 * nothing filed never learns of it).
 */

#ifndef N
#define N 2
#endif
#define INF 4
#define END 3

byte now;
byte dl[N];
bit inb[N], filed[N], fired[N];
byte su;                 /* d->sleep_until */
bit lk;                  /* d->lock */
bit kicked;              /* d->wakeup signalled */
bit stopping, armer_done, driver_exited;

inline lock() { atomic { lk == 0 -> lk = 1 } }
inline unlock() { lk = 0 }

/* tf__driver_drain_locked: file the inbox, then one retarget (not while
 * the driver looks anyway, su == 0). */
inline drain() {
  i = 0;
  do
  :: i < N ->
     if
     :: inb[i] ->
        inb[i] = 0;
        filed[i] = 1;
        if
        :: su != 0 && dl[i] < su -> su = dl[i]; kicked = 1
        :: else -> skip
        fi
     :: else -> skip
     fi;
     i++
  :: else -> break
  od
}

proctype armer() {
  byte k = 0, i, d;
  do
  :: k < N ->
     select (d : 1 .. END);
     dl[k] = d;
     inb[k] = 1;                       /* the compare-and-swap push */
#ifndef NO_KICK
     if
     :: dl[k] < su -> lock(); drain(); unlock()
     :: else -> skip
     fi;
#endif
     k++
  :: else -> break
  od;
  armer_done = 1
}

proctype driver() {
  byte i, m;
  lock();
  do
  :: stopping -> break
  :: else ->
     drain();                          /* fire_due_locked files first */
     i = 0;
     do
     :: i < N ->
        if
        :: filed[i] && dl[i] <= now -> filed[i] = 0; fired[i] = 1
        :: else -> skip
        fi;
        i++
     :: else -> break
     od;
     m = INF;
     i = 0;
     do
     :: i < N ->
        if
        :: filed[i] && dl[i] < m -> m = dl[i]
        :: else -> skip
        fi;
        i++
     :: else -> break
     od;
     su = m;                           /* publish the wake-up */
#ifndef NO_RECHECK
     if
     :: inb[0] || inb[1] -> goto look
     :: else -> skip
     fi;
#endif
     kicked = 0;
     unlock();
end_idle:
     atomic { lk == 0 && (kicked || now >= su || stopping) -> lk = 1 };
look:
     skip
  od;
  su = INF;
  unlock();
  driver_exited = 1
}

proctype clock() {
end:
  do
  :: now < END -> now++
  od
}

init {
  atomic {
    run driver();
    run armer();
    run clock()
  };
  armer_done && now == END;
  fired[0] && fired[1];                /* every timer fired */
  lock();
  stopping = 1;
  kicked = 1;
  unlock();
  driver_exited
}
