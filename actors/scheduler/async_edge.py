"""Asynchronous edge: the group runs FedAsync or FedBuff; the edge reports up on its own schedule.

The edge scheduler has a FedAsync or FedBuff server for its group, with an
edge-level version counter, so client staleness is measured against the
edge model (and recorded by the edge), while the parent measures the edge's
staleness against the global model: staleness is tracked per level.

    first task from the parent   adopt its model; hand the group work
    every `push_every` edge versions (from the group's updates; a rebase
    does not count), while a parent task is open
                                 reply with the edge model (or its delta from
                                 the task's weights, if the parent wants deltas)
    next task from the parent    rebase: x_edge ← x_parent + (x_edge − x_pushed),
                                 keeping what the group learned since the push

No update is lost by the rebase: progress made after a push travels up with
the next push. A rebase changes the edge model but is not an edge version: τ
at the edge counts the model updates of the edge's own aggregator only (as
FedAsync's and FedBuff's τ does), so a client is not counted stale for the
parent's progress. Rebases are recorded as their own event, `edge_rebased`
(with `rebases`, the edge's count so far).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actors.configs.schedulers import AsyncEdgeConfig
from actors.group import GroupServer
from actors.protocol import Task, Update
from actors.scheduler.base import Scheduler
from actors.statedict import StateDict, add, checked_model, sub


class AsyncEdge(Scheduler[GroupServer]):
    """An asynchronous edge scheduler (see the module docstring): it has a FedAsync or
    FedBuff server for its group (`actors.server.groups.async_group`) and an uplink.

    Args:
        group: the server of its group, built from the same `config`.
        parent: the server or scheduler above it.
        group_size: its children in the graph (`config.min_clients` wins).
        fallbacks: parents to join in turn if the parent is lost.
    """

    def __init__(
        self,
        config: AsyncEdgeConfig,
        group: GroupServer,
        parent: str,
        group_size: int,
        fallbacks: Sequence[str] = (),
    ) -> None:
        super().__init__(group, parent, config.min_clients or group_size, fallbacks)
        self.push_every = config.push_every
        self._open_task: Task | None = None
        self._pushed: StateDict | None = None
        self._since_push = 0
        self._has_model = False
        self._losses: list[float] = []
        self._task_received_at = 0.0
        self.rebases = 0  # parent models adopted since the first: not edge versions

    async def child_joined(self, client: str) -> None:
        if self._has_model:  # before the parent's first model there is nothing to train
            await self.group.client_joined(client)
        await self.uplink.join_when_ready()

    async def parent_task(self, task: Task) -> None:
        group = self.group
        self._task_received_at = self.clock.now()
        if not self._has_model:
            group.params, self._has_model = task.weights, True
            self.metrics.record("edge_started", parent_version=task.version)
            self._open_task = task
            for client in sorted(group.clients):
                await group.client_joined(client)  # work while the concurrency allows
            return
        assert self._pushed is not None
        group.params = add(task.weights, sub(group.params, self._pushed))
        self.rebases += 1
        self.metrics.record(
            "edge_rebased", version=group.version, parent_version=task.version, rebases=self.rebases
        )
        self._open_task = task
        await self._push_when_due()

    @property
    def _base(self) -> StateDict | None:
        """What the parent's model already holds of this edge: the last push, or
        before any, the model of the task the edge started from."""
        if self._pushed is None and self._open_task is not None:
            started: StateDict = self._open_task.weights
            return started
        return self._pushed

    async def parent_lost(self) -> None:
        # The new parent's first task rebases from the base: what the group learned since is kept.
        self._pushed, self._open_task = self._base, None

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        self._losses.append(update.loss)
        await self.group.update_arrived(client, update, weights)

    async def version_made(self, contributors: int) -> None:
        self._since_push += 1
        await super().version_made(contributors)
        await self._push_when_due()

    def owner_state(self) -> dict[str, Any]:
        edge = {"has_model": self._has_model, "base": self._base, "since_push": self._since_push}
        edge["rebases"] = self.rebases
        return {**edge, "losses": list(self._losses)}

    def load_owner_state(self, state: Mapping[str, Any]) -> None:
        self._has_model, self._since_push = bool(state["has_model"]), int(state["since_push"])
        self.rebases = int(state.get("rebases", 0))
        base = state["base"]
        self._pushed = (
            None if base is None else checked_model(self.group.params, base, "the edge's last push")
        )
        self._losses = [float(loss) for loss in state["losses"]]

    async def _push_when_due(self) -> None:
        task, group = self._open_task, self.group
        if task is None or self._since_push < self.push_every:
            return
        payload = sub(group.params, task.weights) if task.want_delta else group.params
        loss = sum(self._losses) / len(self._losses) if self._losses else 0.0
        update = Update(
            task.task_id, task.version, payload, task.want_delta, sum(group.clients.values()),
            loss, self.clock.now() - self._task_received_at,
        )  # fmt: skip
        self._open_task, self._pushed, self._since_push, self._losses = None, group.params, 0, []
        self.metrics.record("edge_pushed", version=group.version, parent_version=task.version)
        await self.send(self.parent, update)


class FedAsyncEdge(AsyncEdge):
    """An edge scheduler whose group runs FedAsync."""


class FedBuffEdge(AsyncEdge):
    """An edge scheduler whose group runs FedBuff."""
