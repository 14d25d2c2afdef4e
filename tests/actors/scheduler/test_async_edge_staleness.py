"""τ at an asynchronous edge counts the edge aggregator's model updates only, not rebases."""

from __future__ import annotations

import torch

from actors import Actor, Node, handler
from actors.metrics import ListSink
from actors.protocol import Task, Update
from actors.scheduler import AsyncEdgeConfig, FedAsyncEdge
from actors.server.base import ServerDeps
from actors.server.fedasync import FedAsyncConfig
from actors.server.groups import async_group


def model(value: float) -> dict[str, torch.Tensor]:
    return {"w": torch.tensor([value], dtype=torch.float64)}


class Parent(Actor):
    """Takes the edge's pushes."""

    @handler
    async def on_update(self, msg: Update, sender: str) -> None:
        pass


def update(base_version: int, value: float) -> Update:
    return Update(1, base_version, model(value), False, 10, 0.5, 1.0)


async def test_a_rebase_on_the_parents_model_is_its_own_event_and_not_an_edge_version() -> None:
    sink = ListSink()
    config = AsyncEdgeConfig(edge=FedAsyncConfig(alpha=0.5), push_every=1)
    edge = FedAsyncEdge(config, async_group(config, model(0.0), ServerDeps(None, None)), "server", 1)
    node = Node("n", sink=sink)
    node.spawn(Parent(), "server")
    node.spawn(edge, "sched-0")
    await edge.parent_task(Task(1, 0, model(10.0), False))  # adopt: x = 10
    await edge.group.apply("client-0", update(0, 14.0), 0)  # x = 12, edge version 1, pushed (push_every 1)

    await edge.parent_task(Task(2, 1, model(20.0), False))  # rebase: x = 20 + (12 − 12) = 20

    assert edge.group.version == 1  # the old edge counted the rebase: version 2
    assert edge.group.staleness(update(1, 0.0)) == 0  # a client that started after version 1 is fresh
    assert edge.group.params["w"].item() == 20.0
    rebased = sink.of("edge_rebased")
    assert [(r["version"], r["parent_version"], r["rebases"]) for r in rebased] == [(1, 1, 1)]
    assert [r["version"] for r in sink.of("edge_updated")] == [1]
