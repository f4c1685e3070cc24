# SPDX-License-Identifier: MIT
"""run(), Executor, Task handles, yield_now, errors of tasks."""

import asyncio
import contextvars
import gc
import sys
import threading
import unittest

import timefuture as tf


class RunTest(unittest.TestCase):
    def test_run_returns_the_result(self):
        async def main(x):
            await tf.yield_now()
            return x * 2

        self.assertEqual(tf.run(main(21)), 42)

    def test_run_raises_the_coroutine_exception(self):
        async def main():
            await tf.sleep(0.001)
            raise KeyError("boom")

        try:
            tf.run(main())
        except KeyError as e:
            err = e
        else:
            self.fail("no KeyError")
        self.assertEqual(err.args, ("boom",))
        # the traceback reaches into the coroutine
        tb = err.__traceback__
        names = []
        while tb:
            names.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        self.assertIn("main", names)

    def test_run_closes_tasks_left_unfinished(self):
        closed = []

        async def background():
            try:
                await tf.sleep(3600)
            finally:
                closed.append(True)

        async def main():
            handle = tf.spawn(background())  # on run()'s own executor
            await tf.yield_now()  # the background task starts waiting
            self.assertFalse(handle.done())
            return handle

        handle = tf.run(main())
        self.assertEqual(closed, [True])
        self.assertTrue(handle.cancelled())

    def test_close_closes_unfinished_tasks(self):
        closed = []

        async def background():
            try:
                await tf.sleep(3600)
            finally:
                closed.append(True)

        ex = tf.Executor()
        ex.spawn(background())
        ex.run_until_complete(self._noop())
        self.assertEqual(ex.pending, 1)
        ex.close()
        self.assertEqual(closed, [True])
        self.assertTrue(ex.closed)
        self.assertEqual(ex.pending, 0)

    def test_spawn_outside_a_task_is_refused(self):
        async def f():
            return 1

        coro = f()
        with self.assertRaisesRegex(RuntimeError, "inside a task"):
            tf.spawn(coro)
        coro.close()

    async def _noop(self):
        await tf.yield_now()

    def test_bad_arguments(self):
        async def f():
            return 1

        with self.assertRaisesRegex(TypeError, "coroutine"):
            tf.run(5)
        with self.assertRaisesRegex(TypeError, "call it"):
            tf.run(f)
        with tf.Executor() as ex:
            with self.assertRaisesRegex(TypeError, "call it"):
                ex.spawn(f)
            with self.assertRaisesRegex(TypeError, "not int"):
                ex.spawn(3)
        for bad in (-1, 1025, 10**30):
            with self.assertRaisesRegex(ValueError, "between 0 and 1024"):
                tf.Executor(threads=bad)
        with self.assertRaisesRegex(TypeError, "threads must be an int"):
            tf.Executor(threads="2")
        with self.assertRaisesRegex(TypeError, "threads must be an int"):
            coro = f()
            try:
                tf.run(coro, threads=1.5)
            finally:
                coro.close()
        with self.assertRaises(TypeError):
            tf.Task()

    def test_nested_run_is_refused(self):
        async def inner():
            return 1

        async def main():
            coro = inner()
            try:
                tf.run(coro)
            finally:
                coro.close()

        with self.assertRaisesRegex(RuntimeError, "cannot be called from a task"):
            tf.run(main())

    def test_foreign_awaitable_gets_a_clear_error(self):
        loop = asyncio.new_event_loop()
        try:
            fut = loop.create_future()

            async def main():
                await fut

            with self.assertRaisesRegex(RuntimeError, "not a timefuture awaitable"):
                tf.run(main())
        finally:
            loop.close()

    def test_foreign_awaitable_error_can_be_caught_by_the_coroutine(self):
        class Foreign:
            def __await__(self):
                yield "something else"

        async def main():
            try:
                await Foreign()
            except RuntimeError as e:
                return str(e)

        self.assertIn("'something else'", tf.run(main()))

    def test_bare_yield_reschedules(self):
        async def main():
            await asyncio.sleep(0)  # a bare yield, no loop needed
            return "ok"

        self.assertEqual(tf.run(main()), "ok")


