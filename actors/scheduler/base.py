"""What an aggregating scheduler is: an actor that has a server for its group and an uplink.

The group server (synchronous rounds for HierFAVG, FedAsync or FedBuff for an
asynchronous edge) does everything a server does for the children: joins,
tasks, updates, relays, heartbeats, checkpoints. The scheduler is its `owner`
(`actors.group.GroupOwner`): it sees the group's events first, reports each
group version up instead of evaluating it, and takes the parent's side of the
conversation through its `Uplink`: the parent's tasks, its `Leave` (the run is
over: the group leaves too) and its loss (re-homing).

The group server is made by the node's builder (`actors.server.groups`, called
by `sims.build`) and handed to the scheduler, which uses it through the core's
`actors.group.GroupServer`: a scheduler imports no server, and servers import
no scheduler (`tests/architecture/test_imports.py`).

The node gives the scheduler its name, context, clock, logger and metrics at
`spawn`; the group server gets the same ones, so both act as one actor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from actors.actor import Actor, handler
from actors.group import GroupServer
from actors.protocol import Cancel, Join, Leave, Relayed, Task, Update
from actors.scheduler.uplink import Uplink
from actors.statedict import StateDict

# What the node sets on an actor at `spawn` (the annotated attributes of `Actor`): passed on to the group.
_INJECTED = frozenset(name for name in Actor.__annotations__ if not name.startswith("_"))
G = TypeVar("G", bound=GroupServer)


class Scheduler(Actor, Generic[G]):
    """A parent to its group and a client to its parent (see the module docstring).

    Args:
        group: the server of its group (`actors.server.groups`; the scheduler becomes its owner).
        parent: the server or scheduler above it.
        group_size: its children to wait for before joining the parent.
        fallbacks: parents to join in turn if the parent is lost.
    """

    def __init__(self, group: G, parent: str, group_size: int, fallbacks: Sequence[str] = ()) -> None:
        self.group = group
        self.uplink = Uplink(group, parent, group_size, fallbacks)
        group.owner = self

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _INJECTED:
            setattr(self.group, name, value)

    @property
    def parent(self) -> str:
        return self.uplink.parent

    def resume(self) -> bool:
        """Restore the group server (and what the scheduler adds) from the checkpoint
        (`owner_state`); False when there is nothing to restore."""
        return self.group.resume()

    async def on_start(self) -> None:
        await self.group.on_start()

    # -- what the parent asks -----------------------------------------------------

    async def parent_task(self, task: Task) -> None:
        """A task from the parent (override)."""
        raise NotImplementedError

    async def parent_lost(self) -> None:
        """The parent was lost: drop what was owed to it (override)."""

    @handler
    async def on_task(self, msg: Task, sender: str) -> None:
        if sender != self.parent:
            self.log.warning("task_dropped", sender=sender, reason="not_from_parent")
            return
        if not self.group.done:
            await self.parent_task(msg)

    @handler
    async def on_cancel(self, msg: Cancel, sender: str) -> None:
        """A scheduler finishes its edge work: its report is dropped as late upstream,
        but its group's rounds have already been paid for and keep the edge model going."""
        self.log.debug("cancel_ignored", task=msg.task_id, sender=sender)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        """The parent ends the run (the group leaves too); a child's `Leave` goes to the group."""
        if sender != self.parent:
            await self.group.on_leave(msg, sender)
            return
        if self.group.liveness is not None:
            self.group.liveness.unwatch(sender)
        await self.group.finish(msg.reason)

    # -- what the group says ------------------------------------------------------

    @handler
    async def on_join(self, msg: Join, sender: str) -> None:
        await self.group.on_join(msg, sender)

    @handler
    async def on_update(self, msg: Update, sender: str) -> None:
        await self.group.on_update(msg, sender)

    @handler
    async def on_relayed(self, msg: Relayed, sender: str) -> None:
        await self.group.on_relayed(msg, sender)

    # -- the group server's owner (`GroupOwner`) -------------------------------------

    async def child_joined(self, client: str) -> None:
        await self.group.client_joined(client)
        await self.uplink.join_when_ready()

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        await self.group.update_arrived(client, update, weights)

    async def peer_lost(self, peer: str) -> None:
        if peer != self.parent:
            await self.group.peer_lost(peer)
            return
        self.uplink.parent_lost()
        await self.parent_lost()
        await self.uplink.join_when_ready()

    async def version_made(self, contributors: int) -> None:
        """An edge version: recorded as `edge_updated`; no evaluation, no stopping rule."""
        self.metrics.record("edge_updated", version=self.group.version, contributors=contributors)
        await self.group.checkpoint_when_due()

    def owner_state(self) -> dict[str, Any]:
        return {}

    def load_owner_state(self, state: Mapping[str, Any]) -> None:
        pass
