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

from actors.configs.servers import FedAsyncConfig
from actors.protocol import Update
from actors.server.asynchronous import AsyncServer
from actors.server.base import ServerDeps
from actors.statedict import StateDict, mix


def mixing_weight(config: FedAsyncConfig, tau: int) -> float:
    """α_t = α · s(τ)."""
    return config.alpha * config.staleness.weight(tau)


class FedAsyncServer(AsyncServer):
    """A FedAsync server (see the module docstring)."""

    want_delta = False
    config: FedAsyncConfig

    def __init__(self, config: FedAsyncConfig, initial: StateDict, deps: ServerDeps) -> None:
        super().__init__(initial, deps)
        self.config = config

    async def apply(self, client: str, update: Update, tau: int) -> None:
        alpha_t = mixing_weight(self.config, tau)
        self.record_applied(client, update, tau, alpha=alpha_t)
        await self.new_version(mix(self.params, self.full_weights(update), alpha_t), contributors=1)
