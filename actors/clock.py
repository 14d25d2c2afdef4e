"""Clocks: where actors get the time and how they wait.

Actors never call `time.monotonic()` or `asyncio.sleep()`; they use the clock
their node injects. `WallClock` runs on real time, optionally compressed by a
`time_scale` (a simulated 10 s wait takes 1 s at scale 0.1). The simulation's
virtual clock implements the same interface on an event loop whose time jumps
to the next timer whenever every actor is idle, so waiting costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager


class Clock(ABC):
    """Time as actors see it, in float seconds since the clock's start."""

    @abstractmethod
    def now(self) -> float:
        """Seconds since the clock started (simulated seconds under a time scale)."""

    @abstractmethod
    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""

    @abstractmethod
    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """Context manager that raises `TimeoutError` after `seconds` of clock time."""

    def wall(self) -> float:
        """Real seconds since the epoch, for logs; never for logic."""
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        """Wait until `now()` reaches `deadline` (returns at once if it has)."""
        await self.sleep(max(0.0, deadline - self.now()))


class LoopClock(Clock):
    """A clock on the running event loop's time, scaled.

    The loop's own time is real for `WallClock`; the simulation runs actors on
    a loop whose time is virtual and uses this same class, so asyncio's
    timeouts and this clock always agree.
    """

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        self._origin: float | None = None

    def _loop_now(self) -> float:
        loop = asyncio.get_running_loop()
        if self._origin is None:
            self._origin = loop.time()
        return loop.time() - self._origin

    def now(self) -> float:
        return self._loop_now() / self.time_scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) * self.time_scale)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(max(0.0, seconds) * self.time_scale)


class WallClock(LoopClock):
    """Real time (the default for nodes in separate processes)."""
