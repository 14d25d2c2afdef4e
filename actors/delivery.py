"""Delayed delivery: messages that arrive after a modelled link delay.

A node given a `LinkModel` does not hand a message over at once: it asks the
model when the message arrives (latency plus encoded bytes over bandwidth,
queued behind what the link is already carrying) and a `DelayLine` delivers
it then. Messages due at the same time arrive in the order they were sent.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Protocol

from actors.clock import Clock

Deliver = Callable[[], Awaitable[None]]


class LinkModel(Protocol):
    """When a message sent now arrives; must draw randomness only from its own seeded generators."""

    def arrival(self, sender: str, receiver: str, nbytes: int, now: float) -> float:
        """Clock time at which `nbytes` sent from `sender` to `receiver` at `now` arrive."""
        ...


class DelayLine:
    """Runs deliveries at their due clock time, in (time, send order)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Deliver]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def schedule(self, at: float, deliver: Deliver) -> None:
        heapq.heappush(self._heap, (at, next(self._order), deliver))
        self._changed.set()

    def pending(self) -> int:
        return len(self._heap)

    async def run(self) -> None:
        """Deliver forever (the node cancels this task when it stops)."""
        while True:
            self._changed.clear()
            if not self._heap:
                await self._changed.wait()
                continue
            wait_s = self._heap[0][0] - self._clock.now()
            if wait_s > 0:
                try:
                    async with self._clock.timeout(wait_s):
                        await self._changed.wait()  # an earlier delivery may be scheduled meanwhile
                except TimeoutError:
                    pass
                continue
            _, _, deliver = heapq.heappop(self._heap)
            await deliver()
