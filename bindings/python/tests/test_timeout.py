# SPDX-License-Identifier: MIT
"""timefuture.timeout()/timeout_at(): asyncio.timeout()'s rules, in tasks of
timefuture.run() and of asyncio, on the manual clock wherever the order of
events matters (deterministic, whatever the machine's speed)."""

import asyncio
import unittest

import timefuture as tf

S = 1_000_000_000


class _Rules:
    """The rules, run by a subclass under one kind of task. `run(coro)`
    runs it; `cancelled` is that kind's CancelledError; `spawn` and
    `yield_` make a task and let others run."""

    def setUp(self):
        self.d = tf.Driver(clock="manual")

    def tearDown(self):
        self.d.close()

    async def _advance_soon(self, to):
        for _ in range(3):
            await self.yield_()
        self.d.advance(to)

    def test_expiry_raises_timeout_error_never_early(self):
        d = self.d

        async def main():
            adv = self.spawn(self._advance_soon(2 * S - 1))
            with self.assertRaises(TimeoutError):
                async with tf.timeout(2, driver=d) as t:
                    self.assertEqual(t.when(), 2.0)
                    await adv  # a nanosecond before the deadline
                    self.assertFalse(t.expired())
                    self.spawn(self._advance_soon(2 * S))
                    await tf.sleep(3600, driver=d)
            self.assertTrue(t.expired())
            return d.now()

        self.assertEqual(self.run(main()), 2 * S)

    def test_inner_first_never_times_out(self):
        d = self.d

        async def main():
            # Both deadlines pass in one advance; the block's (1 s) is the
            # earlier, so it finishes first and the timeout must not fire.
            self.spawn(self._advance_soon(2 * S))
            async with tf.timeout(2, driver=d) as t:
                await tf.sleep(1, driver=d)
            self.assertFalse(t.expired())
            # No cancellation is left behind for what follows the block.
            for _ in range(5):
                await self.yield_()
            await tf.sleep(0.001)
            return "ok"

        self.assertEqual(self.run(main()), "ok")

    def test_nested_inner_fires_first(self):
        d = self.d

        async def main():
            self.spawn(self._advance_soon(1 * S))
            async with tf.timeout(5, driver=d) as outer:
                with self.assertRaises(TimeoutError):
                    async with tf.timeout(1, driver=d) as inner:
                        await tf.sleep(3600, driver=d)
            return inner.expired(), outer.expired()

        self.assertEqual(self.run(main()), (True, False))

    def test_nested_outer_fires_first(self):
        d = self.d

        async def main():
            self.spawn(self._advance_soon(1 * S))
            with self.assertRaises(TimeoutError):
                async with tf.timeout(1, driver=d) as outer:
                    try:
                        async with tf.timeout(5, driver=d) as inner:
                            await tf.sleep(3600, driver=d)
                    except TimeoutError:
                        self.fail("the inner timeout did not fire")
            return inner.expired(), outer.expired()

        self.assertEqual(self.run(main()), (False, True))

    def test_cancellation_by_someone_else_stays_a_cancellation(self):
        d = self.d

        async def main(me_box):
            me = me_box[0]()

            async def killer():
                for _ in range(3):
                    await self.yield_()
                me.cancel()

            self.spawn(killer())
            with self.assertRaises(self.cancelled):
                async with tf.timeout(5, driver=d) as t:
                    await tf.sleep(3600, driver=d)
            self.assertFalse(t.expired())
            return "cancelled, not timed out"

        self.assertEqual(self.run(main([self.current])), "cancelled, not timed out")

    def test_both_cancelled_and_expired_stays_a_cancellation(self):
        d = self.d

        async def main():
            me = self.current()

            async def both():
                for _ in range(3):
                    await self.yield_()
                d.advance(S)  # our deadline passes ...
                for _ in range(100):  # (a hang guard only)
                    if t.expired():
                        break
                    await self.yield_()
                me.cancel()  # ... and someone else cancels the task too

            t = tf.timeout(1, driver=d)
            self.spawn(both())
            with self.assertRaises(self.cancelled):
                async with t:
                    await tf.sleep(3600, driver=d)
            return t.expired()

        self.assertTrue(self.run(main()))

    def test_reschedule_when_and_none(self):
        d = self.d

        async def main():
            async with tf.timeout(None, driver=d) as t:
                self.assertIsNone(t.when())
                self.spawn(self._advance_soon(10 * S))
                await tf.sleep(10, driver=d)  # no deadline: never cancelled
                t.reschedule(20)
                self.assertEqual(t.when(), 20.0)
                t.reschedule(30)  # moved later: 20 s no longer fires
                self.spawn(self._advance_soon(20 * S))
                await tf.sleep(10, driver=d)
                t.reschedule(None)
            self.assertFalse(t.expired())
            with self.assertRaises(TimeoutError):
                async with tf.timeout_at(25, driver=d) as t2:
                    self.spawn(self._advance_soon(25 * S))
                    await tf.sleep(3600, driver=d)
            with self.assertRaisesRegex(RuntimeError, "expired"):
                t2.reschedule(40)
            with self.assertRaisesRegex(RuntimeError, "already been entered"):
                async with t2:
                    pass
            return "ok"

        self.assertEqual(self.run(main()), "ok")

    def test_past_deadline_cancels_at_the_first_await(self):
        async def main():
            with self.assertRaises(TimeoutError):
                async with tf.timeout(-1):
                    await tf.sleep(3600)
            return "ok"

        self.assertEqual(self.run(main()), "ok")

    def test_bad_arguments(self):
        for bad, exc in ((float("nan"), ValueError), ("1", TypeError)):
            with self.assertRaises(exc):
                tf.timeout(bad)
            with self.assertRaises(exc):
                tf.timeout_at(bad)


class TimeoutUnderRunTest(_Rules, unittest.TestCase):
    cancelled = tf.CancelledError

    def run(self, coro=None):  # noqa: the TestCase's own run() takes a result
        if coro is None or not hasattr(coro, "send"):
            return unittest.TestCase.run(self, coro)
        return tf.run(coro)

    spawn = staticmethod(tf.spawn)
    yield_ = staticmethod(tf.yield_now)
    current = staticmethod(tf.current_task)

    def test_outside_a_task(self):
        coro = tf.timeout(1).__aenter__()
        with self.assertRaisesRegex(RuntimeError, "must be used in a task"):
            coro.send(None)


class TimeoutUnderAsyncioTest(_Rules, unittest.TestCase):
    cancelled = asyncio.CancelledError

    def run(self, coro=None):
        if coro is None or not hasattr(coro, "send"):
            return unittest.TestCase.run(self, coro)

        async def guarded():
            return await asyncio.wait_for(coro, 60)  # a hang guard only

        return asyncio.run(guarded())

    spawn = staticmethod(asyncio.ensure_future)

    @staticmethod
    async def yield_():
        await asyncio.sleep(0)

    current = staticmethod(asyncio.current_task)


if __name__ == "__main__":
    unittest.main()
