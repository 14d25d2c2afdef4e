"""D-PSGD: decentralized parallel SGD, synchronous by round.

Lian, Zhang, Zhang, Hsieh, Zhang, Liu. "Can Decentralized Algorithms
Outperform Centralized Algorithms? A Case Study for Decentralized Parallel
Stochastic Gradient Descent." NeurIPS 2017. Every round each peer does its
local work (the `[client]` settings), sends the result to its neighbours, and
once it holds every neighbour's model of that round it takes the weighted
average with its row of the mixing matrix:

    x_i ← Σ_j W_ij · x_j^(local)      (j = i and its neighbours)

With `gossip_steps = k > 1` the averaging is repeated k times per round
(x ← W^k x: multiple consensus steps, Berahas et al. 2019), which shrinks the
peers' disagreement by λ₂(W)^k per round instead of λ₂(W) — what a sparse
graph such as a ring (λ₂ ≈ 0.87 for 10 peers) needs to reach tight consensus
with several local steps per round.

Messages carry the gossip step they belong to (round × k + exchange); a
neighbour may be one step ahead, and its model waits in the inbox for it.
Every `report_every` rounds the peer reports its model to the run's monitor,
which scores the average model.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.actor import Actor, handler
from actors.client.behaviour import AsFastAsPossible, ClientBehaviour, take_planned_time
from actors.client.trainer import Trainer
from actors.codec import tree_nbytes
from actors.errors import ActorNotFoundError
from actors.protocol import Gossip, Leave, PeerReport, Snapshot
from actors.statedict import StateDict, weighted_mean


class DpsgdConfig(BaseModel):
    """D-PSGD's settings.

    Attributes:
        report_every: rounds between reports to the monitor (its evaluation period).
        gossip_steps: averaging exchanges with the neighbours per round.
        init: `independent`: each peer draws its own initial model (consensus
            starts far apart); `same`: every peer starts from the same model.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["dpsgd"] = "dpsgd"
    report_every: int = Field(default=1, gt=0)
    gossip_steps: int = Field(default=1, gt=0)
    init: Literal["independent", "same"] = "independent"


class DpsgdPeer(Actor):
    """A D-PSGD peer (see the module docstring).

    Args:
        trainer: its local data and training settings.
        mixing: its row of the mixing matrix: weight per peer, itself included.
        initial: its model at round 0.
        monitor: the actor it reports to (None: nobody).
        behaviour: compute time and availability (a dropped task: the peer
            mixes its untrained model that round, so its neighbours never wait forever).
    """

    def __init__(
        self,
        config: DpsgdConfig,
        trainer: Trainer,
        mixing: dict[str, float],
        initial: StateDict,
        monitor: str | None = None,
        behaviour: ClientBehaviour | None = None,
    ) -> None:
        self.config = config
        self.trainer = trainer
        self.mixing = mixing
        self.params = initial
        self.monitor = monitor
        self.behaviour: ClientBehaviour = behaviour or AsFastAsPossible()
        self.round = 0
        self.steps = 0
        self.exchanges = 0  # gossip steps done
        self.done = False
        self._inbox: dict[int, dict[str, StateDict]] = defaultdict(dict)
        self._complete = asyncio.Event()

    async def on_start(self) -> None:
        await self._report()
        self.start_task(self._run(), "dpsgd")

    async def _run(self) -> None:
        while not self.done:
            await self._round(self.round + 1)

    async def _round(self, number: int) -> None:
        model = await self._local_work(number)
        sent = 0
        for _ in range(self.config.gossip_steps):
            sent += tree_nbytes(model) * (len(self.mixing) - 1)
            model = await self._average(self.exchanges + 1, model)
            self.exchanges += 1
        self.params = model
        self.round = number
        self.metrics.record("gossip_round", round=number, neighbours=len(self.mixing) - 1, bytes=sent)
        if number % self.config.report_every == 0:
            await self._report()

    async def _average(self, step: int, model: StateDict) -> StateDict:
        """Gossip step `step`: send `model`, wait for every neighbour's, return Σ_j W_ij x_j."""
        self._inbox[step][self.name] = model
        for neighbour in sorted(self.mixing):
            if neighbour != self.name:
                await self._gossip(neighbour, Gossip(step, model))
        self._complete = asyncio.Event()
        if len(self._inbox[step]) < len(self.mixing):
            await self._complete.wait()
        models = self._inbox.pop(step)
        order = sorted(models)
        return weighted_mean([models[p] for p in order], [self.mixing[p] for p in order])

    async def _gossip(self, neighbour: str, msg: Gossip) -> None:
        try:
            await self.send(neighbour, msg)
        except ActorNotFoundError:
            # A neighbour that already left: the run is ending (the monitor tells
            # every peer to leave, one after the other); this peer's `Leave` follows.
            self.log.debug("gossip_not_sent", peer=neighbour, step=msg.round)

    async def _local_work(self, number: int) -> StateDict:
        started = self.clock.now()
        plan = self.behaviour.plan(started, self.trainer.num_samples, None, None)
        if plan.drop:
            self.metrics.record("task_dropped", round=number, reason=plan.reason)
            return self.params
        trained, result = await self.compute(self.trainer.fit, self.params, plan.epochs)
        await take_planned_time(self.clock, started, plan)
        self.steps += 1
        self.metrics.record("task_trained", round=number, loss=result.mean_loss)
        return trained

    async def _report(self) -> None:
        if self.monitor is not None:
            await self.send(self.monitor, PeerReport(self.round, self.steps, self.params))

    @handler
    async def on_gossip(self, msg: Gossip, sender: str) -> None:
        if sender not in self.mixing or sender == self.name or msg.round <= self.exchanges:
            self.log.warning("gossip_dropped", sender=sender, step=msg.round, at_step=self.exchanges)
            return
        self._inbox[msg.round][sender] = msg.weights
        if len(self._inbox.get(self.exchanges + 1, {})) == len(self.mixing):
            self._complete.set()

    @handler
    async def on_snapshot(self, msg: Snapshot, sender: str) -> PeerReport:
        return PeerReport(self.round, self.steps, self.params)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        self.done = True
        self.log.debug("peer_left", reason=msg.reason, round=self.round)
        self.stop()
