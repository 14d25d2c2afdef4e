"""Synchronous rounds: what FedAvg and a HierFAVG edge scheduler share.

Each round samples clients (seeded), hands them the model, and waits until all
have replied or the round deadline passes. Late updates become unknown tasks
and are dropped; a sampled client lost to its heartbeats is not waited for.
The next round samples from the clients still there. Subclasses decide what
to do with a round's updates.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from actors.configs.servers import RoundSettings
from actors.errors import FedActorsError
from actors.protocol import Cancel, Update
from actors.server.aggregators import build_aggregator
from actors.server.base import ServerActor, ServerDeps
from actors.server.errors import ServerError
from actors.statedict import StateDict


class SyncRoundsServer(ServerActor):
    """Runs one synchronous round at a time (see the module docstring).

    Attributes:
        local_rounds: local rounds each task asks of a client (1 for FedAvg).
    """

    local_rounds = 1

    def __init__(self, config: RoundSettings, initial: StateDict, deps: ServerDeps) -> None:
        super().__init__(initial, deps)
        self.config = config
        self.aggregator = build_aggregator(config.aggregator)
        self.round = 0
        self._enough_clients = asyncio.Event()
        self._waiting: set[str] = set()
        self._updates: dict[str, Update] = {}
        self._all_in = asyncio.Event()

    async def client_joined(self, client: str) -> None:
        if client in self._waiting:  # joined again mid-round: it restarted, its task is lost
            self.in_flight.pop(client, None)
            await self.task_lost(client)
        if len(self.clients) >= (self.config.min_clients or 1) or self.round > 0:
            self._enough_clients.set()

    async def lose_client(self, client: str, reason: str) -> None:
        await super().lose_client(client, reason)
        if not self.clients:  # `min_clients` gates the first round; later ones need anybody
            self._enough_clients.clear()

    async def task_lost(self, client: str) -> None:
        """The round stops waiting for a client that was lost."""
        self._waiting.discard(client)
        if not self._waiting:
            self._all_in.set()

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        if client not in self._waiting:
            self.drop(client, update, "not_in_round")
            return
        self._updates[client] = update
        self._waiting.discard(client)
        if not self._waiting:
            self._all_in.set()

    async def run_round(self) -> dict[str, Update] | None:
        """One round; its updates by client, or None when fewer than `min_updates` came."""
        await self._enough_clients.wait()
        self.round += 1
        sampled = self.sample_clients()
        self._updates, self._waiting, self._all_in = {}, set(sampled), asyncio.Event()
        self.metrics.record("round_started", round=self.round, version=self.version, clients=sampled)
        deadline_s = self.config.round_deadline_s if self.config.stragglers == "partial" else None
        for client in sampled:
            await self.send_task(client, want_delta=True, deadline_s=deadline_s, rounds=self.local_rounds)
        await self._wait_for_updates()
        for late in sorted(self._waiting):
            task_id = self.in_flight.pop(late, None)  # a late update is now an unknown task: dropped
            if self.config.cancel_late and task_id is not None:
                await self._cancel(late, task_id)
        if len(self._updates) < self.config.min_updates:
            self.metrics.record("round_failed", round=self.round, updates=len(self._updates))
            return None
        return self._updates

    async def _cancel(self, client: str, task_id: int) -> None:
        try:
            await self.send_child(client, Cancel(task_id))
        except FedActorsError as exc:  # gone: nothing to stop
            self.log.debug("cancel_not_sent", client=client, reason=str(exc))

    def mean_delta(self, updates: dict[str, Update]) -> StateDict | None:
        """The aggregator's combination of the round's deltas, clients in name order,
        each weighted by its sample count (or all alike: `weighting = "uniform"`);
        every update is recorded as applied.
        None when the aggregator refused them: the round is recorded `round_failed`
        (with the error) and the next one starts, instead of the rounds stopping."""
        clients = sorted(updates)
        ordered = [updates[c] for c in clients]
        uniform = self.config.weighting == "uniform"
        weights = [1.0 if uniform else float(u.num_samples) for u in ordered]
        try:
            delta = self.aggregator.aggregate([u.weights for u in ordered], weights)
        except ServerError as exc:
            self.metrics.record(
                "round_failed", round=self.round, updates=len(updates), reason=f"{type(exc).__name__}: {exc}"
            )
            return None
        for client, update in zip(clients, ordered, strict=True):
            self.record_applied(client, update, self.staleness(update), round=self.round)
        return delta

    def sample_clients(self) -> list[str]:
        """This round's clients: a seeded sample of the joined clients, in name order."""
        joined = sorted(self.clients)
        if self.config.clients_per_round is not None:
            count = self.config.clients_per_round
        elif self.config.fraction is not None:
            count = math.ceil(self.config.fraction * len(joined))
        else:
            count = len(joined)
        return sorted(self.rng.sample(joined, min(count, len(joined))))

    def state(self) -> dict[str, Any]:
        return {**super().state(), "round": self.round}

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        self.round = int(state["round"])

    async def _wait_for_updates(self) -> None:
        deadline: AbstractAsyncContextManager[object] = (
            self.clock.timeout(self.config.round_deadline_s)
            if self.config.round_deadline_s
            else nullcontext()
        )
        try:
            async with deadline:
                await self._all_in.wait()
        except TimeoutError:
            self.metrics.record("round_deadline", round=self.round, missing=sorted(self._waiting))
