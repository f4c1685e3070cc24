# SPDX-License-Identifier: MIT
"""timefuture.Driver: timer drivers of their own, above all the manual clock
that lets a test move time by hand (like asyncio test loops, or tokio's
paused clock)."""

import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
import weakref

import timefuture as tf

import docs_blocks

MS = 1_000_000  # nanoseconds


def _error_code(test, call, *args, **kwargs):
    with test.assertRaises(tf.Error) as cm:
        call(*args, **kwargs)
    return cm.exception.code


class DriverOptionsTest(unittest.TestCase):
    def test_defaults_are_a_monotonic_thread(self):
        with tf.Driver() as d:
            self.assertEqual((d.clock, d.mode, d.slack), ("monotonic", "thread", 0.0))
            self.assertFalse(d.closed)
            # The same clock as monotonic_ns(), read in between.
            before = tf.monotonic_ns()
            now = d.now()
            self.assertLessEqual(before, now)
            self.assertLessEqual(now, tf.monotonic_ns())
            self.assertIn("monotonic thread", repr(d))
        self.assertTrue(d.closed)
        self.assertIn("closed", repr(d))

    def test_manual_clock_defaults_to_host_mode_and_starts_at_start(self):
        with tf.Driver(clock="manual", start=123_456) as d:
            self.assertEqual((d.clock, d.mode), ("manual", "host"))
            self.assertEqual(d.now(), 123_456)
            self.assertEqual(d.time(), 123_456 / 1e9)
            self.assertIsNone(d.next_deadline())
        with tf.Driver("manual") as d:
            self.assertEqual(d.now(), 0)

    def test_every_clock_and_mode(self):
        for clock in ("monotonic", "boottime"):
            for mode in ("thread", "host"):
                with self.subTest(clock=clock, mode=mode):
                    with tf.Driver(clock, mode, slack=0.001) as d:
                        self.assertEqual((d.clock, d.mode), (clock, mode))
                        self.assertEqual(d.slack, 0.001)
                        self.assertGreater(d.now(), 0)

    def test_bad_options(self):
        with self.assertRaises(ValueError):
            tf.Driver(clock="wall")
        with self.assertRaises(ValueError):
            tf.Driver(mode="threads")
        with self.assertRaises(TypeError):
            tf.Driver(clock=0)
        with self.assertRaises(ValueError):
            tf.Driver(slack=-1)
        with self.assertRaises(TypeError):
            tf.Driver(slack="1")
        with self.assertRaises(ValueError):
            tf.Driver("manual", start=-1)
        with self.assertRaises(ValueError):
            tf.Driver("manual", start=2**64 - 1)
        with self.assertRaises(TypeError):
            tf.Driver("manual", start=1.5)
        # A real clock reads where it is: a start time would be ignored.
        with self.assertRaises(ValueError):
            tf.Driver("monotonic", "host", start=5)
        # The library refuses a manual clock with a thread.
        self.assertEqual(_error_code(self, tf.Driver, "manual", "thread"), tf.EINVAL)
        with self.assertRaises(TypeError):
            tf.Driver("manual", "host", 0.0)  # slack is keyword-only


