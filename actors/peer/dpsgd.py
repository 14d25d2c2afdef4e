"""D-PSGD: decentralized parallel SGD, synchronous by round.

Lian, Zhang, Zhang, Hsieh, Zhang, Liu. "Can Decentralized Algorithms
Outperform Centralized Algorithms? A Case Study for Decentralized Parallel
Stochastic Gradient Descent." NeurIPS 2017, Algorithm 1. Every round each
peer sends its model x_i to its neighbours, does its local work (the
`[client]` settings) starting from that same x_i, and once it holds every
neighbour's model of that round it combines:

    x_i ← Σ_j W_ij · x_j  −  γ ∇f_i(x_i)      (j = i and its neighbours)

where the local work's change, local(x_i) − x_i, stands for −γ ∇f_i(x_i)
(exactly that for one SGD step: `steps = 1`). The gradient is taken at the
peer's own pre-mix model, so training and the exchange overlap.

`algorithm = "atc"` is the adapt-then-combine (diffusion) order instead:
train first, then mix the trained models, x_i ← Σ_j W_ij (x_j − γ∇f_j(x_j))
(Sayed, "Adaptation, Learning, and Optimization over Networks", Foundations
and Trends in Machine Learning 7(4-5), 2014, §7.3). It mixes fresher models
but the exchange waits for every neighbour's training.

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

from actors.actor import Actor, handler
from actors.codec import tree_nbytes
from actors.configs.peers import DpsgdConfig
from actors.errors import FedActorsError
from actors.protocol import Gossip, Leave, PeerReport, Snapshot
from actors.statedict import StateDict, add, sub, weighted_mean
from actors.training import AsFastAsPossible, ClientBehaviour, Trainer, take_planned_time


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
        self.bytes_sent = 0  # tensor bytes of the models sent to neighbours

    async def on_start(self) -> None:
        await self._report()
        self.start_task(self._run(), "dpsgd")

    async def _run(self) -> None:
        while not self.done:
            await self._round(self.round + 1)

    async def _round(self, number: int) -> None:
        sent_before = self.bytes_sent
        if self.config.algorithm == "atc":
            model = await self._mix(await self._local_work(number))
        else:
            # Lian et al.: mix the models as they were before this round's local
            # work, then add that work. Sending `own` after training is the same
            # arithmetic, and gives every node of a real run time to start its peers.
            own = self.params
            change = sub(await self._local_work(number), own)
            model = add(await self._mix(own), change)
        self.params = model
        self.round = number
        sent = self.bytes_sent - sent_before
        self.metrics.record("gossip_round", round=number, neighbours=len(self.mixing) - 1, bytes=sent)
        if number % self.config.report_every == 0:
            await self._report()

    async def _mix(self, model: StateDict) -> StateDict:
        """`gossip_steps` averaging exchanges starting from `model`: W^k applied to the peers' models."""
        for _ in range(self.config.gossip_steps):
            await self._send_model(self.exchanges + 1, model)
            model = await self._average(self.exchanges + 1)
            self.exchanges += 1
        return model

    async def _send_model(self, step: int, model: StateDict) -> None:
        self._inbox[step][self.name] = model
        self.bytes_sent += tree_nbytes(model) * (len(self.mixing) - 1)
        for neighbour in sorted(self.mixing):
            if neighbour != self.name:
                try:
                    await self.send(neighbour, Gossip(step, model))
                except FedActorsError as exc:  # it left: the run is ending, our Leave follows
                    self.log.debug("gossip_not_sent", neighbour=neighbour, reason=type(exc).__name__)

    async def _average(self, step: int) -> StateDict:
        """Gossip step `step`: wait for every neighbour's model, return Σ_j W_ij x_j."""
        self._complete = asyncio.Event()
        if len(self._inbox[step]) < len(self.mixing):
            await self._complete.wait()
        models = self._inbox.pop(step)
        order = sorted(models)
        return weighted_mean([models[p] for p in order], [self.mixing[p] for p in order])

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
