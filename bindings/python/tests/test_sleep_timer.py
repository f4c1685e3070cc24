# SPDX-License-Identifier: MIT
"""sleep, sleep_until and Timer under timefuture's own executor."""

import asyncio
import random
import unittest

import timefuture as tf


class SleepTest(unittest.TestCase):
    def test_sleep_is_never_early(self):
        async def one(seconds):
            start = tf.monotonic_ns()
            await tf.sleep(seconds)
            return tf.monotonic_ns() - start

        for seconds in (0, 0.0001, 0.0005, 0.002, 0.02):
            elapsed = tf.run(one(seconds))
            self.assertGreaterEqual(elapsed, int(seconds * 1e9), seconds)

    def test_deadline_has_sub_millisecond_precision(self):
        # The deadline is now + 300 us to the nanosecond, not rounded to a
        # millisecond (tokio and asyncio round to 1 ms).
        before = tf.monotonic_ns()
        timer = tf.Timer(0.0003)
        after = tf.monotonic_ns()
        deadline_ns = round(timer.deadline * 1e9)
        # float seconds hold the ns value to within a few hundred ns
        self.assertGreaterEqual(deadline_ns, before + 300_000 - 1_000)
        self.assertLessEqual(deadline_ns, after + 300_000 + 1_000)
        self.assertAlmostEqual(timer.duration, 0.0003, places=9)

    def test_sleep_zero_completes_at_once(self):
        async def main():
            await tf.sleep(0)
            await tf.sleep(0.0)
            return "ok"

        self.assertEqual(tf.run(main()), "ok")

    def test_sleep_until(self):
        async def main():
            deadline = tf.monotonic() + 0.01
            await tf.sleep_until(deadline)
            return tf.monotonic() - deadline

        self.assertGreaterEqual(tf.run(main()), 0.0)

    def test_sleep_until_in_the_past_completes(self):
        async def main():
            await tf.sleep_until(0)
            return 1

        self.assertEqual(tf.run(main()), 1)

    def test_many_concurrent_sleeps(self):
        count = 5000
        rng = random.Random(5)
        durations = [rng.uniform(0, 0.05) for _ in range(count)]
        early = []

        async def sleeper(i):
            start = tf.monotonic_ns()
            await tf.sleep(durations[i])
            if tf.monotonic_ns() - start < int(durations[i] * 1e9):
                early.append(i)
            return i

        async def main():
            ex_tasks = [ex.spawn(sleeper(i)) for i in range(count)]
            return [await t for t in ex_tasks]

        with tf.Executor() as ex:
            results = ex.run_until_complete(main())
            self.assertEqual(ex.pending, 0)
        self.assertEqual(results, list(range(count)))
        self.assertEqual(early, [])

    def test_one_sleep_awaited_by_two_tasks_is_refused(self):
        shared = tf.sleep(5)
        errors = []

        async def first():
            await shared

        async def second():
            try:
                await shared
            except RuntimeError as e:
                errors.append(str(e))

        with tf.Executor() as ex:
            t1 = ex.spawn(first())
            ex.run_until_complete(second())
            self.assertFalse(t1.done())
        self.assertEqual(len(errors), 1)
        self.assertIn("already awaited", errors[0])

    def test_sleep_outside_any_loop_is_a_clear_error(self):
        async def main():
            await tf.sleep(0.5)

        coro = main()
        with self.assertRaisesRegex(RuntimeError, "asyncio event loop"):
            coro.send(None)
        coro.close()

    def test_bad_arguments(self):
        for bad, exc, text in (
            ("1", TypeError, "number of seconds"),
            (None, TypeError, "number of seconds"),
            (float("nan"), ValueError, "NaN"),
        ):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(exc, text):
                    tf.sleep(bad)
        for bad, exc, text in (
            (-1, ValueError, ">= 0"),
            (float("nan"), ValueError, "NaN"),
            (float("inf"), ValueError, "too large"),
            (1e30, ValueError, "too large"),
            ("1", TypeError, "number of seconds"),
            (None, TypeError, "number of seconds"),
        ):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(exc, text):
                    tf.Timer(bad)
                with self.assertRaisesRegex(exc, text):
                    tf.sleep_until(bad)
        with self.assertRaises(TypeError):
            tf.Timer()
        timer = tf.Timer(1)
        with self.assertRaisesRegex(ValueError, ">= 0"):
            timer.reset(-0.5)
        self.assertAlmostEqual(timer.duration, 1.0)