class ManualClockTest(unittest.TestCase):
    def setUp(self):
        self.d = tf.Driver(clock="manual", start=1_000)

    def tearDown(self):
        gc.collect()
        self.d.close()

    def test_advance_fires_exactly_at_the_deadline(self):
        d = self.d
        timer = tf.Timer(0.005, driver=d)
        self.assertIs(timer.driver, d)
        self.assertEqual(round(timer.deadline * 1e9), 1_000 + 5 * MS)
        self.assertEqual(d.advance(1_000 + 5 * MS - 1), 0)
        self.assertEqual(d.now(), 1_000 + 5 * MS - 1)
        self.assertEqual(d.advance(1_000 + 5 * MS), 1)
        self.assertEqual(d.advance(1_000 + 5 * MS), 0)  # once only
        self.assertIsNone(d.next_deadline())

    def test_next_deadline_loop_terminates_at_the_deadline(self):
        d = self.d
        timer = tf.Timer(7.25, driver=d)
        deadline = round(timer.deadline * 1e9)
        fired = steps = 0
        while not fired:
            nd = d.next_deadline()
            self.assertIsNotNone(nd)
            self.assertLessEqual(nd, deadline)  # never past a timer
            fired = d.advance(nd)
            steps += 1
            self.assertLess(steps, 100)
        self.assertEqual(d.now(), deadline)
        self.assertIsNone(d.next_deadline())
        del timer

    def test_advance_none_keeps_the_manual_clock(self):
        d = self.d
        self.assertEqual(d.advance(), 0)
        self.assertEqual(d.advance(None), 0)
        self.assertEqual(d.now(), 1_000)

    def test_advance_backwards_is_an_error_and_fires_nothing(self):
        d = self.d
        d.advance(10 * MS)
        timer = tf.Timer(0.001, driver=d)
        self.assertEqual(_error_code(self, d.advance, 10 * MS - 1), tf.ERANGE)
        self.assertEqual(d.now(), 10 * MS)
        self.assertEqual(d.advance(11 * MS), 1)  # it was still armed
        del timer

    def test_advance_argument_checks(self):
        d = self.d
        with self.assertRaises(ValueError):
            d.advance(-1)
        with self.assertRaises(ValueError):
            d.advance(2**64 - 1)  # the library's "now" marker, not a time
        with self.assertRaises(TypeError):
            d.advance(1.5)
        with self.assertRaises(TypeError):
            d.advance("1")
        self.assertEqual(d.advance(to=2_000), 0)
        self.assertEqual(d.now(), 2_000)

    def test_fileno_on_the_manual_clock_is_an_error(self):
        self.assertEqual(_error_code(self, self.d.fileno), tf.ESTATE)

    def test_sleeps_complete_in_deadline_order_at_the_advanced_time(self):
        d = self.d
        woke = []

        async def sleeper(name, seconds):
            await tf.sleep(seconds, driver=d)
            woke.append((name, d.now()))

        async def main():
            tasks = [tf.spawn(sleeper(n, s))
                     for n, s in (("c", 0.003), ("a", 0.001), ("b", 0.002))]
            await tf.yield_now()  # every sleeper is now waiting
            self.assertEqual(woke, [])
            for step in range(1, 4):
                self.assertEqual(d.advance(1_000 + step * MS), 1)
                await tf.yield_now()
            for t in tasks:
                await t
            return woke

        self.assertEqual(tf.run(main()), [("a", 1_000 + MS), ("b", 1_000 + 2 * MS),
                                          ("c", 1_000 + 3 * MS)])

    def test_a_sleep_does_not_complete_before_the_advance(self):
        d = self.d
        log = []

        async def sleeper():
            await tf.sleep(3600, driver=d)  # an hour, in no time at all
            log.append("woke")

        async def main():
            task = tf.spawn(sleeper())
            for _ in range(50):
                await tf.yield_now()
            log.append("advancing")
            d.advance(d.now() + 3600 * 10**9)
            await task

        tf.run(main())
        self.assertEqual(log, ["advancing", "woke"])

    def test_sleep_until_and_timer_reset_use_the_driver_clock(self):
        d = self.d

        async def main():
            until = tf.sleep_until(0.002, driver=d)  # 2 ms on d's clock
            timer = tf.Timer(10, driver=d)
            d.advance(2 * MS)
            await until
            timer.reset(0.001)  # from d's now, not the monotonic clock's
            self.assertEqual(round(timer.deadline * 1e9), 3 * MS)
            self.assertIn("deadline in 0.001000 s", repr(timer))
            advancer = tf.spawn(self._advance_later(3 * MS))
            await timer
            await advancer
            self.assertTrue(timer.cancel() is False)
            return d.now()

        self.assertEqual(tf.run(main()), 3 * MS)

    async def _advance_later(self, to):
        await tf.yield_now()
        self.d.advance(to)

    def test_cancelled_timer_on_a_driver(self):
        d = self.d
        timer = tf.Timer(1, driver=d)
        self.assertTrue(timer.cancel())
        self.assertIsNone(d.next_deadline())

        async def main():
            with self.assertRaises(tf.TimerCancelled):
                await timer

        tf.run(main())

    def test_under_asyncio(self):
        d = self.d

        async def main():
            order = []

            async def sleeper():
                await tf.sleep(0.5, driver=d)
                order.append(("woke", d.now()))

            task = asyncio.ensure_future(sleeper())
            for _ in range(5):
                await asyncio.sleep(0)
            order.append("advance")
            self.assertEqual(d.advance(d.now() + 500 * MS), 1)
            await asyncio.wait_for(task, 60)  # a hang guard only
            return order

        self.assertEqual(asyncio.run(main()), ["advance", ("woke", 1_000 + 500 * MS)])

    def test_already_due_under_asyncio_needs_no_wait(self):
        d = self.d

        async def main():
            s = tf.sleep(0.001, driver=d)
            d.advance(2 * MS)  # due, and fired by the advance
            await s
            # Due on the driver's clock but not advanced past: done at once.
            return await asyncio.wait_for(self._sleep_zero(), 60)

        self.assertEqual(asyncio.run(main()), "done")

    async def _sleep_zero(self):
        await tf.sleep(0, driver=self.d)
        return "done"


