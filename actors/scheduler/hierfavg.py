"""HierFAVG: client–edge–cloud hierarchical federated averaging.

Liu, Zhang, Song, Letaief. "Client-Edge-Cloud Hierarchical Federated
Learning." ICC 2020. Each client does κ1 local rounds between edge
aggregations; each edge scheduler aggregates its group κ2 times between
reports to its parent. Here one task from the parent starts κ2 synchronous
edge rounds (FedAvg over the group, weighted by sample count); the scheduler
then replies with the sum of its κ2 aggregated deltas (or the edge model, if
the parent wants weights), weighted upstream by the samples of the clients
that contributed. With one scheduler and κ1 = κ2 = 1 the global model is
exactly FedAvg's over the same clients.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

from actors.configs.schedulers import HierFavgConfig
from actors.group import RoundsGroup
from actors.protocol import Task, Update
from actors.scheduler.base import Scheduler
from actors.statedict import StateDict, add


class _EdgeRounds:
    """What κ2 edge rounds produced: the summed delta, contributors' samples and losses."""

    def __init__(self) -> None:
        self.total: StateDict | None = None
        self.samples: dict[str, int] = {}
        self.loss = math.nan

    def add(self, delta: StateDict, updates: dict[str, Update]) -> None:
        # 0 + x would be exact too, but starting from the first delta keeps κ2 = 1 bit-identical.
        self.total = delta if self.total is None else add(self.total, delta)
        self.samples.update({c: u.num_samples for c, u in updates.items()})
        weights = [u.num_samples for u in updates.values()]
        self.loss = math.fsum(u.loss * n for u, n in zip(updates.values(), weights, strict=True)) / max(
            1, sum(weights)
        )


class HierFavgScheduler(Scheduler[RoundsGroup]):
    """A HierFAVG edge scheduler (see the module docstring): it has a group server of
    synchronous rounds (`actors.server.groups.rounds_group`; κ1 local rounds per task,
    which it sets) and an uplink.

    Args:
        group: the server of its group, built from the same `config`.
        parent: the server or scheduler above it.
        group_size: its children in the graph (`config.min_clients` wins).
        fallbacks: parents to join in turn if the parent is lost.
    """

    def __init__(
        self,
        config: HierFavgConfig,
        group: RoundsGroup,
        parent: str,
        group_size: int,
        fallbacks: Sequence[str] = (),
    ) -> None:
        group.local_rounds = config.kappa1
        super().__init__(group, parent, config.min_clients or group_size, fallbacks)
        self.kappa2 = config.kappa2
        self._tasks: asyncio.Queue[Task] = asyncio.Queue()

    async def on_start(self) -> None:
        await super().on_start()
        self.start_task(self._serve(), "edge-rounds")

    async def parent_task(self, task: Task) -> None:
        self._tasks.put_nowait(task)

    async def parent_lost(self) -> None:
        while not self._tasks.empty():  # the lost parent's queued tasks: nobody waits for them
            self._tasks.get_nowait()

    async def _serve(self) -> None:
        while not self.group.done:
            task = await self._tasks.get()
            await self._edge_rounds(task)

    async def _edge_rounds(self, task: Task) -> None:
        started, parent, group = self.clock.now(), self.parent, self.group
        group.params = task.weights
        result = _EdgeRounds()
        for _ in range(self.kappa2):
            updates = await group.run_round()
            if group.done:
                return
            delta = None if updates is None else group.mean_delta(updates)
            if updates is None or delta is None:
                continue
            result.add(delta, updates)
            await group.new_version(add(group.params, delta), len(updates))  # `version_made`: edge_updated
        if result.total is None or parent != self.parent:
            reason = "no_edge_round_succeeded" if result.total is None else "parent_lost"
            self.metrics.record("edge_report_skipped", task=task.task_id, reason=reason)
            return
        payload = result.total if task.want_delta else group.params
        update = Update(
            task.task_id, task.version, payload, task.want_delta, sum(result.samples.values()),
            result.loss, self.clock.now() - started,
        )  # fmt: skip
        await self.send(self.parent, update)