class ExecutorTest(unittest.TestCase):
    def test_spawn_and_await_handles(self):
        async def child(i):
            await tf.sleep(0.001 * (i % 3))
            return i * i

        async def main():
            handles = [ex.spawn(child(i)) for i in range(50)]
            self.assertTrue(all(isinstance(h, tf.Task) for h in handles))
            return [await h for h in handles]

        with tf.Executor() as ex:
            self.assertEqual(ex.run_until_complete(main()),
                             [i * i for i in range(50)])

    def test_exception_in_a_task_reaches_its_awaiter(self):
        async def failing():
            await tf.yield_now()
            raise ValueError("bad value")

        async def main():
            handle = ex.spawn(failing())
            try:
                await handle
            except ValueError as e:
                return e, handle

        with tf.Executor() as ex:
            err, handle = ex.run_until_complete(main())
        self.assertEqual(str(err), "bad value")
        self.assertTrue(handle.done())
        self.assertFalse(handle.cancelled())
        self.assertIs(handle.exception(), err)
        with self.assertRaises(ValueError):
            handle.result()

    def test_one_handle_awaited_by_many_tasks(self):
        async def slow():
            await tf.sleep(0.01)
            return "shared"

        async def waiter(h):
            return await h

        async def main():
            h = ex.spawn(slow())
            waiters = [ex.spawn(waiter(h)) for _ in range(20)]
            return [await w for w in waiters]

        with tf.Executor() as ex:
            self.assertEqual(ex.run_until_complete(main()), ["shared"] * 20)

    def test_handle_methods_while_pending(self):
        async def forever():
            await tf.sleep(3600)

        with tf.Executor() as ex:
            h = ex.spawn(forever())
            self.assertFalse(h.done())
            with self.assertRaisesRegex(RuntimeError, "not done"):
                h.result()
            with self.assertRaisesRegex(RuntimeError, "not done"):
                h.exception()
            self.assertIn("pending", repr(h))
        # close() cancelled it
        self.assertTrue(h.cancelled())
        with self.assertRaises(tf.CancelledError):
            h.result()

    def test_run_until_complete_accepts_a_handle(self):
        async def child():
            await tf.sleep(0.001)
            return "child"

        with tf.Executor() as ex:
            h = ex.spawn(child())
            self.assertEqual(ex.run_until_complete(h), "child")
            self.assertEqual(ex.run_until_complete(h), "child")
            with tf.Executor() as other:
                h2 = other.spawn(child())
                with self.assertRaisesRegex(ValueError, "another executor"):
                    ex.run_until_complete(h2)

    def test_run_runs_everything(self):
        done = []

        async def child(i):
            await tf.sleep(0.0001 * i)
            done.append(i)

        with tf.Executor() as ex:
            for i in range(100):
                ex.spawn(child(i))
            self.assertEqual(ex.pending, 100)
            ex.run()
            self.assertEqual(ex.pending, 0)
        self.assertEqual(sorted(done), list(range(100)))

    def test_other_tasks_survive_run_until_complete(self):
        timer = tf.Timer(3600)

        async def slow():
            await timer
            return "slow"

        async def fast():
            return "fast"

        with tf.Executor() as ex:
            h = ex.spawn(slow())
            self.assertEqual(ex.run_until_complete(fast()), "fast")
            self.assertFalse(h.done())
            timer.reset(0.001)
            ex.run()
            self.assertEqual(h.result(), "slow")

    def test_yield_now_interleaves_tasks(self):
        order = []

        async def worker(name):
            for i in range(3):
                order.append((name, i))
                await tf.yield_now()

        with tf.Executor() as ex:
            ex.spawn(worker("a"))
            ex.spawn(worker("b"))
            ex.run()
        self.assertEqual(order, [("a", 0), ("b", 0), ("a", 1), ("b", 1),
                                 ("a", 2), ("b", 2)])

    def test_many_yielding_tasks(self):
        count = 20000
        finished = []

        async def one(i):
            await tf.yield_now()
            finished.append(i)

        with tf.Executor() as ex:
            for i in range(count):
                ex.spawn(one(i))
            ex.run()
        self.assertEqual(len(finished), count)

    def test_cancel_a_sleeping_task(self):
        cleaned = []

        async def sleeper():
            try:
                await tf.sleep(3600)
            finally:
                cleaned.append(True)

        async def main():
            h = ex.spawn(sleeper())
            await tf.yield_now()  # the sleeper starts waiting
            self.assertTrue(h.cancel())
            with self.assertRaises(tf.CancelledError):
                await h
            self.assertTrue(h.cancelled())
            self.assertFalse(h.cancel())
            return "ok"

        with tf.Executor() as ex:
            self.assertEqual(ex.run_until_complete(main()), "ok")
        self.assertEqual(cleaned, [True])

    def test_cancel_before_start_and_caught_cancellation(self):
        started = []

        async def never():
            started.append(True)

        async def stubborn():
            try:
                await tf.sleep(3600)
            except tf.CancelledError:
                return "caught"

        async def main():
            h1 = ex.spawn(never())
            h1.cancel()
            h2 = ex.spawn(stubborn())
            await tf.yield_now()
            h2.cancel()
            res = await h2
            with self.assertRaises(tf.CancelledError):
                await h1
            return res

        with tf.Executor() as ex:
            self.assertEqual(ex.run_until_complete(main()), "caught")
        self.assertEqual(started, [])

    def test_task_cannot_await_itself(self):
        async def main():
            await tf.current_task()

        with self.assertRaisesRegex(RuntimeError, "itself"):
            tf.run(main())

    def test_current_task(self):
        self.assertIsNone(tf.current_task())

        async def main():
            return tf.current_task()

        with tf.Executor() as ex:
            h = ex.spawn(main())
            self.assertIs(ex.run_until_complete(h), h)

    def test_unretrieved_exception_is_reported(self):
        seen = []
        old_hook = sys.unraisablehook
        sys.unraisablehook = lambda u: seen.append(u)
        try:
            async def failing():
                raise OSError("lost")

            with tf.Executor() as ex:
                ex.spawn(failing())
                ex.run()
            gc.collect()
        finally:
            sys.unraisablehook = old_hook
        self.assertEqual(len(seen), 1)
        self.assertIsInstance(seen[0].exc_value, OSError)

    def test_closed_executor(self):
        async def f():
            return 1

        ex = tf.Executor()
        ex.close()
        ex.close()
        self.assertTrue(ex.closed)
        coro = f()
        with self.assertRaisesRegex(RuntimeError, "closed"):
            ex.spawn(coro)
        with self.assertRaisesRegex(RuntimeError, "closed"):
            ex.run_until_complete(coro)
        coro.close()

    def test_close_while_running_is_refused(self):
        async def main():
            with self.assertRaisesRegex(RuntimeError, "while it is running"):
                ex.close()
            with self.assertRaisesRegex(RuntimeError, "from inside a task"):
                ex.run()
            return "ok"

        with tf.Executor() as ex:
            self.assertEqual(ex.run_until_complete(main()), "ok")

    def test_worker_threads_leave_python_tasks_on_the_caller(self):
        caller = threading.get_ident()

        async def where():
            await tf.sleep(0.001)
            return threading.get_ident()

        async def main():
            hs = [ex.spawn(where()) for _ in range(10)]
            return {await h for h in hs}

        with tf.Executor(threads=2) as ex:
            self.assertEqual(ex.threads, 2)
            self.assertEqual(ex.run_until_complete(main()), {caller})
            cap = ex.capsule()
            self.assertIn("timefuture.tf_executor", repr(cap))

    def test_gil_is_released_while_waiting(self):
        counter = [0]
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                counter[0] += 1

        async def main():
            await tf.sleep(0.3)

        thread = threading.Thread(target=spin)
        thread.start()
        try:
            before = counter[0]
            tf.run(main())
            during = counter[0] - before
        finally:
            stop.set()
            thread.join()
        # With the GIL held for the whole wait the thread would not run.
        self.assertGreater(during, 1000)

    def test_executors_on_two_threads(self):
        results = {}

        def worker(name):
            async def main():
                total = 0
                for i in range(20):
                    await tf.sleep(0.0005)
                    await tf.yield_now()
                    total += i
                return name, total

            results[name] = tf.run(main())

        threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, {"a": ("a", 190), "b": ("b", 190)})

    def test_spawn_from_another_thread_while_running(self):
        async def child():
            return "from thread"

        async def main():
            holder = []
            t = threading.Thread(target=lambda: holder.append(ex.spawn(child())))
            t.start()
            while not holder:
                await tf.sleep(0.001)
            t.join()
            return await holder[0]

        with tf.Executor() as ex:
            self.assertEqual(ex.run_until_complete(main()), "from thread")


