# SPDX-License-Identifier: MIT
"""Python binding of libtimefuture: timers of one driver thread and a task
executor.

- ``await sleep(s)``, ``await sleep_until(t)`` and ``Timer(s)`` (reset/cancel)
  use the library's timer driver: nanosecond deadlines, never early.
- ``run(coro)`` and ``Executor`` run coroutines as library tasks; ``spawn``
  returns an awaitable Task handle.
- ``async for n in interval(s)`` ticks every ``s`` seconds without drift
  (missed ticks: 'burst', 'delay' or 'skip'); ``async with timeout(s)``
  cancels its block at a deadline and raises TimeoutError, as
  asyncio.timeout() does.
- ``Driver(...)`` is a timer driver of its own, passed as ``driver=``: a
  manual clock that only ``advance()`` moves (deterministic tests), or one the
  host loop advances from its ``fileno()``.
- The same awaitables work inside asyncio.run(): the loop watches the
  library's eventfd, so no Python code runs on the driver thread.

The implementation is the C extension ``timefuture._timefuture`` (the stub
beside it types it), re-exported here, and timeout() in ``_timeout``: a
timer plus task cancellation, composed in Python.
"""

from ._timefuture import (
    EBUSY,
    ECANCELED,
    EEMPTY,
    EFORK,
    EHANDLE,
    EINVAL,
    ENOMEM,
    ERANGE,
    ESHUTDOWN,
    ESTATE,
    ESYS,
    ETHREAD,
    ETIMEDOUT,
    EVERSION,
    CancelledError,
    Driver,
    Error,
    Executor,
    Interval,
    Sleep,
    Task,
    Timer,
    TimerCancelled,
    YieldNow,
    __version__,
    current_task,
    interval,
    monotonic,
    monotonic_ns,
    run,
    sleep,
    sleep_until,
    spawn,
    strerror,
    version_number,
    yield_now,
)
from ._timeout import Timeout, timeout, timeout_at

__all__ = [
    "EBUSY",
    "ECANCELED",
    "EEMPTY",
    "EFORK",
    "EHANDLE",
    "EINVAL",
    "ENOMEM",
    "ERANGE",
    "ESHUTDOWN",
    "ESTATE",
    "ESYS",
    "ETHREAD",
    "ETIMEDOUT",
    "EVERSION",
    "CancelledError",
    "Driver",
    "Error",
    "Executor",
    "Interval",
    "Sleep",
    "Task",
    "Timer",
    "Timeout",
    "TimerCancelled",
    "YieldNow",
    "__version__",
    "current_task",
    "interval",
    "monotonic",
    "monotonic_ns",
    "run",
    "sleep",
    "sleep_until",
    "spawn",
    "strerror",
    "timeout",
    "timeout_at",
    "version_number",
    "yield_now",
]
