"""Asynchronous pairwise gossip: push-pull averaging with a random neighbour, no rounds.

Boyd, Ghosh, Prabhakar, Shah. "Randomized Gossip Algorithms." IEEE Trans.
Inf. Theory 2006, with local SGD between exchanges. Each peer repeats, at its
own pace: local work, then an exchange with a neighbour drawn from its own
seeded generator:

    i sends x_i (ask)       j sets x_j ← (x_i + x_j)/2 and replies with its old x_j
    i gets x_j              i sets x_i ← (x_i + x_j)/2

both computed as the same float expression of the same two models (asker's
first), so a completed exchange leaves the two peers at the same bits: the
average of the two models as they were when the exchange was agreed.

A peer is busy from the moment it asks until its exchange ends (reply,
refusal or timeout). A busy peer *refuses* an exchange asked of it: it
answers `Ack` instead of a model and changes nothing, and the asker records
`gossip_refused` and goes back to local work. Deferring instead would
deadlock two peers that ask each other at the same instant (each waiting for
the other's answer); refusing keeps every exchange between two models that
nobody else changes meanwhile, so the pair's sum is unchanged and nothing
waits longer than `exchange_timeout_s`. Local training that finishes during
an exchange adds its own change (trained − base) to the averaged model.

A neighbour that does not answer within `exchange_timeout_s` is skipped for
this step (if it did average and only its reply was lost, the pair's sum
changes: the one case a lossy link can break).
"""

from __future__ import annotations

import random

from actors.actor import Actor, handler
from actors.codec import tree_nbytes
from actors.configs.peers import PairwiseConfig
from actors.errors import FedActorsError
from actors.messages import Ack
from actors.protocol import Leave, PeerReport, PushPull, Snapshot
from actors.statedict import StateDict, add, sub, weighted_mean
from actors.training import AsFastAsPossible, ClientBehaviour, Trainer, take_planned_time


def pair_average(asker: StateDict, answerer: StateDict) -> StateDict:
    """(x_asker + x_answerer) / 2, the one expression both sides of an exchange compute."""
    return weighted_mean([asker, answerer], [1.0, 1.0])


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
        self.busy = False

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
        self.busy = True
        sent = self.params
        try:
            reply = await self.ask(neighbour, PushPull(sent), self.config.exchange_timeout_s)
        except FedActorsError as exc:
            self.metrics.record("gossip_failed", neighbour=neighbour, reason=type(exc).__name__)
            return
        finally:
            self.busy = False
        if isinstance(reply, Ack):
            self.metrics.record("gossip_refused", neighbour=neighbour, step=self.steps)
        elif isinstance(reply, PushPull):
            self.params = pair_average(self.params, reply.weights)
            self.exchanges += 1
            moved = tree_nbytes(sent) + tree_nbytes(reply.weights)  # pushed and pulled
            self.metrics.record("gossip_exchanged", neighbour=neighbour, step=self.steps, bytes=moved)
        else:
            self.log.warning("gossip_dropped", neighbour=neighbour, reason=f"reply {reply.kind}")

    @handler
    async def on_push_pull(self, msg: PushPull, sender: str) -> PushPull | None:
        if sender not in self.neighbours:
            self.log.warning("gossip_dropped", sender=sender, reason="not_a_neighbour")
            return None
        if self.busy:
            self.log.debug("gossip_refused_busy", sender=sender)
            return None
        mine = self.params
        self.params = pair_average(msg.weights, mine)
        return PushPull(mine)

    @handler
    async def on_snapshot(self, msg: Snapshot, sender: str) -> PeerReport:
        return PeerReport(self.steps, self.steps, self.params)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        self.log.debug("peer_left", reason=msg.reason, steps=self.steps)
        self.stop()