class SleepLikeAsyncioTest(unittest.TestCase):
    """sleep() takes what asyncio.sleep() takes, and returns its result."""

    def test_result_is_returned(self):
        async def main():
            return (await tf.sleep(0.001, "r"), await tf.sleep(0.001, result=7),
                    await tf.sleep(0.001))

        self.assertEqual(tf.run(main()), ("r", 7, None))
        self.assertEqual(asyncio.run(main()), ("r", 7, None))

    def _yields_once(self, delay):
        log = []

        async def other():
            log.append("other ran")

        async def main(spawn):
            spawn(other())
            r = await tf.sleep(delay, "at once")
            log.append(r)
            return log

        self.assertEqual(tf.run(main(tf.spawn)), ["other ran", "at once"])
        log.clear()
        self.assertEqual(asyncio.run(main(asyncio.ensure_future)),
                         ["other ran", "at once"])

    def test_negative_and_zero_delays_yield_once(self):
        for delay in (-1, -0.5, 0, 0.0, float("-inf")):
            with self.subTest(delay=delay):
                self._yields_once(delay)

    def test_infinity_sleeps_until_cancelled(self):
        for delay in (float("inf"), 1e30):
            with self.subTest(delay=delay):
                async def under_asyncio():
                    task = asyncio.ensure_future(tf.sleep(delay))
                    for _ in range(5):
                        await asyncio.sleep(0)
                    self.assertFalse(task.done())
                    task.cancel()
                    with self.assertRaises(asyncio.CancelledError):
                        await task
                    return "cancelled"

                self.assertEqual(asyncio.run(under_asyncio()), "cancelled")

                async def under_run():
                    task = tf.spawn(_forever(delay))
                    for _ in range(5):
                        await tf.yield_now()
                    self.assertFalse(task.done())
                    task.cancel()
                    with self.assertRaises(tf.CancelledError):
                        await task
                    return "cancelled"

                self.assertEqual(tf.run(under_run()), "cancelled")

    def test_infinity_on_a_manual_driver_outlasts_any_advance(self):
        with tf.Driver(clock="manual") as d:
            s = tf.sleep(float("inf"), driver=d)
            d.advance(2**63)
            self.assertIn("deadline in", repr(s))
            self.assertGreaterEqual(d.next_deadline(), 2**63)
            del s


async def _forever(delay):
    await tf.sleep(delay)


class TimerTest(unittest.TestCase):
    def test_await_timer(self):
        async def main():
            timer = tf.Timer(0.01)
            deadline = timer.deadline
            await timer
            now = tf.monotonic()
            # awaiting a fired timer again returns at once
            await timer
            return now - deadline

        self.assertGreaterEqual(tf.run(main()), 0.0)

    def test_reset_moves_the_deadline_of_an_awaited_timer(self):
        async def waiter(timer):
            await timer
            return tf.monotonic()

        async def main():
            timer = tf.Timer(3600)
            task = ex.spawn(waiter(timer))
            await tf.yield_now()  # the waiter starts waiting
            self.assertFalse(task.done())
            timer.reset(0.02)
            reset_deadline = timer.deadline
            woke = await task
            self.assertGreaterEqual(woke, reset_deadline)
            return woke - reset_deadline

        with tf.Executor() as ex:
            late = ex.run_until_complete(main())
        self.assertGreaterEqual(late, 0.0)
        self.assertLess(late, 60.0)  # i.e. not the hour it was first set to

    def test_reset_defaults_to_last_duration_and_rearms_a_fired_timer(self):
        async def main():
            timer = tf.Timer(0.005)
            await timer
            before = tf.monotonic()
            timer.reset()
            self.assertGreaterEqual(timer.deadline, before + 0.005 - 1e-6)
            await timer
            self.assertGreaterEqual(tf.monotonic(), timer.deadline)

        tf.run(main())

    def test_cancel_wakes_the_awaiting_task_with_timer_cancelled(self):
        async def waiter(timer):
            try:
                await timer
            except tf.TimerCancelled as e:
                return e
            return None

        async def main():
            timer = tf.Timer(3600)
            task = ex.spawn(waiter(timer))
            await tf.yield_now()  # the waiter starts waiting
            self.assertTrue(timer.cancel())
            self.assertTrue(timer.cancelled)
            self.assertFalse(timer.cancel())  # already cancelled
            return await task

        with tf.Executor() as ex:
            err = ex.run_until_complete(main())
        self.assertIsInstance(err, tf.TimerCancelled)
        self.assertIsInstance(err, tf.Error)
        self.assertEqual(err.code, tf.ECANCELED)
        self.assertEqual(err.strerror, tf.strerror(tf.ECANCELED))

    def test_await_cancelled_timer_raises_until_reset(self):
        async def main():
            timer = tf.Timer(3600)
            self.assertTrue(timer.cancel())
            with self.assertRaises(tf.TimerCancelled):
                await timer
            with self.assertRaises(tf.TimerCancelled):
                await timer
            timer.reset(0.001)
            self.assertFalse(timer.cancelled)
            await timer
            self.assertFalse(timer.cancel())  # fired: nothing to cancel
            return "ok"

        self.assertEqual(tf.run(main()), "ok")

    def test_timer_awaited_by_two_tasks_is_refused(self):
        timer = tf.Timer(3600)

        async def first():
            await timer

        async def main():
            t1 = ex.spawn(first())
            await tf.yield_now()  # first() starts waiting
            with self.assertRaisesRegex(RuntimeError, "already awaited"):
                await timer
            self.assertTrue(t1.cancel())
            with self.assertRaises(tf.CancelledError):
                await t1
            # the first await is gone, so a new one is allowed
            timer.reset(0.001)
            await timer

        with tf.Executor() as ex:
            ex.run_until_complete(main())


if __name__ == "__main__":
    unittest.main()
