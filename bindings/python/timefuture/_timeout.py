# SPDX-License-Identifier: MIT
"""timeout() and timeout_at(): asyncio.timeout()'s semantics with the
deadline on the library's clock.

A timeout is a timer plus task cancellation, composed here rather than
wrapping the library's tf_timeout (which races one C future): entering
spawns a small watcher task that sleeps until the deadline (sleep_until,
nanosecond deadlines, never early) and then cancels the task running the
``async with`` block. At the exit, a CancelledError becomes TimeoutError
only if this timeout caused it, told apart from anyone else's cancellation
by the task's cancel count (cancelling()/uncancel()), as asyncio does.

It works in tasks of timefuture.run()/Executor (timefuture.Task,
timefuture.CancelledError) and of asyncio (asyncio.Task, its
CancelledError); the watcher is a task of the same kind.
"""

from __future__ import annotations

import enum
import math
from types import TracebackType
from typing import Any, Optional, Type, Union

from . import _timefuture as _tf

__all__ = ["Timeout", "timeout", "timeout_at"]

# The largest deadline sleep_until() takes, in seconds (the library adds
# durations to a 64-bit nanosecond clock); a later one never comes.
_NEVER = 9.2e9


class _State(enum.Enum):
    CREATED = "created"
    ENTERED = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    EXITED = "finished"


def _deadline(when: Optional[float], what: str) -> Optional[float]:
    if when is None:
        return None
    if not isinstance(when, (int, float)) or isinstance(when, bool):
        raise TypeError(f"{what} must be a number of seconds or None, "
                        f"not {type(when).__name__}")
    when = float(when)
    if math.isnan(when):
        raise ValueError(f"{what} must not be NaN")
    return when


class Timeout:
    """An async context manager that cancels the task running its block at
    a deadline and then raises TimeoutError at its exit, like
    asyncio.Timeout. Made by timeout() and timeout_at(); usable once."""

    def __init__(self, when: Optional[float], *,
                 driver: Optional[_tf.Driver] = None) -> None:
        """A timeout at ``when`` (seconds on the clock of ``driver``:
        monotonic(), or Driver.time()); None: no deadline."""
        self._when = _deadline(when, "when")
        self._driver = driver
        self._state = _State.CREATED
        self._task: Any = None
        self._watcher: Any = None
        self._cancelled_error: Type[BaseException] = _tf.CancelledError
        self._cancelling = 0

    def when(self) -> Optional[float]:
        """The deadline in seconds on the driver's clock, or None."""
        return self._when

    def expired(self) -> bool:
        """True once the deadline has passed and the task was cancelled."""
        return self._state in (_State.EXPIRING, _State.EXPIRED)

    def reschedule(self, when: Optional[float]) -> None:
        """Move the deadline to ``when`` (None: no deadline). Only before
        the deadline has passed and before the block has ended."""
        when = _deadline(when, "when")
        if self._state is _State.CREATED:
            self._when = when
            return
        if self._state is not _State.ENTERED:
            raise RuntimeError(
                f"Cannot change state of {self._state.value} Timeout")
        self._when = when
        self._stop_watcher()
        if when is not None and when < _NEVER:
            self._start_watcher(when)

    def __repr__(self) -> str:
        when = "" if self._when is None else f" when={self._when}"
        return f"<timefuture.Timeout [{self._state.value}]{when}>"

    async def __aenter__(self) -> "Timeout":
        if self._state is not _State.CREATED:
            raise RuntimeError("Timeout has already been entered")
        task: Any = _tf.current_task()
        if task is None:
            import asyncio

            try:
                task = asyncio.current_task()
            except RuntimeError:
                task = None
            if task is None:
                raise RuntimeError(
                    "timeout() must be used in a task of timefuture.run(), "
                    "an Executor or an asyncio event loop")
            self._cancelled_error = asyncio.CancelledError
        self._task = task
        self._cancelling = task.cancelling()
        self._state = _State.ENTERED
        self.reschedule(self._when)
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]],
                        exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> Optional[bool]:
        self._stop_watcher()
        if self._state is _State.EXPIRING:
            self._state = _State.EXPIRED
            # Ours only if no other cancellation is pending on the task.
            if (self._task.uncancel() <= self._cancelling
                    and exc_type is not None
                    and issubclass(exc_type, self._cancelled_error)):
                raise TimeoutError from exc
        elif self._state is _State.ENTERED:
            self._state = _State.EXITED
        return None

    def _start_watcher(self, when: float) -> None:
        coro = self._watch(when)
        if self._cancelled_error is _tf.CancelledError:
            self._watcher = _tf.spawn(coro)
        else:
            import asyncio

            self._watcher = asyncio.get_running_loop().create_task(coro)

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    async def _watch(self, when: float) -> None:
        await _tf.sleep_until(max(when, 0.0), driver=self._driver)
        # A watcher replaced by reschedule() was cancelled before it could
        # get here; this one is current.
        self._watcher = None
        if self._state is _State.ENTERED:
            self._state = _State.EXPIRING
            self._task.cancel()


def _now(driver: Optional[_tf.Driver]) -> float:
    return driver.time() if driver is not None else _tf.monotonic()


def timeout(delay: Optional[float], *,
            driver: Optional[_tf.Driver] = None) -> Timeout:
    """``async with timeout(delay):`` cancels the block ``delay`` seconds
    from now (None: never; <= 0: at its first await) and raises
    TimeoutError at its exit, as asyncio.timeout(); the deadline is on the
    library's clock (or ``driver``'s), never early."""
    d: Union[float, None] = _deadline(delay, "delay")
    return Timeout(None if d is None else _now(driver) + d, driver=driver)


def timeout_at(when: Optional[float], *,
               driver: Optional[_tf.Driver] = None) -> Timeout:
    """timeout() at an absolute deadline: seconds on monotonic() (or on
    Driver.time() of ``driver``); None: never."""
    return Timeout(when, driver=driver)
