#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare the timefuture Python binding with asyncio, in the same run.

Each case runs in a fresh subprocess per implementation, so that the peak
RSS (ru_maxrss) of one does not include the other. Figures are printed, not
judged: timings on a shared machine are for people to read.

Cases (with the 1.0 targets):
  sleeps   100,000 coroutines, each sleeping until a deadline spread evenly
           (in shuffled order) over the 1 s after the start. Reported: wall
           time from the first coroutine to the last wake, the CPU time the
           process used for it, and peak RSS. Since the last deadline is at
           1 s, wall time cannot go below 1 s; the CPU time is the cost,
           shown for the whole process (which includes the library's timer
           driver thread) and for the calling thread alone.
           Target: <= 0.9 s and <= 100 MiB.
  yields   1,000,000 coroutines that each yield once (waking themselves)
           and finish. Target: >= 150,000 coroutines/s.
  latency  1,000 sleeps of 100 us in a row. Target: mean <= 300 us.

Usage: PYTHONPATH=<dir of the built module> python3 bench_python.py
       [--scale F] [--cases sleeps,yields,latency]
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time

SLEEPS = 100_000
SPREAD = 1.0
YIELDS = 1_000_000
LATENCY_COUNT = 1_000
LATENCY_SLEEP = 100e-6


def _peak_rss_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _deadline_order(n):
    order = list(range(n))
    random.Random(1).shuffle(order)
    return order


# ---------------------------------------------------------------- children


def _sleeps_in_asyncio(n, sleep_until, clock):
    """n tasks on an asyncio loop, each awaiting sleep_until(deadline) with
    deadlines on `clock` spread over SPREAD."""
    import asyncio

    async def main():
        loop = asyncio.get_running_loop()
        c0, m0 = time.process_time(), time.thread_time()
        t0 = time.perf_counter()
        base = clock()
        tasks = [loop.create_task(sleep_until(base + SPREAD * i / n))
                 for i in _deadline_order(n)]
        for t in tasks:
            await t
        return (time.perf_counter() - t0, time.process_time() - c0,
                time.thread_time() - m0)

    wall, cpu, main_cpu = asyncio.run(main())
    return {"wall_s": wall, "cpu_s": cpu, "main_cpu_s": main_cpu}


def child_sleeps_asyncio(n):
    import asyncio

    async def sleep_until(deadline):
        await asyncio.sleep(deadline - asyncio.get_running_loop().time())

    return _sleeps_in_asyncio(
        n, sleep_until, lambda: asyncio.get_running_loop().time())


def child_sleeps_timefuture(n):
    import timefuture as tf

    async def sleeper(deadline):
        await tf.sleep_until(deadline)

    ex = tf.Executor()
    c0, m0 = time.process_time(), time.thread_time()
    t0 = time.perf_counter()
    base = tf.monotonic()
    spawn = ex.spawn
    for i in _deadline_order(n):
        spawn(sleeper(base + SPREAD * i / n))
    ex.run()
    wall = time.perf_counter() - t0
    cpu, main_cpu = time.process_time() - c0, time.thread_time() - m0
    ex.close()
    return {"wall_s": wall, "cpu_s": cpu, "main_cpu_s": main_cpu}


def child_sleeps_tf_in_asyncio(n):
    import timefuture as tf

    return _sleeps_in_asyncio(n, tf.sleep_until, tf.monotonic)


def child_yields_asyncio(n):
    import asyncio

    async def once():
        await asyncio.sleep(0)

    async def main():
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        tasks = [loop.create_task(once()) for _ in range(n)]
        for t in tasks:
            await t
        return time.perf_counter() - t0

    wall = asyncio.run(main())
    return {"wall_s": wall, "per_s": n / wall}


def child_yields_timefuture(n):
    import timefuture as tf

    yield_now = tf.yield_now

    async def once():
        await yield_now()

    ex = tf.Executor()
    t0 = time.perf_counter()
    spawn = ex.spawn
    for _ in range(n):
        spawn(once())
    ex.run()
    wall = time.perf_counter() - t0
    ex.close()
    return {"wall_s": wall, "per_s": n / wall}


