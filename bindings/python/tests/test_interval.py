# SPDX-License-Identifier: MIT
"""timefuture.interval(): ticks from the first deadline (no drift), never
early, and the library's three missed-tick policies. The manual clock makes
every schedule exact and the tests independent of the machine's speed."""

import asyncio
import unittest

import timefuture as tf

import docs_blocks

S = 1_000_000_000  # nanoseconds


async def _still_pending(aw):
    """Await `aw` in a task of its own; True if it has not completed after
    the other tasks had several turns (the caller then owns the task)."""
    async def waiter():
        return await aw

    task = tf.spawn(waiter())
    for _ in range(5):
        await tf.yield_now()
    return task, not task.done()


class IntervalScheduleTest(unittest.TestCase):
    def setUp(self):
        self.d = tf.Driver(clock="manual")

    def tearDown(self):
        self.d.close()

    def test_defaults(self):
        it = tf.interval(0.5, driver=self.d)
        self.assertEqual(it.missed, "burst")  # tokio's default
        self.assertEqual(it.period, 0.5)
        self.assertIs(it.driver, self.d)
        self.assertEqual(it.deadline_ns, 0)  # start=None: the first tick is now
        self.assertIn("missed=burst", repr(it))
        self.assertIs(it.__aiter__(), it)

    def test_no_drift_over_10000_ticks_with_the_delay_policy(self):
        d, period = self.d, 1_000_000  # 1 ms
        it = tf.interval(0.001, missed="delay", start=0.001, driver=d)
        self.assertEqual(it.deadline_ns, period)

        async def main():
            for k in range(1, 10_001):
                due = it.deadline_ns
                self.assertEqual(due, k * period)
                if k % 1000 == 1:
                    # Never early: a nanosecond before the tick it waits.
                    d.advance(due - 1)
                    task, pending = await _still_pending(it.tick())
                    self.assertTrue(pending, k)
                    d.advance(due + period - 1)
                    self.assertEqual(await task, 1)
                else:
                    # Observed almost a whole period late, every time:
                    # still one tick, and the schedule does not move.
                    d.advance(due + period - 1)
                    self.assertEqual(await it.tick(), 1)
            return it.deadline_ns

        self.assertEqual(tf.run(main()), 10_001 * period)

    def _late_by_five_and_a_half(self, missed):
        d = self.d
        it = tf.interval(1, missed=missed, driver=d)

        async def main():
            self.assertEqual(await it.tick(), 1)  # the tick at 0
            d.advance(5 * S + S // 2)
            counts = []
            while True:
                task, pending = await _still_pending(it.tick())
                if pending:
                    break
                counts.append(await task)
            deadline = it.deadline_ns
            d.advance(deadline)
            self.assertEqual(await task, 1)  # woken at the next tick
            return counts, deadline

        return tf.run(main())

    def test_burst_reports_every_missed_tick_one_at_a_time(self):
        counts, deadline = self._late_by_five_and_a_half("burst")
        self.assertEqual(counts, [1, 1, 1, 1, 1])  # ticks 1..5, at once
        self.assertEqual(deadline, 6 * S)  # the schedule is kept

    def test_delay_counts_the_missed_ticks_and_restarts_a_period_later(self):
        counts, deadline = self._late_by_five_and_a_half("delay")
        self.assertEqual(counts, [5])
        self.assertEqual(deadline, 6 * S + S // 2)

    def test_skip_counts_the_missed_ticks_and_keeps_the_schedule(self):
        counts, deadline = self._late_by_five_and_a_half("skip")
        self.assertEqual(counts, [5])
        self.assertEqual(deadline, 6 * S)

    def test_async_for_and_cancel_from_another_task(self):
        d = self.d
        it = tf.interval(1, start=1, driver=d)

        async def canceller():
            for t in (1, 2, 3):
                await tf.yield_now()
                d.advance(t * S)
            await tf.yield_now()
            self.assertTrue(it.cancel())  # wakes the waiting async for
            self.assertFalse(it.cancel())

        async def main():
            task = tf.spawn(canceller())
            seen = []
            async for n in it:
                seen.append((n, d.now()))
            await task
            return seen

        self.assertEqual(tf.run(main()), [(1, S), (1, 2 * S), (1, 3 * S)])

    def test_aclose_reset_and_reset_at(self):
        d = self.d
        it = tf.interval(2, start=2, driver=d)

        async def main():
            await it.aclose()
            async for _ in it:
                self.fail("a cancelled interval yields nothing")
            d.advance(S)
            it.reset()  # one period from now, and running again
            self.assertEqual(it.deadline_ns, 3 * S)
            it.reset_at(10)
            self.assertEqual(it.deadline, 10.0)
            d.advance(10 * S)
            self.assertEqual(await it.__anext__(), 1)
            return it.deadline_ns

        self.assertEqual(tf.run(main()), 12 * S)

    def test_one_awaiter_at_a_time(self):
        it = tf.interval(1, start=1, driver=self.d)

        async def main():
            first, pending = await _still_pending(it.tick())
            self.assertTrue(pending)
            with self.assertRaisesRegex(RuntimeError, "another task"):
                await it.tick()
            first.cancel()
            with self.assertRaises(tf.CancelledError):
                await first
            self.d.advance(S)
            return await it.tick()  # free again once the first gave up

        self.assertEqual(tf.run(main()), 1)

    def test_bad_arguments(self):
        for kwargs, exc in (
            ({"period": 0}, ValueError),
            ({"period": -1}, ValueError),
            ({"period": float("nan")}, ValueError),
            ({"period": "1"}, TypeError),
            ({"period": 1, "missed": "late"}, ValueError),
            ({"period": 1, "missed": 1}, TypeError),
            ({"period": 1, "start": -1}, ValueError),
            ({"period": 1, "driver": 3}, TypeError),
        ):
            with self.subTest(kwargs=kwargs):
                with self.assertRaises(exc):
                    tf.interval(**kwargs)
        with self.assertRaises(TypeError):
            tf.Interval(1)  # made by interval() only


class IntervalRealClockTest(unittest.TestCase):
    def _ticks(self, it, n):
        out = []

        async def collect():
            async for count in it:
                due = round(it.deadline_ns - it.period * 1e9)
                out.append((count, tf.monotonic_ns() >= due))
                if len(out) == n:
                    await it.aclose()
            return out

        return collect

    def test_under_run_never_early(self):
        it = tf.interval(0.002)
        first = it.deadline_ns
        out = tf.run(self._ticks(it, 3)())
        self.assertEqual([ok for _, ok in out], [True, True, True])
        self.assertTrue(all(c >= 1 for c, _ in out))
        self.assertGreater(it.deadline_ns, first)

    def test_under_asyncio_never_early(self):
        it = tf.interval(0.002, missed="skip")

        async def main():
            return await asyncio.wait_for(self._ticks(it, 3)(), 60)  # hang guard

        out = asyncio.run(main())
        self.assertEqual([ok for _, ok in out], [True, True, True])

    def test_manual_clock_under_asyncio(self):
        with tf.Driver(clock="manual") as d:
            it = tf.interval(1, missed="delay", start=1, driver=d)

            async def main():
                task = asyncio.ensure_future(it.tick())
                for _ in range(5):
                    await asyncio.sleep(0)
                self.assertFalse(task.done())
                d.advance(4 * S)
                return await asyncio.wait_for(task, 60), it.deadline_ns

            self.assertEqual(asyncio.run(main()), (4, 5 * S))
            del it


class DocsExampleTest(unittest.TestCase):
    def test_the_docs_block_runs_and_prints_what_it_says(self):
        import contextlib
        import io
        code = docs_blocks.python_block(
            "## Intervals, timeouts and asyncio's sleep")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, docs_blocks.PAGE, "exec"),
                 {"__name__": "docs_example"})
        self.assertEqual(out.getvalue(),
                         "done [(0, 1), (3, 3), (14, 11), 'timed out']\n")


if __name__ == "__main__":
    unittest.main()
