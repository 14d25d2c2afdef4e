"""The child half of a scheduler: it joins its own parent and re-homes when the parent is lost.

A scheduler is a parent to its group (it has a server for it) and a client to
its own parent (it has an `Uplink`). It joins the parent once `group_size` of
its children have joined, announcing their total sample count, so its parent
weighs it by the data beneath it.

With heartbeats the group server's one `Liveness` watches both ways: the
children, and the parent (watched from the join on). A lost parent is replaced
by the next fallback (`parent_lost` in the event log), joined at once with the
samples of the clients the group has now.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.errors import FedActorsError
from actors.group import GroupServer
from actors.liveness import ParentLink
from actors.protocol import Join


class Uplink:
    """A scheduler's link to its parent (see the module docstring).

    Args:
        group: the server of the scheduler's group (whose clients, events and
            heartbeats the link uses).
        parent: the actor the scheduler reports to.
        group_size: children to wait for before joining it.
        fallbacks: parents to join in turn if the parent is lost.
    """

    def __init__(
        self, group: GroupServer, parent: str, group_size: int, fallbacks: Sequence[str] = ()
    ) -> None:
        self.group = group
        self.link = ParentLink(parent, fallbacks)
        self.group_size = group_size
        self.joined_parent = False
        self._joined_once = False

    @property
    def parent(self) -> str:
        return self.link.parent

    async def join_when_ready(self) -> None:
        """Join the parent once `group_size` children have joined (then at once after a re-homing)."""
        group = self.group
        if self.joined_parent or (len(group.clients) < self.group_size and not self._joined_once):
            return
        self.joined_parent = self._joined_once = True
        samples = sum(group.clients.values())
        group.metrics.record(
            "scheduler_joined", parent=self.parent, clients=len(group.clients), num_samples=samples
        )
        if group.liveness is not None:
            group.liveness.watch(self.parent)
        try:
            await group.send(self.parent, Join(samples, {"scheduler": True}))
        except FedActorsError as exc:  # unreachable: with heartbeats, tried again when found lost
            group.log.warning("join_not_sent", parent=self.parent, reason=str(exc))

    def parent_lost(self) -> None:
        """The parent fell silent: the next fallback is the parent now, not joined yet."""
        lost = self.parent
        self.group.metrics.record("parent_lost", parent=lost, joins=self.link.lost(lost))
        self.joined_parent = False