def _latency_stats(samples):
    us = sorted(s * 1e6 for s in samples)
    return {
        "mean_us": statistics.fmean(us),
        "p50_us": us[len(us) // 2],
        "p99_us": us[min(len(us) - 1, int(len(us) * 0.99))],
        "min_us": us[0],
    }


async def _sleep_in_a_row(sleep, n):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await sleep(LATENCY_SLEEP)
        samples.append(time.perf_counter() - t)
    return samples


def child_latency_asyncio(n):
    import asyncio

    return _latency_stats(asyncio.run(_sleep_in_a_row(asyncio.sleep, n)))


def child_latency_timefuture(n):
    import timefuture as tf

    return _latency_stats(tf.run(_sleep_in_a_row(tf.sleep, n)))


def child_latency_tf_in_asyncio(n):
    import asyncio
    import timefuture as tf

    return _latency_stats(asyncio.run(_sleep_in_a_row(tf.sleep, n)))


CHILDREN = {
    ("sleeps", "asyncio"): child_sleeps_asyncio,
    ("sleeps", "timefuture"): child_sleeps_timefuture,
    ("sleeps", "tf-in-asyncio"): child_sleeps_tf_in_asyncio,
    ("yields", "asyncio"): child_yields_asyncio,
    ("yields", "timefuture"): child_yields_timefuture,
    ("latency", "asyncio"): child_latency_asyncio,
    ("latency", "timefuture"): child_latency_timefuture,
    ("latency", "tf-in-asyncio"): child_latency_tf_in_asyncio,
}


def run_child(case, impl, n):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", case, impl,
         str(n)],
        check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply the counts (e.g. 0.1 for a quick look)")
    ap.add_argument("--cases", default="sleeps,yields,latency")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        case, impl, n = args.child
        res = CHILDREN[(case, impl)](int(n))
        res["rss_mib"] = _peak_rss_mib()
        print(json.dumps(res))
        return 0

    import timefuture as tf  # fail early if the module is not on the path

    cases = args.cases.split(",")
    print(f"python {sys.version.split()[0]}, libtimefuture "
          f"{tf.__version__}, {os.cpu_count()} CPUs, scale {args.scale}")

    if "sleeps" in cases:
        n = max(1, int(SLEEPS * args.scale))
        print(f"\n[sleeps] {n:,} coroutines sleeping until deadlines spread "
              f"over {SPREAD:g} s (target: <= 0.9 s CPU, <= 100 MiB)")
        for impl in ("asyncio", "timefuture", "tf-in-asyncio"):
            r = run_child("sleeps", impl, n)
            print(f"  {impl:14s} wall {r['wall_s']:6.3f} s "
                  f"(last wake {r['wall_s'] - SPREAD:+6.3f} s after the last "
                  f"deadline)   cpu {r['cpu_s']:6.3f} s (calling thread "
                  f"{r['main_cpu_s']:5.3f} s)   "
                  f"peak RSS {r['rss_mib']:6.1f} MiB")

    if "yields" in cases:
        n = max(1, int(YIELDS * args.scale))
        print(f"\n[yields] {n:,} coroutines yielding once "
              f"(target: >= 150,000/s)")
        for impl in ("asyncio", "timefuture"):
            r = run_child("yields", impl, n)
            print(f"  {impl:14s} {r['per_s']:12,.0f} coroutines/s   "
                  f"wall {r['wall_s']:6.3f} s   "
                  f"peak RSS {r['rss_mib']:7.1f} MiB")

    if "latency" in cases:
        n = max(1, int(LATENCY_COUNT * args.scale))
        print(f"\n[latency] {n:,} sleeps of {LATENCY_SLEEP * 1e6:.0f} us in a "
              f"row (target: mean <= 300 us)")
        for impl in ("asyncio", "timefuture", "tf-in-asyncio"):
            r = run_child("latency", impl, n)
            print(f"  {impl:14s} mean {r['mean_us']:8.1f} us   "
                  f"p50 {r['p50_us']:8.1f} us   p99 {r['p99_us']:8.1f} us   "
                  f"min {r['min_us']:8.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
