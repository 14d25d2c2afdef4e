"""FedAvg, FedAsync and FedBuff as actors: the model they produce, checked by hand.

Clients are real `TrainerClient` actors on one node with a fake trainer that
returns fixed weights, so every number below can be computed on paper.
Mailboxes are FIFO and compute runs inline, so the order in which updates
arrive (and so each staleness) is fixed: client k's first update is k versions stale.
"""

from __future__ import annotations

import asyncio

import pytest
import torch

from actors import Node
from actors.actor import Actor, handler
from actors.client.trainer_client import TrainerClient
from actors.metrics import ListSink
from actors.protocol import Done
from actors.server.base import ServerDeps
from actors.server.fedasync import FedAsyncConfig, FedAsyncServer
from actors.server.fedavg import FedAvgConfig, FedAvgServer
from actors.server.fedbuff import FedBuffConfig, FedBuffServer
from actors.server.stop import StopConfig
from actors.statedict import StateDict
from actors.testing import FixedTrainer, running


def weights(value: float) -> StateDict:
    return {"w": torch.tensor([value], dtype=torch.float64)}


class DoneWatcher(Actor):
    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.msg: Done | None = None

    @handler
    async def on_done(self, msg: Done, sender: str) -> None:
        self.msg = msg
        self.done.set()


async def run_star(server_factory, trainers: list[FixedTrainer], max_versions: int):  # type: ignore[no-untyped-def]
    sink = ListSink()
    node = Node("n", sink=sink)
    watcher = node.spawn(DoneWatcher(), "watcher")
    deps = ServerDeps(evaluator=None, stop=StopConfig(max_versions=max_versions), recorder="watcher")
    server = node.spawn(server_factory(deps), "server")
    for i, trainer in enumerate(trainers):
        node.spawn(TrainerClient(trainer, "server"), f"client-{i}")
    async with running(node), asyncio.timeout(10):
        await watcher.done.wait()
    return server, sink


def applied(sink: ListSink) -> list[tuple[str, int]]:
    return [(r["client"], r["staleness"]) for r in sink.of("update_applied")]


async def test_fedavg_round_is_the_sample_weighted_mean_of_client_models() -> None:
    trainers = [FixedTrainer(weights(1.0), 1), FixedTrainer(weights(2.0), 2), FixedTrainer(weights(4.0), 5)]
    config = FedAvgConfig(min_clients=3)

    server, sink = await run_star(lambda deps: FedAvgServer(config, weights(0.0), deps), trainers, 1)

    assert server.params["w"].item() == pytest.approx((1 * 1 + 2 * 2 + 4 * 5) / 8, abs=1e-15)
    assert server.version == 1
    assert sorted(applied(sink)) == [("client-0", 0), ("client-1", 0), ("client-2", 0)]


async def test_fedavg_samples_the_configured_number_of_clients_per_round_with_the_seed() -> None:
    trainers = [FixedTrainer(weights(float(i)), 1) for i in range(6)]
    config = FedAvgConfig(min_clients=6, clients_per_round=2)

    server, sink = await run_star(lambda deps: FedAvgServer(config, weights(0.0), deps), trainers, 3)

    rounds = [r["clients"] for r in sink.of("round_started")]
    assert [len(clients) for clients in rounds] == [2, 2, 2]
    again, _ = await run_star(lambda deps: FedAvgServer(config, weights(0.0), deps), trainers, 3)
    assert server.params["w"].item() == again.params["w"].item()


