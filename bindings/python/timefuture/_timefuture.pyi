# SPDX-License-Identifier: MIT
"""Type stubs of the `timefuture._timefuture` extension module (the Python
binding of libtimefuture, re-exported by the `timefuture` package): timers of
one driver thread and a task executor."""

from types import GenericAlias, TracebackType
from typing import Any, Coroutine, Generator, Generic, Literal, Optional, Type, TypeVar, final, overload

_T = TypeVar("_T")
_R = TypeVar("_R", covariant=True)

__version__: str
"""The library's run-time version string (tf_version_string)."""
version_number: int
"""The library's version as (major << 16) | (minor << 8) | patch."""

EINVAL: int
"""Status code: an argument is invalid."""
EHANDLE: int
"""Status code: a handle is not a live object of the expected type."""
ENOMEM: int
"""Status code: memory could not be allocated."""
ERANGE: int
"""Status code: a duration or deadline is out of range."""
ESHUTDOWN: int
"""Status code: the executor has been shut down."""
ETIMEDOUT: int
"""Status code: the timeout passed before anything became ready."""
EEMPTY: int
"""Status code: no task could ever become ready."""
ECANCELED: int
"""Status code: the timer was cancelled."""
ESTATE: int
"""Status code: the call is not valid in the object's current state."""
EBUSY: int
"""Status code: the resource is in use."""
ETHREAD: int
"""Status code: a thread could not be created."""
ESYS: int
"""Status code: a system call failed."""
EVERSION: int
"""Status code: unsupported ABI version or table size."""
EFORK: int
"""Status code: the object was created before fork()."""

class Error(Exception):
    """A libtimefuture call failed; carries the library's status code."""

    code: int
    """The library's negative status code (compare with EINVAL, ...)."""
    @property
    def strerror(self) -> str:
        """The library's explanation of the code (tf_strerror)."""
    def __init__(self, code: int, context: Optional[str] = ...) -> None:
        """Make the error for status ``code``; ``context`` names the failed
        operation."""

class TimerCancelled(Error):
    """Raised by awaiting a Timer that was cancelled (code ECANCELED)."""

class CancelledError(BaseException):
    """Thrown into a task's coroutine by Task.cancel() and raised by awaiting
    a cancelled task (not asyncio's class)."""

# Not subclassable at run time (the C types lack Py_TPFLAGS_BASETYPE).
@final
class Sleep(Generic[_R]):
    """An awaitable completing at a deadline of the library's timer driver;
    made by sleep() (returning its result), sleep_until(), by awaiting a
    Timer and by Interval.tick() (returning the tick count)."""

    def __class_getitem__(cls, item: Any, /) -> GenericAlias:
        """``Sleep[int]`` at run time: what the await returns."""
    def __await__(self) -> Generator[Any, None, _R]:
        """Wait for the deadline (never early)."""
    def __iter__(self) -> "Sleep[_R]":
        """The awaitable is its own iterator."""
    def __next__(self) -> Any:
        """One step of the wait."""
    def send(self, value: None, /) -> Any:
        """Resume the wait (value must be None)."""
    def throw(self, typ: Any, val: Any = ..., tb: Any = ..., /) -> Any:
        """Abandon the wait and raise the given exception."""
    def close(self) -> None:
        """Abandon the wait."""

@final
class YieldNow:
    """The awaitable returned by yield_now()."""

    def __await__(self) -> Generator[Any, None, None]:
        """Yield to the other ready tasks once."""
    def __iter__(self) -> "YieldNow":
        """The awaitable is its own iterator."""
    def __next__(self) -> Any:
        """One step."""