class LifetimeTest(unittest.TestCase):
    def test_close_with_timers_alive_is_refused(self):
        d = tf.Driver("manual")
        timer = tf.Timer(1, driver=d)
        self.assertEqual(_error_code(self, d.close), tf.EBUSY)
        self.assertFalse(d.closed)
        self.assertEqual(d.advance(10**9), 1)  # it still works
        del timer
        d.close()
        self.assertTrue(d.closed)
        d.close()  # twice is fine

    def test_close_with_a_sleep_alive_is_refused(self):
        d = tf.Driver("manual")
        s = tf.sleep(1, driver=d)
        with self.assertRaises(tf.Error) as cm:
            d.close()
        self.assertEqual(cm.exception.code, tf.EBUSY)
        self.assertIn("free the driver's timers", str(cm.exception))
        del s
        d.close()

    def test_context_manager_refuses_to_close_with_timers_alive(self):
        keep = []
        with self.assertRaises(tf.Error) as cm:
            with tf.Driver("manual") as d:
                keep.append(tf.Timer(1, driver=d))
        self.assertEqual(cm.exception.code, tf.EBUSY)
        keep.clear()
        d.close()

    def test_a_closed_driver_refuses_everything(self):
        d = tf.Driver("manual")
        d.close()
        for call in (d.now, d.time, d.next_deadline, d.advance, d.fileno):
            with self.subTest(call=call.__name__):
                with self.assertRaises(RuntimeError):
                    call()
        with self.assertRaises(RuntimeError):
            tf.sleep(1, driver=d)
        with self.assertRaises(RuntimeError):
            tf.sleep_until(1, driver=d)
        with self.assertRaises(RuntimeError):
            tf.Timer(1, driver=d)
        with self.assertRaises(RuntimeError):
            with d:
                pass

    def test_timers_keep_their_driver_alive(self):
        d = tf.Driver("manual")
        ref = weakref.ref(d)
        timer = tf.Timer(0.001, driver=d)
        sleep = tf.sleep(0.001, driver=d)
        del d
        gc.collect()
        self.assertIsNotNone(ref())
        self.assertEqual(ref().advance(MS), 2)
        del timer
        gc.collect()
        self.assertIsNotNone(ref())
        del sleep
        gc.collect()
        self.assertIsNone(ref())  # freed with its last timer, quietly

    def test_driver_argument_must_be_a_driver(self):
        for bad in (0, "manual", object()):
            with self.subTest(bad=bad):
                with self.assertRaises(TypeError):
                    tf.sleep(1, driver=bad)
                with self.assertRaises(TypeError):
                    tf.Timer(1, driver=bad)
        # None is the default driver.
        self.assertIsNone(tf.Timer(0, driver=None).driver)
        self.assertIsNone(tf.Timer(0).driver)
        with self.assertRaises(TypeError):
            tf.sleep(1, None, tf.Driver("manual"))  # driver= is keyword-only


