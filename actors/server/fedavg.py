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

from collections.abc import Mapping
from typing import Any

from actors.configs.servers import FedAvgConfig
from actors.server.base import ServerDeps
from actors.server.optimizers import build_server_optimizer
from actors.server.rounds import SyncRoundsServer
from actors.statedict import StateDict


class FedAvgServer(SyncRoundsServer):
    """A FedAvg server (see the module docstring)."""

    def __init__(self, config: FedAvgConfig, initial: StateDict, deps: ServerDeps) -> None:
        super().__init__(config, initial, deps)
        self.config: FedAvgConfig = config
        self.optimizer = build_server_optimizer(config.optimizer)

    async def on_start(self) -> None:
        await super().on_start()
        self.start_task(self._run_rounds(), "rounds")

    def state(self) -> dict[str, Any]:
        return {**super().state(), "optimizer": self.optimizer.state_dict()}

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        self.optimizer.load_state_dict(state["optimizer"])

    async def _run_rounds(self) -> None:
        while not self.done:
            updates = await self.run_round()
            delta = None if updates is None else self.mean_delta(updates)
            if updates is not None and delta is not None:
                await self.new_version(self.optimizer.step(self.params, delta), contributors=len(updates))
