"""Server optimizers: how a server applies the aggregated delta, found by `kind`.

Topology files name a server optimizer by `kind` ("sgd", "fedadam",
"fedyogi", "fedadagrad"); `ServerOptimizerConfig` is the discriminated union
that validates the table, and `build_server_optimizer` turns a validated
config into a fresh optimizer (each server owns one: optimizers keep state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from actors.server.optimizers.base import ServerOptimizer
from actors.server.optimizers.fedadagrad import FedAdagrad, FedAdagradConfig
from actors.server.optimizers.fedadam import FedAdam, FedAdamConfig
from actors.server.optimizers.fedyogi import FedYogi, FedYogiConfig
from actors.server.optimizers.sgd import ServerSgd, ServerSgdConfig

ServerOptimizerConfig = Annotated[
    ServerSgdConfig | FedAdamConfig | FedYogiConfig | FedAdagradConfig,
    Field(discriminator="kind"),
]

SERVER_OPTIMIZERS: dict[str, Callable[[Any], ServerOptimizer]] = {
    "sgd": ServerSgd,
    "fedadam": FedAdam,
    "fedyogi": FedYogi,
    "fedadagrad": FedAdagrad,
}


def build_server_optimizer(config: ServerOptimizerConfig) -> ServerOptimizer:
    """Return a fresh optimizer (no buffers, step 0) that `config` describes."""
    return SERVER_OPTIMIZERS[config.kind](config)


__all__ = [
    "SERVER_OPTIMIZERS",
    "FedAdagrad",
    "FedAdagradConfig",
    "FedAdam",
    "FedAdamConfig",
    "FedYogi",
    "FedYogiConfig",
    "ServerOptimizer",
    "ServerOptimizerConfig",
    "ServerSgd",
    "ServerSgdConfig",
    "build_server_optimizer",
]
