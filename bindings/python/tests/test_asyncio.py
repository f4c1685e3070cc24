# SPDX-License-Identifier: MIT
"""timefuture's awaitables inside ordinary asyncio programs."""

import asyncio
import gc
import os
import random
import threading
import unittest
import warnings
import weakref

import timefuture as tf


def _bridge_readers(loop):
    """The loop's readers whose callback belongs to timefuture's bridge."""
    selector = getattr(loop, "_selector", None)
    if selector is None:
        return None
    found = []
    for key in selector.get_map().values():
        reader = key.data[0] if key.data else None
        cb = getattr(reader, "_callback", None)
        owner = getattr(cb, "__self__", None)
        if type(owner).__name__ == "_AsyncioBridge":
            found.append((key.fd, owner))
    return found


class AsyncioTest(unittest.TestCase):
    def test_sleep_in_asyncio_run(self):
        async def main():
            start = tf.monotonic_ns()
            await tf.sleep(0.01)
            return tf.monotonic_ns() - start

        self.assertGreaterEqual(asyncio.run(main()), 10_000_000)

    def test_wakeups_arrive_through_the_executor_fd(self):
        async def main():
            loop = asyncio.get_running_loop()
            timer = tf.Timer(3600)  # surely waited for through the bridge
            task = asyncio.ensure_future(self._await(timer))
            await asyncio.sleep(0.001)
            timer.reset(0)
            await task
            return _bridge_readers(loop)

        readers = asyncio.run(main())
        if readers is None:
            self.skipTest("the event loop has no selector to inspect")
        self.assertEqual(len(readers), 1)
        fd, bridge = readers[0]
        self.assertEqual(fd, bridge.fd)
        self.assertGreaterEqual(fd, 0)

    def test_many_concurrent_sleeps(self):
        count = 2000
        rng = random.Random(7)
        durations = [rng.uniform(0, 0.05) for _ in range(count)]

        async def sleeper(d):
            start = tf.monotonic_ns()
            await tf.sleep(d)
            return tf.monotonic_ns() - start >= int(d * 1e9)

        async def main():
            return await asyncio.gather(*(sleeper(d) for d in durations))

        self.assertEqual(asyncio.run(main()), [True] * count)

    def test_mixed_with_asyncio_sleep(self):
        order = []

        async def tf_side():
            start = tf.monotonic_ns()
            await tf.sleep(0.02)
            self.assertGreaterEqual(tf.monotonic_ns() - start, 20_000_000)
            order.append("tf")

        async def aio_side():
            await asyncio.sleep(0)
            order.append("asyncio")

        async def main():
            await asyncio.gather(tf_side(), aio_side())

        asyncio.run(main())
        # Both sides finish in one gather; which first depends on how long
        # the loop's first turn takes on a loaded machine, so no order.
        self.assertEqual(sorted(order), ["asyncio", "tf"])

    def test_timer_reset_and_cancel(self):
        async def waiter(timer):
            await timer
            return tf.monotonic()

        async def main():
            timer = tf.Timer(3600)
            task = asyncio.ensure_future(waiter(timer))
            await asyncio.sleep(0.005)
            timer.reset(0.01)
            deadline = timer.deadline
            woke = await task
            self.assertGreaterEqual(woke, deadline)

            timer2 = tf.Timer(3600)
            task2 = asyncio.ensure_future(waiter(timer2))
            await asyncio.sleep(0.005)
            self.assertTrue(timer2.cancel())
            with self.assertRaises(tf.TimerCancelled) as cm:
                await task2
            self.assertEqual(cm.exception.code, tf.ECANCELED)
            timer2.reset(0.001)
            await timer2
            return "ok"

        self.assertEqual(asyncio.run(main()), "ok")

    def test_asyncio_cancellation_of_a_waiting_task(self):
        finished = []

        async def sleeper():
            try:
                await tf.sleep(3600)
            finally:
                finished.append(True)

        async def main():
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(sleeper(), 0.02)
            # the abandoned wait is dropped by the bridge; the loop is idle
            await tf.sleep(0.005)
            return "ok"

        self.assertEqual(asyncio.run(main()), "ok")
        self.assertEqual(finished, [True])

    def test_timer_can_be_awaited_again_after_asyncio_cancellation(self):
        async def main():
            timer = tf.Timer(3600)
            task = asyncio.ensure_future(self._await(timer))
            await asyncio.sleep(0.005)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            timer.reset(0.002)
            await timer  # the cancelled await no longer holds the timer
            return "ok"

        self.assertEqual(asyncio.run(main()), "ok")

    @staticmethod
    async def _await(aw):
        await aw

    def test_yield_now_under_asyncio(self):
        order = []

        async def worker(name):
            for i in range(2):
                order.append((name, i))
                await tf.yield_now()

        async def main():
            await asyncio.gather(worker("a"), worker("b"))

        asyncio.run(main())
        self.assertEqual(order, [("a", 0), ("b", 0), ("a", 1), ("b", 1)])

    def test_task_handle_under_asyncio_is_a_clear_error(self):
        async def child():
            return 1

        ex = tf.Executor()
        try:
            handle = ex.spawn(child())

            async def main():
                await handle

            with self.assertRaisesRegex(RuntimeError, "run_until_complete"):
                asyncio.run(main())
        finally:
            ex.close()

    def test_loop_in_another_thread(self):
        result = []

        def worker():
            async def main():
                await tf.sleep(0.005)
                return threading.get_ident()

            result.append(asyncio.run(main()) == threading.get_ident())

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        self.assertEqual(result, [True])

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc")
    def test_repeated_asyncio_run_does_not_leak_descriptors(self):
        async def main():
            await tf.sleep(0.0005)

        asyncio.run(main())
        gc.collect()
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(30):
            asyncio.run(main())
        gc.collect()
        after = len(os.listdir("/proc/self/fd"))
        self.assertLessEqual(after, before + 2)

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc")
    def test_closed_loop_with_a_pending_sleep_is_freed(self):
        # A loop closed while a task still awaits timefuture must go away
        # with its bridge (executor, eventfd, reader) and the pending timers,
        # as it does with asyncio.sleep.
        async def sleeper(timer):
            await tf.sleep(10)
            await timer

        def one_round():
            loop = asyncio.new_event_loop()
            # "Task was destroyed but it is pending" is expected here.
            loop.set_exception_handler(lambda loop, context: None)
            timer = tf.Timer(10)
            task = loop.create_task(sleeper(timer))
            loop.run_until_complete(asyncio.sleep(0.001))
            self.assertFalse(task.done())
            loop.close()
            return weakref.ref(loop), weakref.ref(task), weakref.ref(timer)

        one_round()  # the first one may create lasting asyncio state
        gc.collect()
        before = len(os.listdir("/proc/self/fd"))
        refs = [one_round() for _ in range(20)]
        gc.collect()
        after = len(os.listdir("/proc/self/fd"))
        alive = [sum(r() is not None for r in kind) for kind in zip(*refs)]
        self.assertEqual(alive, [0, 0, 0], "loops, tasks, timers alive")
        self.assertLessEqual(after, before)

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc")
    def test_dropped_unclosed_loop_with_a_pending_sleep_is_freed(self):
        async def sleeper():
            await tf.sleep(10)

        def one_round():
            loop = asyncio.new_event_loop()
            loop.set_exception_handler(lambda loop, context: None)
            task = loop.create_task(sleeper())
            loop.run_until_complete(asyncio.sleep(0.001))
            self.assertFalse(task.done())
            return weakref.ref(loop)

        with warnings.catch_warnings():
            # An unclosed loop warns when collected; that is the point here.
            warnings.simplefilter("ignore", ResourceWarning)
            one_round()
            gc.collect()
            before = len(os.listdir("/proc/self/fd"))
            refs = [one_round() for _ in range(20)]
            gc.collect()
            after = len(os.listdir("/proc/self/fd"))
        self.assertEqual(sum(r() is not None for r in refs), 0)
        self.assertLessEqual(after, before)

    def test_sleep_resumed_after_its_loop_closed_raises(self):
        # Closing the loop frees its bridge; a wait it left pending ends with
        # ESHUTDOWN when resumed, instead of hanging or touching freed state.
        async def sleeper():
            await tf.sleep(10)

        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda loop, context: None)
        coro = sleeper()
        task = loop.create_task(coro)
        loop.run_until_complete(asyncio.sleep(0.001))
        loop.close()
        gc.collect()
        with self.assertRaises(tf.Error) as cm:
            coro.send(None)
        self.assertEqual(cm.exception.code, tf.ESHUTDOWN)
        del task

