"""The child half of a scheduler: it joins its own parent and takes tasks from it.

A scheduler is a parent to its group (it is a `ServerActor`) and a client to
its own parent. It joins the parent once `group_size` of its children have
joined, announcing their total sample count, so its parent weighs it by the
data beneath it. It leaves, and tells its group to leave, when the parent says
the run is over.

With heartbeats its one `Liveness` watches both ways: children (as any
server does) and its parent. A lost parent is replaced by the next fallback,
joined at once with the samples of the clients it has now (`parent_lost`);
the work of the lost parent's open task is dropped (`parent_lost` hook).
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.actor import handler
from actors.errors import FedActorsError
from actors.liveness import ParentLink
from actors.protocol import Cancel, Join, Leave, Task
from actors.server.base import ServerActor


class Uplink(ServerActor):
    """Mixin for schedulers (see the module docstring); call `init_uplink` in `__init__`."""

    link: ParentLink
    group_size: int
    joined_parent: bool
    _joined_once: bool

    def init_uplink(self, parent: str, group_size: int, fallbacks: Sequence[str] = ()) -> None:
        """Args: parent: the actor this scheduler reports to; group_size: children to
        wait for; fallbacks: parents to join in turn if the parent is lost."""
        self.link = ParentLink(parent, fallbacks)
        self.group_size = group_size
        self.joined_parent = False
        self._joined_once = False

    @property
    def parent(self) -> str:
        return self.link.parent

    async def join_parent_when_ready(self) -> None:
        """Join the parent once `group_size` children have joined (then at once after a re-homing)."""
        if self.joined_parent or (len(self.clients) < self.group_size and not self._joined_once):
            return
        self.joined_parent = self._joined_once = True
        samples = sum(self.clients.values())
        self.metrics.record(
            "scheduler_joined", parent=self.parent, clients=len(self.clients), num_samples=samples
        )
        if self.liveness is not None:
            self.liveness.watch(self.parent)
        try:
            await self.send(self.parent, Join(samples, {"scheduler": True}))
        except FedActorsError as exc:  # unreachable: with heartbeats, tried again when found lost
            self.log.warning("join_not_sent", parent=self.parent, reason=str(exc))

    async def peer_lost(self, peer: str) -> None:
        if peer != self.parent:
            await super().peer_lost(peer)
            return
        self.metrics.record("parent_lost", parent=peer, joins=self.link.lost(peer))
        self.joined_parent = False
        await self.parent_lost()
        await self.join_parent_when_ready()

    async def parent_lost(self) -> None:
        """The parent was lost: drop what was owed to it (override)."""

    async def parent_task(self, task: Task) -> None:
        """A task from the parent (override)."""
        raise NotImplementedError

    @handler
    async def on_task(self, msg: Task, sender: str) -> None:
        if sender != self.parent:
            self.log.warning("task_dropped", sender=sender, reason="not_from_parent")
            return
        if not self.done:
            await self.parent_task(msg)

    @handler
    async def on_cancel(self, msg: Cancel, sender: str) -> None:
        """A scheduler finishes its edge work: its report is dropped as late upstream,
        but its group's rounds have already been paid for and keep the edge model going."""
        self.log.debug("cancel_ignored", task=msg.task_id, sender=sender)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        if sender != self.parent:
            await super().on_leave(msg, sender)
            return
        if self.liveness is not None:
            self.liveness.unwatch(sender)
        await self.finish(msg.reason)
