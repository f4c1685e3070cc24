# SPDX-License-Identifier: MIT
"""Ctrl-C (SIGINT) interrupts run() with KeyboardInterrupt and leaves
nothing running."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import unittest

import timefuture as tf


@unittest.skipUnless(hasattr(signal, "SIGINT") and hasattr(os, "kill"),
                     "needs POSIX signals")
class InterruptTest(unittest.TestCase):
    def setUp(self):
        # ctest may start us with SIGINT ignored; make it raise as usual.
        self._old = signal.signal(signal.SIGINT, signal.default_int_handler)

    def tearDown(self):
        signal.signal(signal.SIGINT, self._old)

    def _interrupt_soon(self, delay=0.1):
        timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        return timer

    def test_ctrl_c_while_waiting(self):
        closed = []

        async def child(i):
            try:
                await tf.sleep(3600)
            finally:
                closed.append(i)

        timers = []

        async def main():
            for i in range(10):
                tf.spawn(child(i))
            # The children were queued first, so they have all started (and
            # are waiting) when this task resumes.
            await tf.yield_now()
            timers.append(self._interrupt_soon(0.05))
            try:
                await tf.sleep(3600)
            finally:
                closed.append("main")

        with self.assertRaises(KeyboardInterrupt):
            tf.run(main())
        timers[0].join()
        self.assertEqual(sorted(map(str, closed)),
                         sorted(["main"] + [str(i) for i in range(10)]))
        # the module is still usable afterwards
        self.assertEqual(tf.run(self._value(5)), 5)

    @staticmethod
    async def _value(v):
        await tf.sleep(0.001)
        return v

    def test_ctrl_c_while_busy(self):
        async def spinner():
            while True:
                await tf.yield_now()

        timer = self._interrupt_soon()
        with self.assertRaises(KeyboardInterrupt):
            tf.run(spinner())
        timer.join()

    def test_ctrl_c_in_executor_drops_tasks_and_executor_stays_usable(self):
        async def forever():
            await tf.sleep(3600)

        with tf.Executor() as ex:
            h = ex.spawn(forever())
            timer = self._interrupt_soon()
            with self.assertRaises(KeyboardInterrupt):
                ex.run()
            timer.join()
            self.assertTrue(h.cancelled())
            self.assertEqual(ex.pending, 0)
            self.assertEqual(ex.run_until_complete(self._value(3)), 3)


@unittest.skipUnless(hasattr(signal, "SIGINT"), "needs POSIX signals")
class InterruptSubprocessTest(unittest.TestCase):
    def test_real_sigint_to_a_process_in_run(self):
        script = textwrap.dedent("""
            import signal, sys, threading, timefuture as tf
            signal.signal(signal.SIGINT, signal.default_int_handler)
            async def main():
                try:
                    print("ready", flush=True)
                    await tf.sleep(3600)
                finally:
                    print("closed", flush=True)
            try:
                tf.run(main())
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                print("threads", threading.active_count(), flush=True)
                sys.exit(3)
        """)
        proc = subprocess.Popen([sys.executable, "-c", script],
                                stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(proc.stdout.readline().strip(), "ready")
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(out.split(), ["closed", "interrupted", "threads", "1"])


if __name__ == "__main__":
    unittest.main()
