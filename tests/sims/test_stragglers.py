"""Stragglers as FedProx defines them: a per-task draw, partial work in steps, and
late work cancelled when its round closes."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
import torch

from actors import Node
from actors.client.behaviour import WorkPlan
from actors.client.local_sgd import TrainConfig, local_train
from actors.client.trainer_client import TrainerClient
from actors.clock import LoopClock
from actors.metrics import ListSink
from actors.server.base import ServerDeps
from actors.server.fedavg import FedAvgConfig, FedAvgServer
from actors.server.stop import StopConfig
from actors.testing import FixedTrainer
from sims.behaviour import LocalWork, SimClientBehaviour, time_sampler
from sims.virtual_time import run_virtual
from tests.actors.peer.test_pairwise_exchanges import Every
from tests.actors.server.test_servers import DoneWatcher, weights
from topologies.specs.behaviour import AvailabilitySpec, ComputeSpec, ConstantTime


def behaviour(
    compute: ComputeSpec, epochs: int, work: LocalWork | None = None, seed: int = 3
) -> SimClientBehaviour:
    draw = time_sampler(ConstantTime(seconds=10.0), "c")
    return SimClientBehaviour(
        "c", draw, 1.0, epochs, AvailabilitySpec(), np.random.default_rng(seed), compute, work
    )


def test_each_task_is_a_straggler_with_the_configured_probability_replayed_in_numpy() -> None:
    compute = ComputeSpec(time=ConstantTime(seconds=10.0), straggler_probability=0.9, slow_factor=4)
    client = behaviour(compute, epochs=1)

    plans = [client.plan(0.0, 100, None, None) for _ in range(200)]

    replay = np.random.default_rng(3)  # the same generator: one uniform draw per task
    expected = [bool(replay.random() < 0.9) for _ in range(200)]
    assert [p.straggler for p in plans] == expected
    assert [p.compute_s for p in plans] == [40.0 if s else 10.0 for s in expected]
    assert 0.85 < sum(expected) / 200 < 0.95


def test_uniform_straggler_work_does_x_of_e_epochs_in_the_deadline_x_uniform_as_in_fedprox() -> None:
    compute = ComputeSpec(
        time=ConstantTime(seconds=10.0), straggler_probability=1.0, straggler_work="uniform"
    )
    client = behaviour(compute, epochs=20)

    plans = [client.plan(0.0, 100, None, 10.0) for _ in range(50)]

    replay = np.random.default_rng(3)
    xs = []
    for _ in range(50):
        replay.random()  # the straggler draw (always one at probability 1)
        xs.append(int(replay.integers(1, 21)))
    # E = 20 epochs take 10 s; a straggler with x takes 10 · 20 / x and fits x epochs in 10 s.
    assert [p.epochs if p.epochs is not None else 20 for p in plans] == xs
    assert all(p.compute_s == pytest.approx(10.0) for p in plans)


@pytest.mark.parametrize(
    ("epochs", "slow", "plan"),
    [
        (1, 4.0, WorkPlan(compute_s=40.0 / 7, steps=1, straggler=True)),  # ⌊10 · 7 / 40⌋ = 1 of 7 steps
        (2, 4.0, WorkPlan(compute_s=40.0 * 3 / 14, steps=3, straggler=True)),  # ⌊10 · 14 / 40⌋ = 3
        (2, 2.0, WorkPlan(compute_s=10.0, epochs=1, straggler=True)),  # 7 of 14 steps: one whole epoch
        (1, 100.0, WorkPlan(compute_s=1000.0 / 7, steps=1, straggler=True)),  # never less than one step
    ],
)
def test_partial_work_counts_steps_so_a_straggler_returns_what_fits(
    epochs: int, slow: float, plan: WorkPlan
) -> None:
    compute = ComputeSpec(time=ConstantTime(seconds=10.0), straggler_probability=1.0, slow_factor=slow)
    client = behaviour(compute, epochs, LocalWork(batch_size=16))  # 100 samples: 7 steps an epoch

    assert client.plan(0.0, 100, None, 10.0) == plan


def test_local_training_takes_a_number_of_steps_for_partial_work() -> None:
    model = torch.nn.Linear(4, 3)
    x, y = torch.randn(100, 4), torch.randint(0, 3, (100,))

    result = local_train(
        model, x, y, TrainConfig(epochs=2, batch_size=16), torch.Generator().manual_seed(0), steps=3
    )

    assert result.num_steps == 3
    assert math.ceil(100 / 16) == 7


async def _round_with_a_late_client(cancel_late: bool) -> ListSink:
    sink = ListSink()
    node = Node("n", clock=LoopClock(), sink=sink)
    watcher = node.spawn(DoneWatcher(), "watcher")
    deps = ServerDeps(evaluator=None, stop=StopConfig(max_versions=5), recorder="watcher")
    config = FedAvgConfig(round_deadline_s=5.0, cancel_late=cancel_late)
    node.spawn(FedAvgServer(config, weights(0.0), deps), "server")
    node.spawn(TrainerClient(FixedTrainer(weights(1.0), 1), "server", Every(1.0)), "client-0")
    node.spawn(TrainerClient(FixedTrainer(weights(3.0), 1), "server", Every(20.0)), "client-1")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await watcher.done.wait()
        node.stop()
    return sink


def test_a_client_whose_round_closed_without_it_is_told_to_stop_and_is_free_at_once() -> None:
    sink = run_virtual(_round_with_a_late_client(cancel_late=True))

    # Five rounds of 5 s (each waits out the deadline for client-1, which needs 20 s
    # and is stopped at every close).
    assert [(r["actor"], r["task"], r["vt"]) for r in sink.of("task_cancelled")] == [
        ("client-1", 2, 5.0), ("client-1", 4, 10.0), ("client-1", 6, 15.0), ("client-1", 8, 20.0),
        ("client-1", 10, 25.0),
    ]  # fmt: skip
    assert [r["actor"] for r in sink.of("task_trained")] == ["client-0"] * 5
    assert sink.of("update_dropped") == []  # no stale work finished, nothing to drop


def test_without_cancel_the_late_client_finishes_its_stale_work_and_it_is_dropped() -> None:
    sink = run_virtual(_round_with_a_late_client(cancel_late=False))

    assert sink.of("task_cancelled") == []
    # client-1 trains its first task until 20 s, long after its round closed at 5 s.
    assert [
        (r["actor"], r["task"], r["vt"]) for r in sink.of("task_trained") if r["actor"] == "client-1"
    ] == [("client-1", 2, 20.0)]
    assert [(r["client"], r["vt"]) for r in sink.of("update_dropped")] == [("client-1", 20.0)]