@final
class Timer:
    """A re-armable timer of the library's driver thread, armed on creation.

    ``await timer`` returns once the deadline has passed, never early. One
    task may await a given Timer at a time."""

    def __init__(self, seconds: float, *, driver: Optional["Driver"] = None) -> None:
        """Arm a timer firing ``seconds`` (>= 0) from now, on the default
        driver or on ``driver``."""
    def __await__(self) -> Generator[Any, None, None]:
        """Wait until the timer fires; raise TimerCancelled if cancelled."""
    def reset(self, seconds: Optional[float] = None) -> None:
        """Re-arm to fire ``seconds`` from now (default: the last duration)."""
    def cancel(self) -> bool:
        """Disarm; an awaiting task gets TimerCancelled. True if it was armed."""
    @property
    def deadline(self) -> float:
        """The deadline in seconds on the clock of the timer's driver
        (monotonic(), or Driver.time())."""
    @property
    def driver(self) -> Optional["Driver"]:
        """The Driver the timer is on, or None for the default driver."""
    @property
    def duration(self) -> float:
        """The duration of the last arming, in seconds."""
    @property
    def cancelled(self) -> bool:
        """True after cancel() until the next reset()."""

@final
class Interval:
    """A periodic timer made by interval(): an async iterator of tick counts.
    Tick k is due at start + k * period on the driver's clock, never early,
    without drift; built on the library's experimental interval API."""

    def __aiter__(self) -> "Interval":
        """The interval is its own async iterator."""
    def __anext__(self) -> Sleep[int]:
        """The next tick (see tick())."""
    def tick(self) -> Sleep[int]:
        """An awaitable of the next tick, returning the ticks it stands for
        (>= 1; always 1 with missed='burst'); StopAsyncIteration once
        cancelled."""
    def reset(self) -> None:
        """Restart the schedule one period from now; re-arms if cancelled."""
    def reset_at(self, deadline: float, /) -> None:
        """Restart the schedule at ``deadline`` (seconds, driver's clock)."""
    def cancel(self) -> bool:
        """Stop; the awaiting task's async for ends. False if already so."""
    def aclose(self) -> Sleep[None]:
        """cancel(), as an awaitable."""
    @property
    def deadline(self) -> Optional[float]:
        """The next tick in seconds on the driver's clock, or None (never)."""
    @property
    def deadline_ns(self) -> Optional[int]:
        """The next tick in nanoseconds, or None (never)."""
    @property
    def period(self) -> float:
        """The period in seconds."""
    @property
    def missed(self) -> str:
        """'burst', 'delay' or 'skip'."""
    @property
    def driver(self) -> Optional["Driver"]:
        """The Driver the interval is on, or None for the default driver."""

@final
class Driver:
    """A timer driver of its own, passed as ``driver=`` to sleep(),
    sleep_until() and Timer(): a manual clock that only advance() moves
    (deterministic tests), boot time, or a host mode that the caller's
    advance() drives instead of a thread. Times are int nanoseconds."""

    def __init__(
        self,
        clock: Literal["monotonic", "boottime", "manual"] = ...,
        mode: Optional[Literal["thread", "host"]] = None,
        *,
        slack: float = ...,
        start: int = ...,
    ) -> None:
        """Make the driver; ``mode`` defaults to 'host' for the manual clock
        and 'thread' otherwise; ``slack`` in seconds; ``start`` is the manual
        clock's initial time in nanoseconds."""
    def now(self) -> int:
        """The driver's clock in nanoseconds."""
    def time(self) -> float:
        """The driver's clock in seconds (the clock of sleep_until)."""
    def next_deadline(self) -> Optional[int]:
        """When the driver next needs to advance (ns), or None."""
    def advance(self, to: Optional[int] = None) -> int:
        """Fire the timers due at ``to`` (ns; None: the clock now); return
        how many fired. Host mode only."""
    def fileno(self) -> int:
        """The descriptor that turns readable when a host-mode driver on a
        real clock needs advance()."""
    def close(self) -> None:
        """Free the driver; Error (EBUSY) while a timer of it is alive."""
    def __enter__(self) -> "Driver":
        """Return the driver."""
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
        /,
    ) -> bool:
        """Close the driver."""
    @property
    def clock(self) -> str:
        """'monotonic', 'boottime' or 'manual'."""
    @property
    def mode(self) -> str:
        """'thread' or 'host'."""
    @property
    def slack(self) -> float:
        """How late the driver may wake, in seconds."""
    @property
    def closed(self) -> bool:
        """True once close() has succeeded."""