class ErrorTypeTest(unittest.TestCase):
    def test_error_carries_code_and_text(self):
        e = tf.Error(tf.EINVAL, "some_call")
        self.assertEqual(e.code, tf.EINVAL)
        self.assertEqual(e.strerror, tf.strerror(tf.EINVAL))
        self.assertIn("some_call", str(e))
        self.assertIn(tf.strerror(tf.EINVAL), str(e))
        self.assertNotEqual(tf.strerror(tf.EINVAL), tf.strerror(12345))
        self.assertTrue(issubclass(tf.TimerCancelled, tf.Error))
        self.assertTrue(issubclass(tf.Error, Exception))
        self.assertTrue(issubclass(tf.CancelledError, BaseException))
        self.assertFalse(issubclass(tf.CancelledError, Exception))
        with self.assertRaises(TypeError):
            tf.Error("not a code")

    def test_docstrings_everywhere(self):
        names = [n for n in dir(tf) if not n.startswith("_")]
        for name in names:
            obj = getattr(tf, name)
            if isinstance(obj, (int, str)):
                continue
            with self.subTest(name=name):
                self.assertTrue(obj.__doc__ and obj.__doc__.strip())
            if isinstance(obj, type):
                for attr, value in vars(obj).items():
                    if attr.startswith("_") and attr not in ("__enter__",
                                                             "__exit__"):
                        continue
                    with self.subTest(name=f"{name}.{attr}"):
                        self.assertTrue(getattr(value, "__doc__", None))


