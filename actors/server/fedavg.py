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
from typing import Any, Literal

from pydantic import Field

from actors.server.base import ServerDeps
from actors.server.optimizers import ServerOptimizerConfig, ServerSgdConfig, build_server_optimizer
from actors.server.rounds import RoundSettings, SyncRoundsServer
from actors.server.validation import ValidationConfig
from actors.statedict import StateDict


class FedAvgConfig(RoundSettings):
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
        eval_train: also score the global model on the clients' training data at
            each evaluation (`train_loss`, `train_accuracy`: the curve FedProx plots).
        eval_train_samples: on a fixed sample of this many of those samples,
            drawn with the run's seed (None: all of them).
        validation: the checks every update passes first (`[server.validation]`).
    """

    algorithm: Literal["fedavg"] = "fedavg"
    min_clients: int = Field(default=1, gt=0)
    optimizer: ServerOptimizerConfig = Field(default_factory=ServerSgdConfig)
    eval_every: int = Field(default=1, gt=0)
    eval_train: bool = False
    eval_train_samples: int | None = Field(default=None, gt=0)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)


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