@final
class Task(Generic[_T]):
    """The handle of a coroutine spawned on an Executor; await it from
    another timefuture task to get the coroutine's result or exception."""

    def __class_getitem__(cls, item: Any, /) -> GenericAlias:
        """``Task[int]`` at run time, as for asyncio.Task."""
    def __await__(self) -> Generator[Any, None, _T]:
        """Wait for the task and return its result (or raise its exception)."""
    def done(self) -> bool:
        """True once the task has finished, failed or been cancelled."""
    def cancelled(self) -> bool:
        """True if the task ended by cancellation."""
    def result(self) -> _T:
        """The result; raises the task's exception, CancelledError, or
        RuntimeError if still running."""
    def exception(self) -> Optional[BaseException]:
        """The task's exception or None; raises CancelledError if cancelled,
        RuntimeError if still running."""
    def cancel(self) -> bool:
        """Throw CancelledError into the coroutine at its next step; False if
        the task had already finished."""
    def cancelling(self) -> int:
        """cancel() requests not undone by uncancel() (as asyncio.Task)."""
    def uncancel(self) -> int:
        """Undo one cancel() request; return how many are left."""

@final
class Executor:
    """A libtimefuture executor running Python coroutines as external tasks.

    Python tasks run on the thread calling run()/run_until_complete();
    ``threads`` library worker threads poll only C tasks (see capsule())."""

    def __init__(self, threads: int = 0) -> None:
        """Create the executor with 0..1024 worker threads for C tasks."""
    def spawn(self, coro: Coroutine[Any, Any, _T], /) -> Task[_T]:
        """Schedule the coroutine as a task and return its handle."""
    def run(self) -> None:
        """Run tasks until none is left."""
    def run_until_complete(self, aw: "Coroutine[Any, Any, _T] | Task[_T]", /) -> _T:
        """Run until ``aw`` is done; return its result or raise its exception."""
    def close(self) -> None:
        """Close every unfinished task and free the library executor."""
    def capsule(self) -> Any:
        """A PyCapsule 'timefuture.tf_executor' holding the tf_executor*."""
    def __enter__(self) -> "Executor":
        """Return the executor."""
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        """Close the executor."""
    @property
    def pending(self) -> int:
        """Number of spawned tasks that have not finished."""
    @property
    def threads(self) -> int:
        """Number of the library's worker threads."""
    @property
    def closed(self) -> bool:
        """True once close() has been called."""

def run(coro: Coroutine[Any, Any, _T], *, threads: int = 0) -> _T:
    """Run the coroutine on a new Executor and return its result; tasks left
    unfinished are closed. Ctrl-C raises KeyboardInterrupt."""

@overload
def sleep(delay: float, result: None = None, *, driver: Optional[Driver] = None) -> Sleep[None]:
    """An awaitable completing ``delay`` seconds from now, never earlier, on
    the default driver or on ``driver``; <= 0 yields once, math.inf waits
    until cancelled, NaN is a ValueError."""
@overload
def sleep(delay: float, result: _T, *, driver: Optional[Driver] = None) -> Sleep[_T]:
    """As above, returning ``result``."""

def interval(
    period: float,
    *,
    missed: Literal["burst", "delay", "skip"] = ...,
    start: Optional[float] = None,
    driver: Optional[Driver] = None,
) -> Interval:
    """A periodic timer ticking every ``period`` seconds from ``start``
    (seconds on the driver's clock; None: now, a first tick at once), with
    the missed-tick policy ``missed`` (default 'burst', as tokio's)."""

def sleep_until(deadline: float, /, *, driver: Optional[Driver] = None) -> Sleep[None]:
    """An awaitable completing at ``deadline`` on the monotonic() clock, or
    on ``driver``'s clock (Driver.time())."""

def yield_now() -> YieldNow:
    """An awaitable that lets the other ready tasks run once."""

def spawn(coro: Coroutine[Any, Any, _T], /) -> Task[_T]:
    """Spawn the coroutine on the executor running the current task."""

def current_task() -> Optional[Task[Any]]:
    """The Task a timefuture executor is running on this thread, or None."""

def monotonic() -> float:
    """The library's monotonic clock in seconds."""

def monotonic_ns() -> int:
    """The library's monotonic clock in nanoseconds."""

def strerror(code: int, /) -> str:
    """The library's text for a status code (tf_strerror)."""
