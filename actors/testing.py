"""Helpers for testing code that runs on fedactors, for users and for fedactors' own tests.

    from actors.testing import FixedTrainer, ListSink, running

    sink = ListSink()
    node = Node("n", sink=sink)
    node.spawn(TrainerClient(FixedTrainer({"w": torch.ones(3)}, num_samples=10), "server"), "c0")
    async with running(node):
        ...                      # the node is started; it is stopped on the way out, even on error
    assert [r["event"] for r in sink.records] == [...]

`running` starts nodes in one `asyncio.TaskGroup`, waits until each has
started, and always stops them; `FixedTrainer` is the fake that structlog's
and Flower's tests would reach for (a trainer that returns the same update for
every task and remembers what it was sent); `ListSink` keeps every event
record. Simulations under virtual time are run with `sims.simulate`: the
actor core does not import the simulation layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from actors.client.local_sgd import Evaluation, TrainResult
from actors.metrics import ListSink
from actors.statedict import StateDict, clone

if TYPE_CHECKING:
    from actors.node import Node


@asynccontextmanager
async def running(*nodes: Node) -> AsyncIterator[None]:
    """Run `nodes` until the block ends: started before it, stopped after it, even when it raises.

    Raises:
        ExceptionGroup: a node's `run` failed (with what the block raised, if anything).
    """
    async with asyncio.TaskGroup() as tg:
        for node in nodes:
            tg.create_task(node.run())
        for node in nodes:
            await node.wait_started()
        try:
            yield
        finally:
            for node in nodes:
                node.stop()


class FixedTrainer:
    """A trainer that returns (a copy of) the same `trained` weights for every task.

    Attributes:
        received: the weights of every task it was given, in order.
    """

    def __init__(self, trained: StateDict, num_samples: int = 10, loss: float = 0.5) -> None:
        self.trained = trained
        self.loss = loss
        self._num_samples = num_samples
        self.received: list[StateDict] = []

    @property
    def num_samples(self) -> int:
        return self._num_samples

    def fit(self, weights: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        """Return `trained` and a result of one step at loss `loss`; remember `weights`."""
        self.received.append(weights)
        return clone(self.trained), TrainResult(self._num_samples, 1, self.loss)

    def evaluate(self, weights: StateDict) -> Evaluation:
        """Loss 0 and accuracy 1 on `num_samples` samples."""
        return Evaluation(0.0, 1.0, self._num_samples)


__all__ = ["FixedTrainer", "ListSink", "running"]
