"""Asynchronous pairwise gossip: push-pull averaging with a random neighbour, no rounds.

Boyd, Ghosh, Prabhakar, Shah. "Randomized Gossip Algorithms." IEEE Trans.
Inf. Theory 2006, with local SGD between exchanges. Each peer repeats, at its
own pace: local work, then an exchange with a neighbour drawn from its own
seeded generator:

    i sends x_i (ask)       j replies with x_j and sets x_j ← x_j + (x_i − x_j)/2
    i gets x_j              i sets   x_i ← x_i + (x_j − x_i^sent)/2

Both moves are written as increments, so that a model changed meanwhile (by
training finishing, or by a third peer's exchange) keeps that change, and the
sum of the pair's models is unchanged by the exchange. A neighbour that does
not answer within `exchange_timeout_s` is skipped for this step.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.actor import Actor, handler
from actors.client.behaviour import AsFastAsPossible, ClientBehaviour, take_planned_time
from actors.client.trainer import Trainer
from actors.codec import tree_nbytes
from actors.errors import FedActorsError
from actors.protocol import Leave, PeerReport, PushPull, Snapshot
from actors.statedict import StateDict, add, add_scaled, sub


class PairwiseConfig(BaseModel):
    """Pairwise gossip's settings.

    Attributes:
        eval_every_s: the monitor scores the average model every this many clock seconds.
        exchange_timeout_s: how long an exchange waits for the neighbour's reply.
        init: `independent` (each peer its own initial model) or `same`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["pairwise"] = "pairwise"
    eval_every_s: float = Field(default=10.0, gt=0)
    exchange_timeout_s: float = Field(default=30.0, gt=0)
    init: Literal["independent", "same"] = "independent"


class PairwisePeer(Actor):
    """A pairwise-gossip peer (see the module docstring).

    Args:
        neighbours: the peers it exchanges with.
        seed: seeds its choice of neighbour.
    """

    def __init__(
        self,
        config: PairwiseConfig,
        trainer: Trainer,
        neighbours: list[str],
        initial: StateDict,
        seed: int,
        behaviour: ClientBehaviour | None = None,
    ) -> None:
        self.config = config
        self.trainer = trainer
        self.neighbours = sorted(neighbours)
        self.params = initial
        self.rng = random.Random(seed)
        self.behaviour: ClientBehaviour = behaviour or AsFastAsPossible()
        self.steps = 0
        self.exchanges = 0

    async def on_start(self) -> None:
        self.start_task(self._run(), "pairwise")

    async def _run(self) -> None:
        while True:
            if await self._local_work():
                await self._exchange(self.rng.choice(self.neighbours))

    async def _local_work(self) -> bool:
        """Train once; False when the behaviour says the peer is away (it then
        waits `exchange_timeout_s` before trying again, exchanging nothing)."""
        started = self.clock.now()
        plan = self.behaviour.plan(started, self.trainer.num_samples, None, None)
        if plan.drop:
            self.metrics.record("task_dropped", step=self.steps, reason=plan.reason)
            await self.clock.sleep(self.config.exchange_timeout_s)
            return False
        base = self.params
        trained, result = await self.compute(self.trainer.fit, base, plan.epochs)
        self.params = add(self.params, sub(trained, base))
        self.steps += 1
        self.metrics.record("task_trained", step=self.steps, loss=result.mean_loss)
        await take_planned_time(self.clock, started, plan)
        return True

    async def _exchange(self, neighbour: str) -> None:
        sent = self.params
        try:
            reply = await self.ask(neighbour, PushPull(sent), self.config.exchange_timeout_s)
        except FedActorsError as exc:
            self.metrics.record("gossip_failed", neighbour=neighbour, reason=type(exc).__name__)
            return
        if not isinstance(reply, PushPull):
            self.log.warning("gossip_dropped", neighbour=neighbour, reason=f"reply {reply.kind}")
            return
        self.params = add_scaled(self.params, sub(reply.weights, sent), 0.5)
        self.exchanges += 1
        moved = tree_nbytes(sent) + tree_nbytes(reply.weights)  # pushed and pulled
        self.metrics.record("gossip_exchanged", neighbour=neighbour, step=self.steps, bytes=moved)

    @handler
    async def on_push_pull(self, msg: PushPull, sender: str) -> PushPull:
        mine = self.params
        if sender in self.neighbours:
            self.params = add_scaled(mine, sub(msg.weights, mine), 0.5)
        else:
            self.log.warning("gossip_dropped", sender=sender, reason="not_a_neighbour")
        return PushPull(mine)

    @handler
    async def on_snapshot(self, msg: Snapshot, sender: str) -> PeerReport:
        return PeerReport(self.steps, self.steps, self.params)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        self.log.debug("peer_left", reason=msg.reason, steps=self.steps)
        self.stop()
