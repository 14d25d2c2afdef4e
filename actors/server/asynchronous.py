"""What FedAsync and FedBuff share: clients train without rounds, up to a concurrency limit.

A joining client gets work while fewer than `concurrency` train; a reporting
client (or, under the limit, a random idle one) gets work at once; work whose
task timed out is handed out again; updates staler than `max_staleness` are
dropped; the work of a client lost to its heartbeats goes to an idle one.
Subclasses decide only what an accepted update does (`apply`).
"""

from __future__ import annotations

from typing import ClassVar

from actors.configs.servers import AsyncSettings
from actors.protocol import Update
from actors.server.base import ServerActor
from actors.statedict import StateDict


class AsyncServer(ServerActor):
    """Base of the asynchronous servers (see the module docstring).

    Attributes:
        want_delta: whether clients reply with deltas (FedBuff) or weights (FedAsync).
    """

    want_delta: ClassVar[bool]
    config: AsyncSettings

    async def apply(self, client: str, update: Update, tau: int) -> None:
        """Use an accepted update that is `tau` versions stale."""
        raise NotImplementedError

    async def client_joined(self, client: str) -> None:
        # One that joins again while it holds a task restarted: that task is lost, give it another.
        if client in self.in_flight or self.has_free_slot(self.config.concurrency):
            await self._give_work(client)

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        tau = self.staleness(update)
        if self.config.max_staleness is not None and tau > self.config.max_staleness:
            self.drop(client, update, "too_stale")
        else:
            await self.apply(client, update, tau)
        if not self.done:
            await self._give_work(self.next_client(client, self.config.concurrency))

    async def task_lost(self, client: str) -> None:
        await self._give_work(self.next_client(client, self.config.concurrency))

    async def _give_work(self, client: str | None) -> None:
        if client is not None:
            await self.send_task(client, want_delta=self.want_delta, timeout_s=self.config.task_timeout_s)