class RealClockTest(unittest.TestCase):
    def test_thread_mode_driver_fires_by_itself(self):
        for clock in ("monotonic", "boottime"):
            with self.subTest(clock=clock):
                with tf.Driver(clock, slack=0.0001) as d:
                    async def main():
                        start = d.now()
                        await tf.sleep(0.002, driver=d)
                        return d.now() - start

                    self.assertGreaterEqual(tf.run(main()), 2 * MS)
                    self.assertEqual(_error_code(self, d.advance), tf.ESTATE)
                    self.assertEqual(_error_code(self, d.fileno), tf.ESTATE)

    def test_host_mode_refuses_to_advance_past_the_clock(self):
        with tf.Driver("monotonic", "host") as d:
            self.assertEqual(_error_code(self, d.advance, d.now() + 3600 * 10**9),
                             tf.ERANGE)
            self.assertEqual(d.advance(), 0)

    def test_host_mode_with_asyncio_add_reader(self):
        with tf.Driver("monotonic", "host") as d:
            fd = d.fileno()
            self.assertGreaterEqual(fd, 0)
            os.fstat(fd)  # an open descriptor

            async def main():
                loop = asyncio.get_running_loop()
                loop.add_reader(d, d.advance)
                try:
                    start = d.now()
                    await asyncio.wait_for(tf.sleep(0.005, driver=d), 60)
                    timer = tf.Timer(0.002, driver=d)
                    await asyncio.wait_for(self._wait(timer), 60)
                    return d.now() - start
                finally:
                    loop.remove_reader(d)

            self.assertGreaterEqual(asyncio.run(main()), 7 * MS)

    async def _wait(self, timer):
        await timer


class DocsTest(unittest.TestCase):
    def test_the_manual_clock_example_of_the_docs_page_runs(self):
        code = docs_blocks.python_block("## Testing with the manual clock")
        self.assertIn("advance", code)
        printed = []
        exec(compile(code, docs_blocks.PAGE, "exec"),
             {"__name__": "__docs__", "print": printed.append})
        self.assertEqual(printed, [[3600 * 10**9]])


class StubTest(unittest.TestCase):
    def test_driver_api_type_checks_with_mypy_strict(self):
        # This interpreter, or Debian's (which the packaging tests use).
        py = next((c for c in (sys.executable, "/usr/bin/python3")
                   if os.path.exists(c) and subprocess.run(
                       [c, "-c", "import mypy"], capture_output=True).returncode == 0),
                  None)
        if py is None:
            self.skipTest("mypy is not installed (the packaging tests need it)")
        site = os.path.dirname(os.path.dirname(tf.__file__))
        program = textwrap.dedent('''
            import timefuture
            from typing import Optional

            async def main(d: timefuture.Driver) -> int:
                await timefuture.sleep(0.001, driver=d)
                await timefuture.sleep_until(1.0, driver=d)
                t = timefuture.Timer(0.5, driver=d)
                drv: Optional[timefuture.Driver] = t.driver
                await t
                return d.advance(d.now() + 1) + d.advance()

            with timefuture.Driver(clock="manual", start=5) as d:
                n: int = timefuture.run(main(d))
                nd: Optional[int] = d.next_deadline()
                s: float = d.time() + d.slack
            h = timefuture.Driver("monotonic", "host", slack=0.001)
            fd: int = h.fileno()
            h.close()
            reveal_type(h.next_deadline())
        ''')
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "check.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(program)
            # mypy reads the stub only, never the extension: no sanitizer
            # runtime a sanitized run preloads is needed (nor wanted) there.
            env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
            env["MYPYPATH"] = site
            out = subprocess.run(
                [py, "-m", "mypy", "--strict", "--no-incremental",
                 "--cache-dir", os.path.join(work, "cache"),
                 "--config-file", os.devnull, path],
                capture_output=True, text=True, cwd=work, env=env)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn('Revealed type is "Union[builtins.int, None]"', out.stdout)
            # A wrong use is caught: the stub really types the Driver.
            with open(path, "a", encoding="utf-8") as f:
                f.write("timefuture.Driver(clock='wall')\n")
            bad = subprocess.run(
                [py, "-m", "mypy", "--strict", "--no-incremental",
                 "--cache-dir", os.path.join(work, "cache"),
                 "--config-file", os.devnull, path],
                capture_output=True, text=True, cwd=work, env=env)
            self.assertNotEqual(bad.returncode, 0, bad.stdout)


if __name__ == "__main__":
    unittest.main()
