"""The gossip monitor: scores the average model of a network of peers that has no server.

Gossip peers have no global model; what a user wants to see is how good the
average model x̄ = (1/n) Σ x_i is and how far the peers are from agreeing on
it. The monitor collects every peer's model, at round boundaries (D-PSGD
peers report every `report_every` rounds) or by asking each peer for a
snapshot at the start and every `eval_every_s` clock seconds (pairwise
gossip), then records

    consensus   distance = (1/n) Σ_i ‖x_i − x̄‖₂ (floating tensors, float64)
    evaluated   the test accuracy and loss of x̄
    model_updated  version = the round (D-PSGD) or the mean local steps per peer

and applies the run's stopping rule (rounds count as versions). When it fires
it tells the recorder `Done` and every peer `Leave`.
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch

from actors.actor import Actor, handler
from actors.errors import FedActorsError
from actors.protocol import Done, Leave, PeerReport, Snapshot
from actors.statedict import StateDict, is_floating, mean
from actors.training import Evaluator, StopConfig


def consensus_distance(models: list[StateDict]) -> tuple[StateDict, float]:
    """The average model and the mean L2 distance of each model to it.

    The distance is taken in float64 from a float64 average, so that models
    that agree bit for bit are at distance exactly 0.
    """
    keys = [k for k, t in models[0].items() if is_floating(t)]
    average64 = {k: torch.stack([m[k].double() for m in models]).mean(0) for k in keys}
    distances = [
        math.sqrt(math.fsum(float(torch.sum((m[k].double() - average64[k]) ** 2)) for k in keys))
        for m in models
    ]
    return mean(models), math.fsum(distances) / len(models)


class GossipMonitor(Actor):
    """Scores the peers' average model (see the module docstring).

    Args:
        peers: every peer of the graph.
        evaluator: scores a model on the held-out test set.
        stop: the run's stopping rule.
        recorder: actor told `Done` (None: nobody).
        poll_every_s: poll the peers this often (None: wait for their reports).
    """

    def __init__(
        self,
        peers: list[str],
        evaluator: Evaluator,
        stop: StopConfig,
        recorder: str | None = None,
        poll_every_s: float | None = None,
    ) -> None:
        self.peers = sorted(peers)
        self.evaluator = evaluator
        self.stop_rule = stop
        self.recorder = recorder
        self.poll_every_s = poll_every_s
        self.done = False
        self.first_distance: float | None = None
        self._reports: dict[int, dict[str, StateDict]] = defaultdict(dict)
        self._started_at = 0.0

    async def on_start(self) -> None:
        self._started_at = self.clock.now()
        if self.poll_every_s is not None:
            self.start_task(self._poll(), "poll")

    @handler
    async def on_report(self, msg: PeerReport, sender: str) -> None:
        if self.done or sender not in self.peers:
            return
        reports = self._reports[msg.round]
        reports[sender] = msg.weights
        if len(reports) == len(self.peers):
            del self._reports[msg.round]
            await self._score(msg.round, [reports[p] for p in self.peers])

    async def _poll(self) -> None:
        while not self.done:
            snapshots: list[PeerReport] = []
            for peer in self.peers:
                try:
                    reply = await self.ask(peer, Snapshot())
                except FedActorsError as exc:
                    self.log.warning("snapshot_failed", peer=peer, reason=str(exc))
                    continue
                if isinstance(reply, PeerReport):
                    snapshots.append(reply)
            if snapshots and not self.done:
                version = sum(s.steps for s in snapshots) // len(snapshots)
                await self._score(version, [s.weights for s in snapshots])
            await self.clock.sleep(self.poll_every_s or 0.0)

    async def _score(self, version: int, models: list[StateDict]) -> None:
        average, distance = consensus_distance(models)
        if self.first_distance is None:
            self.first_distance = distance
        relative = distance / self.first_distance if self.first_distance else 0.0
        self.metrics.record("consensus", version=version, distance=distance, relative=relative)
        result = await self.compute(self.evaluator, average)
        if version > 0:
            self.metrics.record("model_updated", version=version, contributors=len(models))
        self.metrics.record("evaluated", version=version, accuracy=result.accuracy, loss=result.loss)
        reason = self.stop_rule.reason(version, self.clock.now() - self._started_at, result.accuracy)
        if reason is not None:
            await self._finish(reason, version)

    async def _finish(self, reason: str, version: int) -> None:
        self.done = True
        self.metrics.record("run_finished", version=version, reason=reason, dropped=0)
        if self.recorder is not None:
            await self.send(self.recorder, Done(reason, version))
        for peer in self.peers:
            try:
                await self.send(peer, Leave(reason))
            except FedActorsError as exc:
                self.log.debug("leave_not_sent", peer=peer, reason=str(exc))