VAR = contextvars.ContextVar("VAR", default="unset")


class ContextTest(unittest.TestCase):
    """Each task runs in its own copy of the spawner's context, as asyncio
    tasks do."""

    def test_tasks_do_not_share_context_variables(self):
        seen = {}

        async def worker(name):
            seen[name, "start"] = VAR.get()
            VAR.set(name)
            await tf.yield_now()  # the others set theirs meanwhile
            await tf.sleep(0.001)
            seen[name, "end"] = VAR.get()

        async def main():
            VAR.set("main")
            handles = [tf.spawn(worker(n)) for n in ("a", "b", "c")]
            for h in handles:
                await h
            return VAR.get()

        VAR.set("caller")
        self.assertEqual(tf.run(main()), "main")
        self.assertEqual(VAR.get(), "caller")
        for n in ("a", "b", "c"):
            self.assertEqual(seen[n, "start"], "main")  # copied at spawn
            self.assertEqual(seen[n, "end"], n)

    def test_executor_spawn_copies_the_callers_context(self):
        async def worker():
            before = VAR.get()
            VAR.set("worker")
            return before

        ex = tf.Executor()
        try:
            token = VAR.set("first")
            h1 = ex.spawn(worker())
            VAR.set("second")
            h2 = ex.spawn(worker())
            ex.run()
            self.assertEqual((h1.result(), h2.result()), ("first", "second"))
            self.assertEqual(VAR.get(), "second")
            VAR.reset(token)
        finally:
            ex.close()

    def test_finally_of_a_closed_task_sees_its_context(self):
        seen = []

        async def background():
            VAR.set("background")
            try:
                await tf.sleep(3600)
            finally:
                seen.append(VAR.get())

        async def main():
            tf.spawn(background())
            await tf.yield_now()

        tf.run(main())
        self.assertEqual(seen, ["background"])


if __name__ == "__main__":
    unittest.main()
