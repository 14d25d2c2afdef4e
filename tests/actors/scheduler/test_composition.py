"""A scheduler has a server for its group and an uplink: it inherits from no server."""

from __future__ import annotations

from typing import Generic

import pytest
import torch

from actors import Actor, Node
from actors.configs.servers import FedBuffConfig
from actors.metrics import ListSink
from actors.scheduler import (
    AsyncEdgeConfig,
    FedAsyncEdge,
    FedBuffEdge,
    HierFavgConfig,
    HierFavgScheduler,
    Scheduler,
)
from actors.scheduler.async_edge import AsyncEdge
from actors.server.base import ServerActor, ServerDeps
from actors.server.fedasync import FedAsyncConfig, FedAsyncServer
from actors.server.fedbuff import FedBuffServer
from actors.server.groups import async_group, rounds_group
from actors.server.rounds import SyncRoundsServer


def model() -> dict[str, torch.Tensor]:
    return {"w": torch.zeros(1, dtype=torch.float64)}


@pytest.mark.parametrize(
    ("cls", "line"),
    [
        (FedAsyncEdge, [FedAsyncEdge, AsyncEdge, Scheduler, Actor, Generic, object]),
        (FedBuffEdge, [FedBuffEdge, AsyncEdge, Scheduler, Actor, Generic, object]),
        (HierFavgScheduler, [HierFavgScheduler, Scheduler, Actor, Generic, object]),
    ],
)
def test_a_scheduler_inherits_from_no_server(cls: type, line: list[type]) -> None:
    assert list(cls.__mro__) == line
    assert not issubclass(cls, ServerActor)


def edge(config: AsyncEdgeConfig, group_size: int = 1) -> FedBuffEdge:
    return FedBuffEdge(config, async_group(config, model(), ServerDeps(None, None)), "server", group_size)


def test_each_scheduler_has_the_group_server_its_config_names_and_owns_it() -> None:
    deps = ServerDeps(None, None)
    on_fedasync, hier = AsyncEdgeConfig(edge=FedAsyncConfig()), HierFavgConfig(kappa1=3)
    fedasync = FedAsyncEdge(on_fedasync, async_group(on_fedasync, model(), deps), "server", 2)
    fedbuff = edge(AsyncEdgeConfig(edge=FedBuffConfig()), 2)
    hierfavg = HierFavgScheduler(hier, rounds_group(hier, model(), deps, 2), "server", 2)

    assert type(fedasync.group) is FedAsyncServer
    assert type(fedbuff.group) is FedBuffServer
    assert type(hierfavg.group) is SyncRoundsServer
    assert hierfavg.group.local_rounds == 3
    assert hierfavg.group.config.min_clients == 2  # the whole group, as `min_clients` is unset
    assert [s.group.owner for s in (fedasync, fedbuff, hierfavg)] == [fedasync, fedbuff, hierfavg]
    assert (hierfavg.uplink.parent, hierfavg.uplink.group_size) == ("server", 2)


def test_the_node_gives_the_group_server_the_schedulers_name_clock_and_metrics() -> None:
    scheduler = edge(AsyncEdgeConfig())

    Node("n", sink=ListSink()).spawn(scheduler, "sched-0")

    group = scheduler.group
    assert isinstance(group, FedBuffServer)
    assert group.name == "sched-0"
    assert (group.clock, group.metrics, group.log) == (scheduler.clock, scheduler.metrics, scheduler.log)
