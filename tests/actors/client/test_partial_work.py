"""Partial work: a client fits its whole task, all κ1 local rounds, into the round deadline."""

from __future__ import annotations

import asyncio

import numpy as np
import torch

from actors import Actor, Node, handler
from actors.client.local_sgd import Evaluation, TrainResult
from actors.client.trainer_client import TrainerClient
from actors.clock import LoopClock
from actors.protocol import Join, Task, Update
from actors.statedict import StateDict
from sims.behaviour import SimClientBehaviour, time_sampler
from sims.virtual_time import run_virtual
from topologies.specs.behaviour import AvailabilitySpec, ConstantTime


class CountingTrainer:
    """Adds 1 to every weight per epoch; remembers the epochs each fit was asked for."""

    def __init__(self) -> None:
        self.epochs: list[int | None] = []

    @property
    def num_samples(self) -> int:
        return 10

    def fit(self, weights: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        self.epochs.append(epochs)
        return {k: v + (epochs or 2) for k, v in weights.items()}, TrainResult(10, 1, 0.5)

    def evaluate(self, weights: StateDict) -> Evaluation:
        return Evaluation(0.0, 0.0, 0)


class Parent(Actor):
    """Sends one task on the client's join and keeps the update with its arrival time."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.update: Update | None = None
        self.arrived_at = -1.0
        self.got = asyncio.Event()

    @handler
    async def on_join(self, msg: Join, sender: str) -> None:
        await self.send(sender, self.task)

    @handler
    async def on_update(self, msg: Update, sender: str) -> None:
        self.update, self.arrived_at = msg, self.clock.now()
        self.got.set()


async def _one_task(task: Task, seconds: float, epochs: int) -> tuple[Parent, CountingTrainer]:
    node = Node("n", clock=LoopClock())
    parent = node.spawn(Parent(task), "parent")
    trainer = CountingTrainer()
    behaviour = SimClientBehaviour(
        "c", time_sampler(ConstantTime(seconds=seconds), "c"), 1.0, epochs, AvailabilitySpec(),
        np.random.default_rng(0),
    )  # fmt: skip
    node.spawn(TrainerClient(trainer, "parent", behaviour), "c")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await parent.got.wait()
        node.stop()
    return parent, trainer


def test_kappa1_local_rounds_share_the_deadline_so_the_update_is_on_time() -> None:
    # 2 epochs take 6 s; 3 local rounds, 10 s deadline. Each round gets the rest over
    # the rounds left: 10/3 → 1 epoch (3 s); 7/2 → 1 epoch (3 s); 4/1 → 1 epoch (3 s).
    task = Task(1, 0, {"w": torch.zeros(1)}, want_delta=True, deadline_s=10.0, rounds=3)

    parent, trainer = run_virtual(_one_task(task, seconds=6.0, epochs=2))

    assert trainer.epochs == [1, 1, 1]  # the old client ran 2 epochs thrice: 18 s, dropped as late
    assert parent.update is not None
    assert parent.update.compute_s == 9.0
    assert parent.arrived_at == 9.0
