"""`Mailbox`: an actor's bounded queue, which takes turns between the nodes messages come from.

Messages from the node's own actors share one lane and keep their order, so a
simulation (one node) sees a plain FIFO. Messages from each other node get a
lane of their own, and the actor is served one lane at a time in turn: a peer
that floods an actor can fill its mailbox, but an honest peer's message then
waits for one turn, not behind a thousand of the flood's. Order within a lane
is kept; the capacity bounds all lanes together, so a full mailbox still makes
senders wait (see `Node`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator

from actors.messages import Envelope


class Mailbox(asyncio.Queue[Envelope]):
    """An `asyncio.Queue` of envelopes that serves their origins in turn (see the module docstring).

    Attributes:
        taken: envelopes handed to the actor so far; the node tells an actor
            that is slow from one that is stuck by whether this moves.
    """

    # asyncio.Queue's documented extension points, as LifoQueue and PriorityQueue use them.
    def _init(self, maxsize: int) -> None:
        self._queue = _Lanes()
        self.taken = 0

    def _put(self, item: Envelope) -> None:
        self._queue.append(item)

    def _get(self) -> Envelope:
        self.taken += 1
        return self._queue.popleft()


class _Lanes:
    """FIFO lanes keyed by origin node, in the order they are due for a turn."""

    def __init__(self) -> None:
        self._lanes: dict[str, deque[Envelope]] = {}  # dicts keep insertion order: the turn order
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Envelope]:
        for lane in self._lanes.values():
            yield from lane

    def append(self, envelope: Envelope) -> None:
        lane = self._lanes.get(envelope.origin)
        if lane is None:
            lane = self._lanes[envelope.origin] = deque()
        lane.append(envelope)
        self._count += 1

    def popleft(self) -> Envelope:
        origin, lane = next(iter(self._lanes.items()))
        envelope = lane.popleft()
        del self._lanes[origin]
        if lane:
            self._lanes[origin] = lane  # back of the line: the next turn is another origin's
        self._count -= 1
        return envelope
