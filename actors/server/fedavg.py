"""FedAvg: synchronous rounds of federated averaging.

McMahan, Moore, Ramage, Hampson, Agüera y Arcas. "Communication-Efficient
Learning of Deep Networks from Decentralized Data." AISTATS 2017. Each round the
server samples clients (a count or a fraction, seeded), sends them the model,
and waits for their deltas until all have replied or the round deadline passes.
With at least `min_updates` in hand it aggregates the deltas weighted by sample
count (or with a robust aggregator) and applies the server optimizer (SGD with
lr 1: plain FedAvg; FedAdam/FedYogi/FedAdagrad: Reddi et al. 2021). Updates
that arrive after their round closed are dropped and counted.
"""

from __future__ import annotations

import asyncio
import math
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.protocol import Update
from actors.server.aggregators import AggregatorConfig, WeightedMeanConfig, build_aggregator
from actors.server.base import ServerActor, ServerDeps
from actors.server.optimizers import ServerOptimizerConfig, ServerSgdConfig, build_server_optimizer
from actors.statedict import StateDict


class FedAvgConfig(BaseModel):
    """FedAvg's parameters.

    Attributes:
        clients_per_round: clients sampled each round (default: every client).
        fraction: or the fraction of joined clients sampled each round.
        min_clients: clients that must have joined before the first round.
        min_updates: updates a round needs to produce a new model.
        round_deadline_s: close a round this long after it started (None: wait for all).
        stragglers: `drop`: an update after the deadline is dropped (FedAvg);
            `partial`: clients get the deadline and return the epochs that fit
            in it (FedProx's variable local work).
        aggregator: how deltas are combined (weighted mean by sample count by default).
        optimizer: the server optimizer on the aggregated delta.
        eval_every: evaluate the global model every this many rounds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["fedavg"] = "fedavg"
    clients_per_round: int | None = Field(default=None, gt=0)
    fraction: float | None = Field(default=None, gt=0, le=1)
    min_clients: int = Field(default=1, gt=0)
    min_updates: int = Field(default=1, gt=0)
    round_deadline_s: float | None = Field(default=None, gt=0)
    stragglers: Literal["drop", "partial"] = "drop"
    aggregator: AggregatorConfig = Field(default_factory=WeightedMeanConfig)
    optimizer: ServerOptimizerConfig = Field(default_factory=ServerSgdConfig)
    eval_every: int = Field(default=1, gt=0)

    @model_validator(mode="after")
    def _one_sampling_rule(self) -> FedAvgConfig:
        if self.clients_per_round is not None and self.fraction is not None:
            raise ValueError("set clients_per_round or fraction, not both")
        if self.stragglers == "partial" and self.round_deadline_s is None:
            raise ValueError(
                "stragglers = 'partial' needs round_deadline_s (the time clients fit their work in)"
            )
        return self


class FedAvgServer(ServerActor):
    """A FedAvg server (see the module docstring)."""

    def __init__(self, config: FedAvgConfig, initial: StateDict, deps: ServerDeps) -> None:
        super().__init__(initial, deps)
        self.config = config
        self.aggregator = build_aggregator(config.aggregator)
        self.optimizer = build_server_optimizer(config.optimizer)
        self.round = 0
        self._enough_clients = asyncio.Event()
        self._waiting: set[str] = set()
        self._updates: dict[str, Update] = {}
        self._all_in = asyncio.Event()

    async def on_start(self) -> None:
        await super().on_start()
        self.start_task(self._run_rounds(), "rounds")

    async def client_joined(self, client: str) -> None:
        if len(self.clients) >= self.config.min_clients:
            self._enough_clients.set()

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        if client not in self._waiting:
            self.drop(client, update, "not_in_round")
            return
        self._updates[client] = update
        self._waiting.discard(client)
        if not self._waiting:
            self._all_in.set()

    async def _run_rounds(self) -> None:
        await self._enough_clients.wait()
        while not self.done:
            await self._run_round()

    async def _run_round(self) -> None:
        self.round += 1
        sampled = self.sample_clients()
        self._updates, self._waiting, self._all_in = {}, set(sampled), asyncio.Event()
        self.metrics.record("round_started", round=self.round, version=self.version, clients=sampled)
        deadline_s = self.config.round_deadline_s if self.config.stragglers == "partial" else None
        for client in sampled:
            await self.send_task(client, want_delta=True, deadline_s=deadline_s)
        await self._wait_for_updates()
        for late in self._waiting:
            self.in_flight.pop(late, None)  # a late update is now an unknown task: dropped
        if len(self._updates) < self.config.min_updates:
            self.metrics.record("round_failed", round=self.round, updates=len(self._updates))
            return
        await self._aggregate()

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

    async def _aggregate(self) -> None:
        clients = sorted(self._updates)
        updates = [self._updates[c] for c in clients]
        delta = self.aggregator.aggregate(
            [u.weights for u in updates], [float(u.num_samples) for u in updates]
        )
        for client, update in zip(clients, updates, strict=True):
            self.record_applied(client, update, self.staleness(update), round=self.round)
        await self.new_version(self.optimizer.step(self.params, delta), contributors=len(updates))
