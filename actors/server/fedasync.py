"""FedAsync: asynchronous federated optimization.

Xie, Koyejo, Gupta. "Asynchronous Federated Optimization." OPT workshop, 2020
(arXiv:1903.03934, 2019). On every client update:

    τ   = server version now − version the client trained from
    α_t = α · s(τ)
    x   ← (1 − α_t) · x + α_t · x_client

with `s` constant, polynomial `(τ+1)^(−a)` or hinge (see `staleness.py`). The
client mixes in its trained *weights*, not a delta, and gets the new model at
once. Updates staler than `max_staleness` are dropped, counted, and the client
is given fresh work.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.protocol import Update
from actors.server.asynchronous import AsyncServer
from actors.server.base import ServerDeps
from actors.server.staleness import ConstantStalenessConfig, StalenessConfig
from actors.server.validation import ValidationConfig
from actors.statedict import StateDict, mix


class FedAsyncConfig(BaseModel):
    """FedAsync's parameters.

    Attributes:
        alpha: the mixing hyper-parameter α in (0, 1].
        staleness: the staleness function s(τ).
        max_staleness: drop updates with τ above this (None: keep all).
        concurrency: clients training at once (None: every client that joined).
        task_timeout_s: a task with no update after this is lost (its client
            dropped out): it is recorded and the work is handed out again.
        eval_every: evaluate the global model every this many versions.
        eval_train: also score the global model on the clients' training data at
            each evaluation (`train_loss`, `train_accuracy`: the curve FedProx plots).
        eval_train_samples: on a fixed sample of this many of those samples,
            drawn with the run's seed (None: all of them).
        validation: the checks every update passes first (`[server.validation]`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["fedasync"] = "fedasync"
    alpha: float = Field(default=0.6, gt=0, le=1)
    staleness: StalenessConfig = Field(default_factory=ConstantStalenessConfig)
    max_staleness: int | None = Field(default=None, ge=0)
    concurrency: int | None = Field(default=None, gt=0)
    task_timeout_s: float | None = Field(default=None, gt=0)
    eval_every: int = Field(default=10, gt=0)
    eval_train: bool = False
    eval_train_samples: int | None = Field(default=None, gt=0)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)


def mixing_weight(config: FedAsyncConfig, tau: int) -> float:
    """α_t = α · s(τ)."""
    return config.alpha * config.staleness.weight(tau)


class FedAsyncServer(AsyncServer):
    """A FedAsync server (see the module docstring)."""

    want_delta = False

    def __init__(self, config: FedAsyncConfig, initial: StateDict, deps: ServerDeps) -> None:
        super().__init__(initial, deps)
        self.config = config

    async def apply(self, client: str, update: Update, tau: int) -> None:
        alpha_t = mixing_weight(self.config, tau)
        self.record_applied(client, update, tau, alpha=alpha_t)
        await self.new_version(mix(self.params, self.full_weights(update), alpha_t), contributors=1)
