"""In-memory transport: several nodes in one process, envelopes handed over as objects.

Nothing is encoded (the tensors are shared, so actors treat what they receive
as read-only). Mailboxes are bounded, so a fast sender waits for a slow
receiver exactly as it would on a ZeroMQ high-water mark.
"""

from __future__ import annotations

import asyncio
import dataclasses

from actors.errors import PeerUnreachableError, TransportClosedError
from actors.messages import Envelope
from actors.transport.base import Transport

_CLOSED = object()


class LocalHub:
    """The shared medium of every `LocalTransport` in a process.

    Args:
        capacity: envelopes queued per node before senders wait.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._queues: dict[str, asyncio.Queue[object]] = {}

    def attach(self, node_id: str) -> asyncio.Queue[object]:
        if node_id in self._queues:
            raise ValueError(f"node id {node_id!r} is already attached to this hub")
        queue: asyncio.Queue[object] = asyncio.Queue(self.capacity)
        self._queues[node_id] = queue
        return queue

    def detach(self, node_id: str) -> None:
        queue = self._queues.pop(node_id, None)
        if queue is not None:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_CLOSED)

    def queue_of(self, node_id: str) -> asyncio.Queue[object]:
        try:
            return self._queues[node_id]
        except KeyError:
            raise PeerUnreachableError(node_id, f"local://{node_id}", "no such node on this hub") from None


class LocalTransport(Transport):
    """A node's port on a `LocalHub`."""

    def __init__(self, node_id: str, hub: LocalHub) -> None:
        self.node_id = node_id
        self._hub = hub
        self._queue: asyncio.Queue[object] | None = None

    @property
    def endpoint(self) -> str:
        return f"local://{self.node_id}"

    async def start(self) -> str:
        self._queue = self._hub.attach(self.node_id)
        return self.endpoint

    def add_peer(self, node_id: str, endpoint: str) -> None:
        """Peers are found on the hub by id; nothing to remember."""

    async def send(self, node_id: str, envelope: Envelope) -> None:
        if self._queue is None:
            raise TransportClosedError(f"transport of node {self.node_id!r} is not open")
        await self._hub.queue_of(node_id).put(dataclasses.replace(envelope, origin=self.node_id))

    async def recv(self) -> Envelope:
        if self._queue is None:
            raise TransportClosedError(f"transport of node {self.node_id!r} is not open")
        item = await self._queue.get()
        if item is _CLOSED:
            raise TransportClosedError(f"transport of node {self.node_id!r} was closed")
        assert isinstance(item, Envelope)
        return item

    async def close(self) -> None:
        if self._queue is not None:
            self._hub.detach(self.node_id)
            self._queue = None
