"""FedBuff: federated learning with buffered asynchronous aggregation.

Nguyen, Malik, Zhan, Yousefpour, Rabbat, Malek, Huba. "Federated Learning with
Buffered Asynchronous Aggregation." AISTATS 2022. Clients train from whatever
version they were handed and send deltas Δ_i = x_i − x_base. The server keeps a
buffer; once K deltas are in it applies

    Δ̄ = (1/K) · Σ_i s(τ_i) · Δ_i          x ← ServerOpt(x, Δ̄)

where the server optimizer is SGD with learning rate η_g in the paper (x ← x +
η_g·Δ̄) and may be FedAdam/FedYogi/FedAdagrad here. `concurrency` clients train
at any time; each reporting client is replaced by a randomly chosen idle one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from actors.configs.servers import FedBuffConfig
from actors.protocol import Update
from actors.server.asynchronous import AsyncServer
from actors.server.base import ServerDeps
from actors.server.optimizers import build_server_optimizer
from actors.statedict import StateDict, checked_model, scale, weighted_mean


def buffered_delta(deltas: list[StateDict], weights: list[float], buffer_size: int) -> StateDict:
    """Δ̄ = (1/K) Σ s(τ_i)·Δ_i (divided by K, not by Σ s(τ_i), as in the paper)."""
    return scale(weighted_mean(deltas, weights), math.fsum(weights) / buffer_size)


class FedBuffServer(AsyncServer):
    """A FedBuff server (see the module docstring)."""

    want_delta = True
    config: FedBuffConfig

    def __init__(self, config: FedBuffConfig, initial: StateDict, deps: ServerDeps) -> None:
        super().__init__(initial, deps)
        self.config = config
        self.optimizer = build_server_optimizer(config.optimizer)
        self.buffer: list[StateDict] = []
        self.buffer_weights: list[float] = []

    async def apply(self, client: str, update: Update, tau: int) -> None:
        if not update.is_delta:
            self.drop(client, update, "expected_delta")
            return
        weight = self.config.staleness.weight(tau)
        self.record_applied(client, update, tau, weight=weight)
        self.buffer.append(update.weights)
        self.buffer_weights.append(weight)
        if len(self.buffer) == self.config.buffer_size:
            mean = buffered_delta(self.buffer, self.buffer_weights, self.config.buffer_size)
            self.buffer, self.buffer_weights = [], []
            await self.new_version(
                self.optimizer.step(self.params, mean), contributors=self.config.buffer_size
            )

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "optimizer": self.optimizer.state_dict(),
            "buffer": list(self.buffer),
            "buffer_weights": list(self.buffer_weights),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer = [checked_model(self.params, delta, "a buffered delta") for delta in state["buffer"]]
        self.buffer_weights = [float(w) for w in state["buffer_weights"]]