@pytest.mark.parametrize(
    ("staleness", "expected_s"),
    [
        ({"kind": "constant"}, [1.0, 1.0, 1.0, 1.0]),
        ({"kind": "polynomial", "a": 0.5}, [1.0, 2**-0.5, 3**-0.5, 4**-0.5]),
        # hinge, b = 1: τ = 0 and τ = b keep 1; τ = 2, 3 give 1/(a(τ−b)+1)
        ({"kind": "hinge", "a": 0.5, "b": 1}, [1.0, 1.0, 1 / 1.5, 1 / 2.0]),
    ],
)
async def test_fedasync_mixes_each_update_with_alpha_times_its_staleness_weight(
    staleness: dict[str, object], expected_s: list[float]
) -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    trainers = [FixedTrainer(weights(v), 10) for v in values]
    config = FedAsyncConfig.model_validate({"alpha": 0.5, "staleness": staleness})

    server, sink = await run_star(lambda deps: FedAsyncServer(config, weights(0.0), deps), trainers, 4)

    x = 0.0
    for value, s in zip(values, expected_s, strict=True):
        alpha_t = 0.5 * s
        x = (1 - alpha_t) * x + alpha_t * value
    assert applied(sink) == [("client-0", 0), ("client-1", 1), ("client-2", 2), ("client-3", 3)]
    assert [r["alpha"] for r in sink.of("update_applied")] == pytest.approx([0.5 * s for s in expected_s])
    assert server.params["w"].item() == pytest.approx(x, abs=1e-15)


async def test_fedasync_drops_updates_staler_than_max_staleness_and_counts_them() -> None:
    trainers = [FixedTrainer(weights(v), 10) for v in (1.0, 2.0, 3.0, 4.0)]
    config = FedAsyncConfig(alpha=0.5, max_staleness=1)

    server, sink = await run_star(lambda deps: FedAsyncServer(config, weights(0.0), deps), trainers, 3)

    dropped = [(r["client"], r["reason"]) for r in sink.of("update_dropped")]
    assert applied(sink)[:2] == [("client-0", 0), ("client-1", 1)]
    assert dropped[:2] == [("client-2", "too_stale"), ("client-3", "too_stale")]
    # after the drops, client-0 (re-tasked at version 1) is 1 stale at version 2
    assert applied(sink)[2] == ("client-0", 1)
    x = 0.5 * 1.0
    x = 0.5 * x + 0.5 * 2.0
    x = 0.5 * x + 0.5 * 1.0
    assert server.params["w"].item() == pytest.approx(x, abs=1e-15)


async def test_fedasync_hands_the_reporting_client_the_new_model_at_once() -> None:
    trainer = FixedTrainer(weights(1.0), 10)
    config = FedAsyncConfig(alpha=0.5)

    await run_star(lambda deps: FedAsyncServer(config, weights(0.0), deps), [trainer], 3)

    assert [float(w["w"][0]) for w in trainer.received[:3]] == [0.0, 0.5, 0.75]


async def test_fedbuff_applies_the_staleness_weighted_mean_of_k_deltas_times_server_lr() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    trainers = [FixedTrainer(weights(v), 10) for v in values]
    config = FedBuffConfig.model_validate(
        {
            "buffer_size": 2,
            "staleness": {"kind": "polynomial", "a": 1.0},
            "optimizer": {"kind": "sgd", "lr": 0.5},
        }
    )

    server, sink = await run_star(lambda deps: FedBuffServer(config, weights(0.0), deps), trainers, 2)

    # All four trained from x0 = 0, so Δ_i = value_i. Buffer 1: τ = 0, 0 → s = 1, 1.
    x1 = 0.0 + 0.5 * (1 * 1.0 + 1 * 2.0) / 2
    # Buffer 2: τ = 1, 1 (both based on version 0, server at version 1) → s = 1/2.
    x2 = x1 + 0.5 * (0.5 * 3.0 + 0.5 * 4.0) / 2
    assert applied(sink)[:4] == [("client-0", 0), ("client-1", 0), ("client-2", 1), ("client-3", 1)]
    assert server.params["w"].item() == pytest.approx(x2, abs=1e-15)


async def test_an_update_with_the_wrong_shapes_is_dropped_not_applied() -> None:
    wrong_shape = FixedTrainer({"w": torch.zeros(3, dtype=torch.float64)}, 1)
    good = FixedTrainer(weights(1.0), 10)
    config = FedAsyncConfig(alpha=0.5)

    server, sink = await run_star(
        lambda deps: FedAsyncServer(config, weights(0.0), deps),
        [wrong_shape, good],
        2,
    )

    assert ("client-0", "shape_mismatch") in [(r["client"], r["reason"]) for r in sink.of("update_dropped")]
    assert server.params["w"].item() == pytest.approx(0.75, abs=1e-15)
