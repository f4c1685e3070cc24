#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the fuzzer's seed corpus (fuzz/corpus/), one small file per
scenario. Each seed is a program for fuzz_api.c: an operation byte, an
object index byte, then the operation's own bytes (see step() there).
Files named regress_* in corpus/ are inputs the fuzzer once failed on,
kept so that every run replays them; this script leaves them alone."""
import os

NEW_EXEC, FREE_EXEC, SPAWN, SPAWN_EXT, NEXT, REPORT, RUN_READY, COUNT, FD = range(9)
CLONE, WAKE, WAKE_BY_REF, DROP, WILL_WAKE, CUSTOM = range(9, 15)
TIMER_NEW, TIMER_NEW_AT, TIMER_POLL, RESET, RESET_AT, CANCEL, TIMER_FREE = range(15, 22)
BAD, BLOCK_ON, ODD, RUN_ALL = 22, 23, 24, 25
NEXT_TIMED, DRAIN, BLOCK_TIMER, SCENE = 26, 27, 28, 29
DRV_NEW, DRV_FREE, DRV_TIMER, DRV_ADVANCE, DRV_TO_NEXT = range(30, 35)
DRV_POLL, DRV_CHANGE, DRV_FREE_TIMER = 35, 36, 37
IV_NEW, IV_POLL, IV_CHANGE, IV_FREE = range(38, 42)
TO_NEW, TO_POLL, TO_FREE, SLACK = range(42, 46)
HOUR = 3  # pick_duration byte: an hour
# pick_manual_time bytes: 0 now, 1+b ns ahead, 2+b slots ahead,
# 3+u32+shift any level, 4+b the past, 5+b the far end

CALLER, WORKERS = 1, 0  # byte for NEW_EXEC: 0 % 4 == 0 gives one worker

SEEDS = {
    "executor_lifecycle": [
        NEW_EXEC, 0, CALLER,
        SPAWN, 0, 0, 1, 2, 3, 0, 0,        # ready at once
        SPAWN, 0, 1, 1, 0, 0, 0, 0,        # keeps its waker, then ready
        SPAWN, 0, 6, 6, 6, 6, 6, 6,        # pending for ever: dropped at free
        RUN_READY, 0, COUNT, 0,
        WAKE_BY_REF, 0, RUN_READY, 0, COUNT, 0,
        FREE_EXEC, 0, WAKE, 0],
    "external_tasks": [
        NEW_EXEC, 1, CALLER, FD, 1,
        SPAWN_EXT, 1, SPAWN_EXT, 1,
        NEXT, 1, REPORT, 0, 2,             # pending, clone kept
        NEXT, 1, REPORT, 0, 1,             # ready
        NEXT, 1, WAKE, 0, NEXT, 1, REPORT, 0, 1,
        NEXT, 1, COUNT, 1, FREE_EXEC, 1],
    "external_taken_at_free": [
        NEW_EXEC, 2, CALLER, SPAWN_EXT, 2, NEXT, 2, FREE_EXEC, 2],
    "timers": [
        CUSTOM, 2, 0,
        TIMER_NEW, 1, 2, 50, TIMER_POLL, 1, 2,
        CANCEL, 1, TIMER_POLL, 1, 2,
        RESET, 1, 0, TIMER_POLL, 1, 2,
        TIMER_NEW_AT, 3, 1, TIMER_POLL, 3, 2,
        TIMER_NEW_AT, 4, 3, TIMER_POLL, 4, 2, RESET_AT, 4, 0,
        TIMER_NEW, 5, 4, TIMER_NEW_AT, 6, 4,
        RESET, 3, 5, 7, TIMER_FREE, 1, TIMER_FREE, 3, DROP, 2],
    "timer_tasks": [
        NEW_EXEC, 0, CALLER,
        TIMER_NEW, 0, 2, 20,
        SPAWN, 0, 4, 4, 4, 4, 4, 4,
        SPAWN, 0, 4, 2, 4, 2, 0, 0,
        RUN_READY, 0, BLOCK_ON, 0, 2, RUN_READY, 0, RUN_READY, 0,
        CANCEL, 0, RUN_READY, 0, COUNT, 0, FREE_EXEC, 0],
    "worker_pool": [
        NEW_EXEC, 0, WORKERS,
        SPAWN, 0, 2, 2, 0, 0, 0, 0,
        SPAWN, 0, 3, 3, 3, 3, 3, 3,
        SPAWN, 0, 6, 6, 6, 6, 6, 6,
        SPAWN_EXT, 0, NEXT, 0, REPORT, 0, 0,
        COUNT, 0, BLOCK_ON, 0, 3, FREE_EXEC, 0],
    "reentrant_and_spawn": [
        NEW_EXEC, 0, CALLER,
        SPAWN, 0, 3, 5, 5, 1, 0, 7,
        RUN_READY, 0, RUN_READY, 0, RUN_READY, 0, RUN_READY, 0,
        COUNT, 0, FREE_EXEC, 0],
    "bad_handles": [
        NEW_EXEC, 0, CALLER, TIMER_NEW, 0, 3, CUSTOM, 0, 1,
        BAD, 0, 0, BAD, 0, 1, BAD, 0, 2, BAD, 0, 3,
        ODD, 0, 7, 1, 2, 3, 4, 9,
        WILL_WAKE, 0, 1, WILL_WAKE, 1, 0, CLONE, 0, WILL_WAKE, 0, 1],
    "ranges": [
        TIMER_NEW, 0, 4, TIMER_NEW, 0, 5, 0, TIMER_NEW_AT, 0, 4,
        TIMER_NEW_AT, 1, 3, RESET, 1, 4, RESET_AT, 1, 4, RESET, 1, 6, 0, 0, 0, 1,
        TIMER_POLL, 1, 9, CANCEL, 1, CANCEL, 1, TIMER_FREE, 1],
    "run_all": [
        RUN_ALL, 0, NEW_EXEC, 0, CALLER, TIMER_NEW, 1, 0, CUSTOM, 1, 1,
        RUN_ALL, 1, SPAWN, 0, 1, 4, 2, 0, 0, 0, RUN_READY, 0, TIMER_POLL, 1, 1,
        WAKE, 0, RUN_READY, 0],
    # A task waits on an hour-long timer (its program's first byte, 4, is
    # both "poll a timer" and the timer's index); the cancel must wake it.
    "cancel_wakes_task": [
        NEW_EXEC, 0, CALLER, TIMER_NEW, 4, HOUR,
        SPAWN, 0, 4, 4, 4, 4, 4, 4,
        RUN_READY, 0, CANCEL, 4, RUN_READY, 0, COUNT, 0],
    "cancel_wakes_custom": [
        CUSTOM, 2, 0, TIMER_NEW, 1, HOUR, TIMER_POLL, 1, 2,
        TIMER_POLL, 1, 2, CANCEL, 1, TIMER_POLL, 1, 2, DROP, 2],
    "self_wake": [
        NEW_EXEC, 0, CALLER, SPAWN, 0, 2, 2, 2, 0, 0, 0,
        SPAWN, 0, 3, 3, 3, 3, 0, 0, RUN_ALL, 0, COUNT, 0],
    "drain": [
        NEW_EXEC, 1, CALLER, FD, 1, SPAWN_EXT, 1, SPAWN_EXT, 1, SPAWN, 1, 2, 0, 0, 0, 0, 0,
        DRAIN, 1, 1, REPORT, 0, 2, DRAIN, 1, 3, REPORT, 0, 1,
        WAKE, 0, DRAIN, 1, 3, REPORT, 0, 1, DRAIN, 1, 0, COUNT, 1],
    "next_timed": [
        NEW_EXEC, 0, CALLER, SPAWN_EXT, 0, NEXT_TIMED, 0, 2, REPORT, 0, 2,
        NEXT_TIMED, 0, 2, WAKE, 0, NEXT_TIMED, 0, 1, REPORT, 0, 1],
    "block_on_timer": [
        TIMER_NEW, 0, 2, 100, BLOCK_TIMER, 0, TIMER_NEW_AT, 1, 2, 50,
        BLOCK_TIMER, 1, TIMER_NEW, 2, HOUR, CANCEL, 2, BLOCK_TIMER, 2],
    # Manual-clock drivers: timers after durations and at deadlines,
    # polled (waiting), advanced past in steps, backwards (TF_ERANGE),
    # to TF_DRIVER_NOW; a driver with timers refuses to be freed.
    "driver_manual": [
        DRV_NEW, 0, 0, 0, 0, 1, 0,                # start at 256 ns
        DRV_TIMER, 0, 0, 1, 50,                   # after 50 ns
        DRV_TIMER, 2, 1, 2, 3,                    # at 3 level-0 slots ahead
        DRV_TIMER, 4, 1, 3, 0, 0, 1, 0, 20,       # at 2^28 ns ahead
        DRV_POLL, 0, DRV_POLL, 2, DRV_POLL, 4, DRV_POLL, 4,
        DRV_FREE, 0,                              # TF_EBUSY
        DRV_ADVANCE, 0, 1,                        # backwards
        DRV_ADVANCE, 0, 2, 1, 60,                 # fires the first
        DRV_ADVANCE, 0, 0,                        # TF_DRIVER_NOW: nothing
        DRV_TO_NEXT, 0, DRV_TO_NEXT, 0, DRV_TO_NEXT, 0,
        DRV_POLL, 2, DRV_FREE_TIMER, 0, 1, DRV_FREE_TIMER, 2, 1,
        DRV_FREE_TIMER, 4, 1, DRV_FREE, 0],
    # Reset into the past (fires at once, wakes), reset far, cancel (wakes),
    # timers on two drivers, refusals of bad handles and options.
    "driver_changes": [
        DRV_NEW, 0, 0, 0, 1, 0, 8, DRV_NEW, 1, 0, 0, 0, 9, 0,
        DRV_TIMER, 0, 0, 3, 0, 0, 0, 1, 30,
        DRV_TIMER, 1, 1, 2, 9, DRV_TIMER, 3, 0, 0,  # after 0: fired at once
        DRV_POLL, 0, DRV_POLL, 1, DRV_POLL, 3,
        DRV_CHANGE, 0, 1, 4, 0,                   # reset_at into the past
        DRV_CHANGE, 1, 0, 5, 7,                   # reset to the far end
        DRV_POLL, 1, DRV_CHANGE, 1, 2, DRV_CHANGE, 1, 2,  # cancel twice
        DRV_CHANGE, 0, 0, 2, 1, DRV_POLL, 0,      # re-armed after a fire
        DRV_FREE_TIMER, 0, 0, 0, DRV_FREE_TIMER, 1, 0, 1,
        DRV_FREE_TIMER, 2, 0, 2, DRV_FREE_TIMER, 3, 0, 3,
        DRV_TO_NEXT, 0, DRV_ADVANCE, 1, 3, 3, 0, 0, 0, 1, 31,
        DRV_FREE, 1],
    # Intervals of each missed-tick policy on driver 0 (slots 0, 1, 2 are
    # objects 0, 4, 2), period 100 ns, first tick 50 ns ahead: polled
    # before, 205 ns after (two missed: burst 1+1+1, delay and skip 3),
    # then advanced to the next deadline; cancel, reset, reset_at into
    # the past and at UINT64_MAX, free, refusals.
    "interval_policies": [
        DRV_NEW, 0, 0, 0, 3, 232, 0,              # start at 1000 ns
        IV_NEW, 0, 9, 0, 1, 99, 1, 50,            # burst
        IV_NEW, 4, 9, 1, 1, 99, 1, 50,            # delay
        IV_NEW, 2, 9, 2, 1, 99, 1, 50,            # skip
        IV_POLL, 0, 1, IV_POLL, 4, 1, IV_POLL, 2, 1,
        DRV_ADVANCE, 0, 2, 1, 255,                # to 1255
        IV_POLL, 0, 1, IV_POLL, 0, 1, IV_POLL, 0, 1, IV_POLL, 0, 1,
        IV_POLL, 4, 1, IV_POLL, 4, 1, IV_POLL, 2, 0, IV_POLL, 2, 1,
        DRV_TO_NEXT, 0, IV_POLL, 0, 1, IV_POLL, 2, 1, IV_POLL, 4, 1,
        IV_CHANGE, 0, 3, IV_POLL, 0, 1, IV_CHANGE, 0, 0, IV_POLL, 0, 1,
        IV_CHANGE, 4, 1, 4, 5, IV_POLL, 4, 1, IV_CHANGE, 2, 2,
        DRV_FREE, 0, IV_FREE, 0, 1, IV_FREE, 4, 0, 0, IV_FREE, 4, 0, 1],
    # Every refusal of tf_interval_new_on (out NULL, driver NULL or junk,
    # period 0, unknown policy, first UINT64_MAX, out of memory), then an
    # interval at the clock's end: its last tick, TF_ERANGE after.
    "interval_ranges": [
        DRV_NEW, 0, 0, 0, 3, 232, 0,
        IV_NEW, 0, 0, 0, 0, 0, IV_NEW, 0, 1, 0, 0, 0, IV_NEW, 0, 2, 0, 0, 0,
        IV_NEW, 0, 3, 0, 0, 0, IV_NEW, 0, 4, 5, 0, 0, IV_NEW, 0, 5, 0, 0, 0,
        IV_NEW, 0, 6, 0, 0, 0,
        IV_NEW, 0, 9, 2, 4, 0, 5, 0,              # skip, period ~2^64, first MAX-1
        IV_NEW, 4, 9, 0, 0, 0,                    # burst, period 1, due now
        IV_POLL, 0, 1, IV_POLL, 4, 1, IV_POLL, 4, 1,
        DRV_ADVANCE, 0, 2, 5, 0,                  # to the clock's end
        IV_POLL, 0, 1, IV_POLL, 0, 1, IV_CHANGE, 0, 0, IV_POLL, 4, 1,
        IV_CHANGE, 4, 0, IV_CHANGE, 4, 3, IV_CHANGE, 4, 3, IV_FREE, 0, 1],
    # Timeouts on driver 0 (slots 0, 1, 2 are objects 0, 4, 2): ready after
    # 2 polls (wins before its deadline; its timer still fires later),
    # never ready and yielding (times out), ready at once with an error
    # status past its deadline (the inner future wins), pending for ever
    # and freed (dropped at free); every refusal of tf_timeout_new_on,
    # with the inner future dropped once; a timeout without a drop.
    "timeouts": [
        DRV_NEW, 0, 0, 0, 3, 232, 0,
        TO_NEW, 0, 9, 2, 1, 100,
        TO_NEW, 4, 9, 39, 1, 50,
        TO_NEW, 2, 9, 8, 0,
        TO_POLL, 0, TO_POLL, 4, TO_POLL, 2, TO_POLL, 2,
        DRV_ADVANCE, 0, 2, 1, 60,
        TO_POLL, 0, TO_POLL, 4, TO_POLL, 4, TO_POLL, 0, TO_POLL, 0,
        DRV_TO_NEXT, 0, DRV_FREE, 0,
        TO_FREE, 0, 1, TO_FREE, 4, 1, TO_FREE, 2, 0, 0, TO_FREE, 2, 0, 1,
        TO_FREE, 2, 1,
        TO_NEW, 0, 9, 7, 3, 0, 0, 0, 1, 20, TO_POLL, 0, TO_FREE, 0, 1,
        TO_NEW, 4, 0, 0, 0, TO_NEW, 4, 1, 0, 0, TO_NEW, 4, 2, 0, 0,
        TO_NEW, 4, 3, 0, 0, TO_NEW, 4, 4, 0, 0, TO_NEW, 4, 5, 0, 0,
        TO_NEW, 4, 8, 0x41, 1, 5, TO_POLL, 4, TO_POLL, 4, TO_FREE, 4, 1],
    # Per-timer slack: 50 ns (rounded down to 32) and 1024 ns on two
    # timers, advanced to the next deadline (never early, never later than
    # deadline + slack); a huge slack on a timer at the clock's end.
    "slack": [
        DRV_NEW, 0, 0, 0, 3, 232, 0,
        DRV_TIMER, 0, 1, 1, 100, DRV_TIMER, 2, 1, 1, 200,
        SLACK, 0, 1, 49, SLACK, 2, 2, 10, DRV_POLL, 0, DRV_POLL, 2,
        DRV_TO_NEXT, 0, DRV_TO_NEXT, 0, DRV_TO_NEXT, 0,
        DRV_TIMER, 4, 1, 2, 3, SLACK, 4, 5, 0, DRV_TO_NEXT, 0,
        SLACK, 4, 0, DRV_CHANGE, 4, 1, 1, 9, SLACK, 4, 4, 0, 0, 1, 0, 3,
        DRV_TO_NEXT, 0,
        DRV_FREE_TIMER, 0, 1, DRV_TIMER, 0, 1, 5, 0, SLACK, 0, 5, 0, DRV_TO_NEXT, 0],
    # Timed scenes: caller-run host loop, tf_executor_run, worker pools.
    "scenes": [
        SCENE, 0, 0, 5, 0, 2 + 4 * 3, 0, 1 + 4 * 2, 4 * 8,
        SCENE, 0, 0, 3, 1, 2, 0, 4 * 4 + 1,
        SCENE, 0, 2, 5, 1, 4 * 5, 2, 1 + 4 * 3, 5, 4 * 8],
}

def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, prog in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(prog))

if __name__ == "__main__":
    main()
