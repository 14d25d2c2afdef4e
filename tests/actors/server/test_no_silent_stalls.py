"""No silent stalls: configs that cannot work are refused at load, an aggregator
failure fails one round, and an unexpected error in a server's own work fails the run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from actors import Node
from actors.client.trainer_client import TrainerClient
from actors.metrics import ListSink
from actors.protocol import Update
from actors.scheduler.hierfavg import HierFavgConfig
from actors.server.base import ServerDeps
from actors.server.errors import TooFewUpdatesError
from actors.server.fedasync import FedAsyncConfig, FedAsyncServer
from actors.server.fedavg import FedAvgConfig, FedAvgServer
from actors.server.stop import StopConfig
from actors.statedict import StateDict, mean
from actors.testing import FixedTrainer
from tests.actors.server.test_servers import run_star, weights
from topologies.errors import TopologyError
from topologies.load import parse_topology

KRUM_STAR = """
name = "krum-star"
mode = "sim"
[graph]
template = "star"
clients = 6
[server]
algorithm = "fedavg"
aggregator = { kind = "krum", byzantine = 1 }
[model]
kind = "mlp"
hidden = [8]
[data]
kind = "digits"
partition = { kind = "iid" }
[stop]
max_rounds = 2
"""


def test_krum_with_min_updates_below_2f_plus_3_is_refused_at_load_naming_the_fields() -> None:
    with pytest.raises(
        TopologyError, match=r"min_updates = 1 .* 'krum' .* 5 updates .*2f \+ 3.*min_updates >= 5"
    ):
        parse_topology(KRUM_STAR)

    assert parse_topology(KRUM_STAR.replace("byzantine = 1 }", "byzantine = 1 }\nmin_updates = 5"))


@pytest.mark.parametrize("config", [FedAvgConfig, HierFavgConfig])
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"clients_per_round": 3, "fraction": 0.5}, "set clients_per_round or fraction, not both"),
        ({"stragglers": "partial"}, "stragglers = 'partial' needs round_deadline_s"),
        (
            {"clients_per_round": 2, "min_updates": 3},
            "min_updates = 3 can never be met with clients_per_round = 2",
        ),
        (
            {"aggregator": {"kind": "multi_krum", "byzantine": 1, "m": 7}, "min_updates": 5},
            r"7 updates.*n >= m = 7",
        ),
    ],
)
def test_fedavg_and_hierfavg_refuse_the_same_inconsistent_round_settings(
    config: type, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**fields)


class FailsOnce:
    """An aggregator that refuses its first call, then takes the plain mean."""

    def __init__(self) -> None:
        self.calls = 0

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        self.calls += 1
        if self.calls == 1:
            raise TooFewUpdatesError("krum", 5, len(updates), "n >= 2f + 3 with byzantine f = 1")
        return mean(list(updates))


async def test_an_aggregator_failure_is_a_recorded_failed_round_and_the_rounds_go_on() -> None:
    def server(deps: ServerDeps) -> FedAvgServer:
        fedavg = FedAvgServer(FedAvgConfig(), weights(0.0), deps)
        fedavg.aggregator = FailsOnce()
        return fedavg

    fedavg, sink = await run_star(
        server, [FixedTrainer(weights(2.0), 1), FixedTrainer(weights(4.0), 1)], max_versions=1
    )

    failed = sink.of("round_failed")
    assert [(r["round"], r["updates"]) for r in failed] == [(1, 2)]
    assert failed[0]["reason"].startswith("TooFewUpdatesError: ")
    assert [r["version"] for r in sink.of("model_updated")] == [1]  # from round 2
    assert fedavg.round == 2
    assert float(fedavg.params["w"][0]) == 3.0  # (2 − 0 + 4 − 0)/2 applied once


class BrokenAsync(FedAsyncServer):
    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        raise RuntimeError("mixing broke")


async def test_an_update_handler_raising_after_freeing_the_slot_fails_the_run_instead_of_stalling() -> None:
    sink = ListSink()
    node = Node("n", sink=sink)
    deps = ServerDeps(evaluator=None, stop=StopConfig(max_versions=5), recorder=None)
    node.spawn(BrokenAsync(FedAsyncConfig(), weights(0.0), deps), "server")
    node.spawn(TrainerClient(FixedTrainer(weights(1.0), 1), "server"), "client-0")

    async with asyncio.timeout(10):
        await node.run()  # returns: the node stopped itself

    assert node.failure == "server:update_arrived: RuntimeError: mixing broke"
