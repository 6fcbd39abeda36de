"""The time a question spends waiting, kept apart from the time its stages work.

Many questions share one event loop, the API's request slots and rate limits, the validation workers and the
write threads, so a stage's wall time includes its turn in those queues: that part grows with the length of the
queue, not with the stage's work. Each stage opens a `WaitClock` (`wait_clock()`); the places that queue report
to the clock of the question they serve, found through a context variable. Every question runs in its own task,
and the tasks a question starts (its concurrent API calls) copy its context, so each clock hears only its own
question's waits.

- The rate limiter: the time a request waits for a slot and for the buckets' budget.
- CPU-bound steps (loading a question, validation, building an export, writes), whether run on the event loop
  (`cpu_bound`), in a thread (`in_thread`) or in a validation worker: their work is the CPU time they used. The
  rest of their time is waiting: queued for the thread or worker, then for a core or the interpreter lock (which
  the loop holds while it works for other questions), for the disk (a read, a flush), for the loop to take the
  result back.
- Not measured apart, so in the work with an API call's latency: the time a question's coroutine, ready to go on,
  waits for the event loop between steps, and the SDK's back-off before it retries a refused or failed request.

A question's concurrent calls often queue at the same time. Their waits count once: the clock counts the time
during which at least one of them is queued, so a stage's wait never exceeds its wall time.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class WaitClock:
    """Seconds waited by one question in one stage (the event loop's thread only: no locking)."""

    __slots__ = ("seconds", "_queued", "_since")

    def __init__(self) -> None:
        self.seconds = 0.0
        self._queued = 0  # waits in progress
        self._since = 0.0  # when the current stretch of waiting began

    def begin(self) -> None:
        if not self._queued:
            self._since = time.perf_counter()
        self._queued += 1

    def end(self) -> None:
        self._queued -= 1
        if not self._queued:
            self.seconds += time.perf_counter() - self._since


_current: contextvars.ContextVar[WaitClock | None] = contextvars.ContextVar("mksap_wait_clock", default=None)


@contextmanager
def wait_clock() -> Iterator[WaitClock]:
    """A fresh clock for the code inside, and the tasks it starts."""
    clock = WaitClock()
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


@contextmanager
def waiting() -> Iterator[None]:
    """Counts the time inside as waiting (nothing is counted outside any clock)."""
    clock = _current.get()
    if clock is None:
        yield
        return
    clock.begin()
    try:
        yield
    finally:
        clock.end()


def add_wait(seconds: float) -> None:
    """Counts a wait measured afterwards: a job's time in an executor less the CPU time it used. Only for a wait
    that no other wait of the same question overlaps (one job at a time), which `waiting()` would count once."""
    clock = _current.get()
    if clock is not None and seconds > 0:
        clock.seconds += seconds


def _cpu_timed(function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[float, T]:
    started = time.thread_time()
    result = function(*args, **kwargs)
    return time.thread_time() - started, result


def cpu_bound(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)`, CPU work run here: the CPU time it used is the stage's work, the rest of its
    time (waiting for a core, the interpreter lock or the disk) is waiting."""
    started = time.perf_counter()
    cpu_seconds, result = _cpu_timed(function, args, kwargs)
    add_wait(time.perf_counter() - started - cpu_seconds)
    return result


async def in_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`asyncio.to_thread`, counted as `cpu_bound` counts, the call's queue for a free thread and the loop's return
    to its result included in the wait."""
    started = time.perf_counter()
    cpu_seconds, result = await asyncio.to_thread(_cpu_timed, function, args, kwargs)
    add_wait(time.perf_counter() - started - cpu_seconds)
    return result
