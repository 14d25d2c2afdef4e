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
from typing import Any, Literal, Protocol

from actors.protocol import Update
from actors.server.aggregators import AggregatorConfig, build_aggregator
from actors.server.base import ServerActor, ServerDeps
from actors.statedict import StateDict


class RoundsConfig(Protocol):
    """The settings a synchronous-rounds config has (see `FedAvgConfig` for their meaning)."""

    @property
    def clients_per_round(self) -> int | None: ...

    @property
    def fraction(self) -> float | None: ...

    @property
    def min_clients(self) -> int: ...

    @property
    def min_updates(self) -> int: ...

    @property
    def round_deadline_s(self) -> float | None: ...

    @property
    def stragglers(self) -> Literal["drop", "partial"]: ...

    @property
    def aggregator(self) -> AggregatorConfig: ...


class SyncRoundsServer(ServerActor):
    """Runs one synchronous round at a time (see the module docstring).

    Attributes:
        local_rounds: local rounds each task asks of a client (1 for FedAvg).
    """

    local_rounds = 1

    def __init__(self, config: RoundsConfig, initial: StateDict, deps: ServerDeps) -> None:
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
        if len(self.clients) >= self.config.min_clients or self.round > 0:
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
        for late in self._waiting:
            self.in_flight.pop(late, None)  # a late update is now an unknown task: dropped
        if len(self._updates) < self.config.min_updates:
            self.metrics.record("round_failed", round=self.round, updates=len(self._updates))
            return None
        return self._updates

    def mean_delta(self, updates: dict[str, Update]) -> StateDict:
        """The aggregator's combination of the round's deltas, clients in name order,
        each weighted by its sample count; every update is recorded as applied."""
        clients = sorted(updates)
        ordered = [updates[c] for c in clients]
        weights = [float(u.num_samples) for u in ordered]
        delta = self.aggregator.aggregate([u.weights for u in ordered], weights)
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