async def _tf_sleep(seconds):
    await tf.sleep(seconds)


class NestingTest(unittest.TestCase):
    """An awaitable follows whoever is stepping it: a timefuture task, or an
    asyncio loop started inside one (and the other way round)."""

    def test_asyncio_run_inside_a_timefuture_task(self):
        async def inner():
            self.assertIsNone(tf.current_task())
            start = tf.monotonic_ns()
            await tf.sleep(0.002)
            timer = tf.Timer(0.001)
            await timer
            await tf.yield_now()
            await asyncio.sleep(0)
            return tf.monotonic_ns() - start

        async def outer():
            me = tf.current_task()
            self.assertIsNotNone(me)
            elapsed = asyncio.run(inner())
            # back under timefuture: its awaitables are the task's again
            self.assertIs(tf.current_task(), me)
            await tf.sleep(0.001)
            child = tf.spawn(_tf_sleep(0))
            await child
            return elapsed

        self.assertGreaterEqual(tf.run(outer()), 3_000_000)

    def test_task_handle_in_asyncio_inside_timefuture_is_a_clear_error(self):
        async def child():
            return 1

        async def inner(handle):
            with self.assertRaisesRegex(RuntimeError, "run_until_complete"):
                await handle
            coro = child()
            with self.assertRaisesRegex(RuntimeError, "inside a task"):
                tf.spawn(coro)
            coro.close()
            return "checked"

        async def outer():
            handle = tf.spawn(child())
            result = asyncio.run(inner(handle))
            self.assertEqual(await handle, 1)
            return result

        self.assertEqual(tf.run(outer()), "checked")

    def test_timefuture_run_inside_an_asyncio_task(self):
        async def inner():
            self.assertIsNotNone(tf.current_task())
            await tf.sleep(0.002)
            child = tf.spawn(_tf_sleep(0.001))
            await child
            return "inner"

        async def outer():
            await tf.sleep(0.001)  # through the loop's bridge
            self.assertIsNone(tf.current_task())
            result = tf.run(inner())
            await tf.sleep(0.001)  # the bridge again
            return result

        self.assertEqual(asyncio.run(outer()), "inner")

    def test_three_levels(self):
        async def innermost():
            await tf.sleep(0.001)
            return tf.current_task() is not None

        async def middle():
            await tf.sleep(0.001)
            return tf.run(innermost())

        async def outer():
            await tf.sleep(0.001)
            return asyncio.run(middle())

        self.assertTrue(tf.run(outer()))


if __name__ == "__main__":
    unittest.main()
