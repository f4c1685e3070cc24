# SPDX-License-Identifier: MIT
"""The async book's timer tutorial (chapters 2.3 and 2.4), in Python.

The book builds a TimerFuture whose shared state holds a "completed" flag and
the waker of the last poll, completed by a thread that sleeps; then an
executor with a spawner runs a task that prints "howdy!", awaits a 2 s
TimerFuture and prints "done!".

Here the same program runs on libtimefuture: the TimerFuture is awaited by
a task the library's executor polls, and the timer is the library's driver
thread instead of one thread per timer. The waker handshake of the book
(clone the waker on each poll, wake it when the time is up) happens inside
the library: timefuture.Timer stores the task's waker when it is polled and
the driver wakes it at the deadline.

Usage: python3 timer_tutorial.py [seconds]   (default 2, as in the book)
"""

import sys

import timefuture


class TimerFuture:
    """A future that completes after ``seconds``, like the book's."""

    def __init__(self, seconds):
        # Armed now, as the book's TimerFuture::new starts its thread.
        self._timer = timefuture.Timer(seconds)

    def __await__(self):
        # Each poll hands the current task's waker to the timer; the first
        # poll after the deadline completes the await.
        return self._timer.__await__()


def new_executor_and_spawner():
    """The book returns (Executor, Spawner); one Executor does both here."""
    executor = timefuture.Executor()
    return executor, executor


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    executor, spawner = new_executor_and_spawner()

    async def task():
        print("howdy!", flush=True)
        # Wait for our timer future to complete after the given time.
        await TimerFuture(seconds)
        print("done!", flush=True)

    # Spawn a task to print before and after waiting on a timer.
    spawner.spawn(task())
    # Run the executor until the task queue is empty: this prints "howdy!",
    # pauses, and then prints "done!".
    executor.run()
    executor.close()


if __name__ == "__main__":
    main()
