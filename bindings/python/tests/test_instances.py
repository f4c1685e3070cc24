# SPDX-License-Identifier: MIT
"""The extension keeps its state per module object (multi-phase init, heap
types): reloading keeps it working, a second copy loaded from the same file
is independent, and a sub-interpreter can use it."""

import gc
import importlib
import importlib.util
import unittest
import weakref

import timefuture as tf
from timefuture import _timefuture


def _load_copy():
    """A second, separate instance of the extension from the same file."""
    origin = importlib.util.find_spec("timefuture._timefuture").origin
    spec = importlib.util.spec_from_file_location("timefuture._timefuture",
                                                  origin)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _work(mod):
    async def child(x):
        await mod.sleep(0.001)
        return x + 1

    async def main():
        timer = mod.Timer(0.001)
        await timer
        await mod.yield_now()
        return await mod.spawn(child(1))

    return mod.run(main())


class InstancesTest(unittest.TestCase):
    def test_reload_keeps_the_module_working(self):
        executor_type = _timefuture.Executor
        again = importlib.reload(_timefuture)
        self.assertIs(again, _timefuture)
        self.assertIs(again.Executor, executor_type)
        self.assertEqual(_work(again), 2)
        self.assertEqual(_work(tf), 2)

    def test_a_second_copy_is_independent(self):
        copy = _load_copy()
        self.assertIsNot(copy, _timefuture)
        for name in ("Executor", "Task", "Timer", "Sleep", "YieldNow",
                     "Error", "TimerCancelled", "CancelledError"):
            self.assertIsNot(getattr(copy, name), getattr(_timefuture, name),
                             name)
        self.assertEqual(_work(copy), 2)
        self.assertEqual(_work(tf), 2)
        # Each copy raises its own exception classes.
        timer = copy.Timer(3600)
        timer.cancel()

        async def await_cancelled():
            await timer

        with self.assertRaises(copy.TimerCancelled) as cm:
            copy.run(await_cancelled())
        self.assertNotIsInstance(cm.exception, tf.Error)
        self.assertEqual(cm.exception.code, copy.ECANCELED)

    def test_an_awaitable_of_one_copy_in_the_other_is_refused(self):
        copy = _load_copy()

        async def main():
            await copy.sleep(0.001)

        with self.assertRaisesRegex(RuntimeError, "must be awaited"):
            tf.run(main())
        self.assertEqual(_work(tf), 2)

    def test_a_dropped_copy_is_freed(self):
        copy = _load_copy()
        self.assertEqual(_work(copy), 2)
        ref = weakref.ref(copy)
        del copy
        gc.collect()
        self.assertIsNone(ref())
        self.assertEqual(_work(tf), 2)

    def test_types_cannot_be_made_directly_or_changed(self):
        for cls in (tf.Task, tf.Sleep, tf.YieldNow):
            with self.assertRaises(TypeError):
                cls()
        with self.assertRaises(TypeError):
            tf.Timer.reset = None

    def test_in_a_subinterpreter(self):
        try:
            import _xxsubinterpreters as interpreters
        except ImportError:
            self.skipTest("no _xxsubinterpreters in this Python")
        interp = interpreters.create()
        try:
            # run_string raises RunFailedError if the script raises.
            interpreters.run_string(interp, """if True:
                import timefuture as tf

                async def main():
                    await tf.sleep(0.001)
                    return 41 + 1

                assert tf.run(main()) == 42
                """)
        finally:
            interpreters.destroy(interp)
        self.assertEqual(_work(tf), 2)


if __name__ == "__main__":
    unittest.main()
