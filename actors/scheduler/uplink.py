"""The child half of a scheduler: it joins its own parent and takes tasks from it.

A scheduler is a parent to its group (it is a `ServerActor`) and a client to
its own parent. It joins the parent once `group_size` of its children have
joined, announcing their total sample count, so its parent weighs it by the
data beneath it. It leaves, and tells its group to leave, when the parent says
the run is over.
"""

from __future__ import annotations

from actors.actor import handler
from actors.protocol import Join, Leave, Task
from actors.server.base import ServerActor


class Uplink(ServerActor):
    """Mixin for schedulers (see the module docstring); call `init_uplink` in `__init__`."""

    parent: str
    group_size: int
    joined_parent: bool

    def init_uplink(self, parent: str, group_size: int) -> None:
        """Args: parent: the actor this scheduler reports to; group_size: children to wait for."""
        self.parent = parent
        self.group_size = group_size
        self.joined_parent = False

    async def join_parent_when_ready(self) -> None:
        """Join the parent once `group_size` children have joined (once)."""
        if self.joined_parent or len(self.clients) < self.group_size:
            return
        self.joined_parent = True
        samples = sum(self.clients.values())
        self.metrics.record(
            "scheduler_joined", parent=self.parent, clients=len(self.clients), num_samples=samples
        )
        await self.send(self.parent, Join(samples, {"scheduler": True}))

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
    async def on_leave(self, msg: Leave, sender: str) -> None:
        if sender == self.parent:
            await self.finish(msg.reason)
